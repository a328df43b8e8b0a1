"""What every frequentist estimator checks and reports.

:class:`FreqEstimator` validates the parameters the five estimators share (``interval_prob``,
``by``/``by_bins``, ``covariates``, ``trend_covariates``, ``cluster``) when the config is read,
and checks their column roles against the panel before any fit. :func:`covariate_report` says
which covariates a fit used and which it dropped, and why.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...data.panel import Panel
from ...data.traits import n_bins
from ..base import Estimator, ParamError, resolve_by
from ..checks import (check_columns_exist, check_int, check_name, check_names,
                      check_numeric_columns, check_prob, check_unit_constant,
                      require_untreated_periods)

#: Inference of the regression estimators: analytic clustered errors or the wild bootstrap.
INFERENCE_KINDS = ("analytic", "wild")
#: Why a covariate was dropped that the fixed effects and the other covariates span (harmless).
SPANNED = "a combination of the other covariates and the fixed effects"
#: Why a covariate was dropped that only the treatment regressors explain (the fit cannot
#: adjust for it).
COLLINEAR = "collinear with the treatment regressors"


class FreqEstimator(Estimator):
    """Base of the frequentist estimators: shared parameter and column-role checks.

    Subclasses extend :meth:`_validate` (calling this one) for their own parameters; set
    ``cluster_within_units`` when the cluster column must be constant within units.
    """

    paradigm = "frequentist"
    #: Whether ``cluster`` must be constant within units (influence functions per unit).
    cluster_within_units: bool = False

    def _validate(self) -> None:
        check_prob("interval_prob", self.interval_prob)
        check_name("by", self.by)
        if self.by_bins is not None:
            if self.by is None:
                raise ParamError("by_bins: given without `by`")
            try:
                n_bins(self.by_bins)
            except ValueError as exc:
                raise ParamError(str(exc)) from None
        check_name("cluster", self.cluster)
        for name in ("covariates", "trend_covariates"):
            check_names(name, getattr(self, name, None))

    def check_panel(self, panel: Panel) -> None:
        """Column roles and treatment timing: raise :class:`ParamError` before any fit."""
        require_untreated_periods(panel)
        resolve_by(panel, self.by, self.by_bins)
        if self.cluster is not None:
            check = check_unit_constant if self.cluster_within_units else check_columns_exist
            check(panel, "cluster", [self.cluster])
        if self.covariates:
            check_numeric_columns(panel, "covariates", self.covariates)
        trends = getattr(self, "trend_covariates", None)
        if trends:
            check_unit_constant(panel, "trend_covariates", trends)

    def _panel(self, panel: Panel) -> Panel:
        """The panel to fit: checked, and binned when ``by`` names a numeric trait."""
        self.check_panel(panel)
        return resolve_by(panel, self.by, self.by_bins)

    def _covariates(self, panel: Panel) -> list[str]:
        """The covariates asked for: ``covariates``, or the panel's when it is None."""
        return list(panel.covariates if self.covariates is None else self.covariates)


def validate_wild(inference: str, vcov: str, n_boot: Any) -> None:
    """``n_boot`` a positive integer; ``inference: wild`` only with clustered errors."""
    check_int("n_boot", n_boot, minimum=1)
    if inference == "wild" and vcov not in ("CRV1", "CRV3"):
        raise ParamError(f"inference: 'wild' needs clustered errors (vcov: CRV1 or CRV3), "
                         f"not vcov: {vcov!r}")


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
    from .inference import fe_projection, residualize

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
