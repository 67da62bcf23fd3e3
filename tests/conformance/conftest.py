"""One fixture per provider, pointing at the emulator (``--target emulator``, the default)
or at the real service (``--target live``); with ``--record DIR`` every exchange goes
through a `RecordingProxy` and is saved under ``DIR/<provider>/<test>.yaml``.

On the emulator target the emulator requires one planted key (also used as the Vertex
bearer token and DashScope key) and the Vertex project is a made-up project number, so a
recording proves that none of them reaches a cassette (tests/conformance/test_recorder.py).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from omniembed import DashScopeEmbedder, GeminiEmbedder, VertexMultiModalEmbedder
from omniembed.emulator import Emulator
from omniembed.emulator.conformance.recorder import RecordingProxy
from omniembed.providers.gemini_llm import GeminiGenerator
from omniembed.runtime.retry import RetryPolicy

#: Planted secrets of the emulator target: the recorder must remove every one of them.
PLANTED_KEY = "AIzaSyConformancePlantedKey0123456789abc"
PLANTED_PROJECT = "918273645012"
LOCATION = os.environ.get("GOOGLE_CLOUD_LOCATION", "us-central1")

#: The real hosts; an emulator recording names them too, so the replay checker can route it.
GEMINI_HOST = "https://generativelanguage.googleapis.com"
VERTEX_HOST = f"https://{LOCATION}-aiplatform.googleapis.com"
DASHSCOPE_HOST = "https://dashscope-intl.aliyuncs.com"

#: Requests per provider on this run (the emulator target counts them; see the docstring
#: of tests/conformance/test_scenarios.py for the figures a full run costs).
TALLY: Counter[str] = Counter()
TOKENS: Counter[str] = Counter()


@dataclass
class Target:
    name: str  # "emulator" or "live"
    record_dir: Path | None
    emulator: Emulator | None
    node: str  # the test's name, used for cassette file names
    proxies: list[RecordingProxy] = field(default_factory=list)
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def live(self) -> bool:
        return self.name == "live"

    def base_url(self, provider: str, upstream: str, path: str = "") -> str | None:
        """Where a client of ``provider`` should send its requests (None: its default)."""
        if self.emulator is not None:
            real_upstream = self.emulator.base_url + path
        else:
            real_upstream = upstream + path
        if self.record_dir is None:
            return real_upstream if self.emulator is not None else None
        proxy = RecordingProxy(
            real_upstream,
            self.record_dir / provider / f"{self.node}.yaml",
            secrets=_secrets(),
            record_as=upstream,
        ).start()
        self.proxies.append(proxy)
        return proxy.base_url


def _secrets() -> list[str]:
    names = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_CLOUD_PROJECT", "DASHSCOPE_API_KEY")
    return [PLANTED_KEY, PLANTED_PROJECT, *(os.environ.get(n, "") for n in names)]


@pytest.fixture
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    name = request.config.getoption("--target")
    record = request.config.getoption("--record")
    emulator: Emulator | None = None
    if name == "emulator":
        emulator = request.getfixturevalue("emu")
        emulator.api_key = PLANTED_KEY
    found = Target(name, Path(record) if record else None, emulator, request.node.name)
    yield found
    for close in found.closers:
        close()
    for proxy in found.proxies:
        proxy.close()
    if emulator is not None:
        _tally(emulator, request.node.nodeid)


def _tally(emulator: Emulator, nodeid: str) -> None:
    for record in emulator.requests:
        if record.method == "GET":
            # Polls of a batch job's or an upload's state: how many depends on timing.
            TALLY["polls"] += 1
            continue
        provider = (
            "dashscope"
            if "/api/v1/" in record.path
            else "vertex"
            if "/projects/" in record.path
            else "gemini"
        )
        TALLY[provider] += 1
        TOKENS[provider] += _rough_tokens(record.json)


def _rough_tokens(body: Any) -> int:
    """Input tokens, roughly: 4 characters of text a token, 258 a media part (an image or a
    PDF page on Gemini; audio and video cost more per second, and they are 1-2 s here)."""
    if isinstance(body, dict):
        if "inlineData" in body or "fileData" in body or "image" in body or "video" in body:
            return 258
        return sum(_rough_tokens(v) for k, v in body.items() if k != "generationConfig")
    if isinstance(body, list):
        return sum(_rough_tokens(v) for v in body)
    if isinstance(body, str) and not body.startswith(("data:", "http", "gs://", "oss://")):
        return max(1, len(body) // 4) if len(body) < 2000 else 258
    return 0


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TALLY:
        polls = TALLY.get("polls", 0)
        total = sum(TALLY.values()) - polls
        parts = ", ".join(f"{k} {v}" for k, v in sorted(TALLY.items()) if k != "polls")
        terminalreporter.write_line(
            f"conformance: {total} requests ({parts}) + {polls} state polls, about "
            f"{sum(TOKENS.values())} input tokens (what the same scenarios cost live)"
        )


def _need(*names: str) -> str:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    pytest.skip(f"live target: set {' or '.join(names)} to run this provider")


FAST = RetryPolicy(max_retries=2, initial_delay=0.05, max_delay=0.5)


@pytest.fixture
def gemini(target: Target) -> Callable[..., GeminiEmbedder]:
    """``gemini(model, **options)``: a `GeminiEmbedder` on the Gemini API."""
    key = _need("GEMINI_API_KEY", "GOOGLE_API_KEY") if target.live else PLANTED_KEY
    base_url = target.base_url("gemini", GEMINI_HOST)

    def make(model: str = "gemini-embedding-2", **options: Any) -> GeminiEmbedder:
        options.setdefault("api_key", key)
        options.setdefault("retry_policy", FAST)
        embedder = GeminiEmbedder(model, base_url=base_url, **options)
        target.closers.append(embedder.close)
        return embedder

    return make


@pytest.fixture
def llm(target: Target) -> Callable[..., GeminiGenerator]:
    """``llm(model, **options)``: a `GeminiGenerator` on the Gemini API."""
    key = _need("GEMINI_API_KEY", "GOOGLE_API_KEY") if target.live else PLANTED_KEY
    base_url = target.base_url("gemini", GEMINI_HOST)

    def make(model: str = "gemini-2.5-flash", **options: Any) -> GeminiGenerator:
        options.setdefault("api_key", key)
        options.setdefault("max_retries", 2)
        generator = GeminiGenerator(model, base_url=base_url, **options)
        target.closers.append(generator.close)
        return generator

    return make


@pytest.fixture
def vertex(target: Target) -> Callable[..., VertexMultiModalEmbedder]:
    """``vertex(**options)``: a `VertexMultiModalEmbedder` (``multimodalembedding@001``)."""
    if target.live:
        project = _need("GOOGLE_CLOUD_PROJECT")
        try:
            import google.auth

            google.auth.default()  # type: ignore[no-untyped-call]
        except Exception as exc:  # any ADC failure means: skip, saying why
            pytest.skip(f"live target: no Application Default Credentials for Vertex ({exc})")
        auth: dict[str, Any] = {}
    else:
        project = PLANTED_PROJECT
        auth = {"access_token": PLANTED_KEY}
    base_url = target.base_url("vertex", VERTEX_HOST)

    def make(**options: Any) -> VertexMultiModalEmbedder:
        options.setdefault("retry_policy", FAST)
        options.setdefault("requests_per_minute", None)
        options = {**auth, **options}
        embedder = VertexMultiModalEmbedder(
            project=project, location=LOCATION, base_url=base_url, **options
        )
        target.closers.append(embedder.close)
        return embedder

    return make


@pytest.fixture
def dashscope(target: Target) -> Callable[..., DashScopeEmbedder]:
    """``dashscope(model, **options)``: a `DashScopeEmbedder` (international region)."""
    key = _need("DASHSCOPE_API_KEY") if target.live else PLANTED_KEY
    base_url = target.base_url("dashscope", DASHSCOPE_HOST, "/api/v1")

    def make(model: str = "tongyi-embedding-vision-plus", **options: Any) -> DashScopeEmbedder:
        options.setdefault("api_key", key)
        options.setdefault("retry_policy", FAST)
        if base_url is not None:
            options.setdefault("base_url", base_url)
        embedder = DashScopeEmbedder(model, **options)
        target.closers.append(embedder.close)
        return embedder

    return make
