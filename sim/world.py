"""England as the model sees it: regions, ICBs, trusts and RTT specialties.

A :class:`World` is pure data (DESIGN.md layer 1): arrays and tuples built
once from the shipped reference data (sim/data) and, optionally, a user
trusts file; nothing in it changes or acts. Arrays are read-only, so every
replication and scenario can share one World.

Geography is frozen at April 2025: the 7 NHS England regions (ODS codes
Y56-Y63), the 42 ICBs, and the English NHS trusts open on 31 March 2025,
each placed in its host ICB by the ODS file. Acute and specialist trusts
carry RTT waiting lists; community and mental-health trusts are kept for
finance and AFT; ambulance and Welsh trusts are dropped.

Without a user trusts file, where the national RTT list sits is a documented
proxy (NHS England's trust-level RTT files are not shipped): a trust's share
of the list is the average of its share of the DM01 diagnostic waiting list
and of cancer Faster Diagnosis Standard pathways, and within a trust the list
follows the national treatment-function mix, or a concentrated mix for
specialist trusts. docs/DATA.md gives every weight and its source or label as
an assumption, and how well the proxy matches March 2025 trust lists.
"""

from __future__ import annotations

import difflib

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim import reference as ref
from sim.reference import ReferenceDataError

#: Trusts must be open on this date (YYYYMMDD): the model starts in April 2025.
CENSUS_DATE = 20250331
#: NHS England region names by ODS region code (NHS ODS commissioning regions).
REGION_NAMES = {
    "Y56": "London", "Y58": "South West", "Y59": "South East", "Y60": "Midlands",
    "Y61": "East of England", "Y62": "North West", "Y63": "North East and Yorkshire",
}
TRUST_KINDS = ("acute", "specialist", "community", "mental_health")
#: A trust that is not named as specialist, community or ambulance is acute if
#: it measured at least this many 28-day FDS pathways in 2024/25 (every general
#: acute trust runs urgent cancer diagnostics: the fewest is 7,041; no trust
#: reaching this rule that is not acute has more than 2).
ACUTE_MIN_FDS_PATHWAYS = 1000.0
#: Weights of the two activity measures in a trust's share of the RTT list
#: (assumption; docs/DATA.md: against March 2025 trust lists the equal blend
#: correlates 0.91 and misplaces 9.6% of pathways, better than
#: either measure alone).
PROXY_WEIGHT_DM01_LIST = 0.5
PROXY_WEIGHT_FDS = 0.5
#: Windows of provider activity used by the proxy (whole shipped files).
DM01_MONTHS = ("2024-08", "2025-03")
FDS_MONTHS = ("2024-04", "2025-03")

#: Specialist profiles, matched on upper-case trust names in this order. Each
#: profile's treatment-function mix is in sim/data/rtt_specialist_mix.csv.
SPECIALIST_PROFILES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("women_children", ("WOMEN'S AND CHILDREN",)),
    ("children", ("CHILDREN",)),
    ("women", ("WOMEN'S",)),
    ("eye", ("EYE HOSPITAL",)),
    ("orthopaedic", ("ORTHOPAEDIC",)),
    ("heart_chest", ("HEART AND CHEST", "PAPWORTH")),
    ("cancer", ("CHRISTIE", "CLATTERBRIDGE CANCER", "ROYAL MARSDEN")),
    ("neurosciences", ("WALTON CENTRE",)),
    ("plastics_burns", ("QUEEN VICTORIA HOSPITAL",)),
)
COMMUNITY_KEYWORDS = ("COMMUNITY",)
AMBULANCE_KEYWORDS = ("AMBULANCE",)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.setflags(write=False)
    return array


