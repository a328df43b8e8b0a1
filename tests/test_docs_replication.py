"""The replication notebook (docs/notebooks/replication.md) uses the study's own settings.

The page fits the entries of experiments/innovative_city.yaml, robustness.yaml and
tfp_malmquist.yaml by hand, so that a reader sees every call. This test reads its code (without
running it: the documentation build does that) and checks that every fit uses its config
entry's method, parameters and run seed, that the only departures are the draw counts listed
in the page's ``FASTER`` (each lower than the config's), that the panels are loaded with the
configs' roles and the TFP index is built with the config's derive settings, and that every
entry of the main study is fitted, so the page's comparison is the main study's.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import bayescity as bc
from bayescity.experiments import load_config

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "notebooks" / "replication.md"
#: The page's dictionaries of fits and of seeds, and the config each one belongs to.
FITS = {"main": "innovative_city", "robust": "robustness", "tfp_fits": "tfp_malmquist"}
SEEDS = {"s_main": "innovative_city", "s_rob": "robustness", "s_tfp": "tfp_malmquist"}
PANELS = {"panel": "innovative_city", "rpanel": "robustness", "tpanel": "tfp_malmquist"}
#: Parameters the page may lower to keep the build fast (draw counts only).
DRAW_COUNTS = {"draws", "tune", "n_boot", "n_permutations", "n_trees", "n_seeds"}


def page_code(text: str) -> str:
    cells = re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", text, re.S)
    return "\n".join(line for cell in cells for line in cell.splitlines()
                     if not line.lstrip().startswith("!"))


@pytest.fixture(scope="module")
def page():
    tree = ast.parse(page_code(PAGE.read_text(encoding="utf-8")))
    env: dict = {}
    for node in tree.body:        # plain literal names (TRENDS, modifiers, FASTER)
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                env[node.targets[0].id] = evaluate(node.value, env)
            except (ValueError, NameError, TypeError, AttributeError, SyntaxError):
                pass
    return tree, env


@pytest.fixture(scope="module")
def configs():
    return {name: load_config(ROOT / "experiments" / f"{name}.yaml")
            for name in set(FITS.values())}


def evaluate(node: ast.AST, env: dict):
    """A literal expression of the page, which may use the page's literal names."""
    code = compile(ast.Expression(node), "<page>", "eval")
    return eval(code, {"__builtins__": {}}, dict(env))  # noqa: S307 - the repository's own page


def estimator_call(value: ast.AST) -> ast.Call | None:
    """``bc.Class(...)`` of ``bc.Class(...).fit(panel)``."""
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) \
            and value.func.attr == "fit" and isinstance(value.func.value, ast.Call):
        inner = value.func.value
        if isinstance(inner.func, ast.Attribute) and isinstance(inner.func.value, ast.Name) \
                and inner.func.value.id == "bc":
            return inner
    return None


def fits(tree: ast.AST):
    """``(config, entry id, class name, call, panel name)`` of every ``FITS[id] = bc.X(..).fit(p)``."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        call = estimator_call(node.value)
        if call and isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name) \
                and target.value.id in FITS and isinstance(target.slice, ast.Constant):
            panel = node.value.args[0].id
            yield FITS[target.value.id], target.slice.value, call.func.attr, call, panel


def keywords(call: ast.Call, env: dict) -> dict:
    return {k.arg: k.value if k.arg == "random_state" else evaluate(k.value, env)
            for k in call.keywords}


def test_every_fit_uses_its_config_entry_and_run_seed(page, configs):
    tree, env = page
    found = list(fits(tree))
    assert len(found) >= 20
    for config_name, est_id, cls_name, call, panel in found:
        entry = {e.id: e for e in configs[config_name].estimators}[est_id]
        cls = bc.get_estimator(entry.method)
        assert getattr(bc, cls_name) is cls, (est_id, cls_name)
        assert PANELS[panel] == config_name, (est_id, panel)
        given = keywords(call, env)
        seed = given.pop("random_state", None)
        if "random_state" in cls.param_names():
            assert isinstance(seed, ast.Subscript) and seed.value.id in SEEDS, est_id
            assert SEEDS[seed.value.id] == config_name and seed.slice.value == est_id, est_id
        faster = env["FASTER"].get(config_name, {}).get(est_id, {})
        assert given == {**entry.params, **faster}, est_id


def test_the_only_departures_are_lower_draw_counts(page, configs):
    _, env = page
    faster = env["FASTER"]
    assert faster, "the page lists what it lowers"
    for config_name, entries in faster.items():
        by_id = {e.id: e for e in configs[config_name].estimators}
        for est_id, changes in entries.items():
            assert set(changes) <= DRAW_COUNTS, (est_id, changes)
            cls = bc.get_estimator(by_id[est_id].method)
            declared = {p["name"]: p for p in cls.describe_params()}
            for name, value in changes.items():
                assert 0 < value < config_count(by_id[est_id].params, declared[name]), \
                    (est_id, name)


def config_count(params: dict, declared: dict) -> int:
    """The draw count a run uses: the config's, else the default; a null default resolved by
    the estimator (``null: 2,000 for gibbs, 1,000 for NUTS``) counts as the largest its help
    names."""
    if declared["name"] in params:
        return params[declared["name"]]
    if declared["default"] != "null":
        return int(declared["default"])
    return max(int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", declared["help"]))


def test_the_main_study_is_fitted_whole(page, configs):
    tree, _ = page
    on_page = {est_id for config, est_id, *_ in fits(tree) if config == "innovative_city"}
    assert on_page == {e.id for e in configs["innovative_city"].estimators}


def test_panels_have_the_configs_roles_and_tfp_its_derive_settings(page, configs):
    tree, env = page
    loads = {}
    calls = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and isinstance(node.value, ast.Call):
            func = node.value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "load_panel":
                loads[node.targets[0].id] = node.value
            if name in ("perpetual_inventory", "malmquist"):
                calls[name] = node.value
    assert set(loads) == set(PANELS)
    for var, config_name in PANELS.items():
        data = configs[config_name].data
        expected = {k: v for k, v in data.load_kwargs().items() if v not in (None, False)}
        given = {k.arg: evaluate(k.value, env) for k in loads[var].keywords}
        assert given == expected, var
        source = loads[var].args[0]
        if not data.derive:
            assert evaluate(source, env) == data.source, var
    derive = configs["tfp_malmquist"].data.derive
    stock = {k.arg: evaluate(k.value, env) for k in calls["perpetual_inventory"].keywords}
    pim = derive["capital_pim"].model_dump(exclude={"method"})
    assert {k: stock.get(k, v if k != "investment" else None) for k, v in pim.items()} == pim
    index = {k.arg: evaluate(k.value, env) for k in calls["malmquist"].keywords}
    spec = derive["tfp_malmquist"].model_dump(exclude={"method", "measure"})
    assert index.pop("outputs") == [spec.pop("output")]
    assert {k: index.get(k, v if k != "inputs" else None) for k, v in spec.items()} == spec
