"""Baseline flows: clock starts, activity and other removals, month by month.

A pure transform from (calibration, scenario, per-replication parameters) to
the engine's :class:`~sim.engine.inputs.MonthlyInputs`. Mechanisms, not a
curve: each flow is a level per working day, times the calendar month's
seasonal factor, grown at its trend rate, times an autocorrelated shock; the
working days of each month come from the England bank-holiday calendar when
the model spreads the flows over its sub-steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.calendar import months_between, parse_month
from sim.config import CalibrationParams, FittedTrend, PriorityProfile
from sim.engine.flow import ADMITTED, NONADMITTED

N_ENGINE_BINS = 106  # bin b holds waits of b-1 to b weeks; the last bin is over 104 weeks


def bin_weeks(n_bins: int = N_ENGINE_BINS) -> np.ndarray:
    """Mid-point wait (weeks) of each engine bin."""
    w = np.arange(n_bins, dtype=np.float64) - 0.5
    w[0] = 0.0
    return w


def priority_hazard(p: PriorityProfile, long_wait_weeks: tuple[float, ...], n_bins: int = N_ENGINE_BINS,
                    urgent_scale: float = 1.0, long_wait_scale: float = 1.0) -> np.ndarray:
    """``[stage, bin]`` relative priority: urgent + flat + treat in turn + long-wait push.

    Args:
        p: the fitted profile.
        long_wait_weeks: the long-wait thresholds in force (e.g. (78, 65) while "no
            one over 65 weeks" is chased and 78 weeks is held); pathways within
            ``p.long_wait_lead_weeks`` of a threshold get its push, and the pushes
            add up, so a pathway near an older, longer threshold comes first.
        n_bins: engine bins.
        urgent_scale: multiplies the urgent term (the case-mix shock of a month).
        long_wait_scale: multiplies the treat-in-turn and long-wait terms together (the long-wait
            drift of a month: how hard trusts chase their longest waiters).
    """
    w = bin_weeks(n_bins)
    urgent = urgent_scale * p.urgent_amplitude * np.exp(-w / p.urgent_weeks)
    turn = np.minimum(w, 52.0) / 52.0
    long_wait = sum((p.long_wait_priority * (w >= t - p.long_wait_lead_weeks) for t in long_wait_weeks),
                    np.zeros(n_bins))
    h = np.empty((2, n_bins))
    h[NONADMITTED] = 1.0 + urgent + long_wait_scale * (p.in_turn_nonadmitted * turn + long_wait)
    h[ADMITTED] = 1.0 + urgent + long_wait_scale * (p.in_turn_admitted * turn + long_wait)
    return h


def hazard_by_month(p: PriorityProfile, thresholds: list[tuple[float, ...]], mix_shock: np.ndarray | None = None,
                    long_wait_shock: np.ndarray | None = None, n_bins: int = N_ENGINE_BINS) -> np.ndarray:
    """``[month, stage, bin]`` priority with each month's long-wait thresholds, case-mix and long-wait shocks (log)."""
    mix = np.zeros(len(thresholds)) if mix_shock is None else mix_shock
    drift = np.zeros(len(thresholds)) if long_wait_shock is None else long_wait_shock
    return np.stack([priority_hazard(p, t, n_bins, float(np.exp(x)), float(np.exp(y)))
                     for t, x, y in zip(thresholds, mix, drift)])


def stops_season(calib: CalibrationParams, months) -> np.ndarray:
    """Seasonal factor of clock stops per working day in each of ``months``: the two stages' factors weighted
    by their fitted levels (non-admitted activity less its decisions to admit)."""
    w_n = calib.nonadmitted_activity.level_per_working_day * (1.0 - calib.dta_share)
    w_a = calib.admitted_activity.level_per_working_day
    factors = (w_n * np.asarray(calib.nonadmitted_activity.seasonal_factors)
               + w_a * np.asarray(calib.admitted_activity.seasonal_factors)) / (w_n + w_a)
    return factors[[parse_month(m)[1] - 1 for m in months]]


def stops_per_week(stops_per_wd, season):
    """Clock stops per week (5 working days), deseasonalised: the capacity the priority regime measures the
    list against (``AbundantPriority``: the list in weeks of it)."""
    return 5.0 * np.asarray(stops_per_wd, dtype=np.float64) / np.asarray(season, dtype=np.float64)


def other_removals_profile(p: PriorityProfile, n_bins: int = N_ENGINE_BINS) -> np.ndarray:
    """Relative rate of other (non-treatment) removals by bin: rises with wait (validation finds more)."""
    return 1.0 + p.other_removals_slope * np.minimum(bin_weeks(n_bins), 104.0) / 52.0


def level_shocks(rng: np.random.Generator, n_months: int, sd: float, rho: float, annual_sd: float) -> np.ndarray:
    """Log-level shocks: a monthly AR(1) (noise) plus a random walk whose 12-month change has sd ``annual_sd``."""
    noise = ar1_shocks(rng, n_months, sd, rho)
    walk = np.cumsum(rng.normal(0.0, annual_sd / np.sqrt(12.0), n_months))
    return noise + walk


def ar1_shocks(rng: np.random.Generator, n_months: int, sd: float, rho: float) -> np.ndarray:
    """A stationary AR(1) path with marginal sd ``sd`` (log scale), starting from its stationary law."""
    eps = rng.standard_normal(n_months)
    out = np.empty(n_months)
    prev = sd * eps[0]
    out[0] = prev
    innovation = sd * np.sqrt(max(1.0 - rho * rho, 0.0))
    for k in range(1, n_months):
        prev = rho * prev + innovation * eps[k]
        out[k] = prev
    return out


@dataclass(frozen=True)
class FlowDraws:
    """One replication's draws of the flow parameters (replication 0: central values, no shocks)."""

    demand_growth_pct: float
    nonadmitted_growth_pct: float
    admitted_growth_pct: float
    other_removals_pct: float
    demand_shock: np.ndarray  # log-scale, one per month
    capacity_shock: np.ndarray
    case_mix_shock: np.ndarray  # log-scale multiplier of the urgent priority term
    long_wait_shock: np.ndarray  # log-scale multiplier of the treat-in-turn and long-wait terms


def growth_factors(months: tuple[str, ...], growth_pct_per_year: float) -> np.ndarray:
    """``(1 + g)^years`` since the first month, per month: compound annual growth of a start rate."""
    years = np.array([months_between(months[0], m) for m in months], dtype=np.float64) / 12.0
    return (1.0 + growth_pct_per_year / 100.0) ** years


def trend_path(trend: FittedTrend, months: tuple[str, ...], origin: str, growth_pct: float,
               shock: np.ndarray) -> np.ndarray:
    """Per-working-day rate in each month: level x season x growth x exp(shock)."""
    elapsed = np.array([months_between(origin, m) for m in months], dtype=np.float64) / 12.0
    season = np.array([trend.seasonal_factors[parse_month(m)[1] - 1] for m in months])
    return trend.level_per_working_day * season * (1.0 + growth_pct / 100.0) ** elapsed * np.exp(shock)


def projected_rates(calib: CalibrationParams, months: tuple[str, ...], draws: list[FlowDraws]) -> dict[str, np.ndarray]:
    """National per-working-day rates ``[rep, month]`` for a forward projection."""
    origin = calib.fit_last_month
    starts = np.stack([trend_path(calib.clock_starts, months, origin, d.demand_growth_pct, d.demand_shock) for d in draws])
    nonadm = np.stack([trend_path(calib.nonadmitted_activity, months, origin, d.nonadmitted_growth_pct, d.capacity_shock)
                       for d in draws])
    adm = np.stack([trend_path(calib.admitted_activity, months, origin, d.admitted_growth_pct, d.capacity_shock)
                    for d in draws])
    other = np.stack([np.full(len(months), d.other_removals_pct / 100.0) for d in draws])
    return {"clock_starts": starts, "nonadmitted": nonadm, "admitted": adm, "other": other}
