"""Each trust's start list by weeks waited: the national shape, stretched to the trust's own performance.

Published trust-level RTT figures give each trust's list and % within 18 weeks
but not its whole distribution. A trust that treats its patients more slowly
has the national curve stretched in time: S_t(w) = S(w / lambda_t), with
lambda_t chosen so that the trust's % within 18 weeks is its published one.
The stretched trusts no longer add up exactly to the national list by weeks
waited, so the trust x weeks table is then raked (iterative proportional
fitting) to the trusts' lists and the national counts by week: the national
start reproduces every published national aggregate exactly, each trust keeps
its list, and each trust keeps its relative position (raking preserves the
table's odds ratios).

Counts follow the engine's bins: bin ``b`` holds waits of ``b - 1`` to ``b``
weeks, bin 0 is empty at the start census, the last bin is open.
"""

from __future__ import annotations

import numpy as np

WITHIN_WEEKS = 18.0
_STRETCH_RANGE = (0.25, 4.0)  # outside this a trust's published % is not a stretch of the national curve
_RAKING_ITERATIONS = 200
_RAKING_TOLERANCE = 1e-10


def survival_at_edges(counts: np.ndarray) -> np.ndarray:
    """S(k) = patients waiting more than k weeks, for k = 0 .. n_bins - 2 (engine bins)."""
    return np.cumsum(counts[::-1])[::-1][1:]


def _log_survival(s: np.ndarray, weeks: np.ndarray) -> np.ndarray:
    """log S at any wait, linear in log S between whole weeks, exponential tail beyond the last edge."""
    k = np.arange(s.size, dtype=np.float64)
    log_s = np.log(np.maximum(s, 1e-300))
    tail_rate = log_s[-1] - log_s[-2] if s.size > 1 else 0.0
    inside = np.interp(weeks, k, log_s)
    beyond = log_s[-1] + tail_rate * (weeks - k[-1])
    return np.where(weeks > k[-1], beyond, inside)


def stretch_for_pct(counts: np.ndarray, pct_within_18w: float) -> float:
    """The time stretch that gives the national shape a trust's % within 18 weeks."""
    s = survival_at_edges(counts)
    total = counts.sum()
    target = np.log(total * (1.0 - pct_within_18w / 100.0))
    log_s = _log_survival(s, np.arange(s.size, dtype=np.float64))
    # log S is non-increasing: find where it crosses the target.
    weeks = np.interp(-target, -log_s, np.arange(s.size, dtype=np.float64))
    if weeks <= 0:
        return _STRETCH_RANGE[1]
    return float(np.clip(WITHIN_WEEKS / weeks, *_STRETCH_RANGE))


def stretched_counts(counts: np.ndarray, stretch: float, size: float) -> np.ndarray:
    """The national shape stretched in time by ``stretch`` and scaled to ``size`` patients."""
    s = survival_at_edges(counts)
    edges = np.arange(s.size, dtype=np.float64)
    s_t = np.exp(_log_survival(s, edges / stretch)) * (size / counts.sum())
    s_t[0] = size  # everyone has waited more than 0 weeks at the start census
    out = np.zeros_like(counts, dtype=np.float64)
    out[1:-1] = s_t[:-1] - s_t[1:]
    out[-1] = s_t[-1]
    return np.maximum(out, 0.0)


def rake(seed: np.ndarray, row_totals: np.ndarray, column_totals: np.ndarray) -> np.ndarray:
    """Iterative proportional fitting of ``seed`` to both margins (they must have equal sums)."""
    table = seed.astype(np.float64).copy()
    for _ in range(_RAKING_ITERATIONS):
        cols = table.sum(axis=0)
        table *= np.divide(column_totals, cols, out=np.zeros_like(cols), where=cols > 0)[None, :]
        rows = table.sum(axis=1)
        table *= np.divide(row_totals, rows, out=np.zeros_like(rows), where=rows > 0)[:, None]
        if np.max(np.abs(table.sum(axis=0) - column_totals)) <= _RAKING_TOLERANCE * column_totals.sum():
            break
    return table


def trust_start_counts(national: np.ndarray, trust_lists: np.ndarray, trust_pct: np.ndarray) -> np.ndarray:
    """``[trust, bin]`` start lists: stretched to each trust's % within 18 weeks, raked to the margins.

    Args:
        national: engine-bin counts of the national (or whole-world) list.
        trust_lists: each trust's list; they are scaled to sum to ``national``'s total.
        trust_pct: each trust's published % within 18 weeks; NaN keeps the national shape.
    """
    lists = trust_lists * (national.sum() / trust_lists.sum())
    seed = np.stack([
        stretched_counts(national, 1.0 if np.isnan(p) else stretch_for_pct(national, p), size)
        for p, size in zip(trust_pct, lists)
    ])
    return rake(seed, lists, national)


def mean_wait_weeks(counts: np.ndarray) -> np.ndarray:
    """Mean weeks waited of lists by engine bin (last axis), for Little's law shares of referrals."""
    weeks = np.maximum(np.arange(counts.shape[-1]) - 0.5, 0.0)
    total = counts.sum(axis=-1)
    return (counts * weeks).sum(axis=-1) / np.where(total > 0, total, 1.0)
