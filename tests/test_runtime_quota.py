"""`Quota`: the sliding window, units, tokens, the day, learning from 429 bodies (fake
clocks, no network), and the sourced tier table."""

from __future__ import annotations

import math
import pickle
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from omniembed import (
    ConfigurationError,
    DailyQuotaExceededError,
    GeminiEmbedder,
    QuotaExceededError,
    QuotaViolation,
)
from omniembed.providers.google_errors import google_error
from omniembed.providers.quota_table import price, quota_limits
from omniembed.runtime import Quota, QuotaLimits
from omniembed.runtime.quota import minimum_seconds
from omniembed.runtime.throttle import Throttle
from omniembed.token_estimate import image_tokens, text_tokens

PACIFIC = ZoneInfo("America/Los_Angeles")


class Clocks:
    """A monotonic clock and a wall clock that move together."""

    def __init__(self, wall: datetime) -> None:
        self.mono = 1000.0
        self.wall = wall

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall = datetime.fromtimestamp(self.wall.timestamp() + seconds, timezone.utc)

    def quota(self, **kwargs: object) -> Quota:
        return Quota(clock=lambda: self.mono, now=lambda: self.wall, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def clocks() -> Clocks:
    return Clocks(datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc))  # 07:00 in Pacific


def send(quota: Quota, items: int = 1, tokens: int = 0) -> float:
    """Admit one request now and answer it at once; return how long it had to wait."""
    wait, permit = quota.try_acquire(items, tokens)
    if permit is not None:
        quota.release(permit)
    return wait


def test_a_minute_admits_the_limit_then_waits_for_the_oldest_to_leave(clocks: Clocks) -> None:
    quota = clocks.quota(requests_per_minute=10)
    assert [send(quota) for _ in range(10)] == [0.0] * 10
    wait = send(quota)
    assert 60.0 <= wait <= 60.3  # the window plus a small margin
    clocks.advance(wait)
    assert send(quota) == 0.0


def test_the_window_slides_rather_than_resetting_on_the_minute(clocks: Clocks) -> None:
    quota = clocks.quota(requests_per_minute=4)
    send(quota)
    send(quota)
    clocks.advance(40)
    send(quota)
    send(quota)
    # 4 in the last minute: the fifth waits until the first two are a minute old.
    assert 19.9 < send(quota) < 20.5
    clocks.advance(20.3)
    assert send(quota) == 0.0 and send(quota) == 0.0
    assert send(quota) > 0  # the two sent at t=40 still count


def test_item_units_count_each_input_of_a_call(clocks: Clocks) -> None:
    quota = clocks.quota(requests_per_minute=100, unit="item")
    assert quota.units(100) == 100
    assert quota.batch_caps() == (100, None)
    assert send(quota, items=60) == 0.0
    assert send(quota, items=60) > 0  # 120 items would exceed the minute
    assert send(quota, items=40) == 0.0
    calls = clocks.quota(requests_per_minute=2, unit="call")
    assert calls.units(100) == 1 and calls.batch_caps() == (None, None)
    assert send(calls, items=100) == 0.0 and send(calls, items=100) == 0.0


def test_tokens_per_minute_pace_and_cap_batches(clocks: Clocks) -> None:
    quota = clocks.quota(tokens_per_minute=1000)
    assert quota.batch_caps() == (None, 1000)
    assert quota.fits(50, 1000) and not quota.fits(1, 1001)
    assert send(quota, tokens=600) == 0.0
    assert send(quota, tokens=600) > 59
    assert send(quota, tokens=400) == 0.0


def test_in_flight_requests_hold_their_place_until_answered(clocks: Clocks) -> None:
    quota = clocks.quota(requests_per_minute=1)
    wait, permit = quota.try_acquire(1, 0)
    assert wait == 0 and permit is not None
    clocks.advance(90)  # still unanswered after a minute and a half
    assert quota.try_acquire(1, 0)[0] > 0
    quota.release(permit)
    assert 60.0 <= quota.try_acquire(1, 0)[0] <= 60.3  # a minute from the answer


def test_a_request_no_minute_can_admit_fails_at_once_and_is_not_retried(clocks: Clocks) -> None:
    quota = clocks.quota(tokens_per_minute=1000)
    with pytest.raises(QuotaExceededError, match="no minute can admit it") as raised:
        quota.try_acquire(1, 1500)
    assert raised.value.retryable is False


def test_the_day_is_counted_and_refused_locally_with_the_reset_time(clocks: Clocks) -> None:
    quota = clocks.quota(requests_per_day=5, unit="item")
    assert send(quota, items=3) == 0.0
    with pytest.raises(DailyQuotaExceededError) as raised:
        quota.try_acquire(3, 0)
    error = raised.value
    assert "2 of 5 left today" in str(error)
    assert error.limit == 5 and error.retryable is False
    assert error.resets_at == datetime(2026, 12, 5, 0, 0, tzinfo=PACIFIC)
    assert error.resets_at.utcoffset() is not None
    assert send(quota, items=2) == 0.0  # what is left still goes
    clocks.advance(17 * 3600 + 1)  # past midnight Pacific
    assert send(quota, items=5) == 0.0


