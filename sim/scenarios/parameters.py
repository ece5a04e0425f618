"""Per-replication values of every uncertain parameter.

Replication 0 is the point estimate: every parameter at its central value and
no shocks. Replications 1..N draw each parameter from its own stream, keyed by
the parameter's name, and each shock path from its process's stream.
A parameter the scenario leaves unset takes the calibration's fitted value
with its fitted standard error as a normal distribution.

While :func:`recording` is active (a batch's input building), every uncertain
parameter's value and each shock path's level at each March are logged per
replication, so a run can report what each replication drew (parameters.csv)
and which draws drive its outcomes (``sim.drivers``).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Sequence

import numpy as np

from sim.config import CalibrationParams, FittedTrend, Scenario
from sim.distributions import Normal, Param, central, sample
from sim.rng import parameter_stream, stream
from sim.scenarios.flows import FlowDraws, level_shocks


class DrawLog:
    """Values drawn per replication, by name (a dotted scenario key, or ``shocks.<process>.<YYYY-MM>``)."""

    def __init__(self) -> None:
        self._values: dict[str, dict[int, float]] = {}

    def add(self, name: str, replication: int, v: float) -> None:
        self._values.setdefault(name, {})[int(replication)] = float(v)

    def table(self, replications: Sequence[int]) -> dict[str, np.ndarray]:
        """``{name: float64 [replication]}`` in the order of ``replications`` (NaN where not drawn), names sorted."""
        return {name: np.array([by_rep.get(int(r), np.nan) for r in replications])
                for name, by_rep in sorted(self._values.items())}


# The log of the batch being built, if any: a ContextVar rather than an argument through every
# input builder, since logging never changes a value (drawing stays a pure function of its key).
_LOG: ContextVar[DrawLog | None] = ContextVar("parameter_draws", default=None)


@contextmanager
def recording() -> Iterator[DrawLog]:
    """Log every uncertain parameter drawn (and shock path built) inside the block."""
    log = DrawLog()
    token = _LOG.set(log)
    try:
        yield log
    finally:
        _LOG.reset(token)


def value(p: Param, seed: int, replication: int, name: str, low: float = -np.inf, high: float = np.inf) -> float:
    """Central value for replication 0, else a draw from the parameter's own stream."""
    v = central(p) if replication == 0 else sample(p, parameter_stream(seed, replication, name), low, high)
    log = _LOG.get()
    if log is not None and not isinstance(p, (int, float)):
        log.add(name, replication, v)
    return v


def record_shocks(process: str, replication: int, months: Sequence[str], shock: np.ndarray) -> None:
    """Log a log-scale monthly shock path at each financial year's end (March, when every commitment falls due),
    in % above its central path, as ``shocks.<process>.<YYYY-MM>``."""
    log = _LOG.get()
    if log is None:
        return
    for month, x in zip(months, shock):
        if month.endswith("-03"):
            log.add(f"shocks.{process}.{month}", replication, 100.0 * float(np.expm1(x)))


def capacity_growth(block: object, own: str, gap: str, demand_pct: float, seed: int, replication: int) -> float:
    """A service's capacity growth (% a year): the ``block.own`` parameter drawn on its own when set, else the
    replication's demand growth plus a draw of ``block.gap`` (``own``/``gap``: dotted scenario keys)."""
    own_p = getattr(block, own.rsplit(".", 1)[1])
    if own_p is not None:
        return value(own_p, seed, replication, own, -20, 30)
    gap_p = getattr(block, gap.rsplit(".", 1)[1])
    return min(max(demand_pct + value(gap_p, seed, replication, gap, -10, 10), -20.0), 30.0)


def _growth(configured: Param | None, fitted: FittedTrend) -> Param:
    if configured is not None:
        return configured
    return Normal(dist="normal", mean=fitted.growth_pct_per_year, sd=fitted.growth_se_pct_per_year)


