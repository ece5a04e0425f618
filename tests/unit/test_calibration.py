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
