"""Trust finances, deficit support, capital and AFT waves: the rules, the money's conservation, the coupling."""

from __future__ import annotations

import mesa
import numpy as np
import pytest

from sim.agents.aft import AFTProgramme, peer_z, segments
from sim.agents.funding import FundingAgents
from sim.config import load_scenario
from sim.finance_plan import batch_finance, finance_years
from sim.runner import plan_run, run_batch
from sim.scenarios.trust_finance import glide, wave_dates, wave_months


@pytest.fixture(scope="module")
def plan(tmp_path_factory, baseline_yaml):
    path = tmp_path_factory.mktemp("tf") / "tf.yaml"
    path.write_text(f"extends: {baseline_yaml}\nname: tf\nend: 2031-03\nreplications: 3\n"
                    "diagnostics: {enabled: false}\ncancer: {enabled: false}\npolicies: {aft_waves: {}}\n",
                    encoding="utf-8")
    scenario, doc = load_scenario(path)
    return plan_run(scenario, doc)


def _agents(plan, reps=(0, 1, 2)):
    batch = batch_finance(plan.finance, plan.scenario, plan.months, np.array(reps), plan.rows.geography.trust_codes)
    agents = FundingAgents.for_batch(mesa.Model(rng=np.random.default_rng(0)), batch, plan.rows.geography, plan.months)
    return batch, agents


def test_glide_closes_the_deficit_evenly_by_the_breakeven_year():
    years = ("2025/26", "2026/27", "2027/28", "2028/29", "2029/30")
    np.testing.assert_allclose(glide(years, "2028/29"), [1, 2 / 3, 1 / 3, 0, 0])
    np.testing.assert_allclose(glide(years, "2026/27"), [1, 0, 0, 0, 0])


