"""Fault soak: mixed items through each provider against a faulty emulator, then kill -9.

```bash
python benchmarks/soak.py                                  # 10,000 items, all providers
python benchmarks/soak.py --items 600 --providers gemini   # a quick look
```

For each provider it embeds the same deterministic corpus (text 70%, small PNG images 25%,
1 s MP4 videos 5%, plus a few exact duplicate texts) twice in one ``embed`` call each:
once with no faults (the reference wall time and vectors) and once under the fault mix
(`FAULTS`). The emulator runs in its own process (`SoakEmulator`, built on
`emulator_process.EmulatorProcess`), so the client's CPU is measured apart; a middleware
there keeps a ledger of every request: route, status, whether the answer reached the
client (``delivered``: the connection was still open when it was sent — a reset or a
"slow" answer the client gave up on is not), and the ids of the items it carried.

Every item carries its id (``SOAKID0000123``): in the text, in a PNG ``tEXt`` chunk, in
an MP4's metadata and file name (DashScope uploads it under that name), and Vertex video
items are ``[caption, video]`` so the id travels in the caption. So the ledger tells,
per item, in how many *successful* (200 and delivered) responses it was embedded.

Figures per provider: items lost (no vector, or a vector unlike the fault-free run's),
items embedded twice (in ≥2 successful responses), embedding requests made against the
minimum ``ceil(distinct items / per-request limit)``, and the wall time against the
fault-free run. Then the crash test: a worker process with a SQLite cache is killed with
SIGKILL once a share of the items is committed, a new process resumes with the same
cache, and the ledger must show no request carrying an item that was in the cache at the
kill. Exit code 0 when every check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # when imported (tests), not run as a script
    sys.path.insert(0, str(_HERE))

from emulator_process import EmulatorProcess  # noqa: E402

log = logging.getLogger("benchmarks.soak")

PROVIDERS = ("gemini", "vertex", "dashscope")
#: Items per request (the runtime batches to it); the minimum is ceil(distinct / this).
PER_REQUEST = {"gemini": 100, "vertex": 1, "dashscope": 20}
#: The client's per-request timeout per provider (a Gemini request carries 100 items,
#: images and videos included, which a cold emulator on a busy machine takes seconds to
#: answer), and how long a "slow" answer takes: past every timeout.
TIMEOUTS = {"gemini": 15.0, "vertex": 5.0, "dashscope": 5.0}
SLOW_S = 16.0
#: The fault mix, as per-request probabilities (every route: embeddings, DashScope's
#: upload policy and upload). 429s carry ``retryDelay`` / ``Retry-After`` of
#: ``retry_delay_s``; the client pauses every send for it and paces at it (its adaptive
#: throttle), so the wall-time ratio grows with it.
FAULTS: dict[str, float] = {
    "429": 0.10,
    "503": 0.05,
    "reset": 0.02,
    "slow": 0.01,
    "retry_delay_s": 0.01,
    "slow_seconds": SLOW_S,
}
EMBED_ROUTES = frozenset({"batchEmbedContents", "embedContent", "predict", "multimodalEmbedding"})
ID_MARK = "SOAKID"
_ID_RE = re.compile(ID_MARK + r"(\d{7})")
_ID_RE_BYTES = re.compile(ID_MARK.encode() + rb"(\d{7})")
_WORDS = [
    "river",
    "stone",
    "cloud",
    "lantern",
    "orbit",
    "meadow",
    "copper",
    "signal",
    "harbor",
    "pixel",
    "velvet",
    "summit",
    "thunder",
    "garden",
    "cipher",
    "willow",
    "quartz",
    "ember",
    "glacier",
    "canyon",
    "falcon",
    "prism",
    "marble",
    "tide",
    "beacon",
    "forest",
    "nickel",
    "aurora",
    "dune",
    "violet",
    "anchor",
    "comet",
    "saffron",
    "basalt",
    "echo",
    "maple",
]


def retry_policy() -> Any:
    """Retries used by the soak: more tries and shorter backoff than the defaults, so a run
    of bad luck on one batch costs seconds, not minutes; 429s wait the server's hint."""
    from omniembed.runtime import RetryPolicy

    return RetryPolicy(max_retries=10, max_quota_retries=30, initial_delay=0.2, max_delay=4.0)


