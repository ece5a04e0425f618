"""Plan a run's funding flows once (checked against the data) and build each batch's agent inputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from sim import reference
from sim.agents.funding import BatchFinance
from sim.calendar import financial_year
from sim.config import Scenario, scenario_error
from sim.errors import NO_VALUE, InputError, did_you_mean, format_key_path
from sim.metrics import Geography
from sim.scenarios import finance
from sim.scenarios.finance import FIRST_YEAR, AllocationBase
from sim.scenarios.trust_finance import (TrustBase, batch_aft_inputs, batch_trust_inputs, support_path,
                                         wave_dates)
from sim.world import World, trust_codes_by_name
from sim.yamlio import LoadedDocument


@dataclass(frozen=True)
class FinancePlan:
    """What planning fixes for the agents: the allocation position and, when modelled, the trusts."""

    allocation: AllocationBase
    trusts: TrustBase | None = None


def finance_geography(geography: Geography, world: World, scenario: Scenario) -> Geography:
    """The run's geography with the trusts that hold no RTT list added (finance-and-AFT only)."""
    cfg = scenario.finance
    if not (cfg.enabled and cfg.trusts.enabled):
        return geography
    rtt = set(geography.trust_codes)
    others = [i for i, c in enumerate(world.trust_codes) if c not in rtt]
    return dataclasses.replace(geography, other_trust_codes=tuple(world.trust_codes[i] for i in others),
                               other_trust_icb=np.asarray(world.trust_icb, dtype=np.int64)[others])


def plan_finance(scenario: Scenario, doc: LoadedDocument, geography: Geography, world: World) -> FinancePlan | None:
    """The 2025/26 allocation position and the trusts, or None when finance is off.

    Raises:
        InputError: a start before 2025/26 (no published allocation position to start from), allocation data that
            cannot give every ICB a position, a nominated trust not in the world, AFT waves without trust finances,
            or a wave cadence that cannot reach every provider by the deadline.
    """
    cfg = scenario.finance
    aft = scenario.policies.aft_waves
    if not cfg.enabled:
        if aft is not None and aft.enabled:
            raise scenario_error(doc, ("policies", "aft_waves"), NO_VALUE, "AFT waves need the trusts' finances, "
                                 "but finance.enabled is false", "finance: {enabled: true}, or aft_waves: {enabled: false}")
        return None
    if financial_year(scenario.start) < FIRST_YEAR:
        raise scenario_error(doc, ("start",), scenario.start,
                             f"is before {FIRST_YEAR}, the first year with a published allocation position "
                             "(April 2025 allocation letter)", "a start from 2025-04, or finance: {enabled: false}")
    try:
        base = finance.allocation_base(geography.icb_codes, cfg.include_specialised, cfg.first_year_growth_pct,
                                       cfg.specialised_gbp_m)
    except ValueError as err:
        raise scenario_error(doc, ("finance", "include_specialised"), cfg.include_specialised, str(err)) from None
    if not cfg.trusts.enabled:
        if aft is not None and aft.enabled:
            raise scenario_error(doc, ("policies", "aft_waves"), NO_VALUE, "AFT waves need the trusts' finances "
                                 "(oversight segments use deficits), but finance.trusts.enabled is false",
                                 "finance: {trusts: {enabled: true}}, or aft_waves: {enabled: false}")
        return FinancePlan(base)
    return FinancePlan(base, _trust_base(scenario, doc, world))


