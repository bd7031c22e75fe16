"""Crystalformer estimators: skorch regressor/classifier around :class:`skcrystal.nn.crystalformer.Crystalformer`."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch

from ..featurizers.crystalformer import CrystalformerInput
from ..nn.crystalformer import Crystalformer
from ..nn.data import CrystalformerDataset, collate_crystalformer
from ..utils._param_validation import Interval, InvalidParameterError
from .base import DEFAULT_DEVICE, CrystalNetClassifier, CrystalNetMixin, CrystalNetRegressor
from .callbacks import InverseSqrtLR, StochasticWeightAveraging
from .cgnn import GraphNetMixin, _graph_net_kwargs

__all__ = ["CrystalformerClassifier", "CrystalformerRegressor", "plot_attention"]

_CITATION = (
    "T. Taniai, R. Igarashi, Y. Suzuki, N. Chiba, K. Saito, Y. Ushiku and K. Ono, Crystalformer: "
    "infinitely connected attention for periodic structure encoding, ICLR 2024, arXiv:2403.11686.",
    "X. S. Huang, F. Perez, J. Ba and M. Volkovs, Improving transformer optimization through better "
    "initialization (T-Fixup), ICML 2020.",
    "P. Izmailov, D. Podoprikhin, T. Garipov, D. Vetrov and A. G. Wilson, Averaging weights leads to "
    "wider optima and better generalization, UAI 2018.",
)


class CrystalformerMixin(GraphNetMixin):
    """Plumbing of the Crystalformer estimators: :class:`CrystalformerInput` rows in, the recipe's callbacks."""

    _input_type = CrystalformerInput
    _input_name = "Crystalformer input"
    _featurizer_name = "skcrystal.featurizers.CrystalformerFeaturizer"
    _citations = _CITATION
    #: Predictions do not change under these operations (checked by the invariance suite).
    _invariances = ("rotation", "translation", "permutation", "integer_shift", "supercell")
    _parameter_constraints = {
        **CrystalNetMixin._parameter_constraints,
        "lr_decay_steps": [Interval(Real, 0, None, closed="neither"), None],
        "swa_epochs": [Interval(Integral, 0, None, closed="left"), Interval("real_not_int", 0, 1, closed="right"),
                       None],
        "optimizer__betas": [tuple],
        "module__d_model": [Interval(Integral, 1, None, closed="left")],
        "module__n_layers": [Interval(Integral, 0, None, closed="left")],
        "module__n_heads": [Interval(Integral, 1, None, closed="left")],
        "module__ffn_dim": [Interval(Integral, 1, None, closed="left")],
        "module__r0": [Interval(Real, 0, None, closed="neither")],
        "module__b": [Interval(Real, 0, 1, closed="neither")],
        "module__n_value_gaussians": [Interval(Integral, 0, None, closed="left")],
        "module__value_distance_max": [Interval(Real, 0, None, closed="neither")],
        "module__head_hidden": [Interval(Integral, 1, None, closed="left"), None],
        "module__normalize_sigma": ["boolean"],
        "module__t_fixup": ["boolean"],
        "module__max_chunks": [Interval(Integral, 1, None, closed="left")],
    }

    def _check_params(self):
        super()._check_params()
        params = self.get_params(deep=False)
        d, h = params.get("module__d_model", 128), params.get("module__n_heads", 8)
        if d % h:
            raise InvalidParameterError(
                f"{type(self).__name__}: module__d_model={d} must be a multiple of module__n_heads={h}"
            )

    def _default_featurizer(self):
        from ..featurizers.crystalformer import CrystalformerFeaturizer

        return CrystalformerFeaturizer()

    def _infer_module_dims(self, Xf, y_enc):
        return {"n_outputs": 1 if self._regression else int(len(self.classes_))}

    def citations(self):
        """References for the model and its training recipe.

        Returns
        -------
        list of str
        """
        return list(self._citations)

    def get_default_callbacks(self):
        """The base callbacks plus the inverse-sqrt schedule and weight averaging of the recipe."""
        callbacks = list(super().get_default_callbacks())
        steps = getattr(self, "lr_decay_steps", None)
        if isinstance(steps, Real) and steps > 0:
            callbacks.append(("lr_schedule", InverseSqrtLR(decay_steps=steps)))
        swa = getattr(self, "swa_epochs", None)
        if isinstance(swa, Real) and not isinstance(swa, bool) and swa > 0:
            callbacks.append(("swa", StochasticWeightAveraging(n_epochs=swa)))
        return callbacks

    # ------------------------------------------------------------------ attention export
    def attention(self, X, batch_size=None):
        """Attention of every atom over the others (summed over images) and the widths σ, per structure.

        Parameters
        ----------
        X : structures (or Crystalformer inputs), like in ``predict``
        batch_size : int or None, default=None
            Structures per forward pass (``None``: the model's ``batch_size``).

        Returns
        -------
        list of dict, one per structure, with
            ``"attention"``: ndarray ``(n_layers, n_heads, n_atoms, n_atoms)``,
            row ``i`` the attention of atom ``i`` over atoms ``j`` summed over
            all their images (rows sum to 1);
            ``"sigma"``: ndarray ``(n_layers, n_atoms, n_heads)``, the
            Gaussian width (Å) of each head for each query atom;
            ``"atomic_numbers"``: ndarray ``(n_atoms,)``.
        """
        if not getattr(self, "initialized_", False) or not hasattr(self, "featurizer_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; call 'fit' first")
        Xf = self._featurize(X, fit=False)
        bs = int(batch_size or (self.batch_size if self.batch_size and self.batch_size > 0 else 64))
        module = self.module_
        was_training = module.training
        module.eval()
        results = []
        try:
            for start in range(0, len(Xf), bs):
                items = list(Xf[start:start + bs])
                if any(x is None for x in items):
                    raise ValueError("attention() needs every structure featurized (got a NaN row)")
                batch = collate_crystalformer(items)
                batch = {k: v.to(self.device) for k, v in batch.items()}
                with torch.no_grad():
                    _, maps = module.encode(**batch, return_attention=True)
                row = 0
                for x in items:
                    n = x.n_atoms
                    att = np.stack([a[row:row + n, :, :n].permute(1, 0, 2).cpu().numpy() for a, _ in maps])
                    sig = np.stack([s[row:row + n].cpu().numpy() for _, s in maps])
                    results.append({"attention": att, "sigma": sig, "atomic_numbers": x.atomic_numbers.copy()})
                    row += n
        finally:
            module.train(was_training)
        return results


