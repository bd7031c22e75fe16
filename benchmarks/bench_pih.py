"""Benchmark of PersistentInteractionHomology (issues 5 and 12): speed, exactness, memory, n_jobs.

Run::

    python benchmarks/bench_pih.py [--quick] [--out benchmarks/results/bench_pih.json]
    python benchmarks/bench_pih.py --cv 200      # PIH(stats) + GBT cross-validation only

Measured side by side in one process, one core (OMP_NUM_THREADS=1), the
fast exact path (the default for Betti features) against gudhi's path
(``_backend = "gudhi"``, the reference and fallback), alternating per
structure:

- seconds per MOF (the 11 shipped CIFs, ITT defaults: 64 Å supercells of
  5.8k-22k atoms), median and max, ratio, and whether each path equals the
  ITT reference features;
- seconds per Materials Project cell with the ITT defaults (the 64 Å rule
  turns a 5-25-site cell into a 10k-36k-point cloud), both paths equal;
- a profile of both paths for one MOF and one MP cell: supercell, Delaunay,
  filtration values, persistence, per-atom PIH and vectorising, per part;
- peak resident memory of each path (``ru_maxrss`` of a fresh subprocess
  featurizing the largest MOF, gudhi's C++ allocations included);
- ``n_jobs=2`` against ``n_jobs=1`` (fast path, 4 MOFs and 8 MP cells).
"""

from __future__ import annotations

import argparse
import json
import platform
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


def _featurize(structure, backend):
    f = PersistentInteractionHomology(output="tokens")
    if backend == "gudhi":
        f._backend = "gudhi"
    clear_feature_cache()
    t = time.perf_counter()
    tok = f.fit_transform([structure])[0, 0]
    return time.perf_counter() - t, tok


def _same(a, b):
    return all(np.array_equal(a[k], b[k]) for k in ("structure", "clusters", "interactions"))


def _profile(structure):
    """Seconds per stage and part for both paths on one structure (ITT defaults)."""
    import gudhi

    from skcrystal.topology import fast
    from skcrystal.topology.clusters import cluster_labels, resolve_clusters
    from skcrystal.topology.pih import _mixed_simplices_serialized, interaction_barcodes, _as_complex
    from skcrystal.topology.supercell import supercell_coords
    from skcrystal.topology.vectorize import betti_counts, make_grid
    from skcrystal.utils.validation import structure_arrays

    T = {}

    def add(k, dt):
        T[k] = round(T.get(k, 0.0) + dt, 4)

    t = time.perf_counter()
    X, Zs = supercell_coords(*structure_arrays(structure), 64.0)
    add("supercell", time.perf_counter() - t)
    names, table = resolve_clusters()
    lab = cluster_labels(Zs, table)
    grid, gi = make_grid(0, 25, 0.1), make_grid(0, 5, 0.02)
    clouds = [("structure", X)] + [("clusters", X[lab == c]) for c in range(len(names)) if (lab == c).sum() >= 4]
    for part, P in clouds:
        t = time.perf_counter()
        ac = gudhi.AlphaComplex(points=P, precision="safe")
        add(f"gudhi/{part}/delaunay", time.perf_counter() - t)
        t = time.perf_counter()
        st = ac.create_simplex_tree(max_alpha_square=625.0)
        add(f"gudhi/{part}/filtration_values", time.perf_counter() - t)
        t = time.perf_counter()
        st.persistence()
        bars = [np.sqrt(np.asarray(st.persistence_intervals_in_dimension(d)).reshape(-1, 2)) for d in range(3)]
        add(f"gudhi/{part}/persistence", time.perf_counter() - t)
        t = time.perf_counter()
        [betti_counts(b, grid, 25.0) for b in bars]
        add(f"gudhi/{part}/vectorise", time.perf_counter() - t)
        s0 = dict(fast.STATS)
        t = time.perf_counter()
        fast.alpha_betti(P, grid, 2, 25.0, inf_value=25.0)
        dt = time.perf_counter() - t
        for k in ("t_delaunay", "t_values", "t_persistence"):
            add(f"fast/{part}/{k[2:]}", fast.STATS[k] - s0[k])
        add(f"fast/{part}/total", dt)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            A, B = X[lab == i], X[lab == j]
            if len(A) == 0 or len(B) == 0:
                continue
            P = np.vstack([A, B])
            t = time.perf_counter()
            ac = gudhi.AlphaComplex(points=P, precision="safe")
            add("gudhi/interactions/delaunay", time.perf_counter() - t)
            t = time.perf_counter()
            st = ac.create_simplex_tree(max_alpha_square=100.0)
            add("gudhi/interactions/filtration_values", time.perf_counter() - t)
            t = time.perf_counter()
            st.prune_above_dimension(2)
            E, ef, Tr, tf = _mixed_simplices_serialized(st, len(A))
            add("gudhi/interactions/read_simplices", time.perf_counter() - t)
            t = time.perf_counter()
            one = Tr[:, 1] >= len(A)
            cxs = (_as_complex(len(A), E[:, 0], E[:, 1] - len(A), np.sqrt(ef), Tr[one, 0], Tr[one, 1] - len(A),
                               Tr[one, 2] - len(A), np.sqrt(tf[one])),
                   _as_complex(len(B), E[:, 1] - len(A), E[:, 0], np.sqrt(ef), Tr[~one, 2] - len(A), Tr[~one, 0],
                               Tr[~one, 1], np.sqrt(tf[~one])))
            res = [interaction_barcodes(c) for c in cxs]
            add("gudhi/interactions/per_atom_pih", time.perf_counter() - t)
            t = time.perf_counter()
            [betti_counts(b, gi) for r in res for b in r]
            add("gudhi/interactions/vectorise", time.perf_counter() - t)
            s0 = dict(fast.STATS)
            t = time.perf_counter()
            cx = fast.alpha_pair_codes(A, B, gi, 10.0)
            add("fast/interactions/codes", time.perf_counter() - t)
            for k in ("t_delaunay", "t_values"):
                add(f"fast/interactions/{k[2:]}", fast.STATS[k] - s0[k])
            t = time.perf_counter()
            res = [interaction_barcodes(c) for c in cx]
            add("fast/interactions/per_atom_pih", time.perf_counter() - t)
            t = time.perf_counter()
            [fast.code_bars_to_betti(b, gi) for r in res for b in r]
            add("fast/interactions/vectorise", time.perf_counter() - t)
    return {"n_points": len(X), "seconds": T}


