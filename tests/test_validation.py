"""check_structures / check_target: every input form and every defined failure."""

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from skcrystal.utils.validation import (
    StructureValidationError,
    check_structures,
    check_target,
    is_structure_input,
    resolve_disorder,
)


@pytest.fixture
def nacl():
    return Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_accepts_every_input_form(nacl, perovskites):
    s = perovskites["structure"].iloc[0]
    forms = [
        perovskites.iloc[:3],  # DataFrame with 'structure'
        perovskites["structure"].iloc[:3],  # Series
        list(perovskites["structure"].iloc[:3]),  # list
        perovskites[["structure"]].iloc[:3].to_numpy(),  # (n, 1) object array
        [x.as_dict() for x in perovskites["structure"].iloc[:3]],  # dicts
    ]
    for X in forms:
        out = check_structures(X)
        assert len(out) == 3 and all(isinstance(o, Structure) for o in out)
        assert out[0].composition == s.composition
    cif = s.to(fmt="cif")
    poscar = s.to(fmt="poscar")
    out = check_structures([cif, poscar])
    assert [o.composition.reduced_formula for o in out] == [s.composition.reduced_formula] * 2
    assert np.allclose(out[1].lattice.abc, s.lattice.abc)


def test_single_structure_and_wrong_column(nacl):
    with pytest.raises(StructureValidationError, match="wrap it in a list"):
        check_structures(nacl)
    df = pd.DataFrame({"struct": [nacl]})
    with pytest.raises(StructureValidationError, match="no 'structure' column.*struct"):
        check_structures(df)
    assert len(check_structures(df, column="struct")) == 1


def test_errors_name_the_row_and_index(nacl):
    empty = Structure(Lattice.cubic(3), [], [])
    X = pd.Series([nacl, empty], index=["ok", "bad-one"])
    with pytest.raises(StructureValidationError, match=r"row 1 \(index 'bad-one'\).*no atoms"):
        check_structures(X)
    with pytest.raises(StructureValidationError, match="row 1.*missing"):
        check_structures([nacl, None])
    with pytest.raises(StructureValidationError, match="row 0.*cannot read"):
        check_structures(["not a structure at all"])
    with pytest.raises(StructureValidationError, match="row 0.*got a int"):
        check_structures([3])
    with pytest.raises(StructureValidationError, match="0 rows"):
        check_structures([])


def test_overlapping_atoms_and_bad_lattice(nacl):
    bad = Structure(Lattice.cubic(5), ["Na", "Cl"], [[0, 0, 0], [0.01, 0, 0]])
    with pytest.raises(StructureValidationError, match="row 1.*overlap.*0.050"):
        check_structures([nacl, bad])
    assert len(check_structures([bad], min_distance=None)) == 1
    flat = Structure(Lattice([[1, 0, 0], [0, 1, 0], [0, 0, 1e-9]]), ["Na"], [[0, 0, 0]])
    with pytest.raises(StructureValidationError, match="singular|shorter"):
        check_structures([flat])
    tiny = Structure(Lattice.cubic(0.3), ["Na"], [[0, 0, 0]])
    with pytest.raises(StructureValidationError, match="shorter than min_distance"):
        check_structures([tiny])
    nan_lat = nacl.copy()
    nan_lat.lattice = Lattice(np.where(np.eye(3) > 0, np.nan, 0.0))
    with pytest.raises(StructureValidationError, match="non-finite"):
        check_structures([nan_lat])


def test_single_atom_cell_is_valid():
    po = Structure(Lattice.cubic(3.35), ["Po"], [[0, 0, 0]])
    assert len(check_structures([po])) == 1


