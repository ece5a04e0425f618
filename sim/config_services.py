"""Scenario schema for the diagnostic and cancer services (DM01 lists, cancer waiting times).

Defaults are the baseline's values; each description says where a number comes
from or labels it an assumption. docs/MODEL.md explains the mechanics.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, StrictBool, field_validator, model_validator

from sim.distributions import Triangular
from sim.schema_types import Month, Ranged, _Model


def _tri(low: float, mode: float, high: float) -> Triangular:
    return Triangular(dist="triangular", low=low, mode=mode, high=high)

#: The 15 DM01 tests, as the shipped provider file has them (test_id 1..15, in order).
DIAG_TEST_KEYS = ("mri", "ct", "ultrasound", "barium_enema", "dexa", "audiology", "echocardiography",
                  "electrophysiology", "neurophysiology", "sleep_studies", "urodynamics", "colonoscopy",
                  "flexi_sigmoidoscopy", "cystoscopy", "gastroscopy")
DiagTest = Literal["mri", "ct", "ultrasound", "barium_enema", "dexa", "audiology", "echocardiography",
                   "electrophysiology", "neurophysiology", "sleep_studies", "urodynamics", "colonoscopy",
                   "flexi_sigmoidoscopy", "cystoscopy", "gastroscopy"]


class SourceWeights(_Model):
    """Relative priority of a waiting-list request by who asked for it (same weeks waited).

    A weight ``w`` for a new request equals the priority of a reference request
    that has waited ``ln(w) / in_turn_per_week`` weeks (the in-turn priority is
    ``exp(in_turn_per_week x weeks waited)``).
    """

    urgent_cancer: float = Field(10.0, gt=0, le=1e4, description="Urgent suspected cancer requests. Assumption: "
                                 "ahead of routine requests waiting several weeks (NHS England FDS guidance: "
                                 "urgent tests first), but slots are booked, not absolute.")
    rtt: float = Field(1.0, gt=0, le=1e4, description="Requests from RTT pathways. Assumption: booked by "
                       "clinical urgency, not by who asked, so equal to other requests by default; raise it to "
                       "put RTT pathways ahead of direct access.")
    other: float = Field(1.0, gt=0, le=1e4, description="Direct access and other requests (the reference).")


class CapacityLever(_Model):
    """Diagnostic capacity added from a date: a community diagnostic centre or an independent-sector contract."""

    name: str = Field(min_length=1, max_length=80, description="A label for outputs.")
    kind: Literal["community_diagnostic_centre", "independent_sector"]
    test: DiagTest = Field(description="The DM01 test the capacity performs.")
    start: Month = Field(description="First month with the added capacity (YYYY-MM).")
    ramp_months: int = Field(0, ge=0, le=60, description="Months to reach full capacity (0: at once).")
    end: Optional[Month] = Field(None, description="Last month (inclusive); null: to the end of the run.")
    tests_per_week: Ranged(0, 1e6, "tests per week") = Field(description="Extra tests per week at full capacity, "
                                                             "nationally (spread over the trusts listed, pro rata).")
    cost_per_test_gbp: Ranged(0, 1e4, "GBP per test") = Field(description="Cost per test (reported, not a limit).")
    trusts: Optional[list[str]] = Field(None, description="ODS codes of the providers whose lists it serves; "
                                        "null: every provider with this test, pro rata to its capacity.")
    source: str = Field("", description="Where the figures come from.")

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: Optional[str], info) -> Optional[str]:
        start = info.data.get("start")
        if end is not None and start is not None and end < start:
            raise ValueError(f"end {end} is before start {start}")
        return end


class RedeploymentConfig(_Model):
    """Activity a service cannot use on its own list (it has cleared it) treats the same treatment function's
    (or DM01 test's) patients at other trusts or providers nearby (docs/MODEL.md sections 4 and 7)."""

    spare_redeployed_pct: Ranged(0, 100, "percent") = Field(
        50.0, description="Share (%) of a service's spare activity that treats patients waiting elsewhere in its "
        "pool the next week (mutual aid, patient choice); the rest is stood down. Assumption: no published "
        "figure; 0 keeps every service to its own list.")
    within: Literal["icb", "region", "england"] = Field(
        "icb", description="The pool spare activity moves within: the same treatment function (or test) at the "
        "trusts (or providers) of the service's ICB, NHS region, or all of England. With icb, a diagnostic "
        "provider that is not an ICB's trust (an independent provider) pools with the others of its region.")


class DiagnosticsConfig(_Model):
    """Diagnostic waiting lists (the 15 DM01 tests) per provider and test, and their coupling to RTT."""

    enabled: StrictBool = Field(True, description="Simulate diagnostic lists (needs DM01 data for the start census).")
    rates_window_months: int = Field(6, ge=3, le=8, description="Months of provider data averaged for each "
                                     "provider's tests and requests per working day (DM01 provider file).")
    start_trend: Literal["balanced", "window"] = Field(
        "balanced", description="Requests at the start: 'balanced' (equal to tests, so the list changes only as "
        "demand and capacity growth differ) or 'window' (the rate window's additions over tests, about 1.3% more "
        "requests than tests in October 2024-March 2025, kept for ever). Default balanced: six winter months of "
        "list growth are partly seasonal and too short a record to extrapolate for ten years.")
    demand_growth_pct_per_year: Ranged(-20, 30, "percent per year") = Field(
        _tri(2.0, 4.0, 6.0),
        description="Growth of waiting-list requests per working day. Assumption (docs/MODEL.md, diagnostics).")
    capacity_growth_pct_per_year: Optional[Ranged(-20, 30, "percent per year")] = Field(
        None,
        description="Growth of tests per working day (planned, unscheduled and waiting-list), drawn on its own. "
        "Default null: each replication's demand growth plus capacity_growth_gap_pct_per_year, so capacity keeps "
        "pace with demand as it has (docs/MODEL.md section 7).")
    capacity_growth_gap_pct_per_year: Ranged(-10, 10, "percent per year") = Field(
        _tri(-0.6, 0.0, 0.6),
        description="Capacity growth minus demand growth (with capacity_growth_pct_per_year null). Assumption "
        "informed by DM01: from November 2012 to November 2024 tests per month grew 4.2% a year (1.49m to "
        "2.45m) while the list grew from 0.65m to 1.62m, the drift of a constant gap of about 0.06% a year; the "
        "spread (sd 0.24) allows four times that, as one 12-year record (with a pandemic in it) says little about "
        "the spread.")
    rtt_share_of_requests_pct: Ranged(0, 100, "percent") = Field(
        _tri(50.0, 65.0, 80.0),
        description="Share of non-urgent waiting-list requests made for RTT pathways (the rest: GP direct access "
        "and other). Assumption: DM01 does not split requests by source; GP direct access was 10-12% of MRI/CT "
        "and about 40% of ultrasound requests in the Diagnostic Imaging Dataset 2014/15 (docs/research/levers.md).")
    urgent_tests_per_referral: Ranged(0, 5, "tests per referral") = Field(
        _tri(0.4, 0.7, 1.0),
        description="DM01 waiting-list imaging/endoscopy tests per urgent suspected cancer referral. Assumption: "
        "0.8-1.8 tests per referral in all (docs/research/levers.md, urgent_suspected_cancer), some of them "
        "booked as planned tests or done at a one-stop first appointment, so fewer join the waiting list.")
    rtt_pathways_needing_test_pct: Ranged(0, 100, "percent") = Field(
        _tri(35.0, 50.0, 70.0),
        description="Share of non-admitted RTT clock stops that wait for a DM01 test (the coupling). Assumption, "
        "below the quoted 85% of all clinical pathways that involve any diagnostics incl. pathology (NHS "
        "Providers citing McCaughey and Powis 2020; docs/research/levers.md).")
    monthly_variation: StrictBool = Field(
        True, description="National month-to-month variation in diagnostic requests, per replication (an AR(1) "
        "log multiplier, mean one), sized when the run is planned to the published DM01 list's monthly change "
        "relative to waiting-list tests over the months to the start (at least 6 changes), else to the RTT "
        "flows' monthly shocks in the calibration (an assumption; sim.scenarios.diagnostics."
        "size_monthly_variation; docs/MODEL.md). false: none (bands then hold parameter uncertainty only).")
    source_weights: SourceWeights = Field(default_factory=SourceWeights)
    in_turn_per_week: Optional[float] = Field(
        None, ge=0, le=6, description="Log-priority added per week waited (0: random order; 3 or more: "
        "close to strictly longest-waiting first). Default: "
        "fitted when the run is planned so that the census list is the steady state of the queue discipline "
        "(sim.diagnostics_calibration.fit_in_turn; docs/MODEL.md).")
    capacity_levers: list[CapacityLever] = Field(default_factory=list, description="Dated capacity additions.")
    redeployment: RedeploymentConfig = Field(
        default_factory=RedeploymentConfig,
        description="Waiting-list tests of a provider with no one left waiting for that test, lent to the same "
        "test at other providers (docs/MODEL.md section 7).")

    @model_validator(mode="after")
    def _one_capacity_growth(self) -> "DiagnosticsConfig":
        _one_of(self, "capacity_growth_pct_per_year", "capacity_growth_gap_pct_per_year")
        return self


def _one_of(block: _Model, own: str, gap: str) -> None:
    """A capacity growth drawn on its own leaves no use for the gap to demand: refuse both rather than ignore one."""
    if getattr(block, own) is not None and gap in block.model_fields_set:
        raise ValueError(f"{own} and {gap} are both set; set {own} (capacity drawn on its own) or {gap} (capacity "
                         "growth = demand growth + the gap), not both")


class CancerConfig(_Model):
    """Cancer waiting times: faster diagnosis (28 days), 62-day and 31-day standards, at day resolution."""

    enabled: StrictBool = Field(True, description="Simulate the cancer pathway (needs CWT provider data).")
    rates_window_months: int = Field(12, ge=3, le=12, description="Months of CWT data for each trust's volumes "
                                     "and performance.")
    referral_growth_pct_per_year: Ranged(-20, 30, "percent per year") = Field(
        _tri(3.0, 5.0, 7.0),
        description="Growth of urgent suspected cancer referrals. Assumption below the 2021-25 trend (about 7% a "
        "year in the FDS totals of cancer_national_monthly.csv).")
    treatment_capacity_growth_pct_per_year: Optional[Ranged(-20, 30, "percent per year")] = Field(
        None,
        description="Growth of first and subsequent cancer treatment capacity, drawn on its own. Default null: each "
        "replication's referral growth plus treatment_capacity_gap_pct_per_year (capacity keeps pace with referrals).")
    treatment_capacity_gap_pct_per_year: Ranged(-10, 10, "percent per year") = Field(
        _tri(-1.2, 0.0, 1.2),
        description="Treatment capacity growth minus referral growth (with treatment_capacity_growth_pct_per_year "
        "null). Assumption informed by the national series: from 2022/23 to 2024/25 FDS pathways and 31-day "
        "treatments both grew 12.4% (cancer_national_monthly.csv), while single years differed by up to 2.8 points; "
        "sd 0.49.")
    fds_wait_sigma: float = Field(0.7, gt=0.05, le=3, description="Log-scale spread of the time from urgent "
                                  "referral to diagnosis or ruling out. Assumption.")
    treatment_wait_sigma: float = Field(0.6, gt=0.05, le=3, description="Log-scale spread of the wait from "
                                        "decision to treat to treatment. Assumption.")
    dtt_delay_sigma: float = Field(0.5, gt=0.05, le=3, description="Log-scale spread of the delay from diagnosis "
                                   "to decision to treat. Assumption.")
    dtt_delay_median_days: Optional[float] = Field(None, gt=0, le=120, description="Median delay from diagnosis "
                                                   "to decision to treat; null: fitted to the national 62-day %.")
    monthly_variation: StrictBool = Field(
        True, description="National month-to-month variation in diagnosis access and the pace of treatment, "
        "per replication (AR(1) log multipliers), sized when the run is planned so the simulated national FDS and "
        "31-day percentages vary as much as the published ones did around a trend and the month's working days "
        "over the 24 months to the start (sim.cancer_variation; docs/MODEL.md section 8). false: none (bands "
        "then hold parameter uncertainty only).")
    treatment_capacity_headroom_pct: float = Field(15.0, ge=0, le=100, description="Treatment capacity above the "
                                                   "start's steady-state treatments. Assumption: at least 10% is needed for "
                                                   "the weekly arrival cycle (docs/MODEL.md).")

    @model_validator(mode="after")
    def _one_capacity_growth(self) -> "CancerConfig":
        _one_of(self, "treatment_capacity_growth_pct_per_year", "treatment_capacity_gap_pct_per_year")
        return self

