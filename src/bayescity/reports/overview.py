"""The sections a reader meets first: the verdict, the compact comparison of effects (estimand
x method), the publication table, the effect figures and the robustness checks.

The compact comparison shows one estimate per cell (bold when its interval excludes 0, the
interval on hover, flagged disagreements marked); the wide table of every estimate with its
interval sits behind a ``<details>`` toggle, so the report stays one self-contained page that
needs no script.
"""

from __future__ import annotations

from html import escape
import numpy as np
import pandas as pd

from . import effect_figures as E
from . import figures as F
from .blocks import Block, Section, table_block
from .cache import FigureMaker
from .comparison import column_name, estimator_columns
from .inputs import ReportInputs
from .parts import distinct_parts, label
from .publication import publication_frame
from .robustness import checks_frame
from .verdict import estimator_settings, verdict

#: Parts drawn as figures (their tables are in the run folder's CSVs), not shown as tables.
DRAWN = frozenset({"att_gt", "counterfactual"})
PLOT_COLUMNS = ["estimator", "paradigm", "estimand", "term", "estimate", "lower", "upper",
                "interval_prob", "interval_kind", "n_treated"]


def plotted(long: pd.DataFrame) -> pd.DataFrame:
    """The results columns figures are drawn from (so cache keys ignore the rest)."""
    return long[[c for c in PLOT_COLUMNS if c in long.columns]].reset_index(drop=True)


def run_tests(inputs: ReportInputs) -> pd.DataFrame:
    frames = [r.tests_frame().assign(estimator=k) for k, rs in inputs.results.items()
              for r in rs]
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["estimator", "name", "p_value"])


def verdict_section(inputs: ReportInputs, comparison: pd.DataFrame,
                    long: pd.DataFrame) -> Section:
    settings = estimator_settings(inputs.results, inputs.lock.get("resolved_params"))
    paragraphs = verdict(long, comparison, settings, run_tests(inputs),
                         checks_frame(inputs.results), inputs.truth)
    blocks = [Block("verdict", [(p.title, p.text) for p in paragraphs])]
    return Section("verdict", "Verdict", blocks,
                   "Written from the numbers below: where the methods agree, where they "
                   "disagree beyond their intervals and why, and what the robustness checks "
                   "say.")


def _reference(estimand: str, est: float, lo: float) -> bool:
    """An event study's reference period: 0 by normalisation, no interval."""
    return estimand == "ATT_event" and est == 0 and lo != lo


def _cell(est: float, lo: float, hi: float, flagged: bool, estimand: str) -> str:
    if est != est:
        return "<td></td>"
    interval = f"[{lo:.3f}, {hi:.3f}]" if lo == lo and hi == hi else "no interval"
    text = "0 (ref.)" if _reference(estimand, est, lo) else f"{est:.3f}"
    if lo == lo and hi == hi and (lo > 0 or hi < 0):
        text = f"<b>{text}</b>"
    cls = ' class="flag"' if flagged else ""
    return f'<td{cls} title="{escape(interval)}">{text}</td>'


def compact_html(comparison: pd.DataFrame) -> str:
    """The estimand x method matrix as an HTML table (id ``comparison-table``)."""
    ids = estimator_columns(comparison)
    head = "".join(f'<th class="rot"><div>{escape(i)}</div></th>' for i, _ in ids)
    lines = ['<table class="data matrix" id="comparison-table"><thead><tr><th>estimand</th>'
             f"<th>term</th>{head}</tr></thead><tbody>"]
    previous = None
    for _, r in comparison.iterrows():
        flags = str(r.get("flags") or "")
        cells = "".join(_cell(r[column_name(i, p, "estimate")], r[column_name(i, p, "lower")],
                              r[column_name(i, p, "upper")], i in flags.replace(",", " ").split(),
                              str(r["estimand"])) for i, p in ids)
        shown = "" if r["estimand"] == previous else escape(str(r["estimand"]))
        row_cls = ' class="flagged"' if bool(r.get("disagree", False)) else ""
        lines.append(f'<tr{row_cls} title="{escape(flags)}"><td>{shown}</td>'
                     f"<td>{escape(str(r['term']))}</td>{cells}</tr>")
        previous = r["estimand"]
    return "".join(lines) + "</tbody></table>"


def comparison_section(comparison: pd.DataFrame, long: pd.DataFrame,
                       inputs: ReportInputs) -> Section:
    """Compact matrix, the etable-style main table, and the wide table behind a toggle."""
    n_cate = int((comparison["estimand"] == "CATE").sum())
    shown = comparison[comparison["estimand"] != "CATE"].reset_index(drop=True)
    wide = _wide(shown)
    main = publication_frame(long, inputs.results, inputs.panel,
                             inputs.lock.get("resolved_params"))
    blocks = [Block("table", compact_html(shown), "", "comparison-matrix"),
              table_block(main, "main-table", "Main table (fixest etable layout: stars "
                          "*** p<0.01, ** p<0.05, * p<0.1; Bayesian columns P(>0))",
                          index=True),
              Block("details", table_block(wide, "comparison-wide").content,
                    "Every estimate with its interval (wide table)", "comparison-wide")]
    intro = (f"Each cell: the estimate ({F.interval_words(long)} on hover; bold when it "
             "excludes 0). Shaded rows and cells: methods that disagree beyond their "
             "intervals, on terms with at least two treated units. Robustness checks are not "
             "effects and appear under Robustness checks."
             + (f" The {n_cate} unit-level CATE rows are in comparison.csv." if n_cate else ""))
    return Section("comparison", "Comparison across methods", blocks, intro)


