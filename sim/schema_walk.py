"""Walking a pydantic model along an error location, and describing what it allows.

Private helper of :mod:`sim.errors`. A pydantic error ``loc`` mixes the user's
keys with union branch labels (``'float'``, ``'function-after[...]'``,
discriminator tags); :func:`pick_error` follows it through the user's data and
the model's declared types at once (nested models, Optional/Union, list items,
dict values, discriminated unions) so the message can name the user's key path
and say what is allowed there (:func:`describe`, :func:`choices`,
:func:`allowed_keys`).
"""

from __future__ import annotations

import collections
import collections.abc as cabc
import dataclasses
import enum
import re
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

import pydantic
from pydantic.fields import FieldInfo

_MAX_KEYS_SHOWN: Final = 8  # in "a mapping with keys ..." descriptions only


ABSENT: Final = object()


def step_into(node: object, key: object) -> object:
    """Returns node[key] for the user's data, or ABSENT when there is no such key."""
    try:
        if isinstance(node, dict) and key in node:
            return node[key]
    except TypeError:  # an unhashable key from an odd loc
        return ABSENT
    if isinstance(node, list) and isinstance(key, int) and not isinstance(key, bool):
        return node[key] if 0 <= key < len(node) else ABSENT
    return ABSENT


@dataclasses.dataclass(frozen=True)
class Slot:
    """A declared type at one place in the model, with its Field constraints."""

    tp: Any
    metadata: tuple[Any, ...] = ()
    discriminator: Any = None


@dataclasses.dataclass
class Route:
    """Where a pydantic loc lands in the user's data and in the model."""

    path: list[Any]  # the user's keys; pydantic's union labels removed
    flags: list[bool]  # True where path[i] indexes a list
    slots: list[Slot]  # declared type(s) at the end of the path
    parent_slots: list[Slot]  # declared type(s) of the mapping holding path[-1]
    parent_data: object = None
    union_slots: list[Slot] | None = None  # the union whose branch label came first
    union_at: int | None = None  # index in loc of that first label
    union_depth: int = 0  # len(path) when that label was met
    key_error: bool = False  # the error is about path[-1] as a mapping key, not its value


_SEQUENCES: Final = {list, set, frozenset, cabc.Sequence, cabc.MutableSequence, cabc.Set,
                     cabc.MutableSet, cabc.Collection, cabc.Iterable}
_MAPPINGS: Final = {dict, cabc.Mapping, cabc.MutableMapping, collections.OrderedDict,
                    collections.defaultdict}


def _unwrap(slot: Slot) -> Slot:
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
    return Slot(tp, tuple(meta), disc)


def _members(slot: Slot) -> list[Slot] | None:
    """The branches of a Union/Optional (outer constraints apply to each), else None."""
    if get_origin(slot.tp) not in (Union, types.UnionType):
        return None
    return [_unwrap(Slot(arg, slot.metadata)) for arg in get_args(slot.tp)]


def _flatten(slots: Iterable[Slot], depth: int = 0) -> list[Slot]:
    out: list[Slot] = []
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


def _field_slot(tp: Any, key: object) -> Slot | None:
    fields = _model_fields(tp) or {}
    raw = getattr(tp, "__pydantic_fields__", {})
    info = fields.get(key) if isinstance(key, str) else None  # type: ignore[arg-type]
    info = info or (raw.get(key) if isinstance(key, str) else None)
    return _unwrap(Slot(info.annotation, tuple(info.metadata), info.discriminator)) if info else None


def _child(slots: Iterable[Slot], key: object, depth: int = 0) -> list[Slot]:
    """The declared type(s) one key or index below ``slots``."""
    out: list[Slot] = []
    for slot in _flatten(slots):
        tp, origin, args = slot.tp, get_origin(slot.tp), get_args(slot.tp)
        if _model_fields(tp) is not None:
            if isinstance(tp, type) and issubclass(tp, pydantic.RootModel) and depth < 10:
                out.extend(_child([s for s in [_field_slot(tp, "root")] if s], key, depth + 1))
            elif (field := _field_slot(tp, key)) is not None:
                out.append(field)
        elif origin is tuple and isinstance(key, int):
            if len(args) == 2 and args[1] is Ellipsis:
                out.append(_unwrap(Slot(args[0])))
            elif 0 <= key < len(args):
                out.append(_unwrap(Slot(args[key])))
        elif origin in _SEQUENCES and args and isinstance(key, int):
            out.append(_unwrap(Slot(args[0])))
        elif origin in _MAPPINGS and len(args) == 2:
            out.append(_unwrap(Slot(args[1])))
    return out


