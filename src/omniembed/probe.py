"""Local facts about media (pixel size, PDF pages, duration), read with Pillow/pypdfium2/PyAV.

Providers use these to check a model's limits before sending anything. The decoders are
optional (the ``media`` extra); a missing one raises `MissingDependencyError` naming it.
"""

from __future__ import annotations

import io
from importlib import import_module
from types import ModuleType

from .errors import MissingDependencyError, UnsupportedMediaError
from .media import Media


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
    try:
        with pil.open(io.BytesIO(media.read_bytes())) as image:
            return int(image.width), int(image.height)
    except (OSError, SyntaxError, ValueError) as exc:
        raise UnsupportedMediaError(
            f"the image cannot be decoded ({exc}); is the file corrupt?", source=media.source
        ) from exc


def pdf_page_count(media: Media) -> int:
    """Number of pages of a PDF."""
    pdfium = require("pypdfium2", purpose="count PDF pages")
    try:
        document = pdfium.PdfDocument(media.read_bytes())
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
    raise UnsupportedMediaError("the media does not declare a duration", source=media.source)
