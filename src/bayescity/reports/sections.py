"""The sections of ``report.html``, built from a run's :class:`ReportInputs`.

Each section is plain data (titles, tables rendered from DataFrames, figures, text) that the
Jinja2 template lays out. What appears follows the results alone: estimands (``ATT_event``,
``CATE``, ``ATT_on_<mediator>``, ``ATT_by_<trait>``, ``BLP``), paradigms and the well-known
``info`` keys (``diagnostics``, ``sampler``, ``posterior_path``, ``drivers``, ``cate_tree``,
``placebo_distribution``, ``notes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import pandas as pd

from ..results.effect import EffectResult
from . import figures as F
from . import posterior as P
from .comparison import column_name, estimator_columns
from .inputs import ReportInputs

_RED = "color: #b00020; font-weight: bold; background-color: #fde0e0"
LONG_COLUMNS = ["estimator", "paradigm", "estimand", "term", "estimate", "std_error", "lower",
                "upper", "interval_kind", "p_value", "prob_positive"]


@dataclass
class Block:
    """One item of a section: ``kind`` is table (HTML), figure, pre, list or text; ``anchor``
    is the element id of a table."""

    kind: str
    content: Any
    title: str = ""
    anchor: str = ""


@dataclass
class Section:
    id: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str = ""


def table_block(df: pd.DataFrame, table_id: str, title: str = "", *, index: bool = False,
                styler=None) -> Block:
    """A DataFrame as an HTML table (pandas Styler), numbers to 3 decimals."""
    styler = styler if styler is not None else df.style
    styler = styler.format(precision=3, na_rep="").set_table_attributes('class="data"')
    if not index:
        styler = styler.hide(axis="index")
    return Block("table", styler.to_html(table_uuid=table_id.replace("-", "_")), title, table_id)



def summary_section(inputs: ReportInputs) -> Section:
    p = inputs.panel
    facts = pd.DataFrame({"value": [
        p.get("source"), p.get("n_obs"), p.get("n_units"),
        f"{p.get('n_periods')} ({p.get('first_period')}-{p.get('last_period')})",
        "yes" if p.get("balanced") else "no", p.get("outcome"),
        ", ".join(p.get("covariates") or []) or "-", p.get("n_never_treated"),
        ", ".join(f"{g}: {n}" for g, n in (p.get("cohorts") or {}).items())]},
        index=["source", "observations", "units", "periods", "balanced", "outcome",
               "covariates", "never treated", "cohorts (first period: units)"]).astype(str)
    blocks = [table_block(facts, "panel-summary", index=True)]
    blocks += [Block("list", [f"note: {n}" for n in p.get("notes") or []])] if p.get("notes") else []
    blocks.append(Block("figure", F.adoption_timeline(inputs.units, int(p["first_period"]),
                                                      int(p["last_period"]))))
    return Section("data", "Data", blocks)


def comparison_section(comparison: pd.DataFrame) -> Section:
    """Each estimator's estimate and interval in one cell, rows with disagreements marked
    (unit-level ``CATE`` rows are left to comparison.csv and the CATE figure)."""
    n_cate = int((comparison["estimand"] == "CATE").sum())
    comparison = comparison[comparison["estimand"] != "CATE"].reset_index(drop=True)
    shown = comparison[["estimand", "term"]].copy()
    for est_id, paradigm in estimator_columns(comparison):
        est, lo, hi = (comparison[column_name(est_id, paradigm, w)] for w in
                       ("estimate", "lower", "upper"))
        shown[f"{est_id} ({paradigm})"] = [
            "" if e != e else f"{e:.3f} [{a:.3f}, {b:.3f}]" for e, a, b in zip(est, lo, hi)]
    shown["flags"] = comparison["flags"].fillna("")
    flagged = comparison["intervals_disjoint"].fillna(False) | comparison["sign_flip"].fillna(False)
    styler = shown.style.apply(lambda row: ["background-color: #fff3cd" if flagged[row.name]
                                            else "" for _ in row], axis=1)
    intro = ("Each cell: estimate [95% interval]. Highlighted rows: intervals of two methods do "
             "not overlap, or their estimates have opposite signs (see flags). All numbers"
             + (f", with the {n_cate} unit-level CATE rows," if n_cate else "")
             + " in comparison.csv.")
    return Section("comparison", "Comparison across methods",
                   [table_block(shown, "comparison-table", styler=styler)], intro)


def figure_section(long: pd.DataFrame) -> Section:
    figs = [f for f in (F.forest_plot(long), F.event_study_plot(long)) if f is not None]
    return Section("effects", "Effects across methods", [Block("figure", f) for f in figs])


def _info_values(results: Iterable[EffectResult], key: str) -> list[Any]:
    return [r.info[key] for r in results if key in r.info]


def bayes_sections(inputs: ReportInputs) -> tuple[list[Section], list[str]]:
    """One section per Bayesian fit, and the warning sentences for the top of the report."""
    sections, warnings = [], []
    for est_id, results in inputs.results.items():
        if not any(r.paradigm == "bayesian" for r in results):
            continue
        section, found = _bayes_section(inputs, est_id, results)
        sections.append(section)
        warnings += [f"{est_id}: {w}" for w in dict.fromkeys(found)]
    return sections, warnings


def _bayes_section(inputs: ReportInputs, est_id: str, results: list[EffectResult]
                   ) -> tuple[Section, list[str]]:
    record = inputs.fit(est_id)
    idata, problem = P.open_posterior(record.posterior, record.posterior_sha256)
    var_names, skipped = P.plotted_vars(idata) if idata is not None else ([], [])
    given = next(iter(_info_values(results, "diagnostics")), None)
    table = P.diagnostics_table(idata, given, var_names)
    notes = [n for r in results for n in r.info.get("notes", ()) if "sampler diagnostics" in n]
    found = notes or [*P.breach_sentences(table), *P.sampler_sentences(idata)]
    blocks = [Block("list", [problem])] if problem else []
    if not table.empty:
        mask = P.breach_mask(table)
        styler = table.style.apply(lambda _: mask.replace({True: _RED, False: ""}), axis=None)
        blocks.append(table_block(table, f"diagnostics-{est_id}", "R-hat, ESS and breaches",
                                  index=True, styler=styler))
    facts = P.sampler_facts(idata, next(iter(_info_values(results, "sampler")), None))
    if not facts.empty:
        bad = [i == "divergences" and v != "0" for i, v in zip(facts.index, facts["value"])]
        styler = facts.style.apply(lambda col: [_RED if b else "" for b in bad], axis=0)
        blocks.append(table_block(facts, f"sampler-{est_id}", "Sampler", index=True,
                                  styler=styler))
    if idata is not None:
        blocks += [Block("figure", f) for f in P.posterior_figures(idata, est_id, var_names)]
    if skipped:
        blocks.append(Block("text", "Not plotted (too many values): " + ", ".join(skipped)))
    return Section(f"posterior-{est_id}", f"Posterior: {est_id}", blocks), found


def ml_sections(inputs: ReportInputs, long: pd.DataFrame) -> list[Section]:
    """CATE distribution, then each fit's drivers chart, drivers table and CATE tree."""
    blocks = []
    cate = F.cate_distribution(long)
    if cate is not None:
        blocks.append(Block("figure", cate))
    for est_id, results in inputs.results.items():
        for drivers in _info_values(results, "drivers")[:1]:
            chart = F.drivers_chart(drivers, est_id)
            blocks += [Block("figure", chart)] if chart is not None else []
            blocks.append(table_block(drivers, f"drivers-{est_id}", f"Drivers: {est_id}"))
        for tree in _info_values(results, "cate_tree")[:1]:
            blocks.append(Block("pre", str(tree), f"CATE tree: {est_id}"))
    return [Section("heterogeneity-ml", "Heterogeneous effects (ML)", blocks)] if blocks else []


