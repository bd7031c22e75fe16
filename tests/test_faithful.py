"""Faithful featurizers: the atom code table, the encodings, invariances, the binned vector."""

import numpy as np
import pytest
from conftest import permute, rotate, translate
from pymatgen.core import Element, Lattice, Structure

from skcrystal.encodings.atoms import atom_codes, left_step_position
from skcrystal.encodings.crystal import frac_sinusoids, lattice_sinusoids
from skcrystal.featurizers import (
    CompositionFeatures,
    ElectronCounts,
    FaithfulBinned,
    FaithfulFeaturizer,
    FractionalCoordinateEncoding,
    LatticeEncoding,
    LeftStepComposition,
    SpaceGroupEncoding,
)

# (period-1, column pair, spin) of the faithful paper's public lookup table
REFERENCE_CODES = {
    "H": (0, 0, 1), "He": (0, 0, 0), "Li": (1, 0, 1), "Be": (1, 3, 1), "B": (1, 3, 0), "C": (1, 2, 1),
    "N": (1, 2, 0), "O": (1, 1, 1), "F": (1, 1, 0), "Ne": (1, 0, 0), "Na": (2, 0, 1), "Mg": (2, 3, 1),
    "Cl": (2, 1, 0), "K": (3, 0, 1), "Ca": (3, 3, 1), "Sc": (3, 8, 1), "Ti": (3, 8, 0), "V": (3, 7, 1),
    "Fe": (3, 6, 0), "Cu": (3, 4, 1), "Zn": (3, 4, 0), "Ga": (3, 3, 0), "Kr": (3, 0, 0), "Y": (4, 8, 1),
    "Cd": (4, 4, 0), "I": (4, 1, 0), "Cs": (5, 0, 1), "Ba": (5, 3, 1), "La": (5, 15, 1), "Ce": (5, 15, 0),
    "Gd": (5, 12, 0), "Yb": (5, 9, 0), "Lu": (5, 8, 1), "Hf": (5, 8, 0), "Pt": (5, 5, 0), "Hg": (5, 4, 0),
    "Tl": (5, 3, 0), "Bi": (5, 2, 0), "Rn": (5, 0, 0), "Fr": (6, 0, 1), "Ra": (6, 3, 1), "Ac": (6, 15, 1),
    "U": (6, 14, 0), "No": (6, 9, 0), "Lr": (6, 8, 1), "Cn": (6, 4, 0), "Nh": (6, 3, 0), "Og": (6, 0, 0),
}  # fmt: skip

ALL = [LeftStepComposition(), LatticeEncoding(include_parameters=True), SpaceGroupEncoding(),
       SpaceGroupEncoding(kind="point_group"), ElectronCounts(), FaithfulFeaturizer(), FaithfulBinned(),
       CompositionFeatures(), FractionalCoordinateEncoding()]


@pytest.mark.parametrize("el", sorted(REFERENCE_CODES))
def test_left_step_code_matches_reference_table(el):
    r, p, s = left_step_position(Element(el).Z)
    assert (int(r), int(p), int(s)) == REFERENCE_CODES[el]
    code = atom_codes([Element(el).Z])[0]
    assert code.shape == (24,) and code[:16].sum() == 1 and code[16:23].sum() == 1
    assert code[p] == 1 and code[16 + r] == 1 and code[23] == s


def test_atom_codes_are_distinct_and_reject_unknown():
    codes = atom_codes(np.arange(1, 119))
    assert len({tuple(c) for c in codes}) == 118, "two elements share a code"
    with pytest.raises(ValueError, match="Z=\\[0, 119\\]"):
        atom_codes([0, 119])


def test_encodings_formulae():
    m = Lattice.from_parameters(3, 4, 5, 80, 95, 100).matrix
    code = lattice_sinusoids(m)
    assert code.shape == (18,)
    assert np.isclose(code[0], np.sin(2 * np.pi * 2 * m[0, 0] / 10))
    assert np.isclose(code[1], np.sin(2 * np.pi * 4 * m[0, 0] / 10))
    f = frac_sinusoids([[0.1, 0.2, 0.3]])
    assert f.shape == (1, 15) and np.isclose(f[0, 0], np.sin(2 * np.pi * 2 * 0.1))
    # fractional sinusoids do not see lattice translations
    assert np.allclose(frac_sinusoids([[1.1, -0.8, 2.3]]), f)


