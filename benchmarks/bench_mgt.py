"""MGT benchmarks: cost on CPU, 5-fold CV next to CGNN, pretraining, scratch vs pretrained, router weights.

Sections (results in ``benchmarks/results/bench_mgt_<section>[_<tag>].json``)
--------------------------------------------------------------------------
cost
    Side by side in one process, on 256 structures of the perovskite and MP
    frames (graphs prebuilt): parameters, seconds per training epoch (wall and
    process CPU time), and peak resident memory (each model in its own
    subprocess) of MGT at the reference's defaults (width 256, 3 blocks), the
    CPU setting used below, and CGNN's accurate setting; and the equivariant
    convolution alone, e3nn depth-wise (ours) against the reference's fully
    connected per-edge-weighted tensor product, same batch.
cv
    ``--frame``: 5-fold CV MAE with the shared fold rule
    (:func:`skcrystal.evaluation.fixed_folds` on
    :func:`skcrystal.benchmark.load_frame`), graphs built once and cached on
    disk (``--cache``); one JSON line per fold in
    ``bench_mgt_cv_<frame>_<tag>.jsonl`` so a run can be resumed or spread
    over processes (``--fold-ids``).  ``--model cgnn`` runs CGNN's accurate
    setting with the same epochs, for a same-budget comparison.
pretrain
    :class:`~skcrystal.models.MGTPretrainer` on every bundled structure
    (perovskites, MP formation energy, dielectric, elastic; no labels); the
    backbone goes to ``--backbone`` (outside git), the loss terms per epoch
    to the JSON.
finetune
    Per target, fold 0 of the CV: train on 10 %, 30 %, 100 % of the fold's
    training rows (nested, seeded), from scratch and from the pretrained
    backbone; test MAE and the router weights of the test structures
    (``bench_mgt_finetune_<tag>.jsonl``, one line per run).
table
    Markdown tables of everything above (``bench_mgt.md``).

Example (the runs of the docs, each at low priority on one core, ``nice -n 10 env OMP_NUM_THREADS=1``)::

    python benchmarks/bench_mgt.py cost
    python benchmarks/bench_mgt.py cv --frame mp_dielectric --epochs 100
    python benchmarks/bench_mgt.py pretrain --epochs 10
    python benchmarks/bench_mgt.py finetune --epochs 100
    python benchmarks/bench_mgt.py table
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
FRAMES = ("perovskites", "mp_e_form", "mp_dielectric", "mp_log_gvrh")
#: Rows per frame in the CV and fine-tuning runs (0 = every row): the two large frames are subsampled
#: (``load_frame(name, n_samples=2000)``, the shared sampling rule) to fit the CPU budget.
SIZES = {"perovskites": 2000, "mp_e_form": 2000, "mp_dielectric": 0, "mp_log_gvrh": 0}
ATOMS = ("faithful", "cgcnn", "element")
#: Settings that must agree for a CV fold-0 run to stand in for the 100 % scratch fine-tuning run.
_SAME_RUN = ("n", "epochs", "lr", "wd", "batch_size", "width", "layers", "ns", "nv", "angle_width",
             "angle_neighbors", "n_rbf", "hidden", "dropout")


def _conditions():
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg": os.getloadavg(),
    }


def _featurizer(args):
    from skcrystal.featurizers import DualViewGraph

    return DualViewGraph(atom_features=ATOMS, angle_neighbors=args.angle_neighbors, memory=args.cache)


def _net_kwargs(args):
    return dict(width=args.width, n_layers=args.layers, ns=args.ns, nv=args.nv, angle_width=args.angle_width,
                n_rbf=args.n_rbf)


def _cosine(epochs):
    from skorch.callbacks import LRScheduler

    return [("cosine", LRScheduler(policy="CosineAnnealingLR", T_max=max(1, epochs)))]


def make_mgt(args, epochs=None, pretrained=None, seed=0):
    """The CPU setting: MGTRegressor with L1 loss, AdamW + cosine schedule."""
    import torch

    from skcrystal.models import MGTRegressor

    epochs = args.epochs if epochs is None else epochs
    module = {f"module__{k}": v for k, v in _net_kwargs(args).items()}
    if pretrained is not None:  # the backbone's sizes come from the pretrained file
        module = {}
    return MGTRegressor(featurizer=_featurizer(args), criterion=torch.nn.L1Loss, lr=args.lr, max_epochs=epochs,
                        batch_size=args.batch_size, callbacks=_cosine(epochs), optimizer__weight_decay=args.wd,
                        module__hidden_dim=args.hidden, module__dropout=args.dropout, pretrained=pretrained,
                        random_state=seed, **module)


def make_cgnn(args, epochs=None, seed=0):
    """CGNN's accurate setting (docs/graphs, skcrystal.benchmark 'full'), with the given epochs."""
    import torch

    from skcrystal.featurizers import CrystalGraph
    from skcrystal.models import CGNNRegressor

    epochs = args.epochs if epochs is None else epochs
    return CGNNRegressor(featurizer=CrystalGraph(atom_features=ATOMS), module__conv="edge_gated",
                         module__atom_fea_len=128, module__h_fea_len=256, criterion=torch.nn.L1Loss,
                         max_epochs=epochs, lr=1e-3, batch_size=64, callbacks=_cosine(epochs), random_state=seed)


