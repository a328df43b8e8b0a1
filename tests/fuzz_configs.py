"""Configs for the command-line fuzzer (:mod:`fuzz_harness`), generated from the schema.

A small panel (:func:`make_panel`: 24 units, 6 years, unicode and numeric traits, gaps, text
and TFP columns); every estimator parameter described by :func:`method_params` from what its
method declares, with valid values, edge values and wrong types (:func:`param_value`); and a
valid config (:func:`base_config`) changed at sites drawn over the whole schema -- top-level
fields, data roles, estimator ids, methods and parameters, duplicate ids, garbage files --
each change recorded as a :class:`Change` that says whether it is certainly a mistake and
which words the error must use (:func:`config_cases`).
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml
from hypothesis import strategies as st

from bayescity.estimators.registry import available_methods, get_estimator

# --------------------------------------------------------------------------- the small panel
UNICODE_TRAIT = "区域"


def make_panel(seed: int = 3, n_units: int = 24, years=(2000, 2005)) -> pd.DataFrame:
    """A staggered panel with a known effect of 1, a categorical, a unicode and a numeric
    trait, covariates, an outcome with gaps, a text column and positive TFP inputs/outputs."""
    rng = np.random.default_rng(seed)
    t = np.arange(years[0], years[1] + 1)
    g = np.concatenate([np.zeros(8, int), rng.choice([2002, 2004], size=n_units - 8)])
    unit = np.repeat([f"u{i:02d}" for i in range(n_units)], len(t))
    df = pd.DataFrame({"unit": unit, "year": np.tile(t, n_units), "g": np.repeat(g, len(t))})
    df["region"] = np.repeat(np.where(np.arange(n_units) % 2, "North", "South"), len(t))
    df[UNICODE_TRAIT] = np.repeat(np.where(np.arange(n_units) % 3, "东", "西"), len(t))
    df["size"] = np.repeat(rng.normal(size=n_units).round(3), len(t))
    df["x"] = rng.normal(size=len(df)).round(4)
    df["gdp level"] = rng.normal(size=len(df)).round(4)
    d = (df["g"] > 0) & (df["year"] >= df["g"])
    df["d"] = d.astype(int)
    df["y"] = (np.repeat(rng.normal(size=n_units), len(t)) + 0.5 * df["x"] + d
               + rng.normal(scale=0.5, size=len(df))).round(4)
    df["y_gap"] = df["y"].where(rng.random(len(df)) > 0.1)
    df["note"] = rng.choice(["a", "b", "c"], size=len(df))
    df["capital"] = rng.uniform(1, 5, size=len(df)).round(3)
    df["labor"] = rng.uniform(1, 5, size=len(df)).round(3)
    df["output"] = (df["capital"] ** 0.3 * df["labor"] ** 0.7 * rng.uniform(0.8, 1.2, len(df))
                    ).round(3)
    return df


COLUMNS = list(make_panel().columns)
NUMERIC = ["x", "gdp level", "size", "y", "y_gap", "capital", "labor", "output"]
TRAITS = ["region", UNICODE_TRAIT, "size"]
MISSING_COLUMNS = ["nope", "Region", "列", "y ", ""]


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ParamSpec:
    """One estimator parameter as the fuzzer sees it: its name, kind (``bool int float prob
    choice column columns window ints floats mapping mappings seed bins method``), its
    choices when it has a fixed set, and its default."""

    name: str
    kind: str
    choices: tuple = ()
    default: Any = None


_KINDS = {"bool": "bool", "int": "int", "int | None": "int", "float": "float",
          "float | None": "float", "Sequence[str] | None": "columns",
          "str | None": "column", "str | Sequence[str] | None": "column",
          "tuple[int, int] | None": "window", "Sequence[int]": "window",
          "Sequence[int] | None": "ints", "Sequence[float] | None": "floats",
          "Mapping[str, Any] | None": "mapping", "Sequence[Mapping[str, Any]] | None": "mappings",
          "str | int | None": "bins", "str": "text"}


def method_params(method: str) -> list[ParamSpec]:
    """The parameters ``method`` declares, with their kinds.

    Read today from the estimator's constructor signature (names, annotations, defaults) and
    its ``param_choices``; the one place to switch when parameters are declared once (type,
    bounds, choices) in the estimators' own declarations."""
    cls = get_estimator(method)
    specs = []
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self":
            continue
        default = None if p.default is inspect.Parameter.empty else p.default
        choices = tuple(cls.param_choices.get(name, ()))
        kind = ("choice" if choices else "seed" if name == "random_state"
                else "method" if name == "estimator"
                else "prob" if name == "interval_prob" or name == "target_accept"
                else _KINDS.get(str(p.annotation), "text"))
        specs.append(ParamSpec(name, kind, choices, default))
    return specs


