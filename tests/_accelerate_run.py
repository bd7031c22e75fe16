"""Trains a tiny AcceleratedCGNNRegressor; run by tests/test_accelerate.py under torchrun (1 or 2 processes).

Usage: python -m torch.distributed.run --standalone --nproc_per_node N tests/_accelerate_run.py OUT.npz [NORM]
(NORM: the CGNN's norm, "layer" by default; "batch" normalises over each process's share of a batch.)
"""

import sys

import numpy as np
import torch

torch.set_num_threads(1)

from skcrystal.datasets import load_mp_formation_energy  # noqa: E402
from skcrystal.models.accelerate import AcceleratedCGNNRegressor  # noqa: E402

# the settings the test compares against a plain CGNNRegressor (keep in sync with test_accelerate.py)
KW = dict(max_epochs=3, batch_size=16, module__atom_fea_len=8, module__n_conv=1, module__h_fea_len=8,
          module__global_fea_len=8, module__norm="layer", random_state=0)


def frame():
    df = load_mp_formation_energy(n_samples=32, random_state=0)
    return df[["structure"]], df["formation_energy_per_atom"].to_numpy()


if __name__ == "__main__":
    import os

    X, y = frame()
    kw = dict(KW, module__norm=sys.argv[2]) if len(sys.argv) > 2 else KW
    # the default accelerator (gloo on CPU under torchrun); batch_size is per process, so the global
    # batch of 16 is 16 / processes each
    kw["batch_size"] = KW["batch_size"] // int(os.environ.get("WORLD_SIZE", 1))
    model = AcceleratedCGNNRegressor(**kw).fit(X, y)
    acc = model.accelerator
    pred = model.predict(X)
    losses = np.array(model.history[:, "train_loss"])
    if acc.is_main_process:
        np.savez(sys.argv[1], pred=pred, losses=losses, n_processes=acc.num_processes,
                 distributed_type=str(acc.distributed_type))
    acc.wait_for_everyone()
