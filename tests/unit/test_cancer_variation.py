"""The cancer pathway's month-to-month variation: read from the published series, sized by simulation, drawn per
replication."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import cancer_variation
from sim.calendar import month_range, parse_month, working_days_in_month
from sim.config import load_scenario
from sim.errors import InputError
from sim.runner import plan_run
from sim.scenarios.cancer import calibrate_cancer, published_variation
from sim.scenarios.cancer_inputs import batch_inputs
from sim.scenarios.flows import ar1_shocks
from sim.service_data import ServiceData, shipped_service_data
from sim.world import load_world

ROOT = Path(__file__).resolve().parents[2]
MONTHS = month_range("2023-04", "2025-03")


def _series(fds, c31) -> ServiceData:
    frame = pd.DataFrame({"month": MONTHS, "fds_pct": fds, "pct_31day": c31})
    return dataclasses.replace(shipped_service_data(), cancer_national=frame)


def test_a_series_explained_by_trend_and_working_days_has_no_residual_variation():
    t = np.arange(len(MONTHS))
    wd = np.array([working_days_in_month(*parse_month(m)) for m in MONTHS], dtype=float)
    data = _series(70 + 0.2 * t + 0.8 * wd, 90 - 0.05 * t + 0.3 * wd)
    out = published_variation("2025-03", data=data)
    assert out["fds_pct"]["residual_sd"] < 1e-9 and out["pct_31day"]["residual_sd"] < 1e-9
    assert out["fds_pct"]["months"] == ("2023-04", "2025-03", 24)


def test_alternating_months_are_noise_with_negative_autocorrelation():
    wiggle = np.where(np.arange(len(MONTHS)) % 2 == 0, 1.5, -1.5)
    fds = published_variation("2025-03", data=_series(75 + wiggle, 90 + 0 * wiggle))["fds_pct"]
    assert 1.3 < fds["residual_sd"] < 1.8  # 1.5 a month, a little lost to the three fitted terms
    assert fds["autocorrelation"] < -0.8


def test_a_flat_series_has_no_variation_and_no_undefined_autocorrelation():
    out = published_variation("2025-03", data=_series([75.0] * 24, [90.0] * 24))["fds_pct"]
    assert out["residual_sd"] < 1e-9 and out["autocorrelation"] == 0.0


def test_too_few_published_months_are_refused():
    with pytest.raises(ValueError, match="10 months of fds_pct"):
        published_variation("2025-03", data=_series([np.nan] * 14 + [75.0] * 10, [90.0] * 24))


@pytest.fixture(scope="module")
def sized():
    cal = calibrate_cancer(load_world().rtt_trust_codes, "2025-03", fds_sigma=0.7, treatment_sigma=0.6,
                           dtt_median_days=None, dtt_sigma=0.5, capacity_headroom=0.15)
    return cancer_variation.size_monthly_variation(cal)


def test_the_sized_shocks_reproduce_the_published_variation(sized):
    v = sized.variation
    months = cancer_variation.SIZING_MONTHS
    g = np.random.default_rng(7)  # fresh draws, not the sizing's own
    fds = [ar1_shocks(g, months, v.fds_sd, v.fds_rho) for _ in range(200)]
    treat = [ar1_shocks(g, months, v.treatment_sd, v.treatment_rho) for _ in range(200)]
    zero = np.zeros((1, months))
    run = cancer_variation._simulate(sized, "2025-04", np.vstack([zero, *fds]), np.vstack([zero, *treat]))
    for metric, column in (("cancer_fds_pct", "fds_pct"), ("cancer_31d_pct", "pct_31day")):
        deviation = run[metric][1:] - run[metric][:1]
        assert np.sqrt(np.mean(deviation ** 2)) == pytest.approx(v.published[column]["residual_sd"], rel=0.06), metric


def test_the_62_day_standard_varies_as_published_without_being_fitted(sized):
    """Out of sample: the shocks are sized to FDS and the 31-day standard; the 62-day variation is what they cause."""
    v = sized.variation
    months = cancer_variation.SIZING_MONTHS
    g = np.random.default_rng(11)
    fds = [ar1_shocks(g, months, v.fds_sd, v.fds_rho) for _ in range(200)]
    treat = [ar1_shocks(g, months, v.treatment_sd, v.treatment_rho) for _ in range(200)]
    zero = np.zeros((1, months))
    run = cancer_variation._simulate(sized, "2025-04", np.vstack([zero, *fds]), np.vstack([zero, *treat]))
    deviation = run["cancer_62d_pct"][1:] - run["cancer_62d_pct"][:1]
    published = v.published["pct_62day"]
    assert published["months"][2] == 24 and 1.0 < published["residual_sd"] < 2.5
    assert np.sqrt(np.mean(deviation ** 2)) == pytest.approx(published["residual_sd"], rel=0.2)


def test_replication_0_is_central_and_the_others_carry_the_sized_shocks(sized):
    scenario, _ = load_scenario(ROOT / "configs" / "baseline.yaml", {"replications": 60})
    months = tuple(month_range("2025-04", "2027-03"))
    inputs = batch_inputs(scenario, sized, months, np.arange(61), 1.0)
    assert not inputs.fds_shock[0].any() and not inputs.treat_shock[0].any()
    assert np.std(inputs.fds_shock[1:]) == pytest.approx(sized.variation.fds_sd, rel=0.1)
    assert np.std(inputs.treat_shock[1:]) == pytest.approx(sized.variation.treatment_sd, rel=0.1)
    off, _ = load_scenario(ROOT / "configs" / "baseline.yaml", {"cancer": {"monthly_variation": False}})
    quiet = batch_inputs(off, sized, months, np.arange(5), 1.0)
    assert not quiet.fds_shock.any() and not quiet.treat_shock.any()


def test_a_users_series_too_short_to_size_the_variation_is_a_clear_input_error(tmp_path):
    short = tmp_path / "cancer_short.csv"
    shipped_service_data().cancer_national.tail(8).to_csv(short, index=False)
    scenario, doc = load_scenario(ROOT / "configs" / "baseline.yaml",
                                  {"replications": 1, "end": "2025-06", "cancer": {"rates_window_months": 6},
                                   "world": {"cancer_national_csv": str(short)}})
    with pytest.raises(InputError, match=r"cancer\.monthly_variation.*national cancer series in .*cancer_short\.csv has "
                                         r"8 months of fds_pct.*Allowed: false"):
        plan_run(scenario, doc)
