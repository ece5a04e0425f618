"""England working-day calendar: values checked by hand against GOV.UK bank holidays."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from sim.calendar import (
    bank_holidays,
    easter_sunday,
    month_end,
    month_ends,
    month_label,
    parse_month,
    working_days,
    working_days_in_month,
)

D = dt.date


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, D(2024, 3, 31)), (2025, D(2025, 4, 20)), (2026, D(2026, 4, 5)), (2030, D(2030, 4, 21)), (2038, D(2038, 4, 25))],
)
def test_easter_sunday(year: int, easter: dt.date) -> None:
    assert easter_sunday(year) == easter


def test_2025_holidays_match_gov_uk() -> None:
    assert sorted(bank_holidays(2025, 2025)) == [
        D(2025, 1, 1),
        D(2025, 4, 18),
        D(2025, 4, 21),
        D(2025, 5, 5),
        D(2025, 5, 26),
        D(2025, 8, 25),
        D(2025, 12, 25),
        D(2025, 12, 26),
    ]


def test_2022_jubilee_and_state_funeral() -> None:
    holidays = bank_holidays(2022, 2022)
    assert {D(2022, 6, 2), D(2022, 6, 3), D(2022, 9, 19)} <= holidays
    assert D(2022, 5, 30) not in holidays  # spring holiday moved to 2 June
    # New Year's Day on Saturday -> Monday 3 Jan; Christmas on Sunday -> 26 and 27 Dec.
    assert {D(2022, 1, 3), D(2022, 12, 26), D(2022, 12, 27)} <= holidays
    assert len(holidays) == 10


def test_2023_coronation() -> None:
    holidays = bank_holidays(2023, 2023)
    assert {D(2023, 5, 1), D(2023, 5, 8), D(2023, 5, 29)} <= holidays
    assert len(holidays) == 9


def test_other_one_off_changes() -> None:
    assert D(2011, 4, 29) in bank_holidays(2011, 2011)
    holidays_2012 = bank_holidays(2012, 2012)
    assert {D(2012, 6, 4), D(2012, 6, 5)} <= holidays_2012
    assert D(2012, 5, 28) not in holidays_2012
    holidays_2020 = bank_holidays(2020, 2020)
    assert D(2020, 5, 8) in holidays_2020
    assert D(2020, 5, 4) not in holidays_2020


def test_christmas_on_saturday_substitutes_monday_and_tuesday() -> None:
    assert D(2027, 12, 25).weekday() == 5
    december = {d for d in bank_holidays(2027, 2027) if d.month == 12}
    assert december == {D(2027, 12, 27), D(2027, 12, 28)}


def test_christmas_on_friday_moves_boxing_day_to_monday() -> None:
    december = {d for d in bank_holidays(2026, 2026) if d.month == 12}
    assert december == {D(2026, 12, 25), D(2026, 12, 28)}


def test_years_after_2035_follow_the_rules() -> None:
    holidays = bank_holidays(2040, 2040)
    assert len(holidays) == 8
    assert all(d.weekday() < 5 for d in holidays)


def test_range_is_union_of_years() -> None:
    assert bank_holidays(2022, 2023) == bank_holidays(2022, 2022) | bank_holidays(2023, 2023)


@pytest.mark.parametrize(("first", "last"), [(1977, 1980), (2025, 2024)])
def test_bank_holidays_rejects_bad_range(first: int, last: int) -> None:
    with pytest.raises(ValueError, match="year"):
        bank_holidays(first, last)


def test_working_days_in_months() -> None:
    assert working_days_in_month(2025, 4) == 20  # 22 weekdays less Good Friday and Easter Monday
    assert working_days_in_month(2025, 12) == 21  # 23 weekdays less 25 and 26 December
    assert working_days_in_month(2022, 6) == 20  # 22 weekdays less the jubilee holidays


def test_working_days_in_2025() -> None:
    # 261 weekdays (1 Jan 2025 is a Wednesday, so 52 weeks plus Wednesday 31 Dec)
    # less 8 bank holidays, all on weekdays: 253, not the 252 sometimes quoted.
    assert working_days(D(2025, 1, 1), D(2026, 1, 1)) == 253
    assert sum(working_days_in_month(2025, m) for m in range(1, 13)) == 253


def test_working_days_is_end_exclusive() -> None:
    assert working_days(D(2025, 3, 3), D(2025, 3, 3)) == 0
    assert working_days(D(2025, 3, 3), D(2025, 3, 4)) == 1  # Monday
    assert working_days(D(2025, 3, 8), D(2025, 3, 10)) == 0  # weekend
    assert working_days(D(2025, 4, 18), D(2025, 4, 22)) == 0  # Good Friday to Easter Monday


def test_working_days_handles_datetimes_and_far_years() -> None:
    assert working_days(dt.datetime(2025, 4, 1, 23, 0), dt.datetime(2025, 5, 1, 1, 0)) == 20
    assert working_days(D(2099, 12, 1), D(2100, 1, 1)) == 21


def test_working_days_rejects_reversed_interval() -> None:
    with pytest.raises(ValueError, match="before start"):
        working_days(D(2025, 2, 1), D(2025, 1, 1))


def test_working_days_is_fast() -> None:
    start = time.perf_counter()
    for month in range(3000):
        first = D(2025 + month // 12 % 10, month % 12 + 1, 1)
        working_days(first, first + dt.timedelta(days=30))
    assert time.perf_counter() - start < 1.0


def test_parse_month() -> None:
    assert parse_month("2029-03") == (2029, 3)


@pytest.mark.parametrize("text", ["2029-3", "2029-13", "2029-00", "29-03", "2029/03", "2029-03-31", " 2029-03", "", None])
def test_parse_month_rejects_other_forms(text: object) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        parse_month(text)  # type: ignore[arg-type]


def test_month_end_and_label() -> None:
    assert month_end(2024, 2) == D(2024, 2, 29)
    assert month_end(2025, 2) == D(2025, 2, 28)
    assert month_end(2025, 12) == D(2025, 12, 31)
    assert month_label(D(2029, 3, 31)) == "2029-03"


def test_month_ends_inclusive() -> None:
    assert month_ends("2025-11", "2026-02") == [D(2025, 11, 30), D(2025, 12, 31), D(2026, 1, 31), D(2026, 2, 28)]
    assert month_ends("2025-04", "2025-04") == [D(2025, 4, 30)]
    assert len(month_ends("2025-04", "2035-03")) == 120


def test_month_ends_rejects_reversed_range() -> None:
    with pytest.raises(ValueError, match="before first"):
        month_ends("2025-04", "2025-03")


def test_month_arithmetic_crosses_year_ends_both_ways():
    from sim.calendar import add_months, month_range, months_between

    assert add_months("2025-12", 1) == "2026-01"
    assert add_months("2025-01", -1) == "2024-12"
    assert add_months("2025-03", -23) == "2023-04"
    assert months_between("2023-04", "2025-03") == 23
    assert month_range("2025-11", "2026-02") == ("2025-11", "2025-12", "2026-01", "2026-02")
    assert month_range("2026-02", "2025-11") == ()
