"""Video with sound (issue 15, item 2): clips keep their sound track for a model that hears
it, and are no longer than it takes with sound; the others get the picture only; a
per-call option drops the sound on purpose.

Real google-genai (and the dashscope SDK) over HTTP against the emulator, which mixes a
clip's sound into its vector: two clips with the same pictures and different sound get
different vectors only if the sound reached the service."""

from __future__ import annotations

import base64
import io
import logging
from typing import Any

import numpy as np
import pytest
from google.oauth2.credentials import Credentials

from omniembed import DashScopeEmbedder, GeminiEmbedder, Media, VideoSegmentConfig
from omniembed.emulator import Emulator
from omniembed.errors import InvalidParameterError, MediaLimitError
from omniembed.media.video import cut_window
from omniembed.runtime import RetryPolicy

from .emulator import audio_factory as sound

av = pytest.importorskip("av")

GREY = ((120, 120, 120),)
#: Twelve seconds of one unchanging picture: 440 Hz for six seconds, then 1 kHz.
TALKING = Media.from_bytes(
    sound.clip(
        12,
        sound=np.concatenate([sound.tone(6, 440), sound.tone(6, 1000)]),
        colors=GREY,
    ),
    "video/mp4",
)


def _gemini(emu: Emulator) -> GeminiEmbedder:
    return GeminiEmbedder("gemini-embedding-2", api_key="k", base_url=emu.base_url)


def _sent_clips(emu: Emulator) -> list[bytes]:
    return [
        base64.b64decode(part["inlineData"]["data"])
        for request in emu.requests
        for entry in request.json["requests"]
        for part in entry["content"]["parts"]
    ]


def _tracks(data: bytes) -> tuple[float, str | None]:
    """(duration, sound codec or None) of an MP4."""
    with av.open(io.BytesIO(data)) as container:
        codec = container.streams.audio[0].codec_context.name if container.streams.audio else None
        return float(container.duration) / 1_000_000, codec


def _dominant_hz(data: bytes) -> float:
    with av.open(io.BytesIO(data)) as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
        rate = container.streams.audio[0].sample_rate
    samples = np.concatenate(frames)
    return float(np.argmax(np.abs(np.fft.rfft(samples))) * rate / samples.size)


def test_gemini_clips_keep_their_sound(emu: Emulator) -> None:
    first, second = _gemini(emu).embed_video(TALKING, VideoSegmentConfig(interval_sec=6))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in (first, second)] == [(0, 6), (6, 12)]
    clips = _sent_clips(emu)
    assert [_tracks(c)[1] for c in clips] == ["aac", "aac"]  # copied, not re-encoded
    # Each clip carries its own six seconds of sound, in step with its pictures.
    assert [_dominant_hz(c) for c in clips] == [
        pytest.approx(440, abs=5),
        pytest.approx(1000, abs=5),
    ]
    # Same pictures, different sound: different vectors.
    assert first.vector != second.vector


def test_include_audio_false_drops_the_sound(emu: Emulator) -> None:
    config = VideoSegmentConfig(interval_sec=6, include_audio=False)
    first, second = _gemini(emu).embed_video(TALKING, config)
    assert [_tracks(c)[1] for c in _sent_clips(emu)] == [None, None]
    assert first.vector == pytest.approx(second.vector)  # the pictures alone are alike

    # A whole video is one segment: the copy sent has the picture only.
    emu.clear_requests()
    [whole] = _gemini(emu).embed_video(TALKING, VideoSegmentConfig(include_audio=False))
    [clip] = _sent_clips(emu)
    assert _tracks(clip) == (pytest.approx(12, abs=0.1), None)
    assert (whole.start_offset_sec, whole.end_offset_sec) == (0, pytest.approx(12, abs=0.1))

    # Without the option the whole video is sent as it is, sound and all.
    emu.clear_requests()
    _gemini(emu).embed_video(TALKING)
    assert _sent_clips(emu) == [TALKING.read_bytes()]


def test_clips_with_sound_shrink_to_the_with_sound_limit(
    emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    # 100 s (1 frame a second): longer than the 80 s the model takes with sound, shorter
    # than the 120 s it takes without.
    long = Media.from_bytes(
        sound.clip(100, sound=sound.tone(100, 300, rate=8000), rate=8000, fps=1, size=8),
        "video/mp4",
    )
    with caplog.at_level(logging.INFO, logger="omniembed"):
        segments = _gemini(emu).embed_video(long, VideoSegmentConfig(interval_sec=120))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in segments] == [(0, 80), (80, 100)]
    assert [_tracks(c) for c in _sent_clips(emu)] == [
        (pytest.approx(80, abs=0.1), "aac"),
        (pytest.approx(20, abs=0.1), "aac"),
    ]
    assert "shortened to 80 s" in caplog.text

    emu.clear_requests()
    config = VideoSegmentConfig(interval_sec=120, include_audio=False)
    [whole] = _gemini(emu).embed_video(long, config)
    assert (whole.start_offset_sec, whole.end_offset_sec) == (0, 100)
    assert [_tracks(c)[1] for c in _sent_clips(emu)] == [None]

    # Passed whole, a video with sound over 80 s is refused locally, naming the way out.
    emu.clear_requests()
    with pytest.raises(
        MediaLimitError, match=r"video \(with sound\) is 100\.\d s.*include_audio=False"
    ):
        _gemini(emu).embed([long])
    assert emu.requests == []


