"""The effect components of each variant and how they load on the treated cells and cities.

Groups of deviations (cohorts, trait levels, cells, cities within their cohort x level group)
sum to zero: a group of ``k`` deviations is ``C gamma`` with ``C`` an orthonormal basis of the
zero-sum subspace and ``gamma ~ N(0, s^2 I_{k-1})``, i.e. the deviations follow PyMC's
``ZeroSumNormal(s)``. The overall level ``mu`` is then the mean over levels rather than a
quantity the prior alone separates from the deviations' mean, which keeps both the Gibbs sampler
and NUTS from wandering along a direction the data do not inform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class Component:
    """A block of ``theta``: its name, prior key (``effect``: fixed sd; others: learned
    scales), whether the scale is learned, the dimension and labels it is reported on, its slice
    of ``theta`` and ``report`` (labels x size) turning its parameters into labelled values."""

    name: str
    prior: str
    learned: bool
    dim: str | None
    labels: tuple
    start: int
    stop: int
    report: np.ndarray

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(frozen=True, eq=False)
class Block:
    """A component before placement: loadings on the cells and on the treated cities."""

    name: str
    prior: str
    learned: bool
    dim: str | None
    labels: tuple
    on_cells: np.ndarray
    on_cities: np.ndarray
    report: np.ndarray


def zero_sum_basis(k: int) -> np.ndarray:
    """(k x (k-1)) orthonormal basis of the vectors summing to zero."""
    q, _ = np.linalg.qr(np.column_stack([np.ones(k), np.eye(k)[:, :k - 1]]))
    return q[:, 1:]


def grouped_zero_sum(groups: np.ndarray) -> np.ndarray:
    """Zero-sum contrasts within each group (rows: members; groups of one get no column)."""
    codes, _ = pd.factorize(pd.Series(groups), sort=True)
    cols = []
    for g in range(codes.max() + 1 if codes.size else 0):
        members = np.flatnonzero(codes == g)
        if members.size < 2:
            continue
        block = np.zeros((codes.size, members.size - 1))
        block[members] = zero_sum_basis(members.size)
        cols.append(block)
    return np.hstack(cols) if cols else np.zeros((codes.size, 0))


def _indicator(values: np.ndarray, levels: np.ndarray) -> np.ndarray:
    return (values[:, None] == levels[None, :]).astype(float)


def _deviations(name: str, prior: str, learned: bool, dim: str, values: np.ndarray,
                n_cities: int) -> Block | None:
    """Zero-sum deviations by the levels of ``values`` (one per cell), or None for one level."""
    levels = np.unique(values)
    if levels.size < 2:
        return None
    C = zero_sum_basis(levels.size)
    labels = tuple(int(v) if isinstance(v, (int, np.integer)) else str(v) for v in levels)
    return Block(name, prior, learned, dim, labels, _indicator(values, levels) @ C,
                 np.zeros((n_cities, C.shape[1])), C)


def centred_steps(rel: np.ndarray, steps: np.ndarray, weights: np.ndarray,
                  groups: np.ndarray) -> np.ndarray:
    """(cells x steps) loadings of random-walk steps, centred within each group: a cell at
    event time ``e`` loads ``1[e >= s] - P_g(E >= s)`` on step ``s``, with ``P_g`` the share of
    its group's treated observations at ``e >= s``. The path a group's cells take then averages
    to zero over its observations, whatever the steps, so that the steps shape a group's path
    and its level deviation alone sets its average effect."""
    raw = (rel[:, None] >= steps[None, :]).astype(float)
    out = np.empty_like(raw)
    for g in np.unique(groups):
        members = groups == g
        share = weights[members] @ raw[members] / weights[members].sum()
        out[members] = raw[members] - share[None, :]
    return out


def _level_steps(trait: str, prior: str, levels_of_cells: np.ndarray, rel: np.ndarray,
                 weights: np.ndarray, n_cities: int) -> Block | None:
    """Each level's own event-time path of one trait, as deviations from the common steps:
    at every event step ``s >= 1`` the levels' steps sum to zero, and a cell loads on its
    level's steps through :func:`centred_steps` (centred within the level). None for one
    level or no step."""
    levels, codes = np.unique(levels_of_cells, return_inverse=True)
    steps = np.unique(rel)[1:]
    if levels.size < 2 or steps.size == 0:
        return None
    load = centred_steps(rel, steps, weights, codes)
    C = zero_sum_basis(levels.size)
    k = C.shape[1]
    on_cells = np.zeros((rel.size, steps.size * k))
    for j in range(steps.size):
        on_cells[:, j * k:(j + 1) * k] = load[:, [j]] * C[codes]
    labels = tuple(f"{int(step)}|{level}" for step in steps for level in levels)
    return Block(f"level_step_{trait}", prior, False, f"{trait}_event_step", labels, on_cells,
                 np.zeros((n_cities, on_cells.shape[1])), np.kron(np.eye(steps.size), C))


def cell_blocks(cells: pd.DataFrame, variant: str, by: Sequence[str], labels: tuple,
                n_cities: int) -> list[Block]:
    """The components of ``variant`` that load on cells (see :mod:`.design`).

    ``hierarchical`` learns the scales of the level, cohort and cell deviations and gives the
    event-time steps (common and per level) fixed weakly informative priors; ``unpooled``
    gives every group the fixed ``effect`` prior, so no group borrows strength from the
    others; ``static`` keeps ``mu`` and the (partially pooled) level deviations only.
    """
    n, rel = len(cells), cells["rel_time"].to_numpy()
    weights = cells["weight"].to_numpy(float)
    pooled = variant == "hierarchical"

    def prior(key: str) -> str:
        return key if pooled else "effect"

    out = [Block("mu", "effect", False, None, (), np.ones((n, 1)), np.zeros((n_cities, 1)),
                 np.ones((1, 1)))]
    steps = np.unique(rel)[1:]
    dynamic = variant != "static"
    if dynamic and steps.size:
        out.append(Block("event_step", prior("event"), False, "event_step",
                         tuple(int(s) for s in steps),
                         (rel[:, None] >= steps[None, :]).astype(float),
                         np.zeros((n_cities, steps.size)), np.eye(steps.size)))
    if dynamic:
        out.append(_deviations("cohort_dev", prior("cohort"), pooled, "cohort",
                               cells["cohort"].to_numpy(), n_cities))
    level_prior, level_learned = ("effect", False) if variant == "unpooled" else ("trait", True)
    out += [_deviations(f"level_dev_{t}", level_prior, level_learned, t, cells[t].to_numpy(),
                        n_cities) for t in by]
    if dynamic:
        out += [_level_steps(t, prior("trait_event"), cells[t].to_numpy(), rel, weights,
                             n_cities) for t in by]
    if dynamic and n > 1:
        C = zero_sum_basis(n)
        out.append(Block("cell_dev", prior("cell"), pooled, "cell", labels, C,
                         np.zeros((n_cities, n - 1)), C))
    return [b for b in out if b is not None]


def city_block(groups: np.ndarray, n_cells: int, unit_name: str, units: tuple,
               pooled: bool) -> Block | None:
    """City deviations summing to zero within each city's cohort x level group (a learned
    scale when ``pooled``, else the fixed ``effect`` prior)."""
    C = grouped_zero_sum(groups)
    if C.shape[1] == 0:
        return None
    return Block("city_dev", "city" if pooled else "effect", pooled, unit_name, units,
                 np.zeros((n_cells, C.shape[1])), C, C)


def place(blocks: list[Block]) -> tuple[tuple[Component, ...], np.ndarray]:
    """Components with their slices of ``theta`` and ``K`` (basis = cells, then cities)."""
    comps, cols, start = [], [], 0
    for b in blocks:
        size = b.on_cells.shape[1]
        comps.append(Component(b.name, b.prior, b.learned, b.dim, b.labels, start,
                               start + size, b.report))
        cols.append(np.vstack([b.on_cells, b.on_cities]))
        start += size
    return tuple(comps), np.hstack(cols)
