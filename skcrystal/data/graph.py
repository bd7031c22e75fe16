"""Periodic crystal graphs: neighbour search, the graph object and its collate function.

A crystal graph has one node per site of the cell and one directed edge
``i -> j`` per neighbour ``j`` of ``i`` (any periodic image of ``j``, the
self-images of ``i`` included) closer than ``cutoff``.  Everything here is
plain numpy/torch:

* :func:`periodic_neighbors` — vectorised neighbour search over all periodic
  images (pymatgen's Cython ``find_points_in_spheres``, the engine behind
  ``Structure.get_neighbor_list``), correct for cells smaller than the
  cutoff, with an optional cap on neighbours per atom (nearest first, ties
  broken by neighbour index then image, so the result is deterministic);
* :class:`CrystalGraphData` — the per-structure graph (numpy arrays only, so
  it pickles cheaply and caches well);
* :func:`collate_graphs` — batches graphs into flat tensors with a ``batch``
  index (no padding to the largest graph) and expands edge distances on a
  Gaussian basis on the fly;
* :func:`gaussian_expansion` and :func:`cgcnn_atom_features` (a CGCNN-style
  one-hot table of binned element properties computed from pymatgen's
  element data, no network access).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from .atoms import MAX_Z

__all__ = [
    "CrystalGraphData",
    "GraphDataset",
    "canonical_rotation",
    "cgcnn_atom_features",
    "collate_graphs",
    "element_one_hot",
    "gaussian_centers",
    "gaussian_expansion",
    "periodic_neighbors",
]


# --------------------------------------------------------------------------- neighbours
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


def canonical_rotation(lattice):
    """Rotation taking Cartesian vectors to the lattice's standard orientation.

    The standard orientation is pymatgen's ``Lattice.from_parameters`` one
    (``a`` along x, ``b`` in the xy-plane).  Edge vectors expressed in it do
    not change when the crystal is rotated or translated.

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


# --------------------------------------------------------------------------- features
def gaussian_centers(start=0.0, stop=8.0, step=0.2):
    """Centres of the Gaussian distance basis (``stop`` included, CGCNN convention)."""
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    return start + step * np.arange(n)


def gaussian_expansion(distance, centers, width):
    """``exp(-(d - μ_k)² / width²)`` for every distance and centre (numpy or torch).

    Parameters
    ----------
    distance : array or tensor of shape (n_edges,)
    centers : array or tensor of shape (n_centers,)
    width : float

    Returns
    -------
    array or tensor of shape (n_edges, n_centers)
    """
    if isinstance(distance, torch.Tensor):
        centers = torch.as_tensor(centers, dtype=distance.dtype, device=distance.device)
        return torch.exp(-((distance[:, None] - centers[None, :]) ** 2) / width**2)
    distance = np.asarray(distance, dtype=np.float64)
    return np.exp(-((distance[:, None] - np.asarray(centers)[None, :]) ** 2) / width**2)


def _bins(values, lo, hi, n, log=False):
    """One-hot of ``values`` in ``n`` equal bins on [lo, hi] (NaN -> all zeros)."""
    v = np.asarray(values, dtype=np.float64)
    if log:
        with np.errstate(divide="ignore", invalid="ignore"):
            v = np.log(v)
        lo, hi = np.log(lo), np.log(hi)
    out = np.zeros((len(v), n))
    ok = np.isfinite(v)
    idx = np.clip(((v[ok] - lo) / (hi - lo) * n).astype(int), 0, n - 1)
    out[np.flatnonzero(ok), idx] = 1.0
    return out


def _valence_electrons(el):
    """Electrons outside the noble-gas core (s+p, plus d/f of the open shells)."""
    try:
        conf = el.full_electronic_structure
    except Exception:  # noqa: BLE001 - superheavy elements without data
        return np.nan
    nmax = max(n for n, _, _ in conf)
    count = 0
    for n, orb, e in conf:
        if n == nmax or (orb == "d" and n == nmax - 1 and e < 10) or (orb == "f" and n == nmax - 2 and e < 14):
            count += e
    return count


