"""The ``skcrystal`` command line: featurize, fit, predict, benchmark, list the bundled datasets.

::

    skcrystal datasets
    skcrystal featurize cifs/ features.csv --featurizer FaithfulFeaturizer --param symmetry=ordinal
    skcrystal fit cifs/ --targets targets.csv --target e_form --model CGNN --param max_epochs=50 -o model.joblib
    skcrystal predict model.joblib new_cifs/ -o predictions.csv
    skcrystal benchmark --quick

``IN`` is a folder of CIF/POSCAR files (targets from ``--targets``, a CSV whose
``file`` column names the files), a CSV with a CIF column, a json(.gz) frame,
or the name of a bundled frame (``skcrystal datasets``).  Models and
featurizers are found by name in the public ``__all__`` of
:mod:`skcrystal.models` and :mod:`skcrystal.featurizers`, so new estimators
appear here without any change.  Every bad input ends with a one-line
``skcrystal: error: ...`` and exit status 1 (set ``SKCRYSTAL_DEBUG=1`` for the
traceback).
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
import warnings
from pathlib import Path

__all__ = ["build_parser", "main", "parse_param", "resolve_featurizer", "resolve_model"]


class CLIError(Exception):
    """A user error reported as one line."""


# ============================================================================ name resolution
def _public(module_name):
    import importlib

    mod = importlib.import_module(f"skcrystal.{module_name}")
    return {name: getattr(mod, name) for name in mod.__all__ if isinstance(getattr(mod, name), type)}


def resolve_featurizer(name):
    """The featurizer class called ``name`` (case-insensitive) in :mod:`skcrystal.featurizers`.

    Parameters
    ----------
    name : str

    Returns
    -------
    type
    """
    from sklearn.base import TransformerMixin

    # transformers only (skcrystal.featurizers also exports data records such as CrystalformerInput)
    table = {k: v for k, v in _public("featurizers").items() if issubclass(v, TransformerMixin)}
    folded = {k.lower(): v for k, v in table.items()}
    if name.lower() in folded:
        return folded[name.lower()]
    raise CLIError(f"unknown featurizer {name!r}; available: {', '.join(sorted(table))}")


def resolve_model(name, task="regression"):
    """The model class called ``name`` in :mod:`skcrystal.models`.

    ``name`` may omit the ``Regressor`` / ``Classifier`` suffix (``"CGNN"``);
    ``task`` then picks one.

    Parameters
    ----------
    name : str
        Case-insensitive class name, with or without the suffix.
    task : {"regression", "classification"}, default="regression"

    Returns
    -------
    type
    """
    table = {k: v for k, v in _public("models").items() if k.endswith(("Regressor", "Classifier"))}
    folded = {k.lower(): v for k, v in table.items()}
    key = name.lower()
    if key in folded:
        return folded[key]
    suffix = "regressor" if task == "regression" else "classifier"
    if key + suffix in folded:
        return folded[key + suffix]
    short = sorted({k[: -len("Regressor")] if k.endswith("Regressor") else k[: -len("Classifier")] for k in table})
    raise CLIError(f"unknown model {name!r}; available: {', '.join(short)} (add Regressor/Classifier to choose "
                   "explicitly)")


def parse_param(text):
    """``"key=value"`` -> ``(key, value)``, the value read as a Python literal when it is one.

    ``max_epochs=50`` gives an int, ``module__hidden=(64,64)`` a tuple,
    ``symmetry=ordinal`` the string ``"ordinal"``, ``cutoff=None`` None.

    Parameters
    ----------
    text : str

    Returns
    -------
    tuple of (str, object)
    """
    if "=" not in text:
        raise CLIError(f"--param expects key=value, got {text!r}")
    key, _, raw = text.partition("=")
    key = key.strip()
    if not key.isidentifier() and not all(part.isidentifier() for part in key.split("__")):
        raise CLIError(f"--param {text!r}: {key!r} is not a parameter name")
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError):
        value = raw.strip()
    return key, value


def _params(items):
    return dict(parse_param(t) for t in (items or []))


def _construct(cls, params):
    """Instantiate ``cls`` and apply ``params`` (with skorch/sklearn's own name checks) as a clear error."""
    est = cls()
    if params:
        try:
            est.set_params(**params)
        except (ValueError, TypeError) as exc:
            raise CLIError(f"{cls.__name__}: {_one_line(exc)}") from None
    return est


# ============================================================================ helpers
def _one_line(exc):
    text = " ".join(str(exc).split())
    return text if len(text) <= 600 else text[:597] + "..."


def _read(source, targets=None, structure_column=None):
    from .io import read_structures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        df = read_structures(source, targets=targets, structure_column=structure_column)
    return df


def _say(args, *msg):
    if not getattr(args, "quiet", False):
        print(*msg, file=sys.stderr, flush=True)


def _task_of(y, task):
    import pandas as pd

    if task != "auto":
        return task
    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        return "classification"
    return "regression"


def _check_output(path, suffixes, what):
    path = Path(path)
    if not path.name.lower().endswith(suffixes):
        raise CLIError(f"{what} {path}: use a name ending in {' or '.join(suffixes)}")
    if not path.parent.exists():
        raise CLIError(f"{what} {path}: folder {path.parent} does not exist")
    return path


# ============================================================================ commands
def cmd_datasets(args):
    from .benchmark import FRAMES
    from .datasets import list_datasets

    table = list_datasets()
    print("Bundled frames (use the name wherever a command takes IN):\n")
    for name, row in table.iterrows():
        print(f"  {name:<20} {row['rows']:>5} rows  {row['loader']}()")
        print(f"  {'':<20} targets: {row['targets']}  [{row['units']}]  source: {row['source']}")
    print("\nBenchmark frames (skcrystal benchmark --frames ...):\n")
    for name, spec in FRAMES.items():
        pub = f"  ~ {spec.matbench}" if spec.matbench else ""
        print(f"  {name:<16} {spec.loader}() -> {spec.target} [{spec.unit or '-'}]{pub}")
    return 0


def cmd_featurize(args):
    import numpy as np
    import pandas as pd

    out = _check_output(args.output, (".csv", ".csv.gz", ".npy", ".joblib", ".pkl"), "output")
    cls = resolve_featurizer(args.featurizer)
    params = _params(args.param)
    if args.n_jobs is not None:
        params.setdefault("n_jobs", args.n_jobs)
    feat = _construct(cls, params)
    lower = out.name.lower()
    if getattr(feat, "_output_kind", "numeric") == "object" and not lower.endswith((".joblib", ".pkl")):
        raise CLIError(f"{cls.__name__} gives one object per structure (e.g. a graph), which a "
                       f"{out.suffix} file cannot hold; write {out.name.split('.')[0]}.joblib instead")
    df = _read(args.input, structure_column=args.structure_column)
    _say(args, f"featurizing {len(df)} structures with {feat!r}")
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xf = feat.fit_transform(df[["structure"]])
    names = list(feat.get_feature_names_out())
    numeric = isinstance(Xf, np.ndarray) and Xf.dtype != object
    if lower.endswith((".csv", ".csv.gz")):
        if not numeric:
            raise CLIError(f"{cls.__name__} gives one object per structure (e.g. a graph), which a CSV cannot "
                           f"hold; write {out.with_suffix('.joblib').name} instead")
        pd.DataFrame(np.asarray(Xf), index=df.index, columns=names).to_csv(out)
    elif lower.endswith(".npy"):
        if not numeric:
            raise CLIError(f"{cls.__name__} gives objects, not a matrix; write a .joblib file instead")
        np.save(out, np.asarray(Xf))
    else:
        import joblib

        joblib.dump({"index": list(df.index), "features": Xf, "feature_names": names,
                     "featurizer": feat.get_params(deep=False)}, out)
    shape = getattr(Xf, "shape", (len(df),))
    _say(args, f"wrote {out}: {shape[0]} rows x {shape[1] if len(shape) > 1 else 1} columns "
               f"in {time.perf_counter() - t:.1f} s")
    return 0


def cmd_fit(args):
    import numpy as np
    from sklearn.pipeline import make_pipeline

    from .io import save_model

    out = _check_output(args.output, (".joblib", ".pkl"), "model file")
    if args.targets is not None and not Path(args.targets).is_file():
        raise CLIError(f"--targets {args.targets}: no such file")
    resolve_model(args.model, "regression" if args.task == "auto" else args.task)  # a bad name fails before reading
    if args.featurizer:
        resolve_featurizer(args.featurizer)
    df = _read(args.input, targets=args.targets, structure_column=args.structure_column)
    if args.target not in df.columns:
        cols = [c for c in df.columns if c != "structure"]
        hint = " (a folder of CIFs needs --targets targets.csv with a 'file' column)" if not cols else ""
        raise CLIError(f"no target column {args.target!r} in {args.input}; columns: {cols}{hint}")
    y = df[args.target]
    n_missing = int(y.isna().sum())
    if n_missing:
        raise CLIError(f"{n_missing} of {len(y)} rows have no {args.target!r} value (e.g. "
                       f"{list(y.index[y.isna()][:3])}); remove them from the input")
    task = _task_of(y, args.task)
    cls = resolve_model(args.model, task)
    model = _construct(cls, _params(args.param))
    if args.featurizer:
        feat = _construct(resolve_featurizer(args.featurizer), _params(args.featurizer_param))
        model = make_pipeline(feat, model)
    elif args.featurizer_param:
        raise CLIError("--featurizer-param needs --featurizer NAME")
    if task == "regression":
        y = y.astype(float)
    _say(args, f"fitting {type(model).__name__ if args.featurizer else cls.__name__} on {len(df)} structures "
               f"({task}, target {args.target!r})")
    t = time.perf_counter()
    with warnings.catch_warnings():
        if not args.verbose:
            warnings.simplefilter("ignore")
        model.fit(df[["structure"]], y)
    fit_s = time.perf_counter() - t
    pred = model.predict(df[["structure"]])
    if task == "regression":
        train = f"training MAE {np.mean(np.abs(np.asarray(pred, dtype=float) - y.to_numpy())):.4g}"
    else:
        train = f"training accuracy {np.mean(np.asarray(pred) == y.to_numpy()):.3f}"
    save_model(model, out, target=args.target, task=task, model_name=args.model, n_train=int(len(df)),
               trained_on=str(args.input), fit_s=fit_s)
    _say(args, f"wrote {out} ({train}, fit {fit_s:.1f} s)")
    return 0


def cmd_predict(args):
    import pandas as pd

    from .io import load_model, model_info

    out = _check_output(args.output, (".csv", ".csv.gz"), "output")
    if not Path(args.model).is_file():
        raise CLIError(f"{args.model}: no such model file")
    model = load_model(args.model)
    info = model_info(args.model)
    df = _read(args.input, structure_column=args.structure_column)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = model.predict(df[["structure"]])
    col = f"{info.get('target', 'y')}_pred"
    res = pd.DataFrame({col: pred}, index=df.index)
    res.index.name = df.index.name or "id"
    res.to_csv(out)
    _say(args, f"wrote {out}: {len(res)} predictions of {info.get('target', 'the target')!r}")
    return 0


def cmd_benchmark(args):
    from .benchmark import FRAMES, MODELS, run_benchmark

    if args.list:
        print("Models (--models):")
        for name, spec in MODELS.items():
            print(f"  {name:<16} {spec.description}")
        print("Frames (--frames):")
        for name, spec in FRAMES.items():
            sizes = ", ".join(f"{k} {v or 'all'}" for k, v in spec.sizes.items())
            print(f"  {name:<16} {spec.description}; rows: {sizes}")
        return 0
    preset = "quick" if args.quick else ("full" if args.full else args.preset)
    models = args.models or ("Dummy,GBT,CGNN" if preset != "quick" else "Dummy,GBT,NNN,CGNN")
    frames = args.frames or "perovskites"
    fold_ids = [int(k) for k in args.fold_ids.split(",")] if args.fold_ids else None
    out = args.out or f"benchmark_results/{preset}"
    run_benchmark(models=models, frames=frames, preset=preset, n_samples=args.n_samples, n_splits=args.folds,
                  out=out, fold_ids=fold_ids, n_jobs=args.n_jobs, plots=not args.no_plots,
                  verbose=0 if args.quiet else 1)
    return 0


# ============================================================================ parser
def build_parser():
    """The argparse parser of the ``skcrystal`` command.

    Returns
    -------
    argparse.ArgumentParser
    """
    from . import __version__

    p = argparse.ArgumentParser(prog="skcrystal", description="Machine learning on crystal structures "
                                "(scikit-learn compatible). See `skcrystal COMMAND -h`.")
    p.add_argument("--version", action="version", version=f"skcrystal {__version__}")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(sp):
        sp.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
        sp.add_argument("-v", "--verbose", action="store_true", help="show warnings")

    sp = sub.add_parser("datasets", help="list the bundled frames")
    sp.set_defaults(func=cmd_datasets)

    inp = ("a folder of CIF/POSCAR files, a structure file, a CSV with a CIF column (or a 'file' column), "
           "a .json(.gz) frame, or a bundled frame name")
    sp = sub.add_parser("featurize", help="featurize structures into a CSV/.npy/.joblib file")
    sp.add_argument("input", metavar="IN", help=inp)
    sp.add_argument("output", metavar="OUT", help="output file: .csv, .npy, or .joblib (any featurizer)")
    sp.add_argument("--featurizer", required=True, help="class name from skcrystal.featurizers")
    sp.add_argument("--param", action="append", metavar="K=V", help="featurizer parameter (repeatable)")
    sp.add_argument("--n-jobs", type=int, default=None, help="parallel workers")
    sp.add_argument("--structure-column", default=None, help="column of a table holding the structures")
    common(sp)
    sp.set_defaults(func=cmd_featurize)

    sp = sub.add_parser("fit", help="fit a model and save it")
    sp.add_argument("input", metavar="IN", help=inp)
    sp.add_argument("--target", required=True, help="target column")
    sp.add_argument("--targets", default=None, help="CSV with a 'file' column and the targets (for a folder)")
    sp.add_argument("--model", required=True, help="model from skcrystal.models, e.g. GBT, CGNN, NNNRegressor")
    sp.add_argument("--param", action="append", metavar="K=V", help="model parameter, e.g. max_epochs=50")
    sp.add_argument("--featurizer", default=None, help="featurizer put before the model (default: the model's own)")
    sp.add_argument("--featurizer-param", action="append", metavar="K=V", help="featurizer parameter")
    sp.add_argument("--task", choices=["auto", "regression", "classification"], default="auto",
                    help="default: classification for non-numeric targets")
    sp.add_argument("--structure-column", default=None)
    sp.add_argument("-o", "--output", required=True, help="model file (.joblib)")
    common(sp)
    sp.set_defaults(func=cmd_fit)

    sp = sub.add_parser("predict", help="predict with a saved model")
    sp.add_argument("model", help="model file written by `skcrystal fit`")
    sp.add_argument("input", metavar="IN", help=inp)
    sp.add_argument("-o", "--output", required=True, help="predictions CSV")
    sp.add_argument("--structure-column", default=None)
    common(sp)
    sp.set_defaults(func=cmd_predict)

    sp = sub.add_parser("benchmark", help="cross-validate named models on bundled frames (shared folds)",
                        description="Writes results.md, results.json and plots to --out.")
    sp.add_argument("--models", default=None, help="comma-separated names (see --list); default Dummy,GBT,CGNN")
    sp.add_argument("--frames", default=None, help="comma-separated names (see --list); default perovskites")
    size = sp.add_mutually_exclusive_group()
    size.add_argument("--preset", choices=["quick", "standard", "full"], default="standard")
    size.add_argument("--quick", action="store_true", help="CI-sized: tiny models, 100 rows per frame")
    size.add_argument("--full", action="store_true", help="accurate settings on every row (hours on a CPU)")
    sp.add_argument("--n-samples", type=int, default=None, help="rows per frame (0 = all), overrides the preset")
    sp.add_argument("--folds", type=int, default=5, help="number of folds (default 5)")
    sp.add_argument("--fold-ids", default=None, help="run only these folds, e.g. 0,1")
    sp.add_argument("--out", default=None, help="results folder (default benchmark_results/<preset>)")
    sp.add_argument("--n-jobs", type=int, default=1, help="workers for featurization")
    sp.add_argument("--no-plots", action="store_true")
    sp.add_argument("--list", action="store_true", help="list the registered models and frames")
    common(sp)
    sp.set_defaults(func=cmd_benchmark)
    return p


def main(argv=None):
    """Run the ``skcrystal`` command line.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 on a user error (one line on stderr),
        2 on a usage error (argparse), 130 when interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = os.environ.get("SKCRYSTAL_DEBUG", "").strip() not in ("", "0")
    try:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        return args.func(args) or 0
    except KeyboardInterrupt:
        print("skcrystal: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear line
        if debug:
            raise
        msg = _one_line(exc)
        if not isinstance(exc, (CLIError, ValueError, OSError)) or not msg:
            msg = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
        print(f"skcrystal {args.command}: error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
