"""Where tasks run: in this process, on a local process pool, or on a Dask cluster.

Every executor has one method, ``map(fn, items) -> list`` (results in the order of ``items``;
the protocol of :mod:`bayescity.parallel`). The runner installs one with
:func:`bayescity.parallel.use_executor`, so the embarrassingly parallel loops inside estimators
(``map_tasks``: permutations, bootstrap batches, simulation replications) and the variants of a
sweep run wherever the user asked::

    bayescity run CONFIG --workers 2                                   # local process pool
    bayescity sweep CONFIG --grid seed=1,2,3 --executor dask --scheduler tcp://10.0.0.5:8786

Tasks carry their own seeds, so the numbers do not depend on the executor. ``fn`` must be a
module-level function and the items plain data (they are pickled to reach other processes --
this process sends them; nothing is unpickled from files). On a real cluster the workers need
bayescity installed and must see the data files and the ``models/`` folder at the same paths
(a shared filesystem); ``builtin:`` datasets ship with the package.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from ..parallel import Executor, SerialExecutor
from ..progress import report_progress
from .config import ConfigError

KINDS = ("local", "dask")


class ExecutorError(ConfigError):
    """Executor options that cannot work together (a user error: exit 2)."""


@dataclass(frozen=True)
class ExecutorSpec:
    """How to run tasks: ``serial``, ``local`` (``workers`` processes) or ``dask`` (``scheduler``
    address, or -- inside a Dask task -- the cluster that runs it)."""

    kind: str = "serial"
    workers: int = 1
    scheduler: str | None = None

    @classmethod
    def from_options(cls, workers: int = 1, executor: str | None = None,
                     scheduler: str | None = None) -> "ExecutorSpec":
        """The spec for the CLI options ``--workers``, ``--executor``, ``--scheduler``."""
        if workers < 1:
            raise ExecutorError(f"--workers: must be at least 1, got {workers}")
        if executor is not None and executor not in KINDS:
            raise ExecutorError(f"--executor: {executor!r} is not one of {list(KINDS)}")
        if executor == "dask":
            if not scheduler:
                raise ExecutorError("--executor dask needs --scheduler ADDRESS "
                                    "(e.g. tcp://127.0.0.1:8786)")
            return cls("dask", workers, scheduler)
        if scheduler:
            raise ExecutorError("--scheduler is for --executor dask")
        return cls("local" if workers > 1 else "serial", workers)


class LocalPoolExecutor:
    """Tasks on a pool of ``workers`` local processes (forkserver start: no inherited threads)."""

    def __init__(self, workers: int):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["bayescity.experiments.sweep"])
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        futures = [self._pool.submit(fn, item) for item in items]
        pending, total = set(futures), len(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                report_progress("tasks", total - len(pending), total)
                for f in done:
                    f.result()  # raises the first failure
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        return [f.result() for f in futures]

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Tasks on a Dask distributed cluster: the scheduler at ``address``, or, from inside a
    task already running on a worker (``address=None``), the cluster running it."""

    def __init__(self, address: str | None):
        self._client = None
        if address is not None:
            from distributed import Client

            self._client = Client(address, set_as_default=False, timeout="30s")

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self._client is not None:
            return _gather(self._client, fn, items)
        from distributed import worker_client

        with worker_client() as client:
            return _gather(client, fn, items)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _gather(client: Any, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
    from distributed import as_completed

    futures = client.map(fn, list(items), pure=False)
    try:
        for i, _ in enumerate(as_completed(futures, loop=client.loop), start=1):
            report_progress("tasks", i, len(futures))
        return client.gather(futures)
    except BaseException:
        client.cancel(futures)
        raise


@contextmanager
def open_executor(spec: ExecutorSpec) -> Iterator[Executor]:
    """The executor for ``spec``, closed (pool shut down, client disconnected) on exit."""
    if spec.kind == "serial":
        yield SerialExecutor()
        return
    executor = LocalPoolExecutor(spec.workers) if spec.kind == "local" else DaskExecutor(
        spec.scheduler)
    try:
        yield executor
    finally:
        executor.close()
