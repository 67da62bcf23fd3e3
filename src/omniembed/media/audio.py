"""Audio of any length as timed segments: cutting a local file into windows (PyAV).

A model that hears audio embeds a bounded stretch per input (gemini-embedding-2: 80 s),
so long audio is cut into windows, each embedded as one input, each vector carrying its
window's offsets (as `omniembed.media.video_segments` does for video).

How a window is cut:

* MP3 and WAV (PCM) — the formats gemini-embedding-2 takes — by stream copy: the
  window's packets are copied into a new file of the same format, nothing is decoded.
  Every MP3 frame (~26 ms) and PCM packet starts cleanly, so the window starts within a
  frame of the requested time.
* Anything else PyAV decodes (AAC/M4A, FLAC, Ogg Vorbis/Opus, ...) is decoded and written
  as 16 kHz mono 16-bit WAV: a format the model takes, and all the model keeps (Google's
  audio documentation: sound is downsampled to 16 kHz and channels are combined;
  https://ai.google.dev/gemini-api/docs/audio).

Windows are written to files in a working folder as they are cut, so a one-hour recording
never sits in memory; the runtime reads each window when it sends it.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import InvalidParameterError, UnsupportedMediaError
from ..types import AudioSegmentConfig
from .item import Media
from .probe import require
from .video_segments import ClipPlan

#: Most windows one audio may be cut into (as for video: 10,000 covers ~9 days at the
#: default 80 s window; more is a mistake, such as a window given in ms).
MAX_SEGMENTS_PER_AUDIO = 10_000

#: Containers whose audio is copied as it is, and the MIME type of the copy.
_COPY_FORMATS = {"mp3": "audio/mpeg", "wav": "audio/wav"}
#: Codecs a WAV copy may carry (PCM); others in a WAV container are re-encoded.
_PCM_PREFIX = "pcm_"
#: What other sound is converted to: all gemini-embedding-2 keeps of it.
_REENCODE_RATE = 16_000


@dataclass(frozen=True)
class AudioWindow:
    """A cut: the window's bytes, their MIME type, and where it lies in the source."""

    data: bytes
    mime_type: str
    actual_start_sec: float
    actual_end_sec: float


def audio_windows(
    duration_sec: float, config: AudioSegmentConfig, window_sec: float
) -> list[tuple[float, float]]:
    """``(start, end)`` windows of ``window_sec`` stepping by ``window_sec - overlap_sec``
    over ``[start_offset_sec, min(end_offset_sec, duration))``; the last one ends at the
    stretch's end (it may be shorter)."""
    start = config.start_offset_sec
    stop = (
        duration_sec if config.end_offset_sec is None else min(config.end_offset_sec, duration_sec)
    )
    if start >= stop:
        raise InvalidParameterError(
            f"start_offset_sec={start:g} is past the end of the {duration_sec:.1f} s audio"
        )
    if config.overlap_sec >= window_sec:
        raise InvalidParameterError(
            f"AudioSegmentConfig.overlap_sec={config.overlap_sec:g} must be shorter than the "
            f"window ({window_sec:g} s)"
        )
    step = window_sec - config.overlap_sec
    span = stop - start
    count = 1 if span <= window_sec + 1e-6 else 1 + math.ceil((span - window_sec - 1e-6) / step)
    if count > MAX_SEGMENTS_PER_AUDIO:
        raise InvalidParameterError(
            f"window_sec={window_sec:g} with overlap_sec={config.overlap_sec:g} would cut the "
            f"{span:.1f} s stretch into {count:,} segments; at most "
            f"{MAX_SEGMENTS_PER_AUDIO:,} per audio. Use a longer window or a shorter stretch"
        )
    out = []
    for number in range(count):
        begin = start + number * step
        out.append((begin, min(begin + window_sec, stop)))
    return out


