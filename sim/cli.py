"""The `sim` command: parse, call, set the exit code. No modelling logic here.

Exit codes: 0 success; 1 a verification found problems or an internal error;
2 bad input (scenario, data or options); 3 the run's folder could not be written
(an unwritable location or a full disk); 130 interrupted.
"""

from __future__ import annotations

import _thread
import json
import os
import sys
from pathlib import Path

import click

from sim.errors import InputError, OutputError

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def _fail_input(err: InputError) -> None:
    click.echo(f"error: {err}", err=True)
    sys.exit(EXIT_INPUT)


def _interrupt_again(unraisable) -> None:
    """A Ctrl-C that lands in a finalizer (the garbage collector frees numba's LLVM objects at any moment)
    would be printed as 'Exception ignored ... Traceback' and lost: deliver it to the main code instead."""
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        _thread.interrupt_main()
        return
    sys.__unraisablehook__(unraisable)


class _Guard:
    """Turn known failures into clean messages and exit codes (tracebacks only with SIM_DEBUG=1)."""

    def __enter__(self):
        self._hook, sys.unraisablehook = sys.unraisablehook, _interrupt_again
        return self

    def __exit__(self, kind, exc, tb):
        sys.unraisablehook = self._hook
        if exc is None or isinstance(exc, (SystemExit, click.exceptions.Exit, click.ClickException, click.Abort)):
            return False
        if isinstance(exc, InputError):
            _fail_input(exc)
        if isinstance(exc, OutputError):
            click.echo(f"error: {exc}", err=True)
            sys.exit(OutputError.exit_code)
        if isinstance(exc, FileExistsError):
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_INPUT)
        if isinstance(exc, KeyboardInterrupt):
            click.echo("interrupted: no finished run was written", err=True)
            sys.exit(EXIT_INTERRUPTED)
        if os.environ.get("SIM_DEBUG"):
            return False
        click.echo(f"internal error: {type(exc).__name__}: {exc}\n(set SIM_DEBUG=1 for the traceback; "
                   "please report it with the scenario file)", err=True)
        sys.exit(1)


def _stack(*options):
    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command
    return apply


# Options every run command takes (`sim run`, `sim des`): one definition, the same meaning.
_run_options = _stack(
    click.option("--reps", type=click.IntRange(0, 100_000), help="Monte Carlo replications (overrides the file)."),
    click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Root seed (overrides the file)."),
    click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                 help="The run folder itself (default: outputs/<name>/<run_id>/)."),
    click.option("--jobs", type=click.IntRange(1, 256), help="Worker processes (default: all cores)."),
)
_output_options = _stack(
    click.option("--overwrite", is_flag=True, help="Replace an existing run folder (only once the new one is complete)."),
    click.option("--quiet", is_flag=True, help="No progress bar or table."),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nhs-reform-sim")
def main() -> None:
    """Simulate NHS England reform scenarios against the waiting-time commitments."""


@main.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@_run_options
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path), metavar="RUN",
              help="Finish an interrupted run (its folder, with or without .incomplete), reusing its stored batches.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), help="Replications per batch (default: automatic).")
@click.option("--start", help="First simulated month YYYY-MM (overrides the file).")
@click.option("--end", help="Last simulated month YYYY-MM (overrides the file).")
@click.option("--keep", multiple=True, type=click.Choice(["national", "region", "icb", "trust"]),
              help="Levels whose every replication goes to trajectories.parquet (repeatable).")
@click.option("--executor", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="Where batches run: this machine's processes, or Dask (docs/SCALING.md).")
@click.option("--address", metavar="tcp://HOST:PORT",
              help="A running Dask scheduler (with --executor dask; default: start a local cluster).")
@_output_options
def run(scenario_file, reps, seed, out_dir, jobs, resume_dir, batch_size, start, end, keep, executor, address,
        overwrite, quiet) -> None:
    """Run a scenario and write its results folder (or finish an interrupted one with --resume RUN)."""
    if address and executor != "dask":
        raise click.UsageError("--address needs --executor dask")
    if resume_dir is not None:
        fixed = {"SCENARIO_FILE": scenario_file, "--reps": reps, "--seed": seed, "--out": out_dir,
                 "--batch-size": batch_size, "--start": start, "--end": end, "--keep": keep or None,
                 "--overwrite": overwrite or None}
        given = [name for name, value in fixed.items() if value is not None]
        if given:
            raise click.UsageError(f"--resume finishes the run as it was started; drop {', '.join(given)}")
        with _Guard():
            from sim.pipeline import resume_run

            result = resume_run(resume_dir, jobs=jobs, quiet=quiet, executor=executor, address=address)
            if not quiet:
                click.echo(f"results: {result}")
        return
    if scenario_file is None:
        raise click.UsageError("give a SCENARIO_FILE to run, or --resume RUN to finish an interrupted run")
    with _Guard():
        from sim.config import load_scenario

        overrides = {"replications": reps, "seed": seed, "start": start, "end": end}
        load_scenario(scenario_file, overrides)  # a bad file fails here, before the heavy imports
        from sim.pipeline import execute_run

        result = execute_run(scenario_file, overrides, out_dir=out_dir, jobs=jobs, batch_size=batch_size,
                             keep=list(keep) or None, overwrite=overwrite, quiet=quiet, executor=executor,
                             address=address)
        if not quiet:
            click.echo(f"results: {result}")



