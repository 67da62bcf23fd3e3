"""The batches resource: asyncBatchEmbedContent, batches/*, output files, as google-genai
(and plain HTTP) sees them."""

from __future__ import annotations

import io
import json
import time
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from omniembed.emulator import Emulator

CREATE = "/v1beta/models/gemini-embedding-001:asyncBatchEmbedContent"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(batch_step_sec=0.1) as emu:
        yield emu


@pytest.fixture
def client(emulator: Emulator) -> genai.Client:
    options = types.HttpOptions(base_url=emulator.base_url, api_version="v1beta")
    return genai.Client(api_key="k", http_options=options)


def create(client: genai.Client, texts: list[str], **config: Any) -> types.BatchJob:
    src = types.EmbeddingsBatchJobSource(
        inlined_requests=types.EmbedContentBatch(
            contents=[{"parts": [{"text": t}]} for t in texts],  # type: ignore[misc]
            config=types.EmbedContentConfig(output_dimensionality=8),
        )
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # create_embeddings is "experimental"
        return client.batches.create_embeddings(
            model="gemini-embedding-001", src=src, config=config or None
        )


def inline_body(texts: list[str], **batch: Any) -> dict[str, Any]:
    requests = [{"request": {"content": {"parts": [{"text": t}]}}} for t in texts]
    return {"batch": {"inputConfig": {"requests": {"requests": requests}}, **batch}}


def wait(client: genai.Client, name: str) -> types.BatchJob:
    for _ in range(100):
        job = client.batches.get(name=name)
        if job.done:
            return job
        time.sleep(0.03)
    raise AssertionError(f"{name} never finished")


# --- state machine and stats ----------------------------------------------------------------


def test_job_walks_pending_running_succeeded(emulator: Emulator, http: httpx.Client) -> None:
    emulator.batch_step_sec = 10  # the test moves the clock itself
    texts = [f"text {i}" for i in range(10)]
    created = http.post(CREATE, json=inline_body(texts, displayName="walk")).json()
    name = created["name"]
    assert name.startswith("batches/")
    meta = created["metadata"]
    assert meta["state"] == "BATCH_STATE_PENDING"
    assert meta["@type"].endswith("EmbedContentBatch")
    assert meta["model"] == "models/gemini-embedding-001"
    assert meta["displayName"] == "walk"
    assert meta["batchStats"] == {"requestCount": "10", "pendingRequestCount": "10"}
    assert "done" not in created

    job = emulator.batches.get(name)
    assert job is not None
    job.started = time.monotonic() - 15  # halfway through the RUNNING step
    running = http.get(f"/v1beta/{name}").json()["metadata"]
    assert running["state"] == "BATCH_STATE_RUNNING"
    assert running["batchStats"] == {
        "requestCount": "10",
        "successfulRequestCount": "5",
        "pendingRequestCount": "5",
    }
    assert "output" not in running

    emulator.batches.finish_now(name)
    done = http.get(f"/v1beta/{name}").json()
    assert done["done"] is True
    assert done["metadata"]["state"] == "BATCH_STATE_SUCCEEDED"
    assert done["metadata"]["batchStats"] == {"requestCount": "10", "successfulRequestCount": "10"}
    assert "endTime" in done["metadata"]
    responses = done["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
    assert len(responses) == 10


def test_sdk_sees_states_and_inline_vectors_equal_batch_embed(
    client: genai.Client, emulator: Emulator
) -> None:
    texts = ["alpha beta", "gamma", "delta epsilon"]
    job = create(client, texts, display_name="sdk")
    assert job.state == types.JobState.JOB_STATE_PENDING
    assert job.display_name == "sdk"
    job = wait(client, str(job.name))
    assert job.state == types.JobState.JOB_STATE_SUCCEEDED
    assert job.dest is not None and job.dest.inlined_embed_content_responses is not None
    got = [r.response.embedding.values for r in job.dest.inlined_embed_content_responses]  # type: ignore[union-attr]
    direct = client.models.embed_content(
        model="gemini-embedding-001",
        contents=texts,
        config=types.EmbedContentConfig(output_dimensionality=8),
    )
    assert got == [e.values for e in direct.embeddings or []]


def test_per_request_errors_and_metadata(emulator: Emulator, http: httpx.Client) -> None:
    body = inline_body(["fine", "", "also fine"])
    for i, item in enumerate(body["batch"]["inputConfig"]["requests"]["requests"]):
        item["metadata"] = {"row": i}
    body["batch"]["inputConfig"]["requests"]["requests"][2]["request"]["taskType"] = "NOPE"
    response = http.post(CREATE, json=body)
    assert response.status_code == 400  # a bad enum is malformed JSON: the whole call fails
    body["batch"]["inputConfig"]["requests"]["requests"][2]["request"]["taskType"] = "CLUSTERING"
    name = http.post(CREATE, json=body).json()["name"]
    emulator.batches.finish_now(name)
    done = http.get(f"/v1beta/{name}").json()
    entries = done["metadata"]["output"]["inlinedResponses"]["inlinedResponses"]
    assert [sorted(e) for e in entries] == [
        ["metadata", "response"],
        ["error", "metadata"],
        ["metadata", "response"],
    ]
    assert [e["metadata"] for e in entries] == [{"row": 0}, {"row": 1}, {"row": 2}]
    assert entries[1]["error"]["code"] == 3  # google.rpc.Code INVALID_ARGUMENT
    assert "content" in entries[1]["error"]["message"]
    assert done["metadata"]["batchStats"] == {
        "requestCount": "3",
        "successfulRequestCount": "2",
        "failedRequestCount": "1",
    }


# --- file jobs -------------------------------------------------------------------------------


def test_file_job_writes_a_downloadable_jsonl(
    client: genai.Client, emulator: Emulator, http: httpx.Client
) -> None:
    lines = [
        {"key": "b", "request": {"content": {"parts": [{"text": "second"}]}}},
        {"key": "a", "request": {"content": {"parts": [{"text": "first"}]}, "taskType": "X"}},
        "not json",
        {"key": "c", "request": {"content": {"parts": [{"text": "third"}]}}},
    ]
    data = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines).encode()
    uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": "application/jsonl"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        job = client.batches.create_embeddings(
            model="gemini-embedding-001", src={"file_name": uploaded.name}
        )
    job = wait(client, str(job.name))
    assert job.dest is not None and job.dest.file_name
    output = client.files.download(file=job.dest.file_name).decode()
    rows = [json.loads(line) for line in output.splitlines()]
    assert [row.get("key") for row in rows] == ["b", "a", None, "c"]
    assert [sorted(row) for row in rows] == [
        ["key", "response"],
        ["error", "key"],
        ["error"],
        ["key", "response"],
    ]
    assert len(rows[0]["response"]["embedding"]["values"]) == 3072
    # The service's download host path, and the file's metadata, agree.
    file_id = job.dest.file_name.removeprefix("files/")
    assert http.get(f"/download/v1beta/files/{file_id}:download?alt=media").text == output
    resource = client.files.get(name=job.dest.file_name)
    assert resource.source == types.FileSource.GENERATED
    assert resource.download_uri
    # Uploaded files cannot be downloaded, as on the service.
    with pytest.raises(genai_errors.ClientError) as caught:
        client.files.download(file=str(uploaded.name))
    assert caught.value.code == 400


