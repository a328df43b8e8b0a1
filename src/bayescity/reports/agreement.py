"""Do the methods agree on what drives the effect? The driver-agreement table and its sentence.

A run can rank the city traits that drive the effect in several ways: ``dml`` and
``causal_forest`` report a drivers table (each trait's combined rank, its best linear projection
(BLP) coefficient and the Holm-adjusted p-value of its joint BLP test,
:mod:`bayescity.estimators.ml.drivers`), and ``hierarchical_did`` with ``city_effects: true``
reports the posterior of every treated city's effect (``CATE`` draws), which
:mod:`bayescity.estimands.projection` projects on the same traits draw by draw (numeric traits
standardised, categorical ones as level indicators), ranking the traits by posterior
``|mean| / sd``. :func:`driver_agreement` puts them side by side, one row per trait
(:func:`agreement_table`): each method's rank, the sign of its estimate on the trait's *lead
term* (the level contrast, or the numeric trait, of the method that ranks the trait highest, so
signs are compared on the same contrast), whether the trait is significant (Holm p below
``1 - interval_prob``) or credible (the slope's posterior interval excludes zero), its evidence
(Holm p, or the posterior probability of the sign) and whether the methods agree on the sign
and on the top driver. The sentences say whether the methods agree on the top driver, name
each method's top driver with its evidence when they do not, give the likeliest reason
(weak evidence, linear projection vs forest attribution, a continuous vs a categorical trait,
a model that pools its effects by a trait) and, when a calibration of the same design was run
(``bayescity calibrate``: its ``calibration.csv``), how often each method ranked a true driver
first and called a pure-noise trait a driver on simulated panels of this design.

The report shows the sentences and the table in its heterogeneity section and writes the table
as ``agreement.csv`` (:func:`bayescity.reports.write_report`). Everything here reads results and
plain tables; nothing refits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from ..estimands.projection import trait_matrix, trait_ranking, trait_slopes
from ..results.effect import EffectResult
from .calibration_hook import calibration_sentences
from .parts import distinct_parts
from .verdict import reason as settings_reason

#: Per-method columns of the agreement table (prefixed by the estimator id and ``_``).
METHOD_COLUMNS = ("rank", "sign", "significant", "evidence")
#: What a method's ``evidence`` column holds, by its model.
EVIDENCE = {"linear": "Holm-adjusted p-value of the trait's joint BLP test",
            "forest": "Holm-adjusted p-value of the trait's joint BLP test",
            "posterior": "posterior probability of the lead slope's sign"}
RANKING = ("trait", "rank", "term", "estimate", "evidence", "significant")


@dataclass(frozen=True)
class MethodDrivers:
    """One method's driver ranking: ``ranking`` (:data:`RANKING`, one row per trait), the
    estimate of every term (level contrast or numeric trait), its model (``linear``,
    ``forest`` or ``posterior``), the traits it models its effects by (``by``) and its
    settings (for the likeliest reason of a disagreement)."""

    est_id: str
    method: str
    model: str
    ranking: pd.DataFrame
    terms: Mapping[str, float]
    by: tuple[str, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def top(self) -> str:
        """The trait ranked first."""
        return str(self.ranking.loc[self.ranking["rank"].idxmin(), "trait"])

    def row(self, trait: str) -> pd.Series | None:
        """The ranking's row of ``trait`` (None when the method does not rank it)."""
        rows = self.ranking[self.ranking["trait"] == trait]
        return None if rows.empty else rows.iloc[0]

    def detail(self, trait: str, numeric: Collection[str]) -> str:
        """The evidence for ``trait`` in words, e.g. ``BLP -1.23 for region3=West, Holm p
        0.0001``."""
        row = self.row(trait)
        if row is None:
            return "not ranked"
        term = "" if row["term"] == trait else f" for {row['term']}"
        if self.model == "posterior":
            per = " per sd" if trait in numeric else ""
            return (f"posterior slope {row['estimate']:+.3g}{per}{term}, P(sign) "
                    f"{row['evidence']:.3f}")
        return f"BLP {row['estimate']:+.3g}{term}, Holm p {_p(row['evidence'])}"


