"""Model-agnostic audits of a dataset and of a model: the faithful paper's label filter and atomic-limit probe.

Nop et al. (2025) use two checks beyond accuracy:

* **Suspicious labels.**  Several architectures (NNN, CANN, CCNN, CGNN) that
  make *different* kinds of mistakes are trained on the same data; a
  material that every one of them gets wrong is either one that violates
  all their heuristics or, more often, a mislabelled entry (an insufficient
  DFT calculation).  The paper flagged 54 of 36 580 materials this way.
  :func:`label_audit` does this with any scikit-learn estimators, on
  out-of-fold predictions (or, as in the paper, on the training fit with
  ``cv="train"``).
* **The atomic limit.**  Expanding a crystal ``C`` by a factor ``r`` (every
  position ``p`` goes to ``r·p``) drives it toward isolated atoms, where the
  physics is known (e.g. every material is topologically trivial, bonds
  vanish).  :func:`atomic_limit_probe` predicts on ``rC`` for a range of
  ``r`` and plots how each model responds, which shows at a glance whether a
  model reads geometry at all (a composition-only model is flat) and whether
  it extrapolates sensibly.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd

__all__ = ["atomic_limit_probe", "expand_structure", "label_audit"]


def _names(estimators):
    if isinstance(estimators, dict):
        return dict(estimators)
    out = {}
    for est in estimators:
        name = type(est).__name__ if not hasattr(est, "steps") else type(est.steps[-1][1]).__name__
        k, base = 1, name
        while name in out:
            k += 1
            name = f"{base}_{k}"
        out[name] = est
    return out


def label_audit(estimators, X, y, cv=None, threshold="auto", factor=3.0, plot=True, ax=None, verbose=False):
    """Flag the rows whose label every model disagrees with (the faithful paper's filter for suspicious labels).

    Parameters
    ----------
    estimators : dict of str -> estimator, or list of estimators
        Unfitted estimators of *different* kinds (their mistakes should be
        independent): e.g. ``{"GBT": GBTRegressor(), "CGNN": CGNNRegressor()}``.
        Each is cloned per fold.
    X : DataFrame with a ``structure`` column, Series or list of structures
        The structures (or anything the estimators take).
    y : array-like of shape (n_samples,)
        The labels under audit.  Numeric ``y`` is treated as regression
        unless every estimator is a classifier.
    cv : int, splitter, "train" or None, default=None
        ``None``: :func:`skcrystal.evaluation.fixed_folds` (5 shuffled folds,
        seed 0); an int: that many such folds; a splitter; or ``"train"``:
        fit every model on all rows and judge its predictions of the same
        rows (the paper's procedure: models trained to high training
        accuracy that still get a row wrong).
    threshold : float, dict of str -> float, or "auto", default="auto"
        Regression only: a model disagrees with a label when its absolute
        error exceeds this (in the target's units; a dict gives one value
        per model).  ``"auto"`` uses ``factor`` times each model's own mean
        absolute error, so every model is judged against its typical
        accuracy.  Classification: a model disagrees when it predicts
        another class.
    factor : float, default=3.0
        The multiple of each model's MAE used by ``threshold="auto"``.
    plot : bool, default=True
        Draw the audit (label vs. the models' median prediction, flagged rows
        marked and named; for classes, flagged rows per class).
    ax : matplotlib Axes or None, default=None
        Where to draw (a new figure if None).
    verbose : bool, default=False
        Print one line per fold.

    Returns
    -------
    report : DataFrame
        Indexed like ``y``: ``label``, one ``pred_<model>`` column per model,
        ``n_disagree`` (how many models disagree), ``score`` (regression:
        the smallest error-to-threshold ratio over the models, so
        ``score > 1`` means every model disagrees; classification: the
        fraction of models that disagree) and ``flagged`` (every model
        disagrees).  ``report.attrs`` holds the thresholds and each
        model's MAE or accuracy.  Sort by ``score`` to see the most
        suspicious rows first.
    fig : matplotlib Figure or None
        The plot (None when ``plot=False``).

    References
    ----------
    Nop, G. N. et al. Faithful novel machine learning for predicting quantum
    properties. *npj Comput. Mater.* (2025): "cases where all the models failed
    to categorize a material ... the material itself is miscatalogued".

    Examples
    --------
    >>> from skcrystal.audit import label_audit
    >>> from skcrystal.models import GBTRegressor, NNNRegressor
    >>> report, fig = label_audit({"GBT": GBTRegressor(), "NNN": NNNRegressor()},
    ...                           df["structure"], df["heat_ref"])  # doctest: +SKIP
    >>> report[report.flagged].sort_values("score", ascending=False)  # doctest: +SKIP
    """
    from sklearn.base import clone, is_classifier

    from .evaluation import cross_validate_models, fixed_folds

    models = _names(estimators)
    if not models:
        raise ValueError("label_audit needs at least one estimator")
    index = getattr(y, "index", None)
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y_arr.shape}")
    n = len(y_arr)
    n_x = X.shape[0] if hasattr(X, "shape") else len(X)
    if n_x != n:
        raise ValueError(f"X has {n_x} rows but y has {n}")
    classification = all(is_classifier(m) for m in models.values())
    if not classification and not np.issubdtype(y_arr.dtype, np.number):
        raise ValueError("non-numeric labels need classifiers: pass estimators that are all classifiers")
    if not classification and not np.isfinite(y_arr.astype(float)).all():
        bad = np.flatnonzero(~np.isfinite(y_arr.astype(float)))[:10].tolist()
        raise ValueError(f"y has NaN/inf at rows {bad}; drop them before the audit (e.g. with dropna)")
    y_ser = pd.Series(y_arr, index=index if index is not None else pd.RangeIndex(n))

    if isinstance(cv, str):
        if cv != "train":
            raise ValueError(f"cv must be None, an int, a splitter or 'train', got {cv!r}")
        preds = {}
        for name, est in models.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                preds[name] = np.asarray(clone(est).fit(X, y_ser).predict(X))
        oof = pd.DataFrame(preds, index=y_ser.index)
    else:
        if cv is None or isinstance(cv, Integral):
            cv = fixed_folds(n_splits=5 if cv is None else int(cv), classification=classification)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, oof = cross_validate_models(models, X, y_ser, cv=cv, verbose=verbose)

    report = pd.DataFrame({"label": y_ser})
    for name in models:
        report[f"pred_{name}"] = oof[name].to_numpy()
    if classification:
        wrong = np.column_stack([oof[name].to_numpy() != y_arr for name in models])
        report["n_disagree"] = wrong.sum(axis=1)
        report["score"] = wrong.mean(axis=1)
        report["flagged"] = wrong.all(axis=1)
        report.attrs["accuracy"] = {name: float(np.mean(~wrong[:, k])) for k, name in enumerate(models)}
    else:
        yf = y_arr.astype(float)
        err = np.column_stack([np.abs(oof[name].to_numpy(dtype=float) - yf) for name in models])
        mae = {name: float(np.mean(err[:, k])) for k, name in enumerate(models)}
        if isinstance(threshold, str):
            if threshold != "auto":
                raise ValueError(f"threshold must be a number, a dict or 'auto', got {threshold!r}")
            thr = {name: factor * mae[name] for name in models}
        elif isinstance(threshold, dict):
            missing = [m for m in models if m not in threshold]
            if missing:
                raise ValueError(f"threshold has no value for {missing}")
            thr = {name: float(threshold[name]) for name in models}
        elif isinstance(threshold, Real) and threshold > 0:
            thr = {name: float(threshold) for name in models}
        else:
            raise ValueError(f"threshold must be positive, got {threshold!r}")
        ratio = err / np.array([max(thr[name], np.finfo(float).tiny) for name in models])
        report["n_disagree"] = (ratio > 1).sum(axis=1)
        report["score"] = ratio.min(axis=1)
        report["flagged"] = report["score"] > 1
        report.attrs["mae"] = mae
        report.attrs["threshold"] = thr
    report.attrs["cv"] = "train" if isinstance(cv, str) else repr(cv)
    fig = _plot_audit(report, list(models), classification, ax) if plot else None
    return report, fig


def _plot_audit(report, names, classification, ax):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 4.6))
    else:
        fig = ax.figure
    flagged = report["flagged"].to_numpy()
    if classification:
        counts = report.loc[flagged, "label"].astype(str).value_counts()
        totals = report["label"].astype(str).value_counts()
        classes = totals.index.tolist()
        ax.bar(range(len(classes)), [counts.get(c, 0) for c in classes])
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
        ax.set_ylabel("rows every model disagrees with")
        ax.set_title(f"label audit: {int(flagged.sum())} of {len(report)} flagged ({len(names)} models)")
    else:
        label = report["label"].to_numpy(dtype=float)
        med = np.median(np.column_stack([report[f"pred_{n}"].to_numpy(dtype=float) for n in names]), axis=1)
        ax.scatter(label[~flagged], med[~flagged], s=5, alpha=0.4, label="consistent")
        ax.scatter(label[flagged], med[flagged], s=30, color="crimson", label="every model disagrees")
        lo, hi = np.nanmin(np.r_[label, med]), np.nanmax(np.r_[label, med])
        ax.plot([lo, hi], [lo, hi], "k--", lw=1)
        top = report[flagged].sort_values("score", ascending=False).head(8)
        for idx, row in top.iterrows():
            m = float(np.median([row[f"pred_{n}"] for n in names]))
            ax.annotate(str(idx), (row["label"], m), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("label")
        ax.set_ylabel(f"median prediction of {len(names)} models")
        ax.set_title(f"label audit: {int(flagged.sum())} of {len(report)} flagged")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def expand_structure(structure, r):
    """The expansion ``rC`` of a crystal: every position ``p`` moves to ``r·p`` (lattice scaled by ``r``).

    Fractional coordinates, species and site properties are kept, so the
    symmetry is unchanged and every interatomic distance grows by ``r``.

    Parameters
    ----------
    structure : pymatgen.core.Structure
    r : float
        Expansion factor (> 0; ``r > 1`` moves toward isolated atoms).

    Returns
    -------
    pymatgen.core.Structure
    """
    from pymatgen.core import Lattice, Structure

    if not (isinstance(r, Real) and np.isfinite(r) and r > 0):
        raise ValueError(f"the expansion factor must be a positive number, got {r!r}")
    return Structure(Lattice(structure.lattice.matrix * float(r)), structure.species_and_occu,
                     structure.frac_coords, site_properties=structure.site_properties)


def atomic_limit_probe(model, X, scales=(1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0), on_error="warn", plot=True,
                       ax=None, max_lines=60):
    """Predict as every crystal is expanded toward isolated atoms (the faithful paper's atomic-limit test).

    Parameters
    ----------
    model : fitted estimator
        Anything whose ``predict`` takes structures (a skcrystal model, or
        a Pipeline starting with a featurizer).
    X : DataFrame with a ``structure`` column, Series or list of structures
        The crystals to probe (a few dozen suffice).
    scales : sequence of float, default=(1, 1.25, 1.5, 2, 3, 5, 10)
        Expansion factors ``r`` (see :func:`expand_structure`); include 1 to
        see the prediction of the crystal itself.
    on_error : {"warn", "raise"}, default="warn"
        What to do when the model cannot predict at some scale (e.g. a
        featurizer that rejects cells it was not built for): ``"warn"``
        leaves that column NaN (or None for classes) and warns naming the
        scale and the error.
    plot : bool, default=True
        Draw prediction vs. ``r`` (one thin line per crystal and the median;
        for a classifier, the share of each predicted class).
    ax : matplotlib Axes or None, default=None
        Where to draw.
    max_lines : int, default=60
        At most this many per-crystal lines are drawn.

    Returns
    -------
    predictions : DataFrame
        One row per crystal (index of ``X``), one column per scale.
    fig : matplotlib Figure or None
        The plot (None when ``plot=False``).

    Notes
    -----
    An isotropic expansion keeps the composition and the space group, so a
    model that reads only those (e.g. the GBT on composition and symmetry
    features) predicts the same value at every ``r``: the probe shows which
    models read the geometry at all, and how smoothly they extrapolate to
    crystals far outside the training distribution.  The paper expects
    every material to become topologically trivial in this limit.

    Examples
    --------
    >>> from skcrystal.audit import atomic_limit_probe
    >>> model = CGNNRegressor().fit(df["structure"], df["heat_ref"])  # doctest: +SKIP
    >>> preds, fig = atomic_limit_probe(model, df["structure"].iloc[:30])  # doctest: +SKIP
    """
    from sklearn.base import is_classifier

    from .utils.validation import check_structures, row_labels

    if on_error not in ("warn", "raise"):
        raise ValueError(f"on_error must be 'warn' or 'raise', got {on_error!r}")
    scales = [float(r) for r in np.atleast_1d(scales)]
    if not scales or any(not np.isfinite(r) or r <= 0 for r in scales):
        raise ValueError(f"scales must be positive numbers, got {scales}")
    structures = check_structures(X, disorder="allow", min_distance=None)
    index = row_labels(X)
    try:
        classifier = is_classifier(model)
    except AttributeError:  # not a scikit-learn estimator: judge by what it predicts
        classifier = False
    cols = {}
    for r in scales:
        expanded = [expand_structure(s, r) for s in structures]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cols[r] = np.asarray(model.predict(pd.Series(expanded, index=index)))
        except Exception as exc:  # noqa: BLE001 - any model's failure is reported with the scale
            if on_error == "raise":
                raise
            warnings.warn(f"atomic_limit_probe: {type(model).__name__} cannot predict at r={r:g}: "
                          f"{type(exc).__name__}: {exc}", UserWarning, stacklevel=2)
            cols[r] = np.full(len(structures), None if classifier else np.nan, dtype=object if classifier else float)
    preds = pd.DataFrame(cols, index=index)
    preds.columns.name = "r"
    fig = _plot_probe(preds, model, classifier, ax, max_lines) if plot else None
    return preds, fig


def _plot_probe(preds, model, classifier, ax, max_lines):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.2, 4.0))
    else:
        fig = ax.figure
    r = np.asarray(preds.columns, dtype=float)
    name = type(model.steps[-1][1] if hasattr(model, "steps") else model).__name__
    if classifier:
        classes = pd.unique(preds.to_numpy().ravel())
        classes = [c for c in classes if c is not None]
        for c in classes:
            ax.plot(r, [(preds[col] == c).mean() for col in preds.columns], marker="o", label=str(c))
        ax.set_ylabel("share of crystals predicted")
        ax.legend(fontsize=8, title="class")
    else:
        vals = preds.to_numpy(dtype=float)
        for row in vals[:max_lines]:
            ax.plot(r, row, color="0.6", lw=0.6, alpha=0.6)
        ax.plot(r, np.nanmedian(vals, axis=0) if np.isfinite(vals).any() else np.full(len(r), np.nan),
                color="crimson", lw=2, marker="o", label="median")
        ax.set_ylabel("prediction")
        ax.legend(fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("expansion factor r (positions p → r·p)")
    ax.set_title(f"atomic-limit probe: {name}")
    fig.tight_layout()
    return fig
