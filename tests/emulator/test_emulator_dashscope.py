"""DashScope multimodal embedding: raw HTTP and the real dashscope SDK (sync and async),
including the SDK's upload flow (getPolicy -> multipart POST -> oss:// reference)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import dashscope
import httpx
import numpy as np
import pytest
from dashscope import AioMultiModalEmbedding, MultiModalEmbedding
from dashscope.api_entities.aio_session import close_shared_aio_session

from omniembed.emulator import Emulator
from tests import media_factory as media

PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
PLUS, FLASH, QWEN3, V1 = (
    "tongyi-embedding-vision-plus",
    "tongyi-embedding-vision-flash",
    "qwen3-vl-embedding",
    "multimodal-embedding-v1",
)
RED, BLUE = (220, 20, 20), (20, 20, 220)


@cache
def red_png() -> str:
    return "data:image/png;base64," + media.b64(media.png(RED))


@cache
def blue_png() -> str:
    return "data:image/png;base64," + media.b64(media.png(BLUE))


def embed(
    http: httpx.Client,
    model: str,
    contents: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
    **parameters: Any,
) -> httpx.Response:
    body: dict[str, Any] = {"model": model, "input": {"contents": contents}}
    if parameters:
        body["parameters"] = parameters
    return http.post(PATH, json=body, headers=headers)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    payload: dict[str, Any] = response.json()
    return payload


def vectors(response: httpx.Response) -> list[list[float]]:
    return [e["embedding"] for e in ok(response)["output"]["embeddings"]]


def error_of(response: httpx.Response, status: int, code: str, fragment: str = "") -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "request_id"}
    assert body["code"] == code
    assert len(body["request_id"]) == 36
    assert fragment in body["message"], body["message"]
    message: str = body["message"]
    return message


def cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- raw HTTP: shapes ---------------------------------------------------------------------


def test_independent_embeddings_shape(http: httpx.Client) -> None:
    contents = [{"text": "a red square"}, {"image": red_png()}, {"video": "https://x/v.mp4"}]
    payload = ok(embed(http, PLUS, contents))

    assert set(payload) == {"output", "usage", "request_id"}
    embeddings = payload["output"]["embeddings"]
    assert [(e["index"], e["type"]) for e in embeddings] == [
        (0, "text"),
        (1, "image"),
        (2, "video"),
    ]
    for e in embeddings:
        assert len(e["embedding"]) == 1152
        assert np.linalg.norm(e["embedding"]) == pytest.approx(1.0, abs=1e-5)
    assert payload["usage"]["input_tokens"] == 3
    assert payload["usage"]["image_tokens"] > 0


@pytest.mark.parametrize(
    ("model", "default", "allowed", "rejected"),
    [
        (PLUS, 1152, [64, 128, 256, 512, 1024], [768, 2560]),
        (FLASH, 768, [64, 128, 256, 512], [1024, 1152]),
        (QWEN3, 2560, [256, 512, 768, 1024, 1536, 2048], [64, 1152]),
    ],
)
def test_dimensions(
    http: httpx.Client, model: str, default: int, allowed: list[int], rejected: list[int]
) -> None:
    assert len(vectors(embed(http, model, [{"text": "x"}]))[0]) == default
    for dimension in allowed:
        [values] = vectors(embed(http, model, [{"text": "x"}], dimension=dimension))
        assert len(values) == dimension
        assert np.linalg.norm(values) == pytest.approx(1.0, abs=1e-5)
    for dimension in rejected:
        response = embed(http, model, [{"text": "x"}], dimension=dimension)
        error_of(response, 400, "InvalidParameter", "dimension")


def test_multimodal_embedding_v1_is_fixed_1024(http: httpx.Client) -> None:
    assert len(vectors(embed(http, V1, [{"text": "x"}]))[0]) == 1024
    error_of(embed(http, V1, [{"text": "x"}], dimension=1024), 400, "InvalidParameter", "fixed")


def test_same_input_same_vector_and_shared_words_closer(http: httpx.Client) -> None:
    def text(t: str) -> list[float]:
        return vectors(embed(http, PLUS, [{"text": t}]))[0]

    assert text("red car on a road") == text("red car on a road")
    assert cos(text("red car on a road"), text("a red car")) > cos(
        text("red car on a road"), text("quantum physics")
    )
    red, red2, blue = vectors(
        embed(http, PLUS, [{"image": red_png()}, {"image": red_png()}, {"image": blue_png()}])
    )
    assert red == red2
    assert cos(red, red2) > cos(red, blue)


def test_image_url_embeds_the_url(http: httpx.Client) -> None:
    a, a2, b = vectors(
        embed(
            http,
            PLUS,
            [
                {"image": "https://x/cat.png"},
                {"image": "https://x/cat.png"},
                {"image": "https://x/dog.png"},
            ],
        )
    )

    assert a == a2
    assert a != b


def test_multi_images(http: httpx.Client) -> None:
    payload = ok(embed(http, PLUS, [{"multi_images": [red_png(), blue_png()]}]))
    [embedding] = payload["output"]["embeddings"]

    assert embedding["type"] == "multi_images"
    error_of(
        embed(http, PLUS, [{"multi_images": [red_png()] * 9}]),
        400,
        "InvalidParameter",
        "at most 8",
    )
    error_of(
        embed(http, QWEN3, [{"multi_images": [red_png()]}]),
        400,
        "InvalidParameter",
        "multi_images",
    )


def test_qwen3_embeds_each_part_alone_without_enable_fusion(http: httpx.Client) -> None:
    # 2026 reference: independent embeddings unless enable_fusion=true, one per input.
    together = ok(embed(http, QWEN3, [{"text": "a red square", "image": red_png()}]))
    separate = ok(embed(http, QWEN3, [{"text": "a red square"}, {"image": red_png()}]))

    rows = together["output"]["embeddings"]
    assert [(r["index"], r["type"]) for r in rows] == [(0, "text"), (1, "image")]
    assert rows == separate["output"]["embeddings"]


def test_qwen3_fuses_one_content_object_in_the_legacy_reading() -> None:
    from omniembed.emulator.routes_dashscope import DashScopeCall, DashScopeService

    service = DashScopeService(qwen3_fuses_content_objects=True)
    body = {"model": QWEN3, "input": {"contents": [{"text": "a", "image": red_png()}]}}
    call = DashScopeCall("multimodalEmbedding", {}, {}, b"", body, None, "http://x")
    answer = service.handle(call)
    assert isinstance(answer.body, dict)
    [vl] = answer.body["output"]["embeddings"]
    assert (vl["index"], vl["type"]) == (0, "vl")


def test_qwen3_enable_fusion_fuses_all_contents(http: httpx.Client) -> None:
    contents = [{"text": "a red square"}, {"image": red_png()}]
    [vl] = ok(embed(http, QWEN3, contents, enable_fusion=True))["output"]["embeddings"]
    [same] = ok(
        embed(http, QWEN3, [{"text": "a red square", "image": red_png()}], enable_fusion=True)
    )["output"]["embeddings"]
    text, image = vectors(embed(http, QWEN3, contents))

    assert (vl["index"], vl["type"]) == (0, "vl")
    assert vl["embedding"] == same["embedding"]
    assert vl["embedding"] not in (text, image)
    assert cos(vl["embedding"], text) > 0.5 and cos(vl["embedding"], image) > 0.5
    error_of(embed(http, PLUS, contents, enable_fusion=True), 400, "InvalidParameter", "fusion")


@pytest.mark.parametrize(
    ("model", "dims"),
    [
        ("tongyi-embedding-vision-plus-2026-03-06", 1152),
        ("tongyi-embedding-vision-flash-2026-03-06", 768),
    ],
)
def test_dated_tongyi_models_fuse_one_content_object(
    http: httpx.Client, model: str, dims: int
) -> None:
    rows = ok(embed(http, model, [{"text": "a red square", "image": red_png()}, {"text": "a"}]))[
        "output"
    ]["embeddings"]
    assert [(r["index"], r["type"], len(r["embedding"])) for r in rows] == [
        (0, "vl", dims),
        (1, "text", dims),
    ]
    error_of(
        embed(http, model, [{"text": "a"}], enable_fusion=True),
        400,
        "InvalidParameter",
        "one content object",
    )


def test_tongyi_rejects_several_inputs_in_one_object(http: httpx.Client) -> None:
    response = embed(http, PLUS, [{"text": "x", "image": red_png()}])

    error_of(response, 400, "InvalidParameter", "own object")


def test_instruct_changes_text_vectors_only(http: httpx.Client) -> None:
    contents = [{"text": "red car"}, {"image": red_png()}]
    plain = vectors(embed(http, PLUS, contents))
    instructed = vectors(embed(http, PLUS, contents, instruct="Find images of cars"))

    assert plain[0] != instructed[0]
    assert cos(plain[0], instructed[0]) > 0.9
    assert plain[1] == instructed[1]


# --- raw HTTP: validation -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "contents", "parameters", "fragment"),
    [
        (PLUS, [{"text": "x"}], {"fps": 1.5}, "fps"),
        (PLUS, [{"text": "x"}], {"fps": -0.1}, "fps"),
        (PLUS, [{"text": "x"}], {"output_type": "sparse"}, "output_type"),
        (PLUS, [], {}, "non-empty"),
        (PLUS, [{"audio": "https://x/a.mp3"}], {}, "unsupported fields"),
        (PLUS, [{"text": ""}], {}, "must hold one of"),
        (PLUS, [{"video": "data:video/mp4;base64,AAAA"}], {}, "URL only"),
        (PLUS, [{"image": "/local/file.png"}], {}, "public http(s) URL"),
        (PLUS, [{"image": "data:image/png;base64,@@@"}], {}, "cannot be decoded"),
        (PLUS, [{"image": "data:image/gif;base64,R0lG"}], {}, "unsupported data URI"),
        (PLUS, [{"image": "data:image/png;base64," + media.b64(b"nope")}], {}, "decoded"),
        (PLUS, [{"text": "t"}] * 21, {}, "should not be larger than 20.: payload.input"),
        (QWEN3, [{"text": "t"}] * 21, {}, "should not be larger than 20.: payload.input"),
        (V1, [{"image": "https://x/a.png"}, {"image": "https://x/b.png"}], {}, "1 image"),
        (V1, [{"video": "https://x/a.mp4"}, {"video": "https://x/b.mp4"}], {}, "1 video"),
        (PLUS, [{"text": " ".join(["w"] * 1100)}], {}, "[1, 1024]"),
    ],
)
def test_invalid_parameter(
    http: httpx.Client,
    model: str,
    contents: list[dict[str, Any]],
    parameters: dict[str, Any],
    fragment: str,
) -> None:
    error_of(embed(http, model, contents, **parameters), 400, "InvalidParameter", fragment)


def test_fps_in_range_is_accepted(http: httpx.Client) -> None:
    ok(embed(http, PLUS, [{"video": "https://x/v.mp4"}], fps=0.5))


def test_long_text_auto_truncation(http: httpx.Client) -> None:
    long_text = " ".join(f"w{i}" for i in range(600))

    ok(embed(http, PLUS, [{"text": " ".join(["w"] * 1100)}], auto_truncation=True))
    # multimodal-embedding-v1 cuts at 512 tokens silently (its docs say so).
    usage = ok(embed(http, V1, [{"text": long_text}]))["usage"]
    assert usage["input_tokens"] == 512


def test_image_size_limit(http: httpx.Client) -> None:
    big = media.png() + b"\0" * (3 * 1024 * 1024)
    contents = [{"image": "data:image/png;base64," + media.b64(big)}]

    error_of(embed(http, PLUS, contents), 400, "InvalidParameter", "3 MB")
    ok(embed(http, QWEN3, contents))  # qwen3-vl-embedding takes up to 5 MB


def test_unknown_model(http: httpx.Client) -> None:
    error_of(
        embed(http, "nope-embedding", [{"text": "x"}]), 404, "ModelNotFound", "Model not exist."
    )


def test_bad_json(http: httpx.Client) -> None:
    response = http.post(PATH, content=b"{nope", headers={"Content-Type": "application/json"})

    error_of(response, 400, "InvalidParameter", "Invalid JSON")


def test_unknown_path_answers_in_dashscope_shape(http: httpx.Client) -> None:
    error_of(http.post("/api/v1/services/nope", json={}), 404, "NotFound")


# --- raw HTTP: auth, quotas, faults -------------------------------------------------------


def test_api_key(emulator: Emulator, http: httpx.Client) -> None:
    emulator.api_key = "sk-right"

    for headers in ({}, {"Authorization": "Bearer sk-wrong"}):
        response = embed(http, PLUS, [{"text": "x"}], headers=headers)
        message = error_of(response, 401, "InvalidApiKey")
        assert message == "Invalid API-key provided."
    ok(embed(http, PLUS, [{"text": "x"}], headers={"Authorization": "Bearer sk-right"}))


def test_quota_answers_rate_quota(emulator: Emulator, http: httpx.Client) -> None:
    emulator.quotas = {"multimodalEmbedding": 60}

    ok(embed(http, PLUS, [{"text": "x"}]))
    error_of(embed(http, PLUS, [{"text": "x"}]), 429, "Throttling.RateQuota")


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("429", 429, "Throttling"), ("500", 500, "InternalError"), ("503", 503, "ServiceUnavailable")],
)
def test_faults_in_dashscope_shape(
    emulator: Emulator, http: httpx.Client, fault: str, status: int, code: str
) -> None:
    emulator.inject(fault)

    error_of(embed(http, PLUS, [{"text": "x"}]), status, code)
    ok(embed(http, PLUS, [{"text": "x"}]))


# --- upload flow over raw HTTP ------------------------------------------------------------


def upload(http: httpx.Client, data: bytes, name: str = "clip.mp4") -> str:
    """What dashscope.utils.oss_utils.OssUtils.upload does; returns the oss:// URL."""
    policy = http.get("/api/v1/uploads", params={"action": "getPolicy", "model": PLUS})
    assert policy.status_code == 200, policy.text
    info = policy.json()["data"]
    assert info["upload_host"] == str(http.base_url.join("/oss-upload"))
    key = f"{info['upload_dir']}/{name}"
    form = {
        "OSSAccessKeyId": info["oss_access_key_id"],
        "Signature": info["signature"],
        "policy": info["policy"],
        "key": key,
        "x-oss-object-acl": info["x_oss_object_acl"],
        "x-oss-forbid-overwrite": info["x_oss_forbid_overwrite"],
        "success_action_status": "200",
        "x-oss-content-type": "video/mp4",
    }
    response = httpx.post(info["upload_host"], data=form, files={"file": (name, data)})
    assert response.status_code == 200, response.text
    return f"oss://{key}"


