"""Whole-model invariants under random scenarios (hypothesis), in a one-trust world (issue 7).

Every replication draws its parameters and shocks from streams named by the
parameter and the replication (common random numbers), so two scenarios that
differ in one lever differ only through that lever. Then, with every service
and agent switched on (diagnostics, cancer, funding flows, trust boards):

- more elective capacity never gives a longer national RTT waiting list, in any
  replication or month, and more demand never gives a shorter one;
- every count is finite and non-negative and every percentage lies in 0-100.

The world is one acute trust from a user trusts file (the smallest world a user
can run), planned once; each example swaps the scenario's lever and re-runs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from sim.config import load_scenario
from sim.metrics import MetricCube
from sim.runner import RunPlan, plan_run, run_batch

REPS = np.arange(3, dtype=np.int64)  # the point estimate and two random replications
ONE_TRUST = """org_code,treatment_function_code,waiting_list,within_18w,over_52w
RHQ,C_100,9800,5900,210
RHQ,C_110,14200,7600,520
RHQ,C_130,11900,8100,140
"""
# No shrinking: each example is two model runs, and a failure's lever and sizes already say enough.
EXAMPLES = settings(max_examples=6, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def plan(tmp_path_factory, baseline_yaml) -> RunPlan:
    folder = tmp_path_factory.mktemp("one_trust")
    (folder / "trusts.csv").write_text(ONE_TRUST)
    scenario_file = folder / "one_trust.yaml"
    scenario_file.write_text(f"extends: {baseline_yaml}\nname: one_trust\nworld:\n  trusts_csv: trusts.csv\n")
    scenario, doc = load_scenario(scenario_file, {"end": "2026-09", "replications": int(REPS[-1])})
    built = plan_run(scenario, doc)
    assert len(built.rows.geography.trust_codes) == 1
    assert built.services is not None and built.services.cancer_enabled and built.finance is not None
    return built


def _with(plan: RunPlan, section: str, **values: float) -> RunPlan:
    scenario = plan.scenario
    part = getattr(scenario, section).model_copy(update=values)
    return dataclasses.replace(plan, scenario=scenario.model_copy(update={section: part}))


def _national_list(cube: MetricCube) -> np.ndarray:
    """``[replication, census]`` national RTT waiting list."""
    return cube.take([cube.series_index("national", "ENG")], cube.metric_index("rtt_waiting_list"))[:, 0]


def _check_ranges(cube: MetricCube) -> None:
    for j, name in enumerate(cube.metrics):
        values = cube.values[:, :, j]
        seen = values[~np.isnan(values)]
        assert np.isfinite(seen).all(), name
        patients = name.startswith(("rtt_", "diag_", "cancer_")) and not name.endswith("_gbp_m")
        if name.endswith("_pct") and (patients or name.endswith("_in_balance_pct")):
            assert ((seen >= -1e-9) & (seen <= 100 + 1e-9)).all(), name
        elif patients:
            assert (seen >= -1e-6).all(), name


@EXAMPLES
@given(base=st.floats(-2.0, 4.0), extra=st.floats(0.25, 8.0), lever=st.sampled_from(["nonadmitted", "admitted",
                                                                                      "both"]))
def test_more_capacity_never_lengthens_the_waiting_list(plan, base, extra, lever):
    keys = {"nonadmitted": ["nonadmitted_growth_pct_per_year"], "admitted": ["admitted_growth_pct_per_year"],
            "both": ["nonadmitted_growth_pct_per_year", "admitted_growth_pct_per_year"]}[lever]
    low = run_batch(_with(plan, "capacity", **{k: base for k in keys}), REPS)
    high = run_batch(_with(plan, "capacity", **{k: base + extra for k in keys}), REPS)
    _check_ranges(low)
    _check_ranges(high)
    a, b = _national_list(low), _national_list(high)
    assert np.all(b <= a * (1 + 1e-6) + 1e-3), f"more capacity gave a longer list by up to {np.max(b - a):.1f}"
    assert np.any(b < a), "the lever changed nothing"


@EXAMPLES
@given(base=st.floats(-2.0, 4.0), extra=st.floats(0.25, 8.0))
def test_more_demand_never_shortens_the_waiting_list(plan, base, extra):
    low = run_batch(_with(plan, "demand", growth_pct_per_year=base), REPS)
    high = run_batch(_with(plan, "demand", growth_pct_per_year=base + extra), REPS)
    _check_ranges(high)
    a, b = _national_list(low), _national_list(high)
    assert np.all(b >= a * (1 - 1e-6) - 1e-3), f"more demand gave a shorter list by up to {np.max(a - b):.1f}"
    assert np.any(b > a), "the lever changed nothing"
