"""A disk that fills part way through a run, and a run folder that cannot be made (issue 7).

A full disk is made real with ``RLIMIT_FSIZE``: the kernel refuses any write
that would take one file past the limit (EFBIG, as a full disk gives ENOSPC),
whoever runs the test, root included. Two limits stop a run at its two write
phases: one below the working cube (refused when the store reserves it, after
the first batch) and one between the cube and summary.csv (refused while the
result files are written). Each must exit 3 with one message naming the file,
keep the unfinished run marked INCOMPLETE, leave the earlier run it was asked
to replace untouched, and finish with ``sim run --resume`` to the same bytes
as a run that never failed.
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from sim.errors import OutputError

pytestmark = pytest.mark.integration

RUN = ("--reps", "4", "--end", "2025-12", "--jobs", "1", "--quiet")


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _run_with_file_limit(argv: list[str], env: dict[str, str], limit_bytes: int) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))
    return subprocess.run(argv, env=env, preexec_fn=limit, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def reference(sim_cli, baseline_yaml, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "run"
    result = sim_cli("run", baseline_yaml, *RUN, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def _cube_bytes(run: Path) -> int:
    """The working cube's size, from the finished run's recorded dimensions."""
    dims = json.loads((run / "manifest.json").read_text())["dimensions"]
    return dims["series"] * dims["metrics"] * dims["replications"] * (dims["months"] + 1) * 8


def test_a_disk_too_small_for_the_cube_keeps_the_earlier_run_and_resume_finishes(
        sim_cli, sim_argv, sim_cli_env, baseline_yaml, reference, assert_same_results, tmp_path):
    earlier = tmp_path / "run"
    shutil.copytree(reference, earlier)
    (earlier / "summary.csv").write_text("an earlier run's summary\n")  # so a replacement would show
    before = _hashes(earlier)
    result = _run_with_file_limit(sim_argv("run", baseline_yaml, *RUN, "--out", earlier, "--overwrite"),
                                  sim_cli_env, _cube_bytes(reference) // 2)
    assert result.returncode == 3, result.stderr
    message = result.stderr.strip()
    assert message.count("\n") == 0 and "Traceback" not in message
    assert "cube.f64" in message and "File too large" in message and "working cube needs" in message
    assert f"sim run --resume {earlier}" in message
    assert _hashes(earlier) == before
    staging = tmp_path / "run.incomplete"
    assert (staging / "INCOMPLETE").read_text().startswith("INCOMPLETE")

    resumed = sim_cli("run", "--resume", earlier, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert not staging.exists()
    assert sim_cli("verify", earlier).returncode == 0
    assert_same_results(earlier, reference)


def test_a_disk_that_fills_while_writing_results_keeps_the_batches_and_resume_finishes(
        sim_cli, sim_argv, sim_cli_env, baseline_yaml, reference, assert_same_results, tmp_path):
    cube, summary = _cube_bytes(reference), (reference / "summary.csv").stat().st_size
    assert cube * 1.5 < summary, "the limit must fall between the cube and summary.csv"
    out = tmp_path / "run"
    result = _run_with_file_limit(sim_argv("run", baseline_yaml, *RUN, "--out", out), sim_cli_env,
                                  (cube + summary) // 2)
    assert result.returncode == 3, result.stderr
    assert "summary.csv" in result.stderr and f"sim run --resume {out}" in result.stderr
    staging = tmp_path / "run.incomplete"
    assert not out.exists() and (staging / "INCOMPLETE").is_file()
    assert not list(staging.glob(".*.tmp")), "a failed write leaves no temporary file"

    resumed = sim_cli("run", "--resume", out, "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["resumed_replications"] == manifest["dimensions"]["replications"]
    assert_same_results(out, reference)


def test_a_file_in_the_way_of_the_run_folder_is_refused_before_any_work(sim_cli, baseline_yaml, tmp_path):
    (tmp_path / "results").write_text("not a folder")
    result = sim_cli("run", baseline_yaml, *RUN, "--out", tmp_path / "results" / "run")
    assert result.returncode == 3
    assert result.stderr.strip() == (f"error: cannot create the run folder {tmp_path / 'results' / 'run'}: "
                                     f"{tmp_path / 'results'} is a file, not a folder; choose another --out.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_a_run_the_disk_cannot_hold_is_refused_before_it_starts(baseline_yaml, tmp_path, monkeypatch):
    from sim.pipeline import execute_run

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1000))
    with pytest.raises(OutputError, match=r"not enough disk space for the run's working cube: it needs at least "
                                          r"[0-9.]+ MB in .*, which has 0\.0 MB free"):
        execute_run(baseline_yaml, {"replications": 4, "end": "2025-12"}, out_dir=tmp_path / "run", jobs=1,
                    quiet=True)
    assert list(tmp_path.iterdir()) == []
