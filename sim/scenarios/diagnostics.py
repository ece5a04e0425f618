"""Diagnostic engine inputs: requests by source, test capacity and the coupling to RTT and cancer.

From the DM01 provider rows (:mod:`sim.diagnostics_start`) and the scenario:

- Waiting-list tests per provider and test are its list times the national
  turnover of that test (national waiting-list tests / national list): every
  provider starts with the national waiting time for the test, which makes
  the published March list the steady state of the queue discipline (a
  provider's list over its own reported tests is often far from its reported
  waits; docs/MODEL.md). Providers with tests but no list keep their tests.
  Requests equal tests at the start (``start_trend: balanced``), or carry the
  test's national additions / tests over the rate window (``window``).
  Requests grow at the scenario's demand growth. Urgent suspected cancer
  requests are the trust's urgent referrals times the tests each needs, spread
  over its cancer tests (imaging and endoscopy) by their volumes; the rest is
  split between RTT pathways and other requests. Right Test Right Time removes
  its share of the non-urgent requests (urgent ones too if not exempt).
- Test capacity per working day (all tests: planned, unscheduled and
  waiting-list) grows at the capacity growth, and capacity levers add tests
  per week from their dates. Planned and unscheduled tests (not on the list)
  grow with demand and are taken out of capacity first; what is left clears
  the list.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.calendar import add_months
from sim.config import Scenario
from sim.config_reforms import Ramp
from sim.config_services import DIAG_TEST_KEYS, CapacityLever
from sim.diagnostics_start import DIAG_BINS, DiagnosticProviders
from sim.engine import redeploy
from sim.engine.diagnostics import N_SOURCES, OTHER, RTT, URGENT, in_turn_hazard, priority_weights
from sim.metrics import Geography
from sim.rng import stream
from sim.scenarios.flows import ar1_shocks, growth_factors
from sim.scenarios.parameters import capacity_growth, record_shocks, value
from sim.scenarios.reforms import ramp_fraction, rttt_removal_share

#: Tests that urgent suspected cancer pathways use (imaging and endoscopy).
CANCER_TESTS = ("mri", "ct", "ultrasound", "barium_enema", "colonoscopy", "flexi_sigmoidoscopy", "cystoscopy",
                "gastroscopy")
#: Working days in a week, to turn a lever's tests per week into tests per working day.
WORKING_DAYS_PER_WEEK = 5.0
#: Urgent requests cannot exceed this share of a row's requests (guards small providers). Assumption.
MAX_URGENT_SHARE = 0.5


@dataclass(frozen=True)
class DiagnosticLayout:
    """Diagnostic rows and how they relate to the RTT geography.

    Attributes:
        providers: the DM01 rows and rates.
        row_rtt_trust: int ``[row]`` position of the row's provider in ``geography.trust_codes``, -1 if none.
        row_series: int ``[row, 4]`` series positions (national, region, ICB, trust), -1 where the row has none.
        row_test_series: int ``[row]`` series position of the row's national-by-test series.
    """

    providers: DiagnosticProviders
    row_rtt_trust: np.ndarray
    row_series: np.ndarray
    row_test_series: np.ndarray


def layout(providers: DiagnosticProviders, geography: Geography, world_trust_icb: np.ndarray) -> DiagnosticLayout:
    """Place each provider's rows in the run's series (a provider outside the RTT trusts counts in its ICB and region)."""
    n_regions, n_icbs = len(geography.region_codes), len(geography.icb_codes)
    trust_pos = {c: k for k, c in enumerate(geography.trust_codes)}
    p_rtt = np.array([trust_pos.get(c, -1) for c in providers.provider_codes], dtype=np.int64)
    p_icb = np.where(providers.provider_trust >= 0, np.asarray(world_trust_icb)[np.maximum(providers.provider_trust, 0)], -1)
    rows = providers.row_provider
    series = np.stack([
        np.zeros(len(rows), dtype=np.int64),
        1 + providers.provider_region[rows],
        np.where(p_icb[rows] >= 0, 1 + n_regions + p_icb[rows], -1),
        np.where(p_rtt[rows] >= 0, 1 + n_regions + n_icbs + p_rtt[rows], -1),
    ], axis=1)
    test_offset = geography.specialty_series_offset() + len(geography.specialty_codes)
    return DiagnosticLayout(providers, p_rtt[rows], series, test_offset + providers.row_test)


@dataclass(frozen=True)
class DiagnosticInputs:
    """What the diagnostic engine needs each month for a batch of replications.

    Attributes:
        requests_per_wd: float64 ``[rep, month, row, source]`` new waiting-list requests per working day.
        list_capacity_per_wd: float64 ``[rep, month, row]`` waiting-list tests available per working day.
        other_tests_per_wd: float64 ``[rep, month, row]`` planned and unscheduled tests per working day.
        weight: float64 ``[test, source * bin]`` priority of each (source, bin), per test.
        row_weight: int ``[row]`` each row's test (its weight table).
        rtt_coupling: float64 ``[rep]`` share of non-admitted RTT clock stops that wait for a test.
        start_stock: float32 ``[rep, row, source, bin]`` the list at the start census.
        lever_cost_gbp: float64 ``[rep, month]`` cost of the capacity levers' tests per working day.
        redeployed_share: float64 ``[rep]`` share of a row's spare waiting-list tests lent to its pool.
        row_pool: int ``[row]`` each row's redeployment pool (:func:`redeployment_pools`).
    """

    requests_per_wd: np.ndarray
    list_capacity_per_wd: np.ndarray
    other_tests_per_wd: np.ndarray
    weight: np.ndarray
    row_weight: np.ndarray
    rtt_coupling: np.ndarray
    start_stock: np.ndarray
    lever_cost_gbp: np.ndarray
    redeployed_share: np.ndarray
    row_pool: np.ndarray


def redeployment_pools(lay: DiagnosticLayout, within: str) -> np.ndarray:
    """Each row's redeployment pool: its test within its provider's ICB (a provider that is not an ICB's trust:
    with the others of its region), region, or (``england``) one national group."""
    region = lay.row_series[:, 1]
    icb = lay.row_series[:, 2]
    group = {"icb": np.where(icb >= 0, icb, lay.row_series.max() + 1 + region), "region": region,
             "england": np.zeros_like(region)}[within]
    return redeploy.pools(group, lay.providers.row_test)


def balanced_requests_per_wd(providers: DiagnosticProviders, window_trend: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """float64 ``[row]`` waiting-list requests and waiting-list tests per working day (module docstring).

    Args:
        window_trend: requests carry the rate window's additions over tests, per test; else requests equal tests.
    """
    p = providers
    n_tests = len(DIAG_TEST_KEYS)
    list_now = p.start_counts.sum(axis=1)
    has_list = list_now > 0
    national_tests = np.bincount(p.row_test, weights=p.waiting_list_tests_per_wd, minlength=n_tests)
    free_tests = np.bincount(p.row_test, weights=np.where(has_list, 0.0, p.waiting_list_tests_per_wd), minlength=n_tests)
    national_list = np.bincount(p.row_test, weights=list_now, minlength=n_tests)
    turnover = (national_tests - free_tests) / np.where(national_list > 0, national_list, 1.0)
    tests = np.where(has_list, list_now * turnover[p.row_test], p.waiting_list_tests_per_wd)
    if not window_trend:
        return tests.copy(), tests
    additions = np.bincount(p.row_test, weights=p.additions_per_wd, minlength=n_tests)
    trend = np.where(national_tests > 0, additions / np.where(national_tests > 0, national_tests, 1.0), 1.0)
    return tests * trend[p.row_test], tests


def urgent_requests_per_wd(providers: DiagnosticProviders, row_rtt_trust: np.ndarray,
                           usc_referrals_per_wd: np.ndarray, tests_per_referral: float,
                           requests: np.ndarray) -> np.ndarray:
    """float64 ``[row]`` urgent suspected cancer requests per working day.

    Args:
        usc_referrals_per_wd: float ``[rtt trust]`` urgent suspected cancer referrals per working day.
        requests: float ``[row]`` all waiting-list requests per working day.
    """
    cancer_test = np.isin(np.array(DIAG_TEST_KEYS)[providers.row_test], CANCER_TESTS)
    adds = np.where(cancer_test & (row_rtt_trust >= 0), requests, 0.0)
    trust_adds = np.bincount(np.maximum(row_rtt_trust, 0), weights=adds, minlength=len(usc_referrals_per_wd))
    share = np.where(adds > 0, adds / np.where(trust_adds[np.maximum(row_rtt_trust, 0)] > 0,
                                                trust_adds[np.maximum(row_rtt_trust, 0)], 1.0), 0.0)
    urgent = share * tests_per_referral * np.asarray(usc_referrals_per_wd)[np.maximum(row_rtt_trust, 0)]
    return np.minimum(urgent, MAX_URGENT_SHARE * requests)


def _lever_tests(scenario: Scenario, lay: DiagnosticLayout, months: tuple[str, ...], capacity: np.ndarray,
                 seed: int, rep: int) -> tuple[np.ndarray, np.ndarray]:
    """Extra tests per working day ``[month, row]`` from the capacity levers, and their cost per working day."""
    p = lay.providers
    extra = np.zeros((len(months), len(p.row_test)))
    cost = np.zeros(len(months))
    codes = np.array(p.provider_codes)[p.row_provider]
    for k, lever in enumerate(scenario.diagnostics.capacity_levers):
        name = f"diagnostics.capacity_levers[{k}]"
        per_wd = value(lever.tests_per_week, seed, rep, f"{name}.tests_per_week", 0) / WORKING_DAYS_PER_WEEK
        price = value(lever.cost_per_test_gbp, seed, rep, f"{name}.cost_per_test_gbp", 0)
        rows = p.row_test == DIAG_TEST_KEYS.index(lever.test)
        if lever.trusts is not None:
            rows &= np.isin(codes, lever.trusts)
        weights = np.where(rows, capacity, 0.0)
        if weights.sum() <= 0:
            continue
        ramp = ramp_fraction(_lever_ramp(lever), months)
        if lever.end is not None:
            ramp = np.where(np.array(months) <= lever.end, ramp, 0.0)
        extra += np.outer(ramp * per_wd, weights / weights.sum())
        cost += ramp * per_wd * price
    return extra, cost


def _lever_ramp(lever: CapacityLever) -> Ramp:
    return Ramp(start=lever.start, full=add_months(lever.start, lever.ramp_months))


@dataclass(frozen=True)
class StartRates:
    """Each row's requests by source, its waiting-list tests and its list by source, at the start (per working day).

    Attributes:
        requests_per_wd: float64 ``[row, source]``.
        tests_per_wd: float64 ``[row]`` waiting-list tests.
        start_stock: float32 ``[row, source, bin]``.
    """

    requests_per_wd: np.ndarray
    tests_per_wd: np.ndarray
    start_stock: np.ndarray


def start_rates(lay: DiagnosticLayout, usc_referrals_per_wd: np.ndarray, tests_per_referral: float,
                rtt_share: float, window_trend: bool) -> StartRates:
    """Requests split by source (urgent cancer first, the rest by the RTT share) and the start list likewise."""
    p = lay.providers
    requests, tests = balanced_requests_per_wd(p, window_trend)
    urgent = urgent_requests_per_wd(p, lay.row_rtt_trust, usc_referrals_per_wd, tests_per_referral, requests)
    routine = requests - urgent
    by_source = np.stack([urgent, rtt_share * routine, (1.0 - rtt_share) * routine], axis=1)
    return StartRates(by_source, tests, _split_start(p.start_counts, urgent, rtt_share))


def source_weights(scenario: Scenario) -> np.ndarray:
    """float64 ``[source]`` the scenario's priority of urgent, RTT and other requests."""
    w = scenario.diagnostics.source_weights
    return np.array([w.urgent_cancer, w.rtt, w.other])


