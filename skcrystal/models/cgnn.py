"""CGNN estimators: skorch regressor/classifier around :class:`skcrystal.nn.cgnn.CGNN`."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch

from ..featurizers.graph import CrystalGraphData
from ..nn.data import GraphDataset, collate_graphs
from ..nn.cgnn import CGNN
from ..utils._docstring import NETWORK_PARAMS, Substitution
from ..utils._param_validation import Interval, StrOptions
from .base import DEFAULT_DEVICE, CrystalNetClassifier, CrystalNetMixin, CrystalNetRegressor, _is_store

__all__ = ["CGNNRegressor", "CGNNClassifier", "GraphNetMixin"]


class GraphNetMixin:
    """Plumbing shared by the graph/set models: graphs in, sizes inferred from the first graph.

    Subclasses taking another per-structure object set ``_input_type`` (the
    class of the rows) and ``_input_name`` / ``_featurizer_name`` (for error
    messages).
    """

    _uses_edges = True
    _input_dim_keys = ("n_atom_features", "n_edge_features", "n_global_features")
    _input_type = CrystalGraphData
    _input_name = "crystal graph"
    _featurizer_name = "skcrystal.featurizers.CrystalGraph"

    def _default_featurizer(self):
        from ..featurizers.graph import CrystalGraph

        return CrystalGraph()

    def _to_module_input(self, Xf):
        if _is_store(Xf):
            # a feature store of graphs (skcrystal.streaming) is read item by item, never loaded whole
            if Xf.kind != "object":
                raise ValueError(f"{type(self).__name__} takes a store of crystal graphs, got a numeric store")
            return Xf
        if isinstance(Xf, pd.DataFrame):
            Xf = Xf.to_numpy()
        elif isinstance(Xf, pd.Series):
            Xf = Xf.to_numpy()
        if isinstance(Xf, np.ndarray):
            if Xf.ndim == 2 and Xf.shape[1] == 1:
                Xf = Xf[:, 0]
            if Xf.ndim != 1 or Xf.dtype != object:
                raise ValueError(
                    f"{type(self).__name__} takes {self._input_name}s (the output of "
                    f"{self._featurizer_name}) or structures, got an array of shape "
                    f"{Xf.shape} and dtype {Xf.dtype}"
                )
        arr = np.empty(len(Xf), dtype=object)
        for i, g in enumerate(Xf):
            if g is not None and not isinstance(g, self._input_type):
                raise ValueError(
                    f"{type(self).__name__}: row {i} is a {type(g).__name__}, not a {self._input_name}; "
                    f"put {self._featurizer_name} before the model or pass structures"
                )
            arr[i] = g
        return arr

    @staticmethod
    def _bad_rows(Xf):
        if _is_store(Xf):
            return np.asarray(Xf.failed, dtype=bool)
        return np.array([g is None for g in Xf], dtype=bool)

    def _infer_module_dims(self, Xf, y_enc):
        first = Xf[0]
        ref = (first.atom_features.shape[1], first.n_edge_features, len(first.global_features))
        # a store was written by one featurizer: its first graph stands for all (reading all would load it)
        for i, g in enumerate([first] if _is_store(Xf) else Xf):
            got = (g.atom_features.shape[1], g.n_edge_features, len(g.global_features))
            if got != ref:
                raise ValueError(
                    f"{type(self).__name__}: graph {i} has (atom, edge, global) feature widths {got} "
                    f"but graph 0 has {ref}; build all graphs with the same CrystalGraph settings"
                )
        dims = {"n_atom_features": int(ref[0]), "n_global_features": int(ref[2])}
        if self._uses_edges:
            dims["n_edge_features"] = int(ref[1])
        dims["n_outputs"] = self._n_outputs(y_enc)
        return dims


_PARAMS_DOC = """
    Parameters
    ----------
    module : type of torch.nn.Module, default={module}
        The network; its sizes (atom/edge/global widths, outputs) are inferred
        from the data.  Set its hyperparameters with ``module__<name>``
        (e.g. ``module__{example}``).
    %(featurizer)s
        Here the default featurizer is ``{featurizer}``.
    %(random_state)s
    %(early_stopping)s
    %(validation_fraction)s
    %(gradient_clipping)s
    criterion : torch loss class, default={criterion}
        The training loss.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        The optimizer.
    lr : float, default={lr}
        Learning rate.
    max_epochs : int, default={max_epochs}
        Training epochs.
    batch_size : int, default={batch_size}
        Structures per batch (``-1``: all).
    dataset : Dataset class, default=GraphDataset
        skorch builds ``dataset(X, y)`` from the graphs.
    iterator_train__collate_fn, iterator_valid__collate_fn : callable, default=collate_graphs
        Batch graphs into flat tensors (no padding).
    iterator_train__shuffle : bool, default=True
        Shuffle the training structures every epoch.
    train_split : callable or None, default=None
        No internal validation split unless ``early_stopping``.
    %(device)s
    %(verbose)s
    **kwargs
        Any other skorch parameter (``module__*``, ``optimizer__weight_decay``,
        ``callbacks``…).
