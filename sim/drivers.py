"""What drives the spread of each commitment: the uncertain inputs ranked by how strongly they move it.

Each replication draws every uncertain parameter once and its shock paths
month by month (``sim.scenarios.parameters.recording`` logs both). Across
replications 1..N, a commitment's value at its deadline is set against each
draw:

- ``rank_correlation``: Spearman's rho between the draw and the outcome
  (robust to the outcome's units and to the draw's distribution);
- ``low_median`` / ``high_median``: the outcome's median over the fifth of
  replications that drew the lowest / highest values, and ``swing`` their
  difference (in the commitment's units: what a board reads off a tornado);
  ``low_draw`` / ``high_draw``: the input's own median in those two fifths
  (what "low" and "high" mean for it, in its units);
- ``p_value``: how often noise alone gives a rho this large (a rank test),
  and ``p_adjusted``, the same after Holm's correction for testing every
  driver of the commitment (with dozens of drivers, one in twenty passes 5%
  by chance on ``p_value``; ``p_adjusted`` below 5% keeps the chance that any
  of a commitment's drivers is shown wrongly as real below 5%);
- ``explained_pct``: the share of the outcome's rank variance that all the
  drivers together explain in a linear regression on ranks (adjusted R^2). The
  rest is the draws not logged (trusts' persistent capacity spread, month-to-month
  shocks of other months) and interactions.

Shock paths enter as their level in the deadline month (``shocks.<process>.<deadline>``),
which is what a month-end standard feels. Associations are not causes: two
drivers drawn independently are estimated independently, but an outcome can
depend on a draw only through another (a capacity gap added to demand growth).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import stats

from sim.results import Cube, Target, resolve_target

DRIVER_COLUMNS = ("metric", "deadline", "level", "area_code", "rank", "driver", "rank_correlation", "p_value",
                  "p_adjusted", "low_draw", "high_draw", "low_median", "high_median", "swing", "explained_pct",
                  "replications")
MIN_REPLICATIONS = 10  # fewer and a fifth of them is one or two replications
SIGNIFICANCE = 0.05  # a driver whose p_adjusted is at least this is shown as within chance
SHOCK_PREFIX = "shocks."


def parameters_table(cube: Cube) -> pd.DataFrame:
    """parameters.csv: one row per replication (0 = the point estimate), one column per draw, names sorted."""
    reps = np.asarray(cube.replications, dtype=np.int64)
    order = np.argsort(reps, kind="stable")
    frame = pd.DataFrame({"replication": reps[order]})
    for name, v in cube.draws.items():
        frame[name] = np.asarray(v, dtype=np.float64)[order]
    return frame


def candidate_drivers(draws: Mapping[str, np.ndarray], deadline: str) -> list[str]:
    """Draws that can drive a commitment due in ``deadline`` (YYYY-MM): every parameter, and each shock path
    at that month."""
    return [name for name in draws
            if not name.startswith(SHOCK_PREFIX) or name.endswith(f".{deadline}")]


def driver_rows(outcome: np.ndarray, draws: Mapping[str, np.ndarray]) -> list[dict[str, float | str]]:
    """One row per driver that varies, strongest rank correlation first (ties by name).

    Args:
        outcome: float64 ``[replication]`` the commitment's value in replications 1..N.
        draws: ``{name: float64 [replication]}`` aligned with ``outcome``.
    """
    rows = []
    ranked: list[np.ndarray] = []
    for name, x in draws.items():
        ok = np.isfinite(x) & np.isfinite(outcome)
        n = int(ok.sum())
        if n < MIN_REPLICATIONS or np.ptp(x[ok]) == 0 or np.ptp(outcome[ok]) == 0:
            continue
        rho, p = stats.spearmanr(x[ok], outcome[ok])
        order = np.argsort(x[ok], kind="stable")
        by_draw, draws_sorted = outcome[ok][order], x[ok][order]
        k = max(1, n // 5)
        low, high = float(np.median(by_draw[:k])), float(np.median(by_draw[-k:]))
        rows.append({"driver": name, "rank_correlation": float(rho), "p_value": float(p),
                     "low_draw": float(np.median(draws_sorted[:k])),
                     "high_draw": float(np.median(draws_sorted[-k:])),
                     "low_median": low, "high_median": high, "swing": high - low, "replications": n})
        ranked.append(x)
    rows.sort(key=lambda row: (-abs(float(row["rank_correlation"])), str(row["driver"])))
    explained = explained_share(outcome, ranked)
    adjusted = holm([float(row["p_value"]) for row in rows])
    for rank, (row, p_adj) in enumerate(zip(rows, adjusted), start=1):
        row.update(rank=rank, p_adjusted=p_adj, explained_pct=explained)
    return rows


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (same order as given)."""
    order = np.argsort(p_values, kind="stable")
    m = len(p_values)
    out = np.empty(m)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p_values[i]))
        out[i] = running
    return out.tolist()


