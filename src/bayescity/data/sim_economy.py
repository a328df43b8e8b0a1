"""The untreated synthetic economy of a city: traits, inputs, TFP growth, mechanisms, controls.

All numbers are synthetic. Latent 2003 traits (income, size, human capital) are drawn with means
that depend on the real region, provincial-capital status and real pilot designation, so that the
real pilots are bigger, richer and better educated (selection on observables). The untreated TFP
growth of city i in year t is

    y0_it = a_i + d_t + phi_t * x_i + u_it + sum_m b_m * dev_m,it

with unit effects ``a_i``, year effects ``d_t``, a trait-driven trend ``phi_t * x_i`` where
``x_i = 0.15 z(ln_gdp_pc_2003) + 0.08 z(ln_pop_2003) + 0.12 provincial_capital`` and
``phi_t = tanh((t - 2011) / 4)`` (switched off when ``selection=False``), AR(1) noise ``u_it`` and
the responses to the mechanisms' own deviations from their two-way fixed effects.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayescity.data.sim_effects import MECHANISMS
from bayescity.data.sim_units import FIRST_YEAR

#: Output elasticity of capital in ln Y = tfp + alpha ln K + (1 - alpha) ln L.
ALPHA = 0.4
#: Depreciation rate of the perpetual-inventory capital stock.
DEPRECIATION = 0.096
#: AR(1) coefficient of the idiosyncratic TFP-growth noise.
AR1_RHO = 0.3
#: Trait loadings of the untreated TFP-growth trend and its time profile phi_t.
TREND_LOADINGS = {"ln_gdp_pc_2003": 0.15, "ln_pop_2003": 0.08, "provincial_capital": 0.12}
TREND_PIVOT, TREND_WIDTH = 2011, 4.0
#: Common macro shocks to TFP growth (pp) on top of the smooth decline.
MACRO_SHOCKS = {2008: -0.8, 2009: -1.2, 2010: 0.4, 2015: -0.5, 2020: -2.5, 2021: 1.5}

_REGION4_INCOME = {"East": 0.35, "Central": -0.05, "West": -0.25, "Northeast": 0.05}
_REGION4_SIZE = {"East": 0.05, "Central": 0.10, "West": -0.30, "Northeast": -0.10}


def standardise(values: np.ndarray) -> np.ndarray:
    """z-scores over the full unit set."""
    return (values - values.mean()) / values.std()


def latent_traits(units: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """2003 income, size and human capital; higher for capitals, municipalities and real pilots."""
    n = len(units)
    capital = units["provincial_capital"].to_numpy(float)
    pilot = (units["cohort"] > 0).to_numpy(float)
    municipality = (units["adcode"] % 10000 == 0).to_numpy(float)
    common = rng.normal(size=n)
    ln_inc = (9.05 + units["region4"].map(_REGION4_INCOME).to_numpy(float) + 0.35 * capital
              + 0.30 * pilot + 0.30 * municipality + 0.15 * common + rng.normal(0, 0.38, n))
    ln_pop = (5.80 + units["region4"].map(_REGION4_SIZE).to_numpy(float) + 0.35 * capital
              + 0.30 * pilot + 1.00 * municipality + 0.20 * common + rng.normal(0, 0.45, n))
    ln_hc = 4.3 + 1.2 * capital + 0.3 * pilot + 0.25 * standardise(ln_inc) + rng.normal(0, 0.45, n)
    return pd.DataFrame({
        "ln_gdp_pc_2003": ln_inc, "ln_pop_2003": ln_pop, "ln_hc_2003": ln_hc,
        "z_income": standardise(ln_inc), "z_size": standardise(ln_pop), "z_hc": standardise(ln_hc),
        "capital": capital, "pilot": pilot,
    }, index=units.index)


def trend_profile(years: np.ndarray) -> np.ndarray:
    """phi_t, the time profile of the trait-driven trend (S-shaped, -1 to +1)."""
    return np.tanh((years - TREND_PIVOT) / TREND_WIDTH)


def trend_index(traits: pd.DataFrame) -> np.ndarray:
    """x_i, the trait index loading on phi_t."""
    return (TREND_LOADINGS["ln_gdp_pc_2003"] * traits["z_income"].to_numpy()
            + TREND_LOADINGS["ln_pop_2003"] * traits["z_size"].to_numpy()
            + TREND_LOADINGS["provincial_capital"] * traits["capital"].to_numpy())


def year_effects(years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """d_t: a smooth decline of TFP growth from about 3 to 1 pp plus macro shocks."""
    smooth = 1.0 + 2.0 * np.exp(-(years - FIRST_YEAR) / 8.0)
    shocks = np.array([MACRO_SHOCKS.get(int(y), 0.0) for y in years])
    return smooth + shocks + rng.normal(0, 0.25, len(years))


def ar1_noise(shape: tuple[int, int], sd: float, rho: float,
              rng: np.random.Generator) -> np.ndarray:
    """Stationary AR(1) noise along the year axis with marginal standard deviation ``sd``."""
    shocks = rng.normal(0.0, sd, shape)
    noise = np.empty(shape)
    noise[:, 0] = shocks[:, 0]
    for t in range(1, shape[1]):
        noise[:, t] = rho * noise[:, t - 1] + np.sqrt(1 - rho**2) * shocks[:, t]
    return noise


def mechanism_baselines(traits: pd.DataFrame, units: pd.DataFrame, years: np.ndarray,
                        selection: bool, rng: np.random.Generator) -> dict[str, tuple]:
    """Untreated mechanisms as (fixed part, deviation, observed level) unit x year arrays.

    The observed level is clipped to the variable's range; TFP growth responds to the unclipped
    deviation, so that clipping (which binds for rich cities in late years) cannot open a gap in
    untreated trends between pilot and other cities when ``selection=False``.
    """
    n, t = len(traits), len(years)
    z_inc, z_pop, cap = (traits[c].to_numpy()[:, None] for c in ("z_income", "z_size", "capital"))
    pilot = traits["pilot"].to_numpy()[:, None]
    phi = trend_profile(years)[None, :] * (1.0 if selection else 0.0)
    step = (years - FIRST_YEAR)[None, :].astype(float)
    east = units["region4"].map({"East": 4, "Central": 0, "West": -4, "Northeast": -3})
    specs = {
        "sci_spend_share": (2.2 + 0.5 * z_inc + 0.6 * cap + 0.3 * pilot + rng.normal(0, 0.4, (n, 1))
                            + np.minimum(step / 9.0, 1.0), 0.12 * z_inc, 0.30, (0.3, 25.0)),
        "agglomeration": (5.2 + 0.5 * z_pop + 0.4 * z_inc + 0.5 * cap + rng.normal(0, 0.5, (n, 1))
                          + 0.03 * step, 0.025 * z_inc, 0.04, (-np.inf, np.inf)),
        "business_env": (45 + 7 * z_inc + 6 * cap + east.to_numpy(float)[:, None]
                         + rng.normal(0, 5, (n, 1)) + 1.1 * step, 0.5 * z_inc, 2.0, (1.0, 90.0)),
    }
    out = {}
    for name in MECHANISMS:
        fixed, loading, sd, (low, high) = specs[name]
        deviation = phi * loading + rng.normal(0, sd, (n, t))
        out[name] = (fixed, deviation, np.clip(fixed + deviation, low, high))
    return out


def untreated_tfp_growth(traits: pd.DataFrame, years: np.ndarray, mechanisms: dict,
                         selection: bool, noise_sd: float, rng: np.random.Generator) -> np.ndarray:
    """y0_it, the untreated TFP growth in percentage points."""
    n = len(traits)
    unit = (-0.2 * traits["z_income"] + 0.2 * traits["capital"]).to_numpy() + rng.normal(0, 0.5, n)
    trend = np.outer(trend_index(traits), trend_profile(years)) if selection else 0.0
    noise = ar1_noise((n, len(years)), noise_sd, AR1_RHO, rng)
    response = sum(MECHANISMS[m].coefficient * mechanisms[m][1] for m in MECHANISMS)
    return unit[:, None] + year_effects(years, rng)[None, :] + trend + noise + response


def labour_and_population(traits: pd.DataFrame, units: pd.DataFrame, years: np.ndarray,
                          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Population and employment (10k persons)."""
    n, step = len(traits), (years - FIRST_YEAR)[None, :].astype(float)
    northeast = (units["region4"] == "Northeast").to_numpy(float)
    growth = (0.005 + 0.003 * traits["z_income"] + 0.002 * traits["capital"]).to_numpy()
    growth = growth - 0.006 * northeast + rng.normal(0, 0.003, n)
    walk = np.cumsum(np.concatenate([np.zeros((n, 1)),
                                     rng.normal(0, 0.004, (n, len(years) - 1))], axis=1), axis=1)
    ln_pop = traits["ln_pop_2003"].to_numpy()[:, None] + growth[:, None] * step + walk
    emp_rate = np.clip(rng.normal(0.55, 0.05, n), 0.35, 0.75)
    ln_emp = (np.log(emp_rate)[:, None] + ln_pop + 0.004 * step
              + rng.normal(0, 0.01, (n, len(years))))
    return np.exp(ln_pop), np.exp(ln_emp)


