"""Text chunking: paragraphs packed up to a size bound, long paragraphs split by sentence.

`iter_chunks` works on a stream of text blocks, so a 100 MB file is chunked while it is
read, in memory bounded by the longest paragraph (and at most `MAX_PARAGRAPH_CHARS`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..errors import UnsupportedMediaError

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
#: A "paragraph" longer than this (a file without blank lines) is cut at the last space
#: before it while reading, so memory stays bounded whatever the text looks like.
MAX_PARAGRAPH_CHARS = 1 << 20
#: Bytes read from a text file at a time.
READ_BYTES = 1 << 20


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into chunks of at most ``max_chars`` characters.

    Paragraphs (blank-line separated) are packed together while they fit; a paragraph
    that does not fit alone is split at sentence ends, then at spaces, then hard. Blank
    chunks are dropped, so an all-whitespace text gives ``[]``.
    """
    return list(iter_chunks([text], max_chars))


def iter_chunks(blocks: Iterable[str], max_chars: int) -> Iterator[str]:
    """`chunk_text` over a text that arrives in ``blocks`` (any split): the same chunks,
    each yielded as soon as the next one starts."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    pending: str | None = None
    for paragraph in _paragraphs(blocks):
        for piece in _fit(paragraph, max_chars):
            if pending is not None and len(pending) + 2 + len(piece) <= max_chars:
                pending += "\n\n" + piece
            else:
                if pending is not None:
                    yield pending
                pending = piece
    if pending is not None:
        yield pending


def read_text_blocks(path: Path, on_bytes: Callable[[int], None] | None = None) -> Iterator[str]:
    """The UTF-8 text of ``path`` (a BOM dropped) in blocks, decoded as it is read;
    ``on_bytes`` is told how many bytes each read consumed. Bytes that are not UTF-8
    raise `UnsupportedMediaError` naming the offset."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset = 0
    with path.open("rb") as f:
        while True:
            data = f.read(READ_BYTES)
            try:
                text = decoder.decode(data, final=not data)
            except UnicodeDecodeError as exc:
                raise UnsupportedMediaError(
                    f"not UTF-8 text ({exc.reason} at byte {offset + exc.start}); convert it "
                    "to UTF-8"
                ) from None
            offset += len(data)
            if on_bytes is not None and data:
                on_bytes(len(data))
            if text:
                yield text
            if not data:
                return


def _paragraphs(blocks: Iterable[str]) -> Iterator[str]:
    """The stripped, non-blank paragraphs of the text the blocks make up."""
    buffer = ""
    for block in blocks:
        buffer += block
        parts = _PARAGRAPH.split(buffer)
        # The last part may continue in the next block; the separators before it cannot
        # change meaning (more whitespace only widens one, and blank paragraphs are dropped).
        buffer = parts.pop()
        while len(buffer) > MAX_PARAGRAPH_CHARS:
            cut = buffer.rfind(" ", 0, MAX_PARAGRAPH_CHARS)
            cut = cut if cut > 0 else MAX_PARAGRAPH_CHARS
            parts.append(buffer[:cut])
            buffer = buffer[cut:]
        for part in parts:
            stripped = part.strip()
            if stripped:
                yield stripped
    stripped = buffer.strip()
    if stripped:
        yield stripped


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
