"""DEA efficiency and the Malmquist index: closed forms, identities, a published worked example,
and agreement with an independent one-programme-per-unit implementation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayescity.data.errors import PanelError
from bayescity.tfp import INDEX_COLUMNS, TFPParamError, efficiency, malmquist
from bayescity.tfp.lp import envelopment_optima
from tfp_reference import reference_malmquist

# --------------------------------------------------------------------------- worked example
# Coelli, T.J. (1996), "A Guide to DEAP Version 2.1: A Data Envelopment Analysis (Computer)
# Program", CEPA Working Paper 96/08, University of New England: the Malmquist example
# (data file eg4-dta.txt, instruction file eg4-ins.txt, output eg4-out.txt): 5 firms, 3 years,
# one output and one input, output orientation, VRS selected (so pech and sech are printed).
# Year 1 is the guide's single-period example (eg1-dta.txt); years 2 and 3 are identical.
DEAP_EG4 = {1: [(1, 2), (2, 4), (3, 3), (4, 5), (5, 6)],  # (y, x) per firm
            2: [(1, 2), (3, 4), (4, 3), (3, 5), (5, 5)],
            3: [(1, 2), (3, 4), (4, 3), (3, 5), (5, 5)]}
# eg4-out.txt, DISTANCES SUMMARY: crs te relative to the technology of t-1, t, t+1; vrs te.
DEAP_DISTANCES = {
    1: [(None, .500, .375, 1.000), (None, .500, .375, .545), (None, 1.000, .750, 1.000),
        (None, .800, .600, .923), (None, .833, .625, 1.000)],
    2: [(.500, .375, .375, 1.000), (.750, .563, .563, .667), (1.333, 1.000, 1.000, 1.000),
        (.600, .450, .450, .600), (1.000, .750, .750, 1.000)],
    3: [(.375, .375, None, 1.000), (.563, .563, None, .667), (1.000, 1.000, None, 1.000),
        (.450, .450, None, .600), (.750, .750, None, 1.000)],
}
# eg4-out.txt, MALMQUIST INDEX SUMMARY, year 2 (year 3: every component 1.000), and the
# annual geometric means.
DEAP_YEAR2 = [(.750, 1.333, 1.000, .750, 1.000), (1.125, 1.333, 1.222, .920, 1.500),
              (1.000, 1.333, 1.000, 1.000, 1.333), (.562, 1.333, .650, .865, .750),
              (.900, 1.333, 1.000, .900, 1.200)]
DEAP_MEANS = {2: (.844, 1.333, .955, .883, 1.125), 3: (1.0, 1.0, 1.0, 1.0, 1.0)}
PRINTED = 0.0005 + 1e-9  # DEAP prints three decimals


def _eg4() -> pd.DataFrame:
    return pd.DataFrame([{"firm": i + 1, "year": t, "y": y, "x": x}
                         for t, firms in DEAP_EG4.items() for i, (y, x) in enumerate(firms)])


def _brute_force_scores(df: pd.DataFrame):
    """CRS: productivity over the best productivity of the reference year. VRS, output
    orientation, one input: output over the highest output any convex combination of the
    year's firms reaches with no more input (checked over every single firm and pair)."""
    ratio = df["y"] / df["x"]
    best = ratio.groupby(df["year"]).max()

    def crs(reference_year: pd.Series) -> pd.Series:
        return ratio / reference_year.map(best)

    def vrs_frontier(x, pts):
        reach = [yj for xj, yj in pts if xj <= x]
        for (xa, ya) in pts:
            for (xb, yb) in pts:
                if xa < x <= xb:
                    reach.append(ya + (yb - ya) * (x - xa) / (xb - xa))
        return max(reach)

    pts = {t: list(zip(g["x"], g["y"])) for t, g in df.groupby("year")}
    vrs = [y / vrs_frontier(x, pts[t]) for x, y, t in zip(df["x"], df["y"], df["year"])]
    return pd.DataFrame({"te_prev": crs(df["year"] - 1), "te": crs(df["year"]),
                         "te_next": crs(df["year"] + 1), "vrs_te": vrs})


