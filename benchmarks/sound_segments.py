#!/usr/bin/env python3
"""Long audio and video with sound: `GeminiEmbedder('gemini-embedding-2')` embedding a
one-hour recording (`embed_audio`) and a 30-minute video with a sound track
(`embed_video`, 80 s clips) against the emulator, under a Gemini API quota.

Generates into a temporary folder, seeded and outside the measurement:

* a one-hour MP3 (22.05 kHz mono, 64 kb/s, ~29 MB) and the same length as WAV (16 kHz
  mono 16-bit, ~115 MB): one to four notes a second at random pitches over noise of
  drifting level, so no two windows sound alike (equal inputs would be embedded once);
* a 30-minute MP4, 160×120 at 2 fps, H.264 (MPEG-4 Part 2 where this FFmpeg has no
  libx264) at ~100 kb/s with a keyframe every 10 s and no B-frames, plus an AAC sound
  track (16 kHz mono, 32 kb/s) of the same kind of notes.

The emulator runs in its own process (``emulator_logged.py``: one JSON line per answered
request with its body size and, per embedded content, the tokens the emulator's quota
counted and whether a video part had a sound track), enforcing the Gemini API's published
per-minute quota for ``--tier`` (default free: 100 inputs / 30,000 tokens a minute) over a
time-scaled minute of ``--window-sec`` (default 6 s: the quota's waits take a tenth of
real time), with ``--latency-ms`` per request. The client is told the same quota.

Each case runs in a fresh interpreter (its peak RSS is its own ``ru_maxrss``, reported
by a small launcher) and prints, as a markdown table: segments, requests (429s), bytes
uploaded (request bodies as the emulator received them) against the source file's size,
how many video clips carried sound, the call's wall time, the quota bound (the soonest
the service's per-minute quota lets the last input in, with its own token counts, one
input per call from an empty minute), wall / bound, and peak RSS against a baseline
process (import omniembed, build the embedder, embed one short text) measured in the
same run, and against the source's size.

``--quick``: a 10-minute recording and a 5-minute video, a 2 s minute (the smoke test).
Exit code: 0 when every case returned the expected segments covering the whole source;
1 when a case failed; 2 when the media or the emulator could not be set up.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from emulator_logged import LoggedEmulator  # benchmarks/ is on sys.path when run as a script

log = logging.getLogger("benchmarks.sound_segments")

MODEL = "gemini-embedding-2"
API_KEY = "bench-key"
TIERS = ("free", "tier1", "tier2", "none")
CASES = ("mp3", "wav", "video")

MP3_RATE, MP3_BIT_RATE = 22_050, 64_000
WAV_RATE = 16_000
VIDEO_SIZE = (160, 120)
VIDEO_FPS = 2
VIDEO_BIT_RATE = 100_000
#: Keyframes at multiples of 10 s: 80 s clips start on one, so they are cut by stream
#: copy (a clip starting between keyframes would be re-encoded), as with most recordings
#: cut at round offsets.
VIDEO_GOP_SEC = 10
VIDEO_AUDIO_RATE, VIDEO_AUDIO_BIT_RATE = 16_000, 32_000


@dataclass(frozen=True)
class Sizes:
    audio_sec: int
    video_sec: int
    window_sec: float


FULL = Sizes(audio_sec=3600, video_sec=1800, window_sec=6.0)
QUICK = Sizes(audio_sec=600, video_sec=300, window_sec=2.0)


# --------------------------------------------------------------------------- media


def notes(seconds: int, rate: int, seed: int) -> Iterator[np.ndarray]:
    """One second of float32 sound at a time: one to four notes at random pitches (four
    octaves from 110 Hz, with a second partial) over noise whose level drifts."""
    rng = np.random.default_rng(seed)
    t = np.arange(rate) / rate
    level = 0.05
    for _ in range(seconds):
        bounds = [0, *sorted(rng.integers(1, rate, int(rng.integers(0, 4)))), rate]
        out = np.empty(rate, dtype=np.float64)
        for begin, end in itertools.pairwise(bounds):
            pitch = 110.0 * 2 ** (int(rng.integers(0, 48)) / 12)
            span = t[begin:end]
            out[begin:end] = 0.3 * np.sin(2 * np.pi * pitch * span) + 0.1 * np.sin(
                4 * np.pi * pitch * span
            )
        level = float(np.clip(level + rng.normal(0, 0.01), 0.0, 0.2))
        out += rng.standard_normal(rate) * level
        yield np.clip(out, -1.0, 1.0).astype(np.float32)


def make_mp3(path: Path, seconds: int, seed: int = 3) -> Path:
    import av

    with av.open(str(path), mode="w", format="mp3") as output:
        stream = output.add_stream("libmp3lame", rate=MP3_RATE, layout="mono")
        stream.bit_rate = MP3_BIT_RATE
        for number, chunk in enumerate(notes(seconds, MP3_RATE, seed)):
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = MP3_RATE
            frame.pts = number * MP3_RATE
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def make_wav(path: Path, seconds: int, seed: int = 5) -> Path:
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(WAV_RATE)
        for chunk in notes(seconds, WAV_RATE, seed):
            writer.writeframes((chunk * 32_000).astype("<i2").tobytes())
    return path


def video_codec() -> str:
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def make_video(path: Path, seconds: int, seed: int = 11) -> Path:
    """A moving gradient whose colour changes every 8 s, a drifting square and grain, at
    2 fps, with an AAC sound track of notes (see the module docstring)."""
    import av

    rng = np.random.default_rng(seed)
    width, height = VIDEO_SIZE
    grain = rng.integers(-10, 11, (8, height, width, 1), dtype=np.int16)
    gradient = (np.arange(2 * width, dtype=np.int16) % width * 80 // width)[None, :, None]
    ramp = (np.arange(height, dtype=np.int16) * 40 // height)[:, None, None]
    codec = video_codec()
    with av.open(str(path), mode="w", format="mp4") as output:
        video = output.add_stream(codec, rate=VIDEO_FPS)
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p"
        video.bit_rate = VIDEO_BIT_RATE
        video.gop_size = VIDEO_FPS * VIDEO_GOP_SEC
        video.codec_context.max_b_frames = 0
        if codec == "libx264":
            keyint = VIDEO_FPS * VIDEO_GOP_SEC
            video.options = {
                "preset": "veryfast",
                "x264-params": f"keyint={keyint}:min-keyint={keyint}:scenecut=0:bframes=0",
            }
        sound = output.add_stream("aac", rate=VIDEO_AUDIO_RATE, layout="mono")
        sound.bit_rate = VIDEO_AUDIO_BIT_RATE
        colour = np.zeros(3, dtype=np.int16)
        index = 0
        for second, chunk in enumerate(notes(seconds, VIDEO_AUDIO_RATE, seed + 1)):
            for _ in range(VIDEO_FPS):
                if index % (8 * VIDEO_FPS) == 0:
                    colour = rng.integers(30, 170, 3).astype(np.int16)
                shift = index * 3 % width
                pixels = gradient[:, shift : shift + width] + ramp + colour + grain[index % 8]
                x, y = (index * 5) % (width - 24), (index * 3) % (height - 24)
                pixels[y : y + 24, x : x + 24] = 230
                frame = av.VideoFrame.from_ndarray(
                    np.clip(pixels, 0, 255).astype(np.uint8), format="rgb24"
                )
                frame.pts = index
                for packet in video.encode(frame):
                    output.mux(packet)
                index += 1
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = VIDEO_AUDIO_RATE
            frame.pts = second * VIDEO_AUDIO_RATE
            for packet in sound.encode(frame):
                output.mux(packet)
        for stream in (video, sound):
            for packet in stream.encode(None):
                output.mux(packet)
    return path


# --------------------------------------------------------------------------- one case


def run_case(
    case: str, url: str, path: str, tier: str, window: float, interval: float
) -> dict[str, Any]:
    """In a fresh interpreter: one call of the embedder (or the baseline)."""
    from omniembed import GeminiEmbedder, Quota, VideoSegmentConfig
    from omniembed.providers.quota_table import quota_limits

    quota = None
    if tier != "none":
        quota = Quota(quota_limits("gemini-api", MODEL, tier), window_sec=window)
    embedder = GeminiEmbedder(MODEL, api_key=API_KEY, base_url=url, quota=quota)
    if case == "baseline-av":
        import av  # noqa: F401 - what loading FFmpeg's libraries costs, for the figures

    started = time.perf_counter()
    if case.startswith("baseline"):
        results = embedder.embed(["a short text to start the client"])
        return {"segments": len(results), "wall": time.perf_counter() - started, "spans": []}
    if case == "video":
        segments = embedder.embed_video(path, VideoSegmentConfig(interval_sec=interval))
    else:
        segments = embedder.embed_audio(path)
    wall = time.perf_counter() - started
    return {
        "segments": len(segments),
        "wall": wall,
        "spans": [(s.start_offset_sec, s.end_offset_sec) for s in segments],
        "dims": sorted({len(s.vector) for s in segments}),
    }


#: Runs its arguments as its only child and prints that child's peak RSS. A child forked
#: straight from this benchmark would inherit the parent's RSS (the generated media went
#: through numpy here) as its ru_maxrss: Linux keeps the pre-exec high-water mark.
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[1:])\n"
    "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
    "sys.exit(code)\n"
)


@dataclass
class Outcome:
    peak_mb: float = float("nan")
    hwm_mb: float | None = None
    segments: int = 0
    wall: float = float("nan")
    spans: list[tuple[float, float | None]] = field(default_factory=list)
    dims: list[int] = field(default_factory=list)
    error: str = ""


def run_in_fresh_process(
    case: str, url: str, path: Path, args: argparse.Namespace, timeout: float
) -> Outcome:
    cmd = [sys.executable, "-S", "-c", _LAUNCHER, sys.executable, __file__, "--case", case]
    cmd += ["--url", url, "--path", str(path), "--tier", args.tier]
    cmd += ["--window-sec", f"{args.window_sec:g}", "--video-interval", f"{args.video_interval:g}"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(error=f"no result after {timeout:g} s")
    outcome = Outcome()
    for line in done.stdout.splitlines():
        if line.startswith("MAXRSS "):
            # ru_maxrss: kilobytes on Linux, bytes on macOS.
            outcome.peak_mb = int(line.split()[1]) / (1e6 if sys.platform == "darwin" else 1e3)
        elif line.startswith("RESULT "):
            found = json.loads(line[7:])
            outcome.segments = found["segments"]
            outcome.wall = found["wall"]
            outcome.spans = [tuple(s) for s in found["spans"]]
            outcome.dims = found.get("dims", [])
            outcome.hwm_mb = found.get("hwm_mb")
    if done.returncode != 0 or math.isnan(outcome.wall):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        outcome.error = tail[0][:300]
    return outcome


def _vm_hwm_mb() -> float | None:
    """This process's own peak RSS from /proc (Linux), a cross-check of ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e3
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- figures


