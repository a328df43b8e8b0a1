"""Goodman-Bacon (2021) decomposition of the TWFE coefficient into 2x2 DIDs, with the
de Chaisemartin & D'Haultfoeuille (2020) weights of the TWFE coefficient on treated cells."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.panel import COHORT, TREAT, Panel
from ...results.effect import EffectResult, level_equality_test, wald_table
from ...results.parts import Facts, Message, Table, notes, warnings
from ..core import params as P
from ..core.base import Fitted
from ..core.fixest import Coefs
from ..registry import register
from .common import FreqEstimator
from .twfe import twfe_att

#: The comparison types of the decomposition, in Goodman-Bacon's order.
COMPARISON_TYPES = ("treated_vs_never", "earlier_vs_later", "later_vs_earlier")
COMPARISON_COLUMNS = ["treated", "control", "type", "estimate", "weight", "n_treated_units",
                      "n_control_units", "window_start", "window_end"]


@dataclass(frozen=True)
class Decomposition:
    """The 2x2 comparisons of one panel and the TWFE coefficient they average to (a ``bacon``
    fit's state: ``est.comparisons_``, ``est.twfe_``, ``est.negative_share_``,
    ``est.negative_sum_``)."""

    comparisons: pd.DataFrame
    twfe: float
    #: de Chaisemartin-D'Haultfoeuille weights: share of treated cells with a negative weight
    #: and the sum of the negative weights (weights sum to one over treated cells).
    negative_share: float
    negative_sum: float


def cell_means(frame: pd.DataFrame, *, unit: str, time: str, outcome: str
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Timing groups (0 = untreated throughout), periods, group x period mean outcomes and
    units per group, from a balanced panel whose cohort column is recoded (see
    :func:`bacon_frame`)."""
    groups, g = np.unique(frame[COHORT].to_numpy(), return_inverse=True)
    periods, t = np.unique(frame[time].to_numpy(), return_inverse=True)
    g, t = g.ravel(), t.ravel()
    sums = np.zeros((len(groups), len(periods)))
    counts = np.zeros_like(sums)
    np.add.at(sums, (g, t), frame[outcome].to_numpy(dtype=float))
    np.add.at(counts, (g, t), 1.0)
    return groups, periods, sums / counts, counts[:, 0]


def _did(means: np.ndarray, k: int, c: int, pre: np.ndarray, post: np.ndarray) -> float:
    """(post - pre mean of group k) - (post - pre mean of group c)."""
    return float((means[k, post].mean() - means[k, pre].mean())
                 - (means[c, post].mean() - means[c, pre].mean()))


