"""Publication tables of the main results in the layout of fixest's ``etable`` / Stata's
``esttab``: one column per estimator, the estimate with significance stars (frequentist and ML)
or the posterior probability of a positive effect (Bayesian), the interval in brackets below,
and the paradigm, interval kind, observations and clusters in the footer. Written as LaTeX
(booktabs) and Markdown.
"""

from __future__ import annotations

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


def publication_frame(long: pd.DataFrame) -> pd.DataFrame:
    """The table as strings: rows (term lines, interval lines, P(>0) lines, footer), one
    column per estimator headed ``(k) id``."""
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
        if label == FOOTER[0]:
            lines.append(r"\midrule")
        shown = "" if _is_interval(label) else _tex(label)
        lines.append(" & ".join([shown, *(_tex_cell(c) for c in row)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\par\smallskip{{\footnotesize {_tex(NOTE)}}}", r"\end{table}", ""]
    return "\n".join(lines)
