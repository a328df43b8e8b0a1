"""Sampler diagnostics over an ``arviz.InferenceData``: one table, gates, and sentences naming
every breach. Nothing here samples or draws."""

from .convergence import GATES, Diagnostics, Gates, breach_notes, diagnose, flatten

__all__ = ["GATES", "Diagnostics", "Gates", "breach_notes", "diagnose", "flatten"]
