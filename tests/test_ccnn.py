"""CCNN: the torch module (shapes, circular padding) and the skorch estimators."""

import ast
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

import skcrystal.nn.ccnn as ccnn_mod
from skcrystal.featurizers import Voxelizer
from skcrystal.featurizers.voxel import VoxelCollisionWarning
from skcrystal.models import CCNNClassifier, CCNNRegressor
from skcrystal.nn.ccnn import CCNN, CircularConv3d

TINY = dict(max_epochs=2, batch_size=8, module__width=0.05, random_state=0)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VoxelCollisionWarning)
        yield


@pytest.fixture(scope="module")
def frame(perovskites):
    df = perovskites.iloc[:32].copy()
    df["label"] = np.where(df["heat_ref"] > df["heat_ref"].median(), "high", "low")
    return df


# ------------------------------------------------------------- the module
def test_torch_module_imports_no_sklearn_or_skorch():
    tree = ast.parse(Path(ccnn_mod.__file__).read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert not names & {"sklearn", "skorch"}


@pytest.mark.parametrize("grid", [4, 8, 12, 32])
def test_module_output_shape_for_any_grid(grid):
    torch.manual_seed(0)
    net = CCNN(n_channels=3, grid=grid, n_globals=5, n_outputs=4, width=0.05)
    out = net(torch.rand(2, 3, grid, grid, grid), torch.rand(2, 5))
    assert out.shape == (2, 4)
    net = CCNN(n_channels=3, grid=grid, n_outputs=1, width=0.05)  # no global branch
    assert net(torch.rand(2, 3, grid, grid, grid)).shape == (2, 1)


def test_paper_widths_at_width_one():
    net = CCNN(n_channels=25, grid=42, n_globals=300)
    convs = [m.conv for m in net.convs if isinstance(m, CircularConv3d)]
    assert [c.out_channels for c in convs] == [90, 90, 90, 90, 270, 270, 270, 540]
    assert [c.kernel_size[0] for c in convs] == [5, 1, 1, 2, 5, 1, 1, 3]
    assert [c.stride[0] for c in convs] == [3, 1, 1, 2, 3, 1, 1, 3]
    assert net.coarse == 21 and net.global_mlp[2].out_features == 21**3
    assert net.global_up.out_channels == 2
    assert [m.out_features for m in net.head if isinstance(m, torch.nn.Linear)] == [1024, 512, 256, 1]


def test_circular_padding_commutes_with_rolls():
    torch.manual_seed(0)
    conv = CircularConv3d(2, 3, 5)
    x = torch.rand(1, 2, 7, 7, 7)
    rolled = torch.roll(x, shifts=(2, -1, 3), dims=(2, 3, 4))
    torch.testing.assert_close(conv(rolled), torch.roll(conv(x), shifts=(2, -1, 3), dims=(2, 3, 4)))
    assert CircularConv3d(2, 3, 5, stride=3)(x).shape[-1] == 3  # ceil(7 / 3)


def test_module_rejects_wrong_shapes():
    net = CCNN(n_channels=3, grid=6, n_globals=2, width=0.05)
    with pytest.raises(ValueError, match="voxels of shape"):
        net(torch.rand(2, 4, 6, 6, 6), torch.rand(2, 2))
    with pytest.raises(ValueError, match="globals of shape"):
        net(torch.rand(2, 3, 6, 6, 6))


# -------------------------------------------------------------- estimators
def test_pipeline_and_direct_use_agree(frame):
    X, y = frame["structure"], frame["heat_ref"]
    pipe = make_pipeline(Voxelizer(grid=6), CCNNRegressor(**TINY)).fit(X, y)
    direct = CCNNRegressor(featurizer=Voxelizer(grid=6, output="lazy"), **TINY).fit(X, y)
    p1, p2 = pipe.predict(X), direct.predict(X)
    assert p1.shape == (len(X),) and np.isfinite(p1).all()
    np.testing.assert_allclose(p1, p2, rtol=1e-5)  # dense and lazy grids give the same model
    assert direct.module_dims_ == {"n_channels": 25, "grid": 6, "n_globals": 18, "n_outputs": 1}


def test_default_featurizer_is_lazy_grid_32():
    f = CCNNRegressor()._default_featurizer()
    assert isinstance(f, Voxelizer) and f.grid == 32 and f.output == "lazy"


def test_same_seed_same_predictions_and_pickle(frame):
    X, y = frame["structure"], frame["heat_ref"]
    a = CCNNRegressor(featurizer=Voxelizer(grid=6, output="lazy"), **TINY).fit(X, y)
    b = CCNNRegressor(featurizer=Voxelizer(grid=6, output="lazy"), **TINY).fit(X, y)
    np.testing.assert_allclose(a.predict(X), b.predict(X))
    a2 = pickle.loads(pickle.dumps(a))
    np.testing.assert_allclose(a.predict(X), a2.predict(X))


def test_grid_search_over_voxelizer_grid(frame):
    pipe = make_pipeline(Voxelizer(), CCNNRegressor(**TINY))
    gs = GridSearchCV(pipe, {"voxelizer__grid": [4, 6]}, cv=KFold(2), scoring="neg_mean_absolute_error")
    gs.fit(frame[["structure"]], frame["heat_ref"])
    assert gs.best_params_["voxelizer__grid"] in (4, 6)
    assert len(gs.predict(frame[["structure"]])) == len(frame)


def test_cross_val_score_on_structures(frame):
    model = CCNNRegressor(featurizer=Voxelizer(grid=4, output="lazy", global_features=None), **TINY)
    scores = cross_val_score(model, frame["structure"], frame["heat_ref"], cv=2, scoring="neg_mean_absolute_error")
    assert np.isfinite(scores).all()


def test_classifier_keeps_labels(frame):
    X, y = frame["structure"], frame["label"]
    clf = CCNNClassifier(featurizer=Voxelizer(grid=6, output="lazy"), **TINY).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(clf.predict(X)) <= {"high", "low"}
    assert list(clf.classes_) == ["high", "low"]


def test_five_d_array_input():
    rng = np.random.default_rng(0)
    X = rng.random((10, 2, 5, 5, 5)).astype(np.float32)
    y = X[:, 0].mean(axis=(1, 2, 3))
    m = CCNNRegressor(**TINY).fit(X, y)
    assert m.module_dims_["n_globals"] == 0 and m.predict(X).shape == (10,)


def test_clear_errors(frame):
    X, y = frame["structure"].iloc[:8], frame["heat_ref"].iloc[:8]
    flat = Voxelizer(grid=4, output="flat").fit_transform(X)
    with pytest.raises(ValueError, match=r"output='dense'"):
        CCNNRegressor(**TINY).fit(flat, y)
    m = CCNNRegressor(featurizer=Voxelizer(grid=4, output="lazy"), **TINY).fit(X, y)
    with pytest.raises(ValueError, match="fitted on structures"):
        m.predict(Voxelizer(grid=4).fit_transform(X))


def test_rows_that_fail_get_the_fallback(frame):
    from pymatgen.core import Lattice, Structure

    X = list(frame["structure"].iloc[:12])
    X[3] = Structure(Lattice.cubic(6.0), ["U"], [[0, 0, 0]])
    y = frame["heat_ref"].iloc[:12].to_numpy()

    def emb(Z):
        if 92 in set(np.asarray(Z).tolist()):
            raise ValueError("no code for uranium")
        return np.ones((len(Z), 1))

    vz = Voxelizer(grid=4, embedding=emb, output="lazy", on_error="nan")
    with pytest.warns(UserWarning, match="could not be"):
        m = CCNNRegressor(featurizer=vz, **TINY).fit(X, y)
    with pytest.warns(UserWarning):
        pred = m.predict(X)
    assert len(pred) == 12 and pred[3] == pytest.approx(np.median(y))


@pytest.mark.parametrize("norm", [None, "group", "batch"])
def test_norm_options(norm):
    net = CCNN(n_channels=2, grid=6, n_globals=3, width=0.1, norm=norm)
    assert net(torch.rand(3, 2, 6, 6, 6), torch.rand(3, 3)).shape == (3, 1)
    with pytest.raises(ValueError, match="norm must be"):
        CCNN(n_channels=2, grid=6, norm="layer")
