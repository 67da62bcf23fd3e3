"""Audio in the emulator over real HTTP: vectors from a sound descriptor (same sound close,
different sound far), sound in gemini-embedding-2 video, what generation "heard", and the
400s for audio that gemini-embedding-2 does not take."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import numpy as np
import pytest

from omniembed.emulator import Emulator
from tests.emulator import audio_factory as sound

M2 = "gemini-embedding-2"
EMBED = f"/v1beta/models/{M2}:batchEmbedContents"
VERTEX_EMBED = f"/v1/projects/p/locations/us-central1/publishers/google/models/{M2}:embedContent"
GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
MULTIMODAL = (
    "/v1/projects/p/locations/us-central1/publishers/google/models/multimodalembedding@001:predict"
)
DASHSCOPE = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    """One emulator for the module (these tests change no settings): starting one per test
    would cost more than the tests."""
    with Emulator() as emu, httpx.Client(base_url=emu.base_url, timeout=30) as client:
        yield client


def inline(data: bytes, mime_type: str) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime_type, "data": base64.b64encode(data).decode()}}


def embed_response(http: httpx.Client, *parts: dict[str, Any]) -> httpx.Response:
    body = {"requests": [{"model": f"models/{M2}", "content": {"parts": [p]}} for p in parts]}
    return http.post(EMBED, json=body)


def embed(http: httpx.Client, *parts: dict[str, Any]) -> list[np.ndarray]:
    response = embed_response(http, *parts)
    assert response.status_code == 200, response.text
    return [np.array(e["values"], dtype=np.float64) for e in response.json()["embeddings"]]


def cos(a: np.ndarray | list[float], b: np.ndarray | list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def error_message(response: httpx.Response) -> str:
    """The Gemini API's 400 shape, as for every other media rule."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    error = response.json()["error"]
    assert error["code"] == 400
    assert error["status"] == "INVALID_ARGUMENT"
    message: str = error["message"]
    return message


@cache
def mp3_440() -> bytes:
    try:
        return sound.mp3(sound.tone(3, 440, 44_100), 44_100)
    except Exception as exc:  # pragma: no cover - depends on the FFmpeg build
        pytest.skip(f"no MP3 encoder in this PyAV build: {exc}")


# --- vectors -------------------------------------------------------------------------------


def test_same_tone_as_wav_and_mp3_scores_far_above_another_tone(http: httpx.Client) -> None:
    wav_440, mp3, wav_1000 = embed(
        http,
        inline(sound.wav(sound.tone(3, 440, 8000), 8000), "audio/wav"),
        inline(mp3_440(), "audio/mpeg"),
        inline(sound.wav(sound.tone(3, 1000)), "audio/wav"),
    )

    assert cos(wav_440, mp3) > 0.97
    assert cos(wav_440, wav_1000) < 0.2
    assert cos(mp3, wav_1000) < 0.2


def test_same_tone_at_two_sample_rates_is_the_same_sound(http: httpx.Client) -> None:
    at_8k, at_44k, octave_up = embed(
        http,
        inline(sound.wav(sound.tone(2, 440, 8000), 8000), "audio/wav"),
        inline(sound.wav(sound.tone(2, 440, 44_100), 44_100), "audio/wav"),
        inline(sound.wav(sound.tone(2, 880, 44_100), 44_100), "audio/wav"),
    )

    assert cos(at_8k, at_44k) > 0.99
    assert cos(at_8k, octave_up) < 0.2


def test_a_10_second_cut_is_close_to_the_whole_recording(http: httpx.Client) -> None:
    hum = sound.noise(30, amp=0.05, seed=3)
    whole = sound.tone(30, 440) + hum
    other = sound.tone(30, 660) + hum
    cut = whole[10 * 16_000 : 20 * 16_000]
    whole_vec, cut_vec, other_vec = embed(
        http,
        inline(sound.wav(whole), "audio/wav"),
        inline(sound.wav(cut), "audio/wav"),
        inline(sound.wav(other), "audio/wav"),
    )

    assert cos(cut_vec, whole_vec) > 0.97
    assert cos(cut_vec, other_vec) < cos(cut_vec, whole_vec) - 0.4


