"""End-to-end jobs behind the CLI: a scenario run to a finished results folder, and a calibration.

Order of a run: validate the scenario and plan it against the data (errors
here exit 2 before any work), claim the run folder (refused if it exists),
simulate with a progress bar, then write every file into the staging folder
and rename it into place with the manifest last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import io
import json
import platform
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from ruamel.yaml import YAML

import sim
from sim import reference
from sim.calendar import add_months, month_range, parse_month
from sim.calibration import CALIBRATION_COLUMNS, OBSERVED_COLUMN, calibrate, calibration_yaml, first_month_needed
from sim.config import CalibrationParams, RunHeader, Scenario, blame_command_line, load_scenario
from sim.errors import DISK_ERRNOS, InputError, OutputError
from sim.engine.cancer import N_DAYS as CANCER_DAYS
from sim.engine.flow import N_STAGES
from sim.metrics import RTT_METRICS
from sim.model import month_end_times
from sim.services.cancer import CANCER_METRICS
from sim.services.diagnostics import DIAG_METRICS
from sim.drivers import driver_table, parameters_table
from sim.plotting import driver_charts, provenance_text, standard_plots
from sim.report import commitments, commitments_table, drivers_table
from sim.cube_store import CubeLabels, CubeStore
from sim.results import (MANIFEST_NAME, STAGING_SUFFIX, TRAJECTORY_SCHEMA, Cube, RunWriter, evaluate_targets,
                         summarise, trajectory_tables)
from sim.run_folder import SCRATCH_NAME, atomic_write_bytes, check_free_space, check_output_file
from sim.yamlio import LoadedDocument
from sim.runner import (RunPlan, default_jobs, input_files, iter_batches, observed_rtt_for, plan_batches, plan_run,
                        run_batch, service_data_for)
from sim.service_data import NATIONAL_TABLES, ServiceData, shipped_service_data


def resolved_yaml(scenario: Scenario) -> str:
    """The scenario after ``extends:``, defaults and command-line overrides, as YAML."""
    yaml = YAML()
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(scenario.model_dump(mode="json"), buf)
    return buf.getvalue()


def run_id_for(resolved: str, now: dt.datetime) -> str:
    """Timestamp plus a short hash of the resolved scenario."""
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


def git_commit() -> str | None:
    """The source tree's commit, when the package runs from a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(sim.__file__).parent, capture_output=True,
                             text=True, timeout=5, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=Path(sim.__file__).parent,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def observed_history(rtt: pd.DataFrame | None = None, data: ServiceData | None = None) -> dict[str, pd.Series]:
    """Published national series for the fan charts and backtest scores, indexed by month end.

    ``rtt``: another RTT series; ``data``: other national diagnostics and cancer series (default: shipped).
    """
    obs = reference.rtt_national() if rtt is None else rtt
    data = data or shipped_service_data()
    index = pd.PeriodIndex(obs.index, freq="M").to_timestamp(how="end").normalize()
    series = {metric: obs[column] for metric, column in OBSERVED_COLUMN.items()}
    series["rtt_over_52w_pct"] = 100.0 * obs["over_52w"] / obs["waiting_list"]
    series["rtt_clock_starts"] = obs["clock_starts"]
    out = {k: pd.Series(v.to_numpy(dtype=float), index=index).dropna() for k, v in series.items()}
    for frame, columns in ((data.diagnostics_national, {"diag_over_6w_pct": "pct_over_6w",
                                                        "diag_waiting_list": "waiting_list",
                                                        "diag_tests": "tests_performed"}),
                           (data.cancer_national, {"cancer_fds_pct": "fds_pct", "cancer_62d_pct": "pct_62day",
                                                   "cancer_31d_pct": "pct_31day"})):
        idx = pd.PeriodIndex(frame["month"], freq="M").to_timestamp(how="end").normalize()
        for metric, column in columns.items():
            out[metric] = pd.Series(frame[column].to_numpy(dtype=float), index=idx).dropna()
    return out


