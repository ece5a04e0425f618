"""`sim run`, `sim verify` end to end: the results folder, its contracts and reproducibility.

Every run is small (4 replications plus replication 0, April 2025 to March
2026, so the March 2026 commitments appear in targets.csv) and runs the real
``python -m sim.cli`` in a subprocess. DESIGN.md section 4 (same scenario and
seed give byte-identical trajectories.parquet, summary.csv and targets.csv
whatever the workers or batch size) and section 6 (the folder layout and
columns) are the specification.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

SMALL = ("--reps", "4", "--end", "2026-03", "--quiet")
DETERMINISTIC_FILES = ("trajectories.parquet", "summary.csv", "targets.csv", "parameters.csv", "drivers.csv")
SUMMARY_COLUMNS = ["metric", "level", "area_code", "breakdown", "date", "point", "mean", "p5", "p10", "p50", "p90",
                   "p95"]
TRAJECTORY_COLUMNS = ["replication", "date", "level", "area_code", "breakdown", "metric", "value"]
MARCH_2025_LIST = 7_418_598  # NHS England RTT overview timeseries, incomplete pathways at 31 March 2025


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A module folder for run outputs."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def first_run(sim_cli, baseline_yaml, runs):
    """The reference run: serial, automatic batch size, the file's seed; not quiet."""
    out = runs / "first"
    result = sim_cli("run", baseline_yaml, "--reps", "4", "--end", "2026-03", "--jobs", "1", "--out", out)
    return out, result


@pytest.fixture(scope="module")
def run_dir(first_run) -> Path:
    out, result = first_run
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def summary(run_dir) -> pd.DataFrame:
    return pd.read_csv(run_dir / "summary.csv", dtype={"area_code": str, "breakdown": str, "date": str})


@pytest.fixture(scope="module")
def trajectories(run_dir) -> pd.DataFrame:
    return pd.read_parquet(run_dir / "trajectories.parquet")


# --- The results folder -----------------------------------------------------------------

def test_run_exits_0_and_says_where_the_results_are(first_run):
    out, result = first_run
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"results: {out}" in result.stdout


def test_folder_holds_every_result_file_and_no_staging_left(run_dir):
    names = {p.name for p in run_dir.iterdir()}
    assert {"trajectories.parquet", "summary.csv", "targets.csv", "scenario.resolved.yaml", "manifest.json",
            "plots"} <= names
    assert not run_dir.with_name(run_dir.name + ".incomplete").exists()
    assert "INCOMPLETE" not in names


