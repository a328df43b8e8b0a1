"""The shared aggregation of cell effects: hand-computed examples, influence of estimated weights,
draws vs influence paths, the level-equality test and the multiplier bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayescity.estimands import (CellEffects, aggregate, cells_from_unit_effects,
                                 draw_multipliers, multiplier_bootstrap, second_stage_overall,
                                 to_effect_result)

#: cohort 2 (2 units) in periods 2, 3; cohort 3 (1 unit) in periods 2 (pre), 3.
CELLS = pd.DataFrame({"cohort": [2, 2, 3, 3], "time": [2, 3, 2, 3], "weight": [2, 2, 1, 1]})
EST = np.array([1.0, 3.0, 0.5, 4.0])


def small(**kw) -> CellEffects:
    return CellEffects(cells=CELLS, estimates=EST, **kw)


def test_hand_computed_aggregates():
    att = aggregate(small(), "ATT")
    assert att.terms == ["overall"]
    assert att.estimates == pytest.approx([(2 * 1 + 2 * 3 + 1 * 4) / 5])
    event = aggregate(small(), "ATT_event", post_only=False)
    assert event.terms == ["-1", "0", "1"]
    assert event.estimates == pytest.approx([0.5, (2 * 1 + 4) / 3, 3.0])
    assert aggregate(small(), "ATT_event").terms == ["0", "1"]
    cohort = aggregate(small(), "ATT_cohort")
    assert cohort.terms == ["2", "3"] and cohort.estimates == pytest.approx([2.0, 4.0])
    calendar = aggregate(small(), "ATT_calendar")
    assert calendar.terms == ["2", "3"]
    assert calendar.estimates == pytest.approx([1.0, (2 * 3 + 4) / 3])
    assert aggregate(small(), "ATT_event", post_only=False, event_window=(0, 0)).terms == ["0"]


def test_second_stage_overalls_are_r_did_definitions():
    assert second_stage_overall(small(), "ATT_cohort").estimates == pytest.approx([(2 * 2 + 4) / 3])
    assert second_stage_overall(small(), "ATT_event").estimates == pytest.approx([2.5])
    assert second_stage_overall(small(), "ATT_calendar").estimates == pytest.approx([(1 + 10 / 3) / 2])
    with pytest.raises(ValueError, match="second-stage"):
        second_stage_overall(small(), "ATT")


def test_unknown_estimand_and_missing_level_are_errors():
    with pytest.raises(ValueError, match="unknown estimand"):
        aggregate(small(), "ATT_bogus")
    with pytest.raises(ValueError, match="level"):
        aggregate(small(), "ATT_by_region")
    with pytest.raises(ValueError, match="weight"):
        CellEffects(cells=CELLS.assign(weight=[0, 1, 1, 1]), estimates=EST)


def _units(rng, n_never=5):
    """Unit cohorts matching CELLS' weights plus never-treated units, and a random influence."""
    unit_cohort = np.array([2, 2, 3] + [0] * n_never)
    influence = rng.normal(size=(unit_cohort.size, len(CELLS)))
    return unit_cohort, influence


def _aggregate_at(p: np.ndarray, estimand: str, term: str) -> float:
    """Term ``term`` of ``estimand`` as a function of the cohort shares ``p`` (per cohort 2, 3)."""
    weight = np.where(CELLS["cohort"] == 2, p[0], p[1])
    agg = aggregate(CellEffects(cells=CELLS.assign(weight=weight), estimates=EST), estimand)
    return agg.estimates[agg.terms.index(term)]


@pytest.mark.parametrize("estimand, term", [("ATT", "overall"), ("ATT_event", "0"),
                                            ("ATT_calendar", "3")])
