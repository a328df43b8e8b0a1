"""Reports: comparison flags, publication tables, posterior diagnostics and the full HTML."""

from __future__ import annotations

import re
from html import unescape

import numpy as np
import pandas as pd
import pytest

import report_inputs as RI
from bayescity.reports import comparison_table, load_run, save_inputs, write_report
from bayescity.reports.posterior import (DIAGNOSTICS_COLUMNS, breach_mask, breach_sentences,
                                         sampler_sentences)
from bayescity.reports.publication import publication_frame, to_latex, to_markdown
from bayescity.results import EffectResult, compare


def _att(method: str, paradigm: str, est: float, lo: float, hi: float, p=np.nan, pp=np.nan,
         estimand: str = "ATT", term: str = "overall") -> EffectResult:
    table = pd.DataFrame({"term": [term], "estimate": [est], "std_error": [(hi - lo) / 4],
                          "lower": [lo], "upper": [hi], "p_value": [p], "prob_positive": [pp]})
    return EffectResult(method, paradigm, estimand, table, 100, n_clusters=10,
                        interval_kind="equal_tailed" if paradigm == "bayesian" else "t_CRV1")


def test_comparison_flags_disjoint_intervals_and_sign_flips():
    results = {"a": [_att("twfe", "frequentist", 1.0, 0.8, 1.2)],
               "b": [_att("hdid", "bayesian", 1.1, 0.9, 1.3)],
               "c": [_att("dml", "ml", -0.5, -0.9, -0.1)]}
    comp = comparison_table(compare(results))
    row = comp.iloc[0]
    assert row["a:frequentist:estimate"] == 1.0 and row["b:bayesian:upper"] == 1.3
    assert row["c:ml:lower"] == -0.9 and row["n_methods"] == 3
    assert row["intervals_disjoint"] and row["sign_flip"]
    assert "a vs c" in row["flags"] and "b vs c" in row["flags"] and "a vs b" not in row["flags"]
    agree = comparison_table(compare({k: v for k, v in results.items() if k != "c"})).iloc[0]
    assert not agree["intervals_disjoint"] and not agree["sign_flip"] and agree["flags"] == ""


def test_comparison_rows_follow_estimands_and_sort_event_times():
    freq, bayes = RI.frequentist(), RI.bayesian(np.random.default_rng(1))
    comp = comparison_table(compare({"twfe": freq, "bayes": bayes}))
    events = comp.loc[comp["estimand"] == "ATT_event", "term"].astype(int).tolist()
    assert events == sorted(events) and -3 in events and 2 in events
    assert list(dict.fromkeys(comp["estimand"])) == ["ATT", "ATT_by_region", "ATT_event"]
    # an estimator without a term leaves it empty, never invented
    assert np.isnan(comp.loc[comp["term"] == "-3", "bayes:bayesian:estimate"]).all()


def test_publication_table_stars_intervals_and_posterior_probability():
    results = {"twfe": [_att("twfe", "frequentist", 1.0, 0.8, 1.2, p=0.004),
                        _att("twfe", "frequentist", 0.2, -0.1, 0.5, p=0.07,
                             estimand="ATT_by_region", term="North")],
               "hdid_region": [_att("hdid", "bayesian", 1.1, 0.9, 1.3, pp=0.993)]}
    frame = publication_frame(compare(results))
    assert frame.columns.tolist() == ["(1) twfe", "(2) hdid_region"]
    assert frame.loc["ATT", "(1) twfe"] == "1.000***"
    assert frame.loc["region = North", "(1) twfe"] == "0.200*"
    assert frame.loc["ATT", "(2) hdid_region"] == "1.100"  # no stars on a posterior
    assert frame.loc["ATT P(>0)", "(2) hdid_region"] == "0.99"
    assert frame.loc["ATT interval", "(1) twfe"] == "[0.800, 1.200]"
    assert frame.loc["Observations", "(1) twfe"] == "100" and frame.loc["Clusters", "(1) twfe"] == "10"
    tex, md = to_latex(frame, "Main results"), to_markdown(frame, "Main results")
    assert r"hdid\_region" in tex and r"1.000$^{***}$" in tex and r"\midrule" in tex
    assert tex.count(r"\\") == len(frame) + 1
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    assert {ln.count("|") for ln in lines} == {len(frame.columns) + 2}


