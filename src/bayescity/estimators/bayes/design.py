"""The treatment design of the hierarchical DID, built once per fit for every sampler.

Only treated city-years carry treatment effects. Every treated observation falls in one *cell*
(cohort x period x the levels of the ``by`` traits) and, with city deviations, also loads on its
city's deviation; these indicators are the *basis* columns ``B``. The effect parameters
``theta`` enter through ``B K theta`` where ``K`` says how each cell (or city) is built from the
components of the variant:

* ``hierarchical``: ``tau_cell = mu + eta_e + sum_traits (delta_level + omega_level,e) +
  gamma_g + zeta_cell``. ``eta`` is the common event-time path, a random walk over event times
  ``e >= 0`` with ``eta_0 = 0`` whose steps have a fixed weakly informative prior (``event``).
  Every level of every ``by`` trait has its own path: its average deviation ``delta`` (the
  levels' deviations sum to zero; their sd is learned, with a boundary-avoiding prior,
  :mod:`.priors`) and its own random-walk steps ``omega`` around the common steps (summing to
  zero over levels at each step, prior ``trait_event``), centred so that they shape the
  level's path without moving its average (:func:`.components.centred_steps`); so a level can
  stay at zero while the others build up. Cohort deviations ``gamma`` and cell deviations
  ``zeta`` (each group summing to zero, :mod:`.components`) have learned scales: cells, thin
  levels and cohorts borrow strength from the others (partial pooling);
* ``unpooled``: the same components, every one with the fixed weakly informative ``effect``
  prior, so that nothing is borrowed across levels, cohorts or cells (no pooling: with flat
  priors its posterior mean is the imputation estimator);
* ``static``: ``mu + sum_traits delta_level`` on the post-approval dummy, one coefficient per
  level as in static two-way fixed effects (biased under staggered timing when effects build up:
  already-treated cities then serve as controls, Goodman-Bacon 2021).

Optional city deviations ``u_i`` add a posterior effect for every treated city.
Because every cell has its own parameter (hierarchical, unpooled), the absorbed fixed effects
are identified by never-treated and not-yet-treated rows only, as in imputation (Borusyak,
Jaravel & Spiess 2024) and extended TWFE (Wooldridge 2021); the priors then shrink cells
towards the event-time, cohort and level structure.

Calibration of the defaults over simulated panels of the built-in design:
:mod:`.coverage` (slow suite, ``tests/test_bayes_coverage_slow.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from ...data.panel import COHORT, TREAT, Panel
from ..core.controls import drop_always_treated
from ..core.covariates import always_treated_note
from .absorb import Absorber, CrossProducts, cross_products, make_absorber
from .components import Component, cell_blocks, city_block, place
from .serial import SerialCorrelation, lag_rows, serial_model

VARIANTS = ("hierarchical", "unpooled", "static")
#: The note a ``hierarchical`` fit with ``by`` traits carries: how its default model differs
#: from the one with one learned event-time path shared by every level.
DYNAMICS_NOTE = ("model: every level of {traits} has its own event-time path (average effects "
                 "partially pooled, sd with a boundary-avoiding prior); event-time steps have "
                 "fixed weakly informative priors (event, trait_event) instead of a learned "
                 "random-walk sd, which flattened build-ups and let a level with no effect "
                 "inherit the others' (the default until this version)")


@dataclass(frozen=True, eq=False)
class TreatmentDesign:
    """Everything the samplers and the aggregation need, in standardised outcome units
    (``(y - location) / scale``).

    ``cells`` lists the treated cells (``cohort, time, rel_time, weight`` and one column per
    ``by`` trait) and ``cell_units`` the treated units in each; ``K`` maps ``theta`` to the
    basis (cells, then treated cities); ``cell_map`` and ``unit_map`` map ``theta`` to the mean
    effect of each cell's and each treated city's observations. ``rows`` holds the per-observation arrays (unit and period
    codes, covariates, basis index) of the explicit-fixed-effects model and the log-likelihood.
    """

    variant: str
    by: tuple[str, ...]
    components: tuple[Component, ...]
    cells: pd.DataFrame
    cell_units: tuple[np.ndarray, ...]
    K: np.ndarray
    cell_map: np.ndarray
    units: pd.Index
    unit_map: np.ndarray
    stats: CrossProducts
    absorber: Absorber
    basis: sparse.csr_matrix
    rows: dict
    location: float
    scale: float
    unit_name: str
    covariates: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    rho: float = 0.0
    n_used: int = 0

    @property
    def covariates_kept(self) -> list[str]:
        """The covariates the absorption kept (the others are collinear)."""
        return [self.covariates[j] for j in self.absorber.kept]

    @property
    def n_params(self) -> int:
        return self.K.shape[1]

    @property
    def n_obs(self) -> int:
        """Rows of the likelihood (quasi-differenced rows with AR(1) errors)."""
        return self.absorber.n_obs

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)


def usable_frame(panel: Panel) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Rows that identify the model: no always-treated units (no untreated period to learn
    their unit effect from) and no treated rows in periods without an untreated row."""
    frame, n_always = drop_always_treated(panel.frame, unit=panel.unit, time=panel.time)
    notes = [always_treated_note(n_always)] if n_always else []
    untreated_periods = set(frame.loc[frame[TREAT] == 0, panel.time])
    orphan = (frame[TREAT] == 1) & ~frame[panel.time].isin(untreated_periods)
    if orphan.any():
        notes.append(f"{int(orphan.sum())} treated rows in periods without an untreated row were "
                     "left out (their counterfactual is not identified)")
        frame = frame.loc[~orphan]
    if not (frame[TREAT] == 1).any():
        raise ValueError("no treated observation with an identified counterfactual")
    return frame, tuple(notes)


