"""Fidelity against REAL recorded Gemini/Vertex traffic (../shared/wire-samples).

For each recording, GeminiEmbedder makes the call the recording came from, against a
server that replays the recorded response. We assert that our request has the recorded
path and body (task prefixes, taskType, title, dimensions: exactly as the real service
received them) and that we parse the real response into the recorded vectors.
"""

from __future__ import annotations

import glob
import math
from collections.abc import Callable
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from omniembed import EmbeddingResult, GeminiEmbedder, NotFoundError, Task
from tests.wire_samples import Interaction, ReplayServer, load_interactions, require_samples

Call = Callable[[GeminiEmbedder], list[EmbeddingResult]]


def _docs(
    texts: list[str], titles: list[str | None] | None = None, task: Task = Task.RETRIEVAL_DOCUMENT
) -> Call:
    return lambda e: e.embed(texts, task=task, titles=titles)


def _query(text: str, task: Task = Task.RETRIEVAL_QUERY) -> Call:
    return lambda e: e.embed([text], task=task)


# recording → (model, embedder options, the call our user would make)
CASES: dict[str, tuple[str, dict[str, Any], Call]] = {
    "embed__TestGoogle.test_query.yaml": (
        "gemini-embedding-2-preview",
        {},
        _query("Hello, world!"),
    ),
    "embed__TestGoogle.test_query_with_task_type.yaml": (
        "gemini-embedding-2-preview",
        {},
        _query("Hello, world!"),
    ),
    "embed__TestGoogle.test_documents.yaml": (
        "gemini-embedding-2-preview",
        {},
        _docs(["hello", "world"]),
    ),
    "embed__TestGoogle.test_query_with_dimensions.yaml": (
        "gemini-embedding-2-preview",
        {"output_dimensionality": 768},
        _query("Hello, world!"),
    ),
    "embed__TestGoogle.test_instrumentation.yaml": (
        "gemini-embedding-2-preview",
        {"output_dimensionality": 768},
        _query("Hello, world!"),
    ),
    "embed__test_google_task_prefix[asymmetric-query].yaml": (
        "gemini-embedding-2",
        {},
        _query("Hello, world!", Task.QUESTION_ANSWERING),
    ),
    "embed__test_google_task_prefix[default-query].yaml": (
        "gemini-embedding-2",
        {},
        lambda e: e.embed(["Hello, world!"], task="retrieval_query"),
    ),
    "embed__test_google_task_prefix[asymmetric-document-with-title].yaml": (
        "gemini-embedding-2",
        {},
        _docs(["hello"], ["Greeting"]),
    ),
    "embed__test_google_task_prefix[asymmetric-document-no-title].yaml": (
        "gemini-embedding-2",
        {},
        _docs(["hello", "world"]),
    ),
    "embed__test_google_task_prefix[asymmetric-document-empty-title].yaml": (
        "gemini-embedding-2",
        {},
        _docs(["hello"], [""]),
    ),
    "embed__test_google_task_prefix[raw-passthrough].yaml": (
        "gemini-embedding-2",
        {},
        _docs(["title: custom | text: hello"]),
    ),
    "embed__test_google_task_prefix[symmetric-query].yaml": (
        "gemini-embedding-2",
        {},
        _query("hello", Task.CLASSIFICATION),
    ),
    "embed__test_google_task_prefix[task-type-ignored-on-embedding-2].yaml": (
        "gemini-embedding-2",
        {},
        _query("hello", Task.CLASSIFICATION),
    ),
    "embed__test_google_task_prefix[symmetric-document-ignores-title].yaml": (
        "gemini-embedding-2",
        {},
        _docs(["hello"], ["Greeting"], Task.CLUSTERING),
    ),
    "embed__test_google_task_prefix[symmetric-sentence-similarity-ignores-title].yaml": (
        "gemini-embedding-2",
        {},
        _docs(["hello"], ["Greeting"], Task.SEMANTIC_SIMILARITY),
    ),
    "embed__test_google_task_prefix[task-ignored-on-other-model].yaml": (
        "gemini-embedding-2-preview",
        {},
        _query("hello"),
    ),
    "embed__test_google_task_prefix_vertex.yaml": (
        "gemini-embedding-2",
        {"vertexai": True},
        _query("Hello, world!", Task.QUESTION_ANSWERING),
    ),
}


