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
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
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


def _consistent(store: Path) -> dict[str, int]:
    """Every file the manifest names has exactly its pieces in the store; returns them."""
    if not (store / "manifest.json").exists():
        return {}
    with Store.open(store) as opened:
        named = {source: entry.pieces for source, entry in opened.manifest.files.items()}
        for source, pieces in named.items():
            assert opened.count(source) == pieces, f"{source}: the manifest and the store differ"
    return named


def test_kills_at_any_point_of_a_streamed_file_leave_a_store_the_next_run_resumes(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = tmp_path / "big", tmp_path / "store"
    folder.mkdir()
    # One file of three calls' worth of pieces (streamed: its points are written call by
    # call, its manifest entry only at the end), and small files around it.
    chapters = [f"Chapter {n}: " + "the ferry crossed the grey water. " * 40 for n in range(1300)]
    (folder / "b_chronicle.txt").write_text("\n\n".join(chapters))
    for n in range(4):
        (folder / f"{'a' if n < 2 else 'c'}_note{n}.md").write_text(f"note {n} {marker(n)}")
    emu.latency_ms = 150
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    command = [sys.executable, "-m", "omniembed.cli", "index", str(folder),
               "--store", str(store), "--base-url", emu.base_url, "--quiet"]  # fmt: skip
    embedded = 0
    for after in (1, 4, 9, 15):  # kill once this many embedding requests were answered
        emu.clear_requests()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 60
            while (
                len(embedding_requests(emu)) < after
                and process.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.01)
            process.kill()
        finally:
            process.wait()
        embedded += sum(len(r.json["requests"]) for r in embedding_requests(emu) if r.json)
        _consistent(store)  # every state a kill leaves is consistent
    emu.latency_ms = 0
    emu.clear_requests()
    code, _, err = run(capsys, "index", str(folder), "--store", str(store),
                         "--base-url", emu.base_url, "--quiet")  # fmt: skip
    assert code == 0, err
    embedded += sum(len(r.json["requests"]) for r in embedding_requests(emu) if r.json)
    named = _consistent(store)
    assert named["b_chronicle.txt"] == 1300 and len(named) == 5
    with Store.open(store) as opened:
        assert opened.count() == 1304
    # Paid requests are never lost to a kill beyond those in flight at that moment.
    assert embedded < 1304 * 2, embedded
