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

from bayescity.estimators.core.params import signature_defaults
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
    df["home province"] = np.repeat([f"p{i % 4}" for i in range(n_units)], len(t))
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
    """One estimator parameter as the fuzzer sees it: its name, its declared kind (``bool int
    float prob choice str seed column columns trait traits window mapping method bins numbers
    list``), choices, bounds, whether None is allowed, whether it names data columns (a role),
    and its default."""

    name: str
    kind: str
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    none: bool = False
    role: str | None = None
    many: bool = False
    default: Any = None
    #: A file the estimator reads (``path_params``: a neighbours file ...).
    path: bool = False


def method_params(method: str) -> list[ParamSpec]:
    """The parameters ``method`` declares (:attr:`Estimator.params`, one
    :class:`~bayescity.estimators.core.params.Spec` each), with their signature defaults: the
    one place the fuzzer learns what a parameter is."""
    cls = get_estimator(method)
    defaults = signature_defaults(cls)
    return [ParamSpec(name, s.kind, tuple(s.choices), s.low, s.high, s.none, s.role, s.many,
                      None if defaults[name] is inspect.Parameter.empty else defaults[name],
                      name in cls.path_params)
            for name, s in cls.params.items()]


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
    change is certainly a mistake (``invalid``), and the words the error must use."""

    path: tuple
    value: Any = None
    invalid: bool = False
    words: tuple[str, ...] = ()
    delete: bool = False


def _ok(value: Any) -> tuple[Any, bool]:
    return value, False


def _bad(value: Any) -> tuple[Any, bool]:
    return value, True


UNICODE_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
#: Values of no parameter's type but ``mapping``'s and ``list``'s.
NESTED = [{"a": 1}, [[1]], {"k": [1, 2]}]


def param_value(spec: ParamSpec) -> st.SearchStrategy[tuple[Any, bool]]:
    """(value, certainly invalid) for one parameter, from its declaration: values of its kind
    within its bounds (valid as far as the declaration tells), and values of another type, out
    of bounds, null where null is not allowed, unknown choices, missing columns (invalid)."""
    good, bad = _values(spec)
    slow = SLOW_VALUES.get(spec.name, ())
    good = [v for v in good if not any(v == s and type(v) is type(s) for s in slow)]
    good += [None] if spec.none else []
    bad += [] if spec.none else [None]
    return st.one_of(st.sampled_from(good).map(_ok), st.sampled_from(bad).map(_bad))


def _values(spec: ParamSpec) -> tuple[list, list]:
    """Values of ``spec``'s kind that fit it, and values that do not."""
    kind, lo, hi = spec.kind, spec.low, spec.high
    if spec.path:
        return ["../../data/neighbours.csv"], ["../../data/missing.csv", "/", "../..",
                                                "../../data/notes.txt", "../../data/folder.csv",
                                                5, "", *NESTED]
    if kind == "bool":
        return [True, False], ["yes", 2, 0, *NESTED]
    if kind in ("int", "seed"):
        start = int(lo) if lo is not None else (0 if kind == "seed" else -2)
        good = [start + i for i in range(4) if hi is None or start + i <= hi]
        bad = [1.5, "3", True, float("nan"), *NESTED]
        bad += [start - 1] if lo is not None or kind == "seed" else []
        bad += [int(hi) + 1] if hi is not None else []
        return (good + [2**70, 2**128 - 1] if kind == "seed" else good), bad + (
            [2**128] if kind == "seed" else [])
    if kind in ("float", "prob"):
        low, high = (0.0, 1.0) if kind == "prob" else (lo if lo is not None else -1.0,
                                                       hi if hi is not None else 10.0)
        good = [low + (high - low) * f for f in (0.05, 0.5, 0.9)]
        bad = [float("nan"), float("inf"), "0.9", True, *NESTED]
        bad += [low - 0.5] if kind == "prob" or lo is not None else []
        bad += [high + 0.5] if kind == "prob" or hi is not None else []
        return good, bad
    if kind == "choice":
        first = str(spec.choices[0])
        return list(spec.choices), [f"{first}x", first.upper() + "_", "nope", "é", *NESTED]
    if kind in ("str", "method"):
        return (list(INNER) if kind == "method" else ["C-LF", "x"]), [5, "", " ", *NESTED]
    if kind == "column":
        return list(COLUMNS), [5, "", ["x"], {"a": 1}] + (MISSING_COLUMNS[:3] if spec.role else [])
    if kind in ("columns", "traits"):
        pool = NUMERIC if kind == "columns" else TRAITS
        missing = [["nope"], ["x", "nope"], ["列"]] if spec.role else []
        return [[], pool[:1], pool[1:3]], ["x", [5], [pool[0], pool[0]], 5, *missing]
    if kind == "trait":
        good = ["region", UNICODE_TRAIT] + ([["region", UNICODE_TRAIT]] if spec.many else [])
        return good, [5, {"a": 1}] + (["nope", "列"] if spec.role else [])
    if kind == "window":
        return [[-2, 2], [-3, -1], [0, 1], [-1, 0]], [[1], [1.5, 2], "x", [3, -3], 5]
    if kind == "mapping":
        return [{}, {"vcov": "hetero"}, {"effect": 0.5}], [5, "x", [5], [[1]]]
    if kind == "list":
        return [[{"drop_units": ["u00"]}], [{"drop_cohorts": [2004]}]], ["x", {}, [], 5]
    if kind == "numbers":
        low = lo if lo is not None else -1.0
        return [[low + 0.5], [low + 0.5, low + 1]], [[], ["x"], "x", [float("nan")], [low - 1]]
    if kind == "bins":
        return ["quartiles", "terciles", "median", 2, 3], ["nope", 0, 1, -1, 1.5]
    return [], []


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
            st.integers(0, 2**128 - 1).map(_ok),
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
                             None]).map(_ok),
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
    # Text read in another encoding shows as columns the data lack (mojibake names); a source
    # is named by its resolved path, the problem by "file:".
    more = {"encoding": ("column",), "source": ("file",)}.get(key, ())
    return Change(("data", key), value, bad, _words(key, value) + more)


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
            params = draw(valid_params(method))
            # declared choices can still clash with a default (outcome_model: gradient_boosting
            # under causal_forest's imputation design): then the error names the estimator
            return Change(("estimators", i), {"id": est["id"], "method": method,
                                              "params": params}, words=(est["id"], *params))
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
        # A change below one made now (an estimator replaced whole) is gone from the config.
        changes = [c for c in changes if c.path[:len(change.path)] != change.path]
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


