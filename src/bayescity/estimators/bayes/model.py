"""The hierarchical DID as a PyMC model: the one model every NUTS backend samples.

In standardised outcome units, with the effect components of :mod:`.design`:

* ``mu ~ N(0, effect)`` (fixed-prior components, also the cells of the ``unpooled`` variant);
* each learned group ``k``: ``sd_k ~ half-t(scale_df, prior_k)`` (half-normal for
  ``scale_df: null``; for the trait-level deviations the boundary-avoiding version, the
  half-t density times ``sd_k``, added as a potential ``log sd_k``, :mod:`.priors`) and its
  parameters ``N(0, sd_k)`` (zero-sum contrasts of the deviations, :mod:`.components`),
  non-centred (``sd_k z``) unless ``parameterization: centered``;
* the noise ``sigma ~ half-t(scale_df, sigma)``.

Gaussian likelihood (:func:`absorbed_model`): unit and period effects and covariates carry flat
priors and are integrated out, leaving ``-dof log sigma - (y'My - 2 b'theta + theta'A theta) /
(2 sigma^2)``, the likelihood the Gibbs sampler of :mod:`.gibbs` uses. By default the effects
are integrated out as well (their conditional is Gaussian), so that NUTS moves in the few
dimensions of the scales, where the funnels of hierarchical models (Neal 2003; Betancourt &
Girolami 2015) do not arise; the effects are drawn exactly afterwards. Student-t likelihood
(:func:`explicit_model`): no such reduction exists, so unit and period effects and covariate
coefficients are parameters with wide normal priors (sd 10 on the standardised scale) and
``nu ~ Gamma(nu_shape, nu_rate)``. The same explicit model with a normal likelihood is the naive
parameterisation the benchmark compares against.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .components import Component
from .design import TreatmentDesign
from .priors import BOUNDARY_KEYS, Priors

#: Prior sd of unit and period effects and covariate coefficients in the explicit model.
NUISANCE_SD = 10.0


def theta_name(comp: Component) -> str:
    """The model variable holding a component's block of ``theta``."""
    return f"theta_{comp.name}"


def scale_name(comp: Component) -> str:
    return f"sd_{comp.name}"


def scale_rv(name: str, scale: float, df: float | None, boundary: bool = False):
    """A half-t (or half-normal) scale prior inside the current PyMC model; ``boundary``
    multiplies its density by the scale (a potential ``log s``)."""
    import pymc as pm

    if df is None:
        sd = pm.HalfNormal(name, sigma=scale)
    else:
        sd = pm.HalfStudentT(name, nu=df, sigma=scale)
    if boundary:
        pm.Potential(f"{name}_boundary", pm.math.log(sd))
    return sd


def group_scale(comp: Component, priors: Priors):
    """The learned scale of ``comp`` with its prior."""
    return scale_rv(scale_name(comp), getattr(priors, comp.prior), priors.scale_df,
                    comp.prior in BOUNDARY_KEYS)


def effect_block(comp: Component, priors: Priors, centered: bool):
    """The PyMC variable (a vector of ``comp.size``) of one effect component."""
    import pymc as pm

    scale = getattr(priors, comp.prior)
    if not comp.learned:
        return pm.Normal(theta_name(comp), 0.0, scale, shape=comp.size)
    sd = group_scale(comp, priors)
    if centered:
        return pm.Normal(theta_name(comp), 0.0, sd, shape=comp.size)
    z = pm.Normal(f"z_{comp.name}", 0.0, 1.0, shape=comp.size)
    return pm.Deterministic(theta_name(comp), sd * z)


def effects(design: TreatmentDesign, priors: Priors, parameterization: str):
    """``theta`` (in design order) built from the component variables."""
    import pytensor.tensor as pt

    centred = parameterization == "centered"
    return pt.concatenate([effect_block(c, priors, centred) for c in design.components])


PARAMETERIZATIONS = ("marginal", "noncentered", "centered")


def absorbed_model(design: TreatmentDesign, priors: Priors, *,
                   parameterization: str = "marginal"):
    """The Gaussian model with fixed effects and covariates integrated out (see module doc).

    ``marginal``: the effects are integrated out too and NUTS samples the scales and the noise
    sd alone (:func:`marginal_loglik`); the effects are then drawn from their Gaussian
    conditional (:func:`bayescity.estimators.bayes.nuts.conditional_effects`).
    ``noncentered``/``centered``: the effects are parameters of the model.
    """
    import pymc as pm
    import pytensor.tensor as pt

    s = design.stats
    with pm.Model() as model:
        sigma = scale_rv("sigma", priors.sigma, priors.scale_df)
        if parameterization == "marginal":
            prec = prior_precision_expr(design, priors)
            pm.Potential("likelihood", marginal_loglik(design, prec, sigma))
            return model
        theta = effects(design, priors, parameterization)
        A, b = pt.as_tensor_variable(s.A), pt.as_tensor_variable(s.b)
        rss = s.yMy - 2.0 * pt.dot(b, theta) + pt.dot(theta, pt.dot(A, theta))
        pm.Potential("likelihood", -s.dof * pt.log(sigma) - rss / (2.0 * sigma**2))
    return model


