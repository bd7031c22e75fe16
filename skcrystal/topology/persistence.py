"""Persistence diagrams of finite point clouds: alpha complexes (gudhi) and Vietoris-Rips (ripser)."""

from __future__ import annotations

import numpy as np

__all__ = ["alpha_persistence", "rips_persistence"]


def _empty(max_dim):
    return [np.empty((0, 2), dtype=np.float64) for _ in range(max_dim + 1)]


def alpha_persistence(points, max_dim=2, max_filtration=25.0, precision="safe", min_points=None):
    """Alpha-complex persistence of a point cloud, on the radius scale.

    Filtration values are ``sqrt`` of gudhi's squared radii; simplices with a
    radius above ``max_filtration`` are left out (their classes never die:
    death ``inf``).  This is exactly ITT's ``_calculate_ph_and_vectorize``.

    Parameters
    ----------
    points : ndarray of shape (n, 3)
        Cartesian coordinates (Å).
    max_dim : int, default=2
        Highest homology dimension.
    max_filtration : float, default=25.0
        Largest alpha radius (Å).
    precision : {"safe", "fast", "exact"}, default="safe"
        gudhi's ``AlphaComplex`` precision (``"safe"`` is the reference).
    min_points : int, optional
        Fewer points than this give empty diagrams (ITT: ``max_dim + 2``).

    Returns
    -------
    list of ndarray of shape (k, 2)
        One ``(birth, death)`` array per dimension ``0..max_dim``.
    """
    import gudhi

    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if min_points is None:
        min_points = max_dim + 2
    if len(points) < max(min_points, 1):
        return _empty(max_dim)
    st = gudhi.AlphaComplex(points=points, precision=precision).create_simplex_tree(
        max_alpha_square=float(max_filtration) ** 2
    )
    st.persistence()
    out = []
    for d in range(max_dim + 1):
        bars = np.asarray(st.persistence_intervals_in_dimension(d), dtype=np.float64).reshape(-1, 2)
        out.append(np.sqrt(bars))
    return out


def rips_persistence(points, max_dim=2, max_filtration=25.0, min_points=None):
    """Compute Vietoris-Rips persistence (ripser) on the same radius scale as the alpha filtration.

    An edge enters at half its length, so a pair of points at distance
    ``2r`` connects at ``r`` as in the alpha filtration.  Always thresholded
    at ``2 * max_filtration``; Vietoris-Rips in dimension 2 grows quickly
    with the number of points: use it for small clouds (unit cells, periodic
    mode, short ``supercell_length``).

    Parameters
    ----------
    points : ndarray of shape (n, 3)
    max_dim : int, default=2
    max_filtration : float, default=25.0
        Largest radius (Å).
    min_points : int, optional
        Fewer points than this give empty diagrams.

    Returns
    -------
    list of ndarray of shape (k, 2)
    """
    from ripser import ripser
    from scipy.sparse import coo_matrix
    from scipy.spatial import cKDTree

    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if min_points is None:
        min_points = max_dim + 2
    n = len(points)
    if n < max(min_points, 1):
        return _empty(max_dim)
    thresh = 2.0 * float(max_filtration)
    pairs = cKDTree(points).query_pairs(thresh, output_type="ndarray")
    d = np.linalg.norm(points[pairs[:, 0]] - points[pairs[:, 1]], axis=1) if len(pairs) else np.empty(0)
    # ripser reads a sparse matrix; explicit zeros on the diagonal mark the vertices
    rows = np.concatenate([pairs[:, 0], np.arange(n)]) if len(pairs) else np.arange(n)
    cols = np.concatenate([pairs[:, 1], np.arange(n)]) if len(pairs) else np.arange(n)
    vals = np.concatenate([d, np.zeros(n)])
    dm = coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
    dgms = ripser(dm, maxdim=max_dim, thresh=thresh, distance_matrix=True)["dgms"]
    out = []
    for dg in dgms:
        dg = np.asarray(dg, dtype=np.float64).reshape(-1, 2) / 2.0
        dg = dg[dg[:, 1] > dg[:, 0]]
        out.append(dg)
    while len(out) < max_dim + 1:
        out.append(np.empty((0, 2)))
    return out