def test_a_refused_request_does_not_count_against_the_day(clocks: Clocks) -> None:
    quota = clocks.quota(requests_per_day=3, unit="item")
    _, permit = quota.try_acquire(3, 0)
    assert permit is not None
    quota.release(permit, admitted=False)  # the service answered 429
    assert send(quota, items=3) == 0.0


def violation(quota_id: str, value: float | None, metric: str = "") -> QuotaViolation:
    return QuotaViolation(quota_id=quota_id, quota_metric=metric, limit=value)


def test_learns_per_minute_limits_from_the_429(clocks: Clocks) -> None:
    quota = clocks.quota(unit="item")
    assert quota.limits.empty
    error = QuotaExceededError(
        "quota",
        status_code=429,
        violations=[
            violation("EmbedContentRequestsPerMinutePerUserPerProjectPerModel-FreeTier", 100),
            violation("EmbedContentInputTokensPerMinutePerProjectPerModel-FreeTier", 30000),
        ],
    )
    assert quota.learn(error) is None
    assert quota.limits.requests_per_minute == 100
    assert quota.limits.tokens_per_minute == 30000
    assert quota.limits.source == "learnt from a 429"
    assert quota.batch_caps() == (100, 30000)
    # Refused again on tokens while keeping to the known limit: estimate higher.
    quota.learn(error)
    assert quota.token_factor > 1.1
    assert quota.batch_caps()[1] is not None and quota.batch_caps()[1] < 30000


def test_a_daily_violation_stops_every_later_request_until_the_reset(clocks: Clocks) -> None:
    quota = clocks.quota(unit="item")
    error = QuotaExceededError(
        "You exceeded your current quota",
        status_code=429,
        status="RESOURCE_EXHAUSTED",
        provider="gemini",
        retry_after=45.0,  # the service's hint is useless for a daily cap
        violations=[
            violation("EmbedContentRequestsPerDayPerUserPerProjectPerModel-FreeTier", 1000)
        ],
    )
    daily = quota.learn(error)
    assert isinstance(daily, DailyQuotaExceededError)
    assert daily.quota_id == "EmbedContentRequestsPerDayPerUserPerProjectPerModel-FreeTier"
    assert daily.limit == 1000
    assert "1,000 requests per day" in str(daily) and "resets at" in str(daily)
    with pytest.raises(DailyQuotaExceededError):
        quota.try_acquire(1, 0)
    assert quota.exhausted is daily
    clocks.advance(17 * 3600 + 1)
    assert quota.exhausted is None
    assert send(quota) == 0.0
    restored = pickle.loads(pickle.dumps(daily))
    assert restored.resets_at == daily.resets_at and restored.quota_id == daily.quota_id


def test_a_real_shaped_429_body_is_read_into_violations() -> None:
    # The shape of a real Gemini API embedding 429 (per-minute, free tier), as users
    # pasted it (google-gemini/gemini-cli#8437 for the same shape on generation).
    body = {
        "error": {
            "code": 429,
            "message": "You exceeded your current quota, please check your plan and billing "
            "details.\n* Quota exceeded for metric: generativelanguage.googleapis.com/"
            "embed_content_free_tier_requests, limit: 100, model: gemini-embedding-1.0\n"
            "Please retry in 33.384105706s.",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.Help",
                    "links": [{"url": "https://ai.google.dev/gemini-api/docs/rate-limits"}],
                },
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/"
                            "embed_content_free_tier_requests",
                            "quotaId": "EmbedContentRequestsPerMinutePerUserPerProjectPerModel"
                            "-FreeTier",
                            "quotaDimensions": {
                                "model": "gemini-embedding-1.0",
                                "location": "global",
                            },
                            "quotaValue": "100",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "33s"},
            ],
        }
    }
    error = google_error(429, body, None, "gemini")
    assert isinstance(error, QuotaExceededError) and error.retry_after == 33.0
    (found,) = error.violations
    assert found.limit == 100.0 and found.period == "minute" and found.measure == "requests"
    assert found.dimensions == {"model": "gemini-embedding-1.0", "location": "global"}
    vertex = google_error(
        429,
        {"error": {"code": 429, "message": "Resource exhausted.", "status": "RESOURCE_EXHAUSTED"}},
        None,
        "gemini",
    )
    assert isinstance(vertex, QuotaExceededError) and vertex.violations == []


