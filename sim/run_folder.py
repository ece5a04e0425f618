"""The run folder: files written atomically, a manifest of hashes, renamed into place when done.

A run folder is built in ``<run_dir>.incomplete/`` and renamed into place only
by ``RunWriter.finish``, so a folder without that suffix is always complete.
``manifest.json`` is written last and holds the SHA-256 of every other file;
``verify_run`` checks a folder against it. Writer settings are fixed so the
same tables give byte-identical files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sim.errors import OutputError

# Fixed writer settings: any of them changing would change the file bytes.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "row_group_size": 1 << 20,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "store_schema": True,
    "write_page_index": False,
}

MANIFEST_NAME = "manifest.json"
INCOMPLETE_NAME = "INCOMPLETE"
STAGING_SUFFIX = ".incomplete"
SCRATCH_NAME = "scratch"

_HASH_BLOCK = 1 << 20


def _fsync_dir(path: Path) -> None:
    # Makes renames inside ``path`` durable; a no-op where directories cannot be opened.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file via a temporary sibling, fsync and ``os.replace``.

    Readers see either the old file or the complete new one, never a part.

    Args:
        path: final file path; its folder must exist.
        write: called with the open binary temporary file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.filename is None:  # a failed write() names no file; the user needs to know which
            raise OSError(err.errno, err.strerror or str(err), str(path)) from err
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """``atomic_write`` of a bytes object."""
    atomic_write(path, lambda handle: handle.write(data))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _relative_files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _check_name(name: str) -> None:
    parts = Path(name).parts
    if not name or Path(name).is_absolute() or ".." in parts or "\\" in name:
        raise ValueError(f"file name {name!r} must be a relative path inside the run folder")
    if name in (MANIFEST_NAME, INCOMPLETE_NAME):
        raise ValueError(f"file name {name!r} is reserved for the run folder itself")


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` (or ``path`` itself) when it is not a folder."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def check_output_file(path: Path) -> None:
    """Make ``path``'s folder, or refuse it with an OutputError (exit 3) before any long work."""
    blocker = _file_in_the_way(path.parent)
    if blocker is not None:
        raise OutputError(f"cannot write {path}: {blocker} is a file, not a folder; choose another --out.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}; choose another --out (nothing was run).") \
            from err
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name with --out.")
    probe = path.with_name(f".{path.name}.probe")
    try:  # a read-only or odd file system refuses here, not after the long work
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}; choose another --out (nothing was run).") \
            from err


def check_free_space(run_dir: Path, need_bytes: int, what: str) -> None:
    """Refuse a run before its long work when the disk under ``run_dir`` holds less than ``need_bytes``.

    Raises:
        OutputError: less free space than needed (names both figures and the folder).
    """
    run_dir = Path(run_dir)
    existing = next((p for p in (run_dir, *run_dir.parents) if p.is_dir()), Path.cwd())
    free = shutil.disk_usage(existing).free
    if free < need_bytes:
        raise OutputError(f"not enough disk space for {what}: it needs at least {format_bytes(need_bytes)} in "
                          f"{existing}, which has {format_bytes(free)} free; free space or choose another --out "
                          "(nothing was run).")


def format_bytes(n: int) -> str:
    """``n`` bytes as a person reads them: MB below 10 MB, else GB."""
    return f"{n / 1e9:.2f} GB" if n >= 1e7 else f"{n / 1e6:.1f} MB"


def _is_nonempty_dir(path: Path) -> bool:
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def _needs_quoting(table: pa.Table) -> bool:
    for column in table.columns:
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            if pc.any(pc.match_substring_regex(column, r'[,"\r\n]')).as_py():
                return True
    return False