def test_policy_shape(http: httpx.Client) -> None:
    payload = http.get("/api/v1/uploads", params={"action": "getPolicy", "model": PLUS}).json()

    assert set(payload) == {"request_id", "data"}
    assert set(payload["data"]) >= {
        "policy",
        "signature",
        "upload_dir",
        "upload_host",
        "oss_access_key_id",
        "x_oss_object_acl",
        "x_oss_forbid_overwrite",
        "expire_in_seconds",
        "max_file_size_mb",
    }


def test_oss_url_needs_the_resolve_header(emulator: Emulator, http: httpx.Client) -> None:
    url = upload(http, media.video(2, fps=2, size=16))
    contents = [{"video": url}]

    error_of(embed(http, PLUS, contents), 400, "InvalidParameter", "X-DashScope-OssResourceResolve")
    resolve = {"X-DashScope-OssResourceResolve": "enable"}
    [embedding] = ok(embed(http, PLUS, contents, headers=resolve))["output"]["embeddings"]
    assert embedding["type"] == "video"
    assert url.removeprefix("oss://") in emulator.uploads
    missing = [{"video": url + "-missing"}]
    error_of(embed(http, PLUS, missing, headers=resolve), 400, "InvalidParameter", "not found")


def test_uploaded_video_embeds_its_frames(http: httpx.Client) -> None:
    resolve = {"X-DashScope-OssResourceResolve": "enable"}
    red = upload(http, media.video(2, fps=2, size=16, colors=(RED,)), "red.mp4")
    blue = upload(http, media.video(2, fps=2, size=16, colors=(BLUE,)), "blue.mp4")
    contents = [{"video": red}, {"video": blue}, {"image": red_png()}]

    red_video, blue_video, red_image = vectors(embed(http, PLUS, contents, headers=resolve))
    assert cos(red_video, red_image) > cos(blue_video, red_image)


