#!/usr/bin/env python3
"""Side by side: omniembed against the integrations users know, one run, one table.

For each provider, omniembed's embedder and the integrations people reach for, all
pointed at the same emulator running in its own process:

* Gemini API: omniembed ``GeminiEmbedder`` vs LlamaIndex ``GoogleGenAIEmbedding``
  (llama-index-embeddings-google-genai) and LangChain ``GoogleGenerativeAIEmbeddings``
  (langchain-google-genai);
* DashScope: omniembed ``DashScopeEmbedder`` vs LlamaIndex ``DashScopeEmbedding``
  (llama-index-embeddings-dashscope, through the dashscope SDK);
* Vertex AI ``multimodalembedding@001``: omniembed ``VertexMultiModalEmbedder`` vs a naive
  REST loop (httpx, one request per item, no retries or pacing; `media_payload.NaiveClient`
  for media).

Metrics (ratios against omniembed in the same run; absolute values for context):

1. ``throughput``: items/s under a stated quota and 200 ms latency per request;
2. ``cpu``: client-process CPU time per item at zero latency (``time.process_time()``);
3. ``bytes``: request bytes uploaded for 12 MP photos and a 10-minute video (the
   emulator's ``body_size`` per request, all routes: uploads included);
4. ``memory``: peak RSS embedding a ~1 GB video and a 300-page PDF, each case in a fresh
   subprocess (its ``ru_maxrss`` from ``os.wait4``), next to the same client's baseline
   (imported, one small item embedded);
5. ``faults``: items returned OK, items silently missing or empty, and exceptions raised,
   under 10% 429 (with retryDelay), 5% 503, 2% connection resets and 1% slow answers.

``--quick`` is a smoke run (small corpora, small media, 1 call per fault test); ``--only``
picks clients (``omniembed``, ``llamaindex``, ``langchain``, ``dashscope-llamaindex``,
``naive``), ``--metrics`` picks metrics. Clients whose package is not installed are
reported as "not installed" and skipped. Prints one Markdown table (and method notes);
``--write-doc`` appends it to docs/performance.md under "Side by side".
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import util
from pathlib import Path
from typing import Any

import gemini_throughput as gt  # benchmarks/ is on sys.path when run as a script
import media_payload as mp
from compare_media import (
    BIG_VIDEO_BIT_RATE,
    PDF_PAGES,
    cached,
    make_big_video,
    make_pdf,
    make_small_images,
)
from emulator_logged import LoggedEmulator

log = logging.getLogger("benchmarks.compare")

HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "performance.md"
DASHSCOPE_MODEL = "tongyi-embedding-vision-plus"
DASHSCOPE_KEY = "sk-bench-not-a-real-key"
LATENCY_MS = 200.0
QUOTA_RPM = 600.0
QUOTAS = {"batchEmbedContents": QUOTA_RPM, "predict": QUOTA_RPM, "multimodalEmbedding": QUOTA_RPM}
FAULTS = {"429": 0.10, "503": 0.05, "reset": 0.02, "slow": 0.01, "retry_delay_s": 1.0}
#: Slow answers take this long; every client that has a timeout knob gets FAULT_TIMEOUT_S.
SLOW_S = 3.0
FAULT_TIMEOUT_S = 2.0
#: Segment lengths that keep each local clip under the provider's per-item limit for the
#: ~4.5 Mbit/s video (gemini-embedding-2: one 20 MB request; DashScope: 10 MB per video).
GEMINI_CLIP_S = 20.0
DASHSCOPE_CLIP_S = 15.0
LONG_VIDEO_CLIP_S = 120.0
PDF_CHUNK = 20  # pages per embed() call on the PDF path


@dataclass(frozen=True)
class Sizes:
    texts: int  # Gemini text chunks (throughput)
    vertex: int  # Vertex short texts (throughput)
    images: int  # DashScope small images (throughput)
    cpu_scale: int  # CPU workload = throughput workload x this
    fault_calls: int
    photos: int
    video_s: float
    big_video_s: float
    pdf_pages: int


FULL = Sizes(1000, 100, 60, 2, 10, 20, 600.0, 1800.0, PDF_PAGES)
QUICK = Sizes(100, 10, 10, 1, 1, 2, 150.0, 60.0, 30)


@dataclass(frozen=True)
class Ctx:
    url: str
    rpm: float | None = None
    timeout: float | None = None


# --------------------------------------------------------------------------- clients
# Every client: defaults except what points it at the emulator (endpoint, key), the quota
# for omniembed in the throughput test (its `requests_per_minute`), and a timeout in the
# fault test where the client has a knob for one.


def _omni_vectors(results: Sequence[Any]) -> list[list[float] | None]:
    return [r.vector if r.ok else None for r in results]


def gemini_omniembed(ctx: Ctx, texts: list[str]) -> list[Any]:
    from omniembed import GeminiEmbedder, Task

    extra = {} if ctx.timeout is None else {"timeout": ctx.timeout}
    emb = GeminiEmbedder(
        gt.MODEL, api_key=gt.API_KEY, base_url=ctx.url, requests_per_minute=ctx.rpm, **extra
    )
    try:
        return _omni_vectors(emb.embed(texts, task=Task.RETRIEVAL_DOCUMENT))
    finally:
        gt._close(emb)


def gemini_llamaindex(ctx: Ctx, texts: list[str]) -> list[Any]:
    from google.genai import types
    from llama_index.embeddings.google_genai import GoogleGenAIEmbedding

    timeout = None if ctx.timeout is None else int(ctx.timeout * 1000)
    emb = GoogleGenAIEmbedding(
        model_name=gt.MODEL,
        api_key=gt.API_KEY,
        http_options=types.HttpOptions(base_url=ctx.url, timeout=timeout),
    )
    return list(emb.get_text_embedding_batch(texts))


def gemini_langchain(ctx: Ctx, texts: list[str]) -> list[Any]:
    from langchain_google_genai import GoogleGenerativeAIEmbeddings
    from pydantic import SecretStr

    extra = {} if ctx.timeout is None else {"request_options": {"timeout": ctx.timeout}}
    emb = GoogleGenerativeAIEmbeddings(
        model=gt.MODEL, api_key=SecretStr(gt.API_KEY), base_url=ctx.url, **extra
    )
    return list(emb.embed_documents(texts))


def dashscope_omniembed(ctx: Ctx, images: list[Path]) -> list[Any]:
    from omniembed import DashScopeEmbedder, Media

    extra = {} if ctx.timeout is None else {"timeout": ctx.timeout}
    with DashScopeEmbedder(
        DASHSCOPE_MODEL,
        api_key=DASHSCOPE_KEY,
        base_url=ctx.url + "/api/v1",
        requests_per_minute=ctx.rpm,
        **extra,
    ) as emb:
        return _omni_vectors(emb.embed([Media.from_path(p) for p in images]))


def dashscope_llamaindex(ctx: Ctx, images: list[Path]) -> list[Any]:
    import dashscope
    from llama_index.embeddings.dashscope import DashScopeEmbedding

    # The SDK reads its endpoint from this module attribute at call time (no per-call
    # option in DashScopeEmbedding); local files are uploaded by the SDK (upload policy,
    # then the upload host) and sent as oss:// URLs. It has no timeout knob.
    dashscope.base_http_api_url = ctx.url + "/api/v1"
    emb = DashScopeEmbedding(model_name=DASHSCOPE_MODEL, api_key=DASHSCOPE_KEY)
    return list(emb.get_image_embedding_batch([str(p) for p in images]))


def vertex_omniembed(ctx: Ctx, texts: list[str]) -> list[Any]:
    from omniembed import VertexMultiModalEmbedder

    extra = {} if ctx.timeout is None else {"timeout": ctx.timeout}
    emb = VertexMultiModalEmbedder(
        project=mp.PROJECT,
        location=mp.LOCATION,
        access_token=mp.TOKEN,
        base_url=ctx.url,
        requests_per_minute=ctx.rpm,
        **extra,
    )
    try:
        return _omni_vectors(emb.embed(texts))
    finally:
        emb.close()


def vertex_naive(ctx: Ctx, texts: list[str]) -> list[Any]:
    """The loop people write first: one POST per item, raise on the first error."""
    import httpx

    url = mp.predict_url(ctx.url)
    out = []
    with httpx.Client(
        timeout=ctx.timeout or 300.0, headers={"Authorization": f"Bearer {mp.TOKEN}"}
    ) as client:
        for text in texts:
            body = {"instances": [{"text": text}], "parameters": {"dimension": mp.DIMENSION}}
            response = client.post(url, json=body)
            response.raise_for_status()
            out.append(response.json()["predictions"][0]["textEmbedding"])
    return out


# Media paths (bytes uploaded) -------------------------------------------------------


def gemini_omniembed_media(url: str, photos: list[Path], video: Path, kind: str) -> int:
    from omniembed import GeminiEmbedder, Media, VideoSegmentConfig

    emb = GeminiEmbedder("gemini-embedding-2", api_key=gt.API_KEY, base_url=url)
    try:
        if kind == "photos":
            return sum(r.ok for r in emb.embed([Media.from_path(p) for p in photos]))
        return len(emb.embed_video(video, VideoSegmentConfig(interval_sec=LONG_VIDEO_CLIP_S)))
    finally:
        gt._close(emb)


def dashscope_omniembed_media(url: str, photos: list[Path], video: Path, kind: str) -> int:
    from omniembed import DashScopeEmbedder, Media, VideoSegmentConfig

    with DashScopeEmbedder(DASHSCOPE_MODEL, api_key=DASHSCOPE_KEY, base_url=url + "/api/v1") as e:
        if kind == "photos":
            return sum(r.ok for r in e.embed([Media.from_path(p) for p in photos]))
        return len(e.embed_video(video, VideoSegmentConfig(interval_sec=LONG_VIDEO_CLIP_S)))


def dashscope_llamaindex_media(url: str, photos: list[Path], video: Path, kind: str) -> int:
    assert kind == "photos"
    vectors = dashscope_llamaindex(Ctx(url), photos)
    return sum(1 for v in vectors if v)


def vertex_omniembed_media(url: str, photos: list[Path], video: Path, kind: str) -> int:
    out = mp.run_omniembed(url, photos, video, kind)
    return len(out.images) if kind == "photos" else len(out.segments)


def vertex_naive_media(url: str, photos: list[Path], video: Path, kind: str) -> int:
    from compare_media import probe_seconds

    out = mp.NaiveClient(url, 1).run(photos, video, probe_seconds(video), kind)
    return len(out.images) if kind == "photos" else len(out.segments)


@dataclass(frozen=True)
class Client:
    provider: str
    name: str
    key: str  # --only key
    requires: tuple[str, ...]
    run: Callable[[Ctx, list[Any]], list[Any]]
    workload: str  # "texts" | "short texts" | "images"
    media: Callable[[str, list[Path], Path, str], int] | None = None
    #: Why photos / video / the memory cases are not measured, when they are not.
    no_photos: str | None = None
    no_video: str | None = None
    no_pdf: str | None = None

    @property
    def omniembed(self) -> bool:
        return self.key == "omniembed"

    @property
    def label(self) -> str:
        return f"{self.provider} — {self.name}"

    def missing(self) -> str | None:
        absent = [m for m in self.requires if not _importable(m)]
        return f"not installed ({', '.join(absent)})" if absent else None


def _importable(module: str) -> bool:
    try:
        return util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


_GEMINI_NA = "n/a — text only"
CLIENTS = [
    Client(
        "Gemini API",
        "omniembed GeminiEmbedder",
        "omniembed",
        ("omniembed", "google.genai"),
        gemini_omniembed,
        "texts",
        gemini_omniembed_media,
    ),
    Client(
        "Gemini API",
        "LlamaIndex GoogleGenAIEmbedding",
        "llamaindex",
        ("llama_index.embeddings.google_genai",),
        gemini_llamaindex,
        "texts",
        no_photos=_GEMINI_NA,
        no_video=_GEMINI_NA,
        no_pdf=_GEMINI_NA,
    ),
    Client(
        "Gemini API",
        "LangChain GoogleGenerativeAIEmbeddings",
        "langchain",
        ("langchain_google_genai",),
        gemini_langchain,
        "texts",
        no_photos=_GEMINI_NA,
        no_video=_GEMINI_NA,
        no_pdf=_GEMINI_NA,
    ),
    Client(
        "DashScope",
        "omniembed DashScopeEmbedder",
        "omniembed",
        ("omniembed", "dashscope"),
        dashscope_omniembed,
        "images",
        dashscope_omniembed_media,
    ),
    Client(
        "DashScope",
        "LlamaIndex DashScopeEmbedding",
        "dashscope-llamaindex",
        ("llama_index.embeddings.dashscope", "dashscope"),
        dashscope_llamaindex,
        "images",
        dashscope_llamaindex_media,
        no_video="n/a — no video input",
        no_pdf="n/a — no PDF input",
    ),
    Client(
        "Vertex AI",
        "omniembed VertexMultiModalEmbedder",
        "omniembed",
        ("omniembed", "httpx"),
        vertex_omniembed,
        "short texts",
        vertex_omniembed_media,
    ),
    Client(
        "Vertex AI",
        "naive REST loop (httpx)",
        "naive",
        ("httpx",),
        vertex_naive,
        "short texts",
        vertex_naive_media,
        no_pdf="n/a — the model takes no PDF",
    ),
]


# --------------------------------------------------------------------------- workloads


def workload(client: Client, sizes: Sizes, scale: int, cache: Path) -> list[Any]:
    if client.workload == "texts":
        return gt.make_corpus(sizes.texts * scale)
    if client.workload == "short texts":
        # multimodalembedding@001 reads 32 tokens of text: the first 12 words of a chunk.
        return [" ".join(c.split()[:12]) for c in gt.make_corpus(sizes.vertex * scale, seed=77)]
    return make_small_images(cache / "small_images", sizes.images * scale)


def check(vectors: list[Any], count: int) -> tuple[int, int]:
    """(vectors OK, missing or empty) — a vector is OK when it is a non-empty list."""
    ok = sum(1 for v in vectors if isinstance(v, list) and len(v) > 0)
    return ok, count - ok


@dataclass
class Cell:
    value: float | None = None
    text: str = ""  # what to show when value is None (n/a, not installed, error)
    detail: str = ""
    #: False when the client failed part-way: the value is what it did before failing
    #: (shown, but not turned into a ratio).
    complete: bool = True


@dataclass
class Row:
    client: Client
    cells: dict[str, Cell] = field(default_factory=dict)


def _run_threaded(fn: Callable[[], Any], timeout: float) -> Any:
    """``fn()`` in a thread: a hung client is reported, not waited for forever."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["out"] = fn()
        except BaseException as exc:  # re-raised below
            box["err"] = exc

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no result after {timeout:g} s")
    if "err" in box:
        raise box["err"]
    return box["out"]


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:160]


