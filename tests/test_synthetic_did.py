"""synthetic_did: R synthdid on California's Proposition 99 (through synthdid-py, its Python port
with the same data), the published estimate, staggered recovery, and config-time errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthdid

import bayescity as bc
from bayescity.estimators import ParamError
from bayescity.estimators.robust.sdid_design import fit_blocks, replicate, replicate_vcov
from bayescity.estimators.robust.synthetic_did import build_design
from bayescity.reports import FitRecord, ReportInputs, unit_table, write_report
from bayescity.reports.referee_figures_b import synthetic_trajectories

#: Arkhangelsky, Athey, Hirshberg, Imbens & Wager (2021, AER 111(12), Table 1): SDID -15.6
#: (R synthdid: -15.6038); placebo standard error about 9.8 (R's vcov(method = "placebo")).
PROP99_TAU, PROP99_PLACEBO_SE = -15.6038, 9.8


@pytest.fixture(scope="module")
def prop99():
    df = synthdid.load_california_prop99()
    first = df[df["treated"] == 1].groupby("State")["Year"].min()
    df = df.assign(g=df["State"].map(first).fillna(0).astype(int))
    panel = bc.load_panel(df, unit="State", time="Year", outcome="PacksPerCapita", cohort="g")
    matrices = synthdid.panel_matrices(synthdid.load_california_prop99())
    reference = synthdid.synthdid_estimate(matrices.Y, matrices.N0, matrices.T0)
    return panel, reference, matrices


def _block_design(panel):
    design, units, _ = build_design(panel, None)
    return design, units, fit_blocks(design)


def test_prop99_estimate_and_weights_match_r_synthdid(prop99):
    panel, ref, matrices = prop99
    design, units, fits = _block_design(panel)
    assert fits[0].tau == pytest.approx(float(ref), abs=1e-9)
    assert fits[0].tau == pytest.approx(PROP99_TAU, abs=5e-5)
    np.testing.assert_allclose(fits[0].omega, ref.weights.omega, atol=1e-10)
    np.testing.assert_allclose(fits[0].lam, ref.weights.lambda_, atol=1e-10)
    assert list(units[:design.n_controls]) == list(matrices.units[:matrices.N0])


def test_prop99_placebo_variance_matches_r_synthdid(prop99):
    panel, ref, _ = prop99
    design, _, fits = _block_design(panel)
    reps = replicate(design, fits, "placebo", 20, np.random.default_rng(7))
    ours = np.sqrt(replicate_vcov(np.array([[c[0].mean()] for c, _ in reps]), "placebo")[0, 0])
    theirs = synthdid.placebo_se(ref, 20, random_state=7)
    assert ours == pytest.approx(theirs, rel=1e-9)
    fit = bc.make_estimator("synthetic_did", variance="placebo", n_reps=100,
                           random_state=1).fit(panel)
    att = fit.effect("ATT")
    assert att.estimate() == pytest.approx(PROP99_TAU, abs=5e-5)
    assert att.row("overall")["std_error"] == pytest.approx(PROP99_PLACEBO_SE, rel=0.2)
    assert att.interval_kind == "wald_placebo"
    assert att.part_frame("sdid_unit_weights")["weight"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(fit.fits_[0].omega, ref.weights.omega, atol=1e-10)


def _simulated(seed=0, n=60, t=14, cohorts=(2006, 2010), effect=2.0):
    """Factor-model panel in which treated units load more on a trending factor: plain DID is
    biased, SDID's weights undo it."""
    rng = np.random.default_rng(seed)
    years = np.arange(2000, 2000 + t)
    g = np.zeros(n, int)
    g[: n // 3] = rng.choice(cohorts, n // 3)
    load = rng.normal(size=n) + 1.0 * (g > 0)
    trend = np.linspace(0, 3, t)
    D = (g[:, None] > 0) & (years[None, :] >= g[:, None])
    y = (rng.normal(size=(n, 1)) + np.outer(load, trend) + effect * D
         + rng.normal(scale=0.3, size=(n, t)))
    return pd.DataFrame({"unit": np.repeat([f"u{i:02d}" for i in range(n)], t),
                         "year": np.tile(years, n), "y": y.ravel(), "g": np.repeat(g, t),
                         "region": np.repeat(np.where(np.arange(n) % 2, "N", "S"), t)})


@pytest.fixture(scope="module")
def staggered_fit():
    df = _simulated()
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          traits=["region"])
    return df, panel, bc.make_estimator("synthetic_did", n_reps=40, random_state=3).fit(panel)


