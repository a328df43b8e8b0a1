"""The sections of ``report.html``, built from a run's :class:`ReportInputs`.

Each section is plain data (titles, tables rendered from DataFrames, figures, text) that the
Jinja2 template lays out. What appears follows the results alone: estimands (``ATT_event``,
``CATE``, ``ATT_on_<mediator>``, ``ATT_by_<trait>``, ``ATT_subsample_<trait>``, ``BLP``),
paradigms, the results' typed parts (each rendered by its type, in the section its declaration
names: :mod:`bayescity.results.parts`, :mod:`.parts`) and messages, and the derived columns'
distribution when the run built its outcome (``inputs.tfp``).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..results import messages
from ..results.effect import EffectResult
from ..results.parts import DECLARED
from . import figures as F
from . import overview as O
from . import posterior as P
from . import referee_figures as RF
from . import referee_figures_b as RB
from . import tfp as T
from .agreement import agreement_of, legend
from .blocks import RED, Block, Section, table_block
from .cache import FigureMaker, content_key
from .fonts import figure_fonts
from .inputs import ReportInputs
from .parts import distinct_parts, label, render_part, section_blocks

LONG_COLUMNS = ["estimator", "paradigm", "estimand", "term", "estimate", "std_error", "lower",
                "upper", "interval_kind", "p_value", "prob_positive"]

def summary_section(inputs: ReportInputs, figs: FigureMaker) -> Section:
    p = inputs.panel
    facts = pd.DataFrame({"value": [
        p.get("source"), p.get("n_obs"), p.get("n_units"),
        f"{p.get('n_periods')} ({p.get('first_period')}-{p.get('last_period')})",
        "yes" if p.get("balanced") else "no", p.get("outcome"),
        ", ".join(p.get("covariates") or []) or "-", p.get("n_never_treated"),
        ", ".join(f"{g}: {n}" for g, n in (p.get("cohorts") or {}).items())]},
        index=["source", "observations", "units", "periods", "balanced", "outcome",
               "covariates", "never treated", "cohorts (first period: units)"]).astype(str)
    blocks = [table_block(facts, "panel-summary", index=True, facts=True)]
    blocks += [Block("list", [f"note: {n}" for n in p.get("notes") or []])] if p.get("notes") else []
    blocks.append(Block("figure", figs(F.adoption_timeline, inputs.units, int(p["first_period"]),
                                       int(p["last_period"]))))
    return Section("data", "Data", blocks + O.trends_blocks(inputs, figs))


def tfp_section(inputs: ReportInputs, figs: FigureMaker) -> list[Section]:
    """Each derived column's distribution by period, overall and per trait level."""
    summary = inputs.tfp
    if summary is None or summary.empty:
        return []
    blocks = []
    for column in dict.fromkeys(summary["column"]):
        blocks.append(Block("figure", figs(T.tfp_figure, summary, column)))
        blocks.append(table_block(T.tfp_table(summary, column), f"tfp-{column}",
                                  f"{column}: quartiles over all units and median by level"))
    return [Section("tfp", "Derived columns by period and region", blocks,
                    "The columns the run built from raw inputs (data: derive:), before "
                    "estimation; the full distribution (mean, geometric mean, deciles) per "
                    "level is in tfp_summary.csv.")]


def analysis_sections(inputs: ReportInputs, long: pd.DataFrame,
                      figs: FigureMaker) -> list[Section]:
    """Mechanisms, heterogeneity, matching balance, codings and sensitivity: the rows of their
    estimands and the parts the analyses declare for those sections."""
    estimand = long["estimand"]
    rows = {"mechanisms": estimand.str.startswith("ATT_on_"),
            "heterogeneity": estimand.str.startswith(("ATT_by_", "ATT_subsample_"))
            | (estimand == "BLP")}
    titles = {"mechanisms": "Mechanisms", "heterogeneity": "Heterogeneity",
              "balance": "Matching balance (PSM-DID)", "codings": "Alternative codings",
              "sensitivity": "Sensitivity to parallel-trends violations (HonestDiD)",
              "cells": "Second-stage overall numbers",
              "referee": "Decompositions, synthetic controls and other referee checks"}
    sections = []
    for section_id, title in titles.items():
        blocks = [*rows_blocks(long, section_id, rows.get(section_id)),
                  *section_blocks(inputs.results, section_id, figs, skip=O.DRAWN)]
        if section_id == "heterogeneity":
            blocks = [*agreement_blocks(inputs), *blocks]
        if section_id == "referee":
            blocks = [*referee_figures(inputs, figs), *bacon_blocks(inputs, figs), *blocks]
        if blocks:
            sections.append(Section(section_id, title, blocks))
    return sections


def agreement_blocks(inputs: ReportInputs) -> list[Block]:
    """Whether the methods agree on the drivers of the effect: the sentences and the table
    (:mod:`.agreement`); none with fewer than two driver rankings."""
    agreement = agreement_of(inputs)
    if agreement is None:
        return []
    return [Block("verdict", [("Driver agreement", agreement.text)]),
            table_block(agreement.table, "agreement-table", "Driver agreement across methods"),
            Block("text", legend(agreement))]


