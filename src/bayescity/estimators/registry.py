"""Estimators by method name, so configs and Python users reach them the same way.

The registry knows no paradigm: ``bayescity.estimators`` imports the paradigm packages
(``freq``, ...), whose estimator classes register themselves with :func:`register`.
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, TypeVar

from .core.base import Estimator, did_you_mean

_REGISTRY: dict[str, type[Estimator]] = {}
E = TypeVar("E", bound=type[Estimator])


class UnknownMethodError(KeyError, ValueError):
    """A method name that is not registered (the message suggests near misses)."""
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


def available_methods() -> list[str]:
    """The registered method names, sorted."""
    return sorted(_REGISTRY)


def get_estimator(name: str) -> type[Estimator]:
    """The estimator class registered as ``name``; UnknownMethodError otherwise."""
    if name not in _REGISTRY:
        near = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise UnknownMethodError(f"unknown method {name!r}{hint}; available: "
                                 f"{', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def check_params(cls: type[Estimator], params: dict[str, Any]) -> None:
    """Raise a ValueError naming any keyword the estimator's constructor does not take."""
    accepted = cls.param_names()
    unknown = [k for k in params if k not in accepted]
    if unknown:
        hints = "".join(f"; {k!r}{did_you_mean(k, accepted)}" for k in unknown
                        if did_you_mean(k, accepted))
        raise ValueError(f"{cls.method}: unknown parameter(s) {unknown}{hints}; "
                         f"accepted: {accepted}")


def make_estimator(name: str, **params: Any) -> Estimator:
    """Instantiate a registered estimator, checking the parameter names first."""
    cls = get_estimator(name)
    check_params(cls, params)
    return cls(**params)
