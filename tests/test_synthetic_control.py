"""synthetic_control: diff-diff's SyntheticControl and R synthdid's sc_estimate on California's
Proposition 99, the published ADH (2010) donors and placebo p-value, recovery, config errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import synthdid
from diff_diff import SyntheticControl

import bayescity as bc
from bayescity.estimators import ParamError
from bayescity.reports import ReportInputs
from bayescity.reports.cache import FigureMaker
from bayescity.reports.referee_figures_b import placebo_ratios
from bayescity.reports.sections import referee_figures

#: Abadie, Diamond & Hainmueller (2010, JASA 105(490), Table 2): synthetic California's donors
#: (with income, beer, retail price, youth share and three lagged sales as predictors).
ADH_WEIGHTS = {"Colorado": 0.164, "Connecticut": 0.069, "Montana": 0.199, "Nevada": 0.234,
               "Utah": 0.334}
#: ADH 2010 sec. 3.4: California's post/pre RMSPE ratio is the highest of the 39 states.
ADH_P_VALUE = 1 / 39


def _figure_ids(est_id, results):
    """The ids of the figures the report's referee section draws from ``results``."""
    inputs = ReportInputs("t", "r", {est_id: results}, [], {}, pd.DataFrame())
    return [b.content.id for b in referee_figures(inputs, FigureMaker())]


@pytest.fixture(scope="module")
def prop99():
    df = synthdid.load_california_prop99()
    first = df[df["treated"] == 1].groupby("State")["Year"].min()
    df = df.assign(g=df["State"].map(first).fillna(0).astype(int))
    panel = bc.load_panel(df, unit="State", time="Year", outcome="PacksPerCapita", cohort="g")
    return df, panel


@pytest.fixture(scope="module")
def default_fit(prop99):
    return bc.make_estimator("synthetic_control").fit(prop99[1])


def test_prop99_matches_diff_diff(prop99, default_fit):
    df, _ = prop99
    data = df.assign(d=((df["g"] > 0) & (df["Year"] >= df["g"])).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SyntheticControl(seed=0).fit(data, outcome="PacksPerCapita", treatment="d",
                                           unit="State", time="Year")
    att = default_fit.effect("ATT")
    assert att.estimate() == pytest.approx(ref.att, abs=1e-6)
    ours = att.part_frame("sc_unit_weights").set_index("unit")["weight"]
    for state, w in ref.donor_weights.items():
        assert ours.get(state, 0.0) == pytest.approx(w, abs=1e-5)
    assert att.tests[0].statistic == pytest.approx(ref.rmspe_ratio, rel=1e-5)


def test_prop99_against_r_synthdid_and_published_donors(prop99, default_fit):
    m = synthdid.panel_matrices(synthdid.load_california_prop99())
    sc = synthdid.sc_estimate(m.Y, m.N0, m.T0)       # AAHIW 2021 Table 1: SC -19.6
    att = default_fit.effect("ATT")
    assert att.estimate() == pytest.approx(float(sc), abs=0.15)
    weights = att.part_frame("sc_unit_weights").set_index("unit")["weight"]
    # Outcome-only predictors: ADH's five donors still carry most of synthetic California.
    assert weights.reindex(list(ADH_WEIGHTS)).fillna(0).sum() > 0.9
    assert weights.idxmax() == max(ADH_WEIGHTS, key=ADH_WEIGHTS.get)


def test_prop99_adh_lags_reproduce_the_published_p_value(prop99):
    fit = bc.make_estimator("synthetic_control", outcome_lags=[1975, 1980, 1988]).fit(prop99[1])
    att = fit.effect("ATT")
    assert att.row("overall")["p_value"] == pytest.approx(ADH_P_VALUE)
    placebo = att.part_frame("sc_placebo_ranks")
    assert placebo.loc[placebo["is_treated"], "rank"].item() == 1
    assert att.estimate() < -15


def test_recovers_a_known_effect_on_a_one_unit_cohort():
    rng = np.random.default_rng(4)
    n, t = 30, 20
    years = np.arange(2000, 2000 + t)
    factors = rng.normal(size=(3, t)).cumsum(axis=1)
    loads = rng.dirichlet(np.ones(3), size=n)
    y = loads @ factors + rng.normal(scale=0.05, size=(n, t))
    g = np.zeros(n, int)
    g[0] = 2014
    y[0] = 0.5 * y[1] + 0.5 * y[2] + rng.normal(scale=0.05, size=t) + 1.5 * (years >= 2014)
    df = pd.DataFrame({"unit": np.repeat([f"c{i}" for i in range(n)], t),
                       "year": np.tile(years, n), "y": y.ravel(), "g": np.repeat(g, t)})
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g")
    att = bc.make_estimator("synthetic_control", treated_units=["c0"]).fit(panel).effect("ATT")
    assert att.estimate() == pytest.approx(1.5, abs=0.1)
    assert att.row("overall")["p_value"] == pytest.approx(1 / n)


def test_config_time_errors(prop99):
    panel = prop99[1]
    with pytest.raises(ParamError, match="v_method: 'nestd'.*did you mean 'nested'"):
        bc.make_estimator("synthetic_control", v_method="nestd").validate()
    with pytest.raises(ParamError, match="outcome_lags"):
        bc.make_estimator("synthetic_control", outcome_lags="1988").validate()
    with pytest.raises(ParamError, match="treated_units: 'Califronia'.*'California'"):
        bc.make_estimator("synthetic_control", treated_units=["Califronia"]).check_panel(panel)
    with pytest.raises(ParamError, match=r"outcome_lags: \[1995\]"):
        bc.make_estimator("synthetic_control", outcome_lags=[1995]).check_panel(panel)


def test_placebo_figure_and_report_figures(default_fit):
    att = default_fit.effect("ATT")
    ranks = att.part_frame("sc_placebo_ranks")
    assert len(ranks) == 39 and ranks["is_treated"].sum() == 1
    fig = placebo_ratios(ranks)
    bars = fig.axes[0].patches
    np.testing.assert_allclose([b.get_width() for b in bars], np.sort(ranks["ratio"]))
    assert _figure_ids("sc", default_fit.results()) == [
        "fig-sc-trajectories-sc-ATT", "fig-sc-unit-weights-sc-ATT", "fig-sc-placebo-ranks-sc-ATT"]
    assert default_fit.fits_["California"].weights @ np.ones(38) == pytest.approx(1.0)


@pytest.mark.slow
def test_prop99_placebo_p_value_matches_diff_diff(prop99, default_fit):
    """diff-diff's in-space placebos (each a nested V search: minutes) give the same rank."""
    df, _ = prop99
    data = df.assign(d=((df["g"] > 0) & (df["Year"] >= df["g"])).astype(int))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = SyntheticControl(seed=0).fit(data, outcome="PacksPerCapita", treatment="d",
                                           unit="State", time="Year")
        ref.in_space_placebo()
    assert default_fit.effect("ATT").row("overall")["p_value"] == pytest.approx(
        ref.placebo_p_value)