def explained_share(outcome: np.ndarray, drivers: list[np.ndarray]) -> float:
    """Adjusted R^2 (in %) of the outcome's ranks regressed on the drivers' ranks, over the replications where
    all are finite; NaN when there are too few replications for the drivers."""
    if not drivers:
        return float("nan")
    x = np.column_stack(drivers)
    ok = np.isfinite(outcome) & np.all(np.isfinite(x), axis=1)
    n, p = int(ok.sum()), x.shape[1]
    if n < max(MIN_REPLICATIONS, p + 3):
        return float("nan")
    y = stats.rankdata(outcome[ok])
    design = np.column_stack([np.ones(n), stats.rankdata(x[ok], axis=0)])
    fitted = design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r2 = 1.0 - float(np.sum((y - fitted) ** 2)) / float(np.sum((y - y.mean()) ** 2))
    return 100.0 * max(0.0, 1.0 - (1.0 - r2) * (n - 1) / (n - p - 1))


def driver_table(cube: Cube, targets: Iterable[Target]) -> pd.DataFrame:
    """drivers.csv: for each national commitment the run can evaluate, every draw that varies, ranked.

    Returns:
        DataFrame with columns ``DRIVER_COLUMNS`` (no rows when the run has fewer than
        ``MIN_REPLICATIONS`` replications or drew nothing).
    """
    reps = np.asarray(cube.replications, dtype=np.int64)
    mc = np.flatnonzero(reps >= 1)
    mc = mc[np.argsort(reps[mc], kind="stable")]
    rows: list[dict] = []
    for target in targets:
        if target.level != "national":
            continue
        resolved = resolve_target(cube, target)
        if isinstance(resolved, str):
            continue
        series_idx, date_idx = resolved
        outcome = cube.take(series_idx[:1], cube.metric_index(target.metric))[mc, 0, date_idx]
        names = candidate_drivers(cube.draws, target.deadline)
        draws = {name: np.asarray(cube.draws[name], dtype=np.float64)[mc] for name in names}
        for row in driver_rows(outcome, draws):
            rows.append({"metric": target.metric, "deadline": target.deadline, "level": target.level,
                         "area_code": cube.series[series_idx[0]].area_code, **row})
    frame = pd.DataFrame(rows, columns=list(DRIVER_COLUMNS))
    return frame.astype({"rank": "int64", "replications": "int64"})


def at_last_deadline(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows (of drivers.csv, sweep.csv: any with ``metric`` and ``deadline``) of each metric's last deadline in
    the run: what the charts and the console tables show."""
    return rows[rows["deadline"] == rows.groupby("metric", sort=False)["deadline"].transform("max")]


# Display names of the shock processes that sim.scenarios log (record_shocks).
SHOCK_NAMES = {
    "rtt_clock_starts": "RTT clock starts (demand)", "rtt_activity": "RTT activity",
    "rtt_case_mix": "RTT case mix (urgent weight)", "rtt_long_wait_drive": "RTT long-wait drive",
    "diagnostic_requests": "Diagnostic requests", "cancer_diagnosis": "Cancer diagnosis access",
    "cancer_treatment_pace": "Cancer treatment pace",
}


def driver_label(name: str) -> str:
    """A driver's label: the scenario key for a parameter; for a shock, its process and month."""
    if not name.startswith(SHOCK_PREFIX):
        return name
    _, process, month = name.split(".", 2)
    when = pd.Timestamp(month + "-01").strftime("%b %Y")
    return f"{SHOCK_NAMES.get(process, process)} shock, {when} (% off path)"


def draw_range(low: float, high: float) -> str:
    """The input's median in its lowest and highest fifth, as a chart or table shows it: ``(-0.41 to 0.42)``."""
    return f"({low:.3g} to {high:.3g})"