@main.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vary", "varies", multiple=True, required=True, metavar="KEY=V1,V2,...",
              help="A scenario key and the values to run it at (repeatable: every combination is run).")
@_run_options
@click.option("--start", help="First simulated month YYYY-MM (overrides the file).")
@click.option("--end", help="Last simulated month YYYY-MM (overrides the file).")
@_output_options
def sweep(scenario_file, varies, reps, seed, out_dir, jobs, start, end, overwrite, quiet) -> None:
    """Run a scenario at every combination of a few settings (same seed) and chart each commitment against them."""
    with _Guard():
        from sim.config import load_scenario
        from sim.sweep import Vary

        overrides = {"replications": reps, "seed": seed, "start": start, "end": end}
        parsed = [Vary.parse(text) for text in varies]
        load_scenario(scenario_file, overrides)
        from sim.sweep import execute_sweep

        result = execute_sweep(scenario_file, parsed, overrides, out_dir=out_dir, jobs=jobs, overwrite=overwrite,
                               quiet=quiet)
        if not quiet:
            click.echo(f"results: {result}")

@main.command()
@click.argument("des_file", type=click.Path(dir_okay=False, path_type=Path))
@_run_options
@_output_options
def des(des_file, reps, seed, out_dir, jobs, overwrite, quiet) -> None:
    """Simulate a few trusts' diagnostic waiting lists patient by patient and write the results folder."""
    with _Guard():
        from sim.des_config import load_des_scenario

        overrides = {"replications": reps, "seed": seed}
        load_des_scenario(des_file, overrides)  # a bad file fails here, before the heavy imports
        from sim.des_run import execute_des

        result = execute_des(des_file, overrides, out_dir=out_dir, jobs=jobs, overwrite=overwrite, quiet=quiet)
        if not quiet:
            click.echo(f"results: {result}")


@main.command()
@click.argument("scenario_file", type=click.Path(dir_okay=False, path_type=Path))
def validate(scenario_file) -> None:
    """Check a scenario file (schema, dates against the data, calibration, trusts file)."""
    with _Guard():
        from sim.config import load_scenario

        scenario, doc = load_scenario(scenario_file)
        from sim.runner import plan_run  # heavy imports only once the file itself is valid

        plan = plan_run(scenario, doc)
        click.echo(f"{scenario_file}: OK ({scenario.name}: {scenario.start} to {scenario.end}, "
                   f"{scenario.replications} replications, {plan.rows.geography.n_rows} trust x specialty rows)")


@main.command()
def schema() -> None:
    """Print the scenario file's JSON schema (every key, its type, bounds and meaning)."""
    from sim.config import Scenario

    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@main.command()
@click.option("--cutoff", default="2025-03", show_default=True, help="Last observed month used (YYYY-MM).")
@click.option("--window", default=24, show_default=True, type=click.IntRange(12, 120), help="Months fitted.")
@click.option("--name", help="Calibration name (default: national_<cutoff>).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (default: configs/calibration/<name>.yaml).")
@click.option("--max-evaluations", default=500, show_default=True, type=click.IntRange(10, 100_000))
@click.option("--observed", "observed_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Observed national RTT series to fit (the columns of sim/data/rtt_national_monthly.csv; default: "
                   "the shipped series). Check it first with `sim data check`.")
def calibrate(cutoff, window, name, out_path, max_evaluations, observed_path) -> None:
    """Fit the flow engine to the national RTT series (shipped, or --observed) up to a cutoff.

    A scenario uses the file it writes with `calibration: <path>`."""
    with _Guard():
        from sim.pipeline import run_calibration

        name = name or f"national_{cutoff}"
        out_path = out_path or Path("configs") / "calibration" / f"{name}.yaml"
        calib = run_calibration(cutoff, window, name, out_path, max_evaluations, observed_path)
        click.echo(f"wrote {out_path} (fit {calib.fit_first_month}..{calib.fit_last_month}, priority from {calib.priority_fit_first_month}; RMSE: "
                   + ", ".join(f"{k} {v:.3g}" for k, v in calib.fit.items()) + ")")


@main.command()
@click.option("--cutoff", "cutoffs", required=True, multiple=True,
              help="Last observed month the calibration may see (YYYY-MM); repeat it for a rolling backtest.")
