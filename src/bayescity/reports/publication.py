"""Publication tables of the main results in the layout of fixest's ``etable`` / Stata's
``esttab``: one column per estimator, the estimate with significance stars (frequentist and ML)
or the posterior probability of a positive effect (Bayesian), the interval in brackets below,
and the paradigm, interval kind, observations and clusters in the footer, with the fixed
effects, covariates and trend controls of each column and the outcome's mean and standard
deviation (to judge an effect's size). Written as LaTeX (booktabs) and Markdown, and shown in
the report.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

#: fixest ``etable``'s default significance codes.
STARS = ((0.01, "***"), (0.05, "**"), (0.10, "*"))
NOTE = ("Estimates with intervals in brackets (the interval row of the footer gives each "
        "column's probability and kind). Stars (frequentist and ML, two-sided p-values): "
        "*** p<0.01, ** p<0.05, * p<0.1. Bayesian columns give the posterior probability of a "
        "positive effect, P(>0).")


def main_rows(long: pd.DataFrame) -> pd.DataFrame:
    """The rows of the main table: overall ATT and ATT by trait level."""
    keep = (long["estimand"] == "ATT") | long["estimand"].str.startswith("ATT_by_")
    return long[keep]


def _label(estimand: str, term: str) -> str:
    if estimand == "ATT":
        return "ATT" if term == "overall" else f"ATT ({term})"
    return f"{estimand.removeprefix('ATT_by_')} = {term}"


def _stars(p: float) -> str:
    if p != p:
        return ""
    return next((s for cut, s in STARS if p < cut), "")


def _num(x: float, digits: int = 3) -> str:
    return "" if x != x else f"{x:.{digits}f}"


#: The fixed effects each method's design removes (the footer's "Fixed effects" row); a
#: method not listed shows a dash.
FIXED_EFFECTS = {"twfe": "unit, period", "event_study": "unit, period",
                 "sun_abraham": "unit, period", "imputation": "unit, period (untreated rows)",
                 "callaway_santanna": "unit (differenced), period (cell)",
                 "hierarchical_did": "unit, period", "dml": "unit (differenced), period (cell)",
                 "causal_forest": "unit (differenced), period (cell)",
                 "psm_did": "unit, period"}


def publication_frame(long: pd.DataFrame, results: Mapping[str, list] | None = None,
                      panel: Mapping[str, Any] | None = None,
                      params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """The table as strings: rows (term lines, interval lines, P(>0) lines, footer), one
    column per estimator headed ``(k) id``; with the run's ``results`` and ``panel``
    description the footer also names fixed effects, covariates and trend controls, and the
    outcome's mean and standard deviation (``params``: each estimator's resolved parameters,
    for its trend controls)."""
    rows = main_rows(long).assign(term=lambda d: d["term"].astype(str))
    ids = list(dict.fromkeys(rows["estimator"]))
    keys = list(dict.fromkeys(zip(rows["estimand"], rows["term"])))
    bayes = set(rows.loc[rows["paradigm"] == "bayesian", "estimator"])
    body: dict[str, dict[str, str]] = {}
    for estimand, term in keys:
        label = _label(estimand, term)
        lines = {label: {}, f"{label} interval": {}, f"{label} P(>0)": {}}
        for _, r in rows[(rows["estimand"] == estimand) & (rows["term"] == term)].iterrows():
            est_id = r["estimator"]
            lines[label][est_id] = _num(r["estimate"]) + (
                "" if est_id in bayes else _stars(r["p_value"]))
            lines[f"{label} interval"][est_id] = f"[{_num(r['lower'])}, {_num(r['upper'])}]"
            if est_id in bayes:
                lines[f"{label} P(>0)"][est_id] = _num(r["prob_positive"], 2)
        body.update({k: v for k, v in lines.items() if v})
    body.update(_footer(rows, ids))
    body.update(_design_rows(rows, ids, results or {}, panel or {}, params or {}))
    frame = pd.DataFrame.from_dict(body, orient="index").reindex(columns=ids).fillna("")
    frame.columns = [f"({k}) {est_id}" for k, est_id in enumerate(ids, start=1)]
    return frame


def _footer(rows: pd.DataFrame, ids: list[str]) -> dict[str, dict[str, str]]:
    first = rows.drop_duplicates("estimator").set_index("estimator")
    clusters = first["n_clusters"] if "n_clusters" in first else pd.Series(dtype=float)
    return {
        "Paradigm": {i: str(first.at[i, "paradigm"]) for i in ids},
        "Interval": {i: f"{first.at[i, 'interval_prob']:.0%} {first.at[i, 'interval_kind']}"
                     for i in ids},
        "Observations": {i: f"{int(first.at[i, 'n_obs']):,}" for i in ids},
        "Clusters": {i: "" if pd.isna(clusters.get(i)) else f"{int(clusters[i]):,}" for i in ids},
    }


def _names(values: Any, shown: int = 2) -> str:
    names = [str(v) for v in (values or ())]
    if not names:
        return "none"
    return ", ".join(names[:shown]) + (f" +{len(names) - shown}" if len(names) > shown else "")


def _design_rows(rows: pd.DataFrame, ids: list[str], results: Mapping[str, list],
                 panel: Mapping[str, Any], params: Mapping[str, Any]
                 ) -> dict[str, dict[str, str]]:
    """Fixed effects, covariates (from each result's settings), trend controls (its
    parameters, or those it passes to the estimator it re-runs) and the outcome's moments."""
    if not results:
        return {}
    methods = rows.drop_duplicates("estimator").set_index("estimator")["method"] \
        if "method" in rows else pd.Series(dtype=str)
    out: dict[str, dict[str, str]] = {"Fixed effects": {}, "Covariates": {},
                                      "Trend controls (x period)": {}}
    for est_id in ids:
        first = (results.get(est_id) or [None])[0]
        settings = {} if first is None else dict(first.facts())
        inner = str(settings.get("estimator", methods.get(est_id, "")))
        out["Fixed effects"][est_id] = FIXED_EFFECTS.get(inner, "-")
        used = settings.get("covariates_used", settings.get("covariates"))
        out["Covariates"][est_id] = "-" if used is None else _names(used)
        own = dict(params.get(est_id) or {})
        trends = own.get("trend_covariates", (own.get("estimator_params") or {}).get(
            "trend_covariates"))
        out["Trend controls (x period)"][est_id] = _names(trends)
    moments = panel.get("outcome_moments") or {}
    if moments:
        outcome = panel.get("outcome", "outcome")
        out[f"Mean of {outcome}"] = {i: f"{moments['mean']:.3f}" for i in ids}
        out[f"SD of {outcome}"] = {i: f"{moments['sd']:.3f}" for i in ids}
    return out


