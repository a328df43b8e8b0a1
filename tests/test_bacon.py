"""Goodman-Bacon decomposition: agreement with diff-diff's BaconDecomposition (exact weights)
and twowayfeweights, the decomposition identity, recovery, and the referee plot."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import bayescity as bc
from bayescity.reports.cache import FigureMaker
from bayescity.reports.inputs import FitRecord, ReportInputs
from bayescity.reports.referee_figures import bacon_plot
from bayescity.reports.sections import analysis_sections
from conftest import make_staggered

dd = pytest.importorskip("diff_diff")


def reference(df: pd.DataFrame, *, unit: str, time: str, outcome: str, cohort: str):
    # twowayfeweights projects with dense BLAS calls: threads spinning on a busy machine take
    # seconds where one thread takes a fraction of one.
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        dec = dd.BaconDecomposition().fit(df, outcome=outcome, unit=unit, time=time,
                                          first_treat=cohort)
        d = ((df[cohort] > 0) & (df[time] >= df[cohort])).astype(int)
        tw = dd.twowayfeweights(df.assign(_d=d), outcome=outcome, unit=unit, time=time,
                                treatment="_d")
    return dec, tw, d.to_numpy() == 1


def assert_agrees(est, df, *, unit, time, outcome, cohort):
    dec, tw, treated = reference(df, unit=unit, time=time, outcome=outcome, cohort=cohort)
    ours = est.effect("ATT").part_frame("comparisons")
    ref = dec.to_dataframe()
    ref["control"] = ref["control_group"].replace({"never_treated": "never"}).astype(str)
    merged = ours.assign(control=ours["control"].astype(str)).merge(
        ref, left_on=["treated", "control", "type"],
        right_on=["treated_group", "control", "comparison_type"], suffixes=("", "_ref"))
    assert len(merged) == len(ours) == len(ref)
    np.testing.assert_allclose(merged["estimate"], merged["estimate_ref"], atol=1e-10)
    np.testing.assert_allclose(merged["weight"], merged["weight_ref"], atol=1e-10)
    att = est.effect("ATT")
    assert att.estimate() == pytest.approx(dec.twfe_estimate, abs=1e-10)
    assert att.facts("decomposition")["twfe"] == pytest.approx(dec.twfe_estimate, abs=1e-10)
    # de Chaisemartin-D'Haultfoeuille: the share of treated cells with negative weights and
    # the sum of those weights (diff-diff's contribution weights are per (unit, period) cell).
    w = tw.weights.merge(df.assign(_t=treated)[[unit, time, "_t"]], on=[unit, time])
    w = w.loc[w["_t"], "weight"]
    assert att.facts("decomposition")["negative_weight_share"] == pytest.approx(tw.fraction_negative, abs=1e-12)
    assert att.facts("decomposition")["negative_weight_sum"] == pytest.approx(float(w[w < 0].sum()), abs=1e-10)
    types = est.effect("ATT_comparison").table.set_index("term")["estimate"]
    for kind, avg in (("treated_vs_never", dec.weighted_avg_treated_vs_never),
                      ("earlier_vs_later", dec.weighted_avg_earlier_vs_later),
                      ("later_vs_earlier", dec.weighted_avg_later_vs_earlier)):
        assert types[kind] == pytest.approx(avg, abs=1e-10)


@pytest.fixture(scope="module")
def mpdta_fit(mpdta):
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    return bc.make_estimator("bacon").fit(panel)


def test_matches_diff_diff_on_mpdta(mpdta, mpdta_fit):
    est = mpdta_fit
    assert_agrees(est, mpdta.rename(columns={"first.treat": "ft"}), unit="countyreal",
                  time="year", outcome="lemp", cohort="ft")
    # The TWFE coefficient of mpdta that the nine 2x2s average to.
    assert est.effect("ATT").estimate() == pytest.approx(-0.0365489, abs=1e-7)


def test_matches_diff_diff_on_castle_doctrine_panel():
    """diff-diff's castle-doctrine loader (offline: its synthetic stand-in, 49 states x
    2000-2010 with Florida's one-state 2005 cohort) as a staggered panel."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        castle = dd.load_castle_doctrine()
    panel = bc.load_panel(castle, unit="state", time="year", outcome="homicide_rate",
                          cohort="first_treat")
    est = bc.make_estimator("bacon").fit(panel)
    assert_agrees(est, castle, unit="state", time="year", outcome="homicide_rate",
                  cohort="first_treat")


