"""Crystalformer benchmarks: speed of the periodic sum, single-fold probes, and the 5-fold CV runs.

Sections (``python benchmarks/bench_crystalformer.py <section> ...``):

``speed``
    Forward + backward of one layer (and of the whole default network) per
    batch, side by side in one process: our image-ball implementation
    (:class:`skcrystal.nn.crystalformer.PeriodicAttention`) against the same
    layer evaluated with a fixed box of 5×5×5 = 125 images per atom pair (the
    reference code's pure-PyTorch fallback), on the same batch, with the
    accuracy of both sums against a converged brute-force box; images per
    structure, peak memory, epoch time.  Writes
    ``results/bench_crystalformer_speed.json``.
``probe``
    One fold of the shared folds (``fixed_folds``), held-out MAE every few
    epochs: to choose the epoch budget.  Writes
    ``results/bench_crystalformer_probe_<tag>.json``.
``fold``
    One fold of the shared folds, GBT / CGNN / Crystalformer at the same
    epoch budget (a reduced protocol when the 5-fold runs do not fit);
    written after every model to ``results/bench_crystalformer_fold_<tag>.json``.
``cv``
    5-fold CV through :func:`skcrystal.benchmark.run_benchmark` (the shared
    runner and folds) of the registered models on the named frames; results
    under ``results/crystalformer_cv/<tag>/``.

Heavy runs are meant for one low-priority core: ``nice -n 10 env OMP_NUM_THREADS=1 python ...``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def _conditions():
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "platform": platform.platform(), "python": platform.python_version(),
            "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "load_avg": os.getloadavg()}


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ================================================================================== speed
class FixedBoxAttention(torch.nn.Module):
    """The same layer as a given :class:`PeriodicAttention`, summing over a fixed box of images per pair.

    The reference code's pure-PyTorch fallback: every pair ``(i, j)`` of a
    structure gets the ``(2R+1)³`` images ``n ∈ [-R, R]³`` (125 for ``R = 2``),
    the log-sum-exp over images is taken per pair, the value position
    encoding is averaged per pair, then a softmax over ``j``.  Flat pair
    layout (no padding), as the reference.  Shares the weights of ``att``.
    """

    def __init__(self, att, image_range=2):
        super().__init__()
        self.att = att
        self.image_range = image_range

    @staticmethod
    def pairs(lattices, carts):
        """Pair tensors of a batch: (pair_i, pair_j, pair_structure, displacement) for every ordered pair."""
        pi, pj, pb, disp, offset = [], [], [], [], 0
        for b, (lat, cart) in enumerate(zip(lattices, carts)):
            n = len(cart)
            i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
            pi.append(i.ravel() + offset)
            pj.append(j.ravel() + offset)
            pb.append(np.full(n * n, b))
            disp.append((cart[None, :] - cart[:, None]).reshape(-1, 3))
            offset += n
        return (torch.from_numpy(np.concatenate(pi)), torch.from_numpy(np.concatenate(pj)),
                torch.from_numpy(np.concatenate(pb)), torch.from_numpy(np.concatenate(disp)).float())

    def forward(self, x, lattices, pair_i, pair_j, pair_b, disp):
        att = self.att
        N, D = x.shape
        H, dh = att.n_heads, att.head_dim
        R = self.image_range
        r = torch.arange(-R, R + 1, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)      # (G, 3)
        shifts = torch.einsum("gc,bcd->bgd", grid, lattices)                                # (B, G, 3)
        d2 = ((disp[:, None, :] + shifts[pair_b]) ** 2).sum(-1)                            # (P, G)
        q = att.q_proj(x).view(N, H, dh)
        k = att.k_proj(x).view(N, H, dh)
        v = att.v_proj(x).view(N, H, dh)
        gamma = att._rho(q) / (2.0 * att.r0**2)                                              # (N, H)
        s = (q[pair_i] * k[pair_j]).sum(-1) * dh**-0.5                                     # (P, H)
        lw = -gamma[pair_i].unsqueeze(-1) * d2.unsqueeze(1)                                 # (P, H, G)
        logit = s + torch.logsumexp(lw, -1)                                                 # (P, H)
        # softmax over j within each (i, h): segment softmax over the flat pairs
        mx = torch.full((N, H), -1e30, dtype=x.dtype).scatter_reduce(0, pair_i[:, None].expand(-1, H), logit, "amax")
        e = torch.exp(logit - mx[pair_i])
        z = torch.zeros(N, H, dtype=x.dtype).index_add(0, pair_i, e)
        a = e / z[pair_i]                                                                  # (P, H)
        out = torch.zeros(N, H, dh, dtype=x.dtype).index_add(0, pair_i, a.unsqueeze(-1) * v[pair_j])
        if att.value_pe is not None:
            p = torch.softmax(lw, -1)                                                     # (P, H, G)
            with torch.no_grad():
                psi = torch.exp((-0.5 * ((d2.sqrt().unsqueeze(-1) - torch.arange(1, att.n_value_gaussians + 1, dtype=x.dtype)
                                           * (att.value_distance_max / att.n_value_gaussians))
                                          / (att.value_distance_max / att.n_value_gaussians)) ** 2).clamp(min=-80))
            zpsi = torch.bmm(p, psi)                                                       # (P, H, K)
            pe = torch.einsum("phk,hdk->phd", zpsi, att.value_pe)
            out = out + torch.zeros(N, H, dh, dtype=x.dtype).index_add(0, pair_i, a.unsqueeze(-1) * pe)
        return att.out_proj(out.reshape(N, D))


def _time(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _setup(args, frame):
    """The batch, the two implementations (closures doing forward + backward) and what they need."""
    from skcrystal import datasets
    from skcrystal.featurizers import CrystalformerFeaturizer
    from skcrystal.nn.crystalformer import Crystalformer, PeriodicAttention
    from skcrystal.nn.data import collate_crystalformer

    loader = {"perovskites": datasets.load_perovskites, "mp_e_form": datasets.load_mp_formation_energy,
              "mp_dielectric": datasets.load_mp_dielectric, "mp_log_gvrh": datasets.load_mp_elastic}[frame]
    df = loader(n_samples=args.batch_size, random_state=args.seed)
    structures = list(df["structure"])
    t0 = time.perf_counter()
    items = list(CrystalformerFeaturizer(cutoff=args.cutoff).fit_transform(structures)[:, 0])
    feat_s = time.perf_counter() - t0
    batch = collate_crystalformer(items)
    torch.manual_seed(0)
    att = PeriodicAttention(args.d_model, args.n_heads)
    with torch.no_grad():  # a spread of widths, as after the reference's first-batch normalisation
        att.sigma_norm.copy_(torch.tensor([0.0, 30.0]))
    N = int(batch["atom_mask"].sum())
    x = torch.randn(N, args.d_model, requires_grad=True)
    lattices = torch.tensor(np.stack([s.lattice.matrix for s in structures]), dtype=torch.float32)
    pair_i, pair_j, pair_b, disp = FixedBoxAttention.pairs([s.lattice.matrix for s in structures],
                                                           [s.cart_coords for s in structures])
    box = FixedBoxAttention(att, 2)
    net = Crystalformer(d_model=args.d_model, n_heads=args.n_heads)

    def ours():
        # ψ is computed once per batch by the network and shared by its layers: it is part of the cost
        psi = net.value_basis(batch["neighbor_distance"], batch["neighbor_multiplicity"])
        y = att(x, batch["atom_mask"], batch["neighbor_index"], batch["neighbor_distance"],
                batch["neighbor_multiplicity"], psi=psi)
        y.square().mean().backward()

    def fixed():
        y = box(x, lattices, pair_i, pair_j, pair_b, disp)
        y.square().mean().backward()

    return dict(loader=loader, structures=structures, items=items, batch=batch, att=att, x=x, net=net,
                box=box, ours=ours, fixed=fixed, feat_s=feat_s, N=N, pairs=(pair_i, pair_j, pair_b, disp))


def _accuracy(S, args):
    """Relative max error of both sums against a converged brute-force box, per checked structure."""
    from skcrystal.nn.crystalformer import PeriodicAttention, box_attention_reference

    structures, batch, att, x, net = S["structures"], S["batch"], S["att"], S["x"], S["net"]
    att64 = PeriodicAttention(args.d_model, args.n_heads).double()
    att64.load_state_dict({k: v.double() for k, v in att.state_dict().items()})
    box64 = FixedBoxAttention(att64, 2)
    rows = np.concatenate([[0], np.cumsum([len(s) for s in structures])])
    err_ours, err_box = [], []
    with torch.no_grad():
        psi = net.value_basis(batch["neighbor_distance"].double(), batch["neighbor_multiplicity"])
        y_ours = att64(x.double(), batch["atom_mask"], batch["neighbor_index"], batch["neighbor_distance"].double(),
                       batch["neighbor_multiplicity"], psi=psi)
        for b in range(min(args.n_check, len(structures))):
            s = structures[b]
            xb = x[rows[b]:rows[b + 1]].double()
            h = 1.0 / np.linalg.norm(np.linalg.inv(s.lattice.matrix).T, axis=1)
            R = int(max(6, np.ceil(16.0 / h.min()) + 1))
            ref, _ = box_attention_reference(att64, xb, torch.tensor(s.lattice.matrix),
                                             torch.tensor(s.cart_coords), R)
            pi, pj, pb, dd = FixedBoxAttention.pairs([s.lattice.matrix], [s.cart_coords])
            yb = box64(xb, torch.tensor(s.lattice.matrix)[None], pi, pj, pb, dd.double())
            scale = float(ref.abs().max())
            err_ours.append(float((y_ours[rows[b]:rows[b + 1]] - ref).abs().max()) / scale)
            err_box.append(float((yb - ref).abs().max()) / scale)
    return np.array(err_ours), np.array(err_box)


def speed(args):
    from skcrystal.nn.crystalformer import Crystalformer

    torch.set_num_threads(1)
    out = {"conditions": _conditions(), "batch_size": args.batch_size, "frames": {},
           "note": "one Crystalformer layer (d_model 128, 8 heads, K = 64 value Gaussians), forward + backward "
                   "per batch, best of --repeats alternating runs; accuracy: max relative error of the layer "
                   "output against a brute-force box converged to < 1e-9, on the first --n-check structures; "
                   "the widths σ spread over (0.7, 1.98) Å"}
    cutoffs = [float(c) for c in args.cutoffs.split(",")]
    for frame in args.frames.split(","):
        recs = []
        for cutoff in cutoffs:
            args.cutoff = cutoff
            S = _setup(args, frame)
            batch = S["batch"]
            err_ours, err_box = _accuracy(S, args)
            t_ours, t_box = [], []
            for _ in range(args.repeats):   # alternate so that load on the shared machine hits both alike
                t_ours.append(_time(S["ours"], 1))
                t_box.append(_time(S["fixed"], 1))
            t_ours, t_box = min(t_ours), min(t_box)
            mult = batch["neighbor_multiplicity"]
            n_pairs = len(S["pairs"][0])
            n = len(S["structures"])
            rec = {
                "cutoff": cutoff, "n_structures": n, "n_atoms": S["N"], "featurize_s": S["feat_s"],
                "images_per_structure_ours": float(mult.sum() / n),
                "entries_per_structure_ours": float((mult > 0).sum() / n),
                "padded_entries_per_structure_ours": float(mult.numel() / n),
                "images_per_structure_box125": float(125 * n_pairs / n),
                "layer_fwd_bwd_s_ours": t_ours, "layer_fwd_bwd_s_box125": t_box, "speedup": t_box / t_ours,
                "rel_err_ours_median": float(np.median(err_ours)), "rel_err_ours_max": float(err_ours.max()),
                "rel_err_box125_median": float(np.median(err_box)), "rel_err_box125_max": float(err_box.max()),
                "n_checked": len(err_ours),
                "ours_at_least_as_accurate": bool(err_ours.max() <= err_box.max()
                                                  and np.median(err_ours) <= np.median(err_box)),
            }
            if cutoff == cutoffs[0] or args.memory_all:
                rec["memory_mb"] = _memory(args, frame)
            recs.append(rec)
            print(frame, json.dumps(rec), flush=True)
        # the whole default network at the default cutoff: forward + backward + AdamW step, and the epoch time
        args.cutoff = cutoffs[0]
        S = _setup(args, frame)
        full = Crystalformer()
        opt = torch.optim.AdamW(full.parameters(), 5e-4)

        def step():
            opt.zero_grad()
            full(**S["batch"]).abs().mean().backward()
            opt.step()

        t_step = _time(step, args.repeats)
        n_frame = len(S["loader"]())
        matched = next((r for r in recs if r["ours_at_least_as_accurate"]), None)
        out["frames"][frame] = {
            "cutoffs": recs, "network_step_s": t_step, "n_frame": n_frame,
            "epoch_s_estimate": t_step * int(np.ceil(0.8 * n_frame / args.batch_size)),
            "speedup_default": recs[0]["speedup"],
            "matched_cutoff": matched["cutoff"] if matched else None,
            "speedup_matched": matched["speedup"] if matched else None,
        }
        print(frame, {k: v for k, v in out["frames"][frame].items() if k != "cutoffs"}, flush=True)
    path = RESULTS / f"bench_crystalformer_speed{args.tag}.json"
    path.write_text(json.dumps(out, indent=1))
    print("wrote", path)


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _hwm_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def memone(args):
    """Peak memory of one forward+backward of one implementation (run in a fresh process by ``speed``)."""
    torch.set_num_threads(1)
    setup = _setup(args, args.frames.split(",")[0])
    fn = setup["ours"] if args.impl == "ours" else setup["fixed"]
    import gc

    gc.collect()
    before = _rss_mb()
    with open("/proc/self/clear_refs", "w") as f:   # reset the peak-RSS counter (VmHWM) to the current RSS
        f.write("5")
    fn()
    print(json.dumps({"before_mb": before, "peak_mb": _hwm_mb(), "extra_mb": _hwm_mb() - before}))


def _memory(args, frame):
    import subprocess

    res = {}
    for impl in ("ours", "box125"):
        cmd = [sys.executable, __file__, "memone", "--impl", impl, "--frames", frame,
               "--batch-size", str(args.batch_size), "--seed", str(args.seed), "--cutoff", str(args.cutoff),
               "--d-model", str(args.d_model), "--n-heads", str(args.n_heads)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        res[impl] = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else r.stderr[-300:]
    return res


# ================================================================================== probe
def probe(args):
    import pandas as pd
    from skorch.callbacks import Callback

    from skcrystal.benchmark import load_frame
    from skcrystal.evaluation import fixed_folds
    from skcrystal.featurizers import CrystalformerFeaturizer
    from skcrystal.models import CrystalformerRegressor

    torch.set_num_threads(1)
    X, y = load_frame(args.frame, "full")
    folds = list(fixed_folds(5).split(np.zeros(len(y))))
    tr, te = folds[args.fold]
    feat = CrystalformerFeaturizer(cutoff=args.cutoff)
    t0 = time.perf_counter()
    F = feat.fit_transform(X)
    feat_s = time.perf_counter() - t0
    Ftr, Fte = F[tr], F[te]
    ytr, yte = y.to_numpy()[tr], y.to_numpy()[te]
    curve, cpu = [], []

    class HeldOut(Callback):
        def on_epoch_end(self, net, **kw):
            ep = len(net.history)
            cpu.append(time.process_time())
            if ep % args.eval_every == 0 or ep == args.epochs:
                p = net.predict(Fte)
                mae = float(np.mean(np.abs(p - yte)))
                curve.append((ep, mae, float(net.history[-1, "train_loss"]) * net.y_std_))
                print(f"  epoch {ep}: held-out MAE {mae:.4f}  (train L1 {curve[-1][2]:.4f}, "
                      f"{net.history[-1, 'dur']:.1f} s/epoch)", flush=True)

    callbacks = [("heldout", HeldOut())]
    decay = args.decay
    if args.schedule == "cosine":
        from skorch.callbacks import LRScheduler

        callbacks.insert(0, ("cosine", LRScheduler(policy="CosineAnnealingLR", T_max=args.epochs)))
        decay = None
    params = dict(max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, random_state=0,
                  module__d_model=args.d_model, module__n_layers=args.n_layers, module__n_heads=args.n_heads,
                  module__ffn_dim=4 * args.d_model, swa_epochs=args.swa, lr_decay_steps=decay,
                  callbacks=callbacks, verbose=0)
    if args.value_gaussians is not None:
        params["module__n_value_gaussians"] = args.value_gaussians
    model = CrystalformerRegressor(**params)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(Ftr, ytr)
    fit_s = time.perf_counter() - t0
    final = float(np.mean(np.abs(model.predict(Fte) - yte)))
    print(f"{args.frame} fold {args.fold}: final (SWA) MAE {final:.4f}, fit {fit_s:.0f} s", flush=True)
    rec = {"conditions": _conditions(), "config": vars(args), "n": len(y), "n_train": len(tr), "featurize_s": feat_s,
           "fit_s": fit_s, "epoch_s": [float(d) for d in model.history[:, "dur"]], "curve": curve,
           "epoch_cpu_s": np.diff(cpu).tolist(), "cpu_s": time.process_time(),
           "final_mae": final, "peak_rss_mb": _peak_mb()}
    path = RESULTS / f"bench_crystalformer_probe_{args.tag}.json"
    path.write_text(json.dumps(rec, indent=1, default=str))
    print("wrote", path)


# ================================================================================== cv
def cv(args):
    from skcrystal.benchmark import run_benchmark

    torch.set_num_threads(1)
    fold_ids = [int(f) for f in args.fold_ids.split(",")] if args.fold_ids else None
    out = RESULTS / "crystalformer_cv" / args.tag
    run_benchmark(models=args.models.split(","), frames=args.frames.split(","), preset="full", out=out,
                  fold_ids=fold_ids, verbose=1)


# ================================================================================== fold (reduced CV)
def _fold_models(names, epochs):
    """The compared models at one epoch budget: GBT (its default), CGNN (the ``full`` preset of
    :mod:`skcrystal.benchmark`: edge-gated, width 128, cosine schedule) and Crystalformer (the
    reference architecture and recipe), both networks trained for ``epochs`` epochs."""
    import torch

    from skcrystal.benchmark import _cosine, make_model
    from skcrystal.featurizers import CrystalGraph
    from skcrystal.models import CGNNRegressor, CrystalformerRegressor

    out = {}
    for name in names:
        if name == "CGNN":
            out[name] = CGNNRegressor(
                featurizer=CrystalGraph(atom_features=("faithful", "cgcnn", "element")),
                module__conv="edge_gated", module__atom_fea_len=128, module__h_fea_len=256,
                criterion=torch.nn.L1Loss, max_epochs=epochs, lr=1e-3, batch_size=64,
                callbacks=_cosine(epochs), random_state=0)
        elif name == "Crystalformer":
            out[name] = CrystalformerRegressor(max_epochs=epochs, random_state=0)
        else:
            out[name] = make_model(name, "full")
    return out


def _time_budget_cls():
    from skorch.callbacks import Callback

    class TimeBudget(Callback):
        """Stop training (as skorch does on Ctrl-C: the end-of-training callbacks still run) after ``seconds``."""

        def __init__(self, seconds):
            self.seconds = seconds

        def on_train_begin(self, net, **kw):
            self.t0_ = time.perf_counter()

        def on_epoch_end(self, net, **kw):
            if time.perf_counter() - self.t0_ > self.seconds:
                raise KeyboardInterrupt

    return TimeBudget


def _TimeBudget(seconds):
    return _time_budget_cls()(seconds)


def fold(args):
    """Held-out MAE of several models on one fold of the shared folds, written after every model."""
    from sklearn.base import clone

    from skcrystal.benchmark import load_frame
    from skcrystal.evaluation import fixed_folds

    torch.set_num_threads(1)
    path = RESULTS / f"bench_crystalformer_fold_{args.tag}.json"
    rec = {"conditions": _conditions(), "config": vars(args), "frames": {},
           "protocol": f"fold {args.fold} of fixed_folds(5) (KFold(5, shuffle=True, random_state=0)) on "
                       f"load_frame(frame, n_samples={args.n_samples or 'all'}); networks trained "
                       f"{args.epochs} epochs"}
    if path.exists() and args.resume:
        rec["frames"] = json.loads(path.read_text()).get("frames", {})
    for frame in args.frames.split(","):
        X, y = load_frame(frame, "full", args.n_samples)
        tr, te = list(fixed_folds(5).split(np.zeros(len(y))))[args.fold]
        fr = rec["frames"].setdefault(frame, {"n": int(len(y)), "n_train": int(len(tr)), "n_test": int(len(te)),
                                              "mean_baseline_mae": float(np.mean(np.abs(
                                                  y.to_numpy()[te] - y.to_numpy()[tr].mean()))),
                                              "models": {}})
        for name, est in _fold_models(args.models.split(","), args.epochs).items():
            if name in fr["models"]:
                continue
            est = clone(est)
            if "verbose" in est.get_params(deep=False) and "callbacks" in est.get_params(deep=False):
                est.set_params(verbose=1)   # the skorch epoch table: progress in the log
            if args.budget_s and "callbacks" in est.get_params(deep=False):
                est.set_params(callbacks=list(est.callbacks or []) + [("budget", _TimeBudget(args.budget_s))])
            t0, c0 = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X.iloc[tr], y.iloc[tr])
            fit_s, fit_cpu = time.perf_counter() - t0, time.process_time() - c0
            mae = float(np.mean(np.abs(est.predict(X.iloc[te]) - y.to_numpy()[te])))
            m = {"mae": mae, "fit_s": fit_s, "fit_cpu_s": fit_cpu, "peak_rss_mb": _peak_mb()}
            if hasattr(est, "history_"):
                m["epochs"] = len(est.history_)
                m["epoch_s"] = [float(d) for d in est.history_[:, "dur"]]
                m["max_epochs"] = int(est.max_epochs)
                m["train_loss"] = [float(v) for v in est.history_[:, "train_loss"]]
            fr["models"][name] = m
            print(f"{frame} fold {args.fold} {name}: MAE {mae:.4f} (fit {fit_s:.0f} s)", flush=True)
            path.write_text(json.dumps(rec, indent=1, default=str))
    print("wrote", path)



def table(args):
    """Markdown table of every ``fold`` result file: per frame, every fold run, mean ± std over the folds."""
    runs = {}  # (frame, rows, epochs) -> {fold: frame record}
    for path in sorted(RESULTS.glob("bench_crystalformer_fold_*.json")):
        rec = json.loads(path.read_text())
        for frame, fr in rec["frames"].items():
            if set(fr["models"]) == {"GBT"}:
                continue
            runs.setdefault((frame, fr["n"], rec["config"]["epochs"]), {})[int(rec["config"].get("fold", 0))] = fr
    models = ("GBT", "CGNN", "Crystalformer")
    rows = ["| frame (rows) | networks' epochs | folds | mean | " + " | ".join(models)
            + " | Crystalformer ≤ CGNN |", "|---|---|---|---|---|---|---|---|"]
    for (frame, n, epochs), folds in sorted(runs.items()):
        ks = sorted(folds)

        def cell(vals, cut=0):
            if not vals:
                return "–"
            v = np.asarray(vals)
            text = f"{v.mean():.4g}" if len(v) == 1 else f"{v.mean():.4g} ± {v.std():.2g}"
            return text + (f" ({cut} run(s) stopped early)" if cut else "")

        cells = []
        for name in models:
            ms = [folds[k]["models"][name] for k in ks if name in folds[k]["models"]]
            cut = sum(m.get("epochs", 0) < m.get("max_epochs", 0) for m in ms)
            cells.append(cell([m["mae"] for m in ms], cut))
        both = [k for k in ks if {"CGNN", "Crystalformer"} <= set(folds[k]["models"])]
        wins = sum(folds[k]["models"]["Crystalformer"]["mae"] <= folds[k]["models"]["CGNN"]["mae"] for k in both)
        rows.append(f"| {frame} ({n}) | {epochs} | {','.join(map(str, ks))} | "
                    f"{cell([folds[k]['mean_baseline_mae'] for k in ks])} | " + " | ".join(cells)
                    + f" | {wins} of {len(both)} folds |")
    text = ("# Crystalformer vs CGNN vs GBT on the shared folds (reduced protocol)\n\n"
            "`bench_crystalformer.py fold --fold k`: fold k of `fixed_folds(5)` on `load_frame(frame, n_samples)`; "
            "GBT at its defaults, CGNN edge-gated width 128 (cosine schedule over the epochs), Crystalformer "
            "at the reference architecture and recipe (inverse-sqrt schedule, SWA over the last 10 %), "
            "both networks for the same number of epochs; held-out MAE, mean ± std over the folds run.\n\n"
            + "\n".join(rows) + "\n")
    out = RESULTS / "bench_crystalformer_fold.md"
    out.write_text(text)
    print(text)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="section", required=True)
    s = sub.add_parser("speed")
    s.add_argument("--frames", default="perovskites,mp_e_form")
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--cutoffs", default="7,8,9,10,11,12", help="the first is the default setting")
    s.add_argument("--memory-all", action="store_true")
    s.add_argument("--d-model", type=int, default=128)
    s.add_argument("--n-heads", type=int, default=8)
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--n-check", type=int, default=8)
    s.add_argument("--seed", type=int, default=5)
    s.add_argument("--tag", default="")
    s = sub.add_parser("probe")
    s.add_argument("--frame", default="perovskites")
    s.add_argument("--fold", type=int, default=0)
    s.add_argument("--epochs", type=int, default=100)
    s.add_argument("--eval-every", type=int, default=10)
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--lr", type=float, default=5e-4)
    s.add_argument("--decay", type=float, default=4000)
    s.add_argument("--schedule", choices=["inverse_sqrt", "cosine"], default="inverse_sqrt")
    s.add_argument("--swa", type=float, default=0.1)
    s.add_argument("--cutoff", type=float, default=7.0)
    s.add_argument("--d-model", type=int, default=128)
    s.add_argument("--n-layers", type=int, default=4)
    s.add_argument("--n-heads", type=int, default=8)
    s.add_argument("--value-gaussians", type=int, default=None)
    s.add_argument("--tag", default="default")
    s = sub.add_parser("cv")
    s.add_argument("--models", default="Crystalformer")
    s.add_argument("--frames", default="perovskites")
    s.add_argument("--fold-ids", default="")
    s.add_argument("--tag", default="run")
    s = sub.add_parser("fold")
    s.add_argument("--frames", default="mp_dielectric")
    s.add_argument("--models", default="GBT,CGNN,Crystalformer")
    s.add_argument("--fold", type=int, default=0)
    s.add_argument("--epochs", type=int, default=30)
    s.add_argument("--n-samples", type=int, default=0, help="rows per frame (0: all)")
    s.add_argument("--resume", action="store_true", help="keep the models already in the result file")
    s.add_argument("--budget-s", type=float, default=0, help="stop a network's training after this many seconds")
    s.add_argument("--tag", default="run")
    sub.add_parser("table")
    s = sub.add_parser("memone")
    s.add_argument("--impl", choices=["ours", "box125"], required=True)
    s.add_argument("--frames", default="perovskites")
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--cutoff", type=float, default=7.0)
    s.add_argument("--d-model", type=int, default=128)
    s.add_argument("--n-heads", type=int, default=8)
    s.add_argument("--seed", type=int, default=5)
    args = p.parse_args(argv)
    {"speed": speed, "probe": probe, "cv": cv, "fold": fold, "table": table, "memone": memone}[args.section](args)


if __name__ == "__main__":
    main()