def test_breach_cells_follow_the_diagnostics_tables_own_gates():
    """The report marks what bayescity.diagnostics flagged, on the table it produces."""
    import arviz as az

    from bayescity.diagnostics import diagnose

    rng = np.random.default_rng(0)
    draws = rng.normal(size=(2, 300, 2))
    draws[1, :, 1] += 1.0  # the chains disagree on South
    div = np.zeros((2, 300), bool)
    div[0, :3] = True
    idata = az.from_dict(posterior={"tau": draws, "sigma": np.abs(rng.normal(1, .1, (2, 300)))},
                         sample_stats={"diverging": div}, coords={"region": ["North", "South"]},
                         dims={"tau": ["region"]})
    table = diagnose(idata, reported=["tau"]).table
    assert list(table.columns) == list(DIAGNOSTICS_COLUMNS)
    mask = breach_mask(table)
    south = table.index[table["parameter"] == "tau[South]"][0]
    assert mask.loc[south, "rhat"] and mask.loc[south, "breach"]
    assert not mask.loc[table["parameter"] == "tau[North]"].any(axis=None)
    assert not mask["parameter"].any() and not mask["variable"].any()
    sentences = breach_sentences(table)
    assert any(s.startswith("sampler diagnostics: R-hat") and "tau[South]" in s
               for s in sentences)
    assert sampler_sentences(idata) == [
        "sampler diagnostics: 3 divergent transitions in 600 draws; the posterior may be biased "
        "(reparameterise or raise target_accept)"]


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    inputs = RI.build(tmp)
    run = tmp / "run"
    run.mkdir()
    comparison = write_report(run, inputs)
    return inputs, run, comparison


def test_full_report_shows_every_section_figure_and_breach(full_report):
    inputs, run, comparison = full_report
    html = (run / "report.html").read_text(encoding="utf-8")
    for section in ("verdict", "data", "comparison", "effects", "robustness", "posterior-bayes",
                    "heterogeneity-ml", "mechanisms", "heterogeneity", "tests", "notes",
                    "provenance"):
        assert f'<section id="{section}">' in html, section
    for fig in RI.FIGURES:
        assert f'<figure id="{fig}">' in html, fig
    assert html.count('src="data:image/png;base64,') == len(RI.FIGURES)
    start = html.index('id="warnings"')
    assert "bayes: " + RI.BREACH in unescape(html[start:html.index("</section>", start)])
    # the breached cell is styled red, the clean one is not
    rhat = list(RI.DIAGNOSTICS.columns).index("rhat")
    assert re.search(rf"#T_diagnostics_bayes_row1_col{rhat}[^{{]*\{{[^}}]*#b00020", html)
    assert not re.search(rf"#T_diagnostics_bayes_row0_col{rhat}[^{{]*\{{[^}}]*#b00020", html)
    # ESS of a model parameter is listed, not gated: the estimator did not flag it
    assert not re.search(rf"#T_diagnostics_bayes_row2_col{rhat + 1}[^{{]*\{{[^}}]*#b00020", html)
    assert "region == South" in html and "ATT_on_rd_share" in html
    assert "(randomization p = 0.004)" in html  # the placebo's test of kind randomization
    assert not re.search(r"""(src|href)=["']https?:""", html)  # nothing fetched from a network
    assert (run / "comparison.csv").exists() and len(pd.read_csv(run / "comparison.csv")) == len(
        comparison)
    assert "causal" in (run / "tables" / "main_results.md").read_text() or \
        "forest" in (run / "tables" / "main_results.md").read_text()


def test_missing_or_changed_posterior_is_reported_not_fatal(full_report, tmp_path):
    inputs, _, _ = full_report
    nc = inputs.fit("bayes").posterior
    changed = tmp_path / "changed.nc"
    changed.write_bytes(open(nc, "rb").read()[:-10] + b"0123456789")
    bad = type(inputs)(**{**inputs.__dict__, "fits": [
        f if f.id != "bayes" else type(f)(**{**f.__dict__, "posterior": str(changed)})
        for f in inputs.fits]})
    write_report(tmp_path, bad)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "has changed since the run" in html
    assert 'id="fig-rank-bayes"' not in html and "bayes: " + RI.BREACH in unescape(html)


def test_run_folder_roundtrip_rerenders_the_same_tables(full_report, tmp_path):
    inputs, run, comparison = full_report
    folder = tmp_path / "r"
    folder.mkdir()
    save_inputs(folder, inputs)
    (folder / "config.lock.yaml").write_text("run_id: x\nconfig: {name: toy_study}\n")
    back = load_run(folder)
    assert list(back.results) == list(inputs.results)
    for k in inputs.results:
        for a, b in zip(inputs.results[k], back.results[k]):
            pd.testing.assert_frame_equal(a.table, b.table)
    again = write_report(folder, back)
    pd.testing.assert_frame_equal(again, comparison)
