"""The absorbed treatment design: FWL cross-products against dense least squares, the
imputation estimator recovered when every cell is free, zero-sum deviations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators.bayes.components import grouped_zero_sum, zero_sum_basis
from bayescity.estimators.bayes.design import treatment_design
from bayescity.estimators.core.controls import drop_always_treated
from bayescity.estimators.freq.imputation import imputation_cells
from conftest import make_staggered


def _panel(df: pd.DataFrame, covariates=("x",)) -> bc.Panel:
    return bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                         covariates=list(covariates), traits=["region"])


def _unbalanced(seed: int) -> pd.DataFrame:
    df = make_staggered(seed=seed, n_units=40)
    rng = np.random.default_rng(seed)
    drop = rng.choice(len(df), size=25, replace=False)
    return df.drop(index=df.index[drop]).reset_index(drop=True)


def _dense_annihilator(design) -> np.ndarray:
    rows = design.rows
    n = len(rows["y"])
    U = np.eye(rows["unit"].max() + 1)[rows["unit"]]
    T = np.eye(rows["time"].max() + 1)[rows["time"]][:, 1:]
    X = np.column_stack([U, T, rows["x"]])
    return np.eye(n) - X @ np.linalg.pinv(X), np.linalg.matrix_rank(X)


@pytest.mark.parametrize("df", [make_staggered(seed=5, n_units=40), _unbalanced(6)],
                         ids=["balanced", "unbalanced"])
def test_cross_products_equal_dense_least_squares(df):
    design = treatment_design(_panel(df), by=["region"], city_effects=True, covariates=["x"])
    M, rank = _dense_annihilator(design)
    y = (design.rows["y"] - design.location) / design.scale
    B = design.basis.toarray() @ design.K
    s = design.stats
    np.testing.assert_allclose(s.A, B.T @ M @ B, atol=1e-7)
    np.testing.assert_allclose(s.b, B.T @ M @ y, atol=1e-7)
    np.testing.assert_allclose(s.yMy, y @ M @ y, rtol=1e-8)
    assert s.dof == len(y) - rank


def test_free_cells_reproduce_the_imputation_estimator():
    """With one unrestricted effect per (cohort, year) cell, least squares on the absorbed
    design is the imputation estimator (Wooldridge 2021; Borusyak, Jaravel & Spiess 2024)."""
    df = make_staggered(seed=8, n_units=60, effect=0.0)
    df["y"] += np.where(df["d"] == 1, 0.3 * (df["year"] - df["g"] + 1), 0.0)
    panel = _panel(df, covariates=())
    design = treatment_design(panel, variant="unpooled")
    theta = np.linalg.solve(design.stats.A, design.stats.b)
    ours = design.cell_map @ theta * design.scale
    frame, _ = drop_always_treated(panel.frame, unit="unit", time="year")
    ref = imputation_cells(frame, unit="unit", time="year", outcome="y", covariates=[],
                           cluster="unit")
    assert list(ref.cells["cohort"]) == list(design.cells["cohort"])
    assert list(ref.cells["time"]) == list(design.cells["time"])
    np.testing.assert_allclose(ours, ref.estimates, atol=1e-8)


def test_zero_sum_contrasts_are_orthonormal():
    C = zero_sum_basis(5)
    np.testing.assert_allclose(C.T @ C, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(C.sum(axis=0), 0, atol=1e-12)
    G = grouped_zero_sum(np.array(["a", "b", "a", "c", "a", "b"]))
    assert G.shape == (6, 3)  # groups of 3, 2 and 1 members
    np.testing.assert_allclose(G[[0, 2, 4]].sum(axis=0)[:2], 0, atol=1e-12)
    assert not G[3].any()  # a city alone in its group has no deviation


def test_components_of_each_variant():
    panel = _panel(make_staggered(seed=2, n_units=30))
    names = {v: [c.name for c in treatment_design(panel, by=["region"], variant=v).components]
             for v in ("hierarchical", "unpooled", "static")}
    assert names["hierarchical"] == ["mu", "event_step", "cohort_dev", "level_dev_region",
                                     "level_step_region", "cell_dev"]
    hierarchical = treatment_design(panel, by=["region"])
    assert [c.name for c in hierarchical.components if c.learned] == [
        "cohort_dev", "level_dev_region", "cell_dev"]
    assert names["unpooled"] == names["hierarchical"]
    unpooled = treatment_design(panel, by=["region"], variant="unpooled")
    assert not any(c.learned for c in unpooled.components)
    assert {c.prior for c in unpooled.components} == {"effect"}
    assert names["static"] == ["mu", "level_dev_region"]


def test_rows_without_identified_counterfactual_are_left_out():
    df = make_staggered(seed=4, n_units=30, years=(2000, 2008), cohorts=(2000, 2004))
    design = treatment_design(_panel(df))
    assert any("treated in every period they are observed" in n for n in design.notes)
    assert (design.cells["cohort"] == 2004).all()


def test_each_level_has_its_own_path_that_leaves_its_average_alone():
    """A level's own random-walk steps change its path over event times but not its average
    over its treated observations, so a level can stay at zero while the others build up."""
    panel = _panel(make_staggered(seed=3, n_units=40))
    design = treatment_design(panel, by=["region"])
    comp = design.component("level_step_region")
    cells = design.cells
    theta = np.zeros(design.n_params)
    theta[comp.start:comp.stop] = np.random.default_rng(0).normal(size=comp.size)
    effect = design.cell_map @ theta
    for level in cells["region"].unique():
        rows = (cells["region"] == level).to_numpy()
        weights = cells.loc[rows, "weight"].to_numpy()
        assert abs(weights @ effect[rows]) < 1e-10
        assert np.ptp(effect[rows]) > 0.1  # ... while its path moves
    # the levels' steps sum to zero: the common path is their average
    steps = (comp.report @ theta[comp.start:comp.stop]).reshape(-1, 2)
    np.testing.assert_allclose(steps.sum(axis=1), 0, atol=1e-12)
