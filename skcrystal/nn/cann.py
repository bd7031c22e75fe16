"""CANN: a crystal attention network — pure attention over the atom set (plain torch).

Following Nop et al. (2025), each atom becomes one token
``position code ⊕ atom code ⊕ g`` (no adjacency matrix), and alternating
multi-head self-attention and feed-forward blocks with skip connections
process the set; a pooling step makes the output permutation invariant.
The set-transformer option (Lee et al. 2019) replaces full self-attention by
induced set attention (ISAB, cost O(n·m) with ``m`` inducing points) and pools
with attention (PMA).  Variable atom counts are handled with key-padding masks.

The position code is ``sin`` and ``cos`` of ``2π·2^k·x`` (k = 0..n−1) on the
fractional coordinates: periodic in the cell, like the paper's
``sin(2π·2^(k+1)·x)``, but with the fundamental frequency as well, so ``x``
and ``x + 1/2`` get different codes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .layers import to_dense_batch

__all__ = ["CANN", "MAB", "frac_fourier"]


def frac_fourier(frac, n_frequencies):
    """Fourier code ``[sin(2π 2^k x), cos(2π 2^k x)]``, k < n_frequencies, of fractional coordinates.

    Parameters
    ----------
    frac : Tensor of shape (N, 3)
        Fractional coordinates.
    n_frequencies : int
        Octaves.

    Returns
    -------
    Tensor of shape (N, 6 * n_frequencies)
        The code.
    """
    freqs = 2.0 ** torch.arange(n_frequencies, device=frac.device, dtype=frac.dtype)
    ang = 2 * math.pi * frac[:, :, None] * freqs
    return torch.cat([torch.sin(ang), torch.cos(ang)], dim=2).reshape(len(frac), -1)


class MAB(nn.Module):
    """Multi-head attention block: ``h = q + Att(LN(q), LN(kv)); h + FF(LN(h))`` (pre-norm).

    Parameters
    ----------
    d_model : int
        Token width.
    n_heads : int
        Attention heads.
    ff_hidden : int
        Hidden width of the feed-forward network.
    dropout : float, default=0.0
        Dropout in attention and feed-forward.
    """

    def __init__(self, d_model, n_heads, ff_hidden, dropout=0.0):
        super().__init__()
        self.norm_q = nn.LayerNorm(d_model)
        self.norm_kv = nn.LayerNorm(d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm_ff = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, ff_hidden),
            nn.GELU(),
            nn.Linear(ff_hidden, ff_hidden),
            nn.GELU(),
            nn.Linear(ff_hidden, d_model),
            nn.Dropout(dropout),
        )

    def forward(self, q, kv, key_padding_mask=None):
        """Attend from the queries to the keys/values, then the feed-forward block.

        Parameters
        ----------
        q : Tensor of shape (B, n_q, d_model)
            Queries.
        kv : Tensor of shape (B, n, d_model)
            Keys and values.
        key_padding_mask : BoolTensor of shape (B, n), optional
            True for padding positions of ``kv``.

        Returns
        -------
        Tensor of shape (B, n_q, d_model)
            Updated queries.
        """
        a, _ = self.attn(self.norm_q(q), self.norm_kv(kv), self.norm_kv(kv), key_padding_mask=key_padding_mask, need_weights=False)
        h = q + a
        return h + self.ff(self.norm_ff(h))


class ISAB(nn.Module):
    """Induced set attention block: the set attends through ``n_inducing`` learned points."""

    def __init__(self, d_model, n_heads, ff_hidden, n_inducing, dropout=0.0):
        super().__init__()
        self.inducing = nn.Parameter(torch.randn(1, n_inducing, d_model) / math.sqrt(d_model))
        self.mab1 = MAB(d_model, n_heads, ff_hidden, dropout)
        self.mab2 = MAB(d_model, n_heads, ff_hidden, dropout)

    def forward(self, x, key_padding_mask=None):
        h = self.mab1(self.inducing.expand(x.shape[0], -1, -1), x, key_padding_mask)
        return self.mab2(x, h)


class CANN(nn.Module):
    """Crystal attention network over the set of atoms.

    Parameters
    ----------
    n_atom_features : int
        Width of the atom code.
    n_global_features : int, default=0
        Width of the global vector ``g`` appended to every token.
    n_outputs : int, default=1
    n_frequencies : int, default=5
        Frequencies of the fractional-coordinate code (6·n numbers per atom).
    d_model : int, default=64
        Token width (the reference implementation: 4 heads × 64).
    n_heads : int, default=4
    n_blocks : int, default=2
        Attention + feed-forward blocks.
    ff_hidden : int, default=128
        Hidden width of the 3-layer feed-forward networks.
    attention : {"full", "isab"}, default="full"
        Full self-attention (SAB) or induced set attention (ISAB).
    n_inducing : int, default=16
        Inducing points for ``attention="isab"``.
    pooling : {"pma", "mean"}, default="pma"
        Attention pooling with one learned seed (PMA) or masked mean.
    dropout : float, default=0.0
    """

    def __init__(
        self,
        n_atom_features,
        n_global_features=0,
        n_outputs=1,
        n_frequencies=5,
        d_model=64,
        n_heads=4,
        n_blocks=2,
        ff_hidden=128,
        attention="full",
        n_inducing=16,
        pooling="pma",
        dropout=0.0,
    ):
        super().__init__()
        if attention not in ("full", "isab"):
            raise ValueError(f"attention must be 'full' or 'isab', got {attention!r}")
        if pooling not in ("pma", "mean"):
            raise ValueError(f"pooling must be 'pma' or 'mean', got {pooling!r}")
        self.n_frequencies = n_frequencies
        self.pooling = pooling
        n_in = 6 * n_frequencies + n_atom_features + n_global_features
        self.embed = nn.Linear(n_in, d_model)
        if attention == "full":
            self.blocks = nn.ModuleList(MAB(d_model, n_heads, ff_hidden, dropout) for _ in range(n_blocks))
        else:
            self.blocks = nn.ModuleList(ISAB(d_model, n_heads, ff_hidden, n_inducing, dropout) for _ in range(n_blocks))
        self.attention = attention
        if pooling == "pma":
            self.seed = nn.Parameter(torch.randn(1, 1, d_model) / math.sqrt(d_model))
            self.pma = MAB(d_model, n_heads, ff_hidden, dropout)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Sequential(nn.Linear(d_model, ff_hidden), nn.GELU(), nn.Linear(ff_hidden, n_outputs))

    def forward(self, atom_features, frac, global_features, batch, edge_index=None, edge_features=None):
        """Predict from a batch produced by :func:`skcrystal.nn.data.collate_graphs` (edges unused).

        Parameters
        ----------
        atom_features : Tensor of shape (N, n_atom_features)
            Atom codes of all graphs.
        frac : Tensor of shape (N, 3)
            Fractional coordinates.
        global_features : Tensor of shape (B, n_global_features)
            One global vector per graph.
        batch : LongTensor of shape (N,)
            Graph index of each atom.
        edge_index, edge_features : Tensor, optional
            Ignored.

        Returns
        -------
        tensor of shape (n_graphs, n_outputs)
        """
        n_graphs = global_features.shape[0]
        tokens = [frac_fourier(frac, self.n_frequencies), atom_features]
        if global_features.shape[1]:
            tokens.append(global_features[batch])
        x = self.embed(torch.cat(tokens, dim=1))
        x, mask = to_dense_batch(x, batch, n_graphs)
        pad = ~mask
        for block in self.blocks:
            x = block(x, x, pad) if self.attention == "full" else block(x, pad)
        if self.pooling == "pma":
            h = self.pma(self.seed.expand(n_graphs, -1, -1), x, pad)[:, 0]
        else:
            m = mask.unsqueeze(-1).to(x.dtype)
            h = (x * m).sum(1) / m.sum(1).clamp(min=1)
        return self.head(self.norm(h))