@dataclass(frozen=True)
class World:
    """England at April 2025 for the model: pure data, read-only arrays.

    Index conventions: regions, ICBs and trusts are sorted by code; every
    ``*_region``/``*_icb`` array holds integer positions into those tuples.

    Attributes:
        region_codes: the 7 NHS England region ODS codes (Y56, Y58-Y63).
        region_names: their names.
        icb_codes: the 42 ICB ODS codes.
        icb_names: their names.
        icb_region: int64 ``[icb]`` region position of each ICB.
        icb_population: float64 ``[icb]`` 2025/26 GP-registered population
            (people; NHS England allocation tool data).
        trust_codes: ODS codes of English NHS trusts open on 2025-03-31
            (ambulance trusts excluded).
        trust_names: their names.
        trust_icb: int64 ``[trust]`` host-ICB position (ODS high-level geography).
        trust_region: int64 ``[trust]`` region position (the host ICB's region).
        trust_kind: ``acute``, ``specialist``, ``community`` or ``mental_health``.
        trust_profile: specialist profile name (``eye``, ``orthopaedic``, ...),
            ``""`` for other trusts.
        carries_rtt: bool ``[trust]``, True for trusts holding an RTT list.
        specialty_codes: RTT treatment-function codes (C_100 ... X06).
        specialty_names: NHS England names of those functions.
        rtt_trust_index: int64 ``[rtt_trust]`` trust position of each RTT row.
        rtt_share: float64 ``[rtt_trust, specialty]``, share of the national
            RTT list; non-negative, sums to 1.
        rtt_start_list: float64 ``[rtt_trust, specialty]`` incomplete pathways
            from the user trusts file, else None.
        rtt_start_within_18w: same shape, pathways within 18 weeks, if the
            user file gave them, else None.
        rtt_start_over_52w: same shape, pathways over 52 weeks, if given, else None.
        rtt_share_basis: ``activity_proxy`` or ``user_trusts_file``.
        rtt_trust_published_list: float64 ``[rtt_trust]`` March 2025 incomplete
            pathways per trust (rtt_trust_totals_2025_03.csv), NaN where absent;
            a run with ``world.trust_totals_csv`` replaces it with its census month
            (:func:`sim.runner.with_trust_totals`).
        rtt_trust_published_within_18w_pct: float64 ``[rtt_trust]`` the same
            table's % within 18 weeks, NaN where absent.
    """

    region_codes: tuple[str, ...]
    region_names: tuple[str, ...]
    icb_codes: tuple[str, ...]
    icb_names: tuple[str, ...]
    icb_region: np.ndarray
    icb_population: np.ndarray
    trust_codes: tuple[str, ...]
    trust_names: tuple[str, ...]
    trust_icb: np.ndarray
    trust_region: np.ndarray
    trust_kind: tuple[str, ...]
    trust_profile: tuple[str, ...]
    carries_rtt: np.ndarray
    specialty_codes: tuple[str, ...]
    specialty_names: tuple[str, ...]
    rtt_trust_index: np.ndarray
    rtt_share: np.ndarray
    rtt_start_list: np.ndarray | None = None
    rtt_start_within_18w: np.ndarray | None = None
    rtt_start_over_52w: np.ndarray | None = None
    rtt_share_basis: str = field(default="activity_proxy")
    rtt_trust_published_list: np.ndarray | None = None
    rtt_trust_published_within_18w_pct: np.ndarray | None = None

    @property
    def n_regions(self) -> int:
        """Number of NHS England regions (7)."""
        return len(self.region_codes)

    @property
    def n_icbs(self) -> int:
        """Number of ICBs (42)."""
        return len(self.icb_codes)

    @property
    def n_trusts(self) -> int:
        """Number of trusts in the world (all kinds)."""
        return len(self.trust_codes)

    @property
    def n_rtt_trusts(self) -> int:
        """Number of trusts holding an RTT list (rows of ``rtt_share``)."""
        return len(self.rtt_trust_index)

    @property
    def n_specialties(self) -> int:
        """Number of RTT treatment functions (columns of ``rtt_share``)."""
        return len(self.specialty_codes)

    @property
    def rtt_trust_codes(self) -> tuple[str, ...]:
        """ODS codes of the RTT trusts, in ``rtt_share`` row order."""
        return tuple(self.trust_codes[i] for i in self.rtt_trust_index)

    @property
    def rtt_trust_icb(self) -> np.ndarray:
        """int64 ``[rtt_trust]`` ICB position, for summing trust rows to ICBs."""
        return self.trust_icb[self.rtt_trust_index]

    @property
    def rtt_trust_region(self) -> np.ndarray:
        """int64 ``[rtt_trust]`` region position, for summing trust rows to regions."""
        return self.trust_region[self.rtt_trust_index]


# ------------------------------------------------------------------ geography
def _tidy_name(name: str) -> str:
    # The ODS file title-cases names ("Nhs", "King'S"); restore the usual forms.
    name = re.sub(r"\bNhs\b", "NHS", name)
    return re.sub(r"'S\b", "'s", name)