def error_model(panel: Panel, covariates: Sequence[str], errors: str) -> SerialCorrelation:
    """The error model ``errors`` of the rows :func:`treatment_design` uses (``rho`` estimated
    from their untreated rows for ``ar1``, :mod:`.serial`)."""
    frame, _ = usable_frame(panel)
    return serial_model(errors, frame[panel.outcome].to_numpy(float),
                        frame[list(covariates)].to_numpy(float).reshape(len(frame), -1),
                        pd.factorize(frame[panel.unit], sort=True)[0],
                        pd.factorize(frame[panel.time], sort=True)[0],
                        frame[TREAT].to_numpy() == 0)


def cell_table(frame: pd.DataFrame, time: str, by: Sequence[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """Treated cells (sorted) with their observation counts, and each treated row's cell."""
    treated = frame.loc[frame[TREAT] == 1]
    keys = pd.DataFrame({"cohort": treated[COHORT].to_numpy(np.int64),
                         "time": treated[time].to_numpy(np.int64),
                         **{t: treated[t].astype(str).to_numpy() for t in by}})
    codes, uniques = pd.MultiIndex.from_frame(keys).factorize(sort=True)
    cells = pd.DataFrame(list(uniques), columns=list(keys.columns))
    cells.insert(2, "rel_time", cells["time"] - cells["cohort"])
    cells["weight"] = np.bincount(codes, minlength=len(cells)).astype(float)
    return cells, codes.astype(np.int64)


def _cell_label(cells: pd.DataFrame, by: Sequence[str]) -> tuple[str, ...]:
    cols = ["cohort", "time", *by]
    return tuple("|".join(str(v) for v in row) for row in cells[cols].itertuples(index=False))


def basis_matrix(n_rows: int, treated_rows: np.ndarray, cell_codes: np.ndarray, n_cells: int,
                 city_codes: np.ndarray | None, n_cities: int) -> sparse.csr_matrix:
    """Sparse n x (cells + cities) indicators of each treated row's cell (and city)."""
    rows, cols = [treated_rows], [cell_codes]
    if city_codes is not None:
        rows.append(treated_rows)
        cols.append(n_cells + city_codes)
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(r.size), (r, c)), shape=(n_rows, n_cells + n_cities))


