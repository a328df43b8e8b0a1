"""What every frequentist estimator shares.

:class:`FreqEstimator` is the base of the frequentist estimators: their shared parameters
(``interval_prob``, ``by``/``by_bins``, ``covariates``, ``trend_covariates``, ``cluster``) are
declared once in :mod:`bayescity.estimators.core.params` and checked by the estimator template;
:func:`validate_wild` checks the wild bootstrap's combination with the variance estimator.
"""

from __future__ import annotations

from typing import Any

from ...data.panel import Panel
from ..core.base import Estimator, ParamError, resolve_by
from ..core.params import Spec

#: Inference of the regression estimators: analytic clustered errors or the wild bootstrap.
INFERENCE_KINDS = ("analytic", "wild")
#: ``inference`` as a declared parameter.
INFERENCE = Spec("choice", "analytic clustered errors, or the wild cluster bootstrap (wild)",
                 choices=INFERENCE_KINDS)


class FreqEstimator(Estimator):
    """Base of the frequentist estimators."""

    paradigm = "frequentist"

    def _panel(self, panel: Panel) -> Panel:
        """The panel to fit: binned when ``by`` names a numeric trait."""
        return resolve_by(panel, self.by, self.by_bins)

    def _covariates(self, panel: Panel) -> list[str]:
        """The covariates asked for: ``covariates``, or the panel's when it is None."""
        return list(panel.covariates if self.covariates is None else self.covariates)


def validate_wild(inference: str, vcov: str, n_boot: Any) -> None:
    """``inference: wild`` only with clustered errors."""
    if inference == "wild" and vcov not in ("CRV1", "CRV3"):
        raise ParamError(f"inference: 'wild' needs clustered errors (vcov: CRV1 or CRV3), "
                         f"not vcov: {vcov!r}")
