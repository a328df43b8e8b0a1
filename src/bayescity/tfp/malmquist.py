"""The Malmquist productivity index between adjacent periods, DEAP's way, and its global variant.

Scores are Farrell efficiencies ``e^s(t)``: the unit's period-``t`` inputs and outputs measured
against the frontier of period ``s`` (``1/phi`` in output orientation, ``theta`` in input
orientation; above one when the unit lies outside that frontier). The row of ``(unit, t)`` holds
the change from the previous period ``t-1`` to ``t``; the first period of a unit has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from .dea import DEAData, frontier_units, own_frontier, prepare_inputs, scores
from .lp import ORIENTATION_CHOICES, RTS_CHOICES, check_choice

#: DEAP's Malmquist columns, in DEAP's order.
INDEX_COLUMNS = ("effch", "techch", "pech", "sech", "tfpch")
DISTANCE_COLUMNS = ("te_prev", "te", "te_next", "vrs_te", "te_global")
FRONTIER_CHOICES = ("adjacent", "global")


@dataclass(frozen=True)
class MalmquistResult:
    """A Malmquist index table and everything needed to read it.

    ``table``: one row per row of the input (``unit``, ``time`` under the caller's column names)
    with ``effch, techch, pech, sech, tfpch`` (empty in a unit's first period, where the unit was
    skipped, where a programme was infeasible, and ``pech``/``sech`` under ``rts="crs"``).
    ``distances``: the efficiency scores behind it (DEAP's distances summary), ``infeasible``: the
    cross-period programmes without a solution, ``skipped``: rows left out for missing inputs.
    """

    table: pd.DataFrame
    distances: pd.DataFrame
    infeasible: pd.DataFrame
    skipped: pd.DataFrame
    notes: tuple[str, ...] = ()
    params: dict = field(default_factory=dict)

    def deap(self) -> pd.DataFrame:
        """``table`` with DEAP's column names: ``unit, time, effch, techch, pech, sech, tfpch``."""
        unit, time = self.table.columns[:2]
        return self.table.rename(columns={unit: "unit", time: "time"})

    def annual_means(self) -> pd.DataFrame:
        """Geometric means of each component by period (DEAP's annual means), first period out."""
        time = self.table.columns[1]
        logs = np.log(self.table[list(INDEX_COLUMNS)]).assign(**{time: self.table[time]})
        means = np.exp(logs.groupby(time).mean()).dropna(how="all")
        return means.reset_index()


def _period_scores(data: DEAData, rts: str, orientation: str, technology: str) -> dict:
    """Own-period scores under the index technology (and under VRS when the split needs them),
    with the frontier units of each period as its reference set."""
    own, vrs_own, refs = np.full(len(data.frame), np.nan), np.full(len(data.frame), np.nan), {}
    for period in data.periods:
        rows = data.rows_of(period)
        X, Y = data.X[rows], data.Y[rows]
        eff, frontier = own_frontier(X, Y, technology, orientation)
        own[rows], refs[period] = eff, rows[frontier]
        if rts == "vrs":
            vrs_own[rows] = eff if technology == "vrs" else own_frontier(X, Y, "vrs", orientation)[0]
    return {"te": own, "vrs_te": vrs_own, "refs": refs}


def _cross_scores(data: DEAData, refs: dict, technology: str, orientation: str):
    """Each period's units against the previous and the next period's frontier."""
    prev, nxt = np.full(len(data.frame), np.nan), np.full(len(data.frame), np.nan)
    periods = data.periods
    for a, b in zip(periods[:-1], periods[1:]):
        ra, rb = data.rows_of(a), data.rows_of(b)
        nxt[ra] = scores(data.X[ra], data.Y[ra], data.X[refs[b]], data.Y[refs[b]], technology,
                         orientation)
        prev[rb] = scores(data.X[rb], data.Y[rb], data.X[refs[a]], data.Y[refs[a]], technology,
                          orientation)
    return prev, nxt


def _global_scores(data: DEAData, refs: dict, technology: str, orientation: str) -> np.ndarray:
    """Scores against the one frontier spanned by every period's data (Pastor & Lovell 2005):
    the union of the period frontiers spans it, and every unit lies inside it."""
    pool = frontier_units(data.X, data.Y, np.concatenate(list(refs.values())), technology,
                          orientation)
    return scores(data.X, data.Y, data.X[pool], data.Y[pool], technology, orientation,
                  feasible=True)


def _with_previous(data: DEAData, dist: pd.DataFrame) -> pd.DataFrame:
    """Scores of each row next to those of the same unit in the previous period of the panel."""
    order = {p: i for i, p in enumerate(data.periods)}
    d = dist.assign(_k=dist[data.time].map(order)).sort_values([data.unit, "_k"], kind="mergesort")
    prev = d.groupby(data.unit, sort=False).shift(1)
    adjacent = (d["_k"] - prev["_k"]) == 1
    return d.join(prev.where(adjacent).add_suffix("_0")).drop(columns=["_k", "_k_0"])


def index_components(d: pd.DataFrame, frontier: str) -> pd.DataFrame:
    """Malmquist components from paired scores (suffix ``_0``: the same unit one period before).

    Adjacent frontiers (Färe, Grosskopf, Norris & Zhang 1994): ``effch = e^t(t) / e^{t-1}(t-1)``,
    ``techch = sqrt(e^{t-1}(t) / e^t(t) * e^{t-1}(t-1) / e^t(t-1))``. Global frontier (Pastor &
    Lovell 2005): ``techch = [e^G(t) / e^t(t)] / [e^G(t-1) / e^{t-1}(t-1)]``, the change in the
    gap between the period and the global frontier. Always ``tfpch = effch * techch`` and, with
    variable-returns scores, ``pech = v^t(t) / v^{t-1}(t-1)`` and ``sech = effch / pech``.
    """
    effch = d["te"] / d["te_0"]
    if frontier == "adjacent":
        techch = np.sqrt(d["te_prev"] / d["te"] * d["te_0"] / d["te_next_0"])
    else:
        techch = (d["te_global"] / d["te"]) / (d["te_global_0"] / d["te_0"])
    pech = d["vrs_te"] / d["vrs_te_0"]
    return pd.DataFrame({"effch": effch, "techch": techch, "pech": pech,
                         "sech": effch / pech, "tfpch": effch * techch}, index=d.index)


def _infeasible(data: DEAData, dist: pd.DataFrame, frontier: str) -> pd.DataFrame:
    """Cross-period programmes that were attempted and had no solution."""
    periods = data.periods
    rows = []
    if frontier == "adjacent" and len(periods) > 1:
        k = np.searchsorted(periods, dist[data.time].to_numpy())
        for col, shift, ok in (("te_prev", -1, k > 0), ("te_next", 1, k < len(periods) - 1)):
            bad = dist[col].isna().to_numpy() & ok
            rows.append(pd.DataFrame({data.unit: dist[data.unit].to_numpy()[bad],
                                      data.time: dist[data.time].to_numpy()[bad],
                                      "frontier": periods[k[bad] + shift]}))
    return (pd.concat(rows, ignore_index=True) if rows else
            pd.DataFrame(columns=[data.unit, data.time, "frontier"]))


def _notes(data: DEAData, infeasible: pd.DataFrame, table: pd.DataFrame,
           rts: str) -> tuple[str, ...]:
    notes = [] if rts == "vrs" else ["pech and sech are empty: the scale split of effch needs "
                                     "rts: vrs"]
    if len(data.skipped):
        notes.append(f"{len(data.skipped)} unit-years skipped for a missing, zero or negative "
                     f"input or output ({', '.join(sorted(set(data.skipped['columns'])))})")
    if len(infeasible):
        notes.append(f"{len(infeasible)} cross-period VRS programmes are infeasible (the unit lies "
                     "outside the other period's technology); techch and tfpch are empty for "
                     f"{int(table['techch'].isna().sum() - table['effch'].isna().sum())} unit-years"
                     " (frontier: global has no infeasible programmes)")
    gaps = np.diff(data.periods)
    if len(gaps) and (gaps > gaps.min()).any():
        notes.append("periods without usable data are passed over: "
                     + ", ".join(f"{a}->{b}" for a, b, g in zip(data.periods[:-1], data.periods[1:],
                                                                gaps) if g > gaps.min())
                     + " are compared as adjacent")
    return tuple(notes)


def malmquist(frame: pd.DataFrame, *, unit: str, time: str, inputs: Sequence[str],
              outputs: Sequence[str], rts: str = "crs", orientation: str = "output",
              technology: str = "crs", frontier: str = "adjacent", missing: str = "error",
              source: str = "<DataFrame>") -> MalmquistResult:
    """The DEA Malmquist productivity index of every unit between adjacent periods.

    Defaults reproduce DEAP 2.1 (Coelli 1996): the index and its split ``tfpch = effch * techch``
    are measured on constant-returns frontiers (Färe, Grosskopf, Norris & Zhang 1994), in either
    orientation. ``rts="vrs"`` adds DEAP's split of efficiency change into pure technical
    efficiency change and scale efficiency change, ``effch = pech * sech``, from variable-returns
    scores of each period against its own frontier (always feasible). ``technology="vrs"``
    measures the index itself on variable-returns frontiers; a unit outside the other period's
    technology then has no cross-period score, which is reported in ``infeasible`` and
    ``notes`` and leaves its techch and tfpch empty. ``frontier="global"`` measures every period
    against the one frontier of all periods (Pastor & Lovell 2005): circular and never infeasible.
    ``missing``: ``"error"`` refuses rows with a missing, zero or negative input or output,
    ``"skip"`` leaves them out and reports them.
    """
    for name, value, choices in (("rts", rts, RTS_CHOICES), ("technology", technology, RTS_CHOICES),
                                 ("orientation", orientation, ORIENTATION_CHOICES),
                                 ("frontier", frontier, FRONTIER_CHOICES)):
        check_choice(name, value, choices)
    data = prepare_inputs(frame, unit=unit, time=time, inputs=inputs, outputs=outputs,
                          missing=missing, source=source)
    own = _period_scores(data, rts, orientation, technology)
    dist = data.frame[[unit, time]].assign(te_prev=np.nan, te=own["te"], te_next=np.nan,
                                           vrs_te=own["vrs_te"], te_global=np.nan)
    if frontier == "adjacent":
        dist["te_prev"], dist["te_next"] = _cross_scores(data, own["refs"], technology, orientation)
    elif len(data.frame):
        dist["te_global"] = _global_scores(data, own["refs"], technology, orientation)
    parts = index_components(_with_previous(data, dist), frontier).reindex(dist.index)
    table = frame[[unit, time]].reset_index(drop=True)
    for col in INDEX_COLUMNS:
        table[col] = data.to_rows(parts[col].to_numpy())
    infeasible = _infeasible(data, dist, frontier)
    params = dict(inputs=list(inputs), outputs=list(outputs), rts=rts, orientation=orientation,
                  technology=technology, frontier=frontier, missing=missing)
    return MalmquistResult(table=table, distances=dist, infeasible=infeasible,
                           skipped=data.skipped, notes=_notes(data, infeasible, table, rts),
                           params=params)
