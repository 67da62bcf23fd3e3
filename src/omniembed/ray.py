"""Ray Data ingestion: embed a dataset's rows on a pool of actors sharing one quota.

    import ray
    from omniembed.ray import embed_dataset

    ds = ray.data.from_items([{"item": "a note", "kind": "text"},
                              {"item": "/data/photos/cat.jpg", "kind": "image"}])
    ds = embed_dataset(ds, "gemini", workers=4, input_type_column="kind",
                       tier="tier1")   # the whole project's quota, split 4 ways

`EmbedBatch` is the callable class for ``Dataset.map_batches``; every actor builds its
embedder once. The quota (``requests_per_minute``, ``tokens_per_minute``,
``requests_per_day``, or a ``tier``'s published figures) and ``max_concurrency`` are totals
for the whole pool: each of the ``workers`` actors gets ``1/workers`` of them as its own
`Quota`, so the actors together stay within the provider's quota. Needs the ``ray`` extra:
``pip install 'omniembed[ray]'``.
"""

from __future__ import annotations

import enum
import inspect
import logging
import math
from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any, Literal, NamedTuple

from .closing import Closeable
from .errors import ConfigurationError, MissingDependencyError, OmniEmbedError

try:
    import ray.data
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingDependencyError(
        "omniembed.ray needs Ray Data; install it with pip install 'omniembed[ray]'"
    ) from exc

import numpy as np
from pydantic import SecretStr

from .keywords import accepted_keywords, unknown_keyword
from .media import Media, Modality
from .providers.base import Embedder
from .providers.factory import ALIASES, PROVIDERS, accepted_settings, embedder_class, resolve
from .providers.quota_table import default_tier, quota_limits
from .runtime.quota import Quota, QuotaLimits
from .runtime.rate_limit import RateLimiter
from .tasks import Task
from .types import Embedding, VideoSegmentConfig

__all__ = [
    "MEDIA_KINDS",
    "PROVIDERS",
    "PROVIDER_DEFAULT",
    "EmbedBatch",
    "WorkerShare",
    "embed_dataset",
    "pool_kwargs",
    "resolve_provider",
    "share",
]

#: Provider names accepted by `EmbedBatch` and `embed_dataset`.

#: Values of an ``input_type_column`` meaning "a path, URI or bytes to read as media".
MEDIA_KINDS = frozenset({"media", *(m.value for m in Modality if m is not Modality.TEXT), "pdf"})

logger = logging.getLogger("omniembed.ray")

#: Constructor arguments wrapped in `SecretStr` before they travel to the actors.
_SECRET_KWARGS = ("api_key", "access_token")
#: Embedder arguments holding live limiters, which cannot be shared between Ray workers.
_UNSHAREABLE = {
    "rate_limiter": "A RateLimiter",
    "quota": "A Quota",
}


class _Default(enum.Enum):
    PROVIDER = "the provider's default"


PROVIDER_DEFAULT = _Default.PROVIDER


