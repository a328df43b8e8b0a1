"""Every sampler targets the one model: the NUTS backends agree with the Gibbs sampler within
Monte Carlo error; a funnel produces divergences that are reported; the Student-t likelihood
runs on NUTS and resists outliers."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

import bayescity as bc
from conftest import make_staggered

COMPARED = ["ATT", "ATT_by_region", "ATT_cohort"]


@pytest.fixture(scope="module")
def panel():
    return bc.load_panel(make_staggered(seed=51, n_units=50), unit="unit", time="year",
                         outcome="y", cohort="g", covariates=["x"], traits=["region"])


@pytest.fixture(scope="module")
def gibbs(panel):
    return bc.make_estimator("hierarchical_did", by="region", chains=4, draws=1000,
                             random_state=1).fit(panel)


def _moments(est) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    post = est.idata_.posterior[COMPARED]
    flat = [np.asarray(post[v]).reshape(post.sizes["chain"] * post.sizes["draw"], -1)
            for v in COMPARED]
    mcse = az.mcse(post)
    mcse = np.concatenate([np.atleast_1d(np.asarray(mcse[v])) for v in COMPARED])
    draws = np.concatenate(flat, axis=1)
    return draws.mean(axis=0), draws.std(axis=0), mcse


@pytest.mark.parametrize("sampler", ["numpyro",
                                     pytest.param("nutpie", marks=pytest.mark.slow),
                                     pytest.param("pymc", marks=pytest.mark.slow)])
def test_nuts_backends_agree_with_gibbs(sampler, panel, gibbs):
    nuts = bc.make_estimator("hierarchical_did", by="region", sampler=sampler, chains=2,
                             draws=500, tune=300, random_state=2).fit(panel)
    info = nuts.effect("ATT").info["sampler"]
    assert info["sampler"] == sampler and info["divergences"] == 0
    m1, s1, e1 = _moments(gibbs)
    m2, s2, e2 = _moments(nuts)
    z = np.abs(m1 - m2) / np.sqrt(e1**2 + e2**2)
    assert z.max() < 4, z
    np.testing.assert_allclose(s2, s1, rtol=0.2)


def test_a_funnel_produces_reported_divergences():
    """Centred deviations whose scales the data push towards zero (a constant effect): Neal's
    funnel. The divergences are counted and named in the notes, not hidden."""
    panel = bc.load_panel(make_staggered(seed=52, n_units=40), unit="unit", time="year",
                          outcome="y", cohort="g", traits=["region"])
    est = bc.make_estimator("hierarchical_did", by="region", sampler="numpyro",
                            parameterization="centered", target_accept=0.6, chains=2,
                            draws=300, tune=200, random_state=3).fit(panel)
    att = est.effect("ATT")
    assert att.info["sampler"]["divergences"] > 0
    assert int(est.idata_.sample_stats["diverging"].sum()) == att.info["sampler"]["divergences"]
    assert any("divergent transitions" in n for n in att.info["notes"])


def test_student_t_likelihood_resists_outliers():
    df = make_staggered(seed=53, n_units=50)
    rng = np.random.default_rng(53)
    df["y"] += rng.standard_t(1.5, size=len(df)) * 0.5
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g")
    est = bc.make_estimator("hierarchical_did", likelihood="student_t", sampler="numpyro",
                            chains=2, draws=300, tune=200, random_state=4).fit(panel)
    att = est.effect("ATT").row("overall")
    assert att["lower"] <= 1.0 <= att["upper"]
    assert float(est.idata_.posterior["nu"].mean()) < 5
    assert "log_likelihood" in est.idata_.groups()
