"""LangChain `Embeddings` over the omniembed provider embedders.

Each class is a thin adapter: it turns LangChain calls (texts, image URIs, a video or an
audio file) into `omniembed` inputs, calls the wrapped provider embedder once per call (the
runtime batches, paces, retries and caches), and returns plain ``list[float]`` vectors.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from typing import Any, ClassVar

from langchain_core.embeddings import Embeddings
from langchain_core.load import Serializable
from langchain_core.utils import from_env, secret_from_env
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, field_validator

from ..closing import Closeable
from ..deprecated_names import renamed
from ..errors import UnsupportedMediaError
from ..keywords import DIMENSION_ALIASES, model_keywords
from ..media import Media
from ..media.mime import Modality
from ..providers.base import Embedder
from ..providers.factory import build_embedder, pick_settings
from ..providers.quota_table import check_tier
from ..runtime.quota import check_quota
from ..tasks import Task
from ..types import AudioSegmentConfig, Embedding, EmbeddingResult, VideoSegmentConfig

__all__ = [
    "DashScopeMultiModalEmbeddings",
    "GeminiEmbeddings",
    "VertexMultiModalEmbeddings",
]


class _MultiModalEmbeddings(Serializable, Embeddings, Closeable):
    """Shared fields and methods; subclasses say how to build their provider embedder."""

    model_config = ConfigDict(
        arbitrary_types_allowed=True,
        populate_by_name=True,
        protected_namespaces=(),
        extra="forbid",
    )

    model: str
    """The provider's model name."""
    base_url: str | None = None
    """Endpoint override: a proxy, a regional endpoint or the omniembed emulator."""
    task_type: str = Task.RETRIEVAL_DOCUMENT.value
    """Task for `embed_documents` (and media), e.g. ``"CLUSTERING"``."""
    query_task_type: str = Task.RETRIEVAL_QUERY.value
    """Task for `embed_query`, e.g. ``"QUESTION_ANSWERING"``."""
    max_concurrency: int = 16
    """Requests in flight at once."""
    requests_per_minute: float | None = Field(default=None, ge=0)
    """Quota: requests per minute as the service counts them (each input on the Gemini
    API, each HTTP call on Vertex AI and DashScope); None or 0: not given (the tier's
    figure, else learnt from the service's 429s)."""
    tokens_per_minute: float | None = Field(default=None, ge=0)
    """Quota: input tokens per minute (estimated locally)."""
    requests_per_day: float | None = Field(default=None, ge=0)
    """Quota: requests per day; when spent, calls stop with `DailyQuotaExceededError`."""
    tier: str | None = None
    """Fill the quota from the service's published figures: ``"free"``, ``"tier1"``,
    ``"tier2"``, ``"tier3"`` (``"default"`` for services without tiers); explicit numbers
    win. None: the provider's default (Vertex AI's published quota; none on the Gemini API
    and DashScope)."""
    quota: Any = Field(default=None, exclude=True)
    """A shared `omniembed.runtime.Quota` (several embedders on one project quota;
    ``Quota()`` for no client-side limits), instead of the numbers and ``tier``; never
    serialized."""
    max_retries: int = 6
    """Retries of 408/429/5xx and connection errors, with backoff."""
    timeout: float | None = 60.0
    """Seconds per HTTP request."""
    cache: Any = Field(default=None, exclude=True)
    """An `omniembed.EmbeddingCache`, or a path to a SQLite cache file."""
    embedder: Embedder | None = Field(default=None, exclude=True)
    """A ready-built provider embedder; when given, the other settings are not used."""

    _provider: Embedder = PrivateAttr()
    #: Other names users expect: ``model_name`` (LlamaIndex's) for ``model``, and the
    #: services' names of the vector size for ``dimensions``.
    _aliases: ClassVar[dict[str, str]] = {
        "model_name": "model",
        **dict.fromkeys(DIMENSION_ALIASES, "dimensions"),
    }

    def __init__(self, model: str | None = None, /, **data: Any) -> None:
        """``model`` may be given by position; an unknown keyword raises
        `UnknownParameterError` naming the nearest field."""
        positional = None if model is None else ("model", model)
        super().__init__(**model_keywords(type(self), data, self._aliases, positional))
        # Built here, not in a pydantic validator, so omniembed's typed errors (missing
        # credentials, bad dimension) reach the caller unwrapped.
        Task.parse(self.task_type)
        Task.parse(self.query_task_type)
        self._provider = self.embedder if self.embedder is not None else self._build()

    @field_validator("tier")
    @classmethod
    def _check_tier(cls, value: str | None) -> str | None:
        return check_tier(value)

    @field_validator("quota")
    @classmethod
    def _check_quota(cls, value: Any) -> Any:
        return check_quota(value)

    @classmethod
    def _provider_class(cls) -> type[Embedder]:
        """The provider embedder class these embeddings wrap (imported on first use)."""
        raise NotImplementedError

    def _settings(self) -> dict[str, Any]:
        """The fields as provider settings (the one factory builds every adapter's)."""
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        fields["default_task"] = self.task_type
        return pick_settings(self._provider_class(), fields)

    def _build(self) -> Embedder:
        return build_embedder(self._provider_class(), **self._settings())

    # --- LangChain serialization -----------------------------------------------------------

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["omniembed", "langchain", "embeddings"]

    # --- provider access --------------------------------------------------------------------

    @property
    def client(self) -> Embedder:
        """The wrapped provider embedder (for ``last_stats``, ``cache``, ...)."""
        return self._provider

    # --- closing (``with`` / ``async with`` come from `Closeable`) ------------------------

    def close(self) -> None:
        """Close the provider embedder's connections (`Embedder.close`): idempotent, and
        the embeddings cannot be used afterwards. A provider embedder passed as
        ``embedder=`` is closed too."""
        self._provider.close()

    async def aclose(self) -> None:
        """`close`, closing the running event loop's connections in it first."""
        await self._provider.aclose()

    # --- text -------------------------------------------------------------------------------

    def embed_documents(
        self, texts: list[str], titles: Sequence[str | None] | None = None
    ) -> list[list[float]]:
        """Embed texts with ``task_type`` (retrieval document by default).

        ``titles`` gives one title (or None) per text; models that take titles use them
        with RETRIEVAL_DOCUMENT.
        """
        if not texts:
            return []
        results = self._provider.embed(list(texts), task=self.task_type, titles=titles)
        return _vectors(results)

    async def aembed_documents(
        self, texts: list[str], titles: Sequence[str | None] | None = None
    ) -> list[list[float]]:
        """Async `embed_documents` (native: never blocks the event loop)."""
        if not texts:
            return []
        results = await self._provider.aembed(list(texts), task=self.task_type, titles=titles)
        return _vectors(results)

    def embed_query(self, text: str) -> list[float]:
        """Embed a search text with ``query_task_type`` (retrieval query by default)."""
        return self._provider.embed([text], task=self.query_task_type)[0].vector

    async def aembed_query(self, text: str) -> list[float]:
        """Async `embed_query`."""
        return (await self._provider.aembed([text], task=self.query_task_type))[0].vector

    # --- images -----------------------------------------------------------------------------

    def embed_image(self, uris: list[str]) -> list[list[float]]:
        """One vector per image: local paths, ``file://``, ``http(s)://``, ``data:`` URIs,
        and ``gs://`` where the provider reads it (Vertex AI).

        This is the hook ``Chroma.add_images`` / ``similarity_search_by_image`` call.
        """
        if not uris:
            return []
        results = self._provider.embed(_images(uris), task=self.task_type)
        return _vectors(results)

    async def aembed_image(self, uris: list[str]) -> list[list[float]]:
        """Async `embed_image`."""
        if not uris:
            return []
        media = await asyncio.to_thread(_images, uris)  # sniffing reads files
        results = await self._provider.aembed(media, task=self.task_type)
        return _vectors(results)

    # --- video ------------------------------------------------------------------------------

    def embed_video(
        self, uri: str | os.PathLike[str], segment_config: VideoSegmentConfig | None = None
    ) -> list[Embedding]:
        """The video's segments in order, each an `omniembed.Embedding` with ``vector``,
        ``start_offset_sec`` and ``end_offset_sec``.

        ``segment_config`` picks the stretch and the segment length (``interval_sec``).
        """
        return self._provider.embed_video(uri, segment_config, task=self.task_type)

    async def aembed_video(
        self, uri: str | os.PathLike[str], segment_config: VideoSegmentConfig | None = None
    ) -> list[Embedding]:
        """Async `embed_video` (cutting runs in a worker thread)."""
        return await self._provider.aembed_video(uri, segment_config, task=self.task_type)

    # --- audio ------------------------------------------------------------------------------

    def embed_audio(
        self, uri: str | os.PathLike[str], segment_config: AudioSegmentConfig | None = None
    ) -> list[Embedding]:
        """A local audio file's segments in order, each an `omniembed.Embedding` with
        ``vector``, ``start_offset_sec`` and ``end_offset_sec``: audio of any length is cut
        into windows (``segment_config``: window, overlap, stretch). Models that do not hear
        audio raise `UnsupportedMediaError` before any request."""
        return self._provider.embed_audio(uri, segment_config, task=self.task_type)

    async def aembed_audio(
        self, uri: str | os.PathLike[str], segment_config: AudioSegmentConfig | None = None
    ) -> list[Embedding]:
        """Async `embed_audio` (cutting runs in a worker thread)."""
        return await self._provider.aembed_audio(uri, segment_config, task=self.task_type)


