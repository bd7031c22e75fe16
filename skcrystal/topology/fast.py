"""Fast exact Betti counts of alpha filtrations (the default path of PIH's Betti features).

The Betti features only depend on which simplices lie in the complex at each
grid point ``g`` (radius ``<= g``) and just below it (``< g``), so every
filtration value is replaced by an integer *code*: the number of grid
conditions ``sqrt(value) >= g`` and ``sqrt(value) > g`` it meets (evaluated
exactly as the reference evaluates them: ``numpy.sqrt`` of gudhi's float,
compared with the float grid).  Persistence on the codes gives the same
persistent Betti numbers as persistence on gudhi's values.

How the codes are obtained without gudhi's (slow) filtration values:

1. **Triangulation**: gudhi's own Delaunay triangulation (``DelaunayComplex``
   without filtration values -- the same CGAL triangulation, with the same
   handling of cospherical points, as ``AlphaComplex``), read from its
   serialized simplex tree.  It is built with the ``"fast"`` kernel: a
   triangulation depends on predicates only, and those are exact in both
   kernels, so it is the very triangulation of ``precision="safe"``.
2. **Values**: the alpha filtration is rebuilt with gudhi's algorithm
   (``Alpha_complex::create_complex``): every tetrahedron gets its
   circumradius; a triangle / edge gets its own smallest-circumsphere radius
   unless some coface's opposite vertex lies strictly inside that sphere
   ("attached"), in which case it takes the minimum over the cofaces from the
   first attaching one on, in gudhi's visiting order; then values are made
   non-decreasing over faces and simplices above the cap are removed.
3. **Certification**: radii are computed in float64 with a rigorous forward
   error bound, widened by gudhi's own guaranteed precision (CGAL's
   ``to_double`` of its interval: relative 1e-5).  A value whose interval
   does not straddle a grid condition has a certain code.  The "attached"
   tests are exact: float with an error bound, and when too close to call,
   compiled floating-point expansion arithmetic (:mod:`._exact`; Python
   integers for the rare input outside its range) -- gudhi's predicate is
   exact too.
4. **Fallback**: a radius whose interval straddles a grid condition is asked
   from gudhi itself, on the few points that fix it (the simplex and the
   opposite vertices of its cofaces, order kept, so gudhi runs the same
   arithmetic on the same doubles); if that small complex does not have the
   expected cofaces, or anything else is unexpected (duplicate points, a
   flat triangulation), the whole cloud goes through gudhi.
5. **Persistence**: H0 by union-find over the edges, H2 by union-find over
   the tetrahedra and the outside (Alexander duality), H1 by a column
   reduction over the triangles that are not H2-creators (clearing);
   compiled with numba.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from .vectorize import make_grid

__all__ = ["alpha_betti", "alpha_pair_codes", "code_thresholds", "codes_to_betti", "delaunay", "reorder_triangulation"]

_U = 2.0**-53
#: Counters of the certification (clouds done fast / sent to gudhi, radii asked from gudhi, exact tests, the
#: exact tests left to Python integers).
STATS = {"clouds": 0, "fallback": 0, "resolved": 0, "exact_tests": 0, "exact_python": 0,
         "t_delaunay": 0.0, "t_values": 0.0, "t_persistence": 0.0}
#: Relative precision guaranteed for gudhi's ``precision="safe"`` values: CGAL's ``to_double`` returns the
#: midpoint of an interval around the exact value whose relative width is below 1e-5 (gudhi's default,
#: ``DelaunayComplex.get_float_relative_precision()``), so the value is within 0.5e-5 of the exact one.
GUDHI_REL = 1e-5


# --------------------------------------------------------------- grid codes
def _sqrt_threshold(g, strict):
    """Largest double ``x >= 0`` with ``sqrt(x) < g`` (strict) or ``sqrt(x) <= g``."""
    g = float(g)
    if g <= 0:
        return -1.0 if strict else 0.0
    x = g * g

    def ok(v):
        r = float(np.sqrt(v))
        return r < g if strict else r <= g

    while not ok(x):
        x = np.nextafter(x, -np.inf)
    while ok(np.nextafter(x, np.inf)):
        x = np.nextafter(x, np.inf)
    return float(x)


@functools.lru_cache(maxsize=16)
def _thresholds(grid_key):
    return code_thresholds(np.asarray(grid_key))


def code_thresholds(grid):
    """Sorted thresholds ``t`` on gudhi's (squared) values: ``code(G) = #{t < G}``.

    For each grid point ``g``: ``G > t_lt(g)`` iff ``sqrt(G) >= g`` and
    ``G > t_le(g)`` iff ``sqrt(G) > g``.  So ``code // 2`` is the number of grid
    points below ``sqrt(G)`` and ``code - code // 2`` the number at or below it.

    Parameters
    ----------
    grid : ndarray
        Increasing grid of radii (Å).

    Returns
    -------
    ndarray of shape (2 * len(grid),)
    """
    grid = np.asarray(grid, dtype=np.float64)
    thr = []
    for g in grid:
        thr += [_sqrt_threshold(g, True), _sqrt_threshold(g, False)]
    thr = np.asarray(thr)
    if np.any(np.diff(thr) < 0):
        raise ValueError("grid must be increasing")
    return thr


def _codes(thr, G):
    return np.searchsorted(thr, G, side="left")


def _interval_codes(thr, lo, hi):
    """Code of ``lo`` and whether ``hi`` has another one (``code(hi) != code(lo)``), with one binary search."""
    clo = _codes(thr, lo)
    nxt = thr[np.minimum(clo, len(thr) - 1)]
    return clo, (clo < len(thr)) & (hi > nxt)


def codes_to_betti(birth_codes, death_codes, m, inf_code):
    """Betti counts on ``m`` bins from bars given as codes.

    Parameters
    ----------
    birth_codes, death_codes : array-like of int
        ``death_codes < 0`` marks infinite bars.
    m : int
        Number of bins.
    inf_code : int or None
        Code that infinite deaths count as (``None``: the whole grid).

    Returns
    -------
    ndarray of shape (m,), int64
    """
    out = np.zeros(m + 1, dtype=np.int64)
    if len(birth_codes) == 0:
        return out[:m]
    b = np.asarray(birth_codes, dtype=np.int64)
    d = np.asarray(death_codes, dtype=np.int64)
    if inf_code is None:
        last_inf = m
    else:
        last_inf = inf_code - inf_code // 2 - 1
    first = np.minimum(b // 2, m)
    last = np.where(d < 0, last_inf, d - d // 2 - 1)
    last = np.minimum(last, m)
    ok = first < last
    np.add.at(out, first[ok], 1)
    np.add.at(out, last[ok], -1)
    return np.cumsum(out)[:m]


# ------------------------------------------------------------ triangulation
_HEADER = (1, 0, 1, 0, 0, 0)


def _delaunay(points):
    """Edges, triangles and tetrahedra (sorted vertex ids, lexicographic) of gudhi's Delaunay triangulation."""
    import gudhi

    from ._kernels import parse_tree

    # "fast" (Epick_d) and "safe" (Epeck_d) give the same triangulation: it depends on predicates only, exact in
    # both kernels (including the symbolic perturbation of cospherical points); only constructions differ.
    st = gudhi.DelaunayComplex(points=points, precision="fast").create_simplex_tree()
    raw = st.__getstate__()
    if raw.dtype.itemsize != 1 or raw.size < 10 or (raw.size - 2) % 4 or tuple(int(x) for x in raw[:6]) != _HEADER:
        return None
    w = np.ascontiguousarray(raw[2:]).view(np.int32)
    counts, (V, E, T, Tt) = parse_tree(w, 3)
    if counts[0] != len(points) or len(Tt) == 0:
        return None  # duplicate points dropped, or a flat (lower-dimensional) triangulation
    return E.copy(), T.copy(), Tt.copy()


