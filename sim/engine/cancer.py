"""The cancer pathway at day resolution: stocks by days waited, stepped one day at a time.

Think of three queues at each trust, each a row of 120 daily pigeonholes that
move up by one every night: urgent suspected-cancer (USC) referrals waiting for
a diagnosis or ruling out (the Faster Diagnosis Standard clock), and patients
with a decision to treat waiting for their first or for a subsequent treatment
(the 31-day clock). Bin ``d`` holds patients ``d`` days after their clock
started; the last bin (``N_DAYS - 1``) is open-ended and accumulates.

State (:class:`CancerState`), all float64 so conservation holds to rounding:
``fds``, ``first`` and ``subsequent`` ``[replication, trust, day]``; the
month's completions by days waited ``hist_fds``, ``hist_first``,
``hist_subsequent`` (same shape) and ``arrivals[replication, trust, N_ARR]``.
The caller resets the accumulators after each month-end census.

Each simulated day of :func:`advance`, in this order:

1. on working days, USC referrals enter ``fds`` bin 0 and decisions to treat
   for a subsequent treatment enter ``subsequent`` bin 0;
2. diagnoses (or rulings out): bin ``d`` loses ``fds[d] * min(fds_hazard[d] *
   fds_access, 1)``, recorded in ``hist_fds[d]``; ``cancer_share`` of the day's
   total enters ``first`` bin 0. The delay from diagnosis to a decision to
   treat is *not* a queue here: it enters only the 62-day census as a given
   pmf (``dtt_pmf``), because the published standards time it nowhere else;
3. treatments: the unconstrained demand ``u = sum_d (first[d] + subsequent[d])
   * treat_hazard[d]`` is met in full when capacity allows, otherwise every
   bin is scaled by ``capacity / u`` (treatment capacity is shared in
   proportion to clinical readiness, without priority by days waited);
4. ageing: every bin moves up one day; the last bin keeps its own stock plus
   the one below.

Hazards are per calendar day (diagnostics and treatment go on at weekends at
the same rate); arrivals follow working days. A hazard from
:func:`hazard_from_lognormal` makes the completion ages, in steady state with
access 1 and capacity to spare, exactly the discretised lognormal.

Mechanics only: arrays in, arrays out, no policy, I/O or random numbers. The
numba kernel :func:`advance` is the production path; :func:`advance_numpy` is
the plain reference it is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.special import log_ndtr, ndtr

from sim.engine.flow import FASTMATH

#: Daily bins per queue (0..119 days; the last bin is 119 days and over).
N_DAYS = 120

#: Standards, in whole days waited (inclusive): a wait of 28 days meets the FDS.
FDS_STANDARD_DAYS = 28
TREATMENT_STANDARD_DAYS = 31
REFERRAL_TO_TREATMENT_STANDARD_DAYS = 62

# Arrival accumulator columns (per replication and trust), summed until the census.
ARR_REFERRALS = 0   # USC referrals entering the FDS queue
ARR_FIRST = 1       # decisions to treat entering the first-treatment queue
ARR_SUBSEQUENT = 2  # decisions to treat entering the subsequent-treatment queue
N_ARR = 3

@dataclass(frozen=True, slots=True)
class CancerState:
    """The cancer queues and the month's accumulators (all float64, C-contiguous).

    Attributes:
        fds: ``[rep, trust, day]`` USC referrals awaiting diagnosis, by days since referral.
        first: ``[rep, trust, day]`` awaiting first treatment, by days since decision to treat.
        subsequent: ``[rep, trust, day]`` awaiting a subsequent treatment, likewise.
        hist_fds: ``[rep, trust, day]`` diagnoses (or rulings out) this month by days waited.
        hist_first: ``[rep, trust, day]`` first treatments this month by days since decision to treat.
        hist_subsequent: ``[rep, trust, day]`` subsequent treatments this month likewise.
        arrivals: ``[rep, trust, N_ARR]`` arrivals this month (columns ``ARR_*``).
    """

    fds: np.ndarray
    first: np.ndarray
    subsequent: np.ndarray
    hist_fds: np.ndarray
    hist_first: np.ndarray
    hist_subsequent: np.ndarray
    arrivals: np.ndarray

    @classmethod
    def zeros(cls, n_reps: int, n_trusts: int, n_days: int = N_DAYS) -> CancerState:
        """Empty queues and accumulators."""
        if n_days < 2:
            raise ValueError(f"n_days must be at least 2, got {n_days}")
        shape = (n_reps, n_trusts, n_days)
        return cls(*(np.zeros(shape) for _ in range(6)), np.zeros((n_reps, n_trusts, N_ARR)))

    def copy(self) -> CancerState:
        """A deep copy (advance works in place)."""
        return CancerState(*(np.array(getattr(self, f), copy=True) for f in self.__slots__))

    def reset_accumulators(self) -> None:
        """Zero the month's completions and arrivals, in place (after a census)."""
        for name in ("hist_fds", "hist_first", "hist_subsequent", "arrivals"):
            getattr(self, name)[...] = 0.0

    def total(self) -> np.ndarray:
        """float64 ``[rep, trust, 3]``: patients in the fds, first and subsequent queues."""
        return np.stack([self.fds.sum(-1), self.first.sum(-1), self.subsequent.sum(-1)], axis=-1)


