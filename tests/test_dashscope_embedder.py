"""DashScopeEmbedder: the model table, local validation, wire mapping and error mapping.

Everything that sends a request runs the real dashscope SDK over HTTP against the
emulator and checks what the emulator received; the model table, construction and the
error mapping from SDK responses are checked locally.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import pickle
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from PIL import Image

from omniembed import (
    AuthenticationError,
    ConfigurationError,
    DashScopeEmbedder,
    EmptyInputError,
    InputError,
    InvalidArgumentError,
    InvalidParameterError,
    Media,
    MediaLimitError,
    MemoryCache,
    MissingCredentialsError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RetryPolicy,
    ServerError,
    ServiceConnectionError,
    ServiceTimeoutError,
    Task,
    UnsupportedMediaError,
)
from omniembed.emulator import Emulator, RequestRecord
from omniembed.providers import dashscope as ds
from omniembed.providers.dashscope_errors import error_from_exception, error_from_response
from omniembed.providers.dashscope_models import DASHSCOPE_MODELS, model_spec
from tests import media_factory as make

OFFLINE = "http://127.0.0.1:9/api/v1"  # nothing listens: construction tests stay local
EMBED_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"


def embedder(model: str = "tongyi-embedding-vision-plus", **kw: Any) -> DashScopeEmbedder:
    """An offline embedder with fast retries (for tests that send nothing)."""
    retries = kw.pop("max_retries", 2)
    kw.setdefault(
        "retry_policy", RetryPolicy(max_retries=retries, initial_delay=0.001, max_delay=0.005)
    )
    return DashScopeEmbedder(model, api_key="sk-test", base_url=OFFLINE, **kw)


def live(
    emu: Emulator, model: str = "tongyi-embedding-vision-plus", **kw: Any
) -> DashScopeEmbedder:
    """An embedder on the emulator's DashScope route, with fast retries."""
    retries = kw.pop("max_retries", 3)
    kw.setdefault(
        "retry_policy", RetryPolicy(max_retries=retries, initial_delay=0.01, max_delay=0.05)
    )
    kw.setdefault("api_key", "sk-emu")
    return DashScopeEmbedder(model, base_url=emu.base_url + "/api/v1", **kw)


def embed_calls(emu: Emulator) -> list[RequestRecord]:
    return [r for r in emu.requests if r.path == EMBED_PATH]


def contents(call: RequestRecord) -> list[dict[str, Any]]:
    return call.json["input"]["contents"]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def failure(status: int, code: str, message: str = "boom", **headers: str) -> SimpleNamespace:
    return SimpleNamespace(
        status_code=status,
        code=code,
        message=message,
        request_id="req-123",
        output=None,
        headers=headers,
    )


def data_uri_bytes(uri: str) -> bytes:
    return base64.b64decode(uri.split(",", 1)[1])


# --- the model table ---------------------------------------------------------------------


def test_model_table_has_the_documented_limits() -> None:
    plus = DASHSCOPE_MODELS["tongyi-embedding-vision-plus"]
    assert (plus.dimensions, plus.default_dimension) == ((64, 128, 256, 512, 1024, 1152), 1152)
    assert (plus.max_text_tokens, plus.max_multi_images, plus.fused) == (1024, 8, False)
    assert (plus.max_image_bytes, plus.max_video_bytes) == (3 * 2**20, 10 * 2**20)
    flash = DASHSCOPE_MODELS["tongyi-embedding-vision-flash"]
    assert (flash.dimensions, flash.default_dimension) == ((64, 128, 256, 512, 768), 768)
    qwen = DASHSCOPE_MODELS["qwen3-vl-embedding"]
    assert qwen.dimensions == (256, 512, 768, 1024, 1536, 2048, 2560)
    assert (qwen.default_dimension, qwen.max_text_tokens, qwen.fused) == (2560, 32_000, True)
    assert (qwen.max_elements, qwen.max_multi_images) == (20, 0)
    v1 = DASHSCOPE_MODELS["multimodal-embedding-v1"]
    assert (v1.dimensions, v1.default_dimension, v1.max_elements) == ((), 1024, 20)
    assert (v1.max_images_per_request, v1.max_videos_per_request) == (1, 1)


def test_snapshots_inherit_their_family_and_unknown_models_are_conservative() -> None:
    snapshot = model_spec("tongyi-embedding-vision-plus-2026-03-06")
    assert snapshot.name == "tongyi-embedding-vision-plus-2026-03-06"
    assert snapshot.dimensions == DASHSCOPE_MODELS["tongyi-embedding-vision-plus"].dimensions
    unknown = model_spec("some-future-embedding")
    assert not unknown.known and not unknown.fused and unknown.max_images_per_request == 1
    # an unknown model's dimension is left to the service
    assert embedder("some-future-embedding", dimension=333).dimension == 333


# --- construction ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "dimension"),
    [
        ("tongyi-embedding-vision-plus", 2048),
        ("tongyi-embedding-vision-plus", 100),
        ("tongyi-embedding-vision-flash", 1024),
        ("qwen3-vl-embedding", 64),
        ("qwen3-vl-embedding", "512"),
    ],
)
def test_dimension_must_be_allowed_for_the_model(model: str, dimension: Any) -> None:
    with pytest.raises(InvalidParameterError, match=rf"dimension={dimension!r}.*use one of"):
        embedder(model, dimension=dimension)


