"""The scenario file schema (pydantic v2, strict) and its loader.

A scenario is validated once, here, at the boundary: everything downstream may
trust it. Unknown keys, wrong types, out-of-range values and impossible dates
are refused with the file, line, key path, value, what is allowed and a
did-you-mean (see :mod:`sim.errors`). Parameters left unset (``null``) take the
value fitted in the calibration file the scenario names.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field, StrictBool, ValidationError, ValidationInfo, field_validator, model_validator

from sim.config_aft import AFTWaves
from sim.config_finance import FinanceConfig
from sim.config_reforms import ElectiveReform, RTTTPolicy
from sim.config_services import CancerConfig, DiagnosticsConfig, RedeploymentConfig
from sim.errors import InputError, did_you_mean, format_key_path, from_validation_error
from sim.schema_types import FIRST_MONTH, LAST_MONTH, Month, Ranged, RunHeader, _Model, _not_before_start  # noqa: F401
from sim.yamlio import LoadedDocument, load_document, load_scenario_document


class WorldConfig(_Model):
    """Which trusts and waiting lists the run starts from."""

    trusts_csv: Optional[str] = Field(
        None,
        description="Your own trusts CSV (org_code, treatment_function_code, waiting_list) instead of the "
        "shipped proxy; path relative to the scenario file. The run then starts from exactly these lists.",
    )
    national_rtt_csv: Optional[str] = Field(
        None,
        description="Your own national RTT series (the columns of sim/data/rtt_national_monthly.csv, e.g. the "
        "newest NHS England publication; check it with `sim data check`), path relative to the scenario file: "
        "the run starts from its month before `start` and the charts show it. Default: the shipped series.",
    )
    dm01_provider_csv: Optional[str] = Field(
        None,
        description="Your own DM01 provider-by-test file (the columns of sim/data/dm01_provider_test_monthly.csv.gz, "
        "e.g. with the newest months added; check it with `sim data check`), path relative to the scenario file: "
        "the diagnostic lists start from its census month and their rates come from its months. Replaces the "
        "shipped file whole. Default: the shipped file.",
    )
    cwt_provider_csv: Optional[str] = Field(
        None,
        description="Your own cancer waiting times provider file (the columns of sim/data/cwt_provider_monthly.csv.gz), "
        "path relative to the scenario file: each trust's cancer pathway is calibrated on its months. Replaces the "
        "shipped file whole. Default: the shipped file.",
    )
    diagnostics_national_csv: Optional[str] = Field(
        None,
        description="Your own national DM01 series (the columns of sim/data/diagnostics_national_monthly.csv), path "
        "relative to the scenario file: the published points on the diagnostic charts. Default: the shipped series.",
    )
    cancer_national_csv: Optional[str] = Field(
        None,
        description="Your own national cancer series (the columns of sim/data/cancer_national_monthly.csv, with the "
        "monthly totals fds_total, c62_total, c31_total), path relative to the scenario file: the national levels "
        "the cancer pathway is calibrated to, its month-to-month variation and the charts' points. Default: the "
        "shipped series.",
    )
    trust_totals_csv: Optional[str] = Field(
        None,
        description="Your own monthly trust totals (the columns of sim/data/rtt_trust_totals_2025_03.csv: org_code, "
        "month, incomplete_pathways, within_18w; any months), path relative to the scenario file: each trust's "
        "start list and % within 18 weeks come from its month before `start` (trust_lists: published). Default: "
        "the shipped March 2025 table.",
    )
    trust_lists: Literal["published", "published_2025_03", "activity_proxy"] = Field(
        "published",
        description="Where each trust's start list and its % within 18 weeks come from (without a trusts_csv): "
        "the published trust totals (world.trust_totals_csv at the month before start, else the shipped March "
        "2025 table sim/data/rtt_trust_totals_2025_03.csv; published_2025_03 is the older name of the same), or "
        "the activity proxy with the national shape for every trust (docs/DATA.md).",
    )

    @model_validator(mode="after")
    def _one_source_of_trust_lists(self) -> "WorldConfig":
        if self.trust_totals_csv and self.trusts_csv:
            raise ValueError("trusts_csv and trust_totals_csv are both set; a trusts_csv gives the start lists "
                             "itself, so set one of them")
        if self.trust_totals_csv and self.trust_lists == "activity_proxy":
            raise ValueError("trust_totals_csv is set but trust_lists is activity_proxy, which does not read it; "
                             "use trust_lists: published, or drop trust_totals_csv")
        return self
    trust_capacity_variation_pct: Ranged(0, 50, "percent") = Field(
        5.0,
        description="Standard deviation (%) of a persistent per-trust capacity multiplier drawn once per "
        "replication (trusts differ in how well they keep pace). Assumption: no trust-level RTT data is shipped.",
    )


class DemandConfig(_Model):
    """RTT clock starts (new referrals to consultant-led treatment)."""

    growth_pct_per_year: Optional[Ranged(-20, 30, "percent per year")] = Field(
        None, description="Growth of clock starts per working day, % a year. Default: the calibration's fitted trend."
    )
    shock_sd_pct: Optional[float] = Field(
        None, ge=0, le=20, description="Sd (%) of the monthly AR(1) shock to clock starts. Default: calibration."
    )
    shock_autocorrelation: Optional[float] = Field(
        None, ge=0, le=0.99, description="Month-to-month autocorrelation of the demand shock. Default: calibration."
    )
    annual_growth_sd_pct: Optional[float] = Field(
        None, ge=0, le=20, description="Sd (%) of year-to-year changes in the level of clock starts (a random walk). "
        "Default: calibration (historical variation of annual growth).")


class CapacityConfig(_Model):
    """Elective activity: non-admitted (outpatient) and admitted (theatre) clock stops."""

    nonadmitted_growth_pct_per_year: Optional[Ranged(-20, 30, "percent per year")] = Field(
        None, description="Growth of non-admitted activity per working day, % a year. Default: calibration."
    )
    admitted_growth_pct_per_year: Optional[Ranged(-20, 30, "percent per year")] = Field(
        None, description="Growth of admitted activity per working day, % a year. Default: calibration."
    )
    shock_sd_pct: Optional[float] = Field(
        None, ge=0, le=20, description="Sd (%) of the monthly AR(1) shock to activity. Default: calibration."
    )
    shock_autocorrelation: Optional[float] = Field(
        None, ge=0, le=0.99, description="Month-to-month autocorrelation of the activity shock. Default: calibration."
    )
    annual_growth_sd_pct: Optional[float] = Field(
        None, ge=0, le=20, description="Sd (%) of year-to-year changes in the level of activity (a random walk). "
        "Default: calibration (historical variation of annual growth).")
    case_mix_annual_sd: Optional[float] = Field(
        None, ge=0, le=2, description="Sd (log scale) of the yearly change in the weight activity gives to recent "
        "referrals over long waiters (a random walk). Default: calibration (sized from out-of-sample replay error).")
    long_wait_annual_sd: Optional[float] = Field(
        None, ge=0, le=2, description="Sd (log scale) of the yearly change in how hard trusts chase their longest "
        "waiters (treat-in-turn and long-wait priority together; a random walk). Default: calibration (sized from "
        "the out-of-sample replay error in 52-week waits).")
    redeployment: RedeploymentConfig = Field(
        default_factory=RedeploymentConfig,
        description="Spare activity of a trust x treatment function that has cleared its list, lent to the same "
        "treatment function at other trusts (docs/MODEL.md section 4).")


class RemovalsConfig(_Model):
    """Pathways that leave the list without treatment (outside any validation programme)."""

    other_removals_pct_per_month: Optional[Ranged(0, 20, "percent of the list per month")] = Field(
        None, description="Other removals as % of the list a month. Default: calibration (derived from the "
        "published list change, clock starts and completed pathways)."
    )


class ValidationPolicy(_Model):
    """A dated validation programme: extra removals of pathways found not to need treatment."""

    enabled: StrictBool = True
    start: Month = Field(description="First month of the programme (YYYY-MM).")
    end: Month = Field(description="Last month of the programme (YYYY-MM).")
    removals_pct_of_list: Ranged(0, 50, "percent") = Field(
        description="Share (%) of pathways waiting at least min_weeks_waited removed over the whole programme."
    )
    min_weeks_waited: int = Field(12, ge=0, le=104, description="Validation reaches pathways waiting at least this many weeks.")

    @field_validator("end")
    @classmethod
    def _end_after_start(cls, end: str, info: ValidationInfo) -> str:
        return _not_before_start(end, info)


class LongWaitStep(_Model):
    start: Month = Field(description="Month from which this threshold is chased (YYYY-MM).")
    weeks: Optional[float] = Field(description="Long-wait threshold in weeks (e.g. 52) added from this month, "
                                   "or null to end the drive.", ge=18, le=104)


class LongWaitDrive(_Model):
    """Priority for pathways approaching the long-wait thresholds in force (as fitted in calibration).

    Every step stays in force once started (a target reached is held while the
    next is chased), until a step with ``weeks: null``.
    """

    schedule: list[LongWaitStep] = Field(min_length=1, description="Thresholds in date order.")

    @field_validator("schedule")
    @classmethod
    def _ordered(cls, schedule: list[LongWaitStep]) -> list[LongWaitStep]:
        for k in range(1, len(schedule)):
            if schedule[k].start <= schedule[k - 1].start:
                raise ValueError(f"schedule[{k}].start {schedule[k].start} is not after schedule[{k - 1}].start "
                                 f"{schedule[k - 1].start}; steps must be in increasing order of start month")
        return schedule


class Policies(_Model):
    """One block per reform lever; a lever that is absent is off."""

    validation: Optional[ValidationPolicy] = None
    long_wait_drive: Optional[LongWaitDrive] = None
    rttt: Optional[RTTTPolicy] = None
    elective_reform: Optional[ElectiveReform] = None
    aft_waves: Optional[AFTWaves] = None


class OutputConfig(_Model):
    keep_levels: list[Literal["national", "region", "icb", "trust"]] = Field(
        default_factory=lambda: ["national", "region", "icb"],
        description="Levels whose every replication goes to trajectories.parquet (all levels go to summary.csv).",
    )
    plots: StrictBool = Field(True, description="Write fan charts to plots/.")


class Scenario(RunHeader):
    """A reform scenario: what to simulate, for how long, with how much uncertainty."""

    batch_size: Optional[int] = Field(None, ge=1, le=10_000, description="Replications per batch (default: chosen from the run size).")
    calibration: str = Field(
        "national_2025-03",
        description="A shipped calibration name, or a path (ending .yaml) to a calibration file written by sim calibrate.",
    )
    world: WorldConfig = Field(default_factory=WorldConfig)
    demand: DemandConfig = Field(default_factory=DemandConfig)
    capacity: CapacityConfig = Field(default_factory=CapacityConfig)
    removals: RemovalsConfig = Field(default_factory=RemovalsConfig)
    diagnostics: DiagnosticsConfig = Field(default_factory=DiagnosticsConfig)
    cancer: CancerConfig = Field(default_factory=CancerConfig)
    finance: FinanceConfig = Field(default_factory=FinanceConfig)
    policies: Policies = Field(default_factory=Policies)
    outputs: OutputConfig = Field(default_factory=OutputConfig)


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> tuple[Scenario, LoadedDocument]:
    """Read, merge (``extends:``) and validate a scenario file.

    Args:
        path: the scenario YAML.
        overrides: top-level values from the command line (e.g. ``{"replications": 10}``),
            applied after the file and validated the same way.

    Returns:
        The validated scenario and the merged document (for locating later errors).

    Raises:
        InputError: anything wrong with the file or the overrides.
    """
    return load_run_file(path, Scenario, overrides)


def load_run_file(path: str | Path, model: type[RunHeader], overrides: dict[str, Any] | None = None
                  ) -> tuple[Any, LoadedDocument]:
    """Load a YAML run file (with ``extends:``), apply command-line overrides and validate it as ``model``."""
    doc = load_scenario_document(Path(path))
    data = dict(doc.data)
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    try:
        return model.model_validate(data), doc
    except ValidationError as exc:
        raise blame_command_line(from_validation_error(exc, doc, model), overrides) from None


def blame_command_line(err: InputError, overrides: dict[str, Any] | None) -> InputError:
    """Point an error at the command-line option that set the offending value, if one did."""
    top = (err.key_path or "").split(".")[0].split("[")[0]
    if (overrides or {}).get(top) is not None:
        return err.replace(file="command line", line=None, key_path=f"--{_OPTION_OF.get(top, top)}")
    return err


_OPTION_OF = {"replications": "reps"}


def resolve_path(doc: LoadedDocument, key_path: tuple, value: str) -> Path:
    """A path given in a scenario, relative to the file that set it."""
    file, _ = doc.locate(key_path)
    base = Path(file).parent if file else Path.cwd()
    p = Path(value)
    return p if p.is_absolute() else (base / p)


def scenario_error(doc: LoadedDocument, key_path: tuple, value: object, problem: str, allowed: str | None = None) -> InputError:
    """An InputError for a problem found after schema validation (e.g. against the data)."""
    file, line = doc.locate(key_path)
    return InputError(file=file, line=line, key_path=format_key_path(key_path), value=value,
                      problem=problem, allowed=allowed)


class FittedTrend(_Model):
    """A flow's level and trend per working day, fitted by least squares."""

    level_per_working_day: float = Field(gt=0, description="Deseasonalised trend value in the last fitted month.")
    growth_pct_per_year: float = Field(description="Fitted trend growth, % a year.")
    growth_se_pct_per_year: float = Field(ge=0, description="Newey-West standard error of the growth.")
    seasonal_factors: list[float] = Field(min_length=12, max_length=12,
                                          description="Per-working-day factor for January..December (mean 1).")
    shock_sd_pct: float = Field(ge=0, description="Sd (%) of the monthly residual (AR(1), stationary).")
    shock_autocorrelation: float = Field(ge=-0.99, le=0.99)
    annual_growth_sd_pct: float = Field(
        ge=0, description="Sd (%) of year-on-year growth of the 12-month mean per working day, over the published "
        "history before the cutoff (pandemic months excluded): the size of the random walk in the level.")


