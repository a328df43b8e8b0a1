"""Frequentist calibration of the hierarchical DID over simulated panels -- slow.

200 panels of the built-in design (285 cities, the real pilot cohorts, 17 treated western
cities) per scenario of :mod:`bayescity.estimators.bayes.coverage`: a homogeneous effect,
effects by region with the West exactly zero, different build-ups by region, strongly
persistent AR(1) shocks, heavy-tailed (t3) shocks, no effect at all, and
``simulate_city_panel`` itself fitted by ``[region3, north_south]``; plus the strongly
persistent panels fitted with ``errors: iid``. Each fit uses the defaults with 2 chains x 500
draws after 300 warm-up iterations (the default is 4 x 2,000 after 500; the 1,600 fits took 20
minutes on two shared cores). The coverage of the 95% intervals,
the mean and sd of the standardised errors and the widths, per scenario, estimand and term, are
written to ``reports/bayes_calibration/``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bayescity.estimators.bayes.coverage import (
    SCENARIOS,
    coverage_study,
    coverage_table,
)
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


def summaries(df):
    """Coverage tables: per scenario, estimand and term; per scenario and estimand; and over the
    calibrated scenarios together, per estimand and per term."""
    calibrated = df[df["scenario"].isin(CALIBRATED)].assign(scenario="calibrated")
    return {"terms": coverage_table(df), "estimands": coverage_table(df, by_term=False),
            "calibrated_terms": coverage_table(calibrated),
            "calibrated": coverage_table(calibrated, by_term=False)}


def write_report(tables) -> None:
    REPORT.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table.to_csv(REPORT / f"coverage_{name}.csv", index=False)
    titles = {"calibrated": "Over the calibrated scenarios, by estimand",
              "calibrated_terms": "Over the calibrated scenarios, by term",
              "estimands": "By scenario and estimand", "terms": "By scenario and term"}
    (REPORT / "coverage.md").write_text(
        "# Coverage of the hierarchical DID's 95% intervals\n\n"
        f"{N_PANELS} panels per scenario, {FIT['chains']} chains x {FIT['draws']} draws "
        f"after {FIT['tune']} warm-up; calibrated scenarios: {', '.join(CALIBRATED)}.\n\n"
        + "\n\n".join(f"## {titles[k]}\n\n" + tables[k].round(3).to_markdown(index=False)
                      for k in titles) + "\n")


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
    tables = summaries(df)
    write_report(tables)
    keys = {"terms": ["scenario", "estimand", "term"], "estimands": ["scenario", "estimand"],
            "calibrated_terms": ["estimand", "term"], "calibrated": ["estimand"]}
    return {k: t.set_index(keys[k]) for k, t in tables.items()}


@pytest.mark.slow
def test_intervals_cover_at_the_nominal_rate(study):
    """Over the calibrated scenarios together (1,200 panels), the intervals of the ATT, of every
    event time and of every region cover 93-97% of the truths, and every estimand's standardised
    errors average within 0.15 of zero. Per scenario (200 panels, a binomial sd of 1.5 points
    around 95%) every estimand covers 92-98% and every term at least 88%.

    Partial pooling draws the extreme levels towards the others: per term the mean z stays
    within 0.35 (measured: Middle -0.33 and West +0.28 on the ``builtin`` panels, whose three
    regions differ most, 1.88, 1.31 and 0; -0.17 and +0.13 over the calibrated scenarios)."""
    ok = study["calibrated"]
    assert ok["coverage"].between(0.93, 0.97).all(), ok.to_string()
    assert (ok["z_mean"].abs() <= 0.15).all(), ok.to_string()
    regions = study["calibrated_terms"].drop("ATT_by_north_south", level="estimand")
    assert regions["coverage"].between(0.93, 0.97).all(), regions.to_string()
    assert (regions["z_mean"].abs() <= 0.2).all(), regions.to_string()
    each = study["estimands"].loc[list(CALIBRATED)]
    assert each["coverage"].between(0.92, 0.98).all(), each.to_string()
    terms = study["terms"].loc[list(CALIBRATED)]
    assert (terms["coverage"] >= 0.88).all(), terms.to_string()
    assert (terms["z_mean"].abs() <= 0.35).all(), terms.to_string()


@pytest.mark.slow
def test_a_region_with_no_effect_covers_zero(study):
    """The West's effect is exactly zero in these scenarios: its interval covers 0 at the
    nominal rate (92-98% of 200 panels). Where the West alone is zero and the others share one
    build-up (``region_zero``, ``ar1_strong``) it is not lifted by the others (mean z within
    0.15); on the
    ``builtin`` panels pooling lifts it by 0.28 posterior sds (bounded at 0.35)."""
    for scenario, bound in (("region_zero", 0.15), ("ar1_strong", 0.15), ("builtin", 0.35)):
        west = study["terms"].loc[(scenario, "ATT_by_region3", "West")]
        assert west["truth"] == 0.0
        assert 0.92 <= west["coverage"] <= 0.98, (scenario, west.to_dict())
        assert abs(west["z_mean"]) <= bound, (scenario, west.to_dict())


@pytest.mark.slow
def test_independent_errors_understate_the_uncertainty_of_persistent_shocks(study):
    ar1, iid = study["estimands"].loc["ar1_strong"], study["estimands"].loc["ar1_strong_iid"]
    assert (iid["z_sd"] > ar1["z_sd"] + 0.1).all(), (ar1.to_string(), iid.to_string())
    assert np.all(iid["coverage"] < ar1["coverage"])
