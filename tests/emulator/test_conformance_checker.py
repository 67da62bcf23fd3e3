"""``python -m omniembed.emulator.conformance``: the replay checker, on cassettes built here
(both VCR dialects: parsed bodies, and JSON-string requests with gzip ``!!binary``
responses; SSE) and on the shared real recordings when they are present.

The synthetic "recordings" are the emulator's own answers, edited where a test needs a
difference, so these tests exercise the checker rather than any one emulator behaviour.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from omniembed.emulator import Emulator
from omniembed.emulator.conformance import (
    Exchange,
    RecordedResponse,
    compare,
    exclusion,
    optional_keys,
    route_pattern,
)
from omniembed.emulator.conformance.catalogue import RETIRED_MODELS
from omniembed.emulator.conformance.recordings import parse_sse
from omniembed.emulator.generation_models import RETIRED
from tests.wire_samples import WIRE_SAMPLES_DIR, skip_reason

GEMINI = "https://generativelanguage.googleapis.com"
JSON_TYPE = "application/json; charset=UTF-8"


# --- building cassettes ------------------------------------------------------------------------


def _answer(
    method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """What a fresh emulator answers (the stand-in for a real recording)."""
    with Emulator() as emu, httpx.Client(base_url=emu.base_url, timeout=30) as client:
        content = None if body is None else json.dumps(body).encode()
        response = client.request(method, path, content=content, headers=headers)
        response.read()
        return response


def _parsed(
    method: str,
    path: str,
    body: Any,
    status: int,
    response: Any,
    *,
    content_type: str = JSON_TYPE,
) -> dict[str, Any]:
    """pydantic-ai's dialect: parsed request and response bodies."""
    return {
        "request": {
            "method": method,
            "uri": GEMINI + path,
            "headers": {"content-type": ["application/json"]},
            "parsed_body": body,
        },
        "response": {
            "status": {"code": status, "message": "OK"},
            "headers": {"content-type": [content_type]},
            "parsed_body": response,
        },
    }


def _sse(path: str, body: Any, events: list[Any]) -> dict[str, Any]:
    """pydantic-ai's dialect for a stream: the SSE body as ``body.string``."""
    text = "".join(f"data: {json.dumps(event)}\r\n\r\n" for event in events)
    return {
        "request": {"method": "POST", "uri": GEMINI + path, "parsed_body": body, "headers": {}},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"content-type": ["text/event-stream"]},
            "body": {"string": text},
        },
    }


def _gzipped(path: str, body: Any, response: Any) -> dict[str, Any]:
    """llm-gemini's dialect: the request body a JSON string, the response gzip bytes
    (``!!binary`` in the YAML)."""
    return {
        "request": {
            "method": "POST",
            "uri": GEMINI + path,
            "headers": {"content-type": ["application/json"]},
            "body": json.dumps(body),
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": [JSON_TYPE], "Content-Encoding": ["gzip"]},
            "body": {"string": gzip.compress(json.dumps(response).encode())},
        },
    }


def _write(folder: Path, name: str, *interactions: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"interactions": list(interactions), "version": 1}), "utf-8")
    return path


def _embed(model: str, text: str, **extra: Any) -> tuple[str, dict[str, Any]]:
    request = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}, **extra}
    return f"/v1beta/models/{model}:batchEmbedContents", {"requests": [request]}


