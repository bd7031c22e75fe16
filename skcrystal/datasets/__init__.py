"""Bundled, offline datasets of real DFT crystal structures.

Every loader returns a :class:`pandas.DataFrame` whose ``structure`` column
holds :class:`pymatgen.core.Structure` objects and whose other columns hold
targets, ready for ``cross_val_score(model, df["structure"], df[target])``.
The files ship inside the package (they are public DFT data in matminer's
``to_json(orient="split")`` format), so nothing is downloaded.

========================== ===== ============================================= ==========================
loader                     rows  targets (units)                               source
========================== ===== ============================================= ==========================
:func:`load_perovskites`   7572  ``heat_ref`` (eV per cell, matbench target),  Castelli et al. 2012
                                 ``heat_all``, ``dir_gap``, ``ind_gap`` (eV)    (40 % sample)
:func:`load_mp_formation_  3938  ``formation_energy_per_atom``,                Faber et al. 2015 /
energy`                          ``e_above_hull`` (eV/atom)                    Materials Project
:func:`load_mp_elastic`    1181  ``K_VRH``, ``G_VRH`` (GPa), ``log10_K_VRH``,   de Jong et al. 2015
                                 ``log10_G_VRH``, ``elastic_anisotropy``,
                                 ``poisson_ratio``
:func:`load_mp_dielectric` 1056  ``n`` (refractive index), ``band_gap`` (eV),  Petousis et al. 2017
                                 ``e_total``, ``e_electronic``, ``space_group``
:func:`load_mofs`          11    none (large porous cells for PIH/graphs)      CoRE-MOF-style CIFs
:func:`load_core_mof`      12020 Zeo++ pore geometry: ``LCD``, ``PLD`` (Å),    CoRE MOF 2019 (Chung et
                                 ``AV_VF``, ``ASA_m2_g``, ``density``…         al. 2019), ``core-mof``
========================== ===== ============================================= ==========================
"""

from __future__ import annotations

import contextlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure

__all__ = [
    "DATA_DIR",
    "add_symmetry_labels",
    "list_datasets",
    "load_core_mof",
    "load_mofs",
    "load_mp_dielectric",
    "load_mp_elastic",
    "load_mp_formation_energy",
    "load_perovskites",
    "make_polymorphs",
]

DATA_DIR = Path(__file__).resolve().parent / "data"

_CITATIONS = {
    "castelli_perovskites": "Castelli, I. E. et al. New cubic perovskites for one- and two-photon water splitting "
    "using the computational materials repository. Energy Environ. Sci. 5, 9034 (2012).",
    "mp_formation_energy": "Faber, F., Lindmaa, A., von Lilienfeld, O. A. & Armiento, R. Crystal structure "
    "representations for machine learning models of formation energies. Int. J. Quantum Chem. 115, 1094 (2015).",
    "mp_elastic": "de Jong, M. et al. Charting the complete elastic properties of inorganic crystalline "
    "compounds. Sci. Data 2, 150009 (2015).",
    "mp_dielectric": "Petousis, I. et al. High-throughput screening of inorganic compounds for the discovery "
    "of novel dielectric and optical materials. Sci. Data 4, 160134 (2017).",
}


@lru_cache(maxsize=None)
def _read(name):
    df = pd.read_json(DATA_DIR / f"{name}.json.gz", orient="split")
    df["structure"] = [Structure.from_dict(d) for d in df["structure"]]
    return df


def _load(name, n_samples, random_state):
    df = _read(name)
    if n_samples is not None:
        if not 0 < n_samples <= len(df):
            raise ValueError(f"n_samples must be in 1..{len(df)}, got {n_samples}")
        df = df.sample(n=n_samples, random_state=random_state).sort_index()
    df = df.copy()
    # structures are mutable: give the caller their own objects
    df["structure"] = [s.copy() for s in df["structure"]]
    df.attrs["citation"] = _CITATIONS.get(name, "")
    return df


