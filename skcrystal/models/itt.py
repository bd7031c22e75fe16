"""ITT estimators: the Interaction Topological Transformer as skorch regressor, classifier and pretrainer.

:class:`ITTRegressor` / :class:`ITTClassifier` wrap :class:`skcrystal.nn.itt.ITT`;
:class:`ITTPretrainer` wraps :class:`skcrystal.nn.itt.ITTMaskedPretraining`
(ITT's self-supervised masked structure-token reconstruction).  All three take
structures (they apply :class:`~skcrystal.featurizers.ITTTokenizer`) or the
tokenizer's output, and expose :meth:`~_ITTMixin.attention`;
:func:`attention_by_type` and :func:`plot_attention` summarise it.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import NotFittedError
from skorch.utils import to_device

from ..featurizers.itt import ITT_CITATION, ITTTokens
from ..nn.data import ITTDataset, collate_itt
from ..nn.itt import ITT, ITTMaskedPretraining
from ..utils._param_validation import Interval
from .base import DEFAULT_DEVICE, CrystalNetClassifier, CrystalNetMixin, CrystalNetRegressor, _take
from .cgnn import GraphNetMixin
from .pretraining import CrystalNetPretrainer, FineTuneMixin

__all__ = ["ITTClassifier", "ITTPretrainer", "ITTRegressor", "attention_by_type", "plot_attention",
           "token_statistics"]


def token_statistics(tokens, transform="log1p"):
    """Per-feature mean and standard deviation of each token stream (pooled over its tokens).

    Parameters
    ----------
    tokens : sequence of ITTTokens
    transform : {"log1p", None}, default="log1p"
        Applied first (``sign(x) log(1 + |x|)``), as in the network.

    Returns
    -------
    dict
        ``{"structure": (mean, std), "cluster": ..., "interaction": ...}`` (float64 arrays).
    """
    out = {}
    for name, attr in (("structure", "structure"), ("cluster", "clusters"), ("interaction", "interactions")):
        total = total2 = None
        count = 0
        for t in tokens:
            x = np.asarray(getattr(t, attr), dtype=np.float64)
            if transform == "log1p":
                x = np.sign(x) * np.log1p(np.abs(x))
            x = x.reshape(-1, x.shape[-1])
            total = x.sum(0) if total is None else total + x.sum(0)
            total2 = (x * x).sum(0) if total2 is None else total2 + (x * x).sum(0)
            count += len(x)
        mean = total / count
        std = np.sqrt(np.maximum(total2 / count - mean**2, 0.0))
        out[name] = (mean, std)
    return out


class _ITTMixin(GraphNetMixin):
    """Plumbing shared by the ITT estimators: tokens in, sizes and token statistics from the data."""

    _citations = (ITT_CITATION,)
    _invariances = ("rotation", "permutation")

    def _default_featurizer(self):
        from ..featurizers.itt import ITTTokenizer

        return ITTTokenizer()

    def citations(self):
        """References of the method.

        Returns
        -------
        list of str
        """
        return list(self._citations)

    def _to_module_input(self, Xf):
        if isinstance(Xf, (pd.DataFrame, pd.Series)):
            Xf = Xf.to_numpy()
        if isinstance(Xf, np.ndarray):
            if Xf.ndim == 2 and Xf.shape[1] == 1:
                Xf = Xf[:, 0]
            if Xf.ndim != 1 or Xf.dtype != object:
                raise ValueError(
                    f"{type(self).__name__} takes ITT tokens (the output of skcrystal.featurizers.ITTTokenizer) "
                    f"or structures, got an array of shape {Xf.shape} and dtype {Xf.dtype}"
                )
        arr = np.empty(len(Xf), dtype=object)
        for i, t in enumerate(Xf):
            if t is not None and not isinstance(t, ITTTokens):
                raise ValueError(
                    f"{type(self).__name__}: row {i} is a {type(t).__name__}, not ITT tokens; put "
                    "skcrystal.featurizers.ITTTokenizer before the model or pass structures"
                )
            arr[i] = t
        return arr

    def _infer_module_dims(self, Xf, y_enc):
        first = Xf[0]

        def widths(t):
            return (t.graph.atom_features.shape[1], t.graph.n_edge_features, t.structure.shape, t.clusters.shape,
                    t.interactions.shape)

        ref = widths(first)
        for i, t in enumerate(Xf):
            if widths(t) != ref:
                raise ValueError(
                    f"{type(self).__name__}: row {i} has token/graph widths {widths(t)} but row 0 has {ref}; "
                    "build all tokens with the same ITTTokenizer settings"
                )
        dims = {
            "n_atom_features": int(ref[0]),
            "n_edge_features": int(ref[1]),
            "d_structure": int(first.structure.shape[1]),
            "d_cluster": int(first.clusters.shape[1]),
            "d_interaction": int(first.interactions.shape[1]),
            "n_clusters": int(first.clusters.shape[0]),
            "n_interactions": int(first.interactions.shape[0]),
        }
        if y_enc is not None:
            dims["n_outputs"] = self._n_outputs(y_enc)
        if self.standardize:
            transform = self.get_params_for("module").get("token_transform", "log1p")
            self.token_statistics_ = token_statistics(Xf, transform)
        else:
            self.token_statistics_ = None
        return dims

    def initialize_module(self):
        """Build the module and load the token standardisation learned from the training tokens."""
        super().initialize_module()
        stats = getattr(self, "token_statistics_", None)
        backbone = self.module_.backbone
        if stats is not None:
            with torch.no_grad():
                for name, (mean, std) in stats.items():
                    std = np.where(std > 1e-6, std, 1.0)
                    getattr(backbone, f"{name}_shift").copy_(torch.as_tensor(mean, dtype=torch.float32))
                    getattr(backbone, f"{name}_scale").copy_(torch.as_tensor(std, dtype=torch.float32))
        return self

    # ------------------------------------------------------------ attention
    def attention(self, X, average_heads=True):
        """Attention weights of every layer, with token labels, per structure.

        Parameters
        ----------
        X : structures or ITT tokens, like in ``fit``
        average_heads : bool, default=True
            Average over the heads (else keep one map per head).

        Returns
        -------
        list of dict
            One per row (``None`` for a row that could not be featurized):
            ``tokens`` -- labels of the query/key tokens (``"structure"``,
            ``"C0"``…``"C6"``, then one label per atom token: element and
            index of its first site, e.g. ``"Cu[3]"``); ``token_types`` --
            ``"structure"``, ``"cluster"`` or ``"atom"`` per token; ``interactions`` --
            labels of the cross-attention keys (``"C0->C1"``…); ``self`` --
            array (n_layers, [n_heads,] L, L), rows = queries; ``cross`` --
            array (n_layers, [n_heads,] L, n_interactions).
        """
        if not getattr(self, "initialized_", False) or not hasattr(self, "featurizer_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; call 'fit' first")
        Xf = self._featurize(X, fit=False)
        bad = self._bad_rows(Xf)
        keep = np.flatnonzero(~bad)
        out = [None] * len(Xf)
        if not len(keep):
            return out
        toks = _take(Xf, keep)
        ds = ITTDataset(toks)
        backbone = self.module_.backbone
        self.module_.eval()
        pos = 0
        with torch.no_grad():
            for batch in self.get_iterator(ds, training=False):
                inputs = to_device(batch[0], self.device)
                _, weights = backbone(return_attention=True, **inputs)
                for b in range(inputs["atom_mask"].shape[0]):
                    t = toks[pos]
                    L = 1 + t.clusters.shape[0] + t.n_groups
                    w_self = torch.stack([w[0][b] for w in weights])[:, :, :L, :L]
                    w_cross = torch.stack([w[1][b] for w in weights])[:, :, :L, :]
                    if average_heads:
                        w_self, w_cross = w_self.mean(1), w_cross.mean(1)
                    out[keep[pos]] = {
                        "tokens": ["structure", *t.cluster_names, *t.group_labels],
                        "token_types": ["structure"] + ["cluster"] * len(t.cluster_names) + ["atom"] * t.n_groups,
                        "interactions": list(t.pair_names),
                        "self": w_self.cpu().numpy(),
                        "cross": w_cross.cpu().numpy(),
                    }
                    pos += 1
        return out


def attention_by_type(attention, query="structure", layers=None):
    """How much attention each token type receives, per structure.

    Parameters
    ----------
    attention : list of dict
        The output of ``model.attention(X)``.
    query : {"structure", "all"}, default="structure"
        Whose attention: the structure token's (the one the prediction is
        read from) or the mean over all real tokens.
    layers : list of int or None, default=None
        Layers to average (default: all).

    Returns
    -------
    DataFrame
        One row per structure: ``structure``, ``clusters``, ``atoms`` -- the
        share of self-attention each type of key receives (they sum to 1);
        ``n_atom_tokens``; and one column per interaction token
        (``"C2->C4"``…) with its share of the cross-attention (summing to 1).
    """
    rows = []
    for att in attention:
        if att is None:
            rows.append({})
            continue
        w_self, w_cross = np.asarray(att["self"]), np.asarray(att["cross"])
        if w_self.ndim == 4:  # per head
            w_self, w_cross = w_self.mean(1), w_cross.mean(1)
        if layers is not None:
            w_self, w_cross = w_self[list(layers)], w_cross[list(layers)]
        q = slice(0, 1) if query == "structure" else slice(None)
        a = w_self[:, q, :].mean(axis=(0, 1))
        c = w_cross[:, q, :].mean(axis=(0, 1))
        kinds = np.asarray(att["token_types"])
        row = {
            "structure": float(a[kinds == "structure"].sum()),
            "clusters": float(a[kinds == "cluster"].sum()),
            "atoms": float(a[kinds == "atom"].sum()),
            "n_atom_tokens": int((kinds == "atom").sum()),
        }
        row.update({name: float(v) for name, v in zip(att["interactions"], c)})
        rows.append(row)
    return pd.DataFrame(rows)


def plot_attention(attention, query="structure", top=10, axes=None):
    """Plot the attention per token type (per structure and averaged) and the most attended interactions.

    Parameters
    ----------
    attention : list of dict
        The output of ``model.attention(X)``.
    query : {"structure", "all"}, default="structure"
        See :func:`attention_by_type`.
    top : int, default=10
        Interaction tokens shown in the second panel (largest mean share).
    axes : pair of matplotlib Axes, optional

    Returns
    -------
    axes : pair of matplotlib Axes
    """
    import matplotlib.pyplot as plt

    df = attention_by_type(attention, query=query).dropna(how="all")
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ax0, ax1 = axes
    types = ["structure", "clusters", "atoms"]
    mean = df[types].mean()
    ax0.bar(types, mean.to_numpy(), color="0.8", label="mean")
    rng = np.random.RandomState(0)
    for k, t in enumerate(types):
        ax0.scatter(k + rng.uniform(-0.2, 0.2, len(df)), df[t], s=10, alpha=0.7, color="C0",
                    label="structures" if k == 0 else None)
    ax0.set_ylabel("share of self-attention")
    ax0.set_title(f"self-attention received ({query} query)")
    ax0.legend(frameon=False)
    inter = df.drop(columns=types + ["n_atom_tokens"]).mean().sort_values(ascending=False).head(top)
    ax1.barh(inter.index[::-1], inter.to_numpy()[::-1], color="C1")
    ax1.axvline(1.0 / max(1, df.shape[1] - 4), color="k", lw=0.8, ls="--", label="uniform")
    ax1.set_xlabel("share of cross-attention")
    ax1.set_title("interaction tokens")
    ax1.legend(frameon=False, loc="lower right")
    return axes


_PARAMS = """
    Parameters
    ----------
    module : type of torch.nn.Module, default={module}
        Widths and depths through ``module__<name>``: ``hidden`` (256),
        ``n_layers`` (8), ``n_heads`` (8), ``ffn`` (1024), ``atom_fea_len``
        (128), ``n_conv`` (4), ``dropout`` (0.1), ``norm_first`` (False),
        ``token_transform`` ("log1p"); token and graph widths are set from
        the data.
    featurizer : transformer or None, default=None
        Applied to structure input; ``None`` means ``ITTTokenizer()`` (ITT's
        exact features: seconds per structure) -- use
        ``ITTTokenizer(mode="periodic")`` for frames of small cells.{pretrained}
    standardize : bool, default=True
        Learn the per-feature standardisation of the topological tokens
        from the training tokens (stored in the network's buffers).
    random_state : int, RandomState or None, default=None
        Seeds weights, dropout{masks} and shuffling.
    early_stopping : bool or int, default=False
        Patience (``True`` = 10) on a held-out ``validation_fraction``.
    validation_fraction : float, default=0.1
    gradient_clipping : float or None, default=1.0
    criterion : torch loss class, default={criterion}
    optimizer : torch optimizer class, default=torch.optim.AdamW
    lr : float, default=1e-4
    optimizer__weight_decay : float, default=0.01
    max_epochs : int, default={max_epochs}
    batch_size : int, default=32
    dataset : Dataset class, default=ITTDataset
    iterator_train__collate_fn, iterator_valid__collate_fn : callable, default=collate_itt
    iterator_train__shuffle : bool, default=True
    train_split : callable or None, default=None
    device : str, default="cuda" if available else "cpu"
    verbose : int, default=0
    **kwargs
        Any other skorch parameter.
"""

_PRETRAINED = """
    pretrained : None, ITTPretrainer, str or path-like, default=None
        Start from a pretrained backbone: a fitted :class:`ITTPretrainer`, a
        file written by its ``save_backbone``, or a record from
        :func:`~skcrystal.models.pretraining.load_backbone`.  The widths and
        the token standardisation come from the backbone; the head starts
        from scratch.  Given a fitted pretrainer and no ``featurizer``, its
        tokenizer settings are used.
    freeze_backbone_epochs : int, default=0
        Train only the head for this many epochs first."""

_ATTRS = """
    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network.
    module_dims_ : dict
        Token and graph widths inferred from the data.
    token_statistics_ : dict or None
        Mean and standard deviation of each token stream (after the log
        transform) on the training tokens.
    featurizer_ : transformer or None
        The fitted tokenizer when trained on structures.
    history_ : skorch History
"""


def _itt_kwargs(kwargs, collate_train, collate_valid, shuffle):
    kwargs["iterator_train__collate_fn"] = collate_train
    kwargs["iterator_valid__collate_fn"] = collate_valid
    kwargs["iterator_train__shuffle"] = shuffle
    return kwargs


class _ITTSupervised(FineTuneMixin, _ITTMixin):
    _parameter_constraints = {
        **CrystalNetMixin._parameter_constraints,
        **FineTuneMixin._parameter_constraints,
        "standardize": ["boolean"],
    }


class ITTRegressor(_ITTSupervised, CrystalNetRegressor):
    __doc__ = (
        """Interaction Topological Transformer regressor (Chen, Wei et al. 2025).

    Topological tokens (structure, element clusters, cluster-pair
    interactions) from persistent (interaction) homology and atom tokens from
    a CGCNN-style convolution without pooling, fused by a transformer whose
    layers self-attend over [structure, clusters, atoms] and cross-attend to
    the interaction tokens; the prediction is read from the structure token
    (see :doc:`/itt`).  Defaults follow the reference code: hidden 256, 8
    layers, 8 heads, FFN 1024, GELU, dropout 0.1, AdamW lr 1e-4, weight decay
    0.01, batch 32, MSE on standardised targets.  ``attention(X)`` returns
    the attention maps with token labels.
"""
        + _PARAMS.format(module="skcrystal.nn.itt.ITT", pretrained=_PRETRAINED, masks="",
                         criterion="torch.nn.MSELoss", max_epochs="100")
        + _ATTRS
        + """
    Examples
    --------
    >>> from skcrystal.featurizers import ITTTokenizer
    >>> from skcrystal.models import ITTPretrainer, ITTRegressor
    >>> tok = ITTTokenizer(mode="periodic")
    >>> pre = ITTPretrainer(featurizer=tok, max_epochs=20).fit(all_structures)  # doctest: +SKIP
    >>> model = ITTRegressor(pretrained=pre, max_epochs=50).fit(X_train, y_train)  # doctest: +SKIP
"""
    )

    def __init__(
        self,
        module=ITT,
        *,
        featurizer=None,
        pretrained=None,
        freeze_backbone_epochs=0,
        standardize=True,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=1.0,
        criterion=torch.nn.MSELoss,
        optimizer=torch.optim.AdamW,
        lr=1e-4,
        optimizer__weight_decay=0.01,
        max_epochs=100,
        batch_size=32,
        dataset=ITTDataset,
        iterator_train__collate_fn=collate_itt,
        iterator_valid__collate_fn=collate_itt,
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
            optimizer__weight_decay=optimizer__weight_decay,
            max_epochs=max_epochs,
            batch_size=batch_size,
            dataset=dataset,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **_itt_kwargs(kwargs, iterator_train__collate_fn, iterator_valid__collate_fn, iterator_train__shuffle),
        )
        self.pretrained = pretrained
        self.freeze_backbone_epochs = freeze_backbone_epochs
        self.standardize = standardize


class ITTClassifier(_ITTSupervised, CrystalNetClassifier):
    __doc__ = (
        """Interaction Topological Transformer classifier (Chen, Wei et al. 2025).

    The network of :class:`ITTRegressor` with one logit per class and a
    cross-entropy loss; any hashable labels (``classes_`` holds them).
"""
        + _PARAMS.format(module="skcrystal.nn.itt.ITT", pretrained=_PRETRAINED, masks="",
                         criterion="torch.nn.CrossEntropyLoss", max_epochs="100")
        + _ATTRS
        + """    classes_ : ndarray
        The class labels, in the order of ``predict_proba``'s columns.
"""
    )

    def __init__(
        self,
        module=ITT,
        *,
        featurizer=None,
        pretrained=None,
        freeze_backbone_epochs=0,
        standardize=True,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=1.0,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=1e-4,
        optimizer__weight_decay=0.01,
        max_epochs=100,
        batch_size=32,
        dataset=ITTDataset,
        iterator_train__collate_fn=collate_itt,
        iterator_valid__collate_fn=collate_itt,
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
            optimizer__weight_decay=optimizer__weight_decay,
            max_epochs=max_epochs,
            batch_size=batch_size,
            dataset=dataset,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **_itt_kwargs(kwargs, iterator_train__collate_fn, iterator_valid__collate_fn, iterator_train__shuffle),
        )
        self.pretrained = pretrained
        self.freeze_backbone_epochs = freeze_backbone_epochs
        self.standardize = standardize


class ITTPretrainer(_ITTMixin, CrystalNetPretrainer):
    __doc__ = (
        """ITT's self-supervised pretraining: reconstruct masked entries of the structure token.

    ``fit(X)`` needs no targets.  Each entry of the standardised structure
    token (1 x 750 Betti counts) is masked -- set to 0 -- independently with
    probability ``mask_ratio``; a linear head on the final structure-token
    state reconstructs the token from the other streams (the clusters, the
    atoms, the interactions and the unmasked entries); the loss is the MSE
    over the masked entries only (fresh masks every batch).  Then
    ``ITTRegressor(pretrained=pretrainer)`` (or ``save_backbone(path)`` and
    ``pretrained=path``) fine-tunes from the backbone; ``transform(X)`` gives
    the structure-token embedding (``hidden`` columns).
"""
        + _PARAMS.format(module="skcrystal.nn.itt.ITTMaskedPretraining", pretrained="", masks=", masks",
                         criterion="torch.nn.MSELoss (unused: the masked MSE is built in)", max_epochs="50")
        .replace("    standardize : bool", """    mask_ratio : float, default=0.15
        Probability that an entry of the structure token is masked (the
        reference's README example uses 0.5).
    standardize : bool""")
        + _ATTRS
        + """    backbone_kwargs_ : dict
        The keyword arguments of the backbone (saved with it).
"""
    )

    _parameter_constraints = {
        **CrystalNetMixin._parameter_constraints,
        "standardize": ["boolean"],
        "mask_ratio": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(
        self,
        module=ITTMaskedPretraining,
        *,
        mask_ratio=0.15,
        featurizer=None,
        standardize=True,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=1.0,
        optimizer=torch.optim.AdamW,
        lr=1e-4,
        optimizer__weight_decay=0.01,
        max_epochs=50,
        batch_size=32,
        dataset=ITTDataset,
        iterator_train__collate_fn=collate_itt,
        iterator_valid__collate_fn=collate_itt,
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
            optimizer__weight_decay=optimizer__weight_decay,
            max_epochs=max_epochs,
            batch_size=batch_size,
            dataset=dataset,
            train_split=train_split,
            device=device,
            verbose=verbose,
            **_itt_kwargs(kwargs, iterator_train__collate_fn, iterator_valid__collate_fn, iterator_train__shuffle),
        )
        self.mask_ratio = mask_ratio
        self.standardize = standardize

    def initialize_module(self):
        """Build the module with the chosen ``mask_ratio``."""
        super().initialize_module()
        self.module_.mask_ratio = float(self.mask_ratio)
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        """MSE over the masked entries of the standardised structure token only."""
        recon, target, mask = y_pred
        if not bool(mask.any()):
            return recon.sum() * 0.0
        return ((recon - target) ** 2)[mask].mean()