def _failed(exc: BaseException) -> Cell:
    return Cell(text=f"fails ({_error(exc)[:48]})", detail=_error(exc))


# 1. throughput ---------------------------------------------------------------------------


def measure_throughput(clients: list[Client], rows: dict[str, Row], sizes: Sizes, args: Any) -> str:
    with LoggedEmulator(args.tmp / "throughput.jsonl", latency_ms=LATENCY_MS, quotas=QUOTAS) as emu:
        for client in clients:
            items = workload(client, sizes, 1, args.cache)
            rpm = QUOTA_RPM if client.omniembed else None
            try:  # an unmeasured warm-up: imports, first connections, emulator caches
                client.run(Ctx(emu.base_url, rpm=rpm), items[:2])
                time.sleep(max(1.0, 60.0 / QUOTA_RPM) + 0.3)  # a full quota bucket for everyone
                mark = emu.mark()
                started = time.perf_counter()
                vectors = _run_threaded(
                    lambda c=client, i=items, r=rpm: c.run(Ctx(emu.base_url, rpm=r), i),
                    args.timeout,
                )
            except Exception as exc:
                rows[client.label].cells["throughput"] = _failed(exc)
                continue
            seconds = time.perf_counter() - started
            ok, bad = check(vectors, len(items))
            records = emu.since(mark)
            rejected = sum(1 for r in records if r["status"] == 429)
            detail = f"{len(items)} {client.workload} in {seconds:.2f} s, {len(records)} requests"
            detail += f" ({rejected}×429)" if rejected else ""
            detail += f", {bad} missing" if bad else ""
            rows[client.label].cells["throughput"] = Cell(ok / seconds, detail=detail)
    return (
        f"quota {QUOTA_RPM:g} requests/min on each embedding route, {LATENCY_MS:g} ms latency "
        f"per request; Gemini: {sizes.texts} text chunks (gemini-embedding-001, 3,072-d), "
        f"DashScope: {sizes.images} small PNGs ({DASHSCOPE_MODEL}), Vertex: {sizes.vertex} "
        "short texts; one run per client; omniembed told the quota (requests_per_minute)"
    )


