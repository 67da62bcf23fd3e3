"""Vertex AI routes over raw HTTP: :predict, :embedContent, :batchEmbedContents."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
import pytest

from tests import media_factory as media

PROJECT_PREFIX = "/v1/projects/p/locations/us-central1/publishers/google/models"
EXPRESS_PREFIX = "/v1beta1/publishers/google/models"


def url(model: str, action: str, prefix: str = PROJECT_PREFIX) -> str:
    return f"{prefix}/{model}:{action}"


def error_of(response: httpx.Response, code: int) -> dict[str, Any]:
    assert response.status_code == code, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


# --- :predict -----------------------------------------------------------------------------


def test_predict_gemini_embedding_001_shape(http: httpx.Client) -> None:
    body = {"instances": [{"content": "Hello, world!", "task_type": "RETRIEVAL_QUERY"}]}
    response = http.post(url("gemini-embedding-001", "predict"), json=body)

    assert response.status_code == 200
    payload = response.json()
    assert payload["metadata"] == {"billableCharacterCount": 12}
    [prediction] = payload["predictions"]
    assert prediction["embeddings"]["statistics"] == {"token_count": 4, "truncated": False}
    assert len(prediction["embeddings"]["values"]) == 3072


def test_predict_prints_float64_digits(http: httpx.Client) -> None:
    """Vertex :predict prints float64 repr of float32 values, like the recording."""
    body = {"instances": [{"content": "hello"}]}
    raw = http.post(url("gemini-embedding-001", "predict"), json=body).text
    first = raw.split('"values":[', 1)[1].split(",", 1)[0]

    assert len(first.lstrip("-").replace("0.", "", 1)) > 12
    assert float(np.float32(float(first))) == float(first)


def test_predict_gemini_embedding_001_takes_one_instance(http: httpx.Client) -> None:
    body = {"instances": [{"content": "a"}, {"content": "b"}]}

    error = error_of(http.post(url("gemini-embedding-001", "predict"), json=body), 400)
    assert "at most 1 instance per request, got 2" in error["message"]


def test_predict_text_embedding_005_takes_250_instances(http: httpx.Client) -> None:
    ok = {"instances": [{"content": f"t{i}"} for i in range(250)]}
    too_many = {"instances": [{"content": f"t{i}"} for i in range(251)]}

    response = http.post(url("text-embedding-005", "predict"), json=ok)
    assert len(response.json()["predictions"]) == 250
    assert len(response.json()["predictions"][0]["embeddings"]["values"]) == 768
    error_of(http.post(url("text-embedding-005", "predict"), json=too_many), 400)


def test_predict_parameters(http: httpx.Client) -> None:
    body = {
        "instances": [{"content": "doc", "task_type": "RETRIEVAL_DOCUMENT", "title": "T"}],
        "parameters": {"outputDimensionality": 256, "autoTruncate": True},
    }
    response = http.post(url("text-embedding-005", "predict"), json=body)

    assert len(response.json()["predictions"][0]["embeddings"]["values"]) == 256


@pytest.mark.parametrize(
    ("instance", "parameters", "fragment"),
    [
        ({"content": "x", "task_type": "NOPE"}, {}, "unsupported task type"),
        ({"content": "x", "title": "T"}, {}, "Title is only valid with"),
        ({"content": "x"}, {"outputDimensionality": 769}, "between 1 and 768"),
        ({"content": ""}, {}, "non-empty string"),
    ],
)
def test_predict_validation(
    http: httpx.Client, instance: dict[str, Any], parameters: dict[str, Any], fragment: str
) -> None:
    body = {"instances": [instance], "parameters": parameters}

    error = error_of(http.post(url("text-embedding-005", "predict"), json=body), 400)
    assert fragment in error["message"]


def test_predict_auto_truncate(http: httpx.Client) -> None:
    long_text = " ".join(f"w{i}" for i in range(2100))
    truncating = {"instances": [{"content": long_text}]}
    strict = {"instances": [{"content": long_text}], "parameters": {"autoTruncate": False}}

    stats = http.post(url("text-embedding-005", "predict"), json=truncating).json()
    assert stats["predictions"][0]["embeddings"]["statistics"] == {
        "token_count": 2048,
        "truncated": True,
    }
    error = error_of(http.post(url("text-embedding-005", "predict"), json=strict), 400)
    assert "2048 tokens" in error["message"]


def test_predict_is_not_for_gemini_embedding_2(http: httpx.Client) -> None:
    body = {"instances": [{"content": "x"}]}

    error = error_of(http.post(url("gemini-embedding-2", "predict"), json=body), 400)
    assert ":embedContent" in error["message"]


def test_unknown_vertex_model(http: httpx.Client) -> None:
    body = {"instances": [{"content": "x"}]}

    error = error_of(http.post(url("nope-model", "predict"), json=body), 404)
    assert error["message"] == (
        "Publisher Model `projects/p/locations/us-central1/publishers/google/models/nope-model` "
        "not found."
    )


# --- :embedContent ------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", [PROJECT_PREFIX, EXPRESS_PREFIX])
def test_embed_content_shape(http: httpx.Client, prefix: str) -> None:
    body = {"content": {"parts": [{"text": "task: question answering | query: Hello, world!"}]}}
    response = http.post(url("gemini-embedding-2", "embedContent", prefix), json=body)

    assert response.status_code == 200
    payload = response.json()
    assert set(payload) == {"embedding", "usageMetadata"}  # "truncated" only when true
    assert payload["usageMetadata"] == {
        "promptTokenCount": 11,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 11}],
        "totalTokenCount": 11,
    }
    assert len(payload["embedding"]["values"]) == 3072


def test_embed_content_config(http: httpx.Client) -> None:
    body = {
        "content": {"parts": [{"text": "hello"}]},
        "embedContentConfig": {"taskType": "RETRIEVAL_QUERY", "outputDimensionality": 64},
    }
    response = http.post(url("gemini-embedding-001", "embedContent"), json=body)

    assert len(response.json()["embedding"]["values"]) == 64


def test_embed_content_truncation_flag(http: httpx.Client) -> None:
    long_text = " ".join(f"w{i}" for i in range(2100))
    body = {"content": {"parts": [{"text": long_text}]}}
    strict = {**body, "embedContentConfig": {"autoTruncate": False}}

    payload = http.post(url("gemini-embedding-001", "embedContent"), json=body).json()
    assert payload["truncated"] is True
    assert payload["usageMetadata"]["promptTokenCount"] == 2048
    error_of(http.post(url("gemini-embedding-001", "embedContent"), json=strict), 400)


def test_embed_content_takes_one_content(http: httpx.Client) -> None:
    body = {"contents": [{"parts": [{"text": "a"}]}, {"parts": [{"text": "b"}]}]}

    error = error_of(http.post(url("gemini-embedding-2", "embedContent"), json=body), 400)
    assert 'Unknown name "contents"' in error["message"]


def test_gs_uri_on_vertex_embeds_the_uri(http: httpx.Client) -> None:
    def embed(uri: str) -> list[float]:
        part = {"fileData": {"mimeType": "image/png", "fileUri": uri}}
        response = http.post(
            url("gemini-embedding-2", "embedContent"), json={"content": {"parts": [part]}}
        )
        assert response.status_code == 200, response.text
        values: list[float] = response.json()["embedding"]["values"]
        return values

    assert embed("gs://bucket/cat.png") == embed("gs://bucket/cat.png")
    assert embed("gs://bucket/cat.png") != embed("gs://bucket/dog.png")


def test_vertex_inline_media(http: httpx.Client) -> None:
    body = {"content": {"parts": [media.inline(media.jpeg(), "image/jpeg"), {"text": "x"}]}}
    response = http.post(url("gemini-embedding-2", "embedContent"), json=body)

    details = response.json()["usageMetadata"]["promptTokensDetails"]
    assert {d["modality"] for d in details} == {"TEXT", "IMAGE"}


def test_text_embedding_005_has_no_embed_content(http: httpx.Client) -> None:
    body = {"content": {"parts": [{"text": "x"}]}}

    error_of(http.post(url("text-embedding-005", "embedContent"), json=body), 400)


# --- :batchEmbedContents --------------------------------------------------------------------


def test_batch_embed_contents(http: httpx.Client) -> None:
    body = {
        "requests": [
            {"content": {"parts": [{"text": t}]}, "embedContentConfig": {"taskType": "CLUSTERING"}}
            for t in ("a", "b", "c")
        ]
    }
    response = http.post(url("gemini-embedding-001", "batchEmbedContents"), json=body)

    assert [len(e["values"]) for e in response.json()["embeddings"]] == [3072] * 3


def test_batch_embed_contents_limit(http: httpx.Client) -> None:
    body = {"requests": [{"content": {"parts": [{"text": str(i)}]}} for i in range(101)]}

    error_of(http.post(url("gemini-embedding-001", "batchEmbedContents"), json=body), 400)


def test_batch_embed_contents_not_for_gemini_embedding_2(http: httpx.Client) -> None:
    body = {"requests": [{"content": {"parts": [{"text": "a"}]}}]}

    error = error_of(http.post(url("gemini-embedding-2", "batchEmbedContents"), json=body), 400)
    assert "one content per call" in error["message"]


def test_same_vector_through_predict_and_embed_content(http: httpx.Client) -> None:
    """One model, one space: the route does not change the vector (only its JSON digits)."""
    predicted = http.post(
        url("gemini-embedding-001", "predict"),
        json={"instances": [{"content": "hello", "task_type": "RETRIEVAL_QUERY"}]},
    ).json()["predictions"][0]["embeddings"]["values"]
    embedded = http.post(
        url("gemini-embedding-001", "embedContent"),
        json={
            "content": {"parts": [{"text": "hello"}]},
            "embedContentConfig": {"taskType": "RETRIEVAL_QUERY"},
        },
    ).json()["embedding"]["values"]

    assert np.allclose(np.float32(predicted), np.float32(embedded), atol=0)
    assert json.dumps(predicted) != json.dumps(embedded)
