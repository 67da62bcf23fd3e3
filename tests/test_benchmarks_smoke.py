"""Smoke test of benchmarks/compare.py: a quick run prints the side-by-side table.

Runs with the test extra only: the anchor integrations (llama-index-embeddings-google-genai,
langchain-google-genai, llama-index-embeddings-dashscope) need not be installed; when they
are not, the script says so and skips them.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "compare.py"

pytest.importorskip("aiohttp")  # the emulator
pytest.importorskip("dashscope")

#: Where the anchors of benchmarks/loop_lag.py live (the bench extra installs them).
_ANCHOR_MODULES = {
    "LlamaIndex GoogleGenAIEmbedding": "llama_index.embeddings.google_genai",
    "LangChain GoogleGenerativeAIEmbeddings": "langchain_google_genai",
}


def test_compare_quick_prints_the_table(tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(SCRIPT),
        "--quick",
        "--only",
        "omniembed",
        "--only",
        "dashscope-llamaindex",
        "--metrics",
        "throughput,cpu",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--timeout",
        "60",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "| provider | client | throughput, items/s (quota, 200 ms) | CPU ms/item" in out
    for row in (
        "| Gemini API | omniembed GeminiEmbedder | ",
        "| DashScope | omniembed DashScopeEmbedder | ",
        "| Vertex AI | omniembed VertexMultiModalEmbedder | ",
    ):
        line = next(line for line in out.splitlines() if line.startswith(row))
        cells = [c.strip() for c in line.strip("|").split("|")]
        # throughput and CPU are numbers for omniembed, not "fails (...)"
        assert all(c[0].isdigit() for c in cells[2:]), line
    assert "| LlamaIndex GoogleGenAIEmbedding |" not in out  # not selected
    try:
        anchor = importlib.util.find_spec("llama_index.embeddings.dashscope")
    except ModuleNotFoundError:  # llama_index itself is missing
        anchor = None
    if anchor is None:
        assert "LlamaIndex DashScopeEmbedding: not installed" in out
        assert (
            "| DashScope | LlamaIndex DashScopeEmbedding | not installed | not installed |" in out
        )


def test_quota_benchmark_quick_prints_its_table() -> None:
    script = ROOT / "benchmarks" / "quota.py"
    cmd = [
        sys.executable,
        str(script),
        *("--chunks", "70", "--words", "300", "--window-sec", "1", "--tiers", "free"),
        *("--only", "omniembed", "--only", "omniembed-learnt"),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| free |")]
    assert len(rows) == 4  # printed as measured, then in the closing table
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == "70/70", row  # everything embedded
        assert int(cells[3]) <= 5, row  # rejected calls


def test_loop_lag_benchmark_prints_its_table() -> None:
    script = ROOT / "benchmarks" / "loop_lag.py"
    cmd = [sys.executable, str(script), *("--texts", "40", "--images", "4", "--repeat", "1")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "| client | inputs | max lag, ms | p99 lag, ms | busy max, ms |" in out
    rows = [line for line in out.splitlines() if line.startswith("| omniembed ")]
    assert len(rows) == 9, out
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert all(c[0].isdigit() for c in cells[2:]), row  # measured, not "FAILED"
    for anchor in ("LlamaIndex GoogleGenAIEmbedding", "LangChain GoogleGenerativeAIEmbeddings"):
        line = next(line for line in out.splitlines() if line.startswith(f"| {anchor} |"))
        if not _installed(_ANCHOR_MODULES[anchor]):
            assert "not installed" in line


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def test_sound_segments_benchmark_quick_prints_its_table() -> None:
    av = pytest.importorskip("av")
    if not {"libmp3lame", "aac"} <= set(av.codecs_available):
        pytest.skip("this FFmpeg build has no MP3 or AAC encoder")
    script = ROOT / "benchmarks" / "sound_segments.py"
    done = subprocess.run(
        [sys.executable, str(script), "--quick"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=ROOT,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "| case | source | segments | requests (429s) | uploaded (÷ source) |" in out
    expected = {"10 min MP3": 8, "10 min WAV": 8, "5 min MP4 with sound": 4}
    for name, segments in expected.items():
        line = next(line for line in out.splitlines() if line.startswith("|") and name in line)
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[2] == str(segments), line
        assert cells[3].endswith("(0)"), line  # no call refused by the quota
        # The MP3 and WAV windows go inline as base64: about 4/3 of the source's bytes.
        uploaded = float(cells[4].split("(")[1].rstrip("×)"))
        assert 0.9 <= uploaded <= 1.5, line
