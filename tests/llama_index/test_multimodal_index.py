"""MultiModalVectorStoreIndex over Qdrant local mode with each embedding class as
``image_embed_model``: image→image and text→image retrieval, images from
SimpleDirectoryReader, and the image path's batching and task."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import SimpleDirectoryReader
from llama_index.core.indices.multi_modal import MultiModalVectorStoreIndex
from llama_index.core.schema import ImageDocument, ImageNode
from qdrant_client import QdrantClient

from omniembed import Media
from omniembed.emulator import Emulator
from tests import media_factory as make
from tests.llama_index.helpers import (
    PROVIDERS,
    build,
    cosine,
    dashscope_contents,
    embed_calls,
    gemini,
    gemini_requests,
    gemini_texts,
    storage,
    vertex_instances,
)

COLORS = {"red": (220, 20, 20), "green": (20, 200, 20), "blue": (20, 20, 220)}


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    out = {}
    for name, color in COLORS.items():
        path = folder / f"{name}.png"
        path.write_bytes(make.png(color))
        out[name] = path
    return out


@pytest.fixture
def qdrant(tmp_path: Path) -> Iterator[QdrantClient]:
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    yield client
    client.close()


def captioned(images: dict[str, Path]) -> list[ImageDocument]:
    return [
        ImageDocument(text=f"a {name} square", image_path=str(path), metadata={"color": name})
        for name, path in images.items()
    ]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_image_to_image_and_text_to_image(
    emu: Emulator, qdrant: QdrantClient, images: dict[str, Path], tmp_path: Path, provider: str
) -> None:
    embed = build(provider, emu)
    index = MultiModalVectorStoreIndex.from_documents(
        captioned(images),
        storage_context=storage(qdrant, multimodal=True),
        embed_model=embed,
        image_embed_model=embed,
    )
    retriever = index.as_retriever(similarity_top_k=3, image_similarity_top_k=3)

    # image → image: a slightly different red (with a stripe) finds the red square first.
    probe = tmp_path / "probe.png"
    probe.write_bytes(make.png((200, 30, 30), stripe=(240, 240, 240)))
    hits = retriever.image_to_image_retrieve(str(probe))
    assert Path(hits[0].node.image_path).name == "red.png"  # type: ignore[attr-defined]

    # text → image through the captions (the text store holds the image nodes' text).
    caption_hits = retriever.text_retrieve("green square")
    assert isinstance(caption_hits[0].node, ImageNode)
    assert caption_hits[0].node.metadata["color"] == "green"

    # text → image in the image store: the query is embedded by image_embed_model with the
    # query task, and the ranking is the geometry of the vectors the provider returns
    # (the emulator's stand-in text and pixel spaces are unrelated, so "expected" is the
    # cosine ranking computed here independently of LlamaIndex and Qdrant).
    emu.clear_requests()
    query = "a red square"
    ranked = retriever.text_to_image_retrieve(query)
    query_vec = embed.embedder.embed([query], task="RETRIEVAL_QUERY")[0].vector
    image_vecs = {
        name: embed.embedder.embed([Media.from_path(path)])[0].vector
        for name, path in images.items()
    }
    expected = max(image_vecs, key=lambda n: cosine(query_vec, image_vecs[n]))
    assert Path(ranked[0].node.image_path).name == f"{expected}.png"  # type: ignore[attr-defined]
    if provider == "gemini":
        assert gemini_texts(emu)[0] == f"task: search result | query: {query}"
    elif provider == "vertex":
        assert vertex_instances(emu)[0] == {"text": query}
    else:
        assert dashscope_contents(emu)[0] == {"text": query}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_image_nodes_embedded_in_one_runtime_call(
    emu: Emulator, images: dict[str, Path], provider: str
) -> None:
    embed = build(provider, emu)
    vectors = embed.get_image_embedding_batch([str(p) for p in images.values()])
    assert len(vectors) == 3 and len({tuple(v) for v in vectors}) == 3
    calls = embed_calls(emu)
    if provider == "gemini":
        # all three images in one batchEmbedContents call, sent unprefixed
        assert len(calls) == 1 and len(gemini_requests(emu)) == 3
        assert all("text" not in p for r in gemini_requests(emu) for p in r["content"]["parts"])
    elif provider == "vertex":
        assert len(calls) == 3 and all(set(i) == {"image"} for i in vertex_instances(emu))
    else:  # tongyi-embedding-vision-plus: one image per request
        assert all(set(c) == {"image"} for c in dashscope_contents(emu))
        assert len(dashscope_contents(emu)) == 3


# llama-index-readers-file's ImageReader opens each image with PIL's Image.open and never
# closes it (it keeps only a converted copy): its files, not ours, are left to the GC.
@pytest.mark.filterwarnings(
    r"ignore:unclosed file <_io.BufferedReader name='.*\.png'>:ResourceWarning"
)
def test_images_from_simple_directory_reader(
    emu: Emulator, qdrant: QdrantClient, images: dict[str, Path]
) -> None:
    # The default extractors: .png goes to llama-index-readers-file's ImageReader.
    folder = images["red"].parent
    docs = SimpleDirectoryReader(str(folder)).load_data()
    assert len(docs) == 3 and all(isinstance(d, ImageDocument) for d in docs)
    embed = gemini(emu)
    index = MultiModalVectorStoreIndex.from_documents(
        docs,
        storage_context=storage(qdrant, multimodal=True),
        embed_model=embed,
        image_embed_model=embed,
    )
    # three images, embedded as inline PNG parts in one request
    parts = [p for r in gemini_requests(emu) for p in r["content"]["parts"]]
    assert len(parts) == 3 and all(p["inlineData"]["mimeType"] == "image/png" for p in parts)
    probe = make.png((30, 30, 200))
    hits = index.as_retriever(image_similarity_top_k=1).image_to_image_retrieve(
        str(_write(folder.parent / "q.png", probe))
    )
    assert Path(hits[0].node.metadata["file_path"]).name == "blue.png"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
