"""The DM01 diagnostic waiting list and activity per provider and test, ready for an engine.

NHS England's DM01 return counts, for each provider and each of the 15 key
diagnostic tests, the patients waiting at month end by completed weeks
(bands w00..w12 and one 13+ weeks count) and the tests done in the month:
planned (at a set interval, not on the list), unscheduled (emergency or
inpatient) and waiting-list tests (patients taken off the list). This module
turns the shipped provider-by-test file (:func:`sim.reference.dm01_provider`)
into one row per provider x test: the list at a census month in weekly engine
bins, and per-working-day rates over a window of months before it.

Engine bins (the RTT engine's convention, as read by
``sim.engine.census.share_within`` with ``days_since_ageing=0`` at the start
census): bin 0 is empty at the census; bin ``k + 1`` holds DM01 band
``w{k:02d}`` (waits of ``k`` to ``k + 1`` completed weeks), k = 0..12; the 13+
weeks count is spread over bins 14..26 with a geometric tail, ``over_13w x (1 -
r) r^j`` in bin ``14 + j`` for j = 0..11 and the rest (``over_13w x r^12``) in
the open bin 26. The ratio ``r`` is fitted per test on the national list at the
census month so that the tail carries on from the bands without a step: its
first bin holds ``w12 x d``, where ``d`` is the weekly decline of the bands
``(w09 + .. + w12) / (w08 + .. + w11)`` (which tolerates empty bands), so
``r = 1 - w12 x d / over_13w``, clipped to ``TAIL_RATIO_BOUNDS``; a test with
no patients in w08..w11 takes the all-tests decline. Row totals equal the
published list and bins 7..26 the published over 6 weeks (bands w06+ and 13+)
to floating-point rounding. Only totals beyond 13 weeks are data; the tail's
shape is an assumption.

Rates over the window (the ``window_months`` months ending at the census
month, cut to the months the file holds; at least ``MIN_WINDOW_MONTHS``):
tests per working day are the window's tests over its England working days
(:func:`sim.calendar.working_days_in_month`). Waiting-list additions per
working day come from the list balance, additions = waiting-list tests + list
at the window's last month - list at the month before its first month, over
the window's working days. When the file does not hold the month before the
window, the list at the window's first month is the opening list and that
month's tests and working days are left out. Additions are floored at 0. A
provider x test absent from a month (no return, or no service yet) counts as
zero that month; this happens for a few small independent-sector providers.

Providers: NHS trusts merged away before April 2025 (sim/data/trust_successors.csv)
are summed into their successor. A provider whose code is a trust of the
:class:`sim.world.World` is placed at that trust (and its region); the others
(independent-sector and other providers, and trusts closed without a listed
successor) keep their DM01 code and DM01 region.

Source: NHS England, Monthly Diagnostics Web File - Provider by Test,
August 2024 to March 2025 (sim/data/SOURCES.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim import reference as ref
from sim.calendar import add_months, parse_month, working_days_in_month
from sim.service_data import ServiceData, check_dm01_rows, shipped_service_data
from sim.world import World

#: The 15 DM01 tests: (key, DM01 test_id, DM01 test name).
DIAG_TESTS: tuple[tuple[str, int, str], ...] = (
    ("mri", 1, "Magnetic Resonance Imaging"),
    ("ct", 2, "Computed Tomography"),
    ("ultrasound", 3, "Non-obstetric Ultrasound"),
    ("barium_enema", 4, "Barium Enema"),
    ("dexa", 5, "DEXA Scan"),
    ("audiology", 6, "Audiology - Audiology Assessments"),
    ("echocardiography", 7, "Cardiology - Echocardiography"),
    ("electrophysiology", 8, "Cardiology - Electrophysiology"),
    ("neurophysiology", 9, "Neurophysiology - Peripheral Neurophysiology"),
    ("sleep_studies", 10, "Respiratory physiology - Sleep Studies"),
    ("urodynamics", 11, "Urodynamics - Pressures & Flows"),
    ("colonoscopy", 12, "Colonoscopy"),
    ("flexi_sigmoidoscopy", 13, "Flexi Sigmoidoscopy"),
    ("cystoscopy", 14, "Cystoscopy"),
    ("gastroscopy", 15, "Gastroscopy"),
)
#: Weekly engine bins; the last is open-ended.
DIAG_BINS = 27
#: Bins holding DM01 bands w00..w12 start here (bin 0 is empty at the census).
FIRST_BAND_BIN = 1
#: First bin of the 13+ weeks tail (waits of 13 to 14 completed weeks).
TAIL_FIRST_BIN = FIRST_BAND_BIN + len(ref.DM01_WEEK_BANDS)
#: First bin counted as waiting 6 weeks or more (band w06).
OVER_6W_FIRST_BIN = FIRST_BAND_BIN + 6
#: Bounds of the fitted geometric tail ratio (per week).
TAIL_RATIO_BOUNDS = (0.5, 0.97)
#: Bands whose decline sets the tail ratio.
TAIL_FIT_BANDS = ("w08", "w09", "w10", "w11", "w12")
MIN_WINDOW_MONTHS = 3

_TEST_COLUMNS = ("planned_tests", "unscheduled_tests", "waiting_list_tests")
_KEYS = ["month", "provider_code", "test_id"]


@dataclass(frozen=True)
class DiagnosticProviders:
    """DM01 providers x tests at a census month, with rates over a window (read-only arrays).

    Attributes:
        provider_codes: world trust code (after successor mapping) for NHS
            trusts, the DM01 code for other providers; sorted.
        provider_names: world trust names for world trusts, else the DM01 name
            at the latest month used.
        provider_trust: int64 ``[provider]`` position in ``world.trust_codes``,
            -1 if not a world trust.
        provider_region: int64 ``[provider]`` position in ``world.region_codes``
            (``world.trust_region`` for world trusts, else the DM01 region code).
        row_provider: int64 ``[row]`` provider position; rows sorted by
            (provider code, test index).
        row_test: int64 ``[row]`` index into :data:`DIAG_TESTS`.
        start_counts: float64 ``[row, DIAG_BINS]`` patients waiting at the end
            of the census month, by engine bin (module docstring).
        waiting_list_tests_per_wd: float64 ``[row]`` waiting-list tests per
            England working day, over the window.
        planned_tests_per_wd: float64 ``[row]`` planned tests per working day.
        unscheduled_tests_per_wd: float64 ``[row]`` unscheduled tests per
            working day.
        additions_per_wd: float64 ``[row]`` waiting-list additions per working
            day from the list balance (module docstring), floored at 0.
        window: first and last month (``YYYY-MM``) of the rate window.
        census_month: month of ``start_counts``.
        census_tests_performed: float64 ``[row]`` planned + unscheduled +
            waiting-list tests in the census month.
        tail_ratio: float64 ``[test]`` geometric ratio of the 13+ weeks tail.
    """

    provider_codes: tuple[str, ...]
    provider_names: tuple[str, ...]
    provider_trust: np.ndarray
    provider_region: np.ndarray
    row_provider: np.ndarray
    row_test: np.ndarray
    start_counts: np.ndarray
    waiting_list_tests_per_wd: np.ndarray
    planned_tests_per_wd: np.ndarray
    unscheduled_tests_per_wd: np.ndarray
    additions_per_wd: np.ndarray
    window: tuple[str, str]
    census_month: str
    census_tests_performed: np.ndarray
    tail_ratio: np.ndarray

    @property
    def n_providers(self) -> int:
        """Number of providers."""
        return len(self.provider_codes)

    @property
    def n_rows(self) -> int:
        """Number of provider x test rows."""
        return len(self.row_provider)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


# ------------------------------------------------------------- pure pieces
def merge_successors(frame: pd.DataFrame, successors: Mapping[str, str]) -> pd.DataFrame:
    """Sum providers merged away into their successors, month by month.

    Args:
        frame: DM01 rows with ``month``, ``provider_code``, ``test_id``; every
            other numeric column is a count and is summed; text columns take
            the successor's own value where it has a row that month (else the
            first merged row's).
        successors: old code -> successor code (chains are followed).

    Returns:
        A new frame, one row per (month, provider_code, test_id), sorted by them.

    Raises:
        ValueError: the successor map has a cycle.
    """
    final = ref.follow_successors(successors)
    out = frame.copy()
    now = out["provider_code"].map(lambda c: final.get(str(c), str(c)))
    out["_merged"] = out["provider_code"] != now
    out["provider_code"] = now
    out = out.sort_values("_merged", kind="stable").drop(columns="_merged")
    others = [c for c in out.columns if c not in _KEYS]
    summed = [c for c in others if pd.api.types.is_numeric_dtype(out[c])]
    agg = {c: ("sum" if c in summed else "first") for c in others}
    return out.groupby(_KEYS, sort=True, as_index=False).agg(agg)


def fit_tail_ratios(fit_bands: np.ndarray, over_13w: np.ndarray) -> np.ndarray:
    """Weekly geometric ratio of the 13+ tail per test, continuing the bands without a step.

    Args:
        fit_bands: float ``[test, 5]`` national counts in bands w08..w12.
        over_13w: float ``[test]`` national count waiting 13 weeks or more.

    Returns:
        float64 ``[test]``: ``1 - w12 x d / over_13w`` with the band decline
        ``d = sum(w09..w12) / sum(w08..w11)`` (the all-tests decline where a test
        has nobody in w08..w11), clipped to TAIL_RATIO_BOUNDS.
    """
    bands = np.asarray(fit_bands, dtype=np.float64)
    over = np.asarray(over_13w, dtype=np.float64)
    later, earlier = bands[:, 1:].sum(axis=1), bands[:, :-1].sum(axis=1)
    pooled = later.sum() / earlier.sum() if earlier.sum() > 0 else TAIL_RATIO_BOUNDS[1]
    decline = np.where(earlier > 0, later / np.where(earlier > 0, earlier, 1.0), pooled)
    ratio = np.where(over > 0, 1.0 - bands[:, -1] * decline / np.where(over > 0, over, 1.0), TAIL_RATIO_BOUNDS[0])
    return np.clip(ratio, *TAIL_RATIO_BOUNDS)


def spread_counts(bands: np.ndarray, over_13w: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """Engine bins from DM01 weekly bands and the 13+ count (module docstring).

    Args:
        bands: float ``[row, 13]`` patients in bands w00..w12.
        over_13w: float ``[row]`` patients waiting 13 weeks or more.
        ratio: float ``[row]`` geometric ratio of each row's tail.

    Returns:
        float64 ``[row, DIAG_BINS]``; each row sums to bands + over_13w.
    """
    bands = np.asarray(bands, dtype=np.float64)
    over = np.asarray(over_13w, dtype=np.float64)
    r = np.asarray(ratio, dtype=np.float64)[:, None]
    counts = np.zeros((bands.shape[0], DIAG_BINS))
    counts[:, FIRST_BAND_BIN:TAIL_FIRST_BIN] = bands
    n_closed = DIAG_BINS - 1 - TAIL_FIRST_BIN
    counts[:, TAIL_FIRST_BIN:-1] = over[:, None] * (1.0 - r) * r ** np.arange(n_closed)
    # The open bin takes the rest (over_13w x r^12), so the tail sums to over_13w.
    counts[:, -1] = over - counts[:, TAIL_FIRST_BIN:-1].sum(axis=1)
    return counts


def rate_window(months: tuple[str, ...], census_month: str, window_months: int,
                label: str = "the DM01 provider data") -> tuple[tuple[str, ...], str | None]:
    """The months of the rate window and the month before it, if held.

    Args:
        months: months the file holds, consecutive and ascending.
        census_month: last month of the window.
        window_months: wanted length.

    Returns:
        ``(window, before)``: window months ascending; ``before`` is the month
        before the window's first, or None if the file does not hold it.

    Raises:
        ValueError: census month not held, or fewer than MIN_WINDOW_MONTHS months.
    """
    parse_month(census_month)
    if census_month not in months:
        raise ValueError(f"census_month {census_month!r} is not in {label}; months available: "
                         f"{', '.join(months)}")
    if window_months < MIN_WINDOW_MONTHS:
        raise ValueError(f"window_months must be at least {MIN_WINDOW_MONTHS}, got {window_months}")
    wanted = [add_months(census_month, k) for k in range(1 - window_months, 1)]
    window = tuple(m for m in wanted if m in months)
    if len(window) < MIN_WINDOW_MONTHS:
        raise ValueError(f"census_month {census_month!r} leaves {len(window)} month(s) of DM01 data for "
                         f"rates; at least {MIN_WINDOW_MONTHS} are needed (data start {months[0]})")
    before = add_months(window[0], -1)
    return window, (before if before in months else None)


def _working_days(months: tuple[str, ...]) -> float:
    return float(sum(working_days_in_month(*parse_month(m)) for m in months))


# ------------------------------------------------------------------ builder
def _checked_dm01(data: ServiceData) -> pd.DataFrame:
    df = data.dm01_provider.copy()
    check_dm01_rows(df, data.files["dm01_provider"])
    ids = {test_id: i for i, (_, test_id, _) in enumerate(DIAG_TESTS)}
    df["test_id"] = df["test_id"].astype(int).map(ids).astype(np.int64)  # now the DIAG_TESTS index
    return df


def diagnostic_providers(world: World, census_month: str, window_months: int = 6,
                         data: ServiceData | None = None) -> DiagnosticProviders:
    """DM01 start list and rates per provider x test (module docstring for every rule).

    Args:
        world: the World whose trusts and regions providers are placed in.
        census_month: ``YYYY-MM`` month-end of the start list.
        window_months: months of the rate window, ending at the census month.
        data: the DM01 provider table to read (default: the shipped one).

    Returns:
        Rows are provider x test with a waiting list or any tests in a window
        month (the census month included), sorted by (provider code, test).

    Raises:
        ValueError: census month not in the file (naming the months held), or
            fewer than MIN_WINDOW_MONTHS months of data for rates.
        ReferenceDataError: unknown test, or lists that differ from their bands.
    """
    data = data or shipped_service_data()
    df = _checked_dm01(data)
    window, before = rate_window(tuple(sorted(df["month"].unique())), census_month, window_months,
                                 data.files["dm01_provider"])
    successors = ref.trust_successors().set_index("org_code")["successor_code"].to_dict()
    used = window if before is None else (before, *window)
    df = merge_successors(df[df["month"].isin(used)], successors)

    measures = ["waiting_list", *_TEST_COLUMNS]
    in_window = df[df["month"].isin(window)]
    active = in_window[in_window[measures].sum(axis=1) > 0]
    rows = pd.MultiIndex.from_frame(active[["provider_code", "test_id"]].drop_duplicates()).sort_values()
    by_month = df.set_index(["provider_code", "test_id", "month"])

    def table(column: str, months: tuple[str, ...]) -> np.ndarray:
        wide = by_month[column].unstack("month").reindex(index=rows, columns=list(months))
        return wide.fillna(0.0).to_numpy(dtype=np.float64)

    census = by_month.xs(census_month, level="month").reindex(rows)
    # National fit at the census month (rows outside `rows` have no list, so this is national).
    national = census.groupby(level="test_id")[list(TAIL_FIT_BANDS) + ["over_13w"]].sum()
    national = national.reindex(range(len(DIAG_TESTS))).fillna(0.0)
    tail_ratio = fit_tail_ratios(national[list(TAIL_FIT_BANDS)].to_numpy(), national["over_13w"].to_numpy())
    row_test = rows.get_level_values("test_id").to_numpy(dtype=np.int64)
    start = spread_counts(census[list(ref.DM01_WEEK_BANDS)].fillna(0.0).to_numpy(),
                          census["over_13w"].fillna(0.0).to_numpy(), tail_ratio[row_test])

    wd = _working_days(window)
    rates = {c: table(c, window).sum(axis=1) / wd for c in _TEST_COLUMNS}
    if before is not None:
        opening, removed, balance_wd = table("waiting_list", (before,))[:, 0], table(
            "waiting_list_tests", window).sum(axis=1), wd
    else:
        opening, removed, balance_wd = table("waiting_list", window[:1])[:, 0], table(
            "waiting_list_tests", window[1:]).sum(axis=1), _working_days(window[1:])
    closing = table("waiting_list", (census_month,))[:, 0]
    additions = np.maximum((removed + closing - opening) / balance_wd, 0.0)

    codes = tuple(sorted(set(rows.get_level_values("provider_code"))))
    latest = df.sort_values("month").groupby("provider_code")[["provider_name", "region_code"]].last()
    trust_pos = {c: i for i, c in enumerate(world.trust_codes)}
    region_pos = {c: i for i, c in enumerate(world.region_codes)}
    unknown = sorted(set(latest.loc[list(codes), "region_code"]) - set(region_pos))
    if unknown:
        raise ref.ReferenceDataError(data.files["dm01_provider"], f"region code {unknown[0]} is not a World region "
                                     f"({', '.join(world.region_codes)})", None, "region_code")
    provider_trust = np.array([trust_pos.get(c, -1) for c in codes], dtype=np.int64)
    provider_region = np.array([world.trust_region[t] if t >= 0 else region_pos[latest.at[c, "region_code"]]
                                for c, t in zip(codes, provider_trust)], dtype=np.int64)
    names = tuple(world.trust_names[t] if t >= 0 else str(latest.at[c, "provider_name"])
                  for c, t in zip(codes, provider_trust))
    provider_of = {c: i for i, c in enumerate(codes)}
    census_tests = sum(table(c, (census_month,))[:, 0] for c in _TEST_COLUMNS)
    return DiagnosticProviders(
        provider_codes=codes,
        provider_names=names,
        provider_trust=_frozen(provider_trust),
        provider_region=_frozen(provider_region),
        row_provider=_frozen(np.array([provider_of[c] for c in rows.get_level_values("provider_code")],
                                      dtype=np.int64)),
        row_test=_frozen(row_test),
        start_counts=_frozen(start),
        waiting_list_tests_per_wd=_frozen(rates["waiting_list_tests"]),
        planned_tests_per_wd=_frozen(rates["planned_tests"]),
        unscheduled_tests_per_wd=_frozen(rates["unscheduled_tests"]),
        additions_per_wd=_frozen(additions),
        window=(window[0], window[-1]),
        census_month=census_month,
        census_tests_performed=_frozen(census_tests),
        tail_ratio=_frozen(tail_ratio),
    )


def national_check(providers: DiagnosticProviders) -> dict[str, float | str]:
    """England totals at the census month, to set beside :func:`sim.reference.diagnostics_national`.

    Returns:
        ``month``; ``waiting_list``, ``over_6w`` (patients at month end, from
        ``start_counts``: bins OVER_6W_FIRST_BIN+); ``pct_over_6w`` (0-100);
        ``tests_performed`` (planned + unscheduled + waiting-list tests in the
        census month).
    """
    total = float(providers.start_counts.sum())
    over_6w = float(providers.start_counts[:, OVER_6W_FIRST_BIN:].sum())
    return {
        "month": providers.census_month,
        "waiting_list": total,
        "over_6w": over_6w,
        "pct_over_6w": 100.0 * over_6w / total if total > 0 else float("nan"),
        "tests_performed": float(providers.census_tests_performed.sum()),
    }
