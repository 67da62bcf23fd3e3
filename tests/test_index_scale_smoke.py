"""Smoke test of benchmarks/index_scale.py: a tiny run of all four kinds prints the table.

At ``--scale 0.001`` the corpus is a 100 KB text, two pictures, one two-page PDF and 8 s
of video; each kind is indexed and asked against the emulator in its own process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "index_scale.py"

pytest.importorskip("aiohttp")  # the emulator
pytest.importorskip("av")  # the video
pytest.importorskip("pypdfium2")  # the PDFs

_NUMBER = re.compile(r"^[\d,]+(\.\d+)?( s| MB)?$")


# About 30 s on a 2-core machine: eight CLI runs of ~3 s CPU each, mostly imports
# (google.genai); the allowance is for a machine busy with other work.
@pytest.mark.timeout(240)
def test_index_scale_tiny_run_prints_four_rows(tmp_path: Path) -> None:
    keep = tmp_path / "keep"
    cmd = [sys.executable, str(SCRIPT), "--scale", "0.001", "--keep", str(keep)]
    process = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        out, err = process.communicate(timeout=220)
    except subprocess.TimeoutExpired:
        process.terminate()  # SIGTERM: the script stops its emulator and children
        out, err = process.communicate(timeout=30)
        pytest.fail(f"no table within 220 s:\n{out}\n{err}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, out + err
    header = next(line for line in out.splitlines() if line.startswith("| kind |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == [
        "kind", "size", "pieces", "index wall", "requests", "index peak RSS",
        "ask wall", "ask peak RSS", "rc (index/ask)",
    ]  # fmt: skip
    rows = {
        cells[0]: dict(zip(columns, cells, strict=True))
        for line in out.splitlines()
        if line.startswith("| ") and not line.startswith("| kind |")
        for cells in [[c.strip() for c in line.strip("|").split("|")]]
    }
    assert sorted(rows) == ["images", "pdfs", "text", "video"], out
    for kind, row in rows.items():
        assert row["rc (index/ask)"] == "0/0", row
        assert int(row["pieces"].replace(",", "")) > 0, row
        assert int(row["requests"].replace(",", "")) > 0, row
        for column in ("index wall", "index peak RSS", "ask wall", "ask peak RSS"):
            assert _NUMBER.match(row[column]), (kind, column, row[column])
        assert float(row["index peak RSS"].split()[0]) > 10, row  # a Python process
    assert "no quota" in out
    # --keep kept the corpus, the stores and the logs
    for kind in rows:
        assert (keep / "corpus" / f"{kind}.json").is_file()
        assert (keep / "stores" / kind / "manifest.json").is_file()
        assert (keep / "logs" / f"{kind}-index.out").is_file()


def test_index_scale_rejects_unknown_kinds() -> None:
    cmd = [sys.executable, str(SCRIPT), "--only", "text,audio"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert "choose from text,images,pdfs,video" in done.stderr


def test_index_scale_json_names_every_figure() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import index_scale
    finally:
        sys.path.remove(str(SCRIPT.parent))
    run = index_scale.Run(0, 1.5, 120.0, 1.2, 0.5, stdout="", stderr_tail="")
    result = index_scale.KindResult("text", 1, 1000, 0.1, run, run, 3, 0, 12)
    data = json.loads(index_scale.as_json([result], 0.5))
    assert data["scale"] == 0.5 and data["emulator"]["quota"] is None
    kind = data["kinds"][0]
    assert (kind["pieces"], kind["requests"], kind["index"]["rc"]) == (12, 3, 0)
    assert kind["ask"]["peak_rss_mb"] == 120.0
