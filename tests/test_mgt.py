"""MGT: dual-view featurizer, equivariance of the vector channels, invariances, router, estimators."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from scipy.spatial.transform import Rotation

from conftest import permute, rotate, translate
from skcrystal.featurizers import DualViewGraph
from skcrystal.featurizers.dualview import angle_bonds, line_graph_pairs
from skcrystal.models import MGTClassifier, MGTRegressor
from skcrystal.nn.data import collate_dual_views
from skcrystal.nn.mgt import MGT, MoERouter, nt_xent

TINY_NET = dict(width=16, n_layers=2, ns=8, nv=4, angle_width=8, hidden_dim=8, n_rbf=32)
TINY = dict(max_epochs=3, batch_size=16, lr=3e-3, random_state=0, verbose=0,
            **{f"module__{k}": v for k, v in TINY_NET.items()})


@pytest.fixture(scope="module")
def frame(perovskites, mp_frame):
    import pandas as pd

    a = perovskites.iloc[:12][["structure"]].assign(y=perovskites["heat_ref"].iloc[:12].to_numpy())
    b = mp_frame.iloc[:12][["structure"]].assign(y=mp_frame["formation_energy_per_atom"].iloc[:12].to_numpy())
    return pd.concat([a, b], ignore_index=True)


def _fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


# ----------------------------------------------------------------------------- featurizer
def test_line_graph_pairs_and_angles_on_rocksalt():
    nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    g = DualViewGraph(cutoff=5.0, max_neighbors=None, angle_neighbors=None).fit_transform([nacl])[0, 0]
    assert (g.n_atoms, g.n_edges, g.n_angles) == (2, 16, 2 * 28)  # 8 neighbours at 4.88 Å, C(8, 2) angles each
    a, b = g.angle_index
    assert np.all(a < b) and np.all(g.edge_index[0, a] == g.edge_index[0, b])
    # angles between the body diagonals of a cube: cos = ±1/3 and -1 (opposite corners)
    cos = np.sort(np.unique(np.round(g.angle_cos, 5)))
    np.testing.assert_allclose(cos, [-1.0, -1 / 3, 1 / 3], atol=1e-5)
    # brute force: the angle of every pair from the edge vectors
    v = g.edge_vector
    ref = np.einsum("ij,ij->i", v[a], v[b]) / np.linalg.norm(v[a], axis=1) / np.linalg.norm(v[b], axis=1)
    np.testing.assert_allclose(g.angle_cos, ref, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), g.edge_distance, rtol=1e-6)


def test_angle_bonds_keep_whole_shells():
    center = np.array([0, 0, 0, 0, 1, 1])
    dist = np.array([1.0, 2.0, 2.0, 3.0, 1.0, 1.5])
    # k=2: atom 0 keeps 1.0 and both 2.0 (tied shell), atom 1 keeps both
    np.testing.assert_array_equal(angle_bonds(center, dist, 2, k=2), [1, 1, 1, 0, 1, 1])
    assert angle_bonds(center, dist, 2, k=None).all()
    pairs = line_graph_pairs(center, 2, angle_bonds(center, dist, 2, k=2))
    np.testing.assert_array_equal(pairs, [[0, 0, 1, 4], [1, 2, 2, 5]])
    with pytest.raises(ValueError, match="sorted"):
        line_graph_pairs(np.array([1, 0]), 2)


def test_views_follow_the_input_frame(frame):
    """Distances and angles are invariant; edge vectors rotate with the structure."""
    s = frame["structure"].iloc[14]
    R = Rotation.random(random_state=3).as_matrix()
    feat = DualViewGraph()
    g, gr = feat.fit_transform([s, rotate(s, 3)])[:, 0]
    np.testing.assert_array_equal(g.edge_index, gr.edge_index)
    np.testing.assert_array_equal(g.angle_index, gr.angle_index)
    np.testing.assert_allclose(gr.edge_distance, g.edge_distance, rtol=1e-5)
    np.testing.assert_allclose(gr.angle_cos, g.angle_cos, atol=1e-5)
    np.testing.assert_allclose(gr.edge_vector, g.edge_vector @ R.T, atol=1e-4)


def test_collate_offsets_and_batching_equals_single(frame):
    graphs = list(DualViewGraph().fit_transform(frame["structure"].iloc[[0, 13, 20]])[:, 0])
    inp = collate_dual_views(graphs)
    n = [g.n_atoms for g in graphs]
    e = [g.n_edges for g in graphs]
    assert inp["atom_features"].shape[0] == sum(n) and inp["edge_index"].shape[1] == sum(e)
    assert inp["angle_index"].shape[1] == sum(g.n_angles for g in graphs)
    # indices stay inside their own graph
    b = inp["batch"]
    assert torch.equal(b[inp["edge_index"][0]], b[inp["edge_index"][1]])
    edge_graph = b[inp["edge_index"][0]]
    assert torch.equal(edge_graph[inp["angle_index"][0]], edge_graph[inp["angle_index"][1]])
    torch.manual_seed(0)
    net = MGT(graphs[0].atom_features.shape[1], **TINY_NET).eval()
    with torch.no_grad():
        together = net(**inp)
        alone = torch.cat([net(**collate_dual_views([g])) for g in graphs])
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- module
def test_module_has_no_sklearn_import_and_backbone():
    import skcrystal.nn.mgt as mod

    src = open(mod.__file__).read()
    assert "sklearn" not in src and "skorch" not in src
    net = MGT(24, n_outputs=3, **TINY_NET)
    assert hasattr(net, "backbone") and set(dict(net.backbone.named_children())) == {"se3", "so3", "se3_head",
                                                                                       "so3_head"}


@pytest.fixture(scope="module")
def random_net_and_inputs(frame):
    structures = list(frame["structure"].iloc[[1, 13, 17, 22]])
    torch.manual_seed(1)
    net = MGT(91, width=32, n_layers=2, ns=16, nv=4, angle_width=8, hidden_dim=16).eval()
    return net, structures, DualViewGraph(cutoff=6.0)


def _run(net, feat, structures):
    inp = collate_dual_views(list(feat.fit_transform(structures)[:, 0]))
    with torch.no_grad():
        _, _, states = net.backbone(**inp, return_states=True)
        y, w = net(**inp, return_weights=True)
    return states["vectors"].numpy().astype(np.float64), y.numpy(), w.numpy()


@pytest.mark.parametrize("seed", [0, 1])
def test_rotation_rotates_vector_channels_and_keeps_prediction(random_net_and_inputs, seed):
    net, structures, feat = random_net_and_inputs
    v, y, w = _run(net, feat, structures)
    assert np.abs(v).max() > 1e-3, "the vector channels should not be trivially zero"
    R = Rotation.random(random_state=seed).as_matrix()
    vr, yr, wr = _run(net, feat, [rotate(s, seed) for s in structures])
    np.testing.assert_allclose(vr, v @ R.T, atol=1e-5)
    assert np.abs(vr - v).max() > 1e-3, "a rotation must move the vector channels"
    np.testing.assert_allclose(yr, y, atol=1e-5)
    np.testing.assert_allclose(wr, w, atol=1e-5)


def test_translation_permutation_supercell_invariance(random_net_and_inputs):
    net, structures, feat = random_net_and_inputs
    _, y, _ = _run(net, feat, structures)
    for moved in ([translate(s) for s in structures], [permute(s, 4) for s in structures],
                  [s * (2, 1, 1) for s in structures]):
        np.testing.assert_allclose(_run(net, feat, moved)[1], y, rtol=1e-5, atol=1e-5)


def test_router_weights_positive_and_normalised():
    torch.manual_seed(0)
    router = MoERouter(8, n_outputs=2, hidden_dim=4)
    z1, z2 = torch.randn(5, 8) * 30, torch.randn(5, 8)
    out, w = router([z1, z2])
    assert out.shape == (5, 2) and w.shape == (5, 2)
    assert torch.all(w > 0)
    torch.testing.assert_close(w.sum(1), torch.ones(5))
    # the output is the weighted sum of the two experts' outputs
    e = torch.stack([router.experts[0](z1), router.experts[1](z2)], 1)
    torch.testing.assert_close(out, (w[..., None] * e).sum(1))


def test_nt_xent_positives_are_the_two_views_of_one_structure():
    torch.manual_seed(0)
    z = torch.randn(16, 8)
    aligned = nt_xent(z, z + 0.01 * torch.randn(16, 8))
    shuffled = nt_xent(z, z[torch.randperm(16)])
    assert aligned < 0.5 < shuffled
    # symmetric in the two views
    z2 = torch.randn(16, 8)
    torch.testing.assert_close(nt_xent(z, z2), nt_xent(z2, z))



def test_pretrain_contrastive_positives_are_the_views_of_one_structure(random_net_and_inputs, monkeypatch):
    """MGTPretrainNet hands nt_xent row b = structure b in *both* views (a pairing shifted by one fails here)."""
    import skcrystal.nn.mgt as mod
    from skcrystal.nn.mgt import MGTPretrainNet

    _, structures, feat = random_net_and_inputs
    torch.manual_seed(0)
    net = MGTPretrainNet(91, width=16, n_layers=1, ns=8, nv=4, angle_width=8, n_rbf=32, angle_noise=0.0,
                         vector_noise=0.0).eval()
    seen = []
    monkeypatch.setattr(mod, "nt_xent", lambda z1, z2, temperature=0.1: seen.append((z1, z2)) or nt_xent(z1, z2))
    with torch.no_grad():
        loss = net(**collate_dual_views(list(feat.fit_transform(structures)[:, 0])))["contrastive"]
        (z1, z2), = seen
        for b, s in enumerate(structures):
            own_se3, own_so3 = net.backbone(**collate_dual_views(list(feat.fit_transform([s])[:, 0])))
            torch.testing.assert_close(z1[b], own_se3[0], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(z2[b], own_so3[0], atol=1e-5, rtol=1e-4)
    assert not torch.isclose(loss, nt_xent(z1, z2.roll(1, 0)))


# ----------------------------------------------------------------------------- estimators
def test_regressor_learns_and_router_weights(frame):
    X, y = frame["structure"], frame["y"]
    m = _fit(MGTRegressor(**{**TINY, "max_epochs": 12}), X, y)
    losses = m.history_[:, "train_loss"]
    assert losses[-1] < 0.7 * losses[0]
    pred = m.predict(X)
    assert pred.shape == (len(X),) and np.isfinite(pred).all()
    w = m.router_weights(frame[["structure"]])
    assert list(w.columns) == ["se3", "so3"] and list(w.index) == list(frame.index)
    assert (w.to_numpy() > 0).all()
    np.testing.assert_allclose(w.sum(1), 1.0, rtol=1e-6)
    assert m.module_dims_ == {"n_atom_features": 91, "n_outputs": 1}
    assert m.citations() and "2507.15303" in m.citations()[0]


def _integer_shift(structure, seed=0):
    """The same crystal with every site moved by a whole lattice vector (fractional coordinates not wrapped)."""
    shift = np.random.RandomState(seed).randint(-2, 3, size=(len(structure), 3))
    moved = Structure(structure.lattice, structure.species, structure.frac_coords + shift)
    assert np.abs(moved.frac_coords - structure.frac_coords).max() >= 1
    return moved


def test_estimator_invariances_and_pickle(frame):
    X = list(frame["structure"].iloc[[0, 13, 20]])
    m = _fit(MGTRegressor(**TINY), frame["structure"], frame["y"])
    base = m.predict(X)
    for moved in ([rotate(s, 5) for s in X], [translate(s) for s in X], [permute(s, 2) for s in X],
                  [s * (1, 2, 1) for s in X], [_integer_shift(s) for s in X]):
        np.testing.assert_allclose(m.predict(moved), base, rtol=1e-4, atol=1e-5)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(m2.predict(X), base, rtol=1e-6)
    np.testing.assert_allclose(m2.router_weights(X).to_numpy(), m.router_weights(X).to_numpy(), rtol=1e-6)


def test_classifier_and_errors(frame):
    X = frame["structure"]
    labels = np.where(frame["y"] > frame["y"].median(), "high", "low")
    c = _fit(MGTClassifier(**TINY), X, labels)
    proba = c.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(1), 1, rtol=1e-6)
    assert set(c.predict(X)) <= {"high", "low"}
    assert c.router_weights(X).shape == (len(X), 2)
    from skcrystal.featurizers import CrystalGraph

    with pytest.raises(ValueError, match="DualViewGraph"):
        MGTRegressor(**TINY).fit(CrystalGraph().fit_transform(X.iloc[:3]), np.zeros(3))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MGTRegressor(**TINY).router_weights(X)


def test_single_atom_cells_train():
    X = [Structure(Lattice.cubic(a), ["Cu"], [[0, 0, 0]]) for a in (3.0, 3.2, 3.4, 3.6)]
    m = _fit(MGTRegressor(**{**TINY, "batch_size": 1}), X, [1.0, 2.0, 3.0, 4.0])
    assert np.isfinite(m.predict(X)).all()


def test_plot_router_weights(frame):
    import matplotlib

    matplotlib.use("Agg")
    from skcrystal.models.mgt import plot_router_weights

    m = _fit(MGTRegressor(**TINY), frame["structure"], frame["y"])
    w = m.router_weights(frame["structure"])
    ax = plot_router_weights({"a": w, "b": w.iloc[:5]})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    with pytest.raises(ValueError, match="view"):
        plot_router_weights(w, view="xyz")


# ----------------------------------------------------------------------------- pretraining
PRE_NET = dict(module__width=16, module__n_layers=1, module__ns=8, module__nv=4, module__angle_width=8,
               module__n_rbf=32)


@pytest.fixture(scope="module")
def pretrainer(perovskites):
    from skcrystal.models import MGTPretrainer

    X = perovskites["structure"].iloc[:16]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MGTPretrainer(**PRE_NET, max_epochs=30, batch_size=8, lr=5e-3, random_state=0).fit(X)


def test_pretraining_each_loss_term_falls(pretrainer):
    h = pretrainer.history_
    for term in ("contrastive", "angle", "vector"):
        values = np.asarray(h[:, f"train_{term}"])
        assert values[-5:].mean() < 0.9 * values[:5].mean(), (term, values)
    total = np.asarray(h[:, "train_loss"])
    weighted = np.asarray(h[:, "train_contrastive"]) + 0.5 * np.asarray(h[:, "train_angle"]) \
        + 0.5 * np.asarray(h[:, "train_vector"])
    np.testing.assert_allclose(total, weighted, rtol=1e-5)


def test_pretrained_views_match_their_own_structure(pretrainer, perovskites):
    """After contrastive pretraining, a structure's invariant embedding is closest to its *own* equivariant one."""
    X = perovskites["structure"].iloc[:16]
    emb = pretrainer.transform(X)
    w = emb.shape[1] // 2
    z1 = torch.as_tensor(emb[:, :w], dtype=torch.float32)
    z2 = torch.as_tensor(emb[:, w:], dtype=torch.float32)
    sim = torch.nn.functional.normalize(z1, dim=1) @ torch.nn.functional.normalize(z2, dim=1).t()
    matched = sim.diagonal().mean()
    assert matched > sim.mean() + 0.2
    # the loss of the real pairing is lower than that of a pairing with the views swapped between structures
    perm = torch.roll(torch.arange(16), 1)
    assert nt_xent(z1, z2) < nt_xent(z1, z2[perm])