@click.option("--observed", "observed_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="An observed data file in place of the shipped one: the national RTT, diagnostics or cancer "
                   "series, the DM01 or CWT provider file, or monthly trust totals (each trust then starts at the "
                   "cutoff and is scored) (told from its header; repeatable, one of each kind). "
                   "Check it first with `sim data check`.")
@click.option("--horizon", default=12, show_default=True, type=click.IntRange(1, 120),
              help="Months forecast after the cutoff (fewer if the data end sooner).")
@click.option("--reps", default=100, show_default=True, type=click.IntRange(1, 100_000),
              help="Monte Carlo replications.")
@click.option("--seed", default=20250401, show_default=True, type=click.IntRange(0, 2**63 - 1), help="Root seed.")
@click.option("--window", default=24, show_default=True, type=click.IntRange(12, 120),
              help="Months before the cutoff the calibration fits.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="The backtest folder (default: outputs/backtest_<cutoff>/<UTC time>/).")
@click.option("--jobs", type=click.IntRange(1, 256), help="Worker processes (default: all cores).")
@click.option("--max-evaluations", default=500, show_default=True, type=click.IntRange(10, 100_000),
              help="Calibration: most evaluations of the priority fit.")
@_output_options
def backtest(cutoffs, observed_files, horizon, reps, seed, window, out_dir, jobs, max_evaluations, overwrite,
             quiet) -> None:
    """Calibrate on data up to a cutoff, forecast the months after it and score the forecast against what was
    observed, beside persistence (docs/VALIDATION.md). From cutoffs the DM01 and CWT provider data can start the
    services at (October 2024 on in the shipped files), diagnostics and cancer are run and scored too."""
    with _Guard():
        from sim.backtest_run import observed_by_kind, run_backtest

        files = observed_by_kind(observed_files)
        folder, _ = run_backtest(list(cutoffs), observed_path=files.pop("rtt", None),
                                 trust_totals=files.pop("trust_totals", None), service_files=files,
                                 horizon=horizon, replications=reps, seed=seed, window=window, out_dir=out_dir,
                                 jobs=jobs, quiet=quiet, overwrite=overwrite, max_evaluations=max_evaluations)
        if not quiet:
            click.echo(f"results: {folder}")


@main.group()
def data() -> None:
    """Observed data files you supply (the newest NHS England publication, or your own series)."""


@data.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["rtt", "diagnostics", "cancer", "dm01_provider", "cwt_provider", "trusts",
                                           "trust_totals"]),
              help="Which data the file holds (default: told from its header).")
def data_check(file, kind) -> None:
    """Check a data file you supply, its kind told from its header: a national RTT, diagnostics or cancer series, a
    DM01 or CWT provider file, a trusts file or monthly trust totals (each with the columns of its file in sim/data;
    `sim data export` writes them; docs/DATA.md)."""
    with _Guard():
        from sim.data_check import describe_file

        lines = describe_file(file, kind)
        click.echo(f"{file}: OK: " + lines[0])
        for line in lines[1:]:
            click.echo(f"  {line}")


@data.command("export")
@click.argument("kind", type=click.Choice(["rtt", "diagnostics", "cancer", "dm01_provider", "cwt_provider",
                                          "trust_totals", "trusts"]))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
def data_export(kind, out, overwrite) -> None:
    """Write a shipped data file as plain CSV to OUT, to add your months to (then `sim data check OUT`)."""
    with _Guard():
        from sim.data_check import SHIPPED_FILES, export_shipped

        rows = export_shipped(kind, out, overwrite)
        click.echo(f"wrote {out} ({rows:,} rows of sim/data/{SHIPPED_FILES[kind]})")


@main.command()
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def verify(run_dir) -> None:
    """Check a run folder's files against its manifest."""
    from sim.results import verify_run

    problems = verify_run(run_dir)
    for p in problems:
        click.echo(f"{run_dir}: {p}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{run_dir}: OK")


@main.command()
@click.argument("run_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for compare.csv, the charts and compare_manifest.json "
                   "(default: compare_<RUN_A folder>_vs_<RUN_B folder>/ beside RUN_B).")
@click.option("--metric", "metrics", multiple=True,
              help="Compare only this metric (repeatable; default: every metric both runs hold).")
@click.option("--level", "levels", multiple=True, type=click.Choice(["national", "region", "icb", "trust"]),
              help="Compare only this level (repeatable; default: every level both trajectories hold).")
@click.option("--quiet", is_flag=True, help="No table.")
def compare(run_a, run_b, out_dir, metrics, levels, quiet) -> None:
    """Paired differences B - A between two runs made with the same seed and replications."""
    with _Guard():
        from sim.compare_report import execute_compare

        result = execute_compare(run_a, run_b, out_dir=out_dir, metrics=list(metrics), levels=list(levels),
                                 quiet=quiet)
        if not quiet:
            click.echo(f"comparison: {result}")


