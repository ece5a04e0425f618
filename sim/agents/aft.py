"""Advanced Foundation Trust status: oversight segments, assessment waves, re-evaluation and IHO designation.

Vectorised over ``[rep, trust]`` like the trust ledger. Rules (docs/MODEL.md section 16):

- Segmentation (each quarter): a trust's score blends its RTT % within 18
  weeks (z-score within its peer group; acute and specialist trusts only) with
  a persistent latent quality; segments 1-4 are the quartiles of the score
  within each peer group (trust kind), so at most about half of each group is
  in segments 1-2 by construction; with the financial override a trust in
  deficit or receiving deficit support is placed no higher than segment 3.
- A wave: the nominated trusts (first wave) or every trust eligible (segment
  at most ``max_segment``, CQC rating good enough, not yet an AFT) goes to the
  independent panel, which passes each with the panel probability; at most
  ``max_per_wave`` are designated, best score first.
- Re-evaluation five years after designation, or sooner when a quarterly
  segment reaches the trigger: the AFT keeps the status only if it is
  eligible again and passes the panel.
- IHO: at a wave, an AFT of an allowed kind that has held the status long
  enough, is in segment 1 and passes the IHO assessment may take its host
  ICB's population budget; at most one IHO per ICB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENTS = 4


@dataclass(frozen=True)
class AFTInputs:
    """A batch's AFT inputs.

    Attributes:
        wave_months: run-month indices of the waves (the first is the nominated trusts').
        nominated: bool ``[trust]`` assessed in the first wave.
        peer_group: int ``[trust]`` peer group (trust kind).
        performance_weight: weight of RTT performance in the score (0-1).
        has_performance: bool ``[trust]`` trusts with an RTT list.
        quality: ``[rep, trust]`` persistent latent quality (standard normal).
        cqc_eligible: bool ``[rep, trust]`` CQC rating good enough to apply.
        panel_pass: ``[rep]`` panel pass probability; ``panel_u`` ``[rep, month, trust]`` uniforms.
        max_segment, trigger_segment: eligibility and re-evaluation trigger segments.
        reevaluation_months: months between re-evaluations.
        financial_override: apply the NOF financial override.
        max_per_wave: designations per wave (0: no limit).
        iho_enabled: designate IHOs; ``iho_kind`` bool ``[trust]`` kinds allowed.
        iho_min_months: months as an AFT before IHO designation.
        iho_pass: ``[rep]`` IHO assessment pass probability; ``iho_u`` ``[rep, month, trust]`` uniforms.
        iho_budget_share: ``[rep]`` share of the ICB's other commissioning the IHO holds.
        iho_demand_change: ``[rep]`` change in clock starts in the IHO's ICB (fraction).
    """

    wave_months: tuple[int, ...]
    nominated: np.ndarray
    peer_group: np.ndarray
    performance_weight: float
    has_performance: np.ndarray
    quality: np.ndarray
    cqc_eligible: np.ndarray
    panel_pass: np.ndarray
    panel_u: np.ndarray
    max_segment: int
    trigger_segment: int
    reevaluation_months: int
    financial_override: bool
    max_per_wave: int
    iho_enabled: bool
    iho_kind: np.ndarray
    iho_min_months: int
    iho_pass: np.ndarray
    iho_u: np.ndarray
    iho_budget_share: np.ndarray
    iho_demand_change: np.ndarray


def peer_z(values: np.ndarray, peer_group: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``[rep, trust]`` z-scores of ``values`` within each peer group over ``mask`` trusts (0 elsewhere)."""
    out = np.zeros_like(values, dtype=np.float64)
    for g in np.unique(peer_group):
        cols = np.flatnonzero((peer_group == g) & mask)
        if len(cols) < 2:
            continue
        v = values[:, cols]
        sd = v.std(axis=1, keepdims=True)
        out[:, cols] = np.where(sd > 0, (v - v.mean(axis=1, keepdims=True)) / np.where(sd > 0, sd, 1.0), 0.0)
    return out


def segments(score: np.ndarray, peer_group: np.ndarray, in_deficit: np.ndarray, override: bool) -> np.ndarray:
    """int ``[rep, trust]`` segments 1-4: quartiles of ``score`` (higher is better) within each peer group."""
    seg = np.zeros(score.shape, dtype=np.int64)
    for g in np.unique(peer_group):
        cols = np.flatnonzero(peer_group == g)
        order = np.argsort(-score[:, cols], axis=1, kind="stable")
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(len(cols))[None, :], axis=1)
        seg[:, cols] = 1 + (SEGMENTS * rank) // len(cols)
    if override:
        seg = np.where(in_deficit, np.maximum(seg, 3), seg)
    return seg


