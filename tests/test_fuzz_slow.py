"""Fuzzing the command line over a large budget (``-m slow``): at least 2,000 generated configs
for ``run`` and hundreds of cases for every other command, the properties of
:func:`fuzz_harness.check_case`. The counts (exit codes, seconds) go to
``reports/fuzz/summary.md``. ``FUZZ_SEED`` picks another reproducible set of cases.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

import fuzz_harness
from fuzz_harness import COMMANDS
from test_fuzz import fuzz, workspace  # noqa: F401 - the module's fixture

# one worker runs them all: each command's row is written into the one summary file
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fuzz_summary")]

#: Cases per command: (with a certain mistake, without).
BUDGET = {"run": (1800, 250), "sweep": (200, 40), "calibrate": (200, 30),
          "data check": (300, 60), "tfp": (150, 30), "report": (60, 20), "models": (300, 0),
          "methods": (30, 15)}
SEED = int(os.environ.get("FUZZ_SEED", "20231"))
OUT = Path(__file__).resolve().parents[1] / "reports" / "fuzz"


def test_every_command_has_a_slow_budget():
    assert set(BUDGET) == set(COMMANDS)
    assert sum(BUDGET["run"]) >= 2000


@pytest.mark.parametrize("name", list(COMMANDS))
def test_fuzz_command_large_budget(workspace, name):  # noqa: F811 - the fixture
    mistakes, valid = BUDGET[name]
    start = len(fuzz_harness.RECORD)
    for examples, is_valid in ((mistakes, False), (valid, True)):
        fuzz(workspace, name, examples, valid=is_valid, seed=SEED)
    _write_summary(name, fuzz_harness.RECORD[start:])


def _write_summary(name: str, records: list[tuple[str, int, float]]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    codes = Counter(code for _, code, _ in records)
    seconds = sum(s for _, _, s in records)
    line = (f"| {name} | {len(records)} | {codes.get(0, 0)} | {codes.get(2, 0)} | "
            f"{sum(n for c, n in codes.items() if c not in (0, 2))} | {seconds:.0f} |\n")
    path = OUT / "summary.md"
    head = ("# CLI fuzzing (tests/test_fuzz_slow.py)\n\n"
            f"seed {SEED}; every case checked for exit 0/2, no traceback or exception name, "
            "nothing written outside its folders, no partial run folder.\n\n"
            "| command | cases | exit 0 | exit 2 | other | seconds |\n|---|---|---|---|---|---|\n")
    rows = path.read_text().splitlines(keepends=True)[6:] if path.exists() else []
    rows = [r for r in rows if not r.startswith(f"| {name} |")] + [line]
    path.write_text(head + "".join(rows), encoding="utf-8")
