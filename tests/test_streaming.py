"""Streaming featurization to a store on disk: Parquet / pickle parts, resume without duplicates or gaps,
sources (generator, CIF folder, json.gz frames), and a model trained from the store (issue #15)."""

import os
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from skcrystal.base import clear_feature_cache
from skcrystal.featurizers import CrystalGraph, LatticeEncoding
from skcrystal.streaming import FeatureStore, featurize_to_store, iter_structures

pytest.importorskip("pyarrow", reason="numeric stores need pyarrow (pip install skcrystal[stream])")


@pytest.fixture(scope="module")
def frame(mp_frame):
    df = mp_frame.iloc[:23][["structure", "formation_energy_per_atom"]].copy()
    df.index = [f"mp{i}" for i in range(len(df))]
    return df


def _pairs(df, stop_at=None):
    for i, (key, s) in enumerate(df["structure"].items()):
        if i == stop_at:
            raise KeyboardInterrupt("simulated interruption")
        yield key, s


def _same_graphs(a, b):
    assert len(a) == len(b)
    for g, h in zip(a, b):
        for f in ("atom_features", "edge_index", "edge_distance", "edge_vector", "global_features"):
            np.testing.assert_array_equal(getattr(g, f), getattr(h, f))


def test_numeric_store_is_a_parquet_dataset_equal_to_transform(frame, tmp_path):
    store = featurize_to_store(LatticeEncoding(), _pairs(frame), tmp_path / "s", chunk_size=10)
    assert store.complete and store.kind == "numeric" and len(store) == 23 and store.n_parts == 3
    ref = LatticeEncoding().fit_transform(frame)
    df = pd.read_parquet(tmp_path / "s")  # any Parquet reader opens the folder
    assert list(df.index) == list(frame.index) and list(df.columns) == list(store.feature_names)
    np.testing.assert_array_equal(df.to_numpy(), ref)
    np.testing.assert_array_equal(store[12], ref[12])
    np.testing.assert_array_equal(np.vstack([X for _, X in store.iter_chunks()]), ref)


def test_object_store_resumes_after_interruption_without_duplicates_or_gaps(frame, tmp_path):
    path = tmp_path / "graphs"
    with pytest.raises(KeyboardInterrupt):
        featurize_to_store(CrystalGraph(cutoff=5.0), _pairs(frame, stop_at=13), path, chunk_size=5)
    part = FeatureStore(path)
    assert not part.complete and len(part) == 10 and list(part.keys) == list(frame.index[:10])
    (path / ".part-000002.pkl.999.tmp").write_bytes(b"half a part from a killed writer")
    store = featurize_to_store(CrystalGraph(cutoff=5.0), _pairs(frame), path, chunk_size=5)
    assert store.complete and list(store.keys) == list(frame.index)  # no duplicates, no gaps, in order
    assert not list(path.glob(".*.tmp"))
    clear_feature_cache()
    _same_graphs(list(store), CrystalGraph(cutoff=5.0).fit_transform(frame)[:, 0])
    # a complete store is returned as is; other settings or another source are refused
    assert len(featurize_to_store(CrystalGraph(cutoff=5.0), _pairs(frame), path)) == 23
    with pytest.raises(ValueError, match="cannot be continued"):
        featurize_to_store(CrystalGraph(cutoff=6.0), _pairs(frame), path)
    with pytest.raises(ValueError, match="resume=True"):
        featurize_to_store(CrystalGraph(cutoff=5.0), _pairs(frame), path, resume=False)


KILLED = r"""
import os, signal, sys
from skcrystal.datasets import load_mp_formation_energy
from skcrystal.featurizers import LatticeEncoding
from skcrystal.streaming import featurize_to_store
df = load_mp_formation_energy(n_samples=60, random_state=2).iloc[:23]
def source():
    for i, (key, s) in enumerate(df["structure"].items()):
        if i == 17:
            os.kill(os.getpid(), signal.SIGKILL)  # dies in the middle of the fourth chunk
        yield f"mp{i}", s
featurize_to_store(LatticeEncoding(), source(), sys.argv[1], chunk_size=5)
"""


