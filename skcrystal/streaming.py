"""Featurize frames larger than memory: structures stream in chunks to a store on disk.

:func:`featurize_to_store` reads structures lazily from a source (a generator,
a folder of CIF/POSCAR files, json(.gz) frames), featurizes them chunk by
chunk with any skcrystal featurizer and writes each chunk as one part of a
store folder, so memory holds one chunk at a time however many structures
pass:

* numeric features go to a **Parquet dataset** (``part-000000.parquet``, …,
  one row per structure, indexed by its key; ``pandas.read_parquet(folder)``
  or any Arrow/Spark/Dask reader opens it);
* object outputs (crystal graphs, topological tokens, voxel records) go to
  **chunked pickle parts** (``part-000000.pkl``: one pickle per structure and
  an index of offsets, so one structure is read without the rest).

Every part is written to a hidden temporary file and renamed into place, and
the store remembers the featurizer (class, parameters, fitted state,
skcrystal version) and the keys it holds: after an interruption the same
call resumes after the last complete part — no duplicates, no gaps — and a
changed featurizer or source is refused.  :class:`FeatureStore` reads a store
back: its length, keys, failed rows, single items, chunks, a pandas frame;
:class:`skcrystal.nn.data.FeatureStoreDataset` and the graph models train from
it without loading it whole.

Requires ``pyarrow`` for numeric stores (``pip install skcrystal[stream]``).
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np

__all__ = ["FeatureStore", "featurize_to_store", "iter_structures"]

_FORMAT = "skcrystal-feature-store"
_FORMAT_VERSION = 1
_MANIFEST = "_manifest.json"
_FEATURIZER = "_featurizer.pkl"
_FOOTER = struct.Struct("<Q")


# ------------------------------------------------------------------ sources
def _structure_from_value(value, where):
    from .utils.validation import check_structures

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return check_structures([value], disorder="allow", min_distance=0)[0]
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def _iter_table(path):
    """(key, thunk) for each row of a json(.gz) or CSV frame; structures parsed when asked for."""
    import pandas as pd

    from .io import _structure_column

    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        try:
            df = pd.read_json(path, orient="split")
        except ValueError:
            df = pd.read_json(path)
    else:
        df = pd.read_csv(path)
    col = _structure_column(df, None, path)
    if col is None:
        raise ValueError(f"{path} has no structure column (structure, cif or poscar); found {list(df.columns)}")
    for idx, value in zip(df.index, df[col]):
        yield f"{path.name}:{idx}", (lambda v=value, i=idx: _structure_from_value(v, f"{path}, row {i!r}"))


def _iter_lazy(source):
    """``(key, thunk)`` pairs: ``thunk()`` builds the structure, so skipped items cost nothing."""
    import pandas as pd
    from pymatgen.core import Structure

    from .io import _is_structure_file, _read_file

    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if _is_structure_file(p))
            if not files:
                raise ValueError(f"no structure files (*.cif, *.vasp, *.poscar, POSCAR*) in {path}")
            for f in files:
                yield f.name, (lambda f=f: _read_file(f))
            return
        if not path.is_file():
            raise ValueError(f"{path}: no such file or folder")
        source = [path]
    if isinstance(source, pd.DataFrame):
        if "structure" not in source.columns:
            raise ValueError(f"the frame has no 'structure' column; its columns are {list(source.columns)}")
        source = source["structure"]
    if isinstance(source, pd.Series):
        for idx, value in source.items():
            yield str(idx), (lambda v=value, i=idx: _structure_from_value(v, f"row {i!r}"))
        return
    for n, item in enumerate(source):
        if isinstance(item, (str, os.PathLike)) and Path(item).is_file():
            path = Path(item)
            if path.name.lower().endswith((".json", ".json.gz", ".csv")):
                yield from _iter_table(path)
            else:
                yield path.name, (lambda p=path: _read_file(p))
        elif isinstance(item, tuple) and len(item) == 2:
            key, s = item
            yield str(key), (lambda s=s, k=key: s if isinstance(s, Structure) else _structure_from_value(s, f"{k!r}"))
        else:
            yield str(n), (lambda s=item, k=n: s if isinstance(s, Structure) else _structure_from_value(s, f"item {k}"))


def iter_structures(source):
    """Yield ``(key, Structure)`` pairs from a source, lazily (one structure in memory at a time).

    Parameters
    ----------
    source : folder, file, list of files, DataFrame, Series or iterable
        * a folder of ``*.cif`` / ``*.vasp`` / ``*.poscar`` / ``POSCAR*`` files
          (sorted by name; key: the file name);
        * a list of such files, or of ``.json`` / ``.json.gz`` / ``.csv``
          frames with a ``structure`` (or ``cif``/``poscar``) column
          (``orient="split"`` as the bundled frames; key: ``"file:index"``),
          read one file at a time;
        * a DataFrame with a ``structure`` column or a Series (key: the index);
        * any iterable — a generator — of structures (key: the position) or
          of ``(key, structure)`` pairs.

    Yields
    ------
    key : str
    structure : pymatgen.core.Structure
    """
    for key, thunk in _iter_lazy(source):
        yield key, thunk()


# ------------------------------------------------------------------ parts
def _part_name(i, kind):
    return f"part-{i:06d}." + ("parquet" if kind == "numeric" else "pkl")


def _atomic_write(path, write):
    """Write through ``write(tmp_path)`` to a hidden temporary file, then rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_object_part(path, keys, objects, failed):
    def write(tmp):
        offsets = [0]
        with open(tmp, "wb") as fh:
            for obj in objects:
                fh.write(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
                offsets.append(fh.tell())
            index = {"keys": list(keys), "offsets": np.asarray(offsets, dtype=np.int64),
                     "failed": np.asarray(failed, dtype=bool)}
            start = fh.tell()
            fh.write(pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL))
            fh.write(_FOOTER.pack(start))
            fh.flush()
            os.fsync(fh.fileno())

    _atomic_write(path, write)