def test_file_source_errors(client: genai.Client, http: httpx.Client) -> None:
    missing = {"batch": {"inputConfig": {"fileName": "files/nope"}}}
    assert http.post(CREATE, json=missing).status_code == 403
    both = inline_body(["x"])
    both["batch"]["inputConfig"]["fileName"] = "files/x"
    answer = http.post(CREATE, json=both)
    assert answer.status_code == 400
    assert "exactly one" in answer.json()["error"]["message"]
    empty = client.files.upload(file=io.BytesIO(b"\n\n"), config={"mime_type": "application/jsonl"})
    no_requests = {"batch": {"inputConfig": {"file_name": empty.name}}}
    assert http.post(CREATE, json=no_requests).status_code == 400


# --- list, cancel, delete --------------------------------------------------------------------


def test_list_pages(client: genai.Client, http: httpx.Client) -> None:
    names = [str(create(client, [f"job {i}"]).name) for i in range(5)]
    assert [j.name for j in client.batches.list(config={"page_size": 2})] == names
    first = http.get("/v1beta/batches", params={"pageSize": 2}).json()
    assert [op["name"] for op in first["operations"]] == names[:2]
    last = http.get("/v1beta/batches", params={"pageSize": 2, "pageToken": "4"}).json()
    assert [op["name"] for op in last["operations"]] == names[4:]
    assert "nextPageToken" not in last