# ------------------------------------------------------------------ hazards
def _survival(x: np.ndarray, median_days: np.ndarray, sigma: float) -> np.ndarray:
    """P(T > x) of a lognormal (1 where x <= 0)."""
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(x, 0.0)) - np.log(median_days)) / sigma
    return ndtr(-z)


def _mean_residual_days(a: float, b: float, mu: np.ndarray, sigma: float) -> np.ndarray:
    """``integral_a^inf S(x) dx / S(b)`` of a lognormal(mu, sigma), in log space to avoid cancellation."""
    z_a = (np.log(a) - mu) / sigma
    z_b = (np.log(b) - mu) / sigma
    # integral_a^inf S = S(a) * (E[T | T > a] - a), E[T | T > a] = e^(mu + sigma^2/2) Q(z_a - sigma) / Q(z_a).
    conditional_mean = np.exp(mu + 0.5 * sigma**2 + log_ndtr(sigma - z_a) - log_ndtr(-z_a))
    residual = np.exp(log_ndtr(-z_a) - log_ndtr(-z_b)) * (conditional_mean - a)
    return np.where(np.isfinite(residual), np.maximum(residual, 0.0), 0.0)


def lognormal_pmf(median_days, sigma: float, n_days: int = N_DAYS) -> np.ndarray:
    """A lognormal time discretised to whole days, the last day open-ended.

    ``P(T = d) = F(d + 0.5) - F(d - 0.5)`` (the first bin from 0), and the last
    bin holds ``P(T > n_days - 1.5)``, so each row sums to 1.

    Args:
        median_days: median (days), a scalar or an array of any shape.
        sigma: standard deviation of log T (> 0).
        n_days: number of daily bins.

    Returns:
        float64 ``[*median.shape, n_days]``.
    """
    median = np.asarray(median_days, dtype=np.float64)[..., None]
    edges = _survival(np.arange(n_days + 1) - 0.5, median, sigma)  # P(T > d - 0.5), d = 0..n_days
    pmf = edges[..., :-1] - edges[..., 1:]
    pmf[..., -1] = edges[..., -2]
    return pmf


