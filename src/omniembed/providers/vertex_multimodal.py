"""`VertexMultiModalEmbedder`: Vertex AI ``multimodalembedding@001`` over REST.

No supported SDK sends this model's instance shape any more, so this module calls
``:predict`` with httpx and google-auth. Wire rules it owns (DESIGN.md §3):

* exactly one instance per request: text, image, video or any combination of them, which
  yields that many vectors (a video yields one per segment);
* ``dimension`` ∈ {128, 256, 512, 1408} for text and image; video is always 1,408;
* the model reads images at 512×512 and at most 120 s of video per request: larger images
  are downscaled before upload (switchable), and longer local videos are cut into ≤120 s
  windows by stream copy, each request carrying only its window, with the returned
  offsets re-based to the original timeline.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from ..closing import PerLoop
from ..deprecated_names import renamed
from ..errors import (
    ConfigurationError,
    InvalidParameterError,
    MediaLimitError,
    MissingCredentialsError,
    UnsupportedMediaError,
)
from ..keywords import one_of
from ..media import Media
from ..media.probe import check_image, decodable_image, image_size, require_video_track
from ..runtime import offload
from ..runtime.batching import WorkItem
from ..runtime.cache import cache_key
from ..runtime.runner import BatchOutcome
from ..tasks import Task
from ..types import Embedding, VideoSegmentConfig
from .base import Embedder, Parts, as_secret
from .google_errors import google_error, map_google_error

logger = logging.getLogger("omniembed.vertex")

MODEL = "multimodalembedding@001"
DIMENSIONS = (128, 256, 512, 1408)
VIDEO_DIMENSION = 1408
#: "Image size limit: 20 MB" (https://cloud.google.com/vertex-ai/generative-ai/docs/
#: embeddings/get-multimodal-embeddings, API limits).
MAX_IMAGE_BYTES = 20 * 1024 * 1024
#: The image MIME types the model takes: "Only the images in below listed MIME types are
#: supported. - image/jpeg - image/png" (https://cloud.google.com/vertex-ai/generative-ai/
#: docs/reference/rest/Shared.Types/VisionEmbeddingModelInstance). Other local images that
#: Pillow reads (WEBP, GIF, BMP, TIFF, AVIF) are sent re-encoded as PNG.
IMAGE_MIME_TYPES = frozenset({"image/jpeg", "image/png"})
#: The model's input size: larger images are resized by the service anyway.
MODEL_IMAGE_SIDE = 512
MAX_TEXT_TOKENS = 32
#: Seconds of video the service analyses per request.
WINDOW_SEC = 120.0
MIN_INTERVAL_SEC = 4.0
DEFAULT_INTERVAL_SEC = 16.0


def billing_mode(interval_sec: float) -> str:
    """Vertex AI's video pricing tier for a segment interval: Plus (4–<8 s),
    Standard (8–<15 s) or Essential (≥15 s)."""
    if interval_sec < 8:
        return "Plus"
    return "Standard" if interval_sec < 15 else "Essential"


@dataclass(frozen=True)
class _Instance:
    """One request's instance. ``window`` is the stretch of the source video this request
    covers, in the source's timeline."""

    text: str | None
    image: Media | None
    video: Media | None
    window: tuple[float, float] | None
    interval_sec: float


