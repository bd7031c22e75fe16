"""Reading structures from files, and saving / loading fitted models with a version check.

:func:`read_structures` turns what a user has on disk into the frame every
skcrystal estimator takes (a ``structure`` column of pymatgen Structures):
a folder of CIF/POSCAR files, a single structure file, a CSV with a column of
CIF/POSCAR text (or of file names), a json(.gz) frame, or the name of a
bundled frame.  :func:`save_model` writes a fitted estimator together with a
header (package versions, target, featurizer settings) that
:func:`load_model` checks *before* unpickling, so a model saved by an
incompatible version is refused with a clear message instead of failing deep
inside pickle.
"""

from __future__ import annotations

import io as _io
import pickle
import warnings
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

__all__ = [
    "IncompatibleModelError",
    "check_compatible",
    "load_model",
    "model_info",
    "read_structures",
    "save_model",
]

#: File-name patterns read from a folder (case-insensitive).
STRUCTURE_SUFFIXES = (".cif", ".vasp", ".poscar", ".mcif")
STRUCTURE_PREFIXES = ("POSCAR", "CONTCAR")
#: Column names taken to hold structure text or dicts, in this order (case-insensitive).
STRUCTURE_COLUMNS = ("structure", "cif", "poscar")
_MAGIC = "skcrystal-model"
_FORMAT_VERSION = 1


def _is_structure_file(path):
    name = path.name
    return path.is_file() and (name.lower().endswith(STRUCTURE_SUFFIXES) or name.upper().startswith(STRUCTURE_PREFIXES))


def _read_file(path):
    from pymatgen.core import Structure

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return Structure.from_file(str(path))
        except Exception as exc:  # noqa: BLE001 - parser errors of every kind, reported with the file
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"cannot read a structure from {path}: {msg}") from None


def _read_folder(folder):
    files = sorted(p for p in folder.iterdir() if _is_structure_file(p))
    if not files:
        raise ValueError(
            f"no structure files in {folder}: expected *.cif, *.vasp, *.poscar or POSCAR*/CONTCAR* files"
        )
    return pd.DataFrame({"structure": [_read_file(p) for p in files]}, index=pd.Index([p.name for p in files],
                                                                                      name="file"))


def _structure_column(df, column, source):
    if column is not None:
        if column not in df.columns:
            raise ValueError(f"{source} has no column {column!r}; its columns are {list(df.columns)}")
        return column
    lower = {str(c).lower(): c for c in df.columns}
    for name in STRUCTURE_COLUMNS:
        if name in lower:
            return lower[name]
    return None


def _parse_column(values, source, column):
    from .utils.validation import check_structures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return check_structures(list(values), disorder="allow", min_distance=0)
        except ValueError as exc:
            raise ValueError(f"{source}, column {column!r}: {exc}") from None


def _read_table(path, column):
    if path.name.lower().endswith((".json", ".json.gz")):
        try:
            df = pd.read_json(path, orient="split")
        except ValueError:
            df = pd.read_json(path)
    else:
        df = pd.read_csv(path)
    col = _structure_column(df, column, path)
    if col is None and "file" in df.columns:  # a CSV listing structure files next to it
        files = [path.parent / str(f) for f in df["file"]]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise ValueError(f"{path}: {len(missing)} files of its 'file' column do not exist, e.g. {missing[:3]}")
        out = df.drop(columns="file").copy()
        out.insert(0, "structure", [_read_file(f) for f in files])
        out.index = pd.Index([f.name for f in files], name="file")
        return out
    if col is None:
        raise ValueError(
            f"{path} has no structure column: name one of {', '.join(STRUCTURE_COLUMNS)} (CIF/POSCAR text or "
            f"Structure.as_dict()), a 'file' column of structure files, or pass the column name; found "
            f"{list(df.columns)}"
        )
    structures = _parse_column(df[col], path, col)
    out = df.drop(columns=col).copy()
    out.insert(0, "structure", structures)
    return out


