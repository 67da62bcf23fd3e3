"""Named colours: the one place where the stand-in's text and pixel spaces meet.

A colour word in a text ("an orange sky") adds the pixel direction of that colour to the
text's vector, and the generation stand-in names the dominant colour of what it sees. So
offline, "orange" finds orange pictures and video segments — a documented stand-in rule,
not understanding.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "orange": (245, 125, 40),
    "yellow": (240, 210, 40),
    "green": (40, 150, 60),
    "blue": (30, 70, 200),
    "purple": (130, 50, 170),
    "pink": (240, 140, 180),
    "brown": (120, 70, 30),
    "black": (10, 10, 10),
    "white": (245, 245, 245),
    "grey": (128, 128, 128),
}
_ALIASES = {"gray": "grey"}
_WORDS = re.compile(r"[a-z]+")


def colour_words(text: str) -> list[str]:
    """The colour names ``text`` mentions, in order, once each."""
    found: list[str] = []
    for word in _WORDS.findall(text.lower()):
        name = _ALIASES.get(word, word)
        if name in COLOURS and name not in found:
            found.append(name)
    return found


def solid(name: str, size: int) -> npt.NDArray[np.uint8]:
    """A ``size`` x ``size`` RGB image of one named colour."""
    return np.full((size, size, 3), COLOURS[name], dtype=np.uint8)


_PALETTE = np.array(list(COLOURS.values()), dtype=np.float32)
_NAMES = list(COLOURS)


def dominant_colour(rgb: npt.NDArray[np.uint8]) -> str:
    """The named colour most pixels of ``rgb`` are nearest to."""
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    distances = ((pixels[:, None, :] - _PALETTE[None, :, :]) ** 2).sum(axis=2)
    counts = np.bincount(distances.argmin(axis=1), minlength=len(_NAMES))
    return _NAMES[int(counts.argmax())]
