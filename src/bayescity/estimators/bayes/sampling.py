"""One entry point for every sampler of the hierarchical DID, and one fit of a design.

:func:`fit_design` samples a :class:`~.design.TreatmentDesign`, aggregates the draws into the
shared estimands and assembles the InferenceData and its diagnostics. The estimator, the prior
sensitivity refits, the PSIS-LOO comparison of variants and the calibration study all call it.
"""

from __future__ import annotations

import logging
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ...diagnostics import Diagnostics, diagnose
from ...estimands import Aggregation
from .design import TreatmentDesign
from .gibbs import run_gibbs
from .idata import to_inference_data, unit_loglik
from .nuts import NUTS_SAMPLERS, Draws, run_nuts
from .posterior import estimand_draws
from .priors import Priors

SAMPLERS = ("gibbs", *NUTS_SAMPLERS)
LIKELIHOODS = ("normal", "student_t")


@dataclass(frozen=True)
class Settings:
    """How to sample: backend, chain lengths, likelihood and NUTS options."""

    sampler: str = "gibbs"
    chains: int = 4
    draws: int = 1000
    tune: int = 500
    likelihood: str = "normal"
    target_accept: float = 0.9
    parameterization: str = "marginal"
    log_likelihood: bool = True


@dataclass(frozen=True, eq=False)
class Fit:
    """A sampled design: draws, estimand aggregations, InferenceData and diagnostics."""

    design: TreatmentDesign
    draws: Draws
    aggregations: list[Aggregation]
    idata: object
    diagnostics: Diagnostics


@contextmanager
def quiet_backends() -> Iterator[None]:
    """Silence the backends' own progress logs and environment advice during sampling; the
    fit reports divergences and other diagnostics itself."""
    loggers = [logging.getLogger(name) for name in ("pymc", "pytensor", "numpyro", "jax")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(BLAS|devices|progress).*")
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def sample(design: TreatmentDesign, priors: Priors, settings: Settings,
           seed: int | np.random.SeedSequence | None) -> Draws:
    """Posterior draws of ``design`` under ``priors`` with the sampler of ``settings``."""
    if settings.sampler == "gibbs":
        if settings.likelihood != "normal":
            raise ValueError("sampler: gibbs samples the normal likelihood only")
        start = time.perf_counter()
        g = run_gibbs(design, priors, chains=settings.chains, draws=settings.draws,
                      tune=settings.tune, seed=seed)
        elapsed = time.perf_counter() - start
        stats = {"diverging": np.zeros(g.sigma.shape, dtype=bool), "mh_accept": g.accept}
        return Draws(theta=g.theta, scales=g.scales, sigma=g.sigma, sampler="gibbs",
                     sampling_time=elapsed, sample_stats=stats)
    with quiet_backends():
        return run_nuts(design, priors, sampler=settings.sampler,
                        likelihood=settings.likelihood, chains=settings.chains,
                        draws=settings.draws, tune=settings.tune,
                        target_accept=settings.target_accept,
                        parameterization=settings.parameterization, seed=seed)


def structural_zeros(design: TreatmentDesign) -> list[str]:
    """Reported elements that are zero by construction (a city alone in its cohort x level
    group has no deviation from its cells), named as in the diagnostics table."""
    return [f"{c.name}[{label}]" for c in design.components if c.dim is not None
            for label, row in zip(c.labels, c.report) if not row.any()]


def fit_design(design: TreatmentDesign, priors: Priors, settings: Settings,
               seed: int | np.random.SeedSequence | None) -> Fit:
    """Sample, aggregate every estimand draw by draw, build the InferenceData, diagnose."""
    draws = sample(design, priors, settings, seed)
    theta = draws.theta.reshape(draws.n_chains * draws.n_draws, -1)
    aggs = estimand_draws(design, theta)
    loglik = unit_loglik(design, draws, settings.likelihood) if settings.log_likelihood else None
    attrs = {"variant": design.variant, "likelihood": settings.likelihood,
             "outcome_scale": design.scale, "tuning_steps": settings.tune,
             "by": ",".join(design.by), "ar1_rho": design.rho}
    idata = to_inference_data(design, draws, aggs, loglik=loglik, attrs=attrs)
    diagnostics = diagnose(idata, reported=[a.estimand for a in aggs],
                           exclude=structural_zeros(design))
    return Fit(design=design, draws=draws, aggregations=aggs, idata=idata,
               diagnostics=diagnostics)
