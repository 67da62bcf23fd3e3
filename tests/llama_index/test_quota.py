"""The quota knobs of the LlamaIndex embeddings reach the provider embedder: figures, tiers,
a shared `Quota`; they serialize without the live limiter, and a daily cap is the typed
error before any request goes past it."""

from __future__ import annotations

import pickle
from datetime import datetime
from typing import Any

import pytest

from omniembed import DailyQuotaExceededError, GeminiEmbedder
from omniembed.emulator import Emulator
from omniembed.llama_index import (
    DashScopeMultiModalEmbedding,
    GeminiMultiModalEmbedding,
    VertexMultiModalEmbedding,
)
from omniembed.runtime import Quota
from tests.llama_index.helpers import DASHSCOPE_KEY, GEMINI_KEY, VERTEX_TOKEN, embed_calls


def _figures(embed: Any) -> tuple[Any, ...]:
    limits = embed.embedder.quota.limits
    return (
        limits.requests_per_minute,
        limits.tokens_per_minute,
        limits.requests_per_day,
        limits.unit,
    )


def _all(emu: Emulator, **kw: Any) -> list[Any]:
    return [
        GeminiMultiModalEmbedding(api_key=GEMINI_KEY, base_url=emu.base_url, **kw),
        VertexMultiModalEmbedding(
            project="p", access_token=VERTEX_TOKEN, base_url=emu.base_url, **kw
        ),
        DashScopeMultiModalEmbedding(
            api_key=DASHSCOPE_KEY, base_url=emu.base_url + "/api/v1", **kw
        ),
    ]


def test_every_class_forwards_the_quota_figures(emu: Emulator) -> None:
    figures = {"requests_per_minute": 40, "tokens_per_minute": 9000, "requests_per_day": 700}
    gemini, vertex, dashscope = _all(emu, **figures)
    # Each in the unit its service counts: inputs on the Gemini API, HTTP calls elsewhere.
    assert _figures(gemini) == (40, 9000, 700, "item")
    assert _figures(vertex) == (40, 9000, 700, "call")
    assert _figures(dashscope) == (40, 9000, 700, "call")
    assert embed_calls(emu) == []


def test_tiers_fill_the_published_figures_and_explicit_numbers_win(emu: Emulator) -> None:
    free = GeminiMultiModalEmbedding(api_key=GEMINI_KEY, base_url=emu.base_url, tier="free")
    assert _figures(free) == (100, 30_000, 1_000, "item")
    mine = GeminiMultiModalEmbedding(
        api_key=GEMINI_KEY, base_url=emu.base_url, tier="tier1", requests_per_minute=500
    )
    assert _figures(mine) == (500, 1_000_000, None, "item")
    # Left out, the provider's default: Vertex AI's published quota, none on the Gemini API.
    default_vertex = VertexMultiModalEmbedding(
        project="p", access_token=VERTEX_TOKEN, base_url=emu.base_url
    )
    assert _figures(default_vertex) == (120, None, None, "call")
    assert GeminiMultiModalEmbedding(api_key=GEMINI_KEY).embedder.quota.limits.empty
    on_vertex = GeminiMultiModalEmbedding(
        vertexai=True, project="p", location="us-central1", access_token=VERTEX_TOKEN
    )
    assert on_vertex.embedder.quota.limits.tokens_per_minute == 10_000_000


def test_bad_values_fail_at_construction() -> None:
    with pytest.raises(ValueError, match="tier must be one of free, tier1"):
        GeminiMultiModalEmbedding(api_key=GEMINI_KEY, tier="gold")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        GeminiMultiModalEmbedding(api_key=GEMINI_KEY, requests_per_minute=-1)
    with pytest.raises(ValueError, match=r"quota must be an omniembed\.runtime\.Quota"):
        GeminiMultiModalEmbedding(api_key=GEMINI_KEY, quota={"rpm": 5})
    with pytest.raises(ValueError, match=r"either quota= .* or tier="):
        GeminiMultiModalEmbedding(api_key=GEMINI_KEY, quota=Quota(), tier="free")
    with pytest.raises(ValueError, match="tier='free' has no published quota"):
        VertexMultiModalEmbedding(project="p", access_token=VERTEX_TOKEN, tier="free")


def test_one_shared_quota_serves_every_embedding_and_is_never_serialized(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = Quota(requests_per_minute=60, tokens_per_minute=5000)
    gemini, vertex, dashscope = _all(emu, quota=shared)
    assert gemini.embedder.quota is shared
    assert vertex.embedder.quota is shared  # Vertex's default tier gives way to it
    assert dashscope.embedder.quota is shared
    for embed in (gemini, vertex, dashscope):
        assert "quota" not in embed.to_dict() and "quota" not in embed.to_json()
    # A pickled copy (another process) cannot share the limiter: it gets its own Quota with
    # the same figures, in its service's unit.
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    clone = pickle.loads(pickle.dumps(gemini))
    assert clone.quota is None and clone.requests_per_minute == 60
    assert clone.embedder.quota is not shared
    assert _figures(clone) == (60, 5000, None, "item")


def test_a_ready_built_embedder_keeps_its_quota_and_shows_its_figures(emu: Emulator) -> None:
    provider = GeminiEmbedder(api_key=GEMINI_KEY, base_url=emu.base_url, tier="free")
    embed = GeminiMultiModalEmbedding(embedder=provider)
    assert embed.quota is provider.quota
    assert (embed.requests_per_minute, embed.tokens_per_minute, embed.requests_per_day) == (
        100,
        30_000,
        1_000,
    )
    assert embed.to_dict()["requests_per_day"] == 1_000


def test_a_spent_daily_quota_is_the_typed_error_and_sends_nothing_past_it(
    emu: Emulator,
) -> None:
    embed = GeminiMultiModalEmbedding(api_key=GEMINI_KEY, base_url=emu.base_url, requests_per_day=3)
    assert len(embed.get_text_embedding_batch(["one", "two", "three"])) == 3
    with pytest.raises(DailyQuotaExceededError) as raised:
        embed.get_text_embedding("four")
    assert isinstance(raised.value.resets_at, datetime) and raised.value.resets_at.tzinfo
    assert raised.value.limit == 3
    sent = sum(len(r.json["requests"]) for r in embed_calls(emu))
    assert sent == 3  # the fourth input never left the client
