"""5-fold CV (fixed folds) of Dummy, GBT and NNN on the bundled perovskites and MP formation-energy frames.

A preset of :func:`skcrystal.benchmark.run_benchmark` (the ``skcrystal
benchmark`` command) with the paper-width NNN: the same folds
(:func:`skcrystal.evaluation.fixed_folds`) and rows
(``load_*(n_samples=n, random_state=0)``) as before, so the tables recorded
in ``benchmarks/results/models.md`` stay comparable.  Writes the markdown
table to ``--out`` and the runner's JSON record and plots to a folder next
to it (``<out stem>/<frame>/``).

    python benchmarks/bench_models.py                  # full frames (slow: NNN dominates)
    python benchmarks/bench_models.py --n-perovskites 1000 --n-mp 500   # the subsets of bench_graph.py
    python benchmarks/bench_models.py --models Dummy,GBT --out benchmarks/results/models_full_gbt.md

The same run with the registry's presets is
``skcrystal benchmark --models Dummy,GBT,NNN --frames perovskites,mp_e_form --full``.
"""

import argparse
import time
from pathlib import Path

from sklearn.dummy import DummyRegressor

from skcrystal.benchmark import markdown_table, run_benchmark
from skcrystal.models import GBTRegressor, NNNRegressor

FRAMES = {"perovskites": "n_perovskites", "mp_e_form": "n_mp"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-perovskites", type=int, default=0, help="perovskite subsample (0 = all rows)")
    ap.add_argument("--n-mp", type=int, default=0, help="MP formation-energy subsample (0 = all rows)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=1000, help="NNN width (3 layers; the paper: 1000)")
    ap.add_argument("--models", default="Dummy,GBT,NNN", help="comma-separated subset of Dummy,GBT,NNN")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "models.md"))
    args = ap.parse_args()
    out = Path(args.out)
    models = {
        "Dummy": DummyRegressor(),
        "GBT": GBTRegressor(random_state=0),
        "NNN": NNNRegressor(max_epochs=args.epochs, module__hidden=(args.hidden,) * 3, batch_size=128, lr=1e-3,
                            random_state=0),
    }
    models = {k: v for k, v in models.items() if k in args.models.split(",")}
    lines = [f"# Model benchmark ({time.strftime('%Y-%m-%d')}, skcrystal.benchmark.run_benchmark, "
             f"KFold(5, shuffle=True, random_state=0), models {args.models}, NNN {args.epochs} epochs width "
             f"{args.hidden})", ""]
    for frame, n_arg in FRAMES.items():
        rec = run_benchmark(models, [frame], preset="full", n_samples=getattr(args, n_arg),
                            out=out.parent / out.stem / frame)
        lines += [markdown_table(rec["frames"][frame], frame), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
