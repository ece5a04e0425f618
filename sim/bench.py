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
    weeks = 4
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


def _national_case(quick: bool) -> dict:
    """The shipped baseline scenario, end to end in memory (no files written)."""
    from sim.config import load_scenario
    from sim.runner import plan_run, run_plan

    reps, end = (10, "2026-03") if quick else (200, "2029-03")
    root = Path(__file__).resolve().parent.parent
    scenario, doc = load_scenario(root / "configs" / "baseline.yaml", {"replications": reps, "end": end})
    t0 = time.perf_counter()
    plan = plan_run(scenario, doc)
    t1 = time.perf_counter()
    cube = run_plan(plan, jobs=None)
    t2 = time.perf_counter()
    years = len(plan.months) / 12.0
    national = cube.values[:, cube.series_index("national", "ENG"), cube.metric_index("rtt_waiting_list")]
    ok = bool(np.isfinite(national).all() and (national > 0).all())
    return {"seconds": t2 - t0, "build_seconds": t1 - t0, "simulate_seconds": t2 - t1, "replications": reps + 1,
            "seconds_per_replication_year": (t2 - t1) / ((reps + 1) * years), "months": len(plan.months),
            "dimensions": {"rows": plan.rows.geography.n_rows, "trusts": len(plan.rows.geography.trust_codes),
                           "bins": int(plan.start_rows.shape[-1])},
            "check": {"national_list_finite_positive": ok, "ok": ok}}


CASES: dict[str, Callable[[bool], dict]] = {"flow_kernel": _kernel_case, "national": _national_case}


def _git_commit() -> str | None:
    from sim.pipeline import git_commit

    return git_commit()


def run_cases(quick: bool, cases: list[str] | None, repeats: int, results_dir: Path) -> list[str]:
    """Run the named cases (default: all) ``repeats`` times; return the JSON lines written."""
    names = cases or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        from sim.errors import InputError, did_you_mean

        raise InputError(key_path="--case", value=unknown[0], problem="is not a benchmark case",
                         allowed=", ".join(CASES), suggestion=did_you_mean(unknown[0], list(CASES)))
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
