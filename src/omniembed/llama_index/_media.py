"""Turning what LlamaIndex hands an embedding (paths, URLs, BytesIO) into `Media`."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any, TypeAlias

from ..errors import InputError
from ..media import Media

#: What the media methods accept: LlamaIndex's ``ImageType`` (a path/URL string or a
#: ``BytesIO``) plus everything `Media.coerce` takes.
MediaLike: TypeAlias = "Media | str | os.PathLike[str] | bytes | bytearray | io.IOBase"


def to_media(value: Any, index: int | None = None) -> Media:
    """One `Media` from a path, URI, bytes, a binary file object or a `Media`."""
    try:
        if isinstance(value, Media):
            return value
        if isinstance(value, io.BytesIO):
            # ImageNode.resolve_image() returns a BytesIO (base64 images, downloaded URLs).
            return Media.from_bytes(value.getvalue())
        if isinstance(value, io.IOBase):
            data = value.read()
            if isinstance(data, str):
                raise InputError("got a text-mode file; open media files in binary mode ('rb')")
            return Media.from_bytes(data)
        if isinstance(value, (str, os.PathLike, bytes, bytearray)):
            return Media.coerce(value)
    except InputError as exc:
        raise (exc.at(index) if index is not None else exc) from None
    raise InputError(
        f"cannot read a {type(value).__name__} as media; pass a path, URL, bytes, BytesIO "
        "or a Media",
        index=index,
    )


def to_media_list(values: Sequence[Any]) -> list[Media]:
    return [to_media(value, i) for i, value in enumerate(values)]


def label(value: Any) -> str:
    """A short, secret-free description of a media input for instrumentation payloads."""
    if isinstance(value, Media):
        return value.source
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        return text if not text.startswith("data:") else text[:40] + "…"
    if isinstance(value, io.BytesIO):
        return f"<{len(value.getbuffer())} bytes>"
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return f"<{type(value).__name__}>"