def test_fixed_size_model_takes_no_dimension() -> None:
    with pytest.raises(InvalidParameterError, match=r"fixed 1024-dimension.*drop it"):
        embedder("multimodal-embedding-v1", dimension=1024)
    assert embedder("multimodal-embedding-v1").output_dimension == 1024


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fps": 1.5}, r"fps=1\.5 is out of range.*\[0, 1\]"),
        ({"fps": -0.1}, "out of range"),
        ({"output_type": "sparse"}, "'dense' vectors only"),
        ({"instruct": "  "}, "instruct= must be a non-empty string"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        embedder(**kwargs)


def test_region_and_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    intl = DashScopeEmbedder(api_key="k")
    assert intl.base_url == "https://dashscope-intl.aliyuncs.com/api/v1"
    assert DashScopeEmbedder(api_key="k", region="cn").base_url == (
        "https://dashscope.aliyuncs.com/api/v1"
    )
    assert DashScopeEmbedder(api_key="k", base_url=OFFLINE + "/").base_url == OFFLINE
    with pytest.raises(ConfigurationError, match="region='us' is unknown"):
        DashScopeEmbedder(api_key="k", region="us")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="not an http"):
        DashScopeEmbedder(api_key="k", base_url="dashscope.aliyuncs.com")


def test_a_host_root_base_url_gets_the_api_path(emu: Emulator) -> None:
    # An emulator's or a proxy's root, as the CLI's --base-url takes it: /api/v1 is added.
    embedder = DashScopeEmbedder(api_key="k", base_url=emu.base_url)
    assert embedder.base_url == emu.base_url.rstrip("/") + "/api/v1"
    assert len(embedder.embed(["the ferry leaves at nine"])[0].vector) > 0
    assert [r.status for r in emu.requests] == [200]


def test_api_key_from_environment_or_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with pytest.raises(MissingCredentialsError, match="DASHSCOPE_API_KEY"):
        DashScopeEmbedder(base_url=OFFLINE)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env")
    assert DashScopeEmbedder(base_url=OFFLINE)._secret.get_secret_value() == "sk-from-env"


def test_the_key_never_shows_in_repr_or_pickles() -> None:
    e = DashScopeEmbedder(api_key="sk-SECRET-1", base_url=OFFLINE)
    assert "SECRET" not in repr(e) and "SECRET" not in str(e._secret)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(e)


# --- input mapping ---------------------------------------------------------------------


def test_text_image_and_multi_images_map_to_content_objects(emu: Emulator) -> None:
    png, jpeg = make.png(), make.jpeg()
    inputs: list[Any] = [
        "hello world",
        Media.from_bytes(png),
        [Media.from_bytes(png), Media.from_bytes(jpeg)],
        Media.from_uri("https://example.com/cat.jpg"),
    ]
    e = live(emu, dimension=64)
    results = e.embed(inputs)
    [call] = embed_calls(emu)  # one request for all four inputs
    text, image, multi, remote = contents(call)
    assert text == {"text": "hello world"}
    assert image["image"].startswith("data:image/png;base64,")
    assert data_uri_bytes(image["image"]) == png
    assert [u.split(";")[0] for u in multi["multi_images"]] == [
        "data:image/png",
        "data:image/jpeg",
    ]
    assert data_uri_bytes(multi["multi_images"][1]) == jpeg
    assert remote == {"image": "https://example.com/cat.jpg"}
    assert call.json["model"] == "tongyi-embedding-vision-plus"
    assert call.json["parameters"] == {"dimension": 64, "output_type": "dense"}
    assert call.headers["authorization"] == "Bearer sk-emu"
    assert [r.embeddings[0].modality for r in results] == [
        "text",
        "image",
        "multi_images",
        "image",
    ]
    assert all(len(r.vector) == 64 for r in results)
    # mapped back by index: the same inputs in reverse order give the same vectors reversed
    backwards = e.embed(inputs[::-1])
    assert [r.vector for r in backwards] == [r.vector for r in results[::-1]]
    assert len({tuple(r.vector) for r in results}) == 4


def test_default_dimension_is_not_sent_and_options_are(emu: Emulator) -> None:
    text = "find the red product"
    plain = live(emu).embed([text])[0].vector
    tuned = live(emu, fps=0.5, instruct="Find the product photo").embed([text])[0].vector
    first, second = (call.json["parameters"] for call in embed_calls(emu))
    assert first == {"output_type": "dense"}  # no dimension: the model's default
    assert "dimension" not in second
    assert (second["fps"], second["instruct"]) == (0.5, "Find the product photo")
    assert len(plain) == len(tuned) == 1152
    assert tuned != plain  # the service conditioned the vector on the instruction


