"""``method: causal_forest`` -- the designs of ``dml`` with an honest forest as the CATE model."""

from __future__ import annotations

from typing import Sequence


from ...constants import INTERVAL_PROB
from ..core import params as P
from ..registry import register
from .estimators import _StaggeredML
from .heterogeneity import CateSettings


@register("causal_forest")
class CausalForest(_StaggeredML):
    """A generalized random forest of the cities' effects over their traits.

    The designs (default ``imputation``), nuisances, ATT estimands and inference are those of
    ``dml`` (see :class:`~bayescity.estimators.ml.dml.DML`). The CATE model is econml's honest
    :class:`~econml.grf.RegressionForest` (Athey, Tibshirani & Wager 2019) of each treated
    city's pseudo-outcome (mean imputed ``tau_it``, or doubly robust effect) averaged over its
    post periods, weighted by its number of post cells, with ``n_trees`` trees (grf's default 2000; econml's is 100), ``min_samples_leaf``
    and subsample share ``max_samples`` (econml's defaults 5 and 0.45). One city is one sample,
    so honesty, subsampling and the bootstrap-of-little-bags intervals of ``CATE``
    (``forest_blb``) all treat cities as independent -- unlike a forest on city-year rows,
    whose ``groups`` econml 0.17 ignores in the final forest.

    ``CATE`` is the forest's prediction for each treated city; ``BLP`` the cluster-robust best
    linear projection of the cities' pseudo-outcomes on the modifiers (as grf's
    ``best_linear_projection``); grf's calibration test uses held-out fold forests; the drivers
    table adds forest importance and the mean absolute SHAP value (shap's tree explainer on the
    fitted trees, exact for them), with rank stability over the fold forests and ``n_seeds``
    refits with other seeds. Those refits only rank the traits and predict held-out cities, so
    they grow a quarter of ``n_trees`` (at least 500, at most ``n_trees``): the reported forest,
    its importance and SHAP values use all ``n_trees``.
    """

    cate_kind = "forest"
    params = {**_StaggeredML.params,
              "n_trees": P.Spec("int", "trees of the forest (a multiple of 4: its little bags "
                                       "hold 4 trees)", low=4, multiple_of=4),
              "min_samples_leaf": P.Spec("int", "smallest leaf", low=1),
              "max_samples": P.Spec("float", "share of units each tree sees (honest intervals "
                                             "need half-samples or less)", low=0, high=0.5,
                                    open_low=True),
              "n_seeds": P.Spec("int", "refits with other seeds for the drivers' rank "
                                       "stability", low=0)}
    smoke_params = {"outcome_model": "linear", "propensity_model": "linear", "n_folds": 2,
                    "n_trees": 200, "n_seeds": 1}

    def __init__(self, control_group: str = "never_treated", design: str = "imputation",
                 covariates: Sequence[str] | None = None,
                 effect_modifiers: Sequence[str] | None = None, by: str | None = None,
                 by_bins: str | int | None = None, outcome_model: str | None = None,
                 propensity_model: str | None = None, n_folds: int = 5, mc_iters: int = 1,
                 cluster: str | None = None,
                 min_cohort_size: int = 1, n_trees: int = 2000, min_samples_leaf: int = 5,
                 max_samples: float = 0.45, n_seeds: int = 4, tree_depth: int = 2,
                 random_state=None, n_jobs: int = 1, interval_prob: float = INTERVAL_PROB):
        self.control_group = control_group
        self.design = design
        self.covariates = covariates
        self.effect_modifiers = effect_modifiers
        self.by = by
        self.by_bins = by_bins
        self.outcome_model = outcome_model
        self.propensity_model = propensity_model
        self.n_folds = n_folds
        self.mc_iters = mc_iters
        self.cluster = cluster
        self.min_cohort_size = min_cohort_size
        self.tree_depth = tree_depth
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.interval_prob = interval_prob
        self.n_trees = n_trees
        self.min_samples_leaf = min_samples_leaf
        self.max_samples = max_samples
        self.n_seeds = n_seeds

    def _cate_settings(self, seed: int) -> CateSettings:
        base = super()._cate_settings(seed)
        return CateSettings(kind=base.kind, seeds=base.seeds, n_folds=base.n_folds,
                            n_trees=int(self.n_trees), min_samples_leaf=int(self.min_samples_leaf),
                            max_samples=float(self.max_samples), n_seeds=int(self.n_seeds),
                            tree_depth=base.tree_depth, n_jobs=base.n_jobs)
