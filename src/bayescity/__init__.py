"""bayescity: Bayesian, causal-ML and frequentist evaluation of place-based policies on city panels."""

from .constants import INTERVAL_PROB, SUMMARY_COLUMNS
from .data import Panel, PanelError, load_panel
from .estimators import available_methods, get_estimator, make_estimator
from .results import EffectResult, compare

__version__ = "0.2.0"

__all__ = ["INTERVAL_PROB", "SUMMARY_COLUMNS", "EffectResult", "Panel", "PanelError",
           "available_methods", "compare", "get_estimator", "load_panel", "make_estimator",
           "__version__"]
