"""PSM-DID: propensity score, matching, balance and the DID on the matched sample."""

from __future__ import annotations

import numpy as np
import pytest

import bayescity as bc
from bayescity.datasets import simulate_city_panel
from bayescity.estimators import ParamError
from bayescity.estimators.robust.psm import (balance_table, kernel_matching, nearest_neighbour,
                                             propensity_scores)

PS = ["ln_gdp_pc_2003", "ln_pop_2003", "provincial_capital"]


@pytest.fixture(scope="module")
def selected():
    """A fresh panel where pilots are selected on income and size, whose trends differ."""
    sim = simulate_city_panel(4242, heterogeneous=False, dynamic=False, cohort_effects=False)
    panel = bc.load_panel(sim.data, unit="city", time="year", outcome="tfp_growth",
                          cohort="pilot_year", traits=["region3", "north_south"])
    return sim, panel


def test_logit_propensity_is_the_maximum_likelihood_logit():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 3)) * [1.0, 5.0, 0.1]
    d = (X @ [1.0, -0.1, 4.0] + rng.logistic(size=300) > 0).astype(int)
    ref = sm.Logit(d, sm.add_constant(X)).fit(disp=0).predict(sm.add_constant(X))
    np.testing.assert_allclose(propensity_scores(X, d), ref, atol=1e-7)


def _naive_nearest(score, treated, caliper_width):
    """Nearest control of each treated unit, with replacement (the brute-force definition)."""
    c = np.flatnonzero(~treated)
    out = {}
    for i in np.flatnonzero(treated):
        j = c[np.argmin(np.abs(score[c] - score[i]))]
        if caliper_width is None or abs(score[j] - score[i]) <= caliper_width:
            out[i] = j
    return out


def test_nearest_neighbour_with_replacement_is_the_nearest_control():
    rng = np.random.default_rng(0)
    score, treated = rng.uniform(size=80), rng.uniform(size=80) < 0.3
    m = nearest_neighbour(score, treated, replace=True, caliper=0.05)
    naive = _naive_nearest(score, treated, m.caliper_width)
    assert set(np.flatnonzero(m.matched_treated)) == set(naive)
    counts = np.bincount(list(naive.values()), minlength=80)
    used = counts > 0
    np.testing.assert_allclose(m.weights[~treated & used] / m.weights[~treated & used].sum(),
                               counts[~treated & used] / counts.sum())


def test_without_replacement_uses_each_control_once_in_order_of_the_score():
    score = np.array([0.9, 0.8, 0.3, 0.85, 0.1, 0.82])
    treated = np.array([True, True, True, False, False, False])
    m = nearest_neighbour(score, treated, replace=False)
    # unit 0 (largest score) takes 0.85 first; unit 1 then takes 0.82, not the used 0.85
    np.testing.assert_array_equal(m.weights, [1, 1, 1, 1, 1, 1])
    m2 = nearest_neighbour(score, treated, replace=False, caliper=0.06 / np.std(score, ddof=1))
    assert m2.caliper_width == pytest.approx(0.06)
    np.testing.assert_array_equal(m2.weights, [1, 1, 0, 1, 0, 1])
    ratio = nearest_neighbour(score, treated, ratio=2, replace=True)
    assert (ratio.weights[3:] > 0).all() and ratio.weights[3] > ratio.weights[4]


def test_kernel_matching_weights_controls_within_the_bandwidth():
    score = np.array([0.5, 0.9, 0.52, 0.45, 0.2])
    treated = np.array([True, True, False, False, False])
    m = kernel_matching(score, treated, bandwidth=0.06)
    assert m.matched_treated.tolist() == [True, False, False, False, False]
    assert m.weights[4] == 0 and m.weights[2] > m.weights[3] > 0


def test_matching_improves_balance_and_recovers_the_effect(selected):
    sim, panel = selected
    fit = bc.make_estimator("psm_did", ps_covariates=PS, caliper=0.2, covariates=[]).fit(panel)
    att = fit.effect("ATT")
    bal = att.part_frame("balance").set_index("covariate")
    assert (bal["smd_after"].abs() < bal["smd_before"].abs()).all()
    assert bal.loc[PS, "smd_after"].abs().max() < 0.25 < bal.loc[PS, "smd_before"].abs().max()
    row = att.row("overall")
    assert row["lower"] <= sim.truth.att <= row["upper"]
    naive = bc.make_estimator("twfe", covariates=[]).fit(panel).effect("ATT").row("overall")
    assert not naive["lower"] <= sim.truth.att <= naive["upper"]  # selection biases plain TWFE
    assert att.facts()["n_matched_treated"] < att.facts()["n_treated"]
    assert any("no control within the caliper" in n for n in att.warnings)


@pytest.mark.parametrize("kw", [dict(replace=True, ratio=3), dict(matching="kernel"),
                                dict(propensity="random_forest", caliper=0.25)])
def test_matching_variants_and_by(selected, kw):
    sim, panel = selected
    fit = bc.make_estimator("psm_did", ps_covariates=PS, by="region3", random_state=1,
                            **kw).fit(panel)
    assert fit.effect("ATT_by_region3").terms == ["East", "Middle", "West"]
    assert fit.effect("ATT").tests == () and fit.effect("ATT_by_region3").tests
    assert np.isfinite(fit.effect("ATT").estimate())


def test_balance_table_by_hand():
    import pandas as pd

    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 0.0, 1.0, 5.0]})
    treated = np.array([1, 1, 1, 0, 0, 0], bool)
    w = np.array([1, 1, 0, 2, 0, 1], float)
    row = balance_table(X, treated, w).iloc[0]
    assert row["smd_before"] == pytest.approx((2.0 - 2.0) / 1.0)
    assert row["mean_control_matched"] == pytest.approx((0 * 2 + 5 * 1) / 3)
    assert row["smd_after"] == pytest.approx(1.5 - 5 / 3)


@pytest.mark.parametrize("params, match", [({"ratio": 0}, "ratio: 0"),
                                           ({"caliper": -1}, "caliper"),
                                           ({"matching": "kernal"}, "did you mean 'kernel'"),
                                           ({"propensity": "probit"}, "propensity: 'probit'"),
                                           ({"baseline_periods": [2008, 2003]}, "baseline_periods")])
def test_parameter_mistakes(params, match):
    with pytest.raises(ParamError, match=match):
        bc.make_estimator("psm_did", **params).validate()


def test_unknown_ps_covariate_names_the_parameter(selected):
    with pytest.raises(ParamError, match="ps_covariates: column"):
        bc.make_estimator("psm_did", ps_covariates=["nope"]).check_panel(selected[1])
