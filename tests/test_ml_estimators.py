"""dml and causal_forest: parameters, data checks, outputs and their schema, designs, learners."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.estimators import ParamError
from bayescity.estimators.ml.drivers import DRIVER_COLUMNS
from bayescity.results import effect as effect_module
from conftest import make_staggered

FAST = dict(outcome_model="linear", propensity_model="linear")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    df = make_staggered(seed=4, n_units=90, cohorts=(2003, 2005, 2007))
    rng = np.random.default_rng(4)
    units = df["unit"].unique()
    size = dict(zip(units, rng.normal(size=units.size)))
    df["size"] = df["unit"].map(size)
    # the effect grows with size and is larger in the North
    post = (df["g"] > 0) & (df["year"] >= df["g"])
    df["y"] += post * (0.8 * df["size"] + 0.6 * (df["region"] == "North"))
    return df


def panel_of(df: pd.DataFrame, **kwargs) -> bc.Panel:
    return bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g", covariates=["x"],
                         traits=["region", "size"], **kwargs)


@pytest.fixture(scope="module")
def forest(frame):
    return bc.make_estimator("causal_forest", random_state=3, n_trees=400, n_seeds=2,
                             by="region", **FAST).fit(panel_of(frame))


def test_outputs_and_their_schema(forest):
    names = [r.estimand for r in forest.results()]
    assert names == ["ATT", "ATT_event", "ATT_cohort", "ATT_calendar", "ATT_by_region", "CATE",
                     "BLP"]
    assert all(r.paradigm == "ml" for r in forest.results())
    cate = forest.effect("CATE")
    treated = forest.sample_.wide.units[forest.sample_.wide.cohort > 0]
    assert cate.terms == [str(u) for u in treated]
    assert cate.interval_kind == "forest_blb"
    drivers = cate.part_frame("drivers")
    assert tuple(drivers.columns) == DRIVER_COLUMNS
    assert list(drivers["trait"]) == ["size", "region"]          # sorted by mean |SHAP|
    assert drivers["mean_abs_shap"].is_monotonic_decreasing
    assert drivers[["forest_importance", "blp_t", "rank_stability"]].notna().all().all()
    assert cate.part("cate_tree").text.startswith("SingleTreeCateInterpreter(max_depth=2)")
    assert "size" in cate.part("cate_tree").text
    assert [t.name for t in cate.tests] == ["calibration: mean forest prediction",
                                            "calibration: differential forest prediction"]
    blp = forest.effect("BLP")
    assert blp.terms == ["region=South", "size"]
    assert blp.interval_kind == "wald_if"
    assert blp.facts("blp")["reference_levels"] == {"region": "North"}
    assert blp.tests[0].name == "heterogeneity: all BLP slopes = 0"
    assert blp.tests[0].p_value < 0.05
    assert blp.estimate("size") == pytest.approx(0.8, abs=0.25)
    assert blp.estimate("region=South") == pytest.approx(-0.6, abs=0.35)
    by = forest.effect("ATT_by_region")
    assert by.terms == ["North", "South"] and by.tests[0].name == "equal ATT across region"


def _plain(value) -> bool:
    if isinstance(value, (str, int, float, bool, np.ndarray, pd.DataFrame, pd.Series,
                          effect_module.TestResult, type(None), np.integer, np.floating)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def test_results_carry_settings_and_notes(forest):
    for result in forest.results():
        assert result.facts()["design"] == "imputation", result.estimand
        assert result.notes and all(isinstance(n, str) for n in result.notes)


def test_same_seed_same_numbers_different_seed_other_folds(frame):
    def fit(seed):
        return bc.make_estimator("causal_forest", random_state=seed, n_trees=200, n_seeds=1,
                                 **FAST).fit(panel_of(frame))

    a, b, c = fit(9), fit(9), fit(10)
    for estimand in ("ATT", "CATE", "BLP"):
        pd.testing.assert_frame_equal(a.effect(estimand).table, b.effect(estimand).table)
    pd.testing.assert_frame_equal(a.effect("CATE").part_frame("drivers"), b.effect("CATE").part_frame("drivers"))
    assert not np.array_equal(a.sample_.folds, c.sample_.folds)


def test_linear_cate_is_the_blp(frame):
    est = bc.make_estimator("dml", random_state=1, **FAST).fit(panel_of(frame))
    cate, blp = est.effect("CATE"), est.effect("BLP")
    assert cate.interval_kind == "wald_if"
    units = est.sample_.wide.units
    x = est.heterogeneity_.modifiers.matrix[np.isin(units, [type(units[0])(t) for t in cate.terms])]
    intercept = blp.facts("blp")["intercept"]
    np.testing.assert_allclose(cate.table["estimate"], intercept + x @ blp.table["estimate"].to_numpy())
    drivers = cate.part_frame("drivers")
    assert drivers["forest_importance"].isna().all()
    assert list(drivers["trait"][:1]) == ["size"]


@pytest.mark.parametrize("learner", ["gradient_boosting", "random_forest", "lasso"])
def test_named_learners(frame, learner):
    """Each learner recovers the ATT of a short panel (four post periods of one cohort)."""
    short = frame[(frame["year"] <= 2008) & frame["g"].isin([0, 2005])]
    est = bc.make_estimator("dml", design="long_difference", outcome_model=learner,
                            propensity_model=learner, n_folds=2, random_state=0,
                            effect_modifiers=[]).fit(panel_of(short))
    post = short[(short["g"] > 0) & (short["year"] >= short["g"])]
    truth = 1.0 + (0.8 * post["size"] + 0.6 * (post["region"] == "North")).mean()
    att = est.effect("ATT").row("overall")
    assert att.lower < truth < att.upper
    assert [r.estimand for r in est.results()] == ["ATT", "ATT_event", "ATT_cohort",
                                                   "ATT_calendar"]


def test_within_design_is_labelled_for_comparison(frame):
    est = bc.make_estimator("dml", design="within", by="region", random_state=0,
                            **FAST).fit(panel_of(frame))
    assert [r.estimand for r in est.results()] == ["ATT", "ATT_by_region", "CATE", "BLP"]
    att = est.effect("ATT")
    assert any("within design" in n for n in att.notes)
    cells = bc.make_estimator("dml", random_state=0, **FAST).fit(panel_of(frame))
    assert att.estimate() != pytest.approx(cells.effect("ATT").estimate(), abs=1e-6)


def test_numeric_by_needs_bins(frame):
    panel = panel_of(frame)
    with pytest.raises(ParamError, match="by_bins: quartiles"):
        bc.make_estimator("dml", by="size", **FAST).fit(panel)
    est = bc.make_estimator("dml", by="size", by_bins="median", random_state=0, **FAST).fit(panel)
    assert est.effect("ATT_by_size").terms == ["Q1", "Q2"]
    assert est.effect("BLP").terms == ["region=South", "size"]   # the modifier stays numeric


@pytest.mark.parametrize("params,message", [
    (dict(outcome_model="xgboost"), "outcome_model: 'xgboost' is not one of"),
    (dict(propensity_model="lasso_cv"), "did you mean 'lasso'"),
    (dict(control_group="not_yet"), "control_group"),
    (dict(design="twfe"), "design"),
    (dict(outcome_model="lasso"), "outcome_model: 'lasso' is learned in design long_difference"),
    (dict(propensity_model="random_forest"), "set design: long_difference to use random_forest"),
    (dict(n_folds=1), "n_folds: 1 is below the minimum 2"),
    (dict(mc_iters=0), "mc_iters"),
    (dict(n_trees=10), "n_trees: 10 must be a multiple of 4"),
    (dict(max_samples=0.8), "max_samples"),
])
def test_bad_parameters_are_named(params, message):
    with pytest.raises(ParamError, match=message):
        bc.make_estimator("causal_forest", **params).validate()


def test_data_problems_are_named(frame):
    panel = panel_of(frame)
    with pytest.raises(ParamError, match="effect_modifiers: 'sise' is not a trait.*'size'"):
        bc.make_estimator("dml", effect_modifiers=["sise"]).check_panel(panel)
    with pytest.raises(ParamError, match="covariates: column 'nope' is not in the data"):
        bc.make_estimator("dml", covariates=["nope"]).check_panel(panel)
    no_never = panel_of(frame[frame["g"] > 0])
    with pytest.raises(ParamError, match="control_group: never_treated, but no unit"):
        bc.make_estimator("dml", design="long_difference").check_panel(no_never)
    # the imputation design compares with every untreated city-year: no never-treated needed
    bc.make_estimator("dml").check_panel(no_never)


def test_caller_data_untouched_and_modifiers_chosen(frame):
    before = frame.copy()
    est = bc.make_estimator("dml", effect_modifiers=["size"], random_state=0,
                            **FAST).fit(panel_of(frame))
    pd.testing.assert_frame_equal(frame, before)
    assert est.effect("BLP").terms == ["size"]
    assert list(est.effect("CATE").part_frame("drivers")["trait"]) == ["size"]


def test_a_run_writes_the_drivers_table(tmp_path):
    from bayescity.experiments.runner import run_experiment

    config = tmp_path / "ml.yaml"
    config.write_text("""
name: ml_run
seed: 5
data: {source: builtin:china_cities, unit: city, time: year, outcome: tfp_growth,
       cohort: pilot_year, traits: [region3, north_south], cluster: city}
estimators:
  - id: forest
    method: causal_forest
    params: {control_group: not_yet_treated, covariates: [ln_pop_2003, ln_gdp_pc_2003]}
""")
    out = run_experiment(config, reports_root=tmp_path / "reports",
                         models_root=tmp_path / "models", smoke=True)
    drivers = pd.read_csv(out.run_dir / "drivers.csv")
    assert list(drivers.columns) == ["estimator", "estimand", *DRIVER_COLUMNS]
    assert set(drivers["estimand"]) == {"CATE"}
    assert set(drivers["trait"]) == {"region3", "north_south"}
    table = pd.read_csv(out.run_dir / "results.csv")
    assert {"ATT", "CATE", "BLP"} <= set(table["estimand"])
