"""Size the cancer pathway's month-to-month variation to the published national series.

The national FDS and 31-day percentages move by one to three points from one
month to the next beyond what a trend and the month's working days explain
(:func:`sim.scenarios.cancer.published_variation`). Without that variation the
model's bands are a fraction of a point wide (the October 2024 backtest: none
of five months inside them). Each replication therefore carries two national
AR(1) log multipliers per month: on every trust's diagnosis hazard and on the
pace of treatment.

How big a shock gives a point of variation depends on the pathway (a month's
diagnoses mix patients referred in it and the month before; treatment above
capacity is capped), so the sd of each shock is found by simulation: the
calibrated pathway is run for a year from its steady state at constant
volumes, with trial shocks of sd 0.1 and without, and each shock's sd is
scaled so the simulated national percentage's sd around the unshocked path
equals the published residual sd (the diagnosis shock for FDS, the treatment
shock for the 31-day standard). The response is close to linear at these
sizes: a second round of the rescaling moves either sd by under 1%, so one
round (0.2 s, paid by every run's plan) is done. The 62-day standard is not
fitted: its variation follows from the two, and comes out as published (1.56
points a month against 1.56 over the 24 months to March 2025; the tests
check it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np

from sim.calendar import add_months, month_end, parse_month, working_days_in_month
from sim.scenarios.cancer import CancerCalibration, MonthlyVariation, published_variation
from sim.service_data import ServiceData
from sim.scenarios.cancer_inputs import CancerInputs
from sim.scenarios.flows import ar1_shocks
from sim.services.cancer import CancerService

SIZING_MONTHS = 12
SIZING_REPLICATIONS = 16
TRIAL_SD = 0.1
# The sizing's own generator: fixed, so a calibration is a function of its data alone.
SIZING_SEED = 20250401
RHO_BOUNDS = (0.0, 0.9)


def _simulate(cal: CancerCalibration, first_month: str, fds_shock: np.ndarray,
              treat_shock: np.ndarray) -> dict[str, np.ndarray]:
    """National ``cancer_fds_pct``, ``cancer_31d_pct`` and ``cancer_62d_pct`` ``[rep, month]`` with these shocks
    (row 0: none)."""
    n_reps, n_months = fds_shock.shape
    shape = (n_reps, n_months, len(cal.trust_codes))
    inputs = CancerInputs(
        referrals_per_wd=np.broadcast_to(cal.referrals_per_wd, shape).copy(),
        subsequent_per_wd=np.broadcast_to(cal.subsequent_per_wd, shape).copy(),
        treat_capacity_per_day=np.broadcast_to(cal.treat_capacity_per_day, shape).copy(),
        cancer_share=np.full(n_reps, cal.cancer_share), fds_hazard=cal.fds_hazard(),
        treat_hazard=cal.treat_hazard(), dtt_pmf=cal.dtt_pmf(),
        fds_median_days=np.asarray(cal.fds_median_days, dtype=np.float64),
        fds_shock=fds_shock, treat_shock=treat_shock)
    year, month = parse_month(first_month)
    first_day = dt.date(year, month, 1)
    wd_share = working_days_in_month(year, month) / month_end(year, month).day
    service = CancerService(inputs, np.zeros((len(cal.trust_codes), 1), dtype=np.int64), 1, first_day, wd_share)
    out = {name: np.empty((n_reps, n_months)) for name in ("cancer_fds_pct", "cancer_31d_pct", "cancer_62d_pct")}
    for k in range(n_months):
        d0 = dt.date(*parse_month(add_months(first_month, k)), 1)
        d1 = dt.date(*parse_month(add_months(first_month, k + 1)), 1)
        service.step(k, d0, d1, None)
        metrics = service.census(flows=True)
        for name in out:
            out[name][:, k] = metrics[name][:, 0]
    return out


def size_monthly_variation(cal: CancerCalibration, data: ServiceData | None = None) -> CancerCalibration:
    """``cal`` with :class:`MonthlyVariation` sized to the national series (``data``'s, default shipped) up to its
    census month.

    Raises:
        ValueError: too few published months before the census month (``published_variation``).
    """
    published = published_variation(cal.census_month, data=data)
    fds, c31 = published["fds_pct"], published["pct_31day"]
    rho_fds = float(np.clip(fds["autocorrelation"], *RHO_BOUNDS))
    rho_treat = float(np.clip(c31["autocorrelation"], *RHO_BOUNDS))
    g = np.random.default_rng(SIZING_SEED)
    z_fds = np.stack([ar1_shocks(g, SIZING_MONTHS, 1.0, rho_fds) for _ in range(SIZING_REPLICATIONS)])
    z_treat = np.stack([ar1_shocks(g, SIZING_MONTHS, 1.0, rho_treat) for _ in range(SIZING_REPLICATIONS)])
    zero = np.zeros((1, SIZING_MONTHS))
    first = add_months(cal.census_month, 1)
    # Scaled to unit root mean square: 192 draws of a unit normal can be several % off 1, which would
    # carry straight into the sized sd.
    z_fds, z_treat = z_fds / np.sqrt(np.mean(z_fds ** 2)), z_treat / np.sqrt(np.mean(z_treat ** 2))
    run = _simulate(cal, first, np.vstack([zero, TRIAL_SD * z_fds]), np.vstack([zero, TRIAL_SD * z_treat]))
    trial = {name: float(np.sqrt(np.mean((v[1:] - v[:1]) ** 2))) for name, v in run.items()}
    sd_fds = TRIAL_SD * fds["residual_sd"] / trial["cancer_fds_pct"]
    sd_treat = TRIAL_SD * c31["residual_sd"] / trial["cancer_31d_pct"]
    variation = MonthlyVariation(
        fds_sd=float(sd_fds), fds_rho=rho_fds, treatment_sd=float(sd_treat), treatment_rho=rho_treat,
        published={**published, "simulated_sd_at_trial": trial})
    return replace(cal, variation=variation)
