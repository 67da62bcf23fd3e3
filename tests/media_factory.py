"""Small test media made in code: images, PDFs, videos and audio (no downloads)."""

from __future__ import annotations

import io
import wave
from fractions import Fraction

from PIL import Image


def image(
    color: tuple[int, int, int] = (200, 30, 30),
    size: tuple[int, int] = (64, 48),
    fmt: str = "PNG",
    stripe: tuple[int, int, int] | None = None,
) -> bytes:
    """A solid image (optionally with a stripe of a second colour), encoded as ``fmt``."""
    picture = Image.new("RGB", size, color)
    if stripe is not None:
        for x in range(size[0] // 3):
            for y in range(size[1]):
                picture.putpixel((x, y), stripe)
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


def pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(len(pages)))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode())
    font_id = 3 + 2 * len(pages)
    for i, text in enumerate(pages):
        content_id = 4 + 2 * i
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 20 100 Td ({safe}) Tj ET".encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def video(
    seconds: float = 2.0,
    fps: int = 4,
    size: tuple[int, int] = (32, 32),
    colors: list[tuple[int, int, int]] | None = None,
    container: str = "mp4",
) -> bytes:
    """A short video (MPEG-4 part 2 in MP4/MOV/...) cycling through ``colors`` per second."""
    import av

    colors = colors or [(220, 20, 20), (20, 220, 20), (20, 20, 220)]
    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as box:
        stream = box.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, fps)
        for n in range(int(seconds * fps)):
            color = colors[(n // fps) % len(colors)]
            frame = av.VideoFrame.from_image(Image.new("RGB", size, color))
            frame.pts = n
            for packet in stream.encode(frame):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    return out.getvalue()


def wav(seconds: float = 1.0, rate: int = 8000, tone: int = 440) -> bytes:
    """A mono 16-bit WAV square wave."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        period = max(2, rate // tone)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            value = 8000 if (i % period) < period // 2 else -8000
            frames += value.to_bytes(2, "little", signed=True)
        w.writeframes(bytes(frames))
    return out.getvalue()
