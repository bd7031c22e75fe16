"""Per-element codes: the faithful left-step periodic-table atom code.

The faithful-representation paper (Nop et al., npj Comput. Mater. 2025) codes
an atom by its place in the *left-step* periodic table: a 16-way one-hot of
the column pair ``⌊c/2⌋``, a 7-way one-hot of the row (period − 1) and one
bit ``c mod 2``, 24 numbers in all.  The columns ``c = 0..31`` are counted
from the right edge of the left-step table::

    c:   31 … 18 | 17 … 8 | 7  | 6  5  4  3  2 | 1  | 0
         f1 … f14| d1 … d10| s2 | p1 p2 p3 p4 p5| s1 | p6 (noble gas)

so Li/Na/K… (s1) share pair 0 with the noble gases, s2 shares pair 3 with p1,
the d block fills pairs 8…4 and the f block pairs 15…9; La and Ac are f1, Lu
and Lr are d1, He is a noble gas.  This reproduces the lookup table of the
paper's public code for all 118 elements (see ``tests/test_faithful.py``).

Everything here is plain numpy, vectorised over atomic numbers.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "ATOM_CODE_NAMES",
    "ATOM_CODE_SIZE",
    "MAX_Z",
    "atom_codes",
    "left_step_position",
    "left_step_table",
]

MAX_Z = 118
N_ROWS = 7
N_PAIRS = 16
ATOM_CODE_SIZE = N_PAIRS + N_ROWS + 1

# Columns counted from the right edge of the left-step table.
_P_COLUMN = (6, 5, 4, 3, 2, 0)  # p1..p6
_S_COLUMN = (1, 7)  # s1, s2


def _period_layout():
    """Yield (Z, period, block, k) for Z = 1..118 (k = 1-based position in the block)."""
    Z = 1
    yield Z, 1, "s", 1  # H
    Z += 1
    yield Z, 1, "p", 6  # He sits with the noble gases
    for period in range(2, 8):
        blocks = [("s", 2)]
        if period >= 6:
            blocks.append(("f", 14))
        if period >= 4:
            blocks.append(("d", 10))
        blocks.append(("p", 6))
        for block, size in blocks:
            for k in range(1, size + 1):
                Z += 1
                yield Z, period, block, k


@lru_cache(maxsize=None)
def left_step_table():
    """Return ``(row, column)`` arrays indexed by Z (entry 0 unused, -1).

    Returns
    -------
    rows : ndarray of shape (119,)
        Period − 1 (0..6).
    cols : ndarray of shape (119,)
        Left-step column counted from the right edge (0..31).
    """
    rows = np.full(MAX_Z + 1, -1, dtype=np.int64)
    cols = np.full(MAX_Z + 1, -1, dtype=np.int64)
    for Z, period, block, k in _period_layout():
        rows[Z] = period - 1
        if block == "s":
            cols[Z] = _S_COLUMN[k - 1]
        elif block == "p":
            cols[Z] = _P_COLUMN[k - 1]
        elif block == "d":
            cols[Z] = 18 - k
        else:
            cols[Z] = 32 - k
    assert Z == MAX_Z
    rows.flags.writeable = False
    cols.flags.writeable = False
    return rows, cols


def left_step_position(Z):
    """Return ``(period − 1, column pair, spin bit)`` for atomic number(s) ``Z``.

    Parameters
    ----------
    Z : int or array-like of int
        Atomic numbers, 1..118.

    Returns
    -------
    row, pair, spin : ndarray of int (or ints for scalar input)
    """
    Zs = np.asarray(Z, dtype=np.int64)
    _check_z(Zs)
    rows, cols = left_step_table()
    r, c = rows[Zs], cols[Zs]
    return r, c // 2, c % 2


def _check_z(Zs):
    bad = (Zs < 1) | (Zs > MAX_Z)
    if np.any(bad):
        raise ValueError(
            f"unknown element(s) with Z={sorted(set(np.atleast_1d(Zs)[np.atleast_1d(bad)].tolist()))}; "
            f"the left-step atom code covers Z=1..{MAX_Z}"
        )


@lru_cache(maxsize=None)
def _code_matrix():
    rows, cols = left_step_table()
    M = np.zeros((MAX_Z + 1, ATOM_CODE_SIZE), dtype=np.float32)
    Z = np.arange(1, MAX_Z + 1)
    M[Z, cols[Z] // 2] = 1.0
    M[Z, N_PAIRS + rows[Z]] = 1.0
    M[Z, N_PAIRS + N_ROWS] = cols[Z] % 2
    M.flags.writeable = False
    return M


def atom_codes(Z):
    """Faithful 24-dim atom codes: one-hot16(pair) ⊕ one-hot7(period−1) ⊕ spin bit.

    Parameters
    ----------
    Z : array-like of int, shape (n_atoms,)

    Returns
    -------
    codes : ndarray of shape (n_atoms, 24), float32
    """
    Zs = np.asarray(Z, dtype=np.int64)
    _check_z(Zs)
    return _code_matrix()[Zs]


ATOM_CODE_NAMES = tuple(
    [f"pair{i}" for i in range(N_PAIRS)] + [f"period{i + 1}" for i in range(N_ROWS)] + ["spin"]
)
