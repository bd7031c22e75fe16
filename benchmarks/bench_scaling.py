"""Scaling-out benchmarks (issue #15): featurization throughput, disk cache, streaming memory, epoch time.

Parts (``--part``, repeatable; results appended to ``benchmarks/results/scaling_<part>.json`` and
summarised in ``benchmarks/results/scaling.md`` by ``--report``):

``featurize``
    Structures/s of ``CrystalGraph`` (defaults, MP cells) and ``PersistentInteractionHomology``
    (``periodic=True, supercell_length=16``: its documented setting for small cells; the 64 Å ITT
    supercell takes about a minute per cell on this shared machine) serially, with loky (``n_jobs=2``) and with a Dask ``LocalCluster``
    of 2 worker processes.  Each setting runs *cold* (first call: worker start-up and imports
    included) and then ``--repeats`` times *warm* (in-memory cache cleared, workers already up; median).
``cache``
    ``memory=`` miss (compute + write) vs hit (in-memory cache cleared, read back; median of 3) vs no
    cache (best of 2, after a warm-up call on two structures).
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


def _time_twice(make, X, repeats=3):
    """(cold, warm): the first call's time, and the median of ``repeats`` further calls (cache cleared)."""
    from skcrystal.base import clear_feature_cache

    out = []
    for _ in range(1 + repeats):
        clear_feature_cache()
        t = time.perf_counter()
        make().fit_transform(X)
        out.append(time.perf_counter() - t)
    return out[0], statistics.median(out[1:])


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
                    cold, warm = _time_twice(lambda: cls(), X, args.repeats)
                client.close()
                cluster.close()
            else:
                startup = 0.0
                cold, warm = _time_twice(lambda: cls(n_jobs=workers), X, args.repeats)
                if engine == "loky":
                    from joblib.externals.loky import get_reusable_executor

                    get_reusable_executor().shutdown(wait=True)  # next featurizer starts cold again
            row = dict(featurizer=name, engine=engine, workers=workers, n=len(X), cold_s=cold, warm_s=warm,
                       cold_per_s=len(X) / cold, warm_per_s=len(X) / warm, cluster_start_s=startup,
                       **_machine())
            print(row, flush=True)
            rows.append(row)
            _save("featurize", rows)  # incrementally: a killed run still leaves its rows


# --------------------------------------------------------------------- cache
def part_cache(args):
    from skcrystal.base import clear_feature_cache

    rows = []
    for name, cls, X in _featurizers(args.n_graph, args.n_pih):
        with tempfile.TemporaryDirectory() as d:
            cls().fit_transform(X[:2])  # imports and one-off tables are not what a cache saves
            plain = []
            for _ in range(2):
                clear_feature_cache()
                t = time.perf_counter()
                cls().fit_transform(X)
                plain.append(time.perf_counter() - t)
            plain = min(plain)
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


# -------------------------------------------------------------------- stream
def strained_copies(n, seed=0):
    """``n`` (key, structure) pairs: strained (±3 %) and site-permuted copies of the bundled frames, lazily."""
    import numpy as np
    from pymatgen.core import Lattice, Structure

    from skcrystal.datasets import load_mp_formation_energy, load_perovskites

    bases = [(f"perov{k}", s) for k, s in load_perovskites()["structure"].items()]
    bases += [(f"mp{k}", s) for k, s in load_mp_formation_energy()["structure"].items()]
    for i in range(n):
        key, s = bases[i % len(bases)]
        rng = np.random.RandomState(seed + i)
        eps = rng.uniform(-0.03, 0.03, (3, 3))
        strain = np.eye(3) + (eps + eps.T) / 2
        perm = rng.permutation(len(s))
        yield f"{key}-{i}", Structure(Lattice(s.lattice.matrix @ strain), [s.species[j] for j in perm],
                                      s.frac_coords[perm])


