"""Patient-level discrete-event model of diagnostic (DM01) waiting lists on a simpy calendar.

Picture a radiology booking office. Requests for a test arrive through each
working day and join the back of the queue for their source: urgent suspected
cancer, an RTT pathway that needs the test, or other (direct access). At each
appointment slot of the day's sessions the office calls the first patient of
the most urgent non-empty queue: strict priority between sources, first come
first served within one.

Two ways to run it:

- :func:`simulate` (sessions): a Poisson number of requests per England
  working day and source, at uniform times through the day; Right Test Right
  Time vetting removes a share of non-urgent requests, which are then never
  made. Each working day a unit (one trust's one test) runs its sessions in
  parallel from 08:00, each with ``tests_per_session`` fixed-length slots; a
  slot with nobody waiting is lost, as a booked list is. A census at the end
  of each month's last day counts the list and the waits of 42 days or more.
- :func:`sim.engine.mmc.simulate_mmc`: the M/M/c validation mode (continuous
  time, ``c`` servers, exponential service, the same priority rule), checked
  against Erlang C and Little's law.

Why a slot dispatcher and not a simpy ``Resource`` request per patient: each
source's queue is the sorted array of its patients' arrival times with a
pointer to the first not yet tested, so a slot moves pointers and a census
counts by bisection. The calendar has one event per slot time and per census
instead of about four per patient, while every patient keeps its own arrival
time, source, test time and wait (:class:`TestLog`).

Mechanics only: a numpy Generator comes in; no I/O, no seeding. Time is in
days from 00:00 on the first simulated day, as in :mod:`sim.model`.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import simpy

from sim.calendar import add_months, month_end, month_range, parse_month, working_days

URGENT, RTT, OTHER = 0, 1, 2
CLASS_NAMES = ("urgent", "rtt", "other")
N_CLASSES = 3
DAYS_PER_WEEK = 7
SIX_WEEKS_DAYS = 42.0  # DM01: waiting 6 weeks or more at the census date
FIRST_SESSION_HOUR = 8.0
SESSION_HOURS = 4.0


@dataclass(frozen=True, slots=True)
class DiagnosticUnit:
    """One trust's one diagnostic test: its requests, its sessions and its start list.

    Attributes:
        arrivals_per_working_day: mean requests per working day by source
            (urgent suspected cancer, RTT, other).
        sessions_per_working_day: sessions per working day; a fraction spreads
            whole sessions over days so the mean is exact (2.5: 2, 3, 2, 3, ...).
        tests_per_session: appointment slots per session.
        start_waiting_by_week: patients waiting at the start census by completed
            weeks waited (element ``k``: ``k`` to ``k + 1`` weeks).
    """

    arrivals_per_working_day: tuple[float, float, float]
    sessions_per_working_day: float
    tests_per_session: int = 1
    start_waiting_by_week: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        arrivals = tuple(float(a) for a in self.arrivals_per_working_day)
        start = tuple(int(n) for n in self.start_waiting_by_week)
        if len(arrivals) != N_CLASSES or not all(math.isfinite(a) and a >= 0 for a in arrivals):
            raise ValueError(f"arrivals_per_working_day must be 3 finite non-negative rates, got {arrivals}")
        if not (math.isfinite(self.sessions_per_working_day) and self.sessions_per_working_day >= 0):
            raise ValueError(f"sessions_per_working_day must be >= 0, got {self.sessions_per_working_day}")
        if int(self.tests_per_session) != self.tests_per_session or self.tests_per_session < 1:
            raise ValueError(f"tests_per_session must be a whole number >= 1, got {self.tests_per_session}")
        if any(n < 0 for n in start):
            raise ValueError("start_waiting_by_week must hold counts >= 0")
        object.__setattr__(self, "arrivals_per_working_day", arrivals)
        object.__setattr__(self, "start_waiting_by_week", start)
        object.__setattr__(self, "tests_per_session", int(self.tests_per_session))

    @property
    def tests_per_working_day(self) -> float:
        """Slots per working day (the capacity)."""
        return self.sessions_per_working_day * self.tests_per_session

    @classmethod
    def from_tests_per_working_day(cls, arrivals_per_working_day: Sequence[float], tests_per_working_day: float,
                                   start_waiting_by_week: Sequence[int] = (), tests_per_session: int = 1
                                   ) -> "DiagnosticUnit":
        """A unit given its capacity in tests per working day rather than sessions."""
        return cls(tuple(arrivals_per_working_day), tests_per_working_day / tests_per_session, tests_per_session,
                   tuple(start_waiting_by_week))


@dataclass(frozen=True, slots=True)
class Vetting:
    """Right Test Right Time: a share of requests is not made, from a date.

    Attributes:
        removal_share: share (0-1) of vettable requests removed.
        start_time: days since the first simulated day from which vetting applies
            (a request counts by the start of its working day).
        exempt_urgent: urgent suspected cancer requests are never removed.
    """

    removal_share: float = 0.0
    start_time: float = 0.0
    exempt_urgent: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.removal_share <= 1.0:
            raise ValueError(f"removal_share must be in [0, 1], got {self.removal_share}")


@dataclass(frozen=True, slots=True)
class DESCalendar:
    """When things can happen.

    Attributes:
        working_days: float64 start (00:00) of every working day before the last
            census, in days since the first simulated day, ascending.
        census_times: float64 census times, ascending; ``[0]`` is the start
            census (0.0), then the end of each month's last day.
        dates: ISO date of each census (the start census is the day before the
            first simulated day).
    """

    working_days: np.ndarray
    census_times: np.ndarray
    dates: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.census_times) != len(self.dates) or len(self.census_times) < 1:
            raise ValueError("census_times and dates must have the same, non-zero length")
        if np.any(np.diff(self.census_times) <= 0) or np.any(np.diff(self.working_days) <= 0):
            raise ValueError("census_times and working_days must be strictly ascending")


def des_calendar(first_month: str, last_month: str) -> DESCalendar:
    """England working days and month-end census times from ``first_month`` to ``last_month`` (``YYYY-MM``)."""
    first_day = dt.date(*parse_month(first_month), 1)
    ends = [month_end(*parse_month(m)) for m in month_range(first_month, last_month)]
    if not ends and last_month != add_months(first_month, -1):  # the month before: no time, the start census only
        raise ValueError(f"last month {last_month} is before first month {first_month}")
    census = [0.0] + [float((e - first_day).days + 1) for e in ends]
    one = dt.timedelta(days=1)
    days = [k for k in range(int(census[-1])) if working_days(first_day + k * one, first_day + (k + 1) * one)]
    dates = ((first_day - one).isoformat(),) + tuple(e.isoformat() for e in ends)
    return DESCalendar(np.asarray(days, dtype=np.float64), np.asarray(census), dates)


def days_since_start(first_month: str, month: str) -> float:
    """Time (days) of 00:00 on the first day of ``month`` for a run starting in ``first_month``."""
    return float((dt.date(*parse_month(month), 1) - dt.date(*parse_month(first_month), 1)).days)


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True, slots=True)
class Requests:
    """One unit's patients: the start list, then the new requests in arrival order.

    Attributes:
        times: float64 arrival time in days; a start-list patient's is minus its
            wait at time 0. Ascending.
        classes: int8 source (URGENT, RTT, OTHER).
        removed: bool, vetted out (the request is never made); False for the start list.
        n_start: the first ``n_start`` entries are the start list.
    """

    times: np.ndarray
    classes: np.ndarray
    removed: np.ndarray
    n_start: int


def start_list_waits(by_week: Sequence[int]) -> np.ndarray:
    """Waits (days) of a start list given by completed weeks, spread evenly within each week, longest first.

    The ``n`` patients of week ``k`` wait ``7k + 7(i + 0.5)/n`` days, ``i = 0..n-1``
    (the convention of :func:`sim.start_state.summarise_counts`).
    """
    parts = [DAYS_PER_WEEK * (k + (np.arange(n) + 0.5) / n) for k, n in enumerate(by_week) if n > 0]
    waits = np.concatenate(parts) if parts else np.zeros(0)
    return np.sort(waits)[::-1].copy()


def draw_requests(units: Sequence[DiagnosticUnit], calendar: DESCalendar, rng: np.random.Generator,
                  vetting: Vetting = Vetting()) -> tuple[Requests, ...]:
    """Every unit's start list and requests for the whole run, drawn up front.

    Draws, unit by unit: the source of each start-list patient (RTT or other,
    in proportion to those sources' arrival rates: the published lists do not
    say, and urgent requests rarely wait); a Poisson count per working day and
    source; then two uniforms per request (its time in the day, its vetting
    draw). The vetting draw is made whatever the share, so a scenario with
    vetting removes requests from the same arrival stream as one without
    (common random numbers).
    """
    n_days = len(calendar.working_days)
    out = []
    for unit in units:
        start_times = -start_list_waits(unit.start_waiting_by_week)
        _, rtt, other = unit.arrivals_per_working_day
        p_rtt = rtt / (rtt + other) if rtt + other > 0 else 1.0
        start_classes = np.where(rng.random(start_times.size) < p_rtt, RTT, OTHER).astype(np.int8)
        counts = rng.poisson(np.asarray(unit.arrivals_per_working_day), size=(n_days, N_CLASSES))
        day = np.repeat(np.arange(n_days), counts.sum(axis=1))
        classes = np.repeat(np.tile(np.arange(N_CLASSES, dtype=np.int8), n_days), counts.ravel())
        u = rng.random((2, day.size))
        day_start = calendar.working_days[day]
        times = day_start + u[0]
        share = np.where(day_start >= vetting.start_time, vetting.removal_share, 0.0)
        vettable = (classes != URGENT) if vetting.exempt_urgent else np.ones(day.size, dtype=bool)
        removed = vettable & (u[1] < share)
        order = np.argsort(times, kind="stable")
        out.append(Requests(
            times=np.concatenate([start_times, times[order]]),
            classes=np.concatenate([start_classes, classes[order]]),
            removed=np.concatenate([np.zeros(start_times.size, dtype=bool), removed[order]]),
            n_start=int(start_times.size)))
    return tuple(out)


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True, slots=True)
class TestLog:
    """Every test done at one unit, in the order done (ties: by source).

    For an RTT-source patient the test time is when the RTT clock can stop.

    Attributes:
        test_time: float64 days.
        arrival_time: float64 days (negative for the start list).
        classes: int8 source.
    """

    __test__ = False  # not a pytest test class

    test_time: np.ndarray
    arrival_time: np.ndarray
    classes: np.ndarray

    @property
    def wait_days(self) -> np.ndarray:
        return self.test_time - self.arrival_time


@dataclass(frozen=True, slots=True)
class DESResult:
    """Month-end census and monthly counts of one replication.

    Attributes:
        waiting_list: int64 ``[unit, census]`` patients waiting.
        over_6w: int64 ``[unit, census]`` of whom waiting 42 days or more.
        tests: int64 ``[unit, source, census]`` tests done in the month ending at
            the census (zero at the start census).
        requests: int64 ``[unit, source, census]`` requests made in that month.
        removed: int64 ``[unit, source, census]`` requests vetted out in that month.
        start_list: int64 ``[unit, source]`` the list at time 0.
        logs: one :class:`TestLog` per unit.
        census_times: float64 ``[census]``.
    """

    waiting_list: np.ndarray
    over_6w: np.ndarray
    tests: np.ndarray
    requests: np.ndarray
    removed: np.ndarray
    start_list: np.ndarray
    logs: tuple[TestLog, ...]
    census_times: np.ndarray

    def over_6w_pct(self) -> np.ndarray:
        """float64 ``[unit, census]`` % of the list waiting 6 weeks or more; NaN for an empty list."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.waiting_list > 0, 100.0 * self.over_6w / self.waiting_list, np.nan)


