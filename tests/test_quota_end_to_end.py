"""Quotas end to end: the real google-genai SDK over HTTP against the emulator enforcing
per-item RPM, TPM and RPD (a time-scaled minute of 1 s; the day is not scaled)."""

from __future__ import annotations

import random
import time

import pytest

from omniembed import DailyQuotaExceededError, GeminiEmbedder, Quota, QuotaLimits
from omniembed.emulator import Emulator
from omniembed.runtime import MemoryCache

MODEL = "gemini-embedding-001"
WORDS = [
    "harbour",
    "ferry",
    "granite",
    "lantern",
    "tide",
    "market",
    "bread",
    "island",
    "sunset",
    "gull",
    "rope",
]


def chunks(count: int, words: int, seed: int = 0) -> list[str]:
    """Distinct texts of ``words`` words each (the emulator counts one token a word)."""
    rng = random.Random(seed)
    return [f"{i} " + " ".join(rng.choice(WORDS) for _ in range(words - 1)) for i in range(count)]


def embedder(emu: Emulator, quota: Quota, **kwargs: object) -> GeminiEmbedder:
    return GeminiEmbedder(MODEL, api_key="k", base_url=emu.base_url, quota=quota, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def limited(emu: Emulator) -> Emulator:
    emu.model_quotas = {MODEL: {"rpm": 100, "tpm": 3000, "rpd": 1000}}
    emu.quota_window_sec = 1.0
    return emu


def test_a_given_quota_sends_nothing_the_service_refuses(limited: Emulator) -> None:
    quota = Quota(QuotaLimits(100, 3000, 1000, unit="item"), window_sec=1.0)
    texts = chunks(40, 100)  # 4,000 tokens: two minutes' worth of 3,000
    start = time.monotonic()
    results = embedder(limited, quota).embed(texts)
    elapsed = time.monotonic() - start
    assert all(r.ok for r in results)
    usage = limited.quota_usage()[f"gemini:{MODEL}"]
    assert usage.embedded_inputs == 40
    assert usage.rejected_calls == 0
    assert 1.0 <= elapsed < 4.0  # the second window had to wait for the first


def test_limits_are_learnt_from_the_first_429(limited: Emulator) -> None:
    quota = Quota(window_sec=1.0)  # told nothing
    e = embedder(limited, quota)
    results = e.embed(chunks(60, 100))  # 100 items of 100 tokens can never fit 3,000
    assert all(r.ok for r in results)
    usage = limited.quota_usage()[f"gemini:{MODEL}"]
    assert usage.embedded_inputs == 60
    assert 1 <= usage.rejected_calls <= 5
    assert quota.limits.tokens_per_minute == 3000
    assert quota.limits.source == "learnt from a 429"
    assert e.last_stats.rejected == usage.rejected_calls


def test_a_daily_cap_stops_at_the_first_refusal_and_the_rerun_sends_the_rest(
    emu: Emulator,
) -> None:
    emu.model_quotas = {MODEL: {"rpd": 250}}
    cache = MemoryCache()
    texts = chunks(400, 8)
    start = time.monotonic()
    with pytest.raises(DailyQuotaExceededError) as raised:
        embedder(emu, Quota(), cache=cache).embed(texts)
    assert time.monotonic() - start < 5
    error = raised.value
    usage = emu.quota_usage()[f"gemini:{MODEL}"]
    assert usage.rejected_calls == 1
    assert usage.rejected_by == {"rpd": 1}
    assert error.embedded == usage.embedded_inputs == 200 and error.total == 400
    assert "PerDay" in (error.quota_id or "") and error.limit == 250
    assert error.resets_at.tzinfo is not None and "resets at" in str(error)
    assert sum(1 for r in error.results if r.ok) == 200
    assert all(isinstance(r.error, DailyQuotaExceededError) for r in error.results if not r.ok)

    emu.reset_quotas()  # the day turned over at the service
    emu.clear_requests()
    again = embedder(emu, Quota(), cache=cache)
    results = again.embed(texts)
    assert all(r.ok for r in results)
    assert again.last_stats.cache_hits == 200
    sent = sum(len(r.json["requests"]) for r in emu.requests if r.status == 200)
    assert sent == 200


async def test_a_daily_cap_stops_the_async_call_too(emu: Emulator) -> None:
    emu.model_quotas = {MODEL: {"rpd": 150}}
    with pytest.raises(DailyQuotaExceededError) as raised:
        await embedder(emu, Quota()).aembed(chunks(300, 8))
    assert raised.value.embedded == 100
    # After the first call, slow start has two in flight: both cross the cap together.
    assert emu.quota_usage()[f"gemini:{MODEL}"].rejected_calls <= 2
    assert emu.quota_usage()[f"gemini:{MODEL}"].calls == 1  # nothing more was sent


def test_a_known_daily_quota_refuses_locally_without_a_rejected_call(emu: Emulator) -> None:
    emu.model_quotas = {MODEL: {"rpd": 1000}}
    quota = Quota(requests_per_day=150, unit="item")
    with pytest.raises(DailyQuotaExceededError, match="requests_per_day") as raised:
        embedder(emu, quota).embed(chunks(300, 8))
    assert raised.value.embedded == 100  # one full call fits, the next one does not
    assert emu.quota_usage()[f"gemini:{MODEL}"].rejected_calls == 0


def test_estimate_calls_nothing_and_matches_what_embed_sends(limited: Emulator) -> None:
    limits = QuotaLimits(100, 3000, 1000, unit="item")
    e = embedder(limited, Quota(limits, window_sec=1.0), cache=MemoryCache())
    texts = chunks(40, 100)
    estimate = e.estimate(texts)
    assert limited.requests == []  # nothing sent
    assert estimate.inputs == 40 and estimate.cached == 0
    assert estimate.quota_requests == 40  # each input counts on the Gemini API
    assert 40 * 100 <= estimate.tokens <= 40 * 100 * 1.1  # the emulator counts 100 each
    assert estimate.seconds is not None and estimate.seconds >= 1.0  # two windows at least
    assert estimate.price_usd is not None and estimate.batch_price_usd is not None
    assert estimate.batch_price_usd == pytest.approx(estimate.price_usd / 2)
    assert "time the quota implies" in estimate.describe()
    e.embed(texts)
    assert e.last_stats.requests == estimate.requests
    again = e.estimate(texts)
    assert again.cached == 40 and again.requests == 0 and again.tokens == 0


def test_vertex_names_its_quota_in_the_message_and_a_daily_one_stops_the_call(
    emu: Emulator,
) -> None:
    from omniembed import VertexMultiModalEmbedder

    emu.model_quotas = {"vertex:multimodalembedding": {"rpd": 3}}
    e = VertexMultiModalEmbedder(project="p", access_token="t", base_url=emu.base_url, tier=None)
    start = time.monotonic()
    with pytest.raises(DailyQuotaExceededError) as raised:
        e.embed([f"text {i}" for i in range(6)])
    assert time.monotonic() - start < 5
    assert raised.value.embedded == 3
    assert "per_day" in (raised.value.quota_id or "")
    usage = emu.quota_usage()["vertex:multimodalembedding"]
    # One input per call: the calls in flight when the cap is reached (slow start has
    # grown to four by then) are refused together; nothing is sent after that.
    assert usage.rejected_calls <= 4 and usage.calls + usage.rejected_calls <= 7
