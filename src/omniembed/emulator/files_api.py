"""The Gemini API's Files API: resumable upload, get, list and delete, kept in memory.

Upload speaks google-genai's protocol: ``POST /upload/{v1beta,v1}/files`` with
``X-Goog-Upload-Protocol: resumable`` and ``X-Goog-Upload-Command: start`` (the file's size
and type in ``X-Goog-Upload-Header-Content-Length``/``-Type``, ``{"file": {...}}`` in the
body) answers an ``X-Goog-Upload-URL``; then ``upload`` commands (8 MB chunks) and a last
``upload, finalize`` send the bytes at ``X-Goog-Upload-Offset``. The upload URL carries the
session, so chunk requests need no API key: the session id (``secrets``, 240 bits) is the
credential, as Google documents for its resumable uploads
(cloud.google.com/storage/docs/resumable-uploads).

Videos and audio are ``PROCESSING`` for ``file_processing_sec`` after the upload, then
``ACTIVE``; other files are ``ACTIVE`` at once. ``generateContent`` reads the bytes of
ACTIVE files through `FileStore.resolve`.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import OmniEmbedError
from ..media import Media
from ..media.probe import media_duration_sec
from .generate_request import Blob
from .google_errors import GoogleError, invalid_argument, not_found
from .jsonio import dumps
from .proto_json import Violation, as_int, as_str, read_fields

JSON_CONTENT_TYPE = "application/json; charset=UTF-8"
UPLOAD_CHUNK_GRANULARITY = 8 * 1024 * 1024
MAX_FILE_BYTES = 2 * 1024 * 1024 * 1024
FILE_TTL = timedelta(hours=48)
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100

_FILE_NAME = re.compile(r"^files/[a-z0-9-]{1,40}$")
_FILE_URI = re.compile(r"(?:^|/)(files/[a-z0-9-]+)$")
_ID_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class FilesRequest:
    """What a Files API route needs from the HTTP request."""

    route: str
    file_id: str | None
    headers: dict[str, str]  # lower-case names
    query: dict[str, str]
    body: bytes
    json: Any
    base_url: str  # e.g. http://127.0.0.1:8765 (from the Host header)
    version: str = "v1beta"  # the API version in the path; file URIs and upload URLs keep it


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class StoredFile:
    name: str
    display_name: str | None
    mime_type: str
    data: bytes
    created: datetime
    active_at: float  # time.monotonic() when processing ends
    video_seconds: float | None = None

    @property
    def state(self) -> str:
        return "ACTIVE" if time.monotonic() >= self.active_at else "PROCESSING"

    def resource(self, base_url: str, version: str) -> dict[str, Any]:
        stamp = _rfc3339(self.created)
        resource: dict[str, Any] = {"name": self.name}
        if self.display_name:
            resource["displayName"] = self.display_name
        resource.update(
            {
                "mimeType": self.mime_type,
                "sizeBytes": str(len(self.data)),
                "createTime": stamp,
                "updateTime": stamp,
                "expirationTime": _rfc3339(self.created + FILE_TTL),
                # The service sends the hex digest's characters as a proto bytes field.
                "sha256Hash": base64.b64encode(
                    hashlib.sha256(self.data).hexdigest().encode()
                ).decode(),
                "uri": f"{base_url}/{version}/{self.name}",
                "state": self.state,
                "source": "UPLOADED",
            }
        )
        if self.video_seconds is not None and self.state == "ACTIVE":
            resource["videoMetadata"] = {"videoDuration": f"{round(self.video_seconds, 3):g}s"}
        return resource


@dataclass
class _Upload:
    name: str
    display_name: str | None
    mime_type: str
    declared_size: int | None
    received: bytearray = field(default_factory=bytearray)


class FileStore:
    """Uploaded files and open upload sessions (thread-safe; the emulator's ``files``)."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, StoredFile] = {}
        self._uploads: dict[str, _Upload] = {}
        self._rng = random.Random(f"files-{seed}")

    # --- what tests use -------------------------------------------------------------------

    def names(self) -> list[str]:
        with self._lock:
            return list(self._files)

    def add(self, stored: StoredFile) -> None:
        """Store a file the emulator made itself (e.g. a batch job's output)."""
        with self._lock:
            self._files[stored.name] = stored

    def get(self, name: str) -> StoredFile | None:
        with self._lock:
            return self._files.get(name if name.startswith("files/") else f"files/{name}")

    def activate(self, name: str) -> None:
        """End a file's processing now."""
        stored = self.get(name)
        if stored is not None:
            stored.active_at = 0.0

    def clear(self) -> None:
        with self._lock:
            self._files.clear()
            self._uploads.clear()

    # --- generateContent --------------------------------------------------------------------

    def resolve(self, uri: str) -> Blob | None:
        """The ACTIVE file a Files API URI names; None if the URI is not a Files API URI.
        Missing -> 403, still processing -> 400 FAILED_PRECONDITION, as on the service."""
        match = _FILE_URI.search(uri)
        if match is None:
            return None
        stored = self.get(match.group(1))
        if stored is None:
            raise _no_access(match.group(1).removeprefix("files/"))
        if stored.state != "ACTIVE":
            raise GoogleError(
                400,
                f"The File {stored.name.removeprefix('files/')} is not in an ACTIVE state and "
                "usage is not allowed.",
                status="FAILED_PRECONDITION",
            )
        return Blob(stored.mime_type, stored.data, uri)

    # --- routes -------------------------------------------------------------------------------

    def handle(self, request: FilesRequest, processing_sec: float) -> Reply:
        if request.route == "uploadFile":
            return self._start(request)
        if request.route == "uploadFileData":
            return self._chunk(request, processing_sec)
        if request.route == "listFiles":
            return self._list(request)
        name = f"files/{request.file_id}"
        with self._lock:
            stored = self._files.get(name)
            if stored is not None and request.route == "deleteFile":
                del self._files[name]
        if stored is None:
            raise _no_access(request.file_id or "")
        if request.route == "deleteFile":
            return _json({})
        return _json(stored.resource(request.base_url, request.version))

    def _start(self, request: FilesRequest) -> Reply:
        headers = request.headers
        protocol = headers.get("x-goog-upload-protocol", "")
        if protocol != "resumable" or headers.get("x-goog-upload-command") != "start":
            raise invalid_argument(
                "The omniembed emulator accepts resumable uploads only: send "
                "X-Goog-Upload-Protocol: resumable and X-Goog-Upload-Command: start."
            )
        try:
            fields = read_fields(request.json if request.json is not None else {}, "", ("file",))
            meta = read_fields(
                fields.get("file", {}),
                "file",
                ("name", "displayName", "mimeType", "sizeBytes", "source", "videoMetadata"),
            )
            name = as_str(meta["name"], "file.name") if "name" in meta else None
            display = (
                as_str(meta["displayName"], "file.display_name") if "displayName" in meta else None
            )
            mime = headers.get("x-goog-upload-header-content-type") or meta.get("mimeType")
            raw_size = headers.get("x-goog-upload-header-content-length") or meta.get("sizeBytes")
            size = as_int(raw_size, "file.size_bytes") if raw_size is not None else None
        except Violation as exc:
            raise invalid_argument(f"* CreateFileRequest.{exc.field}: {exc.problem}\n") from None
        if not mime:
            raise invalid_argument("* CreateFileRequest.file.mime_type: mime_type is required\n")
        if size is not None and size > MAX_FILE_BYTES:
            raise invalid_argument(
                f"File size {size} exceeds the maximum of {MAX_FILE_BYTES} bytes."
            )
        with self._lock:
            if name is None:
                name = self._new_name()
            elif not _FILE_NAME.match(name):
                raise invalid_argument(
                    f"* CreateFileRequest.file.name: Invalid file name {name!r}: use files/ and "
                    "up to 40 lower-case letters, digits or dashes.\n"
                )
            elif name in self._files:
                raise GoogleError(409, f"File {name} already exists.", status="ALREADY_EXISTS")
            # The session id is the upload's only credential (chunks need no API key, as on
            # Google's resumable uploads): unguessable, never from the seeded RNG.
            upload_id = secrets.token_urlsafe(30)
            self._uploads[upload_id] = _Upload(name, display, str(mime), size)
        query = f"upload_id={upload_id}&upload_protocol=resumable"
        url = f"{request.base_url}/upload/{request.version}/files?{query}"
        return Reply(
            200,
            b"",
            {
                "Content-Type": "text/plain; charset=utf-8",
                "X-Goog-Upload-Status": "active",
                "X-Goog-Upload-URL": url,
                "X-Goog-Upload-Chunk-Granularity": str(UPLOAD_CHUNK_GRANULARITY),
                "X-Goog-Upload-Control-URL": url,
            },
        )

    def _chunk(self, request: FilesRequest, processing_sec: float) -> Reply:
        upload_id = request.query.get("upload_id", "")
        commands = {c.strip() for c in request.headers.get("x-goog-upload-command", "").split(",")}
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None:
                raise not_found(f"No upload session {upload_id!r} (finished, or never started).")
            if "query" in commands:
                return _status("active", {"X-Goog-Upload-Size-Received": str(len(upload.received))})
            if "upload" in commands:
                offset = request.headers.get("x-goog-upload-offset", "")
                if offset != str(len(upload.received)):
                    raise invalid_argument(
                        f"X-Goog-Upload-Offset {offset or '(missing)'} does not match the "
                        f"{len(upload.received)} bytes received so far."
                    )
                upload.received += request.body
            if "finalize" not in commands:
                if "upload" not in commands:
                    raise invalid_argument(
                        "X-Goog-Upload-Command must be upload, finalize or query."
                    )
                return _status("active", {})
            if upload.declared_size is not None and upload.declared_size != len(upload.received):
                raise invalid_argument(
                    f"The upload has {len(upload.received)} bytes but "
                    f"X-Goog-Upload-Header-Content-Length said {upload.declared_size}."
                )
            del self._uploads[upload_id]
        data = bytes(upload.received)
        processing = upload.mime_type.startswith(("video/", "audio/"))
        stored = StoredFile(
            name=upload.name,
            display_name=upload.display_name,
            mime_type=upload.mime_type,
            data=data,
            created=datetime.now(timezone.utc),
            active_at=time.monotonic() + (processing_sec if processing else 0.0),
            video_seconds=_duration(data, upload.mime_type)
            if upload.mime_type.startswith("video/")
            else None,
        )
        with self._lock:
            self._files[stored.name] = stored
        reply = _json({"file": stored.resource(request.base_url, request.version)})
        reply.headers["X-Goog-Upload-Status"] = "final"
        return reply

    def _list(self, request: FilesRequest) -> Reply:
        try:
            size = as_int(request.query.get("pageSize", DEFAULT_PAGE_SIZE), "page_size")
        except GoogleError:
            raise invalid_argument("* ListFilesRequest.page_size: must be an integer\n") from None
        size = DEFAULT_PAGE_SIZE if size <= 0 else min(size, MAX_PAGE_SIZE)
        token = request.query.get("pageToken", "")
        start = int(token) if token.isdigit() else 0
        with self._lock:
            files = list(self._files.values())
        page = files[start : start + size]
        body: dict[str, Any] = {}
        if page:
            body["files"] = [f.resource(request.base_url, request.version) for f in page]
        if start + size < len(files):
            body["nextPageToken"] = str(start + size)
        return _json(body)

    def _new_name(self) -> str:
        while True:
            name = "files/" + "".join(self._rng.choices(_ID_ALPHABET, k=12))
            if name not in self._files:
                return name


def _no_access(file_id: str) -> GoogleError:
    return GoogleError(
        403, f"You do not have permission to access the File {file_id} or it may not exist."
    )


def _json(body: dict[str, Any]) -> Reply:
    return Reply(200, dumps(body), {"Content-Type": JSON_CONTENT_TYPE})


def _status(state: str, extra: dict[str, str]) -> Reply:
    headers = {"Content-Type": "text/plain; charset=utf-8", "X-Goog-Upload-Status": state}
    return Reply(200, b"", {**headers, **extra})


def _duration(data: bytes, mime: str) -> float | None:
    try:
        return media_duration_sec(Media.from_bytes(data, mime))
    except OmniEmbedError:
        return None  # not decodable: the file still uploads, as on the service


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
