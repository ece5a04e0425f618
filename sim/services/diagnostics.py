"""The diagnostic service inside the model: steps the DM01 lists and couples them to RTT and cancer.

Coupling (docs/MODEL.md, diagnostics): an RTT pathway that needs a test cannot
stop its clock before the test is done. Each sub-step, for every trust, the
ratio of RTT-sourced tests done to RTT-sourced requests made is compared with
its value on the start trend (routine tests over routine requests at the start
rates: the state the RTT calibration already reflects); the trust's
non-admitted RTT activity is scaled by
``1 + f x (ratio / ratio_0 - 1)``, bounded to ``[1 - f, 1 + f]``, where ``f``
is the share of non-admitted clock stops that wait for a test. A diagnostic
shortfall therefore holds back clock stops, and clearing a diagnostic backlog
releases them. For cancer, the mean wait of urgent requests at each trust
(Little's law: list / requests per day) is reported to the cancer service.
"""

from __future__ import annotations

import numpy as np

from sim.engine import census, redeploy
from sim.engine import diagnostics as dx
from sim.scenarios.diagnostics import DiagnosticInputs, DiagnosticLayout

DIAG_METRICS = ("diag_waiting_list", "diag_over_6w", "diag_over_6w_pct", "diag_tests", "diag_tests_waiting_list",
                "diag_lever_cost_gbp_m", "diag_tests_redeployed")
SIX_WEEKS_DAYS = 42  # "over 6 weeks": a wait of 6 weeks or more (DM01), i.e. not under 42 days