def _is_interval(label: str) -> bool:
    return label.endswith(" interval") or label.endswith(" P(>0)")


FOOTER = ("Paradigm", "Interval", "Observations", "Clusters")


def to_markdown(frame: pd.DataFrame, title: str) -> str:
    """A pipe table (GitHub/Pandoc Markdown) with the note below."""
    head = ["", *frame.columns]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |",
             "|" + "|".join([":--"] + ["--:"] * len(frame.columns)) + "|"]
    for label, row in frame.iterrows():
        shown = "" if _is_interval(label) else label
        lines.append("| " + " | ".join([shown, *row.tolist()]) + " |")
    return "\n".join([*lines, "", NOTE, ""])


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}", "<": r"$<$", ">": r"$>$"}


def _tex(text: str) -> str:
    return "".join(_TEX.get(ch, ch) for ch in str(text))


def _tex_cell(text: str) -> str:
    stars = len(text) - len(text.rstrip("*"))
    core = _tex(text[: len(text) - stars] if stars else text)
    return core + (f"$^{{{'*' * stars}}}$" if stars else "")


def to_latex(frame: pd.DataFrame, title: str) -> str:
    """A booktabs ``tabular`` in a ``table`` float, footer under a midrule, note below."""
    cols = "l" + "c" * len(frame.columns)
    lines = [r"\begin{table}[htbp]", r"\centering", rf"\caption{{{_tex(title)}}}",
             rf"\begin{{tabular}}{{{cols}}}", r"\toprule",
             " & ".join(["", *(_tex(c) for c in frame.columns)]) + r" \\", r"\midrule"]
    for label, row in frame.iterrows():
        if label in (FOOTER[0], "Fixed effects"):
            lines.append(r"\midrule")
        shown = "" if _is_interval(label) else _tex(label)
        lines.append(" & ".join([shown, *(_tex_cell(c) for c in row)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\par\smallskip{{\footnotesize {_tex(NOTE)}}}", r"\end{table}", ""]
    return "\n".join(lines)
