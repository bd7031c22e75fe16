"""Declarative parameter validation, in scikit-learn's ``_parameter_constraints`` style.

Every skcrystal estimator declares what each constructor parameter may be in a
class attribute, merged with its base's entries::

    class LatticeEncoding(StructureFeaturizer):
        _parameter_constraints = {
            **StructureFeaturizer._parameter_constraints,     # n_jobs, verbose, on_error
            "n_frequencies": [Interval(Integral, 1, None, closed="left")],
            "scale": [Interval(Real, 0, None, closed="neither")],
            "include_parameters": ["boolean"],
        }

and the base calls :func:`validate_parameter_constraints` once per ``fit``.
A value is accepted if it satisfies *any* of the listed constraints; an
invalid one raises :class:`InvalidParameterError` (a ``ValueError`` and a
``TypeError``, as in scikit-learn) naming the estimator, the parameter, the
value and what is allowed.

The vocabulary mirrors scikit-learn's (``Interval``, ``StrOptions``,
``Options``, ``HasMethods``, ``"boolean"``, ``"random_state"``, ``"verbose"``,
``"array-like"``, ``callable``, ``None``, a type, ``"no_validation"``) so the
constraints read the same; it is our own small implementation because
scikit-learn's is private API (``sklearn.utils._param_validation``) and may
change without notice.  :class:`SequenceOf` adds what crystal featurizers need
often: a tuple/list whose items each satisfy a constraint (``bins``,
``presets``, ``stats``, grids).

:func:`generate_invalid_values` gives, for a parameter's constraints, values
that none of them accepts; the contract suite (``tests/test_common.py``) sets
every constrained parameter of every registered estimator to each of them and
expects :class:`InvalidParameterError` at ``fit``.
"""

from __future__ import annotations

import inspect
import numbers
from abc import ABC, abstractmethod
from numbers import Integral, Real

