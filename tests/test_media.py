"""Media: builders, MIME sniffing from content, lazy reads, hashing, clear errors."""

from __future__ import annotations

import base64
import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from omniembed import (
    EmptyInputError,
    InputError,
    Media,
    MediaNotFoundError,
    Modality,
    UnsupportedMediaError,
)
from omniembed.media.mime import sniff_mime


def _image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, format=fmt)
    return out.getvalue()


def _riff(kind: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 100) + kind + b"\x00" * 32


SIGNATURES = {
    "image/png": _image_bytes("PNG"),
    "image/jpeg": _image_bytes("JPEG"),
    "image/webp": _image_bytes("WEBP"),
    "image/gif": _image_bytes("GIF"),
    "image/bmp": _image_bytes("BMP"),
    "image/tiff": _image_bytes("TIFF"),
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "video/mp4": b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2mp41",
    "video/quicktime": b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ",
    "video/webm": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm",
    "video/x-matroska": b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\x82\x88matroska",
    "video/x-msvideo": _riff(b"AVI "),
    "audio/mpeg": b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 16,
    "audio/wav": _riff(b"WAVE"),
    "audio/flac": b"fLaC\x00\x00\x00\x22" + b"\x00" * 16,
    "audio/ogg": b"OggS\x00\x02" + b"\x00" * 30 + b"\x01vorbis",
}


@pytest.mark.parametrize(("mime", "data"), SIGNATURES.items(), ids=list(SIGNATURES))
def test_mime_is_sniffed_from_content(mime: str, data: bytes) -> None:
    assert sniff_mime(data) == mime
    assert Media.from_bytes(data).mime_type == mime


def test_content_beats_a_lying_extension(tmp_path: Path) -> None:
    path = tmp_path / "photo.pdf"  # really a PNG
    path.write_bytes(SIGNATURES["image/png"])
    media = Media.from_path(path)
    assert media.mime_type == "image/png"
    assert media.modality is Modality.IMAGE


@pytest.mark.parametrize(
    ("mime", "modality"),
    [
        ("image/png", Modality.IMAGE),
        ("video/mp4", Modality.VIDEO),
        ("audio/wav", Modality.AUDIO),
        ("application/pdf", Modality.DOCUMENT),
    ],
)
def test_modality(mime: str, modality: Modality) -> None:
    assert Media.from_bytes(SIGNATURES[mime]).modality is modality


def test_from_path_is_lazy_and_reads_on_demand(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(SIGNATURES["image/png"])
    media = Media.from_path(path)
    assert media.size == len(SIGNATURES["image/png"])
    path.write_bytes(SIGNATURES["image/jpeg"])  # content read only when asked for
    assert media.read_bytes() == SIGNATURES["image/jpeg"]


def test_missing_file_is_a_typed_error_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(MediaNotFoundError, match=r"nope\.png.*does not exist"):
        Media.from_path(tmp_path / "nope.png")
    with pytest.raises(MediaNotFoundError, match="directory"):
        Media.from_path(tmp_path)


def test_empty_file_and_bytes_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(EmptyInputError, match=r"empty\.png"):
        Media.from_path(tmp_path / "empty.png")
    with pytest.raises(EmptyInputError):
        Media.from_bytes(b"")


def test_unknown_content_needs_an_explicit_mime_type() -> None:
    media = Media.from_bytes(b"\x00\x01\x02 definitely not a known format")
    with pytest.raises(UnsupportedMediaError, match="mime_type="):
        _ = media.mime_type
    assert Media.from_bytes(b"\x00\x01", mime_type="image/png").mime_type == "image/png"


def test_uri_schemes(tmp_path: Path) -> None:
    png = SIGNATURES["image/png"]
    data_uri = "data:image/png;base64," + base64.b64encode(png).decode()
    assert Media.from_uri(data_uri).read_bytes() == png
    path = tmp_path / "x.png"
    path.write_bytes(png)
    assert Media.from_uri(path.as_uri()).read_bytes() == png
    gs = Media.from_uri("gs://bucket/clip.mp4")
    assert gs.is_remote and gs.scheme == "gs" and gs.mime_type == "video/mp4"
    assert Media.from_uri("https://example.com/a.jpg").mime_type == "image/jpeg"
    assert Media.from_uri("oss://bucket/a.png").scheme == "oss"
    with pytest.raises(UnsupportedMediaError, match="ftp"):
        Media.from_uri("ftp://host/file.png")
    with pytest.raises(UnsupportedMediaError, match="base64"):
        Media.from_uri("data:image/png;base64,@@@")


def test_gs_media_cannot_be_read_locally() -> None:
    with pytest.raises(UnsupportedMediaError, match="by reference"):
        Media.from_uri("gs://bucket/a.png").read_bytes()


def test_content_hash_follows_content_not_name(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(SIGNATURES["image/png"])
    b.write_bytes(SIGNATURES["image/png"])
    assert Media.from_path(a).content_hash() == Media.from_path(b).content_hash()
    assert Media.from_path(a).content_hash() != Media.from_bytes(b"\x89PNGxx").content_hash()


def test_input_errors_name_the_input() -> None:
    error = InputError("too big", source="a.png").at(3)
    assert str(error) == "input 3 (a.png): too big"
    assert error.index == 3
