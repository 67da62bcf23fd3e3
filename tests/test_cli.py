"""The `omniembed` command: the demo (the README's main job) and the emulator subcommand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from omniembed.cli import main


def _answers(out: str) -> dict[str, str]:
    """Each question's block of the demo output, by question."""
    blocks = out.split("\nQ: ")[1:]
    return {block.split("\n", 1)[0]: block for block in blocks}


def test_demo_indexes_every_modality_and_answers_with_citations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "offline, on the built-in emulator" in out
    assert "not a model" in out
    assert "indexed 9 files (12 pieces), 0 unchanged, 0 removed, 0 skipped, 0 failed" in out
    assert "Re-indexed unchanged: 0 requests" in out
    answers = _answers(out)
    assert len(answers) == 4
    lighthouse = answers["When was the lighthouse built?"]
    assert lighthouse.split("Hits:\n")[1].startswith("  1. pdf_page  lighthouse-guide.pdf, page 1")
    assert "built in 1874" in lighthouse
    ferry = answers["When does the ferry leave for Seal Island?"]
    assert "  1. text      ferry.md" in ferry and "9:15" in ferry
    orange = answers["Which picture or video clip shows an orange sky?"]
    top = orange.split("Hits:\n")[1].splitlines()[:2]
    assert "harbour-webcam.mp4 00:04–00:08" in top[0]  # the dusk half of the video
    assert "image     sunset.png" in top[1]
    assert (
        "Mostly orange: Source [1]: harbour-webcam.mp4 00:04–00:08; Source [2]: sunset.png"
        in orange
    )
    # The recording, found by the frequency the question names, cited by its segment.
    tone = answers["Which recording has a 220 Hz tone?"]
    assert tone.split("Hits:\n")[1].startswith("  1. audio     foghorn.wav 00:00–00:03")
    assert "Heard a steady tone near 220 Hz (Source [1]: foghorn.wav 00:00–00:03)." in tone


def test_demo_live_without_a_key_says_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    assert main(["demo", "--live"]) == 1
    assert "needs a Gemini API key: set GEMINI_API_KEY" in capsys.readouterr().out


def test_readme_shows_the_demo_output_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text("utf-8")
    shown = readme.split("<!-- demo-output -->\n```text\n", 1)[1].split("```", 1)[0]
    assert main(["demo"]) == 0
    assert capsys.readouterr().out == shown


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
