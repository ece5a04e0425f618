"""Tests for sim.run_folder: atomic files, the manifest, verification and failed runs.

Outputs come from a small hand-built cube through ``sim.results`` so the
byte-for-byte checks cover the real tables a run writes.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sim.metrics import MetricCube
from sim.results import Target, evaluate_targets, summarise, trajectories_table
from sim.errors import OutputError
from sim.run_folder import RunWriter, atomic_write_bytes, check_free_space, verify_run

from small_cube import make_cube  # noqa: E402  (shared test cube)


def write_run(run_dir: Path, cube: MetricCube) -> Path:
    writer = RunWriter(run_dir)
    writer.write_parquet("trajectories.parquet", trajectories_table(cube))
    writer.write_csv("summary.csv", summarise(cube))
    writer.write_csv("targets.csv", evaluate_targets(cube, [Target("rtt_waiting_list", "2026-03", 0, ">=")]))
    writer.write_text("scenario.resolved.yaml", "name: test\n")
    return writer.finish({"seed": 1, "version": "0.1.0"})


def test_outputs_are_byte_identical_across_writes(tmp_path):
    rng = np.random.default_rng(7)
    cube = make_cube()
    cube.values[...] = rng.normal(size=cube.values.shape) * 1e5
    a = write_run(tmp_path / "a", cube)
    b = write_run(tmp_path / "b", cube)
    for name in ("trajectories.parquet", "summary.csv", "targets.csv", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_parquet_has_no_timestamps_and_round_trips(tmp_path):
    cube = make_cube()
    run = write_run(tmp_path / "run", cube)
    meta = pq.read_metadata(run / "trajectories.parquet")
    assert set(meta.metadata) == {b"ARROW:schema"}
    assert meta.row_group(0).column(6).statistics is not None
    assert pq.read_table(run / "trajectories.parquet").equals(trajectories_table(cube))


def test_summary_csv_round_trips_exactly_with_unix_newlines(tmp_path):
    rng = np.random.default_rng(11)
    cube = make_cube()
    cube.values[...] = rng.normal(size=cube.values.shape) / 3.0
    cube.values[2, 0, 0, 0] = np.nan
    run = write_run(tmp_path / "run", cube)
    raw = (run / "summary.csv").read_bytes()
    assert b"\r" not in raw and raw.startswith(b"metric,level,area_code,breakdown,date,point,")
    back = pd.read_csv(run / "summary.csv")
    expected = summarise(cube)
    for col in ("point", "mean", "p5", "p10", "p50", "p90", "p95"):
        assert np.array_equal(back[col].to_numpy(), expected[col].to_numpy(), equal_nan=True), col


def test_finished_run_has_manifest_with_every_file(tmp_path):
    run = write_run(tmp_path / "run", make_cube())
    assert not (tmp_path / "run.incomplete").exists()
    assert not (run / "INCOMPLETE").exists()
    text = (run / "manifest.json").read_text()
    manifest = json.loads(text)
    assert text == json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    assert sorted(manifest["files"]) == ["scenario.resolved.yaml", "summary.csv", "targets.csv", "trajectories.parquet"]
    assert manifest["seed"] == 1
    assert verify_run(run) == []


def test_exception_mid_run_leaves_only_the_incomplete_folder(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(RuntimeError, match="engine blew up"):
        with RunWriter(run_dir) as writer:
            writer.write_csv("summary.csv", summarise(make_cube()))
            raise RuntimeError("engine blew up")
    assert not run_dir.exists()
    staging = tmp_path / "run.incomplete"
    assert sorted(p.name for p in staging.iterdir()) == ["INCOMPLETE", "summary.csv"]
    assert "engine blew up" in (staging / "INCOMPLETE").read_text()
    assert verify_run(staging) != []


def test_keyboard_interrupt_is_recorded_and_abort_can_remove(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with RunWriter(tmp_path / "a") as writer:
            writer.write_text("x.txt", "x")
            raise KeyboardInterrupt
    assert "KeyboardInterrupt" in (tmp_path / "a.incomplete" / "INCOMPLETE").read_text()
    writer = RunWriter(tmp_path / "b")
    writer.abort(remove=True)
    assert not (tmp_path / "b.incomplete").exists() and not (tmp_path / "b").exists()


def test_failed_write_leaves_no_temporary_file(tmp_path):
    writer = RunWriter(tmp_path / "run")
    with pytest.raises(pa.ArrowInvalid):
        writer.write_csv("bad.csv", pd.DataFrame({"a": [1, "x"]}))
    assert sorted(p.name for p in writer.staging_dir.iterdir()) == ["INCOMPLETE"]


def test_refuses_to_overwrite_a_run_unless_asked(tmp_path):
    run = write_run(tmp_path / "run", make_cube())
    with pytest.raises(FileExistsError, match="already exists"):
        RunWriter(run)
    writer = RunWriter(run, overwrite=True)
    writer.write_text("new.txt", "new\n")
    assert (run / "summary.csv").exists()  # the old run stays until the new one is complete
    writer.finish({})
    assert sorted(p.name for p in run.iterdir()) == ["manifest.json", "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.parametrize("failure", [errno.EACCES, errno.EROFS, errno.ENOSPC])
def test_a_folder_that_cannot_be_made_is_a_clear_error_and_leaves_nothing(tmp_path, monkeypatch, failure):
    # Permissions cannot be tested with chmod when the tests run as root, so mkdir is made to fail.
    def refuse(path, mode=0o777):
        raise OSError(failure, os.strerror(failure), str(path))

    monkeypatch.setattr(os, "mkdir", refuse)
    with pytest.raises(OutputError, match=rf"cannot create the run folder .*run: {os.strerror(failure)}; choose"):
        RunWriter(tmp_path / "outputs" / "run")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_a_disk_full_before_the_marker_removes_the_staging_folder(tmp_path, monkeypatch):
    monkeypatch.setattr("sim.run_folder.atomic_write_bytes", _disk_full)
    with pytest.raises(OutputError, match="No space left on device; choose another --out or free space"):
        RunWriter(tmp_path / "run")
    assert list(tmp_path.iterdir()) == []


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


class _FullDiskFile:
    """An open file on a full disk: every write fails, as write() does, without naming the file."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    write = flush = fileno = _disk_full


