"""Perpetual inventory, deflators and growth accounting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayescity.data.errors import PanelError
from bayescity.data.io import read_table
from bayescity.tfp import TFPParamError, deflate, perpetual_inventory, solow_residual


@pytest.fixture(scope="module")
def builtin() -> pd.DataFrame:
    return read_table("builtin:china_cities")


def _series(investment, unit="a", start=2000) -> pd.DataFrame:
    return pd.DataFrame({"u": unit, "t": np.arange(start, start + len(investment)),
                         "I": np.asarray(investment, float)})


def test_perpetual_inventory_reproduces_a_hand_computed_series():
    # K0 = 100 / (0.10 + 0.10) = 500; K1 = 0.9 * 500 + 110 = 560; K2 = 0.9 * 560 + 121 = 625;
    # K3 = 0.9 * 625 + 50 = 612.5
    res = perpetual_inventory(_series([100, 110, 121, 50]), unit="u", time="t", investment="I",
                              depreciation=0.1, growth=0.1)
    np.testing.assert_allclose(res.stock, [500, 560, 625, 612.5], rtol=1e-12)
    # default growth: mean annual log growth of investment, ln(50 / 100) / 3 -> K0 = 100 / (g + d)
    g = np.log(0.5) / 3
    res = perpetual_inventory(_series([100, 110, 121, 50]), unit="u", time="t", investment="I",
                              depreciation=0.3)
    assert res.stock.iloc[0] == pytest.approx(100 / (g + 0.3))
    assert res.stock.iloc[1] == pytest.approx(0.7 * 100 / (g + 0.3) + 110)


def test_perpetual_inventory_reproduces_the_builtin_capital_stock(builtin):
    """The built-in panel's capital stock was built by the same rule from its fai_real."""
    res = perpetual_inventory(builtin, unit="city", time="year", investment="fai_real")
    np.testing.assert_allclose(res.stock, builtin["capital_stock"], rtol=1e-6)
    assert res.notes == () and res.filled.empty and res.skipped.empty


def test_deflators_turn_nominal_investment_real():
    df = _series([100, 110, 121]).assign(p=[100.0, 110.0, 121.0])
    np.testing.assert_allclose(deflate(df, value="I", deflator="p", unit="u", time="t"), 100)
    res = perpetual_inventory(df, unit="u", time="t", investment="I", deflator="p",
                              depreciation=0.1)
    np.testing.assert_allclose(res.investment, 100)
    np.testing.assert_allclose(res.stock, [1000, 1000, 1000])  # g = 0: steady state I / d
    with pytest.raises(PanelError, match="deflator"):
        deflate(df.assign(p=[100.0, np.nan, 121.0]), value="I", deflator="p", unit="u", time="t")


def test_gaps_are_refused_interpolated_or_skipped_never_zero():
    df = pd.DataFrame({"u": ["a", "a", "b", "b", "b"], "t": [2000, 2002, 2000, 2001, 2002],
                       "I": [100.0, 133.1, 5.0, 6.0, 7.0]})  # unit a has no row for 2001
    with pytest.raises(PanelError, match=r"gaps inside the series \(a: 2001\)"):
        perpetual_inventory(df, unit="u", time="t", investment="I")
    filled = perpetual_inventory(df, unit="u", time="t", investment="I", depreciation=0.1,
                                 growth=0.1, gaps="interpolate")
    # interpolated I_2001 = sqrt(100 * 133.1) ~ 115.37; K_2002 = 0.9 (0.9 * 500 + I_2001) + 133.1
    i01 = np.sqrt(100 * 133.1)
    a = filled.stock[df["u"] == "a"].to_numpy()
    np.testing.assert_allclose(a, [500, 0.9 * (450 + i01) + 133.1])
    assert filled.filled.values.tolist() == [["a", 2001]] and "interpolated" in filled.notes[0]
    skipped = perpetual_inventory(df, unit="u", time="t", investment="I", gaps="skip")
    assert skipped.stock[df["u"] == "a"].isna().all()
    assert skipped.stock[df["u"] == "b"].notna().all() and "no capital stock" in skipped.notes[0]
    nan_inside = _series([100, np.nan, 121])
    with pytest.raises(PanelError, match="gaps"):
        perpetual_inventory(nan_inside, unit="u", time="t", investment="I")


def test_bad_investment_and_parameters_are_named():
    with pytest.raises(PanelError, match="must be positive"):
        perpetual_inventory(_series([100, -5, 121]), unit="u", time="t", investment="I")
    with pytest.raises(PanelError, match="growth: explicitly"):
        perpetual_inventory(_series([100, 10, 1]), unit="u", time="t", investment="I")
    with pytest.raises(TFPParamError, match="gaps: must be one of"):
        perpetual_inventory(_series([1, 2]), unit="u", time="t", investment="I", gaps="fill")


def test_solow_residual_reproduces_the_builtin_tfp(builtin):
    """The built-in GDP is exp(tfp + 0.4 ln K + 0.6 ln L), its tfp_growth 100 x the change."""
    res = solow_residual(builtin, unit="city", time="year", output="gdp_real",
                         capital="capital_stock", labor="employment", alpha=0.4)
    np.testing.assert_allclose(res.table["ln_tfp"], builtin["tfp"], atol=1e-5)
    later = builtin["year"] > 2003
    np.testing.assert_allclose(res.table.loc[later, "tfp_growth"],
                               builtin.loc[later, "tfp_growth"], atol=1e-4)
    assert res.table.loc[~later, "tfp_growth"].isna().all()


def test_estimated_capital_elasticity_recovers_the_truth():
    rng = np.random.default_rng(20240611)
    n, T, alpha = 150, 10, 0.35
    u, t = np.repeat(np.arange(n), T), np.tile(np.arange(2000, 2000 + T), n)
    ln_l = rng.normal(4, 0.5, n)[u] + 0.01 * (t - 2000) + rng.normal(0, 0.1, n * T)
    ln_k = ln_l + rng.normal(1, 0.4, n)[u] + 0.08 * (t - 2000) + rng.normal(0, 0.15, n * T)
    ln_a = rng.normal(0, 0.3, n)[u] + 0.02 * (t - 2000) + rng.normal(0, 0.05, n * T)
    df = pd.DataFrame({"u": u, "t": t, "Y": np.exp(ln_a + alpha * ln_k + (1 - alpha) * ln_l),
                       "K": np.exp(ln_k), "L": np.exp(ln_l)})
    res = solow_residual(df, unit="u", time="t", output="Y", capital="K", labor="L")
    assert res.estimated and abs(res.alpha - alpha) < 3 * res.alpha_se < 0.05
    assert "estimated" in res.notes[0]
    with pytest.raises(PanelError, match="positive"):
        solow_residual(df.assign(L=0.0), unit="u", time="t", output="Y", capital="K", labor="L")