def _wide(comparison: pd.DataFrame) -> pd.DataFrame:
    out = comparison[["estimand", "term"]].copy()
    for est_id, paradigm in estimator_columns(comparison):
        est, lo, hi = (comparison[column_name(est_id, paradigm, w)] for w in
                       ("estimate", "lower", "upper"))
        out[f"{est_id} ({paradigm})"] = [
            "" if e != e else f"{e:.3f} [{a:.3f}, {b:.3f}]" if a == a else
            "0 (reference)" if _reference(m, e, a) else f"{e:.3f} (no interval)"
            for e, a, b, m in zip(est, lo, hi, comparison["estimand"])]
    out["flags"] = comparison["flags"].fillna("")
    return out


def effect_figures(inputs: ReportInputs, long: pd.DataFrame, figs: FigureMaker) -> Section:
    """Forest plot (truth overlaid), the event study per method, ATT(g,t) by cohort and the
    imputed counterfactual."""
    pre = run_tests(inputs)
    pre = pre[pre["name"].astype(str).str.startswith("pre-trends")]
    drawn = [figs(F.forest_plot, plotted(long), inputs.truth),
             figs(E.event_facets, plotted(long), pre[["estimator", "p_value"]].reset_index(
                 drop=True), inputs.truth)]
    for (est_id, frame), also in _distinct_frames(inputs, "att_gt"):
        drawn.append(figs(E.att_gt_plot, frame, est_id, also))
    for est_id, results in inputs.results.items():
        for _, part in distinct_parts(results, "counterfactual")[:1]:
            drawn.append(figs(E.counterfactual_plot, part.frame, est_id,
                              str(inputs.panel.get("outcome", "outcome"))))
    return Section("effects", "Effects across methods",
                   [Block("figure", f) for f in drawn if f is not None])


def _distinct_frames(inputs: ReportInputs, name: str) -> list[tuple[tuple[str, pd.DataFrame],
                                                                     tuple[str, ...]]]:
    """Each distinct table part ``name`` once, with the other estimators that carry the same."""
    found: list[tuple[tuple[str, pd.DataFrame], list[str]]] = []
    for est_id, results in inputs.results.items():
        for _, part in distinct_parts(results, name)[:1]:
            frame = part.frame
            twin = next((f for f in found if f[0][1].equals(frame)), None)
            if twin is None:
                found.append(((est_id, frame), []))
            else:
                twin[1].append(est_id)
    return [(key, tuple(ids)) for key, ids in found]


def robustness_section(inputs: ReportInputs, figs: FigureMaker) -> list[Section]:
    """The checks table, each placebo's distribution with its estimate and p-value, and each
    sensitivity analysis's plot."""
    checks = checks_frame(inputs.results)
    blocks = [] if checks.empty else [
        table_block(checks.drop(columns=["expects"]), "robustness-table",
                    left=["check", "estimator", "estimand", "term", "reading"])]
    for est_id, results in inputs.results.items():
        for r, part in distinct_parts(results, "placebo"):
            if part.labels[:1] != ("overall",):
                continue
            draws, observed, p = part.column("overall")
            blocks.append(Block("figure", figs(F.placebo_plot, np.array(draws), observed,
                                               label(est_id, r.estimand), p, est_id)))
        for r, part in distinct_parts(results, "sensitivity"):
            symbol = str(r.table["term"].iloc[0]).split("=")[0]
            blocks.append(Block("figure", figs(E.sensitivity_plot, part.frame, est_id, symbol)))
    if not blocks:
        return []
    return [Section("robustness", "Robustness checks", blocks,
                    "Checks are not effects: a placebo's estimate is judged against its "
                    "distribution (randomization p-value), a placebo outcome and fake timing "
                    "expect no effect, HonestDiD asks how large a violation of parallel trends "
                    "would overturn the conclusion (breakdown value).")]


def trends_blocks(inputs: ReportInputs, figs: FigureMaker) -> list[Block]:
    """The outcome's moments and its raw trends, for the data section."""
    blocks = []
    moments = inputs.panel.get("outcome_moments") or {}
    if moments:
        frame = pd.DataFrame({"value": [f"{v:.4g}" for v in moments.values()]},
                             index=pd.Index(list(moments), name=str(inputs.panel.get(
                                 "outcome", "outcome"))))
        blocks.append(table_block(frame, "outcome-moments", "The outcome (to judge effect "
                                  "sizes)", index=True, facts=True))
    if inputs.trends is not None:
        fig = figs(E.trends_plot, inputs.trends, str(inputs.panel.get("outcome", "outcome")))
        blocks += [Block("figure", fig)] if fig is not None else []
    return blocks

