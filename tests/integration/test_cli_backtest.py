"""`sim backtest`: calibrate up to a cutoff, forecast, score against what was published; its folder reruns.

Small and quick: 6 replications, a 6-month horizon and a short calibration
(the scores' quality is tests/validation/test_backtest.py's business).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"
QUICK = ("--reps", "6", "--horizon", "6", "--max-evaluations", "30", "--jobs", "1", "--quiet")
METRICS = {"rtt_waiting_list", "rtt_within_18w_pct", "rtt_median_weeks", "rtt_p92_weeks", "rtt_over_52w"}


@pytest.fixture(scope="module")
def backtest_dir(sim_cli, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("backtest") / "bt"
    result = sim_cli("backtest", "--cutoff", "2024-03", *QUICK, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_the_folder_holds_the_scores_the_forecast_and_what_made_it(sim_cli, backtest_dir):
    assert sorted(p.name for p in backtest_dir.iterdir()) == ["backtest.csv", "calibration.yaml", "manifest.json",
                                                             "plots", "scenario.yaml", "summary.csv"]
    assert sim_cli("verify", backtest_dir).returncode == 0
    scores = pd.read_csv(backtest_dir / "backtest.csv", dtype={"cutoff": str})
    assert set(scores["metric"]) == METRICS and (scores["months"] == 6).all()
    assert ((scores["coverage_10_90"] >= 0) & (scores["coverage_10_90"] <= scores["coverage_5_95"])).all()
    manifest = json.loads((backtest_dir / "manifest.json").read_text())
    [entry] = manifest["backtests"]
    assert (entry["cutoff"], entry["folder"], entry["last_forecast_month"]) == ("2024-03", ".", "2024-09")
    assert (scores["cutoff"] == "2024-03").all()
    calibration = (backtest_dir / "calibration.yaml").read_text()
    assert "fit_last_month: 2024-03" in calibration  # it saw nothing after the cutoff
    assert (backtest_dir / "plots" / "rtt_waiting_list_ENG.png").stat().st_size > 10_000


def test_the_written_scenario_reruns_to_the_same_forecast(sim_cli, backtest_dir, tmp_path):
    rerun = tmp_path / "rerun"
    result = sim_cli("run", backtest_dir / "scenario.yaml", "--jobs", "2", "--quiet", "--out", rerun)
    assert result.returncode == 0, result.stderr
    again = pd.read_csv(rerun / "summary.csv", dtype=str)
    again = again[again["level"] == "national"].reset_index(drop=True)
    pd.testing.assert_frame_equal(again, pd.read_csv(backtest_dir / "summary.csv", dtype=str))


def test_a_user_series_ending_sooner_shortens_the_horizon(sim_cli, tmp_path):
    rtt = pd.read_csv(DATA / "rtt_national_monthly.csv", dtype=str, keep_default_na=False)
    observed = tmp_path / "ours.csv"
    rtt[rtt["month"] <= "2024-06"].to_csv(observed, index=False)
    out = tmp_path / "bt"
    result = sim_cli("backtest", "--cutoff", "2024-03", "--observed", observed, *QUICK, "--out", out)
    assert result.returncode == 0, result.stderr
    assert (pd.read_csv(out / "backtest.csv")["months"] == 3).all()
    assert str(observed) in json.loads((out / "manifest.json").read_text())["backtests"][0]["observed"]
    # The folder carries the series it was given, so its scenario reruns from it.
    assert (out / "observed_rtt.csv").read_bytes() == observed.read_bytes()
    assert "national_rtt_csv: observed_rtt.csv" in (out / "scenario.yaml").read_text()


@pytest.mark.parametrize(("cutoff", "fragment"), [
    ("2008-06", "needs every month from 2005-06 to it with waiting_list, pct_within_18w, clock_starts"),
    ("2022-03", "is before the first sourced share of the list with a decision to admit (2022-07"),
    ("2025-03", "leaves no observed month after it to score against (the data end 2025-03)"),
    ("March 2024", "is not a month. Allowed: YYYY-MM"),
])
def test_a_cutoff_it_cannot_use_exits_2_before_any_work(sim_cli, tmp_path, cutoff, fragment):
    result = sim_cli("backtest", "--cutoff", cutoff, *QUICK, "--out", tmp_path / "bt")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: --cutoff: value '{cutoff}' ") and fragment in result.stderr
    assert not list(tmp_path.iterdir())


def test_calibrate_fits_a_user_series_and_a_scenario_can_use_the_file(sim_cli, baseline_yaml, tmp_path):
    rtt = pd.read_csv(DATA / "rtt_national_monthly.csv", dtype=str, keep_default_na=False)
    observed = tmp_path / "ours.csv"
    rtt[rtt["month"] <= "2024-03"].to_csv(observed, index=False)
    calibration = tmp_path / "ours_2024-03.yaml"
    result = sim_cli("calibrate", "--cutoff", "2024-03", "--observed", observed, "--max-evaluations", "20",
                     "--out", calibration)
    assert result.returncode == 0, result.stderr
    text = calibration.read_text()
    assert "fit_last_month: 2024-03" in text and str(observed) in text
    scenario = tmp_path / "ours.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: ours\nstart: 2024-04\nend: 2024-06\n"
                        f"calibration: {calibration.name}\ndiagnostics: {{enabled: false}}\ncancer: {{enabled: false}}\n"
                        "finance: {enabled: false}\npolicies: {validation: null}\n")
    assert sim_cli("validate", scenario).returncode == 0


def test_calibrate_refuses_a_cutoff_its_data_cannot_support(sim_cli, tmp_path):
    result = sim_cli("calibrate", "--cutoff", "2015-06", "--out", tmp_path / "c.yaml")
    assert result.returncode == 2 and "needs every month from 2012-06" in result.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("where", ["file_in_the_way", "read_only"])
def test_calibrate_refuses_an_output_it_cannot_write_before_fitting(sim_cli, tmp_path, where):
    if where == "file_in_the_way":
        (tmp_path / "results").write_text("not a folder")
        out, fragment = tmp_path / "results" / "c.yaml", "is a file, not a folder"
    else:
        out, fragment = Path("/proc") / "c.yaml", "cannot write /proc/c.yaml"  # procfs takes no new files, even as root
    result = sim_cli("calibrate", "--cutoff", "2024-03", "--out", out)
    assert result.returncode == 3 and fragment in result.stderr, result.stderr
    assert "choose another --out" in result.stderr and not list(tmp_path.glob("**/*.yaml"))
