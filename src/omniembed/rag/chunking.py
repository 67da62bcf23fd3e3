"""Text chunking: paragraphs packed up to a size bound, long paragraphs split by sentence."""

from __future__ import annotations

import re

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into chunks of at most ``max_chars`` characters.

    Paragraphs (blank-line separated) are packed together while they fit; a paragraph
    that does not fit alone is split at sentence ends, then at spaces, then hard. Blank
    chunks are dropped, so an all-whitespace text gives ``[]``.
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    chunks: list[str] = []
    for paragraph in (p.strip() for p in _PARAGRAPH.split(text)):
        if not paragraph:
            continue
        for piece in _fit(paragraph, max_chars):
            if chunks and len(chunks[-1]) + 2 + len(piece) <= max_chars:
                chunks[-1] += "\n\n" + piece
            else:
                chunks.append(piece)
    return chunks


def _fit(paragraph: str, max_chars: int) -> list[str]:
    if len(paragraph) <= max_chars:
        return [paragraph]
    out: list[str] = []
    for sentence in _SENTENCE_END.split(paragraph):
        for piece in _words(sentence.strip(), max_chars):
            if out and len(out[-1]) + 1 + len(piece) <= max_chars:
                out[-1] += " " + piece
            else:
                out.append(piece)
    return out


def _words(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence] if sentence else []
    out: list[str] = []
    for word in sentence.split():
        while len(word) > max_chars:  # a "word" longer than a chunk (a URL, base64...)
            out.append(word[:max_chars])
            word = word[max_chars:]
        if out and len(out[-1]) + 1 + len(word) <= max_chars:
            out[-1] += " " + word
        elif word:
            out.append(word)
    return out
