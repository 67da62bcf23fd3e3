"""Local facts about media (pixel size, PDF pages, duration), read with Pillow/pypdfium2/PyAV.

Providers use these to check a model's limits before sending anything. The decoders are
optional (the ``media`` extra); a missing one raises `MissingDependencyError` naming it.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from importlib import import_module
from types import ModuleType
from typing import BinaryIO, TypeVar

from ..errors import (
    MediaLimitError,
    MediaNotFoundError,
    MissingDependencyError,
    UnsupportedMediaError,
)
from .item import Media

logger = logging.getLogger("omniembed.probe")  # its name before the move into media/

T = TypeVar("T")

#: Image types Pillow reads without plugins. For these a header Pillow cannot parse means a
#: corrupt file; other types (HEIC, ...) are left to the service rather than rejected here.
DECODABLE_IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff"}
)


def require(module: str, extra: str = "media", purpose: str = "") -> ModuleType:
    """Import an optional dependency, or explain which extra installs it."""
    try:
        return import_module(module)
    except ImportError as exc:
        why = f" to {purpose}" if purpose else ""
        raise MissingDependencyError(
            f"{module} is needed{why}; install it with: pip install 'omniembed[{extra}]'"
        ) from exc


def image_size(media: Media) -> tuple[int, int]:
    """(width, height) in pixels, reading only the image header."""
    pil = require("PIL.Image", purpose="read image sizes")
    stream = _stream(media)
    try:
        with pil.open(stream) as image:
            return int(image.width), int(image.height)
    except pil.DecompressionBombError as exc:
        raise pixel_limit_error(pil, exc, media) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedMediaError(
            f"the image cannot be decoded ({exc}); is the file corrupt?", source=media.source
        ) from exc
    finally:
        stream.close()


def pixel_limit_error(pil: ModuleType, exc: Exception, media: Media) -> MediaLimitError:
    """A typed error for Pillow's `DecompressionBombError` (a header that claims more
    pixels than it is safe to decode: twice ``PIL.Image.MAX_IMAGE_PIXELS``)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    pixels = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
    limit = 2 * int(pil.MAX_IMAGE_PIXELS or 0)
    return MediaLimitError(
        f"the image claims {pixels}, over the {limit:,}-pixel limit of what is safe to "
        "decode (a decompression bomb, or a huge scan); downscale it before embedding",
        source=media.source,
    )


def decodable_image(mime_type: str) -> bool:
    """Whether Pillow reads this image type here (AVIF only where Pillow has libavif)."""
    if mime_type in DECODABLE_IMAGE_TYPES:
        return True
    if mime_type == "image/avif":
        try:
            from PIL import features
        except ImportError:
            return False
        return bool(features.check("avif"))
    return False


def check_image(media: Media) -> bool:
    """Parse a local image's header, so a corrupt file is rejected before any request
    (`UnsupportedMediaError`) instead of being uploaded for the service to refuse. A PNG or
    JPEG that does not end with its end marker (IEND / EOI) is decoded in full, so a
    truncated file fails here too (complete files pay only for reading their last bytes).

    Returns False when the image cannot be checked here (remote, a type Pillow does not
    read, or Pillow not installed) and the service has to judge it.
    """
    if media.is_remote or not decodable_image(media.mime_type):
        return False
    if probe_or_none(image_size, media) is None:
        return False
    marker = _END_MARKERS.get(media.mime_type)
    if marker is not None and marker not in _tail(media, 64):
        # Trailing data after the marker is legal (e.g. a Motion Photo's appended MP4), so
        # a missing marker at the end only means "decode to be sure".
        _decode_fully(media)
    return True


#: The last bytes of a complete PNG (the IEND chunk with its CRC) / JPEG (EOI).
_END_MARKERS = {"image/png": b"IEND\xaeB`\x82", "image/jpeg": b"\xff\xd9"}


def _tail(media: Media, n: int) -> bytes:
    if media.path is None:
        return media.read_bytes()[-n:]
    stream = _stream(media)
    try:
        size = stream.seek(0, io.SEEK_END)
        stream.seek(max(0, size - n))
        return stream.read(n)
    finally:
        stream.close()


def _decode_fully(media: Media) -> None:
    pil = require("PIL.Image", purpose="check images")
    stream = _stream(media)
    try:
        with pil.open(stream) as image:
            image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedMediaError(
            f"the image is truncated or corrupt ({exc}); is the file complete? Re-export or "
            "re-download it",
            source=media.source,
        ) from exc
    finally:
        stream.close()


def probe_or_none(probe: Callable[[Media], T], media: Media) -> T | None:
    """Run a local probe; None when its decoder is not installed (the ``media`` extra), so
    the limit is left to the service instead (a warning says so, once per message)."""
    try:
        return probe(media)
    except MissingDependencyError as exc:
        if str(exc) not in _warned_missing:
            _warned_missing.add(str(exc))
            logger.warning("%s; the service will check this instead", exc)
        return None


