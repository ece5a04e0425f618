"""Checking CSV files against a declared column schema, with file, line and column in every error.

The generic core behind :mod:`sim.reference` (shipped data) and the user files
read by :mod:`sim.reference` and :mod:`sim.world`: required columns present,
numbers numeric and finite, counts non-negative, percentages within 0-100,
months ``YYYY-MM``, keys unique. Lines are 1-based as a text editor counts them
(header = line 1); a UTF-8 byte-order mark (Excel writes one), ``#`` comment
lines and blank lines are accepted. A problem raises
:class:`ReferenceDataError`, an :class:`~sim.errors.InputError`, so a bad data
file gets the same one-line message and exit code as a bad scenario file.
"""

from __future__ import annotations

import csv
import difflib
import gzip
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import InputError

MONTH_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class ReferenceDataError(InputError, ValueError):
    """A reference or user data file is missing or malformed.

    Rendered as every :class:`~sim.errors.InputError` is (``file:line: column:
    problem.``), so the CLI prints one line and exits with code 2. Also a
    ``ValueError``, as it was before InputError existed.

    Attributes:
        path: the file, as given or as its package resource name (``file``).
        line: 1-based line in the file (header = 1), or None for file-level problems.
        column: the offending column (``key_path``), or None.
    """

    def __init__(self, path: str, problem: str, line: int | None = None, column: str | None = None,
                 **details: Any) -> None:
        super().__init__(problem=problem, file=str(path), line=line, key_path=column, **details)

    @property
    def path(self) -> str:
        """The file, as given (the same as ``file``)."""
        return str(self.file)

    @property
    def column(self) -> str | None:
        """The offending column (the same as ``key_path``), or None."""
        return self.key_path

    def replace(self, **changes: Any) -> ReferenceDataError:
        """Returns a copy with some fields changed (InputError field names)."""
        return _rebuild({**self.fields(), **changes})

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        # InputError's own reduce would come back as an InputError, losing .path and .column.
        return (_rebuild, (self.fields(),))


def _rebuild(fields: dict[str, Any]) -> ReferenceDataError:
    rest = dict(fields)
    return ReferenceDataError(rest.pop("file"), rest.pop("problem"), rest.pop("line"), rest.pop("key_path"), **rest)


@dataclass(frozen=True)
class Column:
    """One declared column of a table.

    Attributes:
        name: header text.
        kind: ``text`` (may be empty), ``code`` (non-empty text), ``month``
            (``YYYY-MM``), ``number`` (any finite float), ``count`` (float >= 0),
            ``pct`` (float in 0-100), ``share`` (float in 0-1) or ``yyyymmdd``
            (integer date).
        nullable: whether an empty cell is allowed (numbers become NaN).
        required: whether the column must be present.
        allowed: for text kinds, the only values accepted (empty = any).
    """

    name: str
    kind: str
    nullable: bool = True
    required: bool = True
    allowed: tuple[str, ...] = ()


def schema(spec: str) -> list[Column]:
    """Columns from ``name:kind`` tokens; a ``!`` suffix forbids empty cells,
    a ``?`` suffix lets the column be absent (``count!?``: optional, but if
    present filled on every row)."""
    columns = []
    for token in spec.split():
        name, kind = token.split(":")
        flags = kind[len(kind.rstrip("!?")):]
        columns.append(Column(name, kind.rstrip("!?"), nullable="!" not in flags, required="?" not in flags))
    return columns


_TEXT_KINDS = ("text", "code", "month")
_NUMBER_BOUNDS = {"number": (-np.inf, np.inf), "count": (0.0, np.inf), "pct": (0.0, 100.0),
                  "share": (0.0, 1.0)}


