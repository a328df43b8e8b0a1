"""Dynamic TWFE event study: agreement with pyfixest, pre-trend test size, coverage."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators import UnknownEstimandError

import pyfixest as pf

PLATEAU = 3


def tau(e: np.ndarray) -> np.ndarray:
    """Homogeneous dynamic effect: 0.2 (e + 1) up to a plateau at e = PLATEAU - 1, zero before."""
    return np.where(e >= 0, 0.2 * np.minimum(e + 1, PLATEAU), 0.0)


def simulate(seed: int, n_units: int = 150, n_periods: int = 10, pretrend: float = 0.0):
    """Staggered panel (cohorts 4, 6, 8 and never treated) with homogeneous dynamic effects."""
    rng = np.random.default_rng(seed)
    cohort = rng.choice([0, 0, 4, 6, 8], size=n_units)
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(1, n_periods + 1), n_units)
    g = cohort[unit]
    e = np.where(g > 0, time - g, -99)
    x = rng.normal(size=unit.size)
    y = (rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[time - 1] + tau(e)
         + 0.5 * x + pretrend * np.where((g > 0) & (e < 0), e, 0) + rng.normal(size=unit.size))
    region = np.where(np.arange(n_units) % 2 == 0, "A", "B")[unit]
    return pd.DataFrame({"unit": unit, "time": time, "g": g, "y": y, "x": x, "region": region})


def panel_of(df: pd.DataFrame, covariates=("x",)) -> bc.Panel:
    return bc.load_panel(df, unit="unit", time="time", outcome="y", cohort="g",
                         covariates=list(covariates), traits=["region"])


def mpdta_panel(df: pd.DataFrame) -> bc.Panel:
    return bc.load_panel(df, unit="countyreal", time="year", outcome="lemp", cohort="first.treat")


def direct_pyfixest(df: pd.DataFrame, lo: int, hi: int, *, binning: bool, covs: str = ""):
    """The reference: pyfixest's own ``i()`` event-time factor with never-treated at ref -1."""
    work = df.copy()
    rel = (work["year"] - work["first.treat"]).where(work["first.treat"] > 0)
    if not binning:
        work = work.loc[rel.isna() | rel.between(lo, hi)]
        rel = rel.loc[work.index]
    work["rel_b"] = rel.clip(lo, hi).fillna(-1).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pf.feols(f"lemp ~ i(rel_b, ref=-1){covs} | countyreal + year", data=work,
                        vcov={"CRV1": "countyreal"})


def coef_by_event(fit) -> pd.DataFrame:
    tidy = fit.tidy()
    events = [int(float(n.split("::")[1])) for n in tidy.index]
    return pd.DataFrame({"estimate": tidy["Estimate"].to_numpy(),
                         "se": tidy["Std. Error"].to_numpy()}, index=[str(e) for e in events])


@pytest.mark.parametrize("window,binning", [((-2, 2), True), ((-3, 1), False), ((-4, 3), True)])
def test_matches_direct_pyfixest_on_mpdta(mpdta, window, binning):
    res = bc.make_estimator("event_study", window=window, binning=binning).fit(
        mpdta_panel(mpdta)).effect("ATT_event")
    ref = coef_by_event(direct_pyfixest(mpdta, *window, binning=binning))
    table = res.table.set_index("term").drop(index="-1")
    assert list(table.index) == list(ref.index)
    assert np.max(np.abs(table["estimate"] - ref["estimate"])) < 1e-8
    assert np.max(np.abs(table["std_error"] - ref["se"])) < 1e-8
    assert res.n_clusters == 500 and res.interval_kind == "t_CRV1"


def test_pretrend_test_and_att_weights_match_reference(mpdta):
    est = bc.make_estimator("event_study", window=(-3, 3)).fit(mpdta_panel(mpdta))
    fit = direct_pyfixest(mpdta, -3, 3, binning=True)
    ref = coef_by_event(fit)
    leads = [i for i, t in enumerate(ref.index) if int(t) < 0]
    R = np.zeros((len(leads), len(ref)))
    R[np.arange(len(leads)), leads] = 1.0
    wald = fit.wald_test(R=R, distribution="chi2")
    test = est.effect("ATT_event").tests[0]
    assert test.kind == "wald_F" and test.df == len(leads)
    assert test.statistic * test.df == pytest.approx(float(wald["statistic"]), rel=1e-8)
    assert test.df_denom == 499
    rel = (mpdta["year"] - mpdta["first.treat"]).where(mpdta["first.treat"] > 0)
    counts = rel[rel >= 0].clip(upper=3).astype(int).value_counts().sort_index()
    w = counts.to_numpy() / counts.sum()
    att = w @ ref.loc[[str(e) for e in counts.index], "estimate"].to_numpy()
    assert est.effect("ATT").estimate() == pytest.approx(att, abs=1e-10)


