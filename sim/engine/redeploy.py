"""RTT capacity redeployment: activity a row cannot use treats patients of its pool that still wait.

A row (trust x treatment function) whose activity in a sub-step exceeds its
list clears the list and has activity to spare. A share of the spare treats
patients of the same stage waiting in other rows of the row's pool (the same
treatment function at the other trusts of its ICB, region or England: mutual
aid, patient choice), in the next sub-step, shared in proportion to the lists
those rows still have after their own activity. The rest is stood down.

Spare is measured against a row's own activity only, so activity lent to a
row it cannot use is not lent again: nothing accumulates from sub-step to
sub-step. Pools never cross replications, so a replication's result does not
depend on the batch it runs in.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def lend(own_nonadmitted, own_admitted, treated, waiting, pool, n_pools, share, lent, acc, acc_column):
    """Activity each row is lent for the next sub-step, written to ``lent``; what rows used of their loans,
    added to ``acc[..., acc_column]``.

    Args:
        own_nonadmitted, own_admitted: float64 ``[rep, row]`` each row's own activity this sub-step.
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
        any_spare = 0.0
        for i in range(n_rows):
            p = pool[i]
            for s in range(n_stages):
                own = own_nonadmitted[r, i] if s == 0 else own_admitted[r, i]
                used = treated[r, i, s]
                if used > own:
                    acc[r, i, acc_column] += used - own
                else:
                    spare[p, s] += own - used
                    any_spare += own - used
                listed[p, s] += waiting[r, i, s]
        if any_spare == 0.0 or share[r] == 0.0:  # the usual case while every row has a list
            lent[r] = 0.0
            continue
        for p in range(n_pools):  # spare[p, s] becomes the pool's loan per patient waiting
            for s in range(n_stages):
                spare[p, s] = share[r] * spare[p, s] / listed[p, s] if listed[p, s] > 0.0 else 0.0
        for i in range(n_rows):
            p = pool[i]
            for s in range(n_stages):
                lent[r, i, s] = spare[p, s] * waiting[r, i, s]