def test_deap_guide_malmquist_example_to_three_decimals():
    df = _eg4()
    res = malmquist(df, unit="firm", time="year", inputs=["x"], outputs=["y"], rts="vrs")
    dist = res.distances.set_index(["firm", "year"]).sort_index()
    brute = _brute_force_scores(df).set_index([df["firm"], df["year"]]).sort_index()
    for t, firms in DEAP_DISTANCES.items():
        for i, printed in enumerate(firms):
            ours = dist.loc[(i + 1, t), ["te_prev", "te", "te_next", "vrs_te"]].to_numpy(float)
            check = brute.loc[(i + 1, t), ["te_prev", "te", "te_next", "vrs_te"]].to_numpy(float)
            for k, p in enumerate(printed):
                if p is None:
                    assert np.isnan(ours[k])
                else:
                    assert abs(ours[k] - p) <= PRINTED, (t, i + 1, k, ours[k], p)
                    assert ours[k] == pytest.approx(check[k], abs=1e-9)
    table = res.table.set_index(["firm", "year"]).sort_index()
    for i, printed in enumerate(DEAP_YEAR2):
        np.testing.assert_allclose(table.loc[(i + 1, 2), list(INDEX_COLUMNS)], printed,
                                   atol=PRINTED)
    np.testing.assert_allclose(table.xs(3, level="year")[list(INDEX_COLUMNS)], 1.0, atol=1e-9)
    assert table.xs(1, level="year")[list(INDEX_COLUMNS)].isna().all().all()
    means = res.annual_means().set_index("year")
    for t, printed in DEAP_MEANS.items():
        np.testing.assert_allclose(means.loc[t, list(INDEX_COLUMNS)], printed, atol=PRINTED)


