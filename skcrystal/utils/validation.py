"""Input validation for frames of crystal structures.

One validator, :func:`check_structures`, turns whatever a user holds (a
DataFrame with a ``structure`` column, a Series, a list or array of
:class:`pymatgen.core.Structure`, CIF/POSCAR strings or ``Structure.as_dict()``
dictionaries) into a list of Structures, and fails with a message that names
the row, the structure and what to do.  :func:`check_target` does the same for
targets.  Nothing is ever dropped silently: a bad row raises.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import pandas as pd
from pymatgen.core import Lattice, Structure
from pymatgen.core.periodic_table import DummySpecies, Element
from pymatgen.core.structure import SiteCollection

from ..encodings.atoms import MAX_Z

__all__ = [
    "StructureValidationError",
    "check_structures",
    "check_target",
    "closest_pair",
    "is_structure_input",
    "resolve_disorder",
    "row_labels",
    "structure_arrays",
]



class StructureValidationError(ValueError):
    """A structure in the input cannot be used; the message names the row."""


def _label(labels, i):
    lab = labels[i]
    return f"row {i}" if lab == i else f"row {i} (index {lab!r})"


def row_labels(X):
    """Return the row labels of ``X`` (the pandas index if any, else positions).

    Parameters
    ----------
    X : DataFrame, Series or sequence
        The input rows.

    Returns
    -------
    list
        One label per row.
    """
    if isinstance(X, (pd.DataFrame, pd.Series)):
        return list(X.index)
    return list(range(len(X)))


def _from_string(s):
    text = s.strip()
    if not text:
        raise ValueError("an empty string is not a structure")
    # CIF files always carry data_ blocks and _cell_ tags; everything else is tried as POSCAR.
    if "_cell_length_a" in text or text.startswith("data_"):
        fmt = "cif"
    else:
        fmt = "poscar"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(text, fmt=fmt)


def _coerce_one(obj):
    if isinstance(obj, Structure):
        return obj
    if isinstance(obj, dict):
        return Structure.from_dict(obj)
    if isinstance(obj, str):
        return _from_string(obj)
    if obj is None or (isinstance(obj, float) and np.isnan(obj)):
        raise ValueError("the entry is missing (None/NaN)")
    raise TypeError(
        f"got a {type(obj).__name__}; expected a pymatgen Structure, a CIF or POSCAR "
        "string, or a Structure.as_dict() dictionary"
    )


def _is_missing(v):
    return v is None or (isinstance(v, float) and np.isnan(v))


def is_structure_input(X, column="structure"):
    """Tell whether ``X`` holds structures (as opposed to a featurizer's output).

    Used by estimators that accept either structures (they apply their default
    featurizer) or the output of a featurizer step in a Pipeline.  ``X`` holds
    structures when it is a DataFrame with a ``column`` column, or a sequence
    whose first non-missing entry is a pymatgen structure or molecule, a
    CIF/POSCAR string or a dictionary.  ``None``, empty sequences and
    sequences of missing entries count as structure input too, so that
    :func:`check_structures` reports them with a clear message.

    Parameters
    ----------
    X : object
        What the estimator was given.
    column : str, default="structure"
        Name of the structure column of a DataFrame.

    Returns
    -------
    bool
    """
    import scipy.sparse

    if scipy.sparse.issparse(X):  # before the dict test: a dok matrix is a dict
        return False
    if X is None or isinstance(X, (SiteCollection, str, bytes, dict)):
        return True
    if isinstance(X, pd.DataFrame):
        if column in X.columns:
            return True
        # a frame of numbers is a feature matrix; anything else is a frame of structures
        # with a missing or misnamed column, which check_structures reports
        return not all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in X.dtypes)
    if isinstance(X, np.ndarray):
        if X.dtype != object:
            return False
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        elif X.ndim != 1:
            return False
    if isinstance(X, pd.Series):
        X = X.to_numpy()
    try:
        items = iter(X)
    except TypeError:
        return False
    for item in items:
        if not _is_missing(item):
            return isinstance(item, (SiteCollection, str, dict))
    # empty, or only missing entries
    return True


def resolve_disorder(structures, method="majority"):
    """Return ordered copies of structures that have partially occupied sites.

    Parameters
    ----------
    structures : list of Structure
        Structures, ordered or not.
    method : {"majority"}
        ``"majority"`` keeps, on each disordered site, the species with the
        largest occupancy (ties broken by atomic number) at full occupancy.
        For a physically ordered supercell use pymatgen's
        ``OrderDisorderedStructureTransformation`` instead.

    Returns
    -------
    list of Structure
    """
    if method != "majority":
        raise ValueError(f"method must be 'majority', got {method!r}")
    out = []
    for s in structures:
        if s.is_ordered:
            out.append(s)
            continue
        species = []
        for site in s:
            items = sorted(site.species.items(), key=lambda kv: (-kv[1], getattr(kv[0], "Z", 0)))
            species.append(items[0][0])
        out.append(Structure(s.lattice, species, s.frac_coords, site_properties=s.site_properties))
    return out


def _check_one(s, *, disorder, min_distance, max_sites):
    """Return a problem description for structure ``s`` or None if it is usable."""
    n = len(s)
    if n == 0:
        return "the cell has no atoms (0 sites); remove the row or fix the structure"
    if max_sites is not None and n > max_sites:
        return (
            f"the cell has {n} sites, more than max_sites={max_sites}; raise max_sites "
            "or use a primitive/reduced cell (structure.get_primitive_structure())"
        )
    m = s.lattice.matrix
    if not np.all(np.isfinite(m)):
        return "the lattice has non-finite (NaN/inf) components"
    vol = abs(np.linalg.det(m))
    if not np.isfinite(vol) or vol < 1e-3:
        return f"the lattice is singular (volume {vol:.3g} Å^3)"
    if not np.all(np.isfinite(s.frac_coords)):
        return "some atomic coordinates are non-finite (NaN/inf)"
    if not s.is_ordered:
        if disorder == "raise":
            bad = [i for i, site in enumerate(s) if not site.is_ordered][:3]
            return (
                f"sites {bad} are partially occupied/disordered ({s.composition.reduced_formula}); "
                "pass disorder='majority' to keep the majority species per site, or order the "
                "structure first (skcrystal.utils.validation.resolve_disorder, or pymatgen's "
                "OrderDisorderedStructureTransformation)"
            )
    for sp in s.composition:
        if isinstance(sp, DummySpecies) or not hasattr(sp, "Z"):
            return f"unknown species {str(sp)!r}; only real elements (Z=1..{MAX_Z}) are supported"
        if sp.Z > MAX_Z or sp.Z < 1:
            return f"unknown element {str(sp)!r} (Z={sp.Z})"
    if min_distance:
        return _overlap_problem(m, s.frac_coords, min_distance)
    return None


def closest_pair(lattice, frac, cutoff):
    """The closest pair of atoms (periodic images included) if it is closer than ``cutoff``.

    Costs O(n_atoms) time and memory whatever the cell volume (a cell-list
    search allocates cells over the whole volume: 27 GB for a 1000 Å cell).
    The lattice is LLL-reduced first, then a k-d tree holds the atoms and the
    images needed to reach ``cutoff`` across every face (27 copies for any
    cell whose reduced faces are at least ``cutoff`` apart).

    Parameters
    ----------
    lattice : array of shape (3, 3)
        Lattice vectors as rows (Å), non-singular.
    frac : array of shape (n_atoms, 3)
        Fractional coordinates (finite).
    cutoff : float
        Distance (Å).

    Returns
    -------
    tuple (i, j, distance) or None
        Site indices (``i == j``: an atom and its own image) and their
        distance, or ``None`` when no pair is closer than ``cutoff``.

    Raises
    ------
    ValueError
        If the reduced cell is so flat that more than a million images would
        be needed.
    """
    from scipy.spatial import cKDTree

    lat = Lattice(lattice)
    red = lat.lll_matrix
    cart = np.asarray(frac, dtype=np.float64) @ lat.matrix
    fr = np.linalg.solve(red.T, cart.T).T
    fr -= np.floor(fr)
    home = fr @ red
    n = len(home)
    vol = abs(np.linalg.det(red))
    areas = np.linalg.norm(np.cross(red[[1, 2, 0]], red[[2, 0, 1]]), axis=1)
    reach = np.ceil(cutoff * areas / vol).astype(np.int64)  # images needed along each reduced axis
    n_images = int(np.prod(2 * reach + 1))
    if n_images > 1_000_000:
        raise ValueError(
            f"the cell is too flat to check for overlapping atoms (reduced faces {np.round(vol / areas, 4).tolist()} Å "
            f"apart for a {cutoff} Å check)"
        )
    grids = np.meshgrid(*[np.arange(-k, k + 1) for k in reach], indexing="ij")
    offsets = np.stack([g.ravel() for g in grids], axis=1)
    shifts = offsets @ red
    tree = cKDTree(home)
    best = None
    # images in chunks of about a million points: memory O(n_atoms) for ordinary cells
    step = max(1, 1_000_000 // max(n, 1))
    for start in range(0, n_images, step):
        block = offsets[start : start + step]
        pts = (home[None, :, :] + shifts[start : start + step][:, None, :]).reshape(-1, 3)
        pairs = tree.sparse_distance_matrix(cKDTree(pts), cutoff, output_type="ndarray")
        if len(pairs) == 0:
            continue
        i, k, d = pairs["i"], pairs["j"], pairs["v"]
        self_pair = (k % n == i) & ~block[k // n].any(axis=1)  # an atom and itself
        i, k, d = i[~self_pair], k[~self_pair], d[~self_pair]
        if len(d):
            b = int(np.argmin(d))
            if best is None or d[b] < best[2]:
                best = (int(i[b]), int(k[b] % n), float(d[b]))
    return best


def _overlap_problem(lattice, frac, min_distance):
    try:
        hit = closest_pair(lattice, frac, min_distance)
    except ValueError as exc:
        return str(exc)
    if hit is None:
        return None
    i, j, d = hit
    if i == j:
        return (
            f"atom {i} overlaps its own periodic image (distance {d:.3f} Å): a lattice vector is shorter "
            f"than min_distance={min_distance} Å"
        )
    i, j = min(i, j), max(i, j)
    return (
        f"atoms {i} and {j} overlap (distance {d:.3f} Å < min_distance={min_distance} Å); the structure "
        "is probably corrupt or has duplicated sites (try structure.merge_sites(tol=0.5, mode='delete'))"
    )


def check_structures(
    X,
    *,
    column="structure",
    disorder="raise",
    min_distance=0.5,
    max_sites=None,
    copy=False,
):
    """Validate a collection of crystal structures and return them as a list.

    Parameters
    ----------
    X : DataFrame, Series, list, tuple or 1-D array
        A DataFrame with a ``column`` of structures, or a sequence whose
        entries are :class:`~pymatgen.core.Structure`, CIF or POSCAR strings,
        or ``Structure.as_dict()`` dictionaries.
    column : str, default="structure"
        Name of the structure column when ``X`` is a DataFrame.
    disorder : {"raise", "majority", "allow"}, default="raise"
        What to do with partially occupied sites.  ``"raise"`` fails naming
        the row; ``"majority"`` keeps the majority species of each site (see
        :func:`resolve_disorder`); ``"allow"`` passes disordered structures
        through (only for composition-based featurizers).
    min_distance : float or None, default=0.5
        Two atoms closer than this (Å, periodic images included) mean a
        corrupt structure and raise.  ``None`` or 0 disables the check.
    max_sites : int or None, default=None
        Largest number of sites accepted per cell.
    copy : bool, default=False
        Return copies rather than the user's objects.

    Returns
    -------
    structures : list of Structure
        One per input row, in order; never shorter than the input.

    Raises
    ------
    StructureValidationError
        Naming the row (position and index label), the formula if known, what
        is wrong, and what to do.
    """
    if disorder not in ("raise", "majority", "allow"):
        raise ValueError(f"disorder must be 'raise', 'majority' or 'allow', got {disorder!r}")
    if isinstance(X, Structure):
        raise StructureValidationError(
            "expected a collection of structures (list, Series or DataFrame) but got a single "
            "Structure; wrap it in a list: [structure]"
        )
    if isinstance(X, pd.DataFrame):
        if column not in X.columns:
            raise StructureValidationError(
                f"the DataFrame has no {column!r} column (columns: {list(X.columns)[:10]}); "
                "put the pymatgen Structures in a 'structure' column or pass the column "
                "itself, e.g. df['my_column']"
            )
        labels = list(X.index)
        values = list(X[column])
    elif isinstance(X, pd.Series):
        labels = list(X.index)
        values = list(X)
    elif isinstance(X, (str, bytes, dict)):
        raise StructureValidationError(
            f"expected a collection of structures but got a single {type(X).__name__}; wrap it in a list"
        )
    else:
        if isinstance(X, np.ndarray):
            if X.ndim == 2 and X.shape[1] == 1:
                X = X[:, 0]
            if X.ndim != 1:
                raise StructureValidationError(
                    f"expected a 1-D collection of structures but got an array of shape {X.shape}; "
                    "numeric feature matrices go to the model after a featurizer, not here"
                )
        try:
            values = list(X)
        except TypeError:
            raise StructureValidationError(
                f"expected a collection of structures, got {type(X).__name__}"
            ) from None
        labels = list(range(len(values)))
    if len(values) == 0:
        raise StructureValidationError("no structures given (0 rows)")

    out = []
    for i, obj in enumerate(values):
        try:
            s = _coerce_one(obj)
        except Exception as exc:  # noqa: BLE001 - re-raised with the row named
            raise StructureValidationError(
                f"{_label(labels, i)}: cannot read a structure: {exc}"
            ) from exc
        problem = _check_one(s, disorder=disorder, min_distance=min_distance, max_sites=max_sites)
        if problem is not None:
            try:
                formula = s.composition.reduced_formula if len(s) else "empty cell"
            except Exception:  # noqa: BLE001
                formula = "?"
            raise StructureValidationError(f"{_label(labels, i)} ({formula}): {problem}")
        if disorder == "majority" and not s.is_ordered:
            s = resolve_disorder([s])[0]
        elif copy:
            s = s.copy()
        out.append(s)
    return out


def check_target(y, n_samples=None, *, classification=False, allow_nan=False):
    """Validate a 1-D target and return it as a numpy array.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, 1)
        Target values (a Series keeps its index for the error messages).
    n_samples : int, optional
        Expected number of rows (the number of structures).
    classification : bool, default=False
        If True any hashable labels are allowed (NaN/None still raise).
    allow_nan : bool, default=False
        Let NaN through (never for training).

    Returns
    -------
    y : ndarray of shape (n_samples,)

    Raises
    ------
    ValueError
        Naming the rows that hold NaN/inf and what to do.
    """
    if y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None")
    labels = list(y.index) if isinstance(y, (pd.Series, pd.DataFrame)) else None
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise ValueError(f"y must be 1-D (one target column), got shape {y.shape}")
        y = y.iloc[:, 0]
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning

        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; it is raveled",
            DataConversionWarning,
            stacklevel=3,
        )
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {arr.shape}")
    if n_samples is not None and len(arr) != n_samples:
        raise ValueError(f"X has {n_samples} structures but y has {len(arr)} values")
    if classification:
        bad = np.array([v is None or (isinstance(v, numbers.Real) and not np.isfinite(v)) for v in arr], dtype=bool)
    else:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"regression targets must be numeric: {exc}") from exc
        bad = ~np.isfinite(arr)
    if bad.any() and not allow_nan:
        idx = np.flatnonzero(bad)
        where = [labels[i] if labels is not None else int(i) for i in idx[:10]]
        raise ValueError(
            f"y has {bad.sum()} missing or non-finite value(s) at rows {where}"
            f"{' …' if len(idx) > 10 else ''}; drop those rows first, e.g. "
            "df = df.dropna(subset=[target_column])"
        )
    return arr


def structure_arrays(s):
    """Return the plain arrays of a structure (lattice matrix, fractional coords, atomic numbers).

    Cheap to pickle, so they are what is sent to joblib workers.

    Parameters
    ----------
    s : Structure
        An ordered structure.

    Returns
    -------
    lattice : ndarray of shape (3, 3)
        Lattice vectors as rows (Å).
    frac : ndarray of shape (n_sites, 3)
        Fractional coordinates.
    Z : ndarray of int64, shape (n_sites,)
        Atomic numbers.
    """
    lattice = np.asarray(s.lattice.matrix, dtype=np.float64)
    frac = np.asarray(s.frac_coords, dtype=np.float64)
    Z = np.array([sp.Z for sp in s.species], dtype=np.int64)
    return lattice, frac, Z


def structure_from_arrays(lattice, frac, Z):
    """Inverse of :func:`structure_arrays`."""
    return Structure(Lattice(lattice), [Element.from_Z(int(z)) for z in Z], frac)
