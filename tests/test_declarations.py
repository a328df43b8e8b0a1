"""The checkable seams: declared parameters, typed read-only results, one fit template.

Every parameter of every method is declared (kind, help) and listed by ``bayescity methods``
and the README's generated reference; results hand out nothing their receiver could change
them through; every part a result may carry is declared and has a renderer; the fitted state
lives in a frozen object, not in attributes set along the way.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import bayescity as bc
from bayescity.cli import app
from bayescity.estimators import available_methods, get_estimator
from bayescity.estimators.core.params import ParamError, Spec, check_value, did_you_mean
from bayescity.estimators.reference import END, START, markdown
from bayescity.reports.parts import RENDERERS
from bayescity.results import parts as P
from conftest import make_staggered

README = (pytest.importorskip("pathlib").Path(__file__).resolve().parents[1] / "README.md")


@pytest.fixture(scope="module")
def panel():
    return bc.load_panel(make_staggered(n_units=40), unit="unit", time="year", outcome="y",
                         cohort="g", covariates=["x"], traits=["region"])


@pytest.fixture(scope="module")
def twfe(panel):
    return bc.make_estimator("twfe", by="region").fit(panel)


@pytest.mark.parametrize("method", available_methods())
def test_every_parameter_is_declared_once_with_help(method):
    cls = get_estimator(method)
    assert list(cls.params) and set(cls.params) == set(cls.param_names())
    for name, spec in cls.params.items():
        assert isinstance(spec, Spec) and spec.help and spec.allowed(), (method, name)
    cls().validate()  # the defaults are valid values of their own declarations


def test_readme_parameter_reference_is_generated_and_current():
    text = README.read_text(encoding="utf-8")
    current = text[text.index(START):text.index(END) + len(END)]
    assert current == markdown(), "run: python -m bayescity.estimators.reference README.md"
    for method in available_methods():
        assert f"<code>{method}</code>" in current
        for name in get_estimator(method).param_names():
            assert f"| `{name}` |" in current


def test_methods_command_lists_methods_and_parameters():
    runner = CliRunner()
    listing = runner.invoke(app, ["methods"])
    assert listing.exit_code == 0 and all(m in listing.output for m in available_methods())
    one = runner.invoke(app, ["methods", "callaway_santanna"])
    assert one.exit_code == 0
    assert "not_yet_treated" in one.output and "[first, last]" in one.output
    bad = runner.invoke(app, ["methods", "twfx"])
    assert bad.exit_code == 2 and "did you mean 'twfe'" in bad.output


@pytest.mark.parametrize("value, choices, hint", [
    ("notyet", ["never_treated", "not_yet_treated"], "not_yet_treated"),
    ("NOT-YET-TREATED", ["never_treated", "not_yet_treated"], "not_yet_treated"),
    ("crv1", ["CRV1", "CRV3"], "CRV1"),
    ("web", ["rademacher", "webb", "mammen"], "webb"),
    ("zzz", ["never_treated", "not_yet_treated"], None),
])
def test_near_misses_get_a_suggestion(value, choices, hint):
    text = did_you_mean(value, choices)
    assert (hint is None and text == "") or f"did you mean '{hint}'" in text


def test_bounds_and_kinds_are_checked_in_the_configs_words():
    with pytest.raises(ParamError, match="n: 3 must be a multiple of 4"):
        check_value("n", 3, Spec("int", "h", low=1, multiple_of=4))
    with pytest.raises(ParamError, match="share: 0.7 is above the maximum 0.5"):
        check_value("share", 0.7, Spec("float", "h", low=0, high=0.5))
    with pytest.raises(ParamError, match="seed: -5 must be an integer from 0"):
        check_value("seed", -5, Spec("seed", "h", none=True))
    with pytest.raises(ParamError, match="flag: 'yes' is not true or false"):
        check_value("flag", "yes", Spec("bool", "h"))
    with pytest.raises(ParamError, match=r"cols: give a list of column names, e\.g\. \[x\]"):
        check_value("cols", "x", Spec("columns", "h"))


def test_mutating_a_returned_table_cannot_change_a_result(twfe):
    att = twfe.effect("ATT")
    before = att.estimate()
    table = att.table
    table.loc[0, "estimate"] = 999.0
    table["estimate"] = -1.0
    assert att.estimate() == before == twfe.effect("ATT").estimate()
    assert att.row("overall")["lower"] <= before <= att.row("overall")["upper"]
    with pytest.raises(ValueError):
        att.vcov[0, 0] = 0.0  # arrays are read-only
    with pytest.raises(AttributeError):
        att.estimand = "other"
    with pytest.raises(TypeError):
        att.facts()["vcov"] = "iid"
    summary = att.summary()
    summary.loc[0, "estimate"] = 5.0
    assert att.estimate() == before


def test_mutating_a_table_part_or_the_panel_data_changes_nothing(panel):
    part = P.Table("balance", pd.DataFrame({"covariate": ["x"], "smd": [0.1]}))
    frame = part.frame
    frame.loc[0, "smd"] = 9.0
    assert part.frame.loc[0, "smd"] == 0.1
    for data in (panel.frame, panel.data):
        data.loc[:, "y"] = 0.0
        data["extra"] = 1.0
    assert panel.frame["y"].abs().sum() > 0 and "extra" not in panel.frame
    with pytest.raises(AttributeError):
        panel.outcome = "x"


def test_results_survive_pickling_for_executors(twfe):
    import pickle

    att = twfe.effect("ATT_by_region")
    back = pickle.loads(pickle.dumps(att))
    pd.testing.assert_frame_equal(att.table, back.table)
    assert back.facts() == att.facts() and back.messages == att.messages


def test_every_part_type_has_a_renderer_and_every_declared_part_a_section():
    assert set(RENDERERS) == set(P.PART_TYPES)
    for name, spec in P.DECLARED.items():
        assert spec.type in RENDERERS and spec.section in P.SECTIONS, name


@pytest.mark.parametrize("method, params", [
    ("twfe", {"by": "region"}), ("callaway_santanna", {"by": "region"}),
    ("placebo", {"n_permutations": 19}), ("psm_did", {})])
def test_parts_estimators_emit_are_declared_and_render(panel, method, params, tmp_path):
    from bayescity.reports.cache import FigureMaker
    from bayescity.reports.parts import render_part

    fit = bc.make_estimator(method, random_state=1, **params).fit(panel) \
        if "random_state" in get_estimator(method).param_names() \
        else bc.make_estimator(method, **params).fit(panel)
    for r in fit.results():
        assert r.part("settings") is not None
        for part in r.parts:
            assert P.DECLARED[part.name].type is type(part)
            block = render_part(part, f"{part.name}-{method}", part.name, FigureMaker())
            assert block.content is not None


def test_fitted_state_is_one_frozen_object(panel):
    est = bc.make_estimator("callaway_santanna").fit(panel)
    state_like = {k for k in vars(est) if k.endswith("_")}
    assert state_like <= {"results_", "state_", "n_obs_"}
    if est.state_ is not None:
        assert dataclasses.is_dataclass(est.state_)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(est.state_, dataclasses.fields(est.state_)[0].name, None)
    assert not any(k.startswith("_") for k in vars(est))


def test_ever_treated_group_dummy_is_refused_by_every_method(panel):
    df = make_staggered(n_units=30)
    df["ever"] = (df["g"] > 0).astype(int)
    dummy = bc.load_panel(df, unit="unit", time="year", outcome="y", treatment="ever",
                          traits=["region"])
    for method in available_methods():
        with pytest.raises(ParamError, match="group indicator"):
            get_estimator(method)().fit(dummy)
    assert np.isfinite(bc.make_estimator("twfe").fit(panel).effect().estimate())


def test_interval_probability_flows_to_captions_and_figures(panel, tmp_path):
    from html import unescape

    from bayescity.reports import FitRecord, ReportInputs, write_report

    results = {"twfe90": bc.make_estimator("twfe", by="region", interval_prob=0.9).fit(panel)
               .results(),
               "twfe": bc.make_estimator("twfe", by="region").fit(panel).results()}
    from bayescity.reports import unit_table

    inputs = ReportInputs("t", "r", results, [FitRecord(k, "twfe") for k in results],
                          {"source": "x", "first_period": 2000, "last_period": 2011},
                          unit_table(panel))
    write_report(tmp_path, inputs)
    html = unescape((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "90% (twfe90)" in html and "95% (twfe)" in html
    assert "95% interval]" not in html
    assert "90% t_CRV1" in (tmp_path / "tables" / "main_results.md").read_text()
