"""Which covariates a fit used and dropped, and the sentences every paradigm reports.

:func:`covariate_report` says which of the requested covariates a fit kept and why the others
were dropped (absorbed by the fixed effects, spanned by the other covariates, or collinear with
the treatment regressors); :func:`sentences` and :func:`always_treated_note` build the notes
and warnings of a result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...results.parts import Message, Part
from .inference import fe_projection, residualize


@dataclass(frozen=True)
class Reported:
    """What every result of one fit reports alike: its settings (plain values for the
    ``settings`` part), its messages and further parts."""

    settings: dict[str, Any] = field(default_factory=dict)
    messages: tuple[Message, ...] = ()
    parts: tuple[Part, ...] = ()

#: Why a covariate was dropped that the fixed effects and the other covariates span (harmless).
SPANNED = "a combination of the other covariates and the fixed effects"


#: Why a covariate was dropped that only the treatment regressors explain (the fit cannot
#: adjust for it).
COLLINEAR = "collinear with the treatment regressors"


def always_treated_note(n_dropped: int) -> str | None:
    """The note of an estimator that leaves out units treated in every period it observes."""
    if not n_dropped:
        return None
    return (f"{n_dropped} units treated in every period they are observed are left out (no "
            "untreated period of their own)")


def covariate_report(requested: Sequence[str], fitted: Sequence[str], data: pd.DataFrame, *,
                     unit: str, time: str, default: bool
                     ) -> tuple[dict[str, Any], str | None, str | None]:
    """Which of the ``requested`` covariates a fit kept (``fitted`` coefficient names) and why
    the others were dropped: plain data for ``info``, a sentence for ``info["notes"]`` and one
    for ``info["warnings"]`` (None when there is nothing to say).

    A covariate constant within units is absorbed by the unit fixed effects, one constant
    within periods by the period fixed effects, and one the kept covariates and fixed effects
    span is redundant: the fit controls for it all the same, and the note says so. Any other
    dropped one is collinear with the treatment regressors: the fit does not adjust for it as
    asked, which is a warning. ``default`` marks the panel's covariates (the estimator's
    ``covariates`` was not set).
    """
    used = [c for c in requested if c in set(fitted)]
    dropped = {c: _drop_reason(data, c, unit, time, used) for c in requested
               if c not in set(fitted)}
    info = {"covariates_used": used, "covariates_dropped": dropped}
    absorbed = {c: why for c, why in dropped.items() if why != COLLINEAR}
    collinear = [c for c, why in dropped.items() if why == COLLINEAR]
    return info, covariate_note(used, absorbed, default), collinear_warning(collinear)


def collinear_warning(dropped: Sequence[str]) -> str | None:
    """The warning of covariates dropped as collinear (None when there are none)."""
    if not dropped:
        return None
    return (f"covariates dropped as {COLLINEAR}: {', '.join(dropped)}; the estimate does not "
            "adjust for them")


def sentences(*parts: str | None) -> tuple[str, ...]:
    """The given sentences without the Nones (for ``info["notes"]`` / ``info["warnings"]``)."""
    return tuple(p for p in parts if p)


def _drop_reason(data: pd.DataFrame, column: str, unit: str, time: str,
                 kept: Sequence[str]) -> str:
    if (data.groupby(unit)[column].nunique(dropna=False) <= 1).all():
        return "constant within units: absorbed by the unit fixed effects"
    if (data.groupby(time)[column].nunique(dropna=False) <= 1).all():
        return "the same for every unit in each period: absorbed by the period fixed effects"

    x = data[column].to_numpy(dtype=float)
    rest = residualize(fe_projection(data, [unit, time], list(kept)), x)
    scale = np.linalg.norm(residualize(fe_projection(data, [unit, time]), x))
    return SPANNED if np.linalg.norm(rest) <= 1e-8 * max(scale, 1e-300) else COLLINEAR


def covariate_note(used: Sequence[str], dropped: dict[str, str], default: bool,
                   where: str = "") -> str | None:
    """``"covariates used: a, b (the panel's covariates); dropped: c (why)"``, or None when no
    covariate was asked for."""
    if not used and not dropped:
        return None
    text = f"covariates used{where}: {', '.join(used) or 'none'}"
    if default:
        text += " (the panel's covariates)"
    if dropped:
        text += "; dropped: " + "; ".join(f"{c} ({why})" for c, why in dropped.items())
    return text

