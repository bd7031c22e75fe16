"""ITT's supercell rule: repeat each axis until it is about ``length`` Å long."""

from __future__ import annotations

import numpy as np

__all__ = ["FACE_TOL", "canonical_frac", "supercell_coords", "supercell_repeats"]


def supercell_repeats(abc, length=64.0):
    """Return the repeats per axis: ``max(1, round(length / a))`` (Python's round, half to even).

    Parameters
    ----------
    abc : sequence of 3 floats
        Lattice vector lengths (Å).
    length : float or None, default=64.0
        Target edge length (Å).  ``None`` or 0 means no repetition.

    Returns
    -------
    tuple of 3 int
    """
    if not length:
        return (1, 1, 1)
    return tuple(max(1, round(length / float(x))) for x in abc)


def _rowdot(x, m):
    # x @ m written out so that every platform rounds identically (no BLAS/FMA)
    return x[:, 0:1] * m[0] + x[:, 1:2] * m[1] + x[:, 2:3] * m[2]


#: Fractional coordinates within this of a cell face count as on the face (folded to the low face).
FACE_TOL = 1e-8


def canonical_frac(frac, tol=FACE_TOL):
    """Fractional coordinates wrapped into ``[-tol, 1 - tol)``.

    A site on a cell face (within ``tol`` of an integer) lands on the low face
    whatever integer was added to it or how rounding left it (``0.9999999999``,
    ``1.0`` and ``-1e-17`` all become ``~0``), so the choice is invariant to
    rotations of the lattice (fractional coordinates do not change) and to
    integer lattice shifts.

    Parameters
    ----------
    frac : ndarray of shape (n, 3)
    tol : float, default=FACE_TOL

    Returns
    -------
    ndarray of shape (n, 3)
    """
    frac = np.asarray(frac, dtype=np.float64)
    return frac - np.floor(frac + tol)


def supercell_coords(lattice, frac, Z, length=64.0):
    """Cartesian coordinates and atomic numbers of ITT's supercell.

    Reproduces, about 100x faster, the coordinates of
    ``structure.make_supercell(supercell_repeats(abc, length))`` followed by
    ``structure.cart_coords`` in pymatgen (sites in the same order, folded
    into the supercell), with every matrix product evaluated as plain IEEE
    products and sums: bit for bit pymatgen's output where numpy's matrix
    product rounds that way, within an ulp where the BLAS kernel uses fused
    multiply-adds (pymatgen's own output then depends on the machine; this
    one does not) -- except for sites on a cell face.  pymatgen decides
    on which face such a site lands by the rounding of a Cartesian round
    trip, so a rotated copy of the same crystal, or one with an integer added
    to a fractional coordinate, can give another finite supercell (and other
    features).  Here the face is decided from the fractional coordinates
    (:func:`canonical_frac`: always the low face); where pymatgen's rounding
    chose the other face the point is moved by one supercell vector, so
    every other coordinate stays bit-identical to pymatgen's.

    Parameters
    ----------
    lattice : ndarray of shape (3, 3)
        Lattice vectors as rows.
    frac : ndarray of shape (n, 3)
        Fractional coordinates.
    Z : ndarray of shape (n,)
        Atomic numbers.
    length : float or None, default=64.0
        See :func:`supercell_repeats`.

    Returns
    -------
    coords : ndarray of shape (n * na * nb * nc, 3)
    Z : ndarray of shape (n * na * nb * nc,), int
    """
    lattice = np.asarray(lattice, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64).reshape(-1, 3)
    Z = np.asarray(Z, dtype=np.int64)
    # sites outside [0, 1) or on a high face are first wrapped (a no-op for ITT's CIFs, all in [0, 1))
    frac = canonical_frac(frac)
    cart0 = _rowdot(frac, lattice)
    abc = np.sqrt((lattice**2).sum(axis=1))
    reps = supercell_repeats(abc, length)
    if reps == (1, 1, 1):
        return cart0, Z
    scale = np.diag(reps).astype(np.float64)
    new = _rowdot(scale, lattice)
    # lattice points of the supercell in pymatgen's order (x slowest)
    grid = np.stack(np.meshgrid(*[np.arange(r) for r in reps], indexing="ij"), -1).reshape(-1, 3).astype(np.float64)
    flat = _rowdot(grid, np.linalg.inv(scale))
    shifts = _rowdot(flat, new)
    cart = (cart0[:, None, :] + shifts[None, :, :]).reshape(-1, 3)
    f = np.mod(np.mod(_rowdot(cart, np.linalg.inv(new)), 1), 1)
    # where each image belongs, from the fractional coordinates alone
    target = ((frac[:, None, :] + grid[None, :, :]) / np.asarray(reps, dtype=np.float64)).reshape(-1, 3)
    f = f - np.round(f - target)  # +-1 only where pymatgen's rounding picked the other face
    return _rowdot(f, new), np.repeat(Z, len(shifts))
