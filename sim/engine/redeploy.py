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

from sim.engine.census import sum_groups


def spare(available: np.ndarray, used: np.ndarray) -> np.ndarray:
    """``[rep, row, stage]`` activity a row had of its own and did not use (never negative)."""
    return np.maximum(available - used, 0.0)


def redeploy(spare_activity: np.ndarray, waiting: np.ndarray, pool: np.ndarray, n_pools: int,
             share: np.ndarray) -> np.ndarray:
    """Activity lent to each row for the next sub-step, ``[rep, row, stage]``.

    Args:
        spare_activity: float64 ``[rep, row, stage]`` activity each row left unused (:func:`spare`).
        waiting: float64 ``[rep, row, stage]`` each row's list after its own activity.
        pool: int ``[row]`` each row's pool (rows of one pool share their spare activity).
        n_pools: number of pools.
        share: float64 ``[rep]`` share of spare activity redeployed (0: none, 1: all).

    In each replication, pool and stage the rows receive ``share`` x the pool's
    spare in proportion to their ``waiting``; a pool with no one waiting lends nothing.
    """
    n_reps, n_rows, n_stages = waiting.shape
    pool_spare = sum_groups(spare_activity, pool, n_pools)[:, pool]
    pool_waiting = sum_groups(waiting, pool, n_pools)[:, pool]
    part = np.divide(waiting, pool_waiting, out=np.zeros_like(waiting), where=pool_waiting > 0.0)
    return share[:, None, None] * pool_spare * part

