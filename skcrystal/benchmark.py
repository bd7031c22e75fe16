"""One benchmark runner: named estimators × named bundled frames, on the shared fixed folds.

:func:`run_benchmark` scores every model of a set on every frame of a set with
:func:`skcrystal.evaluation.fixed_folds` (``KFold(5, shuffle=True,
random_state=0)`` on ``load_*(n_samples=n, random_state=0)``, the folds of
every script in ``benchmarks/``), featurizes each structure once per
featurizer setting (the first model that needs a featurizer fills the
in-memory cache, every later fold and model reuses it), and writes to one
results folder:

* ``results.md`` — one table per frame: MAE (mean ± std over folds), fit and
  predict time per fold, peak memory, next to the published matbench v0.1
  numbers of the same task (with the dataset-size caveat);
* ``results.json`` — the same numbers per fold, plus the conditions
  (machine, threads, preset, sizes), the package versions, the featurization
  times and the estimators' parameters;
* ``parity_<frame>.png`` (out-of-fold prediction vs. DFT, one panel per
  model), ``learning_curve_<frame>.png`` (training loss per epoch of every
  neural network, one line per fold) and ``oof_<frame>.csv`` (the
  out-of-fold predictions).

The command line is ``skcrystal benchmark`` (``make bench``)::

    skcrystal benchmark --quick                              # CI-sized: seconds
    skcrystal benchmark --models Dummy,GBT,CGNN --frames perovskites,mp_e_form
    skcrystal benchmark --preset full --models CGNN --frames perovskites   # hours on a CPU

Registries
----------
``MODELS`` maps a name to a :class:`ModelPreset`: a function ``make(preset)``
returning an unfitted estimator for ``preset`` in ``("quick", "standard",
"full")``.  A new model is one entry::

    from skcrystal.benchmark import MODELS, ModelPreset
    MODELS["Crystalformer"] = ModelPreset(_crystalformer, "distance-decay attention (Taniai et al. 2024)")

``FRAMES`` maps a name to a :class:`FramePreset` (loader, target, unit, the
matbench task it corresponds to, subsample sizes per preset).
``PUBLISHED`` holds the published matbench v0.1 leaderboard numbers.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

__all__ = [
    "FRAMES",
    "MODELS",
    "PRESETS",
    "PUBLISHED",
    "FramePreset",
    "ModelPreset",
    "featurizer_of",
    "load_frame",
    "make_model",
    "markdown_table",
    "run_benchmark",
]

#: The size presets every model and frame understands.
PRESETS = ("quick", "standard", "full")


# ============================================================================ registries
@dataclass(frozen=True)
class ModelPreset:
    """A named model of the benchmark registry.

    Parameters
    ----------
    make : callable
        ``make(preset) -> estimator``: an unfitted estimator for the size
        preset ``"quick"`` (CI-sized: seconds), ``"standard"`` (a few minutes
        per frame on a 2-core CPU) or ``"full"`` (the accurate setting; hours
        on a CPU).  Seed it (``random_state=0``) so reruns agree.
    description : str, default=""
        One line for ``skcrystal benchmark --list``.
    kind : {"regressor", "classifier"}, default="regressor"
        Which frames it runs on.
    deep : bool, default=True
        A neural network with a skorch training history (learning curves).
    """

    make: Callable[[str], object]
    description: str = ""
    kind: str = "regressor"
    deep: bool = True


@dataclass(frozen=True)
class FramePreset:
    """A named bundled frame and target of the benchmark registry.

    Parameters
    ----------
    loader : str
        Name of the loader in :mod:`skcrystal.datasets` (``"load_perovskites"``).
    target : str
        Target column.
    unit : str
        Unit of the target (for tables and plots).
    description : str
        One line for listings.
    matbench : str or None, default=None
        Key of the matching matbench v0.1 task in :data:`PUBLISHED`.
    sizes : dict, default={"quick": 100, "standard": 1000, "full": None}
        Rows used per preset (``None`` = every row), sampled with
        ``random_state=0``.
    task : {"regression", "classification"}, default="regression"
    """

    loader: str
    target: str
    unit: str
    description: str = ""
    matbench: str | None = None
    sizes: dict = field(default_factory=lambda: {"quick": 100, "standard": 1000, "full": None})
    task: str = "regression"


FRAMES: dict[str, FramePreset] = {
    "perovskites": FramePreset(
        "load_perovskites", "heat_ref", "eV", "Castelli cubic perovskites, heat of formation per cell (7 572)",
        matbench="matbench_perovskites"),
    "mp_e_form": FramePreset(
        "load_mp_formation_energy", "formation_energy_per_atom", "eV/atom",
        "Materials Project formation energy per atom (3 938)", matbench="matbench_mp_e_form"),
    "mp_log_gvrh": FramePreset(
        "load_mp_elastic", "log10_G_VRH", "log10(GPa)", "Materials Project log10 shear modulus (1 181)",
        matbench="matbench_log_gvrh", sizes={"quick": 100, "standard": 1000, "full": None}),
    "mp_dielectric": FramePreset(
        "load_mp_dielectric", "n", "", "Materials Project refractive index (1 056)",
        matbench="matbench_dielectric", sizes={"quick": 100, "standard": 1000, "full": None}),
}

#: Published matbench v0.1 results (5-fold MAE on the *full* tasks), from the matbench
#: leaderboard: task -> {"n": rows of the task, "unit": ..., "mae": {model: MAE}}.
PUBLISHED: dict[str, dict] = {
    "matbench_perovskites": {"n": 18928, "unit": "eV", "mae": {
        "coGN": 0.0269, "ALIGNN": 0.0288, "CGCNN": 0.0452, "MODNet": 0.0908, "RF": 0.2355,
        "Dummy": 0.566}},
    "matbench_mp_e_form": {"n": 132752, "unit": "eV/atom", "mae": {
        "coGN": 0.0170, "ALIGNN": 0.0215, "CGCNN": 0.0337, "MODNet": 0.0448, "RF": 0.1165,
        "Dummy": 1.006}},
    "matbench_mp_gap": {"n": 106113, "unit": "eV", "mae": {
        "coGN": 0.1559, "ALIGNN": 0.1861, "CGCNN": 0.2972, "MODNet": 0.2199, "RF": 0.3452,
        "Dummy": 1.327}},
    "matbench_log_gvrh": {"n": 10987, "unit": "log10(GPa)", "mae": {
        "coGN": 0.0689, "ALIGNN": 0.0715, "CGCNN": 0.0895, "MODNet": 0.0731, "RF": 0.1040,
        "Dummy": 0.2931}},
    "matbench_dielectric": {"n": 4764, "unit": "", "mae": {
        "coGN": 0.3088, "ALIGNN": 0.3449, "CGCNN": 0.5988, "MODNet": 0.2711, "RF": 0.4196,
        "Dummy": 0.8088}},
}


def _dummy(preset):
    from sklearn.dummy import DummyRegressor

    return DummyRegressor()


def _gbt(preset):
    from .models import GBTRegressor

    if preset == "quick":
        return GBTRegressor(n_estimators=60, max_depth=4, n_jobs=1, random_state=0)
    return GBTRegressor(n_jobs=1, random_state=0)


def _nnn(preset):
    from .models import NNNRegressor

    if preset == "quick":
        return NNNRegressor(max_epochs=5, module__hidden=(32,), batch_size=32, random_state=0)
    if preset == "full":  # the faithful paper's width (bench_models.py)
        return NNNRegressor(max_epochs=100, module__hidden=(1000,) * 3, batch_size=128, lr=1e-3, random_state=0)
    return NNNRegressor(max_epochs=40, module__hidden=(256,) * 3, batch_size=128, lr=1e-3, random_state=0)


def _cosine(epochs):
    from skorch.callbacks import LRScheduler

    return [("cosine", LRScheduler(policy="CosineAnnealingLR", T_max=epochs))]


def _rich_graphs():
    from .featurizers import CrystalGraph

    return CrystalGraph(atom_features=("faithful", "cgcnn", "element"))


def _cgnn(preset):
    import torch

    from .models import CGNNRegressor

    if preset == "quick":
        return CGNNRegressor(max_epochs=4, batch_size=32, module__atom_fea_len=16, module__n_conv=2,
                             module__h_fea_len=32, module__global_fea_len=16, lr=3e-3, random_state=0)
    # full: the accurate setting of docs/graphs.rst (0.0454 eV on all perovskites, width 128, 120 epochs);
    # standard: the same architecture, narrower and shorter (the demo's: ~0.44 ms CPU per perovskite-epoch)
    width, epochs, lr = (128, 120, 1e-3) if preset == "full" else (32, 20, 3e-3)
    return CGNNRegressor(
        featurizer=_rich_graphs(),
        module__conv="edge_gated", module__atom_fea_len=width, module__h_fea_len=2 * width,
        criterion=torch.nn.L1Loss, max_epochs=epochs, lr=lr, batch_size=64,
        callbacks=_cosine(epochs), random_state=0,
    )


def _cann(preset):
    import torch

    from .models import CANNRegressor

    if preset == "quick":
        return CANNRegressor(max_epochs=4, batch_size=32, module__d_model=16, module__n_heads=2, module__n_blocks=1,
                             module__ff_hidden=32, lr=3e-3, random_state=0)
    epochs, lr = (100, 1e-3) if preset == "full" else (20, 2e-3)
    # the CGNN's graphs (same setting, so one featurization serves both; CANN ignores the edges)
    return CANNRegressor(featurizer=_rich_graphs(), criterion=torch.nn.L1Loss, max_epochs=epochs, lr=lr,
                         batch_size=64, callbacks=_cosine(epochs), random_state=0)


def _ccnn(preset):
    from .featurizers import Voxelizer
    from .models import CCNNRegressor

    if preset == "quick":
        return CCNNRegressor(featurizer=Voxelizer(grid=6, output="lazy", global_features="lattice"),
                             module__width=0.05, max_epochs=3, batch_size=32, random_state=0)
    grid, width, epochs = (32, 1.0, 40) if preset == "full" else (16, 0.5, 20)  # standard = bench_voxel.py cv
    return CCNNRegressor(featurizer=Voxelizer(grid=grid, output="lazy", global_features="lattice"),
                         module__width=width, max_epochs=epochs, batch_size=32, lr=1e-3, random_state=0)


def _crystalformer(preset):
    from .models import CrystalformerRegressor

    if preset == "quick":
        return CrystalformerRegressor(max_epochs=4, batch_size=32, module__d_model=16, module__n_layers=1,
                                      module__n_heads=2, module__ffn_dim=32, module__n_value_gaussians=16,
                                      lr=2e-3, random_state=0)
    # the reference architecture and recipe (docs/crystalformer.rst); epochs cut to what a CPU affords
    return CrystalformerRegressor(max_epochs=200 if preset == "full" else 30, random_state=0)


def _itt(preset):
    from .featurizers import ITTTokenizer
    from .models import ITTRegressor

    tok = ITTTokenizer(mode="periodic")  # exact periodic interactions, 16 Å supercell (docs/itt)
    if preset == "quick":
        return ITTRegressor(featurizer=tok, max_epochs=3, batch_size=32, lr=1e-3, module__hidden=16,
                            module__n_layers=1, module__n_heads=2, module__ffn=32, module__atom_fea_len=16,
                            module__n_conv=1, random_state=0)
    if preset == "full":  # the reference code's size
        return ITTRegressor(featurizer=tok, max_epochs=100, callbacks=_cosine(100), random_state=0)
    # the reduced network of benchmarks/bench_itt.py
    return ITTRegressor(featurizer=tok, max_epochs=40, lr=3e-4, module__hidden=128, module__n_layers=4,
                        module__n_heads=4, module__ffn=512, module__atom_fea_len=64, module__n_conv=3,
                        callbacks=_cosine(40), random_state=0)


def _mgt(preset):
    import torch

    from .featurizers import DualViewGraph
    from .models import MGTRegressor

    feat = DualViewGraph(atom_features=("faithful", "cgcnn", "element"))
    if preset == "quick":
        return MGTRegressor(featurizer=feat, max_epochs=3, batch_size=32, lr=3e-3, module__width=16,
                            module__n_layers=1, module__ns=8, module__nv=4, module__angle_width=8,
                            module__n_rbf=32, module__hidden_dim=16, random_state=0)
    if preset == "full":  # the reference code's sizes (the estimator's defaults)
        return MGTRegressor(featurizer=feat, criterion=torch.nn.L1Loss, max_epochs=100, callbacks=_cosine(100),
                            random_state=0)
    # the CPU setting of benchmarks/bench_mgt.py (docs/mgt)
    return MGTRegressor(featurizer=feat, criterion=torch.nn.L1Loss, max_epochs=100, lr=1e-3, batch_size=32,
                        module__width=64, module__n_layers=2, module__ns=32, module__nv=8, module__angle_width=16,
                        module__n_rbf=64, module__hidden_dim=64, optimizer__weight_decay=1e-2,
                        callbacks=_cosine(100), random_state=0)


MODELS: dict[str, ModelPreset] = {
    "Dummy": ModelPreset(_dummy, "predicts the training mean", deep=False),
    "GBT": ModelPreset(_gbt, "xgboost on electron counts, symmetry and composition (Claussen et al. 2020)",
                       deep=False),
    "NNN": ModelPreset(_nnn, "MLP on the faithful binned vector (Nop et al. 2025)"),
    "CGNN": ModelPreset(_cgnn, "crystal graph network, edge-gated, faithful+cgcnn+element atoms (docs/graphs)"),
    "CANN": ModelPreset(_cann, "set attention over atoms, no adjacency (Nop et al. 2025)"),
    "CCNN": ModelPreset(_ccnn, "3-D convolutions on anti-aliased voxel images (Nop et al. 2025)"),
    "Crystalformer": ModelPreset(_crystalformer, "attention over every periodic image (Taniai et al. 2024)"),
    "ITT": ModelPreset(_itt, "Interaction Topological Transformer on periodic PIH tokens (Chen, Wei et al. 2025)"),
    "MGT": ModelPreset(_mgt, "multi-view geometric transformer: invariant + e3nn equivariant views, MoE router "
                             "(Zhang et al. 2025)"),
}


def _check_preset(preset):
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")


def _lookup(registry, name, what):
    if name in registry:
        return registry[name]
    folded = {k.lower(): k for k in registry}
    if name.lower() in folded:
        return registry[folded[name.lower()]]
    raise ValueError(f"unknown {what} {name!r}; choose from {', '.join(registry)}")


def make_model(name, preset="standard"):
    """An unfitted estimator of the registry.

    Parameters
    ----------
    name : str
        Key of :data:`MODELS` (case-insensitive).
    preset : {"quick", "standard", "full"}, default="standard"
        Size preset.

    Returns
    -------
    estimator
        An unfitted scikit-learn estimator.

    Examples
    --------
    >>> from skcrystal.benchmark import make_model
    >>> make_model("GBT", "quick").n_estimators
    60
    """
    _check_preset(preset)
    return _lookup(MODELS, name, "model").make(preset)


def _rows():
    from .datasets import list_datasets

    table = list_datasets()
    return dict(zip(table["loader"], table["rows"]))


_N_ROWS: dict = {}


def load_frame(name, preset="standard", n_samples=None):
    """Load the structures and target of a registered frame, sampled as the benchmark samples them.

    Parameters
    ----------
    name : str
        Key of :data:`FRAMES` (case-insensitive).
    preset : {"quick", "standard", "full"}, default="standard"
        Size preset (rows from ``FramePreset.sizes``).
    n_samples : int or None, default=None
        Overrides the preset's size; ``0`` means every row.

    Returns
    -------
    X : Series of Structure
        Structures (index of the bundled frame).
    y : Series
        Target.  A subsample is ``load_*(n_samples=n, random_state=0)``, the
        rows of every script in ``benchmarks/``; when that sample holds rows
        without a target (e.g. a non-positive modulus for a log target),
        those rows are left out of the whole frame first and ``n`` rows are
        sampled from the rest.  The number left out is stored in
        ``y.attrs["n_missing_target"]``.
    """
    from . import datasets

    _check_preset(preset)
    if not _N_ROWS:
        _N_ROWS.update(_rows())
    spec = _lookup(FRAMES, name, "frame")
    loader = getattr(datasets, spec.loader)
    n = spec.sizes.get(preset) if n_samples is None else (n_samples or None)
    df = loader(n_samples=n, random_state=0) if n is not None and n < _N_ROWS.get(spec.loader, 0) else None
    missing = 0
    if df is None or df[spec.target].isna().any():
        # every row (or a sample that hit rows without a target): drop those rows, then sample
        df = loader()
        missing = int(df[spec.target].isna().sum())
        df = df[df[spec.target].notna()]
        if n is not None and n < len(df):
            df = df.sample(n=n, random_state=0).sort_index()
    y = df[spec.target].copy()
    y.attrs["n_missing_target"] = missing
    return df["structure"], y


# ============================================================================ helpers
def featurizer_of(estimator):
    """The featurizer an estimator applies to structures (``None`` when it takes features as they come).

    Parameters
    ----------
    estimator : estimator or Pipeline

    Returns
    -------
    featurizer : transformer or None
    """
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return Pipeline(estimator.steps[:-1]) if len(estimator.steps) > 1 else None
    if not hasattr(estimator, "get_params") or "featurizer" not in estimator.get_params(deep=False):
        return None
    if estimator.featurizer is not None:
        return estimator.featurizer
    default = getattr(estimator, "_default_featurizer", None)
    if default is not None:
        try:
            return default()
        except TypeError:
            return None
    from .models.gbt import GBTClassifier, GBTRegressor, default_gbt_featurizer

    if isinstance(estimator, (GBTRegressor, GBTClassifier)):
        return default_gbt_featurizer()
    return None


def _stateless(featurizer):
    """True when the featurizer learns nothing in ``fit`` (its features do not depend on the training rows)."""
    from sklearn.pipeline import FeatureUnion, Pipeline

    from .base import StructureFeaturizer

    if isinstance(featurizer, StructureFeaturizer):
        return type(featurizer)._fit is StructureFeaturizer._fit
    if isinstance(featurizer, FeatureUnion):
        return all(_stateless(t) for _, t in featurizer.transformer_list if t not in ("drop", "passthrough"))
    if isinstance(featurizer, Pipeline):
        return all(_stateless(t) for _, t in featurizer.steps)
    return False


def _cacheable(featurizer):
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(featurizer, FeatureUnion):
        return any(_cacheable(t) for _, t in featurizer.transformer_list)
    if isinstance(featurizer, Pipeline):
        return any(_cacheable(t) for _, t in featurizer.steps)
    return bool(getattr(featurizer, "_cacheable", False))


def _strip_featurizer(estimator):
    """The estimator to train on precomputed features (None when that is not equivalent)."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        return estimator.steps[-1][1] if len(estimator.steps) == 2 else None
    return estimator  # skcrystal models (and the GBT) take a featurizer's output in place of structures


