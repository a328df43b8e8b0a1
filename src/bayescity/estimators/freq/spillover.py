"""Direct effects and spillovers on untreated neighbours (``method: spillover``)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ...constants import INTERVAL_PROB
from ...data.errors import PanelError
from ...data.panel import COHORT, TREAT, Panel
from ...data.spatial import (band_rings, coordinate_problems, exposure_rings, haversine_km,
                             read_neighbours, ring_labels)
from ...results.effect import EffectResult
from ...results.parts import Table, notes, warnings
from ..core import params as P
from ..core.base import Fitted, ParamError
from ..core.covariates import covariate_report
from ..core.fixest import predict_untreated
from ..registry import register
from .common import FreqEstimator
from .es_common import Combined, Inference, aggregate_cells, effect_result
from .imputation import RESID, cell_codes, first_stage_design, gardner_vcov

RING = "_bc_ring"
SPILLOVER_ESTIMAND = "spillover"
DIRECT_ESTIMANDS = ("ATT", "ATT_event", "ATT_cohort", "ATT_calendar")
NO_STRUCTURE = ("give exactly one spatial structure: `coordinates: [lat, lon]` with `bands`, "
                "or `weights: <file>`")


def neighbour_orders(panel: Panel, units: pd.Index, coordinates: Sequence[str] | None,
                     bands: Sequence[float] | None, weights: str | None) -> tuple[np.ndarray, list]:
    """``order[i, j]``: the ring unit ``j`` puts unit ``i`` in (0: not a neighbour), and the
    ring labels."""
    if coordinates is not None:
        table = panel.frame.groupby(panel.unit)[list(coordinates)].first().loc[units]
        dist = haversine_km(table[coordinates[0]].to_numpy(float),
                            table[coordinates[1]].to_numpy(float))
        order = band_rings(dist, bands)
        np.fill_diagonal(order, 0)
        return order, ring_labels(bands)
    pairs = read_neighbours(weights, units.astype(str))
    pos = pd.Series(np.arange(units.size), index=units.astype(str))
    order = np.zeros((units.size, units.size), dtype=np.int64)
    order[pos[pairs["unit"]].to_numpy(), pos[pairs["neighbour"]].to_numpy()] = pairs["ring"]
    rings = sorted(pairs["ring"].unique())
    return order, [f"order {r}" for r in range(1, max(rings) + 1)]


def ring_frame(panel: Panel, order: np.ndarray, units: pd.Index) -> pd.DataFrame:
    """The panel's frame with each untreated row's exposure ring (0: unexposed)."""
    frame = panel.data
    periods = panel.periods
    cohort = panel.unit_table().set_index(panel.unit).loc[units, COHORT].to_numpy(np.int64)
    rings = exposure_rings(cohort, periods, order)
    u = pd.Index(units).get_indexer(frame[panel.unit])
    t = np.searchsorted(periods, frame[panel.time].to_numpy())
    return frame.assign(**{RING: rings[u, t]})


def two_stage_rings(frame: pd.DataFrame, *, unit: str, time: str, outcome: str,
                    covariates: Sequence[str], cluster: str, by: str | None, n_rings: int):
    """Butts (2021) with Gardner's (2022) two-stage DID: unit and year effects (and
    covariates) from the rows neither treated nor exposed; the treated (cohort, time[, level])
    cells' mean residual is the direct effect, each ring's mean residual over its exposed
    untreated rows the spillover; Gardner's clustered GMM covariance of all cells jointly."""
    clean = (frame[TREAT].to_numpy() == 0) & (frame[RING].to_numpy() == 0)
    yhat, fit = predict_untreated(frame, clean, outcome, list(covariates), [unit, time])
    resid = frame[outcome].to_numpy(dtype=float) - yhat
    imputed = frame.assign(**{RESID: resid}).loc[np.isfinite(resid)].reset_index(drop=True)
    kept = [str(n) for n in fit._coefnames]
    cells, codes = cell_codes(imputed, time=time, by=by)
    ring = imputed[RING].to_numpy()
    exposed = (imputed[TREAT].to_numpy() == 0) & (ring > 0)
    codes[exposed] = len(cells) + ring[exposed] - 1
    n_cells = len(cells) + n_rings
    u1 = imputed[RESID].to_numpy(dtype=float)
    used = codes >= 0
    counts = np.bincount(codes[used], minlength=n_cells).astype(float)
    est = np.bincount(codes[used], weights=u1[used], minlength=n_cells) / np.maximum(counts, 1)
    u2 = u1.copy()
    u2[used] -= est[codes[used]]
    X1 = first_stage_design(imputed, unit=unit, time=time, covariates=kept)
    present = counts > 0
    keep_codes = np.where(used, np.cumsum(present)[np.maximum(codes, 0)] - 1, -1)
    vcov = gardner_vcov(X1, ~used, keep_codes, int(present.sum()), u1, u2,
                        imputed[cluster].to_numpy())
    full = np.full((n_cells, n_cells), np.nan)
    full[np.ix_(present, present)] = vcov
    return cells, est, full, counts, imputed, kept


