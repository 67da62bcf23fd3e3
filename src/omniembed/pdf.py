"""Deprecated: this module moved to `omniembed.media.pdf`; its names resolve there, with a
`DeprecationWarning` (see `omniembed.deprecated_names`)."""

from __future__ import annotations

from typing import Any

from .deprecated_names import moved

_moved_name = moved(__name__, "omniembed.media.pdf")


def __getattr__(name: str) -> Any:
    return _moved_name(name)
