"""LlamaIndex `MultiModalEmbedding`s over omniembed's provider embedders.

Each class is a thin adapter: it turns LlamaIndex inputs into omniembed inputs, calls its
provider embedder, and returns plain vectors. Batching, concurrency, rate limiting,
retries, caching, task conditioning and every input check live in the provider and the
runtime. The batch methods hand the WHOLE list to the provider in one call (instead of
LlamaIndex's per-``embed_batch_size`` loop), while emitting the same instrumentation
events and callbacks as LlamaIndex's own implementations.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Literal

from llama_index.core.base.embeddings.base import Embedding as Vector
from llama_index.core.bridge.pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
)
from llama_index.core.callbacks.base import CallbackManager
from llama_index.core.callbacks.schema import CBEventType, EventPayload
from llama_index.core.embeddings import MultiModalEmbedding
from llama_index.core.instrumentation import Dispatcher, get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events.embedding import (
    EmbeddingEndEvent,
    EmbeddingStartEvent,
)
from llama_index.core.schema import BaseNode, ImageType, MetadataMode
from typing_extensions import Self

from ..closing import Closeable
from ..errors import InvalidParameterError, OmniEmbedError
from ..keywords import DIMENSION_ALIASES, model_keywords
from ..providers.base import RUNTIME_SETTINGS, Embedder
from ..providers.factory import build_embedder, pick_settings
from ..providers.quota_table import check_tier
from ..runtime.quota import Quota, check_quota
from ..tasks import Task
from ..types import AudioSegmentConfig, Embedding, EmbeddingResult, VideoSegmentConfig
from ._media import MediaLike, label, to_media, to_media_list

# Our own dispatcher; it propagates to the root one, where users attach handlers.
dispatcher: Dispatcher = get_dispatcher(__name__)

__all__ = [
    "DashScopeMultiModalEmbedding",
    "GeminiMultiModalEmbedding",
    "OmniMultiModalEmbedding",
    "VertexMultiModalEmbedding",
]


#: The provider embedders' runtime parameters, forwarded from the fields of the same name
#: (one list for every framework, kept with the parameters in `omniembed.providers.base`).
RUNTIME_KNOBS = RUNTIME_SETTINGS
_QUOTA_NUMBERS = ("requests_per_minute", "tokens_per_minute", "requests_per_day")


class _Run:
    """Collects what one instrumented call embedded, for its end events."""

    def __init__(self, chunks: list[str]):
        self.chunks = chunks
        self.embeddings: list[Vector] = []


class OmniMultiModalEmbedding(MultiModalEmbedding, Closeable):
    """Shared base of the omniembed LlamaIndex embeddings (not used directly).

    Queries are embedded with ``query_task_type``; texts, images, video, PDFs and audio
    with ``task_type``. Nodes passed through ``__call__`` (an `IngestionPipeline` or
    ``transformations=[..., embed_model]``) send the metadata value under
    ``title_metadata_key`` as the document title, and nodes that already carry a vector
    are not embedded again.
    """

    task_type: str = Field(
        default=Task.RETRIEVAL_DOCUMENT.value,
        description="Task for documents, images and other media (omniembed.Task name).",
    )
    query_task_type: str = Field(
        default=Task.RETRIEVAL_QUERY.value,
        description="Task for queries; providers map it to each model's query form.",
    )
    title_metadata_key: str | None = Field(
        default="title",
        description="Node metadata key whose value is sent as the document title "
        "(None: never send titles).",
    )
    base_url: str | None = Field(
        default=None, description="API endpoint override (proxy, regional endpoint, emulator)."
    )
    max_concurrency: int = Field(default=16, gt=0, description="Requests in flight at most.")
    requests_per_minute: float | None = Field(
        default=None,
        ge=0,
        description="Quota: requests per minute, counted as the service counts them (each "
        "input on the Gemini API, each HTTP call on Vertex AI and DashScope); None or 0: "
        "not given (the tier's figure, else learnt from the service's 429s).",
    )
    tokens_per_minute: float | None = Field(
        default=None, ge=0, description="Quota: input tokens per minute (estimated locally)."
    )
    requests_per_day: float | None = Field(
        default=None,
        ge=0,
        description="Quota: requests per day; when spent, calls stop with "
        "DailyQuotaExceededError (resets_at says when to resume).",
    )
    tier: str | None = Field(
        default=None,
        description="Fill the quota from the service's published figures for this tier "
        "('free', 'tier1', 'tier2', 'tier3'; 'default' for services without tiers); "
        "explicit numbers win. None: the provider's default (Vertex AI's published quota; "
        "none on the Gemini API and DashScope).",
    )
    max_retries: int = Field(default=6, ge=0, description="Retries of transient failures.")
    timeout: float | None = Field(default=60.0, description="Per-request timeout in seconds.")
    cache: Any = Field(
        default=None,
        exclude=True,
        description="omniembed EmbeddingCache, or a path to a SQLite cache file.",
    )
    quota: Any = Field(
        default=None,
        exclude=True,
        description="A shared omniembed.runtime.Quota (several embedders on one project "
        "quota; Quota() for no client-side limits); instead of the quota numbers and tier. "
        "Never serialized; a pickled copy gets its own Quota with the same figures.",
    )

    #: Fields holding credentials: never serialized, never pickled.
    _secret_fields: ClassVar[tuple[str, ...]] = ()
    #: Other names users expect: ``model`` (as elsewhere) for ``model_name``, and the
    #: services' names of the vector size for ``dimensions``.
    _aliases: ClassVar[dict[str, str]] = {
        "model": "model_name",
        **dict.fromkeys(DIMENSION_ALIASES, "dimensions"),
    }
    _embedder: Embedder | None = PrivateAttr(default=None)

    def __init__(
        self, model_name: str | None = None, /, *, embedder: Embedder | None = None, **data: Any
    ):
        """``model_name`` may be given by position. Builds the provider embedder now
        (credential errors surface here), or adopts ``embedder``, a ready-built provider
        embedder of the matching class. An unknown keyword raises `UnknownParameterError`
        naming the nearest field."""
        positional = None if model_name is None else ("model_name", model_name)
        super().__init__(**model_keywords(type(self), data, self._aliases, positional))
        if embedder is None:
            embedder = self._build_embedder()
        else:
            self._adopt(embedder)
            self._adopt_quota(embedder)
        self._embedder = embedder
        if "embed_batch_size" not in self.model_fields_set:
            # Informational: our runtime batches to this limit itself.
            self.embed_batch_size = self._request_limit(embedder)

    @field_validator("task_type", "query_task_type", mode="before")
    @classmethod
    def _parse_task(cls, value: Any) -> str:
        task = Task.parse(value)
        if task is None:
            raise InvalidParameterError("a task type is required (e.g. 'RETRIEVAL_DOCUMENT')")
        return task.value

    @field_validator("tier")
    @classmethod
    def _check_tier(cls, value: str | None) -> str | None:
        return check_tier(value)

    @field_validator("quota")
    @classmethod
    def _check_quota(cls, value: Any) -> Any:
        return check_quota(value)

    # --- provider hooks (per class) -------------------------------------------------------

    @classmethod
    def _provider_class(cls) -> type[Embedder]:
        """The provider embedder class this adapter wraps (imported on first use)."""
        raise NotImplementedError

    def _build_embedder(self) -> Embedder:
        # The fields are the settings, in the providers' own vocabulary: one factory
        # builds every adapter's embedder (and the CLI's, and Ray's).
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        fields["default_task"] = self.task_type
        cls = self._provider_class()
        return build_embedder(cls, **pick_settings(cls, fields))

    def _adopt(self, embedder: Embedder) -> None:
        """Mirror a ready-built embedder's settings in the fields (for serialization)."""
        self.model_name = embedder.model

    def _adopt_quota(self, embedder: Embedder) -> None:
        """Share a ready-built embedder's quota, and mirror its figures in the fields."""
        self.quota = embedder.quota
        self.tier = None
        for name in _QUOTA_NUMBERS:
            setattr(self, name, getattr(embedder.quota.limits, name))

    def _request_limit(self, embedder: Embedder) -> int:
        return 1

    # --- the provider embedder -----------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The provider embedder doing the work (`GeminiEmbedder`, ...)."""
        if self._embedder is None:
            try:
                self._embedder = self._build_embedder()
            except OmniEmbedError as exc:
                raise type(exc)(
                    f"{exc} (this {type(self).__name__} was unpickled; credentials "
                    "are never pickled, so they must come from the environment)"
                ) from exc
        return self._embedder

    def to_payload(self) -> dict[str, Any]:
        payload = super().to_payload()
        payload["task_type"] = self.task_type
        payload["query_task_type"] = self.query_task_type
        return payload

    # --- calling the provider ------------------------------------------------------------

    def _options(self, progress: bool) -> dict[str, Any]:
        # None keeps the embedder's own progress setting when the caller did not ask.
        return {"progress": True if progress else None}

    def _vectors(self, results: list[EmbeddingResult]) -> list[Vector]:
        return [result.vector for result in results]

    def _embed(
        self,
        inputs: list[Any],
        task: str,
        titles: Sequence[str | None] | None = None,
        progress: bool = False,
        **options: Any,
    ) -> list[EmbeddingResult]:
        if not inputs:
            return []
        return self.embedder.embed(
            inputs, task=task, titles=_titles_or_none(titles), **self._options(progress), **options
        )

    async def _aembed(
        self,
        inputs: list[Any],
        task: str,
        titles: Sequence[str | None] | None = None,
        progress: bool = False,
        **options: Any,
    ) -> list[EmbeddingResult]:
        if not inputs:
            return []
        return await self.embedder.aembed(
            inputs, task=task, titles=_titles_or_none(titles), **self._options(progress), **options
        )

    # --- LlamaIndex hooks ----------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> Vector:
        return self._embed([query], self.query_task_type)[0].vector

    async def _aget_query_embedding(self, query: str) -> Vector:
        return (await self._aembed([query], self.query_task_type))[0].vector

    def _get_text_embedding(self, text: str) -> Vector:
        return self._embed([text], self.task_type)[0].vector

    async def _aget_text_embedding(self, text: str) -> Vector:
        return (await self._aembed([text], self.task_type))[0].vector

    def _get_text_embeddings(self, texts: list[str]) -> list[Vector]:
        return self._vectors(self._embed(list(texts), self.task_type))

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Vector]:
        return self._vectors(await self._aembed(list(texts), self.task_type))

    def _get_image_embedding(self, img_file_path: ImageType) -> Vector:
        return self._embed([to_media(img_file_path, 0)], self.task_type)[0].vector

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Vector:
        return (await self._aembed([to_media(img_file_path, 0)], self.task_type))[0].vector

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Vector]:
        return self._vectors(self._embed(to_media_list(img_file_paths), self.task_type))

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Vector]:
        return self._vectors(await self._aembed(to_media_list(img_file_paths), self.task_type))

    # --- whole-list batch methods with LlamaIndex's instrumentation ----------------------

    @contextmanager
    def _instrumented(self, chunks: list[str]) -> Iterator[_Run]:
        """The events LlamaIndex's own batch methods emit, once for the whole call."""
        model_dict = self.to_payload()
        dispatcher.event(EmbeddingStartEvent(model_dict=model_dict))
        run = _Run(chunks)
        with self.callback_manager.event(
            CBEventType.EMBEDDING, payload={EventPayload.SERIALIZED: model_dict}
        ) as event:
            yield run
            event.on_end(
                payload={EventPayload.CHUNKS: run.chunks, EventPayload.EMBEDDINGS: run.embeddings}
            )
        # Built without validation: the vectors are lists of floats already, and pydantic
        # checking 500 × 3,072 of them is ~70 ms in one call holding the GIL, a stall of
        # the event loop wherever it runs (LlamaIndex's own batches are 10 texts).
        end = EmbeddingEndEvent.model_construct(chunks=run.chunks, embeddings=run.embeddings)
        dispatcher.event(end)

    @dispatcher.span
    def get_text_embedding_batch(
        self,
        texts: list[str],
        show_progress: bool = False,
        titles: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[Vector]:
        """Embed ``texts`` (documents) in one runtime call; ``titles`` are per-text titles."""
        texts = list(texts)
        if not texts:
            return []
        _check_titles(texts, titles)
        with self._instrumented(texts) as run:
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            run.embeddings = self._with_kv_cache(
                texts,
                lambda idx: self._vectors(
                    self._embed(
                        [texts[i] for i in idx],
                        self.task_type,
                        _pick(titles, idx),
                        show_progress,
                    )
                ),
            )
        return run.embeddings

    @dispatcher.span
    async def aget_text_embedding_batch(
        self,
        texts: list[str],
        show_progress: bool = False,
        titles: Sequence[str | None] | None = None,
        **kwargs: Any,
    ) -> list[Vector]:
        """Async `get_text_embedding_batch`; never blocks the event loop."""
        texts = list(texts)
        if not texts:
            return []
        _check_titles(texts, titles)

        async def embed(idx: list[int]) -> list[Vector]:
            results = await self._aembed(
                [texts[i] for i in idx], self.task_type, _pick(titles, idx), show_progress
            )
            return self._vectors(results)

        with self._instrumented(texts) as run:
            if self.rate_limiter is not None:
                await self.rate_limiter.async_acquire()
            run.embeddings = await self._awith_kv_cache(texts, embed)
        return run.embeddings

    @dispatcher.span
    def get_image_embedding_batch(
        self, img_file_paths: list[ImageType], show_progress: bool = False
    ) -> list[Vector]:
        """Embed images (paths, URLs, BytesIO) in one runtime call."""
        images = list(img_file_paths)
        if not images:
            return []
        media = to_media_list(images)
        with self._instrumented([label(i) for i in images]) as run:
            run.embeddings = self._vectors(self._embed(media, self.task_type, None, show_progress))
        return run.embeddings

    @dispatcher.span
    async def aget_image_embedding_batch(
        self, img_file_paths: list[ImageType], show_progress: bool = False
    ) -> list[Vector]:
        """Async `get_image_embedding_batch`."""
        images = list(img_file_paths)
        if not images:
            return []
        media = to_media_list(images)
        with self._instrumented([label(i) for i in images]) as run:
            results = await self._aembed(media, self.task_type, None, show_progress)
            run.embeddings = self._vectors(results)
        return run.embeddings

    # --- nodes ---------------------------------------------------------------------------

    def _node_titles(self, nodes: Sequence[BaseNode]) -> list[str | None] | None:
        key = self.title_metadata_key
        if not key:
            return None
        titles = [_title(node.metadata.get(key)) for node in nodes]
        return titles if any(t is not None for t in titles) else None

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Embed nodes (IngestionPipeline), sending per-node titles; nodes that already
        carry a vector (e.g. from `VideoSegmentReader`) are left as they are."""
        todo = [node for node in nodes if node.embedding is None]
        if todo:
            vectors = self.get_text_embedding_batch(
                [node.get_content(metadata_mode=MetadataMode.EMBED) for node in todo],
                titles=self._node_titles(todo),
                **kwargs,
            )
            for node, vector in zip(todo, vectors, strict=True):
                node.embedding = vector
        return nodes

    async def acall(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        """Async `__call__`."""
        todo = [node for node in nodes if node.embedding is None]
        if todo:
            vectors = await self.aget_text_embedding_batch(
                [node.get_content(metadata_mode=MetadataMode.EMBED) for node in todo],
                titles=self._node_titles(todo),
                **kwargs,
            )
            for node, vector in zip(todo, vectors, strict=True):
                node.embedding = vector
        return nodes

    # --- video, PDF, audio ---------------------------------------------------------------

    def get_video_embedding(
        self, video: MediaLike, segment_config: VideoSegmentConfig | None = None
    ) -> list[Embedding]:
        """One video's segments in order, each with ``start_offset_sec`` / ``end_offset_sec``.

        ``segment_config`` picks the stretch and segment length (``interval_sec``); models
        that embed a clip as a whole get the video cut into clips locally first."""
        return self.get_video_embedding_batch([video], segment_config)[0]

    async def aget_video_embedding(
        self, video: MediaLike, segment_config: VideoSegmentConfig | None = None
    ) -> list[Embedding]:
        """Async `get_video_embedding`."""
        return (await self.aget_video_embedding_batch([video], segment_config))[0]

    def get_video_embedding_batch(
        self,
        videos: Sequence[MediaLike],
        segment_config: VideoSegmentConfig | None = None,
        show_progress: bool = False,
    ) -> list[list[Embedding]]:
        """Several videos in one runtime call; one list of segment vectors per video."""
        return self._segments(self.embedder.embed_videos, videos, segment_config, show_progress)

    async def aget_video_embedding_batch(
        self,
        videos: Sequence[MediaLike],
        segment_config: VideoSegmentConfig | None = None,
        show_progress: bool = False,
    ) -> list[list[Embedding]]:
        """Async `get_video_embedding_batch`."""
        return await self._asegments(
            self.embedder.aembed_videos, videos, segment_config, show_progress
        )

    def get_pdf_embedding(self, pdf: MediaLike) -> Vector:
        """One vector for a PDF (gemini-embedding-2: at most 6 pages; other models raise
        `UnsupportedMediaError`). Embed long PDFs page by page with `PDFPageReader`."""
        return self.get_pdf_embedding_batch([pdf])[0]

    async def aget_pdf_embedding(self, pdf: MediaLike) -> Vector:
        """Async `get_pdf_embedding`."""
        return (await self.aget_pdf_embedding_batch([pdf]))[0]

    def get_pdf_embedding_batch(
        self, pdfs: Sequence[MediaLike], show_progress: bool = False
    ) -> list[Vector]:
        """Several PDFs (e.g. one-page PDFs) in one runtime call."""
        return self._media_batch(pdfs, show_progress)

    async def aget_pdf_embedding_batch(
        self, pdfs: Sequence[MediaLike], show_progress: bool = False
    ) -> list[Vector]:
        """Async `get_pdf_embedding_batch`."""
        return await self._amedia_batch(pdfs, show_progress)

    def get_audio_embedding(self, audio: MediaLike) -> Vector:
        """One vector for an audio clip (gemini-embedding-2; other models raise
        `UnsupportedMediaError`)."""
        return self._media_batch([audio], False)[0]

    async def aget_audio_embedding(self, audio: MediaLike) -> Vector:
        """Async `get_audio_embedding`."""
        return (await self._amedia_batch([audio], False))[0]

    def get_audio_segment_embedding_batch(
        self,
        audios: Sequence[MediaLike],
        segment_config: AudioSegmentConfig | None = None,
        show_progress: bool = False,
    ) -> list[list[Embedding]]:
        """Audio of any length as timed segments (`Embedder.embed_audios`): one list of
        `Embedding`s per audio, each with ``start_offset_sec`` / ``end_offset_sec``, all
        windows in one runtime call. Models that do not hear audio raise
        `UnsupportedMediaError` before any request."""
        return self._segments(self.embedder.embed_audios, audios, segment_config, show_progress)

    async def aget_audio_segment_embedding_batch(
        self,
        audios: Sequence[MediaLike],
        segment_config: AudioSegmentConfig | None = None,
        show_progress: bool = False,
    ) -> list[list[Embedding]]:
        """Async `get_audio_segment_embedding_batch` (cutting runs in a worker thread)."""
        return await self._asegments(
            self.embedder.aembed_audios, audios, segment_config, show_progress
        )

    # Video and audio segments: one instrumented call of the embedder's segmenting method.

    def _segments(
        self,
        embed: Callable[..., list[list[Embedding]]],
        items: Sequence[MediaLike],
        segment_config: Any,
        show_progress: bool,
    ) -> list[list[Embedding]]:
        media = to_media_list(items)
        with self._instrumented([label(i) for i in items]) as run:
            segments = embed(
                media, segment_config, task=self.task_type, **self._options(show_progress)
            )
            run.embeddings = [e.vector for per_source in segments for e in per_source]
        return segments

    async def _asegments(
        self,
        embed: Callable[..., Awaitable[list[list[Embedding]]]],
        items: Sequence[MediaLike],
        segment_config: Any,
        show_progress: bool,
    ) -> list[list[Embedding]]:
        media = to_media_list(items)
        with self._instrumented([label(i) for i in items]) as run:
            segments = await embed(
                media, segment_config, task=self.task_type, **self._options(show_progress)
            )
            run.embeddings = [e.vector for per_source in segments for e in per_source]
        return segments

    def _media_batch(self, items: Sequence[MediaLike], show_progress: bool) -> list[Vector]:
        media = to_media_list(items)
        with self._instrumented([label(i) for i in items]) as run:
            run.embeddings = self._vectors(self._embed(media, self.task_type, None, show_progress))
        return run.embeddings

    async def _amedia_batch(self, items: Sequence[MediaLike], show_progress: bool) -> list[Vector]:
        media = to_media_list(items)
        with self._instrumented([label(i) for i in items]) as run:
            results = await self._aembed(media, self.task_type, None, show_progress)
            run.embeddings = self._vectors(results)
        return run.embeddings

    # --- LlamaIndex's optional KV cache (``embeddings_cache``) ---------------------------

    def _with_kv_cache(
        self, texts: list[str], embed: Callable[[list[int]], list[Vector]]
    ) -> list[Vector]:
        store = self.embeddings_cache
        if store is None:
            return embed(list(range(len(texts))))
        found = [store.get(key=t, collection="embeddings") for t in texts]
        out = [next(iter(hit.values())) if hit else None for hit in found]
        missing = [i for i, vector in enumerate(out) if vector is None]
        if missing:
            for i, vector in zip(missing, embed(missing), strict=True):
                out[i] = vector
                store.put(key=texts[i], val={"omniembed": vector}, collection="embeddings")
        return [v for v in out if v is not None]

    async def _awith_kv_cache(
        self, texts: list[str], embed: Callable[[list[int]], Awaitable[list[Vector]]]
    ) -> list[Vector]:
        store = self.embeddings_cache
        if store is None:
            return await embed(list(range(len(texts))))
        found = [await store.aget(key=t, collection="embeddings") for t in texts]
        out = [next(iter(hit.values())) if hit else None for hit in found]
        missing = [i for i, vector in enumerate(out) if vector is None]
        if missing:
            for i, vector in zip(missing, await embed(missing), strict=True):
                out[i] = vector
                await store.aput(key=texts[i], val={"omniembed": vector}, collection="embeddings")
        return [v for v in out if v is not None]

    # --- closing (``with`` / ``async with`` come from `Closeable`) ------------------------

    def close(self) -> None:
        """Close the provider embedder's connections (`Embedder.close`): idempotent, and
        the embedding cannot be used afterwards. Copies (``deepcopy``) share the provider
        embedder, so closing one closes them all; an embedder given as ``embedder=`` is
        closed too."""
        if self._embedder is not None:
            self._embedder.close()

    async def aclose(self) -> None:
        """`close`, closing the running event loop's connections in it first."""
        if self._embedder is not None:
            await self._embedder.aclose()

    # --- copying and pickling: never secrets or live clients in a pickle ------------------

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # The provider embedder (live clients, credentials) cannot be copied: share it.
        memo = {} if memo is None else memo
        if self._embedder is not None:
            memo[id(self._embedder)] = self._embedder
        return super().__deepcopy__(memo)

    def __getstate__(self) -> dict[Any, Any]:
        # pydantic's state, not BaseComponent's: that one test-pickles the live provider
        # embedder (which refuses) and logs a warning; we drop it and the secrets first.
        state = dict(BaseModel.__getstate__(self))
        fields = dict(state.get("__dict__") or {})
        for name in self._secret_fields:
            fields[name] = None
        cache = fields.get("cache")
        if cache is not None and not isinstance(cache, (str, os.PathLike)):
            # A cache object holds locks/connections; a SQLite cache travels as its path.
            path = getattr(cache, "path", None)
            fields["cache"] = str(path) if path is not None else None
        quota = fields.get("quota")
        if isinstance(quota, Quota):
            # A limiter cannot cross processes: the copy gets its own, with the same figures.
            fields["quota"] = None
            fields["tier"] = None
            for name in _QUOTA_NUMBERS:
                fields[name] = getattr(quota.limits, name)
        for name, value in list(fields.items()):
            if name != "cache" and not _picklable(value):
                fields[name] = None  # e.g. a callback manager holding live handlers
        state["__dict__"] = fields
        private = dict(state.get("__pydantic_private__") or {})
        private["_embedder"] = None
        state["__pydantic_private__"] = private
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        if self.__dict__.get("callback_manager") is None:  # dropped by __getstate__
            self.callback_manager = CallbackManager([])
        # Rebuild from the environment's credentials now if possible, else on first use
        # (raising there, with the reason), so unpickling itself never fails.
        try:
            self._embedder = self._build_embedder()
        except OmniEmbedError:
            self._embedder = None


class GeminiMultiModalEmbedding(OmniMultiModalEmbedding):
    """Gemini embeddings (`GeminiEmbedder`): gemini-embedding-2 (text, images, video, PDF,
    audio in one space) or gemini-embedding-001 (text), on the Gemini API or Vertex AI.

    Gemini API: ``api_key`` (default ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``). Vertex AI:
    ``vertexai=True`` with ``project``/``location`` and ADC, ``credentials`` or
    ``access_token``.
    """

    model_name: str = Field(
        default="gemini-embedding-2",
        description="gemini-embedding-2, gemini-embedding-001 or (Vertex) text-embedding-005.",
    )
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="Gemini API key (never serialized)."
    )
    vertexai: bool | None = Field(
        default=None, description="Use Vertex AI (default: GOOGLE_GENAI_USE_VERTEXAI)."
    )
    project: str | None = Field(default=None, description="Vertex AI project.")
    location: str | None = Field(default=None, description="Vertex AI location.")
    credentials: Any = Field(
        default=None, exclude=True, repr=False, description="google-auth credentials (Vertex)."
    )
    access_token: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="OAuth access token (Vertex)."
    )
    dimensions: int | None = Field(
        default=None,
        description="Truncate vectors to this size (re-normalized); alias output_dimensionality.",
    )
    normalize: bool = Field(default=True, description="Re-normalize truncated vectors.")

    _secret_fields: ClassVar[tuple[str, ...]] = ("api_key", "credentials", "access_token")

    @classmethod
    def class_name(cls) -> str:
        return "OmniembedGeminiMultiModalEmbedding"

    @classmethod
    def _provider_class(cls) -> type[Embedder]:
        from ..providers.gemini import GeminiEmbedder

        return GeminiEmbedder

    def _adopt(self, embedder: Embedder) -> None:
        from ..providers.gemini import GeminiEmbedder

        if not isinstance(embedder, GeminiEmbedder):
            raise TypeError(f"{type(self).__name__} wraps a GeminiEmbedder, not {embedder!r}")
        self.model_name = embedder.model
        self.vertexai = embedder.vertexai
        self.project = getattr(embedder, "project", None)
        self.location = getattr(embedder, "location", None)
        self.base_url = embedder.base_url
        self.dimensions = embedder.output_dimensionality
        self.normalize = embedder.normalize

    def _request_limit(self, embedder: Embedder) -> int:
        # batchEmbedContents takes 100 inputs; Vertex AI takes one content per call.
        return 1 if getattr(embedder, "vertexai", False) else 100


