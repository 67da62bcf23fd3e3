"""VertexMultiModalEmbedder end to end: our REST client over HTTP against the emulator."""

from __future__ import annotations

import base64
import itertools
import json
import logging

import pytest

from omniembed import (
    AuthenticationError,
    InvalidParameterError,
    Media,
    MediaLimitError,
    MissingCredentialsError,
    RetryPolicy,
    UnsupportedMediaError,
    VertexMultiModalEmbedder,
    VideoSegmentConfig,
)
from omniembed.emulator import Emulator
from omniembed.providers.vertex_multimodal import billing_mode
from tests import media_factory as make

FAST = RetryPolicy(max_retries=4, initial_delay=0.01, max_delay=0.05)


def vertex(emu: Emulator, **kw: object) -> VertexMultiModalEmbedder:
    options: dict[str, object] = {"retry_policy": FAST, "requests_per_minute": None, **kw}
    return VertexMultiModalEmbedder(
        project="proj",
        location="us-central1",
        access_token="tok",
        base_url=emu.base_url,
        **options,  # type: ignore[arg-type]
    )


def instance(record: object) -> dict:
    return record.json["instances"][0]  # type: ignore[attr-defined]


def test_text_image_and_combined_instance(emu: Emulator) -> None:
    results = vertex(emu).embed(
        [
            "a red square",
            Media.from_bytes(make.png((200, 0, 0))),
            ["caption", Media.from_bytes(make.png())],
        ]
    )
    assert [[e.modality for e in r.embeddings] for r in results] == [
        ["text"],
        ["image"],
        ["text", "image"],
    ]
    assert all(len(e.vector) == 1408 for r in results for e in r.embeddings)
    assert len(emu.requests) == 3  # one instance per request
    record = emu.requests[0]
    assert record.path == (
        "/v1/projects/proj/locations/us-central1/publishers/google/models/"
        "multimodalembedding@001:predict"
    )
    assert record.headers["authorization"] == "Bearer tok"
    assert record.json["parameters"] == {"dimension": 1408}


def test_dimension_applies_to_text_and_image_not_video(emu: Emulator) -> None:
    video = Media.from_bytes(make.video(seconds=8, fps=1, size=16))
    [result] = vertex(emu, dimension=256).embed([["hello", Media.from_bytes(make.png()), video]])
    assert [len(e.vector) for e in result.embeddings[:2]] == [256, 256]
    assert {len(e.vector) for e in result.embeddings[2:]} == {1408}


def test_59_second_video_in_10_second_segments(emu: Emulator) -> None:
    video = Media.from_bytes(make.video(seconds=59, fps=1, size=16))
    [result] = vertex(emu).embed([video], video_segment_config=VideoSegmentConfig(0, 60, 10))
    spans = [(e.start_offset_sec, e.end_offset_sec) for e in result.embeddings]
    assert spans == [(0, 10), (10, 20), (20, 30), (30, 40), (40, 50), (50, 59)]
    sent = instance(emu.requests[0])["video"]["videoSegmentConfig"]
    # the client knows the local video's real length and asks for exactly that
    assert sent == {"startOffsetSec": 0, "endOffsetSec": 59, "intervalSec": 10}


def test_five_minute_local_video_is_cut_into_windows(emu: Emulator) -> None:
    data = make.video(seconds=300, fps=1, size=16)
    [result] = vertex(emu).embed([Media.from_bytes(data)])
    spans = [(e.start_offset_sec, e.end_offset_sec) for e in result.embeddings]
    assert spans[0][0] == 0 and spans[-1][1] == 300
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))  # contiguous
    assert len(emu.requests) == 3  # 0-120, 120-240, 240-300
    whole = len(base64.b64encode(data))
    sent = [len(instance(r)["video"]["bytesBase64Encoded"]) for r in emu.requests]
    assert sum(sent) < 1.3 * whole  # each window carries its own stretch, not the file
    assert max(sent) < 0.5 * whole


def test_gs_video_windows_by_offsets(emu: Emulator) -> None:
    config = VideoSegmentConfig(0, 300, 20)
    [result] = vertex(emu).embed(
        [Media.from_uri("gs://bucket/talk.mp4")], video_segment_config=config
    )
    sent = sorted(
        (
            instance(r)["video"]["videoSegmentConfig"]["startOffsetSec"],
            instance(r)["video"]["videoSegmentConfig"]["endOffsetSec"],
        )
        for r in emu.requests
    )
    assert sent == [(0, 120), (120, 240), (240, 300)]
    assert all(instance(r)["video"]["gcsUri"] == "gs://bucket/talk.mp4" for r in emu.requests)
    starts = [e.start_offset_sec for e in result.embeddings]
    assert starts == sorted(starts) and starts[0] == 0


def test_large_photo_is_downscaled_before_upload(emu: Emulator) -> None:
    photo = make.image_bytes((120, 90, 60), size=(4000, 3000), fmt="JPEG", stripe=(10, 200, 30))
    vertex(emu).embed([Media.from_bytes(photo)])
    small = base64.b64decode(instance(emu.requests[0])["image"]["bytesBase64Encoded"])
    emu.clear_requests()
    vertex(emu, downscale_images=False).embed([Media.from_bytes(photo)])
    original = base64.b64decode(instance(emu.requests[0])["image"]["bytesBase64Encoded"])
    assert original == photo
    assert len(small) * 5 < len(photo)
    import io

    from PIL import Image

    assert max(Image.open(io.BytesIO(small)).size) == 512


