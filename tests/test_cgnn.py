"""CGNN: module shapes, invariances, pipeline + GridSearchCV, classification, pickling, errors."""

import pickle
import warnings

import numpy as np
import pytest
from pymatgen.core import Structure
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from conftest import rotate, translate
from skcrystal.nn.data import collate_graphs
from skcrystal.featurizers import CrystalGraph
from skcrystal.models import CGNNClassifier, CGNNRegressor
from skcrystal.nn.cgnn import CGNN

TINY = dict(max_epochs=3, batch_size=16, module__atom_fea_len=8, module__n_conv=2, module__h_fea_len=8,
            module__global_fea_len=8, random_state=0, verbose=0)


@pytest.fixture(scope="module")
def frame(perovskites, mp_frame):
    import pandas as pd

    a = perovskites.iloc[:20][["structure"]].assign(y=perovskites["heat_ref"].iloc[:20].to_numpy())
    b = mp_frame.iloc[:20][["structure"]].assign(y=mp_frame["formation_energy_per_atom"].iloc[:20].to_numpy())
    return pd.concat([a, b], ignore_index=True)


def test_module_shapes_and_no_sklearn_import():
    import skcrystal.nn.cgnn as mod

    src = open(mod.__file__).read()
    assert "sklearn" not in src and "skorch" not in src
    graphs = CrystalGraph(cutoff=4.0).fit_transform(
        [Structure([[3, 0, 0], [0, 3, 0], [0, 0, 3]], ["Fe"], [[0, 0, 0]])] * 3
    )[:, 0]
    inputs = collate_graphs(list(graphs))
    for conv in ("cgcnn", "edge_gated"):
        for pooling in ("mean", "sum"):
            for dense in (True, False):
                net = CGNN(24, graphs[0].n_edge_features, 248, n_outputs=5, atom_fea_len=8, n_conv=2, h_fea_len=8,
                           global_fea_len=4, pooling=pooling, dense_skip=dense, conv=conv)
                net.train()
                assert net(**inputs).shape == (3, 5)
    with pytest.raises(ValueError, match="pooling"):
        CGNN(24, 25, pooling="max")
    with pytest.raises(ValueError, match="conv must be"):
        CGNN(24, 25, conv="gat")


def test_edge_gated_conv_updates_edges():
    """The edge-gated layer changes the edge states; CGCNN's keeps the edge features fixed."""
    import torch

    from skcrystal.nn.cgnn import EdgeGatedConv

    torch.manual_seed(0)
    conv = EdgeGatedConv(8, norm=None)
    v, e = torch.randn(4, 8), torch.randn(6, 8)
    edge_index = torch.tensor([[0, 0, 1, 2, 3, 3], [1, 2, 0, 3, 2, 0]])
    v2, e2 = conv(v, edge_index, e)
    assert v2.shape == v.shape and e2.shape == e.shape
    assert not torch.allclose(e2, e) and not torch.allclose(v2, v)
    # an atom's update depends only on its own edges: atom 1 (one edge, to 0) ignores atom 3
    v_moved = v.clone()
    v_moved[3] += 1.0
    np.testing.assert_allclose(conv(v_moved, edge_index, e)[0][1].detach(), v2[1].detach(), rtol=1e-6)


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def test_fit_predict_on_structures_and_learning(frame):
    X, y = frame["structure"], frame["y"]
    m = _fit(CGNNRegressor(**{**TINY, "max_epochs": 15, "lr": 3e-3}), X, y)
    pred = m.predict(X)
    assert pred.shape == (len(X),) and np.isfinite(pred).all()
    losses = m.history_[:, "train_loss"]
    assert losses[-1] < losses[0], "training should reduce the loss"
    assert m.module_dims_["n_atom_features"] == 24 and m.module_dims_["n_global_features"] == 248
    assert isinstance(m.featurizer_, CrystalGraph)


