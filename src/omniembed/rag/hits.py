"""Retrieval results and answers, and their deterministic text and JSON forms."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..generation import Usage
from .pieces import Piece, PieceModality, cite


@dataclass(frozen=True)
class Hit:
    """One retrieved piece, ranked across modalities (1 = best)."""

    rank: int
    modality: PieceModality
    source: str
    page: int | None
    start_offset_sec: float | None
    end_offset_sec: float | None
    score: float
    text: str

    @property
    def citation(self) -> str:
        """``file``, ``file, page N`` or ``file mm:ss–mm:ss``."""
        return cite(self.piece)

    @property
    def piece(self) -> Piece:
        return Piece(
            source=self.source,
            modality=self.modality,
            text=self.text,
            group="text",
            page=self.page,
            start_offset_sec=self.start_offset_sec,
            end_offset_sec=self.end_offset_sec,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "citation": self.citation}


@dataclass
class Answer:
    """The LLM's answer to ``question``, the hits it was given, and the token usage."""

    question: str
    text: str
    hits: list[Hit]
    usage: Usage = field(default_factory=Usage)

    @property
    def sources(self) -> list[str]:
        """The hits' citations in rank order, each once."""
        return list(dict.fromkeys(hit.citation for hit in self.hits))

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "hits": [hit.to_json() for hit in self.hits],
            "sources": self.sources,
            "usage": asdict(self.usage),
        }


def format_hit(hit: Hit) -> str:
    """``  1. pdf_page  lighthouse.pdf, page 1            0.612``"""
    return f"{hit.rank:>3}. {hit.modality:<9} {hit.citation:<36} {hit.score:6.3f}"


def format_answer(answer: Answer) -> str:
    """The hits (one line each), the answer, then the sources."""
    lines = [f"Q: {answer.question}", "Hits:"]
    lines += [format_hit(hit) for hit in answer.hits] or ["  (none: the store is empty)"]
    lines += ["Answer:", answer.text.strip()]
    sources = "; ".join(f"[{hit.rank}] {hit.citation}" for hit in _first_per_citation(answer))
    lines.append(f"Sources: {sources or 'none'}")
    return "\n".join(lines)


def _first_per_citation(answer: Answer) -> list[Hit]:
    seen: dict[str, Hit] = {}
    for hit in answer.hits:
        seen.setdefault(hit.citation, hit)
    return list(seen.values())
