"""Hand-checkable tests for sim.results: summaries, targets, trajectories.

Run-folder writing is tested in test_run_folder.py.

The fixture cube has 11 replications where replication r holds ``base + r``,
so over replications 1..10 the linear quantiles are base + 1.45 (p5), 1.9
(p10), 5.5 (p50), 9.1 (p90), 9.55 (p95) and the mean is base + 5.5.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import sim.results as results
from sim.metrics import MetricCube, SeriesKey
from sim.results import (
    SUMMARY_COLUMNS,
    TARGET_COLUMNS,
    Target,
    evaluate_targets,
    summarise,
    trajectories_table,
    unevaluable_targets,
)

from small_cube import DATES, METRICS, N_REPS, SERIES, base, make_cube  # noqa: E402  (shared test cube)


def cell(df: pd.DataFrame, metric: str, level: str, area: str, date: str, breakdown: str = "all") -> pd.Series:
    rows = df[(df.metric == metric) & (df.level == level) & (df.area_code == area)
              & (df.breakdown == breakdown) & (df.date == date)]
    assert len(rows) == 1
    return rows.iloc[0]


# --------------------------------------------------------------------------- summarise


def test_summary_columns_and_one_row_per_metric_series_date():
    df = summarise(make_cube())
    assert tuple(df.columns) == SUMMARY_COLUMNS
    assert len(df) == len(METRICS) * len(SERIES) * len(DATES)
    assert not df.duplicated(["metric", "level", "area_code", "breakdown", "date"]).any()


def test_summary_values_are_hand_checkable():
    df = summarise(make_cube())
    b = base(3, 1, 2)  # national ENG, rtt_waiting_list, 2026-02-28
    row = cell(df, "rtt_waiting_list", "national", "ENG", "2026-02-28")
    assert row.point == b
    assert row["mean"] == pytest.approx(b + 5.5, abs=1e-9)
    for col, q in (("p5", 1.45), ("p10", 1.9), ("p50", 5.5), ("p90", 9.1), ("p95", 9.55)):
        assert row[col] == pytest.approx(b + q, abs=1e-9), col


def test_point_estimate_is_excluded_from_mean_and_quantiles():
    cube = make_cube()
    cube.values[0] = 1e9  # an outlier at replication 0 must move only `point`
    df = summarise(cube)
    row = cell(df, "rtt_within_18w_pct", "region", "Y56", "2026-01-31")
    b = base(5, 0, 1)
    assert row.point == 1e9
    assert row["mean"] == pytest.approx(b + 5.5)
    assert row.p50 == pytest.approx(b + 5.5)
    assert row.p95 == pytest.approx(b + 9.55)


def test_summary_rows_are_sorted_metric_level_area_breakdown_date():
    df = summarise(make_cube())
    first_metric = df[df.metric == "rtt_waiting_list"]
    assert df.metric.iloc[0] == "rtt_waiting_list"
    keys = first_metric[["level", "area_code", "breakdown"]].drop_duplicates().apply(tuple, axis=1).tolist()
    assert keys == [
        ("national", "ENG", "all"), ("region", "Y56", "all"), ("region", "Y57", "all"),
        ("icb", "QWE", "all"), ("trust", "RJ1", "all"), ("trust", "RJ1", "C_110"),
    ]
    assert first_metric.date.iloc[:3].tolist() == ["2026-01-31", "2026-02-28", "2026-03-31"]


def test_summary_matches_numpy_nanquantile_bit_for_bit():
    rng = np.random.default_rng(20250401)
    cube = make_cube(n_reps=37)
    cube.values[...] = rng.lognormal(3.0, 1.0, size=cube.values.shape)
    cube.values[rng.random(cube.values.shape) < 0.1] = np.nan  # undefined cells are skipped
    cube.values[1:, 0, 0, 0] = np.nan  # a cell with no defined replication at all
    df = summarise(cube)
    for _, row in df.iterrows():
        s = SERIES.index(SeriesKey(row.level, row.area_code, row.breakdown))
        x = cube.values[1:, s, METRICS.index(row.metric), DATES.index(row.date)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanquantile(x, [0.05, 0.10, 0.50, 0.90, 0.95])
            mean = np.nanmean(x)
        got = row[["p5", "p10", "p50", "p90", "p95"]].to_numpy(dtype=float)
        assert np.array_equal(got, expected, equal_nan=True)
        assert np.isclose(row["mean"], mean, rtol=1e-13, equal_nan=True)


def test_summary_with_only_the_point_estimate_has_nan_spread():
    df = summarise(make_cube(n_reps=1))
    assert (df.point.notna()).all()
    assert df[["mean", "p5", "p10", "p50", "p90", "p95"]].isna().all().all()


def test_summary_is_independent_of_batch_order_and_chunking(monkeypatch):
    ordered = summarise(make_cube())
    shuffled_reps = np.array([3, 0, 10, 1, 7, 2, 9, 4, 8, 5, 6])
    shuffled = summarise(make_cube(replications=shuffled_reps))
    monkeypatch.setattr(results, "_CHUNK_CELLS", 1)
    chunked = summarise(make_cube())
    pd.testing.assert_frame_equal(ordered, shuffled, check_exact=True)
    pd.testing.assert_frame_equal(ordered, chunked, check_exact=True)


def test_summary_rejects_duplicate_series():
    cube = make_cube()
    bad = MetricCube(cube.values[:, :2], cube.replications, (SERIES[1], SERIES[1]), METRICS, DATES)
    with pytest.raises(ValueError, match="duplicate series"):
        summarise(bad)


# --------------------------------------------------------------------------- targets

NAT = 3  # position of the national series in SERIES


def test_probability_met_hand_checked_both_directions():
    b = base(NAT, 0, 0)  # rtt_within_18w_pct at 2026-03-31: replications 1..10 hold b+1..b+10
    targets = [
        Target("rtt_within_18w_pct", "2026-03", b + 7, ">="),  # r = 7..10 meet
        Target("rtt_within_18w_pct", "2026-03", b + 7, "<="),  # r = 1..7 meet
        Target("rtt_within_18w_pct", "2026-03", b + 0.5, ">="),  # all meet; the point (b) does not count
    ]
    df = evaluate_targets(make_cube(), targets)
    assert tuple(df.columns) == TARGET_COLUMNS
    assert df.probability_met.tolist() == [pytest.approx(0.4), pytest.approx(0.7), pytest.approx(1.0)]
    first = df.iloc[0]
    assert (first.metric, first.deadline, first.direction, first.level, first.area_code) == (
        "rtt_within_18w_pct", "2026-03", ">=", "national", "ENG")
    assert first.threshold == b + 7
    assert first.point == b
    assert first.p10 == pytest.approx(b + 1.9)
    assert first.p50 == pytest.approx(b + 5.5)
    assert first.p90 == pytest.approx(b + 9.1)


def test_star_expands_to_every_area_of_the_level_on_breakdown_all():
    df = evaluate_targets(make_cube(), [
        Target("rtt_waiting_list", "2026-01", 0, ">=", level="region", area_code="*"),
        Target("rtt_waiting_list", "2026-01", 0, ">=", level="trust"),
        Target("rtt_waiting_list", "2026-01", 0, ">=", level="region", area_code="Y57"),
    ])
    assert list(zip(df.level, df.area_code)) == [
        ("region", "Y56"), ("region", "Y57"), ("trust", "RJ1"), ("region", "Y57")]


def test_targets_outside_the_horizon_are_skipped_with_a_warning():
    targets = [
        Target("rtt_within_18w_pct", "2029-03", 92, ">="),
        Target("cancer_fds_pct", "2026-03", 80, ">="),
        Target("rtt_within_18w_pct", "2026-02", 50, ">="),
    ]
    with pytest.warns(UserWarning, match="2029-03.*outside"):
        df = evaluate_targets(make_cube(), targets)
    assert df.deadline.tolist() == ["2026-02"]
    skipped = unevaluable_targets(make_cube(), targets)
    assert [t.deadline for t, _ in skipped] == ["2029-03", "2026-03"]
    assert "not in the results" in skipped[1][1]


def test_undefined_values_count_as_not_met():
    cube = make_cube()
    cube.values[1:6, NAT, 0, 0] = np.nan
    df = evaluate_targets(cube, [Target("rtt_within_18w_pct", "2026-03", -1e9, ">=")])
    assert df.probability_met.iloc[0] == pytest.approx(0.5)


def test_no_monte_carlo_replications_gives_nan_probability():
    df = evaluate_targets(make_cube(n_reps=1), [Target("rtt_waiting_list", "2026-03", 0, ">=")])
    assert df.point.iloc[0] == base(NAT, 1, 0)
    assert np.isnan(df.probability_met.iloc[0]) and np.isnan(df.p50.iloc[0])


def test_target_validation_and_parsing():
    with pytest.raises(ValueError, match="direction"):
        Target("rtt_within_18w_pct", "2029-03", 92, ">")
    with pytest.raises(ValueError, match="YYYY-MM"):
        Target("rtt_within_18w_pct", "2029-13", 92, ">=")
    with pytest.raises(ValueError, match="level"):
        Target("rtt_within_18w_pct", "2029-03", 92, ">=", level="ward")
    parsed = Target.parse("rtt_within_18w_pct>=92@2029-03")
    assert parsed == Target("rtt_within_18w_pct", "2029-03", 92.0, ">=")
    with pytest.raises(ValueError, match="form"):
        Target.parse("rtt_within_18w_pct=92@2029-03")


# --------------------------------------------------------------------------- trajectories


def test_trajectories_rows_columns_and_dtypes():
    cube = make_cube()
    table = trajectories_table(cube)
    kept = 4  # national, two regions, one ICB; trusts and breakdowns are left out
    assert table.num_rows == len(METRICS) * kept * N_REPS * len(DATES)
    assert table.column_names == ["replication", "date", "level", "area_code", "breakdown", "metric", "value"]
    assert table.schema.field("replication").type == pa.int32()
    assert table.schema.field("date").type == pa.string()
    for name in ("level", "area_code", "breakdown", "metric"):
        assert table.schema.field(name).type == pa.dictionary(pa.int32(), pa.string())
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.metadata is None


def test_trajectories_order_and_values_match_the_cube():
    cube = make_cube()
    df = trajectories_table(cube).to_pandas()
    first = df.iloc[: len(DATES)]
    assert first.metric.astype(str).unique().tolist() == ["rtt_waiting_list"]
    assert first.date.tolist() == ["2026-01-31", "2026-02-28", "2026-03-31"]
    assert first.replication.tolist() == [0, 0, 0]
    for row in df.sample(n=25, random_state=1).itertuples():
        s = SERIES.index(SeriesKey(row.level, row.area_code, row.breakdown))
        expected = base(s, METRICS.index(row.metric), DATES.index(row.date)) + row.replication
        assert row.value == expected
    assert set(df.level.astype(str)) == {"national", "region", "icb"}


def test_trajectories_keep_levels_and_breakdowns():
    cube = make_cube()
    with_trusts = trajectories_table(cube, keep_levels=("trust",))
    assert with_trusts.num_rows == len(METRICS) * 1 * N_REPS * len(DATES)
    everything = trajectories_table(cube, keep_levels=("national", "region", "icb", "trust"), keep_breakdowns=True)
    assert everything.num_rows == len(METRICS) * len(SERIES) * N_REPS * len(DATES)
    assert trajectories_table(cube, keep_levels=()).num_rows == 0


def test_improvement_rule_takes_the_stricter_of_floor_and_own_baseline_per_replication():
    # Cell value = base(s, m, d) + r. With a floor below every value, only the improvement
    # counts: value(deadline) >= value(from) + pp  <=>  base(deadline) - base(from) >= pp.
    cube = make_cube()
    m = METRICS.index("rtt_within_18w_pct")
    gain = base(0, m, 0) - base(0, m, 2)  # 2026-03-31 minus 2026-02-28 (same for every replication)
    met = Target("rtt_within_18w_pct", "2026-03", -1e9, ">=", "national", "ENG",
                 improvement_pp=gain, improvement_from="2026-02")
    missed = Target("rtt_within_18w_pct", "2026-03", -1e9, ">=", "national", "ENG",
                    improvement_pp=gain + 1, improvement_from="2026-02")
    frame = evaluate_targets(cube, [met, missed])
    assert frame["probability_met"].tolist() == [1.0, 0.0]
    assert frame["threshold"].iloc[0] == pytest.approx(base(3, m, 2) + gain)  # point's own baseline + gain
