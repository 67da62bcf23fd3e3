"""`DashScopeEmbedder`: Alibaba Cloud Model Studio (DashScope) multimodal embeddings over the
dashscope SDK.

Wire rules this module owns (DESIGN.md §3, model limits in `dashscope_models`):

* One request (``MultiModalEmbedding.call`` / ``AioMultiModalEmbedding.call``) carries up to
  the model's element limit of content objects; each content object gives one vector,
  answered as ``output.embeddings[{index, embedding, type}]`` and mapped back by ``index``.
* An interleaved omniembed input (text + image + video) becomes ONE content object, fused
  into one vector (type ``"vl"``) by the models that fuse: qwen3-vl-embedding needs
  ``parameters.enable_fusion = true``, which fuses every content of the request, so such an
  input is sent alone with the flag; the dated ``tongyi-embedding-vision-*-2026-03-06``
  models fuse one content object without a flag (2026 API reference, `dashscope_models`).
  The other models embed text, images and video independently: an input holds one modality
  (several images become one ``multi_images`` element where the model takes it).
* Images go inline as ``data:image/{fmt};base64,...`` (re-encoded and downscaled when the
  model does not take the format or the file is over its byte limit) or by http(s)/oss URL.
  Video goes by URL only; a local video is uploaded through the SDK's upload flow
  (``uploads?action=getPolicy`` at *our* base URL, then the upload host) and sent as
  ``oss://...`` with ``X-DashScope-OssResourceResolve: enable``.
* The SDK never raises for HTTP errors; non-200 responses become typed errors here.
* DashScope has no task types: ``task`` is ignored (``instruct`` conditions the model).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import mimetypes
import os
import re
import secrets
import shutil
import tempfile
import threading
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

try:
    import aiohttp
    import dashscope
    import requests
    from dashscope.api_entities.aio_session import get_ssl_context
    from dashscope.common.error import UploadFileException
    from dashscope.utils.oss_utils import OssUtils
except ImportError as exc:  # the SDK is an optional extra
    from ..errors import MissingDependencyError

    raise MissingDependencyError(
        "DashScopeEmbedder needs the dashscope SDK; install it with: "
        "pip install 'omniembed[dashscope]'"
    ) from exc

from .. import token_estimate
from ..closing import PerLoop
from ..errors import (
    ConfigurationError,
    InvalidParameterError,
    MediaLimitError,
    MissingCredentialsError,
    ServerError,
    ServiceError,
    UnsupportedMediaError,
)
from ..keywords import one_of
from ..media import Media
from ..media.mime import Modality
from ..media.probe import check_container, check_image, decodable_image, require_video_track
from ..runtime import offload
from ..runtime.batching import WorkItem
from ..runtime.cache import cache_key
from ..runtime.runner import BatchOutcome
from ..tasks import Task
from ..types import Embedding
from .base import Embedder, Parts, as_secret, lone_surrogate
from .dashscope_errors import PROVIDER, error_from_exception, error_from_response
from .dashscope_models import DashScopeModelSpec, model_spec
from .http_body import StreamedBody

logger = logging.getLogger("omniembed.dashscope")

REGION_BASE_URLS = {
    "intl": "https://dashscope-intl.aliyuncs.com/api/v1",
    "cn": "https://dashscope.aliyuncs.com/api/v1",
}
# The docs give no request-body limit; keep requests well under common 32 MB gateway caps.
_MAX_REQUEST_BYTES = 16 * 1024 * 1024
# Token estimates from UTF-8 bytes: ~4 bytes/token is typical for English (CJK is ~3 bytes
# per token), so bytes/6 is a safe lower bound for rejecting, bytes/4 a warning threshold.
_BYTES_PER_TOKEN_WARN = 4
_BYTES_PER_TOKEN_REJECT = 6
_MEDIA_KEYS = ("image", "multi_images", "video")
_IMAGE_FORMATS = {"image/jpeg": "jpeg", "image/png": "png", "image/bmp": "bmp"}
_DOWNSCALE_SIDES = (4096, 3072, 2048, 1536, 1024, 768, 512)


@dataclass(frozen=True)
class _Image:
    """One image to send: a remote URL, or local media (maybe re-encoded) as a data URI."""

    media: Media
    #: Re-encoded bytes and their format, when the original could not be sent as is.
    data: bytes | None = None
    fmt: str | None = None

    def value(self) -> str:
        if self.media.is_remote:
            assert self.media.uri is not None
            return self.media.uri
        if self.data is not None:
            return _data_uri(self.data, self.fmt or "jpeg")
        return _data_uri(self.media.read_bytes(), _IMAGE_FORMATS.get(self.media.mime_type, "png"))

    @property
    def weight(self) -> int:
        if self.media.is_remote:
            return len(self.media.uri or "")
        size = len(self.data) if self.data is not None else self.media.size or 0
        return size * 4 // 3


@dataclass(frozen=True)
class _Content:
    """One input as one DashScope content object (one vector)."""

    text: str | None
    images: tuple[_Image, ...]
    video: Media | None
    #: Send the images as one ``multi_images`` element (tongyi-embedding-vision-*).
    multi_images: bool
    modality: str

    @property
    def weight(self) -> int:
        weight = len(self.text.encode()) if self.text else 0
        weight += sum(image.weight for image in self.images)
        return weight + (len(self.video.uri or "") if self.video is not None else 0)


class _MultiModalEmbedding(dashscope.MultiModalEmbedding):
    """The SDK's sync call, with our own upload step instead of its preprocessing.

    The SDK's preprocessing uploads ANY element value that names an existing local file —
    text included (a text "notes.txt" would upload that file) — and fetches the upload
    policy from the import-time default endpoint, not ``base_address``. omniembed uploads
    local videos itself (to the configured base URL); here we only tell the SDK whether an
    ``oss://`` reference needs the ``X-DashScope-OssResourceResolve`` header.
    """

    @classmethod
    def _preprocess_message_inputs(cls, model: str, input_data: Any, api_key: str) -> bool:
        return _references_oss(input_data)


class _AioMultiModalEmbedding(dashscope.AioMultiModalEmbedding):
    """Async twin of `_MultiModalEmbedding`."""

    @classmethod
    def _preprocess_message_inputs(cls, model: str, input_data: Any, api_key: str) -> bool:
        return _references_oss(input_data)


class DashScopeEmbedder(Embedder):
    """Embeddings from DashScope's multimodal models: tongyi-embedding-vision-plus (default),
    tongyi-embedding-vision-flash, qwen3-vl-embedding (fused text+image+video) and
    multimodal-embedding-v1.

    ``api_key`` defaults to ``DASHSCOPE_API_KEY``. ``region`` picks the endpoint — ``"intl"``
    (Singapore, dashscope-intl.aliyuncs.com) or ``"cn"`` (Beijing, dashscope.aliyuncs.com;
    qwen3-vl-embedding and multimodal-embedding-v1 are served there) — and ``base_url``
    overrides it (proxy, emulator). ``dimensions`` (alias: the API's ``dimension``) must be
    one the model allows (default: the model's largest); ``fps`` ∈ [0, 1] sets video frame
    sampling; ``instruct`` is a task instruction for the model. DashScope has no task
    types: ``task`` arguments are ignored.
    ``allow_upload=False`` forbids uploading local videos (only URLs are sent).

    Use it as a (async) context manager, or call `close`/`aclose`, to release connections.
    """

    provider = "dashscope"
    quota_service = "dashscope"

    def __init__(
        self,
        model: str = "tongyi-embedding-vision-plus",
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        region: Literal["intl", "cn"] = "intl",
        dimensions: int | None = None,
        dimension: int | None = None,
        output_type: str = "dense",
        fps: float | None = None,
        instruct: str | None = None,
        allow_upload: bool = True,
        default_task: Task | str = Task.RETRIEVAL_DOCUMENT,
        max_concurrency: int = 16,
        requests_per_minute: float | None = None,
        max_retries: int = 6,
        timeout: float | None = 60.0,
        cache: Any = None,
        progress: bool = False,
        **runtime: Any,
    ):
        self.spec: DashScopeModelSpec = model_spec(model)
        self.region = region
        self.base_url = api_base_url(base_url, region)
        self._dimension_name, self.dimension = one_of(
            type(self).__name__, "dimensions", dimensions=dimensions, dimension=dimension
        )
        self.output_type = output_type
        self.fps = fps
        self.instruct = instruct
        self.allow_upload = allow_upload
        self._check_parameters()
        key = as_secret(api_key, "DASHSCOPE_API_KEY")
        if key is None:
            raise MissingCredentialsError(
                "no DashScope API key: pass api_key= or set DASHSCOPE_API_KEY"
            )
        self._secret: SecretStr = key
        super().__init__(
            model=model,
            default_task=default_task,
            max_concurrency=max_concurrency,
            requests_per_minute=requests_per_minute,
            max_retries=max_retries,
            timeout=timeout,
            cache=cache,
            progress=progress,
            max_batch_size=self.spec.max_elements,
            max_batch_bytes=_MAX_REQUEST_BYTES,
            **runtime,
        )
        self._session_lock = threading.Lock()
        self._session: requests.Session | None = None
        #: The aiohttp session the SDK's async calls use in each event loop (answers are
        #: decoded off the loop: `_OffLoopJSON`), each closed in its loop.
        self._aio_loops: PerLoop[aiohttp.ClientSession] = PerLoop(
            _aio_session, aiohttp.ClientSession.close, type(self).__name__
        )

    # --- construction --------------------------------------------------------------------

    def _check_parameters(self) -> None:
        spec, dim = self.spec, self.dimension
        if dim is not None:
            if spec.known and not spec.dimensions:
                raise InvalidParameterError(
                    f"{spec.name} has a fixed {spec.default_dimension}-dimension output and "
                    f"takes no {self._dimension_name}=; drop it, or use "
                    "tongyi-embedding-vision-plus / qwen3-vl-embedding for other sizes"
                )
            if (
                isinstance(dim, bool)
                or not isinstance(dim, int)
                or (spec.known and dim not in spec.dimensions)
                or dim < 1
            ):
                raise InvalidParameterError(
                    f"{self._dimension_name}={dim!r} is not allowed for {spec.name}; use one of "
                    f"{spec.allowed_dimensions} (default {spec.default_dimension})"
                )
        if self.output_type != "dense":
            raise InvalidParameterError(
                f"output_type={self.output_type!r} is not supported; DashScope multimodal "
                "embeddings return 'dense' vectors only"
            )
        fps = self.fps
        if fps is not None and (
            isinstance(fps, bool)
            or not isinstance(fps, (int, float))
            or math.isnan(fps)
            or not 0 <= fps <= 1
        ):
            raise InvalidParameterError(
                f"fps={fps!r} is out of range; it is the share of video frames sampled, in "
                "[0, 1] (e.g. 0.5)"
            )
        if self.instruct is not None and not (
            isinstance(self.instruct, str) and self.instruct.strip()
        ):
            raise InvalidParameterError("instruct= must be a non-empty string (or None)")
        instruct = self.instruct
        bad = None if instruct is None else lone_surrogate(instruct)
        if instruct is not None and bad is not None:
            raise InvalidParameterError(
                f"instruct= holds a lone surrogate ({instruct[bad]!r} at character {bad}), "
                "which is not valid Unicode and cannot be sent as UTF-8; fix how it was decoded "
                "or remove that character"
            )

    @property
    def output_dimension(self) -> int:
        """The length of the vectors this embedder returns."""
        return self.dimension or self.spec.default_dimension

    # --- preparing inputs ----------------------------------------------------------------

    def _prepare(
        self, index: int, parts: Parts, task: Task, title: str | None, options: Mapping[str, Any]
    ) -> list[WorkItem]:
        if options:
            raise ConfigurationError(
                f"DashScopeEmbedder.embed() got unexpected options {sorted(options)}; "
                "video_segment_config is an option of VertexMultiModalEmbedder (use "
                "embed_video(..., segment_config) with any embedder)"
            )
        if task is not self.default_task or title:
            logger.debug(
                "input %d: DashScope has no task types or titles; %s%s is ignored (use "
                "instruct= to condition the model)",
                index,
                task.value,
                " and the title" if title else "",
            )
        content = self._content(index, parts)
        key = cache_key(
            "dashscope",
            self.base_url,  # another endpoint (an emulator) never answers for this one
            self.spec.name,
            self.output_dimension,
            self.output_type,
            self.fps,
            self.instruct,
            content.multi_images,
            [p if isinstance(p, str) else [p.mime_type, p.content_hash()] for p in parts],
        )
        group: Any = None
        if content.modality == "vl" and self.spec.fusion_flag:
            # enable_fusion fuses every content of the request: a fused input goes alone.
            group = ("fused", index)
        elif content.images and self.spec.max_images_per_request is not None:
            group = ("one-image-per-request", index)
        elif content.video is not None and self.spec.max_videos_per_request is not None:
            group = ("one-video-per-request", index)
        tokens = sum(
            token_estimate.text_tokens(p)
            if isinstance(p, str)
            else token_estimate.image_tokens()
            if p.modality.value == "image"
            else 0
            for p in parts
        )
        return [WorkItem(index, content, key, group=group, weight=content.weight, tokens=tokens)]

    def _content(self, index: int, parts: Parts) -> _Content:
        spec = self.spec
        texts = [p for p in parts if isinstance(p, str)]
        media = [p for p in parts if isinstance(p, Media)]
        images: list[Media] = []
        videos: list[Media] = []
        for item in media:
            kind = item.modality
            if kind is Modality.IMAGE:
                images.append(item)
            elif kind is Modality.VIDEO:
                videos.append(item)
            else:
                raise UnsupportedMediaError(
                    f"{spec.name} embeds text, images and video, not {item.mime_type} "
                    f"({kind.value})",
                    index=index,
                    source=item.source,
                )
        kinds = [
            k for k, present in (("text", texts), ("image", images), ("video", videos)) if present
        ]
        if not spec.fused and len(kinds) > 1:
            raise InvalidParameterError(
                f"{spec.name} embeds text, images and video independently (one vector each), "
                f"so one input cannot mix {' and '.join(kinds)}. Pass them as separate inputs, "
                "or use qwen3-vl-embedding, which fuses text, image and video into one vector",
                index=index,
            )
        if len(videos) > 1:
            raise MediaLimitError(
                f"{len(videos)} videos in one input; {spec.name} takes one video per input. "
                "Split them over several inputs",
                index=index,
            )
        if len(images) > 1:
            self._check_image_count(index, len(images))
            if len(kinds) > 1:
                # multi_images must be an element of its own: the service takes it alone in
                # a content object, so it cannot join a fused text/video.
                raise MediaLimitError(
                    f"{len(images)} images with {' and '.join(k for k in kinds if k != 'image')}"
                    f" in one input; {spec.name} fuses one image with text and video. Pass "
                    "the images as their own input (one multi_images vector)",
                    index=index,
                )
        text = "\n".join(texts) if texts else None
        if text is not None:
            self._check_text(index, text)
        prepared = tuple(self._image(index, image) for image in images)
        video = self._video(index, videos[0]) if videos else None
        modality = kinds[0] if len(kinds) == 1 else "vl"
        if len(images) > 1:
            modality = "multi_images"
        return _Content(text, prepared, video, len(images) > 1, modality)

    def _check_image_count(self, index: int, count: int) -> None:
        spec = self.spec
        if spec.max_multi_images == 0:
            fix = (
                "Split them over several inputs, or use tongyi-embedding-vision-plus / -flash, "
                f"which embed up to {8} images as one multi_images input"
            )
            what = "one image per fused input" if spec.fused else "one image per input"
            raise MediaLimitError(
                f"{count} images in one input; {spec.name} takes {what}. {fix}", index=index
            )
        if count > spec.max_multi_images:
            raise MediaLimitError(
                f"{count} images in one input; {spec.name} takes at most "
                f"{spec.max_multi_images} images as one multi_images input. Split them over "
                "several inputs",
                index=index,
            )

    def _check_text(self, index: int, text: str) -> None:
        limit = self.spec.max_text_tokens
        size = len(text.encode())
        if size // _BYTES_PER_TOKEN_REJECT > limit:
            raise MediaLimitError(
                f"the text is about {size // _BYTES_PER_TOKEN_WARN} tokens ({size} bytes); "
                f"{self.spec.name} takes at most {limit} tokens per input. Split it into "
                "chunks",
                index=index,
            )
        if size // _BYTES_PER_TOKEN_WARN > limit:
            logger.warning(
                "input %d: about %d tokens, maybe over %s's limit of %d; the service may "
                "reject it (split long texts into chunks)",
                index,
                size // _BYTES_PER_TOKEN_WARN,
                self.spec.name,
                limit,
            )

    def _image(self, index: int, item: Media) -> _Image:
        spec = self.spec
        if item.is_remote:
            if item.scheme not in ("http", "https", "oss"):
                raise UnsupportedMediaError(
                    f"{item.scheme}:// images cannot be read by DashScope; pass a local file, "
                    "bytes, or an http(s):// or oss:// URL",
                    index=index,
                    source=item.source,
                )
            return _Image(item)  # the service fetches and checks it
        mime, size = item.mime_type, item.size or 0
        if mime not in spec.image_mime_types and not decodable_image(mime):
            raise UnsupportedMediaError(
                f"{spec.name} does not take {mime} images, and it cannot be converted here "
                "(Pillow does not read it); convert it to JPEG or PNG first",
                index=index,
                source=item.source,
            )
        if (
            mime in spec.image_mime_types
            and mime in _IMAGE_FORMATS
            and size <= spec.max_image_bytes
        ):
            # Sent as is: parse the header so a corrupt file fails here, not at the service
            # (re-encoded images below are decoded anyway).
            check_image(item)
            return _Image(item)
        data, fmt = self._shrink(index, item)
        return _Image(item, data, fmt)

    def _shrink(self, index: int, item: Media) -> tuple[bytes, str]:
        """Re-encode an image the model cannot take as is (format or bytes); PNG if that
        fits, else JPEG downscaled until it fits the model's byte limit."""
        from ..media.imaging import reencode

        limit = self.spec.max_image_bytes
        if (item.size or 0) <= limit:
            data = reencode(item, "PNG")
            if len(data) <= limit:
                return data, "png"
        for side in (None, *_DOWNSCALE_SIDES):
            data = reencode(item, "JPEG", side)
            if len(data) <= limit:
                logger.debug(
                    "input %d: re-encoded %s (%d bytes) as JPEG%s, %d bytes",
                    index,
                    item.source,
                    item.size or 0,
                    f" ≤{side}px" if side else "",
                    len(data),
                )
                return data, "jpeg"
        raise MediaLimitError(
            f"the image is {(item.size or 0) / 2**20:.1f} MiB and stays over "
            f"{self.spec.name}'s {limit / 2**20:.0f} MiB limit even downscaled; pass a smaller "
            "image",
            index=index,
            source=item.source,
        )

    def _video(self, index: int, item: Media) -> Media:
        spec = self.spec
        if item.is_remote:
            if item.scheme not in ("http", "https", "oss"):
                raise UnsupportedMediaError(
                    f"{item.scheme}:// videos cannot be read by DashScope; pass an http(s):// or "
                    "oss:// URL, or a local file (uploaded for you)",
                    index=index,
                    source=item.source,
                )
            return item
        if not self.allow_upload:
            raise UnsupportedMediaError(
                "DashScope takes video by URL only, and uploading local files is off "
                "(allow_upload=False); pass an http(s):// or oss:// URL, or allow the upload",
                index=index,
                source=item.source,
            )
        if item.mime_type not in spec.video_mime_types:
            raise UnsupportedMediaError(
                f"{spec.name} does not take {item.mime_type} video; convert it to MP4 "
                "(e.g. ffmpeg -i in.mkv out.mp4)",
                index=index,
                source=item.source,
            )
        size = item.size or 0
        if size > spec.max_video_bytes:
            raise MediaLimitError(
                f"the video is {size / 2**20:.1f} MiB; {spec.name} takes at most "
                f"{spec.max_video_bytes / 2**20:.0f} MiB. Cut or re-encode it (lower "
                "resolution or bitrate)",
                index=index,
                source=item.source,
            )
        # Read the container header before uploading: a corrupt file would otherwise be
        # uploaded, then refused by the service.
        check_container(item)
        require_video_track(
            item, spec.name, "its models embed pictures (text, images, video), not sound"
        )
        return item

    # --- sending -------------------------------------------------------------------------

    def _call_kwargs(self, batch: list[WorkItem]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "api_key": self._secret.get_secret_value(),
            "base_address": self.base_url,
            "output_type": self.output_type,
        }
        if self.dimension is not None:
            kwargs["dimension"] = self.dimension
        if self.fps is not None:
            kwargs["fps"] = self.fps
        if self.instruct is not None:
            kwargs["instruct"] = self.instruct
        if self.spec.fusion_flag and len(batch) == 1 and batch[0].payload.modality == "vl":
            # The 2026 reference: qwen3-vl-embedding fuses only with the flag (earlier
            # revisions fused one content object without it; the one object sent here
            # fuses under either reading).
            kwargs["enable_fusion"] = True
        if self.timeout is not None:
            kwargs["request_timeout"] = self.timeout
        return kwargs

    def _contents(self, batch: list[WorkItem], blobs: _Blobs | None = None) -> list[dict[str, Any]]:
        """The request's content objects; uploads local videos (blocking I/O). With
        ``blobs``, inline images are left there and placeholders put in their stead."""
        keep = (lambda value: value) if blobs is None else blobs.placeholder
        certificate: dict[str, Any] | None = None
        contents = []
        for item in batch:
            content: _Content = item.payload
            element: dict[str, Any] = {}
            if content.text is not None:
                element["text"] = content.text
            if content.multi_images:
                element["multi_images"] = [keep(image.value()) for image in content.images]
            elif content.images:
                element["image"] = keep(content.images[0].value())
            if content.video is not None:
                if content.video.is_remote:
                    element["video"] = content.video.uri
                else:
                    element["video"], certificate = self._upload(content.video, certificate)
            contents.append(element)
        return contents

    def _upload(
        self, video: Media, certificate: dict[str, Any] | None
    ) -> tuple[str, dict[str, Any]]:
        """Upload a local video with the SDK's OSS flow; return its oss:// URL.

        The object key is ``{upload_dir}/{file name}`` and one certificate (one upload_dir)
        serves a whole request, so the file is uploaded under a name made unique by its
        content hash: two videos called ``clip.mp4`` must not overwrite each other.
        """
        if certificate is None:
            policy = OssUtils.get_upload_certificate(
                model=self.model,
                api_key=self._secret.get_secret_value(),
                base_address=self.base_url,
            )
            if policy.status_code != 200:
                raise error_from_response(policy)
            certificate = dict(policy.output)
        digest = video.content_hash()[:16]
        if video.path is not None:
            stem, suffix = video.path.stem, video.path.suffix
        else:
            stem, suffix = "video", mimetypes.guess_extension(video.mime_type) or ".mp4"
        with tempfile.TemporaryDirectory(prefix="omniembed-") as folder:
            path = Path(folder) / f"{stem}-{digest}{suffix}"
            if video.path is None:
                path.write_bytes(video.read_bytes())
            else:
                _link_or_copy(video.path, path)
            try:
                url, certificate = OssUtils.upload(
                    model=self.model,
                    file_path=str(path),
                    api_key=self._secret.get_secret_value(),
                    upload_certificate=certificate,
                )
            except UploadFileException as exc:
                raise ServerError(f"uploading the video failed: {exc}", provider=PROVIDER) from exc
        logger.debug("uploaded %s as %s", video.source, url)
        return str(url), certificate

    def _send_batch(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        self._check_open()
        try:
            contents = self._contents(batch)
            response = _MultiModalEmbedding.call(
                input=contents, session=self._sync_session(), **self._call_kwargs(batch)
            )
        except Exception as exc:
            raise _typed(exc) from exc
        return self._outcomes(batch, response)

    async def _asend_batch(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        self._check_open()
        try:
            # Reading media, base64 and uploading videos are file, CPU and network work:
            # off the event loop, as are decoding the answer (`_OffLoopJSON`) and its
            # vectors (CPU: `offload.run`).
            blobs = _Blobs()
            if any(item.payload.images or item.payload.video for item in batch):
                contents = await asyncio.to_thread(self._contents, batch, blobs)
            else:  # texts only: less work than the hand-off
                contents = self._contents(batch, blobs)
            if not _ssl_context_built:
                await asyncio.to_thread(_build_ssl_context)
            carried = _BLOBS.set(blobs)
            try:
                response = await _AioMultiModalEmbedding.call(
                    input=contents, session=self._aio_loops.get(), **self._call_kwargs(batch)
                )
            finally:
                _BLOBS.reset(carried)
        except Exception as exc:
            raise _typed(exc) from exc
        return await offload.run(self._outcomes, batch, response)

    def _outcomes(self, batch: list[WorkItem], response: Any) -> list[BatchOutcome]:
        if response.status_code != 200:
            raise error_from_response(response)
        output = response.output or {}
        rows = output.get("embeddings") if isinstance(output, dict) else None
        by_index: dict[int, dict[str, Any]] = {}
        for row in rows or []:
            if isinstance(row, dict) and isinstance(row.get("index"), int):
                by_index[row["index"]] = row
        out: list[BatchOutcome] = []
        with offload.Turns() as turns:
            for position, item in enumerate(batch):
                row = by_index.get(position)
                if row is None or not row.get("embedding"):
                    out.append(
                        ServiceError(
                            f"the service returned no vector for content {position} of "
                            f"{len(batch)} (request_id {response.request_id})",
                            provider=PROVIDER,
                        )
                    )
                    continue
                modality = str(row.get("type") or item.payload.modality)
                out.append([Embedding(offload.floats(row["embedding"]), modality=modality)])
                turns()
        return out

    # --- connections ---------------------------------------------------------------------

    def _sync_session(self) -> requests.Session:
        with self._session_lock:
            if self._session is None:
                session = requests.Session()
                adapter = requests.adapters.HTTPAdapter(
                    pool_connections=4, pool_maxsize=max(10, self.max_concurrency)
                )
                session.mount("http://", adapter)
                session.mount("https://", adapter)
                self._session = session
            return self._session

    def _release(self) -> None:
        """The sync connection pool, and the SDK's aiohttp sessions of the event loops
        this embedder ran in (each closed in its loop; see `omniembed.closing.PerLoop`)."""
        with self._session_lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()
        self._aio_loops.close()

    async def _arelease(self) -> None:
        """`_release`, closing the SDK's shared aiohttp session of the running event loop
        first (the SDK opens a new one on its next async call)."""
        await self._aio_loops.aclose()
        await _close_sdk_session(None)
        self._release()

    def __repr__(self) -> str:
        dims = f", dimension={self.dimension}" if self.dimension else ""
        return f"DashScopeEmbedder(model={self.model!r}, base_url={self.base_url!r}{dims})"


# --- helpers -------------------------------------------------------------------------------


def _references_oss(contents: Any) -> bool:
    for element in contents or []:
        if not isinstance(element, dict):
            continue
        for key in _MEDIA_KEYS:
            values = element.get(key)
            for value in values if isinstance(values, list) else [values]:
                if isinstance(value, str) and value.startswith("oss://"):
                    return True
    return False


def _link_or_copy(source: Path, target: Path) -> None:
    """Give a file a second name without copying its bytes where the file system allows.

    A symbolic link, not a hard one: linking and unlinking a hard link changes the file's
    ctime, which the runtime reads as "changed while it was embedded" (and then does not
    cache the vector)."""
    try:
        os.symlink(source.resolve(), target)
    except OSError:
        shutil.copyfile(source, target)


def _data_uri(data: bytes, fmt: str) -> str:
    return f"data:image/{fmt};base64,{offload.b64encode(data)}"


class _OffLoopJSON(aiohttp.ClientResponse):
    """A response whose JSON is decoded in a worker thread, in ~1 ms pieces.

    The dashscope SDK reads every answer with ``await response.json()``, i.e. json.loads
    on the event loop: ~6 ms per 20 × 1,152-d answer, and the loop runs every answer
    that arrived together in one turn (16 in flight: ~100 ms). The checks (content type,
    empty body) stay aiohttp's own."""

    async def json(
        self,
        *,
        encoding: str | None = None,
        loads: Any = None,
        content_type: str | None = "application/json",
    ) -> Any:
        text = await super().json(encoding=encoding, loads=str, content_type=content_type)
        return None if text is None else await offload.run(offload.loads, text)


_ssl_context_built = False


def _build_ssl_context() -> None:
    """The SDK's SSL context (certifi), which our sessions share: built once, ~0.1 s,
    so not on the event loop."""
    global _ssl_context_built
    get_ssl_context()
    _ssl_context_built = True


class _Blobs:
    """The inline images of one async request, kept out of the SDK's hands until it sends.

    The dashscope SDK writes a request body with ``json.dumps`` on the event loop: ~3 ms
    per MB of base64, 24 ms for a request of 20 images (measured). It is handed short
    placeholders instead, and `_splice_blobs`, a middleware of our aiohttp session, puts
    the images back in a worker thread as the request leaves. A data URI is base64 after
    an ASCII prefix, which JSON writes as it is, so the body sent is byte for byte the
    one the SDK would have written."""

    #: Shorter values stay in place: not worth a placeholder.
    MIN_CHARS = 4096

    def __init__(self) -> None:
        self._prefix = f"omniembed-blob-{secrets.token_hex(8)}-"
        self._pattern = re.compile(re.escape(self._prefix.encode()) + rb"\d+")
        self.values: dict[bytes, bytes] = {}

    def placeholder(self, value: str) -> str:
        if len(value) < self.MIN_CHARS or not value.startswith("data:"):
            return value
        token = f"{self._prefix}{len(self.values)}"
        self.values[token.encode()] = value.encode("ascii")
        return token

    def splice(self, body: bytes) -> StreamedBody:
        """``body`` with each placeholder replaced by its value (one copy)."""
        pieces: list[bytes] = []
        start = 0
        for match in self._pattern.finditer(body):
            pieces += (body[start : match.start()], self.values[match.group()])
            start = match.end()
        pieces.append(body[start:])
        return StreamedBody.of(b"".join(pieces))


#: The `_Blobs` of the request the current task is sending.
_BLOBS: contextvars.ContextVar[_Blobs | None] = contextvars.ContextVar(
    "omniembed_dashscope_blobs", default=None
)


async def _splice_blobs(
    request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
) -> aiohttp.ClientResponse:
    blobs = _BLOBS.get()
    if blobs is not None and blobs.values and request.body:
        body = await request.body.as_bytes()  # the SDK's JSON: small, placeholders only
        await request.update_body(await offload.run(blobs.splice, body))
    return await handler(request)


def _aio_session() -> aiohttp.ClientSession:
    """A session like the SDK's shared one (certifi, proxies from the environment) whose
    requests get their images back off the loop (`_Blobs`) and whose responses decode
    off the loop (`_OffLoopJSON`)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=get_ssl_context()),
        trust_env=True,
        response_class=_OffLoopJSON,
        middlewares=(_splice_blobs,),
    )


def _typed(exc: Exception) -> Exception:
    return error_from_exception(exc) or exc


async def _close_sdk_session(_: None) -> None:
    """Close the dashscope SDK's shared aiohttp session of the running event loop."""
    from dashscope.api_entities.aio_session import close_shared_aio_session

    await close_shared_aio_session()


#: Where DashScope's API lives on its hosts (`REGION_BASE_URLS`).
API_PATH = "/api/v1"


def api_base_url(url: str | None, region: str = "intl") -> str:
    """Where DashScope's API lives: ``url`` (a host root gets ``/api/v1``), else the
    ``region``'s host."""
    if url is None:
        if region not in REGION_BASE_URLS:
            raise ConfigurationError(
                f"region={region!r} is unknown; use 'intl' (Singapore) or 'cn' (Beijing), or "
                "pass base_url="
            )
        return REGION_BASE_URLS[region]
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigurationError(
            f"base_url={url!r} is not an http(s) URL; use e.g. "
            "'https://dashscope-intl.aliyuncs.com/api/v1' or 'http://127.0.0.1:8765/api/v1'"
        )
    if not parsed.path.strip("/"):
        # A host root (an emulator, a proxy): DashScope's API lives under /api/v1 there too.
        return url.rstrip("/") + API_PATH
    return url.rstrip("/")


__all__ = ["REGION_BASE_URLS", "DashScopeEmbedder", "api_base_url"]
