"""Crystalformer: the periodic sum against brute force, invariances, padding, attention export, estimators."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline

from conftest import permute, rotate, translate
from skcrystal.featurizers import CrystalformerFeaturizer, CrystalformerInput
from skcrystal.models import CrystalformerClassifier, CrystalformerRegressor
from skcrystal.nn.crystalformer import (
    Crystalformer,
    PeriodicAttention,
    box_attention_reference,
    plan_entries,
    reference_image_range,
    sigma_max,
    truncation_bound,
    value_basis,
)
from skcrystal.nn.data import collate_crystalformer

TINY = dict(max_epochs=2, batch_size=16, module__d_model=16, module__n_layers=1, module__n_heads=2,
            module__ffn_dim=16, random_state=0, verbose=0)


# ----------------------------------------------------------------------------- cells
def _reset(structure, U):
    """The same crystal described by the lattice ``U @ L`` (``U`` integer, det ±1)."""
    U = np.asarray(U, dtype=float)
    assert abs(abs(np.linalg.det(U)) - 1) < 1e-9
    lat = U @ structure.lattice.matrix
    frac = structure.frac_coords @ np.linalg.inv(U)
    return Structure(Lattice(lat), structure.species, frac % 1.0)


def _slab(structure, vacuum=12.0):
    """A slab-like cell: the structure with ``vacuum`` Å added along its third axis (a real but thin layer)."""
    lat = structure.lattice.matrix.copy()
    c = lat[2]
    lat[2] = c + vacuum * c / np.linalg.norm(c)
    cart = structure.cart_coords
    return Structure(Lattice(lat), structure.species, cart, coords_are_cartesian=True)


def _heights(lattice):
    """Distances between lattice planes along each reciprocal direction (Å)."""
    return 1.0 / np.linalg.norm(np.linalg.inv(lattice).T, axis=1)


@pytest.fixture(scope="module")
def cells(mp_frame, perovskites):
    """Real cells: a perovskite, small MP cells, a thin slab-like cell and a very skewed cell."""
    small = [s for s in mp_frame["structure"] if len(s) <= 4][:2]
    skewed = _reset(small[0], [[1, 0, 0], [3, 1, 0], [4, 2, 1]])
    slab = _slab(small[1])
    return {"perovskite": perovskites["structure"].iloc[0], "mp0": small[0], "mp1": small[1],
            "slab": slab, "skewed": skewed}


def _one(structure, cutoff):
    return collate_crystalformer([CrystalformerFeaturizer(cutoff=cutoff).fit_transform([structure])[0, 0]])


def _attention(d_model=16, n_heads=2, seed=0, widest=False):
    torch.manual_seed(seed)
    att = PeriodicAttention(d_model, n_heads).double()
    with torch.no_grad():
        if widest:
            # ρ -> b for every query: every head at the widest Gaussian, the worst case of the truncation
            att.sigma_norm.copy_(torch.tensor([-1e4, 1.0]))
        else:
            att.sigma_norm.copy_(torch.tensor([0.0, 30.0]))   # a spread of widths
    return att


def _compare(att, structure, cutoff, seed=0):
    batch = _one(structure, cutoff)
    n = len(structure)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, att.d_model, generator=g, dtype=torch.float64)
    dist = batch["neighbor_distance"].double()
    with torch.no_grad():
        y, attn, sig = att(x, batch["atom_mask"], batch["neighbor_index"], dist, batch["neighbor_multiplicity"],
                           return_attention=True)
        lat = torch.tensor(structure.lattice.matrix)
        R = int(max(6, np.ceil(15.0 / _heights(structure.lattice.matrix).min()) + 1))
        y_ref, attn_ref = box_attention_reference(att, x, lat, torch.tensor(structure.cart_coords), R)
    scale = float(y_ref.abs().max())
    return float((y - y_ref).abs().max()) / scale, float((attn - attn_ref).abs().max()), sig


# ----------------------------------------------------------------------------- the periodic sum
def test_module_has_no_sklearn_and_shapes():
    import skcrystal.nn.crystalformer as mod

    src = open(mod.__file__).read()
    assert "sklearn" not in src and "skorch" not in src
    s = Structure(Lattice.cubic(3.0), ["Fe"], [[0, 0, 0]])
    batch = collate_crystalformer(list(CrystalformerFeaturizer().fit_transform([s, s])[:, 0]))
    for K in (64, 0):
        net = Crystalformer(n_outputs=3, d_model=16, n_layers=2, n_heads=4, ffn_dim=8, n_value_gaussians=K)
        assert net(**batch).shape == (2, 3)
    with pytest.raises(ValueError, match="divisible"):
        PeriodicAttention(10, 4)
    with pytest.raises(ValueError, match="b must be"):
        PeriodicAttention(8, 2, b=1.5)


@pytest.mark.parametrize("name", ["perovskite", "mp0", "mp1", "slab", "skewed"])
def test_periodic_sum_equals_brute_force(cells, name):
    """With a 12 Å image ball the sum equals an explicit box of images (≥ ±6 cells) to 1e-6, at any σ."""
    s = cells[name]
    for widest in (False, True):
        err, err_attn, sig = _compare(_attention(widest=widest), s, cutoff=12.0)
        assert err < 1e-6 and err_attn < 1e-6, (name, widest, err, err_attn)
        if widest:
            assert torch.allclose(sig, torch.full_like(sig, sigma_max()), atol=1e-9)


def test_brute_force_check_can_fail(cells):
    """A ball too small for the widest Gaussian misses weight: the check above would fail, within the bound."""
    s = cells["mp0"]
    err, _, _ = _compare(_attention(widest=True), s, cutoff=7.0)
    assert 1e-4 < err < truncation_bound(7.0, len(s) / s.volume)


def test_image_range_rule(cells):
    """The reference's box rule R_d = max(2, ceil((3.5σ + 0.01)|b_d|/2π)) and how the image ball relates to it."""
    s_max = sigma_max()
    assert reference_image_range(Lattice.cubic(3.0).matrix).tolist() == [3, 3, 3]    # 6.94 Å / 3 Å -> 3
    assert reference_image_range(Lattice.cubic(4.0).matrix).tolist() == [2, 2, 2]    # 1.74 -> 2
    assert reference_image_range(Lattice.cubic(20.0).matrix).tolist() == [2, 2, 2]   # at least 2
    assert reference_image_range(Lattice.cubic(1.5).matrix, sigma=0.7).tolist() == [2, 2, 2]
    assert reference_image_range(Lattice.cubic(1.5).matrix).tolist() == [5, 5, 5]    # per head: wider σ, more
    assert reference_image_range(Lattice.tetragonal(3.0, 12.0).matrix).tolist() == [3, 3, 2]
    # the default ball covers the radius of the rule at the widest head
    assert CrystalformerFeaturizer().cutoff >= 3.5 * s_max + 0.01
    for name in ("perovskite", "mp0", "slab", "skewed"):
        s = cells[name]
        att = _attention(widest=True)
        x = torch.randn(len(s), att.d_model, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        lat, cart = torch.tensor(s.lattice.matrix), torch.tensor(s.cart_coords)
        R = int(max(6, np.ceil(15.0 / _heights(s.lattice.matrix).min()) + 1))
        with torch.no_grad():
            ref, _ = box_attention_reference(att, x, lat, cart, R)
            rule, _ = box_attention_reference(att, x, lat, cart, reference_image_range(s.lattice.matrix))
            ball = {}
            for cutoff in (3.5 * s_max + 0.01, 12.0):
                b = _one(s, cutoff)
                ball[cutoff] = att(x, b["atom_mask"], b["neighbor_index"], b["neighbor_distance"].double(),
                                   b["neighbor_multiplicity"])
        scale = float(ref.abs().max())
        err_rule, err_ball, err_12 = (float((y - ref).abs().max()) / scale for y in (rule, *ball.values()))
        # the rule's box holds the whole 3.5σ ball (and more): at least as accurate; a 12 Å ball matches the rule
        assert err_rule <= err_ball and err_ball > 1e-4, (name, err_rule, err_ball)
        assert err_12 <= max(err_rule, 1e-7), (name, err_12, err_rule)


def test_test_cells_are_thin_and_skewed(cells):
    slab, skewed = cells["slab"].lattice, cells["skewed"].lattice
    assert slab.c > 3 * max(slab.a, slab.b)
    assert min(skewed.angles) < 25 or max(skewed.angles) > 155
    assert _heights(skewed.matrix).min() < 0.35 * min(skewed.abc)


def test_value_basis_truncation_is_exact(cells):
    """Leaving out the centres far beyond the longest distance does not change the network."""
    s = cells["perovskite"]
    batch = _one(s, 7.0)
    torch.manual_seed(0)
    net = Crystalformer(d_model=16, n_layers=2, n_heads=2, ffn_dim=16).double().eval()
    psi = net.value_basis(batch["neighbor_distance"].double(), batch["neighbor_multiplicity"])
    assert psi.shape[-1] < 64
    full = value_basis(batch["neighbor_distance"].double())
    assert float(full[..., psi.shape[-1]:].max()) < 1e-13
    x = net.embed(batch["atomic_numbers"], batch["atom_mask"]).double()
    att = net.layers[0].attention
    args = (x, batch["atom_mask"], batch["neighbor_index"], batch["neighbor_distance"].double(),
            batch["neighbor_multiplicity"])
    with torch.no_grad():
        torch.testing.assert_close(att(*args, psi=psi), att(*args, psi=full), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- batching and padding
def test_padding_and_batching_do_not_change_outputs(cells, mp_frame):
    """A structure predicted alone, next to a larger one (more atoms, longer image lists), or in a batch."""
    torch.manual_seed(0)
    net = Crystalformer(d_model=16, n_layers=2, n_heads=2, ffn_dim=16).eval()
    feat = CrystalformerFeaturizer()
    big = max(mp_frame["structure"], key=len)
    items = list(feat.fit_transform([cells["perovskite"], cells["mp0"], big])[:, 0])
    with torch.no_grad():
        alone = [net(**collate_crystalformer([x])) for x in items]
        together = net(**collate_crystalformer(items))
        pair = net(**collate_crystalformer(items[:2]))
    for k in range(3):
        torch.testing.assert_close(together[k], alone[k][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pair, torch.cat(alone[:2]), rtol=1e-5, atol=1e-6)
    batch = collate_crystalformer(items)
    # processing the atoms in chunks of similar list length changes the work, not the result
    args = (batch["neighbor_index"], batch["neighbor_distance"], batch["neighbor_multiplicity"])
    psi = net.value_basis(batch["neighbor_distance"], batch["neighbor_multiplicity"])
    plan = plan_entries(*args, psi, max_chunks=3, min_saving=0.0)
    assert len(plan) == 3
    x = torch.randn(int(batch["atom_mask"].sum()), 16)
    att = net.layers[0].attention
    with torch.no_grad():
        torch.testing.assert_close(att(x, batch["atom_mask"], *args, plan=plan), att(x, batch["atom_mask"], *args),
                                   rtol=1e-6, atol=1e-7)
    assert batch["atom_mask"].sum(1).tolist() == [len(cells["perovskite"]), len(cells["mp0"]), len(big)]
    assert batch["neighbor_multiplicity"].sum() == sum(x.n_images for x in items)
    assert (batch["neighbor_multiplicity"] > 0).sum() == sum(x.n_entries for x in items)


def test_featurizer_groups_images_into_shells(mp_frame):
    po = Structure(Lattice.cubic(3.35), ["Po"], [[0, 0, 0]])
    x = CrystalformerFeaturizer(cutoff=4.8).fit_transform([po])[0, 0]
    assert isinstance(x, CrystalformerInput)
    # itself, 6 faces at 3.35 Å, 12 edges at 4.74 Å
    np.testing.assert_allclose(x.neighbor_distance, [0, 3.35, 3.35 * 2**0.5], atol=1e-5)
    assert x.neighbor_multiplicity.tolist() == [1, 6, 12] and x.n_images == 19
    assert x.neighbor_center.tolist() == [0, 0, 0]
    # on real cells: every image within the cutoff is counted once (pymatgen's own neighbour list)
    for s in mp_frame["structure"].iloc[:5]:
        x = CrystalformerFeaturizer(cutoff=6.0).fit_transform([s])[0, 0]
        nbrs = s.get_all_neighbors(6.0)
        assert x.n_images == sum(len(v) for v in nbrs) + len(s)
        for i in range(len(s)):
            rows = x.neighbor_center == i
            assert x.neighbor_multiplicity[rows].sum() == len(nbrs[i]) + 1
            d_ref = np.sort([nb.nn_distance for nb in nbrs[i]] + [0.0])
            d = np.repeat(x.neighbor_distance[rows], x.neighbor_multiplicity[rows])
            np.testing.assert_allclose(np.sort(d), d_ref, atol=1e-5)


# ----------------------------------------------------------------------------- invariances (trained model)
@pytest.fixture(scope="module")
def fitted(perovskites, mp_frame):
    import pandas as pd

    X = pd.concat([perovskites["structure"].iloc[:16], mp_frame["structure"].iloc[:16]], ignore_index=True)
    y = np.r_[perovskites["heat_ref"].iloc[:16] / 5, mp_frame["formation_energy_per_atom"].iloc[:16]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CrystalformerRegressor(**TINY).fit(X, y), X


def test_invariances_rotation_translation_permutation_cell(fitted, cells):
    model, X = fitted
    base = [X.iloc[0], X.iloc[20], cells["mp0"]]
    p0 = model.predict(base)
    variants = {
        "rotation": [rotate(s, seed=3) for s in base],
        "translation": [translate(s) for s in base],
        "permutation": [permute(s, seed=1) for s in base],
        "supercell": [s * (2, 1, 1) for s in base],
        "setting": [_reset(s, [[1, 1, 0], [0, 1, 0], [1, 0, 1]]) for s in base],
    }
    for name, structures in variants.items():
        np.testing.assert_allclose(model.predict(structures), p0, rtol=1e-5, atol=1e-6, err_msg=name)


def test_invariance_check_detects_a_different_crystal(fitted):
    """The same check fails on a genuinely different structure (strained cell)."""
    model, X = fitted
    s = X.iloc[0].copy()
    s.apply_strain(0.03)
    assert abs(model.predict([s])[0] - model.predict([X.iloc[0]])[0]) > 1e-5


# ----------------------------------------------------------------------------- attention export
def test_attention_export(fitted, cells):
    model, X = fitted
    s = X.iloc[20]
    res = model.attention([s, cells["perovskite"]])
    assert len(res) == 2
    att, sig = res[0]["attention"], res[0]["sigma"]
    n = len(s)
    assert att.shape == (1, 2, n, n) and sig.shape == (1, n, 2)
    np.testing.assert_allclose(att.sum(-1), 1.0, atol=1e-5)
    assert (sig > 0).all() and (sig <= sigma_max() + 1e-6).all()
    # permuting the sites permutes the map
    perm = np.random.RandomState(0).permutation(n)
    sp = Structure(s.lattice, [s.species[i] for i in perm], s.frac_coords[perm])
    att_p = model.attention([sp])[0]["attention"]
    np.testing.assert_allclose(att_p, att[:, :, perm][:, :, :, perm], atol=1e-5)
    import matplotlib

    matplotlib.use("Agg")
    from skcrystal.models.crystalformer import plot_attention

    fig = plot_attention(res[0])
    assert len(fig.axes) >= 2


# ----------------------------------------------------------------------------- estimators
def test_recipe_defaults():
    m = CrystalformerRegressor()
    assert m.lr == 5e-4 and m.optimizer__betas == (0.9, 0.98) and m.optimizer__weight_decay == 1e-5
    assert m.gradient_clipping == 1.0 and m.criterion is torch.nn.L1Loss
    assert m.optimizer is torch.optim.AdamW and m.batch_size == 128 and m.lr_decay_steps == 4000
    assert m.swa_epochs == 0.1 and m.max_epochs == 200
    assert CrystalformerClassifier().criterion is torch.nn.CrossEntropyLoss
    assert dict(m.get_default_callbacks())["lr_schedule"].decay_steps == 4000
    # the reference architecture: 4 layers of width 128, 8 heads, FFN 512, K = 64, no layer norm, bias-free embedding
    net = Crystalformer()
    att = net.layers[0].attention
    assert len(net.layers) == 4 and att.d_model == 128 and att.n_heads == 8 and att.value_pe.shape[-1] == 64
    assert net.layers[0].linear1.out_features == 512 and net.embedding.bias is None
    assert (att.r0, att.b) == (1.4, 0.5) and not any(isinstance(mod, torch.nn.LayerNorm) for mod in net.modules())
    names = [n for n, _ in m.get_default_callbacks()]
    assert "lr_schedule" in names and "swa" in names and "gradient_clipping" in names
    m2 = CrystalformerRegressor(lr_decay_steps=None, swa_epochs=0)
    names = [n for n, _ in m2.get_default_callbacks()]
    assert "lr_schedule" not in names and "swa" not in names
    assert any("Crystalformer" in c for c in m.citations())


def test_pipeline_grid_search_and_classifier(perovskites):
    df = perovskites.iloc[:24]
    pipe = make_pipeline(CrystalformerFeaturizer(), CrystalformerRegressor(**TINY))
    gs = GridSearchCV(pipe, {"crystalformerfeaturizer__cutoff": [5.0, 6.0]}, cv=KFold(2),
                      scoring="neg_mean_absolute_error", error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs.fit(df[["structure"]], df["heat_ref"])
    assert np.isfinite(gs.best_score_)
    labels = np.where(df["heat_ref"] > df["heat_ref"].median(), "high", "low")
    clf = CrystalformerClassifier(**TINY).fit(df["structure"], labels)
    proba = clf.predict_proba(df["structure"])
    assert proba.shape == (24, 2) and set(clf.predict(df["structure"])) <= {"high", "low"}
    with pytest.raises(ValueError, match="CrystalformerFeaturizer"):
        CrystalformerRegressor(**TINY).fit(np.zeros((3, 4)), [1.0, 2.0, 3.0])


def test_pickle_and_single_element_frame():
    s = [Structure(Lattice.cubic(a), ["Cu"], [[0, 0, 0]]) for a in (2.5, 2.6, 2.7, 2.8)]
    y = [1.0, 1.5, 2.0, 2.5]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = CrystalformerRegressor(**TINY).fit(s, y)
    p = m.predict(s)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(pickle.loads(pickle.dumps(m)).predict(s), p)
