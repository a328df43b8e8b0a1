"""Estimators of every paradigm, reachable by method name through the registry and by class.

Importing this package loads each paradigm package once; their classes register themselves.
Heavy backends (PyMC, JAX, econml) are imported inside the functions that need them, so that
importing bayescity stays fast.
"""

from .bayes import HierarchicalDID
from .core.base import Estimator, NotFittedError, ParamError, UnknownEstimandError
from .freq import (DCDH, TWFE, Bacon, CallawaySantAnna, EventStudy, Imputation, Spillover,
                   Stacked, SunAbraham, TwoStage)
from .ml import DML, CausalForest
from .registry import (UnknownMethodError, available_methods, check_params, get_estimator,
                       make_estimator, register)
from .robust import (PSMDID, Codings, Heterogeneity, HonestDiD, Mechanisms, Placebo,
                     PretrendsPower, SyntheticControl, SyntheticDiD)

#: The estimator classes by name (each also reachable as ``bayescity.<Name>``).
CLASSES = ["Bacon", "CallawaySantAnna", "CausalForest", "Codings", "DCDH", "DML", "EventStudy",
           "Heterogeneity", "HierarchicalDID", "HonestDiD", "Imputation", "Mechanisms", "PSMDID",
           "Placebo", "PretrendsPower", "Spillover", "Stacked", "SunAbraham", "SyntheticControl",
           "SyntheticDiD", "TWFE", "TwoStage"]

__all__ = ["Estimator", "NotFittedError", "ParamError", "UnknownEstimandError",
           "UnknownMethodError", "available_methods", "check_params", "get_estimator",
           "make_estimator", "register", "Bacon", "CallawaySantAnna", "CausalForest", "Codings",
           "DCDH", "DML", "EventStudy", "Heterogeneity", "HierarchicalDID", "HonestDiD",
           "Imputation", "Mechanisms", "PSMDID", "Placebo", "PretrendsPower", "Spillover",
           "Stacked", "SunAbraham", "SyntheticControl", "SyntheticDiD", "TWFE", "TwoStage"]
