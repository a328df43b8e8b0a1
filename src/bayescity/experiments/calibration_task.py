"""One calibration replication as a task: simulate a panel, refit every estimator, score it.

A task is plain data (:class:`ReplicationTask`) that any executor can run (in this process, a
local pool, a Dask worker): :func:`run_replication` rebuilds the user's design from the config
(once per process), draws the scenario's panel from the replication's own
``numpy.random.SeedSequence`` child, fits each estimator with its own child seed and returns
one long table (:data:`REPLICATION_COLUMNS`): every term of every result with its truth, the
drivers tables of heterogeneity estimators, and a row per estimator that failed. A failure is
recorded, never raised, so one bad panel does not stop a calibration.
"""

from __future__ import annotations

import json
import warnings
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..constants import INTERVAL_PROB
from ..data.scenarios import Design, Simulated, simulate, user_design
from ..data.traits import bin_trait
from ..estimands.truth import ZERO_TOL, ScenarioTruth
from ..estimators.registry import get_estimator
from ..progress import progress_to
from ..results.effect import EffectResult
from .calibration_config import CalibrationConfig
from .config import ExperimentConfig
from .runner import child_seeds, load_experiment_panel, resolve_params

REPLICATION_COLUMNS = ("scenario", "replication", "estimator", "method", "paradigm", "estimand",
                       "term", "role", "truth", "estimate", "std_error", "lower", "upper",
                       "interval_prob", "interval_kind", "rank", "p_value", "error")
#: Pseudo-estimands: drivers-table rows (one per trait: its combined rank and joint BLP test's
#: p-value) and the Wald test of equal effects across a trait's levels (truth: the spread of
#: the true level effects, zero when they are equal).
DRIVERS, EQUAL_LEVELS = "drivers", "equal_levels"


@dataclass(frozen=True)
class EstimatorSpec:
    """An estimator of the calibration: config id, method, the config's params with the
    calibration's overrides, and its ``smoke`` overrides (None unless ``--smoke``)."""

    id: str
    method: str
    params: dict[str, Any]
    smoke: dict[str, Any] | None = None


@dataclass(frozen=True)
class ReplicationTask:
    """Replication ``replication`` of ``scenario``; ``config`` is the validated config as JSON
    data (it rebuilds the design), ``all_ids`` every estimator id of the full config (so
    ``--only`` gives each estimator the seed of the full calibration)."""

    scenario: str
    replication: int
    seed: int
    seed_offset: int
    config: dict[str, Any]
    estimators: tuple[EstimatorSpec, ...]
    all_ids: tuple[str, ...]


def replication_seed(seed: int, offset: int, scenario: str,
                     replication: int) -> np.random.SeedSequence:
    """The SeedSequence child of one replication: the same whatever the number of replications,
    the other scenarios or the executor."""
    entropy = [int(seed), int(offset), zlib.crc32(scenario.encode())]
    return np.random.SeedSequence(entropy, spawn_key=(int(replication),))


#: Designs rebuilt in this process, by config (a worker builds each once), and the truth
#: aggregates of each scenario on each, shared by its replications.
_DESIGNS: dict[str, Design] = {}
_TRUTHS: dict[tuple[str, str], dict] = {}


def design_key(config: dict[str, Any]) -> str:
    return json.dumps({"data": config["data"], "calibration": config.get("calibration")},
                      sort_keys=True, default=str)


def remember_design(config: dict[str, Any], design: Design) -> None:
    """Keep a design built by the caller, so tasks in this process reuse it."""
    _DESIGNS[design_key(config)] = design


def task_design(config: dict[str, Any]) -> Design:
    """The user's design of ``config`` (loaded and fitted once per process)."""
    key = design_key(config)
    if key not in _DESIGNS:
        parsed = ExperimentConfig.model_validate(config)
        settings = (parsed.calibration or CalibrationConfig()).settings()
        _DESIGNS[key] = user_design(load_experiment_panel(parsed), settings)
    return _DESIGNS[key]


def run_replication(task: ReplicationTask) -> pd.DataFrame:
    """Simulate the task's panel, fit every estimator and return the long table of the
    replication (:data:`REPLICATION_COLUMNS`)."""
    data_seed, fit_seed = replication_seed(task.seed, task.seed_offset, task.scenario,
                                           task.replication).spawn(2)
    seeds = child_seeds(int(fit_seed.generate_state(1)[0]), list(task.all_ids))
    with warnings.catch_warnings(), progress_to(None):
        warnings.simplefilter("ignore")
        sim = simulate(task_design(task.config), task.scenario, np.random.default_rng(data_seed))
        shared = _TRUTHS.setdefault((design_key(task.config), task.scenario), {})
        truth = ScenarioTruth(sim.effects, sim.panel.unit, sim.panel.time, shared)
        frames = [_fit_rows(spec, seeds[spec.id], sim, truth) for spec in task.estimators]
    table = pd.concat(frames, ignore_index=True)
    table.insert(0, "replication", task.replication)
    table.insert(0, "scenario", task.scenario)
    return table.reindex(columns=list(REPLICATION_COLUMNS))


def estimator_params(spec: EstimatorSpec, seed: int, noise: tuple[str, ...]) -> dict[str, Any]:
    """Constructor keywords of one replication: params, smoke overrides, the child seed, and
    the noise traits appended to an explicit ``effect_modifiers`` list."""
    params = resolve_params(spec.method, spec.params, spec.smoke, seed)
    modifiers = params.get("effect_modifiers")
    if modifiers is not None and noise:
        params["effect_modifiers"] = [*modifiers, *(n for n in noise if n not in modifiers)]
    return params


