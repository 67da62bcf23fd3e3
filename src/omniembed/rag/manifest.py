"""The store manifest: which model built the store and which file versions it holds.

Written atomically (a temporary file renamed over the old one) after every group of
files, so a run killed at any moment leaves the last complete manifest behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .embedders import EmbedderSettings

#: 2: vectors in ``vectors/`` (`vector_index`); 1 was Qdrant local mode in ``qdrant/``.
FORMAT = 2
MANIFEST_NAME = "manifest.json"


class StoreFormatError(ConfigurationError):
    """The store was written in a format this omniembed does not read."""


@dataclass(frozen=True)
class FileEntry:
    """One indexed file: its content hash, stat (a fast unchanged check), piece count, the
    fingerprint of the settings that shaped its pieces (chunk size, video interval), and
    when the entry was made (``checked_ns``: a file modified in the same clock tick as its
    check keeps its stat, so its stat is only trusted if it is older than that)."""

    sha256: str
    size: int
    mtime_ns: int
    pieces: int
    plan: str
    checked_ns: int = 0


@dataclass
class Manifest:
    embedder: EmbedderSettings
    root: str
    vector_size: int | None = None
    files: dict[str, FileEntry] = field(default_factory=dict)
    #: Indexed with ``follow_links=True``: `ask` may read media the folder links to.
    follow_links: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "embedder": self.embedder.to_json(),
            "root": self.root,
            "vector_size": self.vector_size,
            "follow_links": self.follow_links,
            # vars(), not asdict(): asdict deep-copies, and a store of 10,000 files is saved
            # after every embedding call.
            "files": {k: dict(vars(v)) for k, v in sorted(self.files.items())},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        if data.get("format") != FORMAT:
            raise StoreFormatError(
                f"the store was written in format {data.get('format')!r} (by another "
                f"omniembed version); this one reads format {FORMAT}. Rebuild it with "
                "rebuild=True (vectors already paid for come from its cache)"
            )
        return cls(
            embedder=EmbedderSettings.from_json(data["embedder"]),
            root=str(data["root"]),
            vector_size=data.get("vector_size"),
            follow_links=bool(data.get("follow_links", False)),
            files={k: FileEntry(**v) for k, v in data.get("files", {}).items()},
        )

    def save(self, directory: Path) -> None:
        # Compact: json's C encoder only runs without ``indent`` (10x faster at 10,000 files).
        text = json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True)
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, directory / MANIFEST_NAME)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, directory: Path) -> Manifest | None:
        """The manifest in ``directory``, or None when there is none."""
        path = directory / MANIFEST_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return cls.from_json(json.loads(text))
        except StoreFormatError as exc:
            raise StoreFormatError(f"{directory}: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigurationError(
                f"{path} is not a valid omniembed store manifest ({exc}); re-index into a new "
                "--store folder"
            ) from exc
