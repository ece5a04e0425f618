"""Trusts' start lists: stretched national shape, raked to the national counts and trust lists."""

import numpy as np
import pytest

from sim.engine.census import wait_metrics
from sim.trust_start import rake, stretch_for_pct, stretched_counts, trust_start_counts

BINS = 106


def _national(size=1e6, mean_weeks=20.0):
    w = np.arange(BINS, dtype=float)
    s = np.exp(-np.maximum(w - 1, 0) / mean_weeks) - np.exp(-w / mean_weeks)
    s[0] = 0.0
    s[-1] = np.exp(-(BINS - 2) / mean_weeks)
    return size * s / s.sum()


def _pct18(counts):
    return wait_metrics(counts[None], 0)["rtt_within_18w_pct"][0]


def test_no_stretch_returns_the_national_shape():
    nat = _national()
    np.testing.assert_allclose(stretched_counts(nat, 1.0, nat.sum()), nat, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("pct", [40.0, 55.0, 70.0, 85.0])
def test_stretch_hits_the_trust_percentage(pct):
    nat = _national()
    counts = stretched_counts(nat, stretch_for_pct(nat, pct), 5e4)
    assert counts.sum() == pytest.approx(5e4)
    assert _pct18(counts) == pytest.approx(pct, abs=0.1)


def test_raking_matches_both_margins():
    rng = np.random.default_rng(0)
    seed = rng.random((5, BINS)) + 0.01
    rows = rng.random(5) * 100
    cols = rng.random(BINS)
    cols *= rows.sum() / cols.sum()
    table = rake(seed, rows, cols)
    np.testing.assert_allclose(table.sum(axis=1), rows, rtol=1e-8)
    np.testing.assert_allclose(table.sum(axis=0), cols, rtol=1e-6)


def test_trust_lists_keep_national_counts_and_their_own_order():
    nat = _national()
    lists = np.array([1e5, 3e5, 6e5])
    pct = np.array([50.0, 60.0, np.nan])  # NaN: national shape before raking
    table = trust_start_counts(nat, lists, pct)
    np.testing.assert_allclose(table.sum(axis=0), nat, rtol=1e-6)
    np.testing.assert_allclose(table.sum(axis=1), lists, rtol=1e-8)
    got = [_pct18(row) for row in table]
    assert got[0] < got[1]  # the slower trust stays slower after raking
    assert got[0] == pytest.approx(50.0, abs=3.0) and got[1] == pytest.approx(60.0, abs=3.0)