@dataclass(frozen=True)
class Agreement:
    """The driver-agreement table (:func:`agreement_table`), the methods behind it and the
    sentences the report prints."""

    table: pd.DataFrame
    methods: tuple[MethodDrivers, ...]
    sentences: tuple[str, ...]

    @property
    def text(self) -> str:
        """The sentences as one paragraph."""
        return " ".join(self.sentences)

    @property
    def agree(self) -> bool:
        """Whether every method ranks the same trait first."""
        return len({m.top for m in self.methods}) == 1


def _p(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.2g}"


def _names(ids: Sequence[str]) -> str:
    ids = list(ids)
    return ids[0] if len(ids) == 1 else f"{', '.join(ids[:-1])} and {ids[-1]}"


def _owns(term: str, trait: str) -> bool:
    return term == trait or term.startswith(f"{trait}=")


# ----------------------------------------------------------------------------- each method
def ml_drivers(est_id: str, results: Sequence[EffectResult]) -> MethodDrivers | None:
    """The ranking of an estimator with a drivers table (``dml``, ``causal_forest``): its
    combined rank, the BLP coefficient with the largest |t| among the trait's terms and the
    Holm-adjusted p-value of the trait's joint test (significant below ``1 -
    interval_prob``)."""
    found = distinct_parts(results, "drivers")
    if not found or not {"trait", "rank"} <= set(found[0][1].frame.columns):
        return None
    result, part = found[0]
    drivers = part.frame
    p_col = next((c for c in ("blp_p_holm", "blp_p") if c in drivers.columns), None)
    drivers["p"] = np.nan if p_col is None else drivers[p_col].astype(float)
    blp = next((r.table for r in results if r.estimand == "BLP"), None)
    estimates = {} if blp is None else dict(zip(blp["term"].astype(str), blp["estimate"]))
    tstat = {} if blp is None else dict(zip(blp["term"].astype(str),
                                            np.abs(blp["estimate"] / blp["std_error"])))
    alpha = 1.0 - float(result.interval_prob)
    rows = []
    for d in drivers.itertuples(index=False):
        own = [t for t in estimates if _owns(t, d.trait)]
        term = max(own, key=lambda t: np.nan_to_num(tstat[t], nan=-1.0)) if own else d.trait
        rows.append({"trait": d.trait, "rank": int(d.rank), "term": term,
                     "estimate": float(estimates.get(term, getattr(d, "blp_estimate", np.nan))),
                     "evidence": float(d.p), "significant": bool(d.p < alpha)})
    forest = drivers.get("forest_importance", pd.Series(dtype=float)).notna().any()
    model = "forest" if forest else "linear"
    return MethodDrivers(est_id, result.method, model, pd.DataFrame(rows, columns=RANKING),
                         estimates or {r["term"]: r["estimate"] for r in rows},
                         settings=dict(result.facts("settings") or {}))


def posterior_drivers(est_id: str, results: Sequence[EffectResult], units: pd.DataFrame,
                      traits: Sequence[str], categorical: Collection[str]
                      ) -> MethodDrivers | None:
    """The ranking of a Bayesian fit that reports per-city effect draws (``CATE``): the
    posterior of their projection on ``traits`` (:mod:`bayescity.estimands.projection`), ranked
    by posterior |mean| / sd; credible when the lead slope's interval excludes zero. None when
    the fit has no such draws or a city is missing from ``units``."""
    cate = next((r for r in results if r.estimand == "CATE" and r.paradigm == "bayesian"
                 and r.draws is not None), None)
    if cate is None:
        return None
    table = units.assign(unit=units["unit"].astype(str)).drop_duplicates("unit").set_index("unit")
    terms = [str(t) for t in cate.terms]
    if not set(terms) <= set(table.index):
        return None
    matrix = trait_matrix(table.loc[terms], [t for t in traits if t in table.columns],
                          categorical)
    slopes = trait_slopes(np.asarray(cate.draws), matrix, float(cate.interval_prob))
    ranked = trait_ranking(slopes)
    ranking = pd.DataFrame({"trait": ranked["trait"], "rank": ranked["rank"],
                            "term": ranked["term"], "estimate": ranked["mean"],
                            "evidence": ranked["prob_sign"], "significant": ranked["credible"]})
    by = tuple(r.estimand.removeprefix("ATT_by_") for r in results
               if r.estimand.startswith("ATT_by_"))
    return MethodDrivers(est_id, cate.method, "posterior", ranking,
                         dict(zip(slopes["term"], slopes["mean"])), by,
                         dict(cate.facts("settings") or {}))


