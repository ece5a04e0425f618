"""Trust-finance and AFT inputs: trust sizes, each replication's draws, deficit support and wave dates.

Sizing (an assumption, docs/MODEL.md section 15): patient flows across ICB
borders are not published in the shipped data, so each ICB pays its
commissioning money's provider share to the trusts it hosts. Nationally,
mental health and community trusts take their configured shares of NHS trust
income, and acute and specialist trusts the rest; within a kind, acute and
specialist trusts are sized by their share of the RTT list and mental health
and community trusts by the population of their host ICB (split between the
ICB's trusts of that kind). Within an ICB, the provider share is split pro
rata to those national sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import norm

from sim.agents.aft import AFTInputs
from sim.agents.trusts import TrustInputs
from sim.calendar import add_months
from sim.config import Scenario
from sim.config_aft import AFTWaves
from sim.rng import stream
from sim.scenarios.parameters import value

KINDS = ("acute", "specialist", "community", "mental_health")
CQC_RATINGS = ("outstanding", "good", "requires_improvement", "inadequate")


@dataclass(frozen=True)
class TrustBase:
    """The run's trusts for finance and AFT, fixed at planning.

    Attributes:
        codes: every trust in the world (ODS codes, sorted).
        kind: each trust's kind.
        icb: int ``[trust]`` host-ICB position.
        rtt_size: ``[trust]`` share of the national RTT list (0 for trusts without one).
        population_size: ``[trust]`` host-ICB population over the ICB's trusts of the same kind.
        icb_population: ``[icb]`` people.
        nominated: bool ``[trust]`` nominated for the first AFT wave.
    """

    codes: tuple[str, ...]
    kind: tuple[str, ...]
    icb: np.ndarray
    rtt_size: np.ndarray
    population_size: np.ndarray
    icb_population: np.ndarray
    nominated: np.ndarray

    @property
    def kind_index(self) -> np.ndarray:
        return np.array([KINDS.index(k) for k in self.kind], dtype=np.int64)

    def contract_share(self, mental_health: float, community: float) -> np.ndarray:
        """``[trust]`` each trust's share of its host ICB's provider money (module docstring)."""
        k = self.kind_index
        acute = (k == 0) | (k == 1)
        national = np.zeros(len(self.codes))
        for mask, share, size in ((acute, 1.0 - mental_health - community, self.rtt_size),
                                  (k == 3, mental_health, self.population_size),
                                  (k == 2, community, self.population_size)):
            total = size[mask].sum()
            if total > 0:
                national[mask] = share * size[mask] / total
        by_icb = np.bincount(self.icb, weights=national, minlength=len(self.icb_population))
        return np.where(by_icb[self.icb] > 0, national / np.where(by_icb[self.icb] > 0, by_icb[self.icb], 1.0), 0.0)


def glide(years: tuple[str, ...], breakeven_year: str) -> np.ndarray:
    """``[year]`` share of a 2025/26 deficit still planned: 1 in 2025/26, falling evenly to 0 by ``breakeven_year``."""
    steps = int(breakeven_year[:4]) - int(years[0][:4])
    k = np.arange(len(years), dtype=np.float64)
    return np.clip(1.0 - k / max(steps, 1), 0.0, 1.0)


def support_path(scenario: Scenario, years: tuple[str, ...], replications: np.ndarray) -> np.ndarray:
    """``[rep, year]`` deficit support: the 2025/26 level, then the configured years (others none)."""
    cfg = scenario.finance.deficit_support
    out = np.zeros((len(replications), len(years)))
    out[:, 0] = cfg.start_gbp_m
    for k, year in enumerate(years[1:], start=1):
        if year in cfg.gbp_m:
            for i, r in enumerate(int(x) for x in replications):
                out[i, k] = value(cfg.gbp_m[year], scenario.seed, r, f"finance.deficit_support.gbp_m.{year}", 0, 20_000)
    return out


def state_stream(seed: int, replication: int, name: str) -> np.random.Generator:
    """Trusts' unknown states (positions, quality, ratings) have no central value, so replication 0 draws them
    too, from a fixed stream: the point estimate never depends on the run's seed."""
    return stream(0 if replication == 0 else seed, replication, name)


def _per_rep(p, scenario: Scenario, replications: np.ndarray, name: str, low: float, high: float) -> np.ndarray:
    return np.array([value(p, scenario.seed, int(r), name, low, high) for r in replications])


