"""JSON shapes compared: key names, nesting, JSON kinds and list lengths, never values.

Places are named two ways: a concrete path (``$.candidates[0].content.parts[1].text``) to
show where, and a key path with list indices collapsed (``candidates[].content.parts[].text``)
to say which kind of place it is, so places can be compared across recordings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

Problem = Literal["missing", "unexpected", "kind", "length"]
#: Enough differences to say what is wrong; a wholly different answer would list hundreds.
MAX_DIFFERENCES = 50


@dataclass(frozen=True)
class Difference:
    """One way an answer's shape differs from the recorded one."""

    path: str  # concrete: $.embeddings[0].values
    #: Collapsed, and for a missing or unexpected key the key's own path:
    #: ``usageMetadata.serviceTier``, ``candidates[].content.parts[].thoughtSignature``.
    key_path: str
    problem: Problem
    detail: str
    key: str | None = None  # the missing or unexpected key

    def __str__(self) -> str:
        return f"{self.path}: {self.detail}"


def kind(value: Any) -> str:
    """The JSON kind of a parsed value: object, array, string, number, bool or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def child(key_path: str, key: str) -> str:
    """The key path of ``key`` inside the object at ``key_path``."""
    return f"{key_path}.{key}" if key_path else key


@dataclass(frozen=True)
class _Rules:
    free_length: frozenset[str]
    opaque: frozenset[str]


def compare(
    actual: Any,
    recorded: Any,
    *,
    free_length: Collection[str] = (),
    opaque: Collection[str] = (),
    path: str = "$",
) -> list[Difference]:
    """Where ``actual`` differs in shape from ``recorded`` (empty: the same shape).

    Objects need the same keys, scalars the same JSON kind, arrays the same length and
    element shapes. A recorded array of numbers (a vector) is checked for its length only.
    Arrays at a key path in ``free_length`` (whose length follows the generated content,
    e.g. ``candidates[].content.parts``) may differ in length: then only their first and
    last elements are compared. Values at a key path in ``opaque`` (generated structure,
    e.g. a function call's ``args``) are compared by JSON kind only.
    """
    found: list[Difference] = []
    _compare(actual, recorded, path, "", _Rules(frozenset(free_length), frozenset(opaque)), found)
    return found[:MAX_DIFFERENCES]


def _compare(
    actual: Any,
    recorded: Any,
    path: str,
    key_path: str,
    rules: _Rules,
    found: list[Difference],
) -> None:
    if len(found) >= MAX_DIFFERENCES:
        return
    if key_path in rules.opaque:
        if kind(actual) != kind(recorded):
            found.append(_kind(path, key_path, recorded, actual))
        return
    if isinstance(recorded, dict):
        if not isinstance(actual, dict):
            found.append(_kind(path, key_path, recorded, actual))
            return
        for key in recorded:
            if key not in actual:
                found.append(
                    Difference(path, child(key_path, key), "missing", f"missing {key!r}", key)
                )
        for key in actual:
            if key not in recorded:
                found.append(
                    Difference(path, child(key_path, key), "unexpected", f"unexpected {key!r}", key)
                )
        for key, value in recorded.items():
            if key in actual:
                _compare(actual[key], value, f"{path}.{key}", child(key_path, key), rules, found)
        return
    if isinstance(recorded, list):
        _compare_list(actual, recorded, path, key_path, rules, found)
        return
    if kind(actual) != kind(recorded):
        found.append(_kind(path, key_path, recorded, actual))


def _compare_list(
    actual: Any,
    recorded: list[Any],
    path: str,
    key_path: str,
    rules: _Rules,
    found: list[Difference],
) -> None:
    if not isinstance(actual, list):
        found.append(_kind(path, key_path, recorded, actual))
        return
    if recorded and all(kind(v) == "number" for v in recorded):  # a vector: its length only
        if len(actual) != len(recorded):
            found.append(_length(path, key_path, recorded, actual))
        elif not all(kind(v) == "number" for v in actual):
            found.append(Difference(path, key_path, "kind", "expected an array of numbers"))
        return
    items = f"{key_path}[]"
    if len(actual) == len(recorded):
        pairs = [
            (f"{path}[{i}]", a, r) for i, (a, r) in enumerate(zip(actual, recorded, strict=True))
        ]
    elif key_path in rules.free_length and actual and recorded:
        pairs = [(f"{path}[0]", actual[0], recorded[0]), (f"{path}[-1]", actual[-1], recorded[-1])]
    else:
        found.append(_length(path, key_path, recorded, actual))
        return
    for where, a, r in pairs:
        _compare(a, r, where, items, rules, found)


def _kind(path: str, key_path: str, recorded: Any, actual: Any) -> Difference:
    return Difference(path, key_path, "kind", f"expected {kind(recorded)}, got {kind(actual)}")


def _length(path: str, key_path: str, recorded: list[Any], actual: list[Any]) -> Difference:
    return Difference(
        path, key_path, "length", f"expected {len(recorded)} elements, got {len(actual)}"
    )


def optional_keys(documents: Iterable[Any]) -> frozenset[str]:
    """Key paths present in some objects at their place and absent from others, over all
    ``documents`` (e.g. every recorded answer of one route): what the service sends only
    sometimes (by model, date or content), so an answer may have or lack it."""
    objects: Counter[str] = Counter()
    keys: Counter[tuple[str, str]] = Counter()  # (where, key): keys may hold dots
    for document in documents:
        for key_path, obj in _objects(document, ""):
            objects[key_path] += 1
            keys.update((key_path, key) for key in obj)
    return frozenset(child(where, key) for (where, key), n in keys.items() if n < objects[where])


def _objects(value: Any, key_path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object inside ``value`` with its key path."""
    if isinstance(value, dict):
        yield key_path, value
        for key, item in value.items():
            if isinstance(item, (dict, list)):
                yield from _objects(item, child(key_path, key))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                yield from _objects(item, f"{key_path}[]")