# ----------------------------------------------------------------------------- the table
def _traits_in_order(methods: Sequence[MethodDrivers]) -> list[str]:
    """Every ranked trait, by its best rank over the methods (then first appearance)."""
    best: dict[str, int] = {}
    for m in methods:
        for trait, rank in zip(m.ranking["trait"], m.ranking["rank"]):
            best[trait] = min(best.get(trait, rank), int(rank))
    return sorted(best, key=lambda t: best[t])


def _lead_term(trait: str, methods: Sequence[MethodDrivers]) -> str:
    """The term of the method ranking ``trait`` highest (the first such method)."""
    rows = [m.row(trait) for m in methods]
    ranked = [r for r in rows if r is not None]
    return str(min(ranked, key=lambda r: r["rank"])["term"]) if ranked else trait


def _sign(value: float) -> str:
    return "+" if value > 0 else "-" if value < 0 else ""


def agreement_table(methods: Sequence[MethodDrivers]) -> pd.DataFrame:
    """One row per trait: ``trait``, ``term`` (its lead term), per method ``<id>_rank``,
    ``<id>_sign`` (on the lead term), ``<id>_significant``, ``<id>_evidence``, then
    ``sign_agreement`` (every method's sign on the lead term is the same; empty with fewer
    than two signs), ``top_in`` (the methods ranking the trait first) and ``top_agreement``
    (every method ranks it first; empty where none does)."""
    rows = []
    for trait in _traits_in_order(methods):
        term = _lead_term(trait, methods)
        row: dict[str, Any] = {"trait": trait, "term": term}
        signs = []
        for m in methods:
            mine = m.row(trait)
            sign = _sign(float(m.terms.get(term, np.nan)))
            signs += [sign] if sign else []
            row.update({f"{m.est_id}_rank": pd.NA if mine is None else int(mine["rank"]),
                        f"{m.est_id}_sign": sign,
                        f"{m.est_id}_significant": pd.NA if mine is None
                        else bool(mine["significant"]),
                        f"{m.est_id}_evidence": np.nan if mine is None
                        else float(mine["evidence"])})
        top = [m.est_id for m in methods if m.top == trait]
        row.update(sign_agreement=len(set(signs)) == 1 if len(signs) > 1 else pd.NA,
                   top_in=", ".join(top), top_agreement=len(top) == len(methods) if top
                   else pd.NA)
        rows.append(row)
    table = pd.DataFrame(rows)
    flags = [c for c in table.columns if c.endswith(("_significant", "_agreement"))]
    ranks = [c for c in table.columns if c.endswith("_rank")]
    return table.astype({**{c: "boolean" for c in flags}, **{c: "Int64" for c in ranks}})


# ----------------------------------------------------------------------------- sentences
def _groups(methods: Sequence[MethodDrivers]) -> dict[str, list[MethodDrivers]]:
    """The methods by their top driver, the largest group first (then in order)."""
    groups: dict[str, list[MethodDrivers]] = {}
    for m in methods:
        groups.setdefault(m.top, []).append(m)
    return dict(sorted(groups.items(), key=lambda kv: -len(kv[1])))


