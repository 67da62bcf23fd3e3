"""Which embedder a store uses, how to build it again, and what it can embed.

The store's manifest keeps `EmbedderSettings` (never credentials or the base URL), so
`ask` rebuilds the same model for the query against whatever endpoint it is given.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..providers.base import Embedder
from ..providers.factory import VERTEX_MULTIMODAL
from ..providers.factory import build_embedder as build
from ..runtime.cache import EmbeddingCache
from ..runtime.quota import Quota
from ..runtime.retry import RetryPolicy
from .defaults import DEFAULT_MODELS, PROVIDERS
from .progress import retry_text
from .quota import NoticeQuota, resolve_limits

#: Sent when a base URL (emulator, proxy) is given without credentials: the emulator
#: accepts any key unless configured otherwise, and a real endpoint rejects it clearly.
PLACEHOLDER_KEY = "omniembed-placeholder"
ACCESS_TOKEN_ENV = "GOOGLE_ACCESS_TOKEN"
#: The services' own endpoints (for messages; the SDKs choose the hosts themselves).
GEMINI_URL = "https://generativelanguage.googleapis.com"
GEMINI_KEY_ENVS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

# Chunk bounds in characters. Retrieval works best on paragraph-sized chunks; Vertex's
# multimodalembedding@001 reads only 32 tokens of text (~4 characters per token).
_TEXT_CHARS = 1500
_VERTEX_TEXT_CHARS = 120


@dataclass(frozen=True)
class EmbedderSettings:
    """The model a store was built with: enough to embed a query the same way."""

    provider: str
    model: str
    dimension: int | None = None
    #: Vertex AI only (not secrets): the defaults `ask` uses for the query and the LLM.
    project: str | None = None
    location: str | None = None

    @classmethod
    def resolve(
        cls,
        provider: str,
        model: str | None = None,
        dimension: int | None = None,
        project: str | None = None,
        location: str | None = None,
    ) -> EmbedderSettings:
        if provider not in PROVIDERS:
            raise ConfigurationError(
                f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}"
            )
        if provider != "vertex":
            project = location = None
        else:
            project = project or os.environ.get("GOOGLE_CLOUD_PROJECT")
            location = location or os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"
        return cls(provider, model or DEFAULT_MODELS[provider], dimension, project, location)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EmbedderSettings:
        return cls(
            provider=str(data["provider"]),
            model=str(data["model"]),
            dimension=data.get("dimension"),
            project=data.get("project"),
            location=data.get("location"),
        )


@dataclass(frozen=True)
class Capabilities:
    """What the indexer may send this embedder."""

    text_chars: int
    images: bool
    video: bool
    audio: bool
    #: A PDF page's text and rendered image go in as ONE fused input (one vector).
    fused_pages: bool
    min_video_interval_sec: float = 0.0
    #: Audio window length: the most the model hears per input (``audio`` models only).
    audio_window_sec: float | None = None


def build_quota(
    settings: EmbedderSettings,
    *,
    tier: str | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    requests_per_day: float | None = None,
    notice: Callable[[str], None] | None = None,
) -> Quota:
    """The quota for ``settings``' model: ``tier``'s published figures (default: the
    provider's default tier) with the given figures winning (``0`` drops one); with
    ``notice``, long waits for it are announced (see `NoticeQuota`)."""
    limits = resolve_limits(
        settings.provider,
        settings.model,
        tier=tier,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        requests_per_day=requests_per_day,
    )
    return NoticeQuota(limits, notice=notice) if notice is not None else Quota(limits)


def build_embedder(
    settings: EmbedderSettings,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    access_token: str | None = None,
    cache: str | os.PathLike[str] | Path | EmbeddingCache | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    requests_per_day: float | None = None,
    tier: str | None = None,
    max_concurrency: int | None = None,
    on_wait: Callable[[str], None] | None = None,
    max_retries: int | None = None,
    offline: bool = False,
) -> Embedder:
    """The embedder for ``settings``; credentials come from the arguments or the
    environment, and a placeholder is used with ``base_url`` (or ``offline``: the embedder
    only estimates) when there are none. The quota: see `build_quota`. ``on_wait`` is told
    of long waits for the quota and of every retry (a line of text each); ``max_retries``
    replaces the runtime's default number of retries per request."""
    quota = build_quota(
        settings,
        tier=tier,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        requests_per_day=requests_per_day,
        notice=on_wait,
    )
    runtime: dict[str, Any] = {"cache": cache, "quota": quota}
    if on_wait is not None or max_retries is not None:
        told = on_wait
        runtime["retry_policy"] = RetryPolicy(
            max_retries=RetryPolicy.max_retries if max_retries is None else max_retries,
            on_retry=(
                None
                if told is None
                else lambda exc, attempt, wait: told(retry_text(exc, attempt, wait))
            ),
        )
    if max_concurrency is not None:
        runtime["max_concurrency"] = max_concurrency
    placeholder = PLACEHOLDER_KEY if base_url or offline else None
    credentials: dict[str, Any] = {}
    if settings.provider == "vertex":
        token = access_token or _env(ACCESS_TOKEN_ENV)
        if token is None and api_key is None:
            token = placeholder
        credentials["access_token"] = token
        if token is None and settings.model != VERTEX_MULTIMODAL:
            credentials["api_key"] = api_key  # an express-mode key (Gemini models only)
        credentials["project"] = settings.project or (PLACEHOLDER_KEY if offline else None)
        credentials["location"] = settings.location
    elif settings.provider == "gemini":
        credentials["api_key"] = api_key or _env(*GEMINI_KEY_ENVS) or placeholder
        credentials["vertexai"] = False
    else:
        credentials["api_key"] = api_key or _env("DASHSCOPE_API_KEY") or placeholder
    return build(
        settings.provider,
        model=settings.model,
        dimensions=settings.dimension,
        base_url=base_url,
        **credentials,
        **runtime,
    )


def close_embedder(embedder: Embedder) -> None:
    """Release the connection pools of the embedders that keep them."""
    close = getattr(embedder, "close", None)
    if callable(close):
        close()


def endpoint(settings: EmbedderSettings, base_url: str | None) -> str:
    """Where ``settings``' embedding requests go: ``base_url``, else the service's host."""
    if settings.provider == "dashscope":
        from ..providers.dashscope import api_base_url

        return api_base_url(base_url)
    if base_url:
        return base_url.rstrip("/")
    if settings.provider == "vertex":
        return f"https://{settings.location or 'us-central1'}-aiplatform.googleapis.com"
    return GEMINI_URL


def capabilities(embedder: Embedder) -> Capabilities:
    """What ``embedder``'s model embeds, from the provider's own model tables."""
    from ..providers.gemini import GeminiEmbedder

    if isinstance(embedder, GeminiEmbedder):
        spec = embedder.spec
        multimodal = spec.multimodal
        return Capabilities(
            _TEXT_CHARS,
            multimodal,
            multimodal,
            multimodal,
            multimodal,
            audio_window_sec=spec.max_audio_seconds if multimodal else None,
        )
    from ..providers.vertex_multimodal import (
        MIN_INTERVAL_SEC,
        VIDEO_DIMENSION,
        VertexMultiModalEmbedder,
    )

    if isinstance(embedder, VertexMultiModalEmbedder):
        # Video vectors are always 1,408-dimensional: they fit one collection only with
        # text and image vectors of the same size.
        video = embedder.dimension == VIDEO_DIMENSION
        return Capabilities(
            _VERTEX_TEXT_CHARS, True, video, False, False, min_video_interval_sec=MIN_INTERVAL_SEC
        )
    from ..providers.dashscope import DashScopeEmbedder

    if isinstance(embedder, DashScopeEmbedder):
        return Capabilities(_TEXT_CHARS, True, True, False, embedder.spec.fused)
    raise ConfigurationError(f"no indexing rules for {type(embedder).__name__}")


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None
