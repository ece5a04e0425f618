"""Tests for sim.compare: pairing by replication, direction of "better", refusals, the output folder.

Run folders are built by hand from the small cube of tests/unit/small_cube.py
(11 replications: 0 is the point estimate, 1..10 the Monte Carlo ones) with
the real RunWriter, so they verify exactly as `sim run` folders do.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner
from small_cube import DATES, METRICS, make_cube

from sim.cli import main
from sim.compare import (
    COMPARE_COLUMNS,
    COMPARE_MANIFEST_NAME,
    COMPARE_NAME,
    better_direction,
    check_pair,
    open_run,
    paired_differences,
)
from sim.compare_report import default_out_dir, execute_compare, headline_rows
from sim.errors import InputError
from sim.metrics import MetricCube
from sim.results import MANIFEST_NAME, RunWriter, sha256_file, summarise, trajectories_table

KEPT = ("national", "region", "icb")


def write_run(folder, cube: MetricCube, *, seed: int = 7, keep_levels=KEPT, scenario: str = "a",
              shuffle: bool = False):
    """A finished run folder holding ``cube`` (trajectories rows shuffled if asked)."""
    table = trajectories_table(cube, keep_levels)
    if shuffle:
        table = table.take(pa.array(np.random.default_rng(3).permutation(table.num_rows)))
    with RunWriter(folder) as writer:
        writer.write_parquet("trajectories.parquet", table)
        writer.write_csv("summary.csv", summarise(cube))
        writer.finish({"run_id": f"{scenario}-001", "scenario": scenario, "seed": seed,
                       "replications": int(np.sum(np.asarray(cube.replications) >= 1))})
    return folder


def shifted(cube: MetricCube, delta) -> MetricCube:
    """``cube`` plus ``delta(replication, metric index)`` in every series and month."""
    values = cube.values.copy()
    for i, r in enumerate(cube.replications):
        for m in range(len(cube.metrics)):
            values[i, :, m, :] += delta(int(r), m)
    return MetricCube(values, cube.replications, cube.series, cube.metrics, cube.dates)


def read_compare(folder) -> pd.DataFrame:
    return pd.read_csv(folder / COMPARE_NAME, dtype={"area_code": str, "breakdown": str, "date": str})


@pytest.fixture
def pair(tmp_path):
    """Run A and run B = A + (r - 3) x (metric index + 1), B's rows shuffled."""
    base = make_cube()
    a = write_run(tmp_path / "a", base)
    b = write_run(tmp_path / "b", shifted(base, lambda r, m: (r - 3.0) * (m + 1)), scenario="b", shuffle=True)
    return a, b


# --- direction ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric, direction", [
    ("rtt_within_18w_pct", "higher"), ("cancer_fds_pct", "higher"), ("cancer_62d_pct", "higher"),
    ("cancer_31d_pct", "higher"),
    ("rtt_waiting_list", "lower"), ("diag_waiting_list", "lower"), ("rtt_waiting_list_admitted", "lower"),
    ("rtt_over_52w", "lower"), ("rtt_over_104w", "lower"), ("rtt_over_52w_pct", "lower"),
    ("diag_over_6w_pct", "lower"), ("rtt_median_weeks", "lower"), ("rtt_p92_weeks", "lower"),
    ("rtt_clock_starts", "none"), ("diag_tests", "none"), ("cancer_62d_patients", "none"),
    ("trust_income_gbp_m", "none"), ("trust_surplus_gbp_m", "higher"), ("trusts_in_balance_pct", "higher"),
])
def test_direction_of_better(metric, direction):
    assert better_direction(metric) == direction


# --- pairing -----------------------------------------------------------------------------