def test_partial_occupancy_policy(nacl):
    dis = Structure(Lattice.cubic(5.64), [{"Na": 0.7, "K": 0.3}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(StructureValidationError, match="row 1.*partially occupied.*disorder='majority'"):
        check_structures([nacl, dis])
    out = check_structures([dis], disorder="majority")
    assert out[0].is_ordered and out[0].composition.reduced_formula == "NaCl"
    assert not check_structures([dis], disorder="allow")[0].is_ordered
    assert resolve_disorder([dis])[0].composition.reduced_formula == "NaCl"


def test_unknown_species(nacl):
    from pymatgen.core.periodic_table import DummySpecies

    dummy = Structure(Lattice.cubic(4), [DummySpecies("X"), "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    with pytest.raises(StructureValidationError, match="unknown species 'X"):
        check_structures([dummy])


def test_max_sites(mp_frame):
    big = mp_frame["structure"].iloc[0] * (3, 3, 3)
    with pytest.raises(StructureValidationError, match="max_sites=10"):
        check_structures([big], max_sites=10)


def test_check_target():
    assert check_target([1, 2.5]).dtype == np.float64
    y = pd.Series([1.0, np.nan, np.inf], index=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"2 missing or non-finite.*\['b', 'c'\].*dropna"):
        check_target(y)
    with pytest.raises(ValueError, match="3 structures but y has 2"):
        check_target([1, 2], 3)
    with pytest.raises(ValueError, match="1-D"):
        check_target(np.zeros((3, 2)))
    assert list(check_target(["a", "b"], classification=True)) == ["a", "b"]
    with pytest.raises(ValueError, match="missing"):
        check_target(["a", None], classification=True)


def test_is_structure_input(perovskites):
    assert is_structure_input(perovskites)
    assert is_structure_input(perovskites["structure"])
    assert not is_structure_input(np.zeros((3, 2)))
    assert not is_structure_input(perovskites.drop(columns="structure").select_dtypes("number"))
    # a frame with non-numeric columns but no 'structure' column is a misnamed structure frame:
    # it goes to check_structures, which lists the columns found
    assert is_structure_input(perovskites.drop(columns="structure"))
    assert is_structure_input(None) and is_structure_input([]) and is_structure_input([None, None])
    assert is_structure_input([None, perovskites["structure"].iloc[0]])
    assert is_structure_input(perovskites[["structure"]].to_numpy())


def test_overlap_check_is_linear_in_atoms_not_volume():
    """Defect 1: a 1000 Å cell made check_structures allocate 27 GB (cell list over the volume)."""
    import time
    import tracemalloc

    far = Structure(Lattice.cubic(1000.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    tracemalloc.start()
    t0 = time.perf_counter()
    assert len(check_structures([far])) == 1
    elapsed = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2.0 and peak < 50e6, (elapsed, peak)
    close = Structure(Lattice.cubic(1000.0), ["Na", "Cl"], [[0, 0, 0], [0.0002, 0, 0]])
    with pytest.raises(StructureValidationError, match=r"atoms 0 and 1 overlap \(distance 0.200"):
        check_structures([close])
    # across the cell face, in a skewed cell
    skew = Structure(Lattice([[5, 0, 0], [4.9, 1, 0], [0, 0, 7]]), ["Na", "Cl"], [[0.001, 0.5, 0.5], [0.999, 0.5, 0.5]])
    with pytest.raises(StructureValidationError, match="atoms 0 and 1 overlap"):
        check_structures([skew])


def test_overlap_check_agrees_with_pymatgen_neighbor_list(mp_frame):
    from skcrystal.utils.validation import closest_pair

    for s in mp_frame["structure"].iloc[:20]:
        r = 0.8 * min(s.distance_matrix[np.triu_indices(len(s), 1)].min() if len(s) > 1 else 9.0, min(s.lattice.abc))
        for cutoff in (r, 1.3 * r + 0.5):
            ci, cj, _, d = s.get_neighbor_list(cutoff, exclude_self=True)
            hit = closest_pair(s.lattice.matrix, s.frac_coords, cutoff)
            if len(d) == 0:
                assert hit is None
            else:
                assert hit is not None and abs(hit[2] - d.min()) < 1e-8