# 2. CPU per item ---------------------------------------------------------------------------


def measure_cpu(clients: list[Client], rows: dict[str, Row], sizes: Sizes, args: Any) -> str:
    with LoggedEmulator(args.tmp / "cpu.jsonl") as emu:
        for client in clients:
            items = workload(client, sizes, sizes.cpu_scale, args.cache)
            try:  # an unmeasured warm-up: imports, first connections, emulator caches
                client.run(Ctx(emu.base_url), items[:2])
                cpu0, wall0 = time.process_time(), time.perf_counter()
                vectors = client.run(Ctx(emu.base_url), items)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            except Exception as exc:
                rows[client.label].cells["cpu"] = _failed(exc)
                continue
            _, bad = check(vectors, len(items))
            detail = f"{cpu:.2f} s CPU, {wall:.2f} s wall for {len(items)}"
            detail += f", {bad} missing" if bad else ""
            rows[client.label].cells["cpu"] = Cell(1000 * cpu / len(items), detail=detail)
    return (
        "emulator with no latency and no quota; CPU time of the client process "
        "(time.process_time(), all threads) per item; workloads "
        f"{sizes.cpu_scale}× the throughput ones; one warm-up call first"
    )


# 3. bytes uploaded ---------------------------------------------------------------------------


def measure_bytes(clients: list[Client], rows: dict[str, Row], sizes: Sizes, args: Any) -> str:
    photo_dir = args.cache / f"photos_{sizes.photos}"
    photo_dir.mkdir(parents=True, exist_ok=True)
    photos = sorted(photo_dir.glob("photo_*.jpg"))
    if len(photos) != sizes.photos:
        photos = mp.make_photos(photo_dir, sizes.photos)
    video, _ = cached(
        args.cache / f"video_{sizes.video_s:g}s.mp4", lambda p: mp.make_video(p, sizes.video_s)
    )
    photo_mb = sum(p.stat().st_size for p in photos) / 1e6
    video_mb = video.stat().st_size / 1e6
    with LoggedEmulator(args.tmp / "bytes.jsonl") as emu:
        for client in clients:
            for kind, reason in (("photos", client.no_photos), ("video", client.no_video)):
                if reason or client.media is None:
                    rows[client.label].cells[kind] = Cell(text=reason or "n/a")
                    continue
                mark = emu.mark()
                problem = ""
                try:
                    got = _run_threaded(
                        lambda c=client, k=kind: c.media(emu.base_url, photos, video, k),  # type: ignore[misc]
                        args.timeout,
                    )
                    if kind == "photos" and got != len(photos):
                        problem = f"{len(photos) - got} of {len(photos)} photos missing"
                except Exception as exc:
                    problem = _error(exc)
                records = emu.since(mark)
                total = sum(r["body_size"] for r in records)
                statuses = sorted({str(r["status"]) for r in records} - {"200"})
                detail = f"{len(records)} requests" + (
                    f" (statuses {', '.join(statuses)})" if statuses else ""
                )
                if problem:
                    detail += f"; {problem}"
                rows[client.label].cells[kind] = Cell(
                    total / 1e6, detail=detail, complete=not problem
                )
    return (
        f"{sizes.photos} photos of 4000×3000 (12 MP JPEG, {photo_mb:.1f} MB in all) embedded "
        f"as images, and one {sizes.video_s:g} s 640×360 video ({video_mb:.1f} MB) embedded "
        f"as {LONG_VIDEO_CLIP_S:g} s segments; bytes = sum of the request bodies the emulator "
        "received (its body_size), every route, uploads included; no latency, no quota"
    )


