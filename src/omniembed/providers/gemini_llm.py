"""`GeminiGenerator`: Gemini generation over google-genai, on the Gemini API or Vertex AI.

Rules this module owns (DESIGN.md §3), so both framework adapters share them:

* Media goes inline while the request stays under the 20 MB limit; past it, the largest
  files go through the Files API (Gemini API; polled until ACTIVE, uploaded once per
  generator) — on Vertex AI they must be gs:// URIs. Formats Gemini does not read natively
  (GIF, BMP, TIFF) are re-encoded to PNG.
* A user turn written as text followed by media is sent media first (the documented best
  practice); interleaved turns (a label before each image) keep their order.
* Retries follow the runtime's `RetryPolicy`; a stream is retried only until its first
  chunk arrives (after that, text has been handed out and a retry would repeat it).
* A blocked prompt or response raises `BlockedContentError`, never an empty answer.
"""

from __future__ import annotations

import asyncio
import io
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from google.genai import client as genai_client
from google.genai import types as genai_types
from pydantic import SecretStr

from ..closing import Closeable, closed_error
from ..errors import (
    BlockedContentError,
    InvalidParameterError,
    MediaLimitError,
    OmniEmbedError,
    ServiceTimeoutError,
    UnsupportedMediaError,
)
from ..generation import (
    FileRef,
    Generation,
    GenerationChunk,
    GenerationConfig,
    MediaPart,
    Message,
    Part,
    ToolCall,
    ToolResult,
    Usage,
)
from ..media import Media
from ..media.probe import check_image
from ..runtime.rate_limit import RateLimiter
from ..runtime.retry import RetryPolicy
from .gemini_llm_models import (
    DEFAULT_MODEL,
    NATIVE_MIME_TYPES,
    REENCODED_IMAGE_TYPES,
    LLMSpec,
    llm_spec,
)
from .google_client import (
    build_genai_client,
    check_base_url,
    close_client,
    close_when_collected,
    env_flag,
)
from .google_errors import map_google_error

logger = logging.getLogger("omniembed.gemini_llm")

T = TypeVar("T")

#: The service rejects requests over 20 MB; base64 and JSON need room.
DEFAULT_INLINE_LIMIT_BYTES = 18 * 1024 * 1024
_BLOCKED_FINISH = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)
_HARM_CATEGORIES = frozenset(c.value for c in genai_types.HarmCategory) - {
    "HARM_CATEGORY_UNSPECIFIED"
}
_THRESHOLDS = frozenset(t.value for t in genai_types.HarmBlockThreshold)
_TOOL_MODES = {"auto": "AUTO", "any": "ANY", "required": "ANY", "none": "NONE"}
_YOUTUBE_HOSTS = ("https://www.youtube.com/", "https://youtube.com/", "https://youtu.be/")


