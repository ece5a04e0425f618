"""Diagnostic waiting lists (DM01) as stocks by weeks waited, stepped with the RTT list.

State: ``stock[replication, row, source, bin]`` (float32), where a row is one
provider x DM01 test, ``source`` is who asked for the test (0 urgent suspected
cancer, 1 an RTT pathway that needs the test, 2 other: direct access and the
rest) and bin ``b`` holds requests waiting ``b`` completed engine weeks (the
last bin is open-ended), the RTT engine's convention, so
:mod:`sim.engine.census` counts both.

One call of :func:`advance` moves every row through a sub-step:

1. new requests enter bin 0 of their source;
2. the waiting-list tests available in the sub-step (capacity left after
   planned and unscheduled tests, which the caller takes off first) are shared
   over every (source, bin) in proportion to ``stock * source_weight * hazard``
   (one weight table per test, as each test has its own discipline):
   the source weights give urgent cancer requests priority over RTT requests
   over other requests, and the hazard ``exp(in_turn x weeks waited)`` treats
   each source in turn to a degree set by ``in_turn`` (0: random order; large:
   strictly longest-waiting first, as an exponential keeps the same ratio
   between neighbouring weeks however long the wait); a bin is never emptied
   beyond its stock;
3. at a week boundary the bins age by one week.

Mechanics only: arrays in, arrays out. The sharing rule is the flow engine's
(:func:`sim.engine.flow.share_in_order`, whose numpy reference the tests
compare against).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.engine.flow import FASTMATH, _share_activity_numpy, priority_order, share_in_order

URGENT = 0
RTT = 1
OTHER = 2
N_SOURCES = 3
SOURCE_NAMES = ("urgent_cancer", "rtt", "other")

# Accumulator columns (per replication and row), summed until the month-end census.
ACC_REQUESTS = 0            # + source: requests added, by source (3 columns)
ACC_TESTS = 3               # + source: waiting-list tests done, by source (3 columns)
N_ACC = 6


# The flow engine's flags (sim/engine/flow.py); inlined functions take them too.
@njit(cache=True, fastmath=FASTMATH)
def _advance_kernel(stock, requests, list_capacity, weight, order, rank, row_weight, age, acc, done_step, waiting):
    n_reps, n_rows, n_sources, n_bins = stock.shape
    n = n_sources * n_bins
    listed = np.empty(n_sources)
    for r in range(n_reps):
        for i in range(n_rows):
            flat = stock[r, i].reshape(n)
            for s in range(n_sources):
                flat[s * n_bins] += requests[r, i, s]
                acc[r, i, ACC_REQUESTS + s] += requests[r, i, s]
            g = row_weight[i]
            w = weight[g]
            rk = rank[g]
            total = 0.0
            for s in range(n_sources):
                listed[s] = 0.0
                for c in range(s * n_bins, (s + 1) * n_bins):
                    listed[s] += flat[c]
                total += listed[s]
            first, k = share_in_order(flat, total, w, order[g], list_capacity[r, i])
            every = first < 0
            # One sweep per source: tests taken (all of an emptied bin, else its share), then ageing.
            for s in range(n_sources):
                base = s * n_bins
                done = 0.0
                carry = 0.0
                for b in range(n_bins):
                    x = np.float64(flat[base + b])
                    take = x if (every or rk[base + b] < first) else x * k * w[base + b]
                    done += take
                    if age:
                        flat[base + b] = carry
                        carry = x - take
                    else:
                        flat[base + b] = x - take
                if age:
                    flat[base + n_bins - 1] += carry  # the open last bin keeps its own
                acc[r, i, ACC_TESTS + s] += done
                done_step[r, i, s] = done
                waiting[r, i, s] = max(listed[s] - done, 0.0)


def in_turn_hazard(in_turn_per_week: float, n_bins: int) -> np.ndarray:
    """float64 ``[bin]`` relative priority by weeks waited: ``exp(in_turn_per_week x bin)``."""
    return np.exp(float(in_turn_per_week) * np.arange(n_bins, dtype=np.float64))


def priority_weights(source_weight: np.ndarray, hazard: np.ndarray) -> np.ndarray:
    """float64 ``[source * bin]``: each (source, bin)'s relative priority, flattened as the stock is."""
    return np.ascontiguousarray(np.outer(np.asarray(source_weight, dtype=np.float64),
                                         np.asarray(hazard, dtype=np.float64)).ravel())