def delaunay(points):
    """Compute gudhi's Delaunay triangulation of a point cloud, in the fast path's form.

    Computing it once lets several filtrations on the same points share it
    (``tri=`` of :func:`alpha_betti` and :func:`alpha_pair_codes`).

    Parameters
    ----------
    points : ndarray of shape (n, 3)

    Returns
    -------
    tuple of ndarray, or None
        ``(edges, triangles, tetrahedra)``: sorted vertex ids, rows in
        lexicographic order; ``None`` when the fast path cannot use the
        triangulation (duplicate points, a flat cloud).
    """
    t0 = time.perf_counter()
    tri = _delaunay(np.asarray(points, dtype=np.float64).reshape(-1, 3))
    STATS["t_delaunay"] += time.perf_counter() - t0
    return tri


def reorder_triangulation(tri, perm):
    """Relabel the triangulation ``tri`` of ``points`` into that of ``points[perm]``.

    CGAL's Delaunay triangulation does not depend on the order of the input
    points, also for degenerate (cospherical) ones: ties are broken by a
    symbolic perturbation defined by the points' lexicographic order
    (Devillers & Teillaud, SODA 2003; the dD Delaunay triangulation gudhi
    uses follows the same rule).  So the triangulation of a permuted cloud is
    the same set of simplices, relabelled.  Tested on real cells against
    triangulating the permuted cloud, and, through the features, against
    gudhi's path.

    Parameters
    ----------
    tri : tuple of ndarray
        As returned by :func:`delaunay`.
    perm : ndarray of int
        A permutation of ``range(n)``: new point ``k`` is old point ``perm[k]``.

    Returns
    -------
    tuple of ndarray
        As :func:`delaunay` would return for ``points[perm]``.
    """
    perm = np.asarray(perm, dtype=np.int64)
    inv = np.empty(len(perm), dtype=np.int64)
    inv[perm] = np.arange(len(perm))
    out = []
    for S in tri:
        R = np.sort(inv[S], axis=1)
        out.append(np.ascontiguousarray(R[np.lexsort(R.T[::-1])]))
    return tuple(out)


