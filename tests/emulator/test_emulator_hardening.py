"""Issue 13 (hardening), the emulator's items: upload credentials, a bounded and redacted
request log, bodies never read without the key, size and depth limits, and 400s (not 500s)
for media the emulator cannot decode. Real HTTP against a real emulator throughout."""

from __future__ import annotations

import base64
import io
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import numpy as np
import pytest

from omniembed.emulator import Emulator
from omniembed.emulator.limits import DASHSCOPE_MAX_BODY_BYTES
from omniembed.emulator.models import MAX_GEMINI_REQUEST_BYTES
from tests import media_factory as media

KEY = "sk-secret-key-123"
DS_EMBED = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
COUNT = "/v1beta/models/gemini-embedding-001:countTokens"
EMBED2 = "/v1beta/models/gemini-embedding-2:embedContent"
MM = "/v1/projects/p/locations/us-central1/publishers/google/models/multimodalembedding@001:predict"
PLUS = "tongyi-embedding-vision-plus"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
def keyed() -> Iterator[Emulator]:
    with Emulator(api_key=KEY) as emu:
        yield emu


# --- item 1: upload sessions and OSS uploads ------------------------------------------------


def _start_upload(base_url: str, key: str | None = None) -> str:
    headers = {
        "X-Goog-Upload-Protocol": "resumable",
        "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Type": "text/plain",
        "X-Goog-Upload-Header-Content-Length": "5",
    }
    if key:
        headers["x-goog-api-key"] = key
    response = httpx.post(f"{base_url}/upload/v1beta/files", headers=headers, json={"file": {}})
    assert response.status_code == 200, response.text
    return response.headers["X-Goog-Upload-URL"]


def test_upload_session_ids_do_not_follow_from_the_seed() -> None:
    urls = []
    for _ in range(2):
        with Emulator(seed=0) as emu:
            url = _start_upload(emu.base_url)
            urls.append(httpx.URL(url).params["upload_id"])
    assert urls[0] != urls[1]
    assert all(len(upload_id) >= 40 for upload_id in urls)


def test_keyless_client_cannot_forge_a_policy_or_overwrite_an_oss_object(keyed: Emulator) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    policy = httpx.get(
        f"{keyed.base_url}/api/v1/uploads",
        params={"action": "getPolicy", "model": PLUS},
        headers=auth,
    ).json()["data"]
    key = f"{policy['upload_dir']}/clip.mp4"
    form = {
        "OSSAccessKeyId": policy["oss_access_key_id"],
        "policy": policy["policy"],
        "key": key,
        "x-oss-forbid-overwrite": "true",
        "success_action_status": "200",
    }
    ok = httpx.post(
        policy["upload_host"], data={**form, "Signature": policy["signature"]},
        files={"file": ("clip.mp4", b"original")},
    )  # fmt: skip
    assert ok.status_code == 200, ok.text

    # No key: no policy, and a made-up (or the old fixed) signature is refused.
    denied = httpx.get(
        f"{keyed.base_url}/api/v1/uploads", params={"action": "getPolicy", "model": PLUS}
    )
    assert denied.status_code == 401
    for signature in ("omniembed-emulator-signature", "guess"):
        forged = httpx.post(
            policy["upload_host"],
            data={**form, "Signature": signature, "x-oss-forbid-overwrite": "false"},
            files={"file": ("clip.mp4", b"attacker's bytes")},
        )
        assert forged.status_code == 403
        assert "<Code>SignatureDoesNotMatch</Code>" in forged.text
    assert keyed.uploads[key] == len(b"original")


def test_a_policy_only_covers_its_own_upload_dir(keyed: Emulator) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    params = {"action": "getPolicy", "model": PLUS}
    first, second = (
        httpx.get(f"{keyed.base_url}/api/v1/uploads", params=params, headers=auth).json()["data"]
        for _ in range(2)
    )
    response = httpx.post(
        first["upload_host"],
        data={
            "OSSAccessKeyId": "x", "policy": first["policy"], "Signature": first["signature"],
            "key": f"{second['upload_dir']}/clip.mp4",
        },
        files={"file": ("clip.mp4", b"x")},
    )  # fmt: skip
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text