def comparisons_2x2(groups: np.ndarray, periods: np.ndarray, means: np.ndarray,
                    sizes: np.ndarray) -> pd.DataFrame:
    """Every 2x2 DID of Goodman-Bacon (2021, J. Econometrics 225(2), Theorem 1) with its weight.

    Timing group k against the untreated (eq. 10e), earlier k against later l before l is treated
    (10f) and later l against earlier k after k is treated (10g, the already-treated controls);
    ``control`` is the control group's first treated period as text, or ``"never"``;
    weights are the numerators of 10e-g with group shares ``n`` of all units and treated-period
    shares ``D``, normalised to sum to one. On a balanced panel the weighted sum is the TWFE
    coefficient.
    """
    share = sizes / sizes.sum()
    D = np.array([(periods >= g).mean() if g > 0 else 0.0 for g in groups])
    timing = [i for i, g in enumerate(groups) if g > 0]
    rows = []
    if groups[0] == 0:
        for k in timing:
            nk = share[k] / (share[k] + share[0])
            w = (share[k] + share[0]) ** 2 * nk * (1 - nk) * D[k] * (1 - D[k])
            rows.append((k, 0, "treated_vs_never", periods < groups[k], periods >= groups[k], w))
    for a, k in enumerate(timing):
        for l in timing[a + 1:]:
            n = share[k] / (share[k] + share[l])
            s = (share[k] + share[l]) ** 2 * n * (1 - n)
            gk, gl = groups[k], groups[l]
            w_early = s * (1 - D[l]) ** 2 * (D[k] - D[l]) / (1 - D[l]) * (1 - D[k]) / (1 - D[l])
            rows.append((k, l, "earlier_vs_later", periods < gk, (periods >= gk) & (periods < gl),
                         w_early))
            w_late = s * D[k] ** 2 * D[l] / D[k] * (D[k] - D[l]) / D[k]
            rows.append((l, k, "later_vs_earlier", (periods >= gk) & (periods < gl),
                         periods >= gl, w_late))
    total = sum(r[5] for r in rows)
    out = [{"treated": int(groups[k]), "control": "never" if groups[c] == 0 else str(groups[c]),
            "type": kind, "estimate": _did(means, k, c, pre, post), "weight": w / total,
            "n_treated_units": int(sizes[k]), "n_control_units": int(sizes[c]),
            "window_start": int(periods[pre | post].min()),
            "window_end": int(periods[pre | post].max())}
           for k, c, kind, pre, post, w in rows if pre.any() and post.any()]
    return pd.DataFrame(out, columns=COMPARISON_COLUMNS)


def negative_weights(frame: pd.DataFrame, *, unit: str, time: str) -> tuple[float, float]:
    """Share of treated (unit, period) cells with a negative weight in the TWFE coefficient and
    the sum of those weights (de Chaisemartin & D'Haultfoeuille 2020, AER 110(9), Theorem 1):
    ``w_it = e_it / sum_treated e``, ``e`` the residual of the treatment on unit and period
    fixed effects (balanced panel: two-way demeaning)."""
    d = frame[TREAT].to_numpy(dtype=float)
    u = pd.factorize(frame[unit])[0]
    t = pd.factorize(frame[time])[0]
    unit_mean = np.bincount(u, weights=d) / np.bincount(u)
    time_mean = np.bincount(t, weights=d) / np.bincount(t)
    eps = d - unit_mean[u] - time_mean[t] + d.mean()
    w = eps[d == 1] / eps[d == 1].sum()
    return float((w < 0).mean()), float(w[w < 0].sum())


def bacon_frame(panel_frame: pd.DataFrame, *, unit: str, time: str
                ) -> tuple[pd.DataFrame, tuple[Message, ...]]:
    """The balanced sample the decomposition holds on: units not observed in every period are
    dropped (a warning) and units treated from the first period join the untreated group
    (Goodman-Bacon 2021, fn. 11; a note). Returns a new frame and the messages."""
    frame, dropped, joined = panel_frame, None, None
    counts = frame.groupby(unit)[time].transform("nunique")
    n_periods = frame[time].nunique()
    if (counts < n_periods).any():
        dropped = (f"dropped {frame.loc[counts < n_periods, unit].nunique()} units not "
                   "observed in every period (the decomposition needs a balanced panel)")
        frame = frame.loc[counts == n_periods]
    first = frame[time].min()
    always = (frame[COHORT] > 0) & (frame[COHORT] <= first)
    frame = frame.copy()
    if always.any():
        joined = (f"{frame.loc[always, unit].nunique()} units treated from the first period "
                  f"({first}) join the untreated comparison group (Goodman-Bacon 2021, fn. 11)")
        frame.loc[always, COHORT] = 0
        frame.loc[always, TREAT] = 0
    return frame, warnings(dropped) + notes(joined)


def decompose(frame: pd.DataFrame, *, unit: str, time: str, outcome: str) -> Decomposition:
    """The decomposition of a balanced frame from :func:`bacon_frame`."""
    groups, periods, means, sizes = cell_means(frame, unit=unit, time=time, outcome=outcome)
    table = comparisons_2x2(groups, periods, means, sizes)
    share, total = negative_weights(frame, unit=unit, time=time)
    twfe = float((table["estimate"] * table["weight"]).sum())
    return Decomposition(table, twfe, share, total)