def recording(name: str) -> list[Interaction]:
    """The interactions of one recording file (names contain glob metacharacters)."""
    found = load_interactions("gemini/" + glob.escape(name))
    assert found, f"no recording named {name}"
    return found


def _embedder(model: str, base_url: str, options: dict[str, Any]) -> GeminiEmbedder:
    options = {"max_retries": 0, **options}
    if options.get("vertexai"):
        return GeminiEmbedder(
            model,
            project="pydantic-ai",
            location="global",
            credentials=Credentials(token="t"),
            base_url=base_url,
            **options,
        )
    return GeminiEmbedder(model, api_key="test-key", base_url=base_url, **options)


@pytest.mark.parametrize("name", sorted(CASES))
def test_request_and_response_match_the_recording(name: str) -> None:
    require_samples()
    model, options, call = CASES[name]
    recorded = recording(name)
    with ReplayServer(recorded) as server:
        results = call(_embedder(model, server.base_url, {**options, "normalize": False}))
    assert len(server.received) == len(recorded)
    for got, interaction in zip(server.received, recorded, strict=True):
        assert got.path == interaction.path
        assert got.json == interaction.body
    expected = [e["values"] for e in _recorded_vectors(recorded[0].response)]
    assert len(results) == len(expected)
    for result, values in zip(results, expected, strict=True):
        assert result.vector == pytest.approx(values, rel=1e-6)


def _recorded_vectors(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "embedding" in body:
        return [body["embedding"]]
    if "predictions" in body:
        return [p["embeddings"] for p in body["predictions"]]
    return list(body["embeddings"])


def test_renormalizing_a_recorded_truncated_vector_keeps_its_direction() -> None:
    require_samples()
    name = "embed__TestGoogle.test_query_with_dimensions.yaml"
    recorded = recording(name)
    raw = recorded[0].response["embeddings"][0]["values"]
    # This recording (gemini-embedding-2-preview) came back unit-length already; for
    # gemini-embedding-001 only the full 3,072 vector is. Re-normalizing is idempotent, so
    # the client does it for every truncated vector and must keep the direction.
    with ReplayServer(recorded) as server:
        embedder = _embedder(
            "gemini-embedding-2-preview", server.base_url, {"output_dimensionality": 768}
        )
        vector = embedder.embed_query("Hello, world!")
    assert math.hypot(*vector) == pytest.approx(1.0, abs=1e-6)  # unit at float32 precision
    dot = sum(a * b for a, b in zip(vector, raw, strict=True))
    cosine = dot / (math.hypot(*raw) * math.hypot(*vector))
    assert cosine == pytest.approx(1.0, abs=1e-9)  # same direction


def test_recorded_not_found_error_becomes_a_typed_error() -> None:
    require_samples()
    recorded = recording("embed__TestGoogle.test_embed_error.yaml")
    with ReplayServer(recorded) as server:
        embedder = _embedder("nonexistent-model", server.base_url, {})
        with pytest.raises(NotFoundError, match="nonexistent-model is not found"):
            embedder.embed_query("Hello, world!")
    assert server.received[0].json == recorded[0].body


def test_recorded_vertex_predict_response_is_parsed() -> None:
    """The Vertex :predict recording for gemini-embedding-001 parses, whichever route the
    installed google-genai picks."""
    require_samples()
    recorded = recording("embed__TestGoogle.test_vertex_query.yaml")
    with ReplayServer(recorded) as server:
        embedder = _embedder("gemini-embedding-001", server.base_url, {"vertexai": True})
        vector = embedder.embed_query("Hello, world!")
    expected = recorded[0].response["predictions"][0]["embeddings"]["values"]
    assert vector == pytest.approx(expected, rel=1e-6)
    got = server.received[0]
    if got.path.endswith(":predict"):  # google-genai 1.64-2.x: exactly the recorded request
        assert got.json == recorded[0].body
    else:  # google-genai 3.x sends gemini-embedding-001 to :embedContent on Vertex
        assert got.json == {
            "content": {"parts": [{"text": "Hello, world!"}]},
            "embedContentConfig": {"taskType": "RETRIEVAL_QUERY"},
        }
