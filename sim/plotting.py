"""Board-paper fan charts drawn from summary.csv rows.

Each chart shows the Monte Carlo spread (5-95% and 10-90% bands over
replications 1..N), the median, the point estimate (replication 0, dashed),
observed history, commitments as short lines ending at their deadline, and a
provenance footer. Files are deterministic: the same inputs give identical PNG
and SVG bytes, so plots can sit in a hashed run folder.

No global matplotlib state is touched: figures are built with
``matplotlib.figure.Figure`` (not pyplot) inside a local ``rc_context``.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from sim import __version__
from sim.drivers import SIGNIFICANCE, at_last_deadline, draw_range, driver_label
from sim.report import LABELS
from sim.results import Target, atomic_write_bytes

# NHS identity colours (https://www.england.nhs.uk/nhsidentity/identity-guidelines/colours/).
NHS_BLUE = "#005EB8"
NHS_DARK_BLUE = "#003087"
NHS_DARK_GREY = "#425563"
NHS_MID_GREY = "#768692"
NHS_PALE_GREY = "#E8EDEE"
NHS_DARK_RED = "#8A1538"
TARGET_COLOUR = NHS_DARK_RED

PNG_DPI = 200
FIG_SIZE_IN = (10.0, 5.625)  # 16:9, fits a landscape board slide or an A4 page width
_SVG_SALT = "nhs-reform-sim"
_TARGET_LINE_MONTHS = 6

# DejaVu Sans ships with matplotlib, so files are identical on every machine.
_RC = {
    "svg.hashsalt": _SVG_SALT,
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.edgecolor": NHS_MID_GREY,
    "axes.labelcolor": NHS_DARK_GREY,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "axes.axisbelow": True,
    "grid.color": NHS_PALE_GREY,
    "grid.linewidth": 0.8,
    "xtick.color": NHS_DARK_GREY,
    "ytick.color": NHS_DARK_GREY,
    "legend.frameon": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}

UNITS = ("pct", "count", "millions", "weeks", "gbp_m", "index")


@dataclass(frozen=True)
class _TargetMark:
    threshold: float
    direction: str
    deadline: pd.Timestamp
    label: str


@dataclass(frozen=True)
class ChartSpec:
    """One standard chart: metric, wording and units."""

    metric: str
    title: str
    ylabel: str
    units: str = "auto"
    reference_lines: tuple[tuple[float, str], ...] = ()


# The 18-week standard: 92% of incomplete pathways within 18 weeks (NHS Constitution),
# i.e. a 92nd percentile wait of at most 18 weeks (DESIGN.md section 1).
RTT_STANDARD_WEEKS = 18.0

STANDARD_CHARTS: tuple[ChartSpec, ...] = (
    ChartSpec("rtt_waiting_list", "RTT waiting list", "Patients waiting (incomplete pathways)", "millions"),
    ChartSpec("rtt_within_18w_pct", "RTT: patients waiting 18 weeks or less", "% of waiting list"),
    ChartSpec("rtt_over_52w_pct", "RTT: patients waiting over 52 weeks", "% of waiting list"),
    ChartSpec("rtt_p92_weeks", "RTT: 92nd percentile wait", "Weeks",
              reference_lines=((RTT_STANDARD_WEEKS, "18-week standard"),)),
    ChartSpec("rtt_median_weeks", "RTT: median wait", "Weeks"),
    ChartSpec("diag_over_6w_pct", "Diagnostics: patients waiting 6 weeks or more", "% of diagnostic waiting list"),
    ChartSpec("cancer_fds_pct", "Cancer: Faster Diagnosis Standard (28 days)", "% told within 28 days"),
    ChartSpec("cancer_62d_pct", "Cancer: first treatment within 62 days", "% treated within 62 days"),
    ChartSpec("cancer_31d_pct", "Cancer: treatment within 31 days of decision", "% treated within 31 days"),
    ChartSpec("trust_surplus_gbp_m", "NHS trusts: surplus (deficit) for the year", "GBP m, 2025/26 prices",
              reference_lines=((0.0, "breakeven"),)),
    ChartSpec("trusts_in_balance_pct", "NHS trusts in financial balance", "% of trusts at breakeven or better"),
    ChartSpec("deficit_support_gbp_m", "Deficit support", "GBP m a year, 2025/26 prices"),
    ChartSpec("trust_capacity_index", "Trusts' elective capacity against the baseline trend",
              "Index (1 = as planned)", "index"),
    ChartSpec("aft_count", "Trusts holding Advanced Foundation Trust status", "Trusts"),
)


# --------------------------------------------------------------------------- formatting


def infer_units(metric: str) -> str:
    """Units from the canonical name suffix: ``_pct``, ``_weeks``, ``_gbp_m``, else a count."""
    for suffix, units in (("_pct", "pct"), ("_weeks", "weeks"), ("_gbp_m", "gbp_m"), ("_index", "index")):
        if metric.endswith(suffix):
            return units
    return "count"


def _scale(units: str) -> float:
    return 1e6 if units == "millions" else 1.0


def _format_value(value: float, units: str) -> str:
    """Tick and label text; ``value`` is already divided by the unit scale."""
    if units == "pct":
        return f"{value:.0f}%" if float(value).is_integer() else f"{value:.1f}%"
    if units == "millions":
        return f"{value:,.1f}m"
    if units == "gbp_m":
        return f"£{value:,.0f}m"
    if units == "weeks":
        return f"{value:g}"
    if units == "index":
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return f"{value:,.0f}"


def target_label(threshold: float, direction: str, deadline: str, units: str) -> str:
    """Plot label such as ``92% by Mar 2029`` or ``≤1% by Mar 2026``.

    A '>=' target reads as the level to reach; '<=' carries the sign, since
    "1% by Mar 2026" alone would read as a level to reach, not a ceiling.
    """
    value = _format_value(threshold / _scale(units), units)
    if units == "weeks":
        value += " weeks"
    month = pd.Timestamp(deadline + "-01").strftime("%b %Y")
    return f"{'≤' if direction == '<=' else ''}{value} by {month}"


def provenance_text(scenario: str, run_id: str, replications: int, produced: str) -> str:
    """Footer text: scenario, run id, replications and the date produced (passed in, for reproducible files)."""
    return (f"Scenario: {scenario}  |  Run: {run_id}  |  {replications:,} replications + point estimate  |  "
            f"Produced {produced}  |  nhs-reform-sim {__version__}")


def _format_probability(prob: float) -> str:
    # "0%" or "100%" would claim certainty that 1..N replications cannot give.
    if 0 < prob < 0.01:
        return "<1%"
    if 0.99 < prob < 1:
        return ">99%"
    return f"{prob:.0%}"


# --------------------------------------------------------------------------- inputs


def _month_end(values: Sequence) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(pd.Index(values).astype(str))) + pd.offsets.MonthEnd(0)


def _select(summary: pd.DataFrame, metric: str, level: str, area_code: str, breakdown: str) -> pd.DataFrame:
    rows = summary[(summary["metric"] == metric) & (summary["level"] == level)
                   & (summary["area_code"] == area_code) & (summary["breakdown"] == breakdown)]
    if rows.empty:
        raise ValueError(f"summary has no rows for {metric} {level} {area_code} {breakdown}")
    return rows.sort_values("date")


def _target_marks(targets: pd.DataFrame | Sequence[Target] | None, metric: str, level: str,
                  area_code: str, units: str) -> list[_TargetMark]:
    """Targets that apply to this chart, from Target objects, targets.csv or evaluate_targets rows."""
    if targets is None:
        return []
    if isinstance(targets, pd.DataFrame):
        frame = targets.rename(columns={"scope": "level"}) if "level" not in targets else targets
        records = frame.to_dict("records")
    else:
        records = [vars(t) for t in targets]
    marks: dict[tuple, _TargetMark] = {}
    for rec in records:
        if rec["metric"] != metric or rec.get("level", "national") != level:
            continue
        if str(rec.get("area_code", "*")) not in ("*", area_code):
            continue
        label = rec.get("label")
        if not isinstance(label, str) or not label:
            label = target_label(float(rec["threshold"]), rec["direction"], str(rec["deadline"]), units)
        prob = rec.get("probability_met")
        if prob is not None and np.isfinite(prob):
            label += f" (chance met {_format_probability(float(prob))})"
        mark = _TargetMark(float(rec["threshold"]), rec["direction"], _month_end([rec["deadline"]])[0], label)
        marks.setdefault((mark.threshold, mark.direction, mark.deadline), mark)
    return sorted(marks.values(), key=lambda m: (m.deadline, m.threshold))


# --------------------------------------------------------------------------- drawing


def _draw_fan(ax: Axes, dates: np.ndarray, rows: pd.DataFrame, scale: float) -> list:
    col = {c: rows[c].to_numpy(dtype=float) / scale for c in ("point", "p5", "p10", "p50", "p90", "p95")}
    lines, bands = [], []
    # With no Monte Carlo replications (N = 0) only the point estimate exists.
    if np.isfinite(col["p50"]).any():
        ax.fill_between(dates, col["p5"], col["p95"], color=NHS_BLUE, alpha=0.15, linewidth=0)
        ax.fill_between(dates, col["p10"], col["p90"], color=NHS_BLUE, alpha=0.30, linewidth=0)
        ax.plot(dates, col["p50"], color=NHS_DARK_BLUE, linewidth=1.8)
        lines.append(Line2D([], [], color=NHS_DARK_BLUE, linewidth=1.8, label="Median"))
        bands = [Patch(facecolor=NHS_BLUE, alpha=0.45, label="10–90% range"),
                 Patch(facecolor=NHS_BLUE, alpha=0.15, label="5–95% range")]
    if np.isfinite(col["point"]).any():
        # Drawn after the median so it stays visible where the two coincide.
        ax.plot(dates, col["point"], color=NHS_DARK_GREY, linewidth=1.3, linestyle=(0, (4, 2)))
        lines.append(Line2D([], [], color=NHS_DARK_GREY, linewidth=1.3, linestyle=(0, (4, 2)),
                            label="Point estimate"))
    return lines + bands


def _draw_observed(ax: Axes, observed: pd.Series, history_start: pd.Timestamp | None, scale: float) -> list:
    series = observed.dropna()
    dates = _month_end(series.index)
    keep = np.ones(len(series), dtype=bool) if history_start is None else dates >= history_start
    if not keep.any():
        return []
    ax.plot(dates[keep].to_numpy(), series.to_numpy(dtype=float)[keep] / scale, color="black",
            linewidth=1.1, marker="o", markersize=2.2)
    return [Line2D([], [], color="black", linewidth=1.1, marker="o", markersize=3, label="Observed")]


def _draw_targets(ax: Axes, marks: list[_TargetMark], scale: float, x_range: tuple) -> list:
    x_lo, x_hi = x_range
    shown = [m for m in marks if x_lo <= m.deadline <= x_hi]
    span = (x_hi - x_lo) / pd.Timedelta(days=1)
    for mark in shown:
        start = mark.deadline - pd.DateOffset(months=_TARGET_LINE_MONTHS)
        y = mark.threshold / scale
        ax.plot([start, mark.deadline], [y, y], color=TARGET_COLOUR, linewidth=2.0, solid_capstyle="butt")
        ax.plot([mark.deadline], [y], color=TARGET_COLOUR, marker="D", markersize=5)
        # Label on the side away from the data: above a floor, below a ceiling.
        above = mark.direction == ">="
        right_half = (mark.deadline - x_lo) / pd.Timedelta(days=1) > 0.35 * span
        ax.annotate(mark.label, xy=(mark.deadline if right_half else start, y),
                    xytext=(0, 4 if above else -4), textcoords="offset points",
                    ha="right" if right_half else "left", va="bottom" if above else "top",
                    fontsize=8, color=TARGET_COLOUR, fontweight="bold",
                    bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7})
    if not shown:
        return []
    return [Line2D([], [], color=TARGET_COLOUR, linewidth=2.0, marker="D", markersize=5, label="Commitment")]


def _draw_reference(ax: Axes, lines: Sequence[tuple[float, str]], scale: float) -> None:
    for value, label in lines:
        ax.axhline(value / scale, color=NHS_MID_GREY, linewidth=1.0)
        ax.annotate(label, xy=(0.0, value / scale), xycoords=("axes fraction", "data"), xytext=(4, 3),
                    textcoords="offset points", fontsize=8, color=NHS_DARK_GREY)


def _draw_projection_start(ax: Axes, start: pd.Timestamp) -> None:
    ax.axvline(start, color=NHS_DARK_GREY, linewidth=1.0, linestyle=(0, (1, 2)))
    transform = ax.get_xaxis_transform()
    # Above the plotting area, so the labels can never sit on data.
    ax.text(start, 1.01, "  Projection \u2192", transform=transform, ha="left", va="bottom", fontsize=8,
            color=NHS_DARK_GREY)
    ax.text(start, 1.01, "\u2190 Observed  ", transform=transform, ha="right", va="bottom", fontsize=8,
            color=NHS_DARK_GREY)


def _format_axes(ax: Axes, units: str, ylabel: str, x_range: tuple, clip: bool = True) -> None:
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _format_value(v, units)))
    ax.margins(x=0.01, y=0.08)
    if clip and units == "pct":
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, 0.0), min(hi, 100.0))
    elif clip and units in ("count", "millions", "weeks"):
        lo, hi = ax.get_ylim()
        ax.set_ylim(max(lo, 0.0), hi)
    x_lo, x_hi = x_range
    ax.set_xlim(x_lo - pd.Timedelta(days=20), x_hi + pd.Timedelta(days=20))
    if (x_hi - x_lo).days > 3 * 365:
        ax.xaxis.set_major_locator(mdates.YearLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=4))
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.tick_params(axis="x", which="minor", length=2)


def _default_subtitle(level: str, area_code: str, rows: pd.DataFrame) -> str:
    area = "England" if level == "national" else f"{level.upper() if level == 'icb' else level.title()} {area_code}"
    if rows["p50"].notna().any():
        return f"{area}  ·  median, 10–90% and 5–95% ranges across Monte Carlo replications"
    return f"{area}  ·  point estimate only (no Monte Carlo replications)"


# --------------------------------------------------------------------------- public


def fan_chart(
    summary: pd.DataFrame,
    metric: str,
    *,
    level: str = "national",
    area_code: str = "ENG",
    breakdown: str = "all",
    targets: pd.DataFrame | Sequence[Target] | None = None,
    observed: pd.Series | None = None,
    title: str,
    ylabel: str,
    provenance: str,
    out_stem: Path,
    units: str = "auto",
    subtitle: str | None = None,
    history_start: str | pd.Timestamp | None = None,
    reference_lines: Sequence[tuple[float, str]] = (),
    signed: bool = False,
) -> list[Path]:
    """Draw one fan chart and write ``<out_stem>.png`` (200 dpi) and ``<out_stem>.svg``.

    Args:
        summary: rows in the summary.csv layout (``sim.results.summarise``).
        metric: canonical metric name.
        level, area_code, breakdown: the series to draw.
        targets: ``Target`` objects, targets.csv rows or ``evaluate_targets``
            rows; those for this metric, level and area (or ``'*'``) whose
            deadline is within the chart are drawn. With a ``probability_met``
            column the label carries it.
        observed: monthly history indexed by month (any form ``pd.to_datetime``
            reads; placed at month end), drawn black.
        title, ylabel: chart wording.
        provenance: footer text (see ``provenance_text``).
        out_stem: path without suffix; parent folders are created.
        units: ``auto`` (from the metric name), ``pct``, ``count``,
            ``millions`` (values divided by 1e6), ``weeks`` or ``gbp_m``.
        subtitle: line under the title; default names the area and the bands.
        history_start: first observed month to show (default: all given).
        reference_lines: (value, label) horizontal lines, e.g. a standard.
        signed: the values are differences that may be negative (``sim
            compare``): the y axis is not clipped at 0 (or at 100%).

    Returns:
        ``[png_path, svg_path]``.

    Raises:
        ValueError: no summary rows for the series, or unknown units.
    """
    units = infer_units(metric) if units == "auto" else units
    if units not in UNITS:
        raise ValueError(f"units {units!r} must be 'auto' or one of {UNITS}")
    rows = _select(summary, metric, level, area_code, breakdown)
    dates = _month_end(rows["date"])
    start = dates[0] - pd.offsets.MonthBegin(1)
    hist_from = None if history_start is None else _month_end([history_start])[0]
    scale = _scale(units)
    out_stem = Path(out_stem)
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(_RC):
        fig = Figure(figsize=FIG_SIZE_IN, dpi=PNG_DPI)
        ax = fig.add_axes((0.08, 0.22, 0.9, 0.62))
        handles = []
        if observed is not None:
            handles += _draw_observed(ax, observed, hist_from, scale)
        handles += _draw_fan(ax, dates.to_numpy(), rows, scale)
        x_range = _x_range(dates, observed, hist_from)
        x_lo = x_range[0]
        handles += _draw_targets(ax, _target_marks(targets, metric, level, area_code, units), scale, x_range)
        _draw_reference(ax, reference_lines, scale)
        if x_lo < dates[0]:  # without history the chart is all projection: no divider needed
            _draw_projection_start(ax, start)
        _format_axes(ax, units, ylabel, x_range, clip=not signed)
        _decorate(fig, handles, title, subtitle or _default_subtitle(level, area_code, rows), provenance)
        return _save(fig, out_stem, title)


def _x_range(dates: pd.DatetimeIndex, observed: pd.Series | None,
             history_start: pd.Timestamp | None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last month shown: the projection plus the observed months drawn."""
    shown = dates
    if observed is not None:
        obs = _month_end(observed.dropna().index)
        shown = shown.append(obs if history_start is None else obs[obs >= history_start])
    return shown.min(), shown.max()