def _check(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "omniembed.emulator.conformance", str(folder), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _rows(folder: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = _check(folder, "--json", *args)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def _verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {row["name"]: row["verdict"] for row in report["rows"]}


# --- the command on synthetic cassettes --------------------------------------------------------


def test_matching_recordings_in_both_dialects(tmp_path: Path) -> None:
    path, body = _embed("gemini-embedding-001", "a red bicycle")
    _write(tmp_path, "parsed", _parsed("POST", path, body, 200, _answer("POST", path, body).json()))
    path2, body2 = _embed("gemini-embedding-001", "a blue boat", outputDimensionality=768)
    _write(
        tmp_path / "llm", "gzipped", _gzipped(path2, body2, _answer("POST", path2, body2).json())
    )
    stream = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    ask = {"contents": [{"role": "user", "parts": [{"text": "Say something long and kind."}]}]}
    events = parse_sse(_answer("POST", stream, ask).text)
    assert len(events) > 2
    # A real stream is chunked as the model wrote it: only its first and last events count.
    _write(tmp_path, "stream", _sse(stream, ask, [events[0], events[-1]]))

    done = _check(tmp_path)

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum(line.endswith("  200 -> 200  match") for line in lines) == 3, done.stdout
    assert "3 exchanges in 3 cassettes, 3 unique" in done.stdout
    assert "match: 3  drift: 0  differs: 0  not-emulated: 0  retired: 0" in done.stdout
    stream_row = "stream.yaml#0  POST /v1beta/models/{model}:streamGenerateContent?alt=sse"
    assert f"{stream_row}  200 -> 200  match" in lines


def test_differences_fail_the_run(tmp_path: Path) -> None:
    # The real service accepted it (say); the emulator rejects the unknown task type.
    path, body = _embed("gemini-embedding-001", "text", taskType="NOT_A_TASK")
    ok_path, ok_body = _embed("gemini-embedding-001", "text")
    recorded = _answer("POST", ok_path, ok_body).json()
    _write(tmp_path, "rejected", _parsed("POST", path, body, 200, recorded))
    # A key every recording of the route has and the emulator does not send.
    single = "/v1beta/models/gemini-embedding-001:embedContent"
    one = {"content": {"parts": [{"text": "text"}]}}
    _write(
        tmp_path,
        "missing",
        _parsed("POST", single, one, 200, {**_answer("POST", single, one).json(), "extra": 1}),
    )

    code, report = _rows(tmp_path)

    assert code == 1
    rows = {row["name"]: row for row in report["rows"]}
    rejected, missing = rows["rejected.yaml#0"], rows["missing.yaml#0"]
    assert (rejected["verdict"], rejected["recorded_status"], rejected["emulator_status"]) == (
        "differs",
        200,
        400,
    )
    assert rejected["differences"][0].startswith("status 200 recorded, 400 from the emulator: ")
    assert missing["verdict"] == "differs"
    assert missing["differences"] == ["$: missing 'extra'"]
    assert report["counts"]["differs"] == 2


def test_keys_the_recordings_disagree_on_are_drift(tmp_path: Path) -> None:
    """gemini-embedding-2's usageMetadata is in newer recordings only: an answer with it is
    drift against an older recording, and a match against a newer one."""
    old_path, old_body = _embed("gemini-embedding-2", "older recording")
    new_path, new_body = _embed("gemini-embedding-2", "newer recording")
    older = _answer("POST", old_path, old_body).json()
    assert "usageMetadata" in older
    del older["usageMetadata"]
    newer = _answer("POST", new_path, new_body).json()
    _write(tmp_path, "older", _parsed("POST", old_path, old_body, 200, older))
    _write(tmp_path, "newer", _parsed("POST", new_path, new_body, 200, newer))

    code, report = _rows(tmp_path)

    assert code == 0
    rows = {row["name"]: row for row in report["rows"]}
    assert rows["older.yaml#0"]["verdict"] == "drift"
    assert rows["older.yaml#0"]["drift"] == ["usageMetadata"]
    assert rows["newer.yaml#0"]["verdict"] == "match"
    assert rows["older.yaml#0"]["route"] == "/v1beta/models/{model}:batchEmbedContents"


def test_not_emulated_and_retired_rows_say_why(tmp_path: Path) -> None:
    store = _parsed("POST", "/v1beta/fileSearchStores", {"displayName": "s"}, 200, {"name": "x"})
    picture = {
        "request": {"method": "GET", "uri": "https://example.com/cat.png", "body": ""},
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"Content-Type": ["image/png"]},
            "body": {"string": b"\x89PNG\r\n"},
        },
    }
    ask = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    old = _parsed(
        "POST",
        "/v1beta/models/gemini-1.5-flash:generateContent",
        ask,
        200,
        {"candidates": [], "modelVersion": "gemini-1.5-flash"},
    )
    _write(tmp_path, "mixed", store, picture, old)

    code, report = _rows(tmp_path)

    assert code == 0
    rows = report["rows"]
    assert [(r["verdict"], r["emulator_status"]) for r in rows] == [
        ("not-emulated", None),
        ("not-emulated", None),
        ("retired", 404),
    ]
    assert rows[0]["reason"] == "File Search stores (a managed retrieval service)"
    assert rows[1]["reason"] == "not a Gemini API or Vertex AI host (example.com)"
    assert rows[1]["route"] == "example.com/cat.png"
    assert rows[2]["reason"].startswith("gemini-1.5-flash: ")
    text = _check(tmp_path).stdout
    assert "reason: File Search stores" in text
    assert "not-emulated: 2  retired: 1" in text


