"""A user's own DM01 and CWT provider files and national diagnostics and cancer series (``world`` keys): checked
by `sim data check` and at a run's start, and used in place of the shipped tables.

The "newer publication" here is the shipped data with three made-up months appended (April to June 2025,
copies of March with the DM01 lists grown 1% a month), for the test only.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"
NEW_MONTHS = ("2025-04", "2025-05", "2025-06")


def _shipped(name: str) -> pd.DataFrame:
    raw = (DATA / name).read_bytes()
    text = gzip.decompress(raw) if name.endswith(".gz") else raw
    return pd.read_csv(io.BytesIO(text), dtype=str, keep_default_na=False)


def _dm01_counts(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c == "waiting_list" or c.startswith(("over_", "w")) or c.endswith("_tests")]


def _extended(frame: pd.DataFrame, grow: list[str] = ()) -> pd.DataFrame:
    """The frame with March 2025's rows copied to each new month, ``grow`` columns 1% larger each month."""
    march = frame[frame["month"] == "2025-03"]
    rows = []
    for k, month in enumerate(NEW_MONTHS, start=1):
        copy = march.assign(month=month)
        for column in grow:
            values = pd.to_numeric(copy[column].replace("", None))
            copy[column] = (values * 1.01 ** k).map(lambda v: "" if pd.isna(v) else repr(float(v)))
        rows.append(copy)
    return pd.concat([frame, *rows], ignore_index=True)


@pytest.fixture(scope="module")
def newer(tmp_path_factory) -> dict[str, Path]:
    """The five files of a newer publication, and June 2025's DM01 England list."""
    folder = tmp_path_factory.mktemp("newer")
    dm01 = _shipped("dm01_provider_test_monthly.csv.gz")
    files = {
        "dm01": (_extended(dm01, _dm01_counts(dm01)), "dm01.csv"),
        "cwt": (_extended(_shipped("cwt_provider_monthly.csv.gz")), "cwt.csv"),
        "cancer": (_extended(_shipped("cancer_national_monthly.csv")), "cancer.csv"),
        "diagnostics": (_extended(_shipped("diagnostics_national_monthly.csv")), "diagnostics.csv"),
        "rtt": (_extended(_shipped("rtt_national_monthly.csv")), "rtt.csv"),
    }
    out = {}
    for key, (frame, name) in files.items():
        frame.to_csv(folder / name, index=False)
        out[key] = folder / name
    return out


def test_the_shipped_provider_files_pass_and_say_which_starts_they_allow(sim_cli, newer):
    result = sim_cli("data", "check", newer["dm01"])
    assert result.returncode == 0, result.stderr
    assert "DM01 diagnostics provider data, 2024-08 to 2025-06 (11 months; " in result.stdout
    assert "can start a run from 2024-11 to 2025-07" in result.stdout
    assert "world: {dm01_provider_csv: dm01.csv}" in result.stdout
    result = sim_cli("data", "check", newer["cwt"])
    assert result.returncode == 0, result.stderr
    assert "CWT cancer provider data, 2024-04 to 2025-06 (15 months; " in result.stdout
    assert "28-day FDS" in result.stdout and "can start a run from 2024-07 to 2025-07" in result.stdout