def test_webp_is_reencoded_for_models_without_it(emu: Emulator) -> None:
    [result] = live(emu).embed([Media.from_bytes(make.image(fmt="WEBP"))])
    [call] = embed_calls(emu)
    [content] = contents(call)
    assert content["image"].startswith("data:image/png;base64,")
    assert data_uri_bytes(content["image"]).startswith(b"\x89PNG")
    assert call.status == 200 and result.embeddings[0].modality == "image"


def test_oversized_image_is_downscaled_under_the_limit(emu: Emulator) -> None:
    limit = DASHSCOPE_MODELS["tongyi-embedding-vision-plus"].max_image_bytes  # 3 MiB
    side = 1100
    noise = random.Random(7).randbytes(side * side * 3)  # incompressible: PNG stays big
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), noise).save(buffer, "PNG")
    big = buffer.getvalue()
    assert len(big) > limit
    [result] = live(emu).embed([Media.from_bytes(big)])
    [call] = embed_calls(emu)
    [content] = contents(call)
    assert content["image"].startswith("data:image/jpeg;base64,")
    sent = data_uri_bytes(content["image"])
    assert len(sent) <= limit and call.body_size < len(big)
    assert call.status == 200 and result.ok  # the service's own size check let it through


def test_tasks_are_ignored_and_not_part_of_the_request(emu: Emulator) -> None:
    e = live(emu)
    doc = e.embed(["same text"], task=Task.RETRIEVAL_DOCUMENT)[0].vector
    query = e.embed_query("same text")
    assert doc == query
    first, second = embed_calls(emu)
    assert first.json == second.json
    assert contents(first) == [{"text": "same text"}]


def test_multimodal_embedding_v1_sends_media_one_per_request(emu: Emulator) -> None:
    inputs: list[Any] = [
        "a",
        Media.from_bytes(make.png()),
        "b",
        Media.from_bytes(make.jpeg()),
        Media.from_uri("https://videos.example.com/v.mp4"),
        "c",
    ]
    results = live(emu, "multimodal-embedding-v1", max_concurrency=1).embed(inputs)
    calls = embed_calls(emu)
    # the service takes at most one image and one video per request: all four were accepted
    assert [call.status for call in calls] == [200] * 4
    shapes = sorted(sorted(k for c in contents(call) for k in c) for call in calls)
    assert shapes == [["image"], ["image"], ["text", "text", "text"], ["video"]]
    assert [r.embeddings[0].modality for r in results] == [
        "text",
        "image",
        "text",
        "image",
        "video",
        "text",
    ]


def test_duplicates_and_cache_make_no_second_request(emu: Emulator) -> None:
    e = live(emu, cache=MemoryCache())
    first = e.embed(["x", "x", "y"])
    [call] = embed_calls(emu)
    assert contents(call) == [{"text": "x"}, {"text": "y"}]  # the duplicate is sent once
    assert first[0].vector == first[1].vector != first[2].vector
    again = e.embed(["x", "y"])
    assert len(embed_calls(emu)) == 1 and all(r.cached for r in again)
    assert [r.vector for r in again] == [first[0].vector, first[2].vector]
    live(emu, cache=e.cache, dimension=64).embed(["x"])  # other parameters: a new key
    assert len(embed_calls(emu)) == 2


