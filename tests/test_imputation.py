"""BJS imputation DID: agreement with pyfixest's did2s and a numpy calculation, recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators import UnknownEstimandError
from bayescity.estimators.core.controls import drop_always_treated
from bayescity.estimators.freq.imputation import imputation_cells

import pyfixest as pf


def simulate(seed: int, n_units: int = 120, n_periods: int = 10) -> pd.DataFrame:
    """Cohorts 4, 6, 8 (two or more untreated periods each) and never treated; effects vary by
    cohort and grow with event time; a time-varying covariate enters the outcome."""
    rng = np.random.default_rng(seed)
    cohort = rng.choice([0, 4, 6, 8], size=n_units)
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(1, n_periods + 1), n_units)
    g = cohort[unit]
    e = time - g
    tau = np.where((g > 0) & (e >= 0), (0.3 + 0.1 * g) * np.minimum(e + 1, 4), 0.0)
    x = rng.normal(size=unit.size) + 0.1 * time
    y = (rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[time - 1] + 0.7 * x + tau
         + rng.normal(size=unit.size))
    region = np.where(np.arange(n_units) % 3 == 0, "North", "South")[unit]
    return pd.DataFrame({"unit": unit, "time": time, "g": g, "y": y, "x": x, "tau": tau,
                         "region": region})


def panel_of(df: pd.DataFrame, covariates=("x",)) -> bc.Panel:
    return bc.load_panel(df, unit="unit", time="time", outcome="y", cohort="g",
                         covariates=list(covariates), traits=["region"])


def bjs_by_hand(df: pd.DataFrame, unit: str, time: str, y: str, g: str, covs=()) -> pd.DataFrame:
    """BJS imputation with dense dummies and numpy least squares; one row per treated obs."""
    treated = ((df[g] > 0) & (df[time] >= df[g])).to_numpy()
    X = np.column_stack([pd.get_dummies(df[unit], dtype=float).to_numpy(),
                         pd.get_dummies(df[time], dtype=float).to_numpy()[:, 1:],
                         df[list(covs)].to_numpy(dtype=float).reshape(len(df), -1)])
    beta = np.linalg.lstsq(X[~treated], df[y].to_numpy()[~treated], rcond=None)[0]
    out = df.loc[treated, [g, time]].copy()
    out["tau"] = df[y].to_numpy()[treated] - X[treated] @ beta
    out["e"] = out[time] - out[g]
    return out


def test_matches_numpy_bjs_on_mpdta(mpdta):
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    est = bc.make_estimator("imputation").fit(panel)
    ref = bjs_by_hand(mpdta, "countyreal", "year", "lemp", "first.treat")
    diffs = [est.effect("ATT").estimate() - ref["tau"].mean()]
    event = est.effect("ATT_event")
    diffs += [event.estimate(e) - v for e, v in ref.groupby("e")["tau"].mean().items()]
    cohort = est.effect("ATT_cohort")
    cells = ref.groupby(["first.treat", "year"])["tau"].mean().groupby(level=0).mean()
    diffs += [cohort.estimate(g) - v for g, v in cells.items()]
    assert np.max(np.abs(diffs)) < 1e-8
    assert est.effect("ATT").n_clusters == 500 and est.effect("ATT").interval_kind == "t_CRV_did2s"


def test_cells_match_pyfixest_did2s_estimates_and_se():
    df = simulate(4)
    df["treat"] = ((df.g > 0) & (df.time >= df.g)).astype(int)
    frame = bc.load_panel(df.drop(columns="treat"), unit="unit", time="time", outcome="y",
                          cohort="g", covariates=["x"]).data
    fit = imputation_cells(frame, unit="unit", time="time", outcome="y", covariates=["x"],
                           cluster="unit")
    names = [f"c_{g}_{t}" for g, t in zip(fit.cells.cohort, fit.cells.time)]
    for name, g, t in zip(names, fit.cells.cohort, fit.cells.time):
        df[name] = ((df.g == g) & (df.time == t)).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.did2s(df, yname="y", first_stage="~ x | unit + time",
                       second_stage="~ " + " + ".join(names), treatment="treat", cluster="unit")
    # pyfixest recovers the first-stage fixed effects iteratively (tolerance ~1e-6); ours are
    # exact (test_two_stage checks them against dense least squares to 1e-9).
    assert np.max(np.abs(fit.estimates - ref.coef()[names].to_numpy())) < 1e-4
    assert np.max(np.abs(np.sqrt(np.diag(fit.vcov)) - ref.se()[names].to_numpy())) < 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pooled = pf.did2s(df, yname="y", first_stage="~ x | unit + time",
                          second_stage="~ i(treat)", treatment="treat", cluster="unit")
    est = bc.make_estimator("imputation").fit(panel_of(df.drop(columns=["treat", *names])))
    assert est.effect("ATT").estimate() == pytest.approx(float(pooled.coef().iloc[0]), abs=1e-5)


def test_covariates_match_numpy_bjs():
    df = simulate(5)
    est = bc.make_estimator("imputation").fit(panel_of(df))
    ref = bjs_by_hand(df, "unit", "time", "y", "g", covs=["x"])
    event = est.effect("ATT_event")
    diffs = [event.estimate(e) - v for e, v in ref.groupby("e")["tau"].mean().items()]
    assert np.max(np.abs(diffs)) < 1e-6  # pyfixest recovers fixed effects iteratively (~1e-8)
    no_x = bc.make_estimator("imputation", covariates=[]).fit(panel_of(df))
    assert abs(no_x.effect("ATT").estimate() - est.effect("ATT").estimate()) > 1e-3


def test_recovery_on_simulated_panels():
    df = simulate(6)
    est = bc.make_estimator("imputation", interval_prob=0.99).fit(panel_of(df))
    treated = df.loc[df.tau > 0].assign(e=lambda d: d.time - d.g)
    event = est.effect("ATT_event").table.set_index("term")
    for e, truth in treated.groupby("e")["tau"].mean().items():
        assert event.loc[str(e), "lower"] <= truth <= event.loc[str(e), "upper"], e


def test_by_trait_equality_test_not_mutating_unknown_estimand():
    df = simulate(8)
    before = df.copy()
    panel = panel_of(df)
    est = bc.make_estimator("imputation", by="region").fit(panel)
    pd.testing.assert_frame_equal(df, before)
    res = est.effect("ATT_by_region")
    assert res.terms == ["North", "South"] and res.n_clusters == 120
    assert res.tests[0].name == "equal ATT across region" and res.tests[0].df_denom == 119
    pooled = est.effect("ATT").estimate()
    assert min(res.table.estimate) <= pooled <= max(res.table.estimate)
    with pytest.raises(UnknownEstimandError, match="imputation does not estimate"):
        est.effect("ATT_calendar")


def test_always_treated_units_are_dropped():
    df = simulate(9)
    df.loc[df.unit < 5, "g"] = 1
    frame = panel_of(df).data
    kept, n = drop_always_treated(frame, unit="unit", time="time")
    assert n == 5 and kept["unit"].nunique() == 115
    est = bc.make_estimator("imputation").fit(panel_of(df))
    assert est.effect("ATT").facts()["dropped_always_treated_units"] == 5


def test_counterfactual_part_is_the_gap_the_event_effects_average():
    """The report's observed vs imputed untreated outcome: from adoption on, the gap between the
    treated units' mean outcome and mean imputed Y(0) at each event time is imputation's
    ATT(e); before adoption it is the first stage's residual mean (near 0 with no pre-trend)."""
    from conftest import make_staggered

    panel = bc.load_panel(make_staggered(seed=5, n_units=60, effect=1.0), unit="unit",
                          time="year", outcome="y", cohort="g")
    fit = bc.make_estimator("imputation").fit(panel)
    table = fit.effect("ATT").part_frame("counterfactual").set_index("event_time")
    events = fit.effect("ATT_event").table.set_index("term")["estimate"]
    post = table.loc[table.index >= 0]
    np.testing.assert_allclose((post["observed"] - post["untreated"]).to_numpy(),
                               events.loc[[str(e) for e in post.index]].to_numpy(), atol=1e-10)
    pre = table.loc[table.index < 0]
    assert abs((pre["observed"] - pre["untreated"]).mean()) < 0.1
    assert (table["n_units"] > 0).all()
