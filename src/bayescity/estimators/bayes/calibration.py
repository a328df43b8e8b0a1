"""Simulation-based calibration of the hierarchical DID (Talts, Betancourt, Simpson, Vehtari &
Gelman 2018, "Validating Bayesian inference algorithms with simulation-based calibration",
arXiv:1804.06788).

Each replication draws the effects, their scales and the noise sd from the priors, simulates an
outcome on a fixed small staggered panel (unit and period effects drawn at random: the model
gives them flat priors, so any values do), fits the model and records the rank of every true
region effect among thinned posterior draws. If the sampler and the model are right, the ranks
are uniform; :func:`rank_uniformity` tests that with a chi-square test on binned ranks.
Replications run through :func:`bayescity.parallel.map_tasks`, each with its own seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ...data.loader import load_panel
from ...parallel import map_tasks
from .checks import prior_draws
from .design import TreatmentDesign, treatment_design
from .posterior import estimand_draws
from .priors import Priors
from .sampling import Settings, sample


@dataclass(frozen=True)
class SBCSpec:
    """The panel and sampler settings of a calibration study."""

    n_units: int = 36
    n_periods: int = 8
    cohorts: tuple[int, ...] = (4, 6)
    regions: tuple[str, ...] = ("East", "Middle", "West")
    chains: int = 2
    draws: int = 500
    tune: int = 200
    thin: int = 10
    #: Thinned draws ranked against the truth: ranks run 0..max_rank (100 values, 10 bins).
    max_rank: int = 99


def sbc_panel(spec: SBCSpec, y: np.ndarray | None = None):
    """The fixed panel structure (outcome ``y`` or zeros)."""
    n, t = spec.n_units, spec.n_periods
    unit = np.repeat(np.arange(n), t)
    cohort = np.array([0, *spec.cohorts])[np.arange(n) % (len(spec.cohorts) + 1)]
    region = np.array(spec.regions)[(np.arange(n) // (len(spec.cohorts) + 1)) % len(spec.regions)]
    frame = pd.DataFrame({"unit": unit, "time": np.tile(np.arange(1, t + 1), n),
                          "g": cohort[unit], "region": region[unit],
                          "y": np.zeros(n * t) if y is None else y})
    return load_panel(frame, unit="unit", time="time", outcome="y", cohort="g",
                      traits=["region"])


def quantities(design: TreatmentDesign, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Region-level deviations, region ATTs and the ATT of effect draws (samples x params)."""
    comp = design.component("level_dev_region")
    aggs = {a.estimand: a for a in estimand_draws(design, theta)}
    return {"level_dev": theta[:, comp.start:comp.stop] @ comp.report.T,
            "ATT_by_region": aggs["ATT_by_region"].draws, "ATT": aggs["ATT"].draws}


def sbc_replication(task: tuple[SBCSpec, Priors, np.random.SeedSequence]) -> dict[str, np.ndarray]:
    """Ranks of the true region effects among thinned posterior draws for one simulated panel."""
    spec, priors, seed = task
    rng = np.random.default_rng(seed)
    base = treatment_design(sbc_panel(spec), by=["region"], scale=1.0)
    prior = prior_draws(base, priors, 1, rng)
    theta, sigma = prior.theta[0], prior.sigma[0, 0]
    rows = base.rows
    y = (rng.normal(size=rows["unit"].max() + 1)[rows["unit"]]
         + rng.normal(size=rows["time"].max() + 1)[rows["time"]]
         + np.asarray(base.basis @ (base.K @ theta[0])) + sigma * rng.normal(size=rows["y"].size))
    design = treatment_design(sbc_panel(spec, y), by=["region"], scale=1.0)
    draws = sample(design, priors, Settings(chains=spec.chains, draws=spec.draws,
                                            tune=spec.tune), rng.integers(2**32))
    kept = draws.theta[:, ::spec.thin].reshape(-1, design.n_params)[:spec.max_rank]
    posterior, truth = quantities(design, kept), quantities(design, theta)
    return {k: (posterior[k] < truth[k]).sum(axis=0) for k in truth}


def simulation_based_calibration(n_datasets: int, seed: int, spec: SBCSpec = SBCSpec(),
                                 priors: Priors = Priors()) -> pd.DataFrame:
    """One row per dataset and quantity: ``quantity``, ``term``, ``rank`` and ``max_rank``."""
    seeds = np.random.SeedSequence(seed).spawn(n_datasets)
    ranks = map_tasks(sbc_replication, [(spec, priors, s) for s in seeds])
    max_rank = spec.max_rank
    terms = {"level_dev": spec.regions, "ATT_by_region": spec.regions, "ATT": ("overall",)}
    rows = [{"dataset": i, "quantity": q, "term": terms[q][j], "rank": int(r[q][j]),
             "max_rank": max_rank}
            for i, r in enumerate(ranks) for q in terms for j in range(len(terms[q]))]
    return pd.DataFrame(rows)


def rank_uniformity(ranks: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Chi-square test of uniform ranks per quantity and term (ranks binned into ``bins``)."""
    out = []
    for (q, term), group in ranks.groupby(["quantity", "term"], sort=False):
        edges = np.linspace(0, group["max_rank"].iloc[0] + 1, bins + 1)
        counts = np.histogram(group["rank"], bins=edges)[0]
        chi2, p = stats.chisquare(counts)
        out.append({"quantity": q, "term": term, "n_datasets": len(group), "chi2": chi2,
                    "df": bins - 1, "p_value": p, "counts": " ".join(map(str, counts))})
    return pd.DataFrame(out)
