"""Synthetic control for single treated units (``method: synthetic_control``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, Panel
from ...estimands import aggregate, cells_from_unit_effects
from ...results.effect import EffectResult, TestResult
from ...results.parts import Facts, Message, Part, Table, notes
from ..core import params as P
from ..core.base import Estimator, Fitted, ParamError, did_you_mean, resolve_by
from ..core.tasks import map_with_progress
from ..registry import register
from .synth_weights import SynthFit, in_space_placebos, ratio_p_value, synth_fit
from .synthetic_did import outcome_matrix

V_METHODS = ("nested", "uniform")
ESTIMANDS = ("ATT", "ATT_event", "ATT_cohort", "ATT_calendar")
#: Donor weights below this are left out of the reported weight table (they still count).
SHOWN_WEIGHT = 1e-6


def predictor_rows(Y: np.ndarray, covars: dict[str, np.ndarray], periods: np.ndarray,
                   t0: int, lags: Sequence[int] | None) -> tuple[np.ndarray, list[str]]:
    """Predictors (k x units): each covariate's pre-period mean, then the outcome in each lag
    year (None: every pre-period)."""
    years = periods[:t0] if lags is None else np.asarray(lags, dtype=np.int64)
    rows = [covars[c][:, :t0].mean(axis=1) for c in covars]
    rows += [Y[:, np.searchsorted(periods, yr)] for yr in years]
    return np.vstack(rows), [*covars, *(f"outcome {yr}" for yr in years)]


def _placebo_task(item) -> list[SynthFit]:
    return in_space_placebos(*item)


@dataclass(frozen=True)
class SCState:
    """What a fit keeps: the donors (``donors_``, never-treated units) and each fitted unit's
    synthetic control (``fits_``: unit -> donor weights in ``donors_`` order, predictor
    weights V, gap path and RMSPEs)."""

    donors: tuple
    fits: Mapping[str, SynthFit]


@dataclass(frozen=True)
class UnitFits:
    """The fitted units (rows of the outcome matrix), their cohorts, fits, predictor
    balances and in-space placebos (None without placebos)."""

    rows: list[int]
    cohorts: list[int]
    fits: list[SynthFit]
    balances: list[tuple]
    placebos: list[list[SynthFit] | None]


@register("synthetic_control")
class SyntheticControl(Estimator):
    """Synthetic control (Abadie, Diamond & Hainmueller 2010) for each treated unit.

    Every unit in ``treated_units`` (default: every treated unit) gets its own synthetic
    control from the never-treated units (other treated units are never donors), matching
    ``predictors`` (covariates, averaged over the unit's pre-period) and the outcome in the
    ``outcome_lags`` years (default: every pre-period, diff-diff's default). Donor weights
    solve the simplex least squares exactly; ``v_method: nested`` (R Synth, diff-diff) picks
    the predictor weights V that minimise the pre-period outcome MSPE, ``uniform`` keeps
    V = I on raw predictors. With every pre-period outcome and no covariate as predictors the
    nested search's optimum is the outcome-MSPE fit, computed directly (synthdid's
    ``sc_estimate``, up to its infinitesimal ridge).

    Inference is in space (``placebo: true``): each donor in turn is synthesised from the
    others, and the treated unit's post/pre RMSPE ratio is ranked among all of them; the
    permutation p-value is reported as a test per treated unit and, with one treated unit, as
    the ``ATT`` row's p-value. There are no standard errors (ADH define none).
    Gaps are aggregated with the shared treated-cell weights: ``ATT``, ``ATT_event``
    (e >= 0), ``ATT_cohort``, ``ATT_calendar``, ``ATT_by_<trait>``. ``ATT`` carries the parts
    ``sc_unit_weights``, ``sc_trajectories`` (treated, synthetic, gap by period),
    ``sc_placebo_ranks`` (RMSPE ratios and ranks) and ``sc_predictor_balance``; the fits are
    ``fits_``.
    """

    paradigm = "frequentist"
    params = {"treated_units": P.Spec("list", "treated units to synthesise, by name (e.g. "
                                              "[Shenzhen]); null: every treated unit", none=True),
              "predictors": P.Spec("columns", "covariates matched by their pre-period means; "
                                              "null: none", none=True, role="numeric_columns"),
              "outcome_lags": P.Spec("list", "pre-period years whose outcome is a predictor; "
                                             "null: every pre-period", none=True),
              "v_method": P.Spec("choice", "predictor weights V: nested (R Synth's search) or "
                                           "uniform", choices=V_METHODS),
              "placebo": P.Spec("bool", "in-space placebos of every donor (the permutation "
                                        "p-value)"),
              "by": P.BY, "by_bins": P.BY_BINS, "interval_prob": P.INTERVAL_PROB}

    def __init__(self, treated_units: Sequence[Any] | None = None,
                 predictors: Sequence[str] | None = None,
                 outcome_lags: Sequence[int] | None = None, v_method: str = "nested",
                 placebo: bool = True, by: str | None = None,
                 by_bins: str | int | None = None, interval_prob: float = INTERVAL_PROB):
        self.treated_units = treated_units
        self.predictors = predictors
        self.outcome_lags = outcome_lags
        self.v_method = v_method
        self.placebo = placebo
        self.by = by
        self.by_bins = by_bins
        self.interval_prob = interval_prob

    def _validate(self) -> None:
        lags = self.outcome_lags
        if lags is not None and not all(isinstance(v, (int, np.integer))
                                        and not isinstance(v, bool) for v in lags):
            raise ParamError(f"outcome_lags: {list(lags)!r} must be a list of years")

    def _check_panel(self, panel: Panel) -> None:
        if not panel.is_balanced:
            raise ParamError("data: synthetic_control needs a balanced panel")
        units = panel.unit_table()
        if (units[COHORT] == 0).sum() < 2:
            raise ParamError("data: synthetic_control needs at least two never-treated donors")
        fitted = self._fitted_units(units, panel.unit)
        self._check_lags(panel, fitted[COHORT].min())

    def _fitted_units(self, units: pd.DataFrame, unit: str) -> pd.DataFrame:
        treated = units[units[COHORT] > 0]
        if self.treated_units is None:
            return treated
        labels = treated[unit].astype(str).tolist()
        for u in self.treated_units:
            if str(u) not in labels:
                raise ParamError(f"treated_units: {u!r} is not a treated unit"
                                 f"{did_you_mean(u, labels)}")
        return treated[treated[unit].astype(str).isin([str(u) for u in self.treated_units])]

    def _check_lags(self, panel: Panel, first_cohort: int) -> None:
        periods = panel.periods
        t0 = int(np.searchsorted(periods, first_cohort))
        if t0 < 2:
            raise ParamError(f"data: cohort {first_cohort} has fewer than 2 pre-treatment periods")
        if self.outcome_lags is None:
            return
        bad = [y for y in self.outcome_lags if y not in periods[:t0]]
        if bad:
            raise ParamError(f"outcome_lags: {bad} are not pre-treatment periods of every "
                             f"fitted unit (before {first_cohort})")

    def _fit(self, panel: Panel) -> Fitted:
        panel = resolve_by(panel, self.by, self.by_bins)
        Y, units, periods = outcome_matrix(panel)
        covars = {c: panel.frame.pivot(index=panel.unit, columns=panel.time, values=c)
                  .loc[units].to_numpy(dtype=float) for c in (self.predictors or [])}
        table = panel.unit_table().set_index(panel.unit).loc[units]
        donors = np.flatnonzero(table[COHORT].to_numpy() == 0)
        fitted = self._fitted_units(table.reset_index(), panel.unit)[panel.unit]
        rows = [units.get_loc(u) for u in fitted]
        cohorts = [int(table[COHORT].iloc[r]) for r in rows]
        nested = self.v_method == "nested" and (bool(covars) or self.outcome_lags is not None)
        items = [(Y, covars, periods, donors, r, g, nested) for r, g in zip(rows, cohorts)]
        pairs = [self._fit_unit(*item) for item in items]
        fits = UnitFits(rows, cohorts, [f for f, _ in pairs], [b for _, b in pairs],
                        self._placebos(items))
        levels = table[self.by].to_numpy() if self.by else None
        results = self._results(panel, Y, units, periods, donors, fits, levels)
        state = SCState(tuple(units[donors]), {str(units[r]): f for r, f in zip(rows, fits.fits)})
        return Fitted(tuple(results), state)

    def _fit_unit(self, Y, covars, periods, donors, r, cohort, nested) -> tuple:
        """The unit's fit and its predictor balance (names, treated, synthetic)."""
        t0 = int(np.searchsorted(periods, cohort))
        X, names = predictor_rows(Y, covars, periods, t0, self.outcome_lags)
        fit = synth_fit(Y[r], Y[donors].T, X[:, r], X[:, donors], t0, nested)
        return fit, (names, X[:, r], X[:, donors] @ fit.weights)

    def _placebos(self, items: list[tuple]) -> list:
        if not self.placebo:
            return [None] * len(items)
        tasks = []
        for Y, covars, periods, donors, r, cohort, nested in items:
            t0 = int(np.searchsorted(periods, cohort))
            X, _ = predictor_rows(Y, covars, periods, t0, self.outcome_lags)
            tasks.append((Y[r], Y[donors].T, X[:, r], X[:, donors], t0, nested))
        return map_with_progress(_placebo_task, tasks, "synthetic control: in-space placebos")

    def _results(self, panel, Y, units, periods, donors, fits: UnitFits,
                 levels) -> list[EffectResult]:
        tables, tests = unit_parts(fits, Y, units, periods, donors)
        effects = pd.concat([pd.DataFrame({
            "unit": units[r], "cohort": g, "time": periods[periods >= g],
            "tau": f.gap[periods >= g], "level": None if levels is None else levels[r]})
            for r, g, f in zip(fits.rows, fits.cohorts, fits.fits)], ignore_index=True)
        settings = Facts("settings", {
            "v_method": self.v_method, "placebo": self.placebo, "donors": int(donors.size),
            "treated_units": [str(units[r]) for r in fits.rows],
            "predictors": list(self.predictors or []),
            "outcome_lags": "every pre-period" if self.outcome_lags is None
            else [int(y) for y in self.outcome_lags]})
        messages = notes(*self._notes(len(fits.rows), donors.size))
        out = []
        for estimand in ESTIMANDS + ((f"ATT_by_{self.by}",) if self.by else ()):
            att = estimand == "ATT"
            p = tests[0].p_value if (att and len(tests) == 1) else np.nan
            out.append(self._aggregate(effects, estimand, p, panel.n_obs, len(units),
                                       tests if att else (), messages,
                                       [settings, *(tables if att else ())]))
        return out

    def _aggregate(self, effects: pd.DataFrame, estimand: str, p_value: float, n_obs: int,
                   n_units: int, tests: Sequence[TestResult], messages: Sequence[Message],
                   parts: Sequence[Part]) -> EffectResult:
        by = self.by if estimand.startswith("ATT_by_") else None
        cells = cells_from_unit_effects(effects, cohort="cohort", time="time", effect="tau",
                                        unit="unit", level="level" if by else None)
        agg = aggregate(cells, estimand, trait=by)
        t = pd.DataFrame({"term": agg.terms, "estimate": agg.estimates, "std_error": np.nan,
                          "lower": np.nan, "upper": np.nan, "p_value": p_value,
                          "prob_positive": np.nan, "n_treated": agg.n_treated})
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=agg.estimand,
                            table=t, n_obs=n_obs, interval_prob=self.interval_prob,
                            interval_kind="none (in-space placebo p-value)",
                            n_clusters=n_units, tests=tuple(tests), messages=messages,
                            parts=parts)

    def _notes(self, n_fitted: int, n_donors: int) -> list[str]:
        how = "inference by in-space placebos" if self.placebo else "no placebos"
        out = [f"synthetic control of {n_fitted} treated unit(s) from {n_donors} never-treated "
               f"donors, V {self.v_method}; no standard errors (ADH 2010), {how}"]
        if n_fitted > 1 and self.placebo:
            out.append("the ATT's p-value is empty with several treated units: each unit's "
                       "placebo rank is a test of its own (use synthetic_did for inference "
                       "on an average)")
        return out