def make_crystalformer(args, epochs=None, seed=0):
    """Crystalformer at the reference architecture and recipe (its defaults), with the given epochs."""
    from skcrystal.models import CrystalformerRegressor

    epochs = args.epochs if epochs is None else epochs
    return CrystalformerRegressor(max_epochs=epochs, random_state=seed)


def _folds(n):
    from skcrystal.evaluation import fixed_folds

    return list(fixed_folds(5).split(np.zeros(n)))


def _load(frame, n=None):
    from skcrystal.benchmark import load_frame

    n = SIZES[frame] if n is None or n < 0 else n
    X, y = load_frame(frame, n_samples=n)
    return X.reset_index(drop=True), y.reset_index(drop=True)


def _done(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _append(path, row):
    with open(path, "a") as fh:
        fh.write(json.dumps(row) + "\n")


# --------------------------------------------------------------------------- cost
_COST_CHILD = r"""
import json, sys, time, warnings
import numpy as np, torch
torch.set_num_threads(1)
sys.path.insert(0, {bench!r})
import bench_mgt as B
from skcrystal.benchmark import _PeakRSS
args = B.parse([{section!r}] + {argv!r})
name, frame = {name!r}, {frame!r}
X, y = B._load(frame, 0)
X, y = X.iloc[:{n}], y.iloc[:{n}]
est = {{"mgt_reference": lambda: B.make_mgt_reference(args), "mgt_cpu": lambda: B.make_mgt(args, epochs=1),
        "cgnn": lambda: B.make_cgnn(args, epochs=1)}}[name]()
Xf = est._default_featurizer().fit_transform(X) if est.featurizer is None else est.featurizer.fit_transform(X)
est.set_params(featurizer=None, max_epochs=1, callbacks=None)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    est.fit(Xf[:32], y.iloc[:32])  # warm-up: module build, e3nn code generation
    with _PeakRSS() as mem:
        t0, c0 = time.perf_counter(), time.process_time()
        est.partial_fit(Xf, y)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
n_params = sum(p.numel() for p in est.module_.parameters())
print(json.dumps({{"model": name, "frame": frame, "n": len(Xf), "epoch_wall_s": wall, "epoch_cpu_s": cpu,
                  "peak_rss_mb": mem.peak_mb, "params": int(n_params)}}))
"""


def make_mgt_reference(args):
    """MGT at the reference's sizes (the estimator's defaults), L1 loss, one epoch."""
    import torch

    from skcrystal.models import MGTRegressor

    return MGTRegressor(featurizer=_featurizer(args), criterion=torch.nn.L1Loss, max_epochs=1,
                        batch_size=args.batch_size, random_state=0)


def _tp_cost(args):
    """Equivariant convolution alone: ours (depth-wise) vs the reference's fully connected TP, same batch."""
    import torch
    from e3nn import o3

    from skcrystal.nn.data import collate_dual_views
    from skcrystal.nn.layers import scatter_mean
    from skcrystal.nn.mgt import EquivariantConv

    torch.set_num_threads(1)
    X, _ = _load("mp_e_form", 0)
    graphs = list(_featurizer(args).fit_transform(X.iloc[:64])[:, 0])
    inp = collate_dual_views(graphs)
    n, dst, src = inp["atom_features"].shape[0], inp["edge_index"][0], inp["edge_index"][1]
    width, ns, nv = 256, 64, 8
    edge = torch.randn(inp["edge_index"].shape[1], width)
    out = {}

    def timed(f, reps=3):
        best = []
        for _ in range(reps):
            c0 = time.process_time()
            f()
            best.append(time.process_time() - c0)
        return min(best)

    ours = EquivariantConv(ns, nv, width, sh_lmax=2, radial_hidden=ns)
    sh = o3.spherical_harmonics(ours.irreps_sh, inp["edge_vector"], normalize=True, normalization="component")
    x = torch.randn(n, ns + 3 * nv, requires_grad=True)
    out["ours_depthwise_s"] = timed(lambda: ours(x, dst, src, sh, edge).sum().backward())
    out["ours_weights_per_edge"] = int(ours.tp.weight_numel)
    # the reference (torsional-diffusion layer): fully connected TP, per-edge weights from a width->width MLP
    tp1 = o3.FullyConnectedTensorProduct(f"{ns}x0e", ours.irreps_sh, f"{ns}x0e + {nv}x1o + {nv}x2e",
                                         shared_weights=False)
    tp2 = o3.FullyConnectedTensorProduct(f"{ns}x0e + {nv}x1o + {nv}x2e", ours.irreps_sh, f"{ns}x0e",
                                         shared_weights=False)
    fc1 = torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.Softplus(), torch.nn.Linear(width, tp1.weight_numel))
    fc2 = torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.Softplus(), torch.nn.Linear(width, tp2.weight_numel))
    s = torch.randn(n, ns, requires_grad=True)

    def reference():
        h = scatter_mean(tp1(s[src], sh, fc1(edge)), dst, n)
        h = scatter_mean(tp2(h[src], sh, fc2(edge)), dst, n)
        h.sum().backward()

    out["reference_fc_s"] = timed(reference)
    out["reference_weights_per_edge"] = int(tp1.weight_numel + tp2.weight_numel)
    out["n_edges"] = int(inp["edge_index"].shape[1])
    out["ratio"] = out["reference_fc_s"] / out["ours_depthwise_s"]
    return out