def _images(uris: Sequence[str | os.PathLike[str]]) -> list[Media]:
    out = []
    for index, uri in enumerate(uris):
        media = Media.coerce(uri)
        # Remote media are typed by the provider once fetched; local ones can be checked now.
        if not media.is_remote and media.modality is not Modality.IMAGE:
            raise UnsupportedMediaError(
                f"embed_image got {media.mime_type}, not an image; use embed_video for video "
                "(or the provider embedder for other media)",
                index=index,
                source=media.source,
            )
        out.append(media)
    return out


def _vectors(results: list[EmbeddingResult]) -> list[list[float]]:
    return [result.vector for result in results]


class GeminiEmbeddings(_MultiModalEmbeddings):
    """Gemini embeddings (gemini-embedding-2: text, images, video, audio, PDF in one space;
    gemini-embedding-001; text-embedding-005 on Vertex AI) via `omniembed.GeminiEmbedder`.

    Gemini API: ``api_key`` (default ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``). Vertex AI:
    ``vertexai=True`` with ``project``/``location`` and ADC, ``credentials`` or
    ``access_token`` (or an express-mode ``api_key``).

    Example:
        .. code-block:: python

            from omniembed.langchain import GeminiEmbeddings

            embeddings = GeminiEmbeddings(model="gemini-embedding-2", dimensions=768)
            vectors = embeddings.embed_documents(["a red bicycle"], titles=["Bikes"])
            image_vectors = embeddings.embed_image(uris=["photo.png"])
    """

    model: str = "gemini-embedding-2"
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env(["GEMINI_API_KEY", "GOOGLE_API_KEY"], default=None)
    )
    """Gemini API key (or Vertex AI express-mode key)."""
    vertexai: bool | None = None
    """Use Vertex AI; None reads ``GOOGLE_GENAI_USE_VERTEXAI``."""
    project: str | None = Field(default_factory=from_env("GOOGLE_CLOUD_PROJECT", default=None))
    """Vertex AI project (default ``GOOGLE_CLOUD_PROJECT``)."""
    location: str | None = Field(default_factory=from_env("GOOGLE_CLOUD_LOCATION", default=None))
    """Vertex AI region (default ``GOOGLE_CLOUD_LOCATION``, else us-central1)."""
    credentials: Any = Field(default=None, exclude=True)
    """google-auth credentials for Vertex AI."""
    access_token: SecretStr | None = None
    """A bearer token for Vertex AI."""
    api_version: str | None = None
    dimensions: int | None = None
    """Truncate vectors to this size (re-normalized unless ``normalize=False``); alias
    ``output_dimensionality``."""
    normalize: bool = True

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "GEMINI_API_KEY", "access_token": "GOOGLE_ACCESS_TOKEN"}

    @classmethod
    def _provider_class(cls) -> type[Embedder]:
        from ..providers.gemini import GeminiEmbedder

        return GeminiEmbedder

    def _settings(self) -> dict[str, Any]:
        settings = super()._settings()
        if self.vertexai and "api_key" not in self.model_fields_set:
            # A Gemini API key found in the environment must not switch Vertex AI into
            # express mode (and bypass the project/credentials the user gave).
            settings["api_key"] = None
        return settings


