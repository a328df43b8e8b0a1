"""Synthetic China city panels with a known causal truth: :func:`simulate_city_panel`.

The data are SYNTHETIC. They are built on real structure: the real prefecture-level cities and
municipalities (names, provinces, regions) and the real innovative-city pilot cohorts (2008,
2010, 2012-coded 2011-2013 batch, 2018; the 2022 batch is labelled but not treated inside
2003-2021), see :mod:`bayescity.data.sim_units`. Every number attached to them (output, inputs,
TFP, mechanisms, controls) is drawn from the data-generating process of
:mod:`bayescity.data.sim_economy` and :mod:`bayescity.data.sim_effects`, and the effect of the
pilot in every treated cell is returned in :class:`Truth` so that estimators can be scored.

The built-in dataset ``builtin:china_cities`` is ``simulate_city_panel(BUILTIN_SEED)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayescity.data import sim_economy as eco
from bayescity.data.sim_effects import (DEFAULT_EFFECT, MECHANISMS, EffectDesign,
                                        effect_components, effect_parameters)
from bayescity.data.sim_truth import Truth, build_truth
from bayescity.data.sim_units import FIRST_YEAR, city_units

#: The seed of the shipped built-in panel ``builtin:china_cities``.
BUILTIN_SEED = 2025
#: Default marginal standard deviation (pp) of the idiosyncratic TFP-growth noise.
DEFAULT_NOISE_SD = 1.5
ASSIGNMENTS = ("real", "random")

#: Column order of the simulated panel.
COLUMNS = (
    "city", "city_cn", "adcode", "province", "year",
    "pilot_year", "pilot_batch", "pilot_year_uncertain", "treated",
    "gdp_real", "fai_real", "capital_stock", "employment", "population",
    "tfp", "tfp_growth",
    "sci_spend_share", "agglomeration", "business_env", "patents_per_10k",
    "ln_gdp_pc", "industry_share", "fin_dev", "openness", "human_capital", "gov_size",
    "region3", "region4", "north_south", "provincial_capital", "coastal",
    "initial_size", "ln_pop_2003", "ln_gdp_pc_2003",
)
_UNIT_COLUMNS = ("city", "city_cn", "adcode", "province", "pilot_batch", "pilot_year_uncertain",
                 "region3", "region4", "north_south", "provincial_capital", "coastal")
_STREAMS = ("assignment", "subset", "traits", "mechanisms", "outcome", "inputs", "controls")


@dataclass(frozen=True, eq=False)
class SimulatedPanel:
    """A synthetic panel (``data``), its causal ``truth`` and the ``seed`` that produced it."""

    data: pd.DataFrame
    truth: Truth
    seed: int


def _check_arguments(years: tuple[int, int], assignment: str, n_units: int | None,
                     noise_sd: float, ramp_years: int, n_available: int) -> None:
    start, end = years
    if start < FIRST_YEAR or end <= start:
        raise ValueError(f"years must satisfy {FIRST_YEAR} <= start < end, got {years!r}")
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"assignment must be one of {ASSIGNMENTS}, got {assignment!r}")
    if n_units is not None and not 2 <= n_units <= n_available:
        raise ValueError(f"n_units must be between 2 and {n_available}, got {n_units}")
    if noise_sd < 0 or ramp_years < 1:
        raise ValueError("noise_sd must be >= 0 and ramp_years >= 1")


def _assign(units: pd.DataFrame, assignment: str, rng: np.random.Generator) -> pd.DataFrame:
    """Real cohorts, or the same cohorts (with their batch labels) permuted across units."""
    if assignment == "random":
        order = rng.permutation(len(units))
        for col in ("cohort", "pilot_batch", "pilot_year_uncertain", "pilot_units"):
            units[col] = units[col].to_numpy()[order]
    return units


def _subset(pilot_year: np.ndarray, n_units: int | None, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of kept units: all, or a random subset stratified by treated / not treated."""
    n = len(pilot_year)
    if n_units is None or n_units == n:
        return np.ones(n, dtype=bool)
    treated = np.flatnonzero(pilot_year > 0)
    control = np.flatnonzero(pilot_year == 0)
    n_treated = int(np.clip(round(n_units * len(treated) / n), 1, n_units - 1))
    n_treated = min(n_treated, len(treated), n_units - min(len(control), 1))
    chosen = np.concatenate([rng.choice(treated, n_treated, replace=False),
                             rng.choice(control, n_units - n_treated, replace=False)])
    keep = np.zeros(n, dtype=bool)
    keep[chosen] = True
    return keep


def _long(values: np.ndarray) -> np.ndarray:
    return np.asarray(values).reshape(-1)


def _economy(units, traits, years, effects, cfg, rngs) -> dict[str, np.ndarray]:
    """Simulate every unit x year variable; the policy enters tfp_growth, mechanisms, patents."""
    mechs = eco.mechanism_baselines(traits, units, years, cfg["selection"], rngs["mechanisms"])
    y0 = eco.untreated_tfp_growth(traits, years, mechs, cfg["selection"], cfg["noise_sd"],
                                  rngs["outcome"])
    rel = effects["rel_time"]
    pre = (rel < 0) & (cfg["pilot_year"] > 0)[:, None]
    growth = y0 + effects["tau"] + cfg["pretrend"] * np.where(pre, rel, 0.0)
    population, employment = eco.labour_and_population(traits, units, years, rngs["inputs"])
    ln_gdp0 = traits["ln_gdp_pc_2003"].to_numpy() + np.log(population[:, 0]) - np.log(1e4)
    fai, capital = eco.investment_and_capital(traits, units, years, np.exp(ln_gdp0),
                                              rngs["inputs"])
    tfp0 = ln_gdp0 - eco.ALPHA * np.log(capital[:, 0]) - (1 - eco.ALPHA) * np.log(employment[:, 0])
    tfp = tfp0[:, None] + np.cumsum(growth, axis=1) / 100 - growth[:, :1] / 100
    gdp = np.exp(tfp + eco.ALPHA * np.log(capital) + (1 - eco.ALPHA) * np.log(employment))
    out = {"gdp_real": gdp, "fai_real": fai, "capital_stock": capital, "employment": employment,
           "population": population, "tfp": tfp, "tfp_growth": growth,
           "patents_per_10k": np.exp(eco.patents(traits, years, rngs["mechanisms"])
                                     + effects["effect_ln_patents"]),
           "ln_gdp_pc": np.log(gdp * 1e4 / population)}
    for name in MECHANISMS:
        out[name] = mechs[name][2] + effects[f"effect_{name}"]
    out.update(eco.controls(traits, units, years, rngs["controls"]))
    return out


