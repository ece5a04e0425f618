"""`sim sweep`: one scenario run at every combination of a few settings, to read what a commitment needs.

Each combination (a *run* of the sweep) is the scenario with the varied keys
set, written as a small scenario file that ``extends`` the original, and run
with the same seed, so every run sees the same demand, shocks and other
draws (common random numbers): differences between runs are the settings'
alone. Every run is an ordinary run folder under ``runs/``; ``sweep.csv``
gathers their national commitments (median, 10-90% band, probability met),
and charts show them against the varied setting (one key: a line with its
band; two keys: a grid of probabilities).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from ruamel.yaml import YAML, YAMLError

import sim
from sim.config import load_scenario
from sim.drivers import at_last_deadline
from sim.errors import InputError
from sim.pipeline import execute_run, git_commit, platform_info, run_id_for
from sim.plotting import provenance_text, sweep_charts
from sim.report import LABELS, format_metric
from sim.run_folder import RunWriter

MAX_RUNS = 200  # a sweep is a handful of settings, not a search; more is a mistake worth stopping
SWEEP_COLUMNS = ("run",)  # then one column per varied key, then targets.csv's columns


@dataclass(frozen=True)
class Vary:
    """One ``--vary KEY=V1,V2,...``: a dotted scenario key and the values it takes."""

    key: str
    values: tuple[Any, ...]

    @staticmethod
    def parse(text: str) -> "Vary":
        """Parse ``KEY=V1,V2,...``; each value is read as YAML (a number, or a word such as ``region``).

        Raises:
            InputError: naming the option, the text and the expected form.
        """
        key, sep, rest = text.partition("=")
        key = key.strip()
        form = "KEY=V1,V2,... with a dotted scenario key, e.g. capacity.admitted_growth_pct_per_year=2,4,6"
        if not sep or not key or not rest.strip() or any(not part for part in key.split(".")):
            raise InputError(file="command line", key_path="--vary", value=text, problem="is not of the form KEY=V1,V2",
                             allowed=form)
        values = []
        for token in rest.split(","):
            try:
                value = YAML(typ="safe").load(token) if token.strip() else None
            except YAMLError:
                value = None
            if value is None or isinstance(value, (list, dict)):
                raise InputError(file="command line", key_path=f"--vary {key}", value=token.strip(),
                                 problem="is not a single value", allowed="comma-separated numbers or words")
            values.append(value)
        if len(set(map(repr, values))) != len(values):
            raise InputError(file="command line", key_path=f"--vary {key}", value=rest,
                             problem="repeats a value", allowed="each value once")
        return Vary(key, tuple(values))


def combinations(varies: Sequence[Vary]) -> list[dict[str, Any]]:
    """Every combination of the varied values, the first key varying slowest.

    Raises:
        InputError: a key given twice or inside another, or more than ``MAX_RUNS`` runs.
    """
    keys = [v.key for v in varies]
    for a, b in itertools.permutations(keys, 2):
        if a == b or b.startswith(a + "."):
            raise InputError(file="command line", key_path=f"--vary {b}", problem=f"overlaps --vary {a}",
                             allowed="each key once, none inside another")
    runs = [dict(zip(keys, values)) for values in itertools.product(*(v.values for v in varies))]
    if len(runs) > MAX_RUNS:
        raise InputError(file="command line", key_path="--vary", value=len(runs),
                         problem="runs is more than a sweep should make", allowed=f"at most {MAX_RUNS} combinations")
    return runs


def run_scenario_text(base_file: Path, name: str, settings: dict[str, Any]) -> str:
    """A scenario file that extends ``base_file`` and sets each dotted key of ``settings``."""
    doc: dict[str, Any] = {"name": name, "extends": str(Path(base_file).resolve())}
    for key, value in settings.items():
        node = doc
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    yaml = YAML()
    yaml.default_flow_style = False
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()


def _blame_vary(err: InputError, run_file: Path) -> InputError:
    """An error in a generated run file is the --vary option's: say so instead of naming the file."""
    if err.file is not None and Path(err.file).resolve() == run_file.resolve():
        return err.replace(file="command line", line=None, key_path=f"--vary {err.key_path}")
    return err


