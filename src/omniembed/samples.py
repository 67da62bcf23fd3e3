"""The demo's sample corpus, made in code at first run (nothing to download): text notes,
three pictures, a three-page PDF, a short video and a foghorn recording — a small harbour
town's guide."""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path

from .media.probe import require

NOTES: dict[str, str] = {
    "ferry.md": (
        "# Ferry timetable\n\nThe ferry to Seal Island leaves the harbour at 9:15 every "
        "morning and returns at 16:40.\n\nTickets are sold at the kiosk on the quay.\n"
    ),
    "market.md": (
        "# Fish market\n\nFresh fish is sold on the quay every Saturday from 7 to 11.\n\n"
        "Smoked mackerel is the local speciality.\n"
    ),
    "sourdough.md": (
        "# Harbour bakery\n\nThe bakery feeds its sourdough starter twice a day with equal "
        "weights of flour and water.\n"
    ),
}

#: One paragraph per PDF page.
GUIDE_PAGES = (
    "Cape Nord lighthouse guide. The lighthouse was built in 1874 from granite blocks.",
    "The lamp is visible for twenty nautical miles on a clear night.",
    "Grey seals rest on the rocks below the lighthouse every spring.",
)

#: (name, sky colour, ground colour, with a sun) for the three pictures.
_PICTURES = (
    ("sunset.png", (250, 120, 40), (60, 30, 20), True),
    ("forest.png", (120, 170, 110), (20, 90, 30), False),
    ("sea.png", (170, 200, 240), (20, 60, 160), False),
)

#: The video: 4 s of blue sea, then 4 s of orange dusk, at 2 frames per second.
_VIDEO_COLOURS = ((20, 60, 160),) * 4 + ((250, 120, 40),) * 4

#: The foghorn: a steady low tone (Hz) for this many seconds, as 8 kHz 16-bit mono WAV
#: (~50 kB: the smallest rate that still carries the tone cleanly).
FOGHORN_HZ = 220.0
FOGHORN_SECONDS = 3
_FOGHORN_RATE = 8000


def write_corpus(folder: Path) -> list[Path]:
    """Write the sample corpus into ``folder`` (created if needed); return the files."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {name: text.encode() for name, text in NOTES.items()}
    for name, sky, ground, sun in _PICTURES:
        files[name] = _picture(sky, ground, sun)
    files["lighthouse-guide.pdf"] = text_pdf(GUIDE_PAGES)
    files["harbour-webcam.mp4"] = _video(_VIDEO_COLOURS, fps=2, size=32)
    files["foghorn.wav"] = tone_wav(FOGHORN_HZ, FOGHORN_SECONDS, _FOGHORN_RATE)
    paths = []
    for name, data in sorted(files.items()):
        path = folder / name
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        paths.append(path)
    return paths


def _picture(sky: tuple[int, int, int], ground: tuple[int, int, int], sun: bool) -> bytes:
    pil = require("PIL.Image", purpose="draw the demo pictures")
    draw_module = require("PIL.ImageDraw", purpose="draw the demo pictures")
    image = pil.new("RGB", (96, 64), sky)
    draw = draw_module.Draw(image)
    draw.rectangle((0, 40, 96, 64), fill=ground)
    if sun:
        draw.ellipse((36, 24, 60, 48), fill=(255, 200, 40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _video(colours: tuple[tuple[int, int, int], ...], fps: int, size: int) -> bytes:
    """An MPEG-4 clip showing each colour for one second."""
    av = require("av", purpose="make the demo video")
    pil = require("PIL.Image", purpose="make the demo video")
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for colour in colours:
            frame = av.VideoFrame.from_image(pil.new("RGB", (size, size), colour))
            for _ in range(fps):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def tone_wav(hz: float, seconds: float, rate: int) -> bytes:
    """A sine tone as 16-bit mono WAV (stdlib only; the same bytes on every run)."""
    samples = bytearray()
    for n in range(round(seconds * rate)):
        value = round(12_000 * math.sin(2 * math.pi * hz * n / rate))
        samples += value.to_bytes(2, "little", signed=True)
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(bytes(samples))
    return out.getvalue()


def text_pdf(pages: tuple[str, ...] | list[str]) -> bytes:
    """A minimal valid PDF with one line of Helvetica text per page (text extractable)."""
    count = len(pages)
    font = 3 + 2 * count
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{3 + 2 * i} 0 R" for i in range(count)).encode(), count),
    ]
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        content = f"BT /F1 11 Tf 36 750 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>" % (font, 4 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.writelines(b"%010d 00000 n \n" % offset for offset in offsets)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()
