"""DashScope (Alibaba Cloud Model Studio) multimodal embedding, with the SDK's upload flow.

Routes (``base_address`` = ``{emulator}/api/v1``, as the dashscope SDK builds URLs):

- ``POST /api/v1/services/embeddings/multimodal-embedding/multimodal-embedding``
  ``{"model", "input": {"contents": [...]}, "parameters": {...}}`` ->
  ``{"output": {"embeddings": [{"index", "embedding", "type"}]}, "usage", "request_id"}``.
- ``GET /api/v1/uploads?action=getPolicy&model=M`` -> ``{"request_id", "data": {policy}}``,
  the upload certificate `dashscope.utils.oss_utils.OssUtils.upload` reads, whose
  ``upload_host`` points back at this emulator.
- ``POST /oss-upload`` -> the OSS PostObject form the SDK sends (``key``, ``file``, ...);
  the bytes are kept in memory, and ``oss://{key}`` in a later request resolves to them when
  the request carries ``X-DashScope-OssResourceResolve: enable``.

Vectors are deterministic stand-ins (see `omniembed.emulator.vectors`), one space per model:
text is feature hashing, images and video frames a pixel descriptor; URLs the emulator cannot
fetch embed their URL string.
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import hashlib
import io
import math
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..errors import OmniEmbedError
from ..media import Media
from ..media.mime import sniff_mime
from ..media.probe import media_duration_sec
from .dashscope_errors import invalid_parameter, model_not_found, new_request_id
from .google_errors import GoogleError
from .media_errors import MediaDecodeError
from .tokens import count_text_tokens
from .vectors import (
    W_TASK,
    Vector,
    image_vector,
    named_vector,
    project_pixels,
    segment_descriptors,
    shorten,
    text_vector,
    unit_sum,
)

MB = 1024 * 1024
OSS_RESOLVE_HEADER = "x-dashscope-ossresourceresolve"
UPLOAD_PATH = "/oss-upload"
#: Object keys look like the real service's: ``dashscope-instant/{hash}/{date}/{uuid}/name``.
UPLOAD_DIR_PREFIX = "dashscope-instant"


@dataclass(frozen=True)
class DashScopeModel:
    """Limits per model. Sources: Alibaba Cloud Model Studio "Multimodal embedding API"
    reference (help.aliyun.com/zh/model-studio/multimodal-embedding-api-reference and the
    English alibabacloud.com page, 2025-2026 versions) and docs.qwencloud.com's multimodal
    embedding guide. Where they are silent the values are conservative (see each field)."""

    id: str
    dimensions: tuple[int, ...]  # empty: fixed, and ``dimension`` is rejected
    default_dimension: int
    max_text_tokens: int
    max_image_bytes: int
    max_video_bytes: int
    #: Content objects per request. Docs: 20 for qwen3-vl-embedding and
    #: multimodal-embedding-v1; the tongyi models state no element limit (only a token
    #: budget), so the emulator uses the same conservative 20.
    max_contents: int
    max_multi_images: int  # 0: multi_images not supported
    #: How the model fuses (2026 reference, "Embedding types"): "flag" — only with
    #: ``parameters.enable_fusion = true``, which fuses every content of the request into
    #: one vector (qwen3-vl-embedding); "content" — the text, image and video of ONE content
    #: object fuse, no flag (the dated tongyi-embedding-vision-*-2026-03-06); "" — never.
    fusion: str
    #: Per-request totals (multimodal-embedding-v1: one image and one video), or None.
    max_images: int | None = None
    max_videos: int | None = None
    #: Text past the limit: cut silently (multimodal-embedding-v1, per its docs) or 400
    #: unless ``parameters.auto_truncation`` is true (the SDK documents failure by default).
    truncates_text: bool = False
    image_formats: tuple[str, ...] = ("jpeg", "jpg", "png", "bmp")


MODELS: dict[str, DashScopeModel] = {
    "tongyi-embedding-vision-plus": DashScopeModel(
        id="tongyi-embedding-vision-plus",
        dimensions=(64, 128, 256, 512, 1024, 1152),
        default_dimension=1152,
        max_text_tokens=1024,
        max_image_bytes=3 * MB,
        max_video_bytes=10 * MB,
        max_contents=20,
        max_multi_images=8,
        fusion="",
    ),
    "tongyi-embedding-vision-flash": DashScopeModel(
        id="tongyi-embedding-vision-flash",
        dimensions=(64, 128, 256, 512, 768),
        default_dimension=768,
        max_text_tokens=1024,
        max_image_bytes=3 * MB,
        max_video_bytes=10 * MB,
        max_contents=20,
        max_multi_images=8,
        fusion="",
    ),
    "qwen3-vl-embedding": DashScopeModel(
        id="qwen3-vl-embedding",
        dimensions=(256, 512, 768, 1024, 1536, 2048, 2560),
        default_dimension=2560,
        max_text_tokens=32000,
        # Docs say 5 MB in one version and 10 MB in a later one: the smaller is used.
        max_image_bytes=5 * MB,
        max_video_bytes=50 * MB,
        max_contents=20,
        max_multi_images=0,
        fusion="flag",
        image_formats=("jpeg", "jpg", "png", "webp", "bmp", "tiff"),
    ),
    "multimodal-embedding-v1": DashScopeModel(
        id="multimodal-embedding-v1",
        dimensions=(),
        default_dimension=1024,
        max_text_tokens=512,
        max_image_bytes=3 * MB,
        max_video_bytes=10 * MB,
        max_contents=20,
        max_multi_images=0,
        fusion="",
        max_images=1,
        max_videos=1,
        truncates_text=True,
    ),
}

# The dated snapshots: their family's limits (the reference gives no separate table in the
# revisions read; an assumption), but they fuse text, image and video sent in one content
# object without a flag.
for _family in ("tongyi-embedding-vision-plus", "tongyi-embedding-vision-flash"):
    _dated = f"{_family}-2026-03-06"
    MODELS[_dated] = replace(MODELS[_family], id=_dated, fusion="content")

_CONTENT_KEYS = ("text", "image", "video", "multi_images")
_DATA_URI = re.compile(r"^data:([\w.+-]+)/([\w.+-]+);base64,(.*)$", re.S)
#: Rough visual token estimate: one token per 28x28 patch, like Qwen-VL (not billing-exact).
_PATCH = 28
_URL_IMAGE_TOKENS = 256
_VIDEO_TOKENS_PER_SECOND = 256


@dataclass(frozen=True)
class DashScopeCall:
    """One request to a DashScope route, with what the handlers need from the wire."""

    route: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes
    json: Any
    json_error: str | None
    base_url: str  # http://host:port, as the client reached the emulator


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes | dict[str, Any]
    content_type: str = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class _Item:
    """One embeddable thing inside a content object."""

    kind: str  # text, image, video
    vector: Vector
    tokens: int


class OssError(GoogleError):
    """An error of the OSS upload host, answered in OSS's XML shape."""

    def __init__(self, status: int, oss_code: str, message: str) -> None:
        super().__init__(status, message)
        self.oss_code = oss_code

    def xml(self) -> bytes:
        return _oss_xml(self.oss_code, self.message)


