"""Sampler diagnostics over an ``arviz.InferenceData``: one table, gates, and sentences naming
every breach. Nothing here samples or draws."""

import logging

from .convergence import GATES, Diagnostics, Gates, breach_notes, diagnose, flatten

# ArviZ announces, at INFO level on its own handler, optional preview packages that are absent.
logging.getLogger("arviz.preview").setLevel(logging.WARNING)

__all__ = ["GATES", "Diagnostics", "Gates", "breach_notes", "diagnose", "flatten"]