def _fit_rows(spec: EstimatorSpec, seed: int, sim: Simulated,
              truth: ScenarioTruth) -> pd.DataFrame:
    try:
        params = estimator_params(spec, seed, sim.noise_traits)
        results = get_estimator(spec.method)(**params).fit(sim.panel).results()
        rows = [result_rows(r, params, sim, truth) for r in results]
        tests = [level_test_rows(r, own, sim) for r, own in zip(results, rows)
                 if _level_test(r) is not None]
        drivers = [driver_rows(r, sim) for r in results if _drivers(r) is not None]
        table = pd.concat([*rows, *tests, *drivers], ignore_index=True)
        return table.assign(estimator=spec.id, error="")
    except Exception as exc:  # noqa: BLE001 - a failed fit is a counted outcome
        return pd.DataFrame([{"estimator": spec.id, "method": spec.method,
                              "error": f"{type(exc).__name__}: {exc}"}])


def result_rows(result: EffectResult, params: dict[str, Any], sim: Simulated,
                truth: ScenarioTruth) -> pd.DataFrame:
    """Every term of ``result`` with its truth and role (``driver``, ``noise`` or empty)."""
    table = result.table
    levels = _bin_levels(result.estimand, params, sim)
    return pd.DataFrame({
        "method": result.method, "paradigm": result.paradigm, "estimand": result.estimand,
        "term": table["term"].astype(str).to_numpy(),
        "role": [term_role(result.estimand, t, sim) for t in table["term"]],
        "truth": truth.of(result.estimand, list(table["term"]), levels),
        "estimate": table["estimate"].to_numpy(dtype=float),
        "std_error": table["std_error"].to_numpy(dtype=float),
        "lower": table["lower"].to_numpy(dtype=float),
        "upper": table["upper"].to_numpy(dtype=float),
        "interval_prob": float(result.interval_prob), "interval_kind": result.interval_kind})


def _bin_levels(estimand: str, params: dict[str, Any], sim: Simulated) -> pd.Series | None:
    """Per unit, the quantile-bin label of a numeric ``by`` trait binned with ``by_bins``."""
    trait = estimand.removeprefix("ATT_by_")
    panel = sim.panel
    if trait == estimand or trait not in panel.traits or panel.trait_kind(trait) != "numeric" \
            or params.get("by_bins") is None:
        return None
    units = bin_trait(panel, trait, params["by_bins"]).unit_table()
    return pd.Series(units[trait].to_numpy(), index=units[panel.unit].to_numpy())


def term_role(estimand: str, term: Any, sim: Simulated) -> str:
    """``driver`` for terms along a true driver of the effect, ``noise`` along a noise trait."""
    if estimand == "BLP":
        trait = str(term).partition("=")[0]
    elif estimand in (DRIVERS, EQUAL_LEVELS):
        trait = str(term)
    elif estimand.startswith("ATT_by_"):
        trait = estimand.removeprefix("ATT_by_")
    else:
        return ""
    return "driver" if trait in sim.drivers else "noise" if trait in sim.noise_traits else ""


def _drivers(result: EffectResult) -> pd.DataFrame | None:
    table = result.part_frame("drivers")
    return table if isinstance(table, pd.DataFrame) and {"trait", "rank"} <= set(table) else None


def driver_rows(result: EffectResult, sim: Simulated) -> pd.DataFrame:
    """The drivers table of a heterogeneity result: each trait's combined rank and the p-value
    of its joint BLP test (``p_value``), with its role."""
    table = _drivers(result)
    p = table.get("blp_p", np.nan)
    return pd.DataFrame({"method": result.method, "paradigm": result.paradigm,
                         "estimand": DRIVERS, "term": table["trait"].astype(str).to_numpy(),
                         "role": [term_role(DRIVERS, t, sim) for t in table["trait"]],
                         "rank": table["rank"].to_numpy(dtype=float),
                         "p_value": np.asarray(p, dtype=float),
                         "interval_prob": float(result.interval_prob or INTERVAL_PROB)})


def _level_test(result: EffectResult):
    """The Wald test of equal effects across the levels of an ``ATT_by_<trait>`` result."""
    trait = result.estimand.removeprefix("ATT_by_")
    if trait == result.estimand:
        return None
    hits = [t for t in result.tests if t.name == f"equal ATT across {trait}"
            and str(t.kind).startswith("wald")]
    return hits[0] if hits else None


def level_test_rows(result: EffectResult, rows: pd.DataFrame, sim: Simulated) -> pd.DataFrame:
    """One row for the equal-levels test of an ``ATT_by_<trait>`` result: its p-value, and as
    truth the spread (max - min) of the true level effects of its terms."""
    test = _level_test(result)
    trait = result.estimand.removeprefix("ATT_by_")
    truth = rows["truth"].to_numpy(dtype=float)
    spread = float(truth.max() - truth.min()) if np.isfinite(truth).all() else np.nan
    if spread <= ZERO_TOL * max(float(np.abs(truth).max()), 1.0):  # rounding of equal levels
        spread = 0.0
    return pd.DataFrame([{"method": result.method, "paradigm": result.paradigm,
                          "estimand": EQUAL_LEVELS, "term": trait,
                          "role": term_role(EQUAL_LEVELS, trait, sim), "truth": spread,
                          "p_value": float(test.p_value),
                          "interval_prob": float(result.interval_prob)}])
