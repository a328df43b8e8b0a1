"""Do the methods agree on the drivers of the effect? The hierarchical DID's city effects
projected on the traits recover a known linear trait effect; dml, causal_forest and the
hierarchical DID agree on a strong single driver and the report says so; a constructed
disagreement is named with both top drivers and its likeliest reason; a calibration of the same
design is found beside the run folder and cited."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LinearRegression

import bayescity as bc
from bayescity.estimands.projection import (projection_draws, trait_matrix, trait_ranking,
                                            trait_slopes)
from bayescity.reports import FitRecord, ReportInputs, load_run, write_report
from bayescity.reports.agreement import driver_agreement
from bayescity.reports.calibration_hook import calibration_sentences, find_calibration
from bayescity.reports.inputs import panel_summary, save_inputs, unit_table
from bayescity.results import EffectResult
from bayescity.results.effect import wald_table
from bayescity.results.parts import Table

SLOPE = 0.8  # the effect of h1 on a city's effect: tau_i = 1 + 0.8 h1_i
MODIFIERS = ["h1", "h2", "region"]


def driver_panel(seed: int = 7, n_units: int = 90, noise: float = 0.15):
    """Staggered panel whose city effect is ``1 + SLOPE * h1``; ``h2`` and ``region`` are
    noise traits. Returns the panel and the true effect of each city. The noise is small
    enough that each city's effect is measured well: partial pooling shrinks the city effects,
    and with them the slope on a trait the model leaves out, by their reliability (about 2%
    here, 10% with noise 0.3)."""
    rng = np.random.default_rng(seed)
    years = np.arange(2000, 2012)
    n_never = n_units // 3
    g = np.concatenate([np.zeros(n_never, int),
                        rng.choice([2004, 2006, 2008], size=n_units - n_never)])
    h1, h2 = rng.normal(size=n_units), rng.normal(size=n_units)
    region = np.array(["East", "West"])[rng.integers(0, 2, n_units)]
    tau = 1.0 + SLOPE * h1
    units = [f"c{i:03d}" for i in range(n_units)]
    df = pd.DataFrame({"unit": np.repeat(units, len(years)), "year": np.tile(years, n_units),
                       "g": np.repeat(g, len(years)), "h1": np.repeat(h1, len(years)),
                       "h2": np.repeat(h2, len(years)), "region": np.repeat(region, len(years))})
    treated = (df["g"] > 0) & (df["year"] >= df["g"])
    df["y"] = (np.repeat(rng.normal(size=n_units), len(years))
               + np.tile(rng.normal(size=len(years)), n_units)
               + np.repeat(tau, len(years)) * treated + rng.normal(scale=noise, size=len(df)))
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          traits=MODIFIERS)
    return panel, pd.Series(tau, index=units)


@pytest.fixture(scope="module")
def fits():
    panel, tau = driver_panel()
    estimators = {
        "dml": bc.make_estimator("dml", effect_modifiers=MODIFIERS, n_folds=2, random_state=1),
        "causal_forest": bc.make_estimator("causal_forest", effect_modifiers=MODIFIERS,
                                           n_folds=2, n_trees=200, n_seeds=1, random_state=1),
        "bayes": bc.make_estimator("hierarchical_did", city_effects=True, chains=2, draws=150,
                                   tune=100, random_state=1)}
    return panel, tau, {k: est.fit(panel).results() for k, est in estimators.items()}


def _cate(results) -> EffectResult:
    return next(r for r in results if r.estimand == "CATE")


def test_projection_recovers_a_known_linear_trait_effect(fits):
    panel, tau, results = fits
    cate = _cate(results["bayes"])
    units = unit_table(panel).set_index("unit").loc[cate.terms]
    traits = trait_matrix(units, MODIFIERS, {"region"})
    assert traits.columns == ("h1", "h2", "region=West")
    # the truth: the projection of the true city effects on the same (standardised) traits
    truth = projection_draws(tau.loc[cate.terms].to_numpy()[None, :], traits.matrix)[0]
    assert truth[0] == pytest.approx(SLOPE * traits.scale[0]) and truth[1:] == pytest.approx(0)
    slopes = trait_slopes(np.asarray(cate.draws), traits).set_index("term")
    assert slopes.loc["h1", "mean"] == pytest.approx(truth[0], rel=0.1)
    for term, true in zip(traits.columns, truth):
        assert slopes.loc[term, "lower"] < true < slopes.loc[term, "upper"], term
    assert slopes.loc["h1", "prob_sign"] == 1.0
    ranking = trait_ranking(slopes.reset_index())
    assert ranking["trait"].iloc[0] == "h1" and ranking["credible"].tolist()[0]
    # each draw's slopes are an ordinary least-squares fit (scikit-learn's)
    draw = np.asarray(cate.draws)[17]
    ols = LinearRegression().fit(traits.matrix, draw)
    np.testing.assert_allclose(projection_draws(draw[None, :], traits.matrix)[0], ols.coef_,
                               rtol=1e-8, atol=1e-10)


def test_methods_agree_on_a_strong_single_driver(fits):
    panel, _, results = fits
    agreement = driver_agreement(results, unit_table(panel), panel_summary(panel))
    assert [m.est_id for m in agreement.methods] == ["dml", "causal_forest", "bayes"]
    assert agreement.agree and {m.model for m in agreement.methods} == {"linear", "forest",
                                                                         "posterior"}
    assert agreement.sentences[0].startswith(
        "dml, causal_forest and bayes agree that h1 is the top driver (")
    assert "posterior slope +" in agreement.sentences[0] and "per sd" in agreement.sentences[0]
    h1 = agreement.table.set_index("trait").loc["h1"]
    assert h1["top_agreement"] and h1["sign_agreement"] and h1["top_in"] == \
        "dml, causal_forest, bayes"
    for est_id in ("dml", "causal_forest", "bayes"):
        assert h1[f"{est_id}_rank"] == 1 and h1[f"{est_id}_sign"] == "+"
        assert h1[f"{est_id}_significant"]
    assert "the methods agree on the sign" in agreement.text


def _ml(method: str, drivers: pd.DataFrame, blp: dict[str, float]) -> list[EffectResult]:
    """A drivers table on a CATE result and the BLP result, as dml and causal_forest give."""
    terms = list(blp)
    cate = EffectResult(method, "ml", "CATE", wald_table(["a", "b"], [1.0, 2.0], np.eye(2)),
                        100, parts=[Table("drivers", drivers)])
    return [cate, EffectResult(method, "ml", "BLP", wald_table(terms, list(blp.values()),
                                                                np.eye(len(terms)) * 0.01), 100)]


def _drivers(ranks: dict[str, int], holm: dict[str, float], forest: bool) -> pd.DataFrame:
    traits = list(ranks)
    return pd.DataFrame({"trait": traits, "rank": [ranks[t] for t in traits],
                         "forest_importance": [0.5 if forest else np.nan] * len(traits),
                         "mean_abs_shap": 0.1, "blp_estimate": 0.0, "blp_t": 0.0,
                         "blp_p": [holm[t] / 2 for t in traits],
                         "blp_p_holm": [holm[t] for t in traits], "rank_stability": 1.0})


def constructed_disagreement() -> tuple[dict, pd.DataFrame, dict]:
    """dml ranks region3 first, causal_forest ln_gdp_pc_2003 (the same BLP tests)."""
    blp = {"region3=Middle": 0.3, "region3=West": -1.2, "ln_gdp_pc_2003": 0.5}
    holm = {"region3": 0.001, "ln_gdp_pc_2003": 0.3}
    results = {"dml": _ml("dml", _drivers({"region3": 1, "ln_gdp_pc_2003": 2}, holm, False), blp),
               "causal_forest": _ml("causal_forest", _drivers({"ln_gdp_pc_2003": 1,
                                                               "region3": 2}, holm, True), blp)}
    units = pd.DataFrame({"unit": ["a", "b"], "cohort": [2008, 2010],
                          "region3": ["East", "West"], "ln_gdp_pc_2003": [9.0, 9.5]})
    panel = {"source": "toy", "n_obs": 24, "n_units": 2, "n_periods": 12,
             "first_period": 2000, "last_period": 2011, "balanced": True, "outcome": "y",
             "traits": {"region3": {"East": 1, "West": 1}},
             "numeric_traits": {"ln_gdp_pc_2003": {}}}
    return results, units, panel


def test_a_disagreement_names_both_top_drivers_and_the_likeliest_reason():
    results, units, panel = constructed_disagreement()
    agreement = driver_agreement(results, units, panel)
    assert not agreement.agree
    first, reason = agreement.sentences[:2]
    assert first == ("dml and causal_forest disagree on the top driver: dml ranks region3 first "
                     "(BLP -1.2 for region3=West, Holm p 0.001), causal_forest ranks "
                     "ln_gdp_pc_2003 first (BLP +0.5, Holm p 0.3).")
    assert "linear projection vs forest importance" in reason
    assert "continuous vs categorical trait" in reason and "split ln_gdp_pc_2003" in reason
    assert "their BLP tests agree" in reason
    table = agreement.table.set_index("trait")
    assert table.loc["region3", "term"] == "region3=West"
    assert table.loc["region3", "top_in"] == "dml" and not table.loc["region3", "top_agreement"]
    assert table.loc["ln_gdp_pc_2003", "causal_forest_rank"] == 1
    # the lead of neither is established: the reason says the order is noise
    weak = {k: [rs[0].replace(parts=[Table("drivers", rs[0].part_frame("drivers")
                                            .assign(blp_p_holm=0.4))]), rs[1]]
            for k, rs in results.items()}
    assert "within noise" in driver_agreement(weak, units, panel).sentences[1]


CALIBRATION = pd.DataFrame({
    "scenario": ["linear_in_trait"] * 6, "estimator": ["dml"] * 3 + ["causal_forest"] * 3,
    "estimand": "drivers", "term": ["ln_gdp_pc_2003", "noise_1", "noise_2"] * 2,
    "role": ["driver", "noise", "noise"] * 2, "n_reps": 50,
    "rank_first": [0.92, 0.04, 0.04, 0.71, 0.12, 0.17],
    "false_discovery": [np.nan, 0.06, 0.02, np.nan, 0.06, 0.02]})


def test_calibration_of_the_design_is_found_and_cited(tmp_path):
    results, units, panel = constructed_disagreement()
    (sentence,) = calibration_sentences(CALIBRATION, ["dml", "causal_forest"])
    assert sentence == ("On this design (calibration scenario linear_in_trait, 50 simulated "
                        "panels, true driver ln_gdp_pc_2003), dml ranked a true driver first in "
                        "92%, causal_forest in 71%; the largest share of panels in which a "
                        "pure-noise trait was declared a driver: 6% (dml), 6% (causal_forest).")
    # a run folder, and a calibration beside it of other data, then of the same data
    lock = {"run_id": "r1", "data_hash": "a" * 64, "config": {"name": "toy"}}
    inputs = ReportInputs("toy", "r1", results, [FitRecord("dml", "dml"),
                                                FitRecord("causal_forest", "causal_forest")],
                          panel, units, lock)
    run_dir = tmp_path / "toy" / "r1"
    run_dir.mkdir(parents=True)
    save_inputs(run_dir, inputs)
    (run_dir / "config.lock.yaml").write_text(yaml.safe_dump(lock), encoding="utf-8")
    for name, dhash in (("calibration-1", "b" * 64), ("calibration-0", "a" * 64)):
        (tmp_path / "toy" / name).mkdir()
        CALIBRATION.to_csv(tmp_path / "toy" / name / "calibration.csv", index=False)
        (tmp_path / "toy" / name / "config.lock.yaml").write_text(
            yaml.safe_dump({"data_hash": dhash}), encoding="utf-8")
    assert find_calibration(run_dir, lock) == tmp_path / "toy" / "calibration-0" / \
        "calibration.csv"
    loaded = load_run(run_dir)
    write_report(run_dir, loaded)
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "dml ranked a true driver first in 92%, causal_forest in 71%" in html
    assert "disagree on the top driver" in html and 'id="T_agreement_table"' in html
    stored = pd.read_csv(run_dir / "agreement.csv", encoding="utf-8-sig")
    assert stored["trait"].tolist() == ["region3", "ln_gdp_pc_2003"]
    assert stored["dml_rank"].tolist() == [1, 2]
