"""EffectResults as plain files, read back without executing anything.

A *bundle* is a folder holding

* ``results.json`` -- every result's fields, messages and parts (:mod:`.parts`) as strict JSON,
  the list of the other files with their SHA-256, and a checksum of its own content;
* ``tables.parquet`` -- the term tables of all results (column ``_result`` says whose row);
* ``a<k>.npy`` -- arrays (``vcov``, ``draws`` as float32, distributions), read with
  ``allow_pickle=False``;
* ``f<k>.parquet`` -- the tables of Table and Diagnostics parts.

Nothing here unpickles or evaluates: a file that is not what it claims to be raises
:class:`BundleError`, which callers treat as "not stored". Every part is one of the declared
types, so every result can be stored and read back as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .effect import RESULT_FIELDS, EffectResult, TestResult
from .parts import PART_TYPES, Message, Part, Table, declaration

FORMAT = "bayescity-results"
#: Version of the bundle layout above (3: draws stored as float32).
VERSION = 3
def results_format() -> str:
    """What a stored fit means: the bundle layout's version and a digest of the fields of a
    result and of its tests and of the declared parts
    (:data:`~bayescity.results.parts.DECLARED`), computed from the declarations."""
    spec = {"result": list(RESULT_FIELDS), "test": [f.name for f in dataclasses.fields(TestResult)],
            **declaration()}
    return f"{VERSION}-" + hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


#: :func:`results_format` of this version. It is part of every model-store key, so a fit stored
#: under other declarations is a miss and refitted, never read as if it meant the same.
RESULTS_FORMAT = results_format()
_PART_TYPES = {t.kind: t for t in PART_TYPES}
INDEX = "results.json"
TABLES = "tables.parquet"
_ROW = "_result"


class BundleError(ValueError):
    """A results bundle that is missing, truncated, altered or not a bundle at all."""


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
        """Plain data as strict JSON (non-finite floats and tuples tagged)."""
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
            return {"$dict": [[str(k), self.encode(v, f"{where}[{k!r}]")]
                              for k, v in value.items()]}
        if isinstance(value, (list, tuple)):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, np.ndarray):
            return {"$array": self.array(value)}
        raise TypeError(f"{where}: {type(value).__name__} cannot be stored")

    def part(self, part: Part, where: str) -> dict[str, Any]:
        where = f"{where} part {part.name!r}"
        if isinstance(part, Table):
            frame = _with_index(part.frame)
            args = [part.name, {"$frame": self.frame(frame.set_axis(
                [f"c{i}" for i in range(frame.shape[1])], axis=1)),
                "labels": [str(c) for c in frame.columns]}]
        else:
            args = [self.encode(a, where) for a in part._args()]
        return {"kind": part.kind, "args": args}


def _with_index(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a named or labelled index as its first column (a plain range is dropped)."""
    return df.reset_index(drop=isinstance(df.index, pd.RangeIndex) and df.index.name is None)


def _stored(field: str, values: Any) -> np.ndarray:
    """An array as stored: posterior draws as float32 (their Monte Carlo error is far above
    float32 rounding; the term tables are computed before and stored at full precision)."""
    arr = np.asarray(values)
    return arr.astype(np.float32) if field == "draws" and arr.dtype == np.float64 else arr


def write_results(results: list[EffectResult], folder: str | Path) -> list[str]:
    """Write ``results`` into the (existing, empty) ``folder``; return the file names written."""
    folder = Path(folder)
    w = _Writer(folder)
    entries, tables = [], []
    for i, r in enumerate(results):
        where = f"{r.method}/{r.estimand}"
        values = r.fields()
        entry = {k: w.encode(v, f"{where} {k}") for k, v in values.items()
                 if k not in ("table", "tests", "messages", "parts", "vcov", "draws")}
        for k in ("vcov", "draws"):
            entry[k] = None if values[k] is None else {"$array": w.array(_stored(k, values[k]))}
        entry["tests"] = [w.encode(dataclasses.asdict(t), f"{where} tests[{j}]")
                          for j, t in enumerate(r.tests)]
        entry["messages"] = [[m.text, m.severity] for m in r.messages]
        entry["parts"] = [w.part(p, where) for p in r.parts]
        tables.append(r.table.assign(**{_ROW: i}))
        entries.append(entry)
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({_ROW: []})
    table.to_parquet(folder / TABLES, engine="pyarrow", index=False)
    files = {name: sha256_file(folder / name) for name in [TABLES, *w.files]}
    doc = {"format": FORMAT, "version": VERSION, "results_format": RESULTS_FORMAT,
           "files": files, "results": entries}
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
        if len(tags) != 1:
            raise BundleError(f"untagged mapping {sorted(value)!r}")
        tag = tags[0]
        if tag == "$float":
            return float(value[tag])
        if tag == "$dict":
            return {str(k): self.decode(v) for k, v in value[tag]}
        if tag == "$array":
            return np.load(self._path(value[tag]), allow_pickle=False)
        if tag == "$frame":
            df = pd.read_parquet(self._path(value[tag]), engine="pyarrow")
            return df.set_axis([str(c) for c in value["labels"]], axis=1)
        raise BundleError(f"unknown tag {tag!r}")

    def part(self, entry: Any) -> Part:
        if not isinstance(entry, dict) or entry.get("kind") not in _PART_TYPES:
            raise BundleError(f"not a part: {str(entry)[:80]!r}")
        return _PART_TYPES[entry["kind"]](*[self.decode(a) for a in entry["args"]])


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
    if doc.get("version") != VERSION or doc.get("results_format") != RESULTS_FORMAT:
        raise BundleError(f"{path}: results format {doc.get('results_format')!r} (version "
                          f"{doc.get('version')!r}), expected {RESULTS_FORMAT}")
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
    special = ("tests", "messages", "parts")
    kwargs = {k: reader.decode(v) for k, v in entry.items() if k not in special}
    kwargs["tests"] = tuple(TestResult(**{k: tuple(v) if isinstance(v, list) else v
                                          for k, v in reader.decode(t).items()})
                            for t in entry.get("tests", []))
    kwargs["messages"] = tuple(Message(text, severity) for text, severity in entry["messages"])
    kwargs["parts"] = tuple(reader.part(p) for p in entry["parts"])
    rows = tables[tables[_ROW] == i].drop(columns=_ROW).reset_index(drop=True)
    kwargs["table"] = rows.astype({"term": str})
    return EffectResult(**kwargs)
