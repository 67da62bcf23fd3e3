"""Test sound built in code (no binary fixtures): tones and noise as WAV (stdlib `wave`),
MP3 and FLAC (PyAV), and MP4 clips with or without a sound track (PyAV)."""

from __future__ import annotations

import io
import wave
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]
RGB = tuple[int, int, int]


def tone(seconds: float, freq: float, rate: int = 16_000, *, amp: float = 0.4) -> Samples:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def noise(seconds: float, rate: int = 16_000, *, amp: float = 0.2, seed: int = 1) -> Samples:
    """Gaussian white noise (seeded: the same bytes every run)."""
    rng = np.random.default_rng(seed)
    return (amp * rng.standard_normal(int(seconds * rate))).astype(np.float32)


def wav(samples: Samples, rate: int = 16_000) -> bytes:
    """16-bit mono PCM WAV."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def empty_wav(rate: int = 16_000) -> bytes:
    """A well-formed WAV header with no samples."""
    return wav(np.zeros(0, dtype=np.float32), rate)


def _encode(samples: Samples, rate: int, fmt: str, codec: str, frame: int) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as output:
        stream = output.add_stream(codec, rate=rate)
        stream.layout = "mono"
        for start in range(0, samples.size, frame):
            chunk = np.ascontiguousarray(samples[None, start : start + frame])
            audio = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            audio.sample_rate = rate
            for packet in stream.encode(audio):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return out.getvalue()


def mp3(samples: Samples, rate: int = 44_100) -> bytes:
    """MP3 via PyAV's libmp3lame (raises if this FFmpeg build has no MP3 encoder)."""
    return _encode(samples, rate, "mp3", "libmp3lame", 1152)


def flac(samples: Samples, rate: int = 16_000) -> bytes:
    """FLAC via PyAV (the bytes sniff as audio/flac)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="flac") as output:
        stream = output.add_stream("flac", rate=rate)
        stream.layout = "mono"
        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        for start in range(0, pcm.size, 4096):
            chunk = np.ascontiguousarray(pcm[None, start : start + 4096])
            audio = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            audio.sample_rate = rate
            for packet in stream.encode(audio):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return out.getvalue()


def clip(
    seconds: float,
    *,
    sound: Samples | None = None,
    rate: int = 16_000,
    fps: int = 2,
    size: int = 16,
    colors: Sequence[RGB] = ((200, 30, 30), (30, 200, 30)),
) -> bytes:
    """An MP4 (MPEG-4 video, one colour per second) with ``sound`` as an AAC track, or
    without a sound track when ``sound`` is None. The pictures do not depend on ``sound``."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as output:
        video = output.add_stream("mpeg4", rate=fps)
        video.width = video.height = size
        video.pix_fmt = "yuv420p"
        audio = output.add_stream("aac", rate=rate) if sound is not None else None
        if audio is not None:
            audio.layout = "mono"
        for index in range(max(1, round(seconds * fps))):
            color = colors[(index // fps) % len(colors)]
            pixels = np.full((size, size, 3), color, dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                output.mux(packet)
        for packet in video.encode():
            output.mux(packet)
        if audio is not None and sound is not None:
            for start in range(0, sound.size, 1024):
                chunk = np.ascontiguousarray(sound[None, start : start + 1024])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate = rate
                for packet in audio.encode(frame):
                    output.mux(packet)
            for packet in audio.encode():
                output.mux(packet)
    return out.getvalue()
