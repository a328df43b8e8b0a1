"""Built-in and simulated datasets with a known causal truth.

All data here are SYNTHETIC: they are built on the real list of Chinese prefecture-level cities
and municipalities and on the real innovative-city pilot cohorts (Shenzhen 2008; 2010; the
2011-2013 batch coded 2012; 2018; the 2022 batch labelled but untreated within 2003-2021), but
output, inputs, TFP, mechanisms and controls are simulated, so the effect of the pilot in every
treated cell is known. Use them to check and compare estimators, not to learn about China.

* :func:`load_china_cities` - the shipped panel ``builtin:china_cities`` with its truth;
* :func:`simulate_city_panel` - fresh panels with switchable heterogeneity, dynamics, cohort
  effects, selection, random assignment, subsets and pre-trends.
"""

from __future__ import annotations

import numpy as np

from bayescity.data.builtin import read_builtin
from bayescity.data.sim_effects import DEFAULT_EFFECT
from bayescity.data.simulate import (BUILTIN_SEED, SimulatedPanel, Truth,
                                     simulate_city_panel)

__all__ = ["BUILTIN_SEED", "DEFAULT_EFFECT", "SimulatedPanel", "Truth", "load_china_cities", "simulate_city_panel"]

#: Columns compared between the shipped file and the regenerated panel.
_CHECKED = ("adcode", "year", "pilot_year", "treated", "tfp_growth", "gdp_real")


def _check_correspondence(shipped, regenerated) -> None:
    """Raise RuntimeError when the shipped file is not the panel of the shipped seed."""
    same_shape = shipped.shape == regenerated.shape
    same = same_shape and all(
        np.allclose(shipped[c].to_numpy(float), regenerated[c].to_numpy(float),
                    rtol=1e-6, atol=1e-5) for c in _CHECKED)
    if not same:
        raise RuntimeError("the shipped builtin:china_cities file does not match "
                           f"simulate_city_panel({BUILTIN_SEED}); regenerate it with "
                           "`python -m bayescity.data.make_builtin`")


def load_china_cities() -> SimulatedPanel:
    """The SYNTHETIC built-in panel (285 cities, 2003-2021) and its known causal truth.

    ``data`` is read from the shipped file (floats rounded to six decimals); ``truth`` is
    regenerated from :data:`BUILTIN_SEED`, after checking that the regenerated panel matches it.
    """
    shipped = read_builtin("china_cities")
    regenerated = simulate_city_panel(BUILTIN_SEED)
    _check_correspondence(shipped, regenerated.data)
    return SimulatedPanel(data=shipped, truth=regenerated.truth, seed=BUILTIN_SEED)