@lru_cache(maxsize=1)
def _cgcnn_table():
    from pymatgen.core.periodic_table import Element

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z in range(1, 119):
            el = Element.from_Z(z)

            def get(f):
                try:
                    v = f()
                    return np.nan if v is None else float(v)
                except Exception:  # noqa: BLE001 - missing element data -> NaN
                    return np.nan

            rows.append(
                (
                    get(lambda: el.group),
                    get(lambda: el.row),
                    "spdf".find(el.block) if el.block in "spdf" else -1,
                    _valence_electrons(el),
                    get(lambda: el.X),
                    get(lambda: el.atomic_radius),
                    get(lambda: el.ionization_energies[0]),
                    get(lambda: el.electron_affinity),
                    get(lambda: el.molar_volume),
                )
            )
    a = np.array(rows, dtype=np.float64)
    parts = [
        _bins(a[:, 0] - 1, -0.5, 17.5, 18),  # group 1..18
        _bins(a[:, 1] - 1, -0.5, 6.5, 7),  # period 1..7
        _bins(a[:, 2], -0.5, 3.5, 4),  # block s p d f
        _bins(a[:, 3] - 1, -0.5, 11.5, 12),  # valence electrons 1..12
        _bins(a[:, 4], 0.5, 4.0, 10),  # Pauling electronegativity
        _bins(a[:, 5], 0.25, 2.6, 10),  # atomic radius (Å)
        _bins(a[:, 6], 3.5, 25.0, 10, log=True),  # first ionisation energy (eV)
        _bins(a[:, 7], -0.5, 3.7, 10),  # electron affinity (eV)
        _bins(a[:, 8], 1.5, 75.0, 10, log=True),  # molar volume (cm^3/mol)
    ]
    table = np.zeros((119, sum(p.shape[1] for p in parts)), dtype=np.float32)
    table[1:] = np.concatenate(parts, axis=1)
    return table


def _check_atomic_numbers(Z):
    """``Z`` as an int64 array, or a ValueError naming the range when an entry is outside 1..MAX_Z."""
    Z = np.asarray(Z, dtype=np.int64)
    if Z.size and (Z.min() < 1 or Z.max() > MAX_Z):
        raise ValueError(f"atomic numbers must be in 1..{MAX_Z}, got {Z.min()}..{Z.max()}")
    return Z


def cgcnn_atom_features(Z):
    """CGCNN-style atom features: one-hot bins of element properties (91 numbers).

    Group (18), period (7), block (4), valence electrons (12), and 10 bins each
    of electronegativity, atomic radius, first ionisation energy (log),
    electron affinity and molar volume (log), from pymatgen's element data.
    Like CGCNN's ``atom_init.json`` (same kind of one-hot binning; bins and
    sources differ slightly).  Missing data give an all-zero block.

    Parameters
    ----------
    Z : array of int
        Atomic numbers (1..118).

    Returns
    -------
    ndarray of float32, shape (len(Z), 91)
    """
    return _cgcnn_table()[_check_atomic_numbers(Z)]


def element_one_hot(Z):
    """One-hot of the atomic number, shape ``(n_atoms, 118)`` (column ``Z - 1``).

    Parameters
    ----------
    Z : array-like of int in 1..118

    Returns
    -------
    ndarray of float32
    """
    return np.eye(MAX_Z, dtype=np.float32)[_check_atomic_numbers(Z) - 1]