def _rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_stream(featurizer_name, n, mode, out_dir):
    """One size in a fresh process; prints a JSON line."""
    import gc

    from skcrystal import featurizers as F
    from skcrystal.streaming import featurize_to_store

    featurizer = getattr(F, featurizer_name)()
    list(strained_copies(2))  # imports and bundled frames loaded: the baseline
    gc.collect()
    base = _rss_mb()
    t = time.perf_counter()
    if mode == "stream":
        store = featurize_to_store(featurizer, strained_copies(n), out_dir, chunk_size=1000)
        assert len(store) == n
    else:  # the in-memory path, for contrast
        X = featurizer.fit_transform([s for _, s in strained_copies(n)])
        assert len(X) == n
    dt = time.perf_counter() - t
    disk = sum(f.stat().st_size for f in Path(out_dir).rglob("*") if f.is_file()) if mode == "stream" else 0
    print(json.dumps(dict(featurizer=featurizer_name, n=n, mode=mode, baseline_rss_mb=base, peak_rss_mb=_rss_mb(),
                          seconds=dt, per_s=n / dt, disk_mb=disk / 2**20, **_machine())), flush=True)


def _merged(part, row, same):
    """Rows of ``scaling_<part>.json`` with ``row`` replacing the one measuring the same setting."""
    path = RESULTS / f"scaling_{part}.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    return [r for r in rows if any(r.get(k) != row[k] for k in same)] + [row]


def part_stream(args):
    for name in args.stream_featurizers:
        for mode, sizes in (("stream", args.stream_sizes), ("in_memory", args.memory_sizes)):
            for n in sizes:
                with tempfile.TemporaryDirectory() as d:
                    out = subprocess.run([sys.executable, __file__, "--child-stream", name, str(n), mode,
                                          str(Path(d) / "store")], capture_output=True, text=True,
                                         env={**os.environ, "PYTHONPATH": str(ROOT)})
                if out.returncode:
                    print(out.stderr[-3000:])
                    raise SystemExit(out.returncode)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                print(row, flush=True)
                _save("stream", _merged("stream", row, ("featurizer", "mode", "n")))  # other featurizers' rows stay


# --------------------------------------------------------------------- epoch
def _child_epoch(out, n, epochs, threads, cache):
    """Runs under torchrun: CGNN (defaults) through Accelerate; rank 0 writes epoch times."""
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from accelerate import Accelerator, DataLoaderConfiguration

    from skcrystal.datasets import load_perovskites
    from skcrystal.featurizers import CrystalGraph
    from skcrystal.models.accelerate import AcceleratedCGNNRegressor

    df = load_perovskites(n_samples=n, random_state=0)
    graphs = CrystalGraph(memory=cache).fit_transform(df)  # the disk cache: featurized once for all runs
    acc = Accelerator(cpu=True, dataloader_config=DataLoaderConfiguration(split_batches=True))
    model = AcceleratedCGNNRegressor(accelerator=acc, max_epochs=epochs, batch_size=64, random_state=0)
    t = time.perf_counter()
    model.fit(graphs, df["heat_ref"].to_numpy())
    total = time.perf_counter() - t
    pred = model.predict(graphs)
    if acc.is_main_process:
        durs = [float(d) for d in model.history[:, "dur"]]
        Path(out).write_text(json.dumps(dict(n=n, epochs=epochs, processes=acc.num_processes, threads=threads,
                                             epoch_s=durs, median_epoch_s=statistics.median(durs[1:] or durs),
                                             fit_s=total, pred_head=np.asarray(pred[:5]).tolist(),
                                             **_machine())))
    acc.wait_for_everyone()