_warned_missing: set[str] = set()


def _stream(media: Media) -> BinaryIO:
    """The content as a file object: local files are opened (decoders read only what they
    need, e.g. an image header), in-memory and downloaded content is wrapped."""
    if media.path is None:
        return io.BytesIO(media.read_bytes())
    try:
        return media.path.open("rb")
    except OSError as exc:
        raise MediaNotFoundError(
            f"cannot be read ({exc.strerror or exc}); check the path and permissions",
            source=str(media.path),
        ) from exc


def pdf_page_count(media: Media) -> int:
    """Number of pages of a PDF."""
    pdfium = require("pypdfium2", purpose="count PDF pages")
    try:
        document = pdfium.PdfDocument(
            str(media.path) if media.path is not None else media.read_bytes()
        )
    except Exception as exc:  # pypdfium2 raises PdfiumError (a RuntimeError) or OSError
        raise UnsupportedMediaError(
            f"the PDF cannot be opened ({exc}); is the file corrupt or encrypted?",
            source=media.source,
        ) from exc
    try:
        return len(document)
    finally:
        document.close()


def media_duration_sec(media: Media) -> float:
    """Duration of a video or audio file in seconds."""
    seconds = _container_duration(media)
    if seconds is None:
        raise UnsupportedMediaError("the media does not declare a duration", source=media.source)
    return seconds


def video_duration_sec(media: Media) -> float:
    """Duration of a video's picture: its video track's, where declared (a sound track
    may run a little longer, e.g. AAC's padding), else the container's."""
    av = require("av", purpose="read video durations")
    source: object = str(media.path) if media.path is not None else io.BytesIO(media.read_bytes())
    try:
        with av.open(source) as container:
            for stream in container.streams.video[:1]:
                if stream.duration is not None and stream.time_base is not None:
                    return float(stream.duration * stream.time_base)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UnsupportedMediaError(
            f"the media cannot be decoded ({exc}); is the file corrupt?", source=media.source
        ) from exc
    return media_duration_sec(media)


def tracks(media: Media) -> tuple[bool, bool]:
    """(has a video track, has a sound track) of a local container, from its header."""
    av = require("av", purpose="read video tracks")
    source: object = str(media.path) if media.path is not None else io.BytesIO(media.read_bytes())
    try:
        with av.open(source) as container:
            return bool(container.streams.video), bool(container.streams.audio)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UnsupportedMediaError(
            f"the media cannot be decoded ({exc}); is the file corrupt?", source=media.source
        ) from exc


def require_video_track(media: Media, model: str, sound_hint: str) -> None:
    """Raise `UnsupportedMediaError` for a local "video" with no picture (e.g. an MP4
    holding only sound, which sniffs as video/mp4). ``sound_hint`` says what to do with
    sound on this model. Nothing is checked without PyAV or for remote media."""
    if media.is_remote:
        return
    found = probe_or_none(tracks, media)
    if found is None or found[0]:
        return
    what = "only sound" if found[1] else "no tracks"
    raise UnsupportedMediaError(
        f"the file has no video track ({what}), so {model} cannot embed it as video; " + sound_hint,
        source=media.source,
    )


def has_audio_track(media: Media) -> bool:
    """Whether a local video file carries a sound track (read from its header)."""
    av = require("av", purpose="read video tracks")
    source: object = str(media.path) if media.path is not None else io.BytesIO(media.read_bytes())
    try:
        with av.open(source) as container:
            return bool(container.streams.audio)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UnsupportedMediaError(
            f"the media cannot be decoded ({exc}); is the file corrupt?", source=media.source
        ) from exc


def check_container(media: Media) -> bool:
    """Open a local video/audio container (its header, not the frames), so a corrupt file
    is rejected (`UnsupportedMediaError`) before it is uploaded for the service to refuse.
    A container that declares no duration (a live WebM recording) is fine here.

    Returns False when it cannot be checked here (remote, or PyAV not installed).
    """
    if media.is_remote:
        return False
    return probe_or_none(_opens, media) is not None


def _opens(media: Media) -> bool:
    _container_duration(media)
    return True


def _container_duration(media: Media) -> float | None:
    av = require("av", purpose="read video/audio durations")
    source: object = str(media.path) if media.path is not None else io.BytesIO(media.read_bytes())
    try:
        with av.open(source) as container:
            if container.duration is not None:
                return float(container.duration) / 1_000_000  # AV_TIME_BASE
            for stream in container.streams:
                if stream.duration is not None and stream.time_base is not None:
                    return float(stream.duration * stream.time_base)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UnsupportedMediaError(
            f"the media cannot be decoded ({exc}); is the file corrupt?", source=media.source
        ) from exc
    return None
