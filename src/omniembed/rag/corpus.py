"""Walking a folder and turning each file into pieces to embed.

Text and Markdown become chunks; images one piece; PDF pages their text and rendered image
(one fused input where the model fuses, else separate pieces). Video and audio are timed
media: the embedder cuts them into segments (`Embedder.embed_videos`, `embed_audios`), one
piece each, where the model embeds that modality. Anything else is skipped with a reason.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import UnsupportedMediaError
from ..media import Media
from ..media.mime import Modality, guess_mime_from_name, modality_of
from ..media.probe import probe_or_none, tracks
from ..types import AudioSegmentConfig
from .chunking import chunk_text, iter_chunks, read_text_blocks
from .embedders import Capabilities
from .pieces import Group, Piece, PieceModality, clock

TEXT_SUFFIXES = frozenset({".md", ".markdown", ".txt", ".text", ".rst"})
#: Rendering scale for PDF pages: embedding models read images at ≤1-3 kpx, and a bound
#: keeps a long document's rendered pages small in memory.
PAGE_DPI = 96.0
PAGE_MAX_SIDE = 1024
_CHUNK = 1 << 20

EmbedInput = str | Media | list[str | Media]


@dataclass(frozen=True)
class SourceFile:
    """A file found under the indexed folder."""

    path: Path
    source: str  # relative to the root, POSIX separators
    size: int
    mtime_ns: int
    #: A symbolic link to a file or folder outside the indexed folder (not followed).
    outside: bool = False

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()


class Skip(Exception):
    """The file is not embeddable by design (type, model, emptiness): not an error."""


PieceInput = tuple[Piece, EmbedInput]
TimedModality = Literal["video", "audio"]


@dataclass(frozen=True)
class TimedMedia:
    """A video or an audio file: embedded as timed segments, one piece each."""

    media: Media
    modality: TimedModality


@dataclass
class FilePlan:
    """What to embed for one file. `items` yields each piece with the input that gives its
    vector, reading the file as it goes (a 100 MB text is never held whole); timed media
    (``timed``: video, audio) are cut into segments by the embedder, and their pieces made
    from the segments (`timed_pieces`)."""

    file: SourceFile
    sha256: str
    caps: Capabilities
    model: str
    media: Media | None = None
    timed: TimedMedia | None = None

    @property
    def title(self) -> str:
        return self.file.path.name

    @property
    def is_text(self) -> bool:
        return self.media is None and self.timed is None

    def items(self, on_bytes: Callable[[int], None] | None = None) -> Iterator[PieceInput]:
        """The pieces in order. Raises `Skip` at the end when the file gave none (no text;
        a scanned PDF for a text-only model), other errors when it cannot be read."""
        if self.timed is not None:
            raise ValueError(f"a {self.timed.modality}'s pieces come from its segments")
        if self.is_text:
            pieces = self._text(on_bytes)
        elif self.media is not None and self.media.mime_type == "application/pdf":
            pieces = self._pdf(self.media)
        else:
            pieces = self._single()
        ordinal = 0
        for value, modality, text, group, page in pieces:
            piece = Piece(self.file.source, modality, text, group, ordinal, page)
            ordinal += 1
            yield piece, value
        if not ordinal:
            if self.is_text:
                raise Skip("no text")
            raise Skip(f"no page text, and {self.model} embeds no images (a scanned PDF?)")

    def _text(self, on_bytes: Callable[[int], None] | None) -> Iterator[_Part]:
        try:
            blocks = read_text_blocks(self.file.path, on_bytes)
            for chunk in iter_chunks(blocks, self.caps.text_chars):
                yield chunk, "text", chunk, "text", None
        except UnsupportedMediaError as exc:
            raise UnsupportedMediaError(exc.detail, source=self.file.source) from None

    def _pdf(self, media: Media) -> Iterator[_Part]:
        from ..media.pdf import iter_pages

        caps = self.caps
        for page in iter_pages(media, dpi=PAGE_DPI, render=caps.images, max_side=PAGE_MAX_SIDE):
            text = page.text
            image = page.image_media() if caps.images else None
            if caps.fused_pages and image is not None:
                # One vector per page from its words and its look (figures, layout).
                fused: list[str | Media] = [text, image] if text else [image]
                yield fused, "pdf_page", text, "visual", page.number
                continue
            for chunk in chunk_text(text, caps.text_chars):
                yield chunk, "pdf_page", chunk, "text", page.number
            if image is not None:
                yield image, "pdf_page", text, "visual", page.number

    def _single(self) -> Iterator[_Part]:
        assert self.media is not None
        yield self.media, "image", f"image {self.file.path.name}", "visual", None


#: One piece before numbering: the input, its modality, text, group and page.
_Part = tuple[EmbedInput, PieceModality, str, Group, "int | None"]


def walk(
    root: Path, exclude: Sequence[Path] = (), *, follow_links: bool = False
) -> list[SourceFile]:
    """Every non-hidden file under ``root`` (hidden folders pruned), sorted by relative
    path. ``exclude`` folders (e.g. a store inside the root) are not entered.

    Symbolic links that lead outside ``root`` (files, or folders) are listed with
    ``outside=True`` (the survey skips them) unless ``follow_links``: an index must not
    quietly embed, store and quote files the folder only points at."""
    top = root.resolve()
    skipped = {p.resolve() for p in exclude}
    seen: set[Path] = set()  # folders entered, by real path: links must not loop
    found: list[SourceFile] = []
    for folder, dirs, files in os.walk(root, followlinks=follow_links):
        here = Path(folder)
        real = here.resolve()
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        kept = []
        for d in dirs:
            if d.startswith(".") or (here / d).resolve() in skipped:
                continue
            if (here / d).is_symlink() and not follow_links:
                target = (here / d).resolve()
                if not target.is_relative_to(top):
                    found.append(_outside(here / d, root))
                continue  # os.walk does not enter linked folders unless following links
            kept.append(d)
        dirs[:] = kept
        for name in files:
            if name.startswith("."):
                continue
            path = here / name
            try:
                stat = path.stat()
            except OSError:
                continue  # a dangling symlink, or removed meanwhile
            if not path.is_file():
                continue
            source = path.relative_to(root).as_posix()
            outside = not follow_links and not path.resolve().is_relative_to(top)
            found.append(SourceFile(path, source, stat.st_size, stat.st_mtime_ns, outside))
    found.sort(key=lambda f: f.source)
    return found


def _outside(path: Path, root: Path) -> SourceFile:
    return SourceFile(path, path.relative_to(root).as_posix(), 0, 0, outside=True)


def plan_file(file: SourceFile, caps: Capabilities, model: str, sha256: str) -> FilePlan:
    """How to embed one file. Raises `Skip` for files not to embed by their type, size or
    the model, `UnsupportedMediaError` for video or audio that cannot be opened (a corrupt
    file: reported as failed, not skipped); `FilePlan.items` finds the rest (no text,
    unreadable content)."""
    if file.size == 0:
        raise Skip("empty file")
    plan = FilePlan(file, sha256, caps, model)
    if file.path.suffix.lower() in TEXT_SUFFIXES:
        return plan
    try:
        media = Media.from_path(file.path)
        mime = media.mime_type
        modality = media.modality
    except UnsupportedMediaError:
        _unrecognised_timed(file, caps, model)
        raise Skip("unsupported file type") from None
    if mime == "application/pdf":
        plan.media = media
        return plan
    if modality is Modality.IMAGE:
        if not caps.images:
            raise Skip(f"{model} embeds text only")
        plan.media = media
    elif modality in (Modality.VIDEO, Modality.AUDIO):
        kind = _timed_modality(media, modality, caps)
        if kind == "video" and not caps.video:
            raise Skip(f"{model} does not embed video")
        if kind == "audio" and not caps.audio:
            raise Skip(f"{model} does not embed audio")
        plan.timed = TimedMedia(media, kind)
    else:
        raise Skip(f"unsupported file type ({mime})")
    return plan


def _timed_modality(media: Media, sniffed: Modality, caps: Capabilities) -> TimedModality:
    """Video or audio, by the file's tracks where that can change what happens to it: an
    MP4 holding only sound (e.g. an .m4a written with a generic brand) sniffs as
    video/mp4, while a video with a sound track is still a video. Audio MIME types (MP3,
    WAV, FLAC, Ogg, M4A brands) carry no picture, so they are not opened here. A file that
    cannot be opened raises `UnsupportedMediaError`, unless the model embeds neither video
    nor audio (then only the reason it is skipped depends on the answer)."""
    if sniffed is Modality.AUDIO:
        return "audio"
    try:
        found = probe_or_none(tracks, media)
    except UnsupportedMediaError:
        if caps.video or caps.audio:
            raise
        found = None
    if found is None:  # no PyAV: the MIME type is all there is (cutting needs PyAV anyway)
        return "video"
    has_video, has_audio = found
    if has_video or not (has_audio or caps.video or caps.audio):
        return "video"
    if has_audio:
        return "audio"
    raise UnsupportedMediaError(
        "the file has neither a video nor an audio track", source=media.source
    )


def _unrecognised_timed(file: SourceFile, caps: Capabilities, model: str) -> None:
    """A file named like video or audio whose content is neither is taken as corrupt (a
    failure to report), not as a type to skip: the name says what it was meant to be.
    For a model that does not embed that kind anyway, it is skipped as such."""
    guessed = guess_mime_from_name(file.path.name)
    kind = modality_of(guessed) if guessed else None
    if kind is Modality.AUDIO and not caps.audio:
        raise Skip(f"{model} does not embed audio")
    if kind is Modality.VIDEO and not caps.video:
        raise Skip(f"{model} does not embed video")
    if kind in (Modality.VIDEO, Modality.AUDIO):
        what = "an audio" if kind is Modality.AUDIO else "a video"
        raise UnsupportedMediaError(
            f"the content is not {what} format omniembed recognises, though the name says "
            "it is one; is the file corrupt or truncated?",
            source=str(file.path),
        )


def audio_segment_config(caps: Capabilities) -> AudioSegmentConfig:
    """How an index cuts audio: windows as long as the model hears per input (fewest
    vectors, each hearing the most context), without overlap."""
    if caps.audio_window_sec is None:
        raise ValueError("this model does not embed audio")
    return AudioSegmentConfig(window_sec=caps.audio_window_sec)


def timed_pieces(
    source: str, name: str, modality: TimedModality, spans: Sequence[tuple[float, float]]
) -> list[Piece]:
    """One piece per embedded segment of a video or audio file."""
    return [
        Piece(
            source=source,
            modality=modality,
            text=f"{modality} {name} {clock(start)}–{clock(end)}",
            group="av",
            ordinal=n,
            start_offset_sec=start,
            end_offset_sec=end,
        )
        for n, (start, end) in enumerate(spans)
    ]
