"""The provider-agnostic runner, driven by a plain-function transport.

These check the runner's own logic (ordering, dedupe, splitting, fail-fast, cache,
pacing) without HTTP; tests/test_gemini_runtime.py checks the same behaviour end to end
through google-genai and the emulator.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from omniembed import (
    AuthenticationError,
    Embedding,
    InvalidArgumentError,
    QuotaExceededError,
    ServerError,
)
from omniembed.runtime import (
    MemoryCache,
    RateLimiter,
    RetryPolicy,
    Runner,
    SQLiteCache,
    WorkItem,
    plan_batches,
)
from omniembed.runtime.runner import BatchOutcome

FAST_RETRY = RetryPolicy(max_retries=4, initial_delay=0.001, max_delay=0.01)


class Transport:
    """Embeds payload strings as [len(text)]; fails per a script; records every call."""

    def __init__(self, script: Sequence[Exception | None] = (), poison: str | None = None):
        self.script = list(script)
        self.poison = poison
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0

    def __call__(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        with self.lock:
            self.calls.append([i.payload for i in batch])
            error = self.script.pop(0) if self.script else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(0.005)
            if error is not None:
                raise error
            if self.poison is not None and any(i.payload == self.poison for i in batch):
                raise InvalidArgumentError("bad item in batch", status_code=400)
            return [[Embedding([float(len(i.payload))])] for i in batch]
        finally:
            with self.lock:
                self.in_flight -= 1

    async def asend(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        return await asyncio.to_thread(self, batch)


def items(texts: Sequence[str], keyed: bool = True) -> list[WorkItem]:
    return [WorkItem(i, t, cache_key=f"k:{t}" if keyed else None) for i, t in enumerate(texts)]


def runner(**kwargs: object) -> Runner:
    options: dict[str, object] = {"max_batch_size": 3, "retry": FAST_RETRY, **kwargs}
    return Runner(**options)  # type: ignore[arg-type]


def test_plan_batches_respects_size_weight_groups_and_order() -> None:
    work = [WorkItem(i, i, group=i % 2, weight=4) for i in range(7)]
    batches = plan_batches(work, max_items=2, max_weight=100)
    assert [[w.index for w in b] for b in batches] == [[0, 2], [1, 3], [4, 6], [5]]
    heavy = plan_batches([WorkItem(i, i, weight=6) for i in range(3)], 10, max_weight=10)
    assert [len(b) for b in heavy] == [1, 1, 1]


def test_results_keep_input_order_and_batch_to_the_limit() -> None:
    transport = Transport()
    texts = [f"t{'x' * i}" for i in range(10)]
    outcomes = runner().run(items(texts), transport)
    assert [o.embeddings[0].vector[0] for o in outcomes] == [len(t) for t in texts]
    assert sorted(len(c) for c in transport.calls) == [1, 3, 3, 3]


def test_duplicates_are_embedded_once() -> None:
    transport = Transport()
    outcomes = runner().run(items(["a", "b", "a", "a"]), transport)
    assert sum(len(c) for c in transport.calls) == 2
    assert all(o.embeddings for o in outcomes)


def test_retryable_errors_are_retried_with_the_server_delay() -> None:
    transport = Transport([QuotaExceededError("slow", retry_after=0.2), ServerError("x")])
    run = runner()
    start = time.monotonic()
    outcomes = run.run(items(["a"]), transport)
    assert outcomes[0].embeddings is not None
    assert time.monotonic() - start >= 0.2
    assert run.last_stats.requests == 3 and run.last_stats.retries == 2


def test_non_retryable_5xx_is_not_retried() -> None:
    error = ServerError("not implemented", status_code=501)
    error.retryable = False
    transport = Transport([error])
    outcomes = runner().run(items(["a"]), transport)
    assert outcomes[0].error is error and len(transport.calls) == 1


def test_giving_up_reports_the_attempts() -> None:
    transport = Transport([ServerError("down")] * 10)
    outcomes = runner().run(items(["a"]), transport)
    assert outcomes[0].error is not None
    assert "gave up after 5 attempts" in str(outcomes[0].error)


def test_a_rejected_item_is_isolated_and_the_others_are_kept() -> None:
    transport = Transport(poison="bad")
    texts = ["a", "bb", "bad", "cccc", "d", "ee"]
    outcomes = runner(max_batch_size=6).run(items(texts), transport)
    assert isinstance(outcomes[2].error, InvalidArgumentError)
    assert [o.embeddings[0].vector[0] for i, o in enumerate(outcomes) if i != 2] == [
        1,
        2,
        4,
        1,
        2,
    ]


def test_fatal_errors_stop_further_requests() -> None:
    transport = Transport([AuthenticationError("bad key", status_code=401)] * 100)
    outcomes = runner(max_batch_size=1, max_concurrency=1).run(items(list("abcdef")), transport)
    assert all(isinstance(o.error, AuthenticationError) for o in outcomes)
    assert len(transport.calls) == 1


def test_concurrency_is_bounded() -> None:
    transport = Transport()
    runner(max_batch_size=1, max_concurrency=3).run(items([str(i) for i in range(20)]), transport)
    assert transport.max_in_flight == 3


async def test_async_path_bounds_concurrency_and_keeps_order() -> None:
    transport = Transport()
    texts = [str(i) * (i % 4 + 1) for i in range(20)]
    run = runner(max_batch_size=1, max_concurrency=4)
    outcomes = await run.arun(items(texts), transport.asend)
    assert [o.embeddings[0].vector[0] for o in outcomes] == [len(t) for t in texts]
    assert transport.max_in_flight <= 4


def test_cache_hits_make_no_calls(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "cache.sqlite")
    first = Transport()
    runner(cache=cache).run(items(["a", "bb", "ccc"]), first)
    second = Transport()
    run = runner(cache=SQLiteCache(tmp_path / "cache.sqlite"))  # a new process, same file
    outcomes = run.run(items(["a", "bb", "ccc", "dddd"]), second)
    assert second.calls == [["dddd"]]
    assert [o.cached for o in outcomes] == [True, True, True, False]
    assert run.last_stats.cache_hits == 3
    assert [o.embeddings[0].vector for o in outcomes] == [[1.0], [2.0], [3.0], [4.0]]


def test_failed_items_are_not_cached_and_successes_are() -> None:
    cache = MemoryCache()
    runner(cache=cache, max_batch_size=1).run(items(["a", "bad"]), Transport(poison="bad"))
    assert list(cache.get_many(["k:a", "k:bad"])) == ["k:a"]


def test_sqlite_cache_is_exact_and_concurrent(tmp_path: Path) -> None:
    cache = SQLiteCache(tmp_path / "c.sqlite")
    vector = [0.1, -1e-30, 1 / 3]
    cache.put_many({"x": [Embedding(vector, "video", 0.0, 16.0)]})
    assert cache.get_many(["x"])["x"][0] == Embedding(vector, "video", 0.0, 16.0)

    def writer(n: int) -> None:
        for i in range(50):
            cache.put_many({f"{n}:{i}": [Embedding([float(i)])]})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache) == 201


def test_rate_limiter_paces_requests_within_ten_percent() -> None:
    limiter = RateLimiter(requests_per_minute=1200)  # 20/s, a burst of one second's worth - 1
    assert limiter.burst == 19
    transport = Transport()
    start = time.monotonic()
    runner(max_batch_size=1, max_concurrency=8, rate_limiter=limiter).run(
        items([str(i) for i in range(60)]), transport
    )
    elapsed = time.monotonic() - start
    expected = (60 - 19) / 20  # the burst goes at once, the other 41 at 20/s
    assert expected * 0.9 <= elapsed <= expected * 1.1 + 0.05


def test_rate_limiter_strict_spacing() -> None:
    limiter = RateLimiter(requests_per_minute=1200, burst=1)
    start = time.monotonic()
    runner(max_batch_size=1, max_concurrency=8, rate_limiter=limiter).run(
        items([str(i) for i in range(21)]), Transport()
    )
    assert 1.0 * 0.9 <= time.monotonic() - start <= 1.0 * 1.1 + 0.05


def test_rate_limiter_burst() -> None:
    limiter = RateLimiter(requests_per_minute=60, burst=3)
    assert [limiter.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.reserve() == pytest.approx(1.0, abs=0.05)


def test_throttle_pauses_everyone_and_halves_once_per_cooldown() -> None:
    from omniembed.runtime.throttle import Throttle

    throttle = Throttle(16)
    for _ in range(3):  # three replies of one burst all say 429
        throttle.enter()
    for _ in range(3):
        throttle.leave(throttled=True, retry_after=0.2)
    assert throttle.limit == 8  # cut once, not three times
    start = time.monotonic()
    throttle.enter()  # everyone waits out the cooldown
    assert time.monotonic() - start >= 0.19
    throttle.leave()
    for _ in range(40):  # successes grow it back, one per window
        throttle.enter()
        throttle.leave()
    assert 8 < throttle.limit <= 16


def test_quota_discovered_by_429s_completes_with_few_wasted_calls() -> None:
    """A server allowing 20 requests/s (burst 1) and a client told nothing about it."""
    lock = threading.Lock()
    state = {"next_free": 0.0, "rejected": 0}

    def send(batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        with lock:
            now = time.monotonic()
            if now < state["next_free"]:
                state["rejected"] += 1
                raise QuotaExceededError("quota", retry_after=state["next_free"] - now)
            state["next_free"] = now + 0.05
        return [[Embedding([1.0])] for _ in batch]

    run = runner(max_batch_size=1, max_concurrency=16, retry=RetryPolicy(max_retries=8))
    outcomes = run.run(items([str(i) for i in range(40)]), send)
    assert all(o.embeddings for o in outcomes)
    assert state["rejected"] < 60  # without the throttle: hundreds


class WeighingTransport(Transport):
    """Also records the largest total weight of batches in flight together."""

    def __init__(self) -> None:
        super().__init__()
        self.weight_in_flight = 0
        self.max_weight_in_flight = 0

    def __call__(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        weight = sum(i.weight for i in batch)
        with self.lock:
            self.weight_in_flight += weight
            self.max_weight_in_flight = max(self.max_weight_in_flight, self.weight_in_flight)
        try:
            time.sleep(0.01)
            return super().__call__(batch)
        finally:
            with self.lock:
                self.weight_in_flight -= weight


def _weighted(count: int, weight: int) -> list[WorkItem]:
    return [WorkItem(i, f"clip{i}", weight=weight) for i in range(count)]


def test_byte_budget_bounds_the_media_in_flight() -> None:
    send = WeighingTransport()
    run = runner(max_batch_size=1, max_concurrency=8, max_inflight_bytes=300)
    outcomes = run.run(_weighted(12, 100), send)
    assert len(outcomes) == 12 and all(o.embeddings for o in outcomes)
    # 8 slots would allow 800; the budget holds it to 300 (3 at a time).
    assert 100 <= send.max_weight_in_flight <= 300
    # A batch bigger than the whole budget still runs, alone.
    big = WeighingTransport()
    runner(max_batch_size=1, max_concurrency=8, max_inflight_bytes=300).run(_weighted(3, 500), big)
    assert big.max_weight_in_flight == 500 and big.max_in_flight == 1


async def test_byte_budget_bounds_async_batches_too() -> None:
    send = WeighingTransport()
    run = runner(max_batch_size=1, max_concurrency=8, max_inflight_bytes=200)
    outcomes = await run.arun(_weighted(10, 100), send.asend)
    assert len(outcomes) == 10
    assert 100 <= send.max_weight_in_flight <= 200
