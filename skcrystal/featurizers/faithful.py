"""Faithful featurizers (Nop, Mundy, Smith & Paudyal, npj Comput. Mater. 2025).

Each class is a scikit-learn transformer from structures to a fixed-size
numeric matrix with readable column names:

* :class:`LeftStepComposition` — composition-weighted left-step atom codes;
* :class:`LatticeEncoding` — sinusoidal code of the (rotation-free) lattice;
* :class:`FractionalCoordinateEncoding` — per-site atom code and fractional-coordinate
  sinusoids, padded to a fixed number of slots;
* :class:`SpaceGroupEncoding` — space-group (230) or point-group (32) one-hot,
  or ordinal symmetry numbers for trees;
* :class:`ElectronCounts` — electron counts of the cell (the features that
  decide most splits of the topological GBT of Claussen et al. 2020);
* :class:`FaithfulBinned` — the fixed-size binned vector of the paper's NNN:
  ``g ⊕ b_1 ⊕ … ⊕ b_6`` with atoms grouped by element, most common first;
* :class:`FaithfulFeaturizer` — the global faithful vector (lattice ⊕ space
  group ⊕ electron counts ⊕ left-step composition), the default input of
  the GBT baseline when combined with composition features.

Invariances (tested): all are unchanged by rotating the crystal (the lattice
is encoded from a, b, c, α, β, γ) and by permuting sites.  All but
:class:`FaithfulBinned` are unchanged by translating atoms; the binned vector
encodes absolute fractional positions, as in the paper, so a rigid
translation changes it.  Per-atom quantities (compositions, ``*_per_atom``
counts, space group) are also unchanged by taking a supercell.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np

from .._citations import CLAUSSEN2020, NOP2025_FAITHFUL
from ..base import StructureFeaturizer
from ..utils._docstring import FEATURIZER_PARAMS, Substitution
from ..utils._param_validation import InvalidParameterError, Interval, SequenceOf, StrOptions
from ..encodings.atoms import ATOM_CODE_NAMES, ATOM_CODE_SIZE, atom_codes, predicted_configuration, valence_electrons
from ..encodings.crystal import (
    POINT_GROUPS,
    faithful_global_vector,
    frac_sinusoids,
    lattice_sinusoids,
    point_group_index,
    symmetry_info,
)

__all__ = [
    "ElectronCounts",
    "FaithfulBinned",
    "FaithfulFeaturizer",
    "FractionalCoordinateEncoding",
    "LatticeEncoding",
    "LeftStepComposition",
    "SpaceGroupEncoding",
]

# the names other modules import; the text lives in skcrystal/_citations.py
FAITHFUL_CITATION = NOP2025_FAITHFUL
CLAUSSEN_CITATION = CLAUSSEN2020
_CRYSTAL_SYSTEMS = ("triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic")
_CS_BOUNDS = (2, 15, 74, 142, 167, 194, 230)


def _atomic_numbers(structure):
    return np.array([site.specie.Z for site in structure], dtype=np.int64)


def _crystal_system_index(sg):
    return int(np.searchsorted(_CS_BOUNDS, sg))


@Substitution(**FEATURIZER_PARAMS)
class LeftStepComposition(StructureFeaturizer):
    """Composition-weighted faithful left-step atom code.

    For each of the 24 code entries (16 column pairs, 7 periods, the spin
    bit) the fraction of atoms of the cell having it; with ``stats`` also the
    minimum / maximum over the distinct elements.

    Parameters
    ----------
    stats : tuple of {"mean", "min", "max"}, default=("mean",)
        Statistics over atoms (mean, weighted by site counts) or distinct
        elements (min, max).
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        ``leftstep_<stat>_<pairK|periodK|spin>``.

    Examples
    --------
    >>> from skcrystal.datasets import load_perovskites
    >>> X = load_perovskites(n_samples=3)["structure"]
    >>> LeftStepComposition().fit_transform(X).shape
    (3, 24)
    """

    _citations = (FAITHFUL_CITATION,)
    _invariances = ("rotation", "translation", "permutation", "integer_shift", "supercell")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "stats": [SequenceOf(StrOptions({"mean", "min", "max"}), unique=True)],
    }

    def __init__(self, stats=("mean",), n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.stats = stats
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _featurize_one(self, structure):
        codes = atom_codes(_atomic_numbers(structure))
        out = []
        for stat in self.stats:
            out.append(getattr(codes, stat)(axis=0))
        return np.concatenate(out)

    def _feature_names(self):
        return [f"leftstep_{stat}_{n}" for stat in self.stats for n in ATOM_CODE_NAMES]


@Substitution(**FEATURIZER_PARAMS)
class LatticeEncoding(StructureFeaturizer):
    """Sinusoidal encoding of the unit cell, ``sin(2π·2^(i+1)·m/scale)``.

    The 9 components ``m`` are those of the lattice matrix rebuilt from
    (a, b, c, α, β, γ) in pymatgen's standard orientation, so rotating the
    crystal leaves the code unchanged.

    Parameters
    ----------
    n_frequencies : int, default=2
        Number of octaves (the paper uses 2).
    scale : float, default=10.0
        Length scale in Å.
    include_parameters : bool, default=False
        Also output the raw a, b, c (Å), α, β, γ (degrees) and the volume per atom.
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s
    """

    _citations = (FAITHFUL_CITATION,)
    _invariances = ("rotation", "translation", "permutation", "integer_shift")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "n_frequencies": [Interval(Integral, 1, None, closed="left")],
        "scale": [Interval(Real, 0, None, closed="neither")],
        "include_parameters": ["boolean"],
    }

    def __init__(self, n_frequencies=2, scale=10.0, include_parameters=False, n_jobs=None, verbose=0,
                 on_error="raise", memory=None):
        self.n_frequencies = n_frequencies
        self.scale = scale
        self.include_parameters = include_parameters
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _featurize_one(self, structure):
        parts = [lattice_sinusoids(structure.lattice, int(self.n_frequencies), float(self.scale))]
        if self.include_parameters:
            lat = structure.lattice
            parts.append(np.array([*lat.abc, *lat.angles, lat.volume / len(structure)]))
        return np.concatenate(parts)

    def _feature_names(self):
        names = [
            f"lattice_m{i}{j}_sin{2 ** (k + 1)}" for i in range(3) for j in range(3) for k in range(int(self.n_frequencies))
        ]
        if self.include_parameters:
            names += ["lattice_a", "lattice_b", "lattice_c", "lattice_alpha", "lattice_beta", "lattice_gamma",
                      "volume_per_atom"]
        return names


@Substitution(**FEATURIZER_PARAMS)
class SpaceGroupEncoding(StructureFeaturizer):
    """Space-group or point-group code of a structure (spglib through pymatgen).

    Parameters
    ----------
    kind : {"space_group", "point_group"}, default="space_group"
        230 space groups or 32 crystallographic point groups.
    encoding : {"onehot", "ordinal"}, default="onehot"
        ``"onehot"`` (the faithful global vector) or ``"ordinal"``: the
        space-group number, point-group index and crystal-system index as
        three numbers (compact input for trees).
    symprec : float, default=0.1
        Distance tolerance (Å) of the symmetry search.
    angle_tolerance : float, default=5.0
        Angle tolerance (degrees).
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s
    """

    _citations = (FAITHFUL_CITATION,)
    _invariances = ("rotation", "translation", "permutation", "integer_shift", "supercell")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "kind": [StrOptions({"space_group", "point_group"})],
        "encoding": [StrOptions({"onehot", "ordinal"})],
        "symprec": [Interval(Real, 0, None, closed="neither")],
        "angle_tolerance": [Interval(Real, 0, 180, closed="neither")],
    }

    def __init__(self, kind="space_group", encoding="onehot", symprec=0.1, angle_tolerance=5.0,
                 n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.kind = kind
        self.encoding = encoding
        self.symprec = symprec
        self.angle_tolerance = angle_tolerance
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _featurize_one(self, structure):
        sg, pg = symmetry_info(structure, self.symprec, self.angle_tolerance)
        if self.encoding == "ordinal":
            return np.array([sg, point_group_index(pg), _crystal_system_index(sg)], dtype=float)
        if self.kind == "space_group":
            v = np.zeros(230)
            v[sg - 1] = 1.0
        else:
            v = np.zeros(32)
            v[point_group_index(pg)] = 1.0
        return v

    def _feature_names(self):
        if self.encoding == "ordinal":
            return ["space_group_number", "point_group_index", "crystal_system_index"]
        if self.kind == "space_group":
            return [f"space_group_{i}" for i in range(1, 231)]
        return [f"point_group_{p}" for p in POINT_GROUPS]


def _warn_predicted_configurations(structures, who):
    """Warn (in the main process) when valence counts rest on predicted configurations (Z > 104)."""
    Z = sorted({sp.Z for s in structures for sp in s.composition if getattr(sp, "Z", 0) > 104})
    hit = [z for z in Z if predicted_configuration(z)]
    if hit:
        from pymatgen.core.periodic_table import Element

        names = ", ".join(Element.from_Z(z).symbol for z in hit)
        warnings.warn(
            f"{who}: the valence electrons of {names} use the Madelung-rule configuration (no measured ground "
            "state exists); see skcrystal.encodings.atoms.valence_electrons",
            UserWarning,
            stacklevel=4,
        )


@Substitution(**FEATURIZER_PARAMS)
class ElectronCounts(StructureFeaturizer):
    """Electron counts of the cell.

    Features: total electrons per cell and per atom, their parity (an odd
    count per cell forces a metal or a topological/Kramers state), valence
    s/p/d/f electrons per cell and per atom (the rule of
    :func:`skcrystal.encodings.atoms.valence_electrons`: electrons outside
    the noble-gas core, filled inner d/f subshells excluded), and the number
    of atoms.  Elements whose configuration is only predicted (Z > 104) are
    counted with the Madelung rule and reported with a warning.  With
    ``thermometer`` > 0 a thermometer code of the total count (the paper's
    encoding) is appended.

    Parameters
    ----------
    thermometer : int, default=0
        Length of the thermometer code of the electron count (0: none; the
        paper's code uses 11448, the largest known count).  A count that does
        not fit raises (``on_error`` applies).
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s
    """

    _citations = (FAITHFUL_CITATION, CLAUSSEN_CITATION)
    _invariances = ("rotation", "translation", "permutation", "integer_shift")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "thermometer": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(self, thermometer=0, n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.thermometer = thermometer
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _featurize_one(self, structure):
        Z = _atomic_numbers(structure)
        n = len(Z)
        total = float(Z.sum())
        val = valence_electrons(Z).sum(axis=0)
        nval = val.sum()
        base = [total, total / n, total % 2, nval, nval / n, *val, *(val / n), float(n)]
        if self.thermometer:
            if total > self.thermometer:
                raise ValueError(f"{int(total)} electrons do not fit a thermometer of length {self.thermometer}")
            code = np.zeros(int(self.thermometer))
            code[: int(total)] = 1.0
            return np.concatenate([base, code])
        return np.asarray(base, dtype=float)

    def _feature_names(self):
        names = [
            "electrons_cell", "electrons_per_atom", "electrons_parity", "valence_cell", "valence_per_atom",
            "valence_s_cell", "valence_p_cell", "valence_d_cell", "valence_f_cell",
            "valence_s_per_atom", "valence_p_per_atom", "valence_d_per_atom", "valence_f_per_atom", "n_atoms",
        ]
        return names + [f"electrons_ge_{i + 1}" for i in range(int(self.thermometer))]

    def _transform_structures(self, structures, labels):
        _warn_predicted_configurations(structures, type(self).__name__)
        return super()._transform_structures(structures, labels)


@Substitution(**FEATURIZER_PARAMS)
class FaithfulFeaturizer(StructureFeaturizer):
    """The global faithful vector: lattice ⊕ symmetry ⊕ electron counts ⊕ left-step composition.

    Parameters
    ----------
    lattice : bool, default=True
        Include :class:`LatticeEncoding` (with raw cell parameters).
    symmetry : {"onehot", "ordinal", None}, default="onehot"
        Include :class:`SpaceGroupEncoding` with that encoding.
    electrons : bool, default=True
        Include :class:`ElectronCounts`.
    composition : bool, default=True
        Include :class:`LeftStepComposition` (mean, min, max).
    symprec : float, default=0.1
        Symmetry tolerance (Å).
    n_frequencies : int, default=2
        Octaves of the lattice encoding.
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from skcrystal.featurizers import FaithfulFeaturizer
    >>> from skcrystal.models import GBTRegressor
    >>> model = make_pipeline(FaithfulFeaturizer(), GBTRegressor(n_estimators=50))
    """

    _citations = (FAITHFUL_CITATION, CLAUSSEN_CITATION)
    _invariances = ("rotation", "translation", "permutation", "integer_shift")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "lattice": ["boolean"],
        "symmetry": [StrOptions({"onehot", "ordinal"}), None],
        "electrons": ["boolean"],
        "composition": ["boolean"],
        "symprec": [Interval(Real, 0, None, closed="neither")],
        "n_frequencies": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, lattice=True, symmetry="onehot", electrons=True, composition=True, symprec=0.1,
                 n_frequencies=2, n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.lattice = lattice
        self.symmetry = symmetry
        self.electrons = electrons
        self.composition = composition
        self.symprec = symprec
        self.n_frequencies = n_frequencies
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _parts(self):
        parts = []
        if self.lattice:
            parts.append(LatticeEncoding(n_frequencies=self.n_frequencies, include_parameters=True))
        if self.symmetry is not None:
            parts.append(SpaceGroupEncoding(encoding=self.symmetry, symprec=self.symprec))
        if self.electrons:
            parts.append(ElectronCounts())
        if self.composition:
            parts.append(LeftStepComposition(stats=("mean", "min", "max")))
        return parts

    def _check_params(self):
        super()._check_params()
        if not self._parts():
            raise InvalidParameterError(
                "FaithfulFeaturizer: at least one component must be enabled (lattice, symmetry, electrons, "
                "composition are all off)"
            )

    def _featurize_one(self, structure):
        return np.concatenate([p._featurize_one(structure) for p in self._parts()])

    def _transform_structures(self, structures, labels):
        if self.electrons:
            _warn_predicted_configurations(structures, type(self).__name__)
        return super()._transform_structures(structures, labels)

    def _feature_names(self):
        return [n for p in self._parts() for n in p._feature_names()]


@Substitution(**FEATURIZER_PARAMS)
class FaithfulBinned(StructureFeaturizer):
    """The fixed-size binned vector of the faithful paper's naive neural network (NNN).

    Atoms are grouped by element, most common first (ties: lower Z first),
    into bins of capacity ``bins``.  Bin *i* holds the element's 24-dim
    left-step code, an occupancy thermometer of length ``n_i`` and, for each
    of its ``n_i`` slots, the fractional-coordinate sinusoids of one atom
    (``3 × n_frequencies`` numbers; empty slots are zero).  Atoms inside a
    bin are sorted by their wrapped fractional coordinates so the vector
    does not depend on site order.  The global vector
    ``g = lattice code ⊕ space-group one-hot`` comes first
    (:func:`skcrystal.encodings.crystal.faithful_global_vector`: the lattice
    code is that of the reduced primitive cell).

    A structure with more distinct elements than bins, or more atoms of an
    element than its bin holds, does not fit: it raises (with
    ``on_error="nan"`` it gives a NaN row, which the NNN predicts with the
    training median/most-frequent class, as in the paper).

    Parameters
    ----------
    bins : tuple of int, default=(40, 24, 16, 12, 8, 6)
        Bin capacities, most common element first.
    n_frequencies : int, default=5
        Octaves of the fractional-coordinate sinusoids.
    lattice_frequencies : int, default=2
        Octaves of the lattice code.
    symprec : float, default=0.1
        Symmetry tolerance of the space-group one-hot.
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s
    """

    _citations = (FAITHFUL_CITATION,)
    _invariances = ("rotation", "permutation", "integer_shift")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "bins": [SequenceOf(Interval(Integral, 1, None, closed="left"))],
        "n_frequencies": [Interval(Integral, 1, None, closed="left")],
        "lattice_frequencies": [Interval(Integral, 1, None, closed="left")],
        "symprec": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, bins=(40, 24, 16, 12, 8, 6), n_frequencies=5, lattice_frequencies=2, symprec=0.1,
                 n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.bins = bins
        self.n_frequencies = n_frequencies
        self.lattice_frequencies = lattice_frequencies
        self.symprec = symprec
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _featurize_one(self, structure):
        Z = _atomic_numbers(structure)
        els, counts = np.unique(Z, return_counts=True)
        order = np.lexsort((els, -counts))
        els, counts = els[order], counts[order]
        bins = [int(b) for b in self.bins]
        if len(els) > len(bins):
            raise ValueError(f"{len(els)} distinct elements do not fit {len(bins)} bins (bins={tuple(bins)})")
        for k, (e, c) in enumerate(zip(els, counts)):
            if c > bins[k]:
                raise ValueError(
                    f"{c} atoms of Z={e} do not fit bin {k} of capacity {bins[k]}; use a primitive cell "
                    "or larger bins"
                )
        parts = [faithful_global_vector(structure, True, self.symprec, int(self.lattice_frequencies))]
        frac = np.mod(structure.frac_coords, 1.0)
        frac[np.isclose(frac, 1.0, atol=1e-8)] = 0.0
        nf = 3 * int(self.n_frequencies)
        for k, cap in enumerate(bins):
            code = np.zeros(ATOM_CODE_SIZE)
            occ = np.zeros(cap)
            pos = np.zeros((cap, nf))
            if k < len(els):
                code = atom_codes([els[k]])[0].astype(float)
                f = frac[Z == els[k]]
                f = f[np.lexsort(np.round(f, 6).T[::-1])]
                occ[: len(f)] = 1.0
                pos[: len(f)] = frac_sinusoids(f, int(self.n_frequencies))
            parts += [code, occ, pos.reshape(-1)]
        return np.concatenate(parts)

    def _feature_names(self):
        names = [f"lattice_m{i}{j}_sin{2 ** (k + 1)}" for i in range(3) for j in range(3)
                 for k in range(int(self.lattice_frequencies))]
        names += [f"space_group_{i}" for i in range(1, 231)]
        axes = [f"{ax}_sin{2 ** (k + 1)}" for ax in "xyz" for k in range(int(self.n_frequencies))]
        for b, cap in enumerate(self.bins):
            names += [f"bin{b}_{n}" for n in ATOM_CODE_NAMES]
            names += [f"bin{b}_occupied{j}" for j in range(int(cap))]
            names += [f"bin{b}_atom{j}_{a}" for j in range(int(cap)) for a in axes]
        return names


@Substitution(**FEATURIZER_PARAMS)
class FractionalCoordinateEncoding(StructureFeaturizer):
    """Per-site faithful code padded to a fixed number of slots.

    Each slot holds an occupancy flag, the site's 24-dim left-step atom code
    and the sinusoids ``sin(2π·2^(i+1)·x)``, i = 0..n−1, of its fractional
    coordinates (unchanged by lattice translations ``x → x + 1``).  Sites are
    sorted by atomic number, then by wrapped fractional coordinates, so the
    vector does not depend on site order or on rotating the crystal; it does
    change under a rigid translation of all atoms (absolute positions are
    encoded, as in the paper).

    Parameters
    ----------
    max_sites : int, default=40
        Number of slots; a larger cell raises (``on_error`` applies).
    n_frequencies : int, default=5
        Octaves of the sinusoids (the paper: 5).
    %(n_jobs)s
    %(verbose)s
    %(on_error)s
    %(memory)s
    """

    _citations = (FAITHFUL_CITATION,)
    _invariances = ("rotation", "permutation", "integer_shift")
    _parameter_constraints = {
        **StructureFeaturizer._parameter_constraints,
        "max_sites": [Interval(Integral, 1, None, closed="left")],
        "n_frequencies": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, max_sites=40, n_frequencies=5, n_jobs=None, verbose=0, on_error="raise", memory=None):
        self.max_sites = max_sites
        self.n_frequencies = n_frequencies
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.on_error = on_error
        self.memory = memory

    def _featurize_one(self, structure):
        n_slots, nf = int(self.max_sites), int(self.n_frequencies)
        if len(structure) > n_slots:
            raise ValueError(f"{len(structure)} sites do not fit max_sites={n_slots}")
        Z = _atomic_numbers(structure)
        frac = np.mod(structure.frac_coords, 1.0)
        frac[np.isclose(frac, 1.0, atol=1e-8)] = 0.0
        r = np.round(frac, 6)
        order = np.lexsort((r[:, 2], r[:, 1], r[:, 0], Z))
        width = 1 + ATOM_CODE_SIZE + 3 * nf
        out = np.zeros((n_slots, width))
        out[: len(Z), 0] = 1.0
        out[: len(Z), 1 : 1 + ATOM_CODE_SIZE] = atom_codes(Z[order])
        out[: len(Z), 1 + ATOM_CODE_SIZE :] = frac_sinusoids(frac[order], nf)
        return out.reshape(-1)

    def _feature_names(self):
        axes = [f"{ax}_sin{2 ** (k + 1)}" for ax in "xyz" for k in range(int(self.n_frequencies))]
        per = ["occupied", *ATOM_CODE_NAMES, *axes]
        return [f"site{j}_{p}" for j in range(int(self.max_sites)) for p in per]
