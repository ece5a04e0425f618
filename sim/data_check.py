"""``sim data check``: which data file a user has, whether it is well formed, and what a run can do with it.

Seven kinds, each told from a column only it has: the national RTT, diagnostics
and cancer series (:func:`sim.reference.read_observed`), the DM01 and CWT
provider files (:func:`sim.service_data.read_user_table`), a trusts file
(:func:`sim.world.read_trusts_file`) and monthly trust totals
(:func:`sim.world.read_trust_totals`). The check is the
same one a run makes when a scenario's ``world`` block names the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim import reference as ref
from sim.calendar import add_months, month_range
from sim.service_data import CANCER_TOTALS, SERVICE_TABLES, read_user_table

#: kind -> the column that says a file is of that kind.
FILE_KINDS = {**{kind: spec[2] for kind, spec in ref.OBSERVED_KINDS.items()},
              "dm01_provider": "test_id", "cwt_provider": "standard", "trusts": "treatment_function_code",
              "trust_totals": "incomplete_pathways"}
#: The :data:`~sim.service_data.SERVICE_TABLES` table each national kind fills (the others share their kind's name).
KIND_TABLE = {"diagnostics": "diagnostics_national", "cancer": "cancer_national"}
#: The ``world`` key a run names each kind of file with.
WORLD_KEYS = {"rtt": "national_rtt_csv", "trusts": "trusts_csv", "trust_totals": "trust_totals_csv",
              **{kind: SERVICE_TABLES[KIND_TABLE.get(kind, kind)][0]
                 for kind in ("diagnostics", "cancer", "dm01_provider", "cwt_provider")}}


def file_kind(path: str | Path) -> str:
    """The kind of a data file, from its header (the ``FILE_KINDS`` keys).

    Raises:
        ReferenceDataError: the header has none of the identifying columns.
    """
    header = set(ref.read_csv_file(path, [ref.Column("month", "month", required=False)], allow_extra=True).columns)
    for kind, marker in FILE_KINDS.items():
        if marker in header:
            return kind
    raise ref.ReferenceDataError(str(path), "is not a data file the model reads: its header has none of "
                                 + ", ".join(FILE_KINDS.values()), 1,
                                 allowed="the columns of a file in sim/data: rtt_national_monthly.csv, "
                                         "diagnostics_national_monthly.csv, cancer_national_monthly.csv, "
                                         "dm01_provider_test_monthly.csv.gz, cwt_provider_monthly.csv.gz, "
                                         "rtt_trust_totals_2025_03.csv, or a trusts file like example_trusts.csv "
                                         "(docs/DATA.md)")


def describe_file(path: str | Path, kind: str | None = None) -> list[str]:
    """Check a data file and describe it: kind, months, gaps, and what a run can do with it.

    Raises:
        ReferenceDataError: the file is malformed (the first problem, naming file, line and column).
    """
    kind = kind or file_kind(path)
    if kind in ref.OBSERVED_KINDS:
        lines = _describe_national(path, kind)
    elif kind == "trusts":
        lines = _describe_trusts(path)
    elif kind == "trust_totals":
        lines = _describe_trust_totals(path)
    else:
        lines = _describe_provider(path, kind)
    tools = {"rtt": "; sim calibrate and sim backtest with --observed", "trusts": "",
             "trust_totals": "; sim backtest with --observed (starts and scores each trust)"}.get(
        kind, "; sim backtest with --observed")
    return lines + [f"a scenario uses it with world: {{{WORLD_KEYS[kind]}: {Path(path).name}}} (path relative to "
                    f"the scenario file){tools}"]


def _months_lines(months: list[str]) -> list[str]:
    missing = sorted(set(month_range(months[0], months[-1])) - set(months))
    shown = ", ".join(missing[:12]) + (" ..." if len(missing) > 12 else "")
    return [f"months missing between the first and the last: {shown or 'none'}"]


def _describe_national(path: str | Path, kind: str) -> list[str]:
    if kind == "cancer":  # a run also needs the monthly totals: check as a run reads it
        df = read_user_table("cancer_national", Path(path)).set_index("month")
    else:
        df = ref.read_observed(path, kind)
    months = list(df.index)
    lines = [f"{kind} national series, {months[0]} to {months[-1]} ({len(months)} months; columns: "
             f"{', '.join(c for c in df.columns if c not in ('source', 'note'))})", *_months_lines(months)]
    for column in (*ref.OBSERVED_KINDS[kind][1][1:], *(CANCER_TOTALS if kind == "cancer" else ())):
        empty = [m for m, v in df[column].items() if np.isnan(v)]
        if empty:
            use = ("a run whose cancer calibration window includes one of them is refused" if column in CANCER_TOTALS
                   else "those months are not fitted or scored")
            lines.append(f"{column} is empty in {len(empty)} months ({empty[0]} to {empty[-1]}); {use}")
    for break_kind, month, text in ref.SERIES_BREAKS:
        if break_kind == kind and months[0] < month <= months[-1]:
            lines.append(f"spans a series break in {month}: {text}")
    return lines


def _describe_provider(path: str | Path, kind: str) -> list[str]:
    from sim.config_services import CancerConfig, DiagnosticsConfig
    from sim.diagnostics_start import MIN_WINDOW_MONTHS as DM01_MIN_MONTHS
    from sim.scenarios.cancer import MIN_WINDOW_MONTHS as CWT_MIN_MONTHS
    from sim.service_data import census_months

    df = read_user_table(kind, Path(path))
    months = sorted(set(df["month"]))
    last = df[df["month"] == months[-1]]
    what = SERVICE_TABLES[kind][2]
    if kind == "dm01_provider":
        window, least = DiagnosticsConfig.model_fields["rates_window_months"].default, DM01_MIN_MONTHS
        england = (f"England in {months[-1]}: {last['waiting_list'].sum():,.0f} waiting, "
                   f"{100 * last['over_6w'].sum() / last['waiting_list'].sum():.1f}% over 6 weeks, "
                   f"{last[['planned_tests', 'unscheduled_tests', 'waiting_list_tests']].sum().sum():,.0f} tests")
        extent = f"{df['provider_code'].nunique()} providers, {df['test_id'].nunique()} tests"
    else:
        window, least = CancerConfig.model_fields["rates_window_months"].default, CWT_MIN_MONTHS
        shares = [f"{standard} {100 * rows['within_standard'].sum() / rows['total'].sum():.1f}% of "
                  f"{rows['total'].sum():,.0f}" for standard, rows in last.groupby("standard") if rows["total"].sum() > 0]
        england = f"providers' totals in {months[-1]}: " + (", ".join(shares) or "none (every total is 0)")
        extent = f"{df['provider_code'].nunique()} providers, standards: {', '.join(sorted(set(df['standard'])))}"
    lines = [f"{what}, {months[0]} to {months[-1]} ({len(months)} months; {extent})", *_months_lines(months),
             england]
    usable = census_months(set(months), window, least)
    if usable:
        lines.append(f"can start a run from {add_months(usable[0], 1)} to {add_months(usable[-1], 1)} (its census "
                     f"month, the month before the start, needs {least} of the {window} months to it)")
    else:
        lines.append(f"cannot start a run: a census month needs {least} of the {window} months to it in the file")
    return lines



def _describe_trusts(path: str | Path) -> list[str]:
    from sim.world import load_world, read_trusts_file

    world = load_world()
    rows = read_trusts_file(path, world.trust_codes, world.specialty_codes)
    total = float(rows["waiting_list"].sum())
    england = float(ref.rtt_national().loc["2025-03", "waiting_list"])
    lines = [f"trusts file: {rows['org_code'].nunique()} trusts, {rows['treatment_function_code'].nunique()} "
             f"treatment functions, {total:,.0f} waiting ({100 * total / england:.1f}% of England's March 2025 list; "
             "a run then covers these trusts and starts from exactly these lists)"]
    for column, what in (("within_18w", "within 18 weeks"), ("over_52w", "over 52 weeks")):
        if column in rows:
            lines.append(f"{100 * rows[column].sum() / total:.1f}% {what} (each trust's own share sets its start)")
    return lines


def _describe_trust_totals(path: str | Path) -> list[str]:
    from sim.world import load_world, read_trust_totals

    world = load_world()
    df = read_trust_totals(path)
    months = sorted(set(df["month"]))
    last = df[df["month"] == months[-1]]
    rtt = set(world.rtt_trust_codes)
    lines = [f"trust totals, {months[0]} to {months[-1]} ({len(months)} months; {df['org_code'].nunique()} trusts)",
             *_months_lines(months),
             f"{months[-1]}: {last['incomplete_pathways'].sum():,.0f} waiting at {len(last)} trusts, "
             f"{100 * last['within_18w'].sum() / last['incomplete_pathways'].sum():.1f}% within 18 weeks"]
    outside = sorted(set(df["org_code"]) - rtt)
    ods = set(ref.ods_trusts()["org_code"])
    if outside:
        # A code ODS knows is a trust the model gives no RTT list; one it does not know may be a typo.
        lines.append(f"{len(outside)} codes are not among the world's {len(rtt)} RTT trusts and are left out "
                     "(community, mental health and other trusts get no RTT list; a code ODS does not know may be "
                     "a typo): " + ", ".join(c if c in ods else f"{c} (not an ODS trust code)"
                                             f"{ref.did_you_mean(c, tuple(sorted(rtt)))}"
                                             for c in outside[:12]) + (" ..." if len(outside) > 12 else ""))
    missing = sorted(rtt - set(last["org_code"]))
    if missing:
        lines.append(f"{len(missing)} of the world's {len(rtt)} RTT trusts are not in {months[-1]} (e.g. "
                     f"{', '.join(missing[:3])}): a run starting then places them by the activity proxy")
    for break_kind, month, text in ref.SERIES_BREAKS:
        if break_kind == "rtt" and months[0] < month <= months[-1]:
            lines.append(f"spans a series break in {month}: {text}")
    lines.append(f"a run can start in any month after one it holds ({add_months(months[0], 1)} to "
                 f"{add_months(months[-1], 1)}; trust_lists: published)")
    return lines


#: ``sim data export`` names -> the shipped file a user copies to start their own.
SHIPPED_FILES = {"rtt": "rtt_national_monthly.csv", "diagnostics": "diagnostics_national_monthly.csv",
                 "cancer": "cancer_national_monthly.csv", "dm01_provider": "dm01_provider_test_monthly.csv.gz",
                 "cwt_provider": "cwt_provider_monthly.csv.gz", "trust_totals": "rtt_trust_totals_2025_03.csv",
                 "trusts": "example_trusts.csv"}


def export_shipped(kind: str, out: Path, overwrite: bool = False) -> int:
    """Write the shipped file of ``kind`` as plain CSV to ``out`` (a user's starting point); returns its data rows.

    Raises:
        OutputError: ``out`` exists (without ``overwrite``) or cannot be written.
    """
    import gzip
    from importlib import resources

    from sim.errors import OutputError
    from sim.run_folder import atomic_write_bytes, check_output_file

    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputError(f"{out} exists; choose another file or add --overwrite.")
    check_output_file(out)
    name = SHIPPED_FILES[kind]
    data = resources.files(ref.DATA_PACKAGE).joinpath(name).read_bytes()
    text = gzip.decompress(data) if name.endswith(".gz") else data
    try:
        atomic_write_bytes(out, text)
    except OSError as err:
        raise OutputError(f"could not write {out}: {err.strerror or err}") from err
    return sum(1 for line in text.decode("utf-8-sig").splitlines()[1:] if line and not line.startswith("#"))
