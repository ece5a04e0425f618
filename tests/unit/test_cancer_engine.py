"""The cancer day kernel: a hand-checked day, conservation, the numpy reference, steady state vs theory."""

import numpy as np
import pytest
from scipy.stats import lognorm

from sim.engine import cancer

WEEK = np.array([1.0, 1, 1, 1, 1, 0, 0])


def _params(n_reps, n_trusts, n_days=cancer.N_DAYS, *, referrals=100.0, subsequent=30.0, fds_median=14.0,
            fds_sigma=0.8, treat_median=8.0, treat_sigma=0.9, access=1.0, share=0.1, capacity=1e12):
    return {
        "referrals_per_wd": np.full((n_reps, n_trusts), referrals),
        "subsequent_per_wd": np.full((n_reps, n_trusts), subsequent),
        "fds_hazard": np.broadcast_to(cancer.hazard_from_lognormal(fds_median, fds_sigma, n_days),
                                      (n_trusts, n_days)),
        "fds_access": np.full((n_reps, n_trusts), access),
        "cancer_share": np.full(n_reps, share),
        "treat_hazard": np.broadcast_to(cancer.hazard_from_lognormal(treat_median, treat_sigma, n_days),
                                        (n_trusts, n_days)),
        "treat_capacity_per_day": np.full((n_reps, n_trusts), capacity),
    }


def _random_case(seed, n_reps=3, n_trusts=5):
    rng = np.random.default_rng(seed)
    state = cancer.CancerState.zeros(n_reps, n_trusts)
    for q in (state.fds, state.first, state.subsequent):
        q[...] = rng.gamma(0.5, 20.0, q.shape)
    shape = (n_reps, n_trusts)
    params = {
        "referrals_per_wd": rng.uniform(0, 200, shape),
        "subsequent_per_wd": rng.uniform(0, 40, shape),
        "fds_hazard": rng.uniform(0, 0.4, (n_trusts, cancer.N_DAYS)),
        "fds_access": rng.uniform(0.5, 3.0, shape),  # up to 3: some bins hit the min(., 1) cap
        "cancer_share": rng.uniform(0.05, 0.2, n_reps),
        "treat_hazard": rng.uniform(0, 0.3, (n_trusts, cancer.N_DAYS)),
        # About half the trusts bind: demand is of the order of 0.15 x 120 x 20 x 2 = 700 a day.
        "treat_capacity_per_day": rng.uniform(100, 1500, shape),
        "treat_access": rng.uniform(0.7, 1.4, shape),  # the month's pace of treatment
    }
    return state, params


def test_one_day_by_hand_with_binding_capacity():
    s = cancer.CancerState.zeros(1, 1, 4)
    s.fds[0, 0] = [0, 10, 20, 40]
    s.first[0, 0] = [0, 4, 0, 0]
    s.subsequent[0, 0] = [0, 0, 6, 0]
    cancer.advance(s, working=np.array([1.0]), referrals_per_wd=np.array([[8.0]]),
                   subsequent_per_wd=np.array([[2.0]]), fds_hazard=np.array([[0.5, 0.1, 0.25, 0.5]]),
                   fds_access=np.array([[1.0]]), cancer_share=np.array([0.1]),
                   treat_hazard=np.array([[0.5, 0.5, 0.5, 1.0]]), treat_capacity_per_day=np.array([[5.0]]))
    # fds [8,10,20,40] loses [4,1,5,20] (30 diagnoses), keeps [4,9,15,20], ages to [0,4,9,35].
    assert s.hist_fds[0, 0].tolist() == [4, 1, 5, 20]
    assert s.fds[0, 0].tolist() == [0, 4, 9, 35]
    # first [3,4,0,0], subsequent [2,0,6,0]: demand 7.5 > capacity 5, scale 2/3.
    assert s.hist_first[0, 0] == pytest.approx([1, 4 / 3, 0, 0])
    assert s.hist_subsequent[0, 0] == pytest.approx([2 / 3, 0, 2, 0])
    assert s.first[0, 0] == pytest.approx([0, 2, 8 / 3, 0])
    assert s.subsequent[0, 0] == pytest.approx([0, 4 / 3, 0, 4])
    assert s.arrivals[0, 0].tolist() == pytest.approx([8, 3, 2])


