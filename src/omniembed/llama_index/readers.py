"""LlamaIndex readers for media that does not fit one node per file: video and audio (one
node per embedded segment, its vector attached) and PDFs (one node per page, with the
page's text and rendered image, optionally the page itself embedded as a PDF part)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document, ImageDocument, TextNode

from ..keywords import strict_keywords
from ..media import Media
from ..media.pdf import PdfPage, iter_pages
from ..types import AudioSegmentConfig, Embedding, VideoSegmentConfig
from ._media import MediaLike, to_media
from .embeddings import OmniMultiModalEmbedding

__all__ = ["AudioSegmentReader", "PDFPageReader", "VideoSegmentReader"]

_Config = TypeVar("_Config", VideoSegmentConfig, AudioSegmentConfig)

#: Metadata that describes where a node came from, not what it says: kept out of the text
#: that would be embedded (nothing is, for pre-embedded nodes) and shown to the LLM.
_POSITION_KEYS = ["start_offset_sec", "end_offset_sec", "segment_index", "total_pages"]


def _sources(file: Any, files: Sequence[Any] | None) -> list[Any]:
    if file is not None and files is not None:
        raise ValueError("pass file= or files=, not both")
    if file is not None:
        return [file]
    if files is not None:
        return list(files)
    raise ValueError("pass file= (one path, URL or Media) or files= (several)")


def _names(media: Media) -> dict[str, Any]:
    if media.path is not None:
        return {"file_path": str(media.path), "file_name": media.path.name}
    source = media.source
    name = source.rsplit("/", 1)[-1] if media.is_remote else source
    return {"file_path": source, "file_name": name}


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "end"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


class _SegmentReader(BaseReader, Generic[_Config]):
    """One pre-embedded `TextNode` per timed segment of each source (video or audio);
    subclasses say which embedding method cuts and embeds the sources."""

    #: The nodes' ``modality`` metadata value.
    _modality: ClassVar[str]

    def __init__(
        self,
        embed_model: OmniMultiModalEmbedding,
        segment_config: _Config | None,
        text_template: str,
    ):
        self.embed_model = embed_model
        self.segment_config: _Config | None = segment_config
        self.text_template = text_template

    def _embed(
        self, media: list[Media], config: _Config | None, show_progress: bool
    ) -> list[list[Embedding]]:
        raise NotImplementedError

    async def _aembed(
        self, media: list[Media], config: _Config | None, show_progress: bool
    ) -> list[list[Embedding]]:
        raise NotImplementedError

    # Returns nodes, not Documents (see VideoSegmentReader's doc), hence the override ignore.
    def load_data(  # type: ignore[override]
        self,
        file: MediaLike | None = None,
        files: Sequence[MediaLike] | None = None,
        extra_info: dict[str, Any] | None = None,
        segment_config: _Config | None = None,
        show_progress: bool = False,
    ) -> list[TextNode]:
        """Embed each source (all in one runtime call) and return its segment nodes."""
        media = [to_media(v, i) for i, v in enumerate(_sources(file, files))]
        segments = self._embed(media, segment_config or self.segment_config, show_progress)
        return self._nodes(media, segments, extra_info)

    async def aload_data(  # type: ignore[override]
        self,
        file: MediaLike | None = None,
        files: Sequence[MediaLike] | None = None,
        extra_info: dict[str, Any] | None = None,
        segment_config: _Config | None = None,
        show_progress: bool = False,
    ) -> list[TextNode]:
        """Async `load_data` (embeds with the model's native async path)."""
        sources = _sources(file, files)
        media = await asyncio.to_thread(lambda: [to_media(v, i) for i, v in enumerate(sources)])
        segments = await self._aembed(media, segment_config or self.segment_config, show_progress)
        return await asyncio.to_thread(self._nodes, media, segments, extra_info)

    def _nodes(
        self,
        media: list[Media],
        segments: list[list[Embedding]],
        extra_info: dict[str, Any] | None,
    ) -> list[TextNode]:
        nodes: list[TextNode] = []
        for source, embeddings in zip(media, segments, strict=True):
            names = _names(source)
            for index, embedding in enumerate(embeddings):
                # A remote video embedded whole has no local duration: 0 to unknown.
                start = embedding.start_offset_sec or 0.0
                end = embedding.end_offset_sec
                metadata: dict[str, Any] = {
                    **(extra_info or {}),
                    **names,
                    "source": source.source,
                    "modality": self._modality,
                    "start_offset_sec": start,
                    "end_offset_sec": end,
                    "segment_index": index,
                }
                text = self.text_template.format(
                    file_name=names["file_name"], start=_clock(start), end=_clock(end), index=index
                )
                nodes.append(
                    TextNode(
                        text=text,
                        metadata=metadata,
                        embedding=list(embedding.vector),
                        excluded_embed_metadata_keys=list(_POSITION_KEYS),
                    )
                )
        return nodes


@strict_keywords
class VideoSegmentReader(_SegmentReader[VideoSegmentConfig]):
    """One `TextNode` per embedded video segment, with the segment's vector already in
    ``.embedding``, so an index built from the nodes does not embed them again.

    Each node's text is a short caption such as ``"video clip.mp4 00:00–00:04"`` (indexes
    drop nodes without text), and its metadata holds ``start_offset_sec``,
    ``end_offset_sec``, ``segment_index``, ``modality`` ("video"),
    ``file_path``/``file_name`` and ``source``.

    The nodes are `TextNode`s rather than `Document`s because `MultiModalVectorStoreIndex`
    keeps only TextNode/ImageNode instances (a Document is neither). Build the index from
    the nodes (``VectorStoreIndex(nodes)`` / ``MultiModalVectorStoreIndex(nodes)``), not
    ``from_documents``, whose splitter would make new, unembedded nodes.
    """

    _modality = "video"

    def __init__(
        self,
        embed_model: OmniMultiModalEmbedding,
        segment_config: VideoSegmentConfig | None = None,
        *,
        text_template: str = "video {file_name} {start}–{end}",
    ):
        """``segment_config`` picks the stretch and segment length where the model
        segments video (Vertex ``multimodalembedding@001``); ``text_template`` formats
        each node's text from ``file_name``, ``start``, ``end`` and ``index``."""
        super().__init__(embed_model, segment_config, text_template)

    def _embed(
        self, media: list[Media], config: VideoSegmentConfig | None, show_progress: bool
    ) -> list[list[Embedding]]:
        return self.embed_model.get_video_embedding_batch(
            media, config, show_progress=show_progress
        )

    async def _aembed(
        self, media: list[Media], config: VideoSegmentConfig | None, show_progress: bool
    ) -> list[list[Embedding]]:
        return await self.embed_model.aget_video_embedding_batch(
            media, config, show_progress=show_progress
        )


@strict_keywords
class AudioSegmentReader(_SegmentReader[AudioSegmentConfig]):
    """One `TextNode` per embedded audio segment, its vector already in ``.embedding``
    (as `VideoSegmentReader` does for video).

    Audio of any length is cut locally into windows (`AudioSegmentConfig`: ``window_sec``,
    default the model's per-input limit, ``overlap_sec``, and the stretch) and every window
    of every file is embedded in one runtime call. Each node's text is a caption such as
    ``"audio talk.mp3 01:20–02:40"``; its metadata holds ``start_offset_sec``,
    ``end_offset_sec``, ``segment_index``, ``modality`` ("audio"),
    ``file_path``/``file_name`` and ``source``. Models that do not hear audio (all but
    gemini-embedding-2) raise `UnsupportedMediaError` before any request.
    """

    _modality = "audio"

    def __init__(
        self,
        embed_model: OmniMultiModalEmbedding,
        segment_config: AudioSegmentConfig | None = None,
        *,
        text_template: str = "audio {file_name} {start}–{end}",
    ):
        """``segment_config`` sets the window, overlap and stretch; ``text_template``
        formats each node's text from ``file_name``, ``start``, ``end`` and ``index``."""
        super().__init__(embed_model, segment_config, text_template)

    def _embed(
        self, media: list[Media], config: AudioSegmentConfig | None, show_progress: bool
    ) -> list[list[Embedding]]:
        return self.embed_model.get_audio_segment_embedding_batch(
            media, config, show_progress=show_progress
        )

    async def _aembed(
        self, media: list[Media], config: AudioSegmentConfig | None, show_progress: bool
    ) -> list[list[Embedding]]:
        return await self.embed_model.aget_audio_segment_embedding_batch(
            media, config, show_progress=show_progress
        )


@strict_keywords
class PDFPageReader(BaseReader):
    """One node per PDF page: the page's extracted text as the node text, the page
    rendered to PNG at ``dpi`` as its image (an `ImageDocument`, so a
    `MultiModalVectorStoreIndex` embeds the image with its ``image_embed_model``), and
    metadata ``page_label``, ``page_number``, ``total_pages``, ``file_path``, ``file_name``.

    With ``as_pdf_part=True`` (gemini-embedding-2), each page is also split out as a
    one-page PDF and embedded as a document part by ``embed_model``; the vector is put in
    ``.embedding``, so the index uses it instead of embedding the text or the image.
    """

    def __init__(
        self,
        *,
        dpi: float = 96.0,
        render: bool = True,
        max_side: int | None = None,
        as_pdf_part: bool = False,
        embed_model: OmniMultiModalEmbedding | None = None,
    ):
        if as_pdf_part and embed_model is None:
            raise ValueError(
                "as_pdf_part=True embeds each page as a PDF part: pass embed_model= (e.g. "
                "GeminiMultiModalEmbedding(model_name='gemini-embedding-2'))"
            )
        self.dpi = dpi
        self.render = render
        self.max_side = max_side
        self.as_pdf_part = as_pdf_part
        self.embed_model = embed_model

    def load_data(
        self,
        file: MediaLike | None = None,
        files: Sequence[MediaLike] | None = None,
        extra_info: dict[str, Any] | None = None,
        pages: list[int] | None = None,
        show_progress: bool = False,
    ) -> list[Document]:
        """Read each PDF's pages (``pages``: 1-based page numbers to keep)."""
        nodes, parts = self._read(_sources(file, files), extra_info, pages)
        if self.as_pdf_part and nodes:
            assert self.embed_model is not None
            vectors = self.embed_model.get_pdf_embedding_batch(parts, show_progress)
            for node, vector in zip(nodes, vectors, strict=True):
                node.embedding = vector
        return nodes

    async def aload_data(
        self,
        file: MediaLike | None = None,
        files: Sequence[MediaLike] | None = None,
        extra_info: dict[str, Any] | None = None,
        pages: list[int] | None = None,
        show_progress: bool = False,
    ) -> list[Document]:
        """Async `load_data`: rendering runs in a thread, embedding natively async."""
        nodes, parts = await asyncio.to_thread(self._read, _sources(file, files), extra_info, pages)
        if self.as_pdf_part and nodes:
            assert self.embed_model is not None
            vectors = await self.embed_model.aget_pdf_embedding_batch(parts, show_progress)
            for node, vector in zip(nodes, vectors, strict=True):
                node.embedding = vector
        return nodes

    def _read(
        self, sources: list[Any], extra_info: dict[str, Any] | None, pages: list[int] | None
    ) -> tuple[list[Document], list[Media]]:
        nodes: list[Document] = []
        parts: list[Media] = []
        for i, source in enumerate(sources):
            media = to_media(source, i)
            names = _names(media)
            for page in iter_pages(
                media,
                dpi=self.dpi,
                render=self.render,
                split=self.as_pdf_part,
                max_side=self.max_side,
                pages=pages,
            ):
                nodes.append(self._node(page, names, extra_info))
                if self.as_pdf_part:
                    parts.append(page.pdf_media())
        return nodes, parts

    def _node(
        self, page: PdfPage, names: dict[str, Any], extra_info: dict[str, Any] | None
    ) -> Document:
        metadata: dict[str, Any] = {
            **(extra_info or {}),
            **names,
            "page_label": str(page.number),
            "page_number": page.number,
            "total_pages": page.page_count,
        }
        if page.image_png is None:
            return Document(
                text=page.text, metadata=metadata, excluded_embed_metadata_keys=["total_pages"]
            )
        return ImageDocument(
            text=page.text,
            image=base64.b64encode(page.image_png).decode("ascii"),
            image_mimetype="image/png",
            metadata=metadata,
            excluded_embed_metadata_keys=["total_pages"],
        )
