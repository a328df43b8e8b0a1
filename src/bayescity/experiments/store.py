"""The store of fitted models (``models/``): plain data, validated on load, never executed.

One folder per fit, ``<root>/<experiment>/<estimator id>-<key>/``, holding

* ``manifest.json`` -- what was fitted (method, resolved params, data hash, bayescity version,
  key), when, and the SHA-256 and size of every other file; its own checksum inside;
* a results bundle (:mod:`bayescity.results.plain`: JSON, Parquet, ``.npy``);
* ``posterior.nc`` -- the fit's ``arviz.InferenceData`` as netCDF, when it has one: float32
  draws, compressed, each draw once (estimands are in the results' draws), no pointwise
  log-likelihood (:mod:`bayescity.results.stored_posterior`).

:meth:`ModelStore.load` checks the manifest's schema, that its key is the key asked for and is
the hash of what it says was fitted, and every checksum, before reading a number. Anything
wrong -- a corrupt, truncated, altered, partial or foreign folder (an old pickle included) -- is a
miss reported with a :class:`StoreWarning`; the caller refits and :meth:`ModelStore.save`
replaces the folder. Folders are written under a hidden name and renamed into place in one
step, so a reader never sees half a fit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from ..results.effect import EffectResult
from ..results.stored_posterior import write_posterior
from ..results.plain import (BundleError, canonical_checksum, read_results, sha256_file,
                             verify_files, write_results)
from .artefacts import bayescity_version, fit_key, owned_name
from .paths import inside, is_slug, slug_problem

MANIFEST = "manifest.json"
POSTERIOR = "posterior.nc"
FORMAT = "bayescity-fit"
#: The name of an entry folder: estimator id, then the 16 hex digits of its key.
_ENTRY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*-[0-9a-f]{16}")


class StoreWarning(UserWarning):
    """A stored fit that cannot be trusted; it is refitted."""


class FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sha256: str
    size: int


class Manifest(BaseModel):
    """The schema of ``manifest.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    format: Literal["bayescity-fit"]
    version: Literal[1]
    key: str
    experiment: str
    estimator: str
    method: str
    params: dict[str, Any]
    data_hash: str
    bayescity_version: str
    created: str
    fit_seconds: float | None = None
    files: dict[str, FileEntry]
    posterior: str | None = None
    checksum: str


@dataclass(frozen=True)
class StoredFit:
    """A validated fit: where it lives, its manifest, its results and its posterior file."""

    path: Path
    manifest: Manifest
    results: list[EffectResult]
    posterior: Path | None


class ModelStore:
    """Fitted results kept under ``root/<experiment>/<estimator id>-<key>/`` for reuse."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def entry_dir(self, experiment: str, est_id: str, key: str) -> Path:
        """The folder of one fit, checked to lie inside the store (:func:`.paths.inside`)."""
        return inside(self.root, experiment, f"{est_id}-{key}")

    # ----------------------------------------------------------------- reading
    def load(self, experiment: str, est_id: str, key: str) -> StoredFit | None:
        """The stored fit, or None (a plain miss, or an untrustworthy folder with a warning)."""
        path = self.entry_dir(experiment, est_id, key)
        if not path.exists():
            return None
        try:
            return self.verify(path, key=key)
        except (BundleError, OSError) as exc:
            warnings.warn(f"stored fit {path} is not usable ({exc}); refitting {est_id!r}",
                          StoreWarning, stacklevel=2)
            return None

    def verify(self, path: str | Path, key: str | None = None) -> StoredFit:
        """Validate a store folder completely and read it; raise :class:`BundleError`."""
        path = Path(path)
        manifest = read_manifest(path)
        expected = key or path.name.rsplit("-", 1)[-1]
        recomputed = fit_key(manifest.method, manifest.params, manifest.data_hash,
                             manifest.bayescity_version)
        if not (manifest.key == expected == recomputed) or path.name != \
                f"{manifest.estimator}-{manifest.key}":
            raise BundleError("foreign entry: its key does not match what it says was fitted")
        listed = set(manifest.files) | {MANIFEST}
        extra = sorted(p.name for p in path.iterdir() if p.name not in listed)
        if extra:
            raise BundleError(f"unexpected files {extra} (not written by this store)")
        for name, entry in manifest.files.items():
            if (path / name).is_file() and (path / name).stat().st_size != entry.size:
                raise BundleError(f"{path / name}: size differs from the manifest (truncated?)")
        verify_files(path, {n: e.sha256 for n, e in manifest.files.items()})
        results = read_results(path)
        posterior = path / manifest.posterior if manifest.posterior else None
        return StoredFit(path, manifest, results, posterior)

    # ----------------------------------------------------------------- writing
    def save(self, experiment: str, est_id: str, key: str, results: list[EffectResult],
             meta: dict[str, Any], idata: Any = None) -> StoredFit:
        """Store a fit (and its InferenceData as netCDF); replaces an unusable folder.

        ``meta`` holds ``method``, ``params``, ``data_hash`` and optionally ``fit_seconds``.
        The stored fit's ``posterior`` is the netCDF file when ``idata`` is given; nothing
        stored records an absolute path, so a store folder can be moved.
        """
        final = self.entry_dir(experiment, est_id, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = inside(final.parent, owned_name("tmp", final.name))
        tmp.mkdir()
        try:
            if idata is not None:  # float32, each draw once, no log-likelihood
                write_posterior(idata, results, tmp / POSTERIOR)
            names = write_results(results, tmp)
            if idata is not None:
                names.append(POSTERIOR)
            manifest = _manifest(tmp, names, experiment, est_id, key, meta, idata is not None)
            _publish(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return StoredFit(final, manifest, results, final / POSTERIOR if idata is not None else None)

    # ----------------------------------------------------------------- listing
    def entries(self, experiment: str | None = None) -> list[Path]:
        """Every entry folder (optionally of one experiment), sorted: the folders named as
        the store names them (``<estimator id>-<16 hex digits>`` under an experiment name), so
        that a store pointed at the wrong folder lists, and prunes, nothing of someone else's."""
        if experiment is not None and (problem := slug_problem(experiment)) is not None:
            raise ValueError(f"experiment: {problem}")
        if not self.root.is_dir():
            return []
        exps = [inside(self.root, experiment)] if experiment else sorted(self.root.iterdir())
        return sorted(p for e in exps if e.is_dir() and is_slug(e.name)
                      for p in e.iterdir() if p.is_dir() and _ENTRY.fullmatch(p.name))

    def prune(self, *, older_than: float | None = None, experiment: str | None = None,
              invalid: bool = False, dry_run: bool = False) -> list[Path]:
        """Remove entries older than ``older_than`` seconds and/or of ``experiment`` and/or
        that fail validation (``invalid``); at least one filter must be given."""
        if older_than is None and experiment is None and not invalid:
            raise ValueError("prune: give an age, an experiment or invalid")
        now, gone = time.time(), []
        for path in self.entries(experiment):
            if older_than is not None and now - _created(path) < older_than:
                continue
            if invalid and _is_valid(self, path):
                continue
            gone.append(path)
            if not dry_run:
                _remove(inside(self.root, *path.relative_to(self.root).parts))
        return gone


