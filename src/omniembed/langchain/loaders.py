"""LangChain document loaders for video and audio segments and PDF pages.

`VideoSegmentLoader` and `AudioSegmentLoader` embed a video or an audio file once and
yield a `Document` per segment; the vectors go into a vector store without re-embedding
through `add_documents_with_vectors`.
`PDFPageLoader` yields a `Document` per page with the page's text and, when rendering, the
page image written as a PNG file whose path (``metadata["image_path"]``) is what
``Chroma.add_images(uris=...)`` and ``embed_image`` take.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from langchain_core.document_loaders import BaseLoader
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore

from ..keywords import strict_keywords
from ..media import Media
from ..media.pdf import iter_pages
from ..types import AudioSegmentConfig, Embedding, VideoSegmentConfig
from .embeddings import _MultiModalEmbeddings

__all__ = [
    "AudioSegmentLoader",
    "PDFPageLoader",
    "VideoSegmentLoader",
    "add_documents_with_vectors",
]

# Stable ids: loading the same segment again upserts it instead of adding a duplicate.
_ID_NAMESPACE = uuid.UUID("6f1c1f0e-3b0e-4c39-9a57-4e1b3f8f2a10")

_Config = TypeVar("_Config", VideoSegmentConfig, AudioSegmentConfig)


class _SegmentLoader(BaseLoader, Generic[_Config]):
    """A `Document` per embedded segment of one video or audio, with its vector at hand;
    subclasses say which embedding method cuts and embeds the source."""

    #: The documents' ``modality`` metadata value.
    _modality: ClassVar[str]

    def __init__(
        self,
        path_or_uri: str | os.PathLike[str],
        embeddings: _MultiModalEmbeddings,
        segment_config: _Config | None,
    ) -> None:
        self.source = os.fspath(path_or_uri)
        self.embeddings = embeddings
        self.segment_config: _Config | None = segment_config

    def _embed(self) -> list[Embedding]:
        raise NotImplementedError

    async def _aembed(self) -> list[Embedding]:
        raise NotImplementedError

    def lazy_load(self) -> Iterator[Document]:
        """Yield one `Document` per segment (the source is embedded on first iteration)."""
        for document, _ in self.lazy_load_with_vectors():
            yield document

    async def alazy_load(self) -> AsyncIterator[Document]:
        """Async `lazy_load` (native: uses the embeddings' async path)."""
        for index, segment in enumerate(await self._aembed()):
            yield self._document(index, segment)

    def lazy_load_with_vectors(self) -> Iterator[tuple[Document, list[float]]]:
        """Yield ``(document, vector)`` per segment."""
        for index, segment in enumerate(self._embed()):
            yield self._document(index, segment), segment.vector

    def load_with_vectors(self) -> tuple[list[Document], list[list[float]]]:
        """All segments as ``(documents, vectors)``, aligned."""
        pairs = list(self.lazy_load_with_vectors())
        return [d for d, _ in pairs], [v for _, v in pairs]

    def add_to(self, vectorstore: VectorStore) -> list[str]:
        """Embed the source and add its segments to ``vectorstore`` with their vectors."""
        documents, vectors = self.load_with_vectors()
        return add_documents_with_vectors(vectorstore, documents, vectors)

    def _document(self, index: int, segment: Embedding) -> Document:
        start, end = segment.start_offset_sec, segment.end_offset_sec
        name = Path(self.source).name or self.source
        span = f"{_sec(start)}–{_sec(end)} s" if start is not None else f"whole {self._modality}"
        metadata: dict[str, Any] = {
            "source": self.source,
            "segment": index,
            "modality": self._modality,
            "start_offset_sec": start,
            "end_offset_sec": end,
        }
        # Video ids keep their original key (stores already hold them); other modalities
        # name theirs, so the sound of a video never upserts over its picture's segments.
        key = f"{self.source}|{start}|{end}"
        if self._modality != "video":
            key = f"{self._modality}|{key}"
        return Document(
            id=str(uuid.uuid5(_ID_NAMESPACE, key)),
            page_content=f"{name} [{span}]",
            metadata=metadata,
        )


@strict_keywords
class VideoSegmentLoader(_SegmentLoader[VideoSegmentConfig]):
    """A `Document` per embedded video segment, in order.

    Metadata: ``source``, ``start_offset_sec``, ``end_offset_sec`` (None when unknown, e.g.
    a whole ``gs://`` video on Gemini), ``segment`` (0-based), ``modality`` ("video").
    ``page_content`` is a short label (``"talk.mp4 [16.0–32.0 s]"``); each document has a
    stable ``id``. The vectors come from one ``embed_video`` call; use
    `lazy_load_with_vectors` / `add_to` to store them without embedding twice.
    """

    _modality = "video"

    def __init__(
        self,
        path_or_uri: str | os.PathLike[str],
        *,
        embeddings: _MultiModalEmbeddings,
        segment_config: VideoSegmentConfig | None = None,
    ) -> None:
        super().__init__(path_or_uri, embeddings, segment_config)

    def _embed(self) -> list[Embedding]:
        return self.embeddings.embed_video(self.source, self.segment_config)

    async def _aembed(self) -> list[Embedding]:
        return await self.embeddings.aembed_video(self.source, self.segment_config)


@strict_keywords
class AudioSegmentLoader(_SegmentLoader[AudioSegmentConfig]):
    """A `Document` per embedded audio segment, in order (as `VideoSegmentLoader`).

    Audio of any length is cut locally into windows (`AudioSegmentConfig`: ``window_sec``,
    default the model's per-input limit, ``overlap_sec``, and the stretch), all embedded in
    one ``embed_audio`` call. Metadata: ``source``, ``start_offset_sec``,
    ``end_offset_sec``, ``segment`` (0-based), ``modality`` ("audio"); ``page_content`` is
    a short label (``"talk.mp3 [80.0–160.0 s]"``); each document has a stable ``id``.
    Models that do not hear audio (all but gemini-embedding-2) raise
    `UnsupportedMediaError` before any request.
    """

    _modality = "audio"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        embeddings: _MultiModalEmbeddings,
        segment_config: AudioSegmentConfig | None = None,
    ) -> None:
        super().__init__(path, embeddings, segment_config)

    def _embed(self) -> list[Embedding]:
        return self.embeddings.embed_audio(self.source, self.segment_config)

    async def _aembed(self) -> list[Embedding]:
        return await self.embeddings.aembed_audio(self.source, self.segment_config)