def top_sentence(methods: Sequence[MethodDrivers], numeric: Collection[str]) -> str:
    """Whether the methods agree on the top driver; each method's top driver and its evidence
    when they do not."""
    groups = _groups(methods)
    ids = [m.est_id for m in methods]

    def evidence(trait: str, group: list[MethodDrivers]) -> str:
        same: dict[str, list[str]] = {}
        for m in group:
            same.setdefault(m.detail(trait, numeric), []).append(m.est_id)
        if len(same) == 1:
            return next(iter(same)) + ("" if len(group) == 1 else
                                       " in both" if len(group) == 2 else " in each")
        return "; ".join(f"{_names(who)}: {d}" for d, who in same.items())

    if len(groups) == 1:
        (trait, group), = groups.items()
        text = f"{_names(ids)} agree that {trait} is the top driver ({evidence(trait, group)})."
        sure = [m.est_id for m in group if m.row(trait)["significant"]]
        if not sure:
            return text + (" It is significant or credible in none of them, so its lead is "
                           "not established.")
        if len(sure) < len(group):
            return text + f" It is significant or credible in {_names(sure)} only."
        return text
    named = [f"{_names([m.est_id for m in g])} rank{'s' if len(g) == 1 else ''} {trait} first "
             f"({evidence(trait, g)})" for trait, g in groups.items()]
    return f"{_names(ids)} disagree on the top driver: {', '.join(named)}."


def likely_reason(a: MethodDrivers, b: MethodDrivers, numeric: Collection[str],
                  labels: Mapping[str, str] | None = None) -> str:
    """The likeliest reason ``a`` and ``b`` rank different traits first; ``labels`` names a
    method by its group (e.g. ``dml and causal_forest``) where the reason holds for all."""
    ta, tb = a.top, b.top
    ra, rb = a.row(ta), b.row(tb)
    if not ra["significant"] and not rb["significant"]:
        return (f"Neither lead is established ({a.est_id}: {a.detail(ta, numeric)}; {b.est_id}: "
                f"{b.detail(tb, numeric)}), so the order of the top traits is within noise.")
    if "posterior" in (a.model, b.model) and a.model != b.model:
        bayes, other = (a, b) if a.model == "posterior" else (b, a)
        return _posterior_reason(bayes, other, (labels or {}).get(other.est_id, other.est_id))
    if a.model != b.model:
        return _model_reason(*((a, b) if a.model == "linear" else (b, a)), numeric)
    return (f"{a.est_id} and {b.est_id} explain the effect with the same kind of model; the "
            f"likeliest reason is their settings: {settings_reason(a.settings, b.settings)}.")


def _posterior_reason(bayes: MethodDrivers, other: MethodDrivers, label: str) -> str:
    by = " x ".join(("cohort", *bayes.by))
    if bayes.top in bayes.by:
        pooled = (f"{bayes.est_id} models its effects by {bayes.top} (partially pooled level "
                  f"effects), so its city effects carry the {bayes.top} levels in full")
    else:
        pooled = (f"{bayes.est_id}'s city effects are partially pooled towards its {by} "
                  f"cells, so a trait it does not model its effects by ({other.top}, "
                  f"{bayes.top}) shows only through shrunk city deviations")
    many = label != other.est_id
    return (f"Likeliest reason ({bayes.est_id} vs {label}): model structure -- "
            f"{pooled}; {bayes.est_id} ranks the traits by a linear projection of its city "
            f"effects, {label} by {'their' if many else 'its'} CATE model's attribution (mean "
            "|SHAP|) together with the BLP test.")


def _model_reason(linear: MethodDrivers, forest: MethodDrivers,
                  numeric: Collection[str]) -> str:
    tl, tf = linear.top, forest.top
    text = (f"Likeliest reason ({linear.est_id} vs {forest.est_id}): linear projection vs "
            f"forest importance -- {linear.est_id}'s "
            f"CATE is linear, so a trait leads through its BLP slopes, while {forest.est_id}'s "
            "forest credits nonlinear shapes and interactions")
    kinds = {t: ("continuous" if t in numeric else "categorical") for t in (tl, tf)}
    if kinds[tl] != kinds[tf]:
        cont = tl if kinds[tl] == "continuous" else tf
        cat = tf if cont == tl else tl
        text += (f"; and continuous vs categorical trait: a forest can split {cont} at many "
                 f"points but {cat} only between its levels, and split-based attributions "
                 "favour traits with many split points (Strobl, Boulesteix, Zeileis & Hothorn "
                 "2007, BMC Bioinformatics 8:25)")
    same = all(np.isclose(linear.row(t)["evidence"], forest.row(t)["evidence"])
               for t in (tl, tf) if linear.row(t) is not None and forest.row(t) is not None)
    if same:
        text += ("; their BLP tests agree (the same pseudo-outcomes), so the ranks part on the "
                 "models' attributions (mean |SHAP|)")
    return text + "."


