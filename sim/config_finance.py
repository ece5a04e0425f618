"""Scenario schema for funding flows: the ICB allocation envelope and NHS England's pace of change.

Money is in 2025/26 prices (real terms): the envelope grows at real growth
rates, so no inflation assumption is needed for allocations. Defaults are the
baseline's; each description gives the source or labels the value an
assumption (docs/research/allocations.md).
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import AfterValidator, Field, StrictBool

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


def _check_financial_year(value: str) -> str:
    ok = len(value) == 7 and value[4] == "/" and value[:4].isdigit() and value[5:].isdigit()
    if not ok or (int(value[:4]) + 1) % 100 != int(value[5:]):
        raise ValueError(f"{value!r} is not a financial year; write YYYY/YY, e.g. 2026/27")
    if not "2025/26" <= value <= "2039/40":
        raise ValueError(f"financial year {value} is outside the supported range 2025/26 to 2039/40")
    return value


FinancialYear = Annotated[str, AfterValidator(_check_financial_year)]


class DeficitSupport(_Model):
    """Deficit support funding: NHS England's payments to systems in deficit, and its phase-out."""

    start_gbp_m: float = Field(
        2200.0, ge=0, le=20_000, description="Deficit support in 2025/26: GBP 2.2bn (April 2025 letter, seed 001: "
        "'the GBP 2.2 billion deficit support reflected in the allocations').")
    gbp_m: dict[FinancialYear, Ranged(0, 20_000, "GBP m")] = Field(
        default_factory=lambda: {"2026/27": Uniform(dist="uniform", low=1100, high=1800),
                                 "2027/28": Uniform(dist="uniform", low=400, high=1100)},
        description="Deficit support after 2025/26, by financial year; years not listed after 2025/26 get none. "
        "Default: a gradual withdrawal from 2026/27, none from 2028/29 ('we will start to withdraw it from 26/27', "
        "NHS England CFO, Board 23 Sep 2025; 'most providers expected to return to breakeven or surplus by "
        "2028/29', seed 000). The taper's size is an assumption (docs/research/allocations.md section 7).")
    released_to: Literal["allocations", "treasury"] = Field(
        "allocations", description="Where withdrawn support goes: into the next allocation round's envelope (moving "
        "ICBs towards fair shares: 'put some of our deficit support funding into core allocations to move people "
        "closer to target', NHS England Board 23 Sep 2025), or back to the Treasury (a saving).")


