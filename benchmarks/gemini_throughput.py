#!/usr/bin/env python3
"""Throughput of omniembed's GeminiEmbedder against the integrations users know.

Embeds N deterministic text chunks (default 2,000) with ``gemini-embedding-001`` against
omniembed's offline emulator, which runs in a separate process with a fixed latency
per request (default 200 ms) and a stated request quota on ``batchEmbedContents``
(default 3,000 requests/minute). Measures:

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
import logging
import math
import os
import platform
import queue
import random
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, TypeAlias

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

    The fewest requests are ``R = ceil(items / 100)``; with a quota of ``q = rpm / 60``
    requests per second, request *k* (0-based) cannot start before ``k / q`` and each takes
    ``L``, so the last one ends no earlier than ``(R - 1) / q + L``, and never before ``L``.
    """

    items: int
    requests: int
    rate_per_s: float
    latency_s: float

    @property
    def quota_span_s(self) -> float:
        """Time between the first and the last request's quota slot."""
        return (self.requests - 1) / self.rate_per_s

    @property
    def seconds(self) -> float:
        return max(self.latency_s, self.quota_span_s + self.latency_s)

    @property
    def items_per_s(self) -> float:
        return self.items / self.seconds

    @property
    def limited_by(self) -> str:
        return "quota" if self.quota_span_s >= self.latency_s else "latency"

    @property
    def burst(self) -> float:
        """The emulator's quota bucket holds one second of quota (at least one request)."""
        return max(1.0, self.rate_per_s)

    @property
    def burst_seconds(self) -> float:
        """The floor if a client spends the emulator's full bucket at once, then paces."""
        return self.latency_s + max(0.0, self.requests - self.burst) / self.rate_per_s


def theoretical_bound(items: int, rpm: float, latency_s: float) -> Bound:
    return Bound(items, math.ceil(items / MAX_BATCH), rpm / 60.0, latency_s)


# --------------------------------------------------------------------------- emulator


_URL_RE = re.compile(r"https?://[^\s\"'<>]+")
#: The emulator's ``-v`` line per answered request: ``... DEBUG POST /v1beta/... -> 200``.
_REQUEST_LINE_RE = re.compile(r"DEBUG (?P<method>[A-Z]+) (?P<path>/\S+) -> (?P<status>\S+)$")


class EmulatorProcess:
    """``python -m omniembed.emulator`` in a child process (its own GIL)."""

    def __init__(self, *, latency_ms: float, rpm: float, port: int, startup_timeout: float):
        self.args = [
            sys.executable,
            "-m",
            "omniembed.emulator",
            "--port",
            str(port),
            "--latency-ms",
            f"{latency_ms:g}",
            "--quota",
            f"{ROUTE}={rpm:g}",
            "-v",  # one log line per answered request: how we count requests per client
        ]
        self.startup_timeout = startup_timeout
        self.base_url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._tail: list[str] = []
        self._lock = threading.Lock()
        self._statuses: Counter[str] = Counter()
        self.counting = False  # True once a request line was recognised

    def __enter__(self) -> EmulatorProcess:
        log.info("starting emulator: %s", " ".join(self.args))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._proc = subprocess.Popen(
            self.args,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._drain, args=(lines,), daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.base_url:
            remaining = deadline - time.monotonic()
            try:
                line = lines.get(timeout=max(0.0, remaining)) if remaining > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                self.__exit__(None, None, None)
                tail = "\n".join(self._tail[-20:])
                raise RuntimeError(f"the emulator printed no base URL; its output:\n{tail}")
            found = None if _REQUEST_LINE_RE.search(line) else _URL_RE.search(line)
            if found:
                self.base_url = found.group(0).rstrip("/.,;")
        log.info("emulator at %s (pid %d)", self.base_url, self._proc.pid)
        return self

    def _drain(self, lines: queue.Queue[str | None]) -> None:
        # Keep reading so the emulator never blocks on a full pipe; keep a short tail for
        # error messages.
        assert self._proc is not None
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            line = raw.rstrip("\n")
            self._tail = [*self._tail[-49:], line]
            answered = _REQUEST_LINE_RE.search(line)
            if answered and answered.group("path").endswith(f":{ROUTE}"):
                with self._lock:
                    self._statuses[answered.group("status")] += 1
                    self.counting = True
            else:
                log.debug("emulator: %s", line)
            if not self.base_url:
                lines.put(line)
        lines.put(None)

    def request_counts(self) -> Counter[str]:
        """Answered ``batchEmbedContents`` requests so far, by HTTP status."""
        with self._lock:
            return Counter(self._statuses)

    def check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            tail = "\n".join(self._tail[-20:])
            raise RuntimeError(f"the emulator exited with {self._proc.returncode}:\n{tail}")

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# --------------------------------------------------------------------------- clients


@dataclass(frozen=True)
class Settings:
    base_url: str
    rpm: float
    run_timeout: float


@dataclass
class RunOutcome:
    seconds: float
    vectors: Vectors


SyncRun: TypeAlias = Callable[[Settings, list[str]], RunOutcome]
AsyncRun: TypeAlias = Callable[[Settings, list[str]], Awaitable[RunOutcome]]


@dataclass(frozen=True)
class Case:
    client: str
    path: str
    kind: str  # "omniembed" | "anchor" | "reference"
    run: SyncRun | None = None
    arun: AsyncRun | None = None
    #: Requests the client's batching implies for a corpus (retries not included).
    planned_requests: Callable[[list[str]], int] | None = None
    note: str = ""


def _omniembed_vectors(results: Sequence[Any]) -> Vectors:
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} inputs failed, first: {failed[0].error!r}")
    cached = sum(1 for r in results if r.cached)
    if cached:
        raise RuntimeError(f"{cached} results came from a cache; the run measured nothing")
    return [list(r.vector) for r in results]


