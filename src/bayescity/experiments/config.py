"""The experiment config: a strictly validated YAML file (a misspelt key fails before any work)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..data.io import BUILTIN_PREFIX
from ..tfp.derive import DeriveSpec, outcome_problem
from ..data.codings import parse_coding
from ..estimators.registry import UnknownMethodError, check_params, get_estimator
from .calibration_config import CalibrationConfig


class ConfigError(ValueError):
    """A config file that cannot be read or does not validate."""


def _check_slug(what: str, value: str) -> str:
    """Names that become folder names: letters, digits, '_', '-', '.' only."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
        raise ValueError(f"{what} {value!r} may use letters, digits, '_', '-', '.' only")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Where the panel comes from and the role of each column (the :func:`load_panel` keywords)."""

    source: str
    unit: str
    time: str
    outcome: str
    cohort: str | None = None
    treatment: str | None = None
    covariates: list[str] = Field(default_factory=list)
    traits: list[str] = Field(default_factory=list)
    cluster: str | None = None
    sheet: str | int | None = None
    encoding: str | None = None
    drop_missing_outcome: bool = False
    derive: dict[str, DeriveSpec] = Field(default_factory=dict)
    #: An alternative treatment coding (:mod:`bayescity.data.codings`), applied after loading.
    coding: dict[str, Any] | None = None

    @field_validator("coding")
    @classmethod
    def _coding(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:

        parse_coding(v)
        return v

    @model_validator(mode="after")
    def _timing_given(self) -> "DataConfig":
        if self.cohort is None and self.treatment is None:
            raise ValueError("data: give the treatment timing as `cohort:` or `treatment:`")
        if problem := outcome_problem(self.derive, self.outcome, self.drop_missing_outcome):
            raise ValueError(problem)
        return self

    def load_kwargs(self) -> dict[str, Any]:
        return self.model_dump(exclude={"source", "derive", "coding"})


class EstimatorConfig(_Strict):
    """One estimator: ``params`` are exactly the estimator's constructor keywords.

    ``smoke`` holds parameter overrides used by ``--smoke`` runs (fewer draws, fewer replications).
    """

    id: str
    method: str
    params: dict[str, Any] = Field(default_factory=dict)
    smoke: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _slug(cls, v: str) -> str:
        return _check_slug("estimator id", v)


class SweepConfig(_Strict):
    """The grid ``bayescity sweep`` runs by default: config path -> values (see
    :mod:`bayescity.experiments.sweep`); ``bayescity run`` ignores it."""

    grid: dict[str, list[Any]] = Field(min_length=1)


class ExperimentConfig(_Strict):
    """A whole study: a name, one seed, one panel and the estimators to run on it."""

    name: str
    seed: int = 0
    data: DataConfig
    estimators: list[EstimatorConfig] = Field(min_length=1)
    sweep: SweepConfig | None = None
    #: What ``bayescity calibrate`` simulates (:mod:`.calibration_config`); ``run`` ignores it.
    calibration: CalibrationConfig | None = None

    @field_validator("name")
    @classmethod
    def _name_slug(cls, v: str) -> str:
        return _check_slug("name", v)

    @model_validator(mode="after")
    def _check_estimators(self) -> "ExperimentConfig":

        ids = [e.id for e in self.estimators]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"estimator ids must be unique; repeated: {dupes}")
        problems = []
        for e in self.estimators:
            try:
                cls = get_estimator(e.method)
                check_params(cls, e.params)
                check_params(cls, e.smoke)
                cls(**e.params).validate()
                cls(**{**e.params, **e.smoke}).validate()
            except (UnknownMethodError, ValueError, TypeError) as exc:
                problems.append(f"estimator {e.id!r} ({e.method}): {exc}")
        if problems:
            raise ValueError("\n  - ".join(problems))
        return self


def _format_validation(path: Path, exc: ValidationError) -> str:
    lines = [f"invalid config {str(path)!r}:"]
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (misspelt?)"
        lines.append(f"  - {where}: {msg}" if where else f"  - {msg}")
    return "\n".join(lines)


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a YAML config; a relative data ``source`` is resolved against its folder."""
    return parse_config(read_raw(path), path)


def read_raw(path: str | Path) -> Any:
    """The YAML content of a config file, not yet validated."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {exc}") from None


def parse_config(raw: Any, path: str | Path) -> ExperimentConfig:
    """Validate a config mapping read from ``path`` (the folder a relative source is read from)."""
    path = Path(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping at the top level")
    try:
        config = ExperimentConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(path, exc)) from None
    source = config.data.source
    if not source.startswith(BUILTIN_PREFIX) and not Path(source).is_absolute():
        resolved = str((path.parent / source).resolve())
        config = config.model_copy(update={"data": config.data.model_copy(update={"source": resolved})})
    estimators = [e.model_copy(update={k: _resolve_paths(getattr(e, k), e.method, path.parent)
                                       for k in ("params", "smoke")}) for e in config.estimators]
    return config.model_copy(update={"estimators": estimators})


def _resolve_paths(params: dict[str, Any], method: str, folder: Path) -> dict[str, Any]:
    """``params`` with each relative file path the method names in ``path_params`` (a
    neighbours file ...) resolved against ``folder``, as the data source is; a wrapped
    estimator's ``estimator_params`` too."""
    out = dict(params)
    for name in get_estimator(method).path_params:
        if isinstance(out.get(name), str) and not Path(out[name]).is_absolute():
            out[name] = str((folder / out[name]).resolve())
    if isinstance(out.get("estimator"), str) and isinstance(out.get("estimator_params"), dict):
        out["estimator_params"] = _resolve_paths(out["estimator_params"], out["estimator"], folder)
    return out