#: Valid values a fuzzed fit must not take because they cost minutes, not seconds.
SLOW_VALUES = {"sampler": ("numpyro", "nutpie", "pymc"), "loo": (True,),
               "posterior_predictive": (True,), "prior_predictive": (True,),
               "prior_sensitivity": (True,)}
#: Inner estimators a wrapper (placebo, honest_did, ...) may refit many times.
INNER = ("twfe", "event_study", "callaway_santanna")
CHEAP = ("twfe", "event_study", "callaway_santanna", "sun_abraham", "imputation")
METHODS = tuple(available_methods())


@dataclass(frozen=True)
class Change:
    """One change to a valid config: the path set (or ``delete``d), the value, whether the
    change is certainly a user mistake (``invalid``), and the words the error must use."""

    path: tuple
    value: Any = None
    invalid: bool = False
    words: tuple[str, ...] = ()
    delete: bool = False


def _maybe(value: Any) -> tuple[Any, bool]:
    return value, False


def _bad(value: Any) -> tuple[Any, bool]:
    return value, True


WRONG_TYPES = st.sampled_from([{"a": 1}, [[1]], {"k": [1, 2]}])
UNICODE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def param_value(spec: ParamSpec) -> st.SearchStrategy[tuple[Any, bool]]:
    """(value, certainly invalid) for one parameter: valid values, edge values, wrong types."""
    kind = spec.kind
    wrong = WRONG_TYPES.map(_bad)
    slow = SLOW_VALUES.get(spec.name, ())
    if kind == "choice":
        ok = [c for c in spec.choices if c not in slow]
        return st.one_of(st.sampled_from(ok).map(_maybe),
                         st.sampled_from([f"{spec.choices[0]}x", str(spec.choices[0]).upper()
                                          + "_", "nope", "é"]).map(_bad),
                         st.sampled_from([5, 1.5, True]).map(_maybe), wrong)
    if kind == "bool":
        ok = [b for b in (True, False) if b not in slow]
        return st.one_of(st.sampled_from(ok).map(_maybe),
                         st.sampled_from(["yes", 2, None, 0]).map(_maybe), wrong)
    if kind == "int":
        return st.one_of(st.integers(-2, 4).map(_maybe), st.sampled_from(
            [1.5, "3", True, None, float("nan")]).map(_maybe), wrong)
    if kind in ("float", "prob"):
        return st.one_of(st.sampled_from([0.05, 0.5, 0.9, 0.99]).map(_maybe),
                         st.sampled_from([0, 1, -0.5, 1.5, float("nan"), float("inf"), "0.9",
                                          None]).map(_maybe), wrong)
    if kind == "column":
        return st.one_of(st.sampled_from(COLUMNS).map(_maybe),
                         st.sampled_from(MISSING_COLUMNS[:3]).map(_bad),
                         st.sampled_from([5, ["region"], None]).map(_maybe), UNICODE_TEXT.map(_maybe))
    if kind == "columns":
        return st.one_of(st.lists(st.sampled_from(NUMERIC), max_size=2).map(_maybe),
                         st.sampled_from([["nope"], ["x", "nope"], ["列"]]).map(_bad),
                         st.sampled_from(["x", [5], ["x", "x"], None, ["note"]]).map(_maybe),
                         wrong)
    if kind == "window":
        return st.one_of(st.tuples(st.integers(-4, 1), st.integers(-2, 4)).map(list).map(_maybe),
                         st.sampled_from([[1], [1.5, 2], "x", [3, -3], None]).map(_maybe), wrong)
    if kind in ("ints", "floats"):
        return st.one_of(st.lists(st.integers(-1, 2003), max_size=3).map(_maybe),
                         st.lists(st.floats(-1, 3, allow_nan=False), max_size=3).map(_maybe),
                         st.sampled_from(["x", 5, None, [None]]).map(_maybe))
    if kind in ("mapping", "mappings"):
        return st.one_of(st.sampled_from([{}, None, {"vcov": "hetero"}, {"effect": 0.5},
                                          [{"drop_units": ["u00"]}], []]).map(_maybe),
                         st.sampled_from([5, "x", {"nope": 1}, [5]]).map(_maybe))
    if kind == "seed":
        return st.one_of(st.sampled_from([0, 7, 2**70, 2**128 - 1, None]).map(_maybe),
                         st.sampled_from([-1, -5, 1.5, "x", True, 2**128, [1]]).map(_bad), wrong)
    if kind == "bins":
        return st.one_of(st.sampled_from(["quartiles", "terciles", "median", 2, 3, None]).map(
            _maybe), st.sampled_from(["nope", 0, -1, 1.5, 100]).map(_maybe), wrong)
    if kind == "method":
        return st.one_of(st.sampled_from(INNER).map(_maybe),
                         st.sampled_from(["nope", "twfee", 5, "placebo"]).map(_maybe))
    return st.one_of(UNICODE_TEXT.map(_maybe), st.sampled_from([5, None, [1]]).map(_maybe), wrong)