_DOC = """
    The Crystalformer (Taniai et al., ICLR 2024) is a Transformer over the
    atoms of the unit cell whose attention runs over *every periodic image*
    of every atom, with a Gaussian distance decay whose width ``σ`` each head
    sets per query atom (``σ ≤ 1.98 Å``), and a Gaussian encoding of the
    distance added to the values.  The infinite sum is evaluated over every
    image within ``cutoff`` of each atom (its weight beyond is bounded: see
    :doc:`/crystalformer`); those image lists are computed once per structure
    by the default featurizer :class:`~skcrystal.featurizers.CrystalformerFeaturizer`
    (cached).  No layer norm (T-Fixup initialisation), mean pooling, so an
    intensive target is predicted the same for any choice of cell (supercell,
    other setting), rotation, translation or site order.

    Training follows the reference: AdamW (lr 5e-4, betas (0.9, 0.98),
    weight decay 1e-5), gradient-norm clipping at 1, learning rate
    ``lr·sqrt(T/(t+T))`` over steps ``t`` (``T = lr_decay_steps``), {loss},
    and stochastic weight averaging over the last ``swa_epochs`` (10 % by
    default; :class:`~skcrystal.models.callbacks.StochasticWeightAveraging`).

    Parameters
    ----------
    module : type of torch.nn.Module, default=skcrystal.nn.crystalformer.Crystalformer
        Its hyperparameters are set with ``module__<name>``: ``d_model``
        (128), ``n_layers`` (4), ``n_heads`` (8), ``ffn_dim`` (512), ``r0``
        (1.4 Å), ``b`` (0.5), ``n_value_gaussians`` (64; 0 = the
        "simplified" model), ``value_distance_max`` (14 Å).
    featurizer : transformer or None, default=None
        Applied to structure input; ``None`` means
        ``CrystalformerFeaturizer()`` (7 Å image ball).  In a Pipeline after a
        ``CrystalformerFeaturizer`` step leave it as is.
    random_state : int, RandomState or None, default=None
        Seeds weights and shuffling (the global torch RNG is untouched).
    early_stopping : bool or int, default=False
        Patience (``True`` = 10 epochs) on a held-out ``validation_fraction``.
    validation_fraction : float, default=0.1
    gradient_clipping : float or None, default=1.0
        Clip the gradient norm.
    lr_decay_steps : float or None, default=4000
        ``T`` of the inverse-square-root schedule; ``None`` keeps ``lr`` constant.
    swa_epochs : int, float or None, default=0.1
        Epochs averaged at the end (an integer, or a fraction of
        ``max_epochs``); 0 or ``None`` switches averaging off.
    criterion : torch loss class, default={criterion}
    optimizer : torch optimizer class, default=torch.optim.AdamW
    lr : float, default=5e-4
    optimizer__betas : tuple, default=(0.9, 0.98)
    optimizer__weight_decay : float, default=1e-5
    max_epochs : int, default={max_epochs}
    batch_size : int, default=128
    dataset : Dataset class, default=CrystalformerDataset
    iterator_train__collate_fn, iterator_valid__collate_fn : callable, default=collate_crystalformer
        Pad atoms per batch (with a mask) and the per-atom image lists.
    iterator_train__shuffle : bool, default=True
    train_split : callable or None, default=None
    device : str, default="auto"
        The GPU when torch sees one at fit time, else the CPU.
    verbose : int, default=0
    **kwargs
        Any other skorch parameter (``module__*``, ``callbacks``…).

    Attributes
    ----------
    module_ : torch.nn.Module
        The trained network (with the averaged weights when ``swa_epochs``).
    module_dims_ : dict
        Sizes inferred from the data (``n_outputs``).
    featurizer_ : transformer or None
        The fitted featurizer when trained on structures.
    history_ : skorch History
        Per-epoch losses.
"""


