"""Cancer calibration on the shipped data: national fit, volumes, windows, and a run through the engine."""

import numpy as np
import pytest

from sim import reference
from sim.calendar import parse_month, working_days_in_month
from sim.engine import cancer
from sim.scenarios.cancer import calibrate_cancer, national_steady_state
from sim.world import load_world

SIGMAS = {"fds_sigma": 0.8, "treatment_sigma": 0.9, "dtt_sigma": 0.6}
WEEK = np.array([1.0, 1, 1, 1, 1, 0, 0])


@pytest.fixture(scope="module")
def codes():
    return load_world().rtt_trust_codes


@pytest.fixture(scope="module")
def cal(codes):
    return calibrate_cancer(codes, "2025-03", dtt_median_days=None, capacity_headroom=0.2, **SIGMAS)


def _national_window(first, last):
    df = reference.cancer_national().set_index("month").loc[first:last]
    working = sum(working_days_in_month(*parse_month(m)) for m in df.index)
    return df, working


def test_national_figures_are_fitted(cal):
    assert cal.fit["window"] == ("2024-04", "2025-03") and cal.fit["months"] == 12
    df, _ = _national_window("2024-04", "2025-03")
    assert cal.fit["fds_pct"]["target"] == pytest.approx(
        (df.fds_pct * df.fds_total).sum() / df.fds_total.sum(), abs=1e-9)
    for key in ("fds_pct", "pct_31day", "pct_62day"):
        assert cal.fit[key]["fitted"] == pytest.approx(cal.fit[key]["target"], abs=0.2), key
        assert 50 < cal.fit[key]["target"] < 95
    assert national_steady_state(cal)["pct_62day"] == pytest.approx(cal.fit["pct_62day"]["fitted"], abs=1e-12)
    assert 1 < cal.dtt_median_days < 60


def test_volumes_match_the_national_file(cal, codes):
    df, working = _national_window("2024-04", "2025-03")
    assert 0.05 < cal.cancer_share < 0.2
    assert cal.cancer_share == pytest.approx(df.c62_total.sum() / df.fds_total.sum(), rel=1e-12)
    assert cal.referrals_per_wd.sum() == pytest.approx(df.fds_total.sum() / working, rel=1e-12)
    assert cal.subsequent_per_wd.sum() == pytest.approx((df.c31_total.sum() - df.c62_total.sum()) / working,
                                                        rel=1e-12)
    assert len(cal.referrals_per_wd) == len(codes) == len(cal.fds_median_days)
    assert (cal.subsequent_per_wd >= 0).all() and (cal.referrals_per_wd >= 0).all()
    # 31-day treatments per calendar day (365 days, 2024-04..2025-03) times the headroom.
    treatments = (cal.cancer_share * cal.referrals_per_wd + cal.subsequent_per_wd).sum() * working / 365
    assert cal.treat_capacity_per_day.sum() == pytest.approx(1.2 * treatments, rel=1e-12)
    with pytest.raises(ValueError):
        cal.referrals_per_wd[0] = 1.0


def test_a_trust_with_better_fds_performance_gets_a_shorter_median(cal, codes):
    df = reference.cwt_provider()
    fds = df[df.standard == "28-day FDS"].groupby("provider_code")[["total", "within_standard"]].sum()
    share = (fds.within_standard / fds.total).reindex(list(codes)).to_numpy()
    has_data = np.isfinite(share)
    assert has_data.sum() > 100
    # Trusts without FDS data take the national share, so the national median.
    assert np.ptp(cal.fds_median_days[~has_data]) < 1e-9
    share, medians = share[has_data], cal.fds_median_days[has_data]
    assert medians[np.argmin(share)] > medians[np.argmax(share)]
    assert np.corrcoef(share, np.log(medians))[0, 1] < -0.9


def test_outputs_follow_the_order_of_the_trust_codes(cal, codes):
    flipped = calibrate_cancer(codes[::-1], "2025-03", dtt_median_days=None, capacity_headroom=0.2, **SIGMAS)
    np.testing.assert_allclose(flipped.referrals_per_wd, cal.referrals_per_wd[::-1], rtol=1e-12)
    np.testing.assert_allclose(flipped.treatment_median_days, cal.treatment_median_days[::-1], rtol=1e-9)


def test_a_given_dtt_median_is_kept_and_moves_the_62_day_figure(codes):
    fast = calibrate_cancer(codes, "2025-03", dtt_median_days=5.0, capacity_headroom=0.2, **SIGMAS)
    assert fast.dtt_median_days == 5.0 and fast.fit["dtt_median_fitted"] is False
    assert fast.fit["pct_62day"]["fitted"] > fast.fit["pct_62day"]["target"] + 5


def test_windows_outside_the_provider_data_are_refused(codes):
    with pytest.raises(ValueError, match="outside the shipped CWT cancer provider data"):
        calibrate_cancer(codes, "2025-04", dtt_median_days=None, capacity_headroom=0.2, **SIGMAS)
    with pytest.raises(ValueError, match="at least 3"):
        calibrate_cancer(codes, "2024-05", dtt_median_days=None, capacity_headroom=0.2, **SIGMAS)
    short = calibrate_cancer(codes, "2024-06", dtt_median_days=None, capacity_headroom=0.2, **SIGMAS)
    assert short.window == ("2024-04", "2024-05", "2024-06")
    with pytest.raises(ValueError, match="fds_sigma"):
        calibrate_cancer(codes, "2025-03", dtt_median_days=None, capacity_headroom=0.2,
                         **{**SIGMAS, "fds_sigma": -1.0})


def test_the_engine_reproduces_the_national_figures_in_steady_state(cal, codes):
    n = len(codes)
    params = {"referrals_per_wd": cal.referrals_per_wd[None], "subsequent_per_wd": cal.subsequent_per_wd[None],
              "fds_hazard": cal.fds_hazard(), "fds_access": np.ones((1, n)),
              "cancer_share": np.array([cal.cancer_share]), "treat_hazard": cal.treat_hazard(),
              "treat_capacity_per_day": cal.treat_capacity_per_day[None]}
    state = cancer.CancerState.zeros(1, n)
    cancer.advance(state, working=np.tile(WEEK, 60), **params)
    state.reset_accumulators()
    cancer.advance(state, working=np.tile(WEEK, 4), **params)
    c = cancer.census(state, cal.dtt_pmf())
    assert 100 * c.fds_within.sum() / c.fds_total.sum() == pytest.approx(cal.fit["fds_pct"]["target"], abs=0.2)
    assert 100 * c.treat31_within.sum() / c.treat31_total.sum() == pytest.approx(cal.fit["pct_31day"]["target"],
                                                                                  abs=0.2)
    assert 100 * c.treat62_within.sum() / c.treat62_total.sum() == pytest.approx(cal.fit["pct_62day"]["target"],
                                                                                  abs=0.2)
