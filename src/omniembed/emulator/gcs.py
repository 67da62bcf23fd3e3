"""A minimal Cloud Storage JSON API for objects tests put in ``Emulator.gcs_objects``.

``GET /storage/v1/b/{bucket}/o/{object}`` answers the object's metadata, and with
``?alt=media`` its bytes, honouring a ``Range: bytes=a-b`` header (206). Clients use it to
read a video's header (its duration) without downloading the whole object.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiohttp import web

from .google_errors import JSON_CONTENT_TYPE, GoogleError, not_found
from .jsonio import dumps

_RANGE = re.compile(r"bytes=(\d+)-(\d*)$")


def gcs_response(
    objects: Mapping[str, bytes],
    resource: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
) -> web.Response:
    bucket, _, name = resource.partition("/")
    data = objects.get(f"gs://{bucket}/{name}")
    if data is None:
        raise not_found(f"No such object: {bucket}/{name}")
    if query.get("alt") != "media":
        meta = {"kind": "storage#object", "bucket": bucket, "name": name, "size": str(len(data))}
        return web.Response(body=dumps(meta), headers={"Content-Type": JSON_CONTENT_TYPE})
    match = _RANGE.match(headers.get("range", "").strip())
    if match is None:
        return web.Response(body=data, headers={"Content-Type": "application/octet-stream"})
    start = int(match.group(1))
    end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
    if start >= len(data):
        raise GoogleError(416, "The requested range cannot be satisfied.", status="OUT_OF_RANGE")
    return web.Response(
        status=206,
        body=data[start : end + 1],
        headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": f"bytes {start}-{end}/{len(data)}",
        },
    )
