"""Tests for sim.plotting: files written, deterministic bytes, no global matplotlib state."""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest

from sim.metrics import MetricCube, SeriesKey
from sim.plotting import fan_chart, provenance_text, standard_plots, target_label
from sim.results import Target, evaluate_targets, summarise

DATES = tuple(pd.date_range("2025-04-30", periods=48, freq="ME").strftime("%Y-%m-%d"))
PROVENANCE = provenance_text("baseline", "20250601T120000-abc123", 10, "2025-06-01")
TARGETS = [
    Target("rtt_within_18w_pct", "2026-03", 65, ">="),
    Target("rtt_within_18w_pct", "2027-03", 70, ">="),
    Target("rtt_within_18w_pct", "2029-03", 92, ">="),  # outside the 48 months: not drawn
    Target("rtt_over_52w_pct", "2026-03", 1, "<="),
]


def make_summary(n_reps: int = 11, metrics: tuple[str, ...] = ("rtt_waiting_list", "rtt_within_18w_pct")) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    t = np.arange(len(DATES)) / 12
    level = {"rtt_waiting_list": 7.4e6, "rtt_within_18w_pct": 60.0, "rtt_over_52w_pct": 2.5, "rtt_p92_weeks": 42.0}
    trend = {"rtt_waiting_list": -2e5, "rtt_within_18w_pct": 4.0, "rtt_over_52w_pct": -0.4, "rtt_p92_weeks": -3.0}
    values = np.empty((n_reps, 2, len(metrics), len(DATES)))
    for m, name in enumerate(metrics):
        spread = rng.normal(size=(n_reps, 1)) * abs(trend[name]) * 0.3
        spread[0] = 0
        values[:, :, m] = (level[name] + (trend[name] + spread) * t)[:, None, :]
    cube = MetricCube(values, np.arange(n_reps), (SeriesKey("national", "ENG"), SeriesKey("region", "Y56")),
                      metrics, DATES)
    return summarise(cube), cube


def observed() -> pd.Series:
    months = pd.period_range("2023-04", "2025-03", freq="M").strftime("%Y-%m")
    return pd.Series(np.linspace(58.0, 59.8, len(months)), index=months)


def draw(tmp_path, name: str, **kwargs):
    summary, _ = make_summary()
    args = {"title": "RTT: patients waiting 18 weeks or less", "ylabel": "% of waiting list",
            "provenance": PROVENANCE, "out_stem": tmp_path / name}
    args.update(kwargs)
    return fan_chart(summary, "rtt_within_18w_pct", **args)


def test_fan_chart_writes_png_and_svg(tmp_path):
    paths = draw(tmp_path / "plots", "within18", targets=TARGETS, observed=observed())
    assert [p.name for p in paths] == ["within18.png", "within18.svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    svg = paths[1].read_text()
    assert svg.startswith("<?xml") and "<svg" in svg
    assert "<dc:date>" not in svg  # no timestamp, so re-runs are identical


def test_fan_chart_is_byte_identical_across_calls(tmp_path):
    first = draw(tmp_path, "a", targets=TARGETS, observed=observed())
    second = draw(tmp_path, "b", targets=TARGETS, observed=observed())
    assert first[1].read_bytes() == second[1].read_bytes()
    assert first[0].read_bytes() == second[0].read_bytes()


def _png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def test_the_saved_area_grows_to_hold_text_beyond_the_figure_in_both_formats(tmp_path):
    # One tight bounding box, measured once, is given to both formats: a title running past the
    # right edge must widen the PNG and the SVG alike, not be cut off.
    short = draw(tmp_path, "short")
    long = draw(tmp_path, "long", title="RTT: patients waiting 18 weeks or less " * 4)
    assert _png_size(long[0])[0] > 1.5 * _png_size(short[0])[0]
    assert _png_size(long[0])[1] == _png_size(short[0])[1]

    def svg_width(path):
        head = path.read_text()
        return float(head.split('width="', 1)[1].split("pt", 1)[0])

    assert svg_width(long[1]) > 1.5 * svg_width(short[1])


def test_fan_chart_leaves_global_matplotlib_state_alone(tmp_path):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    draw(tmp_path, "c", targets=TARGETS)
    assert dict(matplotlib.rcParams) == before
    assert matplotlib.get_backend() == backend


def test_targets_accepted_as_evaluated_frame(tmp_path):
    _, cube = make_summary()
    frame = evaluate_targets(cube, TARGETS[:2])
    paths = draw(tmp_path, "frame", targets=frame)
    assert all(p.exists() for p in paths)


def test_point_only_summary_still_plots(tmp_path):
    summary, _ = make_summary(n_reps=1)
    paths = fan_chart(summary, "rtt_waiting_list", title="RTT waiting list", ylabel="Patients",
                      provenance=PROVENANCE, out_stem=tmp_path / "point_only", units="millions")
    assert all(p.exists() for p in paths)


def test_missing_series_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="no rows"):
        draw(tmp_path, "x", area_code="Y99", level="region")
    with pytest.raises(ValueError, match="units"):
        draw(tmp_path, "x", units="furlongs")


