"""The `omniembed` command: the demo (the README's main job) and the emulator subcommand."""

from __future__ import annotations

import subprocess
import sys

import pytest

from omniembed.cli import main


def test_demo_indexes_searches_and_reuses_the_cache(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "offline, on the built-in emulator" in out
    assert "not a model" in out
    assert "indexed 8 items (5 text notes, 3 images) in 1 request(s)" in out
    text_hits = out.split('text query: "')[1].split("\n")
    assert "sourdough.md" in text_hits[1]  # the best hit for a sourdough question
    image_hits = out.split("image query:")[1].split("\n")
    assert "sunset.png" in image_hits[1]  # the best hit for an orange-sky photo
    assert "re-indexing the unchanged corpus: 0 requests, 8 cache hits" in out


def test_emulator_subcommand_passes_its_options_through() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "omniembed.cli", "emulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--latency-ms" in result.stdout and "--quota" in result.stdout


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["nonsense"])
    assert raised.value.code == 2
