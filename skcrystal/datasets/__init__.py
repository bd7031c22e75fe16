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
========================== ===== ============================================= ==========================
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure

__all__ = [
    "DATA_DIR",
    "add_symmetry_labels",
    "list_datasets",
    "load_mofs",
    "load_mp_dielectric",
    "load_mp_elastic",
    "load_mp_formation_energy",
    "load_perovskites",
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
    """Materials Project formation energies (1–25 sites, 85 elements).

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
    """Materials Project elastic moduli.

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
    """Materials Project dielectric constants and refractive indices.

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
    >>> list_datasets().loc["perovskites", "rows"]
    7572
    """
    cols = ["loader", "rows", "targets", "units", "source"]
    return pd.DataFrame([row[1:] for row in _CATALOGUE], index=[row[0] for row in _CATALOGUE], columns=cols)
