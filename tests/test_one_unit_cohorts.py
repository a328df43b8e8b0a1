"""Cohorts of one unit: every cohort counts by default (as R did), against moderndid on a
published panel (Medicaid expansion, one state in 2017) and on a panel built with one-unit
cohorts; every term says how many treated units it rests on."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest

import bayescity as bc
from bayescity.estimators.freq import CallawaySantAnna

import moderndid

AGGTE = {"ATT_cohort": "group", "ATT_event": "dynamic", "ATT_calendar": "calendar"}


def one_unit_panel(seed: int = 5) -> pd.DataFrame:
    """40 units over 2000-2011: cohort 2003 and cohort 2009 have one unit each, cohort 2006
    twelve, the rest never treated; the 2003 unit alone reaches event times 6-8."""
    rng = np.random.default_rng(seed)
    years = np.arange(2000, 2012)
    g = np.array([2003] + [2009] + [2006] * 12 + [0] * 26)
    n = g.size
    df = pd.DataFrame({"id": np.repeat(np.arange(1, n + 1), years.size),
                       "year": np.tile(years, n), "g": np.repeat(g, years.size)})
    e = df["year"] - df["g"]
    effect = np.where((df["g"] > 0) & (e >= 0), 0.5 + 0.1 * e, 0.0)
    df["y"] = (np.repeat(rng.normal(size=n), years.size) + np.tile(rng.normal(size=years.size), n)
               + effect + rng.normal(scale=0.3, size=len(df)))
    return df


def moderndid_fit(df: pd.DataFrame, *, y: str, unit: str, time: str, g: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mp = moderndid.att_gt(data=pl.from_pandas(df), yname=y, tname=time, idname=unit, gname=g)
        aggs = {k: moderndid.aggte(mp, type=k) for k in ("simple", "group", "dynamic", "calendar")}
    return mp, aggs


def assert_matches(est: CallawaySantAnna, mp, aggs) -> None:
    np.testing.assert_allclose(est.gt_["att"], mp.att_gt, atol=1e-8)
    np.testing.assert_allclose(est.gt_["std_error"], mp.se_gt, rtol=1e-6)
    att = est.effect("ATT").row("overall")
    assert att.estimate == pytest.approx(aggs["simple"].overall_att, abs=1e-8)
    assert att.std_error == pytest.approx(aggs["simple"].overall_se, rel=1e-6)
    for estimand, kind in AGGTE.items():
        res, ref = est.effect(estimand), aggs[kind]
        assert res.terms == [str(int(v)) for v in ref.event_times]
        np.testing.assert_allclose(res.table["estimate"], ref.att_by_event, atol=1e-8)
        np.testing.assert_allclose(res.table["std_error"], ref.se_by_event, rtol=1e-6)
        assert res.facts("overall")["estimate"] == pytest.approx(ref.overall_att, abs=1e-8)


@pytest.fixture(scope="module")
def ehec() -> pd.DataFrame:
    """Medicaid expansion (Rambachan & Roth 2023) as bundled with moderndid; 2017: one state."""
    df = moderndid.load_ehec().to_pandas()
    return df.assign(g=df["yexp2"].fillna(0).astype(int)).drop(columns="yexp2")


def test_every_cohort_counts_by_default_on_the_medicaid_panel(ehec):
    panel = bc.load_panel(ehec, unit="stfips", time="year", outcome="dins", cohort="g")
    assert panel.describe().cohorts[2017] == 1
    est = CallawaySantAnna().fit(panel)
    assert_matches(est, *moderndid_fit(ehec, y="dins", unit="stfips", time="year", g="g"))
    assert est.effect("ATT").estimate() == pytest.approx(0.0668019, abs=1e-6)
    assert est.effect("ATT_cohort").row("2017")["n_treated"] == 1
    assert any("2017 rests on one unit" in n for n in est.effect("ATT").warnings)
    dropped = CallawaySantAnna(min_cohort_size=2).fit(panel)
    assert dropped.effect("ATT").estimate() == pytest.approx(0.0669132, abs=1e-6)
    assert "2017" not in dropped.effect("ATT_cohort").terms


def test_one_unit_cohorts_against_moderndid_and_their_event_times():
    df = one_unit_panel()
    panel = bc.load_panel(df, unit="id", time="year", outcome="y", cohort="g")
    est = CallawaySantAnna().fit(panel)
    assert_matches(est, *moderndid_fit(df, y="y", unit="id", time="year", g="g"))
    event = est.effect("ATT_event")
    assert {"6", "7", "8"} <= set(event.terms)
    assert (event.table.set_index("term").loc[["6", "7", "8"], "n_treated"] == 1).all()
    assert event.row("0")["n_treated"] == 14
    kept_only = CallawaySantAnna(min_cohort_size=2).fit(panel).effect("ATT_event")
    assert "6" not in kept_only.terms and kept_only.row("0")["n_treated"] == 12


@pytest.mark.parametrize("method", ["sun_abraham", "imputation", "event_study"])
def test_terms_on_one_unit_are_flagged_in_every_event_estimator(method):
    panel = bc.load_panel(one_unit_panel(), unit="id", time="year", outcome="y", cohort="g")
    params = {"window": (-3, 8), "binning": False} if method == "event_study" else {}
    fit = bc.make_estimator(method, **params).fit(panel)
    event = fit.effect("ATT_event").table.set_index("term")
    assert (event.loc[["6", "7", "8"], "n_treated"] == 1).all()
    assert fit.effect("ATT").row("overall")["n_treated"] == 14
    table = bc.compare({"est": fit.results()})
    thin = table[(table["estimand"] == "ATT_event") & table["term"].isin(["6", "7", "8"])]
    assert thin["note"].str.startswith("warning: rests on 1 treated unit").all()
    assert {"6", "7", "8"} <= set(fit.effect("ATT_event").thin_terms())


def test_tests_on_thin_terms_say_so():
    panel = bc.load_panel(one_unit_panel(), unit="id", time="year", outcome="y", cohort="g")
    fit = bc.make_estimator("sun_abraham", pretrend_window=(-5, -1)).fit(panel)
    # the 2009 unit alone is observed at e = -9..-6; the window keeps e = -5..-1 (14 units)
    assert "one treated unit" not in str(fit.effect("ATT_event").tests_frame()["note"].iloc[0])
    wide = bc.make_estimator("sun_abraham", pretrend_window=None).fit(panel)
    note = wide.effect("ATT_event").tests_frame()["note"].iloc[0]
    assert "includes terms resting on one treated unit: -9, -8, -7" in note


def test_treated_units_are_counted_exactly_on_unbalanced_panels():
    """Two units of one cohort observed in different post periods: two units behind ATT, one
    behind each event time (the largest-cell shortcut would say one)."""
    from bayescity.estimands import CellEffects, aggregate

    cells = pd.DataFrame({"cohort": [5, 5], "time": [5, 6], "weight": [1.0, 1.0]})
    exact = CellEffects(cells, np.array([1.0, 2.0]),
                        cell_units=(np.array(["a"]), np.array(["b"])))
    assert aggregate(exact, "ATT").n_treated.tolist() == [2]
    assert aggregate(exact, "ATT_event").n_treated.tolist() == [1, 1]
    assert aggregate(CellEffects(cells, np.array([1.0, 2.0])), "ATT").n_treated.tolist() == [1]
    df = one_unit_panel()
    df = df[~((df["id"] == 3) & (df["year"] == 2008)) & ~((df["id"] == 4) & (df["year"] == 2010))]
    panel = bc.load_panel(df, unit="id", time="year", outcome="y", cohort="g")
    fit = bc.make_estimator("imputation").fit(panel)
    assert fit.effect("ATT_cohort").row("2006")["n_treated"] == 12


@pytest.mark.parametrize("method", ["dml", "causal_forest"])
def test_ml_estimators_count_one_unit_cohorts_as_callaway_santanna_does(method):
    """The ML rows of a comparison rest on the same treated units as every other row: one-unit
    cohorts count by default, with callaway_santanna's warning, and min_cohort_size: 2 leaves
    them out with a note."""
    df = one_unit_panel()
    trait = np.random.default_rng(0).normal(size=df["id"].nunique())
    df["x"] = trait[df["id"].to_numpy() - 1]
    panel = bc.load_panel(df, unit="id", time="year", outcome="y", cohort="g", traits=["x"])
    cs = bc.make_estimator("callaway_santanna", est_method="dr", covariates=[]).fit(panel)
    extra = {"n_trees": 200, "n_seeds": 0} if method == "causal_forest" else {}
    common = dict(outcome_model="linear", propensity_model="linear", covariates=[],
                  random_state=0, **extra)
    fit = bc.make_estimator(method, **common).fit(panel)
    att, ref = fit.effect("ATT"), cs.effect("ATT")
    assert att.row("overall")["n_treated"] == ref.row("overall")["n_treated"] == 14
    assert abs(att.estimate() - ref.estimate()) < ref.row("overall")["std_error"]
    cohort = fit.effect("ATT_cohort").table.set_index("term")
    assert cohort.loc[["2003", "2009"], "n_treated"].tolist() == [1, 1]
    assert any("2003, 2009 each rest on one unit" in w for w in att.warnings)
    assert {"6", "7", "8"} <= set(fit.effect("ATT_event").thin_terms())
    dropped = bc.make_estimator(method, min_cohort_size=2, **common).fit(panel).effect("ATT")
    assert dropped.row("overall")["n_treated"] == 12
    assert any("left out (min_cohort_size)" in n for n in dropped.notes)
