"""Sampler diagnostics: the table agrees with ArviZ, breaches are flagged and named."""

from __future__ import annotations

import arviz as az
import numpy as np

from bayescity.diagnostics import GATES, breach_notes, diagnose, flatten


def _idata(seed: int = 0, shift: float = 0.0, energy: bool = False, diverging: int = 0):
    """Four chains of a scalar ``mu`` and a two-level ``level`` effect; chain 0 of ``level``
    shifted by ``shift`` (a chain stuck elsewhere)."""
    rng = np.random.default_rng(seed)
    level = rng.normal(size=(4, 500, 2))
    level[0] += shift
    stats = {"diverging": np.zeros((4, 500), dtype=bool)}
    stats["diverging"][1, :diverging] = True
    if energy:
        stats["energy"] = np.cumsum(rng.normal(size=(4, 500)), axis=1)
    return az.from_dict(posterior={"mu": rng.normal(size=(4, 500)), "level": level},
                        sample_stats=stats, coords={"region": ["East", "West"]},
                        dims={"level": ["region"]})


def test_table_matches_arviz_and_names_elements():
    idata = _idata()
    d = diagnose(idata, reported=["level"])
    assert list(d.table["parameter"]) == ["mu", "level[East]", "level[West]"]
    expected = flatten(az.rhat(idata.posterior))
    np.testing.assert_allclose(d.table["rhat"], expected.to_numpy())
    np.testing.assert_allclose(d.table["ess_tail"],
                               flatten(az.ess(idata.posterior, method="tail")).to_numpy())
    assert list(d.table["reported"]) == [False, True, True]
    assert d.ok and d.notes == () and d.divergences == 0 and d.ebfmi == ()


def test_stuck_chain_is_a_named_breach():
    d = diagnose(_idata(shift=3.0), reported=["level"])
    row = d.table.set_index("parameter").loc["level[East]"]
    assert row["rhat"] > GATES.rhat and "R-hat" in row["breach"]
    assert not d.ok
    assert any("R-hat" in n and "level[East]" in n for n in d.notes)
    assert all(n.startswith("sampler diagnostics:") for n in d.notes)


def test_ess_gate_applies_to_reported_quantities_only():
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.normal(size=(4, 400)), axis=1)  # strongly autocorrelated, same law
    idata = az.from_dict(posterior={"ATT": walk, "sd_cell": walk.copy()})
    d = diagnose(idata, reported=["ATT"])
    table = d.table.set_index("parameter")
    assert table.loc["ATT", "ess_bulk"] < 400 and "bulk ESS" in table.loc["ATT", "breach"]
    assert "ESS" not in table.loc["sd_cell", "breach"]
    assert not any("ESS" in n for n in breach_notes(d.table, ["sd_cell"]))
    assert any("bulk ESS" in n and "for ATT" in n for n in breach_notes(d.table, ["ATT"]))


def test_divergences_and_low_ebfmi_are_reported():
    d = diagnose(_idata(diverging=7, energy=True))
    assert d.divergences == 7
    assert len(d.ebfmi) == 4 and all(v < GATES.ebfmi for v in d.ebfmi)  # a random walk energy
    assert any("7 divergent transitions" in n for n in d.notes)
    assert any("E-BFMI" in n for n in d.notes)


def test_many_breaches_are_summarised():
    rng = np.random.default_rng(2)
    post = rng.normal(size=(4, 300, 10))
    post[0] += 5
    idata = az.from_dict(posterior={"cell": post})
    notes = diagnose(idata).notes
    assert len(notes) == 1 and "(and 6 more)" in notes[0]


def test_undefined_rhat_is_a_breach():
    """A constant chain has no defined R-hat: never reported as fine."""
    idata = az.from_dict(posterior={"x": np.full((2, 50), 1.0)})
    assert not diagnose(idata, reported=["x"]).ok


def test_elements_fixed_by_construction_can_be_left_out():
    rng = np.random.default_rng(3)
    dev = rng.normal(size=(2, 100, 2))
    dev[:, :, 1] = 0.0  # e.g. a city alone in its group: no deviation to sample
    idata = az.from_dict(posterior={"dev": dev}, coords={"city": ["A", "B"]},
                         dims={"dev": ["city"]})
    assert not diagnose(idata).ok
    d = diagnose(idata, exclude=["dev[B]"])
    assert list(d.table["parameter"]) == ["dev[A]"] and d.ok
