"""Benchmark of the Interaction Topological Transformer (issue 13) and its baselines.

Steps (each resumable, run through ``/work/bin/heavy`` on the shared box)::

    python benchmarks/bench_itt.py tokens --frame coremof   # ITT tokens, chunks of 50 structures

The tokens of a frame (PIH + crystal graph + atom groups) are computed once
and saved under ``benchmarks/cache/tokens_<frame>_<setting>/`` (git-ignored);
every model and fold reuses them.  Frames:

``coremof``
    ``load_core_mof("2019-ASR", max_atoms=300, n_samples=1040, random_state=0)``
    (about 1000 frameworks after the validation drops), tokens ``p32``.
``coremof_extra``
    the frameworks of ``n_samples=2100`` (same filter and seed) that are not
    in ``coremof``: unlabeled pretraining data.
``mofs``
    the 11 bundled MOFs (unlabeled pretraining data).
``perovskites`` / ``mp``
    ``load_perovskites(n_samples=1000, random_state=0)`` /
    ``load_mp_formation_energy(n_samples=1000, random_state=0)``, tokens
    ``p16`` (``ITTTokenizer(mode="periodic")``).
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

#: the fixed CoRE MOF subset of the benchmark (about 1000 after the validation drops)
COREMOF = dict(subset="2019-ASR", max_atoms=300, n_samples=1040, random_state=0)
#: a disjoint set of more CoRE MOFs (<= 300 sites), unlabeled pretraining data
COREMOF_EXTRA = dict(subset="2019-ASR", max_atoms=300, n_samples=2100, random_state=0)
COREMOF_TARGETS = ("LCD", "PLD", "AV_VF", "ASA_m2_g")
SMALL_N = 1000
#: token settings: ``p32`` periodic interactions + 32 Å supercell for the structure/cluster tokens (MOFs),
#: ``p16`` = ``ITTTokenizer(mode="periodic")`` (small cells), ``exact`` = ITT's reference features
SETTINGS = {
    "p32": dict(periodic=True, supercell_length=32.0),
    "p16": dict(periodic=True, supercell_length=16.0),
    "exact": dict(),
}
FRAME_SETTING = {"coremof": "p32", "coremof_extra": "p32", "mofs": "p32", "perovskites": "p16", "mp": "p16"}


def _quiet_core_mof(**kw):
    import skcrystal.datasets as D

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        df = D.load_core_mof(**kw)
    for x in w:
        print("warning:", str(x.message)[:300], flush=True)
    return df


def load_frame(name):
    """The benchmark frame ``name`` (index = row key used for the cache files)."""
    import skcrystal.datasets as D

    if name == "coremof":
        return _quiet_core_mof(**COREMOF)
    if name == "coremof_extra":
        sub = _quiet_core_mof(**COREMOF)
        big = _quiet_core_mof(**COREMOF_EXTRA)
        return big.loc[~big.index.isin(sub.index)]
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


def tokenizer(setting):
    from skcrystal.featurizers import ITTTokenizer, PersistentInteractionHomology

    return ITTTokenizer(pih=PersistentInteractionHomology(output="tokens", **SETTINGS[setting]))


def token_dir(frame, setting):
    return CACHE / f"tokens_{frame}_{setting}"


def load_tokens(frame, setting=None, index=None):
    """The cached ITTTokens of a frame as a Series (index = row keys)."""
    import pickle

    import pandas as pd

    setting = setting or FRAME_SETTING[frame]
    out = {}
    for path in sorted(token_dir(frame, setting).glob("chunk_*.pkl")):
        with open(path, "rb") as f:
            out.update(pickle.load(f))
    s = pd.Series(out, dtype=object)
    return s if index is None else s.loc[list(index)]


def cmd_tokens(args):
    """Featurize a frame in chunks of 50 structures (resumable), timing each structure."""
    import pickle

    setting = args.setting or FRAME_SETTING[args.frame]
    df = load_frame(args.frame)
    out = token_dir(args.frame, setting)
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer(setting).fit(df["structure"].iloc[:1])
    keys = list(df.index)
    chunks = [keys[i: i + 50] for i in range(0, len(keys), 50)]
    print(f"{args.frame} ({setting}): {len(df)} structures, {len(chunks)} chunks", flush=True)
    times = []
    for c, chunk in enumerate(chunks):
        path = out / f"chunk_{c:04d}.pkl"
        if path.exists():
            continue
        res, rows = {}, []
        for key in chunk:
            s = df.at[key, "structure"]
            t0 = time.process_time()
            res[key] = tok._tokens(s)
            dt = time.process_time() - t0
            times.append(dt)
            rows.append({"key": key, "nsites": len(s), "cpu_s": dt})
        with open(path.with_suffix(".tmp"), "wb") as f:
            pickle.dump(res, f)
        path.with_suffix(".tmp").replace(path)
        with open(out / "times.jsonl", "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        print(f"  chunk {c + 1}/{len(chunks)}: median {np.median(times):.2f} s CPU per structure", flush=True)
    print("done", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("tokens", help="compute and cache the ITT tokens of a frame")
    p.add_argument("--frame", required=True, choices=sorted(FRAME_SETTING))
    p.add_argument("--setting", choices=sorted(SETTINGS), default=None)
    p.set_defaults(func=cmd_tokens)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
