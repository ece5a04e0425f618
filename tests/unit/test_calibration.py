"""Calibration pieces on synthetic data with known answers."""

import numpy as np
import pandas as pd
import pytest

from sim import reference
from sim.calendar import add_months, month_range
from sim.calibration import fit_trend, long_wait_thresholds, seasonal_factors, split_stages


def _series(growth_pct, season, noise=0.0, n=60, seed=0):
    months = month_range("2018-01", add_months("2018-01", n - 1))
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 12.0
    s = np.array([season[int(m[5:]) - 1] for m in months])
    y = 1000.0 * (1 + growth_pct / 100) ** t * s * np.exp(noise * rng.standard_normal(n))
    return pd.Series(y, index=list(months))


def test_fit_trend_recovers_growth_and_seasonality():
    season = [1.0, 1.02, 1.01, 1.03, 1.05, 1.0, 0.99, 0.95, 0.98, 1.0, 1.0, 0.97]
    season = list(np.array(season) / np.mean(season))
    series = _series(3.0, season)
    fit = fit_trend(series, series.index[12], series.index[-1], history=series)
    assert fit.growth_pct_per_year == pytest.approx(3.0, abs=0.01)
    np.testing.assert_allclose(fit.seasonal_factors, season, atol=2e-3)
    assert fit.shock_sd_pct < 0.1


def test_growth_standard_error_grows_with_noise():
    season = [1.0] * 12
    quiet = fit_trend(_series(2.0, season, 0.005), "2019-01", "2022-12")
    noisy = fit_trend(_series(2.0, season, 0.03), "2019-01", "2022-12")
    assert noisy.growth_se_pct_per_year > 3 * quiet.growth_se_pct_per_year
    assert noisy.shock_sd_pct == pytest.approx(3.0, rel=0.3)


def test_seasonal_factors_average_one():
    series = _series(1.0, [1.0 + 0.1 * np.sin(k) for k in range(12)])
    assert np.mean(seasonal_factors(series)) == pytest.approx(1.0)


def test_long_wait_thresholds_hold_targets_already_due_and_chase_the_next():
    months = ("2023-03", "2023-04", "2023-05", "2024-09", "2024-10", "2025-03", "2026-06")
    got = long_wait_thresholds(reference.targets(), months)
    assert got == [(78.0,), (78.0,), (78.0, 65.0), (78.0, 65.0), (78.0, 65.0, 52.0), (78.0, 65.0, 52.0),
                   (78.0, 65.0, 52.0)]


def test_stage_split_keeps_the_list_and_the_admitted_share():
    total = np.exp(-np.arange(106) / 20.0) * 1000
    stages = split_stages(total, 0.16)
    np.testing.assert_allclose(stages.sum(axis=0), total)
    assert stages[1].sum() / total.sum() == pytest.approx(0.16)
    # admitted pathways are older on average
    w = np.arange(106)
    assert (stages[1] * w).sum() / stages[1].sum() > (stages[0] * w).sum() / stages[0].sum()


def _profile():
    from sim.config import PriorityProfile

    return PriorityProfile(urgent_amplitude=3.0, urgent_weeks=6.0, in_turn_nonadmitted=2.0, in_turn_admitted=1.0,
                           long_wait_priority=4.0, long_wait_lead_weeks=8.0, other_removals_slope=0.5)


def test_the_long_wait_drift_scales_treat_in_turn_and_the_push_and_nothing_else():
    from sim.scenarios.flows import bin_weeks, priority_hazard

    p = _profile()
    base = priority_hazard(p, (65.0,))
    urgent = p.urgent_amplitude * np.exp(-bin_weeks() / p.urgent_weeks)
    drifted = priority_hazard(p, (65.0,), long_wait_scale=np.exp(0.5))
    np.testing.assert_allclose(drifted - 1 - urgent, np.exp(0.5) * (base - 1 - urgent), rtol=1e-9, atol=1e-12)
    mixed = priority_hazard(p, (65.0,), urgent_scale=2.0)
    np.testing.assert_allclose(mixed - base, np.broadcast_to(urgent, base.shape), rtol=1e-9, atol=1e-12)


def test_chasing_long_waiters_harder_leaves_fewer_52_week_waiters():
    from sim.calibration import national_series, replay
    from sim.pipeline import admitted_share_before

    obs = reference.rtt_national()
    months = month_range("2024-04", "2025-03")
    thresholds = long_wait_thresholds(reference.targets(), months)
    share, _ = admitted_share_before("2024-03")
    over52 = {y: national_series(replay(obs, months[0], months[-1], _profile(), share, thresholds, None,
                                        np.full(len(months), y)), "rtt_over_52w").iloc[1:].to_numpy()
              for y in (-0.5, 0.0, 0.5)}
    assert (over52[0.5] < over52[0.0]).all() and (over52[0.0] < over52[-0.5]).all()


def test_replication_0_has_no_drift_and_a_zero_sd_switches_it_off(tmp_path, baseline_yaml):
    from sim.config import load_calibration, load_scenario
    from sim.scenarios.parameters import flow_draws

    calib = load_calibration("national_2025-03")
    assert calib.long_wait_annual_sd > 0
    scenario, _ = load_scenario(baseline_yaml)
    assert not flow_draws(scenario, calib, 0, 24).long_wait_shock.any()
    drift = flow_draws(scenario, calib, 1, 24).long_wait_shock
    assert drift.any() and not np.array_equal(drift, flow_draws(scenario, calib, 1, 24).case_mix_shock)
    off = tmp_path / "off.yaml"
    off.write_text(f"extends: {baseline_yaml}\nname: off\ncapacity: {{long_wait_annual_sd: 0}}\n", encoding="utf-8")
    scenario_off, _ = load_scenario(off)
    assert not flow_draws(scenario_off, calib, 1, 24).long_wait_shock.any()


def test_a_calibration_file_from_before_the_drift_still_loads_with_none():
    from sim.config import CalibrationParams, load_calibration

    data = load_calibration("national_2024-03").model_dump()
    for key in ("long_wait_annual_sd", "long_wait_evidence", "priority_fit_first_month"):
        data.pop(key)
    older = CalibrationParams(**data)
    assert older.long_wait_annual_sd == 0.0 and older.priority_fit_first_month is None
