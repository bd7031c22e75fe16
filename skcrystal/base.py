"""The :class:`StructureFeaturizer` base every skcrystal featurizer derives from.

Public ``fit``/``transform`` do the common work once: validate the frame of
structures (:func:`skcrystal.utils.validation.check_structures`), batch the
structures over ``n_jobs`` joblib workers in even slices, show a tqdm bar when
``verbose``, apply the ``on_error`` policy, cache per-structure results so a
grid search does not featurize the same structure twice, and name the output
columns.  A subclass implements only the per-structure work
(``_featurize_one``) and the column names (``_feature_names``), plus an
optional ``_fit`` hook for state learned from the training structures.
"""

from __future__ import annotations

import hashlib
from abc import ABCMeta, abstractmethod
import warnings
from collections import OrderedDict
from threading import Lock

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import gen_even_slices
from sklearn.utils.parallel import Parallel, delayed
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from numbers import Integral

from .utils._param_validation import Interval, StrOptions, validate_parameter_constraints
from .utils.validation import check_structures, row_labels

__all__ = ["StructureFeaturizer", "FeaturizationError", "clear_feature_cache", "structure_hash"]


class FeaturizationError(ValueError):
    """Featurizing one structure failed; the message names the row and the featurizer."""


def structure_hash(s):
    """A content hash of a structure (lattice, coordinates, species, occupancies).

    Two structures with the same hash give the same features with any
    deterministic featurizer; used as the cache key.
    """
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(np.round(s.lattice.matrix, 8)).tobytes())
    h.update(np.ascontiguousarray(np.round(s.frac_coords, 8)).tobytes())
    h.update("|".join(str(site.species) for site in s).encode())
    for key in sorted(s.site_properties):
        h.update(key.encode())
        h.update(repr(s.site_properties[key]).encode())
    return h.hexdigest()


class _FeatureCache:
    """A process-wide, size-bounded LRU cache of per-structure features."""

    def __init__(self, max_entries=200_000):
        self.max_entries = max_entries
        self._store = OrderedDict()
        self._lock = Lock()

    def get(self, key):
        with self._lock:
            val = self._store.get(key)
            if val is not None:
                self._store.move_to_end(key)
            return val

    def put(self, key, value):
        with self._lock:
            self._store[key] = value
            self._store.move_to_end(key)
            while len(self._store) > self.max_entries:
                self._store.popitem(last=False)

    def clear(self):
        with self._lock:
            self._store.clear()

    def __len__(self):
        return len(self._store)


_CACHE = _FeatureCache()


def clear_feature_cache():
    """Empty the in-memory featurization cache shared by all featurizers."""
    _CACHE.clear()


def _run_chunk(featurizer, structures, start):
    """Featurize one slice; return (results, errors) with errors as (position, message)."""
    results, errors = [], []
    for k, s in enumerate(structures):
        try:
            results.append(featurizer._featurize_one(s))
        except Exception as exc:  # noqa: BLE001 - reported with the row by the caller
            results.append(None)
            errors.append((start + k, f"{type(exc).__name__}: {exc}"))
    return results, errors


