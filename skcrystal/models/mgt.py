"""MGT estimators: skorch regressor/classifier around :class:`skcrystal.nn.mgt.MGT`, and router weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import NotFittedError
from skorch.utils import to_device

from ..featurizers.dualview import DualViewGraphData
from ..nn.data import GraphDataset, collate_dual_views
from ..nn.mgt import MGT, VIEWS
from ..utils.validation import row_labels
from .base import DEFAULT_DEVICE, CrystalNetClassifier, CrystalNetRegressor, _n_rows, _take
from .cgnn import GraphNetMixin, _graph_net_kwargs

__all__ = ["MGTClassifier", "MGTRegressor", "plot_router_weights"]

_CITATION = (
    "L. Zhang et al., Universal crystal material property prediction via multi-view geometric fusion in graph "
    "transformers, arXiv:2507.15303 (2025).",
)


class DualViewNetMixin(GraphNetMixin):
    """Plumbing of the networks that take :class:`~skcrystal.featurizers.dualview.DualViewGraphData`."""

    _graph_type = DualViewGraphData
    _graph_featurizer = "DualViewGraph"
    _citations = _CITATION

    def _default_featurizer(self):
        from ..featurizers.dualview import DualViewGraph

        return DualViewGraph()

    @staticmethod
    def _batch_n_graphs(inputs):
        return int(inputs["n_atoms"].shape[0])

    def _infer_module_dims(self, Xf, y_enc):
        ref = None
        for i, g in enumerate(Xf):
            width = g.atom_features.shape[1]
            if ref is None:
                ref = width
            elif width != ref:
                raise ValueError(
                    f"{type(self).__name__}: graph {i} has {width} atom features but graph 0 has {ref}; "
                    "build all graphs with the same DualViewGraph settings"
                )
        dims = {"n_atom_features": int(ref)}
        if y_enc is not None:
            dims["n_outputs"] = 1 if self._regression else int(len(self.classes_))
        return dims

    def citations(self):
        """References for the method.

        Returns
        -------
        list of str
        """
        return list(self._citations)


class _RouterMixin:
    """``router_weights``: each view's share of the prediction, per structure."""

    def router_weights(self, X):
        """The MoE router's weight of each view for each structure.

        Parameters
        ----------
        X : structures or dual-view graphs, like in ``fit``

        Returns
        -------
        DataFrame of shape (n_samples, 2)
            Columns ``"se3"`` (invariant view) and ``"so3"`` (equivariant
            view); each row is positive and sums to one.  The index is the
            input's (a DataFrame's or Series' index, else 0..n-1); rows that
            could not be featurized are NaN.
        """
        if not getattr(self, "initialized_", False) or not hasattr(self, "featurizer_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call 'fit' with training data first"
            )
        Xf = self._featurize(X, fit=False)
        bad = self._bad_rows(Xf)
        n = _n_rows(Xf)
        keep = np.flatnonzero(~bad)
        weights = np.full((n, len(VIEWS)), np.nan)
        if len(keep):
            ds = self.get_dataset(_take(Xf, keep) if bad.any() else Xf)
            self.module_.eval()
            parts = []
            with torch.no_grad():
                for batch in self.get_iterator(ds, training=False):
                    inputs = to_device(batch[0], self.device)
                    _, w = self.module_(**inputs, return_weights=True)
                    parts.append(w.detach().cpu().numpy())
            weights[keep] = np.concatenate(parts).astype(np.float64)
        index = row_labels(X) if not isinstance(X, np.ndarray) else list(range(_n_rows(X)))
        return pd.DataFrame(weights, index=pd.Index(index), columns=list(VIEWS))


_MGT_NOTE = """
    Two encoders read each crystal (Zhang et al. 2025): an SE(3)-invariant
    graph transformer over bond lengths and the bond-angle line graph
    (edge-wise and node-wise gated attention), and an SO(3)-equivariant e3nn
    message-passing network over the edge vectors with ``ns`` scalar and
    ``nv`` vector channels and an invariant read-out.  A mixture-of-experts
    router (one expert per view, an attention gate) mixes the two; its
    per-structure weights are available from :meth:`router_weights`.  The
    encoders can start from a self-supervised
    :class:`~skcrystal.models.MGTPretrainer` (``pretrained=``).  Predictions
    do not change under rotation, translation, permutation of the sites or
    a supercell (mean pooling, no cell-dependent inputs).  Defaults follow
    the reference (3 layers per encoder, width 256, ns 64, nv 8; lr 5e-4);
    on a CPU a narrower model (``module__width=64``) trains several times
    faster, see :doc:`/mgt`.
"""