@dataclass
class Case:
    key: str  # "audio" or "video" (what the child calls)
    label: str
    path: Path
    seconds: int
    expected: int


@dataclass
class Row:
    case: Case
    outcome: Outcome
    records: list[dict[str, Any]]
    bound: float | None
    problems: list[str]
    emulator_cpu: float | None = None

    @property
    def inputs(self) -> list[dict[str, Any]]:
        return [i for r in self.records if r["status"] == 200 for i in r.get("inputs", [])]


def quota_bound(inputs: Sequence[dict[str, Any]], tier: str, window: float) -> float | None:
    """The soonest the service's per-minute quota admits the last of these inputs, each
    counted as the emulator counted it, packed one input per call from an empty minute:
    no client, however it batches, can do better."""
    if tier == "none":
        return None
    from omniembed.providers.quota_table import quota_limits
    from omniembed.runtime.quota import minimum_seconds

    limits = quota_limits("gemini-api", MODEL, tier)
    return minimum_seconds([(1, int(i["tokens"])) for i in inputs], limits, window)


def check(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with a case's segments (nothing: they tile the whole source)."""
    if outcome.error:
        return [f"failed: {outcome.error}"]
    problems = []
    if outcome.segments != case.expected:
        problems.append(f"{outcome.segments} segments, expected {case.expected}")
    spans = outcome.spans
    if spans and abs(spans[0][0]) > 0.1:
        problems.append(f"the first segment starts at {spans[0][0]:.2f} s")
    end = spans[-1][1] if spans else None
    if end is None or abs(end - case.seconds) > 1.0:
        problems.append(f"the last segment ends at {end} s, not {case.seconds} s")
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans) if a[1] is not None]
    if gaps and max(abs(g) for g in gaps) > 0.25:
        problems.append(f"segments leave gaps or overlap (up to {max(gaps, key=abs):+.2f} s)")
    if outcome.dims and outcome.dims != [3072]:
        problems.append(f"vector sizes {outcome.dims}")
    return problems


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def seconds(value: float | None) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:,.1f} s"


