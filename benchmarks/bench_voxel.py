"""Benchmark the Voxelizer and the CCNN.

Sections (run one or all)::

    python benchmarks/bench_voxel.py throughput            # structures/s and peak memory
    python benchmarks/bench_voxel.py cv --n 600 --epochs 20 --grid 16 --width 0.5
    python benchmarks/bench_voxel.py spacegroup --n 800 --top 10
    python benchmarks/bench_voxel.py holdout --n 1000 --grid 8 --width 0.25 --epochs 40 --lr 1e-3

* ``throughput`` — Voxelizer structures/s (validation included, ``n_jobs=1``)
  and peak traced memory (``tracemalloc``, which sees numpy's buffers) on a
  perovskite subsample and on the 11 bundled MOF CIFs, for the dense, lazy
  and flat outputs and a few grid sizes.
* ``cv`` — 5-fold CV MAE of ``CCNNRegressor`` on a perovskite subsample
  (``heat_ref``, eV) and an MP subsample (``formation_energy_per_atom``,
  eV/atom), next to the mean predictor and the project's GBT baseline on
  the same folds.
* ``spacegroup`` — 5-fold accuracy of ``CCNNClassifier`` predicting the
  space group (spglib, symprec 0.1) of MP cells among the ``--top`` most
  frequent groups; the global vector is the lattice code only (the
  space-group one-hot would leak the label).
* ``holdout`` — one seeded 80/20 split of a perovskite subsample, for
  longer training than 5-fold CV affords on a CPU.

Results are printed and written to ``benchmarks/results/bench_voxel_<section>.json``
with the machine conditions (cores, torch threads).  On a shared 2-core CPU
keep ``--n`` small; the paper's full configuration (grid 42, width 1, 20
epochs on 10⁵ structures) needs a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def _conditions():
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _save(section, payload):
    RESULTS.mkdir(exist_ok=True)
    payload = {"conditions": _conditions(), **payload}
    path = RESULTS / f"bench_voxel_{section}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    print(f"-> {path}")


# ------------------------------------------------------------------ throughput
def _measure(vz, structures, repeats=1):
    from skcrystal import clear_feature_cache
    from skcrystal.featurizers.voxel import VoxelCollisionWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VoxelCollisionWarning)
        vz.fit(structures[:1])
        best = np.inf
        for _ in range(repeats):
            clear_feature_cache()
            t = time.perf_counter()
            out = vz.transform(structures)
            best = min(best, time.perf_counter() - t)
        del out
        tracemalloc.start()
        out = vz.transform(structures)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    if out.dtype == object:
        col0 = out[:, 0]
        if hasattr(col0[0], "frac"):
            held = sum(r.frac.nbytes + r.values.nbytes + r.globals_.nbytes for r in col0)
        else:
            held = sum(a.nbytes for a in col0)
        held += sum(g.nbytes for g in out[:, 1])
    else:
        held = out.nbytes
    return {
        "n_structures": len(structures),
        "seconds": best,
        "structures_per_s": len(structures) / best,
        "peak_traced_MB": peak / 2**20,
        "output_MB": held / 2**20,
        "output_MB_per_structure": held / 2**20 / len(structures),
    }


def throughput(args):
    from skcrystal.datasets import load_mofs, load_perovskites
    from skcrystal.featurizers import Voxelizer

    perov = list(load_perovskites(n_samples=args.n_throughput, random_state=0)["structure"])
    mofs = load_mofs()
    mof_structs = list(mofs["structure"])
    rows = []
    cases = [
        ("perovskites", perov, dict(grid=32, output="dense")),
        ("perovskites", perov, dict(grid=32, output="lazy")),
        ("perovskites", perov, dict(grid=32, output="flat")),
        ("perovskites", perov, dict(grid=16, output="dense")),
        ("perovskites", perov, dict(grid=42, output="dense")),
        ("perovskites", perov, dict(grid=32, output="dense", global_features="faithful")),
        ("mofs", mof_structs, dict(grid=32, output="dense")),
        ("mofs", mof_structs, dict(grid=32, output="lazy")),
        ("mofs", mof_structs, dict(grid=64, output="dense")),
    ]
    for name, structs, params in cases:
        res = _measure(Voxelizer(**params), structs, repeats=args.repeats)
        res.update(dataset=name, **params)
        rows.append(res)
        print(
            f"{name:12s} {str(params):60s} {res['structures_per_s']:8.1f} structures/s  "
            f"peak {res['peak_traced_MB']:8.1f} MB  output {res['output_MB_per_structure']:.3f} MB/structure"
        )
    n_sites = {"perovskites_mean_sites": float(np.mean([len(s) for s in perov])),
               "mofs_mean_sites": float(np.mean([len(s) for s in mof_structs])),
               "mofs_max_sites": int(max(len(s) for s in mof_structs))}
    per = 25 * 32**3 * 4
    n_sites["dense_10k_at_N32_GB"] = 10_000 * per / 1e9
    print(n_sites)
    _save("throughput", {"rows": rows, **n_sites})


# ------------------------------------------------------------------------- cv
def _cv_scores(make, X, y, cv, classification=False, label=""):
    from skcrystal.evaluation import cross_validate_models

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res, _ = cross_validate_models({label or "model": make}, X, y, cv=cv, verbose=bool(label))
    scores = res["accuracy" if classification else "mae"].tolist()
    return {"mean": float(np.mean(scores)), "std": float(np.std(scores)), "folds": scores,
            "seconds": time.perf_counter() - t0}


def _ccnn(args, classifier=False):
    from skcrystal.featurizers import Voxelizer
    from skcrystal.models import CCNNClassifier, CCNNRegressor
    from skcrystal.models.base import DEFAULT_DEVICE

    cls = CCNNClassifier if classifier else CCNNRegressor
    return cls(
        featurizer=Voxelizer(grid=args.grid, output="lazy", global_features="lattice"),
        module__width=args.width,
        max_epochs=args.epochs,
        batch_size=32,
        lr=args.lr,
        random_state=0,
        device="cpu" if args.cpu else DEFAULT_DEVICE,
    )


def cv(args):
    from sklearn.dummy import DummyRegressor

    from skcrystal.datasets import load_mp_formation_energy, load_perovskites
    from skcrystal.evaluation import fixed_folds

    out = {"config": vars(args), "tasks": {}}
    tasks = [("perovskites", load_perovskites, "heat_ref"),
             ("mp_formation_energy", load_mp_formation_energy, "formation_energy_per_atom")]
    for name, loader, target in tasks:
        if args.task and name != args.task:
            continue
        df = loader(n_samples=args.n, random_state=0)
        X, y = df["structure"], df[target]
        kf = fixed_folds()  # KFold(5, shuffle=True, random_state=0)
        res = {"n": len(df), "target": target}
        res["dummy_mean"] = _cv_scores(DummyRegressor(), X.to_frame(), y, kf)
        print(name, "dummy", res["dummy_mean"]["mean"], flush=True)
        if not args.no_gbt:
            try:
                from skcrystal.models import GBTRegressor

                res["gbt_default"] = _cv_scores(GBTRegressor(random_state=0, n_jobs=1), X, y, kf)
                print(name, "GBT", res["gbt_default"]["mean"], f"{res['gbt_default']['seconds']:.0f}s", flush=True)
            except Exception as exc:  # noqa: BLE001 - a baseline failing must not stop the benchmark
                res["gbt_default"] = {"error": repr(exc)}
        res["ccnn"] = _cv_scores(_ccnn(args), X, y, kf, label=f"{name} CCNN")
        print(name, "CCNN", res["ccnn"]["mean"], "+/-", res["ccnn"]["std"], f"{res['ccnn']['seconds']:.0f}s")
        out["tasks"][name] = res
        _save(f"cv_{args.tag}" if args.tag else "cv", out)


def spacegroup(args):
    import pandas as pd

    from skcrystal.encodings.crystal import spacegroup_number
    from skcrystal.datasets import load_mp_formation_energy
    from skcrystal.evaluation import fixed_folds

    df = load_mp_formation_energy()
    sg = pd.Series([spacegroup_number(s) for s in df["structure"]], index=df.index)
    top = sg.value_counts().index[: args.top]
    keep = sg.isin(top)
    df, sg = df[keep], sg[keep]
    if args.n and len(df) > args.n:
        idx = np.random.RandomState(0).choice(len(df), args.n, replace=False)
        idx.sort()
        df, sg = df.iloc[idx], sg.iloc[idx]
    X = df["structure"]
    kf = fixed_folds(classification=True)  # StratifiedKFold(5, shuffle=True, random_state=0)
    majority = float(sg.value_counts(normalize=True).iloc[0])
    res = {"config": vars(args), "n": len(df), "classes": sorted(int(c) for c in top),
           "class_counts": {int(k): int(v) for k, v in sg.value_counts().items()}, "majority_baseline": majority}
    res["ccnn"] = _cv_scores(_ccnn(args, classifier=True), X, sg, kf, classification=True, label="space group CCNN")
    print("space group", f"n={len(df)}", "majority", majority, "CCNN acc", res["ccnn"]["mean"], "+/-",
          res["ccnn"]["std"], f"{res['ccnn']['seconds']:.0f}s")
    _save(f"spacegroup_{args.tag}" if args.tag else "spacegroup", res)


def holdout(args):
    """One 80/20 split of a larger perovskite subsample with more epochs (is the CV run undertrained?)."""
    from skcrystal.datasets import load_perovskites

    df = load_perovskites(n_samples=args.n, random_state=0)
    idx = np.random.RandomState(0).permutation(len(df))
    cut = int(0.8 * len(df))
    tr, te = df.iloc[idx[:cut]], df.iloc[idx[cut:]]
    dummy = float(np.mean(np.abs(te["heat_ref"] - tr["heat_ref"].mean())))
    t0 = time.perf_counter()
    model = _ccnn(args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(tr["structure"], tr["heat_ref"])
        mae = float(np.mean(np.abs(model.predict(te["structure"]) - te["heat_ref"])))
    res = {"config": vars(args), "n_train": len(tr), "n_test": len(te), "dummy_mae": dummy, "ccnn_mae": mae,
           "final_train_loss": float(model.history[-1, "train_loss"]), "seconds": time.perf_counter() - t0}
    if not args.no_gbt:
        from skcrystal.models import GBTRegressor

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gbt = GBTRegressor(random_state=0, n_jobs=1).fit(tr["structure"], tr["heat_ref"])
            res["gbt_mae"] = float(np.mean(np.abs(gbt.predict(te["structure"]) - te["heat_ref"])))
    print("perovskites holdout", res)
    _save(f"holdout_{args.tag}" if args.tag else "holdout", res)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("section", choices=["throughput", "cv", "spacegroup", "holdout", "all"])
    p.add_argument("--n", type=int, default=600, help="subsample size for cv/spacegroup")
    p.add_argument("--n-throughput", type=int, default=500)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--grid", type=int, default=16)
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--top", type=int, default=10, help="most frequent space groups kept")
    p.add_argument("--task", default=None, help="only this cv task")
    p.add_argument("--tag", default="", help="suffix of the result file")
    p.add_argument("--threads", type=int, default=None, help="torch threads")
    p.add_argument("--cpu", action="store_true", help="force the CPU even if a GPU is visible")
    p.add_argument("--no-gbt", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.section in ("throughput", "all"):
        throughput(args)
    if args.section in ("cv", "all"):
        cv(args)
    if args.section in ("spacegroup", "all"):
        spacegroup(args)
    if args.section == "holdout":
        holdout(args)


if __name__ == "__main__":
    main()
