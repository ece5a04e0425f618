"""Month-end census: counted in days to the census date, as NHS England counts waits."""

import numpy as np
import pytest

from sim.engine import census, flow
from sim.start_state import summarise_counts

KEYS = {"rtt_waiting_list": "waiting_list", "rtt_within_18w_pct": "pct_within_18w",
        "rtt_median_weeks": "median_weeks", "rtt_p92_weeks": "p92_weeks", "rtt_over_52w": "over_52w",
        "rtt_over_65w": "over_65w", "rtt_over_78w": "over_78w", "rtt_over_104w": "over_104w"}


@pytest.mark.parametrize("offset", range(7))
def test_census_matches_the_reference_summary_at_every_day_of_the_week(offset):
    rng = np.random.default_rng(offset)
    counts = np.zeros(106)
    counts[1:] = rng.random(105) * np.exp(-np.arange(105) / 20.0) * 1e5
    got = census.wait_metrics(counts[None], offset)
    # Engine bin b holds waits of [7(b-1) + d, 7b + d) days: the reference's bin b-1 at offset d.
    want = summarise_counts(counts[1:], census_offset_days=offset)
    for metric, key in KEYS.items():
        if np.isnan(want[key]):
            continue
        assert got[metric][0] == pytest.approx(want[key], rel=1e-12, abs=1e-9), metric


def _daily_arrivals(days: int) -> np.ndarray:
    """One patient a day for ``days`` days, no removals, aged weekly as the model does."""
    stock = np.zeros((1, 1, 2, 106), dtype=np.float32)
    acc = np.zeros((1, 1, flow.N_ACC))
    zeros = np.zeros((1, 1))
    for day in range(1, days + 1):
        flow.advance(stock, acc, clock_starts=np.ones((1, 1)), nonadmitted_activity=zeros, admitted_activity=zeros,
                     dta_share=np.zeros(1), other_rate=np.zeros(1), validation_rate=np.zeros(1), validation_min_bin=0,
                     hazard=np.ones((1, 2, 106)), other_profile=np.ones(106), age=day % 7 == 0)
    return stock


@pytest.mark.parametrize("days", [400, 401, 402, 403, 404, 405, 406, 800])
def test_census_is_exact_to_the_day_for_daily_clock_starts(days):
    # At day t, the patient who started on day s has waited t - s days (spread over the
    # day before); exactly 126 of them have waited 18 weeks or less, t - 364 over 52 weeks.
    stock = _daily_arrivals(days)
    counts = stock[0, 0].sum(axis=0, dtype=np.float64)[None]
    metrics = census.wait_metrics(counts, days % 7)
    assert metrics["rtt_waiting_list"][0] == pytest.approx(days)
    assert metrics["rtt_within_18w_pct"][0] * days / 100 == pytest.approx(126.0, abs=1e-6)
    assert metrics["rtt_over_52w"][0] == pytest.approx(days - 364, abs=1e-6)
    assert metrics["rtt_median_weeks"][0] == pytest.approx(days / 2 / 7, abs=1e-6)


def test_group_sums_are_independent_of_batch_size():
    rng = np.random.default_rng(3)
    stock = rng.random((5, 7, 2, 9)).astype(np.float32)
    group = np.array([0, 1, 1, 2, 0, 2, 1])
    whole = census.sum_rows_to_groups(stock, group, 3)
    one = census.sum_rows_to_groups(stock[3:4], group, 3)
    assert np.array_equal(whole[3], one[0])
    assert whole.sum() == pytest.approx(stock.astype(np.float64).sum())


def test_empty_list_gives_undefined_percentages_not_errors():
    metrics = census.wait_metrics(np.zeros((1, 106)), 3)
    assert metrics["rtt_waiting_list"][0] == 0
    assert np.isnan(metrics["rtt_within_18w_pct"][0]) and np.isnan(metrics["rtt_median_weeks"][0])


def test_one_sweep_by_stage_gives_both_groupings_of_the_per_stage_sums():
    rng = np.random.default_rng(4)
    stock = (rng.random((3, 50, 2, 9)) * 100).astype(np.float32)
    trust, specialty = rng.integers(0, 7, 50), rng.integers(0, 4, 50)
    by_trust, by_specialty = census.sum_rows_by_stage(stock, trust, 7, specialty, 4)
    for stage in (0, 1):
        one = np.ascontiguousarray(stock[:, :, stage:stage + 1])
        np.testing.assert_allclose(by_trust[:, :, stage], census.sum_rows_to_groups(one, trust, 7), rtol=1e-12)
        np.testing.assert_allclose(by_specialty[:, :, stage], census.sum_rows_to_groups(one, specialty, 4), rtol=1e-12)
    assert by_trust.sum() == pytest.approx(stock.sum(dtype=np.float64), rel=1e-12)