def run_cost(args):
    record = {"section": "cost", "conditions": _conditions(), "config": vars(args), "rows": []}
    argv = sys.argv[2:]
    for frame in args.cost_frames.split(","):
        for name in ("cgnn", "mgt_cpu", "mgt_reference"):
            code = _COST_CHILD.format(bench=str(Path(__file__).parent), section="cost", argv=argv, name=name,
                                      frame=frame, n=args.n_cost)
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 env={**os.environ, "OMP_NUM_THREADS": "1"})
            if res.returncode:
                print(res.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"cost child {name}/{frame} failed")
            row = json.loads(res.stdout.strip().splitlines()[-1])
            print(row, flush=True)
            record["rows"].append(row)
    record["equivariant_conv"] = _tp_cost(args)
    print(record["equivariant_conv"], flush=True)
    out = RESULTS / f"bench_mgt_cost{_tag(args)}.json"
    out.write_text(json.dumps(record, indent=1))
    print("wrote", out)


# --------------------------------------------------------------------------- cv
def _router_stats(est, X):
    w = est.router_weights(X)["se3"]
    return {"router_se3_mean": float(w.mean()), "router_se3_std": float(w.std()),
            "router_se3_q": np.quantile(w, [0.1, 0.5, 0.9]).tolist(),
            "router_se3": [round(float(v), 5) for v in w]}