def test_noise_is_far_from_a_tone(http: httpx.Client) -> None:
    tone, noise, other_noise = embed(
        http,
        inline(sound.wav(sound.tone(3, 440)), "audio/wav"),
        inline(sound.wav(sound.noise(3, seed=1)), "audio/wav"),
        inline(sound.wav(sound.noise(3, seed=2)), "audio/wav"),
    )

    assert cos(tone, noise) < 0.3
    assert cos(noise, other_noise) > 0.97  # two takes of white noise are the same sound


def test_a_frequency_in_a_text_finds_a_recording_of_that_tone(http: httpx.Client) -> None:
    # The one bridge from words to sound (as colour words are to pixels): "440 Hz" in a
    # text adds the vector of a steady 440 Hz tone.
    tone_440, tone_1000 = embed(
        http,
        inline(sound.wav(sound.tone(3, 440, 8000), 8000), "audio/wav"),
        inline(sound.wav(sound.tone(3, 1000)), "audio/wav"),
    )
    asks_440, asks_1000, no_frequency = embed(
        http, {"text": "a 440 Hz tone"}, {"text": "a 1 kHz tone"}, {"text": "a tone"}
    )

    assert cos(asks_440, tone_440) > 0.45 and cos(asks_1000, tone_1000) > 0.45
    assert abs(cos(asks_440, tone_1000)) < 0.1 and abs(cos(asks_1000, tone_440)) < 0.1
    assert abs(cos(no_frequency, tone_440)) < 0.1
    assert cos(asks_440, no_frequency) > 0.5  # still mostly its words


def test_frequencies_are_read_with_their_units_within_the_heard_band() -> None:
    from omniembed.emulator.audio import tone_mentions

    text = "a 440 Hz hum, 1.2 kHz, 440hz again, 5 Hz, 9 kHz, v2.5 Hz, 3,000 Hz, 20000 Hz"
    assert tone_mentions(text) == [440.0, 1200.0]
    assert tone_mentions("no numbers here, nor 12 hertz") == []


