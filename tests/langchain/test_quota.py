"""The quota knobs of the LangChain embeddings reach the provider embedder (figures, tiers,
a shared `Quota`), LangChain serialization leaves the live limiter out, and a spent daily
quota is the typed error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from langchain_core.load import dumps
from pydantic import ValidationError

from omniembed import ConfigurationError, DailyQuotaExceededError
from omniembed.emulator import Emulator
from omniembed.langchain import (
    DashScopeMultiModalEmbeddings,
    GeminiEmbeddings,
    VertexMultiModalEmbeddings,
)
from omniembed.runtime import Quota

from .conftest import DASHSCOPE_KEY, GEMINI_KEY, VERTEX_TOKEN


def _figures(embeddings: Any) -> tuple[Any, ...]:
    limits = embeddings.client.quota.limits
    return (
        limits.requests_per_minute,
        limits.tokens_per_minute,
        limits.requests_per_day,
        limits.unit,
    )


def _all(emu: Emulator, **kw: Any) -> list[Any]:
    return [
        GeminiEmbeddings(api_key=GEMINI_KEY, base_url=emu.base_url, **kw),
        VertexMultiModalEmbeddings(
            project="p", access_token=VERTEX_TOKEN, base_url=emu.base_url, **kw
        ),
        DashScopeMultiModalEmbeddings(
            api_key=DASHSCOPE_KEY, base_url=emu.base_url + "/api/v1", **kw
        ),
    ]


def test_every_class_forwards_the_quota_figures(emu: Emulator) -> None:
    figures = {"requests_per_minute": 40, "tokens_per_minute": 9000, "requests_per_day": 700}
    gemini, vertex, dashscope = _all(emu, **figures)
    assert _figures(gemini) == (40, 9000, 700, "item")
    assert _figures(vertex) == (40, 9000, 700, "call")
    assert _figures(dashscope) == (40, 9000, 700, "call")
    assert emu.requests == []


def test_tiers_and_the_providers_defaults(emu: Emulator) -> None:
    free = GeminiEmbeddings(api_key=GEMINI_KEY, base_url=emu.base_url, tier="free")
    assert _figures(free) == (100, 30_000, 1_000, "item")
    tier2 = GeminiEmbeddings(
        api_key=GEMINI_KEY, base_url=emu.base_url, tier="tier2", tokens_per_minute=10
    )
    assert _figures(tier2) == (5_000, 10, None, "item")
    vertex = VertexMultiModalEmbeddings(project="p", access_token=VERTEX_TOKEN)
    assert _figures(vertex) == (120, None, None, "call")  # the model's published quota
    assert GeminiEmbeddings(api_key=GEMINI_KEY).client.quota.limits.empty
    with pytest.raises(ValidationError, match="tier must be one of"):
        GeminiEmbeddings(api_key=GEMINI_KEY, tier="gold")
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        GeminiEmbeddings(api_key=GEMINI_KEY, requests_per_day=-1)
    with pytest.raises(ConfigurationError, match="tier='tier1' has no published quota"):
        VertexMultiModalEmbeddings(project="p", access_token=VERTEX_TOKEN, tier="tier1")


def test_one_shared_quota_and_serialization(emu: Emulator) -> None:
    shared = Quota(requests_per_minute=60)
    gemini, vertex, dashscope = _all(emu, quota=shared)
    assert gemini.client.quota is vertex.client.quota is dashscope.client.quota is shared
    for embeddings in (gemini, vertex, dashscope):
        text = dumps(embeddings)
        assert '"quota"' not in text and "Quota(" not in text
    kwargs = GeminiEmbeddings(api_key=GEMINI_KEY, tier="free", requests_per_day=10)
    serialized = dumps(kwargs)
    assert '"tier": "free"' in serialized and '"requests_per_day": 10' in serialized
    with pytest.raises(ConfigurationError, match="either quota="):
        GeminiEmbeddings(api_key=GEMINI_KEY, quota=shared, requests_per_minute=5)


def test_a_spent_daily_quota_is_the_typed_error(emu: Emulator) -> None:
    embeddings = GeminiEmbeddings(api_key=GEMINI_KEY, base_url=emu.base_url, requests_per_day=2)
    assert len(embeddings.embed_documents(["one", "two"])) == 2
    with pytest.raises(DailyQuotaExceededError) as raised:
        embeddings.embed_query("three")
    assert isinstance(raised.value.resets_at, datetime) and raised.value.resets_at.tzinfo
    assert len(emu.requests) == 1  # the query never left the client