def test_numeric_store_resumes_after_the_process_is_killed(frame, tmp_path):
    path = tmp_path / "killed"
    proc = subprocess.run([sys.executable, "-c", KILLED, str(path)], capture_output=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == -signal.SIGKILL
    assert len(FeatureStore(path)) == 15
    store = featurize_to_store(LatticeEncoding(), _pairs(frame), path, chunk_size=5)
    assert store.complete and list(store.keys) == list(frame.index)
    np.testing.assert_array_equal(store.to_pandas().to_numpy(), LatticeEncoding().fit_transform(frame))


def test_sources_cif_folder_and_json_frames(frame, tmp_path):
    folder = tmp_path / "cifs"
    folder.mkdir()
    for key, s in frame["structure"].iloc[:6].items():
        s.to(filename=str(folder / f"{key}.cif"))
    keys = [k for k, _ in iter_structures(folder)]
    assert keys == sorted(f"{k}.cif" for k in frame.index[:6])
    files = []
    for i, sl in enumerate([slice(0, 4), slice(4, 9)]):
        part = frame.iloc[sl].assign(structure=[s.as_dict() for s in frame["structure"].iloc[sl]])
        files.append(tmp_path / f"frame{i}.json.gz")
        part.to_json(files[-1], orient="split")
    store = featurize_to_store(LatticeEncoding(), files, tmp_path / "s", chunk_size=4)
    assert list(store.keys) == [f"frame0.json.gz:{k}" for k in frame.index[:4]] + \
        [f"frame1.json.gz:{k}" for k in frame.index[4:9]]
    np.testing.assert_allclose(store.to_pandas().to_numpy(), LatticeEncoding().fit_transform(frame.iloc[:9]),
                               rtol=1e-12)


def test_a_bad_structure_names_its_key_and_the_stored_parts_stay(frame, tmp_path):
    from pymatgen.core import Lattice, Structure

    bad = Structure(Lattice.cubic(4.0), ["Na", "Na"], [[0, 0, 0], [0.01, 0, 0]])  # overlapping atoms
    items = list(_pairs(frame))[:12]
    items.insert(7, ("broken", bad))
    with pytest.raises(ValueError, match="'broken'.*Parts 0-0 are stored"):
        featurize_to_store(LatticeEncoding(), items, tmp_path / "s", chunk_size=5)
    assert len(FeatureStore(tmp_path / "s")) == 5
    items[7] = ("broken", frame["structure"].iloc[0])  # fixed at the source: resume
    assert len(featurize_to_store(LatticeEncoding(), items, tmp_path / "s", chunk_size=5)) == 13


def test_cgnn_trains_from_a_store_as_from_graphs_in_memory(frame, tmp_path):
    from skcrystal.models import CGNNRegressor
    from skcrystal.nn.data import FeatureStoreDataset, collate_graphs

    store = featurize_to_store(CrystalGraph(cutoff=5.0), frame, tmp_path / "g", chunk_size=8)
    y = frame["formation_energy_per_atom"]
    kw = dict(max_epochs=2, batch_size=8, module__atom_fea_len=8, module__n_conv=1, module__h_fea_len=8,
              module__global_fea_len=8, random_state=0)
    from_store = CGNNRegressor(**kw).fit(store, y.loc[store.keys].to_numpy()).predict(store)
    clear_feature_cache()
    graphs = CrystalGraph(cutoff=5.0).fit_transform(frame)
    in_memory = CGNNRegressor(**kw).fit(graphs, y.to_numpy()).predict(graphs)
    np.testing.assert_allclose(from_store, in_memory, rtol=1e-5, atol=1e-6)
    # the plain torch Dataset over the store batches like graphs in memory
    ds = FeatureStoreDataset(store, y.loc[store.keys].to_numpy())
    inputs, yb = collate_graphs([ds[i] for i in range(4)])
    assert inputs["global_features"].shape[0] == 4 and yb.shape == (4,)


def test_memory_is_bounded_by_one_chunk(frame, tmp_path):
    """The source is pulled at most one chunk ahead of what is on disk, the in-memory feature cache stays
    empty, and reading the store back keeps at most a few parts."""
    import skcrystal.base as base

    path = tmp_path / "s"
    pulled = []

    def source():
        for key, s in _pairs(frame):
            on_disk = 5 * len(list(path.glob("part-*.parquet"))) if path.exists() else 0
            assert len(pulled) - on_disk < 5, "the writer held more than one chunk of structures"
            pulled.append(key)
            yield key, s

    clear_feature_cache()
    store = featurize_to_store(LatticeEncoding(), source(), path, chunk_size=5)
    assert pulled == list(frame.index) and store.n_parts == 5
    assert len(base._CACHE) == 0, "streaming filled the in-memory cache (memory would grow with the frame)"
    ref = LatticeEncoding().fit_transform(frame)
    for i in [0, 22, 6, 17, 11, 3, 20]:  # random access over every part
        np.testing.assert_array_equal(store[i], ref[i])
        assert len(store._numeric) <= 4
