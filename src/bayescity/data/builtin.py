"""The built-in datasets shipped with bayescity, read with ``builtin:<name>``.

``china_cities`` is a SYNTHETIC city x year panel (285 Chinese prefecture-level cities and
municipalities, 2003-2021) built on the real city list and the real innovative-city pilot cohorts;
every economic number in it is simulated by :func:`bayescity.data.simulate.simulate_city_panel`
with :data:`~bayescity.data.simulate.BUILTIN_SEED`, so its causal truth is known
(:func:`bayescity.datasets.load_china_cities`). See ``data/builtin/README.md`` for the columns.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

import pandas as pd

#: Names accepted by :func:`read_builtin` (and by ``builtin:<name>`` sources).
BUILTIN_NAMES: tuple[str, ...] = ("china_cities",)
_FILES = {"china_cities": "china_cities.csv.gz"}
#: Text columns whose empty value means "none" rather than missing.
_EMPTY_IS_NONE = ("pilot_batch",)


def builtin_filename(name: str) -> str:
    """The file name of a built-in dataset; ValueError listing the names for an unknown one."""
    if name not in BUILTIN_NAMES:
        available = ", ".join(BUILTIN_NAMES)
        raise ValueError(f"unknown built-in {name!r}; available: {available}")
    return _FILES[name]


def builtin_path(name: str) -> Traversable:
    """The packaged resource of a built-in dataset (a gzip-compressed UTF-8 CSV)."""
    return files("bayescity").joinpath("data").joinpath("builtin").joinpath(builtin_filename(name))


def read_builtin(name: str) -> pd.DataFrame:
    """Read a built-in dataset into a DataFrame (empty ``pilot_batch`` is ``""``, not missing)."""
    with builtin_path(name).open("rb") as handle:
        data = pd.read_csv(handle, compression="gzip")
    for column in _EMPTY_IS_NONE:
        if column in data:
            data[column] = data[column].fillna("").astype(str)
    return data
