"""Small-sample inference of the heterogeneity outputs of dml and causal_forest.

* With one treated score row per unit the projection is least squares, and its corrected
  sandwich is statsmodels' HC3 (the correction grf applies through ``sandwich::vcovHC``).
* The calibration test of a linear CATE model: its held-out predictions are linear in the other
  folds' scores, so the plug-in standard error that treats them as fixed understates the spread
  of the differential coefficient under no heterogeneity (by about 1/sqrt(2)); with each unit's
  pull on the other units' predictions counted it does not, the one-sided 5% test rejects at
  most at about 5% on homogeneous scores, and still detects heterogeneity.
* A trait's joint BLP test with one column is the square of that column's t test, and the
  drivers table's Holm-adjusted p-values are statsmodels'.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

import bayescity as bc
from bayescity.estimators.ml.cate import LinearCate, heldout_predictions
from bayescity.estimators.ml.scores import ScoreRows, calibration_tests, project
from conftest import make_staggered


def _unit_rows(r: np.ndarray) -> ScoreRows:
    """One treated score row per unit (the within design's shape): a projection is OLS."""
    n = r.size
    return ScoreRows(n_units=n, unit=np.arange(n), cell=np.full(n, -1),
                     treated=np.ones(n, dtype=bool), r=r, omega=np.zeros(n), a=np.ones(n))


def test_projection_errors_are_statsmodels_hc3():
    rng = np.random.default_rng(0)
    n = 60
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, n), rng.exponential(size=n)])
    z = np.column_stack([np.ones(n), x])
    y = z @ np.array([1.0, 0.5, -0.3, 0.2]) + rng.standard_t(4, size=n)
    proj = project(_unit_rows(y), z)
    ols = sm.OLS(y, z).fit(cov_type="HC3")
    np.testing.assert_allclose(proj.coef, ols.params, rtol=1e-10)
    np.testing.assert_allclose(proj.vcov(), ols.cov_params(), rtol=1e-8)
    # clusters of one unit each are the same thing
    np.testing.assert_allclose(proj.vcov(np.arange(n)), ols.cov_params(), rtol=1e-8)


def _calibration(r: np.ndarray, x: np.ndarray, folds: np.ndarray, cross: bool):
    """The differential calibration test of a linear CATE model: (coefficient, se, p)."""
    rows = _unit_rows(r)
    z = np.column_stack([np.ones(len(x)), x])
    pred, models = heldout_predictions(lambda f: LinearCate(), rows, x, folds, 5)
    fold_fits = [(held, z, m.projection_) for held, m in models] if cross else None
    test = calibration_tests(rows, pred, None, "linear", fold_fits)[1]
    coef = float(re.search(r"coefficient (\S+)", test.note).group(1))
    return coef, coef / test.statistic, test.p_value


def test_linear_calibration_test_has_its_nominal_size_and_power():
    rng = np.random.default_rng(1)
    n, p, reps = 120, 5, 300
    coef, se_cross, se_plugin, reject, power = [], [], [], [], []
    for _ in range(reps):
        x = rng.normal(size=(n, p))
        folds = rng.permutation(np.arange(n) % 5)
        r = 1.0 + rng.normal(size=n)
        c, se, p_value = _calibration(r, x, folds, cross=True)
        coef.append(c)
        se_cross.append(se)
        reject.append(p_value < 0.05)
        se_plugin.append(_calibration(r, x, folds, cross=False)[1])
        power.append(_calibration(r + 0.6 * x[:, 0], x, folds, cross=True)[2] < 0.05)
    sd = np.std(coef)
    # the plug-in standard error misses a third or more of the coefficient's spread ...
    assert np.mean(se_plugin) < 0.75 * sd, (np.mean(se_plugin), sd)
    # ... the one that counts each unit's pull on the others' predictions does not
    assert 0.9 * sd < np.mean(se_cross) < 1.4 * sd, (np.mean(se_cross), sd)
    # 300 draws: Monte Carlo standard error of a 5% rate is 1.3 points
    assert np.mean(reject) <= 0.08, np.mean(reject)
    assert np.mean(power) >= 0.7, np.mean(power)


def test_a_numeric_traits_joint_test_is_its_t_test():
    df = make_staggered(seed=4, n_units=80, cohorts=(2003, 2005, 2007))
    df["size"] = df["unit"].map({u: v for u, v in zip(
        df["unit"].unique(), np.random.default_rng(2).normal(size=df["unit"].nunique()))})
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          covariates=["x"], traits=["region", "size"])
    est = bc.make_estimator("dml", outcome_model="linear", propensity_model="linear",
                            random_state=0).fit(panel)
    drivers = est.effect("CATE").part_frame("drivers").set_index("trait")
    blp = est.effect("BLP").table.set_index("term")
    assert drivers.loc["size", "blp_p"] == pytest.approx(blp.loc["size", "p_value"], rel=1e-8)
    # Holm's adjustment over the table's traits, as statsmodels computes it
    holm = multipletests(drivers["blp_p"], method="holm")[1]
    np.testing.assert_allclose(drivers["blp_p_holm"], holm, rtol=1e-12)
    assert (drivers["blp_p_holm"] >= drivers["blp_p"]).all()
    assert sorted(drivers["rank"]) == list(range(1, len(drivers) + 1))
    assert list(drivers["rank"]) == sorted(drivers["rank"])
