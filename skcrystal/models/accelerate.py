"""Train any skcrystal network on several processes or GPUs with Hugging Face Accelerate.

skorch's :class:`skorch.hf.AccelerateMixin` hands the module, optimizer and
DataLoaders to an ``accelerate.Accelerator``: data-parallel training over the
processes that ``accelerate launch`` or ``torchrun`` starts (GPUs with NCCL,
CPU processes with gloo), mixed precision, gradient accumulation.
:class:`CrystalAccelerateMixin` is that mixin with what the skcrystal base
needs on top (an ``Accelerator()`` made at fit when none is given, its
parameters validated, the seeded RNG on the accelerator's device), and every
skcrystal network has an Accelerate-backed sibling, made on first use::

    from skcrystal.models.accelerate import AcceleratedCGNNRegressor   # any model: Accelerated<Name>

    model = AcceleratedCGNNRegressor(max_epochs=100, random_state=0)   # accelerator=Accelerator()
    model.fit(df["structure"], df["heat_ref"])

or, for a network of your own on the skcrystal base, the recipe::

    class AcceleratedMyNet(CrystalAccelerateMixin, MyNetRegressor):
        pass

Run the same script with ``accelerate launch --num_processes 4 train.py``
(or ``torchrun --nproc_per_node 4 train.py``): each process trains on its
share of every batch; gradients are averaged; predictions are gathered, in
order, on every process.  See :doc:`/scaling` for the launch commands, the
batch-size rule and measured numbers.

Requires ``accelerate`` (``pip install skcrystal[accelerate]``).
"""

from __future__ import annotations

import contextlib
import warnings

from skorch.exceptions import DeviceWarning
from skorch.hf import AccelerateMixin

from ..utils._param_validation import HasMethods, validate_parameter_constraints
from .base import CrystalNetMixin

__all__ = ["CrystalAccelerateMixin", "accelerated"]


class CrystalAccelerateMixin(AccelerateMixin):
    """The ``AccelerateMixin`` of skorch for the skcrystal network base (put it first in the bases).

    Parameters
    ----------
    *args
        The model's positional parameters (``module``).
    accelerator : accelerate.Accelerator or None, default=None
        The accelerator; ``None`` makes ``Accelerator()`` at fit, which
        picks up what ``accelerate launch`` / ``torchrun`` set (processes,
        devices, mixed precision from ``accelerate config``; gloo on CPU
        when processes were launched on a machine without GPUs) and is a
        plain single-process run otherwise.  A given accelerator that is not
        distributed although several processes were launched (on CPUs,
        accelerate needs ``cpu=True``) is warned about.  Pass your own for other settings,
        e.g. ``Accelerator(mixed_precision="bf16",
        dataloader_config=DataLoaderConfiguration(split_batches=True))``.
    device : None, default=None
        Device placement is the accelerator's (skorch requires ``None``).
    unwrap_after_train : bool, default=True
        Restore the plain module after training (needed to pickle the model).
    callbacks__print_log__sink : "auto" or callable, default="auto"
        Where the epoch log goes: ``"auto"`` prints on the main process only
        (and nothing when ``verbose=0``).
    **kwargs
        The model's own parameters.

    Notes
    -----
    ``batch_size`` is per process unless the accelerator splits batches
    (``split_batches=True``): with 2 processes and ``batch_size=32`` an
    optimizer step sees 64 structures.  BatchNorm layers normalise over each
    process's share of the batch (on GPUs,
    ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` makes them global).
    """

    _accelerate_constraints = {
        "accelerator": [None, HasMethods(["prepare", "backward", "gather_for_metrics"])],
        "unwrap_after_train": ["boolean"],
    }

    def __init__(self, *args, accelerator=None, device=None, unwrap_after_train=True,
                 callbacks__print_log__sink="auto", **kwargs):
        super().__init__(*args, accelerator=accelerator, device=device, unwrap_after_train=unwrap_after_train,
                         callbacks__print_log__sink=callbacks__print_log__sink, **kwargs)

    def _check_params(self):
        super()._check_params()
        params = self.get_params(deep=False)
        validate_parameter_constraints(self._accelerate_constraints,
                                       {k: params[k] for k in self._accelerate_constraints}, type(self).__name__)

    def _initialize_accelerator(self):
        # a loss without parameters (MSELoss, CrossEntropyLoss) must not be prepared: in a distributed
        # run accelerate would wrap it in DistributedDataParallel, which refuses parameterless modules
        criteria = self._criteria
        self._criteria = [name for name in criteria
                          if any(p.requires_grad for p in getattr(getattr(self, name + "_"), "parameters", list)())]
        try:
            return super()._initialize_accelerator()
        finally:
            self._criteria = criteria

    def _initialize_callbacks(self):
        if self.callbacks__print_log__sink == "auto" and not self.verbose:
            # the accelerator's print ignores verbose=0; skorch's PrintLog honours it with plain print
            self.callbacks__print_log__sink = print
        return super()._initialize_callbacks()

    def __setstate__(self, state):
        # skorch maps a device=None model to "cpu" when unpickling, which the accelerator would then refuse
        device = state.get("device")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeviceWarning)
            super().__setstate__(state)
        self.device = device

    def initialize(self):
        """Make ``Accelerator()`` when none was given, then skorch's initialisation (which prepares everything).

        Returns
        -------
        self
            The estimator, initialised.
        """
        launched = _launched_processes()
        if self.accelerator is None:
            from accelerate import Accelerator

            # several processes launched on a machine without GPUs: gloo on CPU (accelerate wants cpu=True)
            self.accelerator = Accelerator(cpu=launched > 1 and not _has_gpu())
        n = getattr(self.accelerator, "num_processes", 1)
        if launched > 1 and n == 1:
            warnings.warn(
                f"{type(self).__name__}: {launched} processes were launched but the accelerator is not "
                "distributed, so each process trains on its own; on CPUs pass Accelerator(cpu=True) (or use "
                "`accelerate launch --cpu`)",
                UserWarning,
                stacklevel=3,
            )
        return super().initialize()

    def _rng_context(self):
        if self.random_state is None:
            return contextlib.nullcontext()
        import torch

        acc = self.accelerator
        device = getattr(acc, "device", None) if acc is not None else None
        devices = [device.index or 0] if device is not None and device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)