def _regions_and_icbs() -> tuple[tuple[str, ...], pd.DataFrame]:
    """ICBs sorted by code, with each ICB's region code derived from host trusts."""
    icbs = ref.icbs().sort_values("icb_code").reset_index(drop=True)
    trusts = ref.ods_trusts()
    # icbs.csv labels regions by short name (NW, SE, ...); the ODS trust file
    # gives the code, so each label's code is read from the trusts it hosts.
    pairs = trusts.merge(icbs[["icb_code", "region"]], on="icb_code")[["region", "nhse_region_code"]]
    label_to_code: dict[str, str] = {}
    for label, codes in pairs.groupby("region")["nhse_region_code"]:
        distinct = sorted(set(codes))
        if len(distinct) != 1:
            raise ReferenceDataError("sim/data/icbs.csv", f"region '{label}' maps to several ODS "
                                     f"region codes {distinct}", None, "region")
        label_to_code[str(label)] = distinct[0]
    missing = sorted(set(icbs["region"]) - set(label_to_code))
    if missing:
        raise ReferenceDataError("sim/data/icbs.csv", f"region '{missing[0]}' hosts no trust, so its "
                                 "ODS code is unknown", None, "region")
    region_codes = tuple(sorted(set(label_to_code.values())))
    icbs["region_code"] = icbs["region"].map(label_to_code)
    return region_codes, icbs


def _icb_population(icb_codes: tuple[str, ...]) -> np.ndarray:
    pop = ref.icb_population()
    pop = pop[pop["financial_year"] == "2025/26"].set_index("icb_code")["population"]
    missing = [c for c in icb_codes if c not in pop.index]
    if missing:
        raise ReferenceDataError("sim/data/icb_population.csv", f"no 2025/26 population for ICB "
                                 f"{missing[0]}", None, "icb_code")
    return pop.reindex(list(icb_codes)).to_numpy(dtype=np.float64)


# --------------------------------------------------------------- trust kinds
def _provider_activity() -> tuple[pd.Series, pd.Series]:
    """DM01 waiting list (summed over months) and FDS pathways per trust code.

    Activity of trusts merged away before April 2025 is credited to their
    successor (sim/data/trust_successors.csv).
    """
    successors = ref.trust_successors().set_index("org_code")["successor_code"].to_dict()

    def by_trust(rows: pd.DataFrame, column: str) -> pd.Series:
        return rows.assign(code=rows["provider_code"].replace(successors)).groupby("code")[column].sum()

    dm01 = ref.dm01_provider()
    cwt = ref.cwt_provider()
    dm01_list = by_trust(dm01[dm01["month"].between(*DM01_MONTHS)], "waiting_list")
    fds = by_trust(cwt[(cwt["standard"] == "28-day FDS") & cwt["month"].between(*FDS_MONTHS)], "total")
    return dm01_list, fds


def classify_trust(name: str, fds_pathways: float) -> tuple[str, str]:
    """Kind and specialist profile of a trust from its name and cancer activity.

    Rules, in order: ambulance by name (returned as ``ambulance``, dropped by
    the caller); specialist by name (SPECIALIST_PROFILES); community by name;
    acute if it measured >= ACUTE_MIN_FDS_PATHWAYS 28-day FDS pathways in
    2024/25; otherwise mental health (this includes combined mental-health and
    community trusts, which do not carry consultant-led RTT lists in the model).

    Args:
        name: trust name (any case).
        fds_pathways: 28-day FDS pathways measured Apr 2024 - Mar 2025.

    Returns:
        ``(kind, profile)``; profile is ``""`` unless kind is ``specialist``.
    """
    upper = name.upper()
    if any(k in upper for k in AMBULANCE_KEYWORDS):
        return "ambulance", ""
    for profile, keywords in SPECIALIST_PROFILES:
        if any(k in upper for k in keywords):
            return "specialist", profile
    if any(k in upper for k in COMMUNITY_KEYWORDS):
        return "community", ""
    if fds_pathways >= ACUTE_MIN_FDS_PATHWAYS:
        return "acute", ""
    return "mental_health", ""


