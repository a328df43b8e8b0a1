"""The experiment config: a strictly validated YAML file (a misspelt key fails before any work)."""

from __future__ import annotations

import codecs
import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..data.io import BUILTIN_PREFIX
from ..estimators.core.params import MAX_SEED, did_you_mean
from ..tfp.derive import DeriveSpec, outcome_problem
from ..data.codings import parse_coding
from ..estimators.registry import UnknownMethodError, get_estimator
from .calibration_config import CalibrationConfig
from .config_messages import format_errors
from .errors import ConfigError, GridError
from .grid import cell, set_path
from .paths import short, slug_problem


#: Estimator ids a run folder's ``fits/`` keeps for its own files.
RESERVED_IDS = frozenset({"index.json"})


def _check_slug(value: str) -> str:
    """Names that become folder names (see :func:`bayescity.experiments.paths.slug_problem`)."""
    if (problem := slug_problem(value)) is not None:
        raise ValueError(problem)
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataConfig(_Strict):
    """Where the panel comes from and the role of each column (the :func:`load_panel` keywords)."""

    source: str
    unit: str = Field(min_length=1)
    time: str = Field(min_length=1)
    outcome: str = Field(min_length=1)
    cohort: str | None = Field(None, min_length=1)
    treatment: str | None = Field(None, min_length=1)
    covariates: list[str] = Field(default_factory=list)
    traits: list[str] = Field(default_factory=list)
    cluster: str | None = None
    sheet: str | int | None = None
    encoding: str | None = None
    drop_missing_outcome: bool = False
    derive: dict[str, DeriveSpec] = Field(default_factory=dict)
    #: An alternative treatment coding (:mod:`bayescity.data.codings`), applied after loading.
    coding: dict[str, Any] | None = None

    @field_validator("source")
    @classmethod
    def _source_given(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("give a file path or builtin:<name>")
        return v

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                text = getattr(codecs.lookup(v), "_is_text_encoding", True)
            except LookupError:
                text = False
            if not text:
                raise ValueError(f"{short(v)} is not a text encoding Python knows (e.g. utf-8, "
                                 "gbk, latin-1)")
        return v

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
        return _check_slug(v)


class SweepConfig(_Strict):
    """The grid ``bayescity sweep`` runs by default: config path -> values (see
    :mod:`bayescity.experiments.sweep`); ``bayescity run`` ignores it."""

    grid: dict[str, list[Any]] = Field(min_length=1)

    @field_validator("grid")
    @classmethod
    def _values_given(cls, v: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [k for k, values in v.items() if not values]
        if empty:
            raise ValueError(f"give at least one value for {', '.join(map(repr, empty))}")
        return v


class ExperimentConfig(_Strict):
    """A whole study: a name, one seed, one panel and the estimators to run on it."""

    name: str
    seed: int = Field(0, strict=True)
    data: DataConfig
    estimators: list[EstimatorConfig] = Field(min_length=1)
    sweep: SweepConfig | None = None
    #: What ``bayescity calibrate`` simulates (:mod:`.calibration_config`); ``run`` ignores it.
    calibration: CalibrationConfig | None = None

    @field_validator("name")
    @classmethod
    def _name_slug(cls, v: str) -> str:
        return _check_slug(v)

    @field_validator("seed")
    @classmethod
    def _seed_range(cls, v: int) -> int:
        if problem := seed_problem(v):
            raise ValueError(problem)
        return v

    @model_validator(mode="after")
    def _check_estimators(self) -> "ExperimentConfig":
        ids = [e.id for e in self.estimators]
        folded = [i.casefold() for i in ids]
        if taken := [i for i, f in zip(ids, folded) if f in RESERVED_IDS]:
            raise ValueError(f"estimator id {taken[0]!r} is taken: a run folder holds "
                             f"fits/{taken[0]} beside its own files")
        dupes = sorted({i for i, f in zip(ids, folded) if folded.count(f) > 1})
        if dupes:
            raise ValueError(f"estimator ids must be unique (ignoring case: they name folders); "
                             f"repeated: {dupes}")
        problems = [f"estimator {e.id!r} ({e.method}): {p}" for e in self.estimators
                    if (p := estimator_problem(e)) is not None]
        if problems:
            raise ValueError("\n  - ".join(problems))
        return self


def estimator_problem(est: EstimatorConfig) -> str | None:
    """What is wrong with an estimator's method or parameters (None when nothing), in the
    config's words; the caller names the estimator."""
    try:
        cls = get_estimator(est.method)
    except UnknownMethodError as exc:
        return str(exc)
    for section, params in (("params", est.params), ("smoke", est.smoke)):
        if problem := unknown_params(section, params, cls.param_names()):
            return problem
    for section, params in (("", est.params), ("smoke: ", {**est.params, **est.smoke})):
        try:
            cls(**params).validate()
        except (ValueError, TypeError) as exc:
            return f"{section}{exc}"
        if not est.smoke:
            break
    return None


def seed_problem(value: Any) -> str | None:
    """Why ``value`` is not an experiment seed (None when it is): an integer numpy's
    SeedSequence takes, kept to 128 bits like the estimators' ``random_state``."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEED:
        return None
    return f"{short(value)} is not a seed: give an integer from 0 to 2**128 - 1"


def unknown_params(section: str, params: dict[str, Any], accepted: list[str]) -> str | None:
    """The sentence naming the keys of ``params`` that are not ``accepted`` (with did-you-mean
    hints), prefixed by ``section``; None when every key is accepted."""
    unknown = [k for k in params if k not in accepted]
    if not unknown:
        return None
    hints = "".join(f"; {k!r}{did_you_mean(k, accepted)}" for k in unknown
                    if did_you_mean(k, accepted))
    return f"{section}: unknown parameter(s) {unknown}{hints}; accepted: {', '.join(accepted)}"


#: The keys each mapping of a config accepts (for did-you-mean hints on a misspelt key).
_KEYS = {(): list(ExperimentConfig.model_fields), ("data",): list(DataConfig.model_fields),
         ("estimators", None): list(EstimatorConfig.model_fields),
         ("sweep",): list(SweepConfig.model_fields)}


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
    except IsADirectoryError:
        raise ConfigError(f"config file {str(path)!r} is a folder, not a YAML file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not UTF-8 text ({exc.reason} at byte "
                          f"{exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
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
        raise ConfigError(format_errors(path, exc, raw, _KEYS)) from None
    if config.sweep is not None:
        check_grid(raw, config.sweep.grid, path)
    source = config.data.source
    if not source.startswith(BUILTIN_PREFIX) and not Path(source).is_absolute():
        resolved = str((path.parent / source).resolve())
        config = config.model_copy(update={"data": config.data.model_copy(update={"source": resolved})})
    estimators = [e.model_copy(update={k: resolve_paths(getattr(e, k), e.method, path.parent)
                                       for k in ("params", "smoke")}) for e in config.estimators]
    return config.model_copy(update={"estimators": estimators})


def resolve_paths(params: dict[str, Any], method: str, folder: str | Path) -> dict[str, Any]:
    """``params`` with each relative file path the method names in ``path_params`` (a
    neighbours file ...) resolved against ``folder``, as the data source is; a wrapped
    estimator's ``estimator_params`` too."""
    out = dict(params)
    for name in get_estimator(method).path_params:
        if isinstance(out.get(name), str) and not Path(out[name]).is_absolute():
            out[name] = str((Path(folder) / out[name]).resolve())
    if isinstance(out.get("estimator"), str) and isinstance(out.get("estimator_params"), dict):
        out["estimator_params"] = resolve_paths(out["estimator_params"], out["estimator"], folder)
    return out


def check_grid(raw: dict[str, Any], grid: dict[str, list[Any]], path: str | Path) -> None:
    """Raise a :class:`GridError` (in the config's words) for a ``sweep: grid:`` key that
    addresses nothing in the config ``raw`` or a value that makes it invalid, each key changed
    alone; combinations of keys and the data are checked when the sweep runs."""
    head = f"invalid config {str(path)!r}:\n  - sweep.grid: "
    base = {k: v for k, v in raw.items() if k != "sweep"}
    for key, values in grid.items():
        for value in values:
            variant = copy.deepcopy(base)
            try:
                set_path(variant, key, value)
                parse_config(variant, path)
            except GridError as exc:
                raise GridError(head + str(exc)) from None
            except ConfigError as exc:
                problems = str(exc).split("\n")[1:]
                raise GridError(head + f"{key}={cell(value)}: " +
                                "\n    ".join(p.removeprefix("  - ") for p in problems)) from None
