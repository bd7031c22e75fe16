"""The :class:`StructureFeaturizer` base every skcrystal featurizer derives from.

Public ``fit``/``transform`` do the common work once: validate the frame of
structures (:func:`skcrystal.utils.validation.check_structures`), batch the
structures over ``n_jobs`` joblib workers in even slices (only when the work
is worth the workers' start-up, see :data:`PARALLEL_MIN_SECONDS`; any joblib
backend, Dask and Ray included), show a tqdm bar when ``verbose``, apply the
``on_error`` policy, cache per-structure results in memory (so a grid search
does not featurize the same structure twice) and, with ``memory=``, on disk
(so a later run or another process does not either), and name the output
columns.  A subclass implements only the per-structure work
(``_featurize_one``) and the column names (``_feature_names``), plus an
optional ``_fit`` hook for state learned from the training structures.
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from abc import ABCMeta, abstractmethod
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

from .utils._param_validation import HasMethods, Interval, StrOptions, validate_parameter_constraints
from .utils._docstring import FEATURIZER_PARAMS, Substitution
from .utils.validation import check_structures, row_labels

__all__ = [
    "PARALLEL_MIN_SECONDS",
    "StructureFeaturizer",
    "FeaturizationError",
    "clear_feature_cache",
    "structure_hash",
]

#: ``n_jobs`` starts joblib workers only when the structures left are projected to take
#: longer than this many seconds in this process (projected from the first ones, timed
#: serially and kept).  A fresh worker imports numpy, pymatgen and the featurizer's
#: libraries before its first structure (2-5 s on a laptop), so a cheap featurizer on a
#: small frame is faster without them.  Inside a ``joblib.parallel_config`` context that
#: names another backend (``"dask"``, ``"ray"``, ``"threading"``…) the work always goes
#: to that backend, and ``0`` always fans out.
PARALLEL_MIN_SECONDS = 5.0


class FeaturizationError(ValueError):
    """Featurizing one structure failed; the message names the row and the featurizer."""


def structure_hash(s):
    """Return a content hash of a structure (lattice, coordinates, species, occupancies).

    Two structures with the same hash give the same features with any
    deterministic featurizer; used as the cache key.

    Parameters
    ----------
    s : Structure
        The structure.

    Returns
    -------
    str
        32 hexadecimal digits.
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


class _DiskMiss(Exception):
    """Raised inside the on-disk cache function on a lookup that found nothing."""


_LOOKUP = object()


def _cached_features(featurizer_key, structure_key, features):
    """The on-disk cache entry of one structure (``joblib.Memory`` stores what this returns).

    The entry is keyed by ``featurizer_key`` (class, parameters, fitted state that
    changes the output, skcrystal version) and ``structure_key``
    (:func:`structure_hash`); ``features`` is not part of the key.  Called with
    ``features=_LOOKUP`` it only reads: a miss raises :class:`_DiskMiss`, so nothing
    is stored.
    """
    if features is _LOOKUP:
        raise _DiskMiss(structure_key)
    return features


def _disk_get(cached, key):
    try:
        return cached(key[0], key[1], _LOOKUP)
    except _DiskMiss:
        return None


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


def _parallel_plan(n_jobs):
    """``(n_jobs for Parallel, effective number of workers, explicit backend?)``.

    ``n_jobs=None`` means what ``joblib.Parallel(n_jobs=None)`` means: the
    ``parallel_config`` context's value, else the active backend's default
    (1 for loky, every cluster core for Dask).  A backend is *explicit* when a
    ``parallel_config`` context chose one other than the default loky.
    """
    from joblib import effective_n_jobs
    from joblib.parallel import get_active_backend

    backend, context_n_jobs = get_active_backend()
    if n_jobs is None:
        n_jobs = context_n_jobs if context_n_jobs is not None else getattr(backend, "default_n_jobs", 1)
    if n_jobs == 1:
        return 1, 1, False
    explicit = type(backend).__name__ != "LokyBackend"
    return n_jobs, max(1, int(effective_n_jobs(n_jobs))), explicit


