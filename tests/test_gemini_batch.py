"""Gemini batch jobs end to end: GeminiEmbedder + the real google-genai SDK + the emulator."""

from __future__ import annotations

import io
import json
import pickle
import re
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from google import genai
from google.genai import types as genai_types
from google.oauth2.credentials import Credentials

from omniembed import (
    BatchJobError,
    BatchJobTimeoutError,
    ConfigurationError,
    EmptyInputError,
    GeminiEmbedder,
    InvalidArgumentError,
    Media,
    NotFoundError,
    Task,
)
from omniembed.emulator import Emulator
from omniembed.providers.gemini_batch import GeminiBatchJob
from omniembed.runtime.cache import MemoryCache
from tests import media_factory as make

DOCS = Path(__file__).resolve().parents[1] / "docs"
FAST = 0.05  # poll interval for tests


@pytest.fixture
def emu(emu: Emulator) -> Iterator[Emulator]:
    """The session emulator with fast batch jobs."""
    emu.batch_step_sec = 0.05
    yield emu
    emu.batch_step_sec = 0.2


def gemini(emu: Emulator, model: str = "gemini-embedding-2", **kw: object) -> GeminiEmbedder:
    return GeminiEmbedder(model, api_key="test-key", base_url=emu.base_url, **kw)  # type: ignore[arg-type]


def routes(emu: Emulator) -> list[str | None]:
    return [r.route for r in emu.requests]


def created(emu: Emulator) -> dict:
    [record] = [r for r in emu.requests if r.route == "asyncBatchEmbedContent"]
    return record.json


def vectors(results: list) -> list[list[float]]:
    return [r.vector for r in results]


def sdk(emu: Emulator) -> genai.Client:
    options = genai_types.HttpOptions(base_url=emu.base_url, api_version="v1beta")
    return genai.Client(api_key="test-key", http_options=options)


# --- inline jobs ---------------------------------------------------------------------------


def test_inline_job_matches_embed_in_order(emu: Emulator) -> None:
    emu.batch_step_sec = 0.3  # long enough to see the job pending
    embedder = gemini(emu)
    inputs: list[object] = [
        "a red apple on a table",
        Media.from_bytes(make.png((200, 30, 30)), "image/png"),
        ["a caption", Media.from_bytes(make.jpeg((20, 200, 30)), "image/jpeg")],
        "the quarterly report",
    ]
    job = embedder.submit_batch_job(inputs, task=Task.RETRIEVAL_QUERY, display_name="inline")
    assert job.name.startswith("batches/")
    assert job.state == "JOB_STATE_PENDING"
    assert job.display_name == "inline"
    assert job.stats.total == 4
    requests = created(emu)["batch"]["inputConfig"]["requests"]["requests"]
    parts = [r["request"]["content"]["parts"] for r in requests]
    # gemini-embedding-2: the task is a text prefix, media parts are sent as they are.
    assert parts[0] == [{"text": "task: search result | query: a red apple on a table"}]
    assert "inline_data" in parts[1][0] or "inlineData" in parts[1][0]
    assert parts[2][0] == {"text": "task: search result | query: a caption"}
    assert all("taskType" not in r["request"] for r in requests)

    results = job.wait(poll_interval=FAST, progress=False).results()
    assert job.state == "JOB_STATE_SUCCEEDED"
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [r.embeddings[0].modality for r in results] == ["text", "image", "mixed", "text"]
    assert vectors(results) == vectors(embedder.embed(inputs, task=Task.RETRIEVAL_QUERY))


def test_001_task_type_and_dimension_inline_then_cached(emu: Emulator) -> None:
    embedder = gemini(emu, "gemini-embedding-001", output_dimensionality=256, cache=MemoryCache())
    texts = ["first text", "second text"]
    job = embedder.submit_batch_job(texts, task="RETRIEVAL_DOCUMENT")
    requests = created(emu)["batch"]["inputConfig"]["requests"]["requests"]
    assert [r["request"]["taskType"] for r in requests] == ["RETRIEVAL_DOCUMENT"] * 2
    assert [r["request"]["outputDimensionality"] for r in requests] == [256, 256]
    assert "uploadFile" not in routes(emu)
    results = job.wait(poll_interval=FAST, progress=False).results()
    assert len(results[0].vector) == 256
    # The job's vectors went to the embedder's cache: embed() now sends nothing.
    emu.clear_requests()
    cached = embedder.embed(texts)
    assert emu.requests == []
    assert all(r.cached for r in cached)
    assert vectors(cached) == vectors(results)
    fresh = gemini(emu, "gemini-embedding-001", output_dimensionality=256).embed(texts)
    assert vectors(fresh) == vectors(results)  # truncated vectors re-normalized alike


