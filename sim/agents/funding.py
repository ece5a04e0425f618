"""NHS England, the 42 ICBs and the NHS trusts as mesa agents, on the model's calendar.

An agent's state is a vector over the replications of a batch, so one
decision serves them all with numpy. NHS England sets each ICB's allocation
every April by the pace-of-change rule (:mod:`sim.agents.allocation`) and
pays deficit support; ICBs pay running costs and commission from trusts;
trusts set budgets, spend, invest and earn AFT status
(:mod:`sim.agents.trusts`, :mod:`sim.agents.aft`). Agents act at the start of
a month (allocations and budgets each April, oversight segments each quarter,
AFT waves on their cadence, capital as it is built), never inside the weekly
patient step.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from sim.calendar import financial_year
from sim.agents.aft import AFTInputs, AFTProgramme
from sim.agents.allocation import distance_from_target_pct, pace_of_change
from sim.agents.trusts import TrustBoard, TrustInputs
from sim.metrics import Geography

FINANCE_METRICS = ("icb_allocation_gbp_m", "icb_distance_from_target_pct")
TRUST_METRICS = ("icb_running_costs_gbp_m", "trust_income_gbp_m", "trust_expenditure_gbp_m", "trust_surplus_gbp_m",
                 "deficit_support_gbp_m", "capital_invested_gbp_m", "trust_capacity_index", "trusts_in_balance_pct",
                 "systems_in_balance_pct")
AFT_METRICS = ("aft_count", "iho_count")
QUARTER_MONTHS = ("01", "04", "07", "10")


@dataclass(frozen=True)
class FinanceInputs:
    """A batch's allocation inputs, one column per financial year of the run (the first is 2025/26).

    Attributes:
        years: financial years, ``2025/26`` first.
        envelope_gbp_m: float64 ``[rep, year]``.
        share: float64 ``[year, icb]`` target shares.
        start_allocation_gbp_m: float64 ``[icb]`` the 2025/26 allocations.
        floor_growth, cap_growth: float64 ``[rep, year]`` the growth floor and the cap for ICBs above target.
        convergence: float64 ``[rep]`` share of the gap to target closed each year.
    """

    years: tuple[str, ...]
    envelope_gbp_m: np.ndarray
    share: np.ndarray
    start_allocation_gbp_m: np.ndarray
    floor_growth: np.ndarray
    convergence: np.ndarray
    cap_growth: np.ndarray

    def target(self, k: int) -> np.ndarray:
        """float64 ``[rep, icb]`` year ``k``'s fair-share targets."""
        return self.envelope_gbp_m[:, k, None] * self.share[None, k]


@dataclass(frozen=True)
class BatchFinance:
    """A batch's agent inputs."""

    allocation: FinanceInputs
    trusts: TrustInputs | None = None
    trust_codes: tuple[str, ...] = ()
    aft: AFTInputs | None = None
    aft_retained: np.ndarray | None = None
    autonomy_pp: np.ndarray | None = None


class ICB(mesa.Agent):
    """One integrated care board: this year's allocation and fair-share target, per replication."""

    def __init__(self, model: mesa.Model, code: str, index: int, n_reps: int) -> None:
        super().__init__(model)
        self.code = code
        self.index = index
        self.allocation_gbp_m = np.zeros(n_reps)
        self.target_gbp_m = np.zeros(n_reps)

    @property
    def distance_from_target_pct(self) -> np.ndarray:
        return distance_from_target_pct(self.allocation_gbp_m, self.target_gbp_m)


class NHSEngland(mesa.Agent):
    """Sets the envelope and every ICB's allocation each April."""

    def __init__(self, model: mesa.Model, inputs: FinanceInputs, icbs: list[ICB]) -> None:
        super().__init__(model)
        self.inputs = inputs
        self.icbs = icbs
        self.year_index = -1

    def allocate(self, k: int) -> None:
        """Allocations for financial year ``k`` of the run (0: the published 2025/26 position)."""
        inp = self.inputs
        target = inp.target(k)
        if k == 0:
            alloc = np.broadcast_to(inp.start_allocation_gbp_m, target.shape).copy()
        else:
            previous = np.stack([icb.allocation_gbp_m for icb in self.icbs], axis=1)
            alloc = pace_of_change(previous, target, inp.envelope_gbp_m[:, k], inp.floor_growth[:, k],
                                   inp.convergence, inp.cap_growth[:, k])
        for icb in self.icbs:
            icb.allocation_gbp_m = alloc[:, icb.index].copy()
            icb.target_gbp_m = target[:, icb.index].copy()
        self.year_index = k


