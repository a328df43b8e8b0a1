"""Shared fixtures: small staggered panels with a known effect."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_staggered(seed: int = 0, n_units: int = 60, years=(2000, 2011), effect: float = 1.0,
                   cohorts=(2004, 2007), n_never: int | None = None) -> pd.DataFrame:
    """A balanced panel with unit and year effects, a covariate and a constant effect ``effect``."""
    rng = np.random.default_rng(seed)
    t = np.arange(years[0], years[1] + 1)
    n_never = n_units // 3 if n_never is None else n_never
    g = np.concatenate([np.zeros(n_never, int),
                        rng.choice(np.asarray(cohorts), size=n_units - n_never)])
    df = pd.DataFrame({"unit": np.repeat([f"u{i:03d}" for i in range(n_units)], len(t)),
                       "year": np.tile(t, n_units), "g": np.repeat(g, len(t))})
    df["region"] = np.repeat(np.where(np.arange(n_units) % 2, "North", "South"), len(t))
    df["x"] = rng.normal(size=len(df))
    alpha = np.repeat(rng.normal(size=n_units), len(t))
    lam = np.tile(rng.normal(size=len(t)), n_units)
    d = (df["g"] > 0) & (df["year"] >= df["g"])
    df["y"] = alpha + lam + 0.5 * df["x"] + effect * d + rng.normal(scale=0.5, size=len(df))
    df["d"] = d.astype(int)
    return df


@pytest.fixture
def staggered() -> pd.DataFrame:
    return make_staggered()


@pytest.fixture(scope="module")
def mpdta() -> pd.DataFrame:
    """The minimum-wage county panel of Callaway & Sant'Anna (2021), as shipped by moderndid."""
    import moderndid

    return moderndid.load_mpdta().to_pandas()


@pytest.fixture(scope="session")
def main_study(tmp_path_factory):
    """The main study (experiments/innovative_city.yaml) run once per test session with its
    smoke parameters: ``(folder, outcome, report html)``. The folder holds ``rep/`` (the run)
    and ``m/`` (its model store, so later runs of the same config reuse every fit)."""
    from pathlib import Path

    from bayescity.experiments.runner import run_experiment

    tmp = tmp_path_factory.mktemp("main_study")
    config = Path(__file__).resolve().parents[1] / "experiments" / "innovative_city.yaml"
    outcome = run_experiment(config, reports_root=tmp / "rep", models_root=tmp / "m",
                             smoke=True)
    return tmp, outcome, (outcome.run_dir / "report.html").read_text(encoding="utf-8")
