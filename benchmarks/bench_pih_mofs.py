"""MOF timings of PIH (issue 12): gudhi path vs the previous fast path vs the current one, side by side.

Run::

    python benchmarks/bench_pih_mofs.py --old DIR [--budget 600] [--out benchmarks/results/bench_pih_mofs.json]

``DIR`` holds an importable copy of an earlier skcrystal renamed
``skcrystal_main`` (e.g. ``git archive <commit> skcrystal | tar -x -C DIR``
then ``mv DIR/skcrystal DIR/skcrystal_main``), so both fast paths run in the
same process.  Per shipped MOF (ITT defaults, ``output="tokens"``), one core,
in one process: gudhi's path once, then old and new fast paths alternating
twice (the minimum of the two is kept); every result is checked against the
shipped ITT reference features.  Rows are written after every MOF, so a
killed run keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from pymatgen.core import Structure

import skcrystal.datasets
from skcrystal.base import clear_feature_cache
from skcrystal.featurizers.pih import PersistentInteractionHomology
from skcrystal.topology import supercell_repeats

DATA = Path(skcrystal.datasets.__file__).parent / "data"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--old-label", default="previous fast path")
    ap.add_argument("--budget", type=float, default=600.0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "bench_pih_mofs.json")
    a = ap.parse_args(argv)
    sys.path.insert(0, a.old)
    import skcrystal_main.base as old_base
    import skcrystal_main.featurizers.pih as old_pih

    def run(kind, s):
        if kind == "old":
            f = old_pih.PersistentInteractionHomology(output="tokens")
        else:
            f = PersistentInteractionHomology(output="tokens")
            if kind == "gudhi":
                f._backend = "gudhi"
        clear_feature_cache()
        old_base.clear_feature_cache()
        t = time.perf_counter()
        tok = f.fit_transform([s])[0, 0]
        return time.perf_counter() - t, tok

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mofs = [(p.stem, Structure.from_file(str(p))) for p in sorted((DATA / "mof_cifs").glob("*.cif"))]
    run("old", mofs[0][1])  # load the compiled kernels outside the timings
    run("new", mofs[0][1])
    res = {"protocol": __doc__.split("``DIR``")[1].strip(), "old": a.old_label, "rows": [],
           "load_avg_start": os.getloadavg()}
    t0 = time.perf_counter()
    for name, s in mofs:
        if time.perf_counter() - t0 > a.budget:
            break
        ref = np.load(DATA / "mof_pih_reference" / f"{name}.npz")
        T = {}
        exact = True
        for kind in ("gudhi", "old", "new", "old", "new"):
            dt, tok = run(kind, s)
            T.setdefault(kind, []).append(dt)
            exact &= all(np.array_equal(tok[k], ref[p])
                         for k, p in (("structure", "part0"), ("clusters", "part1"), ("interactions", "part2")))
        row = {"name": name, "n_points": int(len(s) * np.prod(supercell_repeats(s.lattice.abc, 64.0))),
               "gudhi_s": T["gudhi"][0], "old_s": min(T["old"]), "new_s": min(T["new"]),
               "all_equal_reference": bool(exact), "load": os.getloadavg()[0]}
        row["ratio_new"] = row["gudhi_s"] / row["new_s"]
        row["ratio_old"] = row["gudhi_s"] / row["old_s"]
        row["old_over_new"] = row["old_s"] / row["new_s"]
        res["rows"].append(row)
        rows = res["rows"]
        for k in ("gudhi_s", "old_s", "new_s", "ratio_new", "ratio_old", "old_over_new"):
            res[f"median_{k}"] = statistics.median(r[k] for r in rows)
        res["max_new_s"] = max(r["new_s"] for r in rows)
        res["ratio_of_medians"] = res["median_gudhi_s"] / res["median_new_s"]
        res["load_avg_end"] = os.getloadavg()
        a.out.write_text(json.dumps(res, indent=1))
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)


def table(path):
    """The rows of a results file as an rst table (printed, and written next to it as ``.rst``)."""
    res = json.loads(Path(path).read_text())
    head = ("MOF", "points", "gudhi (s)", "previous fast (s)", "fast (s)", "gudhi/fast", "previous/fast", "load")
    rows = [(r["name"].replace("_clean", ""), str(r["n_points"]), f"{r['gudhi_s']:.2f}", f"{r['old_s']:.2f}",
             f"{r['new_s']:.2f}", f"{r['ratio_new']:.2f}", f"{r['old_over_new']:.2f}", f"{r['load']:.1f}")
            for r in res["rows"]]
    rows.append(("median", "", f"{res['median_gudhi_s']:.2f}", f"{res['median_old_s']:.2f}", f"{res['median_new_s']:.2f}",
                 f"{res['median_ratio_new']:.2f}", f"{res['median_old_over_new']:.2f}", ""))
    w = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    line = "  ".join("=" * n for n in w)
    fmt = lambda r: "  ".join(x.ljust(n) for x, n in zip(r, w)).rstrip()  # noqa: E731
    text = "\n".join([line, fmt(head), line] + [fmt(r) for r in rows] + [line]) + "\n"
    Path(path).with_suffix(".rst").write_text(text)
    print(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        table(sys.argv[2])
    else:
        main()
