"""The request log: what the emulator received and what it answered.

The log is bounded: it keeps the newest ``max_records`` records and at most
``max_body_bytes`` of parsed request bodies (counted by their size on the wire), dropping
the oldest first, so a long-running emulator (``omniembed emulator``, a soak test) does not
grow without end. Secrets never enter it: API keys and bearer tokens in headers and the
``key`` query parameter are stored as `Redacted` values (``"<redacted:1a2b3c4d>"``), which
still compare equal to the string that was sent, so a test can check which key a client
used without the log holding the key.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import secrets
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Defaults of `RequestLog` (and ``Emulator(log_max_records=..., log_max_bytes=...)``).
DEFAULT_MAX_RECORDS = 10_000
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024

#: Header names whose values are credentials (lower case). DashScope sends its key as
#: ``Authorization: Bearer``; any ``X-DashScope-*`` header naming a key, token or secret is
#: treated as one too (``X-DashScope-OssResourceResolve`` and the like are kept).
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-goog-api-key", "x-api-key", "cookie"}
)
#: Query parameters whose values are credentials (Google's ``?key=``, OAuth's
#: ``access_token``).
SECRET_QUERY = frozenset({"key", "access_token", "api_key"})
_SECRET_WORDS = ("key", "token", "secret", "signature")

#: Per-process salt of the digests: a log dump cannot be checked against guessed keys
#: offline.
_SALT = secrets.token_bytes(32)


def _digest(value: str) -> bytes:
    return hmac.new(_SALT, value.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


class Redacted(str):
    """A secret as the log stores it: ``"<redacted:1a2b3c4d>"`` (``"Bearer <redacted:…>"``
    for a bearer token). The short hex is from a salted digest, enough to tell keys apart;
    the value also compares equal to the original string (by digest), so
    ``record.headers["x-goog-api-key"] == "my-key"`` still holds in a test."""

    _secret_digest: bytes

    def __new__(cls, secret: str) -> Redacted:
        digest = _digest(secret)
        scheme, sep, _ = secret.partition(" ")
        prefix = f"{scheme} " if sep and scheme.lower() in ("bearer", "basic") else ""
        self = super().__new__(cls, f"{prefix}<redacted:{digest.hex()[:8]}>")
        self._secret_digest = digest
        return self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Redacted):
            return hmac.compare_digest(self._secret_digest, other._secret_digest)
        if isinstance(other, str):
            return str.__eq__(self, other) or hmac.compare_digest(
                self._secret_digest, _digest(other)
            )
        return NotImplemented

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__

    def __copy__(self) -> Redacted:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Redacted:
        return self


def is_secret_header(name: str) -> bool:
    name = name.lower()
    if name in SECRET_HEADERS:
        return True
    return name.startswith("x-dashscope-") and any(w in name for w in _SECRET_WORDS)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names; credential values replaced by `Redacted`."""
    return {
        name.lower(): Redacted(value) if is_secret_header(name) else value
        for name, value in headers.items()
    }


def redact_query(query: Mapping[str, str]) -> dict[str, str]:
    return {
        name: Redacted(value) if name.lower() in SECRET_QUERY else value
        for name, value in query.items()
    }


@dataclass
class RequestRecord:
    """One received request. ``status`` is None while it is being handled, then the HTTP
    status the emulator answered, or ``"reset"`` when it dropped the connection.
    ``headers`` and ``query`` hold `Redacted` values for credentials."""

    method: str
    path: str  # percent-decoded, without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    json: Any  # the parsed body, or None (no body, not JSON, not read, or not kept)
    route: str | None  # e.g. "batchEmbedContents"; None when no route matched
    status: int | str | None = None
    body_size: int = 0
    received_at: float = field(default=0.0, repr=False)  # time.monotonic()
    #: True when the parsed body was larger than the log's byte cap and was not kept.
    json_dropped: bool = field(default=False, repr=False)


def _cost(record: RequestRecord) -> int:
    """What a record costs the byte cap: its body size when the parsed body is kept."""
    return record.body_size if record.json is not None else 0


class RequestLog:
    """Thread-safe: the server thread appends, tests read copies. Bounded by
    ``max_records`` and ``max_body_bytes`` (None: no bound); the oldest records go first."""

    def __init__(
        self,
        max_records: int | None = DEFAULT_MAX_RECORDS,
        max_body_bytes: int | None = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        check_log_limits(max_records, max_body_bytes)
        self.max_records = max_records
        self.max_body_bytes = max_body_bytes
        self._records: deque[RequestRecord] = deque()
        self._bytes = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            limit = self.max_body_bytes
            if limit is not None and _cost(record) > limit:
                record.json, record.json_dropped = None, True
            if self.max_records == 0:
                self._dropped += 1
                return
            self._records.append(record)
            self._bytes += _cost(record)
            self._evict()

    def _evict(self) -> None:
        records = self._records
        while records and (
            (self.max_records is not None and len(records) > self.max_records)
            or (self.max_body_bytes is not None and self._bytes > self.max_body_bytes)
        ):
            self._bytes -= _cost(records.popleft())
            self._dropped += 1

    def snapshot(self) -> list[RequestRecord]:
        """Copies, so a test can keep them while the server goes on."""
        with self._lock:
            return [copy.copy(r) for r in self._records]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self._bytes = 0

    @property
    def body_bytes(self) -> int:
        """Bytes of parsed bodies held now (as counted against ``max_body_bytes``)."""
        with self._lock:
            return self._bytes

    @property
    def dropped(self) -> int:
        """Records dropped by the caps since the start."""
        with self._lock:
            return self._dropped


def check_log_limits(max_records: int | None, max_body_bytes: int | None) -> None:
    for name, value in (("log_max_records", max_records), ("log_max_bytes", max_body_bytes)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise ValueError(f"{name} must be a whole number or None, got {value!r}")
        if value is not None and value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
