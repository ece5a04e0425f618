"""Cancer engine inputs for a batch: the calibrated pathway grown over the run, per replication."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import Scenario
from sim.scenarios.cancer import CancerCalibration
from sim.rng import stream
from sim.scenarios.flows import ar1_shocks, growth_factors
from sim.scenarios.parameters import capacity_growth, record_shocks, value


@dataclass(frozen=True)
class CancerInputs:
    """What the cancer engine needs each month.

    Attributes:
        referrals_per_wd: float64 ``[rep, month, trust]`` urgent suspected cancer referrals per working day.
        subsequent_per_wd: float64 ``[rep, month, trust]`` other decisions to treat per working day.
        treat_capacity_per_day: float64 ``[rep, month, trust]`` treatments possible per calendar day.
        cancer_share: float64 ``[rep]`` share of diagnoses that lead to a first treatment.
        fds_hazard: float64 ``[trust, day]`` daily diagnosis hazard.
        treat_hazard: float64 ``[trust, day]`` daily treatment hazard.
        dtt_pmf: float64 ``[day]`` days from diagnosis to decision to treat.
        fds_median_days: float64 ``[trust]`` median days to diagnosis (scales the diagnostic-access effect).
        fds_shock: float64 ``[rep, month]`` log multiplier on every trust's diagnosis hazard.
        treat_shock: float64 ``[rep, month]`` log multiplier on every trust's pace of treatment.
    """

    referrals_per_wd: np.ndarray
    subsequent_per_wd: np.ndarray
    treat_capacity_per_day: np.ndarray
    cancer_share: np.ndarray
    fds_hazard: np.ndarray
    treat_hazard: np.ndarray
    dtt_pmf: np.ndarray
    fds_median_days: np.ndarray
    fds_shock: np.ndarray
    treat_shock: np.ndarray


def batch_inputs(scenario: Scenario, calib: CancerCalibration, months: tuple[str, ...], replications: np.ndarray,
                 national_scale: float) -> CancerInputs:
    """Cancer inputs for a batch (each replication computed alone)."""
    cfg = scenario.cancer
    n_reps, n_months = len(replications), len(months)
    shape = (n_reps, n_months, len(calib.trust_codes))
    referrals, subsequent, capacity = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    fds_shock, treat_shock = np.zeros((n_reps, n_months)), np.zeros((n_reps, n_months))
    v = calib.variation if cfg.monthly_variation else None
    for k, r in enumerate(int(x) for x in replications):
        referral_pct = value(cfg.referral_growth_pct_per_year, scenario.seed, r, "cancer.referral_growth_pct_per_year",
                             -20, 30)
        demand = growth_factors(months, referral_pct)[:, None]
        supply = growth_factors(months, capacity_growth(cfg, "cancer.treatment_capacity_growth_pct_per_year",
                                                        "cancer.treatment_capacity_gap_pct_per_year", referral_pct,
                                                        scenario.seed, r))[:, None]
        referrals[k] = demand * calib.referrals_per_wd[None, :] * national_scale
        subsequent[k] = demand * calib.subsequent_per_wd[None, :] * national_scale
        capacity[k] = supply * calib.treat_capacity_per_day[None, :] * national_scale
        if v is not None and r > 0:  # replication 0 is the central path
            # A stream each, so a longer run keeps the shorter run's months.
            fds_shock[k] = ar1_shocks(stream(scenario.seed, r, "cancer"), n_months, v.fds_sd, v.fds_rho)
            treat_shock[k] = ar1_shocks(stream(scenario.seed, r, "cancer_pace"), n_months, v.treatment_sd,
                                        v.treatment_rho)
        if v is not None:
            record_shocks("cancer_diagnosis", r, months, fds_shock[k])
            record_shocks("cancer_treatment_pace", r, months, treat_shock[k])
    return CancerInputs(referrals, subsequent, capacity, np.full(n_reps, calib.cancer_share), calib.fds_hazard(),
                        calib.treat_hazard(), calib.dtt_pmf(), np.asarray(calib.fds_median_days, dtype=np.float64),
                        fds_shock, treat_shock)