def _decorate(fig: Figure, handles: list, title: str, subtitle: str, provenance: str) -> None:
    fig.text(0.08, 0.945, title, fontsize=14, fontweight="bold", color=NHS_DARK_BLUE, ha="left", va="baseline")
    fig.text(0.08, 0.895, subtitle, fontsize=9, color=NHS_DARK_GREY, ha="left", va="baseline")
    if handles:
        # Below the axes so it can never cover data; one row while it fits.
        fig.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.53, 0.08),
                   ncol=len(handles) if len(handles) <= 6 else 4, fontsize=8.5, handlelength=2.4, columnspacing=1.6)
    fig.text(0.08, 0.012, provenance, fontsize=6.5, color=NHS_MID_GREY, ha="left", va="bottom")


def _save(fig: Figure, out_stem: Path, title: str) -> list[Path]:
    """Render both formats to memory, then write each file atomically.

    The tight bounding box is measured once, in a layout-only pass, and given to both
    formats: ``bbox_inches="tight"`` would lay the figure out again for each.
    """
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw_without_rendering()
    bbox = fig.get_tightbbox(renderer).padded(0.15)
    paths = []
    for fmt, metadata in (("png", {"Title": title}), ("svg", {"Title": title, "Date": None})):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=metadata, bbox_inches=bbox)
        path = out_stem.with_name(f"{out_stem.name}.{fmt}")
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths


def standard_plots(
    summary: pd.DataFrame,
    targets: pd.DataFrame | Sequence[Target] | None,
    out_dir: Path,
    provenance: str,
    observed: dict[str, pd.Series] | None = None,
    *,
    history_years: int = 3,
    charts: Sequence[ChartSpec] = STANDARD_CHARTS,
) -> list[Path]:
    """National fan charts for the headline metrics; a metric absent from ``summary`` is skipped.

    Args:
        summary: summary.csv rows.
        targets: commitments to draw (see ``fan_chart``).
        out_dir: folder for ``<metric>_ENG.png`` / ``.svg`` (created).
        provenance: footer text.
        observed: history per metric name, shown from ``history_years``
            before the projection start.
        history_years: years of observed history to show.
        charts: which charts to draw.

    Returns:
        Paths written, PNG then SVG per chart, in ``charts`` order.
    """
    out_dir = Path(out_dir)
    national = summary[(summary["level"] == "national") & (summary["area_code"] == "ENG")
                       & (summary["breakdown"] == "all")]
    present = set(national["metric"].unique())
    paths: list[Path] = []
    for spec in charts:
        if spec.metric not in present:
            continue
        first = _month_end([national.loc[national["metric"] == spec.metric, "date"].min()])[0]
        paths += fan_chart(
            summary, spec.metric, targets=targets, observed=(observed or {}).get(spec.metric),
            title=spec.title, ylabel=spec.ylabel, provenance=provenance, out_stem=out_dir / f"{spec.metric}_ENG",
            units=spec.units, history_start=first - pd.DateOffset(years=history_years),
            reference_lines=spec.reference_lines)
    return paths


