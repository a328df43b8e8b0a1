"""Priors of the hierarchical DID: weakly informative, in units of the outcome's standard deviation.

Every scale is a multiple of the standard deviation of the outcome over the rows used, so the
same defaults suit TFP growth in percentage points and output in yuan. Each is settable from a
config (``priors: {trait: 0.5}``):

=========  =======  =====================================================================
key        default  meaning
=========  =======  =====================================================================
effect     2.5      sd of the normal prior on the overall effect level ``mu`` (and on each
                    cell effect of the ``unpooled`` variant)
event      0.5      scale of the half-t prior on the sd of the event-time random-walk steps
cohort     0.5      scale of the half-t prior on the sd of the cohort deviations
trait      1.0      scale of the half-t prior on the sd of the trait-level deviations
cell       0.25     scale of the half-t prior on the sd of the cell deviations
city       0.5      scale of the half-t prior on the sd of the city deviations
sigma      1.0      scale of the half-t prior on the noise sd
scale_df   3        degrees of freedom of every half-t above; ``null`` gives half-normals
nu_shape   2        Gamma(shape, rate) prior on the Student-t degrees of freedom
nu_rate    0.1      (Juarez & Steel 2010), used with ``likelihood: student_t``
=========  =======  =====================================================================

Half-t priors on group-level scales follow Gelman (2006, Bayesian Analysis 1(3)): they are
proper, weakly informative and let a scale approach zero when the data say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

#: Keys whose values are scales (multiplied by the prior-sensitivity factors).
SCALE_KEYS = ("effect", "event", "cohort", "trait", "cell", "city", "sigma")


class PriorError(ValueError):
    """A ``priors:`` entry that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Priors:
    """Prior settings (see the module docstring); scales in outcome standard deviations."""

    effect: float = 2.5
    event: float = 0.5
    cohort: float = 0.5
    trait: float = 1.0
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


def log_scale_prior(s, scale, df: float | None):
    """Unnormalised log density of the half-t(df, scale) (half-normal for ``df=None``)."""
    import numpy as np

    z2 = (np.asarray(s) / scale) ** 2
    if df is None:
        return -0.5 * z2
    return -0.5 * (df + 1.0) * np.log1p(z2 / df)


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
        out[key] = number
    return Priors(**out)
