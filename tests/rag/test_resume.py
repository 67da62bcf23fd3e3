"""Resume after `kill -9`: the second run never re-embeds a file the first one finished."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omniembed.emulator import Emulator
from omniembed.rag import Store

from .helpers import embedding_requests, request_text, run

FILES = 30


def marker(n: int) -> str:
    return f"zq{n:02d}marker"


def finished(store: Path) -> set[str]:
    try:
        return set(json.loads((store / "manifest.json").read_text())["files"])
    except FileNotFoundError:
        return set()


def test_resume_after_kill_repeats_no_finished_file(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = tmp_path / "notes", tmp_path / "store"
    folder.mkdir()
    for n in range(FILES):
        (folder / f"note{n:02d}.md").write_text(f"Note {n} mentions {marker(n)} and boats.\n")
    emu.latency_ms = 200  # slow enough to kill the run between two groups of files
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    command = [sys.executable, "-m", "omniembed.cli", "index", str(folder),
               "--store", str(store), "--base-url", emu.base_url, "--quiet"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not finished(store) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        process.kill()  # SIGKILL: no cleanup, no final manifest write
    finally:
        process.wait()
    done = finished(store)
    assert process.returncode == -9, "the first run ended before it could be killed"
    assert 0 < len(done) < FILES
    first_run = len(embedding_requests(emu))

    emu.latency_ms = 0
    emu.clear_requests()
    code, out, _ = run(capsys, "index", str(folder), "--store", str(store),
                       "--base-url", emu.base_url, "--quiet")  # fmt: skip
    assert code == 0, out
    sent = embedding_requests(emu)
    for record in sent:
        text = request_text(record)
        repeated = [s for s in done if marker(int(s[4:6])) in text]
        assert not repeated, f"{repeated} were finished before the kill but embedded again"
    assert f"{len(done)} unchanged" in out
    assert first_run > 0
    with Store.open(store) as opened:
        assert len(opened.manifest.files) == FILES
        assert opened.count() == FILES