def _same_value(a, b):
    """Whether two parameter values are the same (arrays compared by content)."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return np.array_equal(np.asarray(a), np.asarray(b))
        except Exception:  # noqa: BLE001 - incomparable means changed
            return False
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001
        return False


class StructureFeaturizer(TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of skcrystal featurizers (scikit-learn transformers).

    Subclasses declare their own ``__init__`` listing every parameter
    (including ``n_jobs``, ``verbose`` and ``on_error``) and implement:

    ``_featurize_one(structure) -> ndarray``
        Features of one structure (1-D float array, or any object when
        ``_output_kind = "object"``).
    ``_feature_names() -> list of str``
        Output column names (after fit).
    ``_fit(structures)`` (optional)
        Learn state from the training structures; store it in attributes
        ending in ``_``.

    Class attributes tune the common behaviour: ``_disorder`` (policy passed
    to :func:`~skcrystal.utils.validation.check_structures`),
    ``_min_distance``, ``_output_kind`` (``"numeric"`` or ``"object"``),
    ``_cacheable`` (results depend on parameters only, so they may be cached)
    and ``_cache_ignore`` (parameters that do not change the result).  Every
    concrete featurizer also declares ``_parameter_constraints`` (what each
    parameter may be, checked once per ``fit``) and ``_invariances`` (the
    symmetries its output provably has, checked by ``tests/test_invariance.py``;
    see :doc:`/contributing`).

    Changing a parameter that shapes the output (``set_params``) after
    ``fit`` makes ``transform`` raise :class:`~sklearn.exceptions.NotFittedError`
    until the featurizer is fitted again.

    Parameters
    ----------
    n_jobs : int or None, default=None
        Number of joblib workers (``None`` means 1 unless in a
        ``joblib.parallel_backend`` context; ``-1`` all cores).
    verbose : int, default=0
        Show a tqdm progress bar when > 0.
    on_error : {"raise", "nan"}, default="raise"
        ``"raise"`` stops at the first structure that cannot be featurized and
        names its row; ``"nan"`` fills that row with NaN and warns with the
        count and rows (rows are never dropped).
    """

    _disorder = "raise"
    _min_distance = 0.5
    _output_kind = "numeric"
    _cacheable = True
    _cache_ignore = ("n_jobs", "verbose", "on_error")
    _citations: tuple = ()
    #: What each constructor parameter may be (checked once per ``fit``); subclasses merge
    #: these entries into their own: ``{**StructureFeaturizer._parameter_constraints, ...}``.
    _parameter_constraints: dict = {
        "n_jobs": [Interval(Integral, 1, None, closed="left"), Interval(Integral, None, -1, closed="right"), None],
        "verbose": ["verbose"],
        "on_error": [StrOptions({"raise", "nan"})],
    }

    def __init__(self, n_jobs=None, verbose=0, on_error="raise"):
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error

    # ------------------------------------------------------------------ hooks
    def _fit(self, structures):
        """Learn state from the training structures (default: nothing)."""

    @abstractmethod
    def _featurize_one(self, structure):
        """Features of one (validated) structure."""

    @abstractmethod
    def _feature_names(self):
        """Output column names, valid after ``_fit``."""

    def _check_params(self):
        """Validate parameters at fit time: the declared constraints, then cross-parameter rules.

        Subclasses declare ``_parameter_constraints`` and extend this method
        (calling ``super()._check_params()`` first) only for rules that involve
        several parameters.
        """
        validate_parameter_constraints(self._parameter_constraints, self.get_params(deep=False), type(self).__name__)

    def _cache_state(self):
        """Extra fitted state that changes the output (default: none)."""
        return ()

    def _output_params(self):
        """The parameters that shape the output (all but ``_cache_ignore``)."""
        return {k: v for k, v in self.get_params(deep=False).items() if k not in self._cache_ignore}

    def _remember_fit_params(self):
        self._fit_params = self._output_params()

    def _check_params_unchanged(self):
        """Raise NotFittedError if a parameter that shapes the output changed since ``fit``."""
        fitted = getattr(self, "_fit_params", None)
        if fitted is None:
            return
        now = self._output_params()
        changed = [k for k in now if k not in fitted or not _same_value(now[k], fitted[k])]
        if changed:
            what = ", ".join(f"{k}: {fitted.get(k)!r} -> {now[k]!r}" for k in changed[:3])
            raise NotFittedError(
                f"{type(self).__name__}: parameters changed since fit ({what}); the fitted state and output "
                "names belong to the old values. Call fit (or fit_transform) again before transform."
            )

    # ----------------------------------------------------------------- public
    def citations(self):
        """BibTeX-like references for the method this featurizer implements.

        Returns
        -------
        list of str
        """
        return list(self._citations)

    def _validate(self, X):
        return check_structures(X, disorder=self._disorder, min_distance=self._min_distance)

    def fit(self, X, y=None):
        """Validate the structures and learn whatever the featurizer needs.

        Parameters
        ----------
        X : DataFrame with a ``structure`` column, Series, or list of structures
            Training structures.
        y : ignored

        Returns
        -------
        self : object
        """
        self._check_params()
        structures = self._validate(X)
        self._fit(structures)
        self.feature_names_out_ = np.asarray(self._feature_names(), dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        self._remember_fit_params()
        return self

    def transform(self, X):
        """Featurize structures.

        Parameters
        ----------
        X : DataFrame with a ``structure`` column, Series, or list of structures
            Structures to featurize.

        Returns
        -------
        X_new : ndarray of shape (n_structures, ``n_features_out_``)
            Float features (an object array for graph/token featurizers).
        """
        check_is_fitted(self, "feature_names_out_")
        self._check_params_unchanged()
        structures = self._validate(X)
        return self._transform_structures(structures, row_labels(X))

    def fit_transform(self, X, y=None, **fit_params):
        """Fit to the structures, then featurize them (validating only once)."""
        self._check_params()
        structures = self._validate(X)
        self._fit(structures)
        self.feature_names_out_ = np.asarray(self._feature_names(), dtype=object)
        self.n_features_out_ = len(self.feature_names_out_)
        self._remember_fit_params()
        return self._transform_structures(structures, row_labels(X))

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        Parameters
        ----------
        input_features : ignored
            Present for API compatibility (the input is structures).

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    # --------------------------------------------------------------- plumbing
    def _fingerprint(self):
        params = {k: v for k, v in self.get_params(deep=False).items() if k not in self._cache_ignore}
        text = type(self).__module__ + "." + type(self).__qualname__ + repr(sorted(params.items(), key=str))
        text += repr(self._cache_state())
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def _transform_structures(self, structures, labels):
        n = len(structures)
        use_cache = self._cacheable
        results = [None] * n
        keys = None
        todo = list(range(n))
        if use_cache:
            fp = self._fingerprint()
            keys = [(fp, structure_hash(s)) for s in structures]
            todo = []
            for i, key in enumerate(keys):
                hit = _CACHE.get(key)
                if hit is None:
                    todo.append(i)
                else:
                    results[i] = hit
        errors = []
        if todo:
            errors = self._run(structures, todo, results)
            if use_cache:
                failed = {i for i, _ in errors}
                for i in todo:
                    if i not in failed:
                        _CACHE.put(keys[i], results[i])
        if errors:
            self._report_errors(structures, labels, errors)
        return self._assemble(results)

    def _run(self, structures, todo, results):
        n_jobs = self.n_jobs if self.n_jobs is not None else 1
        subset = [structures[i] for i in todo]
        errors = []
        if n_jobs == 1 or len(subset) < 2:
            it = enumerate(subset)
            if self.verbose:
                from tqdm.auto import tqdm

                it = tqdm(it, total=len(subset), desc=type(self).__name__)
            for k, s in it:
                res, err = _run_chunk(self, [s], k)
                results[todo[k]] = res[0]
                errors.extend((todo[p], m) for p, m in err)
            return errors
        from joblib import effective_n_jobs

        # what is pickled to the workers: plain arrays where the featurizer allows it
        subset = [self._worker_input(s) for s in subset]
        n_workers = effective_n_jobs(n_jobs)
        # a few slices per worker keeps the bar moving and balances uneven cells
        n_slices = min(len(subset), max(1, n_workers * 4))
        slices = list(gen_even_slices(len(subset), n_slices))
        gen = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_run_chunk)(self, subset[sl], sl.start) for sl in slices
        )
        if self.verbose:
            from tqdm.auto import tqdm

            gen = tqdm(gen, total=len(slices), desc=f"{type(self).__name__} ({n_workers} jobs)")
        for sl, (res, err) in zip(slices, gen):
            for k, r in zip(range(sl.start, sl.stop), res):
                results[todo[k]] = r
            errors.extend((todo[p], m) for p, m in err)
        return errors

    def _worker_input(self, structure):
        """What a joblib worker receives for one structure (and passes to ``_featurize_one``).

        The structure itself by default; featurizers that only need plain
        arrays override this (with :func:`skcrystal.utils.validation.structure_arrays`)
        so that workers are sent a few small numpy arrays instead of a
        pickled pymatgen object.
        """
        return structure

    def _report_errors(self, structures, labels, errors):
        def where(i):
            lab = labels[i]
            try:
                formula = structures[i].composition.reduced_formula
            except Exception:  # noqa: BLE001
                formula = "?"
            return f"row {i}" + ("" if lab == i else f" (index {lab!r})") + f" ({formula})"

        name = type(self).__name__
        if self.on_error == "raise":
            i, msg = errors[0]
            raise FeaturizationError(
                f"{name} could not featurize {where(i)}: {msg}. Fix or drop that structure, "
                f"or pass on_error='nan' to get a NaN row instead"
                + (f" ({len(errors)} rows failed in total)" if len(errors) > 1 else "")
            )
        rows = ", ".join(where(i) for i, _ in errors[:5])
        warnings.warn(
            f"{name}: {len(errors)} of {len(structures)} structures could not be featurized and "
            f"are NaN rows: {rows}{' …' if len(errors) > 5 else ''}; first error: {errors[0][1]}",
            UserWarning,
            stacklevel=4,
        )

    def _assemble(self, results):
        n_out = self.n_features_out_
        if self._output_kind == "object":
            out = np.empty((len(results), 1), dtype=object)
            for i, r in enumerate(results):
                out[i, 0] = r
            return out
        out = np.full((len(results), n_out), np.nan, dtype=np.float64)
        for i, r in enumerate(results):
            if r is not None:
                out[i] = r
        return out

    def featurize_dataframe(self, df, column="structure", *, inplace=False):
        """Append this featurizer's columns to a DataFrame (matminer style).

        Parameters
        ----------
        df : DataFrame
            Must hold ``column``.
        column : str, default="structure"
        inplace : bool, default=False

        Returns
        -------
        DataFrame
            ``df`` with one column per feature, index preserved.
        """
        if not hasattr(self, "feature_names_out_"):
            self.fit(df[column])
        feats = pd.DataFrame(self.transform(df[column]), index=df.index, columns=self.get_feature_names_out())
        if inplace:
            for c in feats.columns:
                df[c] = feats[c]
            return df
        return pd.concat([df, feats], axis=1)
