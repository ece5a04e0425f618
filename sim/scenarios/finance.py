"""ICB allocation inputs: the 2025/26 position, fair-share target shares by year, and each replication's policy.

The 2025/26 position (April 2025 allocation letter, appendix 2): each ICB's
target is its share of the envelope; the published distance from target gives
its allocation, ``target x (1 + distance)``, for the 17 ICBs outside the
+/-2.5% band. The 25 ICBs inside the band are given one common distance so
that allocations sum to the envelope (an assumption: the letter does not
publish them; the fitted common distance is checked to lie inside the band).

Target shares blend the core-services and primary-medical-care need-weighted
shares of NHS England's allocation tool by the 2024/25 allocation mix (other
delegated budgets follow the core shares); after 2025/26 they are held or
moved by their 2023/24-2025/26 annual change, renormalised to 100%.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim import reference
from sim.agents.funding import FinanceInputs
from sim.config import Scenario
from sim.scenarios.parameters import value

FIRST_YEAR = "2025/26"
BAND_PCT = 2.5  # the April 2025 letter lists only ICBs outside +/-2.5% of target


def _item(name: str, year: str) -> float:
    rows = reference.funding()
    hit = rows[(rows["item"] == name) & (rows["financial_year"] == year)]
    if hit.empty or not np.isfinite(hit["value_gbp_m"].iloc[0]):
        raise ValueError(f"funding.csv has no value for {name!r} in {year}")
    return float(hit["value_gbp_m"].iloc[0])


@dataclass(frozen=True)
class AllocationBase:
    """The 2025/26 allocation position and target shares, in ``icb_codes`` order.

    Attributes:
        icb_codes: the run's ICBs.
        envelope_gbp_m: the 2025/26 envelope.
        share: float64 ``[icb]`` 2025/26 target share (sums to 1).
        share_change: float64 ``[icb]`` annual change in target share (2023/24-2025/26).
        allocation_gbp_m: float64 ``[icb]`` 2025/26 allocations.
        within_band_distance_pct: the common distance given to ICBs inside the band.
    """

    icb_codes: tuple[str, ...]
    envelope_gbp_m: float
    share: np.ndarray
    share_change: np.ndarray
    allocation_gbp_m: np.ndarray
    within_band_distance_pct: float


def allocation_base(icb_codes: tuple[str, ...], include_specialised: bool, first_year_growth_pct: float,
                    specialised_gbp_m: float = 0.0) -> AllocationBase:
    """The 2025/26 position from the shipped allocation data (module docstring).

    Raises:
        ValueError: an ICB without data, or a within-band distance outside the band.
    """
    weighted = reference.icb_weighted_populations()
    pmc_total = _item("ICB primary medical care allocations", "2024/25")
    total_2024 = _item("Total allocations to ICBs", "2024/25")
    pmc_weight = pmc_total / total_2024  # the rest (core and other delegated budgets) follows the core shares

    def shares(year: str) -> np.ndarray:
        rows = weighted[weighted["financial_year"] == year].set_index("icb_code")
        missing = [c for c in icb_codes if c not in rows.index]
        if missing:
            raise ValueError(f"no need-weighted population for {', '.join(missing)} in {year}")
        s = ((1 - pmc_weight) * rows.loc[list(icb_codes), "core_target_share_pct"]
             + pmc_weight * rows.loc[list(icb_codes), "pmc_target_share_pct"]).to_numpy(dtype=np.float64)
        return s / s.sum()

    share = shares(FIRST_YEAR)
    share_change = (share - shares("2023/24")) / 2.0
    envelope = total_2024 * (1.0 + first_year_growth_pct / 100.0)
    if include_specialised:
        envelope += specialised_gbp_m  # shared by the same need-weighted shares (assumption: no specialised formula)
    target = envelope * share
    names = reference.icbs().set_index("icb_code").loc[list(icb_codes), "icb_name"]
    fair = reference.icb_fair_shares().set_index("icb_name")
    column = "dft_pct_incl_spec" if include_specialised else "dft_pct_excl_spec"
    published = fair[column].reindex(names.to_numpy()).to_numpy(dtype=np.float64) / 100.0
    outside = np.isfinite(published)
    inside_target = target[~outside].sum()
    d_in = (envelope - (target[outside] * (1 + published[outside])).sum() - inside_target) / inside_target
    if abs(d_in) > BAND_PCT / 100:
        raise ValueError(f"the within-band ICBs would need a common distance of {100 * d_in:.2f}%, outside the band")
    allocation = target * (1.0 + np.where(outside, published, d_in))
    for a in (share, share_change, allocation):
        a.setflags(write=False)
    return AllocationBase(tuple(icb_codes), envelope, share, share_change, allocation, 100.0 * d_in)


def batch_inputs(scenario: Scenario, base: AllocationBase, years: tuple[str, ...],
                 replications: np.ndarray) -> FinanceInputs:
    """Allocation inputs for a batch (each replication drawn alone)."""
    cfg = scenario.finance
    seed = scenario.seed
    n_years = len(years)
    steps = np.arange(n_years, dtype=np.float64)
    if cfg.population_share_trend == "extrapolate":
        share = np.maximum(base.share[None, :] + steps[:, None] * base.share_change[None, :], 0.0)
        share /= share.sum(axis=1, keepdims=True)
    else:
        share = np.repeat(base.share[None, :], n_years, axis=0)
    envelope = np.zeros((len(replications), n_years))
    floor, cap = np.zeros((len(replications), n_years)), np.zeros((len(replications), n_years))
    conv = np.zeros(len(replications))
    p = cfg.pace_of_change
    settlement = np.array([int(y[:4]) <= 2028 for y in years[1:]])
    for k, r in enumerate(int(x) for x in replications):
        early = value(cfg.real_growth_pct_to_2028_29, seed, r, "finance.real_growth_pct_to_2028_29", -10, 20) / 100
        late = value(cfg.real_growth_pct_after, seed, r, "finance.real_growth_pct_after", -10, 20) / 100
        growth = np.where(settlement, early, late)
        envelope[k] = base.envelope_gbp_m * np.concatenate([[1.0], np.cumprod(1.0 + growth)])
        below = value(p.floor_below_envelope_pp, seed, r, "finance.pace_of_change.floor_below_envelope_pp", 0, 10) / 100
        conv[k] = value(p.convergence_pct, seed, r, "finance.pace_of_change.convergence_pct", 0, 100) / 100
        above = value(p.cap_above_floor_pp, seed, r, "finance.pace_of_change.cap_above_floor_pp", 0, 10) / 100
        floor[k, 1:] = growth - below  # the floor follows each year's envelope growth
        cap[k] = floor[k] + above
    return FinanceInputs(tuple(years), envelope, share, base.allocation_gbp_m, floor, conv, cap)
