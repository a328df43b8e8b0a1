"""AR(1) errors in the hierarchical DID: the autocorrelation estimate, the quasi-differenced
design against dense generalised least squares, and intervals that widen as serial correlation
requires (against imputation's city-clustered standard error)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators import ParamError
from bayescity.estimators.bayes.design import treatment_design
from bayescity.estimators.bayes.serial import estimate_rho, lag_rows


def ar1_panel(seed: int, rho: float, n_units: int = 240, n_periods: int = 14,
              effect: float = 1.0) -> pd.DataFrame:
    """Staggered adoption (cohorts 6, 8, 10 and never), unit and period effects, a covariate,
    a homogeneous effect and stationary AR(1) noise with unit variance."""
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 0, 6, 8, 10], size=n_units)
    e = rng.normal(size=(n_units, n_periods))
    u = np.empty_like(e)
    u[:, 0] = e[:, 0]
    for t in range(1, n_periods):
        u[:, t] = rho * u[:, t - 1] + np.sqrt(1 - rho**2) * e[:, t]
    unit = np.repeat(np.arange(n_units), n_periods)
    t = np.tile(np.arange(1, n_periods + 1), n_units)
    x = rng.normal(size=unit.size)
    d = (g[unit] > 0) & (t >= g[unit])
    y = (2 * rng.normal(size=n_units)[unit] + rng.normal(size=n_periods)[t - 1] + 0.5 * x
         + effect * d + u.ravel())
    return pd.DataFrame({"unit": unit, "year": t, "g": g[unit], "x": x, "y": y})


def test_lag_rows_follow_each_unit_through_consecutive_periods():
    unit = np.array([1, 0, 0, 1, 0, 1])
    time = np.array([2, 1, 0, 0, 3, 1])
    # unit 0: periods 0, 1, 3 (a gap before 3); unit 1: periods 0, 1, 2
    assert lag_rows(unit, time).tolist() == [5, 2, -1, -1, -1, 3]


@pytest.mark.parametrize("rho", [0.0, 0.3, 0.6])
def test_rho_is_recovered_from_untreated_rows(rho):
    df = ar1_panel(11, rho, effect=5.0)  # large effects on treated rows must not leak in
    unit, time = df["unit"].to_numpy(), df["year"].to_numpy() - 1
    untreated = ~((df["g"] > 0) & (df["year"] >= df["g"])).to_numpy()
    est, pairs = estimate_rho(df["y"].to_numpy(), df[["x"]].to_numpy(), unit, time, untreated)
    assert pairs > 1500
    assert abs(est - rho) < 0.06, est
    # the treated rows' effects act as persistent shocks: using them would distort the estimate
    distorted, _ = estimate_rho(df["y"].to_numpy(), df[["x"]].to_numpy(), unit, time,
                                np.ones(len(df), bool))
    assert abs(distorted - rho) > 0.1


def test_quasi_differenced_design_is_dense_gls():
    """``A``, ``b`` and ``y'My`` of the design equal those of least squares on the rows
    ``v_it - rho v_i,t-1`` with unit and period dummies and the differenced covariate, on an
    unbalanced panel (a gap breaks a unit's chain)."""
    rho = 0.45
    df = ar1_panel(3, rho, n_units=30, n_periods=8)
    df = df.drop(index=[5, 40, 41, 100]).reset_index(drop=True)
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g", covariates=["x"])
    design = treatment_design(panel, covariates=["x"], variant="unpooled", rho=rho)
    plain = treatment_design(panel, covariates=["x"], variant="unpooled")
    frame_unit, frame_time = plain.rows["unit"], plain.rows["time"]
    lag = lag_rows(frame_unit, frame_time)
    keep = lag >= 0
    B = plain.basis.toarray() @ plain.K
    y = (plain.rows["y"] - plain.location) / plain.scale

    def qd(v):
        return v[keep] - rho * v[lag[keep]]

    U = np.eye(frame_unit.max() + 1)[frame_unit[keep]]
    T = np.eye(frame_time.max() + 1)[frame_time[keep]][:, 1:]
    X = np.column_stack([U, T, qd(plain.rows["x"])])
    M = np.eye(keep.sum()) - X @ np.linalg.pinv(X)
    Bq, yq = qd(B), qd(y)
    np.testing.assert_allclose(design.stats.A, Bq.T @ M @ Bq, atol=1e-8)
    np.testing.assert_allclose(design.stats.b, Bq.T @ M @ yq, atol=1e-8)
    assert design.stats.yMy == pytest.approx(yq @ M @ yq, rel=1e-9)
    assert design.n_obs == keep.sum() and design.n_used == len(df)
    assert design.stats.dof == keep.sum() - np.linalg.matrix_rank(X)


def test_ar1_errors_widen_intervals_to_the_clustered_standard_error():
    """With strongly autocorrelated errors the independent-errors posterior is too narrow next
    to imputation's city-clustered standard error; with AR(1) errors it is not, and the
    estimate still agrees with imputation's."""
    df = ar1_panel(5, 0.6)
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g", covariates=["x"])
    ref = bc.make_estimator("imputation").fit(panel).effect("ATT").row("overall")
    rows = {}
    for errors in ("ar1", "iid"):
        est = bc.make_estimator("hierarchical_did", errors=errors, random_state=2).fit(panel)
        rows[errors] = est.effect("ATT").row("overall")
    ar1, iid = rows["ar1"], rows["iid"]
    assert 0.75 < ar1["std_error"] / ref["std_error"] < 1.3
    assert iid["std_error"] / ref["std_error"] < 0.8
    assert abs(ar1["estimate"] - ref["estimate"]) < ref["std_error"]
    assert ar1["lower"] <= 1.0 <= ar1["upper"]
    est = bc.make_estimator("hierarchical_did", random_state=2).fit(panel)
    errors = est.effect("ATT").facts("model")["errors"]
    assert errors["errors"] == "ar1" and abs(errors["rho"] - 0.6) < 0.08
    assert any("AR(1)" in n and "errors: iid" in n for n in est.effect("ATT").notes)
    assert est.idata_.posterior.attrs["ar1_rho"] == pytest.approx(errors["rho"])


def test_errors_must_be_a_known_model():
    with pytest.raises(ParamError, match="errors"):
        bc.make_estimator("hierarchical_did", errors="ar2").validate()
