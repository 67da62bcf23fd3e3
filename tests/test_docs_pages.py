"""The guide pages run as written: each page's Python blocks, concatenated in order, in a
fresh process and an empty working directory, against the emulator the page starts.

Same rule as `test_docs_snippets.py` (the framework guides), for the video/PDF guide and
the emulator-in-CI guide; the pytest fixture shown in the latter also runs under pytest.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["video_and_pdf.md", "emulator_in_ci.md"]


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text("utf-8"), re.S)


@pytest.mark.parametrize("page", PAGES)
def test_page_runs(page: str, tmp_path: Path) -> None:
    blocks = python_blocks(page)
    assert len(blocks) >= 6
    # The page starts the emulator first and stops it last, so it runs on its own.
    assert "emu = Emulator().start()" in blocks[0]
    assert blocks[-1].strip() == "emu.stop()"
    done = subprocess.run(
        [sys.executable, "-c", "\n".join(blocks)],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]


def test_ci_fixture_runs_under_pytest(tmp_path: Path) -> None:
    """The conftest example in emulator_in_ci.md (fixtures and a test) passes as a test file."""
    [block] = [b for b in python_blocks("emulator_in_ci.md") if "@pytest.fixture" in b]
    (tmp_path / "pytest.ini").write_text("[pytest]\n", "utf-8")  # keep the repo's config out
    (tmp_path / "test_from_docs.py").write_text(block, "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_from_docs.py"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=tmp_path,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "1 passed" in done.stdout
