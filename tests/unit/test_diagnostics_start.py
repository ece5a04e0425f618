"""Tests for sim.diagnostics_start: the DM01 start list and rates per provider x test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import reference as ref
from sim.calendar import working_days_in_month
from sim.diagnostics_start import (
    DIAG_BINS,
    DIAG_TESTS,
    OVER_6W_FIRST_BIN,
    TAIL_FIRST_BIN,
    diagnostic_providers,
    fit_tail_ratios,
    merge_successors,
    national_check,
    rate_window,
    spread_counts,
)
from sim.engine.census import share_within
from sim.world import load_world

BANDS = list(ref.DM01_WEEK_BANDS)
MONTHS = ("2025-03", "2024-12")


@pytest.fixture(scope="module")
def world():
    return load_world()


@pytest.fixture(scope="module")
def providers(world):
    return {m: diagnostic_providers(world, m) for m in MONTHS}


@pytest.fixture(scope="module")
def dm01():
    return ref.dm01_provider()


def file_rows(dm01: pd.DataFrame, month: str) -> pd.DataFrame:
    """The file's rows at a month, merged trusts summed, indexed by (provider, test index)."""
    successors = ref.trust_successors().set_index("org_code")["successor_code"].to_dict()
    rows = merge_successors(dm01[dm01["month"] == month], successors)
    index = {test_id: i for i, (_, test_id, _) in enumerate(DIAG_TESTS)}
    rows["test"] = rows["test_id"].astype(int).map(index)
    return rows.set_index(["provider_code", "test"])[["waiting_list", "over_6w", *BANDS]]


def row_keys(p):
    return list(zip([p.provider_codes[i] for i in p.row_provider], p.row_test.tolist()))


# ------------------------------------------------------------- start totals
@pytest.mark.parametrize("month", MONTHS)
def test_totals_reproduce_the_file_nationally_and_per_test(providers, dm01, month):
    p = providers[month]
    rows = dm01[dm01["month"] == month]
    over_6w = p.start_counts[:, OVER_6W_FIRST_BIN:].sum(axis=1)
    assert p.start_counts.sum() == pytest.approx(rows["waiting_list"].sum(), abs=1e-6)
    assert over_6w.sum() == pytest.approx(rows["over_6w"].sum(), abs=1e-6)
    for t, (_, test_id, name) in enumerate(DIAG_TESTS):
        of_test = rows[rows["test_id"] == test_id]
        assert set(of_test["test_name"]) == {name}
        mine = p.row_test == t
        assert p.start_counts[mine].sum() == pytest.approx(of_test["waiting_list"].sum(), abs=1e-6)
        assert over_6w[mine].sum() == pytest.approx(of_test["over_6w"].sum(), abs=1e-6)