def referee_figures(inputs: ReportInputs, figs: FigureMaker) -> list[Block]:
    """Each estimator's figures of synthetic DID, synthetic control, pre-trend power and
    spillovers, drawn from the parts they show (:data:`.referee_figures_b.FIGURES`)."""
    blocks = []
    for est_id, results in inputs.results.items():
        for name in RB.FIGURES:
            for r, part in distinct_parts(results, name):
                anchor = f"fig-{name}-{est_id}-{r.estimand}".replace("_", "-")
                blocks.append(Block("figure", figs(RB.part_figure, name, part.frame, anchor,
                                                   label(est_id, r.estimand))))
    return blocks


def bacon_blocks(inputs: ReportInputs, figs: FigureMaker) -> list[Block]:
    """The Goodman-Bacon plot of each result whose ``comparisons`` part decomposes one TWFE
    coefficient (tables split by trait level are left to their table)."""
    blocks = []
    for est_id, results in inputs.results.items():
        for r, part in distinct_parts(results, "comparisons"):
            frame = part.frame
            if "level" not in frame.columns:
                blocks.append(Block("figure", figs(
                    RF.bacon_figure, frame, r.facts("decomposition").get("twfe"),
                    f"fig-bacon-{est_id}", f"Goodman-Bacon decomposition: {est_id}")))
    return blocks


def settings_section(inputs: ReportInputs, figs: FigureMaker) -> list[Section]:
    """Each estimator's settings (covariates used and dropped, inference, seeds)."""
    blocks = section_blocks(inputs.results, "settings", figs)
    return [Section("settings", "Settings of each estimator", blocks,
                    "What each fit used: covariates, variance estimator, inference, sample "
                    "facts.")] if blocks else []


def bayes_sections(inputs: ReportInputs, figs: FigureMaker) -> tuple[list[Section], list[str]]:
    """One section per Bayesian fit, and the warning sentences for the top of the report."""
    sections, warnings = [], []
    for est_id, results in inputs.results.items():
        if not any(r.paradigm == "bayesian" for r in results):
            continue
        section, found = _bayes_section(inputs, est_id, results, figs)
        sections.append(section)
        warnings += [f"{est_id}: {w}" for w in dict.fromkeys(found)]
    return sections, warnings


def _first_part(results: list[EffectResult], name: str):
    """The part ``name`` of an estimator's overall result (else of its first result with one)."""
    ordered = sorted(results, key=lambda r: r.estimand != "ATT")
    return next((r.part(name) for r in ordered if r.part(name) is not None), None)


def _bayes_section(inputs: ReportInputs, est_id: str, results: list[EffectResult],
                   figs: FigureMaker) -> tuple[Section, list[str]]:
    own = _first_part(results, "diagnostics")
    given = None if own is None else own.frame
    digest, problem = _posterior_digest(inputs, est_id, given, [r.estimand for r in results],
                                        figs)
    table = given if given is not None and not given.empty else digest.table
    sampler = _first_part(results, "sampler")
    if given is not None and not given.empty:  # the estimator's own table and sampler facts
        found = [*P.facts_sentences({} if sampler is None else sampler.values),
                 *P.breach_sentences(given)]
    else:
        found = [*digest.sentences, *(P.breach_sentences(table) if table is not None else [])]
    blocks = [Block("list", [problem])] if problem else []
    if table is not None and not table.empty:
        mask = P.breach_mask(table)
        styler = table.style.apply(lambda _: mask.replace({True: RED, False: ""}), axis=None)
        blocks.append(table_block(table, f"diagnostics-{est_id}",
                                  DECLARED["diagnostics"].title, styler=styler))
    facts = P.sampler_facts(digest.facts, None if sampler is None else sampler.values)
    if not facts.empty:
        bad = [i == "divergences" and v != "0" for i, v in zip(facts.index, facts["value"])]
        styler = facts.style.apply(lambda col: [RED if b else "" for b in bad], axis=0)
        blocks.append(table_block(facts, f"sampler-{est_id}", "Sampler", index=True,
                                  styler=styler))
    model = _first_part(results, "model")
    if model is not None:
        blocks.append(render_part(model, f"model-{est_id}", DECLARED["model"].title, figs))
    blocks += [Block("figure", f) for f in digest.figures]
    if digest.skipped:
        blocks.append(Block("text", "Not plotted: " + "; ".join(digest.skipped)))
    blocks += section_blocks({est_id: results}, "model_checks", figs)
    return Section(f"posterior-{est_id}", f"Posterior: {est_id}", blocks), found