def bound_cell(value: float | None) -> str:
    if value == 0:
        return "0 (one minute's quota)"
    return seconds(value)


def sound_cell(row: Row) -> str:
    videos = [k for i in row.inputs for k in i["kinds"] if k.startswith("video")]
    if not videos:
        return "—"
    return f"{sum(1 for k in videos if k == 'video+sound')}/{len(videos)}"


def table(rows: Sequence[Row], baseline: Outcome) -> str:
    lines = [
        "| case | source | segments | requests (429s) | uploaded (÷ source) | clips with sound "
        "| wall time | quota bound | wall / bound | peak RSS (÷ baseline) "
        "| peak − baseline (÷ source) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        source = row.case.path.stat().st_size
        sent = sum(r["body_size"] for r in row.records)
        rejected = sum(1 for r in row.records if r["status"] == 429)
        out = row.outcome
        ratio = "—"
        if row.bound and not math.isnan(out.wall):
            ratio = f"{out.wall / row.bound:.2f}"
        above = out.peak_mb - baseline.peak_mb
        segments = f"{out.segments}" if not out.error else "FAILED"
        lines.append(
            f"| {row.case.label} | {mb(source)} | {segments} | {len(row.records)} ({rejected}) "
            f"| {mb(sent)} ({sent / source:.2f}×) | {sound_cell(row)} | {seconds(out.wall)} "
            f"| {bound_cell(row.bound)} | {ratio} "
            f"| {out.peak_mb:,.0f} MB ({out.peak_mb / baseline.peak_mb:.2f}×) "
            f"| {above:,.0f} MB ({above * 1e6 / source:.2f}×) |"
        )
    return "\n".join(lines)


def header_lines(args: argparse.Namespace) -> list[str]:
    import av

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    quota = "no quota"
    if args.tier != "none":
        from omniembed.providers.quota_table import quota_limits

        limits = quota_limits("gemini-api", MODEL, args.tier)
        quota = f"{args.tier} tier ({limits.describe()}), a minute of {args.window_sec:g} s"
    return [
        f"machine: {platform.platform()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}; load average before the run {load}",
        f"packages: google-genai {version('google-genai')}, PyAV {av.__version__} "
        f"(FFmpeg {'.'.join(map(str, av.library_versions['libavformat']))} libavformat)",
        f"emulator: own process, {args.latency_ms:g} ms latency per request, {quota}; "
        "the client is told the same quota",
    ]


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10 min of audio, 5 min of video")
    parser.add_argument("--audio-seconds", type=int, default=None, help="3600 (600 with --quick)")
    parser.add_argument("--video-seconds", type=int, default=None, help="1800 (300 with --quick)")
    parser.add_argument(
        "--video-interval",
        type=float,
        default=80.0,
        help="clip length (80: gemini-embedding-2's limit for video with sound)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=CASES,
        help="run only these cases (repeatable); default all",
    )
    parser.add_argument("--tier", choices=TIERS, default="free", help="the quota (free)")
    parser.add_argument(
        "--window-sec",
        type=float,
        default=None,
        help="the quota's minute, in seconds (6; 2 with --quick; 60: real minutes)",
    )
    parser.add_argument("--latency-ms", type=float, default=200.0, help="emulator latency (200)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per case (1800)")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log to stderr")
    # Internal: one case in this (fresh) process.
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    sizes = QUICK if args.quick else FULL
    args.audio_seconds = args.audio_seconds or sizes.audio_sec
    args.video_seconds = args.video_seconds or sizes.video_sec
    args.window_sec = args.window_sec or sizes.window_sec
    if args.case:
        result = run_case(
            args.case, args.url, args.path, args.tier, args.window_sec, args.video_interval
        )
        result["hwm_mb"] = _vm_hwm_mb()
        print("RESULT " + json.dumps(result), flush=True)
        return 0
    # Stop the emulator child on SIGTERM too (the context manager runs on SystemExit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("# Long audio and video with sound" + (" (--quick)" if args.quick else ""))
    print()
    for line in header_lines(args):
        print(line)
    with tempfile.TemporaryDirectory(prefix="omniembed-sound-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        chosen = args.only or list(CASES)
        makers = {
            "mp3": lambda: make_mp3(folder / "recording.mp3", args.audio_seconds),
            "wav": lambda: make_wav(folder / "recording.wav", args.audio_seconds),
            "video": lambda: make_video(folder / "video.mp4", args.video_seconds),
        }
        try:
            media = {key: makers[key]() for key in CASES if key in chosen}
        except Exception as exc:
            print(f"could not generate the media: {exc!r}", file=sys.stderr)
            return 2
        described = {
            "mp3": f"{args.audio_seconds:,} s of MP3 ({MP3_RATE / 1000:g} kHz mono, "
            f"{MP3_BIT_RATE // 1000} kb/s)",
            "wav": f"{args.audio_seconds:,} s of WAV ({WAV_RATE / 1000:g} kHz mono 16-bit)",
            "video": f"{args.video_seconds:,} s of {VIDEO_SIZE[0]}×{VIDEO_SIZE[1]} "
            f"{video_codec()} at {VIDEO_FPS} fps with AAC sound",
        }
        print(
            "media: " + "; ".join(described[key] for key in media) + f"; generated in "
            f"{time.perf_counter() - started:.0f} s (not measured)"
        )
        print(flush=True)
        from omniembed.providers.gemini_models import model_spec

        audio_segments = math.ceil(args.audio_seconds / model_spec(MODEL).max_audio_seconds - 1e-9)
        minutes = args.audio_seconds // 60
        cases = [
            Case(
                "audio",
                f"`embed_audio`, {minutes} min {key.upper()}",
                path,
                args.audio_seconds,
                audio_segments,
            )
            for key, path in media.items()
            if key != "video"
        ]
        if "video" in media:
            cases.append(
                Case(
                    "video",
                    f"`embed_video` ({args.video_interval:g} s clips), "
                    f"{args.video_seconds // 60} min MP4 with sound",
                    media["video"],
                    args.video_seconds,
                    math.ceil(args.video_seconds / args.video_interval - 1e-9),
                )
            )
        options = [f"--quota-window-sec={args.window_sec:g}"]
        if args.tier != "none":
            options.append(f"--tier={args.tier}")
        try:
            emulator = LoggedEmulator(
                folder / "requests.jsonl", latency_ms=args.latency_ms, options=options
            ).__enter__()
        except (OSError, RuntimeError) as exc:
            print(f"the emulator did not start: {exc}", file=sys.stderr)
            return 2
        rows: list[Row] = []
        try:
            url, anything = emulator.base_url, folder
            baseline = run_in_fresh_process("baseline", url, anything, args, 300)
            with_av = run_in_fresh_process("baseline-av", url, anything, args, 300)
            if baseline.error or with_av.error:
                print(f"the baseline failed: {baseline.error or with_av.error}", file=sys.stderr)
                return 2
            for case in cases:
                # Each case starts from an empty quota minute at the emulator, as its
                # fresh client assumes (and the bound too).
                time.sleep(args.window_sec + 0.5 if args.tier != "none" else 0.0)
                mark = emulator.mark()
                cpu_before = emulator.cpu_seconds()
                log.info("case %s", case.label)
                outcome = run_in_fresh_process(
                    case.key, emulator.base_url, case.path, args, args.timeout
                )
                records = emulator.since(mark)
                cpu_after = emulator.cpu_seconds()
                row = Row(case, outcome, records, None, check(case, outcome))
                row.bound = quota_bound(row.inputs, args.tier, args.window_sec)
                if cpu_before is not None and cpu_after is not None:
                    row.emulator_cpu = cpu_after - cpu_before
                rows.append(row)
                print(f"{case.label}: done in {seconds(outcome.wall)}", flush=True)
        finally:
            emulator.__exit__()
        print()
        print(table(rows, baseline))
        print()
        print(details(rows, baseline, with_av, args))
    failed = [r for r in rows if r.problems]
    for row in failed:
        print(f"PROBLEM: {row.case.label}: {'; '.join(row.problems)}", file=sys.stderr)
    return 1 if failed else 0


def details(
    rows: Sequence[Row], baseline: Outcome, with_av: Outcome, args: argparse.Namespace
) -> str:
    lines = [
        f"- baseline (import omniembed, build GeminiEmbedder, embed one short text): peak RSS "
        f"{baseline.peak_mb:,.0f} MB; the same with PyAV imported (FFmpeg's libraries, which "
        f"every media case loads): {with_av.peak_mb:,.0f} MB",
    ]
    for row in rows:
        out = row.outcome
        tokens = sum(int(i["tokens"]) for i in row.inputs)
        parts = [f"{len(row.inputs)} inputs, {tokens:,} tokens as the emulator counts them"]
        if row.bound is not None and args.window_sec != 60:
            parts.append(
                f"bound {row.bound / args.window_sec:.1f} quota minutes (as long in real "
                "minutes at the service)"
            )
        if out.spans:
            last = out.spans[-1]
            parts.append(f"segments from {out.spans[0][0]:g} s to {last[1]:g} s")
        if out.hwm_mb is not None:
            parts.append(f"VmHWM {out.hwm_mb:,.0f} MB")
        if row.emulator_cpu is not None:
            parts.append(f"emulator CPU {row.emulator_cpu:.1f} s")
        if row.problems:
            parts.append("PROBLEMS: " + "; ".join(row.problems))
        lines.append(f"- {row.case.label}: " + ", ".join(parts))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
