"""A comparison's outputs: the console table, fan charts of paired differences, and the folder they go in."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from sim import __version__
from sim.compare import (COMMITMENT_MONTHS, COMPARE_MANIFEST_NAME, COMPARE_NAME, DIRECTION_RULES, HEADLINE_METRICS,
                         OUT_PREFIX, RunInfo, check_pair, open_run, paired_differences)
from sim.errors import InputError
from sim.plotting import STANDARD_CHARTS, fan_chart, infer_units, provenance_text
from sim.run_folder import (INCOMPLETE_NAME, MANIFEST_NAME, atomic_write, atomic_write_bytes, sha256_file,
                            write_csv_to)


def headline_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """National rows of the headline metrics at the commitment deadlines present and the last month."""
    national = frame[(frame["level"] == "national") & (frame["area_code"] == "ENG") & (frame["breakdown"] == "all")]
    parts = []
    for metric in HEADLINE_METRICS:
        rows = national[national["metric"] == metric]
        if rows.empty:
            continue
        months = rows["date"].str[:7]
        keep = months.isin(COMMITMENT_MONTHS) | (rows["date"] == rows["date"].max())
        parts.append(rows[keep])
    return pd.concat(parts, ignore_index=True) if parts else frame.iloc[:0]


def _fmt(metric: str, value: float, signed: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    sign = "+" if signed and value != 0 else ""
    units = infer_units(metric)
    if units == "pct":
        return f"{value:{sign}.1f}" + (" pp" if signed else "%")
    if units == "weeks":
        return f"{value:{sign}.1f} wk"
    if units == "index":
        return f"{value:{sign}.4f}"
    return f"{value:{sign},.0f}"


def headline_table(frame: pd.DataFrame, a: RunInfo, b: RunInfo) -> Table:
    """Console table: A and B medians, the paired difference's median and 10-90% band, P(B better)."""
    title = (f"{b.scenario} (B) vs {a.scenario} (A): paired differences B - A, national "
             f"({a.replications} replications, seed {a.seed})")
    table = Table(title=title, title_justify="left")
    for col in ("Metric", "Date", "A median", "B median", "Difference (median)", "10-90% band", "P(B better)"):
        table.add_column(col, justify="left" if col in ("Metric", "Date") else "right")
    for row in headline_rows(frame).itertuples():
        prob = "-" if not np.isfinite(row.probability_b_better) else f"{100 * row.probability_b_better:.0f}%"
        table.add_row(row.metric, row.date[:7], _fmt(row.metric, row.a_p50), _fmt(row.metric, row.b_p50),
                      _fmt(row.metric, row.p50, True),
                      f"{_fmt(row.metric, row.p10, True)} to {_fmt(row.metric, row.p90, True)}", prob)
    return table


def plot_differences(frame: pd.DataFrame, a: RunInfo, b: RunInfo, out_dir: Path, produced: str) -> list[Path]:
    """Fan charts of the national paired difference over time, one per headline metric present.

    Returns:
        Paths written (``diff_<metric>_ENG.png`` and ``.svg`` per metric).
    """
    specs = {spec.metric: spec for spec in STANDARD_CHARTS}
    national = frame[(frame["level"] == "national") & (frame["area_code"] == "ENG") & (frame["breakdown"] == "all")]
    provenance = provenance_text(f"{b.scenario} - {a.scenario}", f"{b.run_id} - {a.run_id}", a.replications,
                                 produced)
    paths: list[Path] = []
    for metric in HEADLINE_METRICS:
        if not (national["metric"] == metric).any():
            continue
        spec = specs.get(metric)
        pct = infer_units(metric) == "pct"
        paths += fan_chart(
            national, metric, title=f"{spec.title if spec else metric}: {b.scenario} minus {a.scenario}",
            ylabel=f"Paired difference B - A{' (percentage points)' if pct else ''}",
            subtitle="England  ·  difference within each replication (same seed): median, 10–90% and 5–95% "
                     "ranges; dashed: point estimate",
            provenance=provenance, out_stem=Path(out_dir) / f"diff_{metric}_ENG", signed=True,
            reference_lines=((0.0, "No difference"),))
    return paths


