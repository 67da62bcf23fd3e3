"""Parsing and validating one ``Content`` (``{"parts": [...]}``) of an embedding request.

Checks what the real services check before embedding: part shapes, base64, the declared
MIME type against the sniffed bytes, the model's modalities, and media limits (images per
content, video and audio seconds, PDF pages). Media facts come from `omniembed.media.probe`
and the emulator's own `audio` decoder, i.e. from decoding the bytes, never from what the
client claims. Audio is decoded in full here (up to the limit), so corrupt or empty sound
is a 400 before anything is embedded, and the vector reuses the cached decoding.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ..errors import OmniEmbedError
from ..media import Media
from ..media.mime import Modality, guess_mime_from_name, sniff_mime
from ..media.probe import image_size, media_duration_sec, pdf_page_count
from .audio import header as audio_header
from .audio import hear
from .google_errors import invalid_argument
from .media_errors import MediaDecodeError
from .models import (
    MAX_AUDIO_SECONDS,
    MAX_IMAGES_PER_CONTENT,
    MAX_PDF_PAGES,
    MAX_VIDEO_SECONDS,
    MAX_VIDEO_WITH_SOUND_SECONDS,
    EmbeddingModel,
)
from .proto_json import Violation, as_list, as_str, join, read_fields

Backend = Literal["gemini", "vertex"]

#: MIME types gemini-embedding-2 embeds, by modality. Audio: MP3 and WAV only (DESIGN.md;
#: "MP3/WAV audio" in the launch summaries cited at `models.MAX_AUDIO_SECONDS`). Gemini
#: *generation* also takes AIFF, AAC, OGG Vorbis and FLAC
#: (https://ai.google.dev/gemini-api/docs/audio), but no public page lists those for
#: embeddings, so the emulator refuses them with the 400 it gives any unsupported type (an
#: assumption; the service's exact wording for it was not found).
SUPPORTED_MIME_TYPES: dict[str, Modality] = {
    "text/plain": Modality.TEXT,
    "image/png": Modality.IMAGE,
    "image/jpeg": Modality.IMAGE,
    "video/mp4": Modality.VIDEO,
    "video/quicktime": Modality.VIDEO,
    "audio/mpeg": Modality.AUDIO,
    "audio/wav": Modality.AUDIO,
    "application/pdf": Modality.DOCUMENT,
}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "video/mov": "video/quicktime",
    "audio/mp3": "audio/mpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
}
#: MP4 and MOV are both ISO-BMFF; the ``ftyp`` brand that tells them apart varies by encoder
#: (iPhones write MOV files with MP4 brands), so a mismatch between the two is not an error.
_SAME_CONTAINER = {"video/quicktime": "video/mp4"}

_PART_DATA_FIELDS = ("text", "inlineData", "fileData")
#: Part fields that exist in the proto but carry nothing embeddable.
_NON_EMBEDDABLE = (
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
)
_PART_FIELDS = (
    *_PART_DATA_FIELDS,
    *_NON_EMBEDDABLE,
    "videoMetadata",
    "mediaResolution",
    "thought",
    "thoughtSignature",
    "partMetadata",
)
_FILES_API_URI = re.compile(r"(^|/)files/[a-z0-9-]+$")

#: pdfium is not thread-safe; request handlers run in a thread pool, so every use of it in
#: the emulator holds this lock.
PDFIUM_LOCK = threading.Lock()


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class MediaPart:
    """Decoded inline bytes and the facts the limits need."""

    modality: Modality
    mime_type: str
    data: bytes
    seconds: float | None = None
    pages: int | None = None
    #: A video with a sound track (gemini-embedding-2 allows less video with sound).
    sound: bool = False


@dataclass(frozen=True)
class UriPart:
    """A ``fileData`` reference; the emulator cannot fetch it, so it embeds the URI itself."""

    modality: Modality
    mime_type: str
    uri: str


Part = TextPart | MediaPart | UriPart


def parse_content(
    value: object,
    path: str,
    model: EmbeddingModel,
    backend: Backend,
    *,
    enforce_limits: bool = True,
) -> list[Part]:
    """The parts of one ``Content`` at ``path``, validated for ``model`` on ``backend``."""
    fields = read_fields(value, path, ("parts", "role"))
    raw_parts = as_list(fields.get("parts", []), join(path, "parts"))
    parts = [
        _parse_part(raw, f"{join(path, 'parts')}[{i}]", model, backend)
        for i, raw in enumerate(raw_parts)
    ]
    if not parts:
        raise Violation(path, "content must have at least one part with text or data")
    if enforce_limits:
        _check_limits(parts, path)
    return parts


def _parse_part(value: object, path: str, model: EmbeddingModel, backend: Backend) -> Part:
    fields = read_fields(value, path, _PART_FIELDS)
    for name in _NON_EMBEDDABLE:
        if name in fields:
            raise Violation(path, f"a {name} part cannot be embedded; send text or media")
    present = [name for name in _PART_DATA_FIELDS if name in fields]
    if "text" in present and fields["text"] == "":
        present.remove("text")  # proto3: an empty string is "not set"
    if len(present) != 1:
        raise Violation(
            join(path, "data"),
            "required oneof field 'data' must have one initialized field"
            if not present
            else f"only one of text, inlineData, fileData may be set, got {present}",
        )
    kind = present[0]
    if kind == "text":
        return TextPart(as_str(fields["text"], join(path, "text")))
    if not model.multimodal:
        raise Violation(
            path,
            f"{model.id} embeds text only; {kind} parts need gemini-embedding-2",
        )
    if kind == "inlineData":
        return _parse_inline(fields["inlineData"], join(path, "inlineData"))
    return _parse_file_data(fields["fileData"], join(path, "fileData"), backend)


def _parse_inline(value: object, path: str) -> Part:
    fields = read_fields(value, path, ("mimeType", "data", "displayName"))
    if "mimeType" not in fields:
        raise Violation(join(path, "mimeType"), "mime_type is required for inline data")
    declared = _canonical(as_str(fields["mimeType"], join(path, "mimeType")))
    modality = _supported(declared, join(path, "mimeType"))
    data = decode_base64(as_str(fields.get("data", ""), join(path, "data")), join(path, "data"))
    if not data:
        raise Violation(join(path, "data"), "inline data is empty")
    if modality is Modality.TEXT:
        try:
            return TextPart(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise Violation(join(path, "data"), "text/plain data is not valid UTF-8") from None
    _check_sniffed(declared, data, path)
    return _probe(MediaPart(modality, declared, data), path)


def _parse_file_data(value: object, path: str, backend: Backend) -> Part:
    fields = read_fields(value, path, ("mimeType", "fileUri", "displayName"))
    uri = as_str(fields.get("fileUri", ""), join(path, "fileUri")).strip()
    if not uri:
        raise Violation(join(path, "fileUri"), "file_uri is required")
    if backend == "gemini":
        if uri.startswith("gs://"):
            raise Violation(
                join(path, "fileUri"),
                "gs:// URIs are supported only on Vertex AI; on the Gemini API upload the "
                "file with the Files API or send the bytes as inlineData",
            )
        if not _FILES_API_URI.search(uri):
            raise Violation(
                join(path, "fileUri"),
                f"unsupported file URI {uri!r}; use a Files API URI or inlineData",
            )
    elif not uri.startswith(("gs://", "http://", "https://")):
        raise Violation(join(path, "fileUri"), f"unsupported file URI {uri!r}; use gs://")
    raw_mime = fields.get("mimeType")
    declared = (
        _canonical(as_str(raw_mime, join(path, "mimeType")))
        if raw_mime
        else guess_mime_from_name(uri)
    )
    if not declared:
        raise Violation(join(path, "mimeType"), "mime_type is required for file data")
    modality = _supported(_canonical(declared), join(path, "mimeType"))
    return UriPart(modality, _canonical(declared), uri)


def decode_base64(text: str, path: str) -> bytes:
    """Proto-JSON bytes: standard or URL-safe alphabet, padding optional."""
    normalized = text.replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    try:
        return base64.b64decode(normalized, validate=True)
    except (binascii.Error, ValueError):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise invalid_argument(
            f"Invalid value at '{path}' (TYPE_BYTES), Base64 decoding failed for \"{shown}\""
        ) from None


def _canonical(mime_type: str) -> str:
    base = mime_type.split(";", 1)[0].strip().lower()
    return _ALIASES.get(base, base)


def _supported(mime_type: str, path: str) -> Modality:
    modality = SUPPORTED_MIME_TYPES.get(mime_type)
    if modality is None:
        allowed = ", ".join(SUPPORTED_MIME_TYPES)
        raise Violation(path, f"unsupported MIME type {mime_type}; supported: {allowed}")
    return modality


def _check_sniffed(declared: str, data: bytes, path: str) -> None:
    sniffed = sniff_mime(data[:4096])
    if sniffed is None:
        raise Violation(
            join(path, "data"), f"the bytes are not a {declared} file (unrecognized content)"
        )
    sniffed = _canonical(sniffed)
    if _SAME_CONTAINER.get(sniffed, sniffed) != _SAME_CONTAINER.get(declared, declared):
        raise Violation(
            join(path, "mimeType"),
            f"declared {declared} but the bytes are {sniffed}; send the matching mime_type",
        )


def _probe(part: MediaPart, path: str) -> MediaPart:
    """Decode enough of the media to know its size, duration or pages."""
    media = Media.from_bytes(part.data, part.mime_type)
    try:
        if part.modality is Modality.IMAGE:
            image_size(media)
            return part
        if part.modality is Modality.DOCUMENT:
            with PDFIUM_LOCK:
                pages = pdf_page_count(media)
            return MediaPart(part.modality, part.mime_type, part.data, pages=pages)
        if part.modality is Modality.AUDIO:
            return _probe_audio(part, join(path, "data"))
        seconds = media_duration_sec(media)
        _, sound = audio_header(part.data)
    except (OmniEmbedError, MediaDecodeError) as exc:
        raise Violation(
            join(path, "data"), f"the {part.mime_type} data cannot be decoded ({exc})"
        ) from None
    return MediaPart(part.modality, part.mime_type, part.data, seconds=seconds, sound=sound)


def _probe_audio(part: MediaPart, where: str) -> MediaPart:
    """Audio's length from its header, and its sound decoded (cached for the vector): bytes
    that do not decode, or decode to nothing, are refused here. Audio whose header already
    says it is over the limit is not decoded (the limit check refuses it)."""
    try:
        declared, _ = audio_header(part.data)
        if declared is not None and declared > MAX_AUDIO_SECONDS:
            return MediaPart(part.modality, part.mime_type, part.data, seconds=declared)
        heard = hear(part.data)
    except MediaDecodeError as exc:
        raise Violation(
            where, f"the {part.mime_type} data cannot be decoded as audio ({exc})"
        ) from None
    if heard.seconds == 0:
        raise Violation(
            where,
            f"the {part.mime_type} data is empty: it decodes to 0 s of audio; "
            "send at least a fraction of a second of sound",
        )
    seconds = declared or heard.seconds
    return MediaPart(part.modality, part.mime_type, part.data, seconds=seconds)


def _check_limits(parts: list[Part], path: str) -> None:
    images = sum(1 for p in parts if not isinstance(p, TextPart) and p.modality is Modality.IMAGE)
    if images > MAX_IMAGES_PER_CONTENT:
        raise Violation(
            join(path, "parts"),
            f"{images} images in one content; at most {MAX_IMAGES_PER_CONTENT} are allowed",
        )
    for i, part in enumerate(parts):
        if not isinstance(part, MediaPart):
            continue
        where = f"{join(path, 'parts')}[{i}]"
        if (
            part.modality is Modality.VIDEO
            and part.seconds is not None
            and part.seconds > MAX_VIDEO_SECONDS
        ):
            raise Violation(
                where,
                f"the video is {part.seconds:.1f} s long; at most {MAX_VIDEO_SECONDS:.0f} s "
                "can be embedded (cut it into segments)",
            )
        if (
            part.modality is Modality.VIDEO
            and part.sound
            and part.seconds is not None
            and part.seconds > MAX_VIDEO_WITH_SOUND_SECONDS
        ):
            raise Violation(
                where,
                f"the video has a sound track and is {part.seconds:.1f} s long; at most "
                f"{MAX_VIDEO_WITH_SOUND_SECONDS:.0f} s of video with sound can be embedded "
                f"({MAX_VIDEO_SECONDS:.0f} s without; cut it into segments or drop the sound)",
            )
        if (
            part.modality is Modality.AUDIO
            and part.seconds is not None
            and part.seconds > MAX_AUDIO_SECONDS
        ):
            raise Violation(
                where,
                f"the audio is {part.seconds:.1f} s long; at most {MAX_AUDIO_SECONDS:.0f} s "
                "can be embedded (cut it into segments)",
            )
        if part.pages is not None and part.pages > MAX_PDF_PAGES:
            raise Violation(
                where,
                f"the PDF has {part.pages} pages; at most {MAX_PDF_PAGES} can be embedded",
            )


def content_text(parts: Sequence[Part]) -> str:
    """All text parts of a content, joined by newlines."""
    return "\n".join(p.text for p in parts if isinstance(p, TextPart))