def _gemini_embedder(settings: Settings) -> Any:
    from omniembed import GeminiEmbedder

    # Defaults for everything (max_concurrency, retries, timeout, no cache) except the
    # endpoint, the key, and the quota the embedder is told about.
    return GeminiEmbedder(
        model=MODEL,
        api_key=API_KEY,
        base_url=settings.base_url,
        requests_per_minute=settings.rpm,
    )


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


def run_omniembed_sync(settings: Settings, texts: list[str]) -> RunOutcome:
    from omniembed import Task

    emb = _gemini_embedder(settings)
    try:
        start = time.perf_counter()
        results = emb.embed(texts, task=Task.RETRIEVAL_DOCUMENT)
        seconds = time.perf_counter() - start
        return RunOutcome(seconds, _omniembed_vectors(results))
    finally:
        _close(emb)


async def run_omniembed_async(settings: Settings, texts: list[str]) -> RunOutcome:
    from omniembed import Task

    emb = _gemini_embedder(settings)
    try:
        start = time.perf_counter()
        results = await emb.aembed(texts, task=Task.RETRIEVAL_DOCUMENT)
        seconds = time.perf_counter() - start
        return RunOutcome(seconds, _omniembed_vectors(results))
    finally:
        await _aclose(emb)


def _llama_index(settings: Settings) -> Any:
    from google.genai import types
    from llama_index.embeddings.google_genai import GoogleGenAIEmbedding

    # Defaults (embed_batch_size=10, num_workers=None, retries=3) except the model, the key
    # and the endpoint; it sends task_type=RETRIEVAL_DOCUMENT for text batches by itself.
    return GoogleGenAIEmbedding(
        model_name=MODEL,
        api_key=API_KEY,
        http_options=types.HttpOptions(base_url=settings.base_url),
    )


def run_llama_index_sync(settings: Settings, texts: list[str]) -> RunOutcome:
    emb = _llama_index(settings)
    start = time.perf_counter()
    vectors = emb.get_text_embedding_batch(texts)
    return RunOutcome(time.perf_counter() - start, [list(v) for v in vectors])


async def run_llama_index_async(settings: Settings, texts: list[str]) -> RunOutcome:
    emb = _llama_index(settings)
    start = time.perf_counter()
    vectors = await emb.aget_text_embedding_batch(texts)
    return RunOutcome(time.perf_counter() - start, [list(v) for v in vectors])


def _llama_index_requests(texts: list[str]) -> int:
    from llama_index.embeddings.google_genai import GoogleGenAIEmbedding

    size = GoogleGenAIEmbedding.model_fields["embed_batch_size"].default
    return math.ceil(len(texts) / size)


def _langchain(settings: Settings) -> Any:
    from langchain_google_genai import GoogleGenerativeAIEmbeddings

    # Defaults (batch_size=100 capped at ~20k estimated tokens per request, no retries)
    # except the model, the key and the endpoint; embed_documents sends RETRIEVAL_DOCUMENT.
    return GoogleGenerativeAIEmbeddings(model=MODEL, api_key=API_KEY, base_url=settings.base_url)


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