def test_a_sound_track_mp4_cannot_carry_is_re_encoded_as_aac(emu: Emulator) -> None:
    rate = 16_000
    pcm = (np.concatenate([sound.tone(4, 440), sound.tone(4, 1000)]) * 30000).astype(np.int16)
    out = io.BytesIO()
    with av.open(out, "w", format="mov") as target:
        picture = target.add_stream("mpeg4", rate=2)
        picture.width = picture.height = 16
        picture.pix_fmt = "yuv420p"
        audio = target.add_stream("pcm_s16le", rate=rate, layout="mono")
        for _ in range(16):
            frame = av.VideoFrame.from_ndarray(np.full((16, 16, 3), 90, np.uint8), format="rgb24")
            for packet in picture.encode(frame):
                target.mux(packet)
        for packet in picture.encode():
            target.mux(packet)
        chunk = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        chunk.sample_rate = rate
        for packet in audio.encode(chunk):
            target.mux(packet)
        for packet in audio.encode():
            target.mux(packet)
    movie = Media.from_bytes(out.getvalue(), "video/quicktime")
    segments = _gemini(emu).embed_video(movie, VideoSegmentConfig(interval_sec=4))
    assert len(segments) == 2
    clips = _sent_clips(emu)
    assert [_tracks(c)[1] for c in clips] == ["aac", "aac"]
    assert [_dominant_hz(c) for c in clips] == [
        pytest.approx(440, abs=5),
        pytest.approx(1000, abs=5),
    ]


def test_models_that_ignore_sound_get_the_picture_only(emu: Emulator) -> None:
    from omniembed.providers.dashscope import __name__ as _  # noqa: F401  (the SDK is installed)

    embedder = DashScopeEmbedder(
        "tongyi-embedding-vision-plus",
        api_key="sk-emu",
        base_url=emu.base_url,
        retry_policy=RetryPolicy(max_retries=1, initial_delay=0.01, max_delay=0.05),
    )
    segments = embedder.embed_video(TALKING, VideoSegmentConfig(interval_sec=6))
    assert len(segments) == 2
    # The clips this call sent (the emulator keeps every upload of the session).
    [call] = [r for r in emu.requests if r.route == "multimodalEmbedding"]
    urls = [c["video"] for c in call.json["input"]["contents"]]
    uploaded = sorted(emu.uploads[u.removeprefix("oss://")] for u in urls)
    silent = sorted(len(cut_window(TALKING, a, a + 6, exact=True).data) for a in (0, 6))
    with_sound = sorted(
        len(cut_window(TALKING, a, a + 6, exact=True, sound=True).data) for a in (0, 6)
    )
    assert uploaded == silent != with_sound


def test_gs_video_cannot_be_stripped_of_its_sound(emu: Emulator) -> None:
    embedder = GeminiEmbedder(
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=Credentials(token="t"),  # type: ignore[no-untyped-call]
        base_url=emu.base_url,
    )
    with pytest.raises(InvalidParameterError, match="stripped of their sound"):
        embedder.embed_video("gs://bucket/v.mp4", VideoSegmentConfig(include_audio=False))
    assert emu.requests == []


@pytest.mark.parametrize("value", ["no", 0, None])
def test_include_audio_must_be_a_bool(value: Any) -> None:
    with pytest.raises(InvalidParameterError, match="include_audio must be True or False"):
        VideoSegmentConfig(include_audio=value)


def test_audio_limit_is_a_setting(emu: Emulator) -> None:
    long = Media.from_bytes(sound.wav(sound.tone(100, 300, rate=8000), rate=8000), "audio/wav")
    shorter = GeminiEmbedder(
        "gemini-embedding-2", api_key="k", base_url=emu.base_url, audio_limit_sec=40
    )
    segments = shorter.embed_audio(long)
    assert [(s.start_offset_sec, s.end_offset_sec) for s in segments] == [
        (0, 40),
        (40, 80),
        (80, 100),
    ]
    # The default is the stricter of the published figures.
    assert [(s.start_offset_sec, s.end_offset_sec) for s in _gemini(emu).embed_audio(long)] == [
        (0, 80),
        (80, 100),
    ]
    for bad in (0, -5, float("nan"), True, "80"):
        with pytest.raises(InvalidParameterError, match="audio_limit_sec"):
            GeminiEmbedder("gemini-embedding-2", api_key="k", audio_limit_sec=bad)  # type: ignore[arg-type]
