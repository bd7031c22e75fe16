"""Training through Hugging Face Accelerate (skorch's AccelerateMixin): every network has an
Accelerate-backed sibling that equals it in one process, and 2 CPU processes (gloo, torchrun)
give the predictions of one process for the same seed and global batch (issue #15)."""

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

pytest.importorskip("accelerate", reason="accelerate is not installed (pip install skcrystal[accelerate])")

import skcrystal.models  # noqa: E402
from _registry import ESTIMATORS  # noqa: E402
from skcrystal.models.accelerate import CrystalAccelerateMixin, accelerated  # noqa: E402
from skcrystal.models.base import CrystalNetMixin  # noqa: E402

NETWORKS = sorted(n for n, (factory, kind, *_) in ESTIMATORS.items() if isinstance(factory(), CrystalNetMixin))


def _fit_output(est, kind, df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "classifier":
            return est.fit(df[["structure"]], df["label"]).predict_proba(df[["structure"]])
        if kind == "transformer":  # a pretrainer: fit without targets, transform = embeddings
            return est.fit(df[["structure"]]).transform(df[["structure"]])
        return est.fit(df[["structure"]], df["target"]).predict(df[["structure"]])


def test_every_network_has_an_importable_sibling():
    from skcrystal.models import accelerate

    nets = [n for n in skcrystal.models.__all__
            if isinstance(getattr(skcrystal.models, n), type) and issubclass(getattr(skcrystal.models, n), CrystalNetMixin)]
    assert nets
    for name in nets:
        cls = getattr(accelerate, "Accelerated" + name)
        assert cls is accelerated(getattr(skcrystal.models, name))
        assert cls.__mro__[1] is CrystalAccelerateMixin and issubclass(cls, getattr(skcrystal.models, name))
    with pytest.raises(TypeError, match="network class"):
        accelerated(skcrystal.models.GBTRegressor)


@pytest.mark.parametrize("name", NETWORKS)
def test_sibling_equals_the_model_in_one_process(name, small_frame):
    factory, kind, *_ = ESTIMATORS[name]
    plain = factory().set_params(device="cpu")
    params = {k: v for k, v in factory().get_params(deep=False).items() if k != "device"}
    acc = accelerated(type(plain))(**params)
    assert acc.get_params(deep=False)["device"] is None and acc.accelerator is None
    twin = clone(acc)
    expected = _fit_output(plain, kind, small_frame)
    got = _fit_output(acc, kind, small_frame)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert twin.accelerator is None  # the Accelerator made at fit belongs to the fitted model only
    again = pickle.loads(pickle.dumps(acc))
    assert again.device is None
    method = {"classifier": "predict_proba", "transformer": "transform"}.get(kind, "predict")
    out = getattr(again, method)(small_frame[["structure"]])
    np.testing.assert_allclose(out, got, rtol=1e-6)


def test_invalid_accelerator_is_rejected(small_frame):
    from skcrystal.models.accelerate import AcceleratedNNNRegressor
    from skcrystal.utils._param_validation import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="accelerator"):
        AcceleratedNNNRegressor(accelerator="gpu", max_epochs=1).fit(small_frame[["structure"]], small_frame["target"])


def test_a_launched_process_with_a_single_process_accelerator_warns(small_frame, monkeypatch):
    from accelerate import Accelerator

    from skcrystal.models.accelerate import AcceleratedNNNRegressor

    acc = Accelerator()  # made before the launch variables: a plain single-process accelerator
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.warns(UserWarning, match="2 processes were launched but the accelerator is not distributed"):
        AcceleratedNNNRegressor(accelerator=acc, max_epochs=1, module__hidden=(8,)).fit(
            small_frame[["structure"]], small_frame["target"])


def _torchrun(n_processes, out):
    script = Path(__file__).with_name("_accelerate_run.py")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n_processes}",
           str(script), str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode:
        raise AssertionError(f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return np.load(out)


def test_two_cpu_processes_match_one(tmp_path):
    """Data-parallel training on 2 gloo processes (8 + 8 per step, the default accelerator) predicts what
    one process does with batches of 16."""
    import torch.distributed

    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available in this torch build")
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        from _accelerate_run import KW, frame
    finally:
        sys.path.pop(0)
    from skcrystal.models import CGNNRegressor

    two = _torchrun(2, tmp_path / "two.npz")
    assert int(two["n_processes"]) == 2 and str(two["distributed_type"]).endswith("MULTI_CPU")
    X, y = frame()
    one = CGNNRegressor(**KW, device="cpu").fit(X, y).predict(X)
    # measured: agreement to ~1e-7 (float summation order); the tolerance leaves room for other BLAS builds
    np.testing.assert_allclose(two["pred"], one, rtol=0, atol=1e-5)
