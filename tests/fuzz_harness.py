"""Property-based fuzzing of the command line: generated configs and arguments, run in-process.

Every command of :data:`COMMANDS` is an entry: a strategy of :class:`Case` s (the argument list,
the files to write first, what the case changes and which folders it may write) and optional
checks of its own. :func:`check_case` runs one case through the CLI (typer's ``CliRunner``, in
this process) in a fresh example folder and holds what every command promises:

* exit 0 or 2 -- never 1 (a crash), never an escaped exception;
* no traceback, no exception class name, no pydantic wording in what is printed;
* no file created, changed or removed outside the folders the case may write (``--out``,
  ``--models`` or the default folders; the target of ``tfp --out``; the run folder ``report``
  re-renders), the shared inputs included;
* no hidden staging or temporary folder left behind, no run folder unless the run succeeded,
  and every run folder and stored fit complete and valid;
* a case known to be a user mistake exits 2; an exit 2 names one of the keys (or values) the
  case changed, in the config's words; a parameter error names its estimator and method once.

Configs are generated from the schema (:mod:`fuzz_configs`): every top-level field, data role
and estimator field gets valid and invalid values (types, bounds, names, unicode, empty lists,
duplicate ids, missing columns), and every estimator parameter gets values from what its
method declares (:func:`fuzz_configs.method_params`). Cases with a certain mistake exit 2,
mostly when the config is read (cheap); cases without one run with ``--smoke`` on a small
panel (24 units, 6 years) written to a temporary folder.

Adding a command is one entry in :data:`COMMANDS`: a strategy of cases given ``valid``
(:mod:`fuzz_cases`), and the checks of its own.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
import yaml
from hypothesis import strategies as st
from typer.testing import CliRunner

from bayescity.cli import app
from bayescity.experiments.store import ModelStore
from fuzz_cases import (Case, calibrate_cases, data_check_cases, methods_cases, models_cases,
                        report_cases, run_cases, sweep_cases, tfp_cases)
from fuzz_configs import BASE_DATA, make_panel

runner = CliRunner()


@dataclass
class Workspace:
    """Shared inputs under ``root/data`` (never to be changed) and, per example, a fresh
    ``root/ex`` folder to run in; ``run_dir`` and ``store`` are a finished run and its fits."""

    root: Path
    run_dir: Path | None = None
    store: Path | None = None

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def ex(self) -> Path:
        return self.root / "ex"

    @property
    def figures(self) -> Path:
        """The figures the finished run drew (those of the panel are shared by every run)."""
        return self.store / ".figures"


def make_workspace(root: Path) -> Workspace:
    ws = Workspace(root)
    ws.data.mkdir(parents=True)
    panel = make_panel()
    panel.to_csv(ws.data / "panel.csv", index=False)
    panel.to_parquet(ws.data / "panel.parquet", index=False)
    (ws.data / "notes.txt").write_text("not a table\n", encoding="utf-8")
    units = sorted(panel["unit"].unique())
    pd.DataFrame({"unit": units, "neighbour": units[1:] + units[:1]}).to_csv(
        ws.data / "neighbours.csv", index=False)
    (ws.data / "latin1.csv").write_bytes("unit,year,y\nü,2000,1\n".encode("latin-1"))
    (ws.data / "folder.csv").mkdir()
    return ws


def prepare_artefacts(ws: Workspace) -> None:
    """One finished run (``ws.run_dir``) and its store (``ws.store``) for report and models."""
    base = ws.root / "artefacts"
    base.mkdir()
    cfg = {"name": "toy", "seed": 1, "data": dict(BASE_DATA, source=str(ws.data / "panel.csv")),
           "estimators": [{"id": "twfe", "method": "twfe", "params": {"by": "region"}},
                          {"id": "es", "method": "event_study"}]}
    (base / "toy.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    res = runner.invoke(app, ["run", str(base / "toy.yaml"), "--smoke", "--out",
                              str(base / "out"), "--models", str(base / "models")])
    assert res.exit_code == 0, res.output
    (ws.run_dir,) = [p for p in (base / "out" / "toy").iterdir()]
    ws.store = base / "models"


# --------------------------------------------------------------------------- checks
_CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback|pydantic|<class '"
                         r"|object at 0x|\bnp\.[a-z]+\d*\(")
_HIDDEN = re.compile(r"^\.(staging|tmp|trash)-")


def snapshot(root: Path, skip: set[Path]) -> dict[str, tuple[int, int]]:
    """Every file (size, mtime) and folder under ``root``, not entering those in ``skip``."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if (here / d) not in skip]
        for name in dirs:
            seen[str((here / name).relative_to(root))] = (-1, 0)
        for name in files:
            if here / name in skip:
                continue
            st_ = (here / name).lstat()
            seen[str((here / name).relative_to(root))] = (st_.st_size, st_.st_mtime_ns)
    return seen


def _materialise(ws: Workspace, case: Case) -> None:
    shutil.rmtree(ws.ex, ignore_errors=True)
    (ws.ex / "in").mkdir(parents=True)
    for dest, source in case.copies.items():
        shutil.copytree(getattr(ws, source), ws.ex / dest)
    for rel, content in case.files.items():
        path = ws.ex / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            path.unlink(missing_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def _resolve_placeholders(ws: Workspace, args: list[str]) -> list[str]:
    if ws.store is None or not any("KEY" in a or "ENTRY" in a for a in args):
        return args
    entry = sorted((ws.ex / "models" / "toy").glob("twfe-*"))[0].name
    key = entry.rsplit("-", 1)[1]
    return [a.replace("ENTRY", entry).replace("KEY8", key[:8]).replace("KEY", key)
            for a in args]


def invoke(ws: Workspace, case: Case):
    """Run ``case`` in a fresh example folder; return the result and what changed outside."""
    _materialise(ws, case)
    writable = {(ws.ex / w).resolve() if w else ws.ex for w in case.writes}
    writable = {w for w in writable if w != ws.ex}
    before = snapshot(ws.root, writable)
    args = _resolve_placeholders(ws, case.args)
    with contextlib.chdir(ws.ex):
        result = runner.invoke(app, args, catch_exceptions=True)
    after = snapshot(ws.root, writable)
    parents = {p for w in writable for p in w.parents}  # created on the way to a folder
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)
                     and not (after.get(k) == (-1, 0) and (ws.root / k).resolve() in parents))
    return args, result, changed


