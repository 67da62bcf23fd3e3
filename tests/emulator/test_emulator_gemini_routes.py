"""Gemini API routes over raw HTTP: shapes, limits and Google-style validation errors."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from omniembed.emulator import Emulator
from tests import media_factory as media

M1 = "gemini-embedding-001"
M2 = "gemini-embedding-2"


def batch_body(model: str, *contents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"requests": [{"model": f"models/{model}", "content": c, **extra} for c in contents]}


def text(value: str) -> dict[str, Any]:
    return {"parts": [{"text": value}]}


def post_batch(http: httpx.Client, model: str, *contents: dict[str, Any], **extra: Any) -> Any:
    return http.post(
        f"/v1beta/models/{model}:batchEmbedContents", json=batch_body(model, *contents, **extra)
    )


def error_of(response: httpx.Response, code: int) -> dict[str, Any]:
    assert response.status_code == code, response.text
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


# --- batchEmbedContents -------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1beta", "v1"])
def test_batch_embed_contents_gemini_embedding_001(http: httpx.Client, version: str) -> None:
    body = batch_body(M1, text("hello"), text("world"), taskType="RETRIEVAL_DOCUMENT")
    response = http.post(f"/{version}/models/{M1}:batchEmbedContents", json=body)

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    payload = response.json()
    assert set(payload) == {"embeddings"}  # 001 reports no usage on the Gemini API
    assert [len(e["values"]) for e in payload["embeddings"]] == [3072, 3072]


def test_batch_embed_contents_gemini_embedding_2_reports_usage(http: httpx.Client) -> None:
    response = post_batch(http, M2, text("title: none | text: hello"), text("world"))

    payload = response.json()
    assert response.status_code == 200
    usage = payload["usageMetadata"]
    assert usage["promptTokenCount"] == 8  # 7 for the prefixed text (as recorded) + 1
    assert usage["promptTokenDetails"] == [{"modality": "TEXT", "tokenCount": 8}]


def test_output_dimensionality_shortens(http: httpx.Client) -> None:
    response = post_batch(http, M1, text("hello"), outputDimensionality=768)

    assert len(response.json()["embeddings"][0]["values"]) == 768


def test_more_than_100_requests_is_rejected(http: httpx.Client) -> None:
    response = post_batch(http, M1, *[text(f"t{i}") for i in range(101)])

    error = error_of(response, 400)
    assert error["status"] == "INVALID_ARGUMENT"
    assert (
        "* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch"
        in error["message"]
    )


def test_exactly_100_requests_are_fine(http: httpx.Client) -> None:
    response = post_batch(http, M1, *[text(f"t{i}") for i in range(100)])

    assert len(response.json()["embeddings"]) == 100


def test_request_model_must_match_url_model(http: httpx.Client) -> None:
    body = batch_body(M2, text("hello"))
    response = http.post(f"/v1beta/models/{M1}:batchEmbedContents", json=body)

    error = error_of(response, 400)
    assert "requests[0].model" in error["message"]
    assert M1 in error["message"]


def test_a_top_level_model_naming_the_url_model_is_accepted(http: httpx.Client) -> None:
    # BatchEmbedContentsRequest has a ``model`` field; the Go SDK sends it in the body too.
    body = {"model": f"models/{M1}", **batch_body(M1, text("hello"))}
    response = http.post(f"/v1beta/models/{M1}:batchEmbedContents", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["embeddings"]) == 1

    body["model"] = f"models/{M2}"
    error = error_of(http.post(f"/v1beta/models/{M1}:batchEmbedContents", json=body), 400)
    assert "differs from the model in the URL" in error["message"]


def test_unknown_model_404_names_the_api_version(http: httpx.Client) -> None:
    response = http.post("/v1/models/nope:batchEmbedContents", json=batch_body("nope", text("x")))

    error = error_of(response, 404)
    assert error["status"] == "NOT_FOUND"
    assert error["message"] == (
        "models/nope is not found for API version v1, or is not supported for embedContent. "
        "Call ListModels to see the list of available models and their supported methods."
    )


def test_url_encoded_model_name(http: httpx.Client) -> None:
    response = http.post(
        "/v1beta/models/gemini%2Dembedding%2D001:batchEmbedContents",
        json=batch_body(M1, text("hi")),
    )

    assert response.status_code == 200


def test_text_embedding_005_is_not_on_the_gemini_api(http: httpx.Client) -> None:
    response = post_batch(http, "text-embedding-005", text("hi"))

    error_of(response, 404)


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"taskType": "RETRIEVAL_SOMETHING"}, "RETRIEVAL_SOMETHING"),
        ({"taskType": "RETRIEVAL_QUERY", "title": "T"}, "Title is only valid with"),
        ({"title": "T"}, "Title is only valid with"),
        ({"outputDimensionality": 0}, "between 1 and 3072"),
        ({"outputDimensionality": 3073}, "between 1 and 3072"),
        ({"outputDimensionality": "many"}, "TYPE_INT32"),
        ({"taskTyp": "RETRIEVAL_QUERY"}, 'Unknown name "taskTyp"'),
    ],
)
def test_gemini_embedding_001_parameter_validation(
    http: httpx.Client, extra: dict[str, Any], fragment: str
) -> None:
    response = post_batch(http, M1, text("hello"), **extra)

    assert fragment in error_of(response, 400)["message"]


def test_title_with_retrieval_document_is_fine(http: httpx.Client) -> None:
    response = post_batch(http, M1, text("hello"), taskType="RETRIEVAL_DOCUMENT", title="Greeting")

    assert response.status_code == 200


def test_snake_case_field_names_are_accepted(http: httpx.Client) -> None:
    body = {
        "requests": [
            {
                "model": f"models/{M1}",
                "content": text("hello"),
                "task_type": "RETRIEVAL_QUERY",
                "output_dimensionality": 16,
            }
        ]
    }
    response = http.post(f"/v1beta/models/{M1}:batchEmbedContents", json=body)

    assert len(response.json()["embeddings"][0]["values"]) == 16


def test_task_type_is_ignored_by_gemini_embedding_2(http: httpx.Client) -> None:
    plain = post_batch(http, M2, text("hello")).json()
    with_task = post_batch(http, M2, text("hello"), taskType="RETRIEVAL_QUERY").json()

    assert plain["embeddings"] == with_task["embeddings"]


def test_gemini_embedding_001_rejects_media(http: httpx.Client) -> None:
    content = {"parts": [media.inline(media.png(), "image/png")]}

    error = error_of(post_batch(http, M1, content), 400)
    assert "text only" in error["message"]


def test_empty_text_part_is_rejected(http: httpx.Client) -> None:
    error = error_of(post_batch(http, M1, text("")), 400)

    assert "required oneof field 'data'" in error["message"]


def test_invalid_json_body(http: httpx.Client) -> None:
    response = http.post(
        f"/v1beta/models/{M1}:batchEmbedContents",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )

    assert error_of(response, 400)["message"].startswith("Invalid JSON payload received.")


# --- multimodal gemini-embedding-2 --------------------------------------------------------


def test_interleaved_text_image_video_pdf_audio(http: httpx.Client) -> None:
    content = {
        "parts": [
            {"text": "a red square"},
            media.inline(media.png(), "image/png"),
            media.inline(media.jpeg((0, 0, 255)), "image/jpeg"),
            media.inline(media.video(2), "video/mp4"),
            media.inline(media.video(1, container="mov"), "video/quicktime"),
            media.inline(media.pdf(["page one"]), "application/pdf"),
            media.inline(media.wav(0.5), "audio/wav"),
        ]
    }
    response = post_batch(http, M2, content)

    assert response.status_code == 200, response.text
    details = {
        d["modality"]: d["tokenCount"]
        for d in response.json()["usageMetadata"]["promptTokenDetails"]
    }
    assert details["IMAGE"] == 2 * 258
    assert details["VIDEO"] == 3 * 263
    assert details["DOCUMENT"] == 258
    assert details["AUDIO"] == 16


def test_mp3_audio_is_accepted(http: httpx.Client) -> None:
    try:
        data = media.mp3(0.5)
    except Exception as exc:  # pragma: no cover - depends on the FFmpeg build
        pytest.skip(f"no MP3 encoder in this PyAV build: {exc}")
    response = post_batch(http, M2, {"parts": [media.inline(data, "audio/mpeg")]})

    assert response.status_code == 200, response.text


def test_seven_images_are_too_many(http: httpx.Client) -> None:
    content = {"parts": [media.inline(media.png((i, 0, 0)), "image/png") for i in range(7)]}

    error = error_of(post_batch(http, M2, content), 400)
    assert "at most 6" in error["message"]


def test_six_images_are_fine(http: httpx.Client) -> None:
    content = {"parts": [media.inline(media.png((i, 0, 0)), "image/png") for i in range(6)]}

    assert post_batch(http, M2, content).status_code == 200


def test_gif_is_not_supported(http: httpx.Client) -> None:
    error = error_of(post_batch(http, M2, {"parts": [media.inline(media.gif(), "image/gif")]}), 400)

    assert "image/gif" in error["message"]


def test_declared_mime_must_match_the_bytes(http: httpx.Client) -> None:
    content = {"parts": [media.inline(media.png(), "image/jpeg")]}

    error = error_of(post_batch(http, M2, content), 400)
    assert "declared image/jpeg but the bytes are image/png" in error["message"]


def test_bad_base64_is_rejected(http: httpx.Client) -> None:
    content = {"parts": [{"inlineData": {"mimeType": "image/png", "data": "not*base64!"}}]}

    error = error_of(post_batch(http, M2, content), 400)
    assert "Base64 decoding failed" in error["message"]


def test_url_safe_unpadded_base64_is_accepted(http: httpx.Client) -> None:
    data = media.b64(media.png()).replace("+", "-").replace("/", "_").rstrip("=")
    content = {"parts": [{"inline_data": {"mime_type": "image/png", "data": data}}]}

    assert post_batch(http, M2, content).status_code == 200


def test_video_longer_than_120_seconds_is_rejected(http: httpx.Client) -> None:
    content = {"parts": [media.inline(media.video(130, fps=1, size=16), "video/mp4")]}

    error = error_of(post_batch(http, M2, content), 400)
    assert "130.0 s" in error["message"]


def test_pdf_with_seven_pages_is_rejected(http: httpx.Client) -> None:
    content = {"parts": [media.inline(media.pdf([f"p{i}" for i in range(7)]), "application/pdf")]}

    error = error_of(post_batch(http, M2, content), 400)
    assert "7 pages" in error["message"]


def test_gs_uri_is_vertex_only(http: httpx.Client) -> None:
    content = {"parts": [{"fileData": {"mimeType": "image/png", "fileUri": "gs://b/cat.png"}}]}

    error = error_of(post_batch(http, M2, content), 400)
    assert "only on Vertex AI" in error["message"]


def test_files_api_uri_is_accepted(http: httpx.Client) -> None:
    uri = "https://generativelanguage.googleapis.com/v1beta/files/abc-123"
    content = {"parts": [{"fileData": {"mimeType": "video/mp4", "fileUri": uri}}]}

    assert post_batch(http, M2, content).status_code == 200


# --- embedContent, countTokens, models -----------------------------------------------------


def test_embed_content(http: httpx.Client) -> None:
    response = http.post(
        f"/v1beta/models/{M1}:embedContent",
        json={"content": text("hello"), "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8},
    )

    assert response.status_code == 200
    assert list(response.json()) == ["embedding"]
    assert len(response.json()["embedding"]["values"]) == 8


def test_count_tokens(http: httpx.Client) -> None:
    body = {"contents": [{"parts": [{"text": "Hello, world!"}], "role": "user"}]}
    response = http.post(f"/v1beta/models/{M2}:countTokens", json=body)

    assert response.json() == {
        "totalTokens": 4,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 4}],
    }


def test_count_tokens_unknown_model(http: httpx.Client) -> None:
    response = http.post("/v1beta/models/nope:countTokens", json={"contents": [text("x")]})

    assert "not supported for countTokens" in error_of(response, 404)["message"]


def test_get_model(http: httpx.Client) -> None:
    response = http.get(f"/v1beta/models/{M2}")

    assert response.json() == {
        "name": "models/gemini-embedding-2",
        "version": "2",
        "displayName": "Gemini Embedding 2",
        "description": response.json()["description"],
        "inputTokenLimit": 8192,
        "outputTokenLimit": 1,
        "supportedGenerationMethods": [
            "embedContent",
            "countTokens",
            "countTextTokens",
            "asyncBatchEmbedContent",
        ],
    }


def test_list_models(http: httpx.Client) -> None:
    names = [m["name"] for m in http.get("/v1beta/models").json()["models"]]

    assert "models/gemini-embedding-001" in names
    assert "models/text-embedding-005" not in names


def test_unknown_route_is_a_google_404(http: httpx.Client, emulator: Emulator) -> None:
    response = http.post("/v1beta/models/gemini-embedding-001:doMagic", json={})

    assert error_of(response, 404)["status"] == "NOT_FOUND"
    assert emulator.requests[-1].route is None
    assert emulator.requests[-1].status == 404


def test_payload_over_20_mb_is_rejected(http: httpx.Client) -> None:
    big = "word " * (21 * 1024 * 1024 // 5)
    response = post_batch(http, M1, text(big))

    assert "Request payload size exceeds the limit" in error_of(response, 400)["message"]


def test_long_text_is_silently_truncated(http: httpx.Client) -> None:
    long_text = " ".join(f"w{i}" for i in range(3000))
    first_part = " ".join(f"w{i}" for i in range(2048))

    long_vec = post_batch(http, M1, text(long_text)).json()["embeddings"][0]["values"]
    cut_vec = post_batch(http, M1, text(first_part)).json()["embeddings"][0]["values"]
    assert long_vec == cut_vec


def test_media_that_does_not_decode_is_a_400(http: httpx.Client) -> None:
    from tests import media_factory as make

    whole = make.png(size=(64, 64), stripe=(0, 0, 255))
    truncated = base64.b64encode(whole[: len(whole) * 2 // 3]).decode()
    body = {
        "requests": [
            {
                "model": "models/gemini-embedding-2",
                "content": {
                    "parts": [{"inlineData": {"mimeType": "image/png", "data": truncated}}]
                },
            }
        ]
    }
    response = http.post("/v1beta/models/gemini-embedding-2:batchEmbedContents", json=body)
    assert response.status_code == 400
    assert "Unable to process input media data" in response.json()["error"]["message"]