def _launched_processes():
    """World size set by ``torchrun`` / ``accelerate launch`` / MPI (1 when not launched)."""
    import os

    for var in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        try:
            return max(1, int(os.environ[var]))
        except (KeyError, ValueError):
            continue
    return 1


def _has_gpu():
    import torch

    return torch.cuda.is_available()


_CLASSES = {}


def accelerated(model_class):
    """The Accelerate-backed sibling of a skcrystal network class (made once, importable, picklable).

    Parameters
    ----------
    model_class : type
        A skcrystal network (a subclass of
        :class:`~skcrystal.models.base.CrystalNetMixin`), e.g. ``CGNNRegressor``.

    Returns
    -------
    type
        ``Accelerated<Name>``, with bases ``(CrystalAccelerateMixin, model_class)``;
        also importable as ``skcrystal.models.accelerate.Accelerated<Name>``
        when ``model_class`` is exported by :mod:`skcrystal.models`.
    """
    if not (isinstance(model_class, type) and issubclass(model_class, CrystalNetMixin)):
        raise TypeError(f"accelerated() takes a skcrystal network class, got {model_class!r}")
    if issubclass(model_class, CrystalAccelerateMixin):
        return model_class
    cls = _CLASSES.get(model_class)
    if cls is None:
        name = f"Accelerated{model_class.__name__}"
        doc = (f"{model_class.__name__} trained through Hugging Face Accelerate "
               f"(see :class:`CrystalAccelerateMixin`; all other parameters as {model_class.__name__}).")
        cls = type(name, (CrystalAccelerateMixin, model_class), {"__doc__": doc, "__module__": __name__})
        _CLASSES[model_class] = cls
    return cls


def __getattr__(name):
    # Accelerated<Model> for every network skcrystal.models exports, made on first use (also when unpickling)
    if name.startswith("Accelerated"):
        from .. import models

        base = getattr(models, name[len("Accelerated"):], None)
        if isinstance(base, type) and issubclass(base, CrystalNetMixin):
            cls = accelerated(base)
            if cls.__qualname__ == name:
                globals()[name] = cls
                return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
