"""pretrends_power: Roth (2022) against diff-diff's PreTrendsPower and a simulation of the
pre-test, on an event study of a simulated panel; config-time errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from diff_diff.pretrends import PreTrendsPower as DDPower

import bayescity as bc
from bayescity.estimators import ParamError
from bayescity.reports import ReportInputs
from bayescity.reports.cache import FigureMaker
from bayescity.reports.referee_figures_b import power_curve
from bayescity.reports.sections import referee_figures
from bayescity.estimators.robust.pretrend_power import (mean_after_pretest, nis_box,
                                                        rejection_probability)
from conftest import make_staggered


@pytest.fixture(scope="module")
def fit():
    panel = bc.load_panel(make_staggered(seed=5, n_units=60), unit="unit", time="year",
                          outcome="y", cohort="g", covariates=["x"])
    return bc.make_estimator("pretrends_power", random_state=1).fit(panel)


def _leads(fit):
    plot = fit.effect("pretrend_bias").part_frame("pretrend_event_plot")
    events = fit.effect("ATT_event")
    keep = [str(e) != "-1" for e in events.terms]
    sigma = np.asarray(events.vcov)[np.ix_(keep, keep)]
    t = plot["event_time"].to_numpy()
    return t, sigma, t < -1


def test_slopes_match_diff_diff(fit):
    t, sigma, pre = _leads(fit)
    s11 = sigma[np.ix_(pre, pre)]
    slopes = fit.effect("pretrend_slope")
    for power in (0.5, 0.8):
        ref = DDPower(alpha=0.05, power=power)._compute_mdv_nis(np.abs(t[pre] + 1.0), s11)
        assert slopes.estimate(f"power={power:g}") == pytest.approx(ref, rel=2e-4)
    g50 = slopes.estimate("power=0.5")
    assert rejection_probability(g50 * (t[pre] + 1.0), s11, 0.05) == pytest.approx(0.5, abs=1e-4)


def test_conditional_bias_matches_a_simulated_pretest(fit):
    t, sigma, pre = _leads(fit)
    bias = fit.effect("pretrend_bias")
    slope = bias.facts("pretrend_violation")["slope"]
    delta = slope * (t + 1.0)
    draws = np.random.default_rng(0).multivariate_normal(delta, sigma, size=400_000)
    passed = (np.abs(draws[:, pre]) <= nis_box(sigma[np.ix_(pre, pre)], 0.05)).all(axis=1)
    simulated = draws[passed].mean(axis=0)
    se = draws[passed].std(axis=0) / np.sqrt(passed.sum())
    exact = mean_after_pretest(delta, sigma, pre, 0.05)
    assert np.all(np.abs(exact - simulated) < 4 * se)
    post = [str(int(e)) for e in t[~pre]]
    np.testing.assert_allclose([bias.estimate(e) for e in post], exact[~pre])
    table = bias.part_frame("pretrend_biases").set_index("event_time")
    np.testing.assert_allclose(table.loc[post, "bias_unconditional"], delta[~pre])
    assert bias.estimate("average") == pytest.approx(exact[~pre].mean())


def test_power_curve_rises_from_the_size(fit):
    table = fit.effect("pretrend_slope").part_frame("pretrend_power_curve")
    curve = table[~table["reported"]]
    assert curve["power"].iloc[0] == pytest.approx(1 - 0.95 ** 4, abs=0.08)
    assert curve["power"].is_monotonic_increasing and curve["power"].iloc[-1] > 0.9


def test_config_time_errors():
    with pytest.raises(ParamError, match="powers: 0.01 must exceed"):
        bc.make_estimator("pretrends_power", powers=[0.01]).validate()
    with pytest.raises(ParamError, match="estimator: 'twfe' is not one of"):
        bc.make_estimator("pretrends_power", estimator="twfe").validate()
    with pytest.raises(ParamError, match="alpha"):
        bc.make_estimator("pretrends_power", alpha=1.5).validate()


def test_power_figure_draws_the_curve(fit):
    slopes = fit.effect("pretrend_slope")
    table = slopes.part_frame("pretrend_power_curve")
    marked = table[table["reported"]]
    np.testing.assert_allclose(marked["slope"], slopes.table["estimate"])
    np.testing.assert_allclose(marked["power"], [0.5, 0.8])
    fig = power_curve(table)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(),
                               table.loc[~table["reported"], "power"])
    assert fit.slopes_ == tuple(slopes.table["estimate"])
    inputs = ReportInputs("t", "r", {"power": fit.results()}, [], {}, pd.DataFrame())
    assert [b.content.id for b in referee_figures(inputs, FigureMaker())] == [
        "fig-pretrend-power-curve-power-pretrend-slope"]


def test_a_window_without_leads_is_refused_before_fitting():
    with pytest.raises(ParamError, match="no lead before the reference period"):
        bc.make_estimator("pretrends_power", estimator_params={"window": [-1, 5]}).validate()
