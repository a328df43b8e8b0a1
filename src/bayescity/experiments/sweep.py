"""Sweeps: one config run under every combination of a grid of changes, collected in one table.

A grid key addresses any path of the config, dots between the levels; an estimator is
addressed by its id, and keys below ``params`` (or ``smoke``) may name nested dictionaries::

    seed=1,2,3
    data.outcome=tfp_growth,tfp_level
    estimators.cs_dr.params.control_group=never_treated,not_yet_treated
    estimators.bayes.params.priors.trait=0.1,1,10

Values are YAML scalars (``1``, ``0.5``, ``true``, ``null``, text) or YAML lists in brackets
(``data.covariates=[x1,x2],[x1]``). A config may hold its default grid under ``sweep: grid:``;
``--grid`` options replace the keys they name. Every variant is validated (config, data,
column parameters) before anything is fitted. Fits go through the model store, so variants
that share an estimator reuse its fit. Variants run on the chosen executor (serial, local
processes, Dask); each carries its seeds, so the table is the same wherever it ran.
"""

from __future__ import annotations

import copy
import itertools
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..data.errors import PanelError
from ..data.io import write_csv
from ..progress import track
from ..results.compare import compare
from . import artefacts as art
from .config import ConfigError, ExperimentConfig, parse_config, read_raw
from .grid import GridError, cell, set_path
from .executors import ExecutorSpec, open_executor
from .paths import check_roots
from .runner import check_column_params, fit_estimators, load_experiment_panel, prepare
from .figure_store import FigureStore
from .store import ModelStore
from ..reports.sweep import write_sweep_report
from ..parallel import use_executor

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def split_values(text: str) -> list[str]:
    """Split ``v1,v2`` at top-level commas (commas inside brackets or braces stay)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p.strip() for p in [*parts, cur] if p.strip()]


def parse_value(text: str) -> Any:
    value = yaml.safe_load(text)
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value)
    return value


def parse_grid(specs: list[str]) -> dict[str, list[Any]]:
    """``["key=v1,v2", ...]`` as ``{key: [v1, v2]}``; raise :class:`GridError`."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key or not split_values(values):
            raise GridError(f"--grid {spec!r}: write KEY=VALUE1,VALUE2 (e.g. seed=1,2,3)")
        try:
            grid[key] = [parse_value(v) for v in split_values(values)]
        except yaml.YAMLError as exc:
            raise GridError(f"--grid {spec!r}: a value is not valid YAML ({exc})") from None
    return grid


@dataclass(frozen=True)
class VariantTask:
    """One variant, as plain data a worker process or cluster can run."""

    index: int
    assignment: dict[str, Any]
    raw: dict[str, Any]
    config_path: str
    models_root: str
    smoke: bool = False
    refit: bool = False
    inner: ExecutorSpec = field(default_factory=ExecutorSpec)


