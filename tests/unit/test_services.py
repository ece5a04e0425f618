"""Diagnostic and cancer services in the model: conservation, census, coupling and the levers' direction."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sim.config import load_scenario
from sim.config_reforms import Ramp
from sim.engine import diagnostics as dx
from sim.model import NHSModel
from sim.runner import plan_run
from sim.scenarios import diagnostics as diag_inputs
from sim.scenarios.build import batch_inputs
from sim.scenarios.parameters import capacity_growth
from sim.scenarios.reforms import elective_multipliers, ramp_fraction
from sim.service_plan import build_services, service_census_months


@pytest.fixture(scope="module")
def planned(tmp_path_factory, baseline_yaml):
    path = tmp_path_factory.mktemp("svc") / "short.yaml"
    path.write_text(f"extends: {baseline_yaml}\nname: short\nend: 2025-09\nreplications: 2\n", encoding="utf-8")
    scenario, doc = load_scenario(path)
    return scenario, plan_run(scenario, doc)


def _services(scenario, plan, reps=np.array([0, 1])):
    return build_services(plan.services, scenario, plan.rows.geography, plan.months, reps, plan.rows.national_scale)


def test_ramp_fraction_is_linear_between_start_and_full():
    months = ("2025-03", "2025-04", "2025-05", "2025-06", "2025-07")
    np.testing.assert_allclose(ramp_fraction(Ramp(start="2025-04", full="2025-06"), months), [0, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(ramp_fraction(Ramp(start="2025-05", full="2025-05"), months), [0, 0, 1, 1, 1])


def test_elective_levers_act_on_their_stage(planned):
    scenario, _ = planned
    months = ("2025-04", "2026-04")
    policy = {"advice_and_guidance": {"ramp": {"start": "2025-04", "full": "2025-04"}, "effect_pct": 2},
              "theatre_sessions": {"ramp": {"start": "2026-01", "full": "2026-03"}, "effect_pct": 10}}
    s = scenario.model_validate({**scenario.model_dump(), "policies": {"elective_reform": policy}})
    m = elective_multipliers(s.policies.elective_reform, months, s.seed, 0)
    np.testing.assert_allclose(m["clock_starts"], [0.98, 0.98])
    np.testing.assert_allclose(m["admitted"], [1.0, 1.10])
    np.testing.assert_allclose(m["nonadmitted"], [1.0, 1.0])


def test_start_census_reproduces_published_diagnostics(planned):
    scenario, plan = planned
    diag, _ = _services(scenario, plan)
    metrics = diag.census(0, flows=False)
    series = plan.rows.geography.series()
    national = series.index(series[0])
    assert metrics["diag_waiting_list"][0, national] == pytest.approx(1_703_242, rel=1e-6)
    assert metrics["diag_over_6w_pct"][0, national] == pytest.approx(18.3617, abs=1e-3)
    # Tests sum to England; specialties carry no diagnostic rows.
    tests = [k for k, key in enumerate(series) if key.breakdown in plan.rows.geography.test_codes]
    assert metrics["diag_waiting_list"][0, tests].sum() == pytest.approx(1_703_242, rel=1e-6)
    spec = [k for k, key in enumerate(series) if key.breakdown.startswith("C_")]
    assert np.isnan(metrics["diag_waiting_list"][0, spec]).all()


def test_diagnostic_requests_are_conserved_and_coupling_is_neutral_on_trend(planned):
    scenario, plan = planned
    diag, _ = _services(scenario, plan)
    before = diag.stock.sum(axis=(1, 2, 3), dtype=np.float64)
    mults = [diag.step(0, 5.0, 7, age=True) for _ in range(4)]
    added = diag.acc[..., dx.ACC_REQUESTS:dx.ACC_REQUESTS + 3].sum(axis=(1, 2))
    tested = diag.acc[..., dx.ACC_TESTS:dx.ACC_TESTS + 3].sum(axis=(1, 2))
    np.testing.assert_allclose(diag.stock.sum(axis=(1, 2, 3), dtype=np.float64), before + added - tested, rtol=1e-6)
    assert 0.97 < np.mean(mults[-1]) < 1.03


def test_a_diagnostic_shortfall_holds_back_rtt_clock_stops(planned):
    scenario, plan = planned
    diag, _ = _services(scenario, plan)
    short = dataclasses.replace(diag.inputs, list_capacity_per_wd=diag.inputs.list_capacity_per_wd * 0.5)
    diag.inputs = short
    mult = np.mean([diag.step(0, 5.0, 7, age=True) for _ in range(4)], axis=0)
    f = short.rtt_coupling[:, None]
    assert (mult <= 1.0 + 1e-12).all() and (mult >= 1.0 - f - 1e-12).all()
    assert np.mean(mult) < 0.9


def test_right_test_right_time_spares_urgent_requests_unless_told(planned):
    scenario, plan = planned
    base, _ = _services(scenario, plan)
    rttt = {"removal_pct_by_test": {"mri": 50, "ct": 50}, "spread": {"start": "2025-04", "full": "2025-04"}}
    for exempt in (True, False):
        s = scenario.model_validate({**scenario.model_dump(),
                                     "policies": {"rttt": {**rttt, "exempt_urgent_cancer": exempt}}})
        diag, _ = _services(s, plan)
        b, d = base.inputs.requests_per_wd, diag.inputs.requests_per_wd
        mri = plan.services.diagnostics.providers.row_test == 0
        np.testing.assert_allclose(d[:, :, mri, dx.RTT], 0.5 * b[:, :, mri, dx.RTT])
        urgent_ratio = d[:, :, mri, dx.URGENT].sum() / b[:, :, mri, dx.URGENT].sum()
        assert urgent_ratio == pytest.approx(1.0 if exempt else 0.5)


def _run(scenario, plan, reps=np.array([0, 1])):
    inputs = batch_inputs(scenario, plan.calibration, plan.rows, plan.months, reps)
    diag, cancer = _services(scenario, plan, reps)
    model = NHSModel(plan.rows.geography, plan.start_stock(len(reps)), inputs, reps, np.random.default_rng(0),
                     diag, cancer)
    return model.run()


def test_fewer_requests_mean_a_shorter_diagnostic_list_and_shorter_waits(planned):
    scenario, plan = planned
    base = _run(scenario, plan)
    s = scenario.model_validate({**scenario.model_dump(), "policies": {"rttt": {
        "removal_pct_by_test": {"mri": 20, "ct": 20, "ultrasound": 20},
        "spread": {"start": "2025-04", "full": "2025-04"}}}})
    lever = _run(s, plan)
    nat = base.series_index("national", "ENG")
    # Counts fall everywhere; the national % can rise as the tests RTTT empties leave the mix (a
    # composition effect), so the % is checked per test.
    for series, metric in ((nat, "diag_waiting_list"), (nat, "diag_over_6w"),
                           (base.series_index("national", "ENG", "mri"), "diag_over_6w_pct")):
        j = base.metric_index(metric)
        assert (lever.values[:, series, j, -1] < base.values[:, series, j, -1]).all(), metric
    fds = base.metric_index("cancer_fds_pct")
    assert (lever.values[:, nat, fds, -1] >= base.values[:, nat, fds, -1] - 1e-9).all()


def test_cancer_standards_start_at_their_calibrated_level(planned):
    scenario, plan = planned
    cube = _run(scenario, plan, np.array([0]))
    nat = cube.series_index("national", "ENG")
    fit = plan.services.cancer.fit
    for metric, key in (("cancer_fds_pct", "fds_pct"), ("cancer_31d_pct", "pct_31day"), ("cancer_62d_pct", "pct_62day")):
        first_months = cube.values[0, nat, cube.metric_index(metric), 1:4]
        assert abs(np.mean(first_months) - fit[key]["target"]) < 2.0, (metric, first_months, fit[key])


def test_urgent_cancer_referrals_are_a_subset_of_rtt_clock_starts(planned):
    """USC referrals are not extra demand: each trust's are a fraction of its RTT clock starts."""
    scenario, plan = planned
    starts_per_wd = plan.calibration.clock_starts.level_per_working_day * plan.rows.national_scale
    g = plan.rows.geography
    trust_starts = np.bincount(g.row_trust, weights=plan.rows.demand_share, minlength=len(g.trust_codes)) * starts_per_wd
    usc = plan.services.cancer.referrals_per_wd
    assert usc.sum() < 0.25 * starts_per_wd
    big = trust_starts > 0.0005 * starts_per_wd
    assert (usc[big] < 0.6 * trust_starts[big]).all()


