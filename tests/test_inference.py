"""Wild cluster bootstrap: against pyfixest/wildboottest, brute force, seeds, size, coverage."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayescity.estimators.core.inference import (bootstrap_weights, fe_projection,
                                                 wild_bootstrap_coef, wild_statistics, wild_tstats,
                                                 wild_weights)
from bayescity.estimators.core.seeds import child_seeds

import pyfixest as pf
import wildboottest  # noqa: F401  (pyfixest.wildboottest needs it; a missing test dependency must fail)

FE = ["city", "year"]
REPORT = Path(__file__).resolve().parents[1] / "reports" / "coverage" / "wild_bootstrap.csv"


def simulate(seed: int, *, n_clusters: int = 8, tau: float = 0.0, n_treated: int | None = None,
             sizes: tuple[int, int] = (2, 9), n_years: int = 10) -> pd.DataFrame:
    """Cities nested in provinces; AR(1) province-year shocks; staggered pilots in some provinces."""
    rng = np.random.default_rng(seed)
    n_treated = n_treated if n_treated is not None else n_clusters // 2
    treated = rng.choice(n_clusters, n_treated, replace=False)
    frames, first_city = [], 0
    for g in range(n_clusters):
        shock = np.zeros(n_years)
        for t in range(n_years):
            shock[t] = 0.6 * shock[t - 1] + 0.8 * rng.normal() if t else rng.normal()
        n_cities = int(rng.integers(*sizes))
        start = int(rng.integers(3, n_years - 1)) if g in treated else 0
        pilot = np.where(rng.random(n_cities) < 0.7, start, 0)
        city = np.repeat(np.arange(first_city, first_city + n_cities), n_years)
        year = np.tile(np.arange(n_years), n_cities)
        d = ((pilot[city - first_city] > 0) & (year >= pilot[city - first_city])).astype(float)
        x = rng.normal(size=len(city)) + 0.5 * d
        y = (rng.normal(size=n_cities)[city - first_city] + 0.05 * year + shock[year]
             + tau * d + 0.4 * x + rng.normal(size=len(city)))
        frames.append(pd.DataFrame({"city": city, "year": year, "province": g, "D": d,
                                    "x": x, "y": y}))
        first_city += n_cities
    return pd.concat(frames, ignore_index=True)


def reference_pvalue(df: pd.DataFrame, weights: str, seed: int, null: float = 0.0) -> float:
    """pyfixest's ``Feols.wildboottest`` (the wildboottest package) for ``H0: beta_D = null``."""
    data = df.assign(y_null=df["y"] - null * df["D"])
    fit = pf.feols("y_null ~ D + x | city + year", data=data, vcov={"CRV1": "province"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fit.wildboottest(param="D", reps=9999, cluster="province", weights_type=weights,
                               seed=seed)
    return float(out["Pr(>|t|)"])


def ours(df: pd.DataFrame, weights: str, random_state=1, n_boot: int = 9999, **kw):
    return wild_bootstrap_coef(df, "y", "D", cluster="province", regressors=["x"],
                               fixed_effects=FE, weights=weights, n_boot=n_boot,
                               random_state=random_state, **kw)


# --------------------------------------------------------------------------- reference
@pytest.mark.parametrize("n_clusters", [8, 10])
def test_rademacher_enumeration_matches_wildboottest(n_clusters):
    df = simulate(11, n_clusters=n_clusters, tau=0.35)
    res = ours(df, "rademacher")
    ref = reference_pvalue(df, "rademacher", seed=3)
    assert res.full_enumeration and res.n_boot == 2**n_clusters
    assert 0.01 < ref < 0.9, "panel chosen so that the p-value is informative"
    assert abs(res.p_value - ref) <= 2 / 2**n_clusters + 1e-12


@pytest.mark.parametrize("n_clusters", [6, 9, 12])
def test_webb_pvalue_matches_wildboottest(n_clusters):
    df = simulate(5, n_clusters=n_clusters, tau=0.35)
    res = ours(df, "webb", random_state=7)
    ref = reference_pvalue(df, "webb", seed=8)
    assert not res.full_enumeration and res.n_boot == 9999
    assert 0.01 < ref < 0.9
    assert abs(res.p_value - ref) < 0.02


@pytest.mark.parametrize("weights,n_clusters", [("rademacher", 10), ("webb", 12)])
def test_interval_inverts_the_reference_test(weights, n_clusters):
    """At the interval's ends the independent implementation's p-value crosses 5%."""
    df = simulate(2, n_clusters=n_clusters, tau=0.3)
    res = ours(df, weights, random_state=4)
    assert res.lower < res.estimate < res.upper
    width = res.upper - res.lower
    slack = 2 / 2**n_clusters + 1e-12 if weights == "rademacher" else 0.02
    for end, outward in ((res.lower, -1), (res.upper, 1)):
        inside = reference_pvalue(df, weights, seed=9, null=end - outward * 0.01 * width)
        outside = reference_pvalue(df, weights, seed=9, null=end + outward * 0.01 * width)
        assert inside > 0.05 - slack
        assert outside <= 0.05 + slack
        assert inside > outside


def test_estimate_matches_pyfixest_on_an_unbalanced_panel():
    df = simulate(8, n_clusters=9, tau=0.3)
    df = df.drop(index=np.random.default_rng(0).choice(len(df), 40, replace=False))
    fit = pf.feols("y ~ D + x | city + year", data=df, vcov={"CRV1": "province"})
    res = ours(df, "webb", n_boot=99)
    assert res.estimate == pytest.approx(float(fit.coef()["D"]), rel=1e-8)
    assert res.n_clusters == 9


# --------------------------------------------------------------------------- brute force
def _crv1_t(X: np.ndarray, y: np.ndarray, codes: np.ndarray, null: float) -> float:
    """Unscaled CRV1 t-statistic of the first coefficient, by explicit OLS on dummies."""
    xtx_inv = np.linalg.pinv(X.T @ X)
    beta = xtx_inv @ X.T @ y
    u = y - X @ beta
    row = xtx_inv[0] @ X.T
    scores = np.bincount(codes, weights=row * u)
    return (beta[0] - null) / np.sqrt(np.sum(scores**2))


def test_bootstrap_statistics_equal_explicit_refits():
    """Each draw's t* equals refitting y* = X b~ + u~ v on dummies and computing CRV1."""
    df = simulate(3, n_clusters=7, tau=0.2)
    codes = pd.factorize(df["province"], sort=True)[0]
    Z = np.column_stack([df["x"], pd.get_dummies(df["city"], dtype=float),
                         pd.get_dummies(df["year"], drop_first=True, dtype=float)])
    X = np.column_stack([df["D"], Z])
    y = df["y"].to_numpy()
    weights = wild_weights("webb", 7, 15, np.random.default_rng(0))
    stats = wild_statistics(y, df["D"].to_numpy(), df["province"].to_numpy(), weights,
                            fe_projection(df, FE, ["x"]))
    for null in (0.0, 0.37):
        gamma = np.linalg.lstsq(Z, y - null * X[:, 0], rcond=None)[0]
        fitted, u = null * X[:, 0] + Z @ gamma, y - null * X[:, 0] - Z @ gamma
        t_obs, t_boot = wild_tstats(stats, null)
        assert t_obs == pytest.approx(_crv1_t(X, y, codes, null), rel=1e-8)
        explicit = [_crv1_t(X, fitted + u * v[codes], codes, null) for v in weights]
        np.testing.assert_allclose(t_boot, explicit, rtol=1e-7)


# --------------------------------------------------------------------------- seeds and edges
def test_same_seed_same_numbers_and_seed_matters():
    df = simulate(4, n_clusters=9, tau=0.3)
    a, b = ours(df, "webb", random_state=123), ours(df, "webb", random_state=123)
    assert a == b
    seq = np.random.SeedSequence(99)
    assert ours(df, "webb", random_state=seq) == ours(df, "webb", random_state=seq)
    assert ours(df, "webb", random_state=124).p_value != a.p_value


def test_child_seeds_do_not_advance_the_parent():
    parent = np.random.SeedSequence(5)
    first, second = child_seeds(parent, 3), child_seeds(parent, 3)
    assert [s.generate_state(2).tolist() for s in first] == \
           [s.generate_state(2).tolist() for s in second]
    assert len({tuple(s.generate_state(2)) for s in first}) == 3
    assert parent.n_children_spawned == 0


def test_full_enumeration_is_every_sign_vector_once():
    w, enumerated = bootstrap_weights("rademacher", 5, 9999)
    assert enumerated and w.shape == (32, 5)
    assert len({tuple(r) for r in w}) == 32
    w, enumerated = bootstrap_weights("rademacher", 5, 20, random_state=0)
    assert not enumerated and w.shape == (20, 5)


def test_too_few_clusters_give_an_unbounded_interval():
    """With G = 4 Rademacher draws no p-value can fall below 2/16 > 5%."""
    df = simulate(1, n_clusters=4, n_treated=2, tau=0.5)
    res = ours(df, "rademacher")
    assert res.p_value >= 2 / 16
    assert np.isinf(res.lower) and np.isinf(res.upper)


def test_bad_weights_are_rejected():
    df = simulate(1, n_clusters=6)
    with pytest.raises(ValueError, match="weights"):
        ours(df, "gaussian")


def test_pvalues_under_the_null_are_not_degenerate():
    """H0 true, G = 8: p-values spread over (0, 1) and rejections stay rare."""
    p = np.array([ours(simulate(100 + s, n_clusters=8, n_treated=3), "rademacher").p_value
                  for s in range(30)])
    assert len(np.unique(p)) > 15
    assert 0.3 < p.mean() < 0.7
    assert np.mean(p <= 0.05) <= 0.2


# --------------------------------------------------------------------------- calibration
def _rejections(seed: int) -> dict[str, bool]:
    df = simulate(seed, n_clusters=8, n_treated=3, sizes=(2, 20), n_years=12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("y ~ D + x | city + year", data=df, vcov={"CRV1": "province"})
    wild = {w: ours(df, w, random_state=seed, n_boot=999).p_value for w in ("rademacher", "webb")}
    return {"crv1_t": float(fit.pvalue().iloc[0]) < 0.05,
            "wild_rademacher": wild["rademacher"] <= 0.05, "wild_webb": wild["webb"] <= 0.05}


@pytest.mark.slow
def test_wild_bootstrap_size_with_eight_clusters():
    """600 panels, H0 true, 8 provinces (3 treated): CRV1 over-rejects, the bootstrap does not."""
    rows = pd.DataFrame([_rejections(10_000 + s) for s in range(600)])
    rates = rows.mean()
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    out = pd.DataFrame({"method": rates.index, "rejection_rate": rates.to_numpy(),
                        "nominal": 0.05, "n_panels": len(rows), "n_clusters": 8,
                        "n_treated_clusters": 3})
    out.to_csv(REPORT, index=False)
    assert rates["crv1_t"] > 0.075
    for w in ("wild_rademacher", "wild_webb"):
        assert 0.02 <= rates[w] <= 0.075
