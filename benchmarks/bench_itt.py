"""Benchmark of the Interaction Topological Transformer (issue 13) and its baselines.

Steps (each resumable, run at low priority on one core, ``nice -n 10 env OMP_NUM_THREADS=1``)::

    python benchmarks/bench_itt.py tokens --frame coremof   # ITT tokens, chunks of 50 structures

The tokens of a frame (PIH + crystal graph + atom groups) are computed once
and saved under ``benchmarks/cache/tokens_<frame>_<setting>/`` (git-ignored);
every model and fold reuses them.  Frames:

``coremof``
    ``load_core_mof("2019-ASR", max_atoms=300, n_samples=1040, random_state=0)``
    (about 1000 frameworks after the validation drops), tokens ``p32``.
``coremof_extra``
    the frameworks of ``n_samples=2100`` (same filter and seed) that are not
    in ``coremof``: unlabeled pretraining data.
``mofs``
    the 11 bundled MOFs (unlabeled pretraining data).
``perovskites`` / ``mp``
    ``load_perovskites(n_samples=1000, random_state=0)`` /
    ``load_mp_formation_energy(n_samples=1000, random_state=0)``, tokens
    ``p16`` (``ITTTokenizer(mode="periodic")``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "cache"
RESULTS = ROOT / "results"

#: the fixed CoRE MOF subset of the benchmark (about 1000 after the validation drops)
COREMOF = dict(subset="2019-ASR", max_atoms=300, n_samples=1040, random_state=0)
#: a disjoint set of more CoRE MOFs (<= 300 sites), unlabeled pretraining data
COREMOF_EXTRA = dict(subset="2019-ASR", max_atoms=300, n_samples=2100, random_state=0)
COREMOF_TARGETS = ("LCD", "PLD", "AV_VF", "ASA_m2_g")
SMALL_N = 1000
#: token settings: ``p32`` periodic interactions + 32 Å supercell for the structure/cluster tokens (MOFs),
#: ``p16`` = ``ITTTokenizer(mode="periodic")`` (small cells), ``exact`` = ITT's reference features
SETTINGS = {
    "p32": dict(periodic=True, supercell_length=32.0),
    "p16": dict(periodic=True, supercell_length=16.0),
    "exact": dict(),
}
FRAME_SETTING = {"coremof": "p32", "coremof_extra": "p32", "mofs": "p32", "perovskites": "p16", "mp": "p16"}


def _quiet_core_mof(**kw):
    import skcrystal.datasets as D

    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        df = D.load_core_mof(**kw)
    for x in w:
        print("warning:", str(x.message)[:300], flush=True)
    return df


def load_frame(name):
    """The benchmark frame ``name`` (index = row key used for the cache files)."""
    import skcrystal.datasets as D

    if name == "coremof":
        return _quiet_core_mof(**COREMOF)
    if name == "coremof_extra":
        sub = _quiet_core_mof(**COREMOF)
        big = _quiet_core_mof(**COREMOF_EXTRA)
        return big.loc[~big.index.isin(sub.index)]
    if name == "mofs":
        return D.load_mofs()
    if name == "perovskites":
        df = D.load_perovskites(n_samples=SMALL_N, random_state=0)
    elif name == "mp":
        df = D.load_mp_formation_energy(n_samples=SMALL_N, random_state=0)
    else:
        raise SystemExit(f"unknown frame {name!r}")
    df.index = [f"{name}_{i}" for i in df.index]
    return df


def tokenizer(setting):
    from skcrystal.featurizers import ITTTokenizer, PersistentInteractionHomology

    return ITTTokenizer(pih=PersistentInteractionHomology(output="tokens", **SETTINGS[setting]))


def token_dir(frame, setting):
    return CACHE / f"tokens_{frame}_{setting}"


def load_tokens(frame, setting=None, index=None):
    """The cached ITTTokens of a frame as a Series (index = row keys)."""
    import pickle

    import pandas as pd

    setting = setting or FRAME_SETTING[frame]
    out = {}
    for path in sorted(token_dir(frame, setting).glob("chunk_*.pkl")):
        with open(path, "rb") as f:
            out.update(pickle.load(f))
    s = pd.Series(out, dtype=object)
    return s if index is None else s.loc[list(index)]


def cmd_tokens(args):
    """Featurize a frame in chunks of 50 structures (resumable), timing each structure."""
    import pickle

    setting = args.setting or FRAME_SETTING[args.frame]
    df = load_frame(args.frame)
    out = token_dir(args.frame, setting)
    out.mkdir(parents=True, exist_ok=True)
    tok = tokenizer(setting).fit(df["structure"].iloc[:1])
    keys = list(df.index)
    chunks = [keys[i: i + 50] for i in range(0, len(keys), 50)]
    print(f"{args.frame} ({setting}): {len(df)} structures, {len(chunks)} chunks", flush=True)
    times = []
    for c, chunk in enumerate(chunks):
        path = out / f"chunk_{c:04d}.pkl"
        if path.exists():
            continue
        res, rows = {}, []
        for key in chunk:
            s = df.at[key, "structure"]
            t0 = time.process_time()
            res[key] = tok._tokens(s)
            dt = time.process_time() - t0
            times.append(dt)
            rows.append({"key": key, "nsites": len(s), "cpu_s": dt})
        with open(path.with_suffix(".tmp"), "wb") as f:
            pickle.dump(res, f)
        path.with_suffix(".tmp").replace(path)
        with open(out / "times.jsonl", "a") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        print(f"  chunk {c + 1}/{len(chunks)}: median {np.median(times):.2f} s CPU per structure", flush=True)
    print("done", flush=True)


#: The ITT of the reference code (the estimators' defaults) and the reduced one the CPU benchmarks train.
ITT_FULL = dict(module__hidden=256, module__n_layers=8, module__n_heads=8, module__ffn=1024, module__atom_fea_len=128,
                module__n_conv=4)
ITT_BENCH = dict(module__hidden=64, module__n_layers=3, module__n_heads=4, module__ffn=256, module__atom_fea_len=48,
                 module__n_conv=3)
#: pretraining data: every structure of the CoRE MOF subset + the other bundled frames (unlabeled)
PRETRAIN_FRAMES = ("coremof", "mofs", "perovskites", "mp")


def _peak_rss_mb():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cmd_epoch(args):
    """Seconds per training epoch (batch 32, one thread), parameters and peak memory of one configuration."""
    import torch

    from skcrystal.models import CGNNRegressor, ITTRegressor

    torch.set_num_threads(1)
    tokens = load_tokens("coremof")
    n = min(args.n, len(tokens))
    X = tokens.iloc[:n].to_numpy()
    y = np.random.RandomState(0).randn(n)
    if args.config == "cgnn":
        X = np.array([t.graph for t in X], dtype=object)
        est = CGNNRegressor(max_epochs=1, batch_size=32, random_state=0)
    else:
        cfg = ITT_FULL if args.config == "itt_full" else ITT_BENCH
        est = ITTRegressor(max_epochs=1, batch_size=32, random_state=0, **cfg)
    rss0 = _peak_rss_mb()
    est.fit(X, y)  # warm-up epoch (allocations)
    t0, c0 = time.perf_counter(), time.process_time()
    est.partial_fit(X, y)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    n_params = sum(p.numel() for p in est.module_.parameters())
    row = {"config": args.config, "n_structures": n, "batch_size": 32, "wall_s": dt, "cpu_s": cpu,
           "cpu_s_per_structure": cpu / n, "load_avg": os.getloadavg()[0], "parameters": int(n_params), "peak_rss_mb": _peak_rss_mb(),
           "rss_before_mb": rss0, "atom_tokens_mean": float(np.mean([t.n_groups for t in tokens.iloc[:n]])),
           "atoms_mean": float(np.mean([t.graph.n_atoms for t in tokens.iloc[:n]]))}
    print(json.dumps(row), flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "bench_itt_epoch.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


BACKBONE = CACHE / "itt_backbone_coremof.pt"


def _itt_common(args, lr=None):
    from skorch.callbacks import LRScheduler

    epochs = args.epochs
    return dict(max_epochs=epochs, lr=lr or args.lr, batch_size=32, random_state=0,
                callbacks=[("cosine", LRScheduler(policy="CosineAnnealingLR", T_max=epochs))])


def cmd_pretrain(args):
    """Masked-token pretraining on the CoRE MOF subset + the other bundled frames (no labels)."""
    import torch

    from skcrystal.models import ITTPretrainer

    torch.set_num_threads(1)
    parts = [load_tokens(f) for f in PRETRAIN_FRAMES]
    X = np.concatenate([p.to_numpy() for p in parts])
    print(f"pretraining on {len(X)} structures ({[len(p) for p in parts]})", flush=True)
    from skorch.callbacks import LRScheduler

    pre = ITTPretrainer(max_epochs=args.epochs, lr=args.lr, batch_size=32, mask_ratio=args.mask_ratio,
                        random_state=0, verbose=1, **ITT_BENCH,
                        callbacks=[("cosine", LRScheduler(policy="CosineAnnealingLR", T_max=args.epochs))])
    t0 = time.perf_counter()
    pre.fit(X)
    dt = time.perf_counter() - t0
    pre.save_backbone(BACKBONE)
    row = {"n_structures": len(X), "parts": dict(zip(PRETRAIN_FRAMES, [len(p) for p in parts])), "epochs": args.epochs, "lr": args.lr,
           "mask_ratio": args.mask_ratio, "fit_s": dt, "train_loss": list(map(float, pre.history[:, "train_loss"])),
           "config": {k.replace("module__", ""): v for k, v in ITT_BENCH.items()}}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_itt_pretrain.json").write_text(json.dumps(row, indent=1))
    print(f"saved {BACKBONE}; loss {row['train_loss'][0]:.3f} -> {row['train_loss'][-1]:.3f} in {dt:.0f}s",
          flush=True)


def _model(name, args):
    from sklearn.feature_selection import VarianceThreshold
    from sklearn.pipeline import make_pipeline

    from skcrystal.benchmark import MODELS
    from skcrystal.featurizers import CompositionFeatures
    from skcrystal.models import GBTRegressor, ITTRegressor

    if name == "gbt_pih":
        return make_pipeline(VarianceThreshold(0.0), GBTRegressor(n_jobs=1, random_state=0))
    if name == "gbt_comp":
        return GBTRegressor(featurizer=CompositionFeatures(), n_jobs=1, random_state=0)
    if name == "gbt":
        return MODELS["GBT"].make("standard")
    if name == "cgnn":  # CGCNN convolutions on the same graphs as ITT's atom stream, same schedule
        from skcrystal.models import CGNNRegressor

        return CGNNRegressor(**_itt_common(args, lr=1e-3))
    if name == "itt":
        return ITTRegressor(**ITT_BENCH, **_itt_common(args))
    if name == "itt_pre":
        return ITTRegressor(pretrained=str(BACKBONE), **_itt_common(args))
    raise SystemExit(f"unknown model {name!r}")


def _flat(tokens):
    return np.stack([np.concatenate([t.structure.ravel(), t.clusters.ravel(), t.interactions.ravel()])
                     for t in tokens]).astype(np.float32)


def _done(path):
    if not path.exists():
        return set()
    return {(r["model"], r["target"], r["fold"], r["fraction"]) for r in map(json.loads, path.read_text().splitlines())}


NEURAL = ("itt", "itt_pre", "cgnn")


def cmd_cv(args):
    """5-fold CV (fixed_folds) on a frame; one JSON line per (model, target, fold, fraction).

    GBTs are fitted per target; the neural networks once per fold on all the
    frame's targets together (one output each, standardised per column).
    Folds run in the outer loop, so a partial run gives complete folds.
    """
    import torch

    from skcrystal.evaluation import fixed_folds

    torch.set_num_threads(1)
    df = load_frame(args.frame)
    tokens = load_tokens(args.frame, index=df.index)
    targets = args.targets.split(",") if args.targets else (
        list(COREMOF_TARGETS) if args.frame == "coremof" else [TARGET[args.frame]])
    out = RESULTS / f"bench_itt_{args.frame}{'_' + args.tag if args.tag else ''}.jsonl"
    RESULTS.mkdir(exist_ok=True)
    done = _done(out)
    folds = list(fixed_folds().split(np.zeros(len(df))))
    fold_ids = [int(f) for f in args.folds.split(",")] if args.folds else range(len(folds))
    graphs = np.empty(len(tokens), dtype=object)
    graphs[:] = [t.graph for t in tokens]
    inputs = {"gbt_pih": None, "gbt_comp": df["structure"], "gbt": df["structure"], "cgnn": graphs,
              "itt": tokens.to_numpy(), "itt_pre": tokens.to_numpy()}
    Y = df[targets].to_numpy(dtype=float)
    for k in fold_ids:
        for name in args.models.split(","):
            if name == "gbt_pih" and inputs["gbt_pih"] is None:
                inputs["gbt_pih"] = _flat(tokens)
            X = inputs[name]
            take = (lambda idx, X=X: X.iloc[idx]) if hasattr(X, "iloc") else (lambda idx, X=X: X[idx])
            groups = [targets] if name in NEURAL else [[t] for t in targets]
            for group in groups:
                todo = [t for t in group if (name, t, k, args.fraction) not in done]
                if not todo:
                    continue
                cols = [targets.index(t) for t in group]
                tr, te = folds[k]
                if args.fraction < 1:
                    rng = np.random.RandomState(k)
                    tr = np.sort(rng.choice(tr, int(round(args.fraction * len(tr))), replace=False))
                y = Y[:, cols] if len(cols) > 1 else Y[:, cols[0]]
                est = _model(name, args)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    c0 = time.process_time()
                    est.fit(take(tr), y[tr])
                    t1 = time.perf_counter()
                    c1 = time.process_time()
                    pred = est.predict(take(te))
                    t2 = time.perf_counter()
                pred = np.asarray(pred, dtype=float).reshape(len(te), -1)
                if name in ("itt", "itt_pre") and k == 0 and args.fraction == 1:
                    import pickle

                    with open(CACHE / f"{args.frame}{'_' + args.tag if args.tag else ''}_{name}_fold0.pkl", "wb") as f:
                        pickle.dump(est, f)
                for j, t in enumerate(group):
                    yt = Y[:, targets.index(t)]
                    row = {"model": name, "target": t, "fold": k, "fraction": args.fraction,
                           "mae": float(np.mean(np.abs(pred[:, j] - yt[te]))),
                           "mae_mean_baseline": float(np.mean(np.abs(yt[tr].mean() - yt[te]))),
                           "n_train": len(tr), "n_test": len(te), "fit_s": t1 - t0, "fit_cpu_s": c1 - c0,
                           "predict_s": t2 - t1, "joint_targets": len(group)}
                    if hasattr(est, "history"):
                        row["train_loss"] = [float(v) for v in est.history[:, "train_loss"]]
                        row["epochs"] = len(est.history)
                    print(json.dumps({k2: v for k2, v in row.items() if k2 != "train_loss"}), flush=True)
                    with open(out, "a") as f:
                        f.write(json.dumps(row) + "\n")


TARGET = {"perovskites": "heat_ref", "mp": "formation_energy_per_atom"}
LABELS = {"mean": "mean of the training fold", "gbt_comp": "GBT on composition (Magpie)",
          "gbt": "GBT (composition + symmetry, the default)", "gbt_pih": "GBT on PIH (flat Betti counts)",
          "cgnn": "CGNN (CGCNN convolutions, same graphs)", "itt": "ITT, scratch", "itt_pre": "ITT, pretrained"}


def _rows(frame, tag=""):
    path = RESULTS / f"bench_itt_{frame}{'_' + tag if tag else ''}.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def _tags(frame):
    """The protocols run on a frame: ``""`` (the main one) and the ``--tag`` of every other run."""
    tags = [p.stem[len(f"bench_itt_{frame}_"):] for p in sorted(RESULTS.glob(f"bench_itt_{frame}_*.jsonl"))]
    return [""] + tags


def _cell(vals, fmt):
    if not vals:
        return "–"
    v = np.asarray(vals)
    return f"{v.mean():{fmt}} ± {v.std():{fmt}}" + ("" if len(v) == 5 else f" ({len(v)} folds)")


def cmd_featurize_time(args):
    """CPU seconds per MOF of the tokens: ITT's exact features vs the benchmark's periodic ones (same MOFs)."""
    df = load_frame("coremof").iloc[: args.n]
    rows = []
    for setting in ("exact", "p32", "p16"):
        tok = tokenizer(setting).fit(df["structure"].iloc[:1])
        for key, s in df["structure"].items():
            t0 = time.process_time()
            tok._tokens(s)
            rows.append({"setting": setting, "key": key, "nsites": len(s), "cpu_s": time.process_time() - t0})
            print(json.dumps(rows[-1]), flush=True)
    (RESULTS / "bench_itt_featurize.json").write_text(json.dumps(rows, indent=1))


def cmd_attention(args):
    """Attention per token type of the fold-0 ITT models on their test MOFs (results/bench_itt_attention.*)."""
    import pickle

    import matplotlib

    matplotlib.use("Agg")
    from skcrystal.evaluation import fixed_folds
    from skcrystal.models.itt import attention_by_type, plot_attention

    df = load_frame("coremof")
    tokens = load_tokens("coremof", index=df.index).to_numpy()
    te = list(fixed_folds().split(np.zeros(len(df))))[0][1][: args.n]
    summary = {}
    for name in ("itt", "itt_pre"):
        path = CACHE / f"coremof_{name}_fold0.pkl"
        if not path.exists():
            continue
        with open(path, "rb") as f:
            est = pickle.load(f)
        att = est.attention(tokens[te])
        by = attention_by_type(att)
        summary[name] = {"self_attention_share_structure_query": by[["structure", "clusters", "atoms"]].mean().to_dict(),
                         "self_attention_share_all_queries": attention_by_type(att, query="all")[
                             ["structure", "clusters", "atoms"]].mean().to_dict(),
                         "top_interactions": by.drop(columns=["structure", "clusters", "atoms", "n_atom_tokens"])
                         .mean().sort_values(ascending=False).head(8).to_dict(),
                         "n_structures": len(te)}
        axes = plot_attention(att)
        axes[0].figure.tight_layout()
        axes[0].figure.savefig(RESULTS / f"bench_itt_attention_{name}.png", dpi=120)
    (RESULTS / "bench_itt_attention.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


def cmd_table(args):
    """Markdown tables of every result so far -> results/bench_itt.md."""
    fmts = {"LCD": ".3f", "PLD": ".3f", "AV_VF": ".4f", "ASA_m2_g": ".0f", "heat_ref": ".4f",
            "formation_energy_per_atom": ".4f"}
    lines = ["# ITT benchmark (benchmarks/bench_itt.py)", ""]
    for frame, targets in (("coremof", COREMOF_TARGETS), ("perovskites", ("heat_ref",)),
                           ("mp", ("formation_energy_per_atom",))):
        for tag in _tags(frame):
            rows = _rows(frame, tag)
            if not rows:
                continue
            epochs = sorted({r["epochs"] for r in rows if "epochs" in r})
            label = f"{frame} ({'protocol ' + repr(tag) + ', ' if tag else ''}networks {'/'.join(map(str, epochs))} epochs)"
            for frac in sorted({r["fraction"] for r in rows}, reverse=True):
                sub = [r for r in rows if r["fraction"] == frac]
                models = [m for m in LABELS if m == "mean" or any(r["model"] == m for r in sub)]
                lines += [f"## {label}, {int(round(frac * 100))} % of each training fold", "",
                          "| model | " + " | ".join(targets) + " | fit time / fold (s, wall) |",
                          "|---|" + "---|" * (len(targets) + 1)]
                for m in models:
                    cells = []
                    for t in targets:
                        if m == "mean":
                            by_fold = {r["fold"]: r["mae_mean_baseline"] for r in sub if r["target"] == t}
                            vals = list(by_fold.values())
                        else:
                            vals = [r["mae"] for r in sub if r["model"] == m and r["target"] == t]
                        cells.append(_cell(vals, fmts.get(t, ".4f")))
                    fit = [r["fit_s"] for r in sub if r["model"] == m]
                    fit_cell = f"{np.mean(fit):.0f}" if fit else "–"
                    lines.append(f"| {LABELS[m]} | " + " | ".join(cells) + f" | {fit_cell} |")
                lines.append("")
    (RESULTS / "bench_itt.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))




def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("tokens", help="compute and cache the ITT tokens of a frame")
    p.add_argument("--frame", required=True, choices=sorted(FRAME_SETTING))
    p.add_argument("--setting", choices=sorted(SETTINGS), default=None)
    p.set_defaults(func=cmd_tokens)
    p = sub.add_parser("epoch", help="epoch time, parameters and peak memory at batch 32")
    p.add_argument("--config", choices=["itt_full", "itt_bench", "cgnn"], default="itt_full")
    p.add_argument("--n", type=int, default=64, help="structures per timed epoch")
    p.set_defaults(func=cmd_epoch)
    p = sub.add_parser("pretrain", help="ITT masked-token pretraining on the CoRE MOF structures")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--mask-ratio", type=float, default=0.15)
    p.set_defaults(func=cmd_pretrain)
    p = sub.add_parser("cv", help="5-fold CV of models on a frame (resumable)")
    p.add_argument("--frame", default="coremof", choices=["coremof", "perovskites", "mp"])
    p.add_argument("--models", default="gbt_comp,gbt_pih,cgnn,itt,itt_pre")
    p.add_argument("--targets", default=None)
    p.add_argument("--folds", default=None, help="comma-separated fold ids (default: all 5)")
    p.add_argument("--fraction", type=float, default=1.0, help="share of each training fold used")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--tag", default="", help="results go to bench_itt_<frame>_<tag>.jsonl (another protocol)")
    p.set_defaults(func=cmd_cv)
    p = sub.add_parser("featurize-time", help="CPU time per MOF, exact vs periodic tokens")
    p.add_argument("--n", type=int, default=8)
    p.set_defaults(func=cmd_featurize_time)
    p = sub.add_parser("attention", help="attention per token type of the fold-0 ITT models")
    p.add_argument("--n", type=int, default=100)
    p.set_defaults(func=cmd_attention)
    p = sub.add_parser("table", help="markdown tables of the results so far")
    p.set_defaults(func=cmd_table)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
