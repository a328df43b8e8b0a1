"""Synthetic DID under staggered adoption, cohort by cohort, and its variance replications.

Each adoption cohort ``g`` is one block design: its treated units against the never-treated
units, pre-periods ``t < g`` and post-periods ``t >= g`` (Arkhangelsky et al. 2021, footnote on
staggered adoption; Clarke, Pailanir, Athey & Imbens 2023, "Synthetic difference-in-differences
estimation", Stata's ``sdid``). Every block gets its own unit and time weights and R synthdid's
default regularisation. Its per-period effects are the cells ``(g, t)`` with weight ``N_g``
(treated units), so the shared treated-cell aggregation gives ``ATT`` =
``sum_g N_g T_g tau_g / sum_g N_g T_g`` -- Clarke et al.'s weighting -- and the event-time,
cohort and calendar terms. With ``by`` the blocks are cohort x trait level.

The variances are R synthdid's ``vcov`` methods applied to the whole staggered estimator, as
Clarke et al. do: ``bootstrap`` (Algorithm 2: units resampled, weights re-solved from the
resampled full-sample weights; draws without treated or control units redrawn; a cohort absent
from a draw drops out of that draw's aggregates), ``placebo`` (Algorithm 4: never-treated units
permuted and the treated units' cohorts given to as many of them) and ``jackknife``
(Algorithm 3: each unit left out, weights fixed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .sdid_solver import BlockFit, sdid_block, sum_normalize

VARIANCES = ("bootstrap", "placebo", "jackknife")


@dataclass(frozen=True)
class Design:
    """The outcome matrix (units x periods) with never-treated rows first, then treated rows.

    ``blocks`` lists each block's cohort and trait level (None for a cohort block);
    ``members[k]`` marks the treated rows (in order) that belong to block ``k``. With ``by`` a
    treated unit belongs to its cohort block and to its cohort x level block.
    """

    Y: np.ndarray
    periods: np.ndarray
    n_controls: int
    members: np.ndarray
    blocks: tuple[tuple[int, str | None], ...]

    def t0(self, cohort: int) -> int:
        return int(np.searchsorted(self.periods, cohort))

    def rows(self, k: int, treated_rows: np.ndarray) -> np.ndarray:
        """The rows among ``treated_rows`` (indices into Y) that belong to block ``k``."""
        return treated_rows[self.members[k][treated_rows - self.n_controls]]


def fit_blocks(design: Design) -> list[BlockFit]:
    """SDID of every block against all never-treated units (R synthdid defaults)."""
    controls = np.arange(design.n_controls)
    treated = np.arange(design.n_controls, design.Y.shape[0])
    fits = []
    for k, (cohort, _) in enumerate(design.blocks):
        rows = design.rows(k, treated)
        Y = design.Y[np.concatenate([controls, rows])]
        fits.append(sdid_block(Y, design.n_controls, design.t0(cohort)))
    return fits


def cells(design: Design, curves: Sequence[np.ndarray | None],
          sizes: Sequence[int]) -> pd.DataFrame:
    """One row per (block, post-period): cohort, time, level, weight (treated units), estimate."""
    rows = []
    for (cohort, level), curve, n in zip(design.blocks, curves, sizes):
        if curve is None or n == 0:
            continue
        times = design.periods[design.t0(cohort):]
        rows.append(pd.DataFrame({"cohort": cohort, "time": times, "level": level,
                                  "weight": float(n), "estimate": curve}))
    return pd.concat(rows, ignore_index=True)


def _refit(design: Design, fit: BlockFit, controls: np.ndarray, rows: np.ndarray,
           cohort: int) -> np.ndarray:
    """Re-solve one block on resampled rows, starting from the full-sample weights
    (R synthdid's ``refit`` inside ``bootstrap_sample`` and ``placebo_se``)."""
    omega0 = sum_normalize(fit.omega[controls])
    Y = design.Y[np.concatenate([controls, rows])]
    return sdid_block(Y, controls.size, design.t0(cohort), fit.tuning, omega0, fit.lam).curve


def bootstrap_draw(design: Design, fits: Sequence[BlockFit], rng: np.random.Generator):
    """One bootstrap replication: units drawn with replacement (sorted, as R's ``sample``
    indices are), redrawn while the draw lacks treated or control units."""
    n = design.Y.shape[0]
    while True:
        ind = np.sort(rng.integers(0, n, size=n))
        n0 = int((ind < design.n_controls).sum())
        if 0 < n0 < n:
            break
    controls, treated = ind[:n0], ind[n0:]
    curves, sizes = [], []
    for k, ((cohort, _), fit) in enumerate(zip(design.blocks, fits)):
        rows = design.rows(k, treated)
        curves.append(_refit(design, fit, controls, rows, cohort) if rows.size else None)
        sizes.append(rows.size)
    return curves, sizes


def placebo_draw(design: Design, fits: Sequence[BlockFit], rng: np.random.Generator):
    """One placebo replication: never-treated units permuted; the last ones take the places of
    the treated units in every block (so each block keeps its size), the rest stay controls."""
    perm = rng.permutation(design.n_controls)
    n_treated = design.Y.shape[0] - design.n_controls
    n0 = design.n_controls - n_treated
    controls, placebo = perm[:n0], perm[n0:]
    curves, sizes = [], []
    for k, ((cohort, _), fit) in enumerate(zip(design.blocks, fits)):
        rows = placebo[design.members[k]]
        curves.append(_refit(design, fit, controls, rows, cohort))
        sizes.append(rows.size)
    return curves, sizes


def jackknife_draw(design: Design, fits: Sequence[BlockFit], unit: int):
    """Unit ``unit`` left out, every block's weights fixed (omega renormalised)."""
    keep = np.delete(np.arange(design.Y.shape[0]), unit)
    controls, treated = keep[keep < design.n_controls], keep[keep >= design.n_controls]
    curves, sizes = [], []
    for k, ((cohort, _), fit) in enumerate(zip(design.blocks, fits)):
        rows = design.rows(k, treated)
        Y = design.Y[np.concatenate([controls, rows])]
        omega = sum_normalize(fit.omega[controls])
        curves.append(sdid_block(Y, controls.size, design.t0(cohort), fit.tuning, omega,
                                 fit.lam, solve=False).curve if rows.size else None)
        sizes.append(rows.size)
    return curves, sizes


def replicate(design: Design, fits: Sequence[BlockFit], variance: str,
              draws: Sequence[int] | int, rng: np.random.Generator | None = None) -> list:
    """Replications of the block curves: ``draws`` bootstrap or placebo draws from ``rng``, or
    the jackknife's left-out units ``draws``. Each item is ``(curves, sizes)``."""
    if variance == "jackknife":
        return [jackknife_draw(design, fits, int(i)) for i in draws]
    draw = bootstrap_draw if variance == "bootstrap" else placebo_draw
    return [draw(design, fits, rng) for _ in range(int(draws))]


def replicate_vcov(reps: np.ndarray, variance: str) -> np.ndarray:
    """Covariance of the estimates from their replications (rows), as R synthdid: bootstrap
    and placebo ``(B-1)/B * var``, jackknife ``(n-1)/n * sum of squared deviations``; terms
    missing from some replications (a cohort absent from a bootstrap draw) use the
    replications that have them."""
    frame = pd.DataFrame(reps)
    b = frame.notna().astype(float)
    centred = frame - frame.mean()
    pairs = b.T @ b
    cross = centred.fillna(0.0).T @ centred.fillna(0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        if variance == "jackknife":
            out = cross.to_numpy() * (pairs.to_numpy() - 1) / pairs.to_numpy()
        else:
            out = cross.to_numpy() / pairs.to_numpy()
    return np.where(pairs.to_numpy() > 1, out, np.nan)
