"""CCNN: the faithful paper's 3-D convolutional network on voxel images, as skorch estimators."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch

from .._citations import NOP2025_FAITHFUL
from ..featurizers.voxel import Voxelizer
from ..nn.ccnn import CCNN
from ..nn.data import VoxelDataset, _as_voxel_rows, collate_voxels
from ..utils._param_validation import Interval, SequenceOf, StrOptions
from ..utils._docstring import NETWORK_PARAMS, Substitution
from .base import DEFAULT_DEVICE, CrystalNetClassifier, CrystalNetMixin, CrystalNetRegressor

__all__ = ["CCNNClassifier", "CCNNRegressor"]

_CITATION = NOP2025_FAITHFUL


_CCNN_DOC = """
    Given structures it applies :class:`~skcrystal.featurizers.Voxelizer`
    (``grid=32``, faithful atom codes, lattice sinusoids as the global
    vector, ``output="lazy"`` so only one batch of grids is in memory at a
    time); in a Pipeline it takes a ``Voxelizer`` step's dense or lazy
    output (or a float array of shape (n, C, N, N, N)).  Defaults follow the
    paper: conv stack k5/s3 90, 1×1 90 ×2, k2/s2 90, k5/s3 270, 1×1 270 ×2,
    k3/s3 540 with circular padding, global MLP (300) to a coarse grid plus a
    transposed convolution to 2 channels, head MLP 1024–512–256, Adam lr
    3e-4, 20 epochs, batch 32.  The channel count, grid size, global width
    and outputs are set from the data.

    Parameters
    ----------
    module : type, default=CCNN
        Network (:class:`skcrystal.nn.ccnn.CCNN`); ``module__width`` scales every width (e.g. 0.25 for a model
        16× cheaper), ``module__dropout``, ``module__head``,
        ``module__conv_channels``, ``module__global_to_head`` tune it.
    module__norm : {"group", "batch", None}, default="group"
        Normalisation after each convolution.  The paper has none
        (``None``); GroupNorm is our default because the plain stack trains
        much more slowly (perovskites, grid 8, 30 epochs at lr 3e-4: test MAE
        0.25 eV with GroupNorm, 0.37 eV without; mean predictor 0.53 eV).
    max_epochs : int, default=20
        Training epochs.
    lr : float, default=3e-4
        Learning rate.
    batch_size : int, default=32
        Structures per batch.
    optimizer : torch optimizer class, default=torch.optim.Adam
        The optimizer.
    dataset : Dataset class, default=VoxelDataset
        skorch builds ``dataset(X, y)`` from the voxel rows.
    iterator_train__shuffle : bool, default=True
        Shuffle the training structures every epoch.
    iterator_train__collate_fn, iterator_valid__collate_fn : callable, default=collate_voxels
        Stack a batch of grids (lazy records are drawn here).
    %(featurizer)s
        Here the default featurizer is ``Voxelizer(grid=32, output="lazy")``.
    %(random_state)s
    %(early_stopping)s
    %(validation_fraction)s
    %(gradient_clipping)s
    %(device)s
    %(verbose)s
    **kwargs
        Any other skorch parameter (``callbacks``, ``train_split``,
        ``iterator_train__num_workers`` …).

    Notes
    -----
    Cost: at ``grid=32`` and ``width=1`` the first convolution alone is about
    0.4 GMAC per structure; train on a GPU (``device="cuda"``, the default
    when one is visible) or reduce ``module__width`` / the Voxelizer's
    ``grid`` on a CPU.

    References
    ----------
    .. [1] Nop, G., Mundy, M., Smith, J. D. H. & Paudyal, D. "Faithful novel
       machine learning for predicting quantum properties", npj Comput.
       Mater. 11, 227 (2025).
