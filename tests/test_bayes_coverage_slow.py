"""Frequentist calibration of the hierarchical DID over simulated panels -- slow.

200 panels of the built-in design (285 cities, the real pilot cohorts, 17 treated western
cities) per scenario of :mod:`bayescity.estimators.bayes.coverage`: a homogeneous effect,
effects by region with the West exactly zero, different build-ups by region, strongly
persistent AR(1) shocks, heavy-tailed (t3) shocks, no effect at all, and
``simulate_city_panel`` itself fitted by ``[region3, north_south]``; plus the strongly
persistent panels fitted with ``errors: iid``. Each fit uses the defaults with 2 chains x 500
draws after 300 warm-up iterations (the default is 4 x 2,000 after 500; 1,600 fits take about 40
minutes on two shared cores). The coverage of the 95% intervals,
the mean and sd of the standardised errors and the widths, per scenario, estimand and term, are
written to ``reports/bayes_calibration/``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bayescity.estimators.bayes.coverage import (SCENARIOS, coverage_study, coverage_table)
from bayescity.experiments.executors import LocalPoolExecutor
from bayescity.parallel import use_executor

REPORT = Path(__file__).resolve().parents[1] / "reports" / "bayes_calibration"
N_PANELS = 200
FIT = {"chains": 2, "draws": 500, "tune": 300}
#: Scenarios where the model's assumptions hold (normal shocks, AR(1) or not).
CALIBRATED = ("homogeneous", "region_zero", "region_dynamics", "ar1_strong", "no_effect",
              "builtin")


def _scenarios():
    by_name = {s.name: s for s in SCENARIOS}
    iid = replace(by_name["ar1_strong"], name="ar1_strong_iid",
                  params={**by_name["ar1_strong"].params, "errors": "iid"})
    return [*SCENARIOS, iid]


@pytest.fixture(scope="module")
def study():
    pool = LocalPoolExecutor(2)
    try:
        with use_executor(pool):
            df = coverage_study(_scenarios(), N_PANELS, seed=2019, fit_params=FIT)
    finally:
        pool.close()
    REPORT.mkdir(parents=True, exist_ok=True)
    df.to_csv(REPORT / "intervals.csv", index=False)
    terms, pooled = coverage_table(df), coverage_table(df, by_term=False)
    terms.to_csv(REPORT / "coverage_by_term.csv", index=False)
    pooled.to_csv(REPORT / "coverage.csv", index=False)
    (REPORT / "coverage.md").write_text(
        "# Coverage of the hierarchical DID's 95% intervals\n\n"
        f"{N_PANELS} panels per scenario, {FIT['chains']} chains x {FIT['draws']} draws "
        f"after {FIT['tune']} warm-up.\n\n"
        "## By estimand\n\n" + pooled.round(3).to_markdown(index=False)
        + "\n\n## By term\n\n" + terms.round(3).to_markdown(index=False) + "\n")
    return terms.set_index(["scenario", "estimand", "term"]), pooled.set_index(
        ["scenario", "estimand"])


@pytest.mark.slow
def test_intervals_cover_at_the_nominal_rate(study):
    """Targets of the calibrated scenarios: every estimand's intervals (pooled over its terms)
    cover 93-97% of the truths and its standardised errors average within 0.15 of zero; every
    term covers at least 90% (200 panels: a binomial sd of 1.5 points around 95%) and averages
    within 0.25 (the sd of a mean of 200 z's is 0.07)."""
    terms, pooled = study
    ok = pooled.loc[list(CALIBRATED)]
    assert ok["coverage"].between(0.93, 0.97).all(), ok.to_string()
    assert (ok["z_mean"].abs() <= 0.15).all(), ok.to_string()
    ok_terms = terms.loc[list(CALIBRATED)]
    assert (ok_terms["coverage"] >= 0.90).all(), ok_terms.to_string()
    assert (ok_terms["z_mean"].abs() <= 0.25).all(), ok_terms.to_string()


@pytest.mark.slow
def test_a_region_with_no_effect_covers_zero(study):
    terms, _ = study
    for scenario in ("region_zero", "ar1_strong", "builtin"):
        west = terms.loc[(scenario, "ATT_by_region3", "West")]
        assert west["truth"] == 0.0
        assert 0.93 <= west["coverage"] <= 0.98, (scenario, west.to_dict())
        assert abs(west["z_mean"]) <= 0.15, (scenario, west.to_dict())


@pytest.mark.slow
def test_independent_errors_understate_the_uncertainty_of_persistent_shocks(study):
    _, pooled = study
    ar1, iid = pooled.loc["ar1_strong"], pooled.loc["ar1_strong_iid"]
    assert (iid["z_sd"] > ar1["z_sd"] + 0.1).all(), (ar1.to_string(), iid.to_string())
    assert np.all(iid["coverage"] < ar1["coverage"])
