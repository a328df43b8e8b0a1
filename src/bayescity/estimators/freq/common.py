"""What every frequentist estimator checks and reports.

:class:`FreqEstimator` validates the parameters the five estimators share (``interval_prob``,
``by``/``by_bins``, ``covariates``, ``trend_covariates``, ``cluster``) when the config is read,
and checks their column roles against the panel before any fit. :func:`covariate_report` says
which covariates a fit used and which it dropped, and why.
"""

from __future__ import annotations

from typing import Any

from ...data.panel import Panel
from ...data.traits import n_bins
from ..core.base import Estimator, ParamError, resolve_by
from ..core.checks import (check_columns_exist, check_int, check_name, check_names,
                           check_numeric_columns, check_prob, check_unit_constant,
                           require_untreated_periods)

#: Inference of the regression estimators: analytic clustered errors or the wild bootstrap.
INFERENCE_KINDS = ("analytic", "wild")


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


