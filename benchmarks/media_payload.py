#!/usr/bin/env python3
"""Bytes uploaded and wall time for large photos and a long local video, omniembed's
``VertexMultiModalEmbedder`` against a naive client.

Generates N large photos (default 50 seeded 12 MP JPEGs, ~2–4 MB each) and one long local
video (default 600 s, 640×360 MPEG-4 at ~600 kb/s, ~45 MB) into a temporary directory,
then embeds them with ``multimodalembedding@001`` against omniembed's offline emulator,
which runs in a separate process with a fixed latency per request (default 200 ms):

* omniembed ``VertexMultiModalEmbedder.embed`` with its defaults (images downscaled to
  the model's 512 px before upload; the video cut into ≤120 s windows by stream copy,
  each request carrying only its window), ``max_concurrency=8``, no request pacing;
* a naive client (httpx) that POSTs each original photo base64-encoded, and for the
  video sends the WHOLE file base64-encoded in each ≤120 s window's request (the service
  analyses 120 s per request), first sequentially (the usual loop), then with the same
  concurrency as omniembed (8 threads) to isolate the effect of the bytes.

Request bytes are the HTTP request bodies, counted client-side for every request any
``httpx.Client`` in this process sends; the emulator's per-request log lines confirm the
request counts. Prints per client and media kind: requests, bytes uploaded, wall time
(and the emulator's CPU time), then the ratios naive / omniembed.

``--quick`` (5 photos, a 150 s video) is a smoke run for CI. Exit code: 0 when every run
completed and returned comparable vectors, 1 when a client failed or returned wrong
results, 2 when the media or the emulator could not be set up.
"""

from __future__ import annotations

import argparse
import base64
import logging
import math
import os
import platform
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from emulator_process import EmulatorProcess  # benchmarks/ is on sys.path when run as a script

log = logging.getLogger("benchmarks.media_payload")

PROJECT = "bench-project"
LOCATION = "us-central1"
TOKEN = "bench-not-a-real-token"
DIMENSION = 1408
#: Seconds of video the service analyses per request.
WINDOW_SEC = 120
#: omniembed's segment length when none is configured; the naive client asks for the same.
INTERVAL_SEC = 16
CONCURRENCY = 8

PHOTO_SIZE = (4000, 3000)
VIDEO_SIZE = (640, 360)
VIDEO_FPS = 10
VIDEO_BIT_RATE = 600_000
VIDEO_GOP_SEC = 2


# --------------------------------------------------------------------------- media


