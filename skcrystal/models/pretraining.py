"""Self-supervised pretraining and fine-tuning from a pretrained backbone.

Shared by every model that pretrains without labels (ITT's masked-token
pretraining, MGT's denoising/contrastive pretraining):

* :class:`CrystalNetPretrainer` — the skorch base of a pretrainer: ``fit(X)``
  needs no targets; its ``module_`` has a ``backbone`` submodule (the part
  that fine-tuning reuses) plus whatever pretraining heads it needs;
  ``transform(X)`` returns the backbone's per-structure embedding, so a
  fitted pretrainer is also a scikit-learn transformer;
  :meth:`~CrystalNetPretrainer.backbone_state_dict` and
  :meth:`~CrystalNetPretrainer.save_backbone` export the backbone.
* :func:`load_backbone` — read a saved backbone, checking its format and the
  skcrystal version that wrote it.
* :class:`FineTuneMixin` — for the supervised estimators: parameters
  ``pretrained`` (``None``, a fitted pretrainer, a saved file or a loaded
  record) and ``freeze_backbone_epochs``; the backbone weights are loaded into
  ``module_.backbone`` when the module is built, and its widths are taken
  from the pretrained backbone (an explicit conflicting width is an error
  naming expected and got).

The file written by :meth:`~CrystalNetPretrainer.save_backbone` is a
``torch.save`` of a plain dictionary (loadable with ``weights_only=True``)::

    {"format": "skcrystal-backbone",
     "skcrystal_version": "0.1.0",
     "model": "ITTBackbone",            # class name of the backbone module
     "module_kwargs": {...},            # keyword arguments that built it
     "state_dict": {name: tensor}}      # CPU tensors
"""

from __future__ import annotations

import inspect
import os
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.base import TransformerMixin, clone
from sklearn.exceptions import NotFittedError
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.utils import to_device

from ..nn.data import SizedBatch
from ..utils._docstring import NETWORK_PARAMS, Substitution
from ..utils._param_validation import HasMethods, Interval
from .base import DEFAULT_DEVICE, CrystalNetMixin, _n_rows, _take

__all__ = [
    "BACKBONE_FORMAT",
    "CrystalNetPretrainer",
    "FineTuneMixin",
    "FreezeBackbone",
    "load_backbone",
]

#: The ``"format"`` tag of a saved backbone.
BACKBONE_FORMAT = "skcrystal-backbone"


def _version():
    from .. import __version__

    return __version__


def _version_tuple(v):
    out = []
    for part in str(v).split(".")[:2]:
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out + [0] * (2 - len(out)))


def _check_record(rec, source):
    """Validate a backbone record (the dictionary of a saved backbone)."""
    if not isinstance(rec, dict) or rec.get("format") != BACKBONE_FORMAT:
        raise ValueError(
            f"{source} is not a skcrystal backbone (expected a dictionary with format={BACKBONE_FORMAT!r}, "
            f"got {type(rec).__name__}"
            + (f" with format={rec.get('format')!r}" if isinstance(rec, dict) else "")
            + "); write one with pretrainer.save_backbone(path)"
        )
    missing = [k for k in ("skcrystal_version", "model", "module_kwargs", "state_dict") if k not in rec]
    if missing:
        raise ValueError(f"{source} is a damaged skcrystal backbone: keys {missing} are missing")
    written, here = rec["skcrystal_version"], _version()
    if _version_tuple(written) > _version_tuple(here):
        raise ValueError(
            f"{source} was written by skcrystal {written}, newer than the installed {here}; "
            "upgrade skcrystal to load it"
        )
    return rec


