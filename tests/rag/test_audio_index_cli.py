"""Audio in `omniembed index` / `ask` against the emulator (issue 15, item 3): MP3, WAV and
M4A (AAC) files become timed segments of the model's per-input limit, `ask` cites them as
``file mm:ss–mm:ss`` and hands the LLM only the segment's stretch; a corrupt file fails
alone; models that do not hear audio skip it with the reason."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from omniembed.emulator import Emulator
from omniembed.rag import IndexPlan, index_folder, plan_folder, search
from omniembed.rag.corpus import SourceFile, plan_file
from omniembed.rag.embedders import Capabilities
from tests.emulator import audio_factory as sound

from .helpers import GENERATION_ROUTES, run

av = pytest.importorskip("av")

RATE = 16_000


def m4a(samples: np.ndarray, rate: int = RATE) -> bytes:
    """AAC in an MP4 container with no picture: FFmpeg's mp4 muxer writes the generic
    ``isom`` brand, so the bytes sniff as video/mp4 (as many real .m4a files do)."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as output:
        stream = output.add_stream("aac", rate=rate)
        stream.layout = "mono"
        for start in range(0, samples.size, 1024):
            chunk = np.ascontiguousarray(samples[None, start : start + 1024])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode():
            output.mux(packet)
    return out.getvalue()


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of three recordings (each a different steady tone) and a note: 100 s of
    MP3 (two windows: 80 s + 20 s), 90 s of WAV (80 s + 10 s), 30 s of M4A (one)."""
    folder = tmp_path_factory.mktemp("recordings")
    (folder / "harbour-talk.mp3").write_bytes(sound.mp3(sound.tone(100, 500, RATE), RATE))
    (folder / "foghorn.wav").write_bytes(sound.wav(sound.tone(90, 220, 8000), 8000))
    (folder / "memo.m4a").write_bytes(m4a(sound.tone(30, 700)))
    (folder / "notes.md").write_text("# Harbour notes\n\nThe ferry leaves at 9:15.\n")
    return folder


def spans(store: Path, base_url: str) -> dict[str, list[tuple[float, float]]]:
    """Each audio file's stored segments, in order."""
    hits = search("anything", store, top_k=50, base_url=base_url)
    found: dict[str, list[tuple[float, float]]] = {}
    for hit in sorted(hits, key=lambda h: (h.source, h.start_offset_sec or 0)):
        if hit.modality == "audio":
            assert hit.start_offset_sec is not None and hit.end_offset_sec is not None
            found.setdefault(hit.source, []).append((hit.start_offset_sec, hit.end_offset_sec))
    return found