def _read_object_index(path):
    with open(path, "rb") as fh:
        fh.seek(-_FOOTER.size, os.SEEK_END)
        end = fh.tell()
        (start,) = _FOOTER.unpack(fh.read(_FOOTER.size))
        fh.seek(start)
        return pickle.loads(fh.read(end - start))


def _write_numeric_part(path, keys, X, names):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=list(names), index=pd.Index(list(keys), name="key"))
    table = pa.Table.from_pandas(df, preserve_index=True)
    _atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _numeric_part_keys(path):
    import pyarrow.parquet as pq

    return [str(k) for k in pq.read_table(path, columns=["key"]).column("key").to_pylist()]


def _require_pyarrow():
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ImportError(
            "numeric features are streamed to Parquet, which needs pyarrow: pip install skcrystal[stream]"
        ) from None


# ------------------------------------------------------------------ store
class FeatureStore:
    """Read a store written by :func:`featurize_to_store` without loading it whole.

    Parameters
    ----------
    path : str or Path
        The store folder.

    Attributes
    ----------
    path : Path
    kind : {"numeric", "object"}
        Parquet parts (numeric features) or pickle parts (graphs, tokens…).
    feature_names : list of str
    complete : bool
        Whether the source was exhausted (``False`` after an interruption).
    manifest : dict
        What the store was made with (featurizer class and parameters, skcrystal version…).

    Examples
    --------
    >>> store = FeatureStore("graphs/")  # doctest: +SKIP
    >>> len(store), store.keys[:3], store[0]  # doctest: +SKIP
    >>> for keys, X in store.iter_chunks(): ...  # doctest: +SKIP
    """

    def __init__(self, path):
        self.path = Path(path)
        manifest = self.path / _MANIFEST
        if not manifest.is_file():
            raise ValueError(f"{self.path} is not a skcrystal feature store (no {_MANIFEST})")
        self.manifest = json.loads(manifest.read_text())
        if self.manifest.get("format") != _FORMAT:
            raise ValueError(f"{self.path}: unknown store format {self.manifest.get('format')!r}")
        self.kind = self.manifest["kind"]
        self.feature_names = list(self.manifest["feature_names"])
        self.complete = bool(self.manifest.get("complete", False))
        self._indexes = {}
        self._numeric = {}
        self._keys = None
        self._parts = _complete_parts(self.path, self.kind)
        self._lengths = np.array([self._part_length(p) for p in self._parts], dtype=np.int64)
        self._starts = np.concatenate([[0], np.cumsum(self._lengths)])
        self._indexes = {}
        self._keys = None

    def _part_length(self, part):
        if self.kind == "numeric":
            import pyarrow.parquet as pq

            return pq.ParquetFile(part).metadata.num_rows
        return len(self._index(part)["keys"])

    def _index(self, part):
        idx = self._indexes.get(part)
        if idx is None:
            idx = self._indexes[part] = _read_object_index(part)
        return idx

    def _numeric_part(self, part):
        """A numeric part as (keys, float matrix); the last few parts read are kept."""
        hit = self._numeric.get(part)
        if hit is None:
            import pyarrow.parquet as pq

            df = pq.read_table(part).to_pandas()
            hit = (df.index.to_numpy(dtype=object), df[self.feature_names].to_numpy(dtype=np.float64))
            self._numeric[part] = hit
            while len(self._numeric) > 4:
                self._numeric.pop(next(iter(self._numeric)))
        return hit

    def __len__(self):
        return int(self._starts[-1])

    def __repr__(self):
        state = "complete" if self.complete else "incomplete"
        return (f"FeatureStore({str(self.path)!r}, kind={self.kind!r}, n={len(self)}, parts={len(self._parts)}, "
                f"{state}, featurizer={self.manifest['featurizer']['class']})")

    @property
    def n_parts(self):
        """Number of complete parts."""
        return len(self._parts)

    @property
    def keys(self):
        """Keys of every stored structure, in order (ndarray of str)."""
        if self._keys is None:
            keys = []
            for part in self._parts:
                keys.extend(_numeric_part_keys(part) if self.kind == "numeric" else self._index(part)["keys"])
            self._keys = np.asarray(keys, dtype=object)
        return self._keys

    @property
    def failed(self):
        """Boolean mask of the structures that could not be featurized (NaN rows / ``None`` objects)."""
        if self.kind == "object":
            return np.concatenate([self._index(p)["failed"] for p in self._parts]) if self._parts else np.zeros(0, bool)
        return np.concatenate([np.isnan(X).all(axis=1) for _, X in self.iter_chunks()]) if self._parts else \
            np.zeros(0, bool)

    def featurizer(self):
        """The fitted featurizer that wrote the store.

        Returns
        -------
        StructureFeaturizer
            Unpickled from the store.
        """
        with open(self.path / _FEATURIZER, "rb") as fh:
            return pickle.load(fh)

    def _locate(self, i):
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a store of {n} structures")
        i = int(i) % n
        p = int(np.searchsorted(self._starts, i, side="right") - 1)
        return p, i - int(self._starts[p])

    def __getitem__(self, i):
        """One structure's features (1-D array) or object; an integer array gives a :class:`FeatureStore` view."""
        if isinstance(i, (slice, list, np.ndarray)):
            return _StoreView(self, np.arange(len(self))[i])
        p, j = self._locate(i)
        part = self._parts[p]
        if self.kind == "numeric":
            # random access reads a whole part (kept for the next few calls): iterate chunks for speed
            return self._numeric_part(part)[1][j]
        off = self._index(part)["offsets"]
        fd = os.open(part, os.O_RDONLY)
        try:
            data = os.pread(fd, int(off[j + 1] - off[j]), int(off[j]))
        finally:
            os.close(fd)
        return pickle.loads(data)

    def __iter__(self):
        for _, objs in self.iter_chunks():
            yield from objs

    def iter_chunks(self):
        """Yield the stored features part by part (one part in memory at a time).

        Yields
        ------
        keys : ndarray of str
            Keys of the part's structures.
        features : ndarray of shape (n, n_features) or list
            A float matrix (numeric store) or the objects (graphs, tokens…).
        """
        for part in self._parts:
            if self.kind == "numeric":
                import pyarrow.parquet as pq

                df = pq.read_table(part).to_pandas()
                yield df.index.to_numpy(dtype=object), df[self.feature_names].to_numpy(dtype=np.float64)
                del df
            else:
                idx = self._index(part)
                with open(part, "rb") as fh:
                    data = fh.read(int(idx["offsets"][-1]))
                off = idx["offsets"]
                yield (np.asarray(idx["keys"], dtype=object),
                       [pickle.loads(data[off[k]:off[k + 1]]) for k in range(len(off) - 1)])

    def to_pandas(self, columns=None):
        """The numeric features as a DataFrame indexed by key (loads them: for stores that fit in memory).

        Parameters
        ----------
        columns : list of str, optional
            Read only these feature columns.

        Returns
        -------
        DataFrame
        """
        if self.kind != "numeric":
            raise ValueError("to_pandas() reads numeric stores; iterate an object store or index it")
        import pandas as pd

        return pd.read_parquet(self.path, columns=columns)

    def __getstate__(self):
        # a store travels to DataLoader workers as its path and part list; indexes are re-read there
        state = self.__dict__.copy()
        state["_indexes"] = {}
        state["_numeric"] = {}
        return state


