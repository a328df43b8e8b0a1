"""The shipped prior-sensitivity sweep: the command its header documents runs in smoke mode and
gives one overall ATT per prior scale, with pooling that follows the trait scale."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from bayescity.cli import app
from bayescity.estimators.bayes.priors import parse_priors

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "experiments" / "prior_sensitivity.yaml"


def documented_commands() -> list[list[str]]:
    """The ``bayescity sweep ... --grid ...`` commands of the config's header comment."""
    header = "\n".join(line[1:].strip() for line in CONFIG.read_text().splitlines()
                       if line.startswith("#"))
    text = header.replace("\\\n", " ")
    return [shlex.split(m) for m in re.findall(r"^bayescity sweep .*--grid .*$", text, re.M)]


def test_documented_grid_keys_are_real_prior_keys():
    commands = documented_commands()
    assert len(commands) >= 2
    for cmd in commands:
        assert cmd[:3] == ["bayescity", "sweep", "experiments/prior_sensitivity.yaml"]
        key, _, values = cmd[cmd.index("--grid") + 1].partition("=")
        prefix, _, prior = key.rpartition(".")
        assert prefix == "estimators.bayes.params.priors"
        parse_priors({prior: float(values.split(",")[0])})  # raises on a key it does not know


def test_documented_sweep_runs_and_pooling_follows_the_trait_scale(tmp_path, monkeypatch):
    cmd = documented_commands()[0]
    key, _, values = cmd[cmd.index("--grid") + 1].partition("=")
    scales = [float(v) for v in values.split(",")]
    args = [*cmd[1:], "--smoke", "--quiet", "--out", str(tmp_path / "rep"),
            "--models", str(tmp_path / "m")]
    monkeypatch.chdir(ROOT)  # the command names the config relative to the repository root
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    (table_path,) = (tmp_path / "rep" / "prior_sensitivity").glob("sweep-*/sweep.csv")
    table = pd.read_csv(table_path)
    overall = table[(table["estimand"] == "ATT") & (table["term"] == "overall")]
    assert sorted(overall[key]) == sorted(scales)  # one row per grid value
    assert overall["estimate"].nunique() == len(scales)
    # A small trait scale pools the regions: their effects spread less than under a wide one.
    by_region = table[table["estimand"] == "ATT_by_region3"]
    spread = by_region.groupby(key)["estimate"].agg(np.ptp)
    assert spread[min(scales)] < spread[max(scales)]
