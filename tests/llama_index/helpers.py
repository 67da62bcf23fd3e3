"""Shared builders for the LlamaIndex adapter tests: each embedding class pointed at the
emulator, Qdrant local-mode stores, and readers of the emulator's request log."""

from __future__ import annotations

import math
from typing import Any

from llama_index.core import StorageContext
from llama_index.vector_stores.qdrant import QdrantVectorStore
from qdrant_client import AsyncQdrantClient, QdrantClient

from omniembed.emulator import Emulator, RequestRecord
from omniembed.llama_index import (
    DashScopeMultiModalEmbedding,
    GeminiMultiModalEmbedding,
    OmniMultiModalEmbedding,
    VertexMultiModalEmbedding,
)

GEMINI_KEY = "AIza-FAKE-gemini-key-4f1d9c"
DASHSCOPE_KEY = "sk-FAKE-dashscope-key-8e2a71"
VERTEX_TOKEN = "ya29.FAKE-vertex-token-77b3"
SECRETS = (GEMINI_KEY, DASHSCOPE_KEY, VERTEX_TOKEN)

DASHSCOPE_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
PROVIDERS = ("gemini", "vertex", "dashscope")


def gemini(
    emu: Emulator, model: str = "gemini-embedding-2", **kw: Any
) -> GeminiMultiModalEmbedding:
    return GeminiMultiModalEmbedding(
        model_name=model, api_key=GEMINI_KEY, base_url=emu.base_url, **kw
    )


def vertex(emu: Emulator, **kw: Any) -> VertexMultiModalEmbedding:
    kw.setdefault("access_token", VERTEX_TOKEN)
    return VertexMultiModalEmbedding(
        project="proj", location="us-central1", base_url=emu.base_url, **kw
    )


def dashscope(emu: Emulator, **kw: Any) -> DashScopeMultiModalEmbedding:
    return DashScopeMultiModalEmbedding(
        api_key=DASHSCOPE_KEY, base_url=emu.base_url + "/api/v1", **kw
    )


def build(provider: str, emu: Emulator, **kw: Any) -> OmniMultiModalEmbedding:
    return {"gemini": gemini, "vertex": vertex, "dashscope": dashscope}[provider](emu, **kw)


def qdrant_store(client: QdrantClient, name: str) -> QdrantVectorStore:
    return QdrantVectorStore(client=client, collection_name=name)


def storage(client: QdrantClient, multimodal: bool = False) -> StorageContext:
    if multimodal:
        return StorageContext.from_defaults(
            vector_store=qdrant_store(client, "text"), image_store=qdrant_store(client, "images")
        )
    return StorageContext.from_defaults(vector_store=qdrant_store(client, "docs"))


def async_storage(client: AsyncQdrantClient, name: str = "docs") -> StorageContext:
    return StorageContext.from_defaults(
        vector_store=QdrantVectorStore(aclient=client, collection_name=name)
    )


# --- the request log -------------------------------------------------------------------------


def camel(value: Any) -> Any:
    """google-genai writes some keys in snake_case; compare one canonical form."""
    if isinstance(value, dict):
        return {_camel_key(k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


def embed_calls(emu: Emulator) -> list[RequestRecord]:
    """The embedding requests the emulator received (any provider), in order."""
    return [
        r
        for r in emu.requests
        if r.route in ("batchEmbedContents", "embedContent", "predict") or r.path == DASHSCOPE_PATH
    ]


def gemini_requests(emu: Emulator) -> list[dict[str, Any]]:
    """Every per-input Gemini request (batchEmbedContents entries), in order."""
    out: list[dict[str, Any]] = []
    for record in emu.requests:
        if record.route == "batchEmbedContents":
            out.extend(camel(record.json)["requests"])
    return out


def gemini_texts(emu: Emulator) -> list[str]:
    return [
        part["text"]
        for request in gemini_requests(emu)
        for part in request["content"]["parts"]
        if "text" in part
    ]


def vertex_instances(emu: Emulator) -> list[dict[str, Any]]:
    return [r.json["instances"][0] for r in emu.requests if r.route == "predict"]


def dashscope_contents(emu: Emulator) -> list[dict[str, Any]]:
    return [
        c for r in emu.requests if r.path == DASHSCOPE_PATH for c in r.json["input"]["contents"]
    ]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))