# --- the corpus ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    index: int
    kind: str  # text | image | video
    ident: int  # the id its content carries (a duplicate carries its original's)
    text: str | None = None
    path: Path | None = None


def item_kind(index: int) -> str:
    slot = index % 20
    return "video" if slot == 0 else "image" if slot <= 5 else "text"


def tag(ident: int) -> str:
    return f"{ID_MARK}{ident:07d}"


def build_corpus(count: int, workdir: Path, seed: int = 0) -> list[Item]:
    """``count`` items, deterministic for (count, seed); media files go to ``workdir``
    (reused if already there). Text items at index ≡ 99 (mod 100) repeat an earlier text
    (the runtime must embed those once)."""
    workdir.mkdir(parents=True, exist_ok=True)
    items: list[Item] = []
    for index in range(count):
        kind = item_kind(index)
        if kind == "text":
            if index % 100 == 99:
                items.append(Item(index, "text", items[index - 10].ident, items[index - 10].text))
                continue
            rng = random.Random(f"{seed}-text-{index}")
            # 4-12 words: under multimodalembedding@001's 32-token limit.
            words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(4, 12)))
            items.append(Item(index, "text", index, f"{tag(index)} {words}"))
        elif kind == "image":
            path = workdir / f"{tag(index)}.png"
            if not path.exists():
                _write_png(path, index, seed)
            items.append(Item(index, "image", index, path=path))
        else:
            path = workdir / f"{tag(index)}.mp4"
            if not path.exists():
                _write_mp4(path, index, seed)
            items.append(Item(index, "video", index, path=path))
    return items


def _write_png(path: Path, index: int, seed: int) -> None:
    from PIL import Image, PngImagePlugin

    rng = random.Random(f"{seed}-image-{index}")
    image = Image.new("RGB", (32, 32), tuple(rng.randrange(256) for _ in range(3)))
    stripe = tuple(rng.randrange(256) for _ in range(3))
    image.paste(stripe, (rng.randrange(24), 0, 32, rng.randrange(4, 32)))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", tag(index))
    tmp = path.with_suffix(".tmp")
    image.save(tmp, "PNG", pnginfo=info)
    tmp.replace(path)


def _write_mp4(path: Path, index: int, seed: int) -> None:
    import av
    import numpy as np

    rng = random.Random(f"{seed}-video-{index}")
    colors = [tuple(rng.randrange(256) for _ in range(3)) for _ in range(2)]
    tmp = path.with_suffix(".tmp")
    with av.open(str(tmp), mode="w", format="mp4") as output:
        output.metadata["comment"] = tag(index)
        stream = output.add_stream("mpeg4", rate=4)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for frame_index in range(4):
            color = colors[frame_index // 2]
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), color, np.uint8), "rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    tmp.replace(path)


def provider_inputs(provider: str, items: Sequence[Item]) -> list[Any]:
    """What goes into ``embed``: text, an image path, a video path (Vertex: a caption and
    the video as one instance, since its cut window drops the file's metadata)."""
    out: list[Any] = []
    for item in items:
        if item.kind == "text":
            out.append(item.text)
        elif item.kind == "image":
            out.append(item.path)
        elif provider == "vertex":
            out.append([f"{tag(item.ident)} video", item.path])
        else:
            out.append(item.path)
    return out