class DiagnosticService:
    """DM01 lists of a batch of replications.

    ``diag_lever_cost_gbp_m`` is the month's cost of the capacity levers' tests
    (tests per working day x cost per test), reported for England only.

    Args:
        inputs: the batch's monthly requests and capacity.
        layout: rows and their series.
        n_rtt_trusts: trusts in the RTT geography (for the coupling arrays).
        n_series: series in the run's cube.
    """

    def __init__(self, inputs: DiagnosticInputs, layout: DiagnosticLayout, n_rtt_trusts: int, n_series: int) -> None:
        self.inputs = inputs
        self.layout = layout
        self.stock = np.ascontiguousarray(inputs.start_stock.copy())
        n_reps, n_rows = self.stock.shape[:2]
        self.acc = np.zeros((n_reps, n_rows, dx.N_ACC))
        self.other_tests = np.zeros((n_reps, n_rows))
        self.lever_cost = np.zeros(n_reps)
        self.done = np.zeros((n_reps, n_rows, dx.N_SOURCES))
        self.waiting = np.zeros((n_reps, n_rows, dx.N_SOURCES))
        # Redeployment (sim/engine/redeploy.py): one stage, the row's waiting-list tests.
        self._redeploys = bool((inputs.redeployed_share > 0).any())
        self._lent = np.zeros((n_reps, n_rows, 1))
        self._n_pools = int(inputs.row_pool.max()) + 1 if n_rows else 0
        self.redeployed = np.zeros((n_reps, n_rows, 1))  # tests done with lent capacity, since the census
        self.n_rtt_trusts = n_rtt_trusts
        self.n_series = n_series
        linked = layout.row_rtt_trust >= 0
        self._linked_rows = np.flatnonzero(linked)
        self._linked_trust = layout.row_rtt_trust[linked]
        routine_tests = np.maximum(inputs.list_capacity_per_wd[:, 0] - inputs.requests_per_wd[:, 0, :, dx.URGENT], 0.0)
        routine_requests = inputs.requests_per_wd[:, 0, :, dx.RTT] + inputs.requests_per_wd[:, 0, :, dx.OTHER]
        tests_t, requests_t = self._by_trust(routine_tests), self._by_trust(routine_requests)
        self._ratio0 = np.where((requests_t > 0) & (tests_t > 0), tests_t / np.where(requests_t > 0, requests_t, 1.0), 1.0)
        self._urgent_wait0: np.ndarray | None = None
        self.urgent_wait_days = np.zeros((n_reps, n_rtt_trusts))
        self._covered = np.zeros(n_series, dtype=bool)
        for col in range(layout.row_series.shape[1]):
            self._covered[layout.row_series[layout.row_series[:, col] >= 0, col]] = True
        self._covered[layout.row_test_series] = True

    def _by_trust(self, values: np.ndarray) -> np.ndarray:
        """Sum ``values[rep, row]`` over each RTT trust's rows."""
        part = np.ascontiguousarray(values[:, self._linked_rows, None])
        return census.sum_groups(part, self._linked_trust, self.n_rtt_trusts)[..., 0]

    def step(self, month: int, working_days: float, days: int, age: bool) -> np.ndarray:
        """Advance one sub-step of ``days`` calendar days; returns float64 ``[rep, rtt trust]`` multipliers of non-admitted RTT activity."""
        inp = self.inputs
        requests = inp.requests_per_wd[:, month] * working_days
        own = inp.list_capacity_per_wd[:, month] * working_days
        lends = self._redeploys and working_days > 0  # a loan is spent in the next sub-step with working days
        dx.advance(self.stock, self.acc, self.done, requests=requests,
                   list_capacity=own + self._lent[..., 0] if lends else own, weight=inp.weight, age=age,
                   row_weight=inp.row_weight, waiting=self.waiting)
        if lends:
            redeploy.lend(own[..., None], self.done.sum(axis=-1, keepdims=True),
                          self.waiting.sum(axis=-1, keepdims=True), inp.row_pool, self._n_pools,
                          inp.redeployed_share, self._lent, self.redeployed, 0)
        self.other_tests += inp.other_tests_per_wd[:, month] * working_days
        self.lever_cost += inp.lever_cost_gbp[:, month] * working_days
        if working_days <= 0:
            return np.ones((self.stock.shape[0], self.n_rtt_trusts))
        asked = self._by_trust(requests[:, :, dx.RTT])
        done = self._by_trust(self.done[:, :, dx.RTT])
        ratio = np.where(asked > 0, done / np.where(asked > 0, asked, 1.0), np.nan)
        urgent_list = self._by_trust(self.waiting[:, :, dx.URGENT])
        urgent_per_day = self._by_trust(requests[:, :, dx.URGENT]) / max(days, 1)
        self.urgent_wait_days = np.where(urgent_per_day > 0,
                                         urgent_list / np.where(urgent_per_day > 0, urgent_per_day, 1.0), 0.0)
        if self._urgent_wait0 is None:
            self._urgent_wait0 = self.urgent_wait_days.copy()
        f = inp.rtt_coupling[:, None]
        mult = 1.0 + f * (np.where(np.isfinite(ratio), ratio, self._ratio0) / self._ratio0 - 1.0)
        return np.clip(mult, 1.0 - f, 1.0 + f)

    @property
    def urgent_wait_change_days(self) -> np.ndarray:
        """float64 ``[rep, rtt trust]`` urgent requests' mean wait now minus at the start (days)."""
        if self._urgent_wait0 is None:
            return np.zeros_like(self.urgent_wait_days)
        return self.urgent_wait_days - self._urgent_wait0

    def census(self, days_since_ageing: int, flows: bool) -> dict[str, np.ndarray]:
        """Month-end metrics ``[rep, series]`` (NaN for series without diagnostic rows); resets the flow sums."""
        lay = self.layout
        # Sources added in order, as a sum over the axis would, without numpy's slow strided reduction.
        counts_rows = np.add(self.stock[:, :, 0], self.stock[:, :, 1], dtype=np.float64)
        for s in range(2, self.stock.shape[2]):
            counts_rows += self.stock[:, :, s]
        tests_rows = self.acc[..., dx.ACC_TESTS:dx.ACC_TESTS + dx.N_SOURCES].sum(axis=-1)
        values = np.concatenate([counts_rows, tests_rows[..., None], self.other_tests[..., None], self.redeployed],
                                axis=-1)
        n_bins = counts_rows.shape[-1]
        per_series = np.zeros((values.shape[0], self.n_series, values.shape[-1]))
        for col in range(lay.row_series.shape[1]):
            keep = np.flatnonzero(lay.row_series[:, col] >= 0)
            per_series += census.sum_groups(np.ascontiguousarray(values[:, keep]), lay.row_series[keep, col],
                                            self.n_series)
        per_series += census.sum_groups(values, lay.row_test_series, self.n_series)
        counts = per_series[..., :n_bins]
        total = counts.sum(axis=-1)
        within = (counts * census.share_within(n_bins, days_since_ageing, SIX_WEEKS_DAYS)).sum(axis=-1)
        over = np.maximum(total - within, 0.0)
        nan = np.where(self._covered, 0.0, np.nan)[None, :]
        out = {
            "diag_waiting_list": total + nan,
            "diag_over_6w": over + nan,
            "diag_over_6w_pct": np.where(total > 0, 100.0 * over / np.where(total > 0, total, 1.0), np.nan) + nan,
        }
        if flows:
            out["diag_tests_waiting_list"] = per_series[..., n_bins] + nan
            out["diag_tests"] = per_series[..., n_bins] + per_series[..., n_bins + 1] + nan
            out["diag_tests_redeployed"] = per_series[..., n_bins + 2] + nan
            cost = np.full((values.shape[0], self.n_series), np.nan)
            cost[:, 0] = self.lever_cost / 1e6  # national only: levers are not split by area
            out["diag_lever_cost_gbp_m"] = cost
            self.lever_cost[...] = 0.0
            self.acc[...] = 0.0
            self.other_tests[...] = 0.0
            self.redeployed[...] = 0.0
        return out
