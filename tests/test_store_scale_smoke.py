"""Smoke test of benchmarks/store_scale.py: a small run builds both stores in child
processes and prints the table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "store_scale.py"

pytest.importorskip("numpy")


def test_store_scale_small_prints_both_backends(tmp_path: Path) -> None:
    cmd = [sys.executable, str(SCRIPT), "--pieces", "2000", "--dim", "256"]
    cmd += ["--qdrant-pieces", "300", "--dir", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=110, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "| backend | pieces | dim | build s |" in out
    row = next(line for line in out.splitlines() if line.startswith("| vector_index |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["2,000", "256"]
    assert all(c.replace(".", "").isdigit() for c in cells[3:]), row
    try:
        import qdrant_client  # noqa: F401
    except ImportError:
        assert "baseline skipped" in out
    else:
        assert "| qdrant | 300 | 256 |" in out