def test_paired_differences_match_hand_computation(pair):
    a, b = (open_run(p) for p in pair)
    metrics, levels = check_pair(a, b)
    assert metrics == sorted(METRICS) and levels == list(KEPT)
    frame = paired_differences(a, b, metrics, levels)
    assert list(frame.columns) == list(COMPARE_COLUMNS)
    mc = np.arange(1, 11)
    for m, metric in enumerate(METRICS):
        rows = frame[frame["metric"] == metric]
        # Every kept series (national, regions, ICB; no trust, no breakdown) and month, once.
        assert len(rows) == 4 * len(DATES)
        diffs = (mc - 3.0) * (m + 1)
        np.testing.assert_array_equal(rows["point"], -3.0 * (m + 1))
        np.testing.assert_allclose(rows["mean"], diffs.mean())
        for name, q in (("p5", 0.05), ("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("p95", 0.95)):
            np.testing.assert_allclose(rows[name], np.quantile(diffs, q))
        # Higher is better for % within 18 weeks (reps 4..10), lower for the list (reps 1, 2); a tie is not better.
        expected = 7 / 10 if better_direction(metric) == "higher" else 2 / 10
        np.testing.assert_allclose(rows["probability_b_better"], expected)
        np.testing.assert_allclose(rows["b_p50"] - rows["a_p50"], np.median(diffs))


def test_rows_are_sorted_like_the_summary(pair):
    a, b = (open_run(p) for p in pair)
    frame = paired_differences(a, b, *check_pair(a, b))
    national = frame[frame["metric"] == "rtt_waiting_list"]
    assert list(dict.fromkeys(zip(national["level"], national["area_code"]))) == [
        ("national", "ENG"), ("region", "Y56"), ("region", "Y57"), ("icb", "QWE")]
    assert list(national["date"][:3]) == sorted(DATES)
    assert list(frame["metric"].unique()) == sorted(METRICS)


def test_a_run_against_itself_differs_by_exactly_zero(tmp_path):
    a = open_run(write_run(tmp_path / "a", make_cube()))
    frame = paired_differences(a, a, *check_pair(a, a))
    assert (frame[["point", "mean", "p5", "p10", "p50", "p90", "p95"]].to_numpy() == 0).all()
    assert (frame["probability_b_better"] == 0).all()


def test_only_shared_levels_and_months_are_compared(tmp_path):
    base = make_cube()
    a = open_run(write_run(tmp_path / "a", base))
    longer = MetricCube(np.concatenate([base.values, base.values[..., :1]], axis=3), base.replications,
                        base.series, base.metrics, base.dates + ("2026-04-30",))
    b = open_run(write_run(tmp_path / "b", longer, keep_levels=("national",), scenario="b"))
    metrics, levels = check_pair(a, b)
    assert levels == ["national"]
    frame = paired_differences(a, b, metrics, levels)
    assert set(frame["level"]) == {"national"}
    assert sorted(frame["date"].unique()) == sorted(DATES)


def test_undefined_metric_gives_nan_not_a_probability(tmp_path):
    base = make_cube()
    values = base.values.copy()
    values[:, :, 0, 0] = np.nan  # % within 18 weeks undefined in one month (an empty list)
    cube = MetricCube(values, base.replications, base.series, base.metrics, base.dates)
    a = open_run(write_run(tmp_path / "a", cube))
    frame = paired_differences(a, a, ["rtt_within_18w_pct"], ["national"])
    first = frame[frame["date"] == DATES[0]].iloc[0]
    assert np.isnan(first["point"]) and np.isnan(first["p50"]) and np.isnan(first["probability_b_better"])


# --- refusals ----------------------------------------------------------------------------


def test_refuses_runs_with_different_seeds(tmp_path):
    a = open_run(write_run(tmp_path / "a", make_cube(), seed=7))
    b = open_run(write_run(tmp_path / "b", make_cube(), seed=8))
    with pytest.raises(InputError, match="same seed and replications.*--seed 7"):
        check_pair(a, b)


def test_refuses_runs_with_different_replications(tmp_path):
    a = open_run(write_run(tmp_path / "a", make_cube(n_reps=11)))
    b = open_run(write_run(tmp_path / "b", make_cube(n_reps=6)))
    with pytest.raises(InputError, match="different replications.*same seed and replications"):
        check_pair(a, b)


def test_refuses_a_folder_with_a_missing_file(tmp_path):
    folder = write_run(tmp_path / "a", make_cube())
    (folder / "summary.csv").unlink()
    with pytest.raises(InputError, match="not a complete run folder: missing file: summary.csv"):
        open_run(folder)


def test_refuses_an_unfinished_run_and_a_missing_folder(tmp_path):
    writer = RunWriter(tmp_path / "a")
    writer.write_parquet("trajectories.parquet", trajectories_table(make_cube()))
    writer.abort("stopped")
    with pytest.raises(InputError, match="not a complete run folder"):
        open_run(writer.staging_dir)
    with pytest.raises(InputError, match="does not exist"):
        open_run(tmp_path / "a")


def test_refuses_a_run_without_trajectories(tmp_path):
    with RunWriter(tmp_path / "a") as writer:
        writer.write_csv("summary.csv", summarise(make_cube()))
        writer.finish({"seed": 7, "replications": 10})
    with pytest.raises(InputError, match="has no trajectories.parquet"):
        open_run(tmp_path / "a")


def test_refuses_runs_sharing_no_metric_and_unknown_choices(tmp_path):
    base = make_cube()
    a = open_run(write_run(tmp_path / "a", base))
    other = MetricCube(base.values, base.replications, base.series, ("cancer_fds_pct", "diag_tests"), base.dates)
    b = open_run(write_run(tmp_path / "b", other))
    with pytest.raises(InputError, match="share no metric"):
        check_pair(a, b)
    with pytest.raises(InputError, match="Did you mean 'rtt_waiting_list'"):
        check_pair(a, a, metrics=["rtt_waitinglist"])
    with pytest.raises(InputError, match="--keep trust"):
        check_pair(a, a, levels=["trust"])


# --- the output folder -------------------------------------------------------------------


def test_runs_inside_a_finished_folder_are_compared_beside_that_folder(tmp_path):
    sweep = tmp_path / "sweep"
    (sweep / "runs" / "run001").mkdir(parents=True)
    (sweep / "runs" / "run002").mkdir()
    (sweep / MANIFEST_NAME).write_text("{}", encoding="utf-8")  # a sweep's manifest lists every file under it
    a, b = sweep / "runs" / "run001", sweep / "runs" / "run002"
    assert default_out_dir(a, b) == tmp_path / "compare_sweep_run001_vs_run002"


def test_writes_csv_charts_and_manifest_beside_run_b(pair):
    a, b = pair
    out = execute_compare(a, b, quiet=True)
    assert out == default_out_dir(a, b) == b.parent / "compare_a_vs_b"
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([COMPARE_NAME, COMPARE_MANIFEST_NAME, "diff_rtt_waiting_list_ENG.png",
                            "diff_rtt_waiting_list_ENG.svg", "diff_rtt_within_18w_pct_ENG.png",
                            "diff_rtt_within_18w_pct_ENG.svg"])
    manifest = json.loads((out / COMPARE_MANIFEST_NAME).read_text())
    assert manifest["run_a"]["run_id"] == "a-001" and manifest["run_b"]["run_id"] == "b-001"
    assert manifest["seed"] == 7 and manifest["replications"] == 10
    assert set(manifest["files"]) == set(names) - {COMPARE_MANIFEST_NAME}
    assert all(sha256_file(out / rel) == digest for rel, digest in manifest["files"].items())
    frame = read_compare(out)
    assert set(frame["metric"]) == set(METRICS) and len(frame) == 2 * 4 * len(DATES)


def test_a_comparison_inside_a_run_does_not_spoil_it_and_can_be_redone(pair):
    a, b = pair
    execute_compare(a, b, quiet=True)
    # B holds compare_a/ now; it still opens, and a narrower rerun replaces the old files.
    out = execute_compare(a, b, metrics=["rtt_waiting_list"], levels=["national"], quiet=True)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([COMPARE_NAME, COMPARE_MANIFEST_NAME, "diff_rtt_waiting_list_ENG.png",
                            "diff_rtt_waiting_list_ENG.svg"])
    frame = read_compare(out)
    assert set(frame["metric"]) == {"rtt_waiting_list"} and set(frame["level"]) == {"national"}


def test_refuses_to_write_into_a_run_folder(pair):
    a, b = pair
    with pytest.raises(InputError, match="is a run folder"):
        execute_compare(a, b, out_dir=a, quiet=True)


def test_headline_rows_are_national_at_deadlines_and_the_last_month(pair):
    a, b = (open_run(p) for p in pair)
    frame = paired_differences(a, b, *check_pair(a, b))
    rows = headline_rows(frame)
    assert list(zip(rows["metric"], rows["date"])) == [("rtt_within_18w_pct", "2026-03-31"),
                                                       ("rtt_waiting_list", "2026-03-31")]
    assert set(rows["level"]) == {"national"}


def test_cli_exits_2_with_one_line_on_seed_mismatch(tmp_path):
    a = write_run(tmp_path / "a", make_cube(), seed=7)
    b = write_run(tmp_path / "b", make_cube(), seed=8)
    result = CliRunner().invoke(main, ["compare", str(a), str(b)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "same seed" in lines[0]
    assert not (b / "compare_a").exists()


def test_cli_prints_the_headline_table(pair):
    a, b = pair
    result = CliRunner().invoke(main, ["compare", str(a), str(b), "--out", str(a.parent / "cmp")])
    assert result.exit_code == 0, result.output
    assert "rtt_waiting_list" in result.output and "P(B better)" in result.output
    assert f"comparison: {a.parent / 'cmp'}" in result.output


def test_refuses_duplicate_rows(tmp_path):
    cube = make_cube()
    table = trajectories_table(cube)
    with RunWriter(tmp_path / "a") as writer:
        writer.write_parquet("trajectories.parquet", pa.concat_tables([table, table.slice(0, 1)]))
        writer.finish({"seed": 7, "replications": 10})
    a = open_run(tmp_path / "a")
    with pytest.raises(InputError, match="duplicate rows"):
        paired_differences(a, a, *check_pair(a, a))


def test_refuses_runs_sharing_no_month(tmp_path):
    base = make_cube()
    later = MetricCube(base.values, base.replications, base.series, base.metrics,
                       ("2027-03-31", "2027-01-31", "2027-02-28"))
    a, b = open_run(write_run(tmp_path / "a", base)), open_run(write_run(tmp_path / "b", later))
    with pytest.raises(InputError, match="share no area and month"):
        paired_differences(a, b, *check_pair(a, b))
