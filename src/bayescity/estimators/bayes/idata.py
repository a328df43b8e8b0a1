"""The fit's ``arviz.InferenceData``: posterior (parameters and estimands, in outcome units),
sample statistics, a per-city log-likelihood, and the attributes a stored posterior needs.

The log-likelihood is per city (the sum over its years), so PSIS-LOO on it is
leave-one-city-out cross-validation: a city's years are dependent, a single city-year is not the
unit one would leave out. For the Gaussian model it is evaluated at the fixed effects and
covariate coefficients that best fit each draw's effects (the absorbed residuals ``M(y - B K
theta)``); for the Student-t model at the drawn fixed effects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse, stats

from ...estimands import Aggregation
from .absorb import CHUNK_ENTRIES
from .design import TreatmentDesign
from .model import scale_name, standardised_covariates
from .nuts import Draws
from .posterior import coordinate, estimand_dim


def unit_incidence(design: TreatmentDesign) -> sparse.csr_matrix:
    """(units x rows) 0/1 matrix summing rows within units."""
    codes = design.rows["unit"]
    return sparse.csr_matrix((np.ones(codes.size), (codes, np.arange(codes.size))))


def _chunks(n_rows: int, n_samples: int):
    step = max(1, CHUNK_ENTRIES // max(n_rows, 1))
    return [slice(lo, min(lo + step, n_samples)) for lo in range(0, n_samples, step)]


def gaussian_unit_loglik(design: TreatmentDesign, theta: np.ndarray,
                         sigma: np.ndarray) -> np.ndarray:
    """(samples x units) log-likelihood of each city's absorbed residuals (standardised units)."""
    S = unit_incidence(design)
    n_i = np.asarray(S.sum(axis=1)).ravel()
    y_t = design.stats.y_absorbed
    out = np.empty((theta.shape[0], S.shape[0]))
    for sl in _chunks(design.n_obs, theta.shape[0]):
        fitted = design.absorber.apply(np.asarray(design.basis @ (design.K @ theta[sl].T)))
        ss = np.asarray(S @ (y_t[:, None] - fitted) ** 2).T
        s2 = sigma[sl, None] ** 2
        out[sl] = -0.5 * n_i[None, :] * np.log(2 * np.pi * s2) - 0.5 * ss / s2
    return out


def student_unit_loglik(design: TreatmentDesign, theta: np.ndarray, sigma: np.ndarray,
                        extra: dict[str, np.ndarray]) -> np.ndarray:
    """(samples x units) Student-t log-likelihood of each city's rows at the drawn nuisances."""
    rows = design.rows
    y = (rows["y"] - design.location) / design.scale
    x = standardised_covariates(rows["x"])
    S = unit_incidence(design)
    period = np.concatenate([np.zeros((len(sigma), 1)), extra["period_effect"]], axis=1)
    out = np.empty((theta.shape[0], S.shape[0]))
    for sl in _chunks(design.n_obs, theta.shape[0]):
        mean = (extra["unit_effect"][sl][:, rows["unit"]] + period[sl][:, rows["time"]]
                + np.asarray(design.basis @ (design.K @ theta[sl].T)).T)
        if x.shape[1]:
            mean += extra["beta"][sl] @ x.T
        ll = stats.t.logpdf(y[None, :], extra["nu"][sl, None], mean, sigma[sl, None])
        out[sl] = np.asarray(S @ ll.T).T
    return out


def unit_loglik(design: TreatmentDesign, draws: Draws, likelihood: str) -> np.ndarray:
    """(chains, draws, units) log-likelihood per city in the outcome's units."""
    c, d = draws.n_chains, draws.n_draws
    theta = draws.theta.reshape(c * d, -1)
    sigma = draws.sigma.reshape(c * d)
    if likelihood == "normal":
        ll = gaussian_unit_loglik(design, theta, sigma)
    else:
        extra = {k: v.reshape(c * d, *v.shape[2:]) for k, v in draws.extra.items()}
        ll = student_unit_loglik(design, theta, sigma, extra)
    n_i = np.bincount(design.rows["unit"])
    return (ll - n_i[None, :] * np.log(design.scale)).reshape(c, d, -1)


def parameter_arrays(design: TreatmentDesign, draws: Draws) -> dict[str, np.ndarray]:
    """Effect components, learned scales, noise sd (and nu) in outcome units."""
    c, d = draws.n_chains, draws.n_draws
    out = {}
    for comp in design.components:
        block = draws.theta[:, :, comp.start:comp.stop] @ comp.report.T * design.scale
        out[comp.name] = block[:, :, 0] if comp.dim is None else block
    learned = [comp for comp in design.components if comp.learned]
    for j, comp in enumerate(learned):
        out[scale_name(comp)] = draws.scales[:, :, j] * design.scale
    out["sigma"] = draws.sigma * design.scale
    if "nu" in draws.extra:
        out["nu"] = draws.extra["nu"].reshape(c, d)
    return out


def estimand_arrays(design: TreatmentDesign, aggs: list[Aggregation], n_chains: int,
                    n_draws: int) -> tuple[dict, dict, dict]:
    """Estimand draws as (chains, draws[, terms]) arrays with their dims and coords."""
    data, dims, coords = {}, {}, {}
    for agg in aggs:
        dim = estimand_dim(design, agg.estimand)
        values = agg.draws.reshape(n_chains, n_draws, -1)
        if dim is None:
            data[agg.estimand] = values[:, :, 0]
            continue
        data[agg.estimand], dims[agg.estimand] = values, [dim]
        coords[dim] = coordinate(agg.estimand, agg.terms)
    return data, dims, coords


def to_inference_data(design: TreatmentDesign, draws: Draws, aggs: list[Aggregation], *,
                      loglik: np.ndarray | None, attrs: dict[str, Any]):
    """The InferenceData of a fit (see the module docstring)."""
    import arviz as az

    posterior = parameter_arrays(design, draws)
    dims = {c.name: [c.dim] for c in design.components if c.dim is not None}
    coords = {c.dim: list(c.labels) for c in design.components if c.dim is not None}
    est, est_dims, est_coords = estimand_arrays(design, aggs, draws.n_chains, draws.n_draws)
    posterior.update(est)
    dims.update(est_dims)
    coords.update(est_coords)
    idata = az.from_dict(posterior=posterior, sample_stats=dict(draws.sample_stats),
                         coords=coords, dims=dims)
    if loglik is not None:
        unit = design.unit_name
        idata.add_groups(log_likelihood=az.dict_to_dataset(
            {"y": loglik}, coords={unit: [str(u) for u in design.rows["unit_labels"]]},
            dims={"y": [unit]}))
    attrs = {"sampler": draws.sampler, "sampling_time": float(draws.sampling_time), **attrs}
    for group in idata.groups():
        idata[group].attrs.update(attrs)
    return idata
