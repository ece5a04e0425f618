"""`sim run --executor dask`: a LocalCluster, and a scheduler with two workers started here, give the same bytes.

The scheduler and workers are real processes on localhost, as on a cluster
(docs/SCALING.md); the test starts them in their own process groups and ends
them whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

RUN = ("--reps", "4", "--end", "2025-12", "--batch-size", "2", "--quiet")
START_SECONDS = 60


@pytest.fixture(scope="module")
def local_run(sim_cli, baseline_yaml, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "run"
    result = sim_cli("run", baseline_yaml, *RUN, "--jobs", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_a_local_dask_cluster_gives_the_same_bytes(sim_cli, baseline_yaml, local_run, assert_same_results,
                                                  tmp_path):
    out = tmp_path / "run"
    result = sim_cli("run", baseline_yaml, *RUN, "--executor", "dask", "--jobs", "2", "--out", out)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["executor"], manifest["dask_scheduler"]) == ("dask", "local cluster")
    assert_same_results(out, local_run)


def _dask(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _address(scheduler_file: Path) -> str:
    deadline = time.monotonic() + START_SECONDS
    while not scheduler_file.is_file() or not scheduler_file.read_text().strip():
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.1)
    time.sleep(0.2)  # the file is written once; let the write finish
    return json.loads(scheduler_file.read_text())["address"]


def test_a_scheduler_and_two_workers_give_the_same_bytes(sim_cli, sim_cli_env, baseline_yaml, local_run,
                                                         assert_same_results, tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    processes = [_dask("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                       str(scheduler_file), env=sim_cli_env)]
    try:
        address = _address(scheduler_file)
        processes.append(_dask("worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard",
                               "--local-directory", str(tmp_path / "workers"), env=sim_cli_env))
        out = tmp_path / "run"
        result = sim_cli("run", baseline_yaml, *RUN, "--executor", "dask", "--address", address, "--out", out)
        assert result.returncode == 0, result.stderr
        assert json.loads((out / "manifest.json").read_text())["dask_scheduler"] == address
        assert_same_results(out, local_run)
    finally:
        for proc in processes:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(proc.pid, signal.SIGKILL)


def test_an_unreachable_scheduler_is_a_clear_error(sim_cli, baseline_yaml, tmp_path):
    started = time.monotonic()
    result = sim_cli("run", baseline_yaml, *RUN, "--executor", "dask", "--address", "tcp://127.0.0.1:9",
                     "--out", tmp_path / "run")
    assert result.returncode == 2, result.stderr
    assert "cannot reach a Dask scheduler at tcp://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60
    assert not list(tmp_path.iterdir())  # refused before the run folder was claimed


def test_address_without_dask_is_a_usage_error(sim_cli, baseline_yaml):
    result = sim_cli("run", baseline_yaml, "--address", "tcp://127.0.0.1:9")
    assert result.returncode == 2 and "--address needs --executor dask" in result.stderr