def by_type(table: pd.DataFrame) -> pd.DataFrame:
    """Weight and weighted-average 2x2 estimate of each comparison type."""
    rows = []
    for kind in COMPARISON_TYPES:
        part = table[table["type"] == kind]
        w = float(part["weight"].sum())
        est = float((part["estimate"] * part["weight"]).sum() / w) if w > 0 else np.nan
        rows.append({"type": kind, "weight": w, "estimate": est, "n_comparisons": len(part)})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class _Shared:
    """What every result of one fit reports: the TWFE fit, settings, parts and messages."""

    coefs: Coefs
    settings: dict
    decomposition: Facts
    messages: tuple[Message, ...]


def decomposition_facts(dec: Decomposition, twfe: float) -> Facts:
    """The decomposed coefficient, the weight of each comparison type and the negative
    weights, as the ``decomposition`` part."""
    types = by_type(dec.comparisons)
    return Facts("decomposition", {
        "twfe": dec.twfe, "decomposition_error": abs(dec.twfe - twfe),
        "weight_by_type": dict(zip(types["type"], types["weight"].astype(float))),
        "negative_weight_share": dec.negative_share,
        "negative_weight_sum": dec.negative_sum})


@register("bacon")
class Bacon(FreqEstimator):
    """Goodman-Bacon (2021) decomposition of the TWFE coefficient (R ``bacondecomp``, Stata
    ``bacondecomp``, diff-diff ``BaconDecomposition`` with exact weights).

    ``ATT`` is the TWFE coefficient of ``y ~ D | unit + time`` (no covariates) with CRV1 errors
    clustered by ``cluster`` -- the number being decomposed, not a heterogeneity-robust
    estimate. ``ATT_comparison`` holds the weighted-average 2x2 estimate of each comparison
    type (``treated_vs_never``, ``earlier_vs_later``, ``later_vs_earlier``: later-treated
    units against already-treated controls). ``ATT`` carries the ``comparisons`` table, one
    row per 2x2 (treated and control timing group, type, estimate, weight, units, window): the
    data of the estimate-against-weight plot
    (:func:`bayescity.reports.referee_figures.bacon_plot`, drawn in the report's referee
    section). Its ``decomposition`` facts hold the decomposed coefficient, the weight of each
    comparison type and de Chaisemartin & D'Haultfoeuille's (2020) share and sum of negative
    TWFE weights on treated cells; the fit's state is the :class:`Decomposition`
    (``est.comparisons_``). With ``by=<trait>`` each level is decomposed on its own units
    (``ATT_by_<trait>``, its TWFE coefficients with a Wald test of equality, and the levels'
    comparisons). The decomposition needs a balanced panel: units missing periods are dropped
    (a warning).
    """

    params = {"cluster": P.CLUSTER, "by": P.BY, "interval_prob": P.INTERVAL_PROB,
              "by_bins": P.BY_BINS}

    def __init__(self, cluster: str | None = None, by: str | None = None,
                 interval_prob: float = INTERVAL_PROB, by_bins: str | int | None = None):
        self.cluster = cluster
        self.by = by
        self.interval_prob = interval_prob
        self.by_bins = by_bins

    def _fit(self, panel: Panel) -> Fitted:
        panel = self._panel(panel)
        frame, messages = bacon_frame(panel.frame, unit=panel.unit, time=panel.time)
        spec = dict(unit=panel.unit, time=panel.time, outcome=panel.outcome)
        cluster = self.cluster or panel.cluster_col
        dec = decompose(frame, **spec)
        coefs = twfe_att(frame, **spec, covariates=[], vcov="CRV1", cluster=cluster)
        shared = _Shared(coefs, {"vcov": coefs.vcov_type, "df": coefs.df_t, "cluster": cluster,
                                 "covariates": []},
                         decomposition_facts(dec, float(coefs.estimates[0])),
                         messages + notes(self._weights_note(dec),
                                          "ATT is the TWFE coefficient the decomposition "
                                          "explains, without covariates"))
        n_treated = int(frame.loc[frame[TREAT] == 1, panel.unit].nunique())
        out = [self._wald("ATT", ["overall"], coefs.estimates, coefs.vcov, shared, [n_treated],
                          Table("comparisons", dec.comparisons)),
               self._types_result(by_type(dec.comparisons), shared)]
        if self.by:
            out.append(self._by_result(frame, spec, cluster, shared))
        return Fitted(tuple(out), dec)

    @staticmethod
    def _weights_note(dec: Decomposition) -> str:
        return (f"de Chaisemartin-D'Haultfoeuille weights: {dec.negative_share:.1%} of treated "
                f"cells carry a negative TWFE weight (sum {dec.negative_sum:.3f})")

    def _wald(self, estimand: str, terms: Sequence[str], estimates: np.ndarray, vcov: np.ndarray,
              shared: _Shared, n_treated, comparisons: Table, tests=()) -> EffectResult:
        c = shared.coefs
        table = wald_table(terms, estimates, vcov, interval_prob=self.interval_prob, df=c.df_t)
        table["n_treated"] = n_treated
        return EffectResult(method=self.method, paradigm=self.paradigm, estimand=estimand,
                            table=table, n_obs=c.n_obs, interval_prob=self.interval_prob,
                            interval_kind=f"t_{c.vcov_type}", n_clusters=c.n_clusters,
                            tests=tuple(tests), vcov=vcov, messages=shared.messages,
                            parts=[Facts("settings", shared.settings), shared.decomposition,
                                   comparisons])

    def _types_result(self, types: pd.DataFrame, shared: _Shared) -> EffectResult:
        kept = types[types["weight"] > 0]
        table = pd.DataFrame({"term": kept["type"], "estimate": kept["estimate"],
                              "std_error": np.nan, "lower": np.nan, "upper": np.nan,
                              "p_value": np.nan, "prob_positive": np.nan})
        return EffectResult(method=self.method, paradigm=self.paradigm,
                            estimand="ATT_comparison", table=table, n_obs=shared.coefs.n_obs,
                            interval_prob=self.interval_prob, interval_kind="none",
                            n_clusters=shared.coefs.n_clusters,
                            messages=shared.messages + notes(
                                "weighted-average 2x2 estimates by comparison type (weights: "
                                "the decomposition's weight_by_type); no standard errors (a "
                                "decomposition)"),
                            parts=[Facts("settings", shared.settings), shared.decomposition])

    def _by_result(self, frame: pd.DataFrame, spec: dict, cluster: str,
                   shared: _Shared) -> EffectResult:
        levels = sorted(pd.unique(frame[self.by]), key=str)
        estimates, variances, tables, n_treated = [], [], [], []
        for level in levels:
            part = frame.loc[frame[self.by] == level]
            c = twfe_att(part, **spec, covariates=[], vcov="CRV1", cluster=cluster)
            estimates.append(float(c.estimates[0]))
            variances.append(float(c.vcov[0, 0]))
            tables.append(decompose(part, **spec).comparisons.assign(level=str(level)))
            n_treated.append(int(part.loc[part[TREAT] == 1, spec["unit"]].nunique()))
        vcov = np.diag(variances)
        terms = [str(lv) for lv in levels]
        test = level_equality_test(self.by, np.array(estimates), vcov,
                                   df_denom=shared.coefs.df_t, terms=terms)
        return self._wald(f"ATT_by_{self.by}", terms, np.array(estimates), vcov, shared,
                          n_treated, Table("comparisons", pd.concat(tables, ignore_index=True)),
                          () if test is None else (test,))