def flow_draws(scenario: Scenario, calib: CalibrationParams, replication: int, n_months: int) -> FlowDraws:
    """Growth rates, other-removal rate and monthly shocks of one replication."""
    seed = scenario.seed
    d, c, r = scenario.demand, scenario.capacity, scenario.removals
    other = r.other_removals_pct_per_month
    if other is None:
        other = Normal(dist="normal", mean=calib.other_removals_pct_per_month,
                       sd=calib.other_removals_se_pct_per_month / np.sqrt(12.0))
    draws = dict(
        demand_growth_pct=value(_growth(d.growth_pct_per_year, calib.clock_starts), seed, replication,
                                "demand.growth_pct_per_year", -20, 30),
        nonadmitted_growth_pct=value(_growth(c.nonadmitted_growth_pct_per_year, calib.nonadmitted_activity), seed,
                                     replication, "capacity.nonadmitted_growth_pct_per_year", -20, 30),
        admitted_growth_pct=value(_growth(c.admitted_growth_pct_per_year, calib.admitted_activity), seed,
                                  replication, "capacity.admitted_growth_pct_per_year", -20, 30),
        other_removals_pct=value(other, seed, replication, "removals.other_removals_pct_per_month", 0, 20),
    )
    if replication == 0:
        zero = np.zeros(n_months)
        return FlowDraws(**draws, demand_shock=zero, capacity_shock=zero.copy(), case_mix_shock=zero.copy(),
                         long_wait_shock=zero.copy())
    demand_sd = (d.shock_sd_pct if d.shock_sd_pct is not None else calib.clock_starts.shock_sd_pct) / 100.0
    demand_rho = d.shock_autocorrelation if d.shock_autocorrelation is not None else calib.clock_starts.shock_autocorrelation
    cap_fit = calib.nonadmitted_activity
    cap_sd = (c.shock_sd_pct if c.shock_sd_pct is not None else cap_fit.shock_sd_pct) / 100.0
    cap_rho = c.shock_autocorrelation if c.shock_autocorrelation is not None else cap_fit.shock_autocorrelation
    demand_walk = (d.annual_growth_sd_pct if d.annual_growth_sd_pct is not None
                   else calib.clock_starts.annual_growth_sd_pct) / 100.0
    cap_walk = (c.annual_growth_sd_pct if c.annual_growth_sd_pct is not None else cap_fit.annual_growth_sd_pct) / 100.0
    return FlowDraws(
        **draws,
        demand_shock=level_shocks(stream(seed, replication, "demand"), n_months, demand_sd, max(demand_rho, 0.0),
                                  demand_walk),
        capacity_shock=level_shocks(stream(seed, replication, "capacity"), n_months, cap_sd, max(cap_rho, 0.0),
                                    cap_walk),
        case_mix_shock=level_shocks(stream(seed, replication, "case_mix"), n_months, 0.0, 0.0,
                                    c.case_mix_annual_sd if c.case_mix_annual_sd is not None
                                    else calib.case_mix_annual_sd),
        long_wait_shock=level_shocks(stream(seed, replication, "long_wait"), n_months, 0.0, 0.0,
                                     c.long_wait_annual_sd if c.long_wait_annual_sd is not None
                                     else calib.long_wait_annual_sd),
    )


def trust_capacity_multipliers(scenario: Scenario, replication: int, weights: np.ndarray) -> np.ndarray:
    """Persistent per-trust capacity multipliers (mean 1 weighted by ``weights``)."""
    n = len(weights)
    if replication == 0:
        return np.ones(n)
    sd_pct = value(scenario.world.trust_capacity_variation_pct, scenario.seed, replication,
                   "world.trust_capacity_variation_pct", 0, 50)
    sigma = sd_pct / 100.0
    mult = np.exp(stream(scenario.seed, replication, "trusts").normal(0.0, sigma, n))
    return mult / float(np.dot(mult, weights) / weights.sum())
