"""Tests for sim.world: geography, trust kinds, RTT placement, user trusts files."""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from sim import reference as ref
from sim.reference import ReferenceDataError
from sim.world import classify_trust, load_world


@pytest.fixture(scope="module")
def world():
    return load_world()


@pytest.fixture(scope="module")
def example_path() -> Path:
    return Path(str(resources.files("sim.data").joinpath("example_trusts.csv")))


def position(codes, code):
    return codes.index(code)


# ------------------------------------------------------------------ geography
def test_seven_regions_with_ods_codes(world):
    assert world.region_codes == ("Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63")
    assert world.region_names[0] == "London" and world.region_names[-1] == "North East and Yorkshire"
    assert world.n_regions == 7


def test_42_icbs_each_in_a_region(world):
    assert world.n_icbs == 42 and len(set(world.icb_codes)) == 42
    assert world.icb_region.dtype == np.int64
    assert set(world.icb_region) == set(range(7))
    # Region labels in icbs.csv agree with the ODS codes derived from trusts.
    london = world.region_codes.index("Y56")
    assert world.icb_region[position(world.icb_codes, "QMJ")] == london
    assert (np.bincount(world.icb_region) == [5, 7, 6, 11, 6, 3, 4]).all()


def test_icb_population_is_2025_26(world):
    assert world.icb_population.shape == (42,)
    assert world.icb_population.sum() == pytest.approx(63_849_324, abs=1)
    assert (world.icb_population > 200_000).all()


def test_every_rtt_trust_has_an_icb_and_a_region(world):
    assert (world.rtt_trust_icb >= 0).all() and (world.rtt_trust_icb < world.n_icbs).all()
    assert (world.rtt_trust_region >= 0).all() and (world.rtt_trust_region < world.n_regions).all()
    # A trust's region is its host ICB's region, so trust rows sum consistently.
    assert (world.rtt_trust_region == world.icb_region[world.rtt_trust_icb]).all()
    assert set(world.rtt_trust_region) == set(range(7))


@pytest.mark.parametrize(("trust", "icb", "region"), [
    ("RHQ", "QF7", "Y63"),  # Sheffield Teaching Hospitals: NHS South Yorkshire ICB
    ("RP6", "QMJ", "Y56"),  # Moorfields Eye Hospital: NHS North Central London ICB
    ("R0A", "QOP", "Y62"),  # Manchester University: NHS Greater Manchester ICB
])
def test_known_trusts_are_in_their_host_icb(world, trust, icb, region):
    t = position(world.trust_codes, trust)
    assert world.icb_codes[world.trust_icb[t]] == icb
    assert world.region_codes[world.trust_region[t]] == region


def test_trust_list_is_english_trusts_open_at_census(world):
    codes = set(world.trust_codes)
    assert "RAP" not in codes and "RAL" in codes  # North Middlesex joined Royal Free, Jan 2025
    assert "RQF" not in codes and "RT4" not in codes  # Welsh trusts
    assert "RRU" not in codes and "RX9" not in codes  # ambulance trusts
    assert "G6V2S" in codes  # opened Nov 2024
    assert len(codes) == world.n_trusts == 192


# ----------------------------------------------------------------- trust kinds
@pytest.mark.parametrize(("trust", "kind", "profile"), [
    ("RWE", "acute", ""), ("RP6", "specialist", "eye"), ("RBS", "specialist", "children"),
    ("RQ3", "specialist", "women_children"), ("RAN", "specialist", "orthopaedic"),
    ("RY6", "community", ""), ("RV5", "mental_health", ""), ("RH5", "acute", ""),
])
def test_trust_kinds(world, trust, kind, profile):
    t = position(world.trust_codes, trust)
    assert world.trust_kind[t] == kind and world.trust_profile[t] == profile


def test_kind_counts_and_rtt_carriers(world):
    kinds = np.array(world.trust_kind)
    counts = {k: int((kinds == k).sum()) for k in ("acute", "specialist", "community", "mental_health")}
    assert counts == {"acute": 118, "specialist": 16, "community": 13, "mental_health": 45}
    assert (world.carries_rtt == np.isin(kinds, ["acute", "specialist"])).all()
    assert world.n_rtt_trusts == 134
    assert (world.rtt_trust_index == np.flatnonzero(world.carries_rtt)).all()


