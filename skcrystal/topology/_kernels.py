"""Compiled (numba) loops of the fast alpha path: simplex-tree parsing and persistence on integer codes.

Everything here works on plain integer arrays.  The filtration values are
*codes* (see :mod:`skcrystal.topology.fast`): integers that keep exactly the
order relations with the Betti grid that the Betti counts depend on.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ---------------------------------------------------------------- parsing


@njit(cache=True)
def parse_tree(w, max_dim):
    """All simplices of a serialized gudhi simplex tree (int32 words after the 2-byte header).

    Returns ``(counts, out)``: ``out[d]`` is an array of shape (n_d, d + 1)
    with the sorted vertices of every ``d``-simplex, in the tree's
    (lexicographic) order.  ``counts[0] == -1`` when the layout is not the
    expected one.
    """
    nw = len(w)
    cap = nw // 3 + 1
    out0 = np.empty((cap, 1), np.int64)
    out1 = np.empty((cap, 2), np.int64)
    out2 = np.empty((cap, 3), np.int64)
    out3 = np.empty((cap, 4), np.int64)
    counts = np.zeros(4, np.int64)
    # explicit DFS stack over sibling sets: records start, size, next member to descend into
    st_rec = np.zeros(8, np.int64)
    st_cnt = np.zeros(8, np.int64)
    st_j = np.zeros(8, np.int64)
    verts = np.zeros(8, np.int64)
    pos = 1
    depth = 0
    c = w[pos]
    if c < 0 or pos + 1 + 3 * c > nw:
        counts[0] = -1
        return counts, (out0, out1, out2, out3)
    st_rec[0] = pos + 1
    st_cnt[0] = c
    st_j[0] = 0
    for r in range(c):
        out0[counts[0], 0] = w[pos + 1 + 3 * r]
        counts[0] += 1
    pos = pos + 1 + 3 * c
    while depth >= 0:
        if st_j[depth] == st_cnt[depth]:
            depth -= 1
            continue
        j = st_j[depth]
        st_j[depth] += 1
        verts[depth] = w[st_rec[depth] + 3 * j]
        if pos >= nw:
            counts[0] = -1
            return counts, (out0, out1, out2, out3)
        c = w[pos]
        if c == 0:
            pos += 1
            continue
        d = depth + 1
        if c < 0 or d > 3 or d > max_dim or pos + 1 + 3 * c > nw:
            counts[0] = -1
            return counts, (out0, out1, out2, out3)
        rec = pos + 1
        for r in range(c):
            v = w[rec + 3 * r]
            k = counts[d]
            if d == 1:
                out1[k, 0] = verts[0]
                out1[k, 1] = v
            elif d == 2:
                out2[k, 0] = verts[0]
                out2[k, 1] = verts[1]
                out2[k, 2] = v
            else:
                out3[k, 0] = verts[0]
                out3[k, 1] = verts[1]
                out3[k, 2] = verts[2]
                out3[k, 3] = v
            counts[d] += 1
        pos = rec + 3 * c
        depth = d
        st_rec[d] = rec
        st_cnt[d] = c
        st_j[d] = 0
    return counts, (out0[: counts[0]], out1[: counts[1]], out2[: counts[2]], out3[: counts[3]])


# ------------------------------------------------------------ union-find


@njit(cache=True, inline="always")
def _find(parent, x):
    r = x
    while parent[r] != r:
        r = parent[r]
    while parent[x] != r:
        nxt = parent[x]
        parent[x] = r
        x = nxt
    return r


@njit(cache=True)
def h0_pairs(n, edges, order):
    """Kruskal in ``order``: returns a mask of the edges that merge two components (negative edges)."""
    parent = np.arange(n)
    neg = np.zeros(len(edges), np.bool_)
    for i in order:
        a = _find(parent, edges[i, 0])
        b = _find(parent, edges[i, 1])
        if a != b:
            parent[a] = b
            neg[i] = True
    return neg


@njit(cache=True)
def elder_deaths(n, u, v, w, rank):
    """Death of every node of a graph filtration (elder rule): Kruskal over the edges ``(u, v)`` by weight ``w``.

    Nodes are born in ``rank`` order (a strict order); when an edge of weight
    ``x`` joins two components, the younger of their eldest nodes dies at
    ``x``.  Which nodes die at each weight does not depend on the order of
    equal-weight edges, so this equals the minimum-spanning-forest version
    (:func:`skcrystal.topology.pih._elder_rule_deaths`).
    """
    death = np.full(n, np.inf)
    parent = np.arange(n)
    eldest = np.arange(n)
    for i in np.argsort(w, kind="mergesort"):
        ra = _find(parent, u[i])
        rb = _find(parent, v[i])
        if ra == rb:
            continue
        ea, eb = eldest[ra], eldest[rb]
        if rank[ea] < rank[eb]:
            death[eb] = w[i]
            parent[rb] = ra
        else:
            death[ea] = w[i]
            parent[ra] = rb
    return death


@njit(cache=True)
def h2_pairs(n_tet, tri_side, tri_in, tet_in, order_desc, tet_rank):
    """H2 by duality: union-find over the tetrahedra and the outside, triangles in reverse order.

    ``tri_side`` (n_tri, 2): the tetrahedra on each side of a triangle (``n_tet``
    = the outside).  ``tri_in``/``tet_in``: in the (pruned) complex.  Nodes not
    in the complex (and the outside) are born first in reverse time; a merge
    kills the component whose eldest tetrahedron has the lower ``tet_rank``.
    Returns ``(pos, death_tet)``: positive triangles and the tetrahedron that
    fills each one's void (-1: never filled, an infinite bar).
    """
    m = len(tri_side)
    parent = np.arange(n_tet + 1)
    eldest = np.arange(n_tet + 1)
    pos = np.zeros(m, np.bool_)
    death = np.full(m, -1, np.int64)
    big = np.iinfo(np.int64).max
    key = np.full(n_tet + 1, big, np.int64)
    for t in range(n_tet):
        if tet_in[t]:
            key[t] = tet_rank[t]
    # simplices not in the complex: merged before anything (at +infinity), no bars
    for i in range(m):
        if not tri_in[i]:
            a = _find(parent, tri_side[i, 0])
            b = _find(parent, tri_side[i, 1])
            if a != b:
                ea, eb = eldest[a], eldest[b]
                parent[a] = b
                if key[ea] > key[eb]:
                    eldest[b] = ea
    for i in order_desc:
        a = _find(parent, tri_side[i, 0])
        b = _find(parent, tri_side[i, 1])
        if a == b:
            continue
        pos[i] = True
        ea, eb = eldest[a], eldest[b]
        ka, kb = key[ea], key[eb]
        if ka < kb:
            death[i] = ea if ka != big else -1
            parent[a] = b
        else:
            death[i] = eb if kb != big else -1
            parent[b] = a
            eldest[a] = ea
    return pos, death


@njit(cache=True)
def h1_reduce(n_edges, tri_edges, tri_order, skip, edge_rank):
    """Column reduction (Z/2) over the triangles not in ``skip``, in ``tri_order``.

    Columns hold edge *ranks* (positions in the filtration order), kept sorted
    descending; the pivot is the largest rank.  Returns ``pair[r]``: the
    triangle whose reduced column has pivot rank ``r`` (-1 if none).
    """
    n_tri = len(tri_edges)
    pair = np.full(n_edges, -1, np.int64)
    start = np.zeros(n_tri, np.int64)
    length = np.zeros(n_tri, np.int64)
    pool = np.empty(max(64, 4 * n_tri), np.int64)
    pool_n = 0
    cur = np.empty(256, np.int64)
    nxt = np.empty(256, np.int64)
    for t in tri_order:
        if skip[t]:
            continue
        a = edge_rank[tri_edges[t, 0]]
        b = edge_rank[tri_edges[t, 1]]
        c = edge_rank[tri_edges[t, 2]]
        if a < b:
            a, b = b, a
        if b < c:
            b, c = c, b
        if a < b:
            a, b = b, a
        cur[0] = a
        cur[1] = b
        cur[2] = c
        n = 3
        while n > 0:
            p = pair[cur[0]]
            if p < 0:
                break
            # cur ^= column(p), both sorted descending
            s, L = start[p], length[p]
            need = n + L
            if nxt.shape[0] < need:
                nxt = np.empty(2 * need, np.int64)
            i = 0
            j = 0
            k = 0
            while i < n and j < L:
                x = cur[i]
                y = pool[s + j]
                if x > y:
                    nxt[k] = x
                    k += 1
                    i += 1
                elif y > x:
                    nxt[k] = y
                    k += 1
                    j += 1
                else:
                    i += 1
                    j += 1
            while i < n:
                nxt[k] = cur[i]
                k += 1
                i += 1
            while j < L:
                nxt[k] = pool[s + j]
                k += 1
                j += 1
            cur, nxt = nxt, cur
            n = k
        if n > 0:
            pair[cur[0]] = t
            if pool_n + n > pool.shape[0]:
                bigger = np.empty(2 * (pool_n + n), np.int64)
                bigger[:pool_n] = pool[:pool_n]
                pool = bigger
            pool[pool_n : pool_n + n] = cur[:n]
            start[t] = pool_n
            length[t] = n
            pool_n += n
    return pair


# ---------------------------------------------------------------- geometry
# Radii and "attached" tests in float64, each with a rigorous bound on its rounding error
# (forward error analysis; the constants carry a margin of at least 2x).
_U = 2.0**-53


@njit(cache=True)
def tet_geometry(P, Tt):
    """Circumradius^2 interval of each tetrahedron, and for each face (opposite vertex k) the Gabriel
    test value ``s`` (face Gabriel w.r.t. the tetrahedron iff ``s >= 0``) with its error bound."""
    m = Tt.shape[0]
    lo = np.empty(m)
    hi = np.empty(m)
    s_out = np.empty((m, 4))
    e_out = np.empty((m, 4))
    for t in range(m):
        a0, a1, a2 = P[Tt[t, 0], 0], P[Tt[t, 0], 1], P[Tt[t, 0], 2]
        u0, u1, u2 = P[Tt[t, 1], 0] - a0, P[Tt[t, 1], 1] - a1, P[Tt[t, 1], 2] - a2
        v0, v1, v2 = P[Tt[t, 2], 0] - a0, P[Tt[t, 2], 1] - a1, P[Tt[t, 2], 2] - a2
        w0, w1, w2 = P[Tt[t, 3], 0] - a0, P[Tt[t, 3], 1] - a1, P[Tt[t, 3], 2] - a2
        vw0, vw1, vw2 = v1 * w2 - v2 * w1, v2 * w0 - v0 * w2, v0 * w1 - v1 * w0
        wu0, wu1, wu2 = w1 * u2 - w2 * u1, w2 * u0 - w0 * u2, w0 * u1 - w1 * u0
        uv0, uv1, uv2 = u1 * v2 - u2 * v1, u2 * v0 - u0 * v2, u0 * v1 - u1 * v0
        vwa0 = abs(v1 * w2) + abs(v2 * w1)
        vwa1 = abs(v2 * w0) + abs(v0 * w2)
        vwa2 = abs(v0 * w1) + abs(v1 * w0)
        wua0 = abs(w1 * u2) + abs(w2 * u1)
        wua1 = abs(w2 * u0) + abs(w0 * u2)
        wua2 = abs(w0 * u1) + abs(w1 * u0)
        uva0 = abs(u1 * v2) + abs(u2 * v1)
        uva1 = abs(u2 * v0) + abs(u0 * v2)
        uva2 = abs(u0 * v1) + abs(u1 * v0)
        D = u0 * vw0 + u1 * vw1 + u2 * vw2
        eD = 16 * _U * (abs(u0) * vwa0 + abs(u1) * vwa1 + abs(u2) * vwa2)
        uu = u0 * u0 + u1 * u1 + u2 * u2
        vv = v0 * v0 + v1 * v1 + v2 * v2
        ww = w0 * w0 + w1 * w1 + w2 * w2
        N0 = uu * vw0 + vv * wu0 + ww * uv0
        N1 = uu * vw1 + vv * wu1 + ww * uv1
        N2 = uu * vw2 + vv * wu2 + ww * uv2
        e0 = 24 * _U * (uu * vwa0 + vv * wua0 + ww * uva0)
        e1 = 24 * _U * (uu * vwa1 + vv * wua1 + ww * uva1)
        e2 = 24 * _U * (uu * vwa2 + vv * wua2 + ww * uva2)
        NN = N0 * N0 + N1 * N1 + N2 * N2
        eNN = 2 * (abs(N0) * e0 + abs(N1) * e1 + abs(N2) * e2) + e0 * e0 + e1 * e1 + e2 * e2 + 8 * _U * NN
        aD = abs(D)
        lo[t] = max(NN - eNN, 0.0) / (4 * (aD + eD) ** 2) * (1 - 8 * _U)
        if aD > eD:
            hi[t] = (NN + eNN) / (4 * (aD - eD) ** 2) * (1 + 8 * _U)
        else:
            hi[t] = np.inf
        for k in range(4):
            # face (x, y, z) opposite vertex k, from its first vertex x
            if k == 0:
                x, y, z, q = Tt[t, 1], Tt[t, 2], Tt[t, 3], Tt[t, 0]
            elif k == 1:
                x, y, z, q = Tt[t, 0], Tt[t, 2], Tt[t, 3], Tt[t, 1]
            elif k == 2:
                x, y, z, q = Tt[t, 0], Tt[t, 1], Tt[t, 3], Tt[t, 2]
            else:
                x, y, z, q = Tt[t, 0], Tt[t, 1], Tt[t, 2], Tt[t, 3]
            X0, X1, X2 = P[x, 0], P[x, 1], P[x, 2]
            p0, p1, p2 = P[y, 0] - X0, P[y, 1] - X1, P[y, 2] - X2
            r0, r1, r2 = P[z, 0] - X0, P[z, 1] - X1, P[z, 2] - X2
            c0, c1, c2 = P[q, 0] - X0, P[q, 1] - X1, P[q, 2] - X2
            n0, n1, n2 = p1 * r2 - p2 * r1, p2 * r0 - p0 * r2, p0 * r1 - p1 * r0
            na0 = abs(p1 * r2) + abs(p2 * r1)
            na1 = abs(p2 * r0) + abs(p0 * r2)
            na2 = abs(p0 * r1) + abs(p1 * r0)
            nn = n0 * n0 + n1 * n1 + n2 * n2
            nna = na0 * na0 + na1 * na1 + na2 * na2
            pp = p0 * p0 + p1 * p1 + p2 * p2
            rr = r0 * r0 + r1 * r1 + r2 * r2
            # r x n and n x p, and their absolute-value bounds
            rn0, rn1, rn2 = r1 * n2 - r2 * n1, r2 * n0 - r0 * n2, r0 * n1 - r1 * n0
            np0, np1, np2 = n1 * p2 - n2 * p1, n2 * p0 - n0 * p2, n0 * p1 - n1 * p0
            rna0 = abs(r1) * na2 + abs(r2) * na1
            rna1 = abs(r2) * na0 + abs(r0) * na2
            rna2 = abs(r0) * na1 + abs(r1) * na0
            npa0 = na1 * abs(p2) + na2 * abs(p1)
            npa1 = na2 * abs(p0) + na0 * abs(p2)
            npa2 = na0 * abs(p1) + na1 * abs(p0)
            q0 = pp * rn0 + rr * np0
            q1 = pp * rn1 + rr * np1
            q2 = pp * rn2 + rr * np2
            qa0 = pp * rna0 + rr * npa0
            qa1 = pp * rna1 + rr * npa1
            qa2 = pp * rna2 + rr * npa2
            cc = c0 * c0 + c1 * c1 + c2 * c2
            s_out[t, k] = cc * 2 * nn - 2 * (c0 * q0 + c1 * q1 + c2 * q2)
            e_out[t, k] = 256 * _U * (cc * 2 * nna + 2 * (abs(c0) * qa0 + abs(c1) * qa1 + abs(c2) * qa2))
    return lo, hi, s_out, e_out


@njit(cache=True)
def tri_geometry(P, T):
    """Smallest-circumsphere radius^2 interval of each triangle, and for each edge (opposite vertex k)
    the Gabriel test value ``(a - v).(b - v)`` with its error bound."""
    m = T.shape[0]
    lo = np.empty(m)
    hi = np.empty(m)
    s_out = np.empty((m, 3))
    e_out = np.empty((m, 3))
    for t in range(m):
        a0, a1, a2 = P[T[t, 0], 0], P[T[t, 0], 1], P[T[t, 0], 2]
        b0, b1, b2 = P[T[t, 1], 0], P[T[t, 1], 1], P[T[t, 1], 2]
        c0, c1, c2 = P[T[t, 2], 0], P[T[t, 2], 1], P[T[t, 2], 2]
        u0, u1, u2 = b0 - a0, b1 - a1, b2 - a2
        w0, w1, w2 = c0 - a0, c1 - a1, c2 - a2
        v0, v1, v2 = c0 - b0, c1 - b1, c2 - b2
        uu = u0 * u0 + u1 * u1 + u2 * u2
        ww = w0 * w0 + w1 * w1 + w2 * w2
        vv = v0 * v0 + v1 * v1 + v2 * v2
        n0, n1, n2 = u1 * w2 - u2 * w1, u2 * w0 - u0 * w2, u0 * w1 - u1 * w0
        en0 = 8 * _U * (abs(u1 * w2) + abs(u2 * w1))
        en1 = 8 * _U * (abs(u2 * w0) + abs(u0 * w2))
        en2 = 8 * _U * (abs(u0 * w1) + abs(u1 * w0))
        nn = n0 * n0 + n1 * n1 + n2 * n2
        enn = 2 * (abs(n0) * en0 + abs(n1) * en1 + abs(n2) * en2) + en0 * en0 + en1 * en1 + en2 * en2 + 8 * _U * nn
        num = uu * ww * vv
        lo[t] = num * (1 - 32 * _U) / (4 * (nn + enn)) * (1 - 8 * _U)
        if nn > enn:
            hi[t] = num * (1 + 32 * _U) / (4 * (nn - enn)) * (1 + 8 * _U)
        else:
            hi[t] = np.inf
        # edge opposite a: (b - a).(c - a); opposite b: (a - b).(c - b); opposite c: (a - c).(b - c)
        s_out[t, 0] = u0 * w0 + u1 * w1 + u2 * w2
        e_out[t, 0] = 16 * _U * (abs(u0 * w0) + abs(u1 * w1) + abs(u2 * w2))
        s_out[t, 1] = -(u0 * v0 + u1 * v1 + u2 * v2)
        e_out[t, 1] = 16 * _U * (abs(u0 * v0) + abs(u1 * v1) + abs(u2 * v2))
        s_out[t, 2] = w0 * v0 + w1 * v1 + w2 * v2
        e_out[t, 2] = 16 * _U * (abs(w0 * v0) + abs(w1 * v1) + abs(w2 * v2))
    return lo, hi, s_out, e_out


@njit(cache=True)
def propagate(own_lo, own_hi, face_ids, gabriel, co_lo, co_hi):
    """gudhi's ``propagate_alpha_filtration`` on value intervals.

    Cofaces are visited in index order (gudhi's lexicographic order).  A face
    not yet valued takes the coface's value if it is not Gabriel w.r.t. it;
    a valued face takes the minimum with every later coface.  Faces never
    valued keep their own radius.  Returns ``(lo, hi, attached)``.
    """
    n = len(own_lo)
    lo = own_lo.copy()
    hi = own_hi.copy()
    attached = np.zeros(n, np.bool_)
    for t in range(face_ids.shape[0]):
        for k in range(face_ids.shape[1]):
            f = face_ids[t, k]
            if attached[f]:
                if co_lo[t] < lo[f]:
                    lo[f] = co_lo[t]
                if co_hi[t] < hi[f]:
                    hi[f] = co_hi[t]
            elif not gabriel[t, k]:
                attached[f] = True
                lo[f] = co_lo[t]
                hi[f] = co_hi[t]
    return lo, hi, attached


@njit(cache=True)
def face_ids(S, F, start):
    """Index in ``F`` (sorted lexicographically; ``start[v]``: first row whose first vertex is ``v``) of each
    simplex's face without vertex k."""
    m, d = S.shape
    out = np.empty((m, d), np.int64)
    face = np.empty(d - 1, np.int64)
    for i in range(m):
        for k in range(d):
            j2 = 0
            for j in range(d):
                if j != k:
                    face[j2] = S[i, j]
                    j2 += 1
            lo, hi = start[face[0]], start[face[0] + 1]
            while lo < hi:
                mid = (lo + hi) >> 1
                less = False
                for j in range(1, d - 1):
                    if F[mid, j] != face[j]:
                        less = F[mid, j] < face[j]
                        break
                if less:
                    lo = mid + 1
                else:
                    hi = mid
            out[i, k] = lo
    return out


@njit(cache=True)
def raise_to_faces(lo, hi, face_ids, face_lo, face_hi):
    """``max(value, max over the faces' values)`` for both ends of the intervals (make_filtration_non_decreasing)."""
    m, d = face_ids.shape
    out_lo = lo.copy()
    out_hi = hi.copy()
    for i in range(m):
        for k in range(d):
            f = face_ids[i, k]
            if face_lo[f] > out_lo[i]:
                out_lo[i] = face_lo[f]
            if face_hi[f] > out_hi[i]:
                out_hi[i] = face_hi[f]
    return out_lo, out_hi
