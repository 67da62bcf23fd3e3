"""VectorStoreIndex over Qdrant local mode with each embedding class against the emulator:
documents go out with the document task, queries with the query task (in each provider's
wire form), batches respect the APIs' limits, and retrieval finds the right node."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import TextNode
from qdrant_client import QdrantClient

from omniembed.emulator import Emulator
from tests.llama_index.helpers import (
    PROVIDERS,
    build,
    dashscope,
    dashscope_contents,
    embed_calls,
    gemini,
    gemini_requests,
    gemini_texts,
    storage,
    vertex_instances,
)

CORPUS = ["the red fox jumps over fences", "blue whales swim deep", "green apples taste sour"]


@pytest.fixture
def qdrant(tmp_path: Path) -> Iterator[QdrantClient]:
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    yield client
    client.close()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_index_and_query_use_document_and_query_tasks(
    emu: Emulator, qdrant: QdrantClient, provider: str
) -> None:
    embed = build(provider, emu)
    index = VectorStoreIndex.from_documents(
        [Document(text=t) for t in CORPUS], storage_context=storage(qdrant), embed_model=embed
    )
    indexing = embed_calls(emu)
    # Vertex takes one instance per request; the others batch the three texts together.
    assert len(indexing) == (3 if provider == "vertex" else 1)
    emu.clear_requests()

    hits = index.as_retriever(similarity_top_k=3).retrieve("blue whales")
    assert hits[0].node.get_content() == "blue whales swim deep"
    assert len(embed_calls(emu)) == 1  # the query only

    if provider == "gemini":  # gemini-embedding-2: the task is a text prefix
        assert gemini_texts(emu) == ["task: search result | query: blue whales"]
    elif provider == "vertex":  # multimodalembedding@001 has no task types: plain text
        assert vertex_instances(emu) == [{"text": "blue whales"}]
    else:  # DashScope has no task types either: the text alone, no instruct
        assert dashscope_contents(emu) == [{"text": "blue whales"}]
        assert "instruct" not in emu.requests[-1].json.get("parameters", {})


def test_document_prefix_on_gemini_embedding_2(emu: Emulator, qdrant: QdrantClient) -> None:
    VectorStoreIndex.from_documents(
        [Document(text=t) for t in CORPUS], storage_context=storage(qdrant), embed_model=gemini(emu)
    )
    assert sorted(gemini_texts(emu)) == sorted(f"title: none | text: {t}" for t in CORPUS)
    assert all("taskType" not in r for r in gemini_requests(emu))


def test_settings_embed_model_with_task_type_model(
    emu: Emulator, qdrant: QdrantClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Settings, "_embed_model", None)  # restored after the test
    Settings.embed_model = gemini(emu, model="gemini-embedding-001")
    index = VectorStoreIndex.from_documents(
        [Document(text=t) for t in CORPUS], storage_context=storage(qdrant)
    )
    assert {r["taskType"] for r in gemini_requests(emu)} == {"RETRIEVAL_DOCUMENT"}
    emu.clear_requests()
    assert index.as_retriever().retrieve("green apples")[0].node.get_content() == CORPUS[2]
    assert [r["taskType"] for r in gemini_requests(emu)] == ["RETRIEVAL_QUERY"]


def test_task_type_overrides(emu: Emulator) -> None:
    embed = gemini(
        emu,
        model="gemini-embedding-001",
        task_type="semantic_similarity",
        query_task_type="QUESTION_ANSWERING",
    )
    embed.get_text_embedding_batch(["a text"])
    embed.get_query_embedding("a question?")
    assert [r["taskType"] for r in gemini_requests(emu)] == [
        "SEMANTIC_SIMILARITY",
        "QUESTION_ANSWERING",
    ]


def test_titles_from_metadata_through_ingestion_pipeline(emu: Emulator) -> None:
    embed = gemini(emu, model="gemini-embedding-001")
    docs = [
        Document(text="Cats purr when content.", metadata={"title": "Cats"}),
        Document(text="Dogs bark at strangers.", metadata={"title": "Dogs"}),
        Document(text="Untitled note."),
    ]
    for doc in docs:  # keep the title out of the text, so the title field is the only copy
        doc.excluded_embed_metadata_keys = ["title"]
    nodes = IngestionPipeline(transformations=[SentenceSplitter(), embed]).run(documents=docs)
    assert all(node.embedding for node in nodes)
    sent = {r["content"]["parts"][0]["text"]: r.get("title") for r in gemini_requests(emu)}
    assert sent == {
        "Cats purr when content.": "Cats",
        "Dogs bark at strangers.": "Dogs",
        "Untitled note.": None,
    }
    assert {r["taskType"] for r in gemini_requests(emu)} == {"RETRIEVAL_DOCUMENT"}


def test_titles_become_the_prefix_on_gemini_embedding_2(emu: Emulator, tmp_path: Path) -> None:
    embed = gemini(emu, title_metadata_key="heading")
    doc = Document(text="Volcanoes erupt lava.", metadata={"heading": "Geology"})
    doc.excluded_embed_metadata_keys = ["heading"]
    client = QdrantClient(path=str(tmp_path / "q"))
    # transformations=[..., embed_model] is the index-building path that passes nodes
    # through __call__; the index then finds the vectors and does not embed again.
    index = VectorStoreIndex.from_documents(
        [doc],
        storage_context=storage(client),
        embed_model=embed,
        transformations=[SentenceSplitter(), embed],
    )
    assert gemini_texts(emu) == ["title: Geology | text: Volcanoes erupt lava."]
    assert len(embed_calls(emu)) == 1
    assert index.as_retriever().retrieve("lava")[0].node.metadata["heading"] == "Geology"
    client.close()


def test_250_nodes_go_out_in_api_sized_batches(emu: Emulator, qdrant: QdrantClient) -> None:
    nodes = [TextNode(text=f"note number {i} about topic {i % 7}") for i in range(250)]
    embed = gemini(emu, output_dimensionality=256)  # small vectors keep Qdrant quick
    index = VectorStoreIndex(nodes, storage_context=storage(qdrant), embed_model=embed)
    sizes = [len(r.json["requests"]) for r in embed_calls(emu)]
    assert sorted(sizes) == [50, 100, 100]  # the Gemini API takes at most 100 per call
    hit = index.as_retriever(similarity_top_k=1).retrieve("note number 123 about topic 4")
    assert hit[0].node.get_content() == "note number 123 about topic 4"


def test_dashscope_batches_respect_the_model_limit(emu: Emulator) -> None:
    embed = dashscope(emu)
    limit = embed.embed_batch_size
    assert limit == embed.embedder.spec.max_elements  # type: ignore[attr-defined]
    vectors = embed.get_text_embedding_batch([f"text {i}" for i in range(45)])
    assert len(vectors) == 45
    sizes = [len(r.json["input"]["contents"]) for r in embed_calls(emu)]
    assert sum(sizes) == 45 and max(sizes) <= limit and len(sizes) == -(-45 // limit)


def test_embed_batch_size_reports_each_api_limit(emu: Emulator) -> None:
    assert gemini(emu).embed_batch_size == 100
    assert build("vertex", emu).embed_batch_size == 1
    assert gemini(emu, embed_batch_size=7).embed_batch_size == 7  # explicit wins


def test_reindexing_with_omniembed_cache_makes_no_calls(emu: Emulator, tmp_path: Path) -> None:
    embed = gemini(emu, cache=str(tmp_path / "cache.sqlite"))
    nodes = [TextNode(text=t) for t in CORPUS]
    first = embed.get_text_embedding_batch([n.text for n in nodes])
    assert len(embed_calls(emu)) == 1
    emu.clear_requests()
    assert embed.get_text_embedding_batch([n.text for n in nodes]) == first
    assert embed_calls(emu) == []


def test_llama_index_embeddings_cache_is_honoured(emu: Emulator) -> None:
    from llama_index.core.storage.kvstore import SimpleKVStore

    embed = gemini(emu, embeddings_cache=SimpleKVStore())
    first = embed.get_text_embedding_batch(["alpha", "beta"])
    emu.clear_requests()
    again = embed.get_text_embedding_batch(["beta", "gamma", "alpha"])
    assert again[0] == first[1] and again[2] == first[0]
    assert gemini_texts(emu) == ["title: none | text: gamma"]  # only the new text went out


def test_show_progress_draws_a_progress_bar(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    gemini(emu).get_text_embedding_batch(["a", "b", "c"], show_progress=True)
    assert "gemini:gemini-embedding-2" in capsys.readouterr().err  # the runtime's bar
