"""Sun-Abraham IW estimator: agreement with pyfixest and moderndid, recovery, TWFE bias."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators import UnknownEstimandError

import pyfixest as pf
import moderndid


@pytest.fixture(scope="module")
def sa_mpdta(mpdta):
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    return bc.make_estimator("sun_abraham").fit(panel)


def saturated_reference(df: pd.DataFrame):
    """pyfixest's saturated cohort x event-time regression (never-treated: no dummies)."""
    work = df.assign(g=df["first.treat"])
    work["rel"] = np.where(work.g > 0, work.year - work.g, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("lemp ~ i(rel, g, ref=-1, ref2=0) | countyreal + year", data=work,
                       vcov={"CRV1": "countyreal"})
    keys = [re.match(r".+::(.+):.+::(.+)", n).groups() for n in fit._coefnames]
    cells = pd.DataFrame([(int(float(g)), int(float(e))) for e, g in keys], columns=["g", "e"])
    n = work.loc[work.g > 0].groupby(["g", "rel"]).size()
    cells["n"] = [n.loc[(g, e)] for g, e in zip(cells.g, cells.e)]
    return cells, np.asarray(fit._beta_hat), np.asarray(fit._vcov)


def iw(cells: pd.DataFrame, beta, vcov, select) -> tuple[float, float]:
    """Interaction-weighted average over the selected cells with cohort-share weights."""
    w = np.where(select, cells["n"].to_numpy(), 0.0)
    w = w / w.sum()
    return float(w @ beta), float(np.sqrt(w @ vcov @ w))


def test_iw_matches_saturated_regression_by_hand(mpdta, sa_mpdta):
    cells, beta, vcov = saturated_reference(mpdta)
    event = sa_mpdta.effect("ATT_event").table.set_index("term")
    assert sorted(int(t) for t in event.index) == sorted(cells.e.unique())
    diffs = []
    for e in cells.e.unique():
        est, se = iw(cells, beta, vcov, cells.e.to_numpy() == e)
        diffs += [event.loc[str(e), "estimate"] - est, event.loc[str(e), "std_error"] - se]
    est, se = iw(cells, beta, vcov, cells.e.to_numpy() >= 0)
    att = sa_mpdta.effect("ATT").row("overall")
    diffs += [att["estimate"] - est, att["std_error"] - se]
    assert np.max(np.abs(diffs)) < 1e-8


def test_event_aggregation_matches_pyfixest_saturated(mpdta, sa_mpdta):
    work = mpdta.assign(g=mpdta["first.treat"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.event_study(work, yname="lemp", idname="countyreal", tname="year", gname="g",
                             estimator="saturated")
        ref = fit.aggregate(agg="period")
    ours = sa_mpdta.effect("ATT_event").table.set_index("term")
    ref.index = [str(int(float(i))) for i in ref.index]
    ref = ref.loc[ours.index]
    assert np.max(np.abs(ours["estimate"] - ref["Estimate"].astype(float))) < 1e-8
    assert np.max(np.abs(ours["std_error"] - ref["Std. Error"].astype(float))) < 1e-8


def test_post_cells_equal_callaway_santanna_never_treated(mpdta, sa_mpdta):
    """Without covariates on a balanced panel, CATT(g, e >= 0) is CS's ATT(g, t) (never-treated)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = moderndid.att_gt(moderndid.load_mpdta(), yname="lemp", tname="year",
                              idname="countyreal", gname="first.treat", est_method="reg",
                              boot=False, cband=False)
        simple = moderndid.aggte(cs, type="simple", boot=False, cband=False)
        dynamic = moderndid.aggte(cs, type="dynamic", boot=False, cband=False)
    assert sa_mpdta.effect("ATT").estimate() == pytest.approx(simple.overall_att, abs=1e-8)
    event = sa_mpdta.effect("ATT_event")
    for e, att in zip(dynamic.event_times, dynamic.att_by_event):
        if e >= 0:
            assert event.estimate(int(e)) == pytest.approx(att, abs=1e-8)


def test_results_carry_inference_facts(sa_mpdta):
    for res in sa_mpdta.results():
        assert res.n_clusters == 500 and res.interval_kind == "t_CRV1"
        assert res.facts()["control_cohort"] == "never"
    assert sa_mpdta.effect("ATT_cohort").terms == ["2004", "2006", "2007"]
    assert sa_mpdta.effect("ATT_event").tests[0].name == "pre-trends: leads e in [-5, -1] zero"


def test_last_treated_control_cohort(mpdta):
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    est = bc.make_estimator("sun_abraham", control_cohort="last").fit(panel)
    assert est.effect("ATT").facts()["control_cohort"].startswith("last")
    assert est.effect("ATT").n_obs == (20 + 40 + 131) * 4
    assert max(int(t) for t in est.effect("ATT_event").terms) == 2
    with pytest.raises(ValueError, match="control_cohort"):
        bc.make_estimator("sun_abraham", control_cohort="nope").fit(panel)


def simulate_staggered(seed: int, n_early=60, n_late=60, n_never=8, n_periods=12):
    """Early (g=3) and late (g=8) cohorts, few never-treated, effects growing with event time
    and twice as large in the early cohort: the design where static TWFE is biased."""
    rng = np.random.default_rng(seed)
    cohort = np.r_[np.full(n_early, 3), np.full(n_late, 8), np.zeros(n_never, int)]
    n_units = cohort.size
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(1, n_periods + 1), n_units)
    g = cohort[unit]
    e = time - g
    tau = np.where((g > 0) & (e >= 0), 0.5 * (e + 1) * np.where(g == 3, 2.0, 1.0), 0.0)
    y = (rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[time - 1] + tau
         + rng.normal(scale=0.5, size=unit.size))
    region = np.where(np.arange(n_units) % 3 == 0, "North", "South")[unit]
    df = pd.DataFrame({"unit": unit, "time": time, "g": g, "y": y, "region": region})
    treated = (g > 0) & (e >= 0)
    truth_event = pd.Series(tau[treated]).groupby(e[treated]).mean()
    return df, float(tau[treated].mean()), truth_event


def test_recovery_and_static_twfe_bias():
    df, att, att_event = simulate_staggered(7)
    panel = bc.load_panel(df, unit="unit", time="time", outcome="y", cohort="g",
                          traits=["region"])
    sa = bc.make_estimator("sun_abraham", interval_prob=0.99).fit(panel)
    event = sa.effect("ATT_event").table.set_index("term")
    for e, truth in att_event.items():
        assert event.loc[str(e), "lower"] <= truth <= event.loc[str(e), "upper"], e
    overall = bc.make_estimator("sun_abraham").fit(panel).effect("ATT").row("overall")
    assert overall["lower"] <= att <= overall["upper"]
    twfe = bc.make_estimator("twfe").fit(panel).effect("ATT").row("overall")
    assert abs(twfe["estimate"] - att) > 3 * twfe["std_error"]
    assert not twfe["lower"] <= att <= twfe["upper"]


def test_by_trait_not_mutating_and_unknown_estimand():
    df, _, _ = simulate_staggered(3)
    before = df.copy()
    panel = bc.load_panel(df, unit="unit", time="time", outcome="y", cohort="g",
                          traits=["region"])
    est = bc.make_estimator("sun_abraham", by="region").fit(panel)
    pd.testing.assert_frame_equal(df, before)
    res = est.effect("ATT_by_region")
    assert res.terms == ["North", "South"] and res.tests[0].df_denom == panel.n_units - 1
    with pytest.raises(UnknownEstimandError, match="ATT_by_province"):
        est.effect("ATT_by_province")
    with pytest.raises(ValueError, match="by: 'province'"):
        bc.make_estimator("sun_abraham", by="province").fit(panel)
