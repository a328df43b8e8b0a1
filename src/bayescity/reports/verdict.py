"""The verdict at the top of the report: one paragraph per family of estimands (overall, by
trait, dynamics, robustness, mechanisms), written from the numbers.

Each paragraph says what range the methods' estimates span and how many intervals exclude
zero, where methods agree, where they disagree beyond what their intervals explain (the
``disagree`` flag of :mod:`.comparison`, on terms with at least two treated units) and the
likeliest reason, read from the two estimators' settings: a different control group, different
covariates or trend controls, or different estimand weights (TWFE's regression weights against
the treated-cell weights of the staggered-robust estimators). A simulated panel's truth, when
known, is compared too. Everything here reads tables: the long results table, the comparison,
the tests, the robustness checks and each estimator's settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

#: Methods whose ATT is a regression coefficient (its own weights, negative ones possible under
#: staggered adoption), not the treated-cell average the other estimators report.
REGRESSION_WEIGHTS = ("twfe", "event_study")


@dataclass(frozen=True)
class Paragraph:
    family: str
    title: str
    text: str


def _num(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _excludes_zero(rows: pd.DataFrame) -> pd.Series:
    return (rows["lower"] > 0) | (rows["upper"] < 0)


def reason(a: Mapping[str, Any], b: Mapping[str, Any]) -> str:
    """The likeliest reason two estimators differ, from their settings (``method``,
    ``control_group``, ``covariates``, ``trend_covariates``)."""
    why = []
    wa, wb = ((x.get("estimator") or x.get("method")) in REGRESSION_WEIGHTS for x in (a, b))
    if wa != wb:
        why.append("estimand weights (TWFE's regression weights against treated-cell weights)")
    if a.get("control_group") != b.get("control_group") and (a.get("control_group")
                                                              or b.get("control_group")):
        why.append(f"control group ({a.get('control_group') or 'all untreated'} vs "
                   f"{b.get('control_group') or 'all untreated'})")
    ca, cb = (tuple(x.get("covariates") or ()) for x in (a, b))
    if ca != cb:
        why.append(f"covariates ({', '.join(ca) or 'none'} vs {', '.join(cb) or 'none'})")
    ta, tb = (tuple(x.get("trend_covariates") or ()) for x in (a, b))
    if ta != tb:
        why.append("trend controls")
    return "; ".join(why) if why else "estimation method (same sample and controls)"


def _range(rows: pd.DataFrame) -> str:
    lo, hi = rows.loc[rows["estimate"].idxmin()], rows.loc[rows["estimate"].idxmax()]
    if len(rows) == 1:
        return f"{_num(lo['estimate'])} ({lo['estimator']})"
    if _num(lo["estimate"]) == _num(hi["estimate"]):
        return f"{_num(lo['estimate'])} in every method"
    return (f"from {_num(lo['estimate'])} ({lo['estimator']}) to {_num(hi['estimate'])} "
            f"({hi['estimator']})")


def _disagreements(comparison: pd.DataFrame, estimand: str, term: str,
                   settings: Mapping[str, Mapping[str, Any]]) -> str:
    """The flagged pairs of one row with their likeliest reason."""
    row = comparison[(comparison["estimand"] == estimand) &
                     (comparison["term"].astype(str) == str(term))]
    if row.empty or not bool(row["disagree"].iloc[0]):
        return ""
    text = str(row["flags"].iloc[0]).split(": ", 1)[-1]
    first = text.split(",")[0].split(" (")[0]
    a, _, b = first.partition(" vs ")
    return (f" Methods disagree beyond their intervals ({text}); the likeliest reason for "
            f"{a} vs {b}: {reason(settings.get(a, {}), settings.get(b.strip(), {}))}.")


def _term_sentence(rows: pd.DataFrame, what: str) -> str:
    n, sig = len(rows), int(_excludes_zero(rows).sum())
    positive = int((rows["estimate"] > 0).sum())
    sign = ("all positive" if positive == n else "all negative" if positive == 0
            else f"{positive} of {n} positive")
    return (f"{n} method{'s' if n > 1 else ''} estimate {what} {_range(rows)} ({sign}); "
            f"{sig} of {n} intervals exclude 0.")


def _truth(rows: pd.DataFrame, truth: pd.DataFrame | None, estimand: str, term: str) -> str:
    if truth is None or truth.empty:
        return ""
    hit = truth[(truth["estimand"] == estimand) & (truth["term"].astype(str) == str(term))]
    if hit.empty:
        return ""
    value = float(hit["truth"].iloc[0])
    covered = int(((rows["lower"] <= value) & (value <= rows["upper"])).sum())
    return f" The simulated panel's true value is {_num(value)}: {covered} of {len(rows)} intervals cover it."


def overall_paragraph(long, comparison, settings, truth=None) -> Paragraph | None:
    rows = long[(long["estimand"] == "ATT") & (long["term"].astype(str) == "overall")]
    if rows.empty:
        return None
    text = _term_sentence(rows, "the overall ATT")
    dis = _disagreements(comparison, "ATT", "overall", settings)
    text += dis or (" Their differences are within what the intervals explain." if len(rows) > 1
                    else "")
    return Paragraph("overall", "Overall effect", text + _truth(rows, truth, "ATT", "overall"))


def trait_paragraphs(long, comparison, settings, tests, truth=None) -> list[Paragraph]:
    out = []
    for estimand in dict.fromkeys(long.loc[long["estimand"].str.startswith("ATT_by_"),
                                           "estimand"]):
        trait, rows = estimand.removeprefix("ATT_by_"), long[long["estimand"] == estimand]
        means = rows.groupby("term", sort=False)["estimate"].median().sort_values()
        parts = [f"{means.index[-1]} has the largest effect (median across methods "
                 f"{_num(means.iloc[-1])}), {means.index[0]} the smallest ({_num(means.iloc[0])})."]
        for term in means.index:
            level = rows[rows["term"].astype(str) == str(term)]
            sig = int(_excludes_zero(level).sum())
            parts.append(f"{term}: {_range(level)}, {sig} of {len(level)} intervals exclude 0."
                         + _disagreements(comparison, estimand, term, settings)
                         + _truth(level, truth, estimand, term))
        eq = tests[tests["name"].astype(str).str.startswith(f"equal ATT across {trait}")] \
            if not tests.empty else tests
        if not eq.empty:
            rejected = int((eq["p_value"] < 0.05).sum())
            parts.append(f"The test of equal effects across {trait} rejects at 5% in {rejected} "
                         f"of {len(eq)} methods.")
        out.append(Paragraph(f"by-{trait}", f"By {trait}", " ".join(parts)))
    return out


def dynamics_paragraph(long, tests) -> Paragraph | None:
    rows = long[long["estimand"] == "ATT_event"].assign(
        e=lambda d: pd.to_numeric(d["term"], errors="coerce")).dropna(subset=["e"])
    if rows.empty:
        return None
    parts = []
    pre = tests[tests["name"].astype(str).str.startswith("pre-trends")] if not tests.empty \
        else tests
    if not pre.empty:
        bad = pre[pre["p_value"] < 0.05]
        parts.append(f"The joint test of the leads rejects at 5% for {len(bad)} of {len(pre)} "
                     "methods" + (f" ({', '.join(bad['estimator'])})" if len(bad) else "")
                     + (": pre-trends cast doubt on parallel trends." if len(bad) else
                        ": no sign of pre-trends."))
    post = rows[rows["e"] >= 0]
    if not post.empty:
        first = post[post["e"] == post["e"].min()]
        last = post[post["e"] == post["e"].max()]
        parts.append(f"At adoption (e = {int(first['e'].iloc[0])}) the effect is "
                     f"{_range(first)}; at e = {int(last['e'].iloc[0])}, {_range(last)}.")
    thin = sorted(set(rows.loc[pd.to_numeric(rows.get("n_treated"), errors="coerce") < 2, "e"]
                      .astype(int)))
    if thin:
        parts.append(f"Event times {thin} rest on one treated unit: read them as anecdotes.")
    return Paragraph("dynamics", "Dynamics", " ".join(parts))


def robustness_paragraph(checks: pd.DataFrame) -> Paragraph:
    if checks is None or checks.empty:
        return Paragraph("robustness", "Robustness",
                         "This run has no robustness checks (placebos, HonestDiD); "
                         "experiments/robustness.yaml runs them.")
    parts = []
    for kind, rows in checks.groupby("check", sort=False):
        rows = rows[rows["term"].astype(str).isin(["overall"]) | (kind == "sensitivity")]
        for r in rows.itertuples():
            parts.append(f"{r.estimator} ({kind.replace('_', ' ')}): {r.reading}.")
    failed = checks[checks["reading"].astype(str).str.contains(
        "fails|not distinguished|rests on exact")]
    head = ("Every check passes." if failed.empty else
            f"{len(failed)} checks raise doubts." if len(failed) > 1 else
            "1 check raises doubts.")
    return Paragraph("robustness", "Robustness", " ".join([head, *parts]))


def mechanism_paragraph(long, comparison, settings, truth=None) -> Paragraph | None:
    rows = long[long["estimand"].str.startswith("ATT_on_")]
    if rows.empty:
        return None
    parts = []
    for estimand, part in rows.groupby("estimand", sort=False):
        m = estimand.removeprefix("ATT_on_")
        parts.append(f"{m}: {_range(part)}, {int(_excludes_zero(part).sum())} of {len(part)} "
                     "intervals exclude 0." + _disagreements(comparison, estimand, "overall",
                                                             settings)
                     + _truth(part, truth, estimand, "overall"))
    return Paragraph("mechanisms", "Mechanisms", "Effect of the policy on each mediator. "
                     + " ".join(parts))


def verdict(long: pd.DataFrame, comparison: pd.DataFrame,
            settings: Mapping[str, Mapping[str, Any]], tests: pd.DataFrame,
            checks: pd.DataFrame | None = None,
            truth: pd.DataFrame | None = None) -> list[Paragraph]:
    """Every paragraph of the verdict, in reading order (``settings``: per estimator id its
    method and settings, see :func:`estimator_settings`)."""
    tests = tests if tests is not None else pd.DataFrame(columns=["estimator", "name",
                                                                  "p_value"])
    found = [overall_paragraph(long, comparison, settings, truth),
             *trait_paragraphs(long, comparison, settings, tests, truth),
             dynamics_paragraph(long, tests), robustness_paragraph(checks),
             mechanism_paragraph(long, comparison, settings, truth)]
    return [p for p in found if p is not None]


def estimator_settings(results: Mapping[str, list], params: Mapping[str, Any] | None
                       ) -> dict[str, dict[str, Any]]:
    """Per estimator id: its method, control group, covariates used and trend controls (from
    its results' settings and its resolved parameters)."""
    out = {}
    for est_id, group in results.items():
        if not group:
            continue
        facts = dict(group[0].facts())
        own = dict((params or {}).get(est_id) or {})
        inner = dict(own.get("estimator_params") or {})
        out[est_id] = {"method": group[0].method, "estimator": facts.get("estimator"),
                       "control_group": facts.get("control_group"),
                       "covariates": facts.get("covariates_used", facts.get("covariates")),
                       "trend_covariates": own.get("trend_covariates",
                                                   inner.get("trend_covariates"))}
        out[est_id] = {k: (tuple(v) if isinstance(v, (list, np.ndarray)) else v)
                       for k, v in out[est_id].items()}
    return out
