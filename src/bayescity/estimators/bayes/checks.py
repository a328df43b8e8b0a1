"""Model checks on request: prior predictive, posterior predictive, prior sensitivity, PSIS-LOO.

* Prior predictive (Gabry, Simpson, Vehtari, Betancourt & Gelman 2019, JRSS A 182(2)): draws
  from the priors, the estimands they imply and replicated absorbed outcomes ``M y``.
* Posterior predictive check (Gelman, Meng & Stern 1996): replicated absorbed outcomes
  ``M y_rep`` (unit and period effects and covariates drop out of ``M y_rep``) and posterior
  predictive p-values of their sd, excess kurtosis and largest absolute value; extreme values
  of the latter two point to outliers (``likelihood: student_t``).
* Prior sensitivity: every prior scale halved and doubled; how far each estimand moves, in
  posterior standard deviations.
* PSIS-LOO (Vehtari, Gelman & Gabry 2017, Statistics and Computing 27(5)) on the per-city
  log-likelihood: leave-one-city-out comparison of the ``static``, ``unpooled`` and
  ``hierarchical`` variants with ``arviz.compare``.
"""

from __future__ import annotations

import warnings
from typing import Callable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from ...estimands import Aggregation
from .design import TreatmentDesign
from .nuts import Draws
from .posterior import estimand_draws
from .priors import BOUNDARY_KEYS, Priors, draw_scale_prior

#: Replicated outcomes kept in the InferenceData (each one is a full panel).
KEEP_REPLICATES = 100
#: Draws used for the posterior predictive p-values.
PPC_DRAWS = 400


def prior_draws(design: TreatmentDesign, priors: Priors, n: int,
                rng: np.random.Generator) -> Draws:
    """``n`` draws of the effects, learned scales and noise sd from their priors."""
    theta = np.empty((n, design.n_params))
    scales = []
    for comp in design.components:
        scale = getattr(priors, comp.prior)
        sd = np.full(n, scale)
        if comp.learned:
            sd = draw_scale_prior(rng, n, scale, priors.scale_df, comp.prior in BOUNDARY_KEYS)
            scales.append(sd)
        theta[:, comp.start:comp.stop] = sd[:, None] * rng.standard_normal((n, comp.size))
    sigma = draw_scale_prior(rng, n, priors.sigma, priors.scale_df)
    scales_arr = np.stack(scales, axis=1) if scales else np.zeros((n, 0))
    return Draws(theta=theta[None], scales=scales_arr[None], sigma=sigma[None],
                 sampler="prior", sampling_time=0.0)


def replicate_absorbed(design: TreatmentDesign, theta: np.ndarray, sigma: np.ndarray,
                       rng: np.random.Generator, nu: np.ndarray | None = None) -> np.ndarray:
    """(samples x rows) replicated ``M y_rep`` in standardised units."""
    n = design.n_obs
    shape = (n, len(sigma))
    noise = rng.standard_normal(shape) if nu is None else rng.standard_t(nu[None, :], shape)
    signal = np.asarray(design.basis @ (design.K @ theta.T)) + noise * sigma[None, :]
    return design.absorber.apply(signal).T


def summary_table(aggs: list[Aggregation], prob: float = 0.95) -> pd.DataFrame:
    """Mean, sd and equal-tailed interval of each estimand term's draws."""
    tail = (1 - prob) / 2
    rows = []
    for agg in aggs:
        lo, hi = np.quantile(agg.draws, [tail, 1 - tail], axis=0)
        for j, term in enumerate(agg.terms):
            rows.append({"estimand": agg.estimand, "term": term,
                         "mean": agg.draws[:, j].mean(), "sd": agg.draws[:, j].std(ddof=1),
                         "lower": lo[j], "upper": hi[j]})
    return pd.DataFrame(rows)


def prior_predictive(design: TreatmentDesign, priors: Priors, n: int, rng: np.random.Generator,
                     likelihood: str = "normal") -> tuple[Draws, list[Aggregation], np.ndarray]:
    """Prior draws, the estimands they imply and replicated absorbed outcomes (data units)."""
    draws = prior_draws(design, priors, n, rng)
    aggs = estimand_draws(design, draws.theta[0])
    keep = min(n, KEEP_REPLICATES)
    nu = None
    if likelihood == "student_t":
        nu = rng.gamma(priors.nu_shape, 1.0 / priors.nu_rate, size=keep)
    reps = replicate_absorbed(design, draws.theta[0, :keep], draws.sigma[0, :keep], rng, nu)
    return draws, aggs, reps * design.scale


