"""Benchmark history tools: the comparison calls a change only beyond the noise, CI's check, the plot."""

import json

import numpy as np
from click.testing import CliRunner

from sim.bench_tools import BOOTSTRAP_SEED, check_against, compare, plot_history, ratio_of_medians, verdict
from sim.cli import main


def timings(rng, centre, n=7, spread=0.03):
    return centre * (1.0 + rng.uniform(-spread, spread, n))


def test_a_2x_slowdown_is_called_and_identical_samples_are_not():
    rng = np.random.default_rng(1)
    a = timings(rng, 10.0)
    rows = compare({"national": a, "kernel": a}, {"national": timings(rng, 20.0), "kernel": a.copy()})
    by_case = {r["case"]: r for r in rows}
    assert by_case["national"]["verdict"] == "slower"
    assert 1.8 < by_case["national"]["low"] <= by_case["national"]["ratio"] <= by_case["national"]["high"] < 2.2
    assert by_case["kernel"]["verdict"] == "no change" and by_case["kernel"]["ratio"] == 1.0


def test_noise_wider_than_the_band_is_no_change_even_when_the_medians_differ():
    rng = np.random.default_rng(2)
    a, b = timings(rng, 10.0, n=3, spread=0.3), timings(rng, 10.8, n=3, spread=0.3)
    ratio, low, high = ratio_of_medians(a, b, np.random.default_rng(BOOTSTRAP_SEED))
    assert low < 1.05 and verdict(low, high) != "slower"
    assert verdict(0.80, 0.90) == "faster" and verdict(0.90, 1.10) == "no change" and verdict(1.06, 1.2) == "slower"


def record(case, seconds, ok=True):
    return {"case": case, "seconds": seconds, "check": {"ok": ok}}


def test_ci_check_fails_on_2x_or_a_broken_check_and_judges_the_fastest_run():
    reference = {"national": {"seconds": 1.0}}
    assert check_against([record("national", 1.9)], reference) == []
    assert "more than 2x" in check_against([record("national", 2.1)], reference)[0]
    assert check_against([record("national", 5.0), record("national", 1.5)], reference) == []  # one noisy run
    assert "correctness check failed" in check_against([record("national", 0.5, ok=False)], reference)[0]
    assert check_against([record("new_case", 99.0)], reference) == []  # no reference yet: time only


def test_compare_two_result_files_from_the_command_line(tmp_path):
    rng = np.random.default_rng(3)
    files = []
    for name, centre in (("a", 10.0), ("b", 5.0)):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps({"case": "national", "seconds": float(s), "quick": False}) + "\n"
                                for s in timings(rng, centre)))
        files.append(path)
    result = CliRunner().invoke(main, ["bench", "compare", str(files[0]), str(files[1])])
    assert result.exit_code == 0, result.output
    assert "national" in result.output and "faster" in result.output
    missing = CliRunner().invoke(main, ["bench", "compare", str(files[0]), "HEAD"])
    assert missing.exit_code == 2 and "not one of each" in missing.output
    typo = CliRunner().invoke(main, ["bench", "compare", "HEAD~1", "HEAD", "--case", "kernel"])
    assert typo.exit_code == 2 and "'kernel' is not a benchmark case" in typo.output
    assert "Did you mean 'flow_kernel'?" in typo.output


def test_plot_writes_png_and_svg(tmp_path):
    records = [{"case": "national", "seconds": s, "git_commit": c, "timestamp": t}
               for s, c, t in ((3.0, "aaaa", "2026-01-01"), (2.5, "aaaa", "2026-01-01"), (2.0, "bbbb", "2026-02-01"))]
    paths = plot_history(records, tmp_path)
    assert [p.suffix for p in paths] == [".png", ".svg"] and all(p.stat().st_size > 1000 for p in paths)


def test_the_committed_reference_names_every_quick_case():
    from pathlib import Path

    from sim.bench import CASES, ON_REQUEST

    reference = json.loads((Path(__file__).resolve().parents[2] / "benchmarks" / "reference.json").read_text())
    assert set(reference["cases"]) == set(CASES) - set(ON_REQUEST)
    assert all(case["seconds"] > 0 and case["ok"] for case in reference["cases"].values())