def test_001_per_input_titles_go_through_a_keyed_file(emu: Emulator) -> None:
    """google-genai sends one config for all inline requests: distinct titles need a file."""
    embedder = gemini(emu, "gemini-embedding-001")
    texts = ["one", "two", "three"]
    titles = ["Alpha", None, "Gamma"]
    job = embedder.submit_batch_job(texts, titles=titles)
    [input_file] = [f for f in emu.files.names() if emu.files.get(f).mime_type.endswith("jsonl")]
    lines = [json.loads(x) for x in emu.files.get(input_file).data.decode().splitlines()]
    assert [line["key"] for line in lines] == ["0", "1", "2"]
    assert [line["request"].get("title") for line in lines] == titles
    assert {line["request"]["taskType"] for line in lines} == {"RETRIEVAL_DOCUMENT"}
    assert created(emu)["batch"]["inputConfig"]["file_name"] == input_file
    results = job.wait(poll_interval=FAST, progress=False).results()
    assert vectors(results) == vectors(embedder.embed(texts, titles=titles))


# --- file jobs -------------------------------------------------------------------------------


def test_file_job_uploads_jsonl_and_downloads_output(emu: Emulator) -> None:
    embedder = gemini(emu)
    inputs: list[object] = [f"document {i}" for i in range(5)] + [
        Media.from_bytes(make.png((0, 0, 255)), "image/png")
    ]
    job = embedder.submit_batch_job(
        inputs, titles=[f"T{i}" for i in range(6)], inline_limit_bytes=0
    )
    assert routes(emu)[:3] == ["uploadFile", "uploadFileData", "asyncBatchEmbedContent"]
    upload = next(r for r in emu.requests if r.route == "uploadFile")
    assert upload.headers["x-goog-upload-header-content-type"] == "application/jsonl"
    results = job.wait(poll_interval=FAST, progress=False).results()
    assert "downloadFile" in routes(emu)
    assert [r.index for r in results] == list(range(6))
    reference = embedder.embed(inputs, titles=[f"T{i}" for i in range(6)])
    assert vectors(results) == vectors(reference)
    input_name = created(emu)["batch"]["inputConfig"]["file_name"]
    first = json.loads(emu.files.get(input_name).data.decode().splitlines()[0])
    assert first["request"]["content"]["parts"] == [{"text": "title: T0 | text: document 0"}]
    image = json.loads(emu.files.get(input_name).data.decode().splitlines()[5])
    assert set(image["request"]["content"]["parts"][0]) == {"inlineData"}


# --- per-request errors ------------------------------------------------------------------------


def test_per_request_error_inline_while_others_succeed(emu: Emulator) -> None:
    contents = [{"parts": [{"text": t}]} for t in ("first", "", "third")]
    client = sdk(emu)  # keep a reference: a collected Client closes its HTTP session
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = client.batches.create_embeddings(
            model="gemini-embedding-001",
            src={"inlined_requests": {"contents": contents}},  # type: ignore[typeddict-item]
        )
    job = gemini(emu, "gemini-embedding-001").batch_job(str(raw.name))
    results = job.wait(poll_interval=FAST, progress=False).results()
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, InvalidArgumentError)
    assert "content" in str(results[1].error)
    assert job.stats.failed == 1 and job.stats.succeeded == 2