#: How long an upload policy stays valid (the policy's ``expire_in_seconds``).
POLICY_TTL_SEC = 300


@dataclass(frozen=True)
class _Policy:
    upload_dir: str
    expires_at: float  # time.monotonic()


class DashScopeService:
    """The DashScope routes of one emulator, with its in-memory OSS bucket.

    Like OSS PostObject, an upload is authorized by the policy the API issued, not by the
    caller's key: `getPolicy` (which needs the API key) hands out an unguessable signature
    bound to a fresh ``upload_dir``, and the upload host accepts a form only with a live
    signature and a key inside that signature's ``upload_dir``. So a caller without the key
    can neither write a new object nor overwrite someone else's, whatever
    ``x-oss-forbid-overwrite`` it sends.
    """

    def __init__(self, *, qwen3_fuses_content_objects: bool = False) -> None:
        #: Earlier revisions of the reference fused the parts of one qwen3-vl-embedding
        #: content object without a flag; the 2026 revision fuses only with enable_fusion and
        #: otherwise embeds each part on its own. The sources disagree, so both are available;
        #: the default follows the newest.
        self.qwen3_fuses_content_objects = qwen3_fuses_content_objects
        self._objects: dict[str, bytes] = {}
        self._policies: dict[str, _Policy] = {}
        self._lock = threading.Lock()

    def uploaded(self) -> dict[str, int]:
        """Object key -> size of every file uploaded so far."""
        with self._lock:
            return {key: len(data) for key, data in self._objects.items()}

    def handle(self, call: DashScopeCall) -> Answer:
        if call.route == "getPolicy":
            return self._policy(call)
        if call.route == "ossUpload":
            return self._upload(call)
        return self._embed(call)

    # --- upload flow ----------------------------------------------------------------------

    def _policy(self, call: DashScopeCall) -> Answer:
        if call.query.get("action") != "getPolicy":
            raise invalid_parameter("Unsupported action; use action=getPolicy.")
        model = call.query.get("model", "")
        if not model:
            raise invalid_parameter("Required parameter model is missing.")
        digest = hashlib.blake2b(model.encode(), digest_size=8).hexdigest()
        upload_dir = f"{UPLOAD_DIR_PREFIX}/{digest}/{new_request_id()}"
        signature = secrets.token_urlsafe(24)
        now = time.monotonic()
        with self._lock:
            self._policies = {s: p for s, p in self._policies.items() if p.expires_at > now}
            self._policies[signature] = _Policy(upload_dir, now + POLICY_TTL_SEC)
        data = {
            "policy": base64.b64encode(b'{"emulator": "omniembed"}').decode(),
            "signature": signature,
            "upload_dir": upload_dir,
            "upload_host": call.base_url + UPLOAD_PATH,
            "expire_in_seconds": POLICY_TTL_SEC,
            "max_file_size_mb": 100,
            "capacity_limit_mb": 999999999,
            "oss_access_key_id": "omniembed-emulator",
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }
        return Answer(200, {"request_id": new_request_id(), "data": data})

    def _upload(self, call: DashScopeCall) -> Answer:
        fields, file_data = _parse_form(call.headers.get("content-type", ""), call.body)
        missing = [
            name for name in ("key", "policy", "OSSAccessKeyId", "Signature") if name not in fields
        ]
        if file_data is None:
            missing.append("file")
        if missing:
            return _oss_error(400, "InvalidArgument", f"missing form fields: {missing}")
        key = fields["key"]
        with self._lock:
            policy = self._policies.get(fields["Signature"])
        if policy is None or policy.expires_at <= time.monotonic():
            return _oss_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        if not key.startswith(policy.upload_dir + "/"):
            return _oss_error(403, "AccessDenied", "the key is outside the policy's upload_dir")
        assert file_data is not None
        with self._lock:
            if key in self._objects and fields.get("x-oss-forbid-overwrite") == "true":
                return _oss_error(409, "FileAlreadyExists", "the object already exists")
            self._objects[key] = file_data
        return Answer(200, b"", "text/plain")

    def _object(self, url: str, call: DashScopeCall, path: str) -> bytes:
        if call.headers.get(OSS_RESOLVE_HEADER, "").lower() != "enable":
            raise invalid_parameter(
                f"{path}: oss:// URLs need the header X-DashScope-OssResourceResolve: enable"
            )
        with self._lock:
            data = self._objects.get(url[len("oss://") :])
        if data is None:
            raise invalid_parameter(f"{path}: the file {url} was not found; upload it first")
        return data

    # --- embedding ------------------------------------------------------------------------

    def _embed(self, call: DashScopeCall) -> Answer:
        if call.json_error is not None:
            raise invalid_parameter(call.json_error)
        body = call.json
        if not isinstance(body, dict):
            raise invalid_parameter("The request body must be a JSON object.")
        model_id = body.get("model")
        if not isinstance(model_id, str) or not model_id:
            raise invalid_parameter("Required parameter model is missing.")
        model = MODELS.get(model_id)
        if model is None:
            raise model_not_found()
        raw_input = body.get("input")
        contents = raw_input.get("contents") if isinstance(raw_input, dict) else None
        if not isinstance(contents, list) or not contents:
            raise invalid_parameter("input.contents must be a non-empty list.")
        if len(contents) > model.max_contents:
            # The service's wording for its batch cap, as a user posted it from the text
            # embedding API (langchain4j/langchain4j#1140: "batch size is invalid, it should
            # not be larger than 25.: payload.input.contents", 400 InvalidParameter).
            raise invalid_parameter(
                f"batch size is invalid, it should not be larger than {model.max_contents}.: "
                "payload.input.contents"
            )
        params = body.get("parameters") or {}
        if not isinstance(params, dict):
            raise invalid_parameter("parameters must be a JSON object.")
        dimension = _dimension(model, params.get("dimension"))
        _check_parameters(model, params)
        truncate = model.truncates_text or params.get("auto_truncation") is True
        instruct = params.get("instruct")

        parsed = [
            self._content(model, content, f"input.contents[{i}]", call, truncate)
            for i, content in enumerate(contents)
        ]
        _check_totals(model, parsed)
        full = max(model.dimensions or (model.default_dimension,))
        embeddings: list[dict[str, Any]] = []
        if params.get("enable_fusion") is True:
            groups = [[item for items in parsed for item in items]]
        elif model.fusion == "content" or (
            model.fusion == "flag" and self.qwen3_fuses_content_objects
        ):
            groups = parsed
        else:
            # Independent embeddings: one vector per text, image, video or multi_images, in
            # request order, even when they share a content object.
            groups = [[item] for items in parsed for item in items]
        for index, items in enumerate(groups):
            kinds = {item.kind for item in items}
            vectors = [item.vector for item in items]
            if instruct and "text" in kinds:
                vectors.append(W_TASK * named_vector(f"instruct|{model.id}|{instruct}", full))
            vector = shorten(unit_sum(vectors), dimension)
            kind = "vl" if len(items) > 1 else items[0].kind
            embeddings.append({"index": index, "embedding": vector, "type": kind})
        text_tokens = sum(i.tokens for items in parsed for i in items if i.kind == "text")
        media_tokens = sum(i.tokens for items in parsed for i in items if i.kind != "text")
        usage: dict[str, int] = {"input_tokens": text_tokens}
        if media_tokens:
            usage["image_tokens"] = media_tokens
        return Answer(
            200,
            {"output": {"embeddings": embeddings}, "usage": usage, "request_id": new_request_id()},
        )

    def _content(
        self, model: DashScopeModel, content: object, path: str, call: DashScopeCall, truncate: bool
    ) -> list[_Item]:
        if not isinstance(content, dict):
            raise invalid_parameter(f"{path} must be an object such as {{'text': '...'}}.")
        unknown = set(content) - set(_CONTENT_KEYS) - {"factor"}
        if unknown:
            raise invalid_parameter(
                f"{path} has unsupported fields {sorted(unknown)}; use text, image, video "
                "or multi_images."
            )
        present = [key for key in _CONTENT_KEYS if content.get(key) not in (None, "", [])]
        if not present:
            raise invalid_parameter(f"{path} must hold one of text, image, video, multi_images.")
        if len(present) > 1 and (not model.fusion or "multi_images" in present):
            raise invalid_parameter(
                f"{path} holds {present}; {model.id} embeds one of text, image, video or "
                "multi_images per content object (put each in its own object)."
            )
        items: list[_Item] = []
        for key in present:
            value, where = content[key], f"{path}.{key}"
            if key == "text":
                items.append(_text(model, value, where, truncate))
            elif key == "image":
                items.append(self._image(model, value, where, call))
            elif key == "video":
                items.append(self._video(model, value, where, call))
            else:
                items.append(self._multi_images(model, value, where, call))
        return items

    def _image(self, model: DashScopeModel, value: object, path: str, call: DashScopeCall) -> _Item:
        full = max(model.dimensions or (model.default_dimension,))
        if not isinstance(value, str):
            raise invalid_parameter(f"{path} must be a URL or data URI string.")
        if value.startswith(("http://", "https://")):
            return _Item("image", named_vector(f"dashscope|image|{value}", full), _URL_IMAGE_TOKENS)
        if value.startswith("oss://"):
            data = self._object(value, call, path)
        else:
            match = _DATA_URI.match(value)
            if match is None:
                raise invalid_parameter(
                    f"{path}: the image must be a public http(s) URL or "
                    "data:image/{format};base64,... (local files go through the SDK's upload)."
                )
            kind, fmt, payload = match.groups()
            if kind != "image" or fmt.lower() not in model.image_formats:
                allowed = ", ".join(model.image_formats)
                raise invalid_parameter(
                    f"{path}: unsupported data URI type {kind}/{fmt}; {model.id} takes "
                    f"image/{{{allowed}}}."
                )
            try:
                data = base64.b64decode(payload.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise invalid_parameter(f"{path}: the base64 data cannot be decoded.") from None
        if len(data) > model.max_image_bytes:
            raise invalid_parameter(
                f"{path}: the image is {len(data)} bytes; {model.id} accepts images up to "
                f"{model.max_image_bytes // MB} MB."
            )
        size = _image_size(data)
        if size is None:
            raise invalid_parameter(f"{path}: the image data cannot be decoded.")
        width, height = size
        tokens = max(4, math.ceil(width / _PATCH) * math.ceil(height / _PATCH))
        return _Item("image", image_vector(data, full), min(tokens, 1280))

    def _video(self, model: DashScopeModel, value: object, path: str, call: DashScopeCall) -> _Item:
        full = max(model.dimensions or (model.default_dimension,))
        if not isinstance(value, str):
            raise invalid_parameter(f"{path} must be a video URL string.")
        if value.startswith(("http://", "https://")):
            return _Item("video", named_vector(f"dashscope|video|{value}", full), 0)
        if value.startswith("data:"):
            raise invalid_parameter(
                f"{path}: videos are accepted by URL only (http(s) or an uploaded oss:// file), "
                "not as a data URI."
            )
        if not value.startswith("oss://"):
            raise invalid_parameter(f"{path}: the video must be an http(s) or oss:// URL.")
        data = self._object(value, call, path)
        if len(data) > model.max_video_bytes:
            raise invalid_parameter(
                f"{path}: the video is {len(data)} bytes; {model.id} accepts videos up to "
                f"{model.max_video_bytes // MB} MB."
            )
        sniffed = sniff_mime(data[:4096]) or ""
        try:
            if not sniffed.startswith("video/"):
                raise OmniEmbedError("not a video container")
            seconds = media_duration_sec(Media.from_bytes(data, sniffed))
        except OmniEmbedError:
            raise invalid_parameter(f"{path}: the video file cannot be decoded.") from None
        try:
            [descriptor] = segment_descriptors(data, [(0.0, seconds)], 16)
        except MediaDecodeError:  # e.g. an MP4 with only a sound track
            raise invalid_parameter(f"{path}: the video file cannot be decoded.") from None
        tokens = math.ceil(seconds) * _VIDEO_TOKENS_PER_SECOND
        return _Item("video", project_pixels(descriptor, full), tokens)

    def _multi_images(
        self, model: DashScopeModel, value: object, path: str, call: DashScopeCall
    ) -> _Item:
        if model.max_multi_images == 0:
            raise invalid_parameter(f"{path}: {model.id} does not support multi_images.")
        if not isinstance(value, list) or not value:
            raise invalid_parameter(f"{path} must be a non-empty list of image URLs.")
        if len(value) > model.max_multi_images:
            raise invalid_parameter(
                f"{path} has {len(value)} images; at most {model.max_multi_images} are allowed."
            )
        images = [self._image(model, v, f"{path}[{i}]", call) for i, v in enumerate(value)]
        return _Item(
            "multi_images", unit_sum([i.vector for i in images]), sum(i.tokens for i in images)
        )


def _text(model: DashScopeModel, value: object, path: str, truncate: bool) -> _Item:
    if not isinstance(value, str) or not value.strip():
        raise invalid_parameter(f"{path} must be a non-empty string.")
    count = count_text_tokens(value)
    if count > model.max_text_tokens and not truncate:
        raise invalid_parameter(
            f"{path}: Range of input length should be [1, {model.max_text_tokens}] tokens, got "
            f"about {count}; shorten the text or set auto_truncation."
        )
    full = max(model.dimensions or (model.default_dimension,))
    vector, _ = text_vector(model.id, full, value, model.max_text_tokens)
    return _Item("text", vector, min(count, model.max_text_tokens))


def _dimension(model: DashScopeModel, value: object) -> int:
    if value is None:
        return model.default_dimension
    if not model.dimensions:
        raise invalid_parameter(
            f"{model.id} has a fixed dimension of {model.default_dimension}; do not send "
            "parameters.dimension."
        )
    if isinstance(value, bool) or not isinstance(value, int) or value not in model.dimensions:
        allowed = ", ".join(str(d) for d in model.dimensions)
        raise invalid_parameter(
            f"parameters.dimension {value!r} is not supported by {model.id}; use one of {allowed}."
        )
    return value


def _check_parameters(model: DashScopeModel, params: Mapping[str, Any]) -> None:
    output_type = params.get("output_type")
    if output_type is not None and output_type != "dense":
        raise invalid_parameter(
            f"parameters.output_type {output_type!r} is not supported; use dense."
        )
    fps = params.get("fps")
    if fps is not None and (
        isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 <= fps <= 1
    ):
        raise invalid_parameter(f"parameters.fps must be a number in [0, 1], got {fps!r}.")
    instruct = params.get("instruct")
    if instruct is not None and not isinstance(instruct, str):
        raise invalid_parameter("parameters.instruct must be a string.")
    fusion = params.get("enable_fusion")
    if fusion is not None:
        if not isinstance(fusion, bool):
            raise invalid_parameter("parameters.enable_fusion must be a boolean.")
        if fusion and model.fusion != "flag":
            raise invalid_parameter(
                f"parameters.enable_fusion is not supported by {model.id}"
                + (
                    "; it fuses the text, image and video of one content object."
                    if model.fusion
                    else "."
                )
            )


def _check_totals(model: DashScopeModel, parsed: list[list[_Item]]) -> None:
    images = sum(1 for items in parsed for i in items if i.kind in ("image", "multi_images"))
    videos = sum(1 for items in parsed for i in items if i.kind == "video")
    if model.max_images is not None and images > model.max_images:
        raise invalid_parameter(
            f"{model.id} accepts at most {model.max_images} image per request, got {images}."
        )
    if model.max_videos is not None and videos > model.max_videos:
        raise invalid_parameter(
            f"{model.id} accepts at most {model.max_videos} video per request, got {videos}."
        )


def _image_size(data: bytes) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return int(image.width), int(image.height)
    except Exception:  # Pillow raises many types for bad data
        return None


def _parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """The text fields and the ``file`` part of a multipart/form-data body."""
    if not content_type.lower().startswith("multipart/form-data"):
        return {}, None
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    fields: dict[str, str] = {}
    file_data: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        if name == "file":
            file_data = payload
        elif isinstance(name, str):
            fields[name] = payload.decode("utf-8", "replace")
    return fields, file_data


def _oss_error(status: int, code: str, message: str) -> Answer:
    """OSS answers errors in XML."""
    return Answer(status, _oss_xml(code, message), "application/xml")


def _oss_xml(code: str, message: str) -> bytes:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{code}</Code>\n  <Message>{message}</Message>\n"
        f"  <RequestId>{new_request_id()}</RequestId>\n</Error>\n"
    )
    return xml.encode()
