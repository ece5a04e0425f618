"""Capacity redeployment: activity a row cannot use treats patients of its pool that still wait.

A row (an RTT trust x treatment function, or a provider x DM01 test) whose
activity in a sub-step exceeds its list clears the list and has activity to
spare. A share of the spare treats patients of the same stage waiting in
other rows of the row's pool (the same treatment function or test at the
other trusts or providers of its ICB, region or England: mutual aid, patient
choice), in the next sub-step, shared in proportion to the lists those rows
still have after their own activity. The rest is stood down.

Spare is measured against a row's own activity only, so activity lent to a
row it cannot use is not lent again: nothing accumulates from sub-step to
sub-step. Pools never cross replications, so a replication's result does not
depend on the batch it runs in.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def pools(group: np.ndarray, kind: np.ndarray) -> np.ndarray:
    """int ``[row]``: the rows of one ``group`` (an area) and one ``kind`` (a treatment function or test) form a
    pool; pools numbered from 0 in order of (group, kind)."""
    key = np.asarray(group, dtype=np.int64) * (int(np.max(kind)) + 1) + np.asarray(kind, dtype=np.int64)
    return np.unique(key, return_inverse=True)[1].astype(np.int64).reshape(-1)


# A row that used its activity up to rounding (the flow kernel's shares of it) has none to spare.
SPARE_TOLERANCE = 1e-9


@njit(cache=True)
def lend(own, treated, waiting, pool, n_pools, share, lent, acc, acc_column):
    """Activity each row is lent for the next sub-step, written to ``lent``; what rows used of their loans,
    added to ``acc[..., acc_column]``.

    Args:
        own: float64 ``[rep, row, stage]`` each row's own activity this sub-step.
        treated: float64 ``[rep, row, stage]`` activity each row used this sub-step (its own and its loan).
        waiting: float64 ``[rep, row, stage]`` each row's list after that activity.
        pool: int ``[row]`` each row's pool, ``0 .. n_pools - 1``.
        share: float64 ``[rep]`` share of spare activity redeployed (0: none, 1: all).
        lent: float64 ``[rep, row, stage]``, overwritten.
        acc: float64 ``[rep, row, column]`` accumulators.

    In each replication, pool and stage the rows receive ``share`` x the pool's
    spare (own activity left unused) in proportion to ``waiting``; a pool with
    no one waiting lends nothing. Plain ordered loops: no temporaries.
    """
    n_reps, n_rows, n_stages = waiting.shape
    spare = np.zeros((n_pools, n_stages))
    listed = np.zeros((n_pools, n_stages))
    for r in range(n_reps):
        spare[:] = 0.0
        listed[:] = 0.0
        any_spare = False
        for i in range(n_rows):
            p = pool[i]
            for s in range(n_stages):
                left = own[r, i, s] - treated[r, i, s]
                if left > SPARE_TOLERANCE * own[r, i, s]:
                    spare[p, s] += left
                    any_spare = True
                elif left < 0.0:
                    acc[r, i, acc_column] -= left
        if not any_spare or share[r] == 0.0:  # the usual case while every row has a list
            lent[r] = 0.0
            continue
        for i in range(n_rows):
            for s in range(n_stages):
                listed[pool[i], s] += waiting[r, i, s]
        for p in range(n_pools):  # spare[p, s] becomes the pool's loan per patient waiting
            for s in range(n_stages):
                spare[p, s] = share[r] * spare[p, s] / listed[p, s] if listed[p, s] > 0.0 else 0.0
        for i in range(n_rows):
            p = pool[i]
            for s in range(n_stages):
                lent[r, i, s] = spare[p, s] * waiting[r, i, s]