def make_embedder(
    provider: str, base_url: str, *, cache: Any = None, timeout: float | None = None
) -> Any:
    """The provider's embedder pointed at the emulator, with the soak's timeout, retries and
    no client-side quota (the emulator has none); small vectors keep JSON cheap."""
    common: dict[str, Any] = {
        "timeout": timeout or TIMEOUTS.get(provider),
        "retry_policy": retry_policy(),
        "requests_per_minute": None,
        "tier": None,  # not even Vertex's published default: the emulator has no quota
        "cache": cache,
    }
    if provider == "gemini":
        from omniembed import GeminiEmbedder

        return GeminiEmbedder(
            "gemini-embedding-2",
            api_key="soak-key",
            base_url=base_url,
            output_dimensionality=256,
            **common,
        )
    if provider == "vertex":
        from omniembed import VertexMultiModalEmbedder

        return VertexMultiModalEmbedder(
            project="soak",
            location="us-central1",
            access_token="soak-token",
            base_url=base_url,
            dimension=128,
            **common,
        )
    if provider == "dashscope":
        from omniembed import DashScopeEmbedder

        return DashScopeEmbedder(
            "tongyi-embedding-vision-plus",
            api_key="sk-soak",
            base_url=base_url + "/api/v1",
            dimension=128,
            **common,
        )
    raise ValueError(f"unknown provider {provider!r}; use one of {', '.join(PROVIDERS)}")


def close_embedder(embedder: Any) -> None:
    close = getattr(embedder, "close", None)
    if close is not None:
        close()


# --- the emulator process and its ledger -------------------------------------------------


def _ids_in(value: Any) -> Iterator[int]:
    """Item ids found in a request part: in its strings, or in base64 data they hold."""
    if isinstance(value, dict):
        for v in value.values():
            yield from _ids_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from _ids_in(v)
    elif isinstance(value, str):
        found = _ID_RE.search(value)
        if found:
            yield int(found.group(1))
        elif len(value) > 64:
            data = value.split("base64,", 1)[-1]
            if "-" in data or "_" in data:  # google-genai sends URL-safe base64
                data = data.replace("-", "+").replace("_", "/")
            try:
                raw = base64.b64decode(data + "=" * (-len(data) % 4), validate=False)
            except (binascii.Error, ValueError):
                return
            hit = _ID_RE_BYTES.search(raw)
            if hit:
                yield int(hit.group(1))


def request_item_ids(route: str, body: Any) -> list[int]:
    """One id per item of an embedding request (-1 for an item without one)."""
    if not isinstance(body, dict):
        return []
    if route == "batchEmbedContents":
        parts = [r.get("content") for r in body.get("requests") or []]
    elif route == "embedContent":
        parts = [body.get("content")]
    elif route == "predict":
        parts = list(body.get("instances") or [])
    elif route == "multimodalEmbedding":
        parts = list((body.get("input") or {}).get("contents") or [])
    else:
        return []
    out = []
    for part in parts:
        ids = set(_ids_in(part))
        out.append(ids.pop() if len(ids) == 1 else -1)
    return out


def serve_emulator(argv: Sequence[str]) -> int:
    """The child process: the emulator plus a ledger middleware and ``/__soak__/`` control
    routes (faults, ledger). Prints the base URL, then serves until terminated."""
    import threading
    from urllib.parse import unquote

    from aiohttp import web

    from omniembed.emulator import Emulator
    from omniembed.emulator import server as emulator_server
    from omniembed.emulator.app import Dispatcher
    from omniembed.emulator.faults import check_faults
    from omniembed.emulator.routing import resolve

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    lock = threading.Lock()
    state: dict[str, Any] = {"arrived": 0, "pending": 0, "entries": []}
    emulator: Emulator

    async def control(request: web.Request, path: str) -> web.Response:
        if path == "/__soak__/faults":
            faults = (await request.json()) or None
            try:
                check_faults(faults)
            except ValueError as exc:
                return web.json_response({"error": str(exc)}, status=400)
            emulator.faults = faults
            emulator.clear_requests()  # the emulator's own log keeps bodies: drop them
            return web.json_response({"ok": True})
        if path == "/__soak__/ledger":
            since = int(request.query.get("since", "0"))
            with lock:
                entries = [e for e in state["entries"] if e[0] >= since]
                arrived, pending = state["arrived"], state["pending"]
            return web.json_response({"arrived": arrived, "pending": pending, "entries": entries})
        return web.json_response({"error": "unknown control route"}, status=404)

    @web.middleware
    async def ledger(request: web.Request, handler: Any) -> web.StreamResponse:
        path = unquote(request.rel_url.raw_path)
        if path.startswith("/__soak__/"):
            return await control(request, path)
        with lock:
            seq = state["arrived"]
            state["arrived"] += 1
            state["pending"] += 1
        status: int | str = "cancelled"
        delivered = False
        try:
            response = await handler(request)
            transport = request.transport
            delivered = transport is not None and not transport.is_closing()
            status = response.status if delivered else "gone"
            return response
        finally:
            call = resolve(request.method, path, request.query)
            route = call.route if call else "?"
            ids: list[int] = []
            if route in EMBED_ROUTES:
                try:
                    ids = request_item_ids(route, json.loads(await request.read()))
                except (ValueError, UnicodeDecodeError):
                    ids = []
            with lock:
                state["entries"].append([seq, route, status, delivered, ids])
                state["pending"] -= 1

    class LedgerDispatcher(Dispatcher):
        def application(self) -> web.Application:
            app = super().application()
            app.middlewares.append(ledger)
            return app

    emulator_server.Dispatcher = LedgerDispatcher  # type: ignore[misc]
    emulator = Emulator(port=args.port, seed=args.seed)
    emulator.start()
    print(emulator.base_url, flush=True)
    emulator.serve_forever()
    return 0


