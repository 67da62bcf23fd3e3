"""`omniembed index --batch-job`: one Gemini batch job for the changed files, resumed by
name when a run is interrupted while waiting."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omniembed import GeminiEmbedder
from omniembed.emulator import Emulator
from omniembed.rag import Store, index_folder

from .helpers import corpus, run


def _job_creations(emu: Emulator) -> list[str]:
    return [r.path for r in emu.requests if r.path.endswith(":asyncBatchEmbedContent")]


def test_batch_job_indexes_like_direct_calls(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu.batch_step_sec = 0.05
    folder, store = corpus(tmp_path), tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url]
    code, out, _ = run(
        capsys, "index", str(folder), *base, "--batch-job", "--batch-poll-sec", "0.05", "--quiet"
    )
    assert code == 0, out
    assert "embedded by batch job batches/" in out
    assert len(_job_creations(emu)) == 1
    # Direct embedding calls carry only the video's clips and the audio's windows (both
    # are cut into segments locally).
    direct = [r for r in emu.requests if r.path.endswith(":batchEmbedContents")]
    parts = [p for r in direct for q in r.json["requests"] for p in q["content"]["parts"]]
    assert {_mime(p) for p in parts} == {"video/mp4", "audio/wav"}
    assert not (store / "batch-job.json").exists()  # done: nothing left to resume
    code, out, _ = run(capsys, "ask", "When was the lighthouse built?", *base, "--json")
    assert json.loads(out)["hits"][0]["source"] == "lighthouse.pdf"


@pytest.mark.parametrize("meanwhile", ["finished", "cancelled"])
def test_interrupted_wait_resumes_the_same_job(
    emu: Emulator, tmp_path: Path, meanwhile: str
) -> None:
    folder, store = corpus(tmp_path), tmp_path / "store"
    for timed in ("harbour.mp4", "foghorn.wav"):  # only batchable files (not segmented)
        (folder / timed).unlink()
    emu.batch_step_sec = 600  # the job cannot finish while the first run waits
    first = subprocess.Popen(
        [sys.executable, "-m", "omniembed", "index", str(folder), "--store", str(store),
         "--base-url", emu.base_url, "--batch-job", "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        record_file = store / "batch-job.json"
        deadline = time.monotonic() + 60
        while not record_file.exists() and first.poll() is None:
            assert time.monotonic() < deadline, "the job was never submitted"
            time.sleep(0.05)
    finally:
        first.kill()  # as a crash or Ctrl-C would, while it waits for the job
        first.wait()
    record = json.loads(record_file.read_text("utf-8"))
    assert len(_job_creations(emu)) == 1
    if meanwhile == "finished":
        emu.batches.finish_now(record["name"])
    else:
        GeminiEmbedder(api_key="k", base_url=emu.base_url).batch_job(record["name"]).cancel()
        emu.batch_step_sec = 0.05
    report = index_folder(
        folder,
        store,
        base_url=emu.base_url,
        batch_job=True,
        batch_poll_interval=0.05,
        progress=False,
    )
    if meanwhile == "finished":
        assert report.batch_job == record["name"]
        assert len(_job_creations(emu)) == 1  # resumed by name, not submitted again
    else:  # a cancelled job has nothing to give: a new one is submitted
        assert report.batch_job != record["name"]
        assert len(_job_creations(emu)) == 2
    assert not report.failed and len(report.indexed) == 5
    assert not record_file.exists()
    with Store.open(store) as opened:
        assert opened.count() == report.total_pieces > 0


def _mime(part: dict[str, object]) -> object:
    blob = part.get("inlineData") or part.get("inline_data") or {}
    assert isinstance(blob, dict)
    return blob.get("mimeType") or blob.get("mime_type")
