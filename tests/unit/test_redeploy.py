"""RTT capacity redeployment: spare activity of a service that has cleared its list treats its pool's patients."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.calendar import month_range
from sim.engine import flow, redeploy
from sim.engine.inputs import MonthlyInputs
from sim.metrics import Geography
from sim.model import NHSModel
from sim.scenarios.build import redeployment_pools
from sim.scenarios.flows import N_ENGINE_BINS


def _lend(own, treated, waiting, pool, share):
    """``lend`` on stacked ``own [rep, row, stage]``: what each row is lent, and what it used of its loan."""
    lent = np.full(waiting.shape, np.nan)
    acc = np.zeros(waiting.shape[:2] + (2,))
    redeploy.lend(own, treated, waiting, pool, int(pool.max()) + 1, share, lent, acc, 1)
    return lent, acc[..., 1]


def test_the_pool_spare_goes_to_its_rows_in_proportion_to_what_they_still_have_waiting():
    rng = np.random.default_rng(3)
    n_reps, n_rows = 3, 7
    pool = np.array([0, 0, 1, 1, 1, 2, 2])
    own = rng.random((n_reps, n_rows, 2)) * 10
    treated = own * rng.choice([0.3, 1.0, 1.2], size=own.shape)  # some rows spare, some used a loan
    spare = np.maximum(own - treated, 0.0)
    waiting = rng.random((n_reps, n_rows, 2)) * 100
    waiting[0, 5:, 1] = 0.0  # replication 0: no admitted patient waits in pool 2
    share = np.array([1.0, 0.5, 0.0])
    lent, used_loans = _lend(own, treated, waiting, pool, share)
    for r in range(n_reps):
        for p in range(3):
            rows = pool == p
            for stage in range(2):
                waits = waiting[r, rows, stage].sum() > 0
                expected = share[r] * spare[r, rows, stage].sum() if waits else 0.0
                assert lent[r, rows, stage].sum() == pytest.approx(expected)
                if waits:
                    np.testing.assert_allclose(lent[r, rows, stage], expected * waiting[r, rows, stage]
                                               / waiting[r, rows, stage].sum())
    assert (lent[2] == 0).all()
    np.testing.assert_allclose(used_loans, np.maximum(treated - own, 0.0).sum(axis=-1))


def test_a_row_with_nothing_waiting_gets_nothing_and_nothing_is_lent_across_pools():
    own = np.array([[[10.0, 0.0], [5.0, 0.0], [5.0, 0.0]]])
    treated = np.array([[[4.0, 0.0], [5.0, 0.0], [5.0, 0.0]]])
    waiting = np.array([[[0.0, 0.0], [30.0, 5.0], [70.0, 5.0]]])
    lent, _ = _lend(own, treated, waiting, np.array([0, 0, 1]), np.ones(1))
    np.testing.assert_allclose(lent[0, :, 0], [0.0, 6.0, 0.0])  # all to row 1: row 2 is in another pool
    assert (lent[..., 1] == 0).all()


def _geography() -> Geography:
    # four trusts: 0 and 1 in ICB 0, 2 in ICB 1 (both region 0), 3 in ICB 2 (region 1); two specialties each
    return Geography(row_trust=np.repeat(np.arange(4), 2), row_specialty=np.tile(np.arange(2), 4),
                     trust_codes=("A", "B", "C", "D"), trust_icb=np.array([0, 0, 1, 2]), icb_codes=("I0", "I1", "I2"),
                     icb_region=np.array([0, 0, 1]), region_codes=("R0", "R1"), specialty_codes=("100", "110"))


@pytest.mark.parametrize("within, groups", [
    ("icb", [[0, 2], [4], [6]]),
    ("region", [[0, 2, 4], [6]]),
    ("england", [[0, 2, 4, 6]]),
])
def test_pools_are_one_treatment_function_within_the_chosen_area(within, groups):
    pool = redeployment_pools(_geography(), within)
    for rows in groups:
        for first in (0, 1):  # specialty 0's rows, then specialty 1's (the next row of each trust)
            same = [r + first for r in rows]
            assert len(set(pool[same])) == 1
            others = np.setdiff1d(np.arange(8), same)
            assert pool[same[0]] not in pool[others]
    assert sorted(set(pool)) == list(range(len(set(pool))))


def _two_trusts(share: float | None, months):
    """Two trusts of one ICB, one treatment function: trust A's capacity is three times its demand, trust B's a
    third of it; together capacity meets demand."""
    n, bins = len(months), N_ENGINE_BINS
    geography = Geography(row_trust=np.array([0, 1]), row_specialty=np.array([0, 0]), trust_codes=("A", "B"),
                          trust_icb=np.array([0, 0]), icb_codes=("I",), icb_region=np.array([0]), region_codes=("R",),
                          specialty_codes=("100",))
    inputs = MonthlyInputs(
        months=months, clock_starts_per_wd=np.full((1, n), 4000.0),
        nonadmitted_activity_per_wd=np.full((1, n), 4000.0), admitted_activity_per_wd=np.zeros((1, n)),
        dta_share=np.zeros((1, n)), other_removals_share=np.full((1, n), 0.01), validation_share=np.zeros((1, n)),
        validation_min_bin=0, row_demand_share=np.array([0.25, 0.75]), row_capacity_share=np.array([[0.75, 0.25]]),
        hazard=np.ones((1, n, 2, bins)), other_profile=np.ones(bins),
        redeployed_share=None if share is None else np.full(1, share),
        row_pool=None if share is None else np.zeros(2, dtype=np.int64))
    stock = np.zeros((1, 2, 2, bins), dtype=np.float32)
    stock[0, :, flow.NONADMITTED, 1:20] = np.array([[1000.0], [3000.0]], dtype=np.float32)
    model = NHSModel(geography, stock, inputs, np.zeros(1, dtype=np.int64), np.random.default_rng(0))
    return model.run(), model


def test_a_trust_with_spare_capacity_treats_its_neighbours_patients_and_patients_are_conserved():
    months = month_range("2025-04", "2026-03")
    alone, _ = _two_trusts(None, months)
    none, _ = _two_trusts(0.0, months)
    half, _ = _two_trusts(0.5, months)
    full, model = _two_trusts(1.0, months)
    lists = {k: c.values[0, 4, c.metric_index("rtt_waiting_list")] for k, c in
             (("alone", alone), ("none", none), ("half", half), ("full", full))}  # series 4: trust B (after England, region, ICB, trust A)
    np.testing.assert_array_equal(lists["none"], lists["alone"])  # 0%: each service keeps to its own list
    assert lists["full"][-1] < lists["half"][-1] < lists["none"][-1]
    # Trust A clears its list and lends what it cannot use: B's list grows by a small fraction of what it
    # grows by alone (A's spare reaches B a week late, and A keeps treating its own new referrals first).
    assert lists["full"][-1] - lists["full"][0] < 0.1 * (lists["none"][-1] - lists["none"][0])
    for cube in (half, full):
        national = cube.values[0, 0]
        listed = national[cube.metric_index("rtt_waiting_list")]
        flows = (national[cube.metric_index("rtt_clock_starts"), 1:] - national[cube.metric_index("rtt_clock_stops"), 1:]
                 - national[cube.metric_index("rtt_other_removals"), 1:])
        np.testing.assert_allclose(np.diff(listed), flows, rtol=1e-6, atol=1.0)
        # never more treated than the two trusts' own activity (lent a week late, so counted to date)
        stops = np.cumsum(national[cube.metric_index("rtt_clock_stops"), 1:])
        assert (stops <= np.cumsum(4000.0 * np.array(model._month_working_days)) * (1 + 1e-9)).all()
    stops = {k: c.values[0, 0, c.metric_index("rtt_clock_stops"), 1:].sum() for k, c in (("none", none), ("full", full))}
    assert stops["full"] > 1.3 * stops["none"]
    # the stops made with lent activity are counted where the patients waited: all at trust B
    lent = {k: c.values[0, :, c.metric_index("rtt_clock_stops_redeployed"), 1:] for k, c in
            (("alone", alone), ("none", none), ("full", full))}
    assert (lent["alone"] == 0).all() and (lent["none"] == 0).all()
    assert (lent["full"][3] == 0).all() and lent["full"][4].sum() > 0
    assert lent["full"][0].sum() == pytest.approx(stops["full"] - stops["none"], rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), stock_scale=st.sampled_from([0.0, 1e-3, 1.0, 1e3, 1e6]),
       activity=st.floats(0, 1e6), starts=st.floats(0, 1e5), share=st.floats(0, 1), n_pools=st.integers(1, 4),
       weeks=st.integers(1, 10))
def test_lending_never_creates_activity_and_every_week_conserves_patients(seed, stock_scale, activity, starts, share,
                                                                          n_pools, weeks):
    """The flow kernel and the loans together, extremes included (empty lists, activity far beyond them)."""
    rng = np.random.default_rng(seed)
    n_reps, n_rows, n_bins = 2, 6, 10
    pool = np.concatenate([np.arange(n_pools), rng.integers(0, n_pools, n_rows - n_pools)])
    stock = (rng.random((n_reps, n_rows, 2, n_bins)) * stock_scale).astype(np.float32)
    lent = np.zeros((n_reps, n_rows, 2))
    waiting, treated = np.zeros((n_reps, n_rows, 2)), np.zeros((n_reps, n_rows, 2))
    own_total = used_total = 0.0
    for week in range(weeks):
        own = rng.random((n_reps, n_rows, 2)) * activity * np.array([1.0, 0.25])
        before = stock.astype(np.float64).sum(axis=(2, 3))
        acc = np.zeros((n_reps, n_rows, 2 + flow.N_ACC))
        flow.advance(stock, acc, clock_starts=rng.random((n_reps, n_rows)) * starts,
                     nonadmitted_activity=own[..., 0] + lent[..., 0], admitted_activity=own[..., 1] + lent[..., 1],
                     dta_share=np.full(n_reps, 0.2), other_rate=np.full(n_reps, 0.01), validation_rate=np.zeros(n_reps),
                     validation_min_bin=0, hazard=1 + rng.random((n_reps, 2, n_bins)) * 5,
                     other_profile=np.ones(n_bins), age=week % 2 == 1, waiting=waiting, treated=treated)
        after = stock.astype(np.float64).sum(axis=(2, 3))
        out = acc[..., flow.ACC_STOPS_NONADMITTED] + acc[..., flow.ACC_STOPS_ADMITTED] + acc[..., flow.ACC_OTHER_REMOVALS]
        np.testing.assert_allclose(after, before + acc[..., flow.ACC_CLOCK_STARTS] - out, rtol=1e-5, atol=1e-2)
        assert (stock >= 0).all()
        # a row never uses more than its own activity and its loan
        assert (treated <= own + lent + 1e-6 * (1.0 + own + lent)).all()
        redeploy.lend(own, treated, waiting, pool, n_pools, np.full(n_reps, share), lent, acc, flow.N_ACC)
        assert (lent >= 0).all() and np.isfinite(lent).all()
        own_total += own.sum()
        used_total += treated.sum()
    # loans come only out of activity left unused, so everything treated fits in the activity rows had
    assert used_total <= own_total * (1 + 1e-9) + 1e-6
