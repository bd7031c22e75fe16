"""Every torch ``Dataset`` and collate function of skcrystal, in one place.

skorch builds a dataset with ``dataset(X, y)`` (``y=None`` at predict) and
batches it with the ``iterator_*__collate_fn`` the estimators pass:

* crystal graphs (:class:`~skcrystal.featurizers.graph.CrystalGraphData`):
  :class:`GraphDataset` and :func:`collate_graphs` (flat tensors with a batch
  index, no padding; the Gaussian edge expansion is built on the fly), which
  returns a :class:`SizedBatch` so that skorch's own epoch loop records the
  number of graphs as the batch size;
* dual-view graphs (:class:`~skcrystal.featurizers.dualview.DualViewGraphData`,
  MGT): :class:`GraphDataset` and :func:`collate_dual_views` (flat tensors,
  edge and line-graph indices offset into the batch, a :class:`SizedBatch`);
* voxel images (:class:`~skcrystal.featurizers.Voxelizer` output):
  :class:`VoxelDataset` and :func:`collate_voxels`;
* a feature store on disk (:mod:`skcrystal.streaming`):
  :class:`FeatureStoreDataset` reads one structure's features when indexed
  (graph models take the store itself through :class:`GraphDataset`);
* Crystalformer inputs (:class:`~skcrystal.featurizers.CrystalformerInput`):
  :class:`CrystalformerDataset` and :func:`collate_crystalformer` (atoms
  padded per batch with a mask, per-atom lists of (atom, distance) entries
  padded to the longest);
* ITT token streams (:class:`~skcrystal.featurizers.itt.ITTTokens`):
  :class:`ITTDataset` and :func:`collate_itt` (topological tokens stacked,
  the graphs flat, atom tokens padded with a mask).

Plain torch and numpy: no scikit-learn or skorch here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

__all__ = [
    "CrystalformerDataset",
    "FeatureStoreDataset",
    "GraphDataset",
    "ITTDataset",
    "SizedBatch",
    "VoxelDataset",
    "collate_crystalformer",
    "collate_dual_views",
    "collate_graphs",
    "collate_itt",
    "collate_voxels",
    "gaussian_expansion_torch",
]


def gaussian_expansion_torch(distance, centers, width):
    """Gaussian expansion ``exp(-(d - μ_k)² / width²)`` of a tensor of distances.

    Parameters
    ----------
    distance : Tensor of shape (n_edges,)
        Distances (Å).
    centers : array-like of shape (n_centers,)
        Centres ``μ_k``.
    width : float
        Width of every Gaussian.

    Returns
    -------
    Tensor of shape (n_edges, n_centers)
        The expansion.
    """
    centers = torch.as_tensor(centers, dtype=distance.dtype, device=distance.device)
    return torch.exp(-((distance[:, None] - centers[None, :]) ** 2) / width**2)


class SizedBatch:
    """A collated batch that unpacks as ``inputs, y`` and whose ``len()`` is the number of samples.

    skorch's epoch loop records ``get_len(batch[0])`` as the batch size, which
    requires every input tensor to have one row per sample; a flat graph
    batch (atoms, edges and graphs in one dict) does not.  A batch that is not
    a tuple is measured with ``len(batch)`` instead, so returning a
    ``SizedBatch`` from a collate function lets skorch's own loop run
    unchanged for variable-size inputs (graphs, atom sets, token lists).

    Parameters
    ----------
    inputs : dict of tensors
        Keyword arguments of the module's ``forward``.
    y : tensor or None
        Targets of the batch.
    n_samples : int
        Number of samples (graphs) in the batch.

    Examples
    --------
    >>> import torch
    >>> b = SizedBatch({"x": torch.zeros(7, 3)}, torch.zeros(2), n_samples=2)
    >>> inputs, y = b
    >>> len(b), tuple(inputs["x"].shape)
    (2, (7, 3))
    """

    __slots__ = ("inputs", "y", "n_samples")

    def __init__(self, inputs, y, n_samples):
        self.inputs = inputs
        self.y = y
        self.n_samples = int(n_samples)

    def __iter__(self):
        yield self.inputs
        yield self.y

    def __getitem__(self, i):
        return (self.inputs, self.y)[i]

    def __len__(self):
        return self.n_samples

    def to(self, *args, **kwargs):
        """Return a copy with every tensor moved, e.g. by Accelerate's device placement.

        Parameters
        ----------
        *args, **kwargs
            Arguments of ``Tensor.to`` (a device, a dtype, ``non_blocking``).

        Returns
        -------
        SizedBatch
            The moved batch.
        """
        def move(v):
            return v.to(*args, **kwargs) if hasattr(v, "to") else v

        return SizedBatch({k: move(v) for k, v in self.inputs.items()}, move(self.y), self.n_samples)

    def __repr__(self):
        return f"SizedBatch(n_samples={self.n_samples}, inputs={sorted(self.inputs)})"


# --------------------------------------------------------------------------- graphs
def collate_graphs(batch):
    """Batch ``(graph, y)`` pairs into flat tensors with a batch index.

    Parameters
    ----------
    batch : list of (CrystalGraphData, y) or of CrystalGraphData

    Returns
    -------
    SizedBatch or dict of tensors
        For ``(graph, y)`` pairs a :class:`SizedBatch` that unpacks as
        ``inputs, y`` (``len()`` = number of graphs); for bare graphs the
        ``inputs`` dict alone: ``atom_features`` (N, F), ``frac`` (N, 3),
        ``edge_index`` (2, E) offset into the batch, ``edge_features``
        (E, F_e) (Gaussian expansion of the distance, then
        ``[d, dx, dy, dz] / cutoff`` when the graph asks for vectors),
        ``global_features`` (B, G) and ``batch`` (N,), the graph index of
        each atom.
    """
    if batch and isinstance(batch[0], (tuple, list)):
        graphs = [b[0] for b in batch]
        ys = [b[1] for b in batch]
    else:
        graphs, ys = list(batch), None
    n_atoms = np.array([g.n_atoms for g in graphs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    edge_index = np.concatenate([g.edge_index + off for g, off in zip(graphs, offsets)], axis=1)
    dist = torch.from_numpy(np.concatenate([g.edge_distance for g in graphs]).astype(np.float32))
    centers, width, cutoff, with_vec = graphs[0].edge_basis
    feats = [gaussian_expansion_torch(dist, np.asarray(centers, dtype=np.float32), width)]
    if with_vec:
        vec = torch.from_numpy(np.concatenate([g.edge_vector for g in graphs]).astype(np.float32))
        feats.append(torch.cat([dist[:, None], vec], dim=1) / float(cutoff))
    inputs = {
        "atom_features": torch.from_numpy(np.concatenate([g.atom_features for g in graphs]).astype(np.float32)),
        "frac": torch.from_numpy(np.concatenate([g.frac for g in graphs]).astype(np.float32)),
        "edge_index": torch.from_numpy(edge_index.astype(np.int64)),
        "edge_features": torch.cat(feats, dim=1) if len(feats) > 1 else feats[0],
        "global_features": torch.from_numpy(np.stack([g.global_features for g in graphs]).astype(np.float32)),
        "batch": torch.from_numpy(np.repeat(np.arange(len(graphs)), n_atoms)),
    }
    if ys is None:
        return inputs
    y = torch.as_tensor(np.asarray([np.asarray(v) for v in ys]))
    return SizedBatch(inputs, y, len(graphs))


class GraphDataset(torch.utils.data.Dataset):
    """A torch Dataset over a sequence of :class:`CrystalGraphData` (skorch calls ``GraphDataset(X, y)``).

    Parameters
    ----------
    X : sequence of CrystalGraphData (list, 1-D object array or (n, 1) object array)
    y : array-like or None
        Targets; ``None`` (prediction) yields a 0 placeholder.
    """

    def __init__(self, X, y=None):
        if isinstance(X, np.ndarray) and X.ndim == 2:
            X = X[:, 0]
        self.X = X
        self.y = y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        yi = np.float32(0.0) if self.y is None else self.y[i]
        return self.X[i], yi


# --------------------------------------------------------------------------- dual-view graphs (MGT)
def collate_dual_views(batch):
    """Batch ``(DualViewGraphData, y)`` pairs into flat tensors (no padding, no per-atom loop).

    Parameters
    ----------
    batch : list of (DualViewGraphData, y) or of DualViewGraphData

    Returns
    -------
    SizedBatch or dict of tensors
        For ``(graph, y)`` pairs a :class:`SizedBatch` that unpacks as
        ``inputs, y`` (``len()`` = number of graphs); for bare graphs the
        ``inputs`` dict alone: ``atom_features`` (N, F); ``edge_index``
        (2, E) offset by the atoms before each graph; ``edge_distance`` (E,);
        ``edge_vector`` (E, 3); ``angle_index`` (2, P) offset by the edges
        before each graph; ``angle_cos`` (P,); ``batch`` (N,) graph of each
        atom; ``n_atoms`` (B,) atoms per graph.
    """
    if batch and isinstance(batch[0], (tuple, list)):
        graphs = [b[0] for b in batch]
        ys = [b[1] for b in batch]
    else:
        graphs, ys = list(batch), None
    n_atoms = np.array([g.n_atoms for g in graphs], dtype=np.int64)
    n_edges = np.array([g.n_edges for g in graphs], dtype=np.int64)
    atom_off = np.concatenate([[0], np.cumsum(n_atoms)[:-1]])
    edge_off = np.concatenate([[0], np.cumsum(n_edges)[:-1]])
    inputs = {
        "atom_features": torch.from_numpy(np.concatenate([g.atom_features for g in graphs]).astype(np.float32)),
        "edge_index": torch.from_numpy(
            np.concatenate([g.edge_index + off for g, off in zip(graphs, atom_off)], axis=1).astype(np.int64)
        ),
        "edge_distance": torch.from_numpy(np.concatenate([g.edge_distance for g in graphs]).astype(np.float32)),
        "edge_vector": torch.from_numpy(
            np.concatenate([g.edge_vector for g in graphs]).reshape(-1, 3).astype(np.float32)
        ),
        "angle_index": torch.from_numpy(
            np.concatenate([g.angle_index + off for g, off in zip(graphs, edge_off)], axis=1).astype(np.int64)
        ),
        "angle_cos": torch.from_numpy(np.concatenate([g.angle_cos for g in graphs]).astype(np.float32)),
        "batch": torch.from_numpy(np.repeat(np.arange(len(graphs)), n_atoms)),
        "n_atoms": torch.from_numpy(n_atoms),
    }
    if ys is None:
        return inputs
    y = torch.as_tensor(np.asarray([np.asarray(v) for v in ys]))
    return SizedBatch(inputs, y, len(graphs))


# --------------------------------------------------------------------------- voxels
def _as_voxel_rows(X, who="CCNN"):
    """Normalise voxel input to an object array of shape (n, 2): (grid or VoxelRecord, globals)."""
    if isinstance(X, pd.DataFrame):
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim == 5:
            # a stack of dense grids (n, C, N, N, N) without global vectors
            X32 = np.asarray(X, dtype=np.float32)
            out = np.empty((len(X32), 2), dtype=object)
            empty = np.zeros(0, dtype=np.float32)
            for i in range(len(X32)):
                out[i, 0], out[i, 1] = X32[i], empty
            return out
        raise ValueError(
            f"{who} needs voxel grids, got a numeric array of shape {X.shape}; put "
            "Voxelizer(output='dense') or Voxelizer(output='lazy') before it (flat output is for "
            "non-convolutional models), pass an array of shape (n, C, N, N, N), or pass structures"
        )
    X = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(
            f"{who} expects the (n, 2) object array of Voxelizer(output='dense'|'lazy') "
            f"(grid, global vector), got shape {X.shape}"
        )
    return X


class VoxelDataset(torch.utils.data.Dataset):
    """A torch Dataset over Voxelizer output; lazy records are drawn when indexed.

    Parameters
    ----------
    X : object ndarray of shape (n, 2)
        Rows ``(grid or VoxelRecord, global vector)``.
    y : array-like of shape (n,) or (n, 1), optional
    """

    def __init__(self, X, y=None):
        self.X = _as_voxel_rows(X)
        self.y = None if y is None else np.asarray(y)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        vox, g = self.X[i, 0], self.X[i, 1]
        if hasattr(vox, "dense"):
            vox = vox.dense()
        vox = torch.as_tensor(np.asarray(vox, dtype=np.float32))
        g = torch.as_tensor(np.asarray(g, dtype=np.float32))
        yi = torch.zeros(1) if self.y is None else torch.as_tensor(self.y[i])
        return vox, g, yi


def collate_voxels(batch):
    """Stack a batch into ``({"voxels": (B,C,N,N,N), "globals": (B,G)}, y)`` for ``CCNN.forward``.

    Parameters
    ----------
    batch : list of (Tensor, Tensor, Tensor)
        ``(grid, global vector, y)`` items of :class:`VoxelDataset`.

    Returns
    -------
    inputs : dict of Tensor
        ``voxels`` and, when the grids carry one, ``globals``.
    y : Tensor
        Stacked targets.
    """
    vox, g, y = zip(*batch)
    shapes = {tuple(v.shape) for v in vox}
    if len(shapes) > 1:
        raise ValueError(f"voxel grids of different shapes in one batch: {sorted(shapes)}")
    inputs = {"voxels": torch.stack(vox)}
    if g[0].numel():
        inputs["globals"] = torch.stack(g)
    return inputs, torch.stack(y)


# --------------------------------------------------------------------------- stores
class FeatureStoreDataset(torch.utils.data.Dataset):
    """A torch Dataset over a :class:`skcrystal.streaming.FeatureStore`, read item by item from disk.

    A model trains from a store larger than memory: each item is read when
    the DataLoader asks for it (one pickle for graph/token stores; numeric
    stores keep the last few Parquet parts read, so iterate them in order,
    or by part, rather than fully shuffled).

    Parameters
    ----------
    store : FeatureStore
        The store (or rows of one, ``store[indices]``).
    y : array-like of shape (n,) or None
        Targets in store order (e.g. ``targets.loc[store.keys]``); ``None``
        yields a 0 placeholder.

    Examples
    --------
    >>> from torch.utils.data import DataLoader
    >>> from skcrystal.nn.data import FeatureStoreDataset, collate_graphs
    >>> loader = DataLoader(FeatureStoreDataset(store, y), batch_size=64,
    ...                     collate_fn=collate_graphs, shuffle=True)  # doctest: +SKIP
    """

    def __init__(self, store, y=None):
        self.store = store
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(store):
            raise ValueError(f"y has {len(self.y)} rows but the store holds {len(store)} structures")

    def __len__(self):
        return len(self.store)

    def __getitem__(self, i):
        x = self.store[i]
        if self.store.kind == "numeric":
            x = torch.as_tensor(np.asarray(x, dtype=np.float32))
        yi = np.float32(0.0) if self.y is None else self.y[i]
        return x, yi
# --------------------------------------------------------------------------- ITT tokens
class ITTDataset(GraphDataset):
    """A torch Dataset over :class:`~skcrystal.featurizers.itt.ITTTokens` (skorch calls ``ITTDataset(X, y)``).

    Parameters
    ----------
    X : sequence of ITTTokens (list, 1-D or (n, 1) object array)
    y : array-like or None
        Targets; ``None`` (prediction, pretraining) yields a 0 placeholder.
    """


def collate_itt(batch):
    """Batch ``(ITTTokens, y)`` pairs for :class:`skcrystal.nn.itt.ITT`.

    Parameters
    ----------
    batch : list of (ITTTokens, y) or of ITTTokens

    Returns
    -------
    inputs : dict of tensors
        ``structure`` (B, 1, d_s), ``clusters`` (B, n_c, d_c),
        ``interactions`` (B, n_i, d_i) (float32, raw counts); the flat graph
        of :func:`collate_graphs` (``atom_features``, ``edge_index``,
        ``edge_features``, ``batch``…); ``atom_group`` (N,) the slot of each
        atom in the padded atom tokens (``b * G + g``, -1 for atoms beyond
        the cap); ``group_fraction`` (B, G) and ``atom_mask`` (B, G) (True
        for real atom tokens), with G the largest number of atom tokens in
        the batch.
    y : tensor
        Stacked targets (only when pairs were given).
    """
    if batch and isinstance(batch[0], (tuple, list)):
        toks = [b[0] for b in batch]
        ys = [b[1] for b in batch]
    else:
        toks, ys = list(batch), None
    for name in ("structure", "clusters", "interactions"):
        shapes = {np.shape(getattr(t, name)) for t in toks}
        if len(shapes) > 1:
            raise ValueError(f"ITT {name} tokens of different shapes in one batch: {sorted(shapes)}; build all "
                             "tokens with the same ITTTokenizer settings")
    inputs = collate_graphs([t.graph for t in toks])
    B = len(toks)
    G = max(1, max(t.n_groups for t in toks))
    group = []
    frac = np.zeros((B, G), dtype=np.float32)
    mask = np.zeros((B, G), dtype=bool)
    for b, t in enumerate(toks):
        g = np.asarray(t.atom_group, dtype=np.int64)
        group.append(np.where(g >= 0, g + b * G, -1))
        frac[b, : t.n_groups] = t.group_fraction
        mask[b, : t.n_groups] = True
    inputs.update(
        structure=torch.from_numpy(np.stack([np.asarray(t.structure, dtype=np.float32) for t in toks])),
        clusters=torch.from_numpy(np.stack([np.asarray(t.clusters, dtype=np.float32) for t in toks])),
        interactions=torch.from_numpy(np.stack([np.asarray(t.interactions, dtype=np.float32) for t in toks])),
        atom_group=torch.from_numpy(np.concatenate(group)),
        group_fraction=torch.from_numpy(frac),
        atom_mask=torch.from_numpy(mask),
    )
    if ys is None:
        return inputs
    y = torch.as_tensor(np.asarray([np.asarray(v) for v in ys]))
    return SizedBatch(inputs, y, len(toks))


# --------------------------------------------------------------------------- crystalformer
def collate_crystalformer(batch):
    """Batch ``(CrystalformerInput, y)`` pairs: atoms padded with a mask, image lists padded per atom.

    Parameters
    ----------
    batch : list of (CrystalformerInput, y) or of CrystalformerInput

    Returns
    -------
    inputs : dict of tensors
        ``atomic_numbers`` (B, n) int64 (0 on padding), ``atom_mask`` (B, n)
        bool, and for the ``N`` real atoms in row-major order of
        ``atom_mask``: ``neighbor_index`` (N, M) int64 (atom ``j`` within
        its structure), ``neighbor_distance`` (N, M) float32 and
        ``neighbor_multiplicity`` (N, M) float32 (images sharing that atom
        and distance; 0 marks padding), where ``M`` is the longest entry
        list of the batch.
    y : tensor
        Stacked targets (only when pairs were given; then the pair is a
        :class:`SizedBatch`).
    """
    if batch and isinstance(batch[0], (tuple, list)):
        items = [b[0] for b in batch]
        ys = [b[1] for b in batch]
    else:
        items, ys = list(batch), None
    n_atoms = np.array([x.n_atoms for x in items], dtype=np.int64)
    B, n_max = len(items), int(n_atoms.max())
    Z = np.zeros((B, n_max), dtype=np.int64)
    atom_mask = np.arange(n_max)[None, :] < n_atoms[:, None]
    Z[atom_mask] = np.concatenate([x.atomic_numbers for x in items])
    counts = np.concatenate([x.neighbor_count for x in items])           # per real atom
    N, M = len(counts), int(counts.max())
    row = np.repeat(np.arange(N), counts)                                 # real-atom row of each image
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    col = np.arange(len(row)) - starts[row]
    index = np.zeros((N, M), dtype=np.int64)
    dist = np.zeros((N, M), dtype=np.float32)
    mult = np.zeros((N, M), dtype=np.float32)
    index[row, col] = np.concatenate([x.neighbor_index for x in items])
    dist[row, col] = np.concatenate([x.neighbor_distance for x in items])
    mult[row, col] = np.concatenate([x.neighbor_multiplicity for x in items])
    inputs = {
        "atomic_numbers": torch.from_numpy(Z),
        "atom_mask": torch.from_numpy(atom_mask),
        "neighbor_index": torch.from_numpy(index),
        "neighbor_distance": torch.from_numpy(dist),
        "neighbor_multiplicity": torch.from_numpy(mult),
    }
    if ys is None:
        return inputs
    y = torch.as_tensor(np.asarray([np.asarray(v) for v in ys]))
    return SizedBatch(inputs, y, B)


class CrystalformerDataset(GraphDataset):
    """A torch Dataset over a sequence of :class:`~skcrystal.featurizers.CrystalformerInput`.

    skorch calls ``CrystalformerDataset(X, y)``; batches are made by
    :func:`collate_crystalformer`.

    Parameters
    ----------
    X : sequence of CrystalformerInput (list, 1-D object array or (n, 1) object array)
    y : array-like or None
        Targets; ``None`` (prediction) yields a 0 placeholder.
    """
