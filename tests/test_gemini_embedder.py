"""GeminiEmbedder end to end: the real google-genai client over HTTP against the emulator."""

from __future__ import annotations

import asyncio
import base64
import math
from pathlib import Path

import pytest
from google.oauth2.credentials import Credentials

from omniembed import (
    ConfigurationError,
    EmptyInputError,
    GeminiEmbedder,
    InputError,
    InvalidParameterError,
    Media,
    MediaLimitError,
    MediaNotFoundError,
    MissingCredentialsError,
    Task,
    UnsupportedMediaError,
)
from omniembed.emulator import Emulator, RequestRecord
from tests import media_factory as make


def gemini(emu: Emulator, model: str = "gemini-embedding-2", **kw: object) -> GeminiEmbedder:
    return GeminiEmbedder(model, api_key="test-key", base_url=emu.base_url, **kw)  # type: ignore[arg-type]


def vertex(emu: Emulator, model: str = "gemini-embedding-2", **kw: object) -> GeminiEmbedder:
    return GeminiEmbedder(
        model,
        vertexai=True,
        project="proj",
        location="us-central1",
        credentials=Credentials(token="token"),
        base_url=emu.base_url,
        **kw,  # type: ignore[arg-type]
    )


def b64(data: str) -> bytes:
    """google-genai sends inline bytes as URL-safe base64."""
    return base64.urlsafe_b64decode(data)


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def sent(emu: Emulator) -> list[dict]:
    """Every per-input request the emulator received, in order, keys in camelCase.

    google-genai writes some media fields in snake_case (``inline_data``, ``mime_type``);
    protobuf JSON accepts both spellings, so the tests compare one canonical form.
    """
    out = []
    for record in emu.requests:
        body = camel(record.json or {})
        out.extend(body.get("requests") or [body])
    return out


