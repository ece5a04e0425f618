"""Bad scenario files through the real schema and the real CLI.

Each file in ``scenarios_malformed/`` is a small variant of a valid scenario
(most extend ``configs/baseline.yaml``). ``sim validate FILE`` must exit 2 with
one line on stderr, ``error: <file>:<line>: <key path>: ...``, naming the
value, what is allowed and, where one fits, a did-you-mean; never a traceback
(DESIGN.md section 3). The toy-schema tests of the message machinery are in
test_errors.py; these check the shipped Scenario schema end to end.

Every CLI call runs in its own process. ``python -m sim.cli`` costs 2-3 s of
imports, so the calls run through one preloaded parent process that forks a
child per call, each running the click entry point with its own stdout,
stderr and exit status; a few calls also run through the real
``python -m sim.cli`` and must give exactly the same result. Validation runs
from inside ``scenarios_malformed/`` so that messages show short file names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

MALFORMED = Path(__file__).parent / "scenarios_malformed"


@dataclass(frozen=True)
class Case:
    """One bad file and what its message must say.

    Attributes:
        file: The file passed to ``sim validate`` (in scenarios_malformed/).
        key_path: The key path expected right after ``file:line: ``; None when
            the problem is not about one key (e.g. a YAML syntax error).
        line_marker: Text on the line the message must name (its first
            occurrence in ``reported_file``); None when no line applies.
        fragments: Further text the message must contain (value, what is
            allowed, did-you-mean).
        reported_file: The file the message names, when not ``file`` itself.
    """

    file: str
    key_path: str | None
    line_marker: str | None
    fragments: tuple[str, ...] = ()
    reported_file: str | None = None

    @property
    def shown_file(self) -> str:
        return self.reported_file or self.file

    def expected_line(self) -> int | None:
        if self.line_marker is None:
            return None
        lines = (MALFORMED / self.shown_file).read_text(encoding="utf-8").splitlines()
        hits = [n for n, text in enumerate(lines, 1) if self.line_marker in text]
        assert hits, f"test table error: {self.line_marker!r} is not in {self.shown_file}"
        return hits[0]

    def expected_prefix(self) -> str:
        line = self.expected_line()
        where = self.shown_file if line is None else f"{self.shown_file}:{line}"
        return f"error: {where}: " + (f"{self.key_path}: " if self.key_path else "")


_DISTS = ("'normal'", "'triangular'", "'uniform'", "'lognormal'", "'beta'")

CASES = [
    # Unknown keys: the key path, the allowed keys and a did-you-mean.
    Case("typo_top_key.yaml", "replicatons", "replicatons:",
         ("unknown key", "Allowed keys here:", "replications", "Did you mean 'replications'?")),
    Case("typo_policy_key.yaml", "policies.validaton", "validaton:",
         ("unknown key", "validation, long_wait_drive", "Did you mean 'validation'?")),
    Case("typo_capacity_key.yaml", "capacity.nonadmited_growth_pct_per_year", "nonadmited_growth",
         ("unknown key", "admitted_growth_pct_per_year", "Did you mean 'nonadmitted_growth_pct_per_year'?")),
    # Wrong types.
    Case("replications_word.yaml", "replications", "replications:",
         ("value 'lots'", "not an integer", "Allowed: an integer from 0 to 100000")),
    Case("seed_float.yaml", "seed", "seed:", ("value 1.5", "Allowed: an integer from 0 to")),
    Case("seed_text.yaml", "seed", "seed:", ("value 'abc'", "not an integer", "Allowed: an integer from 0 to")),
    Case("percent_text.yaml", "demand.growth_pct_per_year", "growth_pct_per_year:",
         ("value '5%'", "Allowed: a number", "dist", *_DISTS)),
    Case("min_weeks_float.yaml", "policies.validation.min_weeks_waited", "min_weeks_waited:",
         ("value 12.5", "Allowed: an integer from 0 to 104")),
    Case("enabled_yes.yaml", "policies.validation.enabled", "enabled:",
         ("value 'yes'", "true or false", "Did you mean 'true'?")),
    Case("name_with_spaces.yaml", "name", "name:", ("value 'my scenario!'", "pattern")),
    Case("shock_sd_nan.yaml", "demand.shock_sd_pct", "shock_sd_pct:", ("value nan", "Allowed: a number from 0 to 20")),
    # Out of range.
    Case("replications_negative.yaml", "replications", "replications:",
         ("value -1", "too small", "Allowed: an integer from 0 to 100000")),
    Case("variation_out_of_range.yaml", "world.trust_capacity_variation_pct", "trust_capacity_variation_pct:",
         ("80", "allowed range 0 to 50")),
    Case("keep_level_typo.yaml", "outputs.keep_levels[1]", "keep_levels:",
         ("value 'trusts'", "'national', 'region', 'icb' or 'trust'", "Did you mean 'trust'?")),
    # Distributions.
    Case("triangular_low_above_mode.yaml", "policies.validation.removals_pct_of_list", "removals_pct_of_list:",
         ("low <= mode <= high", "low=2", "mode=1", "high=8")),
    Case("triangular_support_too_wide.yaml", "policies.validation.removals_pct_of_list", "removals_pct_of_list:",
         ("support [2, 60]", "allowed range 0 to 50")),
    Case("dist_unknown.yaml", "capacity.admitted_growth_pct_per_year.dist", "admitted_growth_pct_per_year:",
         ("value 'gamma'", *_DISTS)),
    # Months.
    Case("start_month_13.yaml", "start", "start:", ("'2025-13'", "YYYY-MM")),
    Case("start_words.yaml", "start", "start:", ("'April 2025'", "YYYY-MM")),
    Case("start_one_digit_month.yaml", "start", "start:", ("'2025-4'", "YYYY-MM")),
    Case("end_before_start.yaml", "end", "end:", ("2025-09", "2026-04")),
    Case("validation_end_before_start.yaml", "policies.validation.end", "  end:", ("2025-09", "2026-04")),
    # The order is a property of the list, so the error names the list and, in its text, the item.
    Case("long_wait_out_of_order.yaml", "policies.long_wait_drive.schedule", "schedule:",
         ("schedule[1].start 2025-04", "increasing order")),
    # YAML and file problems.
    Case("duplicate_key.yaml", "seed", "seed: 2", ("duplicate key", "line 3")),
    Case("tab_indent.yaml", None, "\t", ("tabs are not allowed",)),
    Case("empty.yaml", None, None, ("empty",)),
    Case("binary.yaml", None, None, ("is not a UTF-8 text file (it contains binary data)",
                                     "Allowed: a YAML text file saved as UTF-8")),
    # Numbers that are not what they look like, and absurd sizes.
    Case("replications_1e3.yaml", "replications", "replications:",
         ("value 1000.0 is not an integer (a float", "Allowed: an integer from 0 to 100000", "Did you mean '1000'?")),
    Case("replications_absurd.yaml", "replications", "replications:",
         ("value 1000000000 is too large", "Allowed: an integer from 0 to 100000")),
    Case("growth_string_1e3.yaml", "demand.growth_pct_per_year", "growth_pct_per_year:",
         ("value '1e3'", "outside the allowed range -20 to 30 (percent per year)")),
    Case("extends_missing.yaml", "extends", "extends:",
         ("value '../../../configs/baselin.yaml'", "does not exist", "Did you mean '../../../configs/baseline.yaml'?")),
    Case("loop_a.yaml", "extends", "extends:", ("makes a loop", "loop_a.yaml -> loop_b.yaml -> loop_a.yaml"),
         reported_file="loop_b.yaml"),
    Case("loop_b.yaml", "extends", "extends:", ("makes a loop", "loop_b.yaml -> loop_a.yaml -> loop_b.yaml"),
         reported_file="loop_a.yaml"),
    # Checked against the shipped data and calibrations, after the schema.
    Case("calibration_typo.yaml", "calibration", "calibration:",
         ("value 'nationl_2025-03'", "is not a shipped calibration", "national_2025-03",
          "Did you mean 'national_2025-03'?")),
    Case("start_after_data.yaml", "start", "start:", ("value '2030-04'", "2030-03", "Allowed: a start from")),
    Case("trusts_csv_missing.yaml", "world.trusts_csv", "trusts_csv:",
         ("value 'no_such_trusts.csv'", "does not exist", "org_code, treatment_function_code, waiting_list")),
    # Right Test Right Time and the elective reform levers (sim/config_reforms.py).
    Case("rttt_test_typo.yaml", "policies.rttt.removal_pct_by_test.mir", "mir:",
         ("value 'mir'", "not an allowed key here", "'mri', 'ct', 'ultrasound'", "'gastroscopy'",
          "Did you mean 'mri'?")),
    Case("rttt_share_above_100.yaml", "policies.rttt.removal_pct_by_test.mri", "mri: 150",
         ("value 150", "allowed range 0 to 100", "percent of requests")),
    Case("rttt_share_negative.yaml", "policies.rttt.removal_pct_by_test.ultrasound", "ultrasound:",
         ("value -3", "allowed range 0 to 100")),
    Case("rttt_share_percent_text.yaml", "policies.rttt.removal_pct_by_test.ct", "ct:",
         ("value '5%'", "Allowed: a number", "dist", *_DISTS)),
    Case("rttt_ramp_backwards.yaml", "policies.rttt.spread.full", "full:",
         ("full 2026-04 is before start 2027-04", "in its start month (a step) or later")),
    Case("reform_ramp_backwards.yaml", "policies.elective_reform.pifu.ramp.full", "ramp:",
         ("full 2026-04 is before start 2027-04",)),
    Case("reform_lever_typo.yaml", "policies.elective_reform.pifu_x", "pifu_x:",
         ("unknown key", "advice_and_guidance, pifu, straight_to_test, theatre_sessions", "Did you mean 'pifu'?")),
    # Diagnostics and cancer (sim/config_services.py).
    Case("diagnostics_key_typo.yaml", "diagnostics.demand_grwoth_pct_per_year", "demand_grwoth_pct_per_year:",
         ("unknown key", "capacity_levers", "Did you mean 'demand_growth_pct_per_year'?")),
    Case("diagnostics_capacity_growth_twice.yaml", "diagnostics", "diagnostics:",
         ("capacity_growth_pct_per_year and capacity_growth_gap_pct_per_year are both set", "not both")),
    Case("cancer_key_typo.yaml", "cancer.fds_wait_sigm", "fds_wait_sigm:",
         ("unknown key", "treatment_wait_sigma", "Did you mean 'fds_wait_sigma'?")),
    Case("diagnostics_enabled_yes.yaml", "diagnostics.enabled", "diagnostics:",
         ("value 'yes'", "true or false", "Did you mean 'true'?")),
    Case("source_weight_zero.yaml", "diagnostics.source_weights.urgent_cancer", "source_weights:",
         ("value 0", "too small", "Allowed: a number greater than 0")),
    Case("finance_convergence_150.yaml", "finance.pace_of_change.convergence_pct", "convergence_pct:",
         ("value 150", "allowed range 0 to 100", "percent of the gap a year")),
    Case("finance_convergence_negative.yaml", "finance.pace_of_change.convergence_pct", "convergence_pct:",
         ("support [-10, 40]", "allowed range 0 to 100")),
    Case("finance_key_typo.yaml", "finance.pace_of_change.convergance_pct", "convergance_pct:",
         ("unknown key", "Did you mean 'convergence_pct'?")),
    Case("finance_before_2025.yaml", "start", "start: 2024-04",
         ("2024-04", "before 2025/26", "finance: {enabled: false}"), reported_file="../../../configs/backtest_2024-03.yaml"),
    Case("aft_cadence_unreachable.yaml", "policies.aft_waves.max_per_wave", "max_per_wave:",
         ("value 10", "cannot reach every provider by 2035-03", "5 waves", "at least 39")),
    Case("aft_nominated_unknown.yaml", "policies.aft_waves.nominated[1]", "- Alder Hey",
         ("Alder Hey Childrens", "is not an NHS trust", "Did you mean \"Alder Hey Children's NHS Foundation Trust\"?")),
    Case("aft_without_trust_finance.yaml", "policies.aft_waves", "aft_waves:",
         ("need the trusts' finances", "finance: {trusts: {enabled: true}}")),
    Case("deficit_support_year_typo.yaml", "finance.deficit_support.gbp_m.2026/2027", "2026/2027:",
         ("is not a financial year", "2026/27")),
    Case("aft_first_wave_before_start.yaml", "policies.aft_waves.first_wave", "first_wave:",
         ("2025-01", "before the run's start 2025-04", "a first_wave from 2025-04")),
    Case("aft_deadline_before_first_wave.yaml", "policies.aft_waves.deadline", "deadline:",
         ("2026-03 is before first_wave 2027-04",)),
    Case("cancer_headroom_500.yaml", "cancer.treatment_capacity_headroom_pct", "cancer:",
         ("value 500", "too large", "Allowed: a number from 0 to 100")),
    Case("lever_test_typo.yaml", "diagnostics.capacity_levers[0].test", "test:",
         ("value 'ctt'", "'mri', 'ct'", "'gastroscopy'", "Did you mean 'ct'?")),
    Case("lever_kind_unknown.yaml", "diagnostics.capacity_levers[0].kind", "kind:",
         ("value 'independant_sector'", "'community_diagnostic_centre' or 'independent_sector'",
          "Did you mean 'independent_sector'?")),
    Case("lever_end_before_start.yaml", "diagnostics.capacity_levers[0].end", "end:",
         ("end 2025-09 is before start 2026-04",)),
    Case("lever_tests_negative.yaml", "diagnostics.capacity_levers[0].tests_per_week", "tests_per_week:",
         ("value -500", "allowed range 0 to", "tests per week")),
    # Trust codes and service data, checked against the data when the run is planned (sim/service_plan.py).
    Case("rttt_pioneer_unknown.yaml", "policies.rttt.pioneer_trusts[1]", "- RR9",
         ("value 'RR9'", "is not an NHS trust", "those starting 'RR': RR7, RR8,", "Did you mean 'RR8'?")),
    Case("lever_trust_unknown.yaml", "diagnostics.capacity_levers[0].trusts[1]", "trusts:",
         ("value 'RTGG'", "is not a DM01 diagnostic provider", "RTG, RTH", "Did you mean 'RTG'?")),
    Case("diagnostics_before_dm01.yaml", "start", "start:",
         ("value '2024-06'", "census month 2024-05", "DM01 diagnostics provider data (held: 2024-08 to 2025-03)",
          "CWT cancer provider data (held: 2024-04 to 2025-03)", "Allowed: a start from 2024-11 to 2025-04",
          "diagnostics: {enabled: false} and cancer: {enabled: false}")),
]


def _case_of(param: object) -> Case:
    return param.values[0] if hasattr(param, "values") else param  # type: ignore[union-attr]


CASE_FILES = [_case_of(p).file for p in CASES]
CONFIGS = Path(__file__).resolve().parents[2] / "configs"
BASELINE = CONFIGS / "baseline.yaml"


def _is_des_file(path: Path) -> bool:
    """A patient-level DES scenario (run by ``sim des``, with a ``trusts:`` list) rather than a ``sim run`` one."""
    from sim.yamlio import load_document

    return "trusts" in load_document(path).data


# Every shipped scenario must pass `sim validate`; DES files pass the DES loader instead.
SHIPPED = sorted(p for p in CONFIGS.glob("*.yaml") if not _is_des_file(p))
SHIPPED_DES = sorted(p for p in CONFIGS.glob("*.yaml") if _is_des_file(p))
REFORM_CONFIGS = ("rttt.yaml", "elective_reform.yaml", "diagnostic_capacity.yaml")

# Every other CLI call of this module: id -> (arguments, whether it writes to an --out folder).
# "{out}" becomes a fresh folder per call; it must stay absent (or hold nothing) after an error.
OTHER_CALLS: dict[str, list[str]] = {
    "validate_baseline": ["validate", str(BASELINE)],
    "run_bad_file": ["run", str(MALFORMED / "typo_top_key.yaml"), "--out", "{out}", "--quiet"],
    "run_data_error": ["run", str(MALFORMED / "start_after_data.yaml"), "--out", "{out}", "--quiet"],
    "reps_abc": ["run", str(BASELINE), "--reps", "abc", "--out", "{out}"],
    "seed_negative": ["run", str(BASELINE), "--seed", "-5", "--out", "{out}"],
    "start_month_13": ["run", str(BASELINE), "--start", "2025-13", "--out", "{out}", "--quiet"],
    "end_month_13": ["run", str(BASELINE), "--end", "2025-13", "--out", "{out}", "--quiet"],
    "end_before_start_options": ["run", str(BASELINE), "--start", "2026-04", "--end", "2025-09", "--out", "{out}",
                                 "--quiet"],
    "start_without_data_option": ["run", str(BASELINE), "--start", "2030-04", "--out", "{out}", "--quiet"],
    **{f"shipped:{p.name}": ["validate", str(p)] for p in SHIPPED},
}

# A fresh interpreter imports what the CLI imports once, then forks one child per
# call; the child runs the click entry point as `python -m sim.cli` would, with
# stdout and stderr on their own files and its exit status as the result.
_FORKING_CLI = r"""
import json, os, sys, tempfile
import sim.cli, sim.config, sim.runner, sim.pipeline
calls = json.load(sys.stdin)
results, folder = {}, tempfile.mkdtemp()
for i, (key, cwd, argv) in enumerate(calls):
    out_path, err_path = os.path.join(folder, f"{i}.out"), os.path.join(folder, f"{i}.err")
    sys.stdout.flush(); sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.chdir(cwd)
            os.dup2(os.open(out_path, os.O_WRONLY | os.O_CREAT), 1)
            os.dup2(os.open(err_path, os.O_WRONLY | os.O_CREAT), 2)
            sim.cli.main(argv, prog_name="sim")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            sys.stdout.flush(); sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    with open(out_path) as out, open(err_path) as err:
        results[key] = [os.waitstatus_to_exitcode(status), out.read(), err.read()]