def write_csv_to(handle: IO[bytes], df: pd.DataFrame) -> None:
    """Write ``df`` as CSV: no index, '\\n' line ends, NaN as an empty field.

    Floats are written in their shortest round-trip form (``float(text)`` gives
    the stored double back exactly; whole numbers appear without ``.0``). Arrow's
    writer is used because it is ~8x faster than ``DataFrame.to_csv`` on a
    10-million-row summary. Fields are quoted only if some text field needs it
    (then Arrow quotes every text field, which is still valid RFC 4180).
    """
    table = pa.Table.from_pandas(df, preserve_index=False)
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([str(c) for c in df.columns])
    handle.write(header.getvalue().encode("utf-8"))
    style = "needed" if _needs_quoting(table) else "none"
    pa_csv.write_csv(table, handle, write_options=pa_csv.WriteOptions(include_header=False, quoting_style=style))


def write_parquet_to(handle: IO[bytes], tables: pa.Table | Iterable[pa.Table], schema: pa.Schema | None = None) -> None:
    """Write ``tables`` (one, or a stream sharing a schema) as one parquet file with ``PARQUET_OPTIONS``."""
    if isinstance(tables, pa.Table):
        tables = [tables]
    options = dict(PARQUET_OPTIONS)
    row_group_size = options.pop("row_group_size")
    writer = None
    for table in tables:
        if writer is None:
            writer = pq.ParquetWriter(handle, table.schema, **options)
        writer.write_table(table, row_group_size=row_group_size)
    if writer is None:
        if schema is None:
            raise ValueError("no tables to write and no schema for an empty file")
        writer = pq.ParquetWriter(handle, schema, **options)
    writer.close()


