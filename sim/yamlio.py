"""Reading scenario YAML into plain data, with a file and line for every key.

Validation errors must name the line the user has to edit, so loading keeps a
location map ``{key_path: (file, line)}`` beside the data (key paths are
tuples such as ``("capacity", "items", 2, "rate")``, matching pydantic's
``loc``). Every problem is raised as :class:`sim.errors.InputError`.

Reading rules (decided here, relied on by the schema in ``sim.config``):

- YAML 1.2 via ruamel.yaml's round-trip loader. ``yes/no/on/off`` are text,
  not booleans, so ``country: NO`` stays ``'NO'``; a boolean field must be a
  ``StrictBool`` so that ``enabled: yes`` is reported, not guessed. Files
  declaring ``%YAML 1.1`` are refused rather than read with the old rules.
- Values reach the schema as typed: ``1e3`` and ``1.5e3`` are floats (int
  fields accept a whole float), ``.5e3`` stays the text ``'.5e3'``, dates such
  as ``2026-04-01`` stay text (the schema parses them; ``2026-04`` is text in
  any case). ``.inf`` and ``.nan`` are floats; the schema should bound them.
- Duplicate keys, several documents in one file, custom ``!tags``, sets,
  binary values and non-scalar keys are refused. Anchors, aliases and ``<<``
  merge keys are fine; each use of an alias becomes an independent copy.
- ``extends: parent.yaml`` (see :func:`load_scenario_document`) merges
  mappings key by key; the child's scalars and lists replace the parent's. A
  child ``key: null`` (or an empty ``key:``) sets the value to null; it does
  not delete the key or restore the schema default. No key can be deleted.
"""

from __future__ import annotations

import os
import re
import stat
import types
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.scalarbool import ScalarBoolean

from sim.errors import InputError, format_key_path
from sim.extends import load_chain, similar_yaml_file

KeyPath = tuple[Any, ...]
Location = tuple[str, int]

MAX_FILE_BYTES: Final = 5_000_000  # scenario files are a few KB; stops /dev/zero-like reads
MAX_VALUES: Final = 200_000  # counted after alias expansion, so alias bombs stop early
MAX_DEPTH: Final = 100
_STANDARD_TAGS: Final = {None, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap"}
_STR_TAG: Final = "tag:yaml.org,2002:str"
_SYNTAX_HINTS: Final = {
    "mapping values are not allowed here": "a value containing ': ' must be quoted, or the indentation is off",
    "could not find expected ':'": "each line of a mapping needs 'key: value'",
    "expected <block end>": "this line's indentation does not match the lines above it",
}


@dataclass(frozen=True)
class LoadedDocument:
    """A YAML mapping as plain Python data, with where each key came from.

    Attributes:
        data: The mapping (dict/list/str/int/float/bool/None only). Treat as
            read-only: it is shared, not copied, by whoever holds the document.
        locations: ``{key_path: (file, line)}`` for every key and list item;
            the line is 1-based; the file is the one that provided the key.
        files: Files read, the named file first, then each ``extends`` parent.
    """

    data: dict[Any, Any] = field(hash=False)
    locations: Mapping[KeyPath, Location] = field(hash=False, repr=False)
    files: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.locations, types.MappingProxyType):
            object.__setattr__(self, "locations", types.MappingProxyType(dict(self.locations)))
        object.__setattr__(self, "files", tuple(self.files))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # A mappingproxy cannot be pickled; documents may travel to worker processes.
        return (LoadedDocument, (self.data, dict(self.locations), self.files))

    def locate(self, loc: tuple[Any, ...]) -> tuple[str | None, int | None]:
        """Finds the file and line of the longest known prefix of a key path.

        Args:
            loc: A key path, e.g. a pydantic error ``loc``.

        Returns:
            ``(file, line)``; ``(first file, None)`` when no prefix is known.
        """
        loc = tuple(loc)
        for end in range(len(loc), 0, -1):
            try:
                found = self.locations.get(loc[:end])
            except TypeError:  # unhashable element: cannot be a key of ours
                found = None
            if found is not None:
                return found
        return (self.files[0] if self.files else None, None)


