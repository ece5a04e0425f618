"""Scenario schema for the reform levers: Right Test Right Time and the elective reform levers.

Each lever is dated and phased in over a ramp; its effect size is a parameter
(a number or a distribution) whose source the config file states.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field, StrictBool, field_validator

from sim.config_services import DiagTest
from sim.schema_types import Month, Ranged, _Model


class Ramp(_Model):
    """A phase-in: nothing before ``start``, rising linearly to full effect at ``full``."""

    start: Month = Field(description="First month with any effect (YYYY-MM).")
    full: Month = Field(description="First month at full effect (YYYY-MM); equal to start for a step.")

    @field_validator("full")
    @classmethod
    def _full_after_start(cls, full: str, info) -> str:
        start = info.data.get("start")
        if start is not None and full < start:
            raise ValueError(f"full {full} is before start {start}: a ramp reaches full effect in its start month "
                             "(a step) or later")
        return full


class RTTTPolicy(_Model):
    """Right Test Right Time: requests judged unlikely to change management are not made."""

    enabled: StrictBool = True
    removal_pct_by_test: dict[DiagTest, Ranged(0, 100, "percent of requests")] = Field(
        description="Share (%) of non-urgent requests for each test not made at full adoption.")
    exempt_urgent_cancer: StrictBool = Field(True, description="Urgent suspected cancer requests are never vetted "
                                             "out, so fewer tests cannot mean missed cancers.")
    pioneer_trusts: list[str] = Field(default_factory=list, description="ODS codes of trusts adopting first.")
    pioneer: Optional[Ramp] = Field(None, description="The pioneers' phase-in.")
    spread: Ramp = Field(description="Every other trust's phase-in.")
    sources: list[str] = Field(default_factory=list, description="Where the effect sizes come from.")


class ReformLever(_Model):
    """One dated elective reform lever with its effect at full adoption."""

    ramp: Ramp
    effect_pct: Ranged(0, 50, "percent") = Field(description="Effect at full adoption (see the lever's meaning).")
    source: str = Field("", description="Where the effect size comes from.")


class ElectiveReform(_Model):
    """Elective reform levers, each acting on its stage of the RTT pathway."""

    advice_and_guidance: Optional[ReformLever] = Field(
        None, description="Referrals diverted before a clock starts: % fewer clock starts.")
    pifu: Optional[ReformLever] = Field(
        None, description="Patient-initiated follow-up: % more non-admitted capacity for clock stops.")
    straight_to_test: Optional[ReformLever] = Field(
        None, description="Straight-to-test pathways: % more non-admitted capacity (first appointments saved).")
    theatre_sessions: Optional[ReformLever] = Field(
        None, description="Extra theatre sessions and productivity: % more admitted capacity.")