def load_backbone(path):
    """Read a backbone saved by :meth:`CrystalNetPretrainer.save_backbone`.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    dict
        ``format``, ``skcrystal_version``, ``model`` (backbone class name),
        ``module_kwargs`` and ``state_dict`` (CPU tensors).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    ValueError
        If the file is not a skcrystal backbone, or was written by a newer
        skcrystal.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no pretrained backbone at {path!r}")
    try:
        rec = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - say what the file should be
        raise ValueError(
            f"{path!r} is not a skcrystal backbone file (torch.load failed: {type(exc).__name__}: {exc}); "
            "write one with pretrainer.save_backbone(path)"
        ) from exc
    return _check_record(rec, repr(path))


class FreezeBackbone(Callback):
    """skorch callback: keep ``module_.backbone`` frozen for the first ``epochs`` epochs.

    Parameters
    ----------
    epochs : int
        Number of epochs (counted from the start of ``fit``) during which the
        backbone's parameters get no gradient; the heads train alone.
    """

    def __init__(self, epochs):
        self.epochs = epochs

    def _set(self, net, trainable):
        for p in net.module_.backbone.parameters():
            p.requires_grad_(trainable)

    def on_train_begin(self, net, **kwargs):
        """Remember the epoch at which this fit starts.

        Parameters
        ----------
        net : skorch NeuralNet
            The network.
        **kwargs
            Ignored.
        """
        self.start_ = len(net.history) - 1 if len(net.history) else 0

    def on_epoch_begin(self, net, **kwargs):
        """Freeze or release the backbone for this epoch.

        Parameters
        ----------
        net : skorch NeuralNet
            The network.
        **kwargs
            Ignored.
        """
        done = len(net.history) - 1 - getattr(self, "start_", 0)
        self._set(net, done >= int(self.epochs))

    def on_train_end(self, net, **kwargs):
        """Release the backbone.

        Parameters
        ----------
        net : skorch NeuralNet
            The network.
        **kwargs
            Ignored.
        """
        self._set(net, True)


def _module_signature(module):
    cls = module if inspect.isclass(module) else type(module)
    params = inspect.signature(cls.__init__).parameters
    return {k for k, p in params.items() if k != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _plain(v):
    """Module kwargs as plain Python (what ``torch.load(weights_only=True)`` accepts)."""
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v)
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    raise TypeError(f"backbone keyword argument of type {type(v).__name__} cannot be saved: {v!r}")


@Substitution(**NETWORK_PARAMS)
class CrystalNetPretrainer(TransformerMixin, CrystalNetMixin, NeuralNet):
    """skorch base of a self-supervised pretrainer: ``fit(X)`` without targets.

    Subclasses set ``module`` (an ``nn.Module`` with a ``backbone``
    submodule and an ``embed(**batch)`` method returning one vector per
    structure), its dataset and collate functions, implement ``get_loss``
    (the module output -> the pretraining loss; ``y_true`` is ignored) and
    ``_infer_module_dims``.  Given structures the pretrainer applies its
    default featurizer (``featurizer_``), like the supervised models.

    After ``fit``: :meth:`transform` gives the backbone embedding of each
    structure, :meth:`score` the negative pretraining loss,
    :meth:`backbone_state_dict` / :meth:`save_backbone` export the backbone
    for :class:`FineTuneMixin` estimators (``pretrained=pretrainer`` or
    ``pretrained="backbone.pt"``).

    Parameters
    ----------
    module : type of torch.nn.Module
        The pretraining network.
    featurizer : transformer or None, default=None
        Applied to structure input; ``None`` uses the model's default.
    random_state : int, RandomState or None, default=None
        Seeds weights, masks/noise and shuffling.
    early_stopping : bool or int, default=False
        Patience in epochs on a held-out ``validation_fraction`` of the
        (unlabeled) structures.
    validation_fraction : float, default=0.1
        Share of the structures held out when ``early_stopping`` is on.
    gradient_clipping : float or None, default=None
        Clip the gradient norm to this value.
    criterion : torch loss class, default=torch.nn.MSELoss
        Unused by most pretrainers (``get_loss`` computes the loss).
    train_split : callable or None, default=None
        skorch's internal validation split; ``None``: none unless ``early_stopping``.
    %(device)s
    **kwargs
        Any skorch ``NeuralNet`` parameter.
    """

    _regression = True

    def __init__(
        self,
        module,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        criterion=torch.nn.MSELoss,
        train_split=None,
        device=DEFAULT_DEVICE,
        **kwargs,
    ):
        super().__init__(module, criterion=criterion, train_split=train_split, device=device, **kwargs)
        self.featurizer = featurizer
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.gradient_clipping = gradient_clipping

    # ------------------------------------------------------------------ fit
    def _infer_module_dims(self, Xf, y_enc):
        dims = {}
        if isinstance(Xf, np.ndarray) and Xf.dtype != object and Xf.ndim == 2:
            dims["n_features"] = int(Xf.shape[1])
        return dims

    def fit(self, X, y=None, **fit_params):
        """Featurize (if given structures) and pretrain; no targets needed.

        Parameters
        ----------
        X : DataFrame with a ``structure`` column, Series/list of structures, or features
            Unlabeled training input.
        y : ignored
            Accepted so that the pretrainer fits in a Pipeline.
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self
        """
        self._check_params()
        Xf = self._featurize(X, fit=True)
        n = _n_rows(Xf)
        bad = self._bad_rows(Xf)
        if bad.any():
            warnings.warn(
                f"{type(self).__name__}: {int(bad.sum())} of {n} rows could not be featurized "
                f"(rows {np.flatnonzero(bad)[:10].tolist()}); they are left out of pretraining",
                UserWarning,
                stacklevel=2,
            )
            keep = np.flatnonzero(~bad)
            if len(keep) == 0:
                raise ValueError(f"{type(self).__name__}: no row could be featurized")
            Xf = _take(Xf, keep)
        self.n_train_rows_ = n
        self.module_dims_ = self._infer_module_dims(Xf, None)
        with self._rng_context():
            self._seed()
            NeuralNet.fit(self, Xf, None, **fit_params)
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue pretraining for ``max_epochs`` more epochs.

        Parameters
        ----------
        X : structures or features, like in ``fit``
            Training input.
        y : ignored
            Present for API compatibility.
        classes : ignored
            Present for API compatibility.
        **fit_params
            Passed to skorch's ``partial_fit``.

        Returns
        -------
        self
            The pretrainer.
        """
        if fit_params.get("_routing_method") == "fit":
            return NeuralNet.partial_fit(self, X, y, **fit_params)
        if not getattr(self, "initialized_", False):
            return self.fit(X, y, **fit_params)
        Xf = self._featurize(X, fit=False)
        with self._rng_context():
            NeuralNet.partial_fit(self, Xf, None, **fit_params)
        return self

    def initialize_module(self):
        """Build the module and remember the keyword arguments of its backbone.

        Returns
        -------
        self
            The pretrainer, with ``module_`` and ``backbone_kwargs_`` set.
        """
        super().initialize_module()
        kwargs = {**self.get_params_for("module"), **getattr(self, "module_dims_", {})}
        backbone = getattr(self.module_, "backbone", None)
        if backbone is None:
            raise TypeError(f"{type(self).__name__}: the module must have a 'backbone' submodule")
        accepted = _module_signature(backbone)
        self.backbone_kwargs_ = {k: _plain(v) for k, v in kwargs.items() if k in accepted}
        return self

    # ------------------------------------------------------------ checks
    def _check_fitted(self):
        if not getattr(self, "initialized_", False) or not hasattr(self, "featurizer_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call 'fit' with (unlabeled) "
                "structures first"
            )

    # ------------------------------------------------------------ outputs
    def _batches(self, X):
        Xf = self._featurize(X, fit=False)
        bad = self._bad_rows(Xf)
        keep = np.flatnonzero(~bad)
        return Xf, bad, keep

    def transform(self, X):
        """Backbone embedding of each structure (the fine-tuning model's input to its head).

        Parameters
        ----------
        X : structures or features, like in ``fit``

        Returns
        -------
        ndarray of shape (n_samples, n_embedding)
            NaN rows for structures that could not be featurized.
        """
        self._check_fitted()
        Xf, bad, keep = self._batches(X)
        n = _n_rows(Xf)
        out = None
        if len(keep):
            ds = self.get_dataset(_take(Xf, keep) if bad.any() else Xf)
            self.module_.eval()
            parts = []
            with torch.no_grad():
                for batch in self.get_iterator(ds, training=False):
                    inputs = to_device(batch[0] if isinstance(batch, (tuple, list, SizedBatch)) else batch, self.device)
                    emb = self.module_.embed(**inputs) if isinstance(inputs, dict) else self.module_.embed(inputs)
                    parts.append(emb.detach().cpu().numpy())
            emb = np.concatenate(parts).astype(np.float64)
            out = np.full((n, emb.shape[1]), np.nan)
            out[keep] = emb
        if out is None:
            out = np.full((n, int(self._embedding_width())), np.nan)
        return out

    def fit_transform(self, X, y=None, **fit_params):
        """Pretrain on ``X``, then embed it.

        Parameters
        ----------
        X : structures or features
            Training input.
        y : ignored
            Present for API compatibility.
        **fit_params
            Passed to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_embedding)
            The embedding of ``X``.
        """
        return self.fit(X, y, **fit_params).transform(X)

    def get_feature_names_out(self, input_features=None):
        """Get the names of the embedding columns: ``embedding0``, ``embedding1``, ...

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str
        """
        self._check_fitted()
        n = int(self._embedding_width())
        return np.asarray([f"embedding{i}" for i in range(n)], dtype=object)

    def _embedding_width(self):
        width = getattr(self.module_, "embedding_width", None)
        if width is None:
            raise AttributeError(f"{type(self.module_).__name__} must define 'embedding_width'")
        return width

    def score(self, X, y=None):
        """Negative mean pretraining loss on ``X`` (higher is better; for model selection).

        Parameters
        ----------
        X : structures or features, like in ``fit``
        y : ignored

        Returns
        -------
        float
        """
        self._check_fitted()
        Xf, bad, keep = self._batches(X)
        ds = self.get_dataset(_take(Xf, keep) if bad.any() else Xf)
        total, count = 0.0, 0
        with self._rng_context():
            if self.random_state is not None:
                torch.manual_seed(0)
            for batch in self.get_iterator(ds, training=False):
                step = self.validation_step(batch)
                k = len(batch[1])
                total += float(step["loss"]) * k
                count += k
        return -total / max(count, 1)

    # ------------------------------------------------------------ export
    def backbone_state_dict(self):
        """The backbone's weights and buffers as CPU tensors (a copy).

        Returns
        -------
        dict of str -> torch.Tensor
        """
        self._check_fitted()
        return {k: v.detach().cpu().clone() for k, v in self.module_.backbone.state_dict().items()}

    def backbone_record(self):
        """The backbone as the dictionary :meth:`save_backbone` writes (see :func:`load_backbone`).

        Returns
        -------
        dict
        """
        self._check_fitted()
        return {
            "format": BACKBONE_FORMAT,
            "skcrystal_version": _version(),
            "model": type(self.module_.backbone).__name__,
            "module_kwargs": dict(self.backbone_kwargs_),
            "state_dict": self.backbone_state_dict(),
        }

    def save_backbone(self, path):
        """Write the pretrained backbone to ``path`` (``torch.save`` of a plain dictionary).

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : str
        """
        path = os.fspath(path)
        torch.save(self.backbone_record(), path)
        return path


