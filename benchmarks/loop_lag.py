#!/usr/bin/env python3
"""How long one async embedding call keeps the event loop from running anything else.

A task sleeps 1 ms in a loop while the call runs and records how late each wake-up was
(the loop's lag): max and p99 over the call. Everything else a server does on that loop
(answering requests, heartbeats, other calls' I/O) waits that long.

Calls (omniembed), against the emulator in its own process (so its CPU does not count):

* `GeminiEmbedder.aembed`: 500 texts on gemini-embedding-001 and gemini-embedding-2 (Gemini
  API), 500 texts on gemini-embedding-001 on Vertex AI (one text per request), 50 images
  (256-1024 px PNG and JPEG) on gemini-embedding-2;
* `VertexMultiModalEmbedder.aembed`: 50 images; `DashScopeEmbedder.aembed`: 500 texts and
  50 images;
* the adapters: LlamaIndex `GeminiMultiModalEmbedding.aget_text_embedding_batch` and LangChain
  `GeminiEmbeddings.aembed_documents`, 500 texts on gemini-embedding-001.

Next to them, the anchors' async methods where installed (``pip install -e '.[bench]'``):
LlamaIndex `GoogleGenAIEmbedding.aget_text_embedding_batch` and LangChain
`GoogleGenerativeAIEmbeddings.aembed_documents` (500 texts, gemini-embedding-001), and
LlamaIndex `DashScopeEmbedding.aget_image_embedding_batch` (50 images; its text path calls
DashScope's text-embedding API, which the emulator does not serve).

Method: each case gets a fresh client and an unmeasured warm-up call (imports, connections,
first-call caches); then the garbage collector is run and the surviving objects frozen
(``gc.freeze()``), so a full collection's pause — which scales with everything the process
holds (a process with LlamaIndex and LangChain imported: ~130 ms here), not with the call —
is not counted; ``--no-freeze`` counts it. Each case runs ``--repeat`` times; the table shows
the worst max, the p99 over all wake-ups and the median wall time. ``busy`` is the max lag
counting only the CPU time the process spent in each late interval: lag from the machine
being busy elsewhere drops out of it, lag from work in this process (on the loop, or in a
worker thread holding the GIL) stays.

``--quick`` runs 100 texts / 10 images once (tests/test_benchmarks_smoke.py runs 40 / 4);
``--only`` picks cases by key (repeatable). Exit code: 0 when every omniembed case ran,
1 when one failed, 2 when the emulator did not start.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import util
from pathlib import Path
from typing import Any

log = logging.getLogger("benchmarks.loop_lag")

API_KEY = "bench-not-a-real-key"
DASHSCOPE_KEY = "sk-bench-not-a-real-key"
PROJECT = "bench-project"
LOCATION = "us-central1"
TEXT_MODEL = "gemini-embedding-001"
TICK_S = 0.001


# --------------------------------------------------------------------------- emulator


class Emulator:
    """``python -m omniembed.emulator`` in a child process: its CPU must not count as this
    process's. Unlike `emulator_process.EmulatorProcess` it runs without ``-v``: reading a
    log line per request would put a thread of work into the process being measured."""

    def __init__(self, latency_ms: float, timeout: float = 30.0):
        self.args = [
            sys.executable,
            *("-m", "omniembed.emulator", "--port", "0", "--latency-ms", f"{latency_ms:g}"),
        ]
        self.timeout = timeout
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> Emulator:
        self._proc = subprocess.Popen(
            self.args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        try:
            assert self._proc.stdout is not None
            # The emulator prints one line, its base URL, once it listens.
            line = self._proc.stdout.readline().strip()
            if not line.startswith("http"):
                raise RuntimeError(f"the emulator printed {line!r}, not its URL")
            self.base_url = line
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


# --------------------------------------------------------------------------- measuring


@dataclass
class LagMonitor:
    """Sleeps ``TICK_S`` in a loop on the running event loop; records how late it woke."""

    lags: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)
    _stop: bool = False

    async def run(self) -> None:
        while not self._stop:
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.sleep(TICK_S)
            late = time.perf_counter() - wall - TICK_S
            self.lags.append(late)
            self.busy.append(min(late, time.process_time() - cpu))

    async def measure(self, call: Callable[[], Awaitable[Any]]) -> tuple[Any, float]:
        task = asyncio.create_task(self.run())
        await asyncio.sleep(0.01)  # the monitor is ticking before the call starts
        start = time.perf_counter()
        try:
            result = await call()
        finally:
            seconds = time.perf_counter() - start
            self._stop = True
            await task
        return result, seconds


@dataclass
class CaseResult:
    key: str
    label: str
    items: str
    max_ms: float | None = None
    p99_ms: float | None = None
    busy_ms: float | None = None
    wall_s: float | None = None
    gc_ms: float = 0.0
    note: str = ""


class GcPauses:
    """The longest garbage-collector pause while it is installed."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.longest = max(self.longest, time.perf_counter() - self._began)

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


