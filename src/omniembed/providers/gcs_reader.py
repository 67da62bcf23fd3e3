"""Reading a Cloud Storage object by byte ranges, as a seekable file.

PyAV reads only what it needs from a file-like object (an MP4's header and index), so a
video's duration can be learned from a ``gs://`` object without downloading it.
"""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Callable

import httpx

from .google_errors import google_error


class GcsRangeReader(io.RawIOBase):
    """A read-only, seekable view of ``gs://bucket/object`` over the JSON API."""

    def __init__(
        self,
        uri: str,
        token: Callable[[], str],
        client: httpx.Client,
        base_url: str = "https://storage.googleapis.com",
    ):
        parsed = urllib.parse.urlsplit(uri)
        name = urllib.parse.quote(parsed.path.lstrip("/"), safe="")
        self._url = f"{base_url.rstrip('/')}/storage/v1/b/{parsed.netloc}/o/{name}"
        self._token = token
        self._client = client
        self._position = 0
        meta = self._get(self._url)
        self.size = int(meta.json()["size"])

    def _get(self, url: str, **headers: str) -> httpx.Response:
        response = self._client.get(
            url, headers={"Authorization": f"Bearer {self._token()}", **headers}
        )
        if response.status_code not in (200, 206):
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise google_error(response.status_code, body, response.headers, "gcs")
        return response

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._position >= self.size or len(buffer) == 0:
            return 0
        end = min(self._position + len(buffer), self.size) - 1
        data = self._get(self._url + "?alt=media", Range=f"bytes={self._position}-{end}").content
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
