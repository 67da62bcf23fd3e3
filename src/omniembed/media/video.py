"""Cutting a local video into time windows by stream copy (PyAV): no re-encode.

Used where a service analyses a bounded stretch of video per request (Vertex AI's
multimodal embedding model reads 120 s): each request carries only its window's bytes.

A window holds the video track, and on request (``sound=True``, for a model that hears
it) the first sound track over the same seconds: AAC and MP3 sound is copied as it is,
any other codec is re-encoded as AAC (an MP4 cannot carry every codec a MOV or MKV can).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction
from types import ModuleType
from typing import Any

from ..errors import InvalidParameterError, UnsupportedMediaError
from .item import Media
from .probe import require


@dataclass(frozen=True)
class VideoWindow:
    """A cut: the window's bytes (MP4: the video track, and the sound track when asked
    for) and where it starts in the source.

    Stream copy can only start at a keyframe, so ``actual_start_sec`` may lie a little
    before the requested start; offsets the service reports for this window are relative
    to ``actual_start_sec``.
    """

    data: bytes
    actual_start_sec: float
    actual_end_sec: float


#: Most segments one video may be cut into: 10,000 covers ~2.8 h at 1 s, or 11 h at the 4 s
#: minimum interval of Vertex AI's multimodalembedding@001 (its docs: intervalSec >= 4,
#: at most 120 s analysed per request; https://cloud.google.com/vertex-ai/generative-ai/
#: docs/embeddings/get-multimodal-embeddings). More is a mistake (an interval in ms?), not
#: a workload: each segment is one request / one vector.
MAX_SEGMENTS_PER_VIDEO = 10_000


def windows(
    duration_sec: float, start_sec: float, end_sec: float | None, length_sec: float
) -> list[tuple[float, float]]:
    """Consecutive ``(start, end)`` windows of at most ``length_sec`` covering
    ``[start_sec, min(end_sec, duration_sec))``."""
    stop = duration_sec if end_sec is None else min(end_sec, duration_sec)
    span = stop - start_sec
    count = math.ceil((span - 1e-6) / length_sec) if span > 1e-6 else 0
    if count > MAX_SEGMENTS_PER_VIDEO:
        # Checked before any window is listed or cut: a tiny interval would otherwise loop
        # (1e-300 s never moves the cursor) until memory runs out.
        raise InvalidParameterError(
            f"interval_sec={length_sec:g} would cut the {span:.1f} s stretch into {count:,} "
            f"segments; at most {MAX_SEGMENTS_PER_VIDEO:,} per video. Use interval_sec >= "
            f"{span / MAX_SEGMENTS_PER_VIDEO:.3g}, or a shorter stretch (start/end_offset_sec)"
        )
    out = []
    for number in range(count):
        begin = start_sec + number * length_sec
        out.append((begin, min(begin + length_sec, stop)))
    return out


def cut_window(
    media: Media, start_sec: float, end_sec: float, *, exact: bool = False, sound: bool = False
) -> VideoWindow:
    """The video track of ``media`` from ``start_sec`` up to ``end_sec`` as MP4, with the
    first sound track over the same seconds when ``sound`` is true (and there is one).

    By default the window is remuxed without decoding, so it starts at the keyframe at or
    before ``start_sec``. With ``exact=True`` a window whose keyframe lies noticeably
    earlier is re-encoded from ``start_sec`` instead, so a short clip holds only its own
    seconds (what a model that embeds a whole clip needs).
    """
    window = _remux(media, start_sec, end_sec, sound)
    if exact and (
        start_sec - window.actual_start_sec > _EXACT_TOLERANCE_SEC
        # B-frames: the window also carries frames shown at or after end_sec (references
        # of frames shown before it).
        or window.actual_end_sec - end_sec > _EXACT_TOLERANCE_SEC
    ):
        return _reencode(media, start_sec, end_sec, sound)
    return window


#: Keyframe offsets up to this are accepted as "exact" (under one frame at 4 fps).
_EXACT_TOLERANCE_SEC = 0.25


def _open_video(media: Media) -> tuple[ModuleType, object]:
    av = require("av", purpose="cut videos into windows")
    source: object = str(media.path) if media.path is not None else io.BytesIO(media.read_bytes())
    return av, source


def _remux(media: Media, start_sec: float, end_sec: float, sound: bool) -> VideoWindow:
    av, source = _open_video(media)
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
                track = _SoundTrack.add(av, container, target) if sound else None
                # Packets come in decode order. With B-frames a frame shown before end_sec
                # can be decoded after one shown at or past it (and need it as a
                # reference), so stop only at the first packet *decoded* at or past
                # end_sec: every later one is also shown at or past it (pts >= dts).
                for packet in container.demux(stream):
                    if packet.pts is None or packet.dts is None:
                        continue  # the demuxer's flush packet
                    seconds = float(packet.pts * base)
                    if first is None:
                        first = packet.pts
                        first_time = seconds
                    if float(packet.dts * base) >= end_sec:
                        break
                    if packet.pts < first:
                        continue  # a leading frame of an open GOP: its reference is not here
                    last_time = max(last_time, seconds + float((packet.duration or 0) * base))
                    packet.pts -= first
                    packet.dts -= first
                    packet.stream = copy
                    target.mux(packet)
                if track is not None and first is not None:
                    track.mux(container, target, first_time, min(last_time, end_sec))
    except av.error.FFmpegError as exc:
        raise UnsupportedMediaError(
            f"cannot cut the video ({exc}); is the file corrupt?", source=media.source
        ) from exc
    if first is None:
        raise UnsupportedMediaError(
            f"no video frames between {start_sec:.1f} s and {end_sec:.1f} s", source=media.source
        )
    return VideoWindow(out.getvalue(), first_time, last_time)


def _reencode(media: Media, start_sec: float, end_sec: float, sound: bool) -> VideoWindow:
    """Decode from the keyframe before ``start_sec`` and encode only ``[start, end)``."""
    av, source = _open_video(media)
    out = io.BytesIO()
    first_time: float | None = None
    last_time = start_sec
    try:
        with av.open(source) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or 1
            container.seek(
                int(start_sec / stream.time_base), stream=stream, backward=True, any_frame=False
            )
            with av.open(out, mode="w", format="mp4") as target:
                encoder = target.add_stream("mpeg4", rate=rate)
                encoder.width, encoder.height = (
                    stream.codec_context.width,
                    stream.codec_context.height,
                )
                encoder.pix_fmt = "yuv420p"
                encoder.options = {
                    "qscale": "3"
                }  # near-lossless: the clip is analysed, not watched
                track = _SoundTrack.add(av, container, target) if sound else None
                count = 0
                for frame in container.decode(stream):
                    if frame.time is None or frame.time < start_sec - 1e-6:
                        continue
                    if frame.time >= end_sec:
                        break
                    first_time = frame.time if first_time is None else first_time
                    last_time = frame.time + float(1 / rate)
                    # A fresh frame numbered from the clip's start (the source's timestamps
                    # would leave a gap before the first frame).
                    clip_frame = av.VideoFrame.from_ndarray(
                        frame.to_ndarray(format="yuv420p"), format="yuv420p"
                    )
                    clip_frame.pts = count
                    clip_frame.time_base = Fraction(1) / Fraction(rate)
                    count += 1
                    for packet in encoder.encode(clip_frame):
                        target.mux(packet)
                for packet in encoder.encode():
                    target.mux(packet)
                if track is not None and first_time is not None:
                    track.mux(container, target, first_time, min(last_time, end_sec))
    except av.error.FFmpegError as exc:
        raise UnsupportedMediaError(
            f"cannot cut the video ({exc}); is the file corrupt?", source=media.source
        ) from exc
    if first_time is None:
        raise UnsupportedMediaError(
            f"no video frames between {start_sec:.1f} s and {end_sec:.1f} s", source=media.source
        )
    return VideoWindow(out.getvalue(), first_time, min(last_time, end_sec))


#: Sound codecs a window carries as they are (an MP4 holds them, and gemini-embedding-2
#: hears them); any other sound is re-encoded as AAC.
_COPY_SOUND = frozenset({"aac", "mp3", "mp3float"})
#: Half an AAC frame at 44.1 kHz: a packet this far outside the window still counts as in.
_SOUND_SLACK_SEC = 0.012


class _SoundTrack:
    """A source's first sound track, written into a window over the picture's seconds.

    The picture is cut first (its first keyframe decides where the window starts); the
    sound is then read from its own seek over exactly those seconds, so a file whose
    tracks are not interleaved (all picture, then all sound) costs no more to cut.
    """

    def __init__(self, source: Any, out: Any, copy: bool) -> None:
        self.source, self.out, self.copy = source, out, copy

    @classmethod
    def add(cls, av: ModuleType, container: Any, target: Any) -> _SoundTrack | None:
        """Add the window's sound stream to ``target`` (before anything is muxed), or
        return None when the source has no sound."""
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        context = stream.codec_context
        if context is not None and context.name in _COPY_SOUND:
            return cls(stream, target.add_stream_from_template(stream), copy=True)
        if context is None:
            raise UnsupportedMediaError(
                "the video's sound track uses a codec this PyAV (FFmpeg) build cannot decode, "
                "so it cannot be cut; drop the sound with VideoSegmentConfig(include_audio="
                "False), or convert the video (e.g. ffmpeg -i in.mov -c:a aac out.mp4)"
            )
        out = target.add_stream("aac", rate=context.sample_rate or 48_000)
        out.layout = context.layout.name if context.layout is not None else "stereo"
        return cls(stream, out, copy=False)

    def mux(self, container: Any, target: Any, start_sec: float, end_sec: float) -> None:
        """Write the sound heard from ``start_sec`` to ``end_sec``, starting at 0."""
        base = self.source.time_base
        container.seek(int(start_sec / base), stream=self.source, backward=True, any_frame=True)
        if self.copy:
            self._copy(container, target, start_sec, end_sec)
        else:
            self._encode(container, target, start_sec, end_sec)

    def _copy(self, container: Any, target: Any, start_sec: float, end_sec: float) -> None:
        base = self.source.time_base
        offset = round(start_sec / base)
        for packet in container.demux(self.source):
            if packet.pts is None:
                continue  # the demuxer's flush packet
            begins = float(packet.pts * base)
            ends = begins + float((packet.duration or 0) * base)
            if begins < start_sec - _SOUND_SLACK_SEC:
                continue  # seeking lands at or before the start
            if ends > end_sec + _SOUND_SLACK_SEC:
                break
            packet.pts -= offset
            packet.dts = packet.pts
            packet.stream = self.out
            target.mux(packet)

    def _encode(self, container: Any, target: Any, start_sec: float, end_sec: float) -> None:
        for frame in container.decode(self.source):
            if frame.time is None or frame.time < start_sec - _SOUND_SLACK_SEC:
                continue
            if frame.time + frame.samples / frame.sample_rate > end_sec + _SOUND_SLACK_SEC:
                break
            # Numbered from the window's start, as the picture is.
            frame.pts = round((frame.time - start_sec) * frame.sample_rate)
            frame.time_base = Fraction(1, frame.sample_rate)
            for packet in self.out.encode(frame):
                target.mux(packet)
        for packet in self.out.encode():
            target.mux(packet)
