"""Plan a run's funding flows once (checked against the data) and build each batch's allocation inputs."""

from __future__ import annotations

import numpy as np

from sim.agents.funding import FinanceInputs
from sim.config import Scenario, scenario_error
from sim.metrics import Geography
from sim.scenarios import finance
from sim.scenarios.finance import FIRST_YEAR, AllocationBase, financial_year
from sim.yamlio import LoadedDocument


def plan_finance(scenario: Scenario, doc: LoadedDocument, geography: Geography) -> AllocationBase | None:
    """The 2025/26 allocation position, or None when finance is off.

    Raises:
        InputError: a start before 2025/26 (no published allocation position to start from), or
            allocation data that cannot give every ICB a position.
    """
    cfg = scenario.finance
    if not cfg.enabled:
        return None
    if financial_year(scenario.start) < FIRST_YEAR:
        raise scenario_error(doc, ("start",), scenario.start,
                             f"is before {FIRST_YEAR}, the first year with a published allocation position "
                             "(April 2025 allocation letter)", "a start from 2025-04, or finance: {enabled: false}")
    try:
        return finance.allocation_base(geography.icb_codes, cfg.include_specialised, cfg.first_year_growth_pct,
                                       cfg.specialised_gbp_m)
    except ValueError as err:
        raise scenario_error(doc, ("finance", "include_specialised"), cfg.include_specialised, str(err)) from None


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


def batch_finance(base: AllocationBase | None, scenario: Scenario, months: tuple[str, ...],
                  replications: np.ndarray) -> FinanceInputs | None:
    """A batch's allocation inputs (None when finance is off)."""
    if base is None:
        return None
    return finance.batch_inputs(scenario, base, finance_years(months), replications)
