"""Exact signs of the alpha complex's "attached" tests, compiled: floating-point expansion arithmetic.

The two tests of :mod:`skcrystal.topology.fast` that float arithmetic cannot
decide (right angles, cocircular and cospherical points of symmetric cells)
are signs of polynomials in coordinate differences of the input doubles:

- edge ``ab`` against the opposite vertex ``v`` of a triangle:
  ``(a - v) . (b - v)``  (degree 2);
- triangle ``xyz`` against the opposite vertex ``v`` of a tetrahedron:
  ``|n|^2 |p|^2 - p . (|u|^2 (w x n) + |w|^2 (n x u))`` with ``u = y - x``,
  ``w = z - x``, ``p = v - x``, ``n = u x w`` (degree 6; half the test of
  :func:`~skcrystal.topology.fast._tri_in_tet_exact`, same sign).

Each is evaluated exactly as a nonoverlapping expansion (a sum of doubles,
Shewchuk 1997, "Adaptive precision floating-point arithmetic and fast robust
geometric predicates"): differences by Two-Diff, products by Dekker's
splitting, sums by Grow-Expansion, each result compressed.  The sign of the
exact value is the sign of the compressed expansion's largest component.

Exactness needs no overflow and no underflow in the error terms; inputs
whose coordinate differences leave a safe range (or an expansion that
outgrows its buffer) get the code ``2`` ("not decided here"), and the caller
decides them with Python integers, as before.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["edge_in_tri_signs", "tri_in_tet_signs"]

_SPLITTER = 134217729.0  # 2**27 + 1
#: Nonzero difference components must lie in [_TINY, _HUGE] (degree-6 products then stay normal and finite).
_TINY = 2.0**-120
_HUGE = 2.0**60
_CAP = 64  # components kept per compressed expansion (longer: not decided here)
_SZ = 8 * _CAP  # scratch length


@njit(cache=True, inline="always")
def _two_sum(a, b):
    x = a + b
    bv = x - a
    av = x - bv
    return x, (a - av) + (b - bv)


@njit(cache=True, inline="always")
def _fast_two_sum(a, b):  # |a| >= |b|
    x = a + b
    return x, b - (x - a)


@njit(cache=True, inline="always")
def _split(a):
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


@njit(cache=True, inline="always")
def _two_prod(a, b):
    x = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    err = x - ah * bh
    err = err - al * bh
    err = err - ah * bl
    return x, al * bl - err


@njit(cache=True)
def _compress(e, n, out, g):
    """Shewchuk's Compress of ``e[:n]`` into ``out`` (may be ``e``); ``g``: scratch of length >= n.  Returns the length."""
    if n == 0:
        out[0] = 0.0
        return 1
    bottom = n - 1
    q_big = e[n - 1]
    for i in range(n - 2, -1, -1):
        q_big, q = _fast_two_sum(q_big, e[i])
        if q != 0.0:
            g[bottom] = q_big
            bottom -= 1
            q_big = q
    g[bottom] = q_big
    top = 0
    for i in range(bottom + 1, n):
        q_big, q = _fast_two_sum(g[i], q_big)
        if q != 0.0:
            out[top] = q
            top += 1
    out[top] = q_big
    return top + 1


@njit(cache=True)
def _add(e, ne, f, nf, sign_f, out, ws):
    """``out = e + sign_f * f`` (Grow-Expansion per component of ``f``, zero-eliminated, then compressed).

    ``ws``: scratch rows (2, _SZ).  ``out`` may be ``e`` or ``f``.  Returns the length, or -1 when it
    does not fit in ``_CAP`` components (then ``out`` is unchanged).
    """
    if ne + nf + 1 > _SZ:
        return -1
    h = ws[0]
    nh = 0
    for i in range(ne):
        h[nh] = e[i]
        nh += 1
    for j in range(nf):
        q_big = sign_f * f[j]
        m = 0
        for i in range(nh):
            q_big, hh = _two_sum(q_big, h[i])
            if hh != 0.0:
                h[m] = hh
                m += 1
        h[m] = q_big
        nh = m + 1
    nh = _compress(h, nh, h, ws[1])
    if nh > _CAP:
        return -1
    for i in range(nh):
        out[i] = h[i]
    return nh


