"""Warnings (problems a user must act on or that make a number less trustworthy) are kept apart
from notes (facts about how the numbers were made): in results, in tables, in the CLI and in
the report."""

from __future__ import annotations

from html import unescape

import numpy as np
import pytest
import pandas as pd
from rich.console import Console

import bayescity as bc
from bayescity.commands.notes import print_messages
from bayescity.reports import FitRecord, ReportInputs, write_report
from bayescity.results import EffectResult
from bayescity.results import parts as P
from bayescity.results.effect import wald_table
from conftest import make_staggered

BREACH = "sampler diagnostics: R-hat 1.04 > 1.01 for tau_level[West]"
COVS = "covariates used: x (the panel's covariates)"


def _result(est: str, notes=(), warnings=(), n_treated=(5, 1),
            estimand: str = "ATT_event") -> EffectResult:
    table = wald_table(["0", "1"], np.array([1.0, 2.0]), np.diag([0.01, 0.04]))
    table["n_treated"] = list(n_treated)
    return EffectResult(est, "frequentist", estimand, table, 100,
                        messages=P.warnings(*warnings) + P.notes(*notes))


def test_results_split_warnings_from_notes_and_tables_show_warnings_first():
    r = _result("cs", notes=(COVS,), warnings=("cohort 2008 rests on one unit", BREACH))
    assert r.notes == (COVS,)
    assert r.warnings == ("cohort 2008 rests on one unit", BREACH)
    with pytest.raises(ValueError, match="severity"):
        P.Message(BREACH, "info")
    first, thin = bc.compare({"cs": [r]})["note"]
    assert first == f"warning: cohort 2008 rests on one unit; warning: {BREACH}; {COVS}"
    assert thin == f"warning: rests on 1 treated unit; {first}"
    plain = _result("twfe", notes=(COVS,), n_treated=(5, 5))
    assert plain.warnings == () and bc.compare([plain])["note"].tolist() == [COVS, COVS]


def test_the_cli_prints_notes_dim_once_then_warnings():
    results = {"a": [_result("twfe", notes=(COVS,), n_treated=(5, 5))],
               "b": [_result("twfe", notes=(COVS,), n_treated=(5, 5))],
               "bayes": [_result("hdid", notes=(COVS,), warnings=(BREACH,))]}
    console = Console(width=300, record=True, color_system="truecolor")
    print_messages(console, ["treatment column 'd' looks like a group indicator"], results)
    lines = console.export_text(clear=False).splitlines()
    assert lines == [
        f"note: a, b, bayes: {COVS}",
        "warning: treatment column 'd' looks like a group indicator",
        f"warning: bayes: {BREACH}",
        "warning: bayes: terms resting on fewer than 2 treated units (n_treated marked !): "
        "ATT_event 1"]
    styled = console.export_text(styles=True)
    assert "\x1b[2m" in styled.splitlines()[0]  # notes are dim


def test_covariates_dropped_by_the_treatment_are_a_warning_redundant_ones_a_note():
    df = make_staggered(seed=1, n_units=30)
    df["z"] = np.random.default_rng(1).normal(size=len(df))
    df["w"] = df["x"] + df["z"]  # spanned by x and z
    df["t2"] = 2.0 * ((df["g"] > 0) & (df["year"] >= df["g"]))  # the treatment itself
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g",
                          covariates=["x", "z", "w", "t2"])
    for method in ("twfe", "event_study", "sun_abraham"):
        att = bc.make_estimator(method).fit(panel).effect("ATT")
        assert att.warnings == ("covariates dropped as collinear with the treatment "
                                "regressors: t2; the estimate does not adjust for them",)
        assert "dropped: w (a combination of the other covariates" in att.notes[0]


def test_units_lost_to_balancing_are_a_warning_in_callaway_santanna():
    df = make_staggered(seed=2, n_units=30)
    df = df.drop(index=df.index[(df["unit"] == "u025") & (df["year"] == 2003)])
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g")
    att = bc.make_estimator("callaway_santanna").fit(panel).effect("ATT")
    assert att.warnings == ("dropped 1 units not observed in every period (balanced panel "
                            "required)",)
    assert not any("dropped 1 units" in n for n in att.notes)


def _inputs(results: dict) -> ReportInputs:
    units = pd.DataFrame({"unit": ["a", "b"], "cohort": [2002, 0]})
    panel = {"source": "toy", "n_obs": 10, "n_units": 2, "n_periods": 5, "first_period": 2000,
             "last_period": 2004, "balanced": True, "outcome": "y", "cohorts": {"2002": 1}}
    return ReportInputs("toy", "run1", results, [FitRecord(k, "twfe") for k in results], panel,
                        units, {"seed": 1})


def test_report_lists_warnings_first_and_marked_and_counts_them_at_the_top(tmp_path):
    results = {"a": [_result("twfe", notes=(COVS,), n_treated=(5, 5))],
               "cs": [_result("cs", notes=(COVS,),
                              warnings=("cohort 2008 rests on one unit", BREACH))]}
    write_report(tmp_path, _inputs(results))
    html = unescape((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "The results carry 3 warnings" in html
    notes = html[html.index('<section id="notes">'):]
    notes = notes[:notes.index("</section>")]
    assert "<h2>Warnings and notes</h2>" in notes
    warned = notes[notes.index('class="warning-list"'):notes.index("</ul>")]
    assert warned.count("<strong>warning:</strong>") == 3
    for sentence in ("cs: cohort 2008 rests on one unit", f"cs: {BREACH}",
                     "cs: terms resting on fewer than 2 treated units"):
        assert sentence in warned
    rest = notes[notes.index("</ul>"):]
    assert f"<li>a, cs: {COVS}</li>" in rest and BREACH not in rest
    clean = tmp_path / "clean"
    clean.mkdir()
    write_report(clean, _inputs({"a": results["a"]}))
    html = (clean / "report.html").read_text(encoding="utf-8")
    assert 'id="run-warnings"' not in html and "<h2>Notes</h2>" in html
