"""Ray Data ingestion: embed a dataset's rows on a pool of actors sharing one quota.

    import ray
    from omniembed.ray import embed_dataset

    ds = ray.data.from_items([{"item": "a note", "kind": "text"},
                              {"item": "/data/photos/cat.jpg", "kind": "image"}])
    ds = embed_dataset(ds, "gemini", workers=4, input_type_column="kind",
                       requests_per_minute=3000)   # the whole project's quota

`EmbedBatch` is the callable class for ``Dataset.map_batches``; every actor builds its
embedder once. ``requests_per_minute`` and ``max_concurrency`` are totals for the whole
pool: each of the ``workers`` actors gets ``1/workers`` of them, so the actors together
stay within the provider's quota. Needs the ``ray`` extra: ``pip install 'omniembed[ray]'``.
"""

from __future__ import annotations

import enum
import inspect
import math
from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any, Literal

from .errors import ConfigurationError, MissingDependencyError, OmniEmbedError

try:
    import ray.data
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise MissingDependencyError(
        "omniembed.ray needs Ray Data; install it with pip install 'omniembed[ray]'"
    ) from exc

import numpy as np
from pydantic import SecretStr

from .media import Media
from .mime import Modality
from .providers.base import Embedder
from .runtime.rate_limit import RateLimiter
from .tasks import Task
from .types import Embedding, VideoSegmentConfig

__all__ = [
    "MEDIA_KINDS",
    "PROVIDERS",
    "PROVIDER_DEFAULT",
    "EmbedBatch",
    "embed_dataset",
    "pool_kwargs",
    "resolve_provider",
    "share",
]

#: Provider names accepted by `EmbedBatch` and `embed_dataset`.
PROVIDERS: Mapping[str, str] = {
    "gemini": "omniembed.providers.gemini:GeminiEmbedder",
    "vertex": "omniembed.providers.vertex_multimodal:VertexMultimodalEmbedder",
    "dashscope": "omniembed.providers.dashscope:DashScopeEmbedder",
}

#: Values of an ``input_type_column`` meaning "a path, URI or bytes to read as media".
MEDIA_KINDS = frozenset({"media", *(m.value for m in Modality if m is not Modality.TEXT), "pdf"})

#: Constructor arguments wrapped in `SecretStr` before they travel to the actors.
_SECRET_KWARGS = ("api_key", "access_token")


class _Default(enum.Enum):
    PROVIDER = "the provider's default"


PROVIDER_DEFAULT = _Default.PROVIDER


class EmbedBatch:
    """Embeds one column of each batch; use with ``Dataset.map_batches`` on an actor pool.

    Rows hold text, or media as a local path, a URI (``file://``, ``http(s)://``, ``gs://``,
    ``oss://``, ``data:``) or bytes. Which one is never guessed: give ``input_type``
    (``"text"`` or ``"media"`` for the whole column) or ``input_type_column`` (per row:
    ``"text"``, ``"media"``, or a modality such as ``"image"``/``"video"``/``"pdf"``).

    Adds ``output_column`` (the vector, null on failure) and ``error_column`` (null, or
    ``"ErrorClass: message"``) in input order; a bad row never fails the batch. With
    ``segments_column``, video rows also get ``[{start, end, vector}, ...]`` (a video with
    several segments then has a null vector); ``segment_config`` cuts videos into segments.

    ``requests_per_minute`` (default: the provider's own default) and ``max_concurrency``
    are totals for the whole pool of ``workers`` actors; each actor takes its share (see
    `share`). ``embedder_kwargs`` go to the provider class (``model``, ``base_url``,
    ``output_dimensionality``, ...); prefer credentials from environment variables on the
    workers over ``api_key=``. Batches may be pandas, pyarrow or numpy (see `__call__`).
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
        requests_per_minute: float | _Default | None = PROVIDER_DEFAULT,
        burst: int | None = None,
        max_concurrency: int | None = None,
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
        if "rate_limiter" in embedder_kwargs:
            raise ConfigurationError(
                "a RateLimiter cannot be shared between Ray workers; pass the pool's total "
                "requests_per_minute (and workers=) and each worker takes its share"
            )
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
        cls = resolve_provider(provider)
        rpm, concurrency = share(
            cls, workers, requests_per_minute=requests_per_minute, max_concurrency=max_concurrency
        )
        if rpm is not None:
            per_burst = None if burst is None else max(1, burst // workers)
            embedder_kwargs["rate_limiter"] = RateLimiter(rpm, burst=per_burst)
        if "requests_per_minute" in inspect.signature(cls.__init__).parameters:
            embedder_kwargs["requests_per_minute"] = None  # paced by the limiter above
        if concurrency is not None:
            embedder_kwargs["max_concurrency"] = concurrency
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

    def __repr__(self) -> str:  # never shows the embedder's credentials
        return f"EmbedBatch({self.embedder!r}, workers={self.workers})"


def resolve_provider(provider: str | type[Embedder]) -> type[Embedder]:
    """The embedder class for ``"gemini"``, ``"vertex"``, ``"dashscope"`` or a class."""
    if isinstance(provider, type) and issubclass(provider, Embedder):
        return provider
    target = PROVIDERS.get(str(provider).lower())
    if target is None:
        raise ConfigurationError(
            f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)} or an "
            "Embedder subclass"
        )
    module_name, _, name = target.partition(":")
    module = __import__(module_name, fromlist=[name])
    cls: type[Embedder] = getattr(module, name)
    return cls


def share(
    provider: type[Embedder],
    workers: int,
    *,
    requests_per_minute: float | _Default | None = PROVIDER_DEFAULT,
    max_concurrency: int | None = None,
) -> tuple[float | None, int | None]:
    """One worker's share of the pool's totals: ``(requests_per_minute / workers,
    max(1, max_concurrency // workers))``.

    ``requests_per_minute`` defaults to the provider class's default (e.g. 120 for
    Vertex multimodalembedding@001; None, i.e. unpaced, for Gemini and DashScope);
    ``max_concurrency`` to the class's default. None stays None (no limit)."""
    params = inspect.signature(provider.__init__).parameters
    if isinstance(requests_per_minute, _Default):
        found = params.get("requests_per_minute")
        default = found.default if found is not None else None
        requests_per_minute = None if default is inspect.Parameter.empty else default
    if max_concurrency is None:
        found = params.get("max_concurrency")
        if found is not None and isinstance(found.default, int):
            max_concurrency = found.default
    rpm = requests_per_minute / workers if requests_per_minute else None
    concurrency = max(1, max_concurrency // workers) if max_concurrency else None
    return rpm, concurrency


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

    ``embed_kwargs`` are `EmbedBatch`'s (``column``, ``input_type``, ``requests_per_minute``
    as the TOTAL quota, model settings, ...); ``workers`` is both the pool size and the
    number the quota is divided by. ``api_key``/``access_token`` travel as `SecretStr`.
    ``batch_size`` 100 matches Gemini's 100 inputs per request. ``num_cpus`` per actor
    (the work is I/O-bound; fractions let more actors share a node)."""
    kwargs = dict(embed_kwargs)
    for name in _SECRET_KWARGS:
        if isinstance(kwargs.get(name), str):
            kwargs[name] = SecretStr(kwargs[name])
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
