#!/usr/bin/env python3
"""Throughput of omniembed's GeminiEmbedder against the integrations users know.

Embeds N deterministic text chunks (default 2,000) with ``gemini-embedding-001`` against
omniembed's offline emulator, which runs in a separate process with a fixed latency
per request (default 200 ms) and a stated request quota on ``batchEmbedContents``
(default 600 requests/minute, where the quota binds). Measures:

* omniembed ``GeminiEmbedder.embed`` and ``.aembed``,
* LlamaIndex ``GoogleGenAIEmbedding.get_text_embedding_batch`` / ``aget_text_embedding_batch``,
* LangChain ``GoogleGenerativeAIEmbeddings.embed_documents`` / ``aembed_documents``,
* a reference raw client (aiohttp, 100 texts per request, ideal pacing, unbounded
  concurrency) that shows how close to the theoretical bound this machine can get,

each with its default settings except what points it at the emulator, and prints the
theoretical bound (quota- or latency-limited) and the ratios last.

Run ``python benchmarks/gemini_throughput.py --help`` for the options; ``--quick`` is a
few-second smoke run for CI. Exits non-zero only when something failed (a client raised,
returned the wrong number of vectors or vectors of the wrong size), never because a
throughput target was missed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import platform
import random
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, TypeAlias

from emulator_process import EmulatorProcess  # benchmarks/ is on sys.path when run as a script

log = logging.getLogger("benchmarks.gemini_throughput")

MODEL = "gemini-embedding-001"
#: gemini-embedding-001's default (full) output dimensionality; no client sets another.
DIMENSION = 3072
#: The most texts one ``batchEmbedContents`` request may carry on the Gemini API.
MAX_BATCH = 100
TASK_TYPE = "RETRIEVAL_DOCUMENT"
API_KEY = "bench-not-a-real-key"
ROUTE = "batchEmbedContents"

TARGET_BOUND_FRACTION = 0.90
TARGET_ANCHOR_RATIO = 5.0

Vectors: TypeAlias = list[list[float]]


# --------------------------------------------------------------------------- corpus


_VOCABULARY_TEXT = """
access account adapter agent algorithm analysis answer archive audit backup balance batch
benchmark billing boundary browser buffer cache capacity catalog certificate channel
checkpoint chunk cluster column compliance compression config connector contract cost
customer dashboard database dataset deadline deployment design device dimension document
domain embedding encoder endpoint engine error event export feature field filter firmware
forecast format gateway gradient graph handler hardware header index inference input
inventory invoice journal kernel key label latency layer ledger license limit listener log
manifest metadata metric migration model module monitor network node notebook offset
operator order output owner package pagination parser partition payload pipeline policy
pool portal power priority procedure process product profile protocol provider quality
query queue quota ranking ratio record region registry release replica report request
resource response retrieval retry revenue review role router runtime sample scheduler
schema score search secret segment sensor server service session shard signal snapshot
source storage stream subscription supplier support survey system table target task
template tenant threshold ticket timeout token topic trace transaction transfer trigger
upload usage user vector vendor version warehouse webhook window worker workflow
the a of to and in for with on by from at as is was are be can will should may not all
each every new old first last quarterly monthly daily internal external primary secondary
"""
_VOCABULARY = tuple(_VOCABULARY_TEXT.split())


def make_corpus(count: int, seed: int = 20240601) -> list[str]:
    """``count`` distinct chunks of 40-80 words from a fixed vocabulary (seeded, stable)."""
    rng = random.Random(seed)
    chunks: list[str] = []
    for index in range(count):
        words = [rng.choice(_VOCABULARY) for _ in range(rng.randint(40, 80))]
        # Sentence-ish punctuation, and an id so no two chunks are equal (clients that
        # de-duplicate inputs must not get an advantage from repeats).
        for pos in range(rng.randint(8, 14), len(words), rng.randint(9, 15)):
            words[pos] += "."
        words[0] = words[0].capitalize()
        chunks.append(f"Chunk {index}: " + " ".join(words) + ".")
    return chunks


# --------------------------------------------------------------------------- the bound


@dataclass(frozen=True)
class Bound:
    """The fastest any client could finish, whatever its concurrency.

    The fewest requests are ``R = ceil(items / 100)``. The emulator enforces the quota as
    a token bucket refilled at ``q = rpm / 60`` requests per second that holds one
    second's worth (``B = max(1, q)`` requests), like a per-minute quota tolerating a
    burst. So at most ``floor(B)`` requests can start at once and each further one waits
    ``1 / q``; every request takes ``L``. The last one ends no earlier than
    ``T = L + max(0, R - floor(B)) / q``: latency-limited when ``R <= B``, else quota-limited.
    """

    items: int
    requests: int
    rate_per_s: float
    latency_s: float

    @property
    def burst(self) -> int:
        return int(max(1.0, self.rate_per_s))

    @property
    def quota_wait_s(self) -> float:
        """How long the requests beyond the burst must wait for quota."""
        return max(0, self.requests - self.burst) / self.rate_per_s

    @property
    def seconds(self) -> float:
        return self.latency_s + self.quota_wait_s

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds

    @property
    def limited_by(self) -> str:
        return "quota" if self.quota_wait_s > 0 else "latency"


def theoretical_bound(items: int, rpm: float, latency_s: float) -> Bound:
    return Bound(items, math.ceil(items / MAX_BATCH), rpm / 60.0, latency_s)


# --------------------------------------------------------------------------- emulator


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Settings:
    base_url: str
    rpm: float
    #: ``output_dimensionality`` to request, or None for the model's default (3,072).
    dim: int | None
    run_timeout: float

    @property
    def expected_dim(self) -> int:
        return self.dim or DIMENSION


@dataclass
class RunOutcome:
    seconds: float
    vectors: Vectors
    #: The reference client's CPU time in json.loads of the responses (a client CPU floor).
    decode_s: float | None = None
    response_bytes: int | None = None


SyncRun: TypeAlias = Callable[[Settings, list[str]], RunOutcome]
AsyncRun: TypeAlias = Callable[[Settings, list[str]], Awaitable[RunOutcome]]


@dataclass(frozen=True)
class Case:
    client: str
    path: str
    kind: str  # "omniembed" | "anchor" | "reference"
    run: SyncRun | None = None
    arun: AsyncRun | None = None
    #: Requests the client's batching implies (used only if the emulator log is unreadable).
    planned_requests: Callable[[list[str]], int] | None = None


# omniembed ---------------------------------------------------------------------------------


def _gemini_embedder(settings: Settings, told_quota: bool = True) -> Any:
    from omniembed import GeminiEmbedder

    # Defaults for everything (max_concurrency, retries, timeout, no cache) except the
    # endpoint and the key, and -- in the "told the quota" cases -- requests_per_minute,
    # the one knob a user knows from their quota page.
    return GeminiEmbedder(
        model=MODEL,
        api_key=API_KEY,
        base_url=settings.base_url,
        requests_per_minute=settings.rpm if told_quota else None,
        output_dimensionality=settings.dim,
    )


def _omniembed_vectors(results: Sequence[Any]) -> Vectors:
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} inputs failed, first: {failed[0].error!r}")
    cached = sum(1 for r in results if r.cached)
    if cached:
        raise RuntimeError(f"{cached} results came from a cache; the run measured nothing")
    return [r.vector for r in results]


def run_omniembed_sync(settings: Settings, texts: list[str], told_quota: bool = True) -> RunOutcome:
    from omniembed import Task

    emb = _gemini_embedder(settings, told_quota)
    try:
        start = time.perf_counter()
        results = emb.embed(texts, task=Task.RETRIEVAL_DOCUMENT)
        seconds = time.perf_counter() - start
    finally:
        _close(emb)
    return RunOutcome(seconds, _omniembed_vectors(results))


async def run_omniembed_async(
    settings: Settings, texts: list[str], told_quota: bool = True
) -> RunOutcome:
    from omniembed import Task

    emb = _gemini_embedder(settings, told_quota)
    try:
        start = time.perf_counter()
        results = await emb.aembed(texts, task=Task.RETRIEVAL_DOCUMENT)
        seconds = time.perf_counter() - start
    finally:
        await _aclose(emb)
    return RunOutcome(seconds, _omniembed_vectors(results))


def run_omniembed_sync_untold(settings: Settings, texts: list[str]) -> RunOutcome:
    return run_omniembed_sync(settings, texts, told_quota=False)


async def run_omniembed_async_untold(settings: Settings, texts: list[str]) -> RunOutcome:
    return await run_omniembed_async(settings, texts, told_quota=False)


def _close(obj: Any) -> None:
    close = getattr(obj, "close", None)
    if callable(close):
        close()


async def _aclose(obj: Any) -> None:
    aclose = getattr(obj, "aclose", None)
    if callable(aclose):
        await aclose()
    else:
        _close(obj)


# LlamaIndex --------------------------------------------------------------------------------


def _llama_index(settings: Settings) -> Any:
    from google.genai import types
    from llama_index.embeddings.google_genai import GoogleGenAIEmbedding

    # Defaults (embed_batch_size=10, num_workers=None, retries=3) except the model, the key
    # and the endpoint; it sends taskType RETRIEVAL_DOCUMENT for text batches by itself.
    return GoogleGenAIEmbedding(
        model_name=MODEL,
        api_key=API_KEY,
        http_options=types.HttpOptions(base_url=settings.base_url),
        embedding_config=None if settings.dim is None else {"output_dimensionality": settings.dim},
    )


def run_llama_index_sync(settings: Settings, texts: list[str]) -> RunOutcome:
    emb = _llama_index(settings)
    start = time.perf_counter()
    vectors = emb.get_text_embedding_batch(texts)
    return RunOutcome(time.perf_counter() - start, vectors)


async def run_llama_index_async(settings: Settings, texts: list[str]) -> RunOutcome:
    emb = _llama_index(settings)
    start = time.perf_counter()
    vectors = await emb.aget_text_embedding_batch(texts)
    return RunOutcome(time.perf_counter() - start, vectors)


def _llama_index_requests(texts: list[str]) -> int:
    from llama_index.embeddings.google_genai import GoogleGenAIEmbedding

    size = int(GoogleGenAIEmbedding.model_fields["embed_batch_size"].default)
    return math.ceil(len(texts) / size)


# LangChain ---------------------------------------------------------------------------------


def _langchain(settings: Settings) -> Any:
    from langchain_google_genai import GoogleGenerativeAIEmbeddings
    from pydantic import SecretStr

    # Defaults (batch_size=100, cut at ~20k estimated tokens per request; no retries)
    # except the model, the key and the endpoint; embed_documents sends RETRIEVAL_DOCUMENT.
    return GoogleGenerativeAIEmbeddings(
        model=MODEL,
        api_key=SecretStr(API_KEY),
        base_url=settings.base_url,
        output_dimensionality=settings.dim,
    )


def run_langchain_sync(settings: Settings, texts: list[str]) -> RunOutcome:
    emb = _langchain(settings)
    start = time.perf_counter()
    vectors = emb.embed_documents(texts)
    return RunOutcome(time.perf_counter() - start, vectors)


async def run_langchain_async(settings: Settings, texts: list[str]) -> RunOutcome:
    emb = _langchain(settings)
    start = time.perf_counter()
    vectors = await emb.aembed_documents(texts)
    return RunOutcome(time.perf_counter() - start, vectors)


def _langchain_requests(texts: list[str]) -> int:
    from langchain_google_genai import GoogleGenerativeAIEmbeddings

    return len(GoogleGenerativeAIEmbeddings._prepare_batches(texts, 100))


# reference ---------------------------------------------------------------------------------


async def run_reference(settings: Settings, texts: list[str]) -> RunOutcome:
    """A minimal client: 100 texts per request, the bucket's burst (``B - 1``, the same
    jitter margin GeminiEmbedder keeps) sent at once and the rest at their quota slots,
    all in flight together; aiohttp and the stdlib JSON decoder. No validation, no
    retries, no task handling: what a bare client reaches on this machine."""
    import aiohttp

    url = f"{settings.base_url.rstrip('/')}/v1beta/models/{MODEL}:{ROUTE}"
    headers = {"x-goog-api-key": API_KEY, "Content-Type": "application/json"}
    batches = [texts[i : i + MAX_BATCH] for i in range(0, len(texts), MAX_BATCH)]
    interval = 60.0 / settings.rpm
    burst = max(1, int(settings.rpm // 60) - 1)
    extra = {} if settings.dim is None else {"outputDimensionality": settings.dim}

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(index: int, batch: list[str]) -> Vectors:
            slot = max(0, index - burst + 1) * interval
            await asyncio.sleep(max(0.0, start + slot - time.perf_counter()))
            body = {
                "requests": [
                    {
                        "model": f"models/{MODEL}",
                        "content": {"parts": [{"text": text}]},
                        "taskType": TASK_TYPE,
                        **extra,
                    }
                    for text in batch
                ]
            }
            async with session.post(url, json=body, headers=headers) as response:
                raw = await response.read()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {raw[:300]!r}")
            began = time.perf_counter()
            payload = json.loads(raw)
            decoding.append((time.perf_counter() - began, len(raw)))
            return [item["values"] for item in payload["embeddings"]]

        decoding: list[tuple[float, int]] = []
        start = time.perf_counter()
        parts = await asyncio.gather(*(one(i, b) for i, b in enumerate(batches)))
        seconds = time.perf_counter() - start
    vectors = [v for part in parts for v in part]
    return RunOutcome(seconds, vectors, sum(d for d, _ in decoding), sum(n for _, n in decoding))


def _hundreds(texts: list[str]) -> int:
    return math.ceil(len(texts) / MAX_BATCH)


CASES: list[Case] = [
    Case("omniembed GeminiEmbedder", "embed", "omniembed", run_omniembed_sync, None, _hundreds),
    Case("omniembed GeminiEmbedder", "aembed", "omniembed", None, run_omniembed_async, _hundreds),
    Case(
        "omniembed GeminiEmbedder (quota not given)",
        "embed",
        "omniembed",
        run_omniembed_sync_untold,
        None,
        _hundreds,
    ),
    Case(
        "omniembed GeminiEmbedder (quota not given)",
        "aembed",
        "omniembed",
        None,
        run_omniembed_async_untold,
        _hundreds,
    ),
    Case(
        "LlamaIndex GoogleGenAIEmbedding",
        "get_text_embedding_batch",
        "anchor",
        run_llama_index_sync,
        None,
        _llama_index_requests,
    ),
    Case(
        "LlamaIndex GoogleGenAIEmbedding",
        "aget_text_embedding_batch",
        "anchor",
        None,
        run_llama_index_async,
        _llama_index_requests,
    ),
    Case(
        "LangChain GoogleGenerativeAIEmbeddings",
        "embed_documents",
        "anchor",
        run_langchain_sync,
        None,
        _langchain_requests,
    ),
    Case(
        "LangChain GoogleGenerativeAIEmbeddings",
        "aembed_documents",
        "anchor",
        None,
        run_langchain_async,
        _langchain_requests,
    ),
    Case(
        "reference: raw aiohttp client",
        "100/request, burst then paced at 1/q",
        "reference",
        None,
        run_reference,
        _hundreds,
    ),
]
WARM_UP = Case("warm-up", "raw client", "reference", None, run_reference, _hundreds)


# --------------------------------------------------------------------------- measuring


@dataclass
class CaseResult:
    case: Case
    seconds: list[float] = field(default_factory=list)
    #: Per run: answered batchEmbedContents requests by status, as the emulator logged them.
    statuses: list[Counter[str]] = field(default_factory=list)
    planned: int | None = None  # what the client's batching implies, if nothing counted
    error: str | None = None
    #: True when the failure is the client giving up on the service's answers (e.g. 429s
    #: after its own retries): a result about that client, not a broken benchmark.
    gave_up: bool = False
    decode_s: list[float] = field(default_factory=list)
    response_bytes: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def requests_cell(self) -> str:
        if self.statuses:
            last = self.statuses[-1]
            total = sum(last.values())
            others = ", ".join(f"{n}×{st}" for st, n in sorted(last.items()) if st != "200")
            return f"{total} ({others})" if others else str(total)
        return "" if self.planned is None else f"{self.planned} (planned)"


def _call_with_timeout(case: Case, settings: Settings, texts: list[str]) -> RunOutcome:
    """Run one measurement; a hung client is reported, not waited for forever."""
    box: dict[str, Any] = {}
    if case.arun is not None:
        arun = case.arun

        async def bounded() -> None:
            # The outcome goes in `box`, not the task's result: on Python 3.11 asyncio.run
            # formats the main task's repr (result included) when it restores the SIGINT
            # handler, which costs seconds for millions of floats.
            box["outcome"] = await asyncio.wait_for(arun(settings, texts), settings.run_timeout)

        asyncio.run(bounded())
        return box.pop("outcome")  # type: ignore[no-any-return]
    assert case.run is not None
    run = case.run

    def target() -> None:
        try:
            box["outcome"] = run(settings, texts)
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"bench-{case.path}", daemon=True)
    worker.start()
    worker.join(settings.run_timeout)
    if worker.is_alive():
        raise TimeoutError(f"no result after {settings.run_timeout:g}s (thread left running)")
    if "error" in box:
        raise box["error"]
    return box.pop("outcome")  # type: ignore[no-any-return]


#: Which vectors are compared with the warm-up's (first, second, middle, last).
def _sample_indices(count: int) -> list[int]:
    return sorted({0, min(1, count - 1), count // 2, count - 1})


def check_vectors(
    vectors: Vectors, count: int, dim: int, reference: Mapping[int, Sequence[float]] | None
) -> str | None:
    """What is wrong with a run's output, or None."""
    if len(vectors) != count:
        return f"{len(vectors)} vectors for {count} texts"
    sizes = Counter(len(v) for v in vectors)
    if set(sizes) != {dim}:
        return f"vector sizes {dict(sizes.most_common(3))}, expected {dim}"
    if reference is not None:
        # Same emulator, model, task and texts: the same directions as the raw client's
        # (compared by cosine, since clients may re-normalize truncated vectors).
        for index, expected in reference.items():
            cosine = _cosine(vectors[index], expected)
            if cosine < 0.9999:
                return (
                    f"vector {index} differs from the raw client's (cosine {cosine:.4f}): "
                    "wrong order, task type or text?"
                )
    return None


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _gave_up_on_service(exc: BaseException) -> bool:
    """Whether the exception (or one it wraps) is google-genai's error for an HTTP answer."""
    try:
        from google.genai.errors import APIError
    except ImportError:  # pragma: no cover - google-genai is a core dependency
        return False
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, APIError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def measure(
    case: Case,
    settings: Settings,
    texts: list[str],
    repeat: int,
    reference: Mapping[int, Sequence[float]],
    emulator: EmulatorProcess,
    settle_s: float,
) -> CaseResult:
    result = CaseResult(case)
    if case.planned_requests is not None:
        result.planned = case.planned_requests(texts)
    for attempt in range(1, repeat + 1):
        # Every run starts alike: quota bucket full, nothing in flight, garbage collected.
        time.sleep(settle_s)
        gc.collect()
        before = emulator.request_counts()
        log.info("%s %s: run %d/%d", case.client, case.path, attempt, repeat)
        outcome: RunOutcome | None = None
        try:
            outcome = _call_with_timeout(case, settings, texts)
        except Exception as exc:
            emulator.check_alive()
            log.debug("%s %s failed", case.client, case.path, exc_info=True)
            result.error = f"{type(exc).__name__}: {exc}"[:400]
            result.gave_up = _gave_up_on_service(exc)
        time.sleep(_LOG_FLUSH_S)  # the emulator's log lines trail its answers a little
        if emulator.counting:
            result.statuses.append(emulator.request_counts() - before)
        if outcome is None:
            break
        problem = check_vectors(outcome.vectors, len(texts), settings.expected_dim, reference)
        if problem:
            result.error = f"bad output: {problem}"
            break
        result.seconds.append(outcome.seconds)
        if outcome.decode_s is not None:
            result.decode_s.append(outcome.decode_s)
            result.response_bytes = outcome.response_bytes
        log.info("  %.3fs, requests %s", outcome.seconds, result.requests_cell())
    return result


