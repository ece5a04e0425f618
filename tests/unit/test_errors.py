"""Tests for sim.errors: InputError messages and pydantic error translation.

A small toy schema stands in for sim.config.Scenario, with the same shapes:
nested models, a list of models, a dict of models, Literal choices, bounded
fields, StrictBool, and parameters given as a number or a ``{dist: ...}``
mapping (a discriminated union) checked by an AfterValidator.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from sim.errors import NO_VALUE, InputError, did_you_mean, format_key_path, format_value, from_validation_error
from sim.yamlio import LoadedDocument, load_document, load_scenario_document

MALFORMED = Path(__file__).parent / "malformed"


# --- The toy schema ------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Triangular(_Strict):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not self.low <= self.mode <= self.high:
            raise ValueError("triangular needs low <= mode <= high")
        return self


class Normal(_Strict):
    dist: Literal["normal"]
    mean: float
    sd: float = Field(ge=0)


Distribution = Annotated[Union[Normal, Triangular], Field(discriminator="dist")]


def _share_support(p: Union[float, Normal, Triangular]) -> Union[float, Normal, Triangular]:
    low, high = (p, p) if isinstance(p, float) else (p.low, p.high) if isinstance(p, Triangular) else (p.mean, p.mean)
    if low < 0 or high > 1:
        raise ValueError(f"support [{low:g}, {high:g}] is outside the allowed range 0 to 1")
    return p


Share = Annotated[Union[float, Distribution], AfterValidator(_share_support)]


class ValidationPolicy(_Strict):
    enabled: StrictBool = True
    start: str
    share: Share = 0.1


class RightTestRightTime(_Strict):
    start: str
    requests_avoided_share: Share


class Policies(_Strict):
    right_test_right_time: Optional[RightTestRightTime] = None
    validation: Optional[ValidationPolicy] = None
    productivity: Optional[float] = Field(None, ge=-5, le=5)


class Item(_Strict):
    name: str
    rate: float = Field(ge=0, le=1)


class Capacity(_Strict):
    items: list[Item] = []
    by_trust: dict[str, Item] = {}
    by_stage: dict[Literal["admitted", "nonadmitted"], float] = {}


class Toy(_Strict):
    name: str
    replications: int = Field(100, ge=0, le=100_000)
    mode: Literal["flow", "des"] = "flow"
    capacity: Capacity = Capacity()
    policies: Policies = Policies()

    @model_validator(mode="after")
    def _des_needs_few_replications(self) -> Toy:
        if self.mode == "des" and self.replications > 1000:
            raise ValueError("mode des allows at most 1000 replications")
        return self


def _translate(doc: LoadedDocument, model: type[BaseModel] = Toy) -> InputError:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(doc.data)
    error = from_validation_error(caught.value, doc, model)
    assert isinstance(error, InputError)
    return error


def _from_text(tmp_path: Path, text: str, model: type[BaseModel] = Toy) -> InputError:
    path = tmp_path / "scenario.yaml"
    path.write_text(text, encoding="utf-8")
    return _translate(load_document(path), model)


# --- InputError ------------------------------------------------------------------------

def test_unknown_key_message_matches_the_house_format():
    error = InputError(
        file="configs/my.yaml", line=12, key_path="policies.right_test_right_tme", problem="unknown key",
        allowed="right_test_right_time, validation, productivity", allowed_label="Allowed keys here",
        suggestion="right_test_right_time",
    )
    assert str(error) == (
        "configs/my.yaml:12: policies.right_test_right_tme: unknown key. Allowed keys here: "
        "right_test_right_time, validation, productivity. Did you mean 'right_test_right_time'?"
    )


def test_value_message_matches_the_house_format():
    error = InputError(file="configs/my.yaml", line=7, key_path="replications", value="lots",
                       problem="is not an integer", allowed="an integer from 0 to 100000")
    assert str(error) == (
        "configs/my.yaml:7: replications: value 'lots' is not an integer. Allowed: an integer from 0 to 100000."
    )
    assert error.exit_code == 2


def test_csv_row_and_column():
    error = InputError(file="data/trusts.csv", line=14, key_path="waiting_list", value="n/a",
                       problem="is not a number", allowed="a whole number of pathways, 0 or more")
    assert str(error).startswith("data/trusts.csv:14: waiting_list: value 'n/a' is not a number.")


def test_message_without_file_line_or_value():
    assert str(InputError(problem="something is wrong")) == "something is wrong."
    assert str(InputError(line=3, problem="bad")) == "line 3: bad."
    assert InputError(problem="x").value is NO_VALUE


def test_input_error_pickles_and_replaces():
    error = InputError(file="a.yaml", line=2, key_path="seed", value=-1, problem="is too small", allowed="0 or more")
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.value == -1
    assert pickle.loads(pickle.dumps(InputError(problem="p"))).value is NO_VALUE
    moved = error.replace(file="command line", line=None)
    assert str(moved).startswith("command line: seed:") and error.file == "a.yaml"


def test_format_value_truncates_and_speaks_yaml():
    assert format_value("x" * 200).startswith("'xxx") and len(format_value("x" * 200)) <= 62
    assert format_value(list(range(100))).endswith("...") and len(format_value(list(range(100)))) == 60
    assert format_value(None) == "null" and format_value(True) == "true" and format_value(1.5) == "1.5"
    assert format_value("lots") == "'lots'"


def test_did_you_mean():
    options = ["right_test_right_time", "validation", "productivity"]
    assert did_you_mean("right_test_right_tme", options) == "right_test_right_time"
    assert did_you_mean("VALIDATON", options) == "validation"
    assert did_you_mean("zzz", options) is None
    assert did_you_mean("anything", []) is None
    assert did_you_mean("202", [2026, 2027]) in ("2026", "2027")


def test_format_key_path():
    assert format_key_path(("capacity", "items", 2, "rate")) == "capacity.items[2].rate"
    data = {"years": {2026: 1.0}, "items": [{"a": 1}]}
    assert format_key_path(("years", 2026), data) == "years.2026"
    assert format_key_path(("items", 0, "a"), data) == "items[0].a"
    assert format_key_path(("trusts", "R1H 01")) == "trusts['R1H 01']"
    assert format_key_path(()) == ""


# --- The malformed corpus through the toy schema -------------------------------------

CORPUS = [
    # file, line, key path, value, fragments that must be in the message
    ("typo_key.yaml", 5, "policies.right_test_right_tme", NO_VALUE,
     ["unknown key", "Allowed keys here: right_test_right_time, validation, productivity",
      "Did you mean 'right_test_right_time'?"]),
    ("wrong_type.yaml", 3, "replications", "lots",
     ["value 'lots' is not an integer", "Allowed: an integer from 0 to 100000."]),
    ("out_of_range.yaml", 9, "capacity.items[2].rate", 1.5,
     ["value 1.5 is too large", "Allowed: a number from 0 to 1."]),
    ("missing_required.yaml", 4, "policies.validation.start", NO_VALUE,
     ["required key is missing", "'strat'", "Expected: a string"]),
    ("bad_choice.yaml", 3, "mode", "flwo",
     ["value 'flwo' is not one of the allowed choices", "'flow' or 'des'", "Did you mean 'flow'?"]),
    ("bad_dist_name.yaml", 6, "policies.right_test_right_time.requests_avoided_share.dist", "triangulr",
     ["value 'triangulr' is not one of the allowed choices", "'normal' or 'triangular'",
      "Did you mean 'triangular'?"]),
    ("dist_missing_key.yaml", 6, "policies.right_test_right_time.requests_avoided_share.high", NO_VALUE,
     ["required key is missing", "Expected: a number"]),
    ("yes_for_bool.yaml", 5, "policies.validation.enabled", "yes",
     ["value 'yes' is not true or false", "YAML 1.2", "Allowed: true or false", "Did you mean 'true'?"]),
    ("share_out_of_support.yaml", 6, "policies.right_test_right_time.requests_avoided_share", NO_VALUE,
     ["support [0.5, 1.2] is outside the allowed range 0 to 1"]),
]


@pytest.mark.parametrize(("name", "line", "key_path", "value", "fragments"), CORPUS, ids=[c[0] for c in CORPUS])
def test_schema_errors_name_file_line_key_value_and_allowed(name, line, key_path, value, fragments):
    error = _translate(load_scenario_document(MALFORMED / name))
    message = str(error)
    assert error.file == str(MALFORMED / name)
    assert f"{name}:{line}: {key_path}: " in message
    assert (error.line, error.key_path) == (line, key_path)
    assert error.value == value if value is not NO_VALUE else error.value is NO_VALUE
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message


# --- More shapes -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("name: x\nreplications: -1\n", "scenario.yaml:2: replications: value -1 is too small. Allowed: an integer from 0 to 100000."),
    ("name: x\nreplications: 1.5\n", "replications: value 1.5 is not a whole number."),
    ("name: x\nreplications:\n", "replications: has no value (it is empty or null). Allowed: an integer from 0 to 100000."),
    ("name: x\nreplications: .5e3\n", "replications: value '.5e3' is not an integer."),
    ("name: x\ncapacity:\n  items: [{name: a, rate: .nan}]\n", "capacity.items[0].rate: value nan is not a number."),
    ("replications: 3\n", "scenario.yaml: name: required key is missing. Expected: a string."),
    ("name: 12\n", "name: value 12 is not text (put it in quotes to make it text). Allowed: a string."),
    ("name: x\nReplications: 3\n", "Replications: unknown key. Allowed keys here: name, replications, mode, capacity, "
                                    "policies. Did you mean 'replications'?"),
    ("name: x\n1: 3\n", "scenario.yaml:2: 1: unknown key (keys here are text)."),
    ("name: x\ncapacity:\n  items: 5\n", "capacity.items: value 5 is not a list. Allowed: a list of items, each a mapping "
                                         "with keys name, rate."),
    ("name: x\ncapacity:\n  items: [5]\n", "capacity.items[0]: value 5 is not a mapping of keys."),
    ("name: x\ncapacity:\n  by_trust:\n    RGT: {name: a, rate: 2}\n",
     "scenario.yaml:4: capacity.by_trust.RGT.rate: value 2 is too large. Allowed: a number from 0 to 1."),
    ("name: x\ncapacity:\n  by_trust:\n    RGT: {name: a, rat: 0.5}\n",
     "capacity.by_trust.RGT.rate: required key is missing (is the unknown key 'rat' a misspelling of it?)."),
    ("name: x\ncapacity:\n  by_stage: {admitted: 1, nonadmited: 2}\n",
     "capacity.by_stage.nonadmited: value 'nonadmited' is not an allowed key here. Allowed: one of 'admitted' or "
     "'nonadmitted'. Did you mean 'nonadmitted'?"),
    ("name: x\ncapacity:\n  by_trust: {5: {name: a, rate: 1}}\n",
     "capacity.by_trust.5: value 5 is not an allowed key here. Allowed: a string."),
    ("name: x\npolicies:\n  productivity: 9\n", "policies.productivity: value 9 is too large. Allowed: a number from -5 to 5 or null."),
    ("name: x\npolicies:\n  validation: {start: a, share: lots}\n",
     "policies.validation.share: value 'lots' is not an allowed value. Allowed: a number or a mapping with dist: "
     "'normal' or 'triangular'."),
    ("name: x\npolicies:\n  validation: {start: a, share: {mean: 0.5}}\n",
     "policies.validation.share.dist: required key is missing. Expected: one of 'normal' or 'triangular'."),
    ("name: x\npolicies:\n  validation: {start: a, share: {dist: normal, mean: 0.5, sd: -1}}\n",
     "policies.validation.share.sd: value -1 is too small. Allowed: a number of at least 0."),
    ("name: x\npolicies:\n  validation: {start: a, share: {dist: normal, mean: 0.5, sd: 1, sdd: 1}}\n",
     "policies.validation.share.sdd: unknown key. Allowed keys here: dist, mean, sd. Did you mean 'sd'?"),
    ("name: x\npolicies:\n  validation:\n    start: a\n    share: {dist: triangular, low: 0.5, mode: 0.1, high: 0.6}\n",
     "scenario.yaml:5: policies.validation.share: triangular needs low <= mode <= high."),
    ("name: x\npolicies:\n  validation: 3\n", "policies.validation: value 3 is not a mapping of keys. Allowed: a mapping "
                                               "with keys enabled, start, share or null."),
    ("name: x\nmode: des\nreplications: 5000\n", "scenario.yaml: mode des allows at most 1000 replications."),
])
def test_translation_of_error_shapes(tmp_path, text, expected):
    assert expected in str(_from_text(tmp_path, text))


def test_inherited_key_error_names_the_parent_file_and_line(tmp_path):
    (tmp_path / "baseline.yaml").write_text("name: base\nreplications: lots\n", encoding="utf-8")
    (tmp_path / "child.yaml").write_text("extends: baseline.yaml\nname: child\n", encoding="utf-8")
    error = _translate(load_scenario_document(tmp_path / "child.yaml"))
    assert (Path(error.file).name, error.line, error.key_path) == ("baseline.yaml", 2, "replications")


def test_overridden_key_error_names_the_child(tmp_path):
    (tmp_path / "baseline.yaml").write_text("name: base\nreplications: 10\n", encoding="utf-8")
    (tmp_path / "child.yaml").write_text("extends: baseline\nname: child\nreplications: -3\n", encoding="utf-8")
    error = _translate(load_scenario_document(tmp_path / "child.yaml"))
    assert (Path(error.file).name, error.line) == ("child.yaml", 3)


# --- Never raises ------------------------------------------------------------------------

def test_mismatched_model_and_odd_errors_still_give_input_error():
    doc = LoadedDocument({"a": [1, "x"]}, {("a",): ("f.yaml", 1), ("a", 1): ("f.yaml", 2)}, ("f.yaml",))
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(dict[str, list[int]]).validate_python(doc.data)
    for model in (Toy, Item, int, object):  # the model given need not match the error
        error = from_validation_error(caught.value, doc, model)  # type: ignore[arg-type]
        assert isinstance(error, InputError) and error.line == 2 and error.key_path == "a[1]"
    assert "not an integer" in str(from_validation_error(caught.value, doc, Toy))


def test_broken_document_falls_back_to_pydantic_message():
    with pytest.raises(ValidationError) as caught:
        Toy.model_validate({})
    error = from_validation_error(caught.value, object(), Toy)  # type: ignore[arg-type]
    assert isinstance(error, InputError) and "name" in str(error)


VALID = (
    "name: fuzz\n"
    "replications: 10\n"
    "mode: flow\n"
    "capacity:\n"
    "  items:\n"
    "    - {name: a, rate: 0.5}\n"
    "    - name: b\n"
    "      rate: 0.25\n"
    "  by_trust: {RGT: {name: c, rate: 1}}\n"
    "policies:\n"
    "  validation: {enabled: true, start: '2026-04', share: {dist: triangular, low: 0.1, mode: 0.2, high: 0.3}}\n"
    "  right_test_right_time:\n"
    "    start: 2026-04\n"
    "    requests_avoided_share: {dist: normal, mean: 0.1, sd: 0.01}\n"
)


def _mutate(text: str, edits: list[tuple[str, int, int]]) -> str:
    for op, i, j in edits:
        if not text:
            break
        i, j = i % len(text), j % len(text)
        if op == "delete":
            text = text[:i] + text[i + 1:]
        elif op == "duplicate":
            text = text[:i] + text[i] + text[i:]
        else:
            chars = list(text)
            chars[i], chars[j] = chars[j], chars[i]
            text = "".join(chars)
    return text


EDITS = st.lists(st.tuples(st.sampled_from(["delete", "duplicate", "swap"]),
                           st.integers(0, 10_000), st.integers(0, 10_000)), min_size=1, max_size=8)
YAMLISH = st.text(alphabet=st.sampled_from(list("namepolicys_:- \n\t[]{},'\"#&*!|?%01.e5yno")), max_size=150)


def _load_and_validate(path: Path) -> None:
    try:
        doc = load_scenario_document(path)
        Toy.model_validate(doc.data)
    except InputError as error:
        assert "\n" not in str(error)
    except ValidationError as exc:
        error = from_validation_error(exc, doc, Toy)
        assert isinstance(error, InputError)
        assert error.file == str(path) and "\n" not in str(error)


def test_the_valid_fuzz_seed_is_valid(tmp_path):
    path = tmp_path / "seed.yaml"
    path.write_text(VALID, encoding="utf-8")
    Toy.model_validate(load_document(path).data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS)
def test_mutated_valid_document_only_ever_gives_input_error(tmp_path, edits):
    path = tmp_path / "mutant.yaml"
    path.write_text(_mutate(VALID, edits), encoding="utf-8")
    _load_and_validate(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=YAMLISH)
def test_random_yamlish_text_only_ever_gives_input_error(tmp_path, text):
    path = tmp_path / "random.yaml"
    path.write_text(text, encoding="utf-8")
    _load_and_validate(path)


@settings(max_examples=300, deadline=None)
@given(data=st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["name", "replications", "mode", "capacity", "items", "by_trust", "policies", "validation",
                         "share", "dist", "low", "mode", "high", "sd", "mean", "rate", "start", "enabled", "x"]),
        inner, max_size=5),
    max_leaves=20,
))
def test_any_data_shape_translates(data):
    if not isinstance(data, dict):
        data = {"name": data}
    doc = LoadedDocument(data, {}, ("gen.yaml",))
    try:
        Toy.model_validate(data)
    except ValidationError as exc:
        error = from_validation_error(exc, doc, Toy)
        assert isinstance(error, InputError) and str(error).startswith("gen.yaml")