def valid_params(method: str) -> st.SearchStrategy[dict[str, Any]]:
    """Parameters a cheap fit accepts: its declared choices (the slow ones left out)."""
    picks = [s for s in method_params(method) if s.kind == "choice"]
    if not picks:
        return st.just({})

    def values(chosen: list[ParamSpec]) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries({s.name: st.sampled_from(
            [c for c in s.choices if c not in SLOW_VALUES.get(s.name, ())]) for s in chosen})

    return st.lists(st.sampled_from(picks), max_size=1, unique=True).flatmap(values)


# --------------------------------------------------------------------------- configs
SLUG = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}", fullmatch=True)
BAD_NAMES = st.one_of(st.sampled_from([".", "..", ".hidden", "-x", "a/b", "/abs", "", "a" * 65,
                                       "a b", "städte", "名前", "a\\b", "..-x", "index.json/..",
                                       "a\tb"]),
                      UNICODE_TEXT.filter(lambda s: not re.fullmatch(r"[A-Za-z0-9_][\w.-]*", s)))
BASE_DATA = {"unit": "unit", "time": "year", "outcome": "y", "cohort": "g",
             "covariates": ["x"], "traits": ["region", UNICODE_TRAIT]}


@st.composite
def base_config(draw) -> dict[str, Any]:
    """A valid config on the workspace panel: cheap estimators with declared choices."""
    n = draw(st.integers(1, 2))
    ids = draw(st.lists(SLUG, min_size=n, max_size=n, unique_by=str.casefold)
               .filter(lambda xs: "index.json" not in [x.casefold() for x in xs]))
    ests = []
    for est_id in ids:
        method = draw(st.sampled_from(CHEAP))
        ests.append({"id": est_id, "method": method, "params": draw(valid_params(method))})
    return {"name": draw(SLUG), "seed": draw(st.integers(0, 2**32)),
            "data": {"source": draw(st.sampled_from(["../../data/panel.csv",
                                                     "../../data/panel.parquet"])),
                     **BASE_DATA},
            "estimators": ests}


