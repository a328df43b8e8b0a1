"""Priors of the hierarchical DID: weakly informative, in units of the outcome's standard deviation.

Every scale is a multiple of the standard deviation of the outcome over the rows used, so the
same defaults suit TFP growth in percentage points and output in yuan. Each is settable from a
config (``priors: {trait: 0.5}``):

===========  =======  ===================================================================
key          default  meaning
===========  =======  ===================================================================
effect       2.5      sd of the normal prior on the overall effect level ``mu`` (and on every
                      effect of the ``unpooled`` variant)
event        1.0      sd of the normal prior on each step of the common event-time path
trait_event  1.0      sd of the normal prior on each step of a trait level's own path (its
                      deviation from the common step; the levels' deviations sum to zero)
trait        1.0      scale of the boundary-avoiding half-t prior on the sd of the
                      trait-level deviations (see below)
cohort       0.5      scale of the half-t prior on the sd of the cohort deviations
cell         0.25     scale of the half-t prior on the sd of the cell deviations
city         0.5      scale of the half-t prior on the sd of the city deviations
sigma        1.0      scale of the half-t prior on the noise sd
scale_df     3        degrees of freedom of every half-t above; ``null`` gives half-normals
nu_shape     2        Gamma(shape, rate) prior on the Student-t degrees of freedom
nu_rate      0.1      (Juarez & Steel 2010), used with ``likelihood: student_t``
===========  =======  ===================================================================

Half-t priors on group-level scales follow Gelman (2006, Bayesian Analysis 1(3)): they are
proper, weakly informative and let a scale approach zero when the data say so. The sd of the
trait-level deviations is learned from a handful of levels (three regions give two
contrasts), too few to keep a half-t's mass near zero from shrinking well-measured levels
towards the others (a level with no effect inherited a quarter of a posterior sd of the
others' effect in the calibration study): its prior is the half-t density times ``s``
(:data:`BOUNDARY_KEYS`), zero at ``s = 0`` like the boundary-avoiding gamma(2) prior of Chung,
Rabe-Hesketh, Dorie, Gelman & Liu (2013, Psychometrika 78(4)), with the half-t's tail. Thin
levels are still pulled towards the others. Event-time steps, common and per level, have fixed
normal priors: with a learned step sd, most steps of an effect that builds up and then
plateaus are near zero, the learned sd is small and the build-up was flattened (the approval
year lifted, later years and levels with the steepest build-up pulled down).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

#: Keys whose values are scales (multiplied by the prior-sensitivity factors).
SCALE_KEYS = ("effect", "event", "trait_event", "trait", "cohort", "cell", "city", "sigma")
#: Keys of learned scales whose prior is boundary-avoiding (half-t density times ``s``).
BOUNDARY_KEYS = ("trait",)


class PriorError(ValueError):
    """A ``priors:`` entry that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Priors:
    """Prior settings (see the module docstring); scales in outcome standard deviations."""

    effect: float = 2.5
    event: float = 1.0
    trait_event: float = 1.0
    trait: float = 1.0
    cohort: float = 0.5
    cell: float = 0.25
    city: float = 0.5
    sigma: float = 1.0
    scale_df: float | None = 3.0
    nu_shape: float = 2.0
    nu_rate: float = 0.1

    def scaled(self, factor: float) -> "Priors":
        """Every scale multiplied by ``factor`` (prior sensitivity)."""
        return replace(self, **{k: getattr(self, k) * factor for k in SCALE_KEYS})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def log_scale_prior(s, scale, df: float | None, boundary=False):
    """Unnormalised log density of the half-t(df, scale) (half-normal for ``df=None``), times
    ``s`` where ``boundary`` (a flag per scale, broadcast like ``s``)."""
    import numpy as np

    s = np.asarray(s)
    z2 = (s / scale) ** 2
    out = -0.5 * z2 if df is None else -0.5 * (df + 1.0) * np.log1p(z2 / df)
    return out + np.where(boundary, np.log(np.where(boundary, s, 1.0)), 0.0)


def draw_scale_prior(rng, n: int, scale: float, df: float | None,
                     boundary: bool = False):
    """``n`` draws of a scale from its prior: half-t(df, scale) or half-normal, or the
    boundary-avoiding version (density times ``s``). For the latter ``u = (s / scale)^2`` has
    density proportional to ``(1 + u / df)^-((df + 1) / 2)``, a Lomax (Pareto II) with shape
    ``(df - 1) / 2`` and scale ``df`` (drawn by inversion); with half-normals ``s`` is
    Rayleigh."""
    import numpy as np

    if not boundary:
        z = rng.standard_normal(n) if df is None else rng.standard_t(df, size=n)
        return scale * np.abs(z)
    if df is None:
        return scale * rng.rayleigh(size=n)
    if df <= 1:
        raise ValueError("the boundary-avoiding half-t prior needs scale_df > 1")
    u = df * (rng.uniform(size=n) ** (-2.0 / (df - 1.0)) - 1.0)
    return scale * np.sqrt(u)


def parse_priors(values: Mapping[str, Any] | None) -> Priors:
    """:class:`Priors` from a config mapping; unknown keys and non-positive scales are refused."""
    if values is None:
        return Priors()
    if not isinstance(values, Mapping):
        raise PriorError(f"priors: expected a mapping such as {{trait: 0.5}}, got {values!r}")
    known = [f.name for f in fields(Priors)]
    unknown = [k for k in values if k not in known]
    if unknown:
        raise PriorError(f"priors: unknown key(s) {unknown}; known: {known}")
    out = {}
    for key, value in values.items():
        if key == "scale_df" and value is None:
            out[key] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise PriorError(f"priors: {key}: expected a positive number, got {value!r}") from None
        if not (math.isfinite(number) and number > 0):
            raise PriorError(f"priors: {key}: expected a positive number, got {value!r}")
        if key == "scale_df" and number <= 1:
            raise PriorError(f"priors: scale_df: expected a number > 1 or null (the prior of "
                             f"trait, half-t times s, is improper for df <= 1), got {value!r}")
        out[key] = number
    return Priors(**out)
