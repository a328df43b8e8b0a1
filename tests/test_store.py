"""The model store keeps plain data, checks it on load, and never runs what it reads."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayescity.experiments import artefacts as art
from bayescity.experiments.store import ModelStore, StoreWarning
from bayescity import results as R
from bayescity.results import EffectResult
from bayescity.results.effect import wald_table
from bayescity.results import parts as P
from bayescity.results.plain import read_results, write_results

SRC = Path(__file__).resolve().parents[1] / "src"
META = {"method": "twfe", "params": {"by": "region", "window": (-5, 8)}, "data_hash": "d" * 64}


def _result(rng: np.random.Generator) -> EffectResult:
    vcov = np.array([[0.04, 0.01], [0.01, 0.09]])
    diag = pd.DataFrame({"r_hat": [1.0, 1.02], "breach": [False, True]},
                        index=pd.Index(["a[x]", "b"], name="parameter"))
    settings = {"window": (-5, 8), "by_level": {"2004": 1.5, "2007": np.nan},
                "flag": np.bool_(True), "n": np.int64(7),
                "nested": {"list": [1, 2.5, "x", None], "$odd": "key"}, "inf": float("inf")}
    parts = [P.Facts("settings", settings), P.Diagnostics("diagnostics", diag),
             P.Table("balance", pd.DataFrame({"covariate": ["x", "y"], "smd": [0.1, -0.2]})),
             P.Distribution("placebo", rng.normal(size=(50, 2)), [1.0, 2.0], [0.1, 0.5],
                            labels=["North", "South"]),
             P.Text("cate_tree", "x <= 1\n|-- 0.5")]
    tests = (R.TestResult("equal ATT across region", 3.2, 1, 0.07, "wald_chi2", None, "note",
                          ("North", "South")),)
    return EffectResult("twfe", "frequentist", "ATT_by_region",
                        wald_table(["North", "South"], [1.0, 2.0], vcov, df=29), 600,
                        interval_kind="t_CRV1", n_clusters=30, tests=tests, vcov=vcov,
                        draws=rng.normal(size=(10, 2)), parts=parts,
                        messages=P.warnings("a warning") + P.notes("one", "two"))


def _assert_same(a: EffectResult, b: EffectResult) -> None:
    pd.testing.assert_frame_equal(a.table, b.table)
    assert (a.method, a.paradigm, a.estimand, a.n_obs, a.interval_kind, a.n_clusters, a.tests,
            a.messages) == (b.method, b.paradigm, b.estimand, b.n_obs, b.interval_kind,
                            b.n_clusters, b.tests, b.messages)
    np.testing.assert_array_equal(a.vcov, b.vcov)
    # posterior draws are stored as float32: equal to float32 rounding
    np.testing.assert_array_equal(np.asarray(a.draws, np.float32), b.draws)
    assert b.draws.dtype == np.float32
    assert [(type(p), p.name) for p in a.parts] == [(type(p), p.name) for p in b.parts]
    for p, q in zip(a.parts, b.parts):
        if isinstance(p, P.Table):
            named = not isinstance(p.frame.index, pd.RangeIndex)
            pd.testing.assert_frame_equal(p.frame.reset_index() if named else p.frame, q.frame)
        elif isinstance(p, P.Distribution):
            np.testing.assert_array_equal(p.draws, q.draws)
            assert (p.observed, p.p_value, p.labels) == (q.observed, q.p_value, q.labels)
        elif isinstance(p, P.Facts):
            assert p.values["by_level"]["2004"] == 1.5 and np.isnan(q.values["by_level"]["2007"])
            rest = {k: v for k, v in p.values.items() if k != "by_level"}
            assert rest == {k: v for k, v in q.values.items() if k != "by_level"}
        else:
            assert p.text == q.text


def test_results_roundtrip_as_plain_files(tmp_path):
    r = _result(np.random.default_rng(0))
    names = write_results([r], tmp_path)
    assert {Path(n).suffix for n in names} <= {".json", ".parquet", ".npy"}
    (back,) = read_results(tmp_path)
    _assert_same(r, back)
    assert isinstance(back.facts()["window"], tuple) and back.notes == ("one", "two")


def test_a_part_that_is_not_declared_is_refused_when_the_result_is_built():
    r = _result(np.random.default_rng(0))
    with pytest.raises(P.UndeclaredPartError, match="not declared"):
        r.replace(parts=[P.Table("my_table", pd.DataFrame())])
    with pytest.raises(P.UndeclaredPartError, match="declared as Table"):
        r.replace(parts=[P.Facts("drivers", {})])
    with pytest.raises(TypeError, match="not plain data"):
        P.Facts("settings", {"model": object()})


def _save(store: ModelStore, key: str = None, idata=None, est_id: str = "twfe"):
    key = key or art.fit_key(META["method"], META["params"], META["data_hash"])
    return key, store.save("exp", est_id, key, [_result(np.random.default_rng(1))], META, idata)


def _load_warns(store, key, match: str):
    with pytest.warns(StoreWarning, match=match):
        assert store.load("exp", "twfe", key) is None


def test_store_roundtrip_and_posterior_as_netcdf(tmp_path):
    import arviz as az

    store = ModelStore(tmp_path)
    idata = az.from_dict(posterior={"tau": np.random.default_rng(0).normal(size=(2, 30, 3))},
                         attrs={"sampling_time": 0.5})
    key, saved = _save(store, idata=idata)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hit = store.load("exp", "twfe", key)
    _assert_same(saved.results[0], hit.results[0])
    assert hit.manifest.params == {"by": "region", "window": [-5, 8]}
    path = hit.posterior
    assert path == tmp_path / "exp" / f"twfe-{key}" / "posterior.nc"
    assert str(tmp_path) not in (path.parent / "results.json").read_text()
    back = az.from_netcdf(str(path))
    np.testing.assert_allclose(back.posterior["tau"].values, idata.posterior["tau"].values)
    assert not any(p.name.startswith(".") for p in (tmp_path / "exp").iterdir())


@pytest.mark.parametrize("damage", ["truncate_table", "garbage_array", "edit_json_number",
                                    "edit_json_and_checksum", "delete_file", "extra_file",
                                    "manifest_not_json", "manifest_schema"])
def test_damaged_entries_are_misses_with_a_warning(tmp_path, damage):
    store = ModelStore(tmp_path)
    key, saved = _save(store)
    folder = saved.path
    if damage == "truncate_table":
        data = (folder / "tables.parquet").read_bytes()
        (folder / "tables.parquet").write_bytes(data[: len(data) // 2])
    elif damage == "garbage_array":
        npy = next(folder.glob("a*.npy"))
        npy.write_bytes(b"\x93NUMPY" + b"\0" * (npy.stat().st_size - 6))
    elif damage in ("edit_json_number", "edit_json_and_checksum"):
        doc = json.loads((folder / "results.json").read_text())
        doc["results"][0]["n_obs"] = 601
        if damage == "edit_json_and_checksum":  # a careful forger fixes the bundle's checksum
            from bayescity.results.plain import canonical_checksum
            doc["checksum"] = canonical_checksum(doc)
        (folder / "results.json").write_text(json.dumps(doc))
    elif damage == "delete_file":
        next(folder.glob("f*.parquet")).unlink()
    elif damage == "extra_file":
        (folder / "results.pkl").write_bytes(b"not read")
    elif damage == "manifest_not_json":
        (folder / "manifest.json").write_text('{"format": "bayescity-fit", "ver')
    elif damage == "manifest_schema":
        doc = json.loads((folder / "manifest.json").read_text())
        doc["command"] = "rm -rf /"
        (folder / "manifest.json").write_text(json.dumps(doc))
    _load_warns(store, key, "not usable")
    _, again = _save(store, key)  # the refit replaces the damaged folder
    assert store.load("exp", "twfe", key) is not None and again.path == folder


def test_foreign_entry_under_another_key_is_refused(tmp_path):
    store = ModelStore(tmp_path)
    key, saved = _save(store)
    other = art.fit_key("twfe", {"by": "province"}, "d" * 64)
    shutil.copytree(saved.path, tmp_path / "exp" / f"twfe-{other}")
    _load_warns(store, other, "foreign")


def test_old_pickle_entries_are_never_unpickled(tmp_path):
    """A pickle that would create a file when loaded sits where an old store kept fits."""
    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return open, (str(marker), "w")

    key = art.fit_key(META["method"], META["params"], META["data_hash"])
    folder = tmp_path / "exp" / f"twfe-{key}"
    folder.mkdir(parents=True)
    (folder / "results.pkl").write_bytes(pickle.dumps(Payload()))
    (folder / "meta.json").write_text("{}")
    _load_warns(ModelStore(tmp_path), key, "old pickle-format entry")
    assert not marker.exists()


def test_no_pickle_in_the_package():
    hits = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
            if re.search(r"^\s*(import pickle|from pickle|import cloudpickle|.*pickle\.loads?\()",
                         p.read_text(encoding="utf-8"), re.M)]
    assert hits == []


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_stale_hidden_folders_of_dead_writers_are_removed(tmp_path):
    exp = tmp_path / "exp"
    exp.mkdir()
    host = art.owned_name("tmp", "x").split(".")[-3]
    dead = exp / f".tmp-twfe-abc.{host}.{_dead_pid()}.0123abcd"
    mine = exp / art.owned_name("staging", "run")
    other_host = exp / ".staging-run.elsewhere.1.0123abcd"
    user = exp / ".config"
    for p in (dead, mine, other_host, user):
        p.mkdir()
    assert art.remove_stale(tmp_path) == [dead]
    assert mine.exists() and other_host.exists() and user.exists()


def test_prune_by_experiment_age_and_validity(tmp_path):
    store = ModelStore(tmp_path)
    _, a = _save(store, est_id="twfe")
    key_b = art.fit_key("twfe", {"x": 1}, "e" * 64)
    b = store.save("other", "twfe", key_b, [_result(np.random.default_rng(2))],
                   {**META, "params": {"x": 1}, "data_hash": "e" * 64})
    with pytest.raises(ValueError, match="give"):
        store.prune()
    assert store.prune(older_than=3600, dry_run=True) == []
    (a.path / "tables.parquet").write_bytes(b"broken")
    assert store.prune(invalid=True) == [a.path] and not a.path.exists()
    assert store.prune(experiment="other", dry_run=True) == [b.path] and b.path.exists()
    assert store.prune(older_than=0) == [b.path] and store.entries() == []


def test_the_results_format_follows_the_part_declarations(monkeypatch):
    from bayescity.results import plain

    before = plain.results_format()
    assert before == plain.RESULTS_FORMAT
    monkeypatch.setattr(P, "DECLARED", {**P.DECLARED, "new": P.PartSpec(P.Table, "New", "ml")})
    assert plain.results_format() != before


def test_fits_stored_in_an_older_results_format_are_refitted(tmp_path, monkeypatch):
    from bayescity.experiments.runner import run_experiment
    from bayescity.results import plain
    from test_sweep import write_config

    store = ModelStore(tmp_path / "store")
    key, saved = _save(store)
    monkeypatch.setattr(plain, "RESULTS_FORMAT", plain.RESULTS_FORMAT + "x")
    new_key = art.fit_key(META["method"], META["params"], META["data_hash"])
    assert new_key != key
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert store.load("exp", "twfe", new_key) is None  # a plain miss
    with pytest.raises(R.plain.BundleError, match="foreign"):
        store.verify(saved.path)  # the old entry is not taken for a current one
    assert store.prune(invalid=True, dry_run=True) == [saved.path]

    cfg = write_config(tmp_path)
    args = dict(reports_root=tmp_path / "rep", models_root=tmp_path / "m")
    first = run_experiment(cfg, **args)
    assert first.cached == [] and run_experiment(cfg, **args).cached == ["wild", "region"]
    monkeypatch.setattr(plain, "RESULTS_FORMAT", plain.RESULTS_FORMAT + "x")
    assert run_experiment(cfg, **args).cached == []  # stored in the older format: refitted


def test_stored_posterior_is_compact_and_reads_back(tmp_path):
    """posterior.nc keeps float32 draws, each draw once (estimands live in the results' draws)
    and no log-likelihood: over 4x smaller than ArviZ's own netCDF of a posterior shaped like
    the main study's, and read back equal to float32 rounding, estimands included."""
    import arviz as az

    from bayescity.estimands import posterior_table
    from bayescity.reports.posterior import open_posterior
    from bayescity.results.stored_posterior import IN_RESULTS, write_posterior

    rng = np.random.default_rng(3)
    chains, draws, events = 4, 500, [-1, 0, 1, 2]
    att_event = rng.normal(size=(chains, draws, len(events)))
    idata = az.from_dict(
        posterior={"cell_dev": rng.normal(size=(chains, draws, 60)), "sigma": rng.gamma(
            2.0, size=(chains, draws)), "ATT_event": att_event},
        log_likelihood={"y": rng.normal(size=(chains, draws, 150))},
        sample_stats={"diverging": np.zeros((chains, draws), bool)},
        coords={"event_time": events}, dims={"ATT_event": ["event_time"]})
    flat = att_event.reshape(chains * draws, -1)
    result = EffectResult("hierarchical_did", "bayesian", "ATT_event",
                          posterior_table([str(e) for e in events], flat), 100, draws=flat)
    ours, theirs = tmp_path / "posterior.nc", tmp_path / "arviz.nc"
    write_posterior(idata, [result], ours)
    idata.to_netcdf(str(theirs), engine="h5netcdf")
    assert theirs.stat().st_size / ours.stat().st_size > 4
    stored = az.from_netcdf(str(ours))
    assert "log_likelihood" not in stored.groups() and "ATT_event" not in stored.posterior
    assert IN_RESULTS in stored.posterior.attrs and stored.posterior["sigma"].dtype == np.float32
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    write_results([result], bundle)
    back, problem = open_posterior(str(ours), None, read_results(bundle))
    assert problem == ""
    for name in ("cell_dev", "sigma", "ATT_event"):
        np.testing.assert_array_equal(back.posterior[name].values,
                                      idata.posterior[name].values.astype(np.float32))
    assert back.posterior["ATT_event"].dims == ("chain", "draw", "event_time")
