"""What a new user meets first: real files load as they are, defaults reproduce the
references, every mistake is caught before work (exit 2, in the config's words), and tables
say what a user must know next to the numbers."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import bayescity as bc
from bayescity.cli import app
from bayescity.constants import SUMMARY_COLUMNS
from bayescity.data.io import write_csv
from bayescity.data.panel import COHORT, REL_TIME, TREAT
from bayescity.estimators import ParamError, available_methods, get_estimator
from bayescity.estimators.freq import CallawaySantAnna
from conftest import make_staggered

runner = CliRunner()
FREQ = ["twfe", "event_study", "callaway_santanna", "sun_abraham", "imputation"]
ROLES = dict(unit="unit", time="year", outcome="y", cohort="g", covariates=["x"],
             traits=["region"])


def _cli(args: list[str]):
    return runner.invoke(app, args, catch_exceptions=False)


def _config(tmp_path: Path, estimators: list[dict], df: pd.DataFrame | None = None,
            **data) -> Path:
    (make_staggered(n_units=30) if df is None else df).to_csv(tmp_path / "panel.csv", index=False)
    cfg = {"name": "toy", "seed": 1,
           "data": {"source": "panel.csv", **{k: v for k, v in ROLES.items()}, **data},
           "estimators": estimators}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _run(tmp_path: Path, cfg: Path, *extra: str):
    return _cli(["run", str(cfg), "--out", str(tmp_path / "rep"),
                 "--models", str(tmp_path / "models"), *extra])


def _thin_panel() -> bc.Panel:
    """make_staggered plus one unit alone in cohort 2002 (event times 8-9 rest on it)."""
    df = make_staggered(seed=2, n_units=30)
    df.loc[df["unit"] == "u029", "g"] = 2002
    d = (df["g"] > 0) & (df["year"] >= df["g"])
    return bc.load_panel(df.assign(d=d.astype(int)), **ROLES)


# ---------------------------------------------------------------------------- real files load
def test_mpdta_as_distributed_loads_with_its_treat_column(mpdta):
    assert "treat" in mpdta.columns
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    assert (panel.data["treat"] == mpdta.sort_values(["countyreal", "year"])["treat"]
            .to_numpy()).all()
    assert {COHORT, TREAT, REL_TIME} <= set(panel.data.columns)
    user = make_staggered(n_units=12).assign(cohort="text", rel_time=1.5)
    p = bc.load_panel(user, **ROLES)
    assert (p.data["cohort"] == "text").all() and (p.data[REL_TIME].dropna() % 1 == 0).all()
    assert {"y", "x", COHORT, TREAT, REL_TIME} <= set(p.to_xarray().data_vars)
    with pytest.raises(bc.PanelError, match="reserved"):
        bc.load_panel(user.assign(**{COHORT: 1}), **ROLES)


def test_r_did_default_settings_on_mpdta(mpdta):
    """R did 2.x: att_gt(yname="lemp", gname="first.treat", ...) then aggte(type = "simple")."""
    panel = bc.load_panel(mpdta, unit="countyreal", time="year", outcome="lemp",
                          cohort="first.treat")
    est = CallawaySantAnna().fit(panel)
    att = est.effect("ATT").row("overall")
    assert att.estimate == pytest.approx(-0.0399513, abs=1e-6)
    assert att.std_error == pytest.approx(0.0120340, rel=1e-4)
    assert att.n_treated == 191
    assert est.effect("ATT_event").facts("overall")["estimate"] == pytest.approx(-0.0772398,
                                                                                 abs=1e-6)
    notes = " ".join(est.effect("ATT_event").notes)
    assert "R did's default is a multiplier bootstrap" in notes


def test_excel_data_on_another_sheet_lists_the_sheets(tmp_path):
    with pd.ExcelWriter(tmp_path / "book.xlsx") as xl:
        pd.DataFrame({"read me": ["data on sheet 2"]}).to_excel(xl, sheet_name="notes",
                                                                index=False)
        make_staggered(n_units=8).to_excel(xl, sheet_name="panel", index=False)
    with pytest.raises(bc.PanelError) as info:
        bc.load_panel(tmp_path / "book.xlsx", **ROLES)
    text = str(info.value)
    assert "'notes', 'panel'" in text and "`sheet:`" in text
    assert bc.load_panel(tmp_path / "book.xlsx", sheet="panel", **ROLES).n_units == 8
    with pytest.raises(bc.PanelError, match="no sheet 'data'.*'notes', 'panel'"):
        bc.load_panel(tmp_path / "book.xlsx", sheet="data", **ROLES)


def test_every_csv_written_opens_in_excel_and_reads_back(tmp_path):
    frame = pd.DataFrame({"城市": ["深圳市", "杭州市"], "estimate": [0.1, 0.2]})
    path = write_csv(frame, tmp_path / "t.csv")
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf"
    pd.testing.assert_frame_equal(pd.read_csv(path), frame)
    df = make_staggered(n_units=20)
    df["region"] = df["region"].map({"North": "北方", "South": "南方"})
    cfg = _config(tmp_path, [{"id": "twfe", "method": "twfe", "params": {"by": "region"}}], df)
    assert _run(tmp_path, cfg).exit_code == 0
    (run_dir,) = (tmp_path / "rep" / "toy").iterdir()
    for name in ("results.csv", "tests.csv"):
        assert (run_dir / name).read_bytes()[:3] == b"\xef\xbb\xbf"
    table = pd.read_csv(run_dir / "results.csv")
    assert {"北方", "南方"} <= set(table["term"])
    assert list(table.columns[:len(SUMMARY_COLUMNS)]) == list(SUMMARY_COLUMNS)
    assert SUMMARY_COLUMNS.index("n_treated") == SUMMARY_COLUMNS.index("n_obs") + 1
    assert table.columns[-1] == "note"


# ---------------------------------------------------------------------------- mistakes, exit 2
BAD_VALUES = [
    ("twfe", {"vcov": "crv1"}, "vcov: 'crv1' is not one of .*did you mean 'CRV1'"),
    ("twfe", {"inference": "wild", "vcov": "hetero"}, "inference: 'wild' needs clustered"),
    ("twfe", {"wild_weights": "web"}, "did you mean 'webb'"),
    ("twfe", {"n_boot": 0}, "n_boot: 0 is below the minimum 1"),
    ("twfe", {"covariates": "x"}, r"covariates: give a list of column names, e\.g\. \[x\]"),
    ("event_study", {"window": [1, 3]}, r"window: \[1, 3\] must contain leads and lags"),
    ("event_study", {"reference": -9}, "reference: -9 must be a lead inside window"),
    ("event_study", {"binning": "yes"}, "binning: 'yes' is not true or false"),
    ("callaway_santanna", {"control_group": "notyettreated"}, "did you mean 'not_yet_treated'"),
    ("callaway_santanna", {"control_group": "notyet"}, "did you mean 'not_yet_treated'"),
    ("dml", {"control_group": "never"}, "did you mean 'never_treated'"),
    ("causal_forest", {"n_trees": 1001}, "n_trees: 1001 must be a multiple of 4"),
    ("hierarchical_did", {"sampler": "NUTS"}, "sampler: 'NUTS' is not one of"),
    ("placebo", {"n_permutations": 10}, "n_permutations: 10 is below the minimum 19"),
    ("callaway_santanna", {"est_method": "doubly_robust"}, "est_method: 'doubly_robust'"),
    ("callaway_santanna", {"bands": "simultaneous"}, "bands: 'simultaneous'"),
    ("callaway_santanna", {"multiplier": "rademacher2"}, "did you mean 'rademacher'"),
    ("callaway_santanna", {"n_boot": 999.5}, "n_boot: 999.5 is not an integer"),
    ("callaway_santanna", {"pretrend_window": [-5, 2]}, "pretrend_window: .* leads only"),
    ("callaway_santanna", {"min_cohort_size": 0}, "min_cohort_size: 0 is below the minimum 1"),
    ("callaway_santanna", {"interval_prob": 95}, "interval_prob: 95 must be a number strictly"),
    ("sun_abraham", {"control_cohort": "never_treated"}, "control_cohort: 'never_treated'"),
    ("sun_abraham", {"reference": 0}, "reference: 0 must be a lead"),
    ("imputation", {"by_bins": "quartiles"}, "by_bins: given without `by`"),
    ("imputation", {"by": "region", "by_bins": "quartile"}, "by_bins: 'quartile' is not one of"),
]


@pytest.mark.parametrize("method, params, message", BAD_VALUES,
                         ids=[f"{m}-{next(iter(p))}" for m, p, _ in BAD_VALUES])
def test_bad_parameter_values_are_refused_when_read(method, params, message):
    with pytest.raises(ParamError, match=message):
        get_estimator(method)(**params).validate()


def test_r_spelling_of_control_group_is_exit_2_before_any_fit(tmp_path):
    cfg = _config(tmp_path, [{"id": "twfe", "method": "twfe"},
                             {"id": "cs_nyt", "method": "callaway_santanna",
                              "params": {"control_group": "notyettreated"}}])
    res = _run(tmp_path, cfg)
    assert res.exit_code == 2
    assert "'cs_nyt'" in res.output and "control_group: 'notyettreated'" in res.output
    assert "did you mean 'not_yet_treated'" in res.output and "=" not in res.output
    assert not (tmp_path / "rep").exists() and not (tmp_path / "models").exists()


COLUMN_ROLES = [
    ("twfe", {"by": "x_level"}, "by: trait 'x_level' is numeric .* `by_bins: quartiles`"),
    ("event_study", {"covariates": ["label"]}, "covariates: column 'label'.*non-numeric"),
    ("callaway_santanna", {"cluster": "year"}, "cluster: column 'year' varies within units"),
    ("sun_abraham", {"trend_covariates": ["x"]}, "trend_covariates: column 'x' varies"),
    ("imputation", {"cluster": "regoin"}, "cluster: column 'regoin' is not in the data"),
]


@pytest.mark.parametrize("method, params, message", COLUMN_ROLES,
                         ids=[m for m, _, _ in COLUMN_ROLES])
def test_column_roles_are_checked_against_the_panel(method, params, message):
    df = make_staggered(n_units=30)
    df["x_level"] = df.groupby("unit")["x"].transform("first") + np.arange(len(df)) // 12 * 1e-3
    df["label"] = "a"
    panel = bc.load_panel(df, **{**ROLES, "traits": ["region", "x_level"]})
    est = get_estimator(method)(**params)
    with pytest.raises(ParamError, match=message):
        est.check_panel(panel)
    with pytest.raises(ParamError, match=message):
        est.fit(panel)


@pytest.mark.parametrize("method", FREQ)
def test_numeric_trait_binned_on_request_in_every_estimator(method):
    df = make_staggered(seed=4, n_units=48)
    df["size"] = df.groupby("unit")["x"].transform("first")
    panel = bc.load_panel(df, **{**ROLES, "traits": ["region", "size"]})
    assert panel.trait_kind("size") == "numeric"
    fit = get_estimator(method)(by="size", by_bins="median").fit(panel)
    by = fit.effect("ATT_by_size")
    assert by.terms == ["Q1", "Q2"] and np.isfinite(by.table["estimate"]).all()
    assert by.table["n_treated"].sum() == fit.effect("ATT").table["n_treated"].iloc[0]


def test_group_dummy_as_treatment_is_warned_and_refused(tmp_path):
    df = make_staggered(n_units=30)
    df["ever_treated"] = (df["g"] > 0).astype(int)
    res = _cli(["data", "check", str(_save(df, tmp_path)), "--unit", "unit", "--time", "year",
                "--outcome", "y", "--treatment", "ever_treated"])
    assert res.exit_code == 0
    assert "warning: treatment column 'ever_treated' is 1 in every period" in res.output
    assert "looks like a group indicator" in res.output
    as_cohort = bc.load_panel(df, unit="unit", time="year", outcome="y", cohort="ever_treated")
    assert "cohort column 'ever_treated' puts the first treated period" in as_cohort.warnings[0]
    panel = bc.load_panel(df, unit="unit", time="year", outcome="y", treatment="ever_treated")
    for method in available_methods():  # every estimator refuses it through the same check
        with pytest.raises(ParamError, match="group indicator"):
            get_estimator(method)().check_panel(panel)
    ids = ["twfe", "callaway_santanna", "hierarchical_did", "dml", "causal_forest", "psm_did",
           "placebo"]
    cfg = _config(tmp_path, [{"id": m, "method": m} for m in ids], df, cohort=None,
                  treatment="ever_treated")
    res = _run(tmp_path, cfg)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert " ".join(res.output.split()).count("group indicator") == 1  # once for the run
    assert "collinear" not in res.output


def _save(df: pd.DataFrame, tmp_path: Path) -> Path:
    df.to_csv(tmp_path / "d.csv", index=False)
    return tmp_path / "d.csv"


def test_covariates_used_and_dropped_are_reported(tmp_path):
    df = make_staggered(n_units=30)
    size = dict(zip(df["unit"].unique(), np.random.default_rng(3).normal(size=30)))
    df["size_2003"] = df["unit"].map(size)
    panel = bc.load_panel(df, **{**ROLES, "covariates": ["x", "size_2003"]})
    for method in ("twfe", "event_study", "sun_abraham", "imputation"):
        att = bc.make_estimator(method).fit(panel).effect("ATT")
        assert att.facts()["covariates_used"] == ("x",), method
        assert "absorbed by the unit fixed effects" in \
            att.facts()["covariates_dropped"]["size_2003"]
        assert any("dropped: size_2003 (constant within units" in n for n in att.notes)
    cs = bc.make_estimator("callaway_santanna", est_method="reg").fit(panel).effect("ATT")
    assert cs.facts()["covariates_used"] == ("x", "size_2003")
    cfg = _config(tmp_path, [{"id": "twfe", "method": "twfe"}], df,
                  covariates=["x", "size_2003"])
    res = _run(tmp_path, cfg)
    assert res.exit_code == 0
    assert "note: twfe: covariates used: x (the panel's covariates); dropped: size_2003" \
        in " ".join(res.output.split())


def test_misspelt_builtin_is_named_not_asked_for_roles():
    res = _cli(["data", "describe", "builtin:china"])
    assert res.exit_code == 2
    assert "unknown built-in 'china'; available: china_cities" in res.output
    assert "--unit" not in res.output
    with pytest.raises(bc.PanelError, match="unknown built-in 'china'"):
        bc.load_panel("builtin:china", unit="city", time="year", outcome="y", cohort="g")
    with pytest.raises(bc.PanelError, match=r"`cohort: <first treated period column>`"):
        bc.load_panel(make_staggered(), unit="unit", time="year", outcome="y")


# ---------------------------------------------------------------------------- tables and CLI
def test_notes_and_thin_terms_reach_tables_and_the_cli(tmp_path):
    fit = bc.make_estimator("imputation").fit(_thin_panel())
    table = bc.compare({"imp": fit.results()})
    assert table.columns[-1] == "note"
    thin = table[table["n_treated"] < 2]
    assert len(thin) and thin["note"].str.startswith("warning: rests on 1 treated unit").all()
    with pytest.raises(ParamError, match=r"covariates: \['x'\] separate cohort 2002, which "
                                         "has one unit.*min_cohort_size: 2"):
        bc.make_estimator("callaway_santanna").check_panel(_thin_panel())
    es = bc.make_estimator("event_study").fit(_thin_panel()).effect("ATT_event")
    assert any("binned into its end-points (fixest's i(rel_time" in n for n in es.notes)
    from rich.console import Console
    from bayescity.commands.display import closing_table
    from bayescity.reports.comparison import comparison_table

    console = Console(width=200, record=True)
    flagged = table.assign(estimand="ATT_by_cohort")
    console.print(closing_table(comparison_table(flagged), flagged))
    assert re.search(r"│\s+1 !\s+│", console.export_text())
    cs = bc.make_estimator("callaway_santanna", covariates=[]).fit(_thin_panel()).results()
    notes = bc.compare(cs)["note"]
    assert notes.str.contains("cohort 2002 rests on one unit").all()
    df = _thin_panel().data.drop(columns=[COHORT, TREAT, REL_TIME])
    cfg = _config(tmp_path, [{"id": "cs", "method": "callaway_santanna",
                              "params": {"covariates": []}}], df)
    res = _run(tmp_path, cfg)
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "warning: cs: cohort 2002 rests on one unit" in text
    assert re.search(r"warning: cs: terms resting on fewer than 2 treated units .*ATT_event "
                     r"8, 9; ATT_cohort 2002", text)


def test_compact_view_version_stored_fit_and_aligned_panel_txt(tmp_path, capsys):
    fit = bc.make_estimator("twfe", by="region").fit(bc.load_panel(make_staggered(), **ROLES))
    table = bc.compare(fit.results())
    shown = repr(table)
    header = shown.splitlines()[0].split()
    assert {"estimate", "lower", "upper", "n_treated"} <= set(header)
    assert "std_error" not in header and "more columns" in shown
    assert isinstance(table, pd.DataFrame) and "std_error" in table.columns
    assert type(table[["estimate"]]) is pd.DataFrame
    assert type(bc.compare(fit.results(), view="full")) is pd.DataFrame
    res = _cli(["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"bayescity {bc.__version__}"
    from rich.console import Console
    from bayescity.commands.display import RunDisplay
    from bayescity.experiments.runner import NullObserver, run_experiment

    class Shown(NullObserver):
        def __init__(self):
            self.display, self.texts = RunDisplay(console=Console(file=open(os.devnull, "w"))), []

        def fit_started(self, est_id, method, index, total, stored):
            self.display.fit_started(est_id, method, index, total, stored)
            self.texts.append(self.display.progress.tasks[0].description)

    shown = Shown()
    cfg = _config(tmp_path, [{"id": "twfe", "method": "twfe"}])
    for _ in range(2):
        run_experiment(cfg, reports_root=tmp_path / "rep", models_root=tmp_path / "m",
                       observer=shown)
    assert shown.texts == ["fitting twfe (twfe)", "using stored fit twfe (twfe)"]
    run_dir = next((tmp_path / "rep" / "toy").iterdir())
    lines = [ln for ln in (run_dir / "panel.txt").read_text().splitlines() if ":" in ln
             and not ln.startswith((" ", "trait", "cohorts", "note", "warning"))]
    starts = {len(ln) - len(ln.split(":", 1)[1].lstrip()) for ln in lines}
    assert len(starts) == 1, lines


def test_describe_summarises_numeric_traits():
    df = make_staggered(n_units=40)
    df["size"] = df.groupby("unit")["x"].transform("first")
    panel = bc.load_panel(df, **{**ROLES, "traits": ["region", "size"]})
    d = panel.describe()
    assert set(d.traits) == {"region"} and set(d.numeric_traits) == {"size"}
    q = d.numeric_traits["size"]
    assert q["min"] <= q["q25"] <= q["median"] <= q["q75"] <= q["max"] and q["units"] == 40
    line = next(ln for ln in str(d).splitlines() if ln.startswith("trait size"))
    assert line.startswith("trait size (numeric, 40 units): min ") and line.count(",") == 5