def make_photos(directory: Path, count: int, seed: int = 7) -> list[Path]:
    """``count`` deterministic 12 MP JPEGs: smooth colour fields, texture at a scale that
    survives downscaling, and film-grain noise, so they compress like photos (about 3 MB
    at quality 92, 60–70 kB once downscaled to 512 px)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = PHOTO_SIZE
    pad = 64
    grain = rng.normal(0.0, 1.0, (height + pad, width + pad)).astype(np.float32)
    paths = []
    for index in range(count):
        colours = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        smooth = Image.fromarray(colours).resize((width, height), Image.Resampling.BICUBIC)
        texture = rng.integers(0, 256, (height // 10, width // 10), dtype=np.uint8)
        detail = Image.fromarray(texture).resize((width, height), Image.Resampling.BICUBIC)
        dy, dx = (int(v) for v in rng.integers(0, pad, 2))
        pixels = np.asarray(smooth, dtype=np.float32)
        pixels += (np.asarray(detail, dtype=np.float32)[:, :, None] - 128.0) * (20.0 / 128.0)
        pixels += float(rng.uniform(3.0, 5.0)) * grain[dy : dy + height, dx : dx + width, None]
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        path = directory / f"photo_{index:03d}.jpg"
        image.save(path, "JPEG", quality=92)
        paths.append(path)
    return paths


def make_video(path: Path, seconds: float, seed: int = 11) -> Path:
    """A deterministic MPEG-4 video: an 8 s scene per colour, a moving gradient and noise,
    at ~600 kb/s with a keyframe every 2 s."""
    import av

    rng = np.random.default_rng(seed)
    width, height = VIDEO_SIZE
    fps = VIDEO_FPS
    noise = rng.integers(-12, 13, (8, height, width, 1), dtype=np.int16)
    gradient = (np.arange(2 * width, dtype=np.int16) % width * 60 // width)[None, :, None]
    ramp = (np.arange(height, dtype=np.int16) * 15 // 100)[:, None, None]
    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = VIDEO_BIT_RATE
        stream.gop_size = fps * VIDEO_GOP_SEC
        colour = np.zeros(3, dtype=np.int16)
        for index in range(max(1, round(seconds * fps))):
            if index % (8 * fps) == 0:
                colour = rng.integers(30, 170, 3).astype(np.int16)
            shift = index * 4 % width
            pixels = gradient[:, shift : shift + width] + ramp + colour + noise[index % 8]
            frame = av.VideoFrame.from_ndarray(
                np.clip(pixels, 0, 255).astype(np.uint8), format="rgb24"
            )
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def video_windows(seconds: float) -> list[tuple[int, int]]:
    """The ≤120 s windows covering the video, as the naive client asks for them."""
    stop = math.floor(seconds + 1e-6)
    return [(s, min(s + WINDOW_SEC, stop)) for s in range(0, stop, WINDOW_SEC)]


# --------------------------------------------------------------------------- emulator

# --------------------------------------------------------------------------- byte counting


class UploadCounter:
    """Counts requests and request-body bytes sent by every ``httpx.Client`` in this
    process (omniembed and the naive client alike) by wrapping ``httpx.Client.send``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.body_bytes = 0

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.body_bytes = 0

    def _count(self, request: httpx.Request) -> None:
        try:
            size = len(request.content)
        except httpx.RequestNotRead:  # a streamed body: trust its declared length
            size = int(request.headers.get("content-length", 0))
        with self._lock:
            self.requests += 1
            self.body_bytes += size

    @contextmanager
    def installed(self) -> Iterator[UploadCounter]:
        original = httpx.Client.send
        counter = self

        def send(client: httpx.Client, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            counter._count(request)
            return original(client, request, **kwargs)

        httpx.Client.send = send  # type: ignore[method-assign]
        try:
            yield self
        finally:
            httpx.Client.send = original  # type: ignore[method-assign]


# --------------------------------------------------------------------------- clients


@dataclass
class Vectors:
    """What a client got back: one vector per photo, and the video's segments."""

    images: list[list[float]] = field(default_factory=list)
    segments: list[tuple[float, float, list[float]]] = field(default_factory=list)


@dataclass
class Row:
    client: str
    kind: str
    requests: int
    body_bytes: int
    seconds: float
    emulator_cpu: float | None
    failures: int = 0


def predict_url(base_url: str) -> str:
    return (
        f"{base_url}/v1/projects/{PROJECT}/locations/{LOCATION}"
        "/publishers/google/models/multimodalembedding@001:predict"
    )


def run_omniembed(base_url: str, photos: Sequence[Path], video: Path, kind: str) -> Vectors:
    from omniembed import Media, VertexMultiModalEmbedder

    embedder = VertexMultiModalEmbedder(
        project=PROJECT,
        location=LOCATION,
        access_token=TOKEN,
        base_url=base_url,
        max_concurrency=CONCURRENCY,
        tier=None,  # no client quota: the request count is what is measured
    )
    out = Vectors()
    try:
        if kind == "photos":
            results = embedder.embed([Media.from_path(p) for p in photos])
            out.images = [e.vector for r in results for e in r.embeddings]
        else:
            (result,) = embedder.embed([Media.from_path(video)])
            out.segments = [
                (float(e.start_offset_sec or 0), float(e.end_offset_sec or 0), e.vector)
                for e in result.embeddings
            ]
    finally:
        embedder.close()
    return out


class NaiveClient:
    """Reads each file, base64-encodes the original bytes and POSTs them; for the video,
    the whole file in every window's request."""

    def __init__(self, base_url: str, concurrency: int):
        self.url = predict_url(base_url)
        self.concurrency = concurrency
        self.client = httpx.Client(timeout=300.0, headers={"Authorization": f"Bearer {TOKEN}"})

    def _post(self, instance: dict[str, Any]) -> dict[str, Any]:
        body = {"instances": [instance], "parameters": {"dimension": DIMENSION}}
        response = self.client.post(self.url, json=body)
        response.raise_for_status()
        prediction: dict[str, Any] = response.json()["predictions"][0]
        return prediction

    def _photo(self, path: Path) -> list[float]:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        return list(self._post({"image": {"bytesBase64Encoded": data}})["imageEmbedding"])

    def _window(self, video: Path, span: tuple[int, int]) -> list[tuple[float, float, list[float]]]:
        data = base64.b64encode(video.read_bytes()).decode("ascii")
        config = {"startOffsetSec": span[0], "endOffsetSec": span[1], "intervalSec": INTERVAL_SEC}
        prediction = self._post(
            {"video": {"bytesBase64Encoded": data, "videoSegmentConfig": config}}
        )
        return [
            (float(s["startOffsetSec"]), float(s["endOffsetSec"]), list(s["embedding"]))
            for s in prediction.get("videoEmbeddings") or []
        ]

    def _map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self.concurrency <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(fn, items))

    def run(self, photos: Sequence[Path], video: Path, seconds: float, kind: str) -> Vectors:
        out = Vectors()
        try:
            if kind == "photos":
                out.images = self._map(self._photo, photos)
            else:
                spans = video_windows(seconds)
                windows = self._map(lambda span: self._window(video, span), spans)
                out.segments = [segment for window in windows for segment in window]
        finally:
            self.client.close()
        return out


