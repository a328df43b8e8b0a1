"""Frequentist coverage of the hierarchical DID's 95% intervals -- slow.

100 fresh ``simulate_city_panel`` draws (AR(1) city shocks, heterogeneous dynamic effects, no
selection on trends), each fitted with the default settings (``errors: ar1``) and with
``errors: iid``; the share of panels whose interval covers the true ATT, event-time ATTs
(e = 0..6) and region ATTs, and the spread of the standardised errors, are written to
``reports/bayes_coverage/``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity import datasets

REPORT = Path(__file__).resolve().parents[1] / "reports" / "bayes_coverage"
N_PANELS = 100


def _rows(seed: int, errors: str) -> list[dict]:
    sim = datasets.simulate_city_panel(seed, selection=False)
    panel = bc.load_panel(sim.data, unit="city", time="year", outcome="tfp_growth",
                          cohort="pilot_year", traits=["region3"])
    est = bc.make_estimator("hierarchical_did", by="region3", covariates=[], errors=errors,
                            draws=1000, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(panel)
    truths = {"ATT": pd.Series({"overall": sim.truth.att}),
              "ATT_event": sim.truth.att_event.loc[0:6],
              "ATT_by_region3": sim.truth.att_by["region3"]}
    out = []
    for estimand, truth in truths.items():
        table = est.effect(estimand).table.set_index("term")
        for term, value in truth.items():
            row = table.loc[str(term)]
            out.append({"seed": seed, "errors": errors, "estimand": estimand, "term": str(term),
                        "truth": value, "estimate": row["estimate"], "sd": row["std_error"],
                        "covered": bool(row["lower"] <= value <= row["upper"])})
    return out


@pytest.mark.slow
def test_intervals_cover_at_about_the_nominal_rate():
    rows = [r for seed in range(1000, 1000 + N_PANELS) for errors in ("ar1", "iid")
            for r in _rows(seed, errors)]
    df = pd.DataFrame(rows)
    df["z"] = (df["estimate"] - df["truth"]) / df["sd"]
    summary = (df.groupby(["errors", "estimand"])
                 .agg(coverage=("covered", "mean"), z_sd=("z", "std"), bias=("z", "mean"),
                      n=("covered", "size")).reset_index())
    REPORT.mkdir(parents=True, exist_ok=True)
    df.to_csv(REPORT / "intervals.csv", index=False)
    summary.to_csv(REPORT / "coverage.csv", index=False)
    ar1 = summary[summary["errors"] == "ar1"].set_index("estimand")
    iid = summary[summary["errors"] == "iid"].set_index("estimand")
    # 100 panels: a binomial sd of about 0.022 around 0.95 for the ATT
    assert ar1.loc["ATT", "coverage"] >= 0.90, summary.to_string()
    assert ar1.loc["ATT_event", "coverage"] >= 0.90, summary.to_string()
    assert ar1.loc["ATT_by_region3", "coverage"] >= 0.85, summary.to_string()
    assert np.all(ar1["z_sd"] < 1.2), summary.to_string()
    # independent errors understate the uncertainty of averages over a city's years
    assert iid.loc["ATT", "z_sd"] > ar1.loc["ATT", "z_sd"], summary.to_string()
