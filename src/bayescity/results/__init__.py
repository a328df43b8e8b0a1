"""The result contract shared by every estimator: EffectResult, tests and comparison tables."""

from .compare import compare
from .effect import EffectResult, TestResult, equality_restriction, wald_table, wald_test

__all__ = ["EffectResult", "TestResult", "compare", "equality_restriction", "wald_table", "wald_test"]
