"""The scikit-learn contract, checked on *every* public estimator of skcrystal.

Every public class in ``skcrystal.featurizers`` and ``skcrystal.models`` must be
registered in ``tests/_registry.py`` with a tiny, fast instance; this module then
checks, on a frame of real structures: sklearn's API checks, clone/get_params
round-trip, pickle round-trip with identical output, NotFittedError before fit,
``set_output(transform="pandas")`` keeping the index, GridSearchCV over one
parameter on a DataFrame of structures, ``n_jobs=1`` equals ``n_jobs=2``, and same
``random_state`` ⇒ same predictions.  Public data records (the dataclasses that
object-output featurizers return, e.g. ``CrystalformerInput``) are registered in
``RECORDS`` with their producer and checked to be what it returns, one per row.
"""

import dataclasses
import inspect
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import (
    check_estimator_cloneable,
    check_estimator_repr,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

import skcrystal
from _registry import ESTIMATORS, RECORDS


def _public_estimators():
    found = {}
    for mod in (skcrystal.featurizers, skcrystal.models):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) and issubclass(obj, BaseEstimator) and not inspect.isabstract(obj):
                found[name] = obj
    return found


def _entry(name):
    e = ESTIMATORS[name]
    return e[0], e[1], (e[2] if len(e) > 2 else None)


NAMES = sorted(ESTIMATORS)
SKORCH = {n for n in NAMES if hasattr(_entry(n)[0](), "module")}


def test_every_public_estimator_is_registered():
    missing = sorted(set(_public_estimators()) - set(ESTIMATORS))
    assert not missing, f"register these in tests/_registry.py so the contract suite covers them: {missing}"


def _public_records():
    return {name for mod in (skcrystal.featurizers, skcrystal.models) for name in mod.__all__
            if inspect.isclass(getattr(mod, name)) and dataclasses.is_dataclass(getattr(mod, name))}


def test_every_public_record_is_registered():
    missing = sorted(_public_records() - set(RECORDS))
    assert not missing, f"register these data records in tests/_registry.py RECORDS (with their producer): {missing}"
    assert set(RECORDS.values()) <= set(ESTIMATORS), "a record's producer must be a registered featurizer"


def _same(a, b):
    """Field-by-field equality of records, views and arrays (dtype included)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        return type(a) is type(b) and all(_same(getattr(a, f.name), getattr(b, f.name))
                                          for f in dataclasses.fields(a))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and \
            bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    return bool(a == b)


def _float_arrays(obj, where):
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _float_arrays(getattr(obj, f.name), f"{where}.{f.name}")
    elif isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        yield where, obj


@pytest.mark.parametrize("record", sorted(RECORDS))
def test_record_is_what_its_producer_returns(record, data):
    factory, _, _ = _entry(RECORDS[record])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = factory().fit(data).transform(data)
    assert len(out) == len(data), f"{RECORDS[record]} dropped rows"
    items = list(np.asarray(out, dtype=object).ravel())
    assert {type(x).__name__ for x in items} == {record}
    cls = type(items[0])
    if record in _public_records():
        assert getattr(skcrystal.featurizers, record, None) is cls or getattr(skcrystal.models, record, None) is cls
    for i, x in enumerate(items):
        assert _same(pickle.loads(pickle.dumps(x)), x), f"row {i}: {record} changes through pickle"
        for where, arr in _float_arrays(x, record):
            assert np.isfinite(arr).all(), f"row {i}: {where} holds non-finite values"
    assert record in repr(items[0]) or cls.__name__ in repr(items[0])
    if hasattr(cls, "invariant_view"):
        # the invariance suite compares records through this view: it must not be blind
        # (row 0 is a perovskite, the last row an MP cell)
        assert _same(items[0].invariant_view(), items[0].invariant_view())
        assert not _same(items[0].invariant_view(), items[-1].invariant_view()), \
            f"{record}.invariant_view() cannot tell a perovskite from an MP cell"


@pytest.fixture(scope="module")
def data(small_frame):
    return small_frame


def _fit(est, kind, X, df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "transformer":
            return est.fit(X)
        y = df["label"] if kind == "classifier" else df["target"]
        return est.fit(X, y)


def _output(est, kind, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "transformer":
            out = est.transform(X)
        elif kind == "classifier":
            out = est.predict_proba(X)
        else:
            out = est.predict(X)
    return _as_comparable(out)


def _as_comparable(out):
    if isinstance(out, pd.DataFrame):
        out = out.to_numpy()
    out = np.asarray(out)
    if out.dtype == object:
        flat = []
        for item in out.ravel():
            if hasattr(item, "__dict__") and not isinstance(item, np.ndarray):
                item = {k: v for k, v in vars(item).items()}
            flat.append(item)
        return flat
    return out


def _assert_same(a, b):
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            if isinstance(x, dict):
                assert x.keys() == y.keys()
                for k in x:
                    _assert_same_leaf(x[k], y[k])
            else:
                _assert_same_leaf(x, y)
    else:
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8, equal_nan=True)


def _assert_same_leaf(x, y):
    if hasattr(x, "detach"):
        x, y = x.detach().cpu().numpy(), y.detach().cpu().numpy()
    if isinstance(x, np.ndarray) or np.isscalar(x):
        np.testing.assert_allclose(np.asarray(x, dtype=float), np.asarray(y, dtype=float), rtol=1e-6, atol=1e-8,
                                   equal_nan=True)
    else:
        assert type(x) is type(y)


@pytest.mark.parametrize("name", NAMES)
def test_sklearn_api_checks(name):
    factory, _, _ = _entry(name)
    est = factory()
    cls_name = type(est).__name__
    check_parameters_default_constructible(cls_name, est)
    check_get_params_invariance(cls_name, est)
    check_set_params(cls_name, est)
    check_estimator_cloneable(cls_name, est)
    check_estimator_repr(cls_name, est)
    check_mixin_order(cls_name, est)
    if name not in SKORCH:
        # skorch itself stores history_/initialized_ in __init__; everything else must not
        check_no_attributes_set_in_init(cls_name, est)


@pytest.mark.parametrize("name", NAMES)
def test_clone_and_params_round_trip(name):
    factory, _, _ = _entry(name)
    est = factory()
    params = est.get_params(deep=False)
    c = clone(est)
    assert type(c) is type(est)
    p2 = c.get_params(deep=False)
    assert p2.keys() == params.keys()
    for k in params:
        assert repr(p2[k]) == repr(params[k]), k
    assert type(est)(**params).get_params(deep=False).keys() == params.keys()


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_error(name, data):
    factory, kind, _ = _entry(name)
    est = factory()
    X = data["structure"]
    with pytest.raises(NotFittedError):
        _output(est, kind, X)
    if kind == "classifier":
        with pytest.raises(NotFittedError):
            est.predict(X)


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip(name, data):
    factory, kind, _ = _entry(name)
    X = data["structure"]
    est = _fit(factory(), kind, X, data)
    before = _output(est, kind, X)
    est2 = pickle.loads(pickle.dumps(est))
    _assert_same(before, _output(est2, kind, X))


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_keeps_rows(name, data):
    factory, kind, _ = _entry(name)
    est = factory()
    X = data["structure"]
    assert _fit(est, kind, X, data) is est
    out = _output(est, kind, X)
    assert len(out) == len(X), "a row was dropped"


@pytest.mark.parametrize("name", [n for n in NAMES if _entry(n)[1] == "transformer"])
def test_set_output_pandas_keeps_index(name, data):
    factory, kind, _ = _entry(name)
    X = data[["structure"]]
    est = factory().set_output(transform="pandas")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = est.fit(X).transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.index) == list(data.index)
    assert list(out.columns) == list(est.get_feature_names_out())
    assert len(set(out.columns)) == out.shape[1], "feature names must be unique"


@pytest.mark.parametrize("name", NAMES)
def test_grid_search_on_structure_frame(name, data):
    factory, kind, grid = _entry(name)
    est = factory()
    cv = KFold(3, shuffle=True, random_state=0)
    if kind == "transformer":
        if _as_comparable(est.fit(data["structure"].iloc[:2]).transform(data["structure"].iloc[:2])) is not None \
                and getattr(est, "_output_kind", "numeric") == "object":
            pytest.skip("object-output featurizers are grid-searched with their model in their own tests")
        from sklearn.impute import SimpleImputer

        pipe = make_pipeline(est, SimpleImputer(keep_empty_features=True), Ridge())
        grid = grid or {f"{type(est).__name__.lower()}__on_error": ["raise", "nan"]}
        gs = GridSearchCV(pipe, grid, cv=cv, scoring="neg_mean_absolute_error", error_score="raise")
        y = data["target"]
    else:
        grid = grid or {"random_state": [0, 1]}
        scoring = "accuracy" if kind == "classifier" else "neg_mean_absolute_error"
        gs = GridSearchCV(est, grid, cv=cv, scoring=scoring, error_score="raise")
        y = data["label"] if kind == "classifier" else data["target"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(data[["structure"]], y)
    assert np.isfinite(gs.best_score_)
    assert len(gs.cv_results_["params"]) == len(next(iter(grid.values())))
    assert len(gs.predict(data[["structure"]])) == len(data)


@pytest.mark.parametrize("name", [n for n in NAMES if "n_jobs" in _entry(n)[0]().get_params(deep=False)])
def test_n_jobs_1_equals_2(name, data, monkeypatch):
    import skcrystal.base
    from skcrystal import clear_feature_cache

    # the frame is small: without this, n_jobs=2 would rightly stay in this process
    monkeypatch.setattr(skcrystal.base, "PARALLEL_MIN_SECONDS", 0)
    factory, kind, _ = _entry(name)
    X = data["structure"]
    clear_feature_cache()
    a = _output(_fit(factory().set_params(n_jobs=1), kind, X, data), kind, X)
    clear_feature_cache()
    b = _output(_fit(factory().set_params(n_jobs=2), kind, X, data), kind, X)
    _assert_same(a, b)


@pytest.mark.parametrize("name", [n for n in NAMES if "random_state" in _entry(n)[0]().get_params(deep=False)])
def test_same_random_state_same_predictions(name, data):
    factory, kind, _ = _entry(name)
    X = data["structure"]
    a = _output(_fit(factory().set_params(random_state=7), kind, X, data), kind, X)
    b = _output(_fit(factory().set_params(random_state=7), kind, X, data), kind, X)
    _assert_same(a, b)


@pytest.mark.parametrize("name", [n for n in NAMES if "random_state" in _entry(n)[0]().get_params(deep=False)
                                  and _entry(n)[1] != "transformer"])
def test_random_state_accepts_a_random_state_object(name, data):
    """#10 defect 8: ``random_state=np.random.RandomState(0)`` is accepted and reproducible."""
    factory, kind, _ = _entry(name)
    X = data["structure"]
    a = _output(_fit(factory().set_params(random_state=np.random.RandomState(3)), kind, X, data), kind, X)
    b = _output(_fit(factory().set_params(random_state=np.random.RandomState(3)), kind, X, data), kind, X)
    _assert_same(a, b)


@pytest.mark.parametrize("name", [n for n in NAMES if _entry(n)[1] == "regressor"])
def test_regressors_have_no_predict_proba(name):
    assert not hasattr(_entry(name)[0](), "predict_proba"), "a regressor must not expose predict_proba"


@pytest.mark.parametrize("name", [n for n in NAMES if _entry(n)[1] != "transformer"])
def test_nan_target_is_rejected(name, data):
    factory, kind, _ = _entry(name)
    y = data["target"].copy() if kind == "regressor" else data["label"].astype(object).copy()
    y.iloc[3] = np.nan
    with pytest.raises(ValueError, match=r"m3"):
        factory().fit(data["structure"], y)


# --------------------------------------------------------------------------- declarative parameters
_INVARIANCES = {"rotation", "translation", "permutation", "integer_shift", "supercell"}


@pytest.mark.parametrize("name", NAMES)
def test_declares_invariances(name):
    est = _entry(name)[0]()
    claimed = getattr(type(est), "_invariances", None)
    assert isinstance(claimed, tuple), (
        f"{type(est).__name__} must declare the class attribute _invariances: a tuple of what its output "
        f"provably does not change under, from {sorted(_INVARIANCES)} (an empty tuple if none); "
        "tests/test_invariance.py then checks exactly those claims"
    )
    unknown = set(claimed) - _INVARIANCES
    assert not unknown, f"{type(est).__name__}._invariances names unknown invariances {sorted(unknown)}"


@pytest.mark.parametrize("name", NAMES)
def test_every_init_parameter_has_a_constraint(name):
    est = _entry(name)[0]()
    cls = type(est)
    constraints = getattr(cls, "_parameter_constraints", None)
    assert isinstance(constraints, dict), f"{cls.__name__} must declare _parameter_constraints (a dict)"
    sig = inspect.signature(cls.__init__)
    own = [p.name for p in sig.parameters.values()
           if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    missing = [p for p in own if p not in constraints]
    assert not missing, (
        f"{cls.__name__}: add entries for {missing} to _parameter_constraints (merge the base's: "
        "{**StructureFeaturizer._parameter_constraints, ...} or {**CrystalNetMixin._parameter_constraints, ...}); "
        "see skcrystal/utils/_param_validation.py for the vocabulary"
    )


def _constrained_params():
    cases = []
    for name in NAMES:
        est = _entry(name)[0]()
        params = est.get_params(deep=False)
        for param in sorted(getattr(type(est), "_parameter_constraints", {})):
            if param in params:
                cases.append(pytest.param(name, param, id=f"{name}-{param}"))
    return cases


@pytest.mark.parametrize("name, param", _constrained_params())
def test_invalid_parameter_raises_at_fit(name, param, data):
    """Every constrained parameter set to values no constraint accepts: InvalidParameterError naming it, at fit."""
    from skcrystal.utils._param_validation import InvalidParameterError, generate_invalid_values

    factory, kind, _ = _entry(name)
    X = data["structure"].iloc[:4]
    y = (data["label"] if kind == "classifier" else data["target"]).iloc[:4]
    values = generate_invalid_values(type(factory())._parameter_constraints[param])
    assert values or type(factory())._parameter_constraints[param] == "no_validation"
    for value in values:
        est = factory().set_params(**{param: value})
        with pytest.raises(InvalidParameterError, match=f"'{param}'"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X) if kind == "transformer" else est.fit(X, y)
        if kind == "transformer":
            with pytest.raises(InvalidParameterError, match=f"'{param}'"):
                factory().set_params(**{param: value}).fit_transform(X)
