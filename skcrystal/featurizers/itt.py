"""The token builder of the Interaction Topological Transformer (ITT).

:class:`ITTTokenizer` turns each structure into the four token streams of
:class:`skcrystal.nn.itt.ITT` (an :class:`ITTTokens` object per structure):
the structure, cluster and interaction tokens of
:class:`~skcrystal.featurizers.PersistentInteractionHomology` (``output=
"tokens"``) and the crystal graph of the atom stream
(:class:`~skcrystal.featurizers.CrystalGraph`) with ITT's deduplication of
atoms by their 3-shell neighbour signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp

from ..base import StructureFeaturizer
from ..geometry import periodic_neighbors
from ..utils._param_validation import HasMethods, Interval, StrOptions
from ..utils.validation import structure_arrays
from .graph import CrystalGraph, CrystalGraphData
from .pih import PersistentInteractionHomology

__all__ = ["ITTTokenizer", "ITTTokens", "atom_signatures", "standard_lattice", "ITT_CITATION"]

ITT_CITATION = (
    "D. Chen, J. Jiang, Y. Du, G.-W. Wei et al., Interaction Topological Transformer for Multiscale Learning "
    "in Porous Materials, arXiv:2509.18573 (2025); code: https://github.com/WeilabMSU/ITTransformer."
)


@dataclass
class ITTTokens:
    """The ITT token streams of one structure (numpy only; cheap to pickle and cache).

    Attributes
    ----------
    structure : ndarray of shape (1, d_structure)
        Persistent homology of the whole structure (Betti counts, uint16).
    clusters : ndarray of shape (n_clusters, d_cluster)
        Persistent homology of each element cluster.
    interactions : ndarray of shape (n_pairs, d_interaction)
        Persistent interaction homology of each ordered cluster pair.
    graph : CrystalGraphData
        The crystal graph of the atom stream.
    atom_group : ndarray of int64, shape (n_atoms,)
        Atom token of each site (atoms with one 3-shell signature share a
        token); ``-1`` for sites beyond the ``max_atoms`` cap.
    group_fraction : ndarray of float32, shape (n_groups,)
        Share of the cell's sites in each atom token.
    group_labels : tuple of str
        A name per atom token: element and index of its first site (``"Cu[3]"``).
    cluster_names, pair_names : tuple of str
        ``("C0", …)`` and ``("C0->C1", …)``, the labels of the topological tokens.
    """

    structure: np.ndarray
    clusters: np.ndarray
    interactions: np.ndarray
    graph: CrystalGraphData
    atom_group: np.ndarray
    group_fraction: np.ndarray
    group_labels: tuple = field(default=())
    cluster_names: tuple = field(default=())
    pair_names: tuple = field(default=())

    @property
    def n_groups(self):
        """Number of atom tokens."""
        return len(self.group_fraction)

    def invariant_view(self, decimals=4):
        """The tokens up to site order: what they guarantee under rotation, translation and permutation.

        The topological tokens as they are (they do not depend on site order),
        the crystal graph's :meth:`CrystalGraphData.invariant_view`, the atom
        tokens' shares, the element of each atom token (its label without the
        site index) and the membership as sorted ``(atom token, Z)`` rows.

        Parameters
        ----------
        decimals : int, default=4
            Rounding used by the graph's view for the ordering of its rows.

        Returns
        -------
        dict
            ``structure``, ``clusters``, ``interactions``, ``graph``,
            ``group_fraction``, ``group_elements``, ``membership``,
            ``cluster_names`` and ``pair_names``.
        """
        Z = np.asarray(self.graph.atomic_numbers, dtype=np.int64)
        rows = np.column_stack([np.asarray(self.atom_group, dtype=np.int64), Z])
        rows = rows[np.lexsort(rows.T[::-1])] if len(rows) else rows
        return {"structure": self.structure, "clusters": self.clusters, "interactions": self.interactions,
                "graph": self.graph.invariant_view(decimals), "group_fraction": self.group_fraction,
                "group_elements": tuple(label.split("[")[0] for label in self.group_labels),
                "membership": rows, "cluster_names": self.cluster_names, "pair_names": self.pair_names}

    def __repr__(self):
        return (
            f"ITTTokens(structure={self.structure.shape}, clusters={self.clusters.shape}, "
            f"interactions={self.interactions.shape}, atoms={self.graph.n_atoms}, atom_tokens={self.n_groups})"
        )


@lru_cache(maxsize=None)
def _radii():
    """Atomic radius by Z (pymatgen; covalent/calculated radius where it has none), Å."""
    import warnings

    from pymatgen.core.periodic_table import Element

    out = np.full(119, 1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for z in range(1, 119):
            el = Element.from_Z(z)
            for attr in ("atomic_radius", "atomic_radius_calculated"):
                r = getattr(el, attr, None)
                if r is not None and float(r) > 0:
                    out[z] = float(r)
                    break
    return out


def standard_lattice(lattice, decimals=9):
    """Return pymatgen's standard orientation of a lattice, rebuilt from its rounded parameters.

    ``Lattice.from_parameters`` of (a, b, c, α, β, γ) rounded to ``decimals``:
    a rotated copy of a lattice gives the same matrix bit for bit, and a
    lattice read from a CIF (built by pymatgen from the same parameters) is
    returned unchanged.

    Parameters
    ----------
    lattice : array of shape (3, 3)
    decimals : int, default=9

    Returns
    -------
    ndarray of shape (3, 3)
    """
    from pymatgen.core import Lattice

    lat = Lattice(np.asarray(lattice, dtype=np.float64))
    return Lattice.from_parameters(*np.round(lat.abc, decimals), *np.round(lat.angles, decimals)).matrix


def atom_signatures(lattice, frac, Z, bond_tolerance=1.3):
    """Compute ITT's 3-shell neighbour signature of every site.

    Two sites are bonded when ``d <= bond_tolerance * (r_i + r_j)`` (atomic
    radii, any periodic image; a site is never its own neighbour).  Shells
    are sets of site indices: N1 = bonded sites, N2 = sites bonded to N1 but
    not in N1 or the site itself, N3 likewise from N2.  The signature is
    ``(Z, |N1|, Σ Z² over N1, |N2|, Σ Z² over N2, |N3|, Σ Z² over N3)``.

    Parameters
    ----------
    lattice : array of shape (3, 3)
    frac : array of shape (n, 3)
    Z : array of int, shape (n,)
    bond_tolerance : float, default=1.3

    Returns
    -------
    ndarray of int64, shape (n, 7)
    """
    Z = np.asarray(Z, dtype=np.int64)
    n = len(Z)
    r = _radii()[Z]
    cutoff = bond_tolerance * 2.0 * float(r.max())
    ci, cj, _, d = periodic_neighbors(lattice, frac, cutoff)
    bonded = (d <= bond_tolerance * (r[ci] + r[cj])) & (ci != cj)
    A = sp.csr_matrix((np.ones(int(bonded.sum()), dtype=np.int8), (ci[bonded], cj[bonded])), shape=(n, n))
    A = ((A + A.T) > 0).astype(np.int32)
    eye = sp.identity(n, dtype=np.int32, format="csr")
    n1 = A
    seen = ((n1 + eye) > 0).astype(np.int32)
    n2 = ((n1 @ A) > 0).astype(np.int32)
    n2 = (n2 - n2.multiply(seen)).tocsr()
    seen = ((seen + n2) > 0).astype(np.int32)
    n3 = ((n2 @ A) > 0).astype(np.int32)
    n3 = (n3 - n3.multiply(seen)).tocsr()
    z2 = Z.astype(np.int64) ** 2
    cols = [Z]
    for shell in (n1, n2, n3):
        cols.append(np.asarray(shell.sum(axis=1)).ravel().astype(np.int64))
        cols.append(np.asarray(shell.astype(np.int64) @ z2).ravel())
    return np.stack(cols, axis=1)


def _atom_groups(sig, max_atoms):
    """Group sites by signature; groups ordered by (-size, signature); at most ``max_atoms`` groups."""
    keys, inverse, counts = np.unique(sig, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    order = np.lexsort(tuple(keys[:, k] for k in range(keys.shape[1] - 1, -1, -1)) + (-counts,))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    group = rank[inverse]
    n_groups = min(len(keys), int(max_atoms))
    group = np.where(group < n_groups, group, -1)
    sizes = counts[order][:n_groups]
    return group.astype(np.int64), sizes


class ITTTokenizer(StructureFeaturizer):
    """Build ITT's four token streams for each structure (one :class:`ITTTokens` per row).

    * structure, cluster and interaction tokens from
      :class:`PersistentInteractionHomology` with ``output="tokens"`` --
      ITT's exact reference features by default (64 Å supercells: seconds
      per structure), or its periodic mode for large frames of small cells;
    * the crystal graph of the atom stream (:class:`CrystalGraph`, ITT's
      CGCNN settings: 8 Å, 12 neighbours, Gaussian 0-8 Å step 0.2,
      CGCNN-style atom features), with the sites grouped by their 3-shell
      neighbour signature (:func:`atom_signatures`): each group becomes one
      atom token, at most ``max_atoms`` tokens (the largest groups first).

    The output is an ``(n_structures, 1)`` object array for
    :class:`~skcrystal.models.ITTRegressor` and friends; results are cached
    per structure (a grid search over the model does not recompute them).
    Standardisation of the tokens is learned by the models (it is part of
    the network, so it travels with a pretrained backbone).

    Parameters
    ----------
    mode : {"itt", "periodic"}, default="itt"
        Used when ``pih`` is None: ``"itt"`` is
        ``PersistentInteractionHomology(output="tokens")`` (the reference
        features, bit for bit); ``"periodic"`` is
        ``PersistentInteractionHomology(output="tokens", periodic=True,
        supercell_length=16.0)`` (exact periodic interactions, ~60x faster on
        small cells; not the reference features).
    pih : PersistentInteractionHomology or None, default=None
        Your own PIH settings (``output`` is forced to ``"tokens"``).
    graph : CrystalGraph or None, default=None
        Your own graph settings; None is ``CrystalGraph(cutoff=8.0,
        max_neighbors=12, atom_features="cgcnn", edge_vectors=False,
        global_features=None)``.
    max_atoms : int, default=256
        Most atom tokens per structure (ITT: 256).
    bond_tolerance : float, default=1.3
        Bonds for the signature: ``d <= bond_tolerance * (r_i + r_j)``.
    standard_orientation : bool, default=True
        Put every lattice into pymatgen's standard orientation first
        (:func:`standard_lattice`).  Alpha complexes of symmetric point
        clouds are degenerate (many co-spherical points), and which of the
        equally valid triangulations gudhi builds depends on the last bits
        of the coordinates: on the bundled perovskites a plain rotation
        changes dozens of Betti counts.  In the standard orientation a
        rotated crystal gives the same coordinates, hence the same tokens;
        a structure read from a CIF is already in it (the reference features
        are unchanged).
    n_jobs : int or None, default=None
        Joblib workers over structures.
    verbose : int, default=0
        Progress bar when > 0.
    on_error : {"raise", "nan"}, default="raise"
        ``"nan"`` gives ``None`` for a structure that fails (the models
        predict their fallback for it).
    memory : str, path, joblib.Memory or None, default=None
        On-disk cache of the tokens (see :class:`~skcrystal.base.StructureFeaturizer`):
        with ITT's exact features, set it so a frame is featurized once.

    Attributes
    ----------
    pih_ : PersistentInteractionHomology
        The fitted PIH featurizer.
    graph_ : CrystalGraph
        The fitted graph featurizer.
    feature_names_out_ : ndarray of str
        ``["itt_tokens"]``.

    Examples
    --------
    >>> import skcrystal
    >>> from skcrystal.featurizers import ITTTokenizer
    >>> mofs = skcrystal.datasets.load_mofs()
    >>> tok = ITTTokenizer().fit_transform(mofs["structure"].iloc[:1])[0, 0]  # doctest: +SKIP
    >>> tok.structure.shape, tok.clusters.shape, tok.interactions.shape  # doctest: +SKIP
    ((1, 750), (7, 750), (42, 500))
    """

    _output_kind = "object"
    _citations = (ITT_CITATION,)
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "mode": [StrOptions({"itt", "periodic"})],
        "pih": [HasMethods(["transform_diagrams"]), None],
        "graph": [HasMethods(["fit", "transform"]), None],
        "max_atoms": [Interval(Integral, 1, None, closed="left")],
        "bond_tolerance": [Interval(Real, 0, None, closed="neither")],
        "standard_orientation": ["boolean"],
    }
    #: Rotating the structure (with ``standard_orientation``) or reordering its sites leaves the tokens
    #: unchanged (the PIH supercell is a finite cloud whose boundary moves with the origin, so
    #: translations are not claimed).
    _invariances = ("rotation", "permutation")

    def __init__(self, mode="itt", pih=None, graph=None, max_atoms=256, bond_tolerance=1.3,
                 standard_orientation=True, n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.mode = mode
        self.pih = pih
        self.graph = graph
        self.max_atoms = max_atoms
        self.bond_tolerance = bond_tolerance
        self.standard_orientation = standard_orientation
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _make_pih(self):
        from sklearn.base import clone

        if self.pih is not None:
            return clone(self.pih).set_params(output="tokens", n_jobs=None, verbose=0, memory=None)
        if self.mode == "periodic":
            return PersistentInteractionHomology(output="tokens", periodic=True, supercell_length=16.0)
        return PersistentInteractionHomology(output="tokens")

    def _make_graph(self):
        from sklearn.base import clone

        if self.graph is not None:
            return clone(self.graph).set_params(n_jobs=None, verbose=0, memory=None)
        return CrystalGraph(cutoff=8.0, max_neighbors=12, atom_features="cgcnn", edge_vectors=False,
                            global_features=None)

    def _fit(self, structures):
        self.pih_ = self._make_pih()
        self.pih_._check_params()
        self.pih_._fit(structures)
        self.graph_ = self._make_graph()
        self.graph_._check_params()
        self.graph_._fit(structures)

    def _cache_state(self):
        # nested estimators: their full parameters (an estimator's repr may elide some)
        out = []
        for est in (self.pih_, self.graph_):
            out.append(tuple(sorted((k, repr(v)) for k, v in est.get_params(deep=False).items())))
        return tuple(out)

    def _feature_names(self):
        return ["itt_tokens"]

    def _featurize_one(self, structure):
        return self._tokens(structure)

    def _tokens(self, structure, pih_tokens=None):
        """Tokens of one structure; ``pih_tokens`` reuses PIH tokens computed before (same settings)."""
        lattice, frac, Z = structure_arrays(structure)
        if self.standard_orientation:
            canon = standard_lattice(lattice)
            if not np.array_equal(canon, lattice):
                from pymatgen.core import Lattice, Structure

                structure = Structure(Lattice(canon), structure.species, frac,
                                      site_properties=structure.site_properties)
                lattice = canon
        tok = self.pih_._featurize_one((lattice, frac, Z)) if pih_tokens is None else pih_tokens
        g = self.graph_._featurize_one(structure)
        sig = atom_signatures(lattice, frac % 1.0, Z, float(self.bond_tolerance))
        group, sizes = _atom_groups(sig, self.max_atoms)
        from pymatgen.core.periodic_table import Element

        labels = []
        for k in range(len(sizes)):
            first = int(np.flatnonzero(group == k)[0])
            labels.append(f"{Element.from_Z(int(Z[first])).symbol}[{first}]")
        return ITTTokens(
            structure=np.asarray(tok["structure"]),
            clusters=np.asarray(tok["clusters"]),
            interactions=np.asarray(tok["interactions"]),
            graph=g,
            atom_group=group,
            group_fraction=(sizes / len(Z)).astype(np.float32),
            group_labels=tuple(labels),
            cluster_names=tuple(self.pih_.cluster_names_),
            pair_names=tuple(self.pih_.pair_names_),
        )
