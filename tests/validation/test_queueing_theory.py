"""The flow engine against queueing theory: results that hold whatever the data."""

import numpy as np
import pytest

from sim.calibration import single_row_geography
from sim.engine import census, flow
from sim.engine.inputs import MonthlyInputs
from sim.model import NHSModel
from sim.calendar import month_range
from sim.scenarios.flows import N_ENGINE_BINS

BINS = N_ENGINE_BINS


def _day(stock, acc, *, starts, activity=0.0, other=0.0, day):
    """Advance one calendar day; every day is a working day here, so rates are per day."""
    n_rows = stock.shape[1]
    flow.advance(stock, acc, clock_starts=np.full((1, n_rows), starts), nonadmitted_activity=np.full((1, n_rows), activity),
                 admitted_activity=np.zeros((1, n_rows)), dta_share=np.zeros(1), other_rate=np.full(1, other),
                 validation_rate=np.zeros(1), validation_min_bin=0, hazard=np.ones((1, 2, BINS)),
                 other_profile=np.ones(BINS), age=day % 7 == 0)


def _exponential_list(size: float, mean_weeks: float) -> np.ndarray:
    stock = np.zeros((1, 1, 2, BINS), dtype=np.float32)
    w = np.arange(BINS)
    s = np.exp(-np.maximum(w - 1, 0) / mean_weeks) - np.exp(-w / mean_weeks)
    s[0] = 0.0
    s[-1] = np.exp(-(BINS - 2) / mean_weeks)
    stock[0, 0, 0] = size * s / s.sum()
    return stock


def test_random_order_removal_gives_92_percent_at_7_13_weeks_of_clock_stops():
    # Demand = capacity = C a day, removal in random order (flat priority), list held at
    # 18 / ln(12.5) = 7.13 weeks of clock stops: in the stationary state each patient
    # leaves at rate 1/7.13 a week, so exp(-18 / 7.13) = 8% wait over 18 weeks.
    c_per_day = 1000.0
    weeks_of_stops = 18.0 / np.log(12.5)
    size = weeks_of_stops * 7 * c_per_day
    stock = _exponential_list(size, 3.0)  # start far from the answer
    acc = np.zeros((1, 1, flow.N_ACC))
    for day in range(1, 7 * 150 + 1):
        _day(stock, acc, starts=c_per_day, activity=c_per_day, day=day)
    counts = stock[0, 0].sum(axis=0, dtype=np.float64)[None]
    metrics = census.wait_metrics(counts, 0)
    assert metrics["rtt_waiting_list"][0] == pytest.approx(size, rel=1e-4)
    assert metrics["rtt_within_18w_pct"][0] == pytest.approx(92.0, abs=0.3)


def test_littles_law_on_simulated_stocks_and_flows():
    # L = lambda * W. A second row gets one tagged cohort and the same per-patient
    # removal rate; its survival gives the mean time in the system W independently of
    # the stock it is compared with.
    lam, q = 500.0, 0.01  # clock starts a day, share removed a day
    stock = np.zeros((1, 2, 2, BINS), dtype=np.float32)
    acc = np.zeros((1, 2, flow.N_ACC))
    tagged = []
    for day in range(1, 7 * 100 + 1):
        starts = np.array([[lam, 1.0 if day == 1 else 0.0]])
        flow.advance(stock, acc, clock_starts=starts, nonadmitted_activity=np.zeros((1, 2)),
                     admitted_activity=np.zeros((1, 2)), dta_share=np.zeros(1), other_rate=np.full(1, q),
                     validation_rate=np.zeros(1), validation_min_bin=0, hazard=np.ones((1, 2, BINS)),
                     other_profile=np.ones(BINS), age=day % 7 == 0)
        tagged.append(float(stock[0, 1].sum(dtype=np.float64)))
    list_size = float(stock[0, 0].sum(dtype=np.float64))
    mean_days_in_system = float(np.sum(tagged))  # each day survived adds a day
    assert list_size == pytest.approx(lam * mean_days_in_system, rel=0.01)


def _constant_inputs(months, per_wd, activity_per_wd, bins=BINS):
    n = len(months)
    return MonthlyInputs(
        months=months, clock_starts_per_wd=np.full((1, n), per_wd),
        nonadmitted_activity_per_wd=np.full((1, n), activity_per_wd), admitted_activity_per_wd=np.zeros((1, n)),
        dta_share=np.zeros((1, n)), other_removals_share=np.zeros((1, n)), validation_share=np.zeros((1, n)),
        validation_min_bin=0, row_demand_share=np.ones(1), row_capacity_share=np.ones((1, 1)),
        hazard=np.ones((1, n, 2, bins)), other_profile=np.ones(bins))


def test_list_is_stationary_when_demand_equals_capacity_in_the_deterministic_mode():
    months = month_range("2025-04", "2027-03")
    stock = _exponential_list(1e6, 12.0)
    model = NHSModel(single_row_geography(), stock, _constant_inputs(months, 5000.0, 5000.0),
                     np.zeros(1, dtype=np.int64), np.random.default_rng(0))
    cube = model.run()
    lists = cube.values[0, 0, cube.metric_index("rtt_waiting_list")]
    np.testing.assert_allclose(lists, 1e6, rtol=1e-5)
    starts = cube.values[0, 0, cube.metric_index("rtt_clock_starts"), 1:]
    stops = cube.values[0, 0, cube.metric_index("rtt_clock_stops"), 1:]
    np.testing.assert_allclose(starts, stops, rtol=1e-6)


def test_model_flows_follow_working_days_and_the_census_is_at_each_month_end():
    months = month_range("2025-04", "2025-12")
    model = NHSModel(single_row_geography(), _exponential_list(1e6, 12.0), _constant_inputs(months, 1000.0, 0.0),
                     np.zeros(1, dtype=np.int64), np.random.default_rng(0))
    cube = model.run()
    assert cube.dates[0] == "2025-03-31" and cube.dates[1] == "2025-04-30" and cube.dates[-1] == "2025-12-31"
    starts = cube.values[0, 0, cube.metric_index("rtt_clock_starts"), 1:]
    # April 2025: 20 working days (Good Friday, Easter Monday); December 2025: 21.
    assert starts[0] == pytest.approx(20_000.0)
    assert starts[-1] == pytest.approx(21_000.0)
    lists = cube.values[0, 0, cube.metric_index("rtt_waiting_list")]
    np.testing.assert_allclose(np.diff(lists), starts, rtol=1e-5)
