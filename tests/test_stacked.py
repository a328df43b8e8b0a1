"""Stacked DID with Wing et al. weights: agreement with diff-diff's StackedDiD, recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from conftest import make_staggered

dd = pytest.importorskip("diff_diff")


def assert_agrees(est, df: pd.DataFrame, *, unit, time, outcome, cohort, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = dd.StackedDiD(**params).fit(df, outcome=outcome, unit=unit, time=time,
                                          first_treat=cohort)
    att = est.effect("ATT").row("overall")
    assert att["estimate"] == pytest.approx(ref.overall_att, abs=1e-8)
    assert att["std_error"] == pytest.approx(ref.overall_se, abs=1e-8)
    event = est.effect("ATT_event").table.set_index("term")
    effects = {h: v for h, v in ref.event_study_effects.items() if h != -1}
    assert sorted(event.index.astype(int)) == sorted(effects)
    for h, v in effects.items():
        assert event.loc[str(h), "estimate"] == pytest.approx(v["effect"], abs=1e-8)
        assert event.loc[str(h), "std_error"] == pytest.approx(v["se"], abs=1e-8)


@pytest.mark.parametrize("params", [{}, {"kappa_pre": 2, "kappa_post": 1,
                                         "control_group": "never_treated"}])
def test_matches_diff_diff_on_mpdta(mpdta, params):
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    est = bc.make_estimator("stacked", **params).fit(panel)
    assert_agrees(est, mpdta.rename(columns={"first.treat": "ft"}), unit="countyreal",
                  time="year", outcome="lemp", cohort="ft", **params)
    if not params:  # diff-diff's default on mpdta
        assert est.effect("ATT").estimate() == pytest.approx(-0.0315549, abs=1e-7)


def test_matches_diff_diff_on_castle_doctrine_panel():
    """diff-diff's castle-doctrine loader (offline: its synthetic stand-in, 49 states x
    2000-2010); cohorts 2009-2010 fall outside a [-3, 2] window and are trimmed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        castle = dd.load_castle_doctrine()
    panel = bc.load_panel(castle, unit="state", time="year", outcome="homicide_rate",
                          cohort="first_treat")
    params = {"kappa_pre": 3, "kappa_post": 2, "control_group": "strict"}
    est = bc.make_estimator("stacked", **params).fit(panel)
    assert est.effect("ATT").facts()["trimmed_events"]
    assert_agrees(est, castle, unit="state", time="year", outcome="homicide_rate",
                  cohort="first_treat", **params)


def test_recovers_a_known_effect_by_level():
    df = make_staggered(seed=8, n_units=120, effect=1.2, cohorts=(2004, 2006, 2008))
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          traits=["region"])
    est = bc.make_estimator("stacked", kappa_pre=3, kappa_post=2, by="region").fit(panel)
    att = est.effect("ATT").row("overall")
    assert att["lower"] < 1.2 < att["upper"] and abs(att["estimate"] - 1.2) < 0.2
    event = est.effect("ATT_event").table.set_index("term")
    for lead in ("-3", "-2"):
        assert event.loc[lead, "lower"] < 0 < event.loc[lead, "upper"]
    by = est.effect("ATT_by_region")
    assert by.terms == ["North", "South"] and by.tests
    assert np.all(np.abs(by.table["estimate"] - 1.2) < 0.35)


def test_bad_windows_are_caught_before_fitting(mpdta):
    with pytest.raises(bc.estimators.ParamError, match="kappa_pre"):
        bc.make_estimator("stacked", kappa_pre=0).validate()
    with pytest.raises(bc.estimators.ParamError, match="control_group"):
        bc.make_estimator("stacked", control_group="clean").validate()
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    with pytest.raises(bc.estimators.ParamError, match="no cohort's window"):
        bc.make_estimator("stacked", kappa_pre=3, kappa_post=3).check_panel(panel)
