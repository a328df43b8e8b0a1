"""Calibration on the user's own design: ``bayescity calibrate CONFIG``.

The user's panel keeps its units, periods, cohorts, traits and covariates; its outcome is
replaced, replication after replication, by outcomes simulated with known effects under the
named scenarios of :mod:`bayescity.data.scenarios`; every estimator of the config (or the
``--only`` ones) is refitted on each, and :mod:`.calibration_measures` scores the intervals
against the truth aggregated with the shared treated-cell weights
(:mod:`bayescity.estimands.truth`). The flow mirrors ``run`` and ``sweep``:
:func:`prepare_calibration` catches every user mistake before any work (the run's own checks,
plus the ``calibration:`` block against the data and the estimators); the replications, one
task per scenario x replication, go through the same executors as sweep variants
(:mod:`.executors`), each with its own ``SeedSequence`` child, so a local, pooled or Dask
calibration gives the same table; the folder ``reports/<name>/calibration-<id>/`` is staged
and appears only when complete (:mod:`.artefacts`), never overwriting another:

=========================  ===============================================================
``calibration.csv``        the measures (:data:`~.calibration_measures.MEASURE_COLUMNS`)
``replications.csv``       every replication's rows with their truth (the table's source)
``config.lock.yaml``       resolved config, scenarios, replications, design, seeds, versions
``report.html``            the table and figures (:mod:`bayescity.reports.calibration`)
=========================  ===============================================================
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..data.io import write_csv
from ..data.scenarios import SCENARIOS, Design, user_design
from ..estimators.core.base import did_you_mean
from ..estimators.registry import get_estimator
from ..progress import track
from ..reports.calibration import CalibrationFacts, write_calibration_report
from . import artefacts as art
from .calibration_config import (MAX_REPLICATIONS, CalibrationConfig, canonical_scenarios,
                                 check_scenarios)
from .calibration_measures import calibration_table
from .calibration_task import EstimatorSpec, ReplicationTask, remember_design, run_replication
from .config import (ConfigError, ExperimentConfig, estimator_problem, load_config, resolve_paths,
                     unknown_params)
from .executors import ExecutorSpec, open_executor
from .figure_store import FigureStore
from .paths import check_roots
from .runner import NullObserver, RunObserver, _plain, check_column_params, prepare


@dataclass(frozen=True)
class CalibrationPlan:
    """Everything a calibration runs, checked: config, design, scenarios, estimators."""

    config: ExperimentConfig
    calibration: CalibrationConfig
    design: Design
    scenarios: tuple[str, ...]
    replications: int
    estimators: tuple[EstimatorSpec, ...]
    all_ids: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class CalibrationOutcome:
    """A finished calibration: the table, the replications and the published folder."""

    plan: CalibrationPlan
    table: pd.DataFrame
    replications: pd.DataFrame
    folder: Path
    seconds: float


def merged_config(config: ExperimentConfig, cal: CalibrationConfig,
                  folder: Path) -> ExperimentConfig:
    """``config`` with the calibration's parameter overrides merged into its estimators (a
    relative file path resolved against ``folder``, the config's); raise ConfigError for an
    override of an unknown estimator or parameter, or a value the estimator refuses."""
    ids = [e.id for e in config.estimators]
    problems = [f"calibration: params: no estimator with id {k!r}{did_you_mean(k, ids)}; "
                f"ids: {ids}" for k in cal.params if k not in ids]
    estimators = []
    for est in config.estimators:
        override = resolve_paths(cal.params.get(est.id, {}), est.method, folder)
        merged = est.model_copy(update={"params": {**est.params, **override}})
        names = get_estimator(est.method).param_names()
        unknown = unknown_params("params", override, names)
        problem = unknown.removeprefix("params: ") if unknown else estimator_problem(merged)
        if problem is not None:
            problems.append(f"calibration: params: estimator {est.id!r} ({est.method}): "
                            f"{problem}")
        estimators.append(merged)
    if problems:
        raise ConfigError("\n".join(problems))
    return config.model_copy(update={"estimators": estimators})


def choose_scenarios(design: Design, wanted: list[str] | None
                     ) -> tuple[tuple[str, ...], dict[str, str]]:
    """The scenarios to run and those skipped with the reason: a scenario asked for by name
    that the design cannot carry is an error; of the defaults, such scenarios are skipped."""
    skipped = {s: r for s in (wanted or SCENARIOS) if (r := design.supports(s))}
    if wanted and skipped:
        raise ConfigError("\n".join(f"calibration: scenarios: {s!r} {r}"
                                    for s, r in skipped.items()))
    return tuple(s for s in (wanted or SCENARIOS) if s not in skipped), skipped


def prepare_calibration(config_path: str | Path, *, only: list[str] | None = None,
                        smoke: bool = False, replications: int | None = None,
                        scenarios: list[str] | None = None) -> CalibrationPlan:
    """Read, select and check everything (exit 2 material) before any replication runs."""
    full = load_config(config_path)
    cal = full.calibration or CalibrationConfig()
    if scenarios:
        scenarios = canonical_scenarios(scenarios)
        try:
            check_scenarios(scenarios)
        except ValueError as exc:
            raise ConfigError(f"--scenario: {exc}") from None
    config, panel, _ = prepare(full, only)
    config = merged_config(config, cal, Path(config_path).parent)
    check_column_params(config, panel)
    try:
        design = user_design(panel, cal.settings())
    except ValueError as exc:
        raise ConfigError(f"invalid calibration for data {panel.source!r}:\n{exc}") from None
    wanted = scenarios or ((cal.smoke.scenarios or cal.scenarios) if smoke else cal.scenarios)
    chosen, skipped = choose_scenarios(design, wanted)
    if replications is not None and not 1 <= replications <= MAX_REPLICATIONS:
        raise ConfigError(f"--replications/--reps: must be from 1 to {MAX_REPLICATIONS:,}, "
                          f"got {replications}")
    n = replications or (cal.smoke.replications if smoke else cal.replications)
    specs = tuple(EstimatorSpec(e.id, e.method, dict(e.params), dict(e.smoke) if smoke else None)
                  for e in config.estimators)
    return CalibrationPlan(config, cal, design, chosen, n, specs,
                           tuple(e.id for e in full.estimators), skipped)


def replication_tasks(plan: CalibrationPlan) -> list[ReplicationTask]:
    """One task per scenario x replication, scenario by scenario."""
    raw = plan.config.model_dump(mode="json")
    return [ReplicationTask(s, r, plan.config.seed, plan.calibration.seed_offset, raw,
                            plan.estimators, plan.all_ids)
            for s in plan.scenarios for r in range(plan.replications)]


def run_calibration(config_path: str | Path, *, reports_root: str | Path = "reports",
                    models_root: str | Path = "models", smoke: bool = False,
                    only: list[str] | None = None, executor: ExecutorSpec | None = None,
                    replications: int | None = None, scenarios: list[str] | None = None,
                    observer: RunObserver | None = None) -> CalibrationOutcome:
    """Run every replication and publish ``<reports_root>/<name>/calibration-<id>/``."""
    check_roots(reports_root, models_root)
    plan = prepare_calibration(config_path, only=only, smoke=smoke, replications=replications,
                               scenarios=scenarios)
    observer = observer or NullObserver()
    tasks = replication_tasks(plan)
    remember_design(tasks[0].config, plan.design)
    art.remove_stale(reports_root, models_root)
    lock = calibration_lock(plan, smoke, only)
    run_id = "calibration-" + art.new_run_id(art.config_hash(lock | {"packages": None}))
    start = time.perf_counter()
    with art.staged_run_dir(reports_root, plan.config.name, run_id) as run:
        observer.stage(f"calibrating: {len(plan.scenarios)} scenarios x {plan.replications} "
                       f"replications x {len(plan.estimators)} estimators")
        reps = _replicate(tasks, executor or ExecutorSpec())
        table = calibration_table(reps)
        observer.stage("writing the report")
        write_csv(table, run.staging / "calibration.csv")
        write_csv(reps, run.staging / "replications.csv")
        lock["run_id"] = run_id
        (run.staging / "config.lock.yaml").write_text(yaml.safe_dump(lock, sort_keys=False,
                                                                     allow_unicode=True),
                                                      encoding="utf-8")
        _report(run.staging, plan, table, reps, lock, models_root)
    return CalibrationOutcome(plan, table, reps, run.final, time.perf_counter() - start)


def _replicate(tasks: list[ReplicationTask], spec: ExecutorSpec) -> pd.DataFrame:
    if spec.kind == "serial":
        frames = [run_replication(t) for t in track(tasks, "replications")]
    else:
        with open_executor(spec) as pool:
            frames = pool.map(run_replication, tasks)
    return pd.concat(frames, ignore_index=True)


def design_facts(design: Design) -> dict[str, Any]:
    """What the report and the lock say about the design the scenarios were drawn on."""
    panel = design.panel
    return {"source": panel.source, "outcome": panel.outcome, "units": panel.n_units,
            "periods": f"{panel.periods[0]}-{panel.periods[-1]} ({panel.n_periods})",
            "treated units": len(panel.treated_units), "untreated rows": design.n_untreated,
            "cohorts": {int(g): int(n) for g, n in panel.describe().cohorts.items()},
            "residual sd (sigma)": round(design.sigma, 6),
            "reference effect (delta)": round(design.delta, 6),
            "trait": design.trait, "zero level": design.zero_level,
            "numeric trait": design.numeric_trait, "noise traits": list(design.noise_names)}


def calibration_lock(plan: CalibrationPlan, smoke: bool, only: list[str] | None
                     ) -> dict[str, Any]:
    return {"kind": "calibration", "smoke": smoke, "only": list(only) if only else None,
            "seed": plan.config.seed, "seed_offset": plan.calibration.seed_offset,
            "scenarios": list(plan.scenarios), "skipped_scenarios": dict(plan.skipped),
            "replications": plan.replications, "design": _plain(design_facts(plan.design)),
            "calibration": plan.calibration.model_dump(mode="json"),
            "estimators": _plain({s.id: {"method": s.method, "params": s.params,
                                         "smoke": s.smoke} for s in plan.estimators}),
            "config": plan.config.model_dump(mode="json"),
            "data_hash": art.data_hash(plan.design.panel), "packages": art.package_versions()}


def _report(folder: Path, plan: CalibrationPlan, table: pd.DataFrame, reps: pd.DataFrame,
            lock: dict[str, Any], models_root: str | Path) -> None:
    facts = CalibrationFacts(name=plan.config.name, run_id=lock["run_id"],
                             smoke=lock["smoke"], design=design_facts(plan.design),
                             scenarios=plan.scenarios, skipped=dict(plan.skipped),
                             replications=plan.replications,
                             estimators={s.id: s.method for s in plan.estimators},
                             seed=plan.config.seed, seed_offset=plan.calibration.seed_offset)
    write_calibration_report(folder, table, reps, facts, FigureStore(models_root))
