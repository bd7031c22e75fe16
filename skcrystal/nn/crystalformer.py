"""Crystalformer: attention over every periodic image of every atom (plain torch).

Taniai et al. (ICLR 2024) let each atom ``i`` of the unit cell attend to every
atom ``j`` *and all its lattice images* ``p_j + n`` (infinitely connected
attention), with a Gaussian distance decay per head and query:

.. math::

    w_{ijn} = \\operatorname{softmax}_{(j,n)}\\Bigl(\\frac{q_i\\cdot k_j}{\\sqrt{d}}
              - \\frac{\\lVert p_j + n - p_i\\rVert^2}{2\\sigma_{i}^2}\\Bigr),
    \\qquad
    y_i = \\sum_{j,n} w_{ijn}\\,\\bigl(v_j + \\psi(\\lVert p_j + n - p_i\\rVert)\\,W\\bigr),

where ``σ_i = r0 / sqrt(ρ(q_i·w))`` with ``ρ(x) = (1-b)·ELU(0.1x/(1-b)) + 1``
(so ``σ ≤ r0/sqrt(b)``: 1.98 Å at the defaults ``r0 = 1.4 Å, b = 0.5``) and
``ψ`` is a Gaussian expansion of the distance (the *value position
encoding*; ``n_value_gaussians=0`` gives the paper's "simplified" model).

**How the infinite sum is evaluated.**  Because ``σ`` is bounded, a Gaussian
weight beyond a radius ``r_c`` is at most ``exp(-r_c²/2σ_max²)`` times the
weight of the atom itself.  The input therefore holds, per atom ``i``, the
list of *every* image ``(j, n)`` within ``r_c`` (computed once per structure
by :class:`~skcrystal.featurizers.CrystalformerFeaturizer`, including ``i``
itself at distance 0), and the layer takes one joint softmax over that list:
a log-sum-exp over ``(j, n)`` that cannot overflow.  Images of the same atom
at the same distance share their weight, so the list holds each
``(j, distance)`` once with its multiplicity ``m`` (the logit gains
``log m``): an exact compression, 3.8× on cubic perovskites.  The attention of ``i``
on ``j`` summed over images (``Σ_n w_ijn``), which multiplies ``v_j``, is a
scatter-add over the list; the value position encoding is a batched matrix
product of the weights with ``ψ`` — no Python loop over pairs or images.

The image set is a ball of fixed radius around each atom, so it is a
property of the crystal, not of the cell chosen to describe it: a supercell
or another primitive setting gives the same lists (up to the labels of the
atoms), hence the same prediction with mean pooling.  The truncation error
with respect to the infinite sum is bounded in :func:`truncation_bound`.

Like the reference (omron-sinicx/crystalformer) the network has no layer
normalisation (T-Fixup initialisation), ReLU feed-forward blocks, mean
pooling and a ``Linear → ReLU → Linear`` head; the element embedding is a
one-hot of the atomic number times a bias-free linear map (evaluated as a
row lookup of its weight).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from ..encodings.atoms import MAX_Z

__all__ = [
    "Crystalformer",
    "CrystalformerLayer",
    "PeriodicAttention",
    "box_attention_reference",
    "plan_entries",
    "reference_image_range",
    "sigma_max",
    "truncation_bound",
    "value_basis",
]


def sigma_max(r0=1.4, b=0.5):
    """The largest Gaussian width the attention can take, ``r0 / sqrt(b)`` (Å).

    Parameters
    ----------
    r0 : float, default=1.4
        Distance scale of the decay (Å).
    b : float, default=0.5
        Lower bound of ``ρ`` (``0 < b < 1``).

    Returns
    -------
    float
    """
    return float(r0) / math.sqrt(float(b))


def reference_image_range(lattice, sigma=None, r0=1.4, b=0.5, n_sigma=3.5, min_range=2):
    """Return the images per lattice axis of the reference code's box rule, ``R_d = max(2, ceil((3.5σ + 0.01)|b_d|/2π))``.

    The reference (omron-sinicx/crystalformer) sums, for every atom pair and
    head, over the box ``n_d ∈ [-R_d, R_d]`` (``b_d`` the reciprocal vectors,
    ``|b_d|/2π`` the inverse spacing of the lattice planes).  That box holds
    every image within ``3.5σ + 0.01`` of the query atom (the pair's
    fractional offset is below one cell), so it is at least as accurate as
    a ball of that radius; :class:`~skcrystal.featurizers.CrystalformerFeaturizer`
    lists a ball of fixed radius instead (``cutoff`` 7 Å ≥ ``3.5σ_max + 0.01``).
    Used by the tests and the speed benchmark to compare the two.

    Parameters
    ----------
    lattice : array-like (3, 3)
        Lattice vectors as rows (Å).
    sigma : float or None, default=None
        Gaussian width of the head (Å); ``None``: the widest, :func:`sigma_max`.
    r0, b : float
        The attention's decay parameters (for ``sigma=None``).
    n_sigma : float, default=3.5
    min_range : int, default=2

    Returns
    -------
    ndarray of 3 int
    """
    lattice = np.asarray(lattice, dtype=float)
    sigma = sigma_max(r0, b) if sigma is None else float(sigma)
    inv_spacing = np.linalg.norm(np.linalg.inv(lattice).T, axis=1)      # |b_d| / 2π
    return np.maximum(int(min_range), np.ceil((n_sigma * sigma + 0.01) * inv_spacing)).astype(int)


def truncation_bound(cutoff, density, r0=1.4, b=0.5):
    """An estimate of the relative weight the attention misses beyond ``cutoff``.

    The attention of atom ``i`` keeps every image within ``cutoff``; each
    image beyond it has a weight at most ``exp(-d²/2σ²)`` times the weight
    of ``i`` on itself (for equal dot products).  Summing over a uniform
    density of images (``density`` atoms per Å³) beyond ``cutoff`` gives

    .. math:: 4\\pi\\rho\\sigma^3 \\int_{c}^{\\infty} x^2 e^{-x^2/2}\\,dx,
              \\qquad c = r_c / \\sigma_{max},

    at the widest Gaussian ``σ_max``.  Narrower heads miss far less.

    Parameters
    ----------
    cutoff : float
        Radius of the image set (Å).
    density : float
        Atoms per Å³ (e.g. ``n_sites / volume``).
    r0, b : float
        The attention's decay parameters.

    Returns
    -------
    float
        Missing weight relative to the weight of the atom on itself.
    """
    from scipy.special import erfc

    s = sigma_max(r0, b)
    c = float(cutoff) / s
    tail = c * math.exp(-c * c / 2) + math.sqrt(math.pi / 2) * erfc(c / math.sqrt(2))
    return 4 * math.pi * float(density) * s**3 * tail


def value_basis(distance, n_gaussians=64, distance_max=14.0):
    """The value position encoding ``ψ``: Gaussians of the distance.

    Centres ``μ_k = k·distance_max/K`` (``k = 1..K``), width
    ``distance_max/K``: ``ψ_k(d) = exp(-(d - μ_k)² / (2 (distance_max/K)²))``
    (the reference's defaults: 64 centres up to 14 Å).

    Parameters
    ----------
    distance : Tensor of any shape
    n_gaussians : int, default=64
    distance_max : float, default=14.0

    Returns
    -------
    Tensor of shape ``distance.shape + (n_gaussians,)``
    """
    step = float(distance_max) / n_gaussians
    centers = torch.arange(1, n_gaussians + 1, dtype=distance.dtype, device=distance.device) * step
    return torch.exp(-0.5 * ((distance[..., None] - centers) / step) ** 2)


class PeriodicAttention(nn.Module):
    """Multi-head attention of each atom over all periodic images (distance decay + value encoding).

    Parameters
    ----------
    d_model : int
    n_heads : int
        ``d_model`` must be divisible by it.
    r0 : float, default=1.4
        Distance scale (Å) of the Gaussian decay.
    b : float, default=0.5
        Lower bound of ``ρ``; ``σ ≤ r0 / sqrt(b)``.
    n_value_gaussians : int, default=64
        Size of the value position encoding ``ψ``; 0 switches it off.
    value_distance_max : float, default=14.0
        Last centre of ``ψ`` (Å).
    normalize_sigma : bool, default=True
        As the reference: the raw ``q·w`` are standardised with a shift and a
        scale measured once, on the first training batch, and kept in the
        buffer ``sigma_norm`` (before that, and in a module never trained,
        the identity).

    Notes
    -----
    Inputs: the states ``x`` ``(N, d_model)`` of the ``N`` real atoms of a
    batch (in row-major order of the boolean ``atom_mask`` ``(B, n)`` of the
    padded batch) and their padded entry lists: ``neighbor_index``
    ``(N, M)`` (atom ``j`` within the structure), ``neighbor_distance``
    ``(N, M)`` and ``neighbor_multiplicity`` ``(N, M)`` (how many images of
    ``j`` lie at that distance; 0 marks padding).
    """

    def __init__(self, d_model, n_heads, r0=1.4, b=0.5, n_value_gaussians=64, value_distance_max=14.0,
                 normalize_sigma=True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        if not 0 < b < 1:
            raise ValueError(f"b must be in (0, 1), got {b}")
        if not r0 > 0:
            raise ValueError(f"r0 must be > 0, got {r0}")
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, d_model // n_heads
        self.r0, self.b = float(r0), float(b)
        self.n_value_gaussians = int(n_value_gaussians)
        self.value_distance_max = float(value_distance_max)
        self.normalize_sigma = bool(normalize_sigma)
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)
        # per head: the direction w_h whose product with q_i sets the width σ_ih
        self.sigma_weight = nn.Parameter(torch.empty(n_heads, self.head_dim))
        if self.n_value_gaussians > 0:
            self.value_pe = nn.Parameter(torch.empty(n_heads, self.head_dim, self.n_value_gaussians))
        else:
            self.register_parameter("value_pe", None)
        # shift and scale of q·w (0, 0 = not measured yet)
        self.register_buffer("sigma_norm", torch.zeros(2))
        self.reset_parameters()

    def reset_parameters(self):
        """The reference's initialisation (before the T-Fixup scaling of the encoder)."""
        for lin in (self.q_proj, self.k_proj, self.v_proj, self.out_proj):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
        nn.init.normal_(self.sigma_weight, 0.0, self.head_dim**-0.5)
        if self.value_pe is not None:
            w = self.value_pe.data.view(-1, self.n_value_gaussians)
            nn.init.xavier_uniform_(w, gain=self.n_value_gaussians**-0.5)
        self.sigma_norm.zero_()

    # ------------------------------------------------------------ σ per head and query
    def _rho(self, q):
        """``ρ(q·w)`` of shape ``q.shape[:-1]`` for ``q`` of shape ``(..., H, head_dim)``."""
        a = (q * self.sigma_weight).sum(-1)
        if self.normalize_sigma:
            if self.training and float(self.sigma_norm[1]) == 0.0:
                with torch.no_grad():
                    std = a.std() if a.numel() > 1 else a.new_tensor(0.0)
                    scale = 1.0 / std if float(std) > 1e-12 else a.new_tensor(1.0)
                    self.sigma_norm.copy_(torch.stack([-a.mean(), scale]))
            if float(self.sigma_norm[1]) != 0.0:
                a = (a + self.sigma_norm[0]) * self.sigma_norm[1]
        lb = self.b
        return (1.0 - lb) * F.elu(a * (0.1 / (1.0 - lb))) + 1.0

    def sigma(self, rho):
        """Gaussian width ``σ = r0 / sqrt(ρ)`` (Å).

        Parameters
        ----------
        rho : Tensor
            The positive factor ``ρ`` of each query and head.

        Returns
        -------
        Tensor
            ``σ``, same shape as ``rho``.
        """
        return self.r0 / torch.sqrt(rho)

    def forward(self, x, atom_mask, neighbor_index, neighbor_distance, neighbor_multiplicity, psi=None,
                return_attention=False, plan=None):
        """Attention output ``(N, d_model)`` for the ``N`` real atoms of a batch.

        Parameters
        ----------
        x : Tensor (N, d_model)
            States of the real atoms, in row-major order of ``atom_mask``.
        atom_mask : bool Tensor (B, n)
            Which slots of the padded batch hold atoms.
        neighbor_index, neighbor_distance, neighbor_multiplicity : Tensors (N, M)
            Entry lists of the real atoms (see the class notes).
        psi : Tensor (N, M, K) or None
            ``value_basis(neighbor_distance)`` (possibly without its last,
            vanishing centres); computed here when None.
        return_attention : bool, default=False
            Also return the attention summed over images, ``(N, H, n)``
            (row ``i``, head ``h``, column ``j``), and ``σ`` ``(N, H)``.
        plan : list or None, default=None
            The entry lists cut into chunks of similar length
            (:func:`plan_entries`), made once per batch by
            :class:`Crystalformer` and shared by its layers; when given, the
            three entry tensors and ``psi`` are not used.

        Returns
        -------
        y : Tensor (N, d_model)
        attn, sigma : Tensors, only with ``return_attention``
        """
        N, D = x.shape
        H, dh = self.n_heads, self.head_dim
        q = self.q_proj(x).view(N, H, dh)
        k = self.k_proj(x).view(N, H, dh)
        v = self.v_proj(x).view(N, H, dh)
        rho = self._rho(q)                                                # (N, H)
        gamma = (rho / (2.0 * self.r0**2)).unsqueeze(2)                   # (N, H, 1)
        # dot products of every query with every key of its structure (dense per batch: small)
        q_dense, k_dense, v_dense = (_to_dense(t, atom_mask) for t in (q, k, v))   # (B, n, H, dh)
        s = torch.einsum("bihd,bjhd->bihj", q_dense, k_dense)[atom_mask] * dh**-0.5  # (N, H, n)
        if plan is None:
            if self.value_pe is not None and psi is None:
                psi = value_basis(neighbor_distance, self.n_value_gaussians, self.value_distance_max)
            plan = plan_entries(neighbor_index, neighbor_distance, neighbor_multiplicity, psi, max_chunks=1)
        attn_parts, zpsi_parts = [], []
        for rows, idx, d2, log_mult, psi_c in plan:
            s_c, g_c = (s, gamma) if rows is None else (s.index_select(0, rows), gamma.index_select(0, rows))
            idx = idx.unsqueeze(1).expand(-1, H, -1)                      # (n_c, H, M_c)
            logits = torch.addcmul(s_c.gather(2, idx) + log_mult, g_c, d2, value=-1.0)
            w = torch.softmax(logits, dim=2)                              # joint over (j, n)
            attn_parts.append(torch.zeros_like(s_c).scatter_add_(2, idx, w))   # Σ_n w_ijn
            if self.value_pe is not None:
                zpsi_parts.append(torch.bmm(w, psi_c))                   # Σ_(j,n) w ψ: (n_c, H, K)
        attn = _unchunk(attn_parts, plan)                                 # (N, H, n)
        out = torch.einsum("bihj,bjhd->bihd", _to_dense(attn, atom_mask), v_dense)[atom_mask]  # (N, H, dh)
        if self.value_pe is not None:
            zpsi = _unchunk(zpsi_parts, plan)
            out = out + torch.einsum("nhk,hdk->nhd", zpsi, self.value_pe[:, :, : zpsi.shape[-1]])
        y = self.out_proj(out.reshape(N, D))
        if return_attention:
            return y, attn, self.sigma(rho)
        return y


def plan_entries(neighbor_index, neighbor_distance, neighbor_multiplicity, psi=None, max_chunks=3,
                 min_saving=0.15):
    """Cut the padded entry lists into up to ``max_chunks`` groups of atoms with similar list lengths.

    The lists are padded to the longest of the batch; atoms with short lists
    would mostly compute on padding.  Sorting the atoms by list length and
    cutting the sorted order into a few chunks, each padded only to its own
    longest list, removes most of that work (the cuts minimise the padded
    area; a cut is kept only if it saves ``min_saving`` of it).

    Parameters
    ----------
    neighbor_index, neighbor_distance, neighbor_multiplicity : Tensors (N, M)
    psi : Tensor (N, M, K) or None
    max_chunks : int, default=3
    min_saving : float, default=0.15

    Returns
    -------
    list of tuples ``(rows, index, distance², log multiplicity, psi)``
        ``rows`` (LongTensor of atom rows, or None for all rows in order),
        ``index`` ``(n_c, M_c)``, ``distance²`` and ``log multiplicity``
        ``(n_c, 1, M_c)``, ``psi`` ``(n_c, M_c, K)`` or None.
    """
    N, M = neighbor_index.shape
    counts = (neighbor_multiplicity > 0).sum(1)
    cuts = []
    if max_chunks > 1 and N > 1:
        c = torch.sort(counts, descending=True).values.cpu().numpy()
        full = N * int(c[0])
        cand = np.unique(np.linspace(1, N - 1, num=min(N - 1, 48)).astype(int))
        best, best_cuts = full, []
        for a in cand:
            cost = a * int(c[0]) + (N - a) * int(c[a])
            if cost < best:
                best, best_cuts = cost, [int(a)]
            if max_chunks > 2:
                for b_ in cand[cand > a]:
                    cost = a * int(c[0]) + (b_ - a) * int(c[a]) + (N - b_) * int(c[b_])
                    if cost < best:
                        best, best_cuts = cost, [int(a), int(b_)]
        if best < (1.0 - min_saving) * full:
            cuts = best_cuts

    def part(rows, m):
        sel = (lambda t: t[:, :m]) if rows is None else (lambda t: t.index_select(0, rows)[:, :m])
        d = sel(neighbor_distance)
        return (rows, sel(neighbor_index), (d * d).unsqueeze(1), _log_multiplicity(sel(neighbor_multiplicity)).unsqueeze(1),
                None if psi is None else sel(psi))

    if not cuts:
        return [part(None, int(counts.max()) if N else 0)]
    order = torch.argsort(counts, descending=True, stable=True)
    bounds = [0] + cuts + [N]
    return [part(order[lo:hi], int(counts[order[lo]])) for lo, hi in zip(bounds[:-1], bounds[1:])]


def _unchunk(parts, plan):
    """Rows of the chunks back in the atoms' order."""
    if len(parts) == 1 and plan[0][0] is None:
        return parts[0]
    rows = torch.cat([p[0] for p in plan])
    out = torch.cat(parts)
    inverse = torch.empty_like(rows)
    inverse[rows] = torch.arange(len(rows), device=rows.device)
    return out.index_select(0, inverse)


def _log_multiplicity(m):
    """``log m``: a shell of ``m`` equal images counts ``m`` times; padding (``m = 0``) gets a huge
    negative *finite* logit (exactly zero weight after the softmax; ``-inf`` would be as exact but
    takes the slow path of the vectorised exponential on CPU)."""
    return torch.where(m > 0, torch.log(m.clamp(min=1.0)), torch.finfo(m.dtype).min / 4)


def _to_dense(rows, mask):
    """Scatter the rows of the real atoms into a zero-padded ``(B, n, ...)`` tensor."""
    out = rows.new_zeros(mask.shape + rows.shape[1:])
    out[mask] = rows
    return out


class CrystalformerLayer(nn.Module):
    """Periodic attention + ReLU feed-forward block, residual connections, no normalisation.

    Parameters
    ----------
    d_model, n_heads : int
    ffn_dim : int
        Hidden width of the feed-forward block.
    **attention_kwargs
        Passed to :class:`PeriodicAttention`.
    """

    def __init__(self, d_model, n_heads, ffn_dim, **attention_kwargs):
        super().__init__()
        self.attention = PeriodicAttention(d_model, n_heads, **attention_kwargs)
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        nn.init.xavier_uniform_(self.linear1.weight)
        nn.init.xavier_uniform_(self.linear2.weight)
        nn.init.zeros_(self.linear1.bias)
        nn.init.zeros_(self.linear2.bias)

    def t_fixup_(self, n_layers):
        """Scale the value, output and feed-forward weights by ``0.67 N^(-1/4)`` (T-Fixup, Huang et al. 2020).

        Parameters
        ----------
        n_layers : int
            Number of layers ``N`` of the encoder.
        """
        c = 0.67 * n_layers ** (-0.25)
        with torch.no_grad():
            for w in (self.linear1.weight, self.linear2.weight, self.attention.out_proj.weight,
                      self.attention.v_proj.weight):
                w.mul_(c)

    def forward(self, x, atom_mask, neighbor_index, neighbor_distance, neighbor_multiplicity, psi=None,
                return_attention=False, plan=None):
        """Apply one block (attention + feed-forward, residual) to the real-atom states.

        Parameters
        ----------
        x : Tensor (N, d_model)
            States of the real atoms.
        atom_mask : bool Tensor (B, n)
            Which slots of the padded batch hold atoms.
        neighbor_index, neighbor_distance, neighbor_multiplicity : Tensors (N, M)
            Entry lists of the real atoms (see :class:`PeriodicAttention`).
        psi : Tensor (N, M, K) or None, default=None
            The value basis of the entries; computed when None.
        return_attention : bool, default=False
            Also return the attention summed over images and ``σ``.
        plan : list or None, default=None
            Chunked entry lists shared by the layers (:func:`plan_entries`).

        Returns
        -------
        x : Tensor (N, d_model)
            The new states.
        attn, sigma : Tensors, only with ``return_attention``
            See :meth:`PeriodicAttention.forward`.
        """
        a = self.attention(x, atom_mask, neighbor_index, neighbor_distance, neighbor_multiplicity, psi,
                           return_attention, plan)
        if return_attention:
            a, attn, sig = a
        x = x + a
        x = x + self.linear2(F.relu(self.linear1(x)))
        if return_attention:
            return x, attn, sig
        return x


class Crystalformer(nn.Module):
    """The Crystalformer encoder with mean pooling and a regression/classification head.

    Parameters
    ----------
    n_outputs : int, default=1
    d_model : int, default=128
    n_layers : int, default=4
    n_heads : int, default=8
    ffn_dim : int, default=512
    r0 : float, default=1.4
        Distance scale of the attention decay (Å).
    b : float, default=0.5
        Lower bound of ``ρ``: the widest Gaussian is ``r0/sqrt(b)`` (1.98 Å).
    n_value_gaussians : int, default=64
        Gaussians of the value position encoding; 0 is the "simplified" model.
    value_distance_max : float, default=14.0
        Last Gaussian centre (Å).
    head_hidden : int or None, default=None
        Width of the head's hidden layer (``None``: ``d_model``).
    n_elements : int, default=MAX_Z
        Size of the element one-hot (atomic numbers 1..n_elements).
    normalize_sigma : bool, default=True
        See :class:`PeriodicAttention`.
    t_fixup : bool, default=True
        T-Fixup initialisation (the network has no layer norm).
    max_chunks : int, default=3
        Atoms are processed in up to this many groups of similar entry-list
        length (:func:`plan_entries`); 1 pads every list to the longest of
        the batch.  The result is the same; only the work changes.

    Notes
    -----
    ``forward`` takes the batch dictionary of
    :func:`skcrystal.nn.data.collate_crystalformer`: ``atomic_numbers``
    ``(B, n)`` (0 = padding), ``atom_mask`` ``(B, n)`` and the entry lists
    ``neighbor_index``, ``neighbor_distance``, ``neighbor_multiplicity``
    ``(N, M)`` of the ``N`` real atoms.  Everything per atom is computed on the real
    atoms only; the padded ``(B, n, ...)`` layout is used for the dot
    products of each query with the keys of its own structure.
    """

    def __init__(self, n_outputs=1, d_model=128, n_layers=4, n_heads=8, ffn_dim=512, r0=1.4, b=0.5,
                 n_value_gaussians=64, value_distance_max=14.0, head_hidden=None, n_elements=MAX_Z,
                 normalize_sigma=True, t_fixup=True, max_chunks=3):
        super().__init__()
        self.max_chunks = int(max_chunks)
        self.n_elements = int(n_elements)
        self.n_value_gaussians = int(n_value_gaussians)
        self.value_distance_max = float(value_distance_max)
        self.r0, self.b = float(r0), float(b)
        # one-hot(Z) @ W (no bias) == a row lookup of W
        self.embedding = nn.Linear(self.n_elements, d_model, bias=False)
        std = d_model**-0.5 * ((9 * n_layers) ** -0.25 if t_fixup else 1.0)
        nn.init.normal_(self.embedding.weight, 0.0, std)
        self.layers = nn.ModuleList(
            CrystalformerLayer(d_model, n_heads, ffn_dim, r0=r0, b=b, n_value_gaussians=n_value_gaussians,
                               value_distance_max=value_distance_max, normalize_sigma=normalize_sigma)
            for _ in range(n_layers)
        )
        if t_fixup:
            for layer in self.layers:
                layer.t_fixup_(n_layers)
        hidden = d_model if head_hidden is None else int(head_hidden)
        self.head = nn.Sequential(nn.Linear(d_model, hidden), nn.ReLU(), nn.Linear(hidden, n_outputs))

    @property
    def sigma_max(self):
        """The widest Gaussian of the attention, ``r0/sqrt(b)`` (Å)."""
        return sigma_max(self.r0, self.b)

    def value_basis(self, neighbor_distance, neighbor_multiplicity):
        """Compute ``ψ`` of the listed images ``(N, M, K')``, without the centres that vanish for every image.

        Centres more than 8 widths beyond the longest distance of the batch
        contribute ``exp(-32)`` or less and are left out (the projection
        uses the matching columns), which makes this exact in float32.

        Parameters
        ----------
        neighbor_distance : Tensor (N, M)
            Distances of the listed images (Å).
        neighbor_multiplicity : Tensor (N, M)
            How many images each entry stands for (0 for padding).

        Returns
        -------
        Tensor (N, M, K') or None
            The Gaussian value basis; None for the simplified model (``K = 0``).
        """
        if self.n_value_gaussians <= 0:
            return None
        step = self.value_distance_max / self.n_value_gaussians
        d = neighbor_distance[neighbor_multiplicity > 0]
        dmax = float(d.max()) if d.numel() else 0.0
        K = max(1, min(self.n_value_gaussians, int(math.ceil((dmax + 8.0 * step) / step))))
        centers = torch.arange(1, K + 1, dtype=neighbor_distance.dtype, device=neighbor_distance.device) * step
        t = (neighbor_distance.unsqueeze(-1) - centers) * (1.0 / step)
        # below exp(-80) a Gaussian is 0 for the network; clamping keeps exp off its slow underflow path
        return torch.exp(t.mul_(t).mul_(-0.5).clamp_(min=-80.0))

    def embed(self, atomic_numbers, atom_mask):
        """Embed the elements of the real atoms.

        Parameters
        ----------
        atomic_numbers : Tensor (B, n)
            Atomic numbers of the padded batch.
        atom_mask : bool Tensor (B, n)
            Which slots hold atoms.

        Returns
        -------
        Tensor (N, d_model)
            One row per real atom.
        """
        z = (atomic_numbers[atom_mask] - 1).clamp(min=0, max=self.n_elements - 1)
        return self.embedding.weight.t()[z]

    def encode(self, atomic_numbers, atom_mask, neighbor_index, neighbor_distance, neighbor_multiplicity,
               return_attention=False):
        """Run the layers and return the states of the real atoms after the last one.

        Parameters
        ----------
        atomic_numbers : Tensor (B, n)
            Atomic numbers of the padded batch.
        atom_mask : bool Tensor (B, n)
            Which slots of the padded batch hold atoms.
        neighbor_index, neighbor_distance, neighbor_multiplicity : Tensors (N, M)
            Entry lists of the real atoms (see :class:`PeriodicAttention`).
        return_attention : bool, default=False
            Also return each layer's attention and ``σ``.

        Returns
        -------
        x : Tensor (N, d_model)
            Final atom states.
        maps : list of (attn, sigma), only with ``return_attention``
            One pair per layer.
        """
        atom_mask = atom_mask.bool()
        x = self.embed(atomic_numbers, atom_mask)
        with torch.no_grad():
            psi = self.value_basis(neighbor_distance, neighbor_multiplicity)
            plan = plan_entries(neighbor_index, neighbor_distance, neighbor_multiplicity, psi,
                                max_chunks=self.max_chunks)
        maps = []
        for layer in self.layers:
            out = layer(x, atom_mask, neighbor_index, neighbor_distance, neighbor_multiplicity, psi,
                        return_attention, plan)
            if return_attention:
                x, attn, sig = out
                maps.append((attn, sig))
            else:
                x = out
        return (x, maps) if return_attention else x

    def forward(self, atomic_numbers, atom_mask, neighbor_index, neighbor_distance, neighbor_multiplicity,
                **unused):
        """Predict from a collated batch (mean over each structure's atoms, then the head).

        Parameters
        ----------
        atomic_numbers : Tensor (B, n)
            Atomic numbers of the padded batch.
        atom_mask : bool Tensor (B, n)
            Which slots of the padded batch hold atoms.
        neighbor_index, neighbor_distance, neighbor_multiplicity : Tensors (N, M)
            Entry lists of the real atoms (see :class:`PeriodicAttention`).
        **unused
            Other entries of the collated batch (ignored).

        Returns
        -------
        Tensor (B, n_outputs)
            One row per structure.
        """
        atom_mask = atom_mask.bool()
        x = self.encode(atomic_numbers, atom_mask, neighbor_index, neighbor_distance, neighbor_multiplicity)
        counts = atom_mask.sum(1)
        batch = torch.repeat_interleave(torch.arange(len(counts), device=x.device), counts)
        pooled = x.new_zeros(len(counts), x.shape[1]).index_add_(0, batch, x)
        pooled = pooled / counts.clamp(min=1).unsqueeze(1).to(x.dtype)
        return self.head(pooled)


# ---------------------------------------------------------------------- reference sum over a box
def box_attention_reference(attention, x, lattice, cart, image_range, psi_dtype=None):
    """The same attention evaluated by brute force over an explicit box of images (one structure).

    Every image ``n ∈ [-R, R]³`` of every atom ``j`` is listed explicitly
    (``(2R+1)³`` images per pair; ``R = 2`` is the reference's pure-PyTorch
    fallback of 125 images) and the softmax is taken jointly over ``(j, n)``.
    Used to check the truncated sum of :class:`PeriodicAttention` and as the
    baseline of the speed benchmark.

    Parameters
    ----------
    attention : PeriodicAttention
    x : Tensor (n, d_model)
        Atom states of one structure.
    lattice : Tensor (3, 3)
        Lattice vectors as rows (Å).
    cart : Tensor (n, 3)
        Cartesian positions (Å).
    image_range : int or sequence of 3 int
        ``R``, or one range per lattice vector (``n_d ∈ [-R_d, R_d]``).
    psi_dtype : torch.dtype or None

    Returns
    -------
    y : Tensor (n, d_model)
    attn : Tensor (n, H, n)
        Attention summed over images.
    """
    n = x.shape[0]
    H, dh = attention.n_heads, attention.head_dim
    ranges = [int(image_range)] * 3 if np.ndim(image_range) == 0 else [int(r) for r in image_range]
    axes = [torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) for r in ranges]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    shifts = grid @ lattice.to(x.dtype)                                   # (R3, 3)
    disp = cart[None, :, None, :] - cart[:, None, None, :] + shifts[None, None]  # (n, n, R3, 3)
    d = disp.norm(dim=-1)                                                 # (n, n, R3)
    q = attention.q_proj(x).view(n, H, dh)
    k = attention.k_proj(x).view(n, H, dh)
    v = attention.v_proj(x).view(n, H, dh)
    rho = attention._rho(q)
    gamma = rho / (2.0 * attention.r0**2)                                 # (n, H)
    s = torch.einsum("ihd,jhd->ihj", q, k) * dh**-0.5                     # (n, H, n)
    logits = s[..., None] - gamma[:, :, None, None] * (d * d)[:, None]    # (n, H, n, R3)
    w = torch.softmax(logits.reshape(n, H, -1), -1).reshape(logits.shape)
    attn = w.sum(-1)
    out = torch.einsum("ihj,jhd->ihd", attn, v)
    if attention.value_pe is not None:
        psi = value_basis(d.to(psi_dtype or d.dtype), attention.n_value_gaussians, attention.value_distance_max)
        zpsi = torch.einsum("ihjr,ijrk->ihk", w, psi.to(w.dtype))
        out = out + torch.einsum("ihk,hdk->ihd", zpsi, attention.value_pe)
    return attention.out_proj(out.reshape(n, -1)), attn
