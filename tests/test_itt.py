"""ITT: token builder, network, estimators, pretraining and attention, on real structures.

PIH runs with small settings (8 Å supercell, coarse grids) so the tests stay
fast; the exact ITT features are tested against the reference in
tests/test_topology.py.
"""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import permute, rotate

from skcrystal.featurizers import ITTTokenizer, PersistentInteractionHomology
from skcrystal.featurizers.itt import ITTTokens, atom_signatures
from skcrystal.models import ITTClassifier, ITTPretrainer, ITTRegressor
from skcrystal.models.itt import attention_by_type, plot_attention
from skcrystal.nn.data import collate_itt
from skcrystal.utils.validation import structure_arrays

SMALL_PIH = dict(supercell_length=8.0, structure_cutoff=8.0, structure_grid=(0, 8, 0.5),
                 interaction_cutoff=5.0, interaction_grid=(0, 5, 0.25))
TINY = dict(module__hidden=16, module__n_layers=2, module__n_heads=2, module__ffn=16, module__atom_fea_len=8,
            module__n_conv=1)


def tokenizer(**kw):
    return ITTTokenizer(pih=PersistentInteractionHomology(**SMALL_PIH), **kw)


@pytest.fixture(scope="module")
def frame(small_frame):
    return small_frame


@pytest.fixture(scope="module")
def tokens(frame):
    return tokenizer().fit_transform(frame["structure"])[:, 0]


@pytest.fixture(scope="module")
def model(frame):
    return ITTRegressor(featurizer=tokenizer(), max_epochs=3, lr=1e-3, random_state=0, **TINY).fit(
        frame["structure"], frame["target"])


# ------------------------------------------------------------------ tokens
def test_tokens_match_pih_and_group_atoms(frame, tokens):
    s = frame["structure"].iloc[0]  # a cubic ABX3 perovskite (La Pb N O2): the two O sites are one environment
    pih = PersistentInteractionHomology(output="tokens", **SMALL_PIH).fit_transform([s])[0, 0]
    t = tokens[0]
    assert isinstance(t, ITTTokens)
    for part in ("structure", "clusters", "interactions"):
        np.testing.assert_array_equal(getattr(t, part), pih[part])
    assert t.structure.shape == (1, 48) and t.clusters.shape == (7, 48) and t.interactions.shape == (42, 40)
    sig = atom_signatures(*structure_arrays(s))
    assert t.n_groups == len(np.unique(sig, axis=0)) == 4
    np.testing.assert_allclose(t.group_fraction, [0.4, 0.2, 0.2, 0.2])  # largest group first
    o_sites = [i for i, site in enumerate(s) if site.specie.symbol == "O"]
    assert t.atom_group[o_sites[0]] == t.atom_group[o_sites[1]] == 0
    assert t.cluster_names == tuple(f"C{i}" for i in range(7)) and t.pair_names[0] == "C0->C1"
    assert t.group_labels[0].endswith("]") and t.graph.n_atoms == len(s)
    # the cap: atoms of the groups beyond max_atoms get no token
    capped = tokenizer(max_atoms=2).fit_transform([s])[0, 0]
    assert capped.n_groups == 2 and (capped.atom_group == -1).sum() == 2


def test_signature_is_permutation_invariant(frame):
    s = frame["structure"].iloc[20]
    sig = atom_signatures(*structure_arrays(s))
    perm = np.random.RandomState(0).permutation(len(s))
    from pymatgen.core import Structure

    p = Structure(s.lattice, [s.species[i] for i in perm], s.frac_coords[perm])
    np.testing.assert_array_equal(atom_signatures(*structure_arrays(p)), sig[perm])
    assert (sig[:, 0] == [site.specie.Z for site in s]).all() and (sig[:, 1] >= 0).all()


def test_standard_orientation_makes_tokens_rotation_invariant(frame):
    from skcrystal.datasets import load_mofs
    from skcrystal.featurizers.itt import standard_lattice

    # a plain rotation can change the interaction counts of a cospherical cell (the reference's complex depends on
    # which Delaunay triangulation the rounding selects; face sites no longer flip since the PIH supercell fix) ...
    s = frame["structure"].iloc[0]
    # ... the tokenizer puts both into one orientation first
    ta, tb = tokenizer().fit_transform([s, rotate(s, seed=4)])[:, 0]
    for part in ("structure", "clusters", "interactions"):
        np.testing.assert_array_equal(getattr(ta, part), getattr(tb, part))
    # and leaves lattices read from CIFs (the reference's input) untouched
    lattice = structure_arrays(load_mofs()["structure"].iloc[0])[0]
    np.testing.assert_array_equal(standard_lattice(lattice), lattice)


