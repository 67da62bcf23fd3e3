"""Deterministic stand-in vectors. NOT a model: no meaning is learned, only overlap counted.

The guarantees tests and demos rely on:

- the same input and parameters always give the same vector (across runs and machines:
  hashes are blake2b, random projections use fixed seeds, never Python's ``hash()``);
- inputs that share words (text, PDF page text) or pixels (images, video frames) have a
  higher cosine than unrelated inputs;
- full-dimension vectors are L2-normalized float32, like the real models' full vectors.

Text is feature hashing of lower-cased word pieces into 2,048 signed slots, projected to the
model's dimension with a fixed Gaussian matrix (so every prefix is dense). The task
reaches the vector as a small extra component (cosine between the same text under two tasks
is about 0.94), so a test can tell that a task type or task prefix arrived at the server.
For gemini-embedding-2 the task comes from the client's text prefix
(``task: search result | query: ...``, ``title: T | text: ...``), which is stripped first so
a query and a document about the same words still score high. Images and video frames
become a 32x32 pixel descriptor (8x8 RGB thumbnail + colour histogram) projected with a
seeded Gaussian matrix; a video is the mean of frames sampled about once a second. PDFs
embed their page text (or, without text, their first page as an image). Audio is decoded
and described by its spectrum (`audio`: band energies and dominant frequency per segment,
flatness, loudness modulation), projected with its own seeded matrix, so the same sound in
another encoding or sample rate scores close and a different sound does not. A video with
an audible sound track adds its sound's vector with weight `W_SOUND` (gemini-embedding-2
only: the multimodalembedding@001 and DashScope routes embed video frames through
`segment_descriptors` and ignore sound, as those services do). Interleaved parts are
summed, then normalized. The one bridge between text and pixels: a colour word in a text
("orange") adds the pixel vector of that colour (see `colours`), so offline, colour words
find pictures and video segments of that colour. Likewise between text and sound: a
frequency in a text ("a 220 Hz tone") adds the sound vector of a steady tone at that
frequency (`audio.tone_mentions`), so offline it finds recordings of that tone.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from ..media.mime import Modality
from .audio import hear, sound_track, tone_descriptor, tone_mentions
from .colours import colour_words, solid
from .contents import PDFIUM_LOCK, MediaPart, Part, TextPart, UriPart, content_text
from .media_errors import MediaDecodeError
from .models import EmbeddingModel
from .tokens import pieces

Vector = npt.NDArray[np.float32]

#: Weight of the task component against a unit content vector: cos(same text, two tasks)
#: = 1 / (1 + W_TASK**2) ~ 0.94 because independent random directions are near-orthogonal.
W_TASK = 0.25
#: Weight of each colour word's pixel direction against the unit text vector.
W_COLOUR = 0.6
#: Weight of each mentioned frequency's sound direction against the unit text vector.
W_TONE = 0.6
#: Weight of the title words against the unit text vector (a title counts a little).
W_TITLE = 0.35
#: Weight of a video's sound against its unit pixel vector: cos(clip with sound, the same
#: clip without) = 1 / sqrt(1 + W_SOUND**2) ~ 0.89. gemini-embedding-2 "extract[s] audio
#: tracks from video inputs and interleave[s] them with video frames" (Vertex AI model page,
#: https://docs.cloud.google.com/vertex-ai/generative-ai/docs/models/gemini/embedding-2);
#: the weight itself is the emulator's choice.
W_SOUND = 0.5
#: Hash slots per word: two spread each word so collisions rarely cancel a match.
_SLOTS_PER_WORD = 2
#: Hash buckets for words before the dense projection (few collisions for short texts).
_TEXT_SLOTS = 2048
_THUMB = 32  # pixel descriptors start from a 32x32 RGB thumbnail
_MAX_VIDEO_SAMPLES = 16

_QUERY_PREFIX = re.compile(r"^\s*task:\s*([^|\n]*?)\s*\|\s*query:\s?(.*)$", re.S | re.I)
_DOCUMENT_PREFIX = re.compile(r"^\s*title:\s*([^|\n]*?)\s*\|\s*text:\s?(.*)$", re.S | re.I)


def content_vector(
    parts: Sequence[Part],
    model: EmbeddingModel,
    *,
    task_type: str | None = None,
    title: str | None = None,
) -> tuple[Vector, bool]:
    """The unit vector of one content and whether its text was cut at the token limit.

    ``task_type``/``title`` are used for task-type models (gemini-embedding-001, text
    models); prefix models (gemini-embedding-2) read both from the text and ignore them.
    """
    dim, space = model.dims, model.space
    task: str | None = None
    body = content_text(parts)
    if model.conditioning == "prefix":
        task, title, body = split_task_prefix(body)
    elif task_type and task_type != "TASK_TYPE_UNSPECIFIED":
        task = task_type
    components: list[Vector] = []
    truncated = False
    if any(isinstance(p, TextPart) for p in parts):
        text_vec, truncated = text_vector(space, dim, body, model.max_tokens)
        text_vec = _with_tones(_with_colours(text_vec, body, dim), body, dim)
        if title:
            text_vec = _unit(text_vec + W_TITLE * text_vector(space, dim, title, None)[0])
        components.append(text_vec)
    for part in parts:
        if isinstance(part, MediaPart):
            components.append(media_vector(part, model))
        elif isinstance(part, UriPart):
            components.append(_seeded_unit(f"uri|{part.mime_type}|{part.uri}", dim))
    vector = _unit(np.sum(components, axis=0, dtype=np.float32))
    if task:
        vector = _unit(vector + W_TASK * _seeded_unit(f"task|{space}|{task.lower()}", dim))
    vector.flags.writeable = False
    return vector, truncated


def _with_colours(vector: Vector, text: str, dim: int) -> Vector:
    """Add the pixel direction of each colour the text names (see `colours`)."""
    names = colour_words(text)
    if not names:
        return vector
    return _unit(vector + W_COLOUR * np.sum([colour_vector(n, dim) for n in names], axis=0))


def _with_tones(vector: Vector, text: str, dim: int) -> Vector:
    """Add the sound direction of each frequency the text names (see `audio`)."""
    tones = tone_mentions(text)
    if not tones:
        return vector
    return _unit(vector + W_TONE * np.sum([tone_vector(hz, dim) for hz in tones], axis=0))


@lru_cache(maxsize=256)
def tone_vector(hz: float, dim: int) -> Vector:
    """The sound vector of a steady tone at ``hz``."""
    vector = _project("audio", tone_descriptor(hz), dim)
    vector.flags.writeable = False
    return vector


@lru_cache(maxsize=256)
def colour_vector(name: str, dim: int) -> Vector:
    """The pixel vector of a solid image of a named colour."""
    vector = project_pixels(pixel_descriptor(solid(name, _THUMB)), dim)
    vector.flags.writeable = False
    return vector


def split_task_prefix(text: str) -> tuple[str | None, str | None, str]:
    """(task, title, body) from gemini-embedding-2's prefixes; (None, None, text) without one."""
    query = _QUERY_PREFIX.match(text)
    if query:
        return query.group(1).strip(), None, query.group(2)
    document = _DOCUMENT_PREFIX.match(text)
    if document:
        title = document.group(1).strip()
        return "document", (None if title.lower() in ("", "none") else title), document.group(2)
    return None, None, text


