"""Group-time average treatment effects ATT(g,t) of Callaway & Sant'Anna (2021), their
influence functions and R ``did``'s pre-test of the pre-treatment cells.

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

from ...estimands.aggregate import CellEffects, cluster_sums
from ...results.effect import TestResult, wald_test
from .cs_drdid import EST_METHODS, TRIM_LEVEL

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
    g, t, k, b = plan_arrays(periods, cohorts, post_only)
    return pd.DataFrame({"cohort": g, "time": t, "t_idx": k, "base_idx": b})


def plan_arrays(periods: np.ndarray, cohorts: np.ndarray, post_only: bool = False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The columns of :func:`cell_plan` (cohort, time, period index, base-period index) as
    int64 arrays, cohort by cohort."""
    periods = np.asarray(periods, dtype=np.int64)
    g = np.asarray(cohorts, dtype=np.int64).reshape(-1)
    g = g[np.searchsorted(periods, g) > 0]  # cohorts with a period before them
    k = np.arange(1, len(periods))
    gg, kk = np.repeat(g, k.size), np.tile(k, g.size)
    post = periods[kk] >= gg
    keep = post if post_only else np.ones(gg.size, dtype=bool)
    last_before = np.searchsorted(periods, gg) - 1
    base = np.where(post, last_before, kk - 1)
    return gg[keep], periods[kk][keep], kk[keep], base[keep]


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
    cells to those treated cohorts. Without covariates every cell is a difference of mean
    outcome changes, computed for all cells at once (:func:`mean_differences`).
    """
    if est_method not in EST_METHODS:
        raise ValueError(f"est_method: {est_method!r} is not one of {list(EST_METHODS)}")
    if wide.x.shape[2] == 1:
        return _att_gt_means(wide, control_group, est_method, unit_mask, cohorts)
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


@dataclass(frozen=True)
class UnitGroups:
    """Units ordered by their cohort (0: never treated), units outside the mask last: row
    ``order[a:b]`` of the panel are the units of ``cohorts[c]`` for ``(a, b) = bounds[c:c+2]``
    (the last block: units left out)."""

    cohorts: np.ndarray
    order: np.ndarray
    bounds: np.ndarray

    @classmethod
    def of(cls, cohort: np.ndarray, unit_mask: np.ndarray) -> "UnitGroups":
        cohorts = np.unique(cohort)
        code = np.where(unit_mask, np.searchsorted(cohorts, cohort), cohorts.size)
        order = np.argsort(code, kind="stable")
        return cls(cohorts, order, np.searchsorted(code[order], np.arange(cohorts.size + 2)))

    @property
    def sizes(self) -> np.ndarray:
        """Units in each cohort's block (the units left out not counted)."""
        return np.diff(self.bounds)[:-1]

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Column sums of ``values`` (rows in :attr:`order`) within each block, the last block
        (units left out) included."""
        lengths = np.diff(self.bounds)
        out = np.zeros((lengths.size, values.shape[1]))
        filled = lengths > 0
        if filled.any():
            out[filled] = np.add.reduceat(values, self.bounds[:-1][filled], axis=0)
        return out


def mean_differences(wide: WidePanel, groups: UnitGroups, cohort: np.ndarray,
                     time: np.ndarray, t_idx: np.ndarray, base_idx: np.ndarray,
                     control_group: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every cell's 2x2 DID without covariates, ``mean(dy | treated) - mean(dy | control)`` of
    the outcome change ``dy = Y_t - Y_base``, with its influence function scaled to all ``n``
    units (``n/n_t (dy - mean_t)`` on treated units, ``-n/n_c (dy - mean_c)`` on controls).
    Returns the ATTs, the influence functions (units x cells) and the treated and control
    units of each cell.

    Without covariates the outcome regression, normalised IPW and doubly robust estimators of
    Sant'Anna & Zhao (2020, J. Econometrics 219(1)) all reduce to this difference of means and
    this influence function (the propensity score is the cell's treated share, the regression
    the control mean) while the treated share stays below the trimming level. Treated and
    control units of a cell are whole cohorts, so the means come from cohort sums and the
    influence functions are written cohort block by cohort block.
    """
    y = wide.y[groups.order]
    dy = y[:, t_idx] - y[:, base_idx]
    own = np.append(groups.cohorts, -1)[:, None]  # one row per block; -1: units left out
    treated = own == cohort[None, :]
    control = (own == 0) | ((own > time[None, :]) & (own != cohort[None, :])) \
        if control_group == "not_yet_treated" else np.broadcast_to(own == 0, treated.shape)
    control = control & (own != -1)
    sizes, sums = np.append(groups.sizes, 0), groups.sums(dy)
    n_t, n_c = sizes @ treated, sizes @ control
    n = len(wide.cohort)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_t, mean_c = (sums * treated).sum(axis=0) / n_t, (sums * control).sum(axis=0) / n_c
        scale = np.where(treated, n / n_t, np.where(control, -n / n_c, 0.0))
    centre = np.where(treated, mean_t, np.where(control, mean_c, 0.0))
    for c in range(own.shape[0]):
        block = slice(groups.bounds[c], groups.bounds[c + 1])
        np.subtract(dy[block], centre[c], out=dy[block])
        dy[block] *= scale[c]
    influence = np.empty_like(dy)
    influence[groups.order] = dy
    return mean_t - mean_c, influence, n_t, n_c


