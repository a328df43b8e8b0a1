"""Callaway & Sant'Anna: agreement with moderndid and R did on mpdta, recovery on a simulated
city panel, bootstrap inference, clustering, trait levels and the estimator contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescity
from bayescity.data.panel import DERIVED
from bayescity.estimands import aggregate
from bayescity.estimators.freq import CallawaySantAnna

import moderndid
import polars as pl

CONTROL = {"never_treated": "nevertreated", "not_yet_treated": "notyettreated"}
AGGTE = {"ATT_cohort": "group", "ATT_event": "dynamic", "ATT_calendar": "calendar"}


@pytest.fixture(scope="module")
def mpdta(mpdta: pd.DataFrame) -> pd.DataFrame:
    """mpdta plus a time-varying covariate."""
    noise = np.random.default_rng(0).normal(scale=0.5, size=len(mpdta))
    return mpdta.assign(lpop_tv=mpdta["lpop"] + noise)


def mpdta_panel(df: pd.DataFrame, covariates=("lpop",)) -> bayescity.Panel:
    return bayescity.load_panel(df, unit="countyreal", time="year", outcome="lemp",
                                cohort="first.treat", covariates=list(covariates))


def reference(df, control_group, est_method, xformla):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mp = moderndid.att_gt(data=pl.from_pandas(df), yname="lemp", tname="year",
                              idname="countyreal", gname="first.treat", est_method=est_method,
                              control_group=CONTROL[control_group], xformla=xformla)
        aggs = {t: moderndid.aggte(mp, type=t) for t in ("simple", "group", "dynamic", "calendar")}
    return mp, aggs


@pytest.mark.parametrize("covariates", [(), ("lpop",)], ids=["nocov", "lpop"])
@pytest.mark.parametrize("est_method", ["reg", "ipw", "dr"])
@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_agrees_with_moderndid(mpdta, control_group, est_method, covariates):
    est = CallawaySantAnna(control_group=control_group, est_method=est_method,
                           covariates=list(covariates)).fit(mpdta_panel(mpdta))
    mp, aggs = reference(mpdta, control_group, est_method, "~lpop" if covariates else None)
    gt = est.gt_
    assert gt[["cohort", "time"]].to_numpy().tolist() == np.column_stack([mp.groups, mp.times]).tolist()
    np.testing.assert_allclose(gt["att"], mp.att_gt, atol=1e-8)
    np.testing.assert_allclose(gt["std_error"], mp.se_gt, rtol=1e-6)
    att = est.effect("ATT").row("overall")
    assert att.estimate == pytest.approx(aggs["simple"].overall_att, abs=1e-8)
    assert att.std_error == pytest.approx(aggs["simple"].overall_se, rel=1e-6)
    for estimand, kind in AGGTE.items():
        res, ref = est.effect(estimand), aggs[kind]
        assert res.terms == [str(int(v)) for v in ref.event_times]
        np.testing.assert_allclose(res.table["estimate"], ref.att_by_event, atol=1e-8)
        np.testing.assert_allclose(res.table["std_error"], ref.se_by_event, rtol=1e-6)
        assert res.facts("overall")["estimate"] == pytest.approx(ref.overall_att, abs=1e-8)
        assert res.facts("overall")["std_error"] == pytest.approx(ref.overall_se, rel=1e-6)
    pretest = est.effect("ATT_event").facts()["did_gt_pretest"]
    assert pretest["p_value"] == pytest.approx(mp.wald_pvalue, abs=1e-5)


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_time_varying_covariates_enter_at_the_base_period(mpdta, control_group):
    est = CallawaySantAnna(control_group=control_group).fit(mpdta_panel(mpdta, ["lpop_tv"]))
    mp, _ = reference(mpdta, control_group, "dr", "~lpop_tv")
    np.testing.assert_allclose(est.gt_["att"], mp.att_gt, atol=1e-8)
    np.testing.assert_allclose(est.gt_["std_error"], mp.se_gt, rtol=1e-6)


def test_r_did_numbers(mpdta):
    """R did 2.5: att_gt(lemp, never treated, dr, no covariates) then aggte(...)."""
    est = CallawaySantAnna(covariates=[]).fit(mpdta_panel(mpdta))
    att = est.effect("ATT").row("overall")
    assert att.estimate == pytest.approx(-0.0399513, abs=1e-6)
    assert att.std_error == pytest.approx(0.0120340, rel=1e-4)
    assert est.effect("ATT_cohort").facts("overall")["estimate"] == pytest.approx(-0.0310183, abs=1e-6)
    assert est.effect("ATT_event").facts("overall")["estimate"] == pytest.approx(-0.0772398, abs=1e-6)
    assert est.effect("ATT_calendar").facts("overall")["estimate"] == pytest.approx(-0.0417004, abs=1e-6)
    event = est.effect("ATT_event")
    assert event.terms == ["-3", "-2", "-1", "0", "1", "2", "3"]
    assert event.interval_kind == "wald_if" and event.n_clusters == 500
    names = [t.name for t in event.tests]
    assert names == ["pre-trends: ATT(e) = 0 for e in [-5, -1]"]
    assert event.tests[0].df == 3
    assert "over-rejects" in event.facts()["did_gt_pretest"]["caution"]
    long = CallawaySantAnna(pretrend_window=(-2, -1)).fit(mpdta_panel(mpdta, ())).effect("ATT_event")
    assert long.tests[0].df == 2


def test_bootstrap_inference(mpdta):
    panel = mpdta_panel(mpdta)
    analytic = CallawaySantAnna().fit(panel).effect("ATT_event").table
    fit = lambda **kw: CallawaySantAnna(bootstrap=True, n_boot=999, random_state=7, **kw).fit(panel)
    uniform, pointwise = fit().effect("ATT_event"), fit(bands="pointwise").effect("ATT_event")
    assert uniform.interval_kind == "bootstrap_uniform"
    assert pointwise.interval_kind == "bootstrap_pointwise"
    np.testing.assert_allclose(uniform.table["std_error"], analytic["std_error"], rtol=0.15)
    u_width = uniform.table["upper"] - uniform.table["lower"]
    p_width = pointwise.table["upper"] - pointwise.table["lower"]
    assert (u_width > p_width).all()
    pd.testing.assert_frame_equal(fit().effect("ATT_event").table, uniform.table)
    seeded = CallawaySantAnna(bootstrap=True, random_state=np.random.SeedSequence(8)).fit(panel)
    assert not seeded.effect("ATT_event").table.equals(uniform.table)
    rade = fit(multiplier="rademacher").effect("ATT").table
    assert rade["std_error"][0] == pytest.approx(0.0120340, rel=0.15)


def test_cluster_robust_errors(mpdta):
    df = mpdta.assign(state=mpdta["countyreal"] // 1000)
    panel = bayescity.load_panel(df, unit="countyreal", time="year", outcome="lemp",
                                 cohort="first.treat")
    est = CallawaySantAnna(cluster="state").fit(panel)
    res = est.effect("ATT")
    assert res.n_clusters == df["state"].nunique()
    by_unit = CallawaySantAnna().fit(panel).effect("ATT").row("overall")
    assert res.row("overall")["std_error"] != pytest.approx(by_unit["std_error"], rel=1e-3)
    agg = aggregate(est.cells_, "ATT")
    state = est.clusters_
    sums = np.array([agg.influence[state == s].sum() for s in np.unique(state)])
    assert res.row("overall")["std_error"] == pytest.approx(np.sqrt((sums**2).sum()) / 500, rel=1e-10)
    boot = CallawaySantAnna(cluster="state", bootstrap=True, random_state=1).fit(panel)
    assert boot.effect("ATT").row("overall")["std_error"] == pytest.approx(
        res.row("overall")["std_error"], rel=0.2)
    df2 = df.assign(bad=np.arange(len(df)) % 3)
    panel2 = bayescity.load_panel(df2, unit="countyreal", time="year", outcome="lemp",
                                  cohort="first.treat")
    with pytest.raises(ValueError, match="within units"):
        CallawaySantAnna(cluster="bad").fit(panel2)


def test_first_period_adopters_are_dropped_and_input_not_mutated(mpdta):
    df = mpdta.copy()
    never = df.loc[df["first.treat"] == 0, "countyreal"].unique()[:5]
    df.loc[df["countyreal"].isin(never), "first.treat"] = 2003
    before = df.copy()
    panel = mpdta_panel(df)
    frame_before = panel.data
    est = CallawaySantAnna().fit(panel)
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(panel.data, frame_before)
    att = est.effect("ATT")
    assert att.facts()["n_units"] == 495
    assert any("treated in the first period" in n for n in att.notes)
    assert set(est.gt_["cohort"]) == {2004, 2006, 2007}


def test_options_are_checked(mpdta):
    panel = mpdta_panel(mpdta)
    with pytest.raises(ValueError, match="control_group"):
        CallawaySantAnna(control_group="everyone").fit(panel)
    with pytest.raises(ValueError, match="est_method"):
        CallawaySantAnna(est_method="ml").fit(panel)
    with pytest.raises(ValueError, match="bands"):
        CallawaySantAnna(bands="wide").fit(panel)
    assert bayescity.get_estimator("callaway_santanna") is CallawaySantAnna


# ---------------------------------------------------------------------------- simulated panel
def simulated(seed: int):
    from bayescity import datasets
    sim = datasets.simulate_city_panel(seed, heterogeneous=True, dynamic=True,
                                       cohort_effects=True, selection=False)
    panel = bayescity.load_panel(sim.data, unit="city", time="year", outcome="tfp_growth",
                                 cohort="pilot_year", traits=["region3"])
    return sim, panel


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_simulated_effects(seed):
    sim, panel = simulated(seed)
    est = CallawaySantAnna(bootstrap=True, random_state=seed, by="region3",
                           event_window=(-5, 8)).fit(panel)
    att = est.effect("ATT").row("overall")
    assert att.lower <= sim.truth.att <= att.upper
    event = est.effect("ATT_event").table
    assert event["term"].tolist() == [str(e) for e in range(-5, 9)]
    truth = sim.truth.att_event.reindex(event["term"].astype(int)).to_numpy()
    assert ((event["lower"] <= truth) & (truth <= event["upper"])).all()
    by = est.effect("ATT_by_region3")
    truth_by = sim.truth.att_by["region3"].reindex(by.terms).to_numpy()
    assert ((by.table["lower"] <= truth_by) & (truth_by <= by.table["upper"])).all()
    assert by.tests[0].name == "equal ATT across region3" and by.tests[0].p_value < 0.05


def test_levels_equal_subsample_fits():
    sim, panel = simulated(2)
    est = CallawaySantAnna(by="region3").fit(panel)
    by = est.effect("ATT_by_region3")
    for level in by.terms:
        sub = panel.data.drop(columns=list(DERIVED))
        sub = sub[sub["region3"] == level]
        alone = CallawaySantAnna().fit(bayescity.load_panel(
            sub, unit="city", time="year", outcome="tfp_growth", cohort="pilot_year"))
        row = alone.effect("ATT").row("overall")
        assert by.row(level)["estimate"] == pytest.approx(row["estimate"], abs=1e-10)
        assert by.row(level)["std_error"] == pytest.approx(row["std_error"], rel=1e-8)
    assert {"level", "att", "std_error"} <= set(est.gt_by_.columns)


def test_separating_covariate_gets_a_clear_error_and_small_cohorts_are_left_out_on_request():
    from bayescity import datasets

    sim = datasets.simulate_city_panel(4, selection=False)
    df = sim.data.assign(pilot_dummy=(sim.data["pilot_year"] > 0).astype(float))
    panel = bayescity.load_panel(df, unit="city", time="year", outcome="tfp_growth",
                                 cohort="pilot_year", covariates=["pilot_dummy"])
    with pytest.raises(ValueError, match="separate cohort 2008, which has one unit"):
        CallawaySantAnna(est_method="dr").check_panel(panel)
    with pytest.raises(ValueError, match="separates the cohort"):
        CallawaySantAnna(est_method="dr", min_cohort_size=2).fit(panel)
    plain = bayescity.load_panel(df, unit="city", time="year", outcome="tfp_growth",
                                 cohort="pilot_year")
    fit = CallawaySantAnna(min_cohort_size=2).fit(plain)
    assert 2008 not in set(fit.gt_["cohort"])  # Shenzhen, a one-city cohort
    assert any("fewer than 2 units" in note for note in fit.effect("ATT").notes)
    kept = CallawaySantAnna().fit(plain)
    assert 2008 in set(kept.gt_["cohort"])
    assert any("2008 rests on one unit" in note for note in kept.effect("ATT").warnings)


def test_att_gt_part_is_the_fitted_group_time_table():
    """The ATT(g,t) the report draws by cohort is the fit's own table (``gt_``)."""
    from conftest import make_staggered

    panel = bayescity.load_panel(make_staggered(seed=5, n_units=60), unit="unit", time="year",
                          outcome="y", cohort="g")
    fit = bayescity.make_estimator("callaway_santanna", covariates=[]).fit(panel)
    pd.testing.assert_frame_equal(fit.effect("ATT_cohort").part_frame("att_gt"),
                                  fit.gt_.reset_index(drop=True), check_dtype=False)
    assert fit.effect("ATT").part("att_gt") is None
