"""The diagnostic list kernel: agrees with its numpy reference, conserves requests, honours priority."""

import numpy as np
import pytest

from sim.engine import diagnostics as dx

N_BINS = 27


def _state(seed=3, reps=3, rows=5):
    rng = np.random.default_rng(seed)
    stock = (rng.random((reps, rows, dx.N_SOURCES, N_BINS)) * 10).astype(np.float32)
    requests = rng.random((reps, rows, dx.N_SOURCES)) * 30
    capacity = rng.random((reps, rows)) * 200
    return stock, requests, capacity


def _weight(slope=0.2):
    return dx.priority_weights(np.array([20.0, 2.0, 1.0]), 1.0 + slope * np.arange(N_BINS))


@pytest.mark.parametrize("age", [False, True])
@pytest.mark.parametrize("in_turn", [None, 1.5, 6.0])
def test_kernel_matches_numpy_reference(age, in_turn):
    """Including steep exponential in-turn weights, where many bins are emptied in one step.

    6 per week (a slope the DM01 fit gives some tests) makes weights a factor
    e^6 apart each week, so a few weeks span more than float64's precision:
    the kernel once subtracted emptied bins from the total weight and was left
    with rounding noise, treating no one.
    """
    stock, requests, capacity = _state()
    weight = (dx.priority_weights(np.array([10.0, 1.0, 1.0]), dx.in_turn_hazard(in_turn, N_BINS)) if in_turn
              else _weight())
    capacity[0, 0] = 1e6  # a row whose list empties
    capacity[1, 2] = 0.0
    a, b = stock.copy(), stock.copy()
    acc_a, acc_b = np.zeros(a.shape[:2] + (dx.N_ACC,)), np.zeros(a.shape[:2] + (dx.N_ACC,))
    done_a, done_b = np.zeros(a.shape[:3]), np.zeros(a.shape[:3])
    waiting_a, waiting_b = np.zeros(a.shape[:3]), np.zeros(a.shape[:3])
    for _ in range(4):
        dx.advance(a, acc_a, done_a, requests=requests, list_capacity=capacity, weight=weight, age=age,
                   waiting=waiting_a)
        dx.advance_numpy(b, acc_b, done_b, requests=requests, list_capacity=capacity, weight=weight, age=age,
                         waiting=waiting_b)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(acc_a, acc_b, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(done_a, done_b, rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(waiting_a, waiting_b, rtol=1e-6, atol=1e-3)
    # The lists the kernel reports are the stock it leaves (before float32 rounding).
    np.testing.assert_allclose(waiting_a, a.sum(axis=-1, dtype=np.float64), rtol=1e-6, atol=1e-3)


def test_requests_are_conserved():
    stock, requests, capacity = _state(seed=9)
    before = stock.sum(dtype=np.float64)
    acc = np.zeros(stock.shape[:2] + (dx.N_ACC,))
    done = np.zeros(stock.shape[:3])
    for week in range(10):
        dx.advance(stock, acc, done, requests=requests, list_capacity=capacity, weight=_weight(), age=week % 2 == 0)
    added = acc[..., dx.ACC_REQUESTS:dx.ACC_REQUESTS + 3].sum()
    tested = acc[..., dx.ACC_TESTS:dx.ACC_TESTS + 3].sum()
    assert stock.sum(dtype=np.float64) == pytest.approx(before + added - tested, rel=1e-6)
    assert (stock >= 0).all()


def test_tests_never_exceed_capacity_or_list():
    stock, requests, capacity = _state(seed=5)
    total = stock.sum(axis=(2, 3), dtype=np.float64) + requests.sum(axis=-1)
    acc = np.zeros(stock.shape[:2] + (dx.N_ACC,))
    done = np.zeros(stock.shape[:3])
    dx.advance(stock, acc, done, requests=requests, list_capacity=capacity, weight=_weight(), age=False)
    tests = done.sum(axis=-1)
    assert (tests <= np.minimum(capacity, total) * (1 + 1e-6) + 1e-6).all()
    # With a list longer than capacity, every test available is used.
    busy = total > capacity * 1.01
    np.testing.assert_allclose(tests[busy], capacity[busy], rtol=1e-5)


def test_urgent_requests_are_seen_first():
    stock = np.zeros((1, 1, dx.N_SOURCES, N_BINS), dtype=np.float32)
    stock[0, 0, dx.OTHER, 10] = 1000.0  # a long-waiting routine backlog
    requests = np.array([[[50.0, 0.0, 0.0]]])
    acc = np.zeros((1, 1, dx.N_ACC))
    done = np.zeros((1, 1, dx.N_SOURCES))
    weight = dx.priority_weights(np.array([1000.0, 2.0, 1.0]), np.ones(N_BINS))
    dx.advance(stock, acc, done, requests=requests, list_capacity=np.array([[60.0]]), weight=weight, age=False)
    assert done[0, 0, dx.URGENT] == pytest.approx(50.0, rel=1e-3)
    assert done[0, 0, dx.OTHER] == pytest.approx(10.0, rel=1e-2)


def test_ageing_moves_every_source_one_bin():
    stock = np.zeros((1, 1, dx.N_SOURCES, N_BINS), dtype=np.float32)
    stock[0, 0, :, 3] = [1.0, 2.0, 3.0]
    stock[0, 0, :, -1] = 5.0
    stock[0, 0, :, -2] = 1.0
    acc = np.zeros((1, 1, dx.N_ACC))
    done = np.zeros((1, 1, dx.N_SOURCES))
    dx.advance(stock, acc, done, requests=np.zeros((1, 1, 3)), list_capacity=np.zeros((1, 1)),
               weight=_weight(), age=True)
    np.testing.assert_array_equal(stock[0, 0, :, 4], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(stock[0, 0, :, -1], [6.0, 6.0, 6.0])
    assert stock[0, 0, :, 0].sum() == 0.0


def test_each_row_uses_its_own_weight_table():
    stock, requests, capacity = _state(seed=11, rows=4)
    tables = np.stack([_weight(0.0), _weight(5.0)])
    row_table = np.array([0, 1, 0, 1])
    a, b = stock.copy(), stock.copy()
    acc = np.zeros(a.shape[:2] + (dx.N_ACC,))
    done_a, done_b = np.zeros(a.shape[:3]), np.zeros(a.shape[:3])
    dx.advance(a, acc.copy(), done_a, requests=requests, list_capacity=capacity, weight=tables, age=False,
               row_weight=row_table)
    dx.advance_numpy(b, acc.copy(), done_b, requests=requests, list_capacity=capacity, weight=tables, age=False,
                     row_weight=row_table)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
    single = stock.copy()
    dx.advance(single, acc.copy(), np.zeros(a.shape[:3]), requests=requests, list_capacity=capacity,
               weight=_weight(5.0), age=False)
    np.testing.assert_allclose(a[:, 1], single[:, 1], rtol=1e-6)   # table 1 rows match a single-table run
    with pytest.raises(ValueError, match="weight table"):
        dx.advance(stock.copy(), acc.copy(), np.zeros(a.shape[:3]), requests=requests, list_capacity=capacity,
                   weight=tables, age=False, row_weight=np.array([0, 1, 2, 0]))
