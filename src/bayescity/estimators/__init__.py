"""Estimators of every paradigm, reachable by method name through the registry."""

from .base import Estimator, NotFittedError, UnknownEstimandError
from .registry import (UnknownMethodError, available_methods, check_params, get_estimator,
                       make_estimator, register)

__all__ = ["Estimator", "NotFittedError", "UnknownEstimandError", "UnknownMethodError",
           "available_methods", "check_params", "get_estimator", "make_estimator", "register"]