def test_an_upload_then_its_use_replays_in_order(tmp_path: Path) -> None:
    """The recorded upload URL and file name become the emulator's in later requests."""
    start_headers = {
        "x-goog-upload-protocol": "resumable",
        "x-goog-upload-command": "start",
        "x-goog-upload-header-content-length": "32",
        "x-goog-upload-header-content-type": "text/plain",
        "content-type": "application/json",
    }
    data = b"The ferry leaves at 9:15 sharp.\n"
    with Emulator() as emu, httpx.Client(base_url=emu.base_url, timeout=30) as client:
        started = client.post(
            "/upload/v1beta/files", headers=start_headers, json={"file": {"displayName": "n"}}
        )
        finished = client.post(
            started.headers["x-goog-upload-url"],
            headers={"x-goog-upload-command": "upload, finalize", "x-goog-upload-offset": "0"},
            content=data,
        )
        file = finished.json()["file"]
        ask = {
            "contents": [
                {
                    "role": "user",
                    "parts": [
                        {"fileData": {"fileUri": file["uri"], "mimeType": "text/plain"}},
                        {"text": "When does the ferry leave?"},
                    ],
                }
            ]
        }
        answered = client.post("/v1beta/models/gemini-2.5-flash:generateContent", json=ask)
        base = emu.base_url
    # What the real service would have named them.
    upload_url = f"{GEMINI}/upload/v1beta/files?upload_id=RECORDED&upload_protocol=resumable"
    recorded_file = {**file, "name": "files/recorded1", "uri": f"{GEMINI}/v1beta/files/recorded1"}
    ask_recorded = json.loads(json.dumps(ask).replace(file["uri"], recorded_file["uri"]))
    assert file["uri"].startswith(base)
    start = {
        "request": {
            "method": "POST",
            "uri": f"{GEMINI}/upload/v1beta/files",
            "headers": {k: [v] for k, v in start_headers.items()},
            "parsed_body": {"file": {"displayName": "n"}},
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {
                "content-type": [started.headers["content-type"]],
                "x-goog-upload-url": [upload_url],
                "x-goog-upload-status": ["active"],
            },
            "body": {"string": ""},
        },
    }
    chunk = {
        "request": {
            "method": "POST",
            "uri": upload_url,
            "headers": {
                "x-goog-upload-command": ["upload, finalize"],
                "x-goog-upload-offset": ["0"],
            },
            "body": data.decode(),
        },
        "response": {
            "status": {"code": 200, "message": "OK"},
            "headers": {"content-type": [JSON_TYPE], "x-goog-upload-status": ["final"]},
            "parsed_body": {"file": recorded_file},
        },
    }
    use = _parsed(
        "POST",
        "/v1beta/models/gemini-2.5-flash:generateContent",
        ask_recorded,
        200,
        answered.json(),
    )
    _write(tmp_path, "upload", start, chunk, use)

    code, report = _rows(tmp_path)

    assert code == 0, report
    assert [row["verdict"] for row in report["rows"]] == ["match", "match", "match"]
    assert report["rows"][1]["route"] == "/upload/v1beta/files?upload_id&upload_protocol=resumable"