def load_document(path: str | os.PathLike[str]) -> LoadedDocument:
    """Loads one YAML file whose top level is a mapping.

    Args:
        path: The file; shown in messages as given.

    Returns:
        The document with its location map; ``files`` is ``(path,)``.

    Raises:
        InputError: For any problem with the file; nothing else is raised.
    """
    file = os.fspath(path)
    text = _read_text(file)
    loaded = _parse(text, file)
    if loaded is None:
        raise InputError(file=file, problem="the scenario file is empty: it holds no keys",
                         allowed="a mapping of keys, one 'key: value' per line")
    if not isinstance(loaded, CommentedMap):
        kind = "a list" if isinstance(loaded, CommentedSeq) else f"the single value {_short(loaded)}"
        raise InputError(file=file, line=_first_content_line(text),
                         problem=f"the top level must be a mapping of keys, but it is {kind}",
                         allowed="'key: value' lines at the top level")
    converter = _Converter(file)
    data = converter.plain(loaded, (), 1, 0, frozenset())
    return LoadedDocument(data, converter.locations, (file,))


def load_scenario_document(path: str | os.PathLike[str]) -> LoadedDocument:
    """Loads a scenario file and merges in the chain of files it ``extends``.

    ``extends:`` names a file relative to the extending file's folder; a bare
    name without extension also finds ``name.yaml`` or ``name.yml`` there.
    Mappings merge key by key; scalars, lists and nulls from the child replace
    the parent's value (null does not delete). The merged locations point at
    the file that provided each key; ``extends`` itself is dropped from the
    data, and ``files`` lists the chain, the named file first. Resolution and
    merging live in :mod:`sim.extends`.

    Args:
        path: The scenario file.

    Returns:
        The merged document.

    Raises:
        InputError: For a bad file anywhere in the chain, a missing parent, a
            non-text ``extends`` value, or a loop.
    """
    data, locations, files = load_chain(path, load_document)
    return LoadedDocument(data, locations, files)


# --- Reading and parsing --------------------------------------------------------

def _read_text(file: str) -> str:
    try:
        info = os.stat(file)
    except FileNotFoundError:
        raise InputError(file=file, problem="file not found", suggestion=similar_yaml_file(file)) from None
    except (OSError, ValueError) as exc:
        raise InputError(file=file, problem=f"cannot be read ({_reason(exc)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(file=file, problem="is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(file=file, problem="is not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(file=file, problem=f"is too large for a scenario file ({info.st_size} bytes)",
                         allowed=f"at most {MAX_FILE_BYTES} bytes")
    try:
        with open(file, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(file=file, problem=f"cannot be read ({_reason(exc)})") from None
    if b"\x00" in raw:
        raise InputError(file=file, problem="is not a UTF-8 text file (it contains binary data)",
                         allowed="a YAML text file saved as UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(file=file, line=raw[: exc.start].count(b"\n") + 1,
                         problem=f"is not a UTF-8 text file (byte 0x{raw[exc.start]:02x} is not UTF-8)",
                         allowed="a YAML text file saved as UTF-8") from None


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


class _Constructor(RoundTripConstructor):
    """Round-trip constructor that leaves timestamps as the text typed."""

    def construct_timestamp_as_text(self, node: ScalarNode) -> str:
        return str(node.value)


# add_constructor copies the table into the subclass, so ruamel's own loader is untouched.
_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_timestamp_as_text)


def _new_yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml


def _parse(text: str, file: str) -> Any:
    yaml = _new_yaml()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a reused anchor name: legal YAML
            loaded = yaml.load(text)
    except DuplicateKeyError as exc:
        raise _duplicate_key_error(exc, text, file) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, text, file) from None
    except YAMLError as exc:
        raise _reader_error(exc, text, file) from None
    except RecursionError:
        raise InputError(file=file, problem="is nested too deeply to read") from None
    except Exception as exc:  # ruamel can fail oddly on garbage; the user still gets our message
        raise InputError(file=file, problem=f"could not be read as YAML ({_one_line(exc)})") from None
    _check_version(yaml, text, file)
    return loaded


def _check_version(yaml: YAML, text: str, file: str) -> None:
    infos = getattr(yaml, "doc_infos", None) or []
    version = getattr(infos[-1], "doc_version", None) if infos else None
    if version is None:
        return
    number = (getattr(version, "major", None), getattr(version, "minor", None))
    if number != (1, 2):
        line = next((i for i, t in enumerate(text.splitlines(), 1) if t.startswith("%YAML")), None)
        raise InputError(file=file, line=line,
                         problem="declares an older YAML version; scenario files are read as YAML 1.2",
                         allowed="no %YAML line, or '%YAML 1.2'")