@lru_cache(maxsize=8192)
def text_vector(space: str, dim: int, text: str, max_tokens: int | None) -> tuple[Vector, bool]:
    """Unit vector of ``text``'s first ``max_tokens`` word pieces (cached).

    Each word hashes to two of `_TEXT_SLOTS` signed slots; the slot counts are projected
    with a fixed Gaussian basis, so the vector is dense (any prefix of it is non-zero, as
    ``outputDimensionality`` needs) while shared words still mean shared directions.
    """
    all_pieces = pieces(text)
    truncated = max_tokens is not None and len(all_pieces) > max_tokens
    kept = all_pieces[:max_tokens] if max_tokens is not None else all_pieces
    words = [p.lower() for p in kept if p[0].isalnum() or p[0] == "_"]
    if not words:  # only punctuation or whitespace: still a stable, distinct vector
        words = ["\x00" + text]
    weights: dict[int, float] = {}
    for word in words:
        for slot, sign in _word_slots(space, word):
            weights[slot] = weights.get(slot, 0.0) + sign
    slots = np.fromiter(weights.keys(), dtype=np.intp, count=len(weights))
    counts = np.fromiter(weights.values(), dtype=np.float32, count=len(weights))
    vector = _unit(counts @ _projection("text", _TEXT_SLOTS, dim)[slots])
    vector.flags.writeable = False
    return vector, truncated


