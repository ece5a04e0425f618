"""NHS trusts' finances, one financial year at a time, for every trust and replication at once.

State is ``[rep, trust]`` arrays; every trust applies the same documented rule
to its own state, so the rule runs as one numpy call (docs/MODEL.md section 15).
Money is in 2025/26 prices. Each April a trust:

1. is paid by its host ICB: a fixed element that moves with the ICB's
   commissioning money, and a variable element for elective activity (acute
   and specialist trusts) paid on last year's activity against plan, up to the
   ICB's affordability cap; NHS England pays specialised services directly
   when they are outside ICB allocations;
2. receives its share of deficit support: in 2025/26 NHS England meets each
   trust's need up to a common cap (so the headline deficit left after
   support sits with the largest deficits), and the shares then hold as the
   support is withdrawn;
3. plans its spending: income + support - planned surplus. The planned
   surplus closes the 2025/26 deficit evenly by the breakeven year, recovers
   part of last year's shortfall against plan (cost improvement that slows
   capacity growth), and for an AFT includes the surplus it keeps to invest;
4. overruns its plan by a persistent shock; surplus = income + support - spending.

Capacity (the multiplier on the trust's elective activity against the
baseline trend, 1 = as planned) is 1 + the capacity elasticity x (what the
planned spending buys against the start year grown at the rate the baseline
trend absorbs, minus 1), floored at ``MIN_MONEY_CAPACITY``; times the trust's
productivity against the national trend
(the 2% is in the trend, so it is counted once, as activity), times the
capacity that capital adds once built.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_MONEY_CAPACITY = 0.2  # a trust never loses more than 80% of its capacity to money alone


@dataclass(frozen=True)
class TrustInputs:
    """A batch's trust-finance inputs (one column per financial year; the first is 2025/26).

    Attributes:
        kind: trust kind per trust (``acute``, ``specialist``, ``community``, ``mental_health``).
        icb: int ``[trust]`` host-ICB position.
        contract_share: ``[rep, trust]`` the trust's share of its host ICB's commissioning money.
        variable_share: ``[rep, trust]`` share of contract income paid per elective activity.
        variable_cap: ``[rep]`` how far above plan (fraction) the ICB pays for activity.
        direct_weight: ``[trust]`` shares of NHS England's direct specialised payments (sum 1).
        direct_gbp_m: ``[rep, year]`` those payments (0 when specialised is in ICB allocations).
        gap_gbp_m: ``[rep, trust]`` 2025/26 underlying position before support (+: deficit).
        support_gbp_m: ``[rep, year]`` national deficit support.
        glide: ``[year]`` fraction of a 2025/26 deficit still planned (1 in 2025/26, 0 from the breakeven year).
        overrun_shock: ``[rep, year, trust]`` innovations of the spending overrun (fraction of spending).
        persistence, recovery, elasticity: ``[rep]``.
        absorbed_index: ``[rep, year]`` cumulative real growth the baseline trend absorbs (1 in 2025/26).
        productivity_dev: ``[rep, year, trust]`` productivity growth against the national trend (fraction).
        corporate_saving_gbp_m: ``[rep, year]`` providers' corporate-cost saving reinvested in capacity.
        running_cost_gbp_m: ``[rep, year, icb]`` ICB running costs.
        cdel_gbp_m: ``[rep, year]`` provider capital; ``cdel_reference_gbp_m`` ``[rep]`` the baseline's level.
        activity_per_capital: ``[rep]`` annual activity per GBP of capital.
        lead_months, light_lead_months: capital lead times; ``light_limit_gbp_m`` the light-process limit.
        aft_cover_gbp_m: capital cover each year for AFT investment of retained surplus.
    """

    kind: tuple[str, ...]
    icb: np.ndarray
    contract_share: np.ndarray
    variable_share: np.ndarray
    variable_cap: np.ndarray
    direct_weight: np.ndarray
    direct_gbp_m: np.ndarray
    gap_gbp_m: np.ndarray
    support_gbp_m: np.ndarray
    glide: np.ndarray
    overrun_shock: np.ndarray
    persistence: np.ndarray
    recovery: np.ndarray
    elasticity: np.ndarray
    absorbed_index: np.ndarray
    productivity_dev: np.ndarray
    corporate_saving_gbp_m: np.ndarray
    running_cost_gbp_m: np.ndarray
    cdel_gbp_m: np.ndarray
    cdel_reference_gbp_m: np.ndarray
    activity_per_capital: np.ndarray
    lead_months: int
    light_lead_months: int
    light_limit_gbp_m: float
    aft_cover_gbp_m: float


def pro_rata(total: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``[rep, n]`` ``total`` ``[rep]`` shared by non-negative ``weight`` ``[rep, n]`` (nothing where all are 0)."""
    s = weight.sum(axis=1, keepdims=True)
    return np.where(s > 0, total[:, None] * weight / np.where(s > 0, s, 1.0), 0.0)