def test_audio_files_become_timed_segments_and_ask_cites_them(
    recordings: Path, emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    base = ["--store", str(store), "--base-url", emu.base_url]
    code, out, _ = run(capsys, "index", str(recordings), *base, "--quiet")
    assert code == 0, out
    assert "indexed 4 files (6 pieces), 0 unchanged, 0 removed, 0 skipped, 0 failed" in out
    # Before the first request: the plan counts the segments and says they are not estimated.
    assert "to index: 6 pieces in 4 files" in out and "plus 3 audio files" in out

    stored = spans(store, emu.base_url)
    assert stored.keys() == {"foghorn.wav", "harbour-talk.mp3", "memo.m4a"}
    # MP3 and WAV windows are stream copies: each ends with its last packet (< 0.1 s over).
    assert [x for s in stored["harbour-talk.mp3"] for x in s] == pytest.approx(
        [0, 80, 80, 100], abs=0.1
    )
    assert [x for s in stored["foghorn.wav"] for x in s] == pytest.approx([0, 80, 80, 90], abs=0.1)
    # The M4A (sniffed video/mp4, audio by its tracks) is decoded to 16 kHz WAV; its length
    # is the AAC stream's (whole 1,024-sample frames).
    assert stored["memo.m4a"] == [(0, pytest.approx(30, abs=0.1))]
    sent = [r for r in emu.requests if r.route not in GENERATION_ROUTES]
    mimes = {
        part["inlineData"]["mimeType"]
        for r in sent
        for entry in r.json["requests"]
        for part in entry["content"]["parts"]
        if "inlineData" in part
    }
    assert mimes == {"audio/mpeg", "audio/wav"}  # no audio/mp4: the model takes MP3 and WAV

    # A frequency in the question finds the recording of that tone (the emulator's bridge
    # from words to sound); the answer cites its segment, and the LLM hears that stretch.
    emu.clear_requests()
    code, out, _ = run(capsys, "ask", "Which recording has a 700 Hz tone?", *base)
    assert code == 0, out
    hits = out.split("Hits:\n")[1].splitlines()
    assert re.match(r"  1\. audio     memo\.m4a 00:00–00:30 +0\.\d{3}$", hits[0]), hits[0]
    assert "Heard a steady tone near 700 Hz (Source [1]: memo.m4a 00:00–00:30)" in out
    assert out.splitlines()[-1].startswith("Sources: [1] memo.m4a 00:00–00:30")

    emu.clear_requests()
    code, out, _ = run(capsys, "ask", "Which recording has a 500 Hz tone?", *base, "--json")
    assert code == 0, out
    answer = json.loads(out)
    top = answer["hits"][0]
    assert top["modality"] == "audio" and top["source"] == "harbour-talk.mp3"
    assert top["citation"] in ("harbour-talk.mp3 00:00–01:20", "harbour-talk.mp3 01:20–01:40")
    # The emulator's note says what arrived: MP3 windows of 80 s and 20 s, not the 100 s file.
    heard = re.findall(r"audio/mpeg ([\d.]+)s, a steady tone near 500 Hz", answer["answer"])
    assert sorted(round(float(s)) for s in heard) == [20, 80]
    [generate] = [r for r in emu.requests if r.route == "generateContent"]
    parts = [p for c in generate.json["contents"] for p in c["parts"]]
    assert parts[0] == {"text": f"Source [1]: {top['citation']}"}
    blob = parts[1]["inlineData"]  # the window, cut locally (no videoMetadata for audio)
    assert parts[1].keys() == {"inlineData"}
    assert (blob.get("mimeType") or blob.get("mime_type")) == "audio/mpeg"
    whole = (recordings / "harbour-talk.mp3").stat().st_size
    assert len(blob["data"]) * 3 / 4 < whole * 0.85  # base64: 4 characters per 3 bytes


def test_a_corrupt_mp3_fails_alone(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, store = tmp_path / "audio", tmp_path / "store"
    folder.mkdir()
    (folder / "good.wav").write_bytes(sound.wav(sound.tone(3, 440)))
    # An ID3 tag, then no MPEG frames: sniffs as MP3, FFmpeg cannot open it.
    (folder / "broken.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x10" + bytes(range(256)) * 8)
    # No recognisable header at all: the name says MP3, so it is corrupt, not "unsupported".
    (folder / "garbled.mp3").write_bytes(b"\x00garbage" * 64)
    base = ["--store", str(store), "--base-url", emu.base_url, "--quiet"]

    code, out, _ = run(capsys, "index", str(folder), *base, "--dry-run")
    assert code == 0 and "(0 unchanged, 0 skipped, 2 unreadable)" in out
    assert "audio: 1 file, about 1 segment (cut into windows when indexing" in out
    assert emu.requests == []

    code, out, err = run(capsys, "index", str(folder), *base)
    assert code == 1, out  # some files failed: a CI job must see it
    assert "indexed 1 files (1 pieces), 0 unchanged, 0 removed, 0 skipped, 2 failed" in out
    assert re.search(r"failed  broken\.mp3: the audio cannot be decoded \(Invalid data", out)
    assert "failed  garbled.mp3: the content is not an audio format" in out
    assert str(folder) not in out  # no absolute paths in the summary
    assert "2 files not indexed" in err
    assert spans(store, emu.base_url) == {"good.wav": [(0, 3)]}

    # A model that does not hear audio skips all three, broken or not: nothing failed.
    code, out, _ = run(capsys, "index", str(folder), "--store", str(tmp_path / "s001"),
                       "--base-url", emu.base_url, "--quiet",
                       "--model", "gemini-embedding-001")  # fmt: skip
    assert code == 0, out
    assert out.count("gemini-embedding-001 does not embed audio") == 3


@pytest.mark.parametrize(
    ("options", "model"),
    [
        (["--provider", "gemini", "--model", "gemini-embedding-001"], "gemini-embedding-001"),
        (["--provider", "dashscope"], "tongyi-embedding-vision-plus"),
    ],
)
def test_models_that_do_not_hear_audio_skip_it_with_the_reason(
    options: list[str],
    model: str,
    recordings: Path,
    emu: Emulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "store"
    code, out, _ = run(capsys, "index", str(recordings), "--store", str(store),
                       "--base-url", emu.base_url, "--quiet", *options)  # fmt: skip
    assert code == 0, out  # skipped on purpose is not a failure
    assert "indexed 1 files (1 pieces), 0 unchanged, 0 removed, 3 skipped, 0 failed" in out
    for name in ("foghorn.wav", "harbour-talk.mp3", "memo.m4a"):
        assert f"  skipped {name}: {model} does not embed audio" in out
    sent = json.dumps([r.json for r in emu.requests])
    assert "audio/" not in sent


def _caps(*, video: bool, audio: bool) -> Capabilities:
    return Capabilities(1500, True, video, audio, True, audio_window_sec=80.0 if audio else None)


def _source(path: Path) -> SourceFile:
    stat = path.stat()
    return SourceFile(path, path.name, stat.st_size, stat.st_mtime_ns)


def test_tracks_decide_video_or_audio_not_the_mime_type(tmp_path: Path) -> None:
    with_sound = tmp_path / "clip.mp4"
    with_sound.write_bytes(sound.clip(2, sound=sound.tone(2, 440)))
    only_sound = tmp_path / "memo.m4a"
    only_sound.write_bytes(m4a(sound.tone(2, 440)))
    both = _caps(video=True, audio=True)
    plan = plan_file(_source(with_sound), both, "m", "h")
    assert plan.timed is not None and plan.timed.modality == "video"  # sound or not
    plan = plan_file(_source(only_sound), both, "m", "h")
    assert plan.timed is not None and plan.timed.modality == "audio"
    assert plan.timed.media.mime_type == "video/mp4"
    # A model that embeds video but does not hear audio skips the sound-only MP4 as audio.
    with pytest.raises(Exception, match="m does not embed audio"):
        plan_file(_source(only_sound), _caps(video=True, audio=False), "m", "h")


def test_the_plan_counts_audio_segments(recordings: Path, emu: Emulator, tmp_path: Path) -> None:
    plans: list[IndexPlan] = []
    store = tmp_path / "store"
    dry = plan_folder(recordings, store, base_url=emu.base_url)
    index_folder(recordings, store, base_url=emu.base_url, progress=False, on_plan=plans.append)
    for plan in (dry, plans[0]):
        assert (plan.files, plan.pieces, plan.audios, plan.audio_pieces) == (4, 6, 3, 5)
        assert plan.videos == 0
        assert plan.estimate is not None and plan.estimate.inputs == 1  # the note alone
    assert plans[0].total_pieces == 6
