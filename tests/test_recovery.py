"""Recovery of the known truth by the staggered-robust estimators on simulated city panels.

The panels come from ``simulate_city_panel`` with effects that differ by region, income and
cohort and grow with event time; the seeds are not the ones the estimators were developed on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity import datasets

ROBUST = {
    "callaway_santanna": {},
    "sun_abraham": {},
    "imputation": {},
}
SEEDS = (101, 202, 303)


def _panel(data: pd.DataFrame) -> bc.Panel:
    return bc.load_panel(data, unit="city", time="year", outcome="tfp_growth",
                         cohort="pilot_year", traits=["region3"])


@pytest.fixture(scope="module")
def simulated():
    return [datasets.simulate_city_panel(seed, selection=False) for seed in SEEDS]


def _coverage(result: bc.EffectResult, truth: pd.Series) -> list[bool]:
    table = result.table.set_index("term")
    return [bool(table.loc[str(k), "lower"] <= v <= table.loc[str(k), "upper"])
            for k, v in truth.items()]


@pytest.mark.parametrize("method", sorted(ROBUST))
def test_intervals_cover_truth_on_simulated_panels(method, simulated):
    """95% intervals of ATT, ATT(e) for e = 0..6 and ATT by region over three fresh panels."""
    covered = []
    for sim in simulated:
        est = bc.make_estimator(method, by="region3", **ROBUST[method]).fit(_panel(sim.data))
        covered += _coverage(est.effect("ATT"), pd.Series({"overall": sim.truth.att}))
        covered += _coverage(est.effect("ATT_event"), sim.truth.att_event.loc[0:6])
        covered += _coverage(est.effect("ATT_by_region3"), sim.truth.att_by["region3"])
    assert len(covered) == 3 * (1 + 7 + 3)
    assert np.mean(covered) >= 0.85, f"{method} covered {np.mean(covered):.2f}"


@pytest.mark.parametrize("method", sorted(ROBUST))
def test_regional_heterogeneity_is_detected(method, simulated):
    """No effect in the West, a strong one in the Middle: the equality test sees it in most panels."""
    p_values, ordered = [], []
    for sim in simulated:
        by = bc.make_estimator(method, by="region3", **ROBUST[method]).fit(_panel(sim.data))
        by = by.effect("ATT_by_region3")
        p_values.append(by.tests[0].p_value)
        ordered.append(by.estimate("Middle") > by.estimate("West"))
    assert all(ordered)
    assert sum(p < 0.05 for p in p_values) >= 2, p_values


# ------------------------------------------------------------------ the built-in panel
#: Pilots are selected on 2003 income and size, which also shape untreated trends; conditioning
#: on them is what lets each estimator recover the truth.
BASELINE = ["ln_gdp_pc_2003", "ln_pop_2003"]
BUILTIN_FITS = {
    "callaway_santanna": {"control_group": "not_yet_treated", "covariates": BASELINE},
    "sun_abraham": {"covariates": [], "trend_covariates": BASELINE},
    "imputation": {"covariates": [], "trend_covariates": BASELINE},
}


@pytest.fixture(scope="module")
def builtin():
    return datasets.load_china_cities()


@pytest.mark.parametrize("method", sorted(BUILTIN_FITS))
def test_builtin_panel_event_time_truth_is_covered(method, builtin):
    est = bc.make_estimator(method, **BUILTIN_FITS[method]).fit(_panel(builtin.data))
    assert _coverage(est.effect("ATT"), pd.Series({"overall": builtin.truth.att})) == [True]
    covered = _coverage(est.effect("ATT_event"), builtin.truth.att_event.loc[0:11])
    assert len(covered) == 12 and sum(covered) >= 11, covered
