"""Progress of long loops inside estimators, shown by whoever runs them.

An estimator with a long loop (sampling draws per chain, bootstrap or permutation iterations,
forest fitting) reports how far it is::

    from bayescity.progress import report_progress, track

    for b in track(range(n_boot), "bootstrap"):          # an iterable, reported item by item
        ...
    report_progress("sampling chain 2", completed=500, total=1500)   # or explicit updates

Nothing is shown unless a caller installed a sink with :func:`progress_to` (the runner's
progress display does, and hides it under ``--quiet``); without one a report costs one
context-variable lookup. Reports are throttled by the sink, not here. Labels name what is
counted; ``total`` may be None when unknown.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ProgressEvent:
    """``completed`` of ``total`` units of the loop called ``label``."""

    label: str
    completed: float
    total: float | None = None


Sink = Callable[[ProgressEvent], None]
_SINK: ContextVar[Sink | None] = ContextVar("bayescity_progress_sink", default=None)


def report_progress(label: str, completed: float, total: float | None = None) -> None:
    """Tell the installed sink (if any) that ``completed`` of ``total`` are done."""
    sink = _SINK.get()
    if sink is not None:
        sink(ProgressEvent(label, completed, total))


def track(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items``, reporting each one done under ``label``."""
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    report_progress(label, 0, total)
    for i, item in enumerate(items, start=1):
        yield item
        report_progress(label, i, total)


@contextmanager
def progress_to(sink: Sink | None) -> Iterator[None]:
    """Send the progress reports made inside the block to ``sink``."""
    token = _SINK.set(sink)
    try:
        yield
    finally:
        _SINK.reset(token)
