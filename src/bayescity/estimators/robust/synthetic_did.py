"""Synthetic difference-in-differences (``method: synthetic_did``), cohort by cohort."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, Panel
from ...estimands import CellEffects, aggregate
from ...results.effect import EffectResult, wald_table
from ...results.parts import Facts, Message, Part, Table, notes, warnings
from ..core import params as P
from ..core.base import Estimator, Fitted, ParamError, resolve_by
from ..core.seeds import RandomState, child_seeds
from ..core.tasks import map_with_progress
from ..registry import register
from .sdid_design import (VARIANCES, Design, cells, fit_blocks, replicate, replicate_vcov)
from .sdid_solver import BlockFit

#: Replications per task of the variance loop (each task has its own seed).
BATCH = 25
COHORT_ESTIMANDS = ("ATT", "ATT_event", "ATT_cohort", "ATT_calendar")
#: Fewest pre-periods a cohort needs (the noise level is the sd of first differences).
MIN_PRE = 2


def outcome_matrix(panel: Panel) -> tuple[np.ndarray, pd.Index, np.ndarray]:
    """Units x periods outcome matrix of a balanced panel, units and periods sorted."""
    wide = panel.frame.pivot(index=panel.unit, columns=panel.time, values=panel.outcome)
    return wide.to_numpy(dtype=float), wide.index, wide.columns.to_numpy(dtype=np.int64)


def build_design(panel: Panel, by: str | None) -> tuple[Design, pd.Index, list[int]]:
    """The :class:`Design` of a balanced panel: never-treated units first, then the units of
    every cohort with at least :data:`MIN_PRE` pre-periods. Returns the design, the units in
    row order and the cohorts left out for lack of pre-periods."""
    Y, units, periods = outcome_matrix(panel)
    table = panel.unit_table().set_index(panel.unit).loc[units]
    cohort = table[COHORT].to_numpy(dtype=np.int64)
    t0 = np.searchsorted(periods, cohort)
    usable = (cohort > 0) & (t0 >= MIN_PRE)
    dropped = sorted({int(g) for g in cohort[(cohort > 0) & ~usable]})
    order = np.concatenate([np.flatnonzero(cohort == 0),
                            np.flatnonzero(usable)[np.argsort(cohort[usable], kind="stable")]])
    n0 = int((cohort == 0).sum())
    g = cohort[order[n0:]]
    level = None if by is None else table[by].astype(str).to_numpy()[order[n0:]]
    blocks, members = [], []
    for c in np.unique(g):
        blocks.append((int(c), None))
        members.append(g == c)
        for lv in ([] if level is None else sorted(set(level[g == c]))):
            blocks.append((int(c), lv))
            members.append((g == c) & (level == lv))
    design = Design(Y[order], periods, n0, np.array(members), tuple(blocks))
    return design, units[order], dropped


@dataclass(frozen=True)
class TermSet:
    """Estimates of every term of every estimand, flattened in a fixed order."""

    keys: tuple[tuple[str, str], ...]
    estimates: np.ndarray
    n_treated: np.ndarray


def term_set(design: Design, curves: Sequence, sizes: Sequence[int],
             trait: str | None) -> TermSet:
    """Aggregate block curves with the shared treated-cell weights (estimands.aggregate)."""
    table = cells(design, curves, sizes)
    keys, est, n_tr = [], [], []
    parts = [(table[table["level"].isna()], e, None) for e in COHORT_ESTIMANDS]
    if trait is not None:
        parts.append((table[table["level"].notna()], f"ATT_by_{trait}", trait))
    for part, estimand, by in parts:
        cols = ["cohort", "time", "weight"] + (["level"] if by else [])
        ce = CellEffects(cells=part[cols], estimates=part["estimate"].to_numpy())
        agg = aggregate(ce, estimand, trait=by)
        keys += [(agg.estimand, t) for t in agg.terms]
        est += list(agg.estimates)
        n_tr += list(agg.n_treated)
    return TermSet(tuple(keys), np.asarray(est), np.asarray(n_tr, dtype=np.int64))


def _replicate_task(item) -> list[dict]:
    design, fits, variance, draws, seed, trait = item
    rng = None if seed is None else np.random.default_rng(seed)
    out = []
    for curves, sizes in replicate(design, fits, variance, draws, rng):
        ts = term_set(design, curves, sizes, trait)
        out.append(dict(zip(ts.keys, ts.estimates)))
    return out


def variance_replications(design: Design, fits: Sequence[BlockFit], variance: str,
                          n_reps: int, random_state: RandomState, trait: str | None,
                          keys: Sequence[tuple[str, str]]) -> np.ndarray:
    """Replications x terms of the whole staggered estimator (NaN where a draw lacks a term)."""
    if variance == "jackknife":
        units = np.arange(design.Y.shape[0])
        batches = [units[i:i + BATCH] for i in range(0, units.size, BATCH)]
        items = [(design, fits, variance, b, None, trait) for b in batches]
        sizes = [b.size for b in batches]
    else:
        counts = [min(BATCH, n_reps - i) for i in range(0, n_reps, BATCH)]
        seeds = child_seeds(random_state, len(counts))
        items = [(design, fits, variance, c, s, trait) for c, s in zip(counts, seeds)]
        sizes = counts
    done = map_with_progress(_replicate_task, items, f"synthetic DID {variance}", sizes)
    flat = [row for batch in done for row in batch]
    return np.array([[row.get(k, np.nan) for k in keys] for row in flat])


@dataclass(frozen=True)
class SDIDState:
    """What a fit keeps: the block design (``design_``: outcome matrix, never-treated rows
    first), the units in its row order (``units_``) and each block's weights and effects
    (``fits_``: omega, lambda, the per-period effects; blocks as ``design_.blocks``)."""

    design: Design
    units: tuple
    fits: tuple[BlockFit, ...]


@register("synthetic_did")
class SyntheticDiD(Estimator):
    """Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager
    2021), as R ``synthdid``, with staggered adoption handled cohort by cohort.

    Each cohort is a block design against the never-treated units, with its own unit weights
    (``omega``), time weights (``lambda``) and R synthdid's default regularisation; its
    per-period effects are aggregated with the shared treated-cell weights, so ``ATT`` weighs
    each cohort's estimate by its treated unit-periods (Clarke et al. 2023, Stata ``sdid``).
    With ``by`` each cohort x level is a block of its own. ``variance``: ``bootstrap``
    (default, as R's ``vcov``), ``placebo`` (the only choice with one treated unit; needs more
    never-treated than treated units) or ``jackknife`` (fixed weights; needs two treated units
    in every block), each of the whole staggered estimator, ``n_reps`` replications (R's
    ``replications``, 200). Normal intervals and p-values from the replication variance.

    Results: ``ATT``, ``ATT_event`` (e >= 0), ``ATT_cohort``, ``ATT_calendar`` and
    ``ATT_by_<trait>``; ``ATT`` carries the parts ``sdid_trajectories`` (treated and synthetic
    means per cohort and period, the synthetic line shifted by the lambda-weighted pre-period
    gap), ``sdid_unit_weights`` and ``sdid_time_weights``. The fitted weights are ``fits_``.
    """

    paradigm = "frequentist"
    params = {"variance": P.Spec("choice", "variance of the whole staggered estimator: "
                                           "bootstrap (R synthdid's default), placebo (one "
                                           "treated unit) or jackknife", choices=VARIANCES),
              "n_reps": P.Spec("int", "bootstrap or placebo replications (R synthdid: 200); "
                                      "the jackknife leaves each unit out once", low=2),
              "by": P.BY, "by_bins": P.BY_BINS, "interval_prob": P.INTERVAL_PROB,
              "random_state": P.RANDOM_STATE}
    smoke_params = {"n_reps": 30}

    def __init__(self, variance: str = "bootstrap", n_reps: int = 200, by: str | None = None,
                 by_bins: str | int | None = None, interval_prob: float = INTERVAL_PROB,
                 random_state: RandomState = None):
        self.variance = variance
        self.n_reps = n_reps
        self.by = by
        self.by_bins = by_bins
        self.interval_prob = interval_prob
        self.random_state = random_state

    def _check_panel(self, panel: Panel) -> None:
        panel = resolve_by(panel, self.by, self.by_bins)
        if not panel.is_balanced:
            missing = panel.n_units * panel.n_periods - panel.n_obs
            raise ParamError(f"data: synthetic_did needs a balanced panel; {missing} unit-periods "
                             "are missing")
        design, _, dropped = build_design(panel, self.by)
        check_blocks(design, dropped, self.variance)

    def _fit(self, panel: Panel) -> Fitted:
        panel = resolve_by(panel, self.by, self.by_bins)
        design, units, dropped = build_design(panel, self.by)
        fits = fit_blocks(design)
        sizes = design.members.sum(axis=1)
        full = term_set(design, [f.curve for f in fits], sizes, self.by)
        reps = variance_replications(design, fits, self.variance, int(self.n_reps),
                                     self.random_state, self.by, full.keys)
        vcov = replicate_vcov(reps, self.variance)
        settings = Facts("settings", self._settings(design, dropped, reps.shape[0]))
        messages = (*notes(*self._notes(panel)), *warnings(*self._warnings(dropped)))
        tables = weight_tables(design, fits, units)
        results = tuple(self._result(full, vcov, estimand, panel, messages,
                                     [settings, *(tables if estimand == "ATT" else ())])
                        for estimand in dict.fromkeys(k[0] for k in full.keys))
        return Fitted(results, SDIDState(design, tuple(units), tuple(fits)))

    def _result(self, full: TermSet, vcov: np.ndarray, estimand: str, panel: Panel,
                messages: Sequence[Message], parts: Sequence[Part]) -> EffectResult:
        idx = [i for i, k in enumerate(full.keys) if k[0] == estimand]
        v = vcov[np.ix_(idx, idx)]
        table = wald_table([full.keys[i][1] for i in idx], full.estimates[idx], v,
                           interval_prob=self.interval_prob)
        table["n_treated"] = full.n_treated[idx]
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=panel.n_obs, interval_prob=self.interval_prob,
                            interval_kind=f"wald_{self.variance}", n_clusters=panel.n_units,
                            vcov=v, messages=messages, parts=parts)

    def _settings(self, design: Design, dropped: list[int], n_reps: int) -> dict:
        return {"variance": self.variance, "replications": n_reps,
                "cohorts": sorted({c for c, _ in design.blocks}), "cohorts_dropped": dropped,
                "never_treated_units": design.n_controls,
                "treated_units": int(design.Y.shape[0] - design.n_controls),
                "intervals": "normal, from the replication variance"}

    def _notes(self, panel: Panel) -> list[str]:
        out = [f"synthetic DID cohort by cohort against the never-treated units, aggregated "
                 f"with treated-cell weights; {self.variance} variance of the whole staggered "
                 f"estimator ({self.n_reps if self.variance != 'jackknife' else 'one per unit'} "
                 "replications), normal intervals"]
        if self.variance == "placebo":
            out.append("variance: placebo (R synthdid's vcov defaults to bootstrap)")
        if panel.covariates:
            out.append(f"covariates {list(panel.covariates)} not used: the weights match the "
                         "outcome alone (R synthdid without X)")
        return out

    @staticmethod
    def _warnings(dropped: list[int]) -> list[str]:
        return [f"cohorts {dropped} left out: fewer than {MIN_PRE} pre-treatment periods"] \
            if dropped else []


def check_blocks(design: Design, dropped: list[int], variance: str) -> None:
    """What the block design needs before any fit, in the config's words."""
    n0, n1 = design.n_controls, design.Y.shape[0] - design.n_controls
    if n0 < 2:
        raise ParamError(f"data: synthetic_did needs never-treated units as controls; the panel "
                         f"has {n0}")
    if n1 == 0:
        raise ParamError(f"data: no cohort has {MIN_PRE} pre-treatment periods "
                         f"(cohorts {dropped})")
    if variance == "placebo" and n0 <= n1:
        raise ParamError(f"variance: placebo needs more never-treated units ({n0}) than treated "
                         f"units ({n1}); use bootstrap or jackknife")
    if variance == "bootstrap" and n1 < 2:
        raise ParamError("variance: bootstrap is undefined with one treated unit (R synthdid "
                         "returns NA); use placebo")
    small = [design.blocks[k] for k, m in enumerate(design.members) if m.sum() < 2]
    if variance == "jackknife" and small:
        cohort, level = small[0]
        where = f"cohort {cohort}" + (f", level {level}" if level is not None else "")
        raise ParamError(f"variance: jackknife needs two treated units in every block; {where} "
                         "has one (use placebo or bootstrap)")


