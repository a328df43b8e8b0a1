"""Simulation-based calibration of the hierarchical DID (Talts et al. 2018) -- slow.

200 datasets drawn from the priors on a small staggered panel with three regions, each fitted
with the default Gibbs sampler; the ranks of the true region deviations, region ATTs and the
ATT among 99 thinned posterior draws must be uniform (chi-square over 10 bins). Every rank and
the uniformity table are written to ``reports/sbc/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bayescity.estimators.bayes.calibration import (SBCSpec, rank_uniformity,
                                                    simulation_based_calibration)

REPORT = Path(__file__).resolve().parents[1] / "reports" / "sbc"
N_DATASETS = 200


@pytest.mark.slow
def test_region_effect_ranks_are_uniform():
    ranks = simulation_based_calibration(N_DATASETS, seed=2018,
                                         spec=SBCSpec(draws=2000, thin=20, tune=500))
    table = rank_uniformity(ranks, bins=10)
    REPORT.mkdir(parents=True, exist_ok=True)
    ranks.to_csv(REPORT / "ranks.csv", index=False)
    table.to_csv(REPORT / "uniformity.csv", index=False)
    assert (table["n_datasets"] == N_DATASETS).all()
    assert set(table["quantity"]) == {"level_dev", "ATT_by_region", "ATT"}
    # seven tests: a Bonferroni-style bar keeps the family's false alarms near 1%
    assert (table["p_value"] > 0.01 / len(table)).all(), table.to_string()