def load_perovskites(n_samples=None, random_state=0):
    """Castelli cubic perovskites (5-atom ABX3 cells, 56 elements).

    Parameters
    ----------
    n_samples : int or None, default=None
        Return a random subset of this many rows (original order kept).
    random_state : int, default=0
        Seed of that subset.

    Returns
    -------
    DataFrame
        Columns ``material_id``, ``structure``, ``formula``, ``heat_ref``
        (heat of formation of the cell in eV, the matbench_perovskites
        target), ``heat_all``, ``dir_gap``, ``ind_gap`` (eV).
    """
    return _load("castelli_perovskites", n_samples, random_state)


def load_mp_formation_energy(n_samples=None, random_state=0):
    """Load Materials Project formation energies (1–25 sites, 85 elements).

    Parameters
    ----------
    n_samples : int or None, default=None
    random_state : int, default=0

    Returns
    -------
    DataFrame
        ``material_id``, ``structure``, ``formation_energy_per_atom`` and
        ``e_above_hull`` (eV/atom), ``nsites``.
    """
    return _load("mp_formation_energy", n_samples, random_state)


def load_mp_elastic(n_samples=None, random_state=0):
    """Load Materials Project elastic moduli.

    Parameters
    ----------
    n_samples : int or None, default=None
    random_state : int, default=0

    Returns
    -------
    DataFrame
        ``K_VRH``, ``G_VRH`` (GPa), their base-10 logarithms ``log10_K_VRH``
        and ``log10_G_VRH`` (the matbench targets; NaN where the modulus is
        not positive), ``elastic_anisotropy``, ``poisson_ratio``, ``nsites``.
    """
    df = _load("mp_elastic", n_samples, random_state)
    for col in ("K_VRH", "G_VRH"):
        v = df[col].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            df[f"log10_{col}"] = np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
    return df


def load_mp_dielectric(n_samples=None, random_state=0):
    """Load Materials Project dielectric constants and refractive indices.

    Parameters
    ----------
    n_samples : int or None, default=None
    random_state : int, default=0

    Returns
    -------
    DataFrame
        ``n`` (refractive index, the matbench_dielectric target),
        ``band_gap`` (eV), ``e_total``, ``e_electronic``, ``space_group``,
        ``nsites``.
    """
    return _load("mp_dielectric", n_samples, random_state)


def load_mofs():
    """Eleven metal–organic frameworks (hundreds of atoms per cell) from CIF.

    Returns
    -------
    DataFrame
        Index = CIF name; columns ``structure``, ``formula``, ``nsites``.
    """
    import warnings

    rows = {}
    for path in sorted((DATA_DIR / "mof_cifs").glob("*.cif")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            s = Structure.from_file(path)
        rows[path.stem] = {"structure": s, "formula": s.composition.reduced_formula, "nsites": len(s)}
    return pd.DataFrame.from_dict(rows, orient="index")


def add_symmetry_labels(df, column="structure", symprec=0.1, n_jobs=None):
    """Add ``space_group``, ``point_group`` and ``crystal_system`` columns (spglib).

    The classification targets of the faithful paper's symmetry benchmark,
    derived with :class:`pymatgen.symmetry.analyzer.SpacegroupAnalyzer`.

    Parameters
    ----------
    df : DataFrame
    column : str, default="structure"
    symprec : float, default=0.1
    n_jobs : int or None, default=None

    Returns
    -------
    DataFrame
        A copy of ``df`` with the three new columns.
    """
    from sklearn.utils.parallel import Parallel, delayed

    from ..encodings.crystal import symmetry_info

    def crystal_system(n):
        for hi, name in ((2, "triclinic"), (15, "monoclinic"), (74, "orthorhombic"), (142, "tetragonal"),
                         (167, "trigonal"), (194, "hexagonal"), (230, "cubic")):
            if n <= hi:
                return name

    info = Parallel(n_jobs=n_jobs)(delayed(symmetry_info)(s, symprec) for s in df[column])
    out = df.copy()
    out["space_group"] = [i[0] for i in info]
    out["point_group"] = [i[1] for i in info]
    out["crystal_system"] = [crystal_system(i[0]) for i in info]
    return out


# --------------------------------------------------------------------------- CoRE MOF 2019
#: Zeo++ columns of the CoRE MOF tables kept by :func:`load_core_mof` (``cm3_g`` is renamed ``density``).
_CORE_MOF_COLUMNS = (
    "LCD", "PLD", "LFPD", "density", "ASA_m2_cm3", "ASA_m2_g", "NASA_m2_cm3", "NASA_m2_g",
    "AV_VF", "AV_cm3_g", "NAV_cm3_g", "All_Metals", "Has_OMS", "Open_Metal_Sites",
)
_CITATIONS["core_mof"] = (
    "Chung, Y. G. et al. Advances, updates, and analytics for the computation-ready, experimental "
    "metal-organic framework database: CoRE MOF 2019. J. Chem. Eng. Data 64, 5985 (2019)."
)


def _cache_dir(*parts):
    """skcrystal's on-disk cache: ``$SKCRYSTAL_CACHE`` or ``$XDG_CACHE_HOME/skcrystal`` (``~/.cache``)."""
    import os

    root = os.environ.get("SKCRYSTAL_CACHE")
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "skcrystal")
    path = Path(root).joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path