class AFTProgramme:
    """AFT and IHO status of every trust in a batch (module docstring)."""

    def __init__(self, inputs: AFTInputs, icb: np.ndarray) -> None:
        self.inputs = inputs
        self.icb = icb
        n_reps, n = inputs.quality.shape
        self.is_aft = np.zeros((n_reps, n), dtype=bool)
        self.is_iho = np.zeros((n_reps, n), dtype=bool)
        self.since = np.full((n_reps, n), -1, dtype=np.int64)   # month of designation or last re-evaluation
        self.designated = np.full((n_reps, n), -1, dtype=np.int64)
        self.segment = np.full((n_reps, n), SEGMENTS, dtype=np.int64)
        self.score = np.zeros((n_reps, n))

    def segment_trusts(self, within_18w_pct: np.ndarray, in_deficit: np.ndarray) -> None:
        """Quarterly segmentation from each trust's RTT % within 18 weeks ``[rep, trust]`` (NaN: no list)."""
        inp = self.inputs
        perf = peer_z(np.nan_to_num(within_18w_pct), inp.peer_group, inp.has_performance)
        w = np.where(inp.has_performance, inp.performance_weight, 0.0)
        self.score = w * perf + (1.0 - w) * inp.quality
        self.segment = segments(self.score, inp.peer_group, in_deficit, inp.financial_override)

    def eligible(self) -> np.ndarray:
        return (self.segment <= self.inputs.max_segment) & self.inputs.cqc_eligible

    def _passes(self, month: int) -> np.ndarray:
        return self.inputs.panel_u[:, month] < self.inputs.panel_pass[:, None]

    def reevaluate(self, month: int) -> None:
        """Re-evaluate AFTs due (five years on) or triggered (segment at the trigger); failures lose the status."""
        inp = self.inputs
        due = self.is_aft & ((month - self.since >= inp.reevaluation_months) | (self.segment >= inp.trigger_segment))
        if not due.any():
            return
        keep = self.eligible() & self._passes(month)
        lose = due & ~keep
        self.is_aft &= ~lose
        self.is_iho &= ~lose
        self.since = np.where(due & keep, month, np.where(lose, -1, self.since))

    def wave(self, month: int, first: bool) -> None:
        """One assessment wave at run month ``month``."""
        inp = self.inputs
        candidates = (np.broadcast_to(inp.nominated, self.is_aft.shape) if first else self.eligible()) & ~self.is_aft
        passed = candidates & self._passes(month)
        if inp.max_per_wave:
            ranked = np.argsort(-np.where(passed, self.score, -np.inf), axis=1, kind="stable")
            keep = np.zeros_like(passed)
            np.put_along_axis(keep, ranked[:, :inp.max_per_wave], True, axis=1)
            passed &= keep
        self.is_aft |= passed
        self.since = np.where(passed, month, self.since)
        self.designated = np.where(passed, month, self.designated)
        if inp.iho_enabled:
            self._designate_iho(month)

    def _designate_iho(self, month: int) -> None:
        inp = self.inputs
        held = self.is_aft & (self.designated >= 0) & (month - self.designated >= inp.iho_min_months)
        ok = held & inp.iho_kind[None, :] & (self.segment == 1) & ~self.is_iho
        ok &= inp.iho_u[:, month] < inp.iho_pass[:, None]
        n_icbs = int(self.icb.max()) + 1
        taken = np.zeros((ok.shape[0], n_icbs), dtype=bool)
        np.logical_or.at(taken.T, self.icb, self.is_iho.T)
        order = np.argsort(-self.score, axis=1, kind="stable")  # one IHO per ICB, best score first
        reps = np.arange(ok.shape[0])
        for j in range(order.shape[1]):
            t = order[:, j]
            go = ok[reps, t] & ~taken[reps, self.icb[t]]
            self.is_iho[reps, t] |= go
            taken[reps, self.icb[t]] |= go