def test_duplicates_only_and_json(tmp_path: Path) -> None:
    path, body = _embed("gemini-embedding-001", "same request")
    recorded = _parsed("POST", path, body, 200, _answer("POST", path, body).json())
    _write(tmp_path / "a", "first", recorded)
    _write(tmp_path / "b", "copy", recorded)
    other, other_body = _embed("gemini-embedding-001", "another request")
    _write(
        tmp_path / "b",
        "other",
        _parsed("POST", other, other_body, 200, _answer("POST", other, other_body).json()),
    )

    code, report = _rows(tmp_path)
    assert code == 0
    assert (report["cassettes"], report["exchanges"], report["unique"]) == (3, 3, 2)
    first = next(row for row in report["rows"] if row["name"] == "a/first.yaml#0")
    assert first["duplicates"] == ["b/copy.yaml#0"]
    assert set(report) >= {"counts", "rows", "seconds", "root"}

    code, only = _rows(tmp_path, "--only", "b/o*")
    assert (only["cassettes"], [row["name"] for row in only["rows"]]) == (1, ["b/other.yaml#0"])


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert _check(tmp_path / "absent").returncode == 2
    assert _check(tmp_path).returncode == 2  # no cassettes
    _write(tmp_path, "fine", {"request": {}, "response": {}})
    assert _check(tmp_path, "--only", "nothing*").returncode == 2
    done = _check(tmp_path)  # a cassette without the VCR layout
    assert done.returncode == 2
    assert "fine.yaml" in done.stderr


# --- the parts, in process -----------------------------------------------------------------------


def _exchange(uri: str, body: Any = None, status: int = 200, response: Any = None) -> Exchange:
    return Exchange(
        cassette="c.yaml",
        index=0,
        method="POST",
        uri=uri,
        headers={},
        body=b"" if body is None else json.dumps(body).encode(),
        json=body,
        response=RecordedResponse(status, {}, response, None),
    )


def test_shapes_compare_keys_kinds_and_lengths_not_values() -> None:
    recorded = {"embeddings": [{"values": [0.1] * 8}], "note": "x", "n": 1}
    assert compare({"embeddings": [{"values": [9.0] * 8}], "note": "y", "n": 2}, recorded) == []
    found = {
        str(d)
        for d in compare({"embeddings": [{"values": [0.1] * 7}], "note": 1, "new": None}, recorded)
    }
    assert found == {
        "$.embeddings[0].values: expected 8 elements, got 7",
        "$.note: expected string, got number",
        "$: missing 'n'",
        "$: unexpected 'new'",
    }
    parts = "candidates[].content.parts"
    answer = {"candidates": [{"content": {"parts": [{"text": "a"}, {"text": "b"}]}}]}
    three = {"candidates": [{"content": {"parts": [{"text": "x"}] * 3}}]}
    assert compare(answer, three, free_length=[parts]) == []
    assert [d.key_path for d in compare(answer, three)] == [parts]


def test_optional_keys_are_those_some_objects_lack() -> None:
    documents = [
        {"usageMetadata": {"promptTokenCount": 1, "serviceTier": "standard"}},
        {"usageMetadata": {"promptTokenCount": 2}},
        {"candidates": [{"index": 0}, {}]},
    ]
    assert optional_keys(documents) == {
        "usageMetadata",
        "candidates",
        "usageMetadata.serviceTier",
        "candidates[].index",
    }


def test_route_patterns_hide_models_and_resources() -> None:
    vertex = (
        "https://europe-west4-aiplatform.googleapis.com/v1beta1/projects/p/locations/"
        "europe-west4/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert route_pattern(_exchange(vertex)) == (
        "/v1beta1/projects/{project}/locations/{location}/publishers/google/models/{model}"
        ":streamGenerateContent?alt=sse"
    )
    assert route_pattern(_exchange(f"{GEMINI}/v1beta/files/abc?key=k")) == "/v1beta/files/{file}"


