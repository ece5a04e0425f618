"""Paired differences between two finished runs: what ``sim compare RUN_A RUN_B`` reports.

Two runs made with the same seed share their random streams replication by
replication (common random numbers, DESIGN.md section 4): replication 7 of a
reform scenario sees the same demand shocks and parameter draws as replication
7 of the baseline. The difference B - A taken *within* each replication
therefore cancels most of the Monte Carlo noise that two separate fan charts
would show, like a paired t-test against an unpaired one.

Rows of the two trajectories.parquet files are paired on (replication,
metric, level, area_code, breakdown, date) and each series and month is
summarised the way summary.csv is: ``point`` is replication 0's difference
(central values, no noise); ``mean`` and the quantiles use replications 1..N,
skip NaN and use NumPy's linear method; ``probability_b_better`` is the share
of replications 1..N whose difference is finite in which B is strictly better,
in the direction :data:`DIRECTION_RULES` gives (NaN for a metric without one).

Only what both runs hold is compared: trajectories.parquet keeps only a run's
``keep_levels``, and runs may cover different months, so the comparison uses
the metrics, levels, series and months present in both.

Output (default ``compare_<folder of RUN_A>_vs_<folder of RUN_B>/`` beside
RUN_B, so both runs stay exactly as their manifests describe them):
compare.csv, one fan chart of the paired difference per headline national
metric (PNG and SVG, :mod:`sim.compare_report`), and compare_manifest.json,
written last with the SHA-256 of every file; a folder without it is unfinished.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.errors import InputError, did_you_mean
from sim.metrics import LEVELS
from sim.results import SUMMARY_QUANTILES, mc_statistics
from sim.run_folder import (
    MANIFEST_NAME,
    verify_run,
)

TRAJECTORIES_NAME = "trajectories.parquet"
COMPARE_NAME = "compare.csv"
COMPARE_MANIFEST_NAME = "compare_manifest.json"
OUT_PREFIX = "compare_"

COMPARE_COLUMNS = (
    "metric", "level", "area_code", "breakdown", "date", "direction",
    "a_point", "a_p50", "b_point", "b_p50",
    "point", "mean", "p5", "p10", "p50", "p90", "p95", "probability_b_better",
)

#: Which way is better, by metric name; the first matching rule wins, and a metric
#: no rule matches (activity, referrals, money) has direction ``none``.
#: Percentages are 0-100 (DESIGN.md section 1).
DIRECTION_RULES: tuple[tuple[str, str], ...] = (
    (r"_over_\d+w(_pct)?$", "lower"),   # long waits, counts and % of list: rtt_over_52w(_pct), diag_over_6w_pct
    (r"waiting_list", "lower"),          # rtt_waiting_list, diag_waiting_list and their parts
    (r"_weeks$", "lower"),               # rtt_median_weeks, rtt_p92_weeks
    (r"_(within_\d+w|fds|62d|31d)_pct$", "higher"),  # rtt_within_18w_pct and the cancer standards
    (r"^trust_surplus_gbp_m$|_in_balance_pct$|^trust_capacity_index$", "higher"),  # money: balance, capacity
)

#: National metrics in the console table and the difference charts, in this order.
HEADLINE_METRICS = ("rtt_within_18w_pct", "rtt_waiting_list", "diag_over_6w_pct", "cancer_fds_pct", "cancer_62d_pct",
                    "trust_surplus_gbp_m", "trusts_in_balance_pct", "trust_capacity_index", "aft_count")
#: Commitment deadlines shown in the console table (DESIGN.md section 1), with the run's last month.
COMMITMENT_MONTHS = ("2026-03", "2027-03", "2029-03")


def better_direction(metric: str) -> str:
    """``'higher'``, ``'lower'`` or ``'none'``: which way a change in ``metric`` is an improvement."""
    for pattern, direction in DIRECTION_RULES:
        if re.search(pattern, metric):
            return direction
    return "none"


# --------------------------------------------------------------------------- the two runs


@dataclass(frozen=True)
class RunInfo:
    """A verified run folder: its provenance and what its trajectories hold.

    Attributes:
        path: the folder as given.
        run_id, scenario, seed, replications: from manifest.json
            (``replications`` = N, the Monte Carlo count beside replication 0).
        trajectories_sha256: the manifest's hash of trajectories.parquet.
        metrics, levels: labels present in trajectories.parquet.
        replication_ids: replication numbers present in trajectories.parquet.
    """

    path: Path
    run_id: str
    scenario: str
    seed: int
    replications: int
    trajectories_sha256: str
    metrics: frozenset[str]
    levels: frozenset[str]
    replication_ids: frozenset[int]

    def provenance(self) -> dict:
        """The manifest entry for this run."""
        return {"path": str(self.path), "run_id": self.run_id, "scenario": self.scenario, "seed": self.seed,
                "replications": self.replications, "trajectories_sha256": self.trajectories_sha256}


def _own_output(problem: str) -> bool:
    # A comparison written into a run (the default --out) is not part of that run.
    prefix = "file not in manifest: "
    return problem.startswith(prefix) and problem[len(prefix):].split("/")[0].startswith(OUT_PREFIX)


def open_run(path: Path) -> RunInfo:
    """Verify a run folder against its manifest and read what a comparison needs.

    Raises:
        InputError: the folder is missing, unfinished, altered, or lacks
            trajectories.parquet, a seed or a replication count.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(file=str(path), problem="does not exist or is not a folder",
                         allowed="a run folder written by `sim run`")
    problems = [p for p in verify_run(path) if not _own_output(p)]
    if problems:
        more = f" (and {len(problems) - 1} more problems; run `sim verify {path}`)" if len(problems) > 1 else ""
        raise InputError(file=str(path), problem=f"is not a complete run folder: {problems[0]}{more}",
                         allowed="a folder written by `sim run` that `sim verify` accepts")
    manifest = json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
    if TRAJECTORIES_NAME not in manifest["files"]:
        raise InputError(file=str(path), problem=f"has no {TRAJECTORIES_NAME}, so it cannot be paired "
                         "replication by replication", allowed="a folder written by `sim run`")
    missing = [k for k in ("seed", "replications") if not isinstance(manifest.get(k), int)]
    if missing:
        raise InputError(file=str(path / MANIFEST_NAME), problem=f"has no {' or '.join(missing)}",
                         allowed="a manifest written by `sim run`")
    table = pq.read_table(path / TRAJECTORIES_NAME, columns=["replication", "level", "metric"])
    return RunInfo(
        path=path, run_id=str(manifest.get("run_id", path.name)), scenario=str(manifest.get("scenario", path.name)),
        seed=manifest["seed"], replications=manifest["replications"],
        trajectories_sha256=manifest["files"][TRAJECTORIES_NAME],
        metrics=frozenset(_codes(table["metric"])[1]), levels=frozenset(_codes(table["level"])[1]),
        replication_ids=frozenset(int(r) for r in pc.unique(table["replication"]).to_pylist()))


