"""Vertex AI ``multimodalembedding@001:predict``: text, image and video in one 1,408-dim space.

Request: exactly ONE instance ``{"text"?, "image"?: {"bytesBase64Encoded"|"gcsUri",
"mimeType"?}, "video"?: {"bytesBase64Encoded"|"gcsUri", "videoSegmentConfig"?:
{"startOffsetSec", "endOffsetSec", "intervalSec"}}}`` and ``parameters.dimension`` in
{128, 256, 512, 1408}. The answer has a key per modality sent: ``textEmbedding``,
``imageEmbedding``, ``videoEmbeddings[{startOffsetSec, endOffsetSec, embedding}]``.

Service rules reproduced: text past 32 tokens is cut silently; images up to 20 MB that
Pillow decodes; video is analysed 120 s at a time (``endOffsetSec`` is clamped to
``start + 120`` and to the real duration, rounded down), in segments of ``intervalSec``
(>= 4) with a shorter last one; video vectors are always 1,408-dim. Every vector is
L2-normalized at every dimension, like this model's. ``gcsUri`` media cannot be fetched,
so their vectors come from the URI string (and a gs:// video is not clamped to a duration).

Stand-in vectors share ONE space: text is feature hashing, images and video frames use
the same pixel projection (a red image is close to a red video segment).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
from typing import Any

import numpy as np

from ..errors import OmniEmbedError
from ..media import Media
from ..media.mime import sniff_mime
from ..media.probe import media_duration_sec
from .media_errors import MediaDecodeError
from .models import EmbeddingModel
from .proto_json import Violation
from .vectors import (
    Vector,
    image_vector,
    named_vector,
    project_pixels,
    segment_descriptors,
    shorten,
    text_vector,
)

DIMENSIONS = (128, 256, 512, 1408)
VIDEO_DIMENSION = 1408
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_VIDEO_WINDOW_SEC = 120
MIN_INTERVAL_SEC = 4
DEFAULT_SEGMENT_CONFIG = {"startOffsetSec": 0, "endOffsetSec": 120, "intervalSec": 16}
IMAGE_MIME_TYPES = ("image/png", "image/jpeg", "image/bmp", "image/gif")
#: A fixed id, like the real service's (it names the serving deployment).
DEPLOYED_MODEL_ID = "1408001000000000001"

_INSTANCE_KEYS = ("text", "image", "video")
_MEDIA_KEYS = ("bytesBase64Encoded", "gcsUri", "mimeType")
_SEGMENT_KEYS = ("startOffsetSec", "endOffsetSec", "intervalSec")


def predict_multimodal(
    model: EmbeddingModel, instances: list[Any], parameters: dict[str, Any]
) -> dict[str, Any]:
    if len(instances) != 1:
        raise Violation(
            "instances",
            f"{model.id}@{model.version} takes exactly 1 instance per request, "
            f"got {len(instances)}",
        )
    instance = instances[0]
    if not isinstance(instance, dict):
        raise Violation("instances[0]", "the instance must be a JSON object")
    dimension = _dimension(parameters.get("dimension"))
    present = [k for k in _INSTANCE_KEYS if instance.get(k) not in (None, "", {})]
    if not present:
        raise Violation(
            "instances[0]", "at least one of text, image or video must be set in the instance"
        )
    space, full = model.space, model.dims
    prediction: dict[str, Any] = {}
    if "text" in present:
        text = instance["text"]
        if not isinstance(text, str):
            raise Violation("instances[0].text", "text must be a string")
        # The service embeds the first 32 tokens and drops the rest without an error.
        vector, _ = text_vector(space, full, text, model.max_tokens)
        prediction["textEmbedding"] = _values(shorten(vector, dimension))
    if "image" in present:
        prediction["imageEmbedding"] = _values(shorten(_image(instance["image"]), dimension))
    if "video" in present:
        prediction["videoEmbeddings"] = _video(instance["video"])
    return {"predictions": [prediction], "deployedModelId": DEPLOYED_MODEL_ID}


def _dimension(value: object) -> int:
    if value is None:
        return VIDEO_DIMENSION
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise Violation("parameters.dimension", f"dimension must be an integer, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise Violation(
            "parameters.dimension", f"dimension must be an integer, got {value!r}"
        ) from None
    if not number.is_integer() or int(number) not in DIMENSIONS:
        allowed = ", ".join(str(d) for d in DIMENSIONS)
        raise Violation(
            "parameters.dimension",
            f"unsupported dimension {value!r}; use one of {allowed} (video embeddings are "
            f"always {VIDEO_DIMENSION})",
        )
    return int(number)


def _media(value: object, path: str) -> tuple[bytes | None, str | None]:
    """(decoded bytes, None) or (None, gcsUri) of an image/video object."""
    if not isinstance(value, dict):
        raise Violation(path, "must be a JSON object with bytesBase64Encoded or gcsUri")
    unknown = set(value) - set(_MEDIA_KEYS) - ({"videoSegmentConfig"} if "video" in path else set())
    if unknown:
        raise Violation(path, f"unknown fields {sorted(unknown)}")
    data, uri = value.get("bytesBase64Encoded"), value.get("gcsUri")
    if (data is None) == (uri is None):
        raise Violation(path, "exactly one of bytesBase64Encoded or gcsUri must be set")
    if uri is not None:
        if not isinstance(uri, str) or not uri.startswith("gs://"):
            raise Violation(f"{path}.gcsUri", f"gcsUri must be a gs:// URI, got {uri!r}")
        return None, uri
    if not isinstance(data, str) or not data:
        raise Violation(f"{path}.bytesBase64Encoded", "bytesBase64Encoded must be a string")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True), None
    except (binascii.Error, ValueError):
        raise Violation(f"{path}.bytesBase64Encoded", "the data is not valid base64") from None


def _image(value: object) -> Vector:
    data, uri = _media(value, "instances[0].image")
    if uri is not None:
        return named_vector(f"multimodalembedding|image|{uri}", VIDEO_DIMENSION)
    assert data is not None
    if len(data) > MAX_IMAGE_BYTES:
        raise Violation(
            "instances[0].image",
            f"the image is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES} bytes (20 MB)",
        )
    sniffed = sniff_mime(data[:4096])
    if sniffed not in IMAGE_MIME_TYPES or not _decodable(data):
        raise Violation(
            "instances[0].image",
            "the image cannot be decoded; send PNG, JPEG, BMP or GIF bytes",
        )
    return image_vector(data, VIDEO_DIMENSION)


def _decodable(data: bytes) -> bool:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except Exception:  # Pillow raises many types for bad data
        return False
    return True


def _segment_config(value: object) -> tuple[int, int, int]:
    path = "instances[0].video.videoSegmentConfig"
    config = dict(DEFAULT_SEGMENT_CONFIG)
    if value is not None:
        if not isinstance(value, dict):
            raise Violation(path, "videoSegmentConfig must be a JSON object")
        unknown = set(value) - set(_SEGMENT_KEYS)
        if unknown:
            raise Violation(path, f"unknown fields {sorted(unknown)}")
        config.update({k: v for k, v in value.items() if v is not None})
    numbers: list[int] = []
    for key in _SEGMENT_KEYS:
        raw = config[key]
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not float(raw).is_integer():
            raise Violation(f"{path}.{key}", f"{key} must be a whole number of seconds")
        numbers.append(int(raw))
    start, end, interval = numbers
    if interval < MIN_INTERVAL_SEC:
        raise Violation(
            f"{path}.intervalSec",
            f"intervalSec must be at least {MIN_INTERVAL_SEC} seconds, got {interval}",
        )
    if start < 0:
        raise Violation(f"{path}.startOffsetSec", f"startOffsetSec must be >= 0, got {start}")
    if end <= start:
        raise Violation(
            f"{path}.endOffsetSec",
            f"endOffsetSec ({end}) must be greater than startOffsetSec ({start})",
        )
    return start, end, interval


def _video(value: object) -> list[dict[str, Any]]:
    data, uri = _media(value, "instances[0].video")
    assert isinstance(value, dict)
    start, end, interval = _segment_config(value.get("videoSegmentConfig"))
    end = min(end, start + MAX_VIDEO_WINDOW_SEC)
    if data is not None:
        sniffed = sniff_mime(data[:4096]) or "application/octet-stream"
        try:
            if not sniffed.startswith("video/"):
                raise OmniEmbedError("not a video container")
            duration = media_duration_sec(Media.from_bytes(data, sniffed))
        except OmniEmbedError as exc:
            raise Violation("instances[0].video", f"the video cannot be decoded ({exc})") from None
        if start >= duration:
            raise Violation(
                "instances[0].video.videoSegmentConfig.startOffsetSec",
                f"startOffsetSec ({start}) is not before the end of the {duration:.1f} s video",
            )
        # Whole seconds, like the service (the epsilon keeps 58.9999999 from losing a
        # second); a window shorter than a second still gets one 1-second segment.
        end = min(end, max(math.floor(duration + 1e-6), start + 1))
    bounds = [(s, min(s + interval, end)) for s in range(start, end, interval)]
    if data is not None:
        try:
            descriptors = segment_descriptors(data, [(float(s), float(e)) for s, e in bounds])
        except MediaDecodeError as exc:  # e.g. an MP4 with only a sound track
            raise Violation("instances[0].video", f"the video cannot be decoded ({exc})") from None
        vectors = [project_pixels(d, VIDEO_DIMENSION) for d in descriptors]
    else:
        vectors = [
            named_vector(f"multimodalembedding|video|{uri}|{s}|{e}", VIDEO_DIMENSION)
            for s, e in bounds
        ]
    return [
        {"startOffsetSec": s, "endOffsetSec": e, "embedding": _values(v)}
        for (s, e), v in zip(bounds, vectors, strict=True)
    ]


def _values(vector: Vector) -> Any:
    # :predict prints float64 digits of the float32 values, like the text models' route.
    return vector.astype(np.float64)
