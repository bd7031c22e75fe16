"""Shared fixtures: small frames of real structures (bundled data, no network)."""

import os

import numpy as np
import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def perovskites():
    from skcrystal.datasets import load_perovskites

    return load_perovskites(n_samples=60, random_state=1)


@pytest.fixture(scope="session")
def mp_frame():
    """Materials Project cells of 1–25 sites (mixed sizes and chemistries)."""
    from skcrystal.datasets import load_mp_formation_energy

    df = load_mp_formation_energy(n_samples=60, random_state=2)
    return df


@pytest.fixture(scope="session")
def small_frame(perovskites, mp_frame):
    """30 real structures (perovskites + MP cells) with a regression and a class target, index kept."""
    import pandas as pd

    a = perovskites.iloc[:15][["structure"]].assign(target=perovskites["heat_ref"].iloc[:15].to_numpy() / 5)
    b = mp_frame.iloc[:15][["structure"]].assign(target=mp_frame["formation_energy_per_atom"].iloc[:15].to_numpy())
    df = pd.concat([a, b])
    df.index = [f"m{i}" for i in range(len(df))]
    df["label"] = np.where(df["target"] > df["target"].median(), "high", "low")
    return df


def rotate(structure, seed=0):
    """A randomly rotated copy (Cartesian rotation of lattice and sites)."""
    from pymatgen.core import Lattice, Structure
    from scipy.spatial.transform import Rotation

    R = Rotation.random(random_state=seed).as_matrix()
    lat = Lattice(structure.lattice.matrix @ R.T)
    return Structure(lat, structure.species, structure.frac_coords, site_properties=structure.site_properties)


def translate(structure, shift=(0.13, 0.27, 0.41)):
    """A copy with every atom shifted by the same fractional vector."""
    s = structure.copy()
    s.translate_sites(list(range(len(s))), shift, frac_coords=True, to_unit_cell=True)
    return s


def permute(structure, seed=0):
    """A copy with the sites in a random order."""
    from pymatgen.core import Structure

    perm = np.random.RandomState(seed).permutation(len(structure))
    return Structure(structure.lattice, [structure.species[i] for i in perm], structure.frac_coords[perm])
