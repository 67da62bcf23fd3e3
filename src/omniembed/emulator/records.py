"""The request log: what the emulator received and what it answered."""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RequestRecord:
    """One received request. ``status`` is None while it is being handled, then the HTTP
    status the emulator answered, or ``"reset"`` when it dropped the connection."""

    method: str
    path: str  # percent-decoded, without the query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    json: Any  # the parsed body, or None (no body, or not JSON)
    route: str | None  # e.g. "batchEmbedContents"; None when no route matched
    status: int | str | None = None
    body_size: int = 0
    received_at: float = field(default=0.0, repr=False)  # time.monotonic()


class RequestLog:
    """Thread-safe: the server thread appends, tests read copies."""

    def __init__(self) -> None:
        self._records: list[RequestRecord] = []
        self._lock = threading.Lock()

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """Copies, so a test can keep them while the server goes on."""
        with self._lock:
            return [copy.copy(r) for r in self._records]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
