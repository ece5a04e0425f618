"""`sim backtest`: calibrate on the months up to a cutoff, forecast the months after it, score what happened.

The calibration sees only observed months up to the cutoff; the forecast
starts from the cutoff month's published position with the settings a user
would have had then (calibrated trends, the long-wait targets as published,
no later validation programme). Each metric is scored against the months
observed after the cutoff, beside persistence (the cutoff month held flat):
:func:`sim.backtest.score`. From cutoffs the DM01 and CWT provider data can
start the services at (October 2024 on, for the shipped data), diagnostics and
cancer run too and their national metrics are scored beside the RTT ones.

The folder is written like a run folder (staged, atomic files, manifest
last): ``calibration.yaml`` and ``scenario.yaml`` (what was run, so the
forecast can be rerun with ``sim run``; with ``--observed``, a copy of each
file it names, as ``observed_<kind>.csv``), ``summary.csv`` (national),
``backtest.csv`` (the scores) and ``plots/`` (each fan with the observed months).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from sim import reference
from sim.backtest import BACKTEST_METRICS, SERVICE_METRICS, pooled_trust_scores, score, score_trusts
from sim.calendar import add_months, parse_month
from sim.calibration import calibrate, calibration_yaml
from sim.config import load_scenario
from sim.config_services import CancerConfig, DiagnosticsConfig
from sim.data_check import KIND_TABLE, WORLD_KEYS, file_kind
from sim.errors import InputError
from sim.pipeline import (admitted_share_before, check_calibration_months, observed_history, observed_rtt,
                          run_manifest, services_manifest, with_progress)
from sim.plotting import provenance_text, standard_plots
from sim.results import RunWriter, summarise
from sim.runner import default_jobs, plan_run, run_plan
from sim.world import read_trust_totals
from sim.service_data import ServiceData, read_service_data
from sim.service_plan import service_census_months

DEFAULT_REPLICATIONS = 100
DEFAULT_SEED = 20250401
#: The folder's copy of each observed file it was given.
OBSERVED_NAME = "observed_{kind}.csv"

# The forecast's scenario. Trends and uncertainty come from the calibration written beside it;
# the long-wait targets are those NHS England had published (targets.csv), which a planner
# at the cutoff knew. Diagnostics and cancer run when the provider data (DM01 from August
# 2024, CWT from April 2024) can start them at the cutoff, calibrated on the months up to
# it as a run's are; money needs a 2025/26 allocation, so it never runs here.
SCENARIO_TEMPLATE = """\
# Written by sim backtest: the forecast scored in backtest.csv. Rerun it with `sim run scenario.yaml`.
name: {name}
description: >
  Backtest: calibrated on observed months up to {cutoff} only ({window} months fitted),
  forecast {first} to {last} from the published {cutoff} position.
start: {first}
end: {last}
replications: {replications}
seed: {seed}
calibration: calibration.yaml
world:
  trust_capacity_variation_pct: 5  # assumption, as in the baseline{observed_lines}
policies:
  long_wait_drive:
    # The long-wait targets as published (sim/data/targets.csv): 78 weeks by April 2023,
    # 65 weeks by September 2024, then 52 weeks.
    schedule:
      - {{start: 2022-05, weeks: 78}}
      - {{start: 2023-05, weeks: 65}}
      - {{start: 2024-10, weeks: 52}}
diagnostics: {{enabled: {services}}}
cancer: {{enabled: {services}}}
finance: {{enabled: false}}
outputs:
  keep_levels: [national]
  plots: true
