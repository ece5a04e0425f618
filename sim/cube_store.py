"""A run's metric cube on disk, filled batch by batch, so memory does not grow with replications.

Batches arrive in any order; each is written where its replications belong
in one scratch file laid out ``[series, metric, replication, date]`` (float64),
so every (series, metric) block of every replication is one contiguous run:
the summary reads whole series blocks, the trajectories one metric at a time,
each with a few large reads. A finished batch is recorded in ``done`` only
after its bytes, and a line of what its replications drew (``draws.jsonl``),
are written, which is what lets an interrupted run resume.

:class:`DiskCube` reads it back with the same interface the outputs use on an
in-memory :class:`sim.metrics.MetricCube` (``take``), so summary, targets and
trajectories have one code path whatever the cube's size.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import DISK_ERRNOS
from sim.metrics import MetricCube, SeriesKey
from sim.run_folder import format_bytes

VALUES_NAME = "cube.f64"
LABELS_NAME = "cube.json"
DONE_NAME = "done"
DRAWS_NAME = "draws.jsonl"
_ITEM = 8  # float64


@dataclass(frozen=True)
class CubeLabels:
    """What each axis of the stored cube holds; replications are 0..n-1 in order."""

    series: tuple[SeriesKey, ...]
    metrics: tuple[str, ...]
    dates: tuple[str, ...]
    n_replications: int

    def to_json(self) -> str:
        return json.dumps({"series": [[k.level, k.area_code, k.breakdown] for k in self.series],
                           "metrics": list(self.metrics), "dates": list(self.dates),
                           "n_replications": self.n_replications}, sort_keys=True)

    @staticmethod
    def from_json(text: str) -> "CubeLabels":
        raw = json.loads(text)
        return CubeLabels(tuple(SeriesKey(*k) for k in raw["series"]), tuple(raw["metrics"]), tuple(raw["dates"]),
                          int(raw["n_replications"]))


def checksum(values: np.ndarray) -> str:
    """A cheap fingerprint of a block's bytes (wrapping sum and xor of its 64-bit words)."""
    words = np.ascontiguousarray(values).view(np.uint64).ravel()
    return f"{int(np.add.reduce(words, dtype=np.uint64)):016x}{int(np.bitwise_xor.reduce(words)):016x}"


def _append_line(path: Path, line: str) -> None:
    """Append one line, first ending a line a killed run left cut short (which then reads as garbage, not as
    the start of this one)."""
    with open(path, "a+b") as handle:
        cut = handle.tell() > 0 and (handle.seek(-1, os.SEEK_END), handle.read(1))[1] != b"\n"
        handle.write((b"\n" if cut else b"") + line.encode("utf-8") + b"\n")


def _pread_into(fd: int, out: np.ndarray, offset: int) -> None:
    view = memoryview(out).cast("B")
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n == 0:
            raise OSError(f"the stored cube ended early at byte {offset + got}")
        got += n


def _pwrite_all(fd: int, data: np.ndarray, offset: int) -> None:
    view = memoryview(np.ascontiguousarray(data)).cast("B")
    done = 0
    while done < len(view):
        done += os.pwrite(fd, view[done:], offset + done)


