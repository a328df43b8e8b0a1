"""``EffectResult``: one estimand from one estimator, in the columns every paradigm shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..constants import INTERVAL_PROB, MIN_TREATED_UNITS, PARADIGMS, SUMMARY_COLUMNS

TERM_COLUMNS = ("term", "estimate", "std_error", "lower", "upper", "p_value", "prob_positive")
#: Optional per-term column: distinct treated units behind the term (NA when not known).
N_TREATED = "n_treated"


#: Notes beginning so are problems, shown with the warnings wherever notes are shown.
WARNING_NOTE_PREFIXES = ("sampler diagnostics:",)
#: How a warning is marked where warnings and notes share a column or list.
WARNING_MARK = "warning: "


def thin_note(n_treated: int) -> str:
    """The note of a term resting on fewer than :data:`MIN_TREATED_UNITS` treated units."""
    return f"rests on {n_treated} treated unit{'s' if n_treated != 1 else ''}"


def is_warning_note(note: str) -> bool:
    """Whether a sentence of ``info["notes"]`` reports a problem (:data:`WARNING_NOTE_PREFIXES`)."""
    return str(note).startswith(WARNING_NOTE_PREFIXES)


def _sentences(info: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = info.get(key, ()) if isinstance(info, Mapping) else ()
    return (value,) if isinstance(value, str) else tuple(str(v) for v in value or ())


@dataclass(frozen=True)
class TestResult:
    """A hypothesis test reported next to an effect (e.g. equal effects across regions)."""

    name: str
    statistic: float
    df: float
    p_value: float
    kind: str
    df_denom: float | None = None
    note: str = ""
    #: The result terms the test restricts (lets tables flag tests on thin terms).
    terms: tuple[str, ...] = ()


@dataclass(frozen=True, eq=False)
class EffectResult:
    """Estimates of one estimand (``ATT``, ``ATT_event``, ``ATT_by_<trait>`` ...) by one method.

    ``table`` holds one row per term with the :data:`TERM_COLUMNS` and, optionally,
    ``n_treated`` (distinct treated units behind the term; NA when not given); numbers that do
    not belong to the paradigm are NaN (no p-value for a posterior, no posterior probability for
    a Wald test). ``vcov`` (frequentist) or ``draws`` (Bayesian, draws x terms) carry the joint
    uncertainty. ``info["warnings"]`` holds sentences about problems a user must act on or that
    make the numbers less trustworthy (terms resting on one treated unit, units or covariates
    lost in a way that changes the estimand, failed fits); ``info["notes"]`` holds facts about
    how the numbers were made (covariates used, defaults that differ from the reference).
    Tables show both in their ``note`` column, warnings first and marked (:meth:`row_notes`);
    the CLI prints warnings as warnings and notes as notes.
    """

    method: str
    paradigm: str
    estimand: str
    table: pd.DataFrame
    n_obs: int
    interval_prob: float = INTERVAL_PROB
    interval_kind: str = "wald"
    n_clusters: int | None = None
    tests: tuple[TestResult, ...] = ()
    vcov: np.ndarray | None = field(default=None, repr=False)
    draws: np.ndarray | None = field(default=None, repr=False)
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.paradigm not in PARADIGMS:
            raise ValueError(f"paradigm must be one of {PARADIGMS}, got {self.paradigm!r}")
        missing = [c for c in TERM_COLUMNS if c not in self.table.columns]
        if missing:
            raise ValueError(f"EffectResult table lacks columns {missing}")
        columns = {c: self.table[c].to_numpy() for c in TERM_COLUMNS}
        given = self.table[N_TREATED] if N_TREATED in self.table.columns else [pd.NA] * len(
            self.table)
        columns[N_TREATED] = pd.array(given, dtype="Int64")
        object.__setattr__(self, "table", pd.DataFrame(columns))

    @property
    def terms(self) -> list[str]:
        return list(self.table["term"])

    def summary(self) -> pd.DataFrame:
        """The canonical long table: one row per term, columns :data:`SUMMARY_COLUMNS`."""
        out = self.table.copy()
        out.insert(0, "estimand", self.estimand)
        out.insert(0, "paradigm", self.paradigm)
        out.insert(0, "method", self.method)
        out["interval_prob"] = self.interval_prob
        out["interval_kind"] = self.interval_kind
        out["n_obs"] = self.n_obs
        out[N_TREATED] = self.treated_units().array
        return out.loc[:, list(SUMMARY_COLUMNS)]

    def treated_units(self) -> pd.Series:
        """``n_treated`` per term (NA where unknown, e.g. a result stored by an older version)."""
        if N_TREATED in self.table.columns:
            return self.table[N_TREATED]
        return pd.Series(pd.array([pd.NA] * len(self.table), dtype="Int64"))

    @property
    def notes(self) -> tuple[str, ...]:
        """The facts of ``info["notes"]`` (without the notes :func:`is_warning_note` marks)."""
        return tuple(n for n in _sentences(self.info, "notes") if not is_warning_note(n))

    @property
    def warnings(self) -> tuple[str, ...]:
        """The sentences of ``info["warnings"]``, then the notes that report a problem
        (:data:`WARNING_NOTE_PREFIXES`, e.g. sampler diagnostics breaches)."""
        moved = tuple(n for n in _sentences(self.info, "notes") if is_warning_note(n))
        return tuple(dict.fromkeys((*_sentences(self.info, "warnings"), *moved)))

    def thin_terms(self) -> list[str]:
        """Terms resting on fewer than :data:`~bayescity.constants.MIN_TREATED_UNITS` treated units."""
        n = self.treated_units()
        return list(self.table.loc[n.notna() & (n < MIN_TREATED_UNITS), "term"])

    def row_notes(self) -> list[str]:
        """One note per term: the warnings first, each marked ``warning:`` (the term's own flag,
        e.g. "rests on 1 treated unit", then the result's warnings), then the result's notes,
        joined by "; " ("" when there is nothing to say)."""
        warned = [WARNING_MARK + w for w in self.warnings]
        out = []
        for n in self.treated_units():
            own = [WARNING_MARK + thin_note(int(n))] if pd.notna(n) and n < MIN_TREATED_UNITS \
                else []
            out.append("; ".join([*own, *warned, *self.notes]))
        return out

    def tests_frame(self) -> pd.DataFrame:
        """The reported tests as a table (empty when there are none); a test that restricts
        terms resting on fewer than two treated units says so in its ``note``."""
        thin = set(self.thin_terms())
        rows = []
        for t in self.tests:
            row = dict(method=self.method, estimand=self.estimand, **t.__dict__)
            flagged = [term for term in getattr(t, "terms", ()) if term in thin]
            if flagged:
                flag = f"includes terms resting on one treated unit: {', '.join(flagged)}"
                row["note"] = f"{t.note}; {flag}" if t.note else flag
            rows.append(row)
        return pd.DataFrame(rows, columns=["method", "estimand", "name", "statistic", "df",
                                           "p_value", "kind", "df_denom", "note"])

    def row(self, term: str | int) -> pd.Series:
        """The row of one term (``"overall"``, a level, an event time ...)."""
        hit = self.table[self.table["term"] == str(term)]
        if hit.empty:
            raise KeyError(f"term {term!r} not in {self.estimand} of {self.method}; terms: {self.terms}")
        return hit.iloc[0]

    def estimate(self, term: str | int = "overall") -> float:
        return float(self.row(term)["estimate"])


def wald_table(terms: Sequence[Any], estimates: np.ndarray, vcov: np.ndarray, *,
               interval_prob: float = INTERVAL_PROB, df: float | None = None) -> pd.DataFrame:
    """Estimates with standard errors, symmetric intervals and two-sided p-values.

    With ``df`` the t distribution is used (as fixest/Stata do with clustered errors: G-1 df),
    otherwise the normal.
    """
    est = np.asarray(estimates, dtype=float)
    se = np.sqrt(np.clip(np.diag(np.atleast_2d(vcov)), 0, None))
    dist = stats.t(df) if df is not None else stats.norm()
    crit = dist.ppf(0.5 + interval_prob / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * dist.sf(np.abs(est / se))
    return pd.DataFrame({"term": [str(t) for t in terms], "estimate": est, "std_error": se,
                         "lower": est - crit * se, "upper": est + crit * se, "p_value": p,
                         "prob_positive": np.nan})


def wald_test(name: str, estimates: np.ndarray, vcov: np.ndarray, restriction: np.ndarray, *,
              df_denom: float | None = None, note: str = "",
              terms: Sequence[Any] = ()) -> TestResult:
    """Joint Wald test of ``R @ beta = 0``: chi-square, or F with ``df_denom`` denominator df.

    ``terms`` names the coefficients of ``beta``; the test records those it restricts.
    """
    R = np.atleast_2d(restriction)
    rb = R @ np.asarray(estimates, dtype=float)
    middle = R @ np.atleast_2d(vcov) @ R.T
    q = int(np.linalg.matrix_rank(middle))
    stat = float(rb @ np.linalg.pinv(middle) @ rb)
    used = tuple(str(t) for t, hit in zip(terms, np.abs(R).sum(axis=0) > 0) if hit)
    if df_denom is not None:
        f = stat / q
        return TestResult(name, f, q, float(stats.f.sf(f, q, df_denom)), "wald_F", df_denom, note,
                          used)
    return TestResult(name, stat, q, float(stats.chi2.sf(stat, q)), "wald_chi2", None, note, used)


def equality_restriction(k: int) -> np.ndarray:
    """Rows ``e_1 - e_j`` (j = 2..k): all k coefficients equal."""
    R = np.zeros((k - 1, k))
    R[:, 0] = 1.0
    R[np.arange(k - 1), np.arange(1, k)] = -1.0
    return R


def level_equality_test(trait: str, estimates: np.ndarray, vcov: np.ndarray, *,
                        df_denom: float | None = None, note: str = "",
                        terms: Sequence[Any] = ()) -> TestResult | None:
    """Wald test that the effects of all levels of ``trait`` (named ``terms``) are equal (None
    for one level)."""
    k = len(np.atleast_1d(estimates))
    if k < 2:
        return None
    return wald_test(f"equal ATT across {trait}", estimates, vcov, equality_restriction(k),
                     df_denom=df_denom, note=note, terms=terms)


def lead_restriction(terms: Sequence[Any],
                     window: tuple[int, int] | None) -> tuple[np.ndarray, str] | None:
    """Rows selecting the event-time terms ``e < 0`` inside ``window`` (all leads for None).

    Returns the restriction matrix and the span it covers (``"[lo, hi]"`` or ``None`` for every
    lead), or None when no lead is selected. Non-integer terms are never leads.
    """
    lo, hi = window if window is not None else (-10**9, -1)
    hi = min(hi, -1)
    leads = [j for j, t in enumerate(terms) if _event_time(t) is not None
             and lo <= _event_time(t) <= hi]
    if not leads:
        return None
    R = np.zeros((len(leads), len(terms)))
    R[np.arange(len(leads)), leads] = 1.0
    return R, (None if window is None else f"[{lo}, {hi}]")


def _event_time(term: Any) -> int | None:
    try:
        return int(float(term))
    except (TypeError, ValueError):
        return None
