"""Where the embarrassingly parallel loops of an estimator run (permutations, bootstrap batches,
simulation replications).

Estimators call :func:`map_tasks` instead of looping; by default the tasks run one after another
in this process. A runner (local pool, Dask) installs an executor for the duration of a run with
:func:`use_executor`. Every task must carry its own seed (e.g. one ``SeedSequence.spawn`` child
per batch), so the numbers do not depend on where or in which order tasks run.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence


class Executor(Protocol):
    """Runs ``fn`` over ``items`` and returns the results in the order of ``items``."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]: ...


class SerialExecutor:
    """Runs tasks in order in the calling process."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        return [fn(item) for item in items]


_CURRENT: ContextVar[Executor] = ContextVar("bayescity_executor", default=SerialExecutor())


def current_executor() -> Executor:
    return _CURRENT.get()


@contextmanager
def use_executor(executor: Executor) -> Iterator[Executor]:
    """Run the :func:`map_tasks` calls inside the block on ``executor``."""
    token = _CURRENT.set(executor)
    try:
        yield executor
    finally:
        _CURRENT.reset(token)


def map_tasks(fn: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
    """``[fn(x) for x in items]`` on the current executor, results in order. ``fn`` and the items
    must be picklable (module-level functions, plain data) to run on a process pool or cluster."""
    return current_executor().map(fn, list(items))
