"""What the generation stand-in "sees" in a media part: a short note, its prompt tokens per
modality, and any text it carries (text files, PDF page text).

Facts come from decoding the bytes (`omniembed.media.probe`), so a test can check that an image,
PDF, video or audio really arrived, and that a video's offsets and fps were honoured. Audio
is described from the same spectrum descriptor its embedding comes from (`audio.describe`:
"a steady tone near 440 Hz", "broadband noise", "speech-like sound", "silence", ...); the
first two minutes of a longer recording are what gets described.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import OmniEmbedError
from ..media import Media
from ..media.probe import image_size, media_duration_sec
from .audio import describe, hear
from .audio import header as audio_header
from .colours import dominant_colour
from .contents import PDFIUM_LOCK
from .generate_request import Blob, Clip
from .generation_models import Profile
from .media_errors import MediaDecodeError
from .proto_json import Violation
from .vectors import clip_thumbnails, image_thumbnail

TOKENS_PER_IMAGE = 258
TOKENS_PER_PDF_PAGE = 258
TOKENS_PER_VIDEO_FRAME = 258
TOKENS_PER_AUDIO_SECOND = 32
DEFAULT_FPS = 1.0


@dataclass(frozen=True)
class Seen:
    note: str
    tokens: dict[str, int] = field(default_factory=dict)
    text: str = ""
    #: The dominant named colour of an image or video clip.
    colour: str | None = None
    #: The text part right before this media part in its turn (e.g. "Source [2]: a.png").
    label: str = ""
    #: What the stand-in "heard" in an audio part ("a steady tone near 440 Hz").
    heard: str | None = None


def see(blob: Blob, path: str, profile: Profile) -> Seen:
    """Decode ``blob`` enough to describe it; undecodable bytes are the service's 400.
    ``profile``: the model family, whose billing of PDFs and silent sound tracks differs."""
    mime = blob.mime_type
    if blob.data is None:  # an http(s) URL the emulator does not fetch
        tokens = {_modality(mime, profile): TOKENS_PER_IMAGE}
        if mime.startswith("video/"):
            # Assumed to have sound: every recorded answer about a YouTube video bills AUDIO
            # (test_google_model_youtube_video_url_input, ..._mobile_youtube_..., ..._with_
            # vendor_metadata, test_google_url_input[VideoUrl (YouTube)]), as does one about
            # an mp4 URL (test_multimodal_tool_return_matrix[direct-url-video-google_vertex]).
            # A silent video at a URL (test_google_url_input[VideoUrl], a webm) bills none:
            # the emulator, which never fetches, cannot tell.
            tokens["AUDIO"] = TOKENS_PER_AUDIO_SECOND
        return Seen(f"{mime} {blob.source} (not fetched)", tokens)
    try:
        if mime.startswith("text/") or mime in ("application/json", "application/rtf"):
            text = blob.data.decode("utf-8", errors="replace")
            return Seen(f"{mime} {len(blob.data)} bytes", {}, text)
        if mime.startswith("image/"):
            width, height = image_size(Media.from_bytes(blob.data, mime))
            colour = dominant_colour(image_thumbnail(blob.data))
            note = f"{mime} {width}x{height}, mostly {colour}"
            return Seen(note, {"IMAGE": TOKENS_PER_IMAGE}, colour=colour)
        if mime == "application/pdf":
            pages, text = _pdf(blob.data)
            plural = "s" if pages != 1 else ""
            tokens = {_modality(mime, profile): pages * TOKENS_PER_PDF_PAGE}
            return Seen(f"{mime} {pages} page{plural}", tokens, text)
        seconds = media_duration_sec(Media.from_bytes(blob.data, mime))
    except OmniEmbedError as exc:
        raise Violation(path, f"Unable to process input {mime} data ({exc})") from None
    except Exception as exc:  # pdfium raises its own errors on corrupt files
        raise Violation(path, f"Unable to process input {mime} data ({exc})") from None
    if mime.startswith("audio/"):
        try:
            heard = describe(hear(blob.data))
        except MediaDecodeError as exc:  # a header that opens over a stream that does not
            raise Violation(path, f"Unable to process input {mime} data ({exc})") from None
        tokens = {"AUDIO": math.ceil(seconds * TOKENS_PER_AUDIO_SECOND)}
        return Seen(f"{mime} {_secs(seconds)}, {heard}", tokens, heard=heard)
    return _video(mime, blob.data, seconds, blob.clip or Clip(), path, profile)


def _video(mime: str, data: bytes, seconds: float, clip: Clip, path: str, profile: Profile) -> Seen:
    start = clip.start or 0.0
    end = min(clip.end, seconds) if clip.end is not None else seconds
    if start >= seconds:
        raise Violation(
            path, f"start_offset {_secs(start)} is beyond the video's end ({_secs(seconds)})"
        )
    fps = clip.fps or DEFAULT_FPS
    frames = max(1, int((end - start) * fps))
    tokens = {"VIDEO": frames * TOKENS_PER_VIDEO_FRAME}
    audio = _video_audio_tokens(data, end - start, profile, path, mime)
    if audio is not None:
        tokens["AUDIO"] = audio
    try:
        colour = dominant_colour(np.concatenate(clip_thumbnails(data, start, end)))
    except MediaDecodeError as exc:  # e.g. an MP4 with only a sound track
        raise Violation(path, f"Unable to process input {mime} data ({exc})") from None
    note = f"{mime} {_secs(start)}-{_secs(end)} at {fps:g} fps, mostly {colour}"
    return Seen(note, tokens, colour=colour)


def _video_audio_tokens(
    data: bytes, seconds: float, profile: Profile, path: str, mime: str
) -> int | None:
    """The AUDIO tokens a video part bills (None: no AUDIO entry).

    A sound track is billed by the second on every model. A silent video differs by model
    family, as recorded for the same silent 1.3 s clip (pydantic-ai's
    test_google_model_video_as_binary_content_input and test_multimodal_tool_return_matrix
    [*-binary-video-*]): gemini-2.0 lists AUDIO with no tokenCount (0), gemini-2.5 bills
    AUDIO as if it had sound, gemini-3 lists no AUDIO at all."""
    try:
        _, sound = audio_header(data)
    except MediaDecodeError as exc:
        raise Violation(path, f"Unable to process input {mime} data ({exc})") from None
    if sound or profile == "2.5":
        return math.ceil(seconds * TOKENS_PER_AUDIO_SECOND)
    return 0 if profile == "2.0" else None


def _pdf(data: bytes) -> tuple[int, str]:
    import pypdfium2 as pdfium  # the media extra

    with PDFIUM_LOCK:  # pdfium is not thread-safe; handlers run in a thread pool
        document = pdfium.PdfDocument(data)
        try:
            texts = []
            for page in document:
                textpage = page.get_textpage()
                texts.append(textpage.get_text_range())
                textpage.close()
                page.close()
            return len(document), "\n".join(texts)
        finally:
            document.close()


def _modality(mime: str, profile: Profile) -> str:
    major = mime.split("/", 1)[0]
    if profile == "3" and mime == "application/pdf":
        # Gemini 3 bills PDF pages as images: every recorded gemini-3 answer about a PDF
        # lists IMAGE, none DOCUMENT (test_multimodal_tool_return_matrix[*-document-google_
        # gemini3] and [*-document-google_vertex]); 2.x models list DOCUMENT.
        return "IMAGE"
    return {"image": "IMAGE", "video": "VIDEO", "audio": "AUDIO"}.get(major, "DOCUMENT")


def _secs(seconds: float) -> str:
    return f"{round(seconds, 2):g}s"
