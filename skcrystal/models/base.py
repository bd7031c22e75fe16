"""The shared skorch base of every skcrystal neural model.

A model is a thin skorch estimator around a plain torch ``nn.Module`` from
:mod:`skcrystal.nn`.  This base adds what a materials user expects on top of
skorch:

* **structures or features in** — given structures (a DataFrame with a
  ``structure`` column, a Series or a list) the model applies its default
  featurizer (stored as ``featurizer_``); given the output of a featurizer
  step in a Pipeline (a numeric matrix or an object array of graphs) it
  trains on that directly;
* **1-D targets** (regressors also take a 2-D ``y``: several targets at once,
  one output each) — regressors standardise ``y`` (``y_mean_``, ``y_std_``, per column) and
  reshape it for torch; classifiers label-encode (``classes_`` holds the
  user's labels);
* **reproducibility** — ``random_state`` seeds weight initialisation, dropout
  and the DataLoader shuffling inside a forked RNG (the global torch RNG is
  left untouched);
* **data-dependent sizes** — input/output widths are inferred at fit and
  passed to the module (``module_dims_``), so users only set what they mean;
* **defaults** — ``device="auto"``: the GPU when torch sees one at fit time
  (decided when the network is built, not when skcrystal is imported; the
  parameter itself keeps the value ``"auto"``), no validation split unless
  ``early_stopping`` (then a seeded hold-out of ``validation_fraction`` and
  skorch's EarlyStopping restoring the best epoch), optional gradient
  clipping, skorch's history and per-epoch log when ``verbose``;
* **rows that cannot be featurized** (NaN rows, e.g. a structure that does
  not fit a fixed-size representation) are never dropped silently: they are
  left out of training with a warning and predicted with the training
  median (regression) or most frequent class (classification), the fallback
  rule of the faithful-representation paper.

Subclasses override ``_default_featurizer`` and, when the module needs them,
``_infer_module_dims``; graph models also pass their own ``dataset`` and
collate functions.
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import NotFittedError
from sklearn.preprocessing import LabelEncoder
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, GradientNormClipping
from skorch.dataset import ValidSplit

from numbers import Integral, Real

from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if

from ..utils._docstring import NETWORK_PARAMS, Substitution
from ..utils._param_validation import HasMethods, Interval, Options, Pattern, StrOptions, validate_parameter_constraints
from ..utils.validation import check_target
from ._input import featurize_input

__all__ = [
    "CrystalNetClassifier",
    "CrystalNetMixin",
    "CrystalNetRegressor",
    "DEFAULT_DEVICE",
    "RecalibrateBatchNorm",
    "resolve_device",
]

#: Default ``device`` of every network: ``"auto"`` is resolved when the network is built
#: (:func:`resolve_device`), so importing skcrystal never queries CUDA.
DEFAULT_DEVICE = "auto"


def resolve_device(device):
    """The torch device a ``device`` parameter means: ``"auto"`` is ``"cuda"`` when torch sees a GPU, else ``"cpu"``.

    Parameters
    ----------
    device : str, torch.device or None
        ``"auto"``, any torch device, or ``None`` (skorch: leave tensors where they are).

    Returns
    -------
    str, torch.device or None
    """
    if isinstance(device, str) and device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class _DeviceParameter:
    """The ``device`` parameter: stored as given (``get_params``, ``clone``, pickling), read resolved.

    skorch reads ``net.device`` wherever it moves modules and tensors; through
    this descriptor it sees the resolved device (:func:`resolve_device`) while
    the public parameter keeps the user's value (``"auto"`` by default).
    """

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        return resolve_device(obj.__dict__.get("device", DEFAULT_DEVICE))

    def __set__(self, obj, value):
        obj.__dict__["device"] = value


def _is_store(X):
    """A :class:`skcrystal.streaming.FeatureStore` (or rows of one): read from disk item by item."""
    return hasattr(X, "failed") and hasattr(X, "kind") and hasattr(X, "keys")


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _take(X, idx):
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return X.iloc[idx]
    if isinstance(X, np.ndarray) or _is_store(X):
        return X[idx]
    return [X[i] for i in idx]


def _encoded_accuracy(net, X, y):
    """Accuracy of the arg-max logits against label-encoded targets (skorch scoring callable)."""
    pred = net.forward(X, training=False).argmax(dim=-1).cpu().numpy()
    if y is None:
        from skorch.dataset import get_len

        y = np.concatenate([np.asarray(yb) for _, yb in net.get_iterator(X)])[: get_len(X)]
    return float(np.mean(pred == np.asarray(y).ravel()))


class RecalibrateBatchNorm(Callback):
    """Re-estimate every BatchNorm layer's running statistics with the final weights (skorch callback).

    BatchNorm trains on each batch's own statistics but predicts with running
    averages collected while the weights were still moving.  When what a
    layer normalises is nearly constant across a batch — every atom of a
    single-element frame has the same code, so the per-atom states differ
    only slightly — the lag of those averages is several standard deviations
    of the quantity, and eval-mode predictions drift far from train-mode
    ones (CGNN on strained carbon polymorphs: held-out MAE twice the mean
    predictor's).  At the end of training this callback resets the running
    statistics and recomputes them as exact averages over the training data
    with the final weights (one inference pass; "precise BN").  Models
    without BatchNorm are untouched.  It is one of the default callbacks of
    every skcrystal network (``"batchnorm_stats"``; disable with
    ``callbacks__batchnorm_stats=None``).
    """

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Recompute the running statistics over the training data ``X``.

        Parameters
        ----------
        net : skorch NeuralNet
            The network that was trained.
        X : featurized input or Dataset, optional
            The training input skorch passes.
        y : array-like, optional
            The training targets.
        **kwargs
            Ignored.
        """
        module = getattr(net, "module_", None)
        if module is None or X is None:
            return
        norms = [m for m in module.modules()
                 if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        if not norms:
            return
        from skorch.dataset import unpack_data

        saved = [(m, m.momentum) for m in norms]
        was_training = module.training
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the pass
        module.eval()
        for m in norms:
            m.train()
        try:
            with torch.no_grad():
                for batch in net.get_iterator(net.get_dataset(X, y), training=False):
                    Xi, _ = unpack_data(batch)
                    net.infer(Xi)
        finally:
            for m, momentum in saved:
                m.momentum = momentum
            module.train(was_training)


class CrystalNetMixin:
    """Behaviour shared by :class:`CrystalNetRegressor` and :class:`CrystalNetClassifier`.

    The extra constructor parameters (besides skorch's) are ``featurizer``,
    ``random_state``, ``early_stopping``, ``validation_fraction`` and
    ``gradient_clipping``; see the concrete models for their documentation.
    """

    _regression = True
    device = _DeviceParameter()
    #: Constraints of the parameters every skcrystal network shares (checked once per ``fit``);
    #: a model merges them into its own: ``{**CrystalNetMixin._parameter_constraints, ...}``.
    _parameter_constraints: dict = {
        "module": ["class", HasMethods(["forward"])],
        "featurizer": [HasMethods(["fit", "transform"]), None],
        "random_state": ["random_state"],
        "early_stopping": ["boolean", Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "gradient_clipping": [Interval(Real, 0, None, closed="neither"), None],
        "max_epochs": [Interval(Integral, 0, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), Options(int, {-1})],
        "verbose": ["verbose"],
        "criterion": ["class", "callable"],
        "optimizer": ["class", "callable"],
        "optimizer__weight_decay": [Interval(Real, 0, None, closed="left")],
        "train_split": ["callable", None],
        "dataset": ["class", "callable"],
        "iterator_train__shuffle": ["boolean"],
        "iterator_train__collate_fn": ["callable", None],
        "iterator_valid__collate_fn": ["callable", None],
        "device": [
            StrOptions({"auto"}),
            Pattern(r"(cpu|cuda|mps|xpu)(:\d+)?", "a torch device name such as 'cpu', 'cuda' or 'cuda:1'"),
            torch.device,
            None,
        ],
    }

    def citations(self):
        """Return the references of the method this model implements.

        Returns
        -------
        list of str
        """
        return list(getattr(self, "_citations", ()))

    def _get_param_names(self):
        # skorch lists its private bookkeeping (``_params_to_validate``) as a parameter; keep it out
        return [k for k in super()._get_param_names() if not k.startswith("_")]

    def get_params(self, deep=True, **kwargs):
        """Get the parameters of the estimator (``device`` as given, e.g. ``"auto"``, not resolved).

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained objects (skorch's rule).
        **kwargs
            Passed to skorch's ``get_params``.

        Returns
        -------
        dict
        """
        params = super().get_params(deep=deep, **kwargs)
        if "device" in params:
            params["device"] = self.__dict__.get("device", DEFAULT_DEVICE)
        return params

    def __setstate__(self, state):
        # skorch maps saved tensors to state["device"]: give it the resolved device, keep the parameter
        raw = state.get("device", DEFAULT_DEVICE)
        super().__setstate__({**state, "device": resolve_device(raw)})
        if isinstance(raw, str) and raw == "auto":
            self.__dict__["device"] = raw

    # ------------------------------------------------------------- overrides
    def _default_featurizer(self):
        """The featurizer applied to structure input (concrete models override this)."""
        raise TypeError(
            f"{type(self).__name__} has no default featurizer: pass featurizer=... or give it features"
        )

    def _infer_module_dims(self, Xf, y_enc):
        """Module keyword arguments derived from the data (default: input width, outputs)."""
        dims = {}
        if isinstance(Xf, np.ndarray) and Xf.dtype != object and Xf.ndim == 2:
            dims["n_features"] = int(Xf.shape[1])
        dims["n_outputs"] = self._n_outputs(y_enc)
        return dims

    def _n_outputs(self, y_enc):
        """Network outputs: one per target column (regression) or per class (classification)."""
        if self._regression:
            return 1 if y_enc is None or np.ndim(y_enc) < 2 else int(np.shape(y_enc)[1])
        return int(len(self.classes_))

    def _check_y(self, y, n):
        """Validate ``y``: 1-D, or for regressors 2-D with one column per target (each column checked)."""
        if self._regression and np.ndim(y) == 2 and np.shape(y)[1] > 1:
            import pandas as pd

            cols = [y.iloc[:, j] for j in range(y.shape[1])] if isinstance(y, pd.DataFrame) else list(
                np.asarray(y).T)
            return np.stack([check_target(c, n) for c in cols], axis=1)
        return check_target(y, n, classification=not self._regression)

    def _to_module_input(self, Xf):
        """Convert featurizer output to what the skorch dataset takes (default: float32 matrix)."""
        if isinstance(Xf, (pd.DataFrame, pd.Series)):
            Xf = Xf.to_numpy()
        if isinstance(Xf, (list, tuple)) or (isinstance(Xf, np.ndarray) and Xf.dtype == object):
            try:
                Xf = np.asarray(Xf, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{type(self).__name__} takes structures or a numeric feature matrix; the input is neither "
                    f"({exc})"
                ) from None
        if isinstance(Xf, np.ndarray):
            if Xf.ndim != 2:
                raise ValueError(
                    f"{type(self).__name__} takes a 2-D feature matrix (n_samples, n_features) or structures; "
                    f"got an array of shape {Xf.shape}"
                )
            return np.ascontiguousarray(Xf, dtype=np.float32)
        return Xf

    # ---------------------------------------------------------- featurizing
    def _featurize(self, X, fit):
        if isinstance(X, torch.utils.data.Dataset):
            # skorch's own callbacks call predict on the prepared validation dataset
            return X
        Xf = featurize_input(self, X, fit, self._default_featurizer)
        Xf = self._to_module_input(Xf)
        if not fit:
            self._check_input_dims(Xf)
        return Xf

    #: The data-derived sizes (keys of ``module_dims_``) that input at predict must match;
    #: ``None`` means every key but ``n_outputs``.
    _input_dim_keys = None

    def _check_input_dims(self, Xf):
        """Raise a clear error when the input at predict has other widths than at fit."""
        expected = getattr(self, "module_dims_", None)
        if not expected:
            return
        bad = self._bad_rows(Xf)
        if bad.all():
            return
        got = self._infer_module_dims(_take(Xf, np.flatnonzero(~bad)) if bad.any() else Xf, None)
        keys = self._input_dim_keys if self._input_dim_keys is not None else [k for k in expected if k != "n_outputs"]
        diff = [k for k in keys if k in expected and k in got and got[k] != expected[k]]
        if diff:
            what = ", ".join(f"{k}={got[k]} (fitted with {expected[k]})" for k in diff)
            raise ValueError(
                f"{type(self).__name__}: the input at predict has {what}. The network's input layers were "
                "sized at fit, so the features must come from the same featurizer with the same settings "
                "(e.g. the same CrystalGraph atom_features / Voxelizer grid, or the same feature columns)."
            )

    @staticmethod
    def _bad_rows(Xf):
        if isinstance(Xf, np.ndarray) and Xf.dtype != object and Xf.ndim >= 2:
            return ~np.isfinite(Xf.reshape(len(Xf), -1)).all(axis=1)
        return np.zeros(_n_rows(Xf), dtype=bool)

    # ------------------------------------------------------------ the RNG
    def _rng_context(self):
        if self.random_state is None:
            return contextlib.nullcontext()
        devices = [torch.cuda.current_device()] if str(self.device).startswith("cuda") else []
        return torch.random.fork_rng(devices=devices)

    def _seed(self):
        if self.random_state is None:
            self.torch_generator_ = None
            return
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        torch.manual_seed(seed)
        self.torch_generator_ = torch.Generator().manual_seed(seed)

    def get_iterator(self, dataset, training=False):
        """Build skorch's iterator, with the DataLoader shuffling seeded from ``random_state``.

        Parameters
        ----------
        dataset : torch Dataset
            The data.
        training : bool, default=False
            Training iterator (``iterator_train__*``, seeded shuffling) or not.

        Returns
        -------
        torch.utils.data.DataLoader
            The iterator.
        """
        if training:
            kwargs = self.get_params_for("iterator_train")
            iterator = self.iterator_train
            gen = getattr(self, "torch_generator_", None)
            if gen is not None:
                kwargs.setdefault("generator", gen)
        else:
            kwargs = self.get_params_for("iterator_valid")
            iterator = self.iterator_valid
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        return iterator(dataset, **kwargs)

    def get_split_datasets(self, X, y=None, **fit_params):
        """Split off ``validation_fraction`` (seeded) when early stopping is on.

        Parameters
        ----------
        X : featurized input
            Training input.
        y : array-like or None, default=None
            Encoded targets.
        **fit_params
            Passed to skorch's split.

        Returns
        -------
        dataset_train, dataset_valid : torch Dataset
            ``dataset_valid`` is None without a split.
        """
        if self.train_split is None and self.early_stopping:
            split = ValidSplit(
                self.validation_fraction,
                stratified=not self._regression,
                random_state=self.random_state if self.random_state is not None else 0,
            )
            dataset = self.get_dataset(X, y)
            return split(dataset, y, **fit_params)
        return super().get_split_datasets(X, y, **fit_params)

    def get_default_callbacks(self):
        """Return skorch's default callbacks, early stopping / gradient clipping when asked, BatchNorm recalibration.

        Returns
        -------
        list of (str, Callback)
            The callbacks.
        """
        callbacks = list(super().get_default_callbacks())
        # skorch also calls this from set_params; invalid values are reported by fit, not here
        try:
            patience = 10 if self.early_stopping is True else int(self.early_stopping or 0)
        except (TypeError, ValueError, OverflowError):
            patience = 0
        if patience >= 1:
            callbacks.append(
                ("early_stopping", EarlyStopping(monitor="valid_loss", patience=patience, load_best=True))
            )
        try:
            clip = float(self.gradient_clipping) if self.gradient_clipping else 0.0
        except (TypeError, ValueError):
            clip = 0.0
        if clip > 0:
            callbacks.append(("gradient_clipping", GradientNormClipping(clip)))
        # last, so that it sees the weights early stopping restored
        callbacks.append(("batchnorm_stats", RecalibrateBatchNorm()))
        return callbacks

    def initialize_callbacks(self):
        """Initialise skorch's callbacks, with the BatchNorm recalibration moved last.

        Subclasses and users append callbacks that change the weights at the
        end of training (early stopping's best epoch, weight averaging); the
        running statistics must be estimated after all of them.

        Returns
        -------
        self
            The estimator, with ``callbacks_`` set.
        """
        super().initialize_callbacks()
        last = [c for c in self.callbacks_ if c[0] == "batchnorm_stats"]
        self.callbacks_ = [c for c in self.callbacks_ if c[0] != "batchnorm_stats"] + last
        return self

    def initialize_module(self):
        """Instantiate the module with the user's ``module__*`` and the data-derived sizes.

        Returns
        -------
        self
            The estimator, with ``module_`` set.
        """
        kwargs = self.get_params_for("module")
        kwargs.update(getattr(self, "module_dims_", {}))
        self.module_ = self.initialized_instance(self.module, kwargs)
        return self

    # -------------------------------------------------------------- fit
    def _check_params(self):
        """Validate the declared parameter constraints (subclasses extend for cross-parameter rules)."""
        params = {k: v for k, v in self.get_params(deep=False).items() if k in self._parameter_constraints}
        validate_parameter_constraints(self._parameter_constraints, params, type(self).__name__)

    def fit(self, X, y, **fit_params):
        """Featurize (if given structures), validate ``y`` and train.

        Parameters
        ----------
        X : DataFrame with a ``structure`` column, Series/list of structures, or features
            Training input.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets; NaN/inf raise naming the rows.  Regressors accept several
            target columns (one network output each, standardised per column).
        **fit_params
            Passed to skorch's ``fit``.

        Returns
        -------
        self
        """
        self._check_params()
        Xf = self._featurize(X, fit=True)
        n = _n_rows(Xf)
        y = self._check_y(y, n)
        bad = self._bad_rows(Xf)
        y_enc = self._encode_target(y)
        self._set_fallback(y)
        if bad.any():
            warnings.warn(
                f"{type(self).__name__}: {int(bad.sum())} of {n} training rows could not be "
                f"featurized (rows {np.flatnonzero(bad)[:10].tolist()}); they are left out of "
                "training and will be predicted with the fallback value",
                UserWarning,
                stacklevel=2,
            )
            keep = np.flatnonzero(~bad)
            if len(keep) == 0:
                raise ValueError(f"{type(self).__name__}: no training row could be featurized")
            Xf, y_enc = _take(Xf, keep), y_enc[keep]
        self.n_train_rows_ = n
        self.module_dims_ = self._infer_module_dims(Xf, y_enc)
        with self._rng_context():
            self._seed()
            super().fit(Xf, y_enc, **fit_params)
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """Continue training for ``max_epochs`` more epochs on the same kind of input.

        Parameters
        ----------
        X : structures or features, like in ``fit``
            Training input.
        y : array-like of shape (n_samples,)
            Targets.
        classes : ignored
            Present for API compatibility.
        **fit_params
            Passed to skorch's ``partial_fit``.

        Returns
        -------
        self
            The estimator.
        """
        if fit_params.get("_routing_method") == "fit":
            # skorch's own fit() calls partial_fit with data this class already prepared
            return super().partial_fit(X, y, **fit_params)
        if not getattr(self, "initialized_", False):
            return self.fit(X, y, **fit_params)
        Xf = self._featurize(X, fit=False)
        y = self._check_y(y, _n_rows(Xf))
        y_enc = self._encode_target(y, refit=False)
        with self._rng_context():
            super().partial_fit(Xf, y_enc, **fit_params)
        return self

    def _raw_output(self, X):
        """Module outputs for ``X`` (structures or features) and the rows needing the fallback."""
        if not getattr(self, "initialized_", False) or not hasattr(self, "featurizer_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call 'fit' with training data first"
            )
        Xf = self._featurize(X, fit=False)
        bad = self._bad_rows(Xf)
        n = _n_rows(Xf)
        if bad.all():
            return None, bad, n
        keep = np.flatnonzero(~bad)
        Xk = _take(Xf, keep) if bad.any() else Xf
        out = self.forward(Xk, training=False)
        return out.detach().cpu().numpy(), bad, n


@Substitution(**NETWORK_PARAMS)
class CrystalNetRegressor(CrystalNetMixin, NeuralNetRegressor):
    """skorch regressor base: standardised 1-D targets in and out.

    Parameters
    ----------
    module : type of torch.nn.Module
        The (uninstantiated) network.
    featurizer : transformer or None, default=None
        Applied when the model receives structures; ``None`` uses the model's
        default featurizer.
    random_state : int, RandomState or None, default=None
        Seeds weights, dropout and shuffling (same seed ⇒ same predictions).
    early_stopping : bool or int, default=False
        Patience in epochs (``True`` means 10) on a held-out
        ``validation_fraction``; the best epoch's weights are restored.
    validation_fraction : float, default=0.1
        Hold-out used when ``early_stopping`` is set and ``train_split`` is None.
    gradient_clipping : float or None, default=None
        Clip the gradient norm to this value.
    criterion : torch loss class, default=torch.nn.MSELoss
        The training loss (on standardised targets).
    train_split : callable or None, default=None
        skorch's internal validation split; ``None``: none unless ``early_stopping``.
    %(device)s
    **kwargs
        Any skorch ``NeuralNetRegressor`` parameter (``max_epochs``, ``lr``,
        ``batch_size``, ``optimizer``, ``module__*``, ``callbacks``…).
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

    def _encode_target(self, y, refit=True):
        y = np.asarray(y, dtype=np.float64)
        if refit:
            if y.ndim == 2:  # several targets: statistics per column
                std = y.std(axis=0)
                self.y_mean_, self.y_std_ = y.mean(axis=0), np.where(std > 0, std, 1.0)
            else:
                self.y_mean_ = float(y.mean())
                std = float(y.std())
                self.y_std_ = std if std > 0 else 1.0
        return ((y - self.y_mean_) / self.y_std_).astype(np.float32).reshape(len(y), -1)

    def _set_fallback(self, y):
        self.fallback_ = np.median(y, axis=0) if np.ndim(y) == 2 else float(np.median(y))

    @available_if(lambda self: False)
    def predict_proba(self, X):
        """Not available: a regressor has no class probabilities (use ``predict``)."""
        raise AttributeError(f"{type(self).__name__} is a regressor and has no predict_proba; use predict")

    def predict(self, X):
        """Predict targets (in the user's units) for structures or features.

        Parameters
        ----------
        X : structures or features, like in ``fit``

        Returns
        -------
        y_pred : ndarray of shape (n_samples,), or (n_samples, n_targets) if fitted on a 2-D ``y``
        """
        out, bad, n = self._raw_output(X)
        if np.ndim(self.y_mean_):
            pred = np.tile(np.asarray(self.fallback_, dtype=np.float64), (n, 1))
            if out is not None:
                pred[~bad] = out.reshape(len(out), -1).astype(np.float64) * self.y_std_ + self.y_mean_
            return pred
        pred = np.full(n, self.fallback_, dtype=np.float64)
        if out is not None:
            pred[~bad] = out.reshape(len(out), -1)[:, 0].astype(np.float64) * self.y_std_ + self.y_mean_
        return pred


@Substitution(**NETWORK_PARAMS)
class CrystalNetClassifier(CrystalNetMixin, NeuralNetClassifier):
    """skorch classifier base: any hashable labels in, the same labels out.

    Parameters
    ----------
    module : type of torch.nn.Module
        The (uninstantiated) network; it returns logits.
    featurizer, random_state, early_stopping, validation_fraction, gradient_clipping
        As in :class:`CrystalNetRegressor`.
    criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        The training loss (on logits).
    train_split : callable or None, default=None
        skorch's internal validation split; ``None``: none unless ``early_stopping``.
    %(device)s
    **kwargs
        Any skorch ``NeuralNetClassifier`` parameter.
    """

    _regression = False

    def __init__(
        self,
        module,
        *,
        featurizer=None,
        random_state=None,
        early_stopping=False,
        validation_fraction=0.1,
        gradient_clipping=None,
        criterion=torch.nn.CrossEntropyLoss,
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

    @property
    def _default_callbacks(self):
        # skorch's valid_acc compares net.predict (user labels) with the encoded y: score on codes instead
        return [(name, EpochScoring(_encoded_accuracy, name="valid_acc", lower_is_better=False))
                if name == "valid_acc" else (name, cb) for name, cb in super()._default_callbacks]

    @property
    def classes_(self):
        """The class labels seen in ``fit``, in the order of ``predict_proba`` columns."""
        try:
            return self.label_encoder_.classes_
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} is not fitted: no classes_") from None

    def _encode_target(self, y, refit=True):
        if refit:
            self.label_encoder_ = LabelEncoder().fit(y)
        try:
            return self.label_encoder_.transform(y).astype(np.int64)
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: y holds labels unseen in fit: {exc}") from exc

    def _set_fallback(self, y):
        codes = self.label_encoder_.transform(y)
        counts = np.bincount(codes, minlength=len(self.classes_))
        self.fallback_proba_ = (counts / counts.sum()).astype(np.float64)

    def predict_proba(self, X):
        """Class probabilities, columns ordered as ``classes_``.

        Parameters
        ----------
        X : structures or features, like in ``fit``

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        out, bad, n = self._raw_output(X)
        proba = np.tile(self.fallback_proba_, (n, 1))
        if out is not None:
            proba[~bad] = torch.softmax(torch.as_tensor(out, dtype=torch.float64), dim=-1).numpy()
        return proba

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : structures or features, like in ``fit``

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)  # raises NotFittedError before fit
        return self.classes_[np.argmax(proba, axis=1)]
