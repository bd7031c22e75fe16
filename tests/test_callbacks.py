"""Shared skorch callbacks: stochastic weight averaging and the inverse-sqrt learning-rate schedule."""

import copy

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from skcrystal.models import NNNRegressor
from skcrystal.models.callbacks import InverseSqrtLR, StochasticWeightAveraging


class _Recorder(Callback):
    """Keeps the parameters after every epoch and the learning rate of every optimizer step."""

    def initialize(self):
        self.snapshots, self.lrs = [], []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.lrs.append(net.optimizer_.param_groups[0]["lr"])

    def on_epoch_end(self, net, **kwargs):
        self.snapshots.append(copy.deepcopy(net.module_.state_dict()))


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 5)).astype(np.float32)
    y = X @ rng.normal(size=5) + 0.1 * rng.normal(size=64)
    return X, y


def _net(callbacks, **kw):
    params = dict(max_epochs=5, batch_size=16, module__hidden=(8,), lr=1e-2, random_state=0)
    params.update(kw)
    return NNNRegressor(callbacks=callbacks, **params)


def test_swa_averages_the_last_epochs(data):
    X, y = data
    rec = _Recorder()
    net = _net([("rec", rec), ("swa", StochasticWeightAveraging(3, update="epoch"))]).fit(X, y)
    snaps = dict(net.callbacks_)["rec"].snapshots
    assert len(snaps) == 5
    for name, p in net.module_.named_parameters():
        mean = torch.stack([s[name] for s in snaps[2:]]).mean(0)
        torch.testing.assert_close(p.detach(), mean)
        # ... and not simply the last weights
        assert not torch.allclose(p.detach(), snaps[-1][name])
    assert dict(net.callbacks_)["swa"].n_averaged_ == 3


def test_swa_per_batch_and_fraction(data):
    X, y = data
    net = _net([("swa", StochasticWeightAveraging(0.4))], max_epochs=5).fit(X, y)
    swa = dict(net.callbacks_)["swa"]
    assert swa.start_epoch_ == 4 and swa.n_averaged_ == 2 * 4   # 2 epochs x 4 steps


def test_inverse_sqrt_schedule_and_swa_holds_the_rate(data):
    X, y = data
    rec = _Recorder()
    net = _net([("lr", InverseSqrtLR(decay_steps=3)), ("rec", rec), ("swa", StochasticWeightAveraging(2))],
               max_epochs=4).fit(X, y)
    lrs = np.array(dict(net.callbacks_)["rec"].lrs)
    assert len(lrs) == 16
    t = np.arange(8)
    np.testing.assert_allclose(lrs[:8], 1e-2 * np.sqrt(3 / (t + 3)))
    np.testing.assert_allclose(lrs[8:], 1e-2 * np.sqrt(3 / (8 + 3)))    # held from the start of averaging


def test_inverse_sqrt_warmup_and_partial_fit(data):
    X, y = data
    rec = _Recorder()
    net = _net([("lr", InverseSqrtLR(decay_steps=10, warmup_steps=4)), ("rec", rec)], max_epochs=1,
               warm_start=True)
    net.fit(X, y)
    net.partial_fit(X, y)
    lrs = np.array(dict(net.callbacks_)["rec"].lrs)
    t = np.arange(len(lrs))
    expected = 1e-2 * np.minimum(1, (t + 1) / 4) * np.sqrt(10 / (t + 10))
    np.testing.assert_allclose(lrs[-4:], expected[-4:])   # the second call continues the step count


def test_swa_recomputes_batch_norm_statistics(data):
    X, y = data
    net = _net([("swa", StochasticWeightAveraging(2, update="epoch"))], module__batch_norm=True,
               iterator_train__shuffle=False).fit(X, y)
    ref = copy.deepcopy(net.module_)
    loader = torch.utils.data.DataLoader(torch.as_tensor(X), batch_size=16)
    torch.optim.swa_utils.update_bn(loader, ref)
    bn, bn_ref = net.module_.net[1], ref.net[1]
    torch.testing.assert_close(bn.running_mean, bn_ref.running_mean)
    torch.testing.assert_close(bn.running_var, bn_ref.running_var)


def test_invalid_settings_raise(data):
    X, y = data
    for cb, match in [(StochasticWeightAveraging(-1), "n_epochs"), (StochasticWeightAveraging(update="x"), "update"),
                      (InverseSqrtLR(0), "decay_steps"), (InverseSqrtLR(10, warmup_steps=1.5), "warmup_steps")]:
        with pytest.raises(ValueError, match=match):
            _net([("cb", cb)]).fit(X, y)