def test_decomposition_identity_and_recovery():
    df = make_staggered(seed=2, n_units=90, effect=0.8, cohorts=(2003, 2005, 2008))
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          traits=["region"])
    est = bc.make_estimator("bacon", by="region").fit(panel)
    table = est.effect("ATT").part_frame("comparisons")
    assert table["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    twfe = bc.make_estimator("twfe", covariates=[]).fit(panel).effect("ATT").estimate()
    assert float((table["weight"] * table["estimate"]).sum()) == pytest.approx(twfe, abs=1e-10)
    att = est.effect("ATT").row("overall")
    assert att["lower"] < 0.8 < att["upper"]
    # With a constant effect every 2x2 is unbiased, the forbidden ones included.
    assert np.all(np.abs(table["estimate"] - 0.8) < 0.6)
    by = est.effect("ATT_by_region")
    assert by.terms == ["North", "South"] and by.tests
    assert np.all(np.abs(by.table["estimate"] - 0.8) < 0.35)


def test_dynamic_effects_bias_the_already_treated_comparisons():
    """Effects growing with time since adoption: the later-vs-earlier 2x2s subtract the early
    cohort's growing effect and fall below the clean comparisons (Goodman-Bacon 2021, Sec. 3)."""
    df = make_staggered(seed=4, n_units=120, effect=0.0, cohorts=(2003, 2007))
    e = np.where(df["g"] > 0, df["year"] - df["g"], -1)
    df["y"] = df["y"] + np.where(e >= 0, 0.5 * (e + 1), 0.0)
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g")
    types = bc.make_estimator("bacon").fit(panel).effect("ATT_comparison").table
    by = types.set_index("term")["estimate"]
    assert by["later_vs_earlier"] < by["treated_vs_never"] - 1.0


def test_plot_draws_every_comparison(mpdta_fit):
    res = mpdta_fit.effect("ATT")
    twfe = res.facts("decomposition")["twfe"]
    fig = bacon_plot(res.part_frame("comparisons"), twfe)
    ax = fig.axes[0]
    points = np.vstack([c.get_offsets() for c in ax.collections])
    table = res.part_frame("comparisons")
    assert points.shape[0] == len(table)
    assert np.allclose(np.sort(points[:, 1]), np.sort(table["estimate"]))
    assert ax.lines[0].get_ydata()[0] == pytest.approx(twfe)
    with pytest.raises(ValueError, match="weight"):
        bacon_plot(table.drop(columns="weight"))


class _Cache(dict):
    def put(self, key, payload):
        self[key] = payload


def test_report_draws_the_plot_in_the_referee_section_through_the_cache(mpdta_fit):
    results = {"bacon": mpdta_fit.results()}
    inputs = ReportInputs("t", "r", results, [FitRecord("bacon", "bacon")], {}, pd.DataFrame())
    long = pd.concat([r.summary() for r in results["bacon"]]).rename(
        columns={"method": "estimator"})
    cache = _Cache()
    for drawn in (0, 1):
        figs = FigureMaker(cache)
        referee = next(s for s in analysis_sections(inputs, long, figs) if s.id == "referee")
        shown = [b.content for b in referee.blocks if b.kind == "figure"]
        assert [f.id for f in shown] == ["fig-bacon-bacon"] and shown[0].png
        assert (figs.hits, figs.misses) == ((1, 0) if drawn else (0, 1))
        titles = " ".join(b.title for b in referee.blocks)
        assert "every 2x2 comparison" in titles and "negative weights" in titles
    # the state a user inspects is the decomposition itself
    assert mpdta_fit.twfe_ == pytest.approx(mpdta_fit.effect("ATT").estimate(), abs=1e-10)
    assert len(mpdta_fit.comparisons_) == 9