def test_plots_come_as_png_and_svg_pairs(run_dir):
    png = {p.stem for p in (run_dir / "plots").glob("*.png")}
    svg = {p.stem for p in (run_dir / "plots").glob("*.svg")}
    assert png and png == svg
    assert "rtt_waiting_list_ENG" in png
    for stem in png:
        assert (run_dir / "plots" / f"{stem}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "<svg" in (run_dir / "plots" / f"{stem}.svg").read_text(encoding="utf-8")[:2000]


def test_manifest_lists_every_file_and_the_run_settings(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    written = set(_hashes(run_dir)) - {"manifest.json"}
    assert set(manifest["files"]) == written
    assert manifest["replications"] == 4 and manifest["seed"] == 20250401 and manifest["jobs"] == 1


def test_resolved_scenario_records_the_overrides(run_dir):
    text = (run_dir / "scenario.resolved.yaml").read_text(encoding="utf-8")
    assert "replications: 4\n" in text and "end: 2026-03\n" in text and "extends" not in text


def test_summary_columns_are_exactly_the_contract(summary):
    assert list(summary.columns) == SUMMARY_COLUMNS


def test_trajectory_columns_are_exactly_the_contract(trajectories):
    assert list(trajectories.columns) == TRAJECTORY_COLUMNS
    assert sorted(trajectories["replication"].unique()) == [0, 1, 2, 3, 4]
    assert set(trajectories["level"].astype(str)) == {"national", "region", "icb"}  # baseline keep_levels


def test_every_series_has_every_month(summary, trajectories):
    months = pd.period_range("2025-03", "2026-03", freq="M").to_timestamp(how="end").strftime("%Y-%m-%d")
    assert sorted(summary["date"].unique()) == list(months)
    per_series = summary.groupby(["metric", "level", "area_code", "breakdown"])["date"].nunique()
    assert (per_series == len(months)).all()
    per_rep = trajectories.groupby(["replication", "metric", "level", "area_code", "breakdown"],
                                   observed=True)["date"].nunique()
    assert (per_rep == len(months)).all()


def test_start_is_the_published_march_2025_list(summary, trajectories):
    assert summary["date"].min() == "2025-03-31"
    assert str(trajectories["date"].min())[:10] == "2025-03-31"
    start = summary[(summary["metric"] == "rtt_waiting_list") & (summary["level"] == "national")
                    & (summary["breakdown"] == "all") & (summary["date"] == "2025-03-31")]
    assert len(start) == 1 and start["area_code"].item() == "ENG"
    assert start["point"].item() == pytest.approx(MARCH_2025_LIST, abs=1)
    national = trajectories[(trajectories["metric"] == "rtt_waiting_list")
                            & (trajectories["level"] == "national") & (trajectories["breakdown"] == "all")
                            & (trajectories["date"].astype(str).str[:10] == "2025-03-31")]
    assert len(national) == 5
    assert national["value"].to_numpy() == pytest.approx([MARCH_2025_LIST] * 5, abs=1)


def test_breakdowns_go_to_summary_only(summary, trajectories):
    assert set(trajectories["breakdown"].astype(str)) == {"all"}
    national = summary[(summary["level"] == "national") & (summary["metric"] == "rtt_waiting_list")]
    assert national["breakdown"].nunique() > 1


@pytest.mark.parametrize("date", ["2025-03-31", "2026-03-31"])
@pytest.mark.parametrize("level, breakdown", [("national", "specialty"), ("region", "all"), ("icb", "all"),
                                              ("trust", "all")])
def test_waiting_list_parts_add_up_to_the_national_list(summary, date, level, breakdown):
    lists = summary[(summary["metric"] == "rtt_waiting_list") & (summary["date"] == date)]
    total = lists[(lists["level"] == "national") & (lists["breakdown"] == "all")]["point"].item()
    parts = lists[lists["level"] == level]
    parts = parts[parts["breakdown"] != "all"] if breakdown == "specialty" else parts[parts["breakdown"] == "all"]
    assert len(parts) > 1
    assert parts["point"].sum() == pytest.approx(total, abs=1)


def test_targets_have_the_march_2026_commitments(run_dir):
    targets = pd.read_csv(run_dir / "targets.csv", dtype={"deadline": str})
    assert list(targets.columns) == ["metric", "deadline", "threshold", "direction", "level", "area_code", "point",
                                     "p10", "p50", "p90", "probability_met"]
    march_2026 = targets[targets["deadline"].str.startswith("2026-03")]
    assert {"rtt_within_18w_pct", "rtt_over_52w_pct"} <= set(march_2026["metric"])
    assert targets["probability_met"].between(0, 1).all()


# --- sim verify --------------------------------------------------------------------------

def test_verify_passes_on_a_fresh_run(sim_cli, run_dir):
    result = sim_cli("verify", run_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{run_dir}: OK"


@pytest.mark.parametrize("tamper, expected", [
    ("edit", "hash mismatch: summary.csv"),
    ("delete", "missing file: targets.csv"),
    ("add", "file not in manifest: notes.txt"),
])
def test_verify_fails_on_a_tampered_copy(sim_cli, run_dir, tmp_path, tamper, expected):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    if tamper == "edit":
        data = bytearray((copy / "summary.csv").read_bytes())
        data[-2] = ord("7") if data[-2] != ord("7") else ord("8")  # one digit of the last number
        (copy / "summary.csv").write_bytes(bytes(data))
    elif tamper == "delete":
        (copy / "targets.csv").unlink()
    else:
        (copy / "notes.txt").write_text("hello\n", encoding="utf-8")
    result = sim_cli("verify", copy)
    assert result.returncode != 0
    assert expected in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# --- Existing folders ----------------------------------------------------------------------

def test_rerun_into_the_same_folder_is_refused_and_keeps_the_first(sim_cli, baseline_yaml, run_dir):
    before = _hashes(run_dir)
    result = sim_cli("run", baseline_yaml, *SMALL, "--jobs", "1", "--out", run_dir)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "already exists" in result.stderr and "--overwrite" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert _hashes(run_dir) == before
    assert not run_dir.with_name(run_dir.name + ".incomplete").exists()


def test_overwrite_replaces_the_folder_with_identical_results(sim_cli, baseline_yaml, run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    before = _hashes(copy)
    (copy / "stale.txt").write_text("from an earlier run\n", encoding="utf-8")
    result = sim_cli("run", baseline_yaml, *SMALL, "--jobs", "1", "--out", copy, "--overwrite")
    assert result.returncode == 0, result.stderr
    after = _hashes(copy)
    assert set(after) == set(before)  # the stale file went with the old folder
    for name in DETERMINISTIC_FILES:  # a second run of the same scenario and seed
        assert after[name] == before[name], name
    assert sim_cli("verify", copy).returncode == 0
    assert not copy.with_name("run.incomplete").exists()


# --- Reproducibility ----------------------------------------------------------------------

def test_workers_and_batch_size_do_not_change_the_results(sim_cli, baseline_yaml, run_dir, runs):
    out = runs / "two_workers"
    result = sim_cli("run", baseline_yaml, *SMALL, "--jobs", "2", "--batch-size", "3", "--out", out)
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "manifest.json").read_text())["executor"] == "process-pool"
    for name in DETERMINISTIC_FILES:
        assert (out / name).read_bytes() == (run_dir / name).read_bytes(), name


def test_four_workers_single_batches_and_another_hash_seed_do_not_change_the_results(sim_argv, sim_cli_env,
                                                                                      baseline_yaml, run_dir, runs):
    """Batches finish in a different order with 4 workers on 2 cores; str hashing is salted differently."""
    out = runs / "four_workers"
    env = {**sim_cli_env, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(sim_argv("run", baseline_yaml, *SMALL, "--jobs", "4", "--batch-size", "1", "--out", out),
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    for name in DETERMINISTIC_FILES:
        assert (out / name).read_bytes() == (run_dir / name).read_bytes(), name


def test_replications_computed_in_a_shuffled_order_give_the_same_results(baseline_yaml, run_dir, runs,
                                                                          assert_same_results, monkeypatch):
    """Batches of uneven sizes, run last first: each replication's stream and place depend only on its index."""
    import numpy as np

    from sim import pipeline

    def shuffled(plan, jobs, batch_size=None, skip=None):
        order = np.random.default_rng(11).permutation(len(plan.replications))
        return [order[:1], order[1:3], order[3:]]

    monkeypatch.setattr(pipeline, "plan_batches", shuffled)
    out = pipeline.execute_run(baseline_yaml, {"replications": 4, "end": "2026-03"}, out_dir=runs / "shuffled",
                               jobs=1, quiet=True)
    assert_same_results(out, run_dir)


def test_a_zero_length_horizon_reports_the_start_census_of_a_full_run(sim_cli, baseline_yaml, run_dir, summary, runs):
    """end = the month before start simulates nothing: every figure is the start census a longer run reports."""
    out = runs / "zero_length"
    result = sim_cli("run", baseline_yaml, "--reps", "4", "--end", "2025-03", "--jobs", "1", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    assert sim_cli("verify", out).returncode == 0
    dims = json.loads((out / "manifest.json").read_text())["dimensions"]
    assert (dims["months"], dims["weeks"], dims["replications"]) == (0, 0, 5)
    zero = pd.read_csv(out / "summary.csv", dtype={"area_code": str, "breakdown": str, "date": str})
    assert set(zero["date"]) == {"2025-03-31"}
    keys = ["metric", "level", "area_code", "breakdown", "date"]
    start = summary[summary["date"] == "2025-03-31"]
    both = zero.merge(start, on=keys, how="left", suffixes=("", "_full"), validate="one_to_one")
    for column in ("point", "mean", "p5", "p50", "p95"):
        pd.testing.assert_series_equal(both[column], both[f"{column}_full"], check_names=False)
    # Series the zero-length run leaves out are those with no value at the start census (flows, months' activity).
    left_out = start.merge(zero[keys], on=keys, how="left", indicator=True).query("_merge == 'left_only'")
    assert left_out["point"].isna().all() and left_out["mean"].isna().all()
    assert "rtt_clock_starts" in set(left_out["metric"]) and "rtt_waiting_list" in set(zero["metric"])
    assert set(pd.read_parquet(out / "trajectories.parquet")["date"].astype(str)) == {"2025-03-31"}
    assert len(pd.read_csv(out / "targets.csv")) == 0


def test_an_end_two_months_before_start_is_refused_naming_the_shortest_run(sim_cli, baseline_yaml, tmp_path):
    result = sim_cli("run", baseline_yaml, "--end", "2025-02", "--out", tmp_path / "run")
    assert result.returncode == 2
    assert "end 2025-02 is before start 2025-04; the shortest run ends the month before its start (2025-03)" \
        in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def other_seed_dir(sim_cli, baseline_yaml, runs) -> Path:
    out = runs / "seed_7"
    result = sim_cli("run", baseline_yaml, *SMALL, "--jobs", "1", "--seed", "7", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_a_different_seed_gives_different_results(run_dir, other_seed_dir):
    for name in DETERMINISTIC_FILES:
        if name == "drivers.csv":  # ranks need 10 replications: both runs have the header only
            assert (run_dir / name).read_text().count("\n") == 1
            continue
        assert (other_seed_dir / name).read_bytes() != (run_dir / name).read_bytes(), name
    assert json.loads((other_seed_dir / "manifest.json").read_text())["seed"] == 7


def test_the_point_estimate_does_not_depend_on_the_seed(trajectories, summary, other_seed_dir):
    other = pd.read_parquet(other_seed_dir / "trajectories.parquet")
    ours0 = trajectories[trajectories["replication"] == 0].reset_index(drop=True)
    theirs0 = other[other["replication"] == 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(ours0, theirs0)
    other_summary = pd.read_csv(other_seed_dir / "summary.csv", dtype={"area_code": str, "breakdown": str})
    pd.testing.assert_series_equal(summary["point"], other_summary["point"])
    assert not summary["mean"].equals(other_summary["mean"])


# --- A user trusts file -------------------------------------------------------------------

def test_trusts_file_sets_the_trust_start_lists_exactly(sim_cli, baseline_yaml, example_trusts_csv, tmp_path):
    scenario = tmp_path / "trusts.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: example_trusts\nworld:\n  trusts_csv: {example_trusts_csv}\n",
                        encoding="utf-8")
    out = tmp_path / "run"
    result = sim_cli("run", scenario, "--reps", "2", "--end", "2025-06", "--jobs", "1", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    expected = pd.read_csv(example_trusts_csv, comment="#").groupby("org_code")["waiting_list"].sum()
    assert len(expected) == 3
    summary = pd.read_csv(out / "summary.csv", dtype={"area_code": str, "breakdown": str, "date": str})
    start = summary[(summary["metric"] == "rtt_waiting_list") & (summary["date"] == "2025-03-31")
                    & (summary["breakdown"] == "all")]
    trusts = start[start["level"] == "trust"].set_index("area_code")["point"]
    assert sorted(trusts.index) == sorted(expected.index)
    assert trusts.round().astype(int).to_dict() == expected.astype(int).to_dict()
    national = start[start["level"] == "national"]["point"].item()
    assert round(national) == int(expected.sum())
