"""England working days: bank holidays, month ends and working-day counts.

Clock stops, diagnostic tests and other elective activity follow working days,
so a month with Easter in it delivers less than one without. This module is
the single source of the England and Wales bank-holiday calendar and of the
``YYYY-MM`` month conventions used by scenario files, the CLI and results
(DESIGN.md section 1: months are ``YYYY-MM``; result rows carry the month-end
date).

Source: GOV.UK, "UK bank holidays", https://www.gov.uk/bank-holidays (England
and Wales), for the rules and the one-off changes listed in
``_ONE_OFF_CHANGES``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import numpy as np

#: First year the rules below describe: the early May bank holiday began in 1978.
FIRST_RULE_YEAR = 1978

#: Years the cached working-day calendar always covers, so that ordinary calls
#: share one cached ``numpy.busdaycalendar``.
_DEFAULT_SPAN = (2000, 2060)

_MONTH_PATTERN = re.compile(r"([0-9]{4})-([0-9]{2})")

_MONDAY = 0
_SATURDAY = 5

# One-off changes to the rules, 2007-2035 (GOV.UK bank holidays page and the
# proclamations it reports): (year, holidays removed, holidays added).
_ONE_OFF_CHANGES: tuple[tuple[int, tuple[dt.date, ...], tuple[dt.date, ...]], ...] = (
    # Wedding of Prince William and Catherine Middleton.
    (2011, (), (dt.date(2011, 4, 29),)),
    # Diamond Jubilee: spring holiday moved from 28 May to 4 June, plus 5 June.
    (2012, (dt.date(2012, 5, 28),), (dt.date(2012, 6, 4), dt.date(2012, 6, 5))),
    # VE Day 75th anniversary: early May holiday moved from Monday 4 May to Friday 8 May.
    (2020, (dt.date(2020, 5, 4),), (dt.date(2020, 5, 8),)),
    # Platinum Jubilee (spring holiday moved from 30 May to 2 June, plus 3 June)
    # and the State Funeral of Queen Elizabeth II on 19 September.
    (
        2022,
        (dt.date(2022, 5, 30),),
        (dt.date(2022, 6, 2), dt.date(2022, 6, 3), dt.date(2022, 9, 19)),
    ),
    # Coronation of King Charles III.
    (2023, (), (dt.date(2023, 5, 8),)),
)


def easter_sunday(year: int) -> dt.date:
    """Date of Easter Sunday in the Gregorian calendar.

    Uses the anonymous Gregorian algorithm (Meeus/Jones/Butcher), exact for
    every Gregorian year.

    Args:
        year: Calendar year (1583 or later).

    Returns:
        Easter Sunday of ``year``.
    """
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's published name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _first_monday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(_MONDAY - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> dt.date:
    last = month_end(year, month)
    return last - dt.timedelta(days=(last.weekday() - _MONDAY) % 7)


def _substitute(day: dt.date, taken: set[dt.date]) -> dt.date:
    """Roll a fixed-date holiday that falls at a weekend to the next free weekday."""
    while day.weekday() >= _SATURDAY or day in taken:
        day += dt.timedelta(days=1)
    return day


def _rule_holidays(year: int) -> set[dt.date]:
    """Bank holidays of ``year`` from the standing rules, before one-off changes."""
    easter = easter_sunday(year)
    holidays = {
        _substitute(dt.date(year, 1, 1), set()),
        easter - dt.timedelta(days=2),  # Good Friday
        easter + dt.timedelta(days=1),  # Easter Monday
        _first_monday(year, 5),  # early May
        _last_monday(year, 5),  # spring
        _last_monday(year, 8),  # summer
    }
    # Christmas first, then Boxing Day, so that when both fall at a weekend
    # they take the following Monday and Tuesday.
    christmas = _substitute(dt.date(year, 12, 25), holidays)
    holidays.add(christmas)
    holidays.add(_substitute(dt.date(year, 12, 26), holidays))
    return holidays


@functools.lru_cache(maxsize=64)
def bank_holidays(first_year: int, last_year: int) -> frozenset[dt.date]:
    """England and Wales bank holidays in a range of years.

    Rules: New Year's Day, Good Friday, Easter Monday, early May (first Monday
    of May), spring (last Monday of May), summer (last Monday of August),
    Christmas Day and Boxing Day; a fixed-date holiday at a weekend moves to
    the next weekday not already a holiday. One-off changes for 2007-2035 are
    applied (2011 royal wedding, 2012 Diamond Jubilee, 2020 VE Day, 2022
    Platinum Jubilee and State Funeral, 2023 Coronation). Years after 2035, and
    one-off changes before 2007 (e.g. 1995, 1999, 2002), follow the rules only.

    Source: GOV.UK, "UK bank holidays", https://www.gov.uk/bank-holidays.

    Args:
        first_year: First calendar year, inclusive (1978 or later).
        last_year: Last calendar year, inclusive.

    Returns:
        The bank-holiday dates of every year in ``[first_year, last_year]``.

    Raises:
        ValueError: If ``first_year`` is before 1978 or after ``last_year``.
    """
    if first_year < FIRST_RULE_YEAR:
        raise ValueError(f"first_year must be {FIRST_RULE_YEAR} or later, got {first_year}")
    if last_year < first_year:
        raise ValueError(f"last_year ({last_year}) must not be before first_year ({first_year})")
    holidays: set[dt.date] = set()
    for year in range(first_year, last_year + 1):
        holidays |= _rule_holidays(year)
    for year, removed, added in _ONE_OFF_CHANGES:
        if first_year <= year <= last_year:
            holidays.difference_update(removed)
            holidays.update(added)
    return frozenset(holidays)


@functools.lru_cache(maxsize=8)
def _busday_calendar(first_year: int, last_year: int) -> np.busdaycalendar:
    holidays = np.array(sorted(bank_holidays(first_year, last_year)), dtype="datetime64[D]")
    return np.busdaycalendar(weekmask="1111100", holidays=holidays)


def working_days(start: dt.date, end: dt.date) -> int:
    """Number of England working days in ``[start, end)``.

    A working day is Monday to Friday and not a bank holiday. Counting uses a
    cached ``numpy.busdaycalendar``, so thousands of calls are cheap.

    Args:
        start: First day counted.
        end: Day after the last day counted (exclusive).

    Returns:
        Working days from ``start`` up to but excluding ``end``; 0 if equal.

    Raises:
        ValueError: If ``end`` is before ``start``.
    """
    if end < start:
        raise ValueError(f"end ({end}) must not be before start ({start})")
    span = (min(start.year, _DEFAULT_SPAN[0]), max(end.year, _DEFAULT_SPAN[1]))
    calendar = _busday_calendar(*span)
    return int(np.busday_count(_to_day(start), _to_day(end), busdaycal=calendar))


def _to_day(day: dt.date) -> np.datetime64:
    # date(...) drops the time part of a datetime, which datetime64 would keep.
    return np.datetime64(dt.date(day.year, day.month, day.day), "D")


def parse_month(text: str) -> tuple[int, int]:
    """Parse a month written ``YYYY-MM`` (e.g. ``"2029-03"``).

    Args:
        text: The month, exactly four digits, a hyphen and two digits.

    Returns:
        ``(year, month)`` with month 1-12.

    Raises:
        ValueError: If ``text`` is not a string of the form ``YYYY-MM`` with a
            month from 01 to 12.
    """
    match = _MONTH_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"month must be written YYYY-MM (e.g. '2029-03'), got {text!r}")
    year, month = int(match.group(1)), int(match.group(2))
    if year < 1 or not 1 <= month <= 12:
        raise ValueError(f"month must be YYYY-MM with year 0001-9999 and month 01-12, got {text!r}")
    return year, month


def month_end(year: int, month: int) -> dt.date:
    """Last calendar day of a month (the RTT month-end census date)."""
    if month == 12:
        return dt.date(year, 12, 31)
    return dt.date(year, month + 1, 1) - dt.timedelta(days=1)


def month_ends(first: str, last: str) -> list[dt.date]:
    """Month-end dates from month ``first`` to month ``last`` inclusive.

    Args:
        first: First month, ``YYYY-MM``.
        last: Last month, ``YYYY-MM``.

    Returns:
        One month-end date per month, in order.

    Raises:
        ValueError: If a month is malformed or ``last`` is before ``first``.
    """
    first_year, first_month = parse_month(first)
    last_year, last_month = parse_month(last)
    start_index = first_year * 12 + first_month - 1
    stop_index = last_year * 12 + last_month - 1
    if stop_index < start_index:
        raise ValueError(f"last month {last!r} is before first month {first!r}")
    return [month_end(index // 12, index % 12 + 1) for index in range(start_index, stop_index + 1)]


def month_label(day: dt.date) -> str:
    """The ``YYYY-MM`` label of the month containing ``day``."""
    return f"{day.year:04d}-{day.month:02d}"


def working_days_in_month(year: int, month: int) -> int:
    """England working days in a calendar month.

    Args:
        year: Calendar year.
        month: Month 1-12.

    Returns:
        Monday-Friday days of the month that are not bank holidays.
    """
    first = dt.date(year, month, 1)
    return working_days(first, month_end(year, month) + dt.timedelta(days=1))


def add_months(month: str, k: int) -> str:
    """The month ``k`` months after ``month`` (``YYYY-MM``; ``k`` may be negative)."""
    year, mon = parse_month(month)
    index = year * 12 + (mon - 1) + k
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> int:
    """Whole months from ``first`` to ``last`` (0 when equal, negative when ``last`` is earlier)."""
    y0, m0 = parse_month(first)
    y1, m1 = parse_month(last)
    return (y1 - y0) * 12 + (m1 - m0)


def month_range(first: str, last: str) -> tuple[str, ...]:
    """Every month from ``first`` to ``last`` inclusive (empty if ``last`` is earlier)."""
    return tuple(add_months(first, k) for k in range(months_between(first, last) + 1))


def financial_year(month: str) -> str:
    """``2025/26`` for any month from 2025-04 to 2026-03."""
    year, mon = int(month[:4]), int(month[5:7])
    start = year if mon >= 4 else year - 1
    return f"{start}/{(start + 1) % 100:02d}"
