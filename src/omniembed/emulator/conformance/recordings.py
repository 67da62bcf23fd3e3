"""Recorded HTTP exchanges from VCR-style YAML cassettes, read into one shape.

A cassette is ``{"interactions": [{"request": {...}, "response": {...}}, ...]}``. Two
dialects are read:

- vcrpy as pydantic-ai records it: the request's JSON body already parsed
  (``parsed_body``), the response's too, or ``body.string`` (an SSE stream, plain text);
- vcrpy's plain form, as llm-gemini records it: the request ``body`` as a JSON string and
  the response ``body.string`` as ``!!binary`` bytes, gzip-compressed when the response
  says ``Content-Encoding: gzip``.

Bodies are decoded here once (gzip, JSON, SSE frames), so comparison code sees values.
"""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ...errors import MissingDependencyError

SSE_CONTENT_TYPE = "text/event-stream"
CASSETTE_SUFFIXES = (".yaml", ".yml")
_GZIP_MAGIC = b"\x1f\x8b"


class RecordingError(ValueError):
    """A cassette that cannot be read (not YAML, or not the VCR layout)."""


@dataclass(frozen=True)
class RecordedResponse:
    """The recorded answer, decoded."""

    status: int
    headers: Mapping[str, str]  # lower-case names, first value of each
    #: The parsed JSON body: an object, or an array (a stream sent without ``alt=sse``);
    #: None when the body is not JSON.
    json: Any
    #: The JSON events of an SSE body (``data: {...}`` frames), else None.
    events: tuple[Any, ...] | None
    #: The body when it is neither JSON nor SSE (a media download, an upload's text), else b"".
    raw: bytes = b""

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its response."""

    cassette: str  # the cassette's path relative to the folder read, with "/" separators
    index: int  # position in the cassette
    method: str  # upper case (one recording says "post")
    uri: str
    headers: Mapping[str, str]  # request headers, lower-case names, first value of each
    body: bytes  # the request body as sent (JSON re-encoded when it was recorded parsed)
    json: Any  # the request's JSON body, None when there is none or it is not JSON
    response: RecordedResponse

    @property
    def name(self) -> str:
        return f"{self.cassette}#{self.index}"

    @property
    def host(self) -> str:
        return urlsplit(self.uri).netloc.lower()

    @property
    def target(self) -> str:
        """Path and query, without scheme and host."""
        parts = urlsplit(self.uri)
        return parts.path + (f"?{parts.query}" if parts.query else "")


@dataclass(frozen=True)
class Cassette:
    path: str  # relative to the folder read
    exchanges: tuple[Exchange, ...]


def find_cassettes(root: Path, only: str | None = None) -> list[Path]:
    """The cassette files under ``root`` (recursively, sorted); ``only`` is a glob matched
    against each file's path relative to ``root`` (``"gemini/*"``, ``"*embed*"``)."""
    found = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in CASSETTE_SUFFIXES and p.is_file()
    )
    if only is None:
        return found
    return [p for p in found if fnmatch.fnmatch(p.relative_to(root).as_posix(), only)]


def load_cassettes(root: Path, only: str | None = None) -> list[Cassette]:
    """Every cassette under ``root`` (see `find_cassettes`), decoded."""
    return [load_cassette(path, root) for path in find_cassettes(root, only)]


def load_cassette(path: Path, root: Path | None = None) -> Cassette:
    """One cassette's exchanges; raises `RecordingError` when it cannot be read."""
    relative = path.relative_to(root).as_posix() if root is not None else path.name
    data = _load_yaml(path)
    items = data.get("interactions") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RecordingError(f"{path}: no 'interactions' list (not a VCR cassette)")
    try:
        exchanges = tuple(_exchange(relative, i, item) for i, item in enumerate(items))
    except (KeyError, TypeError, ValueError) as exc:
        raise RecordingError(f"{path}: unexpected cassette layout ({exc!r})") from exc
    return Cassette(relative, exchanges)


def parse_sse(text: str) -> list[Any]:
    """The JSON events of an SSE body: ``data: {...}`` frames separated by blank lines."""
    events = []
    for frame in text.replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].lstrip() for line in frame.split("\n") if line.startswith("data:")]
        if data:
            events.append(json.loads("\n".join(data)))
    return events


def _load_yaml(path: Path) -> Any:
    try:
        import yaml
    except ImportError as exc:
        raise MissingDependencyError(
            "reading recorded cassettes needs PyYAML; install it with: "
            "pip install 'omniembed[emulator]'"
        ) from exc
    # libyaml's loader reads the ~20 MB of the shared recordings about 8x faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(path.read_bytes(), Loader=loader)  # a safe loader: data only
    except (OSError, yaml.YAMLError) as exc:
        raise RecordingError(f"{path}: {exc}") from exc


def _first_values(headers: Any) -> dict[str, str]:
    """VCR stores each header as a list of values; the first is what matters here."""
    found: dict[str, str] = {}
    for name, value in (headers or {}).items():
        first = value[0] if isinstance(value, list) and value else value
        if first is not None:
            found[str(name).lower()] = str(first)
    return found


def _exchange(cassette: str, index: int, item: Mapping[str, Any]) -> Exchange:
    request, response = item["request"], item["response"]
    headers = _first_values(request.get("headers"))
    if "parsed_body" in request:
        parsed = request["parsed_body"]
        body = b"" if parsed is None else json.dumps(parsed).encode()
    else:
        body = _as_bytes(request.get("body"))
        parsed = _json_or_none(body, headers.get("content-type"))
    return Exchange(
        cassette=cassette,
        index=index,
        method=str(request["method"]).upper(),
        uri=str(request["uri"]),
        headers=headers,
        body=body,
        json=parsed,
        response=_response(response),
    )


def _response(response: Mapping[str, Any]) -> RecordedResponse:
    status = response["status"]
    code = int(status["code"] if isinstance(status, Mapping) else status)
    headers = _first_values(response.get("headers"))
    content_type = headers.get("content-type", "")
    if "parsed_body" in response:
        return RecordedResponse(code, headers, response["parsed_body"], None)
    raw = _as_bytes(response.get("body"))
    if raw.startswith(_GZIP_MAGIC) or "gzip" in headers.get("content-encoding", ""):
        with contextlib.suppress(OSError, EOFError, zlib.error):  # stored decoded already
            raw = gzip.decompress(raw)
    if content_type.startswith(SSE_CONTENT_TYPE):
        return RecordedResponse(code, headers, None, tuple(parse_sse(raw.decode("utf-8"))))
    parsed = _json_or_none(raw, content_type)
    return RecordedResponse(code, headers, parsed, None, b"" if parsed is not None else raw)


def _as_bytes(body: Any) -> bytes:
    if isinstance(body, Mapping):  # vcrpy's {"string": ...}
        body = body.get("string")
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode("utf-8")


def _json_or_none(body: bytes, content_type: str | None) -> Any:
    if not body.strip() or (content_type and "json" not in content_type):
        return None
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