# ------------------------------------------------------------- geometry
def _dot(a, b):
    return (a * b).sum(axis=1)


def _edge_radius(P, E):
    d = P[E[:, 1]] - P[E[:, 0]]
    F = _dot(d, d) / 4.0
    return F * (1 - 16 * _U), F * (1 + 16 * _U)


def _ints(P, idx):
    """Exact integer coordinates ``P[idx] * 2**k`` (one common ``k``): the doubles' exact values, scaled.

    The tests below are homogeneous polynomials in coordinate differences, so
    their sign is that of the same polynomial in the scaled integers (Python
    integers: exact, and much faster than ``Fraction``).
    """
    ratios = [float(x).as_integer_ratio() for x in P[list(idx)].ravel()]
    k = max(d.bit_length() - 1 for _, d in ratios)  # denominators are powers of two
    vals = [n << (k - (d.bit_length() - 1)) for n, d in ratios]
    return [vals[3 * i : 3 * i + 3] for i in range(len(idx))]


def _edge_in_tri_exact(P, a, b, v):
    A, B, V = _ints(P, (a, b, v))
    return sum((A[i] - V[i]) * (B[i] - V[i]) for i in range(3)) >= 0


def _tri_in_tet_exact(P, x, y, z, v):
    X, Y, Zc, W = _ints(P, (x, y, z, v))
    u = [Y[i] - X[i] for i in range(3)]
    w = [Zc[i] - X[i] for i in range(3)]
    p = [W[i] - X[i] for i in range(3)]

    def cross(a, b):
        return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]

    def dot(a, b):
        return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]

    n = cross(u, w)
    nn = dot(n, n)
    wn, nu = cross(w, n), cross(n, u)
    uu, ww = dot(u, u), dot(w, w)
    q = [uu * wn[i] + ww * nu[i] for i in range(3)]
    return dot(p, p) * 2 * nn - 2 * dot(p, q) >= 0


def _settle(P, g, s, err, simplices, exact_test, k_arity):
    """Gabriel flags from float tests; the ones too close to call are decided in exact arithmetic.

    Exact signs come from the compiled expansion arithmetic of :mod:`._exact`;
    the rare test it leaves undecided (coordinate differences outside its
    safe range) runs in Python integers (``exact_test``).
    """
    from ._exact import edge_in_tri_signs, tri_in_tet_signs

    rows, ks = np.nonzero(np.abs(s) <= err)
    STATS["exact_tests"] += len(rows)
    if len(rows) == 0:
        return g
    S = simplices[rows]
    v = S[np.arange(len(rows)), ks]
    # the face without vertex k, vertices in order
    keep = np.arange(k_arity)[None, :] != ks[:, None]
    face = S[keep].reshape(len(rows), k_arity - 1)
    Pc = np.ascontiguousarray(P, dtype=np.float64)
    if k_arity == 3:
        sign = edge_in_tri_signs(Pc, face[:, 0], face[:, 1], v)
    else:
        sign = tri_in_tet_signs(Pc, face[:, 0], face[:, 1], face[:, 2], v)
    for i in np.flatnonzero(sign == 2):
        STATS["exact_python"] += 1
        sign[i] = 1 if exact_test(P, *(int(x) for x in face[i]), int(v[i])) else -1
    g[rows, ks] = sign >= 0
    return g