class GeminiGenerator(Closeable):
    """Gemini text generation from text, images, PDFs, video and audio.

    Credentials work as for `GeminiEmbedder` (``api_key`` or ``GEMINI_API_KEY``; Vertex AI
    with ``vertexai=True`` and ``project``/``location``). ``requests_per_minute`` paces
    requests on the client; ``max_retries`` bounds retries of 5xx, timeouts and resets
    (429s wait for the quota, up to ``retry_policy.max_quota_retries``).
    """

    provider = "gemini"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        vertexai: bool | None = None,
        project: str | None = None,
        location: str | None = None,
        credentials: Any | None = None,
        access_token: str | SecretStr | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        requests_per_minute: float | None = None,
        max_retries: int = 6,
        timeout: float | None = 300.0,
        retry_policy: RetryPolicy | None = None,
        inline_limit_bytes: int = DEFAULT_INLINE_LIMIT_BYTES,
        file_poll_interval: float = 1.0,
        file_wait_timeout: float = 600.0,
        media_first: bool = True,
    ):
        self.model = model.removeprefix("models/")
        self.spec: LLMSpec = llm_spec(self.model)
        self.vertexai = env_flag("GOOGLE_GENAI_USE_VERTEXAI") if vertexai is None else vertexai
        self.base_url = check_base_url(base_url)
        self.timeout = timeout
        self.retry_policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.rate_limiter = RateLimiter(requests_per_minute) if requests_per_minute else None
        self.inline_limit_bytes = inline_limit_bytes
        self.file_poll_interval = file_poll_interval
        self.file_wait_timeout = file_wait_timeout
        self.media_first = media_first
        self.api_version = api_version or (None if self.vertexai else "v1beta")
        built = build_genai_client(
            vertexai=self.vertexai,
            api_key=api_key,
            project=project,
            location=location,
            credentials=credentials,
            access_token=access_token,
            base_url=self.base_url,
            api_version=api_version,
            timeout=timeout,
        )
        self._client = built.client
        self._aio_clients = built.async_clients(type(self).__name__)
        close_when_collected(self, built.client)
        self._secret = built.secret
        self.project, self.location = built.project, built.location
        # content hash -> uploaded file, so a video asked about twice is uploaded once.
        self._uploads: dict[str, FileRef] = {}
        self._uploads_lock = threading.Lock()

    @property
    def backend(self) -> str:
        return "vertex" if self.vertexai else "gemini-api"

    # --- public API ----------------------------------------------------------------------

    def generate(
        self,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Part] | None = None,
        config: GenerationConfig | None = None,
        model: str | None = None,
    ) -> Generation:
        """One whole response to ``messages`` (``model`` overrides the model for this call)."""
        contents, request_config = self._request(messages, system, config)
        response = self._call(
            lambda: self._client.models.generate_content(
                model=model or self.model, contents=contents, config=request_config
            )
        )
        return _generation(response)

    async def agenerate(
        self,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Part] | None = None,
        config: GenerationConfig | None = None,
        model: str | None = None,
    ) -> Generation:
        """Async `generate`; never blocks the event loop."""
        contents, request_config = await self._arequest(messages, system, config)
        response = await self._acall(
            lambda: self._aio.models.generate_content(
                model=model or self.model, contents=contents, config=request_config
            )
        )
        return _generation(response)

    def stream(
        self,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Part] | None = None,
        config: GenerationConfig | None = None,
        model: str | None = None,
    ) -> Iterator[GenerationChunk]:
        """The response in chunks as the service produces them."""
        contents, request_config = self._request(messages, system, config)

        def open_stream() -> tuple[Iterator[genai_types.GenerateContentResponse], Any]:
            chunks = iter(
                self._client.models.generate_content_stream(
                    model=model or self.model, contents=contents, config=request_config
                )
            )
            return chunks, next(chunks, None)

        chunks, first = self._call(open_stream)
        reader = _StreamReader()
        if first is None:
            return
        yield reader.chunk(first)
        try:
            for response in chunks:
                yield reader.chunk(response)
        except OmniEmbedError:
            raise
        except Exception as exc:
            raise _typed(exc) from exc

    async def astream(
        self,
        messages: Sequence[Message],
        *,
        system: str | Sequence[Part] | None = None,
        config: GenerationConfig | None = None,
        model: str | None = None,
    ) -> AsyncIterator[GenerationChunk]:
        """Async `stream`."""
        contents, request_config = await self._arequest(messages, system, config)

        async def open_stream() -> tuple[AsyncIterator[genai_types.GenerateContentResponse], Any]:
            chunks = await self._aio.models.generate_content_stream(
                model=model or self.model, contents=contents, config=request_config
            )
            try:
                first = await chunks.__anext__()
            except StopAsyncIteration:
                first = None
            return chunks, first

        chunks, first = await self._acall(open_stream)
        reader = _StreamReader()
        if first is None:
            return
        yield reader.chunk(first)
        try:
            async for response in chunks:
                yield reader.chunk(response)
        except OmniEmbedError:
            raise
        except Exception as exc:
            raise _typed(exc) from exc

    def upload_file(self, media: Media | str, *, display_name: str | None = None) -> FileRef:
        """Upload through the Files API (Gemini API only) and wait until it is ACTIVE.

        The same bytes are uploaded once per generator; the returned `FileRef` can be used
        in any message.
        """
        media = Media.coerce(media)
        self._require_files_api(media)
        key = media.content_hash()
        with self._uploads_lock:
            if key in self._uploads:
                return self._uploads[key]
        mime = _sendable_mime(media)
        upload_config = genai_types.UploadFileConfig(
            mime_type=mime, display_name=display_name or _display_name(media)
        )
        source: Any = str(media.path) if media.path is not None else io.BytesIO(_bytes(media))
        uploaded = self._call(lambda: self._client.files.upload(file=source, config=upload_config))
        active = self._wait_active(uploaded)
        ref = FileRef(uri=str(active.uri), mime_type=active.mime_type or mime)
        with self._uploads_lock:
            self._uploads[key] = ref
        return ref

    async def aupload_file(self, media: Media | str, *, display_name: str | None = None) -> FileRef:
        """Async `upload_file`."""
        media = Media.coerce(media)
        self._require_files_api(media)
        key = media.content_hash()
        if key in self._uploads:
            return self._uploads[key]
        mime = _sendable_mime(media)
        upload_config = genai_types.UploadFileConfig(
            mime_type=mime, display_name=display_name or _display_name(media)
        )
        data = await asyncio.to_thread(_bytes, media)
        uploaded = await self._acall(
            lambda: self._aio.files.upload(file=io.BytesIO(data), config=upload_config)
        )
        active = await self._await_active(uploaded)
        ref = FileRef(uri=str(active.uri), mime_type=active.mime_type or mime)
        self._uploads[key] = ref
        return ref

    def file_uri(self, file_id: str) -> str:
        """The URI of a Files API file given its name (``files/abc``), id or URI."""
        if "://" in file_id:
            return file_id
        name = file_id if file_id.startswith("files/") else f"files/{file_id}"
        base = (self.base_url or "https://generativelanguage.googleapis.com").rstrip("/")
        return f"{base}/{self.api_version or 'v1beta'}/{name}"

    def delete_uploads(self) -> int:
        """Delete every file this generator uploaded; returns how many."""
        with self._uploads_lock:
            refs, self._uploads = list(self._uploads.values()), {}
        for ref in refs:
            name = "files/" + ref.uri.rsplit("/files/", 1)[-1]
            self._call(lambda name=name: self._client.files.delete(name=name))  # type: ignore[misc]
        return len(refs)

    # --- requests ------------------------------------------------------------------------

    def _request(
        self,
        messages: Sequence[Message],
        system: str | Sequence[Part] | None,
        config: GenerationConfig | None,
    ) -> tuple[list[Any], genai_types.GenerateContentConfig]:
        plan = self._plan_media(messages, system)
        for media in plan.to_upload:
            plan.uploaded[media.content_hash()] = self.upload_file(media)
        return plan.build(config)

    async def _arequest(
        self,
        messages: Sequence[Message],
        system: str | Sequence[Part] | None,
        config: GenerationConfig | None,
    ) -> tuple[list[Any], genai_types.GenerateContentConfig]:
        plan = await asyncio.to_thread(self._plan_media, messages, system)
        refs = await asyncio.gather(*(self.aupload_file(m) for m in plan.to_upload))
        for media, ref in zip(plan.to_upload, refs, strict=True):
            plan.uploaded[media.content_hash()] = ref
        return await asyncio.to_thread(plan.build, config)

    def _plan_media(
        self, messages: Sequence[Message], system: str | Sequence[Part] | None
    ) -> _RequestPlan:
        if not messages:
            raise InvalidParameterError("no messages to send; pass at least one user message")
        plan = _RequestPlan(self, messages, system)
        sizes: list[tuple[int, Media]] = []
        for media in plan.inline_media():
            self._check_media(media)
            sizes.append((media.size or len(_bytes(media)), media))
        total = sum(size * 4 // 3 for size, _ in sizes)
        # Largest first: the fewest uploads that bring the request under the limit.
        for size, media in sorted(sizes, key=lambda pair: -pair[0]):
            if total <= self.inline_limit_bytes:
                break
            if self.vertexai:
                raise MediaLimitError(
                    f"the request carries {total / 2**20:.1f} MiB of media, over the "
                    f"{self.inline_limit_bytes / 2**20:.0f} MiB inline limit; on Vertex AI "
                    "put large files in Cloud Storage and pass gs:// URIs",
                    source=media.source,
                )
            plan.to_upload.append(media)
            total -= size * 4 // 3
        return plan

    def _check_media(self, media: Media) -> None:
        mime = media.mime_type
        if mime not in NATIVE_MIME_TYPES and mime not in REENCODED_IMAGE_TYPES:
            raise UnsupportedMediaError(
                f"Gemini cannot read {mime}; send images (PNG, JPEG, WEBP, HEIC), video, "
                "audio, PDF or plain text",
                source=media.source,
            )
        if mime.startswith("image/"):
            # Header only: a corrupt image fails here rather than costing a request.
            check_image(media)

    def _require_files_api(self, media: Media) -> None:
        if self.vertexai:
            raise InvalidParameterError(
                "the Files API exists only on the Gemini API; on Vertex AI use gs:// URIs",
                source=media.source,
            )

    def _wait_active(self, file: genai_types.File) -> genai_types.File:
        deadline = time.monotonic() + self.file_wait_timeout
        while _state(file) == "PROCESSING":
            if time.monotonic() > deadline:
                raise _not_ready(file, self.file_wait_timeout)
            time.sleep(self.file_poll_interval)
            name = str(file.name)
            file = self._call(lambda name=name: self._client.files.get(name=name))  # type: ignore[misc]
        _check_file_state(file)
        return file

    async def _await_active(self, file: genai_types.File) -> genai_types.File:
        deadline = time.monotonic() + self.file_wait_timeout
        while _state(file) == "PROCESSING":
            if time.monotonic() > deadline:
                raise _not_ready(file, self.file_wait_timeout)
            await asyncio.sleep(self.file_poll_interval)
            name = str(file.name)
            file = await self._acall(lambda name=name: self._aio.files.get(name=name))  # type: ignore[misc]
        _check_file_state(file)
        return file

    # --- calls with retries --------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        self._check_open()
        attempts = 0
        for attempt in self.retry_policy.retrying():
            with attempt:
                attempts += 1
                if self.rate_limiter is not None:
                    self.rate_limiter.acquire()
                try:
                    return fn()
                except Exception as exc:
                    raise _typed(exc, attempts) from exc
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        self._check_open()
        attempts = 0
        async for attempt in self.retry_policy.async_retrying():
            with attempt:
                attempts += 1
                if self.rate_limiter is not None:
                    await self.rate_limiter.aacquire()
                try:
                    return await fn()
                except Exception as exc:
                    raise _typed(exc, attempts) from exc
        raise AssertionError("unreachable: tenacity re-raises the last error")

    # --- closing -------------------------------------------------------------------------

    #: Set by `close` / `aclose`; any call afterwards raises `ConfigurationError`.
    _closed: bool = False

    @property
    def _aio(self) -> genai_client.AsyncClient:
        """The running event loop's async client (one per loop, closed in it)."""
        return self._aio_clients.get().aio

    def close(self) -> None:
        """Release the connections. Idempotent; the generator cannot be used afterwards
        (`ConfigurationError`). Async connections are closed in their own event loop: by
        `aclose` there, or when that loop shuts down (the end of ``asyncio.run``)."""
        if self._closed:
            return
        self._closed = True
        close_client(self._client)
        self._aio_clients.close()

    async def aclose(self) -> None:
        """`close`, closing the running event loop's connections in it first."""
        if self._closed:
            return
        self._closed = True
        await self._aio_clients.aclose()
        close_client(self._client)

    def _check_open(self) -> None:
        if self._closed:
            raise closed_error(self)

    def __repr__(self) -> str:
        return f"GeminiGenerator(model={self.model!r}, backend={self.backend!r})"

    def __getstate__(self) -> dict[str, Any]:
        raise TypeError(
            "GeminiGenerator holds a live client and credentials and is not picklable; "
            "pickle its settings instead and build a new one"
        )


class _RequestPlan:
    """Messages → google-genai contents, once we know which media go through the Files API."""

    def __init__(
        self,
        generator: GeminiGenerator,
        messages: Sequence[Message],
        system: str | Sequence[Part] | None,
    ):
        self.generator = generator
        self.messages = messages
        self.system: list[Part] = [system] if isinstance(system, str) else list(system or [])
        self.to_upload: list[Media] = []
        self.uploaded: dict[str, FileRef] = {}

    def inline_media(self) -> Iterator[Media]:
        """Media that would travel inline (not gs://, not YouTube)."""
        for message in self.messages:
            for part in message.parts:
                media = part.media if isinstance(part, MediaPart) else part
                if isinstance(media, Media):
                    self._check_scheme(media)
                    if not _by_reference(media):
                        yield media

    def _check_scheme(self, media: Media) -> None:
        if media.scheme == "gs" and not self.generator.vertexai:
            raise InvalidParameterError(
                "gs:// URIs work only on Vertex AI; on the Gemini API pass the file's bytes "
                "or path (large files are uploaded through the Files API)",
                source=media.source,
            )
        if media.scheme == "oss":
            raise InvalidParameterError(
                "oss:// URIs are DashScope's; Gemini cannot read them", source=media.source
            )

    def build(
        self, config: GenerationConfig | None
    ) -> tuple[list[Any], genai_types.GenerateContentConfig]:
        contents = [self._content(m) for m in self.messages]
        system = [self._part(p) for p in self.system if not (isinstance(p, str) and not p)]
        return contents, _config(config or GenerationConfig(), system)

    def _content(self, message: Message) -> dict[str, Any]:
        if message.role not in ("user", "model"):
            raise InvalidParameterError(
                f"message role {message.role!r} is not allowed; use 'user' or 'model'"
            )
        # The service rejects an empty text part ("required oneof field 'data'"); drop
        # them, as the embedders drop blank text, and fail here if nothing is left.
        parts = [p for p in message.parts if not (isinstance(p, str) and not p)]
        if not parts:
            raise InvalidParameterError(
                f"a {message.role} message has no parts (empty text is not sent); give it "
                "text, media or a tool call/result"
            )
        if self.generator.media_first and message.role == "user" and _text_then_media(parts):
            parts.sort(key=lambda p: 0 if _is_media(p) else 1)  # stable: order kept per kind
        return {"role": message.role, "parts": [self._part(p) for p in parts]}

    def _part(self, part: Part) -> dict[str, Any]:
        if isinstance(part, str):
            return {"text": part}
        if isinstance(part, ToolCall):
            call: dict[str, Any] = {"name": part.name, "args": dict(part.args)}
            if part.id:
                call["id"] = part.id
            return {"function_call": call}
        if isinstance(part, ToolResult):
            response = part.response if isinstance(part.response, dict) else None
            result: dict[str, Any] = {
                "name": part.name,
                "response": response if response is not None else {"result": part.response},
            }
            if part.id:
                result["id"] = part.id
            return {"function_response": result}
        if isinstance(part, FileRef):
            out = {"file_data": {"file_uri": part.uri, "mime_type": part.mime_type}}
            return _with_video(out, part.start_offset_sec, part.end_offset_sec, part.fps)
        if isinstance(part, MediaPart):
            out = self._media(part.media)
            return _with_video(out, part.start_offset_sec, part.end_offset_sec, part.fps)
        if isinstance(part, Media):
            return self._media(part)
        raise InvalidParameterError(f"cannot send a part of type {type(part).__name__}")

    def _media(self, media: Media) -> dict[str, Any]:
        if _by_reference(media):
            return {"file_data": {"file_uri": media.uri, "mime_type": _reference_mime(media)}}
        ref = self.uploaded.get(media.content_hash()) if self.uploaded else None
        if ref is not None:
            return {"file_data": {"file_uri": ref.uri, "mime_type": ref.mime_type}}
        if media.mime_type in REENCODED_IMAGE_TYPES:
            from ..media.imaging import reencode

            return {"inline_data": {"data": reencode(media, "PNG"), "mime_type": "image/png"}}
        return {"inline_data": {"data": _bytes(media), "mime_type": media.mime_type}}


class _StreamReader:
    """Turns streamed responses into chunks, raising on a block (with the text so far)."""

    def __init__(self) -> None:
        self.text = ""

    def chunk(self, response: genai_types.GenerateContentResponse) -> GenerationChunk:
        _raise_if_prompt_blocked(response)
        text, calls, finish = _candidate(response)
        self.text += text
        if finish in _BLOCKED_FINISH:
            raise _response_blocked(response, finish, self.text)
        return GenerationChunk(
            text=text,
            tool_calls=calls,
            finish_reason=finish,
            usage=_usage(response) if response.usage_metadata else None,
            model_version=response.model_version,
            response_id=response.response_id,
            raw=_raw(response),
        )


# --- helpers -------------------------------------------------------------------------------


def _config(
    config: GenerationConfig, system: list[dict[str, Any]]
) -> genai_types.GenerateContentConfig:
    fields: dict[str, Any] = {
        "temperature": config.temperature,
        "top_p": config.top_p,
        "top_k": config.top_k,
        "max_output_tokens": config.max_output_tokens,
        "stop_sequences": list(config.stop_sequences) if config.stop_sequences else None,
        "candidate_count": config.candidate_count,
        "seed": config.seed,
        "response_mime_type": config.response_mime_type,
        # Function declarations are data here, never Python callables to run.
        "automatic_function_calling": {"disable": True},
    }
    if system:
        fields["system_instruction"] = {"role": "user", "parts": system}
    if config.safety_settings:
        fields["safety_settings"] = _safety(config.safety_settings)
    if config.response_schema is not None:
        fields["response_json_schema"] = dict(config.response_schema)
        fields["response_mime_type"] = config.response_mime_type or "application/json"
    if config.tools:
        fields["tools"] = [
            {
                "function_declarations": [
                    {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters_json_schema": dict(tool.parameters)
                        if tool.parameters
                        else {"type": "object", "properties": {}},
                    }
                    for tool in config.tools
                ]
            }
        ]
    if config.tool_choice is not None:
        fields["tool_config"] = {"function_calling_config": _tool_choice(config)}
    if config.thinking_budget is not None:
        fields["thinking_config"] = {"thinking_budget": config.thinking_budget}
    fields.update(config.extra)
    return genai_types.GenerateContentConfig(**{k: v for k, v in fields.items() if v is not None})


def _safety(settings: Any) -> list[dict[str, str]]:
    out = []
    for category, threshold in dict(settings).items():
        category, threshold = (
            str(getattr(category, "value", category)),
            str(getattr(threshold, "value", threshold)),
        )
        if category not in _HARM_CATEGORIES:
            raise InvalidParameterError(
                f"unknown safety category {category!r}; use one of {sorted(_HARM_CATEGORIES)}"
            )
        if threshold not in _THRESHOLDS:
            raise InvalidParameterError(
                f"unknown safety threshold {threshold!r} for {category}; use one of "
                f"{sorted(_THRESHOLDS)}"
            )
        out.append({"category": category, "threshold": threshold})
    return out


def _tool_choice(config: GenerationConfig) -> dict[str, Any]:
    choice = str(config.tool_choice)
    mode = _TOOL_MODES.get(choice.lower())
    if mode is not None:
        return {"mode": mode}
    names = {tool.name for tool in config.tools}
    if choice not in names:
        raise InvalidParameterError(
            f"tool_choice={choice!r} is neither 'auto', 'any', 'none' nor a bound tool "
            f"({sorted(names)})"
        )
    return {"mode": "ANY", "allowed_function_names": [choice]}


def _with_video(
    part: dict[str, Any], start: float | None, end: float | None, fps: float | None
) -> dict[str, Any]:
    if start is None and end is None and fps is None:
        return part
    for name, value in (("start_offset_sec", start), ("end_offset_sec", end)):
        if value is not None and value < 0:
            raise InvalidParameterError(
                f"video {name}={value} must be >= 0 (seconds from the start of the video)"
            )
    if start is not None and end is not None and end <= start:
        raise InvalidParameterError(
            f"video end_offset_sec={end} must be after start_offset_sec={start}"
        )
    if fps is not None and not 0 < fps <= 24:
        raise InvalidParameterError(f"video fps={fps} must be in (0, 24]")
    meta: dict[str, Any] = {}
    if start is not None:
        meta["start_offset"] = f"{start:g}s"
    if end is not None:
        meta["end_offset"] = f"{end:g}s"
    if fps is not None:
        meta["fps"] = fps
    return {**part, "video_metadata": meta}


def _text_then_media(parts: Sequence[Part]) -> bool:
    """A prompt written as text followed by media (the common "question + attachments"
    form). Interleaved content (e.g. a label before each image) keeps its order."""
    kinds = [_is_media(p) for p in parts]
    return any(kinds) and not kinds[0] and kinds == sorted(kinds)


def _is_media(part: Part) -> bool:
    return isinstance(part, (Media, MediaPart, FileRef))


def _by_reference(media: Media) -> bool:
    uri = media.uri or ""
    return media.scheme == "gs" or uri.startswith(_YOUTUBE_HOSTS)


def _reference_mime(media: Media) -> str:
    uri = media.uri or ""
    if uri.startswith(_YOUTUBE_HOSTS):
        return "video/*"
    return media.mime_type


def _sendable_mime(media: Media) -> str:
    mime = media.mime_type
    if mime not in NATIVE_MIME_TYPES:
        raise UnsupportedMediaError(
            f"the Files API path takes formats Gemini reads natively, not {mime}",
            source=media.source,
        )
    return mime


def _bytes(media: Media) -> bytes:
    return media.read_bytes()


def _display_name(media: Media) -> str:
    if media.path is not None:
        return media.path.name
    return f"omniembed-{media.content_hash()[:12]}"


def _state(file: genai_types.File) -> str:
    state = file.state
    return str(getattr(state, "value", state) or "ACTIVE")


def _check_file_state(file: genai_types.File) -> None:
    if _state(file) == "FAILED":
        reason = file.error.message if file.error else "no reason given"
        raise UnsupportedMediaError(
            f"the service could not process the uploaded file {file.name} ({reason})",
            source=str(file.display_name or file.name),
        )


def _not_ready(file: genai_types.File, waited: float) -> ServiceTimeoutError:
    return ServiceTimeoutError(
        f"uploaded file {file.name} was still PROCESSING after {waited:g}s; raise "
        "file_wait_timeout= for long videos",
        provider="gemini",
    )


def _typed(exc: Exception, attempts: int = 1) -> Exception:
    typed = map_google_error(exc, provider="gemini") or exc
    if hasattr(typed, "attempts"):
        typed.attempts = attempts
    return typed


def _generation(response: genai_types.GenerateContentResponse) -> Generation:
    _raise_if_prompt_blocked(response)
    text, calls, finish = _candidate(response)
    if finish in _BLOCKED_FINISH:
        raise _response_blocked(response, finish, text)
    return Generation(
        text=text,
        tool_calls=calls,
        finish_reason=finish,
        usage=_usage(response),
        model_version=response.model_version,
        response_id=response.response_id,
        raw=_raw(response),
    )


def _candidate(
    response: genai_types.GenerateContentResponse,
) -> tuple[str, list[ToolCall], str | None]:
    if not response.candidates:
        return "", [], None
    candidate = response.candidates[0]
    finish = candidate.finish_reason
    finish_name = str(getattr(finish, "value", finish)) if finish is not None else None
    parts = (candidate.content.parts if candidate.content else None) or []
    text = "".join(p.text for p in parts if p.text and not p.thought)
    calls = [
        ToolCall(
            name=str(p.function_call.name),
            args=dict(p.function_call.args or {}),
            id=p.function_call.id,
        )
        for p in parts
        if p.function_call is not None
    ]
    return text, calls, finish_name


def _raise_if_prompt_blocked(response: genai_types.GenerateContentResponse) -> None:
    feedback = response.prompt_feedback
    if feedback is None or feedback.block_reason is None:
        return
    reason = str(getattr(feedback.block_reason, "value", feedback.block_reason))
    ratings = _ratings(feedback.safety_ratings)
    detail = feedback.block_reason_message or _rating_summary(ratings)
    raise BlockedContentError(
        f"the prompt was blocked ({reason}){': ' + detail if detail else ''}; rephrase it or "
        "relax safety_settings",
        stage="prompt",
        reason=reason,
        safety_ratings=ratings,
    )


def _response_blocked(
    response: genai_types.GenerateContentResponse, finish: str, text: str
) -> BlockedContentError:
    candidate = response.candidates[0] if response.candidates else None
    ratings = _ratings(candidate.safety_ratings if candidate else None)
    detail = _rating_summary(ratings)
    return BlockedContentError(
        f"the response was blocked ({finish}){': ' + detail if detail else ''}; rephrase the "
        "prompt or relax safety_settings",
        stage="response",
        reason=finish,
        safety_ratings=ratings,
        partial_text=text,
    )


def _ratings(ratings: Sequence[genai_types.SafetyRating] | None) -> list[dict[str, Any]]:
    return [r.model_dump(mode="json", exclude_none=True) for r in ratings or []]


def _rating_summary(ratings: list[dict[str, Any]]) -> str:
    flagged = [r for r in ratings if r.get("blocked") or r.get("probability") in ("HIGH",)]
    return ", ".join(f"{r.get('category')}={r.get('probability')}" for r in flagged)


def _usage(response: genai_types.GenerateContentResponse) -> Usage:
    meta = response.usage_metadata
    if meta is None:
        return Usage()
    return Usage(
        prompt_tokens=meta.prompt_token_count or 0,
        output_tokens=meta.candidates_token_count or 0,
        total_tokens=meta.total_token_count or 0,
        thoughts_tokens=meta.thoughts_token_count or 0,
        cached_tokens=meta.cached_content_token_count or 0,
    )


def _raw(response: genai_types.GenerateContentResponse) -> dict[str, Any]:
    raw: dict[str, Any] = response.model_dump(
        mode="json", exclude_none=True, exclude={"sdk_http_response"}
    )
    return raw
