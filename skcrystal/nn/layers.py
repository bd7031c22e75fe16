"""Small torch building blocks shared by the graph and set models (plain torch)."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

__all__ = ["SafeBatchNorm1d", "ResidualMLP", "scatter_sum", "scatter_mean", "to_dense_batch", "make_norm"]


def scatter_sum(src, index, dim_size):
    """Sum rows of ``src`` into ``dim_size`` buckets given by ``index``.

    Parameters
    ----------
    src : Tensor of shape (N, ...)
        Rows to sum.
    index : LongTensor of shape (N,)
        Bucket of each row.
    dim_size : int
        Number of buckets.

    Returns
    -------
    Tensor of shape (dim_size, ...)
        Per-bucket sums (0 for empty buckets).
    """
    out = src.new_zeros((dim_size,) + tuple(src.shape[1:]))
    return out.index_add_(0, index, src)


def scatter_mean(src, index, dim_size):
    """Average the rows of ``src`` per bucket (empty buckets give 0).

    Parameters
    ----------
    src : Tensor of shape (N, ...)
        Rows to average.
    index : LongTensor of shape (N,)
        Bucket of each row.
    dim_size : int
        Number of buckets.

    Returns
    -------
    Tensor of shape (dim_size, ...)
        Per-bucket means.
    """
    total = scatter_sum(src, index, dim_size)
    count = torch.bincount(index, minlength=dim_size).clamp(min=1).to(src.dtype)
    return total / count.view(-1, *([1] * (src.dim() - 1)))


def to_dense_batch(x, batch, n_graphs):
    """Pad a flat ``(N, F)`` tensor into ``(B, n_max, F)`` plus a boolean mask of real rows.

    Parameters
    ----------
    x : Tensor of shape (N, F)
        Rows of all graphs, graph by graph.
    batch : LongTensor of shape (N,)
        Graph index of each row (sorted).
    n_graphs : int
        Number of graphs ``B``.

    Returns
    -------
    out : Tensor of shape (B, n_max, F)
        Zero-padded rows.
    mask : BoolTensor of shape (B, n_max)
        True for real rows.
    """
    counts = torch.bincount(batch, minlength=n_graphs)
    n_max = int(counts.max()) if counts.numel() else 0
    starts = torch.cumsum(counts, 0) - counts
    pos = torch.arange(len(batch), device=x.device) - starts[batch]
    out = x.new_zeros((n_graphs, n_max) + tuple(x.shape[1:]))
    out[batch, pos] = x
    mask = torch.zeros((n_graphs, n_max), dtype=torch.bool, device=x.device)
    mask[batch, pos] = True
    return out, mask


class SafeBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d that uses its running statistics when a training batch has a single row.

    (A batch holding one single-atom crystal would otherwise make BatchNorm fail.)
    Takes the parameters of :class:`torch.nn.BatchNorm1d`.

    Parameters
    ----------
    num_features : int
        Channels.
    *args, **kwargs
        ``eps``, ``momentum``, ``affine``, ``track_running_stats``,
        ``device``, ``dtype`` as in :class:`torch.nn.BatchNorm1d`.
    """

    def __init__(self, num_features, *args, **kwargs):
        super().__init__(num_features, *args, **kwargs)

    def forward(self, x):
        """Normalise (running statistics for a single-row training batch).

        Parameters
        ----------
        x : Tensor of shape (N, C)
            Input rows.

        Returns
        -------
        Tensor of shape (N, C)
            Normalised rows.
        """
        if self.training and x.shape[0] < 2:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)
        return super().forward(x)


def make_norm(kind, width):
    """Build a normalisation layer: ``"batch"`` -> :class:`SafeBatchNorm1d`, ``"layer"`` -> LayerNorm, ``None`` -> identity.

    Parameters
    ----------
    kind : {"batch", "layer", None}
        The normalisation.
    width : int
        Channels.

    Returns
    -------
    torch.nn.Module
        The layer.
    """
    if kind == "batch":
        return SafeBatchNorm1d(width)
    if kind == "layer":
        return nn.LayerNorm(width)
    if kind is None or kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'layer' or None, got {kind!r}")


class ResidualMLP(nn.Module):
    """An MLP ``in -> hidden (x n_layers) -> out`` with skip connections between equal-width layers.

    Parameters
    ----------
    n_in, n_hidden, n_out : int
    n_layers : int, default=2
        Number of hidden layers.
    activation : type, default=nn.SiLU
    dropout : float, default=0.0
    """

    def __init__(self, n_in, n_hidden, n_out, n_layers=2, activation=nn.SiLU, dropout=0.0):
        super().__init__()
        self.inp = nn.Linear(n_in, n_hidden)
        self.hidden = nn.ModuleList(nn.Linear(n_hidden, n_hidden) for _ in range(max(0, n_layers - 1)))
        self.out = nn.Linear(n_hidden, n_out)
        self.act = activation()
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        """Apply the network.

        Parameters
        ----------
        x : Tensor of shape (N, n_in)
            Input rows.

        Returns
        -------
        Tensor of shape (N, n_out)
            Outputs.
        """
        h = self.act(self.inp(x))
        for lin in self.hidden:
            h = h + self.drop(self.act(lin(h)))
        return self.out(self.drop(h))
