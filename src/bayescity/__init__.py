"""bayescity: Bayesian, causal-ML and frequentist evaluation of place-based policies on city panels.

Load a panel (:func:`load_panel`, or the built-in one in :mod:`bayescity.datasets`), fit any
estimator by name (:func:`make_estimator`) or class (``bc.CallawaySantAnna(...)``,
``bc.HierarchicalDID(by="region3")``), compare their results side by side (:func:`compare`),
or run a whole study from a config (:func:`run_experiment`).
"""

from . import datasets
from .constants import INTERVAL_PROB, SUMMARY_COLUMNS
from .data import Panel, PanelError, load_panel
from .estimators import (DCDH, DML, PSMDID, TWFE, Bacon, CallawaySantAnna, CausalForest, Codings,
                         EventStudy, Heterogeneity, HierarchicalDID, HonestDiD, Imputation,
                         Mechanisms, Placebo, PretrendsPower, Spillover, Stacked, SunAbraham,
                         SyntheticControl, SyntheticDiD, TwoStage, available_methods,
                         get_estimator, make_estimator)
from .experiments import run_experiment
from .results import EffectResult, compare

__version__ = "0.2.0"

__all__ = ["INTERVAL_PROB", "SUMMARY_COLUMNS", "EffectResult", "Panel", "PanelError",
           "available_methods", "compare", "datasets", "get_estimator", "load_panel",
           "make_estimator", "run_experiment", "__version__", "Bacon", "CallawaySantAnna",
           "CausalForest", "Codings", "DCDH", "DML", "EventStudy", "Heterogeneity",
           "HierarchicalDID", "HonestDiD", "Imputation", "Mechanisms", "PSMDID", "Placebo",
           "PretrendsPower", "Spillover", "Stacked", "SunAbraham", "SyntheticControl",
           "SyntheticDiD", "TWFE", "TwoStage"]
