"""The cancer pathway inside the model: day-resolution queues, coupled to the urgent diagnostic wait.

The queues start in their steady state at the start rates (each bin holds the
arrivals still waiting after that many days), so the first month's standards
are not distorted by an empty pipeline. Diagnostic access: when urgent
requests at a trust wait longer than at the start (``dw`` days, from the
diagnostic service), its diagnosis hazard is scaled by ``m / (m + dw)``, ``m``
being the trust's median days to diagnosis: the extra wait lengthens the
whole pathway in proportion (bounded to 0.3-1.5). Each replication's monthly
shocks (``sim.cancer_variation``) then scale every trust's diagnosis hazard and
pace of treatment for the month.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from sim.calendar import working_days
from sim.engine import cancer as cx
from sim.engine import census
from sim.scenarios.cancer_inputs import CancerInputs
from sim.services.diagnostics import DiagnosticService

CANCER_METRICS = ("cancer_fds_pct", "cancer_62d_pct", "cancer_31d_pct", "cancer_fds_patients",
                  "cancer_62d_patients", "cancer_31d_patients", "cancer_referrals")
ACCESS_BOUNDS = (0.3, 1.5)


def _survival(hazard: np.ndarray) -> np.ndarray:
    """``[trust, day]`` share of arrivals still waiting after each day's removals and ageing (steady state)."""
    keep = np.cumprod(1.0 - np.minimum(hazard, 1.0), axis=-1)
    s = np.concatenate([np.zeros(hazard.shape[:-1] + (1,)), keep[..., :-1]], axis=-1)
    last = hazard[..., -1]
    s[..., -1] = np.where(last > 0, keep[..., -2] / np.where(last > 0, last, 1.0), 0.0)
    return s


def steady_state(inputs: CancerInputs, first_month_wd_share: float) -> cx.CancerState:
    """Queues at the start census, in steady state at the first month's rates."""
    n_reps, _, n_trusts = inputs.referrals_per_wd.shape
    state = cx.CancerState.zeros(n_reps, n_trusts, inputs.fds_hazard.shape[-1])
    per_day = inputs.referrals_per_wd[:, 0] * first_month_wd_share
    state.fds[...] = per_day[..., None] * _survival(inputs.fds_hazard)[None]
    treat = _survival(inputs.treat_hazard)[None]
    state.first[...] = (inputs.cancer_share[:, None] * per_day)[..., None] * treat
    state.subsequent[...] = (inputs.subsequent_per_wd[:, 0] * first_month_wd_share)[..., None] * treat
    return state


class CancerService:
    """Cancer queues of a batch of replications.

    Args:
        inputs: the batch's cancer inputs.
        trust_series: int ``[trust, 4]`` series positions (national, region, ICB, trust).
        n_series: series in the run's cube.
        first_day: the first simulated day.
        first_month_wd_share: working days / calendar days of the first month.
    """

    def __init__(self, inputs: CancerInputs, trust_series: np.ndarray, n_series: int, first_day: dt.date,
                 first_month_wd_share: float) -> None:
        self.inputs = inputs
        self.trust_series = trust_series
        self.n_series = n_series
        self.first_day = first_day
        self.state = steady_state(inputs, first_month_wd_share)
        self._covered = np.zeros(n_series, dtype=bool)
        self._covered[np.unique(trust_series)] = True

    def step(self, month: int, d0: dt.date, d1: dt.date, diagnostics: DiagnosticService | None) -> None:
        """Advance the days from ``d0`` up to ``d1``."""
        n_days = (d1 - d0).days
        if n_days <= 0:
            return
        inp = self.inputs
        working = np.array([float(working_days(d0 + dt.timedelta(days=k), d0 + dt.timedelta(days=k + 1)))
                            for k in range(n_days)])
        if diagnostics is None:
            access = np.ones(inp.referrals_per_wd[:, month].shape)
        else:
            m = inp.fds_median_days[None, :]
            access = np.clip(m / np.maximum(m + diagnostics.urgent_wait_change_days, 1e-9), *ACCESS_BOUNDS)
        access = access * np.exp(inp.fds_shock[:, month])[:, None]  # the month's national variation
        pace = np.broadcast_to(np.exp(inp.treat_shock[:, month])[:, None], access.shape)
        cx.advance(self.state, working=working, referrals_per_wd=np.ascontiguousarray(inp.referrals_per_wd[:, month]),
                   subsequent_per_wd=np.ascontiguousarray(inp.subsequent_per_wd[:, month]),
                   fds_hazard=inp.fds_hazard, fds_access=np.ascontiguousarray(access), cancer_share=inp.cancer_share,
                   treat_hazard=inp.treat_hazard,
                   treat_capacity_per_day=np.ascontiguousarray(inp.treat_capacity_per_day[:, month]),
                   treat_access=np.ascontiguousarray(pace))

    def census(self, flows: bool) -> dict[str, np.ndarray]:
        """Month-end standards ``[rep, series]`` from the month's completions; resets the accumulators."""
        if not flows:
            return {}
        c = cx.census(self.state, self.inputs.dtt_pmf)
        parts = np.stack([c.fds_within, c.fds_total, c.treat62_within, c.treat62_total, c.treat31_within,
                          c.treat31_total, c.referrals], axis=-1)
        per_series = np.zeros((parts.shape[0], self.n_series, parts.shape[-1]))
        for col in range(self.trust_series.shape[1]):
            per_series += census.sum_groups(np.ascontiguousarray(parts), self.trust_series[:, col], self.n_series)
        nan = np.where(self._covered, 0.0, np.nan)[None, :]

        def pct(within: np.ndarray, total: np.ndarray) -> np.ndarray:
            return np.where(total > 0, 100.0 * within / np.where(total > 0, total, 1.0), np.nan) + nan

        self.state.reset_accumulators()
        return {
            "cancer_fds_pct": pct(per_series[..., 0], per_series[..., 1]),
            "cancer_62d_pct": pct(per_series[..., 2], per_series[..., 3]),
            "cancer_31d_pct": pct(per_series[..., 4], per_series[..., 5]),
            "cancer_fds_patients": per_series[..., 1] + nan,
            "cancer_62d_patients": per_series[..., 3] + nan,
            "cancer_31d_patients": per_series[..., 5] + nan,
            "cancer_referrals": per_series[..., 6] + nan,
        }