# --------------------------------------------------------------------------- the job


def default_out_dir(run_a: Path, run_b: Path) -> Path:
    """``compare_<folder of RUN_A>_vs_<folder of RUN_B>`` beside RUN_B; for runs inside a finished folder (a
    sweep's ``runs/``, whose manifest lists every file), beside that folder, named after it too, so the
    comparison does not break its verification."""
    b = Path(run_b).resolve()
    name = f"{Path(run_a).resolve().name}_vs_{b.name}"
    holder = b.parent.parent
    if (holder / MANIFEST_NAME).is_file():
        return holder.parent / f"{OUT_PREFIX}{holder.name}_{name}"
    return b.parent / f"{OUT_PREFIX}{name}"


def _claim_out_dir(out_dir: Path) -> set[str]:
    """Make the folder; return the files a previous comparison there listed (to remove if not rewritten)."""
    if (out_dir / MANIFEST_NAME).exists() or (out_dir / INCOMPLETE_NAME).exists():
        raise InputError(file=str(out_dir), key_path="--out", problem="is a run folder; a comparison must not "
                         "write into it", allowed="a new folder or an earlier comparison's folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    old_manifest = out_dir / COMPARE_MANIFEST_NAME
    if not old_manifest.is_file():
        return set()
    try:
        old = set(json.loads(old_manifest.read_text(encoding="utf-8")).get("files", {}))
    except (ValueError, AttributeError):
        old = set()
    # Removed first: a folder without its manifest reads as unfinished until the new one is written.
    old_manifest.unlink()
    return old


def write_comparison(frame: pd.DataFrame, a: RunInfo, b: RunInfo, out_dir: Path, *, metrics: Sequence[str],
                     levels: Sequence[str], now: dt.datetime) -> Path:
    """Write compare.csv and the charts atomically, then compare_manifest.json last with their hashes."""
    out_dir = Path(out_dir)
    old = _claim_out_dir(out_dir)
    atomic_write(out_dir / COMPARE_NAME, lambda handle: write_csv_to(handle, frame))
    written = [out_dir / COMPARE_NAME] + plot_differences(frame, a, b, out_dir, now.strftime("%Y-%m-%d"))
    files = {p.relative_to(out_dir).as_posix(): sha256_file(p) for p in written}
    for stale in sorted(old - set(files)):
        (out_dir / stale).unlink(missing_ok=True)
    manifest = {
        "sim_version": __version__, "created_utc": now.isoformat(timespec="seconds"),
        "difference": "B - A, paired by replication", "run_a": a.provenance(), "run_b": b.provenance(),
        "seed": a.seed, "replications": a.replications, "metrics": list(metrics), "levels": list(levels),
        "direction_rules": [list(rule) for rule in DIRECTION_RULES], "files": files,
    }
    text = json.dumps(manifest, sort_keys=True, indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(out_dir / COMPARE_MANIFEST_NAME, text.encode("utf-8"))
    return out_dir


def execute_compare(run_a: Path, run_b: Path, *, out_dir: Path | None = None, metrics: Sequence[str] = (),
                    levels: Sequence[str] = (), quiet: bool = False) -> Path:
    """Verify both runs, pair them, write the comparison folder and print the headline table.

    Returns:
        The comparison folder.

    Raises:
        InputError: a run is incomplete, the runs cannot be paired, or
            ``out_dir`` is a run folder.
    """
    a, b = open_run(run_a), open_run(run_b)
    chosen_metrics, chosen_levels = check_pair(a, b, metrics, levels)
    frame = paired_differences(a, b, chosen_metrics, chosen_levels)
    out = write_comparison(frame, a, b, Path(out_dir) if out_dir else default_out_dir(run_a, run_b),
                           metrics=chosen_metrics, levels=chosen_levels, now=dt.datetime.now(dt.timezone.utc))
    if not quiet:
        console = Console()
        if not console.is_terminal:  # piped output would be cut to 80 columns, truncating the metric names
            console = Console(width=120)
        console.print(headline_table(frame, a, b))
    return out