def _atomic_write(path, data):
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _core_mof_archive(subset):
    import CoRE_MOF
    from importlib import resources

    if subset not in CoRE_MOF.list_datasets():
        raise ValueError(f"subset must be one of {CoRE_MOF.list_datasets()}, got {subset!r}")
    return resources.files(CoRE_MOF.data) / f"{subset}.tar.xz"


def _iter_cifs(subset, wanted=None):
    """Yield ``(name, cif_text)`` for the CIFs of one CoRE MOF archive (one sequential pass)."""
    import tarfile

    with tarfile.open(_core_mof_archive(subset), "r") as tar:
        for member in tar:
            if not (member.isfile() and member.size > 0 and member.name.endswith(".cif")):
                continue
            name = member.name.rsplit("/", 1)[-1][:-4]
            if name.startswith(".") or (wanted is not None and name not in wanted):
                continue
            yield name, tar.extractfile(member).read().decode("utf-8", errors="replace")


def _cif_site_count(text):
    """Number of sites of a P1 CIF from its atom-site loop (None if it has other symmetry operations)."""
    lines = text.splitlines()
    n_sites = n_ops = 0
    i = 0
    while i < len(lines):
        if lines[i].strip() != "loop_":
            i += 1
            continue
        j = i + 1
        keys = []
        while j < len(lines) and lines[j].strip().startswith("_"):
            keys.append(lines[j].split()[0])
            j += 1
        rows = 0
        while j < len(lines):
            s = lines[j].strip()
            if not s or s == "loop_" or s.startswith(("_", "data_")):
                break
            rows += not s.startswith("#")
            j += 1
        if any(k.startswith("_atom_site_fract") for k in keys):
            n_sites += rows
        if any(k in ("_symmetry_equiv_pos_as_xyz", "_space_group_symop_operation_xyz") for k in keys):
            n_ops += rows
        i = j
    return n_sites if n_ops <= 1 else None


def _parse_cif(text):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Structure.from_str(text, fmt="cif")


@lru_cache(maxsize=None)
def _core_mof_site_counts(subset):
    """``{entry: number of sites}`` for a whole CoRE MOF archive, cached on disk after the first scan."""
    import json

    cache = _cache_dir("core_mof", subset)
    path = cache / "site_counts.json" if cache is not None else None
    if path is not None and path.exists():
        with contextlib.suppress(OSError, ValueError):
            return json.loads(path.read_text())
    counts = {}
    for name, text in _iter_cifs(subset):
        n = _cif_site_count(text)
        if n is None:  # a CIF with symmetry operations: let pymatgen expand it
            try:
                n = len(_parse_cif(text))
            except Exception:  # noqa: BLE001 - unreadable entries are reported by load_core_mof
                n = -1
        counts[name] = int(n)
    if path is not None:
        with contextlib.suppress(OSError):
            _atomic_write(path, json.dumps(counts).encode())
    return counts


def _structure_record(s):
    """A version-independent record of a parsed structure (plain numpy and str)."""
    if s.is_ordered:
        return {"lattice": np.asarray(s.lattice.matrix), "species": [sp.symbol for sp in s.species],
                "frac": np.asarray(s.frac_coords)}
    return {"dict": s.as_dict()}


