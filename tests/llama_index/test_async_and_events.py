"""Native async inside a running loop (never blocking it), sync inside a running loop, and
the instrumentation events and callbacks LlamaIndex's own embeddings emit."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

from llama_index.core import VectorStoreIndex
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.embedding import (
    EmbeddingEndEvent,
    EmbeddingStartEvent,
)
from llama_index.core.llms import MockLLM
from llama_index.core.schema import TextNode
from qdrant_client import AsyncQdrantClient

from omniembed.emulator import Emulator
from tests import media_factory as make
from tests.llama_index.helpers import (
    async_storage,
    embed_calls,
    gemini,
    gemini_requests,
    gemini_texts,
    vertex,
)


async def test_aquery_and_async_index_inside_a_running_loop(emu: Emulator) -> None:
    embed = gemini(emu, model="gemini-embedding-001")
    client = AsyncQdrantClient(location=":memory:")
    index = VectorStoreIndex([], storage_context=async_storage(client), embed_model=embed)
    await index.ainsert_nodes(
        [TextNode(text=t) for t in ("tides follow the moon", "bread needs yeast")]
    )
    assert [r["taskType"] for r in gemini_requests(emu)] == ["RETRIEVAL_DOCUMENT"] * 2
    emu.clear_requests()
    engine = index.as_query_engine(llm=MockLLM(), similarity_top_k=1)
    response = await engine.aquery("what does yeast do to bread")
    assert response.source_nodes[0].node.get_content() == "bread needs yeast"
    assert [r["taskType"] for r in gemini_requests(emu)] == ["RETRIEVAL_QUERY"]
    await client.close()


async def test_async_batch_does_not_block_the_loop(emu: Emulator) -> None:
    embed = gemini(emu, max_concurrency=2, output_dimensionality=128)
    emu.latency_ms = 300
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    vectors = await embed.aget_text_embedding_batch([f"text {i}" for i in range(150)])
    elapsed = time.monotonic() - started
    task.cancel()
    assert len(vectors) == 150
    assert len(embed_calls(emu)) == 2  # 100 + 50, sent concurrently
    assert elapsed >= 0.3  # the emulator's latency was in effect
    # The loop kept running while the requests were in flight: a blocking call would leave
    # the ticker at 0 or 1 (about 30 are expected; generous for loaded CI machines).
    assert ticks >= 8, (ticks, elapsed)


async def test_async_image_and_video_paths(emu: Emulator) -> None:
    embed = vertex(emu)
    images = await embed.aget_image_embedding_batch(
        [io.BytesIO(make.png()), io.BytesIO(make.jpeg())]
    )
    assert len(images) == 2 and len(images[0]) == 1408
    segments = await embed.aget_video_embedding(make.video(seconds=8, fps=1, size=16))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in segments] == [(0.0, 8.0)]


async def test_sync_methods_work_inside_a_running_loop(emu: Emulator) -> None:
    embed = gemini(emu)
    assert len(embed.get_text_embedding_batch(["one", "two"])) == 2
    assert len(embed.get_query_embedding("q")) == 3072
    assert len(embed.get_image_embedding(io.BytesIO(make.png()))) == 3072


class _Events(BaseEventHandler):
    events: list[BaseEvent]

    @classmethod
    def class_name(cls) -> str:
        return "TestEvents"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


def _collect() -> tuple[Any, _Events]:
    root = get_dispatcher()
    handler = _Events(events=[])
    root.add_event_handler(handler)
    return root, handler


def test_batch_emits_one_start_and_end_event_for_the_whole_list(emu: Emulator) -> None:
    debug = LlamaDebugHandler()
    embed = gemini(emu, callback_manager=CallbackManager([debug]))
    root, handler = _collect()
    try:
        texts = [f"text {i}" for i in range(250)]
        vectors = embed.get_text_embedding_batch(texts)
        embed.get_query_embedding("a query")
        embed.get_image_embedding_batch([io.BytesIO(make.png()), io.BytesIO(make.png((0, 0, 200)))])
    finally:
        root.event_handlers.remove(handler)
    starts = [e for e in handler.events if isinstance(e, EmbeddingStartEvent)]
    ends = [e for e in handler.events if isinstance(e, EmbeddingEndEvent)]
    assert len(starts) == len(ends) == 3  # texts, query, images
    assert starts[0].model_dict["model_name"] == "gemini-embedding-2"
    assert starts[0].model_dict["task_type"] == "RETRIEVAL_DOCUMENT"
    assert ends[0].chunks == texts and ends[0].embeddings == vectors
    assert ends[1].chunks == ["a query"]
    assert ends[2].chunks == [
        f"<{len(make.png())} bytes>",
        f"<{len(make.png((0, 0, 200)))} bytes>",
    ]
    assert len([r for r in emu.requests if r.route == "batchEmbedContents"]) == 5  # 3 + 1 + 1
    pairs = debug.get_event_pairs(CBEventType.EMBEDDING)
    assert len(pairs) == 3
    assert pairs[0][1].payload is not None and len(pairs[0][1].payload["chunks"]) == 250


async def test_async_batch_emits_events(emu: Emulator) -> None:
    embed = gemini(emu)
    root, handler = _collect()
    try:
        await embed.aget_text_embedding_batch(["a", "b", "c"])
        await embed.aget_query_embedding("q")
    finally:
        root.event_handlers.remove(handler)
    ends = [e for e in handler.events if isinstance(e, EmbeddingEndEvent)]
    assert [e.chunks for e in ends] == [["a", "b", "c"], ["q"]]
    assert gemini_texts(emu)[-1] == "task: search result | query: q"
