"""Tests for sim.yamlio: reading scenario YAML, its location map and ``extends``.

Every bad file must give one InputError naming the file and the line; the
corpus of bad files lives in tests/unit/malformed/.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import InputError
import sim.yamlio as yamlio
from sim.yamlio import LoadedDocument, load_document, load_scenario_document

MALFORMED = Path(__file__).parent / "malformed"


def _error(path: Path | str, loader=load_scenario_document) -> InputError:
    with pytest.raises(InputError) as caught:
        loader(path)
    return caught.value


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- The malformed corpus: file, line, key path and message fragments ---------

CORPUS = [
    ("tab_indent.yaml", 4, None, ["tabs are not allowed for indentation in YAML; use spaces"]),
    ("duplicate_top_key.yaml", 5, "replications", ["duplicate key", "line 3", "line 5"]),
    ("duplicate_nested_key.yaml", 7, "policies.validation.start", ["duplicate key", "line 5", "line 7"]),
    ("empty.yaml", None, None, ["the scenario file is empty"]),
    ("comments_only.yaml", None, None, ["the scenario file is empty"]),
    ("list_top_level.yaml", 2, None, ["top level must be a mapping", "a list"]),
    ("scalar_top_level.yaml", 2, None, ["top level must be a mapping", "'just some text'"]),
    ("unclosed_bracket.yaml", 3, None, ["YAML syntax error", "column 8", "never closed"]),
    ("unclosed_quote.yaml", 3, None, ["YAML syntax error", "quoted scalar", "never closed"]),
    ("unquoted_colon.yaml", 3, None, ["YAML syntax error", "must be quoted"]),
    ("undefined_alias.yaml", 3, None, ["undefined alias 'missing'"]),
    ("multi_document.yaml", 4, None, ["more than one YAML document", "exactly one document"]),
    ("yaml11_directive.yaml", 2, None, ["YAML 1.2", "%YAML"]),
    ("custom_tag.yaml", 3, "replications", ["'!lots'", "not support"]),
    ("complex_key.yaml", 3, None, ["keys must be single values"]),
    ("extends_missing_parent.yaml", 2, "extends",
     ["'no_such_parent.yaml'", "does not exist", "extends_missing_parent.yaml -> ",
      "no_such_parent.yaml)", "relative to this file's folder"]),
    ("extends_not_a_name.yaml", 2, "extends", ["['a.yaml', 'b.yaml']", "not a file name"]),
    ("self_extends.yaml", 2, "extends", ["loop", "self_extends.yaml -> ", "self_extends.yaml."]),
    ("loop_a.yaml", 2, "extends", ["loop", "loop_a.yaml -> ", "loop_b.yaml -> ", "loop_a.yaml"]),
]


@pytest.mark.parametrize(("name", "line", "key_path", "fragments"), CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_file_gives_one_clear_error(name, line, key_path, fragments):
    path = MALFORMED / name
    error = _error(path)
    message = str(error)
    assert error.file is not None and error.file.endswith(".yaml")
    assert Path(error.file).name in message
    assert error.line == line
    if line is not None:
        assert f".yaml:{line}: " in message
    assert error.key_path == key_path
    if key_path:
        assert f": {key_path}: " in message
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message and "Traceback" not in message


def test_loop_through_two_files_names_the_file_that_closes_it():
    error = _error(MALFORMED / "loop_b.yaml")
    assert Path(error.file).name == "loop_a.yaml"
    assert "loop_b.yaml -> " in str(error) and str(error).count("->") == 2


def test_corpus_has_at_least_fifteen_files():
    assert len(list(MALFORMED.glob("*.yaml"))) >= 15


# --- Files that are not YAML text ---------------------------------------------

def test_binary_file_is_not_utf8_text(tmp_path):
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01")
    error = _error(path)
    assert "image.yaml: is not a UTF-8 text file" in str(error)


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: ok\ndescription: café\n".encode("latin-1"))
    error = _error(path)
    assert error.line == 2
    assert "latin1.yaml:2: is not a UTF-8 text file" in str(error)
    assert "0xe9" in str(error)


def test_missing_file_suggests_a_close_name(tmp_path):
    _write(tmp_path, "baseline.yaml", "name: b\n")
    error = _error(tmp_path / "baselin.yaml")
    assert "file not found" in str(error)
    assert error.suggestion == str(tmp_path / "baseline.yaml")


def test_folder_is_not_a_file(tmp_path):
    assert "is a folder, not a file" in str(_error(tmp_path))


def test_read_failure_is_an_input_error(tmp_path, monkeypatch):
    # A real chmod 0 file is readable by root, who runs CI; a refused open is what an unreadable file gives.
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(yamlio, "open", refuse, raising=False)
    error = _error(_write(tmp_path, "locked.yaml", "name: s\n"))
    assert "locked.yaml: cannot be read (Permission denied)" in str(error)


def test_control_character_names_the_line(tmp_path):
    path = _write(tmp_path, "bell.yaml", "name: ok\ndescription: ring \x07\n")
    error = _error(path)
    assert error.line == 2 and "U+0007" in str(error)


def test_tab_after_colon_gets_a_tab_hint(tmp_path):
    error = _error(_write(tmp_path, "t.yaml", "name:\tx\n"))
    assert error.line == 1 and "tabs are not allowed here in YAML; use spaces" in str(error)


def test_deep_nesting_and_alias_bombs_are_refused(tmp_path):
    deep = _write(tmp_path, "deep.yaml", "a: " + "[" * 3000 + "]" * 3000 + "\n")
    assert "nested" in str(_error(deep))
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdef", "bcdefg"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    bomb = _write(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    assert "once aliases are expanded" in str(_error(bomb))


# --- What a good file loads as -------------------------------------------------

def test_values_are_plain_python_types(tmp_path):
    path = _write(tmp_path, "plain.yaml", (
        "name: plain\n"
        "count: 0x10\n"
        "rate: 1.5\n"
        "big: 1e3\n"
        "flag: true\n"
        "nothing:\n"
        "text: |\n  block\n"
        "items: [1, 'two', {three: 3}]\n"
    ))
    doc = load_document(path)
    assert doc.data == {"name": "plain", "count": 16, "rate": 1.5, "big": 1000.0, "flag": True,
                        "nothing": None, "text": "block\n", "items": [1, "two", {"three": 3}]}

    def check(value):
        assert type(value) in (dict, list, str, int, float, bool, type(None))
        for child in value.values() if isinstance(value, dict) else value if isinstance(value, list) else []:
            check(child)

    check(doc.data)
    assert all(type(k) is str for k in doc.data)


def test_yaml12_reading_of_gotchas(tmp_path):
    # YAML 1.2: yes/no/on/off and NO stay text; dates stay as typed; 1e3 is a float.
    path = _write(tmp_path, "gotchas.yaml", (
        "a: yes\nb: no\nc: on\nd: off\ncountry: NO\n"
        "month: 2026-04\nday: 2026-04-01\nwhen: 2026-04-01 10:00:00\n"
        "e1: 1e3\ne2: 1.5e3\ne3: .5e3\noctal: 017\nsexagesimal: 1:30\n"
    ))
    data = load_document(path).data
    assert data["a"] == "yes" and data["b"] == "no" and data["c"] == "on" and data["d"] == "off"
    assert data["country"] == "NO"
    assert data["month"] == "2026-04" and data["day"] == "2026-04-01"
    assert data["when"] == "2026-04-01 10:00:00"
    assert data["e1"] == 1000.0 and type(data["e1"]) is float
    assert data["e2"] == 1500.0
    assert data["e3"] == ".5e3"  # not a YAML 1.2 float: reaches the schema as typed
    assert data["octal"] == 17 and data["sexagesimal"] == "1:30"


def test_explicit_str_tag_is_text(tmp_path):
    data = load_document(_write(tmp_path, "s.yaml", "code: !!str 0123\nday: !!str 2026-01-01\n")).data
    assert data == {"code": "0123", "day": "2026-01-01"}


def test_locations_cover_every_key_and_list_item(tmp_path):
    path = _write(tmp_path, "loc.yaml", (
        "name: loc\n"            # 1
        "capacity:\n"            # 2
        "  items:\n"             # 3
        "    - name: a\n"        # 4
        "      rate: 0.5\n"      # 5
        "    - {name: b,\n"      # 6
        "       rate: 0.2}\n"    # 7
        "years:\n"               # 8
        "  2026: 1.0\n"          # 9
    ))
    doc = load_document(path)
    f = str(path)
    assert doc.locations[("name",)] == (f, 1)
    assert doc.locations[("capacity", "items")] == (f, 3)
    assert doc.locations[("capacity", "items", 0)] == (f, 4)
    assert doc.locations[("capacity", "items", 0, "rate")] == (f, 5)
    assert doc.locations[("capacity", "items", 1)] == (f, 6)
    assert doc.locations[("capacity", "items", 1, "rate")] == (f, 7)
    assert doc.locations[("years", 2026)] == (f, 9)
    assert doc.locate(("capacity", "items", 1, "rate", "extra", 3)) == (f, 7)
    assert doc.locate(("nowhere",)) == (f, None)
    assert doc.locate(()) == (f, None)
    assert doc.files == (f,)


def test_anchors_aliases_and_merge_keys(tmp_path):
    path = _write(tmp_path, "alias.yaml", (
        "defaults: &d\n"   # 1
        "  rate: 0.5\n"    # 2
        "  low: 1\n"       # 3
        "a: *d\n"          # 4
        "b:\n"             # 5
        "  <<: *d\n"       # 6
        "  low: 2\n"       # 7
    ))
    doc = load_document(path)
    assert doc.data["a"] == {"rate": 0.5, "low": 1}
    assert doc.data["b"] == {"low": 2, "rate": 0.5}
    assert doc.data["a"] is not doc.data["defaults"]  # each alias use is its own copy
    assert doc.locations[("b", "low")][1] == 7
    assert doc.locations[("b", "rate")][1] == 2  # merged key: where it was written


def test_loading_is_deterministic(tmp_path):
    path = _write(tmp_path, "same.yaml", "name: x\nb: [1, {c: 2}]\na: {z: 1, y: 2}\n")
    first, second = load_document(path), load_document(path)
    assert first == second
    assert list(first.data) == ["name", "b", "a"]
    assert list(first.locations.items()) == list(second.locations.items())


def test_document_is_frozen(tmp_path):
    doc = load_document(_write(tmp_path, "f.yaml", "a: 1\n"))
    with pytest.raises(AttributeError):
        doc.data = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        doc.locations[("b",)] = ("x", 1)  # type: ignore[index]


def test_document_pickles(tmp_path):
    doc = load_document(_write(tmp_path, "p.yaml", "a: [1, {b: 2}]\n"))
    again = pickle.loads(pickle.dumps(doc))
    assert again == doc and again.locate(("a", 1, "b")) == doc.locate(("a", 1, "b"))


def test_bom_and_crlf_are_fine(tmp_path):
    path = tmp_path / "win.yaml"
    path.write_bytes("\ufeffname: win\r\nreplications: 3\r\n".encode("utf-8"))
    doc = load_document(path)
    assert doc.data == {"name": "win", "replications": 3}
    assert doc.locations[("replications",)][1] == 2


# --- extends ---------------------------------------------------------------------

BASE = (
    "name: baseline\n"                  # 1
    "replications: 100\n"               # 2
    "seed: 1\n"                         # 3
    "demand:\n"                         # 4
    "  growth_pct_per_year: 2.0\n"      # 5
    "  shock_sd_pct: 1.0\n"             # 6
    "outputs:\n"                        # 7
    "  keep_levels: [national, icb]\n"  # 8
)


def test_extends_overrides_scalars_and_inherits_the_rest(tmp_path):
    parent = _write(tmp_path, "baseline.yaml", BASE)
    child = _write(tmp_path, "child.yaml", (
        "extends: baseline.yaml\n"      # 1
        "name: child\n"                 # 2
        "demand:\n"                     # 3
        "  growth_pct_per_year: 3.0\n"  # 4
        "outputs:\n"                    # 5
        "  keep_levels: [trust]\n"      # 6
        "policies: {validation: {start: 2026-04}}\n"  # 7
    ))
    doc = load_scenario_document(child)
    assert doc.data == {
        "name": "child", "replications": 100, "seed": 1,
        "demand": {"growth_pct_per_year": 3.0, "shock_sd_pct": 1.0},
        "outputs": {"keep_levels": ["trust"]},
        "policies": {"validation": {"start": "2026-04"}},
    }
    assert "extends" not in doc.data and ("extends",) not in doc.locations
    assert doc.files == (str(child), str(parent))
    assert doc.locate(("name",)) == (str(child), 2)
    assert doc.locate(("replications",)) == (str(parent), 2)
    assert doc.locate(("demand",)) == (str(child), 3)
    assert doc.locate(("demand", "growth_pct_per_year")) == (str(child), 4)
    assert doc.locate(("demand", "shock_sd_pct")) == (str(parent), 6)
    assert doc.locate(("outputs", "keep_levels", 0)) == (str(child), 6)
    assert ("outputs", "keep_levels", 1) not in doc.locations  # the parent's list was replaced
    assert doc.locate(("policies", "validation", "start")) == (str(child), 7)


def test_null_in_child_sets_null_and_does_not_delete(tmp_path):
    _write(tmp_path, "baseline.yaml", BASE)
    child = _write(tmp_path, "child.yaml", "extends: baseline.yaml\ndemand:\n  shock_sd_pct:\nseed: null\n")
    doc = load_scenario_document(child)
    assert doc.data["demand"] == {"growth_pct_per_year": 2.0, "shock_sd_pct": None}
    assert doc.data["seed"] is None and "seed" in doc.data
    assert doc.locate(("seed",)) == (str(child), 4)


def test_child_mapping_replaces_parent_scalar_and_vice_versa(tmp_path):
    _write(tmp_path, "p.yaml", "a: 1\nb: {x: 1}\n")
    doc = load_scenario_document(_write(tmp_path, "c.yaml", "extends: p.yaml\na: {y: 2}\nb: 3\n"))
    assert doc.data == {"a": {"y": 2}, "b": 3}
    assert ("b", "x") not in doc.locations


def test_three_level_chain_and_bare_name(tmp_path):
    grand = _write(tmp_path, "grand.yaml", "name: g\nseed: 1\nreplications: 5\n")
    (tmp_path / "sub").mkdir()
    parent = _write(tmp_path / "sub", "parent.yaml", "extends: ../grand.yaml\nseed: 2\n")
    child = _write(tmp_path / "sub", "child.yaml", "extends: parent\nname: c\n")  # bare name
    doc = load_scenario_document(child)
    assert doc.data == {"name": "c", "seed": 2, "replications": 5}
    assert doc.files == (str(child), str(parent), os.path.normpath(str(grand)))
    assert doc.locate(("replications",))[0] == os.path.normpath(str(grand))


def test_relative_paths_keep_the_users_spelling(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    _write(tmp_path / "configs", "baseline.yaml", BASE)
    _write(tmp_path / "configs", "rttt.yaml", "extends: baseline.yaml\nname: rttt\n")
    doc = load_scenario_document("configs/rttt.yaml")
    assert doc.files == ("configs/rttt.yaml", "configs/baseline.yaml")


def test_error_inside_parent_names_the_parent_file_and_line(tmp_path):
    _write(tmp_path, "baseline.yaml", "name: b\nseed: 1\nseed: 2\n")
    error = _error(_write(tmp_path, "child.yaml", "extends: baseline.yaml\n"))
    assert Path(error.file).name == "baseline.yaml" and error.line == 3


def test_missing_parent_suggests_a_close_name(tmp_path):
    _write(tmp_path, "baseline.yaml", BASE)
    error = _error(_write(tmp_path, "child.yaml", "name: c\nextends: baseline.yml\n"))
    assert error.line == 2 and error.key_path == "extends"
    assert error.suggestion == "baseline.yaml"
    assert "Did you mean 'baseline.yaml'?" in str(error)


def test_load_document_keeps_extends(tmp_path):
    doc = load_document(_write(tmp_path, "c.yaml", "extends: nowhere.yaml\n"))
    assert doc.data == {"extends": "nowhere.yaml"}


def test_loaded_document_is_a_dataclass_with_locate():
    doc = LoadedDocument({"a": 1}, {("a",): ("f.yaml", 3)}, ("f.yaml",))
    assert doc.locate(("a", "b")) == ("f.yaml", 3)
    assert doc.locate(([1],)) == ("f.yaml", None)  # unhashable parts do not crash


# --- Never anything but InputError ----------------------------------------------

VALID = (
    "name: fuzz\n"
    "replications: 10\n"
    "mode: flow\n"
    "capacity:\n"
    "  items:\n"
    "    - {name: a, rate: 0.5}\n"
    "    - name: b\n"
    "      rate: 0.25\n"
    "policies:\n"
    "  validation: {enabled: true, start: '2026-04'}\n"
)
YAMLISH = st.text(alphabet=st.sampled_from(list("ab:- \n\t[]{},'\"#&*!|>?%@`~01.eE+yno\\\x00\x07é\r")), max_size=120)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=YAMLISH.map(lambda text: text.encode("utf-8")) | st.binary(max_size=80))
def test_random_bytes_never_raise_anything_but_input_error(tmp_path, raw):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(raw)
    try:
        doc = load_document(path)
    except InputError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(doc.data, dict)
