"""EffectResults as plain files, read back without executing anything.

A *bundle* is a folder holding

* ``results.json`` -- every result's fields and ``info`` as strict JSON, the list of the other
  files with their SHA-256, and a checksum of its own content;
* ``tables.parquet`` -- the term tables of all results (column ``_result`` says whose row);
* ``a<k>.npy`` -- arrays (``vcov``, ``draws``, arrays in ``info``), read with
  ``allow_pickle=False``;
* ``f<k>.parquet`` -- DataFrames and Series from ``info``.

Nothing here unpickles or evaluates: a file that is not what it claims to be raises
:class:`BundleError`, which callers treat as "not stored". Values in ``info`` that are not plain
data (see :class:`~bayescity.results.effect.EffectResult`) are kept as their ``repr`` text with a
warning, so a result can always be stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .effect import EffectResult, TestResult

FORMAT = "bayescity-results"
VERSION = 1
#: Version of what a stored fit means: the bundle layout above, the info keys and tables the
#: estimators keep and the posterior file. It is part of every model-store key, so a fit stored
#: in an older format is a miss and refitted, never read as if it were current. Bump it with
#: any change that makes an older stored fit mean something else.
RESULTS_FORMAT = 2
INDEX = "results.json"
TABLES = "tables.parquet"
_ROW = "_result"


class BundleError(ValueError):
    """A results bundle that is missing, truncated, altered or not a bundle at all."""


class PlainDataWarning(UserWarning):
    """A value in ``info`` that is not plain data was stored as its text."""


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical_checksum(doc: Mapping[str, Any]) -> str:
    """SHA-256 of a JSON document without its ``checksum`` field (sorted keys, strict JSON)."""
    body = {k: v for k, v in doc.items() if k != "checksum"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()


# --------------------------------------------------------------------------- encoding
class _Writer:
    """Encodes values into JSON, spilling arrays and frames into files of ``folder``."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.files: list[str] = []

    def _name(self, prefix: str, suffix: str) -> str:
        name = f"{prefix}{len(self.files)}{suffix}"
        self.files.append(name)
        return name

    def array(self, arr: np.ndarray) -> str:
        name = self._name("a", ".npy")
        np.save(self.folder / name, arr, allow_pickle=False)
        return name

    def frame(self, df: pd.DataFrame) -> str:
        name = self._name("f", ".parquet")
        df.to_parquet(self.folder / name, engine="pyarrow")
        return name

    def encode(self, value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)):
            return int(value)
        if isinstance(value, (float, np.floating)):
            v = float(value)
            return v if math.isfinite(v) else {"$float": repr(v)}
        if isinstance(value, Mapping):
            return self._mapping(value, where)
        if isinstance(value, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return {"$tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, TestResult):
            return {"$test": self.encode(dataclasses.asdict(value), where)}
        if isinstance(value, np.ndarray):
            return self._ndarray(value, where)
        if isinstance(value, (pd.DataFrame, pd.Series)):
            return self._pandas(value, where)
        return self._text(value, where)

    def _mapping(self, value: Mapping, where: str) -> Any:
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {"$dict": [[self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                          for k, v in value.items()]}

    def _ndarray(self, arr: np.ndarray, where: str) -> Any:
        if arr.dtype.hasobject:
            flat = list(arr.ravel())
            return {"$objects": self.encode(flat, where), "shape": list(arr.shape)}
        return {"$array": self.array(arr)}

    def _pandas(self, obj: pd.DataFrame | pd.Series, where: str) -> Any:
        is_series = isinstance(obj, pd.Series)
        df = obj.to_frame("value") if is_series else obj
        labels = list(df.columns)
        try:
            name = self.frame(df.set_axis([f"c{i}" for i in range(len(labels))], axis=1))
        except (TypeError, ValueError, ImportError) as exc:  # pyarrow cannot hold it
            self.files.pop()
            return self._text(obj, where, reason=str(exc))
        out = {"$series" if is_series else "$frame": name}
        out["labels"] = self.encode(obj.name if is_series else labels, where)
        return out

    def _text(self, value: Any, where: str, reason: str = "") -> Any:
        warnings.warn(f"{where} holds a {type(value).__name__}, not plain data; stored as its "
                      f"text{': ' + reason if reason else ''}", PlainDataWarning, stacklevel=4)
        return {"$repr": repr(value)[:4000]}


def write_results(results: list[EffectResult], folder: str | Path) -> list[str]:
    """Write ``results`` into the (existing, empty) ``folder``; return the file names written."""
    folder = Path(folder)
    w = _Writer(folder)
    entries, tables = [], []
    for i, r in enumerate(results):
        entry = {}
        for f in dataclasses.fields(EffectResult):
            value = getattr(r, f.name)
            if f.name == "table":
                tables.append(value.assign(**{_ROW: i}))
            elif f.name == "tests":
                entry["tests"] = [w.encode(dataclasses.asdict(t), f"tests[{j}]")
                                  for j, t in enumerate(value)]
            else:
                entry[f.name] = w.encode(value, f"{r.method}/{r.estimand} {f.name}")
        entries.append(entry)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({_ROW: []})
    table.to_parquet(folder / TABLES, engine="pyarrow", index=False)
    files = {name: sha256_file(folder / name) for name in [TABLES, *w.files]}
    doc = {"format": FORMAT, "version": VERSION, "files": files, "results": entries}
    doc["checksum"] = canonical_checksum(doc)
    (folder / INDEX).write_text(json.dumps(doc, indent=1, allow_nan=False), encoding="utf-8")
    return [INDEX, *files]


# --------------------------------------------------------------------------- decoding
class _Reader:
    def __init__(self, folder: Path, files: Mapping[str, str]):
        self.folder, self.files = folder, files

    def _path(self, name: Any) -> Path:
        if not isinstance(name, str) or name not in self.files:
            raise BundleError(f"refers to a file it does not list: {name!r}")
        return self.folder / name

    def decode(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        tags = [k for k in value if k.startswith("$")]
        if not tags:
            return {k: self.decode(v) for k, v in value.items()}
        tag = tags[0]
        if tag == "$float":
            return float(value[tag])
        if tag == "$tuple":
            return tuple(self.decode(v) for v in value[tag])
        if tag == "$dict":
            return {_hashable(self.decode(k)): self.decode(v) for k, v in value[tag]}
        if tag == "$test":
            return TestResult(**self.decode(value[tag]))
        if tag == "$array":
            return np.load(self._path(value[tag]), allow_pickle=False)
        if tag == "$objects":
            flat = self.decode(value[tag])
            arr = np.empty(len(flat), dtype=object)
            for j, v in enumerate(flat):
                arr[j] = v
            return arr.reshape(value["shape"])
        if tag in ("$frame", "$series"):
            return self._pandas(value, tag)
        if tag == "$repr":
            return str(value[tag])
        raise BundleError(f"unknown tag {tag!r}")

    def _pandas(self, value: dict, tag: str) -> pd.DataFrame | pd.Series:
        df = pd.read_parquet(self._path(value[tag]), engine="pyarrow")
        labels = self.decode(value["labels"])
        if tag == "$series":
            return df.iloc[:, 0].rename(labels)
        return df.set_axis([_hashable(c) for c in labels], axis=1)


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, (list, tuple)) else value


def read_index(folder: str | Path) -> dict[str, Any]:
    """The parsed ``results.json`` of a bundle, its own checksum verified."""
    path = Path(folder) / INDEX
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path}: missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BundleError(f"{path}: not a {FORMAT} file")
    if doc.get("version") != VERSION:
        raise BundleError(f"{path}: format version {doc.get('version')!r}, expected {VERSION}")
    if doc.get("checksum") != canonical_checksum(doc):
        raise BundleError(f"{path}: content does not match its checksum (altered?)")
    return doc


def verify_files(folder: str | Path, files: Mapping[str, str]) -> None:
    """Raise :class:`BundleError` unless every file exists with the recorded SHA-256."""
    folder = Path(folder)
    for name, digest in files.items():
        path = folder / name
        if Path(name).name != name or not path.is_file():
            raise BundleError(f"{path}: missing")
        if sha256_file(path) != digest:
            raise BundleError(f"{path}: checksum mismatch (truncated or altered)")


def read_results(folder: str | Path) -> list[EffectResult]:
    """Read a bundle written by :func:`write_results`, verifying every checksum first."""
    folder = Path(folder)
    doc = read_index(folder)
    files = doc.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{folder / INDEX}: no file list")
    verify_files(folder, files)
    reader = _Reader(folder, files)
    try:
        tables = pd.read_parquet(folder / TABLES, engine="pyarrow")
        return [_result(reader, tables, i, entry) for i, entry in enumerate(doc["results"])]
    except BundleError as exc:
        raise BundleError(f"{folder}: {exc}") from None
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise BundleError(f"{folder}: cannot rebuild the results ({type(exc).__name__}: {exc})"
                          ) from None


def _result(reader: _Reader, tables: pd.DataFrame, i: int, entry: dict) -> EffectResult:
    kwargs = {k: reader.decode(v) for k, v in entry.items() if k != "tests"}
    kwargs["tests"] = tuple(TestResult(**reader.decode(t)) for t in entry.get("tests", []))
    rows = tables[tables[_ROW] == i].drop(columns=_ROW).reset_index(drop=True)
    kwargs["table"] = rows.astype({"term": str})
    return EffectResult(**kwargs)