def _one_line(value: object) -> str:
    return " ".join(str(value).replace("\t", "\\t").split())


def _syntax_error(exc: MarkedYAMLError, text: str, file: str) -> InputError:
    problem, context = _one_line(exc.problem or ""), _one_line(exc.context or "")
    mark, start = exc.problem_mark, exc.context_mark
    if "expected a single document" in context or "expected a single document" in problem:
        line = mark.line + 1 if mark else None
        return InputError(file=file, line=line,
                          problem="holds more than one YAML document (a new one starts with '---')",
                          allowed="exactly one document per scenario file")
    unclosed = start is not None and ("end of stream" in problem or "<stream end>" in problem)
    mark = start if unclosed else (mark or start)  # for an unclosed bracket or quote, the opening
    message = f"YAML syntax error: {problem or context or _one_line(exc)}"
    if mark is not None:
        message = f"YAML syntax error at column {mark.column + 1}: {problem or context}"
    if unclosed and context:
        message += f" ({context} that starts here and is never closed)"
    elif start is not None and mark is not start and context:
        message += f" ({context} that starts on line {start.line + 1}, column {start.column + 1})"
    hint = _tab_hint(exc, text, mark) or next((h for p, h in _SYNTAX_HINTS.items() if p in problem), None)
    if hint:
        message += f"; {hint}"
    return InputError(file=file, line=mark.line + 1 if mark else None, problem=message)


def _tab_hint(exc: MarkedYAMLError, text: str, mark: Any) -> str | None:
    lines = text.splitlines()
    row = lines[mark.line] if mark is not None and 0 <= mark.line < len(lines) else ""
    indent = row[: len(row) - len(row.lstrip(" \t"))]
    if "\t" in indent:
        return "tabs are not allowed for indentation in YAML; use spaces"
    if "\t" in str(exc.problem or "") or "'\\t'" in str(exc.problem or ""):
        return "tabs are not allowed here in YAML; use spaces"
    return None


def _reader_error(exc: YAMLError, text: str, file: str) -> InputError:
    position = getattr(exc, "position", None)
    line = text[:position].count("\n") + 1 if isinstance(position, int) else None
    character = getattr(exc, "character", None)
    if isinstance(character, int):
        return InputError(file=file, line=line,
                          problem=f"contains the control character U+{character:04X}, which YAML does not allow")
    return InputError(file=file, line=line, problem=f"could not be read as YAML ({_one_line(exc)})")


def _duplicate_key_error(exc: DuplicateKeyError, text: str, file: str) -> InputError:
    second = exc.problem_mark
    found = _find_duplicate(text, (second.line, second.column) if second else None)
    if found is None:
        key = re.search(r'duplicate key "(.*?)"', str(exc.problem or ""))
        return InputError(file=file, line=second.line + 1 if second else None,
                          key_path=key.group(1) if key else None,
                          problem="duplicate key", allowed="each key once in the same mapping")
    path, first_line, second_line = found
    return InputError(file=file, line=second_line, key_path=format_key_path(path),
                      problem=f"duplicate key: given on line {first_line} and again on line {second_line}",
                      allowed="each key once in the same mapping")


