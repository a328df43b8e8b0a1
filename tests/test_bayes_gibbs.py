"""The conjugate Gibbs sampler against known posteriors: the flat-prior Gaussian posterior of
the effects and, with the data switched off, the half-t and half-normal scale priors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

import bayescity as bc
from bayescity.estimators.bayes.absorb import cross_products
from bayescity.estimators.bayes.design import treatment_design
from bayescity.estimators.bayes.gibbs import conditional_effects, run_gibbs
from bayescity.estimators.bayes.priors import (BOUNDARY_KEYS, Priors, draw_scale_prior,
                                                log_scale_prior)
from conftest import make_staggered


@pytest.fixture(scope="module")
def design():
    panel = bc.load_panel(make_staggered(seed=12, n_units=40), unit="unit", time="year",
                          outcome="y", cohort="g", covariates=["x"], traits=["region"])
    return treatment_design(panel, by=["region"], covariates=["x"])


@pytest.mark.parametrize("collapsed", [True, False], ids=["collapsed", "gibbs_sweeps"])
def test_flat_priors_give_the_least_squares_posterior(collapsed):
    """Every group with a (nearly) flat fixed prior: the cell effects' posterior mean is least
    squares on the cell dummies and their covariance ``E[sigma^2] A_cell^-1`` with
    ``sigma^2 ~ Inv-Gamma((dof - cells - 1) / 2, RSS / 2)``."""
    panel = bc.load_panel(make_staggered(seed=13, n_units=40), unit="unit", time="year",
                          outcome="y", cohort="g", covariates=["x"])
    d = treatment_design(panel, variant="unpooled", covariates=["x"])
    g = run_gibbs(d, Priors(effect=1e4, sigma=1e4), chains=4, draws=1500, tune=200, seed=1,
                  collapsed=collapsed)
    y = (d.rows["y"] - d.location) / d.scale
    cell = cross_products(d.absorber, y, d.basis)
    ols = np.linalg.solve(cell.A, cell.b)
    rss = cell.yMy - cell.b @ ols
    var = rss / (cell.dof - ols.size - 3) * np.diag(np.linalg.inv(cell.A))
    effects = g.theta.reshape(-1, d.n_params) @ d.cell_map.T
    mcse = np.sqrt(var / effects.shape[0]) * 2  # draws are close to independent
    assert np.all(np.abs(effects.mean(axis=0) - ols) < 4 * mcse)
    np.testing.assert_allclose(effects.var(axis=0), var, rtol=0.15)


@pytest.mark.parametrize("collapsed", [True, False], ids=["collapsed", "gibbs_sweeps"])
@pytest.mark.parametrize("df", [3.0, None], ids=["half_t", "half_normal"])
def test_without_data_the_scales_follow_their_priors(design, df, collapsed):
    """A = 0, b = 0: the likelihood is silent about the effects, so each learned scale must be
    distributed as its prior (half-t with ``df`` or half-normal; for the trait levels' sd the
    boundary-avoiding version, density times ``s``: ``s^2 / scale^2`` Lomax, or ``s`` Rayleigh):
    for the partially collapsed Metropolis steps (independence and random walk) and for the
    blocked Gibbs sweeps (parameter expansion with its Metropolis correction and, for
    half-normals, the centred Metropolis step)."""
    silent = replace(design, stats=replace(design.stats, A=0 * design.stats.A,
                                           b=0 * design.stats.b))
    priors = Priors(scale_df=df)
    g = run_gibbs(silent, priors, chains=4, draws=5000, tune=300, seed=3, collapsed=collapsed)
    learned = [c for c in silent.components if c.learned]
    for j, comp in enumerate(learned):
        scale = getattr(priors, comp.prior)
        draws = g.scales[:, 200::10, j].ravel() / scale  # thinned to near-independence
        assert stats.kstest(draws, _prior_cdf(df, comp.prior in BOUNDARY_KEYS)).pvalue > 1e-3, \
            comp.name
    assert any(c.prior in BOUNDARY_KEYS for c in learned)


def _prior_cdf(df, boundary: bool):
    """CDF of a unit-scale scale prior (see :func:`bayescity.estimators.bayes.priors.
    draw_scale_prior`)."""
    if boundary:
        if df is None:
            return stats.rayleigh().cdf
        return lambda x: 1 - (1 + x**2 / df) ** (-(df - 1) / 2)
    return stats.halfnorm().cdf if df is None else (lambda x: 2 * stats.t(df).cdf(x) - 1)


@pytest.mark.parametrize("df", [3.0, None], ids=["half_t", "half_normal"])
@pytest.mark.parametrize("boundary", [True, False], ids=["boundary", "plain"])
def test_prior_draws_follow_the_scale_priors(df, boundary):
    draws = draw_scale_prior(np.random.default_rng(5), 20000, 2.0, df, boundary) / 2.0
    assert stats.kstest(draws, _prior_cdf(df, boundary)).pvalue > 1e-3
    assert np.exp(log_scale_prior(1.5, 1.0, df, boundary) - log_scale_prior(0.5, 1.0, df,
                                                                             boundary)) == \
        pytest.approx(_density_ratio(df, boundary))


def _density_ratio(df, boundary: bool) -> float:
    """Prior density at 1.5 over that at 0.5 (unit scale), from scipy."""
    ref = stats.halfnorm() if df is None else stats.t(df)
    return ref.pdf(1.5) / ref.pdf(0.5) * (3.0 if boundary else 1.0)


def test_same_seed_same_draws_and_chains_independent_of_grouping(design, monkeypatch):
    a = run_gibbs(design, Priors(), chains=3, draws=60, tune=20, seed=9)
    b = run_gibbs(design, Priors(), chains=3, draws=60, tune=20, seed=9)
    np.testing.assert_array_equal(a.theta, b.theta)
    import bayescity.estimators.bayes.gibbs as gibbs

    monkeypatch.setattr(gibbs, "THREADED_MIN_PARAMS", 0)  # two threads, one chain group each
    c = run_gibbs(design, Priors(), chains=3, draws=60, tune=20, seed=9)
    np.testing.assert_allclose(a.theta, c.theta, rtol=1e-10, atol=1e-12)
    other = run_gibbs(design, Priors(), chains=3, draws=60, tune=20, seed=10)
    assert not np.allclose(a.theta, other.theta)


def test_conditional_effects_match_the_gibbs_block(design):
    """Effects drawn given fixed scales and sigma have the Gaussian conditional's moments."""
    learned = [c for c in design.components if c.learned]
    scales = np.tile(np.full(len(learned), 0.3), (4000, 1))
    sigma = np.full(4000, 0.8)
    theta = conditional_effects(design, Priors(), scales, sigma, seed=4)
    prec = np.zeros(design.n_params)
    for c in design.components:
        prec[c.start:c.stop] = 1 / (0.3**2 if c.learned else getattr(Priors(), c.prior)**2)
    Q = design.stats.A / 0.64 + np.diag(prec)
    mean = np.linalg.solve(Q, design.stats.b / 0.64)
    sd = np.sqrt(np.diag(np.linalg.inv(Q)))
    assert np.all(np.abs(theta.mean(axis=0) - mean) < 4.5 * sd / np.sqrt(4000))
    np.testing.assert_allclose(theta.std(axis=0), sd, rtol=0.08)