@lru_cache(maxsize=65536)
def _word_slots(space: str, word: str) -> tuple[tuple[int, float], ...]:
    raw = hashlib.blake2b(f"{space}\x00{word}".encode(), digest_size=8 * _SLOTS_PER_WORD).digest()
    out = []
    for i in range(_SLOTS_PER_WORD):
        number = int.from_bytes(raw[8 * i : 8 * i + 8], "little")
        out.append(((number >> 1) % _TEXT_SLOTS, 1.0 if number & 1 else -1.0))
    return tuple(out)


@lru_cache(maxsize=256)
def _seeded_unit(key: str, dim: int) -> Vector:
    """A fixed random unit direction named by ``key``."""
    vector = _unit(_rng(key).standard_normal(dim, np.float32))
    vector.flags.writeable = False
    return vector


def _rng(key: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed)


@lru_cache(maxsize=32)
def _projection(kind: str, rows: int, dim: int) -> Vector:
    """The fixed Gaussian random projection from a ``rows``-long descriptor to ``dim``."""
    matrix = _rng(f"projection|{kind}|{rows}|{dim}").standard_normal((rows, dim), np.float32)
    matrix.flags.writeable = False
    return matrix


def _unit(vector: Vector) -> Vector:
    norm = float(np.linalg.norm(vector))
    out = vector / norm if norm > 0 else vector.copy()
    return out.astype(np.float32, copy=False)


# --- media ---------------------------------------------------------------------------------


class _LRU:
    """A small thread-safe LRU for media vectors, keyed by a digest of the bytes."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, ...], Vector] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: tuple[str, ...], compute: Callable[[], Vector]) -> Vector:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()
        value.flags.writeable = False
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


_MEDIA_CACHE = _LRU(512)


def media_vector(part: MediaPart, model: EmbeddingModel) -> Vector:
    """Unit vector of an inline image, video, audio clip or PDF (cached by content digest)."""
    digest = hashlib.blake2b(part.data, digest_size=16).hexdigest()
    key = (digest, part.modality.value, model.space, str(model.dims))
    return _MEDIA_CACHE.get_or_compute(key, lambda: _compute_media_vector(part, model))


def _compute_media_vector(part: MediaPart, model: EmbeddingModel) -> Vector:
    dim = model.dims
    if part.modality is Modality.IMAGE:
        return _project("pixels", pixel_descriptor(image_thumbnail(part.data)), dim)
    if part.modality is Modality.VIDEO:
        pixels = _project("pixels", _video_descriptor(part.data, part.seconds or 0.0), dim)
        sound = sound_track(part.data)
        if sound is None or sound.silent:  # no sound track, or only silence: pixels alone
            return pixels
        return _unit(pixels + W_SOUND * _project("audio", sound.descriptor, dim))
    if part.modality is Modality.DOCUMENT:
        text, first_page = _pdf_text_or_first_page(part.data)
        if text.strip():
            return text_vector(model.space, dim, text, model.max_tokens)[0]
        return _project("pixels", pixel_descriptor(first_page), dim)
    return audio_vector(part.data, dim)


def audio_vector(data: bytes, dim: int) -> Vector:
    """Unit vector of an audio file's sound descriptor (see `audio`)."""
    return _project("audio", hear(data).descriptor, dim)


