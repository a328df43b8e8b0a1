"""Provenance and storage: data hashes, the fitted-model store in ``models/`` and run folders."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from ..data.panel import Panel
from ..results.effect import EffectResult

VERSIONED_PACKAGES = ("bayescity", "numpy", "pandas", "scipy", "pyfixest", "xarray", "pydantic")


def data_hash(panel: Panel) -> str:
    """A SHA-256 of the panel's content and column roles."""
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(panel.frame, index=False).to_numpy().tobytes())
    h.update("|".join(map(str, panel.frame.columns)).encode())
    roles = [panel.unit, panel.time, panel.outcome, *panel.covariates, "#", *panel.traits,
             "#", str(panel.cluster)]
    h.update("|".join(roles).encode())
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def fit_key(method: str, params: dict[str, Any], dhash: str) -> str:
    """The store key of one fit: a hash of method, resolved parameters, data and package version."""
    blob = json.dumps({"method": method, "params": params, "data": dhash,
                       "version": metadata.version("bayescity")}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class ModelStore:
    """Fitted results kept under ``root/<experiment>/<estimator id>-<key>/`` for reuse across runs."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _dir(self, experiment: str, est_id: str, key: str) -> Path:
        return self.root / experiment / f"{est_id}-{key}"

    def load(self, experiment: str, est_id: str, key: str) -> list[EffectResult] | None:
        path = self._dir(experiment, est_id, key) / "results.pkl"
        if not path.exists():
            return None
        with path.open("rb") as fh:
            return pickle.load(fh)

    def save(self, experiment: str, est_id: str, key: str, results: list[EffectResult],
             meta: dict[str, Any]) -> Path:
        final = self._dir(experiment, est_id, key)
        tmp = final.with_name(final.name + f".tmp-{uuid.uuid4().hex[:8]}")
        tmp.mkdir(parents=True)
        with (tmp / "results.pkl").open("wb") as fh:
            pickle.dump(results, fh)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
        if final.exists():
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, final)
        return final


def new_run_id(config_hash: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config_hash[:8]}"


class RunDir:
    """A run folder staged under a hidden name; ``final`` is set once it has been published."""

    def __init__(self, staging: Path):
        self.staging = staging
        self.final: Path | None = None


@contextmanager
def staged_run_dir(reports_root: str | Path, experiment: str, run_id: str) -> Iterator[RunDir]:
    """Yield a :class:`RunDir` whose staging folder becomes ``reports_root/experiment/run_id``
    only on success.

    An existing run folder is never overwritten (a suffix is added); on any error the staging
    folder is removed, so a failed run leaves nothing behind.
    """
    parent = Path(reports_root) / experiment
    created_parent = not parent.exists()
    parent.mkdir(parents=True, exist_ok=True)
    run = RunDir(parent / f".staging-{run_id}-{uuid.uuid4().hex[:8]}")
    run.staging.mkdir()
    try:
        yield run
    except BaseException:
        shutil.rmtree(run.staging, ignore_errors=True)
        if created_parent and not any(parent.iterdir()):
            parent.rmdir()
        raise
    final, n = parent / run_id, 1
    while final.exists():
        n += 1
        final = parent / f"{run_id}-{n}"
    os.replace(run.staging, final)
    run.final = final


def config_hash(config_dict: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config_dict, sort_keys=True, default=str).encode()).hexdigest()
