"""Scaling out: the on-disk feature cache and when ``n_jobs`` starts workers (issue #15, #10 defect 11)."""

import os
import threading
import time

import joblib
import numpy as np
import pytest
from sklearn.base import clone

import skcrystal
import skcrystal.base as base
from skcrystal.base import StructureFeaturizer, clear_feature_cache
from skcrystal.featurizers import CrystalGraph, LatticeEncoding
from skcrystal.utils._param_validation import InvalidParameterError


class WhereFeaturizer(StructureFeaturizer):
    """Test featurizer: the process and thread that featurized each structure (plus its site count)."""

    _cacheable = False

    def __init__(self, delay=0.0, n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.delay = delay
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _featurize_one(self, structure):
        if self.delay:
            time.sleep(self.delay)
        n = len(structure[2]) if isinstance(structure, tuple) else len(structure)
        return np.array([os.getpid(), threading.get_ident() % 2**31, n], dtype=float)

    def _feature_names(self):
        return ["pid", "thread", "n_sites"]


def _counting(monkeypatch, cls):
    """Count calls of ``cls._featurize_one`` in this process."""
    calls = []
    original = cls._featurize_one

    def counted(self, structure):
        calls.append(1)
        return original(self, structure)

    monkeypatch.setattr(cls, "_featurize_one", counted)
    return calls


# ------------------------------------------------------------------ disk cache
@pytest.mark.parametrize("make", [lambda m: LatticeEncoding(memory=m), lambda m: CrystalGraph(cutoff=5.0, memory=m)])
def test_disk_cache_hit_is_identical_and_skips_work(make, small_frame, tmp_path, monkeypatch):
    X = small_frame["structure"]
    cls = type(make(None))
    calls = _counting(monkeypatch, cls)
    clear_feature_cache()
    first = make(str(tmp_path)).fit_transform(X)
    assert len(calls) == len(X)
    clear_feature_cache()  # only the disk can answer now
    second = make(joblib.Memory(str(tmp_path), verbose=0)).fit_transform(X)
    assert len(calls) == len(X), "a structure was featurized again despite the disk cache"
    if first.dtype == object:
        for a, b in zip(first[:, 0], second[:, 0]):
            for field in ("atom_features", "edge_index", "edge_distance", "edge_vector", "global_features"):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    else:
        np.testing.assert_array_equal(first, second)


def test_disk_cache_invalidates_on_parameters_state_and_version(small_frame, tmp_path, monkeypatch):
    X = small_frame["structure"].iloc[:10]
    calls = _counting(monkeypatch, LatticeEncoding)
    f = LatticeEncoding(n_frequencies=2, memory=tmp_path)  # a Path works too
    clear_feature_cache()
    a = f.fit_transform(X)
    assert len(calls) == 10
    # parameters that do not change the output share the entries
    clear_feature_cache()
    clone(f).set_params(n_jobs=2, verbose=0, on_error="nan").fit_transform(X)
    assert len(calls) == 10
    # a parameter that changes the output misses
    clear_feature_cache()
    b = clone(f).set_params(n_frequencies=3).fit_transform(X)
    assert len(calls) == 20 and b.shape[1] > a.shape[1]
    # another skcrystal version misses
    clear_feature_cache()
    monkeypatch.setattr(skcrystal, "__version__", skcrystal.__version__ + ".post1")
    c = clone(f).fit_transform(X)
    assert len(calls) == 30
    np.testing.assert_array_equal(a, c)


def _featurize_into(path, X):
    from skcrystal.featurizers import CrystalGraph

    out = CrystalGraph(cutoff=5.0, memory=path).fit_transform(X)
    return [g.edge_distance for g in out[:, 0]]


def test_disk_cache_shared_by_processes_writing_at_once(small_frame, tmp_path, monkeypatch):
    """Two worker processes fill one cache concurrently; this process then featurizes nothing."""
    X = list(small_frame["structure"])
    clear_feature_cache()
    runs = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(_featurize_into)(str(tmp_path), X) for _ in range(2))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    calls = _counting(monkeypatch, CrystalGraph)
    clear_feature_cache()
    mine = CrystalGraph(cutoff=5.0, memory=str(tmp_path)).fit_transform(X)
    assert calls == []
    for a, g in zip(runs[0], mine[:, 0]):
        np.testing.assert_array_equal(a, g.edge_distance)


def test_failed_structures_are_not_cached(small_frame, tmp_path, monkeypatch):
    from skcrystal.featurizers import FractionalCoordinateEncoding

    X = small_frame["structure"].iloc[10:18]  # 5-site perovskites and larger MP cells
    calls = _counting(monkeypatch, FractionalCoordinateEncoding)
    f = FractionalCoordinateEncoding(max_sites=5, on_error="nan", memory=tmp_path)
    for _ in range(2):
        clear_feature_cache()
        with pytest.warns(UserWarning, match="could not be featurized"):
            out = f.fit_transform(X)
    n_bad = int(np.isnan(out).all(axis=1).sum())
    assert n_bad == sum(len(s) > 5 for s in X) and 0 < n_bad < 8
    assert len(calls) == 8 + n_bad  # the second run retries only the failures


@pytest.mark.parametrize("bad", [3, ["a"], object()])
def test_memory_parameter_is_validated(bad, small_frame):
    with pytest.raises(InvalidParameterError, match="memory"):
        LatticeEncoding(memory=bad).fit(small_frame["structure"])


# --------------------------------------------------------- when to fan out
def test_cheap_featurizer_does_not_start_workers(small_frame):
    """#10 defect 11: n_jobs=2 on a small frame of cheap structures stays in this process."""
    X = small_frame["structure"].iloc[:20]
    out = WhereFeaturizer(n_jobs=2).fit_transform(X)
    assert (out[:, 0] == os.getpid()).all()
    np.testing.assert_array_equal(out[:, 2], [len(s) for s in X])


def test_costly_work_fans_out_after_timing_the_first_structures(small_frame, monkeypatch):
    monkeypatch.setattr(base, "PARALLEL_MIN_SECONDS", 0.2)
    X = small_frame["structure"]
    out = WhereFeaturizer(delay=0.03, n_jobs=2).fit_transform(X)
    pids = out[:, 0]
    # two structures timed here (the first alone never decides), the rest projected at ~0.8 s > 0.2 s
    assert (pids[:2] == os.getpid()).all()
    assert (pids[2:] != os.getpid()).all()
    np.testing.assert_array_equal(out[:, 2], [len(s) for s in X])  # row order kept


def test_zero_threshold_always_fans_out(small_frame, monkeypatch):
    monkeypatch.setattr(base, "PARALLEL_MIN_SECONDS", 0)
    out = WhereFeaturizer(n_jobs=2).fit_transform(small_frame["structure"].iloc[:6])
    assert (out[:, 0] != os.getpid()).all()


def test_explicit_backend_context_is_respected(small_frame):
    """A parallel_config backend other than loky gets the work however cheap it is."""
    X = small_frame["structure"].iloc[:12]
    with joblib.parallel_config(backend="threading", n_jobs=2):
        out = WhereFeaturizer().fit_transform(X)  # n_jobs=None takes the context's 2
    assert (out[:, 0] == os.getpid()).all()
    assert (out[:, 1] != threading.get_ident() % 2**31).all()
    np.testing.assert_array_equal(out[:, 2], [len(s) for s in X])
