"""What each replication drew (parameters.csv) and which draws move each commitment (drivers.csv)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sim.cube_store import DRAWS_NAME, CubeLabels, CubeStore
from sim.distributions import Triangular
from sim.drivers import (MIN_REPLICATIONS, candidate_drivers, driver_rows, driver_table, explained_share, holm,
                         parameters_table)
from sim.metrics import MetricCube, SeriesKey
from sim.results import Target
from sim.scenarios.parameters import record_shocks, recording, value

TRI = Triangular(dist="triangular", low=0, mode=50, high=100)


# --- Logging the draws ----------------------------------------------------------------------

def test_recording_logs_uncertain_draws_without_changing_them():
    plain = [value(TRI, 7, r, "capacity.x_pct", 0, 100) for r in range(5)]
    with recording() as log:
        logged = [value(TRI, 7, r, "capacity.x_pct", 0, 100) for r in range(5)]
        value(3.0, 7, 1, "fixed.number")  # a plain number is no uncertainty: not a driver
    assert logged == plain
    table = log.table([0, 1, 2, 3, 4, 9])
    assert list(table) == ["capacity.x_pct"]
    np.testing.assert_array_equal(table["capacity.x_pct"][:5], plain)
    assert table["capacity.x_pct"][0] == 50.0  # replication 0: the central value
    assert np.isnan(table["capacity.x_pct"][5])  # not drawn for replication 9


def test_nothing_is_logged_outside_a_recording():
    with recording() as log:
        pass
    value(TRI, 7, 1, "capacity.x_pct")
    record_shocks("rtt_activity", 1, ("2026-03",), np.array([0.1]))
    assert log.table([1]) == {}


def test_shocks_are_logged_at_each_march_in_percent_off_path():
    months = ("2026-02", "2026-03", "2026-04", "2027-03")
    with recording() as log:
        record_shocks("rtt_activity", 3, months, np.log([1.5, 1.1, 2.0, 0.95]))
    table = log.table([3])
    assert list(table) == ["shocks.rtt_activity.2026-03", "shocks.rtt_activity.2027-03"]
    assert table["shocks.rtt_activity.2026-03"][0] == pytest.approx(10.0)
    assert table["shocks.rtt_activity.2027-03"][0] == pytest.approx(-5.0)


# --- Ranking them -----------------------------------------------------------------------------

def _synthetic(n: int = 200, seed: int = 1):
    rng = np.random.default_rng(seed)
    strong, weak, noise = rng.uniform(0, 1, n), rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    outcome = 60 + 10 * strong - 2 * weak + rng.normal(0, 0.5, n)
    return outcome, {"strong": strong, "weak": weak, "noise": noise, "constant": np.full(n, 4.0)}


def test_the_strongest_driver_ranks_first_with_its_swing_and_sign():
    outcome, draws = _synthetic()
    rows = driver_rows(outcome, draws)
    assert [r["driver"] for r in rows][:2] == ["strong", "weak"]
    assert "constant" not in [r["driver"] for r in rows]
    strong, weak = rows[0], rows[1]
    assert strong["rank"] == 1 and strong["rank_correlation"] > 0.9 and strong["p_value"] < 1e-6
    # The fifths of the strong draw sit near 60 + 10 * 0.1 and 60 + 10 * 0.9, less 2 x the weak draw's mean 0.5.
    assert strong["low_median"] == pytest.approx(60, abs=0.6) and strong["high_median"] == pytest.approx(68, abs=0.6)
    assert weak["rank_correlation"] < 0 and weak["swing"] < 0
    assert rows[-1]["driver"] == "noise" and abs(rows[-1]["rank_correlation"]) < 0.2
    assert strong["explained_pct"] > 90
    # What "low" and "high" mean for the input itself: medians of its own lowest and highest fifths of U(0, 1).
    assert strong["low_draw"] == pytest.approx(0.1, abs=0.05) and strong["high_draw"] == pytest.approx(0.9, abs=0.05)


def test_holm_adjusts_for_testing_every_driver_of_a_commitment():
    # m = 4: sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, max(0.04, 0.06), max(0.06, 0.06), min(1, 0.5)
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    outcome, draws = _synthetic()
    rows = driver_rows(outcome, draws)
    assert all(r["p_adjusted"] >= r["p_value"] for r in rows)
    assert rows[-1]["driver"] == "noise" and rows[-1]["p_adjusted"] > 0.05


def test_noise_explains_nothing_and_too_few_replications_give_no_rows():
    rng = np.random.default_rng(2)
    outcome = rng.normal(size=300)
    assert explained_share(outcome, [rng.normal(size=300) for _ in range(5)]) < 5
    few = MIN_REPLICATIONS - 1
    assert driver_rows(outcome[:few], {"x": rng.normal(size=few)}) == []


def test_replications_with_an_undefined_outcome_are_left_out():
    outcome, draws = _synthetic()
    outcome[:50] = np.nan
    rows = driver_rows(outcome, draws)
    assert rows[0]["driver"] == "strong" and rows[0]["replications"] == 150


def test_a_commitment_reads_its_own_month_of_each_shock():
    draws = {"a.b": 0, "shocks.rtt_activity.2029-03": 0, "shocks.rtt_activity.2026-03": 0}
    assert candidate_drivers(draws, "2029-03") == ["a.b", "shocks.rtt_activity.2029-03"]


def _cube_with_draws(n: int = 41) -> MetricCube:
    rng = np.random.default_rng(3)
    reps = np.arange(n, dtype=np.int64)
    x = rng.uniform(0, 100, n)
    x[0] = 1e9  # replication 0 is the point estimate: never in the ranking
    series = (SeriesKey("national", "ENG"), SeriesKey("trust", "RJ1"))
    values = np.zeros((n, 2, 1, 2))
    values[:, :, 0, 1] = 50 + 0.3 * x[:, None] + rng.normal(0, 1, (n, 2))
    return MetricCube(values, reps, series, ("rtt_within_18w_pct",), ("2029-02-28", "2029-03-31"),
                      draws={"capacity.x_pct": x, "shocks.rtt_activity.2029-03": rng.normal(size=n)})


def test_driver_table_ranks_national_commitments_over_replications_1_to_n():
    cube = _cube_with_draws()
    targets = [Target("rtt_within_18w_pct", "2029-03", 92, ">=", "national", "ENG"),
               Target("rtt_within_18w_pct", "2029-03", 65, ">=", "trust", "*"),
               Target("rtt_within_18w_pct", "2031-03", 92, ">=", "national", "ENG")]  # outside the run
    table = driver_table(cube, targets)
    assert set(table["level"]) == {"national"} and set(table["deadline"]) == {"2029-03"}
    top = table.iloc[0]
    assert top["driver"] == "capacity.x_pct" and top["rank"] == 1 and top["replications"] == 40
    assert top["rank_correlation"] > 0.9 and top["swing"] > 15
    params = parameters_table(cube)
    assert list(params.columns) == ["replication", "capacity.x_pct", "shocks.rtt_activity.2029-03"]
    assert params["capacity.x_pct"].iloc[0] == 1e9


# --- Carrying them through batches and the store ------------------------------------------------

def test_concat_joins_draws_in_replication_order_with_nan_where_a_batch_drew_nothing():
    cube = _cube_with_draws(6)
    late = MetricCube(cube.values[3:], cube.replications[3:], cube.series, cube.metrics, cube.dates,
                      {"capacity.x_pct": cube.draws["capacity.x_pct"][3:]})
    early = MetricCube(cube.values[:3], cube.replications[:3], cube.series, cube.metrics, cube.dates,
                       {k: v[:3] for k, v in cube.draws.items()})
    joined = MetricCube.concat([late, early])
    np.testing.assert_array_equal(joined.draws["capacity.x_pct"], cube.draws["capacity.x_pct"])
    shock = joined.draws["shocks.rtt_activity.2029-03"]
    np.testing.assert_array_equal(shock[:3], cube.draws["shocks.rtt_activity.2029-03"][:3])
    assert np.isnan(shock[3:]).all()


def test_the_store_keeps_each_batch_draws_bit_for_bit(tmp_path):
    cube = _cube_with_draws(9)
    labels = CubeLabels(cube.series, cube.metrics, cube.dates, 9)

    def batch(reps):
        return MetricCube(cube.values[reps], cube.replications[reps], cube.series, cube.metrics, cube.dates,
                          {k: v[reps] for k, v in cube.draws.items()})

    with CubeStore(tmp_path, labels) as store:
        store.write(batch([6, 7, 8]))
        store.write(batch([0, 1, 2]))
        # A resumed run may store a batch twice; a kill can cut a line short.
        store.write(batch([0, 1, 2]))
        with open(tmp_path / DRAWS_NAME, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"first": 3, "draws": {"capacity.x_pct": [1.0]}})[:20])
        store.write(batch([5, 3, 4]))
        draws = store.reader().draws
    assert list(draws) == sorted(cube.draws)
    for name, v in cube.draws.items():
        assert draws[name].tobytes() == v.tobytes(), name


# --- Showing them ---------------------------------------------------------------------------------

def test_console_table_shows_each_metrics_first_driver_at_its_last_deadline():
    import pandas as pd
    from rich.console import Console

    from sim.report import drivers_table

    rows = [("rtt_within_18w_pct", "2026-03", 1, "capacity.x_pct", 0.001, 60.0, 61.0),
            ("rtt_within_18w_pct", "2029-03", 1, "shocks.rtt_activity.2029-03", 0.001, 58.5, 66.25),
            ("rtt_within_18w_pct", "2029-03", 2, "capacity.x_pct", 0.01, 60.0, 62.0),
            ("cancer_62d_pct", "2029-03", 1, "capacity.y_pct", 0.4, 70.0, 71.0)]
    frame = pd.DataFrame(rows, columns=["metric", "deadline", "rank", "driver", "p_adjusted", "low_median",
                                        "high_median"]).assign(low_draw=-4.25, high_draw=5.5)
    console = Console(width=200, record=True)
    console.print(drivers_table(frame, "title"))
    text = console.export_text()
    assert "RTT activity shock, Mar 2029 (% off path) (-4.25 to 5.5)" in text and "58.5%" in text and "66.2%" in text
    assert "2026-03" not in text and "capacity.x_pct" not in text  # an earlier deadline; a second driver
    assert "none beyond chance" in text  # the 62-day standard's first driver has p = 0.4
    assert drivers_table(frame.iloc[:0], "title") is None