def dimensions(plan: RunPlan, cube: Cube) -> dict[str, int]:
    g = plan.rows.geography
    dims = {"trusts": len(g.trust_codes), "specialties": len(g.specialty_codes), "rows": g.n_rows,
            "stages": N_STAGES, "wait_bins": int(plan.start_rows.shape[-1]), "months": len(plan.months),
            "weeks": simulated_days(plan.months) // 7,
            "replications": int(len(cube.replications)), "series": len(cube.series), "metrics": len(cube.metrics)}
    services = plan.services
    if services is not None and services.diagnostics is not None:
        p = services.diagnostics.providers
        dims.update(diagnostic_providers=p.n_providers, diagnostic_rows=p.n_rows, diagnostic_tests=len(g.test_codes),
                    diagnostic_wait_bins=int(p.start_counts.shape[-1]))
    if services is not None and services.cancer_enabled:
        dims.update(cancer_trusts=len(services.cancer.trust_codes), cancer_day_bins=CANCER_DAYS)
    return dims


def simulated_days(months: Sequence[str]) -> int:
    """Days from the first simulated month's first day to the end of the last month."""
    return month_end_times(dt.date(*parse_month(months[0]), 1), tuple(months))[-1] if months else 0


def services_manifest(plan: RunPlan) -> dict:
    """How the diagnostic and cancer services were calibrated, for the manifest."""
    s = plan.services
    out: dict = {}
    if s is None:
        return out
    if s.diagnostics is not None:
        out["diagnostics"] = {"census_month": s.diagnostics.providers.census_month,
                              "rates_window": list(s.diagnostics.providers.window),
                              "in_turn_per_week": dict(zip(plan.rows.geography.test_codes,
                                                           (float(x) for x in s.in_turn_per_week))),
                              "in_turn_fit": s.fit,
                              "monthly_variation": None if s.diagnostic_variation is None
                              else dataclasses.asdict(s.diagnostic_variation)}
    if s.cancer is not None:
        c = s.cancer
        out["cancer"] = {"enabled": s.cancer_enabled, "window": list(c.window), "cancer_share": c.cancer_share,
                         "dtt_median_days": c.dtt_median_days, "fit": c.fit,
                         "monthly_variation": None if c.variation is None else dataclasses.asdict(c.variation)}
    return out


