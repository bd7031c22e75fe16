"""Scaling out: the on-disk feature cache and when ``n_jobs`` starts workers (issue #15, #10 defect 11)."""

import os
import sys
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


ENGINES = {"dask", "distributed", "ray", "accelerate"}


def _featurize_into(path, X):
    from skcrystal.featurizers import CrystalGraph

    out = CrystalGraph(cutoff=5.0, memory=path).fit_transform(X)
    # every model, the torch Datasets and the streaming store load without an engine too
    import skcrystal.models
    import skcrystal.nn.data  # noqa: F401
    import skcrystal.streaming  # noqa: F401

    [getattr(skcrystal.models, name) for name in skcrystal.models.__all__]
    # a fresh worker process: which cluster/training engines did featurizing (with a disk cache) import?
    return [g.edge_distance for g in out[:, 0]], sorted(ENGINES & {m.split(".")[0] for m in sys.modules})


def test_disk_cache_shared_by_processes_writing_at_once(small_frame, tmp_path, monkeypatch):
    """Two worker processes fill one cache concurrently; this process then featurizes nothing."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # fresh workers: nothing imported by earlier tests
    X = list(small_frame["structure"])
    clear_feature_cache()
    results = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_featurize_into)(str(tmp_path), X) for _ in range(2))
    runs = [r[0] for r in results]
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    # Dask, Ray and Accelerate are optional extras, never imported unless used
    assert [r[1] for r in results] == [[], []]
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


def _registered_featurizers():
    from _registry import ESTIMATORS

    return sorted(n for n, (factory, kind, *_) in ESTIMATORS.items()
                  if kind == "transformer" and isinstance(factory(), StructureFeaturizer))


@pytest.mark.parametrize("name", _registered_featurizers())
def test_every_featurizer_takes_memory_and_reads_the_disk(name, small_frame, tmp_path, monkeypatch):
    """Every registered featurizer lists ``memory`` in its __init__, and a disk hit skips its work."""
    from _registry import ESTIMATORS
    from test_common import _as_comparable, _assert_same

    factory = ESTIMATORS[name][0]
    f = factory()
    assert "memory" in f.get_params(deep=False), f"{name}.__init__ must list memory=None (see StructureFeaturizer)"
    if not f._cacheable:
        pytest.skip(f"{name} is not cacheable")
    X = small_frame["structure"].iloc[[0, 20]]  # a perovskite and an MP cell
    calls = _counting(monkeypatch, type(f))
    clear_feature_cache()
    first = clone(f).set_params(memory=str(tmp_path)).fit_transform(X)
    n_first = len(calls)
    clear_feature_cache()
    second = clone(f).set_params(memory=str(tmp_path)).fit_transform(X)
    assert n_first == 2 and len(calls) == 2
    _assert_same(_as_comparable(first), _as_comparable(second))


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


# ------------------------------------------------------------ Dask and Ray
# the test featurizer travels to cluster workers by value (they do not have tests/ on their path)
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])

_PIH_SMALL = dict(supercell_length=8.0, structure_cutoff=8.0, structure_grid=(0, 8, 0.5),
                  interaction_cutoff=5.0, interaction_grid=(0, 5, 0.25), vectorization="stats")


def _graph_fields(out):
    return [(g.edge_index, g.edge_distance, g.edge_vector, g.global_features) for g in out[:, 0]]


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install skcrystal[dask])")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       memory_limit="2GiB", silence_logs=40)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_dask_backend_equals_serial(dask_client, small_frame, capsys):
    """Under parallel_config(backend="dask") the work runs on the cluster, in row order, with a progress bar."""
    from skcrystal.featurizers import CompositionFeatures, PersistentInteractionHomology

    X = small_frame["structure"]
    workers = set(dask_client.run(os.getpid).values())
    featurizers = [CrystalGraph(cutoff=5.0), PersistentInteractionHomology(**_PIH_SMALL),
                   CompositionFeatures(presets=("stoichiometry", "valence_orbital"))]
    clear_feature_cache()
    serial = [f.fit_transform(X) for f in featurizers]
    clear_feature_cache()
    with joblib.parallel_config(backend="dask"):
        where = WhereFeaturizer(verbose=1).fit_transform(X)  # n_jobs=None: every cluster core
        dist = [clone(f).fit_transform(X) for f in featurizers]
    assert set(where[:, 0]) == workers  # both workers got structures, none ran here
    np.testing.assert_array_equal(where[:, 2], [len(s) for s in X])
    assert "WhereFeaturizer (2 workers)" in capsys.readouterr().err
    for a, b in zip(_graph_fields(serial[0]), _graph_fields(dist[0])):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(serial[1], dist[1])
    np.testing.assert_allclose(serial[2], dist[2], rtol=0, atol=0, equal_nan=True)


def test_dask_errors_name_the_row(dask_client, small_frame):
    from skcrystal.base import FeaturizationError
    from skcrystal.featurizers import FractionalCoordinateEncoding

    X = small_frame["structure"]
    first_bad = next(i for i, s in enumerate(X) if len(s) > 5)
    with joblib.parallel_config(backend="dask"):
        with pytest.raises(FeaturizationError, match=rf"row {first_bad} \(index 'm{first_bad}'\)"):
            FractionalCoordinateEncoding(max_sites=5).fit_transform(X)
        with pytest.warns(UserWarning, match=rf"row {first_bad} \(index 'm{first_bad}'\)"):
            out = FractionalCoordinateEncoding(max_sites=5, on_error="nan").fit_transform(X)
    assert np.isnan(out[first_bad]).all() and np.isfinite(out[0]).all()


def test_ray_backend_equals_serial(small_frame, monkeypatch):
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install skcrystal[ray])")
    from ray.util.joblib import register_ray

    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 object_store_memory=100 * 1024**2, runtime_env={"env_vars": {"OMP_NUM_THREADS": "1"}})
    except Exception as exc:  # noqa: BLE001 - e.g. no shared memory in a container
        pytest.skip(f"Ray cannot start here: {type(exc).__name__}: {exc}")
    try:
        register_ray()
        X = small_frame["structure"]
        clear_feature_cache()
        serial = CrystalGraph(cutoff=5.0).fit_transform(X)
        clear_feature_cache()
        calls = _counting(monkeypatch, CrystalGraph)  # patched here only: Ray's workers import the original
        with joblib.parallel_config(backend="ray", n_jobs=2):
            dist = CrystalGraph(cutoff=5.0).fit_transform(X)
        assert calls == [], "structures were featurized in this process, not on Ray"
        for a, b in zip(_graph_fields(serial), _graph_fields(dist)):
            for x, y in zip(a, b):
                np.testing.assert_array_equal(x, y)
    finally:
        ray.shutdown()


