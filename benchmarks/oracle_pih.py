"""Oracle of issue 12: the fast PIH path against gudhi's path on many MP / perovskite cells.

Run (resumable: cells already in the log are skipped, so a killed job loses at most one cell)::

    python benchmarks/oracle_pih.py [--budget 1320] [--log benchmarks/results/oracle_pih.jsonl]
    python benchmarks/oracle_pih.py --summary [--log L]   # -> L with suffix .json (default results/oracle_pih.json)

Two processes share the cells with ``--shard 0/2`` and ``--shard 1/2`` (cell
``i`` goes to shard ``i % 2``); both append to the same log under a lock.

Cells: ``oracle_cells()`` -- a seeded sample of the MP formation-energy frame
and of the Castelli perovskites, interleaved two MP cells to one perovskite,
so that any prefix of the run covers both frames.  For each cell, the fast
path (the default) and gudhi's path (``_backend = "gudhi"``, the reference)
are compared bit for bit in both modes:

- ``itt``: the ITT defaults (64 Å supercell for every part);
- ``periodic``: ``periodic=True`` (interactions from the periodic images).

The structure and cluster tokens do not depend on ``periodic`` (both modes
build them from the 64 Å supercell), so they are computed once per cell and
counted for both modes; the interaction tokens are computed per mode.  One
JSON line per cell: index, frame, id, formula, sites, supercell points, and
per part whether fast == gudhi and the seconds of each path.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure

import skcrystal.datasets
from skcrystal.base import clear_feature_cache
from skcrystal.featurizers.pih import PersistentInteractionHomology

DATA = Path(skcrystal.datasets.__file__).parent / "data"
HERE = Path(__file__).resolve().parent
LOG = HERE / "results" / "oracle_pih.jsonl"


def oracle_cells(n_mp=400, n_perovskite=200, seed=11):
    """``[(frame, id, Structure), ...]``: seeded samples, two MP cells then one perovskite, repeated."""
    frames = []
    for name, k in (("mp_formation_energy", n_mp), ("castelli_perovskites", n_perovskite)):
        df = pd.read_json(DATA / f"{name}.json.gz", orient="split").sample(n=k, random_state=seed)
        ids = df["material_id"] if "material_id" in df else pd.Series(df.index.astype(str), index=df.index)
        cells = [Structure.from_dict(d) if isinstance(d, dict) else d for d in df["structure"]]
        frames.append([(name, str(i), s) for i, s in zip(ids, cells)])
    mp, pv = frames
    out = []
    while mp or pv:
        out += mp[:2] + pv[:1]
        mp, pv = mp[2:], pv[1:]
    return out


def _features(structure, backend, **kw):
    clear_feature_cache()
    f = PersistentInteractionHomology(**kw)
    if backend == "gudhi":
        f._backend = "gudhi"
    t = time.perf_counter()
    X = f.fit_transform([structure])
    return X, time.perf_counter() - t


def check_cell(structure):
    """Per part: fast == gudhi (bit for bit) and the seconds of each path."""
    from skcrystal.topology import supercell_repeats

    row = {"sites": len(structure),
           "n_points": len(structure) * int(np.prod(supercell_repeats(structure.lattice.abc, 64.0)))}
    for part, kw in (
        ("structure_clusters", dict(parts=("structure", "clusters"))),
        ("interactions_itt", dict(parts=("interactions",))),
        ("interactions_periodic", dict(parts=("interactions",), periodic=True)),
    ):
        Xf, tf = _features(structure, "fast", **kw)
        Xg, tg = _features(structure, "gudhi", **kw)
        row[part] = {"equal": bool(np.array_equal(Xf, Xg)), "fast_s": round(tf, 3), "gudhi_s": round(tg, 3),
                     "nonzero": int(np.count_nonzero(Xg))}
    row["itt"] = row["structure_clusters"]["equal"] and row["interactions_itt"]["equal"]
    row["periodic"] = row["structure_clusters"]["equal"] and row["interactions_periodic"]["equal"]
    return row


def _done(log):
    if not log.exists():
        return {}
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return {r["index"]: r for r in rows}


def _commit():
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


def run(log=LOG, budget=1320.0, start=0, stop=None, deadline=None, shard=(0, 1)):
    t0 = time.perf_counter()
    commit = _commit()
    done = _done(log)
    cells = oracle_cells()
    stop = len(cells) if stop is None else stop
    # compile the numba kernels outside the timings
    _features(Structure.from_spacegroup("Pm-3m", __import__("pymatgen.core", fromlist=["Lattice"]).Lattice.cubic(3.9),
                                        ["Ca", "Ti", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]]),
              "fast", supercell_length=12.0)
    for i in range(start, stop):
        if i in done or i % shard[1] != shard[0]:
            continue
        if time.perf_counter() - t0 > budget or (deadline is not None and time.time() > deadline):
            print(f"budget of {budget:.0f} s spent (or deadline reached); stopping before cell {i}", flush=True)
            break
        frame, cid, s = cells[i]
        row = {"index": i, "frame": frame, "id": cid, "formula": s.composition.reduced_formula,
               **check_cell(s), "load": os.getloadavg()[0], "commit": commit}
        with open(log, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(json.dumps(row) + "\n")
        print(f"cell {i} {frame} {row['formula']} ({row['sites']} sites, {row['n_points']} pts): "
              f"itt={'ok' if row['itt'] else 'DIFFERENT'} periodic={'ok' if row['periodic'] else 'DIFFERENT'} "
              f"t={time.perf_counter() - t0:.0f}s", flush=True)


def summary(log=LOG):
    rows = sorted(_done(log).values(), key=lambda r: r["index"])
    out = {"n_cells": len(rows), "protocol": __doc__.split("Cells:")[1].strip()}
    for mode, inter in (("itt", "interactions_itt"), ("periodic", "interactions_periodic")):
        sc = [r["structure_clusters"] for r in rows]
        it = [r[inter] for r in rows]
        fast = [a["fast_s"] + b["fast_s"] for a, b in zip(sc, it)]
        gudhi = [a["gudhi_s"] + b["gudhi_s"] for a, b in zip(sc, it)]
        out[mode] = {
            "cells_checked": len(rows),
            "cells_equal": sum(r[mode] for r in rows),
            "by_frame": {f: sum(1 for r in rows if r["frame"] == f) for f in sorted({r["frame"] for r in rows})},
            "different": [(r["index"], r["id"], r["formula"]) for r in rows if not r[mode]],
            "fast_s_median": float(np.median(fast)) if fast else None,
            "gudhi_s_median": float(np.median(gudhi)) if gudhi else None,
            "ratio_of_totals": float(sum(gudhi) / sum(fast)) if fast else None,
            "ratio_median": float(np.median(np.array(gudhi) / np.array(fast))) if fast else None,
            "ratio_min_max": [float(min(np.array(gudhi) / np.array(fast))), float(max(np.array(gudhi) / np.array(fast)))]
            if fast else None,
            "fast_s_max": float(max(fast)) if fast else None,
        }
    out["load_avg_range"] = [min(r["load"] for r in rows), max(r["load"] for r in rows)] if rows else None
    out["commits"] = sorted({r.get("commit") or "?" for r in rows})
    log.with_suffix(".json").write_text(json.dumps(out, indent=1))
    print(json.dumps({k: v for k, v in out.items() if k != "protocol"}, indent=1))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=float, default=1320.0, help="stop starting new cells after this many seconds")
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--stop", type=int, default=None)
    ap.add_argument("--log", type=Path, default=LOG)
    ap.add_argument("--deadline", type=float, default=None, help="also stop starting new cells after this Unix time")
    ap.add_argument("--shard", default="0/1", help="K/N: only the cells i with i %% N == K")
    ap.add_argument("--summary", action="store_true", help="write the summary of --log next to it (<log>.json)")
    a = ap.parse_args()
    if a.summary:
        summary(a.log)
    else:
        run(a.log, a.budget, a.start, a.stop, a.deadline, tuple(int(x) for x in a.shard.split("/")))