def placebo_section(inputs: ReportInputs) -> list[Section]:
    blocks = []
    for est_id, results in inputs.results.items():
        for r in results:
            if "placebo_distribution" not in r.info:
                continue
            p = next((t.p_value for t in r.tests if "random" in t.name.lower()
                      or "placebo" in t.name.lower()), None)
            estimate = float(r.table["estimate"].iloc[0])
            blocks.append(Block("figure", F.placebo_plot(r.info["placebo_distribution"],
                                                         estimate, est_id, p)))
    return [Section("placebo", "Placebo distributions", blocks)] if blocks else []


def rows_section(long: pd.DataFrame, section_id: str, title: str, keep: pd.Series) -> list[Section]:
    rows = long.loc[keep, [c for c in LONG_COLUMNS if c in long.columns]]
    if rows.empty:
        return []
    return [Section(section_id, title, [table_block(rows, f"{section_id}-table")])]


def tests_and_notes(inputs: ReportInputs) -> list[Section]:
    tests = pd.concat([r.tests_frame().assign(estimator=k) for k, rs in inputs.results.items()
                       for r in rs], ignore_index=True)
    sections = []
    if not tests.empty:
        cols = ["estimator", *[c for c in tests.columns if c != "estimator"]]
        sections.append(Section("tests", "Tests", [table_block(tests[cols], "tests-table")]))
    notes: dict[tuple[str, str], list[str]] = {}
    for k, rs in inputs.results.items():
        for r in rs:
            for n in r.info.get("notes", ()):
                notes.setdefault((k, str(n)), []).append(r.estimand)
    if notes:
        items = [f"{k} ({', '.join(dict.fromkeys(where))}): {n}" for (k, n), where in notes.items()]
        sections.append(Section("notes", "Notes", [Block("list", items)]))
    return sections


def provenance_section(inputs: ReportInputs) -> Section:
    lock = inputs.lock
    facts = {"run": inputs.run_id, "seed": lock.get("seed"), "smoke run": lock.get("smoke"),
             "estimators run": ", ".join(inputs.results),
             "stored fits reused": ", ".join(lock.get("stored_fits_used") or []) or "none",
             "data hash": lock.get("data_hash"),
             **{f"version: {k}": v for k, v in (lock.get("packages") or {}).items()}}
    table = pd.DataFrame({"value": [str(v) for v in facts.values()]}, index=list(facts))
    return Section("provenance", "Provenance", [table_block(table, "provenance-table", index=True)],
                   "The resolved config: config.lock.yaml.")


def build_sections(inputs: ReportInputs, comparison: pd.DataFrame, long: pd.DataFrame
                   ) -> tuple[list[Section], list[str]]:
    """Every section in reading order, and the warnings for the top of the report."""
    estimand = long["estimand"]
    bayes, warnings = bayes_sections(inputs)
    sections = [summary_section(inputs), comparison_section(comparison), figure_section(long),
                *bayes, *ml_sections(inputs, long), *placebo_section(inputs),
                *rows_section(long, "mechanisms", "Mechanisms", estimand.str.startswith("ATT_on_")),
                *rows_section(long, "heterogeneity", "Heterogeneity",
                              estimand.str.startswith("ATT_by_") | (estimand == "BLP")),
                *tests_and_notes(inputs), provenance_section(inputs)]
    return [s for s in sections if s.blocks], warnings
