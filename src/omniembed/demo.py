"""`omniembed demo`: an offline end-to-end run on the built-in emulator.

Starts the emulator, indexes a small bundled corpus (text notes and images) with
GeminiEmbedder (gemini-embedding-2), and prints nearest-neighbour searches for a text
query and an image query, then shows the cache answering a re-index with zero calls.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .media import Media
from .tasks import Task

Printer = Callable[[str], None]


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    preview: str
    vector: list[float]


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def _top(index: list[Entry], query: list[float], k: int = 3) -> list[tuple[float, Entry]]:
    scored = sorted(((_cosine(query, e.vector), e) for e in index), key=lambda p: -p[0])
    return scored[:k]


def run_demo(out: Printer = print, model: str = "gemini-embedding-2") -> int:
    from .emulator import Emulator
    from .providers.gemini import GeminiEmbedder
    from .samples import NOTES, query_photo, sample_images

    out("omniembed demo — offline, on the built-in emulator.")
    out("The emulator speaks the Gemini API wire protocol; its vectors are deterministic")
    out("stand-ins (word and pixel features), not a model. Use real keys for real results.\n")
    images = sample_images()
    with Emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.sqlite"
        embedder = GeminiEmbedder(model, api_key="demo-key", base_url=emu.base_url, cache=cache)
        out(f"emulator  {emu.base_url}")
        out(f"model     {model} (index: RETRIEVAL_DOCUMENT, text queries: RETRIEVAL_QUERY)\n")

        inputs: list[str | Media] = [*NOTES.values(), *(i.media for i in images)]
        titles: list[str | None] = [*NOTES.keys(), *(i.name for i in images)]
        start = time.perf_counter()
        results = embedder.embed(inputs, task=Task.RETRIEVAL_DOCUMENT, titles=titles)
        seconds = time.perf_counter() - start
        index = [
            Entry("text", name, text[:60] + "…", r.vector)
            for (name, text), r in zip(NOTES.items(), results, strict=False)
        ] + [
            Entry("image", img.name, img.description, r.vector)
            for img, r in zip(images, results[len(NOTES) :], strict=True)
        ]
        out(
            f"indexed {len(index)} items ({len(NOTES)} text notes, {len(images)} images) in "
            f"{len(emu.requests)} request(s), {seconds:.2f} s; {len(index[0].vector)} dimensions\n"
        )

        question = "how often should I feed my sourdough starter?"
        _show(out, f'text query: "{question}"', _top(index, embedder.embed_query(question)))
        photo = embedder.embed([query_photo()])[0].vector
        _show(out, "image query: a photo of an orange evening sky", _top(index, photo))

        emu.clear_requests()
        again = GeminiEmbedder(model, api_key="demo-key", base_url=emu.base_url, cache=cache)
        again.embed(inputs, task=Task.RETRIEVAL_DOCUMENT, titles=titles)
        out(
            f"re-indexing the unchanged corpus: {len(emu.requests)} requests, "
            f"{again.last_stats.cache_hits} cache hits (SQLite cache)"
        )
    return 0


def _show(out: Printer, title: str, hits: list[tuple[float, Entry]]) -> None:
    out(title)
    for rank, (score, entry) in enumerate(hits, start=1):
        out(f"  {rank}. {score:5.3f}  {entry.kind:<5}  {entry.name:<16} {entry.preview}")
    out("")