# --------------------------------------------------------------------------- drivers (tornado)

DRIVERS_SHOWN = 8
LOW_DRAW_BLUE = "#7FAEDB"  # NHS blue at half strength: the lowest fifth, beside NHS_BLUE for the highest
def driver_charts(drivers: pd.DataFrame, targets: pd.DataFrame, out_dir: Path, provenance: str,
                  shown: int = DRIVERS_SHOWN) -> list[Path]:
    """A tornado chart per metric with a national commitment in drivers.csv, at its last deadline in the run
    (``drivers_<metric>_<deadline>.png`` / ``.svg``; drivers.csv has every deadline).

    Each bar runs from the commitment's median over the fifth of replications that drew an input's lowest
    values to that over the fifth that drew its highest; bars whose rank correlation chance alone would give
    (Holm-adjusted p >= 5% over the commitment's drivers) are grey.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for (metric, deadline), rows in at_last_deadline(drivers).groupby(["metric", "deadline"], sort=False):
        rows = rows.sort_values("rank").head(shown).iloc[::-1]  # strongest at the top
        judged = targets[(targets["metric"] == metric) & (targets["deadline"] == deadline)
                         & (targets["level"] == "national")]
        if judged.empty:
            continue
        target = judged.iloc[0]
        units = infer_units(metric)
        month = pd.Timestamp(deadline + "-01").strftime("%b %Y")
        with matplotlib.rc_context(_RC):
            fig = Figure(figsize=FIG_SIZE_IN)
            ax = fig.add_axes((0.36, 0.2, 0.6, 0.62))
            y = np.arange(len(rows))
            median = float(target["p50"])
            strong = (rows["p_adjusted"] < SIGNIFICANCE).to_numpy()
            for lo_or_hi, solid in (("low_median", False), ("high_median", True)):
                ends = rows[lo_or_hi].to_numpy()
                colour = np.where(strong, NHS_BLUE if solid else LOW_DRAW_BLUE,
                                  NHS_MID_GREY if solid else NHS_PALE_GREY)
                ax.barh(y, ends - median, left=median, height=0.6, color=colour, edgecolor="white", linewidth=0.5)
            ax.axvline(median, color=NHS_DARK_GREY, linewidth=1.0)
            ax.axvline(float(target["threshold"]), color=TARGET_COLOUR, linewidth=1.4, linestyle="--")
            ax.set_yticks(y, [f"{driver_label(r.driver)}\n{draw_range(r.low_draw, r.high_draw)}"
                              for r in rows.itertuples()], fontsize=8)
            ax.grid(axis="y", visible=False)
            ax.grid(axis="x", visible=True)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _format_value(v / _scale(units), units)))
            ax.set_xlabel(f"{LABELS.get(metric, metric)} in {month}")
            handles = [Patch(color=LOW_DRAW_BLUE, label="lowest fifth of draws"),
                       Patch(color=NHS_BLUE, label="highest fifth of draws"),
                       Patch(color=NHS_MID_GREY, label="within chance (adjusted p ≥ 5%)"),
                       Line2D([], [], color=NHS_DARK_GREY,
                              label=f"median {_format_value(median / _scale(units), units)}"),
                       Line2D([], [], color=TARGET_COLOUR, linestyle="--",
                              label=target_label(float(target["threshold"]), str(target["direction"]), deadline,
                                                 units))]
            explained = float(rows["explained_pct"].iloc[0])
            together = (f"all inputs together explain {explained:.0f}% of the spread (rank regression)"
                        if np.isfinite(explained) else "too few replications to say how much they explain together")
            title = f"What moves {LABELS.get(metric, metric)} in {month}"
            _decorate(fig, handles, title,
                      f"England  ·  median outcome among replications drawing each input's lowest and highest "
                      f"fifth  ·  {together}", provenance)
            paths += _save(fig, out_dir / f"drivers_{metric}_{deadline}", title)
    return paths


# --------------------------------------------------------------------------- sweeps


def _axis_values(values: Sequence) -> tuple[np.ndarray, list[str]]:
    """Positions and labels of a varied key's values: the numbers themselves, or 0..n-1 for words."""
    labels = [f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v) for v in values]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return (np.asarray(values, dtype=np.float64) if numeric else np.arange(len(values), dtype=np.float64)), labels