class VertexMultiModalEmbeddings(_MultiModalEmbeddings):
    """Vertex AI ``multimodalembedding@001`` (text, images and video segments in one
    1,408-dimensional space) via `omniembed.VertexMultiModalEmbedder`.

    Credentials: ADC by default, or ``credentials`` / ``access_token``. The model has no
    task types (``task_type`` is ignored) and reads at most 32 tokens of text.

    Example:
        .. code-block:: python

            from omniembed.langchain import VertexMultiModalEmbeddings

            embeddings = VertexMultiModalEmbeddings(project="my-project")
            segments = embeddings.embed_video("gs://bucket/talk.mp4")
    """

    model: str = "multimodalembedding@001"
    project: str | None = Field(default_factory=from_env("GOOGLE_CLOUD_PROJECT", default=None))
    """Google Cloud project (default ``GOOGLE_CLOUD_PROJECT``, else the ADC project)."""
    location: str | None = Field(default_factory=from_env("GOOGLE_CLOUD_LOCATION", default=None))
    """Region (default ``GOOGLE_CLOUD_LOCATION``, else us-central1)."""
    credentials: Any = Field(default=None, exclude=True)
    access_token: SecretStr | None = None
    api_version: str = "v1"
    dimensions: int = 1408
    """128, 256, 512 or 1408 for text and images; video is always 1408. Alias
    ``dimension``."""
    video_segment_config: VideoSegmentConfig | None = Field(default=None, exclude=True)
    """Default segment config for `embed_video`."""
    downscale_images: bool = True
    max_concurrency: int = 8
    timeout: float | None = 120.0

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"access_token": "GOOGLE_ACCESS_TOKEN"}

    @classmethod
    def _provider_class(cls) -> type[Embedder]:
        from ..providers.vertex_multimodal import VertexMultiModalEmbedder

        return VertexMultiModalEmbedder