def _peak_rss_mb(path_cif, backend):
    """Peak RSS (MB) of a fresh process featurizing one MOF on one path."""
    import subprocess

    code = (
        "import resource, warnings; warnings.simplefilter('ignore');"
        "from pymatgen.core import Structure;"
        "from skcrystal.featurizers.pih import PersistentInteractionHomology as P;"
        f"s = Structure.from_file({str(path_cif)!r}); f = P(output='tokens');"
        + ("f._backend = 'gudhi';" if backend == "gudhi" else "")
        + "f.fit_transform([s]);"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer structures (smoke run)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_pih.json"))
    ap.add_argument("--cv", type=int, default=0, help="only cross-validate PIH+GBT on this many MP structures")
    ap.add_argument("--mp", type=int, default=12, help="MP cells timed on both paths (ITT defaults)")
    args = ap.parse_args(argv)
    if args.cv:
        res = cross_validate_mp(args.cv)
        out = Path(args.out).with_name("bench_pih_cv.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(res, indent=1))
        return
    from skcrystal.topology import fast

    res = {"python": sys.version.split()[0], "machine": platform.machine(), "cpus": __import__("os").cpu_count(),
           "load_avg_start": __import__("os").getloadavg()}
    # compile/load the numba kernels once, outside the timings
    _featurize(_frame("castelli_perovskites", 1)[0], "fast")

    # ---- MOFs, ITT defaults, one core, both paths, bit-exact check
    mofs = _mofs()[: 3 if args.quick else None]
    per = {}
    for name, s in mofs:
        ref = np.load(DATA / "mof_pih_reference" / f"{name}.npz")
        ref = {"structure": ref["part0"], "clusters": ref["part1"], "interactions": ref["part2"]}
        tg, tok_g = _featurize(s, "gudhi")
        s0 = dict(fast.STATS)
        tf, tok_f = _featurize(s, "fast")
        per[name] = {"n_points": int(_n_points(s)), "gudhi_s": round(tg, 3), "fast_s": round(tf, 3),
                     "ratio": round(tg / tf, 2), "fast_equals_reference": _same(tok_f, ref),
                     "gudhi_equals_reference": _same(tok_g, ref),
                     "clouds_fast": fast.STATS["clouds"] - s0["clouds"],
                     "clouds_fallback": fast.STATS["fallback"] - s0["fallback"],
                     "radii_from_gudhi": fast.STATS["resolved"] - s0["resolved"],
                     "exact_tests": fast.STATS["exact_tests"] - s0["exact_tests"]}
        print(f"MOF {name}: {per[name]}", flush=True)
    g = [v["gudhi_s"] for v in per.values()]
    f = [v["fast_s"] for v in per.values()]
    res["mof_itt"] = {"per_mof": per, "gudhi_median_s": statistics.median(g), "gudhi_max_s": max(g),
                      "fast_median_s": statistics.median(f), "fast_max_s": max(f),
                      "ratio_of_medians": statistics.median(g) / statistics.median(f),
                      "ratio_total": sum(g) / sum(f), "all_exact": all(v["fast_equals_reference"] for v in per.values())}
    print({k: v for k, v in res["mof_itt"].items() if k != "per_mof"}, flush=True)

    # ---- MP cells, ITT defaults (64 Å supercells), both paths
    mp = [s for s in _frame("mp_formation_energy", 80, seed=3) if 5 <= len(s) <= 25][: 3 if args.quick else args.mp]
    cells = []
    for s in mp:
        tg, tok_g = _featurize(s, "gudhi")
        tf, tok_f = _featurize(s, "fast")
        cells.append({"formula": s.composition.reduced_formula, "sites": len(s), "n_points": int(_n_points(s)),
                      "gudhi_s": round(tg, 3), "fast_s": round(tf, 3), "ratio": round(tg / tf, 2),
                      "equal": _same(tok_f, tok_g)})
        print("MP", cells[-1], flush=True)
    g = [c["gudhi_s"] for c in cells]
    f = [c["fast_s"] for c in cells]
    res["mp_itt"] = {"cells": cells, "gudhi_median_s": statistics.median(g), "gudhi_max_s": max(g),
                     "fast_median_s": statistics.median(f), "fast_max_s": max(f),
                     "ratio_of_medians": statistics.median(g) / statistics.median(f), "ratio_total": sum(g) / sum(f),
                     "all_equal": all(c["equal"] for c in cells)}
    print({k: v for k, v in res["mp_itt"].items() if k != "cells"}, flush=True)

    # ---- profile: one MOF (the median-sized ABEYEN) and one MP cell
    res["profile"] = {"mof ABEYEN_clean": _profile(dict(mofs)["ABEYEN_clean"] if "ABEYEN_clean" in dict(mofs) else mofs[0][1]),
                      f"mp {mp[0].composition.reduced_formula}": _profile(mp[0])}
    print(json.dumps(res["profile"], indent=1), flush=True)

    # ---- peak memory, fresh process per path, largest MOF
    big = max(_mofs(), key=lambda x: _n_points(x[1]))[0]
    cif = DATA / "mof_cifs" / f"{big}.cif"
    res["peak_rss_mb"] = {"structure": big, "gudhi": round(_peak_rss_mb(cif, "gudhi")),
                          "fast": round(_peak_rss_mb(cif, "fast"))}
    print("peak RSS", res["peak_rss_mb"], flush=True)

    # ---- n_jobs scaling, fast path
    four = [s for _, s in mofs[:4]]
    t1, _ = _rate(PersistentInteractionHomology(n_jobs=1), four)
    t2, _ = _rate(PersistentInteractionHomology(n_jobs=2), four)
    res["n_jobs_mofs_fast"] = {"n": len(four), "t1_s": t1, "t2_s": t2, "speedup": t1 / t2}
    eight = mp[:8]
    t1, _ = _rate(PersistentInteractionHomology(n_jobs=1), eight)
    t2, _ = _rate(PersistentInteractionHomology(n_jobs=2), eight)
    res["n_jobs_mp_fast"] = {"n": len(eight), "t1_s": t1, "t2_s": t2, "speedup": t1 / t2}
    res["load_avg_end"] = __import__("os").getloadavg()
    print(json.dumps({k: res[k] for k in ("n_jobs_mofs_fast", "n_jobs_mp_fast", "load_avg_end")}, default=float))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=1, default=float))
    Path(args.out).with_suffix(".rst").write_text(table(res))