def test_the_services_can_start_from_the_third_dm01_month_on():
    # DM01 provider data run August 2024 - March 2025 and a start needs 3 months of them; CWT from April 2024.
    months = service_census_months(6, 12)
    assert months[0] == "2024-10" and months[-1] == "2025-03" and len(months) == 6
    assert service_census_months(6, 3)[0] == "2024-10"  # the later of the two files decides


def _dm01_england(lists: list[float], tests: list[float], months: list[str]):
    import pandas as pd
    return pd.DataFrame({"month": months, "waiting_list": lists, "waiting_list_tests": tests})


def test_diagnostic_variation_is_sized_to_the_published_list_changes():
    months = [f"2024-{m:02d}" for m in range(1, 10)]
    tests = [1_000_000.0] * 9
    # The list moves by +3% and -1% of a month's tests in turn: changes of mean 1% (the trend) and sd 2%.
    lists = list(1_500_000 + np.cumsum([0] + [30_000 if k % 2 == 0 else -10_000 for k in range(8)]))
    v = diag_inputs.size_monthly_variation(_dm01_england(lists, tests, months), "2024-09", fallback_sd=0.5)
    assert v.basis == "dm01" and v.published["changes"] == 8
    assert v.sd == pytest.approx(np.std([0.03, -0.01] * 4, ddof=1))
    assert v.published["mean"] == pytest.approx(0.01)
    assert v.rho == 0.0 and v.published["autocorrelation"] < -0.8  # alternation: clipped at 0
    # Months after the census are not read; too few changes fall back to the RTT flows' shocks.
    early = diag_inputs.size_monthly_variation(_dm01_england(lists, tests, months), "2024-05", fallback_sd=0.015)
    assert (early.basis, early.sd, early.rho, early.published["changes"]) == ("rtt_flows", 0.015, 0.0, 4)
    # A missing month breaks the run of changes rather than joining two months apart.
    gap = [m for m in months if m != "2024-05"]
    split = diag_inputs.size_monthly_variation(_dm01_england(lists[:4] + lists[5:], tests[:8], gap), "2024-09", 0.015)
    assert split.published["changes"] == 6