async def run_reference(settings: Settings, texts: list[str]) -> RunOutcome:
    """A minimal client: 100 texts per request, each request started at its quota slot."""
    import aiohttp

    url = f"{settings.base_url.rstrip('/')}/v1beta/models/{MODEL}:{ROUTE}"
    headers = {"x-goog-api-key": API_KEY, "Content-Type": "application/json"}
    batches = [texts[i : i + MAX_BATCH] for i in range(0, len(texts), MAX_BATCH)]
    interval = 60.0 / settings.rpm

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(index: int, batch: list[str]) -> Vectors:
            await asyncio.sleep(max(0.0, start + index * interval - time.perf_counter()))
            body = {
                "requests": [
                    {
                        "model": f"models/{MODEL}",
                        "content": {"parts": [{"text": text}]},
                        "taskType": TASK_TYPE,
                    }
                    for text in batch
                ]
            }
            async with session.post(url, json=body, headers=headers) as response:
                if response.status != 200:
                    detail = (await response.text())[:300]
                    raise RuntimeError(f"HTTP {response.status}: {detail}")
                payload = await response.json()
            return [item["values"] for item in payload["embeddings"]]

        start = time.perf_counter()
        parts = await asyncio.gather(*(one(i, b) for i, b in enumerate(batches)))
        seconds = time.perf_counter() - start
    return RunOutcome(seconds, [v for part in parts for v in part])


WARM_UP = Case("warm-up", "raw client", "reference", arun=run_reference)


def _hundreds(texts: list[str]) -> int:
    return math.ceil(len(texts) / MAX_BATCH)


CASES: list[Case] = [
    Case(
        "omniembed GeminiEmbedder",
        "embed",
        "omniembed",
        run=run_omniembed_sync,
        planned_requests=_hundreds,
    ),
    Case(
        "omniembed GeminiEmbedder",
        "aembed",
        "omniembed",
        arun=run_omniembed_async,
        planned_requests=_hundreds,
    ),
    Case(
        "LlamaIndex GoogleGenAIEmbedding",
        "get_text_embedding_batch",
        "anchor",
        run=run_llama_index_sync,
        planned_requests=_llama_index_requests,
    ),
    Case(
        "LlamaIndex GoogleGenAIEmbedding",
        "aget_text_embedding_batch",
        "anchor",
        arun=run_llama_index_async,
        planned_requests=_llama_index_requests,
    ),
    Case(
        "LangChain GoogleGenerativeAIEmbeddings",
        "embed_documents",
        "anchor",
        run=run_langchain_sync,
        planned_requests=_langchain_requests,
    ),
    Case(
        "LangChain GoogleGenerativeAIEmbeddings",
        "aembed_documents",
        "anchor",
        arun=run_langchain_async,
        planned_requests=_langchain_requests,
    ),
    Case(
        "reference: raw aiohttp, ideal pacing",
        "100/request, unbounded concurrency",
        "reference",
        arun=run_reference,
        planned_requests=_hundreds,
    ),
]


# --------------------------------------------------------------------------- measuring


@dataclass
class CaseResult:
    case: Case
    seconds: list[float] = field(default_factory=list)
    #: Per run: answered batchEmbedContents requests by status, as the emulator logged them.
    statuses: list[Counter[str]] = field(default_factory=list)
    planned: int | None = None  # what the client's batching implies, if nothing counted
    error: str | None = None

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
            rejected = sum(n for status, n in last.items() if status != "200")
            others = ", ".join(f"{n}×{st}" for st, n in sorted(last.items()) if st != "200")
            return f"{total} ({others})" if rejected else str(total)
        return "" if self.planned is None else f"{self.planned} (planned)"


def _call_with_timeout(case: Case, settings: Settings, texts: list[str]) -> RunOutcome:
    """Run one measurement; a hung client is reported, not waited for forever."""
    if case.arun is not None:
        arun = case.arun

        async def bounded() -> RunOutcome:
            return await asyncio.wait_for(arun(settings, texts), settings.run_timeout)

        return asyncio.run(bounded())
    assert case.run is not None
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["outcome"] = case.run(settings, texts)  # type: ignore[misc]
        except BaseException as exc:  # reported by the caller
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"bench-{case.path}", daemon=True)
    worker.start()
    worker.join(settings.run_timeout)
    if worker.is_alive():
        raise TimeoutError(f"no result after {settings.run_timeout:g}s (thread left running)")
    if "error" in box:
        raise box["error"]
    return box["outcome"]  # type: ignore[no-any-return]


