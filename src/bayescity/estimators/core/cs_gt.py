"""Group-time average treatment effects ATT(g,t) of Callaway & Sant'Anna (2021).

Callaway, B. & Sant'Anna, P. H. C. (2021). Difference-in-differences with multiple time periods.
Journal of Econometrics 225(2), 200-230. For every treated cohort ``g`` and period ``t`` a 2x2
DID compares cohort ``g`` with the control group between ``t`` and a base period -- the last
period before ``g`` for post-treatment cells, the previous period for pre-treatment cells
("varying" base period, R ``did``'s default) -- using covariates measured in the base period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...estimands.aggregate import CellEffects
from .cs_drdid import EST_METHODS

CONTROL_GROUPS = ("never_treated", "not_yet_treated")


@dataclass(frozen=True)
class WidePanel:
    """A balanced panel as arrays: ``y`` (units x periods), ``x`` (units x periods x k, the first
    column the intercept), ``cohort`` per unit, unit labels and their row in the long frame."""

    units: np.ndarray
    periods: np.ndarray
    cohort: np.ndarray
    y: np.ndarray
    x: np.ndarray


def to_wide(frame: pd.DataFrame, *, unit: str, time: str, outcome: str, cohort: str,
            covariates: list[str]) -> WidePanel:
    """Arrays of a balanced long panel sorted by (unit, time)."""
    units, u = np.unique(frame[unit].to_numpy(), return_inverse=True)
    periods, t = np.unique(frame[time].to_numpy(), return_inverse=True)
    n, T = len(units), len(periods)
    y = np.full((n, T), np.nan)
    y[u, t] = frame[outcome].to_numpy(dtype=float)
    x = np.ones((n, T, 1 + len(covariates)))
    for j, c in enumerate(covariates, start=1):
        x[u, t, j] = frame[c].to_numpy(dtype=float)
    g = np.zeros(n, dtype=np.int64)
    g[u] = frame[cohort].to_numpy(dtype=np.int64)
    return WidePanel(units=units, periods=periods.astype(np.int64), cohort=g, y=y, x=x)


def cell_plan(periods: np.ndarray, cohorts: np.ndarray, post_only: bool = False) -> pd.DataFrame:
    """Every (g, t) with ``t`` from the second period on and its base-period index ("varying"):
    the last period before ``g`` for ``t >= g``, the previous period before. ``post_only`` keeps
    the cells with ``t >= g`` (the long differences ``Y_t - Y_{g-1}``)."""
    rows = []
    for g in cohorts:
        before = np.flatnonzero(periods < g)
        if before.size == 0:
            continue
        for k in range(1, len(periods)):
            if post_only and periods[k] < g:
                continue
            base = before[-1] if periods[k] >= g else k - 1
            rows.append((int(g), int(periods[k]), k, int(base)))
    return pd.DataFrame(rows, columns=["cohort", "time", "t_idx", "base_idx"])


def control_mask(cohort: np.ndarray, g: int, t: int, control_group: str) -> np.ndarray:
    """Never-treated units, plus (``not_yet_treated``) units first treated after period ``t``."""
    never = cohort == 0
    if control_group == "never_treated":
        return never
    return never | ((cohort > t) & (cohort != g))


@dataclass(frozen=True)
class CellSpec:
    """One 2x2 comparison: cohort ``g`` against its clean controls between base period index
    ``b`` and period index ``k``; ``treated`` and ``control`` are unit masks."""

    cohort: int
    time: int
    t_idx: int
    base_idx: int
    treated: np.ndarray
    control: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        """Units of the comparison, in unit order."""
        return np.flatnonzero(self.treated | self.control)

    @property
    def estimable(self) -> bool:
        return bool(self.treated.any() and self.control.any())

    def record(self, periods: np.ndarray) -> dict:
        return dict(cohort=self.cohort, time=self.time, base_period=int(periods[self.base_idx]),
                    n_treated=int(self.treated.sum()), n_control=int(self.control.sum()),
                    att=np.nan, skipped=True)

    def long_difference(self, wide: WidePanel) -> np.ndarray:
        """``Y_t - Y_base`` of :attr:`rows`."""
        return wide.y[self.rows, self.t_idx] - wide.y[self.rows, self.base_idx]


def cell_specs(wide: WidePanel, control_group: str, unit_mask: np.ndarray | None = None,
               post_only: bool = False, cohorts: np.ndarray | None = None) -> list[CellSpec]:
    """The 2x2 comparisons of every (g, t) cell among the units of ``unit_mask`` (all units
    without it): cohort ``g`` against never-treated or not-yet-treated (at ``t``) units;
    ``cohorts`` restricts the cells to those treated cohorts."""
    if control_group not in CONTROL_GROUPS:
        raise ValueError(f"control_group: {control_group!r} is not one of {list(CONTROL_GROUPS)}")
    n = len(wide.cohort)
    mask = np.ones(n, dtype=bool) if unit_mask is None else np.asarray(unit_mask, dtype=bool)
    present = np.unique(wide.cohort[mask & (wide.cohort > 0)])
    cohorts = present if cohorts is None else np.intersect1d(present, cohorts)
    plan = cell_plan(wide.periods, cohorts, post_only=post_only)
    return [CellSpec(int(g), int(t), int(k), int(b), mask & (wide.cohort == g),
                     mask & control_mask(wide.cohort, g, t, control_group))
            for g, t, k, b in plan[["cohort", "time", "t_idx", "base_idx"]].to_numpy()]


def gt_frame(records: list[dict]) -> pd.DataFrame:
    """The ATT(g,t) table of :meth:`CellSpec.record` rows, with ``rel_time``."""
    table = pd.DataFrame(records, columns=["cohort", "time", "base_period", "n_treated",
                                           "n_control", "att", "skipped"])
    table.insert(2, "rel_time", table["time"] - table["cohort"])
    return table


def _cell(wide: WidePanel, spec: CellSpec, estimate, row: dict,
          est_method: str) -> tuple[float, np.ndarray]:
    """One 2x2 DID: ATT(g,t) and its influence function over ``spec.rows``."""
    rows = spec.rows
    try:
        fit = estimate(spec.long_difference(wide), spec.treated[rows].astype(float),
                       wide.x[rows, spec.base_idx, :], np.ones(rows.size))
    except np.linalg.LinAlgError as exc:
        g, t = spec.cohort, spec.time
        raise ValueError(
            f"callaway_santanna: ATT(g, t) for cohort {g} in period {t} cannot be estimated "
            f"with est_method: {est_method}: {exc} (cohort {g}: {row['n_treated']} treated, "
            f"{row['n_control']} control units). A covariate probably separates the "
            "cohort from its controls (e.g. a dummy that is 1 only among pilots); use "
            "fewer covariates, est_method: reg, or min_cohort_size: 2 if the cohort has one "
            "unit.") from None
    return fit.att, fit.influence


def att_gt(wide: WidePanel, *, control_group: str = "never_treated", est_method: str = "dr",
           unit_mask: np.ndarray | None = None,
           cohorts: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """ATT(g,t) for every cell and their influence functions (n_units x n_cells).

    Each 2x2 uses the units of cohort ``g`` and of the control group (restricted to
    ``unit_mask`` when given, e.g. one trait level); its influence function is scaled by
    ``n / n_cell`` and placed in the rows of those units, so that the convention
    ``vcov = IF' IF / n^2`` holds over all ``n`` units. Cells without treated or control units
    are skipped (listed with ``att`` NaN and ``skipped`` True). ``cohorts`` restricts the
    cells to those treated cohorts.
    """
    if est_method not in EST_METHODS:
        raise ValueError(f"est_method: {est_method!r} is not one of {list(EST_METHODS)}")
    estimate = EST_METHODS[est_method]
    specs = cell_specs(wide, control_group, unit_mask, cohorts=cohorts)
    n = len(wide.cohort)
    influence = np.zeros((n, len(specs)))
    out = []
    for j, spec in enumerate(specs):
        row = spec.record(wide.periods)
        if spec.estimable:
            att, inf_cell = _cell(wide, spec, estimate, row, est_method)
            influence[spec.rows, j] = inf_cell * (n / spec.rows.size)
            row.update(att=att, skipped=False)
        out.append(row)
    return gt_frame(out), influence


def cell_effects(table: pd.DataFrame, influence: np.ndarray, unit_cohort: np.ndarray,
                 unit_level: np.ndarray | None = None) -> CellEffects:
    """:class:`CellEffects` of the estimated (not skipped) cells of an ATT(g,t) table, weighted
    by their treated units; ``table`` carries ``level`` when ``unit_level`` is given."""
    ok = ~table["skipped"].to_numpy()
    cells = table.loc[ok, ["cohort", "time"] + (["level"] if unit_level is not None else [])]
    cells = cells.assign(weight=table.loc[ok, "n_treated"].to_numpy())
    return CellEffects(cells=cells, estimates=table.loc[ok, "att"].to_numpy(),
                       influence=influence[:, ok], unit_cohort=unit_cohort,
                       unit_level=None if unit_level is None else unit_level.astype(str))
