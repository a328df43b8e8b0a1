"""The hierarchical DID estimator: results, posterior-probability tests, InferenceData, info,
parameter errors in the config's words, and the model checks on request."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators import ParamError
from bayescity.results import TestResult as PosteriorTest
from conftest import make_staggered

FAST = {"chains": 2, "draws": 400, "tune": 100}


@pytest.fixture(scope="module")
def panel():
    df = make_staggered(seed=31, n_units=50)
    df["north_south"] = np.where(df["unit"].str[-1].isin(list("01234")), "N", "S")
    return bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                         covariates=["x"], traits=["region", "north_south"])


@pytest.fixture(scope="module")
def fitted(panel):
    return bc.make_estimator("hierarchical_did", by="region", city_effects=True,
                             random_state=5, **FAST).fit(panel)


def test_every_estimand_with_posterior_summaries(fitted):
    names = [r.estimand for r in fitted.results()]
    assert names == ["ATT", "ATT_event", "ATT_cohort", "ATT_calendar", "ATT_by_region", "CATE"]
    for r in fitted.results():
        assert r.paradigm == "bayesian" and r.interval_kind == "equal_tailed"
        assert r.table["p_value"].isna().all()
        np.testing.assert_allclose(r.table["estimate"], r.draws.mean(axis=0))
        np.testing.assert_allclose(r.table["std_error"], r.draws.std(axis=0, ddof=1))
        np.testing.assert_allclose(r.table["prob_positive"], (r.draws > 0).mean(axis=0))
        lo, hi = np.quantile(r.draws, [0.025, 0.975], axis=0)
        np.testing.assert_allclose(r.table["lower"], lo)
        np.testing.assert_allclose(r.table["upper"], hi)
    treated = fitted.design_.units
    assert fitted.effect("CATE").terms == [str(u) for u in treated]
    assert fitted.effect("ATT_event").terms[0] == "0"


def test_posterior_probabilities_are_tests_without_p_values(fitted):
    att = fitted.effect("ATT")
    (t,) = att.tests
    assert isinstance(t, PosteriorTest) and t.kind == "posterior_probability"
    assert t.statistic == pytest.approx((att.draws[:, 0] > 0).mean())
    assert np.isnan(t.p_value) and np.isnan(t.df)
    by = fitted.effect("ATT_by_region")
    (pair,) = by.tests
    assert pair.name == "P(ATT[North] > ATT[South])"
    assert pair.statistic == pytest.approx((by.draws[:, 0] > by.draws[:, 1]).mean())


def test_inference_data_round_trips_through_netcdf(fitted, tmp_path):
    idata = fitted.idata_
    post = idata.posterior
    assert list(post["ATT_by_region"].coords["region"].values) == ["North", "South"]
    assert list(post["ATT_event"].coords["event_time"].values)[:3] == [0, 1, 2]
    assert list(post["level_dev_region"].coords["region"].values) == ["North", "South"]
    np.testing.assert_allclose(post["level_dev_region"].sum("region"), 0, atol=1e-10)
    assert post.attrs["sampler"] == "gibbs" and post.attrs["sampling_time"] > 0
    assert "diverging" in idata.sample_stats
    assert idata.log_likelihood["y"].shape == (2, 400, fitted.design_.rows["unit"].max() + 1)
    np.testing.assert_allclose(post["ATT"].values.ravel(), fitted.effect("ATT").draws[:, 0])
    path = tmp_path / "fit.nc"
    idata.to_netcdf(path)
    back = az.from_netcdf(path)
    np.testing.assert_array_equal(back.posterior["ATT_by_region"], post["ATT_by_region"])
    assert back.posterior.attrs["variant"] == "hierarchical"


def _plain(value) -> bool:
    if isinstance(value, (str, int, float, bool, np.ndarray, pd.DataFrame, pd.Series,
                          PosteriorTest, type(None))):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def test_parts_hold_the_diagnostics_sampler_and_model(fitted):
    for r in fitted.results():
        assert {p.name for p in r.parts} >= {"settings", "diagnostics", "sampler", "model"}
        table = r.part_frame("diagnostics")
        assert {"parameter", "rhat", "ess_bulk", "ess_tail", "reported", "breach"} <= set(table)
        assert r.facts("sampler")["sampler"] == "gibbs" and r.facts("sampler")["draws"] == 400
    assert fitted.effect("ATT").facts("model")["priors"]["effect"] == 2.5


def test_short_chains_are_never_reported_as_fine(panel):
    est = bc.make_estimator("hierarchical_did", chains=2, draws=30, tune=10,
                            random_state=1).fit(panel)
    warnings = est.effect("ATT").warnings
    assert any(n.startswith("sampler diagnostics:") and "ESS" in n and "for ATT" in n
               for n in warnings)
    table = est.effect("ATT").part_frame("diagnostics")
    assert table.loc[table["parameter"] == "ATT", "breach"].str.contains("ESS").all()


def test_two_traits_enter_additively(panel):
    est = bc.make_estimator("hierarchical_did", by=["region", "north_south"], random_state=2,
                            **FAST).fit(panel)
    names = [r.estimand for r in est.results()]
    assert "ATT_by_region" in names and "ATT_by_north_south" in names
    assert {"level_dev_region", "level_dev_north_south"} <= set(est.idata_.posterior)


@pytest.mark.parametrize("params, message", [
    ({"sampler": "gibs"}, r"sampler: 'gibs' is not one of .* \(did you mean 'gibbs'\?\)"),
    ({"likelihood": "student_t"}, "sampler: gibbs samples the normal likelihood only"),
    ({"parameterization": "centered"}, "parameterization: applies to the NUTS samplers"),
    ({"priors": {"trait_scale": 1}}, "priors: unknown key"),
    ({"priors": {"trait": -1}}, "priors: trait: expected a positive number"),
    ({"draws": 0}, "draws: 0 is below the minimum 4"),
    ({"variant": "pooled"}, "variant: 'pooled' is not one of"),
    ({"by": ["region", "region"]}, r"by: \[.region.\] listed more than once"),
])
def test_parameter_errors_in_the_configs_words(params, message):
    with pytest.raises(ParamError, match=message):
        bc.make_estimator("hierarchical_did", **params).validate()


def test_panel_checks_name_the_parameter(panel):
    with pytest.raises(ParamError, match="by: 'regio' is not a trait"):
        bc.make_estimator("hierarchical_did", by="regio").check_panel(panel)
    with pytest.raises(ParamError, match="trend_covariates: column 'nope' is not in the data"):
        bc.make_estimator("hierarchical_did", trend_covariates=["nope"]).check_panel(panel)


def test_model_checks_on_request(panel):
    est = bc.make_estimator("hierarchical_did", by="region", prior_predictive=True,
                            posterior_predictive=True, prior_sensitivity=True, loo=True,
                            random_state=3, **FAST).fit(panel)
    att = est.effect("ATT")
    prior = att.part_frame("prior_predictive")
    assert prior["sd"].iloc[0] > 5 * att.table["std_error"].iloc[0]  # the prior is weak
    assert set(att.part_frame("ppc")["statistic"]) == {"sd", "excess_kurtosis", "max_abs"}
    assert att.part_frame("ppc")["ppp"].between(0.01, 0.99).all()  # the model fits Gaussian data
    sens = est.effect("ATT_by_region").part_frame("prior_sensitivity")
    assert list(sens["term"]) == ["North", "South"] and (sens["max_shift_sd"] < 0.5).all()
    loo = att.part_frame("loo")
    assert set(loo["variant"]) == {"hierarchical", "unpooled", "static"}
    groups = set(est.idata_.groups())
    assert {"prior", "prior_predictive", "posterior_predictive", "observed_data"} <= groups


def test_heavy_tails_are_flagged_by_the_posterior_predictive_check():
    df = make_staggered(seed=41, n_units=50)
    rng = np.random.default_rng(41)
    df["y"] += rng.standard_t(2, size=len(df))
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g")
    est = bc.make_estimator("hierarchical_did", posterior_predictive=True, random_state=4,
                            **FAST).fit(panel)
    warnings = est.effect("ATT").warnings
    assert any("posterior predictive check" in n and "student_t" in n for n in warnings)


def test_covariates_absorbed_by_the_unit_effects_are_reported():
    df = make_staggered(seed=33, n_units=40)
    df["size"] = df["unit"].str[-1].astype(int)  # constant within units
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          covariates=["x", "size"])
    att = bc.make_estimator("hierarchical_did", random_state=6, **FAST).fit(panel).effect("ATT")
    assert att.facts()["covariates_used"] == ("x",)
    assert "absorbed by the unit fixed effects" in att.facts()["covariates_dropped"]["size"]
    assert any(n.startswith("covariates used: x") for n in att.notes)
