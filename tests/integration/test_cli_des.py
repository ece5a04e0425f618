"""`sim des` end to end: the run folder, `sim verify`, serial == pool, and a bad file refused cleanly."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DES_YAML = REPO_ROOT / "configs" / "des_trust.yaml"
DETERMINISTIC_FILES = ("trajectories.parquet", "summary.csv", "targets.csv", "parameters.csv", "drivers.csv")
RR8_START_LIST = 3799 + 3987 + 8335  # DM01 March 2025, RR8: MRI + CT + non-obstetric ultrasound


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("des_runs")


@pytest.fixture(scope="module")
def serial_run(sim_cli, runs):
    out = runs / "serial"
    return out, sim_cli("des", DES_YAML, "--reps", "2", "--jobs", "1", "--out", out)


@pytest.fixture(scope="module")
def pool_run(sim_cli, runs):
    out = runs / "pool"
    return out, sim_cli("des", DES_YAML, "--reps", "2", "--jobs", "2", "--out", out, "--quiet")


def test_des_exits_0_and_writes_the_run_folder_layout(serial_run):
    out, result = serial_run
    assert result.returncode == 0, result.stderr
    assert f"results: {out}" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    names = {p.name for p in out.iterdir()}
    assert {"trajectories.parquet", "summary.csv", "targets.csv", "scenario.resolved.yaml", "manifest.json"} <= names
    assert not out.with_name(out.name + ".incomplete").exists()


def test_sim_verify_passes_on_the_des_folder(sim_cli, serial_run):
    out, _ = serial_run
    result = sim_cli("verify", out)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_results_hold_the_diagnostic_metrics_by_trust_and_test(serial_run):
    out, _ = serial_run
    summary = pd.read_csv(out / "summary.csv", dtype={"area_code": str, "breakdown": str, "date": str})
    assert set(summary["metric"]) == {"diag_waiting_list", "diag_over_6w_pct", "diag_tests"}
    series = set(zip(summary["level"], summary["area_code"], summary["breakdown"]))
    assert series == {("national", "ENG", "all"), ("trust", "RR8", "all"), ("national", "ENG", "mri"),
                      ("national", "ENG", "ct"), ("national", "ENG", "ultrasound")}
    dates = sorted(summary["date"].unique())
    assert dates[0] == "2025-03-31" and dates[-1] == "2026-03-31" and len(dates) == 13
    start = summary[(summary["metric"] == "diag_waiting_list") & (summary["date"] == "2025-03-31")
                    & (summary["breakdown"] == "all")]
    assert start["point"].tolist() == [RR8_START_LIST, RR8_START_LIST]
    pct = summary[summary["metric"] == "diag_over_6w_pct"]["point"]
    assert pct.between(0, 100).all()
    traj = pd.read_parquet(out / "trajectories.parquet")
    assert sorted(traj["replication"].unique()) == [0, 1, 2]
    assert set(traj["level"].astype(str)) == {"national", "trust"}
    targets = pd.read_csv(out / "targets.csv")
    assert set(targets["metric"]) <= {"diag_over_6w_pct"}


def test_same_seed_gives_byte_identical_results_with_one_or_two_workers(serial_run, pool_run):
    (a, ra), (b, rb) = serial_run, pool_run
    assert ra.returncode == 0 and rb.returncode == 0, rb.stderr
    for name in DETERMINISTIC_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_unknown_test_key_exits_2_with_did_you_mean_and_writes_nothing(sim_cli, runs, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(DES_YAML.read_text().replace("      mri:", "      mir:", 1))
    out = runs / "bad"
    result = sim_cli("des", bad, "--reps", "1", "--out", out)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "trusts[0].tests.mir" in result.stderr and "Did you mean 'mri'?" in result.stderr
    assert f"{bad}:" in result.stderr  # file and line
    assert not out.exists() and not out.with_name(out.name + ".incomplete").exists()


def test_share_outside_0_1_exits_2(sim_cli, runs, tmp_path):
    bad = tmp_path / "share.yaml"
    bad.write_text(DES_YAML.read_text().replace("removal_share: 0.05", "removal_share: 1.2", 1))
    result = sim_cli("des", bad, "--out", runs / "share")
    assert result.returncode == 2
    assert "rttt.removal_share" in result.stderr and "0 to 1" in result.stderr
