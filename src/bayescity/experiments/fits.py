"""What fitting a run's estimators produced, as the runner hands it to publishing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..results.effect import EffectResult


@dataclass
class Fits:
    """The fitted (or reused) results of a run, per estimator id, in config order."""

    results: dict[str, list[EffectResult]]
    resolved: dict[str, dict[str, Any]]
    keys: dict[str, str]
    seeds: dict[str, int]
    data_hash: str
    cached: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    #: estimator id -> the stored posterior (netCDF) path, relative to the model store's root,
    #: and its SHA-256
    posteriors: dict[str, dict[str, str]] = field(default_factory=dict)

