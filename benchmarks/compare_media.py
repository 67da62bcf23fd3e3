"""Media for ``compare.py``, generated once (seeded) and cached in a directory.

* large photos and a 10-minute low-res video: `media_payload.make_photos` /
  `media_payload.make_video` (12 MP JPEGs, 640×360 MPEG-4 at ~600 kb/s);
* a ~1 GB video: 640×360 MPEG-4 at ~4.5 Mbit/s (noise frames, so the encoder spends its
  bit budget), a keyframe every second, 30 minutes;
* a 300-page PDF of scanned-looking pages (one JPEG image per A4 page at 150 dpi);
* small distinct PNGs (the DashScope workload: its LlamaIndex integration sends text to
  the text-embedding API, which the emulator does not serve, and images to the
  multimodal one).

Files are written under a temporary name and renamed when complete, so an interrupted
run never leaves a truncated file behind that a later run would reuse.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

BIG_VIDEO_SECONDS = 1800
BIG_VIDEO_BIT_RATE = 4_500_000
BIG_VIDEO_FPS = 10
BIG_VIDEO_SIZE = (640, 360)
PDF_PAGES = 300
PDF_PAGE_SIZE = (1240, 1754)  # A4 at 150 dpi


def cached(path: Path, make: Callable[[Path], object]) -> tuple[Path, float]:
    """``path``, made by ``make(tmp)`` unless it exists; and the seconds making it took."""
    if path.exists():
        return path, 0.0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    started = time.perf_counter()
    make(tmp)
    tmp.rename(path)
    return path, time.perf_counter() - started


def make_big_video(path: Path, seconds: float = BIG_VIDEO_SECONDS, seed: int = 5) -> Path:
    """A high-bitrate MPEG-4 video (~4.5 Mbit/s: ~1 GB for 30 minutes), keyframe every 1 s."""
    import av

    rng = np.random.default_rng(seed)
    width, height = BIG_VIDEO_SIZE
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(16)]
    with av.open(str(path), mode="w", format="mp4") as output:
        stream = output.add_stream("mpeg4", rate=BIG_VIDEO_FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = BIG_VIDEO_BIT_RATE
        stream.gop_size = BIG_VIDEO_FPS
        rate = str(BIG_VIDEO_BIT_RATE)
        stream.options = {"maxrate": rate, "bufsize": rate}
        for index in range(int(seconds * BIG_VIDEO_FPS)):
            frame = av.VideoFrame.from_ndarray(frames[index % len(frames)], format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return path


def make_pdf(path: Path, pages: int = PDF_PAGES, seed: int = 3) -> Path:
    """``pages`` A4 pages, each one JPEG image (a colour field, texture and grain), as
    Pillow writes an image PDF (about 0.25 MB per page)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    width, height = PDF_PAGE_SIZE
    grain = rng.normal(0.0, 6.0, (height, width)).astype(np.float32)

    def page(index: int) -> Image.Image:
        colours = rng.integers(120, 256, (5, 4, 3), dtype=np.uint8)
        smooth = Image.fromarray(colours).resize((width, height), Image.Resampling.BICUBIC)
        pixels = np.asarray(smooth, dtype=np.float32) + np.roll(grain, index * 7, axis=1)[..., None]
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))

    first = page(0)
    first.save(
        path,
        "PDF",
        resolution=150.0,
        save_all=True,
        append_images=(page(i) for i in range(1, pages)),
        quality=80,
    )
    return path


def make_small_images(directory: Path, count: int, side: int = 64, seed: int = 9) -> list[Path]:
    """``count`` distinct small PNGs (a few kB each)."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(count):
        path = directory / f"small_{index:04d}.png"
        if not path.exists():
            pixels = rng.integers(0, 256, (side // 8, side // 8, 3), dtype=np.uint8)
            image = Image.fromarray(pixels).resize((side, side), Image.Resampling.BILINEAR)
            image.save(path, "PNG")
        paths.append(path)
    return paths


def probe_seconds(path: Path) -> float:
    """A video's length in seconds (its container header)."""
    from omniembed import Media
    from omniembed.media.probe import media_duration_sec

    return media_duration_sec(Media.from_path(path))
