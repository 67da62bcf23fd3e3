"""Issue 13 (hardening), the input-validation items: each bad input is a typed error before
any request, and with ``raise_on_error=False`` only the bad item fails. Real SDKs over real
HTTP against the emulator; the bad-input table rows for these are in
tests/test_bad_input_table.py."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from omniembed import (
    DashScopeEmbedder,
    GeminiEmbedder,
    InputError,
    InvalidParameterError,
    Media,
    MediaLimitError,
    RetryPolicy,
    VertexMultiModalEmbedder,
    VideoSegmentConfig,
)
from omniembed.emulator import Emulator
from omniembed.generation import Message
from omniembed.media.mime import sniff_mime
from omniembed.media.video import MAX_SEGMENTS_PER_VIDEO, cut_window, windows
from omniembed.providers.gemini_llm import GeminiGenerator
from tests import media_factory as make
from tests.test_bad_input_table import _bomb_png

FAST = RetryPolicy(max_retries=1, initial_delay=0.01, max_delay=0.02)


def gemini(emu: Emulator, model: str = "gemini-embedding-2", **kw: Any) -> GeminiEmbedder:
    return GeminiEmbedder(model, api_key="k", base_url=emu.base_url, retry_policy=FAST, **kw)


def vertex(emu: Emulator, **kw: Any) -> VertexMultiModalEmbedder:
    return VertexMultiModalEmbedder(
        project="proj", access_token="t", base_url=emu.base_url, retry_policy=FAST, **kw
    )


def dashscope(emu: Emulator, **kw: Any) -> DashScopeEmbedder:
    return DashScopeEmbedder(
        "tongyi-embedding-vision-plus",
        api_key="sk",
        base_url=emu.base_url + "/api/v1",
        retry_policy=FAST,
        **kw,
    )


EMBEDDERS: dict[str, Callable[..., Any]] = {
    "gemini": gemini,
    "vertex": vertex,
    "dashscope": dashscope,
}


# --- 6. lone surrogates --------------------------------------------------------------------


@pytest.mark.parametrize("name", EMBEDDERS)
def test_a_lone_surrogate_fails_only_its_input(emu: Emulator, name: str) -> None:
    results = EMBEDDERS[name](emu).embed(["fine", "bad \ud800", "also fine"], raise_on_error=False)
    assert [r.ok for r in results] == [True, False, True]
    error = results[1].error
    assert type(error) is InputError
    assert "input 1: the text holds a lone surrogate" in str(error)
    assert all(r.embeddings for r in (results[0], results[2]))


@pytest.mark.parametrize("name", EMBEDDERS)
def test_a_lone_surrogate_in_a_title_fails_the_call_up_front(emu: Emulator, name: str) -> None:
    with pytest.raises(InvalidParameterError, match=r"titles\[1\] holds a lone surrogate"):
        EMBEDDERS[name](emu).embed(["a", "b"], titles=[None, "\udc80"], raise_on_error=False)
    assert emu.requests == []


# --- 7. decompression bombs ------------------------------------------------------------------


@pytest.mark.parametrize("name", EMBEDDERS)
def test_a_pixel_bomb_fails_only_its_input(emu: Emulator, name: str, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_bomb_png())
    ok = Media.from_bytes(make.png(size=(16, 16)))
    results = EMBEDDERS[name](emu).embed([ok, bomb, "text"], raise_on_error=False)
    assert [r.ok for r in results] == [True, False, True]
    assert type(results[1].error) is MediaLimitError
    assert "400,000,000 pixels" in str(results[1].error)


# --- 8. video segments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"interval_sec": float("inf")},
        {"interval_sec": float("nan")},
        {"interval_sec": -1.0},
        {"start_offset_sec": float("inf")},
        {"end_offset_sec": float("inf")},
        {"interval_sec": True},
    ],
)
def test_segment_config_rejects_non_finite_and_non_positive(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameterError, match="VideoSegmentConfig"):
        VideoSegmentConfig(**kwargs)


def test_windows_are_bounded_before_any_is_listed() -> None:
    with pytest.raises(InvalidParameterError, match=r"interval_sec=1e-300 would cut the 3600.0"):
        windows(3600.0, 0.0, None, 1e-300)  # used to loop until memory ran out
    assert len(windows(3600.0, 0.0, None, 3600.0 / MAX_SEGMENTS_PER_VIDEO)) == 10_000
    assert windows(10.0, 0.0, None, 4.0) == [(0.0, 4.0), (4.0, 8.0), (8.0, 10.0)]


@pytest.mark.parametrize("name", ["gemini", "dashscope"])
def test_tiny_interval_is_refused_before_cutting(emu: Emulator, name: str) -> None:
    video = Media.from_bytes(make.video(3, fps=2, size=16))
    with pytest.raises(InvalidParameterError, match="at most 10,000 per video"):
        EMBEDDERS[name](emu).embed_video(video, VideoSegmentConfig(interval_sec=1e-300))
    assert emu.requests == []


# --- 12. runtime parameters, for every provider class ---------------------------------------


@pytest.mark.parametrize("name", EMBEDDERS)
@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("max_concurrency", 0),
        ("max_concurrency", 2.5),
        ("requests_per_minute", float("nan")),
        ("requests_per_minute", float("inf")),
        ("requests_per_minute", -1),
        ("tokens_per_minute", -5),
        ("max_retries", -1),
        ("max_inflight_bytes", 0),
        ("timeout", -5),
        ("timeout", 0),
        ("timeout", float("inf")),
    ],
)
def test_bad_runtime_settings_fail_at_construction(
    emu: Emulator, name: str, keyword: str, value: object
) -> None:
    with pytest.raises(InvalidParameterError, match=f"^{keyword}="):
        EMBEDDERS[name](emu, **{keyword: value})


def test_titles_must_be_text(emu: Emulator) -> None:
    with pytest.raises(InvalidParameterError, match=r"titles\[0\] is a int"):
        gemini(emu, "gemini-embedding-001").embed(["a"], titles=[1])
    assert emu.requests == []


@pytest.mark.parametrize("value", [True, False, 3.0])
def test_output_dimensionality_must_be_a_plain_int(value: object) -> None:
    with pytest.raises(InvalidParameterError, match="output_dimensionality="):
        GeminiEmbedder(api_key="k", output_dimensionality=value)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="dimension="):
        VertexMultiModalEmbedder(
            project="p",
            access_token="t",
            dimension=value,  # type: ignore[arg-type]
        )


# --- 13. Vertex: byte size before reading -------------------------------------------------------


def test_vertex_huge_file_of_small_pixels_is_refused_without_reading_it(
    emu: Emulator, tmp_path: Path
) -> None:
    # 1.5 GB (sparse: instant, no disk) that starts with a 16×16 PNG: used to be read whole
    # and base64-encoded (5.7 GB RSS), then refused by the service.
    path = tmp_path / "huge.png"
    with path.open("wb") as out:
        out.write(make.png(size=(16, 16)))
        out.truncate(1536 * 2**20)
    with pytest.raises(MediaLimitError, match=r"1536\.0 MiB at 16×16 px"):
        vertex(emu).embed([path])
    assert emu.requests == []


# --- 14. sent and refused before: caught or fixed locally ----------------------------------------


def _image(fmt: str, size: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), (10, 120, 200)).save(out, format=fmt)
    return out.getvalue()


def _sent_image(emu: Emulator) -> bytes:
    body = emu.requests[-1].json
    return base64.b64decode(body["instances"][0]["image"]["bytesBase64Encoded"])


@pytest.mark.parametrize("downscale", [True, False])
def test_vertex_sends_webp_as_png(emu: Emulator, downscale: bool) -> None:
    # The model takes image/jpeg and image/png only (VisionEmbeddingModelInstance).
    result = vertex(emu, downscale_images=downscale).embed([Media.from_bytes(_image("WEBP"))])
    assert result[0].ok
    assert sniff_mime(_sent_image(emu)) == "image/png"


def _inline_types(parts: list[dict[str, Any]]) -> list[str]:
    """The MIME types of a request's inline parts (the SDKs send camelCase or snake_case)."""
    out = []
    for part in parts:
        inline = part.get("inlineData") or part.get("inline_data")
        if inline:
            out.append(inline.get("mimeType") or inline.get("mime_type"))
    return out