def run_cv(args):
    X, y = _load(args.frame, args.n)
    args.n = len(X)
    folds = _folds(len(X))
    path = RESULTS / f"bench_mgt_cv_{args.frame}_{args.model}{_tag(args)}.jsonl"
    done = {r["fold"] for r in _done(path)}
    ids = [int(i) for i in args.fold_ids.split(",")] if args.fold_ids else range(5)
    for k in ids:
        if k in done:
            continue
        tr, te = folds[k]
        est = {"mgt": make_mgt, "cgnn": make_cgnn, "crystalformer": make_crystalformer}[args.model](args)
        t0 = time.perf_counter()
        c0 = time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X.iloc[tr], y.iloc[tr])
        fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
        pred = est.predict(X.iloc[te])
        row = {"frame": args.frame, "model": args.model, "fold": k, "n": len(X), "n_train": len(tr),
               "mae": float(np.mean(np.abs(pred - y.iloc[te].to_numpy()))), "fit_s": fit_s, "fit_cpu_s": fit_cpu,
               "train_loss_last": float(est.history_[-1, "train_loss"]), "epochs": args.epochs,
               "config": vars(args), "conditions": _conditions()}
        if args.model == "mgt":
            row.update(_router_stats(est, X.iloc[te]))
        _append(path, row)
        print(f"{args.frame} {args.model} fold {k}: MAE {row['mae']:.4f}  fit {fit_s:.0f}s (cpu {fit_cpu:.0f}s)",
              flush=True)


# --------------------------------------------------------------------------- pretrain
def run_pretrain(args):
    import pandas as pd

    from skcrystal.models import MGTPretrainer

    parts = [_load(f, 0)[0] for f in FRAMES]  # every row of every frame, no labels
    X = pd.concat(parts, ignore_index=True)
    if args.n_pretrain:
        X = X.sample(n=args.n_pretrain, random_state=0)
    pre = MGTPretrainer(featurizer=_featurizer(args), lr=args.lr, max_epochs=args.epochs,
                        batch_size=args.batch_size, callbacks=_cosine(args.epochs), random_state=0, verbose=1,
                        **{f"module__{k}": v for k, v in _net_kwargs(args).items()})
    t0, c0 = time.perf_counter(), time.process_time()
    pre.fit(X)
    rec = {"section": "pretrain", "n_structures": len(X), "frames": FRAMES, "fit_s": time.perf_counter() - t0,
           "fit_cpu_s": time.process_time() - c0, "config": vars(args), "conditions": _conditions(),
           "history": {k: [float(v) for v in pre.history_[:, k]]
                       for k in ("train_loss", "train_contrastive", "train_angle", "train_vector")}}
    pre.save_backbone(args.backbone)
    out = RESULTS / f"bench_mgt_pretrain{_tag(args)}.json"
    out.write_text(json.dumps(rec, indent=1))
    print("wrote", out, "and", args.backbone)


# --------------------------------------------------------------------------- finetune
def _cv_fold0(frame, args):
    """The CV's fold-0 MGT run with the same settings, if there is one (it is the 100 % scratch run)."""
    for p in sorted(RESULTS.glob(f"bench_mgt_cv_{frame}_mgt*.jsonl")):
        for r in _done(p):
            if r["fold"] == 0 and all(r["config"].get(k) == getattr(args, k) for k in _SAME_RUN):
                return r
    return None