def unit_parts(fits: UnitFits, Y: np.ndarray, units: pd.Index, periods: np.ndarray,
               donors: np.ndarray) -> tuple[list[Table], list[TestResult]]:
    """The parts ``sc_unit_weights``, ``sc_trajectories``, ``sc_placebo_ranks`` (with
    placebos) and ``sc_predictor_balance``, and each unit's placebo test."""
    tabs: dict[str, list] = {k: [] for k in ("sc_unit_weights", "sc_trajectories",
                                             "sc_placebo_ranks", "sc_predictor_balance")}
    tests = []
    for r, cohort, fit, balance, plc in zip(fits.rows, fits.cohorts, fits.fits, fits.balances,
                                            fits.placebos):
        unit_tables(tabs, fit, balance, Y, r, donors, units, cohort, periods)
        if plc is not None:
            p, rank = ratio_p_value(fit, plc)
            tests.append(TestResult(f"in-space placebo: post/pre RMSPE ratio of {units[r]}",
                                    fit.ratio, float(len(plc) + 1), p, "permutation",
                                    note=f"rank {rank} of {len(plc) + 1}"))
            tabs["sc_placebo_ranks"].append(placebo_table(units[r], fit, plc, units[donors]))
    return [Table(k, pd.concat(v, ignore_index=True)) for k, v in tabs.items() if v], tests