class VertexMultiModalEmbedding(OmniMultiModalEmbedding):
    """Vertex AI ``multimodalembedding@001`` (`VertexMultiModalEmbedder`): text, images and
    video segments in one space. Task types do not apply to this model.

    Credentials: ADC by default, or ``credentials`` / ``access_token``; ``project`` /
    ``location`` default to ``GOOGLE_CLOUD_PROJECT`` / ``GOOGLE_CLOUD_LOCATION``.
    """

    model_name: str = Field(
        default="multimodalembedding@001", description="Always multimodalembedding@001."
    )
    project: str | None = Field(default=None, description="Google Cloud project.")
    location: str | None = Field(default=None, description="Vertex AI location.")
    credentials: Any = Field(
        default=None, exclude=True, repr=False, description="google-auth credentials."
    )
    access_token: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="OAuth access token."
    )
    dimensions: int = Field(
        default=1408,
        description="128, 256, 512 or 1408 (text/image; video is always 1408); alias dimension.",
    )
    video_segment_config: VideoSegmentConfig | None = Field(
        default=None, description="Default video stretch and segment length."
    )
    downscale_images: bool = Field(
        default=True, description="Shrink images to the model's 512 px before upload."
    )
    max_concurrency: int = Field(default=8, gt=0, description="Requests in flight at most.")
    timeout: float | None = Field(default=120.0, description="Per-request timeout in seconds.")

    _secret_fields: ClassVar[tuple[str, ...]] = ("credentials", "access_token")

    @classmethod
    def class_name(cls) -> str:
        return "OmniembedVertexMultiModalEmbedding"

    @classmethod
    def _provider_class(cls) -> type[Embedder]:
        from ..providers.vertex_multimodal import VertexMultiModalEmbedder

        return VertexMultiModalEmbedder

    def _adopt(self, embedder: Embedder) -> None:
        from ..providers.vertex_multimodal import VertexMultiModalEmbedder

        if not isinstance(embedder, VertexMultiModalEmbedder):
            raise TypeError(
                f"{type(self).__name__} wraps a VertexMultiModalEmbedder, not {embedder!r}"
            )
        self.project = embedder.project
        self.location = embedder.location
        self.base_url = embedder.base_url
        self.dimensions = embedder.dimension
        self.video_segment_config = embedder.video_segment_config
        self.downscale_images = embedder.downscale_images


