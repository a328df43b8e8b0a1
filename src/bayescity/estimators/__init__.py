"""Estimators of every paradigm, reachable by method name through the registry and by class.

Importing this package loads each paradigm package once; their classes register themselves.
Heavy backends (PyMC, JAX, econml) are imported inside the functions that need them, so that
importing bayescity stays fast.
"""

from .bayes import HierarchicalDID
from .core.base import Estimator, NotFittedError, ParamError, UnknownEstimandError
from .freq import TWFE, CallawaySantAnna, EventStudy, Imputation, SunAbraham
from .ml import DML, CausalForest
from .registry import (UnknownMethodError, available_methods, check_params, get_estimator,
                       make_estimator, register)
from .robust import PSMDID, Codings, Heterogeneity, HonestDiD, Mechanisms, Placebo

#: The estimator classes by name (each also reachable as ``bayescity.<Name>``).
CLASSES = ["CallawaySantAnna", "CausalForest", "Codings", "DML", "EventStudy", "Heterogeneity",
           "HierarchicalDID", "HonestDiD", "Imputation", "Mechanisms", "PSMDID", "Placebo",
           "SunAbraham", "TWFE"]

__all__ = ["Estimator", "NotFittedError", "ParamError", "UnknownEstimandError",
           "UnknownMethodError", "available_methods", "check_params", "get_estimator",
           "make_estimator", "register", "CallawaySantAnna", "CausalForest", "Codings", "DML",
           "EventStudy", "Heterogeneity", "HierarchicalDID", "HonestDiD", "Imputation",
           "Mechanisms", "PSMDID", "Placebo", "SunAbraham", "TWFE"]
