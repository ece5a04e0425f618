"""The production numba kernels against their plain numpy references, on every metric of a real run.

Unit tests compare each kernel with its reference on random states; this
runs the shipped baseline (RTT, diagnostics, cancer and the agents) once with
the numba kernels and once with every kernel swapped for its numpy
reference, and checks every cell of the results cube.
"""

from pathlib import Path

import numpy as np
import pytest

from sim.config import load_scenario
from sim.engine import cancer, diagnostics, flow
from sim.runner import plan_run, run_batch

BASELINE = Path(__file__).resolve().parents[2] / "configs" / "baseline.yaml"


@pytest.fixture(scope="module")
def plan():
    scenario, doc = load_scenario(BASELINE, {"replications": 2, "end": "2025-10"})
    return plan_run(scenario, doc)


def test_numba_and_numpy_kernels_agree_on_every_metric(plan, monkeypatch):
    reps = np.arange(3)
    fast = run_batch(plan, reps)
    for module in (flow, diagnostics, cancer):
        monkeypatch.setattr(module, "advance", module.advance_numpy)
    reference = run_batch(plan, reps)
    assert fast.metrics == reference.metrics and fast.series == reference.series
    finite = np.isfinite(reference.values)
    np.testing.assert_array_equal(np.isfinite(fast.values), finite)
    # float32 stocks summed in a different order: agreement to single precision, cell by cell.
    for m, name in enumerate(fast.metrics):
        ok = finite[:, :, m]
        np.testing.assert_allclose(fast.values[:, :, m][ok], reference.values[:, :, m][ok], rtol=1e-4, atol=1e-3,
                                   err_msg=name)
