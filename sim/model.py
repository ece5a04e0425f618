"""The model: one mesa Model owning the engines and a simpy master calendar.

This is the one place where engines and (later) agents meet. Calendar
processes fire the weekly flow step and the month-end census; later issues add
quarterly finance, April allocation rounds, AFT waves and policy dates as
further processes, without restructuring this class.

Time is in days since 00:00 on the first day of the first simulated month,
which is also the end of the census day of the start state (the last day of
the month before). A month-end census happens at the end of the month's last
day; any sub-step between two events lies within one month, so flows are
spread over working days exactly.
"""

from __future__ import annotations

import datetime as dt

import mesa
import numpy as np
import simpy

from sim.calendar import add_months, month_end, parse_month, working_days, working_days_in_month
from sim.engine import census, flow, redeploy
from sim.engine.inputs import MonthlyInputs
from sim.agents.funding import BatchFinance, FundingAgents
from sim.metrics import RTT_METRICS, Geography, MetricCube
from sim.calendar import financial_year
from sim.services.cancer import CANCER_METRICS, CancerService
from sim.services.diagnostics import DIAG_METRICS, DiagnosticService

DAYS_PER_WEEK = 7
# The RTT accumulators: the flow kernel's columns, then one the model adds after each sub-step (clock stops
# made with activity another row lent, sim/engine/redeploy.py).
ACC_REDEPLOYED = flow.N_ACC
N_ACC = flow.N_ACC + 1


def month_end_times(first_day: dt.date, months: tuple[str, ...]) -> list[int]:
    """Calendar time (days) of the end of each month's census day."""
    ends = [month_end(*parse_month(m)) for m in months]
    return [(e - first_day).days + 1 for e in ends]


def census_label(month: str) -> str:
    return month_end(*parse_month(month)).isoformat()


def previous_month(month: str) -> str:
    return add_months(month, -1)