def test_reference_row_is_a_normalisation(mpdta):
    res = bc.make_estimator("event_study", window=(-2, 2)).fit(mpdta_panel(mpdta)).effect("ATT_event")
    row = res.row(-1)
    assert row["estimate"] == 0.0 and np.isnan(row["std_error"]) and np.isnan(row["lower"])
    assert res.terms == ["-2", "-1", "0", "1", "2"]


def test_covariates_and_crv3_run():
    df = simulate(1)
    est = bc.make_estimator("event_study", window=(-3, 3), vcov="CRV3").fit(panel_of(df))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        work = df.assign(rel_b=np.where(df.g > 0, (df.time - df.g).clip(-3, 3), -1))
        ref = pf.feols("y ~ i(rel_b, ref=-1) + x | unit + time", data=work, vcov={"CRV3": "unit"})
    table = est.effect("ATT_event").table.set_index("term").drop(index="-1")
    events = [n for n in ref.coef().index if "rel_b" in n]
    assert len(events) == len(table) == 6
    assert np.max(np.abs(table["estimate"].to_numpy() - ref.coef()[events].to_numpy())) < 1e-8
    assert np.max(np.abs(table["std_error"].to_numpy() - ref.se()[events].to_numpy())) < 1e-8
    assert est.effect("ATT").interval_kind == "t_CRV3"


def test_pretrend_test_size_and_power():
    rejections = [bc.make_estimator("event_study", window=(-3, 3)).fit(panel_of(simulate(s)))
                  .effect("ATT_event").tests[0].p_value < 0.05 for s in range(6)]
    assert sum(rejections) <= 2
    p = (bc.make_estimator("event_study", window=(-3, 3)).fit(panel_of(simulate(0, pretrend=0.4)))
         .effect("ATT_event").tests[0].p_value)
    assert p < 0.01


def test_by_trait_gives_levels_and_equality_test():
    est = bc.make_estimator("event_study", window=(-3, 3), by="region").fit(panel_of(simulate(2)))
    res = est.effect("ATT_by_region")
    assert res.terms == ["A", "B"] and res.n_clusters == 150
    assert res.tests[0].name == "equal ATT across region" and res.tests[0].df_denom == 149
    truth = tau(np.arange(0, 7)).mean()
    assert abs(est.effect("ATT").estimate() - truth) < 0.5


def test_input_not_mutated_and_unknown_estimand(mpdta):
    before = mpdta.copy()
    panel = mpdta_panel(mpdta)
    frame = panel.data
    est = bc.make_estimator("event_study").fit(panel)
    pd.testing.assert_frame_equal(mpdta, before)
    pd.testing.assert_frame_equal(panel.data, frame)
    with pytest.raises(UnknownEstimandError, match="ATT_cohort"):
        est.effect("ATT_cohort")
    with pytest.raises(ValueError, match="window"):
        bc.make_estimator("event_study", window=(0, 3)).fit(panel)


@pytest.mark.slow
def test_coverage_study():
    """>= 200 panels with homogeneous effects: 95% intervals cover ~95%, pre-test size ~5%."""
    window, terms = (-3, 3), ["-3", "-2", "0", "1", "2", "3"]
    truth = np.array([0, 0, *tau(np.arange(4))])
    covered, rejected = [], []
    for seed in range(200):
        res = bc.make_estimator("event_study", window=window).fit(
            panel_of(simulate(1000 + seed))).effect("ATT_event")
        t = res.table.set_index("term").loc[terms]
        covered.append((t["lower"].to_numpy() <= truth) & (truth <= t["upper"].to_numpy()))
        rejected.append(res.tests[0].p_value < 0.05)
    cover = np.array(covered)
    out = pd.DataFrame({"term": terms, "coverage": cover.mean(axis=0)})
    out = pd.concat([out, pd.DataFrame({"term": ["all", "pretest_rejection_rate"],
                                        "coverage": [cover.mean(), np.mean(rejected)]})])
    out["n_panels"] = len(rejected)
    path = Path(__file__).resolve().parents[1] / "reports" / "coverage" / "event_study.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False)
    assert 0.93 <= cover.mean() <= 0.97
    assert 0.02 <= np.mean(rejected) <= 0.09


# --------------------------------------------------------------------------- wild bootstrap
def wild_fit(panel, seed=5, **extra):
    params = dict(window=(-3, 3), inference="wild", wild_weights="webb", n_boot=499,
                  random_state=seed)
    return bc.make_estimator("event_study", **{**params, **extra}).fit(panel)


@pytest.fixture(scope="module")
def wild_mpdta(mpdta):
    return wild_fit(mpdta_panel(mpdta))


