"""Rolling backtests on the shipped data: `sim backtest` at three RTT cutoffs, each forecasting 12 months,
and one from October 2024 that runs diagnostics and cancer too (5 months: their provider data start in 2024).

Each cutoff is calibrated on the 24 months up to it (the priority profile on
the last 12, and the drifts of the priority weights from a fit a year
earlier), forecasts the next 12 months from the published position, and is
scored against what NHS England published and against persistence (the
cutoff month held flat). The thresholds are what the model achieves at every
cutoff, with margin for Monte Carlo noise; docs/VALIDATION.md has the whole
table and what is not yet good enough (the list beats persistence only from
March 2023; from March 2023 the waits tie or lose to persistence in a year
when they hardly moved; % within 18 weeks from March 2023 is 1.01 points off).
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from sim.backtest import BACKTEST_METRICS, SERVICE_METRICS
from sim.backtest_run import run_backtest
from sim.run_folder import verify_run

CUTOFFS = ("2023-03", "2023-09", "2024-03")
SERVICES_CUTOFF = "2024-10"  # the first month the DM01 provider data (from August 2024) can start diagnostics


@pytest.fixture(scope="module")
def rolling(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """One `sim backtest` call with the four cutoffs: a folder per cutoff, one table."""
    return run_backtest([*CUTOFFS, SERVICES_CUTOFF], replications=60, horizon=12, out_dir=tmp_path_factory.mktemp("bt") / "rolling",
                        jobs=2, quiet=True)


@pytest.fixture(scope="module")
def scores(rolling) -> pd.DataFrame:
    return rolling[1].set_index(["cutoff", "metric"])


def test_a_rolling_backtest_keeps_each_forecast_in_its_own_verifiable_folder(rolling):
    folder, table = rolling
    assert verify_run(folder) == []
    assert sorted(p.name for p in folder.iterdir()) == sorted([*CUTOFFS, SERVICES_CUTOFF, "backtest.csv",
                                                               "manifest.json"])
    for cutoff in CUTOFFS:
        assert "fit_last_month: " + cutoff in (folder / cutoff / "calibration.yaml").read_text()
        assert (folder / cutoff / "scenario.yaml").is_file() and (folder / cutoff / "summary.csv").is_file()
    assert pd.read_csv(folder / "backtest.csv", dtype={"cutoff": str}).equals(table)


# From March 2023 the waits hardly moved for a year, so holding them flat was a hard forecast to
# beat: the model ties on % within 18 weeks and the median and loses on the long waits there.
@pytest.mark.parametrize("cutoff", ["2023-09", "2024-03"])
def test_every_wait_measure_beats_persistence_when_waits_moved(scores, cutoff):
    for metric in ("rtt_within_18w_pct", "rtt_median_weeks", "rtt_p92_weeks", "rtt_over_52w"):
        assert scores.loc[(cutoff, metric), "beats_persistence"], metric


@pytest.mark.parametrize(("cutoff", "points"), [("2023-03", 1.1), ("2023-09", 1.0), ("2024-03", 1.0)])
def test_percent_within_18_weeks_is_within_a_point(scores, cutoff, points):
    # From March 2023: 1.01 points (0.49 replaying the year with the observed flows: the flow forecast's error).
    assert scores.loc[(cutoff, "rtt_within_18w_pct"), "model_error"] < points  # mean over 12 months


def test_long_waits_are_within_a_quarter_and_two_weeks(scores):
    for cutoff in CUTOFFS:
        assert scores.loc[(cutoff, "rtt_over_52w"), "model_error"] < 25.0, cutoff  # % of observed
        assert scores.loc[(cutoff, "rtt_p92_weeks"), "model_error"] < 1.5, cutoff  # weeks


def test_the_list_is_within_5_percent(scores):
    for cutoff in CUTOFFS:
        assert scores.loc[(cutoff, "rtt_waiting_list"), "model_error"] < 5.0, cutoff


@pytest.mark.parametrize("metric", ["rtt_waiting_list", "rtt_within_18w_pct", "rtt_median_weeks", "rtt_p92_weeks",
                                    "rtt_over_52w"])
def test_bands_are_neither_padded_nor_far_too_narrow(scores, metric):
    # Pooled over 36 months (serially correlated within a cutoff, so rough): the 10-90% band
    # should hold about 80% of observed months; the bar is 70-90%.
    coverage = scores.drop(SERVICES_CUTOFF, level="cutoff").xs(metric, level="metric")["coverage_10_90"].mean()
    assert 0.6 <= coverage <= 0.95


def test_every_cutoff_scored_every_headline_metric_over_12_months(scores):
    rtt = scores.drop(SERVICES_CUTOFF, level="cutoff")
    assert rtt["months"].eq(12).all() and len(rtt) == 3 * 5


def test_the_services_run_and_are_scored_only_where_their_provider_data_start_them(rolling, scores):
    services = scores.loc[SERVICES_CUTOFF]
    assert list(services.index) == [*BACKTEST_METRICS, *SERVICE_METRICS]
    assert services["months"].eq(5).all()  # November 2024 to March 2025
    backtests = json.loads((rolling[0] / "manifest.json").read_text())["backtests"]
    assert {e["cutoff"]: e["services"] for e in backtests} == {**dict.fromkeys(CUTOFFS, False), SERVICES_CUTOFF: True}
    [entry] = [e for e in backtests if e["services"]]  # how its services were calibrated, up to the cutoff only
    assert entry["services_calibration"]["diagnostics"]["census_month"] == SERVICES_CUTOFF
    assert entry["services_calibration"]["cancer"]["window"][-1] == SERVICES_CUTOFF
    assert entry["services_calibration"]["cancer"]["monthly_variation"]["published"]["fds_pct"]["months"][1] == SERVICES_CUTOFF
    # Two DM01 changes to the cutoff are too few to size the diagnostic variation: the RTT flows' shocks stand in.
    assert entry["services_calibration"]["diagnostics"]["monthly_variation"]["basis"] == "rtt_flows"


def test_services_medians_are_within_a_few_points_and_beat_persistence_on_cancer_diagnosis(scores):
    services = scores.loc[SERVICES_CUTOFF]
    assert services.loc["diag_waiting_list", "model_error"] < 3.0  # % of observed
    for metric in ("diag_over_6w_pct", "cancer_fds_pct", "cancer_62d_pct", "cancer_31d_pct"):
        assert services.loc[metric, "model_error"] < 2.5, metric  # points
    for metric in ("diag_over_6w_pct", "cancer_fds_pct", "cancer_31d_pct"):
        assert services.loc[metric, "beats_persistence"], metric


def test_service_bands_carry_month_to_month_variation(scores):
    # Without the monthly variation (cancer.monthly_variation, diagnostics.monthly_variation: false) the FDS
    # and 31-day bands were about 0.2 points wide and the diagnostic list's band held none of the five months.
    # % over 6 weeks is held to its median only (2 of 5 months: docs/VALIDATION.md section 3).
    services = scores.loc[SERVICES_CUTOFF]
    for metric in ("cancer_fds_pct", "cancer_31d_pct", "diag_waiting_list"):
        assert services.loc[metric, "coverage_10_90"] >= 0.6, metric
    assert services.loc["cancer_62d_pct", "coverage_5_95"] >= 0.2  # emergent, not fitted: 2 of 5 months
