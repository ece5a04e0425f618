"""A small hand-checkable MetricCube shared by the results and run-folder tests."""

import numpy as np

from sim.metrics import MetricCube, SeriesKey

# Deliberately not in output order, to test the sorting.
SERIES = (
    SeriesKey("trust", "RJ1", "C_110"),
    SeriesKey("region", "Y57"),
    SeriesKey("trust", "RJ1"),
    SeriesKey("national", "ENG"),
    SeriesKey("icb", "QWE"),
    SeriesKey("region", "Y56"),
)
METRICS = ("rtt_within_18w_pct", "rtt_waiting_list")
DATES = ("2026-03-31", "2026-01-31", "2026-02-28")
N_REPS = 11


def base(s: int, m: int, d: int) -> float:
    """Cell offset, unique per (series, metric, date) and exact in binary."""
    return 100.0 * s + 1000.0 * m + 10000.0 * d


def make_cube(n_reps: int = N_REPS, replications: np.ndarray | None = None) -> MetricCube:
    reps = np.arange(n_reps) if replications is None else np.asarray(replications)
    values = np.empty((len(reps), len(SERIES), len(METRICS), len(DATES)))
    for s in range(len(SERIES)):
        for m in range(len(METRICS)):
            for d in range(len(DATES)):
                values[:, s, m, d] = base(s, m, d) + reps
    return MetricCube(values, reps.astype(np.int64), SERIES, METRICS, DATES)