def run_finetune(args):
    path = RESULTS / f"bench_mgt_finetune{_tag(args)}.jsonl"
    done = {(r["frame"], r["fraction"], r["start"]) for r in _done(path)}
    frames = args.frames.split(",") if args.frames else FRAMES
    n_arg = args.n
    for frame in frames:
        X, y = _load(frame, n_arg)
        args.n = len(X)
        tr, te = _folds(len(X))[0]
        order = np.random.RandomState(0).permutation(tr)
        for frac in (float(f) for f in args.fractions.split(",")):
            sub = np.sort(order[: max(8, int(round(frac * len(tr))))])
            for start in ("scratch", "pretrained"):
                if (frame, frac, start) in done:
                    continue
                base = {"frame": frame, "fraction": frac, "start": start, "n_train": len(sub), "n_test": len(te),
                        "config": vars(args).copy(), "conditions": _conditions()}
                cv = _cv_fold0(frame, args) if (start == "scratch" and frac == 1.0) else None
                if cv is not None:
                    row = {**base, "mae": cv["mae"], "fit_s": cv["fit_s"], "from_cv": True,
                           **{k: cv[k] for k in cv if k.startswith("router_")}}
                else:
                    # the same epochs for every fraction (fewer optimiser steps on fewer labels, as a user would)
                    est = make_mgt(args, pretrained=args.backbone if start == "pretrained" else None)
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        est.fit(X.iloc[sub], y.iloc[sub])
                    pred = est.predict(X.iloc[te])
                    row = {**base, "mae": float(np.mean(np.abs(pred - y.iloc[te].to_numpy()))),
                           "fit_s": time.perf_counter() - t0, **_router_stats(est, X.iloc[te])}
                _append(path, row)
                print(f"{frame} {frac:.0%} {start}: MAE {row['mae']:.4f} se3 weight {row['router_se3_mean']:.3f}"
                      f"  ({row['fit_s']:.0f}s)", flush=True)


# --------------------------------------------------------------------------- table
def _gbt_rows():
    """GBT/Dummy on the same rows and folds (``skcrystal.benchmark.run_benchmark``, ``bench_mgt_gbt_<frame>_n<n>.json``)."""
    out = {}
    for p in sorted(RESULTS.glob("bench_mgt_gbt_*_n*.json")):
        rec = json.loads(p.read_text())
        for frame, fr in rec["frames"].items():
            for model, m in fr["models"].items():
                out[(frame, fr["n"], model.lower())] = {"mae": m["mae"], "folds": m["folds"], "stem": p.stem,
                                                        "cpu_s": m.get("cpu_s")}
    return out