@njit(cache=True)
def _mul(e, ne, f, nf, out, ws):
    """``out = e * f`` (sum of Scale-Expansions, compressed).  ``ws``: scratch rows (5, _SZ).

    Returns the length, or -1 when an expansion outgrows the buffers.
    """
    if 2 * ne + 1 > _SZ:
        return -1
    acc = ws[2]
    s = ws[3]
    acc[0] = 0.0
    nacc = 1
    for j in range(nf):
        b = f[j]
        if b == 0.0:
            continue
        # Scale-Expansion with zero elimination
        q_big, hh = _two_prod(e[0], b)
        ns = 0
        if hh != 0.0:
            s[ns] = hh
            ns += 1
        for i in range(1, ne):
            t1, t0 = _two_prod(e[i], b)
            q_big, hh = _two_sum(q_big, t0)
            if hh != 0.0:
                s[ns] = hh
                ns += 1
            q_big, hh = _fast_two_sum(t1, q_big)
            if hh != 0.0:
                s[ns] = hh
                ns += 1
        s[ns] = q_big
        ns += 1
        nacc = _add(acc, nacc, s, ns, 1.0, acc, ws)
        if nacc < 0:
            return -1
    for i in range(nacc):
        out[i] = acc[i]
    return nacc


@njit(cache=True)
def _diff(a, b, out):
    x, y = _two_sum(a, -b)
    if y == 0.0:
        out[0] = x
        return 1
    out[0] = y
    out[1] = x
    return 2


@njit(cache=True)
def _ok(e, n):
    for i in range(n):
        a = abs(e[i])
        if a != 0.0 and (a < _TINY or a > _HUGE):
            return False
    return True


@njit(cache=True)
def _sign(e, n):
    v = e[n - 1]
    return 1 if v > 0 else (-1 if v < 0 else 0)


@njit(cache=True)
def _dot3(x, nx, y, ny, out, ws):
    """``out = x . y`` of expansion 3-vectors (rows of shape (3, _CAP)); the length, -1 on overflow."""
    t = ws[4]
    nacc = _mul(x[0], nx[0], y[0], ny[0], out, ws)
    if nacc < 0:
        return -1
    for i in range(1, 3):
        nt = _mul(x[i], nx[i], y[i], ny[i], t, ws)
        if nt < 0:
            return -1
        nacc = _add(out, nacc, t, nt, 1.0, out, ws)
        if nacc < 0:
            return -1
    return nacc


@njit(cache=True)
def _cross(x, nx, y, ny, out, nout, ws):
    """``out = x × y`` (expansion 3-vectors); False on overflow."""
    t1 = ws[4]
    t2 = ws[5]
    for i in range(3):
        j, k = (i + 1) % 3, (i + 2) % 3
        n1 = _mul(x[j], nx[j], y[k], ny[k], t1, ws)
        n2 = _mul(x[k], nx[k], y[j], ny[j], t2, ws)
        if n1 < 0 or n2 < 0:
            return False
        nr = _add(t1, n1, t2, n2, -1.0, out[i], ws)
        if nr < 0:
            return False
        nout[i] = nr
    return True


@njit(cache=True)
def _vec_diff(P, a, b, out, nout):
    for i in range(3):
        nout[i] = _diff(P[a, i], P[b, i], out[i])
        if not _ok(out[i], nout[i]):
            return False
    return True


