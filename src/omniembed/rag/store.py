"""The persistent store in a folder: the vectors (`vector_index.VectorIndex`: exact cosine
search read from disk, docs/store.md says why), the manifest and the embedding cache.

Layout of ``DIR``::

    manifest.json        model settings, indexed root, per-file hash and piece count
    vectors/             the pieces (SQLite) and their vectors (one float32 file per group)
    embeddings.sqlite    the runtime's embedding cache (what makes re-runs free)
    .lock                held by the one indexing run allowed at a time
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from ..errors import ConfigurationError
from ..runtime.cache import decode_embeddings
from ..types import Embedding
from .embedders import EmbedderSettings
from .manifest import MANIFEST_NAME, Manifest, StoreFormatError
from .pieces import Group, Piece
from .vector_index import ScoredPiece, VectorIndex

CACHE_NAME = "embeddings.sqlite"
#: Deferred manifest saves happen at most this often (the manifest of a 10,000-file store
#: is ~2 MB: saving it after every embedding call made indexing quadratic).
SAVE_EVERY_SEC = 2.0

#: One file's points to write: its source, content hash, pieces and their vectors.
Batch = tuple[str, str, Sequence[Piece], Sequence[Sequence[float]]]


class StoreNotFoundError(ConfigurationError):
    """``--store`` does not hold an index."""


class StoreBusyError(ConfigurationError):
    """Another process is indexing into the store (one writer at a time)."""


def check_same_model(path: Path, manifest: Manifest, settings: EmbedderSettings) -> None:
    """Refuse to add vectors of another model to a store: they live in another space."""
    old = manifest.embedder
    if (old.provider, old.model, old.dimension) != (
        settings.provider,
        settings.model,
        settings.dimension,
    ):
        raise ConfigurationError(
            f"{path} holds vectors of {old.provider}:{old.model}"
            + (f" ({old.dimension} dims)" if old.dimension else "")
            + "; vectors of another model cannot share it. Pass rebuild=True to replace its "
            f"{len(manifest.files)} indexed files with vectors of {settings.provider}:"
            f"{settings.model}, index into a new store folder, or use the same provider=, "
            "model= and dimension="
        )


class ReadOnlyCache:
    """A store's embedding cache, read without writing anything (a dry run's). With a
    write-ahead log beside it (a run still open, or one that was killed) SQLite reads both
    read-only; without one, the file alone holds everything and is opened immutable (so
    SQLite creates no log files in the store)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        logged = all(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm"))
        mode = "mode=ro" if logged else "mode=ro&immutable=1"
        self._conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?{mode}", uri=True, check_same_thread=False
        )

    def get_many(self, keys: Sequence[str]) -> dict[str, list[Embedding]]:
        found: dict[str, list[Embedding]] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                try:
                    rows = self._conn.execute(
                        f"SELECT key, value FROM embeddings WHERE key IN ({marks})", chunk
                    ).fetchall()
                except sqlite3.DatabaseError:
                    return {}  # an empty or unreadable cache answers nothing
                found.update((k, decode_embeddings(v)) for k, v in rows)
        return found

    def put_many(self, entries: Mapping[str, list[Embedding]]) -> None:
        raise RuntimeError("a dry run writes nothing")  # never called: nothing is sent

    def close(self) -> None:
        self._conn.close()