def _trust_base(scenario: Scenario, doc: LoadedDocument, world: World) -> TrustBase:
    n = world.n_trusts
    rtt_size = np.zeros(n)
    rtt_size[np.asarray(world.rtt_trust_index)] = np.asarray(world.rtt_share).sum(axis=1)
    kind = np.array(world.trust_kind)
    icb = np.asarray(world.trust_icb, dtype=np.int64)
    population_size = np.zeros(n)
    for k in ("community", "mental_health"):
        mask = kind == k
        per_icb = np.bincount(icb[mask], minlength=world.n_icbs)
        population_size[mask] = np.asarray(world.icb_population)[icb[mask]] / per_icb[icb[mask]]
    nominated = np.zeros(n, dtype=bool)
    aft = scenario.policies.aft_waves
    if aft is not None and aft.enabled:
        names = aft.nominated if aft.nominated is not None else reference.aft_wave1()["trust_name"].tolist()
        for i, name in enumerate(names):
            try:
                code = trust_codes_by_name(world, [name])[0]
            except ValueError:
                key = ("policies", "aft_waves", "nominated", i) if aft.nominated is not None else ("policies", "aft_waves")
                file, line = doc.locate(key)
                raise InputError(file=file, line=line, key_path=format_key_path(key, doc.data), value=name,
                                 problem="is not an NHS trust in the run's world",
                                 allowed="a trust name as NHS England lists it (sim/data/ods_trusts.csv)",
                                 suggestion=did_you_mean(name, world.trust_names)) from None
            nominated[world.trust_codes.index(code)] = True
        _check_cadence(aft, n, doc)
        if aft.first_wave < scenario.start:
            raise scenario_error(doc, ("policies", "aft_waves", "first_wave"), aft.first_wave,
                                 f"is before the run's start {scenario.start}: designations before the start are not "
                                 "simulated, so the nominated trusts' wave would be lost",
                                 f"a first_wave from {scenario.start}, or a run starting by {aft.first_wave}")
    return TrustBase(tuple(world.trust_codes), tuple(world.trust_kind), icb, rtt_size, population_size,
                     np.asarray(world.icb_population, dtype=np.float64), nominated)


def _check_cadence(aft, n_trusts: int, doc: LoadedDocument) -> None:
    """A cadence and wave size that cannot designate every provider by the deadline is refused."""
    waves = len(wave_dates(aft))
    if aft.max_per_wave is not None and waves * aft.max_per_wave < n_trusts:
        raise scenario_error(
            doc, ("policies", "aft_waves", "max_per_wave"), aft.max_per_wave,
            f"cannot reach every provider by {aft.deadline}: {waves} waves (every {aft.cadence_months} months from "
            f"{aft.first_wave}) x {aft.max_per_wave} a wave = {waves * aft.max_per_wave} designations for "
            f"{n_trusts} trusts", f"max_per_wave of at least {-(-n_trusts // waves)}, a shorter cadence_months, "
            "or null (no limit)")


def finance_years(months: tuple[str, ...]) -> tuple[str, ...]:
    """Financial years from 2025/26 to the run's last month's."""
    last = financial_year(months[-1])
    years, start = [], int(FIRST_YEAR[:4])
    while True:
        fy = f"{start}/{(start + 1) % 100:02d}"
        years.append(fy)
        if fy == last:
            return tuple(years)
        start += 1


def batch_finance(plan: FinancePlan | None, scenario: Scenario, months: tuple[str, ...], replications: np.ndarray,
                  rtt_trust_codes: tuple[str, ...]) -> BatchFinance | None:
    """A batch's agent inputs (None when finance is off)."""
    if plan is None:
        return None
    years = finance_years(months)
    alloc = finance.batch_inputs(scenario, plan.allocation, years, replications)
    if plan.trusts is None:
        return BatchFinance(alloc)
    envelope_index = alloc.envelope_gbp_m / alloc.envelope_gbp_m[:, :1]
    if scenario.finance.deficit_support.released_to == "allocations":
        support = support_path(scenario, years, replications)
        released = np.maximum(support[:, :1] - support, 0.0)
        alloc = dataclasses.replace(alloc, envelope_gbp_m=alloc.envelope_gbp_m + released)
    cfg = scenario.finance
    direct = 0.0 if cfg.include_specialised else cfg.specialised_gbp_m
    trusts = batch_trust_inputs(scenario, plan.trusts, years, replications, plan.allocation.allocation_gbp_m,
                                envelope_index, direct)
    out = BatchFinance(alloc, trusts, plan.trusts.codes)
    aft = scenario.policies.aft_waves
    if aft is not None and aft.enabled:
        has_perf = np.isin(np.array(plan.trusts.codes), np.array(rtt_trust_codes))
        inputs, retained, autonomy = batch_aft_inputs(scenario, plan.trusts, months, replications, has_perf)
        out = dataclasses.replace(out, aft=inputs, aft_retained=retained, autonomy_pp=autonomy)
    return out