def _structure_from_record(rec):
    if "dict" in rec:
        return Structure.from_dict(rec["dict"])
    return Structure(rec["lattice"], rec["species"], rec["frac"])


def _core_mof_structures(subset, names):
    """Parsed structures (or the parse error as a string) for ``names``, cached per entry on disk."""
    import pickle

    cache = _cache_dir("core_mof", subset, "structures")
    out, missing = {}, []
    for name in names:
        path = cache / f"{name}.pkl" if cache is not None else None
        if path is not None and path.exists():
            try:
                with open(path, "rb") as f:
                    rec = pickle.load(f)
                out[name] = rec if isinstance(rec, str) else _structure_from_record(rec)
                continue
            except Exception:  # noqa: BLE001 - a stale or partial cache entry is parsed again
                pass
        missing.append(name)
    if missing:
        for name, text in _iter_cifs(subset, wanted=set(missing)):
            try:
                s = _parse_cif(text)
                rec = _structure_record(s)
                out[name] = s
            except Exception as exc:  # noqa: BLE001 - reported by load_core_mof
                rec = f"cannot read the CIF: {type(exc).__name__}: {exc}"
                out[name] = rec
            if cache is not None:
                with contextlib.suppress(OSError):
                    _atomic_write(cache / f"{name}.pkl", pickle.dumps(rec, protocol=4))
    return out


def load_core_mof(subset="2019-ASR", max_atoms=None, n_samples=None, random_state=0):
    """Metal–organic frameworks of CoRE MOF 2019 with their Zeo++ pore geometry (offline).

    The computation-ready experimental MOF database (Chung et al. 2019) as
    shipped by the ``core-mof`` package (MIT licence): one CIF per framework
    and the geometric properties computed with Zeo++.  The archive is read in
    one sequential pass and only the selected CIFs are parsed; the site count
    of every entry (for ``max_atoms``) and each parsed structure are cached on
    disk (``$SKCRYSTAL_CACHE``, default ``~/.cache/skcrystal``), so later calls
    load 1000 MOFs in seconds.

    Rows whose structure cannot be read or fails
    :func:`~skcrystal.utils.validation.check_structures` (overlapping atoms,
    partial occupancies, unknown species) are dropped with a warning that
    counts them and names the first few.

    Parameters
    ----------
    subset : {"2019-ASR", "2019-FSR", "2014"}, default="2019-ASR"
        ``"2019-ASR"``: all solvent removed (12 020 MOFs); ``"2019-FSR"``:
        free solvent removed (7061); ``"2014"``: the 2014 release (4764,
        structures only, no properties).
    max_atoms : int or None, default=None
        Keep only frameworks with at most this many sites per cell (applied
        before sampling).
    n_samples : int or None, default=None
        Draw a seeded random subset of this many frameworks (after
        ``max_atoms``; the table's order is kept).  Rows that then fail
        validation are dropped, so the frame may be a little shorter.
    random_state : int, default=0
        Seed of that subset.

    Returns
    -------
    DataFrame
        Index = CoRE MOF entry name (``filename``); columns ``structure``,
        ``formula``, ``nsites`` and, for the 2019 subsets, the Zeo++
        geometry: ``LCD`` (largest cavity diameter, Å), ``PLD`` (pore
        limiting diameter, Å), ``LFPD`` (largest free sphere along the free
        path, Å), ``density`` (g/cm³; ``cm3_g`` in the package's table),
        ``ASA_m2_cm3`` and ``ASA_m2_g`` (accessible surface area,
        volumetric and gravimetric), ``NASA_m2_cm3``, ``NASA_m2_g``
        (non-accessible surface area), ``AV_VF`` (accessible void
        fraction), ``AV_cm3_g``, ``NAV_cm3_g`` (accessible and non-accessible
        pore volume), ``All_Metals``, ``Has_OMS``, ``Open_Metal_Sites``.

    Examples
    --------
    >>> from skcrystal.datasets import load_core_mof
    >>> df = load_core_mof(max_atoms=300, n_samples=1000)  # doctest: +SKIP
    >>> df[["LCD", "PLD", "AV_VF", "ASA_m2_g"]].describe()  # doctest: +SKIP
    """
    import numbers
    import warnings

    import CoRE_MOF

    from ..utils.validation import StructureValidationError, check_structures

    _core_mof_archive(subset)  # validates the name
    if max_atoms is not None and (not isinstance(max_atoms, numbers.Integral) or max_atoms < 1):
        raise ValueError(f"max_atoms must be None or a positive integer, got {max_atoms!r}")
    props = CoRE_MOF.get_properties(subset).rename(columns={"cm3_g": "density"})
    props = props.drop_duplicates("filename").set_index("filename")
    props = props[[c for c in _CORE_MOF_COLUMNS if c in props.columns]]
    counts = _core_mof_site_counts(subset)
    names = [n for n in props.index if n in counts and counts[n] != 0]
    if max_atoms is not None:
        names = [n for n in names if 0 < counts[n] <= max_atoms]
    if n_samples is not None:
        if not isinstance(n_samples, numbers.Integral) or not 0 < n_samples <= len(names):
            raise ValueError(f"n_samples must be in 1..{len(names)} (frameworks available), got {n_samples!r}")
        rng = np.random.RandomState(random_state)
        names = [names[i] for i in np.sort(rng.choice(len(names), n_samples, replace=False))]
    parsed = _core_mof_structures(subset, names)
    rows, failed = [], []
    for name in names:
        s = parsed.get(name, "missing from the archive")
        if not isinstance(s, str):
            try:
                check_structures([s])
            except StructureValidationError as exc:
                s = str(exc).split(": ", 1)[-1]
        if isinstance(s, str):
            failed.append((name, s))
            continue
        rows.append(name)
    if failed:
        shown = "; ".join(f"{n}: {msg}" for n, msg in failed[:3])
        warnings.warn(
            f"load_core_mof: dropped {len(failed)} of {len(names)} frameworks that fail validation "
            f"({shown}{' …' if len(failed) > 3 else ''})",
            UserWarning,
            stacklevel=2,
        )
    df = props.loc[rows].copy()
    df.index.name = "filename"
    df.insert(0, "structure", [parsed[n] for n in rows])
    df.insert(1, "formula", [parsed[n].composition.reduced_formula for n in rows])
    df.insert(2, "nsites", [len(parsed[n]) for n in rows])
    df.attrs["citation"] = _CITATIONS["core_mof"]
    return df


