"""Benchmark of the Interaction Topological Transformer (issue 13) and its baselines.

Steps (each resumable, run through ``/work/bin/heavy`` on the shared box)::

    python benchmarks/bench_itt.py pih --frame coremof      # PIH tokens, one .npz per structure
    python benchmarks/bench_itt.py pih --frame perovskites  # periodic-mode tokens

The PIH tokens of a frame are computed once and saved under
``benchmarks/cache/pih_<frame>/<row>.npz`` (git-ignored); every model and
fold reuses them.  Frames:

``coremof``
    ``load_core_mof("2019-ASR", max_atoms=300, n_samples=1000, random_state=0)``
    with ITT's exact tokens (64 Å supercells, the reference settings).
``mofs``
    the 11 bundled MOFs (exact tokens; extra unlabeled pretraining data).
``perovskites`` / ``mp``
    ``load_perovskites(n_samples=1000, random_state=0)`` /
    ``load_mp_formation_energy(n_samples=1000, random_state=0)`` with
    periodic-mode tokens (``periodic=True, supercell_length=16``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "cache"
RESULTS = ROOT / "results"

#: the fixed CoRE MOF subset of the benchmark
COREMOF = dict(subset="2019-ASR", max_atoms=300, n_samples=1000, random_state=0)
COREMOF_TARGETS = ("LCD", "PLD", "AV_VF", "ASA_m2_g")
SMALL_N = 1000


def load_frame(name):
    """The benchmark frame ``name`` (index = row key used for the cache files)."""
    import skcrystal.datasets as D

    if name == "coremof":
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            df = D.load_core_mof(**COREMOF)
        for x in w:
            print("warning:", x.message, flush=True)
        return df
    if name == "mofs":
        return D.load_mofs()
    if name == "perovskites":
        df = D.load_perovskites(n_samples=SMALL_N, random_state=0)
    elif name == "mp":
        df = D.load_mp_formation_energy(n_samples=SMALL_N, random_state=0)
    else:
        raise SystemExit(f"unknown frame {name!r}")
    df.index = [f"{name}_{i}" for i in df.index]
    return df


def pih_featurizer(frame):
    from skcrystal.featurizers import PersistentInteractionHomology

    if frame in ("coremof", "mofs"):
        return PersistentInteractionHomology(output="tokens")
    return PersistentInteractionHomology(output="tokens", periodic=True, supercell_length=16.0)


def cmd_pih(args):
    df = load_frame(args.frame)
    out = CACHE / f"pih_{args.frame}"
    out.mkdir(parents=True, exist_ok=True)
    feat = pih_featurizer(args.frame)
    feat.fit(df["structure"].iloc[:1])
    todo = [k for k in df.index if not (out / f"{k}.npz").exists()]
    print(f"{args.frame}: {len(df)} structures, {len(todo)} to featurize", flush=True)
    times = []
    log = out / "times.jsonl"
    for i, key in enumerate(todo):
        s = df.at[key, "structure"]
        t0 = time.perf_counter()
        try:
            tok = feat.transform([s])[0, 0]
        except Exception as exc:  # noqa: BLE001 - record and continue
            print(f"  {key}: failed: {exc}", flush=True)
            continue
        dt = time.perf_counter() - t0
        times.append(dt)
        np.savez_compressed(out / f"{key}.npz", **tok)
        with open(log, "a") as f:
            f.write(json.dumps({"key": key, "nsites": len(s), "seconds": dt}) + "\n")
        if i % 10 == 0:
            print(f"  {i + 1}/{len(todo)} {key} ({len(s)} sites) {dt:.1f}s, median {np.median(times):.1f}s",
                  flush=True)
    print("done", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pih", help="compute and cache the PIH tokens of a frame")
    p.add_argument("--frame", required=True, choices=["coremof", "mofs", "perovskites", "mp"])
    p.set_defaults(func=cmd_pih)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