def hazard_from_lognormal(median_days, sigma: float, n_days: int = N_DAYS) -> np.ndarray:
    """Daily completion hazard of a whole-day discretised lognormal waiting time.

    ``h[d] = P(T = d) / P(T >= d)`` with ``T`` as in :func:`lognormal_pmf`, so
    a cohort completes at age ``d`` with probability ``P(T = d)``. The open
    last bin drains at ``1 / (1 + r)``, a geometric stay with the lognormal's
    mean residual wait beyond it, ``r = E[T_d - (n_days - 1) | T_d >= n_days - 1]``
    (the sum over whole days of ``P(T_d >= k)``, taken as the integral of the
    lognormal survival by the midpoint rule, in closed form): the last bin's
    steady-state stock is then right by Little's law.

    Args:
        median_days: median (days), a scalar or an array (e.g. ``[trust]``).
        sigma: standard deviation of log T (> 0).
        n_days: number of daily bins.

    Returns:
        float64 ``[*median.shape, n_days]`` hazards in [0, 1] per calendar day.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    median = np.asarray(median_days, dtype=np.float64)
    if np.any(~(median > 0)):
        raise ValueError(f"median_days must be > 0, got {median_days}")
    m = median[..., None]
    at_risk = _survival(np.arange(n_days) - 0.5, m, sigma)     # P(T_d >= d)
    beyond = _survival(np.arange(n_days) + 0.5, m, sigma)      # P(T_d >= d + 1)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        h = np.where(at_risk > 1e-300, (at_risk - beyond) / at_risk, 1.0)
        residual = _mean_residual_days(n_days - 1.0, n_days - 1.5, np.log(m[..., 0]), sigma)
    h[..., -1] = 1.0 / (1.0 + residual)
    return np.clip(h, 0.0, 1.0)


# ------------------------------------------------------------------- kernel
@njit(cache=True, inline="always", fastmath=FASTMATH)
def _remove_and_age(row, hazard, scale, hist):
    """Remove ``row[d] * min(hazard[d] * scale, 1)`` into ``hist``, then age by a day; returns the total."""
    last = row.shape[0] - 1
    x = row[last]
    out = x * min(hazard[last] * scale, 1.0)
    hist[last] += out
    done = out
    kept = x - out
    x = row[last - 1]
    out = x * min(hazard[last - 1] * scale, 1.0)
    hist[last - 1] += out
    done += out
    row[last] = kept + (x - out)
    # Walk down so each bin is read before the one below overwrites it.
    for d in range(last - 2, -1, -1):
        x = row[d]
        out = x * min(hazard[d] * scale, 1.0)
        hist[d] += out
        done += out
        row[d + 1] = x - out
    row[0] = 0.0
    return done


@njit(cache=True, fastmath=FASTMATH)
def _advance_kernel(fds, first, subsequent, hist_fds, hist_first, hist_subsequent, arrivals, working,
                    referrals_per_wd, subsequent_per_wd, fds_hazard, fds_access, cancer_share, treat_hazard,
                    treat_capacity_per_day, treat_access):
    n_reps, n_trusts, n_bins = fds.shape
    for r in range(n_reps):
        share = cancer_share[r]
        for t in range(n_trusts):
            q_fds = fds[r, t]
            q_first = first[r, t]
            q_sub = subsequent[r, t]
            h_fds = fds_hazard[t]
            h_treat = treat_hazard[t]
            access = fds_access[r, t]
            speed = treat_access[r, t]
            capacity = max(treat_capacity_per_day[r, t], 0.0)
            for day in range(working.shape[0]):
                referrals = referrals_per_wd[r, t] * working[day]
                decisions = subsequent_per_wd[r, t] * working[day]
                q_fds[0] += referrals
                q_sub[0] += decisions
                arrivals[r, t, ARR_REFERRALS] += referrals
                arrivals[r, t, ARR_SUBSEQUENT] += decisions

                diagnosed = _remove_and_age(q_fds, h_fds, access, hist_fds[r, t])
                q_first[0] += share * diagnosed
                arrivals[r, t, ARR_FIRST] += share * diagnosed

                demand = 0.0
                for d in range(n_bins):
                    demand += q_first[d] * h_treat[d] + q_sub[d] * h_treat[d]
                # The month's pace, capped so the day's treatments never exceed capacity.
                scale = min(speed, capacity / demand) if demand > 0.0 else speed
                _remove_and_age(q_first, h_treat, scale, hist_first[r, t])
                _remove_and_age(q_sub, h_treat, scale, hist_subsequent[r, t])


def _inputs(state: CancerState, working, referrals_per_wd, subsequent_per_wd, fds_hazard, fds_access,
            cancer_share, treat_hazard, treat_capacity_per_day, treat_access=None) -> tuple[np.ndarray, ...]:
    """Contiguous float64 copies of the inputs, shapes checked against the state."""
    n_reps, n_trusts, n_days = state.fds.shape
    for name in CancerState.__slots__:
        a = getattr(state, name)
        if a.dtype != np.float64 or not a.flags.c_contiguous:
            raise ValueError(f"CancerState.{name} must be C-contiguous float64")
    wanted = {"working": (None,), "referrals_per_wd": (n_reps, n_trusts), "subsequent_per_wd": (n_reps, n_trusts),
              "fds_hazard": (n_trusts, n_days), "fds_access": (n_reps, n_trusts), "cancer_share": (n_reps,),
              "treat_hazard": (n_trusts, n_days), "treat_capacity_per_day": (n_reps, n_trusts),
              "treat_access": (n_reps, n_trusts)}
    if treat_access is None:
        treat_access = np.ones((n_reps, n_trusts))
    values = (working, referrals_per_wd, subsequent_per_wd, fds_hazard, fds_access, cancer_share, treat_hazard,
              treat_capacity_per_day, treat_access)
    out = []
    for (name, shape), value in zip(wanted.items(), values):
        a = np.ascontiguousarray(value, dtype=np.float64)
        if a.ndim != len(shape) or any(s is not None and s != n for s, n in zip(shape, a.shape)):
            raise ValueError(f"{name} has shape {a.shape}, expected {shape} (None = any length)")
        out.append(a)
    return tuple(out)


def advance(state: CancerState, *, working: np.ndarray, referrals_per_wd: np.ndarray,
            subsequent_per_wd: np.ndarray, fds_hazard: np.ndarray, fds_access: np.ndarray,
            cancer_share: np.ndarray, treat_hazard: np.ndarray, treat_capacity_per_day: np.ndarray,
            treat_access: np.ndarray | None = None) -> None:
    """Move every replication and trust through ``len(working)`` days, in place.

    Args:
        state: the queues and accumulators (changed in place).
        working: ``[n_days]`` 1.0 on working days, else 0.0 (arrivals scale by it).
        referrals_per_wd: ``[rep, trust]`` USC referrals per working day.
        subsequent_per_wd: ``[rep, trust]`` decisions to treat for a subsequent treatment per working day.
        fds_hazard: ``[trust, day]`` daily diagnosis hazard by days since referral.
        fds_access: ``[rep, trust]`` multiplier on the diagnosis hazard (1 = calibrated access).
        cancer_share: ``[rep]`` share of diagnoses that become a decision to treat (first treatment).
        treat_hazard: ``[trust, day]`` daily treatment hazard by days since decision to treat.
        treat_capacity_per_day: ``[rep, trust]`` treatments possible per calendar day.
        treat_access: ``[rep, trust]`` multiplier on the treatment hazard (default 1), before
            capacity caps it: the month's pace of treatment.
    """
    args = _inputs(state, working, referrals_per_wd, subsequent_per_wd, fds_hazard, fds_access, cancer_share,
                   treat_hazard, treat_capacity_per_day, treat_access)
    _advance_kernel(state.fds, state.first, state.subsequent, state.hist_fds, state.hist_first,
                    state.hist_subsequent, state.arrivals, *args)


def _age_numpy(q: np.ndarray) -> None:
    q[..., -1] += q[..., -2]
    q[..., 1:-1] = q[..., :-2].copy()
    q[..., 0] = 0.0


def advance_numpy(state: CancerState, *, working, referrals_per_wd, subsequent_per_wd, fds_hazard, fds_access,
                  cancer_share, treat_hazard, treat_capacity_per_day, treat_access=None) -> None:
    """Plain numpy reference of :func:`advance` (slow; for tests only)."""
    (working, referrals_per_wd, subsequent_per_wd, fds_hazard, fds_access, cancer_share, treat_hazard,
     treat_capacity_per_day, treat_access) = _inputs(state, working, referrals_per_wd, subsequent_per_wd, fds_hazard,
                                                     fds_access, cancer_share, treat_hazard, treat_capacity_per_day,
                                                     treat_access)
    s = state
    fds_rate = np.minimum(fds_hazard[None] * fds_access[..., None], 1.0)
    capacity = np.maximum(treat_capacity_per_day, 0.0)
    for w in working:
        s.fds[..., 0] += referrals_per_wd * w
        s.subsequent[..., 0] += subsequent_per_wd * w
        s.arrivals[..., ARR_REFERRALS] += referrals_per_wd * w
        s.arrivals[..., ARR_SUBSEQUENT] += subsequent_per_wd * w

        removed = s.fds * fds_rate
        np.add(s.hist_fds, removed, out=s.hist_fds)
        np.subtract(s.fds, removed, out=s.fds)
        moved = cancer_share[:, None] * removed.sum(-1)
        s.first[..., 0] += moved
        s.arrivals[..., ARR_FIRST] += moved

        demand = ((s.first + s.subsequent) * treat_hazard[None]).sum(-1)
        scale = np.where(demand > 0, np.minimum(treat_access, capacity / np.where(demand > 0, demand, 1.0)),
                         treat_access)
        rate = np.minimum(treat_hazard[None] * scale[..., None], 1.0)
        for q, hist in ((s.first, s.hist_first), (s.subsequent, s.hist_subsequent)):
            removed = q * rate
            np.add(hist, removed, out=hist)
            np.subtract(q, removed, out=q)
        for q in (s.fds, s.first, s.subsequent):
            _age_numpy(q)


# ------------------------------------------------------------------- census
def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(-1, keepdims=True)
    return np.divide(counts, total, out=np.zeros(np.broadcast_shapes(counts.shape, total.shape)), where=total > 0)


def probability_within(diagnosis_pmf: np.ndarray, dtt_pmf: np.ndarray, treatment_pmf: np.ndarray,
                       limit_days: int = REFERRAL_TO_TREATMENT_STANDARD_DAYS) -> np.ndarray:
    """P(D + X + W <= limit) for independent whole-day waits, by discrete convolution.

    Each argument is a pmf (or unnormalised counts; each is normalised, an
    all-zero row counts as a wait of 0) over days on its last axis; leading
    axes broadcast. Element-wise loops, no BLAS, so results do not depend on
    array shapes.

    Returns:
        float64 array of the broadcast leading shape.
    """
    n = limit_days + 1

    def head(p):
        p = _normalised(np.asarray(p, dtype=np.float64))
        zero = p.sum(-1) == 0
        p = p[..., :n].copy() if p.shape[-1] >= n else np.concatenate(
            [p, np.zeros(p.shape[:-1] + (n - p.shape[-1],))], axis=-1)
        p[..., 0] = np.where(zero, 1.0, p[..., 0])
        return p

    d, x, w = head(diagnosis_pmf), head(dtt_pmf), head(treatment_pmf)
    dx = np.zeros(np.broadcast_shapes(d.shape, x.shape))
    for i in range(n):
        dx[..., i:] += d[..., i:i + 1] * x[..., :n - i]
    w_cdf = np.cumsum(w, axis=-1)
    return (dx * w_cdf[..., ::-1]).sum(-1)


@dataclass(frozen=True, slots=True)
class CancerCensus:
    """Month-end counts per ``[rep, trust]``: sum trusts into areas before dividing.

    Attributes:
        fds_within, fds_total: diagnoses (or rulings out) within 28 days, and all.
        treat31_within, treat31_total: first and subsequent treatments within 31
            days of the decision to treat, and all.
        treat62_within, treat62_total: first treatments within 62 days of
            referral (by :func:`probability_within`), and all first treatments.
        referrals: USC referrals in the month.
    """

    fds_within: np.ndarray
    fds_total: np.ndarray
    treat31_within: np.ndarray
    treat31_total: np.ndarray
    treat62_within: np.ndarray
    treat62_total: np.ndarray
    referrals: np.ndarray


def census(state: CancerState, dtt_pmf: np.ndarray) -> CancerCensus:
    """Month-end cancer standards from the month's completions (accumulators are not reset).

    The 62-day wait of a first treatment is taken as the sum of three
    independent waits: the diagnosis wait (this month's ``hist_fds``,
    normalised), the diagnosis-to-decision delay (``dtt_pmf``) and the wait
    from decision to treatment (this month's ``hist_first``, normalised). So
    ``within = first treatments x P(sum <= 62)``. Independence, and using this
    month's diagnoses for patients diagnosed earlier, are exact only in a
    steady state; they ignore any tendency of the same patients to wait long
    at every stage.

    Args:
        state: the month's accumulators.
        dtt_pmf: ``[day]`` (or ``[trust, day]``) pmf of days from diagnosis to decision to treat.

    Returns:
        A :class:`CancerCensus` of float64 ``[rep, trust]`` arrays.
    """
    treated = state.hist_first + state.hist_subsequent
    first_total = state.hist_first.sum(-1)
    return CancerCensus(
        fds_within=state.hist_fds[..., :FDS_STANDARD_DAYS + 1].sum(-1),
        fds_total=state.hist_fds.sum(-1),
        treat31_within=treated[..., :TREATMENT_STANDARD_DAYS + 1].sum(-1),
        treat31_total=treated.sum(-1),
        treat62_within=first_total * probability_within(state.hist_fds, dtt_pmf, state.hist_first),
        treat62_total=first_total,
        referrals=state.arrivals[..., ARR_REFERRALS].copy(),
    )
