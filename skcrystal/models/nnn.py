"""NNN: the faithful paper's MLP on the binned structure vector, as skorch estimators."""

from __future__ import annotations

from numbers import Integral, Real

import torch

from .._citations import NOP2025_FAITHFUL
from ..featurizers.faithful import FaithfulBinned
from ..nn.nnn import MLP
from ..utils._param_validation import Interval, SequenceOf
from ..utils._docstring import NETWORK_PARAMS, Substitution
from .base import DEFAULT_DEVICE, CrystalNetClassifier, CrystalNetMixin, CrystalNetRegressor

__all__ = ["NNNClassifier", "NNNRegressor"]

_NNN_DOC = """
    Given structures it applies :class:`~skcrystal.featurizers.FaithfulBinned`
    (with ``on_error="nan"``: a structure that does not fit the bins is
    predicted with the training median / most frequent class, with a
    warning, as in the paper); given a numeric matrix from a featurizer step
    it trains on it directly.  Defaults follow the paper's public code:
    MLP 3 × 1000 ReLU, Adam, lr 3e-4, L2 1e-3 (``optimizer__weight_decay``).

    Parameters
    ----------
    module : type, default=MLP
        Network (:class:`skcrystal.nn.nnn.MLP`); ``module__hidden``, ``module__dropout``, ``module__batch_norm``
        tune it (``n_features``/``n_outputs`` are set from the data).
    max_epochs : int, default=100
        Training epochs.
    lr : float, default=3e-4
        Learning rate.
    batch_size : int, default=256
        Rows per batch.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        The optimizer.
    optimizer__weight_decay : float, default=1e-3
        L2 penalty (the paper's 1e-3).
    %(featurizer)s
        Here the default featurizer is ``FaithfulBinned(on_error="nan")``.
    %(random_state)s
    %(early_stopping)s
    %(validation_fraction)s
    %(gradient_clipping)s
    %(device)s
    %(verbose)s
    **kwargs
        Any other skorch parameter (``callbacks``, ``train_split``, ``module__*`` …).
"""


class _NNNMixin:
    _citations = (NOP2025_FAITHFUL,)
    _invariances = ("rotation", "permutation", "integer_shift")  # those of FaithfulBinned
    _parameter_constraints = {
        **CrystalNetMixin._parameter_constraints,
        "module__hidden": [SequenceOf(Interval(Integral, 1, None, closed="left"), min_length=0)],
        "module__dropout": [Interval(Real, 0, 1, closed="left")],
        "module__batch_norm": ["boolean"],
    }

    def _default_featurizer(self):
        return FaithfulBinned(on_error="nan")


@Substitution(**NETWORK_PARAMS)
class NNNRegressor(_NNNMixin, CrystalNetRegressor):
    __doc__ = "MLP regressor on the faithful binned vector (the paper's NNN).\n" + _NNN_DOC

    def __init__(self, module=MLP, *, max_epochs=100, lr=3e-4, batch_size=256, optimizer=torch.optim.AdamW,
                 optimizer__weight_decay=1e-3, featurizer=None, random_state=None, early_stopping=False,
                 validation_fraction=0.1, gradient_clipping=None, device=DEFAULT_DEVICE, verbose=0, **kwargs):
        super().__init__(module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         optimizer__weight_decay=optimizer__weight_decay, featurizer=featurizer,
                         random_state=random_state, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, gradient_clipping=gradient_clipping,
                         device=device, verbose=verbose, **kwargs)


@Substitution(**NETWORK_PARAMS)
class NNNClassifier(_NNNMixin, CrystalNetClassifier):
    __doc__ = "MLP classifier on the faithful binned vector (the paper's NNN).\n" + _NNN_DOC

    def __init__(self, module=MLP, *, max_epochs=100, lr=3e-4, batch_size=256, optimizer=torch.optim.AdamW,
                 optimizer__weight_decay=1e-3, featurizer=None, random_state=None, early_stopping=False,
                 validation_fraction=0.1, gradient_clipping=None, device=DEFAULT_DEVICE, verbose=0, **kwargs):
        super().__init__(module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         optimizer__weight_decay=optimizer__weight_decay, featurizer=featurizer,
                         random_state=random_state, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, gradient_clipping=gradient_clipping,
                         device=device, verbose=verbose, **kwargs)