class _SourceQueue:
    """One source's patients at one unit: sorted arrival times and a pointer past the tested ones."""

    __slots__ = ("arrivals", "head", "slot_times", "slot_counts")

    def __init__(self, arrivals: list[float]) -> None:
        self.arrivals = arrivals
        self.head = 0
        self.slot_times: list[float] = []
        self.slot_counts: list[int] = []

    def waiting(self, t: float) -> int:
        """Patients arrived by ``t`` and not yet tested."""
        return bisect.bisect_right(self.arrivals, t, self.head) - self.head

    def waiting_since(self, cutoff: float) -> int:
        """Untested patients who arrived at or before ``cutoff``."""
        return max(0, bisect.bisect_right(self.arrivals, cutoff, self.head) - self.head)


def sessions_by_day(sessions_per_working_day: float, n_days: int) -> np.ndarray:
    """Whole sessions on each working day, averaging exactly ``sessions_per_working_day`` (cumulative rounding)."""
    cumulative = np.floor(sessions_per_working_day * np.arange(n_days + 1) + 1e-9)
    return np.diff(cumulative).astype(np.int64)


def _dispatcher(env: simpy.Environment, queues: list[_SourceQueue], day_starts: np.ndarray, sessions: np.ndarray,
                slot_offsets: list[float]):
    """Each slot time of each working day: test up to ``sessions`` patients, most urgent source first."""
    for day, m in zip(day_starts.tolist(), sessions.tolist()):
        if m == 0:
            continue
        for offset in slot_offsets:
            t = day + offset
            yield env.timeout(t - env.now)
            need = m
            for q in queues:
                avail = q.waiting(t)
                if avail > 0:
                    take = avail if avail < need else need
                    q.head += take
                    q.slot_times.append(t)
                    q.slot_counts.append(take)
                    need -= take
                    if need == 0:
                        break