#: What :func:`list_datasets` reports (rows of the shipped files; checked against the loaders by the tests).
_CATALOGUE = (
    ("perovskites", "load_perovskites", 7572, "heat_ref, heat_all, dir_gap, ind_gap", "eV (heat_ref per cell)",
     "Castelli et al. 2012 (matbench_perovskites target heat_ref)"),
    ("mp_formation_energy", "load_mp_formation_energy", 3938, "formation_energy_per_atom, e_above_hull",
     "eV/atom", "Materials Project (Faber et al. 2015)"),
    ("mp_elastic", "load_mp_elastic", 1181, "K_VRH, G_VRH, log10_K_VRH, log10_G_VRH, elastic_anisotropy, "
     "poisson_ratio", "GPa, log10(GPa)", "Materials Project (de Jong et al. 2015)"),
    ("mp_dielectric", "load_mp_dielectric", 1056, "n, band_gap, e_total, e_electronic, space_group",
     "refractive index; eV", "Materials Project (Petousis et al. 2017)"),
    ("mofs", "load_mofs", 11, "(none: structures only)", "", "CoRE-MOF-style CIFs"),
    ("core_mof", "load_core_mof", 12020, "LCD, PLD, LFPD, density, ASA_m2_g, AV_VF, ... (Zeo++ geometry)",
     "Å, m²/g, g/cm³", "CoRE MOF 2019-ASR (Chung et al. 2019), from the core-mof package; parsed on first use"),
)


