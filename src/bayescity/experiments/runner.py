"""Run an experiment config end to end: load the panel once, fit or reuse every estimator,
publish the run folder and render its report.

The flow of one run, top to bottom: :func:`prepare` (config, ``--only``, panel, parameter
checks: every user mistake is found here, before any work), :func:`fit_estimators` (each fit
taken from the model store or fitted and stored, with the estimator's InferenceData as netCDF),
and :func:`bayescity.experiments.publish.publish_run` (tables, stored results, report) inside a
staged run folder that becomes visible only when complete.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..data.loader import load_panel
from ..data.panel import RESERVED_PREFIX, Panel
from ..estimators.core.base import ParamError, did_you_mean
from ..estimators.core.checks import check_design
from ..estimators.registry import get_estimator
from ..parallel import use_executor
from ..progress import ProgressEvent, progress_to
from ..results.effect import EffectResult
from . import artefacts as art
from .config import ConfigError, ExperimentConfig, load_config
from .executors import ExecutorSpec, open_executor
from .figure_store import FigureStore
from .fits import Fits
from .paths import check_roots
from .publish import publish_run
from .store import ModelStore
from ..data.codings import apply_coding
from ..tfp.derive import load_derived_panel


class RunObserver(Protocol):
    """What a progress display hears from a run (all methods optional in spirit: no-ops)."""

    def fit_started(self, est_id: str, method: str, index: int, total: int,
                    stored: bool) -> None: ...

    def fit_finished(self, est_id: str, seconds: float) -> None: ...

    def task_progress(self, event: ProgressEvent) -> None: ...

    def stage(self, text: str) -> None: ...


class NullObserver:
    def fit_started(self, est_id, method, index, total, stored) -> None: ...

    def fit_finished(self, est_id, seconds) -> None: ...

    def task_progress(self, event) -> None: ...

    def stage(self, text) -> None: ...


@dataclass
class RunOutcome:
    """What a run produced: the results per estimator id and the published run folder."""

    config: ExperimentConfig
    results: dict[str, list[EffectResult]]
    run_dir: Path
    table: pd.DataFrame
    seeds: dict[str, int] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)
    comparison: pd.DataFrame | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: The panel's warnings (roles that look mistaken), for the CLI to repeat.
    warnings: tuple[str, ...] = ()


def child_seeds(seed: int, ids: list[str]) -> dict[str, int]:
    """One 32-bit seed per estimator from the experiment seed via ``SeedSequence.spawn``."""
    children = np.random.SeedSequence(seed).spawn(len(ids))
    return {i: int(c.generate_state(1, dtype=np.uint32)[0]) for i, c in zip(ids, children)}


def resolve_params(method: str, params: dict[str, Any], smoke: dict[str, Any] | None,
                   seed: int) -> dict[str, Any]:
    """Constructor keywords: config params, smoke overrides, and the child seed as random_state."""
    cls = get_estimator(method)
    out = dict(params)
    if smoke is not None:
        out.update(getattr(cls, "smoke_params", {}) or {})
        out.update(smoke)
    if "random_state" in cls.param_names() and "random_state" not in out:
        out["random_state"] = seed
    return out


def load_experiment_panel(config: ExperimentConfig) -> Panel:

    if config.data.derive:

        panel = load_derived_panel(config.data.source, config.data.derive,
                                   **config.data.load_kwargs())
    else:
        panel = load_panel(config.data.source, **config.data.load_kwargs())
    return apply_coding(panel, config.data.coding)


def check_design_once(config: ExperimentConfig, panel: Panel) -> None:
    """Raise one ConfigError (one sentence for the whole run) when the treatment design does
    not give what the config's estimators need (e.g. a group indicator such as
    ``ever_treated`` given as the treatment: no treated unit has an untreated period)."""
    needs = sorted({n for est in config.estimators
                    for n in get_estimator(est.method).design_needs})
    try:
        check_design(panel, needs)
    except ParamError as exc:
        raise ConfigError(f"invalid data {panel.source!r} for the estimators of "
                          f"{config.name!r}: {exc}") from None


def check_column_params(config: ExperimentConfig, panel: Panel) -> None:
    """Raise a ConfigError naming the estimator, parameter and column for unknown column names
    (with the data's columns, and its traits for ``by``), then for parameters that do not fit
    the panel (the estimators' ``check_panel``); the treatment design is checked first, once
    for every estimator."""
    check_design_once(config, panel)
    problems = []
    for est in config.estimators:
        merged = {**est.params, **est.smoke}
        missing = [f"estimator {est.id!r} ({est.method}): {m}"
                   for m in missing_columns(get_estimator(est.method), merged, panel)]
        problems += missing
        if missing:
            continue
        for params in ([est.params, merged] if est.smoke else [est.params]):
            try:
                get_estimator(est.method)(**params).check_panel(panel, design=False)
            except ParamError as exc:
                problems.append(f"estimator {est.id!r} ({est.method}): {exc}")
                break
    if problems:
        raise ConfigError("\n".join([f"invalid config for data {panel.source!r}:", *problems]))


def missing_columns(cls: type, params: dict[str, Any], panel: Panel) -> list[str]:
    """One sentence per column that a parameter of ``cls`` declared with a data role names
    and the data lack, with the data's columns (and traits, for ``by``)."""
    have = [str(c) for c in panel.frame.columns if not str(c).startswith(RESERVED_PREFIX)]
    out = []
    for name in (n for n, spec in cls.params.items() if spec.role is not None):
        value = params.get(name)
        wanted = [value] if isinstance(value, str) else \
            list(value) if isinstance(value, (list, tuple)) else []
        for column in (c for c in wanted if isinstance(c, str) and c not in have):
            listed = f"columns: {_listing(have)}"
            if name == "by":
                listed = f"traits: {', '.join(panel.traits) or 'none'}; {listed}"
            out.append(f"{name}: column {column!r} is not in the data"
                       f"{did_you_mean(column, have)}; {listed}")
    return out


def _listing(names: list[str], limit: int = 30) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" ... ({len(names)} in all)" if len(names) > limit else "")


def select_estimators(config: ExperimentConfig, only: list[str] | None) -> ExperimentConfig:
    """The config restricted to the estimator ids in ``only`` (config order kept)."""
    if not only:
        return config
    ids = [e.id for e in config.estimators]
    unknown = [i for i in only if i not in ids]
    if unknown:
        hints = "".join(did_you_mean(i, ids) for i in unknown)
        raise ConfigError(f"--only: unknown estimator id(s) {unknown}{hints}; "
                          f"ids in {config.name!r}: {ids}")
    keep = [e for e in config.estimators if e.id in set(only)]
    return config.model_copy(update={"estimators": keep})


def prepare(config: ExperimentConfig, only: list[str] | None = None
            ) -> tuple[ExperimentConfig, Panel, dict[str, int]]:
    """Select, load and check: every user mistake raises here, before any fit.

    Child seeds come from the full config, so ``--only`` reproduces the full run's numbers."""
    seeds = child_seeds(config.seed, [e.id for e in config.estimators])
    config = select_estimators(config, only)
    panel = load_experiment_panel(config)
    check_column_params(config, panel)
    return config, panel, {e.id: seeds[e.id] for e in config.estimators}


def fit_estimators(config: ExperimentConfig, panel: Panel, seeds: dict[str, int],
                   store: ModelStore, *, smoke: bool = False, refit: bool = False,
                   observer: RunObserver | None = None) -> Fits:
    """Fit every estimator of ``config`` or reuse its stored fit (same key: method, resolved
    params, data, version); new fits are stored with their InferenceData (``idata_``)."""
    observer = observer or NullObserver()
    dhash = art.data_hash(panel)
    fits = Fits({}, {}, {}, seeds, dhash)
    for i, est in enumerate(config.estimators):
        params = resolve_params(est.method, est.params, est.smoke if smoke else None,
                                seeds[est.id])
        est_hash = art.files_hash(dhash, params)
        key = art.fit_key(est.method, params, est_hash)
        hit = None if refit else store.load(config.name, est.id, key)
        observer.fit_started(est.id, est.method, i, len(config.estimators), hit is not None)
        start = time.perf_counter()
        if hit is None:
            hit = _fit_and_store(config.name, est.id, est.method, params, key, est_hash, panel,
                                 store)
        else:
            fits.cached.append(est.id)
        fits.seconds[est.id] = time.perf_counter() - start
        observer.fit_finished(est.id, fits.seconds[est.id])
        fits.results[est.id], fits.resolved[est.id], fits.keys[est.id] = hit.results, params, key
        if hit.posterior is not None:
            fits.posteriors[est.id] = {"path": hit.posterior.relative_to(store.root).as_posix(),
                                       "sha256": hit.manifest.files[hit.posterior.name].sha256}
    return fits


def _fit_and_store(experiment, est_id, method, params, key, dhash, panel, store):
    start = time.perf_counter()
    fitted = get_estimator(method)(**params).fit(panel)
    meta = {"method": method, "params": params, "data_hash": dhash,
            "fit_seconds": round(time.perf_counter() - start, 3)}
    return store.save(experiment, est_id, key, fitted.results(), meta,
                      idata=getattr(fitted, "idata_", None))


def run_experiment(config_path: str | Path, *, reports_root: str | Path = "reports",
                   models_root: str | Path = "models", smoke: bool = False, refit: bool = False,
                   only: list[str] | None = None, executor: ExecutorSpec | None = None,
                   observer: RunObserver | None = None) -> RunOutcome:
    """Fit every estimator of the config and publish ``reports/<name>/<run_id>/``.

    Nothing is written to the reports root unless the whole run succeeds; hidden folders left
    by killed runs are removed first. ``executor`` runs the estimators' parallel loops.
    """
    check_roots(reports_root, models_root)
    config, panel, seeds = prepare(load_config(config_path), only)
    art.remove_stale(reports_root, models_root)
    observer = observer or NullObserver()
    chash = art.config_hash({"config": config.model_dump(mode="json"), "smoke": smoke})
    run_id, timings = art.new_run_id(chash), {}
    with art.staged_run_dir(reports_root, config.name, run_id) as run:
        start = time.perf_counter()
        with open_executor(executor or ExecutorSpec()) as pool, use_executor(pool), \
                progress_to(observer.task_progress):
            fits = fit_estimators(config, panel, seeds, ModelStore(models_root), smoke=smoke,
                                  refit=refit, observer=observer)
        timings["fit"] = time.perf_counter() - start
        observer.stage("writing the report")
        start = time.perf_counter()
        lock = _lock(config, fits, run_id, smoke, only)
        published = publish_run(run.staging, config, panel, fits, lock,
                                FigureStore(models_root), models_root=str(models_root))
        timings["publish"] = time.perf_counter() - start
    return RunOutcome(config, fits.results, run.final, published.table, seeds, fits.cached,
                      published.comparison, timings, panel.warnings)


def _plain(obj: Any) -> Any:
    """YAML-safe copy of nested params (tuples to lists, numpy scalars to Python)."""
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _lock(config: ExperimentConfig, fits: Fits, run_id: str, smoke: bool,
          only: list[str] | None) -> dict[str, Any]:
    return {"run_id": run_id, "smoke": smoke, "only": list(only) if only else None,
            "config": config.model_dump(mode="json"), "seed": config.seed,
            "estimator_seeds": fits.seeds, "resolved_params": _plain(fits.resolved),
            "fit_keys": fits.keys, "stored_fits_used": fits.cached,
            "data_hash": fits.data_hash, "packages": art.package_versions()}
