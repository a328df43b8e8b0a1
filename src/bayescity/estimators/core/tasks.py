"""Parallel loops of estimators that report their progress.

:func:`map_with_progress` is :func:`bayescity.parallel.map_tasks` with a progress report under
a label (:mod:`bayescity.progress`): item by item when the tasks run one after another in this
process, at the start and at the end when an executor (process pool, Dask) runs them together.
Where the tasks run never changes what they compute: each item carries its own seed.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ...parallel import SerialExecutor, current_executor, map_tasks
from ...progress import report_progress


def map_with_progress(fn: Callable[[Any], Any], items: Sequence[Any], label: str,
                      sizes: Sequence[int] | None = None) -> list[Any]:
    """``map_tasks(fn, items)``, reporting under ``label`` how many units are done.

    ``sizes`` counts the units of each item (e.g. permutations per batch; 1 each by default),
    so the report reads in the units a user asked for ("412 of 1000 permutations").
    """
    items = list(items)
    sizes = [1] * len(items) if sizes is None else [int(s) for s in sizes]
    total = sum(sizes)
    report_progress(label, 0, total)
    if not isinstance(current_executor(), SerialExecutor):
        out = map_tasks(fn, items)
        report_progress(label, total, total)
        return out
    out, done = [], 0
    for item, size in zip(items, sizes):
        out.extend(map_tasks(fn, [item]))
        done += size
        report_progress(label, done, total)
    return out
