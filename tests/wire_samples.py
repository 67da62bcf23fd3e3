"""Access to the recorded real Google traffic in ../shared/wire-samples (read in place).

The recordings are third-party data and are never copied into this repository; tests
that need them skip with a reason when the folder is absent (e.g. a user's plain clone).
"""

from __future__ import annotations

import copy
import functools
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "wire-samples" / "gemini"


def sample_files(pattern: str) -> list[Path]:
    return sorted(SAMPLES.glob(pattern)) if SAMPLES.is_dir() else []


def require_samples() -> None:
    if not SAMPLES.is_dir():
        pytest.skip(f"recorded wire samples not found at {SAMPLES} (they live in ../shared)")


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is ~8x faster


@functools.lru_cache(maxsize=64)
def _load(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=_Loader)  # a safe loader (C or Python)


def load_interactions(path: Path) -> list[dict[str, Any]]:
    return copy.deepcopy(list(_load(path)["interactions"]))


@dataclass
class Received:
    method: str
    path: str
    json: Any


@dataclass
class ReplayServer:
    """A real HTTP server that answers each request with the next recorded response."""

    interactions: list[dict[str, Any]]
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                replay.received.append(Received("POST", urlsplit(self.path).path, body))
                response = replay.interactions[len(replay.received) - 1]["response"]
                payload = json.dumps(response["parsed_body"]).encode()
                self.send_response(int(response["status"]["code"]))
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