def _tags_of(member: Slot, disc: Any) -> list[Any]:
    tags = [m.tag for m in member.metadata if isinstance(m, pydantic.Tag)]
    field = _field_slot(member.tp, disc) if isinstance(disc, str) else None
    if field is not None and get_origin(field.tp) is Literal:
        tags.extend(get_args(field.tp))
    return tags


def union_tags(slots: Iterable[Slot]) -> list[Any]:
    tags: list[Any] = []
    for slot in map(_unwrap, slots):
        if slot.discriminator is not None:
            for member in _members(slot) or []:
                tags.extend(t for t in _tags_of(member, slot.discriminator) if t not in tags)
    return tags


def discriminator_name(slots: Iterable[Slot]) -> str | None:
    names = [s.discriminator for s in map(_unwrap, slots) if isinstance(s.discriminator, str)]
    return names[0] if names else None


def _branches(slot: Slot, depth: int = 0) -> list[Slot]:
    """Branches of a plain union, nested plain unions opened; tagged unions stay whole."""
    out: list[Slot] = []
    for member in _members(slot) or []:
        nested = member.discriminator is None and _members(member) is not None and depth < 10
        out.extend(_branches(member, depth + 1) if nested else [member])
    return out


def _match_label(slots: Iterable[Slot], label: str) -> list[Slot] | None:
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


def _label_fits(member: Slot, label: str) -> bool:
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


def _route(loc: Sequence[Any], data: object, root: list[Slot], missing: bool = False) -> Route:
    """Follows loc through the data and the model, telling user keys from union labels.

    A loc element absent from the data is a user key only if the model has
    such a field or, for a missing-key error, it is the last element.
    """
    route = Route(path=[], flags=[], slots=root, parent_slots=[])
    node: object = data
    for i, key in enumerate(loc):
        below = step_into(node, key)
        if key == "[key]" and below is ABSENT and route.path:  # pydantic's marker for a bad dict key
            route.key_error = True
            route.slots = _key_slots(route.parent_slots)
            continue
        labelled = None if below is not ABSENT or not isinstance(key, str) else _match_label(route.slots, key)
        is_key = (missing and i == len(loc) - 1) or bool(_child(route.slots, key))
        if below is ABSENT and labelled is None and not is_key:
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


def _key_slots(slots: Iterable[Slot]) -> list[Slot]:
    return [_unwrap(Slot(get_args(s.tp)[0])) for s in _flatten(slots)
            if get_origin(s.tp) in _MAPPINGS and len(get_args(s.tp)) == 2]


def _is_sequence(slots: Iterable[Slot]) -> bool:
    return any(get_origin(s.tp) in _SEQUENCES | {tuple} for s in _flatten(slots))


def _is_missing(err: dict) -> bool:
    return str(err.get("type", "")).startswith("missing")


def _is_kind_mismatch(kind: str) -> bool:
    return kind.endswith(("_type", "_parsing")) or kind in ("literal_error", "enum", "none_required")


def pick_error(errors: list[dict], data: object, root: list[Slot]) -> tuple[dict, Route, bool]:
    """The first error, or for a union the best branch's error (see sim.errors.from_validation_error)."""
    first = errors[0]
    route = _route(tuple(first.get("loc", ())), data, root, _is_missing(first))
    if route.union_at is None:
        return first, route, False
    at = route.union_at
    prefix = tuple(first.get("loc", ()))[:at]
    branches: dict[str, list[tuple[dict, Route]]] = {}
    for err in errors:
        loc = tuple(err.get("loc", ()))
        if len(loc) > at and loc[:at] == prefix:
            branches.setdefault(str(loc[at]), []).append((err, _route(loc, data, root, _is_missing(err))))
    best: tuple[int, dict, Route] | None = None
    for found in branches.values():
        specific = [(e, r) for e, r in found
                    if len(r.path) > route.union_depth or not _is_kind_mismatch(str(e.get("type")))]
        if specific and (best is None or len(found) < best[0]):
            best = (len(found), *specific[0])
    return (best[1], best[2], False) if best else (first, route, True)


