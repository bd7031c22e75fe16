"""NNN: the faithful paper's MLP on the binned structure vector, as skorch estimators."""

from __future__ import annotations

from numbers import Integral, Real

import torch

from ..featurizers.faithful import FAITHFUL_CITATION, FaithfulBinned
from ..nn.nnn import MLP
from ..utils._param_validation import Interval, SequenceOf
from .base import CrystalNetClassifier, CrystalNetMixin, CrystalNetRegressor

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
    lr : float, default=3e-4
    batch_size : int, default=256
    optimizer : torch optimizer class, default=torch.optim.AdamW
    optimizer__weight_decay : float, default=1e-3
    featurizer : transformer or None, default=None
        Used on structure input; ``None`` means ``FaithfulBinned(on_error="nan")``.
    random_state : int or None, default=None
        Seeds weights and shuffling: same seed ⇒ same predictions.
    early_stopping : bool or int, default=False
        Patience on a held-out ``validation_fraction``.
    validation_fraction : float, default=0.1
    gradient_clipping : float or None, default=None
    verbose : int, default=0
        1 prints skorch's per-epoch history table.
    **kwargs
        Any other skorch parameter (``device``, ``callbacks``, ``train_split`` …).
"""


class _NNNMixin:
    _citations = (FAITHFUL_CITATION,)
    _invariances = ("rotation", "permutation", "integer_shift")  # those of FaithfulBinned
    _parameter_constraints = {
        **CrystalNetMixin._parameter_constraints,
        "module__hidden": [SequenceOf(Interval(Integral, 1, None, closed="left"), min_length=0)],
        "module__dropout": [Interval(Real, 0, 1, closed="left")],
        "module__batch_norm": ["boolean"],
    }

    def _default_featurizer(self):
        return FaithfulBinned(on_error="nan")

    def citations(self):
        """References of the method.

        Returns
        -------
        list of str
        """
        return list(self._citations)


class NNNRegressor(_NNNMixin, CrystalNetRegressor):
    __doc__ = "MLP regressor on the faithful binned vector (the paper's NNN).\n" + _NNN_DOC

    def __init__(self, module=MLP, *, max_epochs=100, lr=3e-4, batch_size=256, optimizer=torch.optim.AdamW,
                 optimizer__weight_decay=1e-3, verbose=0, **kwargs):
        super().__init__(module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         optimizer__weight_decay=optimizer__weight_decay, verbose=verbose, **kwargs)


class NNNClassifier(_NNNMixin, CrystalNetClassifier):
    __doc__ = "MLP classifier on the faithful binned vector (the paper's NNN).\n" + _NNN_DOC

    def __init__(self, module=MLP, *, max_epochs=100, lr=3e-4, batch_size=256, optimizer=torch.optim.AdamW,
                 optimizer__weight_decay=1e-3, verbose=0, **kwargs):
        super().__init__(module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         optimizer__weight_decay=optimizer__weight_decay, verbose=verbose, **kwargs)