def _init_kwargs(kwargs, betas, weight_decay, collate_train, collate_valid, shuffle):
    kwargs["optimizer__betas"] = betas
    kwargs["optimizer__weight_decay"] = weight_decay
    return _graph_net_kwargs(kwargs, collate_train, collate_valid, shuffle)


class CrystalformerRegressor(CrystalformerMixin, CrystalNetRegressor):
    __doc__ = (
        """Crystalformer regressor: attention over all periodic images (Taniai et al. 2024).
"""
        + _DOC.format(loss="L1 loss on standardised targets", criterion="torch.nn.L1Loss", max_epochs="200")
        + """
    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skcrystal.featurizers import CrystalformerFeaturizer
    >>> from skcrystal.models import CrystalformerRegressor
    >>> model = make_pipeline(CrystalformerFeaturizer(), CrystalformerRegressor(max_epochs=100))  # doctest: +SKIP
    >>> model.fit(df["structure"], df["heat_ref"])  # doctest: +SKIP
    >>> maps = model[-1].attention(df["structure"].iloc[:1])  # doctest: +SKIP
"""
    )

    def __init__(
        self,
        module=Crystalformer,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=1.0,
        lr_decay_steps=4000,
        swa_epochs=0.1,
        criterion=torch.nn.L1Loss,
        optimizer=torch.optim.AdamW,
        lr=5e-4,
        optimizer__betas=(0.9, 0.98),
        optimizer__weight_decay=1e-5,
        max_epochs=200,
        batch_size=128,
        dataset=CrystalformerDataset,
        iterator_train__collate_fn=collate_crystalformer,
        iterator_valid__collate_fn=collate_crystalformer,
        iterator_train__shuffle=True,
        train_split=None,
        device=DEFAULT_DEVICE,
        verbose=0,
        **kwargs,
    ):
        self.lr_decay_steps = lr_decay_steps
        self.swa_epochs = swa_epochs
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
            **_init_kwargs(kwargs, optimizer__betas, optimizer__weight_decay,
                           iterator_train__collate_fn, iterator_valid__collate_fn, iterator_train__shuffle),
        )


