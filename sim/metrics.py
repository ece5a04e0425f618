"""Month-end metrics held as one dense cube per run.

A run's results are a float64 cube ``values[replication, series, metric, date]``
where a *series* is one (level, area_code, breakdown) triple, e.g.
``("national", "ENG", "all")`` or ``("trust", "RJ1", "C_110")``. Cubes from
batches of replications are concatenated along axis 0; the summary, targets and
trajectories are all derived from the one cube, so there is one code path for
every output.

Canonical metric names are listed in ../DESIGN.md section 1; never rename them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LEVELS = ("national", "region", "icb", "trust")

RTT_METRICS = (
    "rtt_waiting_list",
    "rtt_within_18w_pct",
    "rtt_over_52w",
    "rtt_over_52w_pct",
    "rtt_over_65w",
    "rtt_over_78w",
    "rtt_over_104w",
    "rtt_median_weeks",
    "rtt_p92_weeks",
    "rtt_clock_starts",
    "rtt_clock_stops",
    "rtt_clock_stops_admitted",
    "rtt_clock_stops_nonadmitted",
    "rtt_other_removals",
    "rtt_waiting_list_admitted",
    "rtt_clock_stops_redeployed",
    "rtt_priority_shortage_weight",
)


@dataclass(frozen=True)
class SeriesKey:
    """One row label of the cube: where and what breakdown a series describes."""

    level: str
    area_code: str
    breakdown: str = "all"


@dataclass(frozen=True)
class MetricCube:
    """Month-end metric values for a set of replications.

    Attributes:
        values: float64 array ``[replication, series, metric, date]``; NaN where
            a metric is undefined (e.g. a percentage of an empty list).
        replications: int64 global replication indices for axis 0, ascending;
            0 is the point estimate.
        series: one SeriesKey per axis-1 position.
        metrics: metric name per axis-2 position.
        dates: ISO month-end dates ``YYYY-MM-DD`` per axis-3 position.
        draws: ``{name: float64 [replication]}`` what each replication drew of every uncertain parameter
            and shock (``sim.scenarios.parameters.recording``), aligned with ``replications``.
    """

    values: np.ndarray
    replications: np.ndarray
    series: tuple[SeriesKey, ...]
    metrics: tuple[str, ...]
    dates: tuple[str, ...]
    draws: dict[str, np.ndarray] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        expected = (len(self.replications), len(self.series), len(self.metrics), len(self.dates))
        if self.values.shape != expected:
            raise ValueError(f"cube values shape {self.values.shape} does not match labels {expected}")

    def metric_index(self, name: str) -> int:
        return self.metrics.index(name)

    def series_index(self, level: str, area_code: str, breakdown: str = "all") -> int:
        return self.series.index(SeriesKey(level, area_code, breakdown))

    @property
    def shape(self) -> tuple[int, ...]:
        return self.values.shape

    def take(self, series: slice | np.ndarray | list[int], metric: int | None = None) -> np.ndarray:
        """``values[:, series]``, or ``values[:, series, metric]`` if one is given.

        The one read the outputs make, so a cube stored on disk
        (:class:`sim.cube_store.DiskCube`) serves them the same way.
        """
        block = self.values[:, series]
        return block if metric is None else block[:, :, metric]

    @staticmethod
    def concat(cubes: list["MetricCube"]) -> "MetricCube":
        """Join batches along axis 0, ordered by replication index.

        Raises:
            ValueError: if labels differ or a replication appears twice.
        """
        if not cubes:
            raise ValueError("no cubes to concatenate")
        first = cubes[0]
        for cube in cubes[1:]:
            if (cube.series, cube.metrics, cube.dates) != (first.series, first.metrics, first.dates):
                raise ValueError("cubes have different series, metrics or dates")
        reps = np.concatenate([c.replications for c in cubes])
        order = np.argsort(reps, kind="stable")
        if len(np.unique(reps)) != len(reps):
            raise ValueError("a replication appears in more than one batch")
        values = np.concatenate([c.values for c in cubes], axis=0)[order]
        return MetricCube(values, reps[order], first.series, first.metrics, first.dates, merge_draws(cubes, order))


def merge_draws(cubes: list[MetricCube], order: np.ndarray) -> dict[str, np.ndarray]:
    """The batches' draws joined like their values (NaN where a batch did not draw a name), names sorted."""
    names = sorted({name for c in cubes for name in c.draws})
    nan = [np.full(len(c.replications), np.nan) for c in cubes]
    return {name: np.concatenate([c.draws.get(name, blank) for c, blank in zip(cubes, nan)])[order]
            for name in names}


