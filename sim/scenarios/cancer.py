"""Cancer pathway parameters per trust, calibrated to the shipped waiting-times data.

A pure transform from the published cancer waiting times to the inputs of
:mod:`sim.engine.cancer`: referral and subsequent-treatment volumes per
working day, and lognormal waits (median per trust, one spread for all) for
diagnosis and for treatment, plus the diagnosis-to-decision delay that only
the 62-day standard sees.

Two sources, with different jobs:

- the provider extract (:func:`sim.reference.cwt_provider`, or a user's file:
  :mod:`sim.service_data`) gives each trust's *relative* volume and
  performance. Providers merged away are mapped to their successors; providers that are not RTT trusts (independent sector, community
  and specialist units outside the RTT list) are dropped;
- the national series (:func:`sim.reference.cancer_national`) gives the
  *levels*: the extract counts a pathway shared between providers at each of
  them, so national volumes and percentages come from the national file. Trust
  volumes are scaled to sum to it, and one common multiplier on all trusts'
  medians makes the volume-weighted steady-state national percentage equal to
  the national one.

Steady state means constant arrivals, calibrated access and capacity to
spare: then a trust's waits are exactly the discretised lognormals (see
:func:`sim.engine.cancer.hazard_from_lognormal`), its FDS share is
``F(28.5)``, its 31-day share ``F(31.5)`` and its 62-day share the discrete
convolution of :func:`sim.engine.cancer.probability_within`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from sim.calendar import (
    add_months,
    month_end,
    month_range,
    parse_month,
    working_days_in_month,
)
from sim.engine.cancer import (
    FDS_STANDARD_DAYS,
    N_DAYS,
    TREATMENT_STANDARD_DAYS,
    hazard_from_lognormal,
    lognormal_pmf,
    probability_within,
)
from sim.reference import final_successors
from sim.service_data import ServiceData, shipped_service_data

FDS = "28-day FDS"
COMBINED_31 = "31-day Combined"

#: Bounds on a trust's own FDS or 31-day share before its median is fitted (small trusts are noisy).
SHARE_CLIP = (0.30, 0.99)
MIN_WINDOW_MONTHS = 3

# Search range of the common log-multiplier on medians, and of the dtt median (days).
_LOG_MULTIPLIER_RANGE = (-8.0, 8.0)
_DTT_MEDIAN_RANGE_DAYS = (0.01, 365.0)
_BISECTION_STEPS = 200


@dataclass(frozen=True)
class MonthlyVariation:
    """National month-to-month variation of the pathway (log multipliers, AR(1) per replication).

    Attributes:
        fds_sd, fds_rho: marginal sd and lag-1 autocorrelation of the log multiplier on every
            trust's diagnosis hazard.
        treatment_sd, treatment_rho: the same for the pace of treatment.
        published: the published national series' variation it was sized to (``fds_pct`` and
            ``pct_31day``: residual sd in points and lag-1 autocorrelation, months used; also
            ``pct_62day``, not fitted, when published) and the simulated sd of each at the trial
            shock sd (``simulated_sd_at_trial``).
    """

    fds_sd: float
    fds_rho: float
    treatment_sd: float
    treatment_rho: float
    published: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class CancerCalibration:
    """Per-trust cancer pathway parameters (arrays in ``trust_codes`` order, read-only).

    Attributes:
        trust_codes: the RTT trust ODS codes.
        census_month: the last month of the calibration window (``YYYY-MM``).
        window: the months used.
        referrals_per_wd: USC pathways ending (= referrals, in steady state) per working day.
        subsequent_per_wd: 31-day-standard treatments not counted as first treatments after a
            USC referral (subsequent treatments and other routes), per working day.
        fds_median_days: median days from referral to diagnosis or ruling out.
        fds_sigma: standard deviation of log diagnosis wait (all trusts).
        treatment_median_days: median days from decision to treat to treatment.
        treatment_sigma: standard deviation of log treatment wait (all trusts).
        cancer_share: share of USC pathways ending that become a first treatment (national).
        dtt_median_days: median days from diagnosis to decision to treat.
        dtt_sigma: standard deviation of log diagnosis-to-decision delay.
        treat_capacity_per_day: treatments possible per calendar day (steady state x (1 + headroom)).
        capacity_headroom: the headroom used.
        fit: targets and fitted national figures (see :func:`calibrate_cancer`).
        variation: month-to-month variation (``sim.cancer_variation``), or None for none.
    """

    trust_codes: tuple[str, ...]
    census_month: str
    window: tuple[str, ...]
    referrals_per_wd: np.ndarray
    subsequent_per_wd: np.ndarray
    fds_median_days: np.ndarray
    fds_sigma: float
    treatment_median_days: np.ndarray
    treatment_sigma: float
    cancer_share: float
    dtt_median_days: float
    dtt_sigma: float
    treat_capacity_per_day: np.ndarray
    capacity_headroom: float
    fit: dict = field(default_factory=dict)
    variation: MonthlyVariation | None = None

    def fds_hazard(self, n_days: int = N_DAYS) -> np.ndarray:
        """float64 ``[trust, day]`` daily diagnosis hazard for the engine."""
        return hazard_from_lognormal(self.fds_median_days, self.fds_sigma, n_days)

    def treat_hazard(self, n_days: int = N_DAYS) -> np.ndarray:
        """float64 ``[trust, day]`` daily treatment hazard for the engine."""
        return hazard_from_lognormal(self.treatment_median_days, self.treatment_sigma, n_days)

    def dtt_pmf(self, n_days: int = N_DAYS) -> np.ndarray:
        """float64 ``[day]`` pmf of days from diagnosis to decision to treat (for the census)."""
        return lognormal_pmf(self.dtt_median_days, self.dtt_sigma, n_days)


# -------------------------------------------------------------------- data
def _window(census_month: str, window_months: int, available: set[str], label: str) -> tuple[str, ...]:
    first, last = min(available), max(available)
    if census_month not in available:
        raise ValueError(f"census_month {census_month!r} is outside {label} ({first}..{last})")
    window = tuple(m for m in month_range(add_months(census_month, 1 - window_months), census_month)
                   if m in available)
    if len(window) < MIN_WINDOW_MONTHS:
        raise ValueError(f"census_month {census_month!r} with window_months={window_months} leaves "
                         f"{len(window)} month(s) of {label} ({first}..{last}); "
                         f"at least {MIN_WINDOW_MONTHS} are needed")
    return window


def _provider_by_trust(trust_codes: tuple[str, ...], window: tuple[str, ...],
                       cwt: pd.DataFrame) -> dict[str, np.ndarray]:
    """Provider totals and within-standard counts over the window, summed to trusts."""
    df = cwt[cwt["month"].isin(window)]
    successor = final_successors()
    trust = df["provider_code"].map(lambda c: successor.get(c, c))
    position = {code: i for i, code in enumerate(trust_codes)}
    index = trust.map(position)
    keep = index.notna()
    out = {}
    for standard, key in ((FDS, "fds"), (COMBINED_31, "c31")):
        rows = keep & (df["standard"] == standard)
        where = index[rows].astype(np.int64).to_numpy()
        for column in ("total", "within_standard"):
            out[f"{key}_{column}"] = np.bincount(where, weights=df.loc[rows, column].to_numpy(np.float64),
                                                 minlength=len(trust_codes))
    return out


class NationalCancerDataError(ValueError):
    """The national cancer series lacks figures the calibration window needs (not the provider data)."""


def _national(window: tuple[str, ...], data: ServiceData) -> dict[str, float]:
    """Pooled national figures over the window (percentages weighted by patients measured).

    Raises:
        NationalCancerDataError: a window month missing, or with an empty column.
    """
    df = data.cancer_national.set_index("month")
    columns = ["fds_pct", "pct_62day", "pct_31day", "fds_total", "c62_total", "c31_total"]
    bad = [m for m in window if m not in df.index or df.loc[m, columns].isna().any()]
    if bad:
        raise NationalCancerDataError(
            f"{data.describe('cancer_national')} lacks complete figures ({', '.join(columns)}) for "
            f"{', '.join(bad)}, which the cancer calibration window {window[0]} to {window[-1]} needs")
    w = df.loc[list(window)]
    return {
        "fds_total": float(w["fds_total"].sum()),
        "c62_total": float(w["c62_total"].sum()),
        "c31_total": float(w["c31_total"].sum()),
        "fds_pct": float((w["fds_pct"] * w["fds_total"]).sum() / w["fds_total"].sum()),
        "pct_62day": float((w["pct_62day"] * w["c62_total"]).sum() / w["c62_total"].sum()),
        "pct_31day": float((w["pct_31day"] * w["c31_total"]).sum() / w["c31_total"].sum()),
    }


#: Months of the national series whose residual variation sizes the monthly shocks.
VARIATION_MONTHS = 24


def published_variation(census_month: str, months: int = VARIATION_MONTHS,
                        data: ServiceData | None = None) -> dict[str, dict]:
    """Month-to-month variation of the national FDS, 31-day and 62-day percentages up to ``census_month``.

    Over the ``months`` months to the census month, each percentage is regressed on a
    linear trend and the month's working days (which the model reproduces itself); the
    residuals' sd (points, 3 parameters off the degrees of freedom) and lag-1
    autocorrelation are what the model's monthly shocks must add (FDS and 31-day), or
    what the variation they cause should come to (62-day, which is not fitted: given
    only when 12 months are published).

    Raises:
        ValueError: fewer than 12 published months of FDS or 31-day in the span.
    """
    data = data or shipped_service_data()
    df = data.cancer_national.set_index("month")
    span = month_range(add_months(census_month, 1 - months), census_month)
    out = {}
    for column in ("fds_pct", "pct_31day", "pct_62day"):
        held = [m for m in span if m in df.index and np.isfinite(df.loc[m, column])] if column in df else []
        if len(held) < 12 and column == "pct_62day":
            continue
        if len(held) < 12:
            raise ValueError(f"{data.describe('cancer_national')} has {len(held)} months of {column} in "
                             f"{span[0]}..{span[-1]}; the monthly variation needs at least 12")
        y = df.loc[held, column].to_numpy(dtype=float)
        x = np.column_stack([np.ones(len(held)), [span.index(m) for m in held],
                             [working_days_in_month(*parse_month(m)) for m in held]])
        resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
        noise = resid.std() > 1e-9 * np.abs(y).mean()  # else only rounding is left: no autocorrelation to read
        rho = float(np.corrcoef(resid[:-1], resid[1:])[0, 1]) if noise else 0.0
        out[column] = {"residual_sd": float(np.sqrt((resid ** 2).sum() / (len(held) - 3))),
                       "autocorrelation": rho, "months": (held[0], held[-1], len(held))}
    return out


# ----------------------------------------------------------------- fitting
def _bisect_decreasing(f, lo: float, hi: float, what: str) -> float:
    """Root of a decreasing function on [lo, hi] by bisection."""
    f_lo, f_hi = f(lo), f(hi)
    if f_lo < 0 or f_hi > 0:
        raise ValueError(f"cannot fit {what}: the target lies outside what the search range [{lo:g}, {hi:g}] "
                         f"gives ({f_lo:+.4g} .. {f_hi:+.4g} from the target)")
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13:
            break
    return 0.5 * (lo + hi)


def _share_within(median_days: np.ndarray, sigma: float, standard_days: int) -> np.ndarray:
    """Steady-state share within a standard: F(standard + 0.5) of the lognormal."""
    return ndtr((math.log(standard_days + 0.5) - np.log(median_days)) / sigma)


def _fit_medians(total: np.ndarray, within: np.ndarray, weight: np.ndarray, target_pct: float, sigma: float,
                 standard_days: int, what: str) -> tuple[np.ndarray, float]:
    """Per-trust medians from own shares, then one multiplier to hit the national target."""
    share = np.divide(within, total, out=np.full(total.shape, target_pct / 100.0), where=total > 0)
    share = np.clip(share, *SHARE_CLIP)
    own = (standard_days + 0.5) * np.exp(-sigma * ndtri(share))
    w = weight / weight.sum()

    def gap(log_k: float) -> float:
        return float((w * _share_within(own * math.exp(log_k), sigma, standard_days)).sum()) - target_pct / 100.0

    log_k = _bisect_decreasing(gap, *_LOG_MULTIPLIER_RANGE, what=f"the common {what} median multiplier")
    return own * math.exp(log_k), math.exp(log_k)


def national_steady_state(cal: CancerCalibration) -> dict[str, float]:
    """Steady-state national FDS, 31-day and 62-day percentages of a calibration.

    Computed from the engine's discretised waits (not the closed forms the
    fit uses), weighted by referrals (FDS, 62-day) and treatments (31-day).
    """
    fds_pmf = lognormal_pmf(cal.fds_median_days, cal.fds_sigma)
    treat_pmf = lognormal_pmf(cal.treatment_median_days, cal.treatment_sigma)
    referrals = cal.referrals_per_wd
    treatments = cal.cancer_share * referrals + cal.subsequent_per_wd
    p62 = probability_within(fds_pmf, cal.dtt_pmf(), treat_pmf)
    return {
        "fds_pct": 100.0 * float((referrals * fds_pmf[:, :FDS_STANDARD_DAYS + 1].sum(-1)).sum() / referrals.sum()),
        "pct_31day": 100.0 * float((treatments * treat_pmf[:, :TREATMENT_STANDARD_DAYS + 1].sum(-1)).sum()
                                   / treatments.sum()),
        "pct_62day": 100.0 * float((referrals * p62).sum() / referrals.sum()),
    }


def _check_arguments(rtt_trust_codes, fds_sigma, treatment_sigma, dtt_median_days, dtt_sigma, capacity_headroom,
                     window_months) -> None:
    if len(rtt_trust_codes) == 0 or len(set(rtt_trust_codes)) != len(rtt_trust_codes):
        raise ValueError("rtt_trust_codes must be a non-empty tuple of distinct ODS codes")
    for name, value in (("fds_sigma", fds_sigma), ("treatment_sigma", treatment_sigma), ("dtt_sigma", dtt_sigma)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} = {value!r}: must be a finite number > 0")
    if dtt_median_days is not None and not (math.isfinite(dtt_median_days) and dtt_median_days > 0):
        raise ValueError(f"dtt_median_days = {dtt_median_days!r}: must be None (fit it) or a number > 0")
    if not (math.isfinite(capacity_headroom) and capacity_headroom >= 0):
        raise ValueError(f"capacity_headroom = {capacity_headroom!r}: must be a finite number >= 0")
    if int(window_months) != window_months or window_months < MIN_WINDOW_MONTHS:
        raise ValueError(f"window_months = {window_months!r}: must be an integer >= {MIN_WINDOW_MONTHS}")


def calibrate_cancer(rtt_trust_codes: tuple[str, ...], census_month: str, *, fds_sigma: float,
                     treatment_sigma: float, dtt_median_days: float | None, dtt_sigma: float,
                     capacity_headroom: float, window_months: int = 12,
                     data: ServiceData | None = None) -> CancerCalibration:
    """Fit each trust's cancer pathway to the CWT data over the months up to ``census_month``.

    Args:
        rtt_trust_codes: the RTT trusts (``World.rtt_trust_codes``); outputs follow this order.
        census_month: last month of the window (``YYYY-MM``), within the provider data.
        fds_sigma: spread (sd of log days) of the referral-to-diagnosis wait.
        treatment_sigma: spread of the decision-to-treatment wait.
        dtt_median_days: median diagnosis-to-decision delay (days), or None to fit it to
            the national 62-day percentage.
        dtt_sigma: spread of the diagnosis-to-decision delay.
        capacity_headroom: treatment capacity above steady-state demand (0.2 = 20% spare).
        window_months: months ending at ``census_month`` (fewer when the data start later; at least 3).
        data: the CWT provider and national cancer tables (default: the shipped ones).

    Returns:
        A :class:`CancerCalibration`. ``fit`` holds ``window`` (first, last month),
        ``months``, ``fds_pct``/``pct_31day``/``pct_62day`` as ``{"target", "fitted"}``
        (national, percent; fitted from the discretised steady state), and the
        common multipliers on the trusts' own FDS and treatment medians.

    Raises:
        ValueError: an argument out of range, or a window outside the data.
    """
    rtt_trust_codes = tuple(rtt_trust_codes)
    _check_arguments(rtt_trust_codes, fds_sigma, treatment_sigma, dtt_median_days, dtt_sigma, capacity_headroom,
                     window_months)
    parse_month(census_month)
    data = data or shipped_service_data()
    window = _window(census_month, int(window_months), data.months("cwt_provider"), data.describe("cwt_provider"))
    national = _national(window, data)
    trusts = _provider_by_trust(rtt_trust_codes, window, data.cwt_provider)
    working = float(sum(working_days_in_month(*parse_month(m)) for m in window))
    calendar = float(sum(month_end(*parse_month(m)).day for m in window))

    if trusts["fds_total"].sum() <= 0:
        raise ValueError(f"none of the {len(rtt_trust_codes)} trusts has FDS data in {window[0]}..{window[-1]}")
    cancer_share = national["c62_total"] / national["fds_total"]
    referrals = trusts["fds_total"] / working
    referrals = referrals * (national["fds_total"] / working) / referrals.sum()
    subsequent = np.maximum(trusts["c31_total"] - cancer_share * trusts["fds_total"], 0.0) / working
    national_subsequent = max(national["c31_total"] - national["c62_total"], 0.0) / working
    subsequent = subsequent * (national_subsequent / subsequent.sum()) if subsequent.sum() > 0 else subsequent
    treatments = cancer_share * referrals + subsequent

    fds_median, fds_k = _fit_medians(trusts["fds_total"], trusts["fds_within_standard"], referrals,
                                     national["fds_pct"], fds_sigma, FDS_STANDARD_DAYS, "FDS")
    treat_median, treat_k = _fit_medians(trusts["c31_total"], trusts["c31_within_standard"], treatments,
                                         national["pct_31day"], treatment_sigma, TREATMENT_STANDARD_DAYS,
                                         "31-day")
    fitted_dtt = dtt_median_days is None
    if fitted_dtt:
        fds_pmf = lognormal_pmf(fds_median, fds_sigma)
        treat_pmf = lognormal_pmf(treat_median, treatment_sigma)
        w = referrals / referrals.sum()

        def gap(log_median: float) -> float:
            dtt = lognormal_pmf(math.exp(log_median), dtt_sigma)
            return float((w * probability_within(fds_pmf, dtt, treat_pmf)).sum()) - national["pct_62day"] / 100

        lo, hi = _DTT_MEDIAN_RANGE_DAYS
        dtt_median_days = math.exp(_bisect_decreasing(gap, math.log(lo), math.log(hi),
                                                      "the diagnosis-to-decision median"))

    capacity = treatments * (working / calendar) * (1.0 + capacity_headroom)
    arrays = [referrals, subsequent, fds_median, treat_median, capacity]
    for a in arrays:
        a.setflags(write=False)
    cal = CancerCalibration(
        trust_codes=rtt_trust_codes, census_month=census_month, window=window,
        referrals_per_wd=referrals, subsequent_per_wd=subsequent, fds_median_days=fds_median,
        fds_sigma=float(fds_sigma), treatment_median_days=treat_median, treatment_sigma=float(treatment_sigma),
        cancer_share=float(cancer_share), dtt_median_days=float(dtt_median_days), dtt_sigma=float(dtt_sigma),
        treat_capacity_per_day=capacity, capacity_headroom=float(capacity_headroom))
    fitted = national_steady_state(cal)
    return replace(cal, fit={
        "window": (window[0], window[-1]),
        "months": len(window),
        **{key: {"target": national[key], "fitted": fitted[key]} for key in ("fds_pct", "pct_31day", "pct_62day")},
        "fds_median_multiplier": fds_k,
        "treatment_median_multiplier": treat_k,
        "dtt_median_fitted": fitted_dtt,
        "national_referrals_per_wd": national["fds_total"] / working,
    })