def test_a_local_video_is_cached_like_any_file(
    emu: Emulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The upload gives the file a second name; that must not look like a change to it
    # (a hard link changes the file's ctime, and the vector was then never cached).
    path = tmp_path / "clip.mp4"
    path.write_bytes(make.video(2))
    embedder = live(emu, cache=MemoryCache())
    first = embedder.embed([Media.from_path(path)])
    assert "changed while it was being embedded" not in caplog.text
    emu.clear_requests()
    again = embedder.embed([Media.from_path(path)])
    assert emu.requests == []
    assert again[0].vector == first[0].vector


def test_local_video_is_uploaded_to_the_configured_base_url(emu: Emulator, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "clip.mp4", tmp_path / "b" / "clip.mp4"
    first.write_bytes(make.video(1))
    second.write_bytes(make.video(2))
    third = make.video(3)
    clips = [Media.from_path(first), Media.from_path(second), Media.from_bytes(third)]
    results = live(emu).embed(clips)
    # one upload policy for the request, from the configured base URL; one upload per video
    assert [r.route for r in emu.requests] == [
        "getPolicy",
        "ossUpload",
        "ossUpload",
        "ossUpload",
        "multimodalEmbedding",
    ]
    assert emu.requests[0].path == "/api/v1/uploads"
    [call] = embed_calls(emu)
    assert call.headers["x-dashscope-ossresourceresolve"] == "enable"
    urls = [c["video"] for c in contents(call)]
    assert len(set(urls)) == 3  # same file name, different content: distinct objects
    assert all(u.startswith("oss://") and u.endswith(".mp4") for u in urls)
    assert "/clip-" in urls[0] and "/clip-" in urls[1] and "/video-" in urls[2]
    sizes = [emu.uploads[u.removeprefix("oss://")] for u in urls]
    assert sizes == [len(first.read_bytes()), len(second.read_bytes()), len(third)]
    assert all(r.embeddings[0].modality == "video" for r in results)
    assert len({tuple(r.vector) for r in results}) == 3
    # a text that merely looks like an oss:// URL asks for no resolution
    emu.clear_requests()
    live(emu).embed(["oss://looks/like/a/url"])
    [plain] = emu.requests
    assert "x-dashscope-ossresourceresolve" not in plain.headers


def test_text_naming_a_local_file_is_never_uploaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The SDK's own preprocessing would upload a text that names an existing file.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("private")
    assert not ds._MultiModalEmbedding._preprocess_message_inputs("m", [{"text": "notes.txt"}], "k")


# --- local checks: errors before any request -------------------------------------------


@pytest.mark.parametrize(
    ("model", "make_input", "error", "match"),
    [
        (
            "tongyi-embedding-vision-plus",
            lambda: ["a caption", Media.from_bytes(make.png())],
            InvalidParameterError,
            "independently.*cannot mix text and image.*qwen3-vl-embedding",
        ),
        (
            "tongyi-embedding-vision-plus",
            lambda: [Media.from_bytes(make.png()) for _ in range(9)],
            MediaLimitError,
            "9 images.*at most 8",
        ),
        (
            "qwen3-vl-embedding",
            lambda: [Media.from_bytes(make.png()), Media.from_bytes(make.png())],
            MediaLimitError,
            "2 images.*one image per fused input.*multi_images",
        ),
        (
            "multimodal-embedding-v1",
            lambda: [Media.from_bytes(make.png()), Media.from_bytes(make.png())],
            MediaLimitError,
            "one image per input",
        ),
        (
            "qwen3-vl-embedding",
            lambda: [Media.from_uri("https://x/a.mp4"), Media.from_uri("https://x/b.mp4")],
            MediaLimitError,
            "2 videos",
        ),
        (
            "tongyi-embedding-vision-plus",
            lambda: "word " * 8000,
            MediaLimitError,
            "at most 1024 tokens",
        ),
        (
            "tongyi-embedding-vision-plus",
            lambda: Media.from_bytes(make.wav()),
            UnsupportedMediaError,
            "not audio/wav",
        ),
        (
            "tongyi-embedding-vision-plus",
            lambda: Media.from_bytes(make.pdf(["p"])),
            UnsupportedMediaError,
            "application/pdf",
        ),
        (
            "tongyi-embedding-vision-plus",
            lambda: Media.from_uri("gs://bucket/cat.png"),
            UnsupportedMediaError,
            "gs:// images",
        ),
        (
            "tongyi-embedding-vision-plus",
            lambda: Media.from_uri("gs://bucket/clip.mp4"),
            UnsupportedMediaError,
            "gs:// videos",
        ),
        (
            "qwen3-vl-embedding",
            lambda: Media.from_bytes(make.video(1, container="matroska"), "video/x-matroska"),
            UnsupportedMediaError,
            "does not take video/x-matroska",
        ),
        ("tongyi-embedding-vision-plus", lambda: "  ", EmptyInputError, "nothing to embed"),
        ("tongyi-embedding-vision-plus", lambda: 3.5, InputError, "cannot embed a float"),
    ],
    ids=[
        "mixed-on-independent-model",
        "too-many-multi-images",
        "qwen-two-images",
        "v1-two-images",
        "two-videos",
        "text-too-long",
        "audio",
        "pdf",
        "gs-image",
        "gs-video",
        "video-format",
        "blank",
        "wrong-type",
    ],
)
def test_bad_input_is_rejected_before_any_request(
    emu: Emulator, model: str, make_input: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as raised:
        live(emu, model).embed(["fine text", make_input()])
    assert "input 1" in str(raised.value)
    assert emu.requests == []


def test_oversized_local_video_and_upload_disabled(emu: Emulator) -> None:
    clip = make.video(1)
    with pytest.raises(UnsupportedMediaError, match=r"URL only.*allow_upload=False"):
        live(emu, allow_upload=False).embed([Media.from_bytes(clip)])
    limit = DASHSCOPE_MODELS["tongyi-embedding-vision-plus"].max_video_bytes
    oversized = Media.from_bytes(clip + bytes(limit), "video/mp4")
    with pytest.raises(MediaLimitError, match="MiB; tongyi-embedding-vision-plus takes at most"):
        live(emu).embed([oversized])
    assert emu.requests == []  # no upload policy, no upload, no request
    # a video URL is fine without uploads
    [result] = live(emu, allow_upload=False).embed([Media.from_uri("https://x.test/v.mp4")])
    [call] = emu.requests
    assert contents(call) == [{"video": "https://x.test/v.mp4"}]
    assert result.embeddings[0].modality == "video"


def test_bad_items_can_be_returned_instead_of_raised(emu: Emulator) -> None:
    results = live(emu).embed(
        ["good", ["x", Media.from_bytes(make.png())], "ok"], raise_on_error=False
    )
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, InvalidParameterError)
    [call] = embed_calls(emu)
    assert contents(call) == [{"text": "good"}, {"text": "ok"}]


# --- service errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "InvalidApiKey", AuthenticationError),
        (400, "InvalidApiKey", AuthenticationError),
        (400, "InvalidParameter", InvalidArgumentError),
        (403, "AccessDenied", PermissionDeniedError),
        (404, "ModelNotFound", NotFoundError),
        (404, "NotFound", NotFoundError),
        (429, "Throttling.RateQuota", QuotaExceededError),
        (400, "Throttling.AllocationQuota", QuotaExceededError),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
    ],
)
def test_error_responses_map_to_typed_errors(status: int, code: str, error: type) -> None:
    mapped = error_from_response(failure(status, code, "it went wrong"))
    assert type(mapped) is error
    text = str(mapped)
    assert code in text and "it went wrong" in text and "req-123" in text
    assert mapped.retryable == (error in (QuotaExceededError, ServerError))


