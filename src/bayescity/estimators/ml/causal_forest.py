"""``method: causal_forest`` -- the cell design with an honest forest as the CATE model."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...constants import INTERVAL_PROB
from ..core.base import ParamError
from ..registry import register
from .estimators import _StaggeredML
from .heterogeneity import CateSettings


@register("causal_forest")
class CausalForest(_StaggeredML):
    """A generalized random forest of the cities' doubly robust effects over their traits.

    The design, nuisances, ATT estimands and inference are those of ``dml`` (see
    :class:`~bayescity.estimators.ml.dml.DML`). The CATE model is econml's honest
    :class:`~econml.grf.RegressionForest` (Athey, Tibshirani & Wager 2019) of each treated
    city's doubly robust effect averaged over its post periods, weighted by its number of post
    cells, with ``n_trees`` trees (grf's default 2000; econml's is 100), ``min_samples_leaf``
    and subsample share ``max_samples`` (econml's defaults 5 and 0.45). One city is one sample,
    so honesty, subsampling and the bootstrap-of-little-bags intervals of ``CATE``
    (``forest_blb``) all treat cities as independent -- unlike a forest on city-year rows,
    whose ``groups`` econml 0.17 ignores in the final forest.

    ``CATE`` is the forest's prediction for each treated city; ``BLP`` the cluster-robust best
    linear projection of the doubly robust effects on the modifiers (as grf's
    ``best_linear_projection``); grf's calibration test uses held-out fold forests; the drivers
    table adds forest importance and mean |SHAP| (shap's tree explainer), with rank stability
    over the fold forests and ``n_seeds`` refits with other seeds.
    """

    cate_kind = "forest"
    smoke_params = {"outcome_model": "linear", "propensity_model": "linear", "n_folds": 2,
                    "n_trees": 200, "n_seeds": 1}

    def __init__(self, control_group: str = "never_treated", design: str = "cells",
                 covariates: Sequence[str] | None = None,
                 effect_modifiers: Sequence[str] | None = None, by: str | None = None,
                 by_bins: str | int | None = None, outcome_model: str = "lasso",
                 propensity_model: str = "lasso", n_folds: int = 5, mc_iters: int = 1,
                 cluster: str | None = None,
                 min_cohort_size: int = 1, n_trees: int = 2000, min_samples_leaf: int = 5,
                 max_samples: float = 0.45, n_seeds: int = 4, tree_depth: int = 2,
                 random_state=None, n_jobs: int = 1, interval_prob: float = INTERVAL_PROB):
        self._common(control_group, design, covariates, effect_modifiers, by, by_bins,
                     outcome_model, propensity_model, n_folds, mc_iters, cluster, min_cohort_size,
                     tree_depth, random_state, n_jobs, interval_prob)
        self.n_trees = n_trees
        self.min_samples_leaf = min_samples_leaf
        self.max_samples = max_samples
        self.n_seeds = n_seeds

    def _validate(self) -> None:
        super()._validate()
        if not isinstance(self.n_trees, (int, np.integer)) or self.n_trees < 4 or self.n_trees % 4:
            raise ParamError(f"n_trees: a positive multiple of 4 (the forest's little bags hold "
                             f"4 trees), got {self.n_trees!r}")
        if not isinstance(self.min_samples_leaf, (int, np.integer)) or self.min_samples_leaf < 1:
            raise ParamError(f"min_samples_leaf: an integer >= 1, got {self.min_samples_leaf!r}")
        if not 0 < float(self.max_samples) <= 0.5:
            raise ParamError(f"max_samples: a share in (0, 0.5] (honest intervals need half-"
                             f"samples), got {self.max_samples!r}")
        if not isinstance(self.n_seeds, (int, np.integer)) or self.n_seeds < 0:
            raise ParamError(f"n_seeds: an integer >= 0, got {self.n_seeds!r}")

    def _cate_settings(self, seed: int) -> CateSettings:
        base = super()._cate_settings(seed)
        return CateSettings(kind=base.kind, seeds=base.seeds, n_folds=base.n_folds,
                            n_trees=int(self.n_trees), min_samples_leaf=int(self.min_samples_leaf),
                            max_samples=float(self.max_samples), n_seeds=int(self.n_seeds),
                            tree_depth=base.tree_depth, n_jobs=base.n_jobs)
