"""One clear message for every problem in a file the user wrote.

A scenario file with a typo must stop the run before anything is simulated,
and the message must let an analyst fix the file without reading code: the
file and line, the key path (``capacity.items[2].rate``), the value, what is
allowed and, where one fits, a did-you-mean. :class:`InputError` carries those
parts; the CLI prints ``str(error)`` and exits with :attr:`InputError.exit_code`.

:func:`from_validation_error` translates a pydantic ``ValidationError``. It
walks the model's declared fields along the error location (through nested
models, Optional/Union, list items, dict values and discriminated unions) to
find the allowed keys, the bounds and the choices at that place, and the
document's location map for the line.
"""

from __future__ import annotations

import collections
import collections.abc as cabc
import dataclasses
import difflib
import enum
import functools
import re
import types
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Literal, Union, get_args, get_origin

import pydantic
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from sim.yamlio import LoadedDocument

_MAX_VALUE_CHARS: Final = 60
_MAX_KEYS_SHOWN: Final = 8  # in "a mapping with keys ..." descriptions only
_BOOL_WORDS: Final = {"yes": "true", "y": "true", "on": "true", "no": "false", "n": "false", "off": "false"}


class _NoValue:
    """Marks an error that is not about a value (unknown key, missing key, bad file)."""

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __reduce__(self) -> str:
        return "NO_VALUE"  # pickles by name, so the singleton survives worker processes


NO_VALUE: Final = _NoValue()


class InputError(Exception):
    """A problem in user input, rendered as one line that says how to fix it.

    Works for any file the user supplies: for YAML ``line`` is the line of the
    key; for CSV ``line`` is the row number and ``key_path`` the column name.

    Attributes:
        file: Path of the offending file as the user gave it, or None.
        line: 1-based line (or CSV row) number, or None when unknown.
        key_path: Dotted key path with list indices, e.g.
            ``policies.validation.start`` or ``capacity.items[2].rate``.
        value: The offending value, or ``NO_VALUE`` when the problem is not
            about a value (an unknown or missing key, an unreadable file).
        problem: What is wrong. With a value it follows ``value <value>``
            ("is not an integer"); without one it is a whole phrase.
        allowed: What would be accepted, or None.
        suggestion: A did-you-mean candidate, or None.
        allowed_label: Printed before ``allowed``: "Allowed" (default),
            "Allowed keys here" or "Expected".
    """

    exit_code: ClassVar[int] = 2

    def __init__(
        self,
        *,
        problem: str,
        file: str | None = None,
        line: int | None = None,
        key_path: str | None = None,
        value: object = NO_VALUE,
        allowed: str | None = None,
        suggestion: str | None = None,
        allowed_label: str = "Allowed",
    ) -> None:
        self.file = file
        self.line = line
        self.key_path = key_path
        self.value = value
        self.problem = problem
        self.allowed = allowed
        self.suggestion = suggestion
        self.allowed_label = allowed_label
        super().__init__(str(self))

    def fields(self) -> dict[str, Any]:
        """Returns the constructor arguments, e.g. to build a variant."""
        return {
            "problem": self.problem, "file": self.file, "line": self.line,
            "key_path": self.key_path, "value": self.value, "allowed": self.allowed,
            "suggestion": self.suggestion, "allowed_label": self.allowed_label,
        }

    def replace(self, **changes: Any) -> InputError:
        """Returns a copy with some fields changed."""
        return InputError(**{**self.fields(), **changes})

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # Default exception pickling replays positional args; ours are keyword-only.
        return (functools.partial(InputError, **self.fields()), ())

    def __str__(self) -> str:
        where = self.file or ""
        if self.line is not None:
            where = f"{where}:{self.line}" if where else f"line {self.line}"
        body = self.problem
        if self.value is not NO_VALUE:
            body = f"value {format_value(self.value)} {self.problem}"
        text = ": ".join(part for part in (where, self.key_path, _sentence(body)) if part)
        if self.allowed:
            text += f" {self.allowed_label}: {_sentence(self.allowed)}"
        if self.suggestion is not None:
            text += f" Did you mean {self.suggestion!r}?"
        return text


