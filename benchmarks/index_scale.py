"""Index and ask at scale: how `omniembed index` and `omniembed ask` fare on a large corpus.

```bash
python benchmarks/index_scale.py                          # full scale (long: see below)
python benchmarks/index_scale.py --scale 0.001            # a smoke run (seconds)
python benchmarks/index_scale.py --only images,pdfs,video --keep /tmp/index_scale
python benchmarks/index_scale.py --only text --scale 0.05 --keep /tmp/index_scale --json
```

It generates, in code and deterministically (nothing is downloaded), one folder per kind:

* ``text``: one ``.txt`` file of 100 MB: paragraphs of sentences of English words, with
  commas, full stops, questions and exclamations; written in 1 MB chunks, never whole in
  memory;
* ``images``: 2,000 pictures, 64-256 px a side, PNG and JPEG, each a background colour
  with a few random shapes drawn with Pillow;
* ``pdfs``: 20 PDFs of 50 pages, each page a title line, a paragraph and one coloured
  shape (rectangle, triangle or bar), built with `omniembed.samples.text_pdf` and pypdfium2;
* ``video``: one hour of H.264 video in MP4 at 64x48 px and 2 frames per second (PyAV):
  a background whose colour drifts, a new scene colour every 30 s and a square crossing
  the frame every minute.

``--scale F`` multiplies every size (file count, pages, bytes, seconds; at least one of
each, a two-page PDF and 8 s of video). Then, with the emulator running in its own process
(``python -m omniembed.emulator --port 0 -v``, **no quota, no latency, no faults**, so the
figures measure the pipeline, not a service's limits), for each kind in turn:

* ``python -m omniembed index FOLDER --store STORE --base-url URL --quiet`` on a fresh
  store, then
* ``python -m omniembed ask QUESTION --store STORE --base-url URL``,

each as a child process, measuring its wall time, exit code and peak RSS (``ru_maxrss``
from ``wait4``: the largest process of the child's tree), and reading from index's summary
the embedding requests it sent and the pieces in the store. It prints one Markdown table
(or, with ``--json``, one JSON object). Exit code: 0 when every command exited with 0,
1 otherwise, 2 when the emulator could not start.

``--keep DIR`` keeps the corpus (``DIR/corpus``), the stores (``DIR/stores``) and each
command's output (``DIR/logs``); a later run with the same ``--keep`` reuses a corpus
generated with the same scale and seed. Without it everything lives in a temporary folder
that is removed at the end, as the emulator is stopped, whether the run passes, fails or
is interrupted.
"""

from __future__ import annotations

import argparse
import colorsys
import ctypes
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
if str(_HERE) not in sys.path:  # when imported (tests), not run as a script
    sys.path.insert(0, str(_HERE))

from emulator_process import EmulatorProcess  # noqa: E402

KINDS = ("text", "images", "pdfs", "video")
#: Bumped whenever the generators change, so a kept corpus is made again.
CORPUS_VERSION = 1

TEXT_BYTES = 100_000_000
IMAGES = 2_000
PDFS, PDF_PAGES = 20, 50
VIDEO_SECONDS = 3_600
VIDEO_SIZE, VIDEO_FPS = (64, 48), 2
#: The smallest video: two segments at the index's default 4 s interval.
MIN_VIDEO_SECONDS = 8

#: One question per kind, about what its corpus shows.
QUESTIONS = {
    "text": "What did the council decide about the old harbour bridge?",
    "images": "Which picture shows a red circle on a blue background?",
    "pdfs": "Which report page shows a green triangle?",
    "video": "When does the white square reach the right edge of the frame?",
}

_SUMMARY_RE = re.compile(
    r"(?P<requests>\d+) embedding requests, (?P<hits>\d+) cache hits;"
    r".*?(?P<pieces>\d+) pieces in the store"
)
#: Never let a real key reach a child process: everything goes to the emulator.
_SECRET_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "DASHSCOPE_API_KEY", "GOOGLE_ACCESS_TOKEN")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- corpus

