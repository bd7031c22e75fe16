"""Voxelizer: anti-aliasing maths, symmetry behaviour, outputs, errors and sklearn composition."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from skcrystal.base import FeaturizationError
from skcrystal.encodings.atoms import atom_codes
from skcrystal.featurizers import Voxelizer
from skcrystal.featurizers.voxel import VoxelCollisionWarning, VoxelRecord, _corners, voxelize
from skcrystal.utils.validation import StructureValidationError

pytestmark = pytest.mark.filterwarnings("ignore::skcrystal.featurizers.voxel.VoxelCollisionWarning")


def _random_structure(seed=0, n=6, a=7.0):
    rng = np.random.default_rng(seed)
    lat = Lattice.from_parameters(a, a * 1.1, a * 0.9, 80, 95, 100)
    species = rng.choice(["Na", "Cl", "Fe", "O", "La", "H"], size=n)
    # well-separated sites on a jittered 3x3x3 lattice of candidate positions
    cand = np.array(np.meshgrid(*[np.arange(3) / 3] * 3, indexing="ij")).reshape(3, -1).T
    frac = cand[rng.choice(len(cand), size=n, replace=False)] + rng.uniform(0, 0.05, size=(n, 3))
    return Structure(lat, list(species), frac)


def _dense(s, **kw):
    kw.setdefault("grid", 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VoxelCollisionWarning)
        return Voxelizer(**kw).fit_transform([s])[0, 0]


# --------------------------------------------------------------- the maths
def test_trilinear_weights_sum_to_one_per_atom():
    frac = np.random.default_rng(0).uniform(-2, 3, size=(200, 3))
    for grid in (2, 7, 32):
        flat, w = _corners(frac, grid, True)
        np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
        assert (w >= 0).all() and flat.min() >= 0 and flat.max() < grid**3


def test_weight_conservation_per_channel():
    s = _random_structure(1)
    g = _dense(s, grid=9)
    Z = [sp.Z for sp in s.species]
    assert g.dtype == np.float32 and g.shape == (25, 9, 9, 9)
    # channel 0 sums to the number of atoms, channel k to the summed atom codes
    np.testing.assert_allclose(g[0].sum(), len(s), rtol=1e-5)
    np.testing.assert_allclose(g[1:].sum(axis=(1, 2, 3)), atom_codes(Z).sum(axis=0), rtol=1e-5, atol=1e-5)


def test_matches_naive_per_voxel_loop():
    rng = np.random.default_rng(3)
    frac = rng.random((9, 3))
    vals = rng.random((9, 5)).astype(np.float32)
    vals[vals < 0.4] = 0
    vals[:, 0] = 1
    N = 6
    ref = np.zeros((5, N, N, N))
    for a in range(len(frac)):
        u = frac[a] * N - 0.5
        for o in np.ndindex(2, 2, 2):
            b = np.floor(u).astype(int) + np.array(o)
            ref[:, b[0] % N, b[1] % N, b[2] % N] += np.prod(1 - np.abs(u - b)) * vals[a]
    np.testing.assert_allclose(voxelize(frac, vals, N), ref, atol=1e-6)


def test_atom_on_voxel_centre_fills_one_voxel():
    s = Structure(Lattice.cubic(5.0), ["Fe"], [[0.5 / 8, 2.5 / 8, 7.5 / 8]])
    g = _dense(s, grid=8, embedding=None)
    assert g.shape == (1, 8, 8, 8)
    assert g[0, 0, 2, 7] == pytest.approx(1.0)
    assert np.count_nonzero(g) == 1


def test_non_periodic_drops_weight_outside_the_cell():
    s = Structure(Lattice.cubic(5.0), ["Fe", "O"], [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    per = _dense(s, grid=8, periodic=True)
    non = _dense(s, grid=8, periodic=False)
    assert per[0].sum() == pytest.approx(2.0)
    # the corner atom keeps only the octant inside the cell; the centre atom is whole
    assert non[0].sum() == pytest.approx(1.0 + 1 / 8)


# ------------------------------------------------------------ symmetries
def test_translation_by_lattice_vector_gives_identical_grid():
    s = _random_structure(2)
    moved = Structure(s.lattice, s.species, s.frac_coords + np.array([1, -2, 3]))
    np.testing.assert_array_equal(_dense(s), _dense(moved))


def test_fractional_shift_by_one_voxel_rolls_the_grid():
    s = _random_structure(4)
    N = 12
    for axis in range(3):
        shift = np.zeros(3)
        shift[axis] = 1.0 / N
        moved = Structure(s.lattice, s.species, s.frac_coords + shift)
        np.testing.assert_allclose(_dense(moved, grid=N), np.roll(_dense(s, grid=N), 1, axis=1 + axis), atol=1e-5)


def test_site_permutation_invariance():
    s = _random_structure(5)
    perm = np.random.default_rng(0).permutation(len(s))
    p = Structure(s.lattice, [s.species[i] for i in perm], s.frac_coords[perm])
    np.testing.assert_allclose(_dense(s), _dense(p), atol=1e-6)


# --------------------------------------------------------------- outputs
def test_dense_lazy_flat_agree(perovskites):
    X = perovskites["structure"].iloc[:5]
    dense = Voxelizer(grid=6).fit_transform(X)
    lazy = Voxelizer(grid=6, output="lazy").fit_transform(X)
    vz = Voxelizer(grid=6, output="flat").fit(X)
    flat = vz.transform(X)
    assert dense.shape == (5, 2) and dense.dtype == object
    assert flat.dtype == np.float32 and flat.shape == (5, 25 * 6**3 + 18)
    assert len(vz.get_feature_names_out()) == flat.shape[1]
    assert vz.get_feature_names_out()[0] == "occupancy_0_0_0"
    for i in range(5):
        assert isinstance(lazy[i, 0], VoxelRecord)
        np.testing.assert_array_equal(lazy[i, 0].dense(), dense[i, 0])
        np.testing.assert_array_equal(flat[i, : 25 * 216], dense[i, 0].ravel())
        np.testing.assert_array_equal(flat[i, 25 * 216:], dense[i, 1])
        assert dense[i, 1].dtype == np.float32 and dense[i, 1].shape == (18,)


def test_embedding_and_global_options():
    s = _random_structure(6)
    table = np.zeros((119, 2))
    table[:, 0] = np.arange(119)
    table[:, 1] = 1.0
    g = _dense(s, embedding=table)
    assert g.shape[0] == 3
    np.testing.assert_allclose(g[1].sum(), sum(sp.Z for sp in s.species), rtol=1e-5)
    g2 = _dense(s, embedding=lambda Z: np.asarray(Z, dtype=float))
    np.testing.assert_allclose(g2[1], g[1], rtol=1e-6)
    out = Voxelizer(grid=4, global_features="faithful").fit_transform([s])
    assert out[0, 1].shape == (18 + 230,) and out[0, 1][18:].sum() == 1
    out = Voxelizer(grid=4, global_features=None).fit_transform([s])
    assert out[0, 1].shape == (0,)
    out = Voxelizer(grid=4, global_features=lambda st: [st.volume, len(st)]).fit_transform([s])
    np.testing.assert_allclose(out[0, 1], [s.volume, len(s)], rtol=1e-6)


def test_collisions_are_summed_and_reported():
    s = Structure(Lattice.cubic(10.0), ["Na", "Cl"], [[0.10, 0.10, 0.10], [0.16, 0.12, 0.10]])
    with pytest.warns(VoxelCollisionWarning, match="1 of 1 structures"):
        g = Voxelizer(grid=8).fit_transform([s])[0, 0]
    assert g[0].sum() == pytest.approx(2.0)  # nothing dropped
    with warnings.catch_warnings():
        warnings.simplefilter("error", VoxelCollisionWarning)
        Voxelizer(grid=64).fit_transform([s])  # a finer grid separates them


def test_mof_cell_conserves_all_atoms():
    from pathlib import Path

    import skcrystal.datasets

    cif = sorted((Path(skcrystal.datasets.__file__).parent / "data" / "mof_cifs").glob("*.cif"))[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CIF parser chatter
        mof = Structure.from_file(cif)
    with pytest.warns(VoxelCollisionWarning):
        g = Voxelizer(grid=16).fit_transform([mof])[0, 0]
    assert g[0].sum() == pytest.approx(len(mof), rel=1e-5)


def test_set_output_pandas_flat(perovskites):
    X = perovskites[["structure"]].iloc[:4]
    out = Voxelizer(grid=4, output="flat").set_output(transform="pandas").fit_transform(X)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(X.index)


def test_pickle_round_trip(perovskites):
    X = perovskites["structure"].iloc[:3]
    vz = Voxelizer(grid=6, output="lazy").fit(X)
    out = vz.transform(X)
    vz2 = pickle.loads(pickle.dumps(vz))
    out2 = pickle.loads(pickle.dumps(out))
    for i in range(3):
        np.testing.assert_array_equal(out2[i, 0].dense(), vz2.transform(X)[i, 0].dense())
        np.testing.assert_array_equal(out[i, 0].dense(), out2[i, 0].dense())


def test_grid_search_over_grid(perovskites):
    df = perovskites.iloc[:24]
    pipe = make_pipeline(Voxelizer(output="flat"), Ridge())
    gs = GridSearchCV(pipe, {"voxelizer__grid": [3, 4]}, cv=KFold(2), scoring="neg_mean_absolute_error")
    gs.fit(df[["structure"]], df["heat_ref"])
    assert gs.best_params_["voxelizer__grid"] in (3, 4)
    assert np.isfinite(gs.best_score_)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "params, match",
    [
        ({"grid": 1}, r"'grid' parameter must be an int in the range \[2, inf\)"),
        ({"grid": 4.5}, r"'grid' parameter must be an int in the range \[2, inf\)"),
        ({"output": "sparse"}, "'output' parameter must be"),
        ({"embedding": "onehot"}, "'embedding' parameter must be"),
        ({"embedding": np.zeros((10, 3))}, r"shape \(119, d\)"),
        ({"global_features": "all"}, "'global_features' parameter must be"),
        ({"periodic": "yes"}, "'periodic' parameter must be a bool"),
        ({"on_error": "skip"}, "on_error"),
    ],
)
def test_bad_parameters_raise_at_fit(params, match):
    vz = Voxelizer(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=match):
        vz.fit([_random_structure(0)])


def test_bad_structures_name_the_row():
    good = _random_structure(0)
    with pytest.raises(StructureValidationError, match="row 1"):
        Voxelizer(grid=4).fit([good, None])
    with pytest.raises(StructureValidationError, match="numeric feature matrices"):
        Voxelizer(grid=4).fit(np.zeros((3, 4)))


def test_on_error_policy_names_rows_and_keeps_them():
    good = _random_structure(0)
    bad = Structure(Lattice.cubic(6.0), ["U"], [[0, 0, 0]])

    def emb(Z):
        if 92 in set(np.asarray(Z).tolist()):
            raise ValueError("no code for uranium")
        return np.ones((len(Z), 1))

    with pytest.raises(FeaturizationError, match=r"row 1 .*uranium"):
        Voxelizer(grid=4, embedding=emb).fit_transform([good, bad])
    with pytest.warns(UserWarning, match="row 1"):
        flat = Voxelizer(grid=4, embedding=emb, output="flat", on_error="nan").fit_transform([good, bad, good])
    assert flat.shape[0] == 3 and np.isnan(flat[1]).all() and np.isfinite(flat[[0, 2]]).all()
    with pytest.warns(UserWarning, match="row 1"):
        dense = Voxelizer(grid=4, embedding=emb, on_error="nan").fit_transform([good, bad])
    assert dense.shape == (2, 2) and dense[1, 0] is None and dense[0, 0] is not None


def test_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        Voxelizer().transform([_random_structure(0)])
