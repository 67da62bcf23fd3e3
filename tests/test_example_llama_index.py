"""examples/llama_index_rag_chatbot.py runs offline end to end, as a user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from omniembed.emulator import Emulator

pytest.importorskip("llama_index.core")
pytest.importorskip("llama_index.vector_stores.qdrant")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "llama_index_rag_chatbot.py"
DATA = ROOT / "tests" / "data"
EMBED_ROUTES = ("batchEmbedContents", "embedContent")
CLIP = re.compile(r"harbour\.mp4 \d\d:\d\d–\d\d:\d\d")


def run_example(
    store: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the example like a user would, with no API key in the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    done = subprocess.run(
        [sys.executable, str(EXAMPLE), "--data", str(DATA), "--store", str(store), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def embedded_texts(emu: Emulator) -> list[str | None]:
    """The text of every part sent for embedding (None for a media part)."""
    return [
        part.get("text")
        for record in emu.requests
        if record.route in EMBED_ROUTES
        for request in record.json.get("requests", [record.json])
        for part in request["content"]["parts"]
    ]


def pick(part: dict[str, Any], camel: str, snake: str) -> Any:
    """A field of a wire part, whichever JSON spelling the SDK used."""
    return part.get(camel, part.get(snake))


def test_indexes_once_then_chats_over_pdf_and_video(tmp_path: Path) -> None:
    store = tmp_path / "rag-store"

    # First run: no key, so the example starts its own emulator, says so, and indexes.
    first = run_example(store, "--question", "When was the lighthouse built?")
    answer, _, sources = first.stdout.partition("\nSources:\n")
    assert "1874" in answer  # from the PDF page's text
    assert re.search(r"lighthouse\.pdf, page \d", sources)
    assert "OFFLINE" in first.stderr and "emulator" in first.stderr

    # Second run, interactive, against our emulator: the persisted store is reused, so the
    # only embeddings are the two new questions (query-prefixed), never documents or media.
    video_q, follow_up = "What colour is the harbour at the start?", "And at the end?"
    with Emulator() as emu:
        second = run_example(store, "--base-url", emu.base_url, stdin=f"{video_q}\n{follow_up}\n")
        texts = embedded_texts(emu)
        generate = [r.json for r in emu.requests if r.route == "generateContent"]
    first_turn = second.stdout.split("you> ")[1]
    assert CLIP.search(first_turn.partition("\nSources:\n")[2])
    assert texts == [f"task: search result | query: {q}" for q in (video_q, follow_up)]

    # The retrieved segment reached the LLM as a clip with offsets, right after its label.
    parts = [p for c in generate[0]["contents"] for p in c["parts"]]
    label = next(i for i, p in enumerate(parts) if CLIP.search(p.get("text", "")))
    clip = parts[label + 1]
    assert pick(pick(clip, "inlineData", "inline_data"), "mimeType", "mime_type") == "video/mp4"
    assert pick(pick(clip, "videoMetadata", "video_metadata"), "startOffset", "start_offset")
    assert parts[-1]["text"] == f"Question: {video_q}"

    # The follow-up carries the conversation so far.
    history = generate[1]["contents"]
    assert [c["role"] for c in history] == ["user", "model", "user"]
    assert history[0]["parts"] == [{"text": video_q}]
