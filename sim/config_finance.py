"""Scenario schema for funding flows: the ICB allocation envelope and NHS England's pace of change.

Defaults are the baseline's; each description gives the source or labels the
value an assumption (docs/research/allocations.md, docs/MODEL.md section 14).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, StrictBool, field_validator

from sim.distributions import Triangular
from sim.schema_types import Ranged, _Model


def _tri(low: float, mode: float, high: float) -> Triangular:
    return Triangular(dist="triangular", low=low, mode=mode, high=high)


class PaceOfChange(_Model):
    """How fast allocations move towards fair shares each April (NHS England's pace-of-change policy)."""

    floor_growth_pct: Ranged(-10, 20, "percent a year") = Field(
        2.0, description="Growth every ICB receives at least on last year's allocation, if the envelope allows.")
    convergence_pct: Ranged(0, 100, "percent of the gap a year") = Field(
        25.0, description="Share of the remaining gap to target closed each year for ICBs below target "
        "(0: no convergence; 100: close it at once if the money allows).")
    cap_growth_pct: Ranged(-10, 30, "percent a year") = Field(
        2.0, description="Highest growth for an ICB above target (at least the floor).")

    @field_validator("cap_growth_pct")
    @classmethod
    def _cap_not_below_floor(cls, cap, info):
        floor = info.data.get("floor_growth_pct")
        if isinstance(cap, (int, float)) and isinstance(floor, (int, float)) and cap < floor:
            raise ValueError(f"cap_growth_pct {cap:g} is below floor_growth_pct {floor:g}: an ICB above target "
                             "would be held below the growth every ICB is given")
        return cap


class FinanceConfig(_Model):
    """The money: ICB allocations from NHS England each April."""

    enabled: StrictBool = Field(True, description="Simulate ICB allocations.")
    include_specialised: StrictBool = Field(
        False, description="Allocations and fair-share distances include delegated specialised commissioning "
        "(April 2025 letter, appendix 2 'incl spec'); false uses the 'excl spec' distances and envelope.")
    first_year_growth_pct: float = Field(
        4.4, ge=-10, le=20, description="Growth of the 2024/25 total ICB allocation (GBP 127.2bn, House of Commons "
        "Library CBP-10031) into 2025/26: 4.4%, the core services growth (Parliamentary written answer, 8 May "
        "2025; sim/data/funding.csv), applied to the whole envelope (assumption).")
    envelope_growth_pct_per_year: Ranged(-10, 20, "percent a year") = Field(
        _tri(2.5, 3.0, 3.5), description="Cash growth of the total ICB allocation envelope after 2025/26.")
    population_share_trend: Literal["hold", "extrapolate"] = Field(
        "extrapolate", description="Need-weighted target shares after 2025/26: held, or moved by their "
        "2023/24-2025/26 annual change (NHS England allocation-tool data), renormalised to 100%.")
    pace_of_change: PaceOfChange = Field(default_factory=PaceOfChange)
