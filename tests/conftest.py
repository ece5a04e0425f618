"""Shared fixtures: running the ``sim`` command in a subprocess, as a user would.

The CLI is run as ``python -m sim.cli`` with the interpreter running pytest, so
the tests exercise the installed package without depending on PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
BASELINE = REPO_ROOT / "configs" / "baseline.yaml"
EXAMPLE_TRUSTS = REPO_ROOT / "sim" / "data" / "example_trusts.csv"

#: The result files that must be byte-identical for the same scenario and seed (DESIGN.md section 4).
DETERMINISTIC_FILES = ("trajectories.parquet", "summary.csv", "targets.csv", "parameters.csv", "drivers.csv")

#: Seconds a single CLI call may take before the test fails (a hang must not stall CI).
CLI_TIMEOUT_SECONDS = 300


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "integration: runs the sim command end to end in subprocesses (seconds per test)")


def sim_command(*args: object) -> list[str]:
    """The argv that runs ``sim <args>`` with this interpreter."""
    return [sys.executable, "-m", "sim.cli", *(str(a) for a in args)]


def sim_env() -> dict[str, str]:
    """The environment for a CLI subprocess: no debug tracebacks, a headless plot backend."""
    env = {k: v for k, v in os.environ.items() if k != "SIM_DEBUG"}
    env["MPLBACKEND"] = "Agg"
    return env


def run_sim(*args: object, cwd: Path | None = None,
            timeout: float = CLI_TIMEOUT_SECONDS) -> subprocess.CompletedProcess[str]:
    """Runs ``sim <args>`` to completion and returns its exit code and output."""
    return subprocess.run(sim_command(*args), cwd=cwd or REPO_ROOT, env=sim_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def sim_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """``sim_cli("validate", path, cwd=...)`` runs the CLI in a subprocess (see :func:`run_sim`)."""
    return run_sim


@pytest.fixture(scope="session")
def sim_argv() -> Callable[..., list[str]]:
    """``sim_argv("run", path)`` gives the argv of a CLI call, for tests that start their own process."""
    return sim_command


@pytest.fixture(scope="session")
def sim_cli_env() -> dict[str, str]:
    """The environment :func:`run_sim` gives a CLI subprocess, for tests that start their own."""
    return sim_env()


@pytest.fixture(scope="session")
def baseline_yaml() -> Path:
    """Absolute path of the shipped baseline scenario."""
    return BASELINE


@pytest.fixture(scope="session")
def example_trusts_csv() -> Path:
    """Absolute path of the shipped example trusts file."""
    return EXAMPLE_TRUSTS


@pytest.fixture(scope="session")
def assert_same_results() -> Callable[[Path, Path], None]:
    """``assert_same_results(run_a, run_b)``: the deterministic result files of two run folders are byte-identical."""
    def check(a: Path, b: Path) -> None:
        for name in DETERMINISTIC_FILES:
            assert (Path(a) / name).read_bytes() == (Path(b) / name).read_bytes(), name
    return check