class VertexMultiModalEmbedder(Embedder):
    """Image, text and video embeddings from Vertex AI ``multimodalembedding@001``.

    Credentials: Application Default Credentials by default, or ``credentials``
    (google-auth) or ``access_token``. ``project``/``location`` default to
    ``GOOGLE_CLOUD_PROJECT`` / ``GOOGLE_CLOUD_LOCATION`` (else ``us-central1``).
    The quota defaults to the model's published one (``tier="default"``: 120 requests per
    minute per project); ``requests_per_minute=`` sets yours.

    An input is a text, an image, a video, or a list holding at most one of each (one
    instance; its vectors come back in the order text, image, video segments).
    ``video_segment_config`` (or ``embed(..., video_segment_config=...)``) picks the
    stretch and segment length; a local video longer than 120 s is embedded window by
    window. Tasks do not apply to this model and are ignored. ``dimensions`` (alias: the
    API's ``dimension``) is 128, 256, 512 or 1408 (the default) for text and images;
    video vectors are always 1408.
    """

    provider = "vertex"
    quota_service = "vertex"

    def __init__(
        self,
        model: str = MODEL,
        *,
        project: str | None = None,
        location: str | None = None,
        credentials: Any | None = None,
        access_token: str | SecretStr | None = None,
        base_url: str | None = None,
        api_version: str = "v1",
        dimensions: int | None = None,
        dimension: int | None = None,
        video_segment_config: VideoSegmentConfig | None = None,
        downscale_images: bool = True,
        storage_url: str = "https://storage.googleapis.com",
        max_concurrency: int = 8,
        requests_per_minute: float | None = None,
        tier: str | None = "default",
        max_retries: int = 6,
        timeout: float | None = 120.0,
        cache: Any = None,
        progress: bool = False,
        **runtime: Any,
    ):
        if model != MODEL:
            raise InvalidParameterError(
                f"{type(self).__name__} serves {MODEL} only, not {model!r}; use "
                "GeminiEmbedder(vertexai=True) for Vertex AI's Gemini and text models"
            )
        dimension_name, dimension = one_of(
            type(self).__name__, "dimensions", dimensions=dimensions, dimension=dimension
        )
        dimension = VIDEO_DIMENSION if dimension is None else dimension
        if (
            isinstance(dimension, bool)
            or not isinstance(dimension, int)
            or dimension not in DIMENSIONS
        ):
            raise InvalidParameterError(
                f"{dimension_name}={dimension!r} is not offered by {MODEL}; use one of "
                f"{', '.join(map(str, DIMENSIONS))} (video embeddings are always 1408)"
            )
        self.dimension = dimension
        self.video_segment_config = video_segment_config
        if video_segment_config is not None:
            _check_segment_config(video_segment_config)
        self.downscale_images = downscale_images
        #: Where gs:// video headers are read from (their length decides the windows).
        self.storage_url = storage_url
        self.location = location or os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"
        self.project = project or os.environ.get("GOOGLE_CLOUD_PROJECT")
        super().__init__(
            model=MODEL,
            max_concurrency=max_concurrency,
            requests_per_minute=requests_per_minute,
            tier=None if runtime.get("quota") is not None else tier,
            max_retries=max_retries,
            timeout=timeout,
            cache=cache,
            progress=progress,
            max_batch_size=1,
            **runtime,
        )
        self._auth = _Auth(credentials, as_secret(access_token))
        if self.project is None:
            self.project = self._auth.default_project
        if not self.project:
            raise MissingCredentialsError(
                "Vertex AI needs a project: pass project= or set GOOGLE_CLOUD_PROJECT"
            )
        self.base_url = base_url
        base = (base_url or f"https://{self.location}-aiplatform.googleapis.com").rstrip("/")
        self.url = (
            f"{base}/{api_version}/projects/{self.project}/locations/{self.location}"
            f"/publishers/google/models/{MODEL}:predict"
        )
        self._client = httpx.Client(timeout=timeout)
        # Dropped without `close`: its pool closes when it is collected (as google-genai's
        # clients do), not with an unclosed-socket warning.
        weakref.finalize(self, self._client.close)
        #: One async client per event loop, each closed in its loop.
        self._async_clients: PerLoop[httpx.AsyncClient] = PerLoop(
            lambda: httpx.AsyncClient(timeout=self.timeout),
            httpx.AsyncClient.aclose,
            type(self).__name__,
        )

    # --- preparing -----------------------------------------------------------------------

    def _prepare(
        self,
        index: int,
        parts: Parts,
        task: Task,
        title: str | None,
        options: Mapping[str, Any],
    ) -> list[WorkItem]:
        unknown = sorted(set(options) - {"video_segment_config"})
        if unknown:
            # Reject rather than ignore: a misspelt option would otherwise embed silently
            # with the defaults.
            raise ConfigurationError(
                f"VertexMultiModalEmbedder.embed() got unexpected options {unknown}; the only "
                "option is video_segment_config=VideoSegmentConfig(...)"
            )
        texts = [p for p in parts if isinstance(p, str)]
        media = [p for p in parts if isinstance(p, Media)]
        images = [m for m in media if m.mime_type.startswith("image/")]
        videos = [m for m in media if m.mime_type.startswith("video/")]
        others = [m for m in media if m not in images and m not in videos]
        if others:
            raise UnsupportedMediaError(
                f"{MODEL} embeds text, images and video, not {others[0].mime_type}",
                index=index,
                source=others[0].source,
            )
        if len(texts) > 1 or len(images) > 1 or len(videos) > 1:
            raise MediaLimitError(
                f"one {MODEL} instance holds at most one text, one image and one video "
                f"(got {len(texts)}, {len(images)}, {len(videos)}); split them over inputs",
                index=index,
            )
        text = texts[0] if texts else None
        image = images[0] if images else None
        video = videos[0] if videos else None
        if text is not None and len(text) // 4 > MAX_TEXT_TOKENS:
            logger.warning(
                "input %d: about %d tokens; %s reads the first %d and ignores the rest",
                index,
                len(text) // 4,
                MODEL,
                MAX_TEXT_TOKENS,
            )
        if image is not None:
            self._check_image(index, image)
        config = options.get("video_segment_config") or self.video_segment_config
        if config is not None:
            _check_segment_config(config)
        if video is None:
            return [self._item(index, _Instance(text, image, None, None, DEFAULT_INTERVAL_SEC))]
        require_video_track(
            video, MODEL, "the model reads pictures only (sound in a video is ignored)"
        )
        if self.dimension != VIDEO_DIMENSION:
            logger.info("input %d: video embeddings are always 1408-dimensional", index)
        interval = (config.interval_sec if config else None) or DEFAULT_INTERVAL_SEC
        logger.info(
            "input %d: %g s video segments: %s billing", index, interval, billing_mode(interval)
        )
        spans = self._windows(index, video, config)
        length = spans[-1][1] if spans else None  # the video's length (or the stretch's end)
        return [
            self._item(
                index,
                _Instance(
                    text if n == 0 else None, image if n == 0 else None, video, span, interval
                ),
                length,
            )
            for n, span in enumerate(spans)
        ]

    def _check_image(self, index: int, image: Media) -> None:
        if image.scheme in ("http", "https"):
            image.read_bytes()
        if image.scheme == "oss":
            raise UnsupportedMediaError(
                "oss:// URIs are DashScope's; pass a local file or gs://",
                index=index,
                source=image.source,
            )
        mime = image.mime_type
        if mime not in IMAGE_MIME_TYPES and (image.scheme == "gs" or not decodable_image(mime)):
            how = (
                "a gs:// image cannot be converted here; store it as JPEG or PNG"
                if image.scheme == "gs"
                else "it cannot be converted here (Pillow does not read it); convert it to JPEG "
                "or PNG first"
            )
            raise UnsupportedMediaError(
                f"{MODEL} takes JPEG or PNG images, not {mime}; {how}",
                index=index,
                source=image.source,
            )
        if image.is_remote:
            return
        size = image.size or 0
        if size > MAX_IMAGE_BYTES:
            # Decided from the byte size and the header alone, before the file is read or
            # decoded whole (a 1.5 GB file must not be loaded and base64-encoded).
            if not self.downscale_images:
                raise MediaLimitError(
                    f"the image is {size / 2**20:.1f} MiB; {MODEL} takes at most 20 MiB "
                    "(leave downscale_images=True to shrink it to the model's 512 px first)",
                    index=index,
                    source=image.source,
                )
            width, height = image_size(image)
            if max(width, height) <= MODEL_IMAGE_SIDE:
                raise MediaLimitError(
                    f"the image is {size / 2**20:.1f} MiB at {width}×{height} px; {MODEL} "
                    "takes at most 20 MiB and downscaling cannot shrink an image already "
                    f"within {MODEL_IMAGE_SIDE} px. Re-encode it (e.g. as JPEG or an "
                    "optimised PNG) under 20 MiB",
                    index=index,
                    source=image.source,
                )
        # A corrupt or truncated file fails here, naming the input, rather than at send time
        # (when it is downscaled) or at the service (when it is not).
        check_image(image)

    def _windows(
        self, index: int, video: Media, config: VideoSegmentConfig | None
    ) -> list[tuple[float, float]]:
        from ..media.video import windows

        start = config.start_offset_sec if config else 0.0
        end = config.end_offset_sec if config else None
        if video.is_remote:
            if video.scheme != "gs":
                video.read_bytes()  # http(s): fetched once, then cut like a local file
            else:
                # The service reads gs:// itself; we only need the length, from the header.
                stop = end if end is not None else self._gcs_duration(video)
                return windows(stop, start, stop, WINDOW_SEC)
        from ..media.probe import media_duration_sec

        duration = media_duration_sec(video)
        if start >= duration:
            raise InvalidParameterError(
                f"start_offset_sec={start:g} is past the end of the {duration:.1f} s video",
                index=index,
                source=video.source,
            )
        return windows(duration, start, end, WINDOW_SEC)

    def _gcs_duration(self, video: Media) -> float:
        """A gs:// video's length, read from its header by byte ranges (not downloaded)."""
        from ..media.probe import require
        from .gcs_reader import GcsRangeReader

        av = require("av", purpose="read the length of a gs:// video")
        reader = GcsRangeReader(video.source, self._auth.token, self._client, self.storage_url)
        try:
            with av.open(reader) as container:
                if container.duration is not None:
                    return float(container.duration) / 1_000_000
        except av.error.FFmpegError as exc:
            raise UnsupportedMediaError(
                f"cannot read the video's header ({exc}); set "
                "VideoSegmentConfig(end_offset_sec=...) to say how much to embed",
                source=video.source,
            ) from exc
        raise UnsupportedMediaError(
            "the video does not declare its length; set VideoSegmentConfig(end_offset_sec=...)",
            source=video.source,
        )

    def _item(self, index: int, instance: _Instance, length: float | None = None) -> WorkItem:
        key = cache_key(
            "vertex-multimodal",
            self.base_url,  # another endpoint (an emulator) never answers for this one
            self.dimension,
            self.downscale_images,
            instance.text,
            _media_key(instance.image),
            _media_key(instance.video),
            instance.window,
            instance.interval_sec,
        )
        return WorkItem(index, instance, key, weight=_request_bytes(instance, length))

    # --- sending -------------------------------------------------------------------------

    def _body(self, instance: _Instance) -> tuple[dict[str, Any], float]:
        """The request body, and the offset to add to the returned video offsets."""
        body: dict[str, Any] = {}
        rebase = 0.0
        if instance.text is not None:
            body["text"] = instance.text
        if instance.image is not None:
            body["image"] = self._image_json(instance.image)
        if instance.video is not None and instance.window is not None:
            start, end = instance.window
            if instance.video.scheme == "gs":
                video: dict[str, Any] = {"gcsUri": instance.video.source}
            else:
                from ..media.video import cut_window

                cut = cut_window(instance.video, start, end)
                video = {"bytesBase64Encoded": offload.b64encode(cut.data)}
                rebase = cut.actual_start_sec
            video["videoSegmentConfig"] = {
                "startOffsetSec": _whole(start - rebase),
                "endOffsetSec": _whole(end - rebase, up=True),
                "intervalSec": _whole(instance.interval_sec),
            }
            body["video"] = video
        return {"instances": [body], "parameters": {"dimension": self.dimension}}, rebase

    def _image_json(self, image: Media) -> dict[str, Any]:
        if image.scheme == "gs":
            return {"gcsUri": image.source, "mimeType": image.mime_type}
        if self.downscale_images:
            data = _downscaled(image)
        elif image.mime_type not in IMAGE_MIME_TYPES:
            from ..media.imaging import reencode

            data = reencode(image, "PNG")
        else:
            data = image.read_bytes()
        return {"bytesBase64Encoded": offload.b64encode(data)}

    def _encoded(self, instance: _Instance) -> tuple[bytes, float]:
        """`_body` as JSON bytes: written in ~1 ms pieces (`runtime.offload`), as a
        window of video base64-encodes to megabytes."""
        body, rebase = self._body(instance)
        return offload.dumps(body), rebase

    def _send_batch(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        instance: _Instance = batch[0].payload
        data, rebase = self._encoded(instance)
        headers = {"Authorization": f"Bearer {self._auth.token()}", **_JSON}
        try:
            response = self._client.post(self.url, content=data, headers=headers)
        except httpx.HTTPError as exc:
            raise _typed(exc) from exc
        return [self._parse(response, rebase)]

    async def _asend_batch(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        instance: _Instance = batch[0].payload
        # Reading, cutting and downscaling media, base64 and the JSON body are file and CPU
        # work, and so is decoding the answer: all in a worker thread, the loop only waits.
        data, rebase = await offload.run(self._encoded, instance)
        token = await asyncio.to_thread(self._auth.token)  # may refresh: network I/O
        try:
            response = await self._async_client().post(
                self.url, content=data, headers={"Authorization": f"Bearer {token}", **_JSON}
            )
        except httpx.HTTPError as exc:
            raise _typed(exc) from exc
        return [await offload.run(self._parse, response, rebase)]

    def _async_client(self) -> httpx.AsyncClient:
        return self._async_clients.get()

    def _parse(self, response: httpx.Response, rebase: float) -> list[Embedding]:
        try:
            payload = offload.loads(response.content)
        except ValueError:
            payload = {}
        if response.status_code != 200:
            raise google_error(response.status_code, payload, response.headers, "vertex")
        prediction = (payload.get("predictions") or [{}])[0]
        out = []
        if "textEmbedding" in prediction:
            out.append(Embedding(offload.floats(prediction["textEmbedding"]), "text"))
        if "imageEmbedding" in prediction:
            out.append(Embedding(offload.floats(prediction["imageEmbedding"]), "image"))
        for segment in prediction.get("videoEmbeddings") or []:
            out.append(
                Embedding(
                    offload.floats(segment["embedding"]),
                    "video",
                    rebase + float(segment.get("startOffsetSec", 0)),
                    rebase + float(segment.get("endOffsetSec", 0)),
                )
            )
        return out

    def embed_videos(
        self,
        videos: Sequence[Media | str | os.PathLike[str]],
        segment_config: VideoSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
        progress: bool | None = None,
    ) -> list[list[Embedding]]:
        """Each video's segments as the service cuts them (``interval_sec`` 4..120 s,
        default 16 s; gs:// videos are segmented server-side)."""
        options: dict[str, Any] = (
            {} if segment_config is None else {"video_segment_config": segment_config}
        )
        media = [Media.coerce(v) for v in videos]  # a str is a path here, not a text
        results = self.embed(media, task, progress=progress, **options)
        return [r.embeddings for r in results]

    async def aembed_videos(
        self,
        videos: Sequence[Media | str | os.PathLike[str]],
        segment_config: VideoSegmentConfig | None = None,
        *,
        task: Task | str | None = None,
        progress: bool | None = None,
    ) -> list[list[Embedding]]:
        """Async `embed_videos`."""
        options: dict[str, Any] = (
            {} if segment_config is None else {"video_segment_config": segment_config}
        )
        media = await asyncio.to_thread(lambda: [Media.coerce(v) for v in videos])
        results = await self.aembed(media, task, progress=progress, **options)
        return [r.embeddings for r in results]

    def _release(self) -> None:
        self._client.close()
        self._async_clients.close()

    async def _arelease(self) -> None:
        await self._async_clients.aclose()
        self._client.close()

    def __repr__(self) -> str:
        return (
            f"VertexMultiModalEmbedder(project={self.project!r}, "
            f"location={self.location!r}, dimension={self.dimension})"
        )


_JSON = {"Content-Type": "application/json"}


def _request_bytes(instance: _Instance, length: float | None) -> int:
    """About how many bytes the request's media take (base64): what the runtime's
    in-flight byte budget counts, so a few long-video windows are not all held at once."""
    total = 0
    for media in (instance.image, instance.video):
        if media is None or media.is_remote:
            continue
        size = media.size or 0
        if media is instance.video and instance.window is not None and length:
            start, end = instance.window
            size = int(size * min(1.0, (end - start) / length))
        total += size * 4 // 3
    return total


class _Auth:
    """Bearer tokens: an explicit access token, or google-auth credentials refreshed
    when they expire (ADC when none are given)."""

    def __init__(self, credentials: Any | None, token: SecretStr | None):
        self.default_project: str | None = None
        self._token = token
        self._credentials = credentials
        self._lock = threading.Lock()
        if token is None and credentials is None:
            import google.auth
            from google.auth.exceptions import DefaultCredentialsError

            try:
                self._credentials, self.default_project = google.auth.default(
                    scopes=["https://www.googleapis.com/auth/cloud-platform"]
                )
            except DefaultCredentialsError as exc:
                raise MissingCredentialsError(
                    "no Google Cloud credentials for Vertex AI: run `gcloud auth "
                    "application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or pass "
                    "credentials= / access_token="
                ) from exc

    def token(self) -> str:
        if self._token is not None:
            return self._token.get_secret_value()
        credentials = self._credentials
        assert credentials is not None  # set in __init__ when there is no token
        with self._lock:
            if not credentials.valid:
                from google.auth.transport.requests import Request

                credentials.refresh(Request())
            return str(credentials.token)


def _check_segment_config(config: object) -> None:
    if not isinstance(config, VideoSegmentConfig):
        raise InvalidParameterError(
            f"video_segment_config must be a VideoSegmentConfig, not {type(config).__name__}"
        )
    if config.interval_sec is not None and config.interval_sec < MIN_INTERVAL_SEC:
        raise InvalidParameterError(
            f"interval_sec={config.interval_sec:g} is below {MODEL}'s minimum of "
            f"{MIN_INTERVAL_SEC:g} s; use 4–7 s (Plus), 8–14 s (Standard) or ≥15 s (Essential)"
        )
    if config.interval_sec is not None and config.interval_sec > WINDOW_SEC:
        # The model analyses at most 120 s per request (longer videos are sent window by
        # window), so a longer segment could never come back: say so instead of returning
        # 120 s segments.
        raise InvalidParameterError(
            f"interval_sec={config.interval_sec:g} is above {MODEL}'s maximum of "
            f"{WINDOW_SEC:g} s (the model analyses at most {WINDOW_SEC:g} s per request); "
            f"use {MIN_INTERVAL_SEC:g}–{WINDOW_SEC:g} s"
        )


def _whole(seconds: float, up: bool = False) -> int:
    """The API takes whole seconds."""
    import math

    return int(math.ceil(seconds - 1e-6) if up else math.floor(seconds + 1e-6))


def _media_key(media: Media | None) -> str | None:
    if media is None:
        return None
    return f"{media.mime_type}:{media.content_hash()}"


def _downscaled(image: Media) -> bytes:
    """The image's bytes, re-encoded at ≤512 px when larger (read from the header first, so
    a large file is decoded by Pillow from disk, never held whole as bytes)."""
    width, height = image_size(image)
    if max(width, height) <= MODEL_IMAGE_SIDE and image.mime_type in IMAGE_MIME_TYPES:
        return image.read_bytes()
    from ..media.imaging import reencode

    fmt = "JPEG" if image.mime_type == "image/jpeg" else "PNG"
    return reencode(image, fmt, max_side=MODEL_IMAGE_SIDE)


def _typed(exc: Exception) -> Exception:
    return map_google_error(exc, provider="vertex") or exc


_old_name = renamed(
    __name__, {"VertexMultimodalEmbedder": "VertexMultiModalEmbedder"}, globals().__getitem__
)


def __getattr__(name: str) -> Any:
    return _old_name(name)
