"""The DES's M/M/c mode against queueing theory: Erlang C, Cobham's priority waits and Little's law.

Each check runs independent replications (own ``des`` stream each), drops the
first 10% of patients as warm-up (the queue starts empty), and asks that the
theoretical value lie inside the 99% t-interval of the replication means. The
intervals are also required to be narrow (a few % of the value), so the test
can fail: a mechanism off by more than that is caught.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim.engine.mmc import erlang_c_wait, simulate_mmc
from sim.rng import stream

LAM, MU, C = 0.2, 0.1, 3  # utilisation 2/3
WQ = 40.0 / 9.0  # Erlang C: C(3, 2) = 4/9, Wq = (4/9) / (3 * 0.1 - 0.2) = 4.444


def _interval(samples: np.ndarray, level: float = 0.99) -> tuple[float, float]:
    mean = samples.mean(axis=0)
    half = stats.t.ppf(0.5 + level / 2, len(samples) - 1) * samples.std(axis=0, ddof=1) / math.sqrt(len(samples))
    return mean - half, mean + half


def _replication_waits(lam, mu, c, *, reps, patients, seed, shares=(0.0, 1.0, 0.0)) -> np.ndarray:
    """Mean wait in queue per replication (and per source), warm-up dropped: ``[rep, 1 + source]``."""
    warm = patients // 10
    out = []
    for r in range(reps):
        run = simulate_mmc(lam, mu, c, patients, stream(seed, r, "des"), class_shares=shares)
        waits, cls = run.wait_in_queue[warm:], run.classes[warm:]
        out.append([waits.mean()] + [waits[cls == k].mean() if (cls == k).any() else np.nan for k in range(3)])
    return np.asarray(out)


def test_erlang_c_formula_gives_the_textbook_values():
    assert erlang_c_wait(LAM, MU, C) == pytest.approx(4.4444444, rel=1e-7)
    assert erlang_c_wait(0.5, 1.0, 1) == pytest.approx(1.0)  # M/M/1: rho / (mu - lambda)
    with pytest.raises(ValueError):
        erlang_c_wait(0.4, 0.1, 3)  # utilisation 4/3: no steady state


def test_mean_wait_in_queue_is_erlang_c_within_a_99pct_interval():
    means = _replication_waits(LAM, MU, C, reps=12, patients=40_000, seed=2025)[:, 0]
    low, high = _interval(means)
    assert low <= WQ <= high, (low, means.mean(), high)
    assert high - low < 0.1 * WQ  # the interval is tight enough to catch a 5% error


@pytest.mark.parametrize("lam, mu, c", [(0.5, 1.0, 1), (4.0, 1.0, 5)], ids=["M/M/1 rho 0.5", "M/M/5 rho 0.8"])
def test_utilisation_sweep_against_erlang_c(lam, mu, c):
    means = _replication_waits(lam, mu, c, reps=8, patients=30_000, seed=7)[:, 0]
    low, high = _interval(means)
    expected = erlang_c_wait(lam, mu, c)
    assert low <= expected <= high, (low, means.mean(), high, expected)
    assert high - low < 0.15 * expected


def test_priority_sources_wait_as_cobham_predicts():
    # Non-preemptive priority, identical exponential service (Cobham 1954):
    # Wq_k = C(c, a) / (c mu (1 - s_{k-1}) (1 - s_k)), s_k = cumulative load of sources 1..k.
    shares = np.array([0.2, 0.3, 0.5])
    load = np.cumsum(shares) * LAM / (C * MU)
    before = np.concatenate([[0.0], load[:-1]])
    c_prob = erlang_c_wait(LAM, MU, C) * (C * MU - LAM)
    expected = c_prob / (C * MU * (1 - before) * (1 - load))  # 1.709, 2.564, 6.667
    assert shares @ expected == pytest.approx(WQ)  # the conservation law
    waits = _replication_waits(LAM, MU, C, reps=12, patients=40_000, seed=99, shares=tuple(shares))
    low, high = _interval(waits)
    assert np.all(low[1:] <= expected) and np.all(expected <= high[1:]), (low[1:], waits.mean(axis=0)[1:], high[1:])
    assert low[0] <= WQ <= high[0]


def test_littles_law_on_the_simulated_run():
    # L (time-average number present, read by a census process every 2 time units) = lambda W
    # (observed arrival rate x mean time in system of the patients arriving in the window); also
    # for the queue alone, and both against theory (Lq = lambda Wq = 0.889, L = Lq + lambda/mu = 2.889).
    run = simulate_mmc(LAM, MU, C, 100_000, stream(31, 0, "des"), sample_every=2.0)
    t0, t1 = run.arrival_time[10_000], run.arrival_time[-1]
    inside = (run.arrival_time >= t0) & (run.arrival_time <= t1)
    sampled = (run.sample_times >= t0) & (run.sample_times <= t1)
    rate = inside.sum() / (t1 - t0)
    system, queue = run.sample_in_system[sampled].mean(), run.sample_queue[sampled].mean()
    assert system == pytest.approx(rate * run.time_in_system[inside].mean(), rel=0.02)
    assert queue == pytest.approx(rate * run.wait_in_queue[inside].mean(), rel=0.04)
    assert system == pytest.approx(LAM * WQ + LAM / MU, rel=0.05)
    assert np.all(run.start_time >= run.arrival_time) and np.all(run.end_time > run.start_time)
    assert run.sample_in_system.max() - run.sample_queue.max() <= C