def _att_gt_means(wide: WidePanel, control_group: str, est_method: str,
                  unit_mask: np.ndarray | None, cohorts: np.ndarray | None
                  ) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`att_gt` without covariates: every cell at once by :func:`mean_differences`;
    cells whose treated share reaches the propensity trimming level (``ipw``, ``dr``) go
    through the cell's own estimator, as with covariates."""
    if control_group not in CONTROL_GROUPS:
        raise ValueError(f"control_group: {control_group!r} is not one of {list(CONTROL_GROUPS)}")
    unit = np.ones(len(wide.cohort), dtype=bool) if unit_mask is None \
        else np.asarray(unit_mask, dtype=bool)
    present = np.unique(wide.cohort[unit & (wide.cohort > 0)])
    g, t, k, b = plan_arrays(wide.periods, present if cohorts is None else
                             np.intersect1d(present, cohorts))
    if g.size == 0:
        return gt_frame([]), np.zeros((len(wide.cohort), 0))
    att, influence, n_t, n_c = mean_differences(wide, UnitGroups.of(wide.cohort, unit), g, t, k,
                                                b, control_group)
    ok = (n_t > 0) & (n_c > 0)
    att[~ok] = np.nan
    influence[:, ~ok] = 0.0
    trimmed = ok & (n_t >= (TRIM_LEVEL - 1e-9) * (n_t + n_c)) if est_method != "reg" \
        else np.zeros_like(ok)
    for j in np.flatnonzero(trimmed):
        spec = CellSpec(int(g[j]), int(t[j]), int(k[j]), int(b[j]), unit & (wide.cohort == g[j]),
                        unit & control_mask(wide.cohort, int(g[j]), int(t[j]), control_group))
        att[j], inf_cell = _cell(wide, spec, EST_METHODS[est_method], spec.record(wide.periods),
                                 est_method)
        influence[:, j] = 0.0
        influence[spec.rows, j] = inf_cell * (len(wide.cohort) / spec.rows.size)
    table = pd.DataFrame({"cohort": g, "time": t, "rel_time": t - g,
                          "base_period": wide.periods[b],
                          "n_treated": n_t, "n_control": n_c, "att": att, "skipped": ~ok})
    return table, influence


def cell_effects(table: pd.DataFrame, influence: np.ndarray, unit_cohort: np.ndarray,
                 unit_level: np.ndarray | None = None) -> CellEffects:
    """:class:`CellEffects` of the estimated (not skipped) cells of an ATT(g,t) table, weighted
    by their treated units; ``table`` carries ``level`` when ``unit_level`` is given."""
    given = dict(table.items())  # one pass: looking columns up by name is slow
    ok = ~given["skipped"].to_numpy()
    columns = ["cohort", "time", "rel_time"] + (["level"] if unit_level is not None else [])
    cells = pd.DataFrame({**{c: given[c].to_numpy()[ok] for c in columns},
                          "weight": given["n_treated"].to_numpy()[ok]})
    return CellEffects(cells=cells, estimates=given["att"].to_numpy()[ok],
                       influence=influence[:, ok], unit_cohort=unit_cohort,
                       unit_level=None if unit_level is None else unit_level.astype(str))


# ---------------------------------------------------------------------------- inference
def gt_pretest(cells: CellEffects, vcov: np.ndarray) -> TestResult | None:
    """R ``did``'s pre-test: all pre-treatment ATT(g,t) are zero (joint Wald, chi-square).

    Cells of cohorts with a single treated unit are left out: their influence function carries
    no treated-side variance, so they would inflate the statistic without bound.
    """
    pre = pretest_cells(cells, np.diag(vcov))
    return None if pre.size == 0 else _pretest(cells, pre, vcov[np.ix_(pre, pre)])


def pretest_cells(cells: CellEffects, variances: np.ndarray) -> np.ndarray:
    """The cells :func:`gt_pretest` tests: pre-treatment, with variance, of cohorts with more
    than one treated unit."""
    columns = cells._columns
    return np.flatnonzero((columns.rel_time < 0) & (variances > 0) & ~(columns.weight < 2))


def _pretest(cells: CellEffects, pre: np.ndarray, vcov_pre: np.ndarray) -> TestResult:
    """:func:`gt_pretest` on the tested cells ``pre`` and their covariance."""
    columns = cells._columns
    n_single = int(((columns.rel_time < 0) & (columns.weight < 2)).sum())
    note = "did's att_gt pre-test"
    if n_single:
        note += f"; {n_single} cells of single-unit cohorts left out"
    return wald_test("pre-trends: all ATT(g,t) = 0 for t < g", cells.estimates[pre], vcov_pre,
                     np.eye(pre.size), note=note)


@dataclass(frozen=True, eq=False)
class CellVariance:
    """The ATT(g,t) influence functions summed within clusters (``psi``) and scaled by the
    number of units ``n``: the variance of each cell and the covariance of any subset, without
    the cells x cells matrix."""

    psi: np.ndarray
    n: int

    @classmethod
    def of(cls, cells: CellEffects, clusters: np.ndarray | None) -> "CellVariance":
        """The cells' influence functions summed within ``clusters`` (one label per unit;
        None: every unit its own cluster)."""
        psi = cells.influence if clusters is None else cluster_sums(cells.influence, clusters)
        return cls(psi, cells.influence.shape[0])

    def variances(self) -> np.ndarray:
        """Each cell's variance: the diagonal of ``psi' psi / n^2``."""
        return np.einsum("ij,ij->j", self.psi, self.psi) / self.n**2

    def covariance(self, idx: np.ndarray) -> np.ndarray:
        """The covariance of the cells ``idx``: that block of ``psi' psi / n^2``."""
        part = self.psi[:, idx]
        return part.T @ part / self.n**2


def cells_pretest(cells: CellEffects, variance: CellVariance) -> TestResult | None:
    """:func:`gt_pretest` from the clustered influence functions."""
    pre = pretest_cells(cells, variance.variances())
    return None if pre.size == 0 else _pretest(cells, pre, variance.covariance(pre))