def plan_audio(
    media: Media, config: AudioSegmentConfig | None, limit_sec: float, workdir: Path | None
) -> ClipPlan:
    """Cut ``media`` into windows of ``config.window_sec`` (default ``limit_sec``, the
    model's per-input limit) — blocking: reads and writes files. A local audio no longer
    than one window and already MP3 or WAV is sent as it is."""
    config = config or AudioSegmentConfig()
    window = config.window_sec or limit_sec
    if window > limit_sec + 1e-6:
        raise InvalidParameterError(
            f"AudioSegmentConfig.window_sec={window:g} is longer than the model takes per input "
            f"({limit_sec:g} s); use window_sec <= {limit_sec:g}"
        )
    if media.is_remote:
        raise InvalidParameterError(
            f"{media.scheme}:// audio cannot be cut locally into segments; download it first, "
            "or embed it whole with embed() if it is short enough",
            source=media.source,
        )
    duration, copyable = _probe(media)
    spans = audio_windows(duration, config, window)
    if len(spans) == 1 and spans[0] == (0.0, duration) and copyable:
        return ClipPlan([media], [(0.0, duration)])
    clips: list[Media] = []
    out_spans: list[tuple[float, float | None]] = []
    for number, (begin, end) in enumerate(spans):
        cut = cut_audio(media, begin, end, max_seconds=limit_sec)
        suffix = ".mp3" if cut.mime_type == "audio/mpeg" else ".wav"
        if workdir is None:
            clips.append(Media.from_bytes(cut.data, cut.mime_type))
        else:
            path = workdir / f"audio-{id(media):x}-{number:05d}{suffix}"
            path.write_bytes(cut.data)
            clips.append(Media.from_path(path, cut.mime_type))
        out_spans.append((cut.actual_start_sec, cut.actual_end_sec))
    return ClipPlan(clips, out_spans)


def audio_duration_sec(media: Media) -> float:
    """The duration of the first audio stream, checking there is one that lasts."""
    return _probe(media)[0]


def _probe(media: Media) -> tuple[float, bool]:
    """The first audio stream's duration, and whether it is MP3 or PCM WAV (sent as it
    is; anything else is decoded, which also proves this PyAV build can)."""
    av, source = _open(media)
    try:
        with av.open(source) as container:
            if not container.streams.audio:
                what = "a video track only" if container.streams.video else "no tracks"
                raise UnsupportedMediaError(
                    f"the file has no audio stream ({what}); nothing to embed as audio",
                    source=media.source,
                )
            stream = container.streams.audio[0]
            if stream.codec_context is None:
                raise UnsupportedMediaError(
                    "the audio's codec has no decoder in this PyAV (FFmpeg) build, so it can "
                    "be neither cut nor checked; convert it to MP3 or WAV first (e.g. ffmpeg "
                    "-i in.xyz out.wav)",
                    source=media.source,
                )
            copyable = _copy_format(container.format.name, stream.codec_context.name) is not None
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = float(container.duration) / 1_000_000  # AV_TIME_BASE
            else:
                seconds = _decoded_length(container, stream)
    except av.error.FFmpegError as exc:
        raise UnsupportedMediaError(
            f"the audio cannot be decoded ({_reason(exc)}); is the file corrupt?",
            source=media.source,
        ) from exc
    if seconds <= 0:
        raise UnsupportedMediaError("the audio is empty (0 s long)", source=media.source)
    return seconds, copyable


def cut_audio(
    media: Media, start_sec: float, end_sec: float, *, max_seconds: float | None = None
) -> AudioWindow:
    """The first audio stream of ``media`` from ``start_sec`` up to ``end_sec``: by stream
    copy for MP3 and PCM WAV, otherwise re-encoded as 16 kHz mono WAV. A copy never lasts
    longer than ``max_seconds`` (the model's per-input limit)."""
    av, source = _open(media)
    try:
        with av.open(source) as container:
            if not container.streams.audio:
                raise UnsupportedMediaError("the file has no audio stream", source=media.source)
            stream = container.streams.audio[0]
            fmt = _copy_format(container.format.name, stream.codec_context.name)
            if fmt is not None:
                return _copy(av, container, stream, fmt, start_sec, end_sec, media, max_seconds)
            return _reencode(av, container, stream, start_sec, end_sec, media)
    except av.error.FFmpegError as exc:
        raise UnsupportedMediaError(
            f"cannot cut the audio ({_reason(exc)}); is the file corrupt, or its codec one "
            "this PyAV build does not decode?",
            source=media.source,
        ) from exc


def _open(media: Media) -> tuple[ModuleType, object]:
    av = require("av", purpose="cut audio into segments")
    source: object = str(media.path) if media.path is not None else io.BytesIO(media.read_bytes())
    return av, source


def _reason(exc: Exception) -> str:
    """FFmpeg's words without the file name it appends (the error names the source)."""
    return str(getattr(exc, "strerror", None) or exc)


def _copy_format(container_format: str, codec: str) -> str | None:
    names = set(container_format.split(","))
    if "mp3" in names and codec.startswith("mp3"):  # FFmpeg's decoder is "mp3float"
        return "mp3"
    if "wav" in names and codec.startswith(_PCM_PREFIX):
        return "wav"
    return None


