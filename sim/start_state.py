"""The RTT waiting list by weeks waited, rebuilt from NHS England's aggregates.

NHS England publishes only aggregates of the RTT incomplete-pathway list each
month; the flow engine needs the list by weekly bin. Each aggregate is a point
(a knot) of the survival function S(w), the number of patients who have waited
more than w weeks: S(0) = the list, S(18) = list x (1 - % within 18 weeks /
100), S(52), S(65), S(78), S(104) = the long-wait counts, and the median and
92nd percentile put list / 2 and 0.08 x list at their waits.

Method:

- log S is interpolated through the knots with a monotone cubic Hermite spline
  (PCHIP slopes) and continued past the last knot at the last segment's decay
  rate. Log space keeps the long-wait tail, four orders of magnitude below the
  list, as accurate as the head. The monotone spline keeps S non-increasing;
  its continuous slope (the hazard) keeps the weekly density continuous,
  where linear interpolation of log S would make the density jump at every
  knot (e.g. doubling at 52 weeks in March 2025). Counts are differences of S
  at whole weeks.
- NHS England computes the median and 92nd percentile by linear interpolation
  within weekly bands, so a published quantile at j + f weeks is exactly a
  linear condition on S(j) and S(j + 1). Each quantile is therefore turned
  into knots at those two whole weeks, set from the smooth curve through the
  quantile and scaled to meet the condition; :func:`summarise_counts` then
  gives back the published quantile to rounding.
- Aggregates are trusted in the order list, % within 18 weeks, over 52, 65,
  78, 104 weeks, median, p92: the median and p92 are computed on reported data
  only, without the estimates for missing trusts in the list and counts, so
  they can contradict them (October 2015: p92 17.8 weeks with 8.1% over 18
  weeks). A knot that would make S rise with wait is dropped, as is a quantile
  that would make the mean density rise from one segment between knots to the
  next by more than ``_MAX_DENSITY_RISE`` times what the trusted knots already
  imply (January 2016: p92 18.004 weeks with 8.45% over 18 weeks). Dropped
  aggregates are reported, with their errors.

Assumption about shape: the weekly density (patients per week of wait) falls
with wait, as it does for a list fed by a steady flow of clock starts whose
chance of still waiting falls with time. The method does not impose it, but it
adds no rise of its own: the March 2025 national list comes out non-increasing
bin to bin. Rises remain where the aggregates imply them, e.g. the hole left
by the spring 2020 referral collapse.

Source of the aggregates: NHS England, "RTT Overview Timeseries Including
Estimates for Missing Trusts" (shared/data/rtt_national_monthly.csv,
SOURCES.md). NHS England definitions: "within 18 weeks" is waited 126 days or
less; "over 52 weeks" is waited more than 364 days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator

DAYS_PER_WEEK = 7.0
WITHIN_18W_DAYS = 126.0
LONG_WAIT_WEEKS = {"over_52w": 52, "over_65w": 65, "over_78w": 78, "over_104w": 104}

#: Aggregate names used by :func:`reconstruct_waiting_times` and
#: :func:`summarise_counts`, mapped to canonical metric names (DESIGN.md s1).
CANONICAL_METRICS = {
    "waiting_list": "rtt_waiting_list",
    "pct_within_18w": "rtt_within_18w_pct",
    "median_weeks": "rtt_median_weeks",
    "p92_weeks": "rtt_p92_weeks",
    "over_52w": "rtt_over_52w",
    "over_65w": "rtt_over_65w",
    "over_78w": "rtt_over_78w",
    "over_104w": "rtt_over_104w",
}

# Most trusted first, after the list itself (see module docstring).
_PRIORITY = ("pct_within_18w", "over_52w", "over_65w", "over_78w", "over_104w", "median_weeks", "p92_weeks")
_SHARE_WAITING_LONGER = {"median_weeks": 0.5, "p92_weeks": 0.08}

# log S needs S > 0: a published zero becomes a millionth of a patient.
_ZERO_COUNT_PATIENTS = 1e-6
# Knots closer than this (weeks) are the same point of S.
_SAME_WEEK = 1e-9
# A quantile whose whole-week bin edges are both fixed by other knots is kept
# only if the binned quantile is already this close (weeks).
_QUANTILE_TOLERANCE_WEEKS = 0.05
# Largest rise in mean density between neighbouring segments a quantile may
# add, beyond the trusted knots' own; real lists rarely exceed about 2.
_MAX_DENSITY_RISE = 3.0


@dataclass(frozen=True, slots=True, eq=False)
class Reconstruction:
    """A waiting list by weeks waited, rebuilt from published aggregates.

    Attributes:
        counts: float64 patients per weekly bin, read-only; bin j holds
            patients who have waited at least j and less than j + 1 weeks, and
            the last bin everyone who has waited ``len(counts) - 1`` weeks or
            more. Sums to the waiting list.
        survival_knots: ``(weeks, patients waiting longer)`` points the
            survival function passes through, ascending. A quantile appears as
            the two whole weeks around it (see module docstring).
        errors: Reconstructed minus published value for every aggregate given,
            in its own units (percentage points, weeks or patients), the
            reconstructed value being :func:`summarise_counts` of ``counts``.
            Dropped aggregates keep their (larger) error; NaN where the bins
            cannot resolve the aggregate (e.g. over 104 weeks with 60 bins).
        dropped: Aggregates not used because they contradict more trusted ones.
    """

    counts: np.ndarray
    survival_knots: tuple[tuple[float, float], ...]
    errors: dict[str, float]
    dropped: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Knot:
    """``patients`` have waited more than ``weeks``; optionally d log S / d weeks there."""

    name: str
    weeks: float
    patients: float
    log_slope: float | None = None


def reconstruct_waiting_times(
    waiting_list: float,
    pct_within_18w: float,
    median_weeks: float | None,
    p92_weeks: float | None,
    over_52w: float | None,
    over_65w: float | None = None,
    over_78w: float | None = None,
    over_104w: float | None = None,
    n_bins: int = 105,
) -> Reconstruction:
    """Rebuild the RTT incomplete-pathway list by weeks waited.

    Args:
        waiting_list: Incomplete pathways (patients), > 0.
        pct_within_18w: % of the list waiting 18 weeks or less, 0-100.
        median_weeks: Median wait (weeks), or None (or NaN) if not published.
        p92_weeks: 92nd percentile wait (weeks), or None/NaN.
        over_52w: Patients waiting more than 52 weeks, or None/NaN.
        over_65w: Patients waiting more than 65 weeks, or None/NaN.
        over_78w: Patients waiting more than 78 weeks, or None/NaN.
        over_104w: Patients waiting more than 104 weeks, or None/NaN.
        n_bins: Number of weekly bins, >= 2; the last is open-ended (105 bins:
            0-103 weeks one by one, then 104 weeks or more).

    Returns:
        Counts by bin, the knots used, errors against each published
        aggregate, and the aggregates dropped as inconsistent.

    Raises:
        ValueError: Naming the argument, if the list is not positive, the
            percentage is outside 0-100, a wait or count is negative, a count
            exceeds the list, a value is not a finite number, or n_bins < 2.
    """
    published = _validated_aggregates(
        waiting_list=waiting_list,
        pct_within_18w=pct_within_18w,
        median_weeks=median_weeks,
        p92_weeks=p92_weeks,
        over_52w=over_52w,
        over_65w=over_65w,
        over_78w=over_78w,
        over_104w=over_104w,
    )
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 2:
        raise ValueError(f"n_bins must be an integer >= 2, got {n_bins!r}")
    knots, dropped = _consistent_knots(_published_knots(published), n_bins)
    counts = _counts_from_knots(knots, n_bins)
    counts.flags.writeable = False
    summary = summarise_counts(counts)
    return Reconstruction(
        counts=counts,
        survival_knots=tuple((float(k.weeks), float(k.patients)) for k in knots),
        errors={name: summary[name] - value for name, value in published.items()},
        dropped=dropped,
    )


def _validated_aggregates(**values: float | None) -> dict[str, float]:
    """Check each aggregate and return those published (None or NaN: not published)."""
    waiting_list = _finite("waiting_list", values["waiting_list"])
    if waiting_list <= 0:
        raise ValueError(f"waiting_list must be > 0 patients, got {waiting_list}")
    pct = _finite("pct_within_18w", values["pct_within_18w"])
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"pct_within_18w must be between 0 and 100, got {pct}")
    given = {"waiting_list": waiting_list, "pct_within_18w": pct}
    for name in ("median_weeks", "p92_weeks", *LONG_WAIT_WEEKS):
        if values[name] is None or math.isnan(_number(name, values[name])):
            continue
        value = _finite(name, values[name])
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
        if name in LONG_WAIT_WEEKS and value > waiting_list:
            raise ValueError(f"{name} ({value}) must not exceed waiting_list ({waiting_list})")
        given[name] = value
    return given


def _number(name: str, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def _finite(name: str, value: object) -> float:
    number = _number(name, value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def _published_knots(published: dict[str, float]) -> list[_Knot]:
    """One knot per published aggregate, the list first, then in ``_PRIORITY`` order."""
    waiting_list = published["waiting_list"]
    knots = [_Knot("waiting_list", 0.0, waiting_list)]
    for name in _PRIORITY:
        if name not in published:
            continue
        value = published[name]
        if name == "pct_within_18w":
            knots.append(_Knot(name, 18.0, waiting_list * (1.0 - value / 100.0)))
        elif name in LONG_WAIT_WEEKS:
            knots.append(_Knot(name, float(LONG_WAIT_WEEKS[name]), value))
        else:
            knots.append(_Knot(name, value, waiting_list * _SHARE_WAITING_LONGER[name]))
    return knots


def _consistent_knots(knots: list[_Knot], n_bins: int) -> tuple[list[_Knot], tuple[str, ...]]:
    """Accept knots in order of trust, dropping those that contradict accepted ones.

    Returns:
        The spline's knots sorted by weeks, and the names of dropped aggregates.
    """
    accepted: list[_Knot] = []
    dropped: list[str] = []
    for knot in knots:
        if knot.name in _SHARE_WAITING_LONGER:
            new = _quantile_knots(knot, accepted, n_bins)
        else:
            new = [knot] if _fits(accepted, [knot]) else None
        if new is None:
            dropped.append(knot.name)
        else:
            accepted = _merged(accepted, new)
    return accepted, tuple(dropped)


def _quantile_knots(knot: _Knot, accepted: list[_Knot], n_bins: int) -> list[_Knot] | None:
    """Knots at the whole weeks around a quantile that honour it, or None to drop it.

    With the quantile at j + f weeks, binned linear interpolation needs
    (1 - f) S(j) + f S(j + 1) = the quantile's S. An edge fixed by an accepted
    knot stays fixed and the other edge is solved; if neither is fixed, both
    are taken from the smooth curve through the quantile, scaled by one factor
    to meet the condition, with the curve's slopes, so the refitted spline
    follows the smooth curve instead of kinking at two knots a week apart.
    """
    if not _fits(accepted, [knot]):
        return None
    lower = float(math.floor(knot.weeks))
    fraction = knot.weeks - lower
    if fraction <= _SAME_WEEK or lower >= n_bins - 1:
        return _acceptable(accepted, [knot])  # on a whole week, or in the open last bin
    upper = lower + 1.0
    fixed = {k.weeks: k.patients for k in accepted}
    if lower in fixed and upper in fixed:
        binned = (1.0 - fraction) * fixed[lower] + fraction * fixed[upper]
        miss_weeks = (binned - knot.patients) / max(fixed[lower] - fixed[upper], _ZERO_COUNT_PATIENTS)
        return [] if abs(miss_weeks) <= _QUANTILE_TOLERANCE_WEEKS else None
    if lower in fixed:
        upper_s = fixed[lower] - (fixed[lower] - knot.patients) / fraction
        return _acceptable(accepted, [_Knot(knot.name, upper, upper_s)])
    if upper in fixed:
        lower_s = (knot.patients - fraction * fixed[upper]) / (1.0 - fraction)
        return _acceptable(accepted, [_Knot(knot.name, lower, lower_s)])
    smooth = _log_survival(_merged(accepted, [knot]))
    edges = np.array([lower, upper])
    edge_s, edge_slopes = np.exp(smooth.log_survival(edges)), smooth.log_slope(edges)
    scale = knot.patients / ((1.0 - fraction) * edge_s[0] + fraction * edge_s[1])
    new = [_Knot(knot.name, w, scale * s, slope) for w, s, slope in zip(edges, edge_s, edge_slopes)]
    return _acceptable(accepted, new)


def _acceptable(accepted: list[_Knot], new: list[_Knot]) -> list[_Knot] | None:
    """``new`` if it keeps S non-negative and non-increasing without a sharp density rise."""
    if not _fits(accepted, new):
        return None
    candidate = _merged(accepted, new)
    # Compare rises at the new knots and at the neighbours whose segment they split.
    low = max((k.weeks for k in accepted if k.weeks <= new[0].weeks), default=new[0].weeks)
    high = min((k.weeks for k in accepted if k.weeks >= new[-1].weeks), default=new[-1].weeks)
    allowed = _MAX_DENSITY_RISE * max(1.0, _max_density_rise(accepted, low, high))
    return new if _max_density_rise(candidate, low, high) <= allowed else None


def _merged(knots: list[_Knot], new: list[_Knot]) -> list[_Knot]:
    """Knots sorted by weeks, adding each new knot unless one sits at its week."""
    merged = list(knots)
    for knot in new:
        if all(abs(k.weeks - knot.weeks) > _SAME_WEEK for k in merged):
            merged.append(knot)
    return sorted(merged, key=lambda k: k.weeks)


def _fits(accepted: list[_Knot], new: list[_Knot]) -> bool:
    """True if the new knots keep S non-negative and non-increasing with the accepted ones."""
    for knot in new:
        same_week = [k for k in accepted if abs(k.weeks - knot.weeks) <= _SAME_WEEK]
        if knot.patients < 0 or any(not math.isclose(k.patients, knot.patients, rel_tol=1e-9) for k in same_week):
            return False
    merged = _merged(accepted, new)
    return all(later.patients <= earlier.patients for earlier, later in zip(merged, merged[1:]))


def _max_density_rise(knots: list[_Knot], low: float, high: float) -> float:
    """Largest ratio of mean density after a knot to before it, over knots in [low, high].

    A rise from an empty stretch (no patients) to any density is unbounded.
    """
    weeks = np.array([k.weeks for k in knots])
    density = -np.diff([k.patients for k in knots]) / np.diff(weeks)
    largest = 1.0
    for i in range(1, len(knots) - 1):
        if low <= weeks[i] <= high:
            before, after = density[i - 1], density[i]
            rise = after / before if before > 0 else (math.inf if after > 0 else 1.0)
            largest = max(largest, rise)
    return largest


@dataclass(frozen=True, slots=True)
class _LogSurvival:
    """log S(weeks): a monotone cubic Hermite spline, then a straight tail."""

    spline: CubicHermiteSpline
    last_weeks: float
    last_log_s: float
    tail_slope: float

    def log_survival(self, weeks: np.ndarray) -> np.ndarray:
        inside = self.spline(np.minimum(weeks, self.last_weeks))
        return np.where(weeks <= self.last_weeks, inside, self.last_log_s + self.tail_slope * (weeks - self.last_weeks))

    def log_slope(self, weeks: np.ndarray) -> np.ndarray:
        inside = self.spline.derivative()(np.minimum(weeks, self.last_weeks))
        return np.where(weeks <= self.last_weeks, inside, self.tail_slope)


def _log_survival(knots: list[_Knot]) -> _LogSurvival:
    """Monotone C1 spline of log S through the knots, continued by its end slope.

    Slopes are PCHIP's (weighted harmonic means of neighbouring secants),
    except at the ends, which take the end segments' secants so that the tail
    continues the last segment's decay rate, and at knots carrying their own
    slope. All are clipped to the Fritsch-Carlson bounds (0 to 3 times each
    neighbouring secant), which keep the spline monotone. There are always >= 2
    knots: the list at 0 weeks and the 18-week knot are never dropped.
    """
    weeks = np.array([k.weeks for k in knots])
    log_s = np.log(np.maximum([k.patients for k in knots], _ZERO_COUNT_PATIENTS))
    secants = np.diff(log_s) / np.diff(weeks)
    slopes = PchipInterpolator(weeks, log_s).derivative()(weeks)
    slopes[0], slopes[-1] = secants[0], secants[-1]
    for i, knot in enumerate(knots):
        if knot.log_slope is not None:
            slopes[i] = knot.log_slope
    left = np.concatenate(([secants[0]], secants))
    right = np.concatenate((secants, [secants[-1]]))
    slopes = np.clip(slopes, 3.0 * np.maximum(left, right), 0.0)
    return _LogSurvival(CubicHermiteSpline(weeks, log_s, slopes), float(weeks[-1]), float(log_s[-1]), float(slopes[-1]))


def _counts_from_knots(knots: list[_Knot], n_bins: int) -> np.ndarray:
    """Patients per weekly bin: S(j) - S(j + 1), and S(n_bins - 1) in the open last bin."""
    weeks = np.arange(n_bins, dtype=np.float64)
    survival = np.exp(_log_survival(knots).log_survival(weeks))
    survival[0] = knots[0].patients
    # Guard against float noise: S must never rise.
    survival = np.minimum.accumulate(survival)
    counts = np.empty(n_bins)
    counts[:-1] = survival[:-1] - survival[1:]
    counts[-1] = survival[-1]
    return counts


def summarise_counts(counts: np.ndarray, census_offset_days: float = 0.0) -> dict[str, float]:
    """NHS England's RTT aggregates computed from a list by weekly bin.

    The reference implementation for month-end census metrics. Patients are
    spread evenly within each bin: bin j holds waits in
    ``[7j + offset, 7j + 7 + offset)`` days at the census date; the last bin is
    open-ended from ``7(n - 1) + offset`` days. "Within 18 weeks" is waited
    <= 126 days; "over X weeks" is waited > 7X days; the median and 92nd
    percentile interpolate the cumulative distribution linearly (NHS England's
    method). A value that needs a split of the open-ended bin is NaN, as are
    the percentage and quantiles of an empty list.

    Args:
        counts: Patients per weekly bin, 1-D, >= 2 bins, non-negative.
        census_offset_days: Days by which every wait exceeds its bin's lower
            edge, >= 0 (e.g. days from the last weekly step to month end).

    Returns:
        ``waiting_list`` (patients), ``pct_within_18w`` (0-100),
        ``median_weeks``, ``p92_weeks`` (weeks), and ``over_52w``,
        ``over_65w``, ``over_78w``, ``over_104w`` (patients). Keys are the
        arguments of :func:`reconstruct_waiting_times`; CANONICAL_METRICS maps
        them to metric names.

    Raises:
        ValueError: If counts is not a 1-D array of >= 2 finite non-negative
            values, or the offset is negative or not finite.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size < 2:
        raise ValueError(f"counts must be 1-D with at least 2 bins, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("counts must be finite and non-negative")
    if not math.isfinite(census_offset_days) or census_offset_days < 0:
        raise ValueError(f"census_offset_days must be finite and >= 0, got {census_offset_days}")
    # Patients waiting at most edge_days[i] days, at each bin's lower edge.
    edge_days = census_offset_days + DAYS_PER_WEEK * np.arange(counts.size)
    cumulative = np.concatenate(([0.0], np.cumsum(counts[:-1])))
    waiting_list = float(counts.sum())
    within_18w = _waiting_at_most(WITHIN_18W_DAYS, edge_days, cumulative)
    summary = {
        "waiting_list": waiting_list,
        "pct_within_18w": 100.0 * within_18w / waiting_list if waiting_list > 0 else math.nan,
        "median_weeks": _quantile_weeks(0.5 * waiting_list, edge_days, cumulative),
        "p92_weeks": _quantile_weeks(0.92 * waiting_list, edge_days, cumulative),
    }
    for name, weeks in LONG_WAIT_WEEKS.items():
        over = waiting_list - _waiting_at_most(DAYS_PER_WEEK * weeks, edge_days, cumulative)
        summary[name] = over if math.isnan(over) else max(over, 0.0)  # no -1e-13 patients from rounding
    return summary


def _waiting_at_most(days: float, edge_days: np.ndarray, cumulative: np.ndarray) -> float:
    """Patients who have waited ``days`` or less (NaN inside the open last bin)."""
    if days > edge_days[-1]:
        return math.nan
    return float(np.interp(days, edge_days, cumulative))


def _quantile_weeks(patients: float, edge_days: np.ndarray, cumulative: np.ndarray) -> float:
    """Wait (weeks) that ``patients`` of the list have waited at most, interpolated within its bin.

    NaN for an empty list or inside the open last bin.
    """
    if patients <= 0:
        return math.nan
    upper = int(np.searchsorted(cumulative, patients, side="left"))
    if upper == cumulative.size:
        return math.nan
    fraction = (patients - cumulative[upper - 1]) / (cumulative[upper] - cumulative[upper - 1])
    return float(edge_days[upper - 1] + DAYS_PER_WEEK * fraction) / DAYS_PER_WEEK
