"""skorch callbacks shared by every skcrystal network.

:class:`StochasticWeightAveraging`
    Average the weights over the last epochs of training and keep the
    average (Izmailov et al. 2018), on :mod:`torch.optim.swa_utils`; the
    Crystalformer recipe averages over the last 10 % of the epochs.
:class:`InverseSqrtLR`
    The learning-rate schedule ``lr · sqrt(T / (t + T))`` over optimizer
    steps ``t`` (the T-Fixup / Crystalformer schedule), with an optional
    linear warm-up.

Both work with any skorch net, so with every skcrystal model::

    from skcrystal.models import CGNNRegressor
    from skcrystal.models.callbacks import InverseSqrtLR, StochasticWeightAveraging

    model = CGNNRegressor(max_epochs=200, callbacks=[("lr", InverseSqrtLR(4000)),
                                                     ("swa", StochasticWeightAveraging(20))])
"""

from __future__ import annotations

import copy
from numbers import Integral, Real

import torch
from skorch.callbacks import Callback
from skorch.dataset import unpack_data

__all__ = ["InverseSqrtLR", "StochasticWeightAveraging"]


def _set_lr(net, lr):
    for group in net.optimizer_.param_groups:
        group["lr"] = lr


def _steps_done(net):
    """Optimizer steps taken in earlier calls to fit/partial_fit (from the history)."""
    try:
        return int(sum(net.history[:, "train_batch_count"]))
    except (KeyError, IndexError, TypeError):
        return 0


class InverseSqrtLR(Callback):
    """Learning rate ``lr · min(1, (t+1)/warmup_steps) · sqrt(decay_steps / (t + decay_steps))``.

    ``t`` counts optimizer steps (batches) from the start of training,
    continuing across ``partial_fit`` calls.  With ``warmup_steps=0`` (the
    default) this is the schedule of T-Fixup (Huang et al. 2020) used by the
    Crystalformer (``decay_steps = 4000``): the rate starts at ``lr`` and
    halves after ``3·decay_steps`` steps.  The rate for the next step is set
    at the end of each batch, so a :class:`StochasticWeightAveraging` that
    holds the rate constant overrides it whatever the callback order.

    Parameters
    ----------
    decay_steps : int, default=4000
        ``T``.
    warmup_steps : int, default=0
        Linear warm-up over the first steps (0: none).

    Examples
    --------
    >>> from skcrystal.models import CGNNRegressor
    >>> from skcrystal.models.callbacks import InverseSqrtLR
    >>> model = CGNNRegressor(callbacks=[("lr", InverseSqrtLR(decay_steps=2000))])
    """

    def __init__(self, decay_steps=4000, warmup_steps=0):
        self.decay_steps = decay_steps
        self.warmup_steps = warmup_steps

    def factor(self, t):
        """The multiplier of the base learning rate at step ``t``.

        Parameters
        ----------
        t : int
            Optimizer steps taken so far.

        Returns
        -------
        float
        """
        T = float(self.decay_steps)
        f = (T / (t + T)) ** 0.5
        if self.warmup_steps and self.warmup_steps > 0:
            f *= min(1.0, (t + 1) / float(self.warmup_steps))
        return f

    def initialize(self):
        """Reset the step counter.

        Returns
        -------
        self
            The callback.
        """
        if not isinstance(self.decay_steps, Real) or not self.decay_steps > 0:
            raise ValueError(f"decay_steps must be > 0, got {self.decay_steps!r}")
        if not isinstance(self.warmup_steps, Integral) or self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be an integer >= 0, got {self.warmup_steps!r}")
        self.step_ = 0
        return self

    def on_train_begin(self, net, **kwargs):
        """Start from the steps already taken and set the first rate."""
        self.base_lr_ = float(net.lr)
        self.step_ = _steps_done(net)
        _set_lr(net, self.base_lr_ * self.factor(self.step_))

    def on_batch_end(self, net, training=False, **kwargs):
        """Advance one step and set the rate of the next one."""
        if not training:
            return
        self.step_ += 1
        _set_lr(net, self.base_lr_ * self.factor(self.step_))


