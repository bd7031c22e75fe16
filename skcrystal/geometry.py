"""Periodic geometry in plain numpy: neighbour search over all lattice images.

:func:`periodic_neighbors` is the one neighbour search every graph-like
featurizer uses (pymatgen's Cython cell-list search, the engine behind
``Structure.get_neighbor_list``), correct for cells smaller than the cutoff,
with an optional cap on neighbours per atom (nearest first, ties broken by
neighbour index then image, so the result is deterministic).
"""

from __future__ import annotations

import numpy as np

__all__ = ["periodic_neighbors"]


def periodic_neighbors(lattice, frac, cutoff, max_neighbors=None, complete_shells=True, tol=1e-8, shell_tol=1e-4):
    """All neighbours within ``cutoff`` of every site, over all periodic images.

    Parameters
    ----------
    lattice : array of shape (3, 3)
        Lattice vectors as rows (Å).
    frac : array of shape (n_sites, 3)
        Fractional coordinates.
    cutoff : float
        Radius in Å; pairs with ``tol < d <= cutoff`` are kept (an atom is its
        own neighbour through its periodic images).
    max_neighbors : int or None, default=None
        Keep at most this many nearest neighbours per site (ties broken by
        neighbour index, then image offset).  ``None`` keeps all.
    complete_shells : bool, default=True
        With ``max_neighbors``, also keep the neighbours tied (within
        ``shell_tol``) with the last one kept, so a shell of equidistant
        neighbours is never cut.  This makes the graph independent of the
        order of the sites and of the choice of origin.  ``False`` keeps
        exactly ``max_neighbors`` (CGCNN's rule; which member of a cut shell is
        kept then depends on site order).
    tol : float, default=1e-8
        Pairs closer than this (an atom and itself in the home cell) are dropped.
    shell_tol : float, default=1e-4
        Distances within this many Å count as one shell.

    Returns
    -------
    center : ndarray of int64, shape (n_edges,)
        Index of the centre site ``i``, sorted ascending.
    neighbor : ndarray of int64, shape (n_edges,)
        Index of the neighbour site ``j``.
    image : ndarray of int64, shape (n_edges, 3)
        Lattice translation of the neighbour's image.
    distance : ndarray of float64, shape (n_edges,)
        ``|r_j + image·L − r_i|``; per centre in ascending order.
    """
    from pymatgen.optimization.neighbors import find_points_in_spheres

    lattice = np.ascontiguousarray(lattice, dtype=np.float64)
    frac = np.ascontiguousarray(frac, dtype=np.float64)
    cart = np.ascontiguousarray(frac @ lattice)
    n = len(cart)
    if n == 0 or (max_neighbors is not None and max_neighbors == 0):
        e = np.zeros(0, dtype=np.int64)
        return e, e.copy(), np.zeros((0, 3), dtype=np.int64), np.zeros(0, dtype=np.float64)
    ci, cj, img, d = find_points_in_spheres(
        cart, cart, float(cutoff), np.array([1, 1, 1], dtype=np.int64), lattice, tol=tol
    )
    img = np.rint(img).astype(np.int64)
    keep = d > tol
    ci, cj, img, d = ci[keep].astype(np.int64), cj[keep].astype(np.int64), img[keep], d[keep]
    # deterministic order: centre, distance (rounded so numerically tied shells
    # compare equal), neighbour index, image
    dr = np.round(d, 6)
    order = np.lexsort((img[:, 2], img[:, 1], img[:, 0], cj, dr, ci))
    ci, cj, img, d = ci[order], cj[order], img[order], d[order]
    if max_neighbors is not None and len(ci):
        starts = np.searchsorted(ci, np.arange(n))
        rank = np.arange(len(ci)) - starts[ci]
        k = int(max_neighbors)
        keep = rank < k
        if complete_shells:
            counts = np.bincount(ci, minlength=n)
            last = starts + np.minimum(counts, k) - 1  # position of the k-th nearest per centre
            has = counts > 0
            kth = np.full(n, -np.inf)
            kth[has] = d[last[has]]
            keep |= d <= kth[ci] + shell_tol
        ci, cj, img, d = ci[keep], cj[keep], img[keep], d[keep]
    return ci, cj, img, d