"""

_ATTRS_DOC = """
    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    module_dims_ : dict
        Sizes inferred from the data and passed to the module.
    featurizer_ : transformer or None
        The fitted featurizer when trained on structures.
    history_ : skorch History
        Per-epoch losses.
"""


def _graph_net_kwargs(kwargs, collate_train, collate_valid, shuffle):
    kwargs["iterator_train__collate_fn"] = collate_train
    kwargs["iterator_valid__collate_fn"] = collate_valid
    kwargs["iterator_train__shuffle"] = shuffle
    return kwargs


_CGNN_CONSTRAINTS = {
    **CrystalNetMixin._parameter_constraints,
    "module__atom_fea_len": [Interval(Integral, 1, None, closed="left")],
    "module__n_conv": [Interval(Integral, 0, None, closed="left")],
    "module__h_fea_len": [Interval(Integral, 1, None, closed="left")],
    "module__n_h": [Interval(Integral, 1, None, closed="left")],
    "module__global_fea_len": [Interval(Integral, 1, None, closed="left")],
    "module__pooling": [StrOptions({"mean", "sum"})],
    "module__dense_skip": ["boolean"],
    "module__norm": [StrOptions({"batch", "layer"}), None],
    "module__dropout": [Interval(Real, 0, 1, closed="left")],
    "module__conv": [StrOptions({"cgcnn", "edge_gated"})],
}
# mean pooling over atoms and a global vector of the reduced cell: the same prediction for a supercell
_CGNN_INVARIANCES = ("rotation", "translation", "permutation", "integer_shift", "supercell")


@Substitution(**NETWORK_PARAMS)
class CGNNRegressor(GraphNetMixin, CrystalNetRegressor):
    __doc__ = (
        """Crystal graph neural network regressor (CGCNN convolutions + faithful refinements).

    Gated graph convolutions over periodic radius graphs (Xie & Grossman
    2018) with the faithful CGNN's deep skip connections and global vector
    ``g`` (lattice and space-group codes) in the readout (Nop et al. 2025).
    Defaults follow CGCNN: 8 Å / 12 neighbours / Gaussian 0–8 Å step 0.2,
    atom_fea_len 64, 3 convolutions, h_fea_len 128, mean pooling (an
    intensive target is predicted the same for a supercell).  Targets are
    standardised internally.
"""
        + _PARAMS_DOC.format(
            module="skcrystal.nn.cgnn.CGNN", example="n_conv=4", featurizer="CrystalGraph()",
            criterion="torch.nn.MSELoss", lr="0.001", max_epochs="100", batch_size="64",
        )
        + _ATTRS_DOC
        + """
    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skcrystal.featurizers import CrystalGraph
    >>> from skcrystal.models import CGNNRegressor
    >>> model = make_pipeline(CrystalGraph(cutoff=8.0), CGNNRegressor(max_epochs=50))  # doctest: +SKIP
    >>> model.fit(df["structure"], df["heat_ref"])  # doctest: +SKIP
"""
    )

    _parameter_constraints = _CGNN_CONSTRAINTS
    _invariances = _CGNN_INVARIANCES

    def __init__(
        self,
        module=CGNN,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
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
class CGNNClassifier(GraphNetMixin, CrystalNetClassifier):
    __doc__ = (
        """Crystal graph neural network classifier (space group, crystal system, metal/non-metal…).

    The network of :class:`CGNNRegressor` with a logit per class and a
    cross-entropy loss; any hashable labels (``classes_`` holds them).
"""
        + _PARAMS_DOC.format(
            module="skcrystal.nn.cgnn.CGNN", example="n_conv=4", featurizer="CrystalGraph()",
            criterion="torch.nn.CrossEntropyLoss", lr="0.001", max_epochs="100", batch_size="64",
        )
        + _ATTRS_DOC
        + """    classes_ : ndarray
        The class labels, in the order of ``predict_proba``'s columns.
"""
    )

    _parameter_constraints = _CGNN_CONSTRAINTS
    _invariances = _CGNN_INVARIANCES

    def __init__(
        self,
        module=CGNN,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=1e-3,
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