class PriorityProfile(_Model):
    """Relative priority of a pathway by weeks waited: urgent + flat + in turn + long-wait push."""

    urgent_amplitude: float = Field(ge=0, description="Extra priority at referral (urgent/2WW, discharge at first appointment).")
    urgent_weeks: float = Field(gt=0, description="Weeks over which the urgent term decays (e-folding).")
    in_turn_nonadmitted: float = Field(ge=0, description="Extra priority at 52 weeks, rising linearly, non-admitted stage.")
    in_turn_admitted: float = Field(ge=0, description="Extra priority at 52 weeks, rising linearly, admitted stage.")
    long_wait_priority: float = Field(ge=0, description="Extra priority for pathways near or over the long-wait target in force.")
    long_wait_lead_weeks: float = Field(ge=0, le=52, description="Weeks before the long-wait threshold at which the push starts.")
    other_removals_slope: float = Field(ge=0, description="Other removals' rate at 52 weeks relative to week 0, minus 1.")


class PriorityRegime(_Model):
    """How trusts order their lists when the list is short for their capacity, and when that applies.

    `priority` (the calibration's own profile) is fitted on a recent year of long lists; this
    profile on a year when the list was a few months of work. Each month the model weighs the two by
    the national list in weeks of clock stops (`sim.scenarios.flows.regime_weight`): this profile at
    or below `weeks_abundant`, the calibration's at or above `weeks_shortage`, linear between
    (assumption; docs/MODEL.md section 2).
    """

    priority: PriorityProfile = Field(description="Profile fitted on the abundant window (other_removals_slope: "
                                      "the calibration's, held).")
    fit_first_month: Month
    fit_last_month: Month
    long_wait_weeks: list[float] = Field(description="Long-wait thresholds in force in the abundant window.")
    weeks_abundant: float = Field(gt=0, description="Largest national list in weeks of clock stops "
                                  "(deseasonalised) in the abundant window.")
    weeks_shortage: float = Field(gt=0, description="Smallest in the calibration's priority window.")
    fit: dict[str, float] = Field(default_factory=dict, description="RMSE per metric over the abundant window.")

    @model_validator(mode="after")
    def _ordered(self) -> "PriorityRegime":
        if self.weeks_abundant >= self.weeks_shortage:
            raise ValueError(f"weeks_abundant ({self.weeks_abundant}) must be below weeks_shortage "
                             f"({self.weeks_shortage})")
        return self


