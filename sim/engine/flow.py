"""The RTT flow engine: waiting lists as stocks by weeks waited, stepped in time.

State: ``stock[replication, row, stage, bin]`` (float32), where a row is one
trust x treatment-function pair, stage 0 is the non-admitted stage (before a
decision to admit) and stage 1 the admitted stage (after it), and bin ``b``
holds pathways that have been ageing for ``b`` completed engine weeks (the last
bin is open-ended: 104 weeks and over with 105 bins).

One call of :func:`advance` moves every row through a sub-step of the weekly
calendar (a whole week, or the part of a week up to a month-end census):

1. clock starts enter bin 0 of the non-admitted stage;
2. non-admitted activity removes pathways by the priority policy; a share of
   what it removes are decisions to admit, which move to the admitted stage in
   the same bin (the clock keeps running), the rest are clock stops;
3. admitted activity (theatre capacity) removes admitted pathways by the same
   policy with its own profile: these are admitted clock stops;
4. other (non-treatment) removals: a baseline rate shaped by weeks waited, plus
   validation removals on pathways waiting at least a given number of weeks;
5. at a week boundary the bins age by one week (a shift; the last bin
   accumulates).

Priority policy: activity is shared over bins in proportion to
``stock[b] * hazard[b]``: a clinical-priority term (urgent referrals seen soon
after referral), a flat term and a treat-in-turn term that rises with weeks
waited. A bin is never emptied beyond its stock; the activity it cannot use is
shared among the others. Activity left when a row's list is empty is unused.

Engines are mechanics only: arrays in, arrays out, no policy, no I/O, no
random numbers. The numba kernel is the production path; :func:`advance_numpy`
is the plain reference it is tested against.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NONADMITTED = 0
ADMITTED = 1
N_STAGES = 2

# Accumulator columns (per replication and row), summed until the month-end census.
ACC_CLOCK_STARTS = 0
ACC_STOPS_NONADMITTED = 1
ACC_STOPS_ADMITTED = 2
ACC_DECISIONS_TO_ADMIT = 3
ACC_OTHER_REMOVALS = 4
N_ACC = 5

# Let LLVM reorder and fuse the per-bin sums and products so they vectorise (about 1.4x on this
# kernel). No flags that assume away NaN or infinity. A row's sums still depend only on its own
# bins, so a replication's results never depend on the batch it shares (tests/integration/test_cli_run.py).
FASTMATH = {"reassoc", "contract", "nsz", "arcp"}


@njit(cache=True, inline="always")
def share_in_order(stock, total, weight, order, activity):
    """The priority policy: ``activity`` shared over bins in proportion to ``stock * weight``, none emptied beyond its stock.

    With bins visited in decreasing ``weight`` (``order``), the bins that end
    up emptied are a leading run of that order: the first position ``J`` such
    that the rest, sharing what is left in proportion to ``stock * weight``,
    empties none of its occupied bins. That test fails before ``J`` and holds
    at every position after it (emptying more than needed only lowers the
    rest's scale), so the walk starts at the lightest bin and stops at the
    first occupied position where it fails.

    The weight of the rest is summed from the lightest bin up, never by
    subtracting emptied bins from the total: steep diagnostic in-turn weights
    span more than float64's 16 digits between neighbouring weeks, and the
    subtraction would leave rounding noise larger than what remains. (Stock
    is subtracted: its sums carry no such range.) A walk from the heaviest
    bin, falling back to this one when the difference became noise, was 3%
    faster on RTT rows and 40% slower on diagnostic rows.

    ``total`` is the row's stock. Returns ``(J, k)``: positions before ``J``
    are emptied, the rest gives up ``stock * k * weight``; ``J = -1`` when
    every bin is emptied.
    """
    n = stock.shape[0]
    if activity <= 0.0 or total <= 0.0:
        return 0, 0.0
    if activity >= total:
        return -1, 0.0
    tail = 0.0
    rest = 0.0
    k = 0.0
    first = n
    for j in range(n - 1, -1, -1):
        b = order[j]
        x = np.float64(stock[b])
        if x <= 0.0:
            continue
        tail_j = tail + x * weight[b]
        rest_j = rest + x
        left = activity - (total - rest_j)
        if tail_j > 0.0 and left * weight[b] >= tail_j:  # the rest from j would empty bin j
            return first, k  # (bins of zero weight, lightest of all, share nothing and are never emptied)
        tail = tail_j
        rest = rest_j
        # Lighter positions than the answer can have left < 0; at the answer it is not (bar rounding).
        k = max(left / tail_j, 0.0) if tail_j > 0.0 else 0.0
        first = j
    return first, k


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _shift_out(row, x, frac_k, other_profile, validation_rate, validation_min_bin, age):
    """Write ``x`` less its other removals into ``row``, aged by a week if ``age``; returns what left."""
    n_bins = row.shape[0]
    gone = 0.0
    if age:
        row[0] = 0.0
        for b in range(n_bins - 1):
            f = min(frac_k * other_profile[b] + (validation_rate if b >= validation_min_bin else 0.0), 1.0)
            gone += x[b] * f
            row[b + 1] = x[b] * (1.0 - f)
        top = n_bins - 1
        f = min(frac_k * other_profile[top] + (validation_rate if top >= validation_min_bin else 0.0), 1.0)
        gone += x[top] * f
        row[top] += x[top] * (1.0 - f)  # the open last bin keeps its own and receives the one below
    else:
        for b in range(n_bins):
            f = min(frac_k * other_profile[b] + (validation_rate if b >= validation_min_bin else 0.0), 1.0)
            gone += x[b] * f
            row[b] = x[b] * (1.0 - f)
    return gone


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _row_exact(s_n, s_a, h_n, h_a, order_n, rank_n, order_a, rank_a, total_n, act_n, act_a, dta, other_rate,
               validation_rate, validation_min_bin, other_profile, age, x_n, x_a, acc_row, waiting_row, treated_row):
    """One row where some occupied bin would give up more than it holds: exact sharing, stage by stage.

    Each stage's activity by :func:`share_in_order` (bins emptied from the
    highest priority down, the rest shared), the decisions to admit moved
    into the admitted stage before its activity, then other removals and
    ageing. Four sweeps and two short walks.
    """
    n_bins = s_n.shape[0]
    first, k = share_in_order(s_n, total_n, h_n, order_n, act_n)
    done = 0.0
    total_a = 0.0
    for b in range(n_bins):
        n = np.float64(s_n[b])
        gone = n if (first < 0 or rank_n[b] < first) else n * k * h_n[b]
        done += gone
        x_n[b] = n - gone
        x_a[b] = s_a[b] + dta * gone
        total_a += x_a[b]
    acc_row[ACC_DECISIONS_TO_ADMIT] += done * dta
    acc_row[ACC_STOPS_NONADMITTED] += done * (1.0 - dta)
    treated_row[NONADMITTED] = done
    first, k = share_in_order(x_a, total_a, h_a, order_a, act_a)
    done = 0.0
    left_n = weighted_n = left_a = weighted_a = 0.0
    for b in range(n_bins):
        a = x_a[b]
        gone = a if (first < 0 or rank_a[b] < first) else a * k * h_a[b]
        done += gone
        x_a[b] = a - gone
        left_n += x_n[b]
        weighted_n += x_n[b] * other_profile[b]
        left_a += x_a[b]
        weighted_a += x_a[b] * other_profile[b]
    acc_row[ACC_STOPS_ADMITTED] += done
    treated_row[ADMITTED] = done
    waiting_row[NONADMITTED] = left_n
    waiting_row[ADMITTED] = left_a
    frac_n = other_rate * left_n / weighted_n if weighted_n > 0.0 else 0.0
    frac_a = other_rate * left_a / weighted_a if weighted_a > 0.0 else 0.0
    acc_row[ACC_OTHER_REMOVALS] += (
        _shift_out(s_n, x_n, frac_n, other_profile, validation_rate, validation_min_bin, age)
        + _shift_out(s_a, x_a, frac_a, other_profile, validation_rate, validation_min_bin, age)
    )


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _scale(activity, total, weight, hazard_max):
    """Removal scale k (removals = stock * k * hazard), 0 when nothing moves, -1 when a bin would saturate."""
    if activity <= 0.0 or total <= 0.0 or weight <= 0.0:
        return 0.0
    k = min(activity, total) / weight
    return k if k * hazard_max < 1.0 else -1.0


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _bin_flows(n, a, hn, ha, profile, validation, k_n, k_a, moved, frac_n, frac_a):
    """One bin of both stages: what stays of each after activity by priority (``1 - k h``), decisions to admit
    (into the admitted stage), other removals and validation; and the other removals and validation."""
    xn = n * (1.0 - k_n * hn)
    xa = (a + moved * hn * n) * (1.0 - k_a * ha)
    fn = min(frac_n * profile + validation, 1.0)
    fa = min(frac_a * profile + validation, 1.0)
    return xn * (1.0 - fn), xa * (1.0 - fa), xn * fn + xa * fa


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _apply_fast(s_n, s_a, h_n, h_a, k_n, k_a, moved, frac_n, frac_a, v_rate, validation_min_bin, other_profile, age):
    """Every flow of the sub-step on both stages in one sweep, aged by a week if ``age``; returns other removals.

    With ageing the sweep walks down from the open last bin, so each bin is
    read before the one below is written into it, and the loop has no branch
    (it vectorises; 2.5x the earlier per-stage passes, docs/ARCHITECTURE.md).
    """
    n_bins = s_n.shape[0]
    gone = 0.0
    if age:
        top = n_bins - 1
        kept_n, kept_a, gone = _bin_flows(np.float64(s_n[top]), np.float64(s_a[top]), h_n[top], h_a[top],
                                          other_profile[top], v_rate if top >= validation_min_bin else 0.0,
                                          k_n, k_a, moved, frac_n, frac_a)
        for b in range(top - 1, -1, -1):
            n, a, g = _bin_flows(np.float64(s_n[b]), np.float64(s_a[b]), h_n[b], h_a[b], other_profile[b],
                                 v_rate if b >= validation_min_bin else 0.0, k_n, k_a, moved, frac_n, frac_a)
            gone += g
            s_n[b + 1] = n
            s_a[b + 1] = a
        s_n[top] += kept_n  # the open last bin keeps its own and receives the one below
        s_a[top] += kept_a
        s_n[0] = 0.0
        s_a[0] = 0.0
    else:
        for b in range(n_bins):
            n, a, g = _bin_flows(np.float64(s_n[b]), np.float64(s_a[b]), h_n[b], h_a[b], other_profile[b],
                                 v_rate if b >= validation_min_bin else 0.0, k_n, k_a, moved, frac_n, frac_a)
            gone += g
            s_n[b] = n
            s_a[b] = a
    return gone


@njit(cache=True, fastmath=FASTMATH)
def _advance_kernel(
    stock,
    clock_starts,
    nonadmitted_activity,
    admitted_activity,
    dta_share,
    other_rate,
    validation_rate,
    validation_min_bin,
    hazard,
    order,
    rank,
    other_profile,
    age,
    acc,
    waiting,
    treated,
):
    """Two sweeps per row: sums, then every flow of the sub-step applied at once.

    With no saturated bin each flow is a per-bin factor, so the totals every
    later flow needs (after activity, after the admitted stage receives its
    decisions to admit) follow from sums over the untouched row; the second
    sweep applies them all and ages. A row where a bin might give up more than
    it holds takes the exact path, :func:`_row_exact`.
    """
    n_reps, n_rows, _, n_bins = stock.shape
    x_n = np.empty(n_bins)
    x_a = np.empty(n_bins)
    for r in range(n_reps):
        h_n = hazard[r, NONADMITTED]
        h_a = hazard[r, ADMITTED]
        hmax_n = h_n.max()
        hmax_a = h_a.max()
        dta = dta_share[r]
        o_rate = other_rate[r]
        v_rate = validation_rate[r]
        for i in range(n_rows):
            s_n = stock[r, i, NONADMITTED]
            s_a = stock[r, i, ADMITTED]
            acc_row = acc[r, i]
            starts = clock_starts[r, i]
            acc_row[ACC_CLOCK_STARTS] += starts
            s_n[0] += starts
            act_n = nonadmitted_activity[r, i]
            act_a = admitted_activity[r, i]

            total_n = weight_n = p_n = ph_n = 0.0
            total_a = weight_a = p_a = ph_a = cross = p_cross = 0.0
            for b in range(n_bins):
                n = np.float64(s_n[b])
                a = np.float64(s_a[b])
                hn = n * h_n[b]
                total_n += n
                weight_n += hn
                p_n += n * other_profile[b]
                ph_n += hn * other_profile[b]
                total_a += a
                weight_a += a * h_a[b]
                p_a += a * other_profile[b]
                ph_a += a * h_a[b] * other_profile[b]
                cross += hn * h_a[b]
                p_cross += hn * h_a[b] * other_profile[b]

            k_n = _scale(act_n, total_n, weight_n, hmax_n)
            moved = dta * max(k_n, 0.0)
            k_a = _scale(act_a, total_a + moved * weight_n, weight_a + moved * cross, hmax_a)
            if k_n < 0.0 or k_a < 0.0:
                _row_exact(s_n, s_a, h_n, h_a, order[r, NONADMITTED], rank[r, NONADMITTED], order[r, ADMITTED],
                           rank[r, ADMITTED], total_n, act_n, act_a, dta, o_rate, v_rate, validation_min_bin,
                           other_profile, age, x_n, x_a, acc_row, waiting[r, i], treated[r, i])
                continue

            done_n = k_n * weight_n
            done_a = k_a * (weight_a + moved * cross)
            acc_row[ACC_DECISIONS_TO_ADMIT] += done_n * dta
            acc_row[ACC_STOPS_NONADMITTED] += done_n * (1.0 - dta)
            acc_row[ACC_STOPS_ADMITTED] += done_a
            left_n = total_n - done_n
            left_a = total_a + moved * weight_n - done_a
            waiting[r, i, NONADMITTED] = left_n
            waiting[r, i, ADMITTED] = left_a
            treated[r, i, NONADMITTED] = done_n
            treated[r, i, ADMITTED] = done_a
            wp_n = p_n - k_n * ph_n
            wp_a = p_a + moved * ph_n - k_a * (ph_a + moved * p_cross)
            frac_n = o_rate * left_n / wp_n if wp_n > 0.0 else 0.0
            frac_a = o_rate * left_a / wp_a if wp_a > 0.0 else 0.0
            acc_row[ACC_OTHER_REMOVALS] += _apply_fast(s_n, s_a, h_n, h_a, k_n, k_a, moved, frac_n, frac_a, v_rate,
                                                       validation_min_bin, other_profile, age)


def advance(
    stock: np.ndarray,
    acc: np.ndarray,
    *,
    clock_starts: np.ndarray,
    nonadmitted_activity: np.ndarray,
    admitted_activity: np.ndarray,
    dta_share: np.ndarray,
    other_rate: np.ndarray,
    validation_rate: np.ndarray,
    validation_min_bin: int,
    hazard: np.ndarray,
    other_profile: np.ndarray,
    age: bool,
    waiting: np.ndarray | None = None,
    treated: np.ndarray | None = None,
) -> None:
    """Move every row through one sub-step, in place.

    Args:
        stock: float32 ``[rep, row, stage, bin]`` pathways on the list (at least two bins: the last is open-ended).
        acc: float64 ``[rep, row, N_ACC]`` flow accumulators (added to).
        clock_starts: float64 ``[rep, row]`` new pathways in this sub-step.
        nonadmitted_activity: float64 ``[rep, row]`` non-admitted removals available
            (clock stops plus decisions to admit) in this sub-step.
        admitted_activity: float64 ``[rep, row]`` admitted clock stops available.
        dta_share: float64 ``[rep]`` share of non-admitted activity that is a
            decision to admit rather than a clock stop.
        other_rate: float64 ``[rep]`` other removals in this sub-step as a share of
            the list (the shape over bins comes from ``other_profile``).
        validation_rate: float64 ``[rep]`` extra share removed from each bin at or
            beyond ``validation_min_bin`` in this sub-step.
        validation_min_bin: first bin that validation reaches.
        hazard: float64 ``[rep, stage, bin]`` relative priority of each bin.
        other_profile: float64 ``[bin]`` relative rate of other removals by bin.
        age: whether this sub-step ends a week (bins shift by one).
        waiting: float64 ``[rep, row, stage]``, overwritten when given: each stage's list after this
            sub-step's activity (before other removals), which capacity redeployment shares spare activity by.
        treated: float64 ``[rep, row, stage]``, overwritten when given: the activity each stage used
            (non-admitted: clock stops and decisions to admit).
    """
    if waiting is None:
        waiting = np.empty(stock.shape[:3])
    if treated is None:
        treated = np.empty(stock.shape[:3])
    if stock.shape[-1] < 2:
        raise ValueError("the flow engine needs at least two wait bins (the last one is open-ended)")
    order, rank = priority_order(hazard)
    _advance_kernel(
        stock,
        clock_starts,
        nonadmitted_activity,
        admitted_activity,
        dta_share,
        other_rate,
        validation_rate,
        validation_min_bin,
        hazard,
        order,
        rank,
        other_profile,
        age,
        acc,
        waiting,
        treated,
    )


def priority_order(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bins in decreasing ``weight`` over the last axis (stable), and each bin's position in that order."""
    order = np.ascontiguousarray(np.argsort(-weight, axis=-1, kind="stable"))
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(order.shape[-1]), order.shape), axis=-1)
    return order, rank