def test_treatment_pace_speeds_treatment_until_capacity_binds():
    base = _params(1, 1, referrals=0.0, subsequent=0.0, capacity=1e12)
    treated = {}
    for pace in (1.0, 1.3):
        s = cancer.CancerState.zeros(1, 1)
        s.first[0, 0, :30] = 10.0
        cancer.advance(s, working=np.ones(1), **base, treat_access=np.array([[pace]]))
        treated[pace] = s.hist_first.sum()
    hazard = base["treat_hazard"][0]
    assert treated[1.0] == pytest.approx(10.0 * np.minimum(hazard[:30], 1).sum())
    assert treated[1.3] == pytest.approx(10.0 * np.minimum(1.3 * hazard[:30], 1).sum())
    capped = cancer.CancerState.zeros(1, 1)
    capped.first[0, 0, :30] = 10.0
    cancer.advance(capped, working=np.ones(1), **dict(base, treat_capacity_per_day=np.array([[1.0]])),
                   treat_access=np.array([[1.3]]))
    assert capped.hist_first.sum() + capped.hist_subsequent.sum() == pytest.approx(1.0)  # capacity still caps it


def test_no_arrivals_on_non_working_days_and_the_last_bin_accumulates():
    s = cancer.CancerState.zeros(1, 1, 3)
    s.fds[0, 0] = [0, 1, 2]
    p = _params(1, 1, 3)
    p["fds_hazard"] = np.zeros((1, 3))
    cancer.advance(s, working=np.array([0.0, 0.0]), **p)
    assert s.fds[0, 0].tolist() == [0, 0, 3]
    assert s.arrivals.sum() == 0


@pytest.mark.parametrize("seed", [0, 1])
def test_numba_kernel_agrees_with_numpy_reference(seed):
    state, params = _random_case(seed)
    ref = state.copy()
    working = np.tile(WEEK, 2)[3:13]
    cancer.advance(state, working=working, **params)
    cancer.advance_numpy(ref, working=working, **params)
    for name in cancer.CancerState.__slots__:
        np.testing.assert_allclose(getattr(state, name), getattr(ref, name), rtol=1e-11, atol=1e-9, err_msg=name)


def test_capacity_binds_in_the_random_case():
    # The agreement test above is only worth having if the capacity branch runs.
    state, params = _random_case(0)
    cancer.advance(state, working=np.ones(1), **params)
    treated = state.hist_first.sum(-1) + state.hist_subsequent.sum(-1)
    binding = np.isclose(treated, params["treat_capacity_per_day"], rtol=1e-12)
    assert 0 < binding.sum() < binding.size


@pytest.mark.parametrize("impl", [cancer.advance, cancer.advance_numpy])
def test_every_day_conserves_patients(impl):
    state, params = _random_case(2)
    for w in np.tile(WEEK, 2):
        before = state.total()
        state.reset_accumulators()
        impl(state, working=np.array([w]), **params)
        after = state.total()
        arr = state.arrivals
        diagnosed = state.hist_fds.sum(-1)
        np.testing.assert_allclose(before[..., 0] + arr[..., cancer.ARR_REFERRALS], after[..., 0] + diagnosed,
                                   rtol=1e-13)
        np.testing.assert_allclose(before[..., 1] + arr[..., cancer.ARR_FIRST],
                                   after[..., 1] + state.hist_first.sum(-1), rtol=1e-13)
        np.testing.assert_allclose(before[..., 2] + arr[..., cancer.ARR_SUBSEQUENT],
                                   after[..., 2] + state.hist_subsequent.sum(-1), rtol=1e-13)
        np.testing.assert_allclose(arr[..., cancer.ARR_FIRST], params["cancer_share"][:, None] * diagnosed,
                                   rtol=1e-13)
        for q in (state.fds, state.first, state.subsequent):
            assert (q >= 0).all()