def list_datasets():
    """The bundled frames: name, loader, rows, target columns, units and source.

    Returns
    -------
    DataFrame
        One row per bundled frame, indexed by its short name (what the
        ``skcrystal`` command line accepts in place of an input file).

    Examples
    --------
    >>> from skcrystal.datasets import list_datasets
    >>> int(list_datasets().loc["perovskites", "rows"])
    7572
    """
    cols = ["loader", "rows", "targets", "units", "source"]
    return pd.DataFrame([row[1:] for row in _CATALOGUE], index=[row[0] for row in _CATALOGUE], columns=cols)


def _morse_energy_per_atom(structure, depth, width, r0, cutoff):
    """Energy per atom of a Morse pair potential, shifted to zero at ``cutoff``."""
    from ..geometry import periodic_neighbors

    _, _, _, d = periodic_neighbors(structure.lattice.matrix, structure.frac_coords % 1.0, cutoff)

    def morse(r):
        e = np.exp(-width * (np.asarray(r, dtype=np.float64) - r0))
        return depth * (e * e - 2.0 * e)

    return float(0.5 * np.sum(morse(d) - morse(cutoff)) / len(structure))


@lru_cache(maxsize=None)
def _single_element_cells(element):
    out = []
    for name in ("mp_formation_energy", "mp_elastic"):
        for s in _read(name)["structure"]:
            if len(s.composition) == 1 and s.composition.elements[0].symbol == element:
                out.append(s.copy())
    return tuple(out)


def make_polymorphs(element="C", n_samples=200, strain=0.03, rattle=0.03, random_state=0):
    """A single-element frame: strained and rattled copies of the element's real cells, with a toy energy.

    The parent cells are every bundled Materials Project cell made of
    ``element`` alone (8 carbon polymorphs in the formation-energy frame, 5
    more in the elastic frame: graphite, diamond, lonsdaleite, ...).  Each
    row draws a parent, applies a random symmetric strain (components
    uniform in ``±strain``) and moves every atom by a Gaussian ``rattle``
    (Å).  The target ``energy_per_atom`` (eV) is a Morse pair potential
    (depth 1 eV, width 2 Å⁻¹, minimum at the parent's shortest bond,
    smoothly zero at 2.2 × that bond): a smooth, structure-dependent toy
    energy, not DFT.  Such a frame has one atom type only, which is what
    makes it a stress test for models (every atom code is the same).

    Parameters
    ----------
    element : str, default="C"
        Element symbol; it must have at least one single-element cell in
        the bundled frames.
    n_samples : int, default=200
        Number of rows.
    strain : float, default=0.03
        Largest strain component.
    rattle : float, default=0.03
        Standard deviation of the atomic displacements (Å).
    random_state : int, default=0
        Seed.

    Returns
    -------
    DataFrame
        Columns ``structure``, ``energy_per_atom`` and ``parent`` (the index
        of the parent cell).

    Examples
    --------
    >>> from skcrystal.datasets import make_polymorphs
    >>> df = make_polymorphs("C", n_samples=5)
    >>> sorted(df.columns), {s.composition.reduced_formula for s in df["structure"]}
    (['energy_per_atom', 'parent', 'structure'], {'C'})
    """
    parents = _single_element_cells(str(element))
    if not parents:
        raise ValueError(f"no bundled single-element cell of {element!r}")
    rng = np.random.RandomState(random_state)
    rows = []
    for _ in range(int(n_samples)):
        k = int(rng.randint(len(parents)))
        s = parents[k].copy()
        eps = rng.uniform(-strain, strain, size=(3, 3))
        eps = (eps + eps.T) / 2
        s.apply_strain(eps)  # pymatgen: lattice -> lattice (1 + eps)
        s = Structure(s.lattice, s.species, s.cart_coords + rng.normal(0.0, rattle, size=(len(s), 3)),
                      coords_are_cartesian=True)
        dist = parents[k].distance_matrix
        bond = float(dist[dist > 1e-6].min()) if len(parents[k]) > 1 else min(parents[k].lattice.abc)
        rows.append((s, _morse_energy_per_atom(s, 1.0, 2.0, bond, 2.2 * bond), k))
    return pd.DataFrame(rows, columns=["structure", "energy_per_atom", "parent"])