#: Monthly list changes the variation is sized from (fewer: the RTT flows' shocks stand in).
VARIATION_MIN_CHANGES = 6
#: Months of DM01 data, up to the census month, read for the variation.
VARIATION_MONTHS = 24
#: Bounds on the fitted lag-1 autocorrelation (a handful of months cannot support more).
VARIATION_RHO_BOUNDS = (0.0, 0.9)


@dataclass(frozen=True)
class DiagnosticVariation:
    """National month-to-month variation of diagnostic requests: an AR(1) log multiplier per replication.

    Attributes:
        sd, rho: marginal sd (log scale) and lag-1 autocorrelation.
        basis: ``dm01`` (sized to the published list's changes) or ``rtt_flows`` (too few DM01 months:
            the calibration's clock-start and non-admitted activity shocks combined, an assumption).
        published: the DM01 figures read (``changes``, first and last month, ``sd``, ``autocorrelation``,
            ``mean`` change), empty when there were none.
    """

    sd: float
    rho: float
    basis: str
    published: dict


def size_monthly_variation(dm01: pd.DataFrame, census_month: str, fallback_sd: float) -> DiagnosticVariation:
    """Variation sized to the England DM01 list's monthly change over the month's waiting-list tests.

    With requests equal to tests on the start trend, a log shock z on a month's requests moves the list by
    about z x that month's waiting-list tests, so the published changes, relative to tests and less their
    mean (the trend, which ``start_trend`` governs), measure z directly; no simulation round is needed.

    Args:
        dm01: the DM01 provider table (``ServiceData.dm01_provider``).
        census_month: the last month read.
        fallback_sd: sd used when fewer than VARIATION_MIN_CHANGES changes are published.
    """
    national = dm01[dm01["month"] <= census_month].groupby("month")[["waiting_list", "waiting_list_tests"]].sum()
    national = national.loc[[m for m in national.index if m > add_months(census_month, -VARIATION_MONTHS)]]
    months = list(national.index)
    size, tests = national["waiting_list"], national["waiting_list_tests"]
    changes = [(m, (size[m] - size[p]) / tests[m])
               for p, m in zip(months, months[1:]) if add_months(p, 1) == m and tests[m] > 0]
    if len(changes) < VARIATION_MIN_CHANGES:
        published = {"changes": len(changes)}
        return DiagnosticVariation(float(fallback_sd), 0.0, "rtt_flows", published)
    x = np.array([c for _, c in changes])
    d = x - x.mean()
    # Lag-1 autocorrelation as autocovariance over variance: defined whenever the changes vary at all.
    rho = float((d[:-1] * d[1:]).sum() / (d * d).sum()) if (d * d).sum() > 0 else 0.0
    published = {"changes": len(x), "first": changes[0][0], "last": changes[-1][0], "sd": float(x.std(ddof=1)),
                 "autocorrelation": rho, "mean": float(x.mean())}
    return DiagnosticVariation(float(x.std(ddof=1)), float(np.clip(rho, *VARIATION_RHO_BOUNDS)), "dm01", published)


