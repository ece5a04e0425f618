"""The cube streamed to disk batch by batch reads back exactly and gives the same outputs."""

import io

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim.cube_store import DONE_NAME, VALUES_NAME, CubeLabels, CubeStore
from sim.metrics import MetricCube
from sim.results import Target, evaluate_targets, summarise, trajectories_table, trajectory_tables
from sim.run_folder import write_parquet_to

from small_cube import DATES, METRICS, SERIES


def random_cube(n_reps: int = 13, seed: int = 3) -> MetricCube:
    rng = np.random.default_rng(seed)
    values = rng.normal(100.0, 10.0, (n_reps, len(SERIES), len(METRICS), len(DATES)))
    values[rng.random(values.shape) < 0.05] = np.nan  # undefined cells must survive the trip
    return MetricCube(values, np.arange(n_reps, dtype=np.int64), SERIES, METRICS, DATES)


def part(cube: MetricCube, reps: np.ndarray) -> MetricCube:
    return MetricCube(cube.values[reps], cube.replications[reps], cube.series, cube.metrics, cube.dates)


def stored(tmp_path, cube: MetricCube, batches: list[np.ndarray]) -> CubeStore:
    store = CubeStore(tmp_path / "scratch", CubeLabels(cube.series, cube.metrics, cube.dates, len(cube.replications)))
    for reps in batches:
        store.write(part(cube, reps))
    return store


def same_table(a, b) -> bool:
    """Equal schemas and values, NaN equal to NaN (pyarrow's equals says NaN != NaN)."""
    return a.schema.equals(b.schema) and a.to_pandas().equals(b.to_pandas())


# Out of order, and two batches with gaps (a shuffled run's batches need not be ranges).
BATCHES_OUT_OF_ORDER = [np.array([9, 10, 12]), np.array([0]), np.array([5, 11, 7, 8]), np.array([4, 2, 3, 1, 6])]


def test_batches_in_any_order_read_back_exactly(tmp_path):
    cube = random_cube()
    with stored(tmp_path, cube, BATCHES_OUT_OF_ORDER) as store:
        disk = store.reader()
        assert disk.shape == cube.values.shape
        np.testing.assert_array_equal(disk.take(slice(None)), cube.values)
        np.testing.assert_array_equal(disk.take(slice(2, 5)), cube.values[:, 2:5])
        pick = np.array([4, 1, 2, 0])  # out of order, with a consecutive run
        np.testing.assert_array_equal(disk.take(pick), cube.values[:, pick])
        np.testing.assert_array_equal(disk.take(pick, 1), cube.values[:, pick, 1])


def test_outputs_from_disk_are_identical_to_outputs_in_memory(tmp_path):
    cube = random_cube()
    targets = [Target("rtt_waiting_list", "2026-03", 100.0, ">="), Target("rtt_within_18w_pct", "2026-02", 99.0, "<=")]
    with stored(tmp_path, cube, BATCHES_OUT_OF_ORDER) as store:
        disk = store.reader()
        pd.testing.assert_frame_equal(summarise(disk), summarise(cube), check_exact=True)
        pd.testing.assert_frame_equal(evaluate_targets(disk, targets), evaluate_targets(cube, targets), check_exact=True)
        for levels in (("national", "region", "icb"), ("trust",)):
            assert same_table(trajectories_table(disk, levels), trajectories_table(cube, levels))


def test_streamed_parquet_is_the_same_table_and_bytes_do_not_depend_on_batches(tmp_path):
    cube = random_cube()
    files = []
    for i, batches in enumerate((BATCHES_OUT_OF_ORDER, [np.arange(13)])):
        with stored(tmp_path / str(i), cube, batches) as store:
            buf = io.BytesIO()
            write_parquet_to(buf, trajectory_tables(store.reader()))
            files.append(buf.getvalue())
    assert files[0] == files[1]
    assert same_table(pq.read_table(io.BytesIO(files[0])), trajectories_table(cube))


def test_completed_records_only_whole_lines_and_reader_waits_for_every_replication(tmp_path):
    cube = random_cube()
    with stored(tmp_path, cube, BATCHES_OUT_OF_ORDER[:2]) as store:
        with pytest.raises(ValueError, match="not stored yet"):
            store.reader()
        with open(store.folder / DONE_NAME, "a") as handle:
            handle.write("5")  # a crash mid-line: not done
        assert store.completed().tolist() == [0, 9, 10, 12]
        # The resumed run's next batch starts a line of its own (appended to "5" it would be lost too).
        store.write(part(cube, np.arange(1, 9)))
        store.write(part(cube, np.array([11])))
        assert store.completed().tolist() == list(range(13))


def test_verification_drops_a_batch_whose_bytes_changed(tmp_path):
    cube = random_cube()
    with stored(tmp_path, cube, BATCHES_OUT_OF_ORDER) as store:
        assert store.completed(verify=True).tolist() == list(range(13))
        with open(store.folder / VALUES_NAME, "r+b") as handle:
            handle.seek(8 * len(DATES) * 7)  # first block, replication 7: inside the run 7..8 of a batch
            handle.write(b"\0" * 8)
        assert store.completed(verify=True).tolist() == [0, 1, 2, 3, 4, 5, 6, 9, 10, 11, 12]
        assert store.completed().tolist() == list(range(13))


def test_reopening_keeps_earlier_batches_and_refuses_another_cube(tmp_path):
    cube = random_cube()
    stored(tmp_path, cube, BATCHES_OUT_OF_ORDER[:2]).close()
    labels = CubeLabels(cube.series, cube.metrics, cube.dates, len(cube.replications))
    with CubeStore(tmp_path / "scratch", labels) as store:
        assert store.completed().tolist() == [0, 9, 10, 12]
        # The resumed run's next batch starts a line of its own (appended to "5" it would be lost too).
        store.write(part(cube, np.arange(1, 9)))
        store.write(part(cube, np.array([11])))
        assert store.completed().tolist() == list(range(13))
        for reps in BATCHES_OUT_OF_ORDER[2:]:
            store.write(part(cube, reps))
        np.testing.assert_array_equal(store.reader().take(slice(None)), cube.values)
    with pytest.raises(ValueError, match="different cube"):
        CubeStore(tmp_path / "scratch", CubeLabels(cube.series, cube.metrics, cube.dates, 99))


def test_a_batch_outside_the_store_is_refused(tmp_path):
    cube = random_cube()
    with stored(tmp_path, cube, []) as store:
        bigger = random_cube(n_reps=14)
        with pytest.raises(ValueError, match="not distinct replications within 0..12"):
            store.write(part(bigger, np.array([13])))
        twice = MetricCube(cube.values[[1, 1]], np.array([1, 1]), cube.series, cube.metrics, cube.dates)
        with pytest.raises(ValueError, match="not distinct"):
            store.write(twice)
        other = MetricCube(cube.values[:1, :, ::-1], cube.replications[:1], cube.series, cube.metrics[::-1], cube.dates)
        with pytest.raises(ValueError, match="differ"):
            store.write(other)