def _sentence(text: object) -> str:
    text = " ".join(str(text).split())
    return text if text.endswith((".", "?", "!")) else text + "."


def format_value(value: object) -> str:
    """Shows a value as the user would recognise it, truncated to ~60 characters.

    Args:
        value: Any value read from a user file.

    Returns:
        Strings repr-style (quoted); ``true``/``false``/``null`` in YAML spelling.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) > _MAX_VALUE_CHARS - 5:
        return repr(value[: _MAX_VALUE_CHARS - 5]) + "..."
    try:
        text = repr(value)
    except Exception:  # a hostile __repr__ must not hide the user's error
        text = f"<{type(value).__name__}>"
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def did_you_mean(word: str, options: Iterable[object], cutoff: float = 0.6) -> str | None:
    """Finds the option closest to a misspelt word, ignoring case.

    Args:
        word: What the user wrote.
        options: The accepted spellings (non-strings are compared as text).
        cutoff: Minimum difflib similarity ratio, 0 to 1.

    Returns:
        The closest option as spelt in ``options``, or None if none is close.
    """
    by_lower: dict[str, str] = {}
    for option in options:
        by_lower.setdefault(str(option).lower(), str(option))
    found = difflib.get_close_matches(str(word).lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[found[0]] if found else None


def format_key_path(path: Sequence[object], data: object = None) -> str:
    """Renders a key path tuple as ``capacity.items[2].rate``.

    Args:
        path: Keys and list indices from the document root.
        data: The document. When given, an int shows as ``[i]`` only where it
            indexes a list (an int mapping key such as a year shows as
            ``.2026``); without it every int is taken as a list index.

    Returns:
        The path text, "" for the root.
    """
    flags, node = [], data
    for key in path:
        flags.append(isinstance(key, int) and (isinstance(node, list) or data is None))
        node = _step_into(node, key)
    return _render_path(path, flags)


def _render_path(path: Sequence[object], index_flags: Sequence[bool]) -> str:
    text = ""
    for key, is_index in zip(path, index_flags):
        if is_index:
            text += f"[{key}]"
        elif isinstance(key, (str, int)) and not isinstance(key, bool) and _plain_key(str(key)):
            text += f".{key}" if text else str(key)
        else:
            text += f"[{format_value(key)}]"
    return text


def _plain_key(key: str) -> bool:
    return bool(key) and not any(ch in key for ch in ".[]'\"") and key.split() == [key]


_ABSENT: Final = object()


def _step_into(node: object, key: object) -> object:
    """Returns node[key] for the user's data, or _ABSENT when there is no such key."""
    try:
        if isinstance(node, dict) and key in node:
            return node[key]
    except TypeError:  # an unhashable key from an odd loc
        return _ABSENT
    if isinstance(node, list) and isinstance(key, int) and not isinstance(key, bool):
        return node[key] if 0 <= key < len(node) else _ABSENT
    return _ABSENT


def from_validation_error(
    exc: pydantic.ValidationError,
    doc: LoadedDocument,
    model: type[pydantic.BaseModel],
) -> InputError:
    """Turns pydantic's first error into one clear :class:`InputError`.

    The first error in pydantic's order is used, with one refinement: when it
    comes from a union (say ``float | Distribution``), the error from the
    branch the value evidently meant is used, i.e. the branch with the fewest
    errors that are more than "wrong kind of value for this branch". If every
    branch only says "wrong kind", the message lists all allowed forms.

    Args:
        exc: The error from ``model.model_validate(doc.data)``.
        doc: The loaded document, for file and line numbers.
        model: The validated model, for allowed keys, bounds and choices.

    Returns:
        The translated error. Never raises: on any surprise it falls back to
        pydantic's own message at the best location found.
    """
    try:
        return _translate(exc, doc, model)
    except Exception:  # translating must never replace the user's error with ours
        return _fallback(exc, doc)