def test_a_run_starts_its_services_from_the_newest_month_of_a_users_files(sim_cli, baseline_yaml, newer, tmp_path):
    scenario = tmp_path / "newer.yaml"
    scenario.write_text(
        f"extends: {baseline_yaml}\nname: newer\nstart: 2025-07\nend: 2025-08\nfinance: {{enabled: false}}\n"
        "world:\n"
        + "".join(f"  {key}: {newer[kind]}\n" for key, kind in (
            ("national_rtt_csv", "rtt"), ("dm01_provider_csv", "dm01"), ("cwt_provider_csv", "cwt"),
            ("cancer_national_csv", "cancer"), ("diagnostics_national_csv", "diagnostics"))))
    result = sim_cli("run", scenario, "--reps", "2", "--jobs", "1", "--quiet", "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    services = manifest["services"]
    assert services["diagnostics"]["census_month"] == "2025-06"
    assert services["cancer"]["window"][-1] == "2025-06"
    assert set(manifest["input_files"]) == {"national_rtt_csv", "dm01_provider_csv", "cwt_provider_csv",
                                            "cancer_national_csv", "diagnostics_national_csv"}
    # June's DM01 lists are the user's March lists grown 1% a month: the run starts from them.
    dm01 = pd.read_csv(newer["dm01"], dtype={"month": str})
    june = float(dm01.loc[dm01["month"] == "2025-06", "waiting_list"].sum())
    summary = pd.read_csv(tmp_path / "run" / "summary.csv", dtype={"date": str, "breakdown": str})
    start = summary.query("metric == 'diag_waiting_list' and level == 'national' and breakdown == 'all' "
                          "and date == '2025-06-30'")
    assert start["point"].iloc[0] == pytest.approx(june, rel=1e-6)
    assert june == pytest.approx(1.01 ** 3 * float(dm01.loc[dm01["month"] == "2025-03", "waiting_list"].sum()))


def test_provider_data_too_old_for_the_start_names_the_users_file(sim_cli, baseline_yaml, newer, tmp_path):
    dm01 = pd.read_csv(newer["dm01"], dtype=str, keep_default_na=False)
    old = tmp_path / "dm01_old.csv"
    dm01[dm01["month"] <= "2024-12"].to_csv(old, index=False)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: s\nworld:\n  dm01_provider_csv: dm01_old.csv\n")
    result = sim_cli("run", scenario, "--reps", "2", "--out", tmp_path / "run")
    assert result.returncode == 2, result.stderr
    assert "DM01 diagnostics provider data in " in result.stderr and "dm01_old.csv (held: 2024-08 to 2024-12)" \
        in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


@pytest.mark.parametrize(("kind", "edit", "fragment"), [
    ("dm01", lambda f: f.assign(waiting_list=f["waiting_list"].where(f.index != 3, "1")),
     ":5: waiting_list: waiting_list 1 differs from the sum of its weekly bands"),
    ("dm01", lambda f: f.rename(columns={"planned_tests": "planed_tests"}),
     ":1: planned_tests: required column is missing (did you mean 'planed_tests'?)"),
    ("dm01", lambda f: f.assign(test_id=f["test_id"].where(f.index != 0, "16")), ":2: test_id: unknown DM01 test_id 16"),
    ("cwt", lambda f: f.assign(standard=f["standard"].where(f.index != 1, "28 day FDS")),
     ":3: standard: '28 day FDS' is not allowed (did you mean '28-day FDS'?)"),
    ("cancer", lambda f: f.drop(columns=["c62_total"]), ":1: c62_total: is needed to calibrate the cancer pathway"),
])
def test_a_bad_users_file_stops_check_and_run_with_one_line(sim_cli, baseline_yaml, newer, tmp_path, kind, edit,
                                                             fragment):
    bad = tmp_path / f"bad_{kind}.csv"
    edit(pd.read_csv(newer[kind], dtype=str, keep_default_na=False)).to_csv(bad, index=False)
    check = sim_cli("data", "check", bad)
    assert check.returncode == 2 and fragment in check.stderr, check.stderr
    key = {"dm01": "dm01_provider_csv", "cwt": "cwt_provider_csv", "cancer": "cancer_national_csv"}[kind]
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: s\nworld:\n  {key}: {bad.name}\n")
    run = sim_cli("run", scenario, "--reps", "2", "--out", tmp_path / "run")
    assert run.returncode == 2 and fragment in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert not (tmp_path / "run").exists()


def test_a_backtest_starts_and_scores_the_services_on_a_users_files(sim_cli, newer, tmp_path):
    out = tmp_path / "bt"
    observed = [arg for kind in ("rtt", "dm01", "cwt", "cancer", "diagnostics") for arg in ("--observed", newer[kind])]
    result = sim_cli("backtest", "--cutoff", "2025-03", *observed, "--reps", "4", "--horizon", "3",
                     "--max-evaluations", "30", "--jobs", "1", "--quiet", "--out", out)
    assert result.returncode == 0, result.stderr
    scores = pd.read_csv(out / "backtest.csv")
    # The months after March 2025 exist only in the user's files: every service metric is scored on all three.
    services = scores[scores["metric"].str.startswith(("diag_", "cancer_"))]
    assert set(services["metric"]) == {"diag_waiting_list", "diag_over_6w_pct", "cancer_fds_pct", "cancer_62d_pct",
                                       "cancer_31d_pct"}
    assert (services["months"] == 3).all()
    manifest = json.loads((out / "manifest.json").read_text())
    [entry] = manifest["backtests"]
    assert entry["services_calibration"]["diagnostics"]["census_month"] == "2025-03"
    assert set(entry["observed_files"]) == {"rtt", "dm01_provider", "cwt_provider", "cancer_national",
                                            "diagnostics_national"}
    scenario = (out / "scenario.yaml").read_text()
    for key, name in (("national_rtt_csv", "rtt"), ("dm01_provider_csv", "dm01_provider"),
                      ("cwt_provider_csv", "cwt_provider"), ("cancer_national_csv", "cancer_national"),
                      ("diagnostics_national_csv", "diagnostics_national")):
        assert f"{key}: observed_{name}.csv" in scenario
        assert (out / f"observed_{name}.csv").is_file()
    assert sim_cli("validate", out / "scenario.yaml").returncode == 0


def test_two_observed_files_of_one_kind_are_refused(sim_cli, newer, tmp_path):
    result = sim_cli("backtest", "--cutoff", "2024-10", "--observed", newer["dm01"], "--observed", newer["dm01"],
                     "--out", tmp_path / "bt")
    assert result.returncode == 2 and "is a second dm01_provider file" in result.stderr, result.stderr
    assert not (tmp_path / "bt").exists()


def test_a_trusts_file_is_checked_and_described_but_is_no_observed_series(sim_cli, example_trusts_csv, tmp_path):
    result = sim_cli("data", "check", example_trusts_csv)
    assert result.returncode == 0, result.stderr
    assert "trusts file: 3 trusts, 5 treatment functions, 76,900 waiting" in result.stdout
    assert "world: {trusts_csv: example_trusts.csv}" in result.stdout and "--observed" not in result.stdout
    bad = tmp_path / "trusts.csv"
    bad.write_text("org_code,treatment_function_code,waiting_list\nRR8,C_999,100\n", encoding="utf-8")
    check = sim_cli("data", "check", bad)
    assert check.returncode == 2 and ":2: treatment_function_code: 'C_999' is not an RTT treatment function" \
        in check.stderr
    backtest = sim_cli("backtest", "--cutoff", "2024-10", "--observed", example_trusts_csv, "--out", tmp_path / "bt")
    assert backtest.returncode == 2 and "is a trusts file" in backtest.stderr and "world.trusts_csv" in backtest.stderr


def _trust_totals(folder: Path) -> tuple[Path, str, str]:
    """March 2025's shipped trust totals and a made-up June 2025 in which the first trust's list doubles."""
    march = _shipped("rtt_trust_totals_2025_03.csv")
    june = march.assign(month="2025-06", source="made up for a test", note="")
    first, second = march["org_code"].iloc[0], march["org_code"].iloc[1]
    june.loc[june["org_code"] == first, "incomplete_pathways"] = str(2 * int(march["incomplete_pathways"].iloc[0]))
    path = folder / "trust_totals.csv"
    pd.concat([march, june]).to_csv(path, index=False)
    return path, first, second


def test_trust_start_lists_come_from_a_users_trust_totals_at_the_census_month(sim_cli, baseline_yaml, newer,
                                                                              tmp_path):
    totals, first, second = _trust_totals(tmp_path)
    check = sim_cli("data", "check", totals)
    assert check.returncode == 0, check.stderr
    assert "trust totals, 2025-03 to 2025-06 (2 months; " in check.stdout
    assert "months missing between the first and the last: 2025-04, 2025-05" in check.stdout
    ratios = {}
    for label, world in (("shipped", ""), ("user", f"  trust_totals_csv: {totals.name}\n")):
        scenario = tmp_path / f"{label}.yaml"
        scenario.write_text(f"extends: {baseline_yaml}\nname: {label}\nstart: 2025-07\nend: 2025-07\n"
                            f"world:\n  national_rtt_csv: {newer['rtt']}\n{world}"
                            "diagnostics: {enabled: false}\ncancer: {enabled: false}\nfinance: {enabled: false}\n")
        result = sim_cli("run", scenario, "--reps", "1", "--jobs", "1", "--quiet", "--out", tmp_path / label)
        assert result.returncode == 0, result.stderr
        summary = pd.read_csv(tmp_path / label / "summary.csv", dtype={"date": str, "breakdown": str})
        start = summary.query("metric == 'rtt_waiting_list' and level == 'trust' and breakdown == 'all' "
                              "and date == '2025-06-30'").set_index("area_code")["point"]
        ratios[label] = start[first] / start[second]
    march = _shipped("rtt_trust_totals_2025_03.csv").set_index("org_code")["incomplete_pathways"].astype(float)
    assert ratios["shipped"] == pytest.approx(march[first] / march[second], rel=1e-4)
    assert ratios["user"] == pytest.approx(2 * march[first] / march[second], rel=1e-4)
    manifest = json.loads((tmp_path / "user" / "manifest.json").read_text())
    assert "trust_totals_csv" in manifest["input_files"]


@pytest.mark.parametrize(("world", "fragment"), [
    ("  trust_totals_csv: trust_totals.csv\n", "world.trust_totals_csv: value 'trust_totals.csv' holds no trust "
                                              "totals for 2025-01"),
    ("  trust_totals_csv: trust_totals.csv\n  trust_lists: activity_proxy\n", "activity_proxy, which does not read it"),
])
def test_trust_totals_that_cannot_serve_the_start_are_refused(sim_cli, baseline_yaml, tmp_path, world, fragment):
    _trust_totals(tmp_path)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: s\nstart: 2025-02\ncalibration: national_2024-03\n"
                        "diagnostics: {enabled: false}\ncancer: {enabled: false}\nfinance: {enabled: false}\n"
                        f"world:\n{world}")
    result = sim_cli("run", scenario, "--reps", "1", "--out", tmp_path / "run")
    assert result.returncode == 2 and fragment in result.stderr, result.stderr
    assert not (tmp_path / "run").exists()


