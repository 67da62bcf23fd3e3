"""Record HTTP exchanges as VCR-style YAML cassettes, with every secret removed.

`RecordingProxy` is a small forwarder on 127.0.0.1: a client's ``base_url`` points at it,
it passes each request on to ``upstream`` (the real service or an emulator) and keeps the
exchange. A proxy rather than hooks into each SDK because omniembed's three clients
(google-genai over httpx, the DashScope HTTP client, aiohttp) all take a ``base_url``, and
what a proxy sees is exactly what went over the wire.

The cassettes have the shape of the shared wire samples, so the replay checker
(``python -m omniembed.emulator.conformance DIR``) reads them: ``interactions[].request``
``{method, uri, headers, parsed_body | body}`` and ``.response`` ``{status {code, message},
headers, parsed_body | body.string}``. Before anything is written:

- API keys (``key=`` in the query, ``x-goog-api-key``, ``Authorization``, ``sk-…`` keys),
  OAuth tokens (``ya29.…``), project ids and numbers (``projects/…`` in URLs and bodies),
  signed upload URLs (``x-goog-upload-url``, ``Location``) and signing fields (``policy``,
  ``signature``, access-key ids, security tokens) are replaced by placeholders;
- every string given in ``secrets`` is replaced wherever it appears;
- long base64 strings become ``<base64: N bytes, sha256 …>`` (cassettes stay small and carry
  no user media).

Only a subset of headers is kept: the ones that change how a body is read or an upload
proceeds; everything else may carry an identity (cookies, server-side ids).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import http.client
import json
import re
import ssl
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ...errors import MissingDependencyError

REDACTED = "<redacted>"

#: Request headers worth keeping: they decide how the body is read or an upload proceeds.
_KEEP_REQUEST_HEADERS = frozenset(
    {
        "content-type",
        "x-goog-upload-protocol",
        "x-goog-upload-command",
        "x-goog-upload-offset",
        "x-goog-upload-header-content-type",
        "x-goog-upload-header-content-length",
        "x-dashscope-oss-resource-resolve",
        "x-dashscope-sse",
        "accept",
    }
)
_KEEP_RESPONSE_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "retry-after",
        "x-goog-upload-status",
        "x-goog-upload-url",
        "x-goog-upload-chunk-granularity",
        "x-goog-upload-control-url",
        "location",
    }
)
#: Headers whose value is a URL that a client follows (uploads): the proxy rewrites them to
#: itself so the follow-up goes through it too, and the cassette keeps only their path.
_URL_HEADERS = frozenset({"x-goog-upload-url", "x-goog-upload-control-url", "location"})
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
    }
)
_CREDENTIAL_HEADERS = frozenset(
    {"authorization", "x-goog-api-key", "x-api-key", "cookie", "set-cookie", "x-goog-user-project"}
)
#: Dict keys whose values are credentials or signatures wherever they appear in a body.
_SECRET_KEY = re.compile(
    r"(signature|policy|access_?key|accesskeyid|security_?token|secret|credential|"
    r"api_?key|authorization|x-oss-)",
    re.IGNORECASE,
)
_SECRET_TEXT = [
    (re.compile(r"AIza[0-9A-Za-z_\-]{20,}"), REDACTED),
    (re.compile(r"\bsk-[0-9A-Za-z_\-]{6,}"), "sk-" + REDACTED),
    (re.compile(r"\bya29\.[0-9A-Za-z_\-.]+"), REDACTED),
    (re.compile(r"(?i)bearer\s+[^\s\"',]+"), "Bearer " + REDACTED),
    (re.compile(r"projects/[^/\s\"'?#]+"), "projects/<project>"),
]
_QUERY_SECRETS = frozenset(
    {"key", "api_key", "access_token", "upload_id", "signature", "x-goog-signature"}
)
_BASE64 = re.compile(r"^[A-Za-z0-9+/_\-]+={0,2}$")
#: Shorter strings stay as they are: ids and short texts may look like base64.
MIN_BASE64_CHARS = 200


def base64_placeholder(text: str) -> str | None:
    """``<base64: N bytes, sha256 …>`` for a long base64 string, else None."""
    if len(text) < MIN_BASE64_CHARS or not _BASE64.match(text):
        return None
    try:
        data = base64.b64decode(
            text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None
        )
    except (binascii.Error, ValueError):
        return None
    return f"<base64: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:16]}>"


@dataclass
class Redactor:
    """Removes secrets from URLs, headers and bodies (see the module docstring)."""

    secrets: Iterable[str] = ()
    #: Origins to rewrite (an emulator's ``http://127.0.0.1:port`` to the host it stands for).
    hosts: Mapping[str, str] = field(default_factory=dict)
    _literal: list[str] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._literal = sorted(
            {s for s in self.secrets if s and len(s) >= 4}, key=len, reverse=True
        )

    def text(self, value: str) -> str:
        for origin, replacement in self.hosts.items():
            value = value.replace(origin, replacement)
        for secret in self._literal:
            value = value.replace(secret, REDACTED)
        for pattern, replacement in _SECRET_TEXT:
            value = pattern.sub(replacement, value)
        return value

    def uri(self, uri: str) -> str:
        parts = urlsplit(uri)
        query = urlencode(
            [
                (k, REDACTED if k.lower() in _QUERY_SECRETS else v)
                for k, v in parse_qsl(parts.query, keep_blank_values=True)
            ],
            safe="<>",
        )
        return self.text(urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")))

    def value(self, value: Any, key: str = "") -> Any:
        if isinstance(value, Mapping):
            return {str(k): self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, key) for v in value]
        if isinstance(value, str):
            if key and _SECRET_KEY.search(key):
                return REDACTED
            placeholder = base64_placeholder(value)
            if placeholder is not None:
                return placeholder
            if value.startswith(("http://", "https://", "gs://", "oss://")):
                return self.uri(value)
            return self.text(value)
        return value

    def headers(self, headers: Mapping[str, str], keep: frozenset[str]) -> dict[str, list[str]]:
        kept: dict[str, list[str]] = {}
        for name, value in headers.items():
            lower = name.lower()
            if lower not in keep:
                continue
            if lower in _CREDENTIAL_HEADERS:
                kept[lower] = [REDACTED]
                continue
            if lower in _URL_HEADERS:
                # A signed upload URL is a credential of its own: its session id goes, the
                # rest stays so the replay checker can follow the upload.
                value = self.uri(value)
            kept[lower] = [self.text(value)]
        return kept

    def body(self, raw: bytes, content_type: str) -> dict[str, Any]:
        """``{"parsed_body": ...}`` for JSON, ``{"body": {"string": ...}}`` otherwise."""
        if not raw:
            return {"body": ""}
        if "json" in content_type or raw[:1] in (b"{", b"["):
            try:
                return {"parsed_body": self.value(json.loads(raw))}
            except ValueError:
                pass
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            digest = hashlib.sha256(raw).hexdigest()[:16]
            return {"body": {"string": f"<binary: {len(raw)} bytes, sha256 {digest}>"}}
        if "text/event-stream" in content_type:
            return {"body": {"string": self._sse(text)}}
        return {"body": {"string": self.text(text)}}

    def _sse(self, text: str) -> str:
        lines = []
        for line in text.split("\n"):
            if line.startswith("data:"):
                payload = line[5:].strip()
                try:
                    line = "data: " + json.dumps(
                        self.value(json.loads(payload)), separators=(",", ":")
                    )
                except ValueError:
                    line = self.text(line)
            lines.append(line)
        return "\n".join(lines)


@dataclass(frozen=True)
class _Raw:
    method: str
    uri: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    reason: str
    response_headers: dict[str, str]
    response_body: bytes


class RecordingProxy:
    """Forwards to ``upstream`` and writes what passed to ``cassette`` on `close`.

    ``with RecordingProxy("https://generativelanguage.googleapis.com", path) as proxy:``
    then point a client at ``proxy.base_url``. Bodies are forwarded whole (an SSE stream
    reaches the client at once, which every client reads the same way).
    """

    def __init__(
        self,
        upstream: str,
        cassette: Path | None = None,
        *,
        secrets: Iterable[str] = (),
        timeout: float = 300.0,
        record_as: str | None = None,
    ) -> None:
        parts = urlsplit(upstream.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"upstream must be an http(s) URL, not {upstream!r}")
        self.upstream = f"{parts.scheme}://{parts.netloc}"
        # An emulator answers on 127.0.0.1; its cassettes name the real host it stands in
        # for, so the replay checker knows which API an exchange belongs to.
        self.record_as = (record_as or self.upstream).rstrip("/")
        self._prefix = parts.path
        self.cassette = cassette
        self.redactor = Redactor(secrets, {self.upstream: self.record_as})
        self.timeout = timeout
        self._exchanges: list[_Raw] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self._prefix}"

    @property
    def origin(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self._exchanges)

    def start(self) -> RecordingProxy:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self.cassette is not None and self._exchanges:
            write_cassette(self.cassette, self.interactions())

    def __enter__(self) -> RecordingProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def interactions(self) -> list[dict[str, Any]]:
        """The exchanges so far, redacted, in the cassette layout."""
        with self._lock:
            raw = list(self._exchanges)
        return [self._interaction(item) for item in raw]

    def _interaction(self, item: _Raw) -> dict[str, Any]:
        r = self.redactor
        request: dict[str, Any] = {
            "method": item.method,
            "uri": r.uri(self.record_as + item.uri.removeprefix(self.upstream)),
            "headers": r.headers(item.request_headers, _KEEP_REQUEST_HEADERS),
            **r.body(item.request_body, item.request_headers.get("content-type", "")),
        }
        response_type = _lower(item.response_headers).get("content-type", "")
        response: dict[str, Any] = {
            "status": {"code": item.status, "message": item.reason},
            "headers": r.headers(item.response_headers, _KEEP_RESPONSE_HEADERS),
            **r.body(item.response_body, response_type),
        }
        return {"request": request, "response": response}

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Raw:
        parts = urlsplit(self.upstream)
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.netloc, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(parts.netloc, timeout=self.timeout)
        sent = {k: v for k, v in headers.items() if k.lower() not in _HOP_BY_HOP}
        # Identity encoding: the cassette keeps readable bodies and the client needs no gzip.
        sent["Accept-Encoding"] = "identity"
        try:
            connection.request(method, path, body=body or None, headers=sent)
            answer = connection.getresponse()
            data = answer.read()
            response_headers = {k: v for k, v in answer.getheaders()}
            status, reason = answer.status, answer.reason
        finally:
            connection.close()
        return _Raw(
            method, self.upstream + path, headers, body, status, reason, response_headers, data
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                try:
                    item = proxy._forward(self.command, self.path, headers, body)
                except OSError as exc:
                    self.send_error(502, f"recording proxy: upstream failed: {exc}")
                    return
                with proxy._lock:
                    proxy._exchanges.append(item)
                self.send_response(item.status, item.reason)
                for name, value in item.response_headers.items():
                    lower = name.lower()
                    if lower in _HOP_BY_HOP or lower == "content-encoding":
                        continue
                    if lower in _URL_HEADERS:
                        # Follow-ups (resumable upload chunks) must come back through here.
                        value = value.replace(proxy.upstream, proxy.origin)
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(item.response_body)))
                self.end_headers()
                self.wfile.write(item.response_body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test run's output is not the place for access logs

        return Handler


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def write_cassette(path: Path, interactions: list[dict[str, Any]]) -> None:
    """Writes (or extends) a cassette; extending keeps earlier exchanges of the same file."""
    try:
        import yaml
    except ImportError as exc:
        raise MissingDependencyError(
            "writing cassettes needs PyYAML; install it with: pip install 'omniembed[emulator]'"
        ) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    existing: list[dict[str, Any]] = []
    if path.exists():
        loaded = yaml.safe_load(path.read_text("utf-8"))
        if isinstance(loaded, dict) and isinstance(loaded.get("interactions"), list):
            existing = loaded["interactions"]
    document = {"interactions": existing + interactions, "version": 1}
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), "utf-8")
