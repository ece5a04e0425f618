"""Summaries, commitment checks and trajectories, all derived from one MetricCube.

Replication 0 of a cube is the point estimate (central parameter values, no
noise). It is reported in ``point`` and never enters the mean, quantiles or
probabilities, which use replications 1..N; with N = 0 those columns are NaN.
Quantiles are NumPy's ``'linear'`` method (Hyndman & Fan type 7) and skip NaN,
as ``np.nanquantile`` does: a NaN cell is a metric that is undefined in that
replication (e.g. a percentage of an empty list), not a zero.

Everything here is deterministic: the same cube gives byte-identical
``trajectories.parquet``, ``summary.csv`` and ``targets.csv``. Writing the run
folder lives in :mod:`sim.run_folder`; its public names are re-exported here.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from sim.cube_store import DiskCube
from sim.metrics import LEVELS, MetricCube, SeriesKey
from sim.run_folder import (  # noqa: F401  re-exported: callers import the run folder from here
    INCOMPLETE_NAME,
    MANIFEST_NAME,
    PARQUET_OPTIONS,
    STAGING_SUFFIX,
    RunWriter,
    atomic_write,
    atomic_write_bytes,
    sha256_file,
    verify_run,
    write_csv_to,
)

SUMMARY_COLUMNS = (
    "metric", "level", "area_code", "breakdown", "date",
    "point", "mean", "p5", "p10", "p50", "p90", "p95",
)
TARGET_COLUMNS = (
    "metric", "deadline", "threshold", "direction", "level", "area_code",
    "point", "p10", "p50", "p90", "probability_met",
)
SUMMARY_QUANTILES = {"p5": 0.05, "p10": 0.10, "p50": 0.50, "p90": 0.90, "p95": 0.95}
TARGET_QUANTILES = {"p10": 0.10, "p50": 0.50, "p90": 0.90}

TRAJECTORY_SCHEMA = pa.schema([
    ("replication", pa.int32()),
    ("date", pa.string()),
    ("level", pa.dictionary(pa.int32(), pa.string())),
    ("area_code", pa.dictionary(pa.int32(), pa.string())),
    ("breakdown", pa.dictionary(pa.int32(), pa.string())),
    ("metric", pa.dictionary(pa.int32(), pa.string())),
    ("value", pa.float64()),
])

# Cells (replications x series x metrics x dates) summarised per chunk: bounds the
# sort's temporaries to ~100 MB whatever the cube size.
_CHUNK_CELLS = 1 << 23

# Outputs read a cube through ``take`` only: in memory, or stored on disk by a streamed run.
Cube = MetricCube | DiskCube
_DEADLINE_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_TARGET_TEXT_RE = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=)\s*([-+0-9.eE]+)\s*@\s*(\d{4}-\d{2})\s*$")


# --------------------------------------------------------------------------- ordering


def _series_sort_key(key: SeriesKey) -> tuple:
    # Levels go national -> trust rather than alphabetically; 'all' leads its area.
    rank = LEVELS.index(key.level) if key.level in LEVELS else len(LEVELS)
    return (rank, key.level, key.area_code, key.breakdown != "all", key.breakdown)


def _check_cube(cube: Cube) -> None:
    if len(set(cube.series)) != len(cube.series):
        raise ValueError("cube has a duplicate series key")
    if len(set(cube.metrics)) != len(cube.metrics):
        raise ValueError("cube has a duplicate metric name")
    if len(set(cube.dates)) != len(cube.dates):
        raise ValueError("cube has a duplicate date")
    reps = np.asarray(cube.replications)
    if reps.size and (reps.min() < 0 or len(np.unique(reps)) != reps.size):
        raise ValueError("cube replications must be unique and >= 0")


def _orders(cube: Cube) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index orders (series, metric, date) that every output is sorted by."""
    series = np.array(sorted(range(len(cube.series)), key=lambda i: _series_sort_key(cube.series[i])), dtype=np.intp)
    metrics = np.argsort(np.array(cube.metrics, dtype=object), kind="stable").astype(np.intp)
    dates = np.argsort(np.array(cube.dates, dtype=object), kind="stable").astype(np.intp)
    return series, metrics, dates


