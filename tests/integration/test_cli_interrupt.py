"""Ctrl-C during `sim run`: exit 130 and no folder that looks finished (DESIGN.md section 5).

The run starts in its own process group and gets SIGINT on the whole group,
as a terminal's Ctrl-C delivers it (the process-pool workers get it too). The
signal is sent once the run has claimed its staging folder
``<out>.incomplete``, i.e. after validation, while it simulates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CLAIM_TIMEOUT_SECONDS = 120


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group of the run started here, workers included
    except ProcessLookupError:
        pass
    proc.communicate()


def _interrupt_when_simulating(proc: subprocess.Popen[str], out: Path) -> float:
    """Waits for the staging folder, sends SIGINT to the group; returns when it was sent."""
    staging = out.with_name(out.name + ".incomplete")
    deadline = time.monotonic() + CLAIM_TIMEOUT_SECONDS
    while not staging.exists():
        assert proc.poll() is None, f"the run ended before it was interrupted: {proc.communicate()}"
        assert time.monotonic() < deadline, "the run never claimed its staging folder"
        time.sleep(0.05)
    time.sleep(1.5)  # into the simulation proper
    assert proc.poll() is None, "the run finished before it was interrupted; make it longer"
    os.killpg(proc.pid, signal.SIGINT)
    return time.monotonic()


def _assert_clean_interruption(proc: subprocess.Popen[str], stdout: str, stderr: str, out: Path,
                               sim_cli) -> None:
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert "Traceback" not in stdout + stderr, stderr
    assert "interrupted" in stderr
    assert not out.exists()
    assert {p.name for p in out.parent.iterdir()} <= {"run.incomplete"}
    staging = out.with_name("run.incomplete")
    if staging.exists():
        assert (staging / "INCOMPLETE").is_file()
        assert not (staging / "manifest.json").exists()
        assert sim_cli("verify", staging).returncode != 0


def test_ctrl_c_in_a_serial_run_exits_130_without_a_finished_folder(sim_argv, sim_cli_env, sim_cli, baseline_yaml, tmp_path):
    out = tmp_path / "run"
    proc = _start(sim_argv("run", baseline_yaml, "--reps", "200", "--batch-size", "5", "--jobs", "1",
                              "--quiet", "--out", out), sim_cli_env)
    try:
        _interrupt_when_simulating(proc, out)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    _assert_clean_interruption(proc, stdout, stderr, out, sim_cli)


def test_ctrl_c_in_a_process_pool_run_stops_within_seconds(sim_argv, sim_cli_env, sim_cli, baseline_yaml, tmp_path):
    out = tmp_path / "run"
    # Batches of 10 replications over ten years take ~20 s each, so waiting for them shows.
    proc = _start(sim_argv("run", baseline_yaml, "--reps", "60", "--batch-size", "10", "--jobs", "2",
                              "--quiet", "--out", out), sim_cli_env)
    try:
        sent = _interrupt_when_simulating(proc, out)
        stdout, stderr = proc.communicate(timeout=15)
        waited = time.monotonic() - sent
    except subprocess.TimeoutExpired:
        pytest.fail("still running 15 s after Ctrl-C")
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    assert waited < 15
    _assert_clean_interruption(proc, stdout, stderr, out, sim_cli)


def test_a_ctrl_c_caught_in_a_finalizer_is_delivered_again_not_printed(monkeypatch):
    """The garbage collector can run numba's LLVM finalizers when Ctrl-C arrives: Python would print the
    KeyboardInterrupt as 'Exception ignored ... Traceback' and drop it. The CLI raises it again instead."""
    import types

    from sim import cli

    delivered, printed = [], []
    monkeypatch.setattr(cli._thread, "interrupt_main", lambda: delivered.append(True))
    monkeypatch.setattr(cli.sys, "__unraisablehook__", printed.append)
    with cli._Guard():
        assert cli.sys.unraisablehook is cli._interrupt_again
        cli.sys.unraisablehook(types.SimpleNamespace(exc_type=KeyboardInterrupt))
        other = types.SimpleNamespace(exc_type=ValueError)
        cli.sys.unraisablehook(other)
    assert delivered == [True] and printed == [other]
    assert cli.sys.unraisablehook is not cli._interrupt_again  # restored on leaving
