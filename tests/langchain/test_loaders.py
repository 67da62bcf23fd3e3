"""VideoSegmentLoader and PDFPageLoader: documents, offsets, page images, and indexing them
in real vector stores against the emulator."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import chromadb
import pytest
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore

from omniembed import InvalidParameterError, VideoSegmentConfig
from omniembed.emulator import Emulator
from omniembed.langchain import PDFPageLoader, VideoSegmentLoader, add_documents_with_vectors
from tests import media_factory as make

from .conftest import BLUE, RED, build


def chroma(embeddings: Any, tmp_path: Path) -> Chroma:
    return Chroma(
        collection_name=f"c{uuid.uuid4().hex[:12]}",
        embedding_function=embeddings,
        client=chromadb.PersistentClient(path=str(tmp_path / "chroma")),
    )


# --- video ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gemini", "vertex", "dashscope"])
def test_video_segments_have_ordered_offsets(
    kind: str, emu: Emulator, red_then_blue_video: Path
) -> None:
    loader = VideoSegmentLoader(
        red_then_blue_video,
        embeddings=build(kind, emu),
        segment_config=VideoSegmentConfig(interval_sec=8),
    )
    documents = loader.load()
    spans = [(d.metadata["start_offset_sec"], d.metadata["end_offset_sec"]) for d in documents]
    assert spans == [(0, 8), (8, 16)]
    assert [d.metadata["segment"] for d in documents] == [0, 1]
    assert {d.metadata["source"] for d in documents} == {str(red_then_blue_video)}
    assert documents[0].page_content == "red-then-blue.mp4 [0.0–8.0 s]"
    assert len({d.id for d in documents}) == 2


def test_vertex_segments_come_from_the_service(emu: Emulator, red_then_blue_video: Path) -> None:
    e = build("vertex", emu)
    segments = e.embed_video(str(red_then_blue_video), VideoSegmentConfig(interval_sec=4))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in segments] == [
        (0, 4),
        (4, 8),
        (8, 12),
        (12, 16),
    ]
    [request] = [r for r in emu.requests if r.route == "predict"]
    config = request.json["instances"][0]["video"]["videoSegmentConfig"]
    assert config == {"startOffsetSec": 0, "endOffsetSec": 16, "intervalSec": 4}


def test_gemini_video_is_cut_into_clips_sent_in_one_call(
    emu: Emulator, red_then_blue_video: Path
) -> None:
    e = build("gemini", emu)
    segments = e.embed_video(red_then_blue_video, VideoSegmentConfig(interval_sec=8))
    calls = [r for r in emu.requests if r.route == "batchEmbedContents"]
    assert len(calls) == 1
    parts = [entry["content"]["parts"] for entry in calls[0].json["requests"]]
    assert len(parts) == 2
    assert all(field["mimeType"] == "video/mp4" for [p] in parts for field in [p["inlineData"]])
    # Without a config the whole video is one segment.
    [whole] = e.embed_video(str(red_then_blue_video))
    assert whole.start_offset_sec == 0
    assert whole.end_offset_sec == pytest.approx(16, abs=0.5)
    assert segments[0].vector != segments[1].vector


def test_a_bad_segment_config_is_rejected_before_sending(
    emu: Emulator, red_then_blue_video: Path
) -> None:
    with pytest.raises(InvalidParameterError, match="past the end"):
        build("gemini", emu).embed_video(
            red_then_blue_video, VideoSegmentConfig(start_offset_sec=30, interval_sec=8)
        )
    with pytest.raises(InvalidParameterError, match="minimum of 4 s"):
        build("vertex", emu).embed_video(red_then_blue_video, VideoSegmentConfig(interval_sec=2))
    assert emu.requests == []


@pytest.mark.parametrize("kind", ["gemini", "vertex"])
def test_video_segments_round_trip_through_chroma_without_re_embedding(
    kind: str, emu: Emulator, red_then_blue_video: Path, tmp_path: Path
) -> None:
    e = build(kind, emu)
    store = chroma(e, tmp_path)
    loader = VideoSegmentLoader(
        red_then_blue_video, embeddings=e, segment_config=VideoSegmentConfig(interval_sec=8)
    )
    ids = loader.add_to(store)
    embedded = len(emu.requests)
    assert len(ids) == 2
    assert store._collection.count() == 2
    # An image of blue frames finds the blue half of the video, with its offsets.
    blue = tmp_path / "blue.png"
    blue.write_bytes(make.png(BLUE))
    [top] = store.similarity_search_by_image(uri=str(blue), k=1)
    assert (top.metadata["start_offset_sec"], top.metadata["end_offset_sec"]) == (8, 16)
    assert top.metadata["source"] == str(red_then_blue_video)
    red = tmp_path / "red.png"
    red.write_bytes(make.png(RED))
    [top] = store.similarity_search_by_image(uri=str(red), k=1)
    assert top.metadata["start_offset_sec"] == 0
    # Adding was one embedding pass; each search embedded only its query image.
    assert len(emu.requests) == embedded + 2
    # Loading again upserts the same ids instead of duplicating segments.
    assert loader.add_to(store) == ids
    assert store._collection.count() == 2


def test_video_segments_into_in_memory_store(emu: Emulator, red_then_blue_video: Path) -> None:
    e = build("vertex", emu)
    store = InMemoryVectorStore(e)
    documents, vectors = VideoSegmentLoader(
        red_then_blue_video, embeddings=e, segment_config=VideoSegmentConfig(interval_sec=8)
    ).load_with_vectors()
    add_documents_with_vectors(store, documents, vectors)
    [(top, score)] = store.similarity_search_with_score_by_vector(vectors[1], k=1)
    assert top.metadata["end_offset_sec"] == 16
    assert score == pytest.approx(1.0)


def test_add_documents_with_vectors_rejects_unknown_stores() -> None:
    class Store:  # a stand-in with none of the known ways to take vectors
        pass

    with pytest.raises(TypeError, match="no way to add precomputed vectors"):
        add_documents_with_vectors(Store(), [Document("x")], [[1.0]])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="1 documents but 2 vectors"):
        add_documents_with_vectors(Store(), [Document("x")], [[1.0], [2.0]])  # type: ignore[arg-type]


async def test_async_video_loader(emu: Emulator, red_then_blue_video: Path) -> None:
    loader = VideoSegmentLoader(
        red_then_blue_video,
        embeddings=build("vertex", emu),
        segment_config=VideoSegmentConfig(interval_sec=8),
    )
    documents = [d async for d in loader.alazy_load()]
    assert [d.metadata["start_offset_sec"] for d in documents] == [0, 8]
    segments = await build("gemini", emu).aembed_video(
        str(red_then_blue_video), VideoSegmentConfig(interval_sec=8)
    )
    assert [(s.start_offset_sec, s.end_offset_sec) for s in segments] == [(0, 8), (8, 16)]


# --- PDF ------------------------------------------------------------------------------------

PAGES = ["alpha apples orchard harvest", "beta bananas tropical plantation", "gamma grapes vine"]


@pytest.fixture
def pdf_path(tmp_path: Path) -> Path:
    path = tmp_path / "fruit.pdf"
    path.write_bytes(make.pdf(PAGES))
    return path


def test_pdf_pages_become_documents_with_page_images(pdf_path: Path, tmp_path: Path) -> None:
    loader = PDFPageLoader(pdf_path, dpi=36, image_dir=tmp_path / "pages")
    iterator = loader.lazy_load()
    first = next(iterator)  # one page at a time
    assert first.page_content == PAGES[0]
    rest = list(iterator)
    documents = [first, *rest]
    assert [d.metadata["page"] for d in documents] == [1, 2, 3]
    assert {d.metadata["total_pages"] for d in documents} == {3}
    assert {d.metadata["source"] for d in documents} == {str(pdf_path)}
    for document in documents:
        image = Path(document.metadata["image_path"])
        assert image.parent.parent == tmp_path / "pages"
        assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    without = PDFPageLoader(pdf_path, render=False, pages=[2]).load()
    assert [(d.metadata["page"], "image_path" in d.metadata) for d in without] == [(2, False)]


def test_pdf_page_image_cache_dir_follows_xdg(
    pdf_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    [document] = PDFPageLoader(pdf_path, pages=[1]).load()
    assert Path(document.metadata["image_path"]).is_relative_to(
        tmp_path / "xdg" / "omniembed" / "pdf-pages"
    )


@pytest.mark.parametrize("kind", ["gemini", "vertex", "dashscope"])
def test_pdf_pages_indexed_as_text_and_images(
    kind: str, emu: Emulator, pdf_path: Path, tmp_path: Path
) -> None:
    e = build(kind, emu)
    documents = PDFPageLoader(pdf_path, dpi=36, image_dir=tmp_path / "pages").load()
    texts = chroma(e, tmp_path)
    texts.add_documents(documents)
    [top] = texts.similarity_search("bananas plantation", k=1)
    assert top.metadata["page"] == 2
    pictures = chroma(e, tmp_path)
    pictures.add_images(
        uris=[d.metadata["image_path"] for d in documents],
        metadatas=[d.metadata for d in documents],
    )
    [top] = pictures.similarity_search_by_image(uri=documents[2].metadata["image_path"], k=1)
    assert top.metadata["page"] == 3
