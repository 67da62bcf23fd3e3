"""VideoSegmentReader and PDFPageReader: nodes carry their vectors (no re-embedding by the
index), offsets/pages and enough text to survive index construction."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.indices.multi_modal import MultiModalVectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import ImageDocument, QueryBundle
from qdrant_client import QdrantClient

from omniembed import VideoSegmentConfig
from omniembed.emulator import Emulator
from omniembed.llama_index import PDFPageReader, VideoSegmentReader
from tests import media_factory as make
from tests.llama_index.helpers import (
    build,
    embed_calls,
    gemini,
    gemini_requests,
    gemini_texts,
    storage,
    vertex,
)

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


@pytest.fixture
def qdrant(tmp_path: Path) -> Iterator[QdrantClient]:
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    yield client
    client.close()


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """12 s: 4 s red, 4 s green, 4 s blue."""
    path = tmp_path / "clip.mp4"
    colors = [RED] * 4 + [GREEN] * 4 + [BLUE] * 4
    path.write_bytes(make.video(seconds=12, fps=2, size=32, colors=colors))
    return path


def test_video_segments_are_indexed_without_re_embedding(
    emu: Emulator, qdrant: QdrantClient, clip: Path, tmp_path: Path
) -> None:
    embed = vertex(emu)
    reader = VideoSegmentReader(embed, VideoSegmentConfig(interval_sec=4))
    nodes = reader.load_data(clip, extra_info={"course": "colors"})
    assert len(embed_calls(emu)) == 1  # one request for the 12 s video
    assert [(n.metadata["start_offset_sec"], n.metadata["end_offset_sec"]) for n in nodes] == [
        (0.0, 4.0),
        (4.0, 8.0),
        (8.0, 12.0),
    ]
    assert [n.text for n in nodes] == [
        "video clip.mp4 00:00–00:04",
        "video clip.mp4 00:04–00:08",
        "video clip.mp4 00:08–00:12",
    ]
    assert nodes[0].metadata["file_path"] == str(clip) and nodes[0].metadata["course"] == "colors"
    assert all(n.embedding is not None and len(n.embedding) == 1408 for n in nodes)

    emu.clear_requests()
    index = VectorStoreIndex(nodes, storage_context=storage(qdrant), embed_model=embed)
    pipeline_nodes = IngestionPipeline(transformations=[embed]).run(nodes=nodes)
    assert embed_calls(emu) == []  # neither the index nor __call__ embedded them again
    assert len(pipeline_nodes) == 3

    # An image of the green part of the video finds the green segment.
    probe = tmp_path / "green.png"
    probe.write_bytes(make.png(GREEN))
    query = embed.get_image_embedding(str(probe))
    hits = index.as_retriever(similarity_top_k=3).retrieve(
        QueryBundle(query_str="", embedding=query)
    )
    assert len(hits) == 3  # none was dropped by index construction
    assert hits[0].node.metadata["start_offset_sec"] == 4.0


def test_video_segments_survive_multimodal_index_construction(
    emu: Emulator, clip: Path, tmp_path: Path
) -> None:
    embed = vertex(emu)
    nodes = VideoSegmentReader(embed, VideoSegmentConfig(interval_sec=4)).load_data(clip)
    emu.clear_requests()
    client = QdrantClient(path=str(tmp_path / "mm"))
    index = MultiModalVectorStoreIndex(
        nodes,
        storage_context=storage(client, multimodal=True),
        embed_model=embed,
        image_embed_model=embed,
    )
    assert embed_calls(emu) == []
    hits = index.as_retriever(similarity_top_k=5).retrieve("video clip.mp4")
    assert sorted(h.node.metadata["segment_index"] for h in hits) == [0, 1, 2]
    client.close()


def test_video_reader_with_a_whole_clip_model(emu: Emulator, clip: Path) -> None:
    nodes = VideoSegmentReader(gemini(emu)).load_data(files=[clip])
    assert len(nodes) == 1  # gemini-embedding-2 embeds the whole clip as one vector
    assert nodes[0].metadata["start_offset_sec"] == 0.0
    assert nodes[0].metadata["end_offset_sec"] == pytest.approx(12.0, abs=0.6)
    parts = [p for r in gemini_requests(emu) for p in r["content"]["parts"]]
    assert [p["inlineData"]["mimeType"] for p in parts] == ["video/mp4"]


def test_video_reader_with_dashscope_uploads_the_local_file(emu: Emulator, clip: Path) -> None:
    nodes = VideoSegmentReader(build("dashscope", emu)).load_data(clip)
    assert len(nodes) == 1 and len(nodes[0].embedding or []) == 1152
    assert [r.path for r in emu.requests][:2] == ["/api/v1/uploads", "/oss-upload"]
    sent = emu.requests[-1].json["input"]["contents"]
    assert len(sent) == 1 and sent[0]["video"].startswith("oss://")


async def test_video_reader_async(emu: Emulator, clip: Path) -> None:
    nodes = await VideoSegmentReader(vertex(emu)).aload_data(
        clip, segment_config=VideoSegmentConfig(interval_sec=6)
    )
    assert [n.metadata["end_offset_sec"] for n in nodes] == [6.0, 12.0]
    config = emu.requests[-1].json["instances"][0]["video"]["videoSegmentConfig"]
    assert config["intervalSec"] == 6


PAGES = [
    "Quarterly revenue grew strongly",
    "Employee headcount stayed flat",
    "Risks include supply",
]


@pytest.fixture
def report(tmp_path: Path) -> Path:
    path = tmp_path / "report.pdf"
    path.write_bytes(make.pdf(PAGES))
    return path


def test_pdf_pages_become_image_documents(
    emu: Emulator, qdrant: QdrantClient, report: Path
) -> None:
    docs = PDFPageReader(dpi=36).load_data(report)
    assert embed_calls(emu) == []  # reading renders locally; it does not embed
    assert [d.text for d in docs] == PAGES
    assert all(isinstance(d, ImageDocument) and d.image_mimetype == "image/png" for d in docs)
    assert base64.b64decode(docs[0].image)[:8] == b"\x89PNG\r\n\x1a\n"  # type: ignore[attr-defined]
    assert [d.metadata["page_label"] for d in docs] == ["1", "2", "3"]
    assert docs[2].metadata == {
        "file_path": str(report),
        "file_name": "report.pdf",
        "page_label": "3",
        "page_number": 3,
        "total_pages": 3,
    }

    # The usual reader flow: from_documents splits each ImageDocument into an ImageNode,
    # whose text goes to embed_model and whose page image goes to image_embed_model.
    embed = gemini(emu)
    index = MultiModalVectorStoreIndex.from_documents(
        docs,
        storage_context=storage(qdrant, multimodal=True),
        embed_model=embed,
        image_embed_model=embed,
    )
    parts = [p for r in gemini_requests(emu) for p in r["content"]["parts"]]
    images = [p["inlineData"] for p in parts if "inlineData" in p]
    assert [i["mimeType"] for i in images] == ["image/png"] * 3
    texts = gemini_texts(emu)
    assert len(texts) == 3 and all(t.startswith("title: none | text: ") for t in texts)
    assert sorted(t.rsplit("\n", 1)[-1] for t in texts) == sorted(PAGES)
    hits = index.as_retriever(similarity_top_k=1).text_retrieve("employee headcount")
    assert hits[0].node.metadata["page_number"] == 2


def test_pdf_pages_as_pdf_parts(emu: Emulator, qdrant: QdrantClient, report: Path) -> None:
    embed = gemini(emu)
    docs = PDFPageReader(render=False, as_pdf_part=True, embed_model=embed).load_data(report)
    parts = [p for r in gemini_requests(emu) for p in r["content"]["parts"]]
    assert [p["inlineData"]["mimeType"] for p in parts] == ["application/pdf"] * 3
    assert len(embed_calls(emu)) == 1  # the three pages in one batch
    assert all(d.embedding is not None for d in docs)
    emu.clear_requests()
    index = VectorStoreIndex(docs, storage_context=storage(qdrant), embed_model=embed)
    assert len(embed_calls(emu)) == 0
    hits = index.as_retriever(similarity_top_k=1).retrieve("supply risks")
    assert hits[0].node.metadata["page_number"] == 3
    assert len(embed_calls(emu)) == 1  # only the query


def test_pdf_part_needs_a_pdf_capable_model(emu: Emulator, report: Path) -> None:
    from omniembed import UnsupportedMediaError

    reader = PDFPageReader(as_pdf_part=True, embed_model=build("vertex", emu))
    with pytest.raises(UnsupportedMediaError):
        reader.load_data(report)
    assert embed_calls(emu) == []
    with pytest.raises(ValueError, match="embed_model"):
        PDFPageReader(as_pdf_part=True)
