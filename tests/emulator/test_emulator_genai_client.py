"""The real google-genai SDK against the emulator: Gemini API, Vertex with credentials and
Vertex express mode (API key, no project)."""

from __future__ import annotations

import google.oauth2.credentials
import numpy as np
import pytest
from google import genai
from google.genai import errors, types

from omniembed.emulator import Emulator
from tests import media_factory as media


def gemini_client(emu: Emulator, api_key: str = "k") -> genai.Client:
    return genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=emu.base_url))


def vertex_client(emu: Emulator, token: str = "t") -> genai.Client:
    return genai.Client(
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=google.oauth2.credentials.Credentials(token=token),
        http_options=types.HttpOptions(base_url=emu.base_url),
    )


def express_client(emu: Emulator, api_key: str = "k") -> genai.Client:
    return genai.Client(
        vertexai=True, api_key=api_key, http_options=types.HttpOptions(base_url=emu.base_url)
    )


def test_gemini_api_batch_of_texts(emulator: Emulator) -> None:
    client = gemini_client(emulator)
    response = client.models.embed_content(
        model="gemini-embedding-001",
        contents=["hello world", "goodbye world"],
        config=types.EmbedContentConfig(task_type="RETRIEVAL_DOCUMENT", output_dimensionality=32),
    )

    assert response.embeddings is not None
    assert [len(e.values or []) for e in response.embeddings] == [32, 32]
    [record] = emulator.requests
    assert record.route == "batchEmbedContents"
    assert record.path == "/v1/models/gemini-embedding-001:batchEmbedContents"  # SDK default
    assert record.headers["x-goog-api-key"] == "k"
    assert record.json["requests"][0]["taskType"] == "RETRIEVAL_DOCUMENT"


def test_gemini_api_multimodal_contents(emulator: Emulator) -> None:
    client = gemini_client(emulator)
    contents = [
        types.Content(
            parts=[
                types.Part(text="a red square"),
                types.Part.from_bytes(data=media.png(), mime_type="image/png"),
                types.Part.from_bytes(data=media.video(2), mime_type="video/mp4"),
            ]
        ),
        types.Content(
            parts=[types.Part.from_bytes(data=media.pdf(["x"]), mime_type="application/pdf")]
        ),
    ]
    response = client.models.embed_content(model="gemini-embedding-2", contents=contents)

    assert response.embeddings is not None
    assert len(response.embeddings) == 2
    assert all(len(e.values or []) == 3072 for e in response.embeddings)


def test_gemini_api_strings_merge_into_one_content_for_embedding_2(emulator: Emulator) -> None:
    """google-genai merges a list of strings into ONE content for gemini-embedding-2."""
    client = gemini_client(emulator)  # keep a reference: a collected Client closes its pool
    response = client.models.embed_content(model="gemini-embedding-2", contents=["one", "two"])

    assert response.embeddings is not None
    assert len(response.embeddings) == 1


def test_gemini_api_count_tokens_and_get_model(emulator: Emulator) -> None:
    client = gemini_client(emulator)

    assert (
        client.models.count_tokens(
            model="gemini-embedding-2", contents="Hello, world!"
        ).total_tokens
        == 4
    )
    model = client.models.get(model="gemini-embedding-001")
    assert model.name == "models/gemini-embedding-001"
    assert model.input_token_limit == 2048


def test_gemini_api_errors_become_sdk_errors(emulator: Emulator) -> None:
    client = gemini_client(emulator)

    with pytest.raises(errors.ClientError) as not_found:
        client.models.embed_content(model="nonexistent-model", contents="x")
    assert not_found.value.code == 404
    assert not_found.value.status == "NOT_FOUND"
    with pytest.raises(errors.ClientError) as invalid:
        client.models.embed_content(
            model="gemini-embedding-001",
            contents="x",
            config=types.EmbedContentConfig(output_dimensionality=5000),
        )
    assert invalid.value.code == 400


def test_gemini_api_server_errors(emulator: Emulator) -> None:
    emulator.inject("503")

    client = gemini_client(emulator)
    with pytest.raises(errors.ServerError) as caught:
        client.models.embed_content(model="gemini-embedding-001", contents="x")
    assert caught.value.code == 503
    assert caught.value.status == "UNAVAILABLE"


def test_vertex_with_credentials(emulator: Emulator) -> None:
    emulator.api_key = "t"  # the bearer token must match
    client = vertex_client(emulator, token="t")

    many = client.models.embed_content(
        model="gemini-embedding-001",
        contents=["a", "b"],
        config=types.EmbedContentConfig(task_type="RETRIEVAL_QUERY", output_dimensionality=8),
    )
    one = client.models.embed_content(model="gemini-embedding-001", contents="a")
    legacy = client.models.embed_content(
        model="text-embedding-005", contents=["a", "b"], config={"auto_truncate": True}
    )

    assert many.embeddings is not None
    assert len(many.embeddings) == 2
    assert one.embeddings is not None
    assert one.embeddings[0].statistics is not None
    assert one.embeddings[0].statistics.token_count == 1
    assert legacy.embeddings is not None
    assert len(legacy.embeddings[0].values or []) == 768
    assert legacy.metadata is not None
    assert legacy.metadata.billable_character_count == 2
    routes = [(r.route, r.headers["authorization"]) for r in emulator.requests]
    assert routes == [
        ("batchEmbedContents", "Bearer t"),
        ("embedContent", "Bearer t"),
        ("predict", "Bearer t"),
    ]
    assert emulator.requests[0].path.startswith(
        "/v1beta1/projects/p/locations/us-central1/publishers/google/models/"
    )


def test_vertex_express_mode(emulator: Emulator) -> None:
    emulator.api_key = "k"
    client = express_client(emulator)
    response = client.models.embed_content(
        model="gemini-embedding-2",
        contents=[
            "task: search result | query: cats",
            types.Part.from_uri(file_uri="gs://bucket/cat.png", mime_type="image/png"),
        ],
    )

    assert response.embeddings is not None
    assert len(response.embeddings[0].values or []) == 3072
    [record] = emulator.requests
    assert record.path == "/v1beta1/publishers/google/models/gemini-embedding-2:embedContent"


def test_vertex_wrong_token_is_unauthenticated(emulator: Emulator) -> None:
    emulator.api_key = "right"

    client = vertex_client(emulator, token="wrong")
    with pytest.raises(errors.ClientError) as caught:
        client.models.embed_content(model="gemini-embedding-001", contents="x")
    assert caught.value.code == 401
    assert caught.value.status == "UNAUTHENTICATED"


async def test_async_client(emulator: Emulator) -> None:
    client = gemini_client(emulator)
    response = await client.aio.models.embed_content(
        model="gemini-embedding-001", contents=["a", "b", "c"]
    )
    await client.aio.aclose()  # its aiohttp session belongs to this loop

    assert response.embeddings is not None
    vectors = np.array([e.values for e in response.embeddings])
    assert vectors.shape == (3, 3072)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