def weight_tables(design: Design, fits: Sequence[BlockFit], units: pd.Index) -> list[Table]:
    """The parts ``sdid_trajectories``, ``sdid_unit_weights`` (non-zero) and
    ``sdid_time_weights``, per cohort block."""
    traj, uw, tw = [], [], []
    for k, ((cohort, level), fit) in enumerate(zip(design.blocks, fits)):
        if level is not None:
            continue
        t0 = design.t0(cohort)
        treated = design.Y[design.n_controls:][design.members[k]].mean(axis=0)
        synth = fit.omega @ design.Y[:design.n_controls]
        shift = (treated[:t0] - synth[:t0]) @ fit.lam
        lam = np.concatenate([fit.lam, np.zeros(design.periods.size - t0)])
        traj.append(pd.DataFrame({"cohort": cohort, "time": design.periods, "treated": treated,
                                  "synthetic": synth, "synthetic_shifted": synth + shift,
                                  "time_weight": lam}))
        nz = np.flatnonzero(fit.omega > 0)
        uw.append(pd.DataFrame({"cohort": cohort, "unit": units[:design.n_controls][nz]
                                .astype(str), "weight": fit.omega[nz]}))
        tw.append(pd.DataFrame({"cohort": cohort, "time": design.periods[:t0],
                                "weight": fit.lam}))
    unit_weights = pd.concat(uw, ignore_index=True).sort_values(
        ["cohort", "weight"], ascending=[True, False], ignore_index=True)
    return [Table("sdid_trajectories", pd.concat(traj, ignore_index=True)),
            Table("sdid_unit_weights", unit_weights),
            Table("sdid_time_weights", pd.concat(tw, ignore_index=True))]
