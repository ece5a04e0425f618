"""Scenario schema for funding flows: the ICB allocation envelope and NHS England's pace of change.

Money is in 2025/26 prices (real terms): the envelope grows at real growth
rates, so no inflation assumption is needed for allocations. Defaults are the
baseline's; each description gives the source or labels the value an
assumption (docs/research/allocations.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool

from sim.distributions import Triangular, Uniform
from sim.schema_types import Ranged, _Model


def _tri(low: float, mode: float, high: float) -> Triangular:
    return Triangular(dist="triangular", low=low, mode=mode, high=high)


class PaceOfChange(_Model):
    """How fast allocations move towards fair shares each April (NHS England's pace-of-change policy).

    Every ICB grows at least at the envelope's growth minus ``floor_below_envelope_pp``;
    ICBs below target also receive ``convergence_pct`` of their remaining gap; ICBs above
    target grow no faster than the floor plus ``cap_above_floor_pp``; whatever is left goes
    to all, pro rata to target.
    """

    floor_below_envelope_pp: Ranged(0, 10, "percentage points") = Field(
        Uniform(dist="uniform", low=0.5, high=1.5),
        description="How far below the envelope's growth the floor lies (over-target ICBs grow at about this). "
        "Assumption: NHS England allows real-terms cuts for over-target ICBs but moves gradually "
        "(docs/research/allocations.md).")
    convergence_pct: Ranged(0, 100, "percent of the gap a year") = Field(
        _tri(20, 35, 50), description="Share of the remaining gap to target closed each year for ICBs below "
        "target. Assumption: half to all of the gap closed over the settlement to 2028/29 (about 20-50% a year).")
    cap_above_floor_pp: Ranged(0, 10, "percentage points") = Field(
        0.0, description="Extra growth an ICB above target may get above the floor (0: held at the floor).")


class FinanceConfig(_Model):
    """The money: ICB allocations from NHS England each April, in 2025/26 prices."""

    enabled: StrictBool = Field(True, description="Simulate ICB allocations.")
    include_specialised: StrictBool = Field(
        True, description="Allocations and fair-share distances include specialised commissioning (April 2025 "
        "letter, appendix 2 'incl spec'); false uses the 'excl spec' distances and no specialised pot.")
    first_year_growth_pct: float = Field(
        4.4, ge=-10, le=20, description="Growth of the 2024/25 total ICB allocation (GBP 127.2bn, House of Commons "
        "Library CBP-10031) into 2025/26: 4.4%, the core services growth (Parliamentary written answer, 8 May "
        "2025; sim/data/funding.csv), applied to the whole envelope (assumption).")
    specialised_gbp_m: float = Field(
        23_500.0, ge=0, le=100_000, description="Specialised commissioning in the 2025/26 envelope when included: "
        "about GBP 23.5bn, derived from the 'incl' and 'excl spec' distances of the April 2025 letter; NHS England "
        "spent GBP 25bn on specialised services in 2023/24 (docs/research/allocations.md).")
    real_growth_pct_to_2028_29: Ranged(-10, 20, "percent a year") = Field(
        3.0, description="Real growth of the envelope in 2026/27-2028/29: 3.0% a year (June 2025 Spending Review, "
        "NHS revenue; docs/research/allocations.md).")
    real_growth_pct_after: Ranged(-10, 20, "percent a year") = Field(
        _tri(2.0, 2.8, 3.7), description="Real growth from 2029/30. Assumption: around the NHS's long-run real "
        "growth (docs/research/allocations.md).")
    population_share_trend: Literal["hold", "extrapolate"] = Field(
        "hold", description="Need-weighted target shares after 2025/26: held (default: the 2024/25 to 2025/26 "
        "change is a formula refresh and a new registration base, not a trend), or moved by their 2023/24-2025/26 "
        "annual change, renormalised to 100%.")
    pace_of_change: PaceOfChange = Field(default_factory=PaceOfChange)