# -------------------------------------------------------- the filtration
def _faces(S, n, F):
    """Ids (in the sorted face array ``F``) of each simplex's codimension-1 faces, face k = without vertex k."""
    from ._kernels import face_ids

    start = np.searchsorted(F[:, 0], np.arange(n + 1))
    return face_ids(S, F, start)


def _raise(lo, hi, face_ids, face_lo, face_hi):
    """make_filtration_non_decreasing: max with the faces' (final) values."""
    from ._kernels import raise_to_faces

    return raise_to_faces(lo, hi, face_ids, face_lo, face_hi)


class _Fallback(Exception):
    pass


def _gudhi_value(P, verts, opposite):
    """gudhi's own value of one simplex, from the small complex of its vertices and its cofaces' opposite vertices.

    The simplex keeps its vertices' coordinates and relative order and its
    cofaces (checked), so gudhi runs the same interval arithmetic, the same
    "attached" tests in the same order, on the same doubles.
    """
    import gudhi

    verts = [int(v) for v in verts]
    allv = np.unique(np.concatenate([np.asarray(verts, dtype=np.int64), np.asarray(opposite, dtype=np.int64)]))
    local = {int(v): i for i, v in enumerate(allv)}
    st = gudhi.AlphaComplex(points=P[allv], precision="safe").create_simplex_tree()
    s = sorted(local[v] for v in verts)
    mine = set(s)
    got = sorted(int(allv[x]) for c, _ in st.get_cofaces(s, 1) for x in c if x not in mine)
    if got != sorted(int(x) for x in opposite):
        raise _Fallback("local complex differs")
    val = st.filtration(s)
    faces = [s[:j] + s[j + 1 :] for j in range(len(s))]
    if max(st.filtration(fc) for fc in faces) > val:
        raise _Fallback("value raised by a face")
    return val


def _widen(lo, hi):
    return lo * (1 - GUDHI_REL), hi * (1 + GUDHI_REL)


def _resolve(P, lo, hi, use, thr, cap, simplices, face_ids, coface_simplices):
    """Replace the radii whose interval straddles a grid condition (or the cap) by gudhi's own value."""
    _, differ = _interval_codes(thr, lo, hi)
    bad = np.flatnonzero(use & (differ | ((lo <= cap) != (hi <= cap))))
    if len(bad) == 0:
        return 0
    if face_ids is None:
        for i in bad:
            lo[i] = hi[i] = _check(_gudhi_value(P, simplices[i], []), lo[i], hi[i])
        return len(bad)
    fl = face_ids.ravel()
    # face k of a coface is opposite its vertex k; only the entries of the bad simplices are gathered
    # (one linear pass instead of sorting every face id), in coface order as before
    mark = np.zeros(len(lo), dtype=bool)
    mark[bad] = True
    hit = np.flatnonzero(mark[fl])
    fl_h = fl[hit]
    opp_h = coface_simplices.ravel()[hit]
    order = np.argsort(fl_h, kind="stable")
    fl_s, opp_s = fl_h[order], opp_h[order]
    for i in bad:
        a, b = np.searchsorted(fl_s, [i, i + 1])
        lo[i] = hi[i] = _check(_gudhi_value(P, simplices[i], opp_s[a:b]), lo[i], hi[i])
    return len(bad)


def _check(val, lo, hi):
    if not lo <= val <= hi:
        raise _Fallback("gudhi's value outside the certified interval")
    return val