@pytest.mark.parametrize("conv", ["cgcnn", "edge_gated"])
def test_predictions_invariant_under_rotation_translation_permutation(frame, conv):
    X = list(frame["structure"].iloc[[0, 1, 25, 30]])
    m = _fit(CGNNRegressor(**TINY, module__conv=conv), frame["structure"], frame["y"])
    base = m.predict(X)
    rng = np.random.RandomState(0)
    perm = []
    for s in X:
        p = rng.permutation(len(s))
        perm.append(Structure(s.lattice, [s.species[i] for i in p], s.frac_coords[p]))
    for moved in ([rotate(s, k) for k, s in enumerate(X)], [translate(s) for s in X], perm):
        np.testing.assert_allclose(m.predict(moved), base, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("conv", ["cgcnn", "edge_gated"])
def test_supercell_invariance_with_mean_pooling(frame, conv):
    """Mean pooling without the (cell-dependent) global vector predicts an intensive target per cell."""
    X = list(frame["structure"].iloc[[0, 21, 30]])
    pipe = make_pipeline(CrystalGraph(cutoff=5.0, global_features=None), CGNNRegressor(**TINY, module__conv=conv))
    _fit(pipe, frame["structure"], frame["y"])
    sup = [s * (2, 1, 1) for s in X]
    np.testing.assert_allclose(pipe.predict(sup), pipe.predict(X), rtol=1e-4, atol=1e-5)


def test_pipeline_grid_search_over_cutoff_and_module_param(frame):
    pipe = make_pipeline(CrystalGraph(), CGNNRegressor(**{**TINY, "max_epochs": 2}))
    grid = {"crystalgraph__cutoff": [4.0, 6.0], "cgnnregressor__module__n_conv": [1, 2]}
    gs = GridSearchCV(pipe, grid, cv=KFold(2, shuffle=True, random_state=0), scoring="neg_mean_absolute_error",
                      error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(frame[["structure"]], frame["y"])
    assert len(gs.cv_results_["params"]) == 4
    assert np.isfinite(gs.cv_results_["mean_test_score"]).all()
    assert gs.predict(frame[["structure"]]).shape == (len(frame),)


def _crystal_system(s):
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return SpacegroupAnalyzer(s, symprec=0.1).get_crystal_system()


@pytest.mark.parametrize("target", ["crystal_system", "space_group"])
def test_classification_symmetry_targets(frame, target):
    from skcrystal.encodings.crystal import spacegroup_number

    X = frame["structure"]
    if target == "crystal_system":
        y = np.array([_crystal_system(s) for s in X])
    else:
        y = np.array([spacegroup_number(s) for s in X])
    m = _fit(CGNNClassifier(**{**TINY, "max_epochs": 4}), X, y)
    proba = m.predict_proba(X)
    assert proba.shape == (len(X), len(np.unique(y)))
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
    assert set(m.predict(X)) <= set(y)
    assert m.module_dims_["n_outputs"] == len(np.unique(y))


def test_pickle_and_same_seed(frame):
    X, y = frame["structure"], frame["y"]
    m = _fit(CGNNRegressor(**TINY), X, y)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(m2.predict(X), m.predict(X), rtol=1e-6)
    m3 = _fit(CGNNRegressor(**TINY), X, y)
    np.testing.assert_allclose(m3.predict(X), m.predict(X), rtol=1e-6)


def test_clear_errors(frame):
    X, y = frame["structure"], frame["y"]
    with pytest.raises(ValueError, match="crystal graphs"):
        CGNNRegressor(**TINY).fit(np.zeros((4, 3)), np.zeros(4))
    # a string makes it structure input: row 0 (None) is the first bad row, and is named
    with pytest.raises(ValueError, match="row 0.*missing"):
        CGNNRegressor(**TINY).fit(np.array([[None], ["x"]], dtype=object), np.zeros(2))
    with pytest.raises(ValueError, match="row 1 is a int, not a crystal graph"):
        g = CrystalGraph(cutoff=4.0).fit_transform(X.iloc[:1])[0, 0]
        CGNNRegressor(**TINY).fit(np.array([g, 3], dtype=object), np.zeros(2))
    m = _fit(CGNNRegressor(**TINY), X, y)
    graphs = CrystalGraph().fit_transform(X)
    with pytest.raises(ValueError, match="structures"):
        m.predict(graphs)
    # graphs with different settings in one fit
    g1 = CrystalGraph(cutoff=4.0).fit_transform(X.iloc[:2])
    g2 = CrystalGraph(cutoff=5.0).fit_transform(X.iloc[2:4])
    with pytest.raises(ValueError, match="same CrystalGraph settings"):
        CGNNRegressor(**TINY).fit(np.concatenate([g1, g2]), y.iloc[:4])


def test_feature_width_mismatch_at_predict_is_explained(frame):
    """Defect 4: graphs built with other atom features at predict gave torch's 'mat1 and mat2 shapes'."""
    X, y = frame["structure"], frame["y"]
    pipe_graphs = CrystalGraph(cutoff=4.0).fit_transform(X)
    m = _fit(CGNNRegressor(**{**TINY, "max_epochs": 1}), pipe_graphs, y)
    other = CrystalGraph(cutoff=4.0, atom_features="cgcnn").fit_transform(X.iloc[:3])
    with pytest.raises(ValueError, match=r"n_atom_features=91 \(fitted with 24\).*same featurizer"):
        m.predict(other)
    no_g = CrystalGraph(cutoff=4.0, global_features="lattice").fit_transform(X.iloc[:3])
    with pytest.raises(ValueError, match=r"n_global_features=18 \(fitted with 248\)"):
        m.predict(no_g)


def test_failed_graph_rows_get_fallback(frame):
    X, y = frame["structure"], frame["y"].to_numpy()
    graphs = CrystalGraph().fit_transform(X)
    graphs[3, 0] = None  # what CrystalGraph(on_error="nan") returns for a structure it cannot build
    with pytest.warns(UserWarning, match="could not be featurized"):
        m = CGNNRegressor(**TINY).fit(graphs, y)
    pred = m.predict(graphs)
    assert pred[3] == pytest.approx(np.median(np.delete(y, 3))) or pred[3] == pytest.approx(np.median(y))
    assert np.isfinite(pred).all()


def test_single_atom_batch_trains():
    """A batch holding one single-atom crystal must not break BatchNorm."""
    from pymatgen.core import Lattice

    X = [Structure(Lattice.cubic(a), ["Cu"], [[0, 0, 0]]) for a in (3.0, 3.2, 3.4)]
    m = _fit(CGNNRegressor(**{**TINY, "batch_size": 1}), X, [1.0, 2.0, 3.0])
    assert np.isfinite(m.predict(X)).all()


def test_cgnn_regressor_takes_several_targets(perovskites):
    import numpy as np

    from skcrystal.models import CGNNRegressor

    df = perovskites.iloc[:30]
    Y = df[["heat_ref", "ind_gap"]]
    m = CGNNRegressor(max_epochs=2, module__atom_fea_len=8, module__n_conv=1, module__h_fea_len=8,
                      module__global_fea_len=8, random_state=0).fit(df["structure"], Y)
    pred = m.predict(df["structure"])
    assert pred.shape == (30, 2) and np.isfinite(pred).all()
    one = CGNNRegressor(max_epochs=2, module__atom_fea_len=8, module__n_conv=1, module__h_fea_len=8,
                        module__global_fea_len=8, random_state=0).fit(df["structure"], Y["heat_ref"])
    assert one.predict(df["structure"]).shape == (30,)


def test_skorch_own_epoch_loop_records_graphs_per_batch(frame):
    """No copy of skorch's run_single_epoch: the collated batch tells skorch its length (graphs)."""
    from skorch import NeuralNet

    from skcrystal.models.cgnn import GraphNetMixin
    from skcrystal.nn.data import SizedBatch

    assert "run_single_epoch" not in vars(GraphNetMixin)
    assert CGNNRegressor.run_single_epoch is NeuralNet.run_single_epoch
    m = _fit(CGNNRegressor(**{**TINY, "max_epochs": 1, "batch_size": 16}), frame["structure"], frame["y"])
    sizes = [b["train_batch_size"] for b in m.history_[-1]["batches"]]
    assert sizes == [16, 16, 8]  # 40 graphs (not atoms or edges) in batches of 16
    g = CrystalGraph(cutoff=4.0).fit_transform(frame["structure"].iloc[:3])[:, 0]
    batch = collate_graphs([(x, np.float32([1.0])) for x in g])
    assert isinstance(batch, SizedBatch) and len(batch) == 3
    inputs, y = batch
    assert inputs["global_features"].shape[0] == 3 and y.shape == (3, 1)