@main.group(invoke_without_command=True)
@click.option("--quick", is_flag=True, help="Small sizes (seconds), as CI runs them.")
@click.option("--case", "cases", multiple=True, help="Run only these cases (repeatable).")
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1, 100))
@click.option("--results", "results_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("benchmarks") / "results", show_default=True)
@click.option("--check", "reference", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Compare with this reference (benchmarks/reference.json) instead of recording: exit 1 on a "
                   "failed correctness check or a case more than 2x slower.")
@click.pass_context
def bench(ctx, quick, cases, repeats, results_dir, reference) -> None:
    """Time the benchmark cases and append JSON lines to benchmarks/results/ (or: bench compare, bench plot)."""
    if ctx.invoked_subcommand is not None:
        return
    with _Guard():
        from sim.bench import run_cases

        if reference is None:
            for line in run_cases(quick=quick, cases=list(cases) or None, repeats=repeats, results_dir=results_dir):
                click.echo(line)
            return
        import json
        import tempfile

        from sim.bench_tools import check_against

        expected = json.loads(reference.read_text(encoding="utf-8"))["cases"]
        with tempfile.TemporaryDirectory() as scratch:  # a check records nothing
            lines = run_cases(quick=quick, cases=list(cases) or sorted(expected), repeats=repeats,
                              results_dir=Path(scratch))
            problems = check_against([json.loads(line) for line in lines], expected)
            slow = sorted({p.split(":")[0] for p in problems if "more than" in p})
            if slow:  # a busy moment slows every run of a short case; a real slowdown survives a second look
                click.echo(f"bench check: {', '.join(slow)} slow; timing again", err=True)
                lines += run_cases(quick=quick, cases=slow, repeats=repeats, results_dir=Path(scratch))
                problems = check_against([json.loads(line) for line in lines], expected)
        for problem in problems:
            click.echo(f"bench check failed: {problem}", err=True)
        if problems:
            sys.exit(1)
        click.echo(f"bench check passed: {len(lines)} runs, each case within 2x of {reference} at its fastest")


@bench.command("compare")
@click.argument("a")
@click.argument("b")
@click.option("--case", "cases", multiple=True, help="Only these cases (repeatable).")
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(2, 100),
              help="Interleaved runs of each commit (when A and B are commits).")
@click.option("--quick", is_flag=True, help="Quick sizes (when A and B are commits).")
def bench_compare(a, b, cases, rounds, quick) -> None:
    """Ratio of median times B / A with a bootstrap 95% interval, per case.

    A and B are result files (JSON lines) or git commits; commits are checked
    out in temporary worktrees and run here, interleaved.
    """
    with _Guard():
        from rich.console import Console
        from rich.table import Table

        from sim.bench_tools import compare, read_results, seconds_by_case, time_commits

        if Path(a).is_file() and Path(b).is_file():
            sa, sb = (seconds_by_case(read_results(Path(x), cases)) for x in (a, b))
        elif Path(a).exists() or Path(b).exists():
            raise click.UsageError("give two result files or two commits, not one of each")
        else:
            if not cases:
                raise click.UsageError("comparing commits runs them: name the cases with --case")
            from sim.bench import check_case_names

            check_case_names(list(cases))  # before two worktrees are made and timed
            sa, sb = time_commits(a, b, cases, rounds, quick, Path.cwd())
        rows = compare(sa, sb)
        if not rows:
            raise click.UsageError("no case was timed in both A and B")
        table = Table(title=f"B / A: {b} against {a} (change called only outside +/-5%)", title_justify="left")
        for col in ("case", "runs A", "runs B", "median A s", "median B s", "B / A", "95% interval", "verdict"):
            table.add_column(col, justify="left" if col in ("case", "verdict") else "right")
        for r in rows:
            table.add_row(r["case"], str(r["runs_a"]), str(r["runs_b"]), f"{r['median_a']:.3g}",
                          f"{r['median_b']:.3g}", f"{r['ratio']:.3f}", f"{r['low']:.3f} - {r['high']:.3f}",
                          r["verdict"])
        Console().print(table)


@bench.command("plot")
@click.option("--results", "results_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=Path("benchmarks") / "results" / "results.jsonl", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("benchmarks") / "plots", show_default=True)
@click.option("--case", "cases", multiple=True, help="Only these cases (repeatable).")
def bench_plot(results_file, out_dir, cases) -> None:
    """Draw each case's time over commits (PNG and SVG)."""
    with _Guard():
        from sim.bench_tools import plot_history, read_results

        records = read_results(results_file, cases)
        if not records:
            raise click.UsageError(f"no benchmark results in {results_file}")
        for path in plot_history(records, out_dir):
            click.echo(f"wrote {path}")


if __name__ == "__main__":  # pragma: no cover
    main()