def test_retry_after_header_and_transport_errors() -> None:
    assert error_from_response(failure(429, "Throttling", **{"Retry-After": "2"})).retry_after == 2
    assert type(error_from_exception(requests.ConnectionError("refused"))) is ServiceConnectionError
    assert type(error_from_exception(requests.ReadTimeout("slow"))) is ServiceTimeoutError
    assert type(error_from_exception(requests.ConnectTimeout("slow"))) is ServiceTimeoutError
    assert type(error_from_exception(asyncio.TimeoutError())) is ServiceTimeoutError
    import aiohttp

    assert type(error_from_exception(aiohttp.ServerDisconnectedError())) is ServiceConnectionError
    assert error_from_exception(ValueError("bug")) is None


def test_connection_errors_become_typed_and_are_retried(emu: Emulator) -> None:
    emu.inject("reset", "reset", "reset", "reset")  # the SDK resends once itself per attempt
    with pytest.raises(ServiceConnectionError) as raised:
        live(emu, max_retries=1).embed(["x"])
    assert raised.value.attempts == 2
    assert [r.status for r in embed_calls(emu)] == ["reset"] * 4
    # timeout= is the SDK's request timeout: a slow answer is a typed, retried timeout
    emu.clear_requests()
    emu.faults = {"slow_seconds": 1.0}
    emu.inject("slow", "slow")
    with pytest.raises(ServiceTimeoutError, match="timed out") as timed_out:
        live(emu, max_retries=1, timeout=0.2).embed(["x"])
    assert timed_out.value.attempts == 2
    assert len(embed_calls(emu)) == 2


# --- async and lifecycle ---------------------------------------------------------------


async def test_async_matches_sync(emu: Emulator) -> None:
    inputs: list[Any] = ["a", Media.from_bytes(make.png())]
    async with live(emu, dimension=128) as e:
        results = await e.aembed(inputs)
    assert [len(r.vector) for r in results] == [128, 128]
    with pytest.raises(ConfigurationError, match="closed"):
        e.embed(["after close"])
    sync = live(emu, dimension=128).embed(inputs)
    first, second = embed_calls(emu)
    assert first.json == second.json
    assert contents(first)[0] == {"text": "a"}
    assert [r.vector for r in results] == [r.vector for r in sync]


async def test_async_images_reach_the_wire_byte_for_byte_as_sync_sends_them(
    emu: Emulator,
) -> None:
    """Async requests hand the SDK placeholders for inline images and splice the images
    back in off the loop: the emulator gets the same body, with its length, as from the
    sync path, and the vectors agree."""
    rng = random.Random(4)
    noisy = [Image.frombytes("RGB", (96, 96), rng.randbytes(96 * 96 * 3)) for _ in range(3)]
    images = []
    for image in noisy:
        out = io.BytesIO()
        image.save(out, "PNG")
        images.append(Media.from_bytes(out.getvalue()))
    inputs: list[Any] = ["a caption", *images, [images[0], images[1]]]
    async with live(emu, "tongyi-embedding-vision-flash") as e:
        results = await e.aembed(inputs)
    with live(emu, "tongyi-embedding-vision-flash") as e:
        sync = e.embed(inputs)
    first, second = embed_calls(emu)
    assert first.json == second.json and first.body_size == second.body_size
    assert first.headers["content-length"] == str(first.body_size)  # not chunked
    uris = [c.get("image") or c.get("multi_images") for c in contents(first)[1:]]
    assert all("omniembed-blob" not in str(uri) for uri in uris)
    assert len(uris[0]) > ds._Blobs.MIN_CHARS  # these did travel as placeholders
    assert [r.vector for r in results] == [r.vector for r in sync]


def test_blobs_splice_back_what_the_sdk_would_have_written() -> None:
    blobs = ds._Blobs()
    big = "data:image/png;base64," + base64.b64encode(random.Random(2).randbytes(9000)).decode()
    small = "data:image/png;base64,AAAA"
    payload = {"input": {"contents": [{"image": big}, {"image": small, "text": "é ü"}]}}
    held = {
        "input": {
            "contents": [
                {"image": blobs.placeholder(big)},
                {"image": blobs.placeholder(small), "text": "é ü"},
            ]
        }
    }
    assert held["input"]["contents"][1]["image"] == small  # too short to hold back
    written = json.dumps(held, ensure_ascii=False).encode("utf-8")
    assert bytes(blobs.splice(written)) == json.dumps(payload, ensure_ascii=False).encode()