def water_fill(total: np.ndarray, need: np.ndarray) -> np.ndarray:
    """``[rep, n]`` ``total`` ``[rep]`` covering each non-negative ``need`` up to a common cap.

    Every need at or below the cap is met in full and the largest are capped, so
    what is left uncovered sits with the largest needs. Money beyond the total
    need is shared pro rata to need.
    """
    out = np.zeros_like(need, dtype=np.float64)
    for r in range(need.shape[0]):
        v = np.sort(need[r])[::-1]
        if v.sum() <= total[r]:
            out[r] = pro_rata(total[r:r + 1], need[r:r + 1])[0]
            continue
        # With the k largest capped at c: sum = k c + sum of the rest; find the k where c lies in [v_k, v_(k-1)].
        rest = np.cumsum(v[::-1])[::-1]  # rest[k] = sum of v[k:]
        for k in range(1, len(v) + 1):
            tail = rest[k] if k < len(v) else 0.0
            cap = (total[r] - tail) / k
            if cap >= (v[k] if k < len(v) else 0.0):
                break
        out[r] = np.minimum(need[r], cap)
    return out


@dataclass
class TrustYear:
    """One financial year's ledger, ``[rep, trust]`` GBP m (ICB figures ``[rep, icb]``)."""

    income: np.ndarray
    support: np.ndarray
    expenditure: np.ndarray
    surplus: np.ndarray
    planned_surplus: np.ndarray
    capital: np.ndarray
    pass_through: np.ndarray
    icb_allocation: np.ndarray
    icb_running_costs: np.ndarray
    icb_trust_contracts: np.ndarray
    icb_iho_budgets: np.ndarray
    icb_other: np.ndarray


