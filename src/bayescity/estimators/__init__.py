"""Estimators of every paradigm, reachable by method name through the registry.

Importing this package loads each paradigm package once; their classes register themselves.
Heavy backends (PyMC, JAX, econml) are imported inside the functions that need them, so that
importing bayescity stays fast.
"""

from .base import Estimator, NotFittedError, ParamError, UnknownEstimandError
from .registry import (UnknownMethodError, available_methods, check_params, get_estimator,
                       make_estimator, register)
from . import freq  # noqa: E402,F401  (registers the frequentist estimators)
from . import ml  # noqa: E402,F401  (registers the machine-learning estimators)
from . import robust  # noqa: E402,F401  (registers the robustness analyses)
from . import bayes  # noqa: E402,F401  (registers the Bayesian estimators)

__all__ = ["Estimator", "NotFittedError", "ParamError", "UnknownEstimandError",
           "UnknownMethodError", "available_methods", "check_params", "get_estimator",
           "make_estimator", "register"]
