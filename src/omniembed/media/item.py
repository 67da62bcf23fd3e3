"""`Media`: one input file or blob, read lazily, typed by its content bytes."""

from __future__ import annotations

import base64
import hashlib
import os
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeAlias

from ..errors import EmptyInputError, MediaNotFoundError, UnsupportedMediaError
from .mime import SNIFF_BYTES, Modality, guess_mime_from_name, modality_of, sniff_mime

__all__ = ["EmbedInput", "Media", "Modality"]

_REMOTE_SCHEMES = ("http", "https", "gs", "oss")
_CHUNK = 1 << 20


class Media:
    """An image, video, audio clip or document to embed.

    Build one with `from_path`, `from_bytes` or `from_uri`. Local files are checked for
    existence at construction and read only when needed; the MIME type comes from the
    content's magic bytes (an explicit ``mime_type`` wins). Remote URIs (``gs://``,
    ``http(s)://``, ``oss://``) are passed to providers that accept them by reference.
    """

    __slots__ = ("_data", "_declared", "_head", "_mime", "_path", "_size", "_uri")

    def __init__(
        self,
        *,
        data: bytes | None = None,
        path: Path | None = None,
        uri: str | None = None,
        mime_type: str | None = None,
    ):
        if sum(x is not None for x in (data, path, uri)) != 1:
            raise ValueError("give exactly one of data, path or uri (use the from_* builders)")
        self._data = data
        self._path = path
        self._uri = uri
        self._mime = mime_type.lower() if mime_type else None
        #: An explicit image type not yet compared with the content's magic bytes.
        self._declared = bool(self._mime and self._mime.startswith("image/") and uri is None)
        self._size: int | None = len(data) if data is not None else None
        self._head: bytes | None = None

    # --- builders --------------------------------------------------------------------

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], mime_type: str | None = None) -> Media:
        """A local file. Raises `MediaNotFoundError` now if it is missing or unreadable."""
        p = Path(path).expanduser()
        if not p.is_file():
            if p.is_dir():
                why = "is a directory, not a file"
            elif p.exists():  # a FIFO, socket or device: reading it could block or never end
                why = "is not a regular file (a pipe, socket or device)"
            else:
                why = "does not exist"
            raise MediaNotFoundError(f"{why}; pass the path of an existing file", source=str(p))
        if not os.access(p, os.R_OK):
            raise MediaNotFoundError("is not readable (check its permissions)", source=str(p))
        media = cls(path=p, mime_type=mime_type)
        media._size = p.stat().st_size
        if media._size == 0:
            raise EmptyInputError("the file is empty", source=str(p))
        return media

    @classmethod
    def from_bytes(cls, data: bytes, mime_type: str | None = None) -> Media:
        """In-memory content; the MIME type is sniffed from the bytes unless given."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"from_bytes needs bytes, got {type(data).__name__}")
        if len(data) == 0:
            raise EmptyInputError("Media.from_bytes got no bytes")
        return cls(data=bytes(data), mime_type=mime_type)

    @classmethod
    def from_uri(cls, uri: str, mime_type: str | None = None) -> Media:
        """``http(s)://``, ``gs://``, ``oss://`` (by reference), ``data:`` or ``file://``."""
        scheme = urllib.parse.urlsplit(uri).scheme.lower()
        if scheme == "file":
            parsed = urllib.parse.urlsplit(uri)
            return cls.from_path(urllib.parse.unquote(parsed.path), mime_type)
        if scheme == "data":
            declared, data = _decode_data_uri(uri)
            return cls.from_bytes(data, mime_type or declared)
        if scheme in _REMOTE_SCHEMES:
            return cls(uri=uri, mime_type=mime_type)
        if not scheme or len(scheme) == 1:  # a bare path (or a Windows drive letter)
            return cls.from_path(uri, mime_type)
        raise UnsupportedMediaError(
            f"unsupported URI scheme {scheme!r}; use a path, file://, data:, http(s)://, gs:// "
            "or oss://",
            source=uri,
        )

    @classmethod
    def coerce(cls, value: Media | str | os.PathLike[Any] | bytes | bytearray) -> Media:
        """A `Media` from a Media, path, URI or bytes (for adapters taking loose input)."""
        if isinstance(value, Media):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return cls.from_bytes(bytes(value))
        if isinstance(value, os.PathLike):
            return cls.from_path(value)
        return cls.from_uri(str(value))

    # --- what it is --------------------------------------------------------------------

    @property
    def source(self) -> str:
        """A human-readable origin: the path, the URI, or ``<N bytes>``."""
        if self._path is not None:
            return str(self._path)
        if self._uri is not None:
            return self._uri
        return f"<{self._size} bytes>"

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def uri(self) -> str | None:
        """The remote URI for media passed by reference, else None."""
        return self._uri

    @property
    def scheme(self) -> str | None:
        """``gs``, ``http``, ``https`` or ``oss`` for remote media, else None."""
        return urllib.parse.urlsplit(self._uri).scheme.lower() if self._uri else None

    @property
    def is_remote(self) -> bool:
        return self._uri is not None

    @property
    def size(self) -> int | None:
        """Size in bytes (None for remote media not yet fetched)."""
        return self._size

    @property
    def mime_type(self) -> str:
        """The MIME type: explicit, else sniffed from content, else from the name."""
        if self._mime is None:
            self._mime = self._detect_mime()
        elif self._declared:
            # A declared image type loses to the content's own (PNG bytes declared
            # image/jpeg are PNG): services refuse bytes that contradict their type.
            self._declared = False
            sniffed = sniff_mime(self.head())
            if sniffed and sniffed.startswith("image/") and sniffed != self._mime:
                self._mime = sniffed
        return self._mime

    @property
    def modality(self) -> Modality:
        modality = modality_of(self.mime_type)
        if modality is None:
            raise UnsupportedMediaError(
                f"MIME type {self.mime_type} is not an image, video, audio or document type",
                source=self.source,
            )
        return modality

    def _detect_mime(self) -> str:
        if self._uri is None:
            sniffed = sniff_mime(self.head())
            if sniffed:
                return sniffed
            if self._path is not None:
                guessed = guess_mime_from_name(self._path.name)
                if guessed and guessed.startswith("text/"):
                    return guessed
        else:
            guessed = guess_mime_from_name(urllib.parse.urlsplit(self._uri).path)
            if guessed:
                return guessed
        raise UnsupportedMediaError(
            "cannot tell the media type from its content"
            + ("" if self._uri is None else " or name")
            + "; pass mime_type= (e.g. 'image/png', 'video/mp4', 'application/pdf')",
            source=self.source,
        )

    # --- reading ------------------------------------------------------------------------

    def head(self, n: int = SNIFF_BYTES) -> bytes:
        """The first ``n`` bytes (at most), without reading the rest."""
        if self._data is not None:
            return self._data[:n]
        if self._path is not None:
            if self._head is None or len(self._head) < n:
                with self._open() as f:
                    self._head = f.read(max(n, SNIFF_BYTES))
            return self._head[:n]
        return self.read_bytes()[:n]

    def read_bytes(self) -> bytes:
        """The whole content. Remote http(s) media are downloaded; gs:// and oss:// cannot be."""
        if self._data is not None:
            return self._data
        if self._path is not None:
            with self._open() as f:
                return f.read()
        assert self._uri is not None
        if self.scheme in ("http", "https"):
            return self._download()
        raise UnsupportedMediaError(
            f"{self.scheme}:// media cannot be read locally; it is sent by reference to "
            "providers that accept it (Vertex AI for gs://, DashScope for oss://)",
            source=self._uri,
        )

    def _open(self) -> BinaryIO:
        assert self._path is not None
        try:
            return self._path.open("rb")
        except OSError as exc:
            raise MediaNotFoundError(
                f"cannot be read ({exc.strerror or exc}); check the path and permissions",
                source=str(self._path),
            ) from exc

    def _download(self) -> bytes:
        import httpx

        assert self._uri is not None
        try:
            response = httpx.get(self._uri, follow_redirects=True, timeout=60.0)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise MediaNotFoundError(
                f"download failed ({exc}); check the URL, or pass a local file", source=self._uri
            ) from exc
        data = response.content
        if not data:
            raise EmptyInputError("the download was empty", source=self._uri)
        # Keep the body: validation, hashing and sending each read it.
        self._data = data
        self._size = len(data)
        if self._mime is None:
            self._mime = (
                sniff_mime(data[:SNIFF_BYTES])
                or response.headers.get("content-type", "").split(";")[0]
                or None
            )
        return data

    def content_hash(self) -> str:
        """SHA-256 of the content (of the URI for remote media), for cache keys."""
        digest = hashlib.sha256()
        if self._data is not None:
            digest.update(self._data)
        elif self._path is not None:
            with self._open() as f:
                for chunk in iter(lambda: f.read(_CHUNK), b""):
                    digest.update(chunk)
        else:
            assert self._uri is not None
            digest.update(b"uri:" + self._uri.encode())
        return digest.hexdigest()

    def to_base64(self) -> str:
        return base64.b64encode(self.read_bytes()).decode("ascii")

    def to_data_uri(self) -> str:
        return f"data:{self.mime_type};base64,{self.to_base64()}"

    def __repr__(self) -> str:
        mime = self._mime or "?"
        return f"Media({self.source!r}, mime_type={mime!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Media):
            return NotImplemented
        return (self._data, self._path, self._uri, self._mime) == (
            other._data,
            other._path,
            other._uri,
            other._mime,
        )

    def __hash__(self) -> int:
        return hash((self._path, self._uri, self._mime, self._size))


#: One thing to embed: text, a media item, or an interleaved list of them that the model
#: fuses into one input (where it supports that).
EmbedInput: TypeAlias = "str | Media | Sequence[str | Media]"


def _decode_data_uri(uri: str) -> tuple[str | None, bytes]:
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        raise UnsupportedMediaError("malformed data: URI (no comma)", source=uri[:40] + "…")
    params = header.split(";")
    mime = params[0] or None
    if "base64" in params[1:]:
        try:
            return mime, base64.b64decode(payload, validate=True)
        except ValueError as exc:
            raise UnsupportedMediaError(
                "data: URI has invalid base64 content", source=uri[:40] + "…"
            ) from exc
    return mime, urllib.parse.unquote_to_bytes(payload)