def table(res):
    """The results as an RST table (included by docs/topology.rst)."""
    m, p = res["mof_itt"], res["mp_itt"]
    rows = [("structure", "points", "gudhi path (s)", "fast path (s)", "ratio", "equal")]
    for name, v in m["per_mof"].items():
        rows.append((f"MOF {name}", str(v["n_points"]), f"{v['gudhi_s']:.2f}", f"{v['fast_s']:.2f}",
                     f"{v['ratio']:.2f}", "yes (reference)" if v["fast_equals_reference"] else "NO"))
    for c in p["cells"]:
        rows.append((f"MP {c['formula']} ({c['sites']} sites)", str(c["n_points"]), f"{c['gudhi_s']:.2f}",
                     f"{c['fast_s']:.2f}", f"{c['ratio']:.2f}", "yes" if c["equal"] else "NO"))
    rows.append(("MOFs: median / max", "", f"{m['gudhi_median_s']:.2f} / {m['gudhi_max_s']:.2f}",
                 f"{m['fast_median_s']:.2f} / {m['fast_max_s']:.2f}", f"{m['ratio_of_medians']:.2f}", ""))
    rows.append(("MP cells: median / max", "", f"{p['gudhi_median_s']:.2f} / {p['gudhi_max_s']:.2f}",
                 f"{p['fast_median_s']:.2f} / {p['fast_max_s']:.2f}", f"{p['ratio_of_medians']:.2f}", ""))
    r = res["peak_rss_mb"]
    rows.append((f"peak RSS, {r['structure']} (MB)", "", str(r["gudhi"]), str(r["fast"]), "", ""))
    for key, label in (("n_jobs_mofs_fast", "MOFs"), ("n_jobs_mp_fast", "MP cells")):
        v = res[key]
        rows.append((f"n_jobs=2 vs 1, {v['n']} {label} (fast)", "", f"{v['t1_s']:.1f} s (1)", f"{v['t2_s']:.1f} s (2)",
                     f"{v['speedup']:.2f}", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    sep = "  ".join("=" * w for w in widths)
    lines = [sep, "  ".join(c.ljust(w) for c, w in zip(rows[0], widths)), sep]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows[1:]]
    lines.append(sep)
    la, lb = res.get("load_avg_start", ["?"])[0], res.get("load_avg_end", ["?"])[0]
    return "\n".join(lines) + f"\n\nLoad average at start / end: {la} / {lb} (2-core machine shared with other jobs).\n"


if __name__ == "__main__":
    main()
