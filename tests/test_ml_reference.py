"""dml against third-party and in-house references.

On mpdta (Callaway & Sant'Anna 2021), with ``linear`` learners the long-difference design is Callaway & Sant'Anna's doubly robust estimator with
cross-fitted nuisances, so its ATT must match ``callaway_santanna(est_method="dr")``; DoubleML's
staggered DID (``DoubleMLDIDMulti``, the same per-cell DR score with its own folds) must agree
within a standard error.
"""

from __future__ import annotations

import warnings
from functools import reduce
from operator import add

import numpy as np
import pandas as pd
import pytest

import bayescity as bc

from doubleml.data import DoubleMLPanelData
from doubleml.did import DoubleMLDIDMulti


def mpdta_panel(df: pd.DataFrame) -> bc.Panel:
    return bc.load_panel(df, unit="countyreal", time="year", outcome="lemp", cohort="first.treat",
                         covariates=["lpop"])


def dml_linear(panel: bc.Panel, control_group: str, **kwargs) -> bc.EffectResult:
    est = bc.make_estimator("dml", design="long_difference", control_group=control_group,
                            outcome_model="linear", propensity_model="linear", random_state=20,
                            **kwargs)
    return est.fit(panel).effect("ATT")


def moderndid_dr(df: pd.DataFrame, control_group: str):
    """moderndid's (R did's) doubly robust ATT(g,t) with ``lpop`` and its simple aggregate."""
    import moderndid
    import polars as pl

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mp = moderndid.att_gt(data=pl.from_pandas(df), yname="lemp", tname="year",
                              idname="countyreal", gname="first.treat", xformla="~lpop",
                              est_method="dr", control_group=control_group.replace("_", ""))
        return mp, moderndid.aggte(mp, type="simple")


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_linear_learners_reproduce_doubly_robust_callaway_santanna(mpdta, control_group):
    """Repeated 10-fold cross-fitting (mc_iters=10) leaves the ATT within 1e-3 of the in-sample
    DR estimate (ours and moderndid's), and every post-treatment ATT(g,t) within 3e-3 of
    moderndid's; 5-fold single cross-fitting varies by about 1e-3 around it."""
    panel = mpdta_panel(mpdta)
    cs = bc.make_estimator("callaway_santanna", control_group=control_group, est_method="dr")
    cs = cs.fit(panel).effect("ATT").row("overall")
    est = bc.make_estimator("dml", design="long_difference", control_group=control_group,
                            outcome_model="linear", propensity_model="linear", random_state=20,
                            n_folds=10, mc_iters=10).fit(panel)
    ours = est.effect("ATT").row("overall")
    assert ours.estimate == pytest.approx(cs.estimate, abs=1e-3)
    assert ours.std_error == pytest.approx(cs.std_error, rel=0.05)
    mp, simple = moderndid_dr(mpdta, control_group)
    assert ours.estimate == pytest.approx(simple.overall_att, abs=1e-3)
    assert ours.std_error == pytest.approx(simple.overall_se, rel=0.05)
    ref = pd.DataFrame({"cohort": mp.groups, "time": mp.times, "att": mp.att_gt})
    ref = ref[ref["time"] >= ref["cohort"]].reset_index(drop=True)
    assert est.gt_[["cohort", "time"]].to_numpy().tolist() == ref[["cohort", "time"]].to_numpy().tolist()
    np.testing.assert_allclose(est.gt_["att"], ref["att"], atol=3e-3)
    single = dml_linear(panel, control_group).row("overall")
    assert abs(single.estimate - cs.estimate) < 0.5 * cs.std_error


