"""The observed data that start and score the diagnostic and cancer services: shipped, or the user's own.

Four tables, each replaceable by a scenario's ``world`` block with a file of the
same columns (docs/DATA.md, "Your own data"), so a user drops in the newest
NHS England publications without touching code:

- ``dm01_provider``: DM01 waiting list by provider and test (starts the diagnostic lists, sets their rates);
- ``cwt_provider``: cancer waiting times by provider and standard (calibrates each trust's pathway);
- ``diagnostics_national``: the England DM01 series (charts, backtest scores);
- ``cancer_national``: the England CWT series (national targets of the cancer fit, its
  monthly variation, charts and backtest scores).

A user file replaces the shipped table whole (it is not merged with it), and is
checked once, here, at the boundary: the same column rules as the shipped file,
file, line and column in every error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from sim import reference as ref
from sim.calendar import add_months

#: Each table: (the ``world`` key naming a user's file, the shipped file, what it is).
SERVICE_TABLES = {
    "dm01_provider": ("dm01_provider_csv", "dm01_provider_test_monthly.csv.gz",
                      "DM01 diagnostics provider data"),
    "cwt_provider": ("cwt_provider_csv", "cwt_provider_monthly.csv.gz", "CWT cancer provider data"),
    "diagnostics_national": ("diagnostics_national_csv", "diagnostics_national_monthly.csv",
                             "national diagnostics series"),
    "cancer_national": ("cancer_national_csv", "cancer_national_monthly.csv", "national cancer series"),
}
#: The national series (what the charts and backtest scores need, without the provider files).
NATIONAL_TABLES = ("diagnostics_national", "cancer_national")
#: National cancer columns the pathway's calibration weights by (patients measured each month).
CANCER_TOTALS = ("fds_total", "c62_total", "c31_total")


@dataclass(frozen=True)
class ServiceData:
    """The four tables (month as a column, as the shipped readers return them) and where each came from.

    Attributes:
        files: table -> the file it was read from (``sim/data/...`` when shipped).
        user_tables: the tables read from a user's file (the manifest's ``input_files`` hashes them; shipped
            tables are in its ``input_data_sha256``).
    """

    dm01_provider: pd.DataFrame
    cwt_provider: pd.DataFrame
    diagnostics_national: pd.DataFrame
    cancer_national: pd.DataFrame
    files: dict[str, str] = field(default_factory=dict)
    user_tables: frozenset[str] = frozenset()

    def months(self, table: str) -> set[str]:
        """Months a table holds."""
        return set(getattr(self, table)["month"])

    def describe(self, table: str) -> str:
        """``the shipped DM01 diagnostics provider data`` or ``the DM01 diagnostics provider data in FILE``."""
        what = SERVICE_TABLES[table][2]
        return f"the {what} in {self.files[table]}" if table in self.user_tables else f"the shipped {what}"


def shipped_service_data() -> ServiceData:
    """The shipped tables (fresh copies: a caller may add columns)."""
    return ServiceData(ref.dm01_provider(), ref.cwt_provider(), ref.diagnostics_national(), ref.cancer_national(),
                       files={table: f"sim/data/{spec[1]}" for table, spec in SERVICE_TABLES.items()})


def read_service_data(paths: Mapping[str, Path | None]) -> ServiceData:
    """The shipped tables with each table in ``paths`` (a user's file, not None) read and checked in its place.

    Raises:
        ReferenceDataError: a user's file is malformed (file, line, column).
    """
    data = shipped_service_data()
    tables, files = {}, dict(data.files)
    for table, path in paths.items():
        if path is None:
            continue
        tables[table] = read_user_table(table, path)
        files[table] = str(path)
    return ServiceData(**{t: tables.get(t, getattr(data, t)) for t in SERVICE_TABLES}, files=files,
                       user_tables=frozenset(tables))


def read_user_table(table: str, path: Path) -> pd.DataFrame:
    """One user file of ``table``'s columns, checked (see the module docstring).

    Provider files follow the shipped files' columns exactly (``source`` may be
    absent), with every count filled and, for CWT, ``within_standard`` at most
    ``total`` and ``breaches`` their difference; national files follow :func:`sim.reference.read_observed`, and a
    national cancer series must also carry the monthly totals the cancer
    calibration weights by.

    Raises:
        ReferenceDataError: the first problem, naming the file, line and column.
    """
    if table in ("diagnostics_national", "cancer_national"):
        frame = ref.read_observed(path, table.removesuffix("_national")).reset_index()
        if table == "cancer_national":
            for column in CANCER_TOTALS:
                if column not in frame.columns or frame[column].isna().all():
                    raise ref.ReferenceDataError(str(path), "is needed to calibrate the cancer pathway (patients "
                                                 "measured each month) but the file has no values", 1, column,
                                                 allowed="the columns of sim/data/cancer_national_monthly.csv")
        return frame
    columns, keys = ((ref.DM01_PROVIDER_COLUMNS, ref.DM01_PROVIDER_KEYS) if table == "dm01_provider"
                     else (ref.CWT_PROVIDER_COLUMNS, ref.CWT_PROVIDER_KEYS))
    # Every count must be filled: an empty cell would count as none (a list short, capacity lost).
    columns = [ref.Column(c.name, c.kind, c.nullable and c.kind != "count", c.required and c.name != "source",
                          c.allowed) for c in columns]
    frame, lines = ref.read_csv_file(path, columns, unique=keys, allow_extra=False, with_lines=True)
    if frame.empty:
        raise ref.ReferenceDataError(str(path), "has no data rows")
    if "source" not in frame.columns:
        frame["source"] = f"user file {Path(path).name}"
    if table == "dm01_provider":
        check_dm01_rows(frame, str(path), lines)
    else:
        total, within = frame["total"], frame["within_standard"]
        ref.check_rows(within > total, str(path), lines, "within_standard",
                       lambda i: f"{within.iloc[i]:g} exceeds total {total.iloc[i]:g}")
        ref.check_rows((total - within - frame["breaches"]).abs() > 0.5, str(path), lines, "breaches",
                       lambda i: f"{frame['breaches'].iloc[i]:g} is not total - within_standard "
                                 f"({total.iloc[i] - within.iloc[i]:g})")
    return frame


def census_months(held: set[str], window_months: int, least: int) -> list[str]:
    """Census months a provider file can start from: held, with ``least`` held months in the window ending there."""
    return sorted(m for m in held if sum(add_months(m, -k) in held for k in range(window_months)) >= least)


def check_dm01_rows(df: pd.DataFrame, label: str, lines: np.ndarray | None = None) -> None:
    """DM01 rows hold known tests, and each list equals its weekly bands (and over 6 weeks its bands from w06).

    Raises:
        ReferenceDataError: the first bad row (its line when ``lines`` is given).
    """
    from sim.diagnostics_start import DIAG_TESTS  # the tests the model simulates

    line = (lambda i: int(lines[i])) if lines is not None else (lambda i: None)
    known = {test_id for _, test_id, _ in DIAG_TESTS}
    ids = df["test_id"].to_numpy(dtype=float)
    bad = ~np.isin(ids, list(known))
    if bad.any():
        i = int(np.argmax(bad))
        raise ref.ReferenceDataError(label, f"unknown DM01 test_id {ids[i]:g}", line(i), "test_id",
                                     allowed="the DM01 test ids 1-15 (docs/DATA.md)")
    bands = list(ref.DM01_WEEK_BANDS)
    for column, expected in (("waiting_list", df[bands].sum(axis=1) + df["over_13w"]),
                             ("over_6w", df[bands[6:]].sum(axis=1) + df["over_13w"])):
        bad = (df[column] - expected).abs().to_numpy() > 0.5
        if bad.any():
            i = int(np.argmax(bad))
            raise ref.ReferenceDataError(label, f"{column} {df[column].iloc[i]:g} differs from the sum of its weekly "
                                         f"bands ({expected.iloc[i]:g}) for {df['provider_code'].iloc[i]} in "
                                         f"{df['month'].iloc[i]}", line(i), column)
