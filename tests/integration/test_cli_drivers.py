"""`sim run` reports what each replication drew and which draws move each commitment.

The logged draws must be the ones the model used: each replication's clock
starts in March 2026, against the point estimate's, follow exactly from its
logged demand growth and demand shock. How drivers are ranked is tested on
synthetic outcomes (tests/unit/test_drivers.py): in a real run a year's spread
has dozens of comparable sources, so no single ranking is a stable fact.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.drivers import SHOCK_NAMES

pytestmark = pytest.mark.integration

ARGS = ("--reps", "12", "--end", "2026-03", "--quiet")
# A wide input, so parameters.csv shows a draw far from its neighbours' ranges.
WIDE = "capacity.nonadmitted_growth_pct_per_year"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, baseline_yaml):
    folder = tmp_path_factory.mktemp("drivers")
    path = folder / "wide_activity.yaml"
    path.write_text(f"name: wide_activity\nextends: {baseline_yaml}\ncapacity:\n"
                    "  nonadmitted_growth_pct_per_year: {dist: triangular, low: -15, mode: 5, high: 25}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run_dir(sim_cli, scenario):
    out = scenario.parent / "run"
    result = sim_cli("run", scenario, *ARGS, "--jobs", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_parameters_csv_holds_every_replication_draw(run_dir):
    params = pd.read_csv(run_dir / "parameters.csv")
    assert params["replication"].tolist() == list(range(13))
    assert params.loc[0, WIDE] == 5.0  # the point estimate takes the mode
    assert params[WIDE].iloc[1:].between(-15, 25).all() and params[WIDE].iloc[1:].nunique() == 12
    assert params["capacity.redeployment.spare_redeployed_pct"].between(0, 100).all()
    assert "shocks.rtt_activity.2026-03" in params.columns
    logged = {c.split(".")[1] for c in params.columns if c.startswith("shocks.")}
    assert logged == set(SHOCK_NAMES)  # every process a run logs has a display name, and every name is logged


def test_logged_draws_are_the_ones_the_model_used(run_dir):
    params = pd.read_csv(run_dir / "parameters.csv").set_index("replication")
    traj = pd.read_parquet(run_dir / "trajectories.parquet")
    starts = traj[(traj["level"] == "national") & (traj["metric"] == "rtt_clock_starts")
                  & (traj["date"].astype(str) == "2026-03-31")].set_index("replication")["value"]
    growth = params["demand.growth_pct_per_year"] / 100
    years = 1.0  # trends grow from the calibration's last month, March 2025
    expected = ((1 + growth) / (1 + growth[0])) ** years * (1 + params["shocks.rtt_clock_starts.2026-03"] / 100)
    np.testing.assert_allclose((starts / starts[0]).sort_index(), expected.sort_index(), rtol=1e-9)
    assert expected.iloc[1:].std() > 0.005  # the replications differ, so the check has teeth


def test_every_national_commitment_gets_ranked_drivers_and_a_chart(run_dir):
    drivers = pd.read_csv(run_dir / "drivers.csv", dtype={"deadline": str})
    targets = pd.read_csv(run_dir / "targets.csv", dtype={"deadline": str})
    national = targets[targets["level"] == "national"]
    assert set(zip(drivers["metric"], drivers["deadline"])) == set(zip(national["metric"], national["deadline"]))
    for _, rows in drivers.groupby(["metric", "deadline"]):
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["rank_correlation"].abs().is_monotonic_decreasing
        assert (rows["replications"] == 12).all()
    wide = drivers[drivers["driver"] == WIDE]
    assert len(wide) == len(national)  # a parameter drawn once drives every commitment
    assert (run_dir / "plots" / "drivers_rtt_within_18w_pct_2026-03.png").is_file()


def test_two_workers_give_the_same_draws_and_drivers(sim_cli, scenario, run_dir):
    out = scenario.parent / "two_workers"
    result = sim_cli("run", scenario, *ARGS, "--jobs", "2", "--batch-size", "5", "--out", out)
    assert result.returncode == 0, result.stderr
    for name in ("parameters.csv", "drivers.csv"):
        assert (out / name).read_bytes() == (run_dir / name).read_bytes(), name