@pytest.mark.parametrize("feat", ALL, ids=lambda f: type(f).__name__ + str(getattr(f, "kind", "")))
def test_rotation_and_permutation_invariance(feat, mp_frame):
    X = list(mp_frame["structure"].iloc[:8])
    base = feat.fit_transform(X)
    for seed in range(2):
        np.testing.assert_allclose(feat.transform([rotate(s, seed) for s in X]), base, atol=1e-8)
        np.testing.assert_allclose(feat.transform([permute(s, seed) for s in X]), base, atol=1e-8)


@pytest.mark.parametrize("feat", [f for f in ALL if not isinstance(f, (FaithfulBinned, FractionalCoordinateEncoding))], ids=lambda f: type(f).__name__)
def test_translation_invariance(feat, mp_frame):
    X = list(mp_frame["structure"].iloc[:8])
    np.testing.assert_allclose(feat.fit_transform([translate(s) for s in X]), feat.fit_transform(X), atol=1e-8)


def test_binned_vector_is_not_translation_invariant_as_documented(perovskites):
    X = list(perovskites["structure"].iloc[:3])
    f = FaithfulBinned().fit(X)
    assert not np.allclose(f.transform([translate(s) for s in X]), f.transform(X))


def test_supercell_invariance_of_intensive_features(mp_frame):
    X = list(mp_frame["structure"].iloc[:6])
    sup = [s * (2, 1, 1) for s in X]
    for feat in (LeftStepComposition(stats=("mean", "min", "max")), SpaceGroupEncoding(), CompositionFeatures()):
        np.testing.assert_allclose(feat.fit_transform(sup), feat.fit_transform(X), atol=1e-8)
    e = ElectronCounts().fit(X)
    names = list(e.get_feature_names_out())
    a, b = e.transform(X), e.transform(sup)
    per_atom = [i for i, n in enumerate(names) if "per_atom" in n]
    np.testing.assert_allclose(a[:, per_atom], b[:, per_atom])
    np.testing.assert_allclose(2 * a[:, names.index("electrons_cell")], b[:, names.index("electrons_cell")])


def test_space_group_and_electron_values():
    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    sg = SpaceGroupEncoding().fit_transform([nacl])[0]
    assert sg.argmax() == 225 - 1 and sg.sum() == 1
    pg = SpaceGroupEncoding(kind="point_group").fit([nacl])
    assert pg.get_feature_names_out()[pg.transform([nacl])[0].argmax()] == "point_group_m-3m"
    ordinal = SpaceGroupEncoding(encoding="ordinal").fit_transform([nacl])[0]
    assert ordinal[0] == 225 and ordinal[2] == 6  # cubic
    e = ElectronCounts().fit([nacl])
    row = dict(zip(e.get_feature_names_out(), e.transform([nacl])[0]))
    assert row["electrons_cell"] == 4 * (11 + 17) and row["n_atoms"] == 8
    assert row["valence_s_cell"] == 4 * (1 + 2) and row["valence_p_cell"] == 4 * 5


def test_binned_vector_layout(perovskites):
    s = perovskites["structure"].iloc[0]  # ABX3-type cell, 5 atoms
    f = FaithfulBinned().fit([s])
    v = f.transform([s])[0]
    names = list(f.get_feature_names_out())
    assert len(v) == len(names) == 18 + 230 + 6 * 24 + sum((40, 24, 16, 12, 8, 6)) * 16
    Z = np.array([site.specie.Z for site in s])
    els, counts = np.unique(Z, return_counts=True)
    most = els[np.lexsort((els, -counts))][0]
    code = v[[names.index(f"bin0_{n}") for n in ("pair0", "period1", "spin")]]
    assert np.allclose(v[names.index("bin0_pair0"):names.index("bin0_pair0") + 24], atom_codes([most])[0])
    assert code.shape == (3,)
    occ0 = v[[names.index(f"bin0_occupied{j}") for j in range(40)]]
    assert occ0.sum() == counts.max() and occ0[: counts.max()].all()
    assert v[[names.index(f"bin5_occupied{j}") for j in range(6)]].sum() == 0


