"""Benchmark cases behind `sim bench`: time, check correctness, append JSON lines.

Each case returns its wall time and also checks a rule (patients conserved,
results finite) so that a fast wrong answer fails. Results are appended to
``benchmarks/results/results.jsonl`` with the commit, machine and load, so a
history of speed builds up over commits. Speed is measured here, never
asserted in timed tests.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Callable

import numpy as np

from sim.engine import flow


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024.0


def _kernel_case(quick: bool) -> dict:
    """One simulated week of the flow kernel on national-sized rows; checks conservation."""
    from sim.runner import warm_up

    warm_up()
    n_reps, n_rows, n_bins = (10 if quick else 100), 2807, 106
    rng = np.random.default_rng(1)
    stock = (rng.random((n_reps, n_rows, 2, n_bins)) * 20).astype(np.float32)
    acc = np.zeros((n_reps, n_rows, flow.N_ACC))
    before = stock.sum(dtype=np.float64)
    starts = np.full((n_reps, n_rows), 50.0)
    act = np.full((n_reps, n_rows), 40.0)
    t = time.perf_counter()
    weeks = 16 if quick else 4  # quick sizes are milliseconds a week: time enough weeks to rise above noise
    for _ in range(weeks):
        flow.advance(stock, acc, clock_starts=starts, nonadmitted_activity=act, admitted_activity=act * 0.3,
                     dta_share=np.full(n_reps, 0.2), other_rate=np.full(n_reps, 0.007),
                     validation_rate=np.zeros(n_reps), validation_min_bin=13, hazard=np.ones((n_reps, 2, n_bins)),
                     other_profile=np.ones(n_bins), age=True)
    seconds = (time.perf_counter() - t) / weeks
    after = stock.sum(dtype=np.float64)
    flows = acc[..., flow.ACC_CLOCK_STARTS].sum() - acc[..., flow.ACC_STOPS_NONADMITTED].sum() \
        - acc[..., flow.ACC_STOPS_ADMITTED].sum() - acc[..., flow.ACC_OTHER_REMOVALS].sum()
    error = abs(after - before - flows) / before
    return {"seconds": seconds, "unit": "seconds per week", "replications": n_reps,
            "dimensions": {"rows": n_rows, "stages": 2, "bins": n_bins},
            "check": {"conservation_relative_error": error, "ok": bool(error < 1e-5)}}


def _national_case(quick: bool, services: bool = True) -> dict:
    """The shipped baseline scenario, end to end in memory (no files written)."""
    from sim.config import load_scenario
    from sim.runner import plan_run, run_plan

    reps, end = (10, "2026-03") if quick else (200, "2029-03")
    root = Path(__file__).resolve().parent.parent
    overrides = {"replications": reps, "end": end}
    if not services:
        overrides.update(diagnostics={"enabled": False}, cancer={"enabled": False})
    scenario, doc = load_scenario(root / "configs" / "baseline.yaml", overrides)
    t0 = time.perf_counter()
    plan = plan_run(scenario, doc)
    t1 = time.perf_counter()
    cube = run_plan(plan, jobs=None)
    t2 = time.perf_counter()
    years = len(plan.months) / 12.0
    nat = cube.series_index("national", "ENG")
    lists = [m for m in ("rtt_waiting_list", "diag_waiting_list", "cancer_fds_patients") if m in cube.metrics]
    ok = all(bool(np.isfinite(cube.values[:, nat, cube.metric_index(m), 1:]).all()
                  and (cube.values[:, nat, cube.metric_index(m), 1:] > 0).all()) for m in lists)
    return {"seconds": t2 - t0, "build_seconds": t1 - t0, "simulate_seconds": t2 - t1, "replications": reps + 1,
            "seconds_per_replication_year": (t2 - t1) / ((reps + 1) * years), "months": len(plan.months),
            "dimensions": {"rows": plan.rows.geography.n_rows, "trusts": len(plan.rows.geography.trust_codes),
                           "bins": int(plan.start_rows.shape[-1])},
            "check": {"national_lists_finite_positive": ok, "metrics_checked": lists, "ok": ok}}


def _agents_case(quick: bool) -> dict:
    """The agent layer alone (allocations, trust years, AFT waves, census) for the medium term plan scenario."""
    import mesa

    from sim.agents.funding import FundingAgents
    from sim.config import load_scenario
    from sim.finance_plan import batch_finance
    from sim.runner import plan_run

    reps, end = (10, "2029-03") if quick else (200, "2035-03")
    root = Path(__file__).resolve().parent.parent
    scenario, doc = load_scenario(root / "configs" / "medium_term_plan.yaml",
                                  {"replications": reps, "end": end, "diagnostics": {"enabled": False},
                                   "cancer": {"enabled": False}})
    plan = plan_run(scenario, doc)
    g = plan.rows.geography
    t0 = time.perf_counter()
    batch = batch_finance(plan.finance, scenario, plan.months, np.arange(reps + 1), g.trust_codes)
    agents = FundingAgents.for_batch(mesa.Model(rng=np.random.default_rng(0)), batch, g, plan.months)
    within = np.full((reps + 1, len(batch.trust_codes)), 60.0)
    error = 0.0
    agents.start(0, lambda: within)
    for i in range(len(plan.months)):
        if i:
            agents.month(i, lambda: within)
        agents.census()
        y = agents.board.year
        error = max(error, float(np.abs(y.income + y.support - y.expenditure - y.surplus).max()),
                    float(np.abs(y.icb_running_costs + y.icb_trust_contracts + y.icb_iho_budgets + y.icb_other
                                 - y.icb_allocation).max()))
    seconds = time.perf_counter() - t0
    years = len(plan.months) / 12.0
    return {"seconds": seconds, "replications": reps + 1, "months": len(plan.months),
            "seconds_per_replication_year": seconds / ((reps + 1) * years),
            "dimensions": {"trusts": len(batch.trust_codes), "icbs": len(g.icb_codes)},
            "check": {"money_conserved_max_abs_gbp_m": error, "ok": bool(error < 1e-6)}}


def _bare_simpy_mmc(arrival_rate: float, service_rate: float, servers: int, n_patients: int,
                    rng: np.random.Generator) -> np.ndarray:
    """The textbook simpy M/M/c (a process per patient, a Resource request): the speed yardstick. Returns waits."""
    import simpy

    gaps = rng.exponential(1.0 / arrival_rate, n_patients)
    service = rng.exponential(1.0 / service_rate, n_patients)
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)
    waits = np.empty(n_patients)

    def patient(i):
        arrived = env.now
        with desk.request() as req:
            yield req
            waits[i] = env.now - arrived
            yield env.timeout(service[i])

    def source():
        for i in range(n_patients):
            yield env.timeout(gaps[i])
            env.process(patient(i))

    env.process(source())
    env.run()
    return waits


def _des_case(quick: bool) -> dict:
    """The DES's M/M/3 mode against a bare simpy M/M/3 (same rates and patients), and its session mode.

    Checks both mean waits in queue against Erlang C (lambda 0.2, mu 0.1, c 3:
    Wq = 4.444) after dropping the first 10% of patients as warm-up.
    """
    from sim.des_config import load_des_scenario
    from sim.des_run import plan_des, run_replication
    from sim.engine import mmc
    from sim.rng import stream

    lam, mu, c = 0.2, 0.1, 3
    n = 50_000 if quick else 200_000
    tolerance = 0.15 if quick else 0.08
    expected = mmc.erlang_c_wait(lam, mu, c)
    t0 = time.perf_counter()
    mmc = mmc.simulate_mmc(lam, mu, c, n, stream(1, 0, "des"))
    t1 = time.perf_counter()
    bare = _bare_simpy_mmc(lam, mu, c, n, stream(1, 1, "des"))
    t2 = time.perf_counter()
    warm = n // 10
    des_wq, bare_wq = float(mmc.wait_in_queue[warm:].mean()), float(bare[warm:].mean())
    des_rate, bare_rate = n / (t1 - t0), n / (t2 - t1)
    root = Path(__file__).resolve().parent.parent
    scenario, _ = load_des_scenario(root / "configs" / "des_trust.yaml", {"replications": 0})
    plan = plan_des(scenario)
    t3 = time.perf_counter()
    result = run_replication(plan, 0)
    t4 = time.perf_counter()
    patients = int(result.start_list.sum() + result.requests.sum())
    conserved = bool(np.array_equal(result.start_list.sum(axis=1) + result.requests.sum(axis=(1, 2)),
                                    result.tests.sum(axis=(1, 2)) + result.waiting_list[:, -1]))
    errors = {"des_mmc": abs(des_wq - expected) / expected, "bare_simpy_mmc": abs(bare_wq - expected) / expected}
    return {"seconds": t1 - t0, "unit": "seconds for the DES M/M/3 run", "patients": n,
            "patients_per_second": {"des_mmc": des_rate, "bare_simpy_mmc": bare_rate,
                                    "des_sessions_rr8_year": patients / (t4 - t3)},
            "ratio_des_mmc_to_bare_simpy": des_rate / bare_rate,
            "meets_0_6x_bare_simpy": bool(des_rate / bare_rate >= 0.6),
            "des_sessions": {"patients": patients, "seconds": t4 - t3},
            "check": {"erlang_c_wq": expected, "des_mmc_wq": des_wq, "bare_simpy_wq": bare_wq,
                      "relative_error": errors, "tolerance": tolerance, "sessions_conserve_patients": conserved,
                      "ok": bool(max(errors.values()) < tolerance and conserved)}}


def _national_run_case(quick: bool, reps: int) -> dict:
    """`sim run` of the baseline to March 2035 into a temporary folder: the product path, files included."""
    import tempfile

    import pandas as pd

    from sim.pipeline import execute_run
    from sim.results import verify_run

    root = Path(__file__).resolve().parent.parent
    reps, end = (4, "2026-03") if quick else (reps, "2035-03")
    with tempfile.TemporaryDirectory() as scratch:
        t0 = time.perf_counter()
        folder = execute_run(root / "configs" / "baseline.yaml", {"replications": reps, "end": end},
                             out_dir=Path(scratch) / "run", quiet=True)
        seconds = time.perf_counter() - t0
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        summary = pd.read_csv(folder / "summary.csv", usecols=["metric", "level", "breakdown", "point", "mean"])
        national = summary[(summary["level"] == "national") & (summary["breakdown"] == "all")
                           & (summary["metric"] == "rtt_waiting_list")]
        ok = bool(not verify_run(folder) and np.isfinite(national["point"]).all() and (national["point"] > 0).all())
    return {"seconds": seconds, "replications": reps + 1, "timings": manifest["timings"],
            "dimensions": manifest["dimensions"],
            "check": {"verify_run_clean": ok, "national_list_finite_positive": ok, "ok": ok}}


def _executor_case(quick: bool) -> dict:
    """Per-batch overhead of the executors: trivial batches through the process pool and a Dask LocalCluster."""
    from sim.runner import iter_batches

    n = 50 if quick else 400
    work = [np.array([i]) for i in range(n)]
    plan = {"payload": np.zeros(1_000_000)}  # an 8 MB plan, as a real one is tens of MB
    out: dict = {"batches": n, "per_batch_ms": {}, "startup_seconds": {}}
    returned_all = True
    executors = ["local"]
    try:
        import distributed  # noqa: F401

        executors.append("dask")
    except ImportError:
        pass
    t_all = time.perf_counter()
    for executor in executors:
        t0 = time.perf_counter()
        first, seen = None, []
        for reps, value in iter_batches(plan, _first_replication, work, 2, executor):
            first = first or time.perf_counter() - t0
            seen.append(value)
        total = time.perf_counter() - t0
        returned_all &= sorted(seen) == list(range(n))
        out["startup_seconds"][executor] = first
        out["per_batch_ms"][executor] = 1000.0 * (total - first) / (n - 1)
    return {"seconds": time.perf_counter() - t_all, **out,
            "check": {"every_batch_returned_once": returned_all, "ok": returned_all}}


def _first_replication(plan: object, reps: np.ndarray) -> int:
    return int(reps[0])


CASES: dict[str, Callable[[bool], dict]] = {
    "flow_kernel": _kernel_case,
    "national": _national_case,
    "national_rtt_only": lambda quick: _national_case(quick, services=False),
    "des": _des_case,
    "agents": _agents_case,
    "executor": _executor_case,
    "national_100": lambda quick: _national_run_case(quick, 100),
    "national_1000": lambda quick: _national_run_case(quick, 1000),
}
# Long cases run only when named (--case): a plain `sim bench` would take most of an hour.
ON_REQUEST = ("national_1000",)


def _git_commit() -> str | None:
    from sim.pipeline import git_commit

    return git_commit()


def check_case_names(names: list[str]) -> None:
    """Refuse an unknown case name with the names there are (InputError: exit 2)."""
    unknown = [n for n in names if n not in CASES]
    if unknown:
        from sim.errors import InputError, did_you_mean

        raise InputError(key_path="--case", value=unknown[0], problem="is not a benchmark case",
                         allowed=", ".join(CASES), suggestion=did_you_mean(unknown[0], list(CASES)))


def run_cases(quick: bool, cases: list[str] | None, repeats: int, results_dir: Path) -> list[str]:
    """Run the named cases (default: all) ``repeats`` times; return the JSON lines written."""
    names = cases or [name for name in CASES if name not in ON_REQUEST]
    check_case_names(names)
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    commit = _git_commit()
    for name in names:
        for _ in range(repeats):
            load_before = os.getloadavg()
            result = CASES[name](quick)
            record = {"case": name, "quick": quick, **result, "peak_rss_mb": round(_peak_rss_mb(), 1),
                      "git_commit": commit, "machine": {"node": platform.node(), "cpus": os.cpu_count(),
                                                        "processor": platform.processor() or platform.machine(),
                                                        "python": platform.python_version()},
                      "load_average_before": load_before, "load_average_after": os.getloadavg(),
                      "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
            line = json.dumps(record, sort_keys=True)
            with open(results_dir / "results.jsonl", "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
            lines.append(line)
    return lines