# --------------------------------------------------------------------------- random panels
def _panel(seed: int, n: int = 20, periods: int = 3, m: int = 2, s: int = 2,
           drift: float = 0.0) -> pd.DataFrame:
    """Random positive inputs and outputs; ``drift`` scales every input up each period."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in range(periods):
        X = rng.lognormal(0, 0.5, (n, m)) * np.exp(drift * t)
        Y = (X.prod(axis=1, keepdims=True) ** (1 / m)) * rng.lognormal(0, 0.3, (n, s))
        rows.append(pd.DataFrame({"u": np.arange(n), "t": 2000 + t,
                                  **{f"x{j}": X[:, j] for j in range(m)},
                                  **{f"y{j}": Y[:, j] for j in range(s)}}))
    return pd.concat(rows, ignore_index=True)


X2, Y2 = ["x0", "x1"], ["y0", "y1"]
OPTIONS = [dict(rts="vrs", orientation=o, technology=tech, frontier=f)
           for o in ("output", "input") for tech in ("crs", "vrs") for f in ("adjacent", "global")]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o.values()))
def test_agrees_with_one_multiplier_programme_per_unit(opts):
    df = _panel(11, drift=0.25)
    ours = malmquist(df, unit="u", time="t", inputs=X2, outputs=Y2, **opts).table
    ref = reference_malmquist(df, "u", "t", X2, Y2, **opts)
    merged = ref.merge(ours, on=["u", "t"], suffixes=("_ref", ""))
    assert len(merged) == len(ref) == 40
    for col in INDEX_COLUMNS:
        np.testing.assert_allclose(merged[col], merged[f"{col}_ref"], rtol=1e-6, equal_nan=True)
        assert merged[col].isna().equals(merged[f"{col}_ref"].isna())


def test_vrs_cross_period_infeasibility_is_reported_and_global_never_infeasible():
    df = _panel(3, drift=0.4)  # later periods use far more input: early units fall outside
    res = malmquist(df, unit="u", time="t", inputs=X2, outputs=Y2, technology="vrs")
    assert len(res.infeasible) > 0
    assert set(res.infeasible.columns) == {"u", "t", "frontier"}
    assert (res.infeasible["frontier"] == res.infeasible["t"] + 1).any()
    assert any("infeasible" in n and "global" in n for n in res.notes)
    later = res.table[res.table["t"] > 2000]
    assert later["techch"].isna().any() and later["effch"].notna().all()
    glob = malmquist(df, unit="u", time="t", inputs=X2, outputs=Y2, technology="vrs",
                     frontier="global")
    assert glob.infeasible.empty and not any("infeasible" in n for n in glob.notes)
    assert glob.table.loc[glob.table["t"] > 2000, list(INDEX_COLUMNS[:2]) + ["tfpch"]].notna().all().all()


def test_global_index_is_circular():
    """Pastor & Lovell (2005): the global index from 2000 to 2002 equals the product of the
    indices 2000->2001 and 2001->2002 (adjacent-frontier indices are not circular)."""
    df = _panel(5, periods=3)
    kw = dict(unit="u", time="t", inputs=X2, outputs=Y2, technology="vrs")
    for frontier, circular in (("global", True), ("adjacent", False)):
        res = malmquist(df, frontier=frontier, **kw)
        steps = res.table.set_index(["u", "t"])["tfpch"]
        chained = steps.xs(2001, level="t") * steps.xs(2002, level="t")
        if circular:
            d = res.distances.set_index(["u", "t"])["te_global"]
            direct = d.xs(2002, level="t") / d.xs(2000, level="t")
            np.testing.assert_allclose(chained, direct, rtol=1e-9)
        else:
            skip = malmquist(df[df["t"] != 2001], frontier=frontier, **kw).table
            direct = skip.set_index(["u", "t"])["tfpch"].xs(2002, level="t")
            assert not np.allclose(chained, direct, rtol=1e-3)


@pytest.mark.parametrize("frontier", ["adjacent", "global"])
def test_index_is_efficiency_change_times_technical_change(frontier):
    df = _panel(7)
    res = malmquist(df, unit="u", time="t", inputs=X2, outputs=Y2, rts="vrs", frontier=frontier)
    t = res.table.dropna()
    assert len(t) == 40
    assert (t["tfpch"] == t["effch"] * t["techch"]).all()
    np.testing.assert_allclose(t["effch"], t["pech"] * t["sech"], rtol=1e-12)
    d = res.distances.set_index(["u", "t"])
    now, before = d.loc[list(zip(t["u"], t["t"]))], d.loc[list(zip(t["u"], t["t"] - 1))]
    if frontier == "adjacent":  # Färe et al. (1994): geometric mean of the two period indices
        direct = np.sqrt(now["te_prev"].to_numpy() / before["te"].to_numpy()
                         * now["te"].to_numpy() / before["te_next"].to_numpy())
    else:
        direct = now["te_global"].to_numpy() / before["te_global"].to_numpy()
    np.testing.assert_allclose(t["tfpch"], direct, rtol=1e-12)


def test_one_input_one_output_crs_is_a_ratio_of_productivities():
    df = _panel(8, m=1, s=1, periods=3)
    eff = efficiency(df, unit="u", time="t", inputs=["x0"], outputs=["y0"])
    ratio = df["y0"] / df["x0"]
    np.testing.assert_allclose(eff["efficiency"], ratio / ratio.groupby(df["t"]).transform("max"),
                               rtol=1e-9)
    for orientation in ("output", "input"):
        res = malmquist(df, unit="u", time="t", inputs=["x0"], outputs=["y0"],
                        orientation=orientation)
        growth = ratio / ratio.groupby(df["u"]).shift(1)
        np.testing.assert_allclose(res.table["tfpch"], growth.to_numpy(), rtol=1e-9)


def test_input_and_output_oriented_crs_scores_are_reciprocal():
    rng = np.random.default_rng(21)
    X, Y = rng.lognormal(size=(40, 3)), rng.lognormal(size=(40, 2))
    phi = envelopment_optima(X, Y, X, Y, rts="crs", orientation="output")
    theta = envelopment_optima(X, Y, X, Y, rts="crs", orientation="input")
    np.testing.assert_allclose(phi * theta, 1.0, rtol=1e-8)
    assert (phi >= 1 - 1e-9).all() and (theta <= 1 + 1e-9).all()


@pytest.mark.parametrize("rts", ["crs", "vrs"])
def test_rescaling_an_input_changes_nothing(rts):
    df = _panel(9)
    kw = dict(unit="u", time="t", inputs=X2, outputs=Y2, rts=rts)
    base = malmquist(df, **kw).table
    scaled = malmquist(df.assign(x0=df["x0"] * 1e4, y1=df["y1"] / 1e3), **kw).table
    pd.testing.assert_frame_equal(base, scaled, rtol=1e-7)


@pytest.mark.parametrize("rts,orientation", [("crs", "output"), ("crs", "input"),
                                             ("vrs", "output"), ("vrs", "input")])
def test_frontier_units_score_one(rts, orientation):
    """Units no combination of the others can beat: the best ratio of one output to one input
    (CRS), the largest output (VRS, output orientation), the smallest input (VRS, input)."""
    df = _panel(10, periods=2)
    eff = efficiency(df, unit="u", time="t", inputs=X2, outputs=Y2, rts=rts,
                     orientation=orientation)
    assert (eff["efficiency"] <= 1 + 1e-9).all()
    for _, g in df.groupby("t"):
        if rts == "crs":
            best = (g["y0"] / g["x0"]).idxmax()
        else:
            best = g["y0"].idxmax() if orientation == "output" else g["x0"].idxmin()
        assert eff.loc[best, "efficiency"] == pytest.approx(1.0, abs=1e-9)
        assert (eff.loc[g.index, "efficiency"] < 1 - 1e-3).any()


def test_missing_inputs_are_an_error_or_reported_and_skipped():
    df = _panel(12)
    df.loc[3, "x1"] = np.nan
    df.loc[30, "y0"] = 0.0
    with pytest.raises(PanelError) as err:
        malmquist(df, unit="u", time="t", inputs=X2, outputs=Y2)
    assert err.value.columns == ["x1", "y0"]
    assert "rows 4" in str(err.value) and "rows 31" in str(err.value)
    res = malmquist(df, unit="u", time="t", inputs=X2, outputs=Y2, missing="skip")
    assert res.skipped[["u", "t", "columns"]].values.tolist() == [[3, 2000, "x1"], [10, 2001, "y0"]]
    assert any("2 unit-years skipped" in n for n in res.notes)
    table = res.table.set_index(["u", "t"])
    assert table.loc[(3, 2001)].isna().all() and table.loc[(10, 2001)].isna().all()
    assert table.loc[(10, 2002)].isna().all() and table.loc[(4, 2001)].notna()["tfpch"]


def test_bad_parameters_and_columns_are_named():
    df = _panel(13)
    with pytest.raises(TFPParamError, match="rts: must be one of crs, vrs"):
        malmquist(df, unit="u", time="t", inputs=X2, outputs=Y2, rts="xrs")
    with pytest.raises(TFPParamError, match="frontier"):
        malmquist(df, unit="u", time="t", inputs=X2, outputs=Y2, frontier="sequential")
    with pytest.raises(PanelError, match="'labour'"):
        malmquist(df, unit="u", time="t", inputs=["labour"], outputs=Y2)
    with pytest.raises(PanelError, match="duplicate"):
        malmquist(pd.concat([df, df.head(1)]), unit="u", time="t", inputs=X2, outputs=Y2)


def test_builtin_panel_runs_and_leaves_the_input_untouched():
    from bayescity.data.io import read_table

    df = read_table("builtin:china_cities")
    before = df.copy()
    res = malmquist(df, unit="city", time="year", inputs=["capital_stock", "employment"],
                    outputs=["gdp_real"], rts="vrs")
    pd.testing.assert_frame_equal(df, before)
    assert len(res.table) == 5415 and res.table["tfpch"].notna().sum() == 285 * 18
    assert res.table.loc[res.table["year"] == 2003, list(INDEX_COLUMNS)].isna().all().all()