class EmbedBatch(Closeable):
    """Embeds one column of each batch; use with ``Dataset.map_batches`` on an actor pool.

    Rows hold text, or media as a local path, a URI (``file://``, ``http(s)://``, ``gs://``,
    ``oss://``, ``data:``) or bytes. Which one is never guessed: give ``input_type``
    (``"text"`` or ``"media"`` for the whole column) or ``input_type_column`` (per row:
    ``"text"``, ``"media"``, or a modality such as ``"image"``/``"video"``/``"pdf"``).

    Adds ``output_column`` (the vector, null on failure) and ``error_column`` (null, or
    ``"ErrorClass: message"``) in input order; a bad row never fails the batch. With
    ``segments_column``, video rows also get ``[{start, end, vector}, ...]`` (a video with
    several segments then has a null vector); ``segment_config`` cuts videos into segments.

    The quota — ``requests_per_minute`` (in the service's unit: each input on the Gemini
    API, each HTTP call on Vertex AI and DashScope), ``tokens_per_minute``,
    ``requests_per_day``, and ``tier`` (the published figures; default: the provider's own
    default, e.g. ``"default"`` for Vertex multimodalembedding@001) — and
    ``max_concurrency`` are totals for the whole pool of ``workers`` actors; each actor
    gets ``1/workers`` of them as its own `Quota` (see `share`). ``burst`` additionally
    spaces each actor's HTTP requests evenly at its share of ``requests_per_minute``, with
    at most ``burst`` back to back for the pool. ``quota_window_sec`` is the quota's minute:
    change it only to match a time-scaled test server (the emulator's
    ``quota_window_sec``). ``embedder_kwargs`` go to the provider class (``model``,
    ``base_url``, ``output_dimensionality``, ...); prefer credentials from environment
    variables on the workers over ``api_key=``. Batches may be pandas, pyarrow or numpy
    (see `__call__`).
    """

    def __init__(
        self,
        provider: str | type[Embedder] = "gemini",
        *,
        column: str = "item",
        input_type: Literal["text", "media"] | None = None,
        input_type_column: str | None = None,
        title_column: str | None = None,
        output_column: str = "embedding",
        error_column: str = "embedding_error",
        segments_column: str | None = None,
        segment_config: VideoSegmentConfig | None = None,
        task: Task | str | None = None,
        workers: int = 1,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        requests_per_day: float | None = None,
        tier: str | _Default | None = PROVIDER_DEFAULT,
        burst: int | None = None,
        max_concurrency: int | None = None,
        quota_window_sec: float = 60.0,
        vector_dtype: Literal["float64", "float32"] = "float64",
        **embedder_kwargs: Any,
    ):
        if (input_type is None) == (input_type_column is None):
            raise ConfigurationError(
                "say how to read the rows: pass input_type='text' or 'media' for the whole "
                "column, or input_type_column=<column naming 'text'/'media'/'image'/... per "
                "row> (omniembed.ray never guesses whether a string is a path or a text)"
            )
        if input_type is not None and input_type not in ("text", "media"):
            raise ConfigurationError(f"input_type must be 'text' or 'media', got {input_type!r}")
        if not isinstance(workers, int) or workers < 1:
            raise ConfigurationError(f"workers must be a positive integer, got {workers!r}")
        if vector_dtype not in ("float64", "float32"):
            raise ConfigurationError(f"vector_dtype must be float64 or float32: {vector_dtype!r}")
        if segment_config is not None and segments_column is None:
            raise ConfigurationError(
                "segment_config cuts videos into several segments: pass segments_column= "
                "(e.g. 'segments') to keep their vectors"
            )
        for name, what in _UNSHAREABLE.items():
            if name in embedder_kwargs:
                raise ConfigurationError(
                    f"{what} cannot be shared between Ray workers; pass the pool's total "
                    "requests_per_minute= / tokens_per_minute= / requests_per_day= or tier= "
                    "(and workers=) and each worker takes its share"
                )
        if burst is not None and (
            isinstance(burst, bool) or not isinstance(burst, int) or burst < 1
        ):
            raise ConfigurationError(f"burst must be a positive integer, got {burst!r}")
        self.column = column
        self.input_type = input_type
        self.input_type_column = input_type_column
        self.title_column = title_column
        self.output_column = output_column
        self.error_column = error_column
        self.segments_column = segments_column
        self.segment_config = segment_config
        self.task = task
        self.workers = workers
        self.vector_dtype = vector_dtype
        # The one settings → embedder path (aliases, nearest-name errors, "vertex" models);
        # a misspelt name is suggested among ours and the provider's.
        takes = accepted_settings(embedder_class(provider, embedder_kwargs.get("model")))
        for name in embedder_kwargs:
            if name not in takes and name not in ALIASES:
                raise unknown_keyword("EmbedBatch", name, takes | _OWN_KEYWORDS)
        cls, embedder_kwargs = resolve(provider, embedder_kwargs)
        mine = share(
            cls,
            workers,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            requests_per_day=requests_per_day,
            tier=tier,
            max_concurrency=max_concurrency,
            model=embedder_kwargs.get("model"),
            vertexai=embedder_kwargs.get("vertexai"),
        )
        try:
            embedder_kwargs["quota"] = _worker_quota(cls, embedder_kwargs, mine, quota_window_sec)
        except ValueError as exc:
            raise ConfigurationError(str(exc)) from None
        if burst is not None:
            rpm = mine.limits.requests_per_minute
            if rpm is None:
                raise ConfigurationError(
                    "burst= spaces requests at the pool's requests_per_minute; give "
                    "requests_per_minute= or a tier= with one"
                )
            embedder_kwargs["rate_limiter"] = RateLimiter(rpm, burst=max(1, burst // workers))
        if mine.max_concurrency is not None:
            embedder_kwargs["max_concurrency"] = mine.max_concurrency
        self.embedder: Embedder = cls(**embedder_kwargs)

    def __call__(self, batch: Any) -> Any:
        """Embed ``batch[column]``; returns the batch, in its format, with the new columns.

        pandas and pyarrow batches get typed columns (``list<double|float>``, ``string``,
        ``list<struct<start, end, vector>>``) in every block, so files written from them
        share one schema; numpy batches get object arrays (vectors as numpy arrays)."""
        if hasattr(batch, "iloc"):
            return self._pandas(batch)
        if hasattr(batch, "append_column"):
            return self._arrow(batch)
        if isinstance(batch, Mapping):
            return self._numpy(batch)
        raise TypeError(
            f"EmbedBatch takes numpy, pandas or pyarrow batches, got {type(batch).__name__}"
        )

    def _rows(self, column: Any) -> tuple[list[Any], list[str | None], list[Any]]:
        values = list(column(self.column))
        kinds = (
            list(column(self.input_type_column))
            if self.input_type_column is not None
            else [self.input_type] * len(values)
        )
        titles = list(column(self.title_column)) if self.title_column is not None else None
        return self.embed_rows(values, kinds, titles)

    def _numpy(self, batch: Mapping[str, Any]) -> dict[str, Any]:
        vectors, errors, segments = self._rows(batch.__getitem__)
        dtype = np.dtype(self.vector_dtype)
        out = dict(batch)
        out[self.output_column] = _object_array(
            [None if v is None else np.asarray(v, dtype=dtype) for v in vectors]
        )
        out[self.error_column] = _object_array(errors)
        if self.segments_column is not None:
            for found in segments:
                for segment in found or ():
                    segment["vector"] = np.asarray(segment["vector"], dtype=dtype)
            out[self.segments_column] = _object_array(segments)
        return out

    def _pandas(self, frame: Any) -> Any:
        pd = import_module("pandas")
        vectors, errors, segments = self._rows(frame.__getitem__)
        for name, values, kind in self._typed(vectors, errors, segments):
            frame[name] = pd.Series(pd.array(values, dtype=pd.ArrowDtype(kind)), index=frame.index)
        return frame

    def _arrow(self, table: Any) -> Any:
        pa = import_module("pyarrow")
        vectors, errors, segments = self._rows(lambda name: table.column(name).to_pylist())
        for name, values, kind in self._typed(vectors, errors, segments):
            column = pa.array(values, type=kind)
            index = table.schema.get_field_index(name)
            if index >= 0:
                table = table.set_column(index, name, column)
            else:
                table = table.append_column(name, column)
        return table

    def _typed(
        self, vectors: list[Any], errors: list[str | None], segments: list[Any]
    ) -> list[tuple[str, list[Any], Any]]:
        """(column, values, Arrow type) for the output columns."""
        pa = import_module("pyarrow")
        vector = pa.list_(pa.float32() if self.vector_dtype == "float32" else pa.float64())
        out = [(self.output_column, vectors, vector), (self.error_column, errors, pa.string())]
        if self.segments_column is not None:
            fields = [("start", pa.float64()), ("end", pa.float64()), ("vector", vector)]
            out.append((self.segments_column, segments, pa.list_(pa.struct(fields))))
        return out

    def embed_rows(
        self,
        values: Sequence[Any],
        kinds: Sequence[Any],
        titles: Sequence[Any] | None = None,
    ) -> tuple[list[Any], list[str | None], list[list[dict[str, Any]] | None]]:
        """Per row, in order: the vector (a list, or None), the error (or None), and the
        segments (``[{start, end, vector}]`` for videos with ``segments_column``, or None)."""
        n = len(values)
        vectors: list[Any] = [None] * n
        errors: list[str | None] = [None] * n
        segs: list[list[dict[str, Any]] | None] = [None] * n
        found: dict[int, tuple[list[Embedding], bool]] = {}
        plain: list[tuple[int, str | Media, str | None]] = []
        videos: list[tuple[int, Media]] = []
        for i in range(n):
            try:
                item = _coerce(values[i], kinds[i])
            except (OmniEmbedError, ValueError, TypeError) as exc:
                errors[i] = _describe(exc)
                continue
            is_video = isinstance(item, Media) and _is_video(item)
            if is_video and self.segment_config is not None:
                assert isinstance(item, Media)
                videos.append((i, item))
            else:
                title = None if titles is None or _missing(titles[i]) else str(titles[i])
                plain.append((i, item, title))
                found[i] = ([], is_video)
        if plain:
            results = self.embedder.embed(
                [item for _, item, _ in plain],
                self.task,
                titles=[t for _, _, t in plain] if titles is not None else None,
                raise_on_error=False,
            )
            for (i, _, _), result in zip(plain, results, strict=True):
                if result.error is not None:
                    errors[i] = _describe(result.error)
                    del found[i]
                else:
                    found[i] = (result.embeddings, found[i][1])
        for i, video in videos:
            try:
                [embeddings] = self.embedder.embed_videos(
                    [video], self.segment_config, task=self.task
                )
            except OmniEmbedError as exc:
                errors[i] = _describe(exc)
            else:
                found[i] = (embeddings, True)
        for i, (embeddings, is_video) in found.items():
            if is_video and self.segments_column is not None:
                segs[i] = [
                    {
                        "start": e.start_offset_sec,
                        "end": e.end_offset_sec,
                        "vector": e.vector,
                    }
                    for e in embeddings
                ]
            if len(embeddings) == 1:
                vectors[i] = embeddings[0].vector
            elif self.segments_column is None:
                errors[i] = (
                    f"ValueError: the video yielded {len(embeddings)} segment vectors; pass "
                    "segments_column= to keep them"
                )
        return vectors, errors, segs

    # --- closing (``with`` / ``async with`` come from `Closeable`) ------------------------

    def close(self) -> None:
        """Close the embedder's connections (`Embedder.close`; an actor that is simply
        dropped closes them when collected)."""
        self.embedder.close()

    def __repr__(self) -> str:  # never shows the embedder's credentials
        return f"EmbedBatch({self.embedder!r}, workers={self.workers})"


_OWN_KEYWORDS = accepted_keywords(EmbedBatch.__init__)


def resolve_provider(provider: str | type[Embedder], model: str | None = None) -> type[Embedder]:
    """The embedder class for ``"gemini"``, ``"vertex"``, ``"dashscope"`` (and ``model``)
    or a class (see `omniembed.providers.factory.embedder_class`)."""
    return embedder_class(provider, model)


class WorkerShare(NamedTuple):
    """One worker's part of a pool's totals (see `share`)."""

    #: The worker's quota figures (``None``: no such limit).
    limits: QuotaLimits
    #: Requests in flight for the worker (``None``: the provider's default).
    max_concurrency: int | None


def share(
    provider: type[Embedder],
    workers: int,
    *,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    requests_per_day: float | None = None,
    tier: str | _Default | None = PROVIDER_DEFAULT,
    max_concurrency: int | None = None,
    model: str | None = None,
    vertexai: bool | None = None,
) -> WorkerShare:
    """One worker's share of the pool's totals: the quota divided by ``workers`` (every
    figure: requests and tokens per minute, requests per day) and
    ``max(1, max_concurrency // workers)`` requests in flight.

    The quota is the provider's published figures for ``tier`` (default: the provider's own
    default tier: ``"default"`` on Vertex AI, e.g. 120 requests/min for
    multimodalembedding@001; none on the Gemini API and DashScope, which then learn the
    quota from the service's 429s), with the explicit numbers winning; ``tier=None`` drops
    the default. ``model`` and ``vertexai`` pick the row of the quota table
    (defaults: the provider's). ``max_concurrency`` defaults to the class's default.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ConfigurationError(f"workers must be a positive integer, got {workers!r}")
    params = inspect.signature(provider.__init__).parameters
    service = _quota_service(provider, vertexai)
    if isinstance(tier, _Default):
        tier = default_tier(service, _model(provider, model)) if service is not None else None
    numbers = {
        "requests_per_minute": requests_per_minute or None,
        "tokens_per_minute": tokens_per_minute or None,
        "requests_per_day": requests_per_day or None,
    }
    try:
        if service is None:
            if tier is not None:
                raise ConfigurationError(
                    f"{provider.__name__} names no quota_service, so tier={tier!r} cannot be "
                    "looked up; pass requests_per_minute= / tokens_per_minute= / "
                    "requests_per_day= instead"
                )
            limits = QuotaLimits().override(**numbers)
        else:
            limits = quota_limits(service, _model(provider, model), tier).override(**numbers)
    except ValueError as exc:  # a negative or non-numeric figure
        raise ConfigurationError(str(exc)) from None
    if max_concurrency is None:
        found = params.get("max_concurrency")
        if found is not None and isinstance(found.default, int):
            max_concurrency = found.default
    concurrency = max(1, max_concurrency // workers) if max_concurrency else None
    return WorkerShare(limits.share(workers), concurrency)


def _quota_service(provider: type[Embedder], vertexai: bool | None) -> str | None:
    """Which service's quota rules apply: the class's ``quota_service``, or for
    `GeminiEmbedder` (which sets it per instance) the backend ``vertexai`` selects."""
    from .providers.gemini import GeminiEmbedder
    from .providers.google_client import env_flag

    if issubclass(provider, GeminiEmbedder):
        on_vertex = env_flag("GOOGLE_GENAI_USE_VERTEXAI") if vertexai is None else vertexai
        return "vertex" if on_vertex else "gemini-api"
    service = getattr(provider, "quota_service", None)
    return service if isinstance(service, str) else None


def _model(provider: type[Embedder], model: str | None) -> str:
    if model:
        return model
    found = inspect.signature(provider.__init__).parameters.get("model")
    if found is not None and isinstance(found.default, str):
        return found.default
    from .providers.vertex_multimodal import MODEL, VertexMultiModalEmbedder

    if issubclass(provider, VertexMultiModalEmbedder):
        return MODEL
    return ""  # no table row: only explicit numbers apply


def _worker_quota(
    provider: type[Embedder], kwargs: Mapping[str, Any], mine: WorkerShare, window_sec: float
) -> Quota:
    limits = mine.limits
    if _quota_service(provider, kwargs.get("vertexai")) is None:
        # The service (and so what one request is) is known only to the built embedder.
        return Quota(
            requests_per_minute=limits.requests_per_minute,
            tokens_per_minute=limits.tokens_per_minute,
            requests_per_day=limits.requests_per_day,
            window_sec=window_sec,
        )
    return Quota(limits, window_sec=window_sec)


def pool_kwargs(workers: int) -> dict[str, Any]:
    """``map_batches`` arguments for a fixed pool of ``workers`` actors (this Ray's
    spelling: ``compute=ActorPoolStrategy(size=...)`` from Ray 2.51, ``concurrency=``
    before)."""
    major, minor = (int(x) for x in ray.__version__.split(".")[:2])
    if (major, minor) >= (2, 51):
        return {"compute": ray.data.ActorPoolStrategy(size=workers)}
    return {"concurrency": workers}


def embed_dataset(
    ds: ray.data.Dataset,
    provider: str | type[Embedder] = "gemini",
    *,
    workers: int = 2,
    batch_size: int = 100,
    batch_format: Literal["pandas", "pyarrow", "numpy"] = "pandas",
    num_cpus: float = 1,
    map_batches_kwargs: Mapping[str, Any] | None = None,
    **embed_kwargs: Any,
) -> ray.data.Dataset:
    """``ds`` with embedding columns: `EmbedBatch` on a pool of ``workers`` actors.

    ``embed_kwargs`` are `EmbedBatch`'s (``column``, ``input_type``, the TOTAL quota as
    ``requests_per_minute`` / ``tokens_per_minute`` / ``requests_per_day`` / ``tier``, model
    settings, ...); ``workers`` is both the pool size and the number the quota is divided
    by. ``api_key``/``access_token`` travel as `SecretStr`. ``batch_size`` 100 matches
    Gemini's 100 inputs per request. ``num_cpus`` per actor (the work is I/O-bound;
    fractions let more actors share a node)."""
    kwargs = dict(embed_kwargs)
    for name in _SECRET_KWARGS:
        if isinstance(kwargs.get(name), str):
            kwargs[name] = SecretStr(kwargs[name])
        if kwargs.get(name) is not None:
            # SecretStr keeps it out of reprs and logs, not out of pickle: the actors'
            # constructor arguments hold it in clear in Ray's object store.
            logger.warning(
                "%s= is pickled in clear into the Ray actors' arguments; set the key in the "
                "workers' environment instead (e.g. GEMINI_API_KEY from a secret) and drop %s=",
                name,
                name,
            )
    kwargs["provider"] = provider
    kwargs["workers"] = workers
    options: dict[str, Any] = {
        "fn_constructor_kwargs": kwargs,
        "batch_size": batch_size,
        "batch_format": batch_format,
        "num_cpus": num_cpus,
        **pool_kwargs(workers),
    }
    options.update(map_batches_kwargs or {})
    return ds.map_batches(EmbedBatch, **options)


# --- rows ----------------------------------------------------------------------------------


def _coerce(value: Any, kind: Any) -> str | Media:
    """One row's input, read as its declared kind."""
    if _missing(value):
        raise ValueError("the row has no value to embed")
    if _missing(kind):
        raise ValueError("the row has no input type (text, media, image, video, ...)")
    kind = str(kind).strip().lower()
    if kind == "text":
        if not isinstance(value, str):
            raise TypeError(f"a text row needs a string, got {type(value).__name__}")
        return str(value)
    if kind in MEDIA_KINDS:
        if isinstance(value, np.ndarray) and value.dtype == np.uint8:
            value = value.tobytes()
        if isinstance(value, (bytes, bytearray, memoryview)):
            return Media.from_bytes(bytes(value))
        if isinstance(value, str):
            return Media.coerce(str(value))
        raise TypeError(f"a media row needs a path, a URI or bytes, got {type(value).__name__}")
    raise ValueError(
        f"unknown input type {kind!r}; use 'text', 'media' or one of {sorted(MEDIA_KINDS)}"
    )


def _is_video(media: Media) -> bool:
    try:
        return media.modality is Modality.VIDEO
    except OmniEmbedError:
        return False  # the embedder reports the unknown type


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")  # pandas' missing markers


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _object_array(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[Any]]:
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        out[i] = value
    return out