def sweep_charts(sweep: pd.DataFrame, keys: Sequence[str], out_dir: Path, provenance: str) -> list[Path]:
    """A chart per metric with a national commitment, at its last deadline (``sweep_<metric>_<deadline>``).

    One varied key: the median and 10-90% band against the key's values, the commitment's line, and the
    chance of meeting it at each value. Two keys: a grid of the chance met, each cell with its median. More
    keys: no charts (sweep.csv has every run).
    """
    if len(keys) not in (1, 2) or sweep.empty:
        return []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for (metric, deadline), rows in at_last_deadline(sweep).groupby(["metric", "deadline"], sort=False):
        units = infer_units(metric)
        scale = _scale(units)
        month = pd.Timestamp(deadline + "-01").strftime("%b %Y")
        first = rows.iloc[0]
        goal = target_label(float(first["threshold"]), str(first["direction"]), deadline, units)
        title = f"{LABELS.get(metric, metric)} in {month}: what each setting gives"
        with matplotlib.rc_context(_RC):
            fig = Figure(figsize=FIG_SIZE_IN)
            ax = fig.add_axes((0.08, 0.2, 0.88, 0.62))
            if len(keys) == 1:
                rows = rows.drop_duplicates(keys[0])
                x, labels = _axis_values(list(rows[keys[0]]))
                order = np.argsort(x, kind="stable")
                x, labels, rows = x[order], [labels[i] for i in order], rows.iloc[order]
                ax.fill_between(x, rows["p10"] / scale, rows["p90"] / scale, color=NHS_BLUE, alpha=0.2, linewidth=0)
                ax.plot(x, rows["p50"] / scale, color=NHS_BLUE, marker="o", linewidth=2)
                ax.axhline(float(first["threshold"]) / scale, color=TARGET_COLOUR, linestyle="--", linewidth=1.4)
                for xi, p50, prob in zip(x, rows["p50"], rows["probability_met"]):
                    ax.annotate(f"chance met {_format_probability(float(prob))}", (xi, p50 / scale),
                                textcoords="offset points", xytext=(0, 9), ha="center", fontsize=7.5,
                                color=NHS_DARK_GREY)
                ax.set_xticks(x, labels)
                ax.set_xlabel(keys[0])
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _format_value(v, units)))
                ax.grid(axis="x", visible=False)
                handles = [Line2D([], [], color=NHS_BLUE, marker="o", linewidth=2, label="median"),
                           Patch(color=NHS_BLUE, alpha=0.2, label="10–90% range"),
                           Line2D([], [], color=TARGET_COLOUR, linestyle="--", label=goal)]
                subtitle = (f"England  ·  by {keys[0]}  ·  each point a run of the scenario with the same seed "
                            "(common random numbers)")
            else:
                xs, ys = list(dict.fromkeys(rows[keys[1]])), list(dict.fromkeys(rows[keys[0]]))
                grid = np.full((len(ys), len(xs)), np.nan)
                text = [["" for _ in xs] for _ in ys]
                for r in rows.to_dict("records"):  # keys are dotted names, so not attributes of itertuples
                    i, j = ys.index(r[keys[0]]), xs.index(r[keys[1]])
                    grid[i, j] = r["p50"] / scale
                    text[i][j] = (f"{_format_value(r['p50'] / scale, units)}\n"
                                  f"chance met {_format_probability(r['probability_met'])}")
                # Shaded by the median, darker the better: chance met is often 0% in every cell.
                cmap = "Blues" if first["direction"] == ">=" else "Blues_r"
                lo, hi = np.nanmin(grid), np.nanmax(grid)
                image = ax.imshow(grid, cmap=cmap, vmin=lo, vmax=hi if hi > lo else lo + 1, aspect="auto",
                                  origin="lower")
                shade = (grid - lo) / (hi - lo) if hi > lo else np.zeros_like(grid)
                for i in range(len(ys)):
                    for j in range(len(xs)):
                        strength = shade[i, j] if first["direction"] == ">=" else 1 - shade[i, j]
                        ax.text(j, i, text[i][j], ha="center", va="center", fontsize=8,
                                color="white" if np.isfinite(strength) and strength > 0.6 else NHS_DARK_GREY)
                bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
                bar.set_label("median")
                bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _format_value(v, units)))
                ax.set_xticks(np.arange(len(xs)), _axis_values(xs)[1])
                ax.set_yticks(np.arange(len(ys)), _axis_values(ys)[1])
                ax.set_xlabel(keys[1])
                ax.set_ylabel(keys[0])
                ax.grid(False)
                handles = []
                subtitle = (f"England  ·  each cell: the median and the chance of {goal}  ·  same seed in every run "
                            "(common random numbers)")
            _decorate(fig, handles, title, subtitle, provenance)
            paths += _save(fig, out_dir / f"sweep_{metric}_{deadline}", title)
    return paths
