"""`bayescity tfp` and the `derive` section of experiment configs, as a user drives them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from typer.testing import CliRunner

from bayescity.cli import app
from bayescity.tfp import malmquist, tfp_summary
from conftest import make_staggered

runner = CliRunner()
DEAP_COLUMNS = ["unit", "time", "effch", "techch", "pech", "sech", "tfpch"]


def _inputs(df: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Positive capital, labour and output for a panel with columns unit, year, y."""
    rng = np.random.default_rng(seed)
    k = rng.lognormal(3, 0.5, len(df)) * np.exp(0.05 * (df["year"] - 2000))
    lab = rng.lognormal(2, 0.4, len(df))
    gdp = np.exp(0.02 * (df["year"] - 2000) + 0.1 * df["y"]) * k ** 0.4 * lab ** 0.6
    return df.assign(K=k, L=lab, GDP=gdp)


def _panel_file(tmp_path: Path, df: pd.DataFrame | None = None) -> Path:
    df = _inputs(make_staggered(n_units=20, years=(2000, 2005))) if df is None else df
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    return path


def _tfp(args: list[str]):
    return runner.invoke(app, ["tfp", *args], catch_exceptions=False)


def test_tfp_command_writes_deap_columns_and_never_overwrites(tmp_path):
    panel = _panel_file(tmp_path)
    target = tmp_path / "tfp.csv"
    base = [str(panel), "--unit", "unit", "--time", "year", "--inputs", "K,L", "--output", "GDP",
            "--method", "malmquist", "--rts", "vrs", "--orientation", "input", "--out", str(target)]
    res = _tfp(base)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(target)
    assert list(table.columns) == DEAP_COLUMNS
    assert table.loc[table["time"] == 2000, DEAP_COLUMNS[2:]].isna().all().all()
    expected = malmquist(pd.read_csv(panel), unit="unit", time="year", inputs=["K", "L"],
                         outputs=["GDP"], rts="vrs", orientation="input").deap()
    pd.testing.assert_frame_equal(table, expected, check_dtype=False, rtol=1e-12)
    assert "geometric means" in res.output and str(target) in res.output.replace("\n", "")
    before = target.read_bytes()
    again = _tfp(base[:-1] + [str(target)])
    assert again.exit_code == 2 and "--force" in again.output
    assert target.read_bytes() == before
    assert _tfp(base + ["--force"]).exit_code == 0
    parquet = tmp_path / "tfp.parquet"
    assert _tfp(base[:-1] + [str(parquet)]).exit_code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), table, check_dtype=False)


def test_tfp_command_refuses_bad_arguments_and_data_with_exit_2(tmp_path):
    df = _inputs(make_staggered(n_units=20, years=(2000, 2005)))
    df.loc[7, "L"] = np.nan
    panel = _panel_file(tmp_path, df)
    base = [str(panel), "--unit", "unit", "--time", "year", "--inputs", "K,L", "--output", "GDP"]
    out = str(tmp_path / "t.csv")
    cases = [(["--out", str(tmp_path / "t.txt")], "must end in"),
             (["--out", out, "--method", "solow"], "--method"),
             (["--out", out, "--rts", "vrs2"], "--rts"),
             (["--out", out, "--inputs", "K,labour"], "'labour'"),
             (["--out", out], "'L'")]
    for extra, message in cases:
        res = _tfp(base + extra)
        assert res.exit_code == 2, (extra, res.output)
        assert message in res.output, (extra, res.output)
    assert not list(tmp_path.glob("t.*"))
    res = _tfp(base + ["--out", out, "--missing", "skip"])
    assert res.exit_code == 0 and "1 unit-years skipped" in res.output
    table = pd.read_csv(out)
    assert table.iloc[7, 2:].isna().all() and table.iloc[8, 2:].isna().all()


CONFIG = {
    "name": "toy_tfp", "seed": 1,
    "data": {"source": "panel.csv", "unit": "unit", "time": "year", "outcome": "tfp_m",
             "cohort": "g", "traits": ["region"], "drop_missing_outcome": True,
             "derive": {"K_pim": {"method": "perpetual_inventory", "investment": "K"},
                        "tfp_m": {"method": "malmquist", "inputs": ["K_pim", "L"],
                                  "output": "GDP", "rts": "vrs"}}},
    "estimators": [{"id": "twfe", "method": "twfe", "params": {}}],
}


def _run(tmp_path: Path, config: dict, df: pd.DataFrame | None = None):
    _panel_file(tmp_path, df)
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(config))
    return runner.invoke(app, ["run", str(path), "--out", str(tmp_path / "rep"), "--models",
                               str(tmp_path / "m")], catch_exceptions=False)


