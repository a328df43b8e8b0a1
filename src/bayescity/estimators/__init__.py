"""Estimators of every paradigm, reachable by method name through the registry.

Importing this package loads each paradigm package once; their classes register themselves.
Heavy backends (PyMC, JAX, econml) are imported inside the functions that need them, so that
importing bayescity stays fast.
"""

from . import (
                       bayes,  # noqa: E402,F401  (registers the Bayesian estimators)
                       freq,  # noqa: E402,F401  (registers the frequentist estimators)
                       ml,  # noqa: E402,F401  (registers the machine-learning estimators)
                       robust,  # noqa: E402,F401  (registers the robustness analyses)
)
from .core.base import Estimator, NotFittedError, ParamError, UnknownEstimandError
from .registry import (UnknownMethodError, available_methods, check_params, get_estimator,
                       make_estimator, register)

__all__ = ["Estimator", "NotFittedError", "ParamError", "UnknownEstimandError",
           "UnknownMethodError", "available_methods", "check_params", "get_estimator",
           "make_estimator", "register"]
