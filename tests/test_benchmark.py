"""The benchmark runner (``skcrystal benchmark``): registry, shared folds, featurization reuse, output files."""

import json

import numpy as np
import pytest
from sklearn.base import clone

from skcrystal.benchmark import FRAMES, MODELS, PRESETS, PUBLISHED, load_frame, make_model, run_benchmark
from skcrystal.cli import main


def test_every_registered_model_builds_for_every_preset():
    for name in MODELS:
        for preset in PRESETS:
            est = make_model(name, preset)
            clone(est)  # a valid scikit-learn estimator
    with pytest.raises(ValueError, match="unknown preset"):
        make_model("GBT", "huge")
    with pytest.raises(ValueError, match="unknown model"):
        make_model("Nope")


def test_frames_name_real_loaders_targets_and_published_tasks():
    import skcrystal.datasets as D

    listed = D.list_datasets()
    for name, spec in FRAMES.items():
        assert spec.loader in listed["loader"].tolist(), name
        assert spec.target in listed.set_index("loader").loc[spec.loader, "targets"], name
        assert spec.matbench is None or spec.matbench in PUBLISHED
        assert set(spec.sizes) == set(PRESETS)


def test_load_frame_uses_the_shared_sampling():
    """Same rows as ``load_perovskites(n_samples=n, random_state=0)``: the frames of benchmarks/*.py."""
    from skcrystal.datasets import load_perovskites

    X, y = load_frame("perovskites", n_samples=50)
    ref = load_perovskites(n_samples=50, random_state=0)
    assert list(X.index) == list(ref.index) and np.allclose(y, ref["heat_ref"])


def test_quick_benchmark_writes_table_json_and_plots(tmp_path, monkeypatch, capsys):
    from skcrystal import clear_feature_cache
    from skcrystal.featurizers import CrystalGraph

    calls = []
    original = CrystalGraph._featurize_one
    monkeypatch.setattr(CrystalGraph, "_featurize_one", lambda self, s: calls.append(1) or original(self, s))
    clear_feature_cache()
    out = tmp_path / "bench"
    code = main(["benchmark", "--quick", "--models", "Dummy,CGNN", "--frames", "perovskites", "--n-samples",
                 "40", "--out", str(out), "-q"])
    assert code == 0
    for f in ("results.md", "results.json", "oof_perovskites.csv", "parity_perovskites.png",
              "learning_curve_perovskites.png"):
        assert (out / f).is_file() and (out / f).stat().st_size > 0, f
    # every structure was featurized once for CGNN, not once per fold (the cache is shared by folds)
    assert len(calls) == 40
    rec = json.loads((out / "results.json").read_text())
    fr = rec["frames"]["perovskites"]
    assert fr["n"] == 40 and set(fr["models"]) == {"Dummy", "CGNN"}
    for m in fr["models"].values():
        assert len(m["mae"]) == 5 and np.isfinite(m["mae_mean"]) and m["peak_rss_mb"] > 0
    assert len(fr["models"]["CGNN"]["train_curve"]) == 5
    assert fr["models"]["CGNN"]["input"] == "precomputed features"  # CrystalGraph learns nothing in fit
    assert rec["versions"]["skcrystal"] and rec["conditions"]["preset"] == "quick"
    assert "random_state=0" in rec["conditions"]["folds"]
    md = (out / "results.md").read_text()
    assert "| *published: CGCNN* | *0.0452* |" in md and "18,928 structures" in md
    # the Dummy's MAE is the mean absolute deviation from the training mean, fold by fold
    from skcrystal.evaluation import fixed_folds

    X, y = load_frame("perovskites", n_samples=40)
    y = y.to_numpy()
    want = [np.mean(np.abs(y[te] - y[tr].mean())) for tr, te in fixed_folds().split(y)]
    assert np.allclose(fr["models"]["Dummy"]["mae"], want)


def test_custom_estimators_and_fold_subset(tmp_path):
    from sklearn.dummy import DummyRegressor

    rec = run_benchmark({"median": DummyRegressor(strategy="median")}, ["perovskites"], preset="quick",
                        n_samples=30, fold_ids=[1, 3], out=None, verbose=0)
    m = rec["frames"]["perovskites"]["models"]["median"]
    assert m["folds"] == [1, 3] and "train_curve" not in m


def test_precomputed_features_give_the_same_scores_as_structures():
    """Training on the once-computed features equals featurizing inside every fold (a stateless featurizer)."""
    from skcrystal.evaluation import cross_validate_models

    est = make_model("GBT", "quick").set_params(n_estimators=20)
    rec = run_benchmark({"GBT": est}, ["perovskites"], preset="quick", n_samples=40, out=None, verbose=0)
    X, y = load_frame("perovskites", n_samples=40)
    res, _ = cross_validate_models({"GBT": est}, X, y, verbose=False)
    m = rec["frames"]["perovskites"]["models"]["GBT"]
    assert m["input"] == "precomputed features"
    np.testing.assert_allclose(m["mae"], res["mae"], rtol=1e-6)
