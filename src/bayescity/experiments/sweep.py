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
from .executors import ExecutorSpec, open_executor
from .paths import check_roots
from .runner import check_column_params, fit_estimators, load_experiment_panel, prepare
from .store import ModelStore

_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class GridError(ConfigError):
    """A grid that cannot be applied to the config (exit 2)."""


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


def set_path(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` (dotted path; ``estimators.<id>`` selects by id, an id with dots included)
    in the config mapping."""
    parts = key.split(".")
    node: Any = raw
    depth = 0
    while depth < len(parts) - 1:
        part = parts[depth]
        if isinstance(node, list):
            node, depth = _by_id(node, parts, depth, key)
            continue
        if not isinstance(node, dict):
            raise GridError(f"grid key {key!r}: {'.'.join(parts[:depth])!r} is not a mapping")
        nested = depth > 0 and parts[0] == "estimators"
        if part not in node and not nested:
            raise GridError(f"grid key {key!r}: the config has no {'.'.join(parts[:depth + 1])!r}")
        node = node.setdefault(part, {})
        depth += 1
    if not isinstance(node, dict):
        raise GridError(f"grid key {key!r}: {'.'.join(parts[:-1])!r} is not a mapping")
    node[parts[-1]] = value


def check_grid(raw: dict[str, Any], grid: dict[str, list[Any]], path: str | Path) -> None:
    """Raise a :class:`GridError` (in the config's words) for a ``sweep: grid:`` key that
    addresses nothing in the config ``raw`` or a value that makes it invalid, each key changed
    alone; combinations of keys and the data are checked when the sweep runs."""
    head = f"invalid config {str(path)!r}:\n  - sweep.grid: "
    base = {k: v for k, v in raw.items() if k != "sweep"}
    for key, values in grid.items():
        for value in values:
            variant = copy.deepcopy(base)
            try:
                set_path(variant, key, value)
                parse_config(variant, path)
            except GridError as exc:
                raise GridError(head + str(exc)) from None
            except ConfigError as exc:
                problems = str(exc).split("\n")[1:]
                raise GridError(head + f"{key}={_cell(value)}: " +
                                "\n    ".join(p.removeprefix("  - ") for p in problems)) from None


def _by_id(entries: list, parts: list[str], depth: int, key: str) -> tuple[dict, int]:
    """The entry whose id is the longest run of ``parts`` from ``depth`` (ids may hold dots)
    with a key left after it, and the depth after the id."""
    by_id = {e.get("id"): e for e in entries if isinstance(e, dict)}
    for end in range(len(parts) - 1, depth, -1):
        if ".".join(parts[depth:end]) in by_id:
            return by_id[".".join(parts[depth:end])], end
    raise GridError(f"grid key {key!r}: no estimator with id {parts[depth]!r}; "
                    f"ids: {list(by_id)}")


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
    from ..parallel import use_executor

    config = parse_config(task.raw, task.config_path)
    config, panel, seeds = prepare(config)
    with open_executor(task.inner) as pool, use_executor(pool):
        fits = fit_estimators(config, panel, seeds, ModelStore(task.models_root),
                              smoke=task.smoke, refit=task.refit)
    table = compare(fits.results)
    grid_cols = {k: [_cell(v)] * len(table) for k, v in task.assignment.items()}
    return pd.concat([pd.DataFrame(grid_cols), table.assign(variant=task.index)
                      .pipe(lambda t: t[["variant", *[c for c in t.columns if c != "variant"]]])],
                     axis=1)


def _cell(value: Any) -> Any:
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


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
    (one column per grid key, then ``variant`` and the results columns) and ``grid.yaml``."""
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
        doc = {"config": str(Path(config_path).resolve()), "smoke": smoke,
               "grid": {k: [_cell(v) for v in vs] for k, vs in grid.items()},
               "variants": [{"variant": t.index, **{k: _cell(v) for k, v in t.assignment.items()}}
                            for t in tasks]}
        (run.staging / "grid.yaml").write_text(yaml.safe_dump(doc, sort_keys=False),
                                               encoding="utf-8")
    return SweepOutcome(table, run.final, grid, time.perf_counter() - start)

