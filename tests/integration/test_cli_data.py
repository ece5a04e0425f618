"""`sim data check`: a user's observed series, such as the newest NHS England publication, checked before use."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"


@pytest.mark.parametrize(("name", "kind", "lines"), [
    ("rtt_national_monthly.csv", "rtt", ("2007-04 to 2025-03 (216 months", "spans a series break in 2024-02")),
    ("cancer_national_monthly.csv", "cancer", ("2021-04 to 2025-03", "pct_62day is empty in 12 months",
                                               "spans a series break in 2023-10")),
    ("diagnostics_national_monthly.csv", "diagnostics", ("2024-08 to 2025-03 (8 months",
                                                         "months missing between the first and the last: none")),
])
def test_the_shipped_series_pass_and_are_described(sim_cli, name, kind, lines):
    result = sim_cli("data", "check", DATA / name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{DATA / name}: OK: {kind} national series")
    for line in lines:
        assert line in result.stdout


def test_a_newer_publication_appended_by_hand_passes_and_a_gap_is_reported(sim_cli, tmp_path):
    text = (DATA / "rtt_national_monthly.csv").read_text(encoding="utf-8")
    path = tmp_path / "rtt_2025-05.csv"
    path.write_text(text + "2025-05,7390000,59.8,180000,,,,13.5,,,,,our copy of the May 2025 release,\n",
                    encoding="utf-8")
    result = sim_cli("data", "check", path)
    assert result.returncode == 0, result.stderr
    assert "2007-04 to 2025-05 (217 months" in result.stdout and "missing between the first and the last: 2025-04" \
        in result.stdout


@pytest.mark.parametrize(("text", "fragment"), [
    ("month,waiting_list,pct_within_18w\n2025-01,7427669,0.589\n", ":2: pct_within_18w: value 0.589 looks like a "
                                                                   "fraction"),
    ("month,waiting_list,pct_within_18w\n2025-01,7427669,58.9\n2025-01,7427669,58.9\n", ":3: month: "),
    ("code,name\nQE1,Somewhere\n", ":1: is not a data file the model reads"),
    ("month,waiting_list,pct_over_6w\n2025-01,-4,12\n", ":2: waiting_list: -4 is a negative count"),
])
def test_bad_files_exit_2_with_one_line(sim_cli, tmp_path, text, fragment):
    path = tmp_path / "observed.csv"
    path.write_text(text, encoding="utf-8")
    result = sim_cli("data", "check", path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {path}") and fragment in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def _newer_publication(path: Path) -> float:
    """The shipped RTT series plus three made-up months (for the test only); returns June 2025's list."""
    rtt = pd.read_csv(DATA / "rtt_national_monthly.csv", dtype=str, keep_default_na=False)
    march = rtt[rtt["month"] == "2025-03"].iloc[0]
    rows, size = [], float(march["waiting_list"])
    for month in ("2025-04", "2025-05", "2025-06"):
        size = float(round(size * 1.003))
        rows.append({**march.to_dict(), "month": month, "waiting_list": f"{size:.0f}", "source": "made up for a test",
                     "note": ""})
    pd.concat([rtt, pd.DataFrame(rows)]).to_csv(path, index=False)
    return size


def test_a_run_starts_from_the_newest_month_of_a_users_series(sim_cli, baseline_yaml, tmp_path):
    june = _newer_publication(tmp_path / "newer.csv")
    scenario = tmp_path / "newer.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: newer\nstart: 2025-07\nend: 2025-08\n"
                        "world:\n  national_rtt_csv: newer.csv\ndiagnostics: {enabled: false}\n"
                        "cancer: {enabled: false}\n")
    result = sim_cli("run", scenario, "--reps", "2", "--jobs", "1", "--quiet", "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    summary = pd.read_csv(tmp_path / "run" / "summary.csv", dtype={"date": str, "breakdown": str})
    start = summary.query("metric == 'rtt_waiting_list' and level == 'national' and breakdown == 'all' "
                          "and date == '2025-06-30'")
    assert start["point"].iloc[0] == pytest.approx(june, rel=1e-6)


@pytest.mark.parametrize(("setting", "fragment"), [
    ("missing.csv", "world.national_rtt_csv: value 'missing.csv' names a file that does not exist"),
    ("bad.csv", "bad.csv:2: pct_within_18w: value 0.589 looks like a fraction"),
])
def test_a_missing_or_bad_national_series_stops_the_run_before_any_work(sim_cli, baseline_yaml, tmp_path, setting,
                                                                        fragment):
    (tmp_path / "bad.csv").write_text("month,waiting_list,pct_within_18w\n2025-01,7427669,0.589\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: s\nworld:\n  national_rtt_csv: {setting}\n")
    result = sim_cli("run", scenario, "--reps", "2", "--out", tmp_path / "run")
    assert result.returncode == 2 and fragment in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kind", ["rtt", "diagnostics", "cancer", "dm01_provider", "cwt_provider", "trust_totals",
                                  "trusts"])
def test_a_shipped_file_exports_as_plain_csv_that_checks_clean(sim_cli, tmp_path, kind):
    out = tmp_path / f"{kind}.csv"
    result = sim_cli("data", "export", kind, out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wrote {out} (")
    check = sim_cli("data", "check", out)
    assert check.returncode == 0, check.stderr
    again = sim_cli("data", "export", kind, out)
    assert again.returncode == 3 and "exists" in again.stderr and "--overwrite" in again.stderr
    assert sim_cli("data", "export", kind, out, "--overwrite").returncode == 0