def _replication_rows(cube: Cube) -> tuple[int | None, np.ndarray | slice]:
    """Axis-0 position of replication 0 (or None) and a selector for 1..N."""
    reps = np.asarray(cube.replications)
    zero = np.flatnonzero(reps == 0)
    mc = np.flatnonzero(reps >= 1)
    # Replication order fixes the summation order of the mean, so batch order cannot change a bit.
    mc = mc[np.argsort(reps[mc], kind="stable")]
    # A slice avoids copying the whole cube when 1..N are contiguous (the usual case).
    if mc.size and np.all(np.diff(mc) == 1):
        return (int(zero[0]) if zero.size else None), slice(int(mc[0]), int(mc[-1]) + 1)
    return (int(zero[0]) if zero.size else None), mc


# --------------------------------------------------------------------------- statistics


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    # Same arithmetic as numpy's quantile so results agree to the last bit.
    diff = b - a
    out = a + diff * t
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)
    return out


def sorted_quantile(sorted_rows: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """Linear-method quantile of each row of an ascending, NaN-last array.

    Args:
        sorted_rows: float array ``[cells, replications]`` sorted along axis 1
            (``np.sort`` puts NaN last).
        counts: number of non-NaN values per row.
        q: quantile in [0, 1].

    Returns:
        One value per row, equal bit for bit to ``np.nanquantile(row, q)``;
        NaN where a row has no finite value.
    """
    virtual = (counts - 1) * q
    last = np.maximum(counts - 1, 0)
    prev = np.floor(virtual)
    above = virtual >= counts - 1
    prev_i = np.where(above, last, prev).astype(np.intp)
    next_i = np.where(above, last, prev + 1).astype(np.intp)
    gamma = virtual - prev
    a = np.take_along_axis(sorted_rows, prev_i[:, None], axis=1)[:, 0]
    b = np.take_along_axis(sorted_rows, next_i[:, None], axis=1)[:, 0]
    out = _lerp(a, b, gamma)
    out[counts == 0] = np.nan
    return out


def mc_statistics(rows: np.ndarray, quantiles: dict[str, float]) -> dict[str, np.ndarray]:
    """Mean and quantiles of each row of ``rows[cells, replications]`` (NaN skipped)."""
    if rows.shape[1] == 0:
        return {name: np.full(rows.shape[0], np.nan) for name in ("mean", *quantiles)}
    finite = ~np.isnan(rows)
    counts = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.sum(rows, axis=1, where=finite) / counts
    rows = np.sort(rows, axis=1)
    stats = {"mean": np.where(counts > 0, mean, np.nan)}
    for name, q in quantiles.items():
        stats[name] = sorted_quantile(rows, counts, q)
    return stats


def _summary_arrays(cube: Cube) -> dict[str, np.ndarray]:
    """point, mean and quantiles as arrays ``[series, metric, date]``."""
    n_reps, n_series, n_metrics, n_dates = cube.shape
    zero, mc = _replication_rows(cube)
    shape = (n_series, n_metrics, n_dates)
    names = ("point", "mean", *SUMMARY_QUANTILES)
    out = {name: np.full(shape, np.nan) for name in names}
    n_mc = len(range(*mc.indices(n_reps))) if isinstance(mc, slice) else len(mc)
    if n_series == 0:
        return out
    step = max(1, _CHUNK_CELLS // max(1, n_reps * n_metrics * n_dates))
    for s0 in range(0, n_series, step):
        s1 = min(n_series, s0 + step)
        block = cube.take(slice(s0, s1))
        if zero is not None:
            out["point"][s0:s1] = block[zero]
        if n_mc == 0:
            continue
        # Replications last and contiguous because sorting short contiguous rows is fastest.
        rows = np.ascontiguousarray(block[mc].reshape(n_mc, -1).T)
        stats = mc_statistics(rows, SUMMARY_QUANTILES)
        for name, arr in stats.items():
            out[name][s0:s1] = arr.reshape(s1 - s0, n_metrics, n_dates)
    return out


def _string_column(labels: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    # Taking from a small string array is ~10x faster than building millions of str objects.
    return pd.array(list(labels), dtype="str").take(codes)


def summarise(cube: Cube) -> pd.DataFrame:
    """One row per metric, series and date with the point estimate and the spread.

    Rows are sorted by metric name, level (national, region, icb, trust), area
    code, breakdown ('all' first, then alphabetical) and date. Statistics are
    computed in chunks of series so temporaries stay ~100 MB whatever the cube
    size (about 4 s per million output rows at 200 replications, one core).

    Args:
        cube: run results; replication 0 (if present) is the point estimate.

    Returns:
        DataFrame with columns ``SUMMARY_COLUMNS``; label columns are pandas
        ``str``, statistics float64 (NaN where undefined or N = 0). A metric
        a series never carries (no finite value at any date, e.g. waiting-list
        metrics of a finance-only trust) has no rows.
    """
    _check_cube(cube)
    series_order, metric_order, date_order = _orders(cube)
    n_d = len(date_order)
    arrays = _summary_arrays(cube)
    grid = np.ix_(series_order, metric_order, date_order)
    carried = ~np.isnan(arrays["mean"][grid]).all(axis=2) | ~np.isnan(arrays["point"][grid]).all(axis=2)
    m_idx, s_idx = np.nonzero(carried.T)  # metric-major, as rows are sorted
    rows = np.repeat(m_idx * len(series_order) + s_idx, n_d)
    series_codes = np.repeat(series_order[s_idx], n_d)
    columns: dict[str, Any] = {
        "metric": _string_column(cube.metrics, np.repeat(metric_order[m_idx], n_d)),
        "level": _string_column([k.level for k in cube.series], series_codes),
        "area_code": _string_column([k.area_code for k in cube.series], series_codes),
        "breakdown": _string_column([k.breakdown for k in cube.series], series_codes),
        "date": _string_column(cube.dates, np.tile(date_order, len(m_idx))),
    }
    for name in ("point", "mean", *SUMMARY_QUANTILES):
        block = arrays[name][grid].transpose(1, 0, 2).reshape(-1, n_d)
        columns[name] = block[rows[::n_d]].ravel()
    return pd.DataFrame(columns, columns=list(SUMMARY_COLUMNS))


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """A commitment: ``metric direction threshold`` at the end of ``deadline``.

    Attributes:
        metric: canonical metric name, e.g. ``rtt_within_18w_pct``.
        deadline: month ``YYYY-MM``; the value at that month's end is tested.
        threshold: in the metric's units (percentages 0-100).
        direction: ``'>='`` or ``'<='``.
        level: ``national``, ``region``, ``icb`` or ``trust``.
        area_code: an area code, or ``'*'`` for every area of ``level``.
        label: text for plots; None lets the plot build one ("92% by Mar 2029").
        source: where the commitment is published.
        improvement_pp: with ``improvement_from``, the target is the stricter of
            ``threshold`` and the area's own value at the end of
            ``improvement_from`` improved by this many points ("65% or a 7 point
            improvement, whichever is greater"), per replication.
        improvement_from: month ``YYYY-MM`` whose value the improvement counts from.
    """

    metric: str
    deadline: str
    threshold: float
    direction: str
    level: str = "national"
    area_code: str = "*"
    label: str | None = None
    source: str | None = None
    improvement_pp: float | None = None
    improvement_from: str | None = None

    def __post_init__(self) -> None:
        if (self.improvement_pp is None) != (self.improvement_from is None):
            raise ValueError(f"target {self.metric}: improvement_pp and improvement_from go together")
        if self.improvement_from is not None and not _DEADLINE_RE.match(self.improvement_from):
            raise ValueError(f"target {self.metric}: improvement_from {self.improvement_from!r} is not a month YYYY-MM")
        if not _DEADLINE_RE.match(self.deadline):
            raise ValueError(f"target {self.metric}: deadline {self.deadline!r} is not a month YYYY-MM")
        if self.direction not in (">=", "<="):
            raise ValueError(f"target {self.metric}: direction {self.direction!r} must be '>=' or '<='")
        threshold = float(self.threshold)
        if not np.isfinite(threshold):
            raise ValueError(f"target {self.metric}: threshold {self.threshold!r} is not a finite number")
        object.__setattr__(self, "threshold", threshold)
        if self.level not in LEVELS:
            raise ValueError(f"target {self.metric}: level {self.level!r} must be one of {LEVELS}")

    @classmethod
    def parse(cls, text: str, *, level: str = "national", area_code: str = "*") -> "Target":
        """Parse the command-line form ``metric>=value@YYYY-MM``.

        Raises:
            ValueError: naming the text and the expected form.
        """
        match = _TARGET_TEXT_RE.match(text)
        if not match:
            raise ValueError(f"target {text!r} is not of the form metric>=value@YYYY-MM or metric<=value@YYYY-MM")
        metric, direction, threshold, deadline = match.groups()
        return cls(metric, deadline, float(threshold), direction, level, area_code)

    def is_met(self, values: np.ndarray, thresholds: np.ndarray | float | None = None) -> np.ndarray:
        """Element-wise test (against per-element ``thresholds`` if given); NaN never meets a target."""
        limit = self.threshold if thresholds is None else thresholds
        with np.errstate(invalid="ignore"):
            return values >= limit if self.direction == ">=" else values <= limit

    def thresholds_for(self, baseline: np.ndarray) -> np.ndarray:
        """Per-element thresholds from the baseline values (the improvement rule)."""
        if self.improvement_pp is None:
            return np.full(baseline.shape, self.threshold)
        if self.direction == ">=":
            return np.maximum(self.threshold, baseline + self.improvement_pp)
        return np.minimum(self.threshold, baseline - self.improvement_pp)


def resolve_target(cube: Cube, target: Target) -> tuple[list[int], int] | str:
    """Series positions and date position a target reads, or why it cannot be evaluated."""
    if target.metric not in cube.metrics:
        return f"metric {target.metric} is not in the results"
    date_pos = [i for i, d in enumerate(cube.dates) if d[:7] == target.deadline]
    if not date_pos:
        return f"deadline {target.deadline} is outside the simulated months {min(cube.dates, default='-')[:7]}..{max(cube.dates, default='-')[:7]}"
    keys = [
        (k, i) for i, k in enumerate(cube.series)
        if k.level == target.level and k.breakdown == "all" and target.area_code in ("*", k.area_code)
    ]
    if not keys:
        return f"no {target.level} series for area {target.area_code}"
    keys.sort(key=lambda pair: _series_sort_key(pair[0]))
    return [i for _, i in keys], date_pos[0]


def unevaluable_targets(cube: Cube, targets: Iterable[Target]) -> list[tuple[Target, str]]:
    """Targets that ``evaluate_targets`` skips, each with the reason.

    A target is skipped when its deadline is outside the cube's months, its
    metric was not produced, or no series matches its level and area.
    """
    out = []
    for target in targets:
        resolved = resolve_target(cube, target)
        if isinstance(resolved, str):
            out.append((target, resolved))
    return out


def evaluate_targets(cube: Cube, targets: Iterable[Target]) -> pd.DataFrame:
    """Value and probability of meeting each commitment at its deadline.

    Rows follow the order of ``targets``; a ``'*'`` target expands to one row
    per area of its level (breakdown ``all``), in area-code order. Targets that
    cannot be evaluated are left out with a ``UserWarning`` naming each one;
    ``unevaluable_targets`` returns the same list for callers that record it.

    ``probability_met`` is the share of replications 1..N meeting the target;
    a replication where the metric is undefined (NaN) counts as not met.

    Returns:
        DataFrame with columns ``TARGET_COLUMNS``.
    """
    _check_cube(cube)
    zero, mc = _replication_rows(cube)
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    for target in targets:
        resolved = resolve_target(cube, target)
        if isinstance(resolved, str):
            skipped.append(f"{target.metric}{target.direction}{target.threshold:g}@{target.deadline} "
                           f"({target.level} {target.area_code}): {resolved}")
            continue
        series_idx, date_idx = resolved
        block = cube.take(series_idx, cube.metric_index(target.metric))
        values = block[:, :, date_idx]
        thresholds = np.full(values.shape, target.threshold)
        if target.improvement_from is not None:
            dates = [d[:7] for d in cube.dates]
            if target.improvement_from not in dates:
                skipped.append(f"{target.metric}@{target.deadline}: improvement baseline {target.improvement_from} "
                               "is outside the run")
                continue
            base = block[:, :, dates.index(target.improvement_from)]
            thresholds = target.thresholds_for(base)
        rows.extend(_target_rows(cube, target, series_idx, values, thresholds, zero, mc))
    if skipped:
        warnings.warn("targets not evaluated: " + "; ".join(skipped), UserWarning, stacklevel=2)
    frame = pd.DataFrame(rows, columns=list(TARGET_COLUMNS))
    return frame.astype({c: "float64" for c in ("threshold", "point", "p10", "p50", "p90", "probability_met")})


def _target_rows(cube: Cube, target: Target, series_idx: list[int], values: np.ndarray,
                 thresholds: np.ndarray, zero: int | None, mc: np.ndarray | slice) -> list[dict[str, Any]]:
    """Rows for one resolved target; ``values`` and ``thresholds`` are ``[replication, area]``.

    The threshold column is the point estimate's (it differs by replication
    only under an improvement rule).
    """
    mc_values = values[mc]
    stats = mc_statistics(np.ascontiguousarray(mc_values.T), TARGET_QUANTILES)
    n_mc = mc_values.shape[0]
    met = target.is_met(mc_values, thresholds[mc]).mean(axis=0) if n_mc else np.full(len(series_idx), np.nan)
    rows = []
    for j, s in enumerate(series_idx):
        rows.append({
            "metric": target.metric, "deadline": target.deadline,
            "threshold": float(thresholds[zero, j]) if zero is not None else target.threshold,
            "direction": target.direction, "level": target.level, "area_code": cube.series[s].area_code,
            "point": float(values[zero, j]) if zero is not None else np.nan,
            **{name: float(stats[name][j]) for name in TARGET_QUANTILES},
            "probability_met": float(met[j]),
        })
    return rows


# --------------------------------------------------------------------------- trajectories


def _dictionary(labels: Sequence[str], dictionary: np.ndarray, inner: int, outer: int) -> pa.DictionaryArray:
    """``labels`` (one per block, in row order) each repeated ``inner`` times, all tiled ``outer`` times.

    Codes index ``dictionary`` (sorted) and are built per block, then expanded
    as int32, so no row-length int64 temporaries are made.
    """
    codes = np.searchsorted(dictionary, np.array(labels, dtype=object)).astype(np.int32)
    rows = np.tile(np.repeat(codes, inner), outer)
    return pa.DictionaryArray.from_arrays(
        pa.array(rows, type=pa.int32()), pa.array([str(v) for v in dictionary], type=pa.string()))


def trajectory_tables(
    cube: Cube,
    keep_levels: Sequence[str] = ("national", "region", "icb"),
    *,
    keep_breakdowns: bool = False,
) -> Iterator[pa.Table]:
    """Every replication of the kept series in long format, one table per metric.

    Rows are ordered by metric, series (as in ``summarise``), replication and
    date. Only breakdown ``all`` is kept unless ``keep_breakdowns`` (DESIGN.md
    section 6: breakdown rows go to summary.csv only unless a run asks).
    Every table's dictionaries hold all the labels kept, sorted, so the tables
    join into one (``trajectories_table``) or stream into one file.

    Yields:
        Tables with schema ``TRAJECTORY_SCHEMA`` (none when nothing is kept).
    """
    _check_cube(cube)
    series_order, metric_order, date_order = _orders(cube)
    series_order = np.array([s for s in series_order if cube.series[s].level in keep_levels
                             and (keep_breakdowns or cube.series[s].breakdown == "all")], dtype=np.intp)
    rep_order = np.argsort(np.asarray(cube.replications), kind="stable")
    n_r, n_s, n_d = len(rep_order), len(series_order), len(date_order)
    if n_s == 0:
        return
    kept = [cube.series[s] for s in series_order]
    labels = {name: [getattr(k, name) for k in kept] for name in ("level", "area_code", "breakdown")}
    dictionaries = {name: np.unique(np.array(v, dtype=object)) for name, v in labels.items()}
    metric_names = np.unique(np.array(cube.metrics, dtype=object))
    replication = pa.array(np.tile(np.repeat(np.asarray(cube.replications)[rep_order].astype(np.int32), n_d), n_s),
                           type=pa.int32())
    date = pa.array([cube.dates[d] for d in date_order], type=pa.string()).take(
        pa.array(np.tile(np.arange(n_d, dtype=np.int32), n_s * n_r)))
    for m in metric_order:
        value = cube.take(series_order, int(m))[rep_order][:, :, date_order].transpose(1, 0, 2)
        columns = [
            replication,
            date,
            *(_dictionary(labels[name], dictionaries[name], n_r * n_d, 1) for name in ("level", "area_code", "breakdown")),
            _dictionary([cube.metrics[m]], metric_names, n_s * n_r * n_d, 1),
            pa.array(value.reshape(-1), type=pa.float64()),
        ]
        yield pa.Table.from_arrays(columns, schema=TRAJECTORY_SCHEMA)


def trajectories_table(
    cube: Cube,
    keep_levels: Sequence[str] = ("national", "region", "icb"),
    *,
    keep_breakdowns: bool = False,
) -> pa.Table:
    """All of :func:`trajectory_tables` as one table (for cubes that fit in memory)."""
    tables = list(trajectory_tables(cube, keep_levels, keep_breakdowns=keep_breakdowns))
    return pa.concat_tables(tables) if tables else TRAJECTORY_SCHEMA.empty_table()