def batch_trust_inputs(scenario: Scenario, base: TrustBase, years: tuple[str, ...], replications: np.ndarray,
                       allocation0: np.ndarray, envelope_index: np.ndarray, specialised_gbp_m: float) -> TrustInputs:
    """A batch's trust inputs (each replication drawn alone; replication 0 has no shocks).

    Args:
        allocation0: ``[icb]`` the 2025/26 allocations.
        envelope_index: ``[rep, year]`` the envelope's real growth index (1 in 2025/26).
        specialised_gbp_m: NHS England's direct specialised payments in 2025/26 (0 when in ICB allocations).
    """
    cfg = scenario.finance.trusts
    cap = scenario.finance.capital
    n_reps, n_years, n = len(replications), len(years), len(base.codes)
    r = replications

    def draw(p, name, low, high):
        return _per_rep(p, scenario, r, f"finance.trusts.{name}", low, high)

    provider = draw(cfg.provider_share_pct, "provider_share_pct", 10, 95) / 100
    mh = draw(cfg.mental_health_share_pct, "mental_health_share_pct", 0, 50) / 100
    community = draw(cfg.community_share_pct, "community_share_pct", 0, 50) / 100
    share = np.stack([p * base.contract_share(m, c) for p, m, c in zip(provider, mh, community)])
    k = base.kind_index
    acute = (k == 0) | (k == 1)
    variable = draw(cfg.elective_variable_pct, "elective_variable_pct", 0, 60)[:, None] / 100 * acute[None, :]
    direct_weight = np.where(acute, base.rtt_size, 0.0)
    direct_weight = direct_weight / direct_weight.sum() if direct_weight.sum() > 0 else direct_weight
    per_head = np.full(n_years, cfg.running_cost_per_head_gbp)
    per_head[0] = cfg.running_cost_2025_per_head_gbp
    running = np.broadcast_to(per_head[None, :, None] * base.icb_population[None, None, :] / 1e6,
                              (n_reps, n_years, len(base.icb_population))).copy()
    direct = specialised_gbp_m * envelope_index
    income0 = share * (allocation0 - running[:, 0])[:, base.icb] + direct[:, :1] * direct_weight[None, :]

    sd_pos = draw(cfg.position_sd_pct, "position_sd_pct", 0, 20) / 100
    deficit = draw(cfg.underlying_deficit_gbp_m, "underlying_deficit_gbp_m", -20_000, 20_000)
    overrun_sd = draw(cfg.overrun_sd_pct, "overrun_sd_pct", 0, 20) / 100
    prod_sd = draw(cfg.productivity_sd_pp, "productivity_sd_pp", 0, 10) / 100
    z = np.zeros((n_reps, n))
    overrun = np.zeros((n_reps, n_years, n))
    prod = np.zeros((n_reps, n_years, n))
    for i, rep in enumerate(int(x) for x in r):
        g = state_stream(scenario.seed, rep, "finance")
        z[i] = g.standard_normal(n)
        if rep > 0:
            overrun[i] = overrun_sd[i] * g.standard_normal((n_years, n))
            prod[i] = prod_sd[i] * g.standard_normal((n_years, n))
    total_income = income0.sum(axis=1)
    mean = (deficit - sd_pos * (income0 * z).sum(axis=1)) / np.where(total_income > 0, total_income, 1.0)
    gap = income0 * (mean[:, None] + sd_pos[:, None] * z)

    absorbed = cfg.absorbed_real_growth_pct
    if absorbed is None:
        absorbed_index = envelope_index
    else:
        g = draw(absorbed, "absorbed_real_growth_pct", -10, 20) / 100
        absorbed_index = (1.0 + g[:, None]) ** np.arange(n_years)[None, :]
    saving = draw(cfg.corporate_saving_gbp_m, "corporate_saving_gbp_m", 0, 5000)[:, None] * (np.arange(n_years) > 0)
    cdel_growth = _per_rep(cap.cdel_real_growth_pct, scenario, r, "finance.capital.cdel_real_growth_pct", -20, 30) / 100
    cdel = cap.operational_cdel_gbp_m * (1.0 + cdel_growth[:, None]) ** np.arange(n_years)[None, :]
    return TrustInputs(
        kind=base.kind, icb=base.icb, contract_share=share, variable_share=variable,
        variable_cap=draw(cfg.variable_cap_pct, "variable_cap_pct", 0, 50) / 100,
        direct_weight=direct_weight, direct_gbp_m=direct, gap_gbp_m=gap,
        support_gbp_m=support_path(scenario, years, r), glide=glide(years, cfg.breakeven_year),
        overrun_shock=overrun, persistence=draw(cfg.overrun_persistence, "overrun_persistence", 0, 0.99),
        recovery=draw(cfg.recovery_pct, "recovery_pct", 0, 100) / 100,
        elasticity=draw(cfg.capacity_elasticity, "capacity_elasticity", 0, 2),
        absorbed_index=absorbed_index, productivity_dev=prod, corporate_saving_gbp_m=saving,
        running_cost_gbp_m=running, cdel_gbp_m=cdel, cdel_reference_gbp_m=np.full(n_reps, cap.operational_cdel_gbp_m),
        activity_per_capital=_per_rep(cap.activity_per_capital_pct, scenario, r, "finance.capital.activity_per_capital_pct",
                                      0, 200) / 100,
        lead_months=cap.lead_time_months, light_lead_months=cap.light_lead_time_months,
        light_limit_gbp_m=cap.light_process_limit_gbp_m, aft_cover_gbp_m=cap.aft_cdel_cover_gbp_m)


