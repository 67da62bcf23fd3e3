"""A tiny bundled corpus for the demo: text notes and images drawn in code (no downloads)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from .media import Media
from .probe import require

NOTES: dict[str, str] = {
    "sourdough.md": (
        "Sourdough starter care: feed the starter daily with equal weights of flour and water, "
        "keep it warm, and discard half before each feeding so the yeast stays active."
    ),
    "tides.md": (
        "Ocean tides rise and fall twice a day because the moon's gravity pulls the sea; "
        "spring tides happen at full and new moon."
    ),
    "bike-repair.md": (
        "To fix a flat bicycle tyre, remove the wheel, find the puncture in the inner tube, "
        "patch it, and pump the tyre back to the pressure printed on its side."
    ),
    "forest-walk.md": (
        "A walk in the green pine forest: moss on the trees, ferns by the path, and the smell "
        "of resin after rain."
    ),
    "sunset-photo.md": (
        "Photography tip: shoot a sunset just after the sun touches the horizon, when the sky "
        "turns orange and red, and expose for the bright sky."
    ),
}


@dataclass(frozen=True)
class SampleImage:
    name: str
    description: str
    media: Media


def sample_images() -> list[SampleImage]:
    """Three small scenes: a sunset, a forest, the sea (drawn with Pillow)."""
    pil = require("PIL.Image", purpose="draw the demo images")
    draw_module = require("PIL.ImageDraw", purpose="draw the demo images")

    def scene(sky: tuple[int, int, int], ground: tuple[int, int, int], sun: bool) -> Media:
        image = pil.new("RGB", (96, 64), sky)
        draw = draw_module.Draw(image)
        draw.rectangle((0, 40, 96, 64), fill=ground)
        if sun:
            draw.ellipse((36, 24, 60, 48), fill=(255, 200, 40))
        out = io.BytesIO()
        image.save(out, format="PNG")
        return Media.from_bytes(out.getvalue(), mime_type="image/png")

    return [
        SampleImage(
            "sunset.png", "an orange sky over dark hills", scene((250, 120, 40), (60, 30, 20), True)
        ),
        SampleImage("forest.png", "green pine trees", scene((120, 170, 110), (20, 90, 30), False)),
        SampleImage(
            "sea.png", "blue sea under a pale sky", scene((170, 200, 240), (20, 60, 160), False)
        ),
    ]


def query_photo() -> Media:
    """A second sunset-like picture, used as an image query."""
    pil = require("PIL.Image", purpose="draw the demo images")
    image = pil.new("RGB", (80, 60), (245, 110, 50))
    for x in range(80):
        for y in range(38, 60):
            image.putpixel((x, y), (70, 35, 25))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return Media.from_bytes(out.getvalue(), mime_type="image/png")