# ----------------------------------------------------------------- parsing core
def _parse_rows(text: str, label: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Split CSV text into header, rows and each row's 1-based line number."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            # '#' lines let example and user files carry a label; blank lines are noise.
            if not row or all(not c.strip() for c in row) or row[0].lstrip().startswith("#"):
                continue
            if header is None:
                header = [c.strip() for c in row]
                continue
            if len(row) != len(header):
                raise ReferenceDataError(
                    label, f"has {len(row)} fields but the header has {len(header)}", line)
            rows.append([c.strip() for c in row])
            lines.append(line)
    except csv.Error as exc:
        raise ReferenceDataError(label, f"is not valid CSV ({exc})", reader.line_num) from exc
    if header is None:
        raise ReferenceDataError(label, "is empty (no header row)")
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if duplicated:
        raise ReferenceDataError(label, "header repeats a column name", 1, duplicated[0])
    return header, rows, lines


def did_you_mean(value: str, options: list[str] | tuple[str, ...]) -> str:
    """`` (did you mean 'X'?)`` for the closest option, or ``""``."""
    match = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def check_rows(bad: object, label: str, lines: np.ndarray, column: str | None, problem) -> None:
    """Raise for the first row flagged in ``bad``; ``problem(i)`` words the message."""
    bad = np.asarray(bad, dtype=bool)
    if bad.any():
        i = int(np.argmax(bad))
        raise ReferenceDataError(label, problem(i), int(lines[i]), column)


_RANGE_WORDS = {"count": "a negative count", "pct": "a percentage outside 0-100",
                "share": "a share outside 0-1", "number": "out of range"}


def _convert(raw: pd.Series, col: Column, lines: np.ndarray, label: str) -> pd.Series:
    """Check one column's cells and convert them to the declared dtype."""
    empty = raw.eq("").to_numpy()
    cell = raw.iloc.__getitem__
    if not col.nullable:
        check_rows(empty, label, lines, col.name, lambda i: "is empty but a value is required")
    if col.kind in _TEXT_KINDS:
        if col.kind == "month":
            check_rows(~empty & ~raw.str.match(MONTH_PATTERN).to_numpy(), label, lines, col.name,
                       lambda i: f"'{cell(i)}' is not a month YYYY-MM")
        if col.allowed:
            check_rows(~empty & ~raw.isin(col.allowed).to_numpy(), label, lines, col.name,
                       lambda i: f"'{cell(i)}' is not allowed{did_you_mean(cell(i), col.allowed)}; "
                                 f"allowed: {', '.join(col.allowed)}")
        return raw.astype(str)
    values = pd.to_numeric(raw.str.replace(",", "", regex=False).where(~empty), errors="coerce")
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    check_rows(~empty & ~np.isfinite(numbers), label, lines, col.name,
               lambda i: f"'{cell(i)}' is not a number")
    if col.kind == "yyyymmdd":
        return pd.Series(numbers, index=raw.index).round().astype("Int64")
    low, high = _NUMBER_BOUNDS[col.kind]
    check_rows((numbers < low) | (numbers > high), label, lines, col.name,
               lambda i: f"{cell(i)} is {_RANGE_WORDS[col.kind]}")
    return pd.Series(numbers, index=raw.index, dtype=np.float64)


def parse_csv_text(text: str, label: str, columns: list[Column], *, unique: tuple[str, ...] = (),
                   allow_extra: bool = True, with_lines: bool = False
                   ) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Parse CSV text against a schema.

    Args:
        text: the file's contents (a leading UTF-8 BOM is ignored).
        label: the file name used in error messages.
        columns: the declared columns; undeclared columns are kept as text.
        unique: columns whose combined values must not repeat.
        allow_extra: if False, an undeclared column is an error (for user files,
            so that a misspelt optional column cannot vanish silently).
        with_lines: also return each row's 1-based line in the file, for
            callers that check values further.

    Returns:
        The table (row order as in the file), or ``(table, lines)``.

    Raises:
        ReferenceDataError: naming the file, line and column of the first problem.
    """
    header, rows, lines = _parse_rows(text.lstrip("\ufeff"), label)
    known = [c.name for c in columns]
    for col in columns:
        if col.required and col.name not in header:
            raise ReferenceDataError(label, f"required column is missing{did_you_mean(col.name, header)}",
                                     1, col.name)
    if not allow_extra:
        for name in header:
            if name not in known:
                raise ReferenceDataError(label, f"unknown column{did_you_mean(name, known)}; "
                                         f"allowed: {', '.join(known)}", 1, name)
    raw = pd.DataFrame(rows, columns=header, dtype=str) if rows else pd.DataFrame(columns=header, dtype=str)
    line_arr = np.asarray(lines, dtype=np.int64)
    out = {}
    for name in header:
        spec = next((c for c in columns if c.name == name), Column(name, "text"))
        out[name] = _convert(raw[name], spec, line_arr, label)
    df = pd.DataFrame(out, columns=header)
    if unique:
        check_rows(df.duplicated(list(unique)), label, line_arr, unique[0],
                   lambda i: "duplicate row (" + ", ".join(f"{c}={df[c].iloc[i]}" for c in unique) + ")")
    return (df, line_arr) if with_lines else df


def read_csv_file(path: str | Path, columns: list[Column], *, unique: tuple[str, ...] = (),
                  allow_extra: bool = True, with_lines: bool = False
                  ) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray]:
    """Read and check a CSV file (plain or .gz) from disk; see :func:`parse_csv_text`."""
    path = Path(path)
    if not path.is_file():
        raise ReferenceDataError(str(path), "file not found")
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise ReferenceDataError(str(path), f"is not a readable gzip file ({exc})",
                                     allowed="a .csv file, or one compressed with gzip as .csv.gz") from None
    return parse_csv_text(decode_text(data, str(path)), str(path), columns, unique=unique, allow_extra=allow_extra,
                          with_lines=with_lines)


# Bytes no text file holds (tab, newline, form feed and carriage return are text).
CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f]")
SAVE_AS_UTF8 = "a CSV file saved as UTF-8 (in Excel: Save As, 'CSV UTF-8 (Comma delimited)')"


def decode_text(data: bytes, path: str) -> str:
    """A CSV file's bytes as text (a UTF-8 BOM dropped); other encodings and binary files are refused clearly."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReferenceDataError(path, "is UTF-16 text (Excel's 'Unicode Text')", line=1, allowed=SAVE_AS_UTF8)
    if CONTROL_BYTES.search(data[:65536]):
        raise ReferenceDataError(path, "is not a text file (it contains binary data)", allowed=SAVE_AS_UTF8)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReferenceDataError(path, f"is not UTF-8 text: byte 0x{data[exc.start]:02x} is not UTF-8 (the file was "
                                       "probably saved as Windows-1252 or Latin-1)", line=line,
                                 allowed=SAVE_AS_UTF8) from None

