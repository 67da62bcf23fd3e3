"""The LangChain embeddings classes end to end against the emulator: task types and titles
on the wire, images into Chroma, text through InMemoryVectorStore, async, secrets."""

from __future__ import annotations

import asyncio
import base64
import math
import pickle
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import chromadb
import pytest
from langchain_chroma import Chroma
from langchain_core.load import dumps
from langchain_core.vectorstores import InMemoryVectorStore

from omniembed import (
    InputError,
    InvalidParameterError,
    MissingCredentialsError,
    UnsupportedMediaError,
    VertexMultiModalEmbedder,
)
from omniembed.emulator import Emulator
from omniembed.langchain import (
    DashScopeMultiModalEmbeddings,
    GeminiEmbeddings,
    VertexMultiModalEmbeddings,
)
from tests import media_factory as make

from .conftest import (
    DASHSCOPE_KEY,
    GEMINI_KEY,
    VERTEX_TOKEN,
    build,
    dashscope_params,
    gemini_params,
    vertex_params,
)


def gemini_requests(emu: Emulator) -> list[dict[str, Any]]:
    """Per-input entries of every batchEmbedContents call, in order."""
    out: list[dict[str, Any]] = []
    for record in emu.requests:
        if record.route == "batchEmbedContents":
            out.extend(record.json["requests"])
    return out


def field(entry: dict[str, Any], camel: str) -> Any:
    """google-genai writes some fields in snake_case; the service accepts both."""
    snake = "".join("_" + c.lower() if c.isupper() else c for c in camel)
    return entry.get(camel, entry.get(snake))


def texts_of(entry: dict[str, Any]) -> list[str]:
    return [p["text"] for p in entry["content"]["parts"] if "text" in p]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def chroma(embeddings: Any, tmp_path: Path) -> Chroma:
    return Chroma(
        collection_name=f"c{uuid.uuid4().hex[:12]}",
        embedding_function=embeddings,
        client=chromadb.PersistentClient(path=str(tmp_path / "chroma")),
    )


# --- task types and titles on the wire ------------------------------------------------------


def test_gemini_embedding_2_conditions_documents_and_queries_by_text_prefix(
    emu: Emulator,
) -> None:
    e = GeminiEmbeddings(**gemini_params(emu.base_url))
    e.embed_documents(["bikes are fast", "cats sleep"], titles=["Bikes", None])
    e.embed_query("which is fast?")
    entries = gemini_requests(emu)
    assert [texts_of(x) for x in entries] == [
        ["title: Bikes | text: bikes are fast"],
        ["title: none | text: cats sleep"],
        ["task: search result | query: which is fast?"],
    ]
    # gemini-embedding-2 reads the task from the prefix: no taskType field is sent.
    assert all(field(x, "taskType") is None for x in entries)
    assert {field(x, "outputDimensionality") for x in entries} == {256}


def test_gemini_embedding_001_sends_task_type_and_titles(emu: Emulator) -> None:
    e = GeminiEmbeddings(**gemini_params(emu.base_url, model="gemini-embedding-001"))
    vectors = e.embed_documents(["alpha", "beta", "gamma"], titles=["A", None, "A"])
    assert len(vectors) == 3 and all(len(v) == 256 for v in vectors)
    e.embed_query("alpha?")
    sent = {texts_of(x)[0]: (field(x, "taskType"), field(x, "title")) for x in gemini_requests(emu)}
    assert sent == {
        "alpha": ("RETRIEVAL_DOCUMENT", "A"),
        "beta": ("RETRIEVAL_DOCUMENT", None),
        "gamma": ("RETRIEVAL_DOCUMENT", "A"),
        "alpha?": ("RETRIEVAL_QUERY", None),
    }


def test_task_type_overrides_reach_the_wire(emu: Emulator) -> None:
    e = GeminiEmbeddings(
        **gemini_params(emu.base_url, model="gemini-embedding-001"),
        task_type="clustering",
        query_task_type="QUESTION_ANSWERING",
    )
    e.embed_documents(["one"])
    e.embed_query("two?")
    assert [field(x, "taskType") for x in gemini_requests(emu)] == [
        "CLUSTERING",
        "QUESTION_ANSWERING",
    ]
    emu.clear_requests()
    g2 = GeminiEmbeddings(**gemini_params(emu.base_url), query_task_type="FACT_VERIFICATION")
    g2.embed_query("the sky is green")
    assert texts_of(gemini_requests(emu)[0]) == ["task: fact checking | query: the sky is green"]


def test_an_unknown_task_type_is_rejected_at_construction() -> None:
    with pytest.raises(InvalidParameterError, match="unknown task 'SEARCH'"):
        GeminiEmbeddings(api_key="k", task_type="SEARCH")


def test_vertex_and_dashscope_send_no_task_fields(emu: Emulator) -> None:
    VertexMultiModalEmbeddings(**vertex_params(emu.base_url)).embed_documents(["doc"], titles=["T"])
    VertexMultiModalEmbeddings(**vertex_params(emu.base_url)).embed_query("query")
    instances = [r.json["instances"][0] for r in emu.requests if r.route == "predict"]
    assert instances == [{"text": "doc"}, {"text": "query"}]
    emu.clear_requests()
    ds = DashScopeMultiModalEmbeddings(**dashscope_params(emu.base_url))
    ds.embed_documents(["doc a", "doc b"])
    ds.embed_query("query")
    bodies = [r.json for r in emu.requests if r.route == "multimodalEmbedding"]
    assert [b["input"]["contents"] for b in bodies] == [
        [{"text": "doc a"}, {"text": "doc b"}],  # one request for the whole list
        [{"text": "query"}],
    ]
    assert all("task" not in str(b["parameters"]).lower() for b in bodies)


def test_titles_must_match_the_texts() -> None:
    e = GeminiEmbeddings(api_key="k", base_url="http://127.0.0.1:9")
    with pytest.raises(InputError, match="titles has 1 entries for 2 inputs"):
        e.embed_documents(["a", "b"], titles=["only one"])


def test_the_whole_list_goes_to_the_provider_in_one_call(emu: Emulator) -> None:
    e = GeminiEmbeddings(**gemini_params(emu.base_url))
    vectors = e.embed_documents([f"text {i}" for i in range(150)])
    assert len(vectors) == 150
    # The runtime splits at the Gemini API's 100-per-request limit.
    calls = [r for r in emu.requests if r.route == "batchEmbedContents"]
    assert sorted(len(r.json["requests"]) for r in calls) == [50, 100]
    assert e.client.last_stats.requests == 2
    assert e.embed_documents([]) == []


def test_a_ready_built_provider_embedder_is_used_as_is(emu: Emulator) -> None:
    provider = VertexMultiModalEmbedder(
        project="other", access_token="t", base_url=emu.base_url, dimension=128
    )
    e = VertexMultiModalEmbeddings(embedder=provider)
    assert e.client is provider
    assert len(e.embed_query("hello")) == 128
    assert "/projects/other/" in emu.requests[0].path


def test_cache_makes_a_second_run_free(emu: Emulator, tmp_path: Path) -> None:
    e = GeminiEmbeddings(**gemini_params(emu.base_url), cache=tmp_path / "cache.sqlite")
    first = e.embed_documents(["same", "texts"])
    again = GeminiEmbeddings(**gemini_params(emu.base_url), cache=tmp_path / "cache.sqlite")
    assert again.embed_documents(["same", "texts"]) == first
    assert len(emu.requests) == 1


# --- images --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gemini", "vertex", "dashscope"])
def test_chroma_add_images_and_search_by_image(
    kind: str, emu: Emulator, images: dict[str, Path], tmp_path: Path
) -> None:
    store = chroma(build(kind, emu), tmp_path)
    names = list(images)
    ids = store.add_images(
        uris=[str(images[n]) for n in names], metadatas=[{"color": n} for n in names]
    )
    assert len(ids) == 3
    media_requests = len(emu.requests)
    assert media_requests >= 1
    query = tmp_path / "query.png"
    query.write_bytes(make.png((235, 40, 30), stripe=(240, 240, 240)))  # a slightly other red
    for color in ("red", "blue"):
        probe = query if color == "red" else images["blue"]
        [top, *_] = store.similarity_search_by_image(uri=str(probe), k=3)
        assert top.metadata["color"] == color
    assert len(emu.requests) > media_requests  # the queries were embedded by the service


@pytest.mark.parametrize("kind", ["gemini", "vertex", "dashscope"])
def test_embed_image_takes_paths_file_and_data_uris(
    kind: str, emu: Emulator, images: dict[str, Path]
) -> None:
    e = build(kind, emu)
    red = images["red"]
    data_uri = "data:image/png;base64," + base64.b64encode(red.read_bytes()).decode()
    vectors = e.embed_image(uris=[str(red), red.as_uri(), data_uri, str(images["blue"])])
    assert len(vectors) == 4
    assert cosine(vectors[0], vectors[1]) > 0.9999
    assert cosine(vectors[0], vectors[2]) > 0.9999
    assert cosine(vectors[0], vectors[3]) < 0.99
    assert e.embed_image([]) == []