def test_a_failed_write_names_its_file_and_abort_survives_a_full_disk(tmp_path, monkeypatch):
    writer = RunWriter(tmp_path / "run")
    target = writer.staging_dir / "targets.csv"
    monkeypatch.setattr("builtins.open", lambda *a, **k: _FullDiskFile())
    with pytest.raises(OSError) as info:
        atomic_write_bytes(target, b"y")
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    monkeypatch.setattr("sim.run_folder.atomic_write_bytes", _disk_full)
    writer.abort("disk full")  # the marker cannot be rewritten; the one from the start stays
    monkeypatch.undo()
    assert (writer.staging_dir / "INCOMPLETE").read_text().startswith("INCOMPLETE")


def test_free_space_check_names_need_free_and_folder(tmp_path, monkeypatch):
    check_free_space(tmp_path / "new" / "run", 1, "the cube")  # passes: a real disk has a byte
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=3_000_000))
    with pytest.raises(OutputError) as info:
        check_free_space(tmp_path / "new" / "run", 2_500_000_000, "the cube")
    assert str(info.value) == (f"not enough disk space for the cube: it needs at least 2.50 GB in {tmp_path}, which "
                               "has 3.0 MB free; free space or choose another --out (nothing was run).")
    assert info.value.exit_code == 3


def test_refuses_a_stale_staging_folder(tmp_path):
    RunWriter(tmp_path / "run").abort("crashed")
    with pytest.raises(FileExistsError, match="did not finish"):
        RunWriter(tmp_path / "run")
    RunWriter(tmp_path / "run", overwrite=True).finish({})
    assert verify_run(tmp_path / "run") == []


def test_names_are_checked_and_external_files_are_hashed(tmp_path):
    writer = RunWriter(tmp_path / "run")
    for bad in ("../escape.txt", "/abs.txt", "manifest.json", "INCOMPLETE"):
        with pytest.raises(ValueError):
            writer.write_text(bad, "x")
    writer.path_for("plots/chart.svg").write_text("<svg/>")
    with pytest.raises(ValueError, match="files"):
        writer.finish({"files": {}})
    run = writer.finish({})
    assert "plots/chart.svg" in json.loads((run / "manifest.json").read_text())["files"]
    with pytest.raises(RuntimeError):
        writer.write_text("late.txt", "x")


def test_verify_run_detects_tampering(tmp_path):
    run = write_run(tmp_path / "run", make_cube())
    with open(run / "summary.csv", "ab") as handle:
        handle.write(b"extra,row\n")
    (run / "notes.txt").write_text("added later")
    (run / "targets.csv").unlink()
    problems = verify_run(run)
    assert any(p.startswith("hash mismatch: summary.csv") for p in problems)
    assert "file not in manifest: notes.txt" in problems
    assert "missing file: targets.csv" in problems
    (run / "manifest.json").unlink()
    assert verify_run(run) == ["manifest.json is missing: the run did not finish or the folder is not a run"]
