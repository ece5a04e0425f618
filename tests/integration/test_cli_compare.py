"""`sim compare` end to end: two real short runs with the same seed, paired by replication.

Three runs of six months (April to September 2025) with 2 replications plus
replication 0, started together (two cores): the baseline, the baseline with
10% more admitted (theatre) capacity from April 2025, fully in place by June,
and the baseline with another seed. More capacity must shorten the list in
every replication; a run compared with itself must differ by exactly zero; a
seed mismatch must be refused with exit code 2.
"""

from __future__ import annotations

import subprocess

import pandas as pd
import pytest

pytestmark = pytest.mark.integration

RUN_FLAGS = ("--jobs", "1", "--quiet")
SHORT = """extends: {baseline}
end: 2025-09
replications: 2
outputs: {{plots: false}}
"""
THEATRE = """extends: short.yaml
name: theatre
policies: {elective_reform: {theatre_sessions: {ramp: {start: 2025-04, full: 2025-06}, effect_pct: 10}}}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory, baseline_yaml, sim_argv, sim_cli_env):
    """Folders of the three runs: baseline, theatre (same seed) and baseline with seed 1."""
    root = tmp_path_factory.mktemp("compare")
    (root / "short.yaml").write_text(SHORT.format(baseline=baseline_yaml))
    (root / "theatre.yaml").write_text(THEATRE)
    jobs = {"baseline": ("short.yaml",), "theatre": ("theatre.yaml", "--keep", "trust"),
            "other_seed": ("short.yaml", "--seed", "1")}
    procs = {name: subprocess.Popen(sim_argv("run", root / args[0], *args[1:], *RUN_FLAGS, "--out", root / name),
                                    env=sim_cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, args in jobs.items()}
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {err}"
    return {name: root / name for name in jobs}


@pytest.fixture(scope="module")
def theatre_vs_baseline(runs, sim_cli):
    return sim_cli("compare", runs["baseline"], runs["theatre"])


def _national(frame: pd.DataFrame, metric: str, month: str) -> pd.DataFrame:
    return frame[(frame["metric"] == metric) & (frame["level"] == "national") & (frame["date"].str[:7] == month)]


def test_compare_exits_0_and_writes_the_folder(runs, theatre_vs_baseline, sim_cli):
    result = theatre_vs_baseline
    assert result.returncode == 0, result.stderr
    out = runs["theatre"].parent / "compare_baseline_vs_theatre"
    assert f"comparison: {out}" in result.stdout
    assert "rtt_waiting_list" in result.stdout and "P(B better)" in result.stdout
    assert (out / "compare.csv").is_file() and (out / "compare_manifest.json").is_file()
    assert (out / "diff_rtt_waiting_list_ENG.png").is_file() and (out / "diff_rtt_waiting_list_ENG.svg").is_file()
    # Both runs stay exactly as their manifests describe them.
    for name in ("baseline", "theatre"):
        assert sim_cli("verify", runs[name]).returncode == 0


def test_more_theatre_capacity_shortens_the_list_in_every_replication(runs, theatre_vs_baseline):
    assert theatre_vs_baseline.returncode == 0, theatre_vs_baseline.stderr
    frame = pd.read_csv(runs["theatre"].parent / "compare_baseline_vs_theatre" / "compare.csv",
                        dtype={"area_code": str, "date": str})
    row = _national(frame, "rtt_waiting_list", "2025-09").iloc[0]
    assert row["point"] < 0 and row["p95"] < 0 and row["probability_b_better"] == 1.0
    # The same check straight from the two trajectories, replication by replication (0 included).
    a, b = (_national(pd.read_parquet(runs[name] / "trajectories.parquet"), "rtt_waiting_list", "2025-09")
            .set_index("replication")["value"] for name in ("baseline", "theatre"))
    assert list(a.index) == [0, 1, 2]
    assert ((b - a) < 0).all()


def test_a_run_compared_with_itself_differs_by_zero(runs, sim_cli, tmp_path):
    result = sim_cli("compare", runs["baseline"], runs["baseline"], "--out", tmp_path / "self", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    frame = pd.read_csv(tmp_path / "self" / "compare.csv", dtype={"area_code": str, "date": str})
    stats = frame[["point", "mean", "p5", "p10", "p50", "p90", "p95"]]
    defined = frame["a_point"].notna()
    assert (stats[defined] == 0).all().all()
    assert stats[~defined].isna().all().all()  # the start month's flows are undefined in both runs


def test_a_seed_mismatch_exits_2(runs, sim_cli):
    result = sim_cli("compare", runs["baseline"], runs["other_seed"])
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "same seed" in lines[0] and "--seed 20250401" in lines[0]
    assert not (runs["other_seed"].parent / "compare_baseline_vs_other_seed").exists()


def test_keep_adds_a_level_and_trust_differences_are_paired(runs, theatre_vs_baseline):
    """--keep trust adds trusts to the file's levels (England stays), so trusts are compared where both have them."""
    levels = set(pd.read_parquet(runs["theatre"] / "trajectories.parquet", columns=["level"])["level"].astype(str))
    assert levels == {"national", "region", "icb", "trust"}
    frame = pd.read_csv(runs["theatre"].parent / "compare_baseline_vs_theatre" / "compare.csv",
                        dtype={"area_code": str, "date": str})
    assert "trust" not in set(frame["level"])  # the baseline kept no trust rows: only shared levels are paired