def test_context_manager_closes_the_session(emu: Emulator) -> None:
    with live(emu) as e:
        e.embed(["x"])
        assert e._session is not None  # the pooled session the request went through
    assert e._session is None
    with pytest.raises(ConfigurationError, match="closed"):
        e.embed(["y"])
    assert len(embed_calls(emu)) == 1


def test_unknown_embed_options_are_a_type_error(emu: Emulator) -> None:
    with pytest.raises(ConfigurationError, match="unexpected options"):
        live(emu).embed(["x"], video_segment_config=None)
    assert emu.requests == []


# --- end to end: the real dashscope SDK over HTTP against the emulator ------------------


@pytest.mark.parametrize(
    ("model", "dimension", "expected"),
    [
        ("tongyi-embedding-vision-plus", None, 1152),
        ("tongyi-embedding-vision-plus", 256, 256),
        ("tongyi-embedding-vision-flash", None, 768),
        ("tongyi-embedding-vision-flash", 64, 64),
        ("qwen3-vl-embedding", None, 2560),
        ("qwen3-vl-embedding", 1024, 1024),
        ("multimodal-embedding-v1", None, 1024),
    ],
)
def test_every_model_embeds_text_and_images(
    emu: Emulator, model: str, dimension: int | None, expected: int
) -> None:
    results = live(emu, model, dimension=dimension).embed(
        ["a red square", Media.from_bytes(make.png((220, 10, 10)))]
    )
    assert [len(r.vector) for r in results] == [expected, expected]
    assert [r.embeddings[0].modality for r in results] == ["text", "image"]
    body = embed_calls(emu)[-1].json
    assert body["model"] == model
    assert body["parameters"].get("dimension") == dimension
    assert embed_calls(emu)[0].headers["authorization"] == "Bearer sk-emu"


def test_plus_text_image_multi_images_and_video_in_one_request(emu: Emulator) -> None:
    png = make.png((10, 200, 10))
    results = live(emu).embed(
        [
            "green field",
            Media.from_bytes(png),
            [Media.from_bytes(make.png((10, 10, 200))), Media.from_bytes(make.jpeg())],
            Media.from_uri("https://videos.example.com/clip.mp4"),
        ]
    )
    [call] = embed_calls(emu)
    contents = call.json["input"]["contents"]
    assert [sorted(c) for c in contents] == [["text"], ["image"], ["multi_images"], ["video"]]
    assert data_uri_bytes(contents[1]["image"]) == png
    assert contents[3]["video"] == "https://videos.example.com/clip.mp4"
    assert all(r.ok and len(r.vector) == 1152 for r in results)
    assert results[2].embeddings[0].modality not in ("text", "image", "video")


def test_similar_inputs_score_closer(emu: Emulator) -> None:
    e = live(emu)
    red, red2, blue = e.embed(
        [
            Media.from_bytes(make.png((230, 10, 10))),
            Media.from_bytes(make.png((220, 20, 15), size=(80, 60))),
            Media.from_bytes(make.png((10, 10, 230))),
        ]
    )
    assert cosine(red.vector, red2.vector) > cosine(red.vector, blue.vector)
    cats, markets = e.embed(["cats purr and chase mice", "stock markets fell sharply"])
    query = e.embed_query("why do cats chase mice")
    assert cosine(query, cats.vector) > cosine(query, markets.vector)


def test_qwen3_vl_fuses_text_image_and_video_into_one_vector(emu: Emulator) -> None:
    e = live(emu, "qwen3-vl-embedding")
    clip = Media.from_bytes(make.video(1))
    fused, text = e.embed([["a red square", Media.from_bytes(make.png()), clip], "a red square"])
    assert fused.embeddings[0].modality == "vl" and text.embeddings[0].modality == "text"
    assert len(fused.embeddings) == 1 and len(fused.vector) == 2560
    assert fused.vector != text.vector
    # enable_fusion fuses every content of a request (2026 reference), so the fused input
    # travels alone with the flag and the plain text goes without it.
    fused_call, text_call = sorted(embed_calls(emu), key=lambda c: len(str(c.json)), reverse=True)
    [content] = contents(fused_call)
    assert sorted(content) == ["image", "text", "video"]
    assert content["video"].startswith("oss://")  # the local clip was uploaded
    assert fused_call.json["parameters"]["enable_fusion"] is True
    assert contents(text_call) == [{"text": "a red square"}]
    assert "enable_fusion" not in text_call.json["parameters"]


def test_qwen3_vl_sends_at_most_20_elements_per_request(emu: Emulator) -> None:
    results = live(emu, "qwen3-vl-embedding").embed([f"note {i}" for i in range(45)])
    assert len(results) == 45
    assert sorted(len(contents(c)) for c in embed_calls(emu)) == [5, 20, 20]