def _featurizer_key(featurizer):
    from sklearn import config_context

    with config_context(print_changed_only=False):
        return repr(featurizer)


class _PeakRSS:
    """Peak resident memory of this process while the context is open (sampled every 20 ms)."""

    def __init__(self, interval=0.02):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def rss():
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError, AttributeError):
            import resource

            scale = 1 if sys.platform == "darwin" else 1024
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.rss())

    def __enter__(self):
        self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def peak_mb(self):
        return self.peak / 2**20


def _versions():
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    out = {"skcrystal": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "pandas", "scikit-learn", "torch", "skorch", "xgboost", "xgboost-cpu",
                "pymatgen", "matminer"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _conditions(preset, n_splits):
    import torch

    return {
        "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": bool(torch.cuda.is_available()),
        "preset": preset,
        "folds": f"KFold({n_splits}, shuffle=True, random_state=0) (skcrystal.evaluation.fixed_folds)",
        "sampling": "load_*() rows with a target, then .sample(n, random_state=0).sort_index()",
        "argv": sys.argv,
    }


def _fmt(v, spec=".4f"):
    return "—" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:{spec}}"


def markdown_table(frame_record, name):
    """One frame's results (ours and the published matbench numbers) as a markdown string.

    Parameters
    ----------
    frame_record : dict
        ``record["frames"][name]`` of :func:`run_benchmark`.
    name : str
        The frame's name.

    Returns
    -------
    str
    """
    r = frame_record
    unit = f" ({r['unit']})" if r["unit"] else ""
    lines = [f"## {name}: `{r['target']}`{unit}, {r['n']} structures, {r['n_splits']}-fold CV", ""]
    lines += ["| model | MAE (mean ± std) | fit / fold (s) | predict / fold (s) | CPU, all folds (s) "
              "| peak RSS (MB) |", "|---|---|---|---|---|---|"]
    for model, m in r["models"].items():
        if "error" in m:
            lines.append(f"| {model} | failed: {m['error']} | | | | |")
            continue
        lines.append(f"| {model} | {_fmt(m['mae_mean'])} ± {_fmt(m['mae_std'])} | {m['fit_s_mean']:.1f} | "
                     f"{m['predict_s_mean']:.2f} | {m.get('cpu_s', float('nan')):.0f} | {m['peak_rss_mb']:.0f} |")
    pub = r.get("published")
    if pub:
        share = r["n"] / pub["n"]
        for model, mae in pub["mae"].items():
            lines.append(f"| *published: {model}* | *{mae:.4f}* | | | | |")
        lines += ["", "Published rows: matbench v0.1 leaderboard, 5-fold MAE of the full "
                  f"`{r['matbench']}` task ({pub['n']:,} structures); "
                  f"ours use {r['n']:,} structures ({100 * share:.1f} % of that size) from the bundled subset, "
                  "on other folds. Errors fall as the training set grows, so compare the ranking of the models "
                  "rather than the values."]
    if r.get("featurize_s"):
        feats = ", ".join(f"{k} {v:.1f} s" for k, v in r["featurize_s"].items())
        lines += ["", f"Featurized once per setting, reused by every fold and model: {feats}."]
    if r.get("n_missing_target"):
        lines += ["", f"{r['n_missing_target']} rows of the bundled frame have no `{r['target']}` "
                  "(left out before sampling)."]
    return "\n".join(lines)


