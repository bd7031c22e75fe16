"""Gradient-boosted-tree baseline (xgboost) usable exactly like the deep models."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.pipeline import FeatureUnion
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ..featurizers.composition import CompositionFeatures
from .._citations import CHEN2016_XGBOOST, CLAUSSEN2020
from ..featurizers.faithful import ElectronCounts, SpaceGroupEncoding
from ..utils._param_validation import HasMethods, Interval, validate_parameter_constraints
from ..utils.validation import check_target, is_structure_input
from ._input import featurize_input

__all__ = ["GBTClassifier", "GBTRegressor", "default_gbt_featurizer"]


def default_gbt_featurizer(n_jobs=None):
    """Build the GBT's default featurizer: electron counts ⊕ ordinal symmetry ⊕ matminer composition.

    The coarse composition + symmetry description of Claussen et al. (2020),
    where electron counts and the space group (number, point group, crystal
    system) decide most splits.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Workers of the ``FeatureUnion`` (one per part).

    Returns
    -------
    sklearn.pipeline.FeatureUnion
        ``ElectronCounts`` ⊕ ``SpaceGroupEncoding(encoding="ordinal")`` ⊕
        ``CompositionFeatures``.
    """
    return FeatureUnion(
        [
            ("electrons", ElectronCounts()),
            ("symmetry", SpaceGroupEncoding(encoding="ordinal")),
            ("composition", CompositionFeatures()),
        ],
        n_jobs=n_jobs,
    )


class _GBTBase(BaseEstimator):
    _citations = (CLAUSSEN2020, CHEN2016_XGBOOST)
    # those of the default featurizer (electron counts per cell: not supercell invariant)
    _invariances = ("rotation", "translation", "permutation", "integer_shift")
    _parameter_constraints = {
        "featurizer": [HasMethods(["fit", "transform"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_depth": [Interval(Integral, 0, None, closed="left")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "colsample_bytree": [Interval(Real, 0, 1, closed="right")],
        "reg_lambda": [Interval(Real, 0, None, closed="left")],
        "min_child_weight": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "xgb_params": [dict, None],
    }

    def __init__(self, featurizer=None, n_estimators=600, learning_rate=0.05, max_depth=6, subsample=0.8,
                 colsample_bytree=0.8, reg_lambda=1.0, min_child_weight=1.0, n_jobs=None, random_state=None,
                 xgb_params=None):
        self.featurizer = featurizer
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.min_child_weight = min_child_weight
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.xgb_params = xgb_params

    def citations(self):
        """References of the method.

        Returns
        -------
        list of str
        """
        return list(self._citations)

    def _default_featurizer(self):
        """The featurizer applied to structure input when ``featurizer`` is None."""
        return default_gbt_featurizer()

    def _check_params(self):
        """Validate the declared parameter constraints (once per ``fit``)."""
        validate_parameter_constraints(self._parameter_constraints, self.get_params(deep=False), type(self).__name__)

    def _xgb_kwargs(self):
        rs = self.random_state
        seed = rs if isinstance(rs, (int, np.integer)) else int(check_random_state(rs).randint(0, 2**31 - 1))
        kw = dict(
            n_estimators=self.n_estimators, learning_rate=self.learning_rate, max_depth=self.max_depth,
            subsample=self.subsample, colsample_bytree=self.colsample_bytree, reg_lambda=self.reg_lambda,
            min_child_weight=self.min_child_weight, n_jobs=self.n_jobs, random_state=seed, tree_method="hist",
        )
        kw.update(self.xgb_params or {})
        return kw

    def _features(self, X, fit):
        if not is_structure_input(X):
            featurize_input(self, X, fit, self._default_featurizer)  # records / checks featurizer_
            # a numeric matrix: scikit-learn's own validation (NaN allowed, xgboost routes it)
            return validate_data(self, X, reset=fit, dtype=np.float64, ensure_all_finite="allow-nan",
                                 accept_sparse=("csr", "csc"))
        Xf = featurize_input(self, X, fit, self._default_featurizer)
        Xf = check_array(Xf, dtype=np.float64, ensure_all_finite="allow-nan")
        if fit:
            self.n_features_in_ = Xf.shape[1]
        elif Xf.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {Xf.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")
        return Xf

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags

    def get_feature_names(self):
        """Names of the features the trees were trained on (featurizer output names)."""
        check_is_fitted(self, "model_")
        if self.featurizer_ is not None:
            return np.asarray(self.featurizer_.get_feature_names_out(), dtype=object)
        return np.array([f"x{i}" for i in range(self.n_features_in_)], dtype=object)

    @property
    def feature_importances_(self):
        """xgboost's feature importances (gain), aligned with :meth:`get_feature_names`."""
        check_is_fitted(self, "model_")
        return self.model_.feature_importances_


