"""Walking a folder and turning each file into pieces to embed.

Text and Markdown become chunks; images one piece; PDF pages their text and rendered image
(one fused input where the model fuses, else separate pieces); videos are segmented by the
embedder (`Embedder.embed_videos`); audio only where the model embeds it. Anything else is
skipped with a reason.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UnsupportedMediaError
from ..media import Media
from ..mime import Modality
from .chunking import chunk_text
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

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with self.path.open("rb") as f:
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
        return digest.hexdigest()


class Skip(Exception):
    """The file is not embeddable by design (type, model, emptiness): not an error."""


@dataclass
class FilePlan:
    """What to embed for one file: ``inputs[i]`` gives the vector of ``pieces[i]``; a
    video is embedded with `Embedder.embed_videos` and its pieces made from the segments."""

    file: SourceFile
    sha256: str
    pieces: list[Piece] = field(default_factory=list)
    inputs: list[EmbedInput] = field(default_factory=list)
    video: Media | None = None

    @property
    def title(self) -> str:
        return self.file.path.name


def walk(root: Path, exclude: Sequence[Path] = ()) -> list[SourceFile]:
    """Every non-hidden file under ``root`` (hidden folders pruned), sorted by relative
    path. ``exclude`` folders (e.g. a store inside the root) are not entered."""
    skipped = {p.resolve() for p in exclude}
    found: list[SourceFile] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not d.startswith(".") and (here / d).resolve() not in skipped]
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
            found.append(SourceFile(path, source, stat.st_size, stat.st_mtime_ns))
    found.sort(key=lambda f: f.source)
    return found


def plan_file(file: SourceFile, caps: Capabilities, model: str, sha256: str) -> FilePlan:
    """The pieces of one file. Raises `Skip` for files not to embed, other errors for
    files that cannot be read."""
    if file.size == 0:
        raise Skip("empty file")
    plan = FilePlan(file, sha256)
    if file.path.suffix.lower() in TEXT_SUFFIXES:
        _plan_text(plan, caps)
        return plan
    try:
        media = Media.from_path(file.path)
        mime = media.mime_type
        modality = media.modality
    except UnsupportedMediaError:
        raise Skip("unsupported file type") from None
    if mime == "application/pdf":
        _plan_pdf(plan, media, caps, model)
        return plan
    name = file.path.name
    if modality is Modality.IMAGE:
        if not caps.images:
            raise Skip(f"{model} embeds text only")
        _add(plan, media, "image", f"image {name}", "visual")
    elif modality is Modality.VIDEO:
        if not caps.video:
            raise Skip(f"{model} does not embed video")
        plan.video = media
    elif modality is Modality.AUDIO:
        if not caps.audio:
            raise Skip(f"{model} does not embed audio")
        _add(plan, media, "audio", f"audio {name}", "av")
    else:
        raise Skip(f"unsupported file type ({mime})")
    return plan


def _plan_text(plan: FilePlan, caps: Capabilities) -> None:
    try:
        text = plan.file.path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedMediaError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); convert it to UTF-8",
            source=plan.file.source,
        ) from None
    chunks = chunk_text(text, caps.text_chars)
    if not chunks:
        raise Skip("no text")
    for chunk in chunks:
        _add(plan, chunk, "text", chunk, "text")


def _plan_pdf(plan: FilePlan, media: Media, caps: Capabilities, model: str) -> None:
    from ..pdf import iter_pages

    for page in iter_pages(media, dpi=PAGE_DPI, render=caps.images, max_side=PAGE_MAX_SIDE):
        text = page.text
        image = page.image_media() if caps.images else None
        if caps.fused_pages and image is not None:
            # One vector per page from its words and its look (figures, layout).
            fused: list[str | Media] = [text, image] if text else [image]
            _add(plan, fused, "pdf_page", text, "visual", page.number)
            continue
        for chunk in chunk_text(text, caps.text_chars):
            _add(plan, chunk, "pdf_page", chunk, "text", page.number)
        if image is not None:
            _add(plan, image, "pdf_page", text, "visual", page.number)
    if not plan.pieces:
        raise Skip(f"no page text, and {model} embeds no images (a scanned PDF?)")


def _add(
    plan: FilePlan,
    value: EmbedInput,
    modality: PieceModality,
    text: str,
    group: Group,
    page: int | None = None,
) -> None:
    piece = Piece(
        source=plan.file.source,
        modality=modality,
        text=text,
        group=group,
        ordinal=len(plan.pieces),
        page=page,
    )
    plan.pieces.append(piece)
    plan.inputs.append(value)


def video_pieces(source: str, name: str, spans: Sequence[tuple[float, float]]) -> list[Piece]:
    """One piece per embedded video segment."""
    return [
        Piece(
            source=source,
            modality="video",
            text=f"video {name} {clock(start)}–{clock(end)}",
            group="av",
            ordinal=n,
            start_offset_sec=start,
            end_offset_sec=end,
        )
        for n, (start, end) in enumerate(spans)
    ]
