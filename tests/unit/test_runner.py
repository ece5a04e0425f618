"""Batches and workers never change a replication's results."""

from pathlib import Path

import numpy as np
import pytest

from sim.config import load_scenario
from sim.metrics import MetricCube
from sim.runner import MAX_BATCH, batches, default_batch_size, plan_run, run_batch, run_plan

BASELINE = Path(__file__).resolve().parents[2] / "configs" / "baseline.yaml"


@pytest.fixture(scope="module")
def plan():
    scenario, doc = load_scenario(BASELINE, {"replications": 5, "end": "2025-06"})
    return plan_run(scenario, doc)


def test_batches_cover_every_replication_once():
    got = np.concatenate(batches(11, 4))
    assert got.tolist() == list(range(11))


def test_default_batches_keep_both_workers_busy_to_the_end():
    # 41 replications in batches of 6 would be seven batches: one worker runs the last alone.
    assert default_batch_size(41, 2) == 5
    sizes = [len(b) for b in batches(41, default_batch_size(41, 2))]
    assert sizes.count(5) == 8 and sizes.count(1) == 1
    assert default_batch_size(201, 1) == MAX_BATCH  # one worker: as few batches as memory allows
    for n in (1, 7, 41, 101, 201, 1001):
        for jobs in (1, 2, 4):
            size = default_batch_size(n, jobs)
            assert 1 <= size <= MAX_BATCH
            assert len(batches(n, size)) >= min(n, 4 * jobs)  # the pool and the progress bar stay busy


def test_batch_size_does_not_change_results(plan):
    one = run_batch(plan, np.arange(6))
    split = MetricCube.concat([run_batch(plan, np.arange(3, 6)), run_batch(plan, np.arange(0, 3))])
    assert np.array_equal(one.values, split.values, equal_nan=True)
    assert one.replications.tolist() == list(range(6))


def test_a_batch_neither_reads_nor_moves_the_global_random_state(plan):
    """Planning and simulating draw only from explicitly passed generators (the static check is in test_rng)."""
    import random

    np.random.seed(1)
    random.seed(1)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    first = run_batch(plan, np.arange(2))
    numpy_after, python_after = np.random.get_state(), random.getstate()
    assert python_after == python_before
    assert numpy_after[0] == numpy_before[0] and np.array_equal(numpy_after[1], numpy_before[1])
    assert numpy_after[2:] == numpy_before[2:]
    np.random.seed(99)  # a different global state must not change a replication
    random.seed(99)
    assert np.array_equal(run_batch(plan, np.arange(2)).values, first.values, equal_nan=True)


def test_process_pool_gives_the_same_bytes_as_serial(plan):
    serial = run_plan(plan, jobs=1, batch_size=2)
    pooled = run_plan(plan, jobs=2, batch_size=3)
    assert np.array_equal(serial.values, pooled.values, equal_nan=True)


def test_replication_zero_is_the_point_estimate_and_others_vary(plan):
    cube = run_batch(plan, np.arange(6))
    lists = cube.values[:, cube.series_index("national", "ENG"), cube.metric_index("rtt_waiting_list"), -1]
    assert len(np.unique(lists)) == 6  # every replication draws its own parameters
    again = run_batch(plan, np.array([0]))
    assert again.values[0, 0, 0, -1] == cube.values[0, 0, 0, -1]


def test_start_census_reproduces_the_published_march_2025_position(plan):
    cube = run_batch(plan, np.arange(1))
    eng = cube.series_index("national", "ENG")
    assert cube.dates[0] == "2025-03-31"
    assert cube.values[0, eng, cube.metric_index("rtt_waiting_list"), 0] == pytest.approx(7_418_598, abs=2)
    assert cube.values[0, eng, cube.metric_index("rtt_within_18w_pct"), 0] == pytest.approx(59.778, abs=0.01)
    assert cube.values[0, eng, cube.metric_index("rtt_over_52w"), 0] == pytest.approx(180_243, rel=1e-4)


def test_a_finished_batch_leaves_nothing_alive(plan, monkeypatch):
    """A worker runs batch after batch: each batch's model (and its state) must be freed.

    mesa 3.3 keeps every model in a class-level dict (mesa#3179); a worker then grew by the
    whole state of each batch it ran.
    """
    import gc
    import weakref

    from sim import runner

    made = []
    original = runner.NHSModel

    def tracked(*args, **kwargs):
        model = original(*args, **kwargs)
        made.append(weakref.ref(model))
        return model

    monkeypatch.setattr(runner, "NHSModel", tracked)
    run_batch(plan, np.arange(2))
    gc.collect()
    assert len(made) == 1 and made[0]() is None