def test_upload_host_rejects_incomplete_forms(http: httpx.Client) -> None:
    response = http.post("/oss-upload", data={"key": "x"})

    assert response.status_code == 400
    assert "<Code>InvalidArgument</Code>" in response.text


# --- the real dashscope SDK ---------------------------------------------------------------


def test_sdk_sync_call(emulator: Emulator) -> None:
    emulator.api_key = "sk-test"
    response = MultiModalEmbedding.call(
        model=PLUS,
        input=[{"text": "a red square"}, {"image": red_png()}],
        api_key="sk-test",
        base_address=emulator.base_url + "/api/v1",
        dimension=256,
    )

    assert response.status_code == 200, response.message
    assert [len(e["embedding"]) for e in response.output["embeddings"]] == [256, 256]
    assert response.usage["input_tokens"] == 3
    assert len(response.request_id) == 36
    [record] = emulator.requests
    assert record.path == PATH
    assert record.json["parameters"] == {"dimension": 256}


def test_sdk_errors_are_responses(emulator: Emulator) -> None:
    emulator.api_key = "sk-test"
    base = emulator.base_url + "/api/v1"

    bad_key = MultiModalEmbedding.call(
        model=PLUS, input=[{"text": "x"}], api_key="sk-wrong", base_address=base
    )
    assert (bad_key.status_code, bad_key.code) == (401, "InvalidApiKey")
    assert bad_key.message == "Invalid API-key provided."
    no_model = MultiModalEmbedding.call(
        model="nope", input=[{"text": "x"}], api_key="sk-test", base_address=base
    )
    assert (no_model.status_code, no_model.code, no_model.message) == (
        404,
        "ModelNotFound",
        "Model not exist.",
    )
    bad_fps = MultiModalEmbedding.call(
        model=PLUS, input=[{"text": "x"}], api_key="sk-test", base_address=base, fps=2
    )
    assert (bad_fps.status_code, bad_fps.code) == (400, "InvalidParameter")


