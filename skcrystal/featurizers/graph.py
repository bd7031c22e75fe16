"""The :class:`CrystalGraph` transformer: structures -> periodic crystal graphs.

:class:`CrystalGraphData` is the per-structure graph (numpy arrays only, so it
pickles cheaply and caches well); :func:`skcrystal.nn.data.collate_graphs`
batches graphs into flat tensors for the torch models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np

from .._citations import NOP2025_FAITHFUL, XIE2018_CGCNN
from ..base import StructureFeaturizer
from ..utils._docstring import FEATURIZER_PARAMS, Substitution
from ..encodings.atoms import atom_codes, cgcnn_atom_features, element_one_hot
from ..encodings.crystal import canonical_lattice_matrix, faithful_global_vector
from ..geometry import periodic_neighbors
from ..utils._param_validation import Interval, SequenceOf, StrOptions
from ..utils.validation import structure_arrays

__all__ = [
    "CrystalGraph",
    "CrystalGraphData",
    "atom_feature_matrix",
    "atom_feature_parts",
    "gaussian_centers",
    "gaussian_expansion",
]


def gaussian_centers(start=0.0, stop=8.0, step=0.2):
    """Return the centres of the Gaussian distance basis (``stop`` included, CGCNN convention).

    Parameters
    ----------
    start : float, default=0.0
        First centre (Å).
    stop : float, default=8.0
        Last centre (Å).
    step : float, default=0.2
        Spacing (Å).

    Returns
    -------
    ndarray of float64
        ``start, start + step, …, stop``.
    """
    n = int(np.floor((stop - start) / step + 1e-9)) + 1
    return start + step * np.arange(n)


def gaussian_expansion(distance, centers, width):
    """``exp(-(d - μ_k)² / width²)`` for every distance and centre (numpy).

    Parameters
    ----------
    distance : array of shape (n_edges,)
    centers : array of shape (n_centers,)
    width : float

    Returns
    -------
    ndarray of shape (n_edges, n_centers)

    See Also
    --------
    skcrystal.nn.data.gaussian_expansion_torch : the same on tensors (used when batching).
    """
    distance = np.asarray(distance, dtype=np.float64)
    return np.exp(-((distance[:, None] - np.asarray(centers)[None, :]) ** 2) / width**2)


_ATOM_BLOCKS = {"faithful": atom_codes, "cgcnn": cgcnn_atom_features, "element": element_one_hot}


#: What an ``atom_features`` parameter may be (a block name, "both", or a tuple of distinct block names).
ATOM_FEATURES_CONSTRAINT = [
    StrOptions({"faithful", "cgcnn", "element", "both"}),
    SequenceOf(StrOptions({"faithful", "cgcnn", "element"}), unique=True),
]


def atom_feature_parts(spec):
    """The atom-feature block names of an ``atom_features`` specification, checked.

    Parameters
    ----------
    spec : str or tuple of str
        ``"faithful"``, ``"cgcnn"``, ``"element"``, ``"both"`` (= faithful and
        cgcnn) or a tuple of distinct block names.

    Returns
    -------
    tuple of str
    """
    parts = ("faithful", "cgcnn") if spec == "both" else (spec,) if isinstance(spec, str) else tuple(spec)
    allowed = tuple(_ATOM_BLOCKS)
    if not parts or any(p not in allowed for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(
            "atom_features must be 'faithful', 'cgcnn', 'element', 'both' or a tuple of distinct names "
            f"from {allowed}, got {spec!r}"
        )
    return parts


def atom_feature_matrix(Z, spec):
    """Per-atom input features: the named blocks concatenated in order, shape (n_atoms, width).

    Parameters
    ----------
    Z : array of int, shape (n_atoms,)
        Atomic numbers.
    spec : str or tuple of str
        See :func:`atom_feature_parts`.

    Returns
    -------
    ndarray of float32
    """
    return np.concatenate([_ATOM_BLOCKS[p](Z) for p in atom_feature_parts(spec)], axis=1).astype(np.float32)


@dataclass
class CrystalGraphData:
    """One crystal as a graph (numpy arrays; cheap to pickle and cache).

    Parameters
    ----------
    atom_features : ndarray of float32, shape (n_atoms, n_atom_features)
        Atom codes.
    frac : ndarray of float32, shape (n_atoms, 3)
        Fractional coordinates wrapped into [0, 1).
    atomic_numbers : ndarray of int64, shape (n_atoms,)
        Atomic numbers.
    edge_index : ndarray of int64, shape (2, n_edges)
        Rows ``(center, neighbor)``; messages flow neighbour -> centre.
    edge_distance : ndarray of float32, shape (n_edges,)
        Edge lengths (Å).
    edge_vector : ndarray of float32, shape (n_edges, 3)
        ``r_neighbor(image) − r_center`` in the lattice's standard orientation
        (rotation- and translation-invariant).
    edge_image : ndarray of int64, shape (n_edges, 3)
        Lattice translation of each neighbour's image.
    global_features : ndarray of float32, shape (n_global,)
        The faithful global vector ``g`` (may be empty).
    edge_basis : tuple
        ``(centers, width, cutoff, include_vector)`` used by
        :func:`~skcrystal.nn.data.collate_graphs` to build edge features.
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

    def invariant_view(self, decimals=4):
        """The graph up to site order: what it guarantees under rotation, translation and permutation.

        Atoms as sorted rows ``(Z, atom features)``, edges as sorted rows
        ``(Z_center, Z_neighbor, distance, edge vector)`` and the global
        vector.  Fractional coordinates (absolute positions) and site indices
        are left out.  Rows are ordered by their values rounded to
        ``decimals``, so two views are compared with a tolerance.

        Parameters
        ----------
        decimals : int, default=4
            Rounding used for the ordering only.

        Returns
        -------
        dict of ndarray
            ``atoms``, ``edges`` and ``global``.
        """
        Z = self.atomic_numbers.astype(np.float64)
        atoms = np.column_stack([Z, self.atom_features.astype(np.float64)])
        ci, cj = self.edge_index
        edges = np.column_stack([Z[ci], Z[cj], self.edge_distance, self.edge_vector]).astype(np.float64)

        def sort(a):
            if len(a) == 0:
                return a
            return a[np.lexsort(np.round(a, decimals).T[::-1])]

        return {"atoms": sort(atoms), "edges": sort(edges), "global": self.global_features.astype(np.float64)}

    def __repr__(self):
        return (
            f"CrystalGraphData(n_atoms={self.n_atoms}, n_edges={self.n_edges}, "
            f"atom_features={self.atom_features.shape[1]}, global={len(self.global_features)})"
        )


