"""Frequentist calibration of the hierarchical DID over simulated panels of the built-in design.

Every replication keeps the design of the built-in panel (the 285 cities, their real pilot
cohorts, ``region3`` and ``north_south``; 2003-2021) and simulates an outcome with a known
effect under a named :class:`Scenario`:

``y_it = a_i + l_t + tau_it + u_it``, unit effects ``a_i ~ N(0, 0.5^2)``, year effects
``l_t ~ N(0, 1)``, AR(1) noise ``u`` with the built-in's marginal sd (1.5 pp) and persistence
(0.3) unless the scenario says otherwise, and ``tau_it`` zero before approval. The ``builtin``
scenario is :func:`bayescity.datasets.simulate_city_panel` itself (city-level heterogeneity by
region, north/south and income, cohort multipliers, effects building up through mechanisms,
West exactly zero) without selection on trends.

Each fit is scored against the truth: whether the 95% interval covers it, the standardised
error ``z = (posterior mean - truth) / posterior sd`` and the interval's width, per estimand
(``ATT``, ``ATT_event`` for e = 0..6, ``ATT_by_<trait>``) and term. Replications run through
:func:`bayescity.parallel.map_tasks`, each with its own seed.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from ... import datasets
from ...data.loader import load_panel
from ...data.sim_effects import DIRECT_SHARE, MECHANISMS, ramp
from ...parallel import map_tasks
from .hierarchical import HierarchicalDID

#: Marginal sd (pp) and AR(1) coefficient of the built-in panel's TFP-growth noise.
NOISE_SD, NOISE_RHO = 1.5, 0.3
#: Event times whose ATT is scored.
EVENT_TIMES = tuple(range(7))
UNIT = "city"


def build_up(e: np.ndarray) -> np.ndarray:
    """The built-in panel's build-up of an effect over event times (0.47 of the plateau at
    approval, 0.74, 0.94, 0.97, then 1): its direct channel over three years and the
    mechanisms at their own speeds (:mod:`bayescity.data.sim_effects`)."""
    out = DIRECT_SHARE * ramp(e, 3)
    for mech in MECHANISMS.values():
        out = out + mech.plateau_share * ramp(e, mech.ramp_years)
    return out


def _homogeneous(region: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.full(e.shape, 1.2)


def _region_zero(region: np.ndarray, e: np.ndarray) -> np.ndarray:
    mult = pd.Series({"East": 1.0, "Middle": 1.6, "West": 0.0})[region].to_numpy()
    return 1.2 * mult * build_up(e)


def _region_dynamics(region: np.ndarray, e: np.ndarray) -> np.ndarray:
    """East at once and flat, Middle growing for eight years, West fading out in four."""
    paths = {"East": np.full(e.shape, 1.0), "Middle": np.minimum(0.3 * (e + 1), 2.4),
             "West": np.maximum(1.0 - e / 4.0, 0.0)}
    return np.select([region == k for k in paths], list(paths.values()), 0.0)


def _no_effect(region: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.zeros(e.shape)


EFFECTS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "homogeneous": _homogeneous, "region_zero": _region_zero,
    "region_dynamics": _region_dynamics, "none": _no_effect}


@dataclass(frozen=True)
class Scenario:
    """A data-generating process: ``effects`` (a key of :data:`EFFECTS`, or ``builtin`` for
    ``simulate_city_panel``), the noise's AR(1) coefficient and innovations (``normal`` or
    ``t<df>``, scaled to the same sd), and the estimator's parameters."""

    name: str
    effects: str
    rho: float = NOISE_RHO
    noise: str = "normal"
    params: Mapping[str, Any] = field(default_factory=lambda: {"by": "region3"})


SCENARIOS = (
    Scenario("homogeneous", "homogeneous"),
    Scenario("region_zero", "region_zero"),
    Scenario("region_dynamics", "region_dynamics"),
    Scenario("ar1_strong", "region_zero", rho=0.7),
    Scenario("heavy_tails", "region_zero", noise="t3"),
    Scenario("no_effect", "none"),
    Scenario("builtin", "builtin", params={"by": ["region3", "north_south"]}),
)


@lru_cache(maxsize=1)
def builtin_design() -> pd.DataFrame:
    """City, year, cohort and traits of the built-in panel (the same in every simulation)."""
    data = datasets.load_china_cities().data
    return data[[UNIT, "year", "pilot_year", "region3", "north_south"]].copy()