"""


def _last_forecast_month(observed: pd.DataFrame, cutoff: str, horizon: int, window: int) -> str:
    """The last month scored; refuses a cutoff the series cannot calibrate on or score after."""
    check_calibration_months(observed, cutoff, window)
    listed = observed.dropna(subset=["waiting_list", "pct_within_18w"]).index
    last = min(add_months(cutoff, horizon), listed[-1])
    if last <= cutoff:
        raise InputError(key_path="--cutoff", value=cutoff,
                         problem=f"leaves no observed month after it to score against (the data end {listed[-1]})",
                         allowed=f"a cutoff before {listed[-1]}")
    return last


def observed_by_kind(paths: list[Path] | tuple[Path, ...]) -> dict[str, Path]:
    """``--observed`` files by kind (``rtt`` or a :data:`~sim.service_data.SERVICE_TABLES` table), told from headers.

    Raises:
        InputError: a file of no known kind, or two files of one kind.
    """
    out: dict[str, Path] = {}
    for path in paths:
        kind = file_kind(path)
        if kind == "trusts":
            raise InputError(key_path="--observed", value=str(path), problem="is a trusts file (a start position, "
                             "not an observed series)", allowed="a national RTT, diagnostics or cancer series, a "
                             "DM01 or CWT provider file, or monthly trust totals; a trusts file goes in a "
                             "scenario's world.trusts_csv")
        table = KIND_TABLE.get(kind, kind)
        if table in out:
            raise InputError(key_path="--observed", value=str(path), problem=f"is a second {kind} file (the first: "
                             f"{out[table]})", allowed="one file of each kind: rtt, diagnostics, cancer, "
                             "dm01_provider, cwt_provider, trust_totals")
        out[table] = Path(path)
    return out


def run_backtest(cutoffs: str | list[str], *, observed_path: Path | None = None,
                 service_files: dict[str, Path] | None = None, trust_totals: Path | None = None, horizon: int = 12,
                 replications: int = DEFAULT_REPLICATIONS, seed: int = DEFAULT_SEED, window: int = 24,
                 out_dir: Path | None = None, jobs: int | None = None, quiet: bool = False,
                 overwrite: bool = False, max_evaluations: int = 500) -> tuple[Path, pd.DataFrame]:
    """Calibrate up to each cutoff, forecast up to ``horizon`` months, score; return the folder and the scores.

    One cutoff writes its files at the top of the folder; several (a rolling
    backtest) write each cutoff's files in ``<cutoff>/`` and every score in
    one ``backtest.csv`` (a ``cutoff`` column says which forecast). With
    ``trust_totals`` (a monthly trust totals file) each trust starts from its
    list at the cutoff and is scored too, in ``backtest_trusts.csv``.

    Raises:
        InputError: a cutoff without ``window`` months of data before it or
            any month after it (every cutoff is checked before any work); a
            malformed observed file.
    """
    cutoffs = [cutoffs] if isinstance(cutoffs, str) else sorted(dict.fromkeys(cutoffs))
    observed, vintage = observed_rtt(observed_path)
    service_files = dict(service_files or {})
    data = read_service_data(service_files)
    given = {**({"rtt": Path(observed_path)} if observed_path is not None else {}), **service_files,
             **({"trust_totals": Path(trust_totals)} if trust_totals is not None else {})}
    lasts = {cutoff: _last_forecast_month(observed, cutoff, horizon, window) for cutoff in cutoffs}
    totals = None if trust_totals is None else _trust_totals_for(trust_totals, lasts)
    jobs = jobs or default_jobs()
    now = dt.datetime.now(dt.timezone.utc)
    name = f"backtest_{cutoffs[0]}" + (f"..{cutoffs[-1]}" if len(cutoffs) > 1 else "")
    out_dir = out_dir or Path("outputs") / name / now.strftime("%Y%m%dT%H%M%SZ")
    console = Console(stderr=True, quiet=quiet)
    with RunWriter(out_dir, overwrite=overwrite) as writer:  # claimed before the long fits: a clash fails at once
        for kind, path in given.items():  # the folder carries its data, so its scenarios rerun anywhere
            writer.write_bytes(OBSERVED_NAME.format(kind=kind), path.read_bytes())
        tables, trust_tables, entries = [], [], []
        timings = {"calibrate_seconds": 0.0, "simulate_seconds": 0.0}
        for cutoff in cutoffs:
            prefix = f"{cutoff}/" if len(cutoffs) > 1 else ""
            table, trust_table, entry, scenario, doc, scenario_file = _one_cutoff(
                writer, prefix, cutoff, lasts[cutoff], observed, vintage, data, totals, given, window,
                replications, seed, jobs, max_evaluations, console, quiet, timings, out_dir.name, now)
            tables.append(table.assign(cutoff=cutoff))
            trust_tables.append(trust_table.assign(cutoff=cutoff))
            entries.append(entry)
        table = _cutoff_first(pd.concat(tables, ignore_index=True))
        writer.write_csv("backtest.csv", table)
        if totals is not None:
            writer.write_csv("backtest_trusts.csv", _cutoff_first(pd.concat(trust_tables, ignore_index=True)))
        manifest = {**run_manifest(scenario, doc, scenario_file, out_dir.name, now, jobs, timings),
                    "scenario": name, "backtests": entries}
        final = writer.finish(manifest)
    if not quiet:
        console.print(scores_table(table, f"{name}: each forecast against what was published"))
        for entry in entries:
            for metric, pooled in entry.get("trust_scores", {}).items():
                console.print(f"{entry['cutoff']} trusts, {metric}: median error {pooled['median_model_error']:.2f} "
                              f"({pooled['unit']}) against {pooled['median_persistence_error']:.2f} for persistence; "
                              f"beats persistence at {100 * pooled['beats_persistence_share']:.0f}% of "
                              f"{pooled['trusts']} trusts; 10-90% band holds "
                              f"{100 * pooled['coverage_10_90']:.0f}% of trust-months (backtest_trusts.csv)")
    return final, table


def _one_cutoff(writer: RunWriter, prefix: str, cutoff: str, last: str, observed: pd.DataFrame, vintage: str,
                data: ServiceData, totals: pd.DataFrame | None, given: dict[str, Path], window: int, replications: int, seed: int, jobs: int, max_evaluations: int,
                console: Console, quiet: bool, timings: dict[str, float], run_id: str, now: dt.datetime):
    """Calibrate, write, run and score one cutoff's forecast into ``prefix`` of the folder."""
    name, first = f"backtest_{cutoff}", add_months(cutoff, 1)
    services = cutoff in service_census_months(DiagnosticsConfig.model_fields["rates_window_months"].default,
                                               CancerConfig.model_fields["rates_window_months"].default, data)
    t0 = time.perf_counter()
    share, share_source = admitted_share_before(cutoff)
    with console.status(f"calibrating on {add_months(cutoff, -(window - 1))}..{cutoff}"):
        calib = calibrate(observed, reference.targets(), cutoff, name=name, data_vintage=vintage,
                          admitted_share=share, admitted_share_source=share_source, window_months=window,
                          max_evaluations=max_evaluations)
    timings["calibrate_seconds"] += time.perf_counter() - t0
    writer.write_text(prefix + "calibration.yaml", calibration_yaml(calib))
    keys = {KIND_TABLE.get(kind, kind): key for kind, key in WORLD_KEYS.items()}
    observed_lines = "".join(f"\n  {keys[kind]}: {'../' * prefix.count('/')}{OBSERVED_NAME.format(kind=kind)}  "
                             "# the file the backtest was given" for kind in given)
    writer.write_text(prefix + "scenario.yaml", SCENARIO_TEMPLATE.format(
        name=name, cutoff=cutoff, window=window, first=first, last=last, replications=replications, seed=seed,
        observed_lines=observed_lines, services=str(services).lower()))
    scenario_file = writer.path_for(prefix + "scenario.yaml")
    scenario, doc = load_scenario(scenario_file, {})
    t1 = time.perf_counter()
    plan = plan_run(scenario, doc)
    cube = with_progress(f"{name} {first}..{last}", len(plan.replications),
                         lambda progress: run_plan(plan, jobs, progress=progress), console, quiet)
    timings["simulate_seconds"] += time.perf_counter() - t1
    summary = summarise(cube)
    national = summary[summary["level"] == "national"].reset_index(drop=True)
    published = observed_history(observed, data)
    table = score(national, published, cutoff, BACKTEST_METRICS + (SERVICE_METRICS if services else ()))
    writer.write_csv(prefix + "summary.csv", national)
    history = {metric: series[series.index <= pd.Timestamp(dt.date(*parse_month(last), 1)) + pd.offsets.MonthEnd(0)]
               for metric, series in published.items()}
    standard_plots(national, None, writer.path_for(prefix + "plots/fan.png").parent,
                   provenance_text(name, run_id, replications, now.strftime("%Y-%m-%d")) + "  |  "
                   f"calibrated to {cutoff}; dots after it were not seen", observed=history, history_years=2)
    entry = {"cutoff": cutoff, "folder": prefix or ".", "first_forecast_month": first, "last_forecast_month": last,
             "window_months": window, "observed": vintage, "calibration_fit_rmse": calib.fit,
             "services": services, "services_calibration": services_manifest(plan),
             "observed_files": {kind: {"file": str(path.resolve()),
                                       "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
                                for kind, path in given.items()}}
    trust_table = pd.DataFrame()
    if totals is not None:
        trust_table = score_trusts(summary, totals, cutoff)
        entry["trust_scores"] = pooled_trust_scores(trust_table)
    return table, trust_table, entry, scenario, doc, scenario_file


def _cutoff_first(table: pd.DataFrame) -> pd.DataFrame:
    return table[["cutoff", *[c for c in table.columns if c != "cutoff"]]]


def _trust_totals_for(path: Path, lasts: dict[str, str]) -> pd.DataFrame:
    """A trust totals file, checked to hold every cutoff (each trust starts from its list there) and a month
    after it to score.

    Raises:
        InputError: a cutoff the file does not hold, or none of whose forecast months it holds.
    """
    totals = read_trust_totals(path)
    held = sorted(set(totals["month"]))
    for cutoff, last in lasts.items():
        if cutoff not in held:
            raise InputError(key_path="--cutoff", value=cutoff, problem=f"is not a month of the trust totals {path}, "
                             "which start each trust at the cutoff", allowed=f"a month it holds ({held[0]} to "
                             f"{held[-1]}: {len(held)} months)")
        if not any(cutoff < m <= last for m in held):
            raise InputError(key_path="--cutoff", value=cutoff, problem=f"leaves no month of the trust totals {path} "
                             f"to score (the forecast runs to {last}; the file ends {held[-1]})",
                             allowed="a cutoff with at least one month of the file after it")
    return totals


def scores_table(table: pd.DataFrame, title: str) -> Table:
    """The scores as a console table: model against persistence, and the 10-90% band's coverage (the rest is in
    backtest.csv)."""
    out = Table(title=title, title_justify="left")
    # Errors in the metric's unit (% of observed, points, weeks); the band: share of months inside it.
    for col in ("Cutoff", "Metric", "N", "Model", "Persist.", "Beats", "10-90%"):
        out.add_column(col, justify="left" if col in ("Cutoff", "Metric") else "right", no_wrap=True)
    units = {"% of observed": "%", "points": " pt", "weeks": " wk"}
    for r in table.itertuples():
        unit = units.get(r.unit, " " + r.unit)
        out.add_row(r.cutoff, r.metric.removeprefix("rtt_"), str(r.months), f"{r.model_error:.2f}{unit}",
                    f"{r.persistence_error:.2f}{unit}", "yes" if r.beats_persistence else "no",
                    f"{100 * r.coverage_10_90:.0f}%")
    return out
