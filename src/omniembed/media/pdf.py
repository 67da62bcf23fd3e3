"""PDF pages as separate inputs: each page's text, a rendered image, and the page alone as a
one-page PDF. Shared by the LlamaIndex reader and the LangChain loader.

Pages are produced one at a time, so a 300-page document never holds 300 rendered images.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import InvalidParameterError, UnsupportedMediaError
from .item import Media
from .probe import require

#: PDF user-space units per inch.
_POINTS_PER_INCH = 72.0


@dataclass(frozen=True)
class PdfPage:
    """One page of a PDF: 1-based ``number``, its extracted ``text`` and the sources."""

    number: int
    page_count: int
    text: str
    source: str
    #: The page rendered to PNG (None when rendering was not asked for).
    image_png: bytes | None = None
    #: The page alone, as a one-page PDF (None when not asked for).
    pdf: bytes | None = None

    def image_media(self) -> Media:
        """The rendered page as a `Media` (PNG)."""
        if self.image_png is None:
            raise InvalidParameterError(
                f"page {self.number} of {self.source} was not rendered; pass render=True",
                source=self.source,
            )
        return Media.from_bytes(self.image_png, "image/png")

    def pdf_media(self) -> Media:
        """The page as a one-page PDF `Media`."""
        if self.pdf is None:
            raise InvalidParameterError(
                f"page {self.number} of {self.source} was not split out; pass split=True",
                source=self.source,
            )
        return Media.from_bytes(self.pdf, "application/pdf")


def iter_pages(
    media: Media,
    *,
    dpi: float = 96.0,
    render: bool = True,
    split: bool = False,
    max_side: int | None = None,
    pages: list[int] | None = None,
) -> Iterator[PdfPage]:
    """Yield the pages of ``media`` in order (or only the 1-based ``pages`` given).

    ``dpi`` sets the rendering scale; ``max_side`` caps the longer side in pixels (the
    scale shrinks to fit). ``split`` also produces each page as a one-page PDF, which
    gemini-embedding-2 can embed as a document part.
    """
    if dpi <= 0:
        raise InvalidParameterError(f"dpi must be positive, got {dpi!r}", source=media.source)
    pdfium = require("pypdfium2", purpose="read PDF pages")
    try:
        # A local file is opened by path: pdfium reads pages on demand, not the whole file.
        source = str(media.path) if media.path is not None else media.read_bytes()
        document = pdfium.PdfDocument(source)
    except Exception as exc:  # PdfiumError (a RuntimeError) or OSError
        raise UnsupportedMediaError(
            f"the PDF cannot be opened ({exc}); is the file corrupt or encrypted?",
            source=media.source,
        ) from exc
    try:
        count = len(document)
        wanted = list(range(1, count + 1)) if pages is None else pages
        for number in wanted:
            if not 1 <= number <= count:
                raise InvalidParameterError(
                    f"page {number} does not exist; the PDF has {count} pages",
                    source=media.source,
                )
        for number in wanted:
            page = document[number - 1]
            try:
                yield PdfPage(
                    number=number,
                    page_count=count,
                    text=_page_text(page),
                    source=media.source,
                    image_png=_render(page, dpi, max_side) if render else None,
                    pdf=_single_page(pdfium, document, number - 1) if split else None,
                )
            finally:
                page.close()
    finally:
        document.close()


def _page_text(page: object) -> str:
    textpage = page.get_textpage()  # type: ignore[attr-defined]
    try:
        text: str = textpage.get_text_bounded()
    finally:
        textpage.close()
    # pdfium ends lines with CRLF; normalize so text splitters see ordinary newlines.
    return text.replace("\r\n", "\n").strip()


def _render(page: object, dpi: float, max_side: int | None) -> bytes:
    scale = dpi / _POINTS_PER_INCH
    if max_side is not None:
        width, height = page.get_size()  # type: ignore[attr-defined]
        longest = max(width, height) * scale
        if longest > max_side:
            scale *= max_side / longest
    bitmap = page.render(scale=scale)  # type: ignore[attr-defined]
    try:
        image = bitmap.to_pil()
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=False)
        return out.getvalue()
    finally:
        bitmap.close()


def _single_page(pdfium: object, document: object, index: int) -> bytes:
    single = pdfium.PdfDocument.new()  # type: ignore[attr-defined]
    try:
        single.import_pages(document, [index])
        out = io.BytesIO()
        single.save(out)
        return out.getvalue()
    finally:
        single.close()