def unit_tables(tabs: dict, fit: SynthFit, balance: tuple, Y: np.ndarray, r: int,
                donors: np.ndarray, units: pd.Index, cohort: int, periods: np.ndarray) -> None:
    """Append this unit's weight, trajectory and balance rows to ``tabs``."""
    unit = units[r]
    shown = fit.weights >= SHOWN_WEIGHT
    tabs["sc_unit_weights"].append(pd.DataFrame({
        "treated_unit": str(unit), "unit": units[donors][shown].astype(str),
        "weight": fit.weights[shown]}).sort_values("weight", ascending=False))
    synth = Y[r] - fit.gap
    tabs["sc_trajectories"].append(pd.DataFrame({"unit": str(unit), "cohort": cohort,
                                                 "time": periods, "treated": Y[r],
                                                 "synthetic": synth, "gap": fit.gap}))
    names, treated, synthetic = balance
    tabs["sc_predictor_balance"].append(pd.DataFrame({
        "treated_unit": str(unit), "predictor": names, "treated": treated,
        "synthetic": synthetic, "v": fit.v}))


def placebo_table(unit: Any, fit: SynthFit, placebos: list[SynthFit],
                  donors: pd.Index) -> pd.DataFrame:
    """RMSPE before and after adoption, their ratio and its rank, treated unit first."""
    rows = [(str(unit), True, fit)] + [(str(d), False, p) for d, p in zip(donors, placebos)]
    out = pd.DataFrame({"treated_unit": str(unit), "unit": [r[0] for r in rows],
                        "is_treated": [r[1] for r in rows],
                        "pre_rmspe": [r[2].pre_rmspe for r in rows],
                        "post_rmspe": [r[2].post_rmspe for r in rows],
                        "ratio": [r[2].ratio for r in rows]})
    out["rank"] = out["ratio"].rank(ascending=False, method="min").astype(int)
    return out.sort_values("rank", ignore_index=True)