class CrystalformerClassifier(CrystalformerMixin, CrystalNetClassifier):
    __doc__ = (
        """Crystalformer classifier (space group, crystal system, metal/non-metal…).

    The network of :class:`CrystalformerRegressor` with a logit per class.
"""
        + _DOC.format(loss="cross-entropy loss", criterion="torch.nn.CrossEntropyLoss", max_epochs="200")
        + """    classes_ : ndarray
        The class labels, in the order of ``predict_proba``'s columns.
"""
    )

    def __init__(
        self,
        module=Crystalformer,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=1.0,
        lr_decay_steps=4000,
        swa_epochs=0.1,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.AdamW,
        lr=5e-4,
        optimizer__betas=(0.9, 0.98),
        optimizer__weight_decay=1e-5,
        max_epochs=200,
        batch_size=128,
        dataset=CrystalformerDataset,
        iterator_train__collate_fn=collate_crystalformer,
        iterator_valid__collate_fn=collate_crystalformer,
        iterator_train__shuffle=True,
        train_split=None,
        device=DEFAULT_DEVICE,
        verbose=0,
        **kwargs,
    ):
        self.lr_decay_steps = lr_decay_steps
        self.swa_epochs = swa_epochs
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
            **_init_kwargs(kwargs, optimizer__betas, optimizer__weight_decay,
                           iterator_train__collate_fn, iterator_valid__collate_fn, iterator_train__shuffle),
        )


def plot_attention(result, layer=-1, heads=None, labels=None, ax=None):
    """Heat maps of one structure's attention (summed over images), one panel per head.

    Parameters
    ----------
    result : dict
        One entry of :meth:`CrystalformerRegressor.attention`.
    layer : int, default=-1
        Which layer.
    heads : sequence of int or None, default=None
        Which heads (``None``: all).
    labels : sequence of str or None, default=None
        Atom labels (``None``: element symbols with their index).
    ax : array of matplotlib Axes or None, default=None
        One axis per head; ``None`` makes a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from pymatgen.core.periodic_table import Element

    att = np.asarray(result["attention"])[layer]          # (H, n, n)
    sig = np.asarray(result["sigma"])[layer]              # (n, H)
    heads = list(range(att.shape[0])) if heads is None else list(heads)
    n = att.shape[1]
    if labels is None:
        labels = [f"{Element.from_Z(int(z)).symbol}{i}" for i, z in enumerate(result["atomic_numbers"])]
    if ax is None:
        cols = min(4, len(heads))
        rows = -(-len(heads) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.0 * rows), squeeze=False)
        axes = axes.ravel()
        for a in axes[len(heads):]:
            a.axis("off")
    else:
        axes = np.atleast_1d(ax).ravel()
        fig = axes[0].figure
    for a, h in zip(axes, heads):
        im = a.imshow(att[h], vmin=0.0, vmax=max(1e-12, float(att[h].max())), cmap="viridis")
        a.set_title(f"head {h}: σ {sig[:, h].mean():.2f} Å", fontsize=9)
        if n <= 24:
            a.set_xticks(range(n), labels, rotation=90, fontsize=7)
            a.set_yticks(range(n), labels, fontsize=7)
        a.set_xlabel("key atom j (all images)", fontsize=8)
        a.set_ylabel("query atom i", fontsize=8)
        fig.colorbar(im, ax=a, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig
