"""The bad-input suite: what a user meets, through every registered estimator, at fit and at predict/transform.

For every estimator of ``tests/_registry.py`` (new ones included
automatically) and every kind of bad input below, the estimator must either
raise a clear skcrystal/scikit-learn error whose message names the row (and
says what is wrong), or apply its documented fallback.  The README's table
"Defined behaviour for bad input" is the summary of these cases.

Most cases fail in validation before any featurization, and the fitted
instances (for the predict/transform cases) are shared per module, so the
suite is fast.
"""

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Molecule, Structure
from pymatgen.core.periodic_table import DummySpecies
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from _registry import ESTIMATORS
from skcrystal.base import FeaturizationError
from skcrystal.utils._param_validation import InvalidParameterError
from skcrystal.utils.validation import StructureValidationError

NAMES = sorted(ESTIMATORS)
MODELS = [n for n in NAMES if ESTIMATORS[n][1] != "transformer" or hasattr(ESTIMATORS[n][0](), "module")]
SUPERVISED = [n for n in NAMES if ESTIMATORS[n][1] in ("regressor", "classifier")]
TRANSFORMERS = [n for n in NAMES if ESTIMATORS[n][1] == "transformer"]
FEATURIZERS = [n for n in TRANSFORMERS if not hasattr(ESTIMATORS[n][0](), "module")]
CLEAR = (StructureValidationError, InvalidParameterError, NotFittedError, FeaturizationError, ValueError)


# --------------------------------------------------------------------------- inputs
def _nacl(a=5.64):
    return Structure(Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _with_nan_coords(value):
    s = _nacl()
    # pymatgen refuses NaN through its constructor checks in some versions: set the array directly
    s = Structure(s.lattice, s.species, [[0, 0, 0], [0.5, 0.5, 0.5]])
    s._sites[1].frac_coords = np.array([value, 0.5, 0.5])
    return s


def _bad_structures():
    """name -> (bad structure, regex the message must match after the row)."""
    return {
        "empty_cell": (Structure(Lattice.cubic(4.0), [], []), "no atoms"),
        "overlapping_atoms": (Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.02, 0, 0]]), "overlap"),
        "nan_coordinates": (_with_nan_coords(np.nan), "non-finite"),
        "inf_coordinates": (_with_nan_coords(np.inf), "non-finite"),
        "singular_lattice": (Structure(Lattice([[4, 0, 0], [0, 4, 0], [4, 4, 1e-9]]), ["Na"], [[0, 0, 0]]),
                             "singular"),
        "dummy_species": (Structure(Lattice.cubic(4.0), [DummySpecies("X"), "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
                          "unknown species"),
        "molecule": (Molecule(["O", "H", "H"], [[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]]), "got a Molecule"),
        "broken_cif_string": ("data_x\n_cell_length_a 4\nnonsense", "cannot read a structure"),
        "broken_poscar_string": ("NaCl\n1.0\n4 0 0\n0 4 0\n", "cannot read a structure"),
        "foreign_dict": ({"lattice": "cubic", "atoms": ["Na"]}, "cannot read a structure"),
        "int_entry": (3, "got a int"),
        "missing_entry": (None, "missing"),
    }


PARTIAL = Structure(Lattice.cubic(5.64), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def _frame_with(good, bad, position=2, index=None):
    rows = list(good[:4])
    rows.insert(position, bad)
    return pd.Series(rows, index=index if index is not None else [f"s{i}" for i in range(len(rows))], dtype=object)


# --------------------------------------------------------------------------- helpers
def _kind(name):
    return ESTIMATORS[name][1]


def _y(name, frame, n):
    kind = _kind(name)
    col = frame["label"] if kind == "classifier" else frame["target"]
    return col.iloc[:n].to_numpy()


def _fit(est, name, X, y=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _kind(name) in ("regressor", "classifier"):
            return est.fit(X, y)
        return est.fit(X)


def _apply(est, name, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if _kind(name) == "transformer":
            return est.transform(X)
        if _kind(name) == "classifier":
            return est.predict_proba(X)
        return est.predict(X)


def _expect(call, pattern, name):
    """``call()`` must raise a clear error (skcrystal/sklearn type) whose message matches ``pattern``."""
    with pytest.raises(Exception) as info:
        call()
    exc = info.value
    assert isinstance(exc, CLEAR), (
        f"{name} raised {type(exc).__module__}.{type(exc).__name__} ({exc}) from inside a library; bad input must "
        "end in a skcrystal/scikit-learn error naming the row (validate with skcrystal.utils.validation."
        "check_structures / check_target before the work)"
    )
    import re

    assert re.search(pattern, str(exc), flags=re.S), f"{name}: message {str(exc)!r} does not match {pattern!r}"


def _disorder_policy(est):
    """'raise' if the estimator (or the featurizer it applies) rejects partially occupied sites."""
    feat = est
    if not hasattr(est, "_disorder"):
        feat = getattr(est, "featurizer_", None) or getattr(est, "featurizer", None) or est._default_featurizer()
    parts = [t for _, t in getattr(feat, "transformer_list", [])] or [feat]
    return "raise" if any(getattr(p, "_disorder", "raise") == "raise" for p in parts) else "allow"


_FITTED = {}


@pytest.fixture(scope="module")
def fitted(small_frame):
    def get(name):
        if name not in _FITTED:
            n = len(small_frame)
            _FITTED[name] = _fit(ESTIMATORS[name][0](), name, small_frame["structure"], _y(name, small_frame, n))
        return _FITTED[name]

    return get


@pytest.fixture(scope="module")
def good(small_frame):
    return list(small_frame["structure"].iloc[:6])


# --------------------------------------------------------------------------- containers
CONTAINERS = {
    "missing_structure_column": (lambda good: pd.DataFrame({"struct": good[:4], "formula": ["x"] * 4}),
                                 r"no 'structure' column.*'struct', 'formula'"),
    "none": (lambda good: None, "expected a collection of structures, got NoneType"),
    "empty_list": (lambda good: [], r"no structures given \(0 rows\)"),
    "first_entry_none": (lambda good: [None] + good[:3], "row 0.*missing"),
    "single_structure": (lambda good: good[0], "single Structure; wrap it in a list"),
}


@pytest.mark.parametrize("case", sorted(CONTAINERS))
@pytest.mark.parametrize("name", NAMES)
def test_bad_container_at_fit(name, case, good, small_frame):
    make, pattern = CONTAINERS[case]
    X = make(good)
    y = _y(name, small_frame, 4)
    _expect(lambda: _fit(ESTIMATORS[name][0](), name, X, y), pattern, name)


@pytest.mark.parametrize("case", sorted(CONTAINERS))
@pytest.mark.parametrize("name", NAMES)
def test_bad_container_at_predict(name, case, good, fitted):
    make, pattern = CONTAINERS[case]
    _expect(lambda: _apply(fitted(name), name, make(good)), pattern, name)


# --------------------------------------------------------------------------- bad rows
@pytest.mark.parametrize("case", sorted(_bad_structures()))
@pytest.mark.parametrize("name", NAMES)
def test_bad_row_named_at_fit(name, case, good, small_frame):
    bad, pattern = _bad_structures()[case]
    X = _frame_with(good, bad)
    _expect(lambda: _fit(ESTIMATORS[name][0](), name, X, _y(name, small_frame, 5)),
            rf"row 2 \(index 's2'\).*{pattern}", name)


@pytest.mark.parametrize("case", sorted(_bad_structures()))
@pytest.mark.parametrize("name", NAMES)
def test_bad_row_named_at_predict(name, case, good, fitted):
    bad, pattern = _bad_structures()[case]
    X = _frame_with(good, bad, index=["a", "b", "a", "c", "d"])  # duplicate string labels: the position decides
    _expect(lambda: _apply(fitted(name), name, X), rf"row 2 \(index 'a'\).*{pattern}", name)


@pytest.mark.parametrize("name", NAMES)
def test_partial_occupancy_raises_or_is_documented(name, good, fitted):
    """Disordered sites: an error naming the row, unless the featurizer works on compositions (documented)."""
    est = fitted(name)
    X = _frame_with(good, PARTIAL, position=1)
    if _disorder_policy(est) == "raise":
        _expect(lambda: _apply(est, name, X), r"row 1 \(index 's1'\).*partially occupied.*disorder='majority'", name)
    else:
        assert len(_apply(est, name, X)) == 5


@pytest.mark.parametrize("name", NAMES)
def test_one_atom_noble_gas_and_huge_cells_work(name, fitted):
    """Valid but unusual cells: 1 atom, a noble-gas solid, a 1000 Å cell (the overlap check is O(atoms))."""
    po = Structure(Lattice.cubic(3.35), ["Po"], [[0, 0, 0]])
    ar = Structure(Lattice.cubic(5.26), ["Ar"] * 4, [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    huge = _nacl(1000.0)
    out = _apply(fitted(name), name, [po, ar, huge])
    assert len(out) == 3
    if _kind(name) != "transformer":
        assert np.isfinite(np.asarray(out, dtype=float)).all(), "a model must predict every valid cell"


# --------------------------------------------------------------------------- targets
TARGETS = {
    "nan_target": (lambda y: np.where(np.arange(len(y)) == 3, np.nan, y.astype(object)), r"rows \['s3'\].*dropna"),
    "inf_target": (lambda y: np.where(np.arange(len(y)) == 3, np.inf, y.astype(object)), r"rows \['s3'\]"),
    "none_target": (lambda y: np.where(np.arange(len(y)) == 3, None, y.astype(object)), r"rows \['s3'\]"),
    "wrong_length_y": (lambda y: y[:-1], "X has 5 structures but y has 4 values"),
    "two_column_y": (lambda y: np.column_stack([y, y]), "1-D"),
}


@pytest.mark.parametrize("case", sorted(TARGETS))
@pytest.mark.parametrize("name", SUPERVISED)
def test_bad_target(name, case, good, small_frame):
    make, pattern = TARGETS[case]
    if case == "two_column_y" and _kind(name) == "regressor" and hasattr(ESTIMATORS[name][0](), "module"):
        pytest.skip("network regressors take several target columns (one output each): documented")
    X = pd.Series(good[:5], index=[f"s{i}" for i in range(5)], dtype=object)
    y = make(_y(name, small_frame, 5))
    if case != "wrong_length_y" and case != "two_column_y":
        y = pd.Series(y, index=X.index)
    _expect(lambda: _fit(ESTIMATORS[name][0](), name, X, y), pattern, name)


@pytest.mark.parametrize("name", [n for n in SUPERVISED if ESTIMATORS[n][1] == "regressor"])
def test_string_regression_target(name, good):
    X = list(good[:4])
    _expect(lambda: _fit(ESTIMATORS[name][0](), name, X, np.array(["1.0", "a", "2", "3"], dtype=object)),
            "regression targets must be numeric", name)


@pytest.mark.parametrize("name", SUPERVISED)
def test_duplicate_and_string_index_fit_and_keep_rows(name, small_frame):
    """A frame with a duplicated string index trains and predicts one value per row."""
    df = small_frame.iloc[:12].copy()
    df.index = ["x", "y", "x"] * 4
    y = df["label"] if _kind(name) == "classifier" else df["target"]
    est = _fit(ESTIMATORS[name][0](), name, df[["structure"]], y)
    assert len(_apply(est, name, df[["structure"]])) == 12


# --------------------------------------------------------------------------- fitted state
def _widen(Xf):
    """The same featurizer output with one more input feature (a wrong width at predict)."""
    from skcrystal.featurizers.graph import CrystalGraphData

    def widen_obj(o):
        if o is None:
            return o
        if isinstance(o, CrystalGraphData):
            return dataclasses.replace(o, atom_features=np.column_stack([o.atom_features, o.atom_features[:, :1]]))
        if dataclasses.is_dataclass(o) and any(isinstance(getattr(o, f.name), CrystalGraphData)
                                               for f in dataclasses.fields(o)):
            return dataclasses.replace(o, **{f.name: widen_obj(getattr(o, f.name)) for f in dataclasses.fields(o)
                                             if isinstance(getattr(o, f.name), CrystalGraphData)})
        if hasattr(o, "dense"):
            o = o.dense()
        if isinstance(o, np.ndarray) and o.ndim == 4:  # a voxel grid (C, N, N, N)
            return np.concatenate([o, o[:1]], axis=0)
        return o

    if isinstance(Xf, np.ndarray) and Xf.dtype != object:
        return np.column_stack([Xf, Xf[:, :1]])
    Xf = np.asarray(Xf, dtype=object)
    out = np.empty_like(Xf)
    for idx in np.ndindex(Xf.shape):
        out[idx] = widen_obj(Xf[idx]) if (Xf.ndim == 1 or idx[-1] == 0) else Xf[idx]
    return out


def _same_input(a, b):
    if isinstance(a, np.ndarray) and a.dtype != object:
        return a.shape == b.shape
    return all(x is y for x, y in zip(np.asarray(a, dtype=object).ravel(), np.asarray(b, dtype=object).ravel()))


@pytest.mark.parametrize("name", [n for n in MODELS if n in SUPERVISED])
def test_feature_width_mismatch_at_predict(name, small_frame):
    """A model fitted on a featurizer's output, given output of another width: expected vs got, not torch's error."""
    est = ESTIMATORS[name][0]()
    feat = clone(est.featurizer if getattr(est, "featurizer", None) is not None else est._default_featurizer())
    X = small_frame["structure"].iloc[:12]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xf = feat.fit_transform(X)
    wide = _widen(Xf)
    if _same_input(wide, Xf):
        pytest.skip(f"{type(est).__name__}'s input has no feature width to change (if it has one, add a rule "
                    "to _widen in tests/test_bad_input.py)")
    model = _fit(clone(est).set_params(featurizer=None), name, Xf, _y(name, small_frame, 12))
    _expect(lambda: _apply(model, name, wide), r"(features|n_\w+=\d+ \(fitted with \d+\))", name)
    # and the structures a feature-fitted model cannot take
    _expect(lambda: _apply(model, name, X), "fitted on features", name)


@pytest.mark.parametrize("name", FEATURIZERS)
def test_set_params_after_fit_then_transform(name, small_frame):
    """Defect 5: changing a parameter after fit gave a numpy broadcast error; now it says to refit."""
    factory, _, grid = ESTIMATORS[name]
    param, values = next(iter(grid.items()))
    param = param.split("__", 1)[1]
    X = small_frame["structure"].iloc[:4]
    est = _fit(factory(), name, X)
    current = est.get_params()[param]
    other = next(v for v in values if v != current)
    est.set_params(**{param: other})
    _expect(lambda: est.transform(X), rf"parameters changed since fit \({param}:.*fit", name)
    _fit(est, name, X)
    assert len(_apply(est, name, X)) == 4


@pytest.mark.parametrize("name", NAMES)
def test_not_fitted_is_a_not_fitted_error(name, good):
    with pytest.raises(NotFittedError):
        _apply(ESTIMATORS[name][0](), name, good[:2])
