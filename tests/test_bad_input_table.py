"""The bad-input table of docs/errors.md, row by row, run for real against the emulator.

Each row says which error class a bad input raises, a stable fragment of its message, and
whether it is raised locally (then nothing may reach the emulator) or comes from the
service. `test_the_table_and_the_tests_agree` parses the table, so a row without a test
(or a test without a row, or a class that changed) fails the suite.

Rows marked ``gap`` describe what omniembed should do and does not yet; their tests are
strict xfails, so the fix flips them to a failure until the table is updated.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from google.oauth2.credentials import Credentials

from omniembed import (
    AuthenticationError,
    ConfigurationError,
    DashScopeEmbedder,
    EmptyInputError,
    GeminiEmbedder,
    InputError,
    InvalidArgumentError,
    InvalidParameterError,
    Media,
    MediaLimitError,
    MediaNotFoundError,
    MissingCredentialsError,
    NotFoundError,
    RetryPolicy,
    UnknownParameterError,
    UnsupportedMediaError,
    VertexMultiModalEmbedder,
    VideoSegmentConfig,
)
from omniembed.emulator import Emulator
from omniembed.generation import GenerationConfig, MediaPart, Message, ToolSpec
from omniembed.providers.gemini_llm import GeminiGenerator
from tests import media_factory as make

DOCS = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
TABLE_HEADING = "## Bad inputs, case by case"
FAST = RetryPolicy(max_retries=1, initial_delay=0.01, max_delay=0.02)
_CREDENTIAL_ENV = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "DASHSCOPE_API_KEY",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_GENAI_USE_VERTEXAI",
)


# --- media, built once per session (no binary fixtures) ------------------------------------


@cache
def _png() -> bytes:
    return make.png(size=(16, 16))


@cache
def _video(seconds: float) -> bytes:
    return make.video(seconds, fps=1, size=16)


@cache
def _video_with_sound(seconds: float) -> bytes:
    """An MP4 with a 1 fps picture track and a silent AAC sound track."""
    import io

    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        picture = container.add_stream("mpeg4", rate=1)
        picture.width = picture.height = 16
        picture.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=8000)
        for _ in range(int(seconds)):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            container.mux(picture.encode(frame))
        samples = np.zeros((1, 8000 * int(seconds)), np.float32)
        chunk = 1024
        for start in range(0, samples.shape[1], chunk):
            block = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + chunk]),
                format="fltp",
                layout="mono",
            )
            block.sample_rate = 8000
            container.mux(sound.encode(block))
        container.mux(picture.encode())
        container.mux(sound.encode())
    return out.getvalue()


@cache
def _avi() -> bytes:
    return make.video(2, fps=1, size=16, container="avi")


@cache
def _pdf(pages: int) -> bytes:
    return make.pdf([f"page {i + 1}" for i in range(pages)])


@cache
def _wav(seconds: float) -> bytes:
    return make.wav(seconds, rate=800)


@cache
def _sound_only_mp4() -> bytes:
    """An MP4 (brand isom, so it sniffs as video/mp4) holding only an AAC sound track."""
    import io

    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        sound = container.add_stream("aac", rate=8000)
        for start in range(0, 8000, 1024):
            block = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
            block.sample_rate = 8000
            block.pts = start
            container.mux(sound.encode(block))
        container.mux(sound.encode())
    return out.getvalue()


def _bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@cache
def _truncated(image_format: str) -> bytes:
    """A noisy 128×128 image without its last 40%: a valid header, the end cut off (an
    interrupted copy)."""
    import io

    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(13).integers(0, 256, (128, 128, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=image_format)
    data = out.getvalue()
    return data[: len(data) * 6 // 10]


HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00garbage" * 50
CORRUPT_PNG = b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50
CORRUPT_PDF = b"%PDF-1.4\n" + b"garbage\n" * 50
CORRUPT_MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00garbage" * 50


# --- the context a row runs in ---------------------------------------------------------------

# Building a google-genai client costs ~0.2 s (TLS contexts); rows share one per setup.
_shared: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_shared() -> Iterator[None]:
    yield
    # Close the shared clients' connections now, not at interpreter exit (ResourceWarning).
    for obj in _shared.values():
        for owner in (obj, getattr(obj, "_client", None)):
            close = getattr(owner, "close", None)
            if callable(close):
                close()
    _shared.clear()


@dataclass
class Ctx:
    emu: Emulator
    tmp: Path
    monkeypatch: pytest.MonkeyPatch

    def _shared(self, kind: str, build: Callable[[], Any], kw: dict[str, Any]) -> Any:
        key = (kind, tuple(sorted(kw.items(), key=lambda pair: pair[0])))
        try:
            return _shared[key]
        except (KeyError, TypeError):  # TypeError: an unhashable option; build a fresh one
            pass
        built = build()
        with contextlib.suppress(TypeError):
            _shared[key] = built
        return built

    def gemini(self, model: str = "gemini-embedding-2", **kw: Any) -> GeminiEmbedder:
        return self._shared(  # type: ignore[no-any-return]
            "gemini:" + model,
            lambda: GeminiEmbedder(
                model, api_key="test-key", base_url=self.emu.base_url, retry_policy=FAST, **kw
            ),
            kw,
        )

    def gemini_vertex(self, model: str = "gemini-embedding-2", **kw: Any) -> GeminiEmbedder:
        return self._shared(  # type: ignore[no-any-return]
            "gemini-vertex:" + model,
            lambda: GeminiEmbedder(
                model,
                vertexai=True,
                project="proj",
                location="us-central1",
                credentials=Credentials(token="token"),  # type: ignore[no-untyped-call]
                base_url=self.emu.base_url,
                retry_policy=FAST,
                **kw,
            ),
            kw,
        )

    def vertex(self, **kw: Any) -> VertexMultiModalEmbedder:
        return self._shared(  # type: ignore[no-any-return]
            "vertex",
            lambda: VertexMultiModalEmbedder(
                project="proj",
                location="us-central1",
                access_token="token",
                base_url=self.emu.base_url,
                retry_policy=FAST,
                requests_per_minute=None,
                **kw,
            ),
            kw,
        )

    def dashscope(
        self, model: str = "tongyi-embedding-vision-plus", **kw: Any
    ) -> DashScopeEmbedder:
        # Cheap to build (no TLS context until the first call), and `close` must not leak.
        return DashScopeEmbedder(
            model,
            api_key="sk-test",
            base_url=self.emu.base_url + "/api/v1",
            retry_policy=FAST,
            **kw,
        )

    def llm(self, model: str = "gemini-2.5-flash", **kw: Any) -> GeminiGenerator:
        return self._shared(  # type: ignore[no-any-return]
            "llm:" + model,
            lambda: GeminiGenerator(
                model, api_key="test-key", base_url=self.emu.base_url, max_retries=1, **kw
            ),
            kw,
        )

    def llm_vertex(self, **kw: Any) -> GeminiGenerator:
        return self._shared(  # type: ignore[no-any-return]
            "llm-vertex",
            lambda: GeminiGenerator(
                vertexai=True,
                project="proj",
                location="us-central1",
                credentials=Credentials(token="token"),  # type: ignore[no-untyped-call]
                base_url=self.emu.base_url,
                max_retries=1,
                **kw,
            ),
            kw,
        )

    def file(self, name: str, data: bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(data)
        return path

    def sparse(self, name: str, head: bytes, size: int) -> Path:
        """A file of ``size`` bytes that starts with ``head`` (sparse: instant, no disk)."""
        path = self.tmp / name
        with path.open("wb") as out:
            out.write(head)
            out.truncate(size)
        return path

    def media(self, name: str, data: bytes) -> Media:
        return Media.from_path(self.file(name, data))

    def no_credentials(self) -> None:
        for name in _CREDENTIAL_ENV:
            self.monkeypatch.delenv(name, raising=False)
        # google.auth.default() fails fast on a missing key file, before any metadata probe.
        self.monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(self.tmp / "none.json"))

    def wrong_key(self) -> None:
        """The emulator now wants another key than the one the clients send."""
        self.emu.api_key = "the-right-key"


def user(*parts: Any) -> list[Message]:
    return [Message("user", list(parts))]


def _unreadable(ctx: Ctx) -> Any:
    path = ctx.file("locked.png", _png())
    path.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the permission check see what a user would
        real = os.access
        ctx.monkeypatch.setattr(
            os, "access", lambda p, mode, **kw: False if Path(p) == path else real(p, mode, **kw)
        )
    return ctx.gemini().embed([path])


def _vanished(ctx: Ctx) -> list[Any]:
    path = ctx.file("gone.png", _png())
    media = Media.from_path(path)
    path.unlink()  # deleted (or unmounted) between building the input and embedding it
    return ctx.vertex().embed([media])


def _fifo(ctx: Ctx) -> Any:
    path = ctx.tmp / "pipe"
    os.mkfifo(path)
    return ctx.dashscope().embed([path])


def _closed(ctx: Ctx) -> Any:
    embedder = ctx.dashscope()
    embedder.close()
    return embedder.embed(["hello"])


def _wav_with_format_tag(tag: int) -> bytes:
    """A WAV whose format tag names a codec FFmpeg has no decoder for."""
    data = b"\x00" * 16000
    fmt = struct.pack("<HHIIHH", tag, 1, 8000, 16000, 2, 16)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks) + len(data)) + b"WAVE" + chunks + data


# --- the rows ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    call: Callable[[Ctx], object]
    #: The error class; None for a row that only warns (and still sends).
    error: type[Exception] | None
    #: A stable part of the message (or of the warning).
    fragment: str
    #: True: raised before any request. False: the service's answer, mapped.
    local: bool = True
    #: Why this row is not yet what the table promises (the test is a strict xfail).
    gap: str | None = None
    #: Runs first, outside the `pytest.raises` block (e.g. `Ctx.no_credentials`).
    setup: Callable[[Ctx], None] | None = None


ROWS: list[Row] = [
    # --- files ---------------------------------------------------------------------------------
    Row(
        "missing-file",
        lambda c: c.gemini().embed([c.tmp / "nope.png"]),
        MediaNotFoundError,
        "nope.png): does not exist; pass the path of an existing file",
    ),
    Row(
        "directory",
        lambda c: c.vertex().embed([c.tmp]),
        MediaNotFoundError,
        "is a directory, not a file",
    ),
    Row(
        "not-a-regular-file",
        _fifo,
        MediaNotFoundError,
        "is not a regular file (a pipe, socket or device)",
    ),
    Row(
        "unreadable-file",
        _unreadable,
        MediaNotFoundError,
        "is not readable (check its permissions)",
    ),
    Row("file-vanished", _vanished, MediaNotFoundError, "gone.png): cannot be read ("),
    Row(
        "empty-file",
        lambda c: c.dashscope().embed([c.file("empty.png", b"")]),
        EmptyInputError,
        "the file is empty",
    ),
    Row(
        "empty-bytes",
        lambda c: Media.from_bytes(b""),
        EmptyInputError,
        "Media.from_bytes got no bytes",
    ),
    Row(
        "empty-text",
        lambda c: c.gemini().embed(["ok", ""]),
        EmptyInputError,
        "input 1: nothing to embed (empty or blank text)",
    ),
    Row(
        "blank-text",
        lambda c: c.vertex().embed(["  \n"]),
        EmptyInputError,
        "input 0: nothing to embed (empty or blank text)",
    ),
    Row("no-inputs", lambda c: c.dashscope().embed([]), EmptyInputError, "embed() got no inputs"),
    Row(
        "not-embeddable",
        lambda c: c.gemini().embed([42]),
        InputError,
        "input 0: cannot embed a int; pass text, a Media, or a list of them",
    ),
    Row(
        "unknown-content",
        lambda c: c.dashscope().embed([c.media("blob.bin", b"\x01\x02garbage" * 10)]),
        UnsupportedMediaError,
        "cannot tell the media type from its content; pass mime_type=",
    ),
    Row(
        "bad-uri-scheme",
        lambda c: Media.from_uri("ftp://example.com/cat.png"),
        UnsupportedMediaError,
        "unsupported URI scheme 'ftp'",
    ),
    # --- corrupt media -------------------------------------------------------------------------
    Row(
        "corrupt-image-gemini",
        lambda c: c.gemini().embed([c.media("bad.png", CORRUPT_PNG)]),
        UnsupportedMediaError,
        "bad.png): the image cannot be decoded",
    ),
    Row(
        "corrupt-image-vertex",
        lambda c: c.vertex().embed([c.media("bad.png", CORRUPT_PNG)]),
        UnsupportedMediaError,
        "bad.png): the image cannot be decoded",
    ),
    Row(
        "corrupt-image-dashscope",
        lambda c: c.dashscope().embed([c.media("bad.png", CORRUPT_PNG)]),
        UnsupportedMediaError,
        "bad.png): the image cannot be decoded",
    ),
    Row(
        "corrupt-image-llm",
        lambda c: c.llm().generate(user("what is this?", c.media("bad.png", CORRUPT_PNG))),
        UnsupportedMediaError,
        "bad.png: the image cannot be decoded",
    ),
    Row(
        "corrupt-pdf-gemini",
        lambda c: c.gemini().embed([c.media("bad.pdf", CORRUPT_PDF)]),
        UnsupportedMediaError,
        "bad.pdf): the PDF cannot be opened",
    ),
    Row(
        "corrupt-video-gemini",
        lambda c: c.gemini().embed([c.media("bad.mp4", CORRUPT_MP4)]),
        UnsupportedMediaError,
        "bad.mp4): the media cannot be decoded",
    ),
    Row(
        "corrupt-video-vertex",
        lambda c: c.vertex().embed([c.media("bad.mp4", CORRUPT_MP4)]),
        UnsupportedMediaError,
        "bad.mp4): the media cannot be decoded",
    ),
    Row(
        "corrupt-video-dashscope",
        lambda c: c.dashscope().embed([c.media("bad.mp4", CORRUPT_MP4)]),
        UnsupportedMediaError,
        "bad.mp4): the media cannot be decoded",
    ),
    # --- a type the model does not take --------------------------------------------------------
    Row(
        "image-on-text-model",
        lambda c: c.gemini("gemini-embedding-001").embed([Media.from_bytes(_png())]),
        UnsupportedMediaError,
        "gemini-embedding-001 embeds text only",
    ),
    Row(
        "avi-on-gemini",
        lambda c: c.gemini().embed([c.media("clip.avi", _avi())]),
        UnsupportedMediaError,
        "gemini-embedding-2 takes MP4 or MOV video, not video/x-msvideo",
    ),
    Row(
        "flac-on-gemini",
        lambda c: c.gemini().embed([c.media("a.flac", b"fLaC" + b"\x00" * 64)]),
        UnsupportedMediaError,
        "gemini-embedding-2 takes MP3 or WAV audio, not audio/flac",
    ),
    Row(
        "text-file-on-gemini",
        lambda c: c.gemini().embed([c.media("notes.txt", b"hello")]),
        UnsupportedMediaError,
        "gemini-embedding-2 does not embed text/plain",
    ),
    Row(
        "pdf-on-vertex",
        lambda c: c.vertex().embed([Media.from_bytes(_pdf(1))]),
        UnsupportedMediaError,
        "multimodalembedding@001 embeds text, images and video, not application/pdf",
    ),
    Row(
        "audio-on-vertex",
        lambda c: c.vertex().embed([Media.from_bytes(_wav(1))]),
        UnsupportedMediaError,
        "multimodalembedding@001 embeds text, images and video, not audio/wav",
    ),
    Row(
        "pdf-on-dashscope",
        lambda c: c.dashscope().embed([Media.from_bytes(_pdf(1))]),
        UnsupportedMediaError,
        "tongyi-embedding-vision-plus embeds text, images and video, not application/pdf",
    ),
    Row(
        "audio-on-dashscope",
        lambda c: c.dashscope().embed([Media.from_bytes(_wav(1))]),
        UnsupportedMediaError,
        "embeds text, images and video, not audio/wav (audio)",
    ),
    Row(
        "mime-on-llm",
        lambda c: c.llm().generate(user("hi", Media.from_bytes(b"PK\x03\x04", "application/zip"))),
        UnsupportedMediaError,
        "Gemini cannot read application/zip",
    ),
    # --- size, count and length limits ---------------------------------------------------------
    Row(
        "oversized-image-gemini",
        lambda c: c.gemini().embed([c.sparse("big.png", _png(), 19 * 2**20)]),
        MediaLimitError,
        "the file is 19.0 MiB; inline media must stay under 18 MiB per request",
    ),
    Row(
        "oversized-image-vertex",
        lambda c: c.vertex(downscale_images=False).embed([c.sparse("big.png", _png(), 21 * 2**20)]),
        MediaLimitError,
        "the image is 21.0 MiB; multimodalembedding@001 takes at most 20 MiB",
    ),
    Row(
        "oversized-video-dashscope",
        lambda c: c.dashscope().embed([c.sparse("big.mp4", _video(2), 11 * 2**20)]),
        MediaLimitError,
        "the video is 11.0 MiB; tongyi-embedding-vision-plus takes at most 10 MiB",
    ),
    Row(
        "oversized-inline-llm-vertex",
        lambda c: c.llm_vertex(inline_limit_bytes=2**20).generate(
            user("hi", Media.from_path(c.sparse("big.png", _png(), 3 * 2**20)))
        ),
        MediaLimitError,
        "inline limit; on Vertex AI put large files in Cloud Storage and pass gs:// URIs",
    ),
    Row(
        "too-many-images-gemini",
        lambda c: c.gemini().embed([[Media.from_bytes(_png())] * 7]),
        MediaLimitError,
        "input 0: 7 images in one input; gemini-embedding-2 takes at most 6",
    ),
    Row(
        "too-many-images-vertex",
        lambda c: c.vertex().embed([[Media.from_bytes(_png())] * 2]),
        MediaLimitError,
        "holds at most one text, one image and one video (got 0, 2, 0)",
    ),
    Row(
        "too-many-texts-vertex",
        lambda c: c.vertex().embed([["a cat", "a dog"]]),
        MediaLimitError,
        "holds at most one text, one image and one video (got 2, 0, 0)",
    ),
    Row(
        "too-many-images-dashscope",
        lambda c: c.dashscope().embed([[Media.from_bytes(_png())] * 9]),
        MediaLimitError,
        "9 images in one input; tongyi-embedding-vision-plus takes at most 8 images",
    ),
    Row(
        "two-images-qwen",
        lambda c: c.dashscope("qwen3-vl-embedding").embed([[Media.from_bytes(_png())] * 2]),
        MediaLimitError,
        "qwen3-vl-embedding takes one image per fused input",
    ),
    Row(
        "two-videos-dashscope",
        lambda c: c.dashscope().embed([[c.media("a.mp4", _video(2)), c.media("b.mp4", _video(2))]]),
        MediaLimitError,
        "2 videos in one input; tongyi-embedding-vision-plus takes one video per input",
    ),
    Row(
        "too-many-pdf-pages",
        lambda c: c.gemini().embed([Media.from_bytes(_pdf(7))]),
        MediaLimitError,
        "the PDF has 7 pages; gemini-embedding-2 takes at most 6 pages per input",
    ),
    Row(
        "video-too-long-gemini",
        lambda c: c.gemini().embed([c.media("long.mp4", _video(121))]),
        MediaLimitError,
        "the video is 121.0 s long; gemini-embedding-2 takes at most 120 s per input",
    ),
    Row(
        "audio-too-long-gemini",
        lambda c: c.gemini().embed([c.media("long.wav", _wav(81))]),
        MediaLimitError,
        "the audio is 81.0 s long; gemini-embedding-2 takes at most 80 s per input",
    ),
    Row(
        "video-with-sound-too-long-gemini",
        lambda c: c.gemini().embed([c.media("talk.mp4", _video_with_sound(81))]),
        MediaLimitError,
        "s long; gemini-embedding-2 takes at most 80 s per input",
    ),
    Row(
        "text-too-long-dashscope",
        lambda c: c.dashscope().embed(["word " * 2000]),
        MediaLimitError,
        "tongyi-embedding-vision-plus takes at most 1024 tokens per input. Split it into chunks",
    ),
    Row(
        "text-long-gemini",
        lambda c: c.gemini("gemini-embedding-001").embed(["word " * 3000]),
        None,
        "over gemini-embedding-001's limit of 2048; the service truncates it",
    ),
    Row(
        "text-long-vertex",
        lambda c: c.vertex().embed(["word " * 100]),
        None,
        "multimodalembedding@001 reads the first 32 and ignores the rest",
    ),
    Row(
        "text-long-dashscope",
        lambda c: c.dashscope().embed(["word " * 1000]),
        None,
        "maybe over tongyi-embedding-vision-plus's limit of 1024; the service may reject it",
    ),
    # --- parameters ----------------------------------------------------------------------------
    Row(
        "unknown-keyword",
        lambda c: GeminiEmbedder(api_key="k", dimensons=256),
        UnknownParameterError,
        "GeminiEmbedder() got an unexpected keyword argument 'dimensons'; did you mean "
        "'dimensions'?",
    ),
    Row(
        "dimension-gemini",
        lambda c: GeminiEmbedder(api_key="k", output_dimensionality=4000),
        InvalidParameterError,
        "output_dimensionality=4000 is not allowed for gemini-embedding-2; use 1..3072",
    ),
    Row(
        "dimension-vertex",
        lambda c: VertexMultiModalEmbedder(project="p", access_token="t", dimension=100),
        InvalidParameterError,
        "dimension=100 is not offered by multimodalembedding@001; use one of 128, 256, 512, 1408",
    ),
    Row(
        "dimension-dashscope",
        lambda c: DashScopeEmbedder(api_key="k", dimension=100),
        InvalidParameterError,
        "dimension=100 is not allowed for tongyi-embedding-vision-plus; use one of 64, 128",
    ),
    Row(
        "dimension-fixed-dashscope",
        lambda c: DashScopeEmbedder("multimodal-embedding-v1", api_key="k", dimension=512),
        InvalidParameterError,
        "multimodal-embedding-v1 has a fixed 1024-dimension output and takes no dimension=",
    ),
    Row(
        "segment-negative-start",
        lambda c: VideoSegmentConfig(-1, 10, 5),
        InvalidParameterError,
        "VideoSegmentConfig.start_offset_sec must be >= 0, got -1",
    ),
    Row(
        "segment-end-before-start",
        lambda c: VideoSegmentConfig(10, 10, 5),
        InvalidParameterError,
        "VideoSegmentConfig.end_offset_sec must be greater than start_offset_sec",
    ),
    Row(
        "segment-interval-zero",
        lambda c: VideoSegmentConfig(0, 10, 0),
        InvalidParameterError,
        "VideoSegmentConfig.interval_sec must be > 0, got 0",
    ),
    Row(
        "segment-interval-below-4-vertex",
        lambda c: c.vertex().embed(
            [c.media("v.mp4", _video(3))], video_segment_config=VideoSegmentConfig(0, 3, 2)
        ),
        InvalidParameterError,
        "input 0: interval_sec=2 is below multimodalembedding@001's minimum of 4 s",
    ),
    Row(
        "segment-interval-above-120-vertex",
        lambda c: c.vertex().embed_video(
            c.media("v.mp4", _video(3)), VideoSegmentConfig(0, 3, 200)
        ),
        InvalidParameterError,
        "interval_sec=200 is above multimodalembedding@001's maximum of 120 s",
    ),
    Row(
        "segment-start-past-end-vertex",
        lambda c: c.vertex().embed_video(c.media("v.mp4", _video(3)), VideoSegmentConfig(30, 40)),
        InvalidParameterError,
        "start_offset_sec=30 is past the end of the 3.0 s video",
    ),
    Row(
        "segment-config-not-a-config-vertex",
        lambda c: c.vertex().embed(["a"], video_segment_config={"interval_sec": 8}),
        InvalidParameterError,
        "video_segment_config must be a VideoSegmentConfig, not dict",
    ),
    Row(
        "unknown-task",
        lambda c: c.gemini().embed(["a"], task="SUMMARIZE"),
        InvalidParameterError,
        "unknown task 'SUMMARIZE'; use one of RETRIEVAL_DOCUMENT",
    ),
    Row(
        "fps-dashscope",
        lambda c: DashScopeEmbedder(api_key="k", fps=2),
        InvalidParameterError,
        "fps=2 is out of range; it is the share of video frames sampled, in [0, 1]",
    ),
    Row(
        "mixed-input-dashscope",
        lambda c: c.dashscope().embed([["a caption", Media.from_bytes(_png())]]),
        InvalidParameterError,
        "so one input cannot mix text and image",
    ),
    Row(
        "titles-mismatch",
        lambda c: c.gemini().embed(["a", "b"], titles=["only one"]),
        InputError,
        "titles has 1 entries for 2 inputs; give one title (or None) per input",
    ),
    Row(
        "unexpected-option-gemini",
        lambda c: c.gemini().embed(["a"], dimensions=256),
        ConfigurationError,
        "GeminiEmbedder.embed() got unexpected options ['dimensions']",
    ),
    Row(
        "unexpected-option-vertex",
        lambda c: c.vertex().embed(["a"], segment_config=VideoSegmentConfig()),
        ConfigurationError,
        "VertexMultiModalEmbedder.embed() got unexpected options ['segment_config']",
    ),
    Row(
        "unexpected-option-dashscope",
        lambda c: c.dashscope().embed(["a"], video_segment_config=VideoSegmentConfig()),
        ConfigurationError,
        "DashScopeEmbedder.embed() got unexpected options ['video_segment_config']",
    ),
    # --- references a provider cannot read -----------------------------------------------------
    Row(
        "gs-on-gemini-api",
        lambda c: c.gemini().embed([Media.from_uri("gs://bucket/cat.png")]),
        UnsupportedMediaError,
        "gs:// URIs work only on Vertex AI (vertexai=True)",
    ),
    Row(
        "gs-on-dashscope",
        lambda c: c.dashscope().embed([Media.from_uri("gs://bucket/cat.png")]),
        UnsupportedMediaError,
        "gs:// images cannot be read by DashScope",
    ),
    Row(
        "oss-on-gemini",
        lambda c: c.gemini_vertex().embed([Media.from_uri("oss://bucket/cat.png")]),
        UnsupportedMediaError,
        "oss:// URIs are DashScope's; Gemini cannot read them",
    ),
    Row(
        "oss-on-vertex",
        lambda c: c.vertex().embed([Media.from_uri("oss://bucket/cat.png")]),
        UnsupportedMediaError,
        "oss:// URIs are DashScope's; pass a local file or gs://",
    ),
    Row(
        "local-video-no-upload-dashscope",
        lambda c: c.dashscope(allow_upload=False).embed([c.media("v.mp4", _video(2))]),
        UnsupportedMediaError,
        "DashScope takes video by URL only, and uploading local files is off",
    ),
    Row(
        "gs-on-llm-gemini-api",
        lambda c: c.llm().generate(user("hi", Media.from_uri("gs://bucket/cat.png"))),
        InvalidParameterError,
        "gs:// URIs work only on Vertex AI",
    ),
    Row(
        "oss-on-llm",
        lambda c: c.llm().generate(user("hi", Media.from_uri("oss://bucket/cat.png"))),
        InvalidParameterError,
        "oss:// URIs are DashScope's; Gemini cannot read them",
    ),
    Row(
        "files-api-on-vertex-llm",
        lambda c: c.llm_vertex().upload_file(Media.from_bytes(_png())),
        InvalidParameterError,
        "the Files API exists only on the Gemini API; on Vertex AI use gs:// URIs",
    ),
    # --- generation settings -------------------------------------------------------------------
    Row(
        "safety-category",
        lambda c: c.llm().generate(
            user("hi"), config=GenerationConfig(safety_settings={"HARM_X": "BLOCK_NONE"})
        ),
        InvalidParameterError,
        "unknown safety category 'HARM_X'",
    ),
    Row(
        "safety-threshold",
        lambda c: c.llm().generate(
            user("hi"),
            config=GenerationConfig(safety_settings={"HARM_CATEGORY_HATE_SPEECH": "SOME"}),
        ),
        InvalidParameterError,
        "unknown safety threshold 'SOME' for HARM_CATEGORY_HATE_SPEECH",
    ),
    Row(
        "tool-choice",
        lambda c: c.llm().generate(
            user("hi"), config=GenerationConfig(tools=[ToolSpec("lookup")], tool_choice="search")
        ),
        InvalidParameterError,
        "tool_choice='search' is neither 'auto', 'any', 'none' nor a bound tool",
    ),
    Row(
        "video-fps-llm",
        lambda c: c.llm().generate(user("hi", MediaPart(c.media("v.mp4", _video(2)), fps=30))),
        InvalidParameterError,
        "video fps=30 must be in (0, 24]",
    ),
    Row(
        "video-offsets-llm",
        lambda c: c.llm().generate(
            user("hi", MediaPart(c.media("v.mp4", _video(2)), start_offset_sec=5, end_offset_sec=2))
        ),
        InvalidParameterError,
        "video end_offset_sec=2 must be after start_offset_sec=5",
    ),
    Row(
        "video-negative-offset-llm",
        lambda c: c.llm().generate(
            user("hi", MediaPart(c.media("v.mp4", _video(2)), start_offset_sec=-3))
        ),
        InvalidParameterError,
        "video start_offset_sec=-3 must be >= 0",
    ),
    Row(
        "no-messages",
        lambda c: c.llm().generate([]),
        InvalidParameterError,
        "no messages to send; pass at least one user message",
    ),
    Row(
        "bad-role",
        lambda c: c.llm().generate([Message("system", ["hi"])]),  # type: ignore[arg-type]
        InvalidParameterError,
        "message role 'system' is not allowed; use 'user' or 'model'",
    ),
    Row(
        "empty-message",
        lambda c: c.llm().generate(user("")),
        InvalidParameterError,
        "a user message has no parts (empty text is not sent)",
    ),
    Row(
        "temperature-out-of-range",
        lambda c: c.llm().generate(user("hi"), config=GenerationConfig(temperature=5)),
        InvalidArgumentError,
        "temperature",
        local=False,
    ),
    # --- credentials ---------------------------------------------------------------------------
    Row(
        "wrong-key-gemini-api",
        lambda c: c.gemini().embed(["a"]),
        AuthenticationError,
        "API key not valid",
        local=False,
        setup=Ctx.wrong_key,
    ),
    Row(
        "wrong-token-gemini-vertex",
        lambda c: c.gemini_vertex().embed(["a"]),
        AuthenticationError,
        "invalid authentication credentials",
        local=False,
        setup=Ctx.wrong_key,
    ),
    Row(
        # One content per request on Vertex AI: the requests already in flight all come back
        # 401, and the caller still gets that one AuthenticationError.
        "wrong-token-many-inputs-gemini-vertex",
        lambda c: c.gemini_vertex().embed(["a", "b", "c", "d"]),
        AuthenticationError,
        "invalid authentication credentials",
        local=False,
        setup=Ctx.wrong_key,
    ),
    Row(
        "wrong-token-vertex",
        lambda c: c.vertex().embed(["a"]),
        AuthenticationError,
        "invalid authentication credentials",
        local=False,
        setup=Ctx.wrong_key,
    ),
    Row(
        "wrong-key-dashscope",
        lambda c: c.dashscope().embed(["a"]),
        AuthenticationError,
        "Invalid API-key provided",
        local=False,
        setup=Ctx.wrong_key,
    ),
    Row(
        "wrong-key-llm",
        lambda c: c.llm().generate(user("hi")),
        AuthenticationError,
        "API key not valid",
        local=False,
        setup=Ctx.wrong_key,
    ),
    Row(
        "no-key-gemini",
        lambda c: GeminiEmbedder(base_url=c.emu.base_url),
        MissingCredentialsError,
        "no Gemini API key: pass api_key= or set GEMINI_API_KEY",
        setup=Ctx.no_credentials,
    ),
    Row(
        "no-adc-gemini-vertex",
        lambda c: GeminiEmbedder(vertexai=True, project="p"),
        MissingCredentialsError,
        "no Google Cloud credentials found for Vertex AI",
        setup=Ctx.no_credentials,
    ),
    Row(
        "no-adc-vertex",
        lambda c: VertexMultiModalEmbedder(project="p"),
        MissingCredentialsError,
        "no Google Cloud credentials for Vertex AI",
        setup=Ctx.no_credentials,
    ),
    Row(
        "no-project-vertex",
        lambda c: VertexMultiModalEmbedder(access_token="t"),
        MissingCredentialsError,
        "Vertex AI needs a project: pass project= or set GOOGLE_CLOUD_PROJECT",
        setup=Ctx.no_credentials,
    ),
    Row(
        "no-key-dashscope",
        lambda c: DashScopeEmbedder(),
        MissingCredentialsError,
        "no DashScope API key: pass api_key= or set DASHSCOPE_API_KEY",
        setup=Ctx.no_credentials,
    ),
    Row(
        "no-key-llm",
        lambda c: GeminiGenerator(),
        MissingCredentialsError,
        "no Gemini API key",
        setup=Ctx.no_credentials,
    ),
    # --- issue 13: input hardening -----------------------------------------------------------
    Row(
        "lone-surrogate-text",
        lambda c: c.gemini().embed(["ok", "bad \ud800 text"]),
        InputError,
        "input 1: the text holds a lone surrogate ('\\ud800' at character 4)",
    ),
    Row(
        "lone-surrogate-title",
        lambda c: c.gemini("gemini-embedding-001").embed(["a"], titles=["bad \ud800"]),
        InvalidParameterError,
        "titles[0] holds a lone surrogate ('\\ud800' at character 4)",
    ),
    Row(
        "lone-surrogate-instruct",
        lambda c: c.dashscope(instruct="find \udfff"),
        InvalidParameterError,
        "instruct= holds a lone surrogate ('\\udfff' at character 5)",
    ),
    Row(
        "title-not-text",
        lambda c: c.gemini("gemini-embedding-001").embed(["a"], titles=[1]),
        InvalidParameterError,
        "titles[0] is a int; give a str (or None) per input",
    ),
    Row(
        "max-concurrency-zero",
        lambda c: c.vertex(max_concurrency=0),
        InvalidParameterError,
        "max_concurrency=0 must be a whole number >= 1",
    ),
    Row(
        "requests-per-minute-nan",
        lambda c: GeminiEmbedder(api_key="k", requests_per_minute=float("nan")),
        InvalidParameterError,
        "requests_per_minute=nan must be a finite number > 0",
    ),
    Row(
        "max-retries-negative",
        lambda c: c.dashscope(max_retries=-1),
        InvalidParameterError,
        "max_retries=-1 must be a whole number >= 0",
    ),
    Row(
        "timeout-negative",
        lambda c: c.dashscope(timeout=-5),
        InvalidParameterError,
        "timeout=-5 must be a finite number of seconds > 0, or None",
    ),
    Row(
        "inflight-bytes-zero",
        lambda c: GeminiEmbedder(api_key="k", max_inflight_bytes=0),
        InvalidParameterError,
        "max_inflight_bytes=0 must be a whole number >= 1",
    ),
    Row(
        "dimension-bool-gemini",
        lambda c: GeminiEmbedder(api_key="k", output_dimensionality=True),
        InvalidParameterError,
        "output_dimensionality=True is not allowed for gemini-embedding-2",
    ),
    Row(
        "decompression-bomb",
        lambda c: c.dashscope().embed([c.media("huge.png", _bomb_png())]),
        MediaLimitError,
        "the image claims 400,000,000 pixels, over the 178,956,970-pixel limit",
    ),
    Row(
        "segment-interval-not-finite",
        lambda c: VideoSegmentConfig(0, None, float("inf")),
        InvalidParameterError,
        "VideoSegmentConfig.interval_sec must be a finite number of seconds, got inf",
    ),
    Row(
        "too-many-segments",
        lambda c: c.gemini().embed_video(
            c.media("v.mp4", _video(3)), VideoSegmentConfig(interval_sec=1e-300)
        ),
        InvalidParameterError,
        "interval_sec=1e-300 would cut the 3.0 s stretch into",
    ),
    Row(
        "audio-corrupt",
        lambda c: c.gemini().embed_audio(c.media("junk.wav", b"RIFF\x00\x00\x00\x00WAVEjunk")),
        UnsupportedMediaError,
        "junk.wav: the audio cannot be decoded (",
    ),
    Row(
        "audio-no-stream",
        lambda c: c.gemini().embed_audio(c.media("silent.mp4", _video(2))),
        UnsupportedMediaError,
        "silent.mp4: the file has no audio stream (a video track only)",
    ),
    Row(
        "audio-codec-not-decodable",
        lambda c: c.gemini().embed_audio(c.media("odd.wav", _wav_with_format_tag(0x9999))),
        UnsupportedMediaError,
        "odd.wav: the audio's codec has no decoder in this PyAV (FFmpeg) build",
    ),
    Row(
        "audio-over-limit-whole",
        lambda c: c.gemini().embed([c.media("talk.wav", make.wav(90, rate=8000))]),
        MediaLimitError,
        "the audio is 90.0 s long; gemini-embedding-2 takes at most 80 s per input. Embed it "
        "as timed segments with embed_audio()",
    ),
    Row(
        "audio-empty",
        lambda c: c.gemini().embed_audio(c.media("empty.wav", make.wav(0, rate=8000))),
        UnsupportedMediaError,
        "empty.wav: the audio is empty (0 s long)",
    ),
    Row(
        "audio-model-deaf",
        lambda c: c.gemini("gemini-embedding-001").embed_audio(
            c.media("talk.wav", make.wav(1, rate=8000))
        ),
        UnsupportedMediaError,
        "does not hear audio; embed audio with GeminiEmbedder('gemini-embedding-2')",
    ),
    Row(
        "oversized-small-image-vertex",
        lambda c: c.vertex().embed([c.sparse("big.png", _png(), 21 * 2**20)]),
        MediaLimitError,
        "the image is 21.0 MiB at 16×16 px; multimodalembedding@001 takes at most 20 MiB",
    ),
    Row(
        "truncated-png",
        lambda c: c.gemini().embed([c.media("cut.png", _truncated("PNG"))]),
        UnsupportedMediaError,
        "cut.png): the image is truncated or corrupt (",
    ),
    Row(
        "truncated-jpeg",
        lambda c: c.vertex().embed([c.media("cut.jpg", _truncated("JPEG"))]),
        UnsupportedMediaError,
        "cut.jpg): the image is truncated or corrupt (",
    ),
    Row(
        "heic-on-gemini",
        lambda c: c.gemini().embed([c.media("photo.heic", HEIC)]),
        UnsupportedMediaError,
        "gemini-embedding-2 takes PNG or JPEG images, not image/heic; it cannot be converted",
    ),
    Row(
        "heic-on-vertex",
        lambda c: c.vertex().embed([c.media("photo.heic", HEIC)]),
        UnsupportedMediaError,
        "multimodalembedding@001 takes JPEG or PNG images, not image/heic",
    ),
    Row(
        "heic-on-dashscope",
        lambda c: c.dashscope().embed([c.media("photo.heic", HEIC)]),
        UnsupportedMediaError,
        "tongyi-embedding-vision-plus does not take image/heic images",
    ),
    Row(
        "sound-only-mp4-gemini",
        lambda c: c.gemini().embed([c.media("talk.mp4", _sound_only_mp4())]),
        UnsupportedMediaError,
        "the file has no video track (only sound), so gemini-embedding-2 cannot embed it as "
        "video; for sound alone, convert it to MP3 or WAV and pass it as audio",
    ),
    Row(
        "sound-only-mp4-vertex",
        lambda c: c.vertex().embed([c.media("talk.mp4", _sound_only_mp4())]),
        UnsupportedMediaError,
        "the file has no video track (only sound), so multimodalembedding@001 cannot embed it",
    ),
    Row(
        "sound-only-mp4-dashscope",
        lambda c: c.dashscope().embed([c.media("talk.mp4", _sound_only_mp4())]),
        UnsupportedMediaError,
        "the file has no video track (only sound), so tongyi-embedding-vision-plus cannot",
    ),
    Row(
        "text-huge-gemini",
        lambda c: c.gemini("gemini-embedding-001").embed(["word " * 5_000_000]),
        None,
        "the text is far over gemini-embedding-001's 2048-token limit; sending its first "
        "131072 characters",
    ),
    # --- models and setup ----------------------------------------------------------------------
    Row(
        "vertex-only-model-on-gemini-api",
        lambda c: GeminiEmbedder("text-embedding-005", api_key="k"),
        ConfigurationError,
        "text-embedding-005 is served only on Vertex AI",
    ),
    Row(
        "unknown-model-gemini",
        lambda c: c.gemini("gemini-embedding-999").embed(["a"]),
        NotFoundError,
        "models/gemini-embedding-999 is not found",
        local=False,
    ),
    Row(
        "unknown-model-gemini-vertex",
        lambda c: c.gemini_vertex("gemini-embedding-999").embed(["a"]),
        NotFoundError,
        "models/gemini-embedding-999` not found",
        local=False,
    ),
    Row(
        "unknown-model-many-inputs-vertex",
        lambda c: c.gemini_vertex("gemini-embedding-999").embed(["a", "b", "c", "d"]),
        NotFoundError,
        "models/gemini-embedding-999` not found",
        local=False,
    ),
    Row(
        "unknown-model-dashscope",
        lambda c: c.dashscope("no-such-embedding").embed(["a"]),
        NotFoundError,
        "Model not exist.",
        local=False,
    ),
    Row(
        "unknown-model-llm",
        lambda c: c.llm("gemini-9-ultra").generate(user("hi")),
        NotFoundError,
        "models/gemini-9-ultra is not found",
        local=False,
    ),
    Row(
        "bad-base-url",
        lambda c: GeminiEmbedder(api_key="k", base_url="localhost:8765"),
        ConfigurationError,
        "base_url='localhost:8765' is not an http(s) URL",
    ),
    Row(
        "bad-region-dashscope",
        lambda c: DashScopeEmbedder(api_key="k", region="us"),
        ConfigurationError,
        "region='us' is unknown; use 'intl' (Singapore) or 'cn' (Beijing)",
    ),
    Row("closed-dashscope", _closed, ConfigurationError, "this DashScopeEmbedder is closed"),
]


def _param(row: Row) -> Any:
    marks = [pytest.mark.xfail(strict=True, reason=row.gap)] if row.gap else []
    return pytest.param(row, id=row.id, marks=marks)


@pytest.mark.parametrize("row", [_param(row) for row in ROWS])
def test_bad_input(
    row: Row,
    emu: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctx = Ctx(emu, tmp_path, monkeypatch)
    if row.setup is not None:
        row.setup(ctx)
    if row.error is None:
        with caplog.at_level(logging.WARNING, logger="omniembed"):
            row.call(ctx)
        assert row.fragment in caplog.text
        assert emu.requests, "a warning row still sends the input"
        return
    with pytest.raises(row.error) as raised:
        row.call(ctx)
    assert type(raised.value) is row.error, f"{type(raised.value).__name__}: {raised.value}"
    assert row.fragment in str(raised.value)
    if row.local:
        assert emu.requests == [], "a local error must not reach the service"
    else:
        assert emu.requests, "this error is the service's answer"


# --- the table in docs/errors.md -------------------------------------------------------------


def _table() -> dict[str, tuple[str, str]]:
    """id -> (error column, raised column) for every row of the bad-input table."""
    text = DOCS.read_text(encoding="utf-8")
    assert TABLE_HEADING in text, f"{DOCS} lost its {TABLE_HEADING!r} section"
    section = text.split(TABLE_HEADING, 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        assert len(cells) == 6, f"a table row needs 6 cells: {line}"
        row_id = cells[0].strip("`")
        assert row_id not in rows, f"duplicate row {row_id}"
        rows[row_id] = (cells[3].strip("`"), cells[5])
    return rows


def test_the_table_and_the_tests_agree() -> None:
    table = _table()
    assert len(table) >= 30
    assert sorted(table) == sorted(row.id for row in ROWS), "docs/errors.md and ROWS differ"
    for row in ROWS:
        error, raised = table[row.id]
        assert error == (row.error.__name__ if row.error else "warning"), row.id
        if row.gap:
            expected = "gap"
        elif row.error is None:
            expected = "warning"
        else:
            expected = "local" if row.local else "service"
        assert raised.startswith(expected), f"{row.id}: {raised!r} should start with {expected}"


# --- the fixes behind some rows, from the other side ------------------------------------------


def test_empty_text_parts_are_dropped_not_sent(emu: Emulator) -> None:
    # The service rejects {"text": ""}; a message that has something else keeps it.
    llm = GeminiGenerator(api_key="k", base_url=emu.base_url, max_retries=1)
    llm.generate(user("", "what colour?", ""), system="")
    [record] = emu.requests
    assert record.json is not None
    assert [p.get("text") for p in record.json["contents"][0]["parts"]] == ["what colour?"]
    assert "systemInstruction" not in record.json and "system_instruction" not in record.json


def test_without_the_media_extra_corrupt_media_is_left_to_the_service(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from omniembed.errors import MissingDependencyError
    from omniembed.media import probe

    def missing(module: str, extra: str = "media", purpose: str = "") -> Any:
        raise MissingDependencyError(f"{module} is needed; install it with: pip install x")

    monkeypatch.setattr(probe, "require", missing)
    monkeypatch.setattr(probe, "_warned_missing", set())  # the warning is once per process
    ctx = Ctx(emu, tmp_path, monkeypatch)
    image, video = ctx.media("bad.png", CORRUPT_PNG), ctx.media("bad.mp4", CORRUPT_MP4)
    assert probe.check_image(image) is False
    assert probe.check_container(video) is False
    assert "the service will check this instead" in caplog.text
    with pytest.raises(InvalidArgumentError, match="cannot be decoded"):
        ctx.dashscope().embed([image])
    assert emu.requests
