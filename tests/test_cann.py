"""CANN: masks, invariances (rotation, permutation), set-transformer options, estimators."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from pymatgen.core import Structure
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from conftest import rotate
from skcrystal.nn.data import collate_graphs
from skcrystal.featurizers import CrystalGraph
from skcrystal.models import CANNClassifier, CANNRegressor
from skcrystal.nn.cann import CANN, frac_fourier

TINY = dict(max_epochs=3, batch_size=16, module__d_model=8, module__n_heads=2, module__n_blocks=1,
            module__ff_hidden=8, random_state=0, verbose=0)


@pytest.fixture(scope="module")
def frame(perovskites, mp_frame):
    import pandas as pd

    a = perovskites.iloc[:20][["structure"]].assign(y=perovskites["heat_ref"].iloc[:20].to_numpy())
    b = mp_frame.iloc[:20][["structure"]].assign(y=mp_frame["formation_energy_per_atom"].iloc[:20].to_numpy())
    return pd.concat([a, b], ignore_index=True)


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


def test_no_sklearn_import_and_position_code():
    import skcrystal.nn.cann as mod

    src = open(mod.__file__).read()
    assert "sklearn" not in src and "skorch" not in src
    f = torch.tensor([[0.0, 0.25, 0.5], [1.0, 1.25, 1.5]])
    code = frac_fourier(f, 3)
    assert code.shape == (2, 18)
    torch.testing.assert_close(code[0], code[1], atol=1e-5, rtol=0)  # periodic in the cell
    # x and x + 1/2 differ (the fundamental frequency is included)
    assert not torch.allclose(frac_fourier(torch.tensor([[0.1, 0, 0]]), 3), frac_fourier(torch.tensor([[0.6, 0, 0]]), 3))


@pytest.mark.parametrize("attention", ["full", "isab"])
@pytest.mark.parametrize("pooling", ["pma", "mean"])
def test_padding_mask_makes_batching_irrelevant(frame, attention, pooling):
    """A graph's output does not depend on which (larger or smaller) graphs share its batch."""
    graphs = list(CrystalGraph(max_neighbors=0).fit_transform(frame["structure"].iloc[[0, 25, 30]])[:, 0])
    torch.manual_seed(0)
    net = CANN(24, 248, n_outputs=2, d_model=8, n_heads=2, n_blocks=2, ff_hidden=8, attention=attention,
               n_inducing=4, pooling=pooling).eval()
    together = net(**collate_graphs(graphs))
    alone = torch.cat([net(**collate_graphs([g])) for g in graphs])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError):
        CANN(24, attention="sparse")
    with pytest.raises(ValueError):
        CANN(24, pooling="max")


@pytest.mark.parametrize("attention", ["full", "isab"])
def test_predictions_invariant_under_rotation_and_permutation(frame, attention):
    X = list(frame["structure"].iloc[[0, 1, 25, 30]])
    m = _fit(CANNRegressor(**TINY, module__attention=attention, module__n_inducing=4), frame["structure"], frame["y"])
    base = m.predict(X)
    rng = np.random.RandomState(0)
    perm = []
    for s in X:
        p = rng.permutation(len(s))
        perm.append(Structure(s.lattice, [s.species[i] for i in p], s.frac_coords[p]))
    np.testing.assert_allclose(m.predict([rotate(s, k) for k, s in enumerate(X)]), base, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.predict(perm), base, rtol=1e-4, atol=1e-5)


def test_fit_learns_and_pipeline_grid_search(frame):
    X, y = frame["structure"], frame["y"]
    m = _fit(CANNRegressor(**{**TINY, "max_epochs": 15, "lr": 3e-3}), X, y)
    losses = m.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    assert "n_edge_features" not in m.module_dims_
    pipe = make_pipeline(CrystalGraph(max_neighbors=0), CANNRegressor(**{**TINY, "max_epochs": 2}))
    grid = {"crystalgraph__global_features": ["faithful", "lattice"], "cannregressor__module__n_blocks": [1, 2]}
    gs = GridSearchCV(pipe, grid, cv=KFold(2, shuffle=True, random_state=0), scoring="neg_mean_absolute_error",
                      error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(frame[["structure"]], y)
    assert len(gs.cv_results_["params"]) == 4 and np.isfinite(gs.cv_results_["mean_test_score"]).all()


def test_classifier_metal_like_labels_and_pickle(frame):
    X = frame["structure"]
    y = np.where(frame["y"] > frame["y"].median(), "metal", "nonmetal")
    m = _fit(CANNClassifier(**TINY), X, y)
    proba = m.predict_proba(X)
    assert proba.shape == (len(X), 2)
    assert list(m.classes_) == ["metal", "nonmetal"]
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(m2.predict_proba(X), proba, rtol=1e-6)


def test_works_after_a_graph_with_edges(frame):
    """Any CrystalGraph step works: CANN ignores the edges."""
    pipe = make_pipeline(CrystalGraph(cutoff=5.0), CANNRegressor(**TINY))
    _fit(pipe, frame["structure"], frame["y"])
    assert np.isfinite(pipe.predict(frame["structure"])).all()
