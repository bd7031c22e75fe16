"""Faithful global and positional encodings (plain numpy, shared by featurizers and models).

* :func:`lattice_sinusoids` — ``sin(2π·2^(i+1)·x/scale)``, i = 0, 1, on the 9
  components of the lattice matrix *in pymatgen's standard orientation*
  (built from a, b, c, α, β, γ), so the code does not change when the crystal
  is rotated (the paper's code encodes the raw POSCAR matrix).
* :func:`frac_sinusoids` — ``sin(2π·2^(i+1)·x)``, i = 0..n−1, on fractional
  coordinates (unchanged by lattice translations).
* :func:`spacegroup_number` / :func:`point_group_index` and :func:`one_hot`.
* :func:`reduced_primitive_lattice` — the lattice of the crystal's reduced
  primitive cell (spglib's primitive cell, not idealized, Niggli-reduced):
  the same for any cell of the same crystal (a supercell, another setting),
  so the global vector :func:`faithful_global_vector` built from it describes
  the crystal, not the cell it was given in.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
from pymatgen.core import Lattice

__all__ = [
    "POINT_GROUPS",
    "canonical_lattice_matrix",
    "canonical_rotation",
    "faithful_global_vector",
    "frac_sinusoids",
    "lattice_sinusoids",
    "one_hot",
    "point_group_index",
    "reduced_primitive_lattice",
    "spacegroup_number",
    "symmetry_info",
]

# The 32 crystallographic point groups (Hermann–Mauguin, as spglib writes them).
POINT_GROUPS = (
    "1", "-1", "2", "m", "2/m", "222", "mm2", "mmm", "4", "-4", "4/m", "422", "4mm",
    "-42m", "4/mmm", "3", "-3", "32", "3m", "-3m", "6", "-6", "6/m", "622", "6mm",
    "-6m2", "6/mmm", "23", "m-3", "432", "-43m", "m-3m",
)  # fmt: skip
_PG_ALIASES = {"-4m2": "-42m", "-62m": "-6m2", "312": "32", "321": "32", "31m": "3m", "3m1": "3m",
               "-31m": "-3m", "-3m1": "-3m", "mm2": "mm2", "m2m": "mm2", "2mm": "mm2"}


def canonical_lattice_matrix(lattice):
    """Return the lattice matrix rebuilt from (a, b, c, α, β, γ): rotation-free, 3×3.

    Parameters
    ----------
    lattice : Lattice or array of shape (3, 3)
        Lattice vectors as rows.

    Returns
    -------
    ndarray of shape (3, 3)
        The same lattice in pymatgen's standard orientation.
    """
    if not isinstance(lattice, Lattice):
        lattice = Lattice(lattice)
    return Lattice.from_parameters(*lattice.abc, *lattice.angles).matrix


def canonical_rotation(lattice):
    """Rotation taking Cartesian vectors to the lattice's standard orientation.

    The standard orientation is pymatgen's ``Lattice.from_parameters`` one
    (``a`` along x, ``b`` in the xy-plane).  Edge vectors expressed in it do
    not change when the crystal is rotated or translated.

    Parameters
    ----------
    lattice : array of shape (3, 3)
        Lattice vectors as rows.

    Returns
    -------
    R : ndarray of shape (3, 3)
        ``v_canonical = v_cartesian @ R``.
    """
    from pymatgen.core import Lattice

    lattice = np.asarray(lattice, dtype=np.float64)
    lat = Lattice(lattice)
    canon = Lattice.from_parameters(*lat.abc, *lat.angles).matrix
    # canon = lattice @ R  (both hold the same fractional -> Cartesian map up to rotation)
    return np.linalg.solve(lattice, canon)


def lattice_sinusoids(lattice, n_frequencies=2, scale=10.0):
    """Sinusoidal code of the lattice: 9 × ``n_frequencies`` numbers.

    Parameters
    ----------
    lattice : Lattice or array of shape (3, 3)
    n_frequencies : int, default=2
        Frequencies ``2^(i+1)/scale`` for i = 0..n−1 (the paper: 2).
    scale : float, default=10.0
        Length scale in Å.

    Returns
    -------
    ndarray of shape (9 * n_frequencies,)
        Ordered component-major: ``[m00_f0, m00_f1, m01_f0, …]``.
    """
    m = canonical_lattice_matrix(lattice).reshape(-1)
    freqs = 2.0 ** (np.arange(n_frequencies) + 1)
    return np.sin(2 * np.pi * m[:, None] * freqs[None, :] / scale).reshape(-1)


def frac_sinusoids(frac, n_frequencies=5):
    """Sinusoidal code of fractional coordinates.

    Parameters
    ----------
    frac : array of shape (n_atoms, 3)
    n_frequencies : int, default=5

    Returns
    -------
    ndarray of shape (n_atoms, 3 * n_frequencies)
        Per atom ``[x_f0..x_f(n-1), y_f0…, z_f0…]``.
    """
    frac = np.asarray(frac, dtype=np.float64)
    freqs = 2.0 ** (np.arange(n_frequencies) + 1)
    return np.sin(2 * np.pi * frac[:, :, None] * freqs[None, None, :]).reshape(len(frac), -1)


def _check_tolerances(symprec, angle_tolerance):
    """spglib crashes the interpreter on a negative tolerance: check before calling it."""
    for name, v, hi in (("symprec", symprec, None), ("angle_tolerance", angle_tolerance, 180.0)):
        ok = isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) and np.isfinite(v) and v > 0
        if not ok or (hi is not None and v >= hi):
            rng = "(0, inf)" if hi is None else f"(0, {hi:g})"
            raise ValueError(f"{name} must be a number in {rng}, got {v!r}")


def _symmetry_dataset(structure, symprec, angle_tolerance):
    """spglib's symmetry dataset of a structure, or None when spglib finds no symmetry."""
    import spglib

    _check_tolerances(symprec, angle_tolerance)
    kinds = {}
    numbers_ = [kinds.setdefault(site.species, len(kinds) + 1) for site in structure]
    cell = (structure.lattice.matrix, structure.frac_coords, numbers_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return spglib.get_symmetry_dataset(cell, symprec=float(symprec), angle_tolerance=float(angle_tolerance))
        except spglib.SpglibError:  # spglib found no symmetry at this tolerance
            return None


def symmetry_info(structure, symprec=0.1, angle_tolerance=5.0):
    """Return ``(space group number, point group symbol)`` from spglib.

    spglib is called directly on ``(lattice, fractional coordinates, species
    index)`` with the species numbered as pymatgen's ``SpacegroupAnalyzer``
    numbers them (distinct species, oxidation states included, get distinct
    numbers; magnetic moments are not used), which gives the same answer
    without the analyser's set-up cost (10-15 % of the time on Materials
    Project cells; spglib's own search is the rest).

    Parameters
    ----------
    structure : Structure
        The crystal.
    symprec : float, default=0.1
        Distance tolerance (Å), > 0.
    angle_tolerance : float, default=5.0
        Angle tolerance (degrees), in (0, 180).

    Returns
    -------
    number : int
        1..230; 1 (P1) only when spglib finds no symmetry at this tolerance,
        which is then the right answer.
    point_group : str
        Hermann–Mauguin symbol of the point group.

    Raises
    ------
    ValueError
        For a tolerance that is not a positive number (spglib would crash
        the Python process on a negative one, or silently answer P1).
    """
    data = _symmetry_dataset(structure, symprec, angle_tolerance)
    if data is None:
        return 1, "1"
    return int(data.number), str(data.pointgroup)


def reduced_primitive_lattice(structure, symprec=0.1, angle_tolerance=5.0):
    """The lattice of the crystal's reduced primitive cell (rotation-free matrix).

    spglib's primitive cell of the structure at ``symprec`` (its lattice
    vectors as in the input, *not* idealized, so strains are kept), Niggli
    reduced, rebuilt from ``(a, b, c, α, β, γ)`` in pymatgen's standard
    orientation.  Any cell of the same crystal — a supercell, a conventional
    cell, a rotated or translated copy — gives the same matrix (to rounding),
    so a code built from it describes the crystal rather than the cell.
    Falls back to the Niggli-reduced input cell when spglib finds no symmetry.

    Parameters
    ----------
    structure : Structure
        The crystal.
    symprec : float, default=0.1
        Distance tolerance (Å) of the primitive-cell search.
    angle_tolerance : float, default=5.0
        Angle tolerance (degrees).

    Returns
    -------
    ndarray of shape (3, 3)
        Lattice vectors as rows.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> s = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> import numpy as np
    >>> bool(np.allclose(reduced_primitive_lattice(s * (2, 1, 3)), reduced_primitive_lattice(s)))
    True
    """
    return _reduced_primitive(structure, _symmetry_dataset(structure, symprec, angle_tolerance))


def _reduced_primitive(structure, data):
    import spglib

    prim = np.asarray(data.primitive_lattice, dtype=np.float64) if data is not None else structure.lattice.matrix
    red = spglib.niggli_reduce(prim)
    if red is None:  # spglib gives up on extremely skewed cells
        red = Lattice(prim).get_niggli_reduced_lattice().matrix
    return canonical_lattice_matrix(red)


def spacegroup_number(structure, symprec=0.1, angle_tolerance=5.0):
    """Return the international space-group number (1..230) of a structure.

    Parameters
    ----------
    structure : Structure
        The crystal.
    symprec : float, default=0.1
        Distance tolerance (Å).
    angle_tolerance : float, default=5.0
        Angle tolerance (degrees).

    Returns
    -------
    int
        See :func:`symmetry_info`.
    """
    return symmetry_info(structure, symprec, angle_tolerance)[0]


def point_group_index(symbol):
    """Return the index (0..31) of a point-group symbol in :data:`POINT_GROUPS`.

    Parameters
    ----------
    symbol : str
        Hermann–Mauguin symbol as spglib writes it (settings such as
        ``"-4m2"`` are mapped to their class, ``"-42m"``).

    Returns
    -------
    int
        The index.
    """
    symbol = _PG_ALIASES.get(symbol, symbol)
    try:
        return POINT_GROUPS.index(symbol)
    except ValueError:
        raise ValueError(f"unknown point group {symbol!r}") from None


def one_hot(index, size):
    """Return a float one-hot vector.

    Parameters
    ----------
    index : int
        Position of the 1.
    size : int
        Length.

    Returns
    -------
    ndarray of float64, shape (size,)
        The vector.
    """
    v = np.zeros(size, dtype=np.float64)
    v[index] = 1.0
    return v


def faithful_global_vector(structure, space_group=True, symprec=0.1, n_frequencies=2, cell="reduced"):
    """The faithful global vector ``g``: lattice sinusoids (18) ⊕ space-group one-hot (230).

    Shared by the binned NNN vector, the crystal graphs and the voxelizer.
    The lattice code is that of the crystal's reduced primitive cell
    (:func:`reduced_primitive_lattice`), so ``g`` is the same for a supercell
    or any other cell of the same crystal — a model that pools per atom and
    reads ``g`` then predicts an intensive property the same for any cell.
    (The faithful paper's code encodes the lattice of the file as given;
    ``cell="given"`` does that.)

    Parameters
    ----------
    structure : Structure
        The crystal.
    space_group : bool, default=True
        Append the 230-way space-group one-hot (spglib at ``symprec``).
    symprec : float, default=0.1
        Symmetry tolerance (Å) of the space group and primitive-cell search.
    n_frequencies : int, default=2
        Octaves of the lattice sinusoids (9 numbers each).
    cell : {"reduced", "given"}, default="reduced"
        Encode the reduced primitive cell, or the cell as given.

    Returns
    -------
    ndarray of shape (9 * n_frequencies,) or (9 * n_frequencies + 230,), float64
    """
    if cell not in ("reduced", "given"):
        raise ValueError(f"cell must be 'reduced' or 'given', got {cell!r}")
    data = _symmetry_dataset(structure, symprec, 5.0) if (space_group or cell == "reduced") else None
    lattice = _reduced_primitive(structure, data) if cell == "reduced" else structure.lattice
    g = lattice_sinusoids(lattice, n_frequencies)
    if not space_group:
        return g
    sg = int(data.number) if data is not None else 1
    return np.concatenate([g, one_hot(sg - 1, 230)])
