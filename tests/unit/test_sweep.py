"""`sim sweep`: parsing --vary, the combinations, the run files and the charts."""

from __future__ import annotations

import pandas as pd
import pytest

from sim.config import load_scenario
from sim.errors import InputError
from sim.plotting import sweep_charts
from sim.sweep import MAX_RUNS, Vary, combinations, run_scenario_text


def test_vary_reads_numbers_and_words():
    assert Vary.parse("capacity.admitted_growth_pct_per_year=2,4.5,10") == Vary(
        "capacity.admitted_growth_pct_per_year", (2, 4.5, 10))
    assert Vary.parse("capacity.redeployment.within=icb, region").values == ("icb", "region")


@pytest.mark.parametrize("text, problem", [
    ("capacity.admitted_growth_pct_per_year", "is not of the form KEY=V1,V2"),
    ("=1,2", "is not of the form KEY=V1,V2"),
    ("capacity..x=1", "is not of the form KEY=V1,V2"),
    ("capacity.x=1,,2", "is not a single value"),
    ("capacity.x=[1, 2]", "is not a single value"),
    ("capacity.x=1,2,1", "repeats a value"),
])
def test_vary_refuses_what_is_not_key_equals_values(text, problem):
    with pytest.raises(InputError, match=problem) as err:
        Vary.parse(text)
    assert err.value.file == "command line" and "--vary" in str(err.value)


def test_combinations_vary_the_first_key_slowest_and_refuse_overlaps():
    runs = combinations([Vary("a.x", (1, 2)), Vary("b.y", ("p", "q", "r"))])
    assert runs[:4] == [{"a.x": 1, "b.y": "p"}, {"a.x": 1, "b.y": "q"}, {"a.x": 1, "b.y": "r"}, {"a.x": 2, "b.y": "p"}]
    with pytest.raises(InputError, match="overlaps --vary a"):
        combinations([Vary("a", (1,)), Vary("a.x", (1,))])
    with pytest.raises(InputError, match="at most"):
        combinations([Vary("a", tuple(range(MAX_RUNS))), Vary("b", (1, 2))])


def test_a_run_file_extends_the_scenario_and_sets_each_key(tmp_path, baseline_yaml):
    path = tmp_path / "run001.yaml"
    path.write_text(run_scenario_text(baseline_yaml, "baseline-run001",
                                      {"capacity.admitted_growth_pct_per_year": 7.5,
                                       "capacity.redeployment.within": "region"}), encoding="utf-8")
    scenario, _ = load_scenario(path)
    base, _ = load_scenario(baseline_yaml)
    assert scenario.name == "baseline-run001"
    assert scenario.capacity.admitted_growth_pct_per_year == 7.5
    assert scenario.capacity.redeployment.within == "region"
    # Everything else is the scenario's own: the sibling key of the same block is untouched.
    assert scenario.capacity.redeployment.spare_redeployed_pct == base.capacity.redeployment.spare_redeployed_pct
    assert scenario.capacity.nonadmitted_growth_pct_per_year == base.capacity.nonadmitted_growth_pct_per_year


def _sweep_frame(keys: dict[str, list]) -> pd.DataFrame:
    rows = []
    names = list(keys)
    import itertools
    for k, values in enumerate(itertools.product(*keys.values())):
        p50 = 60.0 + 2 * k
        rows.append({"run": f"run{k + 1:03d}", **dict(zip(names, values)), "metric": "rtt_within_18w_pct",
                     "deadline": "2029-03", "threshold": 92.0, "direction": ">=", "point": p50, "p10": p50 - 3,
                     "p50": p50, "p90": p50 + 3, "probability_met": min(1.0, k / 5)})
    return pd.DataFrame(rows)


def test_sweep_charts_draw_a_line_for_one_key_a_grid_for_two_and_nothing_for_three(tmp_path):
    one = sweep_charts(_sweep_frame({"capacity.x": [2, 6, 4]}), ["capacity.x"], tmp_path / "one", "footer")
    assert [p.name for p in one] == ["sweep_rtt_within_18w_pct_2029-03.png", "sweep_rtt_within_18w_pct_2029-03.svg"]
    grid = _sweep_frame({"capacity.x": [2, 4], "capacity.within": ["icb", "region", "england"]})
    two = sweep_charts(grid, ["capacity.x", "capacity.within"], tmp_path / "two", "footer")
    assert len(two) == 2 and all(p.stat().st_size > 0 for p in two)
    again = sweep_charts(grid, ["capacity.x", "capacity.within"], tmp_path / "again", "footer")
    assert [p.read_bytes() for p in two] == [p.read_bytes() for p in again]
    three = _sweep_frame({"a.x": [1], "b.y": [2], "c.z": [3]})
    assert sweep_charts(three, ["a.x", "b.y", "c.z"], tmp_path / "three", "footer") == []
