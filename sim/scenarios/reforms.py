"""Dated reform levers as monthly multipliers: ramps, the elective levers and Right Test Right Time.

Every lever phases in along a :class:`sim.config_reforms.Ramp` (linear from its
start month to full effect) and draws its effect size once per replication
from the parameter's own stream (replication 0: the central value).
"""

from __future__ import annotations

import numpy as np

from sim.calendar import months_between
from sim.config_reforms import ElectiveReform, Ramp, RTTTPolicy
from sim.scenarios.parameters import value


def ramp_fraction(ramp: Ramp | None, months: tuple[str, ...]) -> np.ndarray:
    """Share of full effect in each month: 0 before ``start``, linear to 1 at ``full``, 1 after."""
    out = np.zeros(len(months))
    if ramp is None:
        return out
    span = months_between(ramp.start, ramp.full)
    for k, m in enumerate(months):
        if m >= ramp.full:
            out[k] = 1.0
        elif m >= ramp.start:
            out[k] = (months_between(ramp.start, m) + 1) / (span + 1)
    return out


def elective_multipliers(policy: ElectiveReform | None, months: tuple[str, ...], seed: int,
                         replication: int) -> dict[str, np.ndarray]:
    """Monthly multipliers of clock starts, non-admitted and admitted activity (1 where no lever acts).

    Advice and guidance removes referrals before a clock starts; patient-initiated
    follow-up and straight-to-test free outpatient slots for clock stops
    (non-admitted stage); extra theatre sessions add admitted capacity.
    """
    ones = np.ones(len(months))
    out = {"clock_starts": ones.copy(), "nonadmitted": ones.copy(), "admitted": ones.copy()}
    if policy is None:
        return out
    effects = {
        "advice_and_guidance": ("clock_starts", -1.0),
        "pifu": ("nonadmitted", 1.0),
        "straight_to_test": ("nonadmitted", 1.0),
        "theatre_sessions": ("admitted", 1.0),
    }
    for name, (target, sign) in effects.items():
        lever = getattr(policy, name)
        if lever is None:
            continue
        pct = value(lever.effect_pct, seed, replication, f"policies.elective_reform.{name}.effect_pct", 0, 50)
        out[target] *= 1.0 + sign * pct / 100.0 * ramp_fraction(lever.ramp, months)
    return out


def rttt_removal_share(policy: RTTTPolicy | None, months: tuple[str, ...], test_keys: tuple[str, ...],
                       row_test: np.ndarray, row_pioneer: np.ndarray, seed: int, replication: int) -> np.ndarray:
    """float64 ``[month, row]`` share of non-urgent requests not made under Right Test Right Time.

    Args:
        test_keys: the DM01 test keys, indexed by ``row_test``.
        row_test: int ``[row]`` each diagnostic row's test.
        row_pioneer: bool ``[row]`` whether the row's provider is a pioneer trust.
    """
    out = np.zeros((len(months), len(row_test)))
    if policy is None or not policy.enabled:
        return out
    full = np.zeros(len(test_keys))
    for key, pct in policy.removal_pct_by_test.items():
        full[test_keys.index(key)] = value(pct, seed, replication,
                                           f"policies.rttt.removal_pct_by_test.{key}", 0, 100) / 100.0
    spread = ramp_fraction(policy.spread, months)
    pioneer = ramp_fraction(policy.pioneer, months) if policy.pioneer is not None else spread
    adoption = np.where(row_pioneer[None, :], pioneer[:, None], spread[:, None])
    return adoption * full[row_test][None, :]
