"""Cross-fitting is grouped by city: no fit of any cell is trained on a city it predicts.

The proof records, from inside the learners, which cities every nuisance fit was trained on
and which it predicted (a city id travels as a covariate), for every cell of a staggered panel
in which each city appears in many cells; and does the same for the CATE model's fold fits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators.ml import cate as cate_module
from bayescity.estimators.ml import cells as cells_module
from bayescity.estimators.ml.folds import grouped_folds
from conftest import make_staggered


def _panel(cluster: str | None = None) -> bc.Panel:
    df = make_staggered(seed=8, n_units=60, cohorts=(2003, 2005, 2007))
    df["city_id"] = df["unit"].str[1:].astype(float)
    df["province"] = "p" + (df["city_id"] // 4).astype(int).astype(str)
    return bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                         covariates=["x", "city_id"], traits=["region"], cluster=cluster)


def _spy(monkeypatch, name: str, calls: list):
    real = getattr(cells_module, name)

    def recording(model, x_train, y_train, x_eval, *args, **kwargs):
        # the city id is the second nuisance feature (covariates x, city_id, then modifiers)
        calls.append((set(x_train[:, 1]), set(x_eval[:, 1])))
        return real(model, x_train, y_train, x_eval, *args, **kwargs)

    monkeypatch.setattr(cells_module, name, recording)


@pytest.mark.parametrize("cluster", [None, "province"])
def test_no_city_is_trained_on_and_predicted_by_the_same_fit(monkeypatch, cluster):
    calls: list = []
    _spy(monkeypatch, "fit_predict_outcome", calls)
    _spy(monkeypatch, "fit_predict_propensity", calls)
    est = bc.make_estimator("dml", design="long_difference", outcome_model="linear",
                            propensity_model="linear", n_folds=4, mc_iters=2, random_state=0,
                            cluster=cluster).fit(_panel(cluster))
    n_cells = len(est.gt_)
    assert len(calls) == n_cells * 4 * 2 * 2
    assert all(not (train & held) for train, held in calls)
    # every city is predicted in many cells, by fits that never saw it
    predicted = pd.Series([c for _, held in calls for c in held]).value_counts()
    assert predicted.min() >= 2 * 2 * 3
    assert est.fold_log_.overlap().size == 0
    if cluster:
        folds = pd.DataFrame({"province": est.sample_.clusters, "fold": est.sample_.folds[0]})
        assert (folds.groupby("province")["fold"].nunique() == 1).all()


def test_the_cate_models_held_out_predictions_never_saw_the_city(monkeypatch):
    seen: list = []
    real = cate_module.LinearCate.fit

    def recording(self, rows, x):
        seen.append(set(np.unique(rows.unit)))
        self.trained_units_ = seen[-1]
        return real(self, rows, x)

    monkeypatch.setattr(cate_module.LinearCate, "fit", recording)
    est = bc.make_estimator("dml", outcome_model="linear", propensity_model="linear", n_folds=3,
                            random_state=1).fit(_panel())
    folds = est.sample_.folds[0]
    fold_fits = seen[1:4]
    for f, trained in enumerate(fold_fits):
        assert trained.isdisjoint(set(np.flatnonzero(folds == f)))


def test_grouped_folds_keep_groups_whole_and_spread_cohorts():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), 2)
    strata = np.repeat(rng.choice([0, 2004, 2006], size=30), 2)
    folds = grouped_folds(groups, strata, 5, np.random.default_rng(1))
    frame = pd.DataFrame({"g": groups, "s": strata, "f": folds})
    assert (frame.groupby("g")["f"].nunique() == 1).all()
    per_stratum = frame.drop_duplicates("g").groupby("s")["f"].agg(lambda f: np.bincount(f, minlength=5))
    for counts in per_stratum:
        assert counts.max() - counts.min() <= 1
