"""Benchmark helpers: fixed-fold cross-validation of several models, result tables, parity plots.

Used by ``examples/demo.py`` (``make demo``) and ``benchmarks/bench_models.py``
so every model is scored on exactly the same folds.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.model_selection import KFold, StratifiedKFold

__all__ = ["MATBENCH_SEED", "cross_validate_models", "fixed_folds", "parity_plot", "results_table"]

#: The random seed matbench uses for its 5-fold splits (pass it to :func:`fixed_folds` to mimic matbench).
MATBENCH_SEED = 18012019


def fixed_folds(n_splits=5, classification=False, random_state=0):
    """The shuffled (stratified for classification) K-fold splitter all benchmarks share.

    ``KFold(5, shuffle=True, random_state=0)`` on frames loaded with
    ``load_*(n_samples=n, random_state=0)``: the same folds as
    ``benchmarks/bench_graph.py`` and ``benchmarks/bench_voxel.py``.
    """
    cls = StratifiedKFold if classification else KFold
    return cls(n_splits=n_splits, shuffle=True, random_state=random_state)


def cross_validate_models(models, X, y, cv=None, verbose=True):
    """Score each model on the same folds, keeping out-of-fold predictions and timings.

    Parameters
    ----------
    models : dict of str -> estimator
        Unfitted estimators (cloned per fold).
    X : DataFrame, Series or list of structures (or features)
    y : array-like of shape (n_samples,)
    cv : splitter or None, default=None
        ``None`` means :func:`fixed_folds` (5 shuffled folds, seed 0).
    verbose : bool, default=True
        Print one line per fold.

    Returns
    -------
    results : DataFrame
        One row per (model, fold): ``mae`` (or ``accuracy``), ``fit_s``, ``predict_s``.
    oof : DataFrame
        Out-of-fold predictions, one column per model, index aligned with ``y``.
    """
    y = pd.Series(np.asarray(y), index=getattr(y, "index", None))
    rows = []
    oof = pd.DataFrame(index=y.index)
    for name, model in models.items():
        clf = is_classifier(model)
        splitter = cv if cv is not None else fixed_folds(classification=clf)
        pred = np.empty(len(y), dtype=object if clf else float)
        for fold, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y if clf else None)):
            est = clone(model)
            Xtr = X.iloc[tr] if hasattr(X, "iloc") else [X[i] for i in tr]
            Xte = X.iloc[te] if hasattr(X, "iloc") else [X[i] for i in te]
            t0 = time.perf_counter()
            est.fit(Xtr, y.iloc[tr])
            t1 = time.perf_counter()
            p = est.predict(Xte)
            t2 = time.perf_counter()
            pred[te] = p
            row = {"model": name, "fold": fold, "fit_s": t1 - t0, "predict_s": t2 - t1, "n_test": len(te)}
            if clf:
                row["accuracy"] = float(np.mean(np.asarray(p) == y.iloc[te].to_numpy()))
            else:
                row["mae"] = float(np.mean(np.abs(np.asarray(p, dtype=float) - y.iloc[te].to_numpy(dtype=float))))
            rows.append(row)
            if verbose:
                metric = "accuracy" if clf else "mae"
                print(f"  {name:<14} fold {fold}: {metric}={row[metric]:.4f}  fit {row['fit_s']:.1f}s  "
                      f"predict {row['predict_s']:.2f}s", flush=True)
        oof[name] = pred
    return pd.DataFrame(rows), oof


def results_table(results, floatfmt=".4f"):
    """Mean ± std over folds per model, as a markdown table string."""
    metric = "mae" if "mae" in results.columns else "accuracy"
    g = results.groupby("model", sort=False)
    lines = [f"| model | {metric} (mean ± std) | fit time / fold (s) | predict time / fold (s) |",
             "|---|---|---|---|"]
    for name, d in g:
        lines.append(
            f"| {name} | {d[metric].mean():{floatfmt}} ± {d[metric].std(ddof=0):{floatfmt}} | "
            f"{d['fit_s'].mean():.1f} | {d['predict_s'].mean():.2f} |"
        )
    return "\n".join(lines)


def parity_plot(y, oof, path, unit="", title=None):
    """Write a parity plot (out-of-fold prediction vs. truth, one panel per model) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(oof.columns)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.2), squeeze=False)
    y = np.asarray(y, dtype=float)
    lo, hi = np.nanmin(y), np.nanmax(y)
    for ax, name in zip(axes[0], names):
        p = oof[name].to_numpy(dtype=float)
        mae = np.mean(np.abs(p - y))
        ax.scatter(y, p, s=4, alpha=0.4)
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlabel(f"DFT {unit}".strip())
        ax.set_ylabel(f"predicted {unit}".strip())
        ax.set_title(f"{name}: MAE {mae:.3f} {unit}".strip())
        ax.set_aspect("equal", adjustable="box")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