# --------------------------------------------------------------------------- checks


def check(vectors: Vectors, kind: str, photos: int, seconds: float) -> list[str]:
    """What is wrong with a client's results (empty when they are as expected)."""
    problems = []
    if kind == "photos":
        if len(vectors.images) != photos:
            problems.append(f"{len(vectors.images)} image vectors for {photos} photos")
        if any(len(v) != DIMENSION for v in vectors.images):
            problems.append("an image vector is not 1408-d")
        return problems
    stop = math.floor(seconds + 1e-6)
    segments = sorted(vectors.segments)
    if not segments:
        return ["no video segments"]
    cursor = 0.0
    for start, end, vector in segments:
        if abs(start - cursor) > 1.0:
            problems.append(f"segments leave a gap or overlap at {cursor:g} s (next at {start:g})")
            break
        if len(vector) != DIMENSION:
            problems.append("a video vector is not 1408-d")
            break
        cursor = end
    if abs(cursor - stop) > 1.0:
        problems.append(f"segments end at {cursor:g} s, not {stop} s")
    return problems


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y) or 1.0))


def agreement(a: Vectors, b: Vectors) -> tuple[float | None, float | None]:
    """Lowest cosine similarity between the two clients' image vectors (pairwise by photo)
    and between their video vectors (segments matched by start offset)."""
    images = [cosine(x, y) for x, y in zip(a.images, b.images, strict=False)]
    by_start = {round(s): v for s, _, v in b.segments}
    videos = [cosine(v, by_start[round(s)]) for s, _, v in a.segments if round(s) in by_start]
    return (min(images) if images else None, min(videos) if videos else None)


# --------------------------------------------------------------------------- report


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


def ratio(a: float, b: float) -> str:
    return f"{a / b:,.1f}×" if b else "n/a"


def print_table(rows: Sequence[Row]) -> None:
    header = f"{'client':<22} {'media':<7} {'requests':>8} {'uploaded':>11} {'wall s':>8}"
    print(f"{header} {'emulator CPU s':>15}")
    print("-" * (len(header) + 16))
    for row in rows:
        cpu = "" if row.emulator_cpu is None else f"{row.emulator_cpu:.1f}"
        failed = f"  FAILED ({row.failures})" if row.failures else ""
        print(
            f"{row.client:<22} {row.kind:<7} {row.requests:>8} {mb(row.body_bytes):>11} "
            f"{row.seconds:>8.2f} {cpu:>15}{failed}"
        )


