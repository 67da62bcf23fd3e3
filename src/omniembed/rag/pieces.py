"""What the index holds: one `Piece` per embedded vector, and its retrieval group."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

PieceModality = Literal["text", "image", "pdf_page", "video", "audio"]
#: Retrieval ranks each group on its own: text→media similarities run lower than
#: text→text even in one shared space, so one merged top-k would rarely surface media.
Group = Literal["text", "visual", "av"]
GROUPS: tuple[Group, ...] = ("text", "visual", "av")


@dataclass(frozen=True)
class Piece:
    """One embedded part of a file, as stored in the payload of its point.

    ``source`` is the path relative to the indexed folder (POSIX separators); ``text`` is
    the chunk, the page text, or a short caption for media; ``group`` says which retrieval
    group the vector competes in (``visual`` for images and rendered pages, ``av`` for video
    and audio). ``ordinal`` numbers the pieces of one file.
    """

    source: str
    modality: PieceModality
    text: str
    group: Group
    ordinal: int = 0
    page: int | None = None
    start_offset_sec: float | None = None
    end_offset_sec: float | None = None

    def payload(self, sha256: str) -> dict[str, Any]:
        return {
            "source": self.source,
            "modality": self.modality,
            "text": self.text,
            "group": self.group,
            "ordinal": self.ordinal,
            "page": self.page,
            "start_offset_sec": self.start_offset_sec,
            "end_offset_sec": self.end_offset_sec,
            "sha256": sha256,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Piece:
        return cls(
            source=str(payload["source"]),
            modality=payload["modality"],
            text=str(payload.get("text") or ""),
            group=payload.get("group") or "text",
            ordinal=int(payload.get("ordinal") or 0),
            page=payload.get("page"),
            start_offset_sec=payload.get("start_offset_sec"),
            end_offset_sec=payload.get("end_offset_sec"),
        )


def clock(seconds: float) -> str:
    """``mm:ss`` for citations, to the nearest second: segments cut by stream copy start
    at a packet or keyframe a few milliseconds before the requested time (79.98 s reads
    01:20, not 01:19)."""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f"{minutes:02d}:{secs:02d}"


def cite(piece: Piece) -> str:
    """``file``, ``file, page N`` or ``file mm:ss–mm:ss``."""
    if piece.page is not None:
        return f"{piece.source}, page {piece.page}"
    if piece.start_offset_sec is not None and piece.end_offset_sec is not None:
        return f"{piece.source} {clock(piece.start_offset_sec)}–{clock(piece.end_offset_sec)}"
    return piece.source