def test_a_backtest_with_trust_totals_starts_and_scores_each_trust(sim_cli, tmp_path):
    # A made-up series: March 2025's trust totals scaled to each month's national list, 2023-09 to 2024-09.
    march = _shipped("rtt_trust_totals_2025_03.csv")
    rtt = pd.to_numeric(_shipped("rtt_national_monthly.csv").set_index("month")["waiting_list"], errors="coerce")
    size = march["incomplete_pathways"].astype(float)
    frames = []
    for k, month in enumerate(pd.period_range("2023-09", "2024-09", freq="M").strftime("%Y-%m")):
        scale = rtt[month] / size.sum() * (1 + 0.01 * k * (march.index % 3 - 1))  # some trusts drift apart
        frames.append(march.assign(month=month, incomplete_pathways=(size * scale).round(),
                                   within_18w=(march["within_18w"].astype(float) * scale).round()))
    totals = tmp_path / "totals.csv"
    pd.concat(frames).to_csv(totals, index=False)
    out = tmp_path / "bt"
    result = sim_cli("backtest", "--cutoff", "2024-03", "--observed", totals, "--reps", "4", "--horizon", "6",
                     "--max-evaluations", "30", "--jobs", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "2024-03 trusts, rtt_waiting_list: median error" in result.stderr
    scores = pd.read_csv(out / "backtest_trusts.csv", dtype={"cutoff": str})
    assert set(scores["metric"]) == {"rtt_waiting_list", "rtt_within_18w_pct"}
    assert scores["org_code"].nunique() > 120 and (scores["months"] == 6).all()
    [entry] = json.loads((out / "manifest.json").read_text())["backtests"]
    pooled = entry["trust_scores"]["rtt_waiting_list"]
    assert pooled["trusts"] == scores["org_code"].nunique() and 0 <= pooled["coverage_10_90"] <= 1
    assert "trust_totals_csv: observed_trust_totals.csv" in (out / "scenario.yaml").read_text()
    # A cutoff the file does not hold is refused before any work.
    missing = sim_cli("backtest", "--cutoff", "2023-06", "--observed", totals, "--out", tmp_path / "bt2")
    assert missing.returncode == 2 and "is not a month of the trust totals" in missing.stderr
    assert not (tmp_path / "bt2").exists()


@pytest.mark.parametrize(("kind", "edit", "fragment"), [
    ("cwt", lambda f: f.assign(total=f["total"].where(f.index != 2, "")), ":4: total: is empty but a value is required"),
    ("cwt", lambda f: f.assign(within_standard=f["within_standard"].where(f.index != 0, "999999")),
     ":2: within_standard: 999999 exceeds total"),
    ("dm01", lambda f: f.assign(over_13w=f["over_13w"].where(f.index != 1, "")),
     ":3: over_13w: is empty but a value is required"),
])
def test_empty_or_inconsistent_provider_counts_are_refused(sim_cli, newer, tmp_path, kind, edit, fragment):
    bad = tmp_path / f"bad_{kind}.csv"
    edit(pd.read_csv(newer[kind], dtype=str, keep_default_na=False)).to_csv(bad, index=False)
    check = sim_cli("data", "check", bad)
    assert check.returncode == 2 and fragment in check.stderr, check.stderr


def test_a_users_cancer_series_with_an_empty_window_month_is_blamed_at_its_key(sim_cli, baseline_yaml, newer,
                                                                                tmp_path):
    cancer = pd.read_csv(newer["cancer"], dtype=str, keep_default_na=False)
    cancer.loc[cancer["month"] == "2025-03", "fds_total"] = ""
    path = tmp_path / "cancer_gap.csv"
    cancer[cancer["month"] <= "2025-03"].to_csv(path, index=False)
    check = sim_cli("data", "check", path)
    assert check.returncode == 0 and "fds_total is empty in 1 months (2025-03 to 2025-03)" in check.stdout
    scenario = tmp_path / "s.yaml"
    scenario.write_text(f"extends: {baseline_yaml}\nname: s\nworld:\n  cancer_national_csv: {path.name}\n")
    run = sim_cli("run", scenario, "--reps", "1", "--out", tmp_path / "run")
    assert run.returncode == 2 and "world.cancer_national_csv" in run.stderr, run.stderr
    assert "lacks complete figures" in run.stderr and "for 2025-03, which the cancer calibration window" in run.stderr


def test_input_files_are_recorded_by_absolute_path_whatever_the_working_folder(baseline_yaml, tmp_path,
                                                                               monkeypatch):
    from sim.config import load_scenario
    from sim.runner import input_files

    (tmp_path / "cancer.csv").write_bytes((DATA / "cancer_national_monthly.csv").read_bytes())
    (tmp_path / "s.yaml").write_text(f"extends: {baseline_yaml}\nname: s\nworld:\n  cancer_national_csv: cancer.csv\n")
    monkeypatch.chdir(tmp_path)
    scenario, doc = load_scenario(Path("s.yaml"))
    [entry] = input_files(scenario, doc).values()
    assert Path(entry["file"]).is_absolute() and Path(entry["file"]) == tmp_path / "cancer.csv"
