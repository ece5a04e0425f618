"""Tests for sim.reference: shipped readers, user RTT series, data hashes."""

from __future__ import annotations

import hashlib
import pickle
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from sim import reference as ref
from sim.errors import InputError
from sim.reference import ReferenceDataError

# ../shared beside the checkout, as CI and the development machines have it.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SPECIALTY_CODES = ("C_100", "C_101", "C_110", "C_120", "C_130", "C_140", "C_150", "C_160", "C_170",
                   "C_300", "C_301", "C_320", "C_330", "C_340", "C_400", "C_410", "C_430", "C_502",
                   "X02", "X03", "X04", "X05", "X06")


# ----------------------------------------------------------------- shipped files
def test_rtt_national_is_indexed_by_month_with_float_columns():
    df = ref.rtt_national()
    assert df.index.name == "month"
    assert df.index.is_unique and df.index.is_monotonic_increasing
    assert df.index[0] == "2007-04" and df.index[-1] == "2025-03"
    for column in ("waiting_list", "pct_within_18w", "over_52w", "median_weeks", "clock_starts"):
        assert df[column].dtype == np.float64, column
    # March 2025 list as published in the RTT overview timeseries (SOURCES.md).
    assert df.loc["2025-03", "waiting_list"] == 7418598.0
    assert 59.7 < df.loc["2025-03", "pct_within_18w"] < 59.8


def test_readers_return_copies_not_shared_cache():
    first = ref.rtt_national()
    first.loc["2025-03", "waiting_list"] = -1.0
    assert ref.rtt_national().loc["2025-03", "waiting_list"] == 7418598.0


@pytest.mark.parametrize(("reader", "rows", "key"), [
    (ref.cancer_national, 48, "month"),
    (ref.diagnostics_national, 8, "month"),
    (ref.ods_trusts, 210, "org_code"),
    (ref.icbs, 42, "icb_code"),
    (ref.icb_population, 126, None),
    (ref.icb_weighted_populations, 126, None),
    (ref.icb_fair_shares, 42, "icb_name"),
    (ref.targets, 22, None),
    (ref.funding, 14, None),
    (ref.aft_wave1, 8, "trust_name"),
    (ref.specialty_shares, 23, "treatment_function_code"),
    (ref.rtt_stage_split, 3, "month"),
    (ref.rtt_trust_totals, 151, "org_code"),
])
def test_small_readers_have_expected_rows_and_unique_keys(reader, rows, key):
    df = reader()
    assert len(df) == rows
    if key is not None:
        assert df[key].is_unique


def test_provider_files_cover_their_months_and_standards():
    dm01 = ref.dm01_provider()
    assert sorted(dm01["month"].unique()) == [f"2024-{m:02d}" for m in range(8, 13)] + [
        "2025-01", "2025-02", "2025-03"]
    # The England total of DM01 tests in March 2025 equals the national file.
    national = ref.diagnostics_national().set_index("month")
    march = dm01[dm01["month"] == "2025-03"]
    assert march["waiting_list"].sum() == national.loc["2025-03", "waiting_list"]
    cwt = ref.cwt_provider()
    assert set(cwt["standard"]) == set(ref.CWT_STANDARDS)
    assert (cwt["total"] >= 0).all()


def test_ods_dates_are_integer_dates():
    trusts = ref.ods_trusts()
    assert str(trusts["open_date"].dtype) == "Int64"
    closed = trusts.set_index("org_code")["close_date"].dropna()
    assert closed["RAP"] == 20241231


def test_icb_population_2025_26_total():
    pop = ref.icb_population()
    current = pop[pop["financial_year"] == "2025/26"]
    assert len(current) == 42
    assert current["population"].sum() == pytest.approx(63_849_324, abs=1)


def test_specialty_shares_sum_to_one_and_label_assumptions():
    df = ref.specialty_shares()
    assert tuple(df["treatment_function_code"]) == SPECIALTY_CODES
    assert df["share_of_waiting_list"].sum() == pytest.approx(1.0, abs=1e-9)
    assert (df["share_of_waiting_list"] > 0).all()
    assert (df["month"] == "2025-03").all()
    estimated = set(df.loc[df["note"].str.contains("assumption"), "treatment_function_code"])
    assert estimated == {"X02", "X04", "X06"}
    # Trauma and orthopaedics is the largest named list (about 10% of NHS-trust pathways).
    top = df.set_index("treatment_function_code")["share_of_waiting_list"].idxmax()
    assert top == "C_110"


def test_specialist_mixes_sum_to_one_per_profile():
    mix = ref.specialist_mix()
    sums = mix.groupby("profile")["share"].sum()
    assert np.allclose(sums.to_numpy(), 1.0, atol=1e-9)
    assert set(mix["treatment_function_code"]) <= set(SPECIALTY_CODES)


def test_stage_split_with_dta_within_total():
    df = ref.rtt_stage_split()
    assert (df["incomplete_with_dta"] < df["incomplete_total"]).all()
    assert df.set_index("month").loc["2025-03", "note"].startswith("assumption")


def test_data_hashes_cover_every_shipped_file():
    hashes = ref.data_hashes()
    root = resources.files("sim.data")
    shipped = sorted(e.name for e in root.iterdir() if e.name.endswith((".csv", ".csv.gz", ".md")))
    assert list(hashes) == shipped
    assert "dm01_provider_test_monthly.csv.gz" in hashes and "SOURCES.md" in hashes
    digest = hashlib.sha256(root.joinpath("icbs.csv").read_bytes()).hexdigest()
    assert hashes["icbs.csv"] == digest


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="shared reference folder not present")
def test_shipped_copies_of_shared_data_are_unchanged():
    hashes = ref.data_hashes()
    for path in SHARED_DATA.iterdir():
        assert hashes[path.name] == hashlib.sha256(path.read_bytes()).hexdigest(), path.name