def test_per_request_error_in_file_mapped_by_key(emu: Emulator) -> None:
    lines = [
        {"key": "2", "request": {"content": {"parts": [{"text": "third"}]}}},
        {"key": "0", "request": {"content": {"parts": [{"text": "first"}]}}},
        {"key": "1", "request": {"content": {"parts": [{"text": ""}]}}},
    ]
    client = sdk(emu)
    data = "\n".join(json.dumps(line) for line in lines).encode()
    uploaded = client.files.upload(file=io.BytesIO(data), config={"mime_type": "application/jsonl"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = client.batches.create_embeddings(
            model="gemini-embedding-001", src={"file_name": uploaded.name}
        )
    embedder = gemini(emu, "gemini-embedding-001")
    results = embedder.batch_job(str(raw.name)).wait(poll_interval=FAST, progress=False).results()
    assert [r.ok for r in results] == [True, False, True]
    assert isinstance(results[1].error, InvalidArgumentError)
    # The output file follows the input file's line order; the keys put results in place.
    direct = client.models.embed_content(model="gemini-embedding-001", contents=["first", "third"])
    assert [results[0].vector, results[2].vector] == [e.values for e in direct.embeddings or []]


# --- resume by name ---------------------------------------------------------------------------


RESUME = """
import json, sys
from omniembed import GeminiEmbedder
embedder = GeminiEmbedder("gemini-embedding-001", api_key="test-key", base_url=sys.argv[1],
                          output_dimensionality=64)
out = []
for name in sys.argv[2:]:
    job = embedder.batch_job(name)
    job.wait(poll_interval=0.05, progress=False)
    out.append([r.vector for r in job.results()])
print(json.dumps(out))
"""


def test_resume_by_name_in_a_new_process(emu: Emulator) -> None:
    """A process that knows only the job names gets the same results (inline: by order,
    file: by key)."""
    embedder = gemini(emu, "gemini-embedding-001", output_dimensionality=64)
    texts = [f"resumable text {i}" for i in range(7)]
    inline = embedder.submit_batch_job(texts)
    by_file = embedder.submit_batch_job(texts, inline_limit_bytes=0)
    assert "uploadFile" in routes(emu)
    done = subprocess.run(
        [sys.executable, "-c", RESUME, emu.base_url, inline.name, by_file.name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = vectors(embedder.embed(texts))
    assert json.loads(done.stdout) == [expected, expected]
    assert vectors(inline.wait(poll_interval=FAST, progress=False).results()) == expected


def test_resume_needs_the_same_model(emu: Emulator) -> None:
    job = gemini(emu, "gemini-embedding-001").submit_batch_job(["x"])
    with pytest.raises(ConfigurationError, match="gemini-embedding-001"):
        gemini(emu, "gemini-embedding-2").batch_job(job.name)
    assert GeminiBatchJob.from_name(gemini(emu, "gemini-embedding-001"), job.name).name == job.name


# --- cancel, delete, failures -------------------------------------------------------------------


def test_cancel_and_delete(emu: Emulator) -> None:
    emu.batch_step_sec = 30
    embedder = gemini(emu)
    job = embedder.submit_batch_job(["slow one", "slow two"])
    job.cancel()
    assert job.state == "JOB_STATE_CANCELLED"
    assert job.done
    with pytest.raises(BatchJobError, match="CANCELLED") as caught:
        job.results()
    assert caught.value.state == "JOB_STATE_CANCELLED"
    assert caught.value.job_name == job.name
    job.cancel()  # already ended: a no-op
    job.delete()
    with pytest.raises(NotFoundError):
        embedder.batch_job(job.name)


@pytest.mark.parametrize(
    ("trigger", "state"), [("[fail]", "JOB_STATE_FAILED"), ("[expire]", "JOB_STATE_EXPIRED")]
)
def test_failed_and_expired_jobs_raise_typed_errors(
    emu: Emulator, trigger: str, state: str
) -> None:
    job = gemini(emu).submit_batch_job(["doomed"], display_name=f"nightly {trigger}")
    job.wait(poll_interval=FAST, progress=False)
    assert job.state == state
    assert job.error is not None
    with pytest.raises(BatchJobError, match=re.escape(state)) as caught:
        job.results()
    assert caught.value.state == state
    assert "emulator trigger" in str(caught.value)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.state, copy.job_name, str(copy)) == (state, job.name, str(caught.value))


def test_results_before_the_end_and_wait_timeout(emu: Emulator) -> None:
    emu.batch_step_sec = 30
    job = gemini(emu).submit_batch_job(["pending"])
    with pytest.raises(BatchJobError, match="wait"):
        job.results()
    with pytest.raises(BatchJobTimeoutError, match="resume"):
        job.wait(poll_interval=FAST, timeout=0.15, progress=False)
    job.cancel()


def test_wait_polls_through_transient_errors_with_a_progress_bar(
    emu: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    job = gemini(emu, max_retries=0).submit_batch_job([f"text {i}" for i in range(20)])
    emu.faults = {"retry_delay_s": 0.01}  # the injected 429's retryDelay
    emu.inject("503", "429")
    results = job.wait(poll_interval=FAST, progress=True).results()
    assert all(r.ok for r in results)
    assert emu.clear_injected() == 0
    assert job.name in capsys.readouterr().err  # tqdm writes to stderr


# --- local checks -------------------------------------------------------------------------------


def test_vertex_is_refused_before_any_request(emu: Emulator) -> None:
    embedder = GeminiEmbedder(
        "gemini-embedding-001",
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=Credentials(token="t"),
        base_url=emu.base_url,
    )
    with pytest.raises(ConfigurationError, match="batch prediction"):
        embedder.submit_batch_job(["x"])
    with pytest.raises(ConfigurationError, match="Gemini API"):
        embedder.batch_job("batches/abc")
    assert emu.requests == []


def test_bad_input_is_refused_before_any_request(emu: Emulator) -> None:
    with pytest.raises(EmptyInputError, match="input 1"):
        gemini(emu).submit_batch_job(["fine", "   "])
    with pytest.raises(ConfigurationError, match="not a batch job name"):
        gemini(emu).batch_job("batches/../files/x")
    assert emu.requests == []


# --- the guide runs as written --------------------------------------------------------------------


def test_batch_jobs_page_runs() -> None:
    """The guide's Python blocks, in order (in-process: the page starts its own emulator)."""
    blocks = re.findall(r"```python\n(.*?)```", (DOCS / "batch_jobs.md").read_text("utf-8"), re.S)
    assert len(blocks) == 3
    exec(compile("\n".join(blocks), "batch_jobs.md", "exec"), {"__name__": "batch_jobs_md"})