def project_pixels(descriptor: Vector, dim: int) -> Vector:
    """Unit vector of a pixel descriptor (images and video frames share this projection)."""
    return _project("pixels", descriptor, dim)


def image_vector(data: bytes, dim: int) -> Vector:
    """Unit pixel vector of an encoded image (cached by content digest)."""
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    key = (digest, "image-pixels", str(dim))
    return _MEDIA_CACHE.get_or_compute(
        key, lambda: project_pixels(pixel_descriptor(image_thumbnail(data)), dim)
    )


def named_vector(key: str, dim: int) -> Vector:
    """A fixed unit direction for something the emulator cannot look at (a URL, gs:// URI)."""
    return _seeded_unit(key, dim)


def shorten(vector: Vector, dim: int) -> Vector:
    """The first ``dim`` values, re-normalized (a projection to ``dim`` dimensions)."""
    out = _unit(np.asarray(vector[:dim], dtype=np.float32))
    out.flags.writeable = False
    return out


def unit_sum(vectors: Sequence[Vector]) -> Vector:
    """The normalized sum of unit vectors (fusing several inputs into one)."""
    out = _unit(np.sum(vectors, axis=0, dtype=np.float32))
    out.flags.writeable = False
    return out


def _project(kind: str, descriptor: Vector, dim: int) -> Vector:
    if not np.any(descriptor):
        return _seeded_unit(f"{kind}|zero", dim)
    return _unit(descriptor @ _projection(kind, descriptor.shape[0], dim))


