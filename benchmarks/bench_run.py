"""The README's main job, cold and with stored fits, and the report alone.

In one process: ``run_experiment(experiments/innovative_city.yaml)`` with an empty model store
(cold: every estimator fitted and stored, run folder and report written), then again with the
stored fits (best of ``--repeat``), then ``bayescity report``'s re-render of the run folder with
the figures kept in the model store and with every figure drawn again.
Then the same two runs through the ``bayescity`` command in fresh processes, as a user times
them (imports included). Prints times and the rerun speedup.

Targets: cold main job under 180 s on 2 cores with every estimator on; a rerun with stored fits
at least 5x faster than the cold run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import best_of

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "innovative_city.yaml"


def in_process(work: Path, repeat: int) -> dict[str, float]:
    start = time.perf_counter()
    from bayescity.experiments.figure_store import FigureStore
    from bayescity.experiments.runner import run_experiment
    from bayescity.reports import load_run, write_report

    imports = time.perf_counter() - start

    def run():
        return run_experiment(CONFIG, reports_root=work / "reports", models_root=work / "models")

    start = time.perf_counter()
    outcome = run()
    cold = time.perf_counter() - start
    rerun = best_of(run, repeat)
    figures = FigureStore(work / "models")
    render = best_of(lambda: write_report(outcome.run_dir, load_run(outcome.run_dir),
                                          cache=figures), repeat)
    draw = best_of(lambda: write_report(outcome.run_dir, load_run(outcome.run_dir)), 1)
    return {"imports": imports, "cold": cold, "cold_fit": outcome.timings["fit"],
            "rerun": rerun, "render": render, "draw": draw}


def command_line(work: Path) -> dict[str, float]:
    cmd = [sys.executable, "-m", "bayescity", "run", str(CONFIG), "--quiet",
           "--out", str(work / "reports"), "--models", str(work / "models")]
    times = {}
    for label in ("cli_cold", "cli_rerun"):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        times[label] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        t = in_process(Path(a), args.repeat)
        c = command_line(Path(b))
    print(f"main job {CONFIG.name}, in one process (imports {t['imports']:.2f} s not counted):")
    print(f"  cold (fit + store + report):   {t['cold']:7.2f} s   (fitting {t['cold_fit']:.2f} s; "
          f"target < 180 s)")
    print(f"  rerun with stored fits:        {t['rerun']:7.2f} s   speedup {t['cold'] / t['rerun']:5.1f}x "
          f"(target >= 5x)")
    print(f"  report re-render (bayescity report): {t['render']:.2f} s "
          f"({t['draw']:.2f} s drawing every figure again)")
    print("through the command line, fresh processes (imports included):")
    print(f"  cold {c['cli_cold']:.2f} s, rerun {c['cli_rerun']:.2f} s, "
          f"speedup {c['cli_cold'] / c['cli_rerun']:.1f}x")


if __name__ == "__main__":
    main()