def request_multipliers(variation: DiagnosticVariation | None, seed: int, replication: int,
                        n_months: int) -> np.ndarray:
    """float64 ``[month]`` the replication's national multipliers on requests (mean one; ones for replication 0,
    the central path, and without variation)."""
    if variation is None or replication == 0:
        return np.ones(n_months)
    z = ar1_shocks(stream(seed, replication, "diagnostics"), n_months, variation.sd, variation.rho)
    return np.exp(z - 0.5 * variation.sd ** 2)


def batch_inputs(scenario: Scenario, lay: DiagnosticLayout, months: tuple[str, ...], replications: np.ndarray,
                 usc_referrals_per_wd: np.ndarray, pioneer_codes: frozenset[str],
                 in_turn_per_week: np.ndarray, variation: DiagnosticVariation | None = None) -> DiagnosticInputs:
    """Diagnostic inputs for a batch (each replication computed alone, so batching never matters).

    ``variation``: the monthly variation of requests (None: none; also when the scenario turns it off)."""
    variation = variation if scenario.diagnostics.monthly_variation else None
    cfg = scenario.diagnostics
    p = lay.providers
    seed = scenario.seed
    n_reps, n_months, n_rows = len(replications), len(months), len(p.row_test)
    requests = np.zeros((n_reps, n_months, n_rows, N_SOURCES))
    list_cap = np.zeros((n_reps, n_months, n_rows))
    other_tests = np.zeros((n_reps, n_months, n_rows))
    coupling = np.zeros(n_reps)
    cost = np.zeros((n_reps, n_months))
    start = np.zeros((n_reps, n_rows, N_SOURCES, DIAG_BINS), dtype=np.float32)
    pioneer = np.isin(np.array(p.provider_codes)[p.row_provider], sorted(pioneer_codes))
    for k, r in enumerate(int(x) for x in replications):
        demand_pct = value(cfg.demand_growth_pct_per_year, seed, r, "diagnostics.demand_growth_pct_per_year", -20, 30)
        g_demand = growth_factors(months, demand_pct)
        g_capacity = growth_factors(months, capacity_growth(cfg, "diagnostics.capacity_growth_pct_per_year",
                                                            "diagnostics.capacity_growth_gap_pct_per_year",
                                                            demand_pct, seed, r))
        rtt_share = value(cfg.rtt_share_of_requests_pct, seed, r, "diagnostics.rtt_share_of_requests_pct", 0, 100) / 100
        per_referral = value(cfg.urgent_tests_per_referral, seed, r, "diagnostics.urgent_tests_per_referral", 0, 5)
        coupling[k] = value(cfg.rtt_pathways_needing_test_pct, seed, r,
                            "diagnostics.rtt_pathways_needing_test_pct", 0, 100) / 100
        rates = start_rates(lay, usc_referrals_per_wd, per_referral, rtt_share, cfg.start_trend == "window")
        capacity0 = rates.tests_per_wd + p.planned_tests_per_wd + p.unscheduled_tests_per_wd
        removed = rttt_removal_share(scenario.policies.rttt, months, DIAG_TEST_KEYS, p.row_test, pioneer, seed, r)
        policy = scenario.policies.rttt
        urgent_removed = removed if (policy is not None and not policy.exempt_urgent_cancer) else 0.0
        kept = np.stack([1.0 - urgent_removed + np.zeros_like(removed), 1.0 - removed, 1.0 - removed], axis=-1)
        shock = request_multipliers(variation, seed, r, n_months)
        if variation is not None:
            record_shocks("diagnostic_requests", r, months, np.log(shock))
        requests[k] = (g_demand * shock)[:, None, None] * rates.requests_per_wd[None] * kept
        extra, cost[k] = _lever_tests(scenario, lay, months, capacity0, seed, r)
        total_cap = g_capacity[:, None] * capacity0[None, :] + extra
        other_tests[k] = np.minimum(g_demand[:, None] * (p.planned_tests_per_wd + p.unscheduled_tests_per_wd)[None, :],
                                    total_cap)
        list_cap[k] = total_cap - other_tests[k]
        start[k] = rates.start_stock
    weights = np.stack([priority_weights(source_weights(scenario), in_turn_hazard(slope, DIAG_BINS))
                        for slope in np.asarray(in_turn_per_week, dtype=np.float64)])
    spare = cfg.redeployment
    redeployed = np.array([value(spare.spare_redeployed_pct, seed, int(r), "diagnostics.redeployment.spare_redeployed_pct",
                                 0, 100) / 100.0 for r in replications])
    return DiagnosticInputs(requests, list_cap, other_tests, weights, p.row_test, coupling, start, cost, redeployed,
                            redeployment_pools(lay, spare.within))


#: Working days of urgent requests on the list at the start (seen within about a week). Assumption.
URGENT_START_WORKING_DAYS = 5.0


def _split_start(counts: np.ndarray, urgent_per_wd: np.ndarray, rtt_share: float) -> np.ndarray:
    """float32 ``[row, source, bin]``: about a week of urgent requests in the first week band, the rest by share."""
    out = np.zeros((counts.shape[0], N_SOURCES, counts.shape[1]))
    routine = counts.copy()
    urgent = np.minimum(urgent_per_wd * URGENT_START_WORKING_DAYS, MAX_URGENT_SHARE * counts[:, 1])
    out[:, URGENT, 1] = urgent
    routine[:, 1] -= urgent
    out[:, RTT] = rtt_share * routine
    out[:, OTHER] = (1.0 - rtt_share) * routine
    return out.astype(np.float32)