class TrustFinance(_Model):
    """NHS trusts' income, spending and capacity (docs/MODEL.md section 15; sources in docs/research/trust_finance.md)."""

    enabled: StrictBool = Field(True, description="Simulate trust finances, deficit support and the money-to-capacity link.")
    provider_share_pct: Ranged(10, 95, "percent of an ICB's commissioning money") = Field(
        _tri(62, 70, 76), description="Share of an ICB's commissioning money (allocation less running costs) paid to "
        "NHS trusts; the rest buys primary care, prescribing, continuing care and independent-sector care. Derived: "
        "100% less independent sector (6.8%), primary medical care (8.8%) and other spend (15-22%, assumption) "
        "(docs/research/trust_finance.md).")
    mental_health_share_pct: Ranged(0, 50, "percent of NHS trust income") = Field(
        _tri(10, 12, 13), description="Mental health trusts' share of NHS trust contract income. Derived: GBP 10.4bn "
        "mental health against GBP 68.1bn acute (Nuffield Trust; docs/research/trust_finance.md).")
    community_share_pct: Ranged(0, 50, "percent of NHS trust income") = Field(
        _tri(4, 6, 8), description="Community trusts' share of NHS trust contract income. Assumption: no total "
        "found (docs/research/trust_finance.md).")
    elective_variable_pct: Ranged(0, 60, "percent of income") = Field(
        _tri(12, 18, 25), description="Share of an acute or specialist trust's contract income paid per elective "
        "activity at NHS Payment Scheme prices (the variable element of aligned payment and incentive contracts). "
        "Assumption: no source found.")
    variable_cap_pct: Ranged(0, 50, "percent above plan") = Field(
        Uniform(dist="uniform", low=0, high=5), description="How far above plan an ICB pays for elective activity "
        "(its affordability cap; activity beyond it is not paid). Mechanism sourced, size an assumption "
        "(docs/research/trust_finance.md).")
    underlying_deficit_gbp_m: Ranged(-20_000, 20_000, "GBP m") = Field(
        2511.0, description="The providers' 2025/26 position before deficit support: GBP 2.2bn support plus the "
        "GBP 311m headline deficit after it (April 2025 letter, seed 001).")
    position_sd_pct: Ranged(0, 20, "percent of income") = Field(
        _tri(1.5, 2.5, 3.5), description="Spread of trusts' underlying 2025/26 positions (sd, % of income) around "
        "the sector's. Derived: a sector deficit of about 1.2% of income with 65-69% of acute trusts in deficit in "
        "2024/25 (King's Fund; docs/research/trust_finance.md).")
    breakeven_year: FinancialYear = Field(
        "2028/29", description="Trusts plan to close their 2025/26 deficit evenly by this year (medium term planning "
        "framework: 'a break-even financial position without deficit support funding by the end of this planning "
        "horizon').")
    overrun_sd_pct: Ranged(0, 20, "percent of spending") = Field(
        1.0, description="Each year's spending overrun against plan (sd, % of spending). Assumption.")
    overrun_persistence: Ranged(0, 0.99, "autocorrelation") = Field(
        0.5, description="Year-to-year persistence of overruns. Assumption.")
    recovery_pct: Ranged(0, 100, "percent") = Field(
        50.0, description="Share of last year's shortfall against plan a trust recovers the next year by cutting "
        "planned spending (cost improvement that slows capacity growth). Assumption.")
    capacity_elasticity: Ranged(0, 2, "ratio") = Field(
        _tri(0.5, 0.8, 1.0), description="Percentage change in elective capacity per percentage change in real "
        "capacity spending against the baseline path. Assumption: below 1 because fixed costs do not scale.")
    absorbed_real_growth_pct: Optional[Ranged(-10, 20, "percent a year")] = Field(
        None, description="Real growth of trust spending the baseline activity trend already absorbs (pay drift, "
        "non-elective demand): null means the envelope's own growth, so only money moving between trusts, deficit "
        "recovery and savings change capacity.")
    productivity_sd_pp: Ranged(0, 10, "percentage points a year") = Field(
        _tri(0.5, 1.0, 2.0), description="Spread (sd) of a trust's realised productivity growth around the national "
        "trend, each year: the persistent part of the measured 2-5 point spread, which includes data noise "
        "(derived/assumption, docs/research/trust_finance.md). The national 2% is the capacity growth trend "
        "(capacity:), so it is counted once, as activity.")
    running_cost_per_head_gbp: float = Field(
        18.76, ge=0, le=200, description="ICB running cost allowance per head from 2026/27 (draft blueprint, "
        "Healthcare Leader 8 May 2025; written answer), held flat in real terms (assumption).")
    running_cost_2025_per_head_gbp: float = Field(
        32.8, ge=0, le=200, description="2025/26 average: three quarters at twice the target (the 50% cut, seed 001) "
        "and the last quarter at GBP 18.76 (derived).")
    corporate_saving_gbp_m: Ranged(0, 5000, "GBP m a year") = Field(
        _tri(600, 930, 1300), description="Providers' recurrent saving from halving corporate-cost growth (50% of "
        "the GBP 1.85bn growth since 2018/19, seed 001), from 2026/27, reinvested locally in frontline capacity.")


class CapitalConfig(_Model):
    """Capital investment in elective and diagnostic capacity, with lead times and spending cover (CDEL)."""

    operational_cdel_gbp_m: float = Field(
        5000.0, ge=0, le=50_000, description="Provider operational capital each year, shared by trusts pro rata to "
        "income: about GBP 5bn (assumption on the level, GBP 4.5-5.5bn; real-terms protection in the 2025 Spending "
        "Review; docs/research/trust_finance.md). The baseline activity trend already includes it, so only capital "
        "above it adds capacity.")
    cdel_real_growth_pct: Ranged(-20, 30, "percent a year") = Field(
        0.0, description="Real growth of that capital from 2026/27 (0: flat, the baseline's path).")
    activity_per_capital_pct: Ranged(0, 200, "percent") = Field(
        _tri(20, 40, 80), description="Annual activity (GBP at tariff) that GBP 1 of capital adds once built, "
        "staffed from the income it earns. Derived/assumption: community diagnostic centres 40-60%, modular "
        "theatres 60-150%, some capital goes on backlog (docs/research/trust_finance.md).")
    lead_time_months: int = Field(18, ge=0, le=120, description="Months from decision to capacity. Assumption: "
                                  "9-36 months, from scanners in modular rooms to new builds (docs/research/trust_finance.md).")
    light_lead_time_months: int = Field(
        12, ge=0, le=120, description="Lead time of an AFT investment under the light-process limit (seed 004: "
        "'less than GBP 100 million, the level of paperwork will be vastly reduced'; length an assumption).")
    light_process_limit_gbp_m: float = Field(100.0, ge=0, le=10_000, description="seed 004.")
    aft_cdel_cover_gbp_m: float = Field(
        500.0, ge=0, le=20_000, description="Capital cover each year for AFTs investing retained surplus, shared pro "
        "rata to requests when short. Assumption.")


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
    deficit_support: DeficitSupport = Field(default_factory=DeficitSupport)
    trusts: TrustFinance = Field(default_factory=TrustFinance)
    capital: CapitalConfig = Field(default_factory=CapitalConfig)
