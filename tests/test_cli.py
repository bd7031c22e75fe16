"""The ``skcrystal`` command line and skcrystal.io: end to end on a folder of real CIFs, and bad input."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skcrystal.cli import main
from skcrystal.io import IncompatibleModelError, load_model, model_info, read_structures, save_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cif_folder(tmp_path_factory, perovskites):
    """40 perovskite CIFs (named by material id) and a targets.csv naming them."""
    folder = tmp_path_factory.mktemp("cifs")
    df = perovskites.iloc[:40]
    names = []
    for mid, s in zip(df["material_id"], df["structure"]):
        name = f"{mid}.cif"
        s.to(filename=str(folder / name))
        names.append(name)
    targets = folder.parent / f"{folder.name}_targets.csv"
    pd.DataFrame({"file": names, "heat_ref": df["heat_ref"].to_numpy()}).to_csv(targets, index=False)
    return folder, targets, df


def run(args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_featurize_fit_predict_end_to_end(cif_folder, tmp_path, capsys):
    folder, targets, df = cif_folder
    feats = tmp_path / "features.csv"
    code, _, err = run(["featurize", folder, feats, "--featurizer", "FaithfulFeaturizer",
                        "--param", "symmetry=ordinal"], capsys)
    assert code == 0, err
    F = pd.read_csv(feats, index_col=0)
    assert len(F) == 40 and sorted(F.index) == sorted(p.name for p in folder.glob("*.cif"))
    assert np.isfinite(F.to_numpy()).all()

    model = tmp_path / "gbt.joblib"
    code, _, err = run(["fit", folder, "--targets", targets, "--target", "heat_ref", "--model", "GBT",
                        "--param", "n_estimators=80", "--param", "max_depth=3", "--param", "random_state=0",
                        "-o", model], capsys)
    assert code == 0, err
    preds = tmp_path / "preds.csv"
    code, _, err = run(["predict", model, folder, "-o", preds], capsys)
    assert code == 0, err
    P = pd.read_csv(preds, index_col=0)
    assert list(P.columns) == ["heat_ref_pred"]
    y = pd.read_csv(targets).set_index("file")["heat_ref"].loc[P.index]
    # the saved model is the fitted one: it fits its training data far better than the mean does
    mae = np.mean(np.abs(P["heat_ref_pred"] - y))
    assert mae < 0.5 * np.mean(np.abs(y - y.mean()))
    # and it predicts what the in-process model predicts
    frame = read_structures(folder)
    np.testing.assert_allclose(load_model(model).predict(frame), P.loc[frame.index, "heat_ref_pred"], rtol=1e-6)
    info = model_info(model)
    assert info["target"] == "heat_ref" and info["versions"]["skcrystal"]
    assert info["featurizer"] and "FeatureUnion" in info["featurizer"][0]["class"]


def test_fit_a_network_with_a_featurizer_pipeline(cif_folder, tmp_path, capsys):
    folder, targets, _ = cif_folder
    model = tmp_path / "cgnn.joblib"
    code, _, err = run(["fit", folder, "--targets", targets, "--target", "heat_ref", "--model", "CGNN",
                        "--featurizer", "CrystalGraph", "--featurizer-param", "cutoff=5.0",
                        "--featurizer-param", "global_features='lattice'",
                        "--param", "max_epochs=2", "--param", "module__atom_fea_len=8", "--param",
                        "module__n_conv=1", "--param", "random_state=0", "-o", model, "-q"], capsys)
    assert code == 0, err
    info = model_info(model)
    assert info["featurizer"][0]["params"]["cutoff"] == 5.0
    preds = tmp_path / "p.csv"
    assert run(["predict", model, folder, "-o", preds], capsys)[0] == 0
    assert np.isfinite(pd.read_csv(preds, index_col=0).to_numpy()).all()


def test_inputs_csv_with_cif_column_and_json_frame(cif_folder, tmp_path):
    _, _, df = cif_folder
    csv = tmp_path / "s.csv"
    pd.DataFrame({"id": df["material_id"], "cif": [s.to(fmt="cif") for s in df["structure"]],
                  "heat_ref": df["heat_ref"]}).to_csv(csv, index=False)
    got = read_structures(csv)
    assert len(got) == 40 and got["structure"].iloc[3].composition == df["structure"].iloc[3].composition
    js = tmp_path / "s.json.gz"
    pd.DataFrame({"structure": [s.as_dict() for s in df["structure"]], "heat_ref": df["heat_ref"].to_numpy()}
                 ).to_json(js, orient="split")
    got = read_structures(js)
    assert len(got) == 40 and np.allclose(got["heat_ref"], df["heat_ref"])


def test_saved_model_refuses_other_versions(cif_folder, tmp_path, capsys):
    from sklearn.dummy import DummyRegressor

    path = tmp_path / "m.joblib"
    save_model(DummyRegressor().fit(np.zeros((3, 1)), [1.0, 2.0, 3.0]), path, target="t")
    assert load_model(path).predict(np.zeros((1, 1)))[0] == 2.0
    # the same file written by a future skcrystal: the header is read before anything is unpickled
    with open(path, "rb") as fh:
        header = pickle.load(fh)
        payload = fh.read()
    header["versions"]["skcrystal"] = "9.4.0"
    other = tmp_path / "future.joblib"
    with open(other, "wb") as fh:
        pickle.dump(header, fh)
        fh.write(payload)
    with pytest.raises(IncompatibleModelError, match=r"saved with skcrystal 9\.4\.0.*refit"):
        load_model(other)
    assert load_model(other, check_version=False).predict(np.zeros((1, 1)))[0] == 2.0
    code, _, err = run(["predict", other, cif_folder[0], "-o", tmp_path / "p.csv"], capsys)
    assert code == 1 and "skcrystal 9.4.0" in err and len(err.strip().splitlines()) == 1


def _bad_cases(folder, targets, tmp):
    empty = tmp / "empty"
    empty.mkdir()
    broken = tmp / "broken"
    broken.mkdir()
    (broken / "x.cif").write_text("data_x\n_cell_length_a nonsense\n")
    not_model = tmp / "notmodel.joblib"
    not_model.write_bytes(b"hello")
    wrong_targets = tmp / "t.csv"
    pd.DataFrame({"file": ["a.cif"], "y": [1.0]}).to_csv(wrong_targets, index=False)
    fit = ["fit", folder, "--targets", targets, "--target", "heat_ref"]
    return {
        "missing input": (["featurize", tmp / "nope", tmp / "f.csv", "--featurizer", "FaithfulFeaturizer"],
                          "no such file"),
        "empty folder": (["featurize", empty, tmp / "f.csv", "--featurizer", "FaithfulFeaturizer"],
                         "no structure files"),
        "corrupt CIF": (["featurize", broken, tmp / "f.csv", "--featurizer", "FaithfulFeaturizer"], "x.cif"),
        "unknown featurizer": (["featurize", folder, tmp / "f.csv", "--featurizer", "Nope"], "unknown featurizer"),
        "graph to csv": (["featurize", folder, tmp / "g.csv", "--featurizer", "CrystalGraph"], ".joblib"),
        "bad output suffix": (["featurize", folder, tmp / "f.txt", "--featurizer", "FaithfulFeaturizer"],
                              "ending in"),
        "param without =": (["featurize", folder, tmp / "f.csv", "--featurizer", "FaithfulFeaturizer",
                             "--param", "symmetry"], "key=value"),
        "unknown param": (fit + ["--model", "GBT", "--param", "depth=3", "-o", tmp / "m.joblib"], "depth"),
        "invalid param value": (fit + ["--model", "NNN", "--param", "max_epochs=-1", "-o", tmp / "m.joblib"],
                                "max_epochs"),
        "unknown model": (fit + ["--model", "Nope", "-o", tmp / "m.joblib"], "unknown model"),
        "missing target column": (["fit", folder, "--targets", targets, "--target", "nope", "--model", "GBT",
                                   "-o", tmp / "m.joblib"], "no target column"),
        "folder without targets": (["fit", folder, "--target", "heat_ref", "--model", "GBT", "-o",
                                    tmp / "m.joblib"], "--targets"),
        "targets missing files": (["fit", folder, "--targets", wrong_targets, "--target", "y", "--model", "GBT",
                                   "-o", tmp / "m.joblib"], "no row for 40"),
        "not a model": (["predict", not_model, folder, "-o", tmp / "p.csv"], "not a skcrystal model"),
        "missing model": (["predict", tmp / "none.joblib", folder, "-o", tmp / "p.csv"], "no such model"),
        "unknown benchmark model": (["benchmark", "--quick", "--models", "Nope", "--out", tmp / "b"],
                                    "unknown model"),
    }


def test_bad_input_gives_one_line_and_exit_1(cif_folder, tmp_path, capsys):
    folder, targets, _ = cif_folder
    for name, (args, needle) in _bad_cases(folder, targets, tmp_path).items():
        code, _, err = run(args, capsys)
        lines = err.strip().splitlines()
        assert code == 1, (name, err)
        assert lines and lines[-1].startswith("skcrystal ") and ": error: " in lines[-1], (name, err)
        assert needle in lines[-1], (name, lines[-1])
        assert "Traceback" not in err, name


def test_console_entry_point_exit_status_without_traceback(tmp_path):
    """The real process: ``python -m skcrystal`` on a missing input exits 1 with one line, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "skcrystal", "predict", str(tmp_path / "m.joblib"),
                           str(tmp_path), "-o", str(tmp_path / "p.csv")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"skcrystal predict: error: {tmp_path / 'm.joblib'}: no such "
                                                "model file"]
    usage = subprocess.run([sys.executable, "-m", "skcrystal", "fit"], capture_output=True, text=True, cwd=ROOT,
                           timeout=120)
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_datasets_command_lists_every_loader(capsys):
    import skcrystal.datasets as D

    code, out, _ = run(["datasets"], capsys)
    assert code == 0
    loaders = [n for n in D.__all__ if n.startswith("load_")]
    for name in loaders:
        assert f"{name}()" in out
    table = D.list_datasets()
    assert sorted(table["loader"]) == sorted(loaders)
    # the row counts of the catalogue are those of the shipped files (the small frames; perovskites in test_datasets)
    for name in ("mp_dielectric", "mofs"):
        assert len(getattr(D, table.loc[name, "loader"])()) == table.loc[name, "rows"]


def test_model_and_featurizer_names_follow_the_public_api():
    import skcrystal.featurizers as F
    import skcrystal.models as M
    from skcrystal.cli import CLIError, resolve_featurizer, resolve_model

    from sklearn.base import TransformerMixin

    for name in F.__all__:
        if issubclass(getattr(F, name), TransformerMixin):
            assert resolve_featurizer(name.lower()) is getattr(F, name)
        else:  # a data record (CrystalformerInput) is no featurizer
            with pytest.raises(CLIError, match="unknown featurizer"):
                resolve_featurizer(name)
    assert "CrystalformerInput" in F.__all__
    for name in M.__all__:
        obj = getattr(M, name)
        if isinstance(obj, type) and name.endswith(("Regressor", "Classifier")):
            assert resolve_model(name) is obj
    assert resolve_model("cgnn", "classification") is M.CGNNClassifier
    with pytest.raises(CLIError, match="available"):
        resolve_model("nope")
