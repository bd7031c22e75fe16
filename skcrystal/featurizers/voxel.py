"""Voxel images of crystal cells: the input of the crystal convolutional network (CCNN).

The unit cell, in fractional coordinates, is mapped onto an ``N × N × N`` grid
(voxel ``(i, j, k)`` covers ``[i/N, (i+1)/N) × …``, its centre at
``(i + ½)/N``).  Every atom is drawn with trilinear anti-aliasing into the
eight voxels around it: with ``u = x·N − ½`` its position in voxel units and
``Δ = u − ⌊u⌋``, the voxel at ``⌊u⌋ + o`` (``o ∈ {0, 1}³``) receives the weight
``∏_d (1 − |u_d − (⌊u_d⌋ + o_d)|)``; the eight weights of one atom sum to 1.
Channel 0 holds the summed weights (an occupancy/overlap channel); channels
``1..d`` hold the weights times the atom's embedding (by default the faithful
24-dim left-step atom code of Nop et al. 2025), so the grid of a cell sums to
the number of atoms in channel 0 and to the summed atom codes in the others.

With ``periodic=True`` (default) the corners that fall outside the cell wrap
around (index modulo ``N``), which is the same as drawing all 27 neighbouring
images of the atom and keeping the part inside the cell, as the paper's code
does.  Translating a crystal by a lattice vector, or permuting its sites,
leaves the grid unchanged; shifting every fractional coordinate by ``1/N``
rolls it by one voxel.

Two atoms whose eight-voxel neighbourhoods overlap (*collisions*) have their
contributions summed — never dropped — and :class:`Voxelizer` warns with the
number of affected structures and voxels (:class:`VoxelCollisionWarning`).

Everything is plain numpy and vectorised over atoms (one ``np.add.at`` per
structure on the flat corner indices); grids are float32.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._citations import NOP2025_FAITHFUL
from ..base import StructureFeaturizer
from ..utils._docstring import FEATURIZER_PARAMS, Substitution
from ..encodings.atoms import ATOM_CODE_NAMES, MAX_Z, atom_codes
from ..encodings.crystal import faithful_global_vector
from ..utils._param_validation import InvalidParameterError, Interval, StrOptions
from ..utils.validation import structure_arrays

__all__ = ["Voxelizer", "VoxelRecord", "VoxelCollisionWarning", "voxelize"]

_OFFSETS = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=np.int64)  # (8, 3)


class VoxelCollisionWarning(UserWarning):
    """Atoms of one structure share voxels; their contributions were summed."""


def _corners(frac, grid, periodic):
    """Flat voxel indices (n_atoms, 8) and trilinear weights (n_atoms, 8) of each atom.

    With ``periodic=False`` corners outside the grid get index -1 (weight kept
    so the caller can drop it).
    """
    u = np.asarray(frac, dtype=np.float64) * grid - 0.5
    base = np.floor(u)
    d = u - base  # in [0, 1)
    base = base.astype(np.int64)
    idx = base[:, None, :] + _OFFSETS[None, :, :]  # (n, 8, 3)
    w_axis = np.where(_OFFSETS[None, :, :] == 1, d[:, None, :], 1.0 - d[:, None, :])  # (n, 8, 3)
    w = np.prod(w_axis, axis=2)  # (n, 8), rows sum to 1
    if periodic:
        idx %= grid
        flat = (idx[..., 0] * grid + idx[..., 1]) * grid + idx[..., 2]
    else:
        inside = np.all((idx >= 0) & (idx < grid), axis=2)
        flat = np.where(inside, (idx[..., 0] * grid + idx[..., 1]) * grid + idx[..., 2], -1)
    return flat, w


def _count_collisions(flat, w, tol=1e-9):
    """Number of voxels that receive (non-zero) weight from two or more atoms."""
    touched = flat[(w > tol) & (flat >= 0)]
    if touched.size == 0:
        return 0
    # each atom touches distinct voxels (grid >= 2), so a repeated index means two atoms
    _, counts = np.unique(touched, return_counts=True)
    return int(np.count_nonzero(counts > 1))


def voxelize(frac, values, grid, periodic=True, dtype=np.float32, out=None):
    """Draw atoms with trilinear anti-aliasing into a ``(C, N, N, N)`` grid.

    Parameters
    ----------
    frac : array of shape (n_atoms, 3)
        Fractional coordinates (any real values; they are taken modulo 1 when
        ``periodic``).
    values : array of shape (n_atoms, C)
        Per-atom channel values (column 0 is usually 1: occupancy).
    grid : int
        Voxels per cell axis, ``N >= 2``.
    periodic : bool, default=True
        Wrap corners across the cell faces.  ``False`` drops the part of an
        atom's weight that falls outside the cell.
    dtype : numpy dtype, default=float32
    out : ndarray of shape (C·N³,), optional
        Zero-filled, contiguous buffer to draw into (added to, not cleared);
        lets a caller fill a row of a preallocated matrix without a copy.

    Returns
    -------
    grid : ndarray of shape (C, N, N, N)
        Channel ``c`` sums to ``values[:, c].sum()`` when ``periodic``.
    """
    values = np.asarray(values)
    n_ch = values.shape[1]
    n3 = grid**3
    flat, w = _corners(frac, grid, periodic)
    if out is None:
        out = np.zeros(n_ch * n3, dtype=dtype)
    elif out.shape != (n_ch * n3,):
        raise ValueError(f"out must have shape ({n_ch * n3},), got {out.shape}")
    # only the non-zero channel values are written (atom codes are sparse):
    # every (atom, channel) pair spreads over the atom's 8 corners
    a_idx, ch = np.nonzero(values)
    if len(a_idx):
        target = ch[:, None] * n3 + flat[a_idx]  # (P, 8)
        contrib = w[a_idx] * values[a_idx, ch][:, None]
        keep = (flat[a_idx] >= 0) & (contrib != 0)
        np.add.at(out, target[keep], contrib[keep].astype(out.dtype))
    return out.reshape(n_ch, grid, grid, grid)


class VoxelRecord:
    """A structure ready to voxelize on demand (``Voxelizer(output="lazy")``).

    Holds only the fractional coordinates, the per-atom channel values and
    the global vector (a few hundred bytes per atom instead of ``C·N³``
    floats), so a dataset of any size fits in memory; :meth:`dense` draws the
    grid when a batch needs it.

    Parameters
    ----------
    frac : ndarray of shape (n_atoms, 3), float64
    values : ndarray of shape (n_atoms, C), float32
    grid : int
    periodic : bool
    globals_ : ndarray of shape (G,), float32
    """

    __slots__ = ("frac", "values", "grid", "periodic", "globals_")

    def __init__(self, frac, values, grid, periodic, globals_):
        self.frac = frac
        self.values = values
        self.grid = grid
        self.periodic = periodic
        self.globals_ = globals_

    @property
    def n_channels(self):
        """Number of voxel channels ``C``."""
        return self.values.shape[1]

    @property
    def shape(self):
        """Shape ``(C, N, N, N)`` of the dense grid."""
        return (self.n_channels, self.grid, self.grid, self.grid)

    def dense(self):
        """Draw the voxel grid.

        Returns
        -------
        ndarray of float32, shape (C, N, N, N)
            The grid.
        """
        return voxelize(self.frac, self.values, self.grid, self.periodic)

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__}

    def __setstate__(self, state):
        for k, v in state.items():
            setattr(self, k, v)

    def __repr__(self):
        return f"VoxelRecord(n_atoms={len(self.frac)}, shape={self.shape}, n_globals={len(self.globals_)})"


@Substitution(**FEATURIZER_PARAMS)
class Voxelizer(StructureFeaturizer):
    """Voxel image of each crystal cell, for the CCNN or any scikit-learn model.

    Each atom is drawn with trilinear anti-aliasing (weights ``∏(1 − |Δ|)``
    over the 8 surrounding voxels, summing to 1) on an ``grid³`` image of the
    unit cell in fractional coordinates.  Channel 0 is the occupancy (summed
    weights), channels ``1..d`` the weights times the atom embedding.  Atoms
    that share voxels are summed and reported with a
    :class:`VoxelCollisionWarning`; no structure is ever skipped.

    Parameters
    ----------
    grid : int, default=32
        Voxels per cell axis ``N`` (the paper's public code uses 42).  The
        dense image of one structure holds ``C·N³`` float32 numbers
        (N=32 with the faithful code: 25·32³·4 B = 3.3 MB).
    embedding : "faithful", None, callable or array-like, default="faithful"
        Per-atom channels after the occupancy channel.  ``"faithful"``: the
        24-dim left-step atom code (:func:`skcrystal.encodings.atoms.atom_codes`);
        ``None``: occupancy only; a callable mapping an int array of atomic
        numbers to an ``(n_atoms, d)`` array; or an array of shape
        ``(119, d)`` indexed by atomic number (row 0 unused).
    periodic : bool, default=True
        Wrap atoms across the cell faces (all periodic images drawn).  With
        ``False`` the weight falling outside the cell is dropped.
    global_features : {"lattice", "faithful"}, None or callable, default="lattice"
        Global vector ``g`` per structure: ``"lattice"`` — the 18 faithful
        lattice sinusoids of the reduced primitive cell
        (:func:`~skcrystal.encodings.crystal.faithful_global_vector`);
        ``"faithful"`` — those plus the space-group
        one-hot (230, spglib at symprec 0.1; do not use it to *predict* the
        space group); a callable ``structure -> 1-D array``; ``None`` — no
        global vector.
    output : {"dense", "lazy", "flat"}, default="dense"
        ``"dense"``: an object array of shape (n, 2) — column 0 the
        ``(C, N, N, N)`` float32 grid, column 1 the float32 global vector —
        for :class:`~skcrystal.models.CCNNRegressor`.  ``"lazy"``: the same
        two columns but column 0 holds a :class:`VoxelRecord` drawn when a
        batch needs it (memory bounded for large datasets).  ``"flat"``: a
        float32 matrix of shape (n, C·N³ + G) for any scikit-learn model.
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s

    Attributes
    ----------
    n_channels_ : int
        Voxel channels ``C`` (1 + embedding width).
    n_globals_ : int
        Length ``G`` of the global vector.
    channel_names_ : ndarray of str
        Names of the ``C`` channels.
    feature_names_out_ : ndarray of str
        ``["voxels", "globals"]`` for dense/lazy output, one name per column
        for flat output.
    n_features_out_ : int

    Notes
    -----
    Memory: a dense or flat output of ``n`` structures takes ``n·C·N³·4`` bytes
    — 10 000 structures at N=32 with the faithful code (C=25) are 33 GB.  Use
    ``output="lazy"`` (what the CCNN models use when given structures) to
    keep memory at one batch of grids, or a smaller ``grid``/``embedding``.
    Results are not kept in the shared feature cache for the same reason.

    The grid is defined in fractional coordinates, so it depends on the
    choice of cell (the same crystal in another setting gives another image);
    use primitive or conventional cells consistently.

    References
    ----------
    .. [1] Nop, G., Mundy, M., Smith, J. D. H. & Paudyal, D. "Faithful novel
       machine learning for predicting quantum properties", npj Comput.
       Mater. 11, 227 (2025) — the CCNN.

    Examples
    --------
    >>> from pymatgen.core import Lattice, Structure
    >>> from skcrystal.featurizers import Voxelizer
    >>> s = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    >>> Xt = Voxelizer(grid=8).fit_transform([s])
    >>> Xt.shape, Xt[0, 0].shape, float(Xt[0, 0][0].sum())
    ((1, 2), (25, 8, 8, 8), 2.0)
    """

    _cacheable = False  # dense grids are large; the cache would hold C·N³ floats per structure
    _invariances = ("rotation", "permutation", "integer_shift")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "grid": [Interval(Integral, 2, None, closed="left")],
        "embedding": [StrOptions({"faithful"}), None, callable, "array-like"],
        "periodic": ["boolean"],
        "global_features": [StrOptions({"lattice", "faithful"}), None, callable],
        "output": [StrOptions({"dense", "lazy", "flat"})],
    }
    _citations = (NOP2025_FAITHFUL,)

    def __init__(
        self,
        grid=32,
        embedding="faithful",
        periodic=True,
        global_features="lattice",
        output="dense",
        n_jobs=None,
        verbose=0,
        on_error="raise",
        memory=None,
    ):
        self.grid = grid
        self.embedding = embedding
        self.periodic = periodic
        self.global_features = global_features
        self.output = output
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    # ----------------------------------------------------------- parameters
    def _check_params(self):
        super()._check_params()
        emb = self.embedding
        if emb is not None and not isinstance(emb, str) and not callable(emb):
            arr = np.asarray(emb)
            if arr.ndim != 2 or arr.shape[0] < MAX_Z + 1 or not np.issubdtype(arr.dtype, np.number):
                raise InvalidParameterError(
                    f"Voxelizer: an 'embedding' array must be numeric of shape ({MAX_Z + 1}, d) indexed by atomic "
                    f"number (row 0 unused), got shape {arr.shape}"
                )
            if not np.all(np.isfinite(arr[1:])):
                raise InvalidParameterError("Voxelizer: the 'embedding' array holds NaN/inf")

    def _embed(self, Z):
        emb = self.embedding
        if emb is None:
            return np.zeros((len(Z), 0), dtype=np.float32)
        if isinstance(emb, str):
            return atom_codes(Z)
        if callable(emb):
            out = np.asarray(emb(np.asarray(Z)), dtype=np.float32)
            if out.ndim == 1:
                out = out[:, None]
            if out.ndim != 2 or out.shape[0] != len(Z):
                raise ValueError(
                    f"the embedding callable returned shape {out.shape} for {len(Z)} atoms; "
                    "expected (n_atoms, d)"
                )
            if not np.all(np.isfinite(out)):
                raise ValueError("the embedding callable returned NaN/inf")
            return out
        return np.asarray(emb, dtype=np.float32)[np.asarray(Z)]

    def _globals(self, structure):
        gf = self.global_features
        if gf is None:
            return np.zeros(0, dtype=np.float32)
        if callable(gf):
            g = np.asarray(gf(structure), dtype=np.float32).reshape(-1)
            if not np.all(np.isfinite(g)):
                raise ValueError("global_features returned NaN/inf")
            return g
        return faithful_global_vector(structure, gf == "faithful").astype(np.float32)

    # -------------------------------------------------------------- fitting
    def _fit(self, structures):
        s0 = structures[0]
        _, _, Z = structure_arrays(s0)
        d = self._embed(Z[:1]).shape[1]
        self.n_channels_ = 1 + d
        self.n_globals_ = int(len(self._globals(s0)))
        if isinstance(self.embedding, str):
            names = ["occupancy", *ATOM_CODE_NAMES]
        else:
            names = ["occupancy", *[f"emb{i}" for i in range(d)]]
        self.channel_names_ = np.asarray(names, dtype=object)

    def _cache_state(self):
        return (getattr(self, "n_channels_", None), getattr(self, "n_globals_", None))

    def _feature_names(self):
        if self.output in ("dense", "lazy"):
            return ["voxels", "globals"]
        N = self.grid
        ijk = [f"{i}_{j}_{k}" for i in range(N) for j in range(N) for k in range(N)]
        names = [f"{c}_{v}" for c in self.channel_names_ for v in ijk]
        names += [f"global{i}" for i in range(self.n_globals_)]
        return names

    @property
    def _output_kind(self):
        return "numeric" if getattr(self, "output", "dense") == "flat" else "object"

    # --------------------------------------------------------- featurizing
    def _featurize_one(self, structure):
        _, frac, Z = structure_arrays(structure)
        codes = self._embed(Z)
        if codes.shape[1] != self.n_channels_ - 1:
            raise ValueError(
                f"the embedding gives {codes.shape[1]} channels here but {self.n_channels_ - 1} at fit"
            )
        values = np.empty((len(Z), self.n_channels_), dtype=np.float32)
        values[:, 0] = 1.0
        values[:, 1:] = codes
        g = self._globals(structure)
        if len(g) != self.n_globals_:
            raise ValueError(f"global_features gives {len(g)} numbers here but {self.n_globals_} at fit")
        if self.periodic:
            frac = frac - np.floor(frac)
        flat, w = _corners(frac, self.grid, self.periodic)
        n_coll = _count_collisions(flat, w)
        if self.output == "dense":
            return voxelize(frac, values, self.grid, self.periodic), g, n_coll
        # lazy, and flat (drawn straight into its row of the output in _assemble)
        return VoxelRecord(frac, values, int(self.grid), bool(self.periodic), g), n_coll

    def _assemble(self, results):
        n = len(results)
        n_coll = np.zeros(n, dtype=np.int64)
        if self.output == "flat":
            n_vox = self.n_channels_ * self.grid**3
            # zeros() maps untouched pages lazily; each record is drawn into its own row,
            # so the peak is the output matrix plus one structure's corner arrays
            out = np.zeros((n, n_vox + self.n_globals_), dtype=np.float32)
            for i, r in enumerate(results):
                if r is None:
                    out[i] = np.nan
                    continue
                rec, n_coll[i] = r
                voxelize(rec.frac, rec.values, rec.grid, rec.periodic, out=out[i, :n_vox])
                out[i, n_vox:] = rec.globals_
                results[i] = None
        else:
            out = np.empty((n, 2), dtype=object)
            for i, r in enumerate(results):
                if r is None:
                    out[i, 0] = out[i, 1] = None
                elif self.output == "lazy":
                    out[i, 0], n_coll[i] = r
                    out[i, 1] = r[0].globals_
                else:
                    out[i, 0], out[i, 1], n_coll[i] = r
        hit = np.flatnonzero(n_coll)
        if len(hit):
            warnings.warn(
                f"Voxelizer(grid={self.grid}): in {len(hit)} of {n} structures atoms share voxels "
                f"({int(n_coll.sum())} shared voxels in total, e.g. rows {hit[:5].tolist()}); their "
                "contributions were summed. A larger grid separates them.",
                VoxelCollisionWarning,
                stacklevel=5,
            )
        return out

    def transform(self, X):
        """Voxelize structures.

        Parameters
        ----------
        X : DataFrame with a ``structure`` column, Series, or list of structures

        Returns
        -------
        X_new : ndarray
            ``output="flat"``: float32 of shape (n, C·N³ + G).
            ``output="dense"``/``"lazy"``: object array of shape (n, 2) holding
            the grid (or :class:`VoxelRecord`) and the global vector.
        """
        check_is_fitted(self, "n_channels_")
        return super().transform(X)