class Store:
    """An open store. Use `Store.open` (to read) or `Store.create` (to index).

    Transactional by order of writes: a file's manifest entry is dropped (and the manifest
    saved) before its old points go, and written only after all its new points are in. So
    the manifest names a file only when its vectors are committed, and it binds the store
    to a model only once it names a file: a run that committed nothing (a mistyped model,
    an unreachable endpoint, a kill) leaves a store any corrected command can use.
    """

    def __init__(self, directory: Path, manifest: Manifest, lock: _WriterLock | None = None):
        self.directory = directory
        self.manifest = manifest
        self._lock = lock
        self._saved_at = -math.inf
        self._unsaved = False
        try:
            self.vectors = VectorIndex.open(directory)
        except BaseException:
            if lock is not None:
                lock.release()
            raise

    @property
    def cache_path(self) -> Path:
        return self.directory / CACHE_NAME

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> Store:
        """An existing store; `StoreNotFoundError` names the fix when there is none."""
        path = Path(directory).expanduser()
        manifest = Manifest.load(path) if path.is_dir() else None
        if manifest is None:
            raise StoreNotFoundError(
                f"no index in {path} (no {MANIFEST_NAME}); build one first with: "
                f"omniembed index FOLDER --store {path}"
            )
        return cls(path, manifest)

    @classmethod
    def create(
        cls,
        directory: str | os.PathLike[str],
        settings: EmbedderSettings,
        root: Path,
        *,
        rebuild: bool = False,
    ) -> Store:
        """Open the store in ``directory`` for indexing ``root`` with ``settings``,
        creating it if needed. A store holding vectors of another model is refused (they
        live in another space) unless ``rebuild`` drops them; a store whose manifest names
        no file takes the new settings (anything in it is left over from a run that
        committed nothing)."""
        path = Path(directory).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        lock = _WriterLock.acquire(path)
        try:
            manifest = Manifest.load(path)
        except StoreFormatError:
            if not rebuild:
                lock.release()
                raise
            manifest = None
            shutil.rmtree(path / "qdrant", ignore_errors=True)  # format 1's vectors
        except BaseException:
            lock.release()
            raise
        fresh = manifest is None or not manifest.files or rebuild
        if manifest is not None and not fresh:
            try:
                check_same_model(path, manifest, settings)
            except BaseException:
                lock.release()
                raise
        if manifest is None or fresh:
            manifest = Manifest(settings, str(root))
        else:
            manifest.embedder = settings
            manifest.root = str(root)
        store = cls(path, manifest, lock)
        if fresh:
            store.vectors.clear()
        return store

    # --- writing -------------------------------------------------------------------------

    def add(
        self, source: str, sha256: str, pieces: Sequence[Piece], vectors: Sequence[Sequence[float]]
    ) -> None:
        """Write (or overwrite) points of ``source``; its manifest entry is the caller's."""
        self.add_many([(source, sha256, pieces, vectors)])

    def add_many(self, batches: Sequence[Batch]) -> None:
        """`add` for several files at once: one write and one commit for all."""
        if any(pieces for _, _, pieces, _ in batches):
            self.vectors.add_many(batches)
            self.manifest.vector_size = self.vectors.vector_size

    def delete_source(self, source: str) -> None:
        self.vectors.delete_sources([source])

    def delete_sources(self, sources: Sequence[str]) -> None:
        self.vectors.delete_sources(sources)

    def save_manifest(self, *, soon: bool = False) -> None:
        """Write the manifest now, or with ``soon`` at most once per `SAVE_EVERY_SEC`
        (`flush` writes what is left). A late save only makes a killed run embed again,
        from the cache, files whose points it had already written; a manifest entry that
        is *removed* must be saved before the file's points go, so those saves are never
        deferred."""
        now = time.monotonic()
        if soon and now - self._saved_at < SAVE_EVERY_SEC:
            self._unsaved = True
            return
        self.manifest.save(self.directory)
        self._saved_at = now
        self._unsaved = False

    def flush(self) -> None:
        """Save a manifest change that `save_manifest(soon=True)` deferred."""
        if self._unsaved:
            self.save_manifest()

    # --- reading -------------------------------------------------------------------------

    def search(self, vector: list[float], group: Group, limit: int) -> list[ScoredPiece]:
        """The ``limit`` pieces of ``group`` nearest to ``vector`` (cosine), best first."""
        return self.vectors.search(vector, group, limit)

    def count(self, source: str | None = None) -> int:
        """Points in the store (of one ``source`` file when given)."""
        return self.vectors.count(source)

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        try:
            self.flush()
            self.vectors.close()
        finally:
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _WriterLock:
    """One indexing run per store at a time: an exclusive `flock` on ``DIR/.lock``, which
    the kernel releases when the process dies (a kill -9 leaves no stale lock)."""

    NAME = ".lock"

    def __init__(self, fd: int):
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, directory: Path) -> _WriterLock:
        import fcntl

        fd = os.open(directory / cls.NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreBusyError(
                f"{directory} is being indexed by another process; wait for it to finish"
            ) from None
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
