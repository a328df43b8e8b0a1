"""``EffectResult``: one estimand from one estimator, in the columns every paradigm shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special

from ..constants import INTERVAL_PROB, MIN_TREATED_UNITS, PARADIGMS, SUMMARY_COLUMNS
from .parts import (NOTE, WARNING, Facts, FrozenDict, Message, Part, Table, check_parts,
                    frame_copy, readonly_array)

TERM_COLUMNS = ("term", "estimate", "std_error", "lower", "upper", "p_value", "prob_positive")
#: Optional per-term column: distinct treated units behind the term (NA when not known).
N_TREATED = "n_treated"


#: How a warning is marked where warnings and notes share a column or list.
WARNING_MARK = "warning: "
#: The fields of an :class:`EffectResult`, in constructor order (they define the stored format).
RESULT_FIELDS = ("method", "paradigm", "estimand", "table", "n_obs", "interval_prob",
                 "interval_kind", "n_clusters", "tests", "vcov", "draws", "messages", "parts")


def thin_note(n_treated: int) -> str:
    """The note of a term resting on fewer than :data:`MIN_TREATED_UNITS` treated units."""
    return f"rests on {n_treated} treated unit{'s' if n_treated != 1 else ''}"


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


def _term_table(table: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
    """The canonical term table (a private copy) from a DataFrame or a mapping of columns."""
    names = table.columns if isinstance(table, pd.DataFrame) else table.keys()
    missing = [c for c in TERM_COLUMNS if c not in names]
    if missing:
        raise ValueError(f"EffectResult table lacks columns {missing}")
    columns = {c: np.array(table[c], copy=True) for c in TERM_COLUMNS}
    n = len(columns["term"])
    columns["term"] = np.array([str(t) for t in columns["term"]], dtype=object)
    for c in TERM_COLUMNS[1:]:
        if columns[c].ndim == 0:  # a scalar column (e.g. prob_positive = NaN)
            columns[c] = np.full(n, columns[c].item(), dtype=float)
    given = table[N_TREATED] if N_TREATED in names else [pd.NA] * n
    columns[N_TREATED] = pd.array(given, dtype="Int64")
    return pd.DataFrame(columns)


class EffectResult:
    """Estimates of one estimand (``ATT``, ``ATT_event``, ``ATT_by_<trait>`` ...) by one method.

    :attr:`table` holds one row per term with the :data:`TERM_COLUMNS` and ``n_treated``
    (distinct treated units behind the term; NA when not given); numbers that do not belong to
    the paradigm are NaN (no p-value for a posterior, no posterior probability for a Wald
    test). ``vcov`` (frequentist) or ``draws`` (Bayesian, draws x terms) carry the joint
    uncertainty. ``messages`` are :class:`~bayescity.results.parts.Message` objects: warnings
    (problems a user must act on or that make the numbers less trustworthy: terms resting on one
    treated unit, units or covariates lost in a way that changes the estimand, failed fits,
    sampler diagnostics) and notes (facts about how the numbers were made: covariates used,
    defaults that differ from the reference). ``parts`` are the typed, declared extras of
    :mod:`~bayescity.results.parts` (settings, tables, diagnostics, distributions).

    A result is immutable and hands out nothing its receiver could change it through:
    :attr:`table` and the tables of parts are copies, ``vcov`` and ``draws`` read-only arrays.
    :meth:`replace` returns a changed copy.
    """

    __slots__ = tuple(f"_{f}" for f in RESULT_FIELDS)

    def __init__(self, method: str, paradigm: str, estimand: str,
                 table: pd.DataFrame | Mapping[str, Any],
                 n_obs: int, interval_prob: float = INTERVAL_PROB, interval_kind: str = "wald",
                 n_clusters: int | None = None, tests: Sequence[TestResult] = (),
                 vcov: np.ndarray | None = None, draws: np.ndarray | None = None,
                 messages: Sequence[Message] = (), parts: Sequence[Part] = ()):
        if paradigm not in PARADIGMS:
            raise ValueError(f"paradigm must be one of {PARADIGMS}, got {paradigm!r}")
        messages = tuple(messages)
        if not all(isinstance(m, Message) for m in messages):
            raise TypeError("messages must be bayescity.results.parts.Message objects")
        values = dict(method=str(method), paradigm=paradigm, estimand=str(estimand),
                      table=_term_table(table), n_obs=int(n_obs),
                      interval_prob=float(interval_prob), interval_kind=str(interval_kind),
                      n_clusters=None if n_clusters is None else int(n_clusters),
                      tests=tuple(tests),
                      vcov=None if vcov is None else readonly_array(vcov),
                      draws=None if draws is None else readonly_array(draws),
                      messages=tuple(dict.fromkeys(messages)), parts=check_parts(parts))
        for name, value in values.items():
            object.__setattr__(self, f"_{name}", value)

    # ------------------------------------------------------------------ fields (read-only)
    method = property(lambda self: self._method,
                      doc="The registered method that made the result (``twfe``, ...).")
    paradigm = property(lambda self: self._paradigm,
                        doc="``frequentist``, ``bayesian`` or ``ml``.")
    estimand = property(lambda self: self._estimand,
                        doc="What the rows estimate: ``ATT``, ``ATT_event``, ``ATT_by_<trait>``...")
    n_obs = property(lambda self: self._n_obs,
                     doc="Observations (unit-periods) the estimate rests on.")
    interval_prob = property(lambda self: self._interval_prob,
                             doc="Probability mass of the intervals (0.95 unless asked).")
    interval_kind = property(lambda self: self._interval_kind,
                             doc="The kind of interval ``lower`` and ``upper`` are.")
    n_clusters = property(lambda self: self._n_clusters,
                          doc="Clusters of the standard errors, or None.")
    tests = property(lambda self: self._tests,
                     doc="The tests reported with the estimand (equal levels, pre-trends, ...).")
    vcov = property(lambda self: self._vcov,
                    doc="Covariance of the terms' estimates (read-only), or None.")
    draws = property(lambda self: self._draws,
                     doc="Posterior draws, draws x terms (read-only), or None.")
    messages = property(lambda self: self._messages,
                        doc="The warnings and notes, each a Message with its severity.")
    parts = property(lambda self: self._parts,
                     doc="The typed, declared extras: settings, tables, diagnostics, draws.")

    @property
    def table(self) -> pd.DataFrame:
        """The term table (a copy: changing it never changes the result)."""
        return frame_copy(self._table)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("EffectResult is read-only; use .replace(...) for a changed copy")

    __delattr__ = __setattr__  # type: ignore[assignment]

    def fields(self) -> dict[str, Any]:
        """The constructor arguments of this result (tables and arrays as stored)."""
        return {f: getattr(self, f"_{f}") for f in RESULT_FIELDS}

    def replace(self, **changes: Any) -> "EffectResult":
        """A copy with some fields changed (``parts`` and ``messages`` replace the old ones)."""
        unknown = [k for k in changes if k not in RESULT_FIELDS]
        if unknown:
            raise TypeError(f"EffectResult has no field(s) {unknown}")
        return EffectResult(**{**self.fields(), **changes})

    def __reduce__(self):
        return (_rebuild, (self.fields(),))

    def __repr__(self) -> str:
        return (f"EffectResult(method={self.method!r}, estimand={self.estimand!r}, "
                f"terms={len(self._table)}, interval_kind={self.interval_kind!r})")

    # ------------------------------------------------------------------ parts
    def part(self, name: str) -> Part | None:
        """The part declared as ``name`` (see :data:`~bayescity.results.parts.DECLARED`), or
        None when this result has none."""
        return next((p for p in self._parts if p.name == name), None)

    def facts(self, name: str = "settings") -> Mapping[str, Any]:
        """The values of the :class:`~bayescity.results.parts.Facts` part ``name`` (empty when
        absent), read-only."""
        p = self.part(name)
        return p.values if isinstance(p, Facts) else FrozenDict()

    def part_frame(self, name: str) -> pd.DataFrame | None:
        """A copy of the table of the Table part ``name``, or None."""
        p = self.part(name)
        return p.frame if isinstance(p, Table) else None

    # ------------------------------------------------------------------ views
    @property
    def terms(self) -> list[str]:
        """The terms (row labels), in table order."""
        return list(self._table["term"])

    def summary(self) -> pd.DataFrame:
        """The canonical long table: one row per term, columns :data:`SUMMARY_COLUMNS`."""
        out = self._table.copy()
        out.insert(0, "estimand", self.estimand)
        out.insert(0, "paradigm", self.paradigm)
        out.insert(0, "method", self.method)
        out["interval_prob"] = self.interval_prob
        out["interval_kind"] = self.interval_kind
        out["n_obs"] = self.n_obs
        return out.loc[:, list(SUMMARY_COLUMNS)]

    def treated_units(self) -> pd.Series:
        """``n_treated`` per term (NA where unknown)."""
        return self._table[N_TREATED].copy()

    @property
    def notes(self) -> tuple[str, ...]:
        """The sentences of the result's notes."""
        return tuple(m.text for m in self._messages if m.severity == NOTE)

    @property
    def warnings(self) -> tuple[str, ...]:
        """The sentences of the result's warnings."""
        return tuple(m.text for m in self._messages if m.severity == WARNING)

    def thin_terms(self) -> list[str]:
        """Terms resting on fewer than :data:`~bayescity.constants.MIN_TREATED_UNITS` treated
        units."""
        n = self._table[N_TREATED]
        return list(self._table.loc[n.notna() & (n < MIN_TREATED_UNITS), "term"])

    def row_notes(self) -> list[str]:
        """One note per term: the warnings first, each marked ``warning:`` (the term's own flag,
        e.g. "rests on 1 treated unit", then the result's warnings), then the result's notes,
        joined by "; " ("" when there is nothing to say)."""
        warned = [WARNING_MARK + w for w in self.warnings]
        out = []
        for n in self._table[N_TREATED]:
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
        hit = self._table[self._table["term"] == str(term)]
        if hit.empty:
            raise KeyError(f"term {term!r} not in {self.estimand} of {self.method}; terms: "
                           f"{self.terms}")
        return hit.iloc[0].copy()

    def estimate(self, term: str | int = "overall") -> float:
        """The point estimate of one term."""
        return float(self.row(term)["estimate"])

    # ------------------------------------------------------------------ conversions
    def to_xarray(self):
        """The result as an :class:`xarray.Dataset` along ``term``: the table's columns as
        variables, ``draws`` (Bayesian) as ``draws(draw, term)`` and ``vcov`` as
        ``vcov(term, term_)``, with the method, estimand and interval as attributes."""
        import xarray as xr

        table = self._table.set_index("term")
        data = {c: ("term", table[c].to_numpy(dtype=float)) for c in table.columns}
        if self._draws is not None:
            data["draws"] = (("draw", "term"), np.asarray(self._draws))
        if self._vcov is not None and np.ndim(self._vcov) == 2:
            data["vcov"] = (("term", "term_"), np.asarray(self._vcov))
        coords = {"term": list(table.index)}
        if "vcov" in data:
            coords["term_"] = list(table.index)
        return xr.Dataset(data, coords=coords,
                          attrs={"method": self.method, "paradigm": self.paradigm,
                                 "estimand": self.estimand, "interval_prob": self.interval_prob,
                                 "interval_kind": self.interval_kind, "n_obs": self.n_obs})

    def to_inference_data(self):
        """The posterior draws of a Bayesian result as ArviZ InferenceData: one variable named
        after the estimand with dims ``(chain, draw, term)`` (chains as the sampler ran them,
        from the ``sampler`` part), for ArviZ's summaries and plots. Raises ValueError for a
        result without draws."""
        if self._draws is None:
            raise ValueError(f"{self.method} {self.estimand}: no posterior draws (a "
                             f"{self.paradigm} result); use to_xarray()")
        import arviz as az

        draws = np.asarray(self._draws)
        chains = int(self.facts("sampler").get("chains") or 1)
        if chains < 1 or draws.shape[0] % chains:
            chains = 1
        arr = draws.reshape(chains, draws.shape[0] // chains, draws.shape[1])
        return az.from_dict(posterior={self.estimand: arr},
                            coords={"term": self.terms}, dims={self.estimand: ["term"]},
                            attrs={"method": self.method, "interval_kind": self.interval_kind})

    def _repr_html_(self) -> str:
        head = (f"<p><b>{self.method}</b>: {self.estimand} ({self.paradigm}; "
                f"{self.interval_prob:.0%} {self.interval_kind} intervals; n_obs {self.n_obs})"
                "</p>")
        body = self._table.to_html(index=False, float_format=lambda x: f"{x:.4f}",
                                   na_rep="")
        told = [f"<li>warning: {w}</li>" for w in self.warnings]
        told += [f"<li>note: {n}</li>" for n in self.notes]
        return head + body + (f"<ul>{''.join(told)}</ul>" if told else "")


def _rebuild(fields: dict[str, Any]) -> EffectResult:
    return EffectResult(**fields)


def _two_sided(df: float | None, interval_prob: float, z: np.ndarray) -> tuple[float, np.ndarray]:
    """The critical value of a symmetric ``interval_prob`` interval and the two-sided p-values
    of ``z``: normal, or t with ``df`` degrees of freedom. The special functions scipy's
    ``norm``/``t`` evaluate, without building a frozen distribution per call (same numbers)."""
    q = 0.5 + interval_prob / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        if df is None:
            return float(special.ndtri(q)), 2 * special.ndtr(-np.abs(z))
        if not df > 0:  # no t distribution: scipy's frozen t gives NaN too
            return np.nan, np.full(np.shape(z), np.nan)
        return float(special.stdtrit(df, q)), 2 * special.stdtr(df, -np.abs(z))


def wald_columns(terms: Sequence[Any], estimates: np.ndarray, vcov: np.ndarray, *,
                 interval_prob: float = INTERVAL_PROB, df: float | None = None
                 ) -> dict[str, Any]:
    """The columns of :func:`wald_table` as arrays (an EffectResult takes them as they are)."""
    est = np.asarray(estimates, dtype=float)
    se = np.sqrt(np.clip(np.diag(np.atleast_2d(vcov)), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    crit, p = _two_sided(df, interval_prob, z)
    return {"term": [str(t) for t in terms], "estimate": est, "std_error": se,
            "lower": est - crit * se, "upper": est + crit * se, "p_value": p,
            "prob_positive": np.full(est.shape, np.nan)}


def wald_table(terms: Sequence[Any], estimates: np.ndarray, vcov: np.ndarray, *,
               interval_prob: float = INTERVAL_PROB, df: float | None = None) -> pd.DataFrame:
    """Estimates with standard errors, symmetric intervals and two-sided p-values.

    With ``df`` the t distribution is used (as fixest/Stata do with clustered errors: G-1 df),
    otherwise the normal.
    """
    return pd.DataFrame(wald_columns(terms, estimates, vcov, interval_prob=interval_prob, df=df))


def _upper_tail(sf, x: float, *df: float) -> float:
    """``P(X > x)`` as scipy's ``chi2.sf``/``f.sf`` give it: 1 at or below 0, NaN for NaN or
    degrees of freedom that are not positive."""
    if np.isnan(x) or not all(d > 0 for d in df):
        return np.nan
    return 1.0 if x <= 0 else float(sf(*df, x))


def wald_test(name: str, estimates: np.ndarray, vcov: np.ndarray, restriction: np.ndarray, *,
              df_denom: float | None = None, note: str = "",
              terms: Sequence[Any] = ()) -> TestResult:
    """Joint Wald test of ``R @ beta = 0``: chi-square, or F with ``df_denom`` denominator df.

    ``terms`` names the coefficients of ``beta``; the test records those it restricts. The
    restricted covariance ``R V R'`` may be singular: its rank (numpy's ``matrix_rank``
    tolerance) gives the degrees of freedom and its pseudo-inverse (numpy's ``pinv`` cut-off)
    the statistic, both from one singular value decomposition.
    """
    R = np.atleast_2d(restriction)
    rb = R @ np.asarray(estimates, dtype=float)
    middle = R @ np.atleast_2d(vcov) @ R.T
    u, s, vt = np.linalg.svd(middle)
    top = s.max(initial=0.0)
    q = int(np.count_nonzero(s > top * max(middle.shape) * np.finfo(float).eps))
    inverse = np.divide(1.0, s, out=np.zeros_like(s), where=s > 1e-15 * top)
    stat = float(((vt @ rb) * inverse) @ (u.T @ rb))
    used = tuple(str(t) for t, hit in zip(terms, np.abs(R).sum(axis=0) > 0) if hit)
    if df_denom is not None:
        f = stat / q
        return TestResult(name, f, q, _upper_tail(special.fdtrc, f, q, df_denom), "wald_F",
                          df_denom, note, used)
    return TestResult(name, stat, q, _upper_tail(special.chdtrc, stat, q), "wald_chi2", None,
                      note, used)


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