def part_epoch(args):
    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for processes, threads in ((1, 1), (1, 2), (2, 1)):
            with tempfile.TemporaryDirectory() as d:
                out = Path(d) / "epoch.json"
                cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
                       __file__, "--child-epoch", str(out), str(args.epoch_n), str(args.epochs), str(threads), cache]
                proc = subprocess.run(cmd, capture_output=True, text=True,
                                      env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": str(threads)})
                if proc.returncode:
                    print(proc.stderr[-4000:])
                    raise SystemExit(proc.returncode)
                rows.append(json.loads(out.read_text()))
            print(rows[-1], flush=True)
            _save("epoch", rows)


# -------------------------------------------------------------------- report
def report():
    """Markdown tables of every part measured so far -> benchmarks/results/scaling.md."""
    lines = ["# Scaling out (issue #15)", "",
             "Written by `python benchmarks/bench_scaling.py --report` from `scaling_<part>.json`; "
             "`load` is the 1-minute load average of the (shared, 2-core) machine when the row was measured.", ""]

    def load(part):
        path = RESULTS / f"scaling_{part}.json"
        return json.loads(path.read_text()) if path.exists() else []

    rows = load("featurize")
    if rows:
        lines += ["## Featurization throughput (structures/s)", "",
                  "| featurizer | engine | workers | n | cold (/s) | warm (/s) | cluster start (s) | load |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['featurizer']} | {r['engine']} | {r['workers']} | {r['n']} | {r['cold_per_s']:.1f} | "
                  f"{r['warm_per_s']:.1f} | {r['cluster_start_s']:.1f} | {r['load']:.1f} |" for r in rows]
        lines.append("")
    rows = load("cache")
    if rows:
        lines += ["## Disk cache (`memory=`): miss vs hit", "",
                  "| featurizer | n | no cache (s) | miss: compute + write (s) | hit: read (s) | miss / hit | "
                  "disk per structure (kB) | load |", "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['featurizer']} | {r['n']} | {r['no_cache_s']:.2f} | {r['miss_s']:.2f} | {r['hit_s']:.2f} | "
                  f"{r['miss_s'] / r['hit_s']:.0f}x | {r['disk_bytes_per_structure'] / 1e3:.1f} | {r['load']:.1f} |"
                  for r in rows]
        lines.append("")
    rows = sorted(load("stream"), key=lambda r: (r["featurizer"], r["mode"] != "stream", r["n"]))
    if rows:
        lines += ["## Streaming: peak memory vs frame size", "",
                  "| featurizer | mode | structures | baseline RSS (MB) | peak RSS (MB) | peak - baseline (MB) | "
                  "time (s) | /s | store on disk (MB) | load |", "|---|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r['featurizer']} | {r['mode']} | {r['n']} | {r['baseline_rss_mb']:.0f} | {r['peak_rss_mb']:.0f} | "
                  f"{r['peak_rss_mb'] - r['baseline_rss_mb']:.0f} | {r['seconds']:.0f} | {r['per_s']:.0f} | "
                  f"{r['disk_mb']:.0f} | {r['load']:.1f} |" for r in rows]
        lines.append("")
    rows = load("epoch")
    if rows:
        lines += ["## Epoch time through Accelerate (CGNN defaults, CPU)", "",
                  "| processes | threads each | structures | median epoch (s) | fit (s) | load |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['processes']} | {r['threads']} | {r['n']} | {r['median_epoch_s']:.1f} | {r['fit_s']:.0f} | "
                  f"{r['load']:.1f} |" for r in rows]
        lines.append("")
    (RESULTS / "scaling.md").write_text("\n".join(lines))
    print("\n".join(lines))


PARTS = {"featurize": part_featurize, "cache": part_cache, "stream": part_stream, "epoch": part_epoch}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", action="append", default=[], choices=sorted(PARTS))
    ap.add_argument("--report", action="store_true", help="write benchmarks/results/scaling.md")
    ap.add_argument("--n-graph", type=int, default=2000, help="MP cells for CrystalGraph")
    ap.add_argument("--n-pih", type=int, default=300, help="MP cells for PIH")
    ap.add_argument("--stream-featurizers", nargs="+", default=["CrystalGraph", "FaithfulFeaturizer"])
    ap.add_argument("--stream-sizes", nargs="+", type=int, default=[10_000, 30_000, 100_000])
    ap.add_argument("--memory-sizes", nargs="+", type=int, default=[10_000, 30_000],
                    help="sizes for the in-memory fit_transform contrast")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls per featurize setting (median)")
    ap.add_argument("--epoch-n", type=int, default=2000, help="perovskites for the epoch-time part")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--child-stream", nargs=4, metavar=("FEATURIZER", "N", "MODE", "DIR"), help=argparse.SUPPRESS)
    ap.add_argument("--child-epoch", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_epoch:
        out, n, epochs, threads, cache = args.child_epoch
        return _child_epoch(out, int(n), int(epochs), int(threads), cache)
    if args.child_stream:
        name, n, mode, d = args.child_stream
        return _child_stream(name, int(n), mode, d)
    for p in args.part:
        PARTS[p](args)
    if args.report:
        report()


if __name__ == "__main__":
    main()
