"""Bundled datasets load offline, with the documented columns, sizes and units."""

import numpy as np
import pytest
from pymatgen.core import Structure

from skcrystal import datasets


@pytest.mark.parametrize(
    "loader, n, cols",
    [
        (datasets.load_perovskites, 7572, ["heat_ref", "heat_all", "dir_gap", "ind_gap"]),
        (datasets.load_mp_formation_energy, 3938, ["formation_energy_per_atom", "e_above_hull"]),
        (datasets.load_mp_elastic, 1181, ["K_VRH", "G_VRH", "log10_K_VRH", "log10_G_VRH"]),
        (datasets.load_mp_dielectric, 1056, ["n", "band_gap", "space_group"]),
    ],
)
def test_loaders(loader, n, cols):
    df = loader()
    assert len(df) == n and df.index.is_unique
    assert all(isinstance(s, Structure) for s in df["structure"].iloc[:50])
    for c in cols:
        assert c in df.columns
    assert df.attrs["citation"]
    sub = loader(n_samples=10, random_state=3)
    assert len(sub) == 10 and sub.index.isin(df.index).all()
    # callers get their own structure objects
    sub["structure"].iloc[0].perturb(0.1)
    assert loader(n_samples=10, random_state=3)["structure"].iloc[0] != sub["structure"].iloc[0]
    with pytest.raises(ValueError, match="n_samples"):
        loader(n_samples=0)


def test_elastic_logs():
    df = datasets.load_mp_elastic()
    ok = df["G_VRH"] > 0
    np.testing.assert_allclose(df.loc[ok, "log10_G_VRH"], np.log10(df.loc[ok, "G_VRH"]))


def test_mofs_and_symmetry_labels():
    mofs = datasets.load_mofs()
    assert len(mofs) == 11 and (mofs["nsites"] > 50).all()
    df = datasets.add_symmetry_labels(datasets.load_mp_dielectric(n_samples=5, random_state=0))
    assert df["space_group"].between(1, 230).all()
    assert set(df["crystal_system"]) <= {"triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal",
                                         "hexagonal", "cubic"}
    # the bundled space-group column agrees with spglib at the default tolerance for most entries
    assert (df["space_group"] == datasets.load_mp_dielectric(n_samples=5, random_state=0)["space_group"]).mean() >= 0.6


def test_load_core_mof_offline_cached_and_validated(tmp_path, monkeypatch):
    import pickle

    monkeypatch.setenv("SKCRYSTAL_CACHE", str(tmp_path))
    datasets._core_mof_site_counts.cache_clear()
    df = datasets.load_core_mof(max_atoms=40, n_samples=6, random_state=0)
    assert len(df) == 6 and df.index.is_unique and df.index.name == "filename"
    assert (df["nsites"] <= 40).all() and all(isinstance(s, Structure) for s in df["structure"])
    assert (df["nsites"] == [len(s) for s in df["structure"]]).all()
    for col in ("LCD", "PLD", "AV_VF", "ASA_m2_g", "density"):
        assert np.isfinite(df[col]).all(), col
    assert (df["PLD"] <= df["LCD"] + 1e-6).all() and df["AV_VF"].between(0, 1).all()
    assert "Chung" in df.attrs["citation"]
    # the site counts and every parsed structure are cached on disk
    cache = tmp_path / "core_mof" / "2019-ASR"
    assert (cache / "site_counts.json").exists()
    assert {p.stem for p in (cache / "structures").glob("*.pkl")} == set(df.index)
    again = datasets.load_core_mof(max_atoms=40, n_samples=6, random_state=0)
    assert list(again.index) == list(df.index)
    assert again["structure"].iloc[0] == df["structure"].iloc[0]
    assert list(datasets.load_core_mof(max_atoms=40, n_samples=6, random_state=1).index) != list(df.index)
    # a framework that fails validation is dropped with a warning counting it
    bad = df.index[2]
    s = df["structure"].iloc[2]
    rec = {"lattice": s.lattice.matrix, "species": [sp.symbol for sp in s.species] + [s.species[0].symbol],
           "frac": np.vstack([s.frac_coords, s.frac_coords[:1] + 1e-3])}
    (cache / "structures" / f"{bad}.pkl").write_bytes(pickle.dumps(rec))
    with pytest.warns(UserWarning, match=r"dropped 1 of 6 .*overlap"):
        dropped = datasets.load_core_mof(max_atoms=40, n_samples=6, random_state=0)
    assert bad not in dropped.index and len(dropped) == 5
    with pytest.raises(ValueError, match="subset"):
        datasets.load_core_mof("2020")
    with pytest.raises(ValueError, match="n_samples"):
        datasets.load_core_mof(max_atoms=40, n_samples=10**6)
    with pytest.raises(ValueError, match="max_atoms"):
        datasets.load_core_mof(max_atoms=0)
