"""Per-route quotas (token buckets) answered with Google's 429."""

from __future__ import annotations

import time

import httpx
import pytest

from omniembed.emulator import Emulator
from omniembed.emulator.quotas import QuotaBook, TokenBucket

GEMINI = "/v1beta/models/gemini-embedding-001:embedContent"
COUNT = "/v1beta/models/gemini-embedding-001:countTokens"
BODY = {"content": {"parts": [{"text": "x"}]}}
COUNT_BODY = {"contents": [{"parts": [{"text": "x"}]}]}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_one_second_burst_then_refills() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rpm=600, clock=clock)  # 10 per second, burst of 10

    assert [bucket.take() for _ in range(10)] == [0.0] * 10
    assert bucket.take() == pytest.approx(0.1)
    clock.now += 0.1
    assert bucket.take() == 0.0


def test_slow_quota_has_a_capacity_of_one() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rpm=30, clock=clock)  # one token every 2 s

    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(2.0)
    clock.now += 1.5
    assert bucket.take() == pytest.approx(0.5)


def test_star_applies_per_unlisted_route() -> None:
    book = QuotaBook(clock=FakeClock())
    quotas = {"embedContent": 60, "*": 60}

    assert book.take(quotas, "embedContent") == 0.0
    assert book.take(quotas, "countTokens") == 0.0  # its own bucket
    assert book.take(quotas, "embedContent") > 0
    assert book.take(None, "embedContent") == 0.0


def test_over_quota_answers_429_with_delay(emulator: Emulator, http: httpx.Client) -> None:
    emulator.quotas = {"embedContent": 120}  # 2 per second, burst 2

    statuses = [http.post(GEMINI, json=BODY).status_code for _ in range(3)]
    limited = http.post(GEMINI, json=BODY)

    assert statuses[:2] == [200, 200]
    assert limited.status_code == 429
    assert "retry-after" not in limited.headers  # the Gemini API sends none
    detail = limited.json()["error"]["details"][-1]
    assert detail["@type"] == "type.googleapis.com/google.rpc.RetryInfo"
    delay = float(detail["retryDelay"].removesuffix("s"))
    assert 0 < delay <= 0.5
    assert http.post(COUNT, json=COUNT_BODY).status_code == 200  # other routes unaffected
    time.sleep(delay)
    assert http.post(GEMINI, json=BODY).status_code == 200


def test_quota_counts_invalid_requests_too(emulator: Emulator, http: httpx.Client) -> None:
    emulator.quotas = {"*": 60}

    assert http.post(GEMINI, json={"content": {}}).status_code == 400
    assert http.post(GEMINI, json=BODY).status_code == 429