def read_structures(source, targets=None, structure_column=None):
    """Read structures (and optionally targets) into a frame with a ``structure`` column.

    Parameters
    ----------
    source : str or Path
        One of

        * a folder of ``*.cif``, ``*.vasp``, ``*.poscar``, ``POSCAR*`` or
          ``CONTCAR*`` files (index: the file names);
        * a single structure file;
        * a CSV with a column of CIF/POSCAR text named ``structure``, ``cif``
          or ``poscar`` (or ``structure_column``), or with a ``file`` column
          naming structure files relative to the CSV;
        * a ``.json`` / ``.json.gz`` frame (pandas ``orient="split"``, as
          matminer writes them) whose structure column holds
          ``Structure.as_dict()`` dictionaries or CIF text;
        * the name of a bundled frame (see
          :func:`skcrystal.datasets.list_datasets`), e.g. ``"perovskites"``.

        Other columns of a table are kept (targets, ids).
    targets : str, Path or DataFrame, optional
        A CSV (or frame) whose ``file`` column names the structure files of a
        folder and whose other columns are targets; joined on the file name.
    structure_column : str, optional
        The column holding the structures in a table.

    Returns
    -------
    DataFrame
        ``structure`` column of :class:`pymatgen.core.Structure` plus any
        other columns.

    Raises
    ------
    ValueError
        If the source does not exist, holds no readable structure, or a
        target file names structures that are not there; the message names
        the file or row.
    """
    path = Path(source)
    if path.is_dir():
        df = _read_folder(path)
    elif path.is_file():
        lower = path.name.lower()
        if lower.endswith((".csv", ".json", ".json.gz")):
            df = _read_table(path, structure_column)
        else:  # one structure file (pymatgen tells the format from the name)
            df = pd.DataFrame({"structure": [_read_file(path)]}, index=pd.Index([path.name], name="file"))
    else:
        from . import datasets

        catalogue = datasets.list_datasets()
        if str(source) in catalogue.index:
            df = getattr(datasets, catalogue.loc[str(source), "loader"])()
        else:
            raise ValueError(
                f"{source}: no such file or folder, and not a bundled frame ({', '.join(catalogue.index)})"
            )
    if targets is not None:
        df = _join_targets(df, targets)
    return df


def _join_targets(df, targets):
    t = targets if isinstance(targets, pd.DataFrame) else pd.read_csv(targets)
    src = "targets" if isinstance(targets, pd.DataFrame) else str(targets)
    if "file" not in t.columns:
        raise ValueError(f"{src} needs a 'file' column naming the structure files; found {list(t.columns)}")
    t = t.assign(file=[Path(str(f)).name for f in t["file"]]).set_index("file")
    dup = t.index[t.index.duplicated()].unique().tolist()
    if dup:
        raise ValueError(f"{src} lists some files more than once: {dup[:5]}")
    missing = [f for f in df.index if f not in t.index]
    if missing:
        raise ValueError(f"{src} has no row for {len(missing)} of the {len(df)} structures, e.g. {missing[:3]}")
    extra = [f for f in t.index if f not in df.index]
    if extra:
        warnings.warn(f"{src}: {len(extra)} rows name files that were not read, e.g. {extra[:3]}; ignored",
                      UserWarning, stacklevel=3)
    overlap = [c for c in t.columns if c in df.columns]
    return df.drop(columns=overlap).join(t, how="left")


# ============================================================================ models
class IncompatibleModelError(ValueError):
    """A saved model was written by an incompatible version of skcrystal or scikit-learn."""


def _versions():
    import sklearn

    from . import __version__

    out = {"skcrystal": __version__, "scikit-learn": sklearn.__version__}
    try:
        import torch

        out["torch"] = torch.__version__.split("+")[0]
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return out


def _minor(version):
    parts = str(version).split(".")
    return ".".join(parts[:2])


