"""Video segments for models that embed a whole clip as one vector (gemini-embedding-2,
the DashScope models).

Vertex AI's multimodal model segments a video itself; the others do not. So that every
embedder keeps the same ``embed_video`` contract (ordered segments with offsets), the
video is cut locally into ``interval_sec`` clips by stream copy
(`omniembed.media.video.cut_window`) and the clips are embedded together in one call, so
batching, concurrency and retries still come from the runtime.

What a clip carries depends on the model (`ClipLimits`): a model that hears sound in video
gets each clip with its sound track, and no clip longer than the model takes with sound;
the others get the picture only, as they ignore sound anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidParameterError
from ..types import Embedding, VideoSegmentConfig
from .item import Media

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipLimits:
    """What a model makes of a video clip: whether it hears the sound, and the longest
    clip it takes without and with sound (None: no limit known here)."""

    hears_sound: bool = False
    max_sec: float | None = None
    max_sec_with_sound: float | None = None


@dataclass(frozen=True)
class ClipPlan:
    """What to send for one video: the inputs and the span of the source each one covers."""

    inputs: list[Media]
    #: (start, end) per input in the source's timeline; end is None when unknown.
    spans: list[tuple[float, float | None]]


def plan_clips(
    media: Media,
    config: VideoSegmentConfig | None,
    workdir: Path | None = None,
    limits: ClipLimits = ClipLimits(),
) -> ClipPlan:
    """Cut ``media`` into the clips ``config`` asks for (blocking: reads and remuxes).

    Without a config (or without ``interval_sec`` and offsets) the whole video is one
    segment and is sent as is, by reference where the provider takes references — unless
    the model hears sound and ``include_audio=False`` asks for it dropped. With a
    ``workdir`` each clip is written there as a file as soon as it is cut, so a long video
    never sits in memory clip after clip (the runtime reads a clip when it sends it).
    Clips keep their sound when ``limits.hears_sound`` (and the config does not drop it),
    and are no longer than ``limits`` allow for clips with or without sound.
    """
    from .probe import has_audio_track, video_duration_sec
    from .video import cut_window, windows

    whole = config is None or (
        config.interval_sec is None
        and config.start_offset_sec == 0
        and config.end_offset_sec is None
    )
    # Dropping sound the model would hear means cutting a copy without it.
    drop_sound = limits.hears_sound and config is not None and not config.include_audio
    if media.scheme in ("gs", "oss"):
        if not whole or drop_sound:
            raise InvalidParameterError(
                f"{media.scheme}:// videos cannot be cut locally into segments or stripped "
                "of their sound; pass a local file or an http(s) URL, drop segment_config to "
                "embed the whole video, or use VertexMultiModalEmbedder, which segments gs:// "
                "videos server-side",
                source=media.source,
            )
        return ClipPlan([media], [(0.0, None)])
    duration = video_duration_sec(media)
    has_sound = limits.hears_sound and has_audio_track(media)
    if whole and not (drop_sound and has_sound):
        return ClipPlan([media], [(0.0, duration)])
    sound = has_sound and not drop_sound
    assert config is not None
    start = config.start_offset_sec
    if start >= duration:
        raise InvalidParameterError(
            f"start_offset_sec={start:g} is past the end of the {duration:.1f} s video",
            source=media.source,
        )
    stop = duration if config.end_offset_sec is None else min(config.end_offset_sec, duration)
    length = config.interval_sec or (stop - start)
    limit = limits.max_sec_with_sound if sound else limits.max_sec
    if limit is not None and length > limit and not whole:
        # The model would refuse the longer clip (400); shorter clips are the useful answer.
        # (A whole video stays one segment, as asked: the model's check says if it is long.)
        logger.info(
            "%s: clips of %.0f s shortened to %.0f s, the longest the model takes%s",
            media.source,
            length,
            limit,
            " with sound (VideoSegmentConfig(include_audio=False) allows longer clips)"
            if sound
            else "",
        )
        length = limit
    # exact=True: a clip must hold only its own seconds, not everything since the last
    # keyframe (which can be many seconds earlier), or its vector would describe both.
    clips: list[Media] = []
    spans: list[tuple[float, float | None]] = []
    for number, (begin, end) in enumerate(windows(duration, start, stop, length)):
        cut = cut_window(media, begin, end, exact=True, sound=sound)
        if workdir is None:
            clips.append(Media.from_bytes(cut.data, "video/mp4"))
        else:
            path = workdir / f"clip-{id(media):x}-{number:05d}.mp4"
            path.write_bytes(cut.data)
            clips.append(Media.from_path(path, "video/mp4"))
        spans.append((cut.actual_start_sec, cut.actual_end_sec))
    return ClipPlan(clips, spans)


def segments(
    plan: ClipPlan, embeddings: Sequence[Sequence[Embedding]], modality: str = "video"
) -> list[Embedding]:
    """One `Embedding` per clip, carrying the clip's span in the source."""
    out = []
    for (start, end), found in zip(plan.spans, embeddings, strict=True):
        for embedding in found:
            out.append(Embedding(embedding.vector, modality, start, end))
    return out