# ------------------------------------------------------------ user RTT series
GOOD = ("month,waiting_list,pct_within_18w,over_52w\n"
        "2025-01,7427669,58.86,198828\n2025-02,7401153,59.18,193525\n")


def write(tmp_path: Path, text: str, name: str = "observed.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_read_observed_rtt_reads_a_good_file(tmp_path):
    df = ref.read_observed_rtt(write(tmp_path, GOOD))
    assert list(df.index) == ["2025-01", "2025-02"]
    assert df.loc["2025-02", "waiting_list"] == 7401153.0
    assert df["over_52w"].dtype == np.float64


def test_read_observed_rtt_accepts_a_utf8_bom_and_comments(tmp_path):
    df = ref.read_observed_rtt(write(tmp_path, "# from our PTL\n" + GOOD, bom=True))
    assert "month" == df.index.name and len(df) == 2


@pytest.mark.parametrize(("text", "line", "column", "fragment"), [
    ("month,waiting_list\n2025-01,7427669\n", 1, "pct_within_18w", "missing"),
    ("month,waiting_list,pct_within_18w\n2025-01,7.4m,58.9\n", 2, "waiting_list", "not a number"),
    ("month,waiting_list,pct_within_18w\n2025-01,7427669,58.9\n2025-02,-5,59.2\n", 3, "waiting_list",
     "negative"),
    ("month,waiting_list,pct_within_18w\n2025-01,7427669,58.9\n2025-01,7401153,59.2\n", 3, "month",
     "duplicate"),
    ("month,waiting_list,pct_within_18w\n2025-13,7427669,58.9\n", 2, "month", "not a month"),
    ("month,waiting_list,pct_within_18w\n2025-01,7427669,158.9\n", 2, "pct_within_18w", "0-100"),
    ("month,waiting_list,pct_within_18w\n2025-01,,58.9\n", 1, "waiting_list", "has no values"),
    ("month,waiting_list,pct_within_18w\n,7427669,58.9\n", 2, "month", "empty"),
    ("month,waiting_list,pct_within_18w,over52w\n2025-01,7427669,58.9,1\n", 1, "over52w",
     "did you mean 'over_52w'"),
    ("month,waiting_list,pct_within_18w\n2025-01,7427669,0.589\n2025-02,7401153,0.592\n", 2, "pct_within_18w",
     "looks like a fraction"),
])
def test_read_observed_rtt_rejects_bad_files_naming_file_line_column(tmp_path, text, line, column,
                                                                      fragment):
    path = write(tmp_path, text)
    with pytest.raises(ReferenceDataError) as info:
        ref.read_observed_rtt(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: {column}: ")
    assert fragment in message and "\n" not in message
    assert info.value.column == column and info.value.line == line and info.value.path == str(path)


@pytest.mark.parametrize(("data", "name", "line", "fragment"), [
    (GOOD.encode("utf-16"), "observed.csv", 1, "is UTF-16 text"),
    (("# Caf\u00e9 data\n" + GOOD).encode("cp1252"), "observed.csv", 1, "byte 0xe9 is not UTF-8"),
    ((GOOD + "# r\u00e9vis\u00e9\n").encode("latin-1"), "observed.csv", 4, "Windows-1252 or Latin-1"),
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x9c" * 40, "observed.csv", None, "binary data"),
    (GOOD.encode(), "observed.csv.gz", None, "is not a readable gzip file"),
])
def test_other_encodings_and_binary_files_are_refused_naming_the_line(tmp_path, data, name, line, fragment):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(ReferenceDataError) as info:
        ref.read_observed_rtt(path)
    assert info.value.line == line and fragment in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith(str(path) + (f":{line}: " if line else ": "))
    if not name.endswith(".gz"):
        assert "Allowed: a CSV file saved as UTF-8" in str(info.value)


def test_read_observed_rtt_missing_file_names_it(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(ReferenceDataError, match="nope.csv: file not found"):
        ref.read_observed_rtt(path)


def test_read_observed_rtt_rejects_ragged_rows(tmp_path):
    path = write(tmp_path, "month,waiting_list,pct_within_18w\n2025-01,7427669\n")
    with pytest.raises(ReferenceDataError, match=r"observed\.csv:2: has 2 fields"):
        ref.read_observed_rtt(path)


def test_parse_errors_report_physical_lines_after_comments_and_blanks():
    text = "# note\nmonth,waiting_list,pct_within_18w\n\n2025-01,1,2\n# x\n2025-02,oops,2\n"
    with pytest.raises(ReferenceDataError) as info:
        ref.parse_csv_text(text, "t.csv", ref.RTT_COLUMNS[:3])
    assert info.value.line == 6


def test_error_is_an_input_error_that_survives_pickling():
    assert issubclass(ReferenceDataError, InputError) and issubclass(ReferenceDataError, ValueError)
    error = ReferenceDataError("t.csv", "'x' is not a number", 4, "waiting_list")
    assert error.exit_code == 2
    assert str(error) == "t.csv:4: waiting_list: 'x' is not a number."
    assert (error.file, error.line, error.key_path) == ("t.csv", 4, "waiting_list")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is ReferenceDataError and str(back) == str(error)
    assert (back.path, back.line, back.column) == ("t.csv", 4, "waiting_list")
    assert str(ReferenceDataError("t.csv", "file not found")) == "t.csv: file not found."