def test_cancel_then_delete(client: genai.Client, emulator: Emulator, http: httpx.Client) -> None:
    emulator.batch_step_sec = 30
    name = str(create(client, ["a", "b"]).name)
    client.batches.cancel(name=name)
    job = client.batches.get(name=name)
    assert job.state == types.JobState.JOB_STATE_CANCELLED
    raw = http.get(f"/v1beta/{name}").json()
    assert raw["done"] is True
    assert raw["error"]["code"] == 1
    assert "output" not in raw["metadata"]
    again = http.post(f"/v1beta/{name}:cancel")
    assert again.status_code == 400
    assert again.json()["error"]["status"] == "FAILED_PRECONDITION"
    client.batches.delete(name=name)
    assert http.get(f"/v1beta/{name}").status_code == 404
    assert http.delete(f"/v1beta/{name}").status_code == 404
    assert name not in emulator.batches.names()


@pytest.mark.parametrize(
    ("trigger", "state", "code"),
    [("[fail]", "BATCH_STATE_FAILED", 13), ("[expire]", "BATCH_STATE_EXPIRED", 4)],
)
def test_display_name_triggers(
    emulator: Emulator, http: httpx.Client, trigger: str, state: str, code: int
) -> None:
    name = http.post(CREATE, json=inline_body(["x"], displayName=f"t {trigger}")).json()["name"]
    emulator.batches.finish_now(name)
    done = http.get(f"/v1beta/{name}").json()
    assert done["metadata"]["state"] == state
    assert done["done"] is True
    assert done["error"]["code"] == code
    assert "output" not in done["metadata"]


# --- validation, auth, quotas -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "batch"),
        ({"batch": {}}, 400, "input_config"),
        ({"batch": {"inputConfig": {"requests": {"requests": []}}}}, 400, "at least one"),
        ({"batch": {"bogus": 1}}, 400, "Unknown name"),
        (inline_body(["x"], model="models/gemini-embedding-2"), 400, "differs"),
    ],
)
def test_create_validation(http: httpx.Client, body: dict, status: int, fragment: str) -> None:
    answer = http.post(CREATE, json=body)
    assert answer.status_code == status
    assert fragment in answer.json()["error"]["message"]


def test_unknown_model_and_batch(http: httpx.Client) -> None:
    path = "/v1beta/models/no-such-model:asyncBatchEmbedContent"
    assert http.post(path, json=inline_body(["x"])).status_code == 404
    assert http.get("/v1beta/batches/nope").status_code == 404


def test_auth_and_quota_apply(emulator: Emulator, http: httpx.Client) -> None:
    emulator.api_key = "secret"
    assert http.post(CREATE, json=inline_body(["x"])).status_code == 403
    assert http.get("/v1beta/batches").status_code == 403
    headers = {"x-goog-api-key": "secret"}
    name = http.post(CREATE, json=inline_body(["x"]), headers=headers).json()["name"]
    emulator.quotas = {"getBatch": 60}
    assert http.get(f"/v1beta/{name}", headers=headers).status_code == 200
    limited = http.get(f"/v1beta/{name}", headers=headers)
    assert limited.status_code == 429
    assert "retryDelay" in limited.text
