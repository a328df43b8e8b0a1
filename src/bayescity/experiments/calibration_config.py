"""The ``calibration:`` block of an experiment config (read by ``bayescity calibrate``).

Every key is optional; without the block a calibration runs every scenario the design
supports, 20 replications each, with the defaults of
:class:`bayescity.data.scenarios.ScenarioSettings`::

    calibration:
      scenarios: [homogeneous, by_trait_zero_level, dynamic_by_region, no_effect]
      replications: 100          # simulated panels per scenario
      seed_offset: 0             # another offset gives other panels from the same seed
      effect_size: 0.5           # reference effect in residual sds of the outcome
      trait: region3             # categorical trait of by_trait_zero_level, dynamic_by_region
      zero_level: West           # its level with no effect (default: the last level)
      numeric_trait: ln_gdp_pc_2003   # trait of linear_in_trait
      slope: 0.5                 # effect change per sd of numeric_trait, in units of the effect
      rho: 0.5                   # AR(1) coefficient of ar1_shocks
      t_df: 3                    # degrees of freedom of heavy_tails
      noise_traits: 2            # pure-noise traits noise_1, noise_2 added to the design
      params:                    # estimator parameters changed for the calibration only
        bayes_region: {loo: false, prior_sensitivity: false, posterior_predictive: false}
      smoke: {replications: 2, scenarios: [homogeneous]}   # what --smoke runs

``bayescity run`` and ``sweep`` ignore the block. Names, values and ranges are checked when
the config is read; trait names, levels and ``params`` against the data and the estimators
before any replication (exit 2 naming the key).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..data.scenarios import ALIASES, SCENARIOS, ScenarioSettings
from ..estimators.core.base import did_you_mean
from ..estimators.core.params import MAX_SEED

_DEFAULTS = ScenarioSettings()
#: Replications per scenario without a ``replications:`` key.
DEFAULT_REPLICATIONS = 20
DEFAULT_SMOKE_REPLICATIONS = 2
#: Most replications per scenario a calibration takes (a larger count is a typo, not a study).
MAX_REPLICATIONS = 100_000


def canonical_scenarios(value: Any) -> Any:
    """Scenario names with aliases resolved (``null`` -> ``no_effect``); YAML reads ``null``
    unquoted as nothing, which is taken as that alias."""
    if not isinstance(value, list):
        return value
    return [ALIASES.get("null" if v is None else v, v) for v in value]


def check_scenarios(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = [s for s in value if s not in SCENARIOS]
    if unknown:
        raise ValueError(f"unknown scenario {unknown[0]!r}{did_you_mean(unknown[0], SCENARIOS)}; "
                         f"scenarios: {list(SCENARIOS)}")
    repeated = sorted({s for s in value if value.count(s) > 1})
    if repeated:
        raise ValueError(f"scenarios repeated: {repeated}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CalibrationSmoke(_Strict):
    """What ``--smoke`` runs: fewer replications, optionally fewer scenarios."""

    replications: int = Field(DEFAULT_SMOKE_REPLICATIONS, ge=1, le=MAX_REPLICATIONS, strict=True)
    scenarios: list[str] | None = Field(None, min_length=1)

    _aliases = field_validator("scenarios", mode="before")(canonical_scenarios)
    _scenarios = field_validator("scenarios")(check_scenarios)


class CalibrationConfig(_Strict):
    """The ``calibration:`` block (see the module docstring)."""

    scenarios: list[str] | None = Field(None, min_length=1)
    replications: int = Field(DEFAULT_REPLICATIONS, ge=1, le=MAX_REPLICATIONS, strict=True)
    seed_offset: int = Field(0, ge=0, le=MAX_SEED, strict=True)
    effect_size: float = Field(_DEFAULTS.effect_size, ge=0, le=100)
    trait: str | None = None
    zero_level: str | int | None = None
    numeric_trait: str | None = None
    slope: float = Field(_DEFAULTS.slope, ge=-100, le=100)
    rho: float = Field(_DEFAULTS.rho, gt=-1, lt=1)
    t_df: float = Field(_DEFAULTS.t_df, gt=2, le=1e6)
    noise_traits: int = Field(_DEFAULTS.noise_traits, ge=0, le=20, strict=True)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    smoke: CalibrationSmoke = Field(default_factory=CalibrationSmoke)

    _aliases = field_validator("scenarios", mode="before")(canonical_scenarios)
    _scenarios = field_validator("scenarios")(check_scenarios)

    def settings(self) -> ScenarioSettings:
        """The simulator's settings."""
        zero = None if self.zero_level is None else str(self.zero_level)
        return ScenarioSettings(effect_size=self.effect_size, trait=self.trait, zero_level=zero,
                                numeric_trait=self.numeric_trait, slope=self.slope,
                                rho=self.rho, t_df=self.t_df, noise_traits=self.noise_traits)
