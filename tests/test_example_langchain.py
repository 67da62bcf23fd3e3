"""examples/langchain_rag_chatbot.py runs offline, cites its sources and never re-embeds
an unchanged corpus."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("langchain_chroma")

from omniembed.emulator import Emulator

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "langchain_rag_chatbot.py"
DATA = ROOT / "tests" / "data"


def run(data: Path, store: Path, question: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    command = [sys.executable, str(EXAMPLE), "--data", str(data), "--store", str(store)]
    result = subprocess.run(
        [*command, "--question", question, *extra],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result


def sources(stdout: str) -> list[str]:
    return [line.strip("- ").strip() for line in stdout.split("Sources:")[1].splitlines()[1:]]


def embedding_requests(emu: Emulator) -> list[dict[str, object]]:
    """The contents of every embedding request the emulator received."""
    return [
        item["content"]
        for record in emu.requests
        if record.route and "mbed" in record.route
        for item in (record.json or {}).get("requests", [])
    ]


def test_answers_offline_cites_sources_and_reuses_the_store(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "store"
    shutil.copytree(DATA, data)  # a copy: the last step edits a file
    first = run(data, store, "When was the lighthouse built?")
    assert "offline" in first.stderr.lower() and "emulator" in first.stderr
    answer = first.stdout.split("Sources:")[0]
    assert "1874" in answer
    assert any(re.fullmatch(r"lighthouse\.pdf p\. \d+", s) for s in sources(first.stdout))

    # Second run, same store, against an emulator whose log we can read: the corpus is
    # already indexed, so the only embedding is the (new) question itself.
    question = "What does the harbour video show?"
    with Emulator() as emu:
        second = run(data, store, question, "--base-url", emu.base_url)
        embedded = embedding_requests(emu)
        generated = [r for r in emu.requests if r.route and "generate" in r.route.lower()]
    assert len(embedded) == 1, embedded
    assert question in str(embedded[0])
    assert len(generated) == 1
    assert "indexed" not in second.stderr
    [clip] = [s for s in sources(second.stdout) if s.startswith("harbour.mp4")]
    cited = re.fullmatch(r"harbour\.mp4 00:(\d\d)–00:(\d\d)", clip)
    assert cited, clip
    # The cited 2-second clip reached the chat model as video with those offsets (the
    # emulator notes what it saw), not as the whole 6-second file.
    start, end = int(cited[1]), int(cited[2])
    assert end - start == 2
    assert f"video/mp4 {start}s-{end}s" in second.stdout

    # An edited file is re-indexed (and only that one); a removed file leaves the store.
    with (data / "notes.md").open("a", encoding="utf-8") as notes:
        notes.write("\nThe lighthouse keeper retired in 1950.\n")
    (data / "red_apple.png").unlink()
    third = run(data, store, "When did the lighthouse keeper retire?")
    assert re.findall(r"indexed (\S+):", third.stderr) == ["notes.md"]
    assert "removing red_apple.png" in third.stderr
    assert "1950" in third.stdout.split("Sources:")[0]
