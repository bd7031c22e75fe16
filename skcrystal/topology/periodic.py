"""Exact periodic interaction complexes (beyond ITT).

PIH is local: the H0 bar and the link graph of an A-atom ``a`` only involve
simplices containing ``a`` with a filtration value at most ``r``; every such
alpha simplex lies in a ball of radius ``r`` through ``a``, so all the atoms
that matter are within ``2 r`` of ``a``.  Building the alpha complex of the
unit cell's atoms plus every periodic image within ``2 r`` (+ a margin) of
the cell therefore gives the exact interaction homology of the infinite
crystal for the A-atoms of the home cell, up to radius ``r`` -- no 64 Å
supercell needed.
"""

from __future__ import annotations

import numpy as np

__all__ = ["periodic_images"]


def periodic_images(lattice, frac, radius):
    """Cartesian coordinates of a cell's atoms plus all images within ``radius`` of the cell.

    Parameters
    ----------
    lattice : ndarray of shape (3, 3)
    frac : ndarray of shape (n, 3)
    radius : float
        Distance (Å) from the home cell's atoms within which images are kept.

    Returns
    -------
    coords : ndarray of shape (m, 3)
        The ``n`` home atoms first (in input order), then the images.
    index : ndarray of shape (m,), int
        The unit-cell atom each point is an image of.
    """
    from scipy.spatial import cKDTree

    lattice = np.asarray(lattice, dtype=np.float64)
    frac = np.asarray(frac, dtype=np.float64).reshape(-1, 3)
    frac = frac - np.floor(frac)
    home = frac @ lattice
    # number of shells needed along each axis: interplanar spacing d_i = V / |a_j x a_k|
    vol = abs(np.linalg.det(lattice))
    cross = np.array([np.cross(lattice[1], lattice[2]), np.cross(lattice[2], lattice[0]), np.cross(lattice[0], lattice[1])])
    spacing = vol / np.linalg.norm(cross, axis=1)
    nmax = np.ceil(radius / spacing).astype(int) + 1
    rng = [np.arange(-k, k + 1) for k in nmax]
    shifts = np.stack(np.meshgrid(*rng, indexing="ij"), -1).reshape(-1, 3)
    shifts = shifts[np.any(shifts != 0, axis=1)]
    img = (frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3) @ lattice
    idx = np.tile(np.arange(len(frac)), len(shifts))
    d, _ = cKDTree(home).query(img, distance_upper_bound=radius)
    ok = np.isfinite(d)
    return np.vstack([home, img[ok]]), np.concatenate([np.arange(len(frac)), idx[ok]])
