"""`Embedder.embed_video`: ordered segments with offsets for every provider — cut locally
for models that embed a clip as one vector, segmented by the service on Vertex AI."""

from __future__ import annotations

import pytest
from google.oauth2.credentials import Credentials

from omniembed import GeminiEmbedder, Media, VertexMultiModalEmbedder, VideoSegmentConfig
from omniembed.emulator import Emulator
from omniembed.errors import InvalidParameterError

from . import media_factory as make

RED, BLUE = (220, 20, 20), (20, 20, 220)
VIDEO = Media.from_bytes(make.video(12, fps=1, size=16, colors=(RED,) * 6 + (BLUE,) * 6))


def test_gemini_cuts_clips_locally_and_sends_them_in_one_call(emu: Emulator) -> None:
    embedder = GeminiEmbedder(api_key="k", base_url=emu.base_url)
    segments = embedder.embed_video(VIDEO, VideoSegmentConfig(interval_sec=4))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in segments] == [
        (0, 4),
        (4, 8),
        (8, 12),
    ]
    assert {s.modality for s in segments} == {"video"}
    [request] = emu.requests  # three clips, one batchEmbedContents request
    assert len(request.json["requests"]) == 3
    # The red stretch and the blue stretch are different clips.
    assert segments[0].vector != segments[2].vector


def test_whole_video_is_one_segment_and_the_stretch_is_honoured(emu: Emulator) -> None:
    embedder = GeminiEmbedder(api_key="k", base_url=emu.base_url)
    [whole] = embedder.embed_video(VIDEO)
    assert (whole.start_offset_sec, whole.end_offset_sec) == (0, pytest.approx(12, abs=0.6))
    part = embedder.embed_video(VIDEO, VideoSegmentConfig(6, 12, interval_sec=3))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in part] == [(6, 9), (9, 12)]


async def test_async_batch_of_videos_keeps_order(emu: Emulator) -> None:
    embedder = GeminiEmbedder(api_key="k", base_url=emu.base_url)
    short = Media.from_bytes(make.video(4, fps=1, size=16))
    both = await embedder.aembed_videos([VIDEO, short], VideoSegmentConfig(interval_sec=4))
    assert [len(v) for v in both] == [3, 1]


def test_remote_video_cannot_be_cut_locally(emu: Emulator) -> None:
    embedder = GeminiEmbedder(
        vertexai=True,
        project="p",
        location="us-central1",
        credentials=Credentials(token="t"),  # type: ignore[no-untyped-call]
        base_url=emu.base_url,
    )
    with pytest.raises(InvalidParameterError, match="cannot be cut locally"):
        embedder.embed_video("gs://bucket/v.mp4", VideoSegmentConfig(interval_sec=4))
    assert emu.requests == []


def test_vertex_segments_server_side(emu: Emulator) -> None:
    embedder = VertexMultiModalEmbedder(
        project="p", access_token="t", base_url=emu.base_url, requests_per_minute=None
    )
    segments = embedder.embed_video(VIDEO, VideoSegmentConfig(interval_sec=4))
    assert [(s.start_offset_sec, s.end_offset_sec) for s in segments] == [
        (0, 4),
        (4, 8),
        (8, 12),
    ]
    [request] = emu.requests
    assert request.json["instances"][0]["video"]["videoSegmentConfig"]["intervalSec"] == 4


def test_exact_clips_hold_only_their_own_seconds() -> None:
    import io

    import av

    from omniembed.media.video import cut_window

    # Keyframes every 6 s: a stream copy of 8-10 s starts at 6 s, two seconds early.
    assert cut_window(VIDEO, 8, 10).actual_start_sec == 6
    clip = cut_window(VIDEO, 8, 10, exact=True)
    assert (clip.actual_start_sec, clip.actual_end_sec) == (8, 10)
    with av.open(io.BytesIO(clip.data)) as container:
        centres = [tuple(f.to_ndarray(format="rgb24")[8, 8]) for f in container.decode(video=0)]
    assert len(centres) == 2
    assert all(b > 200 and r < 40 for r, _, b in centres)  # blue only: no red seconds
