"""MGT estimators: skorch regressor/classifier around :class:`skcrystal.nn.mgt.MGT`, and router weights."""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import NotFittedError
from skorch.callbacks import Callback
from skorch.utils import to_device

from ..featurizers.dualview import DualViewGraphData
from ..nn.data import GraphDataset, collate_dual_views
from ..nn.mgt import MGT, VIEWS, MGTPretrainNet
from ..utils._param_validation import Interval
from ..utils.validation import row_labels
from .base import DEFAULT_DEVICE, CrystalNetClassifier, CrystalNetRegressor, _n_rows, _take
from .cgnn import GraphNetMixin, _graph_net_kwargs
from .pretraining import CrystalNetPretrainer, FineTuneMixin

__all__ = ["MGTClassifier", "MGTPretrainer", "MGTRegressor", "plot_router_weights"]

_CITATION = (
    "L. Zhang, K. Chen and Y. Wu, Universal crystal material property prediction via multi-view geometric fusion "
    "in graph transformers, arXiv:2507.15303 (2025).",
    "K. Yan, C. Fu, X. Qian, X. Qian and S. Ji, Complete and efficient graph transformers for crystal material "
    "property prediction, ICLR (2024), arXiv:2403.11857.",
    "K. Choudhary and B. DeCost, Atomistic line graph neural network for improved materials property "
    "predictions, npj Comput. Mater. 7, 185 (2021).",
    "M. Geiger and T. Smidt, e3nn: Euclidean neural networks, arXiv:2207.09453 (2022).",
    "T. Chen, S. Kornblith, M. Norouzi and G. Hinton, A simple framework for contrastive learning of visual "
    "representations, ICML (2020).",
)


class DualViewNetMixin(GraphNetMixin):
    """Plumbing of the networks that take :class:`~skcrystal.featurizers.dualview.DualViewGraphData`."""

    _input_type = DualViewGraphData
    _input_name = "dual-view graph"
    _featurizer_name = "skcrystal.featurizers.DualViewGraph"
    _input_dim_keys = ("n_atom_features",)
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
            dims["n_outputs"] = self._n_outputs(y_enc)
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
    pretrained : None, MGTPretrainer, str or dict, default=None
        Start the two encoders from a fitted :class:`MGTPretrainer`, a file
        written by its ``save_backbone`` or a loaded record; the widths of the
        backbone are taken from it and the router starts from scratch.
    freeze_backbone_epochs : int, default=0
        Train only the router for this many epochs first.
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


class MGTRegressor(FineTuneMixin, _RouterMixin, DualViewNetMixin, CrystalNetRegressor):
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
    _parameter_constraints = {**CrystalNetRegressor._parameter_constraints, **FineTuneMixin._parameter_constraints}

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
        pretrained=None,
        freeze_backbone_epochs=0,
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
        self.pretrained = pretrained
        self.freeze_backbone_epochs = freeze_backbone_epochs


class MGTClassifier(FineTuneMixin, _RouterMixin, DualViewNetMixin, CrystalNetClassifier):
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
    _parameter_constraints = {**CrystalNetClassifier._parameter_constraints, **FineTuneMixin._parameter_constraints}

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
        pretrained=None,
        freeze_backbone_epochs=0,
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
        self.pretrained = pretrained
        self.freeze_backbone_epochs = freeze_backbone_epochs


class _LossTerms(Callback):
    """Record the mean of each pretraining loss term per epoch (``train_<term>``, ``valid_<term>``)."""

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        for prefix in ("train", "valid"):
            sizes = [b.get(f"{prefix}_batch_size", 0) for b in row["batches"]]
            for term in MGTPretrainer.TERMS:
                vals = [b[f"{prefix}_{term}"] for b in row["batches"] if f"{prefix}_{term}" in b]
                if vals:
                    w = np.asarray(sizes[: len(vals)], dtype=float)
                    net.history.record(f"{prefix}_{term}", float(np.average(vals, weights=w if w.sum() else None)))