_MGT_PARAMS = """
    Parameters
    ----------
    module : type of torch.nn.Module, default=skcrystal.nn.mgt.MGT
        The network; the atom-feature width and the outputs are inferred from
        the data.  Set its hyperparameters with ``module__<name>``
        (``module__width``, ``module__n_layers``, ``module__ns``,
        ``module__nv``, ``module__angle_width``, ``module__dropout``...).
    featurizer : transformer or None, default=None
        Applied to structure input; ``None`` means ``DualViewGraph()``.  In
        a Pipeline after a ``DualViewGraph`` step leave it as is.
    random_state : int, RandomState or None, default=None
        Seeds weights, dropout and shuffling (the global torch RNG is untouched).
    early_stopping : bool or int, default=False
        Patience (``True`` = 10 epochs) on a held-out ``validation_fraction``;
        the best epoch is restored.
    validation_fraction : float, default=0.1
    gradient_clipping : float or None, default=None
        Clip the gradient norm.
    criterion : torch loss class, default={criterion}
    optimizer : torch optimizer class, default=torch.optim.AdamW
    lr : float, default=0.0005
    max_epochs : int, default=100
    batch_size : int, default=32
    dataset : Dataset class, default=GraphDataset
    iterator_train__collate_fn, iterator_valid__collate_fn : callable, default=collate_dual_views
    iterator_train__shuffle : bool, default=True
    train_split : callable or None, default=None
    device : str, default="cuda" if available else "cpu"
    verbose : int, default=0
    **kwargs
        Any other skorch parameter.

    Attributes
    ----------
    module_ : MGT
        The trained network (``module_.backbone`` holds the two encoders).
    module_dims_ : dict
        Sizes inferred from the data.
    featurizer_ : transformer or None
        The fitted featurizer when trained on structures.
    history_ : skorch History
"""


class MGTRegressor(_RouterMixin, DualViewNetMixin, CrystalNetRegressor):
    __doc__ = (
        """Multi-view geometric transformer regressor (invariant + equivariant views, MoE router).
"""
        + _MGT_NOTE
        + _MGT_PARAMS.format(criterion="torch.nn.MSELoss")
        + """
    Examples
    --------
    >>> from skcrystal.datasets import load_mp_dielectric
    >>> from skcrystal.models import MGTRegressor
    >>> df = load_mp_dielectric()  # doctest: +SKIP
    >>> model = MGTRegressor(module__width=64, max_epochs=60).fit(df["structure"], df["n"])  # doctest: +SKIP
    >>> model.router_weights(df["structure"]).mean()  # doctest: +SKIP
"""
    )

    _invariances = ("rotation", "translation", "permutation", "integer_shift", "supercell")
    _parameter_constraints = {**CrystalNetRegressor._parameter_constraints}

    def __init__(
        self,
        module=MGT,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.AdamW,
        lr=5e-4,
        max_epochs=100,
        batch_size=32,
        dataset=GraphDataset,
        iterator_train__collate_fn=collate_dual_views,
        iterator_valid__collate_fn=collate_dual_views,
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


class MGTClassifier(_RouterMixin, DualViewNetMixin, CrystalNetClassifier):
    __doc__ = (
        """Multi-view geometric transformer classifier (one logit per class from the MoE router).
"""
        + _MGT_NOTE
        + _MGT_PARAMS.format(criterion="torch.nn.CrossEntropyLoss")
        + """    classes_ : ndarray
        The class labels, in the order of ``predict_proba``'s columns.
"""
    )

    _invariances = ("rotation", "translation", "permutation", "integer_shift", "supercell")
    _parameter_constraints = {**CrystalNetClassifier._parameter_constraints}

    def __init__(
        self,
        module=MGT,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=5e-4,
        max_epochs=100,
        batch_size=32,
        dataset=GraphDataset,
        iterator_train__collate_fn=collate_dual_views,
        iterator_valid__collate_fn=collate_dual_views,
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


def plot_router_weights(weights, ax=None, view="se3"):
    """Box plot of the router's weight of one view, per task.

    Parameters
    ----------
    weights : DataFrame or dict of str -> DataFrame
        :meth:`MGTRegressor.router_weights` output, or one such frame per
        task (the keys label the boxes).
    ax : matplotlib Axes or None, default=None
        Drawn into a new figure when ``None``.
    view : {"se3", "so3"}, default="se3"
        The view whose weight is shown (the other is one minus it).

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    if isinstance(weights, pd.DataFrame):
        weights = {"": weights}
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 + 1.2 * len(weights), 3.2))
    data = [np.asarray(w[view].dropna(), dtype=float) for w in weights.values()]
    ax.boxplot(data, showfliers=False)
    ax.set_xticks(range(1, len(data) + 1))
    ax.set_xticklabels(list(weights), rotation=30, ha="right")
    ax.axhline(0.5, color="0.6", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    ax.set_ylabel({"se3": "weight of the invariant (SE(3)) view", "so3": "weight of the equivariant (SO(3)) view"}[view])
    return ax
