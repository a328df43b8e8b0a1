"""spillover: recovery of known direct and ring spillover effects on simulated panels (the
built-in panel has no coordinates), coordinates and a neighbours file agreeing, row-level
errors for bad neighbours files and config-time errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bayescity as bc
from bayescity.data.errors import PanelError
from bayescity.data.spatial import band_rings, exposure_rings, haversine_km, read_neighbours
from bayescity.estimators import ParamError
from bayescity.experiments.config import ConfigError, load_config
from bayescity.experiments.runner import prepare
from bayescity.reports import ReportInputs
from bayescity.reports.cache import FigureMaker
from bayescity.reports.referee_figures_b import spillover_by_ring
from bayescity.reports.sections import referee_figures

DIRECT, SPILL, BANDS = 1.0, (0.5, 0.2), [0, 40, 80]


def simulate(seed: int, n: int = 300, t: int = 12) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    lat, lon = 30 + rng.uniform(0, 6, n), 110 + rng.uniform(0, 6, n)
    g = np.zeros(n, int)
    treated = rng.choice(n, n // 8, replace=False)
    g[treated] = rng.choice([2005, 2008], treated.size)
    years = np.arange(2000, 2000 + t)
    order = band_rings(haversine_km(lat, lon), BANDS)
    np.fill_diagonal(order, 0)
    ring = exposure_rings(g, years, order)
    d = (g[:, None] > 0) & (years[None, :] >= g[:, None])
    effect = DIRECT * d + np.select([ring == 1, ring == 2], SPILL, 0.0)
    y = (rng.normal(size=(n, 1)) + np.linspace(0, 1, t) + effect
         + rng.normal(scale=0.5, size=(n, t)))
    df = pd.DataFrame({"unit": np.repeat([f"c{i:03d}" for i in range(n)], t),
                       "year": np.tile(years, n), "y": y.ravel(), "g": np.repeat(g, t),
                       "lat": np.repeat(lat, t), "lon": np.repeat(lon, t)})
    return df, order


def _panel(df):
    return bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="g")


@pytest.fixture(scope="module")
def sim():
    df, order = simulate(0)
    fit = bc.make_estimator("spillover", coordinates=["lat", "lon"], bands=BANDS).fit(_panel(df))
    return df, order, fit


def test_recovers_direct_and_ring_effects(sim):
    df, _, fit = sim
    att, spill = fit.effect("ATT"), fit.effect("spillover")
    assert spill.terms == ["0-40km", "40-80km"]
    for r, truth in [(att.row("overall"), DIRECT), (spill.row("0-40km"), SPILL[0]),
                     (spill.row("40-80km"), SPILL[1])]:
        assert r["lower"] < truth < r["upper"]
    twfe = bc.make_estimator("twfe").fit(_panel(df)).effect("ATT").estimate()
    assert abs(twfe - DIRECT) > 3 * abs(att.estimate() - DIRECT)


def test_interval_coverage_over_panels():
    """95% intervals of the nearest ring cover its true spillover in most of 20 panels."""
    hits = 0
    for seed in range(1, 21):
        df, _ = simulate(seed, n=150, t=8)
        row = bc.make_estimator("spillover", coordinates=["lat", "lon"], bands=BANDS
                                ).fit(_panel(df)).effect("spillover").row("0-40km")
        hits += row["lower"] < SPILL[0] < row["upper"]
    assert hits >= 16


def test_neighbours_file_gives_the_same_rings(sim, tmp_path):
    df, order, fit = sim
    units = np.sort(df["unit"].unique())
    i, j = np.nonzero(order)
    path = tmp_path / "neighbours.csv"
    pd.DataFrame({"unit": units[i], "neighbour": units[j], "ring": order[i, j]}).to_csv(
        path, index=False)
    other = bc.make_estimator("spillover", weights=str(path)).fit(_panel(df))
    np.testing.assert_allclose(other.effect("spillover").table["estimate"],
                               fit.effect("spillover").table["estimate"], rtol=1e-10)
    assert other.effect("ATT").estimate() == pytest.approx(fit.effect("ATT").estimate())


def test_bad_neighbours_file_gets_row_level_errors(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"unit": ["c000", "c001", "c002", "zzz", "c004", "c001"],
                  "neighbour": ["c001", "c001", None, "c000", "c005", "c002"],
                  "ring": [1, 1, 1, 1, 0, 1]}).to_csv(path, index=False)
    units = [f"c{i:03d}" for i in range(10)]
    with pytest.raises(PanelError) as err:
        read_neighbours(path, units)
    text = str(err.value)
    assert str(path) in text
    assert "column 'unit': units not in the panel (e.g. 'zzz') at rows 4" in text
    assert "column 'neighbour': empty cells at rows 3" in text
    assert "own neighbour at rows 2" in text
    with pytest.raises(PanelError, match="column 'neighbour'.*missing|neighbour"):
        read_neighbours(path.with_name("none.csv"), units)
    path.write_text("unit,neighbour,ring\nc000,c001,0\n")
    with pytest.raises(PanelError, match="column 'ring': not an integer order >= 1 at rows 1"):
        read_neighbours(path, units)


def test_config_time_errors(sim, tmp_path):
    df = sim[0]
    panel = _panel(df)
    with pytest.raises(ParamError, match="none given; give exactly one spatial structure"):
        bc.make_estimator("spillover").check_panel(panel)
    with pytest.raises(ParamError, match="exactly one spatial structure"):
        bc.make_estimator("spillover", coordinates=["lat", "lon"], bands=BANDS,
                          weights="w.csv").validate()
    with pytest.raises(ParamError, match="bands: .* increasing"):
        bc.make_estimator("spillover", coordinates=["lat", "lon"], bands=[50, 10]).validate()
    with pytest.raises(ParamError, match="coordinates: column 'lt' is not in the data"):
        bc.make_estimator("spillover", coordinates=["lt", "lon"], bands=BANDS).check_panel(panel)
    swapped = _panel(df.assign(lat=df["lon"], lon=df["lat"] + 100))
    with pytest.raises(ParamError, match="swapped"):
        bc.make_estimator("spillover", coordinates=["lat", "lon"], bands=BANDS).check_panel(swapped)
    bad = tmp_path / "w.csv"
    bad.write_text("unit,neighbour\nc000,nowhere\n")
    with pytest.raises(ParamError, match=r"(?s)weights: .*w\.csv.*units not in the panel.*rows 1"):
        bc.make_estimator("spillover", weights=str(bad)).check_panel(panel)


def test_config_reads_a_relative_neighbours_file_from_its_folder(sim, tmp_path):
    df, order, _ = sim
    folder = tmp_path / "study"
    (folder / "spatial").mkdir(parents=True)
    df.to_csv(folder / "panel.csv", index=False)
    units = np.sort(df["unit"].unique())
    i, j = np.nonzero(order)
    pd.DataFrame({"unit": units[i], "neighbour": units[j], "ring": order[i, j]}).to_csv(
        folder / "spatial" / "neighbours.csv", index=False)
    (folder / "spatial" / "bad.csv").write_text("unit,neighbour\nc000,nowhere\n")
    text = ("name: spill\ndata: {source: panel.csv, unit: unit, time: year, outcome: y, "
            "cohort: g}\nestimators:\n"
            "  - {id: spill, method: spillover, params: {weights: spatial/neighbours.csv}}\n"
            "  - {id: plc, method: placebo, params: {estimator: spillover, "
            "estimator_params: {weights: spatial/neighbours.csv}}}\n")
    (folder / "study.yaml").write_text(text)
    config, panel, _ = prepare(load_config(folder / "study.yaml"))
    wanted = str((folder / "spatial" / "neighbours.csv").resolve())
    assert config.estimators[0].params["weights"] == wanted
    assert config.estimators[1].params["estimator_params"]["weights"] == wanted
    (folder / "bad.yaml").write_text(text.replace("neighbours.csv", "bad.csv"))
    with pytest.raises(ConfigError, match=r"(?s)'spill' \(spillover\): weights: .*bad\.csv.*"
                                          r"units not in the panel.*rows 1"):
        prepare(load_config(folder / "bad.yaml"))


def test_ring_figure_draws_the_estimates(sim):
    table = sim[2].effect("spillover").part_frame("spillover_by_ring")
    fig = spillover_by_ring(table)
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), table["estimate"])
    inputs = ReportInputs("t", "r", {"spill": sim[2].results()}, [], {}, pd.DataFrame())
    assert [b.content.id for b in referee_figures(inputs, FigureMaker())] == [
        "fig-spillover-by-ring-spill-spillover"]
    exposure = sim[2].exposure_
    assert sim[2].rings_ == ("0-40km", "40-80km")
    exposed = exposure[exposure["ring"] > 0].groupby("ring")["unit"].nunique()
    np.testing.assert_array_equal(exposed.to_numpy(), table["exposed_units"])


def test_a_changed_neighbours_file_is_refitted_not_reused(sim, tmp_path):
    """The store key covers the content of the files a parameter names, not only their path."""
    from bayescity.experiments.runner import run_experiment

    df, order, _ = sim
    df.to_csv(tmp_path / "panel.csv", index=False)
    units = np.sort(df["unit"].unique())
    i, j = np.nonzero(order)
    neighbours = pd.DataFrame({"unit": units[i], "neighbour": units[j], "ring": order[i, j]})
    neighbours.to_csv(tmp_path / "neighbours.csv", index=False)
    (tmp_path / "s.yaml").write_text(
        "name: spill\ndata: {source: panel.csv, unit: unit, time: year, outcome: y, "
        "cohort: g}\nestimators:\n"
        "  - {id: spill, method: spillover, params: {weights: neighbours.csv}}\n")
    args = dict(reports_root=tmp_path / "rep", models_root=tmp_path / "m")
    first = run_experiment(tmp_path / "s.yaml", **args)
    assert run_experiment(tmp_path / "s.yaml", **args).cached == ["spill"]
    neighbours[neighbours["ring"] == 1].to_csv(tmp_path / "neighbours.csv", index=False)
    third = run_experiment(tmp_path / "s.yaml", **args)
    assert third.cached == []
    assert third.results["spill"][0].estimate() != first.results["spill"][0].estimate()