def _short_featurizer_name(featurizer):
    from sklearn.pipeline import FeatureUnion, Pipeline

    if isinstance(featurizer, Pipeline):
        return "+".join(_short_featurizer_name(s) for _, s in featurizer.steps)
    if isinstance(featurizer, FeatureUnion):
        return "(" + "+".join(_short_featurizer_name(s) for _, s in featurizer.transformer_list) + ")"
    return type(featurizer).__name__


# ============================================================================ runner
def run_benchmark(models=("Dummy", "GBT", "CGNN"), frames=("perovskites",), *, preset="standard", n_samples=None,
                  n_splits=5, out="benchmark_results", fold_ids=None, n_jobs=1, plots=True, verbose=1):
    """Cross-validate named (or given) models on named bundled frames on the shared folds; write the results.

    Parameters
    ----------
    models : sequence of str, or dict of str -> estimator, default=("Dummy", "GBT", "CGNN")
        Names from :data:`MODELS` (built for ``preset``), or ready estimators
        by display name.
    frames : sequence of str, default=("perovskites",)
        Names from :data:`FRAMES`.
    preset : {"quick", "standard", "full"}, default="standard"
        Size of the models and of the frames.
    n_samples : int or None, default=None
        Rows per frame, overriding the preset (``0`` = every row).
    n_splits : int, default=5
        Folds of :func:`skcrystal.evaluation.fixed_folds`.
    out : str or Path or None, default="benchmark_results"
        Results folder (created); ``None`` writes nothing.
    fold_ids : iterable of int or None, default=None
        Run only these folds (to spread a long run over processes).
    n_jobs : int, default=1
        joblib workers for the featurization pass.
    plots : bool, default=True
        Write the parity and learning-curve plots.
    verbose : int, default=1
        Print progress and the tables.

    Returns
    -------
    record : dict
        What ``results.json`` holds: ``conditions``, ``versions``,
        ``frames`` (per frame: size, featurization times, per model the
        per-fold MAE, times, peak memory and parameters, and the published
        numbers), ``total_s``, ``peak_rss_mb`` and ``files``.
    """
    from sklearn.base import clone

    from .evaluation import cross_validate_models, fixed_folds, learning_curve_plot, parity_plot, training_curve

    _check_preset(preset)
    t_start, cpu_start = time.perf_counter(), time.process_time()
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    if isinstance(frames, str):
        frames = [f.strip() for f in frames.split(",") if f.strip()]
    if isinstance(models, dict):
        built = dict(models)
        deep = {k: True for k in built}  # training_curve() tells the networks from the rest
    else:
        specs = {name: _lookup(MODELS, name, "model") for name in models}
        built = {name: spec.make(preset) for name, spec in specs.items()}
        deep = {name: spec.deep for name, spec in specs.items()}
    frame_specs = {name: _lookup(FRAMES, name, "frame") for name in frames}
    outdir = Path(out) if out is not None else None
    if outdir is not None:
        outdir.mkdir(parents=True, exist_ok=True)
    record = {"conditions": _conditions(preset, n_splits), "versions": _versions(), "frames": {}, "files": []}

    def say(*a, **kw):
        if verbose:
            print(*a, flush=True, **kw)

    with _PeakRSS() as whole:
        for fname, spec in frame_specs.items():
            X, y = load_frame(fname, preset, n_samples)
            say(f"== {fname}: {len(y)} structures, target {spec.target} ({spec.unit or 'dimensionless'})")
            fr = {"target": spec.target, "unit": spec.unit, "n": int(len(y)), "n_splits": n_splits,
                  "n_missing_target": y.attrs.get("n_missing_target", 0), "matbench": spec.matbench,
                  "published": PUBLISHED.get(spec.matbench), "featurize_s": {}, "models": {}}
            # featurize once per distinct featurizer setting.  A featurizer that learns nothing from the
            # data (no _fit of its own) gives the same features inside every fold, so its output is
            # computed once and the models train on it directly; a featurizer with fitted state is fitted
            # per fold as usual, and this first pass only fills the cache its later folds read.
            features, inputs, seen = {}, {}, {}
            for mname, est in built.items():
                feat = featurizer_of(est)
                if feat is None:
                    continue
                key = _featurizer_key(feat)
                stateless = _stateless(feat) and _strip_featurizer(est) is not None
                if key not in seen:
                    seen[key] = stateless
                    if not stateless and not _cacheable(feat):
                        continue
                    feat = clone(feat)
                    if "n_jobs" in feat.get_params(deep=False):
                        feat.set_params(n_jobs=n_jobs)
                    t = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        Xf = feat.fit_transform(X)
                    if stateless:
                        features[key] = Xf
                    label = base = _short_featurizer_name(feat)
                    k = 1
                    while label in fr["featurize_s"]:  # same class, other settings
                        k += 1
                        label = f"{base} #{k}"
                    fr["featurize_s"][label] = time.perf_counter() - t
                    say(f"  featurized with {label} in {fr['featurize_s'][label]:.1f} s")
                if key in features and stateless:
                    inputs[mname] = (_strip_featurizer(est), features[key])
            curves, oof_all = {}, pd.DataFrame(index=y.index)
            for mname, est in built.items():

                def keep_curve(name, fold, fitted, tr, te):
                    if deep.get(name):
                        try:
                            c, lab = training_curve(fitted)
                        except ValueError:
                            return
                        curves.setdefault(name, []).append(c.tolist())
                        fr["models"][name]["curve_label"] = lab

                fr["models"][mname] = {"estimator": _featurizer_key(est)}
                cpu0 = time.process_time()
                model, Xm = inputs.get(mname, (est, X))
                fr["models"][mname]["input"] = "precomputed features" if mname in inputs else "structures"
                try:
                    with _PeakRSS() as mem, warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res, oof = cross_validate_models({mname: model}, Xm, y, cv=fixed_folds(n_splits),
                                                         verbose=bool(verbose), fold_ids=fold_ids,
                                                         fold_callback=keep_curve)
                except Exception as exc:  # noqa: BLE001 - one failing model must not lose the others' results
                    fr["models"][mname]["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
                    say(f"  {mname} failed: {fr['models'][mname]['error']}")
                    continue
                oof_all[mname] = oof[mname]
                m = fr["models"][mname]
                m.update({
                    "folds": res["fold"].tolist(), "mae": res["mae"].tolist(), "fit_s": res["fit_s"].tolist(),
                    "predict_s": res["predict_s"].tolist(), "mae_mean": float(res["mae"].mean()),
                    "mae_std": float(res["mae"].std(ddof=0)), "fit_s_mean": float(res["fit_s"].mean()),
                    "predict_s_mean": float(res["predict_s"].mean()), "peak_rss_mb": mem.peak_mb,
                    "cpu_s": time.process_time() - cpu0,
                })
                if mname in curves:
                    m["train_curve"] = curves[mname]
            record["frames"][fname] = fr
            table = markdown_table(fr, fname)
            say("", table, "", sep="\n")
            if outdir is not None:
                oof_path = outdir / f"oof_{fname}.csv"
                oof_all.assign(**{spec.target: y}).to_csv(oof_path)
                record["files"].append(str(oof_path))
                if plots and len(oof_all.columns):
                    png = parity_plot(y, oof_all, outdir / f"parity_{fname}.png", unit=spec.unit,
                                      title=f"{fname}: {len(y)} structures, {n_splits}-fold CV ({preset})")
                    record["files"].append(str(png))
                if plots and curves:
                    done = {k: v for k, v in fr["models"].items() if "mae_mean" in v}
                    png = learning_curve_plot(
                        curves, outdir / f"learning_curve_{fname}.png", unit=spec.unit,
                        label={k: done[k].get("curve_label", "train loss") for k in curves},
                        reference={f"{k} CV MAE": v["mae_mean"] for k, v in done.items() if k not in curves},
                        cv_mae={k: done[k]["mae_mean"] for k in curves},
                        title=f"{fname}: training curves ({preset}); lines: cross-validated MAE")
                    record["files"].append(str(png))
    record["total_s"] = time.perf_counter() - t_start
    record["total_cpu_s"] = time.process_time() - cpu_start
    record["peak_rss_mb"] = whole.peak_mb
    if outdir is not None:
        md = _markdown(record)
        (outdir / "results.md").write_text(md)
        record["files"] = [str(outdir / "results.md"), str(outdir / "results.json")] + record["files"]
        (outdir / "results.json").write_text(json.dumps(record, indent=1, default=_json_default))
        say("Results: " + ", ".join(record["files"]))
    return record


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


def _markdown(record):
    c = record["conditions"]
    v = record["versions"]
    head = [
        f"# skcrystal benchmark ({c['preset']} preset, {c['time_utc'][:10]})",
        "",
        f"{c['folds']}; {c['sampling']}. {c['cpu_count']} CPUs, {c['torch_threads']} torch threads, "
        f"{'CUDA' if c['cuda'] else 'no GPU'}; skcrystal {v['skcrystal']}, torch {v.get('torch', '?')}, "
        f"scikit-learn {v.get('scikit-learn', '?')}. Total {record['total_s']:.0f} s wall, "
        f"{record.get('total_cpu_s', float('nan')):.0f} s CPU (all threads; on a shared machine the CPU time is "
        "the steadier measure), peak RSS "
        f"{record['peak_rss_mb']:.0f} MB. Featurization is timed once per setting (listed per frame); "
        "fit and predict times are the models' own (on precomputed features where the featurizer learns "
        "nothing from the data, else on structures through the shared featurization cache).",
        "",
    ]
    body = [markdown_table(fr, name) + "\n" for name, fr in record["frames"].items()]
    return "\n".join(head + body)
