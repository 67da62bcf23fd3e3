"""The persistent vector store in a folder: Qdrant in local mode (no server), one cosine
collection, plus the manifest and the embedding cache beside it.

Layout of ``DIR``::

    manifest.json        model settings, indexed root, per-file hash and piece count
    qdrant/              Qdrant local-mode storage (collection "pieces")
    embeddings.sqlite    the runtime's embedding cache (what makes re-runs free)
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import threading
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import ConfigurationError, MissingDependencyError
from ..runtime.cache import decode_embeddings
from ..types import Embedding
from .embedders import EmbedderSettings
from .manifest import MANIFEST_NAME, Manifest
from .pieces import Group, Piece

COLLECTION = "pieces"
QDRANT_DIR = "qdrant"
CACHE_NAME = "embeddings.sqlite"
_IDS = uuid.UUID("5f0c2b1e-6a43-4f0e-9a55-0d1f3c7b9e21")  # namespace of point ids


class StoreNotFoundError(ConfigurationError):
    """``--store`` does not hold an index."""


class StoreBusyError(ConfigurationError):
    """Another process has the store open (Qdrant local mode is single-process)."""


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
            + "; vectors of another model cannot share it. Index into a new --store "
            "folder, or use the same --provider/--model/--dimension"
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


@dataclass(frozen=True)
class ScoredPiece:
    piece: Piece
    score: float


def _qdrant() -> Any:
    # Imported by name: the type-check environment need not install the store extra.
    try:
        return importlib.import_module("qdrant_client")
    except ImportError as exc:
        raise MissingDependencyError(
            "qdrant-client is needed for the index/ask store; install it with: "
            "pip install 'omniembed[cli]'"
        ) from exc


class Store:
    """An open store. Use `Store.open` (existing) or `Store.create` (for indexing)."""

    def __init__(self, directory: Path, manifest: Manifest):
        self.directory = directory
        self.manifest = manifest
        qdrant = _qdrant()
        self._models = importlib.import_module("qdrant_client.models")
        try:
            self._client = qdrant.QdrantClient(path=str(directory / QDRANT_DIR))
        except RuntimeError as exc:  # local mode allows one process per folder
            if "already accessed" not in str(exc):
                raise
            raise StoreBusyError(
                f"{directory} is in use by another process (an index or ask still running); "
                "wait for it to finish"
            ) from exc

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
        cls, directory: str | os.PathLike[str], settings: EmbedderSettings, root: Path
    ) -> Store:
        """Open the store in ``directory`` for indexing ``root`` with ``settings``,
        creating it if needed. A store built with another model is refused: its vectors
        live in another space."""
        path = Path(directory).expanduser()
        path.mkdir(parents=True, exist_ok=True)
        manifest = Manifest.load(path)
        if manifest is None:
            manifest = Manifest(settings, str(root))
        else:
            check_same_model(path, manifest, settings)
            manifest.embedder = settings
            manifest.root = str(root)
        manifest.save(path)
        return cls(path, manifest)

    # --- writing -------------------------------------------------------------------------

    def replace_file(
        self, source: str, sha256: str, pieces: Sequence[Piece], vectors: Sequence[list[float]]
    ) -> None:
        """Drop the points of ``source`` and write its new ones."""
        size = len(vectors[0]) if vectors else None
        if size is not None:
            self._ensure_collection(size)
        self.delete_source(source)
        if not pieces:
            return
        models = self._models
        points = [
            models.PointStruct(
                id=str(uuid.uuid5(_IDS, f"{source}\x00{piece.ordinal}")),
                vector=vector,
                payload=piece.payload(sha256),
            )
            for piece, vector in zip(pieces, vectors, strict=True)
        ]
        self._client.upsert(COLLECTION, points=points)

    def delete_source(self, source: str) -> None:
        if self._client.collection_exists(COLLECTION):
            models = self._models
            self._client.delete(
                COLLECTION, points_selector=models.FilterSelector(filter=self._where(source=source))
            )

    def _ensure_collection(self, size: int) -> None:
        known = self.manifest.vector_size
        if known is not None and known != size:
            raise ConfigurationError(
                f"the model returned {size}-dimensional vectors; this store holds "
                f"{known}-dimensional ones"
            )
        if not self._client.collection_exists(COLLECTION):
            models = self._models
            self._client.create_collection(
                COLLECTION,
                vectors_config=models.VectorParams(size=size, distance=models.Distance.COSINE),
            )
        self.manifest.vector_size = size

    def save_manifest(self) -> None:
        self.manifest.save(self.directory)

    # --- reading -------------------------------------------------------------------------

    def search(self, vector: list[float], group: Group, limit: int) -> list[ScoredPiece]:
        """The ``limit`` pieces of ``group`` nearest to ``vector`` (cosine), best first."""
        if limit < 1 or not self._client.collection_exists(COLLECTION):
            return []
        found = self._client.query_points(
            COLLECTION,
            query=vector,
            query_filter=self._where(group=group),
            limit=limit,
            with_payload=True,
        ).points
        return [ScoredPiece(Piece.from_payload(p.payload or {}), float(p.score)) for p in found]

    def count(self, source: str | None = None) -> int:
        """Points in the store (of one ``source`` file when given)."""
        if not self._client.collection_exists(COLLECTION):
            return 0
        where = self._where(source=source) if source is not None else None
        return int(self._client.count(COLLECTION, count_filter=where, exact=True).count)

    def _where(self, **fields: str) -> Any:
        models = self._models
        return models.Filter(
            must=[
                models.FieldCondition(key=key, match=models.MatchValue(value=value))
                for key, value in fields.items()
            ]
        )

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._client.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