class TrustBoard:
    """Every trust's money and capacity state for a batch (module docstring).

    Args:
        inputs: the batch's trust inputs.
        aft_retained: ``[rep]`` share of income an AFT plans as surplus to invest.
        autonomy_pp: ``[rep]`` extra productivity growth of an AFT (fraction a year).
    """

    def __init__(self, inputs: TrustInputs, aft_retained: np.ndarray | None = None,
                 autonomy_pp: np.ndarray | None = None) -> None:
        self.inputs = inputs
        n_reps, n = inputs.contract_share.shape
        self.is_aft = np.zeros((n_reps, n), dtype=bool)
        self.iho_share = np.zeros((n_reps, n))  # share of the host ICB's other commissioning an IHO holds
        self.aft_retained = np.zeros(n_reps) if aft_retained is None else aft_retained
        self.autonomy_pp = np.zeros(n_reps) if autonomy_pp is None else autonomy_pp
        self.need = np.maximum(inputs.gap_gbp_m, 0.0)
        self.support_share = np.zeros((n_reps, n))
        self.deficit0 = np.zeros((n_reps, n))
        self.spend0 = np.ones((n_reps, n))
        self.activity = np.ones((n_reps, n))      # last year's activity against plan (variable income)
        self.money_capacity = np.ones((n_reps, n))
        self.productivity = np.ones((n_reps, n))
        self.built = np.zeros((n_reps, n))         # capacity added by capital (fraction)
        self.overrun = np.zeros((n_reps, n))
        self.recovery_due = np.zeros((n_reps, n))
        self.reserves = np.zeros((n_reps, n))
        self.pipeline: list[tuple[int, np.ndarray]] = []
        self.year: TrustYear | None = None

    # -------------------------------------------------------------- capacity
    @property
    def capacity(self) -> np.ndarray:
        """``[rep, trust]`` elective capacity against the baseline trend (1 = as planned)."""
        return self.money_capacity * self.productivity * (1.0 + self.built)

    def build(self, month_index: int) -> None:
        """Capital projects finished by ``month_index`` add their capacity."""
        due = [inc for at, inc in self.pipeline if at <= month_index]
        self.pipeline = [(at, inc) for at, inc in self.pipeline if at > month_index]
        for inc in due:
            self.built += inc

    # ----------------------------------------------------------------- April
    def april(self, k: int, allocation: np.ndarray, month_index: int) -> TrustYear:
        """Financial year ``k``'s budgets and outturn, given the ICBs' allocations ``[rep, icb]``."""
        inp = self.inputs
        if self.year is not None:  # last year's activity against plan, paid in arrears
            self.activity = self.capacity
        running = inp.running_cost_gbp_m[:, k]
        commissioning = allocation - running
        contract = inp.contract_share * commissioning[:, inp.icb]
        paid_activity = np.minimum(self.activity, 1.0 + inp.variable_cap[:, None])
        contract = contract * (1.0 - inp.variable_share + inp.variable_share * paid_activity)
        income = contract + inp.direct_gbp_m[:, k, None] * inp.direct_weight[None, :]
        if k == 0:
            # NHS England meets each trust's 2025/26 need up to a common cap; the shares then hold.
            first = water_fill(inp.support_gbp_m[:, 0], self.need)
            # Later support follows the 2025/26 shares; with none in 2025/26, the need; with no need, income.
            basis = np.where(first.sum(axis=1, keepdims=True) > 0, first,
                             np.where(self.need.sum(axis=1, keepdims=True) > 0, self.need, 1.0))
            self.support_share = pro_rata(np.ones(first.shape[0]), basis)
            self.deficit0 = inp.gap_gbp_m - first
        support = inp.support_gbp_m[:, k, None] * self.support_share
        planned = (np.where(self.deficit0 > 0, -self.deficit0 * inp.glide[k], -self.deficit0)
                   + self.recovery_due + self.is_aft * self.aft_retained[:, None] * income)
        spend = income + support - planned
        if k == 0:
            self.spend0 = np.where(spend > 0, spend, 1.0)
        saving = pro_rata(inp.corporate_saving_gbp_m[:, k], np.maximum(income, 0.0))
        money = (spend + saving) / (self.spend0 * inp.absorbed_index[:, k, None])
        self.money_capacity = np.maximum(1.0 + inp.elasticity[:, None] * (money - 1.0), MIN_MONEY_CAPACITY)
        if k > 0:
            self.productivity = self.productivity * (1.0 + inp.productivity_dev[:, k]
                                                     + self.is_aft * self.autonomy_pp[:, None])
        self.overrun = inp.persistence[:, None] * self.overrun + inp.overrun_shock[:, k]
        expenditure = spend * (1.0 + self.overrun)
        surplus = income + support - expenditure
        self.recovery_due = inp.recovery[:, None] * np.maximum(planned - surplus, 0.0)
        capital = self._invest(k, income, month_index)  # from reserves kept up to last year
        # Only an AFT keeps its surplus (seed 004); a trust that loses the status loses the freedom.
        self.reserves = np.where(self.is_aft, np.maximum(self.reserves + surplus, 0.0), 0.0)
        contracts_by_icb = self.by_icb(contract, allocation.shape[1])
        other = commissioning - contracts_by_icb
        # An IHO holds part of its ICB's other commissioning and passes it on: income and spending alike.
        pass_through = self.iho_share * np.maximum(other[:, inp.icb], 0.0)
        iho_by_icb = self.by_icb(pass_through, allocation.shape[1])
        self.year = TrustYear(income + pass_through, support, expenditure + pass_through, surplus, planned, capital,
                              pass_through, allocation.copy(), running.copy(), contracts_by_icb, iho_by_icb,
                              other - iho_by_icb)
        return self.year

    def by_icb(self, values: np.ndarray, n_icbs: int) -> np.ndarray:
        """``[rep, icb]`` sums of ``[rep, trust]`` values over each ICB's trusts (in trust order)."""
        out = np.zeros((values.shape[0], n_icbs))
        np.add.at(out.T, self.inputs.icb, values.T)
        return out

    def _invest(self, k: int, income: np.ndarray, month_index: int) -> np.ndarray:
        """Capital this year: each trust's share of provider capital, plus AFTs investing retained surplus."""
        inp = self.inputs
        weight = np.maximum(income, 0.0)
        routine = pro_rata(inp.cdel_gbp_m[:, k], weight)
        above_reference = pro_rata(inp.cdel_gbp_m[:, k] - inp.cdel_reference_gbp_m, weight)
        request = np.where(self.is_aft, self.reserves, 0.0)
        total = request.sum(axis=1)
        scale = np.where(total > inp.aft_cover_gbp_m, inp.aft_cover_gbp_m / np.where(total > 0, total, 1.0), 1.0)
        aft_invest = request * scale[:, None]
        self.reserves = self.reserves - aft_invest
        per_income = inp.activity_per_capital[:, None] / np.where(income > 0, income, np.inf)
        light = inp.light_lead_months if inp.light_lead_months else inp.lead_months
        aft_lead = np.where(aft_invest < inp.light_limit_gbp_m, light, inp.lead_months)
        for months in sorted({inp.lead_months, light}):
            inc = np.where(months == inp.lead_months, above_reference, 0.0) + np.where(aft_lead == months, aft_invest, 0.0)
            inc = inc * per_income
            if inc.any():
                self.pipeline.append((month_index + int(months), inc))
        return routine + aft_invest