def test_gs_image_is_sent_by_reference(emu: Emulator) -> None:
    vertex(emu).embed([Media.from_uri("gs://bucket/cat.jpg")])
    assert instance(emu.requests[0])["image"] == {
        "gcsUri": "gs://bucket/cat.jpg",
        "mimeType": "image/jpeg",
    }


@pytest.mark.parametrize(
    ("make_input", "error", "match"),
    [
        (
            lambda: [Media.from_bytes(make.png()), Media.from_bytes(make.jpeg())],
            MediaLimitError,
            "at most one text, one image and one video",
        ),
        (lambda: Media.from_bytes(make.wav()), UnsupportedMediaError, "not audio/wav"),
        (lambda: Media.from_bytes(make.pdf(["x"])), UnsupportedMediaError, "not application/pdf"),
        (lambda: Media.from_uri("oss://bucket/a.png"), UnsupportedMediaError, "oss://"),
    ],
    ids=["two-images", "audio", "pdf", "oss"],
)
def test_bad_input_is_rejected_before_any_request(emu: Emulator, make_input, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        vertex(emu).embed(["fine", make_input()])
    assert emu.requests == []


def test_bad_parameters_before_any_request(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidParameterError, match="128, 256, 512, 1408"):
        vertex(emu, dimension=768)
    with pytest.raises(InvalidParameterError, match="minimum of 4"):
        vertex(emu).embed(
            [Media.from_bytes(make.video(seconds=4, fps=1, size=16))],
            video_segment_config=VideoSegmentConfig(interval_sec=3),
        )
    with pytest.raises(InvalidParameterError, match="past the end"):
        vertex(emu).embed(
            [Media.from_bytes(make.video(seconds=4, fps=1, size=16))],
            video_segment_config=VideoSegmentConfig(start_offset_sec=10),
        )
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    with pytest.raises(MissingCredentialsError, match="project"):
        VertexMultiModalEmbedder(access_token="t", base_url=emu.base_url)
    assert emu.requests == []


def test_billing_modes() -> None:
    assert [billing_mode(s) for s in (4, 7.9, 8, 14, 15, 120)] == [
        "Plus",
        "Plus",
        "Standard",
        "Standard",
        "Essential",
        "Essential",
    ]


def test_long_text_warns(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="omniembed.vertex"):
        vertex(emu).embed(["word " * 80])
    assert "reads the first 32" in caplog.text


def test_errors_and_retries(emu: Emulator) -> None:
    emu.api_key = "right"
    with pytest.raises(AuthenticationError):
        vertex(emu).embed(["x"])
    emu.api_key = None
    emu.clear_requests()
    emu.faults = {"retry_delay_s": 0.01}
    emu.inject("429", "503", "reset")
    assert len(vertex(emu).embed(["x"])[0].vector) == 1408
    assert [r.status for r in emu.requests][-1] == 200


def test_default_quota_is_the_model_quota(emu: Emulator) -> None:
    embedder = VertexMultiModalEmbedder(project="p", access_token="t", base_url=emu.base_url)
    assert embedder.quota.limits.requests_per_minute == 120
    assert embedder.quota.unit == "call"
    assert "multimodalembedding@001" in embedder.quota.limits.source
    explicit = VertexMultiModalEmbedder(
        project="p", access_token="t", base_url=emu.base_url, requests_per_minute=600
    )
    assert explicit.quota.limits.requests_per_minute == 600


async def test_async_matches_sync(emu: Emulator) -> None:
    inputs = [
        "text",
        Media.from_bytes(make.png()),
        Media.from_bytes(make.video(seconds=20, fps=1, size=16)),
    ]
    embedder = vertex(emu)
    sync = embedder.embed(inputs)
    asynchronous = await embedder.aembed(inputs)
    assert [[e.vector for e in r.embeddings] for r in sync] == [
        [e.vector for e in r.embeddings] for r in asynchronous
    ]


def test_the_token_never_shows(emu: Emulator) -> None:
    embedder = VertexMultiModalEmbedder(
        project="p", access_token="ya29.SECRET", base_url=emu.base_url
    )
    assert "SECRET" not in repr(embedder)
    assert "SECRET" not in json.dumps({k: repr(v) for k, v in vars(embedder).items()})


def test_gs_video_without_an_end_is_covered_to_its_real_length(emu: Emulator) -> None:
    emu.gcs_objects["gs://bucket/talk.mp4"] = make.video(seconds=300, fps=1, size=16)
    embedder = vertex(emu, storage_url=emu.base_url)
    [result] = embedder.embed([Media.from_uri("gs://bucket/talk.mp4")])
    predicts = [r for r in emu.requests if r.route == "predict"]
    windows = sorted(
        (
            instance(r)["video"]["videoSegmentConfig"]["startOffsetSec"],
            instance(r)["video"]["videoSegmentConfig"]["endOffsetSec"],
        )
        for r in predicts
    )
    assert windows == [(0, 120), (120, 240), (240, 300)]
    assert all("bytesBase64Encoded" not in instance(r)["video"] for r in predicts)
    spans = [(e.start_offset_sec, e.end_offset_sec) for e in result.embeddings]
    assert spans[0][0] == 0 and spans[-1][1] == 300
    reads = [r for r in emu.requests if r.route == "gcsObject"]
    assert reads and all(r.headers["authorization"] == "Bearer tok" for r in reads)


def test_unreadable_gs_video_is_a_typed_error(emu: Emulator) -> None:
    from omniembed import NotFoundError

    with pytest.raises(NotFoundError, match="No such object"):
        vertex(emu, storage_url=emu.base_url).embed([Media.from_uri("gs://bucket/missing.mp4")])
    assert not [r for r in emu.requests if r.route == "predict"]
