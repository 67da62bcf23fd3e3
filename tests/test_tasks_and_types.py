"""Task parsing, gemini-embedding-2 prefixes, VideoSegmentConfig validation, results."""

from __future__ import annotations

import pytest

from omniembed import (
    Embedding,
    EmbeddingResult,
    InvalidParameterError,
    QuotaExceededError,
    Task,
    VideoSegmentConfig,
)
from omniembed.providers.gemini_tasks import prefix_text, title_for_task_type


def test_task_parse_accepts_names_in_any_case() -> None:
    assert Task.parse("retrieval_query") is Task.RETRIEVAL_QUERY
    assert Task.parse(Task.CLUSTERING) is Task.CLUSTERING
    assert Task.parse(None, Task.RETRIEVAL_DOCUMENT) is Task.RETRIEVAL_DOCUMENT
    with pytest.raises(InvalidParameterError, match="RETRIEVAL_QUERY"):
        Task.parse("search")
    assert len(Task) == 8


@pytest.mark.parametrize(
    ("task", "title", "expected"),
    [
        (Task.RETRIEVAL_QUERY, None, "task: search result | query: hi"),
        (Task.QUESTION_ANSWERING, None, "task: question answering | query: hi"),
        (Task.FACT_VERIFICATION, None, "task: fact checking | query: hi"),
        (Task.CODE_RETRIEVAL_QUERY, None, "task: code retrieval | query: hi"),
        (Task.RETRIEVAL_DOCUMENT, "Greeting", "title: Greeting | text: hi"),
        (Task.RETRIEVAL_DOCUMENT, None, "title: none | text: hi"),
        (Task.RETRIEVAL_DOCUMENT, "", "title: none | text: hi"),
        (Task.CLASSIFICATION, "ignored", "task: classification | query: hi"),
        (Task.CLUSTERING, None, "task: clustering | query: hi"),
        (Task.SEMANTIC_SIMILARITY, "ignored", "task: sentence similarity | query: hi"),
    ],
)
def test_gemini_embedding_2_prefixes(task: Task, title: str | None, expected: str) -> None:
    assert prefix_text("hi", task, title) == expected


def test_already_prefixed_text_passes_through() -> None:
    raw = "title: custom | text: hello"
    assert prefix_text(raw, Task.RETRIEVAL_QUERY, None) == raw


def test_title_only_with_retrieval_document() -> None:
    assert title_for_task_type(Task.RETRIEVAL_DOCUMENT, " T ") == "T"
    assert title_for_task_type(Task.RETRIEVAL_QUERY, "T") is None
    assert title_for_task_type(Task.RETRIEVAL_DOCUMENT, "  ") is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_offset_sec": -1}, "start_offset_sec must be >= 0"),
        ({"start_offset_sec": 10, "end_offset_sec": 5}, "greater than start"),
        ({"interval_sec": 0}, "interval_sec must be > 0"),
        ({"interval_sec": float("nan")}, "number of seconds"),
        ({"end_offset_sec": "ten"}, "number of seconds"),
    ],
)
def test_video_segment_config_validation(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        VideoSegmentConfig(**kwargs)  # type: ignore[arg-type]


def test_video_result_holds_segments() -> None:
    result = EmbeddingResult(
        0, [Embedding([1.0], "video", 0, 16), Embedding([0.5], "video", 16, 32)]
    )
    assert [e.start_offset_sec for e in result.embeddings] == [0, 16]
    with pytest.raises(ValueError, match="one per segment"):
        _ = result.vector


def test_failed_result_raises_its_error_on_access() -> None:
    result = EmbeddingResult(2, error=QuotaExceededError("slow down"))
    assert not result.ok
    with pytest.raises(QuotaExceededError):
        _ = result.vector
