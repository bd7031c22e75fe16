"""Periodic crystal graphs: correctness against brute-force enumeration, invariances, collate."""

import itertools
import pickle

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from conftest import rotate, translate
from skcrystal.encodings.atoms import atom_codes, cgcnn_atom_features, element_one_hot
from skcrystal.featurizers.graph import CrystalGraphData, gaussian_centers, gaussian_expansion
from skcrystal.geometry import periodic_neighbors
from skcrystal.nn.data import collate_graphs, gaussian_expansion_torch
from skcrystal.featurizers import CrystalGraph


def brute_force(lattice, frac, cutoff, tol=1e-8):
    """All (i, j, image, d) with tol < d <= cutoff by looping over enough images."""
    lattice = np.asarray(lattice, float)
    # number of images needed along each axis: cutoff / (distance between lattice planes)
    vol = abs(np.linalg.det(lattice))
    widths = [vol / np.linalg.norm(np.cross(lattice[(k + 1) % 3], lattice[(k + 2) % 3])) for k in range(3)]
    reach = [int(np.ceil(cutoff / w)) + 1 for w in widths]
    cart = frac @ lattice
    out = []
    for img in itertools.product(*[range(-r, r + 1) for r in reach]):
        shift = np.array(img) @ lattice
        for i in range(len(frac)):
            for j in range(len(frac)):
                d = np.linalg.norm(cart[j] + shift - cart[i])
                if tol < d <= cutoff:
                    out.append((i, j, img, d))
    return out


def as_set(ci, cj, img, d):
    return {(int(a), int(b), tuple(int(x) for x in c)): float(e) for a, b, c, e in zip(ci, cj, img, d)}


CELLS = {
    "one_atom_small_cell": (Lattice.cubic(2.9), [[0, 0, 0]], ["Fe"], 6.0),
    "triclinic_two_atoms": (Lattice.from_parameters(3.1, 3.7, 4.2, 71, 83, 101), [[0, 0, 0], [0.31, 0.52, 0.77]],
                            ["Si", "O"], 5.5),
    "rocksalt": (Lattice.cubic(5.64), [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5],
                                      [0.5, 0.5, 0.5], [0, 0, 0.5], [0, 0.5, 0], [0.5, 0, 0]],
                 ["Na"] * 4 + ["Cl"] * 4, 4.5),
    "flat_cell_longer_cutoff": (Lattice.from_parameters(2.5, 2.5, 9.0, 90, 90, 120), [[1 / 3, 2 / 3, 0.1],
                                                                                      [2 / 3, 1 / 3, 0.6]],
                                ["C", "B"], 7.0),
}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_neighbors_match_brute_force(name):
    lat, frac, _, cutoff = CELLS[name]
    frac = np.array(frac, float)
    ref = {(i, j, img): d for i, j, img, d in brute_force(lat.matrix, frac, cutoff)}
    got = as_set(*periodic_neighbors(lat.matrix, frac, cutoff))
    assert got.keys() == ref.keys()
    for k in ref:
        assert got[k] == pytest.approx(ref[k], abs=1e-8)
    if name == "one_atom_small_cell":
        # every edge is a self-image of the single atom
        assert all(i == j == 0 for i, j, _ in got) and len(got) > 12


@pytest.mark.parametrize("name", sorted(CELLS))
@pytest.mark.parametrize("k", [1, 4, 12])
def test_max_neighbors_keeps_nearest(name, k):
    lat, frac, _, cutoff = CELLS[name]
    frac = np.array(frac, float)
    allnb = periodic_neighbors(lat.matrix, frac, cutoff)
    for complete in (False, True):
        ci, cj, img, d = periodic_neighbors(lat.matrix, frac, cutoff, max_neighbors=k, complete_shells=complete)
        for i in range(len(frac)):
            full = np.sort(allnb[3][allnb[0] == i])
            mine = d[ci == i]
            assert np.all(np.diff(mine) >= -1e-12), "neighbours sorted by distance"
            if complete:
                kth = full[min(k, len(full)) - 1]
                np.testing.assert_allclose(mine, full[full <= kth + 1e-4])
            else:
                np.testing.assert_allclose(mine, full[:k])


