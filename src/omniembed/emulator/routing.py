"""Which API, route and model a request path names.

Gemini API: ``/{v1beta|v1}/models/{model}:{action}``, ``GET /{ver}/models/{model}``,
``GET /{ver}/models``. Vertex AI: ``/{v1|v1beta1}/projects/{p}/locations/{l}/publishers/
google/models/{model}:{action}`` and the express-mode form without project and location
(google-genai with ``vertexai=True`` and an API key). Gemini API Files API: ``POST
/upload/{ver}/files`` (``uploadFile``; with ``?upload_id=`` the session's data,
``uploadFileData``), ``GET /{ver}/files[/{id}]``, ``DELETE /{ver}/files/{id}``, and
``GET [/download]/{ver}/files/{id}:download`` (``downloadFile``, generated files only).
Batch jobs: ``POST /{ver}/models/{model}:asyncBatchEmbedContent``, ``GET /{ver}/batches
[/{id}]``, ``POST /{ver}/batches/{id}:cancel``, ``DELETE /{ver}/batches/{id}``.
DashScope: ``POST /api/v1/services/embeddings/multimodal-embedding/multimodal-embedding``,
``GET /api/v1/uploads`` (upload policy) and ``POST /oss-upload`` (the emulator's stand-in
for the OSS upload host).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Api = Literal["gemini", "vertex", "dashscope", "gcs"]

GENERATE_ACTIONS = frozenset({"generateContent", "streamGenerateContent"})
GEMINI_ACTIONS = (
    frozenset({"batchEmbedContents", "embedContent", "countTokens", "asyncBatchEmbedContent"})
    | GENERATE_ACTIONS
)
VERTEX_ACTIONS = (
    frozenset({"predict", "embedContent", "batchEmbedContents", "countTokens"}) | GENERATE_ACTIONS
)
#: Files API routes (the Gemini API only; ``v1beta`` and ``v1``, which google-genai 3.x uses
#: by default).
FILES_ROUTES = frozenset({"uploadFile", "uploadFileData", "getFile", "listFiles", "deleteFile"})

_GEMINI_ACTION = re.compile(r"^/(v1beta|v1)/models/([^/:]+):([A-Za-z]+)$")
_GEMINI_MODEL = re.compile(r"^/(v1beta|v1)/models/([^/:]+)$")
_GEMINI_MODELS = re.compile(r"^/(v1beta|v1)/models/?$")
_UPLOAD_FILES = re.compile(r"^/upload/(v1beta|v1)/files/?$")
_FILES = re.compile(r"^/(v1beta|v1)/files/?$")
_FILE = re.compile(r"^/(v1beta|v1)/files/([a-z0-9-]+)$")
_FILE_DOWNLOAD = re.compile(r"^(?:/download)?/(v1beta|v1)/files/([a-z0-9-]+):download$")
_BATCHES = re.compile(r"^/(v1beta|v1)/batches/?$")
_BATCH = re.compile(r"^/(v1beta|v1)/batches/([^/:]+)(:cancel)?$")
_VERTEX_ACTION = re.compile(
    r"^/(v1|v1beta1)/(?:projects/([^/]+)/locations/([^/]+)/)?"
    r"publishers/google/models/([^/:]+):([A-Za-z]+)$"
)

DASHSCOPE_EMBEDDING_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"
DASHSCOPE_POLICY_PATH = "/api/v1/uploads"
OSS_UPLOAD_PATH = "/oss-upload"


@dataclass(frozen=True)
class Call:
    """A request matched to a route."""

    api: Api
    #: Short route name: batchEmbedContents, embedContent, countTokens, generateContent,
    #: streamGenerateContent, predict, getModel, listModels, the `FILES_ROUTES`,
    #: downloadFile, asyncBatchEmbedContent, getBatch, listBatches, cancelBatch, deleteBatch;
    #: DashScope: multimodalEmbedding, getPolicy, ossUpload. Quotas are keyed by it.
    route: str
    version: str
    model: str | None = None
    project: str | None = None
    location: str | None = None
    #: Cloud Storage: ``bucket/object``; Files API: the file id; batches: the batch id.
    resource: str | None = None

    @property
    def vertex_model_name(self) -> str:
        """How Vertex names the model in messages."""
        name = f"publishers/google/models/{self.model}"
        if self.project is not None:
            return f"projects/{self.project}/locations/{self.location}/{name}"
        return name


_GCS_OBJECT = re.compile(r"^/storage/v1/b/([^/]+)/o/(.+)$")


#: DashScope routes without their ``/api/v1`` prefix: what a client sends when its base URL
#: is a host root. Answered 404 in DashScope's shape, with the fix.
DASHSCOPE_UNPREFIXED = ("/services/", "/uploads")


def is_dashscope_path(path: str) -> bool:
    """Whether errors on this path are answered in DashScope's shape."""
    return path.startswith(("/api/", OSS_UPLOAD_PATH, *DASHSCOPE_UNPREFIXED))