def totals(rows: Sequence[Row], client: str) -> Row:
    mine = [r for r in rows if r.client == client]
    cpus = [r.emulator_cpu for r in mine]
    return Row(
        client,
        "total",
        sum(r.requests for r in mine),
        sum(r.body_bytes for r in mine),
        sum(r.seconds for r in mine),
        None if None in cpus else sum(c or 0.0 for c in cpus),
        sum(r.failures for r in mine),
    )


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Bytes uploaded and wall time: omniembed's VertexMultiModalEmbedder vs a "
        "naive base64 client, for large photos and a long local video."
    )
    parser.add_argument("--photos", type=int, default=50, help="number of 12 MP photos (50)")
    parser.add_argument(
        "--video-seconds", type=float, default=600.0, help="length of the local video (600)"
    )
    parser.add_argument("--latency-ms", type=float, default=200.0, help="emulator latency (200)")
    parser.add_argument(
        "--quick", action="store_true", help="5 photos and a 150 s video (a CI smoke run)"
    )
    parser.add_argument(
        "--uplink-mbps",
        type=float,
        default=20.0,
        help="uplink for the transfer-time estimate, Mbit/s (20; 0: no estimate)",
    )
    parser.add_argument("--port", type=int, default=0, help="emulator port (0: any free)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.photos, args.video_seconds = 5, 150.0
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    if args.photos < 1 or args.video_seconds < 1:
        print("--photos and --video-seconds must be at least 1", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="omniembed-media-bench-") as tmp:
        directory = Path(tmp)
        started = time.perf_counter()
        try:
            photos = make_photos(directory, args.photos)
            video = make_video(directory / "video.mp4", args.video_seconds)
        except Exception as exc:
            print(f"could not generate the media: {exc!r}", file=sys.stderr)
            return 2
        generation_s = time.perf_counter() - started
        photo_bytes = sum(p.stat().st_size for p in photos)
        video_bytes = video.stat().st_size
        windows = video_windows(args.video_seconds)

        print("omniembed media payload benchmark")
        print(
            f"python {platform.python_version()} on {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
        )
        print(
            f"photos: {args.photos} × {PHOTO_SIZE[0]}×{PHOTO_SIZE[1]} JPEG, {mb(photo_bytes)} "
            f"({mb(photo_bytes / args.photos)} each)"
        )
        print(
            f"video: {args.video_seconds:g} s {VIDEO_SIZE[0]}×{VIDEO_SIZE[1]} MPEG-4 "
            f"@ {VIDEO_FPS} fps, {mb(video_bytes)}, {len(windows)} windows of ≤{WINDOW_SEC} s"
        )
        print(f"media generated in {generation_s:.1f} s (not measured)")
        print(
            f"emulator: separate process, {args.latency_ms:g} ms latency per request; "
            f"omniembed and 'naive ×{CONCURRENCY}' keep {CONCURRENCY} requests in flight, "
            "'naive sequential' one"
        )
        print()

        try:
            emulator = EmulatorProcess(
                latency_ms=args.latency_ms, port=args.port, route="predict"
            ).__enter__()
        except (OSError, RuntimeError) as exc:
            print(f"the emulator did not start: {exc}", file=sys.stderr)
            return 2
        counter = UploadCounter()
        rows: list[Row] = []
        results: dict[str, dict[str, Vectors]] = {}
        problems: list[str] = []
        try:
            with counter.installed():
                # Unmeasured warm-up: the emulator's first image and video requests import
                # and initialise its decoders.
                try:
                    run_omniembed(emulator.base_url, photos[:1], video, "photos")
                    short = make_video(directory / "warmup.mp4", 5.0)
                    run_omniembed(emulator.base_url, [], short, "video")
                except Exception as exc:
                    print(f"the warm-up failed: {exc!r}", file=sys.stderr)
                    return 2

                clients: list[tuple[str, Callable[[str], Vectors]]] = [
                    (
                        "omniembed",
                        lambda kind: run_omniembed(emulator.base_url, photos, video, kind),
                    ),
                    (
                        "naive sequential",
                        lambda kind: NaiveClient(emulator.base_url, 1).run(
                            photos, video, args.video_seconds, kind
                        ),
                    ),
                    (
                        f"naive ×{CONCURRENCY}",
                        lambda kind: NaiveClient(emulator.base_url, CONCURRENCY).run(
                            photos, video, args.video_seconds, kind
                        ),
                    ),
                ]
                for name, run in clients:
                    for kind in ("photos", "video"):
                        row, vectors, problem = measure(emulator, counter, name, kind, run)
                        rows.append(row)
                        if vectors is not None:
                            results.setdefault(name, {})[kind] = vectors
                            wrong = check(vectors, kind, args.photos, args.video_seconds)
                            problem = problem or "; ".join(wrong) or None
                        if problem:
                            row.failures = max(row.failures, 1)
                            problems.append(f"{name} {kind}: {problem}")
        finally:
            emulator.__exit__()

    print_table(rows)
    print()
    names = [name for name, _ in clients]
    print_table([totals(rows, name) for name in names])
    print()
    base = {r.kind: r for r in rows if r.client == "omniembed"}
    base["total"] = totals(rows, "omniembed")
    print("ratios, naive / omniembed (higher: omniembed better)")
    for name in names[1:]:
        mine = {r.kind: r for r in rows if r.client == name}
        mine["total"] = totals(rows, name)
        for kind in ("photos", "video", "total"):
            mine_row, base_row = mine[kind], base[kind]
            print(
                f"  {name:<18} {kind:<7} "
                f"bytes {ratio(mine_row.body_bytes, base_row.body_bytes):>8}   "
                f"wall time {ratio(mine_row.seconds, base_row.seconds):>7}"
            )
    if args.uplink_mbps > 0:
        print()
        print(
            f"estimate, not measured (the emulator is on loopback): sending the request bodies "
            f"over a {args.uplink_mbps:g} Mbit/s uplink takes"
        )
        for name, label in ((names[0], "omniembed"), (names[1], "naive (either)")):
            seconds = totals(rows, name).body_bytes * 8 / (args.uplink_mbps * 1e6)
            print(f"  {label:<18} {seconds:>8.1f} s")

    ours, theirs = results.get("omniembed", {}), results.get("naive sequential", {})
    if "photos" in ours and "photos" in theirs and "video" in ours and "video" in theirs:
        image_cos, _ = agreement(ours["photos"], theirs["photos"])
        _, video_cos = agreement(ours["video"], theirs["video"])
        print()
        print(
            "same results: omniembed vs naive, lowest cosine similarity: images "
            f"{'n/a' if image_cos is None else f'{image_cos:.4f}'} (downscaled vs original), "
            f"video segments {'n/a' if video_cos is None else f'{video_cos:.4f}'}"
        )
        print(
            f"omniembed: {len(ours['photos'].images)} image vectors, "
            f"{len(ours['video'].segments)} video segments covering "
            f"{min(s for s, _, _ in ours['video'].segments):g}–"
            f"{max(e for _, e, _ in ours['video'].segments):g} s"
        )
    if problems:
        print()
        for problem in problems:
            print(f"ERROR: {problem}")
        return 1
    return 0


def measure(
    emulator: EmulatorProcess,
    counter: UploadCounter,
    name: str,
    kind: str,
    run: Callable[[str], Vectors],
) -> tuple[Row, Vectors | None, str | None]:
    """One client on one media kind: its requests, request bytes, wall time and results."""
    emulator.check_alive()
    before = len(emulator.answered())
    cpu_before = emulator.cpu_seconds()
    counter.reset()
    vectors: Vectors | None = None
    problem: str | None = None
    started = time.perf_counter()
    try:
        vectors = run(kind)
    except Exception as exc:
        problem = f"raised {exc!r}"[:500]
    seconds = time.perf_counter() - started
    answered = emulator.wait_answered(before + counter.requests)[before:]
    cpu_after = emulator.cpu_seconds()
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    failures = sum(1 for status in answered if status != "200")
    if problem is None and len(answered) != counter.requests:
        problem = f"sent {counter.requests} requests but the emulator answered {len(answered)}"
    if problem is None and failures:
        problem = f"{failures} requests were not answered 200"
    row = Row(name, kind, counter.requests, counter.body_bytes, seconds, cpu, failures)
    log.info("%s %s: %s", name, kind, row)
    return row, vectors, problem


if __name__ == "__main__":
    sys.exit(main())
