"""`omniembed.media.pdf.iter_pages`: one page at a time, text, rendered image and one-page PDFs."""

from __future__ import annotations

import io

import pypdfium2
import pytest
from PIL import Image

from omniembed import Media
from omniembed.errors import InvalidParameterError, UnsupportedMediaError
from omniembed.media.pdf import iter_pages

from .media_factory import pdf

DOC = Media.from_bytes(pdf(["red apples grow here", "cats sleep all day", "the end"]))


def test_pages_in_order_with_text_and_rendered_image() -> None:
    pages = list(iter_pages(DOC, dpi=72))
    assert [p.number for p in pages] == [1, 2, 3]
    assert {p.page_count for p in pages} == {3}
    assert [p.text for p in pages] == ["red apples grow here", "cats sleep all day", "the end"]
    image = Image.open(io.BytesIO(pages[0].image_png or b""))
    # 612 x 792 pt at 72 dpi is 612 x 792 px.
    assert image.size == (612, 792)
    assert pages[0].image_media().mime_type == "image/png"


def test_dpi_and_max_side_scale_the_rendering() -> None:
    (page,) = iter_pages(DOC, dpi=144, pages=[2])
    assert Image.open(io.BytesIO(page.image_png or b"")).size == (1224, 1584)
    (small,) = iter_pages(DOC, dpi=144, max_side=396, pages=[2])
    assert max(Image.open(io.BytesIO(small.image_png or b"")).size) == 396


def test_split_gives_one_page_pdfs_holding_that_page() -> None:
    pages = list(iter_pages(DOC, render=False, split=True))
    assert all(p.image_png is None for p in pages)
    single = pypdfium2.PdfDocument(pages[1].pdf)
    try:
        assert len(single) == 1
        assert "cats sleep" in single[0].get_textpage().get_text_bounded()
    finally:
        single.close()
    assert pages[1].pdf_media().mime_type == "application/pdf"
    with pytest.raises(InvalidParameterError, match="render=True"):
        pages[0].image_media()


def test_bad_input_is_named() -> None:
    with pytest.raises(InvalidParameterError, match="page 9 does not exist; the PDF has 3"):
        list(iter_pages(DOC, pages=[9]))
    with pytest.raises(InvalidParameterError, match="dpi"):
        list(iter_pages(DOC, dpi=0))
    with pytest.raises(UnsupportedMediaError, match="corrupt"):
        list(iter_pages(Media.from_bytes(b"%PDF-1.4 broken", "application/pdf")))
