"""Token counts: a deterministic ESTIMATE, not Google's tokenizer.

Text splits into word pieces (a run of letters/digits, each CJK character, or one
punctuation mark; words longer than 16 characters count one piece per 16). That matches the
recorded counts for short English text within a token or so. Media use Google's published
flat rates (258 tokens per image or PDF page, 263 per video second, 32 per audio second).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache

from ..media.mime import Modality
from .contents import MediaPart, Part, TextPart, UriPart, content_text

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_PIECE = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")
_LONG_WORD = 16

TOKENS_PER_IMAGE = 258
TOKENS_PER_PDF_PAGE = 258
TOKENS_PER_VIDEO_SECOND = 263
TOKENS_PER_AUDIO_SECOND = 32


@lru_cache(maxsize=8192)
def pieces(text: str) -> tuple[str, ...]:
    """The text's word pieces, in order (long words split every 16 characters)."""
    out: list[str] = []
    for piece in _PIECE.findall(text):
        if len(piece) <= _LONG_WORD:
            out.append(piece)
        else:
            out.extend(piece[i : i + _LONG_WORD] for i in range(0, len(piece), _LONG_WORD))
    return tuple(out)


def count_text_tokens(text: str) -> int:
    return len(pieces(text))


def billable_characters(text: str) -> int:
    """Vertex bills characters without whitespace ("Hello, world!" -> 12)."""
    return sum(1 for ch in text if not ch.isspace())


def content_tokens(parts: Sequence[Part], max_text_tokens: int | None = None) -> dict[str, int]:
    """Estimated prompt tokens of one content by modality (``TEXT``, ``IMAGE``, ...)."""
    counts: dict[str, int] = {}
    text = content_text(parts)
    if any(isinstance(p, TextPart) for p in parts):
        n = count_text_tokens(text)
        counts["TEXT"] = n if max_text_tokens is None else min(n, max_text_tokens)
    for part in parts:
        if isinstance(part, TextPart):
            continue
        name = part.modality.value.upper()
        counts[name] = counts.get(name, 0) + _media_tokens(part)
        if isinstance(part, MediaPart) and part.modality is Modality.VIDEO and part.sound:
            # A video's sound track is billed on top, as AUDIO: recorded generateContent
            # answers for a video with sound list both VIDEO and AUDIO prompt tokens
            # (wire-samples, pydantic-ai video input cassettes; see generate_media).
            seconds = part.seconds or 0.0
            counts["AUDIO"] = counts.get("AUDIO", 0) + math.ceil(seconds * TOKENS_PER_AUDIO_SECOND)
    return counts


def _media_tokens(part: MediaPart | UriPart) -> int:
    if isinstance(part, UriPart):
        return TOKENS_PER_IMAGE  # unknown size: the emulator never fetches the file
    if part.modality is Modality.VIDEO:
        return math.ceil(part.seconds or 0.0) * TOKENS_PER_VIDEO_SECOND
    if part.modality is Modality.AUDIO:
        return math.ceil((part.seconds or 0.0) * TOKENS_PER_AUDIO_SECOND)
    if part.modality is Modality.DOCUMENT:
        return (part.pages or 1) * TOKENS_PER_PDF_PAGE
    return TOKENS_PER_IMAGE


def add_counts(total: dict[str, int], more: dict[str, int]) -> None:
    for modality, n in more.items():
        total[modality] = total.get(modality, 0) + n


def modality_details(counts: dict[str, int]) -> list[dict[str, object]]:
    """``[{"modality": "TEXT", "tokenCount": N}, ...]``, text first."""
    order = ("TEXT", "IMAGE", "VIDEO", "AUDIO", "DOCUMENT")
    return [{"modality": m, "tokenCount": counts[m]} for m in order if m in counts]


def truncate_tokens(text: str, limit: int) -> str:
    """The longest prefix of ``text`` holding at most ``limit`` word pieces (as counted by
    `count_text_tokens`), without trailing whitespace."""
    if limit <= 0:
        return ""
    seen = 0
    for match in _PIECE.finditer(text):
        piece = match.group(0)
        size = max(1, math.ceil(len(piece) / _LONG_WORD))
        if seen + size > limit:
            keep = (limit - seen) * _LONG_WORD  # a long word may be cut inside
            return text[: match.start() + keep].rstrip() if keep else text[: match.start()].rstrip()
        seen += size
    return text