def investment_and_capital(traits: pd.DataFrame, units: pd.DataFrame, years: np.ndarray,
                           gdp_2003: np.ndarray,
                           rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Real fixed-asset investment and the perpetual-inventory capital stock (100m yuan, 2003)."""
    n, t = len(traits), len(years)
    west = (units["region4"] == "West").to_numpy(float)
    rate = np.clip(0.40 + 0.08 * west - 0.05 * traits["z_income"].to_numpy()
                   + rng.normal(0, 0.08, n), 0.15, 0.90)
    growth = (0.06 + 0.16 * np.exp(-(years - FIRST_YEAR) / 6.0))[None, :] + 0.02 * west[:, None]
    growth = growth + rng.normal(0, 0.02, (n, 1)) + rng.normal(0, 0.04, (n, t))
    growth[:, 0] = 0.0
    fai = rate[:, None] * gdp_2003[:, None] * np.exp(np.cumsum(growth, axis=1))
    mean_growth = growth[:, 1:].mean(axis=1) if t > 1 else np.full(n, 0.1)
    capital = np.empty((n, t))
    capital[:, 0] = fai[:, 0] / (mean_growth + DEPRECIATION)
    for k in range(1, t):
        capital[:, k] = (1 - DEPRECIATION) * capital[:, k - 1] + fai[:, k]
    return fai, capital


def controls(traits: pd.DataFrame, units: pd.DataFrame, years: np.ndarray,
             rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Industry share, financial development, openness, human capital and government size."""
    n, t = len(traits), len(years)
    step = (years - FIRST_YEAR)[None, :].astype(float)
    z_inc, cap = traits["z_income"].to_numpy()[:, None], traits["capital"].to_numpy()[:, None]
    coastal = units["coastal"].to_numpy(float)[:, None]
    west = (units["region4"] == "West").to_numpy(float)[:, None]

    def draw(unit_sd: float, cell_sd: float) -> np.ndarray:
        return rng.normal(0, unit_sd, (n, 1)) + rng.normal(0, cell_sd, (n, t))

    industry_path = np.where(step <= 8, 0.3 * step, 2.4 - 0.9 * (step - 8))
    return {
        "industry_share": np.clip(47 + 3 * z_inc - 2 * cap + industry_path + draw(7, 1.5), 15, 85),
        "fin_dev": np.exp(np.log(0.75) + 0.25 * cap + 0.1 * z_inc + 0.025 * step + draw(0.3, 0.05)),
        "openness": np.exp(np.log(2.0) + 0.5 * coastal + 0.3 * z_inc - 0.05 * step
                           + draw(0.6, 0.25)),
        "human_capital": np.exp(traits["ln_hc_2003"].to_numpy()[:, None] + 0.045 * step
                                + np.concatenate([np.zeros((n, 1)),
                                                  rng.normal(0, 0.04, (n, t - 1))], axis=1)),
        "gov_size": np.exp(np.log(12.0) + 0.35 * west - 0.15 * z_inc + 0.03 * step
                           + draw(0.25, 0.05)),
    }


def patents(traits: pd.DataFrame, years: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Untreated ln(patents granted per 10k persons)."""
    n, step = len(traits), (years - FIRST_YEAR)[None, :].astype(float)
    fixed = (0.5 * traits["z_income"] + 0.4 * traits["capital"] + 0.2 * traits["z_hc"]).to_numpy()
    return (fixed[:, None] - 0.3 + rng.normal(0, 0.35, (n, 1)) + 0.14 * step
            + rng.normal(0, 0.15, (n, len(years))))


def economy_parameters() -> dict:
    """The untreated-economy generating parameters, for :attr:`Truth.params`."""
    return {
        "alpha": ALPHA,
        "depreciation": DEPRECIATION,
        "ar1_rho": AR1_RHO,
        "trend_loadings": dict(TREND_LOADINGS),
        "trend_profile": f"tanh((year - {TREND_PIVOT}) / {TREND_WIDTH})",
        "macro_shocks": dict(MACRO_SHOCKS),
        "capital_initial": "fai_2003 / (mean log growth of fai_real + depreciation)",
    }