class DashScopeMultiModalEmbedding(OmniMultiModalEmbedding):
    """DashScope multimodal embeddings (`DashScopeEmbedder`): tongyi-embedding-vision-plus
    (default), tongyi-embedding-vision-flash, qwen3-vl-embedding, multimodal-embedding-v1.

    ``api_key`` defaults to ``DASHSCOPE_API_KEY``. DashScope has no task types or titles
    (use ``instruct``); local videos are uploaded through DashScope's upload flow.
    """

    model_name: str = Field(
        default="tongyi-embedding-vision-plus", description="DashScope embedding model."
    )
    api_key: SecretStr | None = Field(
        default=None, exclude=True, repr=False, description="DashScope API key (never serialized)."
    )
    region: Literal["intl", "cn"] = Field(
        default="intl", description="'intl' (Singapore) or 'cn' (Beijing) endpoint."
    )
    dimensions: int | None = Field(
        default=None, description="Vector size (None: the model's default); alias dimension."
    )
    fps: float | None = Field(default=None, description="Share of video frames sampled, [0, 1].")
    instruct: str | None = Field(default=None, description="Task instruction for the model.")
    allow_upload: bool = Field(default=True, description="Upload local videos (else URLs only).")

    _secret_fields: ClassVar[tuple[str, ...]] = ("api_key",)

    @classmethod
    def class_name(cls) -> str:
        return "OmniembedDashScopeMultiModalEmbedding"

    @classmethod
    def _provider_class(cls) -> type[Embedder]:
        from ..providers.dashscope import DashScopeEmbedder

        return DashScopeEmbedder

    def _adopt(self, embedder: Embedder) -> None:
        from ..providers.dashscope import DashScopeEmbedder

        if not isinstance(embedder, DashScopeEmbedder):
            raise TypeError(f"{type(self).__name__} wraps a DashScopeEmbedder, not {embedder!r}")
        self.model_name = embedder.model
        self.base_url = embedder.base_url
        self.region = embedder.region
        self.dimensions = embedder.dimension
        self.fps = embedder.fps
        self.instruct = embedder.instruct
        self.allow_upload = embedder.allow_upload

    def _request_limit(self, embedder: Embedder) -> int:
        spec = getattr(embedder, "spec", None)
        return int(getattr(spec, "max_elements", 1) or 1)


# --- helpers -------------------------------------------------------------------------------


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def _title(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _titles_or_none(titles: Sequence[str | None] | None) -> list[str | None] | None:
    if titles is None or all(t is None for t in titles):
        return None
    return list(titles)


def _pick(titles: Sequence[str | None] | None, idx: list[int]) -> list[str | None] | None:
    return None if titles is None else [titles[i] for i in idx]


def _check_titles(texts: list[str], titles: Sequence[str | None] | None) -> None:
    if titles is not None and len(titles) != len(texts):
        raise InvalidParameterError(
            f"titles has {len(titles)} entries for {len(texts)} texts; give one (or None) each"
        )