_VOCABULARY = """
the of and to in a is that for it as was with be by on not he this are or his from at
which but have an they you were her she there been one all we their has would when if
so no will more out up into do any your what some can than them these other its time
only new could my people also first about two may over after most like very well year
harbour town river bridge council market street morning evening winter summer island
ship boat ferry lighthouse keeper fisherman baker school library garden museum church
road station train letter report record map village valley hill forest field farm
north south east west old young small large long short quiet busy early late bright
dark warm cold wet dry green blue red yellow grey white black stone wooden iron
water light wind rain snow storm tide shore coast cliff beach rock sand sea wave
house door window roof wall room table chair book page story name word voice song
built opened closed carried walked watched counted measured repaired painted
decided agreed asked answered wrote read found kept lost gave took brought sold
travellers visitors workers families children neighbours merchants sailors clerks
because although while during before between against without within across toward
every each another several many few often always never sometimes usually perhaps
"""
_WORDS = _VOCABULARY.split()
_FIRST_NAMES = """Anna Boris Clara Daniel Elena Felix Greta Henrik Ines Jonas Karin Lukas
Maria Nils Olga Pavel Rosa Stefan Tilda Viktor"""
_NAMES = _FIRST_NAMES.split()


def _sentence(rng: random.Random) -> str:
    n = rng.randint(5, 22)
    words = rng.choices(_WORDS, k=n)
    if rng.random() < 0.3:
        words[rng.randrange(n)] = rng.choice(_NAMES)
    if rng.random() < 0.15:
        words[rng.randrange(n)] = str(rng.randint(1800, 2024))
    if n > 9 and rng.random() < 0.5:
        cut = rng.randrange(3, n - 3)
        words[cut] += ","
    end = rng.choices((".", "?", "!", ";"), weights=(88, 6, 3, 3))[0]
    if end == ";":  # a semicolon joins two clauses into one sentence
        return f"{words[0].capitalize()} {' '.join(words[1:])}; " + _sentence(rng)
    return f"{words[0].capitalize()} {' '.join(words[1:])}{end}"


def _paragraphs(rng: random.Random) -> Iterator[str]:
    while True:
        yield " ".join(_sentence(rng) for _ in range(rng.randint(2, 8)))


def write_text(folder: Path, scale: float, rng: random.Random) -> None:
    """One text file of ``TEXT_BYTES * scale`` bytes (at least 1 KB), written in 1 MB
    chunks; the last paragraph is cut at a word boundary to end at the target size."""
    target = max(1_000, round(TEXT_BYTES * scale))
    written = 0
    with (folder / "harbour-chronicle.txt").open("wb") as f:
        buffer: list[bytes] = []
        buffered = 0
        for paragraph in _paragraphs(rng):
            data = (paragraph + "\n\n").encode()
            if written + buffered + len(data) >= target:
                room = target - written - buffered
                last = data[:room].rsplit(b" ", 1)[0].rstrip(b",;") + b".\n"
                buffer.append(last)
                f.write(b"".join(buffer))
                return
            buffer.append(data)
            buffered += len(data)
            if buffered >= 1 << 20:
                f.write(b"".join(buffer))
                written += buffered
                buffer, buffered = [], 0


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


