"""NUTS backends over the one PyMC model of :mod:`.model`: NumPyro (JAX), nutpie and PyMC.

All three run ``pymc.sample`` on the same model with the same seed handling; chains run in
parallel on the machine's cores. JAX sees one CPU device unless
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` is set before it starts, so
:func:`ensure_host_devices` adds that flag (keeping any flags the user set) before the first
JAX import.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .design import TreatmentDesign
from .model import absorbed_model, explicit_model, scale_name, theta_name
from .priors import Priors
from .gibbs import conditional_effects

NUTS_SAMPLERS = ("numpyro", "nutpie", "pymc")
DEVICE_FLAG = "--xla_force_host_platform_device_count"
#: Cores the chains are spread over.
CORES = 2


@dataclass(frozen=True, eq=False)
class Draws:
    """Posterior draws of any sampler in one layout (standardised units).

    ``theta`` (chains, draws, params) in design order; ``scales`` (chains, draws, learned
    groups); ``sigma`` (chains, draws); ``extra`` other named draws (``nu``, the explicit
    model's nuisance parameters); ``sample_stats`` per-draw sampler statistics (chains, draws).
    """

    theta: np.ndarray
    scales: np.ndarray
    sigma: np.ndarray
    sampler: str
    sampling_time: float
    sample_stats: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_chains(self) -> int:
        return self.theta.shape[0]

    @property
    def n_draws(self) -> int:
        return self.theta.shape[1]


def ensure_host_devices(n: int = CORES) -> None:
    """Ask JAX for ``n`` CPU devices (parallel chains) unless the user's XLA_FLAGS say otherwise
    or JAX has already started (then chains run one after another)."""
    if "jax" in sys.modules:
        from jax._src import xla_bridge

        if xla_bridge.backends_are_initialized():
            return
    flags = os.environ.get("XLA_FLAGS", "")
    if DEVICE_FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {DEVICE_FLAG}={n}".strip()


def seed_int(seed: int | np.random.SeedSequence | None) -> int:
    """A 32-bit integer seed for samplers that take one."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def sample_kwargs(sampler: str, chains: int) -> dict[str, Any]:
    """Backend options: parallel chains on :data:`CORES` cores, no progress bars."""
    if sampler == "numpyro":
        ensure_host_devices(max(chains, CORES))
        return {"nuts_sampler": "numpyro",
                "nuts_sampler_kwargs": {"chain_method": "parallel"}}
    if sampler == "nutpie":
        return {"nuts_sampler": "nutpie", "nuts_sampler_kwargs": {"cores": CORES}}
    options = {"nuts_sampler": "pymc", "cores": CORES}
    if "jax" in sys.modules:  # JAX's threads do not survive a fork: start fresh workers
        options["mp_ctx"] = "spawn"
    return options


def run_nuts(design: TreatmentDesign, priors: Priors, *, sampler: str, likelihood: str,
             chains: int, draws: int, tune: int, target_accept: float, parameterization: str,
             seed: int | np.random.SeedSequence | None) -> Draws:
    """Sample the model with a NUTS backend and return the draws in the common layout."""
    import pymc as pm

    if sampler not in NUTS_SAMPLERS:
        raise ValueError(f"sampler: {sampler!r} is not one of {list(NUTS_SAMPLERS)}")
    if likelihood == "normal":
        model = absorbed_model(design, priors, parameterization=parameterization)
    else:
        model = explicit_model(design, priors, likelihood=likelihood,
                               parameterization=parameterization)
    seeds = (seed if isinstance(seed, np.random.SeedSequence)
             else np.random.SeedSequence(seed)).spawn(2)
    kwargs = sample_kwargs(sampler, chains)
    start = time.perf_counter()
    with model:
        idata = pm.sample(draws=draws, tune=tune, chains=chains, target_accept=target_accept,
                          random_seed=seed_int(seeds[0]), progressbar=False,
                          compute_convergence_checks=False, **kwargs)
    elapsed = float(idata.posterior.attrs.get("sampling_time", time.perf_counter() - start))
    if parameterization == "marginal":
        return completed_draws(design, priors, idata, sampler, elapsed, seeds[1])
    return draws_from_idata(design, idata, sampler, elapsed)


#: Sampler statistics kept from NUTS backends (where the backend reports them).
NUTS_STATS = ("diverging", "energy", "tree_depth", "n_steps", "step_size", "acceptance_rate",
              "lp")


def posterior_scales(design: TreatmentDesign, post) -> np.ndarray:
    """(chains, draws, learned groups) scale draws of a PyMC-model posterior."""
    learned = [c for c in design.components if c.learned]
    if not learned:
        return np.zeros((post.sizes["chain"], post.sizes["draw"], 0))
    return np.stack([np.asarray(post[scale_name(c)]) for c in learned], axis=2)


def completed_draws(design: TreatmentDesign, priors: Priors, idata, sampler: str,
                    sampling_time: float, seed: np.random.SeedSequence) -> Draws:
    """Draws of the marginal model completed with exact conditional draws of the effects."""
    post = idata.posterior
    chains, n = post.sizes["chain"], post.sizes["draw"]
    scales, sigma = posterior_scales(design, post), np.asarray(post["sigma"])
    theta = conditional_effects(design, priors, scales.reshape(chains * n, -1),
                                sigma.reshape(-1), seed)
    stats = {k: np.asarray(idata.sample_stats[k]) for k in NUTS_STATS if k in idata.sample_stats}
    return Draws(theta=theta.reshape(chains, n, -1), scales=scales, sigma=sigma,
                 sampler=sampler, sampling_time=sampling_time, sample_stats=stats)


def draws_from_idata(design: TreatmentDesign, idata, sampler: str,
                     sampling_time: float) -> Draws:
    """The common layout of a PyMC-model posterior with the effects as parameters."""
    post = idata.posterior
    chains, n = post.sizes["chain"], post.sizes["draw"]
    theta = np.concatenate([np.asarray(post[theta_name(c)]).reshape(chains, n, -1)
                            for c in design.components], axis=2)
    scales = posterior_scales(design, post)
    stats = {k: np.asarray(idata.sample_stats[k]) for k in NUTS_STATS if k in idata.sample_stats}
    extra = {k: np.asarray(post[k]) for k in ("nu", "unit_effect", "period_effect", "beta")
             if k in post}
    return Draws(theta=theta, scales=scales, sigma=np.asarray(post["sigma"]), sampler=sampler,
                 sampling_time=sampling_time, sample_stats=stats, extra=extra)