class RunWriter:
    """Builds a run folder in ``<run_dir>.incomplete/`` and renames it into place.

    Every file is written atomically. ``finish`` writes ``manifest.json`` last
    (with the SHA-256 of every other file), removes the ``INCOMPLETE`` marker and
    renames the staging folder to ``run_dir``. Until then nothing exists at
    ``run_dir``, so a crash or Ctrl-C never leaves a folder that looks finished.

    On an exception inside ``with RunWriter(...)`` (KeyboardInterrupt included)
    the staging folder is kept, with the reason in ``INCOMPLETE``, so the user
    can see how far the run got; ``abort(remove=True)`` deletes it instead.

    Args:
        run_dir: final folder, e.g. ``outputs/<scenario>/<run_id>``.
        overwrite: replace an existing non-empty ``run_dir`` (only once the new
            folder is complete) and a stale staging folder left by a failed run.
        resume: carry on in the staging folder an interrupted run left (its
            files stay; those written again are replaced atomically); with
            ``overwrite`` the finished folder it was started to replace may exist.

    Raises:
        FileExistsError: ``run_dir`` is non-empty, or a staging folder exists,
            and ``overwrite`` is False.
        OutputError: the folder cannot be created or written (a file in the
            way, a read-only or full disk); nothing is left behind.
    """

    def __init__(self, run_dir: Path, overwrite: bool = False, resume: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.overwrite = overwrite
        self.staging_dir = self.run_dir.with_name(self.run_dir.name + STAGING_SUFFIX)
        self._state = "open"
        if resume:
            self._reclaim()
            return
        if not overwrite and _is_nonempty_dir(self.run_dir):
            raise FileExistsError(
                f"run folder {self.run_dir} already exists and is not empty; "
                "choose another run id or pass overwrite=True (--overwrite)")
        if self.staging_dir.exists():
            if not overwrite:
                raise FileExistsError(
                    f"{self.staging_dir} exists: an earlier run with this id did not finish or is still "
                    "running; look at its INCOMPLETE file, then finish it (sim run --resume), delete it or pass "
                    "overwrite=True")
            shutil.rmtree(self.staging_dir)
        self._claim()

    def _claim(self) -> None:
        """Create the staging folder with its INCOMPLETE marker, or say plainly why it cannot be."""
        blocker = _file_in_the_way(self.run_dir)
        if blocker is not None:
            raise OutputError(f"cannot create the run folder {self.run_dir}: {blocker} is a file, not a folder; "
                              "choose another --out.")
        try:
            self.run_dir.parent.mkdir(parents=True, exist_ok=True)
            # mkdir without exist_ok: a concurrent writer for the same run fails here.
            self.staging_dir.mkdir()
        except FileExistsError:
            raise
        except OSError as err:
            raise OutputError(f"cannot create the run folder {self.run_dir}: {err.strerror or err}; choose another "
                              "--out (nothing was run).") from err
        try:
            self._mark_incomplete("The run is in progress or stopped before it finished; these files are partial.\n")
        except OSError as err:
            shutil.rmtree(self.staging_dir, ignore_errors=True)
            raise OutputError(f"cannot write in the run folder {self.staging_dir}: {err.strerror or err}; choose "
                              "another --out or free space (nothing was run).") from err

    def _reclaim(self) -> None:
        """Take over the staging folder an interrupted run left (``resume``)."""
        if not self.overwrite and _is_nonempty_dir(self.run_dir):
            raise FileExistsError(f"{self.run_dir} is already a finished run; there is nothing to resume")
        if not (self.staging_dir / INCOMPLETE_NAME).is_file():
            raise FileExistsError(f"{self.staging_dir} is not an interrupted run (no {INCOMPLETE_NAME} marker)")
        (self.staging_dir / MANIFEST_NAME).unlink(missing_ok=True)  # a run killed inside finish() may have left it
        self._mark_incomplete("The run is in progress (resumed) or stopped before it finished; these files are "
                              "partial.\n")

    # -- writing

    def path_for(self, name: str) -> Path:
        """Staging path for a file another tool writes itself (e.g. plots).

        Its parent folders are created; ``finish`` lists and hashes it like any
        file written through this object.
        """
        self._require_open()
        _check_name(name)
        path = self.staging_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def write_bytes(self, name: str, data: bytes) -> None:
        """Write ``data`` to ``name`` (a relative path, '/'-separated)."""
        atomic_write_bytes(self.path_for(name), data)

    def write_text(self, name: str, text: str) -> None:
        """Write UTF-8 text exactly as given (no newline translation)."""
        self.write_bytes(name, text.encode("utf-8"))

    def write_csv(self, name: str, df: pd.DataFrame) -> None:
        """Write a DataFrame as UTF-8 CSV (see ``write_csv_to``)."""
        atomic_write(self.path_for(name), lambda handle: write_csv_to(handle, df))

    def write_parquet(self, name: str, tables: pa.Table | Iterable[pa.Table], schema: pa.Schema | None = None) -> None:
        """Write a Table, or a stream of tables with one schema, with the fixed ``PARQUET_OPTIONS``.

        Each streamed table is written and released before the next is made,
        so the file can be far larger than memory; bytes are deterministic.
        ``schema`` is needed when the stream may be empty.
        """
        atomic_write(self.path_for(name), lambda handle: write_parquet_to(handle, tables, schema))

    def scratch_folder(self) -> Path:
        """A folder inside the staging folder for work files (e.g. the streamed cube).

        It survives an interruption with the rest of the staging folder, so a
        run can resume from it; ``finish`` deletes it before the manifest.
        """
        self._require_open()
        path = self.staging_dir / SCRATCH_NAME
        path.mkdir(exist_ok=True)
        return path

    # -- ending

    def finish(self, manifest: dict[str, Any]) -> Path:
        """Complete the run: manifest last, then rename into place.

        Args:
            manifest: JSON-serialisable provenance (version, seed, timings...);
                a ``files`` mapping of relative path to SHA-256 is added.

        Returns:
            The final run folder.

        Raises:
            ValueError: ``manifest`` already has ``files`` or holds NaN.
            TypeError: ``manifest`` is not JSON-serialisable.
            FileExistsError: ``run_dir`` appeared meanwhile and overwrite is False.
        """
        self._require_open()
        if "files" in manifest:
            raise ValueError("manifest must not contain 'files': finish() adds the file hashes")
        shutil.rmtree(self.staging_dir / SCRATCH_NAME, ignore_errors=True)
        files = {rel: sha256_file(self.staging_dir / rel)
                 for rel in _relative_files(self.staging_dir) if rel != INCOMPLETE_NAME}
        text = json.dumps({**manifest, "files": files}, sort_keys=True, indent=2, allow_nan=False) + "\n"
        if not self.overwrite and _is_nonempty_dir(self.run_dir):
            raise FileExistsError(f"run folder {self.run_dir} appeared while this run was writing; "
                                  f"the results are left in {self.staging_dir}")
        for folder in sorted({(self.staging_dir / rel).parent for rel in files}):
            _fsync_dir(folder)
        atomic_write_bytes(self.staging_dir / MANIFEST_NAME, text.encode("utf-8"))
        (self.staging_dir / INCOMPLETE_NAME).unlink()
        _fsync_dir(self.staging_dir)
        self._move_into_place()
        self._state = "finished"
        return self.run_dir

    def _move_into_place(self) -> None:
        aside = self.run_dir.with_name(self.run_dir.name + ".replaced")
        replacing = self.run_dir.exists() and _is_nonempty_dir(self.run_dir)
        if replacing:
            if aside.exists():
                shutil.rmtree(aside)
            os.replace(self.run_dir, aside)
        elif self.run_dir.exists():
            self.run_dir.rmdir()  # an empty folder: os.replace would accept it, but be explicit
        try:
            os.replace(self.staging_dir, self.run_dir)
        except BaseException:
            if replacing:
                os.replace(aside, self.run_dir)
            self._mark_incomplete("finish() failed while renaming the folder into place.\n")
            raise
        _fsync_dir(self.run_dir.parent)
        if replacing:
            shutil.rmtree(aside)

    def abort(self, reason: str = "aborted", *, remove: bool = False) -> None:
        """Stop the run: record ``reason`` in ``INCOMPLETE`` or delete the staging folder.

        Safe to call more than once and after ``finish`` (then it does nothing).
        """
        if self._state != "open":
            return
        self._state = "aborted"
        if remove:
            shutil.rmtree(self.staging_dir, ignore_errors=True)
        elif self.staging_dir.exists():
            try:
                self._mark_incomplete(f"The run did not finish: {reason}\n")
            except OSError:
                pass  # a full disk: the marker written when the run started still says INCOMPLETE

    def __enter__(self) -> "RunWriter":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc_type is not None:
            self.abort(f"{exc_type.__name__}: {exc}")
        elif self._state == "open":
            self.abort("the writer was closed without finish()")

    def _mark_incomplete(self, text: str) -> None:
        atomic_write_bytes(self.staging_dir / INCOMPLETE_NAME,
                           ("INCOMPLETE: this run did not finish; do not use these results.\n" + text).encode())

    def _require_open(self) -> None:
        if self._state != "open":
            raise RuntimeError(f"RunWriter for {self.run_dir} is {self._state}; no more files can be written")


def verify_run(run_dir: Path) -> list[str]:
    """Check a run folder against its manifest.

    Returns:
        Problems found (missing manifest, unfinished marker, missing file, hash
        mismatch, file not in the manifest), sorted; empty means the folder is
        exactly as written.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return [f"{run_dir} is not a folder"]
    manifest_path = run_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        return [f"{MANIFEST_NAME} is missing: the run did not finish or the folder is not a run"]
    try:
        files = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not a mapping")
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST_NAME} is unreadable or has no 'files' mapping: {exc}"]
    problems = []
    for rel, expected in sorted(files.items()):
        path = run_dir / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            problems.append(f"manifest lists a path outside the run folder: {rel}")
        elif not path.is_file():
            problems.append(f"missing file: {rel}")
        elif (actual := sha256_file(path)) != expected:
            problems.append(f"hash mismatch: {rel} (manifest {str(expected)[:12]}..., file {actual[:12]}...)")
    for rel in _relative_files(run_dir):
        if rel == INCOMPLETE_NAME:
            problems.append(f"{INCOMPLETE_NAME} marker present: the run did not finish")
        elif rel != MANIFEST_NAME and rel not in files:
            problems.append(f"file not in manifest: {rel}")
    return sorted(problems)
