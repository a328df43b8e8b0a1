"""Frequentist estimators (registered on import)."""

from .twfe import TWFE

__all__ = ["TWFE"]
