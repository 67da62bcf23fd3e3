"""The media layer: inputs and what can be learnt or made from their bytes locally.

* `item` — `Media`, one input file or blob (read lazily, typed by its content bytes), and
  `EmbedInput`, one thing to embed.
* `mime` — MIME sniffing from magic bytes and the `Modality` of a MIME type.
* `probe` — local facts (pixel size, PDF pages, duration, tracks) read with the optional
  decoders (Pillow, pypdfium2, PyAV: the ``media`` extra).
* `imaging` — image re-encoding and downscaling.
* `pdf` — PDF pages as separate inputs (text, rendered image, one-page PDF).
* `video` — cutting a local video into time windows by stream copy.
* `video_segments` — one vector per segment for models that embed a whole clip as one.

The layer sits on the domain (`omniembed.errors`, `omniembed.types`) and below the runtime,
the providers and the adapters; the emulator shares it (decoding only, never a request
builder). Importing this package loads only `item` and `mime`: the decoders load on use.
"""

from __future__ import annotations

from .item import EmbedInput, Media
from .mime import Modality

__all__ = ["EmbedInput", "Media", "Modality"]