import numpy as np

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "Pattern",
    "SequenceOf",
    "StrOptions",
    "check_param",
    "generate_invalid_values",
    "validate_parameter_constraints",
]


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter has a value the estimator cannot use (raised at ``fit``)."""


class _Constraint(ABC):
    @abstractmethod
    def is_satisfied_by(self, value):
        """Whether ``value`` is allowed."""

    @abstractmethod
    def describe(self):
        """What is allowed, in words (for the error message)."""


def _is_bool(v):
    return isinstance(v, (bool, np.bool_))


class Interval(_Constraint):
    """A number in a range.

    Parameters
    ----------
    type : {numbers.Integral, numbers.Real, "real_not_int"}
        ``Integral`` accepts ints (not bools, not floats such as 2.0);
        ``Real`` accepts ints and floats; ``"real_not_int"`` only floats.
    left, right : float or None
        Bounds; ``None`` is unbounded.
    closed : {"left", "right", "both", "neither"}
    """

    def __init__(self, type, left, right, *, closed):  # noqa: A002 - sklearn's name
        if type not in (Integral, Real, "real_not_int"):
            raise ValueError(f"Interval type must be Integral, Real or 'real_not_int', got {type!r}")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"closed must be 'left', 'right', 'both' or 'neither', got {closed!r}")
        self.type = type
        self.left = left
        self.right = right
        self.closed = closed

    def _type_ok(self, v):
        if _is_bool(v):
            return False
        if self.type is Integral:
            return isinstance(v, numbers.Integral)
        if self.type == "real_not_int":
            return isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral)
        return isinstance(v, numbers.Real)

    def is_satisfied_by(self, value):
        if not self._type_ok(value):
            return False
        v = float(value)
        if np.isnan(v):
            return False
        if self.left is not None:
            if v < self.left or (v == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if v > self.right or (v == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def describe(self):
        kind = {Integral: "an int", Real: "a float", "real_not_int": "a float"}[self.type]
        lo = "-inf" if self.left is None else repr(self.left)
        hi = "inf" if self.right is None else repr(self.right)
        lb = "[" if self.closed in ("left", "both") and self.left is not None else "("
        rb = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{kind} in the range {lb}{lo}, {hi}{rb}"


class Options(_Constraint):
    """One of a fixed set of values of a given type."""

    def __init__(self, type, options):  # noqa: A002 - sklearn's name
        self.type = type
        self.options = set(options)

    def is_satisfied_by(self, value):
        return isinstance(value, self.type) and value in self.options

    def describe(self):
        return "one of " + ", ".join(repr(o) for o in sorted(self.options, key=str))


class StrOptions(Options):
    """One of a fixed set of strings."""

    def __init__(self, options):
        super().__init__(str, options)


class Pattern(_Constraint):
    """A string matching a regular expression (``re.fullmatch``).

    Parameters
    ----------
    regex : str
    description : str or None, default=None
        What the pattern means, for the error message.
    """

    def __init__(self, regex, description=None):
        import re

        self.regex = re.compile(regex)
        self.description = description

    def is_satisfied_by(self, value):
        return isinstance(value, str) and self.regex.fullmatch(value) is not None

    def describe(self):
        return self.description or f"a string matching {self.regex.pattern!r}"


class HasMethods(_Constraint):
    """An object with the named methods (e.g. a transformer: ``["fit", "transform"]``)."""

    def __init__(self, methods):
        self.methods = [methods] if isinstance(methods, str) else list(methods)

    def is_satisfied_by(self, value):
        return all(callable(getattr(value, m, None)) for m in self.methods)

    def describe(self):
        return "an object implementing " + ", ".join(f"{m!r}" for m in self.methods)


class SequenceOf(_Constraint):
    """A tuple or list (not a string) whose items each satisfy ``item`` (a constraint or a list of them).

    Parameters
    ----------
    item : constraint or list of constraints
        What each item may be (any of the list).
    min_length : int, default=1
        Fewest items (1: not empty).
    max_length : int or None, default=None
        Most items.
    unique : bool, default=False
        Items must be distinct.
    """

    def __init__(self, item, *, min_length=1, max_length=None, unique=False):
        items = item if isinstance(item, list) else [item]
        self.items = [_make(c) for c in items]
        self.min_length = min_length
        self.max_length = max_length
        self.unique = unique

    def is_satisfied_by(self, value):
        if not isinstance(value, (tuple, list)):
            return False
        if len(value) < self.min_length or (self.max_length is not None and len(value) > self.max_length):
            return False
        if not all(any(c.is_satisfied_by(v) for c in self.items) for v in value):
            return False
        if self.unique:
            try:
                return len(set(value)) == len(value)
            except TypeError:
                return False
        return True

    def describe(self):
        if self.min_length == self.max_length:
            n = f"exactly {self.min_length}"
        elif self.max_length is None:
            n = f"at least {self.min_length}"
        else:
            n = f"{self.min_length} to {self.max_length}"
        what = " or ".join(c.describe() for c in self.items)
        return f"a tuple/list of {n}{' distinct' if self.unique else ''} items, each {what}"


class _Type(_Constraint):
    def __init__(self, type_):
        self.type = type_

    def is_satisfied_by(self, value):
        if self.type in (int, numbers.Integral) and _is_bool(value):
            return False
        return isinstance(value, self.type)

    def describe(self):
        return f"an instance of {getattr(self.type, '__name__', self.type)!s}"


class _Named(_Constraint):
    _CHECKS = {
        "boolean": (lambda v: _is_bool(v), "a bool"),
        "random_state": (
            lambda v: v is None or (isinstance(v, numbers.Integral) and not _is_bool(v) and 0 <= v < 2**32)
            or isinstance(v, np.random.RandomState),
            "None, an int in [0, 2**32) or a numpy RandomState",
        ),
        "verbose": (lambda v: _is_bool(v) or (isinstance(v, numbers.Integral) and v >= 0), "an int >= 0 or a bool"),
        "array-like": (
            lambda v: hasattr(v, "__len__") and hasattr(v, "__getitem__") and not isinstance(v, (str, bytes))
            or hasattr(v, "__array__"),
            "an array-like",
        ),
        "callable": (callable, "a callable"),
        "class": (inspect.isclass, "a class"),
    }

    def __init__(self, name):
        if name not in self._CHECKS:
            raise ValueError(f"unknown constraint {name!r}")
        self.name = name

    def is_satisfied_by(self, value):
        return bool(self._CHECKS[self.name][0](value))

    def describe(self):
        return self._CHECKS[self.name][1]


class _NoneConstraint(_Constraint):
    def is_satisfied_by(self, value):
        return value is None

    def describe(self):
        return "None"


def _make(c):
    if isinstance(c, _Constraint):
        return c
    if c is None:
        return _NoneConstraint()
    if c is callable:
        return _Named("callable")
    if isinstance(c, str):
        return _Named(c)
    if inspect.isclass(c):
        return _Type(c)
    raise ValueError(f"unknown parameter constraint {c!r}")


def check_param(value, constraints, name, caller):
    """Check one value against a list of constraints; raise :class:`InvalidParameterError` if none holds.

    Parameters
    ----------
    value : object
    constraints : list or "no_validation"
    name : str
        Parameter name, for the message.
    caller : str
        Estimator name, for the message.
    """
    if constraints == "no_validation":
        return
    made = [_make(c) for c in constraints]
    if any(c.is_satisfied_by(value) for c in made):
        return
    allowed = [c.describe() for c in made]
    text = allowed[0] if len(allowed) == 1 else ", ".join(allowed[:-1]) + " or " + allowed[-1]
    raise InvalidParameterError(f"{caller}: the {name!r} parameter must be {text}; got {value!r}.")


class _Invalid:
    """A value no constraint accepts (not a number, string, bool, sequence, class or callable)."""

    def __repr__(self):
        return "<an invalid value>"


def generate_invalid_values(constraints):
    """Values that none of ``constraints`` accepts, for testing that a parameter is validated.

    Always an opaque object (no constraint but ``object`` itself or
    ``"no_validation"`` accepts it); plus, where the constraints admit it, a
    value close to a valid one: a number just outside an :class:`Interval`, a
    float for an integer-only interval, a string outside :class:`StrOptions`,
    a non-bool for ``"boolean"``, an empty or wrong-item sequence for
    :class:`SequenceOf`.

    Parameters
    ----------
    constraints : list or "no_validation"

    Returns
    -------
    list
        Empty for ``"no_validation"``.
    """
    if constraints == "no_validation":
        return []
    made = [_make(c) for c in constraints]
    candidates = [_Invalid()]
    for c in made:
        if isinstance(c, Interval):
            if c.left is not None:
                candidates.append(c.left - 1 if c.type is Integral else c.left - 0.5)
                if c.closed in ("right", "neither"):
                    candidates.append(c.left)
            if c.right is not None:
                candidates.append(c.right + 1 if c.type is Integral else c.right + 0.5)
                if c.closed in ("left", "neither"):
                    candidates.append(c.right)
            if c.type is Integral:
                candidates.append(2.5)
            candidates.append(float("nan"))
        elif isinstance(c, (StrOptions, Pattern)):
            candidates.append("not-an-option")
        elif isinstance(c, _Named) and c.name == "boolean":
            candidates.append("yes")
        elif isinstance(c, _Named) and c.name == "random_state":
            candidates += [-1, "seed"]
        elif isinstance(c, _Named) and c.name == "verbose":
            candidates.append(-1)
        elif isinstance(c, SequenceOf):
            if c.min_length >= 1:
                candidates.append(())
            candidates.append((_Invalid(),))
            if c.unique and c.items:
                valid = _a_valid_item(c.items)
                if valid is not None:
                    candidates.append((valid, valid))
    out = []
    for v in candidates:
        if not any(c.is_satisfied_by(v) for c in made) and not any(v is w for w in out):
            out.append(v)
    return out


def _a_valid_item(items):
    for c in items:
        if isinstance(c, Options) and c.options:
            return sorted(c.options, key=str)[0]
        if isinstance(c, Interval):
            lo = c.left if c.left is not None else (c.right if c.right is not None else 0)
            v = lo + 1 if c.type is Integral else lo + 0.5
            if c.is_satisfied_by(v):
                return v
    return None


def validate_parameter_constraints(constraints, params, caller_name):
    """Validate every parameter that has a declared constraint.

    Parameters
    ----------
    constraints : dict
        ``{name: [constraint, ...]}`` or ``{name: "no_validation"}``.
    params : dict
        ``estimator.get_params(deep=False)``.
    caller_name : str
        Estimator class name, used in the messages.

    Raises
    ------
    InvalidParameterError
    """
    for name, value in params.items():
        if name in constraints:
            check_param(value, constraints[name], name, caller_name)