def _census(env: simpy.Environment, units: list[list[_SourceQueue]], times: np.ndarray, waiting: np.ndarray,
            over: np.ndarray):
    for k in range(len(times)):
        t = float(times[k])
        if t > env.now:
            yield env.timeout(t - env.now)
        for u, queues in enumerate(units):
            waiting[u, k] = sum(q.waiting(t) for q in queues)
            over[u, k] = sum(q.waiting_since(t - SIX_WEEKS_DAYS) for q in queues)


def run_sessions(units: Sequence[DiagnosticUnit], requests: Sequence[Requests], calendar: DESCalendar, *,
                 first_session_hour: float = FIRST_SESSION_HOUR, session_hours: float = SESSION_HOURS) -> DESResult:
    """Run the booked sessions over given requests (deterministic: no draws).

    Args:
        units: the units' capacity (their arrival rates are not used here).
        requests: one :class:`Requests` per unit, e.g. from :func:`draw_requests`.
        calendar: working days and census times.
        first_session_hour: clock hour the day's sessions start (all in parallel).
        session_hours: session length; slot length is this over ``tests_per_session``.

    Returns:
        The census, monthly counts and test logs.
    """
    if len(units) != len(requests):
        raise ValueError("one Requests per unit is needed")
    # Sessions start after midnight, so a slot never coincides with a month-end census.
    if not (0 < first_session_hour and session_hours > 0 and first_session_hour + session_hours <= 24):
        raise ValueError("sessions must start after 00:00 and end by 24:00")
    census_times = np.asarray(calendar.census_times, dtype=np.float64)
    n_units, n_census = len(units), len(census_times)
    env = simpy.Environment()
    unit_queues: list[list[_SourceQueue]] = []
    for unit, req in zip(units, requests):
        kept = ~req.removed
        queues = [_SourceQueue(req.times[kept & (req.classes == c)].tolist()) for c in range(N_CLASSES)]
        unit_queues.append(queues)
        slot = session_hours / 24.0 / unit.tests_per_session
        offsets = [first_session_hour / 24.0 + k * slot for k in range(unit.tests_per_session)]
        sessions = sessions_by_day(unit.sessions_per_working_day, len(calendar.working_days))
        env.process(_dispatcher(env, queues, calendar.working_days, sessions, offsets))
    waiting = np.zeros((n_units, n_census), dtype=np.int64)
    over = np.zeros((n_units, n_census), dtype=np.int64)
    env.run(until=env.process(_census(env, unit_queues, census_times, waiting, over)))
    return _result(unit_queues, requests, census_times, waiting, over)


