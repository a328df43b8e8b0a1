"""Killing a run midway (Ctrl-C, SIGTERM, SIGKILL) leaves no complete-looking run folder, does
not touch earlier runs, and the next run cleans up what a killed one left."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from bayescity.experiments.runner import run_experiment
from test_sweep import CONFIG, write_config

SRC = Path(__file__).resolve().parents[1] / "src"
#: Enough bootstrap work (about 0.3 s per estimator) to be killed in the middle of it.
SLOW = {**CONFIG, "estimators": [{"id": f"e{i}", "method": "twfe",
                                  "params": {"inference": "wild", "n_boot": 9000 + i}}
                                 for i in range(12)]}


def _cli(cfg: Path, tmp: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "bayescity", "run", str(cfg), "--out", str(tmp / "rep"),
            "--models", str(tmp / "m"), *extra]


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def _run_e0(cfg: Path, tmp: Path) -> Path:
    return run_experiment(cfg, reports_root=tmp / "rep", models_root=tmp / "m",
                          only=["e0"]).run_dir


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            + str(p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def _wait_midway(proc: subprocess.Popen, tmp: Path, timeout: float = 120) -> None:
    """Until the run is staged and has stored a new fit (it is fitting the rest)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        staged = list((tmp / "rep" / "toy").glob(".staging-*"))
        fits = [p for p in (tmp / "m" / "toy").glob("e*") if not p.name.startswith("e0-")]
        if staged and fits:
            return
        assert proc.poll() is None, "the run finished before it could be interrupted"
        time.sleep(0.02)
    raise TimeoutError("the run never got going")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                       (signal.SIGKILL, -9)], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_killed_run_leaves_no_complete_folder_and_touches_no_earlier_run(tmp_path, sig, code):
    cfg = tmp_path / "slow.yaml"
    write_config(tmp_path)
    cfg.write_text(yaml.safe_dump(SLOW))
    earlier_dir = _run_e0(cfg, tmp_path)
    before = _snapshot(earlier_dir)

    proc = subprocess.Popen(_cli(cfg, tmp_path), env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _wait_midway(proc, tmp_path)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr

    visible = [p for p in (tmp_path / "rep" / "toy").iterdir() if not p.name.startswith(".")]
    assert visible == [earlier_dir]
    assert _snapshot(earlier_dir) == before
    hidden = [p for p in (tmp_path / "rep" / "toy").iterdir() if p.name.startswith(".")]
    if sig != signal.SIGKILL:
        assert hidden == [] and "nothing was published" in stderr
        assert not [p for p in (tmp_path / "m" / "toy").iterdir() if p.name.startswith(".")]
        return
    # kill -9 cannot clean up: the hidden staging folder stays until the next run
    assert len(hidden) == 1
    _run_e0(cfg, tmp_path)
    assert not [p for p in (tmp_path / "rep" / "toy").iterdir() if p.name.startswith(".")]
    assert _snapshot(earlier_dir) == before