class GBTRegressor(RegressorMixin, _GBTBase):
    """XGBoost regressor on structures (default features) or on any feature matrix.

    Given structures (a DataFrame with a ``structure`` column, a Series or a
    list) it applies ``featurizer`` — by default electron counts, ordinal
    symmetry and matminer composition features (:func:`default_gbt_featurizer`;
    featurization is cached across fits) — and trains xgboost; given a
    numeric matrix (a featurizer step before it in a Pipeline) it trains on
    it directly.  NaN features are allowed (xgboost learns a default
    direction); NaN targets raise.

    Parameters
    ----------
    featurizer : transformer or None, default=None
        Used when fitted on structures; ``None`` means :func:`default_gbt_featurizer`.
    n_estimators, learning_rate, max_depth, subsample, colsample_bytree, reg_lambda, min_child_weight
        xgboost hyperparameters.
    n_jobs : int or None, default=None
        xgboost threads (``None``: xgboost's default).
    random_state : int, RandomState or None, default=None
    xgb_params : dict or None, default=None
        Any other ``xgboost.XGBRegressor`` arguments (e.g. ``{"device": "cuda"}``).

    Attributes
    ----------
    model_ : xgboost.XGBRegressor
    featurizer_ : transformer or None
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.model_selection import cross_val_score
    >>> from skcrystal.datasets import load_perovskites
    >>> from skcrystal.models import GBTRegressor
    >>> df = load_perovskites(n_samples=200)
    >>> scores = cross_val_score(GBTRegressor(n_estimators=50), df["structure"], df["heat_ref"], cv=3)
    """

    def fit(self, X, y):
        """Featurize if needed and fit the trees.

        Parameters
        ----------
        X : structures or feature matrix
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        from xgboost import XGBRegressor

        self._check_params()
        Xf = self._features(X, fit=True)
        y = check_target(y, Xf.shape[0])
        self.model_ = XGBRegressor(**self._xgb_kwargs()).fit(Xf, y)
        return self

    def predict(self, X):
        """Predict targets.

        Parameters
        ----------
        X : structures or feature matrix

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict(self._features(X, fit=False)), dtype=np.float64)


class GBTClassifier(ClassifierMixin, _GBTBase):
    """XGBoost classifier on structures (default features) or on any feature matrix.

    Any hashable labels (space-group numbers, ``"metal"``/``"insulator"``,
    topological classes) are label-encoded; ``classes_`` keeps them.

    Parameters
    ----------
    featurizer : transformer or None, default=None
        As in :class:`GBTRegressor`.
    n_estimators, learning_rate, max_depth, subsample, colsample_bytree : xgboost hyperparameters
        As in :class:`GBTRegressor`.
    reg_lambda, min_child_weight, n_jobs, random_state, xgb_params : see GBTRegressor
        As in :class:`GBTRegressor`.

    Attributes
    ----------
    classes_ : ndarray
    model_ : xgboost.XGBClassifier
    """

    def fit(self, X, y):
        """Featurize if needed and fit the trees.

        Parameters
        ----------
        X : structures or feature matrix
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        from xgboost import XGBClassifier

        self._check_params()
        Xf = self._features(X, fit=True)
        y = check_target(y, Xf.shape[0], classification=True)
        check_classification_targets(y)
        self.label_encoder_ = LabelEncoder().fit(y)
        self.classes_ = self.label_encoder_.classes_
        codes = self.label_encoder_.transform(y)
        if len(self.classes_) == 1:
            self.model_ = _Constant(0)
        else:
            self.model_ = XGBClassifier(**self._xgb_kwargs()).fit(Xf, codes)
        return self

    def predict_proba(self, X):
        """Class probabilities (columns ordered as ``classes_``).

        Parameters
        ----------
        X : structures or feature matrix

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "model_")
        return self.model_.predict_proba(self._features(X, fit=False))

    def predict(self, X):
        """Predict labels.

        Parameters
        ----------
        X : structures or feature matrix

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "model_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class _Constant:
    """Stand-in model when the training labels hold a single class."""

    feature_importances_ = None

    def __init__(self, code):
        self.code = code

    def predict_proba(self, X):
        return np.ones((len(X), 1))
