"""The estimation sample of the ML estimators: the Callaway–Sant'Anna sample rules, the unit
table aligned with the wide arrays, encoded modifiers, clusters, trait levels and folds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...data.panel import COHORT, Panel
from ..core.base import resolve_by
from ..core.cohorts import (drop_small_cohorts, one_unit_cohort_note, one_unit_cohorts,
                            small_cohort_note)
from ..core.covariates import sentences
from ..core.cs_gt import WidePanel, to_wide
from ..core.cohorts import prepare_sample, unit_values
from .cate import Modifiers, encode_modifiers
from .cells import CellSample
from .folds import grouped_folds


@dataclass(frozen=True)
class MLSample:
    """Everything a fit needs, aligned with ``wide.units``; ``folds`` has one row per
    repetition of the cross-fitting (the first is used by the CATE model's held-out fits)."""

    frame: pd.DataFrame
    wide: WidePanel
    modifiers: Modifiers
    clusters: np.ndarray
    folds: np.ndarray
    n_folds: int
    levels: np.ndarray | None
    notes: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def cells(self) -> CellSample:
        return CellSample(wide=self.wide, modifiers=self.modifiers.matrix, folds=self.folds,
                          n_folds=self.n_folds)

    @property
    def cluster_labels(self) -> np.ndarray | None:
        """Cluster labels per unit, or None when every unit is its own cluster."""
        return None if pd.unique(self.clusters).size == len(self.clusters) else self.clusters

    @property
    def n_clusters(self) -> int:
        return int(pd.unique(self.clusters).size)


def build_sample(panel: Panel, *, method: str, control_group: str, covariates: list[str],
                 modifiers: list[str], cluster: str, by: str | None, by_bins,
                 min_cohort_size: int, n_folds: int, rng: np.random.Generator,
                 mc_iters: int = 1) -> MLSample:
    """The balanced sample of R ``did`` (first-period adopters and incomplete units dropped),
    cohorts smaller than ``min_cohort_size`` left out (1: every cohort counts, as in R ``did``;
    a one-unit cohort is kept with a warning), and folds grouped by ``cluster``."""
    by_panel = resolve_by(panel, by, by_bins)
    frame, notes, warnings = prepare_sample(panel, control_group)
    notes += [n for n in by_panel.notes if n not in panel.notes]
    frame, small = drop_small_cohorts(frame, panel.unit, int(min_cohort_size))
    notes += sentences(small_cohort_note(small, min_cohort_size))
    wide = to_wide(frame, unit=panel.unit, time=panel.time, outcome=panel.outcome,
                   cohort=COHORT, covariates=list(covariates))
    warnings += sentences(one_unit_cohort_note(one_unit_cohorts(wide.cohort)))
    units = frame.drop_duplicates(panel.unit).set_index(panel.unit).loc[wide.units]
    kinds = {t: panel.trait_kind(t) for t in modifiers}
    mods = encode_modifiers(units.reset_index(), list(modifiers), kinds)
    clusters = unit_values(frame, panel.unit, cluster, wide.units)
    levels = None
    if by is not None:
        table = by_panel.unit_table().set_index(panel.unit)
        levels = table.loc[wide.units, by].astype(str).to_numpy()
    folds = np.vstack([grouped_folds(clusters, wide.cohort, int(n_folds), rng)
                       for _ in range(int(mc_iters))])
    return MLSample(frame=frame, wide=wide, modifiers=mods, clusters=clusters, folds=folds,
                    n_folds=int(n_folds), levels=levels, notes=tuple(notes),
                    warnings=tuple(warnings))
