"""Building blocks of the scenario schema: months, ranged parameters, the strict base model.

Shared by every schema module (:mod:`sim.config`, :mod:`sim.config_services`,
:mod:`sim.config_reforms`) so that each rule is written once.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, ValidationInfo, field_validator

from sim.calendar import add_months
from sim.distributions import Param, support

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
FIRST_MONTH = "2007-04"  # first month of the shipped RTT series
LAST_MONTH = "2040-03"


def _check_month(value: str) -> str:
    m = _MONTH.match(value)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise ValueError(f"{value!r} is not a month; write YYYY-MM, e.g. 2026-04")
    if not FIRST_MONTH <= value <= LAST_MONTH:
        raise ValueError(f"month {value} is outside the supported range {FIRST_MONTH} to {LAST_MONTH}")
    return value


Month = Annotated[str, AfterValidator(_check_month)]


def _number(x: float) -> str:
    """A bound as people write it: 1,000,000 rather than 1e+06."""
    return f"{int(x):,}" if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def _in_range(low: float, high: float, unit: str):
    """A validator refusing a value, or a distribution's support, outside [low, high]."""

    def check(p: Param) -> Param:
        lo, hi = support(p)
        if lo < low or hi > high:
            what = f"value {_number(lo)}" if lo == hi else f"distribution support [{_number(lo)}, {_number(hi)}]"
            raise ValueError(f"{what} is outside the allowed range {_number(low)} to {_number(high)} ({unit})")
        return p

    return AfterValidator(check)


def _not_before_start(end: str, info: ValidationInfo) -> str:
    """Cross-field check on ``end`` (a field validator, so the error names the ``end`` key and its line)."""
    start = info.data.get("start")
    if start is not None and end < add_months(start, -1):
        raise ValueError(f"end {end} is before start {start}; the shortest run ends the month before its start "
                         f"({add_months(start, -1)}): it simulates nothing and reports the start census")
    return end


def Ranged(low: float, high: float, unit: str):  # noqa: N802 - reads as a type
    return Annotated[Param, _in_range(low, high, unit)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class RunHeader(_Model):
    """What every runnable file starts with: its name, months, replications and seed."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", description="Short name; used in output paths.")
    description: str = ""
    start: Month = Field("2025-04", description="First simulated month; the state is the published position of the month before.")
    end: Month = Field("2035-03", description="Last simulated month (inclusive); the month before start simulates nothing (the start census only).")
    replications: StrictInt = Field(100, ge=0, le=100_000, description="Monte Carlo replications (plus replication 0, the point estimate).")
    seed: StrictInt = Field(20250401, ge=0, le=2**63 - 1, description="Root seed of the run's random streams.")

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: str, info: ValidationInfo) -> str:
        return _not_before_start(end, info)