#: (command, exit code, seconds) of every case checked in this process, for the slow study.
RECORD: list[tuple[str, int, float]] = []


def check_case(ws: Workspace, case: Case) -> None:
    """Run one case and assert what every command promises (module docstring)."""
    start = time.perf_counter()
    args, result, changed = invoke(ws, case)
    RECORD.append((case.kind, result.exit_code, time.perf_counter() - start))
    output = result.output
    where = f"\nargs: {args}\nchanges: {case.changes}\noutput:\n{output}"
    if case.files.get("in/config.yaml") is not None:
        where += f"\nconfig:\n{case.files['in/config.yaml']!r}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"escaped exception {result.exception!r}{where}") \
            from result.exception
    assert result.exit_code in (0, 2), f"exit {result.exit_code}{where}"
    assert not _CLASS_NAME.search(output), f"raw exception text{where}"
    assert not changed, f"written outside its folders: {changed[:8]}{where}"
    _check_folders(ws, case, result.exit_code, where)
    if any(c.invalid for c in case.changes):
        assert result.exit_code == 2, f"a mistake was accepted{where}"
    if result.exit_code == 2 and case.changes:
        words = {w for c in case.changes for w in c.words}
        assert any(w in output for w in words), f"error does not name {sorted(words)}{where}"
    for m in re.finditer(r"estimator '([^']+)' \(([^)]+)\): (.*)", output):
        est_id, method, rest = m.groups()
        assert not rest.startswith(f"{method}:") and f"estimator '{est_id}'" not in rest, \
            f"method or estimator named twice{where}"
    for check in COMMANDS[case.kind].checks:
        check(ws, case, result, where)


def _check_folders(ws: Workspace, case: Case, code: int, where: str) -> None:
    for w in case.writes:
        top = ws.ex / w
        if not top.is_dir():
            continue
        for folder, dirs, _ in os.walk(top):
            hidden = [d for d in dirs if _HIDDEN.match(d)]
            assert not hidden, f"left behind: {Path(folder) / hidden[0]}{where}"


#: The files a complete run, sweep or calibration folder holds.
FOLDER_FILES = {"run": ("results.csv", "config.lock.yaml", "report.html", "fits/index.json",
                        "comparison.csv"),
                "sweep": ("sweep.csv", "grid.yaml"),
                "calibrate": ("calibration.csv", "replications.csv", "report.html",
                              "config.lock.yaml")}


def _run_folders(ws: Workspace, case: Case, result, where: str) -> None:
    """A run, sweep or calibration writes one complete folder when it succeeds and none when
    it fails; every stored fit it leaves is valid."""
    out = ws.ex / case.writes[0] if case.writes else None
    runs = [p for p in out.glob("*/*") if p.is_dir()] if out is not None and out.is_dir() else []
    if result.exit_code != 0:
        assert not runs, f"a failed {case.kind} left {runs}{where}"
        return
    assert len(runs) == 1, f"{len(runs)} run folders{where}"
    for name in FOLDER_FILES[case.kind]:
        assert (runs[0] / name).is_file(), f"run folder lacks {name}{where}"
    store = ModelStore(ws.ex / case.writes[1]) if len(case.writes) > 1 else None
    for entry in store.entries() if store is not None else []:
        store.verify(entry)


def _tfp_target(ws: Workspace, case: Case, result, where: str) -> None:
    target = case.args[case.args.index("--out") + 1]
    if result.exit_code == 0:
        assert (ws.ex / target).is_file(), f"no table written{where}"
    elif target == "out/existing.csv":
        assert (ws.ex / target).read_text() == "old\n", f"existing file changed{where}"


def _report_written(ws: Workspace, case: Case, result, where: str) -> None:
    if result.exit_code == 0:
        for name in ("report.html", "comparison.csv", "tables/main_results.md"):
            assert (ws.ex / "run" / name).is_file(), f"report lacks {name}{where}"


def _store_valid(ws: Workspace, case: Case, result, where: str) -> None:
    """What ``models`` leaves of the store is what it found, less what it pruned: the valid
    fits stay valid."""
    store = ModelStore(ws.ex / "models")
    for entry in store.entries():
        if not entry.name.startswith("broken-"):
            store.verify(entry)


@dataclass(frozen=True)
class Command:
    """A command to fuzz: its cases (``valid``: without a certain mistake) and the checks of
    its own, run after those every command shares."""

    cases: Callable[[bool], st.SearchStrategy[Case]]
    checks: tuple[Callable[..., None], ...] = ()


COMMANDS: dict[str, Command] = {
    "run": Command(run_cases, (_run_folders,)),
    "sweep": Command(sweep_cases, (_run_folders,)),
    "calibrate": Command(calibrate_cases, (_run_folders,)),
    "data check": Command(data_check_cases),
    "tfp": Command(tfp_cases, (_tfp_target,)),
    "report": Command(report_cases, (_report_written,)),
    "models": Command(models_cases, (_store_valid,)),
    "methods": Command(methods_cases),
}

