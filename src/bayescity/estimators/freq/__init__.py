"""Frequentist estimators (registered on import)."""

from .bacon import Bacon
from .callaway_santanna import CallawaySantAnna
from .dcdh import DCDH
from .event_study import EventStudy
from .imputation import Imputation
from .spillover import Spillover
from .stacked import Stacked
from .sun_abraham import SunAbraham
from .twfe import TWFE
from .two_stage import TwoStage

__all__ = ["Bacon", "CallawaySantAnna", "DCDH", "EventStudy", "Imputation", "Spillover",
           "Stacked", "SunAbraham", "TWFE", "TwoStage"]