def _translate(exc: pydantic.ValidationError, doc: LoadedDocument, model: type) -> InputError:
    errors = exc.errors(include_url=False)
    if not errors:
        return _fallback(exc, doc)
    err, route, whole_union = _pick_error(errors, doc.data, [_Slot(model)])
    parts = _explain(err, route, whole_union)
    path, flags = list(route.path), list(route.flags)
    extra_key = parts.pop("extra_key", None)
    if extra_key:
        path, flags = path + [extra_key], flags + [False]
    file, line = doc.locate(tuple(path))
    return InputError(file=file, line=line, key_path=_render_path(path, flags) or None, **parts)


def _fallback(exc: BaseException, doc: object) -> InputError:
    """Pydantic's own words at the best location available, built defensively."""
    try:
        first = exc.errors(include_url=False)[0]  # type: ignore[attr-defined]
        loc = tuple(first.get("loc", ()))
        file, line = doc.locate(loc)  # type: ignore[attr-defined]
        path = _render_path(loc, [isinstance(k, int) for k in loc])
        return InputError(file=file, line=line, key_path=path or None, problem=str(first["msg"]))
    except Exception:  # last resort: still an InputError, never a traceback
        files = getattr(doc, "files", None) or (None,)
        return InputError(file=files[0], problem=" ".join(str(exc).split()))


# --- Explaining one pydantic error ----------------------------------------------

def _explain(err: dict, route: _Route, whole_union: bool) -> dict[str, Any]:
    kind = str(err.get("type", ""))
    value = err.get("input", NO_VALUE)
    if whole_union:
        slots = route.union_slots or route.slots
        return _value_parts(value, "is not an allowed value", _describe(slots), _choices(slots))
    if kind in ("extra_forbidden", "invalid_key"):
        keys = _allowed_keys(route.parent_slots)
        key = str(route.path[-1]) if route.path else ""
        return {
            "problem": "unknown key" + (" (keys here are text)" if kind == "invalid_key" else ""),
            "allowed": ", ".join(keys) or None, "allowed_label": "Allowed keys here",
            "suggestion": did_you_mean(key, keys),
        }
    if kind in ("missing", "missing_argument", "missing_keyword_argument"):
        return {"problem": _missing_problem(route), "allowed": _describe(route.slots),
                "allowed_label": "Expected"}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_parts(kind, err.get("ctx") or {}, route)
    if kind in ("value_error", "assertion_error"):
        return _custom_parts(err, value)
    if route.key_error:
        return _value_parts(value, "is not an allowed key here", _describe(route.slots), _choices(route.slots))
    phrase, fallback = _phrase(kind, err)
    ctx = err.get("ctx") or {}
    if isinstance(ctx.get("error"), str) and kind.startswith(("date", "time")):
        phrase += f" ({ctx['error']})"
    allowed = _describe(route.slots) or _allowed_from_ctx(ctx) or fallback
    if kind.startswith("bool") and isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return {"value": value, "allowed": allowed, "suggestion": _BOOL_WORDS[value.strip().lower()],
                "problem": phrase + " (YAML 1.2 reads yes/no/on/off as text; write true or false)"}
    if kind.startswith("string") and isinstance(value, (int, float)) and not isinstance(value, bool):
        phrase += " (put it in quotes to make it text)"
    return _value_parts(value, phrase, allowed, _choices(route.slots))


def _value_parts(value: object, phrase: str, allowed: str | None, choices: list[str]) -> dict[str, Any]:
    if value is None:
        return {"problem": "has no value (it is empty or null)", "allowed": allowed}
    if isinstance(value, float) and value != value:  # NaN fails every bound; "too large" would mislead
        phrase = "is not a number"
    suggestion = did_you_mean(value, choices) if isinstance(value, str) and choices else None
    return {"value": value, "problem": phrase, "allowed": allowed, "suggestion": suggestion}


