"""Command lines for the fuzzer (:mod:`fuzz_harness`): one strategy of :class:`Case` s per
command, each taking ``valid`` -- cases without a certain mistake (they may run) or with one
(exit 2 expected, the error naming it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import yaml
from hypothesis import strategies as st

from fuzz_configs import METHODS, Change, config_cases, method_params

# --------------------------------------------------------------------------- cases
@dataclass
class Case:
    """One command line: ``args`` run in the example folder after ``files`` are written there
    (text or bytes) and ``copies`` (workspace artefact -> example path) are made. ``writes``:
    the example paths the command may write under; ``changes``: what makes it a mistake."""

    args: list[str]
    files: dict[str, str | bytes] = field(default_factory=dict)
    copies: dict[str, str] = field(default_factory=dict)
    writes: tuple[str, ...] = ()
    changes: list[Change] = field(default_factory=list)
    kind: str = ""
    folders: tuple[str, str] = ("out", "models")


GOOD_ROOTS = [("out", "models")] * 6 + [(None, None), ("out/deep/er", "models"), ("出力", "模型")]
BAD_ROOTS = [("in/config.yaml", "models"), ("out", "in/config.yaml"), ("same", "same"),
             ("out", "out/models"), ("", "models"), ("out", ""), ("in/config.yaml/x", "models")]


def _roots(draw, valid: bool) -> tuple[list[str], tuple[str, ...], list[Change]]:
    """``--out`` and ``--models`` (or the default folders): working ones, or with ``valid``
    false now and then a file, the same folder twice, one inside the other."""
    out, models = draw(st.sampled_from(GOOD_ROOTS + ([] if valid else BAD_ROOTS)))
    args = ([] if out is None else ["--out", out]) + ([] if models is None else
                                                      ["--models", models])
    folders = (out if out is not None else "reports", models if models is not None else "models")
    a, b = (os.path.normpath(f) for f in folders)
    bad = "in" in (a.split(os.sep)[0], b.split(os.sep)[0]) or a == b or \
        a.startswith(b + os.sep) or b.startswith(a + os.sep) or "." in (a, b)
    changes = [Change(("--out",), invalid=True, words=("--out", "--models"))] if bad else []
    writes = tuple(f for f in folders if f and os.path.normpath(f) != "."
                   and os.path.normpath(f).split(os.sep)[0] != "in")
    return args, writes, changes


@st.composite
def run_cases(draw, valid: bool) -> Case:
    """``valid``: a config with no certain mistake (it may run); else one with at least one."""
    content, changes = draw(config_cases(3, valid))
    root_args, writes, root_changes = _roots(draw, valid)
    args = ["run", "in/config.yaml", "--smoke", *root_args]
    only = draw(st.sampled_from([None, ""] if valid else
                                [None] * 12 + ["", ",", "no such", "é", "a b,c d"]))
    if only is not None:
        args += ["--only", only]
        if only.strip(","):
            changes = changes + [Change(("--only",), invalid=True, words=("--only",))]
    workers = None if valid else draw(st.sampled_from([None] * 12 + ["0", "-1", "x"]))
    if workers is not None:
        args += ["--workers", workers]
        changes = changes + [Change(("--workers",), invalid=True, words=("--workers",))]
    return Case(args, {"in/config.yaml": content}, copies={"models/.figures": "figures"},
                writes=writes, changes=changes + root_changes, kind="run")


GOOD_GRID = [("seed", "1,2"), ("data.outcome", "y,x"), ("seed", "3"),
             ("data.covariates", "[x],[]"), ("data.traits", "[region],[区域]")]
GRID_KEYS = st.sampled_from(["seed", "data.outcome", "name", "data.covariates", "nope",
                             "estimators.nope.params.x", "data", "", "seed.x", "estimators",
                             "data.nope"])
GRID_VALUES = st.sampled_from(["1,2", "1", "y,y_gap", "[x],[]", "..", "a,..", "-1", "x",
                               "[1", "é", "", "null", "1e400", "{a: 1}"])


@st.composite
def sweep_cases(draw, valid: bool) -> Case:
    content, changes = draw(config_cases(1, valid))
    cfg = None if any(c.path == ("file",) for c in changes) else yaml.safe_load(content)
    keys = []
    if isinstance(cfg, dict) and isinstance(cfg.get("estimators"), list):
        for e in cfg["estimators"]:
            if isinstance(e, dict) and isinstance(e.get("id"), str) and e.get("method") in METHODS:
                keys += [f"estimators.{e['id']}.params.{s.name}"
                         for s in method_params(e["method"])[:3]]
    key_strategy = st.one_of(GRID_KEYS, st.sampled_from(keys)) if keys else GRID_KEYS
    if valid:
        specs = draw(st.lists(st.sampled_from(GOOD_GRID), min_size=1, max_size=2,
                              unique_by=lambda kv: kv[0]))
        changes = changes + [Change(("--grid",), words=("grid", k)) for k, _ in specs]
    else:
        specs = draw(st.lists(st.tuples(key_strategy, GRID_VALUES), max_size=2))
        changes = changes + [Change(("--grid",), words=("grid", k)) for k, _ in specs if k]
    bad_spec = [] if valid else draw(st.sampled_from([[]] * 6 + [["seed"], ["="], ["=1"]]))
    grid = [f"{k}={v}" for k, v in specs] + bad_spec
    if bad_spec or not (grid or isinstance(cfg, dict) and "sweep" in cfg):
        changes = changes + [Change(("--grid",), invalid=True, words=("grid",))]
    root_args, writes, root_changes = _roots(draw, valid)
    args = ["sweep", "in/config.yaml", "--smoke", *root_args]
    for g in grid:
        args += ["--grid", g]
    return Case(args, {"in/config.yaml": content}, copies={"models/.figures": "figures"},
                writes=writes, changes=changes + root_changes, kind="sweep")


#: Values of the ``calibration:`` block's keys: (value, certainly a mistake). A trait or level
#: that fits one panel may not fit a changed one: such values are never certain mistakes.
CALIBRATION = {
    "scenarios": [(["homogeneous"], False), (["no_effect", "heavy_tails"], False),
                  ([None], False), (["null"], False), (["linear_in_trait"], False),
                  (["homogenous"], True), ([], True), (["ar1_shocks", "ar1_shocks"], True),
                  ("homogeneous", True), ([5], True), (["é"], True)],
    "replications": [(1, False), (2, False), (0, True), (-1, True), (1.5, True), ("2", True),
                     (2**70, True), (True, True)],
    "seed_offset": [(0, False), (7, False), (2**128 - 1, False), (-1, True), (2**128, True),
                    (1.5, True), ("x", True)],
    "effect_size": [(0.5, False), (0, False), (3, False), (-0.1, True), (float("nan"), True),
                    (float("inf"), True), (1e9, True), ("big", True)],
    "trait": [("region", False), ("区域", False), (None, False), ("size", False),
              ("nope", True), ("", True), (5, True)],
    "zero_level": [(None, False), ("North", False), ("西", False), ("Nowhere", True),
                   ([1], True)],
    "numeric_trait": [("size", False), (None, False), ("region", False), ("nope", True)],
    "slope": [(0.5, False), (-2, False), (float("nan"), True), (1e6, True)],
    "rho": [(0.5, False), (-0.9, False), (0.0, False), (1, True), (-1, True),
            (float("nan"), True)],
    "t_df": [(3, False), (30, False), (2, True), (1, True), (float("inf"), True)],
    "noise_traits": [(0, False), (2, False), (-1, True), (21, True), (1.5, True)],
    "smoke": [({"replications": 1}, False), ({"scenarios": ["no_effect"]}, False),
              ({"replications": 0}, True), ({"scenarios": ["nope"]}, True), (5, True),
              ({"reps": 1}, True)],
}
SCENARIO_ARGS = ("homogeneous", "no_effect", "null", "ar1_shocks,heavy_tails",
                 "by_trait_zero_level")


def _calibration_change(draw, ids: list[str], mistake: bool) -> Change:
    """One key of the ``calibration:`` block set: to a certain mistake when ``mistake``, else to
    a value that may fit (an exit 2 must then name the key)."""
    key = draw(st.sampled_from([*CALIBRATION, "params", "unknown"]))
    if key == "unknown":
        name = draw(st.sampled_from(["scenario", "replication", "seed", "ränge"]))
        return Change(("calibration", name), 1, True, ("unknown key", name))
    if key == "params":
        est = draw(st.sampled_from(ids or ["zz"]))
        value, bad = draw(st.sampled_from(
            [({est: {}}, False), ({est: {"interval_prob": 0.9}}, False)]
            if not mistake else [({"zz": {}}, True), ({est: {"bye": 1}}, True),
                                 ({est: {"interval_prob": 2}}, True), ({est: 5}, True), (5, True)]))
        return Change(("calibration", "params"), value, bad, ("params", "zz", "bye",
                                                                "interval_prob"))
    value, bad = draw(st.sampled_from([v for v in CALIBRATION[key] if v[1] == mistake]))
    words = (key, *([value] if isinstance(value, str) and value.strip() else []))
    return Change(("calibration", key), value, bad, words)


@st.composite
def calibrate_cases(draw, valid: bool) -> Case:
    """``calibrate`` with ``--smoke`` on a generated config carrying a generated ``calibration:``
    block; the certain mistake, unless ``valid``, is in the config, the block or an option.
    Cases that may run take one scenario and one replication (``--scenario``, ``--reps``)."""
    where = "none" if valid else draw(st.sampled_from(["config", "block", "block", "option"]))
    content, changes = draw(config_cases(2 if where == "config" else 1, where != "config"))
    cfg = yaml.safe_load(content) if not any(c.path == ("file",) for c in changes) else None
    if isinstance(cfg, dict):
        ids = [e["id"] for e in cfg.get("estimators") or [] if isinstance(e, dict)
               and isinstance(e.get("id"), str)]
        block = {}
        n = draw(st.integers(0, 2))
        for i in range(n):
            change = _calibration_change(draw, ids, where == "block" and i == n - 1)
            block[change.path[1]] = change.value
            changes = changes + [change]
        if where == "block" and not n:
            change = _calibration_change(draw, ids, True)
            block[change.path[1]] = change.value
            changes = changes + [change]
        if block or draw(st.booleans()):
            cfg["calibration"] = block
        content = yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False)
    root_args, writes, root_changes = _roots(draw, valid)
    args = ["calibrate", "in/config.yaml", "--smoke", *root_args]
    reps = draw(st.sampled_from(["1"] if where != "option" else ["1", "0", "-3", "x", "1e9"]))
    scenario = draw(st.sampled_from(SCENARIO_ARGS if where != "option" else [
        *SCENARIO_ARGS, "homogenous", "é", "null,null", "nope,homogeneous"]))
    args += [draw(st.sampled_from(["--reps", "--replications"])), reps, "--scenario", scenario]
    if reps != "1":
        changes = changes + [Change(("--reps",), reps, True, ("--reps", "--replications"))]
    if scenario not in SCENARIO_ARGS:
        changes = changes + [Change(("--scenario",), scenario, True, ("--scenario",))]
    if where == "option" and reps == "1" and scenario in SCENARIO_ARGS:
        flag, value = draw(st.sampled_from([("--only", "no such"), ("--workers", "0"),
                                            ("--executor", "nope"), ("--scheduler", "tcp://x")]))
        args += [flag, value]
        changes = changes + [Change((flag,), value, True, (flag,))]
    return Case(args, {"in/config.yaml": content}, copies={"models/.figures": "figures"},
                writes=writes, changes=changes + root_changes, kind="calibrate")


@dataclass(frozen=True)
class Option:
    """A command-line option to fuzz: ``flag`` (``""`` for the positional argument), values
    that work (``None``: left out; ``True``: a bare flag), values that are certainly mistakes,
    and values that may or may not be."""

    flag: str
    good: tuple
    bad: tuple = ()
    odd: tuple = ()


@st.composite
def option_args(draw, options: list[Option], valid: bool) -> tuple[list[str], list[Change]]:
    """Arguments with every option at a working value, then one or two of them changed: to a
    certain mistake first unless ``valid`` (then only to doubtful values, or none)."""
    values = {o.flag: draw(st.sampled_from(o.good)) for o in options}
    changes = []
    k = draw(st.sampled_from([0, 1] if valid else [1, 2]))
    pool_options = [o for o in options if o.odd] if valid else [o for o in options if o.bad]
    chosen = draw(st.lists(st.sampled_from(pool_options), min_size=k, max_size=k,
                           unique_by=lambda o: o.flag))
    for i, option in enumerate(chosen):
        pool = [(v, False) for v in option.odd] if valid or i else \
            [(v, True) for v in option.bad]
        if not pool:
            continue
        value, bad = draw(st.sampled_from(pool))
        values[option.flag] = value
        items = value.split(",") if isinstance(value, str) else []
        words = tuple(w for w in (option.flag.lstrip("-") or "file", *items) if w.strip())
        changes.append(Change((option.flag,), value, bad, words))
    args = []
    for flag, value in values.items():
        if value is None or value is False:
            continue
        args += [value] if not flag else [flag] if value is True else [flag, value]
    return args, changes


PANEL_PATHS = ("../data/panel.csv", "../data/panel.parquet")
BAD_PANELS = ("../data/missing.csv", "../data/notes.txt", "../data/folder.csv", "数据.csv", "/",
              "builtin:nope", "../data")
DATA_CHECK = [
    Option("", PANEL_PATHS, BAD_PANELS, ("../data/latin1.csv", "", "builtin:china_cities")),
    Option("--unit", ("unit",), ("nope", "列"), ("year", "region", "")),
    Option("--time", ("year",), ("nope",), ("unit", "x", "region", "")),
    Option("--outcome", ("y",), ("nope", "Y"), ("y_gap", "note", "region", "")),
    Option("--cohort", ("g", None), ("nope",), ("x", "d", "region", "year")),
    Option("--treatment", (None, "d"), ("nope",), ("g", "x")),
    Option("--covariates", (None, "x", "x,gdp level"), ("x,nope", "列"), (",", "note", "y")),
    Option("--traits", (None, "region", "region,区域"), ("nope",), ("x", "size", "note", ",")),
    Option("--sheet", (None,), (), ("Sheet1", "0", "é")),
    Option("--drop-missing-outcome", (False, True)),
]


@st.composite
def data_check_cases(draw, valid: bool) -> Case:
    args, changes = draw(option_args(DATA_CHECK, valid))
    if "--cohort" not in args and "--treatment" not in args:
        changes.append(Change(("--cohort",), invalid=True, words=("cohort", "treatment")))
    return Case(["data", "check", *args], changes=changes, kind="data check")


TFP = [
    Option("", PANEL_PATHS, BAD_PANELS, ("../data/latin1.csv", "builtin:china_cities")),
    Option("--unit", ("unit",), ("nope",), ("year", "")),
    Option("--time", ("year",), ("nope",), ("unit", "x")),
    Option("--inputs", ("capital,labor", "capital"), ("capital,nope", "列"), (",", "note", "x")),
    Option("--output", ("output",), ("nope",), ("output,capital", "note", "x")),
    Option("--out", ("out/tfp.csv", "out/tfp.parquet", "out/表.csv"),
           ("out/tfp.txt", "out", "missing/tfp.csv", "out/dir.csv", ""), ("out/existing.csv",)),
    Option("--method", (None, "malmquist"), ("nope", "MALMQUIST", "")),
    Option("--rts", (None, "crs", "vrs"), ("nope", "CRS", "")),
    Option("--orientation", (None, "output", "input"), ("nope",)),
    Option("--frontier", (None, "adjacent", "global"), ("nope",)),
    Option("--technology", (None, "crs", "vrs"), ("nope",)),
    Option("--missing", (None, "error", "skip"), ("nope",)),
    Option("--force", (False, True)),
]


@st.composite
def tfp_cases(draw, valid: bool) -> Case:
    args, changes = draw(option_args(TFP, valid))
    target = args[args.index("--out") + 1]
    files = {"out/existing.csv": "old\n", "out/dir.csv/keep": "x"}
    writes = (target,) if target.startswith("out/") and target != "out/dir.csv" else ()
    return Case(["tfp", *args], files, writes=writes, changes=changes, kind="tfp")


TAMPER = {"none": None, "index": "fits/index.json", "lock": "config.lock.yaml",
          "units": "data/units.parquet", "results": "fits/twfe/results.json",
          "panel": "data/panel.json"}


@st.composite
def report_cases(draw, valid: bool) -> Case:
    target = "run" if valid else draw(st.sampled_from(
        ["run", "missing", "in", "", "/", "run/report.html", "..", "run/fits"]))
    tamper = "none" if valid else draw(st.sampled_from(list(TAMPER)))
    how = draw(st.sampled_from(["delete", "garbage", "empty"]))
    files = {"in/x.txt": "x"}
    if tamper != "none":
        files[f"run/{TAMPER[tamper]}"] = {"delete": None, "garbage": b"\x00\xffgarbage",
                                          "empty": ""}[how]
    models = draw(st.sampled_from([None, "models", "missing", "in/x.txt"]))
    args = ["report", target] + ([] if models is None else ["--models", models])
    return Case(args, files, copies={"run": "run_dir", "models": "store"},
                writes=("run", "models"), kind="report")


@st.composite
def models_cases(draw, valid: bool) -> Case:
    sub = draw(st.sampled_from(["list", "show", "prune"]))
    args = ["models", sub]
    if sub == "show":
        args.append(draw(st.sampled_from(["KEY", "KEY8", "", "0", "zz", "models/toy/ENTRY",
                                          "/", "..", "in", "models"])))
    names = st.sampled_from(["toy", "zz", "..", "../..", "/", "", "é", ".figures", "toy/..",
                             "a/b"])
    if sub in ("list", "prune") and draw(st.booleans()):
        args += ["--experiment", draw(names)]
    if sub == "prune":
        if draw(st.booleans()):
            args += ["--older-than", draw(st.sampled_from(["0s", "30d", "1w", "x", "-1d", "",
                                                           "1.5h", "99999999999999w"]))]
        if draw(st.booleans()):
            args.append("--invalid")
        if draw(st.booleans()):
            args.append("--dry-run")
    models = draw(st.sampled_from(["models"] * 4 + [None, "missing", "in/x.txt", "", "出力"]))
    if models is not None:
        args += ["--models", models]
    files = {"in/x.txt": "x"}
    if draw(st.booleans()):
        files["models/toy/broken-0123456789abcdef/manifest.json"] = "{"
    return Case(args, files, copies={"models": "store"}, writes=("models",), kind="models")




@st.composite
def methods_cases(draw, valid: bool) -> Case:
    """``methods [METHOD]``: the listing, a registered method, or a name that is none."""
    if valid:
        method = draw(st.sampled_from([None, *METHODS]))
        return Case(["methods"] + ([method] if method else []), kind="methods")
    method = draw(st.sampled_from(["twfee", "TWFE", "", "é", "../twfe", "methods", "--x"]))
    return Case(["methods", "--", method], kind="methods",
                changes=[Change(("method",), method, True, ("method", "twfe"))])
