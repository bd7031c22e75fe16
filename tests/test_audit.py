"""skcrystal.audit: the label filter finds a planted wrong label; the atomic-limit probe runs on every model."""

import warnings

import numpy as np
import pandas as pd
import pytest

from skcrystal.audit import atomic_limit_probe, expand_structure, label_audit

from _registry import ESTIMATORS


def test_label_audit_flags_a_planted_wrong_label(perovskites):
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skcrystal.datasets import load_perovskites
    from skcrystal.featurizers import FaithfulFeaturizer
    from skcrystal.models import GBTRegressor

    df = load_perovskites(n_samples=150, random_state=3)
    y = df["heat_ref"].copy()
    planted = y.index[17]
    y[planted] += 3.0  # a label 3 eV off (the frame's spread is ~0.7 eV)
    # the faithful features, computed once (the featurizer learns nothing), feed both models in every fold
    X = FaithfulFeaturizer().fit_transform(df["structure"])
    models = {"GBT": GBTRegressor(n_estimators=60, max_depth=3, random_state=0, n_jobs=1),
              "ridge": make_pipeline(StandardScaler(), Ridge(alpha=10.0))}
    report, fig = label_audit(models, X, y)
    assert report.loc[planted, "flagged"]
    assert report["score"].idxmax() == planted
    assert report["flagged"].sum() <= 3  # a handful of rows at most, not the tail of one model's errors
    assert list(report.index) == list(y.index) and {"pred_GBT", "pred_ridge", "label"} <= set(report.columns)
    assert fig is not None and report.attrs["threshold"]["GBT"] == pytest.approx(3 * report.attrs["mae"]["GBT"])
    # a fixed threshold in eV, and the clean labels: nothing is 3 eV off for both models
    clean, _ = label_audit(models, X, df["heat_ref"], threshold=2.5, plot=False)
    assert not clean["flagged"].any()


def test_label_audit_classification_and_train_mode(small_frame):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skcrystal.featurizers import FaithfulFeaturizer
    from skcrystal.models import GBTClassifier

    y = small_frame["label"].copy()
    low = small_frame.loc[small_frame["label"] == "low", "target"]
    planted = (low - low.median()).abs().idxmin()  # a typical "low" material, mislabelled "high"
    y[planted] = "high"
    models = {"GBT": GBTClassifier(n_estimators=20, max_depth=2, random_state=0, n_jobs=1),
              "logistic": make_pipeline(FaithfulFeaturizer(), StandardScaler(), LogisticRegression(C=0.1))}
    report, fig = label_audit(models, small_frame, y, cv=3)
    # a row is flagged exactly when both models predict another class than its label
    want = (report["pred_GBT"] != y) & (report["pred_logistic"] != y)
    assert (report["flagged"] == want).all()
    assert report.loc[planted, "flagged"] and report["flagged"].sum() <= 4 and fig is not None
    train, _ = label_audit(models, small_frame, y, cv="train", plot=False)
    assert train.attrs["cv"] == "train" and train["flagged"].sum() <= report["flagged"].sum()
    with pytest.raises(ValueError, match="classifiers"):
        label_audit({"GBT": ESTIMATORS["GBTRegressor"][0]()}, small_frame, y)
    with pytest.raises(ValueError, match="rows"):
        label_audit(models, small_frame.iloc[:5], y)


def test_expand_structure_scales_every_distance(perovskites):
    s = perovskites["structure"].iloc[0]
    e = expand_structure(s, 2.5)
    assert np.allclose(e.distance_matrix, 2.5 * s.distance_matrix)
    assert np.allclose(e.frac_coords, s.frac_coords) and e.composition == s.composition
    with pytest.raises(ValueError, match="positive"):
        expand_structure(s, 0)


MODELS = [name for name, (_, kind, *_) in ESTIMATORS.items() if kind in ("regressor", "classifier")]


@pytest.mark.parametrize("name", MODELS)
def test_atomic_limit_probe_runs_on_every_model(name, small_frame):
    factory, kind, *_ = ESTIMATORS[name]
    y = small_frame["target"] if kind == "regressor" else small_frame["label"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = factory().fit(small_frame[["structure"]], y)
        X = small_frame["structure"].iloc[:5]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            preds, fig = atomic_limit_probe(model, X, scales=(1, 2, 6))
        expected = model.predict(X)
    assert not [w for w in caught if "atomic_limit_probe" in str(w.message)], "the model failed on expanded cells"
    assert preds.shape == (5, 3) and list(preds.index) == list(X.index) and fig is not None
    if kind == "regressor":
        assert np.isfinite(preds.to_numpy(dtype=float)).all()
        np.testing.assert_allclose(preds[1.0], expected, rtol=1e-5, atol=1e-6)
    else:
        assert (preds[1.0].to_numpy() == expected).all() and preds.notna().all().all()


def test_probe_tells_composition_models_from_geometric_ones(small_frame):
    """The GBT reads composition and symmetry only: flat under expansion; the CGNN reads distances."""
    X = small_frame["structure"].iloc[:5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gbt = ESTIMATORS["GBTRegressor"][0]().fit(small_frame[["structure"]], small_frame["target"])
        cgnn = ESTIMATORS["CGNNRegressor"][0]().fit(small_frame[["structure"]], small_frame["target"])
        flat, _ = atomic_limit_probe(gbt, X, scales=(1, 3), plot=False)
        moves, _ = atomic_limit_probe(cgnn, X, scales=(1, 3), plot=False)
    np.testing.assert_allclose(flat[1.0], flat[3.0])
    assert np.abs(moves[1.0] - moves[3.0]).max() > 1e-4


def test_probe_reports_a_failing_model_with_its_scale(small_frame):
    class Picky:
        def predict(self, X):
            if max(s.lattice.a for s in X) > 30:
                raise ValueError("cell too large")
            return np.zeros(len(X))

    X = small_frame["structure"].iloc[:3]
    with pytest.warns(UserWarning, match=r"r=20.*cell too large"):
        preds, _ = atomic_limit_probe(Picky(), X, scales=(1, 20), plot=False)
    assert preds[20.0].isna().all() and (preds[1.0] == 0).all()
    with pytest.raises(ValueError, match="too large"):
        atomic_limit_probe(Picky(), X, scales=(20,), on_error="raise", plot=False)
    with pytest.raises(ValueError, match="positive"):
        atomic_limit_probe(Picky(), X, scales=(1, -2))