"""


class _CCNNMixin:
    _citations = (_CITATION,)
    _invariances = ("rotation", "permutation", "integer_shift")  # those of the Voxelizer
    _parameter_constraints = {
        **CrystalNetMixin._parameter_constraints,
        "module__width": [Interval(Real, 0, None, closed="neither")],
        "module__conv_channels": [SequenceOf(Interval(Integral, 1, None, closed="left"), min_length=3, max_length=3)],
        "module__head": [SequenceOf(Interval(Integral, 1, None, closed="left"), min_length=0)],
        "module__global_hidden": [Interval(Integral, 1, None, closed="left")],
        "module__global_channels": [Interval(Integral, 1, None, closed="left")],
        "module__global_to_head": ["boolean"],
        "module__dropout": [Interval(Real, 0, 1, closed="left")],
        "module__norm": [StrOptions({"group", "batch"}), None],
    }

    def _default_featurizer(self):
        return Voxelizer(grid=32, output="lazy")

    def _to_module_input(self, Xf):
        return _as_voxel_rows(Xf, type(self).__name__)

    @staticmethod
    def _bad_rows(Xf):
        return np.array([r is None for r in Xf[:, 0]], dtype=bool)

    def _infer_module_dims(self, Xf, y_enc):
        vox, g = Xf[0, 0], Xf[0, 1]
        shape = vox.shape
        if len(shape) != 4 or not (shape[1] == shape[2] == shape[3]):
            raise ValueError(f"{type(self).__name__}: voxel grids must have shape (C, N, N, N), got {shape}")
        return {
            "n_channels": int(shape[0]),
            "grid": int(shape[1]),
            "n_globals": int(len(g)),
            "n_outputs": self._n_outputs(y_enc),
        }


@Substitution(**NETWORK_PARAMS)
class CCNNRegressor(_CCNNMixin, CrystalNetRegressor):
    __doc__ = "3-D CNN regressor on voxel images of unit cells (the paper's CCNN).\n" + _CCNN_DOC

    def __init__(self, module=CCNN, *, max_epochs=20, lr=3e-4, batch_size=32, optimizer=torch.optim.Adam,
                 dataset=VoxelDataset, iterator_train__shuffle=True,
                 iterator_train__collate_fn=collate_voxels, iterator_valid__collate_fn=collate_voxels,
                 module__norm="group", featurizer=None, random_state=None, early_stopping=False,
                 validation_fraction=0.1, gradient_clipping=None, device=DEFAULT_DEVICE, verbose=0, **kwargs):
        super().__init__(module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         dataset=dataset, iterator_train__shuffle=iterator_train__shuffle,
                         iterator_train__collate_fn=iterator_train__collate_fn,
                         iterator_valid__collate_fn=iterator_valid__collate_fn, module__norm=module__norm,
                         featurizer=featurizer, random_state=random_state, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, gradient_clipping=gradient_clipping,
                         device=device, verbose=verbose, **kwargs)


@Substitution(**NETWORK_PARAMS)
class CCNNClassifier(_CCNNMixin, CrystalNetClassifier):
    __doc__ = "3-D CNN classifier on voxel images of unit cells (the paper's CCNN).\n" + _CCNN_DOC

    def __init__(self, module=CCNN, *, max_epochs=20, lr=3e-4, batch_size=32, optimizer=torch.optim.Adam,
                 dataset=VoxelDataset, iterator_train__shuffle=True,
                 iterator_train__collate_fn=collate_voxels, iterator_valid__collate_fn=collate_voxels,
                 module__norm="group", featurizer=None, random_state=None, early_stopping=False,
                 validation_fraction=0.1, gradient_clipping=None, device=DEFAULT_DEVICE, verbose=0, **kwargs):
        super().__init__(module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         dataset=dataset, iterator_train__shuffle=iterator_train__shuffle,
                         iterator_train__collate_fn=iterator_train__collate_fn,
                         iterator_valid__collate_fn=iterator_valid__collate_fn, module__norm=module__norm,
                         featurizer=featurizer, random_state=random_state, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, gradient_clipping=gradient_clipping,
                         device=device, verbose=verbose, **kwargs)