def advance(stock: np.ndarray, acc: np.ndarray, done_step: np.ndarray, *, requests: np.ndarray,
            list_capacity: np.ndarray, weight: np.ndarray, age: bool, row_weight: np.ndarray | None = None,
            waiting: np.ndarray | None = None) -> None:
    """Move every row through one sub-step, in place.

    Args:
        stock: float32 ``[rep, row, source, bin]`` requests waiting for a test (C-contiguous).
        acc: float64 ``[rep, row, N_ACC]`` flow accumulators (added to).
        done_step: float64 ``[rep, row, source]`` overwritten with this sub-step's tests by source.
        requests: float64 ``[rep, row, source]`` new waiting-list requests in the sub-step.
        list_capacity: float64 ``[rep, row]`` waiting-list tests available in the sub-step.
        weight: float64 ``[source * bin]`` from :func:`priority_weights`, or ``[table, source * bin]``.
        age: whether this sub-step ends a week.
        row_weight: int ``[row]`` each row's weight table (default: table 0 for all).
        waiting: float64 ``[rep, row, source]``, if given, overwritten with each source's list after the
            sub-step (the stock's sum over bins, from sums the kernel makes anyway).
    """
    if not stock.flags.c_contiguous:
        raise ValueError("stock must be C-contiguous")
    weight, row_weight = _tables(weight, row_weight, stock.shape[1])
    order, rank = priority_order(weight)
    if waiting is None:
        waiting = np.empty_like(done_step)
    _advance_kernel(stock, requests, list_capacity, weight, order, rank, row_weight, age, acc, done_step, waiting)


def _tables(weight: np.ndarray, row_weight: np.ndarray | None, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    weight = np.ascontiguousarray(np.atleast_2d(np.asarray(weight, dtype=np.float64)))
    if row_weight is None:
        row_weight = np.zeros(n_rows, dtype=np.int64)
    row_weight = np.ascontiguousarray(row_weight, dtype=np.int64)
    if row_weight.shape != (n_rows,) or (row_weight < 0).any() or (row_weight >= weight.shape[0]).any():
        raise ValueError("row_weight must give each row a weight table")
    return weight, row_weight


def advance_numpy(stock, acc, done_step, *, requests, list_capacity, weight, age, row_weight=None,
                  waiting=None) -> None:
    """Plain numpy reference of :func:`advance` (slow; for tests only)."""
    weight, row_weight = _tables(weight, row_weight, stock.shape[1])
    weight = weight[row_weight][None]
    n_reps, n_rows, n_sources, n_bins = stock.shape
    work = stock.astype(np.float64).reshape(n_reps, n_rows, n_sources * n_bins)
    for s in range(n_sources):
        work[:, :, s * n_bins] += requests[:, :, s]
    acc[..., ACC_REQUESTS:ACC_REQUESTS + n_sources] += requests
    removed = _share_activity_numpy(work, weight, list_capacity)
    removed = np.minimum(removed, work)
    work = (work - removed).reshape(stock.shape)
    done = removed.reshape(stock.shape).sum(axis=-1)
    acc[..., ACC_TESTS:ACC_TESTS + n_sources] += done
    done_step[...] = done
    if waiting is not None:
        waiting[...] = work.sum(axis=-1)
    if age:
        work[..., -1] += work[..., -2]
        work[..., 1:-1] = work[..., :-2].copy()
        work[..., 0] = 0.0
    stock[...] = work