def _month_index(times: np.ndarray, census_times: np.ndarray) -> np.ndarray:
    """Census column whose month holds each time (time 0 and arrivals on day 0 -> column 1)."""
    return np.searchsorted(census_times, times, side="right")


def _result(unit_queues: list[list[_SourceQueue]], requests: Sequence[Requests], census_times: np.ndarray,
            waiting: np.ndarray, over: np.ndarray) -> DESResult:
    n_units, n_census = waiting.shape
    tests = np.zeros((n_units, N_CLASSES, n_census), dtype=np.int64)
    made = np.zeros_like(tests)
    removed = np.zeros_like(tests)
    start = np.zeros((n_units, N_CLASSES), dtype=np.int64)
    logs = []
    bins = N_CLASSES * (n_census + 1)
    for u, (queues, req) in enumerate(zip(unit_queues, requests)):
        start[u] = np.bincount(req.classes[:req.n_start], minlength=N_CLASSES)[:N_CLASSES]
        new = slice(req.n_start, None)
        key = req.classes[new].astype(np.int64) * (n_census + 1) + _month_index(req.times[new], census_times)
        for target, mask in ((made, ~req.removed[new]), (removed, req.removed[new])):
            target[u] = np.bincount(key[mask], minlength=bins).reshape(N_CLASSES, n_census + 1)[:, :n_census]
        parts = []
        for c, q in enumerate(queues):
            slot_t = np.asarray(q.slot_times, dtype=np.float64)
            counts = np.asarray(q.slot_counts, dtype=np.int64)
            tests[u, c] = np.bincount(_month_index(slot_t, census_times), weights=counts,
                                      minlength=n_census + 1)[:n_census].astype(np.int64)
            parts.append((np.repeat(slot_t, counts), np.asarray(q.arrivals[:q.head], dtype=np.float64),
                          np.full(q.head, c, dtype=np.int8)))
        test_time = np.concatenate([p[0] for p in parts])
        arrival = np.concatenate([p[1] for p in parts])
        classes = np.concatenate([p[2] for p in parts])
        order = np.lexsort((arrival, classes, test_time))
        logs.append(TestLog(test_time[order], arrival[order], classes[order]))
    return DESResult(waiting, over, tests, made, removed, start, tuple(logs), census_times)


def simulate(units: Sequence[DiagnosticUnit], calendar: DESCalendar, rng: np.random.Generator,
             vetting: Vetting = Vetting(), *, first_session_hour: float = FIRST_SESSION_HOUR,
             session_hours: float = SESSION_HOURS) -> DESResult:
    """One replication of the booked-session model: draw the requests, then run the sessions.

    Args:
        units: one entry per trust x test.
        calendar: from :func:`des_calendar`.
        rng: the replication's generator (every draw comes from it, in a fixed order).
        vetting: Right Test Right Time.
        first_session_hour: clock hour the sessions start.
        session_hours: session length in hours.
    """
    reqs = draw_requests(units, calendar, rng, vetting)
    return run_sessions(units, reqs, calendar, first_session_hour=first_session_hour, session_hours=session_hours)