def _top_change(draw, cfg) -> Change:
    key = draw(st.sampled_from(["name", "seed", "data", "estimators", "sweep", "extra"]))
    if key == "name":
        if draw(st.booleans()):
            return Change(("name",), draw(SLUG))
        return Change(("name",), draw(st.one_of(BAD_NAMES, st.sampled_from([5, None, ["a"]]))),
                      True, ("name",))
    if key == "seed":
        value, bad = draw(st.one_of(
            st.integers(0, 2**128 - 1).map(_maybe),
            st.sampled_from([-1, -5, 2**128, 2**200, 1.5, "5", True, None, [1]]).map(_bad)))
        return Change(("seed",), value, bad, ("seed",))
    if key == "data":
        return Change(("data",), draw(st.sampled_from([None, [1], "panel.csv", 5])), True,
                      ("data",))
    if key == "estimators":
        value = draw(st.sampled_from([[], None, "twfe", [5], [None], {"id": "a"}]))
        return Change(("estimators",), value, True, ("estimators",))
    if key == "sweep":
        value, bad = draw(st.one_of(
            st.sampled_from([{"grid": {"seed": [1, 2]}}, {"grid": {"data.outcome": ["y"]}},
                             None]).map(_maybe),
            st.sampled_from([{"grid": {}}, {"grid": {"seed": []}}, {"grid": {"nope": [1]}},
                             {"grid": "x"}, {"grid": {"estimators.zz.params.a": [1]}},
                             {"grid": {"seed": 1}}, {"grids": {"seed": [1]}}, 5]).map(_bad)))
        return Change(("sweep",), value, bad, ("sweep", "grid"))
    return Change((draw(st.sampled_from(["nmae", "seeds", "Estimators", "ünknown"])),), 1, True,
                  ("unknown key",))


DATA_VALUES = {
    "source": st.sampled_from(["../../data/missing.csv", "../../data/notes.txt", "", "../..",
                               "../../data/folder.csv", "builtin:nope", "数据.csv",
                               "../../data/latin1.csv", "/nonexistent/p.csv", 5]),
    "unit": st.sampled_from(["nope", "year", "region", "", 5, None, ["unit"]]),
    "time": st.sampled_from(["nope", "unit", "x", "region", "", 5, None]),
    "outcome": st.sampled_from(["nope", "note", "region", "y_gap", "unit", "", None, 5]),
    "cohort": st.sampled_from(["nope", "x", "d", "region", "year", None, 5]),
    "treatment": st.sampled_from(["d", "g", "x", "nope", None, 5]),
    "covariates": st.sampled_from([[], ["nope"], ["note"], ["x", "x"], "x", [5], None,
                                   ["gdp level"], ["y"]]),
    "traits": st.sampled_from([[], ["nope"], ["x"], ["size"], "region", [5], ["note"],
                               ["region", "region"]]),
    "cluster": st.sampled_from(["region", "nope", "x", None, 5, ["region"]]),
    "sheet": st.sampled_from([0, "Sheet1", None, [1], -1]),
    "encoding": st.sampled_from(["utf-8", "latin-1", "gbk", "nope", "", 5, "rot13"]),
    "drop_missing_outcome": st.sampled_from([True, False, "maybe", 3, None]),
    "derive": st.sampled_from([{}, {"k": {"method": "nope"}}, {"k": 5}, [1],
                               {"tfp": {"method": "solow", "output": "output",
                                        "capital": "capital", "labor": "labor"}},
                               {"tfp": {"method": "malmquist", "inputs": [], "output": "output"}}]),
    "coding": st.sampled_from([None, {"drop_units": ["u00"]}, {"nope": 1}, "x", 5,
                               {"drop_cohorts": ["x"]}, {"drop_units": []}]),
}
#: Data values that are certainly mistakes, with the words the error must use.
DATA_BAD = {"nope", "列", "builtin:nope", "../../data/missing.csv", "/nonexistent/p.csv",
            "数据.csv"}


def _data_change(draw, cfg) -> Change:
    key = draw(st.sampled_from([*DATA_VALUES, "delete", "unknown"]))
    if key == "delete":
        gone = draw(st.sampled_from(["source", "unit", "time", "outcome", "cohort"]))
        required = gone != "cohort"
        return Change(("data", gone), delete=True, invalid=required, words=(gone,))
    if key == "unknown":
        return Change(("data", draw(st.sampled_from(["outcom", "covariate", "ünit"]))), "y",
                      True, ("unknown key",))
    value = draw(DATA_VALUES[key])
    bad = (isinstance(value, str) and value in DATA_BAD) or \
        (isinstance(value, list) and "nope" in value) or (value == 5 and key != "sheet")
    return Change(("data", key), value, bad, _words(key, value))


