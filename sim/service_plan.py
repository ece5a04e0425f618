"""Plan and build the diagnostic and cancer services of a run (checked against the data once, at planning)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from sim.calendar import add_months, parse_month, working_days_in_month
from sim.cancer_variation import size_monthly_variation
from sim.config import CalibrationParams, Scenario, scenario_error
from sim.config_services import DIAG_TEST_KEYS
from sim.diagnostics_calibration import fit_in_turn_by_test
from sim.diagnostics_start import MIN_WINDOW_MONTHS as DM01_MIN_MONTHS
from sim.diagnostics_start import diagnostic_providers
from sim.distributions import central
from sim.errors import InputError, did_you_mean, format_key_path
from sim.metrics import Geography
from sim.scenarios import cancer_inputs
from sim.scenarios import diagnostics as diag_inputs
from sim.scenarios.cancer import MIN_WINDOW_MONTHS as CWT_MIN_MONTHS
from sim.scenarios.cancer import CancerCalibration, NationalCancerDataError, calibrate_cancer
from sim.scenarios.diagnostics import DiagnosticLayout, DiagnosticVariation
from sim.service_data import ServiceData, census_months, shipped_service_data
from sim.services.cancer import CancerService
from sim.services.diagnostics import DiagnosticService
from sim.world import World
from sim.yamlio import LoadedDocument


@dataclass(frozen=True)
class ServicePlan:
    """The diagnostic rows and cancer calibration of a run (None where the service is off).

    Attributes:
        diagnostics: DM01 rows placed in the run's series.
        cancer: the calibrated cancer pathway (also the source of urgent diagnostic requests).
        cancer_enabled: whether the cancer queues are simulated (the calibration may exist
            only to size urgent diagnostic requests).
        pioneers: ODS codes of the Right Test Right Time pioneer trusts.
        in_turn_per_week: float ``[test]`` the diagnostic priority slope of each test (the scenario's, or fitted).
        fit: how each test's slope was fitted (empty if the scenario set it).
        diagnostic_variation: the national monthly variation of diagnostic requests (None: off).
    """

    diagnostics: DiagnosticLayout | None
    cancer: CancerCalibration | None
    cancer_enabled: bool
    pioneers: frozenset[str]
    in_turn_per_week: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(len(DIAG_TEST_KEYS)))
    fit: dict = dataclasses.field(default_factory=dict)
    diagnostic_variation: DiagnosticVariation | None = None


def _check_codes(doc: LoadedDocument, key_path: tuple, codes: list[str], known: tuple[str, ...], what: str,
                 allowed: str, elsewhere: dict[str, str] | None = None) -> None:
    """Raise for the first code not in ``known``, at its list item's line.

    Args:
        what: what a known code is, after "is not" ("an NHS trust in the run's world").
        allowed: what is accepted; the known codes nearest the bad one follow it.
        elsewhere: why a real code that cannot be used here is refused, by code.
    """
    for k, code in enumerate(codes):
        if code in known:
            continue
        path = key_path + (k,)
        file, line = doc.locate(path)
        reason = (elsewhere or {}).get(code)
        raise InputError(file=file, line=line, key_path=format_key_path(path, doc.data), value=code,
                         problem=reason or f"is not {what}", allowed=f"{allowed}{_examples(code, known)}",
                         suggestion=None if reason else _closest_code(code, known))


#: Characters mistaken for each other in ODS codes (letter O and digit 0, and so on).
_LOOKALIKE = {frozenset(pair) for pair in ("O0", "I1", "L1", "S5", "Z2", "B8")}


def _closest_code(code: str, known: tuple[str, ...]) -> str | None:
    """The known code most likely meant: the code in capitals; else one character slipped (ranked by a
    look-alike, then the longest shared start, then the nearest character); else difflib's pick."""
    typed = code.strip().upper()
    if typed in known:
        return typed
    best, best_score, tie = None, None, False
    for option in known:
        diff = [i for i, (a, b) in enumerate(zip(typed, option)) if a != b] if len(option) == len(typed) else []
        if len(diff) != 1:
            continue
        i = diff[0]
        score = (frozenset((typed[i], option[i])) in _LOOKALIKE, i, -abs(ord(typed[i]) - ord(option[i])))
        if best_score is None or score > best_score:
            best, best_score, tie = option, score, False
        elif score == best_score:
            tie = True
    if best is not None and not tie:
        return best
    return did_you_mean(code, known)


def _examples(code: str, known: tuple[str, ...], most: int = 8) -> str:
    """``; those starting 'RR': RR7, RR8, ...`` (known codes sharing the bad code's first two characters),
    else a few codes."""
    typed = code.strip().upper()
    near = [k for k in known if len(typed) >= 2 and k.startswith(typed[:2])]
    if near:
        more = f" and {len(near) - most} more" if len(near) > most else ""
        return f"; those starting {typed[:2]!r}: {', '.join(near[:most])}{more}"
    return f", e.g. {', '.join(known[:3])}"


def service_census_months(diagnostics_window: int, cancer_window: int, data: ServiceData | None = None) -> list[str]:
    """Months the DM01 and CWT provider data (``data``'s, default shipped) can both start the services from
    (the month before a start)."""
    data = data or shipped_service_data()
    dm01 = census_months(data.months("dm01_provider"), diagnostics_window, DM01_MIN_MONTHS)
    cwt = census_months(data.months("cwt_provider"), cancer_window, CWT_MIN_MONTHS)
    return sorted(set(dm01) & set(cwt))


def _missing_data(scenario: Scenario, doc: LoadedDocument, census_month: str, cwt_err: ValueError | None,
                  dm01_err: ValueError | None, data: ServiceData) -> InputError:
    """One message, at ``start``, for a start without the DM01 and/or CWT provider data its services need."""
    diag_on, cancer_on = scenario.diagnostics.enabled, scenario.cancer.enabled
    files = {
        "DM01": (data.months("dm01_provider"), scenario.diagnostics.rates_window_months, DM01_MIN_MONTHS),
        "CWT": (data.months("cwt_provider"), scenario.cancer.rates_window_months, CWT_MIN_MONTHS),
    }
    usable = {name: set(census_months(*spec)) for name, spec in files.items()}
    labels = {"DM01": data.describe("dm01_provider"), "CWT": data.describe("cwt_provider")}
    uses = {"DM01": "", "CWT": "" if cancer_on else "; diagnostics use it for urgent cancer requests"}
    short, other = [], []
    for name, err in (("DM01", dm01_err), ("CWT", cwt_err)):
        if err is None:
            continue
        held = sorted(files[name][0])
        if census_month in usable[name]:  # the months are there; something else failed
            other.append(f"{labels[name].removeprefix('the ')} for {census_month}: {err}")
        else:
            short.append(f"{labels[name]} (held: {held[0]} to {held[-1]}{uses[name]})")
    least = max(DM01_MIN_MONTHS, CWT_MIN_MONTHS)
    parts = []
    if short:
        parts.append(f"needs at least {least} months of provider data up to its census month {census_month} (the "
                     f"month before the start), which {' and '.join(short)} do not have")
    if other:
        parts.append("cannot start from the " + "; ".join(other))
    needed = ["CWT"] + (["DM01"] if diag_on else [])
    starts = sorted(set.intersection(*(usable[name] for name in needed)))
    turn_off = (["diagnostics"] if diag_on else []) + (["cancer"] if cancer_on and cwt_err is not None else [])
    allowed = " and ".join(f"{block}: {{enabled: false}}" for block in turn_off)
    if starts:
        allowed = f"a start from {add_months(starts[0], 1)} to {add_months(starts[-1], 1)}, or {allowed}"
    return scenario_error(doc, ("start",), scenario.start, "; it ".join(parts), allowed)


def plan_services(scenario: Scenario, doc: LoadedDocument, world: World, geography: Geography,
                  census_month: str, data: ServiceData, calib: CalibrationParams) -> tuple[ServicePlan, Geography]:
    """Check the service settings against the data and lay out the rows; returns the geography with test series.

    ``data``: the provider and national tables (:func:`sim.runner.service_data_for`); ``calib``: the run's flow
    calibration (its monthly shocks stand in for the diagnostic variation when DM01 has too few months).

    Raises:
        InputError: a start without DM01/CWT data for its census month, or an unknown trust code.
    """
    diag_on, cancer_on = scenario.diagnostics.enabled, scenario.cancer.enabled
    cancer, cwt_err, dm01_err, providers = None, None, None, None
    if diag_on or cancer_on:
        c = scenario.cancer
        try:
            cancer = calibrate_cancer(geography.trust_codes, census_month, fds_sigma=c.fds_wait_sigma,
                                      treatment_sigma=c.treatment_wait_sigma, dtt_median_days=c.dtt_delay_median_days,
                                      dtt_sigma=c.dtt_delay_sigma, capacity_headroom=c.treatment_capacity_headroom_pct / 100,
                                      window_months=c.rates_window_months, data=data)
        except NationalCancerDataError as err:  # the national series, not the provider data, falls short
            user = "cancer_national" in data.user_tables
            raise scenario_error(doc, ("world", "cancer_national_csv") if user else ("start",),
                                 scenario.world.cancer_national_csv if user else scenario.start, f"cannot be used: {err}",
                                 "a national cancer series with every month of the window filled, or a shorter "
                                 "cancer.rates_window_months") from None
        except ValueError as err:
            cwt_err = err
    if cancer is not None and cancer_on and scenario.cancer.monthly_variation:
        try:
            cancer = size_monthly_variation(cancer, data)
        except ValueError as err:  # too little of the national cancer series before the census month
            raise scenario_error(doc, ("cancer", "monthly_variation"), True, f"cannot be sized: {err}",
                                 "false (no month-to-month variation), or a later start") from None
    if diag_on:
        try:
            providers = diagnostic_providers(world, census_month, scenario.diagnostics.rates_window_months, data)
        except ValueError as err:
            dm01_err = err
    if cwt_err is not None or dm01_err is not None:  # one message naming every file that falls short
        raise _missing_data(scenario, doc, census_month, cwt_err, dm01_err, data) from None
    layout, provider_only = None, {}
    if providers is not None:
        geography = dataclasses.replace(geography, test_codes=DIAG_TEST_KEYS)
        layout = diag_inputs.layout(providers, geography, world.trust_icb)
        known = tuple(sorted(set(providers.provider_codes)))
        no_dm01 = {code: f"is an NHS trust but not a DM01 diagnostic provider in the months up to {census_month}"
                   for code in world.trust_codes if code not in known}
        provider_only = {code: "is a DM01 diagnostic provider but not one of the NHS trusts in the run's world "
                         "(pioneers are trusts with RTT waiting lists)"
                         for code in known if code not in world.trust_codes}
        for k, lever in enumerate(scenario.diagnostics.capacity_levers):
            _check_codes(doc, ("diagnostics", "capacity_levers", k, "trusts"), lever.trusts or [], known,
                         "a DM01 diagnostic provider",
                         f"ODS codes of the {len(known)} providers in {data.describe('dm01_provider')} up to "
                         f"{census_month}",
                         no_dm01)
    rttt = scenario.policies.rttt
    if rttt is not None:
        trusts = tuple(world.trust_codes)
        _check_codes(doc, ("policies", "rttt", "pioneer_trusts"), rttt.pioneer_trusts, trusts,
                     "an NHS trust in the run's world", f"ODS codes of the {len(trusts)} NHS trusts in the run's world",
                     provider_only)
    fixed, fit = scenario.diagnostics.in_turn_per_week, {}
    slopes = np.full(len(DIAG_TEST_KEYS), fixed or 0.0)
    if layout is not None and fixed is None:
        fit = _fit_slopes(scenario, layout, cancer, len(geography.trust_codes))
        slopes = np.array([fit[key]["in_turn_per_week"] for key in DIAG_TEST_KEYS])
    variation = None
    if layout is not None and scenario.diagnostics.monthly_variation:
        fallback = math.hypot(calib.clock_starts.shock_sd_pct, calib.nonadmitted_activity.shock_sd_pct) / 100
        variation = diag_inputs.size_monthly_variation(data.dm01_provider, census_month, fallback)
    return ServicePlan(layout, cancer, cancer_on, frozenset(rttt.pioneer_trusts if rttt else ()), slopes,
                       fit, variation), geography


def _usc_per_wd(cancer: CancerCalibration | None, n_trusts: int, national_scale: float = 1.0) -> np.ndarray:
    return cancer.referrals_per_wd * national_scale if cancer is not None else np.zeros(n_trusts)


def _fit_slopes(scenario: Scenario, layout: DiagnosticLayout, cancer: CancerCalibration | None, n_trusts: int) -> dict:
    """Fit each test's priority slope at the central values of the request split (replication 0)."""
    cfg = scenario.diagnostics
    rates = diag_inputs.start_rates(layout, _usc_per_wd(cancer, n_trusts),
                                    central(cfg.urgent_tests_per_referral), central(cfg.rtt_share_of_requests_pct) / 100,
                                    window_trend=False)
    # The discipline is fitted on a stationary list (window_trend=False: requests equal tests).
    return fit_in_turn_by_test(rates.start_stock, rates.requests_per_wd, rates.tests_per_wd,
                               diag_inputs.source_weights(scenario), layout.providers.row_test, DIAG_TEST_KEYS)


def build_services(plan: ServicePlan, scenario: Scenario, geography: Geography, months: tuple[str, ...],
                   replications: np.ndarray, national_scale: float) -> tuple[DiagnosticService | None, CancerService | None]:
    """The batch's service objects (each replication's inputs computed alone)."""
    n_series = len(geography.series())
    diag = None
    if plan.diagnostics is not None:
        usc = _usc_per_wd(plan.cancer, len(geography.trust_codes), national_scale)
        inputs = diag_inputs.batch_inputs(scenario, plan.diagnostics, months, replications, usc, plan.pioneers,
                                          plan.in_turn_per_week, plan.diagnostic_variation)
        diag = DiagnosticService(inputs, plan.diagnostics, len(geography.trust_codes), n_series)
    cancer = None
    if plan.cancer_enabled and plan.cancer is not None:
        inputs = cancer_inputs.batch_inputs(scenario, plan.cancer, months, replications, national_scale)
        year, month = parse_month(months[0])
        first_day = dt.date(year, month, 1)
        days = (dt.date(year + month // 12, month % 12 + 1, 1) - first_day).days
        cancer = CancerService(inputs, geography.trust_to_series(), n_series, first_day,
                               working_days_in_month(year, month) / days)
    return diag, cancer
