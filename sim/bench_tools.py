"""Reading benchmark history: compare two result sets or commits, plot each case over commits, check CI.

A comparison is the ratio of median seconds (B / A) with a bootstrap 95%
interval; a change is called only when the whole interval lies outside +/-5%
(the idea of mesa's benchmarks/compare_timings.py), because this 2-core
machine is shared and single timings vary by 10-30%. Comparing commits runs
them here, interleaved (A, B, A, B, ...), so drifting load falls on both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

NOISE = 0.05
SLOWDOWN_LIMIT = 2.0
BOOTSTRAP_SEED = 20251123


def read_results(path: Path, cases: Sequence[str] = ()) -> list[dict]:
    """The JSON lines of a results file (only ``cases`` if given)."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{number}: not a JSON line ({err.msg})") from None
        if not cases or record.get("case") in cases:
            records.append(record)
    return records


def seconds_by_case(records: list[dict]) -> dict[str, np.ndarray]:
    out: dict[str, list[float]] = defaultdict(list)
    for record in records:  # quick and full sizes are different cases
        out[record["case"] + (" (quick)" if record.get("quick") else "")].append(float(record["seconds"]))
    return {case: np.array(values) for case, values in out.items()}


def ratio_of_medians(a: np.ndarray, b: np.ndarray, rng: np.random.Generator,
                     resamples: int = 4000) -> tuple[float, float, float]:
    """Median(b) / median(a) and its bootstrap 95% interval (each sample resampled with replacement)."""
    ratio = float(np.median(b) / np.median(a))
    boot_a = np.median(rng.choice(a, size=(resamples, a.size)), axis=1)
    boot_b = np.median(rng.choice(b, size=(resamples, b.size)), axis=1)
    low, high = np.percentile(boot_b / boot_a, [2.5, 97.5])
    return ratio, float(low), float(high)


def verdict(low: float, high: float) -> str:
    """'slower' or 'faster' only when the whole interval is beyond the noise band."""
    if low > 1.0 + NOISE:
        return "slower"
    if high < 1.0 - NOISE:
        return "faster"
    return "no change"


def compare(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[dict]:
    """One row per case timed in both sets."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    rows = []
    for case in sorted(set(a) & set(b)):
        ratio, low, high = ratio_of_medians(a[case], b[case], rng)
        rows.append({"case": case, "runs_a": a[case].size, "runs_b": b[case].size,
                     "median_a": float(np.median(a[case])), "median_b": float(np.median(b[case])),
                     "ratio": ratio, "low": low, "high": high, "verdict": verdict(low, high)})
    return rows


def time_commits(ref_a: str, ref_b: str, cases: Sequence[str], rounds: int, quick: bool,
                 repo: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Check out both commits in temporary worktrees and time them interleaved, ``rounds`` times each."""
    work = Path(tempfile.mkdtemp(prefix="sim-bench-"))
    trees = {ref: work / name for ref, name in ((ref_a, "a"), (ref_b, "b"))}
    try:
        for ref, tree in trees.items():
            subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), ref], check=True,
                           capture_output=True, text=True)
        results: dict[str, list[dict]] = {ref_a: [], ref_b: []}
        for _ in range(rounds):
            for ref, tree in trees.items():
                out = tree / "bench-out"
                command = [sys.executable, "-m", "sim.cli", "bench", "--repeats", "1", "--results", str(out),
                           *(["--quick"] if quick else []), *(arg for case in cases for arg in ("--case", case))]
                env = {**os.environ, "PYTHONPATH": str(tree)}
                subprocess.run(command, cwd=tree, env=env, check=True, capture_output=True, text=True)
                results[ref] = read_results(out / "results.jsonl")
        return seconds_by_case(results[ref_a]), seconds_by_case(results[ref_b])
    finally:
        for tree in trees.values():
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
                           capture_output=True, check=False)
        subprocess.run(["git", "-C", str(repo), "worktree", "prune"], capture_output=True, check=False)
        shutil.rmtree(work, ignore_errors=True)


def check_against(records: list[dict], reference: dict[str, dict]) -> list[str]:
    """CI's rule: any broken correctness check, or a case whose fastest run is more than 2x the reference.

    The fastest of a case's runs is judged, so one run slowed by a busy machine does not fail CI
    while a real 2x slowdown, which slows every run, does.
    """
    problems = []
    fastest: dict[str, float] = {}
    for record in records:
        case = record["case"]
        if not record.get("check", {}).get("ok", False):
            problems.append(f"{case}: its correctness check failed: {json.dumps(record.get('check'))}")
        fastest[case] = min(fastest.get(case, np.inf), float(record["seconds"]))
    for case, seconds in sorted(fastest.items()):
        expected = reference.get(case)
        if expected is not None and seconds > SLOWDOWN_LIMIT * expected["seconds"]:
            problems.append(f"{case}: {seconds:.3g} s is more than {SLOWDOWN_LIMIT:g}x the reference "
                            f"{expected['seconds']:.3g} s")
    return problems


def plot_history(records: list[dict], out_dir: Path) -> list[Path]:
    """One chart per case: median and range of seconds per commit, commits in time order (PNG and SVG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_case: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        by_case[(record["case"], bool(record.get("quick")))][str(record.get("git_commit") or "unknown")].append(record)
    cases = sorted(by_case)
    fig, axes = plt.subplots(len(cases), 1, figsize=(9, 2.6 * max(len(cases), 1)), squeeze=False)
    for ax, key in zip(axes[:, 0], cases):
        commits = sorted(by_case[key].items(), key=lambda item: min(r["timestamp"] for r in item[1]))
        seconds = [np.array([r["seconds"] for r in runs]) for _, runs in commits]
        x = np.arange(len(commits))
        med = np.array([np.median(s) for s in seconds])
        ax.vlines(x, [s.min() for s in seconds], [s.max() for s in seconds], color="0.6", linewidth=3)
        ax.plot(x, med, "o-", color="#005EB8")
        ax.set_xticks(x, [c[:8] for c, _ in commits], rotation=45, ha="right", fontsize=7)
        unit = commits[0][1][0].get("unit", "seconds")
        ax.set_title(f"{key[0]}{' (quick)' if key[1] else ''}: {unit}, median and range per commit", fontsize=9)
        ax.set_ylim(bottom=0)
    fig.tight_layout()
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "bench_history.png", out_dir / "bench_history.svg"]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths
