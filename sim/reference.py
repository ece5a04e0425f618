"""Typed readers for the reference data shipped in ``sim/data``.

Each reader returns a fresh pandas DataFrame whose columns have been checked
against a declared schema: required columns present, numbers numeric and
finite, counts non-negative, percentages within 0-100, months ``YYYY-MM``,
keys unique. A bad file raises :class:`ReferenceDataError` naming the file,
the line (1-based, as a text editor counts, header = line 1) and the column,
so an analyst can open the file and fix it.

Sources of every file: sim/data/SOURCES.md, the ``source`` column of the
curated tables, and docs/DATA.md.

The same parser (:mod:`sim.csvcheck`, whose public names are re-exported here)
reads user files (:func:`read_observed_rtt`, and the trusts file in
:mod:`sim.world`); those also accept a UTF-8 byte-order mark (Excel writes
one) and ``#`` comment lines.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from sim.csvcheck import (  # noqa: F401  re-exported: world.py and user code read CSVs through this module
    MONTH_PATTERN,
    Column,
    ReferenceDataError,
    check_rows,
    did_you_mean,
    parse_csv_text,
    read_csv_file,
    schema,
)

DATA_PACKAGE = "sim.data"
#: Suffixes of the files counted as shipped data (hashed into run manifests).
DATA_SUFFIXES = (".csv", ".csv.gz", ".md")


@lru_cache(maxsize=None)
def _shipped(name: str, columns: tuple[Column, ...], unique: tuple[str, ...]) -> pd.DataFrame:
    resource = resources.files(DATA_PACKAGE).joinpath(name)
    if not resource.is_file():
        raise ReferenceDataError(f"sim/data/{name}", "shipped data file not found (broken install?)")
    data = resource.read_bytes()
    text = (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8-sig")
    return parse_csv_text(text, f"sim/data/{name}", list(columns), unique=unique)


def _load(name: str, columns: list[Column], unique: tuple[str, ...] = ()) -> pd.DataFrame:
    # Cached parse, returned as a copy so no caller can alter another's table.
    return _shipped(name, tuple(columns), unique).copy()


# ----------------------------------------------------------------- RTT national
RTT_COLUMNS = schema("month:month! waiting_list:count pct_within_18w:pct over_52w:count over_65w:count "
                     "over_78w:count over_104w:count median_weeks:count p92_weeks:count clock_starts:count "
                     "completed_admitted:count completed_nonadmitted:count source:text note:text")


def _rtt_frame(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("month").set_index("month")


def rtt_national() -> pd.DataFrame:
    """NHS England consultant-led RTT, England, monthly 2007-04 to 2025-03.

    Returns:
        Indexed by month ``YYYY-MM`` (ascending). Float columns: waiting_list
        (incomplete pathways incl. estimates for missing trusts), pct_within_18w
        (0-100), over_52w/65w/78w/104w, median_weeks, p92_weeks, clock_starts,
        completed_admitted, completed_nonadmitted (pathways per month); text
        source, note. NaN where NHS England published nothing.
        Source: RTT Overview Timeseries incl. estimates (Dec25 edition); SOURCES.md.
    """
    return _rtt_frame(_load("rtt_national_monthly.csv", RTT_COLUMNS, ("month",)))


def read_observed_rtt(path: str | Path) -> pd.DataFrame:
    """A user's observed national RTT series (see :func:`read_observed`)."""
    return read_observed(path, "rtt")


#: The observed monthly series a user can supply, each with the columns of its shipped file:
#: kind -> (shipped file, required columns, the percentage column that says which kind a file is).
OBSERVED_KINDS = {
    "rtt": ("rtt_national_monthly.csv", ("month", "waiting_list", "pct_within_18w"), "pct_within_18w"),
    "diagnostics": ("diagnostics_national_monthly.csv", ("month", "waiting_list", "pct_over_6w"), "pct_over_6w"),
    "cancer": ("cancer_national_monthly.csv", ("month", "fds_pct", "pct_62day", "pct_31day"), "fds_pct"),
}


def _observed_columns(kind: str) -> list[Column]:
    return {"rtt": RTT_COLUMNS, "diagnostics": DIAGNOSTICS_COLUMNS, "cancer": CANCER_COLUMNS}[kind]


def read_observed(path: str | Path, kind: str) -> pd.DataFrame:
    """Read a user's observed national monthly series with the columns of the shipped file of its kind.

    The required columns (``OBSERVED_KINDS``) must be present and hold values
    (a cell may be empty where a month was not published, as in the shipped
    files); the other columns of the shipped file are optional. Unknown columns,
    non-numeric or negative values, percentages outside 0-100 or given as
    fractions (every value of a column 1 or less) and repeated months are
    errors.

    Args:
        path: CSV file (UTF-8, a BOM is fine; ``#`` lines are comments).
        kind: ``rtt``, ``diagnostics`` or ``cancer`` (:func:`observed_kind` tells from the header).

    Returns:
        Same layout as the shipped series, sorted and indexed by month.

    Raises:
        ReferenceDataError: naming the file, line and column.
    """
    required = set(OBSERVED_KINDS[kind][1])
    columns = [Column(c.name, c.kind, nullable=c.name != "month", required=c.name in required)
               for c in _observed_columns(kind)]
    df, lines = read_csv_file(path, columns, unique=("month",), allow_extra=False, with_lines=True)
    if df.empty:
        raise ReferenceDataError(str(path), "has no data rows")
    for column in sorted(required - {"month"}):
        values = df[column].to_numpy(dtype=float)
        if np.isnan(values).all():
            raise ReferenceDataError(str(path), "has no values (every cell is empty)", 1, column)
        if not column.endswith("pct") and not column.startswith("pct"):
            continue
        pct = values[~np.isnan(values)]
        # No national series has ever been below 1% (within 18 weeks, over 6 weeks, cancer standards): fractions.
        if np.nanmax(pct) <= 1.0:
            first = int(np.flatnonzero(~np.isnan(values))[0])
            raise ReferenceDataError(str(path), f"value {pct[0]:g} looks like a fraction: every {column} is 1 or "
                                     "less", int(lines[first]), column,
                                     allowed=f"a percentage from 0 to 100 (e.g. {100 * pct[0]:g}, not {pct[0]:g})")
    return _rtt_frame(df)


#: Known breaks in the published series: (kind, first month on the new basis, what changed).
SERIES_BREAKS = (
    ("rtt", "2024-02", "community services pathways were removed from RTT, so the list and clock starts step down"),
    ("cancer", "2023-10", "the 62-day and 31-day standards were redefined as combined standards (NHS England, "
                          "October 2023), so earlier months are on the old definitions"),
)


# ------------------------------------------------------------- other national
CANCER_COLUMNS = schema("month:month! fds_pct:pct pct_62day:pct pct_31day:pct fds_total:count c62_total:count "
                        "c31_total:count source:text note:text")
DIAGNOSTICS_COLUMNS = schema("month:month! waiting_list:count over_6w:count pct_over_6w:pct over_13w:count "
                             "tests_performed:count source:text note:text")


def cancer_national() -> pd.DataFrame:
    """Cancer waiting times, England, monthly 2021-04 to 2025-03.

    Returns:
        Columns month, fds_pct, pct_62day, pct_31day (0-100), fds_total,
        c62_total, c31_total (patients measured), source, note.
        Source: CWT National Time Series (provider based); SOURCES.md.
    """
    return _load("cancer_national_monthly.csv", CANCER_COLUMNS, ("month",))


def diagnostics_national() -> pd.DataFrame:
    """DM01 diagnostic waiting list (15 key tests), England, 2024-08 to 2025-03.

    Returns:
        Columns month, waiting_list, over_6w, over_13w, tests_performed
        (counts), pct_over_6w (0-100), source, note. Source: NHS England Monthly
        Diagnostics Web File - Provider, England 'Total' row; SOURCES.md.
    """
    return _load("diagnostics_national_monthly.csv", DIAGNOSTICS_COLUMNS, ("month",))


#: Weekly bands of the DM01 provider file (completed weeks waited at month end).
#: SOURCES.md mentions a ``w13plus`` band; the shipped file does not carry it
#: (over_13w holds that count), so it is optional.
DM01_WEEK_BANDS = tuple(f"w{i:02d}" for i in range(13))


DM01_PROVIDER_COLUMNS = schema(
    "month:month! region_code:code! provider_code:code! provider_name:text test_id:number test_name:text "
    "waiting_list:count over_6w:count over_13w:count " + " ".join(f"{band}:count" for band in DM01_WEEK_BANDS)
    + " planned_tests:count unscheduled_tests:count waiting_list_tests:count w13plus:count? source:text")
DM01_PROVIDER_KEYS = ("month", "provider_code", "test_id")


def dm01_provider() -> pd.DataFrame:
    """DM01 by provider and test, 2024-08 to 2025-03 (NHS trusts and others).

    Returns:
        Columns month, region_code, provider_code, provider_name, test_id,
        test_name; patients waiting at month end: waiting_list, over_6w,
        over_13w, w00..w12 by completed weeks; tests in the month:
        planned_tests, unscheduled_tests, waiting_list_tests; source.
        Source: Monthly Diagnostics Web File - Provider by Test; SOURCES.md.
    """
    return _load("dm01_provider_test_monthly.csv.gz", DM01_PROVIDER_COLUMNS, DM01_PROVIDER_KEYS)


CWT_STANDARDS = ("28-day FDS", "31-day Combined", "62-day Combined")


CWT_PROVIDER_COLUMNS = schema("month:month! provider_code:code! standard:code! total:count within_standard:count "
                              "breaches:count source:text")
CWT_PROVIDER_COLUMNS[2] = Column("standard", "code", nullable=False, allowed=CWT_STANDARDS)
CWT_PROVIDER_KEYS = ("month", "provider_code", "standard")


def cwt_provider() -> pd.DataFrame:
    """Cancer waiting times by provider and standard, 2024-04 to 2025-03.

    Returns:
        Columns month, provider_code, standard (one of CWT_STANDARDS), total,
        within_standard, breaches (patients), source. Source: CWT-CRS provider
        data extracts; SOURCES.md.
    """
    return _load("cwt_provider_monthly.csv.gz", CWT_PROVIDER_COLUMNS, CWT_PROVIDER_KEYS)


# ------------------------------------------------------------ organisations
def ods_trusts() -> pd.DataFrame:
    """NHS trusts from the ODS 'etr' file (July 2025 copy).

    Returns:
        Columns org_code, name, nhse_region_code (Y56-Y63; W00 = Wales),
        icb_code (host ICB), postcode (text), open_date, close_date (Int64
        YYYYMMDD, close_date <NA> if open), source. Source: SOURCES.md.
    """
    cols = schema("org_code:code! name:code! nhse_region_code:code! icb_code:code! postcode:text "
                  "open_date:yyyymmdd! close_date:yyyymmdd source:text")
    return _load("ods_trusts.csv", cols, ("org_code",))


def icbs() -> pd.DataFrame:
    """The 42 ICBs (2025 boundaries): icb_code, icb_name, region label, source, note.

    ``registered_population`` is empty in this file; use :func:`icb_population`.
    """
    cols = schema("icb_code:code! icb_name:code! region:code! registered_population:count source:text "
                  "note:text")
    return _load("icbs.csv", cols, ("icb_code",))


def _with_financial_year(df: pd.DataFrame, text_column: str, label: str) -> pd.DataFrame:
    years = df[text_column].str.extract(r"(20\d\d/\d\d)", expand=False)
    if years.isna().any():
        i = int(np.argmax(years.isna().to_numpy()))
        # Rows keep file order, so row i is on line i + 2 (header on line 1).
        raise ReferenceDataError(label, "names no financial year YYYY/YY", i + 2, text_column)
    df["financial_year"] = years.astype(str)
    return df