# --- item 2: the request log ------------------------------------------------------------------


def test_request_log_keeps_the_newest_records_within_its_count_cap() -> None:
    with Emulator(log_max_records=5) as emu, httpx.Client(base_url=emu.base_url) as http:
        for i in range(8):
            http.post(COUNT, json={"contents": [{"parts": [{"text": f"word{i}"}]}]})
        texts = [r.json["contents"][0]["parts"][0]["text"] for r in emu.requests]
        assert texts == [f"word{i}" for i in range(3, 8)]
        assert emu.request_log.dropped == 3
        emu.clear_requests()
        assert emu.requests == []


def test_request_log_holds_at_most_its_byte_cap_of_bodies() -> None:
    mb = 1024 * 1024
    text = "word " * (mb // 5)
    with (
        Emulator(log_max_bytes=4 * mb) as emu,
        httpx.Client(base_url=emu.base_url, timeout=30) as http,
    ):
        for _ in range(12):
            assert http.post(COUNT, json={"contents": [{"parts": [{"text": text}]}]}).is_success
        kept = emu.requests
        assert emu.request_log.body_bytes <= 4 * mb
        assert 1 <= len(kept) <= 4
        assert all(r.json is not None for r in kept)
        # A body larger than the whole cap is answered, and logged without its body.
        big = http.post(COUNT, json={"contents": [{"parts": [{"text": text * 5}]}]})
        assert big.is_success
        last = emu.requests[-1]
        assert last.json is None and last.json_dropped and last.body_size > 4 * mb


def test_default_log_caps() -> None:
    with Emulator() as emu:
        assert (emu.request_log.max_records, emu.request_log.max_body_bytes) == (
            10_000,
            64 * 1024 * 1024,
        )


def test_credentials_are_redacted_in_the_log(keyed: Emulator) -> None:
    with httpx.Client(base_url=keyed.base_url) as http:
        body = {"contents": [{"parts": [{"text": "hi"}]}]}
        http.post(COUNT, json=body, headers={"x-goog-api-key": KEY})
        http.post(COUNT, json=body, params={"key": KEY})
        http.post(COUNT, json=body, headers={"x-goog-api-key": "another-key"})
        http.post(
            DS_EMBED,
            json={"model": PLUS, "input": {"contents": [{"text": "x"}]}},
            headers={"Authorization": f"Bearer {KEY}", "X-DashScope-OssResourceResolve": "enable"},
        )
    header, query, other, dashscope = keyed.requests
    dump = repr(keyed.requests) + str([r.headers for r in keyed.requests])
    assert KEY not in dump and "another-key" not in dump
    assert str(header.headers["x-goog-api-key"]).startswith("<redacted:")
    assert str(query.query["key"]).startswith("<redacted:")
    assert str(dashscope.headers["authorization"]).startswith("Bearer <redacted:")
    assert dashscope.headers["x-dashscope-ossresourceresolve"] == "enable"  # not a secret
    # Tests can still check which key was sent, and tell keys apart, without the key.
    assert header.headers["x-goog-api-key"] == KEY
    assert query.query["key"] == KEY
    assert dashscope.headers["authorization"] == f"Bearer {KEY}"
    assert other.headers["x-goog-api-key"] != KEY
    assert str(other.headers["x-goog-api-key"]) != str(header.headers["x-goog-api-key"])
    assert header.headers["x-goog-api-key"] == query.query["key"]


# --- item 3: bodies, keys and limits ----------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/status")
def test_keyless_bodies_are_never_read() -> None:
    """The emulator in its own process (so the client's copy of the body is not counted)."""
    size = 60 * 1024 * 1024
    payload = b'{"contents": [{"parts": [{"text": "' + b"a" * size + b'"}]}]}'
    with _cli_emulator() as (process, base_url):
        httpx.get(f"{base_url}/v1beta/models", headers={"x-goog-api-key": KEY})  # warm up
        before = _rss_bytes(process.pid)
        for _ in range(3):
            response = httpx.post(f"{base_url}{COUNT}", content=payload, timeout=60)
            assert response.status_code == 403
            assert response.json()["error"]["status"] == "PERMISSION_DENIED"
        grown = _rss_bytes(process.pid) - before
    # Before the fix each body was buffered and parsed: +236 MB after these three.
    assert grown < 40 * 1024 * 1024, f"RSS grew by {grown / 2**20:.0f} MB"


def test_oversized_bodies_get_the_services_payload_error(emulator: Emulator) -> None:
    too_big = b"x" * (MAX_GEMINI_REQUEST_BYTES + 1)
    with httpx.Client(base_url=emulator.base_url, timeout=60) as http:
        google = http.post(COUNT, content=too_big)
        assert google.status_code == 400
        assert google.json()["error"] == {
            "code": 400,
            "message": f"Request payload size exceeds the limit: {MAX_GEMINI_REQUEST_BYTES} bytes.",
            "status": "INVALID_ARGUMENT",
        }

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while reading
            for _ in range(DASHSCOPE_MAX_BODY_BYTES // (1 << 20) + 1):
                yield b"x" * (1 << 20)

        dashscope = http.post(DS_EMBED, content=chunks())
        assert dashscope.status_code == 400
        assert dashscope.json()["code"] == "InvalidParameter"
        assert "exceeds the limit" in dashscope.json()["message"]
    assert emulator.requests[-1].json is None


def test_deeply_nested_json_is_a_400_in_each_services_shape(emulator: Emulator) -> None:
    deep = b"[" * 200_000 + b"]" * 200_000
    nested: object = "x"
    for _ in range(150):  # parses in Python, but deeper than the service's 100 levels
        nested = [nested]
    with httpx.Client(base_url=emulator.base_url, timeout=30) as http:
        for body in (deep, httpx.Request("POST", "/", json={"a": nested}).read()):
            google = http.post(COUNT, content=body)
            assert google.status_code == 400
            assert google.json()["error"]["status"] == "INVALID_ARGUMENT"
            assert google.json()["error"]["message"].startswith("Invalid JSON payload received.")
            dashscope = http.post(DS_EMBED, content=body)
            assert dashscope.status_code == 400
            assert dashscope.json()["code"] == "InvalidParameter"
        broken = http.post(DS_EMBED, content=b'{"model": ')
        assert broken.status_code == 400 and broken.json()["code"] == "InvalidParameter"


# --- item 4: media the emulator cannot decode ---------------------------------------------------


def _audio_only_mp4(seconds: int = 2) -> bytes:
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=8000)
        samples = np.zeros((1, 8000 * seconds), np.float32)
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + 1024]),
                format="fltp",
                layout="mono",
            )
            frame.sample_rate = 8000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return out.getvalue()


