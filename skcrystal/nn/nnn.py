"""The faithful paper's naive neural network: an MLP on the fixed-size binned vector."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """Fully connected network ``n_features → hidden… → n_outputs`` with ReLU.

    Parameters
    ----------
    n_features : int
        Input width (set from the data by the skorch wrapper).
    n_outputs : int, default=1
        1 for regression, the number of classes for classification (logits).
    hidden : tuple of int, default=(1000, 1000, 1000)
        Hidden widths (the paper: 3 × 1000).
    dropout : float, default=0.0
    batch_norm : bool, default=False
        Batch normalisation after each hidden linear layer.
    """

    def __init__(self, n_features, n_outputs=1, hidden=(1000, 1000, 1000), dropout=0.0, batch_norm=False):
        super().__init__()
        layers = []
        width = n_features
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, X):
        """Map a (batch, n_features) float tensor to (batch, n_outputs).

        Parameters
        ----------
        X : Tensor of shape (batch, n_features)
            Input features.

        Returns
        -------
        Tensor of shape (batch, n_outputs)
            Outputs (logits for classification).
        """
        return self.net(X.to(torch.float32))