def icb_population() -> pd.DataFrame:
    """GP-registered population per ICB used in NHS England allocations.

    Returns:
        Columns icb_code, icb_name, population (people), date (description),
        n_practices, source, and financial_year (``2025/26`` etc., parsed from
        ``date``). England 2025/26 total 63,849,324. Source: NHS England ICB
        allocation tool data; SOURCES.md.
    """
    cols = schema("icb_code:code! icb_name:code! population:count! date:code! n_practices:count "
                  "source:text")
    df = _load("icb_population.csv", cols, ("icb_code", "date"))
    return _with_financial_year(df, "date", "sim/data/icb_population.csv")


def icb_weighted_populations() -> pd.DataFrame:
    """Need-weighted populations per ICB (core services and primary medical care).

    Returns:
        Columns icb_code, icb_name, financial_year, gp_population,
        core_weighted_pop, pmc_weighted_pop (people), *_target_share_pct
        (0-100), *_need_index (ratio), source. Source: SOURCES.md.
    """
    cols = schema("icb_code:code! icb_name:code! financial_year:code! gp_population:count "
                  "core_weighted_pop:count pmc_weighted_pop:count core_target_share_pct:pct "
                  "pmc_target_share_pct:pct core_need_index:count pmc_need_index:count source:text")
    return _load("icb_weighted_populations.csv", cols, ("icb_code", "financial_year"))


def icb_fair_shares() -> pd.DataFrame:
    """Distance of each ICB's 2025/26 allocation from fair share (April 2025 letter).

    Returns:
        Columns region, icb_name, dft_pct_incl_spec, dft_gbp_m_incl_spec,
        dft_pct_excl_spec, dft_gbp_m_excl_spec (negative = below target; NaN =
        within the +/-2.5% band), source. Source: SOURCES.md.
    """
    cols = schema("region:code! icb_name:code! dft_pct_incl_spec:number dft_gbp_m_incl_spec:number "
                  "dft_pct_excl_spec:number dft_gbp_m_excl_spec:number source:text")
    return _load("icb_fair_shares_2025.csv", cols, ("icb_name",))


# ------------------------------------------------------ targets, money, AFT
def targets() -> pd.DataFrame:
    """Performance thresholds: metric, deadline (YYYY-MM), threshold, direction, scope, source, note."""
    cols = schema("metric:code! deadline:month! threshold:number! direction:code! scope:code! "
                  "source:text note:text")
    cols[3] = Column("direction", "code", nullable=False, allowed=(">=", "<="))
    # targets.csv is the shared data as curated; targets_finance.csv adds the breakeven expectation.
    both = pd.concat([_load(name, cols, ("metric", "deadline", "scope"))
                      for name in ("targets.csv", "targets_finance.csv")], ignore_index=True)
    if both.duplicated(["metric", "deadline", "scope"]).any():
        raise ReferenceDataError("sim/data/targets_finance.csv", "repeats a target of targets.csv", None, "metric")
    return both


def funding() -> pd.DataFrame:
    """National funding items: financial_year, item, value_gbp_m (NaN if given only in note), source, note."""
    cols = schema("financial_year:code! item:code! value_gbp_m:number source:text note:text")
    return _load("funding.csv", cols, ("financial_year", "item"))


def aft_wave1() -> pd.DataFrame:
    """First-wave Advanced Foundation Trust candidates: trust_name, ods_code, region, source, note."""
    cols = schema("trust_name:code! ods_code:text region:text source:text note:text")
    return _load("aft_wave1.csv", cols, ("trust_name",))


# ------------------------------------------------- curated RTT tables (this repo)
def specialty_shares() -> pd.DataFrame:
    """National RTT waiting list by treatment function, NHS trusts, March 2025.

    Returns:
        23 rows: treatment_function_code (C_100 ... X06), treatment_function_name,
        incomplete_pathways, share_of_waiting_list (0-1, sums to 1),
        pct_within_18w (0-100), admitted_share (NaN: not found), month, source,
        note (``assumption`` where estimated). Source and decoding: docs/DATA.md.
    """
    cols = schema("treatment_function_code:code! treatment_function_name:code! incomplete_pathways:count! "
                  "share_of_waiting_list:share! pct_within_18w:pct admitted_share:share month:month! "
                  "source:text note:text")
    df = _load("rtt_specialty_shares.csv", cols, ("treatment_function_code",))
    total = float(df["share_of_waiting_list"].sum())
    if abs(total - 1.0) > 1e-6:
        raise ReferenceDataError("sim/data/rtt_specialty_shares.csv", f"shares sum to {total}, not 1",
                                 column="share_of_waiting_list")
    return df


