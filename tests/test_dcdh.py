"""de Chaisemartin-D'Haultfoeuille dynamic DID: agreement with diff-diff's
ChaisemartinDHaultfoeuille (L_max horizons), recovery of dynamic effects, clustering."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from conftest import make_staggered

dd = pytest.importorskip("diff_diff")


def assert_agrees(est, df: pd.DataFrame, *, unit, time, outcome, cohort, horizons, placebos):
    d = ((df[cohort] > 0) & (df[time] >= df[cohort])).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.ChaisemartinDHaultfoeuille(twfe_diagnostic=False).fit(
            df.assign(_d=d), outcome=outcome, unit=unit, time=time, treatment="_d",
            L_max=horizons)
    event = est.effect("ATT_event").table.set_index("term")
    checked = 0
    for l, v in ref.event_study_effects.items():
        if v["n_obs"] == 0:
            continue
        term = str(l - 1)  # effect l -> event time l-1
        assert event.loc[term, "estimate"] == pytest.approx(v["effect"], abs=1e-10)
        assert event.loc[term, "std_error"] == pytest.approx(v["se"], abs=1e-10)
        assert event.loc[term, "n_treated"] == v["n_obs"]
        checked += 1
    for l, v in (ref.placebo_event_study or {}).items():
        if v["n_obs"] == 0 or -l > placebos:  # placebo l (key -l) -> event time -(l+1)
            continue
        term = str(l - 1)
        assert event.loc[term, "estimate"] == pytest.approx(v["effect"], abs=1e-10)
        assert event.loc[term, "std_error"] == pytest.approx(v["se"], abs=1e-10)
        checked += 1
    assert checked == len(event)
    att = est.effect("ATT").row("overall")
    assert att["estimate"] == pytest.approx(ref.overall_att, abs=1e-10)
    # diff-diff adds the horizons' variances as if independent; ours keeps their covariance.
    post = event[event.index.astype(int) >= 0]
    w = post["n_treated"].to_numpy(float) / post["n_treated"].sum()
    assert np.sqrt(np.sum((w * post["std_error"]) ** 2)) == pytest.approx(ref.overall_se,
                                                                           abs=1e-10)
    return att


def test_matches_diff_diff_on_mpdta(mpdta):
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    est = bc.make_estimator("dcdh", effects=3, placebo=3).fit(panel)
    att = assert_agrees(est, mpdta.rename(columns={"first.treat": "ft"}), unit="countyreal",
                        time="year", outcome="lemp", cohort="ft", horizons=3, placebos=3)
    assert att["estimate"] == pytest.approx(-0.0352583, abs=1e-7)
    assert att["std_error"] > 0


def test_matches_diff_diff_on_castle_doctrine_panel():
    """diff-diff's castle-doctrine loader (offline: its synthetic stand-in, 49 states x
    2000-2010) as a staggered panel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        castle = dd.load_castle_doctrine()
    panel = bc.load_panel(castle, unit="state", time="year", outcome="homicide_rate",
                          cohort="first_treat")
    est = bc.make_estimator("dcdh", effects=4, placebo=2).fit(panel)
    assert_agrees(est, castle, unit="state", time="year", outcome="homicide_rate",
                  cohort="first_treat", horizons=4, placebos=2)


def test_recovers_dynamic_effects_and_clusters():
    df = make_staggered(seed=6, n_units=150, effect=0.0, cohorts=(2004, 2006, 2008))
    e = np.where(df["g"] > 0, df["year"] - df["g"], -1)
    df["y"] = df["y"] + np.where(e >= 0, 0.5 + 0.25 * e, 0.0)
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          traits=["region"])
    est = bc.make_estimator("dcdh", effects=3, placebo=2, by="region").fit(panel)
    event = est.effect("ATT_event").table.set_index("term")
    for h in range(3):
        truth = 0.5 + 0.25 * h
        row = event.loc[str(h)]
        assert row["lower"] < truth < row["upper"] and abs(row["estimate"] - truth) < 0.2
    for lead in ("-2", "-3"):
        assert event.loc[lead, "lower"] < 0 < event.loc[lead, "upper"]
    att = est.effect("ATT")
    n = event.loc[["0", "1", "2"], "n_treated"].to_numpy(float)
    truth = np.sum(n * np.array([0.5, 0.75, 1.0])) / n.sum()
    assert att.row("overall")["lower"] < truth < att.row("overall")["upper"]
    by = est.effect("ATT_by_region")
    assert by.terms == ["North", "South"] and by.tests
    # Clustering by region (2 clusters) sums the units' contributions within regions.
    coarse = bc.make_estimator("dcdh", effects=3, placebo=2, cluster="region").fit(panel)
    assert coarse.effect("ATT").estimate() == att.estimate()
    assert coarse.effect("ATT").n_clusters == 2
    assert coarse.effect("ATT").row("overall")["std_error"] != att.row("overall")["std_error"]


def test_bad_parameters_are_caught_before_fitting():
    with pytest.raises(bc.estimators.ParamError, match="effects"):
        bc.make_estimator("dcdh", effects=0).validate()
    with pytest.raises(bc.estimators.ParamError, match="placebo"):
        bc.make_estimator("dcdh", placebo=1.5).validate()