@dataclass(frozen=True)
class Geography:
    """How engine rows (trust x treatment function) roll up to reported series.

    Attributes:
        row_trust: int ``[row]`` index into ``trust_codes``.
        row_specialty: int ``[row]`` index into ``specialty_codes``.
        trust_codes: ODS codes of the trusts that carry RTT lists.
        trust_icb: int ``[trust]`` index into ``icb_codes`` (the trust's host ICB).
        icb_codes: ODS codes of the ICBs.
        icb_region: int ``[icb]`` index into ``region_codes``.
        region_codes: NHS England region codes (Y56-Y63).
        specialty_codes: RTT treatment-function codes.
        test_codes: DM01 test keys, when the run models diagnostics (national-by-test series).
        other_trust_codes: trusts without an RTT list that the run models for finance and AFT only;
            their series come last and carry only agent metrics.
        other_trust_icb: int ``[other_trust]`` their host-ICB positions.
    """

    row_trust: np.ndarray
    row_specialty: np.ndarray
    trust_codes: tuple[str, ...]
    trust_icb: np.ndarray
    icb_codes: tuple[str, ...]
    icb_region: np.ndarray
    region_codes: tuple[str, ...]
    specialty_codes: tuple[str, ...]
    test_codes: tuple[str, ...] = ()
    other_trust_codes: tuple[str, ...] = ()
    other_trust_icb: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_rows(self) -> int:
        return len(self.row_trust)

    def series(self) -> tuple[SeriesKey, ...]:
        """Series in cube order: national, regions, ICBs, trusts, national by specialty, then by test."""
        keys = [SeriesKey("national", "ENG")]
        keys += [SeriesKey("region", c) for c in self.region_codes]
        keys += [SeriesKey("icb", c) for c in self.icb_codes]
        keys += [SeriesKey("trust", c) for c in self.trust_codes]
        keys += [SeriesKey("national", "ENG", s) for s in self.specialty_codes]
        keys += [SeriesKey("national", "ENG", t) for t in self.test_codes]
        keys += [SeriesKey("trust", c) for c in self.other_trust_codes]
        return tuple(keys)

    def trust_to_series(self) -> np.ndarray:
        """int ``[series, trust]``-free mapping: for each trust, its region, ICB and own series positions."""
        n_regions, n_icbs = len(self.region_codes), len(self.icb_codes)
        icb = np.asarray(self.trust_icb, dtype=np.int64)
        region = np.asarray(self.icb_region, dtype=np.int64)[icb]
        trust = np.arange(len(self.trust_codes))
        return np.stack([np.zeros_like(trust), 1 + region, 1 + n_regions + icb, 1 + n_regions + n_icbs + trust], axis=1)

    def icb_to_series(self) -> np.ndarray:
        """int ``[icb, 3]``: each ICB's national, region and own series positions."""
        n_regions = len(self.region_codes)
        icb = np.arange(len(self.icb_codes))
        region = np.asarray(self.icb_region, dtype=np.int64)
        return np.stack([np.zeros_like(icb), 1 + region, 1 + n_regions + icb], axis=1)

    def patient_series_end(self) -> int:
        """Series from here on (the finance-only trusts) carry no waiting-list, diagnostic or cancer metrics."""
        return self.specialty_series_offset() + len(self.specialty_codes) + len(self.test_codes)

    def finance_trust_series(self, codes: tuple[str, ...], icb: np.ndarray) -> np.ndarray:
        """int ``[trust, 4]``: national, region, ICB and own series of each trust in ``codes``.

        Raises:
            ValueError: a trust that is neither an RTT trust nor a finance-only trust of this geography.
        """
        own = {c: 1 + len(self.region_codes) + len(self.icb_codes) + i for i, c in enumerate(self.trust_codes)}
        own.update({c: self.patient_series_end() + i for i, c in enumerate(self.other_trust_codes)})
        missing = [c for c in codes if c not in own]
        if missing:
            raise ValueError(f"trusts without a series: {', '.join(missing[:5])}")
        icb = np.asarray(icb, dtype=np.int64)
        region = np.asarray(self.icb_region, dtype=np.int64)[icb]
        n_regions = len(self.region_codes)
        return np.stack([np.zeros_like(icb), 1 + region, 1 + n_regions + icb,
                         np.array([own[c] for c in codes], dtype=np.int64)], axis=1)

    def specialty_series_offset(self) -> int:
        return 1 + len(self.region_codes) + len(self.icb_codes) + len(self.trust_codes)
