"""Turn persistence diagrams into fixed-length vectors."""

from __future__ import annotations

import numpy as np

__all__ = ["MIN_PERSISTENCE", "STAT_NAMES", "betti_counts", "diagram_stats", "make_grid", "persistence_image"]


def make_grid(start, stop, step):
    """The bin edges ITT uses: ``np.arange(start, stop + step, step)``.

    Parameters
    ----------
    start, stop, step : float

    Returns
    -------
    ndarray
        Edges ``g_0 < g_1 < ...``; bin ``k`` is ``[g_k, g_k+1]``.
    """
    if not step > 0 or not stop > start:
        raise ValueError(f"a grid needs start < stop and step > 0, got ({start}, {stop}, {step})")
    return np.arange(start, stop + step, step)


def betti_counts(bars, grid, inf_value=np.inf):
    """Betti counts: per bin ``[g_k, g_k+1]`` the bars with birth <= g_k and death >= g_k+1.

    Parameters
    ----------
    bars : ndarray of shape (n, 2)
        ``(birth, death)`` pairs; ``death`` may be ``inf``.
    grid : ndarray of shape (m + 1,)
        Increasing bin edges (see :func:`make_grid`).
    inf_value : float, default=inf
        Value infinite deaths are replaced with before counting (ITT uses
        the filtration cap, 25 Å, for the structure and cluster parts).

    Returns
    -------
    ndarray of shape (m,), int64
    """
    grid = np.asarray(grid, dtype=np.float64)
    m = len(grid) - 1
    bars = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    out = np.zeros(m + 1, dtype=np.int64)
    if len(bars) == 0 or m <= 0:
        return out[:m]
    birth = bars[:, 0]
    death = np.where(np.isinf(bars[:, 1]), inf_value, bars[:, 1])
    first = np.searchsorted(grid[:-1], birth, side="left")  # k >= first  <=>  birth <= g_k
    last = np.searchsorted(grid[1:], death, side="right")  # k < last    <=>  death >= g_k+1
    ok = first < last
    np.add.at(out, first[ok], 1)
    np.add.at(out, last[ok], -1)
    return np.cumsum(out)[:m]


STAT_NAMES = (
    "count", "n_inf", "birth_mean", "birth_std", "birth_min", "birth_max",
    "death_mean", "death_std", "death_max", "pers_mean", "pers_std", "pers_max",
    "pers_sum", "entropy",
)  # fmt: skip


#: Bars with ``death - birth <= MIN_PERSISTENCE * death`` are rounding noise, not features: gudhi's
#: ``precision="safe"`` filtration values carry a relative error of up to 1e-5 (CGAL's ``to_double``).
MIN_PERSISTENCE = 1e-5


def diagram_stats(bars, max_death=None, min_persistence=MIN_PERSISTENCE):
    """Summary statistics of one diagram (finite deaths capped at ``max_death``).

    Parameters
    ----------
    bars : ndarray of shape (n, 2)
    max_death : float, optional
        Infinite deaths are replaced with this value (default: they are left
        out of the death and persistence statistics and only counted).
    min_persistence : float, default=1e-5
        Finite bars with ``death - birth <= min_persistence * death`` (a
        relative length) are dropped first.  Symmetric (cospherical)
        configurations give bars of zero length up to the filtration values'
        rounding (up to 1e-5 relative with gudhi's ``precision="safe"``);
        how many depends on rounding, hence on the order of the sites, and
        they carry no topology.

    Returns
    -------
    ndarray of shape (14,)
        In the order of :data:`STAT_NAMES`; zeros for an empty diagram.
    """
    bars = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    bars = bars[~(np.isfinite(bars[:, 1]) & (bars[:, 1] - bars[:, 0] <= min_persistence * np.abs(bars[:, 1])))]
    bars = bars[np.lexsort((bars[:, 1], bars[:, 0]))]  # sums in one order, whatever the input order
    out = np.zeros(len(STAT_NAMES))
    if len(bars) == 0:
        return out
    inf = np.isinf(bars[:, 1])
    b = bars[:, 0]
    d = bars[:, 1].copy()
    if max_death is not None:
        d[inf] = max_death
        fin = np.ones(len(d), dtype=bool)
    else:
        fin = ~inf
    out[0] = len(bars)
    out[1] = inf.sum()
    out[2:6] = b.mean(), b.std(), b.min(), b.max()
    if fin.any():
        df = d[fin]
        p = df - b[fin]
        out[6:9] = df.mean(), df.std(), df.max()
        out[9:13] = p.mean(), p.std(), p.max(), p.sum()
        tot = p.sum()
        if tot > 0:
            q = p[p > 0] / tot
            out[13] = -(q * np.log(q)).sum()
    return out


def persistence_image(bars, birth_range, pers_range, resolution=(10, 10), sigma=None, max_death=None):
    """Persistence image (Adams et al. 2017) of one diagram via :class:`persim.PersistenceImager`.

    Parameters
    ----------
    bars : ndarray of shape (n, 2)
    birth_range, pers_range : tuple of 2 floats
        Image extent in birth and persistence (learned in ``fit`` by the
        featurizer).
    resolution : tuple of 2 int, default=(10, 10)
        Pixels along birth and persistence.
    sigma : float, optional
        Gaussian bandwidth; default one pixel width.
    max_death : float, optional
        Infinite deaths are replaced with this value (else dropped).

    Returns
    -------
    ndarray of shape (resolution[0] * resolution[1],)
    """
    from persim import PersistenceImager

    nb, npers = int(resolution[0]), int(resolution[1])
    b0, b1 = float(birth_range[0]), float(birth_range[1])
    p0, p1 = float(pers_range[0]), float(pers_range[1])
    if b1 <= b0:
        b1 = b0 + 1.0
    if p1 <= p0:
        p1 = p0 + 1.0
    bpix = (b1 - b0) / nb
    ppix = (p1 - p0) / npers
    bars = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    if max_death is not None:
        bars = np.where(np.isinf(bars), max_death, bars)
    bars = bars[np.isfinite(bars).all(axis=1)]
    if len(bars) == 0:
        return np.zeros(nb * npers)
    s = float(sigma) if sigma is not None else max(bpix, ppix)
    pimgr = PersistenceImager(
        birth_range=(b0, b1),
        pers_range=(p0, p1),
        pixel_size=1.0,
        kernel_params={"sigma": [[s**2, 0.0], [0.0, s**2]]},
    )
    # persim needs a square pixel: set the ranges through a common pixel size, then crop/pad
    pimgr.pixel_size = min(bpix, ppix)
    pimgr.birth_range = (b0, b0 + pimgr.pixel_size * nb)
    pimgr.pers_range = (p0, p0 + pimgr.pixel_size * npers)
    img = np.asarray(pimgr.transform(bars, skew=True), dtype=np.float64)
    fixed = np.zeros((nb, npers))
    fixed[: min(nb, img.shape[0]), : min(npers, img.shape[1])] = img[:nb, :npers]
    return fixed.ravel()
