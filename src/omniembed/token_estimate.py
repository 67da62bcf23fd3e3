"""A local, conservative estimate of the input tokens a service will count.

Quotas count input tokens per minute, and a request over the minute's budget is refused
whole, so batches are sized and paced by this estimate. It must not come out lower than
the service's count, only a little higher:

* text: the larger of (characters / 4) — "a token is equivalent to about 4 characters"
  (ai.google.dev/gemini-api/docs/tokens) — and a count of word pieces (each run of letters
  or digits, every 12 characters of a long one, each CJK character, each punctuation mark),
  which catches code, numbers and CJK text where 4 characters hold more than one token;
* media at Google's published flat rates: 258 tokens per image (per 768×768 tile when
  larger than 384 px), per PDF page, 263 per second of video and 32 per second of audio
  (ai.google.dev/gemini-api/docs/tokens; geminibyexample.com "calculate input tokens").

Services may count differently (DashScope, Vertex AI); a 429 that names a token quota
the client kept to makes the runtime scale its estimates up (`omniembed.runtime.quota`).
"""

from __future__ import annotations

import math
import re

TOKENS_PER_IMAGE_TILE = 258
TOKENS_PER_PDF_PAGE = 258
TOKENS_PER_VIDEO_SECOND = 263
TOKENS_PER_AUDIO_SECOND = 32
CHARS_PER_TOKEN = 4
_TILE = 768
_SMALL_IMAGE = 384
_LONG_RUN = 12

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_WORD = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s]")


def text_tokens(text: str) -> int:
    """Estimated tokens of a text (never below the service's count for ordinary text)."""
    if not text:
        return 0
    pieces = 0
    for match in _WORD.finditer(text):
        pieces += math.ceil(len(match.group(0)) / _LONG_RUN)
    return max(pieces, math.ceil(len(text) / CHARS_PER_TOKEN))


def image_tokens(width: int | None = None, height: int | None = None) -> int:
    """258 tokens, or 258 per 768×768 tile for an image with a side over 384 px."""
    if not width or not height or (width <= _SMALL_IMAGE and height <= _SMALL_IMAGE):
        return TOKENS_PER_IMAGE_TILE
    tiles = math.ceil(width / _TILE) * math.ceil(height / _TILE)
    return TOKENS_PER_IMAGE_TILE * tiles


def video_tokens(seconds: float | None) -> int:
    return math.ceil(seconds or 1.0) * TOKENS_PER_VIDEO_SECOND


def audio_tokens(seconds: float | None) -> int:
    return math.ceil((seconds or 1.0) * TOKENS_PER_AUDIO_SECOND)


def pdf_tokens(pages: int | None) -> int:
    return (pages or 1) * TOKENS_PER_PDF_PAGE