def test_an_mp4_without_a_video_track_is_a_400_everywhere(emulator: Emulator) -> None:
    data = _audio_only_mp4()
    part = {"inline_data": {"mime_type": "video/mp4", "data": _b64(data)}}
    with httpx.Client(base_url=emulator.base_url, timeout=30) as http:
        answers = {
            "embedContent": http.post(EMBED2, json={"content": {"parts": [part]}}),
            "generateContent": http.post(
                "/v1beta/models/gemini-2.5-flash:generateContent",
                json={"contents": [{"parts": [part, {"text": "what is this?"}]}]},
            ),
            "multimodalembedding": http.post(
                MM, json={"instances": [{"video": {"bytesBase64Encoded": _b64(data)}}]}
            ),
        }
        for route, answer in answers.items():
            assert answer.status_code == 400, (route, answer.text)
            assert answer.json()["error"]["status"] == "INVALID_ARGUMENT"
            assert "no video track" in answer.json()["error"]["message"]

        policy = http.get("/api/v1/uploads", params={"action": "getPolicy", "model": PLUS})
        info = policy.json()["data"]
        key = f"{info['upload_dir']}/sound.mp4"
        form = {"OSSAccessKeyId": "x", "policy": info["policy"], "Signature": info["signature"]}
        uploaded = http.post(
            info["upload_host"], data={**form, "key": key}, files={"file": ("s.mp4", data)}
        )
        assert uploaded.status_code == 200
        dashscope = http.post(
            DS_EMBED,
            json={"model": PLUS, "input": {"contents": [{"video": f"oss://{key}"}]}},
            headers={"X-DashScope-OssResourceResolve": "enable"},
        )
        assert dashscope.status_code == 400
        assert dashscope.json()["code"] == "InvalidParameter"


