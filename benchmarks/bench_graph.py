"""Crystal-graph benchmarks: graph-building throughput, CGNN epoch time, small CV runs.

Sections
--------
throughput
    Build 8 Å / 12-neighbour graphs (with the 0–8 Å, 0.2 Å Gaussian expansion
    of the distances) for perovskites and Materials Project cells, (a) with a
    CGCNN-style reference loader (``Structure.get_all_neighbors(8.0)`` per
    structure, sort each atom's list by distance, keep 12, expand), (b) with
    :func:`skcrystal.geometry.periodic_neighbors` + the same expansion, and
    (c) with the full :class:`~skcrystal.featurizers.CrystalGraph` transformer
    (cache cleared; global vector off, lattice only, and faithful with the
    spglib space group).  Edge identity: per atom, the 12 distances must agree,
    and the (neighbour, image) sets must agree wherever the 12th and 13th
    neighbours are not tied (a tie makes CGCNN's choice depend on pymatgen's
    internal order).
epoch
    Seconds per training epoch of CGNN on the perovskites at CGCNN's default
    hyperparameters (atom_fea_len 64, 3 convolutions, h_fea_len 128, batch 256,
    SGD lr 0.01 momentum 0.9), graphs prebuilt.
symmetry
    5-fold stratified CV accuracy of CGNNClassifier on crystal system and on
    the most frequent space groups (Materials Project cells, labels from
    spglib at symprec 0.1), and metal / non-metal (perovskites, gap = 0),
    next to the majority-class baseline: the faithful paper's Table 1
    symmetry benchmark in miniature.  The graphs carry the lattice code
    only (``global_features="lattice"``): the faithful ``g`` contains the
    space-group one-hot, which is the answer.  ``--conv``, ``--width``,
    ``--atom-features``, ``--epochs`` and ``--lr`` set the model (cosine
    schedule).
cv
    5-fold CV MAE (``KFold(5, shuffle=True, random_state=0)`` on
    ``load_*(n_samples=n, random_state=0)``, the folds of the other
    benchmarks) for CGNN and CANN on a subsample.
full
    The accuracy goal: 5-fold CV MAE of CGNN on *all* bundled perovskites
    (``heat_ref``, same fold rule; ``--dataset mp``: all MP formation
    energies), graphs built once and reused by every fold, L1 loss, AdamW
    with a cosine learning-rate schedule over ``--epochs``.  ``--conv``,
    ``--atom-features``, ``--width``, ``--n-conv``, ``--dropout``,
    ``--weight-decay``, ``--batch-size`` and ``--seeds`` (an ensemble per
    fold) set the model; ``--fold-ids`` runs some folds only, so two
    processes can share the folds, and ``--merge tag_a,tag_b --tag t`` joins
    their results.  The accurate setting of the docs:

        python benchmarks/bench_graph.py full --n 0 --epochs 120 --threads 1 --conv edge_gated \\
            --atom-features faithful,cgcnn,element --width 128 --fold-ids 0,1,2 --tag eg_a &
        python benchmarks/bench_graph.py full ... --fold-ids 3,4 --tag eg_b; wait
        python benchmarks/bench_graph.py full --merge eg_a,eg_b --tag eg

Run ``python benchmarks/bench_graph.py throughput`` etc.; results go to
``benchmarks/results/bench_graph_<section>.json`` with the conditions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin, clone

RESULTS = Path(__file__).parent / "results"


def _conditions(threads):
    import torch

    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "time_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _save(name, obj):
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"bench_graph_{name}.json"
    path.write_text(json.dumps(obj, indent=2, default=float))
    print("wrote", path)


# ----------------------------------------------------------------- reference loader
def reference_graph(structure, radius=8.0, max_num_nbr=12, centers=None, width=0.2):
    """CGCNN-style graph: get_all_neighbors, sort by distance, keep 12, Gaussian-expand."""
    from skcrystal.featurizers.graph import gaussian_expansion

    all_nbrs = structure.get_all_neighbors(radius, include_index=True)
    all_nbrs = [sorted(nbrs, key=lambda x: x.nn_distance) for nbrs in all_nbrs]
    idx, dist, img = [], [], []
    for nbr in all_nbrs:
        nbr = nbr[:max_num_nbr]
        idx.append([n.index for n in nbr])
        dist.append([n.nn_distance for n in nbr])
        img.append([tuple(int(round(v)) for v in n.image) for n in nbr])
    feats = [gaussian_expansion(np.asarray(d), centers, width) for d in dist]
    return idx, dist, img, feats


def ours_graph(structure, radius=8.0, max_num_nbr=12, centers=None, width=0.2, complete_shells=False):
    from skcrystal.featurizers.graph import gaussian_expansion
    from skcrystal.geometry import periodic_neighbors

    ci, cj, img, d = periodic_neighbors(structure.lattice.matrix, structure.frac_coords, radius, max_num_nbr,
                                        complete_shells=complete_shells)
    return ci, cj, img, d, gaussian_expansion(d, centers, width)


def compare_edges(structure, ref, ours, tie_tol=1e-6):
    """Return (distances identical, n atoms, n atoms with a tie at the cut, n tie-free atoms with same edge set)."""
    idx, dist, img, _ = ref
    ci, cj, oimg, d, _ = ours
    full = structure.get_all_neighbors(8.0)
    same_d, ties, same_set, n = True, 0, 0, len(structure)
    for i in range(n):
        m = ci == i
        if not np.allclose(np.sort(d[m]), np.sort(dist[i]), atol=1e-6):
            same_d = False
        all_d = np.sort([x.nn_distance for x in full[i]])
        tied = len(all_d) > 12 and abs(all_d[12] - all_d[11]) < tie_tol
        if tied:
            ties += 1
            continue
        a = {(j, tuple(t)) for j, t in zip(idx[i], img[i])}
        b = {(int(j), tuple(int(v) for v in t)) for j, t in zip(cj[m], oimg[m])}
        same_set += a == b
    return same_d, n, ties, same_set


def throughput(args):
    import torch

    from skcrystal import clear_feature_cache
    from skcrystal.featurizers.graph import gaussian_centers
    from skcrystal.datasets import load_mp_formation_energy, load_perovskites
    from skcrystal.featurizers import CrystalGraph

    torch.set_num_threads(1)
    centers = gaussian_centers(0.0, 8.0, 0.2)
    out = {"conditions": _conditions(1), "rows": []}
    data = {
        "perovskites": list(load_perovskites(n_samples=args.n_throughput, random_state=0)["structure"]),
        "mp_formation_energy": list(load_mp_formation_energy(n_samples=args.n_throughput, random_state=0)["structure"]),
    }
    for name, structures in data.items():
        n_atoms = sum(len(s) for s in structures)
        t = time.perf_counter()
        refs = [reference_graph(s, centers=centers) for s in structures]
        t_ref = time.perf_counter() - t
        t = time.perf_counter()
        ours = [ours_graph(s, centers=centers) for s in structures]
        t_ours = time.perf_counter() - t
        # edge identity
        tot = {"atoms": 0, "distances_identical_structures": 0, "tied_atoms": 0, "tie_free_atoms_same_edges": 0}
        for s, r, o in zip(structures, refs, ours):
            same_d, n, ties, same = compare_edges(s, r, o)
            tot["atoms"] += n
            tot["distances_identical_structures"] += same_d
            tot["tied_atoms"] += ties
            tot["tie_free_atoms_same_edges"] += same
        row = {
            "dataset": name,
            "n_structures": len(structures),
            "n_atoms": n_atoms,
            "reference_s": t_ref,
            "periodic_neighbors_s": t_ours,
            "speedup_neighbors": t_ref / t_ours,
            "reference_structures_per_s": len(structures) / t_ref,
            "periodic_neighbors_structures_per_s": len(structures) / t_ours,
            "edge_identity": tot,
        }
        for gf in (None, "lattice", "faithful"):
            clear_feature_cache()
            cg = CrystalGraph(cutoff=8.0, max_neighbors=12, global_features=gf, atom_features="cgcnn")
            t = time.perf_counter()
            graphs = cg.fit_transform(structures)
            dt = time.perf_counter() - t
            row[f"CrystalGraph_global={gf}_s"] = dt
            row[f"CrystalGraph_global={gf}_speedup"] = t_ref / dt
        row["mean_edges_per_atom_complete_shells"] = float(np.mean([g.n_edges / g.n_atoms for g in graphs[:, 0]]))
        print(json.dumps(row, indent=1, default=float))
        out["rows"].append(row)
    _save("throughput", out)


# ----------------------------------------------------------------- epoch time
def epoch(args):
    import torch

    from skcrystal.datasets import load_perovskites
    from skcrystal.featurizers import CrystalGraph
    from skcrystal.models import CGNNRegressor

    torch.set_num_threads(args.threads)
    df = load_perovskites(n_samples=args.n_epoch, random_state=0)
    t = time.perf_counter()
    graphs = CrystalGraph(global_features="lattice").fit_transform(df["structure"])
    t_graph = time.perf_counter() - t
    model = CGNNRegressor(
        optimizer=torch.optim.SGD, lr=0.01, optimizer__momentum=0.9, batch_size=256, max_epochs=args.epochs,
        module__atom_fea_len=64, module__n_conv=3, module__h_fea_len=128, random_state=0, device="cpu", verbose=0,
    )
    t = time.perf_counter()
    model.fit(graphs, df["heat_ref"])
    t_fit = time.perf_counter() - t
    per_epoch = [float(x) for x in model.history_[:, "dur"]]
    res = {
        "conditions": _conditions(args.threads),
        "n_structures": len(df),
        "n_atoms": int(sum(g.n_atoms for g in graphs[:, 0])),
        "n_edges": int(sum(g.n_edges for g in graphs[:, 0])),
        "graph_build_s": t_graph,
        "fit_s": t_fit,
        "epoch_s": per_epoch,
        "epoch_s_median": float(np.median(per_epoch)),
        "train_loss": [float(x) for x in model.history_[:, "train_loss"]],
        "settings": "CGCNN defaults: 8 A, 12 nbrs (shells completed), Gaussian 0-8/0.2, atom_fea_len 64, 3 conv, "
                    "h_fea_len 128, SGD lr 0.01 momentum 0.9, batch 256; global vector = lattice sinusoids",
    }
    print(json.dumps({k: v for k, v in res.items() if k != "train_loss"}, indent=1, default=float))
    _save("epoch", res)


# ----------------------------------------------------------------- CV
def _cv_scores(est, X, y, kf, classification=False):
    from skcrystal.evaluation import cross_validate_models

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res, _ = cross_validate_models({type(est).__name__: est}, X, y, cv=kf)
    scores = res["accuracy" if classification else "mae"].tolist()
    return {"folds": scores, "mean": float(np.mean(scores)), "std": float(np.std(scores)),
            "seconds": time.perf_counter() - t}


def cv(args):
    import torch
    from sklearn.dummy import DummyRegressor

    from skcrystal.datasets import load_mp_formation_energy, load_perovskites
    from skcrystal.evaluation import fixed_folds
    from skcrystal.featurizers import CrystalGraph
    from skcrystal.models import CANNRegressor, CGNNRegressor

    torch.set_num_threads(args.threads)
    out = {"conditions": _conditions(args.threads), "config": vars(args), "tasks": {}}
    tasks = [("perovskites", load_perovskites, "heat_ref"),
             ("mp_formation_energy", load_mp_formation_energy, "formation_energy_per_atom")]
    for name, loader, target in tasks:
        if args.task and name != args.task:
            continue
        df = loader(n_samples=args.n, random_state=0)
        X, y = df["structure"], df[target]
        kf = fixed_folds()
        res = {"n": len(df), "target": target}
        res["dummy_mean"] = _cv_scores(DummyRegressor(), X.to_frame(), y, kf)
        print(name, "dummy", res["dummy_mean"]["mean"], flush=True)
        common = dict(max_epochs=args.epochs, batch_size=64, lr=args.lr, random_state=0, device="cpu",
                      criterion=torch.nn.L1Loss)
        if "cgnn" in args.models:
            est = CGNNRegressor(featurizer=CrystalGraph(), **common)
            res["cgnn"] = _cv_scores(est, X, y, kf)
            print(name, "CGNN", res["cgnn"]["mean"], f"{res['cgnn']['seconds']:.0f}s", flush=True)
        if "gbt" in args.models:
            try:
                from skcrystal.models import GBTRegressor

                res["gbt_default"] = _cv_scores(GBTRegressor(random_state=0, n_jobs=1), X, y, kf)
                print(name, "GBT", res["gbt_default"]["mean"], flush=True)
            except Exception as exc:  # noqa: BLE001 - a baseline failing must not stop the benchmark
                res["gbt_default"] = {"error": repr(exc)}
        if "cann" in args.models:
            est = CANNRegressor(**common)
            res["cann"] = _cv_scores(est, X, y, kf)
            print(name, "CANN", res["cann"]["mean"], f"{res['cann']['seconds']:.0f}s", flush=True)
        out["tasks"][name] = res
        _save(f"cv_{args.tag}" if args.tag else "cv", out)


def full(args):
    import torch
    from sklearn.metrics import mean_absolute_error
    from skorch.callbacks import LRScheduler

    from skcrystal.datasets import load_mp_formation_energy, load_perovskites
    from skcrystal.evaluation import cross_validate_models, fixed_folds
    from skcrystal.featurizers import CrystalGraph
    from skcrystal.models import CGNNRegressor

    if args.merge:
        return _merge_full(args)
    torch.set_num_threads(args.threads)
    loader, target = {"perovskites": (load_perovskites, "heat_ref"),
                      "mp": (load_mp_formation_energy, "formation_energy_per_atom")}[args.dataset]
    df = loader(n_samples=args.n if args.n > 0 else None, random_state=0)
    y = df[target].to_numpy()
    t = time.perf_counter()
    atom_features = tuple(args.atom_features.split(","))
    graphs = CrystalGraph(atom_features=atom_features).fit_transform(df["structure"])
    t_graph = time.perf_counter() - t
    est = CGNNRegressor(
        max_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, criterion=torch.nn.L1Loss,
        optimizer__weight_decay=args.weight_decay,
        module__atom_fea_len=args.width, module__n_conv=args.n_conv, module__h_fea_len=2 * args.width,
        module__conv=args.conv, module__dropout=args.dropout,
        callbacks=[("cosine", LRScheduler(policy="CosineAnnealingLR", T_max=args.epochs))],
        random_state=0, device="cpu",
    )
    out = {"conditions": _conditions(args.threads), "config": vars(args), "n": len(df), "graph_build_s": t_graph,
           "folds": [], "fold_s": [], "fold_ids": []}
    wanted = [int(k) for k in args.fold_ids.split(",")] if args.fold_ids else list(range(5))
    if args.folds:
        wanted = wanted[: args.folds]
    model = est if args.seeds == 1 else SeedEnsemble(est, args.seeds)
    unit = "eV" if args.dataset == "perovskites" else "eV/atom"

    clock = [time.perf_counter()]

    def record(name, k, fitted, tr, te):  # after each fold: score, print, save (long runs keep their progress)
        members = fitted.members_ if args.seeds > 1 else [fitted]
        for m in members:
            out.setdefault("member_maes", []).append(float(mean_absolute_error(y[te], m.predict(graphs[te]))))
        out["fold_ids"].append(int(k))
        out["folds"].append(float(mean_absolute_error(y[te], fitted.predict(graphs[te]))))
        out["fold_s"].append(time.perf_counter() - clock[0])
        clock[0] = time.perf_counter()
        # the loss is on standardised targets; times y_std_ it is the training L1 in target units
        last = members[-1]
        out.setdefault("final_train_l1", []).append(float(last.history_[-1, "train_loss"]) * float(last.y_std_))
        out["mean"] = float(np.mean(out["folds"]))
        print(f"fold {k + 1}: MAE {out['folds'][-1]:.4f} {unit}, {out['fold_s'][-1]:.0f} s, "
              f"train L1 {out['final_train_l1'][-1]:.4f} {unit} (last member)", flush=True)
        _save(f"full_{args.tag}" if args.tag else "full", out)

    # the shared fold rule; the folds run are --fold-ids (first --folds of them)
    cross_validate_models({"CGNN": model}, graphs, y, cv=fixed_folds(), fold_ids=wanted, fold_callback=record,
                          verbose=False)
    print(f"CGNN {args.dataset} {target} MAE over folds {out['fold_ids']}: {out['mean']:.4f}", flush=True)


class SeedEnsemble(RegressorMixin, BaseEstimator):
    """Average of ``n`` copies of ``est`` seeded 0..n-1 (``--seeds``), fitted on the same fold."""

    def __init__(self, est=None, n=1):
        self.est = est
        self.n = n

    def fit(self, X, y):
        self.members_ = [clone(self.est).set_params(random_state=seed).fit(X, y) for seed in range(self.n)]
        return self

    def predict(self, X):
        return np.mean([m.predict(X) for m in self.members_], axis=0)


def _merge_full(args):
    """Join ``full`` results run as separate processes (``--fold-ids``) into ``full_<tag>``."""
    parts = [json.loads((RESULTS / f"bench_graph_full_{t}.json").read_text()) for t in args.merge.split(",")]
    by_fold = {}
    for part in parts:
        for k, mae, sec in zip(part["fold_ids"], part["folds"], part["fold_s"]):
            by_fold[k] = (mae, sec)
    ids = sorted(by_fold)
    out = {**parts[0], "merged_from": args.merge.split(","), "fold_ids": ids,
           "folds": [by_fold[k][0] for k in ids], "fold_s": [by_fold[k][1] for k in ids],
           "member_maes": [m for part in parts for m in part.get("member_maes", [])],
           "final_train_l1": [v for part in parts for v in part.get("final_train_l1", [])]}
    for stale in ("final_train_loss", "final_train_l1_ev"):  # single values of older part files
        out.pop(stale, None)
    out["mean"] = float(np.mean(out["folds"]))
    out["std"] = float(np.std(out["folds"]))
    _save(f"full_{args.tag}" if args.tag else "full", out)
    print(f"CGNN {out['config'].get('dataset', 'perovskites')} {len(ids)}-fold MAE {out['mean']:.4f} ± "
          f"{out['std']:.4f}", flush=True)


def symmetry(args):
    import pandas as pd
    import torch
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from skorch.callbacks import LRScheduler

    from skcrystal.encodings.crystal import spacegroup_number
    from skcrystal.datasets import load_mp_formation_energy, load_perovskites
    from skcrystal.evaluation import fixed_folds
    from skcrystal.featurizers import CrystalGraph
    from skcrystal.models import CGNNClassifier

    torch.set_num_threads(args.threads)
    out = {"conditions": _conditions(args.threads), "config": vars(args), "tasks": {}}
    mp = load_mp_formation_energy(n_samples=args.n, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        system = pd.Series([SpacegroupAnalyzer(s, symprec=0.1).get_crystal_system() for s in mp["structure"]],
                           index=mp.index)
        sg = pd.Series([spacegroup_number(s) for s in mp["structure"]], index=mp.index)
    top = sg.value_counts().index[: args.top]
    perov = load_perovskites(n_samples=args.n, random_state=0)
    tasks = {
        "crystal_system": (mp["structure"], system),
        f"space_group_top{args.top}": (mp["structure"][sg.isin(top)], sg[sg.isin(top)]),
        "metal_nonmetal_perovskites": (perov["structure"], pd.Series(np.where(perov["ind_gap"] > 0, "nonmetal",
                                                                              "metal"), index=perov.index)),
    }
    for name, (X, y) in tasks.items():
        counts = y.value_counts()
        y = y[y.map(counts) >= 5]  # StratifiedKFold(5) needs 5 members per class
        X = X.loc[y.index]
        kf = fixed_folds(classification=True)
        # the faithful g holds the space-group one-hot, i.e. the answer: symmetry targets get the lattice code only
        featurizer = CrystalGraph(global_features="lattice", atom_features=tuple(args.atom_features.split(",")))
        est = CGNNClassifier(
            featurizer=featurizer, max_epochs=args.epochs, lr=args.lr, batch_size=64, random_state=0,
            device="cpu", module__conv=args.conv, module__atom_fea_len=args.width,
            module__h_fea_len=2 * args.width,
            callbacks=[("cosine", LRScheduler(policy="CosineAnnealingLR", T_max=args.epochs))],
        )
        res = {"n": len(y), "n_classes": int(y.nunique()),
               "majority_baseline": float(y.value_counts(normalize=True).iloc[0])}
        res["cgnn"] = _cv_scores(est, X, y, kf, classification=True)
        print(name, res["n"], "classes", res["n_classes"], "majority", res["majority_baseline"], "CGNN acc",
              res["cgnn"]["mean"], flush=True)
        out["tasks"][name] = res
        _save(f"symmetry_{args.tag}" if args.tag else "symmetry", out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("section", choices=["throughput", "epoch", "cv", "symmetry", "full"])
    p.add_argument("--n-throughput", type=int, default=300)
    p.add_argument("--n-epoch", type=int, default=None, help="perovskites for the epoch timing (default: all)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--n", type=int, default=1000, help="subsample for cv")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--task", default=None)
    p.add_argument("--models", default="cgnn,cann")
    p.add_argument("--tag", default="")
    p.add_argument("--top", type=int, default=10, help="space groups kept for the symmetry section")
    p.add_argument("--width", type=int, default=64, help="full, symmetry: atom_fea_len (h_fea_len is twice it)")
    p.add_argument("--n-conv", type=int, default=3, help="full: graph convolutions")
    p.add_argument("--folds", type=int, default=0, help="full: stop after this many folds (0 = all 5)")
    p.add_argument("--conv", default="cgcnn", choices=["cgcnn", "edge_gated"], help="full, symmetry: convolution")
    p.add_argument("--atom-features", default="faithful",
                   help="full, symmetry: CrystalGraph atom_features, names joined by commas (faithful,cgcnn,element)")
    p.add_argument("--dropout", type=float, default=0.0, help="full: readout dropout")
    p.add_argument("--weight-decay", type=float, default=0.01, help="full: AdamW weight decay")
    p.add_argument("--batch-size", type=int, default=64, help="full")
    p.add_argument("--seeds", type=int, default=1, help="full: average this many seeded models per fold")
    p.add_argument("--fold-ids", default="", help="full: run only these folds (0-4, comma-separated), e.g. to "
                   "spread the folds over processes; merge the results with --merge")
    p.add_argument("--dataset", default="perovskites", choices=["perovskites", "mp"],
                   help="full: all perovskites (heat_ref, eV) or all MP formation energies (eV/atom)")
    p.add_argument("--merge", default="", help="full: join the results of these tags (comma-separated) into --tag")
    args = p.parse_args(argv)
    {"throughput": throughput, "epoch": epoch, "cv": cv, "symmetry": symmetry, "full": full}[args.section](args)


if __name__ == "__main__":
    main()
