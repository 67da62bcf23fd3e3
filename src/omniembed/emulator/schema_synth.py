"""A JSON value that conforms to a schema, filled from the prompt: function-call ``args`` and
structured-output answers.

Both dialects are read: the OpenAPI subset (``parameters``/``responseSchema``, upper-case
``type``) and JSON Schema (``parametersJsonSchema``/``responseJsonSchema``, with ``$ref`` into
``$defs``, ``anyOf``/``oneOf``, type lists). Rules, in order per value: ``const``; ``enum``
(the first value the prompt mentions, else the first); numbers from the prompt's numbers in
order (else ``minimum`` or 0); strings from quoted text, then capitalised phrases ("San
Francisco, CA"), then the prompt's content words, else the property name; booleans true
when the property's name words appear in the prompt; arrays get ``max(1, minItems)`` items;
objects get every declared property (so required ones are always there).
"""

from __future__ import annotations

from typing import Any

from .prompt_words import capitalised_phrases, content_words, numbers, quoted, words

_MAX_DEPTH = 8


class PromptValues:
    """The prompt's values, handed out in order so each property gets a different one."""

    def __init__(self, prompt: str) -> None:
        self.prompt_words = set(words(prompt))
        self.lower = prompt.lower()
        self._numbers = numbers(prompt)
        self._strings = quoted(prompt) + [p for p in capitalised_phrases(prompt)]
        self._words = [w for w in content_words(prompt) if not w.isdigit()]

    def number(self) -> float | None:
        return self._numbers.pop(0) if self._numbers else None

    def string(self) -> str | None:
        if self._strings:
            return self._strings.pop(0)
        if self._words:
            return self._words.pop(0)
        return None


def synthesize(schema: dict[str, Any] | None, prompt: str) -> Any:
    """A value for ``schema`` (either dialect) built from ``prompt``."""
    values = PromptValues(prompt)
    if not schema:
        return {}
    return _value(schema, values, "value", schema, 0)


def _value(schema: Any, values: PromptValues, name: str, root: dict[str, Any], depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf", "allOf"):
        variants = schema.get(key)
        if isinstance(variants, list) and variants:
            non_null = [v for v in variants if _type(_resolve(v, root)) != "null"]
            return _value((non_null or variants)[0], values, name, root, depth + 1)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        mentioned = [v for v in enum if isinstance(v, str) and v.lower() in values.lower]
        return mentioned[0] if mentioned else enum[0]
    kind = _type(schema)
    if kind == "object" or (kind is None and "properties" in schema):
        return _object(schema, values, root, depth)
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1) or 1))
        item = schema.get("items", {"type": "string"})
        return [_value(item, values, name, root, depth + 1) for _ in range(count)]
    if kind in ("integer", "number"):
        found = values.number()
        number = found if found is not None else float(schema.get("minimum", 0) or 0)
        return round(number) if kind == "integer" else number
    if kind == "boolean":
        return any(w in values.prompt_words for w in words(name.replace("_", " ")))
    if kind == "null":
        return None
    return _string(schema, values, name)


def _object(schema: dict[str, Any], values: PromptValues, root: dict[str, Any], depth: int) -> Any:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    order = schema.get("propertyOrdering")
    names = [n for n in order if n in properties] if isinstance(order, list) else []
    names += [n for n in properties if n not in names]
    return {n: _value(properties[n], values, n, root, depth + 1) for n in names}


def _string(schema: dict[str, Any], values: PromptValues, name: str) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return "2025-01-01T00:00:00Z"
    if fmt == "date":
        return "2025-01-01"
    text = values.string() or name
    max_length = schema.get("maxLength")
    if isinstance(max_length, int) and max_length >= 0:
        text = text[:max_length]
    min_length = schema.get("minLength")
    if isinstance(min_length, int) and len(text) < min_length:
        text = text.ljust(min_length, "x")
    return text


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/X``, ``#/definitions/X``)."""
    for _ in range(_MAX_DEPTH):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = root
        for key in ref[2:].split("/"):
            target = target.get(key) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return {}
        schema = target
    return schema


def _type(schema: dict[str, Any]) -> str | None:
    """The schema's type in lower case; the first non-null one of a type list."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if not isinstance(kind, str) or kind.upper() == "TYPE_UNSPECIFIED":
        return None
    return kind.lower()
