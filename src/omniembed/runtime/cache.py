"""Content-addressed embedding cache: re-embedding unchanged input makes zero API calls.

The key is a hash of everything that determines a vector — provider, model, parameters,
task, title and the input's bytes — built by `cache_key`. Values are the input's list of
`Embedding` (several for video segments), stored exactly (float64).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import threading
from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..types import Embedding


@runtime_checkable
class EmbeddingCache(Protocol):
    """What the runtime needs from a cache. Implementations must be thread-safe."""

    def get_many(self, keys: Sequence[str]) -> dict[str, list[Embedding]]: ...

    def put_many(self, entries: Mapping[str, list[Embedding]]) -> None: ...


def cache_key(*parts: object) -> str:
    """A stable SHA-256 over JSON-encoded parts (dicts are key-sorted)."""
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def encode_embeddings(embeddings: Iterable[Embedding]) -> str:
    return json.dumps(
        [
            {
                "v": base64.b64encode(array("d", e.vector).tobytes()).decode("ascii"),
                "m": e.modality,
                "s": e.start_offset_sec,
                "e": e.end_offset_sec,
            }
            for e in embeddings
        ],
        separators=(",", ":"),
    )


def decode_embeddings(blob: str) -> list[Embedding]:
    out = []
    for item in json.loads(blob):
        values = array("d")
        values.frombytes(base64.b64decode(item["v"]))
        out.append(Embedding(values.tolist(), item["m"], item["s"], item["e"]))
    return out


class MemoryCache:
    """An in-process cache (a dict behind a lock); lost when the process ends."""

    def __init__(self) -> None:
        self._data: dict[str, list[Embedding]] = {}
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[str]) -> dict[str, list[Embedding]]:
        with self._lock:
            return {k: self._data[k] for k in keys if k in self._data}

    def put_many(self, entries: Mapping[str, list[Embedding]]) -> None:
        with self._lock:
            self._data.update(entries)

    def __len__(self) -> int:
        return len(self._data)


class SQLiteCache:
    """A persistent cache in one SQLite file, safe across threads and processes.

    Each thread gets its own connection; WAL mode lets readers and one writer proceed
    together, and a busy timeout makes concurrent writers (other processes, e.g. workers
    of a distributed job) wait instead of failing. Every finished batch is committed at
    once, so a killed run keeps everything it had embedded.
    """

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS embeddings ("
        " key TEXT PRIMARY KEY, value TEXT NOT NULL,"
        " created REAL NOT NULL DEFAULT (julianday('now')))"
    )
    _BATCH = 500  # keep IN (...) lists under SQLite's variable limit

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute(self._SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get_many(self, keys: Sequence[str]) -> dict[str, list[Embedding]]:
        conn = self._connect()
        found: dict[str, list[Embedding]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), self._BATCH):
            chunk = unique[start : start + self._BATCH]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT key, value FROM embeddings WHERE key IN ({marks})", chunk
            ).fetchall()
            found.update((k, decode_embeddings(v)) for k, v in rows)
        return found

    def put_many(self, entries: Mapping[str, list[Embedding]]) -> None:
        if not entries:
            return
        conn = self._connect()
        rows = [(k, encode_embeddings(v)) for k, v in entries.items()]
        with conn:  # one transaction
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT OR REPLACE INTO embeddings (key, value) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r})"