def _posterior_digest(inputs: ReportInputs, est_id: str, given: Any, reported: list[str],
                      figs: FigureMaker) -> tuple[P.PosteriorDigest, str]:
    """The figures and facts of a fit's stored posterior, from the figure cache when its
    checksum, the estimator id and the table given are those drawn before."""
    record, path = inputs.fit(est_id), inputs.posterior_file(est_id)
    problem = P.posterior_problem(path, record.posterior_sha256)
    if problem:
        return P.PosteriorDigest(), problem
    key = None
    if record.posterior_sha256:
        key = content_key("posterior-digest", record.posterior_sha256, est_id, reported,
                          given is None or (isinstance(given, pd.DataFrame) and given.empty),
                          float(inputs.results[est_id][0].interval_prob))
        payload = figs.lookup(key)
        if payload is not None:
            try:
                digest = P.PosteriorDigest.from_payload(payload)
                figs.hits += 1
                return digest, ""
            except (ValueError, KeyError, TypeError):
                pass
    idata, problem = P.open_posterior(path, record.posterior_sha256, inputs.results[est_id])
    if idata is None:
        return P.PosteriorDigest(), problem
    figs.misses += 1
    prob = float(inputs.results[est_id][0].interval_prob)
    with figure_fonts():
        digest = P.digest_posterior(idata, est_id, given, reported, prob)
    if key is not None:
        figs.store(key, digest.to_payload())
    return digest, ""


def ml_sections(inputs: ReportInputs, long: pd.DataFrame, figs: FigureMaker) -> list[Section]:
    """CATE distribution, then each fit's drivers chart and the parts declared for the ML
    section (drivers table, CATE tree, projection facts, per-unit scores)."""
    blocks = []
    cate = figs(F.cate_distribution, O.plotted(long))
    if cate is not None:
        blocks.append(Block("figure", cate))
    for est_id, results in inputs.results.items():
        for _, drivers in distinct_parts(results, "drivers")[:1]:
            chart = figs(F.drivers_chart, drivers.frame, est_id)
            blocks += [Block("figure", chart)] if chart is not None else []
    blocks += section_blocks(inputs.results, "ml", figs)
    return [Section("heterogeneity-ml", "Heterogeneous effects (ML)", blocks)] if blocks else []


def rows_blocks(long: pd.DataFrame, section_id: str, keep: pd.Series | None) -> list[Block]:
    """The long-table rows ``keep`` selects, as one table (none when nothing is selected)."""
    if keep is None:
        return []
    rows = long.loc[keep, [c for c in LONG_COLUMNS if c in long.columns]]
    return [] if rows.empty else [table_block(rows, f"{section_id}-table")]


def tests_and_notes(inputs: ReportInputs) -> list[Section]:
    """The tests table, and the run's warnings (marked, first) and notes, each distinct
    sentence once after the estimators reporting it."""
    tests = pd.concat([r.tests_frame().assign(estimator=k) for k, rs in inputs.results.items()
                       for r in rs], ignore_index=True)
    sections = []
    if not tests.empty:
        cols = ["estimator", *[c for c in tests.columns if c != "estimator"]]
        sections.append(Section("tests", "Tests", [table_block(tests[cols], "tests-table")]))
    warned = messages.lines(messages.run_warnings(inputs.results))
    noted = messages.lines(messages.run_notes(inputs.results))
    blocks = ([Block("warnings", warned)] if warned else []) + ([Block("list", noted)]
                                                                if noted else [])
    if blocks:
        title = "Warnings and notes" if warned else "Notes"
        sections.append(Section("notes", title, blocks,
                                "Warnings: problems to act on, or reasons to distrust a number. "
                                "Notes: how the numbers were made." if warned else ""))
    return sections


def warning_count(inputs: ReportInputs) -> int:
    """How many distinct warnings the run's results report."""
    return len(messages.run_warnings(inputs.results))


def provenance_section(inputs: ReportInputs) -> Section:
    lock = inputs.lock
    facts = {"run": inputs.run_id, "seed": lock.get("seed"), "smoke run": lock.get("smoke"),
             "estimators run": ", ".join(inputs.results),
             "stored fits reused": ", ".join(lock.get("stored_fits_used") or []) or "none",
             "data hash": lock.get("data_hash"),
             **{f"version: {k}": v for k, v in (lock.get("packages") or {}).items()}}
    table = pd.DataFrame({"value": [str(v) for v in facts.values()]}, index=list(facts))
    return Section("provenance", "Provenance",
                   [table_block(table, "provenance-table", index=True, facts=True)],
                   "The resolved config: config.lock.yaml.")


def build_sections(inputs: ReportInputs, comparison: pd.DataFrame, long: pd.DataFrame,
                   figs: FigureMaker | None = None) -> tuple[list[Section], list[str]]:
    """Every section in reading order, and the warnings for the top of the report; figures
    are drawn through ``figs`` (its cache, when it has one)."""
    figs = figs or FigureMaker()
    bayes, warnings = bayes_sections(inputs, figs)
    sections = [O.verdict_section(inputs, comparison, long), summary_section(inputs, figs),
                *tfp_section(inputs, figs), O.comparison_section(comparison, long, inputs),
                O.effect_figures(inputs, long, figs), *O.robustness_section(inputs, figs),
                *bayes, *ml_sections(inputs, long, figs),
                *analysis_sections(inputs, long, figs), *settings_section(inputs, figs),
                *tests_and_notes(inputs), provenance_section(inputs)]
    return [s for s in sections if s.blocks], warnings