def _alpha_codes(P, thr, cap, n_a=None, tri=None):
    """Certified codes of gudhi's alpha filtration of ``P``: dict with simplices, codes and in-complex flags.

    With ``n_a`` (an interaction pair: the first ``n_a`` points are A, the
    others B) only the codes of the *mixed* edges and triangles (A and B
    vertices) are certified, the ones the interaction complexes use: the
    radii of pure simplices are not asked from gudhi (their certified
    intervals enter the propagation and the face maxima as they are).  When
    that leaves a mixed code uncertain, every radius is certified (the
    full pass).
    """
    t0 = time.perf_counter()
    if tri is None:
        tri = _delaunay(P)
    t1 = time.perf_counter()
    STATS["t_delaunay"] += t1 - t0
    if tri is None:
        raise _Fallback("triangulation")
    E, T, Tt = tri
    n = len(P)
    if n_a is None:
        need = {"e": np.ones(len(E), dtype=bool), "t": np.ones(len(T), dtype=bool), "tt": np.ones(len(Tt), dtype=bool)}
    else:
        need = {"e": (E[:, 0] < n_a) & (E[:, 1] >= n_a), "t": (T[:, 0] < n_a) & (T[:, 2] >= n_a),
                "tt": (Tt[:, 0] < n_a) & (Tt[:, 3] >= n_a)}
    from ._kernels import propagate, tet_geometry, tri_geometry

    t_lo, t_hi, s_tt, err_tt = tet_geometry(P, Tt)
    r_lo, r_hi, s_te, err_te = tri_geometry(P, T)
    g_tt = _settle(P, s_tt >= 0, s_tt, err_tt, Tt, _tri_in_tet_exact, 4)
    g_te = _settle(P, s_te >= 0, s_te, err_te, T, _edge_in_tri_exact, 3)
    tri_faces_of_tet = _faces(Tt, n, T)  # (n_tet, 4): face without vertex k
    edge_faces_of_tri = _faces(T, n, E)  # (n_tri, 3)
    # which own radii are used: tets always, triangles/edges unless attached
    tri_att = np.zeros(len(T), dtype=bool)
    tri_att[tri_faces_of_tet[~g_tt]] = True
    edge_att = np.zeros(len(E), dtype=bool)
    edge_att[edge_faces_of_tri[~g_te]] = True
    t_lo, t_hi = _widen(t_lo, t_hi)
    # a mixed triangle's cofaces are mixed tetrahedra, a mixed edge's cofaces mixed triangles
    n_res = _resolve(P, t_lo, t_hi, need["tt"], thr, cap, Tt, None, None)
    r_lo, r_hi = _widen(r_lo, r_hi)
    n_res += _resolve(P, r_lo, r_hi, ~tri_att & need["t"], thr, cap, T, tri_faces_of_tet, Tt)
    tri_lo, tri_hi, _ = propagate(r_lo, r_hi, tri_faces_of_tet, g_tt, t_lo, t_hi)
    e_lo, e_hi = _widen(*_edge_radius(P, E))
    n_res += _resolve(P, e_lo, e_hi, ~edge_att & need["e"], thr, cap, E, edge_faces_of_tri, T)
    ed_lo, ed_hi, _ = propagate(e_lo, e_hi, edge_faces_of_tri, g_te, tri_lo, tri_hi)
    # make_filtration_non_decreasing (vertices are 0)
    ed_lo, ed_hi = np.maximum(ed_lo, 0.0), np.maximum(ed_hi, 0.0)
    tri_lo, tri_hi = _raise(tri_lo, tri_hi, edge_faces_of_tri, ed_lo, ed_hi)
    if n_a is None:  # an interaction pair uses no tetrahedron's code
        t_lo, t_hi = _raise(t_lo, t_hi, tri_faces_of_tet, tri_lo, tri_hi)
    out = {"n": n, "E": E, "T": T, "Tt": Tt, "tri_faces_of_tet": tri_faces_of_tet, "edge_faces_of_tri": edge_faces_of_tri,
           "n_resolved": n_res}
    STATS["resolved"] += n_res
    STATS["t_values"] += time.perf_counter() - t1
    for name, lo, hi in (("e", ed_lo, ed_hi), ("t", tri_lo, tri_hi), ("tt", t_lo, t_hi))[: 3 if n_a is None else 2]:
        clo, differ = _interval_codes(thr, lo, hi)
        ilo, ihi = lo <= cap, hi <= cap
        if np.any((differ | (ilo != ihi)) & need[name]):
            if n_a is not None:
                return _alpha_codes(P, thr, cap, None, tri)  # certify every radius
            raise _Fallback("uncertain after propagation")
        out[name + "_code"] = clo
        out[name + "_in"] = ilo
    return out


