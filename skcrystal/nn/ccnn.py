"""The crystal convolutional neural network (CCNN) of Nop et al. (2025), in plain torch.

Input: a batch of voxel images ``(B, C, N, N, N)`` of unit cells (see
:class:`skcrystal.featurizers.Voxelizer`) and optionally a global vector
``(B, G)``.  Layout (the paper's public configuration at ``width=1``):

* **global branch** — ``g`` → MLP (hidden 300) → a coarse ``M³`` grid
  (``M = ⌈N/2⌉``, 21³ for N=42) → 3-D transposed convolution (kernel 2,
  stride 2) to 2 channels on the ``N³`` grid, concatenated to the voxels;
* **convolution stack** (circular padding, so the cell's periodicity is
  respected): k5/s3 → 90, 1×1 → 90 ×2, k2/s2 → 90, k5/s3 → 270,
  1×1 → 270 ×2, k3/s3 → 540, then a global average pool (a no-op when the
  stack ends on 1³, as for N=32 and 42);
* **head** — MLP 1024–512–256 on the pooled features (and ``g``) → outputs.

Channel and hidden widths are multiplied by ``width`` so tests can run tiny
models.  This module imports neither scikit-learn nor skorch.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["CCNN", "CircularConv3d"]


def _circular_pad(x, pads):
    """Pad the last three dims of ``x`` periodically; ``pads = ((l, r), (l, r), (l, r))``.

    Works for any padding size (also wider than the input, where
    ``torch.nn.functional.pad`` refuses), by index wrapping.
    """
    for dim, (lo, hi) in zip((2, 3, 4), pads):
        if lo == 0 and hi == 0:
            continue
        n = x.shape[dim]
        idx = torch.arange(-lo, n + hi, device=x.device) % n
        x = x.index_select(dim, idx)
    return x


class CircularConv3d(nn.Module):
    """3-D convolution with periodic ("circular") padding of ``kernel_size − 1`` in total.

    The output has ``⌈n / stride⌉`` voxels per axis for any input size ``n``.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
    stride : int, default=1
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1):
        super().__init__()
        total = kernel_size - 1
        self.pads = ((total // 2, total - total // 2),) * 3
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size, stride=stride, padding=0)

    def forward(self, x):
        """Convolve ``x`` with periodic padding.

        Parameters
        ----------
        x : Tensor of shape (B, C, N, N, N)
            Voxel images.

        Returns
        -------
        Tensor of shape (B, out_channels, ⌈N/stride⌉, ⌈N/stride⌉, ⌈N/stride⌉)
            The convolution.
        """
        if any(lo or hi for lo, hi in self.pads):
            x = _circular_pad(x, self.pads)
        return self.conv(x)


def _w(c, width):
    return max(1, int(round(c * width)))


class CCNN(nn.Module):
    """Crystal convolutional neural network on voxel images of unit cells.

    Parameters
    ----------
    n_channels : int
        Voxel channels ``C`` of the input.
    grid : int
        Voxels per axis ``N`` of the input.
    n_globals : int, default=0
        Length ``G`` of the global vector (0: no global branch).
    n_outputs : int, default=1
        Outputs (1 for regression, the number of classes for classification).
    width : float, default=1.0
        Multiplier on every channel/hidden width (1.0: the paper's 90/270/540
        channels, 300-wide global MLP, 1024–512–256 head).
    conv_channels : tuple of 3 int, default=(90, 270, 540)
        Channels of the three convolution stages (before ``width``).
    head : tuple of int, default=(1024, 512, 256)
        Hidden widths of the head MLP (before ``width``).
    global_hidden : int, default=300
        Hidden width of the global-vector MLP (before ``width``).
    global_channels : int, default=2
        Channels the global branch adds to the voxel grid.
    global_to_head : bool, default=True
        Also concatenate ``g`` to the head input (as the public code does).
    dropout : float, default=0.0
        Dropout before each hidden layer of the head.
    norm : {None, "group", "batch"}, default=None
        Normalisation after each convolution (the paper has none).
        ``"group"`` (GroupNorm, batch-size independent) trains markedly faster
        in our tests; ``"batch"`` needs batches of more than one structure
        once the grid has shrunk to a single voxel.
    """

    def __init__(
        self,
        n_channels,
        grid,
        n_globals=0,
        n_outputs=1,
        width=1.0,
        conv_channels=(90, 270, 540),
        head=(1024, 512, 256),
        global_hidden=300,
        global_channels=2,
        global_to_head=True,
        dropout=0.0,
        norm=None,
    ):
        super().__init__()
        self.n_channels = int(n_channels)
        self.grid = int(grid)
        self.n_globals = int(n_globals)
        self.global_to_head = bool(global_to_head) and self.n_globals > 0
        c1, c2, c3 = (_w(c, width) for c in conv_channels)
        act = nn.LeakyReLU

        in_ch = self.n_channels
        if self.n_globals > 0:
            self.coarse = math.ceil(self.grid / 2)
            gh = _w(global_hidden, width)
            self.global_mlp = nn.Sequential(
                nn.Linear(self.n_globals, gh), act(), nn.Linear(gh, self.coarse**3), act()
            )
            self.global_up = nn.ConvTranspose3d(1, global_channels, kernel_size=2, stride=2)
            in_ch += global_channels
        else:
            self.global_mlp = None
            self.global_up = None

        if norm not in (None, "group", "batch"):
            raise ValueError(f"norm must be None, 'group' or 'batch', got {norm!r}")

        def block(cin, cout, k, stride=1):
            layers = [CircularConv3d(cin, cout, k, stride=stride)]
            if norm == "batch":
                layers.append(nn.BatchNorm3d(cout))
            elif norm == "group":
                layers.append(nn.GroupNorm(math.gcd(cout, 8), cout))
            layers.append(act())
            return layers

        self.convs = nn.Sequential(
            *block(in_ch, c1, 5, 3), *block(c1, c1, 1), *block(c1, c1, 1), *block(c1, c1, 2, 2),
            *block(c1, c2, 5, 3), *block(c2, c2, 1), *block(c2, c2, 1), *block(c2, c3, 3, 3),
        )
        self.pool = nn.AdaptiveAvgPool3d(1)

        layers = []
        prev = c3 + (self.n_globals if self.global_to_head else 0)
        for h in head:
            h = _w(h, width)
            if dropout:
                layers.append(nn.Dropout(dropout))
            layers += [nn.Linear(prev, h), act()]
            prev = h
        layers.append(nn.Linear(prev, int(n_outputs)))
        self.head = nn.Sequential(*layers)

    def forward(self, voxels, globals=None):  # noqa: A002 - the paper's name for g
        """Predict from voxel images and global vectors.

        Parameters
        ----------
        voxels : Tensor of shape (B, C, N, N, N)
        globals : Tensor of shape (B, G) or None

        Returns
        -------
        Tensor of shape (B, n_outputs)
        """
        if voxels.dim() != 5 or voxels.shape[1] != self.n_channels:
            raise ValueError(
                f"CCNN expects voxels of shape (B, {self.n_channels}, N, N, N), got {tuple(voxels.shape)}"
            )
        x = voxels
        if self.global_mlp is not None:
            if globals is None or globals.shape[-1] != self.n_globals:
                got = None if globals is None else tuple(globals.shape)
                raise ValueError(f"CCNN expects globals of shape (B, {self.n_globals}), got {got}")
            n = x.shape[-1]
            coarse = self.global_mlp(globals).view(-1, 1, self.coarse, self.coarse, self.coarse)
            gg = self.global_up(coarse)[..., :n, :n, :n]
            if gg.shape[-1] < n:  # input grid larger than at construction
                gg = nn.functional.interpolate(gg, size=(n, n, n), mode="nearest")
            x = torch.cat([x, gg], dim=1)
        h = self.pool(self.convs(x)).flatten(1)
        if self.global_to_head:
            h = torch.cat([h, globals], dim=1)
        return self.head(h)
