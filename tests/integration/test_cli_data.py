"""`sim data check`: a user's observed series, such as the newest NHS England publication, checked before use."""

from __future__ import annotations

from pathlib import Path

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
    ("code,name\nQE1,Somewhere\n", ":1: is not an observed national series"),
    ("month,waiting_list,pct_over_6w\n2025-01,-4,12\n", ":2: waiting_list: -4 is a negative count"),
])
def test_bad_files_exit_2_with_one_line(sim_cli, tmp_path, text, fragment):
    path = tmp_path / "observed.csv"
    path.write_text(text, encoding="utf-8")
    result = sim_cli("data", "check", path)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"error: {path}") and fragment in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
