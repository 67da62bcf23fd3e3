"""Embed text and images with GeminiEmbedder, async, with a cache.

Runs offline against the built-in emulator; set GEMINI_API_KEY to use the real service:

    python examples/gemini_embed.py
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from omniembed import GeminiEmbedder, Media, Task


@contextlib.contextmanager
def service() -> Iterator[dict[str, str]]:
    """Real credentials if present, else a local emulator."""
    if os.environ.get("GEMINI_API_KEY"):
        yield {}
        return
    from omniembed.emulator import Emulator

    with Emulator() as emu:
        yield {"api_key": "offline", "base_url": emu.base_url}


def png(color: tuple[int, int, int]) -> Media:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(out, format="PNG")
    return Media.from_bytes(out.getvalue())


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


async def main() -> None:
    with service() as options, tempfile.TemporaryDirectory() as tmp:
        embedder = GeminiEmbedder(
            "gemini-embedding-2",
            dimensions=768,
            cache=Path(tmp) / "cache.sqlite",
            **options,
        )
        notes = [
            "Tomatoes need full sun.",
            "Basil grows well next to tomatoes.",
            "Tides follow the moon.",
        ]
        docs = await embedder.aembed(
            [*notes, png((220, 30, 30))],
            task=Task.RETRIEVAL_DOCUMENT,
            titles=["garden", "garden", "sea", "a red square"],
        )
        query = await embedder.aembed_query("what grows well with tomatoes?")
        ranked = sorted(zip(notes, docs, strict=False), key=lambda p: -cosine(query, p[1].vector))
        for text, result in ranked:
            print(f"{cosine(query, result.vector):.3f}  {text}")
        again = await embedder.aembed(notes, titles=["garden", "garden", "sea"])
        print("second pass served from cache:", all(r.cached for r in again))


if __name__ == "__main__":
    asyncio.run(main())
