"""`sim sweep` end to end: every combination run with the same seed into one verified folder; bad --vary exits 2."""

from __future__ import annotations

import json

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

SMALL = ("--reps", "2", "--end", "2026-03", "--quiet")
KEY = "capacity.admitted_growth_pct_per_year"


@pytest.fixture(scope="module")
def sweep_dir(sim_cli, baseline_yaml, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "sweep"
    result = sim_cli("sweep", baseline_yaml, "--vary", f"{KEY}=1,9", *SMALL, "--jobs", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_every_run_is_a_verified_run_folder_with_the_value_set(sim_cli, sweep_dir):
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    assert manifest["varied"] == {KEY: [1, 9]} and [r["run"] for r in manifest["runs"]] == ["run001", "run002"]
    for run, value in (("run001", 1), ("run002", 9)):
        resolved = (sweep_dir / "runs" / run / "scenario.resolved.yaml").read_text()
        assert f"admitted_growth_pct_per_year: {value}" in resolved
        assert json.loads((sweep_dir / "runs" / run / "manifest.json").read_text())["seed"] == 20250401
    assert sim_cli("verify", sweep_dir).returncode == 0


def test_sweep_csv_gathers_each_runs_national_commitments(sweep_dir):
    sweep = pd.read_csv(sweep_dir / "sweep.csv", dtype={"deadline": str})
    assert list(sweep.columns[:2]) == ["run", KEY]
    for run in ("run001", "run002"):
        targets = pd.read_csv(sweep_dir / "runs" / run / "targets.csv", dtype={"deadline": str})
        national = targets[targets["level"] == "national"].reset_index(drop=True)
        mine = sweep[sweep["run"] == run].reset_index(drop=True)
        pd.testing.assert_series_equal(mine["p50"], national["p50"])
        assert list(mine["metric"]) == list(national["metric"])
    # Same seed: the runs share every draw (the varied key, now a number, is no draw), so only the setting differs.
    params = [pd.read_csv(sweep_dir / "runs" / r / "parameters.csv") for r in ("run001", "run002")]
    assert KEY not in params[0].columns and len(params[0].columns) > 20
    pd.testing.assert_frame_equal(params[0], params[1])
    assert (sweep_dir / "plots" / "sweep_rtt_within_18w_pct_2026-03.png").is_file()


def test_two_runs_of_a_sweep_compare_without_breaking_its_verification(sim_cli, sweep_dir):
    result = sim_cli("compare", sweep_dir / "runs" / "run001", sweep_dir / "runs" / "run002", "--quiet")
    assert result.returncode == 0, result.stderr
    assert (sweep_dir.parent / "compare_sweep_run001_vs_run002" / "compare.csv").is_file()
    assert sim_cli("verify", sweep_dir).returncode == 0


@pytest.mark.parametrize("vary, message", [
    ("capacity.admited_growth_pct_per_year=1,2", "Did you mean 'admitted_growth_pct_per_year'?"),
    ("capacity.redeployment.within=icb,county", "county"),
    ("capacity.admitted_growth_pct_per_year", "is not of the form KEY=V1,V2"),
])
def test_a_bad_vary_exits_2_naming_the_option_and_runs_nothing(sim_cli, baseline_yaml, tmp_path, vary, message):
    out = tmp_path / "sweep"
    result = sim_cli("sweep", baseline_yaml, "--vary", vary, *SMALL, "--out", out)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: command line") and "--vary" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() and not out.with_name("sweep.incomplete").exists()
