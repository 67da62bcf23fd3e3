"""Files the service generates (batch job outputs) and their download route.

Generated files live in the Files API store next to uploads, with ``source: GENERATED`` and
a ``downloadUri``. google-genai's ``client.files.download(file=name)`` fetches
``GET /{ver}/files/{id}:download?alt=media``; the service's own download host path
``/download/{ver}/files/{id}:download`` is served too. Uploaded files cannot be
downloaded, as on the service.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .files_api import FileStore, Reply, StoredFile
from .google_errors import GoogleError, invalid_argument


@dataclass
class GeneratedFile(StoredFile):
    """A file the service wrote (e.g. a batch job's responses)."""

    def resource(self, base_url: str, version: str) -> dict[str, Any]:
        resource = super().resource(base_url, version)
        resource["source"] = "GENERATED"
        resource["downloadUri"] = f"{base_url}/download/{version}/{self.name}:download?alt=media"
        return resource


def put_generated(files: FileStore, name: str, data: bytes, mime_type: str) -> None:
    """Store a generated file (ACTIVE at once) under ``name``."""
    stored = GeneratedFile(
        name=name,
        display_name=None,
        mime_type=mime_type,
        data=data,
        created=datetime.now(timezone.utc),
        active_at=time.monotonic(),
    )
    files.add(stored)


def download(files: FileStore, file_id: str) -> Reply:
    """The bytes of a generated file."""
    stored = files.get(file_id)
    if stored is None:
        raise GoogleError(
            403, f"You do not have permission to access the File {file_id} or it may not exist."
        )
    if not isinstance(stored, GeneratedFile):
        raise invalid_argument(
            f"Only generated files can be downloaded; files/{file_id} was uploaded."
        )
    return Reply(200, stored.data, {"Content-Type": stored.mime_type})
