"""GBT baseline and NNN: structures or features in, pipelines, CV, fallbacks, invariance, errors."""

import warnings

import numpy as np
import pytest
from conftest import permute, rotate
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

from skcrystal.featurizers import FaithfulBinned, FaithfulFeaturizer
from skcrystal.models import GBTClassifier, GBTRegressor, NNNClassifier, NNNRegressor

TINY = dict(max_epochs=4, batch_size=16, module__hidden=(32,), random_state=0)


def test_gbt_learns_formation_energy(mp_frame):
    X, y = mp_frame["structure"], mp_frame["formation_energy_per_atom"]
    gbt = GBTRegressor(n_estimators=80, max_depth=3, random_state=0, n_jobs=1).fit(X, y)
    # far better than predicting the mean on its training data, and names align with importances
    assert np.mean(np.abs(gbt.predict(X) - y)) < 0.5 * np.mean(np.abs(y - y.mean()))
    names = gbt.get_feature_names()
    assert len(names) == len(gbt.feature_importances_) == gbt.n_features_in_
    assert any("electrons" in n for n in names) and any("comp_" in n for n in names)


def test_gbt_pipeline_grid_search(perovskites):
    df = perovskites.iloc[:40]
    pipe = make_pipeline(FaithfulFeaturizer(), GBTRegressor(n_estimators=20, n_jobs=1, random_state=0))
    gs = GridSearchCV(pipe, {"faithfulfeaturizer__symmetry": ["onehot", "ordinal"], "gbtregressor__max_depth": [2, 4]},
                      cv=KFold(3, shuffle=True, random_state=0), scoring="neg_mean_absolute_error")
    gs.fit(df[["structure"]], df["heat_ref"])
    assert len(gs.cv_results_["params"]) == 4 and np.isfinite(gs.best_score_)


def test_gbt_input_kind_must_match(perovskites):
    X, y = perovskites["structure"].iloc[:20], perovskites["heat_ref"].iloc[:20]
    feats = FaithfulFeaturizer().fit_transform(X)
    g = GBTRegressor(n_estimators=5).fit(X, y)
    with pytest.raises(ValueError, match="fitted on structures"):
        g.predict(feats)
    g2 = GBTRegressor(n_estimators=5).fit(feats, y)
    with pytest.raises(ValueError, match="fitted on features"):
        g2.predict(X)
    with pytest.raises(ValueError, match="X has 5 features, but GBTRegressor is expecting"):
        g2.predict(feats[:, :5])


def test_gbt_classifier_labels_and_single_class(perovskites):
    X = perovskites["structure"].iloc[:30]
    y = np.where(perovskites["ind_gap"].iloc[:30] > 0, "insulator", "metal")
    c = GBTClassifier(n_estimators=10, random_state=0).fit(X, y)
    assert set(c.predict(X)) <= {"insulator", "metal"}
    assert np.allclose(c.predict_proba(X).sum(axis=1), 1)
    one = GBTClassifier(n_estimators=5).fit(X, ["metal"] * 30)
    assert list(one.predict(X[:3])) == ["metal"] * 3


def test_cross_val_score_nnn_on_series(perovskites):
    df = perovskites.iloc[:45]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = cross_val_score(NNNRegressor(**TINY), df["structure"], df["heat_ref"], cv=3,
                                 scoring="neg_mean_absolute_error")
    assert scores.shape == (3,) and np.all(np.isfinite(scores))


def test_nnn_learns_training_data(perovskites):
    X, y = perovskites["structure"].iloc[:40], perovskites["heat_ref"].iloc[:40]
    m = NNNRegressor(max_epochs=150, batch_size=40, module__hidden=(64, 64), lr=3e-3, random_state=0).fit(X, y)
    assert np.mean(np.abs(m.predict(X) - y)) < 0.5 * np.mean(np.abs(y - y.mean()))
    # skorch history is there for progress reporting
    assert len(m.history) == 150 and "train_loss" in m.history[-1]


def test_nnn_predictions_invariant_to_rotation_and_permutation(perovskites):
    X, y = list(perovskites["structure"].iloc[:20]), perovskites["heat_ref"].iloc[:20]
    m = NNNRegressor(**TINY).fit(X, y)
    p = m.predict(X)
    np.testing.assert_allclose(m.predict([rotate(s, 3) for s in X]), p, atol=1e-5)
    np.testing.assert_allclose(m.predict([permute(s, 3) for s in X]), p, atol=1e-5)


def test_nnn_fallback_for_structures_that_do_not_fit(mp_frame):
    X, y = mp_frame["structure"].iloc[:30], mp_frame["formation_energy_per_atom"].iloc[:30]
    m = NNNRegressor(featurizer=FaithfulBinned(bins=(4, 2), on_error="nan"), **TINY)
    with pytest.warns(UserWarning, match="could not be featurized"):
        m.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = np.isnan(m.featurizer_.transform(X)).any(axis=1)
        pred = m.predict(X)
    assert bad.any() and not bad.all()
    assert len(pred) == 30, "no row is dropped"
    np.testing.assert_allclose(pred[bad], np.median(y))
    with pytest.raises(ValueError, match="NNNRegressor could not featurize|could not featurize"):
        NNNRegressor(featurizer=FaithfulBinned(bins=(4, 2)), **TINY).fit(X, y)


def test_nnn_classifier_and_early_stopping(perovskites):
    X = perovskites["structure"]
    y = np.where(perovskites["heat_ref"] > perovskites["heat_ref"].median(), 1, 0)
    c = NNNClassifier(early_stopping=2, max_epochs=30, validation_fraction=0.25, batch_size=16,
                      module__hidden=(16,), random_state=0).fit(X, y)
    assert set(c.classes_) == {0, 1}
    assert len(c.history) <= 30 and "valid_loss" in c.history[-1]
    assert 0.4 <= c.history[-1]["valid_acc"] <= 1.0  # scored on encoded labels
    proba = c.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)
    with pytest.raises(ValueError, match="validation_fraction"):
        NNNClassifier(validation_fraction=1.5, **TINY).fit(X, y)


def test_nnn_on_features_from_a_pipeline(perovskites):
    X, y = perovskites["structure"].iloc[:30], perovskites["heat_ref"].iloc[:30]
    pipe = make_pipeline(FaithfulFeaturizer(), NNNRegressor(**TINY)).fit(X, y)
    assert pipe[-1].module_dims_["n_features"] == FaithfulFeaturizer().fit(X).n_features_out_
    assert pipe.predict(X).shape == (30,)


@pytest.mark.parametrize("est", [GBTRegressor(n_estimators=50, n_jobs=1, random_state=0),
                                 GBTClassifier(n_estimators=50, n_jobs=1, random_state=0)],
                         ids=["GBTRegressor", "GBTClassifier"])
def test_gbt_passes_check_estimator_on_numeric_input(est):
    # on a plain feature matrix the baseline is a complete scikit-learn estimator
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"]
    assert not failed


def test_nnn_input_kind_must_match(perovskites):
    X, y = perovskites["structure"].iloc[:20], perovskites["heat_ref"].iloc[:20]
    feats = FaithfulFeaturizer().fit_transform(X)
    on_features = NNNRegressor(**TINY).fit(feats, y)
    with pytest.raises(ValueError, match="fitted on features, not structures"):
        on_features.predict(X)
    on_structures = NNNRegressor(**TINY).fit(X, y)
    with pytest.raises(ValueError, match="fitted on structures"):
        on_structures.predict(feats)