@pytest.mark.parametrize(
    ("model", "dims"),
    [
        ("tongyi-embedding-vision-plus-2026-03-06", 1152),
        ("tongyi-embedding-vision-flash-2026-03-06", 768),
    ],
)
def test_dated_tongyi_models_fuse_one_content_object_without_a_flag(
    emu: Emulator, model: str, dims: int
) -> None:
    spec = DASHSCOPE_MODELS[model]
    assert spec.fused and not spec.fusion_flag and spec.default_dimension == dims
    e = live(emu, model)
    fused, text, image = e.embed(
        [
            ["a red square", Media.from_bytes(make.png())],
            "a red square",
            Media.from_bytes(make.png()),
        ]
    )
    assert [r.embeddings[0].modality for r in (fused, text, image)] == ["vl", "text", "image"]
    assert len(fused.vector) == dims and fused.vector not in (text.vector, image.vector)
    [call] = embed_calls(emu)  # no flag, so fused and plain inputs share a request
    assert sorted(contents(call)[0]) == ["image", "text"]
    assert "enable_fusion" not in call.json["parameters"]


def test_independent_models_reject_mixed_inputs_and_say_which_model_fuses(emu: Emulator) -> None:
    for model in ("tongyi-embedding-vision-plus", "multimodal-embedding-v1"):
        with pytest.raises(InvalidParameterError, match=r"qwen3-vl-embedding.*fuses"):
            live(emu, model).embed([["caption", Media.from_bytes(make.png())]])
    assert emu.requests == []


def test_local_video_goes_through_the_sdk_upload_flow(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(make.video(2))
    result = live(emu).embed([path])[0]
    assert result.embeddings[0].modality == "video"
    routes = [(r.method, r.route) for r in emu.requests]
    assert routes == [("GET", "getPolicy"), ("POST", "ossUpload"), ("POST", "multimodalEmbedding")]
    policy, _, call = emu.requests
    assert policy.query.get("action") == "getPolicy"
    assert policy.headers["authorization"] == "Bearer sk-emu"
    assert call.headers["x-dashscope-ossresourceresolve"] == "enable"
    video = call.json["input"]["contents"][0]["video"]
    assert video.startswith("oss://") and "/clip-" in video and video.endswith(".mp4")
    # the same clip by URL-free bytes embeds to the same vector (same content)
    again = live(emu).embed([Media.from_bytes(path.read_bytes())])[0]
    assert cosine(again.vector, result.vector) == pytest.approx(1.0)


def test_plain_requests_do_not_ask_for_oss_resolution(emu: Emulator) -> None:
    live(emu).embed(["no uploads here"])
    assert "x-dashscope-ossresourceresolve" not in embed_calls(emu)[0].headers


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda emu: live(emu, allow_upload=False).embed([Media.from_bytes(make.video(1))]),
            UnsupportedMediaError,
            "allow_upload=False",
        ),
        (
            lambda emu: live(emu).embed([[Media.from_bytes(make.png()) for _ in range(9)]]),
            MediaLimitError,
            "at most 8",
        ),
        (
            lambda emu: live(emu, "qwen3-vl-embedding").embed(
                [[Media.from_bytes(make.png()), Media.from_bytes(make.jpeg())]]
            ),
            MediaLimitError,
            "one image per fused input",
        ),
        (
            lambda emu: live(emu, "tongyi-embedding-vision-flash", dimension=1152),
            InvalidParameterError,
            "dimension=1152",
        ),
        (
            lambda emu: live(emu, "multimodal-embedding-v1", dimension=512),
            InvalidParameterError,
            "fixed 1024",
        ),
        (
            lambda emu: live(emu, "multimodal-embedding-v1").embed(["word " * 5000]),
            MediaLimitError,
            "at most 512 tokens",
        ),
    ],
    ids=["upload-off", "multi-images", "qwen-images", "flash-dim", "v1-dim", "v1-text"],
)
def test_local_rules_send_nothing(emu: Emulator, build: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        build(emu)
    assert emu.requests == []


def test_batching_counts_and_order(emu: Emulator) -> None:
    texts = [f"document {i} about topic {i % 7}" for i in range(45)]
    results = live(emu, max_concurrency=1).embed(texts)
    assert [len(r.json["input"]["contents"]) for r in embed_calls(emu)] == [20, 20, 5]
    single = live(emu).embed([texts[33]])[0].vector
    assert results[33].vector == pytest.approx(single)


def test_multimodal_embedding_v1_one_image_and_one_video_per_request(emu: Emulator) -> None:
    inputs: list[Any] = [
        "a",
        Media.from_bytes(make.png()),
        "b",
        Media.from_bytes(make.jpeg()),
        "c",
    ]
    results = live(emu, "multimodal-embedding-v1", max_concurrency=1).embed(inputs)
    assert all(len(r.vector) == 1024 for r in results)
    shapes = sorted(
        sorted(k for c in r.json["input"]["contents"] for k in c) for r in embed_calls(emu)
    )
    assert shapes == [["image"], ["image"], ["text", "text", "text"]]


def test_wrong_key_is_an_authentication_error_without_the_key(emu: Emulator) -> None:
    emu.api_key = "the-right-key"
    with pytest.raises(AuthenticationError, match="InvalidApiKey") as raised:
        live(emu, api_key="sk-WRONG-42").embed(["x", "y"])
    assert "request_id" in str(raised.value)
    assert "sk-WRONG-42" not in str(raised.value) and "sk-WRONG-42" not in repr(raised.value)
    assert len(emu.requests) == 1  # no retries for a bad key
    emu.api_key = "sk-emu"
    assert len(live(emu).embed(["x"])[0].vector) == 1152


def test_unknown_model_is_not_found(emu: Emulator) -> None:
    with pytest.raises(NotFoundError, match="ModelNotFound"):
        live(emu, "no-such-embedding-model").embed(["x"])


def test_throttling_server_errors_and_resets_are_retried(emu: Emulator) -> None:
    emu.faults = {"retry_delay_s": 0.01}
    emu.inject("429", "500", "503")
    e = live(emu, max_retries=4)
    assert len(e.embed(["x"])[0].vector) == 1152
    assert e.last_stats.retries == 3
    assert [r.status for r in embed_calls(emu)] == [429, 500, 503, 200]
    emu.clear_requests()
    emu.inject("reset", "reset", "reset")
    assert len(e.embed(["y"])[0].vector) == 1152  # the SDK's own single resend included


def test_retries_give_up_with_a_typed_error(emu: Emulator) -> None:
    emu.faults = {"retry_delay_s": 0.01}
    emu.inject("500", "503", "500")
    with pytest.raises(ServerError) as raised:
        live(emu, max_retries=2).embed(["x"])
    assert raised.value.attempts == 3
    assert "request_id" in str(raised.value) and "500" in str(raised.value)


def test_service_rejection_of_one_item_keeps_the_others(emu: Emulator) -> None:
    # ~1,500 tokens: under the local reject threshold, over the service's 1,024
    long_text = "word " * 1100
    results = live(emu).embed(["short", long_text, "also short"], raise_on_error=False)
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, InvalidArgumentError)
    assert "InvalidParameter" in str(results[1].error)