def run_table(args):
    lines = []
    for cost in sorted(RESULTS.glob("bench_mgt_cost*.json")):
        rec = json.loads(cost.read_text())
        lines += [f"## Cost on CPU ({cost.stem}: one thread, {rec['config']['n_cost']} structures, one epoch)", "",
                  "| frame | model | params | epoch wall (s) | epoch CPU (s) | peak RSS (MB) |", "|---|---|---|---|---|---|"]
        for r in rec["rows"]:
            lines.append(f"| {r['frame']} | {r['model']} | {r['params']:,} | {r['epoch_wall_s']:.1f} | "
                         f"{r['epoch_cpu_s']:.1f} | {r['peak_rss_mb']:.0f} |")
        e = rec["equivariant_conv"]
        lines += ["", f"Equivariant convolution alone (64 MP structures, {e['n_edges']} edges, forward+backward CPU "
                  f"s): ours (depth-wise e3nn TP, {e['ours_weights_per_edge']} weights per edge) "
                  f"{e['ours_depthwise_s']:.3f} s; the reference's two fully connected TPs "
                  f"({e['reference_weights_per_edge']} weights per edge) {e['reference_fc_s']:.3f} s "
                  f"(x{e['ratio']:.1f}).", ""]
    cv = {}
    for p in sorted(RESULTS.glob("bench_mgt_cv_*.jsonl")):
        for r in _done(p):
            cv.setdefault((r["frame"], r["n"], r["config"].get("tag", "")), {}).setdefault(r["model"], {})[
                r["fold"]] = r
    gbt = _gbt_rows()
    pairs = []
    if cv:
        lines += ["## CV on the shared folds (MAE on each fold's test rows)", "",
                  "| frame | rows | epochs | model | folds | MAE (mean ± std) | per fold | fit CPU / fold (s) |",
                  "|---|---|---|---|---|---|---|---|"]
        for (frame, n, tag), models in sorted(cv.items()):
            for model in ("mgt", "cgnn", "crystalformer"):
                rows = models.get(model, {})
                if not rows:
                    continue
                m = np.array([rows[k]["mae"] for k in sorted(rows)])
                per = ", ".join(f"{rows[k]['mae']:.3f}" for k in sorted(rows))
                ep = next(iter(rows.values()))["epochs"]
                label = "Crystalformer" if model == "crystalformer" else model.upper()
                lines.append(f"| {frame} | {n} | {ep} | {label} | {len(rows)} | {m.mean():.4f} ± {m.std():.4f} "
                             f"| {per} | {np.mean([r['fit_cpu_s'] for r in rows.values()]):.0f} |")
            folds = sorted(set(models.get("mgt", {})) & set(models.get("cgnn", {})))
            for model in ("gbt", "dummy"):
                g = gbt.get((frame, n, model))
                if g and folds:
                    m = np.array([g["mae"][g["folds"].index(k)] for k in folds])
                    per = ", ".join(f"{v:.3f}" for v in m)
                    lines.append(f"| {frame} | {n} | – | {model.upper() if model == 'gbt' else 'Dummy'} | {len(folds)} "
                                 f"| {m.mean():.4f} ± {m.std():.4f} | {per} | – |")
            if folds:
                wins = sum(models["mgt"][k]["mae"] <= models["cgnn"][k]["mae"] for k in folds)
                mean = {m: np.mean([models[m][k]["mae"] for k in folds]) for m in ("mgt", "cgnn")}
                pairs.append(f"{frame} ({n} rows): MGT ≤ CGNN on {wins} of {len(folds)} folds; "
                             f"mean MAE MGT {mean['mgt']:.4f} vs CGNN {mean['cgnn']:.4f}.")
        lines += [""] + pairs
        lines += ["", "## Router weights per task (MGT, test rows of each CV fold; weight of the SE(3) view, the "
                  "SO(3) view gets 1 minus it)", "",
                  "| frame | folds | mean SE(3) weight (per fold) | 10 % / 50 % / 90 % quantile over structures |",
                  "|---|---|---|---|"]
        for (frame, n, tag), models in sorted(cv.items()):
            rows = models.get("mgt", {})
            if not rows:
                continue
            allw = np.concatenate([r.get("router_se3", []) for r in rows.values()])
            q = np.quantile(allw, [0.1, 0.5, 0.9]) if len(allw) else [np.nan] * 3
            per = ", ".join(f"{rows[k]['router_se3_mean']:.2f}" for k in sorted(rows))
            lines.append(f"| {frame} | {len(rows)} | {np.mean([r['router_se3_mean'] for r in rows.values()]):.3f} "
                         f"({per}) | {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} |")
        lines.append("")
    for pre in sorted(RESULTS.glob("bench_mgt_pretrain*.json")):
        rec = json.loads(pre.read_text())
        h = rec["history"]
        lines += [f"## Pretraining ({pre.stem}: {rec['n_structures']} unlabeled structures, "
                  f"{len(h['train_loss'])} epochs, {rec['fit_cpu_s']:.0f} s CPU)", "",
                  "| loss term | first epoch | last epoch |", "|---|---|---|"]
        for k in ("train_loss", "train_contrastive", "train_angle", "train_vector"):
            lines.append(f"| {k[6:]} | {h[k][0]:.4f} | {h[k][-1]:.4f} |")
        lines.append("")
    for ft in sorted(RESULTS.glob("bench_mgt_finetune*.jsonl")):
        rows = _done(ft)
        lines += [f"## Scratch vs pretrained ({ft.stem}; fold 0, MAE on the fold's test rows)", "",
                  "| frame | labels | n_train | scratch | pretrained | SE(3) weight scratch | SE(3) weight pretrained |",
                  "|---|---|---|---|---|---|---|"]
        keyed = {(r["frame"], r["fraction"], r["start"]): r for r in rows}
        for frame, frac in sorted({(r["frame"], r["fraction"]) for r in rows}):
            s, p = keyed.get((frame, frac, "scratch")), keyed.get((frame, frac, "pretrained"))
            fmt = (lambda r, k, f: f"{r[k]:{f}}" if r else "–")
            lines.append(f"| {frame} | {frac:.0%} | {(s or p)['n_train']} | {fmt(s, 'mae', '.4f')} | "
                         f"{fmt(p, 'mae', '.4f')} | {fmt(s, 'router_se3_mean', '.3f')} | "
                         f"{fmt(p, 'router_se3_mean', '.3f')} |")
        lines.append("")
    out = RESULTS / "bench_mgt.md"
    out.write_text("\n".join(lines) + "\n")
    (RESULTS / "bench_mgt.rst").write_text(_md_to_rst(lines))  # included by docs/mgt.rst
    print("\n".join(lines))


