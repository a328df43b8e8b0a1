"""Fuzzing the command line (default budget): generated configs and arguments of every command
exit 0 or 2, print no traceback, write nothing outside their folders and leave no partial run
folder (see :mod:`fuzz_harness`). The same properties over a larger budget: ``test_fuzz_slow``.
"""

from __future__ import annotations

import pytest
import hypothesis
from hypothesis import HealthCheck, Phase, given, settings

from fuzz_harness import COMMANDS, check_case, make_workspace, prepare_artefacts

#: Generated cases per command in the default suite (fixed examples: derandomised): with a
#: certain mistake (exit 2, mostly when the config is read: cheap), and without (may run).
BUDGET = {"run": (60, 5), "sweep": (15, 3), "calibrate": (15, 2), "data check": (25, 6),
          "tfp": (10, 3), "report": (6, 2), "models": (25, 0), "methods": (5, 3)}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    ws = make_workspace(tmp_path_factory.mktemp("fuzz"))
    prepare_artefacts(ws)
    return ws


def fuzz(ws, name: str, examples: int, *, valid: bool, seed: int | None = None) -> None:
    """Run ``examples`` generated cases of command ``name`` through :func:`check_case`
    (``valid``: cases without a certain mistake); the same fixed cases every time unless a
    ``seed`` picks others."""
    if not examples:
        return

    @hypothesis.seed(seed)
    @settings(max_examples=examples, deadline=None, derandomize=seed is None, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True,
              phases=(Phase.explicit, Phase.generate))
    @given(case=COMMANDS[name].cases(valid))
    def one(case):
        check_case(ws, case)

    one()


def test_every_command_has_a_budget():
    assert set(BUDGET) == set(COMMANDS)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_fuzz_command(workspace, name):
    mistakes, valid = BUDGET[name]
    fuzz(workspace, name, mistakes, valid=False)
    fuzz(workspace, name, valid, valid=True)
