"""One clear message for every problem in a file the user wrote.

A scenario file with a typo must stop the run before anything is simulated,
and the message must let an analyst fix the file without reading code: the
file and line, the key path (``capacity.items[2].rate``), the value, what is
allowed and, where one fits, a did-you-mean. :class:`InputError` carries those
parts; the CLI prints ``str(error)`` and exits with :attr:`InputError.exit_code`.

:func:`from_validation_error` translates a pydantic ``ValidationError``. It
walks the model's declared fields along the error location (through nested
models, Optional/Union, list items, dict values and discriminated unions; see
:mod:`sim.schema_walk`) to find the allowed keys, the bounds and the choices at
that place, and the document's location map for the line.
"""

from __future__ import annotations

import difflib
import errno
import functools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final

import pydantic

from sim import schema_walk as walk

if TYPE_CHECKING:
    from sim.yamlio import LoadedDocument

_MAX_VALUE_CHARS: Final = 60
_BOOL_WORDS: Final = {"yes": "true", "y": "true", "on": "true", "no": "false", "n": "false", "off": "false"}


class _NoValue:
    """Marks an error that is not about a value (unknown key, missing key, bad file)."""

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __reduce__(self) -> str:
        return "NO_VALUE"  # pickles by name, so the singleton survives worker processes


NO_VALUE: Final = _NoValue()


class OutputError(Exception):
    """The run's folder cannot be written: an unwritable location or a full disk (exit code 3).

    Not the user's file at fault, so not an :class:`InputError`; the message says
    what was kept and how to carry on (another ``--out``, or ``sim run --resume``
    once space is freed).
    """

    exit_code: ClassVar[int] = 3


# errno values that mean the disk or the folder, not the program, stopped a write.
DISK_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM})


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
        node = walk.step_into(node, key)
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
    err, route, whole_union = walk.pick_error(errors, doc.data, [walk.Slot(model)])
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

def _explain(err: dict, route: walk.Route, whole_union: bool) -> dict[str, Any]:
    kind = str(err.get("type", ""))
    value = err.get("input", NO_VALUE)
    if whole_union:
        slots = route.union_slots or route.slots
        return _value_parts(value, "is not an allowed value", walk.describe(slots), walk.choices(slots))
    if kind in ("extra_forbidden", "invalid_key"):
        keys = walk.allowed_keys(route.parent_slots)
        key = str(route.path[-1]) if route.path else ""
        return {
            "problem": "unknown key" + (" (keys here are text)" if kind == "invalid_key" else ""),
            "allowed": ", ".join(keys) or None, "allowed_label": "Allowed keys here",
            "suggestion": did_you_mean(key, keys),
        }
    if kind in ("missing", "missing_argument", "missing_keyword_argument"):
        return {"problem": _missing_problem(route), "allowed": walk.describe(route.slots),
                "allowed_label": "Expected"}
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _tag_parts(kind, err.get("ctx") or {}, route)
    if kind in ("value_error", "assertion_error"):
        return _custom_parts(err, value)
    if route.key_error:
        return _value_parts(value, "is not an allowed key here", walk.describe(route.slots),
                            walk.choices(route.slots))
    phrase, fallback = _phrase(kind, err)
    ctx = err.get("ctx") or {}
    if isinstance(ctx.get("error"), str) and kind.startswith(("date", "time")):
        phrase += f" ({ctx['error']})"
    allowed = walk.describe(route.slots) or _allowed_from_ctx(ctx) or fallback
    if kind.startswith("bool") and isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
        return {"value": value, "allowed": allowed, "suggestion": _BOOL_WORDS[value.strip().lower()],
                "problem": phrase + " (YAML 1.2 reads yes/no/on/off as text; write true or false)"}
    if kind.startswith("string") and isinstance(value, (int, float)) and not isinstance(value, bool):
        phrase += " (put it in quotes to make it text)"
    if kind == "int_type" and isinstance(value, float) and value.is_integer() and abs(value) < 1e18:
        # YAML 1.2 reads 1e3 or 12.0 as a float; a count or a seed is written as an integer.
        return {"value": value, "problem": phrase + " (a float: YAML reads 1e3 and 12.0 as floats)",
                "allowed": allowed, "suggestion": str(int(value))}
    return _value_parts(value, phrase, allowed, walk.choices(route.slots))


def _value_parts(value: object, phrase: str, allowed: str | None, choices: list[str]) -> dict[str, Any]:
    if value is None:
        return {"problem": "has no value (it is empty or null)", "allowed": allowed}
    if isinstance(value, float) and value != value:  # NaN fails every bound; "too large" would mislead
        phrase = "is not a number"
    suggestion = did_you_mean(value, choices) if isinstance(value, str) and choices else None
    return {"value": value, "problem": phrase, "allowed": allowed, "suggestion": suggestion}


def _missing_problem(route: walk.Route) -> str:
    key = str(route.path[-1]) if route.path else ""
    known = set(walk.allowed_keys(route.parent_slots))
    siblings = route.parent_data if isinstance(route.parent_data, dict) else {}
    for other in siblings:
        if str(other) not in known and did_you_mean(str(other), [key]) is not None:
            return f"required key is missing (is the unknown key {str(other)!r} a misspelling of it?)"
    return "required key is missing"


def _tag_parts(kind: str, ctx: dict, route: walk.Route) -> dict[str, Any]:
    disc = walk.discriminator_name(route.slots) or str(ctx.get("discriminator", "")).strip("'\"")
    tags = [str(t) for t in walk.union_tags(route.slots)] or [
        t.strip().strip("'\"") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()
    ]
    allowed = "one of " + walk.join_or([repr(t) for t in tags]) if tags else None
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
        return "a value " + walk.range_text(bounds)
    if "min_length" in ctx or "max_length" in ctx:
        return "a value " + walk.length_text(ctx.get("min_length"), ctx.get("max_length"), "items")
    return None
