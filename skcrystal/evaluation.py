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

__all__ = [
    "MATBENCH_SEED",
    "cross_validate_models",
    "fixed_folds",
    "learning_curve_plot",
    "parity_plot",
    "results_table",
    "training_curve",
]

#: The random seed matbench uses for its 5-fold splits (pass it to :func:`fixed_folds` to mimic matbench).
MATBENCH_SEED = 18012019


def fixed_folds(n_splits=5, classification=False, random_state=0):
    """The shuffled (stratified for classification) K-fold splitter all benchmarks share.

    ``KFold(5, shuffle=True, random_state=0)`` on frames loaded with
    ``load_*(n_samples=n, random_state=0)``: the same folds as
    ``benchmarks/bench_graph.py`` and ``benchmarks/bench_voxel.py``.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds.
    classification : bool, default=False
        Stratify by the labels (``StratifiedKFold``).
    random_state : int, default=0
        Seed of the shuffle.

    Returns
    -------
    KFold or StratifiedKFold
        The splitter.
    """
    cls = StratifiedKFold if classification else KFold
    return cls(n_splits=n_splits, shuffle=True, random_state=random_state)


def _take(X, idx):
    """Rows ``idx`` of a frame, an array (features or graphs) or a list."""
    if hasattr(X, "iloc"):
        return X.iloc[idx]
    if isinstance(X, np.ndarray) or hasattr(X, "tocsr"):
        return X[idx]
    return [X[i] for i in idx]


def cross_validate_models(models, X, y, cv=None, verbose=True, fold_ids=None, fold_callback=None):
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
    fold_ids : iterable of int or None, default=None
        Run only these folds (0-based) of the splitter, e.g. to spread the
        folds of a long benchmark over several processes; ``None`` runs all.
        Out-of-fold predictions of the folds not run stay NaN.
    fold_callback : callable or None, default=None
        Called as ``fold_callback(name, fold, estimator, train, test)`` after
        each fold with the fitted estimator and the row positions, e.g. to keep
        a network's training history or to save the fitted model.

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
        pred = np.full(len(y), None if clf else np.nan, dtype=object if clf else float)
        wanted = None if fold_ids is None else {int(k) for k in fold_ids}
        for fold, (tr, te) in enumerate(splitter.split(np.zeros(len(y)), y if clf else None)):
            if wanted is not None and fold not in wanted:
                continue
            est = clone(model)
            Xtr, Xte = _take(X, tr), _take(X, te)
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
            if fold_callback is not None:
                fold_callback(name, fold, est, tr, te)
            if verbose:
                metric = "accuracy" if clf else "mae"
                print(f"  {name:<14} fold {fold}: {metric}={row[metric]:.4f}  fit {row['fit_s']:.1f}s  "
                      f"predict {row['predict_s']:.2f}s", flush=True)
        oof[name] = pred
    return pd.DataFrame(rows), oof


def results_table(results, floatfmt=".4f"):
    """Format the mean ± std over folds per model as a markdown table.

    Parameters
    ----------
    results : DataFrame
        The first output of :func:`cross_validate_models`.
    floatfmt : str, default=".4f"
        Format of the metric.

    Returns
    -------
    str
        The table.
    """
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
    """Write a parity plot (out-of-fold prediction vs. truth, one panel per model) to ``path``.

    The figure is drawn on its own canvas (no pyplot state, whatever
    matplotlib backend the caller uses), so this works in scripts, on
    headless machines and in notebooks alike.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        True values.
    oof : DataFrame
        Out-of-fold predictions, one column per model (the second output of
        :func:`cross_validate_models`).
    path : str or path
        Where to write the image.
    unit : str, default=""
        Unit shown on the axes.
    title : str or None, default=None
        Figure title.

    Returns
    -------
    path
        ``path``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = list(oof.columns)
    fig = Figure(figsize=(max(4.2 * len(names), 5.0), 4.2))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(names), squeeze=False)
    y = np.asarray(y, dtype=float)
    lo, hi = np.nanmin(y), np.nanmax(y)
    for ax, name in zip(axes[0], names):
        p = oof[name].to_numpy(dtype=float)
        mae = np.nanmean(np.abs(p - y))
        ax.scatter(y, p, s=4, alpha=0.4)
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        ax.set_xlabel(f"DFT {unit}".strip())
        ax.set_ylabel(f"predicted {unit}".strip())
        ax.set_title(f"{name}: MAE {mae:.3f} {unit}".strip())
        ax.set_aspect("equal", adjustable="box")
    if title:
        _suptitle(fig, title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _suptitle(fig, title):
    """Figure title wrapped to the figure's width (a one-panel figure would clip a long title)."""
    import textwrap

    fig.suptitle(textwrap.fill(title, max(30, int(fig.get_figwidth() * 9))), fontsize=11)