def test_embed_image_over_http_and_gs(emu: Emulator, images: dict[str, Path]) -> None:
    import http.server
    import threading

    folder = images["red"].parent

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/red.png"
        gemini = build("gemini", emu)
        [from_url] = gemini.embed_image(uris=[url])
        [from_file] = gemini.embed_image(uris=[str(images["red"])])
        assert cosine(from_url, from_file) > 0.9999
    finally:
        server.shutdown()
        server.server_close()
    emu.clear_requests()
    vertex = build("vertex", emu)
    emu.gcs_objects["gs://bucket/red.png"] = images["red"].read_bytes()
    [vector] = vertex.embed_image(uris=["gs://bucket/red.png"])
    assert len(vector) == 1408
    assert emu.requests[-1].json["instances"][0]["image"]["gcsUri"] == "gs://bucket/red.png"
    # The Gemini API cannot read gs://; the provider says so before sending anything.
    with pytest.raises(UnsupportedMediaError, match="gs:// URIs work only on Vertex AI"):
        build("gemini", emu).embed_image(uris=["gs://bucket/red.png"])


def test_embed_image_rejects_a_video(emu: Emulator, red_then_blue_video: Path) -> None:
    with pytest.raises(UnsupportedMediaError, match="not an image; use embed_video"):
        build("gemini", emu).embed_image(uris=[str(red_then_blue_video)])
    assert emu.requests == []


# --- text through a vector store ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["gemini", "vertex", "dashscope"])
def test_in_memory_vector_store_round_trip(kind: str, emu: Emulator) -> None:
    store = InMemoryVectorStore(build(kind, emu))
    store.add_texts(
        ["the red bicycle is fast", "a cat sleeps on the sofa", "stock markets fell today"],
        metadatas=[{"n": 0}, {"n": 1}, {"n": 2}],
    )
    [top] = store.similarity_search("sleeping cat sofa", k=1)
    assert top.metadata == {"n": 1}
    [top] = store.similarity_search("red bicycle", k=1)
    assert top.metadata == {"n": 0}


# --- async ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["gemini", "vertex", "dashscope"])
async def test_async_methods_do_not_block_the_loop(
    kind: str, emu: Emulator, images: dict[str, Path]
) -> None:
    e = build(kind, emu)
    sync_docs = e.embed_documents(["alpha", "beta"])  # sync works inside a running loop too
    emu.latency_ms = 150
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        docs, query, pics = await asyncio.gather(
            e.aembed_documents(["alpha", "beta"]),
            e.aembed_query("alpha"),
            e.aembed_image([str(images["red"])]),
        )
    finally:
        task.cancel()
        await e.aclose()
    assert ticks >= 5  # the loop kept running while requests waited on the emulator
    assert len(docs) == 2 and len(pics) == 1 and len(query) == len(docs[0])
    for got, expected in zip(docs, sync_docs, strict=True):
        assert got == pytest.approx(expected)


# --- secrets, serialization, configuration -------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "secret", "secret_id"),
    [
        ("gemini", GEMINI_KEY, "GEMINI_API_KEY"),
        ("vertex", VERTEX_TOKEN, "GOOGLE_ACCESS_TOKEN"),
        ("dashscope", DASHSCOPE_KEY, "DASHSCOPE_API_KEY"),
    ],
)
def test_secrets_stay_out_of_repr_str_and_dumps(
    kind: str, secret: str, secret_id: str, emu: Emulator
) -> None:
    e = build(kind, emu)
    serialized = dumps(e)
    for text in (repr(e), str(e), serialized, repr(e.client), e.model_dump_json()):
        assert secret not in text
    assert f'{{"lc": 1, "type": "secret", "id": ["{secret_id}"]}}' in serialized
    assert '"type": "constructor"' in serialized
    with pytest.raises(TypeError):  # the live client is not picklable, so neither is the key
        pickle.dumps(e)


def test_gemini_env_key_does_not_switch_vertex_to_express_mode(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "FAKE-ENV-KEY")
    e = GeminiEmbeddings(
        vertexai=True,
        project="proj",
        location="us-central1",
        access_token="vertex-token",
        base_url=emu.base_url,
    )
    e.embed_query("hello")
    [record] = emu.requests
    assert "/projects/proj/locations/us-central1/" in record.path
    assert record.headers["authorization"] == "Bearer vertex-token"


def test_missing_credentials_raise_the_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "DASHSCOPE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingCredentialsError, match="GEMINI_API_KEY"):
        GeminiEmbeddings()
    with pytest.raises(MissingCredentialsError, match="DASHSCOPE_API_KEY"):
        DashScopeMultiModalEmbeddings()


def test_dimensions_alias_and_provider_validation(emu: Emulator) -> None:
    assert len(build("dashscope", emu, dimensions=256).embed_query("x")) == 256
    assert len(build("vertex", emu, dimension=128).embed_query("x")) == 128
    with pytest.raises(InvalidParameterError, match="dimensions=100"):
        build("vertex", emu, dimensions=100)


def test_missing_extra_names_the_install_command() -> None:
    code = (
        "import sys\n"
        "sys.modules['langchain_core'] = None\n"
        "import omniembed\n"
        "try:\n"
        "    import omniembed.langchain\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "pip install 'omniembed[langchain]'" in out
    assert out.startswith("MissingDependencyError")
