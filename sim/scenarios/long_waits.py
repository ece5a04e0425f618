"""Long-wait drive: which long-wait threshold trusts chase each month.

NHS England set dated long-wait targets (no one over 78 weeks by April 2023,
65 weeks by September 2024, 52 weeks next, then under 1% over 52 weeks by
March 2026). Trusts book pathways approaching the threshold in force ahead of
others; the calibration fits how hard (priority) and how early (lead weeks).
"""

from __future__ import annotations

from sim.config import LongWaitDrive


def thresholds(drive: LongWaitDrive | None, months: tuple[str, ...]) -> list[float | None]:
    """The threshold in force in each month (None before the first step or without a drive)."""
    out: list[float | None] = []
    for m in months:
        current = None
        if drive is not None:
            for step in drive.schedule:
                if step.start <= m:
                    current = step.weeks
        out.append(current)
    return out