def _md_to_rst(lines):
    """The markdown of :func:`run_table` as reStructuredText: ``##`` headings, list-tables, paragraphs."""
    out, table = [], []

    def flush():
        if not table:
            return
        rows = [[c.strip() for c in row.strip().strip("|").split("|")] for row in table
                if not set(row.replace("|", "").strip()) <= set("-: ")]
        out.extend(["", ".. list-table::", "   :header-rows: 1", ""])
        for row in rows:
            out.append(f"   * - {row[0]}")
            out.extend(f"     - {c}" for c in row[1:])
        out.append("")
        table.clear()

    for line in lines:
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("## "):
            title = line[3:]
            out.extend([title, "~" * len(title)])
        else:
            out.append(line)
    flush()
    return "\n".join(out) + "\n"


def _tag(args):
    return f"_{args.tag}" if args.tag else ""


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("section", choices=["cost", "cv", "pretrain", "finetune", "table"])
    p.add_argument("--frame", default="mp_dielectric", choices=FRAMES)
    p.add_argument("--frames", default="", help="finetune: comma-separated frames (default all four)")
    p.add_argument("--model", default="mgt", choices=["mgt", "cgnn", "crystalformer"])
    p.add_argument("--n", type=int, default=-1, help="rows per frame (0 = all; default: SIZES)")
    p.add_argument("--n-cost", type=int, default=256)
    p.add_argument("--cost-frames", default="perovskites,mp_e_form")
    p.add_argument("--fold-ids", default="")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--wd", type=float, default=1e-2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--ns", type=int, default=32)
    p.add_argument("--nv", type=int, default=8)
    p.add_argument("--angle-width", type=int, default=16)
    p.add_argument("--angle-neighbors", type=int, default=8)
    p.add_argument("--n-rbf", type=int, default=64)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--fractions", default="0.1,0.3,1.0")
    p.add_argument("--n-pretrain", type=int, default=0, help="pretrain on a sample of this many structures")
    p.add_argument("--backbone", default="/tmp/mgt_backbone.pt")
    p.add_argument("--cache", default="/tmp/mgt-graph-cache")
    p.add_argument("--tag", default="")
    return p.parse_args(argv)


def main():
    import torch

    torch.set_num_threads(1)
    args = parse()
    {"cost": run_cost, "cv": run_cv, "pretrain": run_pretrain, "finetune": run_finetune, "table": run_table}[
        args.section](args)


if __name__ == "__main__":
    main()