def _frame(units: pd.DataFrame, traits: pd.DataFrame, years: np.ndarray,
           pilot_year: np.ndarray, series: dict[str, np.ndarray]) -> pd.DataFrame:
    """Assemble the long (city x year) frame in :data:`COLUMNS` order."""
    n, t = len(units), len(years)
    year = np.tile(years, n)
    cohort = np.repeat(pilot_year, t)
    frame = {c: np.repeat(units[c].to_numpy(), t) for c in _UNIT_COLUMNS}
    frame.update(year=year, pilot_year=cohort, treated=((cohort > 0) & (year >= cohort)))
    frame.update({k: _long(v) for k, v in series.items()})
    size = pd.qcut(traits["ln_pop_2003"], 3, labels=["small", "medium", "large"]).astype(str)
    frame.update(initial_size=np.repeat(size.to_numpy(), t),
                 ln_pop_2003=np.repeat(traits["ln_pop_2003"].to_numpy(), t),
                 ln_gdp_pc_2003=np.repeat(traits["ln_gdp_pc_2003"].to_numpy(), t))
    data = pd.DataFrame(frame)[list(COLUMNS)]
    ints = ["adcode", "year", "pilot_year", "pilot_year_uncertain", "treated",
            "provincial_capital", "coastal"]
    return data.astype({c: "int64" for c in ints})


def _kept_window(units, traits, keep, span, window, pilot_year, series, effects, params):
    """The panel frame and truth of the kept units inside the requested window."""
    units_k, traits_k = units[keep].reset_index(drop=True), traits[keep].reset_index(drop=True)
    data = _frame(units_k, traits_k, span[window], pilot_year[keep],
                  {k: v[keep][:, window] for k, v in series.items()})
    truth = build_truth(data, {k: v[keep] for k, v in effects.items()}, window, params)
    return data, truth


def simulate_city_panel(seed: int, *, years: tuple[int, int] = (2003, 2021),
                        effect: float | None = None, heterogeneous: bool = True,
                        dynamic: bool = True, ramp_years: int = 3, cohort_effects: bool = True,
                        selection: bool = True, noise_sd: float = DEFAULT_NOISE_SD,
                        assignment: str = "real", n_units: int | None = None,
                        pretrend: float = 0.0) -> SimulatedPanel:
    """Simulate a synthetic city x year panel of the innovative-city pilot with a known truth.

    ``effect`` is the plateau effect on ``tfp_growth`` (pp) of a treated city whose multipliers
    are one (default :data:`~bayescity.data.sim_effects.DEFAULT_EFFECT`); with
    ``heterogeneous=False, dynamic=False, cohort_effects=False`` every treated cell gets exactly
    ``effect``. ``heterogeneous`` adds the region3 x north/south x income heterogeneity (normalised
    to mean one over the treated units), ``dynamic`` the build-up over ``ramp_years`` (mechanisms
    build up at their own speeds), ``cohort_effects`` the cohort multipliers. ``selection=False``
    makes untreated trends independent of the observables. ``assignment="random"`` permutes the
    real cohorts across cities; ``n_units`` keeps a random subset stratified by treatment;
    ``pretrend`` adds ``pretrend * (year - pilot_year)`` to tfp_growth of treated units before
    approval (a violation of parallel trends; the truth stays the causal effect). Years start in
    2003 or later. Rows are sorted by adcode and year.
    """
    base = city_units()
    _check_arguments(years, assignment, n_units, noise_sd, ramp_years, len(base))
    streams = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, streams)}
    units = _assign(base, assignment, rngs["assignment"])
    span = np.arange(FIRST_YEAR, years[1] + 1)
    pilot_year = np.where(units["cohort"].to_numpy() <= years[1], units["cohort"].to_numpy(), 0)
    keep = _subset(pilot_year, n_units, rngs["subset"])
    traits = eco.latent_traits(units, rngs["traits"])
    design = EffectDesign(DEFAULT_EFFECT if effect is None else float(effect), heterogeneous,
                          dynamic, int(ramp_years), cohort_effects)
    effects = effect_components(design, units, traits["z_income"].to_numpy(), pilot_year, span,
                                keep)
    cfg = {"selection": selection, "noise_sd": noise_sd, "pretrend": pretrend,
           "pilot_year": pilot_year}
    series = _economy(units, traits, span, effects, cfg, rngs)
    params = {**eco.economy_parameters(), **effect_parameters(design), "seed": seed,
              "years": tuple(years), "n_units": int(keep.sum()),
              **{k: v for k, v in cfg.items() if k != "pilot_year"}, "assignment": assignment}
    data, truth = _kept_window(units, traits, keep, span, span >= years[0], pilot_year,
                               series, effects, params)
    return SimulatedPanel(data=data, truth=truth, seed=seed)