def _copy(
    av: ModuleType,
    container: object,
    stream: object,
    fmt: str,
    start_sec: float,
    end_sec: float,
    media: Media,
    max_seconds: float | None = None,
) -> AudioWindow:
    base = stream.time_base  # type: ignore[attr-defined]
    container.seek(int(start_sec / base), stream=stream, backward=True, any_frame=True)  # type: ignore[attr-defined]
    out = io.BytesIO()
    first: float | None = None
    last = start_sec
    with av.open(out, mode="w", format=fmt) as target:
        copy = target.add_stream_from_template(stream)
        offset: int | None = None
        for packet in container.demux(stream):  # type: ignore[attr-defined]
            if packet.pts is None:
                continue  # the demuxer's flush packet
            begins = float(packet.pts * base)
            ends = begins + float((packet.duration or 0) * base)
            if ends <= start_sec + 1e-6:
                continue  # seeking lands at or before the start
            if begins >= end_sec - 1e-6:
                break
            # Whole packets: the first may start before ``start_sec`` and the last end after
            # ``end_sec``, so an 80 s window of MP3 frames (26 ms at 22.05 kHz) came out at
            # 80.013 s, over the model's limit and refused. Leaving out the last packet
            # instead loses at most that packet's sound between two windows.
            if first is not None and max_seconds is not None and ends - first > max_seconds + 1e-6:
                break
            if offset is None:
                offset, first = packet.pts, begins
            last = ends
            packet.pts -= offset
            packet.dts = packet.pts
            packet.stream = copy
            target.mux(packet)
    if first is None:
        raise UnsupportedMediaError(
            f"no audio between {start_sec:.1f} s and {end_sec:.1f} s", source=media.source
        )
    return AudioWindow(out.getvalue(), _COPY_FORMATS[fmt], first, last)


def _reencode(
    av: ModuleType,
    container: object,
    stream: object,
    start_sec: float,
    end_sec: float,
    media: Media,
) -> AudioWindow:
    import numpy as np

    container.seek(int(start_sec / stream.time_base), stream=stream, backward=True)  # type: ignore[attr-defined]
    resampler = av.AudioResampler(format="s16", layout="mono", rate=_REENCODE_RATE)
    pieces: list[Any] = []  # numpy int16 arrays, one row (mono)
    origin: float | None = None  # source time of the first decoded sample
    for frame in container.decode(stream):  # type: ignore[attr-defined]
        if frame.time is None:
            continue
        if frame.time + frame.samples / frame.sample_rate <= start_sec + 1e-6:
            continue  # seeking lands at or before the start
        if frame.time >= end_sec - 1e-6:
            break
        if origin is None:
            origin = frame.time
        pieces.extend(chunk.to_ndarray() for chunk in resampler.resample(frame))
    pieces.extend(chunk.to_ndarray() for chunk in resampler.resample(None))
    if origin is None or not pieces:
        raise UnsupportedMediaError(
            f"no audio between {start_sec:.1f} s and {end_sec:.1f} s", source=media.source
        )
    # The resampled sound is continuous from `origin`: trim it to the window by position.
    samples: Any = np.concatenate(pieces, axis=1)
    skip = max(0, round((start_sec - origin) * _REENCODE_RATE))
    keep = max(0, round((end_sec - origin) * _REENCODE_RATE))
    samples = np.ascontiguousarray(samples[:, skip:keep])
    if samples.shape[1] == 0:
        raise UnsupportedMediaError(
            f"no audio between {start_sec:.1f} s and {end_sec:.1f} s", source=media.source
        )
    out = io.BytesIO()
    with av.open(out, mode="w", format="wav") as target:
        encoder = target.add_stream("pcm_s16le", rate=_REENCODE_RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate = _REENCODE_RATE
        frame.pts = 0
        for packet in encoder.encode(frame):
            target.mux(packet)
        for packet in encoder.encode(None):
            target.mux(packet)
    first = origin + skip / _REENCODE_RATE
    return AudioWindow(
        out.getvalue(), "audio/wav", first, first + samples.shape[1] / _REENCODE_RATE
    )


def _decoded_length(container: object, stream: object) -> float:
    """Seconds of sound, by decoding (a container that declares no duration)."""
    seconds = 0.0
    for frame in container.decode(stream):  # type: ignore[attr-defined]
        seconds = max(seconds, (frame.time or 0.0) + frame.samples / frame.sample_rate)
    return seconds
