"""Every feature the README claims, written once, run against the emulator or the real APIs.

    pytest tests/conformance                      # the emulator (offline, the default)
    pytest tests/conformance --target live        # the real services, where keys are set
    pytest tests/conformance --target live --record cassettes/   # and save the traffic

Assertions are properties that hold on both targets: vector lengths, unit norms, typed
errors (never exact messages), a ranking only where the emulator's stand-in can rank (it
hashes words, so the relevant document shares words with the query). Inputs are tiny
(a few words, 8x8 images, a one-page PDF, 1 s of audio, 2 s of video).

Cost of a full live run (counted on the emulator target: the session summary line
``conformance: N requests ...`` prints the tally, and tests/conformance/test_recorder.py
fails when it drifts from `STATED_REQUESTS`): 34 requests — Gemini API 23 (embeddings,
generation, one Files API upload in two requests, one batch job), Vertex AI 5, DashScope 6
— plus GETs polling the batch job's and the upload's state (a few on the emulator; live,
one per 10 s until the job is done, at most 60; polls cost no tokens) — and about 4,000 input
tokens (a rough count: 4 characters of text a token, ~258 a media part) plus a few hundred
output tokens. At list prices that is well under US$0.01, and it stays inside the free
tiers' per-minute limits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest

from omniembed import (
    AuthenticationError,
    BlockedContentError,
    DashScopeEmbedder,
    GeminiEmbedder,
    InvalidParameterError,
    Media,
    NotFoundError,
    OmniEmbedError,
    Task,
    VertexMultiModalEmbedder,
)
from omniembed.errors import BatchJobTimeoutError
from omniembed.generation import GenerationConfig, MediaPart, Message, ToolSpec
from omniembed.providers.gemini_llm import GeminiGenerator
from tests import media_factory as make

from .conftest import Target

Gemini = Callable[..., GeminiEmbedder]
LLM = Callable[..., GeminiGenerator]
Vertex = Callable[..., VertexMultiModalEmbedder]
DashScope = Callable[..., DashScopeEmbedder]

DOCS = ["The Eiffel Tower stands in Paris.", "Photosynthesis turns light into sugar."]
QUERY = "Where does the Eiffel Tower stand?"


#: Requests a full run sends, state polls (GETs) not counted.
STATED_REQUESTS = 34


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (norm(a) * norm(b))


def user(*parts: Any) -> list[Message]:
    return [Message("user", list(parts))]


# --- Gemini API embeddings -------------------------------------------------------------------


def test_gemini_2_text_prefixes_rank_and_truncated_vectors_are_unit(gemini: Gemini) -> None:
    embedder = gemini("gemini-embedding-2", output_dimensionality=256)
    docs = embedder.embed(DOCS, task=Task.RETRIEVAL_DOCUMENT, titles=["Paris", "Biology"])
    query = embedder.embed_query(QUERY)
    assert [len(d.vector) for d in docs] == [256, 256] and len(query) == 256
    assert norm(query) == pytest.approx(1.0, abs=1e-6)
    assert cosine(query, docs[0].vector) > cosine(query, docs[1].vector)


def test_gemini_2_full_size_vector_is_normalized_by_the_service(gemini: Gemini) -> None:
    (result,) = gemini("gemini-embedding-2").embed(["tiny"], task=Task.CLUSTERING)
    assert len(result.vector) == 3072
    assert norm(result.vector) == pytest.approx(1.0, abs=1e-3)


def test_gemini_001_task_types_and_titles(gemini: Gemini) -> None:
    embedder = gemini("gemini-embedding-001", output_dimensionality=128)
    docs = embedder.embed(DOCS, task=Task.RETRIEVAL_DOCUMENT, titles=["Paris", None])
    query = embedder.embed_query(QUERY)
    similar = embedder.embed(["a cat"], task=Task.SEMANTIC_SIMILARITY)[0].vector
    for vector in (docs[0].vector, docs[1].vector, query, similar):
        assert len(vector) == 128
        assert norm(vector) == pytest.approx(1.0, abs=1e-6)
    assert cosine(query, docs[0].vector) > cosine(query, docs[1].vector)


def test_gemini_2_image_pdf_audio_video_and_a_mix(gemini: Gemini) -> None:
    embedder = gemini("gemini-embedding-2", output_dimensionality=128)
    results = embedder.embed(
        [
            Media.from_bytes(make.png(size=(8, 8))),
            Media.from_bytes(make.pdf(["one page"])),
            Media.from_bytes(make.wav(1.0)),
            Media.from_bytes(make.video(2.0, fps=2, size=32)),
            ["a red square", Media.from_bytes(make.jpeg(size=(8, 8)))],
        ]
    )
    assert all(r.ok for r in results)
    for result in results:
        for embedding in result.embeddings:
            assert len(embedding.vector) == 128
            assert norm(embedding.vector) == pytest.approx(1.0, abs=1e-6)


def test_gemini_errors_are_typed(gemini: Gemini) -> None:
    with pytest.raises(AuthenticationError):
        gemini(api_key="AIzaSyWrongKeyForConformance000000000000").embed(["x"])
    with pytest.raises(NotFoundError):
        gemini("gemini-embedding-does-not-exist").embed(["x"])
    with pytest.raises(InvalidParameterError):  # refused before any request
        gemini("gemini-embedding-2", output_dimensionality=5000)


def test_gemini_batch_job(gemini: Gemini, target: Target) -> None:
    embedder = gemini("gemini-embedding-001", output_dimensionality=64)
    job = embedder.submit_batch_job(["alpha", "beta"], task=Task.RETRIEVAL_DOCUMENT)
    assert job.name.startswith("batches/")
    # A real job may queue for minutes; the suite stays short and says so.
    try:
        job.wait(
            poll_interval=10 if target.live else 0.05,
            timeout=600 if target.live else 30,
            progress=False,
        )
    except BatchJobTimeoutError:
        pytest.skip(f"{job.name} still {job.state} after 10 min (check it later)")
    results = job.results()
    assert [len(r.vector) for r in results] == [64, 64]


# --- Gemini generation -----------------------------------------------------------------------


def test_generate_plain_and_with_system_instruction(llm: LLM) -> None:
    generator = llm()
    config = GenerationConfig(max_output_tokens=64, thinking_budget=0)
    answer = generator.generate(user("Say hello in one word."), config=config)
    assert answer.text.strip()
    assert answer.usage.prompt_tokens > 0
    told = generator.generate(
        user("Context: The lighthouse was built in 1874. When was it built?"),
        system="Answer in at most ten words.",
        config=config,
    )
    assert told.text.strip()
    assert told.finish_reason in ("STOP", "MAX_TOKENS")


def test_generate_stream(llm: LLM) -> None:
    config = GenerationConfig(max_output_tokens=64, thinking_budget=0)
    chunks = list(llm().stream(user("Count from one to five."), config=config))
    assert "".join(c.text for c in chunks).strip()
    assert chunks[-1].finish_reason in ("STOP", "MAX_TOKENS")


def test_generate_json_output(llm: LLM) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    config = GenerationConfig(response_schema=schema, max_output_tokens=64, thinking_budget=0)
    answer = llm().generate(user("Which city has the Eiffel Tower? Answer as JSON."), config=config)
    assert isinstance(json.loads(answer.text)["city"], str)


def test_generate_tool_call(llm: LLM) -> None:
    weather = ToolSpec(
        "get_weather",
        "Get the current weather for a city.",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    )
    config = GenerationConfig(tools=[weather], tool_choice="any", thinking_budget=0)
    answer = llm().generate(user("What is the weather in Paris?"), config=config)
    assert [call.name for call in answer.tool_calls] == ["get_weather"]
    assert isinstance(answer.tool_calls[0].args.get("city"), str)


def test_generate_with_safety_settings(llm: LLM) -> None:
    config = GenerationConfig(
        safety_settings={"HARM_CATEGORY_HATE_SPEECH": "BLOCK_LOW_AND_ABOVE"},
        max_output_tokens=32,
        thinking_budget=0,
    )
    try:
        answer = llm().generate(user("Name a colour."), config=config)
    except BlockedContentError:  # a typed error is also a conforming answer
        return
    assert answer.text.strip()


def test_generate_from_media_parts(llm: LLM) -> None:
    config = GenerationConfig(max_output_tokens=64, thinking_budget=0)
    answer = llm().generate(
        user(
            Media.from_bytes(make.png(size=(8, 8))),
            Media.from_bytes(make.pdf(["The password is blue."])),
            Media.from_bytes(make.wav(1.0)),
            MediaPart(Media.from_bytes(make.video(2.0, fps=2, size=32)), fps=1),
            "Describe these in one sentence.",
        ),
        config=config,
    )
    assert answer.text.strip()
    assert answer.usage.prompt_tokens > 0


def test_files_api_upload_then_generate(llm: LLM) -> None:
    generator = llm()
    ref = generator.upload_file(Media.from_bytes(make.pdf(["The ferry leaves at noon."])))
    assert ref.mime_type == "application/pdf"
    config = GenerationConfig(max_output_tokens=64, thinking_budget=0)
    answer = generator.generate(user(ref, "When does the ferry leave?"), config=config)
    assert answer.text.strip()


def test_generation_errors_are_typed(llm: LLM) -> None:
    with pytest.raises(NotFoundError):
        llm("gemini-does-not-exist-9").generate(user("hi"))
    with pytest.raises(AuthenticationError):
        llm(api_key="AIzaSyWrongKeyForConformance000000000000").generate(user("hi"))


# --- Vertex AI multimodalembedding@001 ------------------------------------------------------


def test_vertex_text_image_and_dimensions(vertex: Vertex) -> None:
    results = vertex(dimension=128).embed(["a red square", Media.from_bytes(make.png(size=(8, 8)))])
    assert [len(r.vector) for r in results] == [128, 128]
    full = vertex().embed(["a red square"])[0].vector
    assert len(full) == 1408


def test_vertex_video_segments(vertex: Vertex) -> None:
    (result,) = vertex(dimension=128).embed([Media.from_bytes(make.video(2.0, fps=2, size=32))])
    assert result.embeddings
    for segment in result.embeddings:
        assert len(segment.vector) == 1408  # the service ignores the dimension for video
        assert segment.end_offset_sec is not None and segment.start_offset_sec is not None


def test_vertex_errors_are_typed(vertex: Vertex) -> None:
    with pytest.raises(InvalidParameterError):  # 1408, 512, 256 or 128 only
        vertex(dimension=100)
    with pytest.raises(AuthenticationError):
        vertex(access_token="ya29.wrong-token").embed(["x"])


# --- DashScope ------------------------------------------------------------------------------


def test_dashscope_text_image_and_fused(dashscope: DashScope) -> None:
    image = Media.from_bytes(make.png(size=(64, 64)))
    separate = dashscope().embed(["a red square", image])
    sizes = {len(r.vector) for r in separate}
    assert len(sizes) == 1 and sizes.pop() > 0
    (fused,) = dashscope("qwen3-vl-embedding", dimension=256).embed([["a red square", image]])
    assert len(fused.vector) == 256


def test_dashscope_dimension_and_ranking(dashscope: DashScope) -> None:
    embedder = dashscope("qwen3-vl-embedding", dimension=256)
    docs = embedder.embed(DOCS)
    query = embedder.embed_query(QUERY)
    assert len(query) == 256
    assert cosine(query, docs[0].vector) > cosine(query, docs[1].vector)


def test_dashscope_errors_are_typed(dashscope: DashScope) -> None:
    with pytest.raises(AuthenticationError):
        dashscope(api_key="sk-wrongkeyforconformance000").embed(["x"])
    with pytest.raises(OmniEmbedError):
        dashscope("no-such-embedding-model", max_retries=0).embed(["x"])
    with pytest.raises(InvalidParameterError):
        dashscope("qwen3-vl-embedding", dimension=7)