class _StoreView:
    """Rows of a :class:`FeatureStore` selected by position (what models use to leave rows out)."""

    def __init__(self, store, rows):
        self.store = store
        self.rows = np.asarray(rows, dtype=np.int64)

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        if isinstance(i, (slice, list, np.ndarray)):
            return _StoreView(self.store, self.rows[i])
        return self.store[int(self.rows[i])]

    def __iter__(self):
        for r in self.rows:
            yield self.store[int(r)]

    @property
    def failed(self):
        return self.store.failed[self.rows]

    @property
    def keys(self):
        return self.store.keys[self.rows]

    @property
    def kind(self):
        return self.store.kind


def _complete_parts(path, kind):
    """The complete parts in order; a gap (a missing part before a present one) is an error."""
    suffix = ".parquet" if kind == "numeric" else ".pkl"
    found = sorted(p for p in path.glob("part-*" + suffix))
    for i, p in enumerate(found):
        if p.name != _part_name(i, kind):
            raise ValueError(f"{path}: part {_part_name(i, kind)} is missing but {p.name} exists; the store is damaged")
    return found


# ------------------------------------------------------------------ writer
def _settings(featurizer):
    """Class and output-changing parameters (as text) of a featurizer, fitted or not."""
    params = {k: repr(v) for k, v in featurizer.get_params(deep=False).items()
              if k not in featurizer._cache_ignore}
    return {"class": f"{type(featurizer).__module__}.{type(featurizer).__qualname__}", "params": params}