def _is_pretrainer(obj):
    return hasattr(obj, "backbone_record") and hasattr(obj, "get_params")


class FineTuneMixin:
    """Start a supervised skorch estimator from a pretrained backbone.

    Put it first among the bases (``class ITTRegressor(FineTuneMixin, ...,
    CrystalNetRegressor)``) and list ``pretrained=None`` and
    ``freeze_backbone_epochs=0`` in the estimator's ``__init__``.  The
    estimator's module must have a ``backbone`` submodule of the same class
    as the pretrainer's.

    ``pretrained`` may be a fitted pretrainer (used as is: cloning the
    estimator, e.g. inside GridSearchCV, keeps a reference to the same fitted
    pretrainer instead of an unfitted copy), a file written by
    :meth:`CrystalNetPretrainer.save_backbone`, or the record returned by
    :func:`load_backbone`.  When the module is built, the backbone's keyword
    arguments (widths, depths) are taken from the pretrained backbone --
    setting one of them to another value with ``module__<name>`` raises an
    error naming both values -- and its weights are loaded; the head starts
    from scratch.  Given a fitted pretrainer and no ``featurizer``, the
    estimator featurizes structures with a clone of the pretrainer's fitted
    featurizer settings.
    """

    _parameter_constraints: dict = {
        "pretrained": [None, str, os.PathLike, dict, HasMethods(["backbone_record"])],
        "freeze_backbone_epochs": [Interval(Integral, 0, None, closed="left")],
    }

    # ------------------------------------------------------------ clone
    def __sklearn_clone__(self):
        pre = self.pretrained
        if not _is_pretrainer(pre):
            return super().__sklearn_clone__()
        # clone every other parameter; keep the fitted pretrainer itself (clone would reset it)
        object.__setattr__(self, "pretrained", None)
        try:
            new = super().__sklearn_clone__()
        finally:
            object.__setattr__(self, "pretrained", pre)
        object.__setattr__(new, "pretrained", pre)
        return new

    # ------------------------------------------------------------ helpers
    def _pretrained_record(self):
        pre = self.pretrained
        if pre is None:
            return None
        if isinstance(pre, (str, os.PathLike)):
            return load_backbone(pre)
        if isinstance(pre, dict):
            return _check_record(pre, "pretrained")
        if _is_pretrainer(pre):
            if not getattr(pre, "initialized_", False) or not hasattr(pre, "featurizer_"):
                raise ValueError(
                    f"{type(self).__name__}: pretrained is an unfitted {type(pre).__name__}; fit it on "
                    "(unlabeled) structures first: pretrainer.fit(structures)"
                )
            return pre.backbone_record()
        raise TypeError(
            f"{type(self).__name__}: pretrained must be None, a fitted pretrainer, a path to a saved backbone "
            f"or a backbone record, got {type(pre).__name__}"
        )

    def _default_featurizer(self):
        pre = self.pretrained
        if _is_pretrainer(pre) and getattr(pre, "featurizer_", None) is not None:
            return clone(pre.featurizer_)
        return super()._default_featurizer()

    def get_default_callbacks(self):
        """Return the base callbacks plus :class:`FreezeBackbone` when ``freeze_backbone_epochs`` > 0.

        Returns
        -------
        list of (str, Callback)
            The callbacks.
        """
        callbacks = list(super().get_default_callbacks())
        try:
            n = int(self.freeze_backbone_epochs or 0)
        except (TypeError, ValueError, OverflowError):  # reported by fit's parameter validation
            n = 0
        if n > 0:
            callbacks.append(("freeze_backbone", FreezeBackbone(n)))
        return callbacks

    def initialize_module(self):
        """Build the module; with ``pretrained``, adopt the backbone's widths and load its weights.

        Returns
        -------
        self
            The estimator, with ``module_`` set.
        """
        rec = self._pretrained_record()
        if rec is None:
            return super().initialize_module()
        name = type(self).__name__
        accepted = _module_signature(self.module)
        user = self.get_params_for("module")
        dims = dict(getattr(self, "module_dims_", {}))
        adopted = {}
        for key, value in rec["module_kwargs"].items():
            if key not in accepted:
                continue
            for source, given in (("the data", dims), (f"module__{key}", user)):
                if key in given and _plain_eq(given[key], value) is False:
                    hint = (
                        "featurize the data with the same settings as for pretraining"
                        if source == "the data"
                        else f"drop module__{key} or set it to {value!r}"
                    )
                    raise ValueError(
                        f"{name}: the pretrained backbone ({rec['model']}) expects {key}={value!r} but "
                        f"{source} gives {key}={given[key]!r}; {hint}"
                    )
            adopted[key] = value
        saved = getattr(self, "module_dims_", None)
        self.module_dims_ = {**adopted, **dims}
        try:
            super().initialize_module()
        finally:
            if saved is None:
                del self.module_dims_
            else:
                self.module_dims_ = saved
        self._load_backbone(rec)
        return self

    def _load_backbone(self, rec):
        name = type(self).__name__
        backbone = getattr(self.module_, "backbone", None)
        if backbone is None:
            raise TypeError(f"{name}: the module has no 'backbone' submodule to load pretrained weights into")
        if type(backbone).__name__ != rec["model"]:
            raise ValueError(
                f"{name}: the pretrained backbone is a {rec['model']}, but this model's backbone is a "
                f"{type(backbone).__name__}"
            )
        own = backbone.state_dict()
        theirs = rec["state_dict"]
        missing = sorted(set(own) - set(theirs))
        extra = sorted(set(theirs) - set(own))
        if missing or extra:
            raise ValueError(
                f"{name}: the pretrained backbone does not fit this model: parameters missing from it "
                f"{missing[:5]}, unexpected {extra[:5]}"
            )
        for key, t in own.items():
            if tuple(t.shape) != tuple(theirs[key].shape):
                raise ValueError(
                    f"{name}: backbone parameter {key!r} has shape {tuple(theirs[key].shape)} in the "
                    f"pretrained backbone (expected) but {tuple(t.shape)} in this model (got)"
                )
        backbone.load_state_dict({k: v.to(own[k].device) for k, v in theirs.items()})


def _plain_eq(a, b):
    try:
        return _plain(a) == _plain(b)
    except TypeError:
        return None