def _trust_table(icb_codes: tuple[str, ...], region_of_icb: np.ndarray, region_codes: tuple[str, ...],
                 fds: pd.Series) -> pd.DataFrame:
    """English trusts open on the census date with kind, profile and positions."""
    trusts = ref.ods_trusts()
    open_on_census = (trusts["open_date"] <= CENSUS_DATE) & (
        trusts["close_date"].isna() | (trusts["close_date"] > CENSUS_DATE)).fillna(True)
    english = trusts["icb_code"].isin(icb_codes)
    trusts = trusts[open_on_census.astype(bool) & english].sort_values("org_code").reset_index(drop=True)
    kinds = [classify_trust(name, float(fds.get(code, 0.0)))
             for name, code in zip(trusts["name"], trusts["org_code"])]
    trusts["kind"] = [k for k, _ in kinds]
    trusts["profile"] = [p for _, p in kinds]
    trusts = trusts[trusts["kind"] != "ambulance"].reset_index(drop=True)
    icb_pos = {c: i for i, c in enumerate(icb_codes)}
    trusts["icb_pos"] = trusts["icb_code"].map(icb_pos).astype(np.int64)
    trusts["region_pos"] = region_of_icb[trusts["icb_pos"].to_numpy()]
    # A trust's own region code must be its host ICB's, or sums by region would split.
    own = trusts["nhse_region_code"].map({c: i for i, c in enumerate(region_codes)})
    bad = (own != trusts["region_pos"]).to_numpy()
    if bad.any():
        code = trusts["org_code"].iloc[int(np.argmax(bad))]
        raise ReferenceDataError("sim/data/ods_trusts.csv", f"trust {code}'s region differs from its "
                                 "host ICB's region", None, "nhse_region_code")
    return trusts


