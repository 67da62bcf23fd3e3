"""Vertex AI multimodalembedding@001 :predict over raw HTTP: shapes, limits, video segments."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
import numpy as np
import pytest

from omniembed.emulator import Emulator
from tests import media_factory as media

PREFIX = "/v1/projects/p/locations/us-central1/publishers/google/models"
URL = f"{PREFIX}/multimodalembedding@001:predict"
V1BETA1_URL = URL.replace("/v1/", "/v1beta1/", 1)
RED, BLUE, GREEN = (220, 20, 20), (20, 20, 220), (20, 200, 20)


@cache
def video_59s() -> bytes:
    """59 one-second frames cycling red, blue, green (one colour per second)."""
    return media.video(59, fps=1, size=16, colors=(RED, BLUE, GREEN))


@cache
def video_130s() -> bytes:
    return media.video(130, fps=1, size=16, colors=(RED, BLUE))


def video_part(data: bytes, config: dict[str, Any] | None = None) -> dict[str, Any]:
    part: dict[str, Any] = {"bytesBase64Encoded": media.b64(data)}
    if config is not None:
        part["videoSegmentConfig"] = config
    return part


def predict(
    http: httpx.Client, instance: dict[str, Any], url: str = URL, **parameters: Any
) -> httpx.Response:
    body: dict[str, Any] = {"instances": [instance]}
    if parameters:
        body["parameters"] = parameters
    return http.post(url, json=body)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def error_of(response: httpx.Response, fragment: str = "") -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["status"] == "INVALID_ARGUMENT"
    assert fragment in error["message"]
    message: str = error["message"]
    return message


def cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def segments(payload: dict[str, Any]) -> list[tuple[int, int]]:
    return [
        (s["startOffsetSec"], s["endOffsetSec"])
        for s in payload["predictions"][0]["videoEmbeddings"]
    ]


# --- shapes -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [URL, V1BETA1_URL])
def test_text_and_image_shape(http: httpx.Client, url: str) -> None:
    instance = {"text": "a red square", "image": {"bytesBase64Encoded": media.b64(media.png())}}
    payload = ok(predict(http, instance, url))

    assert set(payload) == {"predictions", "deployedModelId"}
    [prediction] = payload["predictions"]
    assert set(prediction) == {"textEmbedding", "imageEmbedding"}
    assert len(prediction["textEmbedding"]) == 1408
    assert len(prediction["imageEmbedding"]) == 1408
    for values in prediction.values():
        assert np.linalg.norm(values) == pytest.approx(1.0, abs=1e-5)


def test_only_the_modalities_sent_are_answered(http: httpx.Client) -> None:
    assert set(ok(predict(http, {"text": "x"}))["predictions"][0]) == {"textEmbedding"}
    image = {"image": {"bytesBase64Encoded": media.b64(media.jpeg())}}
    assert set(ok(predict(http, image))["predictions"][0]) == {"imageEmbedding"}


@pytest.mark.parametrize("dimension", [128, 256, 512, 1408])
def test_dimension_is_normalized_at_every_size(http: httpx.Client, dimension: int) -> None:
    instance = {"text": "hello", "image": {"bytesBase64Encoded": media.b64(media.png())}}
    prediction = ok(predict(http, instance, dimension=dimension))["predictions"][0]

    for values in (prediction["textEmbedding"], prediction["imageEmbedding"]):
        assert len(values) == dimension
        assert np.linalg.norm(values) == pytest.approx(1.0, abs=1e-5)


def test_video_is_always_1408(http: httpx.Client) -> None:
    data = media.video(4, fps=1, size=16)
    prediction = ok(predict(http, {"video": video_part(data)}, dimension=128))["predictions"][0]

    assert {len(s["embedding"]) for s in prediction["videoEmbeddings"]} == {1408}


def test_vectors_are_deterministic_and_share_words_and_pixels(http: httpx.Client) -> None:
    def text(t: str) -> list[float]:
        values: list[float] = ok(predict(http, {"text": t}))["predictions"][0]["textEmbedding"]
        return values

    def image(color: tuple[int, int, int]) -> list[float]:
        part = {"bytesBase64Encoded": media.b64(media.png(color))}
        values: list[float] = ok(predict(http, {"image": part}))["predictions"][0]["imageEmbedding"]
        return values

    assert text("red car on a road") == text("red car on a road")
    assert cos(text("red car on a road"), text("a red car")) > cos(
        text("red car on a road"), text("quantum physics lecture")
    )
    assert cos(image(RED), image((230, 30, 30))) > cos(image(RED), image(BLUE))


def test_gcs_uri_embeds_the_uri(http: httpx.Client) -> None:
    def image(uri: str) -> list[float]:
        values: list[float] = ok(predict(http, {"image": {"gcsUri": uri}}))["predictions"][0][
            "imageEmbedding"
        ]
        return values

    assert image("gs://b/cat.png") == image("gs://b/cat.png")
    assert image("gs://b/cat.png") != image("gs://b/dog.png")
    video = {"video": {"gcsUri": "gs://b/v.mp4", "videoSegmentConfig": {"intervalSec": 40}}}
    assert segments(ok(predict(http, video))) == [(0, 40), (40, 80), (80, 120)]


def test_long_text_is_truncated_without_error(http: httpx.Client) -> None:
    words = [f"w{i}" for i in range(40)]
    long_text = ok(predict(http, {"text": " ".join(words)}))["predictions"][0]["textEmbedding"]
    first_32 = ok(predict(http, {"text": " ".join(words[:32])}))["predictions"][0]["textEmbedding"]

    assert long_text == first_32


# --- video segments -----------------------------------------------------------------------


def test_59_second_video_in_10_second_segments(http: httpx.Client) -> None:
    config = {"startOffsetSec": 0, "endOffsetSec": 60, "intervalSec": 10}
    payload = ok(predict(http, {"video": video_part(video_59s(), config)}))

    assert segments(payload) == [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 59)]
    for segment in payload["predictions"][0]["videoEmbeddings"]:
        assert isinstance(segment["startOffsetSec"], int)
        assert isinstance(segment["endOffsetSec"], int)
        assert np.linalg.norm(segment["embedding"]) == pytest.approx(1.0, abs=1e-5)


def test_default_segment_config(http: httpx.Client) -> None:
    payload = ok(predict(http, {"video": video_part(video_59s())}))

    assert segments(payload) == [(0, 16), (16, 32), (32, 48), (48, 59)]


def test_only_120_seconds_are_analysed(http: httpx.Client) -> None:
    config = {"startOffsetSec": 0, "endOffsetSec": 130, "intervalSec": 60}
    later = {"startOffsetSec": 100, "endOffsetSec": 400, "intervalSec": 15}

    assert segments(ok(predict(http, {"video": video_part(video_130s(), config)}))) == [
        (0, 60),
        (60, 120),
    ]
    assert segments(ok(predict(http, {"video": video_part(video_130s(), later)}))) == [
        (100, 115),
        (115, 130),
    ]


def test_short_video_gets_one_whole_second_segment(http: httpx.Client) -> None:
    data = media.video(0.5, fps=4, size=16)

    assert segments(ok(predict(http, {"video": video_part(data)}))) == [(0, 1)]


def test_segments_differ_with_their_frames(http: httpx.Client) -> None:
    """Each segment embeds its own frames: red-only and blue-only segments differ, and a
    red segment is close to a red image (one space for images and video)."""
    config = {"startOffsetSec": 0, "endOffsetSec": 8, "intervalSec": 4}
    data = media.video(8, fps=1, size=16, colors=(RED, RED, RED, RED, BLUE, BLUE, BLUE, BLUE))
    red_part, blue_part = ok(predict(http, {"video": video_part(data, config)}))["predictions"][0][
        "videoEmbeddings"
    ]
    red_image = ok(predict(http, {"image": {"bytesBase64Encoded": media.b64(media.png(RED))}}))[
        "predictions"
    ][0]["imageEmbedding"]

    assert cos(red_part["embedding"], blue_part["embedding"]) < 0.9
    assert cos(red_part["embedding"], red_image) > cos(blue_part["embedding"], red_image)
    assert cos(red_part["embedding"], red_image) > 0.9


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({"intervalSec": 3}, "intervalSec must be at least 4"),
        ({"startOffsetSec": -1}, "startOffsetSec must be >= 0"),
        ({"startOffsetSec": 20, "endOffsetSec": 20}, "must be greater than startOffsetSec"),
        ({"intervalSec": 4.5}, "whole number"),
        ({"startOffsetSec": 80, "endOffsetSec": 100}, "is not before the end"),
    ],
)
def test_bad_segment_config(http: httpx.Client, config: dict[str, Any], fragment: str) -> None:
    error_of(predict(http, {"video": video_part(video_59s(), config)}), fragment)


@pytest.mark.parametrize("dimension", [64, 1024, 1409, "big"])
def test_bad_dimension(http: httpx.Client, dimension: object) -> None:
    error_of(predict(http, {"text": "x"}, dimension=dimension), "dimension")


def test_exactly_one_instance(http: httpx.Client) -> None:
    two = {"instances": [{"text": "a"}, {"text": "b"}]}

    error_of(http.post(URL, json=two), "exactly 1 instance")
    error_of(http.post(URL, json={"instances": []}), "exactly 1 instance")


def test_instance_needs_a_modality(http: httpx.Client) -> None:
    error_of(predict(http, {}), "at least one of text, image or video")


def test_image_must_decode(http: httpx.Client) -> None:
    not_image = {"image": {"bytesBase64Encoded": media.b64(b"hello, not an image" * 10)}}
    truncated = {"image": {"bytesBase64Encoded": media.b64(media.png()[:60])}}

    error_of(predict(http, not_image), "cannot be decoded")
    error_of(predict(http, truncated), "cannot be decoded")


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "JPEG"])
def test_other_image_formats(http: httpx.Client, fmt: str) -> None:
    part = {"bytesBase64Encoded": media.b64(media.image_bytes(fmt=fmt))}

    assert len(ok(predict(http, {"image": part}))["predictions"][0]["imageEmbedding"]) == 1408


def test_image_over_20_mb(http: httpx.Client) -> None:
    huge = media.png() + b"\0" * (20 * 1024 * 1024)

    error_of(predict(http, {"image": {"bytesBase64Encoded": media.b64(huge)}}), "20 MB")


def test_image_needs_exactly_one_source(http: httpx.Client) -> None:
    both = {"image": {"bytesBase64Encoded": media.b64(media.png()), "gcsUri": "gs://b/x.png"}}

    error_of(predict(http, both), "exactly one of bytesBase64Encoded or gcsUri")
    error_of(predict(http, {"image": {"mimeType": "image/png"}}), "exactly one of")
    error_of(predict(http, {"image": {"gcsUri": "https://x/y.png"}}), "gs://")


def test_video_must_decode(http: httpx.Client) -> None:
    error_of(predict(http, {"video": video_part(media.png())}), "cannot be decoded")


# --- auth, quota --------------------------------------------------------------------------


def test_bearer_auth(emulator: Emulator, http: httpx.Client) -> None:
    emulator.api_key = "token"

    assert predict(http, {"text": "x"}).status_code == 401
    headers = {"Authorization": "Bearer token"}
    response = http.post(URL, json={"instances": [{"text": "x"}]}, headers=headers)
    assert response.status_code == 200


def test_quota_is_per_predict_route(emulator: Emulator, http: httpx.Client) -> None:
    emulator.quotas = {"predict": 60}

    assert predict(http, {"text": "x"}).status_code == 200
    limited = predict(http, {"text": "x"})
    assert limited.status_code == 429
    assert limited.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
