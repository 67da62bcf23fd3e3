"""What every embedder shares: input normalization, the runtime, result assembly.

A provider subclass implements three hooks — `_prepare` (one input → work items, with
every local check), `_send_batch` and `_asend_batch` (one batch → one outcome per item) —
and inherits `embed`/`aembed` with batching, concurrency, rate limiting, retries,
caching and progress from `omniembed.runtime`.
"""

from __future__ import annotations

import asyncio
import copy
import math
import os
import re
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

from pydantic import SecretStr

from ..closing import Closeable, closed_error
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    DailyQuotaExceededError,
    EmptyInputError,
    InputError,
    InvalidParameterError,
    NotFoundError,
    OmniEmbedError,
    PartialFailureError,
    PermissionDeniedError,
    ServiceConnectionError,
    ServiceError,
    UnsupportedMediaError,
)
from ..keywords import strict_init
from ..media import Media
from ..media.audio import plan_audio
from ..media.video_segments import ClipLimits, ClipPlan, plan_clips, segments
from ..runtime import offload
from ..runtime.batching import WorkItem
from ..runtime.byte_budget import DEFAULT_MAX_INFLIGHT_BYTES
from ..runtime.cache import EmbeddingCache, SQLiteCache
from ..runtime.quota import Quota
from ..runtime.rate_limit import RateLimiter
from ..runtime.retry import RetryPolicy
from ..runtime.runner import BatchOutcome, ItemOutcome, Runner, RunStats
from ..tasks import Task
from ..types import AudioSegmentConfig, Embedding, EmbeddingResult, VideoSegmentConfig
from .estimate import Estimate, estimate
from .quota_table import UNITS, quota_limits

#: One input after normalization: its parts in order (text and media).
Parts: TypeAlias = "tuple[str | Media, ...]"

#: The `Embedder.__init__` runtime parameters the framework adapters expose as fields of
#: the same name and forward.
RUNTIME_SETTINGS = (
    "max_concurrency",
    "requests_per_minute",
    "tokens_per_minute",
    "requests_per_day",
    "tier",
    "quota",
    "max_retries",
    "timeout",
    "cache",
)

#: Service errors after which the runtime stops a call (every other request would fail too).
_CALL_STOPPERS = (
    AuthenticationError,
    PermissionDeniedError,
    NotFoundError,
    ServiceConnectionError,
)


def as_secret(value: str | SecretStr | None, *env_vars: str) -> SecretStr | None:
    """A `SecretStr` from an explicit value or the first set environment variable."""
    if isinstance(value, SecretStr):
        return value if value.get_secret_value() else None
    if value:
        return SecretStr(value)
    for name in env_vars:
        found = os.environ.get(name)
        if found:
            return SecretStr(found)
    return None


