"""Fit the flow engine to the published national RTT series.

What is fitted, on observed months up to a cutoff (default: the last 24):

- clock starts, non-admitted activity and admitted clock stops per working
  day: a log-linear trend (growth, with a Newey-West standard error), monthly
  seasonal factors (ratio to a centred 12-month moving average, median over
  years outside the pandemic), and an AR(1) residual;
- other removals: the share of the list leaving without treatment each month,
  derived from the published list change (list[t-1] + clock starts - completed
  - list[t]), NHS England does not publish it;
- the decision-to-admit share of non-admitted activity, from completed
  admitted pathways and a constant admitted share of the list;
- the priority profile (who gets treated): replaying the last 12 months of
  the window (``PRIORITY_WINDOW_MONTHS``) through the real model from the
  reconstructed list at their start, with the observed flows, and minimising
  the error in % within 18 weeks, median, 92nd percentile and long waits.
  Trusts' priorities drift as long-wait targets tighten (the weekly removal
  rate of the 52-week cohort doubled from 2022 to 2024, docs/VALIDATION.md
  section 3), so the latest year predicts the next one better than two years
  do: replaying the following year with the observed flows, 52-week waits
  come out 15% off on average over three cutoffs against 31% with a 24-month
  priority window.

The result is a :class:`~sim.config.CalibrationParams`, written as YAML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from sim.calendar import add_months, month_range, parse_month, working_days_in_month
from sim.config import CalibrationParams, FittedTrend, PriorityProfile, PriorityRegime
from sim.engine.inputs import AbundantPriority, MonthlyInputs
from sim.metrics import Geography, MetricCube
from sim.model import NHSModel, previous_month
from sim.scenarios.flows import (N_ENGINE_BINS, hazard_by_month, other_removals_profile, stops_per_week,
                                 stops_season)
from sim.start_state import reconstruct_waiting_times

# Pandemic months left out of seasonal factors (activity collapsed, then recovered).
PANDEMIC = ("2020-03", "2021-06")
DEFAULT_WINDOW_MONTHS = 24
PRIORITY_WINDOW_MONTHS = 12  # the priority profile is fitted on the window's last 12 months (see above)
ADMITTED_RAMP = (0.5, 2.0)  # assumption: admitted share of a bin rises from 0.5x to 2x the mean by 52 weeks


def working_days(months) -> np.ndarray:
    return np.array([working_days_in_month(*parse_month(m)) for m in months], dtype=np.float64)


def seasonal_factors(per_wd: pd.Series) -> list[float]:
    """Median ratio to a centred 12-month moving average, by calendar month, mean 1."""
    s = per_wd.dropna()
    trend = s.rolling(12, center=True).mean().rolling(2).mean().shift(-1)
    ratio = (s / trend).dropna()
    ratio = ratio[(ratio.index < PANDEMIC[0]) | (ratio.index > PANDEMIC[1])]
    by_month = ratio.groupby([parse_month(m)[1] for m in ratio.index]).median()
    factors = np.array([by_month.get(k, 1.0) for k in range(1, 13)])
    return [float(x) for x in factors / factors.mean()]


def _newey_west_se(x: np.ndarray, resid: np.ndarray, lags: int = 3) -> float:
    """HAC standard error of the slope of a simple regression (Bartlett kernel)."""
    xc = x - x.mean()
    s = np.sum((xc * resid) ** 2)
    for lag in range(1, lags + 1):
        w = 1.0 - lag / (lags + 1.0)
        s += 2.0 * w * np.sum(xc[lag:] * resid[lag:] * xc[:-lag] * resid[:-lag])
    return float(math.sqrt(s) / np.sum(xc**2))


def annual_growth_sd(per_wd: pd.Series) -> float:
    """Sd (%) of March-on-March growth of the 12-month mean, outside the pandemic years."""
    r12 = per_wd.rolling(12).mean()
    yoy = 100.0 * (r12 / r12.shift(12) - 1.0)
    march = yoy[[m.endswith("-03") for m in yoy.index]].dropna()
    # A year whose 24 months overlap the pandemic compares a collapse or a rebound, not growth.
    march = march[[not (m >= PANDEMIC[0] and add_months(m, -23) <= PANDEMIC[1]) for m in march.index]]
    return float(march.std(ddof=1)) if len(march) >= 3 else 0.0


def fit_trend(per_wd: pd.Series, first: str, last: str, history: pd.Series | None = None) -> FittedTrend:
    """Trend, growth s.e., seasonality, AR(1) shock and annual growth variation of a per-working-day series."""
    season = seasonal_factors(history if history is not None else per_wd)
    window = per_wd.loc[first:last]
    if window.isna().any() or len(window) < 12:
        raise ValueError(f"need at least 12 complete months to fit a trend, got {window.notna().sum()}")
    factor = np.array([season[parse_month(m)[1] - 1] for m in window.index])
    y = np.log(window.to_numpy() / factor)
    t = np.arange(len(y)) / 12.0
    slope, intercept = np.polyfit(t, y, 1)
    resid = y - (intercept + slope * t)
    rho = float(np.corrcoef(resid[1:], resid[:-1])[0, 1]) if len(resid) > 3 else 0.0
    return FittedTrend(
        level_per_working_day=float(math.exp(intercept + slope * t[-1])),
        growth_pct_per_year=float(100.0 * (math.exp(slope) - 1.0)),
        growth_se_pct_per_year=float(100.0 * _newey_west_se(t, resid)),
        seasonal_factors=season,
        shock_sd_pct=float(100.0 * resid.std(ddof=2)),
        shock_autocorrelation=float(np.clip(rho, -0.99, 0.99)),
        annual_growth_sd_pct=annual_growth_sd((history if history is not None else per_wd).loc[:last]),
    )


def derived_flows(obs: pd.DataFrame, months, admitted_share: float) -> pd.DataFrame:
    """Observed monthly flows with other removals and decisions to admit derived.

    Other removals = list[t-1] + clock starts - completed - list[t]. Decisions to
    admit = admitted clock stops + the admitted share of other removals and of
    the list's change (the admitted share held constant).
    """
    prev = [previous_month(m) for m in months]
    df = pd.DataFrame(index=list(months))
    df["wd"] = working_days(months)
    df["list_prev"] = obs.loc[prev, "waiting_list"].to_numpy()
    df["list"] = obs.loc[list(months), "waiting_list"].to_numpy()
    df["starts"] = obs.loc[list(months), "clock_starts"].to_numpy()
    df["admitted"] = obs.loc[list(months), "completed_admitted"].to_numpy()
    df["nonadmitted"] = obs.loc[list(months), "completed_nonadmitted"].to_numpy()
    df["other"] = df.list_prev + df.starts - df.admitted - df.nonadmitted - df.list
    df["dta"] = df.admitted + admitted_share * (df.other + df.list - df.list_prev)
    df["dta_share"] = df.dta / (df.dta + df.nonadmitted)
    df["other_share"] = df.other / df.list_prev
    if df[["starts", "admitted", "nonadmitted"]].isna().any().any():
        raise ValueError(f"observed flows are missing in {months[0]}..{months[-1]}")
    return df


def national_start_stock(obs: pd.DataFrame, month: str, admitted_share: float,
                         n_bins: int = N_ENGINE_BINS) -> tuple[np.ndarray, object]:
    """``[stage, engine bin]`` national list at the census of ``month``, and its reconstruction."""
    row = obs.loc[month]
    rec = reconstruct_waiting_times(
        row.waiting_list, row.pct_within_18w, row.median_weeks, row.p92_weeks, row.over_52w,
        row.over_65w, row.over_78w, row.over_104w, n_bins=n_bins - 1,
    )
    total = np.zeros(n_bins)
    total[1:] = rec.counts  # engine bin b holds waits of b-1 to b weeks at a census just after ageing
    return split_stages(total, admitted_share), rec


def split_stages(total: np.ndarray, admitted_share: float) -> np.ndarray:
    """Split a list by bin into stages; the admitted share rises with weeks waited (assumption)."""
    weeks = np.maximum(np.arange(total.size) - 0.5, 0.0)
    lo, hi = ADMITTED_RAMP
    ramp = lo + (hi - lo) * np.minimum(weeks, 52.0) / 52.0
    c = admitted_share * total.sum() / max(float((total * ramp).sum()), 1e-12)
    adm = total * np.minimum(c * ramp, 1.0)
    return np.stack([total - adm, adm])


def single_row_geography() -> Geography:
    one = np.zeros(1, dtype=np.int64)
    return Geography(one, one, ("ENG",), one, ("ENG",), one, ("ENG",), ("all",))


def replay(obs: pd.DataFrame, first: str, last: str, priority: PriorityProfile, admitted_share: float,
           thresholds: list[tuple[float, ...]] | None = None, case_mix_shock: np.ndarray | None = None,
           long_wait_shock: np.ndarray | None = None, abundant: PriorityRegime | None = None,
           season: np.ndarray | None = None) -> MetricCube:
    """Run the model through observed months with the observed flows (one national row).

    With ``abundant`` (and ``season``, the clock stops' seasonal factor in each month) the model weighs
    ``priority`` against it by the list in weeks of the observed clock stops, as a run does.
    """
    months = month_range(first, last)
    flows = derived_flows(obs, months, admitted_share)
    stock, _ = national_start_stock(obs, previous_month(first), admitted_share)
    one = lambda col: (flows[col] / flows.wd).to_numpy()[None, :]  # noqa: E731
    thresholds = thresholds or [()] * len(months)
    regime = None
    if abundant is not None:
        stops = ((flows.admitted + flows.nonadmitted) / flows.wd).to_numpy()
        regime = AbundantPriority(
            hazard=hazard_by_month(abundant.priority, thresholds, case_mix_shock, long_wait_shock)[None],
            stops_per_week=stops_per_week(stops, season)[None],
            weeks_abundant=abundant.weeks_abundant, weeks_shortage=abundant.weeks_shortage)
    inputs = MonthlyInputs(
        months=months,
        clock_starts_per_wd=one("starts"),
        nonadmitted_activity_per_wd=((flows.nonadmitted + flows.dta) / flows.wd).to_numpy()[None, :],
        admitted_activity_per_wd=one("admitted"),
        dta_share=flows.dta_share.to_numpy()[None, :],
        other_removals_share=flows.other_share.to_numpy()[None, :],
        validation_share=np.zeros((1, len(months))),
        validation_min_bin=0,
        row_demand_share=np.ones(1),
        row_capacity_share=np.ones((1, 1)),
        hazard=hazard_by_month(priority, thresholds, case_mix_shock, long_wait_shock)[None],
        other_profile=other_removals_profile(priority),
        abundant=regime,
    )
    model = NHSModel(single_row_geography(), stock[None, None].astype(np.float32), inputs,
                     np.zeros(1, dtype=np.int64), np.random.default_rng(0))
    return model.run()


# Tolerances that make each metric's error comparable (one unit = an error worth noticing).
FIT_SCALES = {
    "rtt_within_18w_pct": ("diff", 0.5),
    "rtt_median_weeks": ("diff", 0.3),
    "rtt_p92_weeks": ("diff", 1.0),
    "rtt_over_52w": ("log", 0.05),
    "rtt_over_65w": ("log", 0.15),
    "rtt_over_78w": ("log", 0.25),
}
OBSERVED_COLUMN = {
    "rtt_waiting_list": "waiting_list", "rtt_within_18w_pct": "pct_within_18w", "rtt_median_weeks": "median_weeks",
    "rtt_p92_weeks": "p92_weeks", "rtt_over_52w": "over_52w", "rtt_over_65w": "over_65w", "rtt_over_78w": "over_78w",
    "rtt_over_104w": "over_104w",
}


def national_series(cube: MetricCube, metric: str, replication: int = 0) -> pd.Series:
    """One metric's national trajectory, indexed by month ``YYYY-MM``."""
    s = cube.series_index("national", "ENG")
    values = cube.values[replication, s, cube.metric_index(metric)]
    return pd.Series(values, index=[d[:7] for d in cube.dates])


def fit_errors(cube: MetricCube, obs: pd.DataFrame) -> dict[str, float]:
    """RMSE per metric over the simulated months (percentage points, weeks or log ratio)."""
    out = {}
    for metric, (kind, _) in FIT_SCALES.items():
        sim = national_series(cube, metric).iloc[1:]
        o = obs.loc[sim.index, OBSERVED_COLUMN[metric]]
        err = np.asarray(np.log(sim / o) if kind == "log" else sim - o, dtype=float)
        err = err[~np.isnan(err)]  # months (or whole windows) the series does not publish
        out[metric] = float(np.sqrt(np.mean(err ** 2))) if err.size else math.nan
    sim = national_series(cube, "rtt_waiting_list").iloc[1:]
    out["rtt_waiting_list_pct"] = float(100 * np.sqrt(np.mean((sim / obs.loc[sim.index, "waiting_list"] - 1) ** 2)))
    return out


# Each parameter is searched inside a plausible range through a logistic map.
_PARAM_RANGES = {
    "urgent_amplitude": (0.0, 50.0),
    "urgent_weeks": (0.5, 26.0),
    "in_turn_nonadmitted": (0.0, 20.0),
    "in_turn_admitted": (0.0, 20.0),
    "long_wait_priority": (0.0, 100.0),
    "long_wait_lead_weeks": (0.0, 26.0),
    "other_removals_slope": (0.0, 10.0),
}
_START = {"urgent_amplitude": 4.0, "urgent_weeks": 3.0, "in_turn_nonadmitted": 1.0, "in_turn_admitted": 1.0,
          "long_wait_priority": 5.0, "long_wait_lead_weeks": 8.0, "other_removals_slope": 0.5}


def _profile(x: np.ndarray) -> PriorityProfile:
    values = {}
    for xi, (name, (lo, hi)) in zip(x, _PARAM_RANGES.items()):
        values[name] = float(lo + (hi - lo) / (1.0 + math.exp(-float(np.clip(xi, -30, 30)))))
    return PriorityProfile(**values)


def _unprofile(values: dict[str, float]) -> np.ndarray:
    out = []
    for name, (lo, hi) in _PARAM_RANGES.items():
        u = min(max((values[name] - lo) / (hi - lo), 1e-6), 1 - 1e-6)
        out.append(math.log(u / (1 - u)))
    return np.array(out)


def long_wait_thresholds(targets: pd.DataFrame, months) -> list[tuple[float, ...]]:
    """The long-wait thresholds in force each month: targets already due, plus the next one chased.

    Uses the historical long-wait targets (``rtt_over_XXw``) and the 52-week
    share target from sim/data/targets.csv.
    """
    rows = targets[targets.metric.str.match(r"^rtt_over_\d+w(_pct)?$")]
    drives = sorted((r.deadline, float(r.metric.split("_")[2][:-1])) for r in rows.itertuples())
    out = []
    for m in months:
        due = [w for deadline, w in drives if deadline < m]
        ahead = [w for deadline, w in drives if deadline >= m][:1]
        out.append(tuple(sorted(set(due + ahead), reverse=True)))
    return out


def fit_priority(obs: pd.DataFrame, first: str, last: str, admitted_share: float,
                 thresholds: list[tuple[float, ...]], max_evaluations: int = 500,
                 other_removals_slope: float | None = None) -> tuple[PriorityProfile, dict[str, float]]:
    """Least-squares fit of the priority profile by replaying the window.

    Metrics the window does not publish (65- and 78-week waits before 2021) are left out of the loss.
    ``other_removals_slope``, when given, is held instead of fitted.
    """
    held = other_removals_slope is not None
    start = _unprofile(_START)[:-1] if held else _unprofile(_START)

    def profile_of(x: np.ndarray) -> PriorityProfile:
        if not held:
            return _profile(x)
        return _profile(np.append(x, 0.0)).model_copy(update={"other_removals_slope": other_removals_slope})

    def loss(x: np.ndarray) -> float:
        errs = fit_errors(replay(obs, first, last, profile_of(x), admitted_share, thresholds), obs)
        return sum((errs[m] / scale) ** 2 for m, (_, scale) in FIT_SCALES.items() if not math.isnan(errs[m]))

    best = minimize(loss, start, method="Nelder-Mead",
                    options={"maxfev": max_evaluations, "xatol": 1e-3, "fatol": 1e-4})
    profile = profile_of(best.x)
    return profile, fit_errors(replay(obs, first, last, profile, admitted_share, thresholds), obs)


# The last year before the pandemic, when the list was about three months of clock stops: how trusts order a
# list that is short for their capacity. Waits over 52 weeks were then a contract breach (NHS Standard
# Contract 2018/19, zero tolerance), so the 52-week threshold is in force throughout.
ABUNDANT_WINDOW = ("2018-04", "2019-03")
ABUNDANT_LONG_WAIT_WEEKS = (52.0,)


def observed_weeks_of_work(obs: pd.DataFrame, calib: CalibrationParams, months) -> np.ndarray:
    """The list at each month's start in weeks of that month's clock stops, deseasonalised."""
    flows = derived_flows(obs, months, calib.admitted_share_of_list)
    stops = ((flows.admitted + flows.nonadmitted) / flows.wd).to_numpy()
    return flows.list_prev.to_numpy() / stops_per_week(stops, stops_season(calib, months))


def _published_months(obs: pd.DataFrame, first: str, last: str) -> tuple[str, ...]:
    """Months from ``first`` to ``last`` whose list, flows and previous month's list are all published."""
    ok = obs[list(CALIBRATION_COLUMNS)].notna().all(axis=1)
    return tuple(m for m in month_range(first, last)
                 if ok.get(m, False) and pd.notna(obs.waiting_list.get(previous_month(m))))


def fit_abundant(obs: pd.DataFrame, calib: CalibrationParams, max_evaluations: int) -> PriorityRegime | None:
    """The profile of short lists, fitted on ``ABUNDANT_WINDOW``, and the list sizes that bound the two regimes.

    ``weeks_abundant`` is the longest list (in weeks of clock stops) of any published month before the
    pandemic, ``weeks_shortage`` the shortest after it up to ``calib``'s cutoff: each profile was seen
    at every list size on its side, and between them the model interpolates (assumption). The other
    removals' slope is ``calib``'s. None when the data do not hold the window (or the month before it)
    or the two ranges overlap.
    """
    first, last = ABUNDANT_WINDOW
    months = month_range(first, last)
    if len(_published_months(obs, first, last)) < len(months):
        return None
    before = _published_months(obs, obs.index[0], add_months(PANDEMIC[0], -1))
    after = _published_months(obs, add_months(PANDEMIC[1], 1), calib.fit_last_month)
    if not after:
        return None
    low = float(observed_weeks_of_work(obs, calib, before).max())
    high = float(observed_weeks_of_work(obs, calib, after).min())
    if low >= high:
        return None
    thresholds = [ABUNDANT_LONG_WAIT_WEEKS] * len(months)
    profile, fit = fit_priority(obs, first, last, calib.admitted_share_of_list, thresholds, 3 * max_evaluations,
                                other_removals_slope=calib.priority.other_removals_slope)
    return PriorityRegime(priority=profile, fit_first_month=first, fit_last_month=last,
                          long_wait_weeks=list(ABUNDANT_LONG_WAIT_WEEKS), weeks_abundant=low, weeks_shortage=high,
                          fit={k: v for k, v in fit.items() if not math.isnan(v)})


# Root mean square, over its first 12 months, of a random walk with yearly sd 1:
# sqrt(mean(k / 12 for k = 1..12)) = 0.736.
_WALK_RMS_FIRST_YEAR = math.sqrt(np.mean(np.arange(1, 13) / 12.0))
_DRIFT_STEP = 0.1


def priority_months(last: str, window_months: int) -> tuple[str, ...]:
    """The months the priority profile is fitted on: the window's last ``PRIORITY_WINDOW_MONTHS``."""
    return month_range(add_months(last, -(min(window_months, PRIORITY_WINDOW_MONTHS) - 1)), last)


@dataclass(frozen=True)
class Drift:
    """The yearly random-walk sd of one priority weight and how it was sized."""

    annual_sd: float
    evidence: dict[str, float | str]


def size_drifts(obs: pd.DataFrame, targets: pd.DataFrame, last: str, window_months: int, admitted_share: float,
                profile: PriorityProfile, max_evaluations: int) -> tuple[Drift, Drift]:
    """Random-walk sds of the urgent term (case mix) and of the long-wait terms, sized by how far a fit
    one year earlier drifted.

    Fit the profile on the window ending 12 months before ``last``, replay the
    following 12 months with the observed flows (the error is then the
    mechanism's, not the flows'), and convert its RMSE, in % within 18 weeks
    for the urgent term and in log 52-week waits for the long-wait terms, to a
    yearly sd of the log weight through the sensitivity of that measure to the
    weight. Uses no data after ``last``.
    """
    earlier = add_months(last, -12)
    e_months = priority_months(earlier, window_months)
    e_profile, _ = fit_priority(obs, e_months[0], earlier, admitted_share, long_wait_thresholds(targets, e_months),
                                max_evaluations)
    year = month_range(add_months(last, -11), last)
    th = long_wait_thresholds(targets, year)
    step = np.full(len(year), _DRIFT_STEP)

    def measure(p: PriorityProfile, metric: str, mix: np.ndarray | None = None,
                long_wait: np.ndarray | None = None) -> np.ndarray:
        cube = replay(obs, year[0], last, p, admitted_share, th, mix, long_wait)
        values = national_series(cube, metric).iloc[1:].to_numpy()
        return np.log(values) if metric == "rtt_over_52w" else values

    def sized(metric: str, column: str, label: str, shocked: dict[str, np.ndarray]) -> Drift:
        observed = obs.loc[list(year), column].to_numpy(dtype=float)
        observed = np.log(observed) if metric == "rtt_over_52w" else observed
        err = measure(e_profile, metric) - observed
        rmse = float(np.sqrt(np.nanmean(err ** 2)))
        base = measure(profile, metric)
        slope = float(np.mean(measure(profile, metric, **shocked) - base) / _DRIFT_STEP)
        sd = rmse / (abs(slope) * _WALK_RMS_FIRST_YEAR) if abs(slope) > 1e-9 else 0.0
        return Drift(sd, {f"out_of_sample_rmse_{label}": rmse, f"{label}_per_log_unit": slope,
                          "earlier_fit_last_month": earlier})

    return (sized("rtt_within_18w_pct", "pct_within_18w", "pct18", {"mix": step}),
            sized("rtt_over_52w", "over_52w", "log_over_52w", {"long_wait": step}))


#: Observed columns a calibration needs in every month it reads (the list and its flows); the fitted
#: waits (median, 92nd percentile, long waits) may have gaps, which the fit skips.
CALIBRATION_COLUMNS = ("waiting_list", "pct_within_18w", "clock_starts", "completed_admitted", "completed_nonadmitted")


def first_month_needed(last: str, window_months: int) -> str:
    """The earliest observed month a calibration to ``last`` reads: the fit window, the case-mix fit a
    year before it (:func:`size_drifts`) and the month before, whose list the first month's flows start from."""
    return add_months(last, -(window_months - 1) - 12 - 1)


def calibrate(obs: pd.DataFrame, targets: pd.DataFrame, last: str, *, name: str, data_vintage: str,
              admitted_share: float, admitted_share_source: str, window_months: int = DEFAULT_WINDOW_MONTHS,
              max_evaluations: int = 500) -> CalibrationParams:
    """Fit every calibrated parameter to observed months ending at ``last``."""
    if last not in obs.index:
        raise ValueError(f"no observed data for {last}")
    months = month_range(add_months(last, -(window_months - 1)), last)
    first = months[0]
    history = obs.loc[:last]
    wd_all = pd.Series(working_days(history.index), index=history.index)
    flows = derived_flows(obs, months, admitted_share)
    hist_flows = history[["clock_starts", "completed_admitted", "completed_nonadmitted"]].div(wd_all, axis=0)
    nonadm_wd = (flows.nonadmitted + flows.dta) / flows.wd
    p_months = priority_months(last, window_months)
    priority, fit = fit_priority(obs, p_months[0], last, admitted_share, long_wait_thresholds(targets, p_months),
                                 max_evaluations)
    case_mix, long_wait = size_drifts(obs, targets, last, window_months, admitted_share, priority, max_evaluations)
    other_pct = 100.0 * flows.other_share
    calib = CalibrationParams(
        name=name,
        data_vintage=data_vintage,
        fit_first_month=first,
        priority_fit_first_month=p_months[0],
        fit_last_month=last,
        clock_starts=fit_trend(hist_flows.clock_starts, first, last, history=hist_flows.clock_starts),
        nonadmitted_activity=fit_trend(nonadm_wd, first, last, history=hist_flows.completed_nonadmitted),
        admitted_activity=fit_trend(hist_flows.completed_admitted, first, last, history=hist_flows.completed_admitted),
        dta_share=float(flows.dta_share.mean()),
        admitted_share_of_list=admitted_share,
        admitted_share_source=admitted_share_source,
        other_removals_pct_per_month=float(other_pct.mean()),
        other_removals_se_pct_per_month=float(other_pct.std(ddof=1)),
        priority=priority,
        case_mix_annual_sd=case_mix.annual_sd,
        case_mix_evidence=case_mix.evidence,
        long_wait_annual_sd=long_wait.annual_sd,
        long_wait_evidence=long_wait.evidence,
        fit=fit,
    )
    return calib.model_copy(update={"abundant": fit_abundant(obs, calib, max_evaluations)})


def calibration_yaml(calib: CalibrationParams) -> str:
    """A calibration as commented YAML (deterministic key order), the text of its file."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.default_flow_style = None
    out = io.StringIO()
    out.write(f"# Written by `sim calibrate` from {calib.data_vintage}.\n"
              f"# Fitted on {calib.fit_first_month}..{calib.fit_last_month}; see docs/VALIDATION.md.\n")
    yaml.dump(calib.model_dump(mode="json"), out)
    return out.getvalue()