_LOG_FLUSH_S = 0.2


# --------------------------------------------------------------------------- report


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_header(args: argparse.Namespace, bound: Bound) -> None:
    print("# omniembed Gemini throughput benchmark")
    print()
    print(
        f"machine : {platform.platform()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )
    if hasattr(os, "getloadavg"):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load    : {load} (1/5/15-min load average before the run; other work adds noise)")
    dists = [
        "omniembed",
        "google-genai",
        "llama-index-core",
        "llama-index-embeddings-google-genai",
        "langchain-core",
        "langchain-google-genai",
        "httpx",
        "aiohttp",
        "orjson",
    ]
    print("packages: " + ", ".join(f"{d} {_version(d)}" for d in dists))
    dims = (
        f"full {DIMENSION}-d vectors (every client's default)"
        if args.dim is None
        else f"{args.dim}-d vectors (output_dimensionality={args.dim} passed to every client)"
    )
    print(
        f"workload: {args.items} distinct text chunks (40-80 words), model {MODEL}, "
        f"task {TASK_TYPE}, {dims}; {args.repeat} run(s) per path, median counts"
    )
    print(
        f"emulator: separate process, {args.latency_ms:g} ms per request, quota "
        f"{args.rpm:g} {ROUTE} requests/minute (token bucket, refilled before every run)"
    )
    print()
    print("theoretical bound (any client, any concurrency):")
    print(f"  R = ceil(items / {MAX_BATCH}) = ceil({bound.items} / {MAX_BATCH}) = {bound.requests}")
    print(f"  q = rpm / 60 = {args.rpm:g} / 60 = {bound.rate_per_s:g} requests/s")
    print(f"  L = {bound.latency_s:g} s")
    print(f"  B = max(1, q) = {bound.burst} requests may start at once (the bucket's one second)")
    print(
        f"  T = L + max(0, R - B) / q = {bound.latency_s:g} + max(0, {bound.requests} - "
        f"{bound.burst}) / {bound.rate_per_s:g} = {bound.seconds:.3f} s "
        f"({bound.limited_by}-limited)"
    )
    print(f"  bound = items / T = {bound.items_per_s:,.0f} items/s")
    print()


def print_table(results: list[CaseResult], bound: Bound, items: int) -> None:
    header = ("client", "path", "median s", "items/s", "% of bound", "requests/run", "runs (s)")
    rows: list[tuple[str, ...]] = []
    for r in results:
        runs = " ".join(f"{s:.3f}" for s in r.seconds)
        if r.ok:
            rate = items / r.median
            percent = f"{_floor1(100 * rate / bound.items_per_s)}%"
            median, rate_cell = f"{r.median:.3f}", f"{rate:,.0f}"
            cells = (r.case.client, r.case.path, median, rate_cell, percent)
            rows.append((*cells, r.requests_cell(), runs))
        else:
            status = "GAVE UP" if r.gave_up else "FAILED"
            rows.append((r.case.client, r.case.path, status, "", "", r.requests_cell(), runs))
    rows.append(
        (
            "theoretical bound",
            f"{bound.limited_by}-limited",
            f"{bound.seconds:.3f}",
            f"{bound.items_per_s:,.0f}",
            "100.0%",
            str(bound.requests),
            "",
        )
    )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    right = {2, 3, 4}

    def fmt(row: tuple[str, ...]) -> str:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    print(fmt(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(fmt(row))
    for r in results:
        if r.ok and r.decode_s and r.response_bytes:
            print(
                f"\n{r.case.client}: json.loads of its {r.response_bytes / 1e6:.0f} MB of "
                f"responses took {statistics.median(r.decode_s):.3f} s of CPU per run (median),"
                "\na floor for any CPython client that decodes them on one thread."
            )
    failures = [r for r in results if not r.ok]
    if failures:
        print()
        for r in failures:
            status = "GAVE UP" if r.gave_up else "FAILED"
            print(f"{status}: {r.case.client} {r.case.path}: {r.error}")
    print()


def print_ratios(results: list[CaseResult], bound: Bound, items: int) -> None:
    """The verdict, printed last: one line per GeminiEmbedder path and ratio."""
    ours = [r for r in results if r.ok and r.case.kind == "omniembed"]
    anchors = [r for r in results if r.ok and r.case.kind == "anchor"]
    if not ours:
        print("GeminiEmbedder produced no valid run: nothing to compare")
        return
    fastest = min(anchors, key=lambda r: r.median) if anchors else None
    if fastest is not None:
        print(
            f"fastest anchor: {fastest.case.client} {fastest.case.path}, "
            f"{items / fastest.median:,.0f} items/s"
        )
    else:
        print("fastest anchor: none produced a valid run")
    for r in ours:
        fraction = items / r.median / bound.items_per_s
        verdict = "PASS" if fraction >= TARGET_BOUND_FRACTION else "MISS"
        print(
            f"GeminiEmbedder ({r.case.path}) / bound = {_floor1(100 * fraction)}%   "
            f"[target >= {100 * TARGET_BOUND_FRACTION:.0f}%: {verdict}]"
        )
    for r in ours:
        if fastest is None:
            print(f"GeminiEmbedder ({r.case.path}) / fastest anchor = n/a")
            continue
        ratio = fastest.median / r.median
        verdict = "PASS" if ratio >= TARGET_ANCHOR_RATIO else "MISS"
        print(
            f"GeminiEmbedder ({r.case.path}) / fastest anchor = {_floor1(ratio)}×   "
            f"[target >= {TARGET_ANCHOR_RATIO:g}×: {verdict}]"
        )


def _floor1(value: float) -> str:
    """One decimal, rounded down: 89.97% shows as 89.9%, never as a "90.0%" that missed."""
    return f"{math.floor(value * 10) / 10:.1f}"


# --------------------------------------------------------------------------- main


_ONLY = {
    "omniembed": "omniembed",
    "llamaindex": "LlamaIndex",
    "langchain": "LangChain",
    "reference": "reference",
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput of omniembed's GeminiEmbedder vs the LlamaIndex and LangChain "
        "Gemini integrations, against the emulator.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--items", type=int, default=2000, help="text chunks to embed")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="emulator latency")
    parser.add_argument(
        "--rpm", type=float, default=600.0, help=f"emulator quota, {ROUTE} requests/minute"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (median)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 items, 1 run")
    parser.add_argument(
        "--dim",
        type=int,
        default=None,
        help=f"output_dimensionality passed to every client (None: their default, {DIMENSION})",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(_ONLY),
        help="measure only these clients (repeatable); default all",
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (0 = any free)")
    parser.add_argument(
        "--run-timeout", type=float, default=300.0, help="seconds before a run counts as hung"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.repeat = 300, 1
    if args.items < 1 or args.repeat < 1 or args.rpm <= 0 or args.latency_ms < 0:
        parser.error("--items and --repeat must be >= 1, --rpm > 0, --latency-ms >= 0")
    if args.dim is not None and not 1 <= args.dim <= DIMENSION:
        parser.error(f"--dim must be between 1 and {DIMENSION}")
    return args


def run_benchmark(args: argparse.Namespace) -> list[CaseResult]:
    texts = make_corpus(args.items)
    cases = [
        c for c in CASES if not args.only or any(c.client.startswith(_ONLY[o]) for o in args.only)
    ]
    results: list[CaseResult] = []
    with EmulatorProcess(
        latency_ms=args.latency_ms, rpm=args.rpm, port=args.port, route=ROUTE, startup_timeout=60.0
    ) as emulator:
        settings = Settings(emulator.base_url, args.rpm, args.dim, args.run_timeout)
        # The quota bucket refills within max(1 s, one request interval); wait that long
        # (and a little more) before every run so each starts with the same, full bucket.
        settle_s = max(1.0, 60.0 / args.rpm) + 0.3
        # One unmeasured pass with the raw client: fills the emulator's caches (text
        # vectors, projection matrix) so the first client measured is not penalised, and
        # gives the vectors every client's output is compared with.
        log.info("warm-up pass")
        time.sleep(settle_s)
        try:
            warm = _call_with_timeout(WARM_UP, settings, texts)
        except Exception as exc:
            emulator.check_alive()
            raise RuntimeError(f"the warm-up pass against the emulator failed: {exc}") from exc
        problem = check_vectors(warm.vectors, len(texts), settings.expected_dim, None)
        if problem:
            raise RuntimeError(f"the warm-up pass got bad output from the emulator: {problem}")
        reference = {i: warm.vectors[i] for i in _sample_indices(len(texts))}
        del warm
        for case in cases:
            results.append(
                measure(case, settings, texts, args.repeat, reference, emulator, settle_s)
            )
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    bound = theoretical_bound(args.items, args.rpm, args.latency_ms / 1000.0)
    print_header(args, bound)
    sys.stdout.flush()
    try:
        results = run_benchmark(args)
    except RuntimeError as exc:
        log.error("%s", exc)
        return 2
    print_table(results, bound, args.items)
    print_ratios(results, bound, args.items)
    # Errors: GeminiEmbedder failing in any way, or any client returning wrong vectors or
    # failing for a reason other than the service's answers. A client that gives up on
    # the quota (e.g. 429s after its retries) is a result, shown as GAVE UP.
    errors = [r for r in results if not r.ok and (r.case.kind == "omniembed" or not r.gave_up)]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
