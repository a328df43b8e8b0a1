"""The known pilot effect of a synthetic city panel, summarised (:class:`Truth`).

Every summary is computed from the cells that were actually simulated: the treated cells
(``year >= pilot_year > 0``) of the kept units inside the requested window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bayescity.data.sim_effects import MECHANISMS

@dataclass(frozen=True, eq=False)
class Truth:
    """The known effects of the pilot in a simulated panel (effects on ``tfp_growth`` in pp).

    ``cell_effects`` has one row per treated cell (``year >= cohort > 0``) with ``tau`` (effect on
    tfp_growth), ``tau_tfp`` (effect on the log TFP level, the running sum of tau / 100), its
    channels ``direct`` and ``via_<mechanism>`` (summing to tau), and the effects
    ``effect_<mechanism>`` on the mechanisms in their own units and ``effect_ln_patents``.
    """

    cell_effects: pd.DataFrame
    att: float
    att_by: dict[str, pd.Series]
    att_event: pd.Series
    att_cohort: pd.Series
    mechanism_shares: dict[str, float]
    params: dict = field(default_factory=dict)

    def unit_effects(self) -> pd.Series:
        """Mean tau over each treated city's post-approval cells, indexed by city."""
        return self.cell_effects.groupby("city", sort=True)["tau"].mean().rename("tau")


#: Trait columns over which :attr:`Truth.att_by` averages.
ATT_BY = ("region3", "north_south", "region4")
_CELL_ID = ("city", "year", "pilot_year", "region3", "region4", "north_south")


def cell_effects(data: pd.DataFrame, effects: dict[str, np.ndarray],
                 window: np.ndarray) -> pd.DataFrame:
    """One row per treated cell of ``data`` with tau, tau_tfp and the channel decomposition."""
    tau_level = np.cumsum(effects["tau"], axis=1) / 100.0
    arrays = {"tau": effects["tau"], "tau_tfp": tau_level, "rel_time": effects["rel_time"]}
    names = ["direct", *(f"via_{m}" for m in MECHANISMS), *(f"effect_{m}" for m in MECHANISMS),
             "effect_ln_patents"]
    arrays.update({name: effects[name] for name in names})
    flat = {k: np.asarray(v)[:, window].reshape(-1) for k, v in arrays.items()}
    treated = data["treated"].to_numpy() == 1
    cells = data.loc[treated, list(_CELL_ID)].rename(columns={"pilot_year": "cohort"})
    cells.insert(3, "rel_time", flat["rel_time"][treated].astype("int64"))
    for name in ["tau", "tau_tfp", *names]:
        cells[name] = flat[name][treated]
    return cells.reset_index(drop=True)


def event_time_att(cells: pd.DataFrame, data: pd.DataFrame) -> pd.Series:
    """ATT by event time; observed pre-approval event times of treated units are exactly zero."""
    post = cells.groupby("rel_time", sort=True)["tau"].mean()
    ever = data[data["pilot_year"] > 0]
    pre_times = sorted({int(e) for e in (ever["year"] - ever["pilot_year"]) if e < 0})
    pre = pd.Series(0.0, index=pd.Index(pre_times, dtype="int64"))
    out = pd.concat([pre, post]) if len(pre) else post
    out.index = out.index.astype("int64").rename("event_time")
    return out.rename("att").astype(float)


def mechanism_shares(cells: pd.DataFrame) -> dict[str, float]:
    """Share of the summed treated-cell effect on tfp_growth carried by each channel."""
    total = float(cells["tau"].sum())
    channels = [*MECHANISMS, "direct"]
    columns = {m: f"via_{m}" for m in MECHANISMS} | {"direct": "direct"}
    if total == 0.0:
        return {c: float("nan") for c in channels}
    return {c: float(cells[columns[c]].sum() / total) for c in channels}


def build_truth(data: pd.DataFrame, effects: dict[str, np.ndarray], window: np.ndarray,
                params: dict):
    """Assemble the :class:`Truth` of a simulated panel."""
    cells = cell_effects(data, effects, window)
    att = float(cells["tau"].mean()) if len(cells) else float("nan")
    att_by = {col: cells.groupby(col, sort=True)["tau"].mean().rename("att") for col in ATT_BY}
    att_cohort = cells.groupby("cohort", sort=True)["tau"].mean().rename("att")
    return Truth(cell_effects=cells, att=att, att_by=att_by,
                 att_event=event_time_att(cells, data), att_cohort=att_cohort,
                 mechanism_shares=mechanism_shares(cells), params=dict(params))