def test_every_pound_is_accounted_for_each_year(plan):
    batch, agents = _agents(plan)
    years = finance_years(plan.months)
    for k in range(len(years)):
        agents.april(k, 12 * k)
        y = agents.board.year
        alloc = batch.allocation
        # NHS England: the envelope (with released deficit support) is allocated in full.
        np.testing.assert_allclose(y.icb_allocation.sum(axis=1), alloc.envelope_gbp_m[:, k], rtol=1e-12)
        # ICBs: allocation = running costs + trust contracts + IHO budgets + other commissioning.
        np.testing.assert_allclose(y.icb_running_costs + y.icb_trust_contracts + y.icb_iho_budgets + y.icb_other,
                                   y.icb_allocation, rtol=1e-12)
        assert (y.icb_other > 0).all()  # trusts never take more than their ICB has
        # Trusts: income + support = spending + surplus; support paid out in full.
        np.testing.assert_allclose(y.income + y.support, y.expenditure + y.surplus, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(y.support.sum(axis=1), batch.trusts.support_gbp_m[:, k], rtol=1e-12)
    assert batch.trusts.support_gbp_m[0, 0] == 2200.0  # 2025/26 (seed 001)
    assert (batch.trusts.support_gbp_m[:, years.index("2028/29"):] == 0).all()


def test_2025_26_sector_position_is_the_published_headline_deficit(plan):
    _, agents = _agents(plan)
    agents.april(0)
    # GBP 2.2bn support and a GBP 311m headline deficit after it (seed 001); no shocks in replication 0.
    assert agents.board.year.surplus[0].sum() == pytest.approx(-311.0, abs=1e-6)
    np.testing.assert_allclose(agents.board.capacity, 1.0)  # the start year is the plan


def test_without_shocks_every_trust_breaks_even_by_2028_29_and_deficit_trusts_lose_capacity(plan):
    _, agents = _agents(plan, reps=(0,))
    agents.april(0)
    deficit = agents.board.deficit0[0] > 0
    assert deficit.sum() > 20 and (~deficit).sum() > 20
    years = finance_years(plan.months)
    for k in range(1, years.index("2028/29") + 1):
        agents.april(k, 12 * k)
    surplus = agents.board.year.surplus[0]
    assert (surplus[deficit] > -1e-6).all()
    capacity = agents.board.money_capacity[0]
    assert np.median(capacity[deficit]) < np.median(capacity[~deficit])


def test_released_support_raises_allocations_only_when_it_goes_to_allocations(plan):
    batch = batch_finance(plan.finance, plan.scenario, plan.months, np.array([0]), plan.rows.geography.trust_codes)
    treasury = plan.scenario.model_copy(update={"finance": plan.scenario.finance.model_copy(update={
        "deficit_support": plan.scenario.finance.deficit_support.model_copy(update={"released_to": "treasury"})})})
    kept = batch_finance(plan.finance, treasury, plan.months, np.array([0]), plan.rows.geography.trust_codes)
    k = finance_years(plan.months).index("2028/29")
    diff = batch.allocation.envelope_gbp_m[0, k] - kept.allocation.envelope_gbp_m[0, k]
    assert diff == pytest.approx(2200.0)


def test_aft_capital_arrives_after_the_light_lead_time(plan):
    _, agents = _agents(plan, reps=(0,))
    board = agents.board
    agents.april(0)
    five = np.flatnonzero(board.deficit0[0] < 0)[:5]  # trusts in surplus keep their reserves
    board.is_aft[0, five] = True
    board.reserves[0, five] = 10.0  # under the GBP 100m light-process limit
    agents.april(1, month_index=12)
    light = board.inputs.light_lead_months
    before = board.capacity[0, five].copy()
    board.build(12 + light - 1)
    np.testing.assert_allclose(board.capacity[0, five], before)
    board.build(12 + light)
    assert (board.capacity[0, five] > before).all()
    assert (board.year.capital[0, five] >= 10.0).all()


def test_segments_are_quartiles_within_peer_groups_with_the_financial_override():
    rng = np.random.default_rng(1)
    peer = np.repeat([0, 1], [40, 12])
    score = rng.standard_normal((2, 52))
    seg = segments(score, peer, np.zeros((2, 52), dtype=bool), override=True)
    for g, n in ((0, 40), (1, 12)):
        counts = np.stack([(seg[:, peer == g] == s).sum(axis=1) for s in (1, 2, 3, 4)], axis=1)
        assert (counts == n // 4).all()
    best = np.argmax(np.where(peer == 0, score, -np.inf), axis=1)
    assert (seg[np.arange(2), best] == 1).all()
    in_deficit = np.zeros((2, 52), dtype=bool)
    in_deficit[np.arange(2), best] = True
    capped = segments(score, peer, in_deficit, override=True)
    assert (capped[np.arange(2), best] == 3).all()
    assert (segments(score, peer, in_deficit, override=False)[np.arange(2), best] == 1).all()


def test_peer_z_ignores_trusts_without_a_list():
    v = np.array([[10.0, 20.0, 30.0, np.nan]])
    z = peer_z(np.nan_to_num(v), np.zeros(4, dtype=np.int64), np.array([True, True, True, False]))
    np.testing.assert_allclose(z[0, :3].mean(), 0.0, atol=1e-12)
    assert z[0, 3] == 0.0


def test_aft_waves_designate_nominated_first_then_only_eligible_trusts_and_reevaluate(plan):
    batch, agents = _agents(plan)
    aft = AFTProgramme(batch.aft, batch.trusts.icb)
    n = len(batch.trust_codes)
    aft.segment_trusts(np.full((3, n), 60.0), np.zeros((3, n), dtype=bool))
    first = batch.aft.wave_months[0]
    aft.wave(first, first=True)
    assert not (aft.is_aft & ~batch.aft.nominated[None, :]).any()
    assert aft.is_aft.sum() > 0
    eligible = aft.eligible()
    before = aft.is_aft.copy()
    aft.wave(first + 12, first=False)
    new = aft.is_aft & ~before
    assert not (new & ~eligible).any()
    assert aft.is_aft.sum(axis=1).max() < n  # rationed: not every provider at once
    # Not yet due: nothing changes; a segment at the trigger brings re-evaluation forward, and failing it loses the status.
    kept = aft.is_aft.copy()
    aft.segment = np.where(aft.is_aft, 2, aft.segment)
    aft.reevaluate(first + 24)
    np.testing.assert_array_equal(aft.is_aft, kept)
    aft.segment = np.full_like(aft.segment, 4)
    aft.reevaluate(first + 24)
    assert not aft.is_aft.any()


def test_at_most_one_iho_per_icb(plan):
    batch, _ = _agents(plan)
    aft = AFTProgramme(batch.aft, batch.trusts.icb)
    n = len(batch.trust_codes)
    aft.is_aft[:] = True
    aft.designated[:] = 0
    aft.segment[:] = 1
    aft._designate_iho(60)
    per_icb = np.zeros((3, int(batch.trusts.icb.max()) + 1))
    np.add.at(per_icb.T, batch.trusts.icb, aft.is_iho.T.astype(float))
    assert per_icb.max() <= 1
    assert aft.is_iho.sum() > 0
    assert not (aft.is_iho & ~batch.aft.iho_kind[None, :n]).any()


def test_wave_months_follow_the_cadence_to_the_deadline(plan):
    cfg = plan.scenario.policies.aft_waves
    months = wave_months(cfg, plan.months)
    assert [plan.months[i] for i in months] == ["2026-04", "2027-04", "2028-04", "2029-04", "2030-04"]
    assert len(wave_dates(cfg)) == 9  # 2026-04 .. 2034-04


def test_finance_results_do_not_depend_on_the_batch(plan):
    whole = run_batch(plan, np.array([0, 1, 2]))
    parts = [run_batch(plan, np.array([0])), run_batch(plan, np.array([1, 2]))]
    names = ["trust_surplus_gbp_m", "trust_capacity_index", "aft_count", "iho_count", "rtt_waiting_list"]
    for name in names:
        j = whole.metric_index(name)
        got = np.concatenate([p.values[:, :, p.metric_index(name)] for p in parts])
        np.testing.assert_array_equal(whole.values[:, :, j], got)


def test_a_deeper_deficit_means_longer_waits(plan, tmp_path, baseline_yaml):
    deep = tmp_path / "deep.yaml"
    deep.write_text(f"extends: {baseline_yaml}\nname: deep\nend: 2031-03\nreplications: 3\n"
                    "diagnostics: {enabled: false}\ncancer: {enabled: false}\npolicies: {aft_waves: {}}\n"
                    "finance: {trusts: {underlying_deficit_gbp_m: 8000, capacity_elasticity: 1.0}}\n", encoding="utf-8")
    scenario, doc = load_scenario(deep)
    deep_cube = run_batch(plan_run(scenario, doc), np.array([0]))
    base_cube = run_batch(plan, np.array([0]))
    at = list(base_cube.dates).index("2030-03-31")

    def national(cube, name):
        return cube.values[0, cube.series_index("national", "ENG"), cube.metric_index(name), at]

    assert national(deep_cube, "trust_capacity_index") < national(base_cube, "trust_capacity_index") - 0.02
    assert national(deep_cube, "rtt_waiting_list") > national(base_cube, "rtt_waiting_list") * 1.01


def test_finance_only_trusts_have_finance_but_no_patient_metrics(plan):
    cube = run_batch(plan, np.array([0]))
    g = plan.rows.geography
    assert len(g.other_trust_codes) > 40  # mental health and community trusts
    s = cube.series_index("trust", g.other_trust_codes[0])
    at = list(cube.dates).index("2026-03-31")
    assert np.isfinite(cube.values[0, s, cube.metric_index("trust_income_gbp_m"), at])
    assert np.isnan(cube.values[0, s, cube.metric_index("rtt_waiting_list"), at])
    national = cube.values[0, 0, cube.metric_index("trust_income_gbp_m"), at]
    trusts = [cube.series_index("trust", c) for c in g.trust_codes + g.other_trust_codes]
    assert cube.values[0, trusts, cube.metric_index("trust_income_gbp_m"), at].sum() == pytest.approx(national)


def test_water_fill_meets_small_needs_in_full_and_caps_the_largest():
    from sim.agents.trusts import water_fill

    need = np.array([[10.0, 50.0, 5.0, 0.0, 100.0]])
    got = water_fill(np.array([75.0]), need)
    assert got.sum() == pytest.approx(75.0)
    np.testing.assert_allclose(got[0, [0, 2, 3]], [10.0, 5.0, 0.0])
    assert got[0, 1] == pytest.approx(got[0, 4]) == pytest.approx(30.0)
    more = water_fill(np.array([330.0]), need)  # beyond the total need: pro rata
    np.testing.assert_allclose(more[0], need[0] * 2.0)


def test_only_afts_keep_surplus_and_support_is_paid_in_full_even_without_any_in_2025_26(plan):
    import dataclasses

    batch, _ = _agents(plan, reps=(0,))
    support = batch.trusts.support_gbp_m.copy()
    support[:, 0] = 0.0
    support[:, 1] = 900.0
    trusts = dataclasses.replace(batch.trusts, support_gbp_m=support)
    board = FundingAgents.for_batch(mesa.Model(rng=np.random.default_rng(0)), dataclasses.replace(batch, trusts=trusts),
                                    plan.rows.geography, plan.months).board
    alloc = np.repeat(batch.allocation.start_allocation_gbp_m[None, :], 1, axis=0)
    board.april(0, alloc, 0)
    assert (board.reserves == 0).all()  # no AFTs: nobody keeps a surplus
    board.april(1, alloc, 12)
    assert board.year.support.sum() == pytest.approx(900.0)


def test_ordinary_capital_of_an_aft_keeps_the_standard_lead_time(plan):
    import dataclasses

    batch, _ = _agents(plan, reps=(0,))
    trusts = dataclasses.replace(batch.trusts, cdel_gbp_m=batch.trusts.cdel_gbp_m * 1.5)  # capital above the trend
    board = FundingAgents.for_batch(mesa.Model(rng=np.random.default_rng(0)), dataclasses.replace(batch, trusts=trusts),
                                    plan.rows.geography, plan.months).board
    alloc = batch.allocation.start_allocation_gbp_m[None, :]
    board.april(0, alloc, 0)
    board.pipeline = []
    board.is_aft[0, :3] = True  # AFTs with no reserves invest nothing of their own
    board.april(1, alloc, 12)
    arrivals = {at for at, inc in board.pipeline if inc[0, :3].any()}
    assert arrivals == {12 + board.inputs.lead_months}
