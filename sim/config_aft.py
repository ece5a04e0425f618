"""Scenario schema for Advanced Foundation Trust waves and Integrated Health Organisations.

Mechanics follow the November 2025 announcement (seed 004), the December 2025
update (seed 000) and the draft guide for applicants as summarised in
docs/research/trust_finance.md; every number without a source is labelled an
assumption.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, StrictBool, ValidationInfo, field_validator

from sim.config_finance import _tri
from sim.schema_types import Month, Ranged, _Model


class Segmentation(_Model):
    """NHS Oversight Framework segments: quartiles of a score within each peer group, with a financial override."""

    performance_weight_pct: Ranged(0, 100, "percent") = Field(
        50.0, description="Weight of the trust's RTT % within 18 weeks (acute and specialist trusts) in its score; the "
        "rest is a persistent latent quality (leadership, quality, other standards). Assumption.")
    financial_override: StrictBool = Field(
        True, description="A trust in deficit or receiving deficit support is placed no higher than segment 3 "
        "(NHS Oversight Framework 2025/26).")


class IHOConfig(_Model):
    """Integrated Health Organisations: AFTs holding a population budget (seed 000, seed 004)."""

    enabled: StrictBool = True
    min_years_as_aft: Ranged(0, 10, "years") = Field(1.0, description="Years an AFT must have held the status. Assumption.")
    kinds: list[Literal["acute", "specialist", "community", "mental_health"]] = Field(
        default_factory=lambda: ["acute", "community"],
        description="Trust kinds that may hold a population budget. Assumption.")
    pass_pct: Ranged(0, 100, "percent") = Field(
        _tri(30, 50, 70), description="Chance an eligible AFT passes the extra IHO assessment at a wave. Assumption.")
    budget_share_pct: Ranged(0, 100, "percent of the ICB's commissioning money") = Field(
        _tri(10, 25, 40), description="Share of the host ICB's other commissioning moved to the IHO to hold (it "
        "passes it on to providers; neutral for its own balance). Assumption: the size of the capitated budget is not "
        "published (docs/research/trust_finance.md).")
    demand_change_pct: Ranged(-20, 20, "percent of clock starts") = Field(
        _tri(-3, 0, 3), description="Change in RTT clock starts in the IHO's ICB once designated (care moved to "
        "neighbourhoods). Assumption centred on zero: no source measures it, so the scenario shows what it is worth.")


class AFTWaves(_Model):
    """Advanced Foundation Trust waves towards every provider holding the status by the deadline."""

    enabled: StrictBool = True
    first_wave: Month = Field("2026-04", description="The first designations ('From April 2026', seed 000).")
    nominated: Optional[list[str]] = Field(
        None, description="Trust names assessed in the first wave (null: the 8 nominated in November 2025, "
        "sim/data/aft_wave1.csv). They go straight to the panel.")
    deadline: Month = Field("2035-03", description="Every provider to hold AFT status by 2035 (seed 000).")
    cadence_months: int = Field(12, ge=1, le=120, description="Months between waves. Assumption.")
    max_per_wave: Optional[int] = Field(None, ge=1, le=1000, description="Designations per wave (null: all who pass).")
    max_segment: int = Field(2, ge=1, le=4, description="Worst NHS Oversight Framework segment eligible to apply. "
                             "The draft guide names the segment as a criterion; 1 or 2 is an assumption (threshold not "
                             "seen, docs/research/trust_finance.md).")
    min_cqc: Literal["outstanding", "good", "requires_improvement"] = Field(
        "good", description="Worst CQC overall rating eligible. The draft guide names CQC ratings as a criterion; "
        "good or outstanding is an assumption (threshold not seen).")
    cqc_ratings_pct: dict[Literal["outstanding", "good", "requires_improvement", "inadequate"],
                          float] = Field(
        default_factory=lambda: {"outstanding": 10.0, "good": 45.0, "requires_improvement": 38.0, "inadequate": 7.0},
        description="Shares of NHS trusts by CQC overall rating. Assumption from 2016 trust-level and 2020 "
        "core-service data (docs/research/trust_finance.md).")
    cqc_quality_correlation: float = Field(
        0.6, ge=0, le=0.99, description="Correlation of a trust's CQC rating with its oversight score's latent "
        "quality. Assumption.")
    panel_pass_pct: Ranged(0, 100, "percent") = Field(
        _tri(60, 80, 95), description="Chance an eligible trust passes the capability assessment and independent "
        "panel. Assumption.")
    reevaluation_years: int = Field(5, ge=1, le=20, description="Re-evaluated at least every five years (seed 000).")
    trigger_segment: int = Field(4, ge=1, le=4, description="A quarterly segment this bad brings re-evaluation "
                                 "forward ('or sooner if performance concerns arise', seed 000). Assumption.")
    retained_surplus_pct: Ranged(0, 10, "percent of income") = Field(
        1.0, description="Surplus an AFT plans and keeps to invest (seed 004: 'spend any money they've saved'). "
        "Assumption.")
    autonomy_productivity_pp: Ranged(-5, 5, "percentage points a year") = Field(
        _tri(-0.5, 0.0, 0.5), description="Extra productivity growth of an AFT. Assumption centred on zero: no "
        "source measures the effect of autonomy, so the scenario shows what the assumption is worth.")
    segmentation: Segmentation = Field(default_factory=Segmentation)
    iho: IHOConfig = Field(default_factory=IHOConfig)

    @field_validator("cqc_ratings_pct")
    @classmethod
    def _all_ratings(cls, ratings: dict[str, float]) -> dict[str, float]:
        missing = [r for r in ("outstanding", "good", "requires_improvement", "inadequate") if r not in ratings]
        if missing or any(v < 0 for v in ratings.values()) or sum(ratings.values()) <= 0:
            raise ValueError("give a non-negative share for each of outstanding, good, requires_improvement and "
                             "inadequate" + (f" (missing: {', '.join(missing)})" if missing else ""))
        return ratings

    @field_validator("deadline")
    @classmethod
    def _deadline_after_first_wave(cls, deadline: str, info: ValidationInfo) -> str:
        first = info.data.get("first_wave")
        if first is not None and deadline < first:
            raise ValueError(f"deadline {deadline} is before first_wave {first}")
        return deadline
