"""5-fold CV (fixed folds) of Dummy, GBT and NNN on the bundled perovskites and MP formation-energy frames.

Writes a markdown table per dataset (MAE mean ± std, fit and predict time per
fold) to ``benchmarks/results/models.md`` and prints it.  Other model families
(CGNN, CANN, CCNN) have their own scripts that reuse the same folds
(:func:`skcrystal.evaluation.fixed_folds`).

    python benchmarks/bench_models.py                  # full frames (slow: NNN dominates)
    python benchmarks/bench_models.py --n-perovskites 1000 --n-mp 500   # the subsets of bench_graph.py
    python benchmarks/bench_models.py --models Dummy,GBT --out benchmarks/results/models_full_gbt.md
"""

import argparse
import platform
import time
import warnings
from pathlib import Path

import torch
from sklearn.dummy import DummyRegressor

from skcrystal.datasets import load_mp_formation_energy, load_perovskites
from skcrystal.evaluation import cross_validate_models, results_table
from skcrystal.models import GBTRegressor, NNNRegressor

DATASETS = {
    "perovskites (heat_ref, eV/cell)": (load_perovskites, "heat_ref", "n_perovskites"),
    "mp_formation_energy (eV/atom)": (load_mp_formation_energy, "formation_energy_per_atom", "n_mp"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-perovskites", type=int, default=0, help="perovskite subsample (0 = all rows)")
    ap.add_argument("--n-mp", type=int, default=0, help="MP formation-energy subsample (0 = all rows)")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=1000, help="NNN width (3 layers; the paper: 1000)")
    ap.add_argument("--models", default="Dummy,GBT,NNN", help="comma-separated subset of Dummy,GBT,NNN")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "models.md"))
    args = ap.parse_args()
    lines = [f"# Model benchmark ({time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()}, "
             f"{torch.get_num_threads()} torch threads, KFold(5, shuffle=True, random_state=0), "
             f"models {args.models}, NNN "
             f"{args.epochs} epochs width {args.hidden})", ""]
    for title, (loader, target, n_arg) in DATASETS.items():
        n = getattr(args, n_arg)
        df = loader(n_samples=n, random_state=0) if n else loader()
        print(f"== {title}: {len(df)} structures")
        models = {
            "Dummy": DummyRegressor(),
            "GBT": GBTRegressor(random_state=0),
            "NNN": NNNRegressor(max_epochs=args.epochs, module__hidden=(args.hidden,) * 3, batch_size=128,
                                lr=1e-3, random_state=0),
        }
        models = {k: v for k, v in models.items() if k in args.models.split(",")}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results, _ = cross_validate_models(models, df["structure"], df[target])
        table = results_table(results)
        print(table)
        lines += [f"## {title}, {len(df)} structures, 5-fold CV", "", table, ""]
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