# ------------------------------------------------------------- RTT placement
def _specialty_mixes(codes: tuple[str, ...]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """National treatment-function mix and each specialist profile's mix."""
    national = ref.specialty_shares().set_index("treatment_function_code")["share_of_waiting_list"]
    national_mix = national.reindex(list(codes)).to_numpy(dtype=np.float64)
    mixes = {}
    table = ref.specialist_mix()
    unknown = sorted(set(table["treatment_function_code"]) - set(codes))
    if unknown:
        raise ReferenceDataError("sim/data/rtt_specialist_mix.csv", f"unknown treatment function "
                                 f"{unknown[0]}", None, "treatment_function_code")
    for profile, rows in table.groupby("profile"):
        mix = rows.set_index("treatment_function_code")["share"].reindex(list(codes)).fillna(0.0)
        mixes[str(profile)] = mix.to_numpy(dtype=np.float64) / mix.sum()
    return national_mix / national_mix.sum(), mixes


def _activity_share(codes: list[str], dm01_list: pd.Series, fds: pd.Series) -> np.ndarray:
    """Each RTT trust's share of the national list from its provider activity."""
    dm = dm01_list.reindex(codes).fillna(0.0).to_numpy(dtype=np.float64)
    fd = fds.reindex(codes).fillna(0.0).to_numpy(dtype=np.float64)
    share = PROXY_WEIGHT_DM01_LIST * dm / dm.sum() + PROXY_WEIGHT_FDS * fd / fd.sum()
    return share / share.sum()


def _proxy_rtt(trusts: pd.DataFrame, codes: tuple[str, ...], dm01_list: pd.Series,
               fds: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    is_rtt = trusts["kind"].isin(["acute", "specialist"]).to_numpy()
    rtt_index = np.flatnonzero(is_rtt).astype(np.int64)
    rtt_codes = trusts["org_code"].iloc[rtt_index].tolist()
    trust_share = _activity_share(rtt_codes, dm01_list, fds)
    national_mix, mixes = _specialty_mixes(codes)
    profiles = trusts["profile"].iloc[rtt_index].tolist()
    missing = sorted({p for p in profiles if p and p not in mixes})
    if missing:
        raise ReferenceDataError("sim/data/rtt_specialist_mix.csv", f"no mix for profile '{missing[0]}'",
                                 None, "profile")
    mix = np.stack([mixes[p] if p else national_mix for p in profiles])
    share = trust_share[:, None] * mix
    return rtt_index, share / share.sum()


# --------------------------------------------------------- user trusts file
TRUSTS_FILE_COLUMNS = ref.schema("org_code:code! treatment_function_code:code! waiting_list:count! "
                                 "within_18w:count!? over_52w:count!?")


def read_trusts_file(path: str | Path, trust_codes: tuple[str, ...],
                     specialty_codes: tuple[str, ...]) -> pd.DataFrame:
    """Read and check a user trusts file (one row per trust and treatment function).

    Args:
        path: CSV with columns org_code, treatment_function_code, waiting_list
            and optionally within_18w, over_52w (pathways at month end; if a
            column is given it must be filled on every row).
        trust_codes: trusts the world contains (English, open 2025-03-31).
        specialty_codes: RTT treatment-function codes of the world.

    Returns:
        The checked rows.

    Raises:
        ReferenceDataError: missing file or column, unknown column, non-numeric
            or negative values, unknown trust or specialty (with a did-you-mean),
            duplicated trust and specialty, counts that exceed the list, or an
            empty or all-zero file. Messages name the file, line and column.
    """
    label = str(path)
    df, lines = ref.read_csv_file(path, TRUSTS_FILE_COLUMNS, allow_extra=False, with_lines=True)
    if df.empty:
        raise ReferenceDataError(label, "has no data rows")
    org, tfc, wl = df["org_code"], df["treatment_function_code"], df["waiting_list"]
    known_trusts = set(ref.ods_trusts()["org_code"])

    def not_in_world(i: int) -> str:
        what = ("an English NHS trust open on 31 March 2025 (ambulance, Welsh and closed trusts are "
                "excluded)") if org.iloc[i] in known_trusts else "an NHS trust ODS code in ods_trusts.csv"
        return f"'{org.iloc[i]}' is not {what}{ref.did_you_mean(org.iloc[i], trust_codes)}"

    ref.check_rows(~org.isin(trust_codes), label, lines, "org_code", not_in_world)
    ref.check_rows(~tfc.isin(specialty_codes), label, lines, "treatment_function_code",
                   lambda i: f"'{tfc.iloc[i]}' is not an RTT treatment function code"
                             f"{ref.did_you_mean(tfc.iloc[i], specialty_codes)}")
    ref.check_rows(df.duplicated(["org_code", "treatment_function_code"]), label, lines,
                   "treatment_function_code",
                   lambda i: f"duplicate row for trust {org.iloc[i]} and treatment function {tfc.iloc[i]}")
    for column in ("within_18w", "over_52w"):
        if column in df:
            ref.check_rows(df[column] > wl, label, lines, column,
                           lambda i, c=column: f"{df[c].iloc[i]:g} exceeds waiting_list {wl.iloc[i]:g}")
    if "within_18w" in df and "over_52w" in df:
        ref.check_rows(df["within_18w"] + df["over_52w"] > wl, label, lines, "over_52w",
                       lambda i: "within_18w + over_52w exceeds waiting_list")
    if float(wl.sum()) <= 0.0:
        raise ReferenceDataError(label, "all waiting lists are zero, so no shares can be formed",
                                 column="waiting_list")
    return df


def read_trust_totals(path: str | Path) -> pd.DataFrame:
    """Read and check a user's monthly trust totals (the columns of ``rtt_trust_totals_2025_03.csv``).

    Rows are ``org_code, month`` (each pair once) with ``incomplete_pathways``
    and ``within_18w`` (pathways at month end); ``source`` and ``note`` may be
    absent; ``within_18w`` cannot exceed the list. Trusts merged away are
    summed into their successors (``trust_successors.csv``), as the DM01 and
    CWT providers are. Codes that are not RTT trusts of the world are kept here
    and left out by the run (NHS England's provider files carry a few, e.g. TAD
    in the shipped table); ``sim data check`` lists them.

    Raises:
        ReferenceDataError: naming the file, line and column of the first problem.
    """
    label = str(path)
    columns = [ref.Column(c.name, c.kind, c.nullable, c.required and c.name not in ("source", "note"), c.allowed)
               for c in ref.TRUST_TOTALS_COLUMNS]
    df, lines = ref.read_csv_file(path, columns, unique=("org_code", "month"), allow_extra=False, with_lines=True)
    if df.empty:
        raise ReferenceDataError(label, "has no data rows")
    ref.check_rows(df["within_18w"] > df["incomplete_pathways"], label, lines, "within_18w",
                   lambda i: f"{df['within_18w'].iloc[i]:g} exceeds incomplete_pathways "
                             f"{df['incomplete_pathways'].iloc[i]:g}")
    successor = ref.final_successors()
    df["org_code"] = df["org_code"].map(lambda c: successor.get(c, c))
    return df.groupby(["org_code", "month"], as_index=False, sort=True)[["incomplete_pathways", "within_18w"]].sum()


def _user_rtt(path: Path, trusts: pd.DataFrame, codes: tuple[str, ...]) -> dict[str, object]:
    rows = read_trusts_file(path, tuple(trusts["org_code"]), codes)
    position = {c: i for i, c in enumerate(trusts["org_code"])}
    rtt_codes = sorted(set(rows["org_code"]), key=position.__getitem__)
    rtt_index = np.array([position[c] for c in rtt_codes], dtype=np.int64)
    row_of = {c: i for i, c in enumerate(rtt_codes)}
    col_of = {c: j for j, c in enumerate(codes)}
    r = rows["org_code"].map(row_of).to_numpy()
    c = rows["treatment_function_code"].map(col_of).to_numpy()

    def cube(column: str) -> np.ndarray | None:
        if column not in rows:
            return None
        out = np.zeros((len(rtt_codes), len(codes)), dtype=np.float64)
        out[r, c] = rows[column].to_numpy(dtype=np.float64)
        return out

    start = cube("waiting_list")
    return {"rtt_trust_index": rtt_index, "rtt_share": start / start.sum(), "rtt_start_list": start,
            "rtt_start_within_18w": cube("within_18w"), "rtt_start_over_52w": cube("over_52w")}


# ------------------------------------------------------------------- builder
def trust_codes_by_name(world: World, names: list[str]) -> list[str]:
    """ODS codes of trusts given by name (case-insensitive, as NHS England's lists name them).

    Raises:
        ValueError: a name that is not a trust in the world (with the closest names).
    """
    by_name = {n.upper(): c for c, n in zip(world.trust_codes, world.trust_names)}
    codes = []
    for name in names:
        code = by_name.get(name.strip().upper())
        if code is None:
            near = difflib.get_close_matches(name.strip().upper(), list(by_name), n=2, cutoff=0.6)
            raise ValueError(f"{name!r} is not a trust in the world" + (f"; closest: {', '.join(near)}" if near else ""))
        codes.append(code)
    return codes


def load_world(trusts_csv: Path | None = None) -> World:
    """Build the World from the shipped reference data.

    Args:
        trusts_csv: optional user trusts file (see :func:`read_trusts_file`).
            When given, its trusts are exactly the RTT trusts, ``rtt_start_list``
            holds its lists and ``rtt_share`` = list / national total; other
            trusts stay in the world for finance and AFT. When None, RTT trusts
            are the acute and specialist trusts and ``rtt_share`` is the
            activity proxy (module docstring, docs/DATA.md).

    Returns:
        A frozen World.

    Raises:
        ReferenceDataError: a shipped file or the user file is malformed.
    """
    region_codes, icbs = _regions_and_icbs()
    region_pos = {c: i for i, c in enumerate(region_codes)}
    icb_codes = tuple(icbs["icb_code"])
    icb_region = icbs["region_code"].map(region_pos).to_numpy(dtype=np.int64)
    dm01_list, fds = _provider_activity()
    trusts = _trust_table(icb_codes, icb_region, region_codes, fds)
    shares = ref.specialty_shares()
    codes = tuple(shares["treatment_function_code"])
    if trusts_csv is None:
        rtt_index, rtt_share = _proxy_rtt(trusts, codes, dm01_list, fds)
        rtt: dict[str, object] = {"rtt_trust_index": rtt_index, "rtt_share": rtt_share}
        basis = "activity_proxy"
    else:
        rtt = _user_rtt(Path(trusts_csv), trusts, codes)
        basis = "user_trusts_file"
    carries = np.zeros(len(trusts), dtype=bool)
    carries[rtt["rtt_trust_index"]] = True
    published = ref.rtt_trust_totals().set_index("org_code")
    rtt_codes = trusts["org_code"].iloc[rtt["rtt_trust_index"]].tolist()
    rtt["rtt_trust_published_list"] = published["incomplete_pathways"].reindex(rtt_codes).to_numpy(dtype=np.float64)
    rtt["rtt_trust_published_within_18w_pct"] = (
        100.0 * published["within_18w"] / published["incomplete_pathways"]).reindex(rtt_codes).to_numpy(dtype=np.float64)
    arrays = {k: (None if v is None else _frozen(v)) for k, v in rtt.items()}
    return World(
        region_codes=region_codes,
        region_names=tuple(REGION_NAMES[c] for c in region_codes),
        icb_codes=icb_codes,
        icb_names=tuple(icbs["icb_name"]),
        icb_region=_frozen(icb_region),
        icb_population=_frozen(_icb_population(icb_codes)),
        trust_codes=tuple(trusts["org_code"]),
        trust_names=tuple(_tidy_name(n) for n in trusts["name"]),
        trust_icb=_frozen(trusts["icb_pos"].to_numpy(dtype=np.int64)),
        trust_region=_frozen(trusts["region_pos"].to_numpy(dtype=np.int64)),
        trust_kind=tuple(trusts["kind"]),
        trust_profile=tuple(trusts["profile"]),
        carries_rtt=_frozen(carries),
        specialty_codes=codes,
        specialty_names=tuple(shares["treatment_function_name"]),
        rtt_share_basis=basis,
        **arrays,
    )
