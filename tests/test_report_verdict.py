"""The verdict paragraphs, written from constructed results where methods agree and where they
do not, and the robustness checks shown as checks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bayescity.reports import checks_frame, comparison_table, split_long
from bayescity.reports.verdict import estimator_settings, reason, verdict
from bayescity.results import EffectResult, compare
from bayescity.results import TestResult as _TR
from bayescity.results import parts as P
from bayescity.results.effect import wald_table


def _fit(method: str, estimand: str, terms, values, se, n_treated=40, parts=(), tests=()):
    table = wald_table(list(terms), np.asarray(values, float), np.diag(np.square(se)))
    table["n_treated"] = n_treated
    return EffectResult(method, "frequentist", estimand, table, 500, interval_kind="t_CRV1",
                        tests=tuple(tests), parts=list(parts))


def _settings(**kw):
    return P.Facts("settings", kw)


CS = _settings(control_group="not_yet_treated", covariates_used=["ln_pop"])
TW = _settings(covariates_used=["ln_pop", "x"])


def _paragraphs(results, truth=None):
    long, _ = split_long(compare(results), results)
    comparison = comparison_table(long)
    tests = pd.concat([r.tests_frame().assign(estimator=k) for k, rs in results.items()
                       for r in rs], ignore_index=True)
    return {p.family: p.text for p in verdict(long, comparison, estimator_settings(results, {}),
                                              tests, checks_frame(results), truth)}, comparison


def test_verdict_when_methods_agree():
    results = {"twfe": [_fit("twfe", "ATT", ["overall"], [1.0], [0.15], parts=[TW])],
               "cs": [_fit("callaway_santanna", "ATT", ["overall"], [1.1], [0.2], parts=[CS])]}
    truth = pd.DataFrame({"estimand": ["ATT"], "term": ["overall"], "truth": [1.05]})
    text, comparison = _paragraphs(results, truth)
    assert not comparison["disagree"].any()
    assert "from 1 (twfe) to 1.1 (cs) (all positive); 2 of 2 intervals exclude 0" in text["overall"]
    assert "within what the intervals explain" in text["overall"]
    assert "true value is 1.05: 2 of 2 intervals cover it" in text["overall"]
    assert "no robustness checks" in text["robustness"]


def test_verdict_names_a_disagreement_and_its_likeliest_reason():
    mech = {"twfe_m": [_fit("mechanisms", "ATT_on_patents", ["overall"], [-1.63], [1.2],
                            parts=[_settings(estimator="twfe", covariates_used=["x"])])],
            "cs_m": [_fit("mechanisms", "ATT_on_patents", ["overall"], [5.62], [1.7],
                          parts=[_settings(estimator="callaway_santanna", covariates_used=[],
                                           control_group="not_yet_treated")])]}
    text, comparison = _paragraphs(mech)
    row = comparison.iloc[0]
    assert row["disagree"] and row["intervals_disjoint"] and not row["sign_flip"]
    assert "disagree beyond their intervals (twfe_m vs cs_m" in text["mechanisms"]
    assert "estimand weights" in text["mechanisms"] and "control group" in text["mechanisms"]
    assert "covariates (x vs none)" in text["mechanisms"]


def test_no_flag_on_one_unit_terms_leads_or_overlapping_noise():
    results = {
        "a": [_fit("twfe", "ATT_event", ["-3", "0", "12"], [0.3, 1.0, 4.0], [0.05, 0.1, 0.1],
                   n_treated=[40, 40, 1])],
        "b": [_fit("callaway_santanna", "ATT_event", ["-3", "0", "12"], [-0.3, 1.1, -4.0],
                   [0.05, 0.1, 0.1], n_treated=[40, 40, 1])]}
    comparison = comparison_table(compare(results)).set_index("term")
    assert not comparison["disagree"].any()  # lead -3, e = 0 within noise, e = 12 one unit
    assert comparison.loc["12", "min_treated"] == 1
    text, _ = _paragraphs(results)
    assert "Event times [12] rest on one treated unit" in text["dynamics"]


def test_checks_leave_the_effects_and_are_read_as_checks():
    draws = np.r_[np.linspace(-0.3, 0.3, 99)]
    check = P.Facts("check", {"kind": "randomization", "expects": "the policy's effect"})
    placebo = _fit("placebo", "ATT", ["overall"], [1.0], [0.1],
                   parts=[P.Distribution("placebo", draws, 1.0, 0.01), check])
    placebo = placebo.replace(table=placebo.table.assign(p_value=0.01))
    outcome = _fit("placebo", "ATT_placebo_outcome", ["overall"], [0.5], [0.1],
                   parts=[P.Facts("check", {"kind": "placebo_outcome", "expects": "no effect"})])
    honest = _fit("honest_did", "ATT_sensitivity", ["Mbar=0", "Mbar=0.5"], [0.4, 0.4],
                  [0.1, 0.3], parts=[P.Facts("check", {"kind": "sensitivity", "expects": "x"}),
                                     _settings(original_ci=[0.2, 0.6])],
                  tests=[_TR("HonestDiD breakdown value", 0.5, 2, np.nan, "breakdown")])
    results = {"twfe": [_fit("twfe", "ATT", ["overall"], [1.0], [0.1])],
               "pl": [placebo], "po": [outcome], "hd": [honest]}
    effects, checks = split_long(compare(results), results)
    assert set(effects["estimator"]) == {"twfe"} and len(checks) == 4
    frame = checks_frame(results).set_index("estimator")
    assert frame.loc["pl", "reading"].startswith("p = 0.010: the estimate lies in the tail")
    assert "fails" in frame.loc["po", "reading"]
    assert frame.loc["hd", "breakdown"] == 0.5
    assert frame.loc["hd", "reading"].startswith("breakdown value Mbar = 0.5: the conclusion")
    text, comparison = _paragraphs(results)
    assert comparison.iloc[0]["n_methods"] == 1  # the placebo's ATT is not an effect row
    assert text["robustness"].startswith("1 check raises doubts.")
    assert "po (placebo outcome): an effect where none is expected" in text["robustness"]


def test_reason_reads_settings():
    assert reason({"method": "twfe"}, {"method": "callaway_santanna",
                                       "control_group": "never_treated"}).startswith(
        "estimand weights")
    assert reason({"method": "dml"}, {"method": "dml"}) == \
        "estimation method (same sample and controls)"
