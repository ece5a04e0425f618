"""Validation programme: extra removals of pathways that no longer need treatment.

The 2025/26 programme asked trusts to validate pathways at 12 weeks and beyond
(NHS England validation guidance: validate at 12, 26 and 52 weeks) and paid
for removals ("validation sprint"). Modelled as an extra removal rate on
pathways waiting at least ``min_weeks_waited``, spread evenly over the
programme's months so that the stated share is removed over the whole period.
"""

from __future__ import annotations

import numpy as np

from sim.config import ValidationPolicy
from sim.calendar import months_between


def monthly_share(policy: ValidationPolicy | None, months: tuple[str, ...], removals_pct: float) -> np.ndarray:
    """Share of eligible pathways removed in each month (zero outside the programme)."""
    out = np.zeros(len(months))
    if policy is None or not policy.enabled or removals_pct <= 0:
        return out
    n_months = months_between(policy.start, policy.end) + 1
    per_month = 1.0 - (1.0 - removals_pct / 100.0) ** (1.0 / n_months)
    for k, m in enumerate(months):
        if policy.start <= m <= policy.end:
            out[k] = per_month
    return out


def first_bin(policy: ValidationPolicy | None) -> int:
    """First engine bin reached: bin b holds waits of b-1 to b weeks."""
    return 0 if policy is None else policy.min_weeks_waited + 1
