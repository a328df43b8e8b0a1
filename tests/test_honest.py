"""HonestDiD sensitivity (Rambachan & Roth 2023): agreement with moderndid and the breakdown."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators import ParamError
from bayescity.estimators.robust.honest import (bound_terms, breakdown_value,
                                                event_coefficients, target_weights)
from bayescity.results.effect import EffectResult

GRID = 30


@pytest.fixture(scope="module")
def reference_event_study():
    import moderndid

    gt = moderndid.att_gt(data=moderndid.load_mpdta(), yname="lemp", tname="year",
                          gname="first.treat", idname="countyreal", est_method="dr", boot=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return moderndid.aggte(gt, type="dynamic")


def _ours(mpdta, **kw):
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    return bc.make_estimator("honest_did", estimator="callaway_santanna",
                             estimator_params={"min_cohort_size": 1}, grid_points=GRID,
                             **kw).fit(panel).effect("ATT_sensitivity")


@pytest.mark.parametrize("restriction, bounds, event_time", [
    ("relative_magnitude", [1.0], 0),
    ("smoothness", [0.0, 0.01, 0.02], 0),
    ("smoothness", [0.0, 0.02], 2),
])
def test_matches_moderndid_on_the_same_event_study(mpdta, reference_event_study, restriction,
                                                   bounds, event_time):
    from moderndid.didhonest import honest_did

    key = "m_bar_vec" if restriction == "relative_magnitude" else "m_vec"
    ref = honest_did(reference_event_study, event_time=event_time, sensitivity_type=restriction,
                     grid_points=GRID, **{key: bounds})
    ours = _ours(mpdta, restriction=restriction, bounds=bounds, event_time=event_time)
    robust = ref.robust_ci.to_dicts()
    np.testing.assert_allclose(ours.table["lower"], [r["lb"] for r in robust], atol=1e-7)
    np.testing.assert_allclose(ours.table["upper"], [r["ub"] for r in robust], atol=1e-7)
    np.testing.assert_allclose(ours.facts()["original_ci"],
                               [ref.original_ci.lb, ref.original_ci.ub], atol=1e-9)
    assert ours.interval_kind == f"honest_did_{robust[0]['method']}"


def _event_result(terms, estimates, vcov):
    table = pd.DataFrame({"term": [str(t) for t in terms], "estimate": estimates,
                          "std_error": np.sqrt(np.diag(vcov)), "lower": np.nan, "upper": np.nan,
                          "p_value": np.nan, "prob_positive": np.nan})
    return EffectResult("event_study", "frequentist", "ATT_event", table, 100, vcov=vcov)


def test_event_coefficients_drop_the_reference_and_split_pre_and_post():
    terms = [-3, -2, -1, 0, 1, 2]
    vcov = np.diag([1.0, 2.0, 0.0, 3.0, 4.0, 5.0])
    c = event_coefficients(_event_result(terms, np.arange(6.0), vcov))
    assert c.event_times.tolist() == [-3, -2, 0, 1, 2] and (c.num_pre, c.num_post) == (2, 3)
    np.testing.assert_array_equal(np.diag(c.sigma), [1, 2, 3, 4, 5])
    np.testing.assert_allclose(target_weights(c, None), [1 / 3] * 3)
    np.testing.assert_array_equal(target_weights(c, 1), [0, 1, 0])
    with pytest.raises(ValueError, match="event_time: 7"):
        target_weights(c, 7)
    with pytest.raises(ValueError, match="consecutive"):
        event_coefficients(_event_result([-4, -2, -1, 0], np.zeros(4), np.eye(4)))


def test_breakdown_value_is_the_first_bound_reaching_zero():
    table = pd.DataFrame({"bound": [0.0, 0.5, 1.0, 1.5], "lb": [0.2, 0.1, -0.05, -0.3],
                          "ub": [0.9, 1.0, 1.2, 1.5]})
    assert breakdown_value(table) == 1.0
    assert breakdown_value(table.iloc[:2]) == np.inf
    # the robust intervals decide, not the original one: at Mbar = 0 this one excludes 0
    assert breakdown_value(table.assign(lb=[0.027, -0.1, -0.2, -0.3])) == 0.5
    assert bound_terms([0.0663996, 0.1327992, 0.0], "M") == ["M=0.0664", "M=0.133", "M=0"]
    assert bound_terms([0.1, 0.10001], "M") == ["M=0.1", "M=0.10001"]


def test_breakdown_matches_moderndid(mpdta, reference_event_study):
    """The breakdown value is moderndid's robust intervals read the R HonestDiD way: the
    smallest bound whose robust interval includes 0, on the same grid and event study."""
    from moderndid.didhonest import honest_did

    bounds, event_time = [0.0, 0.02, 0.05, 0.1], 2
    ref = honest_did(reference_event_study, event_time=event_time,
                     sensitivity_type="smoothness", grid_points=GRID, m_vec=bounds)
    robust = pd.DataFrame(ref.robust_ci.to_dicts())
    covered = [b for b, lo, hi in zip(bounds, robust["lb"], robust["ub"]) if lo <= 0 <= hi]
    expected = min(covered) if covered else np.inf
    ours = _ours(mpdta, restriction="smoothness", bounds=bounds, event_time=event_time)
    (test,) = ours.tests
    assert test.statistic == expected and 0 < expected < np.inf  # inside the grid
    part = ours.part_frame("sensitivity")
    assert part["method"].iloc[0] == "Original" and part["bound"].iloc[1:].tolist() == bounds


@pytest.mark.parametrize("params, match", [
    ({"estimator": "twfe"}, "estimator: 'twfe'"),
    ({"restriction": "smooth"}, "did you mean 'smoothness'"),
    ({"restriction": "relative_magnitude", "ci_method": "FLCI"}, "ci_method: 'FLCI'"),
    ({"bounds": [-1]}, "bounds"),
    ({"grid_points": 2}, "grid_points"),
])
def test_parameter_mistakes(params, match):
    with pytest.raises(ParamError, match=match):
        bc.make_estimator("honest_did", **params).validate()
