"""What the flow engine needs each month, for every replication of a batch.

Rates are national totals per working day (or shares of the list per month);
the model spreads them over rows and over the sub-steps of each month by
working days. Scenario modules build these arrays; the engine only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AbundantPriority:
    """A second priority profile, for lists that are short for their capacity, and where it applies.

    Each month the model weighs ``MonthlyInputs.hazard`` (weight ``theta``) against ``hazard``
    (``1 - theta``), with ``theta`` from the national list at the month's start in weeks of
    ``stops_per_week``: 0 at or below ``weeks_abundant``, 1 at or above ``weeks_shortage``.

    Attributes:
        hazard: ``[R, month, stage, bin]`` the abundant profile.
        stops_per_week: ``[R, M]`` national clock-stop capacity per week, deseasonalised.
        weeks_abundant: list in weeks of clock stops at or below which only ``hazard`` applies.
        weeks_shortage: at or above which only ``MonthlyInputs.hazard`` applies.
    """

    hazard: np.ndarray
    stops_per_week: np.ndarray
    weeks_abundant: float
    weeks_shortage: float

    def weight(self, month: int, waiting_list: np.ndarray) -> np.ndarray:
        """``[R]`` weight of the shortage profile in ``month`` for each replication's national list."""
        weeks = waiting_list / self.stops_per_week[:, month]
        return np.clip((weeks - self.weeks_abundant) / (self.weeks_shortage - self.weeks_abundant), 0.0, 1.0)


@dataclass(frozen=True)
class MonthlyInputs:
    """Monthly flow rates for ``R`` replications over ``M`` simulated months.

    Attributes:
        months: the simulated months, ``YYYY-MM``, consecutive.
        clock_starts_per_wd: ``[R, M]`` national clock starts per working day.
        nonadmitted_activity_per_wd: ``[R, M]`` non-admitted removals available per
            working day (clock stops plus decisions to admit).
        admitted_activity_per_wd: ``[R, M]`` admitted clock stops available per working day.
        dta_share: ``[R, M]`` share of non-admitted activity that ends in a decision to admit.
        other_removals_share: ``[R, M]`` other removals as a share of the list over the month.
        validation_share: ``[R, M]`` extra share of pathways at or beyond
            ``validation_min_bin`` removed by validation over the month.
        validation_min_bin: first engine bin validation reaches.
        row_demand_share: ``[row]`` each row's share of national clock starts (sums to 1).
        row_capacity_share: ``[R, row]`` each row's share of national activity (sums to 1 per replication).
        hazard: ``[R, month, stage, bin]`` priority profile of activity by bin.
        other_profile: ``[bin]`` relative rate of other removals by bin.
        national_scale: multiplies every national rate (a world that is a part of
            England, e.g. one ICB's trusts, gets its share of the national flows).
        redeployed_share: ``[R]`` share of a row's spare activity lent to its pool (none: no redeployment).
        row_pool: ``[row]`` each row's redeployment pool (none: no redeployment).
        abundant: the profile of short lists the model moves to as the list shortens (none: ``hazard`` always).
    """

    months: tuple[str, ...]
    clock_starts_per_wd: np.ndarray
    nonadmitted_activity_per_wd: np.ndarray
    admitted_activity_per_wd: np.ndarray
    dta_share: np.ndarray
    other_removals_share: np.ndarray
    validation_share: np.ndarray
    validation_min_bin: int
    row_demand_share: np.ndarray
    row_capacity_share: np.ndarray
    hazard: np.ndarray
    other_profile: np.ndarray
    national_scale: float = 1.0
    redeployed_share: np.ndarray | None = None
    row_pool: np.ndarray | None = None
    abundant: AbundantPriority | None = None

    def __post_init__(self) -> None:
        shape = (self.row_capacity_share.shape[0], len(self.months))
        for name in ("clock_starts_per_wd", "nonadmitted_activity_per_wd", "admitted_activity_per_wd",
                     "dta_share", "other_removals_share", "validation_share"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")
        for name in ("clock_starts_per_wd", "nonadmitted_activity_per_wd", "admitted_activity_per_wd"):
            if (getattr(self, name) < 0).any():
                raise ValueError(f"{name} has negative values")
        if self.hazard.ndim != 4 or self.hazard.shape[:2] != shape:
            raise ValueError(f"hazard has shape {self.hazard.shape}, expected [replication, month, stage, bin]")
        if self.abundant is not None and (self.abundant.hazard.shape != self.hazard.shape
                                          or self.abundant.stops_per_week.shape != shape):
            raise ValueError("abundant.hazard and abundant.stops_per_week must match hazard and the months")
        if not np.isclose(self.row_demand_share.sum(), 1.0):
            raise ValueError("row_demand_share must sum to 1")
        if (self.redeployed_share is None) != (self.row_pool is None):
            raise ValueError("redeployed_share and row_pool go together")

    @property
    def n_replications(self) -> int:
        return self.row_capacity_share.shape[0]

    @property
    def redeploys(self) -> bool:
        return self.redeployed_share is not None and bool((self.redeployed_share > 0).any())
