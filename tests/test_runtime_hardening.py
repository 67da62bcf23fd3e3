"""Issue 13, runtime items: the cache never answers with a wrong vector (a file rewritten
mid-call, a damaged row), a read-only or corrupt cache fails before anything is paid for,
Ctrl-C stops a sync call at once, and rejected items cost one request each when the
service names them.

Real SDKs over real HTTP against the emulator, or the runtime directly; nothing of ours is
mocked.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from omniembed import CacheError, DashScopeEmbedder, GeminiEmbedder, Media, OmniEmbedError
from omniembed.emulator import Emulator
from omniembed.errors import InvalidArgumentError
from omniembed.providers.base import rejected_positions
from omniembed.runtime import RetryPolicy, Runner, SQLiteCache, WorkItem
from omniembed.runtime.cache import encode_embeddings
from omniembed.runtime.runner import BatchOutcome
from omniembed.types import Embedding
from tests import media_factory as make

FAST = RetryPolicy(max_retries=3, initial_delay=0.01, max_delay=0.05)


def vertex2(emu: Emulator, **kw: object) -> GeminiEmbedder:
    """gemini-embedding-2 on Vertex AI: one input per HTTP call (``:embedContent``)."""
    options: dict[str, object] = {"retry_policy": FAST, **kw}
    return GeminiEmbedder(
        "gemini-embedding-2",
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=Credentials(token="t"),
        base_url=emu.base_url,
        **options,  # type: ignore[arg-type]
    )


def gemini(emu: Emulator, **kw: object) -> GeminiEmbedder:
    options: dict[str, object] = {"retry_policy": FAST, **kw}
    return GeminiEmbedder("gemini-embedding-001", api_key="k", base_url=emu.base_url, **options)  # type: ignore[arg-type]


# --- 1. a file rewritten between planning and sending -----------------------------------


def test_a_file_rewritten_before_it_is_sent_does_not_poison_the_cache(
    emu: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old, new = make.image((200, 30, 30)), make.image((30, 30, 200))
    path = tmp_path / "photo.png"
    path.write_bytes(old)
    truth_old = vertex2(emu).embed([Media.from_bytes(old, "image/png")])[0].vector
    truth_new = vertex2(emu).embed([Media.from_bytes(new, "image/png")])[0].vector
    assert truth_old != truth_new
    emu.clear_requests()

    # One request at a time, each answered after 300 ms: the text goes first; when it
    # reaches the emulator (the image's key is computed by then, its bytes not yet read
    # for sending), the file is rewritten.
    emu.latency_ms = 300

    def rewrite() -> None:
        deadline = time.monotonic() + 10
        while not emu.requests and time.monotonic() < deadline:
            time.sleep(0.001)
        path.write_bytes(new)

    cache = SQLiteCache(tmp_path / "cache.sqlite")
    embedder = vertex2(emu, cache=cache, max_concurrency=1)
    writer = threading.Thread(target=rewrite)
    writer.start()
    with caplog.at_level(logging.WARNING, logger="omniembed.runtime"):
        first = embedder.embed(["a caption first", path])
    writer.join()
    assert first[1].vector == truth_new  # what was sent is what came back
    emu.latency_ms = 0

    # The old bytes again (another file): never the new content's vector.
    again = tmp_path / "again.png"
    again.write_bytes(old)
    assert embedder.embed([again])[0].vector == truth_old
    assert "changed while it was being embedded" in caplog.text


# --- 2. integrity of cached values ------------------------------------------------------


class Transport:
    """Embeds payload strings as [len(text), 1.0]; records every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        with self.lock:
            self.calls.append([i.payload for i in batch])
        return [[Embedding([float(len(i.payload)), 1.0])] for i in batch]


def items(texts: Sequence[str]) -> list[WorkItem]:
    return [WorkItem(i, t, cache_key=f"k:{t}") for i, t in enumerate(texts)]