class DashScopeMultiModalEmbeddings(_MultiModalEmbeddings):
    """Alibaba Cloud DashScope multimodal embeddings (tongyi-embedding-vision-plus/-flash,
    qwen3-vl-embedding, multimodal-embedding-v1) via `omniembed.DashScopeEmbedder`.

    ``api_key`` defaults to ``DASHSCOPE_API_KEY``; ``region`` is ``"intl"`` or ``"cn"``.
    DashScope has no task types (``task_type`` is ignored; ``instruct`` conditions the
    model). Local videos are uploaded through DashScope's temporary storage.

    Example:
        .. code-block:: python

            from omniembed.langchain import DashScopeMultiModalEmbeddings

            embeddings = DashScopeMultiModalEmbeddings(model="tongyi-embedding-vision-plus")
            vectors = embeddings.embed_image(uris=["https://example.com/cat.jpg"])
    """

    model: str = "tongyi-embedding-vision-plus"
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("DASHSCOPE_API_KEY", default=None)
    )
    """DashScope API key."""
    region: str = "intl"
    dimensions: int | None = None
    """Vector size; must be one the model allows (default: the model's). Alias
    ``dimension``."""
    fps: float | None = None
    instruct: str | None = None
    allow_upload: bool = True

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "DASHSCOPE_API_KEY"}

    @classmethod
    def _provider_class(cls) -> type[Embedder]:
        from ..providers.dashscope import DashScopeEmbedder

        return DashScopeEmbedder


#: Names of earlier releases (see `omniembed.deprecated_names`); the package reuses it.
RENAMED = {
    "VertexMultimodalEmbeddings": "VertexMultiModalEmbeddings",
    "DashScopeMultimodalEmbeddings": "DashScopeMultiModalEmbeddings",
}
_old_name = renamed(__name__, RENAMED, globals().__getitem__)


def __getattr__(name: str) -> Any:
    return _old_name(name)