def write_result_files(writer: RunWriter, cube: Cube, resolved: str,
                       keep_levels: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Write the files every run folder holds, whatever the engine; return the summary, targets and drivers.

    Files: trajectories.parquet (every replication of ``keep_levels``), summary.csv,
    targets.csv (the published commitments the cube can be judged against),
    parameters.csv (what each replication drew), drivers.csv (which draws move each
    national commitment, ``sim.drivers``) and scenario.resolved.yaml.
    """
    summary = summarise(cube)
    judged = commitments(cube)
    targets = evaluate_targets(cube, judged)
    drivers = driver_table(cube, judged)
    writer.write_parquet("trajectories.parquet", trajectory_tables(cube, keep_levels=tuple(keep_levels)),
                         schema=TRAJECTORY_SCHEMA)
    writer.write_csv("summary.csv", summary)
    writer.write_csv("targets.csv", targets)
    writer.write_csv("parameters.csv", parameters_table(cube))
    writer.write_csv("drivers.csv", drivers)
    writer.write_text("scenario.resolved.yaml", resolved)
    return summary, targets, drivers


def platform_info() -> dict[str, object]:
    """The machine and library versions a run's manifest records."""
    return {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine(),
            "cpus": default_jobs()}


RUN_SETTINGS_NAME = "run.json"


def _plan(scenario_file: Path, overrides: dict) -> tuple[Scenario, LoadedDocument, RunPlan, float]:
    t0 = time.perf_counter()
    scenario, doc = load_scenario(scenario_file, overrides)
    try:
        plan = plan_run(scenario, doc)
    except InputError as err:
        raise blame_command_line(err, overrides) from None
    return scenario, doc, plan, time.perf_counter() - t0


def execute_run(scenario_file: Path, overrides: dict, *, out_dir: Path | None = None, jobs: int | None = None,
                batch_size: int | None = None, keep: list[str] | None = None, overwrite: bool = False,
                quiet: bool = False, executor: str = "local", address: str | None = None) -> Path:
    """Run a scenario file to a finished results folder; return the folder.

    ``executor``/``address``: where batches run (:func:`sim.runner.iter_batches`).
    The settings that fix the results are recorded in the staging folder first,
    so :func:`resume_run` can finish an interrupted run.
    """
    scenario, doc, plan, build_seconds = _plan(scenario_file, overrides)
    _check_executor(executor, address)
    resolved, now, run_id, run_dir = run_identity(scenario, out_dir)
    settings = {"scenario_file": str(Path(scenario_file).resolve()), "overrides": overrides, "keep": list(keep or []),
                "batch_size": batch_size, "overwrite": overwrite, "run_id": run_id, "created_utc": now.isoformat(timespec="seconds"),
                "resolved_sha256": hashlib.sha256(resolved.encode()).hexdigest(),
                "input_data_sha256": reference.data_hashes(), "input_files": input_files(scenario, doc)}
    check_free_space(run_dir, working_cube_bytes(plan), "the run's working cube")
    with _kept_on_disk_errors(run_dir), RunWriter(run_dir, overwrite=overwrite) as writer:
        (writer.scratch_folder() / RUN_SETTINGS_NAME).write_text(json.dumps(settings, indent=2), encoding="utf-8")
        return _complete_run(writer, scenario_file, scenario, doc, plan, settings, now,
                             {"build_seconds": build_seconds}, jobs, quiet, executor, address)


def resume_run(run_dir: Path, *, jobs: int | None = None, quiet: bool = False, executor: str = "local",
               address: str | None = None) -> Path:
    """Finish an interrupted run from its staging folder, reusing every batch already stored.

    The scenario is re-read from the file it came from; the run is refused if
    the resolved scenario or the shipped data differ from when it started, as
    the stored batches would then not belong to the same run.
    """
    run_dir = Path(run_dir)
    if run_dir.name.endswith(STAGING_SUFFIX):
        run_dir = run_dir.with_name(run_dir.name[: -len(STAGING_SUFFIX)])
    staging = run_dir.with_name(run_dir.name + STAGING_SUFFIX)
    settings_path = staging / SCRATCH_NAME / RUN_SETTINGS_NAME
    if not settings_path.is_file():
        finished = " (it is a finished run)" if (run_dir / MANIFEST_NAME).is_file() else ""
        raise InputError(problem=f"nothing to resume at {run_dir}{finished}: there is no interrupted run's folder "
                                 f"{staging.name} with {SCRATCH_NAME}/{RUN_SETTINGS_NAME}")
    try:
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
        scenario_file = Path(settings["scenario_file"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(file=str(settings_path), problem=f"is damaged ({type(exc).__name__}: {exc}), so the run "
                         "cannot be resumed; start it again") from None
    scenario, doc, plan, build_seconds = _plan(scenario_file, settings["overrides"])
    if hashlib.sha256(resolved_yaml(scenario).encode()).hexdigest() != settings["resolved_sha256"]:
        raise InputError(problem="the scenario (this file or one it extends) has changed since the run started, so "
                                 "its stored batches belong to another scenario; start a new run instead",
                         file=str(scenario_file))
    if reference.data_hashes() != settings["input_data_sha256"]:
        raise InputError(problem=f"the shipped data have changed since the run in {staging} started; "
                                 "start a new run instead")
    before = {key: entry["sha256"] for key, entry in settings.get("input_files", {}).items()}
    changed = [key for key, entry in input_files(scenario, doc).items() if entry["sha256"] != before.get(key)]
    if changed:
        raise InputError(problem=f"the file world.{changed[0]} names has changed since the run in {staging} started, "
                                 "so its stored batches came from other data; start a new run instead",
                         file=str(scenario_file))
    now = dt.datetime.fromisoformat(settings["created_utc"])
    _check_executor(executor, address)
    # A run started with --overwrite replaces the earlier folder when it finishes, resumed or not.
    with _kept_on_disk_errors(run_dir), RunWriter(run_dir, resume=True,
                                                  overwrite=settings.get("overwrite", False)) as writer:
        return _complete_run(writer, scenario_file, scenario, doc, plan, settings, now,
                             {"build_seconds": build_seconds}, jobs, quiet, executor, address)


def working_cube_bytes(plan: RunPlan) -> int:
    """A lower bound on the scratch cube's size: every series x the patient metrics x replication x census.

    The agents' finance metrics are left out (they are known only once a model
    is built); the store reserves the exact size when the first batch arrives.
    """
    services = plan.services
    metrics = len(RTT_METRICS)
    if services is not None and services.diagnostics is not None:
        metrics += len(DIAG_METRICS)
    if services is not None and services.cancer_enabled:
        metrics += len(CANCER_METRICS)
    return len(plan.rows.geography.series()) * metrics * len(plan.replications) * (len(plan.months) + 1) * 8


@contextlib.contextmanager
def _kept_on_disk_errors(run_dir: Path) -> Iterator[None]:
    """A full disk (or a folder turned read-only) part way through a run: say what was kept and how to finish."""
    try:
        yield
    except OSError as err:
        if err.errno not in DISK_ERRNOS:
            raise
        staging = run_dir.with_name(run_dir.name + STAGING_SUFFIX)
        where = f" {err.filename}" if err.filename else ""
        raise OutputError(f"could not write{where}: {err.strerror or err}. The unfinished run is kept in {staging} "
                          f"(marked INCOMPLETE; earlier runs are untouched); free space, then finish it with: "
                          f"sim run --resume {run_dir}") from err


def _check_executor(executor: str, address: str | None) -> None:
    """A missing Dask or an unreachable scheduler is known before the run folder is claimed."""
    if executor == "dask":
        from sim.dask_executor import check_scheduler

        check_scheduler(address)


def _complete_run(writer: RunWriter, scenario_file: Path, scenario: Scenario, doc: LoadedDocument, plan: RunPlan,
                  settings: dict, now: dt.datetime, timings: dict[str, float], jobs: int | None, quiet: bool,
                  executor: str, address: str | None) -> Path:
    """Simulate what the store lacks, write every result file and finish the folder."""
    jobs = jobs or default_jobs()
    console = Console(stderr=True, quiet=quiet)
    run_id = settings["run_id"]
    with CubeStoreSlot(writer.scratch_folder()) as slot:
        t1 = time.perf_counter()
        try:
            cube = with_progress(f"{plan.scenario.name} {plan.scenario.start}..{plan.scenario.end}",
                                 len(plan.replications),
                                 lambda done: simulate_to_disk(plan, jobs, settings["batch_size"], slot, done,
                                                               executor, address),
                                 console, quiet)
        except KeyboardInterrupt:
            Console(stderr=True).print(f"finish it later with: sim run --resume {writer.run_dir}")
            raise
        timings["simulate_seconds"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        # --keep adds levels to the file's keep_levels (README: "also keep"), never drops England.
        levels = tuple(dict.fromkeys([*scenario.outputs.keep_levels, *settings["keep"]]))
        summary, targets, drivers = write_result_files(writer, cube, resolved_yaml(scenario), levels)
        if scenario.outputs.plots:
            provenance = provenance_text(scenario.name, run_id, scenario.replications, now.strftime("%Y-%m-%d"))
            plots = writer.path_for("plots/fan.png").parent
            standard_plots(summary, targets, plots, provenance,
                           observed=observed_history(observed_rtt_for(scenario, doc),
                                                     service_data_for(scenario, doc, NATIONAL_TABLES)))
            driver_charts(drivers, targets, plots, provenance)
        timings["write_seconds"] = time.perf_counter() - t2
        manifest = {
            **run_manifest(scenario, doc, scenario_file, run_id, now, jobs, timings, executor, address),
            "calibration": {"name": plan.calibration.name, "fit_first_month": plan.calibration.fit_first_month,
                            "fit_last_month": plan.calibration.fit_last_month, "fit_rmse": plan.calibration.fit},
            "start_state_reconstruction_error": {k: float(v) for k, v in plan.start_errors.items()},
            "services": services_manifest(plan),
            "input_files": input_files(scenario, doc),
            "world": {"rtt_share_basis": plan.world.rtt_share_basis, "national_scale": plan.rows.national_scale},
            "dimensions": dimensions(plan, cube),
            "resumed_replications": slot.reused,
        }
        final = writer.finish(manifest)
    if not quiet:
        console.print(commitments_table(targets, f"{scenario.name}: commitments ({scenario.replications} replications,"
                                                 f" seed {scenario.seed})"))
        movers = drivers_table(drivers, "What moves them most (median among replications drawing the input's "
                                        "lowest and highest fifth; drivers.csv has every input)")
        if movers is not None:
            console.print(movers)
    return final


class CubeStoreSlot:
    """The run's :class:`CubeStore` in ``folder``: reopened if an interrupted run left one, else made
    once the first batch says what the cube looks like; closed on exit."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.store = CubeStore.reopen(folder)
        self.reused = 0

    def __enter__(self) -> "CubeStoreSlot":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.store is not None:
            self.store.close()


def simulate_to_disk(plan: RunPlan, jobs: int, batch_size: int | None, slot: CubeStoreSlot,
                     progress: Callable[[int], None] | None, executor: str = "local",
                     address: str | None = None) -> Cube:
    """Simulate every replication the store lacks, streaming each finished batch into it; return the stored cube.

    Memory holds a batch at a time, never the whole run (issue 6). Batches an
    interrupted run stored (and whose checksums hold) are reused.
    """
    done = slot.store.completed(verify=True) if slot.store is not None else np.zeros(0, dtype=np.int64)
    slot.reused = int(done.size)
    if progress and done.size:
        progress(int(done.size))
    for reps, batch in iter_batches(plan, run_batch, plan_batches(plan, jobs, batch_size, skip=done), jobs,
                                    executor, address):
        if slot.store is None:
            slot.store = CubeStore(slot.folder, CubeLabels(batch.series, batch.metrics, batch.dates,
                                                           len(plan.replications)))
        slot.store.write(batch)
        if progress:
            progress(len(reps))
    assert slot.store is not None, "a run has at least replication 0"
    return slot.store.reader()


def with_progress(description: str, total: int, simulate: Callable[[Callable[[int], None] | None], Cube],
                  console: Console, quiet: bool) -> Cube:
    """Run ``simulate(progress)`` under a progress bar of replications (none when quiet)."""
    if quiet:
        return simulate(None)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("replications"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(description, total=total)
        return simulate(lambda n: progress.advance(task, n))


def run_identity(scenario: RunHeader, out_dir: Path | None) -> tuple[str, dt.datetime, str, Path]:
    """The resolved scenario text, the start time, the run id and the run folder (default outputs/<name>/<id>)."""
    resolved = resolved_yaml(scenario)
    now = dt.datetime.now(dt.timezone.utc)
    run_id = run_id_for(resolved, now)
    return resolved, now, run_id, out_dir or Path("outputs") / scenario.name / run_id


def run_manifest(scenario: RunHeader, doc: LoadedDocument, scenario_file: Path, run_id: str, now: dt.datetime,
                 jobs: int, timings: dict[str, float], executor: str = "local", address: str | None = None) -> dict:
    """The manifest entries every run has (a flow-model run or a DES run adds its own)."""
    return {
        "sim_version": sim.__version__,
        "git_commit": git_commit(),
        "run_id": run_id,
        "created_utc": now.isoformat(timespec="seconds"),
        "scenario": scenario.name,
        "scenario_file": str(scenario_file),
        "scenario_files": list(doc.files),
        "seed": scenario.seed,
        "replications": scenario.replications,
        "executor": "dask" if executor == "dask" else "serial" if jobs == 1 else "process-pool",
        **({"dask_scheduler": address or "local cluster"} if executor == "dask" else {}),
        "jobs": jobs,
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "platform": platform_info(),
        "input_data_sha256": reference.data_hashes(),
    }


def admitted_share_before(cutoff: str) -> tuple[float, str]:
    """Latest sourced share of the list with a decision to admit, published no later than ``cutoff``."""
    split = reference.sourced_stage_split()
    sourced = split[split["month"] <= cutoff]
    if sourced.empty:
        raise ValueError(f"no sourced admitted share of the list on or before {cutoff}")
    row = sourced.sort_values("month").iloc[-1]
    return float(row.incomplete_with_dta / row.incomplete_total), f"{row.month}: {row.source}"


SHIPPED_RTT_VINTAGE = ("NHS England RTT Overview Timeseries incl. estimates, Dec25 edition "
                       "(sim/data/rtt_national_monthly.csv)")


def observed_rtt(path: Path | None) -> tuple[pd.DataFrame, str]:
    """The national RTT series to fit or score (a user's file, checked, or the shipped one) and its vintage."""
    if path is None:
        return reference.rtt_national(), SHIPPED_RTT_VINTAGE
    frame = reference.read_observed_rtt(path)
    return frame, f"{path} (sha256 {hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]})"


def check_calibration_months(observed: pd.DataFrame, cutoff: str, window: int) -> None:
    """Refuse a cutoff a calibration cannot use, naming the cutoffs it can (exit 2, before any fitting)."""
    try:
        parse_month(cutoff)
    except ValueError:
        raise InputError(key_path="--cutoff", value=cutoff, problem="is not a month",
                         allowed="YYYY-MM, e.g. 2024-03") from None
    complete = observed.dropna(subset=list(CALIBRATION_COLUMNS)).index
    if complete.empty:
        raise InputError(key_path="--observed", problem="has no month with every column a calibration reads",
                         allowed=", ".join(CALIBRATION_COLUMNS))
    sourced = reference.sourced_stage_split()["month"].min()
    needed = month_range(first_month_needed(cutoff, window), cutoff)
    listed = observed.dropna(subset=["waiting_list", "pct_within_18w"]).index
    allowed = f"a cutoff from {max(add_months(complete[0], len(needed) - 1), sourced)} to {listed[-1]}"
    gaps = [m for m in needed if m not in complete]
    if gaps:
        raise InputError(key_path="--cutoff", value=cutoff, allowed=allowed + ", or a shorter --window",
                         problem=f"needs every month from {needed[0]} to it with {', '.join(CALIBRATION_COLUMNS)} to "
                                 f"calibrate on ({window} months fitted, a case-mix fit a year before, and the month "
                                 f"before); {gaps[0]} is missing or incomplete")
    if cutoff < sourced:
        raise InputError(key_path="--cutoff", value=cutoff, allowed=allowed,
                         problem=f"is before the first sourced share of the list with a decision to admit ({sourced}; "
                                 "sim/data/rtt_stage_split.csv)")


def run_calibration(cutoff: str, window: int, name: str, out_path: Path, max_evaluations: int,
                    observed_path: Path | None = None) -> CalibrationParams:
    """Fit to the national series (shipped, or ``observed_path``) up to ``cutoff`` and write the calibration file."""
    observed, vintage = observed_rtt(observed_path)
    check_calibration_months(observed, cutoff, window)
    check_output_file(Path(out_path))
    share, source = admitted_share_before(cutoff)
    calib = calibrate(observed, reference.targets(), cutoff, name=name, data_vintage=vintage,
                      admitted_share=share, admitted_share_source=source, window_months=window,
                      max_evaluations=max_evaluations)
    try:
        atomic_write_bytes(Path(out_path), calibration_yaml(calib).encode("utf-8"))
    except OSError as err:
        raise OutputError(f"could not write {out_path}: {err.strerror or err}") from err
    return calib
