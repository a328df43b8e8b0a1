"""``bayescity models list|show|prune``: look after the model store."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .common import App, err, fail, out

app = App(no_args_is_help=True, help="List, inspect and prune the stored fits (models/).")
_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
ROOT = typer.Option("models", "--models", help="fitted-model store")


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w`` in seconds; raise ConfigError."""
    from ..experiments.config import ConfigError

    m = _AGE.match(text.strip())
    if m is None:
        raise ConfigError(f"--older-than: {text!r} is not an age like 30d, 12h, 90m or 2w")
    return float(m[1]) * _UNITS[m[2]]


def check_experiment(name: str | None) -> None:
    """``--experiment``: an experiment name as a config gives it (a folder of the store, never a
    path that leads out of it); raise ConfigError."""
    from ..experiments.config import ConfigError
    from ..experiments.paths import slug_problem

    if name is not None and (problem := slug_problem(name)) is not None:
        raise ConfigError(f"--experiment: {problem}")


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return f"{total / 1e6:.1f} MB" if total >= 1e5 else f"{total / 1e3:.0f} kB"


@app.command("list")
def list_(models_dir: str = ROOT,
          experiment: Optional[str] = typer.Option(None, help="only this experiment")) -> None:
    """One line per stored fit: experiment, estimator, method, key, created, size, posterior."""
    from ..experiments.store import ModelStore, read_manifest
    from ..results.plain import BundleError

    try:
        check_experiment(experiment)
    except Exception as exc:  # noqa: BLE001 - mapped to exit codes
        fail(exc)
    table = Table(title=f"stored fits in {models_dir}", title_justify="left", highlight=False)
    for col in ("experiment", "estimator", "method", "key", "created", "size", "posterior"):
        table.add_column(col)
    for path in ModelStore(models_dir).entries(experiment):
        try:
            m = read_manifest(path)
            row = [m.experiment, m.estimator, m.method, m.key, m.created, _size(path),
                   "yes" if m.posterior else ""]
        except BundleError as exc:
            row = [path.parent.name, path.name, f"[red]invalid: {exc}[/]", "", "", _size(path), ""]
        table.add_row(*row)
    out.print(table)


@app.command("show")
def show(entry: str = typer.Argument(..., help="a fit folder, or a key (prefix) from `list`"),
         models_dir: str = ROOT) -> None:
    """Validate one stored fit completely and print what it holds."""
    from ..experiments.store import ModelStore
    from ..results.compare import compare
    from ..results.plain import BundleError

    store = ModelStore(models_dir)
    path = Path(entry) if entry.strip() and Path(entry).is_dir() else _find(store, entry)
    try:
        fit = store.verify(path)
    except (BundleError, OSError) as exc:
        err.print(f"[red]invalid:[/] {path}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    m = fit.manifest
    for label, value in (("folder", path), ("experiment", m.experiment), ("estimator", m.estimator),
                         ("method", m.method), ("key", m.key), ("created", m.created),
                         ("fit seconds", m.fit_seconds), ("bayescity", m.bayescity_version),
                         ("data hash", m.data_hash), ("params", m.params),
                         ("posterior", fit.posterior or "-"), ("checksums", "all verified")):
        out.print(f"{label + ':':<13} {value}", highlight=False, soft_wrap=True)
    cols = ["estimand", "term", "estimate", "std_error", "lower", "upper", "interval_kind"]
    out.print(compare(fit.results)[cols].to_string(index=False), highlight=False)


def _find(store, key: str) -> Path:
    from ..experiments.config import ConfigError

    if not key.strip():
        fail(ConfigError("models show: give a key (prefix) from `models list`, or a fit folder"))
    hits = [p for p in store.entries() if p.name.rsplit("-", 1)[-1].startswith(key)]
    if len(hits) != 1:
        fail(ConfigError(f"models show: {len(hits)} stored fits match {key!r}; "
                         "give a longer key or the folder"))
    return hits[0]


@app.command("prune")
def prune(models_dir: str = ROOT,
          older_than: Optional[str] = typer.Option(None, help="age such as 30d, 12h, 2w"),
          experiment: Optional[str] = typer.Option(None, help="only this experiment"),
          invalid: bool = typer.Option(False, "--invalid", help="fits that fail validation"),
          dry_run: bool = typer.Option(False, "--dry-run", help="list, remove nothing")) -> None:
    """Remove stored fits by age, by experiment and/or because they fail validation."""
    from ..experiments.artefacts import remove_stale
    from ..experiments.config import ConfigError
    from ..experiments.figure_store import FigureStore
    from ..experiments.store import ModelStore

    if older_than is None and experiment is None and not invalid:
        fail(ConfigError("models prune: give --older-than, --experiment and/or --invalid"))
    try:
        check_experiment(experiment)
        age = parse_age(older_than) if older_than is not None else None
        gone = ModelStore(models_dir).prune(older_than=age, experiment=experiment,
                                            invalid=invalid, dry_run=dry_run)
    except Exception as exc:  # noqa: BLE001
        fail(exc)
    figures = [] if age is None else FigureStore(models_dir).prune(age, dry_run)
    stale = [] if dry_run else remove_stale(models_dir)
    verb = "would remove" if dry_run else "removed"
    for path in gone:
        out.print(f"{verb} {path}", highlight=False, soft_wrap=True)
    out.print(f"{verb} {len(gone)} stored fit(s)" + (f" and {len(stale)} stale temporary "
              "folder(s)" if stale else "") + (f"; {len(figures)} rendered figure(s)"
                                               if figures else ""), highlight=False)
