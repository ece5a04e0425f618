"""The schema of a `sim des` file: one or a few trusts' diagnostic tests, simulated patient by patient.

Validated once, here, with the scenario file's machinery (:mod:`sim.yamlio`
locations, :func:`sim.errors.from_validation_error`): an unknown key or test,
a share outside 0-1 or an impossible month stops the run with the file, line,
key path, what is allowed and a did-you-mean, before anything is simulated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import Field, StrictBool, field_validator

from sim.config import Month, Ranged, RunHeader, _Model, load_run_file
from sim.config_services import DiagTest
from sim.yamlio import LoadedDocument

_RATE_MAX = 100_000.0


class ArrivalsPerWorkingDay(_Model):
    """Mean requests for the test per working day, by who asked (a Poisson number each working day)."""

    urgent: float = Field(ge=0, le=_RATE_MAX, description="Urgent suspected cancer requests per working day.")
    rtt: float = Field(ge=0, le=_RATE_MAX, description="Requests from RTT pathways that need the test, per working day.")
    other: float = Field(ge=0, le=_RATE_MAX, description="Other requests (direct access and the rest), per working day.")


class DesTestConfig(_Model):
    """One diagnostic test at one trust: demand, sessions and the list at the start."""

    arrivals_per_working_day: ArrivalsPerWorkingDay
    sessions_per_working_day: float = Field(
        ge=0, le=10_000, description="Sessions (scanner or endoscopy lists) per working day, all trusts' machines "
        "together; a fraction spreads whole sessions over days (2.5: 2, 3, 2, 3, ...).")
    tests_per_session: int = Field(ge=1, le=1_000, description="Appointment slots per session (4-hour session).")
    start_waiting_by_week: list[Annotated[int, Field(ge=0, le=10_000_000)]] = Field(
        default_factory=list, max_length=105,
        description="Patients waiting at the start census by completed weeks waited: element k counts waits of "
        "k to k+1 weeks (DM01 bands w00..w12, then 13 or more).")


class DesTrustConfig(_Model):
    """A trust and the tests simulated there."""

    code: str = Field(pattern=r"^[A-Z0-9]{3,5}$", description="ODS code of the trust, e.g. RR8.")
    tests: dict[DiagTest, DesTestConfig] = Field(min_length=1, description="Tests by DM01 key.")


class RTTTConfig(_Model):
    """Right Test Right Time: requests vetted out before they are made."""

    removal_share: Ranged(0, 1, "share of non-urgent requests") = Field(
        description="Share (0-1) of requests removed from the start month on; a number, or a distribution drawn "
        "once per replication (replication 0 takes its central value).")
    start: Month = Field(description="First month vetting applies (YYYY-MM).")
    exempt_urgent: StrictBool = Field(True, description="Urgent suspected cancer requests are never vetted out.")


class DesScenario(RunHeader):
    """A patient-level run of a few trusts' diagnostic waiting lists."""

    end: Month = Field("2026-03", description="Last simulated month (inclusive).")
    replications: int = Field(20, ge=0, le=100_000, description="Monte Carlo replications (plus replication 0).")
    trusts: list[DesTrustConfig] = Field(min_length=1, max_length=50, description="Trusts simulated.")
    rttt: Optional[RTTTConfig] = Field(None, description="Right Test Right Time vetting; absent means none.")

    @field_validator("trusts")
    @classmethod
    def _unique_codes(cls, trusts: list[DesTrustConfig]) -> list[DesTrustConfig]:
        seen: set[str] = set()
        for t in trusts:
            if t.code in seen:
                raise ValueError(f"trust {t.code} appears more than once; list each trust once with all its tests")
            seen.add(t.code)
        return trusts


def load_des_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[DesScenario, LoadedDocument]:
    """Read (with ``extends:``) and validate a DES file.

    Args:
        path: the YAML file.
        overrides: top-level values from the command line (``replications``, ``seed``),
            validated like the file's.

    Raises:
        InputError: anything wrong with the file or the overrides (exit code 2).
    """
    return load_run_file(path, DesScenario, overrides)
