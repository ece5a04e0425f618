"""Monte Carlo: plan a run once, then simulate batches of replications on an executor.

A :class:`RunPlan` holds everything a worker needs (validated scenario,
calibration, engine rows, start state). Batches are contiguous ranges of
replication indices; each replication draws only from its own streams and is
computed row by row, so results are byte-identical whatever the batch size,
the number of workers or the order in which batches finish.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import math
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import numpy as np
import pandas as pd

from sim import reference
from sim.calendar import add_months, month_range
from sim.calibration import national_start_stock, split_stages
from sim.engine.census import share_within
from sim.trust_start import mean_wait_weeks, trust_start_counts
from sim.config import CalibrationParams, Scenario, WorldConfig, load_calibration, resolve_path, scenario_error
from sim.engine import flow
from sim.engine.census import sum_groups, sum_rows_to_groups
from sim.metrics import Geography, MetricCube
from sim.model import NHSModel, previous_month
from sim.scenarios.build import RowLayout, batch_inputs
from sim.scenarios.parameters import recording
from sim.finance_plan import FinancePlan, batch_finance, finance_geography, plan_finance
from sim.service_data import SERVICE_TABLES, ServiceData, read_service_data
from sim.service_plan import ServicePlan, build_services, plan_services
from sim.world import World, load_world, read_trust_totals
from sim.yamlio import LoadedDocument

# A replication to 2035 holds about 34 MB while it runs (inputs by month, state, its results), so 16
# keeps a worker near 0.9 GB; throughput per replication is the same from about 8 up.
MAX_BATCH = 16
# A batch's own work (inputs, services, model set-up, freeing its cycle) in replications' worth:
# about 0.2 s a batch against 0.55 s a replication to 2029 and 1.4 s to 2035 (cProfile, 2 cores).
BATCH_OVERHEAD_REPLICATIONS = 0.25
R = TypeVar("R")


@dataclass(frozen=True)
class RunPlan:
    """A validated, ready-to-run scenario.

    Attributes:
        scenario: the validated scenario (after command-line overrides).
        calibration: the calibration it uses.
        rows: engine rows and start lists.
        start_rows: float64 ``[row, stage, bin]`` each row's list at the start census.
        months: simulated months.
        start_errors: reconstruction error of the start state against each published aggregate,
            and of the trusts' % within 18 weeks against theirs (``trust_within_18w_max_abs``).
        world: the world the rows come from.
        services: the diagnostic rows and cancer calibration (None where a service is off).
        finance: the 2025/26 allocation position and the trusts (None when finance is off).
    """

    scenario: Scenario
    calibration: CalibrationParams
    rows: RowLayout
    start_rows: np.ndarray
    months: tuple[str, ...]
    start_errors: dict[str, float]
    world: World
    services: ServicePlan | None = None
    finance: FinancePlan | None = None

    @property
    def engine_months(self) -> tuple[str, ...]:
        """The months the engine steps through: ``months``, or the start month for a run with none.

        A zero-length run (end = the month before start) still builds its model
        from the start month's inputs; it keeps only the start census, which is
        recorded before the first step.
        """
        return self.months or (self.scenario.start,)

    @property
    def replications(self) -> np.ndarray:
        """Replication indices: 0 (point estimate) then 1..N."""
        return np.arange(self.scenario.replications + 1, dtype=np.int64)

    def start_stock(self, n_reps: int) -> np.ndarray:
        """float32 ``[rep, row, stage, bin]`` start lists (the same in every replication)."""
        return np.broadcast_to(self.start_rows.astype(np.float32), (n_reps,) + self.start_rows.shape).copy()


def geography_of(world: World, rows_trust: np.ndarray, rows_specialty: np.ndarray) -> Geography:
    return Geography(
        row_trust=rows_trust,
        row_specialty=rows_specialty,
        trust_codes=world.rtt_trust_codes,
        trust_icb=np.asarray(world.rtt_trust_icb, dtype=np.int64),
        icb_codes=world.icb_codes,
        icb_region=np.asarray(world.icb_region, dtype=np.int64),
        region_codes=world.region_codes,
        specialty_codes=world.specialty_codes,
    )


def observed_rtt_for(scenario: Scenario, doc: LoadedDocument) -> pd.DataFrame:
    """The national RTT series a run starts from: ``world.national_rtt_csv`` if given, else the shipped one.

    Raises:
        InputError: the file named does not exist, or is malformed (file, line, column).
    """
    path = _world_file(doc, "national_rtt_csv", scenario.world.national_rtt_csv,
                       "with the columns of sim/data/rtt_national_monthly.csv")
    return reference.rtt_national() if path is None else reference.read_observed_rtt(path)


def service_data_for(scenario: Scenario, doc: LoadedDocument, tables: tuple[str, ...] = tuple(SERVICE_TABLES)
                     ) -> ServiceData:
    """The provider and national tables the services start from and the charts show: each ``world`` file
    given (``world.dm01_provider_csv`` and so on), checked, else the shipped table.

    ``tables``: read only these user files (the others stay shipped), e.g. the national series for charts.

    Raises:
        InputError: a file named does not exist, or is malformed (file, line, column).
    """
    paths = {}
    for table in tables:
        key, shipped, _ = SERVICE_TABLES[table]
        paths[table] = _world_file(doc, key, getattr(scenario.world, key), f"with the columns of sim/data/{shipped}")
    return read_service_data(paths)


#: The ``world`` keys that name a user's data file (every ``*_csv`` key of the schema).
WORLD_FILE_KEYS = tuple(key for key in WorldConfig.model_fields if key.endswith("_csv"))


def input_files(scenario: Scenario, doc: LoadedDocument) -> dict[str, dict[str, str]]:
    """The user data files a scenario names (``world`` key -> resolved path and SHA-256), for the manifest and
    for refusing to resume a run whose data changed."""
    out = {}
    for key in WORLD_FILE_KEYS:
        path = _world_file(doc, key, getattr(scenario.world, key), "")
        if path is not None:
            out[key] = {"file": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    return out


def _world_file(doc: LoadedDocument, key: str, name: str | None, columns: str) -> Path | None:
    """The file a ``world`` key names, resolved against the scenario file; None when the key is unset.

    Raises:
        InputError: the file does not exist (at the key's line, with what is expected).
    """
    if not name:
        return None
    path = resolve_path(doc, ("world", key), name)
    if not path.is_file():
        raise scenario_error(doc, ("world", key), name, f"names a file that does not exist ({path})",
                             "a CSV path relative to the scenario file" + (f", {columns}" if columns else ""))
    return path


def plan_run(scenario: Scenario, doc: LoadedDocument) -> RunPlan:
    """Check the scenario against the data and lay out the engine rows.

    Raises:
        InputError: a start month without a published position before it, or a
            calibration fitted on months after the start (it would see the future).
    """
    observed = observed_rtt_for(scenario, doc)
    census_month = previous_month(scenario.start)
    if census_month not in observed.index or np.isnan(observed.loc[census_month, "waiting_list"]):
        have = observed.dropna(subset=["waiting_list", "pct_within_18w"]).index
        raise scenario_error(doc, ("start",), scenario.start,
                             f"needs the published RTT position of {census_month}, which the observed data does not have",
                             f"a start from {add_months(have[0], 1)} to {add_months(have[-1], 1)}")
    calib = load_calibration(scenario.calibration, doc)
    if calib.fit_last_month > census_month:
        raise scenario_error(doc, ("start",), scenario.start,
                             f"is before the end of the calibration's fit window ({calib.fit_last_month}): the run would "
                             "use data from after its start", f"a start after {calib.fit_last_month}, or a calibration "
                             f"fitted up to {census_month} (sim calibrate --cutoff {census_month})")
    trusts_path = _world_file(doc, "trusts_csv", scenario.world.trusts_csv,
                              "with columns org_code, treatment_function_code, waiting_list")
    world = load_world(trusts_path)
    totals_path = _world_file(doc, "trust_totals_csv", scenario.world.trust_totals_csv,
                              "with columns org_code, month, incomplete_pathways, within_18w")
    if totals_path is not None:
        world = with_trust_totals(world, read_trust_totals(totals_path), census_month, doc,
                                  scenario.world.trust_totals_csv)
    national = float(observed.loc[census_month, "waiting_list"])
    stock, rec = national_start_stock(observed, census_month, calib.admitted_share_of_list)
    lists, trust_pct = trust_lists(world, scenario.world.trust_lists, national)
    trust_counts = trust_start_counts(stock.sum(axis=0) * (lists.sum() / national), lists.sum(axis=1), trust_pct)
    trust_rows, spec_rows = np.nonzero(lists > 0)
    # A row is its trust's shape scaled to the row's list; referrals follow list / mean wait (Little's law).
    trust_stages = np.stack([split_stages(c, calib.admitted_share_of_list) for c in trust_counts])
    row_share_of_trust = lists[trust_rows, spec_rows] / lists.sum(axis=1)[trust_rows]
    start_rows = trust_stages[trust_rows] * row_share_of_trust[:, None, None]
    demand = lists[trust_rows, spec_rows] / mean_wait_weeks(trust_counts)[trust_rows]
    geography = geography_of(world, trust_rows.astype(np.int64), spec_rows.astype(np.int64))
    services, geography = plan_services(scenario, doc, world, geography, census_month,
                                        service_data_for(scenario, doc), calib)
    geography = finance_geography(geography, world, scenario)
    rows = RowLayout(
        geography=geography,
        start_list=lists[trust_rows, spec_rows],
        demand_share=demand / demand.sum(),
        national_scale=float(lists.sum() / national),
    )
    errors = dict(rec.errors)
    got = 100.0 * (trust_counts * share_within(trust_counts.shape[1], 0, 126)).sum(axis=1) / trust_counts.sum(axis=1)
    if np.isfinite(trust_pct).any():
        errors["trust_within_18w_max_abs"] = float(np.nanmax(np.abs(got - trust_pct)))
    return RunPlan(scenario, calib, rows, start_rows, month_range(scenario.start, scenario.end), errors, world, services,
                   plan_finance(scenario, doc, geography, world))


def with_trust_totals(world: World, totals: pd.DataFrame, census_month: str, doc: LoadedDocument,
                      name: str) -> World:
    """The world with each RTT trust's published list and % within 18 weeks taken from ``totals`` at the census
    month (NaN for a trust the file leaves out: it falls back to the activity proxy, as with the shipped table).

    Raises:
        InputError: the file holds no row for the census month (at ``world.trust_totals_csv``).
    """
    month = totals[totals["month"] == census_month].set_index("org_code")
    if month.empty:
        held = sorted(set(totals["month"]))
        raise scenario_error(doc, ("world", "trust_totals_csv"), name,
                             f"holds no trust totals for {census_month}, the month before the start",
                             f"a file with {census_month} in it (it holds {held[0]} to {held[-1]}), or a start "
                             f"the month after one it holds")
    codes = list(world.rtt_trust_codes)
    lists = month["incomplete_pathways"].reindex(codes).to_numpy(dtype=np.float64)
    pct = (100.0 * month["within_18w"] / month["incomplete_pathways"]).reindex(codes).to_numpy(dtype=np.float64)
    for a in (lists, pct):
        a.setflags(write=False)
    return dataclasses.replace(world, rtt_trust_published_list=lists, rtt_trust_published_within_18w_pct=pct)


def trust_lists(world: World, basis: str, national: float) -> tuple[np.ndarray, np.ndarray]:
    """``[trust, specialty]`` start lists and each trust's % within 18 weeks (NaN: national shape).

    A user trusts file gives both (the % only if it has within_18w). Otherwise
    trust totals come from the published table (March 2025 shipped, or a user's trust totals at the census
    month: :func:`with_trust_totals`) or the activity proxy, spread over specialties by the world's specialty
    mix, scaled to the national list.
    """
    if world.rtt_start_list is not None:
        lists = np.asarray(world.rtt_start_list, dtype=np.float64)
        pct = np.full(lists.shape[0], np.nan)
        if world.rtt_start_within_18w is not None:
            pct = 100.0 * np.asarray(world.rtt_start_within_18w).sum(axis=1) / lists.sum(axis=1)
        return lists, pct
    share = np.asarray(world.rtt_share, dtype=np.float64)
    mix = share / share.sum(axis=1, keepdims=True)
    if basis in ("published", "published_2025_03") and world.rtt_trust_published_list is not None:
        published = np.asarray(world.rtt_trust_published_list, dtype=np.float64)
        proxy_totals = share.sum(axis=1) * np.nansum(published) / share.sum()
        totals = np.where(np.isnan(published), proxy_totals, published)
        pct = np.asarray(world.rtt_trust_published_within_18w_pct, dtype=np.float64)
    else:
        totals = share.sum(axis=1)
        pct = np.full(share.shape[0], np.nan)
    return mix * (totals * national / totals.sum())[:, None], pct


def run_batch(plan: RunPlan, replications: np.ndarray) -> MetricCube:
    """Simulate one batch of replications (the picklable unit of work)."""
    reps = np.asarray(replications, dtype=np.int64)
    months = plan.engine_months
    with recording() as drawn:
        inputs = batch_inputs(plan.scenario, plan.calibration, plan.rows, months, reps)
        diag, cancer = (build_services(plan.services, plan.scenario, plan.rows.geography, months, reps,
                                       plan.rows.national_scale) if plan.services is not None else (None, None))
        funding = batch_finance(plan.finance, plan.scenario, months, reps, plan.rows.geography.trust_codes)
    rng = np.random.default_rng(np.random.SeedSequence(plan.scenario.seed, spawn_key=(int(reps[0]), 0)))
    model = NHSModel(plan.rows.geography, plan.start_stock(len(reps)), inputs, reps, rng, diag, cancer, funding)
    cube = dataclasses.replace(model.run(until_month=len(plan.months)), draws=drawn.table(reps))
    # The model, its simpy processes and its agents refer to each other, so only the cycle
    # collector frees them; its oldest generation runs rarely, and a worker would otherwise
    # carry every finished batch's state (measured: +160 MB a batch until it ran).
    del model, inputs, diag, cancer, funding
    gc.collect()
    return cube


def batches(replications: int | np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Contiguous ranges of ``replications`` (a count n meaning 0..n-1, or sorted indices), at most ``batch_size`` long."""
    todo = np.arange(replications, dtype=np.int64) if isinstance(replications, int) else np.asarray(replications)
    runs = np.split(todo, np.flatnonzero(np.diff(todo) != 1) + 1)
    return [run[i:i + batch_size] for run in runs if run.size for i in range(0, run.size, batch_size)]


def default_batch_size(n_replications: int, jobs: int) -> int:
    """Enough batches to keep every worker busy and the progress bar moving, none too big for memory.

    Batches of at most ``replications / (4 x workers)``, rounded up, and
    ``MAX_BATCH``: about four or more per worker. Among those sizes, the one that finishes first when the pool hands
    each batch to the first free worker, counting each batch's own work
    (``BATCH_OVERHEAD_REPLICATIONS``). 41 replications on 2 workers go in
    batches of 5 (eight of 5 and one of 1) rather than 6 (seven batches: one
    worker runs the seventh while the other waits); 201 in batches of 10.
    """
    jobs = max(jobs, 1)
    largest = max(1, min(MAX_BATCH, math.ceil(n_replications / (4 * jobs))))

    def makespan(size: int) -> float:
        free = [0.0] * jobs  # each batch goes to the first worker free, as the pool hands them out
        for start in range(0, n_replications, size):
            free[free.index(min(free))] += min(size, n_replications - start) + BATCH_OVERHEAD_REPLICATIONS
        return max(free)

    return min(range(largest, 0, -1), key=lambda size: (round(makespan(size), 9), -size))


def warm_up() -> None:
    """Compile (or load from cache) the numba kernels before workers fork."""
    stock = np.zeros((1, 1, 2, 3), dtype=np.float32)
    acc = np.zeros((1, 1, flow.N_ACC))
    one = np.ones((1, 1))
    flow.advance(stock, acc, clock_starts=one, nonadmitted_activity=one, admitted_activity=one,
                 dta_share=np.zeros(1), other_rate=np.zeros(1), validation_rate=np.zeros(1), validation_min_bin=0,
                 hazard=np.ones((1, 2, 3)), other_profile=np.ones(3), age=True)
    sum_rows_to_groups(stock, np.zeros(1, dtype=np.int64), 1)
    sum_groups(acc, np.zeros(1, dtype=np.int64), 1)


_WORKER: tuple[object, Callable[[object, np.ndarray], MetricCube]] | None = None


def _init_worker(plan: object, batch: Callable[[object, np.ndarray], MetricCube]) -> None:
    global _WORKER  # the plan and batch function each forked worker reuses for every batch it runs
    _WORKER = (plan, batch)


def _run_in_worker(replications: np.ndarray) -> MetricCube:
    assert _WORKER is not None
    plan, batch = _WORKER
    return batch(plan, replications)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def run_plan(plan: RunPlan, jobs: int | None = None, batch_size: int | None = None,
             progress: Callable[[int], None] | None = None) -> MetricCube:
    """Simulate every replication of a plan and return the joined cube (for runs that fit in memory).

    Args:
        plan: from :func:`plan_run`.
        jobs: worker processes (default: all cores); 1 runs in this process.
        batch_size: replications per batch (default: :func:`default_batch_size`).
        progress: called with the number of replications just finished.
    """
    jobs = jobs or default_jobs()
    return map_batches(plan, run_batch, plan_batches(plan, jobs, batch_size), jobs, progress)


def plan_batches(plan: RunPlan, jobs: int, batch_size: int | None = None,
                 skip: np.ndarray | None = None) -> list[np.ndarray]:
    """The batches of a run: every replication not in ``skip``, in contiguous ranges."""
    size = batch_size or plan.scenario.batch_size or default_batch_size(len(plan.replications), jobs)
    return batches(plan.replications if skip is None else np.setdiff1d(plan.replications, skip), size)


def map_batches(plan: object, batch: Callable[[object, np.ndarray], MetricCube], work: list[np.ndarray], jobs: int,
                progress: Callable[[int], None] | None = None) -> MetricCube:
    """All of :func:`iter_batches` joined into one cube by replication index."""
    cubes = []
    for reps, cube in iter_batches(plan, batch, work, jobs):
        cubes.append(cube)
        if progress:
            progress(len(reps))
    return MetricCube.concat(cubes)


def iter_batches(plan: object, batch: Callable[[object, np.ndarray], R], work: list[np.ndarray], jobs: int,
                 executor: str = "local", address: str | None = None) -> Iterator[tuple[np.ndarray, R]]:
    """Run ``batch(plan, replications)`` for every batch in ``work``; yield each result as it finishes.

    The one executor of every kind of run (flow model, patient-level DES).
    ``executor``: ``local`` (this process when ``jobs`` is 1, else a fork
    pool of ``jobs`` workers) or ``dask`` (a LocalCluster, or the cluster at
    ``address``). Batches finish in any order; callers place results by
    replication index, so results never depend on the executor. Ctrl-C ends
    local workers at once.
    """
    if not work:  # a resumed run whose batches were all stored before it stopped
        return
    if executor == "dask":
        from sim.dask_executor import dask_map

        yield from dask_map(plan, batch, work, address, workers=jobs)
        return
    warm_up()
    if jobs == 1 or len(work) == 1:
        for reps in work:
            yield reps, batch(plan, reps)
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=context,
                             initializer=_init_worker, initargs=(plan, batch)) as pool:
        pending = {pool.submit(_run_in_worker, reps): reps for reps in work}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    reps = pending.pop(fut)
                    yield reps, fut.result()
        except BaseException:
            _stop_now(pool)
            raise


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """Drop queued batches and end running workers: Ctrl-C must not wait for batches in flight."""
    # The executor has no public way to stop a running task; its worker processes are ours to end.
    # Take them before shutdown(), which forgets them.
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in workers:
        process.terminate()