def test_request_multipliers_are_mean_one_with_the_sized_spread_and_none_for_the_central_path():
    v = diag_inputs.DiagnosticVariation(sd=0.025, rho=0.3, basis="dm01", published={})
    assert (diag_inputs.request_multipliers(v, 7, 0, 24) == 1.0).all()
    assert (diag_inputs.request_multipliers(None, 7, 3, 24) == 1.0).all()
    draws = np.stack([diag_inputs.request_multipliers(v, 7, r, 24) for r in range(1, 2001)])
    assert draws.mean() == pytest.approx(1.0, abs=0.002)
    assert np.log(draws).std() == pytest.approx(0.025, rel=0.05)
    lag = np.corrcoef(np.log(draws[:, :-1]).ravel(), np.log(draws[:, 1:]).ravel())[0, 1]
    assert lag == pytest.approx(0.3, abs=0.05)
    np.testing.assert_array_equal(draws[4], diag_inputs.request_multipliers(v, 7, 5, 24))  # replication alone


def test_diagnostic_requests_carry_the_monthly_variation_unless_it_is_off(planned):
    scenario, plan = planned
    v = plan.services.diagnostic_variation
    assert v is not None and v.basis == "dm01" and v.published["last"] == "2025-03"
    diag, _ = _services(scenario, plan, np.array([0, 1, 2]))
    r = diag.inputs.requests_per_wd.sum(axis=(2, 3))
    # Growth draws differ by replication, smoothly: the log ratio's second difference is the variation alone.
    wiggle = np.diff(np.log(r[1:] / r[0]), n=2, axis=1)
    assert wiggle.std() > 0.5 * v.sd
    off = scenario.model_validate({**scenario.model_dump(), "diagnostics": {
        **scenario.diagnostics.model_dump(), "monthly_variation": False}})
    quiet, _ = _services(off, plan, np.array([0, 1, 2]))
    q = quiet.inputs.requests_per_wd.sum(axis=(2, 3))
    assert np.abs(np.diff(np.log(q[1:] / q[0]), n=2, axis=1)).max() < 0.01 * v.sd


def test_service_capacity_keeps_pace_with_demand_unless_drawn_on_its_own(planned):
    scenario, _ = planned
    cfg = scenario.diagnostics
    own, gap = "diagnostics.capacity_growth_pct_per_year", "diagnostics.capacity_growth_gap_pct_per_year"
    assert capacity_growth(cfg, own, gap, 4.0, 7, 0) == 4.0  # the central path: demand growth, no gap
    draws = np.array([capacity_growth(cfg, own, gap, 4.0, 7, r) - 4.0 for r in range(1, 2001)])
    assert abs(draws.mean()) < 0.02 and draws.std() == pytest.approx(0.6 / 6 ** 0.5, rel=0.08)  # tri(-0.6, 0, 0.6)
    assert np.abs(draws).max() <= 0.6
    assert capacity_growth(cfg, own, gap, 29.9, 7, 1) <= 30.0  # clipped to the growth range
    alone = cfg.model_validate({**cfg.model_dump(exclude={"capacity_growth_gap_pct_per_year"}),
                                "capacity_growth_pct_per_year": {"dist": "uniform", "low": 1, "high": 2}})
    independent = [capacity_growth(alone, own, gap, 4.0, 7, r) for r in range(1, 200)]
    assert 1.0 <= min(independent) and max(independent) <= 2.0  # the demand draw plays no part


