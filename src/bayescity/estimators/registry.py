"""Estimators by method name, so configs and Python users reach them the same way."""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from .base import Estimator

_REGISTRY: dict[str, type[Estimator]] = {}
E = TypeVar("E", bound=type[Estimator])


class UnknownMethodError(KeyError, ValueError):
    def __str__(self) -> str:
        return str(self.args[0])


def register(name: str) -> Callable[[E], E]:
    """Class decorator: make an estimator reachable as ``method: <name>``."""

    def deco(cls: E) -> E:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"method {name!r} is already registered to {_REGISTRY[name].__name__}")
        cls.method = name
        _REGISTRY[name] = cls
        return cls

    return deco


def _load_builtin_estimators() -> None:
    from . import freq  # noqa: F401  (registers on import)


def available_methods() -> list[str]:
    _load_builtin_estimators()
    return sorted(_REGISTRY)


def get_estimator(name: str) -> type[Estimator]:
    _load_builtin_estimators()
    if name not in _REGISTRY:
        raise UnknownMethodError(f"unknown method {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def check_params(cls: type[Estimator], params: dict[str, Any]) -> None:
    """Raise a ValueError naming any keyword the estimator's constructor does not take."""
    accepted = cls.param_names()
    unknown = [k for k in params if k not in accepted]
    if unknown:
        raise ValueError(f"{cls.method}: unknown parameter(s) {unknown}; accepted: {accepted}")


def make_estimator(name: str, **params: Any) -> Estimator:
    """Instantiate a registered estimator, checking the parameter names first."""
    cls = get_estimator(name)
    check_params(cls, params)
    return cls(**params)
