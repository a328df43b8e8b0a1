"""The known treatment effects of the synthetic city panel (the causal truth).

The pilot effect on ``tfp_growth`` (percentage points) in a treated cell of unit i, cohort g and
event time e = t - g >= 0 is

    tau_it = h_i * c_g * effect * [ s_direct * r(e; ramp_years)
                                    + sum_m s_m * r(e; R_m) ]

with ``h_i`` the heterogeneity multiplier (region3 x north/south x income gradient, normalised to
mean one over the treated units of the sample), ``c_g`` the cohort multiplier, ``r(e; R) =
min((e + 1) / R, 1)`` a linear build-up to a plateau over R years, and ``s`` the plateau shares of
the direct channel and of the mechanisms m (science spending share, agglomeration, business
environment). Mechanism m moves by ``h_i c_g effect s_m r(e; R_m) / b_m`` in its own units and
``tfp_growth`` responds to it with the coefficient ``b_m``, so ``b_m`` times the mechanism effect
is exactly the part of ``tau_it`` it carries. Before approval every effect is zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Plateau effect on tfp_growth (pp) of a treated city with multipliers equal to one.
DEFAULT_EFFECT = 1.2

#: Region multipliers: strongest in the Middle, absent in the West; stronger in the North.
REGION3_MULTIPLIER = {"East": 1.0, "Middle": 1.6, "West": 0.0}
NORTH_SOUTH_MULTIPLIER = {"North": 1.3, "South": 0.75}
#: Effect multiplier gradient per standard deviation of ln_gdp_pc_2003 (clipped to [0.25, 2]).
INCOME_GRADIENT = 0.25
#: Cohort multiplier 1 + COHORT_GRADIENT * (COHORT_PIVOT - g), clipped to [0.5, 1.5].
COHORT_GRADIENT = 0.05
COHORT_PIVOT = 2012
#: Plateau share of the direct channel of the effect on tfp_growth.
DIRECT_SHARE = 0.50
#: Effect on ln(patents_per_10k) in log points per pp of plateau tfp_growth effect.
PATENT_LOG_EFFECT_PER_PP = 0.10


@dataclass(frozen=True)
class Mechanism:
    """A mediator of the pilot effect: tfp_growth coefficient, plateau share, build-up years."""

    coefficient: float
    plateau_share: float
    ramp_years: int
    unit: str


MECHANISMS: dict[str, Mechanism] = {
    "sci_spend_share": Mechanism(0.40, 0.20, 1, "pp of government spending"),
    "agglomeration": Mechanism(2.00, 0.15, 5, "log points of employment density"),
    "business_env": Mechanism(0.10, 0.15, 2, "index points"),
}


@dataclass(frozen=True)
class EffectDesign:
    """Which features of the effect are switched on (see :func:`simulate_city_panel`)."""

    effect: float = DEFAULT_EFFECT
    heterogeneous: bool = True
    dynamic: bool = True
    ramp_years: int = 3
    cohort_effects: bool = True


def ramp(rel_time: np.ndarray, years: int) -> np.ndarray:
    """Share of the plateau reached at event time ``rel_time``: 0 before, (e+1)/years up to 1."""
    build_up = np.clip((rel_time + 1.0) / max(int(years), 1), 0.0, 1.0)
    return np.where(rel_time >= 0, build_up, 0.0)


def heterogeneity_multiplier(units: pd.DataFrame, z_income: np.ndarray,
                             normalise: np.ndarray) -> np.ndarray:
    """h_i: region3 x north/south x income gradient, scaled to mean one over ``normalise`` units."""
    region = units["region3"].map(REGION3_MULTIPLIER).to_numpy(float)
    north = units["north_south"].map(NORTH_SOUTH_MULTIPLIER).to_numpy(float)
    income = np.clip(1.0 + INCOME_GRADIENT * z_income, 0.25, 2.0)
    raw = region * north * income
    scale = raw[normalise].mean() if normalise.any() else 1.0
    return raw / scale if scale > 0 else raw


def cohort_multiplier(cohort: np.ndarray) -> np.ndarray:
    """c_g: earlier cohorts gain more (1.2 for 2008, 1.1 for 2010, 1.0 for 2012, 0.7 for 2018)."""
    return np.clip(1.0 + COHORT_GRADIENT * (COHORT_PIVOT - cohort), 0.5, 1.5)


def effect_components(design: EffectDesign, units: pd.DataFrame, z_income: np.ndarray,
                      pilot_year: np.ndarray, years: np.ndarray,
                      in_sample: np.ndarray) -> dict[str, np.ndarray]:
    """Unit x year arrays of every effect: ``tau`` and its parts ``direct`` and ``via_<m>``,
    the mechanism effects ``effect_<m>`` in their own units, and ``effect_ln_patents``."""
    treated_unit = pilot_year > 0
    rel = np.where(treated_unit[:, None], years[None, :] - pilot_year[:, None], -1)
    h = (heterogeneity_multiplier(units, z_income, treated_unit & in_sample)
         if design.heterogeneous else np.ones(len(units)))
    c = cohort_multiplier(pilot_year) if design.cohort_effects else np.ones(len(units))
    scale = (h * c)[:, None] * design.effect * (rel >= 0)
    direct_ramp = design.ramp_years if design.dynamic else 1
    parts = {"direct": scale * DIRECT_SHARE * ramp(rel, direct_ramp)}
    for name, mech in MECHANISMS.items():
        via = scale * mech.plateau_share * ramp(rel, mech.ramp_years if design.dynamic else 1)
        parts[f"via_{name}"] = via
        parts[f"effect_{name}"] = via / mech.coefficient
    parts["tau"] = parts["direct"] + sum(parts[f"via_{m}"] for m in MECHANISMS)
    parts["effect_ln_patents"] = (scale * PATENT_LOG_EFFECT_PER_PP
                                  * ramp(rel, direct_ramp))
    parts["rel_time"] = rel
    parts["h"] = np.broadcast_to(h[:, None], rel.shape)
    return parts


def effect_parameters(design: EffectDesign) -> dict:
    """The effect-side generating parameters, for :attr:`Truth.params`."""
    return {
        "effect": design.effect,
        "heterogeneous": design.heterogeneous,
        "dynamic": design.dynamic,
        "ramp_years": design.ramp_years,
        "cohort_effects": design.cohort_effects,
        "region3_multiplier": dict(REGION3_MULTIPLIER),
        "north_south_multiplier": dict(NORTH_SOUTH_MULTIPLIER),
        "income_gradient_per_sd": INCOME_GRADIENT,
        "cohort_multiplier": f"clip(1 + {COHORT_GRADIENT} * ({COHORT_PIVOT} - cohort), 0.5, 1.5)",
        "direct_plateau_share": DIRECT_SHARE,
        "mechanisms": {name: dict(m.__dict__) for name, m in MECHANISMS.items()},
        "patent_log_effect_per_pp": PATENT_LOG_EFFECT_PER_PP,
    }