def _statistics(y: np.ndarray) -> dict[str, np.ndarray]:
    """Test statistics of absorbed outcomes (rows = replicates)."""
    y = np.atleast_2d(y)
    return {"sd": y.std(axis=1), "excess_kurtosis": stats.kurtosis(y, axis=1),
            "max_abs": np.abs(y).max(axis=1)}


def posterior_predictive(design: TreatmentDesign, draws: Draws, rng: np.random.Generator,
                         likelihood: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Posterior predictive p-values of the statistics and kept replicates (data units)."""
    total = draws.n_chains * draws.n_draws
    pick = np.linspace(0, total - 1, min(total, PPC_DRAWS)).astype(int)
    theta = draws.theta.reshape(total, -1)[pick]
    sigma = draws.sigma.reshape(total)[pick]
    nu = None if likelihood == "normal" else draws.extra["nu"].reshape(total)[pick]
    reps = replicate_absorbed(design, theta, sigma, rng, nu)
    observed = _statistics(design.stats.y_absorbed)
    replicated = _statistics(reps)
    rows = [{"statistic": k, "observed": float(observed[k][0]) * _unit(k, design),
             "replicated_mean": float(v.mean()) * _unit(k, design),
             "replicated_lower": float(np.quantile(v, 0.025)) * _unit(k, design),
             "replicated_upper": float(np.quantile(v, 0.975)) * _unit(k, design),
             "ppp": float((v >= observed[k][0]).mean())} for k, v in replicated.items()]
    return pd.DataFrame(rows), reps[:KEEP_REPLICATES] * design.scale


def _unit(statistic: str, design: TreatmentDesign) -> float:
    return 1.0 if statistic == "excess_kurtosis" else design.scale


def ppc_notes(table: pd.DataFrame) -> tuple[str, ...]:
    """Sentences for posterior predictive p-values outside [0.01, 0.99]."""
    bad = table[(table["ppp"] < 0.01) | (table["ppp"] > 0.99)]
    return tuple(f"posterior predictive check: {r.statistic} of the absorbed outcome "
                 f"{r.observed:.3g} vs replicated {r.replicated_lower:.3g} to "
                 f"{r.replicated_upper:.3g} (ppp {r.ppp:.3f})"
                 + ("; consider likelihood: student_t" if r.statistic != "sd" else "")
                 for r in bad.itertuples())


#: Factors applied to every prior scale by the sensitivity analysis.
SENSITIVITY_FACTORS = (0.5, 2.0)
#: Shift (posterior sds) above which an estimand is named as prior-sensitive.
SENSITIVE_SHIFT = 0.5


def prior_sensitivity(base: list[Aggregation],
                      refit: Callable[[float], list[Aggregation]]) -> pd.DataFrame:
    """Posterior means with every prior scale x0.5 and x2 and the largest shift in sds."""
    table = summary_table(base)[["estimand", "term", "mean", "sd"]]
    shifts = []
    for factor in SENSITIVITY_FACTORS:
        other = summary_table(refit(factor))[["estimand", "term", "mean"]]
        col = f"mean_x{factor:g}"
        table = table.merge(other.rename(columns={"mean": col}), on=["estimand", "term"],
                            how="left")
        shifts.append(np.abs(table[col] - table["mean"]) / table["sd"])
    table["max_shift_sd"] = np.nanmax(np.column_stack(shifts), axis=1)
    return table


def sensitivity_notes(table: pd.DataFrame) -> tuple[str, ...]:
    bad = table[table["max_shift_sd"] > SENSITIVE_SHIFT]
    return tuple(f"prior sensitivity: {r.estimand}[{r.term}] moves {r.max_shift_sd:.2f} "
                 "posterior sd when every prior scale is halved or doubled"
                 for r in bad.itertuples())


def loo_compare(idatas: Mapping[str, object]) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """``arviz.compare`` (PSIS-LOO, leave one city out) of fitted variants, and k-hat notes."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pareto k is reported below, per variant
        table = az.compare(dict(idatas), ic="loo", scale="log")
        khats = {name: np.asarray(az.loo(idata, pointwise=True).pareto_k)
                 for name, idata in idatas.items()}
    table = table.reset_index().rename(columns={"index": "variant"})
    notes = []
    for name, khat in khats.items():
        if (khat > 0.7).any():
            notes.append(f"PSIS-LOO: {int((khat > 0.7).sum())} cities with Pareto k > 0.7 in "
                         f"the {name} variant; its elpd estimate is unreliable")
    table["warning"] = table["warning"].astype(bool)
    return pd.DataFrame(table), tuple(notes)