class StochasticWeightAveraging(Callback):
    """Average the weights over the last epochs of training, then train no further on them.

    From epoch ``max_epochs - n_epochs + 1`` of each ``fit`` on, the
    parameters after every optimizer step (``update="batch"``, as the
    Crystalformer reference) or after every epoch (``update="epoch"``, as
    Izmailov et al. 2018) are averaged with equal weights
    (:class:`torch.optim.swa_utils.AveragedModel`).  At the end of training
    the average replaces the module's parameters, and batch-norm statistics
    (if the module has batch norms) are recomputed with one pass over the
    training data (what :func:`torch.optim.swa_utils.update_bn` does), so
    ``predict`` uses the averaged network.  During averaging the learning
    rate is held at its value when averaging began (``swa_lr=None``, the
    reference's rule: its schedule stops), or set to ``swa_lr``.

    Parameters
    ----------
    n_epochs : int or float, default=0.1
        Epochs averaged: an integer count, or a fraction of ``max_epochs``
        (rounded up, at least 1).  Capped at ``max_epochs``.
    update : {"batch", "epoch"}, default="batch"
        Add the weights to the average after every step or every epoch.
    swa_lr : float or None, default=None
        Learning rate during averaging; ``None`` holds the current one.

    Attributes
    ----------
    n_averaged_ : int
        Snapshots in the average after training.
    start_epoch_ : int
        First averaged epoch (1-based, within the last call to fit).

    Notes
    -----
    With early stopping, the epochs actually run may end before averaging
    begins; then nothing is averaged and the module is left as it is.
    ``max_epochs`` is read at the start of each fit (``partial_fit`` with a
    different ``epochs`` count is not supported).

    Examples
    --------
    >>> from skcrystal.models import CGNNRegressor
    >>> from skcrystal.models.callbacks import StochasticWeightAveraging
    >>> model = CGNNRegressor(max_epochs=100, callbacks=[("swa", StochasticWeightAveraging(10))])
    """

    def __init__(self, n_epochs=0.1, update="batch", swa_lr=None):
        self.n_epochs = n_epochs
        self.update = update
        self.swa_lr = swa_lr

    def initialize(self):
        """Check the parameters and forget any earlier average.

        Returns
        -------
        self
            The callback.
        """
        n = self.n_epochs
        if isinstance(n, bool) or not (
            (isinstance(n, Integral) and n >= 0) or (isinstance(n, Real) and 0 < n <= 1)
        ):
            raise ValueError(f"n_epochs must be an integer >= 0 or a fraction in (0, 1], got {n!r}")
        if self.update not in ("batch", "epoch"):
            raise ValueError(f"update must be 'batch' or 'epoch', got {self.update!r}")
        if self.swa_lr is not None and not (isinstance(self.swa_lr, Real) and self.swa_lr > 0):
            raise ValueError(f"swa_lr must be None or > 0, got {self.swa_lr!r}")
        self._reset()
        return self

    def _reset(self):
        self.averaged_ = None
        self.n_averaged_ = 0
        self.epoch_ = 0
        self.start_epoch_ = None
        self.active_ = False
        self.held_lr_ = None

    def _n_average(self, max_epochs):
        n = self.n_epochs
        if isinstance(n, Integral):
            return min(int(n), max_epochs)
        return min(max_epochs, max(1, int(-(-n * max_epochs // 1))))

    def on_train_begin(self, net, **kwargs):
        """Work out which epochs are averaged."""
        self._reset()
        total = int(net.max_epochs)
        n = self._n_average(total)
        self.start_epoch_ = total - n + 1 if n > 0 else None

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        """Switch averaging on at the first averaged epoch."""
        self.epoch_ += 1
        if self.start_epoch_ is not None and self.epoch_ >= self.start_epoch_ and not self.active_:
            self.active_ = True
            self.held_lr_ = float(self.swa_lr) if self.swa_lr is not None else float(
                net.optimizer_.param_groups[0]["lr"])

    def on_batch_begin(self, net, training=False, **kwargs):
        """Hold the learning rate during averaging.

        Parameters
        ----------
        net : skorch NeuralNet
            The network being trained.
        training : bool, default=False
            Whether this is a training batch.
        **kwargs
            Ignored (skorch's batch information).
        """
        if training and self.active_:
            _set_lr(net, self.held_lr_)

    def _add(self, net):
        if self.averaged_ is None:
            self.averaged_ = torch.optim.swa_utils.AveragedModel(net.module_)
        self.averaged_.update_parameters(net.module_)
        self.n_averaged_ = int(self.averaged_.n_averaged)

    def on_batch_end(self, net, training=False, **kwargs):
        """Add the weights after an optimizer step (``update="batch"``)."""
        if training and self.active_ and self.update == "batch":
            self._add(net)

    def on_epoch_end(self, net, **kwargs):
        """Add the weights after an epoch (``update="epoch"``)."""
        if self.active_ and self.update == "epoch":
            self._add(net)

    def on_train_end(self, net, X=None, y=None, **kwargs):
        """Load the averaged parameters into the module (and refresh batch-norm statistics)."""
        if self.averaged_ is None:
            return
        with torch.no_grad():
            for p_avg, p in zip(self.averaged_.module.parameters(), net.module_.parameters()):
                p.copy_(p_avg)
        norms = [m for m in net.module_.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        if norms and X is not None:
            self._update_bn(net, norms, X, y)
        # the copy is only needed during training; drop it so pickles stay small
        self.averaged_ = None

    @staticmethod
    def _update_bn(net, norms, X, y):
        momenta = {}
        for m in norms:
            m.reset_running_stats()
            momenta[m] = m.momentum
            m.momentum = None  # cumulative average over the pass
        was_training = net.module_.training
        net.module_.train()
        dataset = net.get_dataset(X, y)
        with torch.no_grad():
            for batch in net.get_iterator(dataset, training=False):
                Xi, _ = unpack_data(batch)
                net.infer(Xi)
        for m, mom in momenta.items():
            m.momentum = mom
        net.module_.train(was_training)

    def __getstate__(self):
        state = copy.copy(self.__dict__)
        state["averaged_"] = None
        return state
