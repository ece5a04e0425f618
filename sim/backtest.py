"""Score a forecast against what was later published, and against persistence.

Persistence holds the cutoff month's published value flat: the forecast to
beat. Errors are the mean absolute error of the median over the forecast
months, in percent of the observed value for counts and in points (or weeks)
for percentages and waits. Coverage is the share of observed months inside
the 10-90% and 5-95% bands.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BACKTEST_METRICS = ("rtt_waiting_list", "rtt_within_18w_pct", "rtt_median_weeks", "rtt_p92_weeks", "rtt_over_52w")
#: Scored when the cutoff's provider data can start the services (DM01 from August 2024, CWT from April 2024).
SERVICE_METRICS = ("diag_waiting_list", "diag_over_6w_pct", "cancer_fds_pct", "cancer_62d_pct", "cancer_31d_pct")


def _unit(metric: str) -> str:
    if metric.endswith("_pct"):
        return "points"
    if metric.endswith("_weeks"):
        return "weeks"
    return "% of observed"


def _error(forecast: np.ndarray, observed: np.ndarray, unit: str) -> float:
    if unit == "% of observed":
        return float(np.mean(np.abs(forecast - observed) / observed) * 100.0)
    return float(np.mean(np.abs(forecast - observed)))


def score(summary: pd.DataFrame, observed: dict[str, pd.Series], cutoff: str,
          metrics: tuple[str, ...] = BACKTEST_METRICS, area: tuple[str, str] | None = None) -> pd.DataFrame:
    """One row per metric: model and persistence errors, and band coverage.

    Args:
        summary: summary.csv rows of the forecast run (national level is used, or ``area``).
        observed: published series per metric name, indexed by month end
            (:func:`sim.pipeline.observed_history`).
        cutoff: last month the forecast knew (persistence holds its value); a
            metric without a published value at the cutoff, or in the run, is
            not scored.
        area: ``(level, area_code)`` to score instead of England, e.g. ``("trust", "RR8")``.
    """
    if area is None:
        national = summary[(summary["level"] == "national") & (summary["breakdown"] == "all")]
    else:
        national = summary[(summary["level"] == area[0]) & (summary["area_code"] == area[1])
                           & (summary["breakdown"] == "all")]
    rows = []
    for metric in metrics:
        if metric not in observed:
            continue
        series = observed[metric].dropna()
        series.index = series.index.strftime("%Y-%m")
        f = national[national["metric"] == metric].copy()
        f["month"] = f["date"].str[:7]
        f = f[(f["month"] > cutoff) & f["month"].isin(series.index)].set_index("month")
        if len(f) == 0 or cutoff not in series.index:
            continue
        obs = series.loc[f.index].to_numpy(dtype=float)
        unit = _unit(metric)
        persistence = np.full(len(obs), float(series.loc[cutoff]))
        model_err = _error(f["p50"].to_numpy(), obs, unit)
        pers_err = _error(persistence, obs, unit)
        rows.append({
            "metric": metric, "months": len(obs), "unit": unit, "model_error": model_err,
            "persistence_error": pers_err, "beats_persistence": model_err < pers_err,
            "coverage_10_90": float(np.mean((obs >= f["p10"]) & (obs <= f["p90"]))),
            "coverage_5_95": float(np.mean((obs >= f["p5"]) & (obs <= f["p95"]))),
        })
    return pd.DataFrame(rows)


#: Trust-level metrics a trust totals file can score (its columns give the list and % within 18 weeks).
TRUST_METRICS = ("rtt_waiting_list", "rtt_within_18w_pct")


def score_trusts(summary: pd.DataFrame, totals: pd.DataFrame, cutoff: str) -> pd.DataFrame:
    """:func:`score` for each trust in both the run and ``totals`` (org_code, month, incomplete_pathways,
    within_18w), with an ``org_code`` column; trusts without the cutoff month are not scored.

    A run shares England's list (independent providers included) over the trusts in proportion to their
    published lists, so a trust starts above its own published list by England over the trusts' sum. Its list
    is therefore scored as a change from the cutoff: the published series is scaled by the run's start over
    the published cutoff value (errors and coverage are then relative to the trust's own path; persistence
    is unaffected). % within 18 weeks is scored as published (the start matches it).
    """
    trusts = set(summary.loc[summary["level"] == "trust", "area_code"])
    starts = summary[(summary["level"] == "trust") & (summary["breakdown"] == "all")
                     & (summary["metric"] == "rtt_waiting_list") & (summary["date"].str[:7] == cutoff)]
    start_of = starts.set_index("area_code")["p50"]
    tables = []
    for code, rows in totals[totals["org_code"].isin(trusts)].groupby("org_code"):
        rows = rows.sort_values("month")
        index = pd.PeriodIndex(rows["month"], freq="M").to_timestamp(how="end").normalize()
        size = rows["incomplete_pathways"].to_numpy(dtype=float)
        at_cutoff = size[(rows["month"] == cutoff).to_numpy()]
        scale = float(start_of[code] / at_cutoff[0]) if code in start_of and len(at_cutoff) and at_cutoff[0] > 0 \
            else 1.0
        observed = {"rtt_waiting_list": pd.Series(size * scale, index=index),
                    "rtt_within_18w_pct": pd.Series(100.0 * rows["within_18w"].to_numpy(dtype=float)
                                                    / np.where(size > 0, size, np.nan), index=index)}
        table = score(summary, observed, cutoff, TRUST_METRICS, area=("trust", code))
        if not table.empty:
            tables.append(table.assign(org_code=code))
    if not tables:
        return pd.DataFrame(columns=["org_code", "metric"])
    out = pd.concat(tables, ignore_index=True)
    return out[["org_code", *[c for c in out.columns if c != "org_code"]]]


def pooled_trust_scores(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per metric over the trusts scored: how many, the median model and persistence errors, the share of trusts
    where the model beats persistence, and the 10-90% coverage pooled over trusts and months."""
    out = {}
    for metric, rows in table.groupby("metric"):
        months = rows["months"].to_numpy(dtype=float)
        out[metric] = {"trusts": int(len(rows)), "median_model_error": float(rows["model_error"].median()),
                       "median_persistence_error": float(rows["persistence_error"].median()),
                       "beats_persistence_share": float(rows["beats_persistence"].mean()),
                       "coverage_10_90": float((rows["coverage_10_90"] * months).sum() / months.sum()),
                       "unit": str(rows["unit"].iloc[0])}
    return out


def markdown(table: pd.DataFrame) -> str:
    """The score table as markdown, for docs/VALIDATION.md."""
    lines = ["| metric | months | model error | persistence error | unit | 10-90% coverage | 5-95% coverage |",
             "|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        lines.append(f"| `{r.metric}` | {r.months} | {r.model_error:.2f} | {r.persistence_error:.2f} | {r.unit} | "
                     f"{100 * r.coverage_10_90:.0f}% | {100 * r.coverage_5_95:.0f}% |")
    return "\n".join(lines)