def test_matches_cgcnn_reference_loader(perovskites):
    """Same neighbour distances as CGCNN's get_all_neighbors(8) sorted to 12 (and same edges where no tie)."""
    for s in perovskites["structure"].iloc[:5]:
        ci, cj, img, d = periodic_neighbors(s.lattice.matrix, s.frac_coords, 8.0, 12, complete_shells=False)
        for i, nbrs in enumerate(s.get_all_neighbors(8.0)):
            nbrs = sorted(nbrs, key=lambda x: x.nn_distance)[:12]
            ref_d = np.array([n.nn_distance for n in nbrs])
            np.testing.assert_allclose(d[ci == i], ref_d, atol=1e-6)


def graph_multiset(g):
    """Per-atom sorted edge descriptors (distance + canonical vector), atom features; order-free."""
    rows = []
    for i in range(g.n_atoms):
        m = g.edge_index[0] == i
        e = np.round(np.c_[g.edge_distance[m], g.edge_vector[m]], 3) + 0.0  # + 0.0 turns -0.0 into 0.0
        e = e[np.lexsort(e.T[::-1])]
        rows.append((tuple(np.round(g.atom_features[i], 6)), e.tobytes()))
    return sorted(rows)


@pytest.mark.parametrize("transform", ["rotate", "translate", "permute"])
def test_graph_invariance(transform, perovskites, mp_frame):
    structures = list(perovskites["structure"].iloc[:3]) + list(mp_frame["structure"].iloc[:3])
    moved = []
    rng = np.random.RandomState(0)
    for k, s in enumerate(structures):
        if transform == "rotate":
            moved.append(rotate(s, seed=k))
        elif transform == "translate":
            moved.append(translate(s))
        else:
            p = rng.permutation(len(s))
            moved.append(Structure(s.lattice, [s.species[i] for i in p], s.frac_coords[p]))
    cg = CrystalGraph(cutoff=6.0, max_neighbors=12)
    a = cg.fit_transform(structures)[:, 0]
    b = cg.transform(moved)[:, 0]
    for ga, gb in zip(a, b):
        assert graph_multiset(ga) == graph_multiset(gb)
        np.testing.assert_allclose(ga.global_features, gb.global_features, atol=1e-6)


def test_graph_object_contents():
    lat, frac, species, _ = CELLS["triclinic_two_atoms"]
    s = Structure(lat, species, frac)
    g = CrystalGraph(cutoff=5.0, max_neighbors=None, atom_features="both").fit_transform([s])[0, 0]
    assert isinstance(g, CrystalGraphData)
    assert g.atom_features.shape == (2, 24 + 91)
    assert g.global_features.shape == (18 + 230,)
    assert g.global_features[18:].sum() == 1
    # edge vectors: length equals the distance, and they match r_j + image - r_i in the canonical frame
    np.testing.assert_allclose(np.linalg.norm(g.edge_vector, axis=1), g.edge_distance, rtol=1e-5)
    assert g.n_edge_features == len(gaussian_centers(0, 5.0, 0.2)) + 4
    assert "n_atoms=2" in repr(g)
    g2 = pickle.loads(pickle.dumps(g))
    np.testing.assert_array_equal(g2.edge_index, g.edge_index)


def test_cgcnn_atom_features():
    f = cgcnn_atom_features([1, 8, 26, 92, 118])
    assert f.shape == (5, 91)
    assert set(np.unique(f)) <= {0.0, 1.0}
    assert f[2, :18].argmax() == 7  # Fe: group 8
    assert not np.array_equal(f[0], f[1])
    with pytest.raises(ValueError, match="1..118"):
        cgcnn_atom_features([0])