class CalibrationParams(_Model):
    """A calibration file: what `sim calibrate` fitted, on which data, how well."""

    name: str
    data_vintage: str = Field(description="Source and edition of the observed series.")
    fit_first_month: Month
    fit_last_month: Month
    priority_fit_first_month: Month | None = Field(
        default=None, description="First month of the priority fit (the window's last 12; absent in older files: the whole window).")
    clock_starts: FittedTrend
    nonadmitted_activity: FittedTrend
    admitted_activity: FittedTrend
    dta_share: float = Field(gt=0, lt=1, description="Share of non-admitted activity that is a decision to admit.")
    admitted_share_of_list: float = Field(gt=0, lt=1, description="Share of the list with a decision to admit (source in file).")
    admitted_share_source: str
    other_removals_pct_per_month: float = Field(ge=0, le=20)
    other_removals_se_pct_per_month: float = Field(ge=0)
    priority: PriorityProfile
    case_mix_annual_sd: float = Field(ge=0, description="Random walk sd (log scale, per year) of the urgent term.")
    case_mix_evidence: dict[str, float | str] = Field(default_factory=dict,
                                                      description="How case_mix_annual_sd was sized.")
    long_wait_annual_sd: float = Field(0.0, ge=0, description="Random walk sd (log scale, per year) of the "
                                       "treat-in-turn and long-wait terms (absent in older files: 0).")
    long_wait_evidence: dict[str, float | str] = Field(default_factory=dict,
                                                       description="How long_wait_annual_sd was sized.")
    fit: dict[str, float] = Field(default_factory=dict, description="Fit statistics (RMSE per metric over the window).")
    abundant: PriorityRegime | None = Field(
        default=None, description="The profile of short lists and where it applies (absent: `priority` at every "
        "list size, as in files written before it, or when the data hold no such year).")


def shipped_calibrations() -> list[str]:
    """Names of the calibrations shipped in the package."""
    folder = resources.files("sim.data") / "calibration"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_calibration(ref: str, doc: LoadedDocument | None = None) -> CalibrationParams:
    """Load a calibration by shipped name or by path (relative to the scenario file that named it).

    Raises:
        InputError: unknown name, unreadable file or a file that does not fit the schema.
    """
    if ref.endswith((".yaml", ".yml")):
        path = resolve_path(doc, ("calibration",), ref) if doc is not None else Path(ref)
    else:
        names = shipped_calibrations()
        if ref not in names:
            file, line = doc.locate(("calibration",)) if doc is not None else (None, None)
            raise InputError(file=file, line=line, key_path="calibration", value=ref,
                             problem="is not a shipped calibration", allowed=", ".join(names) + ", or a path to a .yaml file",
                             suggestion=did_you_mean(ref, names))
        path = Path(str(resources.files("sim.data") / "calibration" / f"{ref}.yaml"))
    cal_doc = load_document(path)
    try:
        return CalibrationParams.model_validate(cal_doc.data)
    except ValidationError as exc:
        raise from_validation_error(exc, cal_doc, CalibrationParams) from None