@njit(cache=True)
def edge_in_tri_signs(P, a, b, v):
    """Exact sign of ``(P[a] - P[v]) . (P[b] - P[v])`` per row; 2 where not decided here.

    Parameters
    ----------
    P : ndarray of shape (n, 3), float64
    a, b, v : ndarray of int64

    Returns
    -------
    ndarray of int8
    """
    m = len(a)
    out = np.empty(m, np.int8)
    x = np.zeros((3, _CAP))
    y = np.zeros((3, _CAP))
    nx = np.zeros(3, np.int64)
    ny = np.zeros(3, np.int64)
    r = np.empty(_CAP)
    ws = np.empty((6, _SZ))
    for t in range(m):
        if not (_vec_diff(P, a[t], v[t], x, nx) and _vec_diff(P, b[t], v[t], y, ny)):
            out[t] = 2
            continue
        nr = _dot3(x, nx, y, ny, r, ws)
        out[t] = 2 if nr < 0 else _sign(r, nr)
    return out


@njit(cache=True)
def tri_in_tet_signs(P, x, y, z, v):
    """Exact sign of ``|n|^2 |p|^2 - p . (|u|^2 (w x n) + |w|^2 (n x u))`` per row; 2 where not decided here.

    ``u = P[y] - P[x]``, ``w = P[z] - P[x]``, ``p = P[v] - P[x]``, ``n = u x w``:
    the sign of :func:`~skcrystal.topology.fast._tri_in_tet_exact`'s test
    (which is twice this polynomial).

    Parameters
    ----------
    P : ndarray of shape (n, 3), float64
    x, y, z, v : ndarray of int64

    Returns
    -------
    ndarray of int8
    """
    m = len(x)
    out = np.empty(m, np.int8)
    vec = np.zeros((7, 3, _CAP))  # u, w, p, n, w x n, n x u, q
    nvec = np.zeros((7, 3), np.int64)
    sc = np.zeros((7, _CAP))  # uu, ww, nn, pp, pq, and two temporaries
    ws = np.empty((6, _SZ))
    u, w, p, n, wn, nu, q = vec[0], vec[1], vec[2], vec[3], vec[4], vec[5], vec[6]
    for t in range(m):
        out[t] = 2
        if not (_vec_diff(P, y[t], x[t], u, nvec[0]) and _vec_diff(P, z[t], x[t], w, nvec[1])
                and _vec_diff(P, v[t], x[t], p, nvec[2])):
            continue
        if not (_cross(u, nvec[0], w, nvec[1], n, nvec[3], ws) and _cross(w, nvec[1], n, nvec[3], wn, nvec[4], ws)
                and _cross(n, nvec[3], u, nvec[0], nu, nvec[5], ws)):
            continue
        k_uu = _dot3(u, nvec[0], u, nvec[0], sc[0], ws)
        k_ww = _dot3(w, nvec[1], w, nvec[1], sc[1], ws)
        k_nn = _dot3(n, nvec[3], n, nvec[3], sc[2], ws)
        k_pp = _dot3(p, nvec[2], p, nvec[2], sc[3], ws)
        if k_uu < 0 or k_ww < 0 or k_nn < 0 or k_pp < 0:
            continue
        bad = False
        for i in range(3):  # q_i = uu * wn_i + ww * nu_i
            n1 = _mul(sc[0], k_uu, wn[i], nvec[4, i], sc[5], ws)
            n2 = _mul(sc[1], k_ww, nu[i], nvec[5, i], sc[6], ws)
            if n1 < 0 or n2 < 0:
                bad = True
                break
            nq = _add(sc[5], n1, sc[6], n2, 1.0, q[i], ws)
            if nq < 0:
                bad = True
                break
            nvec[6, i] = nq
        if bad:
            continue
        k_pq = _dot3(p, nvec[2], q, nvec[6], sc[4], ws)
        n1 = _mul(sc[2], k_nn, sc[3], k_pp, sc[5], ws)
        if k_pq < 0 or n1 < 0:
            continue
        nr = _add(sc[5], n1, sc[4], k_pq, -1.0, sc[6], ws)
        if nr >= 0:
            out[t] = _sign(sc[6], nr)
    return out