def test_element_one_hot_and_atom_feature_tuples():
    f = element_one_hot([1, 26, 118])
    assert f.shape == (3, 118) and f.sum() == 3
    assert f[1].argmax() == 25 and f[2, 117] == 1
    with pytest.raises(ValueError, match="1..118"):
        element_one_hot([119])
    s = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    full = CrystalGraph(atom_features=("faithful", "cgcnn", "element")).fit_transform([s])[0, 0].atom_features
    assert full.shape == (2, 24 + 91 + 118)
    # the tuple concatenates the named blocks in its order
    np.testing.assert_array_equal(full[:, :24], atom_codes([55, 17]))
    np.testing.assert_array_equal(full[:, 24:115], cgcnn_atom_features([55, 17]))
    np.testing.assert_array_equal(full[:, 115:], element_one_hot([55, 17]))
    both = CrystalGraph(atom_features="both").fit_transform([s])[0, 0].atom_features
    np.testing.assert_array_equal(both, full[:, :115])
    rev = CrystalGraph(atom_features=["element", "faithful"]).fit_transform([s])[0, 0].atom_features
    np.testing.assert_array_equal(rev, np.concatenate([full[:, 115:], full[:, :24]], axis=1))
    for bad in ((), ("faithful", "faithful"), ("faithful", "magpie")):
        with pytest.raises(ValueError, match="atom_features"):
            CrystalGraph(atom_features=bad).fit([s])


def test_gaussian_expansion_numpy_and_torch():
    c = gaussian_centers(0.0, 8.0, 0.2)
    assert len(c) == 41 and c[-1] == pytest.approx(8.0)
    d = np.array([0.0, 1.0, 7.9])
    a = gaussian_expansion(d, c, 0.2)
    b = gaussian_expansion_torch(torch.tensor(d), c, 0.2).numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6)
    assert a[1].argmax() == 5


def test_collate_flat_batch():
    structures = [Structure(*CELLS[k][:1], CELLS[k][2], CELLS[k][1]) for k in ("one_atom_small_cell", "rocksalt")]
    graphs = CrystalGraph(cutoff=4.0).fit_transform(structures)[:, 0]
    inputs, y = collate_graphs([(graphs[0], np.float32([1.0])), (graphs[1], np.float32([2.0]))])
    assert inputs["atom_features"].shape == (9, 24)
    assert inputs["batch"].tolist() == [0] + [1] * 8
    assert inputs["edge_index"].shape[1] == graphs[0].n_edges + graphs[1].n_edges
    # edges of the second graph are offset by the first graph's atom count
    assert inputs["edge_index"][:, graphs[0].n_edges:].min() == 1
    assert inputs["edge_features"].shape == (inputs["edge_index"].shape[1], 21 + 4)
    assert inputs["global_features"].shape == (2, 248)
    assert y.shape == (2, 1)
    assert set(collate_graphs(list(graphs))) == set(inputs)


def test_crystal_graph_params_and_errors():
    s = Structure(Lattice.cubic(4.0), ["Cs", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    for bad in (dict(cutoff=0), dict(max_neighbors=-1), dict(atom_features="x"), dict(global_features="x"),
                dict(gaussian_step=0)):
        with pytest.raises(ValueError):
            CrystalGraph(**bad).fit([s])
    g = CrystalGraph(max_neighbors=0, global_features=None).fit_transform([s])[0, 0]
    assert g.n_edges == 0 and g.global_features.shape == (0,)
    g = CrystalGraph(global_features="lattice").fit_transform([s])[0, 0]
    assert g.global_features.shape == (18,)
    assert list(CrystalGraph().fit([s]).get_feature_names_out()) == ["graph"]
    assert CrystalGraph().citations()


def test_cache_reuses_graphs(monkeypatch, perovskites):
    from skcrystal import clear_feature_cache

    clear_feature_cache()
    calls = []
    orig = CrystalGraph._featurize_one
    monkeypatch.setattr(CrystalGraph, "_featurize_one", lambda self, s: calls.append(1) or orig(self, s))
    X = perovskites["structure"].iloc[:6]
    CrystalGraph(cutoff=5.0).fit_transform(X)
    CrystalGraph(cutoff=5.0, n_jobs=2).fit_transform(X)  # n_jobs does not change the result: cache hit
    assert len(calls) == 6
    CrystalGraph(cutoff=6.0).fit_transform(X)
    assert len(calls) == 12