def test_staggered_recovers_the_effect_and_matches_synthdid_py(staggered_fit):
    df, panel, fit = staggered_fit
    att = fit.effect("ATT")
    assert abs(att.estimate() - 2.0) < 3 * att.row("overall")["std_error"]
    assert abs(att.estimate() - 2.0) < 0.25
    twfe = bc.make_estimator("twfe").fit(panel).effect("ATT").estimate()
    assert abs(twfe - 2.0) > abs(att.estimate() - 2.0)
    ref = synthdid.staggered_synthdid_estimate(df.assign(d=((df.g > 0) & (df.year >= df.g))
                                                         .astype(int)),
                                               unit="unit", time="year", outcome="y",
                                               treatment="d")
    assert att.estimate() == pytest.approx(ref.att, abs=1e-9)
    cohorts = fit.effect("ATT_cohort")
    for g, tau in zip(ref.by_cohort["adoption_time"], ref.by_cohort["tau"]):
        assert cohorts.estimate(str(g)) == pytest.approx(tau, abs=1e-9)


def test_jackknife_matches_synthdid_py(staggered_fit):
    df, panel, _ = staggered_fit
    fit = bc.make_estimator("synthetic_did", variance="jackknife").fit(panel)
    ref = synthdid.staggered_synthdid_estimate(df.assign(d=((df.g > 0) & (df.year >= df.g))
                                                         .astype(int)),
                                               unit="unit", time="year", outcome="y",
                                               treatment="d")
    assert fit.effect("ATT").row("overall")["std_error"] == pytest.approx(
        ref.se(method="jackknife"), rel=1e-9)


def test_config_time_errors(prop99):
    panel = prop99[0]
    with pytest.raises(ParamError, match="variance: 'placeb'.*did you mean 'placebo'"):
        bc.make_estimator("synthetic_did", variance="placeb").validate()
    with pytest.raises(ParamError, match="n_reps"):
        bc.make_estimator("synthetic_did", n_reps=1).validate()
    with pytest.raises(ParamError, match="bootstrap is undefined with one treated unit"):
        bc.make_estimator("synthetic_did").check_panel(panel)
    with pytest.raises(ParamError, match="n_reps: 1 is below the minimum 2"):
        bc.make_estimator("synthetic_did", variance="placebo", n_reps=1).fit(panel)
    with pytest.raises(ParamError, match="jackknife needs two treated units"):
        bc.make_estimator("synthetic_did", variance="jackknife").check_panel(panel)


def test_trajectory_table_figure_and_report(prop99, tmp_path):
    fit = bc.make_estimator("synthetic_did", variance="placebo", n_reps=2,
                            random_state=1).fit(prop99[0])
    traj = fit.effect("ATT").part_frame("sdid_trajectories")
    post = traj["time"] >= 1989
    gap = (traj.loc[post, "treated"] - traj.loc[post, "synthetic_shifted"]).mean()
    assert gap == pytest.approx(fit.effect("ATT").estimate(), abs=1e-9)
    fig = synthetic_trajectories(traj)
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), traj["synthetic_shifted"])
    inputs = ReportInputs("prop99", "r", {"sdid": fit.results()},
                          [FitRecord("sdid", "synthetic_did")],
                          {"source": "prop99", "first_period": 1970, "last_period": 2000},
                          unit_table(prop99[0]))
    write_report(tmp_path, inputs)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = html[html.index("Decompositions, synthetic controls"):]
    for fig_id in ("fig-sdid-trajectories-sdid-ATT", "fig-sdid-unit-weights-sdid-ATT"):
        assert fig_id in section
    assert "Synthetic DID: time weights (lambda) by cohort" in section


def test_block_design_matches_diff_diff():
    import warnings

    from diff_diff import SyntheticDiD as DDSyntheticDiD

    df = _simulated(seed=2, n=40, cohorts=(2008,))
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g")
    ours = bc.make_estimator("synthetic_did", variance="jackknife").fit(panel).effect("ATT")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = DDSyntheticDiD(variance_method="jackknife").fit(
            df.assign(d=(df["g"] > 0).astype(int)), outcome="y", treatment="d", unit="unit",
            time="year", post_periods=list(range(2008, 2014)))
    assert ours.estimate() == pytest.approx(ref.att, abs=1e-8)
    assert ours.row("overall")["std_error"] == pytest.approx(ref.se, rel=1e-6)
