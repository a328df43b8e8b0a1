"""TWFE: agreement with pyfixest, recovery of known effects, contract, wild bootstrap wiring."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import bayescity
from bayescity.data.panel import TREAT
from bayescity.estimators.core.base import UnknownEstimandError
from bayescity.estimators.core.seeds import child_seeds
from bayescity.estimators.core.inference import wild_bootstrap_terms
from bayescity.estimators.freq.twfe import TWFE

import pyfixest as pf

REGIONS = ("central", "east", "west")


def simulate(seed: int, *, tau: float | dict[str, float] = 0.5, n_provinces: int = 15,
             n_years: int = 12, noise: float = 0.3, shock: float = 0.3) -> pd.DataFrame:
    """Cities in provinces in three regions; staggered pilots; province-year shocks.

    ``tau`` is the homogeneous effect or a dict of effects by ``region3``.
    """
    rng = np.random.default_rng(seed)
    effect = tau if isinstance(tau, dict) else dict.fromkeys(REGIONS, tau)
    years = np.arange(2005, 2005 + n_years)
    shocks = shock * rng.normal(size=(n_provinces, n_years))
    rows = []
    for p in range(n_provinces):
        region = REGIONS[p % 3]
        for c in range(int(rng.integers(4, 10))):
            pilot = int(rng.choice([0, 0, 2008, 2010, 2012, 2013]))
            alpha = rng.normal()
            for k, year in enumerate(years):
                d = float(pilot > 0 and year >= pilot)
                x = rng.normal() + 0.3 * d
                y = (alpha + 0.02 * k + shocks[p, k] + effect[region] * d + 0.5 * x
                     + noise * rng.normal())
                rows.append((f"c{p:02d}_{c}", int(year), pilot, f"p{p:02d}", region, x, y))
    return pd.DataFrame(rows, columns=["city", "year", "pilot_year", "province", "region3",
                                       "gdp_gap", "tfp_growth"])


def make_panel(df: pd.DataFrame, cluster: str | None = None):
    return bayescity.load_panel(df, unit="city", time="year", outcome="tfp_growth",
                                cohort="pilot_year", covariates=["gdp_gap"], traits=["region3"],
                                cluster=cluster)


def direct_fit(df: pd.DataFrame, vcov: str, cluster: str):
    """The same regression written directly with pyfixest, treatment built here."""
    data = df.assign(d=((df["pilot_year"] > 0) & (df["year"] >= df["pilot_year"])).astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols("tfp_growth ~ d + gdp_gap | city + year", data=data, vcov={vcov: cluster})


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return simulate(0)


@pytest.fixture(scope="module")
def weak() -> pd.DataFrame:
    """A small effect in noisy data, so that p-values are not all zero."""
    return simulate(0, tau=0.15, noise=1.0)


# --------------------------------------------------------------------------- reference
@pytest.mark.parametrize("vcov", ["CRV1", "CRV3"])
@pytest.mark.parametrize("cluster", ["city", "province", "region3"])
def test_agrees_with_pyfixest(df, vcov, cluster):
    res = TWFE(vcov=vcov, cluster=cluster).fit(make_panel(df)).effect("ATT")
    ref = direct_fit(df, vcov, cluster).tidy().loc["d"]
    row = res.row("overall")
    for ours, theirs in [("estimate", "Estimate"), ("std_error", "Std. Error"),
                         ("lower", "2.5%"), ("upper", "97.5%"), ("p_value", "Pr(>|t|)")]:
        assert row[ours] == pytest.approx(ref[theirs], rel=1e-8, abs=1e-10), ours
    assert res.n_clusters == df[cluster].nunique()
    assert res.interval_kind == f"t_{vcov}"
    assert res.facts()["cluster"] == cluster


def test_panel_cluster_column_is_the_default(df):
    res = TWFE().fit(make_panel(df, cluster="province")).effect("ATT")
    ref = direct_fit(df, "CRV1", "province").tidy().loc["d"]
    assert res.row("overall")["std_error"] == pytest.approx(ref["Std. Error"], rel=1e-8)
    assert res.n_clusters == df["province"].nunique()


# --------------------------------------------------------------------------- recovery
@pytest.mark.parametrize("seed", [1, 2])
def test_recovers_homogeneous_effect(seed):
    res = TWFE(cluster="province").fit(make_panel(simulate(seed, tau=0.5))).effect("ATT")
    row = res.row("overall")
    assert row["lower"] < 0.5 < row["upper"]
    assert abs(row["estimate"] - 0.5) < 0.1
    assert row["p_value"] < 1e-6


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_by_trait_recovers_levels_and_equality_test_rejects(seed):
    truth = {"central": 0.2, "east": 1.0, "west": -0.4}
    fit = TWFE(cluster="province", by="region3").fit(make_panel(simulate(seed, tau=truth)))
    res = fit.effect("ATT_by_region3")
    assert res.terms == sorted(truth)
    for level, tau in truth.items():
        row = res.row(level)
        assert row["lower"] < tau < row["upper"], level
    (test,) = res.tests
    assert test.kind == "wald_F" and test.df == 2
    assert test.p_value < 0.01


def test_equality_test_rarely_rejects_equal_effects():
    """Equal effects, 150 provinces (50 per region): at most 3 of 20 panels reject at 5%.

    The analytic CRV1 F test over-rejects when each level has few clusters (about 17% of
    panels with 5 provinces per region, 10% with 20, 7% with 50), so this checks it where
    its asymptotics apply.
    """
    p = []
    for seed in range(20):
        fit = TWFE(cluster="province", by="region3").fit(
            make_panel(simulate(100 + seed, tau=0.5, n_provinces=150)))
        p.append(fit.effect("ATT_by_region3").tests[0].p_value)
    assert sum(pv < 0.05 for pv in p) <= 3
    assert np.mean(p) > 0.3


# --------------------------------------------------------------------------- wild bootstrap
def test_wild_bootstrap_result(weak):
    df = weak
    est = TWFE(cluster="province", inference="wild", wild_weights="webb", n_boot=999,
               random_state=3, by="region3")
    fit = est.fit(make_panel(df))
    att, by = fit.effect("ATT"), fit.effect("ATT_by_region3")
    analytic = TWFE(cluster="province", by="region3").fit(make_panel(df))
    for res, ref in ((att, analytic.effect("ATT")), (by, analytic.effect("ATT_by_region3"))):
        assert res.interval_kind == "wild_cluster_bootstrap_webb"
        assert res.n_clusters == df["province"].nunique()
        np.testing.assert_allclose(res.table["estimate"], ref.table["estimate"], rtol=1e-8)
        np.testing.assert_allclose(res.table["std_error"], ref.table["std_error"], rtol=1e-12)
        assert (res.table["lower"] < res.table["estimate"]).all()
        assert (res.table["estimate"] < res.table["upper"]).all()
        assert not np.allclose(res.table["p_value"], ref.table["p_value"])
        assert "analytic CRV1" in res.facts()["std_error"] and res.facts()["n_boot"] == 999
    assert att.row("overall")["lower"] < 0.15 < att.row("overall")["upper"]


def test_wild_att_is_the_inference_function(weak):
    """The ATT row is :func:`wild_bootstrap_terms` run with the first child seed of the fit."""
    panel = make_panel(weak)
    res = TWFE(cluster="province", inference="wild", n_boot=999, wild_weights="webb",
               random_state=11).fit(panel).effect("ATT")
    (direct,) = wild_bootstrap_terms(panel.data, "tfp_growth", [TREAT], cluster="province",
                                     regressors=["gdp_gap"], fixed_effects=["city", "year"],
                                     weights="webb", n_boot=999,
                                     random_state=child_seeds(11, 2)[0])
    assert res.facts()["seed_spawn_key"] == (0,)
    row = res.row("overall")
    assert (row["p_value"], row["lower"], row["upper"]) == (direct.p_value, direct.lower,
                                                            direct.upper)


def test_wild_needs_clusters_and_known_options(df):
    panel = make_panel(df)
    with pytest.raises(ValueError, match="clustered"):
        TWFE(inference="wild", vcov="hetero").fit(panel)
    with pytest.raises(ValueError, match="wild_weights"):
        TWFE(inference="wild", wild_weights="normal").fit(panel)
    with pytest.raises(ValueError, match="inference"):
        TWFE(inference="bayes").fit(panel)
    with pytest.raises(ValueError, match="cluster"):
        TWFE(cluster="country").fit(panel)


# --------------------------------------------------------------------------- contract
def test_does_not_modify_the_callers_data(df):
    before = df.copy()
    panel = make_panel(df)
    frame = panel.data
    TWFE(cluster="province", by="region3", inference="wild", n_boot=99,
         random_state=0).fit(panel)
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(panel.data, frame)


@pytest.mark.parametrize("params", [dict(), dict(vcov="CRV3", cluster="province"),
                                    dict(inference="wild", wild_weights="webb", n_boot=499,
                                         random_state=5, by="region3", cluster="province")])
def test_same_params_same_numbers(df, params):
    a = TWFE(**params).fit(make_panel(df)).results()
    b = TWFE(**params).fit(make_panel(df)).results()
    for ra, rb in zip(a, b, strict=True):
        pd.testing.assert_frame_equal(ra.summary(), rb.summary())


def test_same_seed_sequence_object_twice_gives_same_numbers(weak):
    df = weak
    seq = np.random.SeedSequence(2024)
    est = TWFE(cluster="province", inference="wild", wild_weights="webb", n_boot=499,
               random_state=seq)
    first = est.fit(make_panel(df)).effect("ATT").summary()
    second = est.fit(make_panel(df)).effect("ATT").summary()
    pd.testing.assert_frame_equal(first, second)
    other = TWFE(cluster="province", inference="wild", wild_weights="webb", n_boot=499,
                 random_state=2025).fit(make_panel(df)).effect("ATT").summary()
    assert other["p_value"].iloc[0] != first["p_value"].iloc[0]


def test_unknown_estimand_is_a_clear_error(df):
    fit = TWFE().fit(make_panel(df))
    with pytest.raises(UnknownEstimandError, match="ATT_event"):
        fit.effect("ATT_event")
    with pytest.raises(UnknownEstimandError, match="available: ATT"):
        fit.effect("ATT_by_region3")


def test_registered_and_summary_columns(df):
    est = bayescity.make_estimator("twfe", cluster="province", inference="wild", n_boot=99,
                                   random_state=1)
    summary = est.fit(make_panel(df)).effect("ATT").summary()
    assert tuple(summary.columns) == bayescity.SUMMARY_COLUMNS
    assert summary["interval_kind"].iloc[0] == "wild_cluster_bootstrap_rademacher"
