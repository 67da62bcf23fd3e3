"""`Embedder.embed_audio`: audio of any length as timed segments (issue 15, item 1).

Real google-genai over HTTP against the emulator: the windows are cut locally (stream copy
for MP3 and WAV, 16 kHz mono WAV otherwise) and sent in one call; each vector carries its
window's offsets. Local errors send nothing."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
import pytest

from omniembed import (
    AudioSegmentConfig,
    DashScopeEmbedder,
    GeminiEmbedder,
    Media,
    VertexMultiModalEmbedder,
)
from omniembed.emulator import Emulator
from omniembed.errors import InvalidParameterError, MediaLimitError, UnsupportedMediaError
from omniembed.media import audio

from . import media_factory as make

av = pytest.importorskip("av")


def _encoded(seconds: float, fmt: str = "wav", codec: str = "pcm_s16le") -> bytes:
    """A slow sweep (200 Hz up by 5 Hz a second) in ``fmt`` through ``codec``, 16 kHz mono:
    no two windows hold the same sound (the runtime embeds equal inputs once)."""
    rate = 16_000
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * (200 * t + 2.5 * t * t)) * 8000).astype(np.int16).reshape(1, -1)
    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as target:
        stream = target.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = 0
        for packet in stream.encode(frame):
            target.mux(packet)
        for packet in stream.encode(None):
            target.mux(packet)
    return out.getvalue()


def _gemini(emu: Emulator, model: str = "gemini-embedding-2") -> GeminiEmbedder:
    return GeminiEmbedder(model, api_key="k", base_url=emu.base_url)


def _sent_mime_types(emu: Emulator) -> list[str]:
    [request] = emu.requests
    return [
        part["inlineData"]["mimeType"]
        for entry in request.json["requests"]
        for part in entry["content"]["parts"]
    ]


def test_long_wav_becomes_timed_segments_of_the_models_limit(emu: Emulator, tmp_path: Path) -> None:
    path = tmp_path / "lecture.wav"
    path.write_bytes(_encoded(200))
    segments = _gemini(emu).embed_audio(path)
    spans = [x for s in segments for x in (s.start_offset_sec, s.end_offset_sec)]
    assert spans == pytest.approx([0, 80, 80, 160, 160, 200], abs=0.07)
    assert {s.modality for s in segments} == {"audio"} and len(segments[0].vector) == 3072
    assert _sent_mime_types(emu) == ["audio/wav"] * 3  # stream copy: one request, 3 inputs


def test_window_and_overlap_and_stretch(emu: Emulator) -> None:
    clip = Media.from_bytes(_encoded(70))
    config = AudioSegmentConfig(window_sec=30, overlap_sec=10)
    spans = [(s.start_offset_sec, s.end_offset_sec) for s in _gemini(emu).embed_audio(clip, config)]
    # A stream-copied window ends with its last packet (here 1,024 samples: 64 ms).
    assert [x for span in spans for x in span] == pytest.approx([0, 30, 20, 50, 40, 70], abs=0.07)
    emu.clear_requests()
    part = _gemini(emu).embed_audio(clip, AudioSegmentConfig(start_offset_sec=5, end_offset_sec=25))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in part] == [
        (5, pytest.approx(25, abs=0.07))
    ]


def test_mp3_is_cut_by_stream_copy_and_other_codecs_become_wav(emu: Emulator) -> None:
    mp3 = Media.from_bytes(_encoded(100, "mp3", "libmp3lame"))
    segments = _gemini(emu).embed_audio(mp3)
    assert len(segments) == 2 and segments[1].end_offset_sec == pytest.approx(100, abs=0.1)
    assert _sent_mime_types(emu) == ["audio/mpeg", "audio/mpeg"]
    emu.clear_requests()
    flac = Media.from_bytes(_encoded(100, "flac", "flac"))
    spans = [(s.start_offset_sec, s.end_offset_sec) for s in _gemini(emu).embed_audio(flac)]
    assert spans == [(0, 80), (80, pytest.approx(100, abs=0.01))]
    assert _sent_mime_types(emu) == ["audio/wav", "audio/wav"]


def test_stream_copied_mp3_windows_stay_within_the_limit(emu: Emulator) -> None:
    # An MP3 frame (36 ms here) straddles most window edges; copying whole frames made the
    # second 80 s window 80.028 s long, which the limit check (and the service) refused.
    mp3 = Media.from_bytes(_encoded(250, "mp3", "libmp3lame"))
    segments = _gemini(emu).embed_audio(mp3)
    spans = [(s.start_offset_sec, s.end_offset_sec) for s in segments]
    assert len(spans) == 4 and all(end - start <= 80 for start, end in spans)
    # At most the one frame that would have run past the limit is left out at an edge.
    assert all(abs(b[0] - a[1]) <= 0.04 for a, b in itertools.pairwise(spans))
    assert spans[0][0] == 0 and spans[-1][1] == pytest.approx(250, abs=0.05)


def test_a_short_wav_or_mp3_is_sent_as_it_is(emu: Emulator) -> None:
    data = make.wav(3, rate=8000)
    [segment] = _gemini(emu).embed_audio(Media.from_bytes(data))
    assert (segment.start_offset_sec, segment.end_offset_sec) == (0, 3)
    [request] = emu.requests
    assert request.json["requests"][0]["content"]["parts"][0]["inlineData"]["data"] == make.b64(
        data
    )


def test_windows_are_written_to_files_not_held_in_memory(tmp_path: Path) -> None:
    clip = Media.from_bytes(_encoded(200))
    plan = audio.plan_audio(clip, AudioSegmentConfig(window_sec=50), 80, tmp_path)
    assert [c.path is not None and c.path.parent == tmp_path for c in plan.inputs] == [True] * 4
    written = sum(p.stat().st_size for p in tmp_path.iterdir())
    assert written == pytest.approx(200 * 32_000, rel=0.01)  # 16 kHz, 16 bit


async def test_async_twin_gives_the_same_segments(emu: Emulator) -> None:
    clip = Media.from_bytes(_encoded(100))
    embedder = _gemini(emu)
    sync = embedder.embed_audios([clip, clip])
    async_ = await embedder.aembed_audios([clip, clip])
    assert [[s.vector for s in a] for a in sync] == [[s.vector for s in a] for a in async_]
    assert [len(a) for a in async_] == [2, 2]
    [single] = [await embedder.aembed_audio(Media.from_bytes(make.wav(2, rate=8000)))]
    assert len(single) == 1


@pytest.mark.parametrize("which", ["gemini-embedding-001", "vertex", "dashscope"])
def test_models_that_do_not_hear_audio_name_one_that_does(emu: Emulator, which: str) -> None:
    embedder: object
    if which == "vertex":
        embedder = VertexMultiModalEmbedder(project="p", access_token="t", base_url=emu.base_url)
    elif which == "dashscope":
        pytest.importorskip("dashscope")
        embedder = DashScopeEmbedder(api_key="sk-k", base_url=emu.base_url)
    else:
        embedder = _gemini(emu, which)
    with pytest.raises(UnsupportedMediaError, match=r"does not hear audio.*gemini-embedding-2"):
        embedder.embed_audio(Media.from_bytes(make.wav(2, rate=8000)))  # type: ignore[attr-defined]
    assert emu.requests == []


def test_bad_audio_is_refused_locally(emu: Emulator) -> None:
    embedder = _gemini(emu)
    with pytest.raises(UnsupportedMediaError, match="no audio stream"):
        embedder.embed_audio(Media.from_bytes(make.video(2, fps=2, size=16), "video/mp4"))
    with pytest.raises(UnsupportedMediaError, match="corrupt"):
        embedder.embed_audio(Media.from_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk", "audio/wav"))
    with pytest.raises(UnsupportedMediaError, match="empty"):
        embedder.embed_audio(Media.from_bytes(make.wav(0, rate=8000), "audio/wav"))
    with pytest.raises(InvalidParameterError, match="longer than the model takes"):
        embedder.embed_audio(Media.from_bytes(make.wav(2, rate=8000)), AudioSegmentConfig(120))
    with pytest.raises(InvalidParameterError, match="overlap_sec"):
        AudioSegmentConfig(window_sec=10, overlap_sec=10)
    with pytest.raises(InvalidParameterError, match="past the end"):
        embedder.embed_audio(
            Media.from_bytes(make.wav(2, rate=8000)), AudioSegmentConfig(start_offset_sec=5)
        )
    assert emu.requests == []


def test_long_audio_passed_whole_points_to_embed_audio(emu: Emulator) -> None:
    with pytest.raises(MediaLimitError, match=r"embed_audio\(\)"):
        _gemini(emu).embed([Media.from_bytes(make.wav(90, rate=8000))])
    assert emu.requests == []