def innovations(shape: tuple[int, int], noise: str, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance innovations: normal, or Student-t with ``df`` from ``t<df>``."""
    if noise == "normal":
        return rng.standard_normal(shape)
    df = float(noise.removeprefix("t"))
    return rng.standard_t(df, shape) / np.sqrt(df / (df - 2.0))


def ar1(innov: np.ndarray, rho: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series along axis 1 with marginal sd ``sd``."""
    out = np.empty_like(innov)
    out[:, 0] = innov[:, 0]
    for t in range(1, innov.shape[1]):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * innov[:, t]
    return sd * out


def simulate(scenario: Scenario, rng: np.random.Generator) -> pd.DataFrame:
    """One panel of the scenario: the design's columns, the outcome ``y`` and the true ``tau``."""
    if scenario.effects == "builtin":
        return _builtin(int(rng.integers(2**31)))
    frame = builtin_design().sort_values([UNIT, "year"]).reset_index(drop=True)
    n_units, n_years = frame[UNIT].nunique(), frame["year"].nunique()
    e = (frame["year"] - frame["pilot_year"]).to_numpy()
    treated = (frame["pilot_year"].to_numpy() > 0) & (e >= 0)
    tau = np.where(treated, EFFECTS[scenario.effects](frame["region3"].to_numpy(), e), 0.0)
    noise = ar1(innovations((n_units, n_years), scenario.noise, rng), scenario.rho, NOISE_SD)
    y = (np.repeat(rng.normal(0, 0.5, n_units), n_years) + np.tile(rng.normal(size=n_years),
                                                                   n_units)
         + tau + noise.ravel())
    return frame.assign(y=y, tau=tau)


def _builtin(seed: int) -> pd.DataFrame:
    sim = datasets.simulate_city_panel(seed, selection=False)
    frame = sim.data[[UNIT, "year", "pilot_year", "region3", "north_south", "tfp_growth"]]
    cells = sim.truth.cell_effects[[UNIT, "year", "tau"]]
    out = frame.rename(columns={"tfp_growth": "y"}).merge(cells, on=[UNIT, "year"], how="left")
    return out.assign(tau=out["tau"].fillna(0.0))


def truths(frame: pd.DataFrame, traits: Sequence[str]) -> dict[str, pd.Series]:
    """True ATT, ATT by event time (:data:`EVENT_TIMES`) and by each trait's level: means of
    ``tau`` over the treated rows."""
    treated = frame[(frame["pilot_year"] > 0) & (frame["year"] >= frame["pilot_year"])]
    e = treated["year"] - treated["pilot_year"]
    out = {"ATT": pd.Series({"overall": treated["tau"].mean()}),
           "ATT_event": treated.groupby(e)["tau"].mean().loc[list(EVENT_TIMES)]}
    for trait in traits:
        out[f"ATT_by_{trait}"] = treated.groupby(trait)["tau"].mean()
    return out


def replication(task: tuple) -> list[dict]:
    """Fit one simulated panel of a scenario and score every estimand term against the truth."""
    scenario, fit_params, index, seed = task
    rng = np.random.default_rng(seed)
    frame = simulate(scenario, rng)
    params = {**dict(scenario.params), **dict(fit_params)}
    by = [params["by"]] if isinstance(params.get("by"), str) else list(params.get("by") or [])
    panel = load_panel(frame.drop(columns="tau"), unit=UNIT, time="year", outcome="y",
                          cohort="pilot_year", traits=by)
    est = HierarchicalDID(covariates=[], random_state=int(rng.integers(2**31)), **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(panel)
    rows = []
    for estimand, truth in truths(frame, by).items():
        table = est.effect(estimand).table.set_index("term")
        for term, value in truth.items():
            r = table.loc[str(term)]
            rows.append({"scenario": scenario.name, "panel": index, "estimand": estimand,
                         "term": str(term), "truth": float(value), "estimate": r["estimate"],
                         "sd": r["std_error"], "lower": r["lower"], "upper": r["upper"]})
    return rows


def coverage_study(scenarios: Sequence[Scenario], n_panels: int, seed: int,
                   fit_params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per scenario, panel, estimand and term: truth, posterior mean and sd, interval."""
    fit_params = dict(fit_params or {})
    tasks = [(sc, fit_params, i, s)
             for sc, seq in zip(scenarios, np.random.SeedSequence(seed).spawn(len(scenarios)))
             for i, s in enumerate(seq.spawn(n_panels))]
    rows = [r for part in map_tasks(replication, tasks) for r in part]
    df = pd.DataFrame(rows)
    df["covered"] = (df["lower"] <= df["truth"]) & (df["truth"] <= df["upper"])
    df["z"] = (df["estimate"] - df["truth"]) / df["sd"]
    df["width"] = df["upper"] - df["lower"]
    return df


def coverage_table(df: pd.DataFrame, by_term: bool = True) -> pd.DataFrame:
    """Coverage, mean and sd of ``z`` and mean width per scenario, estimand (and term)."""
    keys = ["scenario", "estimand"] + (["term"] if by_term else [])
    return (df.groupby(keys, sort=False)
              .agg(n=("covered", "size"), coverage=("covered", "mean"), z_mean=("z", "mean"),
                   z_sd=("z", "std"), width=("width", "mean"), truth=("truth", "mean"))
              .reset_index())
