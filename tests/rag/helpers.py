"""Shared helpers for the index/ask tests: the sample corpus, CLI runs, request filters."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from omniembed.cli import main
from omniembed.emulator import Emulator, RequestRecord

DATA = Path(__file__).resolve().parent.parent / "data"
GENERATION_ROUTES = {"generateContent", "streamGenerateContent", "countTokens"}

#: Per provider: the CLI options that select it against the emulator. Vertex authenticates
#: with an access token (the emulator accepts any) and is not paced to its 120 rpm quota.
PROVIDER_OPTIONS = {
    "gemini": ["--provider", "gemini"],
    "vertex": [
        "--provider",
        "vertex",
        "--project",
        "p",
        "--access-token",
        "tok",
        "--requests-per-minute",
        "0",
    ],
    "dashscope": ["--provider", "dashscope"],
}
#: Options `ask` needs for the same provider (the query embedding and the LLM).
ASK_OPTIONS = {
    "gemini": [],
    "vertex": ["--project", "p", "--access-token", "tok"],
    "dashscope": [],
}


def corpus(tmp_path: Path) -> Path:
    """A copy of the sample corpus (only the media and notes, not the Python helpers)."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for path in sorted(DATA.iterdir()):
        if path.suffix != ".py":
            shutil.copy2(path, folder / path.name)
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def embedding_requests(emu: Emulator) -> list[RequestRecord]:
    return [r for r in emu.requests if r.route not in GENERATION_ROUTES]


def request_text(record: RequestRecord) -> str:
    return json.dumps(record.json) if record.json is not None else ""
