"""From unit scores to the heterogeneity outputs: the CATE model and its per-city predictions,
the best linear projection, grf's calibration test, the drivers table and the CATE tree."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ...results.effect import TestResult
from .cate import Modifiers, cate_tree_text, heldout_predictions, make_cate_model
from .drivers import drivers_table, mean_abs_shap, rank_stability
from .scores import Projection, ScoreRows, calibration_tests, project, treated_clusters


@dataclass(frozen=True)
class CateSettings:
    """How the CATE model is fitted and explained."""

    kind: str
    seeds: tuple[int, ...]
    n_folds: int
    n_trees: int = 2000
    min_samples_leaf: int = 5
    max_samples: float = 0.45
    n_seeds: int = 0
    tree_depth: int = 2
    n_jobs: int = 1

    @property
    def refit_trees(self) -> int:
        """Trees of the fold forests and seed refits: a quarter of ``n_trees``, at least 500
        (at most ``n_trees``), a multiple of 4 (the little bags)."""
        return min(self.n_trees, max(500, 4 * (self.n_trees // 16)))

    def model(self, slot: int):
        """A fresh CATE model; ``slot`` picks its seed (0 the reported model, with ``n_trees``
        trees; the others only rank traits and predict held-out units: ``refit_trees``)."""
        trees = self.n_trees if slot == 0 else self.refit_trees
        return make_cate_model(self.kind, self.seeds[slot], trees, self.min_samples_leaf,
                               self.max_samples, self.n_jobs)


@dataclass(frozen=True)
class Heterogeneity:
    """The fitted heterogeneity outputs of one estimator (numbers and plain tables)."""

    modifiers: Modifiers
    model: object
    explained: np.ndarray
    cate: np.ndarray
    cate_se: np.ndarray | None
    cate_influence: np.ndarray | None
    blp: Projection
    heldout: np.ndarray
    tests: tuple[TestResult, ...]
    drivers: pd.DataFrame
    tree: str
    notes: tuple[str, ...] = field(default=())


def usable_modifiers(mods: Modifiers, scored: np.ndarray) -> tuple[Modifiers, list[str]]:
    """Drop modifier columns that do not vary among the scored units (with a note)."""
    keep = np.ptp(mods.matrix[scored], axis=0) > 0 if scored.any() else np.zeros(0, bool)
    dropped = [c for c, k in zip(mods.columns, keep) if not k]
    if not dropped:
        return mods, []
    sub = Modifiers(matrix=mods.matrix[:, keep], columns=[c for c, k in zip(mods.columns, keep) if k],
                    trait_of=[t for t, k in zip(mods.trait_of, keep) if k],
                    reference=dict(mods.reference))
    return sub, [f"effect modifier columns {dropped} do not vary among the scored cities and "
                 "are left out of the CATE model"]


def fit_heterogeneity(rows: ScoreRows, mods: Modifiers, folds: np.ndarray,
                      clusters: np.ndarray | None, explained: np.ndarray,
                      settings: CateSettings) -> Heterogeneity:
    """Fit the CATE model on the score rows and derive every heterogeneity output.

    ``explained`` marks the units whose CATE is reported and explained (the treated cities).
    The calibration test uses the forest's out-of-bag predictions when every unit is its own
    cluster (a city is one sample of the forest), and otherwise -- and for the linear model --
    the predictions of models fitted without the unit's fold.
    """
    mods, notes = usable_modifiers(mods, rows.unit_weight() > 0)
    x = mods.matrix
    model = settings.model(0).fit(rows, x)
    heldout, fold_models = heldout_predictions(lambda f: settings.model(1 + f), rows, x, folds,
                                               settings.n_folds)
    z = np.column_stack([np.ones(len(x)), x])
    try:
        blp = project(rows, z)
    except np.linalg.LinAlgError as exc:
        raise ValueError(f"effect_modifiers: {exc}; columns {mods.columns}") from None
    fold_fits = None
    if settings.kind == "forest" and clusters is None:
        heldout = model.out_of_bag(rows, x)
    elif settings.kind == "linear":
        fold_fits = [(held, z, m.projection_) for held, m in fold_models]
    tests = calibration_tests(rows, heldout, clusters, settings.kind, fold_fits)
    xe = x[explained]
    reference = mean_abs_shap(model, xe, mods)
    refits = [m for _, m in fold_models] + [settings.model(1 + settings.n_folds + r).fit(rows, x)
                                            for r in range(settings.n_seeds)]
    stability = rank_stability(reference, [mean_abs_shap(m, xe, mods) for m in refits])
    drivers = drivers_table(mods, reference, model.importance(), blp.coef[1:],
                            blp.vcov(clusters)[1:, 1:], max(treated_clusters(rows, clusters) - 1, 1),
                            stability)
    tree = cate_tree_text(model, xe, mods.columns, settings.tree_depth, settings.seeds[0])
    if settings.kind == "linear":
        cate, cate_se = z[explained] @ blp.coef, None
        cate_inf = blp.robust_influence(clusters) @ z[explained].T
    else:
        cate, cate_se, cate_inf = model.predict(xe), model.stderr(xe), None
    return Heterogeneity(modifiers=mods, model=model, explained=explained, cate=cate,
                         cate_se=cate_se, cate_influence=cate_inf, blp=blp, heldout=heldout,
                         tests=tests, drivers=drivers, tree=tree, notes=tuple(notes))
