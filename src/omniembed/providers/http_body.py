"""Request bodies that aiohttp sends in pieces, so a large one never holds the event loop.

aiohttp writes a plain ``bytes`` body to the socket in one call (over 1 MiB it warns:
"Sending a large body directly with raw bytes might lock the event loop"), and inline
images make bodies of up to 18 MB. A `StreamedBody` is ``bytes`` to everything else (the
SDKs pass it on as it is; httpx sends it as it is) and is registered with aiohttp to be
written in 64 KB pieces, the loop running between them.
"""

from __future__ import annotations

import io
from typing import Any


class StreamedBody(bytes):
    """``bytes`` that aiohttp streams (see the module)."""

    stream: io.BytesIO

    @classmethod
    def of(cls, data: bytes) -> StreamedBody:
        body = cls(data)  # a copy: call it off the loop
        body.stream = io.BytesIO(data)  # shares ``data`` (an exact bytes object)
        return body


def _register() -> None:
    try:
        from aiohttp import payload
    except ImportError:  # google-genai then sends with httpx
        return

    class Streamed(payload.BytesIOPayload):
        def __init__(self, value: StreamedBody, *args: Any, **kwargs: Any) -> None:
            super().__init__(value.stream, *args, **kwargs)

    payload.PAYLOAD_REGISTRY.register(Streamed, StreamedBody)


_register()