def wave_dates(cfg: AFTWaves) -> list[str]:
    """Months of the waves: the first wave, then every ``cadence_months`` to the deadline."""
    out, m = [], cfg.first_wave
    while m <= cfg.deadline:
        out.append(m)
        m = add_months(m, cfg.cadence_months)
    return out


def wave_months(cfg: AFTWaves, months: tuple[str, ...]) -> tuple[int, ...]:
    """Run-month indices of the waves that fall inside the run."""
    position = {mm: i for i, mm in enumerate(months)}
    return tuple(position[m] for m in wave_dates(cfg) if m in position)


def batch_aft_inputs(scenario: Scenario, base: TrustBase, months: tuple[str, ...], replications: np.ndarray,
                     has_performance: np.ndarray) -> tuple[AFTInputs, np.ndarray, np.ndarray]:
    """A batch's AFT inputs, and each replication's retained-surplus share and autonomy effect ``[rep]``."""
    cfg = scenario.policies.aft_waves
    n_reps, n, n_months = len(replications), len(base.codes), len(months)
    r = replications

    def draw(p, name, low, high):
        return _per_rep(p, scenario, r, f"policies.aft_waves.{name}", low, high)

    quality = np.zeros((n_reps, n))
    cqc = np.zeros((n_reps, n), dtype=bool)
    panel_u = np.zeros((n_reps, n_months, n))
    iho_u = np.zeros((n_reps, n_months, n))
    ratings = np.array([cfg.cqc_ratings_pct[c] for c in CQC_RATINGS], dtype=np.float64)
    cut = np.cumsum(ratings / ratings.sum())[:CQC_RATINGS.index(cfg.min_cqc) + 1][-1]
    threshold = norm.ppf(min(cut, 1.0 - 1e-12))
    rho = cfg.cqc_quality_correlation
    for i, rep in enumerate(int(x) for x in r):
        g = state_stream(scenario.seed, rep, "aft")
        quality[i] = g.standard_normal(n)
        # The nominated were chosen on their record ('delivering quality care, strong finances', seed 004):
        # their quality is drawn from the better half, and they hold a rating good enough to apply.
        quality[i] = np.where(base.nominated, np.abs(quality[i]), quality[i])
        latent = rho * quality[i] + np.sqrt(1.0 - rho ** 2) * g.standard_normal(n)
        cqc[i] = (-latent <= threshold) | base.nominated  # the best-placed trusts hold the best ratings
        panel_u[i] = g.random((n_months, n))
        iho_u[i] = g.random((n_months, n))
    kinds = np.array([k in cfg.iho.kinds for k in base.kind])
    inputs = AFTInputs(
        wave_months=wave_months(cfg, months), nominated=base.nominated, peer_group=base.kind_index,
        performance_weight=cfg.segmentation.performance_weight_pct / 100, has_performance=has_performance,
        quality=quality, cqc_eligible=cqc, panel_pass=draw(cfg.panel_pass_pct, "panel_pass_pct", 0, 100) / 100,
        panel_u=panel_u, max_segment=cfg.max_segment, trigger_segment=cfg.trigger_segment,
        reevaluation_months=12 * cfg.reevaluation_years, financial_override=cfg.segmentation.financial_override,
        max_per_wave=cfg.max_per_wave or 0, iho_enabled=cfg.iho.enabled, iho_kind=kinds,
        iho_min_months=int(round(12 * cfg.iho.min_years_as_aft)),
        iho_pass=draw(cfg.iho.pass_pct, "iho.pass_pct", 0, 100) / 100, iho_u=iho_u,
        iho_budget_share=draw(cfg.iho.budget_share_pct, "iho.budget_share_pct", 0, 100) / 100,
        iho_demand_change=draw(cfg.iho.demand_change_pct, "iho.demand_change_pct", -20, 20) / 100)
    retained = draw(cfg.retained_surplus_pct, "retained_surplus_pct", 0, 10) / 100
    autonomy = draw(cfg.autonomy_productivity_pp, "autonomy_productivity_pp", -5, 5) / 100
    return inputs, retained, autonomy