def test_a_damaged_cache_row_is_a_miss_never_a_wrong_vector(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "cache.sqlite"
    texts = ["a", "bb", "ccc", "dddd"]
    Runner(max_batch_size=10, cache=SQLiteCache(file)).run(items(texts), Transport())
    with sqlite3.connect(file) as conn:
        value = conn.execute("SELECT value FROM embeddings WHERE key = 'k:bb'").fetchone()[0]
        # One character of the base64 vector changed: still valid JSON and base64.
        at = value.index('"v":"') + 6
        flipped = value[:at] + ("B" if value[at] != "B" else "C") + value[at + 1 :]
        conn.execute("UPDATE embeddings SET value = ? WHERE key = 'k:bb'", (flipped,))
        conn.execute("UPDATE embeddings SET value = '[{\"v\": ' WHERE key = 'k:ccc'")

    transport = Transport()
    with caplog.at_level(logging.WARNING, logger="omniembed.runtime"):
        outcomes = Runner(max_batch_size=10, cache=SQLiteCache(file)).run(items(texts), transport)
    assert [o.embeddings[0].vector for o in outcomes if o.embeddings] == [
        [float(len(t)), 1.0] for t in texts
    ]
    assert transport.calls == [["bb", "ccc"]]  # the two damaged rows, embedded again
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2 damaged row(s)" in warnings[0].getMessage()

    transport = Transport()  # rewritten: all four are hits now
    Runner(max_batch_size=10, cache=SQLiteCache(file)).run(items(texts), transport)
    assert transport.calls == []


def test_rows_from_before_checksums_are_used_and_get_one(tmp_path: Path) -> None:
    file = tmp_path / "old.sqlite"
    with sqlite3.connect(file) as conn:  # the schema and rows of the previous release
        conn.execute(
            "CREATE TABLE embeddings (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
            " created REAL NOT NULL DEFAULT (julianday('now')))"
        )
        conn.execute(
            "INSERT INTO embeddings (key, value) VALUES ('k:a', ?)",
            (encode_embeddings([Embedding([1.0, 1.0])]),),
        )
        conn.execute("INSERT INTO embeddings (key, value) VALUES ('k:bb', 'not json')")
    transport = Transport()
    outcomes = Runner(max_batch_size=10, cache=SQLiteCache(file)).run(items(["a", "bb"]), transport)
    assert outcomes[0].cached and outcomes[0].embeddings == [Embedding([1.0, 1.0])]
    assert transport.calls == [["bb"]]
    with sqlite3.connect(file) as conn:
        rows = dict(conn.execute("SELECT key, checksum FROM embeddings").fetchall())
    assert rows.keys() == {"k:a", "k:bb"} and all(rows.values())


# --- 10. a read-only cache --------------------------------------------------------------


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` unwritable, even for root (chattr +i), for the ``with`` block."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: cannot make a file read-only")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_cache_file_fails_before_anything_is_sent(
    emu: Emulator, tmp_path: Path
) -> None:
    file = tmp_path / "cache.sqlite"
    SQLiteCache(file).close()
    with read_only(file), pytest.raises(CacheError) as raised:
        gemini(emu, cache=file).embed(["x", "y"])
    assert str(file) in str(raised.value) and "writable" in str(raised.value)
    assert raised.value.path == file
    assert emu.requests == []


def test_a_cache_in_a_read_only_folder_fails_before_anything_is_sent(
    emu: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder), pytest.raises(CacheError, match="cannot be written"):
        gemini(emu, cache=folder / "cache.sqlite").embed(["x"])
    assert emu.requests == []


def test_a_cache_write_failing_later_keeps_the_results_and_warns_once(
    emu: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "cache.sqlite"
    embedder = gemini(emu, cache=file, max_concurrency=2)
    with sqlite3.connect(file) as conn:  # writes start failing after it was opened
        conn.execute(
            "CREATE TRIGGER full BEFORE INSERT ON embeddings "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    texts = [f"text {i}" for i in range(250)]  # three requests, three failed writes
    with caplog.at_level(logging.WARNING, logger="omniembed.runtime"):
        results = embedder.embed(texts)
    assert all(r.ok for r in results) and len(results) == 250
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "could not write to the cache" in warnings[0].getMessage()


# --- 11. a corrupt or truncated cache ---------------------------------------------------


def test_a_file_that_is_not_a_database_raises_cache_error(emu: Emulator, tmp_path: Path) -> None:
    file = tmp_path / "cache.sqlite"
    file.write_bytes(b"these are not the pages you are looking for\n" * 100)
    with pytest.raises(CacheError) as raised:
        gemini(emu, cache=file).embed(["x"])
    message = str(raised.value)
    assert str(file) in message and "delete or move it" in message
    assert isinstance(raised.value, OmniEmbedError)
    assert emu.requests == []


def test_a_truncated_cache_raises_cache_error_before_sending(emu: Emulator, tmp_path: Path) -> None:
    file = tmp_path / "cache.sqlite"
    cache = SQLiteCache(file)
    cache.put_many({f"k{i}": [Embedding([float(i)] * 300)] for i in range(2000)})
    cache.close()
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 3])
    with pytest.raises(CacheError, match="delete or move it"):
        gemini(emu, cache=file).embed(["x"])
    assert emu.requests == []


# --- 9. Ctrl-C during a sync embed() ----------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys
    from google.oauth2.credentials import Credentials
    from omniembed import GeminiEmbedder
    embedder = GeminiEmbedder(
        "gemini-embedding-001", vertexai=True, project="p", location="us-central1",
        credentials=Credentials(token="t"), base_url=sys.argv[1], max_concurrency=4,
        tier="default",
    )
    print("start", flush=True)
    embedder.embed([f"text number {i}" for i in range(60)])
    print("finished", flush=True)
    """
)


def test_ctrl_c_stops_a_sync_embed_at_once(emu: Emulator) -> None:
    emu.latency_ms = 300  # 60 one-input calls, 4 in flight: about 4.5 s in all
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, emu.base_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while len(emu.requests) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(emu.requests) >= 8, "the child never got going"
        child.send_signal(signal.SIGINT)
        signalled, at_signal = time.monotonic(), len(emu.requests)
        _, stderr = child.communicate(timeout=10)
        took = time.monotonic() - signalled
        time.sleep(0.5)  # anything still to come would arrive now
        after = len(emu.requests) - at_signal
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "KeyboardInterrupt" in stderr
    assert took < 2.5, f"took {took:.2f}s to stop"  # was 5.1 s, with 52 more requests
    # Only requests already taken by a worker when the signal came may still go out.
    assert after <= 4, f"{after} requests after Ctrl-C"


# --- 17. isolating rejected items -------------------------------------------------------


class Rejecting:
    """A service that rejects items named "bad*" the way Google does: a 400 naming the
    first bad entry (``requests[N]``), or every bad entry with ``every=True``."""

    def __init__(self, every: bool = False) -> None:
        self.every = every
        self.calls = 0

    def __call__(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        self.calls += 1
        bad = [n for n, item in enumerate(batch) if item.payload.startswith("bad")]
        if bad:
            lines = "".join(
                f"* BatchEmbedContentsRequest.requests[{n}].content.parts[0].text: "
                "the input is too long\n"
                for n in (bad if self.every else bad[:1])
            )
            raise InvalidArgumentError(lines, status_code=400, status="INVALID_ARGUMENT")
        return [[Embedding([1.0])] for _ in batch]


def _isolate(texts: list[str], service: Rejecting, *, locate: bool) -> int:
    outcomes = Runner(max_batch_size=100, max_concurrency=1).run(
        items(texts), service, locate=rejected_positions if locate else None
    )
    for text, outcome in zip(texts, outcomes, strict=True):
        assert (outcome.error is not None) == text.startswith("bad")
        if outcome.error is not None:
            assert isinstance(outcome.error, InvalidArgumentError)
    return service.calls


def test_rejected_items_the_service_names_cost_one_request_each() -> None:
    all_bad = [f"bad {i}" for i in range(100)]
    assert _isolate(all_bad, Rejecting(), locate=False) == 199  # halving to single items
    assert _isolate(all_bad, Rejecting(), locate=True) == 100
    some_bad = [f"bad {i}" if i % 10 == 3 else f"ok {i}" for i in range(100)]
    assert _isolate(some_bad, Rejecting(), locate=True) == 11
    # A 400 listing every violation: the bad ones fail at once, the rest goes once more.
    assert _isolate(all_bad, Rejecting(every=True), locate=True) == 1
    assert _isolate(some_bad, Rejecting(every=True), locate=True) == 2


def test_a_position_outside_the_batch_is_not_trusted() -> None:
    error = InvalidArgumentError("* BatchEmbedContentsRequest.requests[7].model: bad")
    assert rejected_positions(error, 5) == []
    assert rejected_positions(error, 8) == [7]
    assert rejected_positions(InvalidArgumentError("input.contents[2].text: long"), 3) == [2]
    assert rejected_positions(InvalidArgumentError("* Request.requests: at most 100"), 9) == []


def test_dashscope_rejections_cost_one_request_per_bad_item(emu: Emulator) -> None:
    long_text = "word " * 1100  # over the service's 1,024 tokens: a 400 naming contents[N]
    embedder = DashScopeEmbedder(
        "tongyi-embedding-vision-plus",
        api_key="sk-test",
        base_url=emu.base_url + "/api/v1",
        max_concurrency=1,
    )
    results = embedder.embed([f"{long_text}{i}" for i in range(100)], raise_on_error=False)
    assert not any(r.ok for r in results)
    assert len(emu.requests) == 100  # was 195: 5 batches of 20, each halved to singles
    emu.clear_requests()
    mixed = [f"{long_text}{i}" if i % 10 == 3 else f"short {i}" for i in range(100)]
    results = embedder.embed(mixed, raise_on_error=False)
    assert [r.ok for r in results] == [i % 10 != 3 for i in range(100)]
    assert len(emu.requests) == 15  # was 95
