"""What a run reports to people: the commitments it is judged against and a console table."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from sim import reference
from sim.metrics import MetricCube
from sim.results import Target

# The commitments table in the console: RTT headline metrics first.
HEADLINE_METRICS = ("rtt_within_18w_pct", "rtt_over_52w_pct", "rtt_over_52w", "rtt_over_65w", "rtt_over_78w",
                    "diag_over_6w_pct", "cancer_fds_pct", "cancer_62d_pct", "cancer_31d_pct")


def commitments(cube: MetricCube, extra: list[Target] | None = None) -> list[Target]:
    """Published targets (sim/data/targets.csv) that this run can evaluate, plus any extra ones.

    National targets apply to England (``ENG``); trust-level ones to every trust.
    A target whose metric the run does not model, or whose deadline lies outside
    the run, is left out.
    """
    dates = {d[:7] for d in cube.dates[1:]}
    out = []
    for row in reference.targets().itertuples():
        if row.metric not in cube.metrics or row.deadline not in dates:
            continue
        level = "trust" if row.scope == "trust" else "national"
        out.append(Target(row.metric, row.deadline, float(row.threshold), row.direction, level,
                          "*" if level == "trust" else "ENG", source=row.source))
    return out + list(extra or [])


def _fmt(metric: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric.endswith("_pct"):
        return f"{value:.1f}%"
    return f"{value:,.0f}"


def commitments_table(targets: pd.DataFrame, title: str) -> Table:
    """A console table: national commitments with the median, 10-90% band and probability met."""
    table = Table(title=title, title_justify="left")
    for col in ("Commitment", "Deadline", "Point", "Median", "10-90% band", "P(met)"):
        table.add_column(col, justify="left" if col in ("Commitment", "Deadline") else "right")
    national = targets[targets["level"] == "national"]
    for row in national.itertuples():
        label = f"{row.metric} {row.direction} {_fmt(row.metric, row.threshold)}"
        prob = "-" if math.isnan(row.probability_met) else f"{100 * row.probability_met:.0f}%"
        table.add_row(label, row.deadline, _fmt(row.metric, row.point), _fmt(row.metric, row.p50),
                      f"{_fmt(row.metric, row.p10)} - {_fmt(row.metric, row.p90)}", prob)
    trusts = targets[targets["level"] == "trust"]
    for (metric, deadline, direction, threshold), grp in trusts.groupby(
            ["metric", "deadline", "direction", "threshold"], sort=True):
        share = grp["probability_met"].mean()
        table.add_row(f"{metric} {direction} {_fmt(metric, threshold)} (each trust)", deadline, "-", "-", "-",
                      f"{100 * share:.0f}% of trusts (avg)")
    return table