def _missing_problem(route: _Route) -> str:
    key = str(route.path[-1]) if route.path else ""
    known = set(_allowed_keys(route.parent_slots))
    siblings = route.parent_data if isinstance(route.parent_data, dict) else {}
    for other in siblings:
        if str(other) not in known and did_you_mean(str(other), [key]) is not None:
            return f"required key is missing (is the unknown key {str(other)!r} a misspelling of it?)"
    return "required key is missing"


def _tag_parts(kind: str, ctx: dict, route: _Route) -> dict[str, Any]:
    disc = _discriminator_name(route.slots) or str(ctx.get("discriminator", "")).strip("'\"")
    tags = [str(t) for t in _union_tags(route.slots)] or [
        t.strip().strip("'\"") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()
    ]
    allowed = "one of " + _join_or([repr(t) for t in tags]) if tags else None
    if kind == "union_tag_not_found":
        return {"extra_key": disc, "problem": "required key is missing", "allowed": allowed,
                "allowed_label": "Expected"}
    tag = ctx.get("tag", NO_VALUE)
    return {"extra_key": disc, "value": tag, "problem": "is not one of the allowed choices",
            "allowed": allowed, "suggestion": did_you_mean(str(tag), tags) if tags else None}


def _custom_parts(err: dict, value: object) -> dict[str, Any]:
    cause = (err.get("ctx") or {}).get("error")
    message = str(cause) if cause is not None else str(err.get("msg", ""))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if value is NO_VALUE or isinstance(value, (dict, list)) or _mentions(message, value):
        return {"problem": message}  # whole-block checks, and messages that already quote the value
    return {"value": value, "problem": f"is not valid: {message}"}


def _mentions(message: str, value: object) -> bool:
    texts = {str(value), repr(value), format_value(value)}
    return any(re.search(rf"(?<![\w.]){re.escape(t)}(?![\w.])", message) for t in texts if t)


# Phrase after "value <v>", and a fallback for "allowed" when the model walk finds nothing.
_PHRASES: Final[dict[str, tuple[str, str | None]]] = {
    "int": ("is not an integer", "an integer"),
    "int_from_float": ("is not a whole number", "an integer"),
    "int_parsing_size": ("is too large", "an integer"),
    "float": ("is not a number", "a number"),
    "decimal": ("is not a number", "a number"),
    "finite_number": ("is not a finite number", "a finite number"),
    "bool": ("is not true or false", "true or false"),
    "string": ("is not text", "a string"),
    "date": ("is not a valid date", "a date written YYYY-MM-DD"),
    "datetime": ("is not a valid date and time", "a date and time"),
    "time": ("is not a valid time", "a time"),
    "list": ("is not a list", "a list"),
    "tuple": ("is not a list", "a list"),
    "set": ("is not a list", "a list"),
    "dict": ("is not a mapping of keys", "a mapping of keys to values"),
    "mapping": ("is not a mapping of keys", "a mapping of keys to values"),
    "model": ("is not a mapping of keys", "a mapping of keys to values"),
    "literal_error": ("is not one of the allowed choices", None),
    "enum": ("is not one of the allowed choices", None),
    "greater_than": ("is too small", None),
    "greater_than_equal": ("is too small", None),
    "less_than": ("is too large", None),
    "less_than_equal": ("is too large", None),
    "too_short": ("has too few items", None),
    "too_long": ("has too many items", None),
    "string_too_short": ("is too short", None),
    "string_too_long": ("is too long", None),
    "string_pattern_mismatch": ("does not match the required pattern", None),
    "multiple_of": ("is not a multiple of the required step", None),
    "none_required": ("must be empty (null)", "null"),
}


def _phrase(kind: str, err: dict) -> tuple[str, str | None]:
    if kind in _PHRASES:
        return _PHRASES[kind]
    stem = kind.split("_")[0]
    if stem in _PHRASES and (kind.endswith(("_type", "_parsing")) or stem in ("date", "datetime", "time")):
        return _PHRASES[stem]
    msg = " ".join(str(err.get("msg", "")).split())
    if msg.startswith("Input should be "):
        return ("is not " + msg.removeprefix("Input should be "), None)
    return (f"is not valid: {msg}", None)


