"""Cutting a local video into time windows by stream copy (PyAV): no re-encode.

Used where a service analyses a bounded stretch of video per request (Vertex AI's
multimodal embedding model reads 120 s): each request carries only its window's bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from .errors import UnsupportedMediaError
from .media import Media
from .probe import require


@dataclass(frozen=True)
class VideoWindow:
    """A cut: the window's bytes (MP4, video track only) and where it starts in the source.

    Stream copy can only start at a keyframe, so ``actual_start_sec`` may lie a little
    before the requested start; offsets the service reports for this window are relative
    to ``actual_start_sec``.
    """

    data: bytes
    actual_start_sec: float
    actual_end_sec: float


def windows(
    duration_sec: float, start_sec: float, end_sec: float | None, length_sec: float
) -> list[tuple[float, float]]:
    """Consecutive ``(start, end)`` windows of at most ``length_sec`` covering
    ``[start_sec, min(end_sec, duration_sec))``."""
    stop = duration_sec if end_sec is None else min(end_sec, duration_sec)
    out = []
    cursor = start_sec
    while cursor < stop - 1e-6:
        out.append((cursor, min(cursor + length_sec, stop)))
        cursor += length_sec
    return out


def cut_window(media: Media, start_sec: float, end_sec: float) -> VideoWindow:
    """The video track of ``media`` from the keyframe at or before ``start_sec`` up to
    ``end_sec``, remuxed to MP4 without decoding."""
    av = require("av", purpose="cut long videos into windows")
    source: object = str(media.path) if media.path is not None else io.BytesIO(media.read_bytes())
    try:
        with av.open(source) as container:
            if not container.streams.video:
                raise UnsupportedMediaError("the file has no video track", source=media.source)
            stream = container.streams.video[0]
            base = stream.time_base
            container.seek(int(start_sec / base), stream=stream, backward=True, any_frame=False)
            out = io.BytesIO()
            first: int | None = None
            last_time = start_sec
            with av.open(out, mode="w", format="mp4") as target:
                copy = target.add_stream_from_template(stream)
                for packet in container.demux(stream):
                    if packet.pts is None or packet.dts is None:
                        continue  # the demuxer's flush packet
                    seconds = float(packet.pts * base)
                    if first is None:
                        first = packet.pts
                        first_time = seconds
                    if seconds >= end_sec:
                        break
                    last_time = seconds + float((packet.duration or 0) * base)
                    packet.pts -= first
                    packet.dts -= first
                    packet.stream = copy
                    target.mux(packet)
    except av.error.FFmpegError as exc:
        raise UnsupportedMediaError(
            f"cannot cut the video ({exc}); is the file corrupt?", source=media.source
        ) from exc
    if first is None:
        raise UnsupportedMediaError(
            f"no video frames between {start_sec:.1f} s and {end_sec:.1f} s", source=media.source
        )
    return VideoWindow(out.getvalue(), first_time, last_time)
