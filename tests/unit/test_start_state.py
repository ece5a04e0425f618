"""Reconstruction of the RTT list by weeks waited from NHS England's aggregates."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.start_state import CANONICAL_METRICS, Reconstruction, reconstruct_waiting_times, summarise_counts

# England, March 2025 (NHS England RTT overview timeseries, shared/data/rtt_national_monthly.csv).
MARCH_2025 = {
    "waiting_list": 7_418_598.0,
    "pct_within_18w": 59.7784379205,
    "median_weeks": 13.8204404415,
    "p92_weeks": 41.8904778843,
    "over_52w": 180_243.0,
    "over_65w": 7_380.0,
    "over_78w": 1_161.0,
    "over_104w": 147.0,
}
WEEKS_AGGREGATES = ("median_weeks", "p92_weeks")


def assert_within_tolerance(summary: dict[str, float], published: dict[str, float], skip: tuple[str, ...] = ()) -> None:
    """0.05 percentage points, 0.05 weeks, or 0.5% of a count (a published zero: 1e-5 patients)."""
    for name, value in published.items():
        # NaN = not published (e.g. a quantile inside the open-ended last bin): nothing to honour.
        if name in skip or np.isnan(value):
            continue
        miss = summary[name] - value
        if name == "pct_within_18w" or name in WEEKS_AGGREGATES:
            assert abs(miss) <= 0.05, (name, miss)
        else:
            assert abs(miss) <= 0.005 * value + 1e-5, (name, miss)


def survival(counts: np.ndarray) -> np.ndarray:
    """S(j) for j = 0..n-1: patients waiting j weeks or more."""
    return np.cumsum(counts[::-1])[::-1]


def exponential_counts(waiting_list: float, tau_weeks: float, n_bins: int = 105) -> np.ndarray:
    s = waiting_list * np.exp(-np.arange(n_bins) / tau_weeks)
    return np.append(s[:-1] - s[1:], s[-1])


def test_march_2025_round_trip() -> None:
    result = reconstruct_waiting_times(**MARCH_2025)
    assert isinstance(result, Reconstruction)
    assert result.counts.dtype == np.float64
    assert result.counts.shape == (105,)
    assert result.dropped == ()
    assert_within_tolerance(summarise_counts(result.counts), MARCH_2025)
    assert set(result.errors) == set(MARCH_2025)
    # Quantiles are honoured exactly under NHS England's within-band interpolation.
    assert all(abs(error) < 1e-9 for name, error in result.errors.items() if name != "waiting_list" and name.endswith("weeks"))
    assert result.counts.sum() == pytest.approx(MARCH_2025["waiting_list"], rel=1e-12)
    assert result.counts[-1] == pytest.approx(147.0)


def test_march_2025_shape_is_sensible() -> None:
    counts = reconstruct_waiting_times(**MARCH_2025).counts
    assert np.all(counts >= 0)
    assert np.all(np.diff(survival(counts)) <= 0)
    # Weekly density falls with wait (no rise of more than 0.1% from one week to the next).
    assert np.all(counts[1:-1] <= 1.001 * counts[:-2])
    # The newest week's cohort is of the order of weekly clock starts (~1.8m a month).
    assert 300_000 < counts[0] < 450_000


def test_errors_are_reconstructed_minus_published() -> None:
    published = dict(MARCH_2025, over_52w=MARCH_2025["over_52w"] + 1000.0, median_weeks=19.0)
    result = reconstruct_waiting_times(**published)
    summary = summarise_counts(result.counts)
    for name, value in published.items():
        assert result.errors[name] == pytest.approx(summary[name] - value, abs=1e-9)


def test_counts_are_read_only() -> None:
    result = reconstruct_waiting_times(**MARCH_2025)
    with pytest.raises(ValueError):
        result.counts[0] = 0.0


@pytest.mark.parametrize("tau_weeks", [4.0, 10.0, 15.0, 40.0])
def test_exponential_list_is_reconstructed(tau_weeks: float) -> None:
    waiting_list = 1_000_000.0
    exact = exponential_counts(waiting_list, tau_weeks)
    published = summarise_counts(exact)
    result = reconstruct_waiting_times(**published)
    assert result.dropped == ()
    assert_within_tolerance(summarise_counts(result.counts), published)
    # Every bin to 52 weeks within 1% (0.1% at RTT-like tau of 10 weeks or more;
    # the curvature within a week is largest for the fastest list).
    assert np.allclose(result.counts[:52], exact[:52], rtol=0.01 if tau_weeks < 10 else 0.001)
    assert np.max(np.abs(result.counts - exact)) < 0.005 * exact[0]


def test_exponential_list_from_continuous_aggregates() -> None:
    """Published as exact continuous values rather than binned ones: still close."""
    waiting_list, tau = 2_000_000.0, 15.0
    published = {
        "waiting_list": waiting_list,
        "pct_within_18w": 100.0 * (1.0 - math.exp(-18.0 / tau)),
        "median_weeks": tau * math.log(2.0),
        "p92_weeks": tau * math.log(1.0 / 0.08),
        "over_52w": waiting_list * math.exp(-52.0 / tau),
    }
    result = reconstruct_waiting_times(**published)
    assert np.allclose(result.counts[:52], exponential_counts(waiting_list, tau)[:52], rtol=0.01)


def test_median_contradicting_18_week_share_is_dropped() -> None:
    # 55% within 18 weeks means 45% wait longer, so a median above 18 weeks is impossible.
    published = dict(MARCH_2025, pct_within_18w=55.0, median_weeks=19.0)
    result = reconstruct_waiting_times(**published)
    assert result.dropped == ("median_weeks",)
    assert result.errors["median_weeks"] < -1.0  # reported, not hidden
    assert_within_tolerance(summarise_counts(result.counts), published, skip=result.dropped)
    assert all(w != 19.0 for w, _ in result.survival_knots)


def test_long_wait_count_above_shorter_one_is_dropped() -> None:
    published = dict(MARCH_2025, over_65w=200_000.0)
    result = reconstruct_waiting_times(**published)
    assert result.dropped == ("over_65w",)
    assert result.errors["over_65w"] < 0
    assert_within_tolerance(summarise_counts(result.counts), published, skip=result.dropped)


def test_published_month_with_inconsistent_p92_is_handled() -> None:
    # England, October 2015: p92 17.8 weeks, yet 8.1% waited over 18 weeks.
    published = {
        "waiting_list": 3_532_814.0,
        "pct_within_18w": 91.9112639386,
        "median_weeks": 6.15846593,
        "p92_weeks": 17.8067204767,
        "over_52w": 987.0,
    }
    result = reconstruct_waiting_times(**published)
    assert result.dropped == ("p92_weeks",)
    assert_within_tolerance(summarise_counts(result.counts), published, skip=result.dropped)


def test_quantile_needing_a_density_spike_is_dropped() -> None:
    # England, January 2016: p92 18.004 weeks with 8.45% over 18 weeks would put
    # 0.45% of the list in 0.004 weeks of wait.
    published = {
        "waiting_list": 3_524_702.0,
        "pct_within_18w": 91.5479946957,
        "median_weeks": 6.8457550674,
        "p92_weeks": 18.0043588612,
        "over_52w": 904.0,
    }
    result = reconstruct_waiting_times(**published)
    assert result.dropped == ("p92_weeks",)
    counts = result.counts
    assert np.all(counts[1:-1] <= 1.05 * counts[:-2])


def test_zero_counts_and_missing_aggregates() -> None:
    result = reconstruct_waiting_times(500_000.0, 80.0, None, None, 0.0, over_104w=float("nan"))
    assert set(result.errors) == {"waiting_list", "pct_within_18w", "over_52w"}
    assert abs(result.errors["over_52w"]) < 1e-3
    assert np.all(result.counts >= 0)
    assert result.counts.sum() == pytest.approx(500_000.0)


@pytest.mark.parametrize("pct", [0.0, 100.0])
def test_extreme_percentages(pct: float) -> None:
    result = reconstruct_waiting_times(1000.0, pct, None, None, None)
    assert np.all(result.counts >= 0)
    assert summarise_counts(result.counts)["pct_within_18w"] == pytest.approx(pct, abs=1e-6)


def test_fewer_bins_put_the_rest_in_the_last_bin() -> None:
    result = reconstruct_waiting_times(**MARCH_2025, n_bins=53)
    assert result.counts.shape == (53,)
    assert result.counts[-1] == pytest.approx(MARCH_2025["over_52w"])
    assert math.isnan(result.errors["over_65w"])
    assert abs(result.errors["p92_weeks"]) < 1e-9


@pytest.mark.parametrize(
    ("changes", "argument"),
    [
        ({"waiting_list": -1.0}, "waiting_list"),
        ({"waiting_list": 0.0}, "waiting_list"),
        ({"waiting_list": float("nan")}, "waiting_list"),
        ({"pct_within_18w": 100.5}, "pct_within_18w"),
        ({"pct_within_18w": -0.1}, "pct_within_18w"),
        ({"median_weeks": -2.0}, "median_weeks"),
        ({"p92_weeks": float("inf")}, "p92_weeks"),
        ({"over_52w": -5.0}, "over_52w"),
        ({"over_78w": 8_000_000.0}, "over_78w"),
        ({"over_65w": "many"}, "over_65w"),
        ({"n_bins": 1}, "n_bins"),
    ],
)
def test_invalid_input_names_the_argument(changes: dict[str, object], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        reconstruct_waiting_times(**{**MARCH_2025, **changes})  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None)
@given(
    waiting_list=st.floats(1e3, 1e7),
    short_tau=st.floats(2.0, 30.0),
    long_tau=st.floats(5.0, 60.0),
    long_share=st.floats(0.0, 0.5),
)
def test_mixture_lists_round_trip(waiting_list: float, short_tau: float, long_tau: float, long_share: float) -> None:
    """Any two-exponential list: counts valid, and every aggregate kept is honoured."""
    exact = (1.0 - long_share) * exponential_counts(waiting_list, short_tau) + long_share * exponential_counts(
        waiting_list, long_tau
    )
    published = summarise_counts(exact)
    result = reconstruct_waiting_times(**published)
    assert np.all(result.counts >= 0)
    assert result.counts.sum() == pytest.approx(waiting_list, rel=1e-9)
    assert result.dropped == ()
    assert_within_tolerance(summarise_counts(result.counts), published)


def test_summarise_counts_by_hand() -> None:
    counts = np.ones(105)
    counts[-1] = 0.0  # one patient in each week 0..103
    summary = summarise_counts(counts)
    assert summary["waiting_list"] == 104.0
    assert summary["pct_within_18w"] == pytest.approx(100.0 * 18 / 104)
    assert summary["median_weeks"] == pytest.approx(52.0)
    assert summary["p92_weeks"] == pytest.approx(0.92 * 104)
    assert (summary["over_52w"], summary["over_65w"], summary["over_78w"], summary["over_104w"]) == (52, 39, 26, 0)


def test_summarise_counts_with_census_offset() -> None:
    counts = np.ones(105)
    counts[-1] = 0.0
    summary = summarise_counts(counts, census_offset_days=3.5)
    # Every wait is half a week longer: half of week 17 passes 126 days, half of week 103 passes 728.
    assert summary["pct_within_18w"] == pytest.approx(100.0 * 17.5 / 104)
    assert summary["median_weeks"] == pytest.approx(52.5)
    assert summary["over_52w"] == pytest.approx(52.5)
    assert summary["over_104w"] == pytest.approx(0.5)


def test_summarise_counts_boundaries() -> None:
    counts = np.zeros(105)
    counts[17] = 10.0  # waits of 119 to 126 days: within 18 weeks
    counts[18] = 5.0  # 126 to 133 days: over 18 weeks
    counts[52] = 2.0  # 364 to 371 days: over 52 weeks
    counts[104] = 1.0
    summary = summarise_counts(counts)
    assert summary["pct_within_18w"] == pytest.approx(100.0 * 10 / 18)
    assert summary["over_52w"] == 3.0
    assert summary["over_104w"] == 1.0
    assert summary["median_weeks"] == pytest.approx(17.9)  # 9 of 10 patients into week 17


def test_summarise_counts_open_bin_and_empty_list() -> None:
    summary = summarise_counts(np.ones(20))
    assert math.isnan(summary["over_52w"])  # inside the open bin from 19 weeks
    assert summary["p92_weeks"] == pytest.approx(18.4)
    empty = summarise_counts(np.zeros(105))
    assert empty["waiting_list"] == 0.0 and empty["over_52w"] == 0.0
    assert math.isnan(empty["pct_within_18w"]) and math.isnan(empty["median_weeks"])


def test_summarise_counts_does_not_change_input() -> None:
    counts = np.arange(105, dtype=np.float64)
    before = counts.copy()
    summarise_counts(counts, census_offset_days=2.0)
    np.testing.assert_array_equal(counts, before)


@pytest.mark.parametrize(
    ("counts", "offset", "message"),
    [
        (np.ones((2, 3)), 0.0, "1-D"),
        (np.ones(1), 0.0, "at least 2"),
        (np.array([1.0, -1.0]), 0.0, "non-negative"),
        (np.array([1.0, np.nan]), 0.0, "finite"),
        (np.ones(5), -1.0, "census_offset_days"),
    ],
)
def test_summarise_counts_rejects_bad_input(counts: np.ndarray, offset: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        summarise_counts(counts, census_offset_days=offset)


def test_summary_keys_map_to_canonical_metrics() -> None:
    assert set(summarise_counts(np.ones(105))) == set(CANONICAL_METRICS)
    assert CANONICAL_METRICS["pct_within_18w"] == "rtt_within_18w_pct"
