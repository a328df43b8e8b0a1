"""What a user reads after a run: the terminal's closing table, the comparison and the report's
analysis sections say what each number is, without repetition or misleading rows."""

from __future__ import annotations

from html import unescape

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

import bayescity as bc
from bayescity.commands.display import FLAG_WIDTH, closing_table, short_flags
from bayescity.reports import FitRecord, ReportInputs, comparison_table, write_report
from bayescity.results import EffectResult
from bayescity.results import parts as P
from bayescity.results.effect import wald_table
from conftest import make_staggered

ROLES = dict(unit="unit", time="year", outcome="y", cohort="g", covariates=["x"],
             traits=["region"])


@pytest.fixture(scope="module")
def panel():
    df = make_staggered(seed=6, n_units=40)
    df["pop"] = np.random.default_rng(6).normal(size=len(df))  # untouched by the policy
    return bc.load_panel(df, **ROLES)


def _att(est: str, estimand: str, terms, values, se=0.1, parts=(), table=None) -> EffectResult:
    if table is None:
        table = wald_table(terms, np.asarray(values, float), np.eye(len(terms)) * se ** 2)
    return EffectResult(est, "frequentist", estimand, table, 100, parts=parts)


def test_placebo_effects_never_share_the_policy_att_row(panel):
    twfe = bc.make_estimator("twfe").fit(panel).results()
    outcome = bc.make_estimator("placebo", kind="outcome", placebo_outcome="pop",
                                n_permutations=19, random_state=1).fit(panel).results()
    fake = bc.make_estimator("placebo", kind="fake_timing", by="region").fit(panel).results()
    comp = comparison_table(bc.compare({"twfe": twfe, "outcome": outcome, "fake": fake}))
    att = comp[comp["estimand"] == "ATT"].iloc[0]
    assert att["n_methods"] == 1 and att["flags"] == ""  # the placebos are not in this row
    assert set(comp["estimand"]) == {"ATT", "ATT_placebo_outcome", "ATT_fake_timing",
                                     "ATT_fake_timing_by_region"}
    assert "pop as the outcome" in outcome[0].notes[-1]


def test_closing_table_names_each_estimand_once_and_keeps_flags_short():
    long = bc.compare({"a": [_att("twfe", "ATT_by_region", ["North", "South"], [1.0, 2.0])],
                       "b": [_att("twfe", "ATT_by_region", ["North", "South"], [-1.0, 2.1])],
                       **{f"c{i}": [_att("twfe", "ATT_by_region", ["North", "South"],
                                         [5.0 + i, 2.0])] for i in range(4)}})
    comp = comparison_table(long)
    assert len(comp.loc[0, "flags"]) > FLAG_WIDTH
    console = Console(width=250, record=True)
    console.print(closing_table(comp, long))
    text = console.export_text()
    assert text.count("ATT_by_region") == 1
    assert "disagree beyond their intervals (pairs: comparison.csv)" in text
    assert short_flags("sign flip: a vs b") == "sign flip: a vs b"


def test_psm_terms_count_their_matched_treated_units(panel):
    fit = bc.make_estimator("psm_did", caliper=0.1, by="region").fit(panel)
    att = fit.effect("ATT")
    assert att.table["n_treated"].tolist() == [att.facts()["n_matched_treated"]]
    assert fit.effect("ATT_by_region").table["n_treated"].sum() == att.facts()["n_matched_treated"]


def _inputs(results) -> ReportInputs:
    units = pd.DataFrame({"unit": ["a", "b"], "cohort": [2002, 0]})
    summary = {"source": "toy", "n_obs": 10, "n_units": 2, "n_periods": 5,
               "first_period": 2000, "last_period": 2004, "balanced": True, "outcome": "y",
               "cohorts": {"2002": 1}}
    lock = {"seed": 1, "stored_fits_used": [], "packages": {"numpy": "2"}}
    return ReportInputs("toy", "run1", results, [FitRecord(k, "m") for k in results], summary,
                        units, lock)


def test_report_shows_analysis_tables_reference_periods_and_readable_facts(tmp_path):
    side = pd.DataFrame({"trait": ["region"] * 2, "level": ["North", "South"],
                         "interaction_estimate": [1.0, 2.0], "subsample_estimate": [1.1, 1.9]})
    balance = pd.DataFrame({"covariate": ["x"], "smd_before": [0.5], "smd_after": [0.02]})
    table = wald_table(["-2", "-1", "0"], np.array([0.1, 0.0, 1.0]), np.eye(3) * 0.01)
    table.loc[1, ["std_error", "lower", "upper"]] = np.nan  # the reference period
    events = _att("es", "ATT_event", None, None, table=table)
    results = {
        "het": [_att("heterogeneity", "ATT_by_region", ["North", "South"], [1.0, 2.0],
                     parts=[P.Table("heterogeneity", side)]),
                _att("heterogeneity", "ATT_subsample_region", ["North", "South"], [1.1, 1.9])],
        "psm": [_att("psm_did", "ATT", ["overall"], [1.2], parts=[P.Table("balance", balance)])],
        "es": [events],
        "pl": [_att("placebo", "ATT", ["overall"], [1.0],
                    parts=[P.Distribution("placebo", np.linspace(-1, 1, 50), 1.0, 0.2)]),
               _att("placebo", "ATT_by_region", ["North", "South"], [1.0, 2.0],
                    parts=[P.Distribution("placebo", [[0.1, 0.0]], [1.0, 2.0], [0.3, 0.4],
                                          labels=["North", "South"])])],
    }
    write_report(tmp_path, _inputs(results))
    html = unescape((tmp_path / "report.html").read_text(encoding="utf-8"))

    def section(sid):
        start = html.index(f'<section id="{sid}">')
        return html[start:html.index("</section>", start)]

    het = section("heterogeneity")
    assert "ATT_subsample_region" in het and "Interaction and subsample estimates (het" in het
    assert "subsample_estimate" in het
    assert "Covariate balance before and after matching (psm)" in section("balance")
    comparison = section("comparison")
    assert "0 (reference)" in comparison and "nan" not in comparison
    assert html.count('<figure id="fig-placebo-') == 1  # the per-level table is not drawn
    provenance = section("provenance")
    assert 'class="data facts"' in provenance and "text-align: left" in provenance
