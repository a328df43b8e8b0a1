"""The fixed-effects OLS core agrees with pyfixest's feols to 1e-8 on every supported case."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bayescity.estimators.core.fe_ols import (demean, factor_codes, fe_ols, is_balanced_two_way,
                                              nested_in_cluster)
from bayescity.estimators.core.fixest import coefs_of, feols, fit_coefs

import pyfixest as pf


def simulate(seed: int, *, n_units: int = 60, n_periods: int = 8, unbalanced: bool = False,
             singletons: bool = False) -> pd.DataFrame:
    """Units in provinces; staggered treatment; two covariates; optional gaps and singletons."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    time = np.tile(np.arange(n_periods), n_units)
    g = rng.choice([0, 3, 5], size=n_units)[unit]
    d = ((g > 0) & (time >= g)).astype(float)
    x1, x2 = rng.normal(size=unit.size), rng.normal(size=unit.size)
    y = (rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[time] + 0.5 * d
         + 0.3 * x1 - 0.2 * x2 + rng.normal(size=unit.size))
    df = pd.DataFrame({"unit": unit, "time": time, "d": d, "x1": x1, "x2": x2, "y": y,
                       "province": unit // 6, "region": unit % 3})
    if unbalanced:
        df = df.loc[rng.random(len(df)) > 0.2]
    if singletons:
        df = df.loc[~((df["unit"] % 10 == 0) & (df["time"] > 0))]
    return df.reset_index(drop=True)


def reference(df: pd.DataFrame, regressors, vcov: str, cluster: str | None):
    """pyfixest's feols, its alternating projections run to the core's tolerance 1e-10."""
    spec = {vcov: cluster} if cluster else vcov
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols(f"y ~ {' + '.join(regressors)} | unit + time", data=df, vcov=spec,
                       demeaner=pf.MapDemeaner(fixef_tol=1e-10))
    return coefs_of(fit, vcov)


def assert_agree(ours, theirs):
    assert ours.names == theirs.names
    np.testing.assert_allclose(ours.estimates, theirs.estimates, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.vcov, theirs.vcov, rtol=1e-8, atol=1e-12)
    assert ours.n_obs == theirs.n_obs and ours.n_clusters == theirs.n_clusters
    assert ours.df_t == pytest.approx(theirs.df_t, rel=1e-12)


CASES = [dict(), dict(unbalanced=True), dict(singletons=True),
         dict(unbalanced=True, singletons=True)]


@pytest.mark.parametrize("case", CASES, ids=["balanced", "unbalanced", "singletons", "both"])
@pytest.mark.parametrize("regressors", [["d"], ["d", "x1", "x2"]], ids=["no_cov", "cov"])
@pytest.mark.parametrize("vcov,cluster", [("CRV1", "unit"), ("CRV1", "province"),
                                          ("CRV1", "region"), ("hetero", None), ("iid", None)])
def test_agrees_with_pyfixest(case, regressors, vcov, cluster):
    df = simulate(7, **case)
    ours = fit_coefs(df, "y", regressors, ["unit", "time"], vcov=vcov, cluster=cluster)
    assert_agree(ours, reference(df, regressors, vcov, cluster))


def test_array_core_reports_dropped_rows_and_collinear_regressors():
    df = simulate(3, singletons=True)
    df["d_copy"] = 2.0 * df["d"]
    df["unit_const"] = df["unit"] * 0.1
    codes = factor_codes([df["unit"].to_numpy(), df["time"].to_numpy()])
    X = df[["d", "d_copy", "unit_const", "x1"]].to_numpy()
    fit = fe_ols(df["y"].to_numpy(), X, ["d", "d_copy", "unit_const", "x1"], codes,
                 cluster=df["unit"].to_numpy())
    assert fit.names == ("d", "x1") and set(fit.dropped) == {"d_copy", "unit_const"}
    assert fit.kept.sum() == fit.n_obs < len(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = pf.feols("y ~ d + x1 | unit + time", data=df, vcov={"CRV1": "unit"})
    np.testing.assert_allclose(fit.estimates, ref.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), ref.se().to_numpy(), rtol=1e-8)


def test_missing_values_are_dropped_like_pyfixest():
    df = simulate(4)
    df.loc[[3, 50, 99], "x1"] = np.nan
    df.loc[[10], "y"] = np.nan
    ours = fit_coefs(df, "y", ["d", "x1"], ["unit", "time"], vcov="CRV1", cluster="unit")
    assert_agree(ours, reference(df, ["d", "x1"], "CRV1", "unit"))


def test_closed_form_within_equals_alternating_projections():
    df = simulate(5)
    codes = factor_codes([df["unit"].to_numpy(), df["time"].to_numpy()])
    assert is_balanced_two_way(codes)
    m = df[["y", "x1"]].to_numpy()
    from pyfixest.core.demean import demean as demean_map

    ref, _ = demean_map(m.copy(), codes.astype(np.uintp), np.ones(len(m)), tol=1e-12)
    np.testing.assert_allclose(demean(m, codes), ref, atol=1e-10)
    assert not is_balanced_two_way(codes[1:])


def test_nesting_of_fixed_effects_in_clusters():
    df = simulate(6)
    codes = factor_codes([df["unit"].to_numpy(), df["time"].to_numpy()])
    assert nested_in_cluster(codes, df["province"].to_numpy()).tolist() == [True, False]
    assert nested_in_cluster(codes, df["time"].to_numpy()).tolist() == [False, True]


def test_crv3_and_weights_fall_back_to_pyfixest():
    df = simulate(8).assign(w=lambda d: 1.0 + (d["unit"] % 2))
    ours = fit_coefs(df, "y", ["d", "x1"], ["unit", "time"], vcov="CRV3", cluster="province")
    assert_agree(ours, reference(df, ["d", "x1"], "CRV3", "province"))
    weighted = fit_coefs(df, "y", ["d"], ["unit", "time"], vcov="CRV1", cluster="unit",
                         weights="w")
    ref = coefs_of(feols(df, "y", ["d"], ["unit", "time"], vcov="CRV1", cluster="unit",
                         weights="w"), "CRV1")
    assert_agree(weighted, ref)
