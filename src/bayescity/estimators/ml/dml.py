"""``method: dml`` -- doubly robust DID with cross-fitted learners and a linear CATE model."""

from __future__ import annotations

from typing import Sequence

from ...constants import INTERVAL_PROB
from ..registry import register
from .estimators import _StaggeredML


@register("dml")
class DML(_StaggeredML):
    """Machine learning of effect heterogeneity on the staggered panel, with a linear CATE model.

    ``design="imputation"`` (default; Borusyak, Jaravel & Spiess 2024): city and year effects,
    plus year-specific slopes on ``covariates`` measured in the first sample year (None: the
    panel's), are fitted on every untreated city-year (never-treated cities and every city's
    years before adoption) and each treated city-year gets ``tau_it = Y_it - Y_it(0)-hat``.
    Their cell means are ATT(g,t), aggregated with the shared treated-cell weights into ``ATT``,
    ``ATT_event`` (post-treatment), ``ATT_cohort``, ``ATT_calendar`` and, with ``by=<trait>``
    (``by_bins`` for numeric traits), ``ATT_by_<trait>`` with a test of equal levels: the
    imputation estimator's numbers, with its clustered BJS/Gardner standard errors. The first
    stage is linear in the outcome, which the standard errors of every output rely on, so
    ``outcome_model`` and ``propensity_model`` stay None (or ``linear``) in this design: a
    learned trend adjustment's error would move the BLP slopes at first order (no
    orthogonality) without entering their standard errors. Learned nuisances belong to
    ``design="long_difference"``, whose doubly robust score is orthogonal to them.

    ``design="long_difference"``: for every cohort ``g`` and period ``t >= g`` the long
    difference ``Y_t - Y_(g-1)`` of cohort-``g`` cities is compared with that of
    ``control_group`` cities (``never_treated`` or ``not_yet_treated`` at ``t``, as
    ``callaway_santanna``) by the doubly robust score (Chang 2020; Sant'Anna & Zhao 2020), with
    the control outcome change (``outcome_model``, default ``lasso``) and the propensity score
    (``propensity_model``, default ``lasso``) learned from the covariates at the base period
    and the effect modifiers, cross-fitted over ``n_folds`` folds grouped by cluster. Learners:
    ``linear`` (OLS and the logit of the DR estimator: cross-fitted ``callaway_santanna`` with
    ``est_method="dr"``), ``lasso``, ``random_forest``, ``gradient_boosting``.
    ``design="within"`` fits the two-way demeaned partially linear model instead, for
    comparison (see :mod:`.within`).

    Heterogeneity: each treated city's pseudo-outcome (mean ``tau_it``, or doubly robust
    effect, over its post periods) is projected on ``effect_modifiers`` (None: every trait;
    categorical traits as indicators of every level but the first). ``BLP`` holds the slopes
    and a joint Wald test that all are zero (the test of heterogeneity for a linear model);
    ``CATE`` the linear prediction for each treated city; both with cluster-robust
    influence-function intervals (``wald_if``) that count the first stage. ``CATE``'s ``tests``
    hold grf's calibration test on held-out (fold) predictions and its ``info`` the drivers
    table (``drivers``), econml's SingleTreeCateInterpreter of depth ``tree_depth`` as text
    (``cate_tree``) and the unit scores.

    Inference is clustered by ``cluster`` (None: the panel's cluster column) and the
    cross-fitting folds are grouped by the same clusters. ``random_state`` seeds folds and
    learners; ``n_jobs`` is passed to the forests (1 keeps runs reproducible and polite).
    """

    cate_kind = "linear"
    smoke_params = {"outcome_model": "linear", "propensity_model": "linear", "n_folds": 2}

    def __init__(self, control_group: str = "never_treated", design: str = "imputation",
                 covariates: Sequence[str] | None = None,
                 effect_modifiers: Sequence[str] | None = None, by: str | None = None,
                 by_bins: str | int | None = None, outcome_model: str | None = None,
                 propensity_model: str | None = None, n_folds: int = 5, mc_iters: int = 1,
                 cluster: str | None = None,
                 min_cohort_size: int = 1, tree_depth: int = 2, random_state=None,
                 n_jobs: int = 1, interval_prob: float = INTERVAL_PROB):
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