def check_pair(a: RunInfo, b: RunInfo, metrics: Sequence[str] = (),
               levels: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """The metrics and levels to compare, or why the two runs cannot be paired.

    Args:
        a, b: the runs (B - A is reported).
        metrics: requested metrics; empty means every metric both hold.
        levels: requested levels; empty means every level both hold.

    Returns:
        ``(metrics, levels)``: metrics sorted by name, levels national to trust.

    Raises:
        InputError: seeds or replications differ, a requested metric or level
            is not in both runs, or they share no metric or level.
    """
    same_noise = "paired differences need two runs made with the same seed and replications"
    if a.seed != b.seed:
        raise InputError(problem=f"the runs were made with different seeds (A {a.path}: {a.seed}, "
                         f"B {b.path}: {b.seed}): {same_noise}; rerun one with --seed {a.seed}")
    if a.replications != b.replications or a.replication_ids != b.replication_ids:
        raise InputError(problem=f"the runs hold different replications (A {a.path}: {a.replications}, "
                         f"B {b.path}: {b.replications}): {same_noise}; rerun one with --seed {a.seed} "
                         f"--reps {max(a.replications, b.replications)}")
    shared_metrics = a.metrics & b.metrics
    for metric in metrics:
        if metric not in shared_metrics:
            lacking = " and ".join(str(r.path) for r in (a, b) if metric not in r.metrics)
            raise InputError(key_path="--metric", value=metric, problem=f"is not in the trajectories of {lacking}",
                             suggestion=did_you_mean(metric, sorted(shared_metrics)))
    chosen_metrics = sorted(set(metrics) or shared_metrics)
    if not chosen_metrics:
        raise InputError(problem=f"the runs share no metric (A {a.path}: {', '.join(sorted(a.metrics)) or 'none'}; "
                         f"B {b.path}: {', '.join(sorted(b.metrics)) or 'none'})")
    shared_levels = a.levels & b.levels
    for level in levels:
        if level not in shared_levels:
            lacking = " and ".join(f"{r.path} (kept: {', '.join(_level_order(r.levels))})"
                                   for r in (a, b) if level not in r.levels)
            raise InputError(key_path="--level", value=level, problem=f"is not in the trajectories of {lacking}",
                             allowed=f"{', '.join(_level_order(shared_levels)) or 'none'}; "
                                     f"or rerun with --keep {level}")
    chosen_levels = _level_order(set(levels) or shared_levels)
    if not chosen_levels:
        raise InputError(problem=f"the runs' trajectories share no level (A: {', '.join(_level_order(a.levels))}; "
                         f"B: {', '.join(_level_order(b.levels))})")
    return chosen_metrics, chosen_levels


def _level_order(levels) -> list[str]:
    return sorted(levels, key=lambda v: (LEVELS.index(v) if v in LEVELS else len(LEVELS), v))


# --------------------------------------------------------------------------- pairing


@dataclass(frozen=True)
class _Block:
    """One metric of one run as ``values[replication, series, date]`` (NaN where a row is absent)."""

    values: np.ndarray
    replications: np.ndarray
    series: list[tuple[str, str, str]]
    dates: list[str]


def _unique_small_ints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for small non-negative integers, without sorting."""
    present = np.bincount(values) > 0
    used = np.flatnonzero(present)
    lookup = np.cumsum(present) - 1
    return used, lookup[values]


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Each row's position among the labels the column uses, and those labels.

    Works on dictionary codes, never on decoded strings (~10x faster for a
    million rows).
    """
    array = column.combine_chunks()
    if not pa.types.is_dictionary(array.type):
        array = pc.dictionary_encode(array)
    used, inverse = _unique_small_ints(array.indices.to_numpy(zero_copy_only=False).astype(np.int64))
    return inverse, [str(v) for v in np.array(array.dictionary.to_pylist(), dtype=object)[used]]


def _is_in(column: pa.ChunkedArray, wanted: set[str]) -> pa.ChunkedArray:
    """Row mask of a (dictionary) string column; compares dictionary indices, ~10x faster than decoding."""
    masks = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            codes = [i for i, v in enumerate(chunk.dictionary.to_pylist()) if v in wanted]
            masks.append(pc.is_in(chunk.indices, value_set=pa.array(codes, type=chunk.indices.type)))
        else:
            masks.append(pc.is_in(chunk, value_set=pa.array(sorted(wanted), type=chunk.type)))
    return pa.chunked_array(masks, type=pa.bool_())


class _TrajectoryReader:
    """Reads one metric at a time from trajectories.parquet, touching only the row groups that can hold it.

    ``sim run`` writes rows sorted by metric in row groups of 2**20 rows, so a
    metric lies in one or two groups; the groups of the previous metric are
    kept, since metrics are read in name order and neighbours share a group.
    """

    COLUMNS = ("replication", "date", "level", "area_code", "breakdown", "metric", "value")

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.file = pq.ParquetFile(path)
        col = self.file.schema_arrow.get_field_index("metric")
        self.ranges = []
        for i in range(self.file.metadata.num_row_groups):
            stats = self.file.metadata.row_group(i).column(col).statistics
            self.ranges.append((stats.min, stats.max) if stats is not None and stats.has_min_max else None)
        self._cache: dict[int, pa.Table] = {}

    def read(self, metric: str, levels: Sequence[str]) -> pa.Table:
        """The metric's rows at ``levels`` (without the metric column)."""
        groups = [i for i, r in enumerate(self.ranges) if r is None or r[0] <= metric <= r[1]]
        self._cache = {i: self._cache[i] if i in self._cache else self.file.read_row_group(i, columns=list(self.COLUMNS))
                       for i in groups}
        tables = [self._cache[i] for i in groups]
        table = pa.concat_tables(tables) if tables else self.file.schema_arrow.empty_table().select(list(self.COLUMNS))
        mask = pc.and_(_is_in(table["metric"], {metric}), _is_in(table["level"], set(levels)))
        return table.filter(mask).drop_columns(["metric"])


def _read_block(reader: _TrajectoryReader, metric: str, levels: Sequence[str]) -> _Block:
    table = reader.read(metric, levels)
    reps, r_idx = _unique_small_ints(table["replication"].to_numpy().astype(np.int64))
    d_idx, dates = _codes(table["date"])
    parts = [_codes(table[c]) for c in ("level", "area_code", "breakdown")]
    n_a, n_b = len(parts[1][1]), len(parts[2][1])
    combined = (parts[0][0].astype(np.int64) * n_a + parts[1][0]) * n_b + parts[2][0]
    uniq, s_idx = _unique_small_ints(combined)
    series = [(parts[0][1][u // (n_a * n_b)], parts[1][1][(u // n_b) % n_a], parts[2][1][u % n_b]) for u in uniq]
    shape = (len(reps), len(series), len(dates))
    flat = (r_idx * shape[1] + s_idx) * shape[2] + d_idx
    if flat.size and np.bincount(flat, minlength=int(np.prod(shape))).max() > 1:
        raise InputError(file=str(reader.path), problem=f"holds duplicate rows for {metric}",
                         allowed="one row per replication, series and date, as `sim run` writes")
    values = np.full(shape, np.nan)
    values.reshape(-1)[flat] = table["value"].to_numpy().astype(np.float64)
    return _Block(values, reps, series, dates)


def _series_key(key: tuple[str, str, str]) -> tuple:
    # As summary.csv: levels national -> trust, then area code, breakdown 'all' first.
    level, area, breakdown = key
    return (LEVELS.index(level) if level in LEVELS else len(LEVELS), level, area, breakdown != "all", breakdown)


def _spread(rows: np.ndarray) -> dict[str, np.ndarray]:
    """Mean and summary quantiles of each row of ``rows[cells, replications]``, NaN skipped (as summary.csv)."""
    return mc_statistics(rows, SUMMARY_QUANTILES)


def _metric_rows(metric: str, a: _Block, b: _Block) -> pd.DataFrame:
    series = sorted(set(a.series) & set(b.series), key=_series_key)
    dates = sorted(set(a.dates) & set(b.dates))
    if not series or not dates:
        return pd.DataFrame(columns=list(COMPARE_COLUMNS))
    if not np.array_equal(a.replications, b.replications):
        raise InputError(problem=f"the runs' trajectories hold different replications for {metric} "
                         "although their manifests agree; check both with `sim verify`")
    pos = [({k: i for i, k in enumerate(blk.series)}, {d: i for i, d in enumerate(blk.dates)}) for blk in (a, b)]
    va, vb = (blk.values[:, [p[0][k] for k in series]][:, :, [p[1][d] for d in dates]]
              for blk, p in zip((a, b), pos))
    reps = a.replications
    zero = np.flatnonzero(reps == 0)
    mc = np.flatnonzero(reps >= 1)  # replications are sorted, so the summation order is fixed
    diff = vb - va
    n_cells = len(series) * len(dates)
    cells = {name: arr[mc].reshape(len(mc), n_cells).T for name, arr in (("a", va), ("b", vb), ("diff", diff))}
    stats = _spread(cells["diff"])
    direction = better_direction(metric)
    finite = ~np.isnan(cells["diff"])
    with np.errstate(invalid="ignore"):
        better = cells["diff"] > 0 if direction == "higher" else cells["diff"] < 0
        share = better.sum(axis=1) / finite.sum(axis=1)
    share = np.where((finite.sum(axis=1) > 0) & (direction != "none"), share, np.nan)

    def point(arr: np.ndarray) -> np.ndarray:
        return arr[zero[0]].reshape(-1) if zero.size else np.full(n_cells, np.nan)

    frame = pd.DataFrame({
        "metric": metric,
        "level": np.repeat([k[0] for k in series], len(dates)),
        "area_code": np.repeat([k[1] for k in series], len(dates)),
        "breakdown": np.repeat([k[2] for k in series], len(dates)),
        "date": np.tile(dates, len(series)),
        "direction": direction,
        "a_point": point(va), "a_p50": _spread(cells["a"])["p50"],
        "b_point": point(vb), "b_p50": _spread(cells["b"])["p50"],
        "point": point(diff), **stats, "probability_b_better": share,
    })
    return frame[list(COMPARE_COLUMNS)]


def paired_differences(a: RunInfo, b: RunInfo, metrics: Sequence[str], levels: Sequence[str]) -> pd.DataFrame:
    """Summary of the paired differences B - A per metric, series and month both runs hold.

    Rows are sorted by metric, level (national to trust), area code, breakdown
    ('all' first) and date, as in summary.csv.

    Returns:
        DataFrame with columns ``COMPARE_COLUMNS``: the A and B point estimates
        and medians, then ``point`` .. ``p95`` and ``probability_b_better`` of
        the difference (percentages differ in percentage points).

    Raises:
        InputError: the runs share no series and month, or their
            trajectories disagree with their manifests.
    """
    readers = [_TrajectoryReader(run.path / TRAJECTORIES_NAME) for run in (a, b)]
    frames = [_metric_rows(m, *(_read_block(r, m, levels) for r in readers)) for m in metrics]
    frames = [f for f in frames if not f.empty]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COMPARE_COLUMNS))
    if frame.empty:
        raise InputError(problem=f"the runs {a.path} and {b.path} share no area and month for "
                         f"{', '.join(metrics)} at {', '.join(levels)} level")
    for col in ("metric", "level", "area_code", "breakdown", "date", "direction"):
        frame[col] = frame[col].astype("str")
    return frame