class NHSModel(mesa.Model):
    """A batch of replications of England (or a part of it) through time.

    Args:
        geography: how rows roll up to trusts, ICBs, regions and England.
        start_stock: float32 ``[rep, row, stage, bin]`` waiting list at the start
            census (engine bins: bin ``b`` holds waits of ``b - 1`` to ``b`` weeks).
        inputs: the monthly flow rates for these replications.
        replications: global replication indices of axis 0.
        rng: the generator mesa keeps for agents (none act yet).
        diagnostics: the DM01 lists, stepped before the RTT list each sub-step (None: not modelled).
        cancer: the cancer pathway, stepped day by day after the diagnostic lists (None: not modelled).
        finance: the agents' inputs; NHS England, ICB and trust agents are made from them and act
            at the start of months on the calendar (None: not modelled).
    """

    def __init__(self, geography: Geography, start_stock: np.ndarray, inputs: MonthlyInputs,
                 replications: np.ndarray, rng: np.random.Generator, diagnostics: DiagnosticService | None = None,
                 cancer: CancerService | None = None, finance: BatchFinance | None = None) -> None:
        super().__init__(rng=rng)
        if start_stock.dtype != np.float32 or start_stock.ndim != 4:
            raise ValueError("start_stock must be float32 [rep, row, stage, bin]")
        if start_stock.shape[:2] != (inputs.n_replications, geography.n_rows):
            raise ValueError(f"start_stock shape {start_stock.shape} does not match inputs and geography")
        self.geography = geography
        self.inputs = inputs
        self.replications = np.asarray(replications, dtype=np.int64)
        self.stock = np.ascontiguousarray(start_stock.copy())
        n_reps, n_rows = self.stock.shape[:2]
        self.acc = np.zeros((n_reps, n_rows, N_ACC))
        self.first_day = dt.date(*parse_month(inputs.months[0]), 1)
        self.month_ends = month_end_times(self.first_day, inputs.months)
        # Per-month constants of the hot loop, computed once: working days, and each
        # month's hazard as one contiguous [rep, stage, bin] block.
        self._month_working_days = [working_days_in_month(*parse_month(m)) for m in inputs.months]
        self._hazard = np.ascontiguousarray(np.moveaxis(inputs.hazard, 1, 0))
        # With an abundant profile, each month's priority is geometric between the two (logs kept).
        self._log_hazard = None if inputs.abundant is None else np.log(self._hazard)
        self._log_abundant = (None if inputs.abundant is None
                              else np.log(np.moveaxis(inputs.abundant.hazard, 1, 0)))
        self._hazard_now = self._hazard[0]
        self._shortage_weight = np.ones(n_reps)  # of the calibration's profile against the abundant one
        self._no_flow = np.zeros((n_reps, n_rows))
        self._no_rate = np.zeros(n_reps)
        # Capacity redeployment (sim/engine/redeploy.py): activity lent for the next sub-step, and the lists
        # after activity that the kernel reports.
        self._lent = np.zeros((n_reps, n_rows, flow.N_STAGES)) if inputs.redeploys else None
        self._waiting = np.zeros((n_reps, n_rows, flow.N_STAGES)) if inputs.redeploys else None
        self._treated = np.zeros((n_reps, n_rows, flow.N_STAGES)) if inputs.redeploys else None
        self._own = np.zeros((n_reps, n_rows, flow.N_STAGES)) if inputs.redeploys else None
        self._n_pools = int(inputs.row_pool.max()) + 1 if inputs.redeploys else 0
        self.series = geography.series()
        self._national = next(i for i, k in enumerate(self.series) if k.level == "national" and k.breakdown == "all")
        self.diagnostics = diagnostics
        self.cancer = cancer
        self.funding = self._funding_agents(finance) if finance is not None else None
        self._row_capacity: np.ndarray | None = None  # [rep, row] trusts' capacity against the trend (agents)
        self._row_demand: np.ndarray | None = None
        self.metric_names = (RTT_METRICS + (DIAG_METRICS if diagnostics is not None else ())
                             + (CANCER_METRICS if cancer is not None else ())
                             + (self.funding.metric_names if self.funding is not None else ()))
        self.dates = (census_label(previous_month(inputs.months[0])),) + tuple(census_label(m) for m in inputs.months)
        self.values = np.full((n_reps, len(self.series), len(self.metric_names), len(self.dates)), np.nan)
        self._now = 0
        self._last_ageing = 0
        self._month = 0
        self._trust_series = geography.trust_to_series()
        self.env = simpy.Environment()
        if self.funding is not None:
            self._agent_calendar()
        self._census(0, flows=False)
        self._set_priority(0)
        self.env.process(self._weekly_step())
        self.env.process(self._month_end_census())

    # -- calendar processes -------------------------------------------------
    def _weekly_step(self):
        while True:
            yield self.env.timeout(DAYS_PER_WEEK)
            self._advance_to(int(self.env.now), age=True)

    def _month_end_census(self):
        for k, t in enumerate(self.month_ends):
            yield self.env.timeout(t - self.env.now)
            self._advance_to(int(self.env.now))
            self._census(k + 1, flows=True)
            self._month = k + 1
            if self._month < len(self.month_ends):
                self._set_priority(self._month)

    def _funding_agents(self, finance: BatchFinance) -> FundingAgents:
        agents = FundingAgents.for_batch(self, finance, self.geography, self.inputs.months)
        position = {c: i for i, c in enumerate(finance.trust_codes)}
        self._rtt_finance_trust = np.array([position.get(c, -1) for c in self.geography.trust_codes], dtype=np.int64)
        return agents

    def _agent_calendar(self) -> None:
        """Agents act at midday on the first day of each month (after the previous month's census)."""
        years = self.funding.nhs_england.inputs.years
        self.funding.start(years.index(financial_year(self.inputs.months[0])), self._within_18w_by_trust)
        self._couple_agents()

        def each_month():
            for i, m in enumerate(self.inputs.months[1:], start=1):
                at = (dt.date(*parse_month(m), 1) - self.first_day).days + 0.5
                yield self.env.timeout(at - self.env.now)
                self.funding.month(i, self._within_18w_by_trust)
                self._couple_agents()

        self.env.process(each_month())

    def _couple_agents(self) -> None:
        """Trusts' capacity and IHO demand changes reach the waiting-list rows (engines never see agents)."""
        row_trust = self._rtt_finance_trust[self.geography.row_trust]
        capacity = self.funding.capacity()
        self._row_capacity = None if capacity is None else np.ascontiguousarray(capacity[:, row_trust])
        demand = self.funding.demand()
        self._row_demand = None if demand is None else np.ascontiguousarray(demand[:, row_trust])

    def _within_18w_by_trust(self) -> np.ndarray:
        """``[rep, finance trust]`` % of each trust's RTT list within 18 weeks now (NaN: no list)."""
        g = self.geography
        by_trust = census.sum_rows_to_groups(self.stock, g.row_trust, len(g.trust_codes))
        total = by_trust.sum(axis=-1)
        within = (by_trust * census.share_within(by_trust.shape[-1], self._now - self._last_ageing,
                                                 18 * DAYS_PER_WEEK)).sum(axis=-1)
        pct = np.where(total > 0, 100.0 * within / np.where(total > 0, total, 1.0), np.nan)
        n_fin = len(self.funding.board.inputs.kind)
        out = np.full((pct.shape[0], n_fin), np.nan)
        out[:, self._rtt_finance_trust] = pct
        return out

    def run(self, until_month: int | None = None) -> MetricCube:
        """Simulate ``until_month`` months (default: all) and return the batch's metrics at their censuses.

        ``until_month=0`` simulates nothing: the cube holds the start census only.
        """
        n = len(self.month_ends) if until_month is None else until_month
        self.env.run(until=(self.month_ends[n - 1] if n else 0) + 0.5)
        # mesa 3.3 counts agent ids in a class-level dict keyed by model, which keeps every model
        # (and its batch's state) alive for the life of the process (mesa#3179; fixed upstream
        # in mesa#3180, not yet released). Drop this model's entry once its agents are made.
        getattr(mesa.Agent, "_ids", {}).pop(self, None)
        return MetricCube(self.values[..., :n + 1], self.replications, self.series, self.metric_names,
                          self.dates[:n + 1])

    # -- engine coupling ----------------------------------------------------
    def _set_priority(self, m: int) -> None:
        """Month ``m``'s priority profile. With an abundant profile, each bin's priority is
        ``shortage ** theta * abundant ** (1 - theta)``, ``theta`` from the national list at the census
        just taken, so the order follows how short the list has become. Geometric, not linear: a linear
        mix would hand most of the order to the shortage profile's large weights at small ``theta``."""
        if self._log_abundant is None:
            self._hazard_now = self._hazard[m]
            return
        national = self.values[:, self._national, self.metric_names.index("rtt_waiting_list"), m]
        self._shortage_weight = self.inputs.abundant.weight(m, national)
        theta = self._shortage_weight[:, None, None]
        self._hazard_now = np.exp(theta * self._log_hazard[m] + (1.0 - theta) * self._log_abundant[m])

    def _advance_to(self, t: int, age: bool = False) -> None:
        """Move flows from the last event to ``t`` (both inside one month); age at a week end."""
        if t <= self._now:
            if age:
                self._age_only()
            return
        m = self._month
        inp = self.inputs
        d0 = self.first_day + dt.timedelta(days=self._now)
        d1 = self.first_day + dt.timedelta(days=t)
        wd = working_days(d0, d1)
        month_wd = self._month_working_days[m]
        part = wd / month_wd if month_wd else 0.0
        scale = inp.national_scale * wd
        nonadmitted = (inp.nonadmitted_activity_per_wd[:, m] * scale)[:, None] * inp.row_capacity_share
        admitted = (inp.admitted_activity_per_wd[:, m] * scale)[:, None] * inp.row_capacity_share
        clock_starts = np.outer(inp.clock_starts_per_wd[:, m] * scale, inp.row_demand_share)
        if self._row_capacity is not None:
            nonadmitted = nonadmitted * self._row_capacity
            admitted = admitted * self._row_capacity
        if self._row_demand is not None:
            clock_starts = clock_starts * self._row_demand
        if self.diagnostics is not None:
            nonadmitted = nonadmitted * self.diagnostics.step(m, wd, t - self._now, age)[:, self.geography.row_trust]
        if self.cancer is not None:
            self.cancer.step(m, d0, d1, self.diagnostics)
        lends = self._lent is not None and wd > 0  # a loan is spent in the next sub-step with working days
        if lends:
            self._own[..., flow.NONADMITTED] = nonadmitted
            self._own[..., flow.ADMITTED] = admitted
            nonadmitted = nonadmitted + self._lent[..., flow.NONADMITTED]
            admitted = admitted + self._lent[..., flow.ADMITTED]
        flow.advance(
            self.stock,
            self.acc,
            clock_starts=clock_starts,
            nonadmitted_activity=nonadmitted,
            admitted_activity=admitted,
            dta_share=np.ascontiguousarray(inp.dta_share[:, m]),
            other_rate=inp.other_removals_share[:, m] * part,
            validation_rate=inp.validation_share[:, m] * part,
            validation_min_bin=inp.validation_min_bin,
            hazard=self._hazard_now,
            other_profile=inp.other_profile,
            age=age,
            waiting=self._waiting,
            treated=self._treated,
        )
        if lends:
            redeploy.lend(self._own, self._treated, self._waiting, inp.row_pool, self._n_pools, inp.redeployed_share,
                          self._lent, self.acc, ACC_REDEPLOYED)
        self._now = t
        if age:
            self._last_ageing = t

    def _age_only(self) -> None:
        """Age one week with no flows (a week end at the same moment as a census): the kernel's own ageing."""
        z, r = self._no_flow, self._no_rate
        if self.diagnostics is not None:
            self.diagnostics.step(min(self._month, len(self._hazard) - 1), 0.0, 0, True)
        flow.advance(self.stock, self.acc, clock_starts=z, nonadmitted_activity=z, admitted_activity=z,
                     dta_share=r, other_rate=r, validation_rate=r, validation_min_bin=0,
                     hazard=self._hazard_now,
                     other_profile=self.inputs.other_profile, age=True)
        self._last_ageing = self._now

    def _census(self, k: int, flows: bool) -> None:
        """Record month-end metrics into column ``k`` of the cube."""
        g = self.geography
        d = self._now - self._last_ageing
        n_spec = len(g.specialty_codes)
        trust_stages, specialty_stages = census.sum_rows_by_stage(self.stock, g.row_trust, len(g.trust_codes),
                                                                  g.row_specialty, n_spec)
        by_trust = trust_stages.sum(axis=2)
        admitted = trust_stages[:, :, flow.ADMITTED].sum(axis=-1)
        n_series = len(self.series)
        counts = np.zeros((by_trust.shape[0], n_series, by_trust.shape[2]))
        adm = np.zeros((by_trust.shape[0], n_series))
        acc_trust = census.sum_groups(self.acc, g.row_trust, len(g.trust_codes))
        acc_series = np.zeros((by_trust.shape[0], n_series, N_ACC))
        for col in range(self._trust_series.shape[1]):
            target = self._trust_series[:, col]
            counts += census.sum_groups(by_trust, target, n_series)
            adm += census.sum_groups(admitted[:, :, None], target, n_series)[..., 0]
            acc_series += census.sum_groups(acc_trust, target, n_series)
        off = g.specialty_series_offset()
        counts[:, off:off + n_spec] = specialty_stages.sum(axis=2)
        adm[:, off:off + n_spec] = specialty_stages[:, :, flow.ADMITTED].sum(axis=-1)
        acc_series[:, off:off + n_spec] = census.sum_groups(self.acc, g.row_specialty, n_spec)
        metrics = census.wait_metrics(counts, d)
        metrics["rtt_waiting_list_admitted"] = adm
        if flows:
            metrics["rtt_clock_starts"] = acc_series[..., flow.ACC_CLOCK_STARTS]
            metrics["rtt_clock_stops_nonadmitted"] = acc_series[..., flow.ACC_STOPS_NONADMITTED]
            metrics["rtt_clock_stops_admitted"] = acc_series[..., flow.ACC_STOPS_ADMITTED]
            metrics["rtt_clock_stops"] = metrics["rtt_clock_stops_nonadmitted"] + metrics["rtt_clock_stops_admitted"]
            metrics["rtt_other_removals"] = acc_series[..., flow.ACC_OTHER_REMOVALS]
            metrics["rtt_clock_stops_redeployed"] = acc_series[..., ACC_REDEPLOYED]
            regime = np.full((by_trust.shape[0], n_series), np.nan)
            regime[:, self._national] = self._shortage_weight
            metrics["rtt_priority_shortage_weight"] = regime
            self.acc[...] = 0.0
        if g.test_codes:  # national-by-test series carry diagnostic metrics only
            for name in metrics:
                metrics[name][:, off + n_spec:] = np.nan
        if self.diagnostics is not None:
            metrics.update(self.diagnostics.census(d, flows))
        if self.cancer is not None:
            metrics.update(self.cancer.census(flows))
        for name in metrics:  # finance-only trusts have no patients
            metrics[name][:, g.patient_series_end():] = np.nan
        if self.funding is not None and flows:  # the start census closes 2024/25, which is not modelled
            metrics.update(self.funding.census())
        for j, name in enumerate(self.metric_names):
            if name in metrics:
                self.values[:, :, j, k] = metrics[name]
