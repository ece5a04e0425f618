"""ICB allocations: the pace-of-change rule, the 2025/26 position, and the April rounds in the model."""

from __future__ import annotations

import mesa
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import reference
from sim.agents.allocation import distance_from_target_pct, pace_of_change
from sim.agents.funding import FinanceInputs, FundingAgents
from sim.calendar import financial_year
from sim.scenarios.finance import allocation_base
from sim.world import load_world


def _policy(n, floor=0.02, conv=0.25, cap=0.02):
    return np.full(n, floor), np.full(n, conv), np.full(n, cap)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), growth=st.floats(-0.05, 0.10), floor=st.floats(-0.02, 0.05),
       conv=st.floats(0.0, 1.0), extra_cap=st.floats(0.0, 0.05))
def test_every_pound_is_allocated_and_the_floor_and_cap_hold(seed, growth, floor, conv, extra_cap):
    rng = np.random.default_rng(seed)
    n_reps, n_icbs = 3, 42
    previous = rng.uniform(500, 6000, (n_reps, n_icbs))
    share = rng.uniform(0.5, 1.5, n_icbs) * previous.mean(axis=0)
    share /= share.sum()
    envelope = previous.sum(axis=1) * (1 + growth)
    target = envelope[:, None] * share[None, :]
    cap = floor + extra_cap
    alloc = pace_of_change(previous, target, envelope, *_policy(n_reps, floor, conv, cap))
    np.testing.assert_allclose(alloc.sum(axis=1), envelope, rtol=1e-12)
    assert (alloc > 0).all()
    floor_cost = previous.sum(axis=1) * (1 + floor)
    affordable = floor_cost <= envelope * (1 - 1e-9)
    growth_each = alloc / previous - 1
    assert (growth_each[affordable] >= floor - 1e-9).all()
    # Unaffordable floor: everyone scaled alike.
    for r in np.flatnonzero(floor_cost > envelope * (1 + 1e-9)):
        np.testing.assert_allclose(growth_each[r], growth_each[r, 0], rtol=1e-9, atol=1e-12)
    # Above target before the round: held to the cap while some ICB below target can take the rest.
    above = previous * (1 + floor) > target
    someone_below = (~above).any(axis=1)
    held = above & (affordable & someone_below)[:, None]
    assert (growth_each[held] <= cap + 1e-9).all()


def test_convergence_closes_its_share_of_the_gap_when_money_allows():
    previous = np.array([[900.0, 1100.0]])
    target = np.array([[1100.0, 1100.0]])  # envelope 2200: 10% growth, enough to close the gap
    envelope = np.array([2200.0])
    none = pace_of_change(previous, target, envelope, *_policy(1, 0.0, 0.0, 0.0))
    half = pace_of_change(previous, target, envelope, *_policy(1, 0.0, 0.5, 0.0))
    full = pace_of_change(previous, target, envelope, *_policy(1, 0.0, 1.0, 0.0))
    gap = lambda a: abs(distance_from_target_pct(a, target))[0, 0]  # noqa: E731
    assert gap(full) == pytest.approx(0.0, abs=1e-9)
    assert gap(half) < gap(none)
    assert none[0, 0] == pytest.approx(1000.0)  # no convergence: the growth is shared pro rata to target


@pytest.fixture(scope="module")
def world():
    return load_world()


@pytest.mark.parametrize("include_specialised, column", [(False, "dft_pct_excl_spec"), (True, "dft_pct_incl_spec")])
def test_2025_26_position_reproduces_the_published_distances(world, include_specialised, column):
    base = allocation_base(world.icb_codes, include_specialised, 4.4, 23_500.0)
    assert base.allocation_gbp_m.sum() == pytest.approx(base.envelope_gbp_m, rel=1e-12)
    assert base.envelope_gbp_m == pytest.approx(127_200 * 1.044 + (23_500 if include_specialised else 0))
    names = reference.icbs().set_index("icb_code").loc[list(world.icb_codes), "icb_name"].to_numpy()
    fair = reference.icb_fair_shares().set_index("icb_name")[column].reindex(names).to_numpy()
    got = distance_from_target_pct(base.allocation_gbp_m, base.envelope_gbp_m * base.share)
    published = np.isfinite(fair)
    np.testing.assert_allclose(got[published], fair[published], atol=1e-9)
    assert abs(base.within_band_distance_pct) < 2.5
    np.testing.assert_allclose(got[~published], base.within_band_distance_pct)
    assert base.share.sum() == pytest.approx(1.0)


def test_april_rounds_converge_below_target_icbs_and_conserve_money(world):
    base = allocation_base(world.icb_codes, False, 4.4)
    years = ("2025/26", "2026/27", "2027/28")
    n_reps = 2
    floor, conv, cap = _policy(n_reps)
    inputs = FinanceInputs(years, base.envelope_gbp_m * 1.03 ** np.arange(3)[None, :].repeat(n_reps, 0),
                           np.repeat(base.share[None], 3, axis=0), base.allocation_gbp_m,
                           np.repeat(floor[:, None], 3, 1), conv, np.repeat(cap[:, None], 3, 1))
    n_icbs = len(world.icb_codes)
    series = np.stack([np.zeros(n_icbs, int), 1 + world.icb_region, 1 + len(world.region_codes) + np.arange(n_icbs)], 1)
    agents = FundingAgents(mesa.Model(rng=np.random.default_rng(0)), inputs, world.icb_codes, series,
                           1 + len(world.region_codes) + n_icbs)
    distances = []
    for k in range(3):
        agents.april(k)
        out = agents.census()
        assert out["icb_allocation_gbp_m"][:, 0] == pytest.approx(inputs.envelope_gbp_m[:, k], rel=1e-12)
        assert out["icb_distance_from_target_pct"][:, 0] == pytest.approx(0.0, abs=1e-9)
        distances.append(out["icb_distance_from_target_pct"][0, 1 + len(world.region_codes):])
    below = distances[0] < -2.5
    assert (distances[2][below] > distances[0][below]).all()  # closer to target
    assert np.abs(distances[2]).max() < np.abs(distances[0]).max()


def test_financial_year():
    assert financial_year("2025-04") == "2025/26" == financial_year("2026-03")
    assert financial_year("2029-12") == "2029/30"


def test_allocations_change_each_april_after_the_march_census(tmp_path, baseline_yaml):
    from sim.config import load_scenario
    from sim.runner import plan_run, run_batch

    path = tmp_path / "fy.yaml"
    path.write_text(f"extends: {baseline_yaml}\nname: fy\nend: 2026-05\nreplications: 1\n"
                    "diagnostics: {enabled: false}\ncancer: {enabled: false}\n", encoding="utf-8")
    scenario, doc = load_scenario(path)
    plan = plan_run(scenario, doc)
    cube = run_batch(plan, np.array([0, 1]))
    national = cube.values[:, cube.series_index("national", "ENG"), cube.metric_index("icb_allocation_gbp_m")]
    dates = list(cube.dates)
    march, april = dates.index("2026-03-31"), dates.index("2026-04-30")
    assert np.isnan(national[:, 0]).all()  # the start census closes 2024/25
    np.testing.assert_allclose(national[:, 1:march + 1], plan.finance.allocation.envelope_gbp_m)  # all of 2025/26
    growth = national[:, april] / national[:, march] - 1
    assert (growth > 0.02).all() and (growth < 0.04).all()  # 3% real growth in 2026/27 (Spending Review 2025)
