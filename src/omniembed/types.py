"""Result and configuration types shared by every provider."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .deprecated_names import moved
from .errors import InvalidParameterError, OmniEmbedError


def _check_seconds(config: Any, names: tuple[str, ...]) -> None:
    """The checks every segment config shares: each of ``names`` is a finite number of
    seconds (or None), ``start_offset_sec >= 0`` and ``end_offset_sec > start_offset_sec``."""
    kind = type(config).__name__
    for name in names:
        value = getattr(config, name)
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise InvalidParameterError(
                f"{kind}.{name} must be a finite number of seconds, got {value!r}"
                + (" (use None for 'to the end')" if name == "end_offset_sec" else "")
            )
    start, end = config.start_offset_sec, config.end_offset_sec
    if start < 0:
        raise InvalidParameterError(f"{kind}.start_offset_sec must be >= 0, got {start}")
    if end is not None and end <= start:
        raise InvalidParameterError(
            f"{kind}.end_offset_sec must be greater than start_offset_sec "
            f"(got start={start}, end={end})"
        )


@dataclass(frozen=True)
class VideoSegmentConfig:
    """Which part of a video to embed, how long each embedded segment is, and whether its
    sound is embedded with it.

    Offsets are seconds from the start of the video; ``end_offset_sec=None`` means "to the
    end". ``interval_sec`` is the length of each segment (one vector per segment).

    ``include_audio`` matters only for a model that hears sound in video
    (``GeminiEmbedder('gemini-embedding-2')``): there each clip keeps the video's sound
    track, and since the model takes at most 80 s of video with sound (120 s without),
    clips of a video with sound are shortened to 80 s. ``include_audio=False`` drops the
    sound on purpose (clips then run up to 120 s). Models that ignore sound
    (``VertexMultiModalEmbedder``, ``DashScopeEmbedder``) are sent the picture only.
    """

    start_offset_sec: float = 0.0
    end_offset_sec: float | None = None
    interval_sec: float | None = None
    include_audio: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.include_audio, bool):
            raise InvalidParameterError(
                f"VideoSegmentConfig.include_audio must be True or False, got "
                f"{self.include_audio!r}"
            )
        _check_seconds(self, ("start_offset_sec", "end_offset_sec", "interval_sec"))
        if self.interval_sec is not None and self.interval_sec <= 0:
            raise InvalidParameterError(
                f"VideoSegmentConfig.interval_sec must be > 0, got {self.interval_sec}"
            )

    def as_dict(self) -> dict[str, float | bool | None]:
        return {
            "start_offset_sec": self.start_offset_sec,
            "end_offset_sec": self.end_offset_sec,
            "interval_sec": self.interval_sec,
            "include_audio": self.include_audio,
        }


@dataclass(frozen=True)
class AudioSegmentConfig:
    """Which part of an audio to embed, and how it is cut (one vector per window).

    ``window_sec`` is each window's length — by default the model's per-input limit
    (gemini-embedding-2: 80 s) — and consecutive windows share ``overlap_sec`` seconds (so
    a sentence cut at one window's end is whole in the next). Offsets are seconds from the
    start; ``end_offset_sec=None`` means "to the end".
    """

    window_sec: float | None = None
    overlap_sec: float = 0.0
    start_offset_sec: float = 0.0
    end_offset_sec: float | None = None

    def __post_init__(self) -> None:
        _check_seconds(self, ("window_sec", "overlap_sec", "start_offset_sec", "end_offset_sec"))
        if self.window_sec is not None and self.window_sec <= 0:
            raise InvalidParameterError(
                f"AudioSegmentConfig.window_sec must be > 0, got {self.window_sec}"
            )
        if self.overlap_sec < 0:
            raise InvalidParameterError(
                f"AudioSegmentConfig.overlap_sec must be >= 0, got {self.overlap_sec}"
            )
        if self.window_sec is not None and self.overlap_sec >= self.window_sec:
            raise InvalidParameterError(
                f"AudioSegmentConfig.overlap_sec ({self.overlap_sec}) must be shorter than "
                f"window_sec ({self.window_sec})"
            )


@dataclass(frozen=True)
class Embedding:
    """One vector. Video inputs yield one per segment, with the segment's offsets."""

    vector: list[float]
    modality: str | None = None
    start_offset_sec: float | None = None
    end_offset_sec: float | None = None

    @property
    def dimension(self) -> int:
        return len(self.vector)


@dataclass
class EmbeddingResult:
    """The outcome for one input, at the input's position in the call.

    ``embeddings`` holds one vector for text, images and fused inputs, and one per segment
    for video. ``error`` is set (and ``embeddings`` empty) when the input failed for good.
    """

    index: int
    embeddings: list[Embedding] = field(default_factory=list)
    error: OmniEmbedError | None = None
    cached: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def vector(self) -> list[float]:
        """The single vector of this input (raises for failures and multi-segment video)."""
        if self.error is not None:
            raise self.error
        if len(self.embeddings) != 1:
            raise ValueError(
                f"input {self.index} has {len(self.embeddings)} vectors (a video yields one per "
                "segment); use .embeddings"
            )
        return self.embeddings[0].vector


#: Names that moved to another module (see `omniembed.deprecated_names`): `EmbedInput`, the
#: input type, lives with `Media` in the media layer, which builds on this module.
_moved_name = moved(__name__, {"EmbedInput": "omniembed.media"})

if not TYPE_CHECKING:  # type checkers keep seeing only the names defined here

    def __getattr__(name: str) -> Any:
        return _moved_name(name)