def prior_precision_expr(design: TreatmentDesign, priors: Priors):
    """Prior precision of every effect: fixed, or ``1 / sd_k^2`` of its learned group."""
    import pytensor.tensor as pt

    parts = []
    for comp in design.components:
        scale = getattr(priors, comp.prior)
        if comp.learned:
            sd = group_scale(comp, priors)
            parts.append(pt.ones(comp.size) / sd**2)
        else:
            parts.append(pt.as_tensor_variable(np.full(comp.size, 1.0 / scale**2)))
    return pt.concatenate(parts)


def marginal_loglik(design: TreatmentDesign, prec, sigma):
    """Log-likelihood of the scales and noise sd with the effects integrated out.

    With ``theta ~ N(0, D^-1)`` and ``Q = A / sigma^2 + D``:
    ``-dof log sigma - y'My / 2 sigma^2 + (log|D| - log|Q| + b'Q^-1 b / sigma^4) / 2``.
    """
    import pytensor.tensor as pt
    from pytensor.tensor import slinalg

    s = design.stats
    A, b = pt.as_tensor_variable(s.A), pt.as_tensor_variable(s.b)
    L = slinalg.cholesky(A / sigma**2 + pt.diag(prec), lower=True)
    w = slinalg.solve_triangular(L, b / sigma**2, lower=True)
    return (-s.dof * pt.log(sigma) - s.yMy / (2.0 * sigma**2)
            + 0.5 * pt.sum(pt.log(prec)) - pt.sum(pt.log(pt.diag(L))) + 0.5 * pt.dot(w, w))


def standardised_covariates(x: np.ndarray) -> np.ndarray:
    """Covariates centred and scaled (constant columns dropped) for the explicit model."""
    sd = x.std(axis=0)
    keep = sd > 0
    return (x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep]


def row_effects(design: TreatmentDesign, theta) -> Any:
    """Treatment effect of every row (zero on untreated rows) as a PyTensor expression; with
    AR(1) errors, of every quasi-differenced row."""
    import pytensor.tensor as pt

    n_basis = design.K.shape[0]
    padded = pt.concatenate([pt.dot(pt.as_tensor_variable(design.K), theta), pt.zeros(1)])

    def on_rows(cell_key: str, city_key: str):
        cells = design.rows[cell_key]
        out = padded[np.where(cells >= 0, cells, n_basis)]
        cities = design.rows[city_key]
        if (cities >= 0).any():
            out = out + padded[np.where(cities >= 0, cities, n_basis)]
        return out

    out = on_rows("cell", "city")
    if design.rho:  # quasi-differenced rows (AR(1) errors): minus rho times the year before's
        out = out - design.rho * on_rows("lag_cell", "lag_city")
    return out


def explicit_model(design: TreatmentDesign, priors: Priors, *, likelihood: str = "student_t",
                   parameterization: str = "noncentered"):
    """Unit and period effects and covariate coefficients as parameters (see module doc)."""
    import pymc as pm

    rows = design.rows
    y = (rows["y"] - design.location) / design.scale
    x = standardised_covariates(rows["x"])
    n_periods = int(rows["time"].max()) + 1
    with pm.Model() as model:
        theta = effects(design, priors, parameterization)
        sigma = scale_rv("sigma", priors.sigma, priors.scale_df)
        unit = pm.Normal("unit_effect", 0.0, NUISANCE_SD, shape=int(rows["unit"].max()) + 1)
        period = pm.Normal("period_effect", 0.0, NUISANCE_SD, shape=n_periods - 1)
        mean = unit[rows["unit"]] + _first_zero(period)[rows["time"]] + row_effects(design, theta)
        if x.shape[1]:
            beta = pm.Normal("beta", 0.0, NUISANCE_SD, shape=x.shape[1])
            mean = mean + pm.math.dot(x, beta)
        if likelihood == "student_t":
            nu = pm.Gamma("nu", alpha=priors.nu_shape, beta=priors.nu_rate)
            pm.StudentT("y", nu=nu, mu=mean, sigma=sigma, observed=y)
        else:
            pm.Normal("y", mu=mean, sigma=sigma, observed=y)
    return model


def _first_zero(period):
    import pytensor.tensor as pt

    return pt.concatenate([pt.zeros(1), period])