# --------------------------------------------------------------------------- data object
@dataclass
class CrystalGraphData:
    """One crystal as a graph (numpy arrays; cheap to pickle and cache).

    Attributes
    ----------
    atom_features : ndarray of float32, shape (n_atoms, n_atom_features)
    frac : ndarray of float32, shape (n_atoms, 3)
        Fractional coordinates wrapped into [0, 1).
    atomic_numbers : ndarray of int64, shape (n_atoms,)
    edge_index : ndarray of int64, shape (2, n_edges)
        Rows ``(center, neighbor)``; messages flow neighbour -> centre.
    edge_distance : ndarray of float32, shape (n_edges,)
    edge_vector : ndarray of float32, shape (n_edges, 3)
        ``r_neighbor(image) − r_center`` in the lattice's standard orientation
        (rotation- and translation-invariant).
    edge_image : ndarray of int64, shape (n_edges, 3)
    global_features : ndarray of float32, shape (n_global,)
        The faithful global vector ``g`` (may be empty).
    edge_basis : tuple
        ``(centers, width, cutoff, include_vector)`` used by
        :func:`collate_graphs` to build edge features.
    """

    atom_features: np.ndarray
    frac: np.ndarray
    atomic_numbers: np.ndarray
    edge_index: np.ndarray
    edge_distance: np.ndarray
    edge_vector: np.ndarray
    edge_image: np.ndarray
    global_features: np.ndarray
    edge_basis: tuple = field(default=((), 1.0, 1.0, False))

    @property
    def n_atoms(self):
        """Number of nodes."""
        return len(self.atomic_numbers)

    @property
    def n_edges(self):
        """Number of directed edges."""
        return self.edge_index.shape[1]

    @property
    def n_edge_features(self):
        """Width of the edge features :func:`collate_graphs` builds."""
        centers, _, _, vec = self.edge_basis
        return len(centers) + (4 if vec else 0)

    def __repr__(self):
        return (
            f"CrystalGraphData(n_atoms={self.n_atoms}, n_edges={self.n_edges}, "
            f"atom_features={self.atom_features.shape[1]}, global={len(self.global_features)})"
        )


def collate_graphs(batch):
    """Batch ``(graph, y)`` pairs into flat tensors with a batch index.

    Parameters
    ----------
    batch : list of (CrystalGraphData, y) or of CrystalGraphData

    Returns
    -------
    inputs : dict of tensors
        ``atom_features`` (N, F), ``frac`` (N, 3), ``edge_index`` (2, E)
        offset into the batch, ``edge_features`` (E, F_e) (Gaussian expansion
        of the distance, then ``[d, dx, dy, dz] / cutoff`` when the graph asks
        for vectors), ``global_features`` (B, G), ``batch`` (N,) graph index of
        each atom, ``n_graphs`` (B, used for pooling; a 0-dim tensor).
    y : tensor
        Stacked targets (only when pairs were given).
    """
    if batch and isinstance(batch[0], (tuple, list)):
        graphs = [b[0] for b in batch]
        ys = [b[1] for b in batch]
    else:
        graphs, ys = list(batch), None
    n_atoms = np.array([g.n_atoms for g in graphs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    edge_index = np.concatenate([g.edge_index + off for g, off in zip(graphs, offsets)], axis=1)
    dist = torch.from_numpy(np.concatenate([g.edge_distance for g in graphs]).astype(np.float32))
    centers, width, cutoff, with_vec = graphs[0].edge_basis
    feats = [gaussian_expansion(dist, np.asarray(centers, dtype=np.float32), width)]
    if with_vec:
        vec = torch.from_numpy(np.concatenate([g.edge_vector for g in graphs]).astype(np.float32))
        feats.append(torch.cat([dist[:, None], vec], dim=1) / float(cutoff))
    inputs = {
        "atom_features": torch.from_numpy(np.concatenate([g.atom_features for g in graphs]).astype(np.float32)),
        "frac": torch.from_numpy(np.concatenate([g.frac for g in graphs]).astype(np.float32)),
        "edge_index": torch.from_numpy(edge_index.astype(np.int64)),
        "edge_features": torch.cat(feats, dim=1) if len(feats) > 1 else feats[0],
        "global_features": torch.from_numpy(np.stack([g.global_features for g in graphs]).astype(np.float32)),
        "batch": torch.from_numpy(np.repeat(np.arange(len(graphs)), n_atoms)),
    }
    if ys is None:
        return inputs
    y = torch.as_tensor(np.asarray([np.asarray(v) for v in ys]))
    return inputs, y


class GraphDataset(torch.utils.data.Dataset):
    """A torch Dataset over a sequence of :class:`CrystalGraphData` (skorch calls ``GraphDataset(X, y)``).

    Parameters
    ----------
    X : sequence of CrystalGraphData (list, 1-D object array or (n, 1) object array)
    y : array-like or None
        Targets; ``None`` (prediction) yields a 0 placeholder.
    """

    def __init__(self, X, y=None):
        if isinstance(X, np.ndarray) and X.ndim == 2:
            X = X[:, 0]
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        yi = np.float32(0.0) if self.y is None else self.y[i]
        return self.X[i], yi
