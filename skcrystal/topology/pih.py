"""Persistent interaction homology (PIH) of an ordered pair of atom sets A -> B.

The interaction complex keeps the simplices of a filtered complex on
``A ∪ B`` that hold exactly one A-atom: edges ``a-b`` and triangles
``a-b-b'``.  Its homology splits into one independent piece per A-atom ``a``:

- H0: one bar ``[0, min_b f(ab))`` (infinite if ``a`` has no edge to B);
- H1: the 0-dimensional persistence of the *link graph* of ``a`` -- nodes
  are the B-atoms ``b`` born at ``f(ab)``, edges ``b-b'`` enter at
  ``f(abb')``.  Merges kill the younger component (elder rule); every
  component except the oldest one that never dies gives an infinite bar.

All A-atoms are processed at once: the link graphs are disjoint, so a single
minimum spanning forest (scipy) and one pass of a union-find over its edges
give every bar.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "alpha_interaction_complex",
    "interaction_barcodes",
    "rips_interaction_complex",
]


def _as_complex(n_a, edge_a, edge_b, edge_f, tri_a, tri_b1, tri_b2, tri_f):
    return {
        "n_a": int(n_a),
        "edge_a": np.asarray(edge_a, dtype=np.int64),
        "edge_b": np.asarray(edge_b, dtype=np.int64),
        "edge_f": np.asarray(edge_f, dtype=np.float64),
        "tri_a": np.asarray(tri_a, dtype=np.int64),
        "tri_b1": np.asarray(tri_b1, dtype=np.int64),
        "tri_b2": np.asarray(tri_b2, dtype=np.int64),
        "tri_f": np.asarray(tri_f, dtype=np.float64),
    }


def alpha_interaction_complex(points_a, points_b, max_filtration=10.0, precision="safe"):
    """Interaction complexes A -> B and B -> A from one alpha complex of ``A ∪ B``.

    Parameters
    ----------
    points_a, points_b : ndarray of shape (n_a, 3), (n_b, 3)
        Cartesian coordinates of the two clusters.
    max_filtration : float, default=10.0
        Largest alpha radius (Å) kept (ITT: 10).
    precision : {"safe", "fast", "exact"}, default="safe"
        gudhi precision (``"safe"`` is the reference).

    Returns
    -------
    ab, ba : dict
        Interaction complexes for A -> B and B -> A, each with keys
        ``n_a, edge_a, edge_b, edge_f, tri_a, tri_b1, tri_b2, tri_f``
        (indices local to the "A" and "B" side of that direction; filtration
        values on the radius scale, i.e. ``sqrt`` of gudhi's values).

    Notes
    -----
    The cross-cluster edges and triangles are read from gudhi's serialized
    simplex tree (``SimplexTree.__getstate__``) with numpy, which gives the
    same simplices, order and filtration values as iterating
    ``get_simplices()`` at a fraction of the cost; if the serialization
    layout is not the expected one (another gudhi version), the tree is
    iterated instead.
    """
    import gudhi

    pa = np.asarray(points_a, dtype=np.float64).reshape(-1, 3)
    pb = np.asarray(points_b, dtype=np.float64).reshape(-1, 3)
    na, nb = len(pa), len(pb)
    pts = np.vstack([pa, pb])
    st = gudhi.AlphaComplex(points=pts, precision=precision).create_simplex_tree(
        max_alpha_square=float(max_filtration) ** 2
    )
    st.prune_above_dimension(2)
    mixed = _mixed_simplices_serialized(st, na)
    if mixed is None:
        mixed = _mixed_simplices_iter(st, na)
    E, ef, T, tf = mixed
    Ef = np.sqrt(ef)
    Tf = np.sqrt(tf)
    one_a = T[:, 1] >= na  # (a, b, b')
    two_a = ~one_a  # (a, a', b)
    ab = _as_complex(
        na, E[:, 0], E[:, 1] - na, Ef, T[one_a, 0], T[one_a, 1] - na, T[one_a, 2] - na, Tf[one_a]
    )
    ba = _as_complex(nb, E[:, 1] - na, E[:, 0], Ef, T[two_a, 2] - na, T[two_a, 0], T[two_a, 1], Tf[two_a])
    return ab, ba


def _mixed_simplices_iter(st, na):
    """Edges ``a-b`` and triangles with both kinds of vertices, by iterating the simplex tree.

    ``A`` is the vertices ``< na``.  Returns ``(E, ef, T, tf)``: the edges
    (m, 2) and triangles (k, 3) (sorted vertex lists) in the simplex tree's
    lexicographic order, with gudhi's (squared) filtration values.
    """
    e_list, ef, t_list, tf = [], [], [], []
    e_app, ef_app, t_app, tf_app = e_list.append, ef.append, t_list.append, tf.append
    for sx, f in st.get_simplices():
        k = len(sx)
        if k == 2:
            if sx[0] < na <= sx[1]:
                e_app(sx)
                ef_app(f)
        elif k == 3:
            if sx[0] < na <= sx[2]:
                t_app(sx)
                tf_app(f)
    return (
        np.asarray(e_list, dtype=np.int64).reshape(-1, 2),
        np.asarray(ef, dtype=np.float64),
        np.asarray(t_list, dtype=np.int64).reshape(-1, 3),
        np.asarray(tf, dtype=np.float64),
    )


# gudhi's SimplexTree serialization (``__getstate__``, gudhi >= 3.8): a 6-byte
# header, then recursively per sibling set: its size (int32), its members as
# (vertex int32, filtration float64) records, then each member's children set
# (a lone 0 when it has none), all in native byte order.  Every field lies at
# a byte offset = 2 (mod 4), so the stream after the first 2 bytes is a
# sequence of int32 words (a record is 3 words).
_SERIAL_HEADER = (1, 0, 1, 0, 0, 0)


def _mixed_simplices_serialized(st, na):
    """Same output as :func:`_mixed_simplices_iter`, read from the serialized tree.

    Iterating a simplex tree from Python costs a few microseconds per
    simplex; the serialized tree is walked here with one Python step per
    vertex and edge of ``A`` only (to find where each sibling set starts),
    and the records are gathered with numpy.  Stops at the first ``B`` root
    vertex: every simplex below it holds B vertices only.  Returns ``None``
    when the layout is not the expected one (the caller then iterates the
    tree).  The tree must hold no simplex of dimension above 2.
    """
    import struct

    raw = st.__getstate__()
    if raw.dtype.itemsize != 1 or raw.size < 10 or (raw.size - 2) % 4 or struct.calcsize("i") != 4:
        return None
    if tuple(int(x) for x in raw[:6]) != _SERIAL_HEADER:
        return None
    w = np.ascontiguousarray(raw[2:]).view(np.int32)  # w[0] ends the header
    words = memoryview(w).cast("B").cast("i")  # fast scalar reads, no copy
    nw = len(words)
    n = words[1]
    root = 2
    pos = root + 3 * n
    if n < 0 or pos > nw:
        return None
    vblk, dpos = [], []  # position of each edge set (count word); of each triangle set
    v_app, d_app = vblk.append, dpos.append
    try:
        for i in range(n):
            if words[root + 3 * i] >= na:
                break
            c = words[pos]
            if not 0 <= c <= nw:
                return None
            v_app(pos)
            pos += 1 + 3 * c
            for _ in range(c):
                d_app(pos)
                pos += 1 + 4 * words[pos]  # d records, then d empty children sets (checked below)
    except IndexError:
        return None
    if pos > nw:
        return None

    def expand(start, cnt):
        # word index of every record of the sets starting at ``start`` with ``cnt`` records
        grp = np.repeat(np.arange(len(cnt)), cnt)
        off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        return grp, start[grp] + 3 * off

    def filt(idx):
        f = np.empty((len(idx), 2), dtype=np.int32)
        f[:, 0] = w[idx + 1]
        f[:, 1] = w[idx + 2]
        return f.view(np.float64).reshape(-1)

    vblk = np.asarray(vblk, dtype=np.int64)
    dpos = np.asarray(dpos, dtype=np.int64)
    ecnt = w[vblk].astype(np.int64)
    tcnt = w[dpos].astype(np.int64)
    if len(tcnt) and tcnt.min() < 0:
        return None
    rootv = w[root + 3 * np.arange(len(vblk))].astype(np.int64)
    eg, eidx = expand(vblk + 1, ecnt)  # edges (rootv[eg], w[eidx]), in tree order
    ev0 = rootv[eg]
    ev1 = w[eidx].astype(np.int64)
    tg, tidx = expand(dpos + 1, tcnt)  # triangles on edge tg (edges in the same order)
    if len(tidx):
        # record j of a set sits at start + 3 j, its (empty) children set at start + 3 d + j
        tstart = dpos[tg] + 1
        if w[tstart + 3 * tcnt[tg] + (tidx - tstart) // 3].any():
            return None
    tv2 = w[tidx].astype(np.int64)
    em = ev1 >= na
    tm = tv2 >= na
    E = np.column_stack([ev0[em], ev1[em]]).reshape(-1, 2)
    T = np.column_stack([ev0[tg][tm], ev1[tg][tm], tv2[tm]]).reshape(-1, 3)
    return E, filt(eidx[em]), T, filt(tidx[tm])


def rips_interaction_complex(points_a, points_b, max_filtration=5.0):
    """Build the Vietoris-Rips interaction complexes A -> B and B -> A (radius scale: half the length).

    Parameters
    ----------
    points_a, points_b : ndarray
    max_filtration : float, default=5.0
        Largest radius (Å); edges up to ``2 * max_filtration`` long.

    Returns
    -------
    ab, ba : dict
        As :func:`alpha_interaction_complex`.
    """
    from scipy.spatial import cKDTree

    pa = np.asarray(points_a, dtype=np.float64).reshape(-1, 3)
    pb = np.asarray(points_b, dtype=np.float64).reshape(-1, 3)
    r = 2.0 * float(max_filtration)

    def one_way(p, q):
        tq = cKDTree(q)
        nbrs = cKDTree(p).query_ball_tree(tq, r)
        ea, eb = [], []
        for i, lst in enumerate(nbrs):
            ea.extend([i] * len(lst))
            eb.extend(lst)
        ea = np.asarray(ea, dtype=np.int64)
        eb = np.asarray(eb, dtype=np.int64)
        ef = np.linalg.norm(p[ea] - q[eb], axis=1) / 2.0 if len(ea) else np.empty(0)
        qq = tq.query_pairs(r, output_type="ndarray")
        ta, t1, t2, tf = [], [], [], []
        if len(qq) and len(ea):
            qd = np.linalg.norm(q[qq[:, 0]] - q[qq[:, 1]], axis=1) / 2.0
            # triangle a-b-b' exists when both a-b and a-b' are edges
            key = ea * len(q) + eb
            order = np.argsort(key)
            skey = key[order]
            lut = {}
            for k, (x, y) in enumerate(qq):
                lut.setdefault(x, []).append((y, qd[k]))
            for idx in range(len(ea)):
                a, b = ea[idx], eb[idx]
                for y, dy in lut.get(b, ()):
                    pos = np.searchsorted(skey, a * len(q) + y)
                    if pos < len(skey) and skey[pos] == a * len(q) + y:
                        ta.append(a)
                        t1.append(b)
                        t2.append(y)
                        tf.append(max(ef[idx], ef[order[pos]], dy))
        return _as_complex(len(p), ea, eb, ef, ta, t1, t2, tf)

    return one_way(pa, pb), one_way(pb, pa)


def interaction_barcodes(cx, min_persistence=1e-10, h1_needs_triangles=True, return_atoms=False, compiled=False):
    """Per-A-atom persistent interaction homology (H0 and H1) of one interaction complex.

    Parameters
    ----------
    cx : dict
        An interaction complex (see :func:`alpha_interaction_complex`).
    min_persistence : float, default=1e-10
        Finite H1 bars not longer than this are dropped (the reference's
        ``barcode_min_width``).
    h1_needs_triangles : bool, default=True
        Reference compatibility: when the complex holds no triangle at all,
        report no H1 bars (the ITT code skips the H1 computation then,
        although edges beyond the first of each A-atom are H1 classes).
    return_atoms : bool, default=False
        Also return the A-atom of each bar.
    compiled : bool, default=False
        Run the elder rule with the compiled kernel (numba; the fast path)
        instead of scipy's spanning forest; same result.

    Returns
    -------
    h0 : ndarray of shape (n_a, 2)
        ``[0, death)`` per A-atom (``inf`` when it has no edge).
    h1 : ndarray of shape (k, 2)
        H1 bars (``inf`` deaths for classes that never die).
    atoms0, atoms1 : ndarray of int
        Only with ``return_atoms``: the A-atom of each H0 / H1 bar.
    """
    n_a = cx["n_a"]
    ea, eb, ef = cx["edge_a"], cx["edge_b"], cx["edge_f"]
    ta, t1, t2, tf = cx["tri_a"], cx["tri_b1"], cx["tri_b2"], cx["tri_f"]
    h0d = np.full(n_a, np.inf)
    if len(ea):
        np.minimum.at(h0d, ea, ef)
    h0 = np.column_stack([np.zeros(n_a), h0d])
    atoms0 = np.arange(n_a)
    empty = (np.empty((0, 2)), np.empty(0, dtype=np.int64))
    if len(ea) == 0 or (h1_needs_triangles and len(ta) == 0):
        return (h0, empty[0], atoms0, empty[1]) if return_atoms else (h0, empty[0])

    n = len(ea)
    # total order of the nodes (edges a-b): by filtration value, ties by position
    order = np.argsort(ef, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    # the oldest node of each A-atom never dies and gives no H1 class
    by_atom = np.lexsort((rank, ea))
    first = np.ones(n, dtype=bool)
    first[1:] = ea[by_atom][1:] != ea[by_atom][:-1]
    oldest = np.zeros(n, dtype=bool)
    oldest[by_atom[first]] = True

    death = np.full(n, np.inf)
    if len(ta):
        nbk = int(max(eb.max(), t1.max(), t2.max())) + 1
        key = ea * nbk + eb
        korder = np.argsort(key)
        skey = key[korder]
        u = korder[np.searchsorted(skey, ta * nbk + t1)]
        v = korder[np.searchsorted(skey, ta * nbk + t2)]
        if compiled:
            from ._kernels import elder_deaths

            death = elder_deaths(n, u, v, np.asarray(tf, dtype=np.float64), rank)
        else:
            death = _elder_rule_deaths(n, u, v, tf, rank)
    keep = ~oldest & ((death - ef) > min_persistence)
    h1 = np.column_stack([ef[keep], death[keep]])
    # stable output order: by A-atom, then birth
    srt = np.lexsort((h1[:, 1], h1[:, 0], ea[keep]))
    h1 = h1[srt]
    if return_atoms:
        return h0, h1, atoms0, ea[keep][srt]
    return h0, h1


def _elder_rule_deaths(n, u, v, w, rank):
    """Death value of every node of a graph filtration (0-dim persistence, elder rule).

    Nodes are born in ``rank`` order; edge ``(u, v)`` enters at ``w``.  Only
    the edges of a minimum spanning forest can merge components, so the
    union-find runs over those (at most ``n - 1``) edges, in a tight loop.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import minimum_spanning_tree

    death = np.full(n, np.inf)
    # scipy drops zero weights: shift to strictly positive values (order is kept)
    wmin = w.min()
    shift = 1.0 - wmin if wmin <= 0 else 0.0
    g = coo_matrix((w + shift, (u, v)), shape=(n, n)).tocsr()
    mst = minimum_spanning_tree(g).tocoo()
    if mst.nnz == 0:
        return death
    mw = mst.data - shift
    # recover the exact weights (the shift may round): look the edges up again
    if shift:
        lut = {}
        for a, b, x in zip(u.tolist(), v.tolist(), w.tolist()):
            lut[(a, b)] = x
            lut[(b, a)] = x
        mw = np.array([lut[(a, b)] for a, b in zip(mst.row.tolist(), mst.col.tolist())])
    o = np.argsort(mw, kind="stable")
    mu, mv, mw = mst.row[o].tolist(), mst.col[o].tolist(), mw[o].tolist()
    parent = list(range(n))
    rk = rank.tolist()
    eldest = list(range(n))  # eldest node of the component whose root is the index
    dl = death.tolist()
    for a, b, x in zip(mu, mv, mw):
        ra = a
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        rb = b
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra == rb:
            continue
        ea_, eb_ = eldest[ra], eldest[rb]
        if rk[ea_] < rk[eb_]:
            dl[eb_] = x
            parent[rb] = ra
        else:
            dl[ea_] = x
            parent[ra] = rb
            eldest[rb] = eb_
    return np.asarray(dl)
