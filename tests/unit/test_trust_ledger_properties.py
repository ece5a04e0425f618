"""Property tests of the trust ledger: for any world and any policy, every pound is accounted for."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.agents.trusts import TrustBoard, TrustInputs, water_fill


def _inputs(seed: int, n_reps: int, n_trusts: int, n_icbs: int, n_years: int, support0: float,
            deficit: float) -> tuple[TrustInputs, np.ndarray]:
    rng = np.random.default_rng(seed)
    icb = rng.integers(0, n_icbs, n_trusts)
    share = rng.uniform(0.0, 1.0, (n_reps, n_trusts))
    for i in range(n_icbs):  # each ICB pays at most 90% of its commissioning money to its trusts
        cols = icb == i
        if cols.any():
            share[:, cols] *= rng.uniform(0.3, 0.9) / share[:, cols].sum(axis=1, keepdims=True)
    income0 = rng.uniform(50, 2000, n_trusts)
    gap = (deficit / income0.sum() + rng.normal(0, 0.03, (n_reps, n_trusts))) * income0
    years = np.arange(n_years)
    inputs = TrustInputs(
        kind=tuple("acute" for _ in range(n_trusts)), icb=icb, contract_share=share,
        variable_share=rng.uniform(0, 0.3, (n_reps, n_trusts)), variable_cap=rng.uniform(0, 0.05, n_reps),
        direct_weight=np.full(n_trusts, 1.0 / n_trusts), direct_gbp_m=rng.uniform(0, 100, (n_reps, n_years)),
        gap_gbp_m=gap, support_gbp_m=np.concatenate([np.full((n_reps, 1), support0),
                                                     rng.uniform(0, support0 + 1, (n_reps, n_years - 1))], axis=1),
        glide=np.clip(1 - years / 3, 0, 1), overrun_shock=rng.normal(0, 0.02, (n_reps, n_years, n_trusts)),
        persistence=rng.uniform(0, 0.9, n_reps), recovery=rng.uniform(0, 1, n_reps),
        elasticity=rng.uniform(0, 2, n_reps), absorbed_index=1.03 ** years[None, :].repeat(n_reps, 0),
        productivity_dev=rng.normal(0, 0.02, (n_reps, n_years, n_trusts)),
        corporate_saving_gbp_m=rng.uniform(0, 500, (n_reps, n_years)),
        running_cost_gbp_m=rng.uniform(10, 100, (n_reps, n_years, n_icbs)),
        cdel_gbp_m=rng.uniform(100, 500, (n_reps, n_years)), cdel_reference_gbp_m=np.full(n_reps, 300.0),
        activity_per_capital=rng.uniform(0, 0.8, n_reps), lead_months=18, light_lead_months=12,
        light_limit_gbp_m=100.0, aft_cover_gbp_m=200.0)
    allocation = rng.uniform(3000, 20000, (n_reps, n_icbs))
    return inputs, allocation


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_trusts=st.integers(1, 30), n_icbs=st.integers(1, 6),
       support0=st.floats(0, 3000), deficit=st.floats(-2000, 4000), aft=st.booleans(), iho=st.floats(0, 1))
def test_money_is_conserved_and_capacity_stays_positive(seed, n_trusts, n_icbs, support0, deficit, aft, iho):
    n_reps, n_years = 2, 6
    inputs, allocation = _inputs(seed, n_reps, n_trusts, n_icbs, n_years, support0, deficit)
    board = TrustBoard(inputs, aft_retained=np.full(n_reps, 0.01), autonomy_pp=np.full(n_reps, 0.002))
    rng = np.random.default_rng(seed + 1)
    for k in range(n_years):
        if k == 2:
            board.is_aft = rng.random((n_reps, n_trusts)) < 0.5 if aft else board.is_aft
            board.iho_share = (rng.random((n_reps, n_trusts)) < 0.2) * iho
        y = board.april(k, allocation * 1.03 ** k, 12 * k)
        board.build(12 * k + 11)
        np.testing.assert_allclose(y.income + y.support, y.expenditure + y.surplus, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(y.icb_running_costs + y.icb_trust_contracts + y.icb_iho_budgets + y.icb_other,
                                   y.icb_allocation, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(y.support.sum(axis=1), inputs.support_gbp_m[:, k], rtol=1e-9, atol=1e-6)
        assert (y.support >= 0).all() and (board.reserves >= 0).all()
        assert np.isfinite(board.capacity).all() and (board.capacity > 0).all()
        assert (board.reserves[~board.is_aft] == 0).all()  # only AFTs keep surplus


@settings(max_examples=60, deadline=None)
@given(needs=st.lists(st.floats(0, 1000), min_size=1, max_size=40), total=st.floats(0, 20_000))
def test_water_fill_pays_the_total_and_never_more_than_a_need_when_short(needs, total):
    need = np.array([needs])
    got = water_fill(np.array([total]), need)
    if need.sum() > 0:
        np.testing.assert_allclose(got.sum(), total, rtol=1e-9, atol=1e-9)
    if total <= need.sum():
        assert (got <= need + 1e-9).all()
        # Whoever is not met in full receives at least as much as anyone met in full.
        short = got < need - 1e-9
        if short.any() and (~short).any():
            assert got[short].min() >= got[~short].max() - 1e-9