def pixel_descriptor(rgb: npt.NDArray[np.uint8]) -> Vector:
    """256 numbers from a 32x32x3 thumbnail: 8x8 mean colours and a 4x4x4 colour histogram.

    Centered (colours around mid-grey, histogram around uniform) so unrelated images are
    near-orthogonal instead of all sharing a positive offset.
    """
    pixels = rgb.astype(np.float32) / 255.0
    block = _THUMB // 8
    thumb = pixels.reshape(8, block, 8, block, 3).mean(axis=(1, 3)) - 0.5
    levels = np.minimum((rgb // 64).astype(np.intp), 3)
    bins = levels[..., 0] * 16 + levels[..., 1] * 4 + levels[..., 2]
    histogram = np.bincount(bins.ravel(), minlength=64).astype(np.float32) / bins.size
    return np.concatenate([thumb.ravel(), 3.0 * (histogram - 1.0 / 64)]).astype(np.float32)


def image_thumbnail(data: bytes) -> npt.NDArray[np.uint8]:
    from PIL import Image  # the media extra; imported late so importing the emulator is cheap

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.draft("RGB", (4 * _THUMB, 4 * _THUMB))  # JPEG: decode at reduced scale, fast
            rgb = image.convert("RGB").resize((_THUMB, _THUMB), Image.Resampling.BILINEAR)
            return np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise MediaDecodeError(f"the image cannot be decoded ({exc})") from None


def _open_video(data: bytes) -> Any:
    """An open PyAV container with at least one video stream, else `MediaDecodeError`."""
    import av  # the media extra

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise MediaDecodeError(f"the video cannot be decoded ({exc})") from None
    if not container.streams.video:
        container.close()
        raise MediaDecodeError("the file has no video track")
    return container


def _video_descriptor(data: bytes, seconds: float) -> Vector:
    """Mean pixel descriptor of frames sampled about once a second (at most 16)."""
    return segment_descriptors(data, [(0.0, seconds)], _MAX_VIDEO_SAMPLES)[0]


def segment_descriptors(
    data: bytes, segments: Sequence[tuple[float, float]], max_samples: int = 8
) -> list[Vector]:
    """One mean pixel descriptor per ``(start, end)`` segment (seconds), from frames sampled
    about once a second inside it (at most ``max_samples``), decoding the video once.

    A segment whose sample times all lie past the last frame uses that last frame; a video
    without frames gives zero descriptors.
    """
    import av  # the media extra

    try:
        return _segment_descriptors(data, segments, max_samples)
    except av.FFmpegError as exc:  # a stream that breaks mid-way
        raise MediaDecodeError(f"the video cannot be decoded ({exc})") from None


def _segment_descriptors(
    data: bytes, segments: Sequence[tuple[float, float]], max_samples: int
) -> list[Vector]:
    targets: list[tuple[float, int]] = []
    for index, (start, end) in enumerate(segments):
        length = max(0.0, end - start)
        samples = max(1, min(max_samples, math.ceil(length)))
        targets.extend((start + (i + 0.5) * length / samples, index) for i in range(samples))
    targets.sort()
    sampled: list[list[Vector]] = [[] for _ in segments]
    done = 0
    last: Any = None
    with _open_video(data) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            last = frame
            when = frame.time if frame.time is not None else index / float(stream.average_rate or 1)
            if when < targets[done][0]:
                continue
            descriptor = pixel_descriptor(_frame_rgb(frame))
            # Sparse frames can cover several sample times; each counts once per time.
            while done < len(targets) and when >= targets[done][0]:
                sampled[targets[done][1]].append(descriptor)
                done += 1
            if done == len(targets):
                break
        if done < len(targets) and last is not None:  # shorter than the last sample times
            descriptor = pixel_descriptor(_frame_rgb(last))
            for _, segment in targets[done:]:
                if not sampled[segment]:
                    sampled[segment].append(descriptor)
    out: list[Vector] = []
    for descriptors in sampled:
        if not descriptors:
            out.append(np.zeros(256, dtype=np.float32))
        else:
            out.append(np.mean(descriptors, axis=0, dtype=np.float32))
    return out


def clip_thumbnails(
    data: bytes, start: float, end: float, max_samples: int = 4
) -> list[npt.NDArray[np.uint8]]:
    """Thumbnails of up to ``max_samples`` frames inside ``[start, end)`` (at least one)."""
    import av  # the media extra

    try:
        return _clip_thumbnails(data, start, end, max_samples)
    except av.FFmpegError as exc:  # a stream that breaks mid-way
        raise MediaDecodeError(f"the video cannot be decoded ({exc})") from None


def _clip_thumbnails(
    data: bytes, start: float, end: float, max_samples: int
) -> list[npt.NDArray[np.uint8]]:
    step = max(0.0, end - start) / max_samples
    wanted = [start + (i + 0.5) * step for i in range(max_samples)]
    out: list[npt.NDArray[np.uint8]] = []
    last: Any = None
    with _open_video(data) as container:
        for frame in container.decode(container.streams.video[0]):
            last = frame
            if frame.time is not None and wanted and frame.time >= wanted[0]:
                out.append(_frame_rgb(frame))
                while wanted and frame.time >= wanted[0]:
                    wanted.pop(0)
            if not wanted:
                break
    if not out and last is not None:
        out.append(_frame_rgb(last))
    return out or [np.zeros((_THUMB, _THUMB, 3), dtype=np.uint8)]


def _frame_rgb(frame: Any) -> npt.NDArray[np.uint8]:
    rgb = frame.to_ndarray(format="rgb24", width=_THUMB, height=_THUMB)
    return np.asarray(rgb, dtype=np.uint8)


def _pdf_text_or_first_page(data: bytes) -> tuple[str, npt.NDArray[np.uint8]]:
    import pypdfium2 as pdfium  # the media extra

    with PDFIUM_LOCK:  # pdfium is not thread-safe and handlers run in a thread pool
        document = pdfium.PdfDocument(data)
        try:
            texts: list[str] = []
            for page in document:
                textpage = page.get_textpage()
                texts.append(textpage.get_text_range())
                textpage.close()
                page.close()
            text = "\n".join(texts)
            if text.strip():
                return text, np.zeros((_THUMB, _THUMB, 3), dtype=np.uint8)
            page = document[0]
            image = page.render(scale=0.5).to_pil().convert("RGB").resize((_THUMB, _THUMB))
            page.close()
            return "", np.asarray(image, dtype=np.uint8)
        finally:
            document.close()