def check_vectors(vectors: Vectors, texts: list[str], reference: Vectors | None) -> str | None:
    """What is wrong with a run's output, or None."""
    if len(vectors) != len(texts):
        return f"{len(vectors)} vectors for {len(texts)} texts"
    sizes = {len(v) for v in vectors}
    if sizes != {DIMENSION}:
        return f"vector sizes {sorted(sizes)[:5]}, expected {DIMENSION}"
    if reference is not None:
        # Same emulator, model, task and texts: the vectors must match the raw client's.
        for index in sorted({0, 1, len(texts) // 2, len(texts) - 1}):
            if index < len(texts) and not _close_enough(vectors[index], reference[index]):
                return f"vector {index} differs from the raw client's (order or task type?)"
    return None


def _close_enough(a: Sequence[float], b: Sequence[float], tol: float = 1e-5) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def measure(
    case: Case,
    settings: Settings,
    texts: list[str],
    repeat: int,
    reference: Vectors | None,
    emulator: EmulatorProcess,
    settle_s: float,
) -> tuple[CaseResult, Vectors | None]:
    result = CaseResult(case)
    if case.planned_requests is not None:
        result.planned = case.planned_requests(texts)
    last: Vectors | None = None
    for attempt in range(1, repeat + 1):
        # Every run starts alike: the quota bucket full, no requests still in flight.
        time.sleep(settle_s)
        before = emulator.request_counts()
        log.info("%s %s: run %d/%d", case.client, case.path, attempt, repeat)
        try:
            outcome = _call_with_timeout(case, settings, texts)
        except Exception as exc:
            emulator.check_alive()
            log.debug("%s %s failed", case.client, case.path, exc_info=True)
            result.error = f"{type(exc).__name__}: {exc}"[:400]
            return result, None
        time.sleep(_LOG_FLUSH_S)  # the emulator's log lines trail the responses a little
        if emulator.counting:
            result.statuses.append(emulator.request_counts() - before)
        problem = check_vectors(outcome.vectors, texts, reference)
        if problem:
            result.error = f"bad output: {problem}"
            return result, None
        result.seconds.append(outcome.seconds)
        last = outcome.vectors
        log.info("  %.3fs, requests %s", outcome.seconds, result.requests_cell())
    return result, last


_LOG_FLUSH_S = 0.2


# --------------------------------------------------------------------------- report


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def print_machine(args: argparse.Namespace, bound: Bound) -> None:
    print("# omniembed Gemini throughput benchmark")
    print()
    print(
        f"machine : {platform.platform()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()} ({platform.python_implementation()})"
    )
    dists = [
        "omniembed",
        "google-genai",
        "llama-index-core",
        "llama-index-embeddings-google-genai",
        "langchain-core",
        "langchain-google-genai",
        "httpx",
        "aiohttp",
    ]
    print("packages: " + ", ".join(f"{d} {_version(d)}" for d in dists))
    print(
        f"workload: {args.items} distinct text chunks (40-80 words), model {MODEL}, "
        f"task {TASK_TYPE}, full {DIMENSION}-d vectors; {args.repeat} run(s) per path, median"
    )
    print(
        f"emulator: separate process, {args.latency_ms:g} ms per request, quota "
        f"{args.rpm:g} {ROUTE} requests/minute"
    )
    print()
    print("theoretical bound (any client, any concurrency):")
    print(f"  R = ceil(items / {MAX_BATCH}) = ceil({bound.items} / {MAX_BATCH}) = {bound.requests}")
    print(f"  q = rpm / 60 = {args.rpm:g} / 60 = {bound.rate_per_s:g} requests/s")
    print(f"  L = {bound.latency_s:g} s")
    print(
        f"  T = max(L, (R - 1) / q + L) = max({bound.latency_s:g}, "
        f"{bound.requests - 1} / {bound.rate_per_s:g} + {bound.latency_s:g}) = "
        f"{bound.seconds:.3f} s  ({bound.limited_by}-limited)"
    )
    print(f"  bound = items / T = {bound.items_per_s:,.0f} items/s")
    print(
        f"  note: the emulator's quota is a token bucket holding one second of quota "
        f"({bound.burst:g} requests);\n"
        f"  a client that spends it at once could finish in L + max(0, R - {bound.burst:g}) / q "
        f"= {bound.burst_seconds:.3f} s ({bound.items / bound.burst_seconds:,.0f} items/s)."
    )
    print()


def print_table(results: list[CaseResult], bound: Bound, items: int) -> None:
    header = ("client", "path", "median s", "items/s", "% of bound", "requests", "runs (s)")
    rows: list[tuple[str, ...]] = []
    for r in results:
        if r.ok:
            rate = items / r.median
            requests = r.requests_cell()
            rows.append(
                (
                    r.case.client,
                    r.case.path,
                    f"{r.median:.3f}",
                    f"{rate:,.0f}",
                    f"{100 * rate / bound.items_per_s:.1f}%",
                    requests,
                    " ".join(f"{s:.3f}" for s in r.seconds),
                )
            )
        else:
            rows.append((r.case.client, r.case.path, "FAILED", "", "", "", ""))
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
    failures = [r for r in results if not r.ok]
    if failures:
        print()
        for r in failures:
            print(f"FAILED {r.case.client} {r.case.path}: {r.error}")
    print()


def print_ratios(results: list[CaseResult], bound: Bound, items: int) -> bool:
    """The verdict, printed last (one line per GeminiEmbedder path); False if none ran."""
    ours = [r for r in results if r.ok and r.case.kind == "omniembed"]
    anchors = [r for r in results if r.ok and r.case.kind == "anchor"]
    if not ours:
        print("GeminiEmbedder produced no valid run: nothing to compare")
        return False
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
            f"GeminiEmbedder ({r.case.path}) / bound = {100 * fraction:.1f}%   "
            f"[target >= {100 * TARGET_BOUND_FRACTION:.0f}%: {verdict}]"
        )
    for r in ours:
        if fastest is None:
            print(f"GeminiEmbedder ({r.case.path}) / fastest anchor = n/a")
            continue
        ratio = fastest.median / r.median
        verdict = "PASS" if ratio >= TARGET_ANCHOR_RATIO else "MISS"
        print(
            f"GeminiEmbedder ({r.case.path}) / fastest anchor = {ratio:.1f}×   "
            f"[target >= {TARGET_ANCHOR_RATIO:g}×: {verdict}]"
        )
    return True


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--items", type=int, default=2000, help="text chunks to embed")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="emulator latency")
    parser.add_argument(
        "--rpm", type=float, default=3000.0, help=f"emulator quota, {ROUTE} requests/minute"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per path (median)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 300 items, 1 run per path")
    parser.add_argument(
        "--only",
        action="append",
        choices=["omniembed", "llamaindex", "langchain", "reference"],
        help="measure only these clients (repeatable); default all",
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (0 = any free)")
    parser.add_argument(
        "--run-timeout", type=float, default=300.0, help="seconds before a run counts as hung"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.repeat = 300, 1
    if args.items < 1 or args.repeat < 1 or args.rpm <= 0 or args.latency_ms < 0:
        parser.error("--items and --repeat must be >= 1, --rpm > 0, --latency-ms >= 0")
    return args


_ONLY = {
    "omniembed": "omniembed",
    "llamaindex": "LlamaIndex",
    "langchain": "LangChain",
    "reference": "reference",
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    texts = make_corpus(args.items)
    bound = theoretical_bound(args.items, args.rpm, args.latency_ms / 1000.0)
    cases = [
        c for c in CASES if not args.only or any(c.client.startswith(_ONLY[o]) for o in args.only)
    ]
    print_machine(args, bound)

    results: list[CaseResult] = []
    with EmulatorProcess(
        latency_ms=args.latency_ms, rpm=args.rpm, port=args.port, startup_timeout=60.0
    ) as emulator:
        settings = Settings(emulator.base_url, args.rpm, args.run_timeout)
        # The quota bucket refills in max(1 s, one request interval); wait that long (and
        # a little more) before every run so each starts with the same, full bucket.
        settle_s = max(1.0, 60.0 / args.rpm) + 0.3
        # One unmeasured pass with the raw client: fills the emulator's caches (text
        # vectors, projection matrix) so the first client measured is not penalised, and
        # gives the vectors every client's output is compared with.
        log.info("warm-up pass")
        time.sleep(settle_s)
        try:
            reference = _call_with_timeout(WARM_UP, settings, texts).vectors
        except Exception as exc:
            emulator.check_alive()
            raise RuntimeError(f"warm-up against the emulator failed: {exc}") from exc
        problem = check_vectors(reference, texts, None)
        if problem:
            raise RuntimeError(f"warm-up against the emulator returned bad output: {problem}")
        for case in cases:
            result, _ = measure(case, settings, texts, args.repeat, reference, emulator, settle_s)
            results.append(result)

    print_table(results, bound, args.items)
    judged = print_ratios(results, bound, args.items)
    failed = [r for r in results if not r.ok]
    return 1 if failed or (not judged and any(c.kind == "omniembed" for c in cases)) else 0


if __name__ == "__main__":
    sys.exit(main())