def _find_duplicate(text: str, at: tuple[int, int] | None) -> tuple[KeyPath, int, int] | None:
    """Finds a repeated key via the node tree, which keeps both occurrences' lines."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            root = _new_yaml().compose(text)
    except Exception:  # only used to improve a message; the caller has a fallback
        return None
    found: list[tuple[KeyPath, int, int]] = []
    for path, node in _walk_nodes(root):
        if not isinstance(node, MappingNode):
            continue
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                continue
            ident = (str(getattr(key_node.tag, "value", key_node.tag)), key_node.value)
            mark = key_node.start_mark
            if ident in seen:
                hit = (path + (key_node.value,), seen[ident], mark.line + 1)
                if at == (mark.line, mark.column):
                    return hit
                found.append(hit)
            seen.setdefault(ident, mark.line + 1)
    return found[0] if found else None


def _walk_nodes(root: Any) -> Iterator[tuple[KeyPath, Any]]:
    stack, visited = [((), root)], set()
    while stack:
        path, node = stack.pop()
        if node is None or id(node) in visited:  # aliases share nodes
            continue
        visited.add(id(node))
        yield path, node
        if isinstance(node, MappingNode):
            children = [(path + (str(k.value),), v) for k, v in node.value if isinstance(k, ScalarNode)]
        elif isinstance(node, SequenceNode):
            children = [(path + (i,), v) for i, v in enumerate(node.value)]
        else:
            children = []
        stack.extend(reversed(children))


def _first_content_line(text: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "---", "%")):
            return number
    return None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# --- Converting ruamel's objects to plain data ----------------------------------

class _Converter:
    """Turns ruamel's round-trip objects into plain data, recording each key's line."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.locations: dict[KeyPath, Location] = {}
        self.count = 0

    def fail(self, path: KeyPath, line: int, problem: str) -> InputError:
        return InputError(file=self.file, line=line, key_path=format_key_path(path) or None, problem=problem)

    def plain(self, value: Any, path: KeyPath, line: int, depth: int, active: frozenset[int]) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            raise self.fail(path, line, f"holds more than {MAX_VALUES} values once aliases are expanded")
        if depth > MAX_DEPTH:
            raise self.fail(path, line, f"is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, (CommentedMap, CommentedSeq)):
            if id(value) in active:
                raise self.fail(path, line, "is an alias that contains itself")
            tag = getattr(getattr(value, "tag", None), "value", None)
            if tag not in _STANDARD_TAGS:
                raise self.fail(path, line, f"uses the YAML tag {tag!r}, which scenario files do not support")
            inner = active | {id(value)}
            if isinstance(value, CommentedMap):
                return self.mapping(value, path, line, depth, inner)
            return [self.plain(item, path + (i,), self.record(path + (i,), _item_line(value, i, line)),
                               depth + 1, inner) for i, item in enumerate(value)]
        return self.scalar(value, path, line)

    def record(self, path: KeyPath, line: int) -> int:
        self.locations[path] = (self.file, line)
        return line

    def mapping(self, value: CommentedMap, path: KeyPath, line: int, depth: int,
                active: frozenset[int]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key in value:  # includes keys brought in by '<<' merges
            key_line = _key_line(value, key, line)
            plain_key = self.key(key, path, key_line)
            if plain_key in out:  # e.g. 1 and true: equal once plain, so one would vanish
                raise self.fail(path + (plain_key,), key_line, "duplicate key (two spellings of the same key)")
            self.record(path + (plain_key,), key_line)
            out[plain_key] = self.plain(value[key], path + (plain_key,), key_line, depth + 1, active)
        return out

    def key(self, key: Any, path: KeyPath, line: int) -> Any:
        if isinstance(key, (str, int, float)) or key is None:
            return self.scalar(key, path, line)
        if isinstance(key, TaggedScalar):
            return self.scalar(key, path, line)
        raise self.fail(path, line, "has a key that is a list or mapping; keys must be single values")

    def scalar(self, value: Any, path: KeyPath, line: int) -> Any:
        if isinstance(value, (bool, ScalarBoolean)):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return str(value)
        if value is None:
            return None
        tag = getattr(getattr(value, "tag", None), "value", None)
        if isinstance(value, TaggedScalar) and tag == _STR_TAG:
            return str(value.value)
        what = f"the YAML tag {tag!r}" if tag else f"a YAML {type(value).__name__} value"
        raise self.fail(path, line, f"uses {what}, which scenario files do not support")


def _key_line(cmap: CommentedMap, key: Any, default: int, depth: int = 0) -> int:
    """Line of a key; for a key merged in with '<<', its line in the anchored mapping."""
    try:
        return int(cmap.lc.key(key)[0]) + 1
    except Exception:  # not written in this mapping itself
        pass
    for source in getattr(cmap, "merge", None) or []:
        if depth < MAX_DEPTH and isinstance(source, CommentedMap) and key in source:
            return _key_line(source, key, default, depth + 1)
    return default


def _item_line(seq: CommentedSeq, index: int, default: int) -> int:
    try:
        return int(seq.lc.item(index)[0]) + 1
    except Exception:  # ruamel keeps no position for some items
        return default
