"""Per-element codes and tables: one home for everything indexed by the atomic number.

:data:`MAX_Z`, :func:`check_atomic_numbers`, the faithful left-step
periodic-table atom code (:func:`atom_codes`), the one valence-electron rule
(:func:`valence_electrons`), the CGCNN-style table of binned element
properties (:func:`cgcnn_atom_features`) and the element one-hot
(:func:`element_one_hot`).

The faithful left-step periodic-table atom code:

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

import warnings
from functools import lru_cache

import numpy as np

__all__ = [
    "ATOM_CODE_NAMES",
    "ATOM_CODE_SIZE",
    "MAX_Z",
    "atom_codes",
    "cgcnn_atom_features",
    "check_atomic_numbers",
    "element_one_hot",
    "left_step_position",
    "left_step_table",
    "predicted_configuration",
    "valence_electrons",
]

MAX_Z = 118
N_ROWS = 7
N_PAIRS = 16
ATOM_CODE_SIZE = N_PAIRS + N_ROWS + 1

def check_atomic_numbers(Z):
    """``Z`` as an int64 array; a ValueError naming the unknown elements if any is outside 1..MAX_Z.

    The one atomic-number check of the package (atom codes, property tables,
    one-hot).

    Parameters
    ----------
    Z : int or array-like of int

    Returns
    -------
    ndarray of int64 (same shape as ``Z``)
    """
    Zs = np.asarray(Z, dtype=np.int64)
    bad = (Zs < 1) | (Zs > MAX_Z)
    if np.any(bad):
        raise ValueError(
            f"unknown element(s) with Z={sorted(set(np.atleast_1d(Zs)[np.atleast_1d(bad)].tolist()))}; "
            f"skcrystal's element codes cover Z=1..{MAX_Z}"
        )
    return Zs


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
    check_atomic_numbers(Zs)
    rows, cols = left_step_table()
    r, c = rows[Zs], cols[Zs]
    return r, c // 2, c % 2


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
    check_atomic_numbers(Zs)
    return _code_matrix()[Zs]


ATOM_CODE_NAMES = tuple(
    [f"pair{i}" for i in range(N_PAIRS)] + [f"period{i + 1}" for i in range(N_ROWS)] + ["spin"]
)


# --------------------------------------------------------------------------- property tables
def _bins(values, lo, hi, n, log=False):
    """One-hot of ``values`` in ``n`` equal bins on [lo, hi] (NaN -> all zeros)."""
    v = np.asarray(values, dtype=np.float64)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log(v)
        lo, hi = np.log(lo), np.log(hi)
    out = np.zeros((len(v), n))
    ok = np.isfinite(v)
    idx = np.clip(((v[ok] - lo) / (hi - lo) * n).astype(int), 0, n - 1)
    out[np.flatnonzero(ok), idx] = 1.0
    return out


# --------------------------------------------------------------------------- valence electrons
_MADELUNG = ((1, "s"), (2, "s"), (2, "p"), (3, "s"), (3, "p"), (4, "s"), (3, "d"), (4, "p"), (5, "s"), (4, "d"),
             (5, "p"), (6, "s"), (4, "f"), (5, "d"), (6, "p"), (7, "s"), (5, "f"), (6, "d"), (7, "p"))
_CAPACITY = {"s": 2, "p": 6, "d": 10, "f": 14}
_NOBLE_GASES = (2, 10, 18, 36, 54, 86, 118)


def _madelung_configuration(Z):
    conf, left = [], int(Z)
    for n, orb in _MADELUNG:
        if left <= 0:
            break
        e = min(left, _CAPACITY[orb])
        conf.append((n, orb, e))
        left -= e
    return conf


def predicted_configuration(Z):
    """Whether the ground-state configuration of element ``Z`` is only predicted (no data in pymatgen).

    pymatgen has no electronic structure for Z = 105..118; :func:`valence_electrons`
    then fills the shells in Madelung order (e.g. Og: [Rn] 5f14 6d10 7s2 7p6).

    Parameters
    ----------
    Z : int

    Returns
    -------
    bool
    """
    return _configuration(int(check_atomic_numbers(Z)))[1]


@lru_cache(maxsize=None)
def _configuration(Z):
    """``(orbitals, predicted)``: ``[(n, "s"|"p"|"d"|"f", electrons), ...]`` of element ``Z``."""
    from pymatgen.core.periodic_table import Element

    try:
        return tuple(Element.from_Z(Z).full_electronic_structure), False
    except Exception:  # noqa: BLE001 - pymatgen has no data for Z > 104
        return tuple(_madelung_configuration(Z)), True


@lru_cache(maxsize=None)
def _valence_row(Z):
    conf, _ = _configuration(Z)
    core = max((g for g in _NOBLE_GASES if g < Z), default=0)
    remaining = {}
    for n, orb, e in conf:
        remaining[(n, orb)] = remaining.get((n, orb), 0) + e
    if core:
        for n, orb, e in _configuration(core)[0]:
            remaining[(n, orb)] -= e
    remaining = {k: e for k, e in remaining.items() if e > 0}
    n_out = max(n for n, _ in remaining)
    counts = dict.fromkeys("spdf", 0)
    for (n, orb), e in remaining.items():
        # a filled d or f subshell below the outermost shell is part of the core (Cu: 4s1, Ga: 4s2 4p1)
        if n < n_out and orb in "df" and e == _CAPACITY[orb]:
            continue
        counts[orb] += e
    return counts["s"], counts["p"], counts["d"], counts["f"]


def valence_electrons(Z):
    """Valence electrons per s, p, d, f subshell: the one valence rule of skcrystal.

    Valence electrons are those outside the preceding noble-gas core, except
    a completely filled d or f subshell below the outermost shell, which is
    counted with the core.  So main-group elements have their group's count
    (Ga 3, Br 7, Kr 8, He 2), transition metals ``(n-1)d + ns`` (Fe 8, Pd 10,
    Cu 1, Zn 2), lanthanides ``4f + 5d + 6s`` (Gd 10, Lu 3).  No element has
    zero.  Configurations are pymatgen's measured ground states; for
    Z = 105..118 (no data) the Madelung filling order is used (Og: 8), see
    :func:`predicted_configuration`.

    Parameters
    ----------
    Z : int or array-like of int
        Atomic numbers, 1..118.

    Returns
    -------
    ndarray of float64, shape (..., 4)
        Counts in the s, p, d and f subshells; their sum is the number of
        valence electrons.

    Examples
    --------
    >>> valence_electrons([29, 31, 46, 118]).sum(axis=1)
    array([ 1.,  3., 10.,  8.])
    """
    Zs = check_atomic_numbers(Z)
    table = _valence_table()
    return table[Zs]


@lru_cache(maxsize=1)
def _valence_table():
    t = np.zeros((MAX_Z + 1, 4), dtype=np.float64)
    for z in range(1, MAX_Z + 1):
        t[z] = _valence_row(z)
    t.flags.writeable = False
    return t


@lru_cache(maxsize=1)
def _cgcnn_table():
    from pymatgen.core.periodic_table import Element

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z in range(1, 119):
            el = Element.from_Z(z)

            def get(f):
                try:
                    v = f()
                    return np.nan if v is None else float(v)
                except Exception:  # noqa: BLE001 - missing element data -> NaN
                    return np.nan

            rows.append(
                (
                    get(lambda: el.group),
                    get(lambda: el.row),
                    "spdf".find(el.block) if el.block in "spdf" else -1,
                    float(_valence_table()[z].sum()),
                    get(lambda: el.X),
                    get(lambda: el.atomic_radius),
                    get(lambda: el.ionization_energies[0]),
                    get(lambda: el.electron_affinity),
                    get(lambda: el.molar_volume),
                )
            )
    a = np.array(rows, dtype=np.float64)
    parts = [
        _bins(a[:, 0] - 1, -0.5, 17.5, 18),  # group 1..18
        _bins(a[:, 1] - 1, -0.5, 6.5, 7),  # period 1..7
        _bins(a[:, 2], -0.5, 3.5, 4),  # block s p d f
        _bins(a[:, 3] - 1, -0.5, 11.5, 12),  # valence electrons 1..12 (valence_electrons; more -> 12)
        _bins(a[:, 4], 0.5, 4.0, 10),  # Pauling electronegativity
        _bins(a[:, 5], 0.25, 2.6, 10),  # atomic radius (Å)
        _bins(a[:, 6], 3.5, 25.0, 10, log=True),  # first ionisation energy (eV)
        _bins(a[:, 7], -0.5, 3.7, 10),  # electron affinity (eV)
        _bins(a[:, 8], 1.5, 75.0, 10, log=True),  # molar volume (cm^3/mol)
    ]
    table = np.zeros((119, sum(p.shape[1] for p in parts)), dtype=np.float32)
    table[1:] = np.concatenate(parts, axis=1)
    return table


def cgcnn_atom_features(Z):
    """CGCNN-style atom features: one-hot bins of element properties (91 numbers).

    Group (18), period (7), block (4), valence electrons (12), and 10 bins each
    of electronegativity, atomic radius, first ionisation energy (log),
    electron affinity and molar volume (log), from pymatgen's element data.
    Like CGCNN's ``atom_init.json`` (same kind of one-hot binning; bins and
    sources differ slightly).  Missing data give an all-zero block.

    Parameters
    ----------
    Z : array of int
        Atomic numbers (1..118).

    Returns
    -------
    ndarray of float32, shape (len(Z), 91)
    """
    return _cgcnn_table()[check_atomic_numbers(Z)]


def element_one_hot(Z):
    """One-hot of the atomic number, shape ``(n_atoms, 118)`` (column ``Z - 1``).

    Parameters
    ----------
    Z : array-like of int in 1..118

    Returns
    -------
    ndarray of float32
    """
    return np.eye(MAX_Z, dtype=np.float32)[check_atomic_numbers(Z) - 1]
