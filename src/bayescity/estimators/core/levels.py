"""Treatment x trait-level dummies and treated units per level (``by=<trait>``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...data.panel import TREAT
from .fixest import design_frame, safe_name


def level_dummies(data: pd.DataFrame, by: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    """``data`` plus ``D x 1[by == level]`` per level (a new frame); returns (frame, levels, names)."""
    levels = sorted(pd.unique(data[by]), key=str)
    values, treat = data[by].to_numpy(), data[TREAT].to_numpy(dtype=float)
    names = [f"{TREAT}__{safe_name(level)}" for level in levels]
    D = np.column_stack([treat * (values == level) for level in levels])
    return design_frame(data, names, D), [str(lv) for lv in levels], names


def treated_units_by(data: pd.DataFrame, unit: str, by: str | None = None) -> np.ndarray:
    """Distinct units with a treated observation in ``data`` (per sorted level of ``by``)."""
    treated = data.loc[data[TREAT].to_numpy() == 1]
    if by is None:
        return np.array([treated[unit].nunique()], dtype=np.int64)
    levels = sorted(pd.unique(data[by]), key=str)
    counts = treated.groupby(by)[unit].nunique()
    return np.array([int(counts.get(level, 0)) for level in levels], dtype=np.int64)