def _share_activity_numpy(stock: np.ndarray, hazard: np.ndarray, activity: np.ndarray) -> np.ndarray:
    """Reference for the kernel's priority policy, vectorised over leading axes."""
    stock = stock.astype(np.float64)
    out = np.zeros_like(stock)
    total = stock.sum(axis=-1)
    remaining = np.minimum(activity, total)
    for _ in range(stock.shape[-1]):
        open_ = out < stock
        weight = ((stock - out) * hazard * open_).sum(axis=-1)
        active = (remaining > 0) & (weight > 0)
        if not active.any():
            break
        k = np.where(active, remaining / np.where(weight > 0, weight, 1.0), 0.0)[..., None]
        saturate = open_ & (k * hazard >= 1.0) & active[..., None]
        unsaturated_rows = active & ~saturate.any(axis=-1)
        take = np.where(open_ & unsaturated_rows[..., None], (stock - out) * k * hazard, 0.0)
        out += take
        remaining = np.where(unsaturated_rows, 0.0, remaining)
        gained = np.where(saturate, stock - out, 0.0)
        out = np.where(saturate, stock, out)
        remaining = remaining - gained.sum(axis=-1)
    return out


def advance_numpy(stock, acc, *, clock_starts, nonadmitted_activity, admitted_activity, dta_share,
                  other_rate, validation_rate, validation_min_bin, hazard, other_profile, age, waiting=None,
                  treated=None) -> None:
    """Plain numpy reference of :func:`advance` (slow; for tests only)."""
    work = stock.astype(np.float64)
    acc[..., ACC_CLOCK_STARTS] += clock_starts
    work[:, :, NONADMITTED, 0] += clock_starts
    removed = _share_activity_numpy(work[:, :, NONADMITTED], hazard[:, None, NONADMITTED], nonadmitted_activity)
    if treated is not None:
        treated[..., NONADMITTED] = removed.sum(axis=-1)
    moved = removed * dta_share[:, None, None]
    work[:, :, NONADMITTED] = np.maximum(work[:, :, NONADMITTED] - removed, 0.0)
    work[:, :, ADMITTED] += moved
    acc[..., ACC_DECISIONS_TO_ADMIT] += moved.sum(axis=-1)
    acc[..., ACC_STOPS_NONADMITTED] += (removed - moved).sum(axis=-1)
    removed = _share_activity_numpy(work[:, :, ADMITTED], hazard[:, None, ADMITTED], admitted_activity)
    work[:, :, ADMITTED] = np.maximum(work[:, :, ADMITTED] - removed, 0.0)
    acc[..., ACC_STOPS_ADMITTED] += removed.sum(axis=-1)
    if treated is not None:
        treated[..., ADMITTED] = removed.sum(axis=-1)
    total = work.sum(axis=-1)
    if waiting is not None:
        waiting[...] = total
    weighted = (work * other_profile).sum(axis=-1)
    k = np.where(weighted > 0, other_rate[:, None, None] * total / np.where(weighted > 0, weighted, 1.0), 0.0)
    frac = k[..., None] * other_profile
    frac[..., validation_min_bin:] += validation_rate[:, None, None, None]
    gone = work * np.minimum(frac, 1.0)
    acc[..., ACC_OTHER_REMOVALS] += gone.sum(axis=(-1, -2))
    work -= gone
    if age:
        work[..., -1] += work[..., -2]
        work[..., 1:-1] = work[..., :-2].copy()
        work[..., 0] = 0.0
    stock[...] = work
