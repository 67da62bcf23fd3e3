"""Chunking, citations and the text/JSON forms of answers."""

from __future__ import annotations

import json

from omniembed.generation import Usage
from omniembed.providers.dashscope import api_base_url
from omniembed.rag import Answer, Hit, format_answer, format_hit
from omniembed.rag.chunking import chunk_text


def test_chunks_pack_paragraphs_and_respect_the_bound() -> None:
    text = "First para.\n\nSecond para.\n\n" + "A long sentence here. " * 20
    chunks = chunk_text(text, 120)
    assert chunks[0] == "First para.\n\nSecond para."
    assert all(len(c) <= 120 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert chunk_text(" \n\n ", 50) == []
    assert chunk_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def hits() -> list[Hit]:
    return [
        Hit(1, "pdf_page", "docs/lighthouse.pdf", 1, None, None, 0.61234, "Built in 1874."),
        Hit(2, "video", "harbour.mp4", None, 4.0, 6.0, 0.0151, "video harbour.mp4 00:04–00:06"),
        Hit(3, "text", "notes.md", None, None, None, -0.02, "The ferry leaves at 9:15."),
        Hit(4, "pdf_page", "docs/lighthouse.pdf", 1, None, None, 0.01, "Built in 1874."),
    ]


def test_hit_lines_and_answer_are_deterministic() -> None:
    first, video, text, _ = hits()
    assert format_hit(first).split() == ["1.", "pdf_page", "docs/lighthouse.pdf,", "page", "1",
                                         "0.612"]  # fmt: skip
    assert "harbour.mp4 00:04–00:06" in format_hit(video)
    assert format_hit(text).endswith("-0.020")
    answer = Answer("When?", "In 1874 [1].", hits(), Usage(10, 5, 15))
    rendered = format_answer(answer)
    assert rendered == format_answer(answer)
    assert rendered.splitlines()[-2:] == [
        "In 1874 [1].",
        "Sources: [1] docs/lighthouse.pdf, page 1; [2] harbour.mp4 00:04–00:06; [3] notes.md",
    ]


def test_json_form_has_every_hit_field() -> None:
    data = json.loads(json.dumps(Answer("When?", "1874", hits(), Usage(1, 2, 3)).to_json()))
    assert data["answer"] == "1874"
    assert data["usage"]["total_tokens"] == 3
    assert data["hits"][1] == {
        "rank": 2, "modality": "video", "source": "harbour.mp4", "page": None,
        "start_offset_sec": 4.0, "end_offset_sec": 6.0, "score": 0.0151,
        "text": "video harbour.mp4 00:04–00:06", "citation": "harbour.mp4 00:04–00:06",
    }  # fmt: skip


def test_dashscope_base_url_gets_the_api_path_only_when_bare() -> None:
    assert api_base_url("http://127.0.0.1:9/") == "http://127.0.0.1:9/api/v1"
    assert api_base_url("https://proxy/x/api/v1") == "https://proxy/x/api/v1"
    assert api_base_url(None) == "https://dashscope-intl.aliyuncs.com/api/v1"
