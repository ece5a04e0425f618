"""Assemble a batch's engine inputs from the scenario, calibration and world.

Rows are the trust x treatment-function pairs with a list at the start. A
row's share of national clock starts and of national activity is its list
divided by its trust's mean wait (Little's law: a trust with short waits turns
its list over faster), so every row starts in balance; per-trust capacity
multipliers then spread trusts' performance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import CalibrationParams, Scenario
from sim.engine import redeploy
from sim.engine.inputs import AbundantPriority, MonthlyInputs
from sim.metrics import Geography
from sim.scenarios import long_waits, reforms, validation
from sim.scenarios.flows import (FlowDraws, hazard_by_month, other_removals_profile, projected_rates, stops_per_week,
                                 stops_season)
from sim.scenarios.parameters import flow_draws, record_shocks, trust_capacity_multipliers, value


@dataclass(frozen=True)
class RowLayout:
    """Engine rows and their start lists.

    Attributes:
        geography: rows' trusts and specialties and how they roll up.
        start_list: float64 ``[row]`` incomplete pathways at the start census.
        demand_share: float64 ``[row]`` share of clock starts and of activity (sums to 1):
            list / mean wait, so that every row starts in balance.
        national_scale: the rows' list as a share of England's (1 for the shipped world).
    """

    geography: Geography
    start_list: np.ndarray
    demand_share: np.ndarray
    national_scale: float


def batch_inputs(scenario: Scenario, calib: CalibrationParams, rows: RowLayout, months: tuple[str, ...],
                 replications: np.ndarray) -> MonthlyInputs:
    """Monthly flow rates for the given replications (each computed alone, so batching never matters)."""
    n_months = len(months)
    draws = [flow_draws(scenario, calib, int(r), n_months) for r in replications]
    for r, d in zip(replications, draws):
        for process, path in (("rtt_clock_starts", d.demand_shock), ("rtt_activity", d.capacity_shock),
                              ("rtt_case_mix", d.case_mix_shock), ("rtt_long_wait_drive", d.long_wait_shock)):
            record_shocks(process, int(r), months, path)
    rates = projected_rates(calib, months, draws)
    for k, r in enumerate(replications):
        levers = reforms.elective_multipliers(scenario.policies.elective_reform, months, scenario.seed, int(r))
        for name, mult in levers.items():
            rates[name][k] *= mult
    policy = scenario.policies.validation
    val = np.stack([
        validation.monthly_share(policy, months, value(policy.removals_pct_of_list, scenario.seed, int(r),
                                                       "policies.validation.removals_pct_of_list", 0, 50)
                                 if policy is not None else 0.0)
        for r in replications
    ])
    share = rows.demand_share
    trust_of_row = rows.geography.row_trust
    trust_weight = np.bincount(trust_of_row, weights=share, minlength=len(rows.geography.trust_codes))
    capacity_share = np.empty((len(replications), len(share)))
    for k, r in enumerate(replications):
        mult = trust_capacity_multipliers(scenario, int(r), trust_weight)
        row_cap = share * mult[trust_of_row]
        capacity_share[k] = row_cap / row_cap.sum()
    thresholds = long_waits.thresholds(scenario.policies.long_wait_drive, months)
    spare = scenario.capacity.redeployment
    redeployed = np.array([value(spare.spare_redeployed_pct, scenario.seed, int(r),
                                 "capacity.redeployment.spare_redeployed_pct", 0, 100) / 100.0 for r in replications])
    return MonthlyInputs(
        months=months,
        clock_starts_per_wd=rates["clock_starts"],
        nonadmitted_activity_per_wd=rates["nonadmitted"],
        admitted_activity_per_wd=rates["admitted"],
        dta_share=np.full((len(replications), n_months), calib.dta_share),
        other_removals_share=rates["other"],
        validation_share=val,
        validation_min_bin=validation.first_bin(policy),
        row_demand_share=share,
        row_capacity_share=capacity_share,
        hazard=np.stack([hazard_by_month(calib.priority, thresholds, d.case_mix_shock, d.long_wait_shock) for d in draws]),
        abundant=abundant_priority(calib, months, thresholds, draws, rates, rows.national_scale),
        other_profile=other_removals_profile(calib.priority),
        national_scale=rows.national_scale,
        redeployed_share=redeployed,
        row_pool=redeployment_pools(rows.geography, spare.within),
    )


def abundant_priority(calib: CalibrationParams, months: tuple[str, ...], thresholds: list[tuple[float, ...]],
                      draws: list[FlowDraws], rates: dict[str, np.ndarray], national_scale: float) -> AbundantPriority | None:
    """The calibration's profile of short lists, with the same shocks, and the capacity its list is measured
    against: the projected clock stops (after levers), deseasonalised."""
    regime = calib.abundant
    if regime is None:
        return None
    season = stops_season(calib, months)
    stops = rates["nonadmitted"] * (1.0 - calib.dta_share) + rates["admitted"]
    return AbundantPriority(
        hazard=np.stack([hazard_by_month(regime.priority, thresholds, d.case_mix_shock, d.long_wait_shock)
                         for d in draws]),
        stops_per_week=stops_per_week(stops * national_scale, season[None, :]),
        weeks_abundant=regime.weeks_abundant,
        weeks_shortage=regime.weeks_shortage,
    )


def redeployment_pools(geography: Geography, within: str) -> np.ndarray:
    """Each row's redeployment pool, numbered from 0: its treatment function within its trust's ICB, region
    or (``england``) one national group."""
    icb = np.asarray(geography.trust_icb, dtype=np.int64)
    group = {"icb": icb, "region": np.asarray(geography.icb_region, dtype=np.int64)[icb],
             "england": np.zeros_like(icb)}[within][geography.row_trust]
    return redeploy.pools(group, geography.row_specialty)
