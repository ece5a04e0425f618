"""The patient-level diagnostic DES: hand-checkable slots and censuses, priorities, vetting, conservation, replay."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.des_run import cube_values, month_end_means, plan_des, vetting_for
from sim.engine import des
from sim.engine.des import OTHER, RTT, URGENT, DESCalendar, DiagnosticUnit, Requests, Vetting
from sim.rng import stream

APRIL = des.des_calendar("2025-04", "2025-04")  # 30 days, 20 working days (Good Friday, Easter Monday)
HOUR = 1.0 / 24.0


def _requests(times, classes, n_start=0, removed=None) -> Requests:
    times = np.asarray(times, dtype=np.float64)
    return Requests(times, np.asarray(classes, dtype=np.int8),
                    np.zeros(times.size, dtype=bool) if removed is None else np.asarray(removed), n_start)


def _calendar(n_days: int, census=None) -> DESCalendar:
    census = [0.0, float(n_days)] if census is None else census
    return DESCalendar(np.arange(n_days, dtype=np.float64), np.asarray(census, dtype=np.float64),
                       tuple(f"d{k}" for k in range(len(census))))


# --------------------------------------------------------------------------- calendar and inputs


def test_calendar_has_england_working_days_and_month_end_censuses():
    cal = des.des_calendar("2025-04", "2025-06")
    assert cal.dates == ("2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30")
    assert cal.census_times.tolist() == [0.0, 30.0, 61.0, 91.0]
    # April 2025: 22 weekdays less Good Friday (18th) and Easter Monday (21st); May: 22 less two bank holidays.
    per_month = np.histogram(cal.working_days, bins=cal.census_times)[0]
    assert per_month.tolist() == [20, 20, 21]
    assert 17.0 not in cal.working_days and 20.0 not in cal.working_days  # 18 and 21 April (day 0 = 1 April)
    assert des.days_since_start("2025-04", "2025-06") == 61.0


def test_a_zero_length_calendar_has_the_start_census_only():
    cal = des.des_calendar("2025-04", "2025-03")
    assert cal.dates == ("2025-03-31",) and cal.census_times.tolist() == [0.0] and cal.working_days.size == 0
    with pytest.raises(ValueError, match="before first month"):
        des.des_calendar("2025-04", "2025-02")


def test_fractional_sessions_spread_whole_sessions_with_an_exact_mean():
    assert des.sessions_by_day(2.5, 6).tolist() == [2, 3, 2, 3, 2, 3]
    assert des.sessions_by_day(11.476, 1000).sum() == 11476
    assert des.sessions_by_day(0.0, 5).tolist() == [0] * 5


def test_start_list_waits_spread_evenly_within_each_week_longest_first():
    waits = des.start_list_waits([2, 0, 1])
    assert waits.tolist() == pytest.approx([17.5, 5.25, 1.75])


def test_bad_units_are_refused():
    with pytest.raises(ValueError):
        DiagnosticUnit((1.0, -1.0, 0.0), 1.0, 1)
    with pytest.raises(ValueError):
        DiagnosticUnit((1.0, 1.0, 0.0), 1.0, 0)
    with pytest.raises(ValueError):
        Vetting(removal_share=1.5)
    unit = DiagnosticUnit.from_tests_per_working_day((1, 2, 3), 30.0, [4], tests_per_session=10)
    assert unit.sessions_per_working_day == 3.0 and unit.tests_per_working_day == 30.0


# --------------------------------------------------------------------------- priorities


def test_each_slot_calls_the_most_urgent_patient_waiting():
    # One session a day of two slots, 08:00 and 10:00. By 08:00 an "other" (00:30) and an RTT (02:00)
    # request wait: the RTT one goes first. An urgent one arrives at 09:00 and takes the 10:00 slot.
    # The "other" request waits for 08:00 the next day.
    unit = DiagnosticUnit((0, 0, 0), 1.0, 2)
    reqs = _requests([0.5 * HOUR, 2 * HOUR, 9 * HOUR], [OTHER, RTT, URGENT])
    res = des.run_sessions([unit], [reqs], _calendar(3), session_hours=4.0)
    log = res.logs[0]
    assert log.classes.tolist() == [RTT, URGENT, OTHER]
    assert log.test_time.tolist() == pytest.approx([8 * HOUR, 10 * HOUR, 1 + 8 * HOUR])
    assert log.wait_days.tolist() == pytest.approx([6 * HOUR, 1 * HOUR, 1 + 7.5 * HOUR])


def test_a_slot_with_nobody_waiting_is_lost():
    # One slot a day, at 08:00. Day 0's slot finds nobody (the requests come at 09:00 and 09:30) and is lost,
    # so they are tested at 08:00 on days 1 and 2.
    unit = DiagnosticUnit((0, 0, 0), 1.0, 1)
    reqs = _requests([9 * HOUR, 9.5 * HOUR], [RTT, RTT])
    res = des.run_sessions([unit], [reqs], _calendar(3))
    assert res.logs[0].test_time.tolist() == pytest.approx([1 + 8 * HOUR, 2 + 8 * HOUR])


def test_urgent_before_rtt_before_other_and_in_turn_within_a_source():
    # Overloaded (demand 2x capacity): no patient is tested while a more urgent one who had already
    # arrived is still waiting, and each source is tested in arrival order.
    unit = DiagnosticUnit((10.0, 20.0, 30.0), 3.0, 10)
    res = des.simulate([unit], APRIL, stream(1, 0, "des"))
    log = res.logs[0]
    assert log.test_time.size > 0
    untested = des.draw_requests([unit], APRIL, stream(1, 0, "des"))[0]
    for c in (URGENT, RTT, OTHER):
        mine = log.classes == c
        assert np.all(np.diff(log.arrival_time[mine]) >= 0)
        for higher in range(c):
            arr = untested.times[untested.classes == higher]  # arrival order
            tested_at = np.full(arr.size, np.inf)
            done = log.classes == higher
            tested_at[:done.sum()] = log.test_time[done]  # FIFO: the first ones are the tested ones
            latest = np.maximum.accumulate(tested_at)
            idx = np.searchsorted(arr, log.test_time[mine], side="right")
            assert np.all(latest[idx[idx > 0] - 1] <= log.test_time[mine][idx > 0])
    waits = [log.wait_days[log.classes == c].mean() for c in (URGENT, RTT, OTHER)]
    assert waits[0] < waits[1] < waits[2]
    assert (log.classes == OTHER).sum() < 0.5 * res.requests[0, OTHER].sum()  # "other" starves


# --------------------------------------------------------------------------- vetting


def test_vetting_removes_the_share_of_non_urgent_requests_within_binomial_bounds():
    cal = des.des_calendar("2025-04", "2026-03")
    start = des.days_since_start("2025-04", "2025-10")
    unit = DiagnosticUnit((40.0, 80.0, 80.0), 10.0, 20)
    p = 0.3
    res = des.simulate([unit], cal, stream(3, 1, "des"), Vetting(p, start))
    made, removed = res.requests[0], res.removed[0]
    before = cal.census_times[1:] <= start  # months ending before vetting starts: columns 1..6
    assert removed[:, 1:][:, before].sum() == 0
    assert removed[URGENT].sum() == 0
    n = (made + removed)[RTT:, 1:][:, ~before].sum()
    k = removed[RTT:, 1:][:, ~before].sum()
    sd = np.sqrt(n * p * (1 - p))
    assert abs(k - n * p) < 4 * sd, (k, n * p, sd)
    # Requests made are thinned by the share: Poisson mean (1 - p) x rate per working day.
    days_after = (cal.working_days >= start).sum()
    expected = 160.0 * days_after * (1 - p)
    assert abs(made[RTT:, 1:][:, ~before].sum() - expected) < 4 * np.sqrt(expected)


def test_vetting_can_include_urgent_requests_and_never_touches_the_start_list():
    unit = DiagnosticUnit((100.0, 0.0, 0.0), 0.0, 1, (50, 50))
    res = des.simulate([unit], APRIL, stream(3, 2, "des"), Vetting(0.5, 0.0, exempt_urgent=False))
    n, k = (res.requests + res.removed)[0, URGENT].sum(), res.removed[0, URGENT].sum()
    assert abs(k - 0.5 * n) < 4 * np.sqrt(n * 0.25)
    assert res.start_list[0].sum() == 100


def test_vetting_thins_the_same_arrivals_common_random_numbers():
    unit = DiagnosticUnit((5.0, 30.0, 30.0), 5.0, 12)
    base = des.draw_requests([unit], APRIL, stream(9, 1, "des"))[0]
    vetted = des.draw_requests([unit], APRIL, stream(9, 1, "des"), Vetting(0.2))[0]
    assert np.array_equal(base.times, vetted.times) and np.array_equal(base.classes, vetted.classes)
    assert not base.removed.any() and vetted.removed.any()


# --------------------------------------------------------------------------- conservation and census


def _conserved(res) -> None:
    n_census = res.waiting_list.shape[1]
    for u in range(res.waiting_list.shape[0]):
        inflow = np.cumsum(res.requests[u].sum(axis=0))
        outflow = np.cumsum(res.tests[u].sum(axis=0))
        assert np.array_equal(res.start_list[u].sum() + inflow - outflow, res.waiting_list[u])
        assert res.logs[u].test_time.size == res.tests[u].sum()
        assert np.all(res.logs[u].wait_days >= 0)
        assert res.tests[u, :, 0].sum() == 0 and res.requests[u, :, 0].sum() == 0
        assert np.all(res.over_6w[u] <= res.waiting_list[u]) and np.all(res.over_6w[u] >= 0)
    assert res.waiting_list.shape[1] == n_census


def test_start_list_plus_requests_equals_tests_plus_still_waiting():
    cal = des.des_calendar("2025-04", "2025-09")
    units = [DiagnosticUnit((13.9, 62.55, 62.55), 11.476, 12, (656, 855, 575, 572, 464, 315, 70, 85, 61, 37)),
             DiagnosticUnit((5.0, 5.0, 5.0), 2.0, 10, ())]
    res = des.simulate(units, cal, stream(5, 1, "des"), Vetting(0.1, 60.0))
    _conserved(res)
    assert res.waiting_list[0, 0] == 3690 and res.waiting_list[1, 0] == 0


@settings(max_examples=25, deadline=None)
@given(rates=st.tuples(*[st.floats(0, 30)] * 3), sessions=st.integers(0, 5), tests_per_session=st.integers(1, 8),
       start=st.lists(st.integers(0, 40), max_size=12), seed=st.integers(0, 1000))
def test_patients_are_conserved_and_more_sessions_never_lengthen_the_list(rates, sessions, tests_per_session,
                                                                         start, seed):
    units = [DiagnosticUnit(rates, sessions, tests_per_session, tuple(start)),
             DiagnosticUnit(rates, sessions + 1, tests_per_session, tuple(start))]
    reqs = des.draw_requests(units[:1], APRIL, stream(seed, 0, "des"))
    res = des.run_sessions(units, reqs * 2, APRIL)
    _conserved(res)
    assert np.all(res.waiting_list[1] <= res.waiting_list[0])


def test_census_counts_waits_of_42_days_or_more_by_hand():
    # Start list: 7 in week 1 (waits 7.5, 8.5, ..., 13.5 days), 2 in week 6 (43.75, 47.25 days); nothing else.
    unit = DiagnosticUnit((0, 0, 0), 0.0, 1, (0, 7, 0, 0, 0, 0, 2))
    res = des.simulate([unit], APRIL, stream(1, 0, "des"))
    # Time 0: only week 6 is over 6 weeks. End of April (+30 days): week 1 waits 37.5..43.5 days,
    # of which 42.5 and 43.5 are over 6 weeks, plus both week-6 patients: 4 of 9.
    assert res.waiting_list[0].tolist() == [9, 9]
    assert res.over_6w[0].tolist() == [2, 4]
    assert res.over_6w_pct()[0].tolist() == pytest.approx([100 * 2 / 9, 100 * 4 / 9])


def test_census_boundary_a_wait_of_exactly_42_days_counts():
    unit = DiagnosticUnit((0, 0, 0), 0.0, 1)
    reqs = _requests([-12.0, -11.5, 3.0], [RTT, OTHER, URGENT], n_start=2)
    res = des.run_sessions([unit], [reqs], _calendar(30, [0.0, 30.0]))
    assert res.waiting_list[0].tolist() == [2, 3]
    assert res.over_6w[0].tolist() == [0, 1]
    assert np.isnan(des.run_sessions([unit], [_requests([], [])], APRIL).over_6w_pct()).all()


# --------------------------------------------------------------------------- replay


def test_same_seed_gives_identical_arrays_and_another_seed_does_not():
    cal = des.des_calendar("2025-04", "2025-06")
    units = [DiagnosticUnit((3.0, 10.0, 12.0), 2.1, 12, (20, 30, 10)), DiagnosticUnit((1.0, 4.0, 4.0), 0.9, 10)]

    def arrays(seed):
        res = des.simulate(units, cal, stream(seed, 4, "des"), Vetting(0.2, 20.0))
        logs = [a for lg in res.logs for a in (lg.test_time, lg.arrival_time, lg.classes)]
        return [res.waiting_list, res.over_6w, res.tests, res.requests, res.removed, res.start_list, *logs]

    a, b, c = arrays(7), arrays(7), arrays(8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


# --------------------------------------------------------------------------- runner glue


def test_cube_sums_units_into_national_trust_and_test_series():
    from sim.des_config import DesScenario

    doc = {"name": "two", "start": "2025-04", "end": "2025-05", "replications": 1,
           "trusts": [{"code": "RAA", "tests": {"ct": {"arrivals_per_working_day": {"urgent": 1, "rtt": 1, "other": 1},
                                                        "sessions_per_working_day": 1, "tests_per_session": 3,
                                                        "start_waiting_by_week": [1, 2, 3, 4, 5, 6, 7]},
                                                 "mri": {"arrivals_per_working_day": {"urgent": 0, "rtt": 0, "other": 0},
                                                         "sessions_per_working_day": 0, "tests_per_session": 1}}},
                      {"code": "RBB", "tests": {"mri": {"arrivals_per_working_day": {"urgent": 0, "rtt": 2, "other": 0},
                                                        "sessions_per_working_day": 1, "tests_per_session": 1,
                                                        "start_waiting_by_week": [0, 0, 0, 0, 0, 0, 0, 10]}}}],
           "rttt": {"removal_share": {"dist": "uniform", "low": 0.1, "high": 0.3}, "start": "2025-05"}}
    plan = plan_des(DesScenario.model_validate(doc))
    assert plan.test_keys == ("mri", "ct") and plan.trust_codes == ("RAA", "RBB")
    assert [(plan.trust_codes[t], plan.test_keys[k]) for t, k in zip(plan.unit_trust, plan.unit_test)] == \
        [("RAA", "mri"), ("RAA", "ct"), ("RBB", "mri")]
    assert vetting_for(plan, 0).removal_share == pytest.approx(0.2)
    assert 0.1 <= vetting_for(plan, 1).removal_share <= 0.3 and vetting_for(plan, 1) == vetting_for(plan, 1)
    res = des.simulate(plan.units, plan.calendar, stream(1, 1, "des"), vetting_for(plan, 1))
    values = cube_values(plan.members(), res)
    keys = [(k.level, k.area_code, k.breakdown) for k in plan.series]
    assert keys == [("national", "ENG", "all"), ("trust", "RAA", "all"), ("trust", "RBB", "all"),
                    ("national", "ENG", "mri"), ("national", "ENG", "ct")]
    wl = res.waiting_list
    assert values[0, 0].tolist() == wl.sum(axis=0).tolist()
    assert values[1, 0].tolist() == (wl[0] + wl[1]).tolist() and values[3, 0].tolist() == (wl[0] + wl[2]).tolist()
    assert values[2, 1, 0] == 100.0 and values[1, 1, 0] == pytest.approx(100 * 7 / 28)
    assert np.isnan(values[:, 2, 0]).all() and values[0, 2, 1:].tolist() == res.tests.sum(axis=(0, 1))[1:].tolist()


def test_month_end_means_for_one_trusts_tests():
    tests = {"mri": DiagnosticUnit.from_tests_per_working_day((1.0, 4.0, 4.0), 9.5, [40, 30, 20, 10, 5, 5, 5]),
             "ct": DiagnosticUnit.from_tests_per_working_day((2.0, 3.0, 3.0), 9.0, [])}
    out = month_end_means(tests, "2025-04", "2025-06", replications=3, seed=11)
    assert list(out.columns) == ["date", "test", "waiting_list", "over_6w", "over_6w_pct", "over_6w_pct_of_means",
                                 "tests"]
    assert out["date"].unique().tolist() == ["2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30"]
    first = out[out["date"] == "2025-03-31"].set_index("test")
    assert first.loc["all", "waiting_list"] == 115 and first.loc["mri", "over_6w_pct"] == pytest.approx(500 / 115)
    assert np.isnan(first.loc["ct", "over_6w_pct"]) and np.isnan(first["tests"]).all()
    later = out[out["date"] != "2025-03-31"].set_index(["date", "test"])
    total = later.xs("all", level="test")["waiting_list"]
    parts = later.xs("mri", level="test")["waiting_list"] + later.xs("ct", level="test")["waiting_list"]
    assert np.allclose(total, parts)