async def test_async_end_to_end_with_upload_and_close(emu: Emulator) -> None:
    emu.latency_ms = 200
    # A known quota: no slow start, so all four requests go at once.
    async with live(emu, max_concurrency=4, requests_per_minute=600) as e:
        loop = asyncio.get_running_loop()
        start = loop.time()
        results = await e.aembed([f"text {i}" for i in range(80)])  # 4 requests of 20
        assert loop.time() - start < 0.6  # concurrent: 4 x 200 ms in series would be 0.8 s
        emu.latency_ms = 0
        fused = await live(emu, "qwen3-vl-embedding").aembed(
            [["clip", Media.from_bytes(make.video(1))]]
        )
        session = e._aio_loops.get()  # this loop's session (answers decoded off the loop)
        assert not session.closed
    assert session.closed  # aclose closed it
    assert len(results) == 80 and fused[0].embeddings[0].modality == "vl"
    assert len([r for r in emu.requests if r.route == "ossUpload"]) == 1
    sync = live(emu).embed(["text 7"])[0].vector
    assert results[7].vector == pytest.approx(sync)


async def test_async_errors_are_typed(emu: Emulator) -> None:
    emu.api_key = "right"
    with pytest.raises(AuthenticationError):
        await live(emu, api_key="wrong").aembed(["x"])
    emu.api_key = None
    emu.faults = {"retry_delay_s": 0.01}
    emu.inject("429", "reset", "reset")
    e = live(emu)
    assert len((await e.aembed(["x"]))[0].vector) == 1152
    await e.aclose()


def test_debug_logs_never_contain_the_key(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    emu.api_key = "sk-LOGGED-999"
    emu.faults = {"retry_delay_s": 0.01}
    emu.inject("429", "reset")
    with caplog.at_level(logging.DEBUG):
        live(emu, api_key="sk-LOGGED-999").embed(["x", Media.from_bytes(make.video(1))])
    assert caplog.records
    assert all("sk-LOGGED-999" not in r.getMessage() for r in caplog.records)


def test_throttling_is_read_as_a_quota_and_every_input_still_arrives(emu: Emulator) -> None:
    # The emulator's per-call RPM for this model, in a time-scaled minute of 1 s.
    emu.model_quotas = {"dashscope:tongyi-embedding-vision-plus": {"rpm": 2}}
    emu.quota_window_sec = 1.0
    e = live(emu, max_retries=3, max_concurrency=1)
    results = e.embed([f"text {i}" for i in range(50)])  # 3 calls of at most 20
    assert all(r.ok for r in results)
    usage = emu.quota_usage()["dashscope:tongyi-embedding-vision-plus"]
    assert usage.embedded_inputs == 50 and usage.rejected_calls >= 1
    assert e.last_stats.rejected == usage.rejected_calls
    emu.model_quotas = {"dashscope:tongyi-embedding-vision-plus": {"rpm": 0}}
    with pytest.raises(QuotaExceededError) as raised:
        live(emu, max_retries=0, retry_policy=RetryPolicy(max_quota_retries=0)).embed(["x"])
    (violation,) = raised.value.violations
    assert violation.quota_id == "Throttling.RateQuota" and violation.measure == "requests"
