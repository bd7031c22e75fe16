"""Scaling out on one machine, end to end: a Dask cluster, the disk cache, a stream, Accelerate.

Every step is the code you would run on a real cluster with a bigger frame
(see ``docs/scaling.rst``)::

    python examples/scaling_out.py                        # all steps, small sizes (a few minutes on 2 cores)
    python examples/scaling_out.py --step stream --n-stream 20000
    torchrun --nproc_per_node 2 examples/scaling_out.py --step accelerate   # 2 processes (gloo on CPU)

Steps:

``dask``
    PIH features of Materials Project cells on a ``LocalCluster`` of 2 worker
    processes (on a real cluster: ``Client("tcp://scheduler:8786")``); equal to
    the serial result.
``cache``
    ``memory=`` on disk: the second run (as from another process) reads every
    structure back instead of featurizing it.
``stream``
    Strained/permuted copies of the bundled structures, generated lazily, go
    to a store of crystal graphs in chunks; the run is interrupted, resumed
    without duplicates or gaps, and a CGNN trains from the store.
``accelerate``
    ``AcceleratedCGNNRegressor``: one process here; under ``torchrun`` or
    ``accelerate launch`` the same code trains on every process.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def strained_copies(n, seed=0):
    """``n`` (key, structure) pairs made lazily from the bundled frames (±3 % strain, permuted sites)."""
    from pymatgen.core import Lattice, Structure

    from skcrystal.datasets import load_mp_formation_energy

    df = load_mp_formation_energy()
    bases = list(zip(df.index, df["structure"]))
    for i in range(n):
        key, s = bases[i % len(bases)]
        rng = np.random.RandomState(seed + i)
        eps = rng.uniform(-0.03, 0.03, (3, 3))
        perm = rng.permutation(len(s))
        yield f"{i}:{key}", Structure(Lattice(s.lattice.matrix @ (np.eye(3) + (eps + eps.T) / 2)),
                                        [s.species[j] for j in perm], s.frac_coords[perm])


def step_dask(args):
    import joblib
    from dask.distributed import Client, LocalCluster

    from skcrystal import clear_feature_cache
    from skcrystal.datasets import load_mp_formation_energy
    from skcrystal.featurizers import PersistentInteractionHomology

    df = load_mp_formation_energy(n_samples=args.n_dask, random_state=0)
    pih = PersistentInteractionHomology(periodic=True, supercell_length=16.0)  # the small-cell setting
    t = time.perf_counter()
    serial = pih.fit_transform(df)
    print(f"serial: {len(df)} cells in {time.perf_counter() - t:.1f} s")
    with Client(LocalCluster(n_workers=2, threads_per_worker=1)) as client:
        clear_feature_cache()
        t = time.perf_counter()
        with joblib.parallel_config(backend="dask"):
            on_cluster = pih.fit_transform(df)
        print(f"dask ({len(client.ncores())} workers): {time.perf_counter() - t:.1f} s "
              "(first call includes the workers' imports)")
    assert np.array_equal(serial, on_cluster)
    print("identical to the serial features")


def step_cache(args):
    from skcrystal import clear_feature_cache
    from skcrystal.datasets import load_mp_formation_energy
    from skcrystal.featurizers import CrystalGraph

    df = load_mp_formation_energy(n_samples=args.n_cache, random_state=0)
    with tempfile.TemporaryDirectory() as folder:
        for run in ("miss (computes, writes)", "hit (reads back)"):
            clear_feature_cache()  # what a new process starts with
            t = time.perf_counter()
            CrystalGraph(memory=folder).fit_transform(df)
            print(f"{run}: {len(df)} graphs in {time.perf_counter() - t:.2f} s")


def step_stream(args):
    from skcrystal.datasets import load_mp_formation_energy
    from skcrystal.featurizers import CrystalGraph
    from skcrystal.models import CGNNRegressor
    from skcrystal.streaming import FeatureStore, featurize_to_store

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "graphs"

        def interrupted(n, stop):
            for i, item in enumerate(strained_copies(n)):
                if i == stop:
                    raise KeyboardInterrupt
                yield item

        try:
            featurize_to_store(CrystalGraph(), interrupted(args.n_stream, args.n_stream // 2 + 7), path,
                               chunk_size=args.chunk_size)
        except KeyboardInterrupt:
            print(f"interrupted: {FeatureStore(path)}")
        t = time.perf_counter()
        store = featurize_to_store(CrystalGraph(), strained_copies(args.n_stream), path, chunk_size=args.chunk_size)
        print(f"resumed: {store} ({time.perf_counter() - t:.1f} s)")
        keys = list(store.keys)
        assert keys == [k for k, _ in strained_copies(args.n_stream)], "duplicates or gaps"
        # targets in store order: the parent cell's formation energy (a toy target for the copies)
        energy = load_mp_formation_energy()["formation_energy_per_atom"].to_numpy()
        y = energy[np.array([int(k.split(":")[0]) for k in keys]) % len(energy)]
        model = CGNNRegressor(max_epochs=args.epochs, random_state=0, verbose=1).fit(store, y)
        pred = model.predict(store)
        print(f"CGNN trained from the store: training MAE {np.mean(np.abs(pred - y)):.3f} eV/atom")


def step_accelerate(args):
    from accelerate import Accelerator, DataLoaderConfiguration

    from skcrystal.datasets import load_mp_formation_energy
    from skcrystal.models.accelerate import AcceleratedCGNNRegressor

    df = load_mp_formation_energy(n_samples=args.n_accelerate, random_state=0)
    import torch

    # cpu=True on a machine without GPUs: accelerate then runs launched processes with gloo
    accelerator = Accelerator(cpu=not torch.cuda.is_available(),
                              dataloader_config=DataLoaderConfiguration(split_batches=True))
    model = AcceleratedCGNNRegressor(accelerator=accelerator, max_epochs=args.epochs, batch_size=64,
                                     random_state=0, verbose=1)
    model.fit(df["structure"], df["formation_energy_per_atom"])
    pred = model.predict(df["structure"])
    accelerator.print(f"{accelerator.num_processes} process(es), {accelerator.distributed_type}: "
                      f"training MAE {np.mean(np.abs(pred - df['formation_energy_per_atom'])):.3f} eV/atom")


STEPS = {"dask": step_dask, "cache": step_cache, "stream": step_stream, "accelerate": step_accelerate}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # SKCRYSTAL_QUICK=1: tiny sizes, a smoke test of every step (the test suite runs the examples that way)
    quick = os.environ.get("SKCRYSTAL_QUICK", "0") not in ("", "0")
    ap.add_argument("--step", action="append", choices=list(STEPS), help="default: all")
    ap.add_argument("--n-dask", type=int, default=4 if quick else 60)
    ap.add_argument("--n-cache", type=int, default=20 if quick else 500)
    ap.add_argument("--n-stream", type=int, default=40 if quick else 3000)
    ap.add_argument("--chunk-size", type=int, default=20 if quick else 500)
    ap.add_argument("--n-accelerate", type=int, default=32 if quick else 512)
    ap.add_argument("--epochs", type=int, default=1 if quick else 5)
    args = ap.parse_args()
    for name in args.step or list(STEPS):
        print(f"--- {name}")
        STEPS[name](args)


if __name__ == "__main__":
    main()
