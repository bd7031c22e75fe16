"""The :class:`DualViewGraph` transformer: one structure -> the two geometric views of MGT.

MGT (Multi-view Geometric Transformer) reads a crystal twice: an
**SE(3)-invariant view** of scalars (bond lengths and the bond angles of the
line graph) and an **SO(3)-equivariant view** of the relative edge vectors,
which the model expands in spherical harmonics.  Both views share one periodic
radius graph, built by :func:`skcrystal.geometry.periodic_neighbors` with the
rules of :class:`~skcrystal.featurizers.CrystalGraph`; one
:class:`DualViewGraphData` per structure holds them (numpy arrays only, so it
pickles and caches cheaply), and :func:`skcrystal.nn.data.collate_dual_views`
batches them into flat tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ..base import StructureFeaturizer
from ..geometry import periodic_neighbors
from ..utils._param_validation import Interval
from ..utils.validation import structure_arrays
from .graph import ATOM_FEATURES_CONSTRAINT, atom_feature_matrix

__all__ = ["DualViewGraph", "DualViewGraphData", "angle_bonds", "line_graph_pairs"]


def angle_bonds(center, distance, n_atoms, k=None, shell_tol=1e-4):
    """Which edges enter the bond-angle line graph: each atom's ``k`` nearest, shells kept whole.

    Parameters
    ----------
    center : array of int, shape (n_edges,)
        Centre atom of each edge, sorted ascending, and by distance within a
        centre (the order of :func:`~skcrystal.geometry.periodic_neighbors`).
    distance : array of float, shape (n_edges,)
    n_atoms : int
    k : int or None, default=None
        ``None`` keeps every edge.
    shell_tol : float, default=1e-4
        Edges within this many Å of the ``k``-th nearest are kept too, so the
        choice never depends on the order of the sites.

    Returns
    -------
    ndarray of bool, shape (n_edges,)
    """
    center = np.asarray(center, dtype=np.int64)
    if k is None or len(center) == 0:
        return np.ones(len(center), dtype=bool)
    counts = np.bincount(center, minlength=n_atoms)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(center)) - starts[center]
    keep = rank < k
    has = counts > 0
    last = starts + np.minimum(counts, k) - 1
    kth = np.full(n_atoms, -np.inf)
    kth[has] = np.asarray(distance)[last[has]]
    return keep | (np.asarray(distance) <= kth[center] + shell_tol)


def line_graph_pairs(center, n_atoms, mask=None):
    """Every unordered pair of edges that share their centre atom (the bond-angle line graph).

    Parameters
    ----------
    center : array of int, shape (n_edges,)
        Centre atom of each edge, sorted ascending (as
        :func:`~skcrystal.geometry.periodic_neighbors` returns it).
    n_atoms : int
    mask : array of bool, shape (n_edges,), optional
        Only these edges take part (e.g. from :func:`angle_bonds`).

    Returns
    -------
    ndarray of int64, shape (2, n_pairs)
        Edge indices ``(a, b)`` with ``a < b``; both edges start at the same atom.
    """
    center = np.asarray(center, dtype=np.int64)
    if len(center) and np.any(np.diff(center) < 0):
        raise ValueError("edges must be sorted by their centre atom")
    idx = np.arange(len(center)) if mask is None else np.flatnonzero(mask)
    sub = center[idx]
    counts = np.bincount(sub, minlength=n_atoms)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    out = []
    for c in np.unique(counts[counts > 1]):
        a, b = np.triu_indices(int(c), k=1)
        s = starts[counts == c]
        out.append(np.stack([(s[:, None] + a[None, :]).ravel(), (s[:, None] + b[None, :]).ravel()]))
    if not out:
        return np.zeros((2, 0), dtype=np.int64)
    pairs = idx[np.concatenate(out, axis=1)]
    return pairs[:, np.lexsort((pairs[1], pairs[0]))]


@dataclass
class DualViewGraphData:
    """One crystal in MGT's two views (numpy arrays; cheap to pickle and cache).

    Both views share the atoms and the directed edges ``center -> neighbour``
    (messages flow from the neighbour to the centre).

    Attributes
    ----------
    atom_features : ndarray of float32, shape (n_atoms, n_atom_features)
    atomic_numbers : ndarray of int64, shape (n_atoms,)
    edge_index : ndarray of int64, shape (2, n_edges)
        Rows ``(center, neighbor)``, sorted by centre.
    edge_distance : ndarray of float32, shape (n_edges,)
        **SE(3) view**: bond lengths (Å).
    angle_index : ndarray of int64, shape (2, n_pairs)
        **SE(3) view**: the line graph, every unordered pair of edges
        ``(a, b)``, ``a < b``, sharing their centre atom (among each atom's
        ``angle_neighbors`` nearest edges).
    angle_cos : ndarray of float32, shape (n_pairs,)
        **SE(3) view**: cosine of the bond angle of each pair.
    edge_vector : ndarray of float32, shape (n_edges, 3)
        **SO(3) view**: ``r_neighbor(image) - r_center`` in the Cartesian
        frame of the input structure (Å); rotating the structure rotates them.
    """

    atom_features: np.ndarray
    atomic_numbers: np.ndarray
    edge_index: np.ndarray
    edge_distance: np.ndarray
    angle_index: np.ndarray
    angle_cos: np.ndarray
    edge_vector: np.ndarray

    @property
    def n_atoms(self):
        """Number of atoms."""
        return len(self.atomic_numbers)

    @property
    def n_edges(self):
        """Number of directed edges."""
        return self.edge_index.shape[1]

    @property
    def n_angles(self):
        """Number of bond-angle pairs (unordered) in the line graph."""
        return self.angle_index.shape[1]

    def __repr__(self):
        return (
            f"DualViewGraphData(n_atoms={self.n_atoms}, n_edges={self.n_edges}, n_angles={self.n_angles}, "
            f"atom_features={self.atom_features.shape[1]})"
        )


class DualViewGraph(StructureFeaturizer):
    """Build MGT's dual-view crystal graph: invariant scalars and equivariant edge vectors.

    One periodic radius graph per structure (nearest ``max_neighbors`` within
    ``cutoff``, complete neighbour shells, the neighbour search of
    :class:`~skcrystal.featurizers.CrystalGraph`) carries two views:

    * the **SE(3)-invariant view**: bond lengths, and the bond-angle line graph
      (every pair of bonds that share an atom, with the cosine of their angle);
      the model expands both in radial basis functions;
    * the **SO(3)-equivariant view**: the relative edge vectors in the input's
      Cartesian frame, for spherical harmonics.

    The output is an ``(n_structures, 1)`` object array of
    :class:`DualViewGraphData` for :class:`~skcrystal.models.MGTRegressor`,
    :class:`~skcrystal.models.MGTClassifier` and
    :class:`~skcrystal.models.MGTPretrainer`.  Graphs are cached per structure
    (a grid search over model parameters builds them once).

    Parameters
    ----------
    cutoff : float, default=8.0
        Neighbour radius in Å.
    max_neighbors : int or None, default=12
        Keep the nearest ``max_neighbors`` (plus every neighbour tied with the
        last one kept, so that shells are never cut); ``None`` keeps all
        within ``cutoff``.
    angle_neighbors : int or None, default=8
        Bond angles are formed between each atom's ``angle_neighbors``
        nearest edges (whole shells kept); ``None`` uses every edge.  The line
        graph grows with its square per atom: 8 keeps about a third of the
        pairs of 12 (the first coordination shells, where angles matter most).
    atom_features : str or tuple of str, default="cgcnn"
        Per-atom input: ``"cgcnn"`` (91-dim CGCNN-style property one-hot, as
        the MGT reference's 92 CGCNN features), ``"faithful"``, ``"element"``,
        ``"both"`` or a tuple of block names (see
        :class:`~skcrystal.featurizers.CrystalGraph`).
    n_jobs : int or None, default=None
        Joblib workers.
    verbose : int, default=0
        Progress bar when > 0.
    on_error : {"raise", "nan"}, default="raise"
        ``"nan"`` gives ``None`` for a structure that fails (the models then
        predict their fallback value for it).
    memory : str, path, joblib.Memory or None, default=None
        On-disk feature cache (see :class:`~skcrystal.base.StructureFeaturizer`).

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``["dual_view_graph"]``.
    n_features_out_ : int
        1.

    See Also
    --------
    skcrystal.models.MGTRegressor, skcrystal.nn.data.collate_dual_views

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> from skcrystal.featurizers import DualViewGraph
    >>> nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> g = DualViewGraph(cutoff=5.0, max_neighbors=None, angle_neighbors=None).fit_transform([nacl])[0, 0]
    >>> g.n_atoms, g.n_edges, g.n_angles  # 8 neighbours at 4.88 Å per atom, 28 angles each
    (2, 16, 56)
    """

    _output_kind = "object"
    # distances, angles and edge vectors do not move under a translation; the edge vectors *rotate* with the
    # structure (the equivariant view), and a permutation reorders the arrays
    _invariances = ("translation", "integer_shift")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "cutoff": [Interval(Real, 0, None, closed="neither")],
        "max_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "angle_neighbors": [Interval(Integral, 2, None, closed="left"), None],
        "atom_features": ATOM_FEATURES_CONSTRAINT,
    }
    _citations = (
        "L. Zhang, K. Chen and Y. Wu, Universal crystal material property prediction via multi-view geometric "
        "fusion in graph transformers, arXiv:2507.15303 (2025).",
        "K. Choudhary and B. DeCost, Atomistic line graph neural network for improved materials property "
        "predictions, npj Comput. Mater. 7, 185 (2021).",
    )

    def __init__(self, cutoff=8.0, max_neighbors=12, angle_neighbors=8, atom_features="cgcnn", n_jobs=None, verbose=0,
                 on_error="raise", memory=None):
        self.cutoff = cutoff
        self.max_neighbors = max_neighbors
        self.angle_neighbors = angle_neighbors
        self.atom_features = atom_features
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _feature_names(self):
        return ["dual_view_graph"]

    def _worker_input(self, structure):
        return structure_arrays(structure)

    def _featurize_one(self, structure):
        lattice, frac, Z = structure if isinstance(structure, tuple) else structure_arrays(structure)
        frac = frac % 1.0
        ci, cj, img, d = periodic_neighbors(lattice, frac, float(self.cutoff), self.max_neighbors)
        vec = (frac[cj] + img - frac[ci]) @ lattice
        pairs = line_graph_pairs(ci, len(Z), angle_bonds(ci, d, len(Z), self.angle_neighbors))
        if pairs.shape[1]:
            a, b = vec[pairs[0]], vec[pairs[1]]
            cos = np.einsum("ij,ij->i", a, b) / (d[pairs[0]] * d[pairs[1]])
            cos = np.clip(cos, -1.0, 1.0)
        else:
            cos = np.zeros(0)
        return DualViewGraphData(
            atom_features=atom_feature_matrix(Z, self.atom_features),
            atomic_numbers=np.asarray(Z, dtype=np.int64),
            edge_index=np.stack([ci, cj]),
            edge_distance=d.astype(np.float32),
            angle_index=pairs,
            angle_cos=cos.astype(np.float32),
            edge_vector=vec.astype(np.float32),
        )
