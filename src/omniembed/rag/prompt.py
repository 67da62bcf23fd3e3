"""The user turn for the LLM: each retrieved medium right after its "Source [n]" label,
then the retrieved text, then the question."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from ..generation import MediaPart, Message, Part
from ..media import Media
from .hits import Hit

logger = logging.getLogger("omniembed.rag")

SYSTEM = (
    "Rely only on the numbered sources in the user's message (passages and attached media) "
    "and cite them like [2]. If they do not contain the answer, say that you do not know."
)
_TEXT_MODALITIES = ("text", "pdf_page")


def user_message(
    question: str, hits: Sequence[Hit], root: Path, *, follow_links: bool = False
) -> Message:
    """Labels and media interleaved (a label right before its medium lets the model tell
    sources apart), then the text passages, then the question. Media are read from
    ``root``, never from outside it unless the store was indexed ``follow_links``."""
    parts: list[Part] = []
    shown: set[tuple[object, ...]] = set()
    for hit in hits:
        key = (hit.source, hit.page, hit.start_offset_sec, hit.end_offset_sec)
        if hit.modality == "text" or key in shown:
            continue
        media = _media(hit, root, follow_links)
        if media is None:
            continue
        shown.add(key)
        parts += [f"Source [{hit.rank}]: {hit.citation}", media]
    passages: list[str] = []
    for hit in hits:
        text = hit.text.strip()
        if hit.modality in _TEXT_MODALITIES and text and text not in passages:
            passages.append(f"[{hit.rank}] {hit.citation}: {text}")
    if passages:
        parts.append("Retrieved text:\n" + "\n".join(passages))
    parts.append(f"Question: {question}")
    return Message("user", parts)


def _media(hit: Hit, root: Path, follow_links: bool) -> Part | None:
    """The hit's medium from the indexed folder, or None (moved, changed, unreadable, or a
    link out of the folder)."""
    path = root / hit.source
    if not follow_links and not path.resolve().is_relative_to(root.resolve()):
        logger.warning("not attaching %s: it leads outside %s", hit.citation, root)
        return None
    try:
        if hit.modality == "pdf_page":
            return _page_image(path, hit.page or 1)
        media = Media.from_path(path)
        if hit.modality == "video":
            # Only the matching stretch: the model watches the clip, not the whole file.
            return MediaPart(media, hit.start_offset_sec, hit.end_offset_sec)
        start, end = hit.start_offset_sec, hit.end_offset_sec
        if hit.modality == "audio" and start is not None and end is not None:
            return _audio_window(media, start, end)
        return media
    except Exception as exc:  # the answer still gets the hit's text and citation
        logger.warning("not attaching %s: %s", hit.citation, exc)
        return None


def _audio_window(media: Media, start: float, end: float) -> Media:
    """The segment's stretch of an audio file, cut locally: the API's clipping metadata
    (``videoMetadata``) is documented for video only, so the model hears just the matching
    stretch by being sent just that (MP3 and WAV by stream copy, else 16 kHz mono WAV)."""
    from ..media.audio import cut_audio

    window = cut_audio(media, start, end)
    return Media.from_bytes(window.data, window.mime_type)


def _page_image(path: Path, page: int) -> Media:
    from ..media.pdf import iter_pages
    from .corpus import PAGE_DPI, PAGE_MAX_SIDE

    media = Media.from_path(path)
    [rendered] = iter_pages(media, dpi=PAGE_DPI, max_side=PAGE_MAX_SIDE, pages=[page])
    return rendered.image_media()
