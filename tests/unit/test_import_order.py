"""Layers import only from layers before them (DESIGN.md section 2, STYLE.md rule 1)."""

import ast
from pathlib import Path

import sim

# Tier of every module (package path prefix -> tier). A module may import from its
# own tier or an earlier one, never a later one.
TIERS = [
    ("sim.errors", 0), ("sim.schema_walk", 0), ("sim.yamlio", 0), ("sim.extends", 0), ("sim.csvcheck", 0),
    ("sim.distributions", 0), ("sim.schema_types", 0), ("sim.config_services", 0),
    ("sim.config_reforms", 0), ("sim.config_finance", 0), ("sim.config_aft", 0), ("sim.config", 0), ("sim.rng", 0), ("sim.calendar", 0),
    ("sim.des_config", 0), ("sim.des_run", 9),
    ("sim.reference", 1), ("sim.start_state", 1), ("sim.trust_start", 1), ("sim.world", 1), ("sim.data", 1),
    ("sim.diagnostics_start", 1), ("sim.service_data", 1),
    ("sim.engine", 2), ("sim.metrics", 2),
    ("sim.agents", 3),
    ("sim.scenarios", 4),
    ("sim.services", 5), ("sim.model", 5),
    ("sim.calibration", 6), ("sim.diagnostics_calibration", 6), ("sim.cancer_variation", 6), ("sim.service_plan", 6), ("sim.finance_plan", 6), ("sim.runner", 6), ("sim.dask_executor", 6),
    ("sim.results", 7), ("sim.run_folder", 7), ("sim.cube_store", 7),
    ("sim.compare", 8), ("sim.compare_report", 8), ("sim.plotting", 8), ("sim.report", 8), ("sim.drivers", 8), ("sim.backtest", 8), ("sim.data_check", 8),
    ("sim.pipeline", 9), ("sim.backtest_run", 9), ("sim.sweep", 9), ("sim.bench", 9), ("sim.bench_tools", 9),
    ("sim.cli", 10),
]


def tier(module: str) -> int:
    best = None
    for prefix, level in TIERS:
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, level)
    if best is None:
        raise AssertionError(f"module {module} has no tier in test_import_order.TIERS: add it")
    return best[1]


def _modules():
    root = Path(sim.__file__).parent
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        yield name, path


def test_every_module_has_a_tier_and_imports_only_earlier_tiers():
    problems = []
    for name, path in _modules():
        if name == "sim":
            continue
        own = tier(name)
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if not target.startswith("sim.") or target == "sim":
                    continue
                try:
                    t = tier(target)
                except AssertionError:
                    continue  # "from sim.x import name": the name is not a module
                if t > own:
                    problems.append(f"{name} (tier {own}) imports {target} (tier {t})")
    assert problems == []