print(json.dumps(results))
"""


@dataclass(frozen=True)
class Outcome:
    """One CLI call: its arguments, exit code, output and the --out folder's parent (if any)."""

    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    out_parent: Path | None


@pytest.fixture(scope="module")
def cli(sim_cli_env, tmp_path_factory) -> dict[str, Outcome]:
    """Every CLI call of this module, run once, keyed by file name (validate) or OTHER_CALLS id."""
    calls, parents = [], {}
    for name in CASE_FILES:
        calls.append((name, str(MALFORMED), ["validate", name]))
    for key, argv in OTHER_CALLS.items():
        parents[key] = tmp_path_factory.mktemp(key)
        calls.append((key, str(MALFORMED), [a.replace("{out}", str(parents[key] / "run")) for a in argv]))
    done = subprocess.run([sys.executable, "-c", _FORKING_CLI], input=json.dumps(calls), cwd=MALFORMED,
                          env=sim_cli_env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    return {key: Outcome(argv, *found[key], parents.get(key)) for key, _, argv in calls}


def _assert_one_clean_error_line(result: Outcome | subprocess.CompletedProcess[str]) -> str:
    everything = result.stdout + result.stderr
    assert "Traceback" not in everything, everything
    assert "internal error" not in everything, everything
    assert result.returncode == 2, everything
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def _assert_no_run_folder(result: Outcome) -> None:
    assert result.out_parent is not None
    assert list(result.out_parent.iterdir()) == []  # neither run/ nor run.incomplete/


# --- sim validate on the malformed files ------------------------------------------------

def test_the_table_covers_every_file_in_the_folder():
    assert {p.name for p in MALFORMED.glob("*.yaml")} == set(CASE_FILES)
    assert len(CASE_FILES) >= 20


@pytest.mark.parametrize("name", CASE_FILES)
def test_validate_exits_2_with_one_clean_line(cli, name):
    _assert_one_clean_error_line(cli[name])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file)
