"""Month-end census of the waiting list, counted in days to the census date.

The engine ages its bins once a week, but NHS England counts each pathway's
wait in days from clock start to the month-end census date. At a census taken
``days_since_ageing`` (d) days after the last ageing, bin ``b >= 1`` holds
pathways whose clock started in one 7-day span, so that at the end of the
census day their waits lie in ``[7b + d - 7, 7b + d)`` days. Pathways are
taken as spread evenly over that span (starts within a week are not tracked
separately), the convention of :func:`sim.start_state.summarise_counts`, which
is the reference this module is tested against. Bin 0 holds only pathways
that started since the last ageing (waits in ``[0, d)``).
The last bin is open-ended; with 106 bins it starts at 105 engine weeks, so
everyone in it has waited more than 104 weeks whatever the census day.

"Within 18 weeks" is a wait of at most 126 days; "over 52 weeks" is more than
364 days; the median and 92nd percentile interpolate the cumulative count.
"""

from __future__ import annotations

import numpy as np
from numba import njit

DAYS_PER_WEEK = 7


@njit(cache=True)
def sum_rows_to_groups(stock, row_group, n_groups):
    """Sum ``stock[rep, row, stage, bin]`` over stages and rows into groups.

    Returns float64 ``[rep, group, bin]``. A plain ordered loop, so the result
    for a replication never depends on how many replications share the batch.
    """
    n_reps, n_rows, n_stages, n_bins = stock.shape
    out = np.zeros((n_reps, n_groups, n_bins))
    for r in range(n_reps):
        for i in range(n_rows):
            g = row_group[i]
            for s in range(n_stages):
                for b in range(n_bins):
                    out[r, g, b] += stock[r, i, s, b]
    return out


@njit(cache=True)
def sum_rows_by_stage(stock, row_group_a, n_groups_a, row_group_b, n_groups_b):
    """Sum ``stock[rep, row, stage, bin]`` over rows into two groupings at once, keeping stages.

    Returns float64 ``[rep, group, stage, bin]`` for each grouping: one sweep of
    the stock where two calls of :func:`sum_rows_to_groups` per stage would take four.
    """
    n_reps, n_rows, n_stages, n_bins = stock.shape
    out_a = np.zeros((n_reps, n_groups_a, n_stages, n_bins))
    out_b = np.zeros((n_reps, n_groups_b, n_stages, n_bins))
    for r in range(n_reps):
        for i in range(n_rows):
            ga = row_group_a[i]
            gb = row_group_b[i]
            for s in range(n_stages):
                for b in range(n_bins):
                    x = np.float64(stock[r, i, s, b])
                    out_a[r, ga, s, b] += x
                    out_b[r, gb, s, b] += x
    return out_a, out_b


@njit(cache=True)
def sum_groups(values, group_of, n_groups):
    """Sum ``values[rep, item, ...]`` (flattened trailing axes) into groups, in order."""
    n_reps, n_items, n_tail = values.shape
    out = np.zeros((n_reps, n_groups, n_tail))
    for r in range(n_reps):
        for i in range(n_items):
            g = group_of[i]
            for k in range(n_tail):
                out[r, g, k] += values[r, i, k]
    return out


def _bin_first_wait_days(n_bins: int, days_since_ageing: int) -> np.ndarray:
    """NHS wait in days of the first of each bin's 7 clock-start days."""
    first = DAYS_PER_WEEK * np.arange(n_bins, dtype=np.float64) + days_since_ageing - DAYS_PER_WEEK
    first[0] = 0.0
    return first


def _bin_width_days(n_bins: int, days_since_ageing: int) -> np.ndarray:
    width = np.full(n_bins, float(DAYS_PER_WEEK))
    width[0] = float(max(days_since_ageing, 1))
    return width


def share_within(n_bins: int, days_since_ageing: int, max_wait_days: int) -> np.ndarray:
    """Share of each bin whose NHS wait is at most ``max_wait_days``."""
    first = _bin_first_wait_days(n_bins, days_since_ageing)
    width = _bin_width_days(n_bins, days_since_ageing)
    share = np.clip((max_wait_days - first) / width, 0.0, 1.0)
    share[-1] = 1.0 if max_wait_days >= first[-1] + 10 * 365 else 0.0  # open-ended last bin
    return share


def wait_percentile_weeks(counts: np.ndarray, days_since_ageing: int, q: float) -> np.ndarray:
    """The ``q`` quantile of NHS waits in weeks, over the last axis of ``counts``.

    Linear interpolation of the cumulative count over each bin's day span; the
    open last bin is read as its first week. NaN where the list is empty.
    """
    n_bins = counts.shape[-1]
    first = _bin_first_wait_days(n_bins, days_since_ageing)
    width = _bin_width_days(n_bins, days_since_ageing)
    cum = np.cumsum(counts, axis=-1)
    total = cum[..., -1]
    target = q * total
    idx = np.minimum((cum < target[..., None]).sum(axis=-1), n_bins - 1)
    below = np.take_along_axis(cum, idx[..., None], axis=-1)[..., 0] - np.take_along_axis(counts, idx[..., None], axis=-1)[..., 0]
    in_bin = np.take_along_axis(counts, idx[..., None], axis=-1)[..., 0]
    frac = np.where(in_bin > 0, (target - below) / np.where(in_bin > 0, in_bin, 1.0), 0.0)
    days = first[idx] + frac * width[idx]
    return np.where(total > 0, days / DAYS_PER_WEEK, np.nan)


def wait_metrics(counts: np.ndarray, days_since_ageing: int) -> dict[str, np.ndarray]:
    """RTT list metrics from counts by bin (last axis), as NHS England defines them."""
    n_bins = counts.shape[-1]
    total = counts.sum(axis=-1)
    within_18 = (counts * share_within(n_bins, days_since_ageing, 18 * DAYS_PER_WEEK)).sum(axis=-1)
    safe_total = np.where(total > 0, total, 1.0)
    out = {
        "rtt_waiting_list": total,
        "rtt_within_18w_pct": np.where(total > 0, 100.0 * within_18 / safe_total, np.nan),
        "rtt_median_weeks": wait_percentile_weeks(counts, days_since_ageing, 0.5),
        "rtt_p92_weeks": wait_percentile_weeks(counts, days_since_ageing, 0.92),
    }
    for weeks in (52, 65, 78, 104):
        # Elementwise product then a last-axis sum, not BLAS: per-row results must not
        # depend on how many rows share the call.
        over = total - (counts * share_within(n_bins, days_since_ageing, weeks * DAYS_PER_WEEK)).sum(axis=-1)
        out[f"rtt_over_{weeks}w"] = np.maximum(over, 0.0)
    out["rtt_over_52w_pct"] = np.where(total > 0, 100.0 * out["rtt_over_52w"] / safe_total, np.nan)
    return out