def test_audio_vectors_are_deterministic_across_processes(http: httpx.Client) -> None:
    data = sound.wav(sound.tone(2, 523))
    [here] = embed(http, inline(data, "audio/wav"))
    code = (
        "import sys\n"
        "from omniembed.emulator.vectors import audio_vector\n"
        "v = audio_vector(sys.stdin.buffer.read(), 3072)\n"
        "print(','.join(repr(float(x)) for x in v[:16]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "7"}
    out = subprocess.run(
        [sys.executable, "-c", code], input=data, capture_output=True, env=env, check=True
    )
    there = [float(x) for x in out.stdout.decode().strip().split(",")]

    assert np.allclose(here[:16], there, rtol=0, atol=1e-7)
    assert embed(http, inline(data, "audio/wav"))[0].tolist() == here.tolist()


# --- sound in video ------------------------------------------------------------------------


def test_gemini_embedding_2_hears_the_sound_of_a_video(http: httpx.Client) -> None:
    silent = sound.clip(4)
    with_440 = sound.clip(4, sound=sound.tone(4, 440))
    with_1000 = sound.clip(4, sound=sound.tone(4, 1000))
    quiet_track = sound.clip(4, sound=np.zeros(4 * 16_000, dtype=np.float32))
    silent_vec, vec_440, vec_1000, quiet_vec = embed(
        http,
        *(inline(v, "video/mp4") for v in (silent, with_440, with_1000, quiet_track)),
    )

    assert 0.8 < cos(silent_vec, vec_440) < 0.95  # same pictures, but the sound counts
    assert cos(vec_440, vec_1000) < cos(silent_vec, vec_440)
    assert np.allclose(quiet_vec, silent_vec, atol=1e-6)  # a track of silence adds nothing


def test_video_without_sound_is_embedded_from_its_pixels_alone(http: httpx.Client) -> None:
    from omniembed.emulator.vectors import project_pixels, segment_descriptors

    data = sound.clip(3)
    [vector] = embed(http, inline(data, "video/mp4"))
    pixels = project_pixels(segment_descriptors(data, [(0.0, 3.0)], 16)[0], 3072)

    assert np.allclose(vector, pixels, atol=1e-6)


def test_multimodalembedding_ignores_the_sound_of_a_video(http: httpx.Client) -> None:
    def video_vectors(data: bytes) -> list[list[float]]:
        instance = {"video": {"bytesBase64Encoded": base64.b64encode(data).decode()}}
        response = http.post(MULTIMODAL, json={"instances": [instance]})
        assert response.status_code == 200, response.text
        return [s["embedding"] for s in response.json()["predictions"][0]["videoEmbeddings"]]

    silent = video_vectors(sound.clip(4))
    loud = video_vectors(sound.clip(4, sound=sound.tone(4, 440)))

    assert silent == loud


def test_dashscope_ignores_the_sound_of_a_video(http: httpx.Client) -> None:
    from tests.emulator.test_emulator_dashscope import PLUS, upload, vectors

    resolve = {"X-DashScope-OssResourceResolve": "enable"}
    silent = upload(http, sound.clip(2), "silent.mp4")
    loud = upload(http, sound.clip(2, sound=sound.tone(2, 440)), "loud.mp4")
    body = {"model": PLUS, "input": {"contents": [{"video": silent}, {"video": loud}]}}
    silent_vec, loud_vec = vectors(http.post(DASHSCOPE, json=body, headers=resolve))

    assert silent_vec == loud_vec


# --- the service's limits and 400s ---------------------------------------------------------


def test_audio_longer_than_80_seconds_is_rejected(http: httpx.Client) -> None:
    longest = sound.wav(sound.tone(80, 100, 800), 800)
    too_long = sound.wav(sound.tone(81, 100, 800), 800)

    assert embed_response(http, inline(longest, "audio/wav")).status_code == 200
    message = error_message(embed_response(http, inline(too_long, "audio/wav")))
    assert message == (
        "* BatchEmbedContentsRequest.requests[0].content.parts[0]: the audio is 81.0 s long; "
        "at most 80 s can be embedded (cut it into segments)\n"
    )


def test_the_80_second_limit_holds_on_vertex_too(http: httpx.Client) -> None:
    too_long = sound.wav(sound.tone(81, 100, 800), 800)
    body = {"content": {"parts": [inline(too_long, "audio/wav")]}}

    assert "at most 80 s" in error_message(http.post(VERTEX_EMBED, json=body))


def test_video_with_sound_longer_than_80_seconds_is_rejected(http: httpx.Client) -> None:
    quiet = np.zeros(81 * 8000, dtype=np.float32)  # silent AAC encodes fast; a track is a track
    with_sound = sound.clip(81, sound=quiet, rate=8000, fps=1, size=16)
    without = sound.clip(81, fps=1, size=16)

    message = error_message(embed_response(http, inline(with_sound, "video/mp4")))
    assert "the video has a sound track and is 81." in message
    assert "at most 80 s of video with sound" in message
    assert embed_response(http, inline(without, "video/mp4")).status_code == 200


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\xff" * 24, "audio/wav"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4, "audio/mpeg"),
    ],
    ids=["wav", "mp3"],
)
def test_audio_that_does_not_decode_is_a_400(http: httpx.Client, data: bytes, mime: str) -> None:
    message = error_message(embed_response(http, inline(data, mime)))

    assert "inline_data.data: " in message
    assert f"the {mime} data cannot be decoded as audio" in message


def test_zero_length_audio_is_a_400(http: httpx.Client) -> None:
    message = error_message(embed_response(http, inline(sound.empty_wav(), "audio/wav")))

    assert "the audio/wav data is empty: it decodes to 0 s of audio" in message


@pytest.mark.parametrize("mime", ["audio/flac", "audio/ogg", "audio/aac"])
def test_audio_types_other_than_mp3_and_wav_are_refused(http: httpx.Client, mime: str) -> None:
    data = sound.flac(sound.tone(1, 440))
    message = error_message(embed_response(http, inline(data, mime)))

    assert f"inline_data.mime_type: unsupported MIME type {mime}" in message
    assert "audio/mpeg, audio/wav" in message


