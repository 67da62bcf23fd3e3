"""`GeminiEmbedder`: Google's Gemini embedding models over google-genai, on the Gemini API
or Vertex AI.

Wire rules this module owns (DESIGN.md §3):

* Gemini API: one ``batchEmbedContents`` call carries ≤100 inputs. google-genai applies
  one config (taskType, title) to the whole call, so inputs are batched per distinct title.
  For gemini-embedding-2 each input is its own ``Content`` (a plain list of strings would
  be merged into ONE content, i.e. one vector).
* Vertex AI: one content per call (``embedContent`` / ``predict``), run concurrently.
* gemini-embedding-001 and text-embedding-005 take ``taskType`` (+ ``title`` with
  RETRIEVAL_DOCUMENT); gemini-embedding-2 never gets ``taskType``: the task goes into a text
  prefix, and media parts are sent unprefixed.
* Only full-size vectors come back normalized; truncated ones (``output_dimensionality``)
  are re-normalized here unless ``normalize=False``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from google import genai
from pydantic import SecretStr

from .. import token_estimate
from ..errors import (
    ConfigurationError,
    InvalidParameterError,
    MediaLimitError,
    MissingDependencyError,
    ServiceError,
    UnsupportedMediaError,
)
from ..keywords import one_of
from ..media import Media
from ..media.mime import Modality
from ..media.probe import (
    check_image,
    decodable_image,
    has_audio_track,
    image_size,
    probe_or_none,
    require_video_track,
)
from ..media.video_segments import ClipLimits
from ..runtime import offload
from ..runtime.batching import WorkItem
from ..runtime.cache import cache_key
from ..runtime.runner import BatchOutcome
from ..tasks import Task
from ..types import Embedding
from .base import Embedder, Parts
from .gemini_batch import GeminiBatchJob, submit_batch_job
from .gemini_models import Conditioning, GeminiModelSpec, model_spec
from .gemini_tasks import prefix_text, title_for_task_type
from .google_client import (
    build_genai_client,
    check_base_url,
    close_client,
    close_when_collected,
    env_flag,
)
from .google_errors import map_google_error
from .http_body import StreamedBody
from .quota_table import default_tier
from .vectors import l2_normalize as _l2_normalize

logger = logging.getLogger("omniembed.gemini")

#: Request body limits (the ``max_request_bytes=`` default). The public sources disagree,
#: so the figure is a keyword:
#: - users get 400 INVALID_ARGUMENT "Request payload size exceeds the limit: 4194304
#:   bytes." from Gemini API embedding calls (quarkiverse/quarkus-langchain4j#1705: a
#:   gemini-embedding-001 text batch on batchEmbedContents, 2025-08), so text-only models
#:   default to 4 MiB — a text batch never needs more, so the stricter figure costs nothing;
#: - the Gemini API docs give 20 MB as the total request size with inline data, and
#:   gemini-embedding-2 takes inline video and audio that do not fit in 4 MiB, so it defaults
#:   to 18 MiB (20 MB less JSON slack) — pass ``max_request_bytes=4 * 2**20`` where a
#:   project sees the 4 MiB answer;
#: - Vertex AI: no public figure for :predict / :embedContent on publisher models was found
#:   (the 1.5 MB online-prediction figure is for custom-trained model endpoints), so it keeps
#:   the same defaults.
TEXT_MODEL_MAX_REQUEST_BYTES = 4 * 1024 * 1024
MULTIMODAL_MAX_REQUEST_BYTES = 18 * 1024 * 1024
#: The request around the inputs (model name, config, JSON punctuation): kept out of the
#: budget so a batch that weighs exactly the limit still fits.
_ENVELOPE_BYTES = 1024
#: Per input: ``{"model": "models/…", "content": {"parts": [...]}, "taskType": …}``.
_PER_INPUT_BYTES = 256
_CHARS_PER_TOKEN = 4  # a conservative estimate for the over-length warning
#: Characters kept per allowed token when cutting far-too-long text (no token is longer).
_MAX_CHARS_PER_TOKEN = 64


@dataclass(frozen=True)
class _Request:
    """One input, ready to send: its parts (text already conditioned) and per-call fields."""

    parts: tuple[str | Media, ...]
    task_type: str | None
    title: str | None
    #: Media whose bytes must be re-encoded to PNG before sending (e.g. WEBP images).
    reencode: frozenset[int] = frozenset()
    #: Estimated input tokens (what a tokens-per-minute quota counts), and of them media.
    tokens: int = 0
    media_tokens: int = 0

    @property
    def modality(self) -> str:
        kinds = {
            Modality.TEXT.value if isinstance(p, str) else p.modality.value for p in self.parts
        }
        return kinds.pop() if len(kinds) == 1 else "mixed"


class GeminiEmbedder(Embedder):
    """Embeddings from gemini-embedding-2 (multimodal), gemini-embedding-001 or
    text-embedding-005 (Vertex AI).

    Gemini API: pass ``api_key`` (default: ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``).
    Vertex AI: ``vertexai=True`` with ``project``/``location`` (defaults:
    ``GOOGLE_CLOUD_PROJECT`` / ``GOOGLE_CLOUD_LOCATION``) and Application Default
    Credentials, or explicit ``credentials`` / ``access_token``, or an express-mode
    ``api_key``. ``base_url`` points at a proxy, regional endpoint or the emulator.

    ``dimensions`` (alias: the API's ``output_dimensionality``) truncates vectors
    (Matryoshka); truncated vectors are re-normalized to unit length unless
    ``normalize=False``.

    ``audio_limit_sec`` is the longest audio gemini-embedding-2 is sent per input (and so
    `embed_audio`'s default window): 80 s by default. Public sources disagree (80 s at
    launch, up to 180 s in later reports); raise it if your project takes longer audio.
    """

    provider = "gemini"

    def __init__(
        self,
        model: str = "gemini-embedding-2",
        *,
        api_key: str | SecretStr | None = None,
        vertexai: bool | None = None,
        project: str | None = None,
        location: str | None = None,
        credentials: Any | None = None,
        access_token: str | SecretStr | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        dimensions: int | None = None,
        output_dimensionality: int | None = None,
        normalize: bool = True,
        default_task: Task | str = Task.RETRIEVAL_DOCUMENT,
        max_concurrency: int = 16,
        requests_per_minute: float | None = None,
        max_retries: int = 6,
        timeout: float | None = 60.0,
        cache: Any = None,
        progress: bool = False,
        audio_limit_sec: float | None = None,
        max_request_bytes: int | None = None,
        **runtime: Any,
    ):
        self.spec: GeminiModelSpec = _with_audio_limit(model_spec(model), audio_limit_sec)
        self.vertexai = env_flag("GOOGLE_GENAI_USE_VERTEXAI") if vertexai is None else vertexai
        self._dimension_name, self.output_dimensionality = one_of(
            type(self).__name__,
            "dimensions",
            dimensions=dimensions,
            output_dimensionality=output_dimensionality,
        )
        self.normalize = normalize
        self.base_url = check_base_url(base_url)
        self.quota_service = "vertex" if self.vertexai else "gemini-api"
        self._check_model_and_dimension(model)
        self._max_batch = 1 if self.vertexai else 100
        default_limit = (
            MULTIMODAL_MAX_REQUEST_BYTES if self.spec.multimodal else TEXT_MODEL_MAX_REQUEST_BYTES
        )
        limit = default_limit if max_request_bytes is None else max_request_bytes
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 2 * _ENVELOPE_BYTES:
            raise ConfigurationError(
                f"max_request_bytes must be an int above {2 * _ENVELOPE_BYTES} bytes, got "
                f"{max_request_bytes!r}"
            )
        self.max_request_bytes = limit
        if runtime.get("quota") is None and "tier" not in runtime:
            # Vertex AI publishes one default quota per project; the Gemini API's depends
            # on the project's tier, which only its owner knows.
            runtime["tier"] = default_tier(self.quota_service, model)
        super().__init__(
            model=model,
            default_task=default_task,
            max_concurrency=max_concurrency,
            requests_per_minute=requests_per_minute,
            max_retries=max_retries,
            timeout=timeout,
            cache=cache,
            progress=progress,
            max_batch_size=self._max_batch,
            max_batch_bytes=self.max_request_bytes - _ENVELOPE_BYTES,
            **runtime,
        )
        self._client = self._build_client(
            api_key, project, location, credentials, access_token, api_version
        )

    # --- construction --------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return "vertex" if self.vertexai else "gemini-api"

    def _check_model_and_dimension(self, model: str) -> None:
        if not self.vertexai and not self.spec.gemini_api:
            raise ConfigurationError(
                f"{model} is served only on Vertex AI; pass vertexai=True (with project= and "
                "location=), or use gemini-embedding-001 / gemini-embedding-2"
            )
        dim = self.output_dimensionality
        if dim is None:
            return
        top = self.spec.default_dimension
        if (
            isinstance(dim, bool)  # True is an int: it would ask for 1-dimensional vectors
            or not isinstance(dim, int)
            or dim < self.spec.min_dimension
            or (top and dim > top)
        ):
            allowed = f"{self.spec.min_dimension}..{top}" if top else "a positive integer"
            raise InvalidParameterError(
                f"{self._dimension_name}={dim!r} is not allowed for {model}; use {allowed} "
                "(768, 1536 and 3072 are the recommended sizes)"
            )

    def _build_client(
        self,
        api_key: str | SecretStr | None,
        project: str | None,
        location: str | None,
        credentials: Any | None,
        access_token: str | SecretStr | None,
        api_version: str | None,
    ) -> genai.Client:
        built = build_genai_client(
            vertexai=self.vertexai,
            api_key=api_key,
            project=project,
            location=location,
            credentials=credentials,
            access_token=access_token,
            base_url=self.base_url,
            api_version=api_version,
            timeout=self.timeout,
        )
        self._secret: SecretStr | None = built.secret
        self.project, self.location = built.project, built.location
        self.endpoint = built.endpoint
        self._aio_clients = built.async_clients(type(self).__name__)
        close_when_collected(self, built.client)
        return built.client

    # --- preparing inputs ----------------------------------------------------------------

    def _prepare(
        self, index: int, parts: Parts, task: Task, title: str | None, options: Mapping[str, Any]
    ) -> list[WorkItem]:
        if options:
            raise ConfigurationError(
                f"GeminiEmbedder.embed() got unexpected options {sorted(options)}; "
                "video_segment_config is an option of VertexMultiModalEmbedder (use "
                "embed_video(..., segment_config) with any embedder)"
            )
        request = self._condition(index, parts, task, title)
        key = cache_key(
            "gemini",
            self.backend,
            # Vectors from another endpoint (an emulator, a proxy) never answer for this one.
            self.endpoint,
            self.spec.name,
            self.output_dimensionality,
            self.normalize,
            task.value,
            request.task_type,
            request.title,
            [p if isinstance(p, str) else [p.mime_type, p.content_hash()] for p in request.parts],
        )
        weight = _PER_INPUT_BYTES + sum(
            _wire_text_bytes(p) if isinstance(p, str) else _wire_media_bytes(p)
            for p in request.parts
        )
        budget = self.max_request_bytes - _ENVELOPE_BYTES
        if weight > budget:
            # Refused here: the service would answer 400 "Request payload size exceeds the
            # limit" for the request, and no batching can make one input smaller.
            raise MediaLimitError(
                f"the input needs about {weight / 2**20:.2f} MiB on the wire (base64 media); "
                f"this {self.backend} embedder sends at most {self.max_request_bytes} bytes per "
                "request (max_request_bytes=). Shrink or split the media, "
                + (
                    "pass a gs:// URI, "
                    if self.vertexai
                    else "upload it with the Files API and pass its URI, "
                )
                + "or raise max_request_bytes= if your project accepts larger requests",
                index=index,
            )
        # google-genai sends one config per call, so inputs batch only with equal titles.
        return [
            WorkItem(index, request, key, group=request.title, weight=weight, tokens=request.tokens)
        ]

    def _condition(self, index: int, parts: Parts, task: Task, title: str | None) -> _Request:
        texts = [p for p in parts if isinstance(p, str)]
        media = [p for p in parts if isinstance(p, Media)]
        self._warn_if_long(index, texts)
        parts = self._cut_long_texts(index, parts)
        texts = [p for p in parts if isinstance(p, str)]
        if media and not self.spec.multimodal:
            raise UnsupportedMediaError(
                f"{self.spec.name} embeds text only; use gemini-embedding-2 for images, "
                "video, audio and PDFs",
                index=index,
                source=media[0].source,
            )
        reencode, media_tokens = self._check_media(index, media)
        if self.spec.conditioning is Conditioning.TASK_TYPE:
            kept: tuple[str | Media, ...] = ("\n".join(texts),) if not media else parts
            sent_title = title_for_task_type(task, title)
            tokens = _text_tokens(kept) + media_tokens
            tokens += token_estimate.text_tokens(sent_title or "")
            return _Request(kept, task.value, sent_title, _positions(kept, reencode), tokens=tokens)
        conditioned: list[str | Media] = []
        prefixed = False
        for part in parts:
            if isinstance(part, str) and not prefixed:
                conditioned.append(prefix_text(part, task, title))
                prefixed = True
            else:
                conditioned.append(part)
        return _Request(
            tuple(conditioned),
            None,
            None,
            _positions(conditioned, reencode),
            tokens=_text_tokens(conditioned) + media_tokens,
            media_tokens=media_tokens,
        )

    def _warn_if_long(self, index: int, texts: list[str]) -> None:
        limit = self.spec.max_tokens
        estimate = sum(len(t) for t in texts) // _CHARS_PER_TOKEN
        if limit and estimate > limit:
            logger.warning(
                "input %d: about %d tokens, over %s's limit of %d; the service truncates it "
                "(split long texts into chunks to embed all of it)",
                index,
                estimate,
                self.spec.name,
                limit,
            )

    def _cut_long_texts(self, index: int, parts: Parts) -> Parts:
        """Texts far over the model's token limit, cut to a length that still holds more
        than the model reads.

        The service truncates over-long text by default (Vertex AI's ``autoTruncate`` is
        on unless set false: https://cloud.google.com/vertex-ai/generative-ai/docs/
        reference/rest/Shared.Types/TextEmbeddingPredictionParams; the Gemini API has no
        switch and truncates too), so the vector is the same; what is cut is what could
        not be sent at all (25 MB of text is over the 20 MB request limit) or would be
        paid for as bandwidth only. No token is wider than `_MAX_CHARS_PER_TOKEN`
        characters, so the first ``max_tokens`` tokens always survive the cut.
        """
        limit = self.spec.max_tokens
        if not limit:
            return parts
        keep = limit * _MAX_CHARS_PER_TOKEN
        if all(not isinstance(p, str) or len(p) <= keep for p in parts):
            return parts
        logger.warning(
            "input %d: the text is far over %s's %d-token limit; sending its first %d "
            "characters (more than the service reads), not all of it",
            index,
            self.spec.name,
            limit,
            keep,
        )
        return tuple(p[:keep] if isinstance(p, str) else p for p in parts)

    def _audio_limit_sec(self) -> float | None:
        return self.spec.max_audio_seconds if self.spec.multimodal else None

    def _clip_limits(self) -> ClipLimits:
        if not self.spec.multimodal:
            return ClipLimits()
        return ClipLimits(
            hears_sound=True,
            max_sec=self.spec.max_video_seconds,
            max_sec_with_sound=self.spec.max_video_with_sound_seconds,
        )

    def _check_media(self, index: int, media: list[Media]) -> tuple[set[int], int]:
        """Check gemini-embedding-2's per-input limits; return ids of images to re-encode
        and the media's estimated tokens."""
        spec = self.spec
        reencode: set[int] = set()
        images = 0
        tokens = 0
        for item in media:
            self._check_reference(index, item)
            mime = item.mime_type
            # The byte size first: from the file's size, before anything reads it whole.
            room = self.max_request_bytes - _ENVELOPE_BYTES - _PER_INPUT_BYTES
            if not item.is_remote and _wire_media_bytes(item) > room:
                raise MediaLimitError(
                    f"the file is {(item.size or 0) / 2**20:.1f} MiB; inline media must stay "
                    f"under {self.max_request_bytes / 2**20:.0f} MiB per request "
                    f"({_wire_media_bytes(item) / 2**20:.1f} MiB as base64; "
                    "max_request_bytes=)"
                    + (
                        "; pass a gs:// URI instead"
                        if self.vertexai
                        else "; upload it with the Files API and pass its URI"
                    )
                    + ", or raise max_request_bytes= if your project accepts larger requests",
                    index=index,
                    source=item.source,
                )
            if mime.startswith("image/"):
                images += 1
                if mime not in spec.image_mime_types and not (
                    not item.is_remote and decodable_image(mime)
                ):
                    how = (
                        "convert it to JPEG or PNG first"
                        if item.is_remote
                        else "it cannot be converted here (Pillow does not read it); convert "
                        "it to JPEG or PNG first"
                    )
                    raise UnsupportedMediaError(
                        f"{spec.name} takes PNG or JPEG images, not {mime}; {how}",
                        index=index,
                        source=item.source,
                    )
                check_image(item)  # a corrupt image is refused here, not by the service
                size = None if item.scheme == "gs" else probe_or_none(image_size, item)
                tokens += token_estimate.image_tokens(*(size or (None, None)))
                if mime not in spec.image_mime_types:
                    reencode.add(id(item))
            elif mime.startswith("video/"):
                if mime not in spec.video_mime_types:
                    raise UnsupportedMediaError(
                        f"{spec.name} takes MP4 or MOV video, not {mime}; convert it (e.g. "
                        "ffmpeg -i in.webm out.mp4)",
                        index=index,
                        source=item.source,
                    )
                require_video_track(
                    item,
                    spec.name,
                    "for sound alone, convert it to MP3 or WAV and pass it as audio",
                )
                seconds = _probe_or_none(_duration, item)
                sound = seconds is not None and _probe_or_none(has_audio_track, item)
                tokens += token_estimate.video_tokens(seconds)
                if sound:
                    tokens += token_estimate.audio_tokens(seconds)
                limit = spec.max_video_with_sound_seconds if sound else spec.max_video_seconds
                if seconds is not None and seconds > limit:
                    kind = "video (with sound)" if sound else "video"
                    raise MediaLimitError(
                        f"the {kind} is {seconds:.1f} s long; {spec.name} takes at most "
                        f"{limit:.0f} s per input. Cut it into ≤{limit:.0f} s clips "
                        "(embed_video(..., VideoSegmentConfig(interval_sec=...)))"
                        + (
                            ", drop its sound (VideoSegmentConfig(include_audio=False)) "
                            f"to take up to {spec.max_video_seconds:.0f} s"
                            if sound
                            else ""
                        )
                        + ", or use VertexMultiModalEmbedder, which embeds long videos "
                        "segment by segment",
                        index=index,
                        source=item.source,
                    )
            elif mime == "application/pdf":
                pages = _probe_or_none(_pages, item)
                tokens += token_estimate.pdf_tokens(pages)
                if pages is not None and pages > spec.max_pdf_pages:
                    raise MediaLimitError(
                        f"the PDF has {pages} pages; {spec.name} takes at most "
                        f"{spec.max_pdf_pages} pages per input. Embed it page by page "
                        "(PDFPageReader / PDFPageLoader) or in ≤6-page parts",
                        index=index,
                        source=item.source,
                    )
            elif mime.startswith("audio/"):
                if mime not in spec.audio_mime_types:
                    raise UnsupportedMediaError(
                        f"{spec.name} takes MP3 or WAV audio, not {mime}",
                        index=index,
                        source=item.source,
                    )
                seconds = _probe_or_none(_duration, item)
                tokens += token_estimate.audio_tokens(seconds)
                if seconds is not None and seconds > spec.max_audio_seconds:
                    raise MediaLimitError(
                        f"the audio is {seconds:.1f} s long; {spec.name} takes at most "
                        f"{spec.max_audio_seconds:.0f} s per input. Embed it as timed "
                        "segments with embed_audio() (cut locally into ≤"
                        f"{spec.max_audio_seconds:.0f} s windows)",
                        index=index,
                        source=item.source,
                    )
            else:
                raise UnsupportedMediaError(
                    f"{spec.name} does not embed {mime}", index=index, source=item.source
                )
        if images > spec.max_images:
            raise MediaLimitError(
                f"{images} images in one input; {spec.name} takes at most {spec.max_images}. "
                "Split them over several inputs",
                index=index,
            )
        return reencode, tokens

    def _check_reference(self, index: int, item: Media) -> None:
        if not item.is_remote:
            return
        if item.scheme == "gs" and not self.vertexai:
            raise UnsupportedMediaError(
                "gs:// URIs work only on Vertex AI (vertexai=True); on the Gemini API pass a "
                "local file, bytes or an http(s) URL",
                index=index,
                source=item.source,
            )
        if item.scheme == "oss":
            raise UnsupportedMediaError(
                "oss:// URIs are DashScope's; Gemini cannot read them",
                index=index,
                source=item.source,
            )
        if item.scheme in ("http", "https"):
            item.read_bytes()  # download once, so the checks and the request see the bytes

    # --- sending -------------------------------------------------------------------------

    # Requests are built as plain dicts (google-genai's ContentDict / EmbedContentConfigDict):
    # building pydantic Content/Part objects costs ~5x more CPU per batch, which is most of
    # the client's time on a fast network.
    #
    # The wire body and the response are written and read here rather than by
    # google-genai's embed_content, whose async path does both on the event loop: per
    # 100 × 3,072-d response ~70 ms of json.loads plus ~10 ms of pydantic validation, and
    # ~80 ms of json.dumps per 17 MB request of inline images, so a 500-text aembed()
    # stalled the loop for 200-500 ms. Running that SDK coroutine on a worker thread's
    # loop does not help: each is one C call holding the GIL, so the caller's loop still
    # waits 80-110 ms (measured). Here both run in a worker thread in ~1 ms pieces
    # (`runtime.offload`), and google-genai's transport still sends the request (its base
    # URL, API version, auth, headers, timeout and error types): `_build_request` and
    # `_async_request_once`, the steps of its own `async_request` (under its one-attempt
    # retry loop), with the body already encoded (that method would json.dumps it on the
    # loop).

    def _config(self, request: _Request) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if request.task_type is not None:
            config["task_type"] = request.task_type
        if request.title is not None:
            config["title"] = request.title
        if self.output_dimensionality is not None:
            config["output_dimensionality"] = self.output_dimensionality
        return config

    def _contents(self, batch: list[WorkItem]) -> list[dict[str, Any]]:
        contents = []
        for item in batch:
            request: _Request = item.payload
            parts: list[dict[str, Any]] = []
            for position, part in enumerate(request.parts):
                if isinstance(part, str):
                    parts.append({"text": part})
                elif part.is_remote and part.scheme == "gs":
                    parts.append(
                        {"file_data": {"file_uri": part.source, "mime_type": part.mime_type}}
                    )
                elif position in request.reencode:
                    parts.append(_png_part(part))
                else:
                    parts.append(
                        {"inline_data": {"data": part.read_bytes(), "mime_type": part.mime_type}}
                    )
            contents.append({"parts": parts})
        return contents

    @property
    def _route(self) -> str:
        """The method a batch goes to: the Gemini API batches; Vertex AI takes one content
        per call, at ``:embedContent`` for Gemini models (as google-genai picks it) and
        ``:predict`` for gemini-embedding-001 and the text-embedding models."""
        if not self.vertexai:
            return "batchEmbedContents"
        name = self.model.rsplit("/", 1)[-1]
        gemini = "gemini" in name and name != "gemini-embedding-001"
        return "embedContent" if gemini or "maas" in name else "predict"

    def _wire(self, batch: list[WorkItem]) -> tuple[str, dict[str, Any]]:
        """One batch as the service takes it: the path (after the API version) and the
        JSON body, media inline as base64 (reads and re-encodes files)."""
        fields = {_WIRE_FIELDS[k]: v for k, v in self._config(batch[0].payload).items()}
        contents = [_wire_content(content) for content in self._contents(batch)]
        model = _model_path(self.model, self.vertexai)
        route = self._route
        if route == "batchEmbedContents":
            requests = [{"model": model, "content": content, **fields} for content in contents]
            return f"{model}:{route}", {"requests": requests}
        (content,) = contents  # one content per call on Vertex AI (max_batch_size 1)
        if route == "embedContent":
            body: dict[str, Any] = {"content": content}
            if fields:
                body["embedContentConfig"] = fields
            return f"{model}:{route}", body
        # :predict takes the text itself, the task and title per instance, the size as a
        # parameter (a text-only model: `_condition` joined the input's texts into one).
        instance: dict[str, Any] = {"content": "\n".join(p["text"] for p in content["parts"])}
        if "taskType" in fields:
            instance["task_type"] = fields["taskType"]
        if "title" in fields:
            instance["title"] = fields["title"]
        body = {"instances": [instance]}
        if "outputDimensionality" in fields:
            body["parameters"] = {"outputDimensionality": fields["outputDimensionality"]}
        return f"{model}:{route}", body

    def _encoded(self, batch: list[WorkItem]) -> tuple[str, bytes]:
        path, body = self._wire(batch)
        return path, StreamedBody.of(offload.dumps(body))

    def _send_batch(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        path, body = self._wire(batch)
        try:
            response = self._client._api_client.request("post", path, body)
        except Exception as exc:
            raise _typed(exc) from exc
        return self._outcomes(batch, response.body or "")

    async def _asend_batch(self, batch: list[WorkItem]) -> Sequence[BatchOutcome]:
        # Files are read, images re-encoded and the body written in a worker thread; a
        # few texts (Vertex AI: one per request) are written on the loop, and small
        # answers read there: less work than a hand-off to the thread.
        path, data = await offload.run_sized(_text_bytes(batch), self._encoded, batch)
        api = self._aio_clients.get()._api_client
        try:
            request = api._build_request("post", path, {}, None)
            request.data = data  # sent as is: already JSON
            # The step under `_async_request`'s retry loop, which our client sets to one
            # attempt (the runner retries): its tenacity wrapper costs the loop ~0.3 ms
            # per request, and on Vertex AI every text is a request.
            response = await api._async_request_once(request)
        except Exception as exc:
            raise _typed(exc) from exc
        body = response.response_stream[0] if response.response_stream else ""
        # Answers that arrived together resume their tasks in one pass of the loop: the
        # reading waits for its turn (on Vertex AI, 16 one-text answers at once).
        await offload.take_turn()
        return await offload.run_sized(len(body), self._outcomes, batch, body)

    def _outcomes(self, batch: list[WorkItem], body: str | bytes) -> list[BatchOutcome]:
        """One outcome per item from the response body (decoded in pieces: see above)."""
        payload = offload.loads(body) if body else {}
        vectors = _vectors(payload if isinstance(payload, dict) else {}, self._route)
        if len(vectors) != len(batch):
            error = ServiceError(
                f"the service returned {len(vectors)} vectors for {len(batch)} inputs",
                provider="gemini",
            )
            return [error for _ in batch]
        truncated = self.output_dimensionality is not None and self.normalize
        out: list[BatchOutcome] = []
        with offload.Turns() as turns:
            for item, vector in zip(batch, vectors, strict=True):
                values = offload.floats(vector)
                if truncated:
                    values = _l2_normalize(values)
                out.append([Embedding(values, modality=item.payload.modality)])
                turns()
        return out

    # --- async batch jobs (Gemini API) ---------------------------------------------------

    def submit_batch_job(
        self,
        inputs: object,
        task: Task | str | None = None,
        *,
        titles: Sequence[str | None] | None = None,
        display_name: str | None = None,
        inline_limit_bytes: int | None = None,
    ) -> GeminiBatchJob:
        """Embed ``inputs`` as a Gemini API batch job (half price, finishes within hours);
        conditioned exactly as `embed` would. Returns the job handle: ``wait()``, then
        ``results()``. Payloads over ``inline_limit_bytes`` go through an uploaded JSONL file.
        """
        return submit_batch_job(
            self,
            inputs,
            task,
            titles=titles,
            display_name=display_name,
            inline_limit_bytes=inline_limit_bytes,
        )

    def batch_job(self, name: str) -> GeminiBatchJob:
        """Resume a batch job by name (``batches/...``), e.g. from another process."""
        self._check_open()
        return GeminiBatchJob.from_name(self, name)

    # --- closing (see `Embedder.close`) --------------------------------------------------

    def _release(self) -> None:
        close_client(self._client)
        self._aio_clients.close()

    async def _arelease(self) -> None:
        await self._aio_clients.aclose()
        close_client(self._client)

    def __repr__(self) -> str:
        dims = (
            f", output_dimensionality={self.output_dimensionality}"
            if self.output_dimensionality
            else ""
        )
        return f"GeminiEmbedder(model={self.model!r}, backend={self.backend!r}{dims})"


# --- helpers -------------------------------------------------------------------------------


def _text_tokens(parts: Sequence[str | Media]) -> int:
    return sum(token_estimate.text_tokens(p) for p in parts if isinstance(p, str))


def _positions(parts: Sequence[str | Media], ids: set[int]) -> frozenset[int]:
    return frozenset(i for i, p in enumerate(parts) if id(p) in ids)


def _typed(exc: Exception) -> Exception:
    return map_google_error(exc, provider="gemini") or exc


def _wire_text_bytes(text: str) -> int:
    # JSON escapes non-ASCII as \uXXXX (6 bytes per UTF-16 unit) in the worst case.
    if text.isascii():
        return len(text) + 2
    return len(text.encode("utf-16-le")) * 3 + 2


def _wire_media_bytes(media: Media) -> int:
    if media.is_remote:
        return len(media.uri or "") + 64
    return ((media.size or 0) + 2) // 3 * 4 + 64


def _text_bytes(batch: list[WorkItem]) -> int:
    """The bytes of the batch's texts; "too many to count" when it holds media (files
    to read: never on the loop)."""
    if any(not isinstance(p, str) for item in batch for p in item.payload.parts):
        return offload.INLINE_BYTES
    return sum(item.weight for item in batch)


#: `_config` keys as the wire (proto JSON) names them.
_WIRE_FIELDS = {
    "task_type": "taskType",
    "title": "title",
    "output_dimensionality": "outputDimensionality",
}


def _model_path(model: str, vertexai: bool) -> str:
    """The model's resource path, as google-genai's ``t_model`` writes it."""
    if ".." in model or "?" in model or "&" in model:
        raise ConfigurationError(f"model={model!r} is not a model name")
    if vertexai:
        if model.startswith(("projects/", "models/", "publishers/")):
            return model
        if "/" in model:
            publisher, name = model.split("/", 1)
            return f"publishers/{publisher}/models/{name}"
        return f"publishers/google/models/{model}"
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def _wire_content(content: dict[str, Any]) -> dict[str, Any]:
    """A `GeminiEmbedder._contents` entry in proto JSON: media bytes as base64."""
    parts: list[dict[str, Any]] = []
    for part in content["parts"]:
        if "inline_data" in part:
            blob = part["inline_data"]
            data = offload.b64encode(blob["data"])
            parts.append({"inlineData": {"mimeType": blob["mime_type"], "data": data}})
        elif "file_data" in part:
            ref = part["file_data"]
            parts.append({"fileData": {"mimeType": ref["mime_type"], "fileUri": ref["file_uri"]}})
        else:
            parts.append(part)
    return {"parts": parts}


def _vectors(payload: dict[str, Any], route: str) -> list[list[float]]:
    """The vectors of a response, in order: ``embeddings[].values`` (batchEmbedContents),
    ``predictions[].embeddings.values`` (predict), ``embedding.values`` (embedContent)."""
    if route == "predict":
        found = [(p or {}).get("embeddings") for p in payload.get("predictions") or []]
    elif route == "embedContent":
        found = [payload["embedding"]] if payload.get("embedding") else []
    else:
        found = list(payload.get("embeddings") or [])
    return [(e or {}).get("values") or [] for e in found]


def _duration(item: Media) -> float:
    from ..media.probe import media_duration_sec

    return media_duration_sec(item)


def _pages(item: Media) -> int:
    from ..media.probe import pdf_page_count

    return pdf_page_count(item)


_warned_missing: set[str] = set()


def _probe_or_none(probe: Any, item: Media) -> Any:
    """Run a local probe; without the decoder installed, leave that limit to the service."""
    if item.scheme == "gs":  # not readable here; the service checks it
        return None
    try:
        return probe(item)
    except MissingDependencyError as exc:
        if str(exc) not in _warned_missing:
            _warned_missing.add(str(exc))
            logger.warning("%s; the service will check this limit instead", exc)
        return None


def _png_part(item: Media) -> dict[str, Any]:
    from ..media.imaging import reencode

    return {"inline_data": {"data": reencode(item, "PNG"), "mime_type": "image/png"}}


def _with_audio_limit(spec: GeminiModelSpec, seconds: float | None) -> GeminiModelSpec:
    if seconds is None:
        return spec
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise InvalidParameterError(
            f"audio_limit_sec={seconds!r} must be a positive number of seconds (default "
            f"{spec.max_audio_seconds:g})"
        )
    return dataclasses.replace(spec, max_audio_seconds=float(seconds))