def variants(config_path: str | Path, grid: dict[str, list[Any]]
             ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every (assignment, config mapping) of the grid, validated; the first key varies slowest.
    A variant's mapping leaves out the ``sweep:`` section (checked once, here)."""
    base = read_raw(config_path)
    parse_config(base, config_path)
    base = {k: v for k, v in base.items() if k != "sweep"}
    out = []
    for combo in itertools.product(*grid.values()):
        assignment = dict(zip(grid, combo))
        raw = copy.deepcopy(base)
        for key, value in assignment.items():
            set_path(raw, key, value)
        out.append((assignment, raw))
    return out


def _describe(assignment: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in assignment.items())


def check_variants(config_path: str | Path, found: list[tuple[dict, dict]]
                   ) -> list[ExperimentConfig]:
    """Validate every variant's config and data before any fit; raise one ConfigError."""
    configs, panels = [], {}
    for assignment, raw in found:
        try:
            config = parse_config(raw, config_path)
            data_key = config.data.model_dump_json()
            if data_key not in panels:
                panels[data_key] = load_experiment_panel(config)
            check_column_params(config, panels[data_key])
        except (ConfigError, PanelError) as exc:
            raise ConfigError(f"sweep variant {_describe(assignment)}: {exc}") from None
        configs.append(config)
    return configs


def run_variant(task: VariantTask) -> pd.DataFrame:
    """Fit one variant (reusing stored fits) and return its results with the grid columns."""
    config = parse_config(task.raw, task.config_path)
    config, panel, seeds = prepare(config)
    with open_executor(task.inner) as pool, use_executor(pool):
        fits = fit_estimators(config, panel, seeds, ModelStore(task.models_root),
                              smoke=task.smoke, refit=task.refit)
    table = compare(fits.results)
    grid_cols = {k: [cell(v)] * len(table) for k, v in task.assignment.items()}
    return pd.concat([pd.DataFrame(grid_cols), table.assign(variant=task.index)
                      .pipe(lambda t: t[["variant", *[c for c in t.columns if c != "variant"]]])],
                     axis=1)


@dataclass
class SweepOutcome:
    table: pd.DataFrame
    folder: Path
    grid: dict[str, list[Any]]
    seconds: float


def resolve_grid(config_path: str | Path, specs: list[str]) -> dict[str, list[Any]]:
    """The config's ``sweep: grid:`` updated by the ``--grid`` options."""
    config = parse_config(read_raw(config_path), config_path)
    grid = dict(config.sweep.grid) if config.sweep else {}
    grid.update(parse_grid(specs))
    if not grid:
        raise GridError("no grid: give --grid KEY=V1,V2 (or a `sweep: grid:` in the config)")
    return grid


def run_sweep(config_path: str | Path, specs: list[str], *, reports_root: str | Path = "reports",
              models_root: str | Path = "models", smoke: bool = False, refit: bool = False,
              executor: ExecutorSpec | None = None) -> SweepOutcome:
    """Run every variant and publish ``<reports_root>/<name>/sweep-<id>/`` with ``sweep.csv``
    (one column per grid key, then ``variant`` and the results columns), ``grid.yaml`` and
    ``report.html`` (:mod:`bayescity.reports.sweep`)."""
    check_roots(reports_root, models_root)
    grid = resolve_grid(config_path, specs)
    found = variants(config_path, grid)
    configs = check_variants(config_path, found)
    spec = executor or ExecutorSpec()
    inner = ExecutorSpec("dask") if spec.kind == "dask" else ExecutorSpec()
    models_abs = str(Path(models_root).resolve())
    tasks = [VariantTask(i, a, raw, str(Path(config_path).resolve()), models_abs, smoke, refit,
                         inner) for i, (a, raw) in enumerate(found)]
    art.remove_stale(reports_root, models_root)
    name = configs[0].name
    sweep_id = "sweep-" + art.new_run_id(art.config_hash({"grid": grid, "smoke": smoke,
                                                         "raw": [r for _, r in found]}))
    start = time.perf_counter()
    with art.staged_run_dir(reports_root, name, sweep_id) as run:
        if spec.kind == "serial":
            tables = [run_variant(t) for t in track(tasks, "variants")]
        else:
            with open_executor(spec) as pool:
                tables = pool.map(run_variant, tasks)
        table = pd.concat(tables, ignore_index=True)
        write_csv(table, run.staging / "sweep.csv")
        doc = {"name": name, "sweep_id": sweep_id, "config": str(Path(config_path).resolve()), "smoke": smoke,
               "grid": {k: [cell(v) for v in vs] for k, vs in grid.items()},
               "variants": [{"variant": t.index, **{k: cell(v) for k, v in t.assignment.items()}}
                            for t in tasks]}
        (run.staging / "grid.yaml").write_text(yaml.safe_dump(doc, sort_keys=False,
                                                              allow_unicode=True),
                                               encoding="utf-8")
        write_sweep_report(run.staging, FigureStore(models_root))
    return SweepOutcome(table, run.final, grid, time.perf_counter() - start)