def test_validate_message_names_file_line_key_value_and_allowed(cli, case):
    line = _assert_one_clean_error_line(cli[case.file])
    assert line.startswith(case.expected_prefix()), f"{line}\nexpected to start with {case.expected_prefix()!r}"
    for fragment in case.fragments:
        assert fragment in line, f"{fragment!r} not in {line}"


@pytest.mark.parametrize("name", ["typo_top_key.yaml", "empty.yaml", "start_after_data.yaml"])
def test_the_real_entry_point_gives_the_same_result(sim_cli, cli, name):
    real = sim_cli("validate", name, cwd=MALFORMED)
    forked = cli[name]
    assert (real.returncode, real.stdout, real.stderr) == (forked.returncode, forked.stdout, forked.stderr)


def test_a_valid_file_passes_validate(cli):
    result = cli["validate_baseline"]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{BASELINE}: OK (baseline: 2025-04 to 2035-03, 200 replications, ")


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_scenario_passes_validate(cli, path):
    result = cli[f"shipped:{path.name}"]
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: OK ("), result.stdout


def test_the_reform_scenarios_are_among_the_validated_ones():
    # Parametrised by glob so that new configs are covered as they land; these three must stay covered.
    shipped = {p.name for p in SHIPPED}
    assert shipped >= {"baseline.yaml", "backtest_2024-03.yaml"}
    assert [name for name in REFORM_CONFIGS if (CONFIGS / name).exists() and name not in shipped] == []


@pytest.mark.parametrize("path", SHIPPED_DES, ids=lambda p: p.name)
def test_every_shipped_des_scenario_passes_its_loader(path):
    from sim.des_config import load_des_scenario

    scenario, _ = load_des_scenario(path)
    assert scenario.trusts


# --- sim run and command-line options ---------------------------------------------------

def test_run_on_a_bad_file_exits_2_and_creates_no_folder(cli):
    line = _assert_one_clean_error_line(cli["run_bad_file"])
    assert line.startswith(f"error: {MALFORMED / 'typo_top_key.yaml'}:4: replicatons: unknown key."), line
    _assert_no_run_folder(cli["run_bad_file"])


def test_run_with_a_data_error_exits_2_and_creates_no_folder(cli):
    line = _assert_one_clean_error_line(cli["run_data_error"])
    assert line.startswith(f"error: {MALFORMED / 'start_after_data.yaml'}:4: start: value '2030-04'"), line
    _assert_no_run_folder(cli["run_data_error"])


def test_reps_that_is_not_a_number_is_a_usage_error(cli):
    result = cli["reps_abc"]
    assert result.returncode == 2
    assert "Traceback" not in result.stdout + result.stderr
    assert "Usage: sim run" in result.stderr and "'--reps'" in result.stderr and "'abc'" in result.stderr
    _assert_no_run_folder(result)


def test_reps_usage_error_from_the_real_entry_point(sim_cli, baseline_yaml, tmp_path):
    result = sim_cli("run", baseline_yaml, "--reps", "abc", "--out", tmp_path / "run")
    assert result.returncode == 2
    assert "Invalid value for '--reps'" in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_negative_seed_option_is_a_usage_error(cli):
    result = cli["seed_negative"]
    assert result.returncode == 2
    assert "'--seed'" in result.stderr and "Traceback" not in result.stdout + result.stderr
    _assert_no_run_folder(result)


@pytest.mark.parametrize("key, option", [("start_month_13", "--start"), ("end_month_13", "--end")])
def test_impossible_month_option_names_the_option(cli, key, option):
    line = _assert_one_clean_error_line(cli[key])
    assert line.startswith(f"error: command line: {option}: "), line
    assert "'2025-13'" in line and "YYYY-MM" in line
    _assert_no_run_folder(cli[key])


def test_end_before_start_from_options_blames_the_command_line(cli):
    _assert_no_run_folder(cli["end_before_start_options"])
    line = _assert_one_clean_error_line(cli["end_before_start_options"])
    assert line.startswith("error: command line: --"), line


def test_start_without_data_from_option_blames_the_command_line(cli):
    _assert_no_run_folder(cli["start_without_data_option"])
    line = _assert_one_clean_error_line(cli["start_without_data_option"])
    assert line.startswith("error: command line: --start: "), line
