"""Provenance and run folders: data hashes, fit keys, run ids, staged publication, stale cleanup.

Folders that are being written carry a hidden name that records the writer
(``.staging-<label>.<host>.<pid>.<random>``); they become visible with one atomic rename when
complete, so a killed run (Ctrl-C, ``kill -9``, a power cut) never leaves a complete-looking
folder. The next run removes the hidden folders whose writer is gone (:func:`remove_stale`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Iterator

import pandas as pd

from ..data.panel import Panel
from ..results import plain
from .paths import inside

VERSIONED_PACKAGES = ("bayescity", "numpy", "pandas", "scipy", "pyfixest", "xarray", "pydantic",
                      "arviz", "pymc", "econml")
#: Hidden folders of writers on another host are left alone for this long (seconds).
FOREIGN_STALE_AFTER = 24 * 3600
_OWNED = re.compile(r"^\.(?P<kind>staging|tmp|trash)-.*\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)"
                    r"\.[0-9a-f]{8}$")


def data_hash(panel: Panel) -> str:
    """A SHA-256 of the panel's content and column roles."""
    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(panel.frame, index=False).to_numpy().tobytes())
    h.update("|".join(map(str, panel.frame.columns)).encode())
    roles = [panel.unit, panel.time, panel.outcome, *panel.covariates, "#", *panel.traits,
             "#", str(panel.cluster)]
    h.update("|".join(roles).encode())
    return h.hexdigest()


def files_hash(dhash: str, params: Any) -> str:
    """``dhash`` combined with the SHA-256 of every file a parameter names (a neighbours file,
    also inside a wrapper's ``estimator_params``): a fit that reads a file is refitted when the
    file's content changes, not only when its path does. ``dhash`` itself when none does."""
    files = sorted(_named_files(params))
    if not files:
        return dhash
    h = hashlib.sha256(dhash.encode())
    for path in files:
        h.update(path.encode() + b"\0" + plain.sha256_file(path).encode())
    return h.hexdigest()


def _named_files(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if len(value) < 4096 and Path(value).is_file() else set()
    if isinstance(value, dict):
        return set().union(*(_named_files(v) for v in value.values()))
    if isinstance(value, (list, tuple)):
        return set().union(*(_named_files(v) for v in value))
    return set()


def package_versions() -> dict[str, str]:
    out = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def bayescity_version() -> str:
    return metadata.version("bayescity")


def fit_key(method: str, params: dict[str, Any], dhash: str, version: str | None = None) -> str:
    """The store key of one fit: a hash of method, resolved parameters, data, the bayescity
    version (the running one unless ``version`` is given, as when a stored key is checked) and
    the results format (:data:`bayescity.results.plain.RESULTS_FORMAT`, always the running
    one: a fit stored in another format never matches)."""
    blob = json.dumps({"method": method, "params": params, "data": dhash,
                       "version": version or bayescity_version(),
                       "results_format": plain.RESULTS_FORMAT}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def config_hash(config_dict: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config_dict, sort_keys=True, default=str).encode()).hexdigest()


def new_run_id(config_hash: str) -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{config_hash[:8]}"


# --------------------------------------------------------------------------- hidden folders
def _host() -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname()) or "host"


def owned_name(kind: str, label: str) -> str:
    """A hidden folder name recording this process as its writer (``kind``: staging/tmp/trash)."""
    return f".{kind}-{label}.{_host()}.{os.getpid()}.{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(path: Path, now: float | None = None) -> bool:
    """True for a hidden folder whose writer is gone: a dead process on this host, or a writer
    on another host that has not touched it for :data:`FOREIGN_STALE_AFTER` seconds."""
    m = _OWNED.match(path.name)
    if m is None:
        return False
    if m["host"] == _host():
        return int(m["pid"]) != os.getpid() and not _alive(int(m["pid"]))
    try:
        age = (now or time.time()) - path.stat().st_mtime
    except FileNotFoundError:
        return False
    return age > FOREIGN_STALE_AFTER


def remove_stale(*roots: str | Path) -> list[Path]:
    """Remove stale hidden folders directly under each ``root/<name>/``; return what went."""
    removed = []
    for root in map(Path, roots):
        if not root.is_dir():
            continue
        for parent in [root, *(p for p in root.iterdir() if p.is_dir())]:
            for path in parent.glob(".*-*"):
                if path.is_dir() and is_stale(path):
                    inside(root, *path.relative_to(root).parts)
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
    return removed


# --------------------------------------------------------------------------- run folders
class RunDir:
    """A run folder staged under a hidden name; ``final`` is set once it has been published."""

    def __init__(self, staging: Path):
        self.staging = staging
        self.final: Path | None = None


@contextmanager
def staged_run_dir(reports_root: str | Path, experiment: str, run_id: str) -> Iterator[RunDir]:
    """Yield a :class:`RunDir` whose staging folder becomes ``reports_root/experiment/run_id``
    only on success.

    An existing run folder is never overwritten (a suffix is added); on any error, Ctrl-C
    included, the staging folder is removed, so a failed run leaves nothing behind.
    """
    parent = inside(reports_root, experiment)
    staging = inside(reports_root, experiment, owned_name("staging", run_id))
    created_parent = not parent.exists()
    parent.mkdir(parents=True, exist_ok=True)
    run = RunDir(staging)
    run.staging.mkdir()
    try:
        yield run
    except BaseException:
        shutil.rmtree(run.staging, ignore_errors=True)
        if created_parent and not any(parent.iterdir()):
            parent.rmdir()
        raise
    final, n = inside(reports_root, experiment, run_id), 1
    while final.exists():
        n += 1
        final = inside(reports_root, experiment, f"{run_id}-{n}")
    os.replace(run.staging, final)
    run.final = final
