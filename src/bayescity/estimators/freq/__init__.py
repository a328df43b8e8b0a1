"""Frequentist estimators (registered on import)."""

from .callaway_santanna import CallawaySantAnna
from .event_study import EventStudy
from .imputation import Imputation
from .spillover import Spillover
from .sun_abraham import SunAbraham
from .twfe import TWFE

__all__ = ["CallawaySantAnna", "EventStudy", "Imputation", "Spillover", "SunAbraham", "TWFE"]
