"""Placebo tests and randomization inference (``method: placebo``)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.data.codings import unit_cohorts
from bayescity.datasets import simulate_city_panel
from bayescity.estimators import ParamError
from bayescity.estimators.robust.permute import permuted_cohorts, randomization_pvalue
from bayescity.estimators.robust.placebo import fake_timing_panel
from bayescity.parallel import use_executor
from bayescity.progress import progress_to
from conftest import make_staggered


def _panel(df: pd.DataFrame, **kw):
    return bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                         covariates=["x"], traits=["region"], **kw)


def _sim_panel(sim, **kw):
    return bc.load_panel(sim.data, unit="city", time="year", outcome="tfp_growth",
                         cohort="pilot_year", traits=["region3"], **kw)


@pytest.fixture(scope="module")
def small():
    df = make_staggered(seed=21, n_units=40, cohorts=(2003, 2005, 2008), effect=0.0)
    df["z"] = np.random.default_rng(0).normal(size=len(df))
    df["trend_trait"] = np.repeat(np.random.default_rng(1).normal(size=40), 12)
    return df


def _dist(result):
    d = result.part("placebo").draws[:, 0]
    return d.to_numpy() if isinstance(d, pd.DataFrame) else np.asarray(d)


@pytest.mark.parametrize("case", ["balanced", "unbalanced", "by", "trends"])
def test_fwl_fast_path_equals_refitting_twfe(small, case):
    """The Frisch-Waugh-Lovell paths (look-up, demeaning, per level) give the very numbers of
    refitting twfe on each placebo assignment."""
    df = small.drop(index=[3, 50, 77]) if case == "unbalanced" else small
    panel = _panel(df)
    kw = dict(n_permutations=150, random_state=7, by="region" if case == "by" else None,
              estimator_params={"trend_covariates": ["trend_trait"]} if case == "trends" else None)
    fast = bc.make_estimator("placebo", **kw).fit(panel)
    slow = bc.make_estimator("placebo", fast_path=False, **kw).fit(panel)
    assert [r.estimand for r in fast.results()] == (["ATT", "ATT_by_region"] if case == "by"
                                                    else ["ATT"])
    for a, b in zip(fast.results(), slow.results()):
        assert a.facts()["permutation_path"] == "twfe_fwl" and b.facts()["permutation_path"] == "refit"
        np.testing.assert_allclose(_dist(a), _dist(b), rtol=1e-8, atol=1e-10)
        pd.testing.assert_frame_equal(a.table, b.table)
        assert a.tests[-1].kind == "randomization"
        for term, value in a.facts()["fwl_observed"].items():
            assert value == pytest.approx(a.estimate(term), rel=1e-9)


def test_permutations_keep_cohort_sizes_within_strata():
    rng = np.random.default_rng(0)
    cohorts = np.array([0, 0, 0, 2005, 2005, 2008, 0, 2008, 2005, 0])
    strata = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    draws = permuted_cohorts(cohorts, strata, 500, rng)
    for s in (0, 1):
        for row in draws[:, strata == s]:
            assert sorted(row) == sorted(cohorts[strata == s])
    assert len({tuple(r) for r in draws}) > 50  # actually random
    free = permuted_cohorts(cohorts, None, 2000, rng)
    assert np.isclose((free[:, 0] == 2005).mean(), 0.3, atol=0.04)


def test_randomization_pvalue_counts_the_observed_draw():
    p = randomization_pvalue(np.array([2.0, 0.1]), np.array([[1.0, 0.0], [-3.0, 0.5],
                                                             [np.nan, -0.1]]))
    np.testing.assert_allclose(p, [(1 + 1) / (1 + 2), (1 + 2) / (1 + 3)])


class PoolExecutor:
    """A process pool behind the executor interface (tasks pickled, run out of order)."""

    def __init__(self, pool):
        self.pool = pool

    def map(self, fn, items):
        return list(self.pool.map(fn, items))


@pytest.mark.parametrize("fast_path", [True, False])
def test_same_seed_same_pvalue_on_any_executor(small, fast_path):
    panel = _panel(small)
    kw = dict(n_permutations=250 if fast_path else 101, random_state=11, fast_path=fast_path)
    serial = bc.make_estimator("placebo", **kw).fit(panel).effect("ATT")
    with ProcessPoolExecutor(max_workers=2) as pool, use_executor(PoolExecutor(pool)):
        pooled = bc.make_estimator("placebo", **kw).fit(panel).effect("ATT")
    np.testing.assert_array_equal(_dist(serial), _dist(pooled))
    assert serial.row("overall")["p_value"] == pooled.row("overall")["p_value"]
    other = bc.make_estimator("placebo", **{**kw, "random_state": 12}).fit(panel).effect("ATT")
    assert not np.array_equal(_dist(serial), _dist(other))


def test_small_pvalue_under_a_real_effect():
    sim = simulate_city_panel(8123, heterogeneous=False, selection=False, assignment="random")
    fit = bc.make_estimator("placebo", n_permutations=199, random_state=1).fit(_sim_panel(sim))
    att = fit.effect("ATT")
    assert att.row("overall")["p_value"] == pytest.approx(1 / 200)
    assert att.tests[-1].kind == "randomization" and len(_dist(att)) == 199
    assert "randomization p-value" in att.notes[-1]


def test_staggered_robust_estimator_is_permuted_by_refitting(small):
    panel = _panel(make_staggered(seed=5, n_units=40, effect=1.5))
    kw = dict(n_permutations=19, estimator="callaway_santanna", random_state=3,
              estimator_params={"control_group": "not_yet_treated", "est_method": "reg"})
    a = bc.make_estimator("placebo", **kw).fit(panel).effect("ATT")
    b = bc.make_estimator("placebo", **kw).fit(panel).effect("ATT")
    assert a.facts()["permutation_path"] == "refit"
    np.testing.assert_array_equal(_dist(a), _dist(b))
    assert a.row("overall")["p_value"] == pytest.approx(1 / 20)
    cs = bc.make_estimator("callaway_santanna", **kw["estimator_params"]).fit(panel)
    assert a.estimate() == pytest.approx(cs.effect("ATT").estimate())


def test_fake_timing_sample_and_pretrend_detection():
    sim = simulate_city_panel(5511, heterogeneous=False, selection=False, pretrend=0.4)
    panel = _sim_panel(sim)
    fake = fake_timing_panel(panel, 2)
    g_real = unit_cohorts(panel)
    kept = fake.frame
    assert (kept["year"] < kept["pilot_year"]).where(kept["pilot_year"] > 0, True).all()
    assert set(fake.cohorts) == {g - 2 for g in g_real[g_real > 0]} == {2006, 2008, 2010, 2016}
    fit = bc.make_estimator("placebo", kind="fake_timing", shift=2).fit(panel)
    assert [r.estimand for r in fit.results()] == ["ATT_fake_timing"]  # not the policy's ATT
    res = fit.effect("ATT_fake_timing")
    assert res.row("overall")["p_value"] < 0.01  # a pre-trend shows up as a placebo effect
    assert res.facts()["placebo_kind"] == "fake_timing"


def test_placebo_outcome_is_taken_out_of_the_covariates(small):
    panel = _panel(small)
    fit = bc.make_estimator("placebo", kind="outcome", placebo_outcome="x",
                            n_permutations=49, random_state=2).fit(panel)
    direct = bc.make_estimator("twfe", covariates=[]).fit(panel.with_outcome("x"))
    assert [r.estimand for r in fit.results()] == ["ATT_placebo_outcome"]
    att = fit.effect("ATT_placebo_outcome")
    assert att.estimate() == pytest.approx(direct.effect("ATT").estimate())
    assert "x as outcome" in att.tests[-1].name


@pytest.mark.parametrize("params, match", [
    ({"n_permutations": 10}, "n_permutations: 10"),
    ({"kind": "outcome"}, "placebo_outcome"),
    ({"kind": "timng"}, "did you mean 'timing'"),
    ({"estimator": "twfee"}, "estimator: .*did you mean 'twfe'"),
    ({"estimator": "placebo"}, "wraps an estimator"),
    ({"kind": "fake_timing", "estimator": "callaway_santanna"}, "balanced panel"),
    ({"estimator_params": {"windw": 3}}, "estimator_params: .*windw"),
    ({"estimator_params": {"by": "region"}}, "estimator_params: .*by"),
])
def test_parameter_mistakes_are_caught_before_fitting(params, match):
    with pytest.raises(ParamError, match=match):
        bc.make_estimator("placebo", **params).validate()


def test_strata_must_be_a_unit_characteristic(small):
    with pytest.raises(ParamError, match="strata: column 'x' varies within units"):
        bc.make_estimator("placebo", strata="x").check_panel(_panel(small))
    with pytest.raises(ParamError, match="strata: column"):
        bc.make_estimator("placebo", strata="nope").check_panel(_panel(small))


def test_progress_goes_to_the_run_display_never_to_the_terminal(small, monkeypatch, capsys):
    """Permutations are reported through bayescity.progress (which the run's display shows and
    --quiet silences); nothing is written to an interactive terminal, numbers do not change."""
    monkeypatch.setattr(__import__("sys").stderr, "isatty", lambda: True, raising=False)
    events = []
    with progress_to(events.append):
        heard = bc.make_estimator("placebo", n_permutations=250, random_state=1).fit(
            _panel(small)).effect("ATT")
    assert capsys.readouterr().err == ""
    assert [(e.completed, e.total) for e in events
            if e.label == "placebo permutations (twfe, FWL)"] == [(0, 250), (100, 250),
                                                                   (200, 250), (250, 250)]
    alone = bc.make_estimator("placebo", n_permutations=250, random_state=1).fit(
        _panel(small)).effect("ATT")
    np.testing.assert_array_equal(heard.part("placebo").draws[:, 0],
                                  alone.part("placebo").draws[:, 0])
    events.clear()
    with progress_to(events.append):
        bc.make_estimator("placebo", n_permutations=19, fast_path=False, random_state=1).fit(
            _panel(small))
    done = [e.completed for e in events if e.label == "placebo permutations (twfe refits)"]
    assert set(range(20)) <= set(done) and done == sorted(done) and done[-1] == 19