@dataclass(frozen=True)
class SpilloverState:
    """What a fit keeps: the ring labels (``rings_``) and every unit-period's exposure
    (``exposure_``: unit, time, ring; 0 for treated or unexposed unit-periods)."""

    rings: tuple[str, ...]
    exposure: pd.DataFrame


@register("spillover")
class Spillover(FreqEstimator):
    """Effects on treated units and spillovers on their untreated neighbours (Butts 2021).

    The spatial structure is the user's: ``coordinates: [lat, lon]`` (unit-constant columns
    in degrees) with distance ``bands`` in km (``[0, 50, 100]``: rings 0-50 and 50-100 km
    around every unit treated by then), or ``weights:`` a neighbours file (columns ``unit``,
    ``neighbour``, optional ``ring`` for the neighbour's order and ``weight``; rows of weight
    0 are no neighbours; a relative path in a config is read from the config's folder). An
    untreated unit-period is exposed in the ring of its nearest treated neighbour.
    Counterfactual trends come from unit-periods neither treated nor exposed (Butts's "clean
    controls"), as in Gardner's two-stage DID with ring indicators (did2s with rings): the
    direct effects are aggregated over treated cells as ``ATT``, ``ATT_event``, ``ATT_cohort``,
    ``ATT_calendar``, ``ATT_by_<trait>``; ``spillover`` has one term per ring (mean effect on
    its exposed untreated unit-periods), with Gardner's clustered GMM errors for all of them
    jointly. A treated unit's own exposure to treated neighbours is part of its direct effect.
    ``spillover`` carries the part ``spillover_by_ring`` (effect, interval and exposed units
    and unit-periods per ring); the exposure of every unit-period is ``exposure_``.
    """

    params = {"coordinates": P.Spec("columns", "[latitude, longitude] columns in degrees, "
                                               "constant within units; null: use `weights`",
                                    none=True, role="unit_column"),
              "bands": P.Spec("numbers", "increasing distances in km bounding the rings "
                                         "([0, 50, 100]: 0-50 and 50-100 km); with "
                                         "`coordinates`", low=0, none=True),
              "weights": P.Spec("str", "neighbours file (unit, neighbour, optional ring and "
                                       "weight); relative to the config's folder; null: use "
                                       "`coordinates`", none=True),
              "covariates": P.COVARIATES, "cluster": P.CLUSTER, "by": P.BY,
              "by_bins": P.BY_BINS, "interval_prob": P.INTERVAL_PROB}
    #: File paths among the parameters: a config's relative path is read from its folder.
    path_params = ("weights",)

    def __init__(self, coordinates: Sequence[str] | None = None,
                 bands: Sequence[float] | None = None, weights: str | None = None,
                 covariates: Sequence[str] | None = None, cluster: str | None = None,
                 by: str | None = None, by_bins: str | int | None = None,
                 interval_prob: float = INTERVAL_PROB):
        self.coordinates = coordinates
        self.bands = bands
        self.weights = weights
        self.covariates = covariates
        self.cluster = cluster
        self.by = by
        self.by_bins = by_bins
        self.interval_prob = interval_prob

    def _validate(self) -> None:
        if self.coordinates is not None and self.weights is not None:
            raise ParamError(f"coordinates / weights: {NO_STRUCTURE}")
        if self.coordinates is not None:
            if len(self.coordinates) != 2:
                raise ParamError(f"coordinates: {list(self.coordinates)!r} must name two "
                                 "columns, [latitude, longitude]")
            b = self.bands
            if b is None or len(b) < 2 or any(np.diff(b) <= 0):
                raise ParamError(f"bands: {b!r} must be at least two increasing distances in km "
                                 "from 0 or more, e.g. [0, 50, 100]")
        elif self.bands is not None:
            raise ParamError("bands: distance bands need `coordinates`; a weights file gives "
                             "rings in its `ring` column")

    def _check_panel(self, panel: Panel) -> None:
        if self.coordinates is None and self.weights is None:
            raise ParamError(f"coordinates / weights: none given; {NO_STRUCTURE}")
        if self.coordinates is not None:
            for c in self.coordinates:
                if not pd.api.types.is_numeric_dtype(panel.frame[c]):
                    raise ParamError(f"coordinates: column {c!r} is not numeric (degrees)")
            lat, lon = (panel.frame[c].to_numpy(float) for c in self.coordinates)
            bad = coordinate_problems(lat, lon)
            if bad or not (np.isfinite(lat).all() and np.isfinite(lon).all()):
                raise ParamError(f"coordinates: {bad[0] if bad else 'missing values'}")
        else:
            try:
                read_neighbours(self.weights, panel.units.astype(str))
            except PanelError as exc:
                raise ParamError(f"weights: {exc}") from None

    def _fit(self, panel: Panel) -> Fitted:
        panel = self._panel(panel)
        units = panel.units
        order, labels = neighbour_orders(panel, units, self.coordinates, self.bands, self.weights)
        frame = ring_frame(panel, order, units)
        covariates = self._covariates(panel)
        cluster = self.cluster or panel.cluster_col
        cells, est, vcov, counts, imputed, kept = two_stage_rings(
            frame, unit=panel.unit, time=panel.time, outcome=panel.outcome,
            covariates=covariates, cluster=cluster, by=None, n_rings=len(labels))
        cov_info, cov_note, cov_warning = covariate_report(
            covariates, kept, frame, unit=panel.unit, time=panel.time,
            default=self.covariates is None)
        settings = {**cov_info, "vcov": "gardner_gmm_cluster", "spatial": self._how(),
                    "rings": labels}
        inf = Inference(imputed.shape[0], int(imputed[cluster].nunique()), None, "wald_gmm",
                        self.interval_prob, settings,
                        warnings(cov_warning) + notes(cov_note, self._note(frame)))
        nd = len(cells)
        out = [effect_result(self.method, e, aggregate_cells(cells, est[:nd], vcov[:nd, :nd], e),
                             inf) for e in DIRECT_ESTIMANDS]
        if self.by is not None:
            out.append(self._by_result(frame, panel, covariates, cluster, len(labels), inf))
        out.append(self._rings(imputed, labels, est[nd:], vcov[nd:, nd:], counts[nd:], inf,
                               panel.unit))
        exposure = frame[[panel.unit, panel.time, RING]].rename(columns={RING: "ring"})
        return Fitted(tuple(out), SpilloverState(tuple(labels), exposure.reset_index(drop=True)))

    def _by_result(self, frame, panel, covariates, cluster, n_rings, inf) -> EffectResult:
        cells, est, vcov, *_ = two_stage_rings(
            frame, unit=panel.unit, time=panel.time, outcome=panel.outcome,
            covariates=covariates, cluster=cluster, by=self.by, n_rings=n_rings)
        nd = len(cells)
        estimand = f"ATT_by_{self.by}"
        return effect_result(self.method, estimand, aggregate_cells(
            cells, est[:nd], vcov[:nd, :nd], estimand, trait=self.by), inf)

    def _rings(self, imputed: pd.DataFrame, labels: list[str], est: np.ndarray,
               vcov: np.ndarray, counts: np.ndarray, inf: Inference, unit: str) -> EffectResult:
        keep = counts > 0
        ring = imputed[RING].to_numpy()
        untreated = imputed[TREAT].to_numpy() == 0
        n_units = np.array([imputed.loc[untreated & (ring == r + 1), unit].nunique()
                            for r in range(len(labels))])
        c = Combined([lb for lb, k in zip(labels, keep) if k], est[keep],
                     vcov[np.ix_(keep, keep)], np.eye(int(keep.sum())), n_units[keep])
        empty = [lb for lb, k in zip(labels, keep) if not k]
        if empty:
            inf = replace(inf, messages=inf.messages + warnings(
                f"rings {empty} have no exposed untreated unit-periods"))
        result = effect_result(self.method, SPILLOVER_ESTIMAND, c, inf)
        table = result.table.rename(columns={"n_treated": "exposed_units"}).assign(
            exposed_unit_periods=counts[keep].astype(int))
        return result.replace(parts=[*result.parts, Table("spillover_by_ring", table)])

    def _how(self) -> str:
        return (f"distance bands {list(self.bands)} km" if self.coordinates is not None
                else f"neighbours file {Path(self.weights).name}")

    def _note(self, frame: pd.DataFrame) -> str:
        exposed = int(((frame[TREAT] == 0) & (frame[RING] > 0)).sum())
        clean = int(((frame[TREAT] == 0) & (frame[RING] == 0)).sum())
        return (f"spillovers by ring ({self._how()}): {exposed} exposed untreated unit-periods; "
                f"unit and year effects from {clean} unit-periods neither treated nor exposed "
                "(Butts 2021; Gardner two-stage errors)")
