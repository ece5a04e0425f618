"""Long-wait drive: which long-wait threshold trusts chase each month.

NHS England set dated long-wait targets (no one over 78 weeks by April 2023,
65 weeks by September 2024, 52 weeks next, then under 1% over 52 weeks by
March 2026). Trusts book pathways approaching a threshold in force ahead of
others, and a target once reached stays in force while the next is chased;
the calibration fits how hard (priority) and how early (lead weeks).
"""

from __future__ import annotations

from sim.config import LongWaitDrive


def thresholds(drive: LongWaitDrive | None, months: tuple[str, ...]) -> list[tuple[float, ...]]:
    """The thresholds in force each month: every step started so far (a null step ends the drive)."""
    out: list[tuple[float, ...]] = []
    for m in months:
        current: list[float] = []
        for step in (drive.schedule if drive is not None else []):
            if step.start <= m:
                current = [] if step.weeks is None else current + [step.weeks]
        out.append(tuple(current))
    return out