def test_tier_table_is_sourced_and_explicit_numbers_win() -> None:
    free = quota_limits("gemini-api", "gemini-embedding-001", "free")
    assert (free.requests_per_minute, free.tokens_per_minute, free.requests_per_day) == (
        100,
        30_000,
        1_000,
    )
    assert free.unit == "item" and "AI Studio" in free.source
    assert quota_limits("gemini-api", "gemini-embedding-2-preview", "tier1").requests_per_minute
    assert quota_limits("vertex", "multimodalembedding@001", "default").requests_per_minute == 120
    with pytest.raises(ConfigurationError, match="'free', 'tier1'"):
        quota_limits("gemini-api", "gemini-embedding-001", "gold")
    with pytest.raises(ConfigurationError, match="none"):
        quota_limits("dashscope", "qwen3-vl-embedding", "free")
    embedder = GeminiEmbedder(
        "gemini-embedding-001", api_key="k", tier="free", requests_per_minute=50
    )
    limits = embedder.quota.limits
    assert limits.requests_per_minute == 50 and limits.tokens_per_minute == 30_000
    assert "explicit requests_per_minute" in limits.source
    vertex = GeminiEmbedder(
        "gemini-embedding-001", vertexai=True, project="p", location="l", access_token="t"
    )
    # Vertex AI publishes one default quota per project: it applies unless told otherwise.
    assert vertex.quota.unit == "call" and vertex.quota.limits.tokens_per_minute == 5_000_000
    assert "Vertex AI default quota" in vertex.quota.limits.source
    with pytest.raises(ConfigurationError, match="not both"):
        GeminiEmbedder(api_key="k", quota=Quota(requests_per_minute=5), tier="free")
    row = price("gemini-api", "gemini-embedding-001")
    assert row is not None and row.batch_text == row.text / 2


def test_one_quota_object_is_shared_and_split() -> None:
    shared = Quota(QuotaLimits(3000, 1_000_000, None, unit="item"))
    a = GeminiEmbedder("gemini-embedding-001", api_key="k", quota=shared)
    b = GeminiEmbedder("gemini-embedding-2", api_key="k", quota=shared)
    assert a.quota is b.quota is shared
    part = shared.share(4).limits
    assert (part.requests_per_minute, part.tokens_per_minute, part.unit) == (750, 250_000, "item")


def test_minimum_seconds_is_the_sliding_window_bound() -> None:
    free = QuotaLimits(100, 30_000, 1_000, unit="item")
    # 1,000 chunks of 500 tokens in calls of 60: 30,000 tokens per minute -> 16 more minutes.
    calls = [(60, 30_000)] * 16 + [(40, 20_000)]
    assert 16 * 60 <= minimum_seconds(calls, free) <= 16 * 60.3
    assert minimum_seconds([(100, 50_000)] * 10, QuotaLimits(3000, 1_000_000)) == 0.0


def test_slow_start_doubles_until_the_first_429() -> None:
    throttle = Throttle(16, slow_start=True)
    assert throttle.limit == 1
    for expected in (2, 4, 8, 16):
        for _ in range(throttle.limit):
            throttle.enter()
        for _ in range(expected // 2):
            throttle.leave()
        assert throttle.limit == expected
    assert Throttle(16).limit == 16


def test_token_estimates_follow_the_recorded_counts() -> None:
    assert text_tokens("") == 0
    # Recorded: "Hello, world!" counted 5 tokens by the Gemini API's countTokens.
    assert 5 <= text_tokens("Hello, world!") <= 7
    prose = "The lighthouse was built in the harbour town from granite blocks. " * 40
    pieces = 12 * 40
    assert pieces <= text_tokens(prose) <= pieces * 1.06 + 1
    assert text_tokens("1874") == text_tokens("a b c d")  # digits count one each
    assert text_tokens("東京タワー") == text_tokens("a b c d e")  # one per CJK character
    assert text_tokens("x" * 48) == text_tokens("a b c d e f g h")  # a long run: one per 6
    assert image_tokens(100, 100) == 258 and image_tokens(1536, 768) == 2 * 258
    # The fast scans count exactly as the rule says, on ASCII text and on any other.
    texts = ["Lighthouse_1874, keeper's log: supercalifragilistic 42!", "a" * 13 + " 007"]
    texts += [t + " Café 東京 ١٢ ß" for t in texts]
    for text in texts:
        assert text_tokens(text) == _tokens_by_the_rule(text), text


def _tokens_by_the_rule(text: str) -> int:
    """The module docstring's rule, piece by piece."""
    cjk = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
    pieces = 0
    for piece in re.findall(rf"[{cjk}]|[0-9]+|[^\W\d{cjk}]+|[^\w\s]", text):
        if piece[0] in "0123456789":
            pieces += len(piece)
        else:
            pieces += 1 if len(piece) <= 12 else math.ceil(len(piece) / 6)
    return math.ceil(pieces * 1.05) + 1