# 4. peak memory ------------------------------------------------------------------------------


def memory_case(case: str, url: str, path: str) -> dict[str, Any]:
    """Run in a fresh subprocess: one client embedding one file (or the baseline)."""
    provider, what = case.split(":")
    from omniembed import Media, VideoSegmentConfig

    if provider == "vertex-naive":
        if what == "baseline":
            return {"items": len(vertex_naive(Ctx(url), ["a small text"]))}
        from compare_media import probe_seconds

        source = Path(path)
        out = mp.NaiveClient(url, 1).run([], source, probe_seconds(source), "video")
        return {"items": len(out.segments)}
    if provider == "gemini":
        from omniembed import GeminiEmbedder

        emb: Any = GeminiEmbedder("gemini-embedding-2", api_key=gt.API_KEY, base_url=url)
        clip, as_pdf = GEMINI_CLIP_S, True
    elif provider == "dashscope":
        from omniembed import DashScopeEmbedder

        emb = DashScopeEmbedder(DASHSCOPE_MODEL, api_key=DASHSCOPE_KEY, base_url=url + "/api/v1")
        clip, as_pdf = DASHSCOPE_CLIP_S, False
    else:
        from omniembed import VertexMultiModalEmbedder

        # No pacing: all 8 windows may be in flight at once (the most memory).
        emb = VertexMultiModalEmbedder(
            project=mp.PROJECT,
            location=mp.LOCATION,
            access_token=mp.TOKEN,
            base_url=url,
            tier=None,  # no client quota
        )
        clip, as_pdf = None, False
    if what == "baseline":
        return {"items": len(emb.embed(["a small text"]))}
    if what == "video":
        config = VideoSegmentConfig(interval_sec=clip) if clip else None
        return {"items": len(emb.embed_video(path, config))}
    from omniembed.media.pdf import iter_pages

    # The documented page-by-page path, PDF_CHUNK pages per call so no more than that are
    # held at once: one-page PDFs for gemini-embedding-2, rendered pages (96 dpi) elsewhere.
    done, chunk = 0, []
    for page in iter_pages(Media.from_path(path), render=not as_pdf, split=as_pdf):
        chunk.append(page.pdf_media() if as_pdf else page.image_media())
        if len(chunk) == PDF_CHUNK:
            done += len(emb.embed(chunk))
            chunk = []
    if chunk:
        done += len(emb.embed(chunk))
    return {"items": done}