def test_catalogue() -> None:
    assert set(RETIRED) <= set(RETIRED_MODELS)
    image = _exchange(f"{GEMINI}/v1beta/models/gemini-2.5-flash-image:generateContent")
    assert exclusion(image) is not None
    unknown_file = _exchange(
        f"{GEMINI}/v1beta/models/gemini-2.5-flash:generateContent",
        {"contents": [{"parts": [{"fileData": {"fileUri": f"{GEMINI}/v1beta/files/zz9"}}]}]},
    )
    found = exclusion(unknown_file)
    assert found is not None
    assert found.reason == "uses files/zz9, uploaded outside this recording"
    plain = _exchange(f"{GEMINI}/v1beta/models/gemini-2.5-flash:generateContent", {})
    assert exclusion(plain) is None
    retired = _exchange(f"{GEMINI}/v1beta/models/gemini-1.5-pro:generateContent", {})
    found = exclusion(retired)
    assert found is not None
    assert found.verdict == "retired"
    # A recording made after the shutdown is an ordinary 404 to compare.
    assert exclusion(_exchange(retired.uri, {}, 404)) is None


# --- the shared real recordings -------------------------------------------------------------------

#: The recorded exchanges the emulator answers differently today, by cause. Fixing a cause
#: makes `test_shared_recordings` fail until its rows leave this list, so the list stays
#: the true state (names are first occurrences; see the checker's dedupe).
TOOL_RETURNS = "pydantic-ai/tests__models__cassettes__test_multimodal_tool_returns__"
MATRIX = f"{TOOL_RETURNS}test_multimodal_tool_return_matrix"
GOOGLE = "pydantic-ai/tests__models__cassettes__test_google__"
GOOGLE_DIR = "pydantic-ai/tests__models__google__cassettes__"
CASSETTES = "pydantic-ai/tests__cassettes__"
LLM = "llm-gemini/"
KNOWN_DIFFERS: dict[str, list[str]] = {
    # A video at a URL the emulator does not fetch is assumed to have sound (as the
    # recorded YouTube and mp4 URL answers did); this one is silent, so its answer lists no
    # AUDIO.
    "unfetched_silent_video": [
        f"{GOOGLE}test_google_url_input[VideoUrl].yaml#0",
    ],
    # A part holding only ``videoMetadata`` (after the video) is accepted and ignored, as
    # the service accepts it; but the service's answer then lists no AUDIO for the silent
    # gemini-2.0 video where it otherwise lists an empty one (what it did with the metadata
    # is not visible).
    "video_metadata_only_part": [
        f"{GOOGLE}test_google_model_video_as_binary_content_input_with_vendor_metadata.yaml#0",
    ],
    # GET models pages like the service (50 a page, ``nextPageToken`` while more remain),
    # but the service's catalogue fills more than one page (image, speech, video and music
    # models the emulator does not serve) and the emulator's fits in one, so its only page
    # has no ``nextPageToken``, like the service's last page.
    "list_models_one_page": [
        f"{LLM}test_cli_gemini_models.yaml#0",
        f"{LLM}test_cli_gemini_models.yaml#1",
    ],
}


@pytest.mark.skipif(not WIRE_SAMPLES_DIR.is_dir(), reason=skip_reason(""))
def test_shared_recordings() -> None:
    code, report = _rows(WIRE_SAMPLES_DIR)

    counts = report["counts"]
    print(  # the counts, for the test log (pytest -s / -rA)
        f"\n{report['exchanges']} exchanges, {report['unique']} unique, "
        f"{report['seconds']} s: {counts}"
    )
    assert report["exchanges"] > 500
    differing = {row["name"] for row in report["rows"] if row["verdict"] == "differs"}
    known = {name for names in KNOWN_DIFFERS.values() for name in names}
    assert differing == known, (
        f"now differing, not listed: {sorted(differing - known)}\n"
        f"listed, no longer differing: {sorted(known - differing)}"
    )
    assert code == (1 if differing else 0)
    assert counts["match"] + counts["drift"] > 200