def test_lognormal_pmf_sums_to_one_and_hazards_reproduce_it():
    pmf = cancer.lognormal_pmf(np.array([5.0, 30.0]), 0.9)
    h = cancer.hazard_from_lognormal(np.array([5.0, 30.0]), 0.9)
    np.testing.assert_allclose(pmf.sum(-1), 1.0, rtol=1e-14)
    assert ((h >= 0) & (h <= 1)).all()
    survival = np.cumprod(np.concatenate([np.ones((2, 1)), 1 - h[:, :-1]], axis=-1), axis=-1)
    np.testing.assert_allclose((survival * h)[:, :-1], pmf[:, :-1], atol=1e-14)
    assert pmf[1, :29].sum() == pytest.approx(lognorm.cdf(28.5, 0.9, scale=30.0), abs=1e-13)
    with pytest.raises(ValueError, match="sigma"):
        cancer.hazard_from_lognormal(5.0, 0.0)


def test_open_last_bin_drains_at_one_over_one_plus_the_mean_residual_wait():
    median, sigma, n = 16.0, 0.8, cancer.N_DAYS
    k = np.arange(n, n + 50_000)
    at_least = lognorm.sf(k - 0.5, sigma, scale=median)  # P(T_d >= k), k >= n
    residual = at_least.sum() / lognorm.sf(n - 1.5, sigma, scale=median)
    assert cancer.hazard_from_lognormal(median, sigma)[-1] == pytest.approx(1 / (1 + residual), rel=1e-4)


def test_probability_within_by_hand():
    half = np.array([0.5, 0.5])
    assert cancer.probability_within(half, np.array([1.0]), half, limit_days=1) == pytest.approx(0.75)
    # Unnormalised counts are normalised; a delay of 1 day leaves only 0 + 1 + 0.
    assert cancer.probability_within(2 * half, np.array([0.0, 3.0]), half, limit_days=1) == pytest.approx(0.25)


def test_census_counts_standards_inclusively():
    s = cancer.CancerState.zeros(1, 1)
    s.hist_fds[0, 0, [28, 29]] = [3, 5]
    s.hist_subsequent[0, 0, [31, 32]] = [2, 7]
    c = cancer.census(s, cancer.lognormal_pmf(5.0, 0.5))
    assert (c.fds_within[0, 0], c.fds_total[0, 0]) == (3, 8)
    assert (c.treat31_within[0, 0], c.treat31_total[0, 0]) == (2, 9)
    assert c.treat62_total[0, 0] == 0


# --------------------------------------------------------------- steady state
FDS_MEDIAN, FDS_SIGMA, TREAT_MEDIAN, TREAT_SIGMA, DTT_MEDIAN, DTT_SIGMA = 16.0, 0.8, 8.0, 0.9, 17.0, 0.6
WARM_UP_WEEKS = 60


def _steady(params, weeks=WARM_UP_WEEKS):
    s = cancer.CancerState.zeros(1, 1)
    cancer.advance(s, working=np.tile(WEEK, weeks), **params)
    s.reset_accumulators()
    return s


def _month(s, params):
    cancer.advance(s, working=np.tile(WEEK, 4), **params)  # 28 days: each weekday equally often
    return cancer.census(s, cancer.lognormal_pmf(DTT_MEDIAN, DTT_SIGMA))


@pytest.fixture(scope="module")
def ample():
    return _params(1, 1, fds_median=FDS_MEDIAN, fds_sigma=FDS_SIGMA, treat_median=TREAT_MEDIAN,
                   treat_sigma=TREAT_SIGMA)


@pytest.fixture(scope="module")
def steady_state(ample):
    return _steady(ample)