def test_pretrained_start_and_saved_backbone(pretrainer, perovskites, tmp_path):
    from skcrystal.models.pretraining import load_backbone

    X, y = perovskites["structure"].iloc[:16], perovskites["heat_ref"].iloc[:16]
    fit0 = dict(max_epochs=0, module__hidden_dim=8, random_state=0)
    warm = _fit(MGTRegressor(pretrained=pretrainer, **fit0), X, y)
    cold = _fit(MGTRegressor(**{f"module__{k[8:]}": v for k, v in PRE_NET.items()}, **fit0), X, y)
    ref = pretrainer.backbone_state_dict()
    got = warm.module_.backbone.state_dict()
    # the weights are the pretrained ones; BatchNorm running statistics are re-estimated on the
    # fine-tuning structures at the end of fit (RecalibrateBatchNorm), so buffers are not compared
    weights = [k for k in ref if not any(s in k for s in ("running_mean", "running_var", "num_batches_tracked"))]
    assert weights and all(torch.equal(got[k], ref[k]) for k in weights)
    assert not np.allclose(warm.predict(X), cold.predict(X))
    path = pretrainer.save_backbone(tmp_path / "mgt.pt")
    rec = load_backbone(path)
    assert rec["model"] == "MGTBackbone" and rec["module_kwargs"]["width"] == 16
    from_file = _fit(MGTRegressor(pretrained=str(path), **fit0), X, y)
    np.testing.assert_allclose(from_file.predict(X), warm.predict(X), rtol=1e-5)
    with pytest.raises(ValueError, match="width"):
        _fit(MGTRegressor(pretrained=str(path), module__width=32, **fit0), X, y)
    m = _fit(MGTRegressor(pretrained=pretrainer, freeze_backbone_epochs=1, max_epochs=2, module__hidden_dim=8,
                          random_state=0), X, y)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_allclose(m2.predict(X), m.predict(X), rtol=1e-6)


def test_two_targets_one_output_each(frame):
    Y = np.stack([frame["y"].to_numpy(), 2 * frame["y"].to_numpy()], axis=1)
    m = _fit(MGTRegressor(**{**TINY, "max_epochs": 1}), frame["structure"], Y)
    assert m.module_dims_["n_outputs"] == 2 and m.predict(frame["structure"]).shape == (len(frame), 2)


def test_pretrainer_embedding_invariances(pretrainer, perovskites):
    """MGTPretrainer's transform claims the same invariances as the models: each is checked on real cells."""
    X = list(perovskites["structure"].iloc[:4])
    base = pretrainer.transform(X)
    assert np.abs(base).max() > 1e-3
    for moved in ([rotate(s, 3) for s in X], [translate(s) for s in X], [permute(s, 1) for s in X],
                  [_integer_shift(s, 1) for s in X], [s * (2, 1, 1) for s in X]):
        np.testing.assert_allclose(pretrainer.transform(moved), base, rtol=1e-4, atol=1e-5)
