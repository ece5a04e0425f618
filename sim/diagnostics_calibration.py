"""Fit the diagnostic queue discipline: how strongly longer waiters are tested first.

The DM01 provider file gives each list by weeks waited but not the order in
which requests are served. With every provider at its test's national turnover
(:func:`sim.scenarios.diagnostics.balanced_requests_per_wd`), requests equal to
tests and the urgent, RTT and other requests at their priorities, the share
waiting 6 weeks or more settles to a level set by the priority slope (with
one source, random order gives about 22% and strict turn-taking about 8%).
The slope is fitted so that this settled share equals the published share at
the census month: the census list is taken as the steady state of the
discipline. Runs fit it when they are planned unless the scenario sets it.
"""

from __future__ import annotations

import numpy as np

from sim.engine import diagnostics as dx
from sim.engine.census import share_within

SIX_WEEKS_DAYS = 42
#: Weeks simulated before the settled share is read (the list turns over in about 4).
SETTLE_WEEKS = 26
#: Working days per simulated week.
WORKING_DAYS = 5.0


def over_6w_pct(counts: np.ndarray) -> float:
    """% of a list (counts by engine bin, summed over leading axes) waiting 6 weeks or more at a census."""
    c = np.asarray(counts, dtype=np.float64).reshape(-1, counts.shape[-1]).sum(axis=0)
    return float(100.0 * (1.0 - (c * share_within(len(c), 0, SIX_WEEKS_DAYS)).sum() / c.sum()))


def settled_over_6w_pct(start_stock: np.ndarray, requests_per_wd: np.ndarray, tests_per_wd: np.ndarray,
                        source_weight: np.ndarray, in_turn_per_week: float, weeks: int = SETTLE_WEEKS) -> float:
    """National % over 6 weeks after ``weeks`` of steady requests under the given priorities.

    Args:
        start_stock: ``[row, source, bin]`` the list at the census.
        requests_per_wd: ``[row, source]`` requests per working day.
        tests_per_wd: ``[row]`` waiting-list tests per working day.
        source_weight: ``[source]`` priority of each source.
        in_turn_per_week: the slope of priority with weeks waited.
    """
    stock = np.ascontiguousarray(start_stock[None].astype(np.float32))
    n_rows, _, n_bins = start_stock.shape
    requests = np.ascontiguousarray(requests_per_wd[None] * WORKING_DAYS)
    capacity = tests_per_wd[None, :] * WORKING_DAYS
    weight = dx.priority_weights(source_weight, dx.in_turn_hazard(in_turn_per_week, n_bins))
    acc = np.zeros((1, n_rows, dx.N_ACC))
    done = np.zeros((1, n_rows, dx.N_SOURCES))
    for _ in range(weeks):
        dx.advance(stock, acc, done, requests=requests, list_capacity=capacity, weight=weight, age=True)
    return over_6w_pct(stock)


def fit_in_turn(start_stock: np.ndarray, requests_per_wd: np.ndarray, tests_per_wd: np.ndarray,
                source_weight: np.ndarray, low: float = 0.0, high: float = 6.0, steps: int = 14) -> dict:
    """The priority slope whose settled % over 6 weeks equals the census list's (bisection).

    Returns:
        ``in_turn_per_week``, ``target_pct`` (published), ``fitted_pct`` (settled), and ``at_bound``:
        ``"high"`` if even near-strict turn-taking leaves more waiting 6 weeks than published (e.g.
        urgent requests jumping the queue), ``"low"`` if random order already leaves fewer; the slope
        is then that bound.
    """
    target = over_6w_pct(start_stock)

    def settled(slope: float) -> float:
        return settled_over_6w_pct(start_stock, requests_per_wd, tests_per_wd, source_weight, slope)

    bound = "high" if settled(high) > target else ("low" if settled(low) < target else "")
    if not bound:
        for _ in range(steps):
            mid = 0.5 * (low + high)
            if settled(mid) > target:
                low = mid
            else:
                high = mid
    slope = {"high": high, "low": low}.get(bound, 0.5 * (low + high))
    return {"in_turn_per_week": slope, "target_pct": target, "fitted_pct": settled(slope), "at_bound": bound}


def fit_in_turn_by_test(start_stock: np.ndarray, requests_per_wd: np.ndarray, tests_per_wd: np.ndarray,
                        source_weight: np.ndarray, row_test: np.ndarray, test_keys: tuple[str, ...]) -> dict[str, dict]:
    """:func:`fit_in_turn` for each test on its own rows (each test keeps its own discipline)."""
    out = {}
    for k, key in enumerate(test_keys):
        rows = np.flatnonzero(row_test == k)
        if rows.size == 0 or start_stock[rows].sum() <= 0:
            out[key] = {"in_turn_per_week": 0.0, "target_pct": float("nan"), "fitted_pct": float("nan"),
                        "at_bound": "no list"}
            continue
        out[key] = fit_in_turn(start_stock[rows], requests_per_wd[rows], tests_per_wd[rows], source_weight)
    return out