def doubleml_simple_att(df: pd.DataFrame, control_group: str) -> tuple[float, float]:
    """DoubleML's ATT(g,t) aggregated with the treated-cell weights of ``ATT``/overall."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    data = DoubleMLPanelData(df, y_col="lemp", d_cols="first.treat", t_col="year",
                             id_col="countyreal", x_cols=["lpop"])
    model = DoubleMLDIDMulti(data, ml_g=LinearRegression(), ml_m=LogisticRegression(penalty=None),
                             control_group=control_group, n_folds=5)
    state = np.random.get_state()  # DoubleML draws its folds from numpy's global generator
    try:
        np.random.seed(11)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit()
    finally:
        np.random.set_state(state)
    frames, weights = [], []
    for (g, _, t), cell in zip(model.gt_combinations, model.modellist):
        if t >= g:
            frames.append(cell.framework)
            weights.append(int(((df["year"] == t) & (df["first.treat"] == g)).sum()))
    w = np.asarray(weights, float) / sum(weights)
    overall = reduce(add, [wi * f for wi, f in zip(w, frames)])
    return float(overall.all_thetas[0, 0]), float(overall.all_ses[0, 0])


@pytest.mark.parametrize("control_group", ["never_treated", "not_yet_treated"])
def test_agrees_with_doubleml_staggered_did(mpdta, control_group):
    theta, se = doubleml_simple_att(mpdta, control_group)
    ours = dml_linear(mpdta_panel(mpdta), control_group).row("overall")
    assert abs(ours.estimate - theta) < ours.std_error
    assert ours.std_error == pytest.approx(se, rel=0.15)


# --------------------------------------------------------------------------- imputation design
# The default design's pseudo-outcomes are BJS imputed effects, and its BLP is Gardner's
# two-stage DID with the traits in the second stage: pyfixest's did2s is an independent
# implementation of both the point estimates and the clustered GMM variance.

from test_ml_recovery import CLEAN_DRIVERS, CLEAN_NOISE, clean_frame  # noqa: E402


@pytest.fixture(scope="module")
def clean() -> pd.DataFrame:
    return clean_frame(7, n_units=150, trend=0.3)


@pytest.fixture(scope="module")
def clean_fit(clean):
    panel = bc.load_panel(clean, unit="city", time="year", outcome="y", cohort="g",
                          covariates=["c"], traits=[*CLEAN_DRIVERS, *CLEAN_NOISE])
    return bc.make_estimator("dml", by="noise_cat", random_state=0).fit(panel)


def did2s_blp(df: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """pyfixest's did2s: city + year effects and year-specific slopes on ``c`` fitted on the
    untreated rows, then the imputed effects regressed on the traits among treated rows."""
    import pyfixest as pf

    years = sorted(df["year"].unique())[1:]
    treat = ((df["g"] > 0) & (df["year"] >= df["g"])).astype(float)
    extra = {f"c_{s}": df["c"] * (df["year"] == s) for s in years}
    x = {"h1": df["h1"], "h2": df["h2"], "noise_unif": df["noise_unif"],
         "noise_norm": df["noise_norm"], "noise_cat_b": (df["noise_cat"] == "b").astype(float),
         "noise_cat_c": (df["noise_cat"] == "c").astype(float)}
    extra |= {f"t_{k}": treat * v for k, v in x.items()}
    data = df.assign(treat=treat, **extra)
    first = "~ 0 + " + " + ".join(f"c_{s}" for s in years) + " | city + year"
    second = "~ 0 + treat + " + " + ".join(f"t_{k}" for k in x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.did2s(data, yname="y", first_stage=first, second_stage=second,
                       treatment="treat", cluster="city")
    return fit.coef(), np.asarray(fit._vcov)


def dense_imputation_blp(df: pd.DataFrame) -> np.ndarray:
    """The BLP by brute force: the first stage by dense least squares on dummies of every city
    and year and year x ``c`` columns over the untreated rows, each treated city's mean imputed
    effect, and weighted least squares of those on the traits (weights: post years)."""
    treat = ((df["g"] > 0) & (df["year"] >= df["g"])).to_numpy()
    years = sorted(df["year"].unique())
    design = np.column_stack(
        [pd.get_dummies(df["city"]).to_numpy(float)]
        + [((df["year"] == s) * w).to_numpy(float) for s in years[1:] for w in (1.0, df["c"])])
    beta = np.linalg.lstsq(design[~treat], df["y"].to_numpy()[~treat], rcond=None)[0]
    tau = df.loc[treat].assign(tau=df["y"].to_numpy()[treat] - design[treat] @ beta)
    per_city = tau.groupby("city").agg(tau=("tau", "mean"), n=("tau", "size"), h1=("h1", "first"),
                                       h2=("h2", "first"), u=("noise_unif", "first"),
                                       v=("noise_norm", "first"), cat=("noise_cat", "first"))
    z = np.column_stack([np.ones(len(per_city)), per_city[["h1", "h2", "u", "v"]].to_numpy(),
                         per_city["cat"] == "b", per_city["cat"] == "c"]).astype(float)
    w = np.sqrt(per_city["n"].to_numpy(float))
    return np.linalg.lstsq(z * w[:, None], per_city["tau"].to_numpy() * w, rcond=None)[0]


def test_imputation_blp_is_pyfixest_did2s(clean, clean_fit):
    """Point estimates equal a brute-force imputation projection; they and the clustered
    two-stage variance of the BLP (before the CR3 small-sample correction, which only widens the
    intervals) are did2s's, up to pyfixest's demeaning tolerance (1e-6 by default)."""
    blp = clean_fit.heterogeneity_.blp
    np.testing.assert_allclose(blp.coef, dense_imputation_blp(clean), atol=1e-10)
    coef, vcov = did2s_blp(clean)
    np.testing.assert_allclose(blp.coef, coef.to_numpy(), atol=2e-5)
    raw = blp.influence.T @ blp.influence
    np.testing.assert_allclose(raw, vcov, rtol=1e-4, atol=1e-10)
    reported = clean_fit.effect("BLP").table["std_error"].to_numpy()
    ratio = reported / np.sqrt(np.diag(raw))[1:]
    # CR3 divides each city's influence by 1 - leverage (7 coefficients, 105 treated cities)
    assert np.all((ratio >= 1.0) & (ratio < 1.15)), ratio
    assert clean_fit.effect("BLP").terms == ["h1", "h2", "noise_unif", "noise_norm",
                                             "noise_cat=b", "noise_cat=c"]
    assert any("imputation design" in n for n in clean_fit.effect("BLP").notes)


def test_imputation_att_rows_are_the_imputation_estimators(clean, clean_fit):
    panel = bc.load_panel(clean, unit="city", time="year", outcome="y", cohort="g",
                          traits=["noise_cat", "c"])
    ref = bc.make_estimator("imputation", covariates=[], trend_covariates=["c"],
                            by="noise_cat").fit(panel)
    for estimand in ("ATT", "ATT_event", "ATT_cohort", "ATT_by_noise_cat"):
        ours, theirs = clean_fit.effect(estimand).table, ref.effect(estimand).table
        assert list(ours["term"]) == list(theirs["term"]), estimand
        # both first stages are exact least squares (imputation's sparse direct solve)
        np.testing.assert_allclose(ours["estimate"], theirs["estimate"], atol=1e-10)
        np.testing.assert_allclose(ours["std_error"], theirs["std_error"], rtol=1e-8)