def _featurizer_record(fitted):
    from . import __version__

    return {**_settings(fitted), "fingerprint": fitted._fingerprint(), "skcrystal": __version__}


def featurize_to_store(featurizer, source, path, *, chunk_size=1000, resume=True, verbose=0):
    """Featurize a stream of structures chunk by chunk into a store on disk (bounded memory, resumable).

    Parameters
    ----------
    featurizer : StructureFeaturizer
        Any skcrystal featurizer; used as given when fitted, else fitted on
        the first chunk (and that fitted copy is kept in the store, so a
        resumed run uses the very same state).  Its ``n_jobs`` (also under
        a Dask or Ray ``parallel_config``), ``memory`` and ``on_error``
        apply chunk by chunk; its in-memory cache is bypassed so memory stays
        bounded.
    source : folder, file(s), DataFrame, Series or iterable
        What :func:`iter_structures` reads: a folder of CIF/POSCAR files, a
        list of files or json(.gz) frames, a frame, or a generator of
        structures or ``(key, structure)`` pairs.  It must yield the same
        sequence when a run is resumed (checked against the stored keys).
    path : str or Path
        The store folder (created).  Numeric features go to Parquet parts
        (``pandas.read_parquet(path)`` reads them), objects (graphs, tokens)
        to pickle parts.
    chunk_size : int, default=1000
        Structures per part: what is held in memory at once.
    resume : bool, default=True
        Continue a store that an interruption left incomplete (same
        featurizer and source required).  ``False`` refuses an existing store.
    verbose : int, default=0
        Print one line per part written.

    Returns
    -------
    FeatureStore
        The store, opened for reading (complete).

    Raises
    ------
    ValueError
        The store exists and was made by another featurizer or setting, or
        from a source whose keys differ from the stored ones, or
        ``resume=False``; a structure cannot be read or featurized (with
        ``on_error="raise"``) — the message names its key and the parts
        written so far stay valid, so fixing the source and calling again
        resumes there.

    Examples
    --------
    >>> from skcrystal.featurizers import CrystalGraph
    >>> from skcrystal.streaming import featurize_to_store
    >>> store = featurize_to_store(CrystalGraph(), "cifs/", "graphs/", chunk_size=5000)  # doctest: +SKIP
    >>> CGNNRegressor().fit(store, y[store.keys])  # doctest: +SKIP
    """
    import pandas as pd
    from sklearn.base import clone

    from .utils.validation import check_structures

    if not isinstance(chunk_size, (int, np.integer)) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    path = Path(path)
    kind = featurizer._output_kind
    if kind == "numeric":
        _require_pyarrow()
    manifest_path = path / _MANIFEST
    is_fitted = hasattr(featurizer, "feature_names_out_")
    fitted = featurizer if is_fitted else None
    done = 0
    stored_keys = []
    if manifest_path.is_file():
        if not resume:
            raise ValueError(f"{path} already holds a feature store; pass resume=True to continue it or use "
                             "another folder")
        store = FeatureStore(path)
        record = store.manifest["featurizer"]
        if _settings(featurizer) != {k: record[k] for k in ("class", "params")} or (
            is_fitted and featurizer._fingerprint() != record["fingerprint"]
        ):
            raise ValueError(
                f"{path} was written by {record['class']} with {record['params']}"
                f"{' and other fitted state' if is_fitted else ''}; it cannot be continued with {featurizer!r}. "
                "Use another folder for other settings"
            )
        if store.complete:
            return store
        if not is_fitted:
            # the very state the stored parts were made with; how to run (n_jobs, memory…) is the caller's
            fitted = store.featurizer()
            fitted.set_params(**{k: v for k, v in featurizer.get_params(deep=False).items()
                                 if k in featurizer._cache_ignore})
        done = len(store)
        stored_keys = store.keys
        for tmp in path.glob(".part-*.tmp"):  # left by a killed writer
            tmp.unlink()
    elif path.exists() and any(path.iterdir()):
        raise ValueError(f"{path} exists and is not empty (and is not a feature store); use an empty folder")
    path.mkdir(parents=True, exist_ok=True)
    if fitted is not None and not manifest_path.is_file():
        _start_store(path, fitted, kind, chunk_size)

    items = _iter_lazy(source)
    # skip what is stored (without building those structures), checking the source still gives the same keys
    skipped = 0
    for key, _ in itertools.islice(items, done):
        if key != stored_keys[skipped]:
            raise ValueError(
                f"{path}: the source gives key {key!r} at position {skipped} where the store holds "
                f"{stored_keys[skipped]!r}; resume with the same source (same order), or use a new folder"
            )
        skipped += 1
    if skipped < done:
        raise ValueError(f"{path}: the source ended after {skipped} structures but the store already holds {done}")
    part = len(_complete_parts(path, kind)) if done else 0
    position = done
    while True:
        chunk = list(itertools.islice(items, chunk_size))
        if not chunk:
            break
        keys = [k for k, _ in chunk]
        try:
            structures = [thunk() for _, thunk in chunk]
            if fitted is None:
                fitted = clone(featurizer).fit(structures)
                _start_store(path, fitted, kind, chunk_size)
            column = np.empty(len(structures), dtype=object)
            for k, st in enumerate(structures):
                column[k] = st
            # a Series indexed by key, so a validation error names the structure's key
            structures = check_structures(pd.Series(column, index=keys), disorder=fitted._disorder,
                                          min_distance=fitted._min_distance)
            out = fitted._transform_structures(structures, keys, memory_cache=False)
        except ValueError as exc:
            raise ValueError(
                f"featurize_to_store: structures {position}-{position + len(chunk) - 1} (part {part}, keys "
                f"{keys[0]!r}…{keys[-1]!r}): {exc}. Parts 0-{part - 1} are stored; fix the source and call "
                "again to resume"
            ) from exc
        target = path / _part_name(part, kind)
        if kind == "numeric":
            _write_numeric_part(target, keys, out, fitted.feature_names_out_)
        else:
            objs = list(out[:, 0]) if out.ndim == 2 and out.shape[1] == 1 else list(out)
            _write_object_part(target, keys, objs, [o is None for o in objs])
        if verbose:
            print(f"featurize_to_store: part {part} ({position}-{position + len(chunk) - 1}) -> {target}", flush=True)
        position += len(chunk)
        part += 1
    if fitted is None:
        raise ValueError("featurize_to_store: the source gave no structures")
    _write_manifest(path, fitted, kind, chunk_size, complete=True, n=position)
    return FeatureStore(path)


def _start_store(path, fitted, kind, chunk_size):
    _atomic_write(path / _FEATURIZER, lambda tmp: tmp.write_bytes(pickle.dumps(fitted)))
    _write_manifest(path, fitted, kind, chunk_size, complete=False)


def _write_manifest(path, fitted, kind, chunk_size, complete, n=None):
    manifest = {"format": _FORMAT, "format_version": _FORMAT_VERSION, "kind": kind,
                "featurizer": _featurizer_record(fitted), "feature_names": [str(n) for n in fitted.feature_names_out_],
                "chunk_size": int(chunk_size), "complete": bool(complete)}
    if n is not None:
        manifest["n"] = int(n)
    _atomic_write(path / _MANIFEST, lambda tmp: tmp.write_text(json.dumps(manifest, indent=1)))
