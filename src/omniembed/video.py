"""Deprecated: this module moved to `omniembed.media.video`; its names resolve there, with a
`DeprecationWarning` (see `omniembed.deprecated_names`)."""

from __future__ import annotations

from typing import Any

from .deprecated_names import moved

_moved_name = moved(__name__, "omniembed.media.video")


def __getattr__(name: str) -> Any:
    return _moved_name(name)
