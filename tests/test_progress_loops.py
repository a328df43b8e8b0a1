"""Long loops inside estimators report their progress through ``bayescity.progress`` (what the
run's display shows), in the units a user asked for, without changing a single number."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators.core.tasks import map_with_progress
from bayescity.parallel import use_executor
from bayescity.progress import progress_to
from conftest import make_staggered

ROLES = dict(unit="unit", time="year", outcome="y", cohort="g", covariates=["x"],
             traits=["region"])


@pytest.fixture(scope="module")
def panel():
    return bc.load_panel(make_staggered(seed=4, n_units=40), **ROLES)


def _heard(fn):
    """``fn()``'s value and the (label, completed, total) reports made while it ran."""
    events = []
    with progress_to(events.append):
        value = fn()
    return value, [(e.label, e.completed, e.total) for e in events]


def _tables(results):
    return pd.concat([r.summary() for r in results], ignore_index=True)


def test_multiplier_bootstrap_reports_each_estimand_and_keeps_its_draws(panel):
    make = lambda: bc.make_estimator("callaway_santanna", bootstrap=True, n_boot=99,  # noqa: E731
                                     by="region", random_state=3).fit(panel).results()
    results, events = _heard(make)
    label = "multiplier bootstrap (99 draws): estimands"
    assert [(c, t) for lab, c, t in events if lab == label] == [(i, 5) for i in range(6)]
    pd.testing.assert_frame_equal(_tables(results), _tables(make()))
    _, quiet = _heard(lambda: bc.make_estimator("callaway_santanna").fit(panel))
    assert not [e for e in quiet if "bootstrap" in e[0]]  # analytic errors: nothing to report


def test_wild_bootstrap_reports_each_term(panel):
    make = lambda: bc.make_estimator("twfe", by="region", inference="wild", n_boot=99,  # noqa: E731
                                     random_state=5).fit(panel).results()
    results, events = _heard(make)
    label = "wild cluster bootstrap (99 draws): terms"
    assert [(c, t) for lab, c, t in events if lab == label] == [
        (0, 1), (1, 1), (0, 2), (1, 2), (2, 2)]  # the ATT, then the two region levels
    pd.testing.assert_frame_equal(_tables(results), _tables(make()))


def test_learner_propensity_reports_folds_and_equals_cross_val_predict():
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from bayescity.estimators.robust.psm import propensity_scores

    rng = np.random.default_rng(8)
    X = rng.normal(size=(120, 3))
    y = (rng.random(120) < 0.25 + 0.3 * (X[:, 0] > 0)).astype(int)
    scores, events = _heard(lambda: propensity_scores(X, y, "gradient_boosting", 11))
    assert [c for lab, c, _ in events if "cross-fitting folds" in lab] == [0, 1, 2, 3, 4, 5]
    learner = GradientBoostingClassifier(n_estimators=200, max_depth=2, learning_rate=0.05,
                                         subsample=0.8, random_state=11)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=11)
    reference = cross_val_predict(learner, X, y, cv=folds, method="predict_proba")[:, 1]
    np.testing.assert_array_equal(scores, np.clip(reference, 1e-6, 1 - 1e-6))


def test_honest_did_reports_each_bound_with_moderndid_numbers():
    from moderndid.didhonest import create_sensitivity_results_rm

    from bayescity.estimators.robust.honest import EventCoefficients, sensitivity

    rng = np.random.default_rng(0)
    root = rng.normal(size=(4, 4)) * 0.02
    sigma = root @ root.T + np.eye(4) * 0.01
    beta = np.array([0.02, -0.01, 0.3, 0.5])
    coefs = EventCoefficients(np.array([-3, -2, 0, 1]), beta, sigma, 2, 2)
    l_vec = np.array([1.0, 0.0])
    (table, _), events = _heard(lambda: sensitivity(coefs, l_vec, "relative_magnitude",
                                                    [0.5, 1.5], "Conditional", 0.05, 10))
    assert [c for lab, c, _ in events if lab.startswith("HonestDiD")] == [0, 1, 2]
    ref = create_sensitivity_results_rm(betahat=beta, sigma=sigma, num_pre_periods=2,
                                        num_post_periods=2, l_vec=l_vec, alpha=0.05,
                                        grid_points=10, method="Conditional",
                                        m_bar_vec=[0.5, 1.5]).to_pandas()
    np.testing.assert_array_equal(table["bound"], ref["Mbar"])
    np.testing.assert_allclose(table[["lb", "ub"]], ref[["lb", "ub"]], equal_nan=True, rtol=0)


def test_codings_report_each_refit(panel):
    fit, events = _heard(lambda: bc.make_estimator(
        "codings", codings=[{"drop_cohorts": 2004}, {"drop_cohorts": 2007}]).fit(panel))
    assert [c for lab, c, _ in events if lab == "alternative codings: refits"] == [0, 1, 2]
    assert len(fit.effect("ATT_coding").terms) == 3


def _square(item):
    value, seed = item
    return value ** 2 + np.random.default_rng(seed).normal()


class _Pool:
    """An executor that is not the serial one (tasks as if they ran elsewhere)."""

    def map(self, fn, items):
        return [fn(x) for x in items]


def test_map_with_progress_counts_sizes_serially_and_once_on_an_executor():
    items = [(v, 100 + v) for v in range(4)]
    serial, events = _heard(lambda: map_with_progress(_square, items, "batches", [3, 3, 3, 1]))
    assert [(c, t) for _, c, t in events] == [(0, 10), (3, 10), (6, 10), (9, 10), (10, 10)]
    with use_executor(_Pool()):
        pooled, events = _heard(lambda: map_with_progress(_square, items, "batches"))
    assert [(c, t) for _, c, t in events] == [(0, 4), (4, 4)]
    assert serial == pooled