def test_weights_influence_is_the_delta_method(estimand, term):
    rng = np.random.default_rng(0)
    unit_cohort, influence = _units(rng)
    n = unit_cohort.size
    cells = small(influence=influence, unit_cohort=unit_cohort)
    agg = aggregate(cells, estimand)
    j = agg.terms.index(term)
    p = np.array([2 / n, 1 / n])
    h = 1e-6
    grad = np.array([(_aggregate_at(p + h * e, estimand, term)
                      - _aggregate_at(p - h * e, estimand, term)) / (2 * h) for e in np.eye(2)])
    share_if = np.column_stack([(unit_cohort == 2) - p[0], (unit_cohort == 3) - p[1]])
    expected = influence @ agg.weights[j] + share_if @ grad
    assert agg.influence[:, j] == pytest.approx(expected, abs=1e-6)
    without = aggregate(small(influence=influence), estimand)
    assert not np.allclose(without.influence[:, j], expected)


def test_vcov_convention_and_clusters():
    rng = np.random.default_rng(1)
    unit_cohort, influence = _units(rng)
    agg = aggregate(small(influence=influence, unit_cohort=unit_cohort), "ATT_cohort")
    n = influence.shape[0]
    assert agg.vcov() == pytest.approx(agg.influence.T @ agg.influence / n**2)
    clusters = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    summed = np.vstack([agg.influence[clusters == c].sum(0) for c in range(4)])
    assert agg.vcov(clusters) == pytest.approx(summed.T @ summed / n**2)
    res = to_effect_result(agg, method="m", paradigm="frequentist", n_obs=10, clusters=clusters)
    assert res.n_clusters == 4 and res.interval_kind == "wald_if"
    assert res.table["std_error"].to_numpy() == pytest.approx(np.sqrt(np.diag(agg.vcov(clusters))))
    assert res.table["prob_positive"].isna().all() and res.table["p_value"].notna().all()


def test_draws_path_matches_influence_path():
    rng = np.random.default_rng(2)
    draws = rng.normal(size=(4000, len(CELLS)))
    draws = draws - draws.mean(0) + EST
    unit_cohort, influence = _units(rng)
    freq = small(influence=influence, unit_cohort=unit_cohort)
    bayes = small(draws=draws)
    for estimand in ["ATT", "ATT_event", "ATT_cohort", "ATT_calendar"]:
        f = to_effect_result(aggregate(freq, estimand), method="m", paradigm="frequentist", n_obs=1)
        b = to_effect_result(aggregate(bayes, estimand), method="m", paradigm="bayesian", n_obs=1)
        assert b.table["estimate"].to_numpy() == pytest.approx(f.table["estimate"].to_numpy())
        assert b.table["p_value"].isna().all() and b.interval_kind == "equal_tailed"
        assert b.tests == ()
    b = to_effect_result(aggregate(bayes, "ATT"), method="m", paradigm="bayesian", n_obs=1,
                         interval_prob=0.9)
    overall = (draws @ aggregate(bayes, "ATT").weights.T)[:, 0]
    assert b.table["lower"][0] == pytest.approx(np.quantile(overall, 0.05))
    assert b.table["prob_positive"][0] == pytest.approx((overall > 0).mean())


def _level_cells(rng, effects: dict[str, float], n_per_cell: int = 60) -> CellEffects:
    """Cells of two cohorts x two periods per level, estimated by unit means with their influence."""
    rows, unit_cohort, unit_level = [], [], []
    for level in effects:
        for g in (2, 3):
            unit_cohort += [g] * n_per_cell
            unit_level += [level] * n_per_cell
    unit_cohort += [0] * 40
    unit_level += ["A"] * 40
    unit_cohort, unit_level = np.array(unit_cohort), np.array(unit_level)
    n = unit_cohort.size
    influence, est = [], []
    for level, effect in effects.items():
        for g in (2, 3):
            for t in (3, 4):
                member = (unit_cohort == g) & (unit_level == level)
                y = effect + rng.normal(size=member.sum())
                column = np.zeros(n)
                column[member] = (y - y.mean()) * n / member.sum()
                influence.append(column)
                est.append(y.mean())
                rows.append((g, t, level, member.sum()))
    cells = pd.DataFrame(rows, columns=["cohort", "time", "level", "weight"])
    return CellEffects(cells=cells, estimates=np.array(est), influence=np.column_stack(influence),
                       unit_cohort=unit_cohort, unit_level=unit_level)