# --- Describing what is allowed ------------------------------------------------

def describe(slots: Iterable[Slot], depth: int = 0) -> str | None:
    texts: list[str] = []
    for slot in slots:
        text = _describe_one(slot, depth)
        if text and text not in texts:
            texts.append(text)
    return join_or(texts) or None


def _describe_one(slot: Slot, depth: int) -> str | None:
    slot = _unwrap(slot)
    members = _members(slot)
    if members is not None:
        tags, disc = union_tags([slot]), slot.discriminator
        if tags and isinstance(disc, str):
            return f"a mapping with {disc}: " + join_or([repr(t) for t in tags])
        return describe(members, depth)
    tp, origin, args = slot.tp, get_origin(slot.tp), get_args(slot.tp)
    bounds = _bounds(slot.metadata)
    if tp is type(None):
        return "null"
    if origin is Literal or (isinstance(tp, type) and issubclass(tp, enum.Enum)):
        return "one of " + join_or([repr(c) for c in choices([slot])])
    if tp is bool:
        return "true or false"
    if tp in (int, float):
        noun = "an integer" if tp is int else "a number"
        text = range_text(bounds)
        return f"{noun} {text}" if text else noun
    if tp is str:
        length = length_text(bounds.get("min_length"), bounds.get("max_length"), "characters")
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
        item = describe(_child([slot], 0), depth + 1)
        length = length_text(bounds.get("min_length"), bounds.get("max_length"), "items")
        return "a list" + (f" {length}" if length else "") + (f" of items, each {item}" if item else "")
    if origin in _MAPPINGS and len(args) == 2:
        value = describe([_unwrap(Slot(args[1]))], depth + 1)
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


def range_text(bounds: dict[str, Any]) -> str:
    ge, gt, le, lt = (bounds.get(k) for k in ("ge", "gt", "le", "lt"))
    if ge is not None and le is not None and gt is None and lt is None:
        return f"from {_number(ge)} to {_number(le)}"
    parts = [f"{words} {_number(v)}" for words, v in
             (("greater than", gt), ("of at least", ge), ("less than", lt), ("of at most", le))
             if v is not None]
    return " and ".join(p if i == 0 else p.removeprefix("of ") for i, p in enumerate(parts))


def length_text(low: Any, high: Any, unit: str) -> str:
    if low is not None and high is not None:
        return f"of {low} to {high} {unit}"
    if low is not None:
        return f"of at least {low} {unit}"
    return f"of at most {high} {unit}" if high is not None else ""


def choices(slots: Iterable[Slot]) -> list[Any]:
    out: list[Any] = []
    for slot in _flatten(slots):
        if get_origin(slot.tp) is Literal:
            out.extend(get_args(slot.tp))
        elif isinstance(slot.tp, type) and issubclass(slot.tp, enum.Enum):
            out.extend(member.value for member in slot.tp)
    return out


def allowed_keys(slots: Iterable[Slot]) -> list[str]:
    keys: list[str] = []
    for slot in _flatten(slots):
        names = list(_model_fields(slot.tp) or ())
        if get_origin(slot.tp) in _MAPPINGS and get_args(slot.tp):
            names = [str(c) for c in choices([_unwrap(Slot(get_args(slot.tp)[0]))])]
        keys.extend(name for name in names if name not in keys)
    return keys


def join_or(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) < 2:
        return items[0] if items else ""
    separator = "; " if any(", " in item for item in items) else ", "  # keep nested lists readable
    return separator.join(items[:-1]) + " or " + items[-1]