def rtt_stage_split() -> pd.DataFrame:
    """Incomplete pathways with a decision to admit (DTA).

    Returns:
        Columns month, incomplete_total, incomplete_with_dta (pathways), source,
        note (``derived`` or ``assumption``; see docs/DATA.md).
    """
    cols = schema("month:month! incomplete_total:count! incomplete_with_dta:count! source:text note:text")
    return _load("rtt_stage_split.csv", cols, ("month",))


def sourced_stage_split() -> pd.DataFrame:
    """The rows of :func:`rtt_stage_split` with a published source (not those labelled assumptions)."""
    split = rtt_stage_split()
    return split[~split["note"].fillna("").str.startswith("assumption")]


def specialist_mix() -> pd.DataFrame:
    """Treatment-function mix of specialist-trust profiles (eye, orthopaedic, children, ...).

    Returns:
        Columns profile, treatment_function_code, share (0-1, sums to 1 per
        profile), pathways (March 2025 list behind the share), source, note.
    """
    cols = schema("profile:code! treatment_function_code:code! share:share! pathways:count! source:text "
                  "note:text")
    return _load("rtt_specialist_mix.csv", cols, ("profile", "treatment_function_code"))


def rtt_trust_totals() -> pd.DataFrame:
    """March 2025 RTT list per NHS trust (third-party aggregation of NHS England's provider file).

    Returns:
        Columns org_code, month, incomplete_pathways, within_18w, source, note.
        The default source of trust start lists and trust % within 18 weeks
        (scenario ``world.trust_lists``); also measures the activity proxy in
        :mod:`sim.world`. docs/DATA.md has its provenance and limits.
    """
    return _load("rtt_trust_totals_2025_03.csv", TRUST_TOTALS_COLUMNS, ("org_code",))


#: Columns of a trust totals file (the shipped March 2025 one, or a user's monthly series).
TRUST_TOTALS_COLUMNS = schema("org_code:code! month:month! incomplete_pathways:count! within_18w:count! "
                              "source:text note:text")


def trust_successors() -> pd.DataFrame:
    """Trusts merged away before April 2025: org_code, successor_code, effective_date, source, note."""
    cols = schema("org_code:code! successor_code:code! effective_date:yyyymmdd! source:text note:text")
    return _load("trust_successors.csv", cols, ("org_code",))


def final_successors() -> dict[str, str]:
    """Each trust merged away -> the trust that holds its activity now (chains of mergers followed)."""
    return follow_successors(dict(zip(trust_successors()["org_code"], trust_successors()["successor_code"])))


def follow_successors(direct: Mapping[str, str]) -> dict[str, str]:
    """Old code -> its last successor, following chains (A -> B -> C gives A -> C and B -> C).

    Raises:
        ValueError: the map has a cycle (naming it).
    """
    def final(code: str) -> str:
        seen = [code]
        while code in direct:
            code = direct[code]
            if code in seen:
                raise ValueError(f"trust successors form a cycle: {' -> '.join(seen + [code])}")
            seen.append(code)
        return code

    return {code: final(code) for code in direct}


# -------------------------------------------------------------------- hashes
def data_hashes() -> dict[str, str]:
    """SHA-256 of every shipped data file, for run manifests.

    Returns:
        ``{file name: hex digest}`` for each .csv, .csv.gz and .md file in
        sim/data, sorted by name. Digests are of the bytes as shipped
        (compressed files are hashed compressed).
    """
    root = resources.files(DATA_PACKAGE)
    names = sorted(entry.name for entry in root.iterdir()
                   if entry.is_file() and entry.name.endswith(DATA_SUFFIXES))
    return {name: hashlib.sha256(root.joinpath(name).read_bytes()).hexdigest() for name in names}