class SoakEmulator(EmulatorProcess):
    """The emulator with the ledger, in its own process (see `serve_emulator`)."""

    def __init__(self, *, seed: int = 0, startup_timeout: float = 60.0):
        super().__init__(latency_ms=0, port=0, route="-", startup_timeout=startup_timeout)
        self.args = [
            sys.executable,
            str(Path(__file__).resolve()),
            "_emulator",
            "--seed",
            str(seed),
        ]

    def _call(self, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def set_faults(self, faults: dict[str, float] | None) -> None:
        self._call("/__soak__/faults", faults or {})

    def ledger(self, since: int = 0) -> dict[str, Any]:
        return self._call(f"/__soak__/ledger?since={since}")

    def arrived(self) -> int:
        return int(self.ledger(since=1 << 62)["arrived"])

    def settled_entries(self, since: int = 0, timeout: float = 60.0) -> list[list[Any]]:
        """Ledger entries from ``since`` on, once no request is in flight (a "slow" answer
        to a client that gave up still finishes)."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.ledger(since)
            if got["pending"] == 0 or time.monotonic() > deadline:
                return list(got["entries"])
            time.sleep(0.1)


# --- one pass ------------------------------------------------------------------------------


@dataclass
class PassResult:
    provider: str
    faults: bool
    wall_s: float
    items: int
    distinct: int
    lost: int
    wrong: int
    twice: int
    unidentified: int
    embed_requests: int
    other_requests: int
    minimum: int
    statuses: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    vectors: list[list[float]] = field(default_factory=list, repr=False)


def success_counts(entries: Sequence[Sequence[Any]]) -> Counter[int]:
    """Per item id: in how many successful (200 and delivered) embedding responses."""
    counts: Counter[int] = Counter()
    for _seq, route, status, delivered, ids in entries:
        if route in EMBED_ROUTES and status == 200 and delivered:
            counts.update(ids)
    return counts


def run_pass(
    provider: str,
    items: Sequence[Item],
    emulator: SoakEmulator,
    *,
    faults: dict[str, float] | None,
    reference: PassResult | None = None,
    timeout: float | None = None,
) -> PassResult:
    emulator.set_faults(faults)
    start_seq = emulator.arrived()
    embedder = make_embedder(provider, emulator.base_url, timeout=timeout)
    inputs = provider_inputs(provider, items)
    try:
        started = time.perf_counter()
        results = embedder.embed(inputs, raise_on_error=False)
        wall = time.perf_counter() - started
        stats = embedder.last_stats
    finally:
        close_embedder(embedder)
    entries = emulator.settled_entries(start_seq)
    vectors = [[x for e in r.embeddings for x in e.vector[:8]] for r in results]
    lost = sum(1 for r in results if r.error is not None or not r.embeddings)
    wrong = 0
    if reference is not None:
        wrong = sum(
            1
            for mine, ref in zip(vectors, reference.vectors, strict=True)
            if mine
            and (
                len(mine) != len(ref)
                or any(abs(a - b) > 1e-6 for a, b in zip(mine, ref, strict=True))
            )
        )
    counts = success_counts(entries)
    distinct = len({i.ident for i in items})
    embed_entries = [e for e in entries if e[1] in EMBED_ROUTES]
    return PassResult(
        provider=provider,
        faults=bool(faults),
        wall_s=wall,
        items=len(items),
        distinct=distinct,
        lost=lost,
        wrong=wrong,
        twice=sum(1 for ident, n in counts.items() if ident >= 0 and n > 1),
        unidentified=counts.get(-1, 0),
        embed_requests=len(embed_entries),
        other_requests=len(entries) - len(embed_entries),
        minimum=math.ceil(distinct / PER_REQUEST[provider]),
        statuses=Counter(str(e[2]) for e in embed_entries),
        retries=stats.retries,
        vectors=vectors,
    )


# --- the crash test --------------------------------------------------------------------------


@dataclass
class CrashResult:
    provider: str
    items: int
    committed_at_kill: int  # distinct items in the cache when the worker was killed
    served_from_cache: int  # inputs the resumed run answered from the cache
    repeated: int  # items in the cache at the kill that a resumed request carried
    answered_not_committed: int  # answered before the kill, not yet in the cache: re-sent
    resume_requests: int
    resume_lost: int
    missing: int  # items neither in the cache at the kill nor embedded by the resume
    wall_first_s: float
    wall_resume_s: float


def _cache_keys(path: Path) -> set[str]:
    if not path.exists():
        return set()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return {row[0] for row in conn.execute("SELECT key FROM embeddings")}
    except sqlite3.OperationalError:  # the table is not created yet
        return set()
    finally:
        conn.close()


def _worker_command(
    provider: str,
    count: int,
    base_url: str,
    cache: Path,
    workdir: Path,
    out: Path,
    seed: int,
    timeout: float,
) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).resolve()),
        "_worker",
        "--provider",
        provider,
        "--items",
        str(count),
        "--base-url",
        base_url,
        "--cache",
        str(cache),
        "--workdir",
        str(workdir),
        "--out",
        str(out),
        "--seed",
        str(seed),
        "--timeout",
        str(timeout or 0.0),
    ]


def run_worker(argv: Sequence[str]) -> int:
    """The crash test's client process: embed the corpus with a SQLite cache; write a
    summary to ``--out`` (unless killed first)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--provider", required=True)
    parser.add_argument("--items", type=int, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=0.0, help="0: the provider's")
    args = parser.parse_args(argv)
    items = build_corpus(args.items, Path(args.workdir), args.seed)
    embedder = make_embedder(args.provider, args.base_url, cache=args.cache, timeout=args.timeout)
    try:
        started = time.perf_counter()
        results = embedder.embed(provider_inputs(args.provider, items), raise_on_error=False)
        wall = time.perf_counter() - started
        stats = embedder.last_stats
    finally:
        close_embedder(embedder)
    summary = {
        "wall_s": wall,
        "lost": sum(1 for r in results if r.error is not None or not r.embeddings),
        "served_from_cache": sum(1 for r in results if r.cached),
        "cache_hits": stats.cache_hits,
        "requests": stats.requests,
    }
    Path(args.out).write_text(json.dumps(summary))
    return 0


def crash_test(
    provider: str,
    items: Sequence[Item],
    emulator: SoakEmulator,
    workdir: Path,
    *,
    faults: dict[str, float] | None = FAULTS,
    kill_at: float = 0.4,
    seed: int = 0,
    timeout: float | None = None,
    deadline_s: float = 1800.0,
) -> CrashResult:
    """Kill -9 a worker once ``kill_at`` of the items are in its cache, then resume."""
    cache = workdir / f"crash-{provider}.sqlite"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{cache}{suffix}").unlink(missing_ok=True)
    out = workdir / f"crash-{provider}.json"
    out.unlink(missing_ok=True)
    emulator.set_faults(faults)
    # Which cache key belongs to which item (the embedder's own planning, no requests).
    planner = make_embedder(provider, emulator.base_url, timeout=timeout)
    try:
        work, _bad, _count = planner._plan(provider_inputs(provider, items), None, None, True, {})
    finally:
        close_embedder(planner)
    ident_of_key = {w.cache_key: items[w.index].ident for w in work}
    distinct_keys = len(ident_of_key)
    command = _worker_command(
        provider, len(items), emulator.base_url, cache, workdir, out, seed, timeout
    )

    first_seq = emulator.arrived()
    started = time.perf_counter()
    worker = subprocess.Popen(command)
    deadline = time.monotonic() + deadline_s
    try:
        while len(_cache_keys(cache)) < kill_at * distinct_keys:
            if worker.poll() is not None:
                raise RuntimeError(f"the worker ended (code {worker.returncode}) before the kill")
            if time.monotonic() > deadline:
                raise RuntimeError("the worker committed too little before the deadline")
            time.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()
    wall_first = time.perf_counter() - started
    committed = {ident_of_key[k] for k in _cache_keys(cache) if k in ident_of_key}
    time.sleep(0.3)  # bytes the dead client had already sent are read by now
    resume_seq = emulator.arrived()

    started = time.perf_counter()
    subprocess.run(command, check=True, timeout=deadline_s)
    wall_resume = time.perf_counter() - started
    summary = json.loads(out.read_text())
    # Settled: answers the dead client was still waiting for (e.g. "slow") are in by now.
    entries = emulator.settled_entries(first_seq)
    answered_before = set(success_counts([e for e in entries if e[0] < resume_seq]))
    after = [e for e in entries if e[0] >= resume_seq]
    carried = {i for e in after if e[1] in EMBED_ROUTES for i in e[4]}
    resumed_ok = set(success_counts(after))
    all_ids = {i.ident for i in items}
    return CrashResult(
        provider=provider,
        items=len(items),
        committed_at_kill=len(committed),
        served_from_cache=int(summary["served_from_cache"]),
        repeated=len(carried & committed),
        answered_not_committed=len((carried & answered_before) - committed),
        resume_requests=sum(1 for e in after if e[1] in EMBED_ROUTES),
        resume_lost=int(summary["lost"]),
        missing=len(all_ids - committed - resumed_ok),
        wall_first_s=wall_first,
        wall_resume_s=wall_resume,
    )


# --- the whole soak ------------------------------------------------------------------------


@dataclass
class SoakReport:
    clean: dict[str, PassResult]
    faulty: dict[str, PassResult]
    crash: dict[str, CrashResult]

    def failures(self, max_request_ratio: float | None = None) -> list[str]:
        out = []
        for provider, res in self.faulty.items():
            clean = self.clean.get(provider)
            if res.lost or res.wrong or (clean is not None and clean.lost):
                out.append(f"{provider}: {res.lost} lost, {res.wrong} wrong vectors")
            if res.twice:
                out.append(f"{provider}: {res.twice} items embedded twice")
            if res.unidentified:
                out.append(f"{provider}: {res.unidentified} items without an id on the wire")
            if max_request_ratio and res.embed_requests > max_request_ratio * res.minimum:
                out.append(
                    f"{provider}: {res.embed_requests} requests, over {max_request_ratio}× "
                    f"the minimum {res.minimum}"
                )
        for provider, crash in self.crash.items():
            if crash.repeated or crash.resume_lost or crash.missing:
                out.append(
                    f"{provider} crash test: {crash.repeated} repeated, {crash.resume_lost} "
                    f"lost, {crash.missing} missing"
                )
            if crash.served_from_cache < crash.committed_at_kill:
                out.append(f"{provider} crash test: cached items were not served from the cache")
        return out


def run_soak(
    count: int,
    providers: Sequence[str],
    workdir: Path,
    *,
    crash_providers: Sequence[str] | None = None,
    faults: dict[str, float] = FAULTS,
    seed: int = 0,
    kill_at: float = 0.4,
    timeout: float | None = None,
    compare: bool = True,
) -> SoakReport:
    """``compare``: also a warm-up and a fault-free pass per provider (the wall-time
    reference and the reference vectors); without it, only the pass with faults."""
    items = build_corpus(count, workdir, seed)
    report = SoakReport({}, {}, {})
    crash_providers = providers if crash_providers is None else crash_providers
    with SoakEmulator(seed=seed) as emulator:
        for provider in providers:
            clean = None
            if compare:
                # Unmeasured: imports, connections, and the emulator's vector caches, so the
                # two measured passes below find the same conditions.
                log.info("%s: warm-up pass", provider)
                run_pass(provider, items, emulator, faults=None, timeout=timeout)
                log.info("%s: fault-free pass", provider)
                clean = run_pass(provider, items, emulator, faults=None, timeout=timeout)
                log.info("%s: %.1f s; pass with faults", provider, clean.wall_s)
                report.clean[provider] = clean
            faulty = run_pass(
                provider, items, emulator, faults=faults, reference=clean, timeout=timeout
            )
            log.info("%s: %.1f s", provider, faulty.wall_s)
            report.faulty[provider] = faulty
            emulator.check_alive()
        for provider in crash_providers:
            log.info("%s: crash test", provider)
            report.crash[provider] = crash_test(
                provider,
                items,
                emulator,
                workdir,
                faults=faults,
                kill_at=kill_at,
                seed=seed,
                timeout=timeout,
            )
            emulator.check_alive()
    return report


def format_report(report: SoakReport) -> str:
    lines = [
        "provider   items  lost  twice  requests (min)   ×min  other  429/503/gone"
        "  faults s  clean s  ratio",
    ]
    for provider, res in report.faulty.items():
        clean = report.clean.get(provider)
        s = res.statuses
        faults = f"{s['429']}/{s['503']}/{s.get('gone', 0)}"
        timing = (
            f"{clean.wall_s:>8.1f} {res.wall_s / clean.wall_s:>6.2f}"
            if clean
            else "       -      -"
        )
        lines.append(
            f"{provider:<9} {res.items:>6} {res.lost + res.wrong:>5} {res.twice:>6} "
            f"{res.embed_requests:>9} ({res.minimum:>5}) {res.embed_requests / res.minimum:>6.2f} "
            f"{res.other_requests:>6}  {faults:<19} {res.wall_s:>8.1f} {timing}"
        )
    if report.crash:
        lines.append("")
        lines.append(
            "crash test   items  cached@kill  from cache  repeated  re-sent(not cached)"
            "  resume reqs  lost  missing"
        )
        for provider, c in report.crash.items():
            lines.append(
                f"{provider:<11} {c.items:>6} {c.committed_at_kill:>12} {c.served_from_cache:>11} "
                f"{c.repeated:>9} {c.answered_not_committed:>20} {c.resume_requests:>12} "
                f"{c.resume_lost:>5} {c.missing:>8}"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_emulator"]:
        return serve_emulator(argv[1:])
    if argv[:1] == ["_worker"]:
        return run_worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument("--crash-providers", default=None, help="default: --providers")
    parser.add_argument("--kill-at", type=float, default=0.4, help="share committed at kill")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="media and caches (default: temp)")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="-v progress, -vv everything"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.verbose < 2 else logging.DEBUG,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.verbose:
        log.setLevel(logging.INFO)
    # The SDK logs every failed upload at ERROR: expected here, and costly at 10,000 items.
    logging.getLogger("dashscope").setLevel(logging.CRITICAL)
    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    crash = (
        providers
        if args.crash_providers is None
        else [p.strip() for p in args.crash_providers.split(",") if p.strip()]
    )
    for p in (*providers, *crash):
        if p not in PROVIDERS:
            parser.error(f"unknown provider {p!r}; use {', '.join(PROVIDERS)}")
    print(
        f"soak: {args.items} items × {', '.join(providers)}; faults {FAULTS}; client timeout "
        f"{TIMEOUTS} s; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="omniembed-soak-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        started = time.perf_counter()
        report = run_soak(
            args.items,
            providers,
            workdir,
            crash_providers=crash,
            seed=args.seed,
            kill_at=args.kill_at,
        )
    print(format_report(report))
    print(f"total {time.perf_counter() - started:.0f} s")
    failures = report.failures()
    for failure in failures:
        print("FAIL:", failure)
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
