"""The main job (``make demo``): baselines against a deep model on real perovskites, same folds, one table.

Cross-validates a dummy (the mean), the GBT baseline and the CGNN (``--all``
adds the NNN and the CANN) on the same five folds of 1000 bundled
perovskites (heat of formation ``heat_ref``, eV per cell), then prints a
table (MAE, fit and predict time per fold) and writes to ``demo_output/``:

* ``parity_perovskites.png`` — out-of-fold prediction vs. DFT, one panel per model;
* ``learning_curve_perovskites.png`` — the deep models' training loss per
  epoch (skorch history), against the cross-validated MAE of each model;
* ``results.md`` / ``results.json`` — the table, per-fold numbers, conditions.

Every model is one entry of :data:`skcrystal.benchmark.MODELS` at its
``standard`` size; the swap from baseline to deep model is just another name
in ``MODELS_IN_DEMO`` (``GBTRegressor()`` -> ``CGNNRegressor()`` in your own
code), and a newly registered model joins the demo with one more name.

    python examples/demo.py            # about 1 CPU-minute (single thread)
    python examples/demo.py --all      # + NNN and CANN: about 2 CPU-minutes
    python examples/demo.py --full     # all 7572 perovskites, the accurate settings (hours on a CPU)
    SKCRYSTAL_QUICK=1 python examples/demo.py   # seconds: a smoke test of the pipeline
"""

import argparse
import os
import time

from skcrystal.benchmark import MODELS, run_benchmark

#: The models of the demo, in table order (names of skcrystal.benchmark.MODELS).
MODELS_IN_DEMO = ["Dummy", "GBT", "CGNN"]
#: More deep models, shown with --all (and --full).
MORE_MODELS = ["NNN", "CANN"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--all", action="store_true", help=f"also {', '.join(MORE_MODELS)}")
    ap.add_argument("--full", action="store_true", help="every perovskite, the accurate (full) settings, all models")
    ap.add_argument("--n-samples", type=int, default=None, help="perovskites to use (default 1000; 0 = all)")
    ap.add_argument("--models", default=None, help=f"comma-separated names among {', '.join(MODELS)}")
    ap.add_argument("--out", default="demo_output", help="output folder")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a busy machine two threads per process wait on each "
                         "other far more than they gain)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    quick = os.environ.get("SKCRYSTAL_QUICK", "0") not in ("", "0")
    preset = "full" if args.full else ("quick" if quick else "standard")
    n = args.n_samples if args.n_samples is not None else (40 if quick else None)
    t0 = time.perf_counter()
    print(f"skcrystal demo ({preset} settings): the same 5 folds for every model; deep models train on CPU.\n")
    names = args.models.split(",") if args.models else MODELS_IN_DEMO + (MORE_MODELS if args.all or args.full else [])
    record = run_benchmark(names, ["perovskites"], preset=preset, n_samples=n, out=args.out, n_jobs=1)
    fr = record["frames"]["perovskites"]
    ok = {k: v["mae_mean"] for k, v in fr["models"].items() if "mae_mean" in v}
    best = min(ok, key=ok.get)
    base = {k: v for k, v in ok.items() if not MODELS[k].deep} if all(k in MODELS for k in ok) else {}
    if base and best not in base:
        ref = min(base, key=base.get)
        print(f"\n{best} beats the best baseline ({ref}): MAE {ok[best]:.3f} vs {ok[ref]:.3f} eV "
              f"({ok[ref] / ok[best]:.1f}x lower error) on the same folds.")
    elif base:
        print(f"\nAt these settings the best model is the baseline {best} (MAE {ok[best]:.3f} eV): the deep "
              f"models need more data or epochs here (try --full).")
    print(f"\nPictures: {args.out}/parity_perovskites.png (predicted vs. DFT) and "
          f"{args.out}/learning_curve_perovskites.png (training curves)")
    print(f"Table: {args.out}/results.md   Total time: {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
