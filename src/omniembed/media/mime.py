"""MIME type detection from content bytes (magic numbers), not file names."""

from __future__ import annotations

import mimetypes
from enum import Enum


class Modality(str, Enum):
    """The kind of content a MIME type carries."""

    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"


#: How many leading bytes `sniff_mime` needs to decide.
SNIFF_BYTES = 4096

_QUICKTIME_BRANDS = (b"qt  ",)
_AUDIO_MP4_BRANDS = (b"M4A ", b"M4B ", b"M4P ")


def sniff_mime(head: bytes) -> str | None:
    """Return the MIME type that the leading bytes of a file declare, or None if unknown."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"RIFF" and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP":
            return "image/webp"
        if kind == b"WAVE":
            return "audio/wav"
        if kind == b"AVI ":
            return "video/x-msvideo"
        return None
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        image = _still_image_type(head)
        if image is not None:
            return image
        if brand in _QUICKTIME_BRANDS:
            return "video/quicktime"
        if brand in _AUDIO_MP4_BRANDS:
            return "audio/mp4"
        return "video/mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"):
        return "video/quicktime"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"OggS"):
        return "video/ogg" if b"theora" in head[:128] else "audio/ogg"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    # BMP last: "BM" is a short, weak signature; check the header size field too.
    if head.startswith(b"BM") and len(head) >= 18 and head[14] in (12, 40, 52, 56, 64, 108, 124):
        return "image/bmp"
    return None


#: HEIF-family (ISO/IEC 23008-12) brands: still images in an ISO-BMFF box like MP4's.
_AVIF_BRANDS = (b"avif", b"avis")
_HEIC_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx")
_HEIF_BRANDS = (b"mif1", b"msf1", b"mif2")


def _still_image_type(head: bytes) -> str | None:
    """``image/avif`` / ``image/heic`` / ``image/heif`` for an ``ftyp`` box naming a HEIF
    brand (major, or compatible when the major brand is the generic ``mif1``/``msf1``)."""
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    compatible = [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    for brands in ((major,), compatible) if major in _HEIF_BRANDS else ((major,),):
        if any(b in _AVIF_BRANDS for b in brands):
            return "image/avif"
        if any(b in _HEIC_BRANDS for b in brands):
            return "image/heic"
    if major in _HEIF_BRANDS:
        return "image/heif"
    return None


def guess_mime_from_name(name: str) -> str | None:
    """MIME type from a file name's extension (used only where content can't be read)."""
    guessed, _ = mimetypes.guess_type(name, strict=False)
    return _ALIASES.get(guessed, guessed) if guessed else None


_ALIASES = {"audio/x-wav": "audio/wav", "audio/x-flac": "audio/flac", "image/x-ms-bmp": "image/bmp"}


def modality_of(mime_type: str) -> Modality | None:
    """The modality a MIME type belongs to, or None for types we do not embed."""
    major = mime_type.split("/", 1)[0]
    if mime_type == "application/pdf":
        return Modality.DOCUMENT
    if major == "text":
        return Modality.TEXT
    if major in ("image", "video", "audio"):
        return Modality(major)
    return None