class MGTPretrainer(DualViewNetMixin, CrystalNetPretrainer):
    """Self-supervised pretraining of MGT's two encoders: ``fit(X)`` needs no targets.

    Three tasks train the shared backbone (:class:`skcrystal.nn.mgt.MGTPretrainNet`):
    recover the Gaussian noise added to the bond angles of the invariant view,
    recover the noise added to the edge vectors of the equivariant view (from
    random atomic displacements, with an equivariant head), and NT-Xent
    contrastive learning that pulls the two views' embeddings of the same
    structure together and pushes those of other structures apart.  The loss
    is ``contrastive_weight * L_con + angle_weight * L_angle + vector_weight *
    L_vector`` (the reference's weights 1 / 0.5 / 0.5); each term per epoch is
    in ``history_`` (``train_contrastive``, ``train_angle``,
    ``train_vector``).

    Fine-tune with ``MGTRegressor(pretrained=pretrainer)`` or save the
    backbone (:meth:`save_backbone`) and pass the path.  ``transform(X)``
    returns the clean embedding of each structure (both views side by side),
    so a fitted pretrainer is also a featurizer for any scikit-learn model.

    Parameters
    ----------
    module : type of torch.nn.Module, default=skcrystal.nn.mgt.MGTPretrainNet
        Set the backbone's sizes with ``module__width``, ``module__n_layers``...
        and the noise with ``module__angle_noise`` (rad, 0.15),
        ``module__vector_noise`` (Å, 0.1) and ``module__temperature`` (0.1).
    featurizer : transformer or None, default=None
        ``None`` means ``DualViewGraph()``.
    contrastive_weight, angle_weight, vector_weight : float, default=1.0, 0.5, 0.5
        Weights of the three loss terms.
    random_state : int, RandomState or None, default=None
        Seeds weights, noise and shuffling.
    early_stopping : bool or int, default=False
        Patience on a held-out ``validation_fraction`` of the structures.
    validation_fraction : float, default=0.1
    gradient_clipping : float or None, default=None
    optimizer : torch optimizer class, default=torch.optim.AdamW
    lr : float, default=0.0005
    max_epochs : int, default=50
    batch_size : int, default=32
        Also the number of negatives (2 × batch − 2) of the contrastive task.
    dataset, iterator_train__collate_fn, iterator_valid__collate_fn, iterator_train__shuffle
        As in :class:`MGTRegressor`.
    train_split : callable or None, default=None
    device : str, default="cuda" if available else "cpu"
    verbose : int, default=0
    **kwargs
        Any other skorch parameter.

    Attributes
    ----------
    module_ : MGTPretrainNet
    backbone_kwargs_ : dict
        The keyword arguments of the backbone (saved with it).
    featurizer_ : transformer or None
    history_ : skorch History
        ``train_loss`` and the three terms per epoch.

    Examples
    --------
    >>> from skcrystal.models import MGTPretrainer, MGTRegressor
    >>> pre = MGTPretrainer(module__width=64, max_epochs=20).fit(all_structures)  # doctest: +SKIP
    >>> model = MGTRegressor(pretrained=pre, max_epochs=60).fit(X_train, y_train)  # doctest: +SKIP
    """

    TERMS = ("contrastive", "angle", "vector")
    _invariances = ("rotation", "translation", "permutation", "integer_shift", "supercell")
    _parameter_constraints = {
        **CrystalNetPretrainer._parameter_constraints,
        "contrastive_weight": [Interval(Real, 0, None, closed="left")],
        "angle_weight": [Interval(Real, 0, None, closed="left")],
        "vector_weight": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        module=MGTPretrainNet,
        *,
        featurizer=None,
        contrastive_weight=1.0,
        angle_weight=0.5,
        vector_weight=0.5,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        optimizer=torch.optim.AdamW,
        lr=5e-4,
        max_epochs=50,
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
        self.contrastive_weight = contrastive_weight
        self.angle_weight = angle_weight
        self.vector_weight = vector_weight

    def get_default_callbacks(self):
        """The base callbacks plus one that records each loss term per epoch."""
        return list(super().get_default_callbacks()) + [("loss_terms", _LossTerms())]

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """Weighted sum of the module's loss terms (``y_true`` is ignored); records each term."""
        weights = {"contrastive": self.contrastive_weight, "angle": self.angle_weight, "vector": self.vector_weight}
        prefix = "train" if training else "valid"
        total = 0.0
        for term in self.TERMS:
            value = y_pred[term]
            if len(self.history):
                self.history.record_batch(f"{prefix}_{term}", float(value.detach()))
            total = total + float(weights[term]) * value
        return total


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
