"""Panel data: loading, validation, the immutable Panel and the built-in datasets."""

from .errors import PanelError, Problem
from .loader import load_panel, panel_from_frame
from .panel import COHORT, REL_TIME, TREAT, Panel, PanelDescription

__all__ = ["COHORT", "REL_TIME", "TREAT", "Panel", "PanelDescription", "PanelError", "Problem",
           "load_panel", "panel_from_frame"]
