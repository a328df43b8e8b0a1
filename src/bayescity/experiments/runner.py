"""Run an experiment config end to end: load the panel once, fit every estimator, write the run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import yaml

from ..data.loader import load_panel
from ..data.panel import Panel
from ..estimators.base import ParamError
from ..estimators.registry import get_estimator
from ..results.compare import compare
from ..results.effect import EffectResult
from . import artefacts as art
from .config import ConfigError, ExperimentConfig, load_config


@dataclass
class RunOutcome:
    """What a run produced: the results per estimator id and the published run folder."""

    config: ExperimentConfig
    results: dict[str, list[EffectResult]]
    run_dir: Path
    table: pd.DataFrame
    seeds: dict[str, int] = field(default_factory=dict)
    cached: list[str] = field(default_factory=list)


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
    return load_panel(config.data.source, **config.data.load_kwargs())


#: Estimator parameters that name panel columns, checked before any fit.
COLUMN_PARAMS = ("by", "cluster", "covariates", "trend_covariates")


def check_column_params(config: ExperimentConfig, panel: Panel) -> None:
    """Raise a ConfigError naming the estimator, parameter and column for unknown column names."""
    have, problems = set(panel.frame.columns), []
    for est in config.estimators:
        for name in COLUMN_PARAMS:
            value = {**est.params, **est.smoke}.get(name)
            wanted = [value] if isinstance(value, str) else list(value or [])
            problems += [f"estimator {est.id!r}: {name}: column {c!r} is not in the data"
                         for c in wanted if c not in have]
    for est in config.estimators:
        try:
            get_estimator(est.method)(**est.params).check_panel(panel)
        except ParamError as exc:
            problems.append(f"estimator {est.id!r} ({est.method}): {exc}")
    if problems:
        raise ConfigError("\n".join([f"invalid config for data {panel.source!r}:", *problems]))


def run_experiment(config_path: str | Path, *, reports_root: str | Path = "reports",
                   models_root: str | Path = "models", smoke: bool = False, refit: bool = False,
                   progress: Callable[[str], None] | None = None) -> RunOutcome:
    """Fit every estimator of the config and publish ``reports/<name>/<run_id>/``.

    Fits are stored in ``models_root`` keyed by (method, resolved params, data hash, version) and
    reused unless ``refit``. Nothing is written to the reports root unless the whole run succeeds.
    """
    config = load_config(config_path)
    panel = load_experiment_panel(config)
    check_column_params(config, panel)
    dhash = art.data_hash(panel)
    seeds = child_seeds(config.seed, [e.id for e in config.estimators])
    store = art.ModelStore(models_root)
    results, cached, resolved = {}, [], {}
    for est in config.estimators:
        params = resolve_params(est.method, est.params, est.smoke if smoke else None, seeds[est.id])
        resolved[est.id] = params
        key = art.fit_key(est.method, params, dhash)
        hit = None if refit else store.load(config.name, est.id, key)
        if progress:
            progress(f"{est.id} ({est.method})" + (" [stored fit]" if hit is not None else ""))
        if hit is None:
            hit = get_estimator(est.method)(**params).fit(panel).results()
            store.save(config.name, est.id, key, hit, {"method": est.method, "params": params,
                                                       "data_hash": dhash})
        else:
            cached.append(est.id)
        results[est.id] = hit
    return _publish(config, panel, results, resolved, seeds, dhash, cached, reports_root, smoke)


def _plain(obj: Any) -> Any:
    """YAML-safe copy of nested params (tuples to lists, numpy scalars to Python)."""
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _lock(config: ExperimentConfig, resolved: dict, seeds: dict, dhash: str, run_id: str,
          smoke: bool) -> dict[str, Any]:
    return {"run_id": run_id, "smoke": smoke, "config": config.model_dump(mode="json"),
            "seed": config.seed, "estimator_seeds": seeds, "resolved_params": _plain(resolved),
            "data_hash": dhash, "packages": art.package_versions()}


def _drivers(results: dict[str, list[EffectResult]]) -> pd.DataFrame | None:
    """The drivers tables of the ML fits (``info["drivers"]``), with the estimator id."""
    frames = [r.info["drivers"].assign(estimator=k) for k, rs in results.items() for r in rs
              if isinstance(r.info.get("drivers"), pd.DataFrame)]
    return pd.concat(frames, ignore_index=True) if frames else None


def _publish(config, panel, results, resolved, seeds, dhash, cached, reports_root,
             smoke) -> RunOutcome:
    table = compare(results)
    tests = pd.concat([r.tests_frame().assign(estimator=k) for k, rs in results.items() for r in rs],
                      ignore_index=True)
    chash = art.config_hash({"config": config.model_dump(mode="json"), "smoke": smoke})
    run_id = art.new_run_id(chash)
    with art.staged_run_dir(reports_root, config.name, run_id) as run:
        table.to_csv(run.staging / "results.csv", index=False)
        tests.to_csv(run.staging / "tests.csv", index=False)
        drivers = _drivers(results)
        if drivers is not None:
            drivers.to_csv(run.staging / "drivers.csv", index=False)
        (run.staging / "panel.txt").write_text(str(panel.describe()) + "\n", encoding="utf-8")
        lock = _lock(config, resolved, seeds, dhash, run_id, smoke)
        with (run.staging / "config.lock.yaml").open("w", encoding="utf-8") as fh:
            yaml.safe_dump(lock, fh, sort_keys=False, allow_unicode=True)
    return RunOutcome(config, results, run.final, table, seeds, cached)
