"""Alternative treatment codings: the data-layer functions, the config block and the sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

import bayescity as bc
from bayescity.cli import app
from bayescity.data import PanelError
from bayescity.data.codings import apply_coding, parse_coding, unit_cohorts
from bayescity.data.panel import COHORT, REL_TIME, TREAT
from bayescity.estimators import ParamError

ROLES = dict(unit="city", time="year", outcome="tfp_growth", cohort="pilot_year")


@pytest.fixture(scope="module")
def builtin():
    return bc.load_panel("builtin:china_cities", **ROLES, traits=["region3"])


def _units(panel, cohort=None):
    g = unit_cohorts(panel)
    return int((g == cohort).sum()) if cohort is not None else panel.n_units


def test_leave_one_cohort_out_drops_its_units(builtin):
    before = builtin.frame.copy()
    coded = apply_coding(builtin, {"drop_cohorts": 2010})
    assert _units(coded) == 285 - 28 and _units(coded, 2010) == 0
    assert _units(coded, 2012) == _units(builtin, 2012)
    assert any("cohorts [2010] left out (28 units)" in n for n in coded.notes)
    pd.testing.assert_frame_equal(builtin.frame, before)  # the panel is not touched


def test_drop_capitals_and_municipalities(builtin):
    capitals = apply_coding(builtin, {"drop_flagged": ["provincial_capital"]})
    assert capitals.n_units == 285 - 31
    assert not capitals.frame["provincial_capital"].any()
    munis = apply_coding(builtin, {"drop_units": ["Beijing", "Tianjin", "Shanghai", "Chongqing"]})
    assert munis.n_units == 281 and "Shanghai" not in set(munis.frame["city"])


def test_recode_uncertain_pilots_to_a_candidate_year(builtin):
    coded = apply_coding(builtin, {"recode_uncertain": {"flag": "pilot_year_uncertain",
                                                        "year": 2011}})
    f = coded.frame
    flagged = f["pilot_year_uncertain"] == 1
    assert (f.loc[flagged, COHORT] == 2011).all() and flagged.any()
    assert (f.loc[~flagged, COHORT] == f.loc[~flagged, "pilot_year"]).all()
    assert (f[TREAT] == ((f[COHORT] > 0) & (f["year"] >= f[COHORT]))).all()
    post = f[COHORT] > 0
    assert (f.loc[post, REL_TIME] == f.loc[post, "year"] - f.loc[post, COHORT]).all()
    assert _units(coded, 2011) == 30 and _units(coded, 2012) == 0


@pytest.mark.parametrize("spec, match", [
    ({"drop_cohort": 2010}, r"unknown key\(s\) \['drop_cohort'\]"),
    ({"drop_cohorts": "2010"}, "drop_cohorts: give a period"),
    ({"recode_uncertain": {"flag": "pilot_year_uncertain"}}, "recode_uncertain: give"),
])
def test_coding_mistakes_are_named_in_config_words(spec, match):
    with pytest.raises(ValueError, match=f"coding: {match}"):
        parse_coding(spec)


@pytest.mark.parametrize("spec, column", [({"drop_cohorts": 2011}, COHORT),
                                          ({"drop_flagged": ["capital"]}, "capital"),
                                          ({"drop_units": ["Atlantis"]}, "city")])
def test_codings_that_do_not_fit_the_data_raise_panel_errors(builtin, spec, column):
    with pytest.raises(PanelError) as info:
        apply_coding(builtin, spec)
    assert info.value.columns == [column]


def _write_config(tmp_path: Path, coding: dict | None) -> Path:
    config = {"name": "coded", "seed": 3,
              "data": {"source": "builtin:china_cities", **ROLES,
                       **({"coding": coding} if coding is not None else {})},
              "estimators": [{"id": "twfe", "method": "twfe", "params": {}}]}
    path = tmp_path / "coded.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_data_section_coding_reaches_every_estimator(tmp_path, builtin):
    runner = CliRunner()
    args = ["--out", str(tmp_path / "rep"), "--models", str(tmp_path / "m")]
    res = runner.invoke(app, ["run", str(_write_config(tmp_path, {"drop_cohorts": [2008, 2018]})),
                              *args])
    assert res.exit_code == 0, res.output
    (run_dir,) = [p for p in (tmp_path / "rep").glob("*/*") if p.is_dir()]
    table = pd.read_csv(run_dir / "results.csv")
    expected = bc.make_estimator("twfe").fit(apply_coding(builtin, {"drop_cohorts": [2008, 2018]}))
    assert table.loc[0, "estimate"] == pytest.approx(expected.effect("ATT").estimate())
    assert table.loc[0, "n_obs"] == (285 - 18) * 19
    assert "cohorts [2008, 2018] left out" in (run_dir / "panel.txt").read_text()
    for bad, text in (({"drop_cohorts": 2011}, "drop_cohorts: [2011]"),
                      ({"dropp": 1}, "unknown key")):
        res = runner.invoke(app, ["run", str(_write_config(tmp_path, bad)), *args])
        assert res.exit_code == 2 and text in res.output, res.output


def test_the_sweep_gives_one_table_of_how_the_att_moves(builtin):
    codings = [{"drop_cohorts": 2010}, {"drop_flagged": ["provincial_capital"], "label": "no_caps"},
               {"recode_uncertain": {"flag": "pilot_year_uncertain", "years": [2011, 2013]}}]
    fit = bc.make_estimator("codings", codings=codings).fit(builtin)
    sweep = fit.effect("ATT_coding")
    assert sweep.terms == ["baseline", "drop_cohort_2010", "no_caps",
                           "pilot_year_uncertain_2011", "pilot_year_uncertain_2013"]
    for coding, term in [(codings[0], "drop_cohort_2010"), (codings[1], "no_caps"),
                         ({"recode_uncertain": {"flag": "pilot_year_uncertain", "year": 2013}},
                          "pilot_year_uncertain_2013")]:
        direct = bc.make_estimator("twfe").fit(apply_coding(builtin, coding))
        assert sweep.estimate(term) == pytest.approx(direct.effect("ATT").estimate())
    table = sweep.part_frame("codings")
    assert table.loc[0, "change"] == 0 and np.isfinite(table["change"]).all()
    assert fit.effect("ATT").estimate() == sweep.estimate("baseline")
    default = bc.make_estimator("codings").fit(builtin).effect("ATT_coding")
    assert default.terms[1:] == [f"drop_cohort_{g}" for g in builtin.cohorts]


@pytest.mark.parametrize("codings, match", [([{"drop_cohort": 1}], "codings: unknown key"),
                                            ([], "non-empty list"),
                                            ([{"drop_cohorts": 1}, {"drop_cohorts": 1}],
                                             "unique")])
def test_sweep_parameter_mistakes(codings, match):
    with pytest.raises(ParamError, match=match):
        bc.make_estimator("codings", codings=codings).validate()


def test_sweep_coding_that_does_not_fit_the_data(builtin):
    with pytest.raises(ParamError, match="codings: drop_cohort_2011: .*not treated cohorts"):
        bc.make_estimator("codings", codings=[{"drop_cohorts": 2011}]).check_panel(builtin)
