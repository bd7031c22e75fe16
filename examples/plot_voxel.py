"""
Voxel images of crystal cells
=============================

:class:`skcrystal.featurizers.Voxelizer` draws each atom of the unit cell, in
fractional coordinates, into an ``N³`` grid with trilinear anti-aliasing.
This example plots slices of the occupancy channel of a cubic perovskite and
of a metal–organic framework, checks that the image keeps every atom's
weight, and trains a tiny CCNN for a few epochs.
"""

import os
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # runs headless; sphinx-gallery captures the figure
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skcrystal.datasets import load_mofs, load_perovskites  # noqa: E402
from skcrystal.featurizers import Voxelizer  # noqa: E402
from skcrystal.featurizers.voxel import VoxelCollisionWarning  # noqa: E402
from skcrystal.models import CCNNRegressor  # noqa: E402

warnings.simplefilter("ignore", VoxelCollisionWarning)

# SKCRYSTAL_QUICK=1 shrinks the run to a few seconds (the test suite runs every example that way)
QUICK = os.environ.get("SKCRYSTAL_QUICK", "0") not in ("", "0")
perov = load_perovskites(n_samples=60 if QUICK else 200, random_state=0)
mof = load_mofs().iloc[:1]

# %%
# Voxelize: channel 0 is the occupancy, channels 1..24 the faithful atom code.
vz = Voxelizer(grid=32)
grid_p = vz.fit_transform(perov["structure"].iloc[:1])[0, 0]
grid_m = Voxelizer(grid=32).fit_transform(mof["structure"])[0, 0]
print("perovskite grid", grid_p.shape, grid_p.dtype, "occupancy sum", grid_p[0].sum(),
      "atoms", len(perov["structure"].iloc[0]))
print("MOF grid", grid_m.shape, "occupancy sum", round(float(grid_m[0].sum()), 3),
      "atoms", len(mof["structure"].iloc[0]))

# %%
# Plot: the brightest slice of each cell (summed over a slab of 4 voxels so the
# anti-aliased atoms show), and the perovskite's "period" channels.
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, g, title in [(axes[0], grid_p, perov["formula"].iloc[0]), (axes[1], grid_m, mof.index[0])]:
    k = int(np.argmax(g[0].sum(axis=(0, 1))))
    slab = g[0][:, :, max(0, k - 2): k + 2].sum(axis=2)
    ax.imshow(slab.T, origin="lower", cmap="magma")
    ax.set_title(f"{title}: occupancy, z≈{k}/32")
    ax.set_xlabel("a (voxels)")
    ax.set_ylabel("b (voxels)")
period = grid_p[1 + 16: 1 + 23].sum(axis=(1, 2, 3))
axes[2].bar(np.arange(1, 8), period)
axes[2].set_title("perovskite: weight per period channel")
axes[2].set_xlabel("period")
fig.tight_layout()
fig.savefig(Path(tempfile.gettempdir()) / "voxel_slices.png", dpi=80)

# %%
# A tiny CCNN straight on structures (it voxelizes batch by batch).
model = CCNNRegressor(featurizer=Voxelizer(grid=12, output="lazy"), module__width=0.1,
                      max_epochs=1 if QUICK else 3, random_state=0, device="cpu")
n_train = int(0.75 * len(perov))
train, test = perov.iloc[:n_train], perov.iloc[n_train:]
model.fit(train["structure"], train["heat_ref"])
mae = np.mean(np.abs(model.predict(test["structure"]) - test["heat_ref"]))
print(f"tiny CCNN, {model.max_epochs} epochs on {n_train} perovskites: test MAE {mae:.3f} eV "
      f"(mean predictor {np.mean(np.abs(train['heat_ref'].mean() - test['heat_ref'])):.3f} eV)")
