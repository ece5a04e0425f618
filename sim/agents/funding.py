"""NHS England and the 42 ICBs as mesa agents: the April allocation round.

An agent's state is a vector over the replications of a batch, so one
decision serves them all with numpy. NHS England sets each ICB's allocation
every April by the pace-of-change rule (:mod:`sim.agents.allocation`); the
ICBs hold their allocation and target for the year. Agents act on the
model's simpy calendar (each April), never inside the weekly patient step.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from sim.agents.allocation import distance_from_target_pct, pace_of_change

FINANCE_METRICS = ("icb_allocation_gbp_m", "icb_distance_from_target_pct")


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


class FundingAgents:
    """The allocation round inside the model, and its month-end census.

    Args:
        model: the mesa model the agents belong to.
        inputs: the batch's allocation inputs.
        icb_codes: ICBs in ``inputs`` order.
        icb_series: int ``[icb, 3]`` series positions (national, region, ICB).
        n_series: series in the run's cube.
    """

    def __init__(self, model: mesa.Model, inputs: FinanceInputs, icb_codes: tuple[str, ...], icb_series: np.ndarray,
                 n_series: int) -> None:
        n_reps = inputs.envelope_gbp_m.shape[0]
        self.icbs = [ICB(model, code, i, n_reps) for i, code in enumerate(icb_codes)]
        self.nhs_england = NHSEngland(model, inputs, self.icbs)
        self.icb_series = icb_series
        self.n_series = n_series

    def april(self, year_index: int) -> None:
        self.nhs_england.allocate(year_index)

    def census(self) -> dict[str, np.ndarray]:
        """``[rep, series]``: the financial year's allocation and distance from target, summed to areas."""
        alloc = np.stack([icb.allocation_gbp_m for icb in self.icbs], axis=1)
        target = np.stack([icb.target_gbp_m for icb in self.icbs], axis=1)
        n_reps = alloc.shape[0]
        a = np.zeros((n_reps, self.n_series))
        t = np.zeros((n_reps, self.n_series))
        covered = np.zeros(self.n_series, dtype=bool)
        for col in range(self.icb_series.shape[1]):
            idx = self.icb_series[:, col]
            for i in range(len(self.icbs)):  # ordered sums: results never depend on the batch
                a[:, idx[i]] += alloc[:, i]
                t[:, idx[i]] += target[:, i]
            covered[idx] = True
        nan = np.where(covered, 0.0, np.nan)[None, :]
        return {"icb_allocation_gbp_m": a + nan, "icb_distance_from_target_pct": distance_from_target_pct(a, t) + nan}
