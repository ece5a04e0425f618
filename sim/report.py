"""What a run reports to people: the commitments it is judged against and a console table."""

from __future__ import annotations

import math

import pandas as pd
from rich.table import Table

from sim import reference
from sim.drivers import SIGNIFICANCE, at_last_deadline, draw_range, driver_label
from sim.metrics import MetricCube
from sim.results import Target

# Trust targets that are "the greater of the threshold or an improvement" (targets.csv
# `note`: each trust: greater of 65% or a 7 percentage point improvement in 2026/27,
# Medium Term Planning Framework). Key: (metric, deadline) -> (points, from month).
TRUST_IMPROVEMENT = {("rtt_within_18w_pct", "2027-03"): (7.0, "2026-03")}


def commitments(cube: MetricCube, extra: list[Target] | None = None) -> list[Target]:
    """Published targets (sim/data/targets.csv) that this run can evaluate, plus any extra ones.

    National targets apply to England (``ENG``); trust-level ones to every trust,
    with the improvement rule of :data:`TRUST_IMPROVEMENT` where the run covers
    its baseline month. A target whose metric the run does not model, or whose
    deadline lies outside the run, is left out.
    """
    dates = {d[:7] for d in cube.dates}
    out = []
    for row in reference.targets().itertuples():
        if row.metric not in cube.metrics or row.deadline not in dates or row.deadline == cube.dates[0][:7]:
            continue
        level = "trust" if row.scope == "trust" else "national"
        pp, since = TRUST_IMPROVEMENT.get((row.metric, row.deadline), (None, None)) if level == "trust" else (None, None)
        if since is not None and since not in dates:
            pp, since = None, None
        out.append(Target(row.metric, row.deadline, float(row.threshold), row.direction, level,
                          "*" if level == "trust" else "ENG", source=row.source, improvement_pp=pp,
                          improvement_from=since))
    return out + list(extra or [])


LABELS = {
    "rtt_within_18w_pct": "RTT within 18 weeks",
    "rtt_over_52w_pct": "RTT over 52 weeks (% of list)",
    "rtt_over_52w": "RTT over 52 weeks",
    "rtt_over_65w": "RTT over 65 weeks",
    "rtt_over_78w": "RTT over 78 weeks",
    "diag_over_6w_pct": "Diagnostics over 6 weeks",
    "cancer_fds_pct": "Cancer Faster Diagnosis",
    "cancer_62d_pct": "Cancer 62-day",
    "cancer_31d_pct": "Cancer 31-day",
    "trusts_in_balance_pct": "Trusts in financial balance",
    "systems_in_balance_pct": "Systems in financial balance",
}


def _label(metric: str, direction: str, threshold: float) -> str:
    sign = ">=" if direction == ">=" else "<="
    return f"{LABELS.get(metric, metric)} {sign} {format_metric(metric, threshold)}"


def format_metric(metric: str, value: float) -> str:
    """A metric value as the console shows it: a percentage to one decimal, a count with thousands separators."""
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
        label = _label(row.metric, row.direction, row.threshold)
        prob = "-" if math.isnan(row.probability_met) else f"{100 * row.probability_met:.0f}%"
        table.add_row(label, row.deadline, format_metric(row.metric, row.point), format_metric(row.metric, row.p50),
                      f"{format_metric(row.metric, row.p10)} - {format_metric(row.metric, row.p90)}", prob)
    trusts = targets[targets["level"] == "trust"]
    for (metric, deadline, direction), grp in trusts.groupby(["metric", "deadline", "direction"], sort=True):
        floor = grp["threshold"].min() if direction == ">=" else grp["threshold"].max()
        rule = TRUST_IMPROVEMENT.get((metric, deadline))
        extra = f" or +{rule[0]:g} points" if rule else ""
        table.add_row(f"{_label(metric, direction, floor)}{extra} (each trust)", deadline, "-", "-", "-",
                      f"{100 * grp['probability_met'].mean():.0f}% of trusts (avg)")
    return table


def drivers_table(drivers: pd.DataFrame, title: str) -> Table | None:
    """A console table: for each metric with a national commitment, at its last deadline, the input that moves
    it most (drivers.csv rank 1) and the median among replications drawing its lowest and highest fifth; None
    when the run had too few replications to rank."""
    if drivers.empty:
        return None
    table = Table(title=title, title_justify="left")
    table.add_column("Commitment")
    table.add_column("Deadline")
    table.add_column("Input that moves it most", overflow="fold")  # a scenario key must stay whole
    table.add_column("Lowest fifth", justify="right")
    table.add_column("Highest fifth", justify="right")
    latest = at_last_deadline(drivers)
    for row in latest[latest["rank"] == 1].itertuples():
        if row.p_adjusted >= SIGNIFICANCE:
            table.add_row(LABELS.get(row.metric, row.metric), row.deadline,
                          "none beyond chance (more replications may show one)", "-", "-")
            continue
        table.add_row(LABELS.get(row.metric, row.metric), row.deadline,
                      f"{driver_label(row.driver)} {draw_range(row.low_draw, row.high_draw)}",
                      format_metric(row.metric, row.low_median), format_metric(row.metric, row.high_median))
    return table
