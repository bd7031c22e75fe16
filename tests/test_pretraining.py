"""The shared pretraining interface (skcrystal.models.pretraining), on a toy masked-feature pretrainer.

The toy models live here (not in the package): a one-layer backbone over the
faithful feature vector, pretrained by reconstructing masked features, and a
regressor with the same backbone.  ITT's real pretrainer is tested in
tests/test_itt.py.
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from torch import nn

from skcrystal.featurizers import LeftStepComposition
from skcrystal.models.base import CrystalNetMixin, CrystalNetRegressor
from skcrystal.models.pretraining import (
    BACKBONE_FORMAT,
    CrystalNetPretrainer,
    FineTuneMixin,
    load_backbone,
)


class ToyBackbone(nn.Module):
    def __init__(self, n_features, width=16):
        super().__init__()
        self.inp = nn.Linear(n_features, width)
        self.register_buffer("scale", torch.ones(n_features))

    def forward(self, X):
        return torch.tanh(self.inp(X * self.scale))


class ToyPretrainModule(nn.Module):
    def __init__(self, n_features, width=16, mask_ratio=0.3):
        super().__init__()
        self.backbone = ToyBackbone(n_features, width)
        self.head = nn.Linear(width, n_features)
        self.mask_ratio = mask_ratio
        self.embedding_width = width

    def forward(self, X):
        X = X.float()
        mask = torch.rand(X.shape) < self.mask_ratio
        return self.head(self.backbone(X.masked_fill(mask, 0.0))), X, mask

    def embed(self, X):
        return self.backbone(X.float())


class ToyPretrainer(CrystalNetPretrainer):
    def __init__(self, module=ToyPretrainModule, *, max_epochs=5, lr=1e-2, batch_size=8,
                 optimizer=torch.optim.AdamW, verbose=0, **kwargs):
        super().__init__(module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         verbose=verbose, **kwargs)

    def _default_featurizer(self):
        return LeftStepComposition(stats=("mean",))

    def get_loss(self, y_pred, y_true, X=None, training=False):
        pred, target, mask = y_pred
        return ((pred - target) ** 2)[mask].mean()


class ToyNet(nn.Module):
    def __init__(self, n_features, n_outputs=1, width=16):
        super().__init__()
        self.backbone = ToyBackbone(n_features, width)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, X):
        return self.head(self.backbone(X.float()))


class ToyRegressor(FineTuneMixin, CrystalNetRegressor):
    _parameter_constraints = {**CrystalNetMixin._parameter_constraints, **FineTuneMixin._parameter_constraints}

    def __init__(self, module=ToyNet, *, pretrained=None, freeze_backbone_epochs=0, max_epochs=3, lr=1e-2,
                 batch_size=8, optimizer=torch.optim.AdamW, verbose=0, **kwargs):
        super().__init__(module, max_epochs=max_epochs, lr=lr, batch_size=batch_size, optimizer=optimizer,
                         verbose=verbose, **kwargs)
        self.pretrained = pretrained
        self.freeze_backbone_epochs = freeze_backbone_epochs

    def _default_featurizer(self):
        return LeftStepComposition(stats=("mean",))


@pytest.fixture(scope="module")
def frame(small_frame):
    return small_frame


@pytest.fixture(scope="module")
def pretrainer(frame):
    return ToyPretrainer(module__width=12, max_epochs=30, random_state=0).fit(frame["structure"])


def _backbone(est):
    return {k: v.detach().cpu().clone() for k, v in est.module_.backbone.state_dict().items()}


def test_pretrainer_fits_without_targets_and_embeds(pretrainer, frame):
    loss = pretrainer.history[:, "train_loss"]
    assert loss[-1] < 0.5 * loss[0]
    emb = pretrainer.transform(frame["structure"])
    assert emb.shape == (len(frame), 12) and np.isfinite(emb).all()
    assert list(pretrainer.get_feature_names_out()) == [f"embedding{i}" for i in range(12)]
    assert np.isfinite(pretrainer.score(frame["structure"])) and pretrainer.score(frame["structure"]) < 0
    out = clone(pretrainer).set_output(transform="pandas").fit(frame[["structure"]]).transform(frame[["structure"]])
    assert list(out.index) == list(frame.index)
    with pytest.raises(Exception, match="not fitted"):
        ToyPretrainer().transform(frame["structure"])


def test_backbone_export_and_load(pretrainer, tmp_path):
    sd = pretrainer.backbone_state_dict()
    assert set(sd) == {"inp.weight", "inp.bias", "scale"} and all(t.device.type == "cpu" for t in sd.values())
    path = pretrainer.save_backbone(tmp_path / "b.pt")
    rec = load_backbone(path)
    assert rec["format"] == BACKBONE_FORMAT and rec["model"] == "ToyBackbone"
    assert rec["module_kwargs"]["width"] == 12 and rec["module_kwargs"]["n_features"] == sd["inp.weight"].shape[1]
    assert "mask_ratio" not in rec["module_kwargs"]  # only what builds the backbone
    for k in sd:
        assert torch.equal(rec["state_dict"][k], sd[k])
    with pytest.raises(FileNotFoundError, match="no pretrained backbone"):
        load_backbone(tmp_path / "missing.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a skcrystal backbone"):
        load_backbone(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match="not a skcrystal backbone file"):
        load_backbone(tmp_path / "text.pt")
    torch.save({**rec, "skcrystal_version": "99.0.0"}, tmp_path / "newer.pt")
    with pytest.raises(ValueError, match="newer than the installed"):
        load_backbone(tmp_path / "newer.pt")


def test_fine_tuning_starts_from_the_backbone(pretrainer, frame, tmp_path):
    X, y = frame["structure"], frame["target"]
    start = ToyRegressor(pretrained=pretrainer, max_epochs=0, random_state=0).fit(X, y)
    ref = pretrainer.backbone_state_dict()
    for k, v in _backbone(start).items():
        assert torch.equal(v, ref[k]), k
    assert start.module_.backbone.inp.out_features == 12  # width adopted from the backbone
    scratch = ToyRegressor(module__width=12, max_epochs=0, random_state=0).fit(X, y)
    assert not np.allclose(start.predict(X), scratch.predict(X))
    # from a file: the same start
    path = pretrainer.save_backbone(tmp_path / "b.pt")
    from_file = ToyRegressor(pretrained=str(path), max_epochs=0, random_state=0).fit(X, y)
    np.testing.assert_allclose(from_file.predict(X), start.predict(X), rtol=1e-6)
    # a conflicting width names both values
    with pytest.raises(ValueError, match=r"expects width=12 but module__width gives width=8"):
        ToyRegressor(pretrained=pretrainer, module__width=8, max_epochs=0).fit(X, y)
    with pytest.raises(ValueError, match="unfitted ToyPretrainer"):
        ToyRegressor(pretrained=ToyPretrainer(), max_epochs=0).fit(X, y)


def test_shape_mismatch_is_reported(pretrainer, frame):
    rec = pretrainer.backbone_record()
    rec["state_dict"]["inp.weight"] = torch.zeros(5, 3)
    with pytest.raises(ValueError, match=r"'inp.weight' has shape \(5, 3\) in the pretrained backbone \(expected\)"):
        ToyRegressor(pretrained=rec, max_epochs=0).fit(frame["structure"], frame["target"])


def test_freeze_backbone_epochs(pretrainer, frame):
    X, y = frame["structure"], frame["target"]
    ref = pretrainer.backbone_state_dict()
    frozen = ToyRegressor(pretrained=pretrainer, freeze_backbone_epochs=2, max_epochs=2, random_state=0).fit(X, y)
    for k, v in _backbone(frozen).items():
        assert torch.equal(v, ref[k]), k
    assert all(p.requires_grad for p in frozen.module_.parameters())  # unfrozen after training
    assert not torch.equal(frozen.module_.head.weight, ToyRegressor(
        pretrained=pretrainer, max_epochs=0, random_state=0).fit(X, y).module_.head.weight)
    thawed = ToyRegressor(pretrained=pretrainer, freeze_backbone_epochs=1, max_epochs=2, random_state=0).fit(X, y)
    assert not torch.equal(thawed.module_.backbone.inp.weight, ref["inp.weight"])


def test_clone_pickle_and_grid_search_keep_the_pretrainer(pretrainer, frame):
    X, y = frame[["structure"]], frame["target"]
    est = ToyRegressor(pretrained=pretrainer, random_state=0)
    c = clone(est)
    assert c.pretrained is pretrainer and c.get_params()["random_state"] == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gs = GridSearchCV(est, {"lr": [1e-3, 1e-2]}, cv=KFold(3, shuffle=True, random_state=0),
                          scoring="neg_mean_absolute_error", error_score="raise").fit(X, y)
    assert gs.best_estimator_.pretrained is pretrainer
    fitted = ToyRegressor(pretrained=pretrainer, random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_allclose(again.predict(X), fitted.predict(X), rtol=1e-6)
    # the same seed gives the same fine-tuned model
    np.testing.assert_allclose(ToyRegressor(pretrained=pretrainer, random_state=0).fit(X, y).predict(X),
                               fitted.predict(X), rtol=1e-6)