def test_collate_shapes_and_masks(tokens):
    batch = [tokens[0], tokens[20], tokens[25]]
    inputs, y = collate_itt([(t, 1.0) for t in batch])
    G = max(t.n_groups for t in batch)
    assert inputs["structure"].shape == (3, 1, 48) and inputs["interactions"].shape == (3, 42, 40)
    assert inputs["atom_mask"].shape == (3, G)
    assert inputs["atom_mask"].sum(1).tolist() == [t.n_groups for t in batch]
    n = [t.graph.n_atoms for t in batch]
    assert inputs["atom_group"].shape == (sum(n),) and inputs["atom_features"].shape[0] == sum(n)
    # each structure's atoms point into its own slots
    slots = inputs["atom_group"][n[0]: n[0] + n[1]]
    assert slots.min() >= G and slots.max() < 2 * G
    assert y.shape == (3,)


# ------------------------------------------------------------------ network
def test_padding_atoms_never_change_outputs(model, tokens):
    net = model.module_.eval()
    alone = []
    with torch.no_grad():
        for t in (tokens[0], tokens[20]):
            alone.append(net(**collate_itt([t])))
        together = net(**collate_itt([tokens[0], tokens[20]]))
    assert tokens[0].n_groups != tokens[20].n_groups  # the smaller one is padded in the batch
    torch.testing.assert_close(together, torch.cat(alone), rtol=1e-5, atol=1e-6)


def test_permutation_and_rotation_invariance(model, frame):
    X = list(frame["structure"].iloc[[0, 17, 22, 28]])
    ref = model.predict(X)
    np.testing.assert_allclose(model.predict([permute(s, seed=3) for s in X]), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict([rotate(s, seed=4) for s in X]), ref, rtol=1e-5, atol=1e-6)


def test_regressor_learns_and_classifier_predicts(frame):
    X, y = frame["structure"], frame["target"]
    m = ITTRegressor(featurizer=tokenizer(), max_epochs=40, lr=3e-3, random_state=0, **TINY).fit(X, y)
    assert np.mean(np.abs(m.predict(X) - y)) < 0.6 * np.mean(np.abs(y - y.mean()))
    assert set(m.token_statistics_) == {"structure", "cluster", "interaction"}
    c = ITTClassifier(featurizer=tokenizer(), max_epochs=2, random_state=0, **TINY).fit(X, frame["label"])
    proba = c.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(1), 1)
    assert set(c.predict(X)) <= {"high", "low"}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="ITT tokens"):
        ITTRegressor(**TINY).fit(np.zeros((4, 3)), np.zeros(4))
    # a string makes it structure input (a CIF/POSCAR text): row 0 (None) is the first bad row
    with pytest.raises(ValueError, match="row 0.*missing"):
        ITTRegressor(**TINY).fit(np.array([None, "x"], dtype=object), np.zeros(2))
    with pytest.raises(ValueError, match="row 1 is a int"):
        ITTRegressor(**TINY).fit(np.array([None, 3], dtype=object), np.zeros(2))


# ------------------------------------------------------------------ pretraining
@pytest.fixture(scope="module")
def pretrainer(frame):
    return ITTPretrainer(featurizer=tokenizer(), max_epochs=40, lr=3e-3, mask_ratio=0.3, random_state=0,
                         **TINY).fit(frame["structure"])


def test_pretraining_loss_falls(pretrainer, frame):
    loss = np.asarray(pretrainer.history[:, "train_loss"])
    assert loss[-5:].mean() < 0.7 * loss[:3].mean()
    emb = pretrainer.transform(frame["structure"])
    assert emb.shape == (len(frame), 16) and np.isfinite(emb).all()
    assert pretrainer.score(frame["structure"]) > -loss[:3].mean()