def test_cancer_treatment_capacity_follows_referral_growth_by_default(planned):
    scenario, plan = planned
    _, cancer = _services(scenario, plan, np.array([0, 1, 2, 3]))
    inp = cancer.inputs
    # Month 0 to the last month: capacity grows as referrals do, within the gap's tri(-1.2, 0, 1.2) a year.
    referral_growth = inp.referrals_per_wd[:, -1].sum(axis=1) / inp.referrals_per_wd[:, 0].sum(axis=1)
    capacity_growth_ = inp.treat_capacity_per_day[:, -1].sum(axis=1) / inp.treat_capacity_per_day[:, 0].sum(axis=1)
    np.testing.assert_allclose(capacity_growth_[0], referral_growth[0])
    assert (np.abs(np.log(capacity_growth_ / referral_growth)) < 0.02).all()  # 5 months: well under 2%


def test_a_provider_with_no_one_waiting_lends_its_tests_to_the_same_test_in_its_icb(planned):
    scenario, plan = planned
    lay = plan.services.diagnostics
    base, _ = _services(scenario, plan)
    pool = base.inputs.row_pool
    mri = np.flatnonzero(lay.providers.row_test == 0)
    biggest = np.bincount(pool[mri]).argmax()  # the MRI pool with the most providers
    rows = np.flatnonzero(pool == biggest)
    donor = rows[0]
    assert len(rows) > 1 and (lay.providers.row_test[rows] == 0).all()
    requests = base.inputs.requests_per_wd.copy()
    requests[:, :, donor] = 0.0  # no one asks the donor for an MRI any more, and no one waits for one there
    start = base.inputs.start_stock.copy()
    start[:, donor] = 0.0
    out = {}
    for share in (0.0, 1.0):
        inputs = dataclasses.replace(base.inputs, requests_per_wd=requests, start_stock=start,
                                     redeployed_share=np.full(2, share))
        diag = type(base)(inputs, lay, base.n_rtt_trusts, base.n_series)
        before = diag.stock.sum(axis=(1, 2, 3), dtype=np.float64)
        for week in range(4):
            diag.step(0, 5.0, 7, age=True)
            if week == 1:
                diag.step(0, 0.0, 0, age=False)  # a census on a weekend: no working days, no tests, no loans spent
        added = diag.acc[..., dx.ACC_REQUESTS:dx.ACC_REQUESTS + 3].sum(axis=(1, 2))
        tested = diag.acc[..., dx.ACC_TESTS:dx.ACC_TESTS + 3].sum(axis=-1)
        np.testing.assert_allclose(diag.stock.sum(axis=(1, 2, 3), dtype=np.float64),
                                   before + added - tested.sum(axis=1), rtol=1e-6)
        out[share] = tested, diag.redeployed[..., 0].copy()
    (tested0, lent0), (tested1, lent1) = out[0.0], out[1.0]
    assert (lent0 == 0).all()
    # the donor's idle MRI capacity (three weeks of it: a loan arrives the week after) goes to its pool's lists
    own_week = 5.0 * base.inputs.list_capacity_per_wd[:, 0, donor]
    in_pool = lent1[:, rows].sum(axis=1)
    assert (in_pool > 2.5 * own_week).all()
    assert (lent1[:, donor] == 0).all()
    # every test done with a loan is a test more than without one, and no more tests are done than rows own
    np.testing.assert_allclose(tested1.sum(axis=1) - tested0.sum(axis=1), lent1.sum(axis=1), rtol=1e-3)
    assert (tested1.sum(axis=1) <= 4 * 5.0 * base.inputs.list_capacity_per_wd[:, 0].sum(axis=1) * (1 + 1e-9)).all()


@pytest.mark.parametrize("within", ["icb", "region", "england"])
def test_diagnostic_pools_are_one_test_within_one_area(planned, within):
    lay = planned[1].services.diagnostics
    pool = diag_inputs.redeployment_pools(lay, within)
    region, icb = lay.row_series[:, 1], lay.row_series[:, 2]
    # with icb, a provider that is no ICB's trust pools with the others of its region
    area = {"icb": np.where(icb >= 0, icb, -1 - region), "region": region, "england": np.zeros_like(region)}[within]
    key = list(zip(area, lay.providers.row_test))
    assert len(set(key)) == len(set(pool))  # one pool per (area, test), no more, no fewer
    for p in np.unique(pool)[:200]:
        assert len({key[i] for i in np.flatnonzero(pool == p)}) == 1
