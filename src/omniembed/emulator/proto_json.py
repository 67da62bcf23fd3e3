"""Reading request JSON the way Google's proto-JSON parser does.

Field names may come in lowerCamelCase (what google-genai sends) or snake_case (also
accepted by Google); unknown names and wrongly typed values are rejected with Google's
"Invalid JSON payload received" wording. Rule violations (a limit, an unsupported MIME
type) raise `Violation`, which each route formats in its API's style.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .google_errors import GoogleError, invalid_argument

_CAMEL_HUMP = re.compile(r"(?<!^)(?=[A-Z])")


class Violation(Exception):
    """A well-formed request breaks a service rule at ``field`` (e.g. ``requests[3].title``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def snake(name: str) -> str:
    """``outputDimensionality`` -> ``output_dimensionality``."""
    return _CAMEL_HUMP.sub("_", name).lower()


def join(path: str, name: str) -> str:
    """A dotted field path in Google's snake_case notation."""
    return f"{path}.{snake(name)}" if path else snake(name)


def read_fields(value: object, path: str, names: Iterable[str]) -> dict[str, Any]:
    """The object's fields keyed by their camelCase ``names``; anything else is an error.

    ``path`` names the object in messages ('' for the request body itself).
    """
    if not isinstance(value, dict):
        raise _payload_error(f"Invalid value at '{path or 'body'}', expected a JSON object.")
    by_alias: dict[str, str] = {}
    for name in names:
        by_alias[name] = name
        by_alias[snake(name)] = name
    fields: dict[str, Any] = {}
    for key, item in value.items():
        known = by_alias.get(key)
        if known is None:
            where = f" at '{path}'" if path else ""
            raise _payload_error(
                f'Invalid JSON payload received. Unknown name "{key}"{where}: Cannot find field.'
            )
        if item is not None:  # proto-JSON treats null as "not set"
            fields[known] = item
    return fields


def as_str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _bad_value(path, "TYPE_STRING", value)
    return value


def as_int(value: object, path: str) -> int:
    """An int32: a JSON number without fraction, or a decimal string (proto-JSON allows both)."""
    if isinstance(value, bool):
        raise _bad_value(path, "TYPE_INT32", value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise _bad_value(path, "TYPE_INT32", value)


def as_bool(value: object, path: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _bad_value(path, "TYPE_BOOL", value)


def as_list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _payload_error(f"Invalid value at '{path}', expected a JSON array.")
    return value


def as_enum(value: object, path: str, enum_name: str, allowed: Iterable[str]) -> str:
    if not isinstance(value, str) or value not in set(allowed):
        raise _payload_error(
            f"Invalid value at '{path}' (type.googleapis.com/{enum_name}), {_show(value)}"
        )
    return value


def _bad_value(path: str, proto_type: str, value: object) -> GoogleError:
    return _payload_error(f"Invalid value at '{path}' ({proto_type}), {_show(value)}")


def _show(value: object) -> str:
    text = f'"{value}"' if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _payload_error(message: str) -> GoogleError:
    return invalid_argument(message)
