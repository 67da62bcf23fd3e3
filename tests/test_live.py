"""Against the real Gemini API: run with GEMINI_API_KEY set (skipped otherwise).

GEMINI_API_KEY=... pytest -m live

A quick smoke test; the full live check of every provider is the conformance suite,
``pytest tests/conformance --target live`` (docs/conformance.md).
"""

from __future__ import annotations

import math
import os

import pytest

from omniembed import GeminiEmbedder, Media, NotFoundError, Task
from tests import media_factory as make

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")),
        reason="live test: set GEMINI_API_KEY to run against the real Gemini API",
    ),
]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def test_live_text_retrieval_ranks_the_relevant_document_first() -> None:
    embedder = GeminiEmbedder("gemini-embedding-2", output_dimensionality=768)
    docs = embedder.embed(
        ["The Eiffel Tower is in Paris.", "Photosynthesis turns light into sugar."],
        task=Task.RETRIEVAL_DOCUMENT,
        titles=["Paris", "Biology"],
    )
    query = embedder.embed_query("Where is the Eiffel Tower?")
    assert cosine(query, docs[0].vector) > cosine(query, docs[1].vector)
    assert math.hypot(*query) == pytest.approx(1.0, abs=1e-6)


def test_live_image_and_001_batch() -> None:
    image = GeminiEmbedder("gemini-embedding-2").embed([Media.from_bytes(make.image())])
    assert len(image[0].vector) == 3072
    texts = [f"sentence number {i}" for i in range(120)]
    vectors = GeminiEmbedder("gemini-embedding-001").embed(texts)
    assert len(vectors) == 120


def test_live_unknown_model() -> None:
    with pytest.raises(NotFoundError):
        GeminiEmbedder("gemini-embedding-does-not-exist").embed(["x"])