def test_truncated_media_is_a_400(emulator: Emulator) -> None:
    video = media.video(3, fps=1, size=16)
    cases = [
        ("video/mp4", video[: len(video) * 2 // 3]),
        ("image/png", media.png(size=(64, 64))[:120]),
        ("image/jpeg", media.jpeg(size=(64, 64))[:300]),
    ]
    with httpx.Client(base_url=emulator.base_url, timeout=30) as http:
        for mime, data in cases:
            part = {"inline_data": {"mime_type": mime, "data": _b64(data)}}
            answer = http.post(EMBED2, json={"content": {"parts": [part]}})
            assert answer.status_code == 400, (mime, answer.text)


# --- item 5: the key from the environment -----------------------------------------------------


@contextmanager
def _cli_emulator() -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``python -m omniembed.emulator`` with the key in the environment only."""
    env = {**os.environ, "OMNIEMBED_EMULATOR_API_KEY": KEY}
    process = subprocess.Popen(
        [sys.executable, "-m", "omniembed.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        yield process, process.stdout.readline().strip()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        finally:
            if process.poll() is None:  # never leave an emulator running
                process.kill()
                process.wait()
            process.communicate()  # and close its pipes


def test_cli_reads_the_api_key_from_the_environment() -> None:
    with _cli_emulator() as (process, base_url):
        assert KEY not in " ".join(process.args)  # type: ignore[arg-type]
        assert httpx.get(f"{base_url}/v1beta/models").status_code == 403
        ok = httpx.get(f"{base_url}/v1beta/models", headers={"x-goog-api-key": KEY})
        assert ok.status_code == 200


def test_help_names_the_environment_variable() -> None:
    from omniembed.emulator.__main__ import build_parser

    assert "OMNIEMBED_EMULATOR_API_KEY" in build_parser().format_help()


def test_a_dashscope_route_without_api_v1_gets_a_dashscope_404_with_the_fix(
    emu: Emulator,
) -> None:
    url = f"{emu.base_url}/services/embeddings/multimodal-embedding/multimodal-embedding"
    answer = httpx.post(url, json={"model": "tongyi-embedding-vision-plus"})
    assert answer.status_code == 404
    body = answer.json()
    assert "code" in body and "request_id" in body  # DashScope's shape, not Google's
    assert "/api/v1" in body["message"] and "base_url=" in body["message"]


def test_text_embedding_models_take_4_mib_and_gemini_embedding_2_20_mb(
    emulator: Emulator,
) -> None:
    # quarkiverse/quarkus-langchain4j#1705: a gemini-embedding-001 text batch over 4 MiB
    # gets "Request payload size exceeds the limit: 4194304 bytes."; gemini-embedding-2
    # takes inline media up to the 20 MB request limit.
    text = "word " * 900_000  # ~4.3 MiB of JSON
    with httpx.Client(base_url=emulator.base_url, timeout=60) as http:
        for model, status in (("gemini-embedding-001", 400), ("gemini-embedding-2", 200)):
            body = {
                "requests": [{"model": f"models/{model}", "content": {"parts": [{"text": text}]}}]
            }
            response = http.post(f"/v1beta/models/{model}:batchEmbedContents", json=body)
            assert response.status_code == status, (model, response.text[:200])
            if status == 400:
                assert response.json()["error"]["message"] == (
                    "Request payload size exceeds the limit: 4194304 bytes."
                )