class CubeStore:
    """The scratch folder holding one run's cube while batches arrive.

    Args:
        folder: where ``cube.f64``, ``cube.json`` and ``done`` live (created).
        labels: the cube's axes; the values file is allocated to its full size.
    """

    def __init__(self, folder: Path, labels: CubeLabels) -> None:
        self.folder = Path(folder)
        self.labels = labels
        self.folder.mkdir(parents=True, exist_ok=True)
        labels_path = self.folder / LABELS_NAME
        if labels_path.exists():
            if CubeLabels.from_json(labels_path.read_text(encoding="utf-8")) != labels:
                raise ValueError(f"{labels_path} describes a different cube; the stored batches cannot be reused")
        else:
            labels_path.write_text(labels.to_json(), encoding="utf-8")
        self._fd = os.open(self.folder / VALUES_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        self._reserve(self._block_bytes * len(labels.series) * len(labels.metrics))

    def _reserve(self, size: int) -> None:
        """Allocate the whole values file now, so a disk too small fails here and not part way through."""
        try:
            os.posix_fallocate(self._fd, 0, size)
        except OSError as err:
            if err.errno in DISK_ERRNOS:
                self.close()
                raise OSError(err.errno, f"{err.strerror} (the run's working cube needs {format_bytes(size)})",
                              str(self.folder / VALUES_NAME)) from err
            os.ftruncate(self._fd, size)  # a file system without fallocate: sparse, filled as batches arrive

    @classmethod
    def reopen(cls, folder: Path) -> "CubeStore | None":
        """The store an interrupted run left in ``folder``, or None if it never stored a batch."""
        labels_path = Path(folder) / LABELS_NAME
        if not labels_path.is_file():
            return None
        return cls(folder, CubeLabels.from_json(labels_path.read_text(encoding="utf-8")))

    @property
    def _block_bytes(self) -> int:
        """Bytes of one (series, metric) block: every replication x date."""
        return self.labels.n_replications * len(self.labels.dates) * _ITEM

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> "CubeStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, cube: MetricCube) -> None:
        """Store one batch (any set of replications), then record each contiguous run of them as done."""
        labels = self.labels
        if (cube.series, cube.metrics, cube.dates) != (labels.series, labels.metrics, labels.dates):
            raise ValueError("a batch's series, metrics or dates differ from the stored cube's")
        reps = np.asarray(cube.replications, dtype=np.int64)
        order = np.argsort(reps, kind="stable")
        ordered = reps[order]
        if ordered.size == 0 or ordered[0] < 0 or ordered[-1] >= labels.n_replications or np.any(np.diff(ordered) == 0):
            raise ValueError(f"batch replications {reps.tolist()[:5]}... are not distinct replications within "
                             f"0..{labels.n_replications - 1}")
        breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
        for run in np.split(np.arange(ordered.size), breaks):
            self._write_range(int(ordered[run[0]]), cube.values[order[run]],
                              {name: v[order[run]] for name, v in cube.draws.items()})

    def _write_range(self, a: int, values: np.ndarray, draws: dict[str, np.ndarray]) -> None:
        """Store ``values`` (``[rep, series, metric, date]``) and ``draws`` as replications ``a, a+1, ...``;
        record it done."""
        n_d = len(self.labels.dates)
        b = a + values.shape[0]
        # [series, metric, replication, date]: each (series, metric) run of replications is contiguous on disk.
        blocks = np.ascontiguousarray(values.transpose(1, 2, 0, 3))
        for block, chunk in enumerate(blocks.reshape(-1, b - a, n_d)):
            _pwrite_all(self._fd, chunk, block * self._block_bytes + a * n_d * _ITEM)
        # No fsync: the page cache outlives a killed or interrupted process, which is what resuming
        # serves, and syncing ~10 MB per replication would hold every batch to the disk's speed.
        # The checksum on each done line catches a batch lost with the machine itself.
        # Python's float repr round-trips exactly, so the draws read back bit for bit.
        _append_line(self.folder / DRAWS_NAME,
                     json.dumps({"first": a, "draws": {name: v.tolist() for name, v in draws.items()}}))
        _append_line(self.folder / DONE_NAME, f"{a} {b} {checksum(blocks)}")

    def _done_lines(self) -> list[tuple[int, int, str]]:
        path = self.folder / DONE_NAME
        if not path.exists():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit():  # a line cut short is not done
                out.append((int(parts[0]), int(parts[1]), parts[2]))
        return out

    def completed(self, verify: bool = False) -> np.ndarray:
        """Replications recorded as stored (sorted); with ``verify``, only those whose bytes check out."""
        done: set[int] = set()
        for a, b, expected in self._done_lines():
            if not verify or checksum(self._read_range(a, b)) == expected:
                done.update(range(a, b))
        return np.array(sorted(done), dtype=np.int64)

    def _read_range(self, a: int, b: int) -> np.ndarray:
        """Stored ``[series, metric, a:b, date]`` block, as written."""
        n_d = len(self.labels.dates)
        out = np.empty((len(self.labels.series) * len(self.labels.metrics), b - a, n_d))
        for block in range(out.shape[0]):
            _pread_into(self._fd, out[block], block * self._block_bytes + a * n_d * _ITEM)
        return out

    def reader(self) -> "DiskCube":
        """The stored cube, once every replication is in."""
        missing = self.labels.n_replications - len(self.completed())
        if missing:
            raise ValueError(f"{missing} replications are not stored yet")
        return DiskCube(self._fd, self.labels, self._read_draws())

    def _read_draws(self) -> dict[str, np.ndarray]:
        """Every stored replication's draws (a batch stored twice, by a resumed run, drew the same values)."""
        n = self.labels.n_replications
        out: dict[str, np.ndarray] = {}
        path = self.folder / DRAWS_NAME
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        for line in lines:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a kill: its batch is not done, so ran again
                continue
            first = int(entry["first"])
            for name, values in entry["draws"].items():
                out.setdefault(name, np.full(n, np.nan))[first:first + len(values)] = values
        return dict(sorted(out.items()))


class DiskCube:
    """Read access to a stored cube with the interface of :class:`MetricCube` (no ``values``)."""

    def __init__(self, fd: int, labels: CubeLabels, draws: dict[str, np.ndarray] | None = None) -> None:
        self._fd = fd
        self.draws = draws or {}
        self.series = labels.series
        self.metrics = labels.metrics
        self.dates = labels.dates
        self.replications = np.arange(labels.n_replications, dtype=np.int64)
        self.shape = (labels.n_replications, len(labels.series), len(labels.metrics), len(labels.dates))

    def metric_index(self, name: str) -> int:
        return self.metrics.index(name)

    def series_index(self, level: str, area_code: str, breakdown: str = "all") -> int:
        return self.series.index(SeriesKey(level, area_code, breakdown))

    def take(self, series: slice | np.ndarray | list[int], metric: int | None = None) -> np.ndarray:
        """``values[:, series]`` (``[rep, s, metric, date]``), or ``values[:, series, metric]`` if one is given."""
        n_r, n_s, n_m, n_d = self.shape
        idx = np.arange(n_s)[series] if isinstance(series, slice) else np.asarray(series, dtype=np.intp)
        block = n_r * n_d * _ITEM
        if metric is None:
            out = np.empty((len(idx), n_m, n_r, n_d))
            position = 0
            for a, b in _runs(idx):
                _pread_into(self._fd, out[position:position + b - a], a * n_m * block)
                position += b - a
            return out.transpose(2, 0, 1, 3)
        out = np.empty((len(idx), n_r, n_d))
        for j, s in enumerate(idx):
            _pread_into(self._fd, out[j], (int(s) * n_m + metric) * block)
        return out.transpose(1, 0, 2)


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Runs ``[a, b)`` of consecutive values, keeping the given order (which need not be sorted)."""
    runs: list[tuple[int, int]] = []
    for i in indices.tolist():
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs
