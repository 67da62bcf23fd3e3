"""Test media built in code (no binary fixtures): PNG/JPEG, PDF, MP4/MOV, WAV/MP3."""

from __future__ import annotations

import base64
import io
import math
import struct
import wave
from collections.abc import Sequence

import numpy as np
from PIL import Image

RGB = tuple[int, int, int]


def image_bytes(
    color: RGB = (200, 30, 30),
    *,
    size: tuple[int, int] = (64, 64),
    fmt: str = "PNG",
    stripe: RGB | None = None,
) -> bytes:
    """A solid image, optionally with a vertical stripe of a second colour in its left third."""
    image = Image.new("RGB", size, color)
    if stripe is not None:
        image.paste(stripe, (0, 0, max(1, size[0] // 3), size[1]))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


#: The generic builder under its short name.
image = image_bytes


def png(color: RGB = (200, 30, 30), **kwargs: object) -> bytes:
    return image_bytes(color, fmt="PNG", **kwargs)  # type: ignore[arg-type]


def jpeg(color: RGB = (200, 30, 30), **kwargs: object) -> bytes:
    return image_bytes(color, fmt="JPEG", **kwargs)  # type: ignore[arg-type]


def gif(color: RGB = (200, 30, 30)) -> bytes:
    return image_bytes(color, fmt="GIF")


def pdf(pages: Sequence[str]) -> bytes:
    """A valid PDF with one page per string, each showing that text in Helvetica."""
    objects: list[bytes] = []
    n = len(pages)
    font_id = 3 + 2 * n
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    for i, text in enumerate(pages):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = f"BT /F1 12 Tf 36 750 Td ({escaped}) Tj ET".encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> /Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def video(
    seconds: float = 3.0,
    *,
    fps: int = 8,
    size: int | tuple[int, int] = 64,
    colors: Sequence[RGB] = ((200, 30, 30), (30, 200, 30)),
    container: str = "mp4",
) -> bytes:
    """An MPEG-4 video whose frames cycle through ``colors`` (one colour per second)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=container) as output:
        stream = output.add_stream("mpeg4", rate=fps)
        width, height = (size, size) if isinstance(size, int) else size
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        for index in range(max(1, round(seconds * fps))):
            color = colors[(index // fps) % len(colors)]
            frame_array = np.full((height, width, 3), color, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(frame_array, format="rgb24")
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return out.getvalue()


def wav(seconds: float = 1.0, *, freq: float = 440.0, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        samples = (
            int(12000 * math.sin(2 * math.pi * freq * i / rate)) for i in range(int(seconds * rate))
        )
        writer.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return out.getvalue()


def tones(parts: Sequence[tuple[float, float]], *, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of consecutive sine tones, one ``(seconds, freq)`` after another."""
    pcm = np.concatenate(
        [
            12000 * np.sin(2 * np.pi * freq * np.arange(int(sec * rate)) / rate)
            for sec, freq in parts
        ]
    ).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(pcm.tobytes())
    return out.getvalue()


def mp3(seconds: float = 1.0, *, freq: float = 440.0, rate: int = 44100) -> bytes:
    """An MP3 encoded with PyAV (raises if this FFmpeg build has no MP3 encoder)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp3") as output:
        stream = output.add_stream("libmp3lame", rate=rate)
        stream.layout = "mono"
        t = np.arange(int(seconds * rate)) / rate
        pcm = (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32).reshape(1, -1)
        for start in range(0, pcm.shape[1], 1152):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(pcm[:, start : start + 1152]), format="fltp", layout="mono"
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def inline(data: bytes, mime_type: str) -> dict[str, object]:
    """A camelCase ``inlineData`` part (google-genai itself sends snake_case; both are valid)."""
    return {"inlineData": {"mimeType": mime_type, "data": b64(data)}}
