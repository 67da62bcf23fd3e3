"""Content-addressed embedding cache: re-embedding unchanged input makes zero API calls.

The key is a hash of everything that determines a vector — provider, model, parameters,
task, title and the input's bytes — built by `cache_key`. Values are the input's list of
`Embedding` (several for video segments), stored exactly (float64), each row with a
checksum over key and value: a damaged row is a miss (re-embedded and rewritten), never a
wrong vector.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import os
import sqlite3
import threading
import weakref
from array import array
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..errors import CacheError
from ..types import Embedding

logger = logging.getLogger("omniembed.runtime")


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


def checksum(key: str, value: str) -> str:
    """The integrity check stored with a row: BLAKE2b over key and value (a value copied
    under another key fails it too)."""
    return hashlib.blake2b(f"{key}\0{value}".encode(), digest_size=16).hexdigest()


def _decode_checked(key: str, value: object, stored: object) -> list[Embedding] | None:
    """A row's vectors, or None when the row is damaged.

    Rows written before checksums (``stored`` NULL) are checked for shape only: valid JSON,
    whole float64 values, finite numbers, at least one vector."""
    if not isinstance(value, str):
        return None
    if stored is not None and stored != checksum(key, value):
        return None
    try:
        found = decode_embeddings(value)
    except (ValueError, KeyError, TypeError, IndexError):  # JSON, base64, shape
        return None
    if not found or not all(e.vector and all(map(math.isfinite, e.vector)) for e in found):
        return None
    return found


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


#: The key of the row written (and removed) when a cache is opened, to check writability.
_PROBE = "omniembed:write-check"


def _close_all(conns: dict[threading.Thread, sqlite3.Connection], lock: threading.Lock) -> None:
    with lock:
        open_ = list(conns.values())
        conns.clear()
    for conn in open_:
        conn.close()


class SQLiteCache:
    """A persistent cache in one SQLite file, safe across threads and processes.

    Each thread gets its own connection; WAL mode lets readers and one writer proceed
    together, and a busy timeout makes concurrent writers (other processes, e.g. workers
    of a distributed job) wait instead of failing. Every finished batch is committed at
    once, so a killed run keeps everything it had embedded.

    Opening checks the file before anything is sent: a file (or folder) that cannot be
    written, or that is not an SQLite database, raises `CacheError` naming the file and the
    fix. Every row carries a checksum over key and value; a row that fails it is a miss
    (re-embedded, then rewritten) and is logged once per read at WARNING. Rows from before
    checksums are used when they decode cleanly and get their checksum on that read.
    A write that fails later (disk full, permissions changed) keeps the call's results and
    warns once.
    """

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS embeddings ("
        " key TEXT PRIMARY KEY, value TEXT NOT NULL,"
        " created REAL NOT NULL DEFAULT (julianday('now')), checksum TEXT)"
    )
    _BATCH = 500  # keep IN (...) lists under SQLite's variable limit

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path).expanduser()
        #: Each thread's connection. One whose thread has ended is closed when another
        #: thread connects, and `close` closes them all (none is left to the GC).
        self._conns: dict[threading.Thread, sqlite3.Connection] = {}
        self._conns_lock = threading.Lock()
        weakref.finalize(self, _close_all, self._conns, self._conns_lock)
        self._warned_write = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error(f"its folder cannot be created ({exc.strerror or exc})") from exc
        try:
            conn = self._connect()
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(self._SCHEMA)
                columns = {row[1] for row in conn.execute("PRAGMA table_info(embeddings)")}
                if "checksum" not in columns:  # a cache file from before checksums
                    conn.execute("ALTER TABLE embeddings ADD COLUMN checksum TEXT")
                # A committed write (a row added and removed): a file or folder that cannot
                # be written refuses it now, not after the first batch was paid for.
                conn.execute(
                    "INSERT OR REPLACE INTO embeddings (key, value) VALUES (?, '[]')", (_PROBE,)
                )
                conn.execute("DELETE FROM embeddings WHERE key = ?", (_PROBE,))
        except sqlite3.DatabaseError as exc:
            self.close()
            raise self._opening_error(exc) from exc

    def _error(self, problem: str) -> CacheError:
        return CacheError(
            f"the cache {str(self.path)!r} {problem}; delete or move it (nothing but the "
            "cached vectors is lost: they are embedded again), point cache= at another "
            "file, or pass cache=None",
            path=self.path,
        )

    def _opening_error(self, exc: sqlite3.DatabaseError) -> CacheError:
        text = str(exc)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            problem = (
                f"cannot be written ({text}): the file and its folder must be writable "
                "(SQLite keeps its -wal and -shm files beside it); make them writable,"
            )
            return CacheError(
                f"the cache {str(self.path)!r} {problem} point cache= at another file, or "
                "pass cache=None",
                path=self.path,
            )
        return self._error(f"is not a usable SQLite cache ({text})")

    def _connect(self) -> sqlite3.Connection:
        me = threading.current_thread()
        conn = self._conns.get(me)
        if conn is None:
            # Used by this thread only; closed by whichever thread closes it.
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            with self._conns_lock:
                ended = [t for t in self._conns if not t.is_alive()]
                stale = [self._conns.pop(t) for t in ended]
                self._conns[me] = conn
            for old in stale:
                old.close()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def get_many(self, keys: Sequence[str]) -> dict[str, list[Embedding]]:
        found: dict[str, list[Embedding]] = {}
        damaged: list[str] = []
        unverified: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        try:
            conn = self._connect()
            for start in range(0, len(unique), self._BATCH):
                chunk = unique[start : start + self._BATCH]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, value, checksum FROM embeddings WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, value, stored in rows:
                    vectors = _decode_checked(key, value, stored)
                    if vectors is None:
                        damaged.append(key)
                        continue
                    found[key] = vectors
                    if stored is None:
                        unverified[key] = value
        except sqlite3.DatabaseError as exc:
            raise self._error(f"cannot be read ({exc})") from exc
        if damaged:
            logger.warning(
                "%d damaged row(s) in the cache %s (checksum or format check failed): "
                "treated as misses, embedded again and rewritten",
                len(damaged),
                self.path,
            )
        if unverified:
            self._add_checksums(unverified)
        return found

    def _add_checksums(self, rows: Mapping[str, str]) -> None:
        """Give rows from before checksums theirs (once), so later reads verify them."""
        try:
            conn = self._connect()
            with conn:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "UPDATE embeddings SET checksum = ? WHERE key = ? AND value = ?",
                    [(checksum(k, v), k, v) for k, v in rows.items()],
                )
        except sqlite3.DatabaseError as exc:
            self._warn_write(exc)

    def put_many(self, entries: Mapping[str, list[Embedding]]) -> None:
        if not entries:
            return
        rows = []
        for key, embeddings in entries.items():
            value = encode_embeddings(embeddings)
            rows.append((key, value, checksum(key, value)))
        try:
            conn = self._connect()
            with conn:  # one transaction
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, value, checksum) VALUES (?, ?, ?)",
                    rows,
                )
        except sqlite3.DatabaseError as exc:
            self._warn_write(exc)

    def _warn_write(self, exc: sqlite3.DatabaseError) -> None:
        if not self._warned_write:
            self._warned_write = True
            logger.warning(
                "could not write to the cache %s (%s); results are kept, but new vectors "
                "are not stored (further write failures are not logged)",
                self.path,
                exc,
            )

    def close(self) -> None:
        """Close every thread's connection (a later call opens new ones). Call it once
        the threads using the cache are done with it."""
        _close_all(self._conns, self._conns_lock)

    def __len__(self) -> int:
        return int(self._connect().execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r})"
