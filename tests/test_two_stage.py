"""Gardner two-stage DID: agreement with diff-diff's TwoStageDiD (which reproduces R did2s),
the exact first stage shared with ``imputation``, and recovery of a known effect."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import bayescity as bc
from bayescity.data.panel import COHORT
from conftest import make_staggered

dd = pytest.importorskip("diff_diff")


def diff_diff_two_stage(df: pd.DataFrame, *, unit: str, time: str, outcome: str, cohort: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dd.TwoStageDiD(pretrends=True).fit(df, outcome=outcome, unit=unit, time=time,
                                                  first_treat=cohort, aggregate="all")


def assert_agrees(est, ref, tol=1e-6):
    att = est.effect("ATT").row("overall")
    assert att["estimate"] == pytest.approx(ref.overall_att, abs=tol)
    assert att["std_error"] == pytest.approx(ref.overall_se, abs=tol)
    event = est.effect("ATT_event").table.set_index("term")
    for e, v in ref.event_study_effects.items():
        if e == -1 or not np.isfinite(v["se"]) or v["n_obs"] == 0:
            continue
        assert event.loc[str(e), "estimate"] == pytest.approx(v["effect"], abs=tol)
        assert event.loc[str(e), "std_error"] == pytest.approx(v["se"], abs=tol)
    cohort = est.effect("ATT_cohort").table.set_index("term")
    for g, v in ref.group_effects.items():
        assert cohort.loc[str(g), "estimate"] == pytest.approx(v["effect"], abs=tol)
        assert cohort.loc[str(g), "std_error"] == pytest.approx(v["se"], abs=tol)


def test_matches_diff_diff_on_mpdta(mpdta):
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    est = bc.make_estimator("two_stage").fit(panel)
    ref = diff_diff_two_stage(mpdta.rename(columns={"first.treat": "ft"}), unit="countyreal",
                              time="year", outcome="lemp", cohort="ft")
    assert_agrees(est, ref)
    # The number the issue quotes for did2s's pooled second stage on mpdta.
    assert est.effect("ATT").row("overall")["std_error"] == pytest.approx(0.0134784, abs=5e-8)


def test_matches_diff_diff_on_castle_doctrine_panel():
    """diff-diff's castle-doctrine loader; offline it returns a synthetic stand-in with the
    same shape (49 states x 2000-2010, cohorts 2005-2010), which serves as a staggered panel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        castle = dd.load_castle_doctrine()
    panel = bc.load_panel(castle, unit="state", time="year", outcome="homicide_rate",
                          cohort="first_treat")
    est = bc.make_estimator("two_stage").fit(panel)
    ref = diff_diff_two_stage(castle, unit="state", time="year", outcome="homicide_rate",
                              cohort="first_treat")
    assert_agrees(est, ref)


def test_imputation_is_exact_against_dense_least_squares():
    """Y(0) from a dense least-squares fit of unit and year dummies on the untreated rows of
    the built-in panel; the imputation ATT (diff-diff's 1.7481613) agrees to 1e-9."""
    panel = bc.load_panel("builtin:china_cities", unit="city", time="year",
                          outcome="tfp_growth", cohort="pilot_year")
    df = panel.data
    treated = ((df[COHORT] > 0) & (df["year"] >= df[COHORT])).to_numpy()
    X = np.column_stack([pd.get_dummies(df["city"], dtype=float).to_numpy(),
                         pd.get_dummies(df["year"], dtype=float).to_numpy()[:, 1:]])
    y = df["tfp_growth"].to_numpy()
    with threadpool_limits(1):  # dense least squares: one BLAS thread, steady on a busy machine
        beta = np.linalg.lstsq(X[~treated], y[~treated], rcond=None)[0]
    dense = float(np.mean(y[treated] - X[treated] @ beta))
    est = bc.make_estimator("imputation", covariates=[]).fit(panel)
    assert est.effect("ATT").estimate() == pytest.approx(dense, abs=1e-9)
    assert dense == pytest.approx(1.7481613, abs=1e-7)
    # two_stage: the same point estimate, did2s's pooled standard error (0.177064).
    two = bc.make_estimator("two_stage", covariates=[]).fit(panel).effect("ATT").row("overall")
    assert two["estimate"] == pytest.approx(dense, abs=1e-9)
    assert two["std_error"] == pytest.approx(0.177064, abs=5e-7)


def test_recovers_a_known_effect_by_level():
    df = make_staggered(seed=5, n_units=90, effect=1.5)
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          covariates=["x"], traits=["region"])
    est = bc.make_estimator("two_stage", by="region").fit(panel)
    att = est.effect("ATT").row("overall")
    assert att["lower"] < 1.5 < att["upper"] and abs(att["estimate"] - 1.5) < 0.15
    leads = est.effect("ATT_event").table
    pre = leads[leads["term"].astype(int) < 0]
    assert len(pre) and (pre["lower"] < 0).all() and (pre["upper"] > 0).all()
    by = est.effect("ATT_by_region")
    assert by.terms == ["North", "South"] and by.tests
    assert np.all(np.abs(by.table["estimate"] - 1.5) < 0.3)


def test_bad_parameter_is_caught_before_fitting():
    with pytest.raises(bc.estimators.ParamError, match="pretrends"):
        bc.make_estimator("two_stage", pretrends="yes").validate()