def write_images(folder: Path, scale: float, rng: random.Random) -> None:
    """``IMAGES * scale`` pictures, each a background and 2-6 random shapes."""
    from PIL import Image, ImageDraw

    for index in range(max(1, round(IMAGES * scale))):
        width, height = rng.randint(64, 256), rng.randint(64, 256)
        image = Image.new("RGB", (width, height), _colour(rng))
        draw = ImageDraw.Draw(image)
        for _ in range(rng.randint(2, 6)):
            x0, x1 = sorted(rng.randrange(width) for _ in range(2))
            y0, y1 = sorted(rng.randrange(height) for _ in range(2))
            shape = rng.randrange(4)
            if shape == 0:
                draw.rectangle((x0, y0, x1, y1), fill=_colour(rng))
            elif shape == 1:
                draw.ellipse((x0, y0, x1, y1), fill=_colour(rng))
            elif shape == 2:
                draw.polygon([(x0, y1), (x1, y1), ((x0 + x1) // 2, y0)], fill=_colour(rng))
            else:
                draw.line((x0, y0, x1, y1), fill=_colour(rng), width=rng.randint(1, 6))
        if rng.random() < 0.3:
            draw.text((4, 4), f"No. {index}", fill=_colour(rng))
        if index % 2:
            image.save(folder / f"picture-{index:05d}.jpg", format="JPEG", quality=85)
        else:
            image.save(folder / f"picture-{index:05d}.png", format="PNG")


_SHAPES = ("rectangle", "triangle", "bar")
_SHAPE_COLOURS = {"red": (200, 30, 30), "green": (30, 160, 60), "blue": (30, 70, 200)}


def _add_shape_and_body(pdf: Any, page_index: int, body: list[str], shape: str, rgb: Any) -> None:
    """Draw ``shape`` and ``body`` lines of Helvetica on one page of a pypdfium2 document."""
    import pypdfium2.raw as raw

    page = pdf[page_index]
    try:
        r, g, b = rgb
        if shape == "rectangle":
            path = raw.FPDFPageObj_CreateNewRect(180, 220, 250, 160)
        else:
            path = raw.FPDFPageObj_CreateNewPath(150, 220)
            if shape == "triangle":
                raw.FPDFPath_LineTo(path, 460, 220)
                raw.FPDFPath_LineTo(path, 305, 440)
            else:
                raw.FPDFPath_LineTo(path, 460, 220)
                raw.FPDFPath_LineTo(path, 460, 260)
                raw.FPDFPath_LineTo(path, 150, 260)
            raw.FPDFPath_Close(path)
        raw.FPDFPageObj_SetFillColor(path, r, g, b, 255)
        raw.FPDFPath_SetDrawMode(path, raw.FPDF_FILLMODE_WINDING, False)
        raw.FPDFPage_InsertObject(page, path)  # the page owns it from here
        for line_number, line in enumerate(body):
            text = raw.FPDFPageObj_NewTextObj(pdf, b"Helvetica", ctypes.c_float(10))
            wide = ctypes.create_string_buffer((line + "\0").encode("utf-16-le"))
            raw.FPDFText_SetText(text, ctypes.cast(wide, ctypes.POINTER(raw.FPDF_WCHAR)))
            raw.FPDFPageObj_Transform(text, 1, 0, 0, 1, 36, 720 - 14 * line_number)
            raw.FPDFPage_InsertObject(page, text)
        page.gen_content()
    finally:
        page.close()


def _wrap(text: str, width: int = 95) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def write_pdfs(folder: Path, scale: float, rng: random.Random) -> None:
    """``PDFS * scale`` reports, ``PDF_PAGES`` pages each (the total pages scaled too, at
    least two pages per document): a title, a paragraph and one coloured shape a page."""
    import pypdfium2 as pdfium

    from omniembed.samples import text_pdf

    count = max(1, min(PDFS, round(PDFS * scale)))
    pages = max(2, min(PDF_PAGES, math.ceil(PDFS * PDF_PAGES * scale / count)))
    for index in range(count):
        layout = [(rng.choice(_SHAPES), rng.choice(list(_SHAPE_COLOURS))) for _ in range(pages)]
        titles = [
            f"Harbour report {index + 1}, page {n + 1}: a {colour} {shape}"
            for n, (shape, colour) in enumerate(layout)
        ]
        pdf = pdfium.PdfDocument(text_pdf(titles))
        try:
            for n, (shape, colour) in enumerate(layout):
                body = _wrap(next(_paragraphs(rng)))[:30]
                _add_shape_and_body(pdf, n, body, shape, _SHAPE_COLOURS[colour])
            pdf.save(folder / f"report-{index + 1:02d}.pdf")
        finally:
            pdf.close()


def write_video(folder: Path, scale: float, rng: random.Random) -> None:
    """``VIDEO_SECONDS * scale`` seconds (at least ``MIN_VIDEO_SECONDS``) of H.264 in MP4,
    encoded frame by frame straight to the file."""
    import av
    import numpy as np

    seconds = max(MIN_VIDEO_SECONDS, round(VIDEO_SECONDS * scale))
    width, height = VIDEO_SIZE
    square = 12
    scene = _colour(rng)
    with av.open(str(folder / "harbour-webcam.mp4"), mode="w") as container:
        stream = container.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast"}
        for index in range(seconds * VIDEO_FPS):
            second = index / VIDEO_FPS
            if index % (30 * VIDEO_FPS) == 0:
                scene = _colour(rng)
            hue = (second / 600) % 1.0  # the whole colour wheel every 10 minutes
            drift = [round(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.6, 0.8)]
            frame = np.empty((height, width, 3), dtype=np.uint8)
            frame[:] = [(a + b) // 2 for a, b in zip(drift, scene, strict=True)]
            x = round((second % 60) / 60 * (width - square))
            frame[height // 2 - square // 2 : height // 2 + square // 2, x : x + square] = 255
            video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
            video_frame.pts = index
            video_frame.time_base = Fraction(1, VIDEO_FPS)
            for packet in stream.encode(video_frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


WRITERS: dict[str, Callable[[Path, float, random.Random], None]] = {
    "text": write_text,
    "images": write_images,
    "pdfs": write_pdfs,
    "video": write_video,
}


def corpus(root: Path, kind: str, scale: float, seed: int) -> tuple[Path, float]:
    """The folder of ``kind`` under ``root``, generated unless a complete one made with
    the same parameters is there; and the seconds spent generating it (0 if reused)."""
    folder = root / kind
    marker = root / f"{kind}.json"  # written last: a complete corpus
    params = {"kind": kind, "scale": scale, "seed": seed, "version": CORPUS_VERSION}
    try:
        if json.loads(marker.read_text()) == params and folder.is_dir():
            return folder, 0.0
    except (OSError, ValueError):
        pass
    marker.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    WRITERS[kind](folder, scale, random.Random(f"{seed}-{kind}"))
    marker.write_text(json.dumps(params))
    return folder, time.perf_counter() - started


# --------------------------------------------------------------------------- measuring


@dataclass
class Run:
    """One child process: its exit code (None when it timed out), wall time, peak RSS,
    CPU time (user + system, its tree) and the 1-minute load average when it ended (the
    machine may be shared: CPU time is the figure other work disturbs least)."""

    rc: int | None
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    load_avg: float
    stdout: str = field(repr=False)
    stderr_tail: str = field(repr=False)


def run_measured(command: Sequence[str], log_stem: Path, timeout: float | None) -> Run:
    """Run ``command``, its output to ``log_stem``.out/.err; ``wait4`` gives the peak RSS
    of the child (the largest of its tree: its descendants are reaped into it)."""
    env = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}
    out_path, err_path = log_stem.with_suffix(".out"), log_stem.with_suffix(".err")
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        rc: int | None = None
        wall = 0.0
        try:
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    wall = time.perf_counter() - started
                    rc = os.waitstatus_to_exitcode(status)
                    process.returncode = rc
                    break
                if timeout is not None and time.perf_counter() - started > timeout:
                    process.kill()
                    _, _, usage = os.wait4(process.pid, 0)
                    wall = time.perf_counter() - started
                    process.returncode = -signal.SIGKILL
                    break
                time.sleep(0.05)
        finally:
            if process.returncode is None:  # interrupted: never leave the child running
                process.kill()
                process.wait()
    stderr = err_path.read_text(errors="replace")
    return Run(
        rc=rc,
        wall_s=wall,
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        cpu_s=usage.ru_utime + usage.ru_stime,
        load_avg=os.getloadavg()[0],
        stdout=out_path.read_text(errors="replace"),
        stderr_tail="\n".join(stderr.splitlines()[-15:]),
    )


@dataclass
class KindResult:
    kind: str
    files: int
    bytes: int
    generate_s: float
    index: Run
    ask: Run | None
    requests: int | None = None
    cache_hits: int | None = None
    pieces: int | None = None

    @property
    def ok(self) -> bool:
        return self.index.rc == 0 and self.ask is not None and self.ask.rc == 0


def folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def measure(
    kind: str, folder: Path, work: Path, base_url: str, timeout: float | None, gen_s: float
) -> KindResult:
    store = work / "stores" / kind
    shutil.rmtree(store, ignore_errors=True)  # a fresh index every run
    store.parent.mkdir(parents=True, exist_ok=True)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "omniembed"]
    files, size = folder_size(folder)
    say(f"[{kind}] indexing {files} files, {_mb(size)}")
    index = run_measured(
        [*cli, "index", str(folder), "--store", str(store), "--base-url", base_url, "--quiet"],
        logs / f"{kind}-index",
        timeout,
    )
    result = KindResult(kind, files, size, gen_s, index, None)
    found = _SUMMARY_RE.search(index.stdout)
    if found:
        result.requests = int(found["requests"])
        result.cache_hits = int(found["hits"])
        result.pieces = int(found["pieces"])
    say(f"[{kind}] index: {_brief(index)}")
    if index.rc != 0:
        say(f"[{kind}] index stderr (tail):\n{index.stderr_tail}")
    if index.rc == 0:  # asking a store that failed to build would measure nothing
        ask_command = [*cli, "ask", QUESTIONS[kind], "--store", str(store)]
        result.ask = run_measured(
            [*ask_command, "--base-url", base_url], logs / f"{kind}-ask", timeout
        )
        ask = result.ask
        say(f"[{kind}] ask: {_brief(ask)}")
        if ask.rc != 0:
            say(f"[{kind}] ask stderr (tail):\n{ask.stderr_tail}")
    return result


# --------------------------------------------------------------------------- report


def _brief(run: Run) -> str:
    return (
        f"rc {_rc(run)}, {run.wall_s:.1f} s wall, {run.cpu_s:.1f} s CPU, "
        f"{run.peak_rss_mb:.0f} MB peak RSS (load {run.load_avg:.1f})"
    )


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def _seconds(run: Run | None) -> str:
    return "-" if run is None else f"{run.wall_s:.1f} s"


def _rss(run: Run | None) -> str:
    return "-" if run is None else f"{run.peak_rss_mb:.0f} MB"


def _rc(run: Run | None) -> str:
    if run is None:
        return "-"
    return "timeout" if run.rc is None else str(run.rc)


def _number(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


EMULATOR_NOTE = (
    "emulator: `python -m omniembed.emulator --port 0 --latency-ms 0 -v` in its own "
    "process; no quota, no latency, no faults (the figures measure the pipeline)"
)


def table(results: Sequence[KindResult], scale: float) -> str:
    header = (
        "| kind | size | pieces | index wall | requests | index peak RSS | ask wall "
        "| ask peak RSS | rc (index/ask) |"
    )
    lines = [header, "|" + "---|" * 9]
    for r in results:
        size = f"{r.files:,} file{'s' if r.files != 1 else ''}, {_mb(r.bytes)}"
        lines.append(
            f"| {r.kind} | {size} | {_number(r.pieces)} | {_seconds(r.index)} "
            f"| {_number(r.requests)} | {_rss(r.index)} | {_seconds(r.ask)} | {_rss(r.ask)} "
            f"| {_rc(r.index)}/{_rc(r.ask)} |"
        )
    lines += [
        "",
        f"scale {scale:g}; {EMULATOR_NOTE}; peak RSS is each command's ru_maxrss "
        f"(wait4); {os.cpu_count()} CPUs, Python {sys.version.split()[0]}",
    ]
    return "\n".join(lines)


def as_json(results: Sequence[KindResult], scale: float) -> str:
    def run_dict(run: Run | None) -> dict[str, Any] | None:
        if run is None:
            return None
        data = asdict(run)
        del data["stdout"], data["stderr_tail"]
        return data

    return json.dumps(
        {
            "scale": scale,
            "emulator": {"latency_ms": 0, "quota": None, "faults": None, "note": EMULATOR_NOTE},
            "cpus": os.cpu_count(),
            "kinds": [
                {
                    "kind": r.kind,
                    "files": r.files,
                    "bytes": r.bytes,
                    "generate_s": r.generate_s,
                    "pieces": r.pieces,
                    "requests": r.requests,
                    "cache_hits": r.cache_hits,
                    "index": run_dict(r.index),
                    "ask": run_dict(r.ask),
                }
                for r in results
            ],
        },
        indent=2,
    )


# --------------------------------------------------------------------------- main


def _kinds(value: str) -> list[str]:
    kinds = [k.strip() for k in value.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"choose from {','.join(KINDS)} (got {value!r})")
    return [k for k in KINDS if k in kinds]


def _positive(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Generate a large corpus per kind, index it and ask it; print a table.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--scale", type=_positive, default=1.0, help="multiplies every size")
    parser.add_argument(
        "--only", type=_kinds, default=list(KINDS), help="comma-separated kinds to run"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep (and reuse) corpus, stores and logs here"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated corpus")
    parser.add_argument(
        "--timeout", type=_positive, default=1800.0, help="seconds allowed per command"
    )
    return parser


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # so the `finally` blocks stop the children


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    work = args.keep if args.keep is not None else Path(tempfile.mkdtemp(prefix="index-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    results: list[KindResult] = []
    try:
        folders: dict[str, tuple[Path, float]] = {}
        for kind in args.only:
            say(f"[{kind}] generating the corpus (scale {args.scale:g})")
            folders[kind] = corpus(work / "corpus", kind, args.scale, args.seed)
            say(f"[{kind}] corpus ready ({folders[kind][1]:.1f} s)")
        emulator = EmulatorProcess(latency_ms=0, port=0, route="batchEmbedContents")
        try:  # stopped in `finally`, even when its start fails or is interrupted
            try:
                emulator.__enter__()
            except RuntimeError as error:
                say(f"the emulator did not start: {error}")
                return 2
            for kind in args.only:
                folder, gen_s = folders[kind]
                results.append(measure(kind, folder, work, emulator.base_url, args.timeout, gen_s))
                emulator.check_alive()
        finally:
            emulator.__exit__()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(as_json(results, args.scale) if args.json else table(results, args.scale))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