def hand_design(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """mpdta with binned event-time dummies (reference -1) built here."""
    rel = (df["year"] - df["first.treat"]).where(df["first.treat"] > 0).clip(-3, 3)
    events = [-3, -2, 0, 1, 2, 3]
    names = [f"e{e + 3}" for e in events]
    work = df.assign(**{n: (rel == e).astype(float) for n, e in zip(names, events)})
    return work, names


def test_wild_event_time_is_wild_bootstrap_coef_on_the_same_design(mpdta, wild_mpdta):
    from bayescity.estimators.core.seeds import child_seeds
    from bayescity.estimators.core.inference import wild_bootstrap_coef

    work, names = hand_design(mpdta)
    seeds = child_seeds(child_seeds(5, 3)[0], len(names))
    row = wild_mpdta.effect("ATT_event").row(1)
    direct = wild_bootstrap_coef(work, "lemp", names[3], cluster="countyreal", regressors=names,
                                 fixed_effects=["countyreal", "year"], weights="webb",
                                 n_boot=499, random_state=seeds[3])
    assert direct.estimate == pytest.approx(row["estimate"], abs=1e-10)
    assert (row["p_value"], row["lower"], row["upper"]) == pytest.approx(
        (direct.p_value, direct.lower, direct.upper), rel=1e-9, abs=1e-12)


def test_wild_results_keep_analytic_estimates_and_standard_errors(mpdta, wild_mpdta):
    analytic = bc.make_estimator("event_study", window=(-3, 3)).fit(mpdta_panel(mpdta))
    for estimand in ("ATT_event", "ATT"):
        res, ref = wild_mpdta.effect(estimand), analytic.effect(estimand)
        assert res.interval_kind == "wild_cluster_bootstrap_webb"
        assert "analytic CRV1" in res.facts()["std_error"] and res.facts()["n_boot"] == 499
        np.testing.assert_allclose(res.table["estimate"], ref.table["estimate"], atol=1e-12)
        np.testing.assert_allclose(res.table["std_error"], ref.table["std_error"], atol=1e-12)
        ok = res.table.dropna(subset=["std_error"])
        assert (ok["lower"] < ok["estimate"]).all() and (ok["estimate"] < ok["upper"]).all()
        assert not np.allclose(ok["p_value"], ref.table.dropna(subset=["std_error"])["p_value"])
    ref_row = wild_mpdta.effect("ATT_event").row(-1)
    assert np.isnan(ref_row["p_value"]) and np.isnan(ref_row["lower"])
    assert wild_mpdta.effect("ATT_event").tests[0].p_value == pytest.approx(
        analytic.effect("ATT_event").tests[0].p_value, rel=1e-10)


def test_reparametrised_design_carries_the_att_as_one_coefficient(mpdta, wild_mpdta):
    """The overall ATT w'b is the coefficient on the first column of the reparametrised design,
    with the same CRV1 standard error sqrt(w'Vw)."""
    from bayescity.estimators.freq.es_common import reparametrised

    work, names = hand_design(mpdta)
    att = wild_mpdta.effect("ATT")
    post = [n for n, e in zip(names, [-3, -2, 0, 1, 2, 3]) if e >= 0]
    w = np.array([0.0, 0.0] + [float(work.loc[work[n] == 1, "year"].size) for n in post])
    w /= w.sum()
    Z = reparametrised(work[names].to_numpy(), w)
    z = work.assign(**{f"z{k}": Z[:, k] for k in range(Z.shape[1])})
    rhs = " + ".join(f"z{k}" for k in range(Z.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(f"lemp ~ {rhs} | countyreal + year", data=z, vcov={"CRV1": "countyreal"})
    assert fit.coef()["z0"] == pytest.approx(att.estimate(), abs=1e-10)
    assert fit.se()["z0"] == pytest.approx(att.row("overall")["std_error"], rel=1e-8)


def test_wild_same_seed_same_numbers_and_by_levels(mpdta):
    panel = panel_of(simulate(4, n_units=60))
    a = wild_fit(panel, seed=3, by="region", n_boot=199)
    b = wild_fit(panel, seed=3, by="region", n_boot=199)
    for ra, rb in zip(a.results(), b.results(), strict=True):
        pd.testing.assert_frame_equal(ra.summary(), rb.summary())
    by = a.effect("ATT_by_region")
    assert by.interval_kind == "wild_cluster_bootstrap_webb" and by.terms == ["A", "B"]
    assert by.facts()["seed_spawn_key"] == (2,)
    other = wild_fit(panel, seed=4, n_boot=199).effect("ATT").summary()
    assert other["p_value"].iloc[0] != a.effect("ATT").summary()["p_value"].iloc[0]


def test_wild_needs_clusters_and_known_options(mpdta):
    panel = mpdta_panel(mpdta)
    with pytest.raises(ValueError, match="clustered"):
        bc.make_estimator("event_study", inference="wild", vcov="hetero").fit(panel)
    with pytest.raises(ValueError, match="wild_weights"):
        bc.make_estimator("event_study", inference="wild", wild_weights="normal").fit(panel)
    with pytest.raises(ValueError, match="inference"):
        bc.make_estimator("event_study", inference="bayes").fit(panel)