def test_only_masked_entries_are_scored(pretrainer, tokens):
    net = pretrainer.module_.eval()
    inputs = collate_itt(list(tokens[:6]))
    torch.manual_seed(0)
    recon, target, mask = net(**inputs)
    assert mask.shape == target.shape == recon.shape == (6, 48)
    assert 0 < mask.float().mean() < 0.6
    loss = pretrainer.get_loss((recon, target, mask), None)
    changed = torch.where(mask, recon, recon + 100.0)  # unmasked entries do not count
    assert torch.equal(pretrainer.get_loss((changed, target, mask), None), loss)
    assert not torch.equal(pretrainer.get_loss((torch.where(mask, recon + 1.0, recon), target, mask), None), loss)
    # the target is the standardised token; the masked entries are hidden from the network
    s, _, _ = net.prepare(inputs["structure"], inputs["clusters"], inputs["interactions"])
    torch.testing.assert_close(target, s[:, 0])
    torch.manual_seed(0)
    recon_again, _, _ = net(**inputs)
    torch.testing.assert_close(recon_again, recon)
    altered = dict(inputs, structure=torch.where(mask.unsqueeze(1), inputs["structure"] + 5.0, inputs["structure"]))
    torch.manual_seed(0)
    recon_altered, _, _ = net(**altered)
    torch.testing.assert_close(recon_altered, recon)


def test_pretrained_start_differs_and_survives_pickle(pretrainer, frame, tmp_path):
    X, y = frame["structure"], frame["target"]
    start = ITTRegressor(pretrained=pretrainer, max_epochs=0, random_state=0).fit(X, y)
    scratch = ITTRegressor(featurizer=tokenizer(), max_epochs=0, random_state=0, **TINY).fit(X, y)
    assert not np.allclose(start.predict(X), scratch.predict(X))
    ref = pretrainer.backbone_state_dict()
    for k, v in start.module_.backbone.state_dict().items():
        assert torch.equal(v.cpu(), ref[k]), k  # token standardisation included
    assert start.featurizer_.get_params()["pih__supercell_length"] == 8.0  # the pretrainer's tokenizer
    tuned = ITTRegressor(pretrained=pretrainer, max_epochs=2, freeze_backbone_epochs=1, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(tuned))
    np.testing.assert_allclose(again.predict(X), tuned.predict(X), rtol=1e-6)
    path = pretrainer.save_backbone(tmp_path / "itt.pt")
    from_file = ITTRegressor(pretrained=str(path), featurizer=tokenizer(), max_epochs=0, random_state=0).fit(X, y)
    np.testing.assert_allclose(from_file.predict(X), start.predict(X), rtol=1e-6)
    with pytest.raises(ValueError, match=r"expects hidden=16 but module__hidden gives hidden=32"):
        ITTRegressor(pretrained=pretrainer, module__hidden=32, max_epochs=0).fit(X, y)


# ------------------------------------------------------------------ attention
def test_attention_maps_and_plot(model, frame):
    X = frame["structure"].iloc[[0, 20]]
    att = model.attention(X)
    assert len(att) == 2
    for a, s in zip(att, X):
        L = len(a["tokens"])
        assert a["tokens"][:8] == ["structure"] + [f"C{i}" for i in range(7)]
        assert a["token_types"].count("atom") == L - 8
        assert a["self"].shape == (2, L, L) and a["cross"].shape == (2, L, 42)
        np.testing.assert_allclose(a["self"].sum(-1), 1.0, rtol=1e-5)
        np.testing.assert_allclose(a["cross"].sum(-1), 1.0, rtol=1e-5)
        assert a["interactions"][:2] == ["C0->C1", "C0->C2"]
    per_head = model.attention(X.iloc[:1], average_heads=False)[0]
    assert per_head["self"].shape[:2] == (2, 2)
    df = attention_by_type(att)
    assert isinstance(df, pd.DataFrame) and len(df) == 2
    np.testing.assert_allclose(df[["structure", "clusters", "atoms"]].sum(1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(df.filter(like="->").sum(1), 1.0, rtol=1e-5)
    import matplotlib

    matplotlib.use("Agg")
    axes = plot_attention(att)
    assert len(axes) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception, match="not fitted"):
            ITTRegressor().attention(X)


def test_several_targets_at_once(tokens, frame):
    Y = pd.DataFrame({"a": frame["target"].to_numpy(), "b": 10 * frame["target"].to_numpy() + 3})
    m = ITTRegressor(max_epochs=30, lr=3e-3, random_state=0, **TINY).fit(tokens, Y)
    pred = m.predict(tokens)
    assert pred.shape == (len(frame), 2) and m.module_.head.out_features == 2
    assert m.y_mean_.shape == (2,)
    np.testing.assert_allclose(np.corrcoef(pred[:, 0], pred[:, 1])[0, 1], 1.0, atol=0.05)  # b is a function of a
    Y.iloc[4, 1] = np.nan
    with pytest.raises(ValueError, match="m4"):
        ITTRegressor(**TINY).fit(pd.Series(list(tokens), index=frame.index), Y.set_axis(frame.index))
