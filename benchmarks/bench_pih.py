"""Benchmark of PersistentInteractionHomology (issue 5): speed, peak memory, n_jobs scaling.

Run::

    python benchmarks/bench_pih.py [--quick] [--mofs-only] [--out benchmarks/results/bench_pih.json]

Measures, on one core unless stated:

- seconds per MOF (the 11 shipped CIFs, ITT defaults: 64 Å supercells of
  5.8k-22k atoms), median and max, and whether each equals the reference;
- seconds per Materials Project cell with the ITT defaults (the 64 Å rule
  turns a 5-atom cell into a ~10k-atom cloud) and with the fast settings
  ``periodic=True, supercell_length=16`` (exact periodic interactions);
- structures/s on the perovskite, MP formation-energy and MOF frames;
- peak resident memory (``ru_maxrss``, includes gudhi's C++ allocations);
- n_jobs = 1 vs 2 wall time;
- per MOF, the seconds spent inside gudhi itself (Delaunay triangulation,
  alpha filtration values, persistence), measured by timing gudhi's own
  entry points: the floor for any implementation that must reproduce
  gudhi's ``precision="safe"`` filtration bit for bit.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from pymatgen.core import Structure

import skcrystal.datasets
from skcrystal.base import clear_feature_cache
from skcrystal.featurizers.pih import PersistentInteractionHomology

DATA = Path(skcrystal.datasets.__file__).parent / "data"


def _frame(name, n, seed=0):
    df = pd.read_json(DATA / f"{name}.json.gz", orient="split")
    df = df.sample(n=min(n, len(df)), random_state=seed)
    return [Structure.from_dict(d) if isinstance(d, dict) else d for d in df["structure"]]


def _n_points(structure, length=64.0):
    from skcrystal.topology import supercell_repeats

    return len(structure) * int(np.prod(supercell_repeats(structure.lattice.abc, length)))


def _mofs():
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for p in sorted((DATA / "mof_cifs").glob("*.cif")):
            out.append((p.stem, Structure.from_file(str(p))))
    return out


def _rate(featurizer, structures):
    clear_feature_cache()
    t = time.perf_counter()
    featurizer.fit_transform(structures)
    dt = time.perf_counter() - t
    return dt, len(structures) / dt


class _GudhiTimer:
    """Accumulate the wall time spent inside gudhi's Python entry points (one process, one core)."""

    def __init__(self):
        import gudhi

        self.seconds = 0.0
        self._patched = []
        targets = [(gudhi.DelaunayComplex, "__init__"), (gudhi.DelaunayComplex, "create_simplex_tree"),
                   (gudhi.SimplexTree, "compute_persistence")]
        for cls, name in targets:
            orig = cls.__dict__[name]
            self._patched.append((cls, name, orig))
            setattr(cls, name, self._wrap(orig))

    def _wrap(self, fn):
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.seconds += time.perf_counter() - t

        return timed

    def close(self):
        for cls, name, orig in self._patched:
            setattr(cls, name, orig)


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cross_validate_mp(n=300, cv=5, seed=0):
    """MAE of ``make_pipeline(PIH(output="flat"), GBTRegressor())`` vs the GBT on composition features.

    PIH uses the fast settings (``periodic=True, supercell_length=16``,
    ``vectorization="stats"``) so that a few hundred structures take minutes.
    """
    from sklearn.pipeline import make_pipeline

    from skcrystal.datasets import load_mp_formation_energy
    from skcrystal.evaluation import cross_validate_models, fixed_folds
    from skcrystal.featurizers import CompositionFeatures
    from skcrystal.models import GBTRegressor

    df = load_mp_formation_energy(n_samples=n, random_state=seed)
    X, y = df["structure"], df["formation_energy_per_atom"].to_numpy()
    folds = fixed_folds(n_splits=cv, random_state=seed)  # KFold(cv, shuffle=True, random_state=seed)
    gbt = dict(n_estimators=300, n_jobs=1, random_state=0)
    models = {
        "PIH(stats) + GBT": make_pipeline(
            PersistentInteractionHomology(output="flat", vectorization="stats", periodic=True, supercell_length=16.0),
            GBTRegressor(**gbt),
        ),
        "composition + GBT": make_pipeline(CompositionFeatures(), GBTRegressor(**gbt)),
    }
    out = {"n": len(y), "cv": cv}
    for name, model in models.items():
        t = time.perf_counter()
        res, _ = cross_validate_models({name: model}, X, y, cv=folds, verbose=False)
        mae = res["mae"].to_numpy()
        out[name] = {"mae_eV_per_atom": float(mae.mean()), "std": float(mae.std()), "seconds": time.perf_counter() - t}
        print(name, out[name], flush=True)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer structures (smoke run)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_pih.json"))
    ap.add_argument("--cv", type=int, default=0, help="only cross-validate PIH+GBT on this many MP structures")
    ap.add_argument("--mofs-only", action="store_true",
                    help="only re-measure the MOF part; update that entry of an existing --out file")
    args = ap.parse_args(argv)
    if args.cv:
        res = cross_validate_mp(args.cv)
        out = Path(args.out).with_name("bench_pih_cv.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1))
        return
    res = {"python": sys.version.split()[0], "machine": platform.machine(), "cpus": __import__("os").cpu_count()}

    # ---- MOFs, ITT defaults, one core, bit-exact check
    mofs = _mofs()[: 3 if args.quick else None]
    per = {}
    for name, s in mofs:
        clear_feature_cache()
        t = time.perf_counter()
        tok = PersistentInteractionHomology(output="tokens").fit_transform([s])[0, 0]
        dt = time.perf_counter() - t
        ref = np.load(DATA / "mof_pih_reference" / f"{name}.npz")
        exact = all(np.array_equal(tok[k], ref[p]) for k, p in
                    (("structure", "part0"), ("clusters", "part1"), ("interactions", "part2")))
        # second run, gudhi's share timed (the timer's own overhead is a few microseconds per call)
        clear_feature_cache()
        timer = _GudhiTimer()
        try:
            t = time.perf_counter()
            PersistentInteractionHomology(output="tokens").fit_transform([s])
            dt2 = time.perf_counter() - t
        finally:
            timer.close()
        per[name] = {"seconds": round(dt, 2), "bit_exact": exact, "n_points": int(_n_points(s)),
                     "gudhi_s": round(timer.seconds, 2), "gudhi_share": round(timer.seconds / dt2, 3)}
        print(f"MOF {name}: {dt:.2f} s exact={exact} gudhi {timer.seconds:.2f} s of {dt2:.2f}", flush=True)
    secs = [v["seconds"] for v in per.values()]
    floor = [v["gudhi_s"] for v in per.values()]
    res["mof_itt_default"] = {"per_mof": per, "median_s": statistics.median(secs), "max_s": max(secs),
                              "gudhi_median_s": statistics.median(floor),
                              "structures_per_s": len(secs) / sum(secs), "peak_rss_mb": round(_rss_mb())}
    print("MOF median", statistics.median(secs), "gudhi alone", statistics.median(floor), "peak RSS MB",
          round(_rss_mb()), flush=True)
    if args.mofs_only:
        out = Path(args.out)
        prev = json.loads(out.read_text()) if out.exists() else {}
        prev.update({k: res[k] for k in ("python", "machine", "cpus", "mof_itt_default")})
        rates = prev.get("structures_per_s")
        if isinstance(rates, dict):
            rates["mofs_itt_default"] = res["mof_itt_default"]["structures_per_s"]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(prev, indent=1, default=float))
        return

    # ---- MP cells / perovskites
    fast = dict(periodic=True, supercell_length=16.0)
    mp = _frame("mp_formation_energy", 6 if args.quick else 60)
    small = [s for s in mp if 5 <= len(s) <= 25]
    n_def = 2 if args.quick else 4
    dt, _ = _rate(PersistentInteractionHomology(), small[:n_def])
    res["mp_cell_itt_default_s"] = dt / n_def
    dt, rate = _rate(PersistentInteractionHomology(**fast), small)
    res["mp_cell_fast_s"] = dt / len(small)
    dt, rate = _rate(PersistentInteractionHomology(periodic=True, parts=("interactions",)), small)
    res["mp_cell_periodic_interactions_only_s"] = dt / len(small)
    print("MP per cell: default", res["mp_cell_itt_default_s"], "fast", res["mp_cell_fast_s"],
          "interactions-only", res["mp_cell_periodic_interactions_only_s"], flush=True)

    rates = {}
    for name, n in (("castelli_perovskites", 20 if args.quick else 100), ("mp_formation_energy", 20 if args.quick else 100)):
        ss = _frame(name, n, seed=1)
        _, rates[f"{name}_fast"] = _rate(PersistentInteractionHomology(**fast), ss)
    rates["mofs_itt_default"] = res["mof_itt_default"]["structures_per_s"]
    res["structures_per_s"] = rates
    print("structures/s", rates, flush=True)

    # ---- n_jobs scaling (fast settings on MP cells; ITT defaults on 4 MOFs)
    ss = _frame("mp_formation_energy", 40 if args.quick else 120, seed=2)
    t1, _ = _rate(PersistentInteractionHomology(**fast, n_jobs=1), ss)
    t2, _ = _rate(PersistentInteractionHomology(**fast, n_jobs=2), ss)
    res["n_jobs_mp_fast"] = {"n": len(ss), "t1_s": t1, "t2_s": t2, "speedup": t1 / t2}
    four = [s for _, s in mofs[:4]]
    t1, _ = _rate(PersistentInteractionHomology(n_jobs=1), four)
    t2, _ = _rate(PersistentInteractionHomology(n_jobs=2), four)
    res["n_jobs_mofs"] = {"n": len(four), "t1_s": t1, "t2_s": t2, "speedup": t1 / t2}
    res["peak_rss_mb_total"] = round(_rss_mb())
    print(json.dumps(res, indent=1, default=float))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