def lone_surrogate(text: str) -> int | None:
    """The position of the first lone surrogate (e.g. ``"\\ud800"``) in ``text``, or None.

    Such a string cannot be encoded as UTF-8, so no SDK can send it (each would raise an
    untyped `UnicodeEncodeError` mid-call)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def check_runtime_settings(
    *,
    max_concurrency: object,
    requests_per_minute: object,
    tokens_per_minute: object,
    requests_per_day: object,
    max_retries: object,
    timeout: object,
    max_inflight_bytes: object,
) -> None:
    """Raise `InvalidParameterError` naming the first runtime keyword that is out of range
    (at construction, so a bad setting never fails a call half-way)."""
    for name, value in (
        ("max_concurrency", max_concurrency),
        ("max_inflight_bytes", max_inflight_bytes),
    ):
        if not _is_int(value) or value < 1:  # type: ignore[operator]
            raise InvalidParameterError(f"{name}={value!r} must be a whole number >= 1")
    if not _is_int(max_retries) or max_retries < 0:  # type: ignore[operator]
        raise InvalidParameterError(
            f"max_retries={max_retries!r} must be a whole number >= 0 (0: no retries)"
        )
    for name, value in (
        ("requests_per_minute", requests_per_minute),
        ("tokens_per_minute", tokens_per_minute),
        ("requests_per_day", requests_per_day),
    ):
        if value is not None and (not _is_number(value) or value < 0):  # type: ignore[operator]
            raise InvalidParameterError(
                f"{name}={value!r} must be a finite number > 0, or None for the published quota"
            )
    if timeout is not None and (not _is_number(timeout) or timeout <= 0):  # type: ignore[operator]
        raise InvalidParameterError(
            f"timeout={timeout!r} must be a finite number of seconds > 0, or None for no timeout"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def normalize_input(value: object, index: int) -> Parts:
    """An input as a tuple of parts; raises `InputError` naming the input."""
    if isinstance(value, (str, Media)):
        parts: tuple[object, ...] = (value,)
    elif isinstance(value, (os.PathLike, bytes, bytearray)):
        parts = (value,)
    elif isinstance(value, (list, tuple)):
        parts = tuple(value)
    else:
        raise InputError(
            f"cannot embed a {type(value).__name__}; pass text, a Media, or a list of them",
            index=index,
        )
    out: list[str | Media] = []
    for part in parts:
        if isinstance(part, str):
            bad = lone_surrogate(part)
            if bad is not None:
                raise InputError(
                    f"the text holds a lone surrogate ({part[bad]!r} at character {bad}), which "
                    "is not valid Unicode and cannot be sent as UTF-8; fix how the text was "
                    "decoded (e.g. read it with errors='replace') or remove that character",
                    index=index,
                )
            if part.strip():
                out.append(part)
        elif isinstance(part, Media):
            out.append(part)
        elif isinstance(part, (os.PathLike, bytes, bytearray)):
            try:
                out.append(Media.coerce(part))
            except InputError as exc:
                raise exc.at(index) from exc
        else:
            raise InputError(
                f"an interleaved input may hold text and Media, not {type(part).__name__}",
                index=index,
            )
    if not out:
        raise EmptyInputError("nothing to embed (empty or blank text)", index=index)
    return tuple(out)


class Embedder(Closeable, ABC):
    """Base class of the provider embedders (`GeminiEmbedder`, ...).

    Holds connections: use it as a (async) context manager, or call `close` / `aclose`."""

    provider: ClassVar[str]
    #: Which service's quota rules apply ("gemini-api", "vertex", "dashscope"); set by each
    #: provider (before ``Embedder.__init__`` runs).
    quota_service: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Every provider answers a misspelt keyword with the nearest accepted one.
        if "__init__" in cls.__dict__:
            cls.__init__ = strict_init(cls, cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        model: str,
        default_task: Task | str = Task.RETRIEVAL_DOCUMENT,
        max_concurrency: int = 16,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        requests_per_day: float | None = None,
        tier: str | None = None,
        quota: Quota | None = None,
        rate_limiter: RateLimiter | None = None,
        max_retries: int = 6,
        retry_policy: RetryPolicy | None = None,
        timeout: float | None = 60.0,
        cache: EmbeddingCache | str | os.PathLike[str] | None = None,
        progress: bool = False,
        max_batch_size: int = 1,
        max_batch_bytes: int | None = None,
        max_inflight_bytes: int = DEFAULT_MAX_INFLIGHT_BYTES,
    ):
        """Runtime knobs shared by all providers.

        ``max_concurrency`` bounds requests in flight. The quota: ``requests_per_minute``
        (counted as the service counts: each input on the Gemini API, each HTTP call on
        Vertex AI and DashScope), ``tokens_per_minute`` (estimated input tokens) and
        ``requests_per_day``; ``tier`` ("free", "tier1", "tier2", "tier3", or "default"
        where a service has no tiers) fills the published figures, explicit numbers win.
        Share one ``quota`` (`omniembed.runtime.Quota`) between embedders drawing on one
        project quota. Without any, limits are learnt from the service's 429s.
        ``rate_limiter`` additionally paces HTTP calls (kept for compatibility);
        ``max_retries``/``retry_policy`` govern retries of 408/429/5xx and connection
        errors; ``cache`` is an `EmbeddingCache` or a path to a SQLite cache file;
        ``progress`` shows a progress bar. ``max_batch_size``/``max_batch_bytes`` are the
        provider's per-request limits. ``max_inflight_bytes`` bounds the media bytes of
        requests in flight together (memory stays flat on large videos).
        """
        check_runtime_settings(
            max_concurrency=max_concurrency,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            requests_per_day=requests_per_day,
            max_retries=max_retries,
            timeout=timeout,
            max_inflight_bytes=max_inflight_bytes,
        )
        self.model = model
        parsed = Task.parse(default_task)
        assert parsed is not None
        self.default_task = parsed
        self.timeout = timeout
        service = self.quota_service
        if quota is None:
            limits = quota_limits(service, model, tier).override(
                requests_per_minute=requests_per_minute or None,
                tokens_per_minute=tokens_per_minute or None,
                requests_per_day=requests_per_day or None,
            )
            quota = Quota(limits)
        elif tier is not None or requests_per_minute or tokens_per_minute or requests_per_day:
            raise ConfigurationError(
                "pass either quota= (a shared Quota) or tier= / requests_per_minute= / "
                "tokens_per_minute= / requests_per_day=, not both"
            )
        owned: SQLiteCache | None = None
        if cache is not None and not isinstance(cache, EmbeddingCache):
            cache = owned = SQLiteCache(cache)
        #: A cache this embedder opened (from a path) is closed with it; a given one is not.
        self._owned_cache = owned
        self._runner = Runner(
            max_batch_size=max_batch_size,
            max_batch_weight=max_batch_bytes,
            max_concurrency=max_concurrency,
            rate_limiter=rate_limiter,
            retry=retry_policy or RetryPolicy(max_retries=max_retries),
            cache=cache,
            progress=progress,
            description=f"{self.provider}:{model}",
            max_inflight_bytes=max_inflight_bytes,
            quota=quota,
            quota_unit=UNITS[service],
        )

    # --- public API ----------------------------------------------------------------------

    @property
    def cache(self) -> EmbeddingCache | None:
        return self._runner.cache

    @property
    def quota(self) -> Quota:
        """The quota every request passes (shared when one was given)."""
        return self._runner.quota

    @property
    def rate_limiter(self) -> RateLimiter | None:
        return self._runner.rate_limiter

    @property
    def max_concurrency(self) -> int:
        return self._runner.max_concurrency

    @property
    def last_stats(self) -> RunStats:
        """Requests, retries and cache hits of the most recent call."""
        return self._runner.last_stats

    def embed(
        self,
        inputs: object,
        task: Task | str | None = None,
        *,
        titles: Sequence[str | None] | None = None,
        raise_on_error: bool = True,
        progress: bool | None = None,
        **options: Any,
    ) -> list[EmbeddingResult]:
        """Embed inputs in order; one `EmbeddingResult` per input.

        An input is a text, a `Media` (or a path), or a list of them embedded together as
        one interleaved input where the model supports it. ``task`` defaults to the
        embedder's ``default_task`` (RETRIEVAL_DOCUMENT); ``titles`` gives per-input
        document titles. Bad inputs raise an `InputError` before any request; if items fail
        at the service, `PartialFailureError` carries the successful results — or, with
        ``raise_on_error=False``, failures come back as results with ``.error`` set.
        ``options`` are provider-specific (e.g. ``video_segment_config`` for Vertex).
        """
        items, bad, count = self._plan(inputs, task, titles, raise_on_error, options)
        outcomes = self._runner.run(
            items, self._send_batch, progress=progress, locate=self._rejected_positions
        )
        return _assemble(count, items, outcomes, bad, raise_on_error)

    async def aembed(
        self,
        inputs: object,
        task: Task | str | None = None,
        *,
        titles: Sequence[str | None] | None = None,
        raise_on_error: bool = True,
        progress: bool | None = None,
        **options: Any,
    ) -> list[EmbeddingResult]:
        """Async `embed`: never blocks the event loop (file reads, downloads and checks
        run in a thread; request bodies, answers and results in `offload`'s CPU threads)."""
        items, bad, count = await asyncio.to_thread(
            self._plan, inputs, task, titles, raise_on_error, options
        )
        outcomes = await self._runner.arun(
            items, self._asend_batch, progress=progress, locate=self._rejected_positions
        )
        # Hundreds of results (and the garbage collector's passes over their vectors) are
        # tens of milliseconds: not on the loop either.
        return await offload.run(_assemble, count, items, outcomes, bad, raise_on_error)

    def estimate(
        self,
        inputs: object,
        task: Task | str | None = None,
        *,
        titles: Sequence[str | None] | None = None,
        **options: Any,
    ) -> Estimate:
        """What `embed` would take, without calling the service: requests (as sent and as
        the quota counts them), estimated tokens, the time the quota implies, daily quotas
        needed and the price interactive vs as a batch job. Inputs the cache holds cost
        nothing. Bad inputs raise `InputError` as in `embed`."""
        items, _, count = self._plan(inputs, task, titles, True, options)
        batches, cached = self._runner.plan(items)
        return estimate(
            service=self.quota_service,
            model=self.model,
            inputs=count,
            batches=batches,
            cached=cached,
            limits=self.quota.limits,
            window_sec=self.quota.window_sec,
        )

    def embed_query(self, text: str, task: Task | str = Task.RETRIEVAL_QUERY) -> list[float]:
        """One query's vector (query task by default)."""
        return self.embed([text], task=task)[0].vector

    async def aembed_query(self, text: str, task: Task | str = Task.RETRIEVAL_QUERY) -> list[float]:
        return (await self.aembed([text], task=task))[0].vector

    def embed_videos(
        self,
        videos: Sequence[Media | str | os.PathLike[str]],
        segment_config: VideoSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
        progress: bool | None = None,
    ) -> list[list[Embedding]]:
        """Each video's segments in order, as `Embedding`s with ``start_offset_sec`` /
        ``end_offset_sec``. ``segment_config`` picks the stretch, the segment length and
        whether the sound is embedded.

        Models that embed a clip as one vector get the video cut locally into clips (stream
        copy) first; without ``interval_sec`` a video is one segment. All clips of all
        videos go to the runtime in one call. A model that hears sound in video
        (gemini-embedding-2) gets each clip with its sound track, clips of a video with
        sound no longer than it takes with sound (80 s); the others get the picture only
        (see `VideoSegmentConfig.include_audio`).
        """
        limits = self._clip_limits()
        return self._embed_segments(
            videos,
            lambda v, d: plan_clips(v, segment_config, d, limits),
            "video",
            task,
            progress,
        )

    async def aembed_videos(
        self,
        videos: Sequence[Media | str | os.PathLike[str]],
        segment_config: VideoSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
        progress: bool | None = None,
    ) -> list[list[Embedding]]:
        """Async `embed_videos` (cutting runs in a worker thread)."""
        limits = self._clip_limits()
        return await self._aembed_segments(
            videos,
            lambda v, d: plan_clips(v, segment_config, d, limits),
            "video",
            task,
            progress,
        )

    def embed_video(
        self,
        video: Media | str | os.PathLike[str],
        segment_config: VideoSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
    ) -> list[Embedding]:
        """One video's segments in order (see `embed_videos`)."""
        return self.embed_videos([video], segment_config, task=task)[0]

    async def aembed_video(
        self,
        video: Media | str | os.PathLike[str],
        segment_config: VideoSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
    ) -> list[Embedding]:
        """Async `embed_video`."""
        return (await self.aembed_videos([video], segment_config, task=task))[0]

    # The video and audio methods share one path: each source is cut into clips (files in
    # a temporary folder; blocking work, so off the loop in the async twin), the clips of
    # all sources are embedded in one runtime call, and the vectors regrouped per source.

    def _embed_segments(
        self,
        sources: Sequence[Media | str | os.PathLike[str]],
        plan: Callable[[Media, Path], ClipPlan],
        modality: str,
        task: Task | str | None,
        progress: bool | None,
    ) -> list[list[Embedding]]:
        with tempfile.TemporaryDirectory(prefix=f"omniembed-{modality}-") as workdir:
            plans = [plan(Media.coerce(source), Path(workdir)) for source in sources]
            results = self.embed([c for p in plans for c in p.inputs], task, progress=progress)
        return _regroup(plans, results, modality)

    async def _aembed_segments(
        self,
        sources: Sequence[Media | str | os.PathLike[str]],
        plan: Callable[[Media, Path], ClipPlan],
        modality: str,
        task: Task | str | None,
        progress: bool | None,
    ) -> list[list[Embedding]]:
        with tempfile.TemporaryDirectory(prefix=f"omniembed-{modality}-") as workdir:
            plans = await asyncio.to_thread(
                lambda: [plan(Media.coerce(source), Path(workdir)) for source in sources]
            )
            inputs = [c for p in plans for c in p.inputs]
            results = await self.aembed(inputs, task, progress=progress)
        return _regroup(plans, results, modality)

    def _clip_limits(self) -> ClipLimits:
        """What the model makes of a video clip (default: it ignores sound and has no
        length limit known here; providers whose models hear sound override it)."""
        return ClipLimits()

    # --- audio ---------------------------------------------------------------------------

    #: A model that hears audio, named in the error for one that does not.
    _audio_model_hint = "GeminiEmbedder('gemini-embedding-2')"

    def _audio_limit_sec(self) -> float | None:
        """The longest audio the model takes per input, or None when it does not hear
        audio (the default; providers whose models do override it)."""
        return None

    def _audio_limit_or_raise(self) -> float:
        limit = self._audio_limit_sec()
        if limit is None:
            raise UnsupportedMediaError(
                f"{type(self).__name__}(model={self.model!r}) does not hear audio; embed audio "
                f"with {self._audio_model_hint}"
            )
        return limit

    def embed_audios(
        self,
        audios: Sequence[Media | str | os.PathLike[str]],
        segment_config: AudioSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
        progress: bool | None = None,
    ) -> list[list[Embedding]]:
        """Each audio's segments in order, as `Embedding`s with ``start_offset_sec`` /
        ``end_offset_sec``: audio of any length is cut locally into windows of the
        model's per-input limit (or ``segment_config.window_sec``, with its overlap), by
        stream copy for MP3 and WAV and re-encoded as 16 kHz mono WAV otherwise
        (`omniembed.media.audio`). All windows of all audios go to the runtime in one
        call; windows are written to a temporary folder, never held in memory together.
        """
        limit = self._audio_limit_or_raise()
        self._check_open()
        return self._embed_segments(
            audios, lambda a, d: plan_audio(a, segment_config, limit, d), "audio", task, progress
        )

    async def aembed_audios(
        self,
        audios: Sequence[Media | str | os.PathLike[str]],
        segment_config: AudioSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
        progress: bool | None = None,
    ) -> list[list[Embedding]]:
        """Async `embed_audios` (cutting runs in a worker thread)."""
        limit = self._audio_limit_or_raise()
        self._check_open()
        return await self._aembed_segments(
            audios, lambda a, d: plan_audio(a, segment_config, limit, d), "audio", task, progress
        )

    def embed_audio(
        self,
        audio: Media | str | os.PathLike[str],
        segment_config: AudioSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
    ) -> list[Embedding]:
        """One audio's segments in order (see `embed_audios`)."""
        return self.embed_audios([audio], segment_config, task=task)[0]

    async def aembed_audio(
        self,
        audio: Media | str | os.PathLike[str],
        segment_config: AudioSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
    ) -> list[Embedding]:
        """Async `embed_audio`."""
        return (await self.aembed_audios([audio], segment_config, task=task))[0]

    # --- closing -------------------------------------------------------------------------

    #: Set by `close` / `aclose`; any call afterwards raises `ConfigurationError`.
    _closed: bool = False
    _owned_cache: SQLiteCache | None = None

    def close(self) -> None:
        """Release the connections (and a cache opened from a path). Idempotent; the
        embedder cannot be used afterwards (`ConfigurationError`: build a new one).

        Async connections are closed in their own event loop: by `aclose` there, or when
        that loop shuts down (the end of ``asyncio.run``); prefer ``async with`` / `aclose`
        in async code."""
        if self._closed:
            return
        self._closed = True
        try:
            self._release()
        finally:
            self._release_cache()

    async def aclose(self) -> None:
        """`close`, closing the running event loop's connections in it first."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._arelease()
        finally:
            self._release_cache()

    def _check_open(self) -> None:
        if self._closed:
            raise closed_error(self)

    def _release(self) -> None:
        """Provider hook: close the connections this embedder holds (sync clients, and
        per-loop async ones as far as sync code can: `omniembed.closing.PerLoop.close`)."""

    async def _arelease(self) -> None:
        """Provider hook, async: close the running loop's connections, then the rest."""
        self._release()

    def _release_cache(self) -> None:
        cache, self._owned_cache = self._owned_cache, None
        if cache is not None:
            cache.close()

    # --- provider hooks ------------------------------------------------------------------

    @abstractmethod
    def _prepare(
        self, index: int, parts: Parts, task: Task, title: str | None, options: Mapping[str, Any]
    ) -> list[WorkItem]:
        """Check one input locally and turn it into work items (raise `InputError`).

        ``options`` are the provider-specific keyword arguments of the `embed` call."""

    @abstractmethod
    def _send_batch(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        """Send one batch (one HTTP request); raise typed `ServiceError`s."""

    @abstractmethod
    async def _asend_batch(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        """Async `_send_batch`."""

    def _rejected_positions(self, error: OmniEmbedError, size: int) -> list[int]:
        """The positions in a batch of ``size`` that a service's 400 names.

        Google names the field it rejects (``* BatchEmbedContentsRequest.requests[3].content
        ...``, one line per violation), DashScope the content (``input.contents[3].text:
        ...``); position N is the batch's N-th item for both (one request entry / content
        per item). An error naming nothing gives []: the runtime halves the batch."""
        return rejected_positions(error, size)

    # --- internals -----------------------------------------------------------------------

    def _plan(
        self,
        inputs: object,
        task: Task | str | None,
        titles: Sequence[str | None] | None,
        raise_on_error: bool,
        options: Mapping[str, Any],
    ) -> tuple[list[WorkItem], dict[int, InputError], int]:
        self._check_open()
        resolved = Task.parse(task, self.default_task)
        assert resolved is not None
        values = _as_list(inputs)
        if not values:
            raise EmptyInputError("embed() got no inputs")
        if titles is not None and len(titles) != len(values):
            raise InputError(
                f"titles has {len(titles)} entries for {len(values)} inputs; give one title "
                "(or None) per input"
            )
        _check_titles(titles)
        items: list[WorkItem] = []
        bad: dict[int, InputError] = {}
        for index, value in enumerate(values):
            try:
                parts = normalize_input(value, index)
                title = titles[index] if titles is not None else None
                files = _local_files(parts)
                before = _fingerprint(files)
                prepared = self._prepare(index, parts, resolved, title, options)
                if files:
                    unchanged = _still(files, before if _fingerprint(files) == before else None)
                    for item in prepared:
                        item.unchanged = unchanged
                items.extend(prepared)
            except InputError as exc:
                bad[index] = exc if exc.index is not None else exc.at(index)
        if bad and raise_on_error:
            first = bad[min(bad)]
            if len(bad) > 1:
                others = ", ".join(str(i) for i in sorted(bad)[1:6])
                first.args = (f"{first} (and {len(bad) - 1} more bad inputs: {others}…)",)
            raise first
        return items, bad, len(values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            f"{type(self).__name__} holds live clients and credentials and is not picklable; "
            "pickle its settings instead and build a new one"
        )


def _check_titles(titles: Sequence[object] | None) -> None:
    """Titles are call-wide settings: a bad one fails the call up front, naming it."""
    for number, title in enumerate(titles or ()):
        if title is not None and not isinstance(title, str):
            raise InvalidParameterError(
                f"titles[{number}] is a {type(title).__name__}; give a str (or None) per input"
            )
        bad = None if title is None else lone_surrogate(title)
        if bad is not None:
            raise InvalidParameterError(
                f"titles[{number}] holds a lone surrogate ({title[bad]!r} at character {bad}), "  # type: ignore[index]
                "which is not valid Unicode and cannot be sent as UTF-8; fix how it was decoded "
                "or remove that character"
            )


#: A batch position in a service's 400: Google's ``requests[3]``, DashScope's ``contents[3]``.
_POSITION = re.compile(r"\b(?:requests|contents)\[(\d+)\]")

#: What says a local file was not rewritten: device, inode, size, mtime and ctime (ns).
_Stat: TypeAlias = "tuple[tuple[int, int, int, int, int], ...]"


def rejected_positions(error: BaseException, size: int) -> list[int]:
    """The batch positions a service's 400 names (``requests[3]``, ``contents[3]``), or []
    when it names none or one outside a batch of ``size``."""
    found = {int(n) for n in _POSITION.findall(str(error))}
    return sorted(found) if found and max(found) < size else []


def _local_files(parts: Parts) -> tuple[Path, ...]:
    return tuple(p.path for p in parts if isinstance(p, Media) and p.path is not None)


def _fingerprint(files: Sequence[Path]) -> _Stat | None:
    try:
        stats = [f.stat() for f in files]
    except OSError:
        return None
    return tuple((s.st_dev, s.st_ino, s.st_size, s.st_mtime_ns, s.st_ctime_ns) for s in stats)


def _still(files: tuple[Path, ...], when_keyed: _Stat | None) -> Callable[[], bool]:
    """Whether ``files`` are as they were when the cache key was computed from them.

    The key hashes the bytes read while planning; the request reads the files again when
    it is sent. Any write in between changes the ctime (which nothing can set back), so a
    vector is cached only when every file kept the fingerprint it had when it was hashed
    (checked after the answer, so a write during the send counts too); a file rewritten
    while it was hashed (``when_keyed`` None) is never cached."""

    def check() -> bool:
        return when_keyed is not None and _fingerprint(files) == when_keyed

    return check


def _regroup(
    plans: Sequence[ClipPlan], results: Sequence[EmbeddingResult], modality: str = "video"
) -> list[list[Embedding]]:
    out: list[list[Embedding]] = []
    cursor = 0
    for plan in plans:
        found = results[cursor : cursor + len(plan.inputs)]
        cursor += len(plan.inputs)
        out.append(segments(plan, [r.embeddings for r in found], modality))
    return out


def _as_list(inputs: object) -> list[object]:
    if isinstance(inputs, (str, Media, os.PathLike, bytes)):
        return [inputs]
    if isinstance(inputs, (list, tuple)):
        return list(inputs)
    if hasattr(inputs, "__iter__"):
        return list(inputs)
    return [inputs]


def _assemble(
    count: int,
    items: Sequence[WorkItem],
    outcomes: Sequence[ItemOutcome],
    bad: dict[int, InputError],
    raise_on_error: bool,
) -> list[EmbeddingResult]:
    results = [EmbeddingResult(index=i) for i in range(count)]
    cached = [True] * count
    for item, outcome in zip(items, outcomes, strict=True):
        result = results[item.index]
        if outcome.error is not None:
            result.error = result.error or outcome.error
        elif outcome.embeddings is not None:
            result.embeddings.extend(outcome.embeddings)
        cached[item.index] = cached[item.index] and outcome.cached
    failures: dict[int, Exception] = {}
    for result in results:
        if result.index in bad:
            result.error = bad[result.index]
        result.cached = cached[result.index] and result.error is None
        if result.error is not None:
            result.embeddings = []
            failures[result.index] = result.error
    if failures and raise_on_error:
        errors = list(failures.values())
        daily = next((e for e in errors if isinstance(e, DailyQuotaExceededError)), None)
        if daily is not None:
            # The call stopped at a daily cap: say so (with the results), not "partial".
            raise _daily_with_results(daily, results)
        if len(failures) == count and _one_cause(errors):
            # Nothing succeeded and one cause explains it (bad key, unknown model, ...).
            raise errors[0]
        raise PartialFailureError(results, failures)
    return results


def _daily_with_results(
    error: DailyQuotaExceededError, results: list[EmbeddingResult]
) -> DailyQuotaExceededError:
    """A copy of ``error`` that says how much of this call got done, with its results."""
    clone = copy.copy(error)
    clone.embedded = sum(1 for r in results if r.error is None)
    clone.total = len(results)
    clone.results = results
    return clone


def _one_cause(errors: Sequence[Exception]) -> bool:
    """Whether a single error explains every failure of a call.

    Either one error object failed everything (one batch, or the runtime's abort), or an
    error that stops a call (bad credentials, no permission, unknown model) came back for
    every request that was already in flight when the first one arrived: with one input per
    request (Vertex AI) a wrong key yields several equal errors, and the caller should get
    that `AuthenticationError`, not a `PartialFailureError` around copies of it.
    """
    first = errors[0]
    if all(e is first for e in errors):
        return True
    if not isinstance(first, _CALL_STOPPERS):
        return False
    kind = (type(first), first.status_code, first.status)
    return all(
        isinstance(e, ServiceError) and (type(e), e.status_code, e.status) == kind for e in errors
    )


__all__ = [
    "RUNTIME_SETTINGS",
    "Embedder",
    "Parts",
    "as_secret",
    "check_runtime_settings",
    "lone_surrogate",
    "normalize_input",
]