def test_derived_outcome_runs_and_writes_the_tfp_summary(tmp_path):
    res = _run(tmp_path, CONFIG)
    assert res.exit_code == 0, res.output
    (run_dir,) = [p for p in (tmp_path / "rep").glob("*/*") if p.is_dir()]
    summary = pd.read_csv(run_dir / "tfp_summary.csv")
    assert set(summary["column"]) == {"K_pim", "tfp_m"}
    assert set(summary["by"]) == {"all", "region"}
    assert set(summary.loc[summary["by"] == "region", "level"]) == {"North", "South"}
    assert sorted(summary["time"].unique()) == list(range(2001, 2006))
    panel_txt = (run_dir / "panel.txt").read_text()
    assert "derived tfp_m: DEA Malmquist tfpch" in panel_txt and "dropped 20 rows" in panel_txt
    lock = yaml.safe_load((run_dir / "config.lock.yaml").read_text())
    assert lock["config"]["data"]["derive"]["tfp_m"]["rts"] == "vrs"


def test_derive_mistakes_are_exit_2_before_any_work(tmp_path):
    def with_data(**changes):
        return {**CONFIG, "data": {**CONFIG["data"], **changes}}

    derive = CONFIG["data"]["derive"]
    cases = [(with_data(drop_missing_outcome=False), "set drop_missing_outcome: true"),
             (with_data(derive={**derive, "tfp_m": {**derive["tfp_m"], "inputz": ["K"]}}),
              "unknown key"),
             (with_data(derive={**derive, "tfp_m": {**derive["tfp_m"], "rts": "crs",
                                                    "measure": "pech"}}), "needs rts: vrs"),
             (with_data(derive={"tfp_m": {"method": "dea_sbm", "inputs": ["K"]}}), "method")]
    for config, message in cases:
        res = _run(tmp_path, config)
        assert res.exit_code == 2, res.output
        assert message in res.output, res.output
        assert not (tmp_path / "rep").exists()
    df = _inputs(make_staggered(n_units=20, years=(2000, 2005)))
    df.loc[3, "L"] = -1.0
    res = _run(tmp_path, CONFIG, df)
    assert res.exit_code == 2 and "'L'" in res.output and "rows 4" in res.output
    assert not (tmp_path / "rep").exists()


def test_tfp_summary_gives_the_distribution_by_year_and_region():
    from bayescity import load_panel

    df = make_staggered(n_units=40, years=(2000, 2003)).assign(v=lambda d: d["y"].abs() + 0.1)
    panel = load_panel(df, unit="unit", time="year", outcome="y", cohort="g", traits=["region"])
    table = tfp_summary(panel, ["v"])
    row = table[(table["by"] == "region") & (table["level"] == "North") & (table["time"] == 2002)]
    values = df.loc[(df["region"] == "North") & (df["year"] == 2002), "v"]
    assert row["n"].item() == len(values) == 20
    assert row["p50"].item() == values.median() and row["p90"].item() == values.quantile(0.9)
    assert row["geo_mean"].item() == np.exp(np.log(values).mean())
    assert len(table) == 4 * 3  # all, North, South by four years


def test_derive_columns_chain_capital_index_and_residual():
    from pydantic import TypeAdapter

    from bayescity.tfp import derive_columns, perpetual_inventory, solow_residual
    from bayescity.tfp.derive import DeriveSpec

    df = _inputs(make_staggered(n_units=15, years=(2000, 2004)), seed=3)
    specs = TypeAdapter(dict[str, DeriveSpec]).validate_python({
        "K_pim": {"method": "perpetual_inventory", "investment": "K", "growth": 0.05},
        "level": {"method": "malmquist", "inputs": ["K_pim", "L"], "output": "GDP",
                  "measure": "cumulative"},
        "solow": {"method": "solow", "output": "GDP", "capital": "K_pim", "labor": "L",
                  "alpha": 0.3}})
    before = df.copy()
    out = derive_columns(df, unit="unit", time="year", specs=specs)
    pd.testing.assert_frame_equal(df, before)
    k = perpetual_inventory(df, unit="unit", time="year", investment="K", growth=0.05)
    np.testing.assert_allclose(out.frame["K_pim"], k.stock)
    index = malmquist(out.frame, unit="unit", time="year", inputs=["K_pim", "L"],
                      outputs=["GDP"]).table
    chained = index["tfpch"].fillna(1.0).groupby(index["unit"]).cumprod()
    np.testing.assert_allclose(out.frame["level"], chained, rtol=1e-12)
    assert (out.frame.loc[out.frame["year"] == 2000, "level"] == 1.0).all()
    solow = solow_residual(out.frame, unit="unit", time="year", output="GDP", capital="K_pim",
                           labor="L", alpha=0.3)
    np.testing.assert_allclose(out.frame["solow"], solow.table["tfp_growth"], equal_nan=True)
    assert any(n.startswith("derived level: DEA Malmquist cumulative") for n in out.notes)
