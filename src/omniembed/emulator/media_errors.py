"""The one error every media decoder of the emulator raises (kept apart so the decoders in
`vectors` and `audio` can share it without importing each other)."""

from __future__ import annotations


class MediaDecodeError(ValueError):
    """Media bytes that passed the header probe but cannot be decoded (a truncated image,
    an MP4 without a video track, a corrupt stream): the dispatcher answers 400."""