def test_png_declared_jpeg_is_sent_as_png(emu: Emulator) -> None:
    media = Media.from_bytes(make.png(size=(16, 16)), "image/jpeg")
    assert media.mime_type == "image/png"
    result = gemini(emu).embed([media])
    assert result[0].ok
    parts = emu.requests[-1].json["requests"][0]["content"]["parts"]
    assert _inline_types(parts) == ["image/png"]


def test_huge_text_is_cut_to_what_the_model_reads(emu: Emulator) -> None:
    text = "word " * 5_000_000  # 25 MB: over the 20 MB request limit
    result = gemini(emu, "gemini-embedding-001").embed([text])
    assert result[0].ok
    assert emu.requests[-1].body_size < 1_000_000


# --- 15. AVIF and HEIC are images ---------------------------------------------------------


def test_avif_and_heic_sniff_as_images() -> None:
    assert sniff_mime(_image("AVIF")) == "image/avif"
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
    assert sniff_mime(heic) == "image/heic"
    generic = b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heixmiaf"
    assert sniff_mime(generic) == "image/heic"
    assert sniff_mime(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf") == "image/heif"
    assert sniff_mime(b"\x00\x00\x00\x18ftypisom\x00\x00\x00\x00isomavc1") == "video/mp4"
    assert Media.from_bytes(_image("AVIF")).modality.value == "image"


@pytest.mark.parametrize("name", EMBEDDERS)
def test_avif_is_embedded_as_an_image(emu: Emulator, name: str) -> None:
    result = EMBEDDERS[name](emu).embed([Media.from_bytes(_image("AVIF"))])
    assert result[0].ok
    assert result[0].embeddings[0].modality in (None, "image")


def test_generator_sends_avif_as_a_png_image(emu: Emulator) -> None:
    llm = GeminiGenerator("gemini-2.5-flash", api_key="k", base_url=emu.base_url, max_retries=1)
    llm.generate([Message("user", [Media.from_bytes(_image("AVIF")), "what is this?"])])
    parts = emu.requests[-1].json["contents"][0]["parts"]
    assert _inline_types(parts) == ["image/png"]


# --- B-frames: windows keep every frame ------------------------------------------------------


def _h264_with_b_frames(seconds: int, fps: int = 2) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        stream.options = {"bf": "3", "g": "20", "preset": "ultrafast", "x264-params": "b-adapt=0"}
        for index in range(seconds * fps):
            pixels = np.full((32, 32, 3), (index * 7) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _frame_times(data: bytes) -> list[float]:
    with av.open(io.BytesIO(data)) as container:
        return [float(f.time or 0) for f in container.decode(video=0)]


@pytest.mark.parametrize(("start", "end"), [(0, 4), (60, 64), (10, 14)])
def test_windows_of_a_b_frame_video_keep_every_frame(start: int, end: int) -> None:
    media = Media.from_bytes(_h264_with_b_frames(120), "video/mp4")
    window = cut_window(media, start, end)
    shown = [t for t in _frame_times(window.data) if t < end - start]
    assert shown == [i / 2 for i in range(8)]  # was 0–2.0 s: 5 (or 6) of 8 frames
    exact = cut_window(media, start, end, exact=True)
    assert _frame_times(exact.data) == [i / 2 for i in range(8)]
    assert (exact.actual_start_sec, exact.actual_end_sec) == (start, end)