class Trust(mesa.Agent):
    """One NHS trust: its identity; its money and status are columns of the batch's ledgers."""

    def __init__(self, model: mesa.Model, code: str, index: int, kind: str, board: TrustBoard) -> None:
        super().__init__(model)
        self.code = code
        self.index = index
        self.kind = kind
        self.board = board

    @property
    def surplus_gbp_m(self) -> np.ndarray:
        return self.board.year.surplus[:, self.index]

    @property
    def capacity(self) -> np.ndarray:
        return self.board.capacity[:, self.index]


class FundingAgents:
    """The agents inside the model: allocation rounds, trust years, AFT waves and their month-end census.

    Args:
        model: the mesa model the agents belong to.
        inputs: the batch's allocation inputs.
        icb_codes: ICBs in ``inputs`` order.
        icb_series: int ``[icb, 3]`` series positions (national, region, ICB).
        n_series: series in the run's cube.
        months: the run's months.
        trusts: the trust-finance inputs (None: allocations only).
        trust_codes: every trust in ``trusts`` order.
        trust_series: int ``[trust, 4]`` series positions (national, region, ICB, trust).
        aft: AFT inputs (None: no AFT waves).
        aft_retained, autonomy_pp: ``[rep]`` AFT freedoms (see :class:`TrustBoard`).
    """

    def __init__(self, model: mesa.Model, inputs: FinanceInputs, icb_codes: tuple[str, ...], icb_series: np.ndarray,
                 n_series: int, months: tuple[str, ...] = (), trusts: TrustInputs | None = None,
                 trust_codes: tuple[str, ...] = (), trust_series: np.ndarray | None = None,
                 aft: AFTInputs | None = None, aft_retained: np.ndarray | None = None,
                 autonomy_pp: np.ndarray | None = None) -> None:
        n_reps = inputs.envelope_gbp_m.shape[0]
        self.icbs = [ICB(model, code, i, n_reps) for i, code in enumerate(icb_codes)]
        self.nhs_england = NHSEngland(model, inputs, self.icbs)
        self.icb_series = icb_series
        self.n_series = n_series
        self.months = months
        self.board = TrustBoard(trusts, aft_retained, autonomy_pp) if trusts is not None else None
        self.trusts = ([Trust(model, c, i, trusts.kind[i], self.board) for i, c in enumerate(trust_codes)]
                       if trusts is not None else [])
        self.trust_series = trust_series
        self.aft = AFTProgramme(aft, trusts.icb) if aft is not None and trusts is not None else None
        self.metric_names = FINANCE_METRICS + (TRUST_METRICS if self.board else ()) + (AFT_METRICS if self.aft else ())

    @classmethod
    def for_batch(cls, model: mesa.Model, batch: BatchFinance, geography: Geography,
                  months: tuple[str, ...]) -> "FundingAgents":
        """The agents of one batch, their census laid out on ``geography``'s series."""
        series = (geography.finance_trust_series(batch.trust_codes, batch.trusts.icb)
                  if batch.trusts is not None else None)
        return cls(model, batch.allocation, geography.icb_codes, geography.icb_to_series(), len(geography.series()),
                   months, batch.trusts, batch.trust_codes, series, batch.aft, batch.aft_retained, batch.autonomy_pp)

    # ------------------------------------------------------------ calendar
    def start(self, first_year: int, within_18w) -> None:
        """Every allocation round and trust year up to the first month's, then the first month's events."""
        y0, m0 = int(self.months[0][:4]), int(self.months[0][5:7])
        for k, year in enumerate(self.nhs_england.inputs.years[:first_year + 1]):
            self.april(k, month_index=(int(year[:4]) - y0) * 12 + 4 - m0)  # that April, in run months
        self._month_events(0, within_18w)

    def month(self, index: int, within_18w) -> None:
        """Events at the start of run month ``index`` (``within_18w``: a callable giving ``[rep, trust]`` RTT %).

        In April the oversight segments (on last year's accounts) and any wave come first, so a trust
        designated in April budgets as an AFT (or IHO) for the year it starts.
        """
        month = self.months[index]
        self._month_events(index, within_18w)
        if month.endswith("-04"):
            self.april(self.nhs_england.inputs.years.index(financial_year(month)), index)

    def april(self, k: int, month_index: int = 0) -> None:
        """Financial year ``k``'s allocation round and, with trusts, their budgets (``month_index``: run month)."""
        self.nhs_england.allocate(k)
        if self.board is not None:
            alloc = np.stack([icb.allocation_gbp_m for icb in self.icbs], axis=1)
            self.board.april(k, alloc, month_index)

    def _month_events(self, index: int, within_18w) -> None:
        if self.board is None:
            return
        self.board.build(index)
        if self.aft is None:
            return
        inp = self.aft.inputs
        if self.months[index][5:] in QUARTER_MONTHS or index == 0:
            year = self.board.year
            self.aft.segment_trusts(within_18w(), (year.surplus < 0) | (year.support > 0))
        self.aft.reevaluate(index)
        if index in inp.wave_months:
            self.aft.wave(index, first=index == inp.wave_months[0])
        self.board.is_aft = self.aft.is_aft
        self.board.iho_share = self.aft.is_iho * inp.iho_budget_share[:, None]

    # ------------------------------------------------------------ coupling
    def capacity(self) -> np.ndarray | None:
        """``[rep, trust]`` elective capacity against the baseline trend (None: no trust finances)."""
        return None if self.board is None else self.board.capacity

    def demand(self) -> np.ndarray | None:
        """``[rep, trust]`` clock-start multiplier: an IHO's ICB moves care out of hospital (None: no IHOs)."""
        if self.aft is None or not self.aft.inputs.iho_enabled:
            return None
        icb = self.board.inputs.icb
        with_iho = self.board.by_icb(self.aft.is_iho.astype(np.float64), int(icb.max()) + 1) > 0
        return 1.0 + with_iho[:, icb] * self.aft.inputs.iho_demand_change[:, None]

    # -------------------------------------------------------------- census
    def _sum(self, values: np.ndarray, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sums of ``[rep, unit]`` values into series (ordered: never depends on the batch) and the series covered."""
        out = np.zeros((values.shape[0], self.n_series))
        covered = np.zeros(self.n_series, dtype=bool)
        for col in range(mapping.shape[1]):
            idx = mapping[:, col]
            np.add.at(out.T, idx, values.T)  # unbuffered, in unit order for each replication
            covered[idx] = True
        return out, covered

    def census(self) -> dict[str, np.ndarray]:
        """``[rep, series]`` the financial year's figures, summed to areas (NaN for series without them)."""
        alloc = np.stack([icb.allocation_gbp_m for icb in self.icbs], axis=1)
        target = np.stack([icb.target_gbp_m for icb in self.icbs], axis=1)
        a, covered = self._sum(alloc, self.icb_series)
        t, _ = self._sum(target, self.icb_series)
        icb_nan = np.where(covered, 0.0, np.nan)[None, :]
        out = {"icb_allocation_gbp_m": a + icb_nan, "icb_distance_from_target_pct": distance_from_target_pct(a, t) + icb_nan}
        if self.board is None:
            return out
        year, m = self.board.year, self.trust_series
        out["icb_running_costs_gbp_m"] = self._sum(year.icb_running_costs, self.icb_series)[0] + icb_nan
        for name, values in (("trust_income_gbp_m", year.income), ("trust_expenditure_gbp_m", year.expenditure),
                             ("trust_surplus_gbp_m", year.surplus), ("deficit_support_gbp_m", year.support),
                             ("capital_invested_gbp_m", year.capital)):
            total, trust_covered = self._sum(values, m)
            out[name] = total + np.where(trust_covered, 0.0, np.nan)[None, :]
        nan = np.where(trust_covered, 0.0, np.nan)[None, :]
        weight = np.maximum(year.income - year.pass_through, 0.0)  # an IHO's pass-through buys no capacity
        num, _ = self._sum(self.board.capacity * weight, m)
        den, _ = self._sum(weight, m)
        out["trust_capacity_index"] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan) + nan
        count, _ = self._sum(np.ones_like(year.surplus), m)
        balanced, _ = self._sum((year.surplus >= 0).astype(np.float64), m)
        out["trusts_in_balance_pct"] = np.where(count > 0, 100.0 * balanced / np.where(count > 0, count, 1.0), np.nan) + nan
        system = self.board.by_icb(year.surplus, len(self.icbs)) >= 0
        n_sys, _ = self._sum(np.ones_like(alloc), self.icb_series)
        ok, _ = self._sum(system.astype(np.float64), self.icb_series)
        out["systems_in_balance_pct"] = np.where(n_sys > 0, 100.0 * ok / np.where(n_sys > 0, n_sys, 1.0), np.nan) + icb_nan
        if self.aft is not None:
            out["aft_count"] = self._sum(self.aft.is_aft.astype(np.float64), m)[0] + nan
            out["iho_count"] = self._sum(self.aft.is_iho.astype(np.float64), m)[0] + nan
        return out