def read_manifest(path: Path) -> Manifest:
    """The schema-checked manifest of a store folder; raise :class:`BundleError`."""
    file = path / MANIFEST
    if not file.is_file():
        old = " (an old pickle-format entry; never loaded)" if (path / "results.pkl").exists() else ""
        raise BundleError(f"no {MANIFEST}{old}")
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
        manifest = Manifest.model_validate(doc)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(f"{file}: not valid JSON ({exc})") from None
    except ValidationError as exc:
        raise BundleError(f"{file}: not a {FORMAT} manifest ({exc.error_count()} schema errors)"
                          ) from None
    if manifest.checksum != canonical_checksum(doc):
        raise BundleError(f"{file}: content does not match its checksum (altered?)")
    return manifest


def _manifest(folder: Path, names: list[str], experiment: str, est_id: str, key: str,
              meta: dict[str, Any], has_posterior: bool) -> Manifest:
    files = {n: {"sha256": sha256_file(folder / n), "size": (folder / n).stat().st_size}
             for n in names}
    doc = {"format": FORMAT, "version": 1, "key": key, "experiment": experiment,
           "estimator": est_id, "method": meta["method"], "params": _jsonable(meta["params"]),
           "data_hash": meta["data_hash"], "bayescity_version": bayescity_version(),
           "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "fit_seconds": meta.get("fit_seconds"), "files": files,
           "posterior": POSTERIOR if has_posterior else None}
    doc["checksum"] = canonical_checksum(doc)
    (folder / MANIFEST).write_text(json.dumps(doc, indent=1, allow_nan=False), encoding="utf-8")
    return Manifest.model_validate(doc)


def _jsonable(obj: Any) -> Any:
    """Params as stored in the manifest: what JSON keeps of them (tuples become lists)."""
    return json.loads(json.dumps(obj, default=str))


def _publish(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``; an existing (unusable or concurrent) folder is replaced."""
    if final.exists():
        trash = inside(final.parent, owned_name("trash", final.name))
        try:
            os.replace(final, trash)
        except FileNotFoundError:
            trash = None
        os.replace(tmp, final)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return
    os.replace(tmp, final)


def _created(path: Path) -> float:
    try:
        stamp = read_manifest(path).created
        return datetime.fromisoformat(stamp).timestamp()
    except (BundleError, ValueError):
        return path.stat().st_mtime


def _is_valid(store: ModelStore, path: Path) -> bool:
    try:
        store.verify(path)
    except BundleError:
        return False
    return True


def _remove(path: Path) -> None:
    trash = inside(path.parent, owned_name("trash", path.name))
    os.replace(path, trash)
    shutil.rmtree(trash, ignore_errors=True)
