"""A local estimate of the input tokens a service will count.

Quotas count input tokens per minute, and a request over the minute's budget is refused
whole, so batches are sized and paced by this estimate. Too low and the service refuses
calls; too high and the client waits longer than the quota requires.

* text: word pieces — each run of letters (one piece up to 12 letters, then one per 6),
  each digit (Gemini's tokenizer splits numbers into digits), each CJK character, each
  punctuation mark — plus 5% and one token per text. Checked against the 32 text-only
  prompts with the service's own counts in the public recordings (pydantic-ai cassettes,
  ``countTokens`` / ``usageMetadata.promptTokenCount``): for 31 of them this estimate is
  within -2..+5 tokens of the service's count (382 against 376 for a 1,955-character
  prompt); one short prompt counted 50 against our 11 (left to the runtime's correction).
  The "about 4 characters per token" rule of thumb (ai.google.dev/gemini-api/docs/tokens)
  overshoots English prose by ~30%, which would leave a third of a token quota unused.
* media at Google's published flat rates: 258 tokens per image (per 768×768 tile when
  larger than 384 px), per PDF page, 263 per second of video and 32 per second of audio
  (ai.google.dev/gemini-api/docs/tokens; geminibyexample.com "calculate input tokens").

Services may count differently (DashScope, Vertex AI, code and rare words); a 429 naming
a token quota the client kept to makes the runtime scale its estimates up
(`omniembed.runtime.quota`).
"""

from __future__ import annotations

import math
import re

TOKENS_PER_IMAGE_TILE = 258
TOKENS_PER_PDF_PAGE = 258
TOKENS_PER_VIDEO_SECOND = 263
TOKENS_PER_AUDIO_SECOND = 32
_TILE = 768
_SMALL_IMAGE = 384
_SHORT_WORD = 12
_LONG_WORD_PIECE = 6
_MARGIN = 1.05

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
#: A piece, a run of several digits, a letter run longer than a short word.
_UNICODE = (
    re.compile(rf"[{_CJK}]|[0-9]+|[^\W\d{_CJK}]+|[^\w\s]"),
    re.compile(r"[0-9]{2,}"),
    re.compile(rf"[^\W\d{_CJK}]{{{_SHORT_WORD + 1},}}"),
)
_ASCII = (
    re.compile(r"[0-9]+|[A-Za-z_]+|[^\w\s]", re.ASCII),
    re.compile(r"[0-9]{2,}", re.ASCII),
    re.compile(rf"[A-Za-z_]{{{_SHORT_WORD + 1},}}", re.ASCII),
)


def text_tokens(text: str) -> int:
    """Estimated tokens of a text (see the module docstring for how it was checked)."""
    if not text:
        return 0
    # Counted with C-level regex scans, not a Python loop over pieces (the survey of a
    # 100 MB text estimates every chunk), and with ASCII patterns for ASCII text, which
    # the regex engine scans about three times faster. One piece per match; digit runs
    # count one per digit, letter runs longer than 12 one per 6 letters.
    piece, digits, long_word = _ASCII if text.isascii() else _UNICODE
    pieces = piece.subn("", text)[1]
    pieces += sum(len(run) - 1 for run in digits.findall(text))
    pieces += sum(math.ceil(len(run) / _LONG_WORD_PIECE) - 1 for run in long_word.findall(text))
    return math.ceil(pieces * _MARGIN) + 1


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
