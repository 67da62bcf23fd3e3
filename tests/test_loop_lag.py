"""An async call leaves the event loop free (issue 14, item 3).

While ``aembed`` (and the framework adapters' async methods) embed 500 texts or 50 images,
a task sleeping 1 ms at a time must keep waking on time: request bodies, media encoding
and response parsing run in worker threads, in pieces short enough that the loop gets the
interpreter between them. Before, one 500-text call stalled the loop for 200-500 ms.

The emulator runs in its own process, so its CPU is not this process's. What is measured
is the CPU this process spent while the loop was late (see `_LagMonitor`), not wall time
alone: on a busy machine the loop is also late when the OS runs something else, and that
is not ours to fix. The bound is loose for a shared 2-CPU machine; the figures measured
are in docs/performance.md ("Event-loop lag"), benchmarks/loop_lag.py prints them.
"""

from __future__ import annotations

import asyncio
import gc
import io
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiohttp")  # the emulator

from omniembed.emulator import Emulator

#: The longest the loop may be kept late by work in this process, in ms.
BOUND_MS = 30.0
#: Tries per case: the best counts (the machine's other load comes and goes; a stall
#: caused by the call itself is in every try).
TRIES = 3
TEXTS = [f"passage {i}: the ferry leaves the harbour at dawn, past the lantern" for i in range(500)]
KEY = "test-key"


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "omniembed.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()  # its one line: the base URL, once it listens
        assert url.startswith("http://"), url
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """50 photo-like images (smooth colour fields and grain), 256-1024 px, PNG and JPEG."""
    np = pytest.importorskip("numpy")
    image = pytest.importorskip("PIL.Image")
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(7)
    paths = []
    for index in range(50):
        side = 256 + (index * 149) % 769
        coarse = image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
        smooth = np.asarray(coarse.resize((side, side * 3 // 4), image.Resampling.BICUBIC))
        grain = rng.integers(-6, 7, smooth.shape)
        pixels = np.clip(smooth.astype(np.int16) + grain, 0, 255).astype(np.uint8)
        fmt = "PNG" if index % 2 else "JPEG"
        buffer = io.BytesIO()
        image.fromarray(pixels).save(buffer, fmt)
        path = folder / f"image_{index:02d}.{fmt.lower()}"
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


@dataclass
class _LagMonitor:
    """Sleeps 1 ms at a time on the loop; for each wake-up, how late it was (``late``)
    and how much of that this process spent on CPU (``busy``: the loop's own work, or a
    worker thread holding the interpreter lock, or the garbage collector)."""

    late: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    stop: bool = False

    async def run(self) -> None:
        while not self.stop:
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.sleep(0.001)
            late = time.perf_counter() - wall - 0.001
            self.late.append(late)
            self.busy.append(min(late, time.process_time() - cpu))


async def _busy_lag_ms(call: Callable[[], Awaitable[list[Any]]], count: int) -> float:
    """The call's worst busy lag, best of `TRIES`, in ms.

    A full collection's pause scales with everything this process holds (pytest, both
    frameworks: ~130 ms), not with the call, so the objects alive before the call are
    frozen out of the collector's passes (`gc.freeze`, as servers do after start-up)."""
    best = float("inf")
    for _ in range(TRIES):
        gc.collect()
        gc.freeze()
        monitor = _LagMonitor()
        ticking = asyncio.create_task(monitor.run())
        try:
            await asyncio.sleep(0.005)
            results = await call()
        finally:
            monitor.stop = True
            await ticking
            gc.unfreeze()
        assert len(results) == count
        best = min(best, max(monitor.busy) * 1000)
        if best < BOUND_MS:
            break
    return best


async def _check(
    client: Any, call: Callable[[list[Any]], Awaitable[list[Any]]], inputs: list[Any]
) -> None:
    try:
        await call(inputs[:2])  # warm-up: first connections, first-call caches
        lag = await _busy_lag_ms(lambda: call(inputs), len(inputs))
    finally:
        await client.aclose()
    assert lag < BOUND_MS, f"the event loop was kept {lag:.0f} ms late (bound {BOUND_MS:g} ms)"


@pytest.mark.parametrize("model", ["gemini-embedding-001", "gemini-embedding-2"])
async def test_gemini_api_500_texts(emulator_url: str, model: str) -> None:
    from omniembed import GeminiEmbedder

    embedder = GeminiEmbedder(model, api_key=KEY, base_url=emulator_url)
    await _check(embedder, embedder.aembed, TEXTS)


async def test_vertex_ai_500_texts(emulator_url: str) -> None:
    from google.oauth2.credentials import Credentials

    from omniembed import GeminiEmbedder

    embedder = GeminiEmbedder(
        "gemini-embedding-001",
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=Credentials(token="t"),  # type: ignore[no-untyped-call]
        base_url=emulator_url,
    )
    await _check(embedder, embedder.aembed, TEXTS)


async def test_dashscope_500_texts(emulator_url: str) -> None:
    pytest.importorskip("dashscope")
    from omniembed import DashScopeEmbedder

    embedder = DashScopeEmbedder(api_key="sk-" + KEY, base_url=emulator_url)
    await _check(embedder, embedder.aembed, TEXTS)


async def test_gemini_embedding_2_50_images(emulator_url: str, images: list[Path]) -> None:
    from omniembed import GeminiEmbedder

    embedder = GeminiEmbedder("gemini-embedding-2", api_key=KEY, base_url=emulator_url)
    await _check(embedder, embedder.aembed, list(images))


async def test_vertex_multimodal_50_images(emulator_url: str, images: list[Path]) -> None:
    from omniembed import VertexMultiModalEmbedder

    embedder = VertexMultiModalEmbedder(project="p", access_token="t", base_url=emulator_url)
    await _check(embedder, embedder.aembed, list(images))


async def test_dashscope_50_images(emulator_url: str, images: list[Path]) -> None:
    pytest.importorskip("dashscope")
    from omniembed import DashScopeEmbedder

    embedder = DashScopeEmbedder(api_key="sk-" + KEY, base_url=emulator_url)
    await _check(embedder, embedder.aembed, list(images))


async def test_llama_index_text_batch(emulator_url: str) -> None:
    pytest.importorskip("llama_index.core")
    from omniembed.llama_index import GeminiMultiModalEmbedding

    embedding = GeminiMultiModalEmbedding(
        model_name="gemini-embedding-001", api_key=KEY, base_url=emulator_url
    )
    await _check(embedding, embedding.aget_text_embedding_batch, TEXTS)


async def test_langchain_documents(emulator_url: str) -> None:
    pytest.importorskip("langchain_core")
    from pydantic import SecretStr

    from omniembed.langchain import GeminiEmbeddings

    embeddings = GeminiEmbeddings(
        model="gemini-embedding-001", api_key=SecretStr(KEY), base_url=emulator_url
    )
    await _check(embeddings, embeddings.aembed_documents, TEXTS)


async def test_cancelling_a_call_is_prompt_and_frees_the_runtime(emu: Emulator) -> None:
    """Work handed to threads does not hold up `task.cancel()`, and what the call held
    (concurrency slots, byte budget, quota permits) is released for the next one."""
    from omniembed import GeminiEmbedder

    emu.latency_ms = 1500
    embedder = GeminiEmbedder("gemini-embedding-001", api_key=KEY, base_url=emu.base_url)
    async with embedder:
        began = time.perf_counter()
        call = asyncio.create_task(embedder.aembed(TEXTS))
        await asyncio.sleep(0.3)  # bodies encoded, requests in flight
        start = time.perf_counter()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert time.perf_counter() - start < 0.5  # not the 1.2 s until the answers
        emu.latency_ms = 0
        again = await asyncio.wait_for(embedder.aembed(TEXTS[:150]), timeout=30)
        assert len(again) == 150 and all(r.ok for r in again)
    # The emulator answers the cancelled requests before it is reset for the next test.
    await asyncio.sleep(max(0.0, began + 1.6 - time.perf_counter()))