def sign_sentence(table: pd.DataFrame, methods: Sequence[MethodDrivers]) -> str:
    """Where the methods' signs differ on a trait significant or credible in one of them."""
    flags = [f"{m.est_id}_significant" for m in methods]
    strong = table[table[flags].fillna(False).any(axis=1)]
    split = strong[strong["sign_agreement"].fillna(True) == False]  # noqa: E712
    if strong.empty:
        return "No trait is significant or credible in any method."
    if split.empty:
        return (f"On the traits significant or credible in at least one method "
                f"({', '.join(strong['trait'])}), the methods agree on the sign.")
    parts = [f"{r.trait} ({r.term}: " + ", ".join(
        f"{m.est_id} {getattr(r, f'{m.est_id}_sign') or '0'}" for m in methods) + ")"
        for r in split.itertuples(index=False)]
    return f"The methods' signs differ on {'; '.join(parts)}."


def driver_agreement(results: Mapping[str, Sequence[EffectResult]], units: pd.DataFrame,
                     panel: Mapping[str, Any], calibration: pd.DataFrame | None = None
                     ) -> Agreement | None:
    """The driver agreement of a run's results (None with fewer than two rankings): ML
    drivers tables, and Bayesian city-effect draws projected on the ML methods' traits (all
    the panel's traits without ML fits). ``units``: one row per unit (``unit`` and the traits);
    ``panel``: the panel description (its ``traits`` are the categorical ones, its
    ``numeric_traits`` the numeric ones); ``calibration``: a calibration table of the same
    design (:mod:`.calibration_hook`), optional."""
    categorical = list(panel.get("traits") or {})
    numeric = list(panel.get("numeric_traits") or {})
    ml = {k: ml_drivers(k, rs) for k, rs in results.items()}
    traits = list(dict.fromkeys(t for m in ml.values() if m is not None
                                for t in m.ranking["trait"])) or [*categorical, *numeric]
    bayes = [posterior_drivers(k, rs, units, traits, categorical) for k, rs in results.items()
             if ml[k] is None]
    methods = [m for m in (*ml.values(), *bayes) if m is not None and len(m.ranking)]
    if len(methods) < 2:
        return None
    table = agreement_table(methods)
    groups = list(_groups(methods).values())
    labels = {g[0].est_id: _names([m.est_id for m in g]) for g in groups}
    reasons = [likely_reason(groups[0][0], g[0], numeric, labels) for g in groups[1:]]
    sentences = (top_sentence(methods, numeric), *reasons, sign_sentence(table, methods),
                 *calibration_sentences(calibration, [m.est_id for m in methods]))
    return Agreement(table, tuple(methods), tuple(s for s in sentences if s))


def agreement_of(inputs: Any) -> Agreement | None:
    """The driver agreement of a run's :class:`~bayescity.reports.ReportInputs`."""
    return driver_agreement(inputs.results, inputs.units, inputs.panel,
                            getattr(inputs, "calibration", None))


def legend(agreement: Agreement) -> str:
    """What the table's columns hold."""
    evidence = "; ".join(f"{m.est_id}: {EVIDENCE[m.model]}" for m in agreement.methods)
    return ("One row per trait. term: the level contrast (or numeric trait) of the method "
            "ranking the trait highest; each method's sign is its estimate's sign on that term. "
            "<id>_significant: Holm-adjusted joint BLP p-value below 1 - interval_prob (ML) or "
            "a posterior interval excluding zero (Bayesian city effects projected on the "
            "traits, numeric traits standardised). Evidence -- " + evidence + ". "
            "top_in: the methods ranking the trait first. Also in agreement.csv.")