def training_curve(estimator):
    """The per-epoch training loss of a fitted skorch model, in the target's units where possible.

    skcrystal's regressors train on standardised targets, so the recorded
    loss is rescaled by the target's standard deviation ``y_std_``: an L1
    loss becomes the training MAE and an MSE loss the training RMSE in the
    target's units.  Other losses (and classifiers) are returned as recorded.

    Parameters
    ----------
    estimator : fitted skorch estimator, or a Pipeline ending in one
        Anything with a skorch ``history_``.

    Returns
    -------
    curve : ndarray of shape (n_epochs,)
        The training loss per epoch.
    label : str
        What ``curve`` is (``"train MAE"``, ``"train RMSE"`` or ``"train loss"``).

    Raises
    ------
    ValueError
        If the estimator has no training history (not a fitted neural network).
    """
    est = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    history = getattr(est, "history_", None)
    if history is None or len(history) == 0:
        raise ValueError(f"{type(est).__name__} has no training history (only fitted neural networks have one)")
    loss = np.asarray(history[:, "train_loss"], dtype=float)
    std = getattr(est, "y_std_", None)
    criterion = getattr(est, "criterion", None)
    name = getattr(criterion, "__name__", type(criterion).__name__)
    if std is not None and name == "L1Loss":
        return loss * std, "train MAE"
    if std is not None and name == "MSELoss":
        return np.sqrt(np.maximum(loss, 0.0)) * std, "train RMSE"
    return loss, "train loss"


def learning_curve_plot(curves, path, unit="", title=None, label="train loss", reference=None, cv_mae=None):
    """Write learning curves (training loss per epoch, one line per fold) to ``path``.

    Parameters
    ----------
    curves : dict of str -> list of array-like
        Model name -> one curve per fold (e.g. from :func:`training_curve`);
        one panel per model.
    path : str or Path
        Output image file.
    unit : str, default=""
        Target unit for the axis label.
    title : str or None, default=None
        Figure title.
    label : str or dict of str -> str, default="train loss"
        What the curves are (y-axis label), or one label per model.
    reference : dict of str -> float or None, default=None
        Dashed horizontal lines drawn in every panel, name -> value (e.g. the
        cross-validated MAE of the baselines).
    cv_mae : dict of str -> float or None, default=None
        Model name -> its cross-validated MAE, drawn as a solid line in its
        own panel (the gap to the training curve shows over-fitting).

    Returns
    -------
    path : str or Path
        ``path``, for printing.
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = list(curves)
    fig, axes = plt.subplots(1, len(names), figsize=(max(4.6 * len(names), 5.0), 3.8), squeeze=False)
    for ax, name in zip(axes[0], names):
        for k, c in enumerate(curves[name]):
            c = np.asarray(c, dtype=float)
            ax.plot(np.arange(1, len(c) + 1), c, lw=1.2, alpha=0.8, label=f"fold {k}")
        lines = dict(reference or {})
        for ref_name, value in lines.items():
            ax.axhline(value, ls="--", lw=1, color="0.4")
            ax.annotate(ref_name, (0.02, value), xycoords=("axes fraction", "data"), textcoords="offset points",
                        xytext=(0, 2), fontsize=8, color="0.3")
        if cv_mae and name in cv_mae:
            ax.axhline(cv_mae[name], lw=1.5, color="k")
            ax.annotate(f"{name} CV MAE", (0.98, cv_mae[name]), xycoords=("axes fraction", "data"),
                        textcoords="offset points", xytext=(0, 2), fontsize=8, ha="right")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        lab = label.get(name, "train loss") if isinstance(label, dict) else label
        ax.set_ylabel(f"{lab} {unit}".strip())
        ax.set_title(name)
        if 1 < len(curves[name]) <= 10:
            ax.legend(fontsize=7, loc="upper right")
    if title:
        _suptitle(fig, title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