def _describe(obj):
    """Class name and constructor parameters (as text) of an estimator / featurizer."""
    if obj is None:
        return None
    params = obj.get_params(deep=False) if hasattr(obj, "get_params") else {}
    return {"class": f"{type(obj).__module__}.{type(obj).__qualname__}",
            "params": {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v))
                       for k, v in params.items()}}


def _featurizer_settings(model):
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        return [_describe(step) for _, step in model.steps[:-1]] or None
    feat = getattr(model, "featurizer_", None)
    return [_describe(feat)] if feat is not None else None


def save_model(model, path, **metadata):
    """Save a fitted estimator with a header of versions and featurizer settings.

    Parameters
    ----------
    model : fitted estimator
        Any picklable estimator (a skcrystal model, a Pipeline…).
    path : str or Path
        Output file (``.joblib`` by convention).
    **metadata
        Extra JSON-able facts to keep in the header (``target``,
        ``model_name``, the training file…).

    Returns
    -------
    header : dict
        What was written in front of the model (see :func:`model_info`).
    """
    import joblib

    header = {
        "format": _MAGIC,
        "format_version": _FORMAT_VERSION,
        "versions": _versions(),
        "saved_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "estimator": _describe(model),
        "featurizer": _featurizer_settings(model),
        **metadata,
    }
    path = Path(path)
    with open(path, "wb") as fh:
        pickle.dump(header, fh, protocol=4)
        joblib.dump(model, fh, compress=3)
    return header


def _read_header(fh, path):
    try:
        header = pickle.load(fh)
    except Exception:  # noqa: BLE001 - anything that is not our header
        header = None
    if not isinstance(header, dict) or header.get("format") != _MAGIC:
        raise IncompatibleModelError(
            f"{path} is not a skcrystal model file (write one with `skcrystal fit ... -o model.joblib` or "
            "skcrystal.io.save_model)"
        )
    return header


def model_info(path):
    """The header of a saved model (versions, estimator, featurizer settings) without loading the model.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict
    """
    with open(path, "rb") as fh:
        return _read_header(fh, path)


def check_compatible(header, path="model"):
    """Raise :class:`IncompatibleModelError` unless the saved versions match this installation.

    A model loads when it was saved by the same skcrystal and scikit-learn
    ``major.minor`` versions (scikit-learn does not support unpickling
    across its versions; skcrystal's estimators change between minor
    versions before 1.0) and the same file format.

    Parameters
    ----------
    header : dict
        From :func:`model_info`.
    path : str, default="model"
        For the message.
    """
    if header.get("format_version") != _FORMAT_VERSION:
        raise IncompatibleModelError(
            f"{path} uses model-file format {header.get('format_version')}, this skcrystal reads format "
            f"{_FORMAT_VERSION}; refit the model with this version"
        )
    saved, here = header.get("versions", {}), _versions()
    bad = [k for k in ("skcrystal", "scikit-learn") if _minor(saved.get(k)) != _minor(here[k])]
    if bad:
        was = ", ".join(f"{k} {saved.get(k)}" for k in bad)
        now = ", ".join(f"{k} {here[k]}" for k in bad)
        raise IncompatibleModelError(
            f"{path} was saved with {was}; this installation has {now}. Models are only loaded by the "
            f"same major.minor versions: refit it here (skcrystal fit ...) or install the versions it was "
            "saved with"
        )


def load_model(path, check_version=True):
    """Load a model written by :func:`save_model`, refusing incompatible versions.

    Parameters
    ----------
    path : str or Path
    check_version : bool, default=True
        Refuse models saved by another skcrystal / scikit-learn
        ``major.minor`` version (see :func:`check_compatible`).

    Returns
    -------
    model : estimator
        The fitted estimator; its header is in ``model_info(path)``.

    Raises
    ------
    IncompatibleModelError
        If the file is not a skcrystal model or was saved by an incompatible
        version.
    """
    import joblib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such model file")
    with open(path, "rb") as fh:
        header = _read_header(fh, path)
        if check_version:
            check_compatible(header, path)
        data = fh.read()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return joblib.load(_io.BytesIO(data))