def averaging_map(codes: np.ndarray, n_groups: int, basis_rows: sparse.csr_matrix,
                  K: np.ndarray) -> np.ndarray:
    """(groups x params): the mean of ``B K theta`` over the treated rows of each group."""
    n = codes.size
    avg = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_groups, n))
    counts = np.asarray(avg.sum(axis=1)).ravel()
    return np.asarray((sparse.diags(1.0 / counts) @ avg @ basis_rows) @ K)


def treatment_design(panel: Panel, *, by: Sequence[str] = (), variant: str = "hierarchical",
                     city_effects: bool = False, covariates: Sequence[str] = (),
                     scale: float | None = None, rho: float = 0.0) -> TreatmentDesign:
    """The absorbed treatment design of ``panel`` (see the module docstring).

    ``scale`` fixes the outcome's unit (default: its standard deviation over the rows used);
    ``by`` names categorical traits whose levels enter additively. A non-zero ``rho`` fits AR(1)
    errors with that coefficient: the likelihood is that of the quasi-differenced rows
    (:mod:`.serial`), and ``basis``, ``rows``, ``absorber`` and ``stats`` describe those rows
    (``basis`` then holds ``B_it - rho B_i,t-1``); cells, maps and weights stay those of the
    treated city-years.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant: {variant!r} is not one of {list(VARIANTS)}")
    frame, notes = usable_frame(panel)
    by = tuple(by)
    y = frame[panel.outcome].to_numpy(float)
    scale = float(y.std(ddof=1)) if scale is None else float(scale)
    if not scale > 0:
        raise ValueError(f"outcome {panel.outcome!r} is constant: nothing to explain")
    cells, cell_codes = cell_table(frame, panel.time, by)
    treated_rows = np.flatnonzero(frame[TREAT].to_numpy() == 1)
    treated_units = frame[panel.unit].to_numpy()[treated_rows]
    comps, K, city_codes = _components(frame, panel.unit, treated_rows, cells, variant, by,
                                       city_effects)
    n_cities = 0 if city_codes is None else int(city_codes.max()) + 1
    basis = basis_matrix(len(frame), treated_rows, cell_codes, len(cells), city_codes, n_cities)
    rows = _row_arrays(frame, panel, covariates, basis, len(cells))
    y_std = (y - y.mean()) / scale
    cell_map = averaging_map(cell_codes, len(cells), basis[treated_rows], K)
    unit_codes, units = pd.factorize(treated_units, sort=True)
    unit_map = averaging_map(unit_codes, len(units), basis[treated_rows], K)
    if rho:
        rows, basis, y_std = quasi_difference(rows, basis, y_std, float(rho))
    if variant == "hierarchical" and by:
        notes = (*notes, DYNAMICS_NOTE.format(traits=", ".join(by)))
    absorber = make_absorber(rows["unit"], rows["time"], rows["x"])
    stats = cross_products(absorber, y_std, basis)
    return TreatmentDesign(
        variant=variant, by=by, components=comps, cells=cells,
        cell_units=_units_by_cell(treated_units, cell_codes, len(cells)), K=K,
        cell_map=cell_map, units=pd.Index(units, name=panel.unit), unit_map=unit_map,
        stats=_project(stats, K), absorber=absorber, basis=basis, rows=rows,
        location=float(y.mean()), scale=scale, unit_name=panel.unit,
        covariates=tuple(covariates), notes=notes, rho=float(rho), n_used=len(frame))


def quasi_difference(rows: dict, basis: sparse.csr_matrix, y_std: np.ndarray,
                     rho: float) -> tuple[dict, sparse.csr_matrix, np.ndarray]:
    """Rows ``v_it - rho v_i,t-1`` of the outcome, covariates and basis, for every row whose
    unit has a row in the period before (Cochrane-Orcutt); unit and period codes of the rows
    kept are renumbered, ``lag_cell``/``lag_city`` give the previous row's basis columns and
    ``y`` holds the quasi-differenced outcome in its own units."""
    lag = lag_rows(rows["unit"], rows["time"])
    keep = np.flatnonzero(lag >= 0)
    if keep.size == 0:
        raise ValueError("errors: ar1 needs consecutive periods of the same city")
    prev = lag[keep]
    out = {k: v for k, v in rows.items()}
    unit_codes, unit_index = pd.factorize(rows["unit"][keep], sort=True)
    out["unit"] = unit_codes.astype(np.int64)
    out["time"] = pd.factorize(rows["time"][keep], sort=True)[0].astype(np.int64)
    out["unit_labels"] = rows["unit_labels"][unit_index]
    out["x"] = rows["x"][keep] - rho * rows["x"][prev]
    out["y"] = rows["y"][keep] - rho * rows["y"][prev]
    out["cell"], out["city"] = rows["cell"][keep], rows["city"][keep]
    out["lag_cell"], out["lag_city"] = rows["cell"][prev], rows["city"][prev]
    out["rho"] = rho
    return out, (basis[keep] - rho * basis[prev]).tocsr(), y_std[keep] - rho * y_std[prev]


def _components(frame: pd.DataFrame, unit: str, treated_rows: np.ndarray, cells: pd.DataFrame,
                variant: str, by: tuple[str, ...], city_effects: bool):
    """Components, ``K`` and each treated row's city code (None without city deviations)."""
    units_t, city_codes, groups = _treated_units(frame, unit, treated_rows, city_effects, by)
    blocks = cell_blocks(cells, variant, by, _cell_label(cells, by), len(units_t))
    if city_effects:
        blocks.append(city_block(groups, len(cells), unit, tuple(str(u) for u in units_t),
                                 variant != "unpooled"))
    comps, K = place([b for b in blocks if b is not None])
    return comps, K, city_codes