def test_equality_test_rejects_only_when_levels_differ():
    rng = np.random.default_rng(3)
    differ = to_effect_result(aggregate(_level_cells(rng, {"A": 0.0, "B": 1.0}), "ATT_by",
                                        trait="region"), method="m", paradigm="frequentist", n_obs=1)
    same = to_effect_result(aggregate(_level_cells(rng, {"A": 0.5, "B": 0.5}), "ATT_by_region"),
                            method="m", paradigm="frequentist", n_obs=1)
    assert differ.estimand == "ATT_by_region" and differ.terms == ["A", "B"]
    assert differ.tests[0].p_value < 1e-4
    assert same.tests[0].p_value > 0.05
    assert same.tests[0].df == 1


def test_level_draws_report_differences_without_tests():
    rng = np.random.default_rng(4)
    cells = CellEffects(cells=pd.DataFrame({"cohort": [2, 2], "time": [2, 2], "level": ["A", "B"],
                                            "weight": [1, 1]}),
                        estimates=np.array([0.0, 1.0]),
                        draws=rng.normal([0.0, 1.0], 0.1, size=(2000, 2)))
    res = to_effect_result(aggregate(cells, "ATT_by_x"), method="m", paradigm="bayesian", n_obs=1)
    assert res.tests == ()
    diff = res.part_frame("level_differences")
    assert diff["term"][0] == "B - A" and diff["estimate"][0] == pytest.approx(1.0, abs=0.02)


def test_cells_from_unit_effects_average_within_cells():
    frame = pd.DataFrame({"cohort": [2, 2, 2, 3], "time": [2, 2, 3, 3], "tau": [1.0, 3.0, 5.0, 7.0],
                          "region": ["A", "A", "B", "A"]})
    cells = cells_from_unit_effects(frame, cohort="cohort")
    assert cells.cells[["cohort", "time", "weight"]].values.tolist() == [[2, 2, 2], [2, 3, 1], [3, 3, 1]]
    assert cells.estimates == pytest.approx([2.0, 5.0, 7.0])
    assert aggregate(cells, "ATT").estimates == pytest.approx([frame["tau"].mean()])
    draws = np.vstack([frame["tau"].to_numpy() + k for k in (-1.0, 1.0)])
    with_draws = cells_from_unit_effects(frame, cohort="cohort", effect=None, draws=draws,
                                         level="region")
    assert with_draws.draws.shape == (2, 3) and "level" in with_draws.cells.columns
    assert with_draws.cells["level"].tolist() == ["A", "B", "A"]
    assert with_draws.estimates == pytest.approx([2.0, 5.0, 7.0])
    with pytest.raises(ValueError, match="treated"):
        cells_from_unit_effects(frame.assign(cohort=[0, 2, 2, 3]), cohort="cohort")


def test_multiplier_bootstrap_matches_analytic_and_uniform_is_wider():
    rng = np.random.default_rng(5)
    influence = rng.normal(size=(2000, 6)) @ rng.normal(size=(6, 6))
    multipliers = draw_multipliers(np.random.default_rng(6), 999, 2000, "mammen")
    uniform = multiplier_bootstrap(influence, multipliers, bands="uniform")
    pointwise = multiplier_bootstrap(influence, multipliers, bands="pointwise")
    analytic = np.sqrt(np.diag(influence.T @ influence)) / 2000
    assert uniform.std_error == pytest.approx(analytic, rel=0.1)
    assert uniform.crit > pointwise.crit == pytest.approx(1.959964, abs=1e-5)
    rade = draw_multipliers(np.random.default_rng(6), 500, 50, "rademacher")
    assert set(np.unique(rade)) == {-1.0, 1.0}
    with pytest.raises(ValueError, match="multiplier"):
        draw_multipliers(rng, 10, 10, "normal")
