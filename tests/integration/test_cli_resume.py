"""`sim run --resume`: a run killed part way is finished from its stored batches, byte for byte.

The run is killed with SIGKILL on its whole process group (no clean-up code
runs, as after a crash or an OOM kill) once at least two batches are recorded
as done; the resumed run must reuse them and give the same result files as a
run that was never interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

RUN = ("--reps", "8", "--end", "2026-06", "--batch-size", "2", "--quiet")
WAIT_SECONDS = 240


@pytest.fixture(scope="module")
def uninterrupted(sim_cli, baseline_yaml, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("whole") / "run"
    result = sim_cli("run", baseline_yaml, *RUN, "--jobs", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def _kill_after_batches(argv: list[str], env: dict[str, str], done: Path, batches: int) -> None:
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while not (done.is_file() and len(done.read_text().splitlines()) >= batches):
            assert proc.poll() is None, f"the run ended before it was killed: {proc.communicate()}"
            assert time.monotonic() < deadline, "no batch was stored in time"
            time.sleep(0.05)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()


def test_a_killed_run_resumes_to_identical_results(sim_cli, sim_argv, sim_cli_env, baseline_yaml, uninterrupted,
                                                   assert_same_results, tmp_path):
    out = tmp_path / "run"
    staging = tmp_path / "run.incomplete"
    _kill_after_batches(sim_argv("run", baseline_yaml, *RUN, "--jobs", "2", "--out", out), sim_cli_env,
                        staging / "scratch" / "done", batches=2)
    assert not out.exists() and (staging / "INCOMPLETE").is_file()
    assert sim_cli("verify", staging).returncode != 0

    result = sim_cli("run", "--resume", out, "--jobs", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_replications"] >= 4  # two batches of two, at least
    assert not staging.exists() and not (out / "scratch").exists()
    assert sim_cli("verify", out).returncode == 0
    assert_same_results(out, uninterrupted)


def test_a_corrupted_batch_is_recomputed_not_trusted(sim_cli, sim_argv, sim_cli_env, baseline_yaml, uninterrupted,
                                                     assert_same_results, tmp_path):
    out = tmp_path / "run"
    staging = tmp_path / "run.incomplete"
    _kill_after_batches(sim_argv("run", baseline_yaml, *RUN, "--jobs", "1", "--out", out), sim_cli_env,
                        staging / "scratch" / "done", batches=1)
    with open(staging / "scratch" / "cube.f64", "r+b") as handle:  # as if the machine lost the page
        handle.write(b"\xff" * 64)
    result = sim_cli("run", "--resume", staging, "--quiet")  # the staging folder's own name works too
    assert result.returncode == 0, result.stderr
    assert_same_results(out, uninterrupted)


def test_resume_refuses_what_it_cannot_finish(sim_cli, baseline_yaml, uninterrupted, tmp_path):
    nothing = sim_cli("run", "--resume", tmp_path / "nowhere")
    assert nothing.returncode == 2 and "nothing to resume" in nothing.stderr, nothing.stderr
    finished = sim_cli("run", "--resume", uninterrupted)
    assert finished.returncode == 2 and "finished run" in finished.stderr, finished.stderr
    mixed = sim_cli("run", baseline_yaml, "--resume", uninterrupted, "--reps", "3")
    assert mixed.returncode == 2 and "drop SCENARIO_FILE, --reps" in mixed.stderr, mixed.stderr
    damaged_dir = tmp_path / "damaged.incomplete" / "scratch"
    damaged_dir.mkdir(parents=True)
    (damaged_dir / "run.json").write_text("{not json")
    damaged = sim_cli("run", "--resume", tmp_path / "damaged")
    assert damaged.returncode == 2 and "run.json: is damaged" in damaged.stderr, damaged.stderr
    assert "Traceback" not in nothing.stderr + finished.stderr + mixed.stderr + damaged.stderr


def test_resume_refuses_a_scenario_that_changed(sim_cli, sim_argv, sim_cli_env, baseline_yaml, tmp_path):
    scenario = tmp_path / "scenario.yaml"
    shutil.copy(baseline_yaml, scenario)
    out = tmp_path / "run"
    _kill_after_batches(sim_argv("run", scenario, *RUN, "--jobs", "1", "--out", out), sim_cli_env,
                        tmp_path / "run.incomplete" / "scratch" / "done", batches=1)
    scenario.write_text(scenario.read_text().replace("seed: ", "seed: 1"), encoding="utf-8")
    result = sim_cli("run", "--resume", out)
    assert result.returncode == 2, result.stderr
    assert "has changed since the run started" in result.stderr
    assert (tmp_path / "run.incomplete" / "INCOMPLETE").is_file()  # left as it was, still resumable


def test_resume_refuses_a_users_data_file_that_changed(sim_cli, sim_argv, sim_cli_env, baseline_yaml, tmp_path):
    cancer = tmp_path / "cancer.csv"
    cancer.write_bytes((Path(baseline_yaml).parents[1] / "sim" / "data" / "cancer_national_monthly.csv").read_bytes())
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: ours\nworld:\n  cancer_national_csv: cancer.csv\n")
    out = tmp_path / "run"
    _kill_after_batches(sim_argv("run", scenario, *RUN, "--jobs", "1", "--out", out), sim_cli_env,
                        tmp_path / "run.incomplete" / "scratch" / "done", batches=1)
    cancer.write_text(cancer.read_text() + "# a revision arrived\n", encoding="utf-8")  # same rows, other bytes
    result = sim_cli("run", "--resume", out)
    assert result.returncode == 2, result.stderr
    assert "world.cancer_national_csv names has changed since the run" in result.stderr
    assert (tmp_path / "run.incomplete" / "INCOMPLETE").is_file()
