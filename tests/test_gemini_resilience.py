"""The runtime end to end: google-genai over real HTTP against an emulator that misbehaves.

429 storms, 5xx, connection resets, slow answers, a server-side rejection of one item,
quotas, wrong keys — nothing may be lost, results stay in order, and retries honour the
service's delay.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from omniembed import (
    AuthenticationError,
    GeminiEmbedder,
    InvalidArgumentError,
    Media,
    NotFoundError,
    PartialFailureError,
    RetryPolicy,
    ServerError,
)
from omniembed.emulator import Emulator
from omniembed.runtime import Quota
from tests import media_factory as make

FAST = RetryPolicy(max_retries=8, initial_delay=0.01, max_delay=0.05)


def vertex(emu: Emulator, **kw: object) -> GeminiEmbedder:
    options: dict[str, object] = {"retry_policy": FAST, **kw}
    return GeminiEmbedder(
        "gemini-embedding-001",
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=Credentials(token="t"),
        base_url=emu.base_url,
        **options,  # type: ignore[arg-type]
    )


def gemini(emu: Emulator, model: str = "gemini-embedding-001", **kw: object) -> GeminiEmbedder:
    options: dict[str, object] = {"retry_policy": FAST, **kw}
    return GeminiEmbedder(model, api_key="k", base_url=emu.base_url, **options)  # type: ignore[arg-type]


def test_429_storm_honours_retry_after(emu: Emulator) -> None:
    emu.faults = {"retry_delay_s": 0.3}
    emu.inject("429", "429", "429")
    embedder = gemini(emu)
    start = time.monotonic()
    results = embedder.embed(["a", "b"])
    elapsed = time.monotonic() - start
    assert [len(r.vector) for r in results] == [3072, 3072]
    assert [r.status for r in emu.requests] == [429, 429, 429, 200]
    assert elapsed >= 0.9  # three waits of the server's 0.3 s, not our 10-50 ms backoff
    assert embedder.last_stats.retries == 3


def test_resets_5xx_and_slow_answers_are_retried(emu: Emulator) -> None:
    emu.faults = {"slow_seconds": 3.0}
    emu.inject("reset", "503", "500", "slow")
    results = gemini(emu, timeout=0.5).embed(["x"])
    assert len(results[0].vector) == 3072
    assert [r.status for r in emu.requests][-1] == 200
    assert len(emu.requests) == 5


async def test_async_path_retries_too(emu: Emulator) -> None:
    emu.faults = {"retry_delay_s": 0.05}
    emu.inject("reset", "429", "503")
    results = await gemini(emu).aembed(["x", "y"])
    assert len(results) == 2 and all(r.ok for r in results)
    assert len(emu.requests) == 4


def test_random_fault_mix_loses_nothing_and_keeps_order(emu: Emulator) -> None:
    texts = [f"item {i} with words {i % 13} {i % 7}" for i in range(120)]
    clean = vertex(emu, max_concurrency=8).embed(texts)
    emu.clear_requests()
    emu.faults = {"429": 0.10, "503": 0.05, "reset": 0.02, "retry_delay_s": 0.02}
    faulty = vertex(emu, max_concurrency=8).embed(texts)
    assert [r.vector for r in faulty] == [r.vector for r in clean]
    statuses = [r.status for r in emu.requests]
    assert statuses.count(200) == 120  # each item embedded exactly once
    assert len(statuses) > 120  # and faults really happened


def test_one_rejected_item_does_not_lose_the_others(emu: Emulator) -> None:
    good = [Media.from_bytes(make.image((i * 30, 10, 10))) for i in range(7)]
    # A PNG whose compressed data is damaged mid-file (header and end marker intact): passes
    # the local checks, rejected by the service (400). (A JPEG declared image/png no longer
    # is: Media corrects a declared image type from the bytes.)
    damaged = bytearray(make.image(fmt="PNG"))
    damaged[len(damaged) // 2 : len(damaged) // 2 + 8] = b"\xff" * 8
    liar = Media.from_bytes(bytes(damaged))
    inputs = [*good[:3], liar, *good[3:]]
    with pytest.raises(PartialFailureError) as raised:
        gemini(emu, "gemini-embedding-2").embed(inputs)
    error = raised.value
    assert list(error.failures) == [3]
    assert isinstance(error.failures[3], InvalidArgumentError)
    assert [r.ok for r in error.results] == [True, True, True, False, True, True, True, True]
    assert "1 of 8 inputs failed, 7 succeeded" in str(error)
    assert len(emu.requests) <= 1 + 2 * 3  # bisection: at most 2 requests per halving level


def test_giving_up_says_how_often_it_tried(emu: Emulator) -> None:
    emu.inject("503", "503", "503")
    with pytest.raises(ServerError, match="gave up after 3 attempts"):
        gemini(emu, retry_policy=RetryPolicy(max_retries=2, initial_delay=0.01)).embed(["x"])


def test_wrong_key_stops_after_one_request(emu: Emulator) -> None:
    emu.api_key = "right"
    embedder = vertex(emu, max_concurrency=1)
    with pytest.raises(AuthenticationError):
        embedder.embed([f"t{i}" for i in range(6)])
    assert len(emu.requests) == 1
    with pytest.raises(AuthenticationError, match="API key not valid"):
        gemini(emu).embed(["x"])  # the Gemini API answers 400 API_KEY_INVALID


def test_unknown_model_is_a_typed_not_found(emu: Emulator) -> None:
    with pytest.raises(NotFoundError, match="models/gemini-embedding-999 is not found"):
        gemini(emu, "gemini-embedding-999").embed(["x"])


def test_cache_hit_makes_zero_requests(emu: Emulator, tmp_path: Path) -> None:
    cache = tmp_path / "embeddings.sqlite"
    texts = [f"chunk {i}" for i in range(30)]
    inputs: list[object] = [*texts, Media.from_bytes(make.image())]
    first = gemini(emu, "gemini-embedding-2", cache=cache).embed(inputs)
    assert emu.requests
    emu.clear_requests()
    again = gemini(emu, "gemini-embedding-2", cache=cache)  # a fresh client, same cache file
    second = again.embed(inputs)
    assert emu.requests == []
    assert all(r.cached for r in second)
    assert [r.vector for r in second] == [r.vector for r in first]
    assert again.last_stats.cache_hits == 31
    # a different task or dimension is a different key
    again.embed(texts[:1], task="retrieval_query")
    assert len(emu.requests) == 1


def test_client_quota_keeps_every_window_within_the_limit(emu: Emulator) -> None:
    # A time-scaled minute (1 s) holding 10 calls: 30 calls need three windows.
    embedder = vertex(emu, quota=Quota(requests_per_minute=10, window_sec=1.0), max_concurrency=16)
    start = time.monotonic()
    embedder.embed([f"t{i}" for i in range(30)])
    elapsed = time.monotonic() - start
    assert 2.0 <= elapsed <= 2.0 * 1.1 + 0.3
    # As the server saw it: no window of 1 s ever held more than 10 arrivals.
    arrivals = sorted(r.received_at for r in emu.requests)
    assert len(arrivals) == 30
    assert max(sum(1 for t in arrivals if s <= t < s + 1.0) for s in arrivals) == 10


def test_server_quota_without_client_limit_still_completes(emu: Emulator) -> None:
    emu.quotas = {
        "*": 600
    }  # :embedContent (google-genai 3.x) or :predict (older)  # 10/s with a one-second burst
    results = vertex(emu, max_concurrency=16).embed([f"t{i}" for i in range(25)])
    assert all(r.ok for r in results)
    statuses = [r.status for r in emu.requests]
    assert 429 in statuses and statuses.count(200) == 25
    assert statuses.count(429) < 25  # paced by the learned interval, not a storm