def test_binned_vector_overflow_is_reported(mp_frame):
    X = list(mp_frame["structure"].iloc[:10])
    f = FaithfulBinned(bins=(2, 1)).fit(X[:1])
    with pytest.raises(ValueError, match=r"FaithfulBinned could not featurize row \d+.*on_error='nan'"):
        f.transform(X)
    g = FaithfulBinned(bins=(2, 1), on_error="nan").fit(X[:1])
    with pytest.warns(UserWarning, match="could not be featurized and are NaN rows"):
        out = g.transform(X)
    assert out.shape[0] == 10 and np.isnan(out).any(axis=1).any() and not np.isnan(out).all()


def test_composition_features_on_disordered_and_citations():
    dis = Structure(Lattice.cubic(4), [{"Fe": 0.5, "Ni": 0.5}], [[0, 0, 0]])
    out = CompositionFeatures(presets=("element_fraction",)).fit_transform([dis])
    names = list(CompositionFeatures(presets=("element_fraction",)).fit([dis]).get_feature_names_out())
    assert out[0, names.index("comp_Fe")] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="presets.*magpie"):
        CompositionFeatures(presets=("nope",)).fit([dis])
    assert any("Ward" in c for c in CompositionFeatures().citations())
    assert any("Nop" in c for c in FaithfulBinned().citations())


def test_invalid_parameters_fail_in_fit_with_clear_messages(perovskites):
    X = perovskites["structure"].iloc[:2]
    with pytest.raises(ValueError, match="on_error"):
        LatticeEncoding(on_error="ignore").fit(X)
    with pytest.raises(ValueError, match="'kind' parameter must be one of 'point_group', 'space_group'"):
        SpaceGroupEncoding(kind="layer_group").fit(X)
    with pytest.raises(ValueError, match="stats"):
        LeftStepComposition(stats=("median",)).fit(X)


def test_featurize_dataframe_and_progress(perovskites):
    df = perovskites.iloc[:4][["structure", "heat_ref"]]
    out = LeftStepComposition(verbose=1).featurize_dataframe(df)
    assert list(out.index) == list(df.index) and "leftstep_mean_pair0" in out.columns
    assert out.shape[1] == 2 + 24


def test_fractional_coordinate_encoding_layout(mp_frame):
    s = mp_frame["structure"].iloc[0]
    f = FractionalCoordinateEncoding(max_sites=30).fit([s])
    v = f.transform([s])[0].reshape(30, -1)
    assert v.shape[1] == 1 + 24 + 15
    assert v[:, 0].sum() == len(s) and not v[len(s):].any()
    Z = sorted(site.specie.Z for site in s)
    np.testing.assert_allclose(v[: len(s), 1:25], atom_codes(Z))
    with pytest.raises(ValueError, match="do not fit max_sites=1"):
        FractionalCoordinateEncoding(max_sites=1).fit_transform([s * (2, 1, 1)])


