"""One rule for every estimator that takes structures *or* a featurizer step's output."""

from __future__ import annotations

from sklearn.base import clone

from ..utils.validation import is_structure_input

__all__ = ["featurize_input"]


def featurize_input(estimator, X, fit, default_featurizer):
    """Featurize ``X`` if it holds structures, else return it unchanged.

    At fit time the estimator's ``featurizer`` (or ``default_featurizer()``) is
    cloned into ``featurizer_`` (``None`` when fitted on features).  At predict
    time the same kind of input is required, with an error saying what to pass.

    Parameters
    ----------
    estimator : estimator with a ``featurizer`` parameter
    X : structures or features
    fit : bool
    default_featurizer : callable returning a transformer

    Returns
    -------
    Xf : featurizer output, or ``X`` itself
    """
    name = type(estimator).__name__
    if is_structure_input(X):
        if fit:
            feat = estimator.featurizer if estimator.featurizer is not None else default_featurizer()
            estimator.featurizer_ = clone(feat)
            return estimator.featurizer_.fit_transform(X)
        if getattr(estimator, "featurizer_", None) is None:
            raise ValueError(
                f"{name} was fitted on features, not structures; pass the same kind of input to "
                "predict (or put the featurizer in a Pipeline)"
            )
        return estimator.featurizer_.transform(X)
    if fit:
        estimator.featurizer_ = None
    elif getattr(estimator, "featurizer_", None) is not None:
        raise ValueError(f"{name} was fitted on structures; pass structures to predict too")
    return X