@Substitution(**FEATURIZER_PARAMS)
class StructureFeaturizer(TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of skcrystal featurizers (scikit-learn transformers).

    Subclasses declare their own ``__init__`` listing every parameter
    (including ``n_jobs``, ``verbose``, ``on_error`` and ``memory``) and implement:

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
    symmetries its output provably has, checked by ``tests/test_invariance.py``).

    Changing a parameter that shapes the output (``set_params``) after
    ``fit`` makes ``transform`` raise :class:`~sklearn.exceptions.NotFittedError`
    until the featurizer is fitted again.

    Parameters
    ----------
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s
    """

    _disorder = "raise"
    _min_distance = 0.5
    _output_kind = "numeric"
    _cacheable = True
    _cache_ignore = ("n_jobs", "verbose", "on_error", "memory")
    _citations: tuple = ()
    #: What each constructor parameter may be (checked once per ``fit``); subclasses merge
    #: these entries into their own: ``{**StructureFeaturizer._parameter_constraints, ...}``.
    _parameter_constraints: dict = {
        "n_jobs": [Interval(Integral, 1, None, closed="left"), Interval(Integral, None, -1, closed="right"), None],
        "verbose": ["verbose"],
        "on_error": [StrOptions({"raise", "nan"})],
        "memory": [None, str, os.PathLike, HasMethods(["cache"])],
    }

    def __init__(self, n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

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
        """Fit to the structures, then featurize them (validating only once).

        Parameters
        ----------
        X : DataFrame with a ``structure`` column, Series or list of Structures
            The structures (anything :func:`~skcrystal.check_structures` accepts).
        y : ignored
            Present for the scikit-learn API.
        **fit_params : dict
            Ignored (the featurizers take no fit parameters).

        Returns
        -------
        ndarray or DataFrame
            Same as :meth:`transform` on ``X``.
        """
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
        """Key of everything but the structure that decides the output (also across processes)."""
        from joblib import hash as joblib_hash

        from . import __version__

        params = {k: v for k, v in self.get_params(deep=False).items() if k not in self._cache_ignore}
        cls = type(self).__module__ + "." + type(self).__qualname__
        return joblib_hash((cls, sorted(params.items(), key=lambda kv: kv[0]), self._cache_state(), __version__))

    def _disk_cache(self):
        """The on-disk cache function (``joblib.Memory.cache``), or None without ``memory``."""
        memory = getattr(self, "memory", None)  # a subclass whose __init__ forgot it: no disk cache
        if memory is None or not self._cacheable:
            return None
        if isinstance(memory, (str, os.PathLike)):
            from joblib import Memory

            # a str, never a Path: joblib puts the entries of the two in different sub-folders
            memory = Memory(os.fspath(memory), verbose=0)
        if getattr(memory, "location", None) is None:
            return None
        return memory.cache(_cached_features, ignore=["features"], verbose=0)

    def _transform_structures(self, structures, labels, memory_cache=True):
        """Featurize validated structures: in-memory cache, then disk cache, then the work.

        ``memory_cache=False`` (the streaming path) neither reads nor fills the
        in-memory cache, so memory stays bounded however many structures pass.
        """
        n = len(structures)
        use_cache = self._cacheable
        results = [None] * n
        keys = disk = None
        todo = list(range(n))
        if use_cache:
            fp = self._fingerprint()
            keys = [(fp, structure_hash(s)) for s in structures]
            if memory_cache:
                todo = []
                for i, key in enumerate(keys):
                    hit = _CACHE.get(key)
                    if hit is None:
                        todo.append(i)
                    else:
                        results[i] = hit
            disk = self._disk_cache()
            if disk is not None and todo:
                missing = []
                for i in todo:
                    hit = _disk_get(disk, keys[i])
                    if hit is None:
                        missing.append(i)
                    else:
                        results[i] = hit
                        if memory_cache:
                            _CACHE.put(keys[i], hit)
                todo = missing
        errors = []
        if todo:
            errors = self._run(structures, todo, results)
            if use_cache:
                failed = {i for i, _ in errors}
                for i in todo:
                    if i not in failed:
                        if memory_cache:
                            _CACHE.put(keys[i], results[i])
                        if disk is not None:
                            disk(keys[i][0], keys[i][1], results[i])
        if errors:
            self._report_errors(structures, labels, errors)
        return self._assemble(results)

    def _run(self, structures, todo, results):
        """Featurize ``structures[i] for i in todo`` into ``results``; return ``[(i, message)]`` errors.

        With the default (loky) backend the first structures are done here,
        timed, and the rest goes to ``n_jobs`` workers only when it is
        projected to take longer than :data:`PARALLEL_MIN_SECONDS`; under an
        explicit ``joblib.parallel_config`` backend (Dask, Ray, threads…) all
        of it goes to that backend.
        """
        subset = [structures[i] for i in todo]
        errors = []
        n_jobs, n_workers, explicit = _parallel_plan(self.n_jobs)
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(subset), desc=type(self).__name__)
        try:
            start = 0
            if n_workers == 1 or len(subset) < 2 or not explicit:
                start = self._run_serial(subset, todo, results, errors, bar, probe=n_workers > 1)
            if start < len(subset):
                if bar is not None:
                    bar.set_description(f"{type(self).__name__} ({n_workers} workers)")
                self._run_parallel(subset, start, todo, results, errors, bar, n_jobs, n_workers)
        finally:
            if bar is not None:
                bar.close()
        return errors

    def _run_serial(self, subset, todo, results, errors, bar, probe):
        """Featurize in this process; with ``probe``, stop where fanning out the rest pays.

        Returns the position of the first structure not done.
        """
        min_seconds = PARALLEL_MIN_SECONDS
        if probe and min_seconds <= 0:
            return 0
        t0 = time.perf_counter()
        t_first = 0.0
        for k, s in enumerate(subset):
            res, err = _run_chunk(self, [s], k)
            results[todo[k]] = res[0]
            errors.extend((todo[p], m) for p, m in err)
            if bar is not None:
                bar.update(1)
            left = len(subset) - k - 1
            if not probe or left < 2:
                continue
            elapsed = time.perf_counter() - t0
            if k == 0:
                # the first structure may carry one-off set-up (tables, imports): judge by it
                # alone only when it already outlasts a worker's start-up
                t_first = elapsed
                projected = elapsed * left if elapsed >= min_seconds else 0.0
            else:
                projected = (elapsed - t_first) / k * left
            if projected > min_seconds:
                return k + 1
        return len(subset)

    def _run_parallel(self, subset, start, todo, results, errors, bar, n_jobs, n_workers):
        """Send ``subset[start:]`` to the joblib backend in even slices; results in row order."""
        # what is pickled to the workers: plain arrays where the featurizer allows it
        inputs = [self._worker_input(s) for s in subset[start:]]
        # a few slices per worker keeps the bar moving and balances uneven cells
        n_slices = min(len(inputs), max(1, n_workers * 4))
        slices = list(gen_even_slices(len(inputs), n_slices))
        from joblib.parallel import get_active_backend

        # results stream back slice by slice (the bar moves) where the backend can; Ray's
        # joblib backend cannot, so there the bar advances when every slice is back
        streams = getattr(get_active_backend()[0], "supports_return_generator", False)
        gen = Parallel(n_jobs=n_jobs, return_as="generator" if streams else "list")(
            delayed(_run_chunk)(self, inputs[sl], start + sl.start) for sl in slices
        )
        for sl, (res, err) in zip(slices, gen):
            for k, r in zip(range(start + sl.start, start + sl.stop), res):
                results[todo[k]] = r
            errors.extend((todo[p], m) for p, m in err)
            if bar is not None:
                bar.update(sl.stop - sl.start)

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