def resolve(method: str, path: str, query: Mapping[str, str] | None = None) -> Call | None:
    """The route a (percent-decoded) path names, or None."""
    if is_dashscope_path(path):
        return _resolve_dashscope(method, path.rstrip("/") or "/")
    files = _resolve_files(method, path, query or {}) or _resolve_batches(method, path)
    if files is not None:
        return files
    if method == "POST":
        match = _GEMINI_ACTION.match(path)
        if match and match.group(3) in GEMINI_ACTIONS:
            return Call("gemini", match.group(3), match.group(1), model=match.group(2))
        match = _VERTEX_ACTION.match(path)
        if match and match.group(5) in VERTEX_ACTIONS:
            version, project, location, model, action = match.groups()
            return Call("vertex", action, version, model, project, location)
    elif method == "GET":
        match = _GCS_OBJECT.match(path)
        if match:
            return Call("gcs", "gcsObject", "v1", resource=f"{match.group(1)}/{match.group(2)}")
        match = _GEMINI_MODEL.match(path)
        if match:
            return Call("gemini", "getModel", match.group(1), model=match.group(2))
        match = _GEMINI_MODELS.match(path)
        if match:
            return Call("gemini", "listModels", match.group(1))
    return None


def _resolve_files(method: str, path: str, query: Mapping[str, str]) -> Call | None:
    match = _UPLOAD_FILES.match(path)
    if method == "POST" and match:
        route = "uploadFileData" if "upload_id" in query else "uploadFile"
        return Call("gemini", route, match.group(1))
    match = _FILES.match(path)
    if method == "GET" and match:
        return Call("gemini", "listFiles", match.group(1))
    match = _FILE.match(path)
    if match and method in ("GET", "DELETE"):
        route = "getFile" if method == "GET" else "deleteFile"
        return Call("gemini", route, match.group(1), resource=match.group(2))
    return None


def _resolve_batches(method: str, path: str) -> Call | None:
    if method == "GET":
        match = _FILE_DOWNLOAD.match(path)
        if match:
            return Call("gemini", "downloadFile", match.group(1), resource=match.group(2))
        match = _BATCHES.match(path)
        if match:
            return Call("gemini", "listBatches", match.group(1))
    match = _BATCH.match(path)
    if match is None:
        return None
    version, batch_id, cancel = match.groups()
    route = {
        ("GET", None): "getBatch",
        ("DELETE", None): "deleteBatch",
        ("POST", ":cancel"): "cancelBatch",
    }.get((method, cancel))
    return Call("gemini", route, version, resource=batch_id) if route else None


def _resolve_dashscope(method: str, path: str) -> Call | None:
    if method == "POST" and path == DASHSCOPE_EMBEDDING_PATH:
        return Call("dashscope", "multimodalEmbedding", "v1")
    if method == "GET" and path == DASHSCOPE_POLICY_PATH:
        return Call("dashscope", "getPolicy", "v1")
    if method == "POST" and path == OSS_UPLOAD_PATH:
        return Call("dashscope", "ossUpload", "v1")
    return None