def test_classify_trust_rules():
    assert classify_trust("North West Ambulance Service NHS Trust", 0) == ("ambulance", "")
    assert classify_trust("Bridgewater Community Healthcare NHS FT", 3495) == ("community", "")
    assert classify_trust("Anytown Hospitals NHS Trust", 999) == ("mental_health", "")
    assert classify_trust("Anytown Hospitals NHS Trust", 1000) == ("acute", "")


# ------------------------------------------------------------- RTT placement
def test_rtt_share_is_a_distribution(world):
    share = world.rtt_share
    assert share.dtype == np.float64
    assert share.shape == (world.n_rtt_trusts, world.n_specialties) == (134, 23)
    assert (share >= 0).all()
    assert share.sum() == pytest.approx(1.0, abs=1e-12)
    assert (share.sum(axis=1) > 0).all()
    assert world.rtt_start_list is None and world.rtt_share_basis == "activity_proxy"


def test_specialties_follow_the_curated_table(world):
    table = ref.specialty_shares()
    assert world.specialty_codes == tuple(table["treatment_function_code"])
    assert world.specialty_names[world.specialty_codes.index("C_110")] == "Trauma and Orthopaedic Service"


def test_general_acute_rows_follow_the_national_mix(world):
    national = ref.specialty_shares()["share_of_waiting_list"].to_numpy()
    row = world.rtt_trust_codes.index("RWE")
    mix = world.rtt_share[row] / world.rtt_share[row].sum()
    assert np.allclose(mix, national / national.sum(), atol=1e-12)


def test_specialist_rows_are_concentrated(world):
    codes = world.specialty_codes
    moorfields = world.rtt_share[world.rtt_trust_codes.index("RP6")]
    assert moorfields[codes.index("C_130")] == pytest.approx(moorfields.sum())
    alder_hey = world.rtt_share[world.rtt_trust_codes.index("RBS")]
    assert alder_hey[codes.index("X04")] > 0.9 * alder_hey.sum()


def test_proxy_tracks_march_2025_trust_lists(world):
    """The activity proxy against NHS-trust RTT lists of March 2025 (docs/DATA.md)."""
    totals = ref.rtt_trust_totals().set_index("org_code")["incomplete_pathways"]
    observed = totals.reindex(list(world.rtt_trust_codes)).fillna(0.0).to_numpy()
    observed = observed / observed.sum()
    proxy = world.rtt_share.sum(axis=1)
    assert np.corrcoef(proxy, observed)[0, 1] > 0.85
    assert 0.5 * np.abs(proxy - observed).sum() < 0.15


def test_world_arrays_are_read_only(world):
    with pytest.raises(ValueError):
        world.rtt_share[0, 0] = 1.0
    with pytest.raises(ValueError):
        world.trust_icb[0] = 0


def test_aggregation_arrays_sum_trusts_to_icbs(world):
    by_icb = np.bincount(world.rtt_trust_icb, weights=world.rtt_share.sum(axis=1), minlength=42)
    assert by_icb.sum() == pytest.approx(1.0, abs=1e-12)
    by_region = np.bincount(world.icb_region, weights=by_icb, minlength=7)
    direct = np.bincount(world.rtt_trust_region, weights=world.rtt_share.sum(axis=1), minlength=7)
    assert np.allclose(by_region, direct)


