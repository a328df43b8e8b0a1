"""Every sampler targets the one model: the NUTS backends agree with the Gibbs sampler within
Monte Carlo error; a funnel produces divergences that are reported; the Student-t likelihood
runs on NUTS and resists outliers.

The NUTS fits run in one spawned worker process: JAX starts threads that do not survive a
fork, and other tests of the suite fork.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import arviz as az
import numpy as np
import pytest

import bayescity as bc
from conftest import make_staggered

COMPARED = ["ATT", "ATT_by_region", "ATT_cohort"]


def panel_of(kind: str) -> bc.Panel:
    """``agreement``: a constant effect by region; ``funnel``: the same, smaller;
    ``outliers``: Student-t(1.5) noise added."""
    seed, n_units = {"agreement": (51, 50), "funnel": (52, 40), "outliers": (53, 50)}[kind]
    df = make_staggered(seed=seed, n_units=n_units)
    if kind == "outliers":
        df["y"] += np.random.default_rng(seed).standard_t(1.5, size=len(df)) * 0.5
    return bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                         covariates=["x"] if kind == "agreement" else [], traits=["region"])


def moments(est) -> dict[str, np.ndarray]:
    """Posterior means, sds and Monte Carlo standard errors of the compared estimands."""
    post = est.idata_.posterior[COMPARED]
    n = post.sizes["chain"] * post.sizes["draw"]
    draws = np.concatenate([np.asarray(post[v]).reshape(n, -1) for v in COMPARED], axis=1)
    mcse = az.mcse(post)
    return {"mean": draws.mean(axis=0), "sd": draws.std(axis=0),
            "mcse": np.concatenate([np.atleast_1d(np.asarray(mcse[v])) for v in COMPARED])}


def fit_summary(kind: str, params: dict) -> dict:
    """Fit ``hierarchical_did`` on a panel and return plain data about it (runs in the worker)."""
    est = bc.make_estimator("hierarchical_did", **params).fit(panel_of(kind))
    att = est.effect("ATT")
    out = {"sampler": dict(att.facts("sampler")), "warnings": list(att.warnings),
           "att": att.row("overall").to_dict(), "groups": list(est.idata_.groups()),
           "diverging": int(est.idata_.sample_stats["diverging"].sum())}
    if "nu" in est.idata_.posterior:
        out["nu"] = float(est.idata_.posterior["nu"].mean())
    if "by" in params:
        out["moments"] = moments(est)
    return out


@pytest.fixture(scope="module")
def worker():
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


@pytest.fixture(scope="module")
def gibbs() -> dict:
    return fit_summary("agreement", {"by": "region", "chains": 4, "draws": 1000,
                                     "random_state": 1})


@pytest.mark.parametrize("sampler", ["numpyro",
                                     pytest.param("nutpie", marks=pytest.mark.slow),
                                     pytest.param("pymc", marks=pytest.mark.slow)])
def test_nuts_backends_agree_with_gibbs(sampler, worker, gibbs):
    nuts = worker.submit(fit_summary, "agreement",
                         {"by": "region", "sampler": sampler, "chains": 2, "draws": 500,
                          "tune": 300, "random_state": 2}).result()
    assert nuts["sampler"]["sampler"] == sampler and nuts["sampler"]["divergences"] == 0
    a, b = gibbs["moments"], nuts["moments"]
    z = np.abs(a["mean"] - b["mean"]) / np.sqrt(a["mcse"] ** 2 + b["mcse"] ** 2)
    assert z.max() < 4, z
    np.testing.assert_allclose(b["sd"], a["sd"], rtol=0.2)


def test_a_funnel_produces_reported_divergences(worker):
    """Centred deviations whose scales the data push towards zero (a constant effect): Neal's
    funnel. The divergences are counted and named in the warnings, not hidden."""
    fit = worker.submit(fit_summary, "funnel",
                        {"by": "region", "sampler": "numpyro", "parameterization": "centered",
                         "target_accept": 0.6, "chains": 2, "draws": 300, "tune": 200,
                         "random_state": 3}).result()
    assert fit["sampler"]["divergences"] > 0
    assert fit["diverging"] == fit["sampler"]["divergences"]
    assert any("divergent transitions" in n for n in fit["warnings"])


def test_student_t_likelihood_resists_outliers(worker):
    fit = worker.submit(fit_summary, "outliers",
                        {"likelihood": "student_t", "sampler": "numpyro", "chains": 2,
                         "draws": 300, "tune": 200, "random_state": 4}).result()
    assert fit["att"]["lower"] <= 1.0 <= fit["att"]["upper"]
    assert fit["nu"] < 5
    assert "log_likelihood" in fit["groups"]
