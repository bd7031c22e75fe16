"""Single-element frames: do the deep models' defaults train stably? (issue #10, defect 10)

A frame of one element has one atom code only; the review found
``CGNNRegressor()`` at its defaults fitting such a frame (training loss 0.04
standardised) yet predicting held-out cells several times worse than the
mean.  This script measures 5-fold CV MAE (``KFold(5, shuffle=True,
random_state=0)``) next to the mean predictor on
:func:`skcrystal.datasets.make_polymorphs` (strained and rattled copies of
the 13 bundled carbon cells, Morse toy energy per atom), for CGNN variants
(``--settings``) and for every deep regressor at its defaults
(``--models``).  It also reports, per fold, the eval-mode MAE on the
training rows: a model whose eval mode differs from its train mode shows it
there first.

    python benchmarks/bench_single_element.py --n 1000 --epochs 100 --settings batch,layer,none
    python benchmarks/bench_single_element.py --n 400 --models CGNNRegressor,CANNRegressor,NNNRegressor

Results: ``benchmarks/results/single_element_<tag>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def _model(name, epochs, setting):
    from skcrystal import models as M

    kw = dict(random_state=0)
    if epochs:
        kw["max_epochs"] = epochs
    if setting == "uncalibrated":  # BatchNorm with the running statistics of training (the former default)
        kw["callbacks__batchnorm_stats"] = None
    elif setting and setting != "default":
        kw["module__norm"] = None if setting == "none" else setting
    return getattr(M, name)(**kw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--element", default="C")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--strain", type=float, default=0.03)
    ap.add_argument("--rattle", type=float, default=0.03)
    ap.add_argument("--epochs", type=int, default=0, help="0: each model's default")
    ap.add_argument("--models", default="CGNNRegressor")
    ap.add_argument("--settings", default="default",
                    help="default, uncalibrated (no BatchNorm recalibration), or a CGNN norm: batch,layer,none")
    ap.add_argument("--folds", type=int, default=5, help="folds run (of 5)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--tag", default="run")
    args = ap.parse_args(argv)

    import torch
    from sklearn.model_selection import KFold

    from skcrystal.datasets import make_polymorphs

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    df = make_polymorphs(args.element, n_samples=args.n, strain=args.strain, rattle=args.rattle, random_state=0)
    X, y = df["structure"], df["energy_per_atom"].to_numpy()
    folds = list(KFold(5, shuffle=True, random_state=0).split(X))[: args.folds]
    rows = []
    for name in args.models.split(","):
        for setting in args.settings.split(","):
            for k, (tr, te) in enumerate(folds):
                t0 = time.perf_counter()
                m = _model(name, args.epochs, setting).fit(X.iloc[tr], y[tr])
                p, p_tr = m.predict(X.iloc[te]), m.predict(X.iloc[tr])
                loss = m.history_[-1, "train_loss"]
                row = dict(model=name, setting=setting, fold=k, mae=float(np.abs(p - y[te]).mean()),
                           mean_mae=float(np.abs(y[tr].mean() - y[te]).mean()),
                           train_mae_eval=float(np.abs(p_tr - y[tr]).mean()), train_loss=float(loss),
                           max_abs_err=float(np.abs(p - y[te]).max()), fit_s=time.perf_counter() - t0)
                rows.append(row)
                print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"single_element_{args.tag}.json").write_text(json.dumps(dict(args=vars(args), rows=rows), indent=1))
    lines = [f"# Single-element frame ({args.element}, {args.n} rows, strain {args.strain}, rattle {args.rattle} Å; "
             f"5-fold KFold seed 0, {len(folds)} folds run)", "",
             "| model | setting | test MAE (mean ± std) | mean predictor | train MAE (eval mode) | max error |",
             "|---|---|---|---|---|---|"]
    for name in args.models.split(","):
        for setting in args.settings.split(","):
            r = [x for x in rows if x["model"] == name and x["setting"] == setting]
            mae = np.array([x["mae"] for x in r])
            lines.append(f"| {name} | {setting} | {mae.mean():.4f} ± {mae.std():.4f} | "
                         f"{np.mean([x['mean_mae'] for x in r]):.4f} | {np.mean([x['train_mae_eval'] for x in r]):.4f} | "
                         f"{max(x['max_abs_err'] for x in r):.3f} |")
    (RESULTS / f"single_element_{args.tag}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
