"""`sim des`: a DES file to a finished run folder, laid out as `sim run` lays out its folders.

A run is planned once (:func:`plan_des`: one unit per trust x test, the
calendar, the output series), then each replication is simulated alone from
its own ``des`` stream (:func:`sim.rng.stream`), so results are byte-identical
whatever ``--jobs``. Replication 0 takes central parameter values (the
vetting share); it is still one draw of the arrivals, as the DES has no
expected-value path. The cube goes to the writer every engine shares
(:func:`sim.pipeline.write_result_files`).

:func:`month_end_means` is the small entry point for comparing resolutions:
one trust's tests in, month-end means over replications out.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from sim.config_services import DIAG_TEST_KEYS
from sim.des_config import DesScenario, load_des_scenario
from sim.distributions import central, sample
from sim.engine.des import (DESCalendar, DESResult, DiagnosticUnit, Vetting, days_since_start, des_calendar,
                            simulate)
from sim.metrics import MetricCube, SeriesKey
from sim.pipeline import run_identity, run_manifest, with_progress, write_result_files
from sim.results import RunWriter
from sim.rng import parameter_stream, stream
from sim.runner import batches, default_batch_size, default_jobs, map_batches

DES_METRICS = ("diag_waiting_list", "diag_over_6w_pct", "diag_tests")
KEEP_LEVELS = ("national", "trust")
STREAM = "des"
REMOVAL_SHARE_PARAMETER = "des.rttt.removal_share"


@dataclass(frozen=True)
class DESPlan:
    """A validated DES run, ready to simulate (picklable).

    Attributes:
        scenario: the validated file (after command-line overrides).
        units: one per trust x test, trusts in file order, tests in DM01 order.
        unit_trust: index into ``trust_codes`` per unit.
        unit_test: index into ``test_keys`` per unit.
        trust_codes: trusts in file order.
        test_keys: tests present, in DM01 order.
        calendar: working days and census times.
    """

    scenario: DesScenario
    units: tuple[DiagnosticUnit, ...]
    unit_trust: tuple[int, ...]
    unit_test: tuple[int, ...]
    trust_codes: tuple[str, ...]
    test_keys: tuple[str, ...]
    calendar: DESCalendar

    @property
    def replications(self) -> np.ndarray:
        """0 (point estimate) then 1..N."""
        return np.arange(self.scenario.replications + 1, dtype=np.int64)

    @property
    def series(self) -> tuple[SeriesKey, ...]:
        """England (the whole DES world), each trust, then England by test."""
        return ((SeriesKey("national", "ENG"),) + tuple(SeriesKey("trust", c) for c in self.trust_codes)
                + tuple(SeriesKey("national", "ENG", k) for k in self.test_keys))

    def members(self) -> np.ndarray:
        """bool ``[series, unit]``: which units each series adds up."""
        trust = np.asarray(self.unit_trust)
        test = np.asarray(self.unit_test)
        rows = [np.ones(len(self.units), dtype=bool)]
        rows += [trust == i for i in range(len(self.trust_codes))]
        rows += [test == j for j in range(len(self.test_keys))]
        return np.stack(rows)


def plan_des(scenario: DesScenario) -> DESPlan:
    """Lay out the units and the calendar of a validated DES file."""
    present = {k for t in scenario.trusts for k in t.tests}
    test_keys = tuple(k for k in DIAG_TEST_KEYS if k in present)
    units, unit_trust, unit_test = [], [], []
    for i, trust in enumerate(scenario.trusts):
        for key in test_keys:
            cfg = trust.tests.get(key)
            if cfg is None:
                continue
            a = cfg.arrivals_per_working_day
            units.append(DiagnosticUnit((a.urgent, a.rtt, a.other), cfg.sessions_per_working_day,
                                        cfg.tests_per_session, tuple(cfg.start_waiting_by_week)))
            unit_trust.append(i)
            unit_test.append(test_keys.index(key))
    return DESPlan(scenario, tuple(units), tuple(unit_trust), tuple(unit_test),
                   tuple(t.code for t in scenario.trusts), test_keys, des_calendar(scenario.start, scenario.end))


def vetting_for(plan: DESPlan, replication: int) -> Vetting:
    """Right Test Right Time in one replication: the central share in replication 0, a draw in the others."""
    rttt = plan.scenario.rttt
    if rttt is None:
        return Vetting()
    if replication == 0:
        share = central(rttt.removal_share)
    else:
        share = sample(rttt.removal_share, parameter_stream(plan.scenario.seed, replication, REMOVAL_SHARE_PARAMETER),
                       0.0, 1.0)
    return Vetting(share, days_since_start(plan.scenario.start, rttt.start), rttt.exempt_urgent)


def run_replication(plan: DESPlan, replication: int) -> DESResult:
    """Simulate one replication from its own stream."""
    rng = stream(plan.scenario.seed, int(replication), STREAM)
    return simulate(plan.units, plan.calendar, rng, vetting_for(plan, int(replication)))


def cube_values(members: np.ndarray, result: DESResult) -> np.ndarray:
    """float64 ``[series, metric, date]`` (metrics :data:`DES_METRICS`) from one replication.

    Counts are summed as integers (exact, in any order); % over 6 weeks is NaN
    for an empty list; tests are NaN at the start census (no month before it).
    """
    tests = result.tests.sum(axis=1)
    out = np.full((members.shape[0], len(DES_METRICS), result.waiting_list.shape[1]), np.nan)
    for s, mask in enumerate(members):
        waiting = result.waiting_list[mask].sum(axis=0)
        over = result.over_6w[mask].sum(axis=0)
        out[s, 0] = waiting
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s, 1] = np.where(waiting > 0, 100.0 * over / waiting, np.nan)
        out[s, 2, 1:] = tests[mask].sum(axis=0)[1:]
    return out


def run_batch(plan: DESPlan, replications: np.ndarray) -> MetricCube:
    """Simulate a batch of replications (the picklable unit of work)."""
    reps = np.asarray(replications, dtype=np.int64)
    members = plan.members()
    values = np.stack([cube_values(members, run_replication(plan, int(r))) for r in reps])
    return MetricCube(values, reps, plan.series, DES_METRICS, plan.calendar.dates)


def run_des(plan: DESPlan, jobs: int | None = None, progress: Callable[[int], None] | None = None) -> MetricCube:
    """Simulate every replication of a plan, on a process pool when ``jobs > 1``."""
    jobs = jobs or default_jobs()
    work = batches(len(plan.replications), default_batch_size(len(plan.replications), jobs))
    return map_batches(plan, run_batch, work, jobs, progress)


def execute_des(scenario_file: Path, overrides: dict, *, out_dir: Path | None = None, jobs: int | None = None,
                overwrite: bool = False, quiet: bool = False) -> Path:
    """Run a DES file to a finished results folder; return the folder.

    Raises:
        InputError: a bad file or override (before any folder is made).
        FileExistsError: the folder exists and ``overwrite`` is False.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    scenario, doc = load_des_scenario(scenario_file, overrides)
    plan = plan_des(scenario)
    timings["build_seconds"] = time.perf_counter() - t0
    resolved, now, run_id, run_dir = run_identity(scenario, out_dir)
    jobs = jobs or default_jobs()
    console = Console(stderr=True, quiet=quiet)
    with RunWriter(run_dir, overwrite=overwrite) as writer:
        t1 = time.perf_counter()
        cube = _simulate(plan, jobs, quiet, console)
        timings["simulate_seconds"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        summary, _, _ = write_result_files(writer, cube, resolved, KEEP_LEVELS)
        timings["write_seconds"] = time.perf_counter() - t2
        manifest = {
            **run_manifest(scenario, doc, scenario_file, run_id, now, jobs, timings),
            "engine": "des",
            "dimensions": {"trusts": len(plan.trust_codes), "tests": len(plan.test_keys), "units": len(plan.units),
                           "months": len(plan.calendar.dates) - 1, "working_days": len(plan.calendar.working_days),
                           "replications": int(len(cube.replications)), "series": len(cube.series),
                           "metrics": len(cube.metrics)},
        }
        final = writer.finish(manifest)
    if not quiet:
        console.print(national_table(summary, f"{scenario.name}: diagnostics, all units ({scenario.replications} "
                                              f"replications, seed {scenario.seed})"))
    return final


def _simulate(plan: DESPlan, jobs: int, quiet: bool, console: Console) -> MetricCube:
    return with_progress(f"{plan.scenario.name} {plan.scenario.start}..{plan.scenario.end}", len(plan.replications),
                         lambda done: run_des(plan, jobs, progress=done), console, quiet)


def national_table(summary: pd.DataFrame, title: str) -> Table:
    """Month-end list, % over 6 weeks and tests for the whole DES world: point and median."""
    table = Table(title=title, title_justify="left")
    for col in ("Month end", "List (point)", "List (median)", "Over 6w % (median)", "Tests (median)"):
        table.add_column(col, justify="left" if col == "Month end" else "right")
    national = summary[(summary["level"] == "national") & (summary["breakdown"] == "all")]
    by_metric = {m: g.set_index("date") for m, g in national.groupby("metric")}
    for date in by_metric["diag_waiting_list"].index:
        wl, pct, tests = (by_metric[m].loc[date] for m in DES_METRICS)
        table.add_row(date, _number(wl["point"]), _number(wl["p50"]), _number(pct["p50"], "{:.1f}"),
                      _number(tests["p50"]))
    return table


def _number(value: float, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None or np.isnan(value) else fmt.format(value)


def month_end_means(tests: Mapping[str, DiagnosticUnit], first_month: str, last_month: str, *,
                    replications: int = 20, seed: int = 20250401, vetting: Vetting = Vetting()) -> pd.DataFrame:
    """Month-end means over replications for one trust's tests (for comparing with the flow engine).

    Build each test with :meth:`DiagnosticUnit.from_tests_per_working_day`
    (arrivals per working day by source, tests per working day, start list by
    completed weeks). Replications ``1..replications`` each draw from their own
    ``des`` stream of ``seed``.

    Args:
        tests: DM01 test key -> unit.
        first_month, last_month: ``YYYY-MM``, inclusive.
        replications: how many to average.
        seed: root seed.
        vetting: Right Test Right Time (``start_time`` in days from the first month's first day;
            see :func:`sim.engine.des.days_since_start`).

    Returns:
        One row per census date (start census first) and test (``all`` first, then
        each key): ``date, test, waiting_list, over_6w, over_6w_pct, over_6w_pct_of_means,
        tests`` where the counts are means over replications, ``over_6w_pct`` is the mean
        of each replication's % (NaN-skipping) and ``over_6w_pct_of_means`` is
        ``100 * over_6w / waiting_list`` of the means. ``tests`` is NaN at the start census.
    """
    if replications < 1:
        raise ValueError("replications must be >= 1")
    keys = list(tests)
    units = tuple(tests[k] for k in keys)
    calendar = des_calendar(first_month, last_month)
    groups = np.vstack([np.ones(len(units), dtype=bool), np.eye(len(units), dtype=bool)])
    n_dates = len(calendar.dates)
    waiting = np.zeros((replications, len(groups), n_dates))
    over = np.zeros_like(waiting)
    done = np.zeros_like(waiting)
    for i, r in enumerate(range(1, replications + 1)):
        res = simulate(units, calendar, stream(seed, r, STREAM), vetting)
        per_unit_tests = res.tests.sum(axis=1)
        for g, mask in enumerate(groups):
            waiting[i, g] = res.waiting_list[mask].sum(axis=0)
            over[i, g] = res.over_6w[mask].sum(axis=0)
            done[i, g] = per_unit_tests[mask].sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(waiting > 0, 100.0 * over / waiting, np.nan)
        mean_wl, mean_over = waiting.mean(axis=0), over.mean(axis=0)
        pct_of_means = np.where(mean_wl > 0, 100.0 * mean_over / mean_wl, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a list empty in every replication: NaN, as intended
        mean_pct = np.nanmean(pct, axis=0)
    mean_tests = done.mean(axis=0)
    mean_tests[:, 0] = np.nan
    labels = ["all"] + keys
    rows = [{"date": calendar.dates[d], "test": labels[g], "waiting_list": mean_wl[g, d], "over_6w": mean_over[g, d],
             "over_6w_pct": mean_pct[g, d], "over_6w_pct_of_means": pct_of_means[g, d], "tests": mean_tests[g, d]}
            for d in range(n_dates) for g in range(len(groups))]
    return pd.DataFrame(rows)
