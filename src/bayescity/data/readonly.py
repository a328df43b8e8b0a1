"""Handing out data that its receiver cannot change: copies of frames, read-only arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Whether pandas copies on write (pandas >= 3, or the option set): a shallow copy is then a
#: safe, cheap copy.
_COW = int(pd.__version__.split(".")[0]) >= 3 or bool(
    getattr(pd.options.mode, "copy_on_write", False))


def frame_copy(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` that its receiver may change without changing ``frame``: a shallow
    copy under pandas' copy-on-write, a deep one otherwise."""
    return frame.copy(deep=not _COW)


def readonly_array(values: Any) -> np.ndarray:
    """A read-only copy of ``values`` as a numpy array."""
    arr = np.array(values, copy=True)
    arr.flags.writeable = False
    return arr