# --------------------------------------------------------------------------- inputs


def make_texts(count: int) -> list[str]:
    words = ["harbour", "ferry", "granite", "lantern", "tide", "market", "bread", "island"]
    return [
        f"passage {i}: " + " ".join(words[(i + k) % len(words)] for k in range(40))
        for i in range(count)
    ]


def make_images(directory: Path, count: int, seed: int = 3) -> list[Path]:
    """``count`` photo-like images (smooth colour fields and grain), 256-1024 px on the long
    side, alternately PNG and JPEG."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        side = 256 + (index * 149) % 769
        coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        field_ = np.asarray(
            Image.fromarray(coarse).resize((side, side * 3 // 4), Image.Resampling.BICUBIC)
        )
        grain = rng.integers(-6, 7, field_.shape)
        pixels = np.clip(field_.astype(np.int16) + grain, 0, 255).astype(np.uint8)
        fmt = "PNG" if index % 2 else "JPEG"
        path = directory / f"image_{index:03d}.{fmt.lower()}"
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


# --------------------------------------------------------------------------- cases
# A case builds a fresh client and returns the async call to measure on some inputs.

Call = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    kind: str  # "texts" or "images"
    build: Callable[[str], tuple[Any, Call]]
    requires: tuple[str, ...] = ()
    anchor: bool = False


def _closing(client: Any) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        for name in ("aclose", "close"):
            method = getattr(client, name, None)
            if callable(method):
                done = method()
                if asyncio.iscoroutine(done):
                    await done
                return

    return close


def gemini(model: str) -> Callable[[str], tuple[Any, Call]]:
    def build(url: str) -> tuple[Any, Call]:
        from omniembed import GeminiEmbedder

        emb = GeminiEmbedder(model, api_key=API_KEY, base_url=url)
        return emb, lambda inputs: emb.aembed(inputs)

    return build


def gemini_vertex(url: str) -> tuple[Any, Call]:
    from google.oauth2.credentials import Credentials

    from omniembed import GeminiEmbedder

    emb = GeminiEmbedder(
        TEXT_MODEL,
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(token="t"),  # type: ignore[no-untyped-call]
        base_url=url,
    )
    return emb, lambda inputs: emb.aembed(inputs)


def vertex_multimodal(url: str) -> tuple[Any, Call]:
    from omniembed import VertexMultiModalEmbedder

    emb = VertexMultiModalEmbedder(
        project=PROJECT, location=LOCATION, access_token="t", base_url=url
    )
    return emb, lambda inputs: emb.aembed(inputs)


def dashscope(url: str) -> tuple[Any, Call]:
    from omniembed import DashScopeEmbedder

    emb = DashScopeEmbedder(api_key=DASHSCOPE_KEY, base_url=url)
    return emb, lambda inputs: emb.aembed(inputs)


def llama_index(url: str) -> tuple[Any, Call]:
    from omniembed.llama_index import GeminiMultiModalEmbedding

    emb = GeminiMultiModalEmbedding(model_name=TEXT_MODEL, api_key=API_KEY, base_url=url)
    return emb, lambda texts: emb.aget_text_embedding_batch(texts)


def langchain(url: str) -> tuple[Any, Call]:
    from pydantic import SecretStr

    from omniembed.langchain import GeminiEmbeddings

    emb = GeminiEmbeddings(model=TEXT_MODEL, api_key=SecretStr(API_KEY), base_url=url)
    return emb, lambda texts: emb.aembed_documents(texts)


def anchor_llama_index(url: str) -> tuple[Any, Call]:
    from google.genai import types
    from llama_index.embeddings.google_genai import GoogleGenAIEmbedding

    emb = GoogleGenAIEmbedding(
        model_name=TEXT_MODEL, api_key=API_KEY, http_options=types.HttpOptions(base_url=url)
    )
    return emb, lambda texts: emb.aget_text_embedding_batch(texts)


def anchor_langchain(url: str) -> tuple[Any, Call]:
    from langchain_google_genai import GoogleGenerativeAIEmbeddings
    from pydantic import SecretStr

    emb = GoogleGenerativeAIEmbeddings(model=TEXT_MODEL, api_key=SecretStr(API_KEY), base_url=url)
    return emb, lambda texts: emb.aembed_documents(texts)


def anchor_dashscope(url: str) -> tuple[Any, Call]:
    import dashscope as sdk
    from llama_index.embeddings.dashscope import DashScopeEmbedding

    # The SDK reads its endpoint from this module attribute at call time; local images are
    # uploaded through its upload flow (the emulator serves it) and sent as oss:// URLs.
    sdk.base_http_api_url = url + "/api/v1"
    emb = DashScopeEmbedding(model_name="tongyi-embedding-vision-plus", api_key=DASHSCOPE_KEY)
    return emb, lambda paths: emb.aget_image_embedding_batch([str(p) for p in paths])


CASES = [
    Case(
        "gemini-001", "omniembed GeminiEmbedder gemini-embedding-001", "texts", gemini(TEXT_MODEL)
    ),
    Case(
        "gemini-2",
        "omniembed GeminiEmbedder gemini-embedding-2",
        "texts",
        gemini("gemini-embedding-2"),
    ),
    Case(
        "vertex-001",
        "omniembed GeminiEmbedder gemini-embedding-001 (Vertex AI)",
        "texts",
        gemini_vertex,
    ),
    Case("dashscope", "omniembed DashScopeEmbedder", "texts", dashscope, ("dashscope",)),
    Case(
        "llamaindex",
        "omniembed GeminiMultiModalEmbedding (LlamaIndex)",
        "texts",
        llama_index,
        ("llama_index.core",),
    ),
    Case(
        "langchain",
        "omniembed GeminiEmbeddings (LangChain)",
        "texts",
        langchain,
        ("langchain_core",),
    ),
    Case(
        "gemini-2-images",
        "omniembed GeminiEmbedder gemini-embedding-2",
        "images",
        gemini("gemini-embedding-2"),
        ("PIL",),
    ),
    Case(
        "vertex-mm-images",
        "omniembed VertexMultiModalEmbedder",
        "images",
        vertex_multimodal,
        ("PIL",),
    ),
    Case(
        "dashscope-images",
        "omniembed DashScopeEmbedder",
        "images",
        dashscope,
        ("dashscope", "PIL"),
    ),
    Case(
        "anchor-llamaindex",
        "LlamaIndex GoogleGenAIEmbedding",
        "texts",
        anchor_llama_index,
        ("llama_index.embeddings.google_genai",),
        anchor=True,
    ),
    Case(
        "anchor-langchain",
        "LangChain GoogleGenerativeAIEmbeddings",
        "texts",
        anchor_langchain,
        ("langchain_google_genai",),
        anchor=True,
    ),
    Case(
        "anchor-dashscope",
        "LlamaIndex DashScopeEmbedding",
        "images",
        anchor_dashscope,
        ("llama_index.embeddings.dashscope", "PIL"),
        anchor=True,
    ),
]


def _missing(case: Case) -> str | None:
    for module in case.requires:
        try:
            if util.find_spec(module) is None:
                return module
        except ModuleNotFoundError:
            return module
    return None


async def run_case(
    case: Case, url: str, inputs: Sequence[Any], repeat: int, freeze: bool
) -> CaseResult:
    result = CaseResult(case.key, case.label, f"{len(inputs)} {case.kind}")
    client, call = case.build(url)
    lags: list[float] = []
    busy: list[float] = []
    walls: list[float] = []
    try:
        await call(list(inputs[:2]))  # warm-up: imports, connections, first-call caches
        for _ in range(repeat):
            gc.collect()
            if freeze:
                gc.freeze()
            monitor = LagMonitor()
            try:
                with GcPauses() as pauses:
                    vectors, seconds = await monitor.measure(lambda: call(list(inputs)))
            finally:
                if freeze:
                    gc.unfreeze()
            if len(vectors) != len(inputs):
                raise RuntimeError(f"{len(vectors)} results for {len(inputs)} inputs")
            lags.extend(monitor.lags)
            busy.extend(monitor.busy)
            walls.append(seconds)
            result.gc_ms = max(result.gc_ms, pauses.longest * 1000)
    finally:
        await _closing(client)()
    ordered = sorted(lags)
    result.max_ms = ordered[-1] * 1000
    result.p99_ms = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    result.busy_ms = max(busy) * 1000
    result.wall_s = statistics.median(walls)
    return result


# --------------------------------------------------------------------------- output


def render(results: list[CaseResult]) -> str:
    lines = [
        "| client | inputs | max lag, ms | p99 lag, ms | busy max, ms | wall, s "
        "| longest GC pause, ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r.max_ms is None:
            lines.append(f"| {r.label} | {r.items} | {r.note} | | | | |")
            continue
        assert r.p99_ms is not None and r.busy_ms is not None and r.wall_s is not None
        lines.append(
            f"| {r.label} | {r.items} | {r.max_ms:.1f} | {r.p99_ms:.1f} | {r.busy_ms:.1f} | "
            f"{r.wall_s:.2f} | {r.gc_ms:.1f} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=500, help="texts per call (500)")
    parser.add_argument("--images", type=int, default=50, help="images per call (50)")
    parser.add_argument("--repeat", type=int, default=3, help="measured calls per case (3)")
    parser.add_argument("--quick", action="store_true", help="100 texts, 10 images, 1 call")
    parser.add_argument(
        "--only", action="append", choices=[c.key for c in CASES], help="cases to run"
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="emulator latency (0)")
    parser.add_argument("--no-freeze", action="store_true", help="count full GC pauses too")
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    args = parser.parse_args(argv)
    if args.quick:
        args.texts, args.images, args.repeat = 100, 10, 1
    return args


async def run(args: argparse.Namespace, url: str, images: list[Path]) -> list[CaseResult]:
    texts = make_texts(args.texts)
    results = []
    for case in CASES:
        if args.only and case.key not in args.only:
            continue
        missing = _missing(case)
        if missing is not None:
            print(f"{case.label}: not installed ({missing})", flush=True)
            results.append(CaseResult(case.key, case.label, "", note="not installed"))
            continue
        inputs: Sequence[Any] = texts if case.kind == "texts" else images
        try:
            result = await run_case(case, url, inputs, args.repeat, not args.no_freeze)
        except Exception as exc:  # a failing anchor is a result; omniembed's is an error
            log.debug("case %s failed", case.key, exc_info=True)
            message = f"{type(exc).__name__}: {str(exc)[:120]}"
            print(f"{case.label}: fails ({message})", flush=True)
            result = CaseResult(case.key, case.label, "", note=f"fails ({message})")
            if not case.anchor:
                result.note = "FAILED"
        else:
            print(
                f"{case.label}, {result.items}: max {result.max_ms:.1f} ms, "
                f"p99 {result.p99_ms:.1f} ms, busy {result.busy_ms:.1f} ms",
                flush=True,
            )
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    print(
        f"# loop lag: {args.texts} texts / {args.images} images, {args.repeat} call(s) per "
        f"case, emulator latency {args.latency_ms:g} ms, gc.freeze {not args.no_freeze}; "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="omniembed-loop-lag-") as folder:
        images = make_images(Path(folder), args.images)
        try:
            emulator = Emulator(args.latency_ms).__enter__()
        except (OSError, RuntimeError) as exc:
            print(f"the emulator did not start: {exc}", file=sys.stderr)
            return 2
        try:
            results = asyncio.run(run(args, emulator.base_url, images))
        finally:
            emulator.__exit__()
    print()
    print(render(results))
    return 1 if any(r.note == "FAILED" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