@pytest.mark.parametrize("month", MONTHS)
def test_every_row_reproduces_its_list_and_over_6_weeks(providers, dm01, month):
    p = providers[month]
    expected = file_rows(dm01, month).reindex(row_keys(p)).fillna(0.0)
    np.testing.assert_allclose(p.start_counts.sum(axis=1), expected["waiting_list"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(p.start_counts[:, OVER_6W_FIRST_BIN:].sum(axis=1), expected["over_6w"],
                               rtol=0, atol=1e-9)
    # Bands sit one bin up (bin 0 is empty at the census).
    assert np.all(p.start_counts[:, 0] == 0.0)
    np.testing.assert_array_equal(p.start_counts[:, 1:TAIL_FIRST_BIN], expected[BANDS].to_numpy())
    assert np.all(p.start_counts >= 0.0)


def test_engine_share_within_6_weeks_matches_the_file_per_row(providers, dm01):
    p = providers["2025-03"]
    expected = file_rows(dm01, "2025-03").reindex(row_keys(p)).fillna(0.0)
    within = (p.start_counts * share_within(DIAG_BINS, 0, 42)).sum(axis=1)
    total = p.start_counts.sum(axis=1)
    has_list = total > 0
    assert has_list.sum() > 2000
    share_over = 1.0 - within[has_list] / total[has_list]
    file_share = (expected["over_6w"] / expected["waiting_list"]).to_numpy()[has_list]
    np.testing.assert_allclose(share_over, file_share, rtol=0, atol=1e-12)


@pytest.mark.parametrize("month", MONTHS)
def test_national_check_matches_diagnostics_national(providers, month):
    mine = national_check(providers[month])
    published = ref.diagnostics_national().set_index("month").loc[month]
    assert mine["month"] == month
    for key in ("waiting_list", "over_6w", "tests_performed"):
        # Measured difference: 0 for every month (the provider file sums to the England row).
        assert mine[key] == pytest.approx(published[key], rel=0.005), key
    assert mine["pct_over_6w"] == pytest.approx(published["pct_over_6w"], abs=0.01)


# ------------------------------------------------------------- tail shape
def test_geometric_tail_by_hand():
    counts = spread_counts(np.zeros((1, 13)), np.array([4096.0]), np.array([0.5]))
    expected_tail = [2048.0, 1024.0, 512.0, 256.0, 128.0, 64.0, 32.0, 16.0, 8.0, 4.0, 2.0, 1.0, 1.0]
    np.testing.assert_array_equal(counts[0, TAIL_FIRST_BIN:], expected_tail)
    assert counts.shape == (1, DIAG_BINS) and counts[0, :TAIL_FIRST_BIN].sum() == 0.0


def test_geometric_tail_sums_to_over_13w_for_any_ratio():
    over = np.array([0.0, 1.0, 103422.0, 7.5])
    counts = spread_counts(np.ones((4, 13)), over, np.array([0.5, 0.7, 0.95, 0.81]))
    np.testing.assert_allclose(counts[:, TAIL_FIRST_BIN:].sum(axis=1), over, rtol=1e-15, atol=0)
    np.testing.assert_allclose(counts.sum(axis=1), over + 13.0, rtol=1e-15)
    tail = counts[:, TAIL_FIRST_BIN:-1]
    assert np.all(np.diff(tail, axis=1) <= 0.0)  # geometric decline


def test_tail_ratio_fit_clip_and_fallback():
    halving = [16.0, 8.0, 4.0, 2.0, 1.0]
    flat = [5.0, 5.0, 5.0, 5.0, 5.0]
    steep = [100.0, 10.0, 1.0, 0.1, 0.01]
    # First tail bin continues the bands: over x (1 - r) = w12 x decline.
    np.testing.assert_allclose(fit_tail_ratios(np.array([halving, flat, steep]), np.array([1.0, 50.0, 0.01])),
                               [0.5, 0.9, 0.9])
    np.testing.assert_allclose(fit_tail_ratios(np.array([flat]), np.array([1000.0])), [0.97])  # clipped
    # 1 - 1 x 0.5 / 2 = 0.75; nobody in w08..w11: the all-tests decline (15 + 3) / 30 = 0.6, 1 - 3 x 0.6 / 6 = 0.7.
    empty = [0.0, 0.0, 0.0, 0.0, 3.0]
    np.testing.assert_allclose(fit_tail_ratios(np.array([halving, empty]), np.array([2.0, 6.0])), [0.75, 0.7])


def test_fitted_ratios_are_national_and_within_bounds(providers, dm01):
    p = providers["2025-03"]
    rows = dm01[dm01["month"] == "2025-03"]
    mri = rows[rows["test_id"] == 1][BANDS[8:]].sum()
    over = rows[rows["test_id"] == 1]["over_13w"].sum()
    assert p.tail_ratio[0] == pytest.approx(1.0 - mri.iloc[-1] * (mri[1:].sum() / mri[:-1].sum()) / over)
    assert p.tail_ratio.shape == (15,) and np.all((p.tail_ratio >= 0.5) & (p.tail_ratio <= 0.97))


# ------------------------------------------------------------- providers
def test_successor_merging_on_a_synthetic_frame():
    frame = pd.DataFrame({
        "month": ["2024-12"] * 4 + ["2025-01"],
        "region_code": ["Y56", "Y56", "Y59", "Y56", "Y56"],
        "provider_code": ["OLD", "NEW", "OLDER", "OTHER", "OLD"],
        "provider_name": ["Old", "New", "Older", "Other", "Old"],
        "test_id": [1.0, 1.0, 1.0, 1.0, 2.0],
        "waiting_list": [10.0, 5.0, 1.0, 7.0, 3.0],
    })
    out = merge_successors(frame, {"OLDER": "OLD", "OLD": "NEW"})
    assert list(zip(out["month"], out["provider_code"], out["waiting_list"], out["provider_name"])) == [
        ("2024-12", "NEW", 16.0, "New"), ("2024-12", "OTHER", 7.0, "Other"), ("2025-01", "NEW", 3.0, "Old")]
    assert list(frame["provider_code"]) == ["OLD", "NEW", "OLDER", "OTHER", "OLD"]  # input untouched
    with pytest.raises(ValueError, match="cycle"):
        merge_successors(frame, {"OLD": "NEW", "NEW": "OLD"})


def test_merged_trust_is_summed_into_its_successor(providers, dm01, world):
    successors = ref.trust_successors()
    old, new = successors["org_code"].iloc[0], successors["successor_code"].iloc[0]
    assert (old, new) == ("RAP", "RAL") and old in set(dm01["provider_code"])
    p = providers["2024-12"]  # both trusts still reported separately in December 2024
    assert old not in p.provider_codes
    mine = p.row_provider == p.provider_codes.index(new)
    rows = dm01[(dm01["month"] == "2024-12") & dm01["provider_code"].isin([old, new])]
    assert rows["provider_code"].nunique() == 2
    assert p.start_counts[mine].sum() == pytest.approx(rows["waiting_list"].sum())
    assert p.provider_trust[p.provider_codes.index(new)] == world.trust_codes.index(new)


def test_providers_map_to_trusts_and_regions(providers, world):
    for p in providers.values():
        assert list(p.provider_codes) == sorted(set(p.provider_codes))
        keys = row_keys(p)
        assert keys == sorted(set(keys))
        assert np.all((p.provider_region >= 0) & (p.provider_region < world.n_regions))
        assert set(p.row_provider.tolist()) == set(range(p.n_providers))
        is_trust = p.provider_trust >= 0
        assert 150 <= is_trust.sum() <= world.n_trusts
        for i in np.flatnonzero(is_trust):
            t = p.provider_trust[i]
            assert world.trust_codes[t] == p.provider_codes[i]
            assert p.provider_region[i] == world.trust_region[t]
        assert not any(c in world.trust_codes for c in np.array(p.provider_codes)[~is_trust])
        assert not p.start_counts.flags.writeable and not p.additions_per_wd.flags.writeable


# ------------------------------------------------------------- rates
def test_rates_and_additions_by_hand_with_the_month_before(providers, dm01):
    p = providers["2025-03"]
    assert p.window == ("2024-10", "2025-03") and p.census_month == "2025-03"
    r = row_keys(p).index(("RAL", 0))
    months = ["2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03"]
    rows = dm01[dm01["provider_code"].isin(["RAL", "RAP"]) & (dm01["test_id"] == 1)]
    by_month = rows.groupby("month")[["waiting_list", "waiting_list_tests", "planned_tests"]].sum()
    wd = sum(working_days_in_month(int(m[:4]), int(m[5:])) for m in months)
    assert wd == 127  # Oct 23, Nov 21, Dec 20, Jan 22, Feb 20, Mar 21
    tests = by_month.loc[months, "waiting_list_tests"].sum()
    assert p.waiting_list_tests_per_wd[r] == pytest.approx(tests / wd)
    assert p.planned_tests_per_wd[r] == pytest.approx(by_month.loc[months, "planned_tests"].sum() / wd)
    change = by_month.at["2025-03", "waiting_list"] - by_month.at["2024-09", "waiting_list"]
    assert p.additions_per_wd[r] == pytest.approx(max(tests + change, 0.0) / wd)


def test_additions_without_the_month_before_start_from_the_first_month(providers, dm01):
    p = providers["2024-12"]
    assert p.window == ("2024-08", "2024-12")  # the file starts in August 2024
    r = row_keys(p).index(("RF4", 0))
    rows = dm01[(dm01["provider_code"] == "RF4") & (dm01["test_id"] == 1)].set_index("month")
    later = ["2024-09", "2024-10", "2024-11", "2024-12"]
    wd = sum(working_days_in_month(int(m[:4]), int(m[5:])) for m in later)
    balance = (rows.loc[later, "waiting_list_tests"].sum() + rows.at["2024-12", "waiting_list"]
               - rows.at["2024-08", "waiting_list"])
    assert p.additions_per_wd[r] == pytest.approx(max(balance, 0.0) / wd)
    assert np.all(p.additions_per_wd >= 0.0)
    # Nationally additions are close to waiting-list tests (the list changes slowly).
    assert p.additions_per_wd.sum() == pytest.approx(p.waiting_list_tests_per_wd.sum(), rel=0.05)


# ------------------------------------------------------------- errors
def test_census_month_outside_the_data_raises(world):
    with pytest.raises(ValueError, match=r"'2025-04' is not in .*months available: 2024-08, .*2025-03"):
        diagnostic_providers(world, "2025-04")
    with pytest.raises(ValueError, match="at least 3"):
        diagnostic_providers(world, "2024-09")
    with pytest.raises(ValueError, match="window_months"):
        rate_window(("2024-08", "2024-09", "2024-10"), "2024-10", 2)
    assert rate_window(("2024-08", "2024-09", "2024-10", "2024-11"), "2024-11", 3) == (
        ("2024-09", "2024-10", "2024-11"), "2024-08")