def _allowed_from_ctx(ctx: dict) -> str | None:
    if "expected" in ctx:
        return f"one of {ctx['expected']}"
    bounds = {k: ctx[k] for k in ("ge", "gt", "le", "lt") if k in ctx}
    if bounds:
        return "a value " + _range_text(bounds)
    if "min_length" in ctx or "max_length" in ctx:
        return "a value " + _length_text(ctx.get("min_length"), ctx.get("max_length"), "items")
    return None


# --- Walking the model along an error location ---------------------------------

@dataclasses.dataclass(frozen=True)
class _Slot:
    """A declared type at one place in the model, with its Field constraints."""

    tp: Any
    metadata: tuple[Any, ...] = ()
    discriminator: Any = None


@dataclasses.dataclass
class _Route:
    """Where a pydantic loc lands in the user's data and in the model."""

    path: list[Any]  # the user's keys; pydantic's union labels removed
    flags: list[bool]  # True where path[i] indexes a list
    slots: list[_Slot]  # declared type(s) at the end of the path
    parent_slots: list[_Slot]  # declared type(s) of the mapping holding path[-1]
    parent_data: object = None
    union_slots: list[_Slot] | None = None  # the union whose branch label came first
    union_at: int | None = None  # index in loc of that first label
    union_depth: int = 0  # len(path) when that label was met
    key_error: bool = False  # the error is about path[-1] as a mapping key, not its value


_SEQUENCES: Final = {list, set, frozenset, cabc.Sequence, cabc.MutableSequence, cabc.Set,
                     cabc.MutableSet, cabc.Collection, cabc.Iterable}
_MAPPINGS: Final = {dict, cabc.Mapping, cabc.MutableMapping, collections.OrderedDict,
                    collections.defaultdict}


def _unwrap(slot: _Slot) -> _Slot:
    """Strips Annotated, NewType and type aliases, keeping their constraints."""
    tp, meta, disc = slot.tp, list(slot.metadata), slot.discriminator
    for _ in range(20):
        if get_origin(tp) is Annotated:
            tp, *extra = get_args(tp)
            for item in extra:
                if isinstance(item, FieldInfo):
                    meta.extend(item.metadata)
                    disc = item.discriminator or disc
                elif isinstance(item, pydantic.Discriminator):
                    disc = item.discriminator
                else:
                    meta.append(item)
        elif hasattr(tp, "__supertype__"):
            tp = tp.__supertype__
        elif type(tp).__name__ == "TypeAliasType":
            tp = tp.__value__
        else:
            break
    if isinstance(disc, pydantic.Discriminator):
        disc = disc.discriminator
    return _Slot(tp, tuple(meta), disc)


def _members(slot: _Slot) -> list[_Slot] | None:
    """The branches of a Union/Optional (outer constraints apply to each), else None."""
    if get_origin(slot.tp) not in (Union, types.UnionType):
        return None
    return [_unwrap(_Slot(arg, slot.metadata)) for arg in get_args(slot.tp)]


def _flatten(slots: Iterable[_Slot], depth: int = 0) -> list[_Slot]:
    out: list[_Slot] = []
    for slot in slots:
        slot = _unwrap(slot)
        members = _members(slot)
        out.extend(_flatten(members, depth + 1) if members is not None and depth < 10 else [slot])
    return out


def _model_fields(tp: Any) -> dict[str, FieldInfo] | None:
    """Fields of a pydantic model or dataclass keyed by input name (alias if set)."""
    fields = getattr(tp, "__pydantic_fields__", None) if isinstance(tp, type) else None
    if not isinstance(fields, dict):
        return None
    named: dict[str, FieldInfo] = {}
    for name, info in fields.items():
        alias = next((a for a in (info.validation_alias, info.alias) if isinstance(a, str)), None)
        named[alias or name] = info
    return named