def _sec(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


@strict_keywords
class PDFPageLoader(BaseLoader):
    """A `Document` per PDF page: the page's extracted text as ``page_content``.

    Metadata: ``source``, ``page`` (1-based), ``total_pages``, and with ``render=True``
    ``image_path``: the page rendered at ``dpi`` and written as PNG under ``image_dir``
    (default: ``$XDG_CACHE_HOME/omniembed/pdf-pages/<content hash>/``), ready for
    ``Chroma.add_images(uris=[...])`` or ``embeddings.embed_image``. Pages are read and
    rendered one at a time.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        dpi: float = 96.0,
        render: bool = True,
        image_dir: str | os.PathLike[str] | None = None,
        max_side: int | None = None,
        pages: Sequence[int] | None = None,
    ) -> None:
        self.path = path
        self.dpi = dpi
        self.render = render
        self.image_dir = Path(image_dir) if image_dir is not None else None
        self.max_side = max_side
        self.pages = list(pages) if pages is not None else None

    def lazy_load(self) -> Iterator[Document]:
        """Yield one `Document` per page, in order."""
        media = Media.coerce(self.path)
        folder = self._folder(media) if self.render else None
        for page in iter_pages(
            media, dpi=self.dpi, render=self.render, max_side=self.max_side, pages=self.pages
        ):
            metadata: dict[str, Any] = {
                "source": page.source,
                "page": page.number,
                "total_pages": page.page_count,
            }
            if folder is not None and page.image_png is not None:
                target = folder / f"page-{page.number:04d}.png"
                if not target.exists() or target.read_bytes() != page.image_png:
                    _write_atomic(target, page.image_png)
                metadata["image_path"] = str(target)
            yield Document(page_content=page.text, metadata=metadata)

    def _folder(self, media: Media) -> Path:
        if self.image_dir is not None:
            base = self.image_dir
        else:
            cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(
                os.path.expanduser("~"), ".cache"
            )
            base = Path(cache) / "omniembed" / "pdf-pages"
        # Keyed by content and rendering settings: an edited PDF never reuses stale images.
        digest = hashlib.sha256(
            f"{media.content_hash()}|{self.dpi}|{self.max_side}".encode()
        ).hexdigest()[:16]
        folder = base / digest
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def _write_atomic(target: Path, data: bytes) -> None:
    # Write then rename, so a concurrent reader never sees a half-written PNG.
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}")
    temporary.write_bytes(data)
    temporary.replace(target)


def add_documents_with_vectors(
    vectorstore: VectorStore,
    documents: Sequence[Document],
    vectors: Sequence[Sequence[float]],
    ids: Sequence[str] | None = None,
) -> list[str]:
    """Add documents with precomputed vectors (no embedding call); returns their ids.

    LangChain has no common API for this, so it uses what each store offers: a public
    ``add_embeddings`` (FAISS, PGVector, ...), Chroma's collection ``upsert``, or
    `InMemoryVectorStore`'s record dict. Other stores raise `TypeError`.
    """
    if len(documents) != len(vectors):
        raise ValueError(f"{len(documents)} documents but {len(vectors)} vectors")
    if ids is not None and len(ids) != len(documents):
        raise ValueError(f"{len(ids)} ids for {len(documents)} documents")
    keys = [
        (ids[i] if ids is not None else None) or documents[i].id or str(uuid.uuid4())
        for i in range(len(documents))
    ]
    texts = [d.page_content for d in documents]
    metadatas = [dict(d.metadata) for d in documents]
    rows = [list(map(float, v)) for v in vectors]
    if not documents:
        return []
    add_embeddings = getattr(vectorstore, "add_embeddings", None)
    if callable(add_embeddings):
        result = add_embeddings(
            text_embeddings=list(zip(texts, rows, strict=True)), metadatas=metadatas, ids=keys
        )
        return list(result) if result is not None else keys
    collection = getattr(vectorstore, "_collection", None)
    if collection is not None and callable(getattr(collection, "upsert", None)):
        # langchain-chroma: add_texts always re-embeds; its collection takes vectors.
        collection.upsert(
            ids=keys,
            embeddings=rows,
            documents=texts,
            metadatas=[_chroma_metadata(m) for m in metadatas],
        )
        return keys
    if isinstance(vectorstore, InMemoryVectorStore):
        for key, text, metadata, row in zip(keys, texts, metadatas, rows, strict=True):
            vectorstore.store[key] = {"id": key, "vector": row, "text": text, "metadata": metadata}
        return keys
    raise TypeError(
        f"{type(vectorstore).__name__} offers no way to add precomputed vectors that "
        "omniembed knows; use Chroma, FAISS (add_embeddings) or InMemoryVectorStore, or add "
        "the documents with add_documents (which embeds their page_content)"
    )


def _chroma_metadata(metadata: dict[str, Any]) -> dict[str, Any] | None:
    # Chroma stores scalars only and rejects None values.
    kept = {k: v for k, v in metadata.items() if v is not None}
    return kept or None
