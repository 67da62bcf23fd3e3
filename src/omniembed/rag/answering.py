"""`ask`: retrieve across modalities from a store and answer with Gemini, with citations."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import MissingCredentialsError
from ..generation import GenerationConfig
from ..providers.base import Embedder
from ..providers.gemini_llm import GeminiGenerator
from ..tasks import Task
from .defaults import DEFAULT_LLM_MODEL, DEFAULT_TOP_K
from .embedders import (
    ACCESS_TOKEN_ENV,
    GEMINI_KEY_ENVS,
    PLACEHOLDER_KEY,
    EmbedderSettings,
    build_embedder,
    close_embedder,
)
from .hits import Answer, Hit
from .manifest import Manifest
from .pieces import GROUPS
from .prompt import SYSTEM, user_message
from .store import Store
from .vector_index import ScoredPiece


def search(
    question: str,
    store_dir: str | os.PathLike[str],
    *,
    top_k: int = DEFAULT_TOP_K,
    base_url: str | None = None,
    api_key: str | None = None,
    access_token: str | None = None,
    project: str | None = None,
    location: str | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    requests_per_day: float | None = None,
    tier: str | None = None,
    on_wait: Callable[[str], None] | None = None,
    max_retries: int | None = None,
) -> list[Hit]:
    """The ``top_k`` best pieces of each group (text; images and PDF pages; video and
    audio), merged best first. The query is embedded with the store's model (query task),
    under the quota ``tier`` and the figures give (as for `index_folder`); ``on_wait`` is
    told of waits for the quota and of retries, a line of text each.
    """
    quota = {
        "requests_per_minute": requests_per_minute,
        "tokens_per_minute": tokens_per_minute,
        "requests_per_day": requests_per_day,
        "tier": tier,
        "on_wait": on_wait,
        "max_retries": max_retries,
    }
    with Store.open(store_dir) as store:
        embedder = _query_embedder(store, base_url, api_key, access_token, project, location, quota)
        try:
            return _search(store, embedder, question, top_k)
        finally:
            close_embedder(embedder)


def ask(
    question: str,
    store_dir: str | os.PathLike[str],
    *,
    top_k: int = DEFAULT_TOP_K,
    base_url: str | None = None,
    llm_base_url: str | None = None,
    llm_model: str = DEFAULT_LLM_MODEL,
    api_key: str | None = None,
    llm_api_key: str | None = None,
    access_token: str | None = None,
    vertexai: bool | None = None,
    project: str | None = None,
    location: str | None = None,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    requests_per_day: float | None = None,
    tier: str | None = None,
    on_wait: Callable[[str], None] | None = None,
    max_retries: int | None = None,
) -> Answer:
    """Retrieve (see `search`) and answer with a Gemini model, citing files, pages and
    timestamps.

    ``base_url`` serves the query embedding and, unless ``llm_base_url`` is given, the
    LLM. ``api_key`` is the embedding provider's key; the LLM uses ``llm_api_key`` (else
    ``GEMINI_API_KEY``; for a Gemini-built store also ``api_key``). The LLM runs on Vertex
    AI for Vertex-built stores or with ``vertexai=True`` (``project``/``location``). The
    query embedding works under the quota ``tier`` and the figures give, and ``on_wait``
    hears of its waits (see `search`).
    """
    quota = {
        "requests_per_minute": requests_per_minute,
        "tokens_per_minute": tokens_per_minute,
        "requests_per_day": requests_per_day,
        "tier": tier,
        "on_wait": on_wait,
        "max_retries": max_retries,
    }
    with Store.open(store_dir) as store:
        manifest = store.manifest
        # Build both clients first: missing credentials fail before any request.
        generator = _generator(
            manifest,
            llm_model=llm_model,
            base_url=llm_base_url or base_url,
            api_key=llm_api_key or (api_key if manifest.embedder.provider == "gemini" else None),
            access_token=access_token,
            vertexai=vertexai,
            project=project,
            location=location,
        )
        embedder = _query_embedder(store, base_url, api_key, access_token, project, location, quota)
        try:
            hits = _search(store, embedder, question, top_k)
        finally:
            close_embedder(embedder)
        root = Path(manifest.root)
    generation = generator.generate(
        [user_message(question, hits, root, follow_links=manifest.follow_links)],
        system=SYSTEM,
        config=GenerationConfig(temperature=0.0),
    )
    return Answer(question, generation.text, hits, generation.usage)


def _search(store: Store, embedder: Embedder, question: str, top_k: int) -> list[Hit]:
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    vector = embedder.embed([question], Task.RETRIEVAL_QUERY)[0].vector
    found: list[ScoredPiece] = []
    for group in GROUPS:
        found += store.search(vector, group, top_k)
    # Stable and total: equal scores never reorder between runs.
    found.sort(
        key=lambda s: (-s.score, s.piece.source, s.piece.page or 0, s.piece.start_offset_sec or 0)
    )
    return [
        Hit(
            rank=rank,
            modality=s.piece.modality,
            source=s.piece.source,
            page=s.piece.page,
            start_offset_sec=s.piece.start_offset_sec,
            end_offset_sec=s.piece.end_offset_sec,
            score=s.score,
            text=s.piece.text,
        )
        for rank, s in enumerate(found, start=1)
    ]


def _query_embedder(
    store: Store,
    base_url: str | None,
    api_key: str | None,
    access_token: str | None,
    project: str | None,
    location: str | None,
    quota: dict[str, Any],
) -> Embedder:
    stored = store.manifest.embedder
    settings = EmbedderSettings(
        stored.provider,
        stored.model,
        stored.dimension,
        project or stored.project,
        location or stored.location,
    )
    return build_embedder(
        settings,
        base_url=base_url,
        api_key=api_key,
        access_token=access_token,
        cache=store.cache_path,
        **quota,
    )


def _generator(
    manifest: Manifest,
    *,
    llm_model: str,
    base_url: str | None,
    api_key: str | None,
    access_token: str | None,
    vertexai: bool | None,
    project: str | None,
    location: str | None,
) -> GeminiGenerator:
    stored = manifest.embedder
    if vertexai if vertexai is not None else stored.provider == "vertex":
        token = access_token or os.environ.get(ACCESS_TOKEN_ENV)
        if token is None and api_key is None and base_url:
            token = PLACEHOLDER_KEY
        return GeminiGenerator(
            llm_model,
            vertexai=True,
            project=project or stored.project,
            location=location or stored.location,
            access_token=token,
            api_key=api_key if token is None else None,
            base_url=base_url,
        )
    key = api_key or next((os.environ[n] for n in GEMINI_KEY_ENVS if os.environ.get(n)), None)
    if key is None and base_url:
        key = PLACEHOLDER_KEY
    if key is None:
        built_with = (
            f" (this store was built with {stored.provider}; its answers still come from Gemini)"
            if stored.provider != "gemini"
            else ""
        )
        raise MissingCredentialsError(
            f"ask answers with a Gemini model and needs Gemini credentials{built_with}: set "
            "GEMINI_API_KEY (or pass --llm-api-key), use Vertex AI with --vertexai --project P, "
            "or pass --base-url for the emulator"
        )
    return GeminiGenerator(llm_model, api_key=key, vertexai=False, base_url=base_url)