def _field_slot(tp: Any, key: object) -> _Slot | None:
    fields = _model_fields(tp) or {}
    raw = getattr(tp, "__pydantic_fields__", {})
    info = fields.get(key) if isinstance(key, str) else None  # type: ignore[arg-type]
    info = info or (raw.get(key) if isinstance(key, str) else None)
    return _unwrap(_Slot(info.annotation, tuple(info.metadata), info.discriminator)) if info else None


def _child(slots: Iterable[_Slot], key: object, depth: int = 0) -> list[_Slot]:
    """The declared type(s) one key or index below ``slots``."""
    out: list[_Slot] = []
    for slot in _flatten(slots):
        tp, origin, args = slot.tp, get_origin(slot.tp), get_args(slot.tp)
        if _model_fields(tp) is not None:
            if isinstance(tp, type) and issubclass(tp, pydantic.RootModel) and depth < 10:
                out.extend(_child([s for s in [_field_slot(tp, "root")] if s], key, depth + 1))
            elif (field := _field_slot(tp, key)) is not None:
                out.append(field)
        elif origin is tuple and isinstance(key, int):
            if len(args) == 2 and args[1] is Ellipsis:
                out.append(_unwrap(_Slot(args[0])))
            elif 0 <= key < len(args):
                out.append(_unwrap(_Slot(args[key])))
        elif origin in _SEQUENCES and args and isinstance(key, int):
            out.append(_unwrap(_Slot(args[0])))
        elif origin in _MAPPINGS and len(args) == 2:
            out.append(_unwrap(_Slot(args[1])))
    return out


def _tags_of(member: _Slot, disc: Any) -> list[Any]:
    tags = [m.tag for m in member.metadata if isinstance(m, pydantic.Tag)]
    field = _field_slot(member.tp, disc) if isinstance(disc, str) else None
    if field is not None and get_origin(field.tp) is Literal:
        tags.extend(get_args(field.tp))
    return tags


def _union_tags(slots: Iterable[_Slot]) -> list[Any]:
    tags: list[Any] = []
    for slot in map(_unwrap, slots):
        if slot.discriminator is not None:
            for member in _members(slot) or []:
                tags.extend(t for t in _tags_of(member, slot.discriminator) if t not in tags)
    return tags


def _discriminator_name(slots: Iterable[_Slot]) -> str | None:
    names = [s.discriminator for s in map(_unwrap, slots) if isinstance(s.discriminator, str)]
    return names[0] if names else None


def _branches(slot: _Slot, depth: int = 0) -> list[_Slot]:
    """Branches of a plain union, nested plain unions opened; tagged unions stay whole."""
    out: list[_Slot] = []
    for member in _members(slot) or []:
        nested = member.discriminator is None and _members(member) is not None and depth < 10
        out.extend(_branches(member, depth + 1) if nested else [member])
    return out


def _match_label(slots: Iterable[_Slot], label: str) -> list[_Slot] | None:
    """The union branch(es) a pydantic loc label such as 'float' or 'triangular' names."""
    for slot in map(_unwrap, slots):
        members = _members(slot)
        if members is None:
            continue
        if slot.discriminator is not None:
            hits = [m for m in members if label in map(str, _tags_of(m, slot.discriminator))]
            if hits:
                return hits
            continue
        for member in _branches(slot):
            if _label_fits(member, label):
                return [member]
    return None


def _label_fits(member: _Slot, label: str) -> bool:
    tp, origin = member.tp, get_origin(member.tp)
    wrapped = re.fullmatch(r"function-\w+\[.*, (.+)\]", label)  # a branch with a validator
    if wrapped and not label.startswith("tagged-union["):
        return _label_fits(member, wrapped.group(1))
    if label.startswith("tagged-union["):
        return member.discriminator is not None and _members(member) is not None
    if _model_fields(tp) is not None:
        return label == tp.__name__ or label.startswith(tp.__name__ + "[")
    if origin is Literal:
        return label.startswith("literal[")
    if origin is not None:
        return label.startswith(getattr(origin, "__name__", "?") + "[")
    if tp is type(None):
        return label == "none"
    name = getattr(tp, "__name__", None)
    return name is not None and label in (name, f"constrained-{name}")


def _route(loc: Sequence[Any], data: object, root: list[_Slot], missing: bool = False) -> _Route:
    """Follows loc through the data and the model, telling user keys from union labels.

    A loc element absent from the data is a user key only if the model has
    such a field or, for a missing-key error, it is the last element.
    """
    route = _Route(path=[], flags=[], slots=root, parent_slots=[])
    node: object = data
    for i, key in enumerate(loc):
        below = _step_into(node, key)
        if key == "[key]" and below is _ABSENT and route.path:  # pydantic's marker for a bad dict key
            route.key_error = True
            route.slots = _key_slots(route.parent_slots)
            continue
        labelled = None if below is not _ABSENT or not isinstance(key, str) else _match_label(route.slots, key)
        is_key = (missing and i == len(loc) - 1) or bool(_child(route.slots, key))
        if below is _ABSENT and labelled is None and not is_key:
            labelled = route.slots  # a label we cannot place, e.g. 'function-after[...]'
        if labelled is not None:
            if route.union_at is None:
                route.union_slots, route.union_at, route.union_depth = route.slots, i, len(route.path)
            route.slots = labelled
            continue
        is_index = isinstance(key, int) and (isinstance(node, list) or _is_sequence(route.slots))
        route.parent_slots, route.parent_data = route.slots, node
        route.slots = _child(route.slots, key)
        route.path.append(key)
        route.flags.append(is_index)
        node = below
    return route


def _key_slots(slots: Iterable[_Slot]) -> list[_Slot]:
    return [_unwrap(_Slot(get_args(s.tp)[0])) for s in _flatten(slots)
            if get_origin(s.tp) in _MAPPINGS and len(get_args(s.tp)) == 2]


def _is_sequence(slots: Iterable[_Slot]) -> bool:
    return any(get_origin(s.tp) in _SEQUENCES | {tuple} for s in _flatten(slots))


def _is_missing(err: dict) -> bool:
    return str(err.get("type", "")).startswith("missing")


def _is_kind_mismatch(kind: str) -> bool:
    return kind.endswith(("_type", "_parsing")) or kind in ("literal_error", "enum", "none_required")


def _pick_error(errors: list[dict], data: object, root: list[_Slot]) -> tuple[dict, _Route, bool]:
    """The first error, or for a union the best branch's error (see from_validation_error)."""
    first = errors[0]
    route = _route(tuple(first.get("loc", ())), data, root, _is_missing(first))
    if route.union_at is None:
        return first, route, False
    at = route.union_at
    prefix = tuple(first.get("loc", ()))[:at]
    branches: dict[str, list[tuple[dict, _Route]]] = {}
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if len(loc) > at and loc[:at] == prefix:
            branches.setdefault(str(loc[at]), []).append((err, _route(loc, data, root, _is_missing(err))))
    best: tuple[int, dict, _Route] | None = None
    for found in branches.values():
        specific = [(e, r) for e, r in found
                    if len(r.path) > route.union_depth or not _is_kind_mismatch(str(e.get("type")))]
        if specific and (best is None or len(found) < best[0]):
            best = (len(found), *specific[0])
    return (best[1], best[2], False) if best else (first, route, True)


# --- Describing what is allowed ------------------------------------------------

def _describe(slots: Iterable[_Slot], depth: int = 0) -> str | None:
    texts: list[str] = []
    for slot in slots:
        text = _describe_one(slot, depth)
        if text and text not in texts:
            texts.append(text)
    return _join_or(texts) or None


