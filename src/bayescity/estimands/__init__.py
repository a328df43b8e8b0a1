"""Estimands shared by every paradigm: one aggregation of cell-level effects (treated-cell weights)."""

from .aggregate import (BY_PREFIX, ESTIMANDS, Aggregation, CellEffects, aggregate,
                        cells_from_unit_effects, influence_vcov, second_stage_overall,
                        treated_units, weights_influence)
from .bootstrap import BootstrapResult, draw_multipliers, multiplier_bootstrap
from .summarize import equality_test, posterior_table, pretrend_test, to_effect_result

__all__ = ["BY_PREFIX", "ESTIMANDS", "Aggregation", "BootstrapResult", "CellEffects", "aggregate",
           "cells_from_unit_effects", "draw_multipliers", "equality_test", "influence_vcov",
           "multiplier_bootstrap", "posterior_table", "pretrend_test", "second_stage_overall",
           "to_effect_result", "treated_units", "weights_influence"]
