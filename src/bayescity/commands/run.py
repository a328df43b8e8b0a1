"""The body of ``bayescity run``: options to a run, with progress, warnings and signals."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from .common import fail, interruptible, show_progress, split_ids, warnings_to_console
from .display import RunDisplay


def execute_run(config: str, *, out_dir: str, models_dir: str, smoke: bool, refit: bool,
                only: list[str] | None, quiet: bool, workers: int, executor: str | None,
                scheduler: str | None) -> Any:
    """Run the experiment; exit 2/1/130/143 as documented in :mod:`.common`."""
    from ..experiments.executors import ExecutorSpec
    from ..experiments.runner import run_experiment

    with interruptible("run"), warnings_to_console():
        try:
            spec = ExecutorSpec.from_options(workers, executor, scheduler)
            display = RunDisplay("starting") if show_progress(quiet) else None
            with display or nullcontext():
                return run_experiment(config, reports_root=out_dir, models_root=models_dir,
                                      smoke=smoke, refit=refit, only=split_ids(only) or None,
                                      executor=spec, observer=display)
        except Exception as exc:  # noqa: BLE001 - mapped to exit codes
            fail(exc)
