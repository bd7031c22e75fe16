"""CANN estimators: skorch regressor/classifier around :class:`skcrystal.nn.cann.CANN`."""

from __future__ import annotations

from numbers import Integral, Real

import torch

from ..nn.data import GraphDataset, collate_graphs
from ..nn.cann import CANN
from ..utils._docstring import NETWORK_PARAMS, Substitution
from ..utils._param_validation import InvalidParameterError, Interval, StrOptions
from .base import DEFAULT_DEVICE, CrystalNetClassifier, CrystalNetMixin, CrystalNetRegressor
from .cgnn import _ATTRS_DOC, _PARAMS_DOC, GraphNetMixin, _graph_net_kwargs

__all__ = ["CANNRegressor", "CANNClassifier"]


class _SetNetMixin(GraphNetMixin):
    _uses_edges = False
    # attention over atoms with fractional-coordinate codes: not translation or supercell invariant
    _invariances = ("rotation", "permutation", "integer_shift")
    _parameter_constraints = {
        **CrystalNetMixin._parameter_constraints,
        "module__n_frequencies": [Interval(Integral, 1, None, closed="left")],
        "module__d_model": [Interval(Integral, 1, None, closed="left")],
        "module__n_heads": [Interval(Integral, 1, None, closed="left")],
        "module__n_blocks": [Interval(Integral, 0, None, closed="left")],
        "module__ff_hidden": [Interval(Integral, 1, None, closed="left")],
        "module__attention": [StrOptions({"full", "isab"})],
        "module__n_inducing": [Interval(Integral, 1, None, closed="left")],
        "module__pooling": [StrOptions({"pma", "mean"})],
        "module__dropout": [Interval(Real, 0, 1, closed="left")],
    }

    def _check_params(self):
        super()._check_params()
        params = self.get_params(deep=False)
        d, h = params.get("module__d_model", 64), params.get("module__n_heads", 4)
        if d % h:
            raise InvalidParameterError(
                f"{type(self).__name__}: module__d_model={d} must be a multiple of module__n_heads={h}"
            )

    def _default_featurizer(self):
        from ..featurizers.graph import CrystalGraph

        return CrystalGraph(max_neighbors=0)


_CANN_NOTE = """
    Each atom is one token ``position code ⊕ atom code ⊕ g`` (fractional
    coordinates, the faithful 24-dim atom code, the global vector of lattice
    and space-group codes); alternating self-attention and 3-layer
    feed-forward blocks with skip connections process the set, without an
    adjacency matrix (Nop et al. 2025).  ``module__attention="isab"`` gives
    the set-transformer variant (induced set attention, Lee et al. 2019) and
    ``module__pooling`` chooses attention pooling (PMA, default) or the mean.
    Predictions do not change when the atoms are permuted or the crystal is
    rotated; they *do* change when the atoms are translated within the cell
    (the position code uses fractional coordinates, as in the paper).  The
    model ignores graph edges, so its default featurizer is
    ``CrystalGraph(max_neighbors=0)``; any ``CrystalGraph`` step works.
"""


@Substitution(**NETWORK_PARAMS)
class CANNRegressor(_SetNetMixin, CrystalNetRegressor):
    __doc__ = (
        """Crystal attention neural network regressor (pure attention over the atom set).
"""
        + _CANN_NOTE
        + _PARAMS_DOC.format(
            module="skcrystal.nn.cann.CANN", example="n_blocks=4", featurizer="CrystalGraph(max_neighbors=0)",
            criterion="torch.nn.MSELoss", lr="0.0003", max_epochs="100", batch_size="64",
        )
        + _ATTRS_DOC
    )

    def __init__(
        self,
        module=CANN,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.AdamW,
        lr=3e-4,
        max_epochs=100,
        batch_size=64,
        dataset=GraphDataset,
        iterator_train__collate_fn=collate_graphs,
        iterator_valid__collate_fn=collate_graphs,
        iterator_train__shuffle=True,
        train_split=None,
        device=DEFAULT_DEVICE,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            featurizer=featurizer,
            random_state=random_state,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            gradient_clipping=gradient_clipping,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            dataset=dataset,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **_graph_net_kwargs(kwargs, iterator_train__collate_fn, iterator_valid__collate_fn, iterator_train__shuffle),
        )


@Substitution(**NETWORK_PARAMS)
class CANNClassifier(_SetNetMixin, CrystalNetClassifier):
    __doc__ = (
        """Crystal attention neural network classifier (space group, crystal system, metal/non-metal…).
"""
        + _CANN_NOTE
        + _PARAMS_DOC.format(
            module="skcrystal.nn.cann.CANN", example="n_blocks=4", featurizer="CrystalGraph(max_neighbors=0)",
            criterion="torch.nn.CrossEntropyLoss", lr="0.0003", max_epochs="100", batch_size="64",
        )
        + _ATTRS_DOC
        + """    classes_ : ndarray
        The class labels, in the order of ``predict_proba``'s columns.
"""
    )

    def __init__(
        self,
        module=CANN,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=3e-4,
        max_epochs=100,
        batch_size=64,
        dataset=GraphDataset,
        iterator_train__collate_fn=collate_graphs,
        iterator_valid__collate_fn=collate_graphs,
        iterator_train__shuffle=True,
        train_split=None,
        device=DEFAULT_DEVICE,
        verbose=0,
        **kwargs,
    ):
        super().__init__(
            module,
            featurizer=featurizer,
            random_state=random_state,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            gradient_clipping=gradient_clipping,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            dataset=dataset,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **_graph_net_kwargs(kwargs, iterator_train__collate_fn, iterator_valid__collate_fn, iterator_train__shuffle),
        )