def camel(value: object) -> object:
    if isinstance(value, dict):
        return {_camel_key(k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _camel_key(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word.title() for word in rest)


# --- Gemini API: batching, order, task conditioning -----------------------------------------


def test_001_batches_of_100_in_order_with_task_type(emu: Emulator) -> None:
    texts = [f"document number {i} about topic {i % 7}" for i in range(250)]
    results = gemini(emu, "gemini-embedding-001", max_concurrency=1).embed(texts)
    assert [r.index for r in results] == list(range(250))
    assert [len(r.json["requests"]) for r in emu.requests] == [100, 100, 50]
    assert all(
        r.path.startswith("/v1beta/models/gemini-embedding-001:batchEmbed") for r in emu.requests
    )
    assert {q["taskType"] for q in sent(emu)} == {"RETRIEVAL_DOCUMENT"}
    assert [q["content"]["parts"][0]["text"] for q in sent(emu)] == texts
    single = gemini(emu, "gemini-embedding-001").embed([texts[123]])[0].vector
    assert results[123].vector == pytest.approx(single)
    assert len(single) == 3072
    concurrent = gemini(emu, "gemini-embedding-001", max_concurrency=3).embed(texts)
    assert [r.vector for r in concurrent] == [r.vector for r in results]


def test_001_per_item_titles_are_never_dropped(emu: Emulator) -> None:
    titles = ["Alpha", "Beta", None, "Alpha", "Gamma"]
    gemini(emu, "gemini-embedding-001").embed(
        ["one", "two", "three", "four", "five"], titles=titles
    )
    by_text = {q["content"]["parts"][0]["text"]: q.get("title") for q in sent(emu)}
    assert by_text == {
        "one": "Alpha",
        "two": "Beta",
        "three": None,
        "four": "Alpha",
        "five": "Gamma",
    }
    assert len(emu.requests) == 4  # batched per distinct title: Alpha x2, Beta, none, Gamma


def test_001_title_only_sent_with_retrieval_document(emu: Emulator) -> None:
    gemini(emu, "gemini-embedding-001").embed(["x"], task=Task.CLUSTERING, titles=["T"])
    assert sent(emu) == [
        {
            "model": "models/gemini-embedding-001",
            "content": {"parts": [{"text": "x"}]},
            "taskType": "CLUSTERING",
        }
    ]


def test_001_query_and_document_vectors_differ_by_task(emu: Emulator) -> None:
    embedder = gemini(emu, "gemini-embedding-001")
    doc = embedder.embed(["the quick brown fox"])[0].vector
    query = embedder.embed_query("the quick brown fox")
    assert doc != query
    assert cosine(doc, query) > 0.8
    assert sent(emu)[1]["taskType"] == "RETRIEVAL_QUERY"


def test_embedding_2_sends_prefixes_never_task_type_and_one_content_per_input(
    emu: Emulator,
) -> None:
    embedder = gemini(emu)
    results = embedder.embed(
        ["red apples", "green pears", "blue plums"], titles=["Fruit", None, ""]
    )
    assert len(results) == 3 and len({tuple(r.vector) for r in results}) == 3
    assert len(emu.requests) == 1
    requests = sent(emu)
    assert [q["content"]["parts"][0]["text"] for q in requests] == [
        "title: Fruit | text: red apples",
        "title: none | text: green pears",
        "title: none | text: blue plums",
    ]
    assert all("taskType" not in q and "title" not in q for q in requests)
    embedder.embed_query("apples")
    assert sent(emu)[-1]["content"]["parts"][0]["text"] == "task: search result | query: apples"


def test_similar_texts_score_higher(emu: Emulator) -> None:
    embedder = gemini(emu)
    docs = embedder.embed(["cats purr and chase mice", "stock markets fell sharply today"])
    query = embedder.embed_query("why do cats chase mice")
    assert cosine(query, docs[0].vector) > cosine(query, docs[1].vector)


@pytest.mark.parametrize("dimension", [768, 1536])
def test_truncated_vectors_are_renormalized(emu: Emulator, dimension: int) -> None:
    vector = (
        gemini(emu, "gemini-embedding-001", output_dimensionality=dimension).embed(["hi"])[0].vector
    )
    assert len(vector) == dimension
    assert math.hypot(*vector) == pytest.approx(1.0, abs=1e-9)
    assert sent(emu)[0]["outputDimensionality"] == dimension
    raw = gemini(emu, "gemini-embedding-001", output_dimensionality=dimension, normalize=False)
    raw_vector = raw.embed(["hi"])[0].vector
    assert abs(math.hypot(*raw_vector) - 1.0) > 1e-3  # what the service sent
    assert cosine(raw_vector, vector) == pytest.approx(1.0)


# --- Gemini API: multimodal inputs -----------------------------------------------------------


def test_image_and_interleaved_inputs(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "red.png"
    path.write_bytes(make.image((220, 10, 10)))
    results = gemini(emu).embed(
        [Media.from_path(path), ["a red square", Media.from_bytes(make.image(fmt="JPEG"))]]
    )
    assert [r.embeddings[0].modality for r in results] == ["image", "mixed"]
    [image_part] = sent(emu)[0]["content"]["parts"]
    assert image_part["inlineData"]["mimeType"] == "image/png"
    assert b64(image_part["inlineData"]["data"]) == path.read_bytes()
    mixed = sent(emu)[1]["content"]["parts"]
    assert mixed[0] == {"text": "title: none | text: a red square"}
    assert mixed[1]["inlineData"]["mimeType"] == "image/jpeg"


def test_paths_are_accepted_as_media(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "blue.jpg"
    path.write_bytes(make.image((0, 0, 255), fmt="JPEG"))
    assert gemini(emu).embed([path])[0].embeddings[0].modality == "image"


def test_similar_images_score_higher(emu: Emulator) -> None:
    embedder = gemini(emu)
    red, red2, blue = embedder.embed(
        [
            Media.from_bytes(make.image((230, 10, 10))),
            Media.from_bytes(make.image((220, 20, 15), size=(80, 60))),
            Media.from_bytes(make.image((10, 10, 230))),
        ]
    )
    assert cosine(red.vector, red2.vector) > cosine(red.vector, blue.vector)


def test_webp_is_reencoded_to_png(emu: Emulator) -> None:
    gemini(emu).embed([Media.from_bytes(make.image(fmt="WEBP"))])
    inline = sent(emu)[0]["content"]["parts"][0]["inlineData"]
    assert inline["mimeType"] == "image/png"
    assert b64(inline["data"]).startswith(b"\x89PNG")


def test_pdf_video_and_audio_inline(emu: Emulator) -> None:
    results = gemini(emu).embed(
        [
            Media.from_bytes(make.pdf(["page one about whales", "page two about ships"])),
            Media.from_bytes(make.video(seconds=2)),
            Media.from_bytes(make.video(seconds=1, container="mov")),
            Media.from_bytes(make.wav()),
        ]
    )
    assert [r.embeddings[0].modality for r in results] == ["document", "video", "video", "audio"]
    assert [q["content"]["parts"][0]["inlineData"]["mimeType"] for q in sent(emu)] == [
        "application/pdf",
        "video/mp4",
        "video/quicktime",
        "audio/wav",
    ]


# --- local checks: errors before any request ------------------------------------------------


@pytest.mark.parametrize(
    ("make_input", "error", "match"),
    [
        (
            lambda: Media.from_bytes(make.pdf([f"p{i}" for i in range(7)])),
            MediaLimitError,
            "7 pages.*at most 6",
        ),
        (
            lambda: Media.from_bytes(make.video(seconds=121, fps=1, size=(16, 16))),
            MediaLimitError,
            "121.0 s.*at most 120",
        ),
        (
            lambda: [Media.from_bytes(make.image()) for _ in range(7)],
            MediaLimitError,
            "7 images.*at most 6",
        ),
        (
            lambda: Media.from_bytes(make.video(seconds=1, container="avi")),
            UnsupportedMediaError,
            "MP4 or MOV",
        ),
        (
            lambda: Media.from_uri("gs://bucket/cat.png"),
            UnsupportedMediaError,
            "gs:// URIs work only on Vertex",
        ),
        (lambda: "   ", EmptyInputError, "nothing to embed"),
        (lambda: Media.from_bytes(b"\x00\x01 unknown bytes"), UnsupportedMediaError, "mime_type="),
        (lambda: 42, InputError, "cannot embed a int"),
    ],
    ids=[
        "pdf-pages",
        "video-length",
        "image-count",
        "video-format",
        "gs-on-gemini-api",
        "blank",
        "unknown-mime",
        "wrong-type",
    ],
)
def test_bad_input_is_rejected_before_any_request(emu: Emulator, make_input, error, match) -> None:  # type: ignore[no-untyped-def]
    embedder = gemini(emu)
    with pytest.raises(error, match=match) as raised:
        embedder.embed(["fine text", make_input()])
    assert "input 1" in str(raised.value)
    assert emu.requests == []


def test_text_only_model_rejects_media(emu: Emulator) -> None:
    with pytest.raises(UnsupportedMediaError, match="embeds text only"):
        gemini(emu, "gemini-embedding-001").embed([Media.from_bytes(make.image())])
    assert emu.requests == []


def test_bad_dimension_and_missing_file_and_missing_key(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(InvalidParameterError, match="output_dimensionality=4000"):
        gemini(emu, output_dimensionality=4000)
    with pytest.raises(MediaNotFoundError, match=r"missing\.png"):
        gemini(emu).embed([tmp_path / "missing.png"])
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingCredentialsError, match="GEMINI_API_KEY"):
        GeminiEmbedder(base_url=emu.base_url)
    with pytest.raises(ConfigurationError, match="only on Vertex AI"):
        GeminiEmbedder("text-embedding-005", api_key="k", base_url=emu.base_url)
    assert emu.requests == []


def test_bad_items_can_be_returned_instead_of_raised(emu: Emulator) -> None:
    results = gemini(emu).embed(["good", "", "also good"], raise_on_error=False)
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, EmptyInputError)
    assert len(sent(emu)) == 2


def test_api_key_from_environment(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "env-key")
    emu.api_key = "env-key"
    GeminiEmbedder(base_url=emu.base_url).embed(["hi"])
    assert emu.requests[0].headers["x-goog-api-key"] == "env-key"


# --- Vertex AI -----------------------------------------------------------------------------


def test_vertex_one_content_per_call_with_task_and_title(emu: Emulator) -> None:
    embedder = vertex(emu, "gemini-embedding-001", output_dimensionality=256)
    results = embedder.embed(["alpha", "beta", "gamma"], titles=["A", "B", None])
    assert [len(r.vector) for r in results] == [256, 256, 256]
    assert len(emu.requests) == 3
    prefix = "/v1beta1/projects/proj/locations/us-central1/publishers/google/models/"
    assert all(r.path.startswith(prefix + "gemini-embedding-001:") for r in emu.requests)
    assert all(r.headers["authorization"] == "Bearer token" for r in emu.requests)
    assert sorted(vertex_text_and_title(r) for r in emu.requests) == [
        ("alpha", "A", "RETRIEVAL_DOCUMENT"),
        ("beta", "B", "RETRIEVAL_DOCUMENT"),
        ("gamma", None, "RETRIEVAL_DOCUMENT"),
    ]


def vertex_text_and_title(record: RequestRecord) -> tuple[str, str | None, str]:
    """google-genai 3.x sends gemini-embedding-001 to :embedContent, 1.64-2.x to :predict."""
    body = record.json
    if record.route == "predict":
        [instance] = body["instances"]
        return instance["content"], instance.get("title"), instance["task_type"]
    assert record.route == "embedContent"
    config = body["embedContentConfig"]
    return body["content"]["parts"][0]["text"], config.get("title"), config["taskType"]


def test_vertex_gemini_embedding_2_with_gs_uri_and_prefix(emu: Emulator) -> None:
    embedder = vertex(emu)
    embedder.embed([["a photo of a cat", Media.from_uri("gs://bucket/cat.jpg")]])
    body = camel(emu.requests[0].json)
    assert body["content"]["parts"] == [
        {"text": "title: none | text: a photo of a cat"},
        {"fileData": {"fileUri": "gs://bucket/cat.jpg", "mimeType": "image/jpeg"}},
    ]
    assert "embedContentConfig" not in body or "taskType" not in body["embedContentConfig"]


def test_vertex_text_embedding_005_uses_predict(emu: Emulator) -> None:
    vector = vertex(emu, "text-embedding-005").embed_query("hello")
    assert len(vector) == 768
    assert emu.requests[0].route == "predict"
    assert emu.requests[0].json["instances"] == [
        {"content": "hello", "task_type": "RETRIEVAL_QUERY"}
    ]


def test_vertex_express_mode_api_key(emu: Emulator) -> None:
    emu.api_key = "express-key"
    GeminiEmbedder(
        "gemini-embedding-2", vertexai=True, api_key="express-key", base_url=emu.base_url
    ).embed(["hi"])
    assert (
        emu.requests[0].path == "/v1beta1/publishers/google/models/gemini-embedding-2:embedContent"
    )


def test_vertex_access_token(emu: Emulator) -> None:
    GeminiEmbedder(
        "gemini-embedding-2",
        vertexai=True,
        project="p",
        location="europe-west4",
        access_token="tok-123",
        base_url=emu.base_url,
    ).embed(["hi"])
    assert emu.requests[0].headers["authorization"] == "Bearer tok-123"
    assert "/locations/europe-west4/" in emu.requests[0].path


# --- async and event loops -------------------------------------------------------------------


async def test_async_matches_sync_and_does_not_block_the_loop(emu: Emulator) -> None:
    emu.latency_ms = 100
    embedder = vertex(emu, "gemini-embedding-001", max_concurrency=8)
    texts = [f"text {i}" for i in range(8)]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    start = loop.time()
    results = await embedder.aembed(texts)
    elapsed = loop.time() - start
    task.cancel()
    assert elapsed < 0.5  # 8 concurrent 100 ms calls, not 800 ms in series
    assert ticks >= 5  # the loop kept running while we waited
    emu.latency_ms = 0
    assert [r.vector for r in results] == [r.vector for r in embedder.embed(texts)]


async def test_sync_embed_works_inside_a_running_loop(emu: Emulator) -> None:
    # e.g. a Jupyter cell: sync code called while an event loop runs in this thread
    results = gemini(emu).embed(["inside a loop"])
    assert len(results[0].vector) == 3072


async def test_async_gemini_api_batches(emu: Emulator) -> None:
    results = await gemini(emu, "gemini-embedding-001").aembed([f"t{i}" for i in range(150)])
    assert len(results) == 150
    assert sorted(len(r.json["requests"]) for r in emu.requests) == [50, 100]


def test_the_key_never_shows_in_repr_errors_or_pickles(emu: Emulator) -> None:
    import pickle

    embedder = GeminiEmbedder(api_key="sk-SECRET-123", base_url=emu.base_url)
    assert "SECRET" not in repr(embedder)
    assert "SECRET" not in str(vars(embedder).get("_secret"))
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(embedder)
    emu.api_key = "another"
    with pytest.raises(Exception, match="API key not valid") as raised:
        embedder.embed(["x"])
    assert "SECRET" not in str(raised.value) and "SECRET" not in repr(raised.value)


def test_progress_bar_on_request(emu: Emulator, capsys: pytest.CaptureFixture[str]) -> None:
    gemini(emu, "gemini-embedding-001").embed([f"t{i}" for i in range(150)], progress=True)
    err = capsys.readouterr().err
    assert "gemini:gemini-embedding-001" in err
    assert "/150 " in err  # tqdm redraws at most every 0.1 s; the total is what we check
    gemini(emu, "gemini-embedding-001").embed(["quiet"])
    assert capsys.readouterr().err == ""


def test_debug_logs_never_contain_the_key(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    emu.api_key = "sk-LOGGED-999"
    emu.inject("429", "reset")
    emu.faults = {"retry_delay_s": 0.01}
    with caplog.at_level(logging.DEBUG):
        GeminiEmbedder(
            "gemini-embedding-001", api_key="sk-LOGGED-999", base_url=emu.base_url
        ).embed(["x"])
    assert caplog.records, "expected retry logs"
    assert all("sk-LOGGED-999" not in r.getMessage() for r in caplog.records)


def test_base_url_without_scheme_is_a_configuration_error(emu: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="not an http"):
        GeminiEmbedder(api_key="k", base_url="127.0.0.1:8765")
    assert emu.requests == []


def test_cache_entries_belong_to_their_endpoint(emu: Emulator, tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    GeminiEmbedder(api_key="k", base_url=emu.base_url, cache=cache).embed(["hello"])
    GeminiEmbedder(api_key="k", base_url=emu.base_url, cache=cache).embed(["hello"])
    assert len(emu.requests) == 1  # the same endpoint: served from the cache
    proxy = emu.base_url.replace("127.0.0.1", "localhost")
    GeminiEmbedder(api_key="k", base_url=proxy, cache=cache).embed(["hello"])
    assert len(emu.requests) == 2  # another endpoint: its own entries


def test_cache_key_follows_google_genais_base_url_variable(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache.sqlite"
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emu.base_url)
    GeminiEmbedder(api_key="k", cache=cache).embed(["hello"])  # reaches the emulator
    assert len(emu.requests) == 1
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", emu.base_url.replace("127.0.0.1", "localhost"))
    GeminiEmbedder(api_key="k", cache=cache).embed(["hello"])
    assert len(emu.requests) == 2  # another endpoint: the cached vector does not answer


# --- request size -----------------------------------------------------------------------


def test_max_request_bytes_defaults_per_model_and_backend(emu: Emulator) -> None:
    # 4 MiB: what Gemini API embedding calls answer for text batches (quarkus-langchain4j
    # #1705); 18 MiB for the multimodal model, whose inline media need the documented 20 MB.
    assert gemini(emu, "gemini-embedding-001").max_request_bytes == 4 * 2**20
    assert gemini(emu).max_request_bytes == 18 * 2**20
    assert vertex(emu, "gemini-embedding-001").max_request_bytes == 4 * 2**20
    assert gemini(emu, max_request_bytes=4 * 2**20).max_request_bytes == 4 * 2**20
    for bad in (0, 100, True, 1.5e6):
        with pytest.raises(ConfigurationError, match="max_request_bytes"):
            gemini(emu, max_request_bytes=bad)


def test_batches_stay_under_max_request_bytes(emu: Emulator) -> None:
    limit = 64 * 1024
    texts = [f"doc {i} " + "word " * 1000 for i in range(40)]  # ~5 KB each, ~200 KB in all
    results = gemini(emu, "gemini-embedding-001", max_request_bytes=limit).embed(texts)
    assert len(results) == 40
    calls = [r for r in emu.requests if r.path.endswith(":batchEmbedContents")]
    assert len(calls) >= 4
    assert sum(len(c.json["requests"]) for c in calls) == 40
    assert all(int(c.headers["content-length"]) <= limit for c in calls)


def test_non_ascii_text_is_budgeted_as_its_escaped_json(emu: Emulator) -> None:
    limit = 16 * 1024
    texts = ["猫が好き " * 400 for _ in range(6)]  # 6 KB of UTF-8, up to 12 KB escaped
    gemini(emu, "gemini-embedding-001", max_request_bytes=limit).embed(texts)
    calls = [r for r in emu.requests if r.path.endswith(":batchEmbedContents")]
    assert all(int(c.headers["content-length"]) <= limit for c in calls)


@pytest.mark.parametrize("backend", ["gemini-api", "vertex"])
def test_one_input_over_max_request_bytes_is_refused_locally(emu: Emulator, backend: str) -> None:
    big = Media.from_bytes(make.png() + b"\0" * 900_000, "image/png")
    make_embedder = gemini if backend == "gemini-api" else vertex
    e = make_embedder(emu, max_request_bytes=1024 * 1024)
    with pytest.raises(MediaLimitError) as caught:
        e.embed(["fits", big])
    message = str(caught.value)
    assert caught.value.index == 1 and "input 1" in message
    assert "max_request_bytes=" in message and "1 MiB per request" in message
    assert ("gs:// URI" if backend == "vertex" else "Files API") in message
    assert emu.requests == []


def test_emulator_answers_the_services_400_above_its_limit(emu: Emulator) -> None:
    from omniembed import InvalidArgumentError
    from omniembed.emulator.models import MAX_GEMINI_REQUEST_BYTES

    # The emulator accepts up to the Gemini API's documented 20 MB, so raising
    # max_request_bytes past it gets the service's own answer, not a silent success.
    big = Media.from_bytes(make.png() + b"\0" * (16 * 2**20), "image/png")
    e = gemini(emu, max_request_bytes=32 * 2**20, max_retries=0)
    with pytest.raises(InvalidArgumentError) as caught:
        e.embed([big])
    assert f"Request payload size exceeds the limit: {MAX_GEMINI_REQUEST_BYTES} bytes" in str(
        caught.value
    )