@Substitution(**FEATURIZER_PARAMS)
class CrystalGraph(StructureFeaturizer):
    """Turn crystal structures into periodic radius graphs (one graph object per structure).

    Nodes are the sites of the cell; a directed edge ``i -> j`` joins each site
    to every periodic image of every site (its own images included) within
    ``cutoff``, optionally keeping only the ``max_neighbors`` nearest.  The
    neighbour search is vectorised (pymatgen's Cython cell-list search) and
    exact for cells smaller than the cutoff.  Each graph carries atom
    features, fractional coordinates, edge distances and edge vectors (in the
    lattice's standard orientation, so they do not change under rotation or
    translation), and the faithful global vector ``g``.  The output is an
    ``(n_structures, 1)`` object array for :class:`~skcrystal.models.CGNNRegressor`
    and friends; :func:`skcrystal.nn.data.collate_graphs` batches graphs
    into flat tensors without padding.

    Defaults follow CGCNN (Xie & Grossman 2018): 8 Å, 12 neighbours, Gaussian
    basis 0–8 Å in 0.2 Å steps (41 functions, width 0.2 Å).  The faithful
    paper's CGNN (Nop et al. 2025) instead uses every neighbour within the
    radius (``max_neighbors=None``) and edge vectors.

    Parameters
    ----------
    cutoff : float, default=8.0
        Neighbour radius in Å.
    max_neighbors : int or None, default=12
        Keep at most this many nearest neighbours per atom (ties broken
        deterministically by neighbour index and image); ``None`` keeps all
        within ``cutoff``; ``0`` builds graphs without edges (enough for
        :class:`~skcrystal.models.CANNRegressor`).
    complete_shells : bool, default=True
        With ``max_neighbors``, keep every neighbour tied (within 1e-4 Å) with
        the last one kept, so a shell of equidistant neighbours is never cut
        and the graph does not depend on the site order or the origin (edge
        vectors included).  ``False`` keeps exactly ``max_neighbors``, as
        CGCNN does (which members of a cut shell survive then depends on the
        site order).
    gaussian_step : float, default=0.2
        Spacing of the Gaussian distance basis, centres ``0, step, …, cutoff``.
    gaussian_width : float or None, default=None
        Width of each Gaussian; ``None`` means ``gaussian_step``.
    edge_vectors : bool, default=True
        Append ``[d, dx, dy, dz] / cutoff`` (the faithful CGNN's edge
        features) to the Gaussian expansion.
    atom_features : str or tuple of str, default="faithful"
        ``"faithful"``: the 24-dim left-step periodic-table code;
        ``"cgcnn"``: a 91-dim CGCNN-style one-hot of binned element
        properties; ``"element"``: a 118-dim one-hot of the atomic number
        (after the model's first linear layer, a free embedding per
        element, as in Crystalformer); ``"both"``: ``("faithful",
        "cgcnn")``.  A tuple concatenates the named blocks in its order.
        The first two are additive codes (the embedding of an element is a
        sum over its properties), so unseen elements still get a sensible
        input; adding ``"element"`` lets the model tell apart elements
        whose codes are close.  On the perovskites the richer codes matter:
        see :doc:`/graphs`.
    global_features : {"faithful", "lattice", None}, default="faithful"
        ``"faithful"``: lattice sinusoids (18) ⊕ space-group one-hot (230,
        via spglib at ``symprec``); ``"lattice"``: the lattice sinusoids only;
        ``None``: no global vector.  The lattice code is that of the
        crystal's reduced primitive cell
        (:func:`~skcrystal.encodings.crystal.faithful_global_vector`), so a
        supercell gets the same ``g`` and a mean-pooling model the same
        prediction.
    symprec : float, default=0.1
        Symmetry tolerance (Å) for the space group and the primitive cell.
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``["graph"]``.
    n_features_out_ : int
        1.

    See Also
    --------
    skcrystal.models.CGNNRegressor, skcrystal.models.CANNRegressor

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> from skcrystal.featurizers import CrystalGraph
    >>> nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> g = CrystalGraph(cutoff=6.0, max_neighbors=None).fit_transform([nacl])[0, 0]
    >>> g.n_atoms, g.n_edges  # per atom: 8 neighbours at 4.88 Å, 6 own images at 5.64 Å
    (2, 28)
    """

    _output_kind = "object"
    # the graph's atoms, edges (distances, vectors in the standard orientation) and global vector;
    # ``frac`` holds absolute positions and is not translation invariant
    _invariances = ("rotation", "translation", "permutation", "integer_shift")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "cutoff": [Interval(Real, 0, None, closed="neither")],
        "max_neighbors": [Interval(Integral, 0, None, closed="left"), None],
        "complete_shells": ["boolean"],
        "gaussian_step": [Interval(Real, 0, None, closed="neither")],
        "gaussian_width": [Interval(Real, 0, None, closed="neither"), None],
        "edge_vectors": ["boolean"],
        "atom_features": ATOM_FEATURES_CONSTRAINT,
        "global_features": [StrOptions({"faithful", "lattice"}), None],
        "symprec": [Interval(Real, 0, None, closed="neither")],
    }
    _citations = (XIE2018_CGCNN, NOP2025_FAITHFUL)

    def __init__(
        self,
        cutoff=8.0,
        max_neighbors=12,
        complete_shells=True,
        gaussian_step=0.2,
        gaussian_width=None,
        edge_vectors=True,
        atom_features="faithful",
        global_features="faithful",
        symprec=0.1,
        n_jobs=None,
        verbose=0,
        on_error="raise",
        memory=None,
    ):
        self.cutoff = cutoff
        self.max_neighbors = max_neighbors
        self.complete_shells = complete_shells
        self.gaussian_step = gaussian_step
        self.gaussian_width = gaussian_width
        self.edge_vectors = edge_vectors
        self.atom_features = atom_features
        self.global_features = global_features
        self.symprec = symprec
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _feature_names(self):
        return ["graph"]

    def _atom_feature_parts(self):
        return atom_feature_parts(self.atom_features)

    def _atom_features(self, Z):
        return atom_feature_matrix(Z, self.atom_features)

    def _global(self, structure, lattice):
        if self.global_features is None:
            return np.zeros(0, dtype=np.float32)
        g = faithful_global_vector(structure, self.global_features == "faithful", self.symprec)
        return g.astype(np.float32)

    def _featurize_one(self, structure):
        lattice, frac, Z = structure_arrays(structure)
        frac = frac % 1.0
        ci, cj, img, d = periodic_neighbors(
            lattice, frac, float(self.cutoff), self.max_neighbors, complete_shells=bool(self.complete_shells)
        )
        canon = canonical_lattice_matrix(lattice)
        vec = (frac[cj] + img - frac[ci]) @ canon
        centers = gaussian_centers(0.0, float(self.cutoff), float(self.gaussian_step))
        width = float(self.gaussian_width if self.gaussian_width is not None else self.gaussian_step)
        return CrystalGraphData(
            atom_features=np.asarray(self._atom_features(Z), dtype=np.float32),
            frac=frac.astype(np.float32),
            atomic_numbers=Z,
            edge_index=np.stack([ci, cj]),
            edge_distance=d.astype(np.float32),
            edge_vector=vec.astype(np.float32),
            edge_image=img,
            global_features=self._global(structure, lattice),
            edge_basis=(tuple(np.round(centers, 10)), width, float(self.cutoff), bool(self.edge_vectors)),
        )
