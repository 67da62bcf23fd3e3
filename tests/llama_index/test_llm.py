"""`GeminiMultiModalLLM` against the emulator: chat/complete/stream (sync and async), every
content block, the Files API path, safety errors, usage, metadata and serialization, and
as the LLM of a `MultiModalVectorStoreIndex` query engine."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    VideoBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.indices import MultiModalVectorStoreIndex
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import ImageNode, TextNode
from llama_index.core.storage import StorageContext
from llama_index.core.vector_stores import SimpleVectorStore

from omniembed import BlockedContentError
from omniembed.emulator import Emulator
from omniembed.llama_index import GeminiMultiModalEmbedding, GeminiMultiModalLLM, VideoClipBlock
from tests import media_factory as make
from tests.test_gemini_llm import generate_requests, sent_parts

DATA = Path(__file__).parent.parent / "data"
KEY = "FAKE-LLM-KEY-4410aa"
CONTEXT = (
    "The Cape Nord lighthouse was built in 1874. Its lamp is visible for twenty nautical "
    "miles. Grey seals rest on the rocks below it every spring."
)


def llm(emu: Emulator, **kw: Any) -> GeminiMultiModalLLM:
    return GeminiMultiModalLLM(api_key=KEY, base_url=emu.base_url, max_retries=2, **kw)


def test_chat_with_system_prompt_and_usage(emu: Emulator) -> None:
    response = llm(emu).chat(
        [
            ChatMessage(role=MessageRole.SYSTEM, content=f"Use this context: {CONTEXT}"),
            ChatMessage(role=MessageRole.USER, content="How far is the lamp visible?"),
        ]
    )
    assert "twenty nautical miles" in (response.message.content or "")
    assert response.message.role == MessageRole.ASSISTANT
    assert response.additional_kwargs["prompt_tokens"] > 0
    assert response.additional_kwargs["completion_tokens"] > 0
    assert response.raw["usage_metadata"]["prompt_token_count"] > 0
    body = generate_requests(emu)[0].json
    assert "1874" in body["systemInstruction"]["parts"][0]["text"]


def test_every_block_type_reaches_the_wire(emu: Emulator) -> None:
    message = ChatMessage(
        role=MessageRole.USER,
        blocks=[
            TextBlock(text="Describe all of it."),
            ImageBlock(path=DATA / "red_apple.png"),
            ImageBlock(image=make.jpeg((0, 90, 0)), image_mimetype="image/jpeg"),
            DocumentBlock(path=DATA / "lighthouse.pdf"),
            AudioBlock(path=DATA / "foghorn.wav"),
            VideoBlock(path=DATA / "harbour.mp4", fps=2),
            VideoClipBlock(path=DATA / "harbour.mp4", start_offset_sec=3, end_offset_sec=6),
        ],
    )
    answer = llm(emu).chat([message]).message.content or ""
    parts = sent_parts(emu)
    assert [p["inlineData"]["mimeType"] for p in parts[:6]] == [
        "image/png",
        "image/jpeg",
        "application/pdf",
        "audio/wav",
        "video/mp4",
        "video/mp4",
    ]
    assert parts[4]["videoMetadata"] == {"fps": 2}
    assert parts[5]["videoMetadata"] == {"startOffset": "3s", "endOffset": "6s"}
    assert parts[6] == {"text": "Describe all of it."}
    assert "application/pdf 3 pages" in answer
    assert "video/mp4 3s-6s" in answer


def test_complete_takes_image_documents(emu: Emulator) -> None:
    image = ImageNode(image_path=str(DATA / "blue_sea.png"))
    response = llm(emu).complete("What colour is it?", image_documents=[image])
    assert response.text
    parts = sent_parts(emu)
    assert parts[0]["inlineData"]["mimeType"] == "image/png"
    assert parts[1] == {"text": "What colour is it?"}


def test_stream_chat_and_stream_complete(emu: Emulator) -> None:
    model = llm(emu)
    question = ChatMessage(role=MessageRole.USER, content=f"{CONTEXT} When was it built?")
    chunks = list(model.stream_chat([question]))
    assert len(chunks) >= 2
    assert chunks[-1].message.content == "".join(c.delta or "" for c in chunks)
    assert "1874" in (chunks[-1].message.content or "")
    completions = list(model.stream_complete(f"{CONTEXT} What rests on the rocks?"))
    assert "seals" in completions[-1].text.lower()


async def test_async_methods_do_not_block_each_other(emu: Emulator) -> None:
    model = llm(emu)
    emu.latency_ms = 150
    question = [ChatMessage(role=MessageRole.USER, content=f"{CONTEXT} seals?")]
    loop = asyncio.get_running_loop()
    started = loop.time()
    chat, completion = await asyncio.gather(
        model.achat(question), model.acomplete(f"{CONTEXT} lamp?")
    )
    assert loop.time() - started < 0.29  # both in flight at once, not one after the other
    assert "seals" in (chat.message.content or "").lower()
    assert "twenty" in completion.text
    stream = await model.astream_chat(question)
    deltas = [c.delta async for c in stream]
    assert "".join(d or "" for d in deltas)
    completion_stream = await model.astream_complete("hello")
    assert [c async for c in completion_stream]


def test_sync_chat_inside_a_running_loop(emu: Emulator) -> None:
    async def inside() -> str:
        return llm(emu).complete("hello").text

    assert asyncio.run(inside())


def test_large_video_goes_through_the_files_api(emu: Emulator) -> None:
    model = llm(emu)
    model.generator.inline_limit_bytes = 100
    model.generator.file_poll_interval = 0.02
    model.chat(
        [
            ChatMessage(
                role=MessageRole.USER,
                blocks=[VideoBlock(path=DATA / "harbour.mp4"), TextBlock(text="What happens?")],
            )
        ]
    )
    assert any(r.path.startswith("/upload/") for r in emu.requests)
    assert "/files/" in sent_parts(emu)[0]["fileData"]["fileUri"]


def test_safety_blocks_raise_typed_errors(emu: Emulator) -> None:
    model = llm(emu)
    with pytest.raises(BlockedContentError) as prompt:
        model.complete("EMULATOR_BLOCK_PROMPT now")
    assert prompt.value.stage == "prompt"
    with pytest.raises(BlockedContentError) as response:
        list(model.stream_complete("EMULATOR_BLOCK_RESPONSE now"))
    assert response.value.stage == "response"


def test_generation_settings_and_per_call_overrides(emu: Emulator) -> None:
    model = llm(
        emu,
        temperature=0.1,
        max_tokens=40,
        top_p=0.5,
        top_k=3,
        stop_sequences=["###"],
        safety_settings={"HARM_CATEGORY_HATE_SPEECH": "BLOCK_ONLY_HIGH"},
    )
    model.complete("hi", temperature=0.9)
    body = generate_requests(emu)[0].json
    assert body["generationConfig"] == {
        "temperature": 0.9,
        "topP": 0.5,
        "topK": 3,
        "maxOutputTokens": 40,
        "stopSequences": ["###"],
    }
    assert body["safetySettings"][0]["threshold"] == "BLOCK_ONLY_HIGH"


def test_metadata_without_network_and_token_counting(emu: Emulator) -> None:
    model = GeminiMultiModalLLM("gemini-2.5-pro", api_key=KEY, base_url=emu.base_url)
    meta = model.metadata
    assert meta.context_window == 1_048_576 and meta.num_output == 65_536
    assert meta.is_chat_model and meta.model_name == "gemini-2.5-pro"
    assert emu.requests == []
    counter = TokenCountingHandler()
    model.callback_manager = CallbackManager([counter])
    model.complete(f"{CONTEXT} when built?")
    assert counter.prompt_llm_token_count > 0
    assert counter.completion_llm_token_count > 0


def test_serialization_never_holds_the_key(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    model = llm(emu, temperature=0.2)
    assert KEY not in model.to_json()
    assert KEY not in str(model.to_dict())
    assert KEY not in repr(model)
    blob = pickle.dumps(model)
    assert KEY.encode() not in blob
    monkeypatch.setenv("GEMINI_API_KEY", KEY)
    restored = pickle.loads(blob)
    assert restored.temperature == 0.2
    assert restored.complete("hello").text


def test_as_the_llm_of_a_multimodal_query_engine(emu: Emulator) -> None:
    embed = GeminiMultiModalEmbedding(api_key=KEY, base_url=emu.base_url)
    nodes = [
        TextNode(text=CONTEXT, metadata={"file_name": "notes.md"}),
        ImageNode(image_path=str(DATA / "red_apple.png"), text="a red apple"),
    ]
    storage = StorageContext.from_defaults(
        vector_store=SimpleVectorStore(), image_store=SimpleVectorStore()
    )
    index = MultiModalVectorStoreIndex(
        nodes, storage_context=storage, embed_model=embed, image_embed_model=embed
    )
    # MultiModalVectorStoreIndex.as_query_engine is deprecated (llama-index-core 0.14.23)
    engine = RetrieverQueryEngine.from_args(
        index.as_retriever(similarity_top_k=1, image_similarity_top_k=1),
        llm=llm(emu),
        multimodal=True,
    )
    answer = engine.query("When was the lighthouse built?")
    assert "1874" in str(answer)
    parts = sent_parts(emu)
    assert any("inlineData" in p for p in parts), "the retrieved image goes to the LLM"