def test_standard_plots_draw_present_metrics_and_skip_absent(tmp_path):
    summary, _ = make_summary(metrics=("rtt_waiting_list", "rtt_within_18w_pct", "rtt_p92_weeks"))
    paths = standard_plots(summary, TARGETS, tmp_path / "plots", PROVENANCE,
                           observed={"rtt_within_18w_pct": observed()})
    assert [p.name for p in paths] == [
        "rtt_waiting_list_ENG.png", "rtt_waiting_list_ENG.svg",
        "rtt_within_18w_pct_ENG.png", "rtt_within_18w_pct_ENG.svg",
        "rtt_p92_weeks_ENG.png", "rtt_p92_weeks_ENG.svg",
    ]


def test_target_labels_read_as_board_text():
    assert target_label(92, ">=", "2029-03", "pct") == "92% by Mar 2029"
    assert target_label(1, "<=", "2026-03", "pct") == "≤1% by Mar 2026"
    assert target_label(18, "<=", "2029-03", "weeks") == "≤18 weeks by Mar 2029"
    assert target_label(6.5e6, "<=", "2029-03", "millions") == "≤6.5m by Mar 2029"


def test_driver_charts_one_per_metric_at_its_last_deadline_and_byte_identical(tmp_path):
    from sim.plotting import driver_charts

    rows = []
    for deadline in ("2026-03", "2029-03"):
        for rank, (driver, p_adj) in enumerate((("shocks.rtt_activity." + deadline, 0.001), ("capacity.x_pct", 0.3)),
                                               start=1):
            rows.append({"metric": "rtt_within_18w_pct", "deadline": deadline, "rank": rank, "driver": driver,
                         "p_adjusted": p_adj, "low_median": 58.0 + rank, "high_median": 66.0 - rank,
                         "low_draw": -1.0, "high_draw": 1.0, "explained_pct": 60.0})
    rows.append({"metric": "cancer_62d_pct", "deadline": "2029-03", "rank": 1, "driver": "capacity.y_pct",
                 "p_adjusted": 0.01, "low_median": 70.0, "high_median": 74.0, "low_draw": 0.0, "high_draw": 2.0,
                 "explained_pct": float("nan")})
    drivers = pd.DataFrame(rows)
    targets = pd.DataFrame([{"metric": "rtt_within_18w_pct", "deadline": d, "level": "national", "threshold": t,
                             "direction": ">=", "p50": 62.0} for d, t in (("2026-03", 65.0), ("2029-03", 92.0))])
    first = driver_charts(drivers, targets, tmp_path / "a", PROVENANCE)
    # cancer_62d_pct has no national target row here, so no chart; RTT only at its last deadline.
    assert [p.name for p in first] == ["drivers_rtt_within_18w_pct_2029-03.png", "drivers_rtt_within_18w_pct_2029-03.svg"]
    again = driver_charts(drivers, targets, tmp_path / "b", PROVENANCE)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
