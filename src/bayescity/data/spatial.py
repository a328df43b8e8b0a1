"""Spatial structure of a panel's units: coordinates with distance bands, or a neighbours file.

Exposure to treated neighbours is coded in rings (Butts 2021, "Difference-in-Differences
Estimation with Spatial Spillovers", arXiv:2105.03737): an untreated unit-period is in ring
``r`` when its nearest unit treated by then lies in the ``r``-th distance band (coordinates)
or when its nearest-order treated neighbour is of order ``r`` (a neighbours file with an
optional ``ring`` column). A neighbours file is read with the panel loader's readers and its
mistakes are reported as a :class:`~bayescity.data.errors.PanelError` naming the file, the
column and the first offending rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import PanelError, Problem, problem_at
from .io import read_table
from .validate import missing_columns, numeric_problems

UNIT, NEIGHBOUR, RING, WEIGHT = "unit", "neighbour", "ring", "weight"
EARTH_RADIUS_KM = 6371.0088


def read_neighbours(source: str | Path, units: Sequence[str]) -> pd.DataFrame:
    """Pairs ``unit, neighbour, ring`` from a file with columns ``unit`` and ``neighbour``
    (optional ``ring``: the neighbour's order, an integer >= 1, default 1; optional ``weight``:
    rows with weight 0 are not neighbours). Units are matched as text against ``units``.
    Raises one :class:`PanelError` listing every problem with its rows."""
    frame = read_table(source)
    frame.columns = [str(c).strip() for c in frame.columns]
    problems = missing_columns(frame, [UNIT, NEIGHBOUR])
    if problems:
        raise PanelError(str(source), problems)
    problems += _label_problems(frame, set(map(str, units)))
    for col in (RING, WEIGHT):
        if col in frame.columns:
            problems += numeric_problems(frame, col, allow_missing=False, role=col)
    if not problems:
        problems += _value_problems(frame)
    if problems:
        raise PanelError(str(source), problems)
    ring = frame[RING].astype(int) if RING in frame.columns else 1
    out = pd.DataFrame({UNIT: frame[UNIT].astype(str).str.strip(),
                        NEIGHBOUR: frame[NEIGHBOUR].astype(str).str.strip(), RING: ring})
    if WEIGHT in frame.columns:
        out = out[frame[WEIGHT].to_numpy(dtype=float) > 0]
    return out.reset_index(drop=True)


def _label_problems(frame: pd.DataFrame, known: set[str]) -> list[Problem]:
    problems = []
    for col in (UNIT, NEIGHBOUR):
        values = frame[col]
        empty = values.isna() | (values.astype(str).str.strip() == "")
        if empty.any():
            problems.append(problem_at(col, "empty cells", np.flatnonzero(empty)))
        unknown = ~empty & ~values.astype(str).str.strip().isin(known)
        if unknown.any():
            first = str(values[unknown].iloc[0])
            problems.append(problem_at(col, f"units not in the panel (e.g. {first!r})",
                                       np.flatnonzero(unknown)))
    same = frame[UNIT].astype(str).str.strip() == frame[NEIGHBOUR].astype(str).str.strip()
    if same.any():
        problems.append(problem_at(NEIGHBOUR, "a unit listed as its own neighbour",
                                   np.flatnonzero(same)))
    dup = frame.duplicated([UNIT, NEIGHBOUR], keep="first")
    if dup.any():
        problems.append(problem_at(NEIGHBOUR, "the same (unit, neighbour) pair again",
                                   np.flatnonzero(dup)))
    return problems


def _value_problems(frame: pd.DataFrame) -> list[Problem]:
    problems = []
    if RING in frame.columns:
        ring = frame[RING].to_numpy(dtype=float)
        bad = (ring < 1) | (ring != np.round(ring))
        if bad.any():
            problems.append(problem_at(RING, "not an integer order >= 1", np.flatnonzero(bad)))
    if WEIGHT in frame.columns:
        bad = frame[WEIGHT].to_numpy(dtype=float) < 0
        if bad.any():
            problems.append(problem_at(WEIGHT, "negative weights", np.flatnonzero(bad)))
    return problems


def haversine_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distances (km) between all pairs of points given in degrees."""
    la, lo = np.radians(lat)[:, None], np.radians(lon)[:, None]
    h = np.sin((la - la.T) / 2) ** 2 + np.cos(la) * np.cos(la.T) * np.sin((lo - lo.T) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def coordinate_problems(lat: np.ndarray, lon: np.ndarray) -> list[str]:
    """Latitudes outside [-90, 90] or longitudes outside [-180, 180] (a swapped pair, say)."""
    out = []
    if np.any(np.abs(lat) > 90):
        out.append("latitudes outside [-90, 90] (are latitude and longitude swapped?)")
    if np.any(np.abs(lon) > 180):
        out.append("longitudes outside [-180, 180]")
    return out


def band_rings(distance: np.ndarray, bands: Sequence[float]) -> np.ndarray:
    """Ring of each distance: ``r`` (1-based) for ``bands[r-1] < d <= bands[r]`` (the first
    band includes its lower edge), 0 beyond the last band."""
    edges = np.asarray(bands, dtype=float)
    ring = np.searchsorted(edges, distance, side="left")
    ring[distance == edges[0]] = 1
    return np.where((distance >= edges[0]) & (distance <= edges[-1]), ring, 0)


def ring_labels(bands: Sequence[float]) -> list[str]:
    """``'0-50km'``, ``'50-100km'`` ... for the bands' rings."""
    return [f"{bands[i]:g}-{bands[i + 1]:g}km" for i in range(len(bands) - 1)]


def exposure_rings(cohort: np.ndarray, periods: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Units x periods ring of exposure (0: none) of units untreated in that period.

    ``order[i, j]`` is the ring unit ``j`` puts unit ``i`` in (0: not a neighbour); a unit is in
    the smallest ring of any neighbour treated by then (``cohort`` > 0 and <= the period).
    Treated unit-periods get 0 (their exposure is part of the direct effect)."""
    treated_at = (cohort[None, :] > 0) & (cohort[None, :] <= periods[:, None])  # T x N
    none = np.iinfo(np.int32).max
    big = np.where(order > 0, order, none).astype(np.int32)
    out = np.zeros((cohort.size, periods.size), dtype=np.int64)
    for k in range(periods.size):
        cols = np.flatnonzero(treated_at[k])
        if cols.size:
            near = big[:, cols].min(axis=1)
            out[:, k] = np.where(near == none, 0, near)
    out[treated_at.T] = 0
    return out