def _words(key: str, value: Any) -> tuple[str, ...]:
    """What an error about ``key: value`` may name: the key (or its singular), a file's name,
    the columns of a list."""
    items = [value, os.path.basename(value)] if isinstance(value, str) else \
        [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
    return (key, key.removesuffix("s"), *(v for v in items if len(v.strip()) >= 3))


def _estimator_change(draw, cfg) -> Change:
    ests = cfg["estimators"]
    i = draw(st.integers(0, len(ests) - 1))
    est = ests[i]
    what = draw(st.sampled_from(["param", "param", "param", "param", "id", "method",
                                 "unknown_param", "smoke", "unknown_field", "duplicate"]))
    if what == "param":
        section = draw(st.sampled_from(["params", "params", "smoke"]))
        spec = draw(st.sampled_from(method_params(est["method"])))
        value, bad = draw(param_value(spec))
        return Change(("estimators", i, section, spec.name), value, bad,
                      (*_words(spec.name, value), "unknown key"))
    if what == "id":
        return Change(("estimators", i, "id"), draw(st.one_of(
            BAD_NAMES, st.sampled_from([5, None, "index.json", "INDEX.JSON"]))), True, ("id",))
    if what == "method":
        if draw(st.booleans()):
            method = draw(st.sampled_from(METHODS))
            return Change(("estimators", i), {"id": est["id"], "method": method,
                                              "params": draw(valid_params(method))})
        return Change(("estimators", i, "method"), draw(st.sampled_from(
            ["twfee", "", "TWFE", "方法", 5, None])), True, ("method",))
    if what == "unknown_param":
        name = draw(st.sampled_from(["bye", "n_bot", "vcov_", "ünknown", "control"]))
        return Change(("estimators", i, draw(st.sampled_from(["params", "smoke"])), name), 1,
                      True, (name,))
    if what == "smoke":
        return Change(("estimators", i, "smoke"), draw(st.sampled_from([5, "x", [1]])), True,
                      ("smoke",))
    if what == "unknown_field":
        return Change(("estimators", i, "parms"), {}, True, ("parms",))
    other = str(ests[(i + 1) % len(ests)].get("id"))
    twin = draw(st.sampled_from([other, other.upper(), other.lower()]))
    return Change(("estimators", len(ests)), {"id": twin, "method": "twfe"}, True,
                  ("unique", "id"))


def apply_change(cfg: dict, change: Change) -> None:
    node: Any = cfg
    for part in change.path[:-1]:
        if isinstance(node, dict):
            node = node.setdefault(part, {})
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
        if not isinstance(node, (dict, list)):
            return
    last = change.path[-1]
    if change.delete:
        if isinstance(node, dict):
            node.pop(last, None)
    elif isinstance(node, list) and isinstance(last, int):
        node.append(change.value) if last >= len(node) else node.__setitem__(last, change.value)
    elif isinstance(node, dict):
        node[last] = change.value


@st.composite
def config_cases(draw, max_changes: int, valid: bool) -> tuple[str | bytes, list[Change]]:
    """A config file's content and the changes made to a valid config to get it: with
    ``valid``, none or changes that may be valid (the config may fit); else at least one
    certain mistake, the last change (exit 2 when the config is read: cheap)."""
    cfg = draw(base_config())
    garbage = None if valid else draw(st.sampled_from(
        [None] * 20 + ["- a\n- b\n", "", "a: [1\n", b"\xff\xfe\x00", "name: x\n\tseed: 1\n",
                       "42\n"]))
    if garbage is not None:
        return garbage, [Change(("file",), invalid=True, words=("config",))]
    n = draw(st.integers(0 if valid else 1, max_changes))
    changes: list[Change] = []
    for i in range(n):
        change = _one_change(draw, cfg)
        for _ in range(8):
            if change.invalid == (not valid and i == n - 1) or (not valid and i < n - 1):
                break
            change = _one_change(draw, cfg)
        apply_change(cfg, change)
        changes.append(change)
    return yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), changes


def _one_change(draw, cfg: dict) -> Change:
    """One change to ``cfg`` (not applied), at a site drawn among the fields of the schema."""
    site = draw(st.sampled_from([_top_change, _data_change, _estimator_change,
                                 _estimator_change]))
    if site is _estimator_change and not (isinstance(cfg.get("estimators"), list) and all(
            [*cfg["estimators"], None][:1]) and all(
            isinstance(e, dict) and e.get("method") in METHODS for e in cfg["estimators"])):
        site = _top_change
    if site is _data_change and not isinstance(cfg.get("data"), dict):
        site = _top_change
    return site(draw, cfg)


