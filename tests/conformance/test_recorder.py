"""The recorder, offline: the whole conformance suite recorded on the emulator target.

Proves that no planted secret (API key, bearer token, project number, the wrong keys the
error scenarios send) reaches a cassette, that every cassette loads with the replay
checker's loader, that the replay checker finds no difference on the exchanges it can
replay as recorded, and that the request count stated in test_scenarios.py is still true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from omniembed.emulator.conformance.recorder import Redactor, base64_placeholder
from omniembed.emulator.conformance.recordings import load_cassettes

from .conftest import PLANTED_KEY, PLANTED_PROJECT
from .test_scenarios import STATED_REQUESTS

ROOT = Path(__file__).resolve().parents[2]
SECRETS = (
    PLANTED_KEY,
    PLANTED_PROJECT,
    "AIzaSyWrongKeyForConformance",  # the bad-key scenarios' keys
    "sk-wrongkeyforconformance",
    "ya29.wrong-token",
)
#: Cassettes the replay checker can send back as they are: no media (replaced by a
#: placeholder), no wrong key (the replaying emulator requires none), no upload session id.
REPLAYABLE = (
    "test_gemini_2_text_prefixes_rank_and_truncated_vectors_are_unit",
    "test_gemini_001_task_types_and_titles",
    "test_generate_plain_and_with_system_instruction",
    "test_generate_stream",
    "test_generate_json_output",
    "test_generate_tool_call",
    "test_files_api_upload_then_generate",
)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("cassettes")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "DASHSCOPE_API_KEY"):
        env.pop(name, None)  # the emulator target never reads them; keep the run hermetic
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests/conformance/test_scenarios.py",
            "-q",
            "-p",
            "no:cacheprovider",
            "--record",
            str(folder),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return folder, run.stdout


def test_no_secret_reaches_a_cassette(recorded: tuple[Path, str]) -> None:
    folder, _ = recorded
    files = sorted(folder.rglob("*.yaml"))
    assert {f.parent.name for f in files} == {"gemini", "vertex", "dashscope"}
    for path in files:
        text = path.read_text("utf-8")
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} in {path.name}"
        assert "127.0.0.1" not in text  # cassettes name the real hosts
    text = "".join(f.read_text("utf-8") for f in files)
    assert "projects/<project>/" in text and "<base64: " in text


def test_cassettes_load_and_the_count_is_as_stated(recorded: tuple[Path, str]) -> None:
    folder, output = recorded
    exchanges = [e for c in load_cassettes(folder) for e in c.exchanges]
    polls = [e for e in exchanges if e.method == "GET"]
    assert len(exchanges) - len(polls) == STATED_REQUESTS
    summary = re.search(r"conformance: (\d+) requests", output)
    assert summary and int(summary.group(1)) == STATED_REQUESTS


def test_the_replay_checker_finds_no_difference(recorded: tuple[Path, str], tmp_path: Path) -> None:
    folder, _ = recorded
    for name in REPLAYABLE:
        (tmp_path / "gemini").mkdir(exist_ok=True)
        shutil.copy(folder / "gemini" / f"{name}.yaml", tmp_path / "gemini")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run(
        [sys.executable, "-m", "omniembed.emulator.conformance", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:]
    assert "differs: 0" in run.stdout
    assert re.search(r"match: [1-9]", run.stdout)


def test_redactor_removes_each_kind_of_secret() -> None:
    redactor = Redactor(["my-project-42"])
    uri = redactor.uri(
        "https://x.googleapis.com/v1/projects/123456789012/locations/l/m?key=AIzaSyAbc&alt=sse"
    )
    assert "123456789012" not in uri and "AIzaSyAbc" not in uri and "alt=sse" in uri
    headers = redactor.headers(
        {
            "Authorization": "Bearer ya29.abc",
            "x-goog-api-key": "AIzaSyAbc",
            "X-Goog-Upload-URL": "https://up.example/upload?upload_id=SIGNED&sig=1",
            "Content-Type": "application/json",
        },
        frozenset({"authorization", "x-goog-api-key", "x-goog-upload-url", "content-type"}),
    )
    flat = repr(headers)
    assert "ya29.abc" not in flat and "AIzaSyAbc" not in flat and "SIGNED" not in flat
    body = redactor.value(
        {
            "data": {"policy": "eyJ...", "signature": "abc", "oss_access_key_id": "LTAI"},
            "note": "sk-abcdef123456 in my-project-42",
            "image": "A" * 400,
        }
    )
    flat = repr(body)
    for secret in ("eyJ", "'abc'", "LTAI", "sk-abcdef123456", "my-project-42"):
        assert secret not in flat
    assert body["image"] == base64_placeholder("A" * 400)
    assert str(body["image"]).startswith("<base64: 300 bytes, sha256 ")