def execute_sweep(scenario_file: Path, varies: Sequence[Vary], overrides: dict, *, out_dir: Path | None = None,
                  jobs: int | None = None, overwrite: bool = False, quiet: bool = False) -> Path:
    """Run every combination of ``varies`` on ``scenario_file`` into one sweep folder; return the folder.

    Every run's scenario is checked against the schema before the first run starts.
    """
    base, _ = load_scenario(scenario_file, overrides)
    settings = combinations(varies)
    now = dt.datetime.now(dt.timezone.utc)
    sweep_id = run_id_for(repr((base.name, [(v.key, v.values) for v in varies], sorted(overrides.items()))), now)
    sweep_dir = out_dir or Path("outputs") / base.name / f"sweep-{sweep_id}"
    console = Console(stderr=True, quiet=quiet)
    t0 = time.perf_counter()
    names = [f"run{i + 1:03d}" for i in range(len(settings))]
    texts = [run_scenario_text(scenario_file, f"{base.name}-{name}", values) for name, values in zip(names, settings)]
    # Checked in a scratch folder first: a bad --vary must leave no sweep folder, not even an unfinished one.
    with tempfile.TemporaryDirectory() as scratch:
        for name, text in zip(names, texts):
            path = Path(scratch) / f"{name}.yaml"
            path.write_text(text, encoding="utf-8")
            try:
                load_scenario(path, overrides)
            except InputError as err:
                raise _blame_vary(err, path) from None
    with RunWriter(sweep_dir, overwrite=overwrite) as writer:
        files = []
        for name, text in zip(names, texts):
            writer.write_text(f"runs/{name}.yaml", text)
            files.append(writer.path_for(f"runs/{name}.yaml"))
        tables = []
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"),
                   TimeElapsedColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=False, disable=quiet) as progress:
            task = progress.add_task(f"sweep of {base.name}", total=len(files))
            for name, values, path in zip(names, settings, files):
                try:
                    run_dir = execute_run(path, overrides, out_dir=writer.path_for(f"runs/{name}"), jobs=jobs,
                                          quiet=True)
                except InputError as err:
                    raise _blame_vary(err, path) from None
                targets = pd.read_csv(run_dir / "targets.csv", dtype={"deadline": str, "area_code": str})
                national = targets[targets["level"] == "national"].drop(columns=["level", "area_code"])
                tables.append(national.assign(run=name, **values))
                progress.advance(task)
        keys = [v.key for v in varies]
        sweep = pd.concat(tables, ignore_index=True)
        sweep = sweep[[*SWEEP_COLUMNS, *keys, *[c for c in sweep.columns if c not in (*SWEEP_COLUMNS, *keys)]]]
        writer.write_csv("sweep.csv", sweep)
        provenance = provenance_text(f"{base.name} sweep", sweep_dir.name, base.replications, now.strftime("%Y-%m-%d"))
        sweep_charts(sweep, keys, writer.path_for("plots/sweep.png").parent, provenance)
        manifest = {
            "kind": "sweep", "sim_version": sim.__version__, "scenario": base.name,
            "scenario_file": str(scenario_file), "seed": base.seed, "replications": base.replications,
            "varied": {v.key: list(v.values) for v in varies},
            "runs": [{"run": name, **values} for name, values in zip(names, settings)],
            "git_commit": git_commit(), "created_utc": now.isoformat(timespec="seconds"),
            "timings": {"sweep_seconds": round(time.perf_counter() - t0, 3)}, "platform": platform_info(),
        }
        final = writer.finish(manifest)
    if not quiet:
        title = (f"{base.name}: sweep ({base.replications} replications a run, seed {base.seed}); median (chance met) "
                 "at each commitment's last deadline")
        console.print(sweep_table(sweep, keys, title))
    return final


def sweep_table(sweep: pd.DataFrame, keys: Sequence[str], title: str) -> Table:
    """A console table: one row per run, one column per metric at its last deadline: median (chance met)."""
    last = at_last_deadline(sweep)
    table = Table(title=title, title_justify="left")
    for key in keys:
        table.add_column(key.rsplit(".", 1)[-1], overflow="fold")
    commitments = list(dict.fromkeys(zip(last["metric"], last["deadline"])))
    for metric, deadline in commitments:
        table.add_column(f"{LABELS.get(metric, metric)} {deadline}", justify="right", overflow="fold")
    for run, rows in last.groupby("run", sort=True):
        by = {(r.metric, r.deadline): r for r in rows.itertuples()}
        cells = [str(rows.iloc[0][key]) for key in keys]
        for metric, deadline in commitments:
            r = by.get((metric, deadline))
            cells.append("-" if r is None else f"{format_metric(metric, r.p50)} ({100 * r.probability_met:.0f}%)")
        table.add_row(*cells)
    return table