def test_sdk_uploads_a_local_video(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK fetches the upload policy from ``dashscope.base_http_api_url`` (it does NOT
    pass the call's ``base_address`` on), so that global must point at the emulator too."""
    emulator.api_key = "k"  # getPolicy and the embedding call need it; the upload host not
    base = emulator.base_url + "/api/v1"
    monkeypatch.setattr(dashscope, "base_http_api_url", base)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(media.video(2, fps=2, size=16))

    response = MultiModalEmbedding.call(
        model=PLUS, input=[{"video": clip.as_uri()}], api_key="k", base_address=base
    )

    assert response.status_code == 200, response.message
    assert response.output["embeddings"][0]["type"] == "video"
    routes = [(r.route, r.status) for r in emulator.requests]
    assert routes == [("getPolicy", 200), ("ossUpload", 200), ("multimodalEmbedding", 200)]
    embed_request = emulator.requests[-1]
    assert embed_request.headers["x-dashscope-ossresourceresolve"] == "enable"
    [content] = embed_request.json["input"]["contents"]
    assert content["video"].startswith("oss://dashscope-instant/")
    assert content["video"].endswith("/clip.mp4")
    assert list(emulator.uploads.values()) == [clip.stat().st_size]


async def test_sdk_async_call(emulator: Emulator) -> None:
    try:
        response = await AioMultiModalEmbedding.call(
            model="tongyi-embedding-vision-plus-2026-03-06",
            input=[{"text": "a red square", "image": red_png()}, {"text": "blue"}],
            api_key="k",
            base_address=emulator.base_url + "/api/v1",
            dimension=512,
        )
    finally:
        await close_shared_aio_session()

    assert response.status_code == 200, response.message
    embeddings = response.output["embeddings"]
    assert [(e["index"], e["type"], len(e["embedding"])) for e in embeddings] == [
        (0, "vl", 512),
        (1, "text", 512),
    ]


# --- the raw SDK with local files stays on this machine -----------------------------------


class _Outbound:
    """Every host name this process resolves and every TCP connection it opens; refuses
    all but loopback, so a request meant for the real Alibaba host fails here instead of
    leaving the machine."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import socket

        self.addresses: list[str] = []
        real_connect = socket.socket.connect

        def connect(sock: socket.socket, address: Any) -> Any:
            host = address[0] if isinstance(address, tuple) else str(address)
            self.addresses.append(host)
            if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in (
                "127.0.0.1",
                "::1",
            ):
                raise ConnectionRefusedError(f"test: no traffic may leave the machine ({host})")
            return real_connect(sock, address)

        real_getaddrinfo = socket.getaddrinfo

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            self.addresses.append(name)
            if name not in ("127.0.0.1", "::1", "localhost"):
                raise socket.gaierror(f"test: no traffic may leave the machine ({name})")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def test_sdk_local_file_without_base_http_api_url_would_reach_alibaba(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Why the recipe sets dashscope.base_http_api_url: base_address routes only the embedding
    # call; the SDK fetches the upload policy from dashscope.base_http_api_url.
    monkeypatch.setattr(
        dashscope, "base_http_api_url", "https://dashscope-intl.aliyuncs.com/api/v1"
    )
    outbound = _Outbound(monkeypatch)
    image = tmp_path / "red.png"
    image.write_bytes(media.png(RED))
    with pytest.raises(Exception):  # noqa: B017, PT011 - whichever error the SDK wraps it in
        MultiModalEmbedding.call(
            model=PLUS,
            input=[{"image": str(image)}],
            api_key="sk-test",
            base_address=emulator.base_url + "/api/v1",
        )
    assert emulator.requests == []  # the policy request went elsewhere (and was refused)
    assert "dashscope-intl.aliyuncs.com" in outbound.addresses


def test_sdk_local_files_with_the_documented_recipe_stay_local(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outbound = _Outbound(monkeypatch)
    # The recipe (docs/emulator_in_ci.md): every SDK base URL at the emulator, then calls
    # with or without base_address.
    api = emulator.base_url + "/api/v1"
    monkeypatch.setattr(dashscope, "base_http_api_url", api)
    image, clip = tmp_path / "red.png", tmp_path / "clip.mp4"
    image.write_bytes(media.png(RED))
    clip.write_bytes(media.video(1))

    response = MultiModalEmbedding.call(
        model=PLUS,
        input=[{"image": str(image)}, {"video": f"file://{clip}"}],
        api_key="sk-test",
    )

    assert response.status_code == 200, response.message
    assert [e["type"] for e in response.output["embeddings"]] == ["image", "video"]
    assert [r.route for r in emulator.requests] == [
        "getPolicy",
        "ossUpload",
        "ossUpload",
        "multimodalEmbedding",
    ]
    assert sorted(emulator.uploads.values()) == sorted([len(media.png(RED)), len(media.video(1))])
    assert outbound.addresses and set(outbound.addresses) <= {"127.0.0.1"}


def test_ci_recipe_environment_routes_every_sdk_call_to_the_emulator(
    emulator: Emulator, tmp_path: Path
) -> None:
    """The CI recipe exports DASHSCOPE_HTTP_BASE_URL before Python starts (the SDK reads it
    at import): a test process that calls the SDK with no base URL at all stays local."""
    import os
    import subprocess
    import sys

    image = tmp_path / "red.png"
    image.write_bytes(media.png(RED))
    script = (
        "import dashscope\n"
        "r = dashscope.MultiModalEmbedding.call(model='tongyi-embedding-vision-plus',"
        f" input=[{{'image': {str(image)!r}}}], api_key='sk-test')\n"
        "assert r.status_code == 200, r\n"
    )
    unroutable = "http://192.0.2.1:9"  # TEST-NET-1 (RFC 5737): never answers
    env = {
        **os.environ,
        "DASHSCOPE_HTTP_BASE_URL": emulator.base_url + "/api/v1",
        "HTTP_PROXY": unroutable,
        "HTTPS_PROXY": unroutable,
        "NO_PROXY": "127.0.0.1",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert [r.route for r in emulator.requests] == ["getPolicy", "ossUpload", "multimodalEmbedding"]