# ------------------------------------------------------------ persistence
def _rank(idx, code):
    """Filtration order of the simplices ``idx``: by code, ties by index; returns (order, rank array)."""
    order = idx[np.argsort(code[idx], kind="stable")]
    rank = np.full(len(code), -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    return order, rank


def _persistence_codes(c, max_dim):
    """Bars (birth code, death code; -1 = infinite) per dimension of a certified alpha filtration."""
    from ._kernels import h0_pairs, h1_reduce, h2_pairs

    n, E, T, Tt = c["n"], c["E"], c["T"], c["Tt"]
    e_in, t_in, tt_in = c["e_in"], c["t_in"], c["tt_in"]
    e_code, t_code, tt_code = c["e_code"], c["t_code"], c["tt_code"]
    code0 = c["code0"]
    e_order, e_rank = _rank(np.flatnonzero(e_in), e_code)
    t_order, _ = _rank(np.flatnonzero(t_in), t_code)
    tt_order, tt_rank = _rank(np.flatnonzero(tt_in), tt_code)
    neg = h0_pairs(n, E, e_order)
    n_inf0 = n - int(neg.sum())
    bars = [(np.concatenate([np.full(int(neg.sum()) + n_inf0, code0)]),
             np.concatenate([e_code[neg], np.full(n_inf0, -1)]))]
    if max_dim >= 1:
        side = np.full((len(T), 2), len(Tt), dtype=np.int64)
        f = c["tri_faces_of_tet"].ravel()
        tet = np.repeat(np.arange(len(Tt)), 4)
        o = np.argsort(f, kind="stable")
        f, tet = f[o], tet[o]
        first = np.ones(len(f), dtype=bool)
        first[1:] = f[1:] != f[:-1]
        side[f[first], 0] = tet[first]
        side[f[~first], 1] = tet[~first]
        pos, dtet = h2_pairs(len(Tt), side, t_in, tt_in, t_order[::-1].copy(), tt_rank)
        skip = pos | ~t_in
        pair = h1_reduce(len(E), c["edge_faces_of_tri"], t_order, skip, e_rank)
        posE = np.flatnonzero(e_in & ~neg)
        ptri = pair[e_rank[posE]]
        bars.append((e_code[posE], np.where(ptri >= 0, t_code[np.maximum(ptri, 0)], -1)))
        if max_dim >= 2:
            p = np.flatnonzero(pos)
            bars.append((t_code[p], np.where(dtet[p] >= 0, tt_code[np.maximum(dtet[p], 0)], -1)))
    cdim = 3 if tt_in.any() else 2 if t_in.any() else 1 if e_in.any() else 0
    return bars, cdim


def _prepare(grid):
    grid = np.asarray(grid, dtype=np.float64)
    return grid, _thresholds(tuple(grid.tolist()))


def alpha_betti(points, grid, max_dim=2, max_filtration=25.0, inf_value=None, min_points=None, tri=None):
    """Betti counts of the alpha filtration of a point cloud, equal to gudhi's path bit for bit.

    Same output as ``betti_counts(alpha_persistence(points, max_dim,
    max_filtration)[d], grid, inf_value)`` for ``d = 0..max_dim``.

    Parameters
    ----------
    points : ndarray of shape (n, 3)
    grid : ndarray
        Bin edges (see :func:`~skcrystal.topology.make_grid`).
    max_dim : int, default=2
    max_filtration : float, default=25.0
        Radius cap (Å); gudhi prunes above ``max_filtration ** 2``.
    inf_value : float, optional
        Value of infinite deaths (default: infinite).
    min_points : int, optional
        Fewer points give zeros (default ``max_dim + 2``, as
        :func:`~skcrystal.topology.alpha_persistence`).
    tri : tuple of ndarray, optional
        The points' triangulation (:func:`delaunay`), if already computed.

    Returns
    -------
    list of ndarray of int64, or None
        One Betti vector per dimension; ``None`` when the fast path cannot
        certify the result (the caller then runs gudhi).
    """
    grid, thr = _prepare(grid)
    m = len(grid) - 1
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    if min_points is None:
        min_points = max_dim + 2
    if len(points) < max(min_points, 1):
        return [np.zeros(m, dtype=np.int64) for _ in range(max_dim + 1)]
    try:
        c = _alpha_codes(points, thr, float(max_filtration) ** 2, tri=tri)
    except _Fallback:
        STATS["fallback"] += 1
        return None
    STATS["clouds"] += 1
    c["code0"] = int(_codes(thr, np.array([0.0]))[0])
    t0 = time.perf_counter()
    bars, cdim = _persistence_codes(c, max_dim)
    STATS["t_persistence"] += time.perf_counter() - t0
    inf_code = None if inf_value is None or np.isinf(inf_value) else int((grid < inf_value).sum() + (grid <= inf_value).sum())
    out = []
    for d in range(max_dim + 1):
        if d < cdim and d < len(bars):
            out.append(codes_to_betti(bars[d][0], bars[d][1], m, inf_code))
        else:
            out.append(np.zeros(m, dtype=np.int64))
    return out


def alpha_pair_codes(points_a, points_b, grid, max_filtration=10.0, tri=None):
    """Interaction complexes A -> B and B -> A of ``A ∪ B`` with *codes* as filtration values.

    Same simplices as :func:`~skcrystal.topology.alpha_interaction_complex`
    (the mixed edges and triangles of gudhi's alpha complex up to the cap),
    with each value replaced by its code on ``grid`` (see
    :func:`code_thresholds`); feed them to
    :func:`~skcrystal.topology.interaction_barcodes` and the bars to
    :func:`code_bars_to_betti`.

    Parameters
    ----------
    points_a, points_b : ndarray of shape (n_a, 3), (n_b, 3)
    grid : ndarray
        Betti grid of the interaction part.
    max_filtration : float, default=10.0
        Radius cap (Å).
    tri : tuple of ndarray, optional
        The triangulation of ``vstack([points_a, points_b])`` (:func:`delaunay`,
        :func:`reorder_triangulation`), if already known.

    Returns
    -------
    ab, ba : dict, or None
        As :func:`~skcrystal.topology.alpha_interaction_complex`; ``None``
        when the codes cannot be certified (use gudhi's path).
    """
    from .pih import _as_complex

    grid, thr = _prepare(grid)
    pa = np.asarray(points_a, dtype=np.float64).reshape(-1, 3)
    pb = np.asarray(points_b, dtype=np.float64).reshape(-1, 3)
    na = len(pa)
    P = np.vstack([pa, pb])
    if len(P) < 4:
        return None
    try:
        c = _alpha_codes(P, thr, float(max_filtration) ** 2, n_a=na, tri=tri)
    except _Fallback:
        STATS["fallback"] += 1
        return None
    STATS["clouds"] += 1
    E, T = c["E"], c["T"]
    me = c["e_in"] & (E[:, 0] < na) & (E[:, 1] >= na)
    mt = c["t_in"] & (T[:, 0] < na) & (T[:, 2] >= na)
    E, ef = E[me], c["e_code"][me].astype(np.float64)
    T, tf = T[mt], c["t_code"][mt].astype(np.float64)
    one_a = T[:, 1] >= na
    two_a = ~one_a
    ab = _as_complex(na, E[:, 0], E[:, 1] - na, ef, T[one_a, 0], T[one_a, 1] - na, T[one_a, 2] - na, tf[one_a])
    ba = _as_complex(len(pb), E[:, 1] - na, E[:, 0], ef, T[two_a, 2] - na, T[two_a, 0], T[two_a, 1], tf[two_a])
    return ab, ba


def code_bars_to_betti(bars, grid):
    """Betti counts of bars whose values are codes (``inf`` deaths count over the whole grid).

    Parameters
    ----------
    bars : ndarray of shape (n, 2)
        ``(birth code, death code)``, ``inf`` for classes that never die.
    grid : ndarray
        The grid the codes refer to.

    Returns
    -------
    ndarray of shape (len(grid) - 1,), int64
        Equal to :func:`~skcrystal.topology.betti_counts` of the bars with
        their real values.
    """
    grid = np.asarray(grid, dtype=np.float64)
    bars = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    d = np.where(np.isinf(bars[:, 1]), -1, bars[:, 1]).astype(np.int64)
    return codes_to_betti(bars[:, 0].astype(np.int64), d, len(grid) - 1, None)