def test_real_flac_bytes_declared_as_wav_are_refused(http: httpx.Client) -> None:
    data = sound.flac(sound.tone(1, 440))
    message = error_message(embed_response(http, inline(data, "audio/wav")))

    assert "declared audio/wav but the bytes are audio/flac" in message


# --- generation ----------------------------------------------------------------------------


def generate(http: httpx.Client, *parts: dict[str, Any]) -> str:
    response = http.post(GEN, json={"contents": [{"role": "user", "parts": list(parts)}]})
    assert response.status_code == 200, response.text
    candidate = response.json()["candidates"][0]
    return "".join(p.get("text", "") for p in candidate["content"]["parts"])


def test_generation_says_what_it_heard(http: httpx.Client) -> None:
    answer = generate(
        http,
        {"text": "Source [1]: a.wav"},
        inline(sound.wav(sound.tone(12, 440)), "audio/wav"),
        {"text": "Source [2]: b.mp3"},
        inline(mp3_440(), "audio/mpeg"),
        {"text": "Source [3]: c.wav"},
        inline(sound.wav(sound.noise(2)), "audio/wav"),
        {"text": "What do you hear?"},
    )

    assert answer == (
        "Heard a steady tone near 440 Hz (Source [1]: a.wav); a steady tone near 440 Hz "
        "(Source [2]: b.mp3); broadband noise (Source [3]: c.wav). [seen: audio/wav 12s, "
        "a steady tone near 440 Hz; audio/mpeg 3s, a steady tone near 440 Hz; "
        "audio/wav 2s, broadband noise]"
    )


def test_generation_notes_sound_for_other_questions_too(http: httpx.Client) -> None:
    answer = generate(
        http,
        {"text": "The foghorn blows at dusk."},
        inline(sound.wav(sound.tone(2, 220)), "audio/wav"),
        {"text": "When does the foghorn blow?"},
    )

    assert answer == "The foghorn blows at dusk. [seen: audio/wav 2s, a steady tone near 220 Hz]"


def test_generation_hears_a_files_api_upload(emulator: Emulator) -> None:
    from google import genai
    from google.genai import types

    emulator.file_processing_sec = 0
    client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=emulator.base_url))
    data = sound.wav(sound.noise(2))
    file = client.files.upload(
        file=io.BytesIO(data), config=types.UploadFileConfig(mime_type="audio/wav")
    )
    answer = client.models.generate_content(
        model="gemini-2.5-flash", contents=[file, "What sound is this?"]
    )

    assert (
        answer.text == "Heard broadband noise (audio/wav 2s). [seen: audio/wav 2s, broadband noise]"
    )


def test_generation_with_corrupt_audio_is_a_400(http: httpx.Client) -> None:
    data = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00" + b"\xff" * 24
    response = http.post(
        GEN,
        json={"contents": [{"role": "user", "parts": [inline(data, "audio/wav"), {"text": "?"}]}]},
    )

    assert "Unable to process input audio/wav data" in error_message(response)


def test_a_videos_sound_is_counted_as_audio_tokens() -> None:
    from omniembed.emulator.contents import parse_content
    from omniembed.emulator.models import gemini_model
    from omniembed.emulator.tokens import content_tokens

    model = gemini_model(M2)
    assert model is not None

    def tokens(video: bytes) -> dict[str, int]:
        content = {"parts": [inline(video, "video/mp4")]}
        return content_tokens(parse_content(content, "content", model, "gemini"))

    # 263 video tokens a second, and 32 audio tokens a second for the sound track (4 s,
    # and the AAC encoder's padding: the container says 4.064 s).
    assert tokens(sound.clip(4)) == {"VIDEO": 4 * 263}
    heard = tokens(sound.clip(4, sound=sound.tone(4, 440)))
    assert heard["VIDEO"] in (4 * 263, 5 * 263)
    assert 4 * 32 <= heard["AUDIO"] <= 4.1 * 32 + 1