def _describe_one(slot: _Slot, depth: int) -> str | None:
    slot = _unwrap(slot)
    members = _members(slot)
    if members is not None:
        tags, disc = _union_tags([slot]), slot.discriminator
        if tags and isinstance(disc, str):
            return f"a mapping with {disc}: " + _join_or([repr(t) for t in tags])
        return _describe(members, depth)
    tp, origin, args = slot.tp, get_origin(slot.tp), get_args(slot.tp)
    bounds = _bounds(slot.metadata)
    if tp is type(None):
        return "null"
    if origin is Literal or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return "one of " + _join_or([repr(c) for c in _choices([slot])])
    if tp is bool:
        return "true or false"
    if tp in (int, float):
        noun = "an integer" if tp is int else "a number"
        text = _range_text(bounds)
        return f"{noun} {text}" if text else noun
    if tp is str:
        length = _length_text(bounds.get("min_length"), bounds.get("max_length"), "characters")
        pattern = f" matching the pattern {bounds['pattern']}" if bounds.get("pattern") else ""
        return "a string" + (f" {length}" if length else "") + pattern
    if getattr(tp, "__name__", None) in ("date", "datetime"):
        return "a date written YYYY-MM-DD" if tp.__name__ == "date" else "a date and time"
    if (fields := _model_fields(tp)) is not None:
        keys = list(fields)
        shown = ", ".join(keys[:_MAX_KEYS_SHOWN]) + (", ..." if len(keys) > _MAX_KEYS_SHOWN else "")
        return f"a mapping with keys {shown}" if keys else "an empty mapping"
    if depth >= 2:
        return None
    if origin in _SEQUENCES or origin is tuple:
        item = _describe(_child([slot], 0), depth + 1)
        length = _length_text(bounds.get("min_length"), bounds.get("max_length"), "items")
        return "a list" + (f" {length}" if length else "") + (f" of items, each {item}" if item else "")
    if origin in _MAPPINGS and len(args) == 2:
        value = _describe([_unwrap(_Slot(args[1]))], depth + 1)
        return "a mapping of keys to values" + (f", each {value}" if value else "")
    return None


def _bounds(metadata: Iterable[Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in metadata:
        for attr in ("ge", "gt", "le", "lt", "min_length", "max_length", "pattern"):
            if getattr(item, attr, None) is not None:
                found[attr] = getattr(item, attr)
    return found


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _range_text(bounds: dict[str, Any]) -> str:
    ge, gt, le, lt = (bounds.get(k) for k in ("ge", "gt", "le", "lt"))
    if ge is not None and le is not None and gt is None and lt is None:
        return f"from {_number(ge)} to {_number(le)}"
    parts = [f"{words} {_number(v)}" for words, v in
             (("greater than", gt), ("of at least", ge), ("less than", lt), ("of at most", le))
             if v is not None]
    return " and ".join(p if i == 0 else p.removeprefix("of ") for i, p in enumerate(parts))


def _length_text(low: Any, high: Any, unit: str) -> str:
    if low is not None and high is not None:
        return f"of {low} to {high} {unit}"
    if low is not None:
        return f"of at least {low} {unit}"
    return f"of at most {high} {unit}" if high is not None else ""


def _choices(slots: Iterable[_Slot]) -> list[Any]:
    out: list[Any] = []
    for slot in _flatten(slots):
        if get_origin(slot.tp) is Literal:
            out.extend(get_args(slot.tp))
        elif isinstance(slot.tp, type) and issubclass(slot.tp, enum.Enum):
            out.extend(member.value for member in slot.tp)
    return out


def _allowed_keys(slots: Iterable[_Slot]) -> list[str]:
    keys: list[str] = []
    for slot in _flatten(slots):
        names = list(_model_fields(slot.tp) or ())
        if get_origin(slot.tp) in _MAPPINGS and get_args(slot.tp):
            names = [str(c) for c in _choices([_unwrap(_Slot(get_args(slot.tp)[0]))])]
        keys.extend(name for name in names if name not in keys)
    return keys


def _join_or(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) < 2:
        return items[0] if items else ""
    separator = "; " if any(", " in item for item in items) else ", "  # keep nested lists readable
    return separator.join(items[:-1]) + " or " + items[-1]
