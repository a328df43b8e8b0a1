"""Frequentist estimators (registered on import)."""

from .callaway_santanna import CallawaySantAnna
from .twfe import TWFE

__all__ = ["CallawaySantAnna", "TWFE"]