def _units_by_cell(units: np.ndarray, codes: np.ndarray, n_cells: int) -> tuple[np.ndarray, ...]:
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_cells + 1))
    return tuple(np.unique(units[order[lo:hi]]) for lo, hi in zip(bounds[:-1], bounds[1:]))


def _treated_units(frame: pd.DataFrame, unit: str, treated_rows: np.ndarray,
                   city_effects: bool, by: Sequence[str]):
    """Treated cities (sorted), each treated row's city code and each city's cohort x level
    group, when city deviations are on."""
    if not city_effects:
        return np.array([]), None, None
    treated = frame.iloc[treated_rows]
    codes, units = pd.factorize(treated[unit].to_numpy(), sort=True)
    first = treated.drop_duplicates(unit).set_index(unit).loc[units]
    groups = first[[COHORT, *by]].astype(str).agg("|".join, axis=1).to_numpy()
    return np.asarray(units), codes.astype(np.int64), groups


def _row_arrays(frame: pd.DataFrame, panel: Panel, covariates: Sequence[str],
                basis: sparse.csr_matrix, n_cells: int) -> dict:
    """Per-row codes, covariates and basis columns (cell, city; -1 for none) of the rows used."""
    x = frame[list(covariates)].to_numpy(float).reshape(len(frame), -1)
    cell, city = np.full(len(frame), -1, dtype=np.int64), np.full(len(frame), -1, dtype=np.int64)
    coo = basis.tocoo()
    on_cell = coo.col < n_cells
    cell[coo.row[on_cell]] = coo.col[on_cell]
    city[coo.row[~on_cell]] = coo.col[~on_cell]
    return {"unit": pd.factorize(frame[panel.unit], sort=True)[0].astype(np.int64),
            "time": pd.factorize(frame[panel.time], sort=True)[0].astype(np.int64),
            "x": x, "cell": cell, "city": city, "y": frame[panel.outcome].to_numpy(float),
            "unit_labels": pd.Index(np.unique(frame[panel.unit].to_numpy()), name=panel.unit)}


def _project(stats: CrossProducts, K: np.ndarray) -> CrossProducts:
    """Cross-products of the basis turned into those of ``theta`` (``K'AK``, ``K'b``)."""
    A = K.T @ stats.A @ K
    return CrossProducts(A=0.5 * (A + A.T), b=K.T @ stats.b, yMy=stats.yMy, dof=stats.dof,
                         y_absorbed=stats.y_absorbed)