def test_steady_state_completion_ages_are_the_discretised_lognormals(steady_state, ample):
    s = steady_state.copy()
    c = _month(s, ample)
    # 20 working days of 100 referrals; every age below the open last bin comes
    # from cohorts that arrived after the warm-up transient, so it is exact.
    expected = 20 * 100.0 * cancer.lognormal_pmf(FDS_MEDIAN, FDS_SIGMA)
    np.testing.assert_allclose(s.hist_fds[0, 0, :-1], expected[:-1], rtol=1e-9)
    assert s.hist_fds[0, 0, -1] == pytest.approx(expected[-1], rel=1e-3)  # still converging at the tail
    treated = s.hist_first[0, 0] + s.hist_subsequent[0, 0]
    expected = 20 * (0.1 * 100.0 + 30.0) * cancer.lognormal_pmf(TREAT_MEDIAN, TREAT_SIGMA)
    np.testing.assert_allclose(treated[:-1], expected[:-1], rtol=1e-4)  # first arrivals include the fds tail
    fds_pct = 100 * c.fds_within[0, 0] / c.fds_total[0, 0]
    pct_31 = 100 * c.treat31_within[0, 0] / c.treat31_total[0, 0]
    assert fds_pct == pytest.approx(100 * lognorm.cdf(28.5, FDS_SIGMA, scale=FDS_MEDIAN), abs=0.5)
    assert pct_31 == pytest.approx(100 * lognorm.cdf(31.5, TREAT_SIGMA, scale=TREAT_MEDIAN), abs=0.5)


def test_62_day_convolution_matches_monte_carlo_of_three_independent_waits(steady_state, ample):
    c = _month(steady_state.copy(), ample)
    rng = np.random.default_rng(62)
    n = 400_000
    total = sum(np.rint(lognorm.rvs(sigma, scale=median, size=n, random_state=rng))
                for median, sigma in ((FDS_MEDIAN, FDS_SIGMA), (DTT_MEDIAN, DTT_SIGMA), (TREAT_MEDIAN, TREAT_SIGMA)))
    monte_carlo_pct = 100 * np.mean(total <= 62)
    assert 100 * c.treat62_within[0, 0] / c.treat62_total[0, 0] == pytest.approx(monte_carlo_pct, abs=1.0)


def _pct(within, total):
    return 100 * within[0, 0] / total[0, 0]


def _second_month(s, params):
    _month(s, params)
    s.reset_accumulators()
    return _month(s, params)


def test_binding_capacity_lowers_31_day_performance_and_grows_the_queue(steady_state, ample):
    demand_per_day = (0.1 * 100 + 30) * 5 / 7
    tight = dict(ample, treat_capacity_per_day=np.full((1, 1), 0.5 * demand_per_day))
    free, squeezed = steady_state.copy(), steady_state.copy()
    c_free, c_tight = _second_month(free, ample), _second_month(squeezed, tight)
    start = steady_state.total()[0, 0, 1:].sum()
    # The shortfall of half the demand over 56 days piles up on the treatment queues.
    assert squeezed.total()[0, 0, 1:].sum() == pytest.approx(start + 0.5 * demand_per_day * 56, rel=0.02)
    assert free.total()[0, 0, 1:].sum() == pytest.approx(start, rel=1e-3)
    assert c_tight.treat31_total[0, 0] == pytest.approx(0.5 * demand_per_day * 28, rel=1e-9)
    assert _pct(c_tight.treat31_within, c_tight.treat31_total) < _pct(c_free.treat31_within,
                                                                        c_free.treat31_total) - 10


def test_lower_diagnostic_access_lowers_fds_performance(steady_state, ample):
    slow = dict(ample, fds_access=np.full((1, 1), 0.7))
    free, slowed = steady_state.copy(), steady_state.copy()
    c_free, c_slow = _second_month(free, ample), _second_month(slowed, slow)
    assert _pct(c_slow.fds_within, c_slow.fds_total) < _pct(c_free.fds_within, c_free.fds_total) - 5
    assert slowed.fds.sum() > free.fds.sum() * 1.2