#: Runs its arguments as its only child and prints that child's peak RSS. A child forked
#: straight from this (large) benchmark process would inherit the parent's RSS as its
#: ru_maxrss (Linux keeps the pre-exec high-water mark), so the case is started from this
#: small launcher instead.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
    "sys.exit(code)\n"
)


def _memory_subprocess(case: str, url: str, path: Path, timeout: float) -> tuple[float, str]:
    """Peak RSS (MB) of a fresh interpreter running ``case``, and what it reported."""
    cmd = [sys.executable, "-S", "-c", _LAUNCHER, sys.executable, __file__]
    cmd += ["--memory-case", case, "--url", url, "--path", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float("nan"), f"no result after {timeout:g} s"
    found = [line.split() for line in done.stdout.splitlines() if line.startswith("MAXRSS ")]
    # ru_maxrss: kilobytes on Linux, bytes on macOS.
    peak = int(found[-1][1]) / (1e6 if sys.platform == "darwin" else 1e3) if found else float("nan")
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode == 0 and lines:
        return peak, json.loads(lines[-1][7:]).get("summary", "")
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    return peak, f"failed: {tail[0][:200]}"


_MEMORY_CASES = {
    "Gemini API — omniembed GeminiEmbedder": "gemini",
    "DashScope — omniembed DashScopeEmbedder": "dashscope",
    "Vertex AI — omniembed VertexMultiModalEmbedder": "vertex",
    "Vertex AI — naive REST loop (httpx)": "vertex-naive",
}


def measure_memory(clients: list[Client], rows: dict[str, Row], sizes: Sizes, args: Any) -> str:
    big, big_s = cached(
        args.cache / f"video_big_{sizes.big_video_s:g}s.mp4",
        lambda p: make_big_video(p, sizes.big_video_s),
    )
    pdf, pdf_s = cached(
        args.cache / f"pdf_{sizes.pdf_pages}_pages.pdf", lambda p: make_pdf(p, sizes.pdf_pages)
    )
    if big_s or pdf_s:
        print(f"(generated the memory-test media in {big_s:.0f} s + {pdf_s:.0f} s)", flush=True)
    with LoggedEmulator(args.tmp / "memory.jsonl") as emu:
        for client in clients:
            prefix = _MEMORY_CASES.get(client.label)
            row = rows[client.label]
            if prefix is None:
                row.cells["mem_video"] = Cell(text=client.no_video or "n/a")
                row.cells["mem_pdf"] = Cell(text=client.no_pdf or "n/a")
                continue
            base, _ = _memory_subprocess(f"{prefix}:baseline", emu.base_url, big, args.timeout)
            for what, source, reason in (
                ("video", big, client.no_video),
                ("pdf", pdf, client.no_pdf),
            ):
                if reason:
                    row.cells[f"mem_{what}"] = Cell(text=reason)
                    continue
                mark = emu.mark()
                peak, summary = _memory_subprocess(
                    f"{prefix}:{what}", emu.base_url, source, args.timeout
                )
                records = emu.since(mark)
                sent = sum(r["body_size"] for r in records) / 1e6
                statuses = sorted({str(r["status"]) for r in records} - {"200"})
                detail = f"baseline {base:,.0f} MB; {summary}; "
                detail += f"{len(records)} requests, {sent:,.0f} MB sent"
                detail += f" (statuses {', '.join(statuses)})" if statuses else ""
                row.cells[f"mem_{what}"] = Cell(
                    peak, detail=detail, complete=not summary.startswith(("failed", "no result"))
                )
    return (
        f"a {big.stat().st_size / 1e9:.2f} GB video ({sizes.big_video_s:g} s, 640×360 MPEG-4 at "
        f"{BIG_VIDEO_BIT_RATE / 1e6:g} Mbit/s, keyframe every second) and a "
        f"{sizes.pdf_pages}-page PDF ({pdf.stat().st_size / 1e6:.0f} MB, one JPEG per A4 page); "
        "each case in a fresh interpreter, peak RSS = its ru_maxrss (os.wait4); baseline = the "
        "same client in a fresh interpreter embedding one short text; video: embed_video with "
        f"{GEMINI_CLIP_S:g} s clips (Gemini), {DASHSCOPE_CLIP_S:g} s clips (DashScope), the "
        "service's 16 s segments in 120 s windows (Vertex, no pacing: 8 windows in flight); PDF: "
        f"iter_pages, {PDF_CHUNK} pages per embed() call (one-page PDFs for gemini-embedding-2, "
        "96 dpi renders otherwise); the naive loop base64-uploads the whole file per window and "
        "stops at the first error"
    )


# 5. faults --------------------------------------------------------------------------------


def measure_faults(clients: list[Client], rows: dict[str, Row], sizes: Sizes, args: Any) -> str:
    faults = {**FAULTS, "slow_seconds": SLOW_S}
    for client in clients:
        items = workload(client, sizes, sizes.cpu_scale, args.cache)
        calls = max(1, sizes.fault_calls)
        size = -(-len(items) // calls)
        ok = silent = raised = reported = 0
        examples: list[str] = []
        # A fresh emulator per client with the same seed: every client meets the same
        # sequence of faults on its first requests.
        with LoggedEmulator(
            args.tmp / f"faults-{client.key}-{client.provider[:3]}.jsonl", faults=faults, seed=7
        ) as emu:
            ctx = Ctx(emu.base_url, timeout=FAULT_TIMEOUT_S)
            for start in range(0, len(items), size):
                chunk = items[start : start + size]
                try:
                    vectors = _run_threaded(
                        lambda c=chunk, cl=client, x=ctx: cl.run(x, c), args.timeout
                    )
                except Exception as exc:
                    raised += 1
                    partial = getattr(exc, "results", None)  # omniembed's PartialFailureError
                    if partial is not None:
                        good = sum(1 for r in partial if r.ok)
                        ok += good
                        reported += len(chunk) - good
                    if len(examples) < 2:
                        examples.append(_error(exc))
                    continue
                good, bad = check(vectors, len(chunk))
                ok += good
                silent += bad
            records = emu.since(0)
        statuses: dict[str, int] = {}
        for r in records:
            statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
        faults_seen = sum(n for s, n in statuses.items() if s != "200")
        detail = (
            f"{len(items)} items in {calls} calls; {len(records)} requests, {faults_seen} faulted"
            f" ({', '.join(f'{n}×{s}' for s, n in sorted(statuses.items()) if s != '200')})"
        )
        if reported:
            detail += f"; {reported} items reported failed in PartialFailureError"
        if examples:
            detail += "; e.g. " + " | ".join(examples)
        rows[client.label].cells["faults"] = Cell(
            None, text=f"{ok} / {silent} / {raised}", detail=detail
        )
        rows[client.label].cells["faults_ok"] = Cell(ok / len(items))
    return (
        "per request: 10% 429 (retryDelay 1 s), 5% 503, 2% connection reset, 1% answered "
        f"after {SLOW_S:g} s; every client with a timeout knob set to {FAULT_TIMEOUT_S:g} s "
        "(the DashScope SDK has none in DashScopeEmbedding: it waits); a fresh emulator with "
        "the same seed per client; no latency, no quota. Cell: items returned OK / items "
        "silently missing or empty / calls that raised"
    )


# --------------------------------------------------------------------------- report

METRICS = {
    "throughput": measure_throughput,
    "cpu": measure_cpu,
    "bytes": measure_bytes,
    "memory": measure_memory,
    "faults": measure_faults,
}

COLUMNS = [
    # (cell key, header, unit formatter, higher_is_better)
    ("throughput", "throughput, items/s (quota, 200 ms)", "{:,.1f}", True),
    ("cpu", "CPU ms/item (0 ms latency)", "{:,.2f}", False),
    ("photos", "MB uploaded: 12 MP photos", "{:,.1f}", False),
    ("video", "MB uploaded: 10-min video", "{:,.1f}", False),
    ("mem_video", "peak RSS MB: 1 GB video", "{:,.0f}", False),
    ("mem_pdf", "peak RSS MB: 300-page PDF", "{:,.0f}", False),
    ("faults", "fault mix: OK / silent missing / raised", "", True),
]


def render(rows: list[Row], metrics: Sequence[str], quick: bool) -> str:
    wanted = {
        "throughput": ["throughput"],
        "cpu": ["cpu"],
        "bytes": ["photos", "video"],
        "memory": ["mem_video", "mem_pdf"],
        "faults": ["faults"],
    }
    keys = [k for m in metrics for k in wanted[m]]
    columns = [c for c in COLUMNS if c[0] in keys]
    header = ["provider", "client", *(c[1] for c in columns)]
    if quick:
        header = [h.replace("1 GB video", "big video").replace("300-page", "small") for h in header]
        header = [h.replace("10-min video", "short video") for h in header]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        mine = next(
            (r for r in rows if r.client.provider == row.client.provider and r.client.omniembed),
            None,
        )
        cells = [row.client.provider, row.client.name]
        for key, _, fmt, higher in columns:
            cell = row.cells.get(key, Cell(text="—"))
            if cell.value is None or key == "faults":
                cells.append(cell.text or "—")
                continue
            text = fmt.format(cell.value)
            if not cell.complete:
                cells.append(f"{text} before failing ({cell.detail.split('; ')[-1][:40]})")
                continue
            base = None if mine is None or mine is row else mine.cells.get(key)
            if base is not None and base.value and cell.value:
                ratio = base.value / cell.value if higher else cell.value / base.value
                text += f" (omniembed {ratio:,.1f}×)"
            cells.append(text)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def details(rows: list[Row]) -> str:
    out = []
    for row in rows:
        parts = [f"{k}: {c.detail}" for k, c in row.cells.items() if c.detail]
        if parts:
            out.append(f"- {row.client.label}: " + "; ".join(parts))
    return "\n".join(out)


def header_lines() -> list[str]:
    dists = [
        "omniembed",
        "google-genai",
        "llama-index-core",
        "llama-index-embeddings-google-genai",
        "langchain-google-genai",
        "dashscope",
        "llama-index-embeddings-dashscope",
        "httpx",
    ]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"machine: {platform.platform()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}; load average before the run {load}",
        "packages: " + ", ".join(f"{d} {gt._version(d)}" for d in dists),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (small inputs)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted({c.key for c in CLIENTS}),
        help="measure only these clients (repeatable); default all",
    )
    parser.add_argument(
        "--metrics",
        default=",".join(METRICS),
        help=f"comma-separated subset of {','.join(METRICS)} (default all)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "omniembed-bench-cache",
        help="where generated media are kept between runs",
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per client call")
    parser.add_argument(
        "--write-doc",
        action="store_true",
        help=f"append the table to {DOC.relative_to(HERE.parent)}",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr")
    # Internal: one memory case in this (fresh) process.
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = set(args.metrics) - set(METRICS)
    if unknown:
        parser.error(f"unknown metrics {sorted(unknown)}; choose from {', '.join(METRICS)}")
    return args


def _vm_hwm_mb() -> float | None:
    """This process's own peak RSS from /proc (Linux), a cross-check of ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e3
    except OSError:
        pass
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # Stop the emulator child on SIGTERM too (the context managers run on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if args.memory_case:
        result = memory_case(args.memory_case, args.url, args.path)
        summary = f"{result['items']} vectors"
        hwm = _vm_hwm_mb()
        if hwm is not None:
            summary += f", VmHWM {hwm:,.0f} MB"
        print("RESULT " + json.dumps({"summary": summary}), flush=True)
        return 0
    sizes = QUICK if args.quick else FULL
    args.cache = args.cache_dir
    args.cache.mkdir(parents=True, exist_ok=True)
    print("# omniembed side by side" + (" (--quick)" if args.quick else ""))
    print()
    for line in header_lines():
        print(line)
    selected = [c for c in CLIENTS if not args.only or c.key in args.only]
    rows = {c.label: Row(c) for c in selected}
    runnable = []
    for client in selected:
        reason = client.missing()
        if reason:
            print(f"{client.label}: {reason}, skipped")
            for key, *_ in COLUMNS:
                rows[client.label].cells[key] = Cell(text=reason.split(" (")[0])
        else:
            runnable.append(client)
    print(flush=True)
    notes: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="omniembed-compare-") as tmp:
        args.tmp = Path(tmp)
        for metric in args.metrics:
            began = time.perf_counter()
            print(f"measuring {metric} ...", flush=True)
            try:
                notes.append(f"- **{metric}**: " + METRICS[metric](runnable, rows, sizes, args))
            except RuntimeError as exc:  # the emulator did not start
                print(f"ERROR: {metric}: {exc}", file=sys.stderr)
                return 2
            log.info("%s took %.1f s", metric, time.perf_counter() - began)
    table = render(list(rows.values()), args.metrics, args.quick)
    print()
    print(table)
    print()
    print("Ratios in brackets: how many times better omniembed did than that client on the")
    print("same provider in this run (its value / omniembed's for costs, the inverse for")
    print("throughput); n/a: the client has no path for that input.")
    print()
    print("Method:")
    print("\n".join(notes))
    print()
    print("Details:")
    print(details(list(rows.values())))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.write_doc:
        append_doc(table, notes, details(list(rows.values())))
    failed = [
        r.client.label
        for r in rows.values()
        if r.client.omniembed and any(c.text.startswith("fails") for c in r.cells.values())
    ]
    return 1 if failed else 0


def append_doc(table: str, notes: list[str], detail: str) -> None:
    lines = header_lines()
    section = [
        "",
        "## Side by side",
        "",
        "`benchmarks/compare.py` (see [benchmarks/README.md]"
        "(https://github.com/omniembed/omniembed/tree/main/benchmarks)): for each provider,",
        "omniembed against the integrations users know, all pointed at the same emulator in",
        "its own process, in one run. " + lines[0].replace("machine: ", "Machine: ") + ".",
        "",
        table,
        "",
        "Ratios in brackets are omniembed's advantage over that client in the same run "
        "(its value / omniembed's for costs, the inverse for throughput).",
        "",
        "Method:",
        "",
        *notes,
        "",
        "Per client:",
        "",
        detail,
        "",
    ]
    with DOC.open("a", encoding="utf-8") as f:
        f.write("\n".join(section))


if __name__ == "__main__":
    sys.exit(main())
