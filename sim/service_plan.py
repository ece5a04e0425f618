"""Plan and build the diagnostic and cancer services of a run (checked against the data once, at planning)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np

from sim.calendar import parse_month, working_days_in_month
from sim.config import Scenario, scenario_error
from sim.config_services import DIAG_TEST_KEYS
from sim.diagnostics_calibration import fit_in_turn
from sim.diagnostics_start import diagnostic_providers
from sim.distributions import central
from sim.errors import did_you_mean
from sim.metrics import Geography
from sim.scenarios import cancer_inputs
from sim.scenarios import diagnostics as diag_inputs
from sim.scenarios.cancer import CancerCalibration, calibrate_cancer
from sim.scenarios.diagnostics import DiagnosticLayout
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
        in_turn_per_week: the diagnostic priority slope (the scenario's, or fitted).
        fit: how the slope was fitted (empty if the scenario set it).
    """

    diagnostics: DiagnosticLayout | None
    cancer: CancerCalibration | None
    cancer_enabled: bool
    pioneers: frozenset[str]
    in_turn_per_week: float = 0.0
    fit: dict = dataclasses.field(default_factory=dict)


def _check_codes(doc: LoadedDocument, key_path: tuple, codes: list[str], known: tuple[str, ...], what: str) -> None:
    for k, code in enumerate(codes):
        if code not in known:
            hint = did_you_mean(code, known)
            raise scenario_error(doc, key_path + (k,), code, f"is not {what}" + (f"; did you mean {hint}?" if hint else ""),
                                 f"ODS codes of {what}s in the run's world, e.g. {', '.join(known[:3])}")


def plan_services(scenario: Scenario, doc: LoadedDocument, world: World, geography: Geography,
                  census_month: str) -> tuple[ServicePlan, Geography]:
    """Check the service settings against the data and lay out the rows; returns the geography with test series.

    Raises:
        InputError: a start without DM01/CWT data for its census month, or an unknown trust code.
    """
    diag_on, cancer_on = scenario.diagnostics.enabled, scenario.cancer.enabled
    cancer = None
    if diag_on or cancer_on:
        c = scenario.cancer
        try:
            cancer = calibrate_cancer(geography.trust_codes, census_month, fds_sigma=c.fds_wait_sigma,
                                      treatment_sigma=c.treatment_wait_sigma, dtt_median_days=c.dtt_delay_median_days,
                                      dtt_sigma=c.dtt_delay_sigma, capacity_headroom=c.treatment_capacity_headroom_pct / 100,
                                      window_months=c.rates_window_months)
        except ValueError as err:
            key = ("cancer", "enabled") if cancer_on else ("diagnostics", "enabled")
            raise scenario_error(doc, key, True, f"needs cancer waiting times data for {census_month}: {err}",
                                 "a start whose previous month has CWT provider data (2024-07 to 2025-04), or "
                                 "cancer: {enabled: false} and diagnostics: {enabled: false}") from None
    layout = None
    if diag_on:
        try:
            providers = diagnostic_providers(world, census_month, scenario.diagnostics.rates_window_months)
        except ValueError as err:
            raise scenario_error(doc, ("diagnostics", "enabled"), True, f"needs DM01 provider data for {census_month}: {err}",
                                 "a start from 2024-09 to 2025-04, or diagnostics: {enabled: false}") from None
        geography = dataclasses.replace(geography, test_codes=DIAG_TEST_KEYS)
        layout = diag_inputs.layout(providers, geography, world.trust_icb)
        known = tuple(sorted(set(providers.provider_codes)))
        for k, lever in enumerate(scenario.diagnostics.capacity_levers):
            _check_codes(doc, ("diagnostics", "capacity_levers", k, "trusts"), lever.trusts or [], known,
                         "a diagnostic provider")
    rttt = scenario.policies.rttt
    if rttt is not None:
        _check_codes(doc, ("policies", "rttt", "pioneer_trusts"), rttt.pioneer_trusts, world.trust_codes, "an NHS trust")
    slope, fit = scenario.diagnostics.in_turn_per_week, {}
    if layout is not None and slope is None:
        fit = _fit_slope(scenario, layout, cancer, len(geography.trust_codes))
        slope = fit["in_turn_per_week"]
    return ServicePlan(layout, cancer, cancer_on, frozenset(rttt.pioneer_trusts if rttt else ()), slope or 0.0,
                       fit), geography


def _usc_per_wd(cancer: CancerCalibration | None, n_trusts: int, national_scale: float = 1.0) -> np.ndarray:
    return cancer.referrals_per_wd * national_scale if cancer is not None else np.zeros(n_trusts)


def _fit_slope(scenario: Scenario, layout: DiagnosticLayout, cancer: CancerCalibration | None, n_trusts: int) -> dict:
    """Fit the priority slope at the central values of the request split (replication 0)."""
    cfg = scenario.diagnostics
    rates = diag_inputs.start_rates(layout, _usc_per_wd(cancer, n_trusts),
                                    central(cfg.urgent_tests_per_referral), central(cfg.rtt_share_of_requests_pct) / 100)
    return fit_in_turn(rates.start_stock, rates.requests_per_wd, rates.tests_per_wd,
                       diag_inputs.source_weights(scenario))


def build_services(plan: ServicePlan, scenario: Scenario, geography: Geography, months: tuple[str, ...],
                   replications: np.ndarray, national_scale: float) -> tuple[DiagnosticService | None, CancerService | None]:
    """The batch's service objects (each replication's inputs computed alone)."""
    n_series = len(geography.series())
    diag = None
    if plan.diagnostics is not None:
        usc = _usc_per_wd(plan.cancer, len(geography.trust_codes), national_scale)
        inputs = diag_inputs.batch_inputs(scenario, plan.diagnostics, months, replications, usc, plan.pioneers,
                                          plan.in_turn_per_week)
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
