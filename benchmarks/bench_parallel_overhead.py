"""#10 defect 11: cheap featurizers must not pay for joblib worker start-up.

Times ``CompositionFeatures`` (and ``CrystalGraph``) with ``n_jobs=1`` and ``n_jobs=2`` on
20 structures, each in a fresh Python process (cold: worker start-up counted, as a user
meets it), for the checkout given by ``--repo`` (run it once on the old code and once on
the new to compare).  Usage::

    python benchmarks/bench_parallel_overhead.py --repo /path/to/checkout --label before
"""

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import time, sys, json
from skcrystal.datasets import load_mp_formation_energy
from skcrystal import featurizers as F
df = load_mp_formation_energy(n_samples=int(sys.argv[3]), random_state=0)
f = getattr(F, sys.argv[1])(n_jobs=int(sys.argv[2]))
t = time.perf_counter(); f.fit_transform(df); dt = time.perf_counter() - t
print(json.dumps(dt))
"""


def run(repo, name, n_jobs, n):
    env = dict(os.environ, PYTHONPATH=repo, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, name, str(n_jobs), str(n)], env=env, cwd=repo,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", action="append", required=True, help="checkout to time (repeatable)")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    rows = []
    for rep in range(args.repeats):
        for repo in args.repo:  # interleaved, so a busy machine hurts both alike
            for name in ("CompositionFeatures", "CrystalGraph"):
                for n_jobs in (1, 2):
                    dt = run(repo, name, n_jobs, args.n)
                    rows.append(dict(repo=repo, featurizer=name, n_jobs=n_jobs, n=args.n, seconds=dt, repeat=rep))
                    print(rows[-1], flush=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