def test_composition_missing_properties_warn_or_impute():
    # Magpie lacks some properties of Ne (and He, Ar, Fr, At): NaN with a warning, or imputed on request
    xe = Structure(Lattice.cubic(4.4), ["Ne"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    f = CompositionFeatures(presets=("magpie",))
    with pytest.warns(UserWarning, match="1 of 1 rows have element properties missing"):
        out = f.fit_transform([xe])
    assert np.isnan(out).any()
    imputed = CompositionFeatures(presets=("magpie",), impute_nan=True).fit_transform([xe])
    assert np.isfinite(imputed).all()


def test_symmetry_info_agrees_with_pymatgen_analyzer(mp_frame, perovskites):
    """spglib is called directly; answers must be pymatgen's, oxidation states kept distinct."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from skcrystal.encodings.crystal import symmetry_info

    structures = list(mp_frame["structure"][:30]) + list(perovskites["structure"][:10])
    # Fe2+/Fe3+ on rock-salt sites: one element, two species -> lower symmetry than plain FeO
    mixed = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.3), ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    mixed.make_supercell([2, 1, 1])
    fe = [i for i, s in enumerate(mixed) if s.specie.symbol == "Fe"]
    mixed.add_oxidation_state_by_site([3 if i == fe[0] else 2 if s.specie.symbol == "Fe" else -2
                                       for i, s in enumerate(mixed)])
    structures.append(mixed)
    for s in structures:
        sga = SpacegroupAnalyzer(s, symprec=0.1)
        assert symmetry_info(s) == (sga.get_space_group_number(), sga.get_point_group_symbol())
    plain = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.3), ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert symmetry_info(plain)[0] == 225
    assert symmetry_info(mixed)[0] != 225


def test_one_valence_rule_no_silent_zero():
    """Defect 6 / house: one valence rule (encodings.atoms.valence_electrons); Og was 0 without a warning."""
    from skcrystal.encodings.atoms import cgcnn_atom_features, valence_electrons

    v = valence_electrons(np.arange(1, 119))
    assert v.shape == (118, 4) and (v.sum(axis=1) >= 1).all()
    by = {s: valence_electrons([Element(s).Z])[0] for s in ("Na", "Fe", "Cu", "Zn", "Ga", "Pd", "Kr", "He", "Lu", "U", "Og")}
    assert {k: int(x.sum()) for k, x in by.items()} == {
        "Na": 1, "Fe": 8, "Cu": 1, "Zn": 2, "Ga": 3, "Pd": 10, "Kr": 8, "He": 2, "Lu": 3, "U": 6, "Og": 8}
    np.testing.assert_array_equal(by["Ga"], [2, 1, 0, 0])
    np.testing.assert_array_equal(by["U"], [2, 0, 1, 3])
    # the CGCNN table bins the same count (block 29:41 is "valence electrons 1..12")
    assert cgcnn_atom_features([46])[0, 29:41].argmax() + 1 == 10
    og = Structure(Lattice.cubic(4.0), ["Og"], [[0, 0, 0]])
    with pytest.warns(UserWarning, match="Og use the Madelung-rule configuration"):
        out = ElectronCounts().fit_transform([og])
    names = list(ElectronCounts().fit([og]).get_feature_names_out())
    assert out[0, names.index("valence_cell")] == 8 and out[0, names.index("valence_p_cell")] == 6


@pytest.mark.parametrize("symprec", ["x", 0, -1, float("nan")])
def test_bad_symprec_raises_instead_of_p1_or_segfault(symprec):
    """Defect 6: symprec='x' or 0 gave space group 1 for NaCl; -1 killed the process (spglib segfault)."""
    from skcrystal.datasets import add_symmetry_labels
    from skcrystal.encodings.crystal import faithful_global_vector, symmetry_info
    from skcrystal.featurizers import CrystalGraph
    from skcrystal.utils._param_validation import InvalidParameterError

    nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    assert symmetry_info(nacl)[0] == 221
    with pytest.raises(ValueError, match="symprec must be a number in"):
        symmetry_info(nacl, symprec)
    with pytest.raises(ValueError, match="symprec"):
        faithful_global_vector(nacl, symprec=symprec)
    for feat in (SpaceGroupEncoding(symprec=symprec), FaithfulFeaturizer(symprec=symprec),
                 FaithfulBinned(symprec=symprec), CrystalGraph(symprec=symprec)):
        with pytest.raises(InvalidParameterError, match="'symprec'"):
            feat.fit([nacl])
    import pandas as pd

    with pytest.raises(ValueError, match="symprec"):
        add_symmetry_labels(pd.DataFrame({"structure": [nacl]}), symprec=symprec)
