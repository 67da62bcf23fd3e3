"""`omniembed index` / `ask` as a CI job sees them: exit codes, one clear message, a store
a failed run cannot poison, waits and retries that show."""

from __future__ import annotations

import json
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omniembed.emulator import Emulator
from omniembed.rag import Store

from .helpers import embedding_requests, run


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _notes(tmp_path: Path, n: int = 3) -> Path:
    folder = tmp_path / "notes"
    folder.mkdir()
    for i in range(n):
        (folder / f"note{i}.md").write_text(f"note {i} about the harbour ferry")
    return folder


def test_an_unreachable_endpoint_stops_the_run_once_with_exit_69(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = _notes(tmp_path, 5), tmp_path / "store"
    url = f"http://127.0.0.1:{_closed_port()}"
    code, out, err = run(capsys, "index", str(folder), "--store", str(store), "--base-url", url,
                         "--max-retries", "1", "--quiet")  # fmt: skip
    assert code == 69, err
    # One message: the endpoint, what was tried, the fix in flag terms; no log line first.
    assert err.count("\n") == 1 and err.startswith("omniembed: error: cannot reach "), err
    assert url in err and "tried 2 times" in err and "--base-url" in err
    assert "ERROR" not in err and "base_url=" not in err
    # Stopped at the first call, not one file at a time: no file is listed as failed.
    assert "indexed 0 files" in out and "0 failed" in out
    # Nothing was committed, so nothing binds the store to a model.
    assert not (store / "manifest.json").exists()


def test_rejected_credentials_exit_77_and_name_the_flag(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.api_key = "the-right-key"
    folder, store = _notes(tmp_path), tmp_path / "store"
    code, _, err = run(capsys, "index", str(folder), "--store", str(store), "--base-url",
                       emu.base_url, "--api-key", "a-wrong-key", "--quiet")  # fmt: skip
    assert code == 77, err
    assert "rejected the credentials" in err and "--api-key" in err
    assert "a-wrong-key" not in err
    assert err.count("omniembed: error:") == 1
    assert len(embedding_requests(emu)) == 1  # the first call, then the run stopped


def test_a_mistyped_model_leaves_a_store_the_corrected_command_uses(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = _notes(tmp_path), tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url, "--quiet"]
    code, _, err = run(capsys, "index", str(folder), *base, "--model", "gemini-embedding-3")
    assert code == 2, err
    assert "does not know model gemini-embedding-3" in err and "--model" in err
    assert not (store / "manifest.json").exists()
    code, out, err = run(capsys, "index", str(folder), *base, "--model", "gemini-embedding-001")
    assert code == 0, err
    assert "indexed 3 files" in out and "gemini:gemini-embedding-001" in out


def test_rebuild_switches_the_model_of_a_store(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = _notes(tmp_path), tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url, "--quiet"]
    assert run(capsys, "index", str(folder), *base)[0] == 0
    code, _, err = run(capsys, "index", str(folder), *base, "--dimension", "768")
    assert code == 2 and "--rebuild" in err
    code, out, err = run(capsys, "index", str(folder), *base, "--dimension", "768", "--rebuild")
    assert code == 0, err
    assert "indexed 3 files" in out
    manifest = json.loads((store / "manifest.json").read_text())
    assert (manifest["embedder"]["dimension"], manifest["vector_size"]) == (768, 768)
    with Store.open(store) as opened:
        assert opened.count() == 3


def test_some_files_failed_exits_1_and_names_them(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = _notes(tmp_path), tmp_path / "store"
    (folder / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (folder / "empty.md").write_text("")
    (folder / "data.bin").write_bytes(b"\x00\x01")
    code, out, err = run(capsys, "index", str(folder), "--store", str(store), "--base-url",
                         emu.base_url, "--quiet")  # fmt: skip
    assert code == 1
    assert "failed  latin1.txt: not UTF-8 text (invalid continuation byte at byte 3)" in out
    assert "skipped empty.md: empty file" in out and "skipped data.bin" in out
    assert "1 file not indexed (listed above)" in err
    # Skipped on purpose is not a failure.
    (folder / "latin1.txt").write_text("café au lait")
    code, out, _ = run(capsys, "index", str(folder), "--store", str(store), "--base-url",
                       emu.base_url, "--quiet")  # fmt: skip
    assert code == 0, out
    assert "indexed 1 files" in out and "2 skipped, 0 failed" in out


def test_retries_show_once_per_episode_on_the_bar_and_in_the_log(
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    folder, store = _notes(tmp_path, 1), tmp_path / "store"
    emu.inject("503", "503")
    with caplog.at_level(logging.INFO, logger="omniembed.rag"):
        code, _, err = run(capsys, "index", str(folder), "--store", str(store),
                           "--base-url", emu.base_url)  # fmt: skip
    assert code == 0, err
    told = [line for line in err.splitlines() if line.startswith("omniembed: retrying in")]
    assert len(told) == 1 and "503 UNAVAILABLE (attempt 1 failed)" in told[0], err
    assert "attempt 2 failed" in err  # the second retry is on the bar, not a second line
    logged = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(logged) == 1


def test_ask_tells_its_retries_and_exits_69_when_unreachable(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = _notes(tmp_path, 1), tmp_path / "store"
    assert run(capsys, "index", str(folder), "--store", str(store), "--base-url", emu.base_url,
               "--quiet")[0] == 0  # fmt: skip
    emu.inject("503")
    code, out, err = run(capsys, "ask", "when does the ferry leave?", "--store", str(store),
                         "--base-url", emu.base_url)  # fmt: skip
    assert code == 0, err
    assert err.startswith("omniembed: retrying in") and "note0.md" in out
    url = f"http://127.0.0.1:{_closed_port()}"
    code, _, err = run(capsys, "ask", "q?", "--store", str(store), "--base-url", url,
                       "--max-retries", "0")  # fmt: skip
    assert code == 69
    assert err.count("omniembed: error:") == 1 and "--base-url" in err


def test_a_large_text_is_embedded_in_bounded_calls(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = tmp_path / "big", tmp_path / "store"
    folder.mkdir()
    paragraphs = [
        f"Paragraph {n}: " + "the tide turns at the harbour wall. " * 40 for n in range(1100)
    ]
    (folder / "chronicle.txt").write_text("\n\n".join(paragraphs))
    (folder / "small.md").write_text("a small note")
    code, out, err = run(capsys, "index", str(folder), "--store", str(store), "--base-url",
                         emu.base_url, "--quiet")  # fmt: skip
    assert code == 0, err
    assert "indexed 2 files (1101 pieces)" in out
    sizes = [len(r.json["requests"]) for r in embedding_requests(emu) if r.json]
    assert sum(sizes) == 1101
    with Store.open(store) as opened:
        assert opened.manifest.files["chronicle.txt"].pieces == 1100
        assert opened.count("chronicle.txt") == 1100


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_index_stops_cleanly_on_sigterm_and_sigint_even_if_ignored_at_start(
    emu: Emulator, tmp_path: Path, signum: int
) -> None:
    folder, store = _notes(tmp_path, 40), tmp_path / "store"
    emu.latency_ms = 300
    command = [sys.executable, "-m", "omniembed", "index", str(folder), "--store", str(store),
               "--base-url", emu.base_url, "--quiet"]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a background shell or nohup: SIGINT inherited as ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        deadline = time.monotonic() + 60
        while not embedding_requests(emu) and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, err
    assert "interrupted; run the same command again to resume" in err
    assert "Traceback" not in err


def test_a_store_of_the_old_format_says_rebuild_and_rebuild_works(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = _notes(tmp_path), tmp_path / "store"
    (store / "qdrant").mkdir(parents=True)
    old = {"format": 1, "embedder": {"provider": "gemini", "model": "gemini-embedding-2"},
           "root": str(folder), "vector_size": 3072,
           "files": {"note0.md": {"sha256": "x", "size": 1, "mtime_ns": 1, "pieces": 1,
                                  "plan": "p"}}}  # fmt: skip
    (store / "manifest.json").write_text(json.dumps(old))
    code, out, err = run(capsys, "ask", "q?", "--store", str(store), "--base-url", emu.base_url)
    assert code == 2 and "format 1" in err and "--rebuild" in err, err
    assert out == ""  # not an empty answer that looks like success
    base = ["--store", str(store), "--base-url", emu.base_url, "--quiet"]
    assert run(capsys, "index", str(folder), *base)[0] == 2
    code, out, err = run(capsys, "index", str(folder), *base, "--rebuild")
    assert code == 0, err
    assert "indexed 3 files" in out and not (store / "qdrant").exists()


def test_exit_codes_as_a_ci_job_sees_them(emu: Emulator, tmp_path: Path) -> None:
    """The installed command in a subprocess: what a shell and a CI job get."""
    folder, store = _notes(tmp_path, 2), tmp_path / "store"

    def index(*extra: str, into: Path = store) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "omniembed", "index", str(folder), "--store",
                   str(into), "--quiet", *extra]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    ok = index("--base-url", emu.base_url)
    assert ok.returncode == 0, ok.stderr
    (folder / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    some_failed = index("--base-url", emu.base_url)
    assert some_failed.returncode == 1 and "failed  latin1.txt" in some_failed.stdout
    usage = index("--base-url", emu.base_url, "--rpm", "-1")
    assert usage.returncode == 2 and "--rpm" in usage.stderr
    url = f"http://127.0.0.1:{_closed_port()}"
    # A new store: something must be sent (here every file is already in `store`).
    unreachable = index("--base-url", url, "--max-retries", "0", into=tmp_path / "other")
    assert unreachable.returncode == 69 and url in unreachable.stderr
    assert unreachable.stderr.count("omniembed: error:") == 1
