"""The flow kernel: hand-checkable steps, conservation, and agreement with the numpy reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine import flow

N_BINS = 6


def _step(stock, *, starts=0.0, nonadm=0.0, adm=0.0, dta=0.0, other=0.0, validation=0.0, min_bin=0,
          hazard=None, profile=None, age=False, impl=flow.advance, waiting=None):
    n_reps, n_rows = stock.shape[:2]
    acc = np.zeros((n_reps, n_rows, flow.N_ACC))
    impl(stock, acc,
         clock_starts=np.full((n_reps, n_rows), starts),
         nonadmitted_activity=np.full((n_reps, n_rows), nonadm),
         admitted_activity=np.full((n_reps, n_rows), adm),
         dta_share=np.full(n_reps, dta),
         other_rate=np.full(n_reps, other),
         validation_rate=np.full(n_reps, validation),
         validation_min_bin=min_bin,
         hazard=np.ones((n_reps, 2, stock.shape[-1])) if hazard is None else np.broadcast_to(hazard, (n_reps,) + hazard.shape[-2:]).copy(),
         other_profile=np.ones(stock.shape[-1]) if profile is None else profile,
         age=age, waiting=waiting)
    return acc


def _stock(nonadmitted, admitted=None):
    s = np.zeros((1, 1, 2, len(nonadmitted)), dtype=np.float32)
    s[0, 0, 0] = nonadmitted
    if admitted is not None:
        s[0, 0, 1] = admitted
    return s


def test_clock_starts_enter_bin_zero_and_ageing_shifts_one_week():
    s = _stock([0, 10, 20, 30, 40, 50])
    acc = _step(s, starts=5.0, age=True)
    # bin 0 -> 1, each bin moves up, the last bin keeps its own plus the one below
    assert s[0, 0, 0].tolist() == [0, 5, 10, 20, 30, 90]
    assert acc[0, 0, flow.ACC_CLOCK_STARTS] == 5.0


def test_flat_priority_removes_in_proportion_to_stock():
    s = _stock([0, 10, 30, 0, 0, 0])
    acc = _step(s, nonadm=8.0)
    assert s[0, 0, 0].tolist() == pytest.approx([0, 8, 24, 0, 0, 0])
    assert acc[0, 0, flow.ACC_STOPS_NONADMITTED] == pytest.approx(8.0)


def test_decisions_to_admit_move_to_the_admitted_stage_in_the_same_bin():
    s = _stock([0, 10, 30, 0, 0, 0])
    acc = _step(s, nonadm=8.0, dta=0.25)
    assert s[0, 0, 1].tolist() == pytest.approx([0, 0.5, 1.5, 0, 0, 0])
    assert acc[0, 0, flow.ACC_DECISIONS_TO_ADMIT] == pytest.approx(2.0)
    assert acc[0, 0, flow.ACC_STOPS_NONADMITTED] == pytest.approx(6.0)


def test_activity_beyond_the_list_empties_it_and_no_more():
    s = _stock([0, 3, 2, 0, 0, 0], admitted=[0, 0, 1, 1, 0, 0])
    acc = _step(s, nonadm=100.0, adm=100.0)
    assert s.sum() == 0.0
    assert acc[0, 0, flow.ACC_STOPS_NONADMITTED] == pytest.approx(5.0)
    assert acc[0, 0, flow.ACC_STOPS_ADMITTED] == pytest.approx(2.0)


def test_a_saturated_priority_bin_is_emptied_and_the_rest_shared():
    # Bin 5 has 100x priority: it would lose more than it holds, so it is emptied
    # and the remaining activity is shared over the others by their priority.
    hazard = np.ones((2, N_BINS))
    hazard[:, 5] = 100.0
    s = _stock([0, 10, 10, 0, 0, 1])
    _step(s, nonadm=5.0, hazard=hazard)
    assert s[0, 0, 0, 5] == 0.0
    assert s[0, 0, 0, 1:3].tolist() == pytest.approx([8.0, 8.0])


def test_other_removals_take_the_stated_share_shaped_by_the_profile():
    profile = np.array([1, 1, 1, 1, 3, 3], dtype=float)
    s = _stock([0, 10, 10, 0, 10, 0])
    acc = _step(s, other=0.1, profile=profile)
    assert acc[0, 0, flow.ACC_OTHER_REMOVALS] == pytest.approx(3.0)  # 10% of 30
    # rate per unit profile k: 3 = k * (10 + 10 + 30) -> k = 0.06
    assert s[0, 0, 0, [1, 2, 4]].tolist() == pytest.approx([9.4, 9.4, 8.2])


def test_validation_reaches_only_bins_at_or_beyond_its_first_bin():
    s = _stock([0, 10, 10, 10, 10, 10])
    acc = _step(s, validation=0.5, min_bin=3)
    assert s[0, 0, 0].tolist() == pytest.approx([0, 10, 10, 5, 5, 5])
    assert acc[0, 0, flow.ACC_OTHER_REMOVALS] == pytest.approx(15.0)


def _random_case(rng, n_reps=3, n_rows=5, n_bins=12):
    stock = (rng.random((n_reps, n_rows, 2, n_bins)) * rng.choice([0.1, 10, 1000], size=(n_reps, n_rows, 1, 1)))
    stock = stock.astype(np.float32)
    kwargs = dict(
        clock_starts=rng.random((n_reps, n_rows)) * 50,
        nonadmitted_activity=rng.random((n_reps, n_rows)) * rng.choice([1, 100, 10_000], size=(n_reps, n_rows)),
        admitted_activity=rng.random((n_reps, n_rows)) * 30,
        dta_share=rng.random(n_reps) * 0.4,
        other_rate=rng.random(n_reps) * 0.05,
        validation_rate=rng.random(n_reps) * 0.02,
        validation_min_bin=int(rng.integers(0, n_bins)),
        hazard=1 + rng.random((n_reps, 2, n_bins)) * rng.choice([1, 50]),
        other_profile=1 + rng.random(n_bins) * 3,
        age=bool(rng.integers(0, 2)),
    )
    return stock, kwargs


def test_a_plateau_of_tiny_long_waits_is_emptied_exactly():
    """The late-horizon case: the highest-priority bins (a flat long-wait plateau, so ties) hold a few pathways.

    The fast path's check sees a bin that would give up more than it holds,
    so the row takes the exact path: the plateau is emptied and the rest
    shares what is left, as the numpy reference does.
    """
    hazard = np.array([[3.0, 1.0, 1.0, 2.0, 50.0, 50.0], [1.0, 1.0, 1.0, 1.0, 40.0, 40.0]])
    s = _stock([0, 400, 300, 100, 0.02, 0.01], [0, 50, 20, 5, 0.01, 0])
    ref = s.copy()
    waiting, waiting_ref = np.zeros((1, 1, 2)), np.zeros((1, 1, 2))
    acc = _step(s, nonadm=150.0, adm=30.0, dta=0.2, other=0.01, hazard=hazard, age=True, waiting=waiting)
    acc_ref = _step(ref, nonadm=150.0, adm=30.0, dta=0.2, other=0.01, hazard=hazard, age=True,
                    impl=flow.advance_numpy, waiting=waiting_ref)
    np.testing.assert_allclose(waiting, waiting_ref, rtol=1e-6)
    np.testing.assert_allclose(s, ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acc, acc_ref, rtol=1e-6, atol=1e-9)
    assert s[0, 0, 0, -1] == 0.0 and s[0, 0, 1, -1] == 0.0  # the plateau (aged into the last bin) emptied
    assert acc[0, 0, flow.ACC_STOPS_NONADMITTED] + acc[0, 0, flow.ACC_DECISIONS_TO_ADMIT] == pytest.approx(150.0)


@pytest.mark.parametrize("seed", range(25))
def test_numba_kernel_agrees_with_the_numpy_reference(seed):
    rng = np.random.default_rng(seed)
    stock, kwargs = _random_case(rng)
    a, b = stock.copy(), stock.copy()
    acc_a = np.zeros(stock.shape[:2] + (flow.N_ACC,))
    acc_b = acc_a.copy()
    waiting_a, waiting_b = np.full(stock.shape[:3], np.nan), np.full(stock.shape[:3], np.nan)
    treated_a, treated_b = np.full(stock.shape[:3], np.nan), np.full(stock.shape[:3], np.nan)
    flow.advance(a, acc_a, waiting=waiting_a, treated=treated_a, **kwargs)
    flow.advance_numpy(b, acc_b, waiting=waiting_b, treated=treated_b, **kwargs)
    np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-3)
    np.testing.assert_allclose(acc_a, acc_b, rtol=2e-5, atol=1e-3)
    np.testing.assert_allclose(treated_a, treated_b, rtol=2e-5, atol=1e-3)
    np.testing.assert_allclose(treated_a[..., flow.NONADMITTED], acc_a[..., flow.ACC_STOPS_NONADMITTED]
                               + acc_a[..., flow.ACC_DECISIONS_TO_ADMIT], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(treated_a[..., flow.ADMITTED], acc_a[..., flow.ACC_STOPS_ADMITTED], rtol=1e-9, atol=1e-9)
    # each stage's list after activity: what was there, plus what came in, less what activity took
    np.testing.assert_allclose(waiting_a, waiting_b, rtol=2e-5, atol=1e-3)
    listed = stock.astype(np.float64).sum(axis=-1)
    np.testing.assert_allclose(waiting_a.sum(axis=-1), listed.sum(axis=-1) + kwargs["clock_starts"]
                               - acc_a[..., flow.ACC_STOPS_NONADMITTED] - acc_a[..., flow.ACC_STOPS_ADMITTED],
                               rtol=2e-5, atol=1e-3)


@pytest.mark.parametrize("seed", range(25))
def test_patients_are_conserved_and_never_negative(seed):
    rng = np.random.default_rng(100 + seed)
    stock, kwargs = _random_case(rng)
    before = stock.astype(np.float64).sum(axis=(2, 3))
    acc = np.zeros(stock.shape[:2] + (flow.N_ACC,))
    flow.advance(stock, acc, **kwargs)
    after = stock.astype(np.float64).sum(axis=(2, 3))
    out = acc[..., flow.ACC_STOPS_NONADMITTED] + acc[..., flow.ACC_STOPS_ADMITTED] + acc[..., flow.ACC_OTHER_REMOVALS]
    np.testing.assert_allclose(after, before + acc[..., flow.ACC_CLOCK_STARTS] - out, rtol=1e-5, atol=1e-2)
    assert (stock >= 0).all()


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), stock_scale=st.sampled_from([0.0, 1e-3, 1.0, 1e3, 1e6]),
       activity=st.floats(0, 1e6), starts=st.floats(0, 1e5), dta=st.floats(0, 1), other=st.floats(0, 1),
       validation=st.floats(0, 1), steepness=st.floats(0, 200), weeks=st.integers(1, 12))
def test_every_week_conserves_patients_and_no_stock_goes_negative(seed, stock_scale, activity, starts, dta, other,
                                                                   validation, steepness, weeks):
    """Extremes included: an empty list, activity a million times the list, every pathway removed at once."""
    rng = np.random.default_rng(seed)
    n_reps, n_rows, n_bins = 2, 3, 10
    stock = (rng.random((n_reps, n_rows, 2, n_bins)) * stock_scale).astype(np.float32)
    for week in range(weeks):
        before = stock.astype(np.float64).sum(axis=(2, 3))
        acc = np.zeros((n_reps, n_rows, flow.N_ACC))
        flow.advance(stock, acc, clock_starts=rng.random((n_reps, n_rows)) * starts,
                     nonadmitted_activity=rng.random((n_reps, n_rows)) * activity,
                     admitted_activity=rng.random((n_reps, n_rows)) * activity / 4,
                     dta_share=np.full(n_reps, dta), other_rate=np.full(n_reps, other),
                     validation_rate=np.full(n_reps, validation), validation_min_bin=int(rng.integers(0, n_bins)),
                     hazard=1 + rng.random((n_reps, 2, n_bins)) * steepness, other_profile=1 + rng.random(n_bins),
                     age=week % 2 == 1)
        after = stock.astype(np.float64).sum(axis=(2, 3))
        out = acc[..., flow.ACC_STOPS_NONADMITTED] + acc[..., flow.ACC_STOPS_ADMITTED] + acc[..., flow.ACC_OTHER_REMOVALS]
        scale = 1 + before + acc[..., flow.ACC_CLOCK_STARTS]
        np.testing.assert_allclose(after / scale, (before + acc[..., flow.ACC_CLOCK_STARTS] - out) / scale,
                                   atol=2e-6)
        assert (stock >= 0).all() and np.isfinite(stock).all()
        assert (acc >= 0).all()


def test_a_replication_does_not_depend_on_the_others_in_its_batch():
    rng = np.random.default_rng(7)
    stock, kwargs = _random_case(rng, n_reps=4)
    whole = stock.copy()
    flow.advance(whole, np.zeros((4, 5, flow.N_ACC)), **kwargs)
    alone = stock[2:3].copy()
    per_rep = {k: (v[2:3] if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == 4 else v)
               for k, v in kwargs.items()}
    flow.advance(alone, np.zeros((1, 5, flow.N_ACC)), **per_rep)
    assert np.array_equal(alone[0], whole[2])


def test_a_bin_of_zero_priority_shares_nothing_and_is_not_emptied():
    # The walk once read "0 >= 0" at a zero-weight bin as "this bin would be emptied" and emptied the whole list.
    hazard = np.array([[10.0, 1.0, 0.0], [1.0, 1.0, 1.0]])
    s = _stock([1, 10, 10])
    ref = s.copy()
    acc = _step(s, nonadm=5.0, hazard=hazard)
    _step(ref, nonadm=5.0, hazard=hazard, impl=flow.advance_numpy)
    np.testing.assert_allclose(s, ref, rtol=1e-6)
    assert s[0, 0, 0].tolist() == pytest.approx([0, 6, 10])
    assert acc[0, 0, flow.ACC_STOPS_NONADMITTED] == pytest.approx(5.0)


def test_a_single_bin_is_refused():
    with pytest.raises(ValueError, match="at least two wait bins"):
        _step(_stock([10.0]), nonadm=3.0, age=True)
