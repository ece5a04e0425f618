"""NHS England's ICB allocation rule: fair-share targets and the pace of change towards them.

Mechanics only (numpy, vectorised over the replications of a batch). Each
financial year:

1. every ICB's target is its needs-weighted capitation share of the envelope;
2. every ICB gets at least the growth floor on last year's allocation (if the
   envelope cannot pay the floor, everyone is scaled down alike);
3. ICBs below target receive ``convergence`` of their remaining gap to target,
   scaled down pro rata if the money left after the floor does not cover it;
4. what is left goes to every ICB pro rata to target, except that an ICB above
   target grows no faster than the cap (the overflow goes to the others; if
   every ICB is capped, the cap yields, as the envelope must be allocated).

So the allocations always sum to the envelope: every pound is allocated.
Distance from target is ``(allocation - target) / target``, NHS England's
definition (April 2025 allocation letter, appendix 2).
"""

from __future__ import annotations

import numpy as np


def distance_from_target_pct(allocation: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``100 x (allocation - target) / target`` (0 where the target is 0)."""
    return np.where(target > 0, 100.0 * (allocation - target) / np.where(target > 0, target, 1.0), 0.0)


def pace_of_change(previous: np.ndarray, target: np.ndarray, envelope: np.ndarray, floor_growth: np.ndarray,
                   convergence: np.ndarray, cap_growth: np.ndarray) -> np.ndarray:
    """This year's allocations ``[rep, icb]`` (module docstring).

    Args:
        previous: ``[rep, icb]`` last year's allocations.
        target: ``[rep, icb]`` this year's fair-share targets (summing to ``envelope``).
        envelope: ``[rep]`` the total to allocate.
        floor_growth: ``[rep]`` minimum growth on last year's allocation (0.02 = 2%).
        convergence: ``[rep]`` share (0-1) of the remaining gap to target closed for ICBs below it.
        cap_growth: ``[rep]`` maximum growth for ICBs above target (at least ``floor_growth``).
    """
    previous = np.asarray(previous, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    envelope = np.asarray(envelope, dtype=np.float64)
    alloc = previous * (1.0 + np.asarray(floor_growth, dtype=np.float64))[:, None]
    spent = alloc.sum(axis=1)
    unaffordable = spent > envelope
    alloc[unaffordable] *= (envelope / spent)[unaffordable, None]
    remaining = np.where(unaffordable, 0.0, envelope - spent)

    gap = np.maximum(target - alloc, 0.0)
    wanted = np.asarray(convergence, dtype=np.float64)[:, None] * gap
    total_wanted = wanted.sum(axis=1)
    short = total_wanted > remaining
    scale = np.ones_like(remaining)
    scale[short] = remaining[short] / total_wanted[short]
    alloc += wanted * scale[:, None]
    remaining = remaining - (wanted * scale[:, None]).sum(axis=1)

    ceiling = np.where(previous * (1.0 + np.asarray(cap_growth, dtype=np.float64))[:, None] >= alloc,
                       previous * (1.0 + np.asarray(cap_growth, dtype=np.float64))[:, None], alloc)
    capped = alloc > target  # above target after convergence: held to the cap
    open_ = np.ones_like(alloc, dtype=bool)
    for _ in range(alloc.shape[1] + 1):
        if not (remaining > 1e-9 * np.maximum(envelope, 1.0)).any():
            break
        weight = np.where(open_, target, 0.0)
        weight_sum = weight.sum(axis=1)
        none_open = weight_sum <= 0
        if none_open.any():  # every ICB capped: the cap yields, pro rata to target
            weight[none_open] = target[none_open]
            weight_sum = weight.sum(axis=1)
        add = remaining[:, None] * weight / np.where(weight_sum > 0, weight_sum, 1.0)[:, None]
        room = np.where(capped & open_ & ~none_open[:, None], ceiling - alloc, np.inf)
        take = np.minimum(add, np.maximum(room, 0.0))
        alloc += take
        remaining = remaining - take.sum(axis=1)
        open_ &= ~(capped & (take < add))
    # Rounding: the last fraction of a pound goes pro rata, so the sum is the envelope exactly enough.
    alloc *= (envelope / alloc.sum(axis=1))[:, None]
    return alloc
