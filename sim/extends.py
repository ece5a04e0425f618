"""``extends:`` chains: finding each parent scenario file and merging child over parent.

A scenario can start from another: ``extends: baseline.yaml`` reads the parent
(relative to the extending file's folder), then lays the child over it.
Mappings merge key by key; the child's scalars, lists and nulls replace the
parent's value (null does not delete a key). Each merged key keeps the file and
line it came from, so a validation error still points at the file to edit.

This module knows nothing about YAML: :func:`load_chain` is given the loader
(:func:`sim.yamlio.load_document`), and :mod:`sim.yamlio` builds the merged
document from what it returns.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from sim.errors import InputError, did_you_mean

if TYPE_CHECKING:
    from sim.yamlio import KeyPath, LoadedDocument, Location

YAML_EXTENSIONS: Final = (".yaml", ".yml")


def load_chain(
    path: str | os.PathLike[str],
    load: Callable[[str | os.PathLike[str]], LoadedDocument],
) -> tuple[dict[Any, Any], dict[KeyPath, Location], tuple[str, ...]]:
    """Loads a file and the chain of files it ``extends``, and merges them.

    Args:
        path: The scenario file.
        load: Reads one file into a document (``sim.yamlio.load_document``).

    Returns:
        ``(data, locations, files)``: the merged data without ``extends``, the
        location of every key in the file that provided it, and the chain of
        files, the named file first.

    Raises:
        InputError: For a bad file anywhere in the chain, a missing parent, a
            non-text ``extends`` value, or a loop.
    """
    chain = [load(path)]
    seen = {os.path.realpath(chain[0].files[0]): chain[0].files[0]}
    while "extends" in chain[-1].data:
        parent = _resolve_parent(chain[-1], [doc.files[0] for doc in chain])
        real = os.path.realpath(parent)
        if real in seen:
            names = " -> ".join([doc.files[0] for doc in chain] + [parent])
            raise _extends_error(chain[-1], problem=f"makes a loop: {names}",
                                 allowed="a chain of files that ends at a file without 'extends'")
        seen[real] = parent
        chain.append(load(parent))
    data, locations = _without_extends(chain[-1])
    for child in reversed(chain[:-1]):
        data, locations = _merge(data, locations, *_without_extends(child))
    return data, locations, tuple(doc.files[0] for doc in chain)


def similar_yaml_file(file: str) -> str | None:
    """The YAML file in ``file``'s folder whose name is closest to it, or None."""
    folder, name = os.path.split(file)
    try:
        options = sorted(n for n in os.listdir(folder or ".") if n.endswith(YAML_EXTENSIONS))
    except OSError:
        return None
    # Compare stems: the shared '.yaml' would make unrelated names look alike.
    stems = {os.path.splitext(option)[0]: option for option in options}
    found = did_you_mean(os.path.splitext(name)[0], stems)
    return os.path.join(folder, stems[found]) if found else None


def _extends_error(doc: LoadedDocument, **parts: Any) -> InputError:
    file, line = doc.locate(("extends",))
    return InputError(file=file, line=line, key_path="extends", **parts)


def _resolve_parent(doc: LoadedDocument, chain: list[str]) -> str:
    value = doc.data["extends"]
    allowed = "the name of another scenario file, relative to this file's folder"
    if not isinstance(value, str) or not value.strip():
        raise _extends_error(doc, value=value, problem="is not a file name", allowed=allowed)
    folder = os.path.dirname(doc.files[0])
    base = os.path.normpath(os.path.join(folder, value.strip()))
    candidates = [base] + ([base + ext for ext in YAML_EXTENSIONS] if not os.path.splitext(base)[1] else [])
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    via = " -> ".join(chain + [base])
    problem = f"names a file that does not exist ({via})"
    if os.path.isdir(base):
        problem = f"names a folder, not a file ({via})"
    found = similar_yaml_file(base)
    suggestion = os.path.relpath(found, folder or ".") if found else None
    raise _extends_error(doc, value=value, problem=problem, allowed=allowed, suggestion=suggestion)


def _without_extends(doc: LoadedDocument) -> tuple[dict[Any, Any], dict[KeyPath, Location]]:
    data = {k: v for k, v in doc.data.items() if k != "extends"}
    locations = {p: loc for p, loc in doc.locations.items() if p[:1] != ("extends",)}
    return data, locations


def _merge(parent: dict[Any, Any], parent_locs: dict[KeyPath, Location],
           child: dict[Any, Any], child_locs: dict[KeyPath, Location],
           path: KeyPath = ()) -> tuple[dict[Any, Any], dict[KeyPath, Location]]:
    """Deep-merges child over parent; returns new data and the merged locations."""
    data: dict[Any, Any] = {}
    locations: dict[KeyPath, Location] = {}
    for key in list(parent) + [k for k in child if k not in parent]:
        here = path + (key,)
        if key in child and key in parent and isinstance(parent[key], dict) and isinstance(child[key], dict):
            sub_data, sub_locs = _merge(parent[key], parent_locs, child[key], child_locs, here)
            data[key] = sub_data
            locations.update(_subtree_locations(here, None, child_locs))
            locations.update(sub_locs)
        else:
            source, source_locs = (child, child_locs) if key in child else (parent, parent_locs)
            data[key] = copy.deepcopy(source[key])
            locations.update(_subtree_locations(here, data[key], source_locs))
    return data, locations


def _subtree_locations(path: KeyPath, value: Any, locs: Mapping[KeyPath, Location]) -> dict[KeyPath, Location]:
    """Locations of ``path`` and, when value is given, of everything under it."""
    out: dict[KeyPath, Location] = {}
    stack = [(path, value)]
    while stack:
        here, node = stack.pop()
        if here in locs:
            out[here] = locs[here]
        if isinstance(node, dict):
            stack.extend((here + (k,), v) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((here + (i,), v) for i, v in enumerate(node))
    return out