# --------------------------------------------------------- user trusts files
def test_user_trusts_file_reproduces_lists_exactly(example_path):
    w = load_world(example_path)
    assert w.rtt_share_basis == "user_trusts_file"
    with example_path.open(newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    assert set(w.rtt_trust_codes) == {r["org_code"] for r in rows} == {"RHQ", "RFR", "RFF"}
    assert int(w.carries_rtt.sum()) == 3
    for r in rows:
        i = w.rtt_trust_codes.index(r["org_code"])
        j = w.specialty_codes.index(r["treatment_function_code"])
        assert w.rtt_start_list[i, j] == float(r["waiting_list"])
        assert w.rtt_start_within_18w[i, j] == float(r["within_18w"])
        assert w.rtt_start_over_52w[i, j] == float(r["over_52w"])
    total = sum(float(r["waiting_list"]) for r in rows)
    assert w.rtt_start_list.sum() == total
    assert np.array_equal(w.rtt_share, w.rtt_start_list / total)
    assert {w.icb_codes[i] for i in w.rtt_trust_icb} == {"QF7"}
    # Non-RTT trusts stay in the world for finance and AFT.
    assert w.n_trusts == 192


def test_user_trusts_file_with_bom_and_only_required_columns(tmp_path):
    path = tmp_path / "trusts.csv"
    path.write_bytes(b"\xef\xbb\xbforg_code,treatment_function_code,waiting_list\r\nRWE,C_110,1200\r\n"
                     b"RWE,C_130,800\r\n")
    w = load_world(path)
    assert w.rtt_start_list.sum() == 2000.0 and w.rtt_start_within_18w is None
    assert w.rtt_trust_codes == ("RWE",)


HEADER = "org_code,treatment_function_code,waiting_list,within_18w\n"


@pytest.mark.parametrize(("text", "line", "column", "fragment"), [
    ("org_code,treatment_function_code\nRWE,C_110\n", 1, "waiting_list", "missing"),
    (HEADER.replace("within_18w", "within18w") + "RWE,C_110,10,5\n", 1, "within18w",
     "did you mean 'within_18w'"),
    (HEADER + "RWE,C_110,ten,5\n", 2, "waiting_list", "not a number"),
    (HEADER + "RWE,C_110,10,5\nRWE,C_130,-3,0\n", 3, "waiting_list", "negative"),
    (HEADER + "RWE,C_110,10,5\nRWE,C_110,12,5\n", 3, "treatment_function_code", "duplicate"),
    (HEADER + "RWF,C_110,10,5\nRWZ,C_110,10,5\n", 3, "org_code", "did you mean"),
    (HEADER + "RWE,C110,10,5\n", 2, "treatment_function_code", "did you mean 'C_110'"),
    (HEADER + "RRU,C_110,10,5\n", 2, "org_code", "ambulance"),
    (HEADER + "RAP,C_110,10,5\n", 2, "org_code", "closed"),
    (HEADER + "RWE,C_110,10,11\n", 2, "within_18w", "exceeds"),
    (HEADER + "RWE,C_110,10,5\nRWE,C_130,8,\n", 3, "within_18w", "empty"),
])
def test_bad_trusts_files_raise_naming_file_line_column(tmp_path, text, line, column, fragment):
    path = tmp_path / "trusts.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReferenceDataError) as info:
        load_world(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: {column}: ") and fragment in message


@pytest.mark.parametrize(("text", "column", "fragment"), [
    (HEADER, None, "no data rows"),
    (HEADER + "RWE,C_110,0,0\n", "waiting_list", "all waiting lists are zero"),
])
def test_empty_trusts_files_raise(tmp_path, text, column, fragment):
    path = tmp_path / "trusts.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ReferenceDataError) as info:
        load_world(path)
    assert str(path) in str(info.value) and fragment in str(info.value)
    assert info.value.column == column


def test_missing_trusts_file_raises(tmp_path):
    with pytest.raises(ReferenceDataError, match="missing.csv: file not found"):
        load_world(tmp_path / "missing.csv")


def test_first_aft_wave_names_are_world_trusts_mostly_not_acute():
    """The 8 trusts nominated in November 2025 (aft_wave1.csv) are in the world by name; most are community,
    mental health or specialist trusts, so those exist as agents beside the acute ones."""
    from sim import reference
    from sim.world import load_world, trust_codes_by_name

    world = load_world()
    codes = trust_codes_by_name(world, list(reference.aft_wave1()["trust_name"]))
    assert len(set(codes)) == 8
    kinds = [world.trust_kind[world.trust_codes.index(c)] for c in codes]
    assert sum(k != "acute" for k in kinds) >= 6
    with pytest.raises(ValueError, match="closest"):
        trust_codes_by_name(world, ["Northumbria Healthcare NHS Foundation Trusts"])
