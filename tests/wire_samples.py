"""Recorded real Google traffic (``../shared/wire-samples``), read in place.

The recordings are third-party data and are never copied into this repository; tests
that need them skip with a reason when the folder is absent (e.g. a user's plain clone).

Two directions: `replay` sends a recorded request to a server (the emulator) and
`shape_differences` compares response SHAPES (key names, casing, nesting, list lengths),
never float values; `ReplayServer` answers a client (ours) with the recorded responses.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from omniembed.emulator.conformance.recordings import Cassette, load_cassette
from omniembed.emulator.conformance.shapes import compare

#: shared/ sits beside the repository clone (CI and the dev container alike);
#: OMNIEMBED_SHARED_DIR points elsewhere (e.g. from a git worktree in another folder).
SHARED_DIR = Path(
    os.environ.get("OMNIEMBED_SHARED_DIR") or Path(__file__).resolve().parents[1].parent / "shared"
)
WIRE_SAMPLES_DIR = SHARED_DIR / "wire-samples"

#: Keys the real service added after some recordings were made: gemini-embedding-2's
#: ``usageMetadata`` is present in the newer task-prefix recordings and absent from older
#: ones for the same model and request shape, so an emulator may send it where an old
#: recording lacks it. Keys missing from the emulator's answer are never tolerated.
NEWER_KEYS = frozenset({"usageMetadata"})


@functools.lru_cache(maxsize=64)
def _load(path: Path) -> Cassette:
    return load_cassette(path, WIRE_SAMPLES_DIR)


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair."""

    name: str  # file stem, plus "#i" when a file holds several interactions
    method: str
    path: str  # path and query of the recorded URI, without scheme and host
    body: Any  # the parsed JSON request body, or None
    status: int
    response: Any  # the parsed JSON response body, or None (e.g. SSE)
    content_type: str | None
    events: tuple[Any, ...] | None = None  # the JSON events of an SSE response


def samples_available(subdir: str = "gemini") -> bool:
    return (WIRE_SAMPLES_DIR / subdir).is_dir()


def skip_reason(subdir: str = "gemini") -> str:
    return (
        f"recorded wire samples not found at {WIRE_SAMPLES_DIR / subdir} "
        "(shared/ lives beside the repository clone in CI; a plain clone has none)"
    )


def load_interactions(pattern: str = "gemini/embed__*.yaml") -> list[Interaction]:
    """Every interaction of the recordings matching ``pattern`` under wire-samples/."""
    found: list[Interaction] = []
    for path in sorted(WIRE_SAMPLES_DIR.glob(pattern)):
        exchanges = _load(path).exchanges
        for exchange in exchanges:
            found.append(
                Interaction(
                    name=path.stem if len(exchanges) == 1 else f"{path.stem}#{exchange.index}",
                    method=exchange.method,
                    path=exchange.target,
                    body=exchange.json,
                    status=exchange.response.status,
                    response=exchange.response.json,
                    content_type=exchange.response.content_type,
                    events=exchange.response.events,
                )
            )
    return found


def require_samples(subdir: str = "gemini") -> None:
    if not samples_available(subdir):
        pytest.skip(skip_reason(subdir))


def interaction_params(pattern: str = "gemini/embed__*.yaml") -> list[Any]:
    """pytest params (ids = recording names); one skipped param when samples are absent."""
    subdir = pattern.split("/", 1)[0]
    if not samples_available(subdir):
        return [pytest.param(None, marks=pytest.mark.skip(reason=skip_reason(subdir)))]
    return [pytest.param(i, id=i.name) for i in load_interactions(pattern)]


def replay(client: httpx.Client, interaction: Interaction) -> httpx.Response:
    """Send the recorded request (method, path, JSON body) through ``client``."""
    return client.request(interaction.method, interaction.path, json=interaction.body)


def shape_differences(
    actual: Any, recorded: Any, *, newer_keys: frozenset[str] = NEWER_KEYS
) -> list[str]:
    """Where ``actual`` differs from ``recorded`` in structure (empty list: same shape).

    The package's comparison (`omniembed.emulator.conformance.shapes.compare`: same keys,
    list lengths, JSON kinds, vectors by length), except that ``newer_keys`` may be extra in
    ``actual``. Values are not compared.
    """
    return [
        str(d)
        for d in compare(actual, recorded)
        if not (d.problem == "unexpected" and d.key in newer_keys)
    ]


def assert_same_shape(actual: Any, recorded: Any, **kwargs: Any) -> None:
    problems = shape_differences(actual, recorded, **kwargs)
    assert not problems, "response shape differs from the recording:\n" + "\n".join(problems)


@dataclass
class Received:
    method: str
    path: str
    json: Any


@dataclass
class ReplayServer:
    """A real HTTP server that answers each request with the next recorded response."""

    interactions: list[Interaction]
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                replay.received.append(Received("POST", urlsplit(self.path).path, body))
                recorded = replay.interactions[len(replay.received) - 1]
                payload = json.dumps(recorded.response).encode()
                self.send_response(recorded.status)
                self.send_header("content-type", "application/json; charset=UTF-8")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
